//! The engine every command, `doctor` and shell completion work with: one type, whichever
//! runtime is behind it (k3d's `runtimes.SelectedRuntime`, kind's `DetectNodeProvider`).
//! Today that is always Docker, through the adapter folder beside this file; a second runtime
//! is a folder beside it, one arm of [`Runtime`], and its choice in [`AnyEngine::connect_to`].

use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use futures::stream::BoxStream;

use super::bollard::BollardEngine;
use super::{
    ContainerInfo, ContainerSpec, Endpoint, Engine, EngineError, Host, HostFacts, Labels, LogLine,
    NetworkInfo, NetworkSpec, PrivilegedProbe, PullProgress,
};

/// The selected engine (see the module docs). A clone is the same engine.
#[derive(Clone)]
pub(crate) struct AnyEngine(Runtime);

/// One arm per runtime adapter.
#[derive(Clone)]
enum Runtime {
    Docker(BollardEngine),
}

/// Run `$body` with `$e` bound to the engine behind `$self`, whichever runtime it is.
macro_rules! each {
    ($self:ident, $e:ident => $body:expr) => {
        match &$self.0 {
            Runtime::Docker($e) => $body,
        }
    };
}

impl AnyEngine {
    /// Connect as the docker CLI would (`DOCKER_HOST`, `DOCKER_CONTEXT`, the current context,
    /// the default socket: see [`super::endpoint`]). Fails with a message that names the
    /// endpoint, where it came from, and the fix for that origin.
    pub(crate) async fn connect() -> Result<Self, EngineError> {
        Self::connect_to(super::endpoint::resolve_from_env()?).await
    }

    /// Connect to a resolved endpoint, with the runtime that speaks its API.
    pub(crate) async fn connect_to(endpoint: Endpoint) -> Result<Self, EngineError> {
        Ok(AnyEngine(Runtime::Docker(
            BollardEngine::connect_to(endpoint).await?,
        )))
    }
}

impl Host for AnyEngine {
    fn endpoint(&self) -> &Endpoint {
        each!(self, e => e.endpoint())
    }

    async fn host_facts(&self) -> Result<HostFacts, EngineError> {
        each!(self, e => e.host_facts().await)
    }

    async fn probe_privileged(&self, image: &str) -> Result<PrivilegedProbe, EngineError> {
        each!(self, e => e.probe_privileged(image).await)
    }
}

impl Engine for AnyEngine {
    async fn ensure_network(&self, spec: &NetworkSpec) -> Result<NetworkInfo, EngineError> {
        each!(self, e => e.ensure_network(spec).await)
    }

    async fn inspect_network(&self, name: &str) -> Result<Option<NetworkInfo>, EngineError> {
        each!(self, e => e.inspect_network(name).await)
    }

    async fn list_networks(
        &self,
        labels: &[(&str, &str)],
    ) -> Result<Vec<NetworkInfo>, EngineError> {
        each!(self, e => e.list_networks(labels).await)
    }

    async fn remove_network(&self, name: &str) -> Result<(), EngineError> {
        each!(self, e => e.remove_network(name).await)
    }

    async fn used_subnets(&self) -> Result<Vec<String>, EngineError> {
        each!(self, e => e.used_subnets().await)
    }

    async fn connect_network(
        &self,
        network: &str,
        container: &str,
        ip: Option<IpAddr>,
        aliases: &[String],
    ) -> Result<(), EngineError> {
        each!(self, e => e.connect_network(network, container, ip, aliases).await)
    }

    async fn disconnect_network(&self, network: &str, container: &str) -> Result<(), EngineError> {
        each!(self, e => e.disconnect_network(network, container).await)
    }

    async fn ensure_volume(&self, name: &str, labels: &Labels) -> Result<(), EngineError> {
        each!(self, e => e.ensure_volume(name, labels).await)
    }

    async fn list_volumes(&self, labels: &[(&str, &str)]) -> Result<Vec<String>, EngineError> {
        each!(self, e => e.list_volumes(labels).await)
    }

    async fn remove_volume(&self, name: &str) -> Result<(), EngineError> {
        each!(self, e => e.remove_volume(name).await)
    }

    async fn image_present(&self, image: &str) -> Result<bool, EngineError> {
        each!(self, e => e.image_present(image).await)
    }

    async fn pull_image(
        &self,
        image: &str,
        progress: &(dyn Fn(PullProgress) + Send + Sync),
    ) -> Result<(), EngineError> {
        each!(self, e => e.pull_image(image, progress).await)
    }

    async fn create_container(&self, spec: &ContainerSpec) -> Result<String, EngineError> {
        each!(self, e => e.create_container(spec).await)
    }

    async fn inspect_container(&self, name: &str) -> Result<Option<ContainerInfo>, EngineError> {
        each!(self, e => e.inspect_container(name).await)
    }

    async fn list_containers(
        &self,
        labels: &[(&str, &str)],
    ) -> Result<Vec<ContainerInfo>, EngineError> {
        each!(self, e => e.list_containers(labels).await)
    }

    async fn start(&self, name: &str) -> Result<(), EngineError> {
        each!(self, e => e.start(name).await)
    }

    async fn stop(&self, name: &str, grace: Duration) -> Result<(), EngineError> {
        each!(self, e => e.stop(name, grace).await)
    }

    async fn pause(&self, name: &str) -> Result<(), EngineError> {
        each!(self, e => e.pause(name).await)
    }

    async fn unpause(&self, name: &str) -> Result<(), EngineError> {
        each!(self, e => e.unpause(name).await)
    }

    async fn remove_container(&self, name: &str) -> Result<(), EngineError> {
        each!(self, e => e.remove_container(name).await)
    }

    fn follow_logs(
        &self,
        name: &str,
        since: i64,
    ) -> BoxStream<'static, Result<LogLine, EngineError>> {
        each!(self, e => e.follow_logs(name, since))
    }

    fn log_lines(
        &self,
        name: &str,
        since: i64,
        follow: bool,
    ) -> BoxStream<'static, Result<String, EngineError>> {
        each!(self, e => e.log_lines(name, since, follow))
    }

    async fn inspect_json(&self, name: &str) -> Result<Option<serde_json::Value>, EngineError> {
        each!(self, e => e.inspect_json(name).await)
    }

    async fn tail_logs(&self, name: &str, lines: usize) -> Result<String, EngineError> {
        each!(self, e => e.tail_logs(name, lines).await)
    }

    async fn read_file(&self, name: &str, path: &str) -> Result<Vec<u8>, EngineError> {
        each!(self, e => e.read_file(name, path).await)
    }

    async fn write_file(
        &self,
        name: &str,
        path: &str,
        content: &[u8],
        mode: u32,
    ) -> Result<(), EngineError> {
        each!(self, e => e.write_file(name, path, content, mode).await)
    }

    async fn upload_file(
        &self,
        name: &str,
        source: &Path,
        dir: &str,
        file_name: &str,
    ) -> Result<(), EngineError> {
        each!(self, e => e.upload_file(name, source, dir, file_name).await)
    }

    async fn export_images(&self, images: &[String], dest: &Path) -> Result<u64, EngineError> {
        each!(self, e => e.export_images(images, dest).await)
    }

    async fn exec(&self, name: &str, cmd: &[&str]) -> Result<(i64, String), EngineError> {
        each!(self, e => e.exec(name, cmd).await)
    }
}

//! [`Engine`] on the real Docker Engine, through bollard.
//!
//! We always call `negotiate_version()`: Debian's engines speak older API versions than
//! bollard's default, and an unnegotiated client fails with "client version too new".
//!
//! One file per resource, as k3d's `pkg/runtimes/docker/`: [`network`], [`volume`],
//! [`image`], [`container`] (with its logs), [`files`] (the archive API) and [`exec`]. The
//! `impl Engine` below only delegates; [`translate`] turns our specs into bollard's request
//! bodies and bollard's answers into our `*Info`.
//!
//! Two clients share one connection pool. bollard bounds every request with one timeout
//! (120 s by default), applied in `Docker::execute_request` (`fussybeaver/bollard`
//! `src/docker.rs`) to `client.request(req)`: the future that ends when the response's
//! *head* arrives. A streamed response (a log follow, a pull's progress) is not cut once its
//! head is in: Docker sends the head of `logs?follow=1` at once (checked on Engine 20.10)
//! and of a pull with its first progress line. But an upload into a container (the archive
//! API, `image import`) is answered only once the daemon has read the whole body, and an
//! image export's head comes with the tar's first byte, after the daemon has gathered the
//! layers: on a multi-GB image or Docker Desktop's VM file sharing either takes longer than
//! 120 s. Those go through [`BollardEngine::long`], with [`LONG_REQUEST_TIMEOUT`]; the short
//! calls keep bollard's bound, so a daemon that stops answering is still noticed.

mod container;
mod error;
mod exec;
mod files;
mod image;
mod network;
mod translate;
mod volume;

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use ::bollard::Docker;
use ::bollard::errors::Error as BollardError;
use ::bollard::models::{ContainerCreateBody, HostConfig};
use ::bollard::query_parameters::{
    CreateContainerOptionsBuilder, InspectContainerOptions, StartContainerOptions,
};
use futures::stream::BoxStream;

use self::error::failed;
use super::{
    BRIDGE_NF_SYSCTL, ContainerInfo, ContainerSpec, Endpoint, Engine, EngineError, HostFacts,
    Labels, LogLine, NetworkInfo, NetworkSpec, PrivilegedProbe, PullProgress,
};

/// The bound on the requests whose answer waits for a whole transfer (see the module docs):
/// long enough for any image over any link, still finite so a dead daemon ends someday.
pub(super) const LONG_REQUEST_TIMEOUT: Duration = Duration::from_secs(24 * 60 * 60);

/// The real engine.
#[derive(Clone)]
pub(super) struct BollardEngine {
    /// For the calls the daemon answers promptly: bollard's own bound (120 s).
    docker: Docker,
    /// The same client with [`LONG_REQUEST_TIMEOUT`]: uploads, image export, pulls.
    long: Docker,
    endpoint: Endpoint,
}

impl BollardEngine {
    /// Connect to a resolved endpoint (see [`super::endpoint`]) and negotiate the API version.
    /// Fails with a message that names the endpoint, where it came from, and the fix for that
    /// origin.
    pub(super) async fn connect_to(endpoint: Endpoint) -> Result<Self, EngineError> {
        let unreachable = |e| error::unreachable(&endpoint, e);
        // `connect_with_host` dispatches on the scheme (unix, tcp/http, npipe on Windows);
        // the endpoint module has refused the others already.
        let docker = Docker::connect_with_host(&endpoint.host).map_err(unreachable)?;
        let docker = docker.negotiate_version().await.map_err(unreachable)?;
        docker.ping().await.map_err(unreachable)?;
        Ok(Self::from_client(docker, endpoint))
    }

    /// The engine around a connected (negotiated) client, with its long-request twin.
    fn from_client(docker: Docker, endpoint: Endpoint) -> Self {
        let long = docker.clone().with_timeout(LONG_REQUEST_TIMEOUT);
        BollardEngine {
            docker,
            long,
            endpoint,
        }
    }

    /// The endpoint this engine was reached at, and where it came from.
    pub(super) fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// `docker info` and `docker version`, the parts `doctor` judges.
    pub(super) async fn host_facts(&self) -> Result<HostFacts, EngineError> {
        let (info, version) = tokio::try_join!(self.docker.info(), self.docker.version())
            .map_err(|e| failed("docker info", e))?;
        let component = version
            .components
            .as_ref()
            .and_then(|c| c.iter().find(|c| c.name.contains("Engine")))
            .map(|c| (c.name.clone(), c.version.clone()));
        let mut runtimes: Vec<String> = info.runtimes.unwrap_or_default().into_keys().collect();
        runtimes.sort();
        Ok(HostFacts {
            server_version: version.version.or(info.server_version).unwrap_or_default(),
            api_version: version.api_version.unwrap_or_default(),
            cgroup_version: info
                .cgroup_version
                .map(|v| v.to_string())
                .unwrap_or_default(),
            cgroup_driver: info
                .cgroup_driver
                .map(|v| v.to_string())
                .unwrap_or_default(),
            security_options: info.security_options.unwrap_or_default(),
            runtimes,
            default_runtime: info.default_runtime.unwrap_or_default(),
            operating_system: info.operating_system.unwrap_or_default(),
            docker_root_dir: info.docker_root_dir.unwrap_or_default(),
            name: info.name.unwrap_or_default(),
            product: component.as_ref().map(|c| c.0.clone()).unwrap_or_default(),
            product_version: component.map(|c| c.1).unwrap_or_default(),
        })
    }

    /// Create and start a privileged container from `image` (present locally), then remove
    /// it. What it runs does not matter: the engine refuses a privileged container when it
    /// starts it (runc applying the capabilities), not when it creates it.
    pub(super) async fn probe_privileged(
        &self,
        image: &str,
    ) -> Result<PrivilegedProbe, EngineError> {
        let name = format!("playground-doctor-{}", std::process::id());
        let body = ContainerCreateBody {
            image: Some(image.to_string()),
            entrypoint: Some(vec!["/bin/sh".into()]),
            // Exits 0 when br_netfilter is loaded in the engine's kernel (its sysctls show in
            // every network namespace then), 3 when not.
            cmd: Some(vec![
                "-c".into(),
                format!("test -e {BRIDGE_NF_SYSCTL} || exit 3"),
            ]),
            labels: Some(HashMap::from([(
                "playground.doctor".to_string(),
                "probe".to_string(),
            )])),
            host_config: Some(HostConfig {
                privileged: Some(true),
                network_mode: Some("none".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let opts = CreateContainerOptionsBuilder::default().name(&name).build();
        if let Err(e) = self.docker.create_container(Some(opts), body).await {
            return match e {
                BollardError::DockerResponseServerError { message, .. } => {
                    Ok(PrivilegedProbe::Refused(message))
                }
                e => Err(failed("create the privileged probe", e)),
            };
        }
        let started = self
            .docker
            .start_container(&name, None::<StartContainerOptions>)
            .await;
        // The probe exits at once; give it a moment to.
        let mut inspected = None;
        for _ in 0..40 {
            inspected = self
                .docker
                .inspect_container(&name, None::<InspectContainerOptions>)
                .await
                .ok();
            let running = inspected
                .as_ref()
                .and_then(|c| c.state.as_ref())
                .and_then(|s| s.running)
                .unwrap_or(false);
            if !running || started.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let runtime = inspected
            .as_ref()
            .and_then(|c| c.host_config.as_ref())
            .and_then(|h| h.runtime.clone())
            .unwrap_or_default();
        let br_netfilter = inspected
            .as_ref()
            .and_then(|c| c.state.as_ref())
            .filter(|s| s.running != Some(true))
            .and_then(|s| s.exit_code)
            .and_then(|code| match code {
                0 => Some(true),
                3 => Some(false),
                _ => None,
            });
        let removed = container::remove(&self.docker, &name).await;
        let outcome = match started {
            Ok(()) => PrivilegedProbe::Started {
                runtime,
                br_netfilter,
            },
            Err(BollardError::DockerResponseServerError { message, .. }) => {
                PrivilegedProbe::Refused(message)
            }
            Err(e) => return Err(failed("start the privileged probe", e)),
        };
        removed?;
        Ok(outcome)
    }
}

impl Engine for BollardEngine {
    async fn ensure_network(&self, spec: &NetworkSpec) -> Result<NetworkInfo, EngineError> {
        network::ensure(&self.docker, spec).await
    }

    async fn inspect_network(&self, name: &str) -> Result<Option<NetworkInfo>, EngineError> {
        network::inspect(&self.docker, name).await
    }

    async fn list_networks(
        &self,
        labels: &[(&str, &str)],
    ) -> Result<Vec<NetworkInfo>, EngineError> {
        network::list(&self.docker, labels).await
    }

    async fn remove_network(&self, name: &str) -> Result<(), EngineError> {
        network::remove(&self.docker, name).await
    }

    async fn used_subnets(&self) -> Result<Vec<String>, EngineError> {
        network::used_subnets(&self.docker).await
    }

    async fn connect_network(
        &self,
        network: &str,
        container: &str,
        ip: Option<IpAddr>,
        aliases: &[String],
    ) -> Result<(), EngineError> {
        network::connect(&self.docker, network, container, ip, aliases).await
    }

    async fn disconnect_network(&self, network: &str, container: &str) -> Result<(), EngineError> {
        network::disconnect(&self.docker, network, container).await
    }

    async fn ensure_volume(&self, name: &str, labels: &Labels) -> Result<(), EngineError> {
        volume::ensure(&self.docker, name, labels).await
    }

    async fn list_volumes(&self, labels: &[(&str, &str)]) -> Result<Vec<String>, EngineError> {
        volume::list(&self.docker, labels).await
    }

    async fn remove_volume(&self, name: &str) -> Result<(), EngineError> {
        volume::remove(&self.docker, name).await
    }

    async fn image_present(&self, image: &str) -> Result<bool, EngineError> {
        image::present(&self.docker, image).await
    }

    async fn pull_image(
        &self,
        image: &str,
        progress: &(dyn Fn(PullProgress) + Send + Sync),
    ) -> Result<(), EngineError> {
        image::pull(&self.long, image, progress).await
    }

    async fn create_container(&self, spec: &ContainerSpec) -> Result<String, EngineError> {
        container::create(&self.docker, spec).await
    }

    async fn inspect_container(&self, name: &str) -> Result<Option<ContainerInfo>, EngineError> {
        container::inspect(&self.docker, name).await
    }

    async fn list_containers(
        &self,
        labels: &[(&str, &str)],
    ) -> Result<Vec<ContainerInfo>, EngineError> {
        container::list(&self.docker, labels).await
    }

    async fn start(&self, name: &str) -> Result<(), EngineError> {
        container::start(&self.docker, name).await
    }

    async fn stop(&self, name: &str, grace: Duration) -> Result<(), EngineError> {
        container::stop(&self.docker, name, grace).await
    }

    async fn pause(&self, name: &str) -> Result<(), EngineError> {
        container::pause(&self.docker, name).await
    }

    async fn unpause(&self, name: &str) -> Result<(), EngineError> {
        container::unpause(&self.docker, name).await
    }

    async fn remove_container(&self, name: &str) -> Result<(), EngineError> {
        container::remove(&self.docker, name).await
    }

    fn follow_logs(
        &self,
        name: &str,
        since: i64,
    ) -> BoxStream<'static, Result<LogLine, EngineError>> {
        container::follow_stamped(&self.docker, name, since)
    }

    fn log_lines(
        &self,
        name: &str,
        since: i64,
        follow: bool,
    ) -> BoxStream<'static, Result<String, EngineError>> {
        container::log_lines(&self.docker, name, since, follow)
    }

    async fn inspect_json(&self, name: &str) -> Result<Option<serde_json::Value>, EngineError> {
        container::inspect_json(&self.docker, name).await
    }

    async fn tail_logs(&self, name: &str, lines: usize) -> Result<String, EngineError> {
        container::tail_logs(&self.docker, name, lines).await
    }

    async fn read_file(&self, name: &str, path: &str) -> Result<Vec<u8>, EngineError> {
        files::read(&self.docker, name, path).await
    }

    async fn write_file(
        &self,
        name: &str,
        path: &str,
        content: &[u8],
        mode: u32,
    ) -> Result<(), EngineError> {
        files::write(&self.docker, name, path, content, mode).await
    }

    async fn upload_file(
        &self,
        name: &str,
        source: &Path,
        dir: &str,
        file_name: &str,
    ) -> Result<(), EngineError> {
        files::upload(&self.long, name, source, dir, file_name).await
    }

    async fn export_images(&self, images: &[String], dest: &Path) -> Result<u64, EngineError> {
        image::export(&self.long, images, dest).await
    }

    async fn exec(&self, name: &str, cmd: &[&str]) -> Result<(i64, String), EngineError> {
        exec::run(&self.docker, name, cmd).await
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::UnixListener;

    use super::*;
    use crate::docker::endpoint::EndpointSource;

    /// A double of a Docker daemon on a Unix socket: it reads whatever a request sends and
    /// answers `200 OK` only `delay` after the connection opened, as the engine answers an
    /// archive upload once it has taken in the whole tar.
    fn slow_daemon(sock: &Path, delay: Duration) {
        let listener = UnixListener::bind(sock).unwrap();
        tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let (mut rx, mut tx) = conn.into_split();
                    tokio::spawn(async move {
                        let mut buf = vec![0u8; 64 * 1024];
                        while rx.read(&mut buf).await.is_ok_and(|n| n > 0) {}
                    });
                    tokio::time::sleep(delay).await;
                    let _ = tx
                        .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                        .await;
                });
            }
        });
    }

    fn engine(sock: &Path, timeout_secs: u64) -> BollardEngine {
        let docker = Docker::connect_with_unix(
            sock.to_str().unwrap(),
            timeout_secs,
            ::bollard::API_DEFAULT_VERSION,
        )
        .unwrap();
        BollardEngine::from_client(
            docker,
            Endpoint {
                host: format!("unix://{}", sock.display()),
                source: EndpointSource::DockerHost,
            },
        )
    }

    /// F13, scaled down: a short bound of 1 s stands for bollard's 120 s, a daemon that takes
    /// 2 s to answer for a multi-GB upload. A small write (short client) is cut by the bound,
    /// which shows the double does delay; the streamed upload (long client) is not.
    #[tokio::test]
    async fn an_upload_outlasts_the_short_bound_that_cuts_a_small_call() {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("docker.sock");
        slow_daemon(&sock, Duration::from_secs(2));
        let e = engine(&sock, 1);
        // The short client keeps the bound it was made with; the long one has ours.
        assert_eq!(e.docker.timeout(), Duration::from_secs(1));
        assert_eq!(e.long.timeout(), LONG_REQUEST_TIMEOUT);

        let started = Instant::now();
        let err = e
            .write_file("node", "/etc/x", b"x", 0o644)
            .await
            .unwrap_err();
        assert!(
            matches!(&err, EngineError::Api { source, .. }
                if matches!(source.downcast_ref::<BollardError>(), Some(BollardError::RequestTimeoutError))),
            "{err:?}"
        );
        // The short budget ended it, not the long one (minutes); slack for a busy runner.
        assert!(started.elapsed() < Duration::from_secs(5));

        let file = dir.path().join("image.tar");
        std::fs::write(&file, vec![7u8; 3 << 20]).unwrap();
        let started = Instant::now();
        e.upload_file("node", &file, "/tmp", "image.tar")
            .await
            .unwrap();
        assert!(started.elapsed() >= Duration::from_secs(2));
    }
}

//! The Docker Engine, seen through a small trait in our own vocabulary.
//!
//! The cluster code never touches an engine's own types: it asks an [`Engine`] to
//! `ensure_network`, `create_container`, `start`, `follow_logs` and so on, and reads its
//! failures as our [`EngineError`]. Everything here is runtime-neutral but one folder, the
//! adapter to the Docker Engine (its calls, its conversions, its error mapping), named only by
//! its declaration below and by [`AnyEngine`]'s one arm. [`AnyEngine`] is the engine the commands use, whichever runtime is behind it;
//! `fake::FakeEngine` (unit tests) keeps it all in memory. The pure
//! planning code needs no engine at all.

mod any;
mod bollard;
pub(crate) mod endpoint;
#[cfg(test)]
pub(crate) mod fake;
mod types;

pub(crate) use any::AnyEngine;
pub(crate) use endpoint::Endpoint;
pub(crate) use types::*;

use std::future::Future;
use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use futures::stream::BoxStream;

/// What `playground` needs from a container engine.
///
/// Every method that takes a name accepts a container (or network, volume) name; "not found"
/// is reported as `Ok(None)` or `Ok(false)` where the caller has a use for it, never as a
/// stringly error.
pub(crate) trait Engine: Send + Sync {
    /// Find the network by exact name, or create it. Returns what it found or made.
    fn ensure_network(
        &self,
        spec: &NetworkSpec,
    ) -> impl Future<Output = Result<NetworkInfo, EngineError>> + Send;
    fn inspect_network(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<NetworkInfo>, EngineError>> + Send;
    fn list_networks(
        &self,
        labels: &[(&str, &str)],
    ) -> impl Future<Output = Result<Vec<NetworkInfo>, EngineError>> + Send;
    fn remove_network(&self, name: &str) -> impl Future<Output = Result<(), EngineError>> + Send;
    /// The subnets of every network the engine knows, to choose a free one.
    fn used_subnets(&self) -> impl Future<Output = Result<Vec<String>, EngineError>> + Send;
    /// Attach a container to a network, at a static `ip` if given, reachable by `aliases`.
    /// A container that is attached already is left as it is.
    fn connect_network(
        &self,
        network: &str,
        container: &str,
        ip: Option<IpAddr>,
        aliases: &[String],
    ) -> impl Future<Output = Result<(), EngineError>> + Send;
    /// Detach a container from a network. Not attached, or either of them missing, is not an
    /// error: the caller wants it detached, and it is.
    fn disconnect_network(
        &self,
        network: &str,
        container: &str,
    ) -> impl Future<Output = Result<(), EngineError>> + Send;

    fn ensure_volume(
        &self,
        name: &str,
        labels: &Labels,
    ) -> impl Future<Output = Result<(), EngineError>> + Send;
    fn list_volumes(
        &self,
        labels: &[(&str, &str)],
    ) -> impl Future<Output = Result<Vec<String>, EngineError>> + Send;
    fn remove_volume(&self, name: &str) -> impl Future<Output = Result<(), EngineError>> + Send;

    fn image_present(&self, image: &str) -> impl Future<Output = Result<bool, EngineError>> + Send;
    /// Pull an image, reporting per-layer progress to `progress`.
    fn pull_image(
        &self,
        image: &str,
        progress: &(dyn Fn(PullProgress) + Send + Sync),
    ) -> impl Future<Output = Result<(), EngineError>> + Send;

    /// Create (not start) a container.
    fn create_container(
        &self,
        spec: &ContainerSpec,
    ) -> impl Future<Output = Result<String, EngineError>> + Send;
    fn inspect_container(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<ContainerInfo>, EngineError>> + Send;
    /// Containers (running or not) that carry all these labels.
    fn list_containers(
        &self,
        labels: &[(&str, &str)],
    ) -> impl Future<Output = Result<Vec<ContainerInfo>, EngineError>> + Send;
    fn start(&self, name: &str) -> impl Future<Output = Result<(), EngineError>> + Send;
    fn stop(
        &self,
        name: &str,
        grace: Duration,
    ) -> impl Future<Output = Result<(), EngineError>> + Send;
    fn pause(&self, name: &str) -> impl Future<Output = Result<(), EngineError>> + Send;
    fn unpause(&self, name: &str) -> impl Future<Output = Result<(), EngineError>> + Send;
    /// Remove a container with its anonymous volumes; a missing container is not an error.
    fn remove_container(&self, name: &str) -> impl Future<Output = Result<(), EngineError>> + Send;

    /// Follow a container's output (stdout and stderr, one item per line, each with the
    /// daemon's time stamp) from `since` (Unix seconds, a coarse filter: Docker's `since` is
    /// whole seconds). The stream ends when the container stops.
    fn follow_logs(
        &self,
        name: &str,
        since: i64,
    ) -> BoxStream<'static, Result<LogLine, EngineError>>;
    /// A container's output (stdout and stderr, one item per line) from `since` (Unix
    /// seconds; 0 for all of it). With `follow` the stream goes on until the container stops;
    /// without, it ends at what Docker has now (`logs`, `export logs`).
    fn log_lines(
        &self,
        name: &str,
        since: i64,
        follow: bool,
    ) -> BoxStream<'static, Result<String, EngineError>>;
    /// `docker inspect` of a container, as Docker's own JSON (`export logs`), or `None`.
    fn inspect_json(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<serde_json::Value>, EngineError>> + Send;
    /// The last `lines` lines of a container's output.
    fn tail_logs(
        &self,
        name: &str,
        lines: usize,
    ) -> impl Future<Output = Result<String, EngineError>> + Send;
    /// Read one regular file out of a container (through the archive API, parsed as tar).
    fn read_file(
        &self,
        name: &str,
        path: &str,
    ) -> impl Future<Output = Result<Vec<u8>, EngineError>> + Send;
    /// Write one small file (held in memory) into a container, created or running, through
    /// the archive API. Missing parent directories are created (mode 0755).
    fn write_file(
        &self,
        name: &str,
        path: &str,
        content: &[u8],
        mode: u32,
    ) -> impl Future<Output = Result<(), EngineError>> + Send;
    /// Stream a host file into a container's existing directory `dir` as `file_name`
    /// (mode 0600), without reading it into memory: image tars are large.
    fn upload_file(
        &self,
        name: &str,
        source: &Path,
        dir: &str,
        file_name: &str,
    ) -> impl Future<Output = Result<(), EngineError>> + Send;
    /// Save images from the engine's own store into one `docker save` tar at `dest`
    /// (streamed to disk). Returns its size in bytes.
    fn export_images(
        &self,
        images: &[String],
        dest: &Path,
    ) -> impl Future<Output = Result<u64, EngineError>> + Send;
    /// Run a command in a running container; returns its exit code and combined output.
    fn exec(
        &self,
        name: &str,
        cmd: &[&str],
    ) -> impl Future<Output = Result<(i64, String), EngineError>> + Send;
}

/// What `doctor` and `up`'s preflight ask of an engine beyond [`Engine`]: where it was
/// reached, what it says of itself and its host, and whether it runs a privileged container.
/// A trait of its own so the checks run against `fake::FakeEngine` as well.
pub(crate) trait Host: Engine {
    /// The endpoint this engine was reached at, and where it came from.
    fn endpoint(&self) -> &Endpoint;
    /// What the engine says of itself and its host, the parts `doctor` judges.
    fn host_facts(&self) -> impl Future<Output = Result<HostFacts, EngineError>> + Send;
    /// Create and start a privileged container from `image` (present locally), then remove
    /// it: whether the engine runs one, under which runtime, and whether its kernel has
    /// `br_netfilter` loaded.
    fn probe_privileged(
        &self,
        image: &str,
    ) -> impl Future<Output = Result<PrivilegedProbe, EngineError>> + Send;
}

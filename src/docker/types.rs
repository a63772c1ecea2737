//! Our own words for Docker objects: what we ask for and what we read back.

use std::collections::BTreeMap;
use std::net::IpAddr;

/// Container and network labels.
pub type Labels = BTreeMap<String, String>;

/// A bridge network for one lab.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkSpec {
    pub name: String,
    pub labels: Labels,
    /// A subnet in CIDR form. Nodes get static addresses from it so that their IPs survive a
    /// restart (embedded etcd breaks when they change, k3d #550).
    pub subnet: Option<String>,
    /// The gateway address in the subnet (the Docker host as the nodes see it).
    pub gateway: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkInfo {
    pub id: String,
    pub name: String,
    pub labels: Labels,
    pub subnet: Option<String>,
    pub gateway: Option<String>,
}

/// A published port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortBinding {
    pub host_ip: IpAddr,
    pub host_port: u16,
    pub container_port: u16,
    /// `tcp` or `udp`.
    pub protocol: &'static str,
}

/// Everything needed to create one container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerSpec {
    pub name: String,
    pub hostname: String,
    pub image: String,
    /// Replaces the image's entrypoint when not empty (k3s nodes run ours, which ends in
    /// `exec /bin/k3s`; see `cluster::plan::node_entrypoint`).
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    /// `KEY=VALUE` pairs.
    pub env: Vec<String>,
    pub labels: Labels,
    pub network: String,
    pub ip: Option<IpAddr>,
    /// `volume:/path` or `/host/path:/path[:ro]`.
    pub binds: Vec<String>,
    pub tmpfs: Vec<String>,
    pub privileged: bool,
    /// Single capabilities added (`NET_ADMIN`, ...), for containers that are not privileged.
    pub cap_add: Vec<String>,
    /// `UsernsMode: host`: run in the host's user namespace even when the daemon remaps users
    /// (`userns-remap`), which refuses privileged containers otherwise.
    pub userns_host: bool,
    /// `CgroupnsMode: private`: the container gets its own cgroup namespace whatever the
    /// daemon's `default-cgroupns-mode` says, so k3s's evacuation of "its" root cgroup can never
    /// touch the host's (kind passes `--cgroupns=private` for this, kind
    /// `pkg/cluster/internal/providers/docker/provision.go` `commonArgs`).
    pub cgroupns_private: bool,
    /// Run Docker's init as PID 1, so signals reach the process and zombies are reaped. Never
    /// for k3s nodes: k3s must be PID 1 itself (see `cluster::plan`).
    pub init: bool,
    /// `unless-stopped`: a running node comes back after a Docker restart, a stopped one stays.
    pub restart_unless_stopped: bool,
    pub ports: Vec<PortBinding>,
    /// `host:ip` entries for /etc/hosts; Docker rewrites them on every start.
    pub extra_hosts: Vec<String>,
}

/// The run state of a container, as Docker reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RunState {
    Created,
    Running,
    Paused,
    Restarting,
    Exited,
    Dead,
    Removing,
    Unknown,
}

impl RunState {
    pub fn parse(s: &str) -> Self {
        match s {
            "created" => RunState::Created,
            "running" => RunState::Running,
            "paused" => RunState::Paused,
            "restarting" => RunState::Restarting,
            "exited" => RunState::Exited,
            "dead" => RunState::Dead,
            "removing" => RunState::Removing,
            _ => RunState::Unknown,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Created => "created",
            RunState::Running => "running",
            RunState::Paused => "paused",
            RunState::Restarting => "restarting",
            RunState::Exited => "exited",
            RunState::Dead => "dead",
            RunState::Removing => "removing",
            RunState::Unknown => "unknown",
        }
    }
}

/// What we read back about a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerInfo {
    pub id: String,
    pub name: String,
    pub image: String,
    pub state: RunState,
    pub labels: Labels,
    /// The daemon's time of the last start, to the nanosecond, if known (inspect only).
    pub started_at: Option<jiff::Timestamp>,
    /// When the run before the current one ended (inspect only): Docker keeps `FinishedAt`
    /// across a start, so it marks where this run's log begins.
    pub finished_at: Option<jiff::Timestamp>,
    pub exit_code: Option<i64>,
    pub restart_count: i64,
    /// Address on each network, by network name (inspect only).
    pub ips: BTreeMap<String, String>,
    /// The container's env (inspect only): ours merged with the image's `ENV`.
    pub env: Vec<String>,
    pub ports: Vec<PortBinding>,
    /// The command it was created with (inspect only; the image's when we gave none).
    pub cmd: Vec<String>,
    /// `HostConfig.Binds` as given at create (inspect only).
    pub binds: Vec<String>,
    /// Whether it runs privileged (inspect only).
    pub privileged: bool,
}

/// One line of a container's output, with the daemon's time stamp on it (Docker's logs API
/// with `timestamps=true` prefixes each line with RFC 3339 to the nanosecond); `None` when
/// the stamp could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub at: Option<jiff::Timestamp>,
    pub text: String,
}

/// One progress report of an image pull.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullProgress {
    pub layer: Option<String>,
    pub status: String,
    pub current: Option<u64>,
    pub total: Option<u64>,
}

/// The fix for Docker Desktop's "Mounts denied" (and what `doctor` says of a mount outside the
/// shared folders).
pub const MOUNTS_DENIED_HINT: &str = "Docker Desktop shares only some host folders with its VM (by default /Users, /Volumes, /private, /tmp and /var/folders): add the folder in Settings > Resources > File sharing, or move it under a shared one";

/// What went wrong talking to the engine.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The endpoint says where it came from (`DOCKER_HOST`, a context, the default), and the
    /// hint is the fix for that origin.
    #[error("cannot reach the Docker Engine at {endpoint}: {source}")]
    Unreachable {
        endpoint: Box<super::endpoint::Endpoint>,
        #[source]
        source: bollard::errors::Error,
    },
    /// No endpoint could be chosen (a context that does not exist, an unsupported scheme).
    #[error(transparent)]
    Endpoint(Box<super::endpoint::EndpointError>),
    #[error("cannot pull image {image} from {registry}: {message}")]
    Pull {
        image: String,
        registry: String,
        #[source]
        message: PullFailure,
    },
    #[error("image {0} is not present locally and --pull never was given")]
    ImageMissing(String),
    /// A call the engine answered with an error, or whose answer could not be read: `what`
    /// was asked, `source` is bollard's error (or the I/O error of a stream, or our own words
    /// when the answer was not what the API promises).
    #[error("{what}: {source}")]
    Api {
        what: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl crate::diag::Hinted for EngineError {
    fn hint(&self) -> Option<String> {
        match self {
            Self::Unreachable { endpoint, .. } => Some(endpoint.hint().to_string()),
            Self::Endpoint(e) => e.hint(),
            Self::Pull { .. } => Some(
                "check the network, or load the image with `docker load` and use --pull never"
                    .to_string(),
            ),
            Self::ImageMissing(image) => {
                Some(format!("`docker pull {image}`, or run with --pull missing"))
            }
            // Docker Desktop refuses a bind of a host path outside its file-sharing list at
            // create: "Mounts denied: The path … is not shared from the host and is not known
            // to Docker."
            Self::Api { source, .. }
                if source.to_string().to_lowercase().contains("mounts denied") =>
            {
                Some(MOUNTS_DENIED_HINT.to_string())
            }
            _ => None,
        }
    }
}

/// The one place an engine error is sorted: no engine to talk to, or anything else.
impl crate::diag::Classified for EngineError {
    fn kind(&self) -> crate::diag::Kind {
        match self {
            Self::Unreachable { .. } | Self::Endpoint(_) => crate::diag::Kind::Unreachable,
            _ => crate::diag::Kind::Failed,
        }
    }
}

/// Why a pull stopped: the engine's API failed, or the registry refused (the engine passes on
/// its words in the progress stream's `errorDetail`).
#[derive(Debug, thiserror::Error)]
pub enum PullFailure {
    #[error(transparent)]
    Engine(#[from] bollard::errors::Error),
    #[error("{0}")]
    Registry(String),
}

// Boxed: `EngineError` travels in every `Result` of the library, and these are rare.
impl From<super::endpoint::EndpointError> for EngineError {
    fn from(e: super::endpoint::EndpointError) -> Self {
        EngineError::Endpoint(Box::new(e))
    }
}

impl EngineError {
    pub(crate) fn api(
        what: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        EngineError::Api {
            what: what.into(),
            source: source.into(),
        }
    }

    /// The daemon's answer when an explicit subnet overlaps a network it already has: libnetwork's
    /// `ipamapi.ErrPoolOverlap`, "Pool overlaps with other one on this address space", a
    /// Forbidden error (HTTP 403; moby `libnetwork/ipamapi/contract.go`). Matched on the
    /// message, which every engine version sends, not on the status, which older ones map to 500.
    pub fn is_subnet_overlap(&self) -> bool {
        self.daemon_answer()
            .is_some_and(|(_, message)| message.contains("Pool overlaps"))
    }

    /// The HTTP status and message of a non-2xx answer of the daemon, when that is what this is.
    pub fn daemon_answer(&self) -> Option<(u16, &str)> {
        match self {
            EngineError::Api { source, .. } => match source.downcast_ref() {
                Some(bollard::errors::Error::DockerResponseServerError {
                    status_code,
                    message,
                }) => Some((*status_code, message.as_str())),
                _ => None,
            },
            _ => None,
        }
    }
}

/// The registry an image reference is pulled from, for error messages.
pub fn registry_of(image: &str) -> &str {
    match image.split_once('/') {
        Some((first, _)) if first.contains('.') || first.contains(':') || first == "localhost" => {
            first
        }
        _ => "docker.io",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status_code: u16, message: &str) -> EngineError {
        EngineError::api(
            "create network pg-lab",
            bollard::errors::Error::DockerResponseServerError {
                status_code,
                message: message.to_string(),
            },
        )
    }

    #[test]
    fn a_subnet_overlap_is_known_by_the_daemons_answer_not_by_text_of_ours() {
        let overlap = answer(403, "Pool overlaps with other one on this address space");
        assert!(overlap.is_subnet_overlap());
        assert_eq!(overlap.daemon_answer().map(|(s, _)| s), Some(403));
        // The bollard error is the source, so `--verbose` can show the chain.
        let source = std::error::Error::source(&overlap).expect("a source");
        assert!(source.is::<bollard::errors::Error>(), "{source:?}");
        assert!(overlap.to_string().starts_with("create network pg-lab: "));

        assert!(!answer(409, "network with name pg-lab already exists").is_subnet_overlap());
        // Our own words that mention an overlap are no daemon answer.
        let ours = EngineError::api("create network pg-lab", "Pool overlaps (not really)");
        assert!(!ours.is_subnet_overlap());
        assert_eq!(ours.daemon_answer(), None);
    }
}

#[cfg(test)]
mod hint_tests {
    use super::*;
    use crate::diag::Hinted;

    #[test]
    fn mounts_denied_gets_the_file_sharing_hint() {
        let e = EngineError::api(
            "create container playground-lab-server-0",
            "Mounts denied: \nThe path /opt/data is not shared from the host and is not known to Docker.",
        );
        assert_eq!(e.hint().as_deref(), Some(MOUNTS_DENIED_HINT));
        let other = EngineError::api("create container x", "no such image");
        assert_eq!(other.hint(), None);
    }
}

//! Our own words for Docker objects: what we ask for and what we read back.

use std::collections::BTreeMap;
use std::net::IpAddr;

/// Container and network labels.
pub(crate) type Labels = BTreeMap<String, String>;

/// A bridge network for one lab.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NetworkSpec {
    pub(crate) name: String,
    pub(crate) labels: Labels,
    /// A subnet in CIDR form. Nodes get static addresses from it so that their IPs survive a
    /// restart (embedded etcd breaks when they change, k3d #550).
    pub(crate) subnet: Option<String>,
    /// The gateway address in the subnet (the Docker host as the nodes see it).
    pub(crate) gateway: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NetworkInfo {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) labels: Labels,
    pub(crate) subnet: Option<String>,
    pub(crate) gateway: Option<String>,
}

/// A published port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PortBinding {
    pub(crate) host_ip: IpAddr,
    pub(crate) host_port: u16,
    pub(crate) container_port: u16,
    /// `tcp` or `udp`.
    pub(crate) protocol: &'static str,
}

/// Everything needed to create one container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ContainerSpec {
    pub(crate) name: String,
    pub(crate) hostname: String,
    pub(crate) image: String,
    /// Replaces the image's entrypoint when not empty (k3s nodes run ours, which ends in
    /// `exec /bin/k3s`; see `cluster::plan::node_entrypoint`).
    pub(crate) entrypoint: Vec<String>,
    pub(crate) cmd: Vec<String>,
    /// `KEY=VALUE` pairs.
    pub(crate) env: Vec<String>,
    pub(crate) labels: Labels,
    pub(crate) network: String,
    pub(crate) ip: Option<IpAddr>,
    /// `volume:/path` or `/host/path:/path[:ro]`.
    pub(crate) binds: Vec<String>,
    pub(crate) tmpfs: Vec<String>,
    pub(crate) privileged: bool,
    /// Single capabilities added (`NET_ADMIN`, ...), for containers that are not privileged.
    pub(crate) cap_add: Vec<String>,
    /// `UsernsMode: host`: run in the host's user namespace even when the daemon remaps users
    /// (`userns-remap`), which refuses privileged containers otherwise.
    pub(crate) userns_host: bool,
    /// `CgroupnsMode: private`: the container gets its own cgroup namespace whatever the
    /// daemon's `default-cgroupns-mode` says, so k3s's evacuation of "its" root cgroup can never
    /// touch the host's (kind passes `--cgroupns=private` for this, kind
    /// `pkg/cluster/internal/providers/docker/provision.go` `commonArgs`).
    pub(crate) cgroupns_private: bool,
    /// Run Docker's init as PID 1, so signals reach the process and zombies are reaped. Never
    /// for k3s nodes: k3s must be PID 1 itself (see `cluster::plan`).
    pub(crate) init: bool,
    /// `unless-stopped`: a running node comes back after a Docker restart, a stopped one stays.
    pub(crate) restart_unless_stopped: bool,
    pub(crate) ports: Vec<PortBinding>,
    /// `host:ip` entries for /etc/hosts; Docker rewrites them on every start.
    pub(crate) extra_hosts: Vec<String>,
}

/// The run state of a container, as Docker reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum RunState {
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
    pub(crate) fn parse(s: &str) -> Self {
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
    pub(crate) fn as_str(self) -> &'static str {
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
pub(crate) struct ContainerInfo {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) image: String,
    pub(crate) state: RunState,
    pub(crate) labels: Labels,
    /// The daemon's time of the last start, to the nanosecond, if known (inspect only).
    pub(crate) started_at: Option<jiff::Timestamp>,
    /// When the run before the current one ended (inspect only): Docker keeps `FinishedAt`
    /// across a start, so it marks where this run's log begins.
    pub(crate) finished_at: Option<jiff::Timestamp>,
    pub(crate) exit_code: Option<i64>,
    pub(crate) restart_count: i64,
    /// Address on each network, by network name (inspect only).
    pub(crate) ips: BTreeMap<String, String>,
    /// The container's env (inspect only): ours merged with the image's `ENV`.
    pub(crate) env: Vec<String>,
    pub(crate) ports: Vec<PortBinding>,
    /// The command it was created with (inspect only; the image's when we gave none).
    pub(crate) cmd: Vec<String>,
    /// `HostConfig.Binds` as given at create (inspect only).
    pub(crate) binds: Vec<String>,
    /// Whether it runs privileged (inspect only).
    pub(crate) privileged: bool,
}

/// One line of a container's output, with the daemon's time stamp on it (Docker's logs API
/// with `timestamps=true` prefixes each line with RFC 3339 to the nanosecond); `None` when
/// the stamp could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LogLine {
    pub(crate) at: Option<jiff::Timestamp>,
    pub(crate) text: String,
}

/// One progress report of an image pull.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PullProgress {
    pub(crate) layer: Option<String>,
    pub(crate) status: String,
    pub(crate) current: Option<u64>,
    pub(crate) total: Option<u64>,
}

/// The fix for Docker Desktop's "Mounts denied" (and what `doctor` says of a mount outside the
/// shared folders).
pub(crate) const MOUNTS_DENIED_HINT: &str = "Docker Desktop shares only some host folders with its VM (by default /Users, /Volumes, /private, /tmp and /var/folders): add the folder in Settings > Resources > File sharing, or move it under a shared one";

/// What `docker info` and `docker version` say about the engine, in our words (for `doctor`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct HostFacts {
    pub(crate) server_version: String,
    pub(crate) api_version: String,
    /// `1`, `2`, or empty when the engine does not say (older than API 1.40).
    pub(crate) cgroup_version: String,
    pub(crate) cgroup_driver: String,
    /// As `docker info` lists them, e.g. `name=seccomp,profile=default`, `name=userns`.
    pub(crate) security_options: Vec<String>,
    pub(crate) runtimes: Vec<String>,
    pub(crate) default_runtime: String,
    pub(crate) operating_system: String,
    pub(crate) docker_root_dir: String,
    /// The engine host's name (`docker info` Name): `docker-desktop`, `colima`, or a hostname.
    pub(crate) name: String,
    /// The engine's product, from `docker version` Components (`Engine` for Docker,
    /// `Podman Engine` for Podman's Docker-compatible API), with its own version: Podman's
    /// `Version` answer is the Docker API level it emulates, not Podman's.
    pub(crate) product: String,
    pub(crate) product_version: String,
}

/// The sysctl `br_netfilter` adds (k3s sets it to 1, `pkg/agent/syssetup/setup.go`).
pub(crate) const BRIDGE_NF_SYSCTL: &str = "/proc/sys/net/bridge/bridge-nf-call-iptables";

/// What became of a privileged container (see [`super::Host::probe_privileged`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PrivilegedProbe {
    /// It started; the runtime it ran under (`runc`, or `sysbox-runc` under Docker Desktop's
    /// Enhanced Container Isolation), and whether the engine's kernel has `br_netfilter`
    /// loaded (`/proc/sys/net/bridge/bridge-nf-call-iptables` exists; `None`: not known).
    Started {
        runtime: String,
        br_netfilter: Option<bool>,
    },
    /// The engine refused it, in its own words.
    Refused(String),
}

/// An error of the layer under an engine adapter (its transport, a stream's I/O), or our own
/// words when an answer was not what the API promises: shown, never matched on.
pub(crate) type Cause = Box<dyn std::error::Error + Send + Sync>;

/// What went wrong talking to the engine. Made by the engine's adapter (or the fake) in these
/// words only: whatever a caller tells apart has a variant or a [`RefusalKind`] of its own.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The endpoint says where it came from (`DOCKER_HOST`, a context, the default), and the
    /// hint is the fix for that origin.
    #[error("cannot reach the Docker Engine at {endpoint}: {source}")]
    Unreachable {
        endpoint: Box<super::endpoint::Endpoint>,
        #[source]
        source: Cause,
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
    /// A call the engine refused: `what` was asked, `refusal` is the engine's answer.
    #[error("{what}: {refusal}")]
    Refused {
        what: String,
        #[source]
        refusal: Refusal,
    },
    /// A call whose answer could not be had or read: `what` was asked, `source` is the
    /// transport's error (or the I/O error of a stream, or our own words when the answer was
    /// not what the API promises).
    #[error("{what}: {source}")]
    Api {
        what: String,
        #[source]
        source: Cause,
    },
}

/// The engine's refusal of a call: its kind, which callers match on, and the engine's own
/// status and words, which they show.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Docker responded with status code {status}: {message}")]
pub struct Refusal {
    pub(crate) kind: RefusalKind,
    /// The HTTP status of the answer (moby `api/server/httpstatus` maps the daemon's error
    /// class to it; see `RefusalKind::status`).
    pub(crate) status: u16,
    pub(crate) message: String,
}

/// What kind of refusal, in our words: the daemon's error classes (moby `errdefs`), and the
/// one refusal `up` acts on (as k3d's `pkg/runtimes/errors` names its runtime's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RefusalKind {
    /// No such object.
    NotFound,
    /// In use or in conflict: a name taken, a volume mounted, a container not running.
    Conflict,
    /// Not allowed as asked (a network with endpoints left).
    Forbidden,
    /// A request the engine cannot read (an ambiguous name).
    Invalid,
    /// An explicit subnet overlaps a network the engine has already.
    SubnetOverlap,
    /// Anything else.
    Other,
}

impl RefusalKind {
    /// The HTTP status Docker answers this kind with (moby `api/server/httpstatus`: not found
    /// 404, conflict 409, forbidden 403, invalid parameter 400, else 500; libnetwork's
    /// `ErrPoolOverlap` is Forbidden).
    #[cfg(test)]
    pub(crate) fn status(self) -> u16 {
        match self {
            RefusalKind::NotFound => 404,
            RefusalKind::Conflict => 409,
            RefusalKind::Forbidden | RefusalKind::SubnetOverlap => 403,
            RefusalKind::Invalid => 400,
            RefusalKind::Other => 500,
        }
    }
}

impl Refusal {
    /// A refusal of `kind` with the status Docker gives it.
    #[cfg(test)]
    pub(crate) fn new(kind: RefusalKind, message: impl Into<String>) -> Self {
        Refusal {
            kind,
            status: kind.status(),
            message: message.into(),
        }
    }
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
            Self::Refused { refusal, .. } if mounts_denied(&refusal.message) => {
                Some(MOUNTS_DENIED_HINT.to_string())
            }
            Self::Api { source, .. } if mounts_denied(&source.to_string()) => {
                Some(MOUNTS_DENIED_HINT.to_string())
            }
            _ => None,
        }
    }
}

fn mounts_denied(text: &str) -> bool {
    text.to_lowercase().contains("mounts denied")
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

/// Why a pull stopped: the engine failed (it refused, or its answer broke off), or the
/// registry refused (the engine passes on its words in the progress stream's `errorDetail`).
#[derive(Debug, thiserror::Error)]
pub enum PullFailure {
    #[error(transparent)]
    Refused(Refusal),
    #[error(transparent)]
    Engine(Cause),
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
    pub(crate) fn api(what: impl Into<String>, source: impl Into<Cause>) -> Self {
        EngineError::Api {
            what: what.into(),
            source: source.into(),
        }
    }

    /// The engine refused `what`.
    pub(crate) fn refused(what: impl Into<String>, refusal: Refusal) -> Self {
        EngineError::Refused {
            what: what.into(),
            refusal,
        }
    }

    /// The engine's refusal, when that is what this is.
    pub(crate) fn refusal(&self) -> Option<&Refusal> {
        match self {
            EngineError::Refused { refusal, .. } => Some(refusal),
            _ => None,
        }
    }

    /// The engine refused an explicit subnet that overlaps a network it already has (the
    /// adapter knows its engine's words for it; `up` plans again).
    pub(crate) fn is_subnet_overlap(&self) -> bool {
        self.refusal()
            .is_some_and(|r| r.kind == RefusalKind::SubnetOverlap)
    }

    /// The status and message of the engine's refusal, when that is what this is.
    #[cfg(test)]
    pub(crate) fn daemon_answer(&self) -> Option<(u16, &str)> {
        self.refusal().map(|r| (r.status, r.message.as_str()))
    }
}

/// The registry an image reference is pulled from, for error messages.
pub(crate) fn registry_of(image: &str) -> &str {
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

    #[test]
    fn a_subnet_overlap_is_known_by_its_kind_not_by_text() {
        let overlap = EngineError::refused(
            "create network pg-lab",
            Refusal::new(
                RefusalKind::SubnetOverlap,
                "Pool overlaps with other one on this address space",
            ),
        );
        assert!(overlap.is_subnet_overlap());
        assert_eq!(overlap.daemon_answer().map(|(s, _)| s), Some(403));
        // The refusal is the source, so `--verbose` can show the chain.
        let source = std::error::Error::source(&overlap).expect("a source");
        assert!(source.is::<Refusal>(), "{source:?}");
        assert_eq!(
            overlap.to_string(),
            "create network pg-lab: Docker responded with status code 403: Pool overlaps with other one on this address space"
        );

        let taken = EngineError::refused(
            "create network pg-lab",
            Refusal::new(
                RefusalKind::Conflict,
                "network with name pg-lab already exists",
            ),
        );
        assert!(!taken.is_subnet_overlap());
        // Our own words that mention an overlap are no refusal.
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
        let refused = EngineError::refused(
            "create container playground-lab-server-0",
            Refusal::new(
                RefusalKind::Other,
                "Mounts denied: \nThe path /opt/data is not shared from the host and is not known to Docker.",
            ),
        );
        assert_eq!(refused.hint().as_deref(), Some(MOUNTS_DENIED_HINT));
        let other = EngineError::api("create container x", "no such image");
        assert_eq!(other.hint(), None);
    }
}

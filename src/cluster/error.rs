//! The errors of the cluster half, typed: every failure is a variant with its cause attached,
//! never a string made on the way up.
//!
//! The command layer maps a [`ClusterError`] to an exit status by its [`ErrorKind`] (see
//! [`ClusterError::kind`]); the message (with its `\n  hint: …`) is the variant's `Display`.

use std::path::PathBuf;

use crate::docker::EngineError;
use crate::kube::api::ApiError;
use crate::kube::kubeconfig::KubeconfigError;

use super::readiness::NodeWaitError;

// `PlanError` is the pure planner's ([`super::plan`] re-exports it), kept here so that this
// file imports nothing that imports it.

/// A `Result` whose error is a [`ClusterError`] unless said otherwise.
pub type Result<T, E = ClusterError> = std::result::Result<T, E>;

/// What kind of failure an error is, for the exit status (shared by every layer).
pub use crate::diag::Kind as ErrorKind;

/// Everything that can end a cluster operation.
///
/// Classification ([`ClusterError::kind`]):
/// - usage: [`Plan`](Self::Plan);
/// - Docker unreachable: [`Engine`](Self::Engine) with [`EngineError::Unreachable`] or
///   [`EngineError::Endpoint`];
/// - not found: [`NotFound`](Self::NotFound), [`NoSuchNode`](Self::NoSuchNode);
/// - conflict: [`PortInUse`](Self::PortInUse), [`SubnetTaken`](Self::SubnetTaken),
///   [`AmbiguousNetwork`](Self::AmbiguousNetwork), [`ForeignNetwork`](Self::ForeignNetwork),
///   [`NameTaken`](Self::NameTaken), [`RegistryPort`](Self::RegistryPort);
/// - timeout: a node's log wait ([`NodeWaitError::Timeout`]) or the API's ([`ApiError::NotReady`]);
/// - interrupted: [`Interrupted`](Self::Interrupted);
/// - everything else is "other".
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    NodeWait(#[from] NodeWaitError),
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error("kubeconfig: {0}")]
    Kubeconfig(#[from] KubeconfigError),
    /// The kubeconfig k3s wrote in a node does not parse (yet: it is written non-atomically).
    #[error("kubeconfig: the node's kubeconfig does not parse: {0}")]
    NodeKubeconfig(#[source] kube::config::KubeconfigError),
    /// The kubeconfig k3s wrote in a node parses but is not whole yet (an empty file, or one
    /// cut short): retried like one that does not parse.
    #[error(
        "kubeconfig: the node's kubeconfig is incomplete ({0}); k3s writes it at start\n  hint: if the node is up, `docker exec <server> cat /output/kubeconfig.yaml` shows what it wrote"
    )]
    NodeKubeconfigIncomplete(String),
    #[error("kubeconfig: {0}")]
    KubeconfigText(#[from] serde_saphyr::SerializeError),
    #[error(
        "host port {addr}/{proto} is already in use\n  hint: pick another port in {field} of the lab file, or stop what holds it (`ss -lntup | grep :{port}`)"
    )]
    PortInUse {
        addr: String,
        port: u16,
        proto: &'static str,
        field: &'static str,
    },
    #[error(
        "no lab named {0}\n  hint: `playground list` shows the labs; `playground up` creates one"
    )]
    NotFound(String),
    /// Another network took the chosen subnet between planning and creation.
    #[error("subnet {0} was taken by another network while this lab was being created")]
    SubnetTaken(String),
    #[error("interrupted")]
    Interrupted,
    #[error("cannot find a free port on {host}: {source}")]
    FreePort {
        host: std::net::IpAddr,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "lab {lab} has {count} networks named {network}, so its nodes' network is ambiguous\n  hint: `playground drop {lab}` removes them all (by ID), then `playground up` makes the lab again"
    )]
    AmbiguousNetwork {
        lab: String,
        count: usize,
        network: String,
    },
    #[error(
        "network {0} exists but playground did not create it\n  hint: remove it (`docker network rm {0}`) or choose another metadata.name"
    )]
    ForeignNetwork(String),
    #[error(
        "cannot make the cluster forget {node} before it comes back without its data: {source}\n  hint: `kubectl delete node {node}`, then `playground up`"
    )]
    ForgetNode {
        node: String,
        #[source]
        source: kube::Error,
    },
    #[error(
        "cannot drain agent {node} before removing it (cluster.agents is lower now): {source}\n  hint: see what holds it with `kubectl get pods -A --field-selector spec.nodeName={node}`; `playground up` tries again"
    )]
    DrainNode {
        node: String,
        #[source]
        source: kube::Error,
    },
    #[error(
        "{node} was recreated but its Node did not become Ready again: {source}\n  hint: `playground logs {node}`; `playground up` goes on with the nodes still to change"
    )]
    NodeNotReady {
        node: String,
        #[source]
        source: Box<ApiError>,
    },
    /// `up` would replace or remove existing nodes and was not told it may: nothing changed.
    /// `diff` is [`super::plan::Plan::diff`] (secrets masked).
    #[error(
        "{diff}lab {lab}: its file changes existing nodes (above) and nothing was changed: `up` applies such changes only when told to, and there is no terminal to ask on\n  hint: review with `playground up --dry-run`, then apply with `playground up --yes`"
    )]
    Unconfirmed { lab: String, diff: String },
    #[error(
        "cannot write {namespace}/{name} (where Tilt, Skaffold and ctlptl look for the lab registry): {source}\n  hint: the registry itself works; `playground up` tries again"
    )]
    PublishRegistry {
        namespace: &'static str,
        name: &'static str,
        #[source]
        source: kube::Error,
    },
    #[error("cannot repair {host} in CoreDNS (kube-system/{configmap}): {source}")]
    HostRecord {
        host: &'static str,
        configmap: &'static str,
        #[source]
        source: kube::Error,
    },
    #[error(
        "cannot repair {host}: no node has it in /etc/hosts and the network {network} has no gateway address\n  hint: `playground up` recreates the network"
    )]
    NoHostAddress { host: &'static str, network: String },
    #[error(
        "lab {lab} is partial: {missing} missing\n  hint: `playground up` recreates what is missing and starts the rest"
    )]
    Partial { lab: String, missing: String },
    #[error(
        "lab {0} has no server-0 or no API port label, so it cannot be resumed\n  hint: `playground up` repairs a lab from its file; `playground drop {0}` removes it"
    )]
    NoServer0(String),
    #[error(
        "the lab network {0} is gone, so the nodes cannot reach each other\n  hint: `playground up` recreates it and the nodes"
    )]
    NetworkGone(String),
    #[error(
        "node {node} is not attached to {network} after start\n  hint: `playground drop {lab} --yes && playground up` rebuilds the lab"
    )]
    Detached {
        node: String,
        network: String,
        lab: String,
    },
    #[error(
        "container name {name} is taken by a container that is not {what}\n  hint: remove or rename it (`docker rm -f {name}`)"
    )]
    NameTaken { name: String, what: String },
    #[error(
        "{0} is not the playground registry; not removed\n  hint: `docker rm -f {0}` if it is yours to remove"
    )]
    NotOurRegistry(String),
    #[error(
        "the lab asks for the registry on port {want}, but the shared registry {container} runs on 127.0.0.1:{have}; labs share one registry\n  hint: set `cluster.registry.port: {have}`, or remove the registry and what was pushed to it (`playground cache prune`) to make it again on {want}"
    )]
    RegistryPort {
        want: u16,
        have: u16,
        container: String,
    },
    #[error(
        "lab {lab} has no node {wanted}\n  hint: its nodes are {have}; `playground status {lab}` shows them"
    )]
    NoSuchNode {
        lab: String,
        wanted: String,
        have: String,
    },
    #[error(
        "node {node} of lab {lab} is {state}, not running\n  hint: `playground resume {lab}` (or `playground up`) starts it"
    )]
    NodeNotRunning {
        node: String,
        lab: String,
        state: &'static str,
    },
    #[error(
        "`playground exec` runs the Docker CLI (`docker exec`) for the terminal, and `docker` is not on PATH\n  hint: install the Docker CLI (Debian: `apt-get install docker.io`, or docker-ce-cli), or run `docker exec -it {container} {cmd}` where it is"
    )]
    NoDockerCli { container: String, cmd: String },
    #[error("run docker exec: {0}")]
    RunDockerExec(#[source] std::io::Error),
    #[error("wait for docker exec: {0}")]
    WaitDockerExec(#[source] std::io::Error),
    #[error("write the archive: {0}")]
    Archive(#[source] std::io::Error),
    #[error(
        "cannot write in {}: {source}\n  hint: give a directory you can write to: `playground export logs {lab} DIR`",
        dir.display()
    )]
    ExportDir {
        dir: PathBuf,
        lab: String,
        #[source]
        source: std::io::Error,
    },
    #[error("write {}: {source}", dest.display())]
    Persist {
        dest: PathBuf,
        #[source]
        source: tempfile::PersistError,
    },
    #[error(
        "lab {lab} is {state}: images can only be imported into running nodes\n  hint: `playground resume {lab}`, then import again"
    )]
    LabNotRunning { lab: String, state: &'static str },
    #[error(
        "lab {lab} has nodes that are not running ({nodes}): an image imported now would be missing there\n  hint: `playground resume {lab}` or `playground up` brings them back"
    )]
    NodesStopped { lab: String, nodes: String },
    #[error(
        "not in the host's Docker: {missing}\n  hint: `docker pull {first}` (or build it) first; `image import` copies what `docker images` lists"
    )]
    ImagesMissing { missing: String, first: String },
    #[error("cannot make a temp file for the export: {0}")]
    TempFile(#[source] std::io::Error),
    #[error(
        "`ctr images import` failed in {node} (exit {code}): {output}\n  hint: check the node with `docker logs {node}`; k3s's containerd must be running"
    )]
    CtrImport {
        node: String,
        code: i64,
        output: String,
    },
}

/// Why a lab cannot be planned.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PlanError {
    #[error(
        "container name {0} is taken by a container that playground did not create\n  hint: remove or rename it (`docker rm -f {0}`), or choose another metadata.name"
    )]
    NameTaken(String),
    #[error(
        "host port {0} is bound {1} times; a host port can be bound only once\n  hint: check cluster.ports (narrow a node filter to one node, e.g. @agent:0), cluster.api.port and argocd.ui.port"
    )]
    PortOnManyNodes(u16, usize),
    #[error("host port {0} is mapped twice")]
    PortTwice(u16),
    #[error(
        "lab {lab} was created with {had} server(s) and its file now asks for {want}; the server count of an existing lab cannot change (a single server keeps its data in sqlite and cannot take members, and etcd members are not added or removed by `up`)\n  hint: set cluster.servers back to {had}, or rebuild the lab: `playground drop {lab}` then `playground up` (or `playground restore` to bring back its kept Secrets)"
    )]
    ServerCountChanged { lab: String, had: u32, want: u32 },
    #[error(
        "lab {lab} was created with its API on {had} and its file now asks for {want}; `up` does not move the API of an existing lab: the address is in every kubeconfig that reaches it and in the servers' certificates (--tls-san)\n  hint: set cluster.api back to {had}, or rebuild the lab on the new address: `playground drop {lab}` then `playground up` (or `playground restore` to bring back its kept Secrets)"
    )]
    ApiAddressChanged {
        lab: String,
        had: String,
        want: String,
    },
    #[error(
        "the lab asks for the registry on port {want}, but the shared registry {container} runs on 127.0.0.1:{have}; labs share one registry\n  hint: set `cluster.registry.port: {have}`, or remove the registry and what was pushed to it (`playground cache prune`) to make it again on {want}"
    )]
    RegistryPort {
        container: String,
        have: u16,
        want: u16,
    },
    #[error(
        "no free subnet for the lab network in 172.28.0.0/14\n  hint: remove unused Docker networks (`docker network prune`)"
    )]
    NoSubnet,
}

impl ClusterError {
    /// The kind of failure, for the exit status (see the enum's doc).
    pub fn kind(&self) -> ErrorKind {
        use ClusterError as E;
        match self {
            E::Plan(_) | E::Unconfirmed { .. } => ErrorKind::Usage,
            E::Engine(EngineError::Unreachable { .. } | EngineError::Endpoint(_)) => {
                ErrorKind::Unreachable
            }
            E::NotFound(_) | E::NoSuchNode { .. } => ErrorKind::NotFound,
            E::PortInUse { .. }
            | E::SubnetTaken(_)
            | E::AmbiguousNetwork { .. }
            | E::ForeignNetwork(_)
            | E::NameTaken { .. }
            | E::RegistryPort { .. } => ErrorKind::Conflict,
            _ if self.is_timeout() => ErrorKind::Timeout,
            E::Interrupted => ErrorKind::Interrupted,
            _ => ErrorKind::Failed,
        }
    }

    /// Whether a wait ran past its deadline: a node's ready line or the API's readiness.
    pub fn is_timeout(&self) -> bool {
        match self {
            ClusterError::NodeWait(NodeWaitError::Timeout { .. })
            | ClusterError::Api(ApiError::NotReady { .. }) => true,
            ClusterError::NodeNotReady { source, .. } => {
                matches!(**source, ApiError::NotReady { .. })
            }
            _ => false,
        }
    }
}

//! The errors of the cluster half, typed: every failure is a variant with its cause attached,
//! never a string made on the way up.
//!
//! The command layer maps a [`ClusterError`] to an exit status by its [`ErrorKind`] (see
//! [`ClusterError::kind`]); the message is the variant's `Display`, and what to do about it is
//! its [`Hinted::hint`](crate::diag::Hinted::hint).

use std::path::PathBuf;

use crate::docker::EngineError;
use crate::kube::api::ApiError;
use crate::kube::kubeconfig::KubeconfigError;

use super::readiness::NodeWaitError;

// `PlanError` is the pure planner's ([`super::plan`] re-exports it), kept here so that this
// file imports nothing that imports it.

/// A `Result` whose error is a [`ClusterError`] unless said otherwise.
pub(crate) type Result<T, E = ClusterError> = std::result::Result<T, E>;

/// What kind of failure an error is, for the exit status (shared by every layer).
pub(crate) use crate::diag::Kind as ErrorKind;

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
    #[error("kubeconfig: the node's kubeconfig is incomplete ({0}); k3s writes it at start")]
    NodeKubeconfigIncomplete(String),
    #[error("kubeconfig: {0}")]
    KubeconfigText(#[from] serde_saphyr::SerializeError),
    #[error("host port {addr}/{proto} is already in use")]
    PortInUse {
        addr: String,
        port: u16,
        proto: &'static str,
        field: &'static str,
    },
    #[error("no lab named {0}")]
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
    #[error("lab {lab} has {count} networks named {network}, so its nodes' network is ambiguous")]
    AmbiguousNetwork {
        lab: String,
        count: usize,
        network: String,
    },
    #[error("network {0} exists but playground did not create it")]
    ForeignNetwork(String),
    #[error(
        "cannot make the cluster forget {node} before it comes back without its data: {source}"
    )]
    ForgetNode {
        node: String,
        #[source]
        source: kube::Error,
    },
    #[error("cannot drain agent {node} before removing it (cluster.agents is lower now): {source}")]
    DrainNode {
        node: String,
        #[source]
        source: kube::Error,
    },
    #[error("{node} was recreated but its Node did not become Ready again: {source}")]
    NodeNotReady {
        node: String,
        #[source]
        source: Box<ApiError>,
    },
    /// `up` would replace or remove existing nodes and was not told it may: nothing changed.
    /// `diff` is [`super::plan::Plan::diff`] (secrets masked).
    #[error(
        "{diff}lab {lab}: its file changes existing nodes (above) and nothing was changed: `up` applies such changes only when told to, and there is no terminal to ask on"
    )]
    Unconfirmed { lab: String, diff: String },
    #[error(
        "cannot write {namespace}/{name} (where Tilt, Skaffold and ctlptl look for the lab registry): {source}"
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
        "cannot repair {host}: no node has it in /etc/hosts and the network {network} has no gateway address"
    )]
    NoHostAddress { host: &'static str, network: String },
    #[error("lab {lab} is partial: {missing} missing")]
    Partial { lab: String, missing: String },
    #[error("lab {0} has no server-0 or no API port label, so it cannot be resumed")]
    NoServer0(String),
    #[error("the lab network {0} is gone, so the nodes cannot reach each other")]
    NetworkGone(String),
    #[error("node {node} is not attached to {network} after start")]
    Detached {
        node: String,
        network: String,
        lab: String,
    },
    #[error("container name {name} is taken by a container that is not {what}")]
    NameTaken { name: String, what: String },
    #[error("{0} is not the playground registry; not removed")]
    NotOurRegistry(String),
    #[error(
        "the lab asks for the registry on port {want}, but the shared registry {container} runs on 127.0.0.1:{have}; labs share one registry"
    )]
    RegistryPort {
        want: u16,
        have: u16,
        container: String,
    },
    #[error("lab {lab} has no node {wanted}")]
    NoSuchNode {
        lab: String,
        wanted: String,
        have: String,
    },
    #[error("node {node} of lab {lab} is {state}, not running")]
    NodeNotRunning {
        node: String,
        lab: String,
        state: &'static str,
    },
    #[error(
        "`playground exec` runs the Docker CLI (`docker exec`) for the terminal, and `docker` is not on PATH"
    )]
    NoDockerCli { container: String, cmd: String },
    #[error("run docker exec: {0}")]
    RunDockerExec(#[source] std::io::Error),
    #[error("wait for docker exec: {0}")]
    WaitDockerExec(#[source] std::io::Error),
    #[error("write the archive: {0}")]
    Archive(#[source] std::io::Error),
    #[error("cannot write in {}: {source}", dir.display())]
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
    #[error("lab {lab} is {state}: images can only be imported into running nodes")]
    LabNotRunning { lab: String, state: &'static str },
    #[error(
        "lab {lab} has nodes that are not running ({nodes}): an image imported now would be missing there"
    )]
    NodesStopped { lab: String, nodes: String },
    #[error("not in the host's Docker: {missing}")]
    ImagesMissing { missing: String, first: String },
    #[error("cannot make a temp file for the export: {0}")]
    TempFile(#[source] std::io::Error),
    #[error("`ctr images import` failed in {node} (exit {code}): {output}")]
    CtrImport {
        node: String,
        code: i64,
        output: String,
    },
}

impl crate::diag::Hinted for ClusterError {
    fn hint(&self) -> Option<String> {
        match self {
            Self::Plan(e) => e.hint(),
            Self::Engine(e) => e.hint(),
            Self::NodeWait(e) => e.hint(),
            Self::NodeKubeconfigIncomplete(..) => Some("if the node is up, `docker exec <server> cat /output/kubeconfig.yaml` shows what it wrote".to_string()),
            Self::PortInUse { port, field, .. } => Some(format!("pick another port in {field} of the lab file, or stop what holds it (`ss -lntup | grep :{port}`)")),
            Self::NotFound(..) => Some("`playground list` shows the labs; `playground up` creates one".to_string()),
            Self::AmbiguousNetwork { lab, .. } => Some(format!("`playground drop {lab}` removes them all (by ID), then `playground up` makes the lab again")),
            Self::ForeignNetwork(network) => Some(format!("remove it (`docker network rm {network}`) or choose another metadata.name")),
            Self::ForgetNode { node, .. } => Some(format!("`kubectl delete node {node}`, then `playground up`")),
            Self::DrainNode { node, .. } => Some(format!("see what holds it with `kubectl get pods -A --field-selector spec.nodeName={node}`; `playground up` tries again")),
            Self::NodeNotReady { node, .. } => Some(format!("`playground logs {node}`; `playground up` goes on with the nodes still to change")),
            Self::Unconfirmed { .. } => Some("review with `playground up --dry-run`, then apply with `playground up --yes`".to_string()),
            Self::PublishRegistry { .. } => Some("the registry itself works; `playground up` tries again".to_string()),
            Self::NoHostAddress { .. } => Some("`playground up` recreates the network".to_string()),
            Self::Partial { .. } => Some("`playground up` recreates what is missing and starts the rest".to_string()),
            Self::NoServer0(lab) => Some(format!("`playground up` repairs a lab from its file; `playground drop {lab}` removes it")),
            Self::NetworkGone(..) => Some("`playground up` recreates it and the nodes".to_string()),
            Self::Detached { lab, .. } => Some(format!("`playground drop {lab} --yes && playground up` rebuilds the lab")),
            Self::NameTaken { name, .. } => Some(format!("remove or rename it (`docker rm -f {name}`)")),
            Self::NotOurRegistry(container) => Some(format!("`docker rm -f {container}` if it is yours to remove")),
            Self::RegistryPort { want, have, .. } => Some(format!("set `cluster.registry.port: {have}`, or remove the registry and what was pushed to it (`playground cache prune`) to make it again on {want}")),
            Self::NoSuchNode { lab, have, .. } => Some(format!("its nodes are {have}; `playground status {lab}` shows them")),
            Self::NodeNotRunning { lab, .. } => Some(format!("`playground resume {lab}` (or `playground up`) starts it")),
            Self::NoDockerCli { container, cmd } => Some(format!("install the Docker CLI (Debian: `apt-get install docker.io`, or docker-ce-cli), or run `docker exec -it {container} {cmd}` where it is")),
            Self::ExportDir { lab, .. } => Some(format!("give a directory you can write to: `playground export logs {lab} DIR`")),
            Self::LabNotRunning { lab, .. } => Some(format!("`playground resume {lab}`, then import again")),
            Self::NodesStopped { lab, .. } => Some(format!("`playground resume {lab}` or `playground up` brings them back")),
            Self::ImagesMissing { first, .. } => Some(format!("`docker pull {first}` (or build it) first; `image import` copies what `docker images` lists")),
            Self::CtrImport { node, .. } => Some(format!("check the node with `docker logs {node}`; k3s's containerd must be running")),
            _ => None,
        }
    }
}

/// Why a lab cannot be planned.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PlanError {
    #[error("container name {0} is taken by a container that playground did not create")]
    NameTaken(String),
    #[error("host port {0} is bound {1} times; a host port can be bound only once")]
    PortOnManyNodes(u16, usize),
    #[error("host port {0} is mapped twice")]
    PortTwice(u16),
    #[error(
        "lab {lab} was created with {had} server(s) and its file now asks for {want}; the server count of an existing lab cannot change (a single server keeps its data in sqlite and cannot take members, and etcd members are not added or removed by `up`)"
    )]
    ServerCountChanged { lab: String, had: u32, want: u32 },
    #[error(
        "lab {lab} was created with its API on {had} and its file now asks for {want}; `up` does not move the API of an existing lab: the address is in every kubeconfig that reaches it and in the servers' certificates (--tls-san)"
    )]
    ApiAddressChanged {
        lab: String,
        had: String,
        want: String,
    },
    #[error(
        "the lab asks for the registry on port {want}, but the shared registry {container} runs on 127.0.0.1:{have}; labs share one registry"
    )]
    RegistryPort {
        container: String,
        have: u16,
        want: u16,
    },
    #[error("no free subnet for the lab network in 172.28.0.0/14")]
    NoSubnet,
}

impl crate::diag::Hinted for PlanError {
    fn hint(&self) -> Option<String> {
        match self {
            Self::NameTaken(name) => Some(format!("remove or rename it (`docker rm -f {name}`), or choose another metadata.name")),
            Self::PortOnManyNodes(..) => Some("check cluster.ports (narrow a node filter to one node, e.g. @agent:0), cluster.api.port and argocd.ui.port".to_string()),
            Self::ServerCountChanged { lab, had, .. } => Some(format!("set cluster.servers back to {had}, or rebuild the lab: `playground drop {lab}` then `playground up` (or `playground restore` to bring back its kept Secrets)")),
            Self::ApiAddressChanged { lab, had, .. } => Some(format!("set cluster.api back to {had}, or rebuild the lab on the new address: `playground drop {lab}` then `playground up` (or `playground restore` to bring back its kept Secrets)")),
            Self::RegistryPort { have, want, .. } => Some(format!("set `cluster.registry.port: {have}`, or remove the registry and what was pushed to it (`playground cache prune`) to make it again on {want}")),
            Self::NoSubnet => Some("remove unused Docker networks (`docker network prune`)".to_string()),
            _ => None,
        }
    }
}

impl ClusterError {
    /// The kind of failure, for the exit status (see the enum's doc).
    pub(crate) fn kind(&self) -> ErrorKind {
        use ClusterError as E;
        match self {
            E::Plan(_) | E::Unconfirmed { .. } => ErrorKind::Usage,
            E::Engine(e) => crate::diag::Classified::kind(e),
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
    pub(crate) fn is_timeout(&self) -> bool {
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

impl crate::diag::Classified for ClusterError {
    fn kind(&self) -> ErrorKind {
        ClusterError::kind(self)
    }
}

//! The library's error type and the exit codes the binary maps it to.

use crate::argocd::cli::ArgoCliError;
use crate::argocd::install::InstallError;
use crate::argocd::manifest::ManifestError;
use crate::argocd::workloads::WorkloadsError;
use crate::cluster::plan::PlanError;
use crate::cluster::readiness::NodeWaitError;
use crate::docker::EngineError;
use crate::kube::api::ApiError;
use crate::kube::apply::ApplyError;

/// Everything that can end a command.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Config(String),
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    NodeWait(#[from] NodeWaitError),
    #[error(transparent)]
    Api(#[from] ApiError),
    // The GitOps errors are boxed: they are large and rare, and `Error` travels in every
    // `Result` of the library.
    #[error(transparent)]
    Manifest(Box<ManifestError>),
    #[error(transparent)]
    Apply(Box<ApplyError>),
    #[error(transparent)]
    Install(Box<InstallError>),
    #[error(transparent)]
    Workloads(Box<WorkloadsError>),
    #[error(transparent)]
    ArgocdCli(Box<ArgoCliError>),
    #[error("kubeconfig: {0}")]
    Kubeconfig(String),
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
    /// A program we ran for the user (`playground argocd`) exited with this status, which
    /// becomes ours. It has said what went wrong itself, so nothing more is printed.
    #[error("the command exited with status {0}")]
    ChildExit(i32),
    #[error("{0}")]
    Other(String),
    /// A failure of the cluster half; its kind picks the exit status.
    #[error(transparent)]
    Cluster(#[from] crate::cluster::ClusterError),
}

macro_rules! boxed_from {
    ($($variant:ident($ty:ty)),*) => {$(
        impl From<$ty> for Error {
            fn from(e: $ty) -> Self {
                Error::$variant(Box::new(e))
            }
        }
    )*};
}

boxed_from!(
    Manifest(ManifestError),
    Apply(ApplyError),
    Install(InstallError),
    Workloads(WorkloadsError),
    ArgocdCli(ArgoCliError)
);

impl Error {
    /// The process exit status for this error: 2 for bad input, 3 when Docker is missing,
    /// 130 for Ctrl-C (as shells report SIGINT), a child's own status for [`Error::ChildExit`],
    /// 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Config(_) | Error::Plan(_) => 2,
            Error::Engine(EngineError::Unreachable { .. } | EngineError::Endpoint(_)) => 3,
            Error::Interrupted => crate::interrupt::exit_code(),
            Error::ChildExit(code) => *code,
            Error::Cluster(e) => {
                // Today's statuses; not found (4), conflict (5) and timeout (6) are told apart
                // by the kind already, for when the README documents them.
                use crate::cluster::ErrorKind;
                match e.kind() {
                    ErrorKind::Usage => 2,
                    ErrorKind::Unreachable => 3,
                    ErrorKind::Interrupted => crate::interrupt::exit_code(),
                    ErrorKind::NotFound
                    | ErrorKind::Conflict
                    | ErrorKind::Timeout
                    | ErrorKind::Other => 1,
                }
            }
            _ => 1,
        }
    }

    /// Whether the binary should print this error (a child that failed has spoken already).
    pub fn is_reported(&self) -> bool {
        !matches!(self, Error::ChildExit(_))
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

//! The one place errors become what a person reads and what a script checks: the message,
//! its hint, and the exit status.
//!
//! Each layer has its own error type (`ConfigError`, `ClusterError`, `BootstrapError`, …) and
//! this one wraps them as they are, with `#[from]`, so nothing is turned into a string on the
//! way up. Each type says its own [`Kind`] (what a script can do about it) through
//! [`Classified`], and [`Error`] asks the one it wraps; the exit status follows the kind (see
//! the table in docs/output.md):
//!
//! | kind | status |
//! |---|---|
//! | [`Kind::Failed`] | 1 |
//! | [`Kind::Usage`]: bad flags, a lab file that does not validate, a plan that cannot work | 2 |
//! | [`Kind::Unreachable`]: no Docker Engine | 3 |
//! | [`Kind::NotFound`]: no such lab | 4 |
//! | [`Kind::Conflict`]: a port, a subnet or the lab is taken | 5 |
//! | [`Kind::Timeout`]: a wait ran out of time | 6 |
//! | [`Kind::Interrupted`]: Ctrl-C (130) or SIGTERM (143) | 130, 143 |
//! | [`Kind::Child`]: `playground argocd`/`exec` pass the program's own status on | N |

mod hint;
mod kind;
#[cfg(test)]
mod tests;
mod usage;

use std::path::PathBuf;

use crate::argocd::access::AccessError;
use crate::argocd::bootstrap::BootstrapError;
use crate::argocd::cli::ArgoCliError;
use crate::argocd::refresh::RefreshError;
use crate::cluster::ClusterError;
use crate::config::ConfigError;
use crate::docker::EngineError;
use crate::doctor::PreflightError;
use crate::kube::api::ApiError;
use crate::kube::kubeconfig::KubeconfigError;
use crate::repo::sample::SampleError;
use crate::source::SourceError;
use crate::source::restore::RestoreError;
use crate::state::lock::LockError;

/// Everything that can end a command.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error(transparent)]
    Usage(#[from] Usage),
    /// NAME on the command line is not a lab name.
    #[error(transparent)]
    Name(#[from] crate::config::NameError),
    /// `validate` found problems (each printed already).
    #[error("{problems} problem(s) in the lab at {}", path.display())]
    Invalid { problems: usize, path: PathBuf },
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    #[error(transparent)]
    Restore(Box<RestoreError>),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error(transparent)]
    Preflight(#[from] PreflightError),
    // The GitOps errors are boxed: they are large and rare, and `Error` travels in every
    // `Result` of the commands.
    #[error(transparent)]
    Bootstrap(Box<BootstrapError>),
    #[error(transparent)]
    ArgocdCli(Box<ArgoCliError>),
    #[error(transparent)]
    Access(#[from] AccessError),
    #[error(transparent)]
    Refresh(#[from] RefreshError),
    #[error("kubeconfig: {0}")]
    KubeconfigFile(#[from] KubeconfigError),
    #[error("cannot read the kubeconfig: {0}")]
    KubeconfigRead(#[from] crate::kube::KubeconfigReadError),
    /// A use case's error, as it is: it says its own message, hint and kind.
    #[error(transparent)]
    Ops(#[from] crate::ops::OpsError),
    #[error(transparent)]
    Sample(#[from] SampleError),
    /// `init --from-k3d`: the k3d config cannot be converted.
    #[error(transparent)]
    K3d(#[from] crate::config::k3d::K3dError),
    #[error(transparent)]
    Lock(#[from] LockError),
    /// `doctor` found failing checks (the report says which).
    #[error("{failures} host check(s) failed")]
    HostChecks { failures: usize },
    #[error("cannot write the JSON document: {0}")]
    Json(#[from] serde_json::Error),
    #[error("cannot write the YAML document: {0}")]
    Yaml(#[from] serde_saphyr::SerializeError),
    #[error("cannot read the answer from the terminal: {0}")]
    Terminal(#[source] std::io::Error),
    /// A file the command writes for the user (man pages, a completion script on stdout).
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    /// The user answered no.
    #[error("not {0}")]
    Declined(&'static str),
    #[error("several labs exist ({}); name one", .0.join(", "))]
    SeveralLabs(Vec<String>),
    /// A command that needs a lab, when this Docker Engine has none at all (the name the user
    /// gave, if any).
    #[error("{}there are no labs yet", .0.as_ref().map(|n| format!("no lab named {n}: ")).unwrap_or_default())]
    NoLabs(Option<String>),
    #[error("interrupted")]
    Interrupted,
    /// A program we ran for the user (`playground argocd`, `exec`) exited with this status,
    /// which becomes ours. It has said what went wrong itself, so nothing more is printed.
    #[error("the command exited with status {0}")]
    ChildExit(i32),
}

pub(crate) use crate::diag::{Classified, Hinted, Kind};
pub(crate) use usage::Usage;

pub(crate) type Result<T, E = Error> = std::result::Result<T, E>;

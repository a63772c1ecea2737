//! What can end `up`: a use case's error ([`OpsError`]), the GitOps half's, a refusal the
//! flags or the user made, or an interrupt. The command maps each onto its own error, with the
//! same message, hint and exit status as before.

use crate::argocd::bootstrap::BootstrapError;
use crate::argocd::refresh::RefreshError;
use crate::doctor::PreflightError;
use crate::kube::KubeconfigReadError;
use crate::kube::kubeconfig::KubeconfigError;
use crate::state::lock::LockError;

use super::super::OpsError;

#[derive(Debug, thiserror::Error)]
pub(crate) enum UpError {
    #[error(transparent)]
    Ops(#[from] OpsError),
    #[error(transparent)]
    Bootstrap(Box<BootstrapError>),
    #[error(transparent)]
    Preflight(#[from] PreflightError),
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error(transparent)]
    KubeconfigRead(#[from] KubeconfigReadError),
    #[error(transparent)]
    Refresh(#[from] RefreshError),
    /// Ctrl-C or SIGTERM during the GitOps half: the cluster stays.
    #[error("interrupted")]
    Interrupted,
    /// The user said no to the changes shown.
    #[error("not applied")]
    Declined,
    #[error("cannot read the answer: {0}")]
    Terminal(#[source] std::io::Error),
    /// `--watch` with a remote repository.
    #[error("--watch needs a local gitops.repo")]
    WatchNeedsLocalRepo,
    /// `--context` with `--cluster-only`.
    #[error("--context cannot be combined with --cluster-only")]
    ContextWithClusterOnly,
    /// `--context CTX` with a local repository, which only a playground cluster can mount.
    #[error("--context {0}: gitops.repo is a local repository")]
    ContextWithLocalRepo(String),
    #[error("no context {0:?} in the kubeconfig")]
    NoSuchContext(String),
    /// A changed Argo CD release, no `--yes` and no terminal to ask on.
    #[error("{diff}lab {lab}: the Argo CD release changes and there is no terminal to ask on")]
    ArgoCdUnconfirmed { lab: String, diff: String },
}

crate::diag::wrap_from!(UpError::Ops via crate::ops::OpsError;
    crate::cluster::ClusterError,
    crate::kube::api::ApiError,
    KubeconfigError,
    crate::state::kept::KeptError
);

impl From<BootstrapError> for UpError {
    fn from(e: BootstrapError) -> Self {
        UpError::Bootstrap(Box::new(e))
    }
}

pub(crate) type Result<T, E = UpError> = std::result::Result<T, E>;

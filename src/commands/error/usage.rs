//! Bad use of the command line that no lower layer knows of.

use super::*;

/// Flags or inputs that cannot go together. Exit status 2.
#[derive(Debug, thiserror::Error)]
pub enum Usage {
    #[error("--watch follows a local repository's HEAD, but gitops.repo is a remote URL")]
    WatchNeedsLocalRepo,
    #[error("--context bootstraps GitOps; it cannot be combined with --cluster-only")]
    ContextWithClusterOnly,
    #[error(
        "--context {0}: gitops.repo is a local repository, which only a playground cluster can mount"
    )]
    ContextWithLocalRepo(String),
    #[error("no context {0:?} in the kubeconfig")]
    NoSuchContext(String),
    /// `playground argocd version`: the word was meant for argocd, not as a lab name.
    #[error("no lab named {0}")]
    ArgocdArgsAfterSeparator(String),
    #[error("clap_complete has no {0} support")]
    UnsupportedShell(&'static str),
    /// `up` would change the Argo CD release of a lab that has one and was not told it may:
    /// Argo CD was not touched. `diff` is [`crate::argocd::upgrade::VersionChange::diff`].
    #[error(
        "{diff}lab {lab}: its file changes the Argo CD release (above) and Argo CD was not touched: `up` applies such changes only when told to, and there is no terminal to ask on"
    )]
    ArgoCdUnconfirmed { lab: String, diff: String },
}

impl crate::diag::Hinted for Usage {
    fn hint(&self) -> Option<String> {
        match self {
            Self::WatchNeedsLocalRepo => {
                Some("run `playground refresh` after you push".to_string())
            }
            Self::ContextWithLocalRepo(..) => Some(
                "push the repository and set gitops.repo to its https:// or ssh URL".to_string(),
            ),
            Self::NoSuchContext(..) => Some("`kubectl config get-contexts` lists them".to_string()),
            Self::ArgocdArgsAfterSeparator(word) => Some(format!(
                "arguments for argocd go after `--`: `playground argocd -- {word}`"
            )),
            Self::ArgoCdUnconfirmed { .. } => Some(
                "review with `playground up --dry-run`, then apply with `playground up --yes`"
                    .to_string(),
            ),
            _ => None,
        }
    }
}

impl crate::diag::Classified for Usage {
    fn kind(&self) -> Kind {
        Kind::Usage
    }
}

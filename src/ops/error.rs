//! What can end a use case, in the words of the layer it came from: each variant wraps the
//! error as it is, and says its hint and kind by asking it. The command layer takes an
//! `OpsError` in whole (`commands::error::Error::Ops`), so its message, hint and exit status
//! are the same wherever the command meets it.

use crate::argocd::hub::HubError;
use crate::cluster::ClusterError;
use crate::diag::{Classified, Kind};
use crate::docker::EngineError;
use crate::kube::api::ApiError;
use crate::kube::kubeconfig::KubeconfigError;
use crate::state::kept::KeptError;
use crate::state::record::RecordError;

#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error(transparent)]
    Hub(Box<HubError>),
    #[error("kubeconfig: {0}")]
    KubeconfigFile(#[from] KubeconfigError),
    #[error(transparent)]
    Record(#[from] RecordError),
    #[error(transparent)]
    Kept(#[from] KeptError),
    /// `drop`/`suspend` could not export what the lab keeps, and changed nothing.
    #[error("cannot export the kept Secrets of lab {name}: {source}\n  nothing was {what}")]
    KeptExport {
        name: String,
        what: &'static str,
        #[source]
        source: Box<KeptError>,
    },
    #[error(transparent)]
    Restore(Box<crate::source::restore::RestoreError>),
    /// A lab made by an older playground, or whose labels were edited.
    #[error("lab {0} has no API address label")]
    NoApiAddress(String),
}

impl From<HubError> for OpsError {
    fn from(e: HubError) -> Self {
        OpsError::Hub(Box::new(e))
    }
}

impl crate::diag::Hinted for OpsError {
    fn hint(&self) -> Option<String> {
        match self {
            Self::Cluster(e) => e.hint(),
            Self::Engine(e) => e.hint(),
            Self::Kept(e) => e.hint(),
            Self::Record(e) => e.hint(),
            Self::KeptExport { name, source, .. } => crate::diag::join(
                source.hint(),
                Some(format!(
                    "`playground resume {name}` if it is stopped, then try again; --force goes on and loses them"
                )),
            ),
            Self::NoApiAddress(..) => Some("`playground up` converges it".to_string()),
            Self::Restore(e) => e.hint(),
            Self::Api(_) | Self::Hub(_) | Self::KubeconfigFile(_) => None,
        }
    }
}

impl Classified for OpsError {
    fn kind(&self) -> Kind {
        match self {
            Self::Cluster(e) => Classified::kind(e),
            Self::Engine(e) => e.kind(),
            Self::Api(e) => e.kind(),
            Self::Hub(e) => e.kind(),
            Self::KubeconfigFile(e) => e.kind(),
            Self::Record(e) => e.kind(),
            Self::Kept(e) => e.kind(),
            Self::Restore(e) => e.kind(),
            // Its own failures; a kept export that failed is one, whatever its reason.
            Self::KeptExport { .. } | Self::NoApiAddress(_) => Kind::Failed,
        }
    }
}

pub(crate) type Result<T, E = OpsError> = std::result::Result<T, E>;

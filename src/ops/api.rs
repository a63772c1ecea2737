//! The Kubernetes side of a lab as the use cases need it, as a trait: the seam that lets the
//! scenarios run `drop`, `suspend` and `resume` end to end over the fake engine. [`LabKube`]
//! is the real one (the credentials k3s wrote in server-0, a client through kube-rs).

use std::future::Future;
use std::time::Duration;

use crate::cluster::cluster_api::{Connect, KubeConnect};
use crate::cluster::inventory::LabSummary;
use crate::cluster::node_kubeconfig;
use crate::config::KeepSpec;
use crate::docker::Engine;
use crate::kube::api::KubeApi;
use crate::kube::kept::Refreshed;
use crate::state::kept::KeptError;

use super::{OpsError, Result};

/// What the use cases ask of a lab's Kubernetes API.
pub trait Kube: Send + Sync {
    /// The connector the cluster half (`resume`, `up`) builds its API calls with.
    type Connect: Connect;
    fn connect(&self) -> &Self::Connect;
    /// Export what `keep` selects from running lab `lab`, merged with its previous export,
    /// and save it ([`crate::kube::kept::refresh`]); `None` when its API does not answer.
    fn refresh_kept<E: Engine>(
        &self,
        engine: &E,
        lab: &LabSummary,
        keep: &KeepSpec,
    ) -> impl Future<Output = std::result::Result<Option<Refreshed>, KeptError>> + Send;
}

/// The real Kubernetes side.
#[derive(Debug, Clone, Copy, Default)]
pub struct LabKube;

impl Kube for LabKube {
    type Connect = KubeConnect;
    fn connect(&self) -> &KubeConnect {
        &KubeConnect
    }
    async fn refresh_kept<E: Engine>(
        &self,
        engine: &E,
        lab: &LabSummary,
        keep: &KeepSpec,
    ) -> std::result::Result<Option<Refreshed>, KeptError> {
        let Ok(api) = lab_api(engine, lab).await else {
            return Ok(None);
        };
        crate::kube::kept::refresh(api.client(), &lab.name, keep)
            .await
            .map(Some)
    }
}

/// The kubeconfig k3s wrote in server-0, pointed at the lab's published API.
pub async fn lab_kubeconfig<E: Engine>(engine: &E, lab: &LabSummary) -> Result<String> {
    let api = lab
        .api
        .as_deref()
        .ok_or_else(|| OpsError::NoApiAddress(lab.name.clone()))?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    Ok(node_kubeconfig::fetch_kubeconfig(engine, &lab.name, api, deadline).await?)
}

/// A client for a lab's API, with the credentials k3s wrote in server-0.
pub async fn lab_api<E: Engine>(engine: &E, lab: &LabSummary) -> Result<KubeApi> {
    Ok(KubeApi::from_kubeconfig_yaml(&lab_kubeconfig(engine, lab).await?).await?)
}

//! The Kubernetes side of a lab as the use cases need it, as a trait: the seam that lets the
//! scenarios run `drop`, `suspend` and `resume` end to end over the fake engine. [`LabKube`]
//! is the real one (the credentials k3s wrote in server-0, a client through kube-rs).

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use crate::argocd::apps::AppState;
use crate::argocd::bootstrap::{self, BootstrapError, Prepared};
use crate::argocd::refresh::{self, RefreshError};
use crate::argocd::upgrade;
use crate::cluster::ClusterError;
use crate::cluster::cluster_api::{Connect, KubeConnect};
use crate::cluster::inventory::LabSummary;
use crate::cluster::node_kubeconfig;
use crate::cluster::up::{self, Starting};
use crate::config::KeepSpec;
use crate::config::Lab;
use crate::docker::Engine;
use crate::kube::api::KubeApi;
use crate::kube::api::NodeReady;
use crate::kube::kept::Refreshed;
use crate::state::kept::KeptError;
use crate::state::record::ArgoCdRecord;
use crate::ui::Ui;

use super::{Env, OpsError, Result};

/// What the use cases ask of a lab's Kubernetes API.
pub(crate) trait Kube: Send + Sync {
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
    /// The API of a lab whose cluster half is done: what the GitOps half of `up` runs against.
    type Api: LabApi;
    /// A client for the API this kubeconfig (k3s's, pointed at the host port) names.
    fn open(&self, kubeconfig: &str) -> impl Future<Output = Result<Self::Api>>;
}

/// What the GitOps half of `up` asks of a lab's API: the seam the scenarios fail on demand
/// ([`KubeApi`] is the real one, forwarding to [`crate::argocd`] and the cluster half).
pub(crate) trait LabApi {
    /// The running Argo CD release: the `argocd-server` image's tag, else `recorded`.
    fn argocd_version(
        &self,
        ns: &str,
        recorded: Option<String>,
    ) -> impl Future<Output = Option<String>>;
    /// Register the lab's `argocd.clusters` in its Argo CD ([`super::hub::register_spokes`]).
    fn register_spokes<E: Engine, K: Kube>(
        &self,
        env: &Env<'_, E, K>,
        lab: &Lab,
    ) -> impl Future<Output = ()>;
    /// Install Argo CD, seed the root, wait for the apps ([`bootstrap::bootstrap`]).
    fn bootstrap(
        &self,
        prepared: &Prepared,
        ui: &Ui,
        deadline: Instant,
        installed: &dyn Fn(ArgoCdRecord),
    ) -> impl Future<Output = std::result::Result<Vec<AppState>, BootstrapError>>;
    /// The nodes `up` left booting ([`up::wait_every_node`]).
    fn wait_every_node(
        &self,
        lab: &Lab,
        url: &str,
        starting: Starting,
        deadline: Instant,
        ui: &Ui,
    ) -> impl Future<Output = std::result::Result<Vec<NodeReady>, ClusterError>>;
    /// Ask Argo CD to refresh the root Application.
    fn refresh(&self, ns: &str) -> impl Future<Output = std::result::Result<String, RefreshError>>;
}

impl LabApi for KubeApi {
    async fn argocd_version(&self, ns: &str, recorded: Option<String>) -> Option<String> {
        match upgrade::observe(self, ns).await {
            Ok(observed) => observed.version(recorded.as_deref()),
            Err(e) => {
                tracing::debug!("cannot read the argocd-server Deployment: {e}; using the record");
                recorded
            }
        }
    }
    async fn register_spokes<E: Engine, K: Kube>(&self, env: &Env<'_, E, K>, lab: &Lab) {
        super::hub::register_spokes(env, lab, self).await
    }
    async fn bootstrap(
        &self,
        prepared: &Prepared,
        ui: &Ui,
        deadline: Instant,
        installed: &dyn Fn(ArgoCdRecord),
    ) -> std::result::Result<Vec<AppState>, BootstrapError> {
        bootstrap::bootstrap(self, prepared, ui, deadline, installed).await
    }
    async fn wait_every_node(
        &self,
        lab: &Lab,
        url: &str,
        starting: Starting,
        deadline: Instant,
        ui: &Ui,
    ) -> std::result::Result<Vec<NodeReady>, ClusterError> {
        up::wait_every_node(self, lab, url, starting, deadline, ui).await
    }
    async fn refresh(&self, ns: &str) -> std::result::Result<String, RefreshError> {
        refresh::refresh(self, ns, None, false).await
    }
}

/// The real Kubernetes side.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct LabKube;

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
    type Api = KubeApi;
    async fn open(&self, kubeconfig: &str) -> Result<KubeApi> {
        Ok(KubeApi::from_kubeconfig_yaml(kubeconfig).await?)
    }
}

/// The kubeconfig k3s wrote in server-0, pointed at the lab's published API.
pub(crate) async fn lab_kubeconfig<E: Engine>(engine: &E, lab: &LabSummary) -> Result<String> {
    let api = lab
        .api
        .as_deref()
        .ok_or_else(|| OpsError::NoApiAddress(lab.name.to_string()))?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    Ok(node_kubeconfig::fetch_kubeconfig(engine, &lab.name, api, deadline).await?)
}

/// A client for a lab's API, with the credentials k3s wrote in server-0.
pub(crate) async fn lab_api<E: Engine>(engine: &E, lab: &LabSummary) -> Result<KubeApi> {
    Ok(KubeApi::from_kubeconfig_yaml(&lab_kubeconfig(engine, lab).await?).await?)
}

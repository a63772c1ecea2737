//! What `status` shows of a running lab beyond Docker's labels: the Argo CD release that runs,
//! the Applications as a tree with who changed what in Git, and a hub's clusters.

use std::path::Path;

use crate::argocd::hub::HubCluster;
use crate::argocd::status::{AppTree, ArgoCdVersion};
use crate::cluster::inventory::LabSummary;
use crate::docker::Engine;
use crate::kube::api::KubeApi;
use crate::repo::git;

use super::{Env, Kube};

/// A running lab as its API shows it; each part is `None` when it could not be read.
#[derive(Debug, Default)]
pub(crate) struct LabView {
    /// The Argo CD release (the `argocd-server` image's tag, else the record's).
    pub(crate) argocd: Option<ArgoCdVersion>,
    /// The app tree, each app's destination named by the hub's cluster Secrets.
    pub(crate) apps: Option<AppTree>,
    /// For a hub (`argocd.clusters`): its clusters and their connection.
    pub(crate) clusters: Option<Vec<HubCluster>>,
}

/// Look at a running lab through its API. Never fails: what cannot be read is left out, and
/// the release falls back to the record's.
pub(crate) async fn view<E: Engine, K: Kube>(env: &Env<'_, E, K>, lab: &LabSummary) -> LabView {
    let recorded = crate::state::record::read(&lab.name)
        .ok()
        .flatten()
        .filter(|r| r.times.dropped.is_none())
        .and_then(|r| r.argocd)
        .map(|a| a.version);
    let Ok(api) = env.lab_api(lab).await else {
        return LabView {
            argocd: ArgoCdVersion::from_observed(None, recorded.as_deref()),
            ..LabView::default()
        };
    };
    let namespace = lab.argocd_namespace();
    let observed = crate::argocd::upgrade::observe(&api, &namespace).await.ok();
    let mut apps = app_tree(&api, lab).await;
    if let Some(tree) = apps.as_mut()
        && let Ok(servers) = crate::argocd::hub::cluster_servers(&api, &namespace).await
    {
        tree.name_destinations(&servers);
    }
    LabView {
        argocd: ArgoCdVersion::from_observed(observed.as_ref(), recorded.as_deref()),
        apps,
        clusters: super::hub::hub_clusters(env, lab, &api).await,
    }
}

/// The lab's Applications as a tree, with the last commit per app path for a local repo.
/// `None` when Argo CD is not there (a `--cluster-only` lab) or the API does not answer.
async fn app_tree(api: &KubeApi, lab: &LabSummary) -> Option<AppTree> {
    let namespace = lab.argocd_namespace();
    let apps = crate::argocd::apps::list_apps(api, &namespace).await.ok()?;
    let repo = lab
        .repo
        .as_deref()
        .and_then(|r| git::open(Path::new(r)).ok());
    let lookup = |path: &str| {
        repo.as_ref()
            .and_then(|r| git::last_commit_touching(r, path).ok().flatten())
    };
    Some(crate::argocd::status::build_tree(
        &namespace,
        apps,
        crate::argocd::seed::ROOT_APP,
        &lookup,
    ))
}

//! Installing Argo CD into a running lab.
//!
//! [`install`]:
//! 1. server-side applies the Namespace (labelled as ours), so the namespaced objects have a
//!    home even though install.yaml carries no Namespace;
//! 2. splits and prepares the manifest for that namespace and the lab ([`Manifest::documents`]:
//!    the repo-server's mount of a local repository is in it, so nothing is patched later) and
//!    applies it with [`crate::kube::apply`] (CRDs Established first, then ConfigMaps and the
//!    like, then the workloads that read them), showing "applied 37/59";
//! 3. waits for the manifest's Deployments and StatefulSets with
//!    [`workloads::wait_available`].
//!
//! Everything is server-side apply with force, so running it again on an installed lab is a
//! no-op for the API server and a repair for anything edited by hand.

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, Patch, PatchParams};
use tokio::time::Instant;

use super::manifest::{Manifest, ManifestError, Prepare};
use super::workloads::{self, Workload, WorkloadsError};
use crate::kube::api::KubeApi;
use crate::kube::apply::{self, ApplyError, ApplyOptions, ApplyReport, FIELD_MANAGER};
use crate::ui::Ui;

/// What [`install`] did.
#[derive(Debug, Clone)]
pub struct InstallReport {
    pub apply: ApplyReport,
    /// The workloads that became available.
    pub workloads: Vec<Workload>,
}

/// Why Argo CD could not be installed.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error("creating namespace {namespace} for Argo CD failed: {source}")]
    Namespace {
        namespace: String,
        #[source]
        source: kube::Error,
    },
    #[error("Argo CD {version} from {origin}: {source}")]
    Apply {
        version: String,
        origin: String,
        #[source]
        source: ApplyError,
    },
    #[error("applying Argo CD {version} did not finish within {secs}s")]
    ApplyTimeout { version: String, secs: u64 },
    #[error("Argo CD {version}: {source}")]
    Manifest {
        version: String,
        #[source]
        source: ManifestError,
    },
    #[error(transparent)]
    Workloads(#[from] WorkloadsError),
}

impl crate::diag::Hinted for InstallError {
    fn hint(&self) -> Option<String> {
        match self {
            Self::Namespace { .. } => {
                Some("is the cluster up (`kubectl get --raw /readyz`)?".to_string())
            }
            Self::Apply { source, .. } => source.hint(),
            Self::ApplyTimeout { .. } => Some(
                "the API server is slow or overloaded; `up` again continues where this stopped"
                    .to_string(),
            ),
            Self::Manifest { source, .. } => source.hint(),
            Self::Workloads(e) => e.hint(),
        }
    }
}

impl crate::diag::Classified for InstallError {
    fn kind(&self) -> crate::diag::Kind {
        match self {
            Self::ApplyTimeout { .. } => crate::diag::Kind::Timeout,
            // Argo CD's workloads not available in time: the timeout it is on its own.
            Self::Workloads(e) => e.kind(),
            _ => crate::diag::Kind::Failed,
        }
    }
}

/// Install `manifest`, [prepared](super::manifest::prepare) with `opts`, into `namespace` and
/// wait until its workloads are available, all by `deadline`. See the module docs.
pub async fn install(
    api: &KubeApi,
    manifest: &Manifest,
    opts: &Prepare,
    namespace: &str,
    ui: &Ui,
    deadline: Instant,
) -> Result<InstallReport, InstallError> {
    let (report, workloads) = apply_manifest(api, manifest, opts, namespace, ui, deadline).await?;
    workloads::wait_available(api, &workloads, ui, deadline).await?;
    Ok(InstallReport {
        apply: report,
        workloads,
    })
}

/// What [`apply()`] did: what it wrote, and the workloads to await.
#[derive(Debug, Clone)]
pub(crate) struct Applied {
    pub(crate) report: ApplyReport,
    pub(crate) workloads: Vec<Workload>,
}

/// [`install`] without its last wait: the manifest applied (CRDs Established first), and the
/// workloads it holds returned for the caller to await ([`workloads::wait_available`]) while
/// it does other things.
pub(crate) async fn apply(
    api: &KubeApi,
    manifest: &Manifest,
    opts: &Prepare,
    namespace: &str,
    ui: &Ui,
    deadline: Instant,
) -> Result<Applied, InstallError> {
    let (report, workloads) = apply_manifest(api, manifest, opts, namespace, ui, deadline).await?;
    Ok(Applied { report, workloads })
}

async fn apply_manifest(
    api: &KubeApi,
    manifest: &Manifest,
    opts: &Prepare,
    namespace: &str,
    ui: &Ui,
    deadline: Instant,
) -> Result<(apply::ApplyReport, Vec<workloads::Workload>), InstallError> {
    let started = Instant::now();
    let apply_err = |source| InstallError::Apply {
        version: manifest.version.clone(),
        origin: manifest.origin(),
        source,
    };
    let objects = manifest
        .documents(namespace, opts)
        .map_err(|source| InstallError::Manifest {
            version: manifest.version.clone(),
            source,
        })?;

    let step = ui.step(format!("apply Argo CD {}", manifest.version));
    ensure_namespace(api, namespace)
        .await
        .map_err(|source| InstallError::Namespace {
            namespace: namespace.to_string(),
            source,
        })?;
    let opts = ApplyOptions::new(namespace);
    let progress = |p: &apply::Progress| step.set_detail(&p.to_string());
    let applied = tokio::time::timeout_at(
        deadline,
        apply::apply(api.client(), &objects, &opts, &progress),
    )
    .await;
    let report = match applied {
        Ok(Ok(report)) => {
            step.done_with(&report.to_string());
            report
        }
        Ok(Err(e)) => {
            step.fail();
            return Err(apply_err(e));
        }
        Err(_) => {
            step.fail();
            return Err(InstallError::ApplyTimeout {
                version: manifest.version.clone(),
                secs: deadline.saturating_duration_since(started).as_secs(),
            });
        }
    };

    let workloads = workloads::from_objects(&objects, namespace);
    Ok((report, workloads))
}

/// Server-side apply the namespace (idempotent; labelled so `status` can tell it is ours).
pub async fn ensure_namespace(api: &KubeApi, namespace: &str) -> Result<(), kube::Error> {
    let namespaces: Api<Namespace> = Api::all(api.client().clone());
    let ns = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": namespace, "labels": {"app.kubernetes.io/managed-by": "playground"}},
    });
    namespaces
        .patch(
            namespace,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&ns),
        )
        .await?;
    Ok(())
}

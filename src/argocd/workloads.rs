//! Waiting for Argo CD's Deployments and StatefulSets to be available.
//!
//! The workloads are read off the applied manifest ([`from_objects`]: every Deployment and
//! StatefulSet in it), not hard-coded, so a custom `argocd.manifest` is waited for too. For
//! install.yaml these are the Deployments `argocd-applicationset-controller`,
//! `argocd-dex-server`, `argocd-notifications-controller`, `argocd-redis`,
//! `argocd-repo-server`, `argocd-server` and the StatefulSet `argocd-application-controller`.
//!
//! [`wait_available`] lists each kind per namespace (two requests a round for Argo CD), then
//! watches both from the lists' versions and lists again at the first change, so a workload
//! is seen available the moment its status says so (polling added up to a second to every
//! `up`). It shows one progress line per workload, and marks each done as it becomes
//! available:
//! - Deployment: `Available=True`, `availableReplicas >= replicas`,
//!   `observedGeneration >= generation` (the status is about the spec we applied), and the
//!   rollout done: `updatedReplicas >= replicas` and no old pods left (`status.replicas <=
//!   updatedReplicas`). During a rollout the old ReplicaSet's pods still count in
//!   `availableReplicas`, keep `Available=True` and still serve, and the controller bumps
//!   `observedGeneration` as soon as it sees the new spec; only `updatedReplicas` says the
//!   pods run the new template (kubectl's `rollout status` checks the same fields,
//!   `kubernetes/kubectl` `pkg/polymorphichelpers/rollout_status.go`);
//! - StatefulSet: `readyReplicas >= replicas` and `observedGeneration >= generation`.
//!
//! Everything short of that is transient until the deadline: on a fresh install pods sit in
//! `CreateContainerConfigError` until `argocd-redis`'s init container has created the
//! `argocd-redis` Secret, images are still being pulled, the API may hiccup. Only the deadline
//! fails, with every workload that is not available, its conditions' messages, and why its
//! pods are waiting.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DynamicObject, ListParams};
use tokio::time::Instant;

use crate::kube::api::KubeApi;
use crate::ui::{Step, Ui};

/// The kinds of workload we wait for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum WorkloadKind {
    Deployment,
    StatefulSet,
}

impl fmt::Display for WorkloadKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WorkloadKind::Deployment => "Deployment",
            WorkloadKind::StatefulSet => "StatefulSet",
        })
    }
}

/// One workload to wait for.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Workload {
    pub kind: WorkloadKind,
    pub namespace: String,
    pub name: String,
}

impl fmt::Display for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}/{}", self.kind, self.namespace, self.name)
    }
}

/// Every Deployment and StatefulSet among `objects` (`apps/v1`), in namespace
/// `default_namespace` unless they name one.
pub fn from_objects(objects: &[DynamicObject], default_namespace: &str) -> Vec<Workload> {
    let mut out: Vec<Workload> = objects
        .iter()
        .filter_map(|o| {
            let types = o.types.as_ref()?;
            if types.api_version != "apps/v1" {
                return None;
            }
            let kind = match types.kind.as_str() {
                "Deployment" => WorkloadKind::Deployment,
                "StatefulSet" => WorkloadKind::StatefulSet,
                _ => return None,
            };
            // Scaled to 0 (dex and notifications in a lean Argo CD): nothing to wait for,
            // and a progress line for it would say it was awaited.
            if o.data["spec"]["replicas"].as_i64() == Some(0) {
                return None;
            }
            Some(Workload {
                kind,
                namespace: o
                    .metadata
                    .namespace
                    .clone()
                    .filter(|n| !n.is_empty())
                    .unwrap_or_else(|| default_namespace.to_string()),
                name: o.metadata.name.clone()?,
            })
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Where a workload stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkloadState {
    pub(crate) workload: Workload,
    pub available: bool,
    /// Short, for the progress line: `0/1 available`, `not created yet`.
    pub(crate) summary: String,
    /// Conditions that are not True (or all, for a Deployment that is not Available), and
    /// why its pods wait, as `Type: message`.
    pub(crate) messages: Vec<String>,
}

impl fmt::Display for WorkloadState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.workload, self.summary)?;
        for m in &self.messages {
            write!(f, "\n      {m}")?;
        }
        Ok(())
    }
}

/// Why Argo CD's workloads were not waited for.
#[derive(Debug, thiserror::Error)]
pub enum WorkloadsError {
    #[error(
        "{} of {total} Argo CD workloads not available after {secs}s:\n{}",
        pending.len(),
        pending.iter().map(|s| format!("  - {s}")).collect::<Vec<_>>().join("\n")
    )]
    NotAvailable {
        secs: u64,
        total: usize,
        namespace: String,
        pending: Vec<WorkloadState>,
    },
}

impl crate::diag::Hinted for WorkloadsError {
    fn hint(&self) -> Option<String> {
        match self {
            Self::NotAvailable { namespace, .. } => Some(format!(
                "`kubectl -n {namespace} get pods` and `kubectl -n {namespace} describe pod <name>` show why; on a slow network the images may still be pulling, so `up` again waits longer"
            )),
        }
    }
}

impl crate::diag::Classified for WorkloadsError {
    fn kind(&self) -> crate::diag::Kind {
        match self {
            Self::NotAvailable { .. } => crate::diag::Kind::Timeout,
        }
    }
}

fn condition_messages<'a>(
    conditions: impl Iterator<Item = (&'a str, &'a str, Option<&'a str>, Option<&'a str>)>,
) -> Vec<String> {
    conditions
        .filter(|(_, status, _, _)| *status != "True")
        .map(|(type_, status, reason, message)| {
            let detail = message.or(reason).unwrap_or("");
            format!("{type_}={status}: {detail}")
                .trim_end_matches([' ', ':'])
                .to_string()
        })
        .collect()
}

/// Judge a Deployment (see the module docs).
pub fn deployment_state(workload: &Workload, d: &Deployment) -> WorkloadState {
    let want = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let generation = d.metadata.generation.unwrap_or(0);
    let status = d.status.clone().unwrap_or_default();
    let have = status.available_replicas.unwrap_or(0);
    let updated = status.updated_replicas.unwrap_or(0);
    let old_pods = status.replicas.unwrap_or(0) - updated;
    let observed = status.observed_generation.unwrap_or(0) >= generation;
    let conditions = status.conditions.unwrap_or_default();
    let available_cond = conditions
        .iter()
        .any(|c| c.type_ == "Available" && c.status == "True");
    let rolled_out = updated >= want && old_pods <= 0;
    let available = available_cond && have >= want && rolled_out && observed;
    let mut messages = condition_messages(conditions.iter().map(|c| {
        (
            c.type_.as_str(),
            c.status.as_str(),
            c.reason.as_deref(),
            c.message.as_deref(),
        )
    }));
    if !observed {
        messages.push(format!(
            "the controller has not seen generation {generation} yet"
        ));
    } else if updated < want {
        messages.push(format!(
            "rollout in progress: {updated}/{want} pods run the current template"
        ));
    } else if old_pods > 0 {
        messages.push(format!(
            "rollout in progress: {old_pods} old pod(s) pending termination"
        ));
    }
    WorkloadState {
        workload: workload.clone(),
        available,
        summary: format!("{have}/{want} available"),
        messages,
    }
}

/// Judge a StatefulSet (see the module docs).
pub(crate) fn statefulset_state(workload: &Workload, s: &StatefulSet) -> WorkloadState {
    let want = s.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let generation = s.metadata.generation.unwrap_or(0);
    let status = s.status.clone().unwrap_or_default();
    let ready = status.ready_replicas.unwrap_or(0);
    let observed = status.observed_generation.unwrap_or(0) >= generation;
    let mut messages = condition_messages(status.conditions.iter().flatten().map(|c| {
        (
            c.type_.as_str(),
            c.status.as_str(),
            c.reason.as_deref(),
            c.message.as_deref(),
        )
    }));
    if !observed {
        messages.push(format!(
            "the controller has not seen generation {generation} yet"
        ));
    }
    WorkloadState {
        workload: workload.clone(),
        available: ready >= want && observed,
        summary: format!("{ready}/{want} ready"),
        messages,
    }
}

fn not_created(workload: &Workload, last_error: Option<&str>) -> WorkloadState {
    WorkloadState {
        workload: workload.clone(),
        available: false,
        summary: "not created yet".into(),
        messages: last_error.map(|e| vec![e.to_string()]).unwrap_or_default(),
    }
}

/// One round: the state of every workload, with two lists per namespace.
/// What a round of [`observe`] saw, and the resource versions to watch from for the next.
struct Observed {
    states: Vec<WorkloadState>,
    /// `(namespace, Deployment list version, StatefulSet list version)`; empty when a list
    /// failed (the next round then comes after a pause instead of a change).
    versions: Vec<(String, String, String)>,
}

async fn observe(api: &KubeApi, workloads: &[Workload]) -> Observed {
    let namespaces: BTreeSet<&str> = workloads.iter().map(|w| w.namespace.as_str()).collect();
    let mut versions = Vec::new();
    let mut complete = true;
    let mut deployments: BTreeMap<(String, String), Deployment> = BTreeMap::new();
    let mut statefulsets: BTreeMap<(String, String), StatefulSet> = BTreeMap::new();
    let mut errors: BTreeMap<&str, String> = BTreeMap::new();
    for ns in namespaces {
        let lp = ListParams::default();
        let dapi = Api::<Deployment>::namespaced(api.client().clone(), ns);
        let sapi = Api::<StatefulSet>::namespaced(api.client().clone(), ns);
        let (d, s) = tokio::join!(dapi.list(&lp), sapi.list(&lp));
        match (&d, &s) {
            (Ok(d), Ok(s)) => versions.push((
                ns.to_string(),
                d.metadata.resource_version.clone().unwrap_or_default(),
                s.metadata.resource_version.clone().unwrap_or_default(),
            )),
            _ => complete = false,
        }
        match d {
            Ok(list) => deployments.extend(list.items.into_iter().map(|d| {
                (
                    (ns.to_string(), d.metadata.name.clone().unwrap_or_default()),
                    d,
                )
            })),
            Err(e) => {
                errors.insert(ns, format!("listing Deployments: {e}"));
            }
        }
        match s {
            Ok(list) => statefulsets.extend(list.items.into_iter().map(|s| {
                (
                    (ns.to_string(), s.metadata.name.clone().unwrap_or_default()),
                    s,
                )
            })),
            Err(e) => {
                errors.insert(ns, format!("listing StatefulSets: {e}"));
            }
        }
    }
    if !complete {
        versions.clear();
    }
    let states = workloads
        .iter()
        .map(|w| {
            let key = (w.namespace.clone(), w.name.clone());
            let error = errors.get(w.namespace.as_str()).map(String::as_str);
            match w.kind {
                WorkloadKind::Deployment => deployments
                    .get(&key)
                    .map(|d| deployment_state(w, d))
                    .unwrap_or_else(|| not_created(w, error)),
                WorkloadKind::StatefulSet => statefulsets
                    .get(&key)
                    .map(|s| statefulset_state(w, s))
                    .unwrap_or_else(|| not_created(w, error)),
            }
        })
        .collect();
    Observed { states, versions }
}

/// The first event of a watch from `rv` (or nothing, if the watch cannot start).
async fn first_event<K>(api: Api<K>, wp: kube::api::WatchParams, rv: String)
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + 'static,
{
    use futures::StreamExt;
    if let Ok(stream) = api.watch(&wp, &rv).await {
        std::pin::pin!(stream).next().await;
    }
}

/// Until a Deployment or StatefulSet of those [`observe`] listed changes (an event on a watch
/// from its list's version), or `limit` passes: the next round lists again. Any watch error
/// just ends the wait early, as a poll would.
async fn changed(api: &KubeApi, versions: &[(String, String, String)], limit: Instant) {
    use futures::FutureExt;
    use kube::api::WatchParams;
    let secs = limit.saturating_duration_since(Instant::now()).as_secs();
    let wp = WatchParams::default().timeout(secs.clamp(1, 290) as u32);
    let mut watches = Vec::new();
    for (ns, drv, srv) in versions {
        let dapi = Api::<Deployment>::namespaced(api.client().clone(), ns);
        let sapi = Api::<StatefulSet>::namespaced(api.client().clone(), ns);
        watches.push(first_event(dapi, wp.clone(), drv.clone()).boxed());
        watches.push(first_event(sapi, wp.clone(), srv.clone()).boxed());
    }
    if watches.is_empty() {
        tokio::time::sleep_until(limit).await;
        return;
    }
    let _ = tokio::time::timeout_at(limit, futures::future::select_all(watches)).await;
}

/// Why the pods of `state`'s workload wait (`CreateContainerConfigError: secret "argocd-redis"
/// not found`), for the timeout message. Pods are matched by name prefix, which is how
/// Deployments and StatefulSets name them.
async fn pod_reasons(api: &KubeApi, namespace: &str, pending: &mut [WorkloadState]) {
    let pods: Api<Pod> = Api::namespaced(api.client().clone(), namespace);
    let Ok(list) = pods.list(&ListParams::default()).await else {
        return;
    };
    for state in pending.iter_mut() {
        let prefix = format!("{}-", state.workload.name);
        for pod in &list.items {
            let name = pod.metadata.name.as_deref().unwrap_or("");
            if !name.starts_with(&prefix) {
                continue;
            }
            let statuses = pod.status.as_ref().into_iter().flat_map(|s| {
                s.init_container_statuses
                    .iter()
                    .flatten()
                    .chain(s.container_statuses.iter().flatten())
            });
            for cs in statuses {
                if let Some(waiting) = cs.state.as_ref().and_then(|s| s.waiting.as_ref()) {
                    state.messages.push(
                        format!(
                            "pod {name}: container {} waiting: {} {}",
                            cs.name,
                            waiting.reason.as_deref().unwrap_or(""),
                            waiting.message.as_deref().unwrap_or("")
                        )
                        .trim_end()
                        .to_string(),
                    );
                }
            }
        }
    }
}

/// Wait until every workload is available, or fail at `deadline` naming those that are not.
/// Shows one progress line per workload under `ui`.
pub async fn wait_available(
    api: &KubeApi,
    workloads: &[Workload],
    ui: &Ui,
    deadline: Instant,
) -> Result<(), WorkloadsError> {
    let started = Instant::now();
    let mut steps: BTreeMap<Workload, Step> = workloads
        .iter()
        .map(|w| (w.clone(), ui.step(format!("{} {}", w.kind, w.name))))
        .collect();
    loop {
        let Observed { states, versions } = observe(api, workloads).await;
        for state in &states {
            if state.available {
                if let Some(step) = steps.remove(&state.workload) {
                    step.done();
                }
            } else if let Some(step) = steps.get(&state.workload) {
                let detail = match state.messages.first() {
                    Some(m) => format!("{} ({m})", state.summary),
                    None => state.summary.clone(),
                };
                step.set_detail(&detail);
            }
        }
        if steps.is_empty() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            let mut pending: Vec<WorkloadState> =
                states.into_iter().filter(|s| !s.available).collect();
            let namespaces: BTreeSet<String> = pending
                .iter()
                .map(|s| s.workload.namespace.clone())
                .collect();
            for ns in &namespaces {
                pod_reasons(api, ns, &mut pending).await;
            }
            for (_, step) in std::mem::take(&mut steps) {
                step.fail();
            }
            return Err(WorkloadsError::NotAvailable {
                secs: deadline.saturating_duration_since(started).as_secs(),
                total: workloads.len(),
                namespace: namespaces.into_iter().next().unwrap_or_default(),
                pending,
            });
        }
        // A round at least every few seconds even without events (a watch the server ends
        // early, a list that failed), and never past the deadline.
        let limit = (Instant::now() + Duration::from_secs(5)).min(deadline);
        changed(api, &versions, limit).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kube::apply::parse_documents;

    #[test]
    fn workloads_come_from_the_manifest() {
        let text = include_str!("../../tests/fixtures/argocd-install-v3.5.1.yaml");
        let objects = parse_documents(text, "install.yaml").unwrap();
        let names: Vec<String> = from_objects(&objects, "argocd")
            .iter()
            .map(|w| w.to_string())
            .collect();
        assert_eq!(
            names,
            [
                "Deployment argocd/argocd-applicationset-controller",
                "Deployment argocd/argocd-dex-server",
                "Deployment argocd/argocd-notifications-controller",
                "Deployment argocd/argocd-redis",
                "Deployment argocd/argocd-repo-server",
                "Deployment argocd/argocd-server",
                "StatefulSet argocd/argocd-application-controller",
            ]
        );
    }

    #[test]
    fn workloads_scaled_to_zero_are_not_awaited() {
        let text = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: dex}\nspec: {replicas: 0}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: server}\nspec: {replicas: 1}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: repo}\nspec: {}\n";
        let objects = parse_documents(text, "lean.yaml").unwrap();
        let names: Vec<String> = from_objects(&objects, "argocd")
            .iter()
            .map(|w| w.to_string())
            .collect();
        assert_eq!(
            names,
            ["Deployment argocd/repo", "Deployment argocd/server"]
        );
    }

    fn deployment(json: serde_json::Value) -> Deployment {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn deployment_needs_condition_replicas_and_generation() {
        let w = Workload {
            kind: WorkloadKind::Deployment,
            namespace: "argocd".into(),
            name: "argocd-server".into(),
        };
        let ready = serde_json::json!({
            "metadata": {"name": "argocd-server", "generation": 2},
            "spec": {"replicas": 1, "selector": {}, "template": {}},
            "status": {"observedGeneration": 2, "availableReplicas": 1, "updatedReplicas": 1,
                "replicas": 1, "conditions": [{"type": "Available", "status": "True"}]}
        });
        assert!(deployment_state(&w, &deployment(ready.clone())).available);

        // Mid-rollout: the controller has seen the new spec, the old pod is still available
        // (and counted), the new one is not up yet.
        let mut rolling = ready.clone();
        rolling["status"]["updatedReplicas"] = 0.into();
        rolling["status"]["replicas"] = 2.into();
        let state = deployment_state(&w, &deployment(rolling));
        assert!(!state.available, "{state}");
        assert_eq!(
            state.messages,
            ["rollout in progress: 0/1 pods run the current template"]
        );
        let mut old_left = ready.clone();
        old_left["status"]["replicas"] = 2.into();
        let state = deployment_state(&w, &deployment(old_left));
        assert!(!state.available, "{state}");
        assert_eq!(
            state.messages,
            ["rollout in progress: 1 old pod(s) pending termination"]
        );

        let mut stale = ready.clone();
        stale["status"]["observedGeneration"] = 1.into();
        let state = deployment_state(&w, &deployment(stale));
        assert!(!state.available);
        assert!(state.messages[0].contains("generation 2"), "{state}");

        let mut waiting = ready;
        waiting["status"]["availableReplicas"] = 0.into();
        waiting["status"]["conditions"] = serde_json::json!([{"type": "Available", "status": "False", "reason": "MinimumReplicasUnavailable", "message": "Deployment does not have minimum availability."}]);
        let state = deployment_state(&w, &deployment(waiting));
        assert!(!state.available);
        assert_eq!(state.summary, "0/1 available");
        assert_eq!(
            state.messages,
            ["Available=False: Deployment does not have minimum availability."]
        );
    }

    #[test]
    fn statefulset_needs_ready_replicas_and_generation() {
        let w = Workload {
            kind: WorkloadKind::StatefulSet,
            namespace: "argocd".into(),
            name: "argocd-application-controller".into(),
        };
        let s = |ready: i32, observed: i64| -> StatefulSet {
            serde_json::from_value(serde_json::json!({
                "metadata": {"name": "x", "generation": 1},
                "spec": {"replicas": 1, "selector": {}, "template": {}, "serviceName": "x"},
                "status": {"replicas": 1, "readyReplicas": ready, "observedGeneration": observed}
            }))
            .unwrap()
        };
        assert!(statefulset_state(&w, &s(1, 1)).available);
        assert!(!statefulset_state(&w, &s(0, 1)).available);
        assert!(!statefulset_state(&w, &s(1, 0)).available);
    }
}

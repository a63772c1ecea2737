//! Stand-ins for the controllers a real cluster runs, driven by the store's change stream.
//!
//! - Workloads: Deployments and StatefulSets report all replicas ready `delay` after they
//!   are created or their spec changes (a new `metadata.generation`), as the deployment
//!   controller and kubelets would once pods run. A spec change of a Deployment that was
//!   already available is a rollout: at once the controller reports the new generation as
//!   observed while the old pods still count as available (`Available=True`,
//!   `availableReplicas` = replicas, `updatedReplicas` = 0, old and new pods both in
//!   `replicas`), as `kubernetes` `pkg/controller/deployment/sync.go` `calculateStatus`
//!   does; only after `delay` are the new pods updated and the old ones gone.
//! - Argo CD's application controller lives in [`super::appcontroller`]; its outcome and
//!   delay are configured here ([`Simulation`]).
//!
//! Writes go through the same commit path as API requests (with their own field
//! managers), so clients watching see ordinary MODIFIED events.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;

use super::apply::Scope;
use super::discovery::resolve;
use super::meta::{generation_of, now_rfc3339};
use super::resource::commit;
use super::store::{ChangeKind, Store};

/// What Argo CD Applications converge to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppOutcome {
    Healthy,
    Progressing,
    Degraded,
    OutOfSync,
}

impl AppOutcome {
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "healthy" => Some(Self::Healthy),
            "progressing" => Some(Self::Progressing),
            "degraded" => Some(Self::Degraded),
            "outofsync" => Some(Self::OutOfSync),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Simulation {
    /// How long workloads take to become available (and Applications to sync, unless
    /// `app_delay` says otherwise).
    pub delay: Duration,
    /// How long an Application takes to sync once Argo CD's controller runs.
    pub app_delay: Duration,
    /// None: Applications are left alone.
    pub apps: Option<AppOutcome>,
    /// Where `file:///playground` is read from: the node's mount of the lab's repository
    /// (a test running the double in-process points it at its own repository).
    pub repo_root: std::path::PathBuf,
}

impl Default for Simulation {
    fn default() -> Self {
        Self {
            delay: Duration::from_millis(200),
            app_delay: Duration::from_millis(200),
            apps: None,
            repo_root: std::path::PathBuf::from("/playground"),
        }
    }
}

/// The revision an Application reports as synced to. Real Argo CD resolves a branch or
/// `HEAD` to a commit. The double does the same for the lab's own repository when the node
/// has it mounted (`file:///playground`, refs read straight from `.git`); otherwise a test
/// names the commit in `PLAYGROUND_DOUBLE_REVISION`, which also wins over the mount. A target
/// that already is a full commit id is reported as is.
pub fn resolved_revision(target: &str, repo_url: &str) -> String {
    let is_sha = target.len() == 40 && target.chars().all(|c| c.is_ascii_hexdigit());
    if is_sha {
        return target.to_string();
    }
    if let Ok(rev) = std::env::var("PLAYGROUND_DOUBLE_REVISION")
        && !rev.trim().is_empty()
    {
        return rev.trim().to_string();
    }
    repo_url
        .strip_prefix("file://")
        .and_then(|dir| resolve_ref(std::path::Path::new(dir), target))
        .unwrap_or_else(|| target.to_string())
}

/// `HEAD`, a branch or a tag of a local repository, from its loose or packed refs.
fn resolve_ref(repo: &std::path::Path, target: &str) -> Option<String> {
    let git = repo.join(".git");
    let git = if git.is_dir() {
        git
    } else {
        repo.to_path_buf()
    };
    let mut name = if target == "HEAD" {
        let head = std::fs::read_to_string(git.join("HEAD")).ok()?;
        match head.trim().strip_prefix("ref: ") {
            Some(r) => r.to_string(),
            None => return Some(head.trim().to_string()),
        }
    } else {
        format!("refs/heads/{target}")
    };
    for _ in 0..2 {
        if let Ok(id) = std::fs::read_to_string(git.join(&name)) {
            return Some(id.trim().to_string());
        }
        let packed = std::fs::read_to_string(git.join("packed-refs")).unwrap_or_default();
        if let Some(id) = packed
            .lines()
            .find_map(|l| l.strip_suffix(name.as_str())?.strip_suffix(' '))
        {
            return Some(id.to_string());
        }
        name = format!("refs/tags/{target}");
    }
    None
}

impl Simulation {
    /// `PLAYGROUND_DOUBLE_DELAY_MS` (default 200) and `PLAYGROUND_DOUBLE_APPS`
    /// (`healthy|progressing|degraded|outofsync`; unset or unknown: leave Applications alone).
    pub fn from_env() -> Self {
        let delay = std::env::var("PLAYGROUND_DOUBLE_DELAY_MS")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(200);
        let apps = std::env::var("PLAYGROUND_DOUBLE_APPS")
            .ok()
            .and_then(|s| AppOutcome::parse(&s));
        let app_delay = std::env::var("PLAYGROUND_DOUBLE_APP_DELAY_MS")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(delay);
        Self {
            delay: Duration::from_millis(delay),
            app_delay: Duration::from_millis(app_delay),
            apps,
            ..Self::default()
        }
    }
}

/// Rewrite an object's `.status` as `manager`; None when the object is gone or its
/// generation moved on (a newer spec will be handled by its own event).
#[allow(clippy::too_many_arguments)]
fn write_status(
    store: &Mutex<Store>,
    api_version: &str,
    plural: &str,
    ns: &str,
    name: &str,
    generation: i64,
    manager: &str,
    f: impl FnOnce(&Value, &mut Value),
) -> Option<Value> {
    let mut store = store.lock().unwrap();
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    let info = resolve(&store, group, version, plural)?;
    let live = store.get(&info.gr(), ns, name)?.clone();
    if generation_of(&live) != generation {
        return None;
    }
    let mut new = live.clone();
    let mut status = live.get("status").cloned().unwrap_or_else(|| json!({}));
    f(&live, &mut status);
    new["status"] = status;
    let scope = if info.has_status {
        Scope::Status
    } else {
        Scope::Main { has_status: false }
    };
    commit(
        &mut store,
        &info,
        Some(&live),
        new,
        scope,
        Some(manager),
        false,
    )
    .ok()
}

fn workload_ready(kind: &str, obj: &Value, status: &mut Value) {
    let n = obj["spec"]["replicas"].as_i64().unwrap_or(1);
    let name = obj["metadata"]["name"].as_str().unwrap_or("");
    let now = now_rfc3339();
    status["observedGeneration"] = json!(generation_of(obj));
    status["replicas"] = json!(n);
    status["readyReplicas"] = json!(n);
    status["availableReplicas"] = json!(n);
    status["updatedReplicas"] = json!(n);
    if let Some(m) = status.as_object_mut() {
        m.remove("unavailableReplicas");
    }
    if kind == "deployments" {
        status["conditions"] = json!([
            {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable", "message": "Deployment has minimum availability.", "lastUpdateTime": now, "lastTransitionTime": now},
            {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable", "message": format!("ReplicaSet \"{name}-7d4b9c8f5\" has successfully progressed."), "lastUpdateTime": now, "lastTransitionTime": now},
        ]);
    } else {
        status["currentReplicas"] = json!(n);
        status["currentRevision"] = json!(format!("{name}-5d8c7b9f6"));
        status["updateRevision"] = json!(format!("{name}-5d8c7b9f6"));
        status["collisionCount"] = json!(0);
    }
}

/// A Deployment's status the moment its controller has seen a new template: one new pod
/// (surge) not yet available, the old ones still serving.
fn rollout_started(obj: &Value, status: &mut Value) {
    let n = obj["spec"]["replicas"].as_i64().unwrap_or(1);
    let name = obj["metadata"]["name"].as_str().unwrap_or("");
    let now = now_rfc3339();
    status["observedGeneration"] = json!(generation_of(obj));
    status["replicas"] = json!(n + 1);
    status["updatedReplicas"] = json!(0);
    status["readyReplicas"] = json!(n);
    status["availableReplicas"] = json!(n);
    status["unavailableReplicas"] = json!(1);
    status["conditions"] = json!([
        {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable", "message": "Deployment has minimum availability.", "lastUpdateTime": now, "lastTransitionTime": now},
        {"type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated", "message": format!("ReplicaSet \"{name}-6c9f8d7b4\" is progressing."), "lastUpdateTime": now, "lastTransitionTime": now},
    ]);
}

/// Run the simulated controllers until aborted.
pub fn spawn(store: Arc<Mutex<Store>>, sim: Simulation) -> tokio::task::JoinHandle<()> {
    let mut rx = store.lock().unwrap().subscribe();
    tokio::spawn(async move {
        // The generation each object was last handled at, so our own status writes
        // (which do not bump it) are not handled again.
        let mut handled: HashMap<(String, String, String, String), i64> = HashMap::new();
        loop {
            let change = match rx.recv().await {
                Ok(c) => c,
                Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => return,
            };
            let key = (
                change.group.clone(),
                change.resource.clone(),
                change.namespace.clone(),
                change.name.clone(),
            );
            if change.kind == ChangeKind::Deleted {
                handled.remove(&key);
                continue;
            }
            let obj = &change.object;
            let generation = generation_of(obj);
            let workload = change.group == "apps"
                && (change.resource == "deployments" || change.resource == "statefulsets");
            if !workload || handled.get(&key) == Some(&generation) {
                continue;
            }
            handled.insert(key, generation);
            let api_version = obj["apiVersion"].as_str().unwrap_or("").to_string();
            let (ns, name, resource) = (
                change.namespace.clone(),
                change.name.clone(),
                change.resource.clone(),
            );
            if workload {
                if obj["status"]["observedGeneration"].as_i64() == Some(generation) {
                    continue;
                }
                let was_available = obj["status"]["availableReplicas"].as_i64().unwrap_or(0) > 0;
                if resource == "deployments" && was_available {
                    write_status(
                        &store,
                        &api_version,
                        &resource,
                        &ns,
                        &name,
                        generation,
                        "k3s",
                        rollout_started,
                    );
                }
                let (store, delay) = (store.clone(), sim.delay);
                tokio::spawn(async move {
                    tokio::time::sleep(delay).await;
                    write_status(
                        &store,
                        &api_version,
                        &resource,
                        &ns,
                        &name,
                        generation,
                        "k3s",
                        |o, s| workload_ready(&resource, o, s),
                    );
                });
            }
        }
    })
}

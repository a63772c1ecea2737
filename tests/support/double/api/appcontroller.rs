//! Argo CD's application controller and repo-server, doubled: what a lab's `up` relies on,
//! each rule read in `argoproj/argo-cd` (v3.5.1) and cited where it is enforced.
//!
//! - **When it looks.** An Application is reconciled when its spec changes, when it carries
//!   `argocd.argoproj.io/refresh` (which the controller removes once done), and on a poll
//!   every `timeout.reconciliation` of `argocd-cm` (the controller's StatefulSet maps that key
//!   to `ARGOCD_RECONCILIATION_TIMEOUT`, `manifests/base/application-controller/
//!   argocd-application-controller-statefulset.yaml`; default 120 s plus up to 60 s jitter,
//!   `cmd/argocd-application-controller/commands/argocd_application_controller.go`). Nothing
//!   is synced before the controller's StatefulSet has an available replica.
//! - **Its project first** (`controller/appcontroller.go` `refreshAppConditions`): a project
//!   that does not exist gives the condition `InvalidSpecError` "Application referencing
//!   project X which does not exist" (`projectErrorToCondition`); a `repoURL` the project's
//!   `sourceRepos` does not permit gives "application repo X is not permitted in project 'Y'"
//!   (`util/argo/argo.go` `ValidatePermissions`, globs as `IsSourcePermitted`). Either way
//!   sync and health are `Unknown` and nothing is compared. `default` exists always (Argo CD
//!   makes it at start) and permits everything.
//! - **What the source renders to** (repo-server). The lab's own repository is read through
//!   the node's mount (`file:///playground` → [`Simulation::repo_root`]), in its working tree
//!   (tests commit before they ask). The type is the one the source names, else detected as
//!   `util/app/discovery/discovery.go` does (written again in [`discover`], from Argo CD's source). A `Directory`
//!   source is rendered as `reposerver/repository/repository.go` does: `.yaml`, `.yml` and
//!   `.json` files of the folder (and its sub-folders with `recurse`), each document an
//!   object; a file that does not parse fails the whole source when its text holds
//!   `apiVersion:`, `kind:` and `metadata:` (`getObjsFromYAMLOrJSON`), else it is ignored, as
//!   a chart's `Chart.yaml` is. The failure is the condition `ComparisonError` "Failed to load
//!   target state: failed to generate manifest for source 1 of 1: rpc error: code =
//!   FailedPrecondition desc = Failed to unmarshal \"<file>\": failed to unmarshal manifest:
//!   …" with sync `Unknown` (`controller/state.go` `CompareAppState`); the text after
//!   "manifest:" is our YAML parser's, not Go's. The controller holds repo errors back for a
//!   grace period (`controller.repo.error.grace.period.seconds`, default 180 s) unless the
//!   refresh is `hard` (`controller/state.go`); so does the double. Helm and Kustomize
//!   sources, and other repositories, are not rendered: the double runs neither tool and
//!   reads no network, so such an app manages nothing it knows of.
//! - **Sync.** An app with `syncPolicy.automated` is synced: its objects are applied
//!   (tracked by the annotation `argocd.argoproj.io/tracking-id`, Argo CD 3's default) and
//!   listed in `status.resources`, and it reaches the configured outcome after the app delay.
//!   An app without it is only compared: `OutOfSync` and `Missing` while it has objects to
//!   apply (Argo CD never syncs it on its own; the seed's optional apps wait for a user).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;

use super::discovery::{ResourceInfo, all_resources, resolve};
use super::meta::{generation_of, now_rfc3339};
use super::resource::{WriteOpts, commit, server_side_apply};
use super::simulate::{AppOutcome, Simulation, resolved_revision};
use super::store::{ChangeKind, Store};

const MANAGER: &str = "argocd-application-controller";
const REFRESH: &str = "argocd.argoproj.io/refresh";
const TRACKING: &str = "argocd.argoproj.io/tracking-id";
/// The lab's repository as Argo CD's Applications name it.
const LOCAL_REPO: &str = "file:///playground";

type Key = (String, String);

/// What one reconcile found for an app, to skip polls that change nothing.
#[derive(Debug, Clone, PartialEq)]
struct Seen {
    generation: i64,
    revision: String,
}

struct Controller {
    store: Arc<Mutex<Store>>,
    sim: Simulation,
    seen: Mutex<HashMap<Key, Seen>>,
    /// First time a repo error was met per app: held back for the grace period.
    repo_errors: Mutex<HashMap<Key, Instant>>,
    /// Apps with a reconcile running, so events and polls do not pile up.
    busy: Mutex<std::collections::HashSet<Key>>,
}

/// Run the controller until aborted; Applications are left alone without an outcome.
pub fn spawn(store: Arc<Mutex<Store>>, sim: Simulation) -> tokio::task::JoinHandle<()> {
    let Some(_) = sim.apps else {
        return tokio::spawn(async {});
    };
    let mut rx = store.lock().unwrap().subscribe();
    let c = Arc::new(Controller {
        store,
        sim,
        seen: Mutex::new(HashMap::new()),
        repo_errors: Mutex::new(HashMap::new()),
        busy: Mutex::new(Default::default()),
    });
    let poller = c.clone();
    tokio::spawn(async move {
        let poll = tokio::spawn(async move {
            // The period is read anew at every tick: argocd-cm may come (or change) later.
            let mut last = Instant::now();
            loop {
                tokio::time::sleep(Duration::from_millis(250)).await;
                if last.elapsed() < poller.reconciliation() {
                    continue;
                }
                last = Instant::now();
                for key in poller.app_keys(None) {
                    poller.clone().enqueue(key, false);
                }
            }
        });
        loop {
            let change = match rx.recv().await {
                Ok(c) => c,
                Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => break,
            };
            if change.group != "argoproj.io" || change.kind == ChangeKind::Deleted {
                continue;
            }
            match change.resource.as_str() {
                "applications" => {
                    let key = (change.namespace.clone(), change.name.clone());
                    let refresh = change.object["metadata"]["annotations"][REFRESH].as_str();
                    let new_spec = c.seen.lock().unwrap().get(&key).map(|s| s.generation)
                        != Some(generation_of(&change.object));
                    if refresh.is_some() || new_spec {
                        c.clone().enqueue(key, refresh == Some("hard"));
                    }
                }
                // The controller requeues a project's apps when the project changes.
                "appprojects" => {
                    for key in c.app_keys(Some(&change.name)) {
                        c.clone().enqueue(key, false);
                    }
                }
                _ => {}
            }
        }
        poll.abort();
    })
}

impl Controller {
    /// `timeout.reconciliation` of `argocd-cm` in the Applications' namespace (120 s when
    /// unset, the default without jitter).
    fn reconciliation(&self) -> Duration {
        let store = self.store.lock().unwrap();
        let gr = (String::new(), "configmaps".to_string());
        store
            .list_ref(&gr)
            .find(|cm| cm["metadata"]["name"] == "argocd-cm")
            .and_then(|cm| {
                cm["data"]["timeout.reconciliation"]
                    .as_str()
                    .and_then(go_duration)
            })
            .filter(|d| !d.is_zero())
            .unwrap_or(Duration::from_secs(120))
    }

    /// `controller.repo.error.grace.period.seconds` of `argocd-cmd-params-cm` (180 s).
    fn grace(&self) -> Duration {
        let store = self.store.lock().unwrap();
        let gr = (String::new(), "configmaps".to_string());
        store
            .list_ref(&gr)
            .find(|cm| cm["metadata"]["name"] == "argocd-cmd-params-cm")
            .and_then(|cm| {
                cm["data"]["controller.repo.error.grace.period.seconds"]
                    .as_str()
                    .and_then(|s| s.trim().parse().ok())
            })
            .map(Duration::from_secs)
            .unwrap_or(Duration::from_secs(180))
    }

    fn app_keys(&self, project: Option<&str>) -> Vec<Key> {
        let store = self.store.lock().unwrap();
        let gr = ("argoproj.io".to_string(), "applications".to_string());
        store
            .list_ref(&gr)
            .filter(|a| project.is_none_or(|p| a["spec"]["project"] == p))
            .map(|a| {
                (
                    a["metadata"]["namespace"]
                        .as_str()
                        .unwrap_or("")
                        .to_string(),
                    a["metadata"]["name"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect()
    }

    fn enqueue(self: Arc<Self>, key: Key, hard: bool) {
        if !self.busy.lock().unwrap().insert(key.clone()) {
            // One running reconcile reads the newest object when it starts its work; a
            // refresh that lands meanwhile is kept on the object and seen at the next event.
            return;
        }
        tokio::spawn(async move {
            while !controller_runs(&self.store) {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            self.reconcile(&key, hard).await;
            self.busy.lock().unwrap().remove(&key);
        });
    }

    fn app(&self, key: &Key) -> Option<Value> {
        let store = self.store.lock().unwrap();
        let gr = ("argoproj.io".to_string(), "applications".to_string());
        store.get(&gr, &key.0, &key.1).cloned()
    }

    async fn reconcile(&self, key: &Key, hard: bool) {
        let Some(app) = self.app(key) else { return };
        let generation = generation_of(&app);
        let refresh = app["metadata"]["annotations"][REFRESH].is_string();
        if refresh {
            self.write(key, |obj| {
                if let Some(a) = obj["metadata"]["annotations"].as_object_mut() {
                    a.remove(REFRESH);
                }
            });
        }
        if let Some(message) = self.project_error(&app) {
            self.set_status(key, |s| {
                s["sync"] = json!({"status": "Unknown"});
                s["health"] = json!({"status": "Unknown"});
                s["conditions"] = json!([{"type": "InvalidSpecError", "message": message, "lastTransitionTime": now_rfc3339()}]);
                s["reconciledAt"] = json!(now_rfc3339());
            });
            self.seen.lock().unwrap().insert(
                key.clone(),
                Seen {
                    generation,
                    revision: String::new(),
                },
            );
            return;
        }
        let source = app_source(&app);
        let repo_url = source["repoURL"].as_str().unwrap_or_default().to_string();
        let target = source["targetRevision"].as_str().unwrap_or("HEAD");
        let revision = resolved_revision(target, &self.local_url(&repo_url));
        let now = Seen {
            generation,
            revision: revision.clone(),
        };
        let synced_before = app["status"]["sync"]["status"].is_string();
        if !refresh && self.seen.lock().unwrap().get(key) == Some(&now) && synced_before {
            return;
        }
        let rendered = match self.render(&app) {
            Ok(r) => {
                self.repo_errors.lock().unwrap().remove(key);
                r
            }
            Err(message) => {
                let first = *self
                    .repo_errors
                    .lock()
                    .unwrap()
                    .entry(key.clone())
                    .or_insert_with(Instant::now);
                if !hard && first.elapsed() <= self.grace() {
                    return;
                }
                self.set_status(key, |s| {
                    s["sync"] = json!({"status": "Unknown", "revision": revision});
                    s["conditions"] = json!([{"type": "ComparisonError", "message": format!("Failed to load target state: failed to generate manifest for source 1 of 1: rpc error: code = FailedPrecondition desc = {message}"), "lastTransitionTime": now_rfc3339()}]);
                    s["reconciledAt"] = json!(now_rfc3339());
                });
                self.seen.lock().unwrap().insert(key.clone(), now);
                return;
            }
        };
        self.seen.lock().unwrap().insert(key.clone(), now);
        let automated = app["spec"]["syncPolicy"]["automated"].is_object()
            && app["spec"]["syncPolicy"]["automated"]["enabled"] != json!(false);
        let outcome = self.sim.apps.unwrap_or(AppOutcome::Healthy);
        if !automated {
            // Compared, never synced: OutOfSync and Missing while there is something to apply
            // (a source the double cannot render is taken to have something).
            let nothing = rendered.as_ref().is_some_and(Vec::is_empty);
            let resources = listed(&app, rendered.as_deref().unwrap_or(&[]), "OutOfSync");
            self.set_status(key, |s| {
                if nothing {
                    base_status(&app, s, &revision, "Synced", "Healthy");
                } else {
                    base_status(&app, s, &revision, "OutOfSync", "Missing");
                }
                s["resources"] = json!(resources);
            });
            return;
        }
        self.set_status(key, |s| {
            base_status(&app, s, &revision, "OutOfSync", "Progressing")
        });
        tokio::time::sleep(self.sim.app_delay).await;
        // A newer spec is handled by its own event.
        if self
            .app(key)
            .is_none_or(|a| generation_of(&a) != generation)
        {
            return;
        }
        let applied = match &rendered {
            Some(objects) => self.apply(&app, objects),
            None => Vec::new(),
        };
        self.set_status(key, |s| {
            final_status(outcome, &app, s, &revision);
            if rendered.is_some() {
                s["resources"] = json!(applied);
            }
        });
    }

    /// `file:///playground` as the path the double reads it from.
    fn local_url(&self, repo_url: &str) -> String {
        match repo_url.strip_prefix(LOCAL_REPO) {
            Some(rest) if rest.is_empty() || rest.starts_with('/') => {
                format!("file://{}{rest}", self.sim.repo_root.display())
            }
            _ => repo_url.to_string(),
        }
    }

    fn project_error(&self, app: &Value) -> Option<String> {
        let name = app["spec"]["project"].as_str().unwrap_or_default();
        let ns = app["metadata"]["namespace"].as_str().unwrap_or_default();
        if name == "default" {
            return None;
        }
        let project = {
            let store = self.store.lock().unwrap();
            let gr = ("argoproj.io".to_string(), "appprojects".to_string());
            store.get(&gr, ns, name).cloned()
        };
        let Some(project) = project else {
            return Some(format!(
                "Application referencing project {name} which does not exist"
            ));
        };
        let repo = app_source(app)["repoURL"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let patterns: Vec<&str> = project["spec"]["sourceRepos"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        (!source_permitted(&patterns, &repo))
            .then(|| format!("application repo {repo} is not permitted in project '{name}'"))
    }

    /// The objects of the app's source; `None` when the double cannot render it.
    fn render(&self, app: &Value) -> Result<Option<Vec<Value>>, String> {
        let source = app_source(app);
        let repo_url = source["repoURL"].as_str().unwrap_or_default();
        if source["chart"].is_string() || !repo_url.starts_with(LOCAL_REPO) {
            return Ok(None);
        }
        let path = source["path"].as_str().unwrap_or(".");
        let dir = self.sim.repo_root.join(path.trim_start_matches('/'));
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return Ok(Some(Vec::new()));
        };
        let names: Vec<String> = entries
            .flatten()
            .filter(|e| e.path().is_file())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        let explicit = ["helm", "kustomize", "directory"]
            .into_iter()
            .find(|k| source[*k].is_object());
        let directory = match explicit {
            Some(k) => k == "directory",
            None => discover(&names) == "Directory",
        };
        if !directory {
            return Ok(None);
        }
        let recurse = source["directory"]["recurse"].as_bool().unwrap_or(false);
        render_directory(&dir, recurse).map(Some)
    }

    /// Apply `objects` for `app` (server-side, as the controller's sync does) and return
    /// them as `status.resources` lists them.
    fn apply(&self, app: &Value, objects: &[Value]) -> Vec<Value> {
        let app_name = app["metadata"]["name"].as_str().unwrap_or_default();
        let dest_ns = app["spec"]["destination"]["namespace"]
            .as_str()
            .unwrap_or("default")
            .to_string();
        let mut store = self.store.lock().unwrap();
        let kinds = all_resources(&store);
        let mut out = Vec::new();
        for obj in objects {
            let api_version = obj["apiVersion"].as_str().unwrap_or_default();
            let kind = obj["kind"].as_str().unwrap_or_default();
            let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
            let Some(info) = kinds
                .iter()
                .find(|i| i.group == group && i.version == version && i.kind == kind)
                .cloned()
            else {
                continue;
            };
            let name = obj["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let ns = if info.namespaced {
                obj["metadata"]["namespace"]
                    .as_str()
                    .unwrap_or(&dest_ns)
                    .to_string()
            } else {
                String::new()
            };
            ensure_namespace(&mut store, &ns);
            let mut body = obj.clone();
            body["metadata"]["annotations"][TRACKING] =
                json!(format!("{app_name}:{group}/{kind}:{ns}/{name}"));
            if info.namespaced {
                body["metadata"]["namespace"] = json!(ns);
            }
            let opts = WriteOpts {
                manager: MANAGER.to_string(),
                dry_run: false,
            };
            if server_side_apply(&mut store, &info, &ns, &name, None, body, true, &opts).is_ok() {
                out.push(resource_entry(&info, &ns, &name, "Synced"));
            }
        }
        out
    }

    fn write(&self, key: &Key, f: impl FnOnce(&mut Value)) {
        let mut store = self.store.lock().unwrap();
        let Some(info) = resolve(&store, "argoproj.io", "v1alpha1", "applications") else {
            return;
        };
        let Some(live) = store.get(&info.gr(), &key.0, &key.1).cloned() else {
            return;
        };
        let mut new = live.clone();
        f(&mut new);
        let scope = super::apply::Scope::Main {
            has_status: info.has_status,
        };
        let _ = commit(
            &mut store,
            &info,
            Some(&live),
            new,
            scope,
            Some(MANAGER),
            false,
        );
    }

    /// Rewrite `.status` (the Application CRD has no status subresource: Argo CD writes it
    /// through the object).
    fn set_status(&self, key: &Key, f: impl FnOnce(&mut Value)) {
        self.write(key, |obj| {
            let mut status = obj.get("status").cloned().unwrap_or_else(|| json!({}));
            f(&mut status);
            obj["status"] = status;
        });
    }
}

fn ensure_namespace(store: &mut Store, ns: &str) {
    if ns.is_empty() {
        return;
    }
    let gr = (String::new(), "namespaces".to_string());
    if store.get(&gr, "", ns).is_some() {
        return;
    }
    if let Some(info) = resolve(store, "", "v1", "namespaces") {
        let body = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
        let opts = WriteOpts {
            manager: MANAGER.to_string(),
            dry_run: false,
        };
        let _ = server_side_apply(store, &info, "", ns, None, body, true, &opts);
    }
}

fn resource_entry(info: &ResourceInfo, ns: &str, name: &str, status: &str) -> Value {
    let mut r = json!({"group": info.group, "version": info.version, "kind": info.kind, "name": name, "status": status});
    if !ns.is_empty() {
        r["namespace"] = json!(ns);
    }
    r
}

/// `status.resources` of an app that was compared but not synced.
fn listed(app: &Value, objects: &[Value], status: &str) -> Vec<Value> {
    let dest_ns = app["spec"]["destination"]["namespace"]
        .as_str()
        .unwrap_or("default");
    objects
        .iter()
        .map(|o| {
            let api_version = o["apiVersion"].as_str().unwrap_or_default();
            let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
            json!({"group": group, "version": version, "kind": o["kind"], "name": o["metadata"]["name"],
                   "namespace": o["metadata"]["namespace"].as_str().unwrap_or(dest_ns), "status": status})
        })
        .collect()
}

fn app_source(app: &Value) -> Value {
    if app["spec"]["source"].is_object() {
        app["spec"]["source"].clone()
    } else {
        app["spec"]["sources"][0].clone()
    }
}

fn base_status(app: &Value, status: &mut Value, revision: &str, sync: &str, health: &str) {
    let source = app_source(app);
    let explicit = ["helm", "kustomize", "directory"]
        .into_iter()
        .find(|k| source[*k].is_object());
    status["sync"] = json!({
        "status": sync,
        "revision": revision,
        "comparedTo": {"source": source, "destination": app["spec"]["destination"].clone()},
    });
    status["health"] = json!({"status": health, "lastTransitionTime": now_rfc3339()});
    status["reconciledAt"] = json!(now_rfc3339());
    status["sourceType"] = json!(match explicit {
        Some("helm") => "Helm",
        Some("kustomize") => "Kustomize",
        _ if source["chart"].is_string() => "Helm",
        _ => "Directory",
    });
    if status.get("resources").is_none_or(|r| r.is_null()) {
        status["resources"] = json!([]);
    }
    if let Some(m) = status.as_object_mut() {
        m.remove("conditions");
    }
}

fn final_status(outcome: AppOutcome, app: &Value, status: &mut Value, revision: &str) {
    match outcome {
        AppOutcome::Healthy => base_status(app, status, revision, "Synced", "Healthy"),
        AppOutcome::Progressing => base_status(app, status, revision, "Synced", "Progressing"),
        AppOutcome::Degraded => {
            base_status(app, status, revision, "Synced", "Degraded");
            status["health"]["message"] = json!(
                "Deployment \"app\" exceeded its progress deadline (simulated by PLAYGROUND_DOUBLE_APPS=degraded)"
            );
        }
        AppOutcome::OutOfSync => {
            base_status(app, status, revision, "OutOfSync", "Healthy");
            status["conditions"] = json!([{"type": "SyncError", "message": "live state differs from the desired state in Git (simulated by PLAYGROUND_DOUBLE_APPS=outofsync)", "lastTransitionTime": now_rfc3339()}]);
        }
    }
}

/// `AppType` of `util/app/discovery/discovery.go`, written from it here (not taken from the
/// code under test): `Discover` walks the folder in lexical order and marks it `Helm` for a
/// file whose name ends in `Chart.yaml`, then `Kustomize` for `kustomization.yaml`,
/// `kustomization.yml` or `Kustomization` (`util/kustomize/kustomize.go`
/// `IsKustomization`), a later find overwriting an earlier one; only the folder itself
/// counts, and anything else is `Directory`.
fn discover(names: &[String]) -> &'static str {
    let mut sorted: Vec<&String> = names.iter().collect();
    sorted.sort();
    let mut found = "Directory";
    for n in sorted {
        if n.ends_with("Chart.yaml") {
            found = "Helm";
        }
        if ["kustomization.yaml", "kustomization.yml", "Kustomization"].contains(&n.as_str()) {
            found = "Kustomize";
        }
    }
    found
}

/// A Directory source's objects, as repo-server reads them (see the module docs).
fn render_directory(dir: &Path, recurse: bool) -> Result<Vec<Value>, String> {
    let mut files: Vec<PathBuf> = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(here) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&here) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                if recurse {
                    stack.push(p);
                }
            } else if p
                .extension()
                .is_some_and(|x| x == "yaml" || x == "yml" || x == "json")
            {
                files.push(p);
            }
        }
    }
    // filepath.Walk: lexical order of the full path.
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap_or_default();
        let name = f
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        match serde_saphyr::from_multiple::<Value>(&text) {
            Ok(docs) => {
                for d in docs.into_iter().filter(|d| d.is_object()) {
                    if d["kind"].is_string() {
                        out.push(d);
                    } else if looks_like_manifest(&text) {
                        return Err(format!(
                            "Failed to unmarshal \"{name}\": failed to unmarshal manifest: Object 'Kind' is missing"
                        ));
                    }
                }
            }
            Err(e) if looks_like_manifest(&text) => {
                let first = e.to_string();
                let first = first.lines().next().unwrap_or_default();
                return Err(format!(
                    "Failed to unmarshal \"{name}\": failed to unmarshal manifest: error converting YAML to JSON: yaml: {first}"
                ));
            }
            // "it might be an unrelated YAML file which we will ignore"
            Err(_) => {}
        }
    }
    Ok(out)
}

fn looks_like_manifest(text: &str) -> bool {
    ["apiVersion:", "kind:", "metadata:"]
        .iter()
        .all(|k| text.contains(k))
}

/// `sourceRepos` patterns against a repo URL, as `IsSourcePermitted` matches them
/// (`pkg/apis/application/v1alpha1/app_project_types.go`): `*` for any, `!` to deny, globs
/// with `*` not crossing `/` except a lone `*`; URLs compared normalised (lower case, no
/// `.git` suffix, as `git.NormalizeGitURL`).
pub fn source_permitted(patterns: &[&str], repo: &str) -> bool {
    let norm = |s: &str| {
        s.trim_end_matches('/')
            .trim_end_matches(".git")
            .to_ascii_lowercase()
    };
    let repo = norm(repo);
    let mut allowed = false;
    for p in patterns {
        if let Some(deny) = p.strip_prefix('!') {
            if glob(&norm(deny), &repo) {
                return false;
            }
        } else if *p == "*" || glob(&norm(p), &repo) {
            allowed = true;
        }
    }
    allowed
}

fn glob(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, tail)) => {
            let Some(rest) = text.strip_prefix(head) else {
                return false;
            };
            (0..=rest.len())
                .filter(|i| rest.is_char_boundary(*i) && !rest[..*i].contains('/'))
                .any(|i| glob(tail, &rest[i..]))
        }
    }
}

/// A Go duration as `argocd-cm` writes it: `30s`, `2m`, `1h`, `1m30s`.
fn go_duration(s: &str) -> Option<Duration> {
    let mut total = 0f64;
    let mut num = String::new();
    let mut any = false;
    let mut chars = s.trim().chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() || c == '.' {
            num.push(c);
            continue;
        }
        let mut unit = c.to_string();
        if c == 'm' && chars.peek() == Some(&'s') {
            unit.push(chars.next().unwrap());
        }
        let n: f64 = num.parse().ok()?;
        num.clear();
        total += n * match unit.as_str() {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 0.001,
            _ => return None,
        };
        any = true;
    }
    (any && num.is_empty()).then(|| Duration::from_secs_f64(total))
}

/// Whether `argocd-application-controller` runs: no such StatefulSet (nothing to wait for),
/// or one with an available replica.
fn controller_runs(store: &Mutex<Store>) -> bool {
    let store = store.lock().unwrap();
    let gr = ("apps".to_string(), "statefulsets".to_string());
    let controllers: Vec<&Value> = store
        .list_ref(&gr)
        .filter(|o| o["metadata"]["name"] == "argocd-application-controller")
        .collect();
    controllers.is_empty()
        || controllers
            .iter()
            .any(|o| o["status"]["availableReplicas"].as_i64().unwrap_or(0) > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_repos_match_as_argo_cd_matches_them() {
        let seed = [
            "https://github.com/helm/charts.git",
            "https://github.com/davidwmcneill/gitops-playground-apps.git",
        ];
        assert!(source_permitted(
            &seed,
            "https://github.com/davidwmcneill/gitops-playground-apps.git"
        ));
        assert!(!source_permitted(&seed, "file:///playground"));
        assert!(source_permitted(&["*"], "file:///playground"));
        assert!(source_permitted(
            &["https://github.com/org/*"],
            "https://github.com/org/x"
        ));
        assert!(!source_permitted(
            &["https://github.com/org/*"],
            "https://github.com/org/x/y"
        ));
        assert!(!source_permitted(
            &["*", "!file:///playground"],
            "file:///playground"
        ));
    }

    #[test]
    fn go_durations() {
        assert_eq!(go_duration("30s"), Some(Duration::from_secs(30)));
        assert_eq!(go_duration("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(go_duration("2h"), Some(Duration::from_secs(7200)));
        assert_eq!(go_duration("30"), None);
    }
}

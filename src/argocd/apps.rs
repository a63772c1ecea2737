//! Argo CD Applications in our own vocabulary, and the wait until a lab's app of apps is ready.
//!
//! We read Applications as JSON ([`DynamicObject`]) into [`AppState`], which keeps only the
//! fields the lab needs; generating the full CRD types would pull ~200 KB of schema into the
//! build for a dozen fields.
//!
//! The flow of [`wait_lab_ready`]:
//! 1. list the Applications of the namespace once (one request), remembering the list's
//!    `resourceVersion`;
//! 2. watch them from that version (one long request); every event updates the map of apps
//!    by name;
//! 3. after every event, walk the tree from the root ([`awaited_tree`]) and check each app with
//!    [`AppState::not_ready_reason`]; each app has one live line through [`Ui`];
//! 4. success when the root and everything reachable from it are ready and the root's
//!    children are known; on 410 Gone or the end of the stream, list again (the only way to
//!    resynchronise without `kube::runtime`); at the deadline, [`AppsError::NotReady`] names
//!    every failing app with its sync, health, conditions and messages.
//!
//! Nothing here polls an app: all state arrives through the single watch.
//!
//! ## Parent and children
//! The children of an app are the `status.resources[]` entries with `group: argoproj.io` and
//! `kind: Application`: that is what Argo CD itself says the app manages. The parent of an
//! app is read, in this order, from
//! 1. the `argocd.argoproj.io/tracking-id` annotation (`<app>:<group>/<kind>:<ns>/<name>`,
//!    the default tracking method since Argo CD 3.0), the part before the first `:`, with a
//!    `<namespace>_` prefix removed when it names the app's own namespace (apps in any
//!    namespace);
//! 2. the `app.kubernetes.io/instance` label (label tracking, the 2.x default);
//! 3. an `ownerReferences` entry of kind `Application` (Argo CD does not set one, but a
//!    hand-made hierarchy might).
//!
//! The tree is the union of both directions, so a child appears under its parent as soon as
//! either the parent's status lists it or the child says who tracks it.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::fmt;
use std::time::Duration;

use futures::StreamExt;
use kube::api::{Api, DynamicObject, ListParams, WatchEvent, WatchParams};
use kube::discovery::ApiResource;
use serde_json::Value;
use tokio::time::Instant;

use crate::kube::api::KubeApi;
use crate::ui::{Mode, Step, Ui};

/// API group of Argo CD's custom resources.
pub(crate) const ARGO_GROUP: &str = "argoproj.io";
/// The name the lab's root Application has unless told otherwise.
pub(crate) const DEFAULT_ROOT: &str = "root";
/// Annotation Argo CD 3.x writes on everything it manages (annotation tracking).
pub(crate) const TRACKING_ID_ANNOTATION: &str = "argocd.argoproj.io/tracking-id";
/// Label Argo CD writes with label tracking (the 2.x default).
pub(crate) const INSTANCE_LABEL: &str = "app.kubernetes.io/instance";

/// `argoproj.io/v1alpha1` `Application`, for [`Api::namespaced_with`].
pub fn application_resource() -> ApiResource {
    ApiResource {
        group: ARGO_GROUP.into(),
        version: "v1alpha1".into(),
        api_version: format!("{ARGO_GROUP}/v1alpha1"),
        kind: "Application".into(),
        plural: "applications".into(),
    }
}

/// Where an Application takes its manifests from (`spec.source`, or the first of
/// `spec.sources` for multi-source apps).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AppSource {
    #[serde(rename = "repoURL")]
    pub repo_url: String,
    pub path: String,
    pub target_revision: String,
}

/// One entry of `status.conditions`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AppCondition {
    #[serde(rename = "type")]
    pub(crate) kind: String,
    pub(crate) message: String,
}

/// What we know of one Application. Empty strings stand for fields Argo CD has not written
/// yet (a fresh Application has no status at all).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AppState {
    pub name: String,
    pub namespace: String,
    pub project: String,
    pub source: AppSource,
    /// `status.sync.status`: `Synced`, `OutOfSync`, `Unknown`, or empty.
    pub sync: String,
    /// `status.sync.revision` (or the first of `revisions`): the commit it is synced to.
    pub revision: String,
    /// `status.health.status`: `Healthy`, `Progressing`, `Degraded`, `Suspended`, `Missing`,
    /// `Unknown`, or empty.
    pub health: String,
    pub health_message: Option<String>,
    /// `status.operationState.phase`: `Running`, `Terminating`, `Failed`, `Error`,
    /// `Succeeded`.
    pub operation_phase: Option<String>,
    pub operation_message: Option<String>,
    pub conditions: Vec<AppCondition>,
    pub reconciled_at: Option<String>,
    /// Child Applications from `status.resources`; `None` while Argo CD has not reported
    /// the app's resources (so "no children" and "not known yet" differ).
    pub children: Option<Vec<String>>,
    /// The tracking app (see the module docs for the order of sources).
    pub parent: Option<String>,
    /// `spec.syncPolicy.automated` is set (and not `enabled: false`): Argo CD syncs it on its
    /// own. An app without it is the user's to sync; `up` shows it and does not await it.
    pub auto_sync: bool,
    /// `spec.destination.server`, empty when the destination is given by name.
    pub destination_server: String,
    /// `spec.destination.name`, empty when the destination is given by server.
    pub destination_name: String,
}

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

fn opt(v: &Value) -> Option<String> {
    v.as_str().filter(|s| !s.is_empty()).map(str::to_string)
}

impl AppState {
    /// Read an Application object (as served by the API). `None` when it has no name.
    pub(crate) fn from_json(obj: &Value) -> Option<Self> {
        let meta = &obj["metadata"];
        let name = opt(&meta["name"])?;
        let namespace = s(&meta["namespace"]);
        let spec = &obj["spec"];
        let src = if spec["source"].is_object() {
            &spec["source"]
        } else {
            &spec["sources"][0]
        };
        let status = &obj["status"];
        let revision = opt(&status["sync"]["revision"])
            .or_else(|| opt(&status["sync"]["revisions"][0]))
            .unwrap_or_default();
        let children = status["resources"].as_array().map(|rs| {
            let mut names: Vec<String> = rs
                .iter()
                .filter(|r| r["kind"] == "Application" && r["group"] == ARGO_GROUP)
                .filter_map(|r| opt(&r["name"]))
                .collect();
            names.sort();
            names.dedup();
            names
        });
        let conditions = status["conditions"]
            .as_array()
            .map(|cs| {
                cs.iter()
                    .map(|c| AppCondition {
                        kind: s(&c["type"]),
                        message: s(&c["message"]),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let parent = parent_of(meta, &namespace).filter(|p| *p != name);
        // `automated: {}` is on; Argo CD 3.x also reads `automated.enabled: false` as off
        // (`SyncPolicyAutomated.Enabled`, argo-cd `pkg/apis/application/v1alpha1/types.go`).
        let automated = &spec["syncPolicy"]["automated"];
        let auto_sync = automated.is_object() && automated["enabled"] != Value::Bool(false);
        Some(AppState {
            auto_sync,
            destination_server: s(&spec["destination"]["server"]),
            destination_name: s(&spec["destination"]["name"]),
            project: s(&spec["project"]),
            source: AppSource {
                repo_url: s(&src["repoURL"]),
                path: s(&src["path"]),
                target_revision: s(&src["targetRevision"]),
            },
            sync: s(&status["sync"]["status"]),
            revision,
            health: s(&status["health"]["status"]),
            health_message: opt(&status["health"]["message"]),
            operation_phase: opt(&status["operationState"]["phase"]),
            operation_message: opt(&status["operationState"]["message"]),
            conditions,
            reconciled_at: opt(&status["reconciledAt"]),
            children,
            parent,
            name,
            namespace,
        })
    }

    /// The readiness predicate: Synced, Healthy, at the expected revision (when one is
    /// given; a full SHA matches a short expectation), and no sync operation in progress.
    #[cfg(test)]
    pub(crate) fn is_ready(&self, expected_revision: Option<&str>) -> bool {
        self.not_ready_reason(expected_revision).is_none()
    }

    /// Why the app is not ready, in a few words; `None` when it is: Synced, Healthy, at the
    /// expected revision (when one is given; a full SHA matches a short expectation), and no
    /// sync operation in progress.
    pub(crate) fn not_ready_reason(&self, expected_revision: Option<&str>) -> Option<String> {
        if self.sync != "Synced" {
            return Some(format!("sync is {}", or_none(&self.sync)));
        }
        if self.health != "Healthy" {
            return Some(format!("health is {}", or_none(&self.health)));
        }
        if let Some(expected) = expected_revision.filter(|e| !e.is_empty())
            && !revision_matches(&self.revision, expected)
        {
            return Some(format!(
                "synced to revision {} but {expected} is expected",
                or_none(&self.revision)
            ));
        }
        // Terminating is an operation still changing the cluster, like Running.
        if let Some(phase) = self
            .operation_phase
            .as_deref()
            .filter(|p| matches!(*p, "Running" | "Terminating"))
        {
            return Some(format!("sync operation is {phase}"));
        }
        None
    }

    /// The most useful message for a human: the health message, the operation's message,
    /// then the first condition.
    pub(crate) fn message(&self) -> Option<String> {
        self.health_message
            .clone()
            .or_else(|| {
                self.operation_message
                    .clone()
                    .filter(|_| self.operation_phase.as_deref() != Some("Succeeded"))
            })
            .or_else(|| {
                self.conditions
                    .first()
                    .map(|c| format!("{}: {}", c.kind, c.message))
            })
    }

    /// What the live line shows while `up` waits: the revision it waits for when the app is
    /// at another one, `manual (not awaited)` for an app the user syncs, else [`Self::summary`].
    pub(crate) fn progress(&self, expected: Option<&str>, awaited: bool) -> String {
        if !awaited {
            return format!("manual (not awaited): {}", self.summary());
        }
        if let Some(e) = expected.filter(|e| !e.is_empty())
            && !self.revision.is_empty()
            && !revision_matches(&self.revision, e)
        {
            return format!("at {}, waiting for {}", short(&self.revision), short(e));
        }
        self.summary()
    }

    /// `Synced/Healthy`, plus the message when not healthy: what the live line shows.
    pub(crate) fn summary(&self) -> String {
        let mut out = format!("{}/{}", or_unknown(&self.sync), or_unknown(&self.health));
        if (self.health != "Healthy" || self.sync != "Synced")
            && let Some(m) = self.message()
        {
            out.push_str(": ");
            out.push_str(&m);
        }
        out
    }
}

/// A commit id as people read it (7 characters); anything else as it is.
fn short(rev: &str) -> &str {
    if rev.len() == 40 && rev.bytes().all(|b| b.is_ascii_hexdigit()) {
        &rev[..7]
    } else {
        rev
    }
}

fn or_none(s: &str) -> &str {
    if s.is_empty() { "not reported yet" } else { s }
}

fn or_unknown(s: &str) -> &str {
    if s.is_empty() { "Unknown" } else { s }
}

/// The parent named by tracking annotation, instance label or owner reference, in that order.
fn parent_of(meta: &Value, namespace: &str) -> Option<String> {
    if let Some(id) = meta["annotations"][TRACKING_ID_ANNOTATION].as_str()
        && let Some((app, _)) = id.split_once(':')
        && !app.is_empty()
    {
        let app = app
            .strip_prefix(&format!("{namespace}_"))
            .filter(|_| !namespace.is_empty())
            .unwrap_or(app);
        return Some(app.to_string());
    }
    if let Some(app) = opt(&meta["labels"][INSTANCE_LABEL]) {
        return Some(app);
    }
    meta["ownerReferences"]
        .as_array()?
        .iter()
        .find(|o| o["kind"] == "Application" && s(&o["apiVersion"]).starts_with(ARGO_GROUP))
        .and_then(|o| opt(&o["name"]))
}

/// Does the revision an app is synced to match the expected one? Exact (case-insensitive),
/// or the actual full SHA starts with an abbreviated expected SHA (at least 4 hex digits).
pub(crate) fn revision_matches(actual: &str, expected: &str) -> bool {
    let (a, e) = (actual.trim(), expected.trim());
    if a.eq_ignore_ascii_case(e) {
        return true;
    }
    e.len() >= 4
        && e.len() < a.len()
        && e.bytes().all(|b| b.is_ascii_hexdigit())
        && a.bytes().all(|b| b.is_ascii_hexdigit())
        && a[..e.len()].eq_ignore_ascii_case(e)
}

/// The children of each app: its `status.resources` list, plus every app naming it as
/// parent. Each list is sorted and free of duplicates. O(n) over the apps.
pub(crate) fn child_index(apps: &HashMap<String, AppState>) -> HashMap<&str, Vec<&str>> {
    let mut out: HashMap<&str, Vec<&str>> = HashMap::with_capacity(apps.len());
    for app in apps.values() {
        if let Some(children) = &app.children {
            out.entry(app.name.as_str())
                .or_default()
                .extend(children.iter().map(String::as_str));
        }
        if let Some(parent) = &app.parent {
            out.entry(parent.as_str())
                .or_default()
                .push(app.name.as_str());
        }
    }
    for v in out.values_mut() {
        v.sort_unstable();
        v.dedup();
    }
    out
}

/// One app that kept the lab from being ready, as the error shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppFailure {
    pub(crate) name: String,
    /// Why it is not ready ([`AppState::not_ready_reason`], or "does not exist").
    pub(crate) reason: String,
    pub(crate) sync: String,
    pub(crate) health: String,
    /// Health and operation messages and conditions, one per entry.
    pub(crate) messages: Vec<String>,
}

impl fmt::Display for AppFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "  {}: {} (sync {}, health {})",
            self.name,
            self.reason,
            or_unknown(&self.sync),
            or_unknown(&self.health)
        )?;
        for m in &self.messages {
            write!(f, "\n      {m}")?;
        }
        Ok(())
    }
}

/// The failures, one block per app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failures(pub Vec<AppFailure>);

impl fmt::Display for Failures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, a) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{a}")?;
        }
        Ok(())
    }
}

/// The last error of the list/watch loop while waiting for Applications; the wait goes on
/// after one, and names the last in [`AppsError::NotReady`].
#[derive(Debug, thiserror::Error)]
pub enum LastApiError {
    #[error("list: {0}")]
    List(#[source] kube::Error),
    #[error("watch: {0}")]
    Watch(#[source] kube::Error),
    /// An `ERROR` event in the watch stream.
    #[error("watch: {} ({})", .0.message, .0.code)]
    WatchEvent(Box<kube::core::Status>),
}

/// What can go wrong reading or waiting for Applications.
#[derive(Debug, thiserror::Error)]
pub enum AppsError {
    #[error(
        "the Applications in namespace {namespace} were not ready after {secs}s (root {root}):\n{failures}{last}",
        last = last_error.as_ref().map(|e| format!("\n  last API error: {e}")).unwrap_or_default()
    )]
    NotReady {
        namespace: String,
        root: String,
        secs: u64,
        failures: Failures,
        // Boxed: a kube::Error is large, and NotReady travels up through every Result.
        #[source]
        last_error: Option<Box<LastApiError>>,
    },
    #[error("listing Argo CD Applications in namespace {namespace}: {source}")]
    List {
        namespace: String,
        #[source]
        source: kube::Error,
    },
}

impl crate::diag::Hinted for AppsError {
    fn hint(&self) -> Option<String> {
        match self {
            Self::NotReady { namespace, .. } => Some(format!("`playground status` shows the tree; `kubectl -n {namespace} describe application <name>` shows Argo CD's events")),
            Self::List { .. } => Some("is Argo CD installed (the applications.argoproj.io CRD) and the cluster up? `playground up` installs it".to_string()),
        }
    }
}

impl crate::diag::Classified for AppsError {
    fn kind(&self) -> crate::diag::Kind {
        match self {
            Self::NotReady { .. } => crate::diag::Kind::Timeout,
            _ => crate::diag::Kind::Failed,
        }
    }
}

/// Describe why `name` is not ready, from the current map.
fn failure(
    name: &str,
    apps: &HashMap<String, AppState>,
    expected: Option<&str>,
) -> Option<AppFailure> {
    let Some(app) = apps.get(name) else {
        return Some(AppFailure {
            name: name.to_string(),
            reason: "does not exist (yet)".into(),
            sync: String::new(),
            health: "Missing".into(),
            messages: Vec::new(),
        });
    };
    let reason = app.not_ready_reason(expected)?;
    let mut messages = Vec::new();
    if let Some(m) = &app.health_message {
        messages.push(format!("health: {m}"));
    }
    if let (Some(p), Some(m)) = (&app.operation_phase, &app.operation_message) {
        messages.push(format!("operation {p}: {m}"));
    }
    for c in &app.conditions {
        messages.push(format!("{}: {}", c.kind, c.message));
    }
    Some(AppFailure {
        name: name.to_string(),
        reason,
        sync: app.sync.clone(),
        health: app.health.clone(),
        messages,
    })
}

/// The expected revision applies to apps from the root's repository only: other sources
/// (a Helm chart at `1.2.3`, another repo) have revisions of their own.
fn expected_for<'a>(
    app: Option<&AppState>,
    root: Option<&AppState>,
    expected: Option<&'a str>,
) -> Option<&'a str> {
    match (app, root) {
        (Some(a), Some(r)) if a.source.repo_url != r.source.repo_url => None,
        _ => expected,
    }
}

/// The root and every app reachable from it through apps Argo CD syncs on its own, breadth
/// first (root first, then children by name; cycle-safe). Names listed by a parent but
/// without an Application are included: they are missing, which is not ready. The apps without automated sync met on the way are returned
/// apart and not descended into: they are the user's to sync (the seed's optional apps), so
/// their children may never exist. The root is always awaited.
pub(crate) fn awaited_tree<'a>(
    root: &'a str,
    index: &HashMap<&'a str, Vec<&'a str>>,
    apps: &HashMap<String, AppState>,
) -> (Vec<&'a str>, Vec<&'a str>) {
    let mut seen: HashSet<&str> = HashSet::from([root]);
    let mut awaited = vec![root];
    let mut manual = Vec::new();
    let mut queue = VecDeque::from([root]);
    while let Some(name) = queue.pop_front() {
        for &child in index.get(name).into_iter().flatten() {
            if !seen.insert(child) {
                continue;
            }
            if apps.get(child).is_some_and(|a| !a.auto_sync) {
                manual.push(child);
            } else {
                awaited.push(child);
                queue.push_back(child);
            }
        }
    }
    (awaited, manual)
}

/// The verdict over the current map.
struct Verdict {
    /// Awaited apps, root first.
    awaited: Vec<String>,
    /// Apps without automated sync, shown but not awaited.
    manual: Vec<String>,
    failures: Vec<AppFailure>,
}

fn evaluate(apps: &HashMap<String, AppState>, root: &str, expected: Option<&str>) -> Verdict {
    let index = child_index(apps);
    let (names, manual) = awaited_tree(root, &index, apps);
    let root_state = apps.get(root);
    let mut failures: Vec<AppFailure> = names
        .iter()
        .filter_map(|n| failure(n, apps, expected_for(apps.get(*n), root_state, expected)))
        .collect();
    if let Some(r) = root_state
        && r.children.is_none()
        && failures.iter().all(|f| f.name != root)
    {
        failures.insert(
            0,
            AppFailure {
                name: root.to_string(),
                reason: "Argo CD has not reported its resources yet (status.resources)".into(),
                sync: r.sync.clone(),
                health: r.health.clone(),
                messages: Vec::new(),
            },
        );
    }
    Verdict {
        awaited: names.into_iter().map(str::to_string).collect(),
        manual: manual.into_iter().map(str::to_string).collect(),
        failures,
    }
}

/// The awaited apps that Argo CD has compared at another revision than the one expected of
/// them: a refresh makes it look at Git now instead of at its next poll.
fn behind<'a>(
    apps: &'a HashMap<String, AppState>,
    verdict: &Verdict,
    root: &str,
    expected: Option<&'a str>,
) -> Vec<(&'a str, &'a str)> {
    let root_state = apps.get(root);
    verdict
        .awaited
        .iter()
        .filter_map(|n| apps.get(n))
        .filter_map(|a| {
            let e = expected_for(Some(a), root_state, expected).filter(|e| !e.is_empty())?;
            (!a.revision.is_empty() && !revision_matches(&a.revision, e))
                .then_some((a.name.as_str(), e))
        })
        .collect()
}

/// The live lines, one per app, created as apps become reachable.
struct Lines<'u> {
    ui: &'u Ui,
    steps: BTreeMap<String, (Step, String)>,
    order: Vec<String>,
}

impl<'u> Lines<'u> {
    fn show(&mut self, name: &str, text: String) {
        match self.steps.get_mut(name) {
            Some((step, last)) => {
                if *last != text {
                    step.set_detail(&text);
                    // Plain output has no live lines: print changes instead.
                    if self.ui.mode() == Mode::Plain {
                        self.ui.line(&format!("  app {name}: {text}"));
                    }
                    *last = text;
                }
            }
            None => {
                let step = self.ui.step(format!("app {name}"));
                step.set_detail(&text);
                if self.ui.mode() == Mode::Plain {
                    self.ui.line(&format!("  app {name}: {text}"));
                }
                self.order.push(name.to_string());
                self.steps.insert(name.to_string(), (step, text));
            }
        }
    }

    fn update(
        &mut self,
        apps: &HashMap<String, AppState>,
        verdict: &Verdict,
        root: &str,
        expected: Option<&str>,
    ) {
        let root_state = apps.get(root);
        let lines = verdict
            .awaited
            .iter()
            .map(|n| (n, true))
            .chain(verdict.manual.iter().map(|n| (n, false)));
        for (n, awaited) in lines {
            let text = apps
                .get(n)
                .map(|a| a.progress(expected_for(Some(a), root_state, expected), awaited))
                .unwrap_or_else(|| "not created yet".into());
            self.show(n, text);
        }
    }

    /// Finish every line: ✓ for ready apps, ✗ for the failing ones.
    fn finish(mut self, failing: &HashSet<&str>) {
        for name in std::mem::take(&mut self.order) {
            if let Some((step, last)) = self.steps.remove(&name) {
                if failing.contains(name.as_str()) {
                    step.fail();
                } else {
                    step.done_with(&last);
                }
            }
        }
    }
}

/// Wait until the root Application and every Application reachable from it are ready
/// ([`AppState::not_ready_reason`]) and the root's children are known. `expected_revision` (a full
/// or short SHA, or a branch name) is required of the apps from the root's repository.
///
/// One list, then one watch over all Applications of `namespace`; re-lists on 410 Gone or
/// when the stream ends. Returns the reachable apps, root first. API errors are retried
/// until the deadline and then reported with the failing apps.
pub async fn wait_lab_ready(
    api: &KubeApi,
    namespace: &str,
    root: &str,
    expected_revision: Option<&str>,
    deadline: Instant,
    ui: &Ui,
) -> Result<Vec<AppState>, AppsError> {
    let secs = deadline.saturating_duration_since(Instant::now()).as_secs();
    let apps_api: Api<DynamicObject> =
        Api::namespaced_with(api.client().clone(), namespace, &application_resource());
    let mut wait = Wait {
        api,
        namespace,
        root,
        expected_revision,
        lines: Lines {
            ui,
            steps: BTreeMap::new(),
            order: Vec::new(),
        },
        failures: vec![AppFailure {
            name: root.to_string(),
            reason: "not listed yet".into(),
            sync: String::new(),
            health: String::new(),
            messages: Vec::new(),
        }],
        refreshed: HashSet::new(),
    };
    let mut last_error: Option<LastApiError> = None;
    let mut backoff = Backoff::new();
    let mut watch_started: Option<Instant> = None;

    'relist: while Instant::now() < deadline {
        // A watch that ends at once (a proxy cutting streams, a server error) must not turn
        // into a tight list/watch loop.
        if let Some(t) = watch_started.take() {
            if t.elapsed() < Duration::from_secs(1) {
                backoff.sleep(deadline).await;
            } else {
                backoff.reset();
            }
        }
        let list =
            match tokio::time::timeout_at(deadline, apps_api.list(&ListParams::default())).await {
                Err(_) => break,
                Ok(Ok(list)) => list,
                Ok(Err(e)) => {
                    last_error = Some(LastApiError::List(e));
                    backoff.sleep(deadline).await;
                    continue;
                }
            };
        let mut apps: HashMap<String, AppState> = list
            .items
            .iter()
            .filter_map(|o| serde_json::to_value(o).ok())
            .filter_map(|v| AppState::from_json(&v))
            .map(|a| (a.name.clone(), a))
            .collect();
        if let Some(done) = wait.check(&apps).await {
            wait.lines.finish(&HashSet::new());
            return Ok(done);
        }
        let rv = list.metadata.resource_version.unwrap_or_default();
        // The server ends a watch at its timeout; never ask for more than the time left.
        let left = deadline.saturating_duration_since(Instant::now()).as_secs();
        let wp = WatchParams::default().timeout(left.clamp(1, 290) as u32);
        let stream = match apps_api.watch(&wp, &rv).await {
            Ok(s) => s,
            Err(e) => {
                last_error = Some(LastApiError::Watch(e));
                backoff.sleep(deadline).await;
                continue;
            }
        };
        watch_started = Some(Instant::now());
        let mut stream = std::pin::pin!(stream);
        loop {
            let event = match tokio::time::timeout_at(deadline, stream.next()).await {
                Err(_) => break 'relist,
                // Stream end: list again, so nothing that happened in between is lost.
                Ok(None) => continue 'relist,
                Ok(Some(Err(e))) => {
                    last_error = Some(LastApiError::Watch(e));
                    continue 'relist;
                }
                Ok(Some(Ok(ev))) => ev,
            };
            match apply_event(&mut apps, event) {
                Seen::Changed => {}
                Seen::Nothing => continue,
                Seen::Relist(error) => {
                    last_error = error.or(last_error);
                    continue 'relist;
                }
            }
            if let Some(done) = wait.check(&apps).await {
                wait.lines.finish(&HashSet::new());
                return Ok(done);
            }
        }
    }
    let failing: HashSet<&str> = wait.failures.iter().map(|f| f.name.as_str()).collect();
    wait.lines.finish(&failing);
    Err(AppsError::NotReady {
        namespace: namespace.to_string(),
        root: root.to_string(),
        secs,
        failures: Failures(wait.failures),
        last_error: last_error.map(Box::new),
    })
}

/// What [`wait_lab_ready`] carries from one look at the apps to the next.
struct Wait<'a> {
    api: &'a KubeApi,
    namespace: &'a str,
    root: &'a str,
    expected_revision: Option<&'a str>,
    lines: Lines<'a>,
    failures: Vec<AppFailure>,
    /// (app, expected revision) pairs a refresh was asked for: once each, never a loop.
    refreshed: HashSet<(String, String)>,
}

impl Wait<'_> {
    /// Judge the apps; `Some(apps)` ends the wait. Apps that Argo CD compared at an older
    /// commit get one refresh each, so the wait never sits out Argo CD's poll.
    async fn check(&mut self, apps: &HashMap<String, AppState>) -> Option<Vec<AppState>> {
        let verdict = evaluate(apps, self.root, self.expected_revision);
        self.lines
            .update(apps, &verdict, self.root, self.expected_revision);
        let due: Vec<(String, String)> = behind(apps, &verdict, self.root, self.expected_revision)
            .into_iter()
            .map(|(a, e)| (a.to_string(), e.to_string()))
            .filter(|k| !self.refreshed.contains(k))
            .collect();
        for key in due {
            // A failed request is retried at the next event; the wait itself goes on.
            if super::refresh::refresh(self.api, self.namespace, Some(&key.0), false)
                .await
                .is_ok()
            {
                tracing::debug!(app = %key.0, expected = %key.1, "asked Argo CD to refresh");
                self.refreshed.insert(key);
            }
        }
        self.failures = verdict.failures;
        self.failures.is_empty().then(|| {
            verdict
                .awaited
                .iter()
                .chain(verdict.manual.iter())
                .filter_map(|n| apps.get(n).cloned())
                .collect()
        })
    }
}

/// The pause before a list or watch is tried again: 200 ms, doubling up to 5 s.
struct Backoff(Duration);

impl Backoff {
    fn new() -> Self {
        Backoff(Duration::from_millis(200))
    }

    fn reset(&mut self) {
        *self = Self::new();
    }

    async fn sleep(&mut self, deadline: Instant) {
        tokio::time::sleep_until((Instant::now() + self.0).min(deadline)).await;
        self.0 = (self.0 * 2).min(Duration::from_secs(5));
    }
}

/// What one watch event did to the apps.
enum Seen {
    Changed,
    Nothing,
    /// The watch must start over (410 Gone: our version is too old; any other error event
    /// too, remembered for the report).
    Relist(Option<LastApiError>),
}

fn apply_event(apps: &mut HashMap<String, AppState>, event: WatchEvent<DynamicObject>) -> Seen {
    match event {
        WatchEvent::Added(o) | WatchEvent::Modified(o) => {
            if let Some(a) = serde_json::to_value(&o)
                .ok()
                .and_then(|v| AppState::from_json(&v))
            {
                apps.insert(a.name.clone(), a);
            }
            Seen::Changed
        }
        WatchEvent::Deleted(o) => {
            if let Some(n) = &o.metadata.name {
                apps.remove(n);
            }
            Seen::Changed
        }
        WatchEvent::Bookmark(_) => Seen::Nothing,
        WatchEvent::Error(status) if status.code == 410 => Seen::Relist(None),
        WatchEvent::Error(status) => Seen::Relist(Some(LastApiError::WatchEvent(status))),
    }
}

/// Every Application in `namespace`, with one list request.
pub async fn list_apps(api: &KubeApi, namespace: &str) -> Result<Vec<AppState>, AppsError> {
    let apps_api: Api<DynamicObject> =
        Api::namespaced_with(api.client().clone(), namespace, &application_resource());
    let list = apps_api
        .list(&ListParams::default())
        .await
        .map_err(|source| AppsError::List {
            namespace: namespace.to_string(),
            source,
        })?;
    Ok(list
        .items
        .iter()
        .filter_map(|o| serde_json::to_value(o).ok())
        .filter_map(|v| AppState::from_json(&v))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn app(name: &str, status: Value) -> AppState {
        AppState::from_json(&json!({
            "metadata": {"name": name, "namespace": "argocd"},
            "spec": {"project": "default", "source": {"repoURL": "r", "path": name, "targetRevision": "HEAD"},
                     "syncPolicy": {"automated": {"prune": true}}},
            "status": status,
        }))
        .unwrap()
    }

    fn ok(rev: &str) -> Value {
        json!({"sync": {"status": "Synced", "revision": rev}, "health": {"status": "Healthy"}})
    }

    #[test]
    fn reads_the_fields() {
        let a = AppState::from_json(&json!({
            "metadata": {"name": "root", "namespace": "argocd",
                         "annotations": {TRACKING_ID_ANNOTATION: "argocd_boot:argoproj.io/Application:argocd/root"}},
            "spec": {"project": "lab", "sources": [{"repoURL": "https://g/x.git", "path": "apps", "targetRevision": "main"}]},
            "status": {
                "sync": {"status": "OutOfSync", "revisions": ["abc"]},
                "health": {"status": "Degraded", "message": "boom"},
                "operationState": {"phase": "Failed", "message": "sync failed"},
                "conditions": [{"type": "SyncError", "message": "bad"}],
                "reconciledAt": "2026-01-01T00:00:00Z",
                "resources": [
                    {"group": "argoproj.io", "kind": "Application", "name": "b"},
                    {"group": "argoproj.io", "kind": "Application", "name": "a"},
                    {"group": "apps", "kind": "Deployment", "name": "web"},
                    {"group": "other.io", "kind": "Application", "name": "x"},
                ],
            },
        }))
        .unwrap();
        assert_eq!(a.project, "lab");
        assert_eq!(a.source.path, "apps");
        assert_eq!(a.revision, "abc");
        assert_eq!(a.children, Some(vec!["a".into(), "b".into()]));
        assert_eq!(a.parent.as_deref(), Some("boot"));
        assert_eq!(a.operation_phase.as_deref(), Some("Failed"));
        assert_eq!(a.conditions[0].kind, "SyncError");
        assert_eq!(a.message().as_deref(), Some("boom"));
        assert_eq!(a.not_ready_reason(None).unwrap(), "sync is OutOfSync");
    }

    #[test]
    fn parent_from_label_then_owner() {
        let by_label = AppState::from_json(
            &json!({"metadata": {"name": "c", "labels": {INSTANCE_LABEL: "p"}}}),
        )
        .unwrap();
        assert_eq!(by_label.parent.as_deref(), Some("p"));
        let by_owner = AppState::from_json(&json!({"metadata": {"name": "c", "ownerReferences": [
            {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "no"},
            {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "name": "q"}]}}))
        .unwrap();
        assert_eq!(by_owner.parent.as_deref(), Some("q"));
        assert!(AppState::from_json(&json!({"metadata": {}})).is_none());
        assert_eq!(app("x", json!({})).children, None);
    }

    #[test]
    fn readiness_predicate() {
        let sha = "0123456789abcdef0123456789abcdef01234567";
        assert!(app("a", ok(sha)).is_ready(None));
        assert!(app("a", ok(sha)).is_ready(Some("0123456")));
        assert!(app("a", ok(sha)).is_ready(Some(&sha.to_uppercase())));
        assert!(!app("a", ok(sha)).is_ready(Some("fedcba9")));
        assert!(!app("a", ok("main")).is_ready(Some("0123456")));
        assert!(app("a", ok("main")).is_ready(Some("")));
        let mut running = ok(sha);
        running["operationState"] = json!({"phase": "Running"});
        assert!(!app("a", running).is_ready(None));
        let mut degraded = ok(sha);
        degraded["health"]["status"] = json!("Degraded");
        assert!(!app("a", degraded).is_ready(None));
        assert!(!app("a", json!({})).is_ready(None));
        // A short actual never satisfies a longer expectation.
        assert!(!revision_matches("0123", "0123456"));
    }

    #[test]
    fn the_awaited_tree_is_cycle_safe_and_includes_missing() {
        let mut apps = HashMap::new();
        let mut root = app("root", ok("x"));
        root.children = Some(vec!["a".into(), "ghost".into()]);
        let mut a = app("a", ok("x"));
        a.children = Some(vec!["root".into(), "b".into()]);
        let mut b = app("b", ok("x"));
        b.parent = Some("a".into());
        let mut late = app("late", ok("x"));
        late.parent = Some("root".into());
        for x in [root, a, b, late, app("stray", ok("x"))] {
            apps.insert(x.name.clone(), x);
        }
        let idx = child_index(&apps);
        assert_eq!(
            awaited_tree("root", &idx, &apps).0,
            vec!["root", "a", "ghost", "late", "b"]
        );
        let failures = evaluate(&apps, "root", None).failures;
        assert_eq!(failures.len(), 1);
        assert_eq!(failures[0].name, "ghost");
    }

    #[test]
    fn root_without_resources_is_not_done_and_other_repos_skip_revision() {
        let mut apps = HashMap::new();
        apps.insert("root".to_string(), app("root", ok("abc1234")));
        let f = evaluate(&apps, "root", None).failures;
        assert!(f[0].reason.contains("status.resources"));
        apps.get_mut("root").unwrap().children = Some(vec!["chart".into()]);
        let mut chart = app("chart", ok("1.2.3"));
        chart.source.repo_url = "https://charts".into();
        apps.insert("chart".into(), chart);
        let v = evaluate(&apps, "root", Some("abc1234"));
        let (names, f) = (v.awaited, v.failures);
        assert_eq!(names, vec!["root", "chart"]);
        assert!(f.is_empty(), "{f:?}");
    }

    #[test]
    fn manual_apps_are_shown_not_awaited_and_not_descended() {
        let mut apps = HashMap::new();
        let mut root = app("root", ok("abc1234"));
        root.children = Some(vec!["auto".into(), "manual".into()]);
        let mut manual = app(
            "manual",
            json!({"sync": {"status": "OutOfSync"}, "health": {"status": "Missing"}}),
        );
        manual.auto_sync = false;
        manual.children = Some(vec!["grandchild".into()]);
        for a in [root, app("auto", ok("abc1234")), manual] {
            apps.insert(a.name.clone(), a);
        }
        let v = evaluate(&apps, "root", Some("abc1234"));
        assert_eq!(v.awaited, ["root", "auto"]);
        assert_eq!(v.manual, ["manual"]);
        // Neither the OutOfSync manual app nor its child that will never exist fails the wait.
        assert!(v.failures.is_empty(), "{:?}", v.failures);
        assert_eq!(
            apps["manual"].progress(None, false),
            "manual (not awaited): OutOfSync/Missing"
        );
        // `enabled: false` is off too (Argo CD 3.x).
        let off = AppState::from_json(&json!({"metadata": {"name": "x"},
            "spec": {"syncPolicy": {"automated": {"enabled": false}}}}))
        .unwrap();
        assert!(!off.auto_sync);
    }

    #[test]
    fn an_app_at_an_older_commit_is_due_a_refresh_and_says_what_it_waits_for() {
        let old = "8b60b72aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
        let new = "798adbfbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
        let mut apps = HashMap::new();
        let mut root = app("root", ok(old));
        root.children = Some(vec!["web".into(), "chart".into()]);
        let mut chart = app("chart", ok("1.2.3"));
        chart.source.repo_url = "https://charts".into();
        for a in [root, app("web", ok(new)), chart] {
            apps.insert(a.name.clone(), a);
        }
        let v = evaluate(&apps, "root", Some(new));
        // Only the root is behind; the chart from another repository has its own revisions.
        assert_eq!(behind(&apps, &v, "root", Some(new)), [("root", new)]);
        assert_eq!(
            apps["root"].progress(Some(new), true),
            "at 8b60b72, waiting for 798adbf"
        );
        assert_eq!(apps["web"].progress(Some(new), true), "Synced/Healthy");
        assert!(behind(&apps, &v, "root", None).is_empty());
    }

    #[test]
    fn error_names_app_and_messages() {
        let e = AppsError::NotReady {
            namespace: "argocd".into(),
            root: "root".into(),
            secs: 3,
            failures: Failures(vec![AppFailure {
                name: "web".into(),
                reason: "health is Degraded".into(),
                sync: "Synced".into(),
                health: "Degraded".into(),
                messages: vec!["health: exceeded its progress deadline".into()],
            }]),
            last_error: None,
        };
        let text = crate::diag::Report(&e).to_string();
        assert!(text.contains("web: health is Degraded (sync Synced, health Degraded)"));
        assert!(text.contains("exceeded its progress deadline"));
        assert!(text.contains("hint:"));
    }
}

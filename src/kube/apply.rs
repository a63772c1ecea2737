//! Server-side apply of a multi-document manifest, in our own vocabulary.
//!
//! The flow of [`apply`]:
//! 1. [`parse_documents`] splits the YAML into [`DynamicObject`]s (`kind: List` is expanded,
//!    empty documents are skipped), each checked for `apiVersion`, `kind` and `metadata.name`;
//! 2. every distinct `apiVersion` is resolved with one pinned discovery request each (in
//!    parallel), giving each kind its [`ApiResource`] and scope; namespaced objects without a
//!    namespace get [`ApplyOptions::default_namespace`], cluster-scoped ones lose any namespace;
//! 3. Namespaces are applied first, then CustomResourceDefinitions; each CRD must report
//!    `Established=True` (read from the apply response, else polled, bounded by
//!    [`ApplyOptions::crd_timeout`]) before anything else is written, and the kinds they add are
//!    discovered then;
//! 4. everything else is applied concurrently, at most [`ApplyOptions::concurrency`] requests
//!    in flight, each with field manager `playground` and `force` (we take over fields other
//!    managers own, as `kubectl apply --server-side --force-conflicts` does), in two waves
//!    ([`Wave`]): first what pods read (ConfigMaps, Secrets, ServiceAccounts, RBAC, Services,
//!    …), then the kinds that make pods (Deployments, StatefulSets, DaemonSets, Jobs, …). A
//!    container reads `configMapKeyRef`/`secretKeyRef` env once, at start: a pod that starts
//!    before its ConfigMap lands keeps the defaults until it restarts (Argo CD's
//!    `server.insecure`, read from `argocd-cmd-params-cm` with `optional: true`, would leave
//!    argocd-server on TLS).
//!
//! Every write reports progress ("applied 37/59") through a callback; transient API failures
//! (429, 5xx, broken connections) are retried a few times. Failures of single objects are
//! collected, so one run names every object of a phase or wave that failed, with the API
//! server's message; a failed wave stops the apply before the next one.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::core::GroupVersion;
use kube::discovery::{ApiResource, Scope};
use tokio::time::Instant;

/// The field manager our writes are recorded under (`metadata.managedFields`).
pub const FIELD_MANAGER: &str = "playground";
/// Requests in flight during the concurrent phase: enough to hide round trips, few enough
/// not to trip API priority and fairness on a small k3s.
pub const DEFAULT_CONCURRENCY: usize = 8;
/// How long a CRD may take to become Established (real API servers take milliseconds).
pub const DEFAULT_CRD_TIMEOUT: Duration = Duration::from_secs(60);

const CRD_GROUP: &str = "apiextensions.k8s.io";
const CRD_KIND: &str = "CustomResourceDefinition";
/// Attempts per request when the failure is transient.
const ATTEMPTS: u32 = 4;

/// How [`apply`] writes.
#[derive(Debug, Clone)]
pub struct ApplyOptions {
    /// Recorded in `managedFields`; [`FIELD_MANAGER`] by default.
    pub field_manager: String,
    /// The namespace of namespaced objects that name none (like `kubectl apply -n`).
    pub default_namespace: String,
    /// Requests in flight at most during the concurrent phase (at least 1).
    pub concurrency: usize,
    /// How long every CRD together may take to become Established.
    pub crd_timeout: Duration,
}

impl ApplyOptions {
    /// Defaults, with `default_namespace` for objects that name none.
    pub fn new(default_namespace: impl Into<String>) -> Self {
        ApplyOptions {
            field_manager: FIELD_MANAGER.to_string(),
            default_namespace: default_namespace.into(),
            concurrency: DEFAULT_CONCURRENCY,
            crd_timeout: DEFAULT_CRD_TIMEOUT,
        }
    }
}

/// One object, as messages name it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectRef {
    pub api_version: String,
    pub kind: String,
    /// None for cluster-scoped objects (and before the scope is known, when none is written).
    pub namespace: Option<String>,
    pub name: String,
}

impl ObjectRef {
    /// The reference of a parsed object (as written: namespace only if the document names one).
    pub fn of(obj: &DynamicObject) -> Self {
        let types = obj.types.clone().unwrap_or_default();
        ObjectRef {
            api_version: types.api_version,
            kind: types.kind,
            namespace: obj.metadata.namespace.clone(),
            name: obj.metadata.name.clone().unwrap_or_default(),
        }
    }
}

impl fmt::Display for ObjectRef {
    /// `Kind namespace/name` or `Kind name`, as kubectl prints them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{} {ns}/{}", self.kind, self.name),
            None => write!(f, "{} {}", self.kind, self.name),
        }
    }
}

/// What is being done, for progress lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Discovery,
    Namespaces,
    Crds,
    WaitingForCrds,
    Resources,
}

/// A progress report: called after each write and at each phase change.
#[derive(Debug, Clone)]
pub struct Progress {
    pub phase: Phase,
    /// Objects applied so far.
    pub applied: usize,
    pub total: usize,
}

impl fmt::Display for Progress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.phase {
            Phase::Discovery => write!(f, "discovering API resources"),
            Phase::WaitingForCrds => write!(
                f,
                "applied {}/{}, waiting for CRDs to be Established",
                self.applied, self.total
            ),
            _ => write!(f, "applied {}/{}", self.applied, self.total),
        }
    }
}

/// What [`apply`] did.
#[derive(Debug, Clone, Default)]
pub struct ApplyReport {
    /// Objects applied.
    pub total: usize,
    /// Objects applied per kind, e.g. `Deployment: 6`.
    pub by_kind: BTreeMap<String, usize>,
    /// Wall time of the whole apply.
    pub elapsed: Duration,
    /// Of which waiting for CRDs to be Established.
    pub crd_wait: Duration,
}

impl fmt::Display for ApplyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kinds: Vec<String> = self
            .by_kind
            .iter()
            .map(|(k, n)| format!("{n} {k}"))
            .collect();
        write!(
            f,
            "{} objects in {:.1}s ({})",
            self.total,
            self.elapsed.as_secs_f64(),
            kinds.join(", ")
        )
    }
}

/// One object the API server refused.
#[derive(Debug, Clone)]
pub struct ObjectError {
    pub object: ObjectRef,
    /// The HTTP status, when the API server answered.
    pub code: Option<u16>,
    /// The API server's message (or the transport error).
    pub message: String,
}

impl fmt::Display for ObjectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.code {
            Some(code) => write!(f, "{}: {} (HTTP {code})", self.object, self.message),
            None => write!(f, "{}: {}", self.object, self.message),
        }
    }
}

/// Why an apply failed.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error(
        "{origin}: not valid YAML: {message}\n  hint: check the manifest at that position; `kubectl apply --dry-run=client -f` shows the same problem"
    )]
    Yaml { origin: String, message: String },
    #[error(
        "{origin}: document {index} is not a Kubernetes object: {reason}\n  hint: every document needs apiVersion, kind and metadata.name"
    )]
    NotAnObject {
        origin: String,
        /// 1-based, counting non-empty documents.
        index: usize,
        reason: String,
    },
    #[error(
        "discovering the resources of {api_version} failed: {source}\n  hint: is the API server reachable (`kubectl get --raw /readyz`)?"
    )]
    Discovery {
        api_version: String,
        #[source]
        source: kube::Error,
    },
    #[error(
        "the API server does not serve {}:\n{}\n  hint: check apiVersion and kind; a custom resource needs its CustomResourceDefinition in the same manifest or installed before",
        if objects.len() == 1 { "this kind" } else { "these kinds" },
        list(objects)
    )]
    UnknownKinds { objects: Vec<ObjectRef> },
    #[error(
        "CustomResourceDefinition {name} was not Established within {secs}s (last: {last})\n  hint: `kubectl describe crd {name}` shows why (names conflicting with another CRD?)"
    )]
    CrdNotEstablished {
        name: String,
        secs: u64,
        last: String,
    },
    #[error(
        "{} of {total} objects could not be applied:\n{}",
        failed.len(),
        list(failed)
    )]
    Objects {
        failed: Vec<ObjectError>,
        total: usize,
    },
}

fn list<T: fmt::Display>(items: &[T]) -> String {
    const SHOWN: usize = 10;
    let mut lines: Vec<String> = items
        .iter()
        .take(SHOWN)
        .map(|i| format!("  - {i}"))
        .collect();
    if items.len() > SHOWN {
        lines.push(format!("  … and {} more", items.len() - SHOWN));
    }
    lines.join("\n")
}

/// Split a multi-document YAML manifest into objects. `origin` names the manifest in errors
/// (a path or URL). Empty documents are skipped and `kind: List` documents expanded, as
/// kubectl does.
pub fn parse_documents(yaml: &str, origin: &str) -> Result<Vec<DynamicObject>, ApplyError> {
    let docs = parse_values(yaml, origin)?;
    let mut out = Vec::with_capacity(docs.len());
    for (i, doc) in docs.into_iter().enumerate() {
        let index = i + 1;
        let bad = |reason: String| ApplyError::NotAnObject {
            origin: origin.to_string(),
            index,
            reason,
        };
        let kind = doc.get("kind").and_then(|k| k.as_str()).unwrap_or("");
        if kind.ends_with("List") && doc.get("items").is_some_and(|i| i.is_array()) {
            for item in doc["items"].as_array().into_iter().flatten() {
                out.push(to_object(item.clone()).map_err(&bad)?);
            }
            continue;
        }
        out.push(to_object(doc).map_err(bad)?);
    }
    Ok(out)
}

/// The parser's budget. CRD schemas nest deeply and install manifests run to megabytes: the
/// default (depth 64, 250k nodes) is sized for configuration files, not for these.
fn parse_options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_depth: 256,
            max_nodes: 10_000_000,
            max_events: 50_000_000,
        },
    }
}

/// Every document of `yaml`, in order, parsed on all cores.
///
/// A YAML document marker (`---` at the start of a line) cannot occur inside a scalar, so
/// the text splits into documents without parsing, and the documents parse independently
/// (anchors do not cross documents). Install manifests are dominated by one or two huge CRDs,
/// so the biggest documents are handed out first. Any error, or a `%` directive that would
/// apply across documents, falls back to one parse of the whole text, whose error then names
/// the line in the file rather than in a piece of it.
fn parse_values(yaml: &str, origin: &str) -> Result<Vec<serde_json::Value>, ApplyError> {
    let whole = || {
        serde_saphyr::from_multiple_with_options(yaml, parse_options()).map_err(|e| {
            ApplyError::Yaml {
                origin: origin.to_string(),
                message: e.to_string(),
            }
        })
    };
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
    let chunks = split_documents(yaml);
    if workers < 2 || chunks.len() < 2 || yaml.lines().any(|l| l.starts_with('%')) {
        return whole();
    }
    // Longest first onto the least loaded worker.
    let mut order: Vec<usize> = (0..chunks.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(chunks[i].len()));
    let mut shares: Vec<(usize, Vec<usize>)> = vec![(0, Vec::new()); workers];
    for i in order {
        let least = shares.iter_mut().min_by_key(|(load, _)| *load).unwrap();
        least.0 += chunks[i].len();
        least.1.push(i);
    }
    let mut parsed: Vec<Option<Vec<serde_json::Value>>> = vec![None; chunks.len()];
    let ok = std::thread::scope(|scope| {
        let handles: Vec<_> = shares
            .iter()
            .map(|(_, mine)| {
                let chunks = &chunks;
                scope.spawn(move || {
                    mine.iter()
                        .map(|&i| {
                            serde_saphyr::from_multiple_with_options(chunks[i], parse_options())
                                .map(|v: Vec<serde_json::Value>| (i, v))
                        })
                        .collect::<Result<Vec<_>, _>>()
                })
            })
            .collect();
        let mut ok = true;
        for h in handles {
            match h.join() {
                Ok(Ok(done)) => {
                    for (i, v) in done {
                        parsed[i] = Some(v);
                    }
                }
                _ => ok = false,
            }
        }
        ok
    });
    if !ok {
        return whole();
    }
    Ok(parsed.into_iter().flatten().flatten().collect())
}

/// Split a YAML stream at its document markers (`---` or `...` at the start of a line).
fn split_documents(yaml: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut offset = 0;
    for line in yaml.split_inclusive('\n') {
        let bare = line.trim_end_matches(['\n', '\r']);
        let marker =
            |m: &str| bare == m || (bare.starts_with(m) && bare[3..].starts_with([' ', '\t']));
        if marker("---") || marker("...") {
            out.push(&yaml[start..offset]);
            // `--- value` starts a document on the marker's own line.
            start = if marker("---") {
                offset
            } else {
                offset + line.len()
            };
        }
        offset += line.len();
    }
    out.push(&yaml[start..]);
    out.retain(|c| !c.trim().is_empty());
    out
}

/// One parsed document as an object, checked for `apiVersion`, `kind` and `metadata.name`.
pub fn to_object(doc: serde_json::Value) -> Result<DynamicObject, String> {
    if !doc.is_object() {
        return Err("it is not a mapping".into());
    }
    for (path, value) in [
        ("apiVersion", &doc["apiVersion"]),
        ("kind", &doc["kind"]),
        ("metadata.name", &doc["metadata"]["name"]),
    ] {
        if value.as_str().is_none_or(str::is_empty) {
            return Err(format!("{path} is missing or not a string"));
        }
    }
    // Built by hand: `DynamicObject`'s `#[serde(flatten)] data` makes serde buffer the whole
    // document and walk it twice, which for a 1.4 MB CRD schema costs more than parsing it.
    let serde_json::Value::Object(mut map) = doc else {
        return Err("it is not a mapping".into());
    };
    let take_str =
        |map: &mut serde_json::Map<String, serde_json::Value>, key: &str| match map.remove(key) {
            Some(serde_json::Value::String(s)) => s,
            _ => String::new(),
        };
    let api_version = take_str(&mut map, "apiVersion");
    let kind = take_str(&mut map, "kind");
    let metadata = map
        .remove("metadata")
        .map(serde_json::from_value)
        .transpose()
        .map_err(|e| format!("metadata: {e}"))?
        .unwrap_or_default();
    Ok(DynamicObject {
        types: Some(kube::core::TypeMeta { api_version, kind }),
        metadata,
        data: serde_json::Value::Object(map),
    })
}

fn is_namespace(o: &DynamicObject) -> bool {
    o.types
        .as_ref()
        .is_some_and(|t| t.api_version == "v1" && t.kind == "Namespace")
}

fn is_crd(o: &DynamicObject) -> bool {
    o.types
        .as_ref()
        .is_some_and(|t| t.kind == CRD_KIND && t.api_version.split('/').next() == Some(CRD_GROUP))
}

/// The resolved kinds: `(apiVersion, kind)` → resource and scope.
type Kinds = HashMap<(String, String), (ApiResource, Scope)>;

/// Resolve every apiVersion in `versions` (one request each, in parallel) into `kinds`.
/// A group/version the server does not serve (404) is left out, not an error.
async fn discover(
    client: &kube::Client,
    versions: &HashSet<String>,
    kinds: &mut Kinds,
) -> Result<(), ApplyError> {
    let found: Vec<Option<kube::discovery::ApiGroup>> =
        futures::stream::iter(versions.iter().cloned())
            .map(|api_version| async move {
                let gv: GroupVersion =
                    api_version
                        .parse()
                        .map_err(|e: kube::core::gvk::ParseGroupVersionError| {
                            ApplyError::Discovery {
                                api_version: api_version.clone(),
                                source: kube::Error::Discovery(
                                    kube::error::DiscoveryError::InvalidGroupVersion(e.0),
                                ),
                            }
                        })?;
                match kube::discovery::pinned_group(client, &gv).await {
                    Ok(group) => Ok(Some(group)),
                    Err(kube::Error::Api(s)) if s.code == 404 => Ok(None),
                    Err(source) => Err(ApplyError::Discovery {
                        api_version,
                        source,
                    }),
                }
            })
            .buffer_unordered(DEFAULT_CONCURRENCY)
            .try_collect()
            .await?;
    for group in found.into_iter().flatten() {
        for version in group.versions().map(str::to_string).collect::<Vec<_>>() {
            for (ar, caps) in group.versioned_resources(&version) {
                kinds.insert((ar.api_version.clone(), ar.kind.clone()), (ar, caps.scope));
            }
        }
    }
    Ok(())
}

/// When an object is written, among those applied after the CRDs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Wave {
    /// Everything pods read or need to exist: ConfigMaps, Secrets, ServiceAccounts, RBAC,
    /// Services, custom resources, ….
    Config,
    /// Kinds whose controllers start pods at once.
    Workloads,
}

/// The wave of `kind` (core and `apps`/`batch` kinds make pods; a CRD's kind never does
/// here, it has no controller before its operator runs).
pub fn wave_of(api_version: &str, kind: &str) -> Wave {
    let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
    match (group, kind) {
        ("", "Pod" | "ReplicationController")
        | ("apps", "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet")
        | ("batch", "Job" | "CronJob") => Wave::Workloads,
        _ => Wave::Config,
    }
}

/// An object ready to be written: its resource, and its namespace fixed for its scope.
struct Planned {
    obj: DynamicObject,
    ar: ApiResource,
    reference: ObjectRef,
}

fn plan(obj: &DynamicObject, kinds: &Kinds, opts: &ApplyOptions) -> Result<Planned, ObjectRef> {
    let mut reference = ObjectRef::of(obj);
    let Some((ar, scope)) = kinds.get(&(reference.api_version.clone(), reference.kind.clone()))
    else {
        return Err(reference);
    };
    let mut obj = obj.clone();
    match scope {
        Scope::Cluster => obj.metadata.namespace = None,
        Scope::Namespaced => {
            if obj.metadata.namespace.as_deref().is_none_or(str::is_empty) {
                obj.metadata.namespace = Some(opts.default_namespace.clone());
            }
        }
    }
    reference.namespace = obj.metadata.namespace.clone();
    Ok(Planned {
        obj,
        ar: ar.clone(),
        reference,
    })
}

fn transient(e: &kube::Error) -> bool {
    match e {
        kube::Error::Api(s) => matches!(s.code, 429 | 500 | 502 | 503 | 504),
        kube::Error::HyperError(_) | kube::Error::Service(_) => true,
        _ => false,
    }
}

/// What we read of an apply response: only the status. The API server answers with the
/// whole object, and for a CRD that is a megabyte of schema; skipping it unparsed is much
/// cheaper than building a `DynamicObject` of it.
#[derive(serde::Deserialize)]
struct Applied {
    #[serde(default)]
    status: serde_json::Value,
}

/// Server-side apply one object, retrying transient failures.
async fn apply_one(
    client: &kube::Client,
    p: &Planned,
    params: &PatchParams,
) -> Result<Applied, ObjectError> {
    let path =
        <DynamicObject as kube::Resource>::url_path(&p.ar, p.obj.metadata.namespace.as_deref());
    let name = p.reference.name.as_str();
    let mut attempt = 1;
    loop {
        let sent = match kube::core::Request::new(&path).patch(name, params, &Patch::Apply(&p.obj))
        {
            Ok(request) => client.request::<Applied>(request).await,
            Err(e) => Err(kube::Error::BuildRequest(e)),
        };
        match sent {
            Ok(live) => return Ok(live),
            Err(e) if attempt < ATTEMPTS && transient(&e) => {
                // Back off: a busy API server (429) or a restarting one heals in moments.
                tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
                attempt += 1;
            }
            Err(e) => {
                let (code, message) = match &e {
                    kube::Error::Api(s) => (Some(s.code), s.message.clone()),
                    other => (None, other.to_string()),
                };
                return Err(ObjectError {
                    object: p.reference.clone(),
                    code,
                    message,
                });
            }
        }
    }
}

/// Apply `planned` with at most `concurrency` requests in flight, calling `done` after each.
/// Every object is attempted; the failures are returned together.
async fn apply_all(
    client: &kube::Client,
    planned: &[Planned],
    params: &PatchParams,
    concurrency: usize,
    mut done: impl FnMut(&Planned, &Applied),
) -> Vec<ObjectError> {
    let mut results = futures::stream::iter(planned.iter())
        .map(|p| async move { (p, apply_one(client, p, params).await) })
        .buffer_unordered(concurrency.max(1));
    let mut failed = Vec::new();
    while let Some((p, result)) = results.next().await {
        match result {
            Ok(live) => done(p, &live),
            Err(e) => failed.push(e),
        }
    }
    failed
}

/// The `Established` condition of a CRD: `(is true, text for messages)`.
fn established(status: &serde_json::Value) -> (bool, String) {
    let conditions = status["conditions"].as_array();
    match conditions.and_then(|cs| cs.iter().find(|c| c["type"] == "Established")) {
        Some(c) => (
            c["status"] == "True",
            format!(
                "Established={} {}",
                c["status"].as_str().unwrap_or("?"),
                c["message"].as_str().unwrap_or("")
            )
            .trim()
            .to_string(),
        ),
        None => (false, "no Established condition yet".into()),
    }
}

/// Wait until every CRD named in `pending` is Established, polling (a few ms apart at first:
/// real API servers establish in milliseconds), up to `deadline`.
async fn wait_established(
    client: &kube::Client,
    ar: &ApiResource,
    mut pending: BTreeMap<String, String>,
    deadline: Instant,
    timeout: Duration,
) -> Result<(), ApplyError> {
    let api: Api<DynamicObject> = Api::all_with(client.clone(), ar);
    let mut pause = Duration::from_millis(20);
    while !pending.is_empty() {
        if Instant::now() >= deadline {
            let (name, last) = pending.into_iter().next().unwrap_or_default();
            return Err(ApplyError::CrdNotEstablished {
                name,
                secs: timeout.as_secs(),
                last,
            });
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(500));
        for (name, last) in pending.iter_mut() {
            match api.get(name).await {
                Ok(crd) => *last = established(&crd.data["status"]).1,
                Err(e) => *last = e.to_string(),
            }
        }
        pending.retain(|_, last| !last.starts_with("Established=True"));
    }
    Ok(())
}

/// Apply `objects` server-side, in order (Namespaces, CRDs until Established, then the rest
/// in two concurrent waves: configuration, then workloads); see the module docs. `progress` is called after every write.
pub async fn apply(
    client: &kube::Client,
    objects: &[DynamicObject],
    opts: &ApplyOptions,
    progress: &(dyn Fn(&Progress) + Send + Sync),
) -> Result<ApplyReport, ApplyError> {
    let started = Instant::now();
    let total = objects.len();
    let params = PatchParams::apply(&opts.field_manager).force();
    let mut report = ApplyReport {
        total,
        ..Default::default()
    };
    progress(&Progress {
        phase: Phase::Discovery,
        applied: 0,
        total,
    });

    let versions: HashSet<String> = objects
        .iter()
        .filter_map(|o| o.types.as_ref().map(|t| t.api_version.clone()))
        .collect();
    let mut kinds = Kinds::new();
    discover(client, &versions, &mut kinds).await?;

    let (namespaces, rest): (Vec<&DynamicObject>, Vec<&DynamicObject>) =
        objects.iter().partition(|o| is_namespace(o));
    let (crds, rest): (Vec<&DynamicObject>, Vec<&DynamicObject>) =
        rest.into_iter().partition(|o| is_crd(o));

    // Namespaces and CRDs are built-in kinds: they must resolve now.
    let early: Vec<Planned> = {
        let (ok, unknown): (Vec<_>, Vec<_>) = namespaces
            .iter()
            .chain(crds.iter())
            .map(|o| plan(o, &kinds, opts))
            .partition(Result::is_ok);
        if !unknown.is_empty() {
            return Err(ApplyError::UnknownKinds {
                objects: unknown.into_iter().filter_map(Result::err).collect(),
            });
        }
        ok.into_iter().filter_map(Result::ok).collect()
    };
    let (early_ns, early_crds): (Vec<Planned>, Vec<Planned>) =
        early.into_iter().partition(|p| is_namespace(&p.obj));

    let mut applied = 0usize;
    let count = |p: &Planned, applied: &mut usize, report: &mut ApplyReport, phase: Phase| {
        *applied += 1;
        *report.by_kind.entry(p.reference.kind.clone()).or_default() += 1;
        progress(&Progress {
            phase,
            applied: *applied,
            total,
        });
    };

    for (phase, batch) in [(Phase::Namespaces, &early_ns), (Phase::Crds, &early_crds)] {
        let mut live_crds = BTreeMap::new();
        let failed = apply_all(client, batch, &params, opts.concurrency, |p, live| {
            count(p, &mut applied, &mut report, phase);
            if phase == Phase::Crds {
                live_crds.insert(p.reference.name.clone(), established(&live.status));
            }
        })
        .await;
        if !failed.is_empty() {
            return Err(ApplyError::Objects { failed, total });
        }
        // The apply response carries the CRD's status: most are Established already.
        let pending: BTreeMap<String, String> = live_crds
            .into_iter()
            .filter(|(_, (ok, _))| !ok)
            .map(|(name, (_, last))| (name, last))
            .collect();
        if !pending.is_empty() {
            progress(&Progress {
                phase: Phase::WaitingForCrds,
                applied,
                total,
            });
            let wait_started = Instant::now();
            let crd_ar = &batch[0].ar;
            wait_established(
                client,
                crd_ar,
                pending,
                wait_started + opts.crd_timeout,
                opts.crd_timeout,
            )
            .await?;
            report.crd_wait = wait_started.elapsed();
        }
    }

    // The kinds the CRDs added. Discovery can lag Established by a moment on a real API
    // server, so retry those groups until the CRD deadline.
    let crd_groups: HashSet<String> = early_crds
        .iter()
        .filter_map(|p| p.obj.data["spec"]["group"].as_str().map(String::from))
        .collect();
    let deadline = Instant::now() + opts.crd_timeout;
    let planned: Vec<Planned> = loop {
        let (ok, unknown): (Vec<_>, Vec<_>) = rest
            .iter()
            .map(|o| plan(o, &kinds, opts))
            .partition(Result::is_ok);
        let unknown: Vec<ObjectRef> = unknown.into_iter().filter_map(Result::err).collect();
        if unknown.is_empty() {
            break ok.into_iter().filter_map(Result::ok).collect();
        }
        let retry: HashSet<String> = unknown
            .iter()
            .filter(|r| {
                let group = r.api_version.rsplit_once('/').map_or("", |(g, _)| g);
                crd_groups.contains(group)
            })
            .map(|r| r.api_version.clone())
            .collect();
        if retry.is_empty() || Instant::now() >= deadline {
            return Err(ApplyError::UnknownKinds { objects: unknown });
        }
        discover(client, &retry, &mut kinds).await?;
        if retry
            .iter()
            .any(|v| !kinds.keys().any(|(api_version, _)| api_version == v))
        {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };

    // Each wave is concurrent inside; a wave starts when the one before has been written.
    // A failure in the first wave stops before any workload is written: its pods would start
    // without what they read.
    let (config, workloads): (Vec<Planned>, Vec<Planned>) = planned
        .into_iter()
        .partition(|p| wave_of(&p.reference.api_version, &p.reference.kind) == Wave::Config);
    for wave in [config, workloads] {
        let failed = apply_all(client, &wave, &params, opts.concurrency, |p, _| {
            count(p, &mut applied, &mut report, Phase::Resources)
        })
        .await;
        if !failed.is_empty() {
            return Err(ApplyError::Objects { failed, total });
        }
    }
    report.elapsed = started.elapsed();
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_documents_and_skips_empty_ones() {
        let yaml = "---\n# a comment only\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  k: \"true\"\n---\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: b\n  namespace: x\nspec:\n  replicas: 2\n";
        let objs = parse_documents(yaml, "test.yaml").unwrap();
        assert_eq!(objs.len(), 2);
        assert_eq!(ObjectRef::of(&objs[0]).to_string(), "ConfigMap a");
        assert_eq!(objs[0].data["data"]["k"], "true");
        assert_eq!(ObjectRef::of(&objs[1]).to_string(), "Deployment x/b");
        assert_eq!(objs[1].data["spec"]["replicas"], 2);
    }

    #[test]
    fn parallel_parsing_matches_one_parse_of_the_whole_text() {
        let text = include_str!("../../tests/fixtures/argocd-install-v3.5.1.yaml");
        let whole: Vec<serde_json::Value> =
            serde_saphyr::from_multiple_with_options(text, parse_options()).unwrap();
        assert_eq!(parse_values(text, "install.yaml").unwrap(), whole);
        let tricky = "--- {a: 1}\n...\n---\nb: |\n  ---not a marker\n  text\n---\n# only a comment\n--- \nc: [1]\n";
        let whole: Vec<serde_json::Value> =
            serde_saphyr::from_multiple_with_options(tricky, parse_options()).unwrap();
        assert_eq!(whole.len(), 3, "{whole:?}");
        assert_eq!(parse_values(tricky, "t.yaml").unwrap(), whole);
    }

    #[test]
    fn a_parse_error_names_the_line_in_the_whole_file() {
        // Line 6 of the file is line 2 of its third document.
        let text = "a: 1\n---\nb: 2\n---\nc: [1, 2\nd: e\n";
        let e = parse_values(text, "m.yaml").unwrap_err().to_string();
        assert!(e.starts_with("m.yaml: not valid YAML"), "{e}");
        assert!(e.contains("line 6 column 2"), "{e}");
    }

    #[test]
    fn expands_lists() {
        let yaml = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: a}\n- apiVersion: v1\n  kind: Secret\n  metadata: {name: b}\n";
        let objs = parse_documents(yaml, "l.yaml").unwrap();
        let names: Vec<String> = objs.iter().map(|o| ObjectRef::of(o).to_string()).collect();
        assert_eq!(names, ["ConfigMap a", "Secret b"]);
    }

    #[test]
    fn rejects_documents_that_are_not_objects() {
        let yaml = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\nkind: ConfigMap\nmetadata: {name: b}\n";
        let e = parse_documents(yaml, "m.yaml").unwrap_err();
        let text = e.to_string();
        assert!(text.contains("m.yaml: document 2"), "{text}");
        assert!(text.contains("apiVersion"), "{text}");
    }

    #[test]
    fn bad_yaml_names_the_origin_and_position() {
        let e = parse_documents("a: [1, 2\nb: c\n", "bad.yaml").unwrap_err();
        let text = e.to_string();
        assert!(text.starts_with("bad.yaml: not valid YAML"), "{text}");
    }

    #[test]
    fn parses_the_argocd_manifest() {
        let text = include_str!("../../tests/fixtures/argocd-install-v3.5.1.yaml");
        let objs = parse_documents(text, "install.yaml").unwrap();
        assert_eq!(objs.len(), 59);
        assert_eq!(objs.iter().filter(|o| is_crd(o)).count(), 3);
        assert!(objs.iter().all(|o| o.metadata.namespace.is_none()));
    }

    #[test]
    fn what_pods_read_goes_in_the_wave_before_what_makes_pods() {
        for (api_version, kind) in [
            ("v1", "ConfigMap"),
            ("v1", "Secret"),
            ("v1", "ServiceAccount"),
            ("v1", "Service"),
            ("rbac.authorization.k8s.io/v1", "Role"),
            ("networking.k8s.io/v1", "NetworkPolicy"),
            ("argoproj.io/v1alpha1", "Application"),
            // A custom kind named like a workload is not one.
            ("example.com/v1", "Deployment"),
        ] {
            assert_eq!(wave_of(api_version, kind), Wave::Config, "{kind}");
        }
        for (api_version, kind) in [
            ("apps/v1", "Deployment"),
            ("apps/v1", "StatefulSet"),
            ("apps/v1", "DaemonSet"),
            ("apps/v1", "ReplicaSet"),
            ("batch/v1", "Job"),
            ("batch/v1", "CronJob"),
            ("v1", "Pod"),
            ("v1", "ReplicationController"),
        ] {
            assert_eq!(wave_of(api_version, kind), Wave::Workloads, "{kind}");
        }
        // In Argo CD's manifest: the ConfigMaps and Secrets the Deployments read come first.
        let text = include_str!("../../tests/fixtures/argocd-install-v3.5.1.yaml");
        let objs = parse_documents(text, "install.yaml").unwrap();
        let wave = |kind: &str| {
            let waves: HashSet<Wave> = objs
                .iter()
                .map(ObjectRef::of)
                .filter(|r| r.kind == kind)
                .map(|r| wave_of(&r.api_version, &r.kind))
                .collect();
            assert_eq!(waves.len(), 1, "{kind}: {waves:?}");
            waves.into_iter().next().unwrap()
        };
        assert_eq!(wave("ConfigMap"), Wave::Config);
        assert_eq!(wave("Secret"), Wave::Config);
        assert_eq!(wave("Deployment"), Wave::Workloads);
        assert_eq!(wave("StatefulSet"), Wave::Workloads);
    }

    #[test]
    fn errors_list_every_failed_object() {
        let failed: Vec<ObjectError> = (0..12)
            .map(|i| ObjectError {
                object: ObjectRef {
                    api_version: "v1".into(),
                    kind: "ConfigMap".into(),
                    namespace: Some("ns".into()),
                    name: format!("cm{i}"),
                },
                code: Some(422),
                message: "invalid".into(),
            })
            .collect();
        let text = ApplyError::Objects { failed, total: 20 }.to_string();
        assert!(
            text.starts_with("12 of 20 objects could not be applied"),
            "{text}"
        );
        assert!(
            text.contains("ConfigMap ns/cm0: invalid (HTTP 422)"),
            "{text}"
        );
        assert!(text.contains("… and 2 more"), "{text}");
    }
}

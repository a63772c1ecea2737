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
//!
//! Steps 1 and the per-object planning are pure and live in `parse.rs`; this file holds the
//! calls to the API server (discovery, the writes, the CRD wait).

mod parse;

use parse::{Kinds, Planned, established, is_crd, is_namespace, plan};
pub use parse::{NotAnObject, Wave, parse_documents, to_object, wave_of};

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::core::GroupVersion;
use kube::discovery::ApiResource;
use tokio::time::Instant;

/// The field manager our writes are recorded under (`metadata.managedFields`).
pub(crate) const FIELD_MANAGER: &str = "playground";
/// Requests in flight during the concurrent phase: enough to hide round trips, few enough
/// not to trip API priority and fairness on a small k3s.
pub(crate) const DEFAULT_CONCURRENCY: usize = 8;
/// How long a CRD may take to become Established (real API servers take milliseconds).
pub(crate) const DEFAULT_CRD_TIMEOUT: Duration = Duration::from_secs(60);

const CRD_GROUP: &str = "apiextensions.k8s.io";
const CRD_KIND: &str = "CustomResourceDefinition";
/// Attempts per request when the failure is transient.
const ATTEMPTS: u32 = 4;

/// How [`apply`] writes.
#[derive(Debug, Clone)]
pub struct ApplyOptions {
    /// Recorded in `managedFields`; [`FIELD_MANAGER`] by default.
    pub(crate) field_manager: String,
    /// The namespace of namespaced objects that name none (like `kubectl apply -n`).
    pub(crate) default_namespace: String,
    /// Requests in flight at most during the concurrent phase (at least 1).
    pub(crate) concurrency: usize,
    /// How long every CRD together may take to become Established.
    pub(crate) crd_timeout: Duration,
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
    pub(crate) api_version: String,
    pub(crate) kind: String,
    /// None for cluster-scoped objects (and before the scope is known, when none is written).
    pub(crate) namespace: Option<String>,
    pub(crate) name: String,
}

impl ObjectRef {
    /// The reference of a parsed object (as written: namespace only if the document names one).
    pub(crate) fn of(obj: &DynamicObject) -> Self {
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
pub(crate) enum Phase {
    Discovery,
    Namespaces,
    Crds,
    WaitingForCrds,
    Resources,
}

/// A progress report: called after each write and at each phase change.
#[derive(Debug, Clone)]
pub struct Progress {
    pub(crate) phase: Phase,
    /// Objects applied so far.
    pub applied: usize,
    pub(crate) total: usize,
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
    pub(crate) elapsed: Duration,
    /// Of which waiting for CRDs to be Established.
    pub(crate) crd_wait: Duration,
    /// Every object applied, its namespace as written (fixed for its scope), in the order
    /// the writes finished.
    pub(crate) applied: Vec<ObjectRef>,
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

/// What the last look at a CRD that is not Established yet saw.
#[derive(Debug, thiserror::Error)]
pub enum CrdLast {
    /// Its Established condition, or that it has none yet.
    #[error("{0}")]
    Condition(String),
    /// Reading it failed. Boxed: a kube::Error is large, and ApplyError travels far.
    #[error("{0}")]
    Api(#[source] Box<kube::Error>),
}

/// One object the API server refused (or that the transport lost).
#[derive(Debug)]
pub struct ObjectError {
    pub(crate) object: ObjectRef,
    pub(crate) source: kube::Error,
}

impl ObjectError {}

impl fmt::Display for ObjectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            // The server's own words; its `reason` (`Invalid`, …) adds nothing to them.
            kube::Error::Api(s) => write!(f, "{}: {} (HTTP {})", self.object, s.message, s.code),
            other => write!(f, "{}: {other}", self.object),
        }
    }
}

impl std::error::Error for ObjectError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// Why an apply failed.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("{origin}: not valid YAML: {source}")]
    Yaml {
        origin: String,
        #[source]
        source: Box<serde_saphyr::Error>,
    },
    #[error("{origin}: document {index} is not a Kubernetes object: {reason}")]
    NotAnObject {
        origin: String,
        /// 1-based, counting non-empty documents.
        index: usize,
        #[source]
        reason: NotAnObject,
    },
    #[error("discovering the resources of {api_version} failed: {source}")]
    Discovery {
        api_version: String,
        #[source]
        source: kube::Error,
    },
    #[error(
        "the API server does not serve {}:\n{}",
        if objects.len() == 1 { "this kind" } else { "these kinds" },
        list(objects)
    )]
    UnknownKinds { objects: Vec<ObjectRef> },
    #[error("CustomResourceDefinition {name} was not Established within {secs}s (last: {last})")]
    CrdNotEstablished {
        name: String,
        secs: u64,
        #[source]
        last: CrdLast,
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

impl crate::diag::Hinted for ApplyError {
    fn hint(&self) -> Option<String> {
        match self {
            Self::Yaml { .. } => Some("check the manifest at that position; `kubectl apply --dry-run=client -f` shows the same problem".to_string()),
            Self::NotAnObject { .. } => Some("every document needs apiVersion, kind and metadata.name".to_string()),
            Self::Discovery { .. } => Some("is the API server reachable (`kubectl get --raw /readyz`)?".to_string()),
            Self::UnknownKinds { .. } => Some("check apiVersion and kind; a custom resource needs its CustomResourceDefinition in the same manifest or installed before".to_string()),
            Self::CrdNotEstablished { name, .. } => Some(format!("`kubectl describe crd {name}` shows why (names conflicting with another CRD?)")),
            _ => None,
        }
    }
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
            Err(source) => {
                return Err(ObjectError {
                    object: p.reference.clone(),
                    source,
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

/// Wait until every CRD named in `pending` is Established, polling (a few ms apart at first:
/// real API servers establish in milliseconds), up to `deadline`.
async fn wait_established(
    client: &kube::Client,
    ar: &ApiResource,
    mut pending: BTreeMap<String, CrdLast>,
    deadline: Instant,
    timeout: Duration,
) -> Result<(), ApplyError> {
    let api: Api<DynamicObject> = Api::all_with(client.clone(), ar);
    let mut pause = Duration::from_millis(20);
    loop {
        let Some(first) = pending.keys().next().cloned() else {
            return Ok(());
        };
        if Instant::now() >= deadline {
            let last = pending.remove(&first).expect("the first pending CRD");
            return Err(ApplyError::CrdNotEstablished {
                name: first,
                secs: timeout.as_secs(),
                last,
            });
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(500));
        let mut done = Vec::new();
        for (name, last) in pending.iter_mut() {
            match api.get(name).await {
                Ok(crd) => {
                    let (ok, condition) = established(&crd.data["status"]);
                    if ok {
                        done.push(name.clone());
                    }
                    *last = CrdLast::Condition(condition);
                }
                Err(e) => *last = CrdLast::Api(Box::new(e)),
            }
        }
        for name in done {
            pending.remove(&name);
        }
    }
}

/// Plan each object; the references of those whose kind the API does not serve, if any.
fn plan_all<'a>(
    objects: impl Iterator<Item = &'a DynamicObject>,
    kinds: &Kinds,
    opts: &ApplyOptions,
) -> Result<Vec<Planned>, Vec<ObjectRef>> {
    let (ok, unknown): (Vec<_>, Vec<_>) = objects
        .map(|o| plan(o, kinds, opts))
        .partition(Result::is_ok);
    if unknown.is_empty() {
        Ok(ok.into_iter().filter_map(Result::ok).collect())
    } else {
        Err(unknown.into_iter().filter_map(Result::err).collect())
    }
}

/// Plan the objects after the CRDs are in: their kinds may be ones the CRDs added, which
/// discovery can show a moment after Established on a real API server, so the groups of those
/// CRDs are discovered again until the CRD deadline.
async fn plan_after_crds(
    client: &kube::Client,
    rest: &[&DynamicObject],
    early_crds: &[Planned],
    kinds: &mut Kinds,
    opts: &ApplyOptions,
) -> Result<Vec<Planned>, ApplyError> {
    let crd_groups: HashSet<String> = early_crds
        .iter()
        .filter_map(|p| p.obj.data["spec"]["group"].as_str().map(String::from))
        .collect();
    let deadline = Instant::now() + opts.crd_timeout;
    loop {
        let unknown = match plan_all(rest.iter().copied(), kinds, opts) {
            Ok(planned) => return Ok(planned),
            Err(unknown) => unknown,
        };
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
        discover(client, &retry, kinds).await?;
        if retry
            .iter()
            .any(|v| !kinds.keys().any(|(api_version, _)| api_version == v))
        {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
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
    let early = plan_all(namespaces.iter().chain(crds.iter()).copied(), &kinds, opts)
        .map_err(|objects| ApplyError::UnknownKinds { objects })?;
    let (early_ns, early_crds): (Vec<Planned>, Vec<Planned>) =
        early.into_iter().partition(|p| is_namespace(&p.obj));

    let mut applied = 0usize;
    let count = |p: &Planned, applied: &mut usize, report: &mut ApplyReport, phase: Phase| {
        *applied += 1;
        *report.by_kind.entry(p.reference.kind.clone()).or_default() += 1;
        report.applied.push(p.reference.clone());
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
        let pending: BTreeMap<String, CrdLast> = live_crds
            .into_iter()
            .filter(|(_, (ok, _))| !ok)
            .map(|(name, (_, last))| (name, CrdLast::Condition(last)))
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

    let planned = plan_after_crds(client, &rest, &early_crds, &mut kinds, opts).await?;

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
    fn errors_list_every_failed_object() {
        let failed: Vec<ObjectError> = (0..12)
            .map(|i| ObjectError {
                object: ObjectRef {
                    api_version: "v1".into(),
                    kind: "ConfigMap".into(),
                    namespace: Some("ns".into()),
                    name: format!("cm{i}"),
                },
                source: kube::Error::Api(
                    kube::core::Status {
                        code: 422,
                        message: "invalid".into(),
                        reason: "Invalid".into(),
                        ..Default::default()
                    }
                    .boxed(),
                ),
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

//! The verbs on resources: get, list, create, update, patch, apply, delete.
//!
//! Every write goes through [`commit`], which plays the apiserver's registry strategy:
//! it keeps identity metadata (uid, creationTimestamp), keeps `.status` out of main
//! resource writes (and everything but `.status` out of `/status` writes) for kinds with
//! a status subresource, bumps `metadata.generation` on spec changes, runs per-kind
//! defaulting (Namespace phase, CRD conditions), skips no-op writes (no new
//! resourceVersion, as the real server) and stores the result.

use serde_json::{Value, json};

use super::apply::{self, Scope};
use super::discovery::{ResourceInfo, crd_gr, from_crd};
use super::meta::{
    dns1123_subdomain_error, name_of, new_uid, now_rfc3339, path_segment_error, random_suffix,
};
use super::select::Selector;
use super::status::{ApiError, ApiResult};
use super::store::{Gr, Store};

pub fn ns_gr() -> Gr {
    (String::new(), "namespaces".into())
}

/// Options shared by writes.
#[derive(Debug, Clone, Default)]
pub struct WriteOpts {
    pub manager: String,
    pub dry_run: bool,
}

/// Set `apiVersion` and `kind` as the client asked for them (CRDs may serve several versions).
pub fn present(info: &ResourceInfo, mut obj: Value) -> Value {
    obj["apiVersion"] = json!(info.api_version());
    obj["kind"] = json!(info.kind);
    obj
}

/// Whether the kind's registry strategy maintains `metadata.generation` (custom resources
/// and kinds with a spec that controllers act on; not ConfigMaps, Secrets, Namespaces...).
fn has_generation(info: &ResourceInfo) -> bool {
    info.crd
        || matches!(
            info.group.as_str(),
            "apps" | "batch" | "networking.k8s.io" | "policy" | "apiextensions.k8s.io"
        )
}

/// The part of an object whose change bumps `metadata.generation`.
fn spec_part(obj: &Value) -> Value {
    let mut o = obj.clone();
    if let Some(m) = o.as_object_mut() {
        m.remove("metadata");
        m.remove("status");
        m.remove("apiVersion");
        m.remove("kind");
    }
    o
}

/// Kind-specific defaulting and status, like the registry strategies and controllers that
/// run synchronously enough in a real cluster to be considered part of the write.
fn defaults(info: &ResourceInfo, obj: &mut Value) {
    if info.is("", "namespaces") {
        let name = name_of(obj).to_string();
        obj["metadata"]["labels"]["kubernetes.io/metadata.name"] = json!(name);
        if obj["spec"]["finalizers"].is_null() {
            obj["spec"]["finalizers"] = json!(["kubernetes"]);
        }
        if obj["status"]["phase"].is_null() {
            obj["status"]["phase"] = json!("Active");
        }
    }
    if info.is("apiextensions.k8s.io", "customresourcedefinitions") {
        // The real apiextensions controllers accept the names and establish the CRD within
        // milliseconds; doing it in the write keeps CR creation ordered after it.
        let stamp = |t: &str| {
            obj["status"]["conditions"]
                .as_array()
                .and_then(|cs| cs.iter().find(|c| c["type"] == t))
                .and_then(|c| c["lastTransitionTime"].as_str().map(String::from))
                .unwrap_or_else(now_rfc3339)
        };
        let (t1, t2) = (stamp("NamesAccepted"), stamp("Established"));
        let stored: Vec<Value> = obj["spec"]["versions"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|v| v["storage"].as_bool() == Some(true))
            .map(|v| v["name"].clone())
            .collect();
        obj["status"] = json!({
            "conditions": [
                {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "message": "no conflicts found", "lastTransitionTime": t1},
                {"type": "Established", "status": "True", "reason": "InitialNamesAccepted", "message": "the initial names have been accepted", "lastTransitionTime": t2},
            ],
            "acceptedNames": obj["spec"]["names"].clone(),
            "storedVersions": stored,
        });
    }
}

/// Commit `new` as the next state of an object whose current state is `old`.
/// `manager` is Some for non-apply writes, whose managedFields are recorded here.
/// A Secret's `stringData` is write-only: the API server folds it into base64 `data` and
/// never stores or returns it.
fn fold_string_data(info: &ResourceInfo, obj: &mut Value) {
    if info.kind != "Secret" {
        return;
    }
    let Some(string_data) = obj.as_object_mut().and_then(|m| m.remove("stringData")) else {
        return;
    };
    use base64::Engine as _;
    if let Some(entries) = string_data.as_object() {
        if !obj["data"].is_object() {
            obj["data"] = Value::Object(Default::default());
        }
        for (k, v) in entries {
            let text = v.as_str().unwrap_or_default();
            obj["data"][k] = Value::String(base64::engine::general_purpose::STANDARD.encode(text));
        }
    }
}

pub fn commit(
    store: &mut Store,
    info: &ResourceInfo,
    old: Option<&Value>,
    mut new: Value,
    scope: Scope,
    manager: Option<&str>,
    dry_run: bool,
) -> ApiResult<Value> {
    fold_string_data(info, &mut new);
    if let Some(old) = old {
        if scope == Scope::Status {
            // Only .status (and the managedFields recorded for it) may change.
            let mut merged = old.clone();
            merged["status"] = new.get("status").cloned().unwrap_or(Value::Null);
            if merged["status"].is_null() {
                merged.as_object_mut().unwrap().remove("status");
            }
            merged["metadata"]["managedFields"] = new["metadata"]["managedFields"].clone();
            new = merged;
        } else if info.has_status {
            match old.get("status") {
                Some(s) => new["status"] = s.clone(),
                None => {
                    if let Some(m) = new.as_object_mut() {
                        m.remove("status");
                    }
                }
            }
        }
        for k in [
            "uid",
            "creationTimestamp",
            "name",
            "namespace",
            "generation",
        ] {
            match old["metadata"].get(k) {
                Some(v) => new["metadata"][k] = v.clone(),
                None => {
                    if let Some(m) = new["metadata"].as_object_mut() {
                        m.remove(k);
                    }
                }
            }
        }
    } else {
        new["metadata"]["uid"] = json!(new_uid());
        new["metadata"]["creationTimestamp"] = json!(now_rfc3339());
        if has_generation(info) {
            new["metadata"]["generation"] = json!(1);
        }
    }
    if let Some(m) = new["metadata"].as_object_mut() {
        m.remove("resourceVersion");
    }
    new = present(info, new);
    if let Some(manager) = manager {
        apply::record_update(old, &mut new, manager, &info.api_version(), scope);
    }
    if let Some(old) = old
        && has_generation(info)
        && spec_part(old) != spec_part(&new)
    {
        let g = old["metadata"]["generation"].as_i64().unwrap_or(1);
        new["metadata"]["generation"] = json!(g + 1);
    }
    defaults(info, &mut new);
    if let Some(old) = old {
        let mut old_cmp = apply::without_times(old);
        let mut new_cmp = apply::without_times(&new);
        old_cmp["metadata"]["resourceVersion"] = Value::Null;
        new_cmp["metadata"]["resourceVersion"] = Value::Null;
        old_cmp["apiVersion"] = Value::Null;
        new_cmp["apiVersion"] = Value::Null;
        if old_cmp == new_cmp {
            return Ok(present(info, old.clone()));
        }
    }
    if dry_run {
        return Ok(new);
    }
    Ok(store.put(&info.gr(), new))
}

fn check_name(info: &ResourceInfo, name: &str) -> ApiResult<()> {
    if name.is_empty() {
        return Err(ApiError::invalid(
            &info.group,
            &info.kind,
            "",
            &[(
                "FieldValueRequired",
                "metadata.name",
                "Required value: name or generateName is required".into(),
            )],
        ));
    }
    let err = if info.group == "rbac.authorization.k8s.io" {
        path_segment_error(name)
    } else {
        dns1123_subdomain_error(name)
    };
    match err {
        Some(msg) => Err(ApiError::invalid(
            &info.group,
            &info.kind,
            name,
            &[("FieldValueInvalid", "metadata.name", msg)],
        )),
        None => Ok(()),
    }
}

/// NamespaceLifecycle admission: namespaced objects need an existing namespace.
fn check_namespace(store: &Store, info: &ResourceInfo, ns: &str) -> ApiResult<()> {
    if info.namespaced && store.get(&ns_gr(), "", ns).is_none() {
        return Err(ApiError::not_found("", "namespaces", ns));
    }
    Ok(())
}

fn body_object(body: Value) -> ApiResult<Value> {
    if !body.is_object() {
        return Err(ApiError::bad_request(
            "the body of the request must be a JSON object",
        ));
    }
    Ok(body)
}

pub fn get(store: &Store, info: &ResourceInfo, ns: &str, name: &str) -> ApiResult<Value> {
    store
        .get(&info.gr(), ns, name)
        .map(|o| present(info, o.clone()))
        .ok_or_else(|| ApiError::not_found(&info.group, &info.plural, name))
}

pub fn list(
    store: &Store,
    info: &ResourceInfo,
    ns: Option<&str>,
    sel: &Selector,
) -> (Vec<Value>, u64) {
    let items = store
        .list(&info.gr(), ns)
        .into_iter()
        .filter(|o| sel.matches(o))
        .map(|o| present(info, o))
        .collect();
    (items, store.current_rv())
}

pub fn list_doc(info: &ResourceInfo, items: Vec<Value>, rv: u64) -> Value {
    json!({
        "kind": format!("{}List", info.kind),
        "apiVersion": info.api_version(),
        "metadata": {"resourceVersion": rv.to_string()},
        "items": items,
    })
}

pub fn create(
    store: &mut Store,
    info: &ResourceInfo,
    path_ns: Option<&str>,
    body: Value,
    o: &WriteOpts,
) -> ApiResult<Value> {
    let mut obj = body_object(body)?;
    if !obj["metadata"].is_object() {
        obj["metadata"] = json!({});
    }
    let mut name = name_of(&obj).to_string();
    if name.is_empty()
        && let Some(prefix) = obj["metadata"]["generateName"].as_str()
    {
        name = format!("{prefix}{}", random_suffix());
        obj["metadata"]["name"] = json!(name);
    }
    check_name(info, &name)?;
    let ns = if info.namespaced {
        let body_ns = obj["metadata"]["namespace"].as_str().unwrap_or("");
        let ns = path_ns
            .unwrap_or(if body_ns.is_empty() {
                "default"
            } else {
                body_ns
            })
            .to_string();
        if !body_ns.is_empty() && body_ns != ns {
            return Err(ApiError::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
        obj["metadata"]["namespace"] = json!(ns);
        check_namespace(store, info, &ns)?;
        ns
    } else {
        if let Some(m) = obj["metadata"].as_object_mut() {
            m.remove("namespace");
        }
        String::new()
    };
    if store.get(&info.gr(), &ns, &name).is_some() {
        return Err(ApiError::already_exists(&info.group, &info.plural, &name));
    }
    if let Some(m) = obj["metadata"].as_object_mut() {
        m.remove("managedFields");
    }
    if info.has_status && (info.crd || matches!(info.group.as_str(), "apps" | "batch")) {
        // Registry strategies reset the status of new workloads and custom resources.
        obj.as_object_mut().unwrap().remove("status");
    }
    commit(
        store,
        info,
        None,
        obj,
        Scope::Main { has_status: false },
        Some(&o.manager),
        o.dry_run,
    )
}

fn scope_of(info: &ResourceInfo, sub: Option<&str>) -> ApiResult<Scope> {
    match sub {
        None => Ok(Scope::Main {
            has_status: info.has_status,
        }),
        Some("status") if info.has_status => Ok(Scope::Status),
        Some(_) => Err(ApiError::no_route()),
    }
}

fn check_body_name(body: &mut Value, name: &str) -> ApiResult<()> {
    match body["metadata"]["name"].as_str() {
        Some(n) if n != name => Err(ApiError::bad_request(format!(
            "the name of the object ({n}) does not match the name on the URL ({name})"
        ))),
        Some(_) => Ok(()),
        None => {
            if !body["metadata"].is_object() {
                body["metadata"] = json!({});
            }
            body["metadata"]["name"] = json!(name);
            Ok(())
        }
    }
}

#[allow(clippy::too_many_arguments)]
pub fn update(
    store: &mut Store,
    info: &ResourceInfo,
    ns: &str,
    name: &str,
    sub: Option<&str>,
    body: Value,
    o: &WriteOpts,
) -> ApiResult<Value> {
    let scope = scope_of(info, sub)?;
    let mut body = body_object(body)?;
    check_body_name(&mut body, name)?;
    let live = store
        .get(&info.gr(), ns, name)
        .cloned()
        .ok_or_else(|| ApiError::not_found(&info.group, &info.plural, name))?;
    if let Some(rv) = body["metadata"]["resourceVersion"].as_str()
        && !rv.is_empty()
        && Some(rv) != live["metadata"]["resourceVersion"].as_str()
    {
        return Err(ApiError::rv_conflict(&info.group, &info.plural, name));
    }
    if let Some(m) = body["metadata"].as_object_mut() {
        m.remove("managedFields");
    }
    body["metadata"]["managedFields"] = live["metadata"]["managedFields"].clone();
    commit(
        store,
        info,
        Some(&live),
        body,
        scope,
        Some(&o.manager),
        o.dry_run,
    )
}

/// The patch formats, by request Content-Type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchKind {
    Merge,
    Strategic,
    Json,
    Apply,
}

impl PatchKind {
    pub fn from_content_type(ct: &str) -> Option<Self> {
        let ct = ct.split(';').next().unwrap_or("").trim();
        match ct {
            "application/merge-patch+json" => Some(Self::Merge),
            "application/strategic-merge-patch+json" => Some(Self::Strategic),
            "application/json-patch+json" => Some(Self::Json),
            "application/apply-patch+yaml" | "application/apply-patch+json" => Some(Self::Apply),
            _ => None,
        }
    }
}

#[allow(clippy::too_many_arguments)]
pub fn patch(
    store: &mut Store,
    info: &ResourceInfo,
    ns: &str,
    name: &str,
    sub: Option<&str>,
    kind: PatchKind,
    mut patch: Value,
    o: &WriteOpts,
) -> ApiResult<Value> {
    let scope = scope_of(info, sub)?;
    let live = store
        .get(&info.gr(), ns, name)
        .cloned()
        .ok_or_else(|| ApiError::not_found(&info.group, &info.plural, name))?;
    let mut new = live.clone();
    match kind {
        PatchKind::Merge => apply::merge_patch(&mut new, &patch),
        PatchKind::Strategic => {
            apply::strip_directives(&mut patch);
            apply::merge_patch(&mut new, &patch)
        }
        PatchKind::Json => apply::json_patch(&mut new, &patch).map_err(ApiError::bad_request)?,
        PatchKind::Apply => unreachable!("apply is handled by server_side_apply"),
    }
    if new["metadata"]["resourceVersion"] != live["metadata"]["resourceVersion"] {
        return Err(ApiError::rv_conflict(&info.group, &info.plural, name));
    }
    commit(
        store,
        info,
        Some(&live),
        new,
        scope,
        Some(&o.manager),
        o.dry_run,
    )
}

#[allow(clippy::too_many_arguments)]
pub fn server_side_apply(
    store: &mut Store,
    info: &ResourceInfo,
    ns: &str,
    name: &str,
    sub: Option<&str>,
    body: Value,
    force: bool,
    o: &WriteOpts,
) -> ApiResult<(Value, bool)> {
    let scope = scope_of(info, sub)?;
    let mut body = body_object(body)?;
    check_body_name(&mut body, name)?;
    if info.namespaced
        && let Some(bns) = body["metadata"]["namespace"].as_str()
        && bns != ns
    {
        return Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        ));
    }
    let live = store.get(&info.gr(), ns, name).cloned();
    if live.is_none() {
        if scope == Scope::Status {
            return Err(ApiError::not_found(&info.group, &info.plural, name));
        }
        check_name(info, name)?;
        check_namespace(store, info, ns)?;
    }
    let mut out = apply::apply(
        live.as_ref(),
        &body,
        &o.manager,
        force,
        &info.api_version(),
        scope,
    )
    .map_err(|c| ApiError::apply_conflict(&info.group, &info.kind, name, &c))?;
    out["metadata"]["name"] = json!(name);
    if info.namespaced {
        out["metadata"]["namespace"] = json!(ns);
    }
    let created = live.is_none();
    if created && info.has_status {
        out.as_object_mut().unwrap().remove("status");
    }
    let obj = commit(store, info, live.as_ref(), out, scope, None, o.dry_run)?;
    Ok((obj, created))
}

pub fn delete(
    store: &mut Store,
    info: &ResourceInfo,
    ns: &str,
    name: &str,
    dry_run: bool,
) -> ApiResult<Value> {
    let gr = info.gr();
    let Some(obj) = store.get(&gr, ns, name).cloned() else {
        return Err(ApiError::not_found(&info.group, &info.plural, name));
    };
    if dry_run {
        return Ok(present(info, obj));
    }
    let obj = store.delete(&gr, ns, name).unwrap_or(obj);
    if info.is("", "namespaces") {
        // The namespace controller's cleanup, done at once.
        let namespaced: Vec<Gr> = super::discovery::all_resources(store)
            .into_iter()
            .filter(|r| r.namespaced)
            .map(|r| r.gr())
            .collect();
        for gr in namespaced {
            for o in store.list(&gr, Some(name)) {
                store.delete(&gr, name, name_of(&o));
            }
        }
    }
    if gr == crd_gr() {
        for r in from_crd(&obj).into_iter().take(1) {
            for o in store.list(&r.gr(), None) {
                let (ons, oname) = (
                    super::meta::namespace_of(&o).to_string(),
                    name_of(&o).to_string(),
                );
                store.delete(&r.gr(), &ons, &oname);
            }
        }
    }
    Ok(present(info, obj))
}

/// Kinds with a `/scale` subresource (`kubectl scale`).
pub fn has_scale(info: &ResourceInfo) -> bool {
    info.group == "apps"
        && matches!(
            info.plural.as_str(),
            "deployments" | "statefulsets" | "replicasets"
        )
}

/// The `autoscaling/v1 Scale` view of a workload.
pub fn scale_of(obj: &Value) -> Value {
    json!({
        "apiVersion": "autoscaling/v1",
        "kind": "Scale",
        "metadata": {
            "name": obj["metadata"]["name"], "namespace": obj["metadata"]["namespace"],
            "uid": obj["metadata"]["uid"], "resourceVersion": obj["metadata"]["resourceVersion"],
            "creationTimestamp": obj["metadata"]["creationTimestamp"],
        },
        "spec": {"replicas": obj["spec"]["replicas"].as_i64().unwrap_or(1)},
        "status": {"replicas": obj["status"]["replicas"].as_i64().unwrap_or(0)},
    })
}

/// PUT or PATCH on `/scale`: only `spec.replicas` carries over to the workload.
pub fn write_scale(
    store: &mut Store,
    info: &ResourceInfo,
    ns: &str,
    name: &str,
    change: impl FnOnce(&mut Value) -> ApiResult<()>,
    o: &WriteOpts,
) -> ApiResult<Value> {
    let live = store
        .get(&info.gr(), ns, name)
        .cloned()
        .ok_or_else(|| ApiError::not_found(&info.group, &info.plural, name))?;
    let mut scale = scale_of(&live);
    change(&mut scale)?;
    if let Some(rv) = scale["metadata"]["resourceVersion"].as_str()
        && Some(rv) != live["metadata"]["resourceVersion"].as_str()
    {
        return Err(ApiError::rv_conflict(&info.group, &info.plural, name));
    }
    let mut new = live.clone();
    new["spec"]["replicas"] = scale["spec"]["replicas"].clone();
    let obj = commit(
        store,
        info,
        Some(&live),
        new,
        Scope::Main {
            has_status: info.has_status,
        },
        Some(&o.manager),
        o.dry_run,
    )?;
    Ok(scale_of(&obj))
}

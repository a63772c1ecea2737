//! Patches and server-side apply, with `metadata.managedFields` bookkeeping.
//!
//! Field ownership is tracked per manager as a set of leaf paths (`f:` entries in
//! `fieldsV1`). A leaf is a scalar, a list, or an empty map: lists are treated as atomic,
//! a simplification of the real structured-merge-diff, which merges associative lists
//! by key.
//!
//! Apply by manager M with configuration A against live object L:
//! 1. every path in A that overlaps a path owned by another manager, where L and A
//!    differ, is a conflict (409 unless `force`, which moves ownership to M);
//! 2. paths M applied before and no longer applies are removed from L, unless another
//!    manager still owns them;
//! 3. A's leaves are written into L, and M's Apply entry becomes exactly A's paths.
//!
//! Non-apply writes (create, update, merge patch) give the changed paths to the writing
//! manager as an `Update` entry and take them from everyone else, without conflicts.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use super::meta::now_rfc3339;

pub type Path = Vec<String>;
pub type FieldSet = BTreeSet<Path>;

/// Which part of an object a write may touch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The main resource; `.status` belongs to the status subresource when `has_status`.
    Main { has_status: bool },
    /// The `/status` subresource: only `.status`.
    Status,
}

impl Scope {
    pub fn subresource(self) -> Option<&'static str> {
        match self {
            Scope::Main { .. } => None,
            Scope::Status => Some("status"),
        }
    }
}

/// Metadata the server owns; never part of a field set.
const SERVER_META: &[&str] = &[
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "managedFields",
    "selfLink",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "generateName",
];

/// RFC 7386 JSON merge patch.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    match patch {
        Value::Object(p) => {
            if !target.is_object() {
                *target = Value::Object(Map::new());
            }
            let t = target.as_object_mut().unwrap();
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        _ => *target = patch.clone(),
    }
}

/// Strategic merge patch is applied as a merge patch: drop its `$` directives
/// (`$patch`, `$setElementOrder/...`, `$retainKeys`) so they do not land in the object.
pub fn strip_directives(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|k, _| !k.starts_with('$'));
            m.values_mut().for_each(strip_directives);
        }
        Value::Array(a) => a.iter_mut().for_each(strip_directives),
        _ => {}
    }
}

fn pointer_parts(p: &str) -> Vec<String> {
    p.split('/')
        .skip(1)
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect()
}

/// RFC 6902 JSON patch (add, remove, replace, test, copy, move).
pub fn json_patch(target: &mut Value, ops: &Value) -> Result<(), String> {
    let ops = ops.as_array().ok_or("json patch must be an array")?;
    for op in ops {
        let kind = op["op"].as_str().ok_or("missing op")?;
        let path = op["path"].as_str().ok_or("missing path")?;
        match kind {
            "add" | "replace" => {
                let value = op.get("value").ok_or("missing value")?.clone();
                pointer_set(target, path, value, kind == "add")?
            }
            "remove" => {
                pointer_remove(target, path)?;
            }
            "test" => {
                if target.pointer(path) != op.get("value") {
                    return Err(format!("test failed at {path}"));
                }
            }
            "copy" | "move" => {
                let from = op["from"].as_str().ok_or("missing from")?;
                let value = if kind == "move" {
                    pointer_remove(target, from)?
                } else {
                    target
                        .pointer(from)
                        .cloned()
                        .ok_or_else(|| format!("missing {from}"))?
                };
                pointer_set(target, path, value, true)?
            }
            other => return Err(format!("unknown op {other}")),
        }
    }
    Ok(())
}

fn pointer_set(target: &mut Value, path: &str, value: Value, insert: bool) -> Result<(), String> {
    let mut parts = pointer_parts(path);
    let Some(last) = parts.pop() else {
        *target = value;
        return Ok(());
    };
    let parent = target
        .pointer_mut(&path[..path.len() - last.len() - 1])
        .ok_or_else(|| format!("missing parent of {path}"))?;
    let _ = parts;
    match parent {
        Value::Object(m) => {
            m.insert(last, value);
        }
        Value::Array(a) => {
            if last == "-" {
                a.push(value);
            } else {
                let i: usize = last.parse().map_err(|_| format!("bad index {last}"))?;
                if insert && i <= a.len() {
                    a.insert(i, value);
                } else if i < a.len() {
                    a[i] = value;
                } else {
                    return Err(format!("index {i} out of range"));
                }
            }
        }
        _ => return Err(format!("cannot set {path}")),
    }
    Ok(())
}

fn pointer_remove(target: &mut Value, path: &str) -> Result<Value, String> {
    let last = path
        .rsplit('/')
        .next()
        .unwrap_or("")
        .replace("~1", "/")
        .replace("~0", "~");
    let parent = target
        .pointer_mut(&path[..path.rfind('/').unwrap_or(0)])
        .ok_or_else(|| format!("missing {path}"))?;
    match parent {
        Value::Object(m) => m.remove(&last).ok_or_else(|| format!("missing {path}")),
        Value::Array(a) => {
            let i: usize = last.parse().map_err(|_| format!("bad index {last}"))?;
            if i < a.len() {
                Ok(a.remove(i))
            } else {
                Err(format!("index {i} out of range"))
            }
        }
        _ => Err(format!("cannot remove {path}")),
    }
}

/// The leaf paths of an object that a write in `scope` covers.
pub fn leaf_paths(obj: &Value, scope: Scope) -> FieldSet {
    let mut out = FieldSet::new();
    let Some(top) = obj.as_object() else {
        return out;
    };
    for (k, v) in top {
        let wanted = match scope {
            Scope::Status => k == "status",
            Scope::Main { has_status } => {
                k != "apiVersion" && k != "kind" && !(has_status && k == "status")
            }
        };
        if !wanted {
            continue;
        }
        if k == "metadata" {
            for (mk, mv) in v.as_object().into_iter().flatten() {
                if !SERVER_META.contains(&mk.as_str()) {
                    walk(mv, vec!["metadata".into(), mk.clone()], &mut out);
                }
            }
        } else {
            walk(v, vec![k.clone()], &mut out);
        }
    }
    out
}

fn walk(v: &Value, path: Path, out: &mut FieldSet) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, c) in m {
                let mut p = path.clone();
                p.push(k.clone());
                walk(c, p, out);
            }
        }
        _ => {
            out.insert(path);
        }
    }
}

pub fn value_at<'a>(v: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(v, |cur, k| cur.get(k))
}

fn set_at(v: &mut Value, path: &[String], value: &Value) {
    let mut cur = v;
    for k in &path[..path.len() - 1] {
        if !cur.is_object() {
            *cur = json!({});
        }
        cur = cur
            .as_object_mut()
            .unwrap()
            .entry(k.clone())
            .or_insert_with(|| json!({}));
    }
    if !cur.is_object() {
        *cur = json!({});
    }
    let last = path.last().unwrap().clone();
    let m = cur.as_object_mut().unwrap();
    // An empty map leaf only asserts the map exists; it must not wipe children others own.
    if value.as_object().is_some_and(Map::is_empty) && m.get(&last).is_some_and(Value::is_object) {
        return;
    }
    m.insert(last, value.clone());
}

/// Remove a leaf and the maps it leaves empty (below the top level).
fn remove_at(v: &mut Value, path: &[String]) {
    if path.is_empty() {
        return;
    }
    let Some(parent) = path[..path.len() - 1]
        .iter()
        .try_fold(&mut *v, |cur, k| cur.get_mut(k))
    else {
        return;
    };
    if let Some(m) = parent.as_object_mut() {
        m.remove(path.last().unwrap());
        if m.is_empty() && path.len() > 2 {
            remove_at(v, &path[..path.len() - 1]);
        }
    }
}

/// Paths in `set` equal to `p`, above it, or below it.
fn overlapping<'a>(set: &'a FieldSet, p: &Path) -> Vec<&'a Path> {
    let mut out: Vec<&Path> = (1..p.len())
        .filter_map(|n| set.get(&p[..n].to_vec()))
        .collect();
    out.extend(set.range(p.clone()..).take_while(|q| q.starts_with(p)));
    out
}

pub fn render_path(p: &Path) -> String {
    p.iter().map(|s| format!(".{s}")).collect()
}

/// One `managedFields` entry.
#[derive(Debug, Clone)]
pub struct Managed {
    pub manager: String,
    pub operation: String,
    pub api_version: String,
    pub time: String,
    pub subresource: Option<String>,
    pub fields: FieldSet,
}

fn fields_to_v1(set: &FieldSet) -> Value {
    let mut root = json!({});
    for p in set {
        let mut cur = &mut root;
        for k in p {
            cur = cur
                .as_object_mut()
                .unwrap()
                .entry(format!("f:{k}"))
                .or_insert_with(|| json!({}));
        }
    }
    root
}

fn fields_from_v1(v: &Value, path: &mut Path, out: &mut FieldSet) {
    let children: Vec<(&String, &Value)> = v
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(k, _)| k.as_str() != ".")
        .collect();
    if children.is_empty() || children.iter().any(|(k, _)| !k.starts_with("f:")) {
        if !path.is_empty() {
            out.insert(path.clone());
        }
        return;
    }
    for (k, c) in children {
        path.push(k[2..].to_string());
        fields_from_v1(c, path, out);
        path.pop();
    }
}

pub fn read_managed(obj: &Value) -> Vec<Managed> {
    obj["metadata"]["managedFields"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            let mut fields = FieldSet::new();
            fields_from_v1(&e["fieldsV1"], &mut Vec::new(), &mut fields);
            Managed {
                manager: e["manager"].as_str().unwrap_or("").into(),
                operation: e["operation"].as_str().unwrap_or("Update").into(),
                api_version: e["apiVersion"].as_str().unwrap_or("").into(),
                time: e["time"].as_str().unwrap_or("").into(),
                subresource: e["subresource"].as_str().map(String::from),
                fields,
            }
        })
        .collect()
}

pub fn write_managed(obj: &mut Value, managed: &[Managed]) {
    let entries: Vec<Value> = managed
        .iter()
        .filter(|m| !m.fields.is_empty())
        .map(|m| {
            let mut e = json!({
                "manager": m.manager,
                "operation": m.operation,
                "apiVersion": m.api_version,
                "time": m.time,
                "fieldsType": "FieldsV1",
                "fieldsV1": fields_to_v1(&m.fields),
            });
            if let Some(s) = &m.subresource {
                e["subresource"] = json!(s);
            }
            e
        })
        .collect();
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        if entries.is_empty() {
            meta.remove("managedFields");
        } else {
            meta.insert("managedFields".into(), Value::Array(entries));
        }
    }
}

/// Record a non-apply write of `new` (replacing `old`) by `manager`.
pub fn record_update(
    old: Option<&Value>,
    new: &mut Value,
    manager: &str,
    api_version: &str,
    scope: Scope,
) {
    let mut managed = old.map(read_managed).unwrap_or_default();
    let new_paths = leaf_paths(new, scope);
    let old_paths = old.map(|o| leaf_paths(o, scope)).unwrap_or_default();
    let changed: FieldSet = new_paths
        .iter()
        .filter(|p| old.and_then(|o| value_at(o, p)) != value_at(new, p))
        .cloned()
        .collect();
    let removed: FieldSet = old_paths.difference(&new_paths).cloned().collect();
    let sub = scope.subresource().map(String::from);
    for m in &mut managed {
        if m.subresource != sub {
            continue;
        }
        for p in changed.iter().chain(removed.iter()) {
            for q in overlapping(&m.fields.clone(), p) {
                m.fields.remove(q);
            }
        }
    }
    if !changed.is_empty() {
        match managed
            .iter_mut()
            .find(|m| m.manager == manager && m.operation == "Update" && m.subresource == sub)
        {
            Some(m) => {
                m.fields.extend(changed);
                m.time = now_rfc3339();
                m.api_version = api_version.into();
            }
            None => managed.push(Managed {
                manager: manager.into(),
                operation: "Update".into(),
                api_version: api_version.into(),
                time: now_rfc3339(),
                subresource: sub,
                fields: changed,
            }),
        }
    }
    managed.retain(|m| !m.fields.is_empty());
    write_managed(new, &managed);
}

/// Server-side apply. Returns the merged object (identity metadata still to be set by the
/// caller) or the conflicts as `(manager, field)`.
pub fn apply(
    live: Option<&Value>,
    applied: &Value,
    manager: &str,
    force: bool,
    api_version: &str,
    scope: Scope,
) -> Result<Value, Vec<(String, String)>> {
    let empty = json!({});
    let live_v = live.unwrap_or(&empty);
    let mut managed = live.map(read_managed).unwrap_or_default();
    let sub = scope.subresource().map(String::from);
    let a_paths = leaf_paths(applied, scope);

    let mut conflicts: Vec<(String, String)> = Vec::new();
    for m in managed
        .iter_mut()
        .filter(|m| m.manager != manager && m.subresource == sub)
    {
        let mut lost = Vec::new();
        for p in &a_paths {
            for q in overlapping(&m.fields, p) {
                let longer = if q.len() > p.len() { q } else { p };
                if value_at(live_v, longer) != value_at(applied, longer) {
                    let c = (m.manager.clone(), render_path(q));
                    if !conflicts.contains(&c) {
                        conflicts.push(c);
                    }
                    lost.push(q.clone());
                }
            }
        }
        if force {
            for q in lost {
                m.fields.remove(&q);
            }
        }
    }
    if !conflicts.is_empty() && !force {
        return Err(conflicts);
    }

    let mut out = live.cloned().unwrap_or_else(|| json!({}));
    let prev = managed
        .iter()
        .find(|m| m.manager == manager && m.operation == "Apply" && m.subresource == sub)
        .map(|m| m.fields.clone())
        .unwrap_or_default();
    for p in prev.difference(&a_paths) {
        let is_self = |m: &Managed| m.manager == manager && m.operation == "Apply";
        let still_owned = managed
            .iter()
            .any(|m| !is_self(m) && !overlapping(&m.fields, p).is_empty());
        if !still_owned {
            remove_at(&mut out, p);
        }
    }
    for p in &a_paths {
        if let Some(v) = value_at(applied, p) {
            set_at(&mut out, p, v);
        }
    }
    match managed
        .iter_mut()
        .find(|m| m.manager == manager && m.operation == "Apply" && m.subresource == sub)
    {
        Some(m) => {
            if m.fields != a_paths {
                m.time = now_rfc3339();
            }
            m.fields = a_paths;
            m.api_version = api_version.into();
        }
        None => managed.push(Managed {
            manager: manager.into(),
            operation: "Apply".into(),
            api_version: api_version.into(),
            time: now_rfc3339(),
            subresource: sub,
            fields: a_paths,
        }),
    }
    managed.retain(|m| !m.fields.is_empty());
    if !out.get("metadata").is_some_and(Value::is_object) {
        out["metadata"] = json!({});
    }
    write_managed(&mut out, &managed);
    Ok(out)
}

/// An object with the managedFields timestamps blanked, to detect no-op writes.
pub fn without_times(obj: &Value) -> Value {
    let mut o = obj.clone();
    if let Some(entries) = o["metadata"]["managedFields"].as_array_mut() {
        for e in entries {
            e["time"] = Value::Null;
        }
    }
    o
}

//! Server-side printing: `meta.k8s.io/v1 Table` responses for `kubectl get`.
//!
//! kubectl asks with `Accept: application/json;as=Table;v=v1;g=meta.k8s.io` and prints the
//! cells it gets. Each row carries the object as `PartialObjectMetadata` (kubectl sends
//! `includeObject=Metadata`), from which `-A` takes the NAMESPACE column.

use serde_json::{Value, json};

use super::discovery::ResourceInfo;
use super::meta::{age_of, json_path, parse_time, str_at};

/// Whether the Accept header asks for a Table.
pub fn wants_table(accept: &str) -> bool {
    accept
        .split(',')
        .any(|part| part.contains("as=Table") && part.contains("g=meta.k8s.io"))
}

fn col(name: &str, type_: &str, description: &str, priority: i64) -> Value {
    let format = if name == "Name" { "name" } else { "" };
    json!({"name": name, "type": type_, "format": format, "description": description, "priority": priority})
}

fn node_roles(obj: &Value) -> String {
    let mut roles: Vec<&str> = obj["metadata"]["labels"]
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(k, _)| k.strip_prefix("node-role.kubernetes.io/"))
        .filter(|r| !r.is_empty())
        .collect();
    roles.sort();
    if roles.is_empty() {
        "<none>".into()
    } else {
        roles.join(",")
    }
}

fn node_status(obj: &Value) -> String {
    let ready = obj["status"]["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == "Ready"));
    let mut s = match ready.and_then(|c| c["status"].as_str()) {
        Some("True") => "Ready".to_string(),
        Some(_) => "NotReady".to_string(),
        None => "Unknown".to_string(),
    };
    if obj["spec"]["unschedulable"].as_bool() == Some(true) {
        s.push_str(",SchedulingDisabled");
    }
    s
}

fn cell(v: Option<&Value>, type_: &str) -> Value {
    match v {
        None | Some(Value::Null) => Value::Null,
        Some(Value::String(s)) if type_ == "date" => match parse_time(s) {
            Some(t) => json!(super::meta::human_duration(
                (time::OffsetDateTime::now_utc() - t).whole_seconds()
            )),
            None => json!(s),
        },
        Some(Value::String(s)) => json!(s),
        Some(v @ (Value::Number(_) | Value::Bool(_))) => v.clone(),
        Some(other) => json!(other.to_string()),
    }
}

fn int(v: &Value) -> i64 {
    v.as_i64().unwrap_or(0)
}

/// Column definitions and one row of cells per object.
fn columns_and_cells(info: &ResourceInfo, objs: &[Value]) -> (Vec<Value>, Vec<Vec<Value>>) {
    let name_col = col(
        "Name",
        "string",
        "Name must be unique within a namespace.",
        0,
    );
    let age_col = col(
        "Age",
        "string",
        "CreationTimestamp is a timestamp representing the server time when this object was created.",
        0,
    );
    let name = |o: &Value| json!(str_at(o, &["metadata", "name"]).unwrap_or(""));
    match (info.group.as_str(), info.plural.as_str()) {
        ("", "nodes") => (
            vec![
                name_col,
                col("Status", "string", "The status of the node", 0),
                col("Roles", "string", "The roles of the node", 0),
                age_col,
                col(
                    "Version",
                    "string",
                    "Kubelet Version reported by the node.",
                    0,
                ),
            ],
            objs.iter()
                .map(|o| {
                    vec![
                        name(o),
                        json!(node_status(o)),
                        json!(node_roles(o)),
                        json!(age_of(o)),
                        json!(str_at(o, &["status", "nodeInfo", "kubeletVersion"]).unwrap_or("")),
                    ]
                })
                .collect(),
        ),
        ("", "namespaces") => (
            vec![
                name_col,
                col("Status", "string", "The status of the namespace", 0),
                age_col,
            ],
            objs.iter()
                .map(|o| {
                    vec![
                        name(o),
                        json!(str_at(o, &["status", "phase"]).unwrap_or("")),
                        json!(age_of(o)),
                    ]
                })
                .collect(),
        ),
        ("apps", "deployments") => (
            vec![
                name_col,
                col("Ready", "string", "Number of the pod with ready state", 0),
                col(
                    "Up-to-date",
                    "integer",
                    "Total number of non-terminated pods targeted by this deployment that have the desired template spec.",
                    0,
                ),
                col(
                    "Available",
                    "integer",
                    "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.",
                    0,
                ),
                age_col,
            ],
            objs.iter()
                .map(|o| {
                    let want = o["spec"]["replicas"].as_i64().unwrap_or(1);
                    vec![
                        name(o),
                        json!(format!("{}/{}", int(&o["status"]["readyReplicas"]), want)),
                        json!(int(&o["status"]["updatedReplicas"])),
                        json!(int(&o["status"]["availableReplicas"])),
                        json!(age_of(o)),
                    ]
                })
                .collect(),
        ),
        ("apps", "statefulsets") => (
            vec![
                name_col,
                col("Ready", "string", "Number of the pod with ready state", 0),
                age_col,
            ],
            objs.iter()
                .map(|o| {
                    let want = o["spec"]["replicas"].as_i64().unwrap_or(1);
                    vec![
                        name(o),
                        json!(format!("{}/{}", int(&o["status"]["readyReplicas"]), want)),
                        json!(age_of(o)),
                    ]
                })
                .collect(),
        ),
        _ if info.crd && !info.columns.is_empty() => {
            let mut defs = vec![name_col];
            defs.extend(
                info.columns
                    .iter()
                    .map(|c| col(&c.name, &c.type_, &c.description, c.priority)),
            );
            let has_age = info
                .columns
                .iter()
                .any(|c| c.json_path == ".metadata.creationTimestamp");
            if !has_age {
                defs.push(age_col);
            }
            let rows = objs
                .iter()
                .map(|o| {
                    let mut cells = vec![name(o)];
                    cells.extend(
                        info.columns
                            .iter()
                            .map(|c| cell(json_path(o, &c.json_path), &c.type_)),
                    );
                    if !has_age {
                        cells.push(json!(age_of(o)));
                    }
                    cells
                })
                .collect();
            (defs, rows)
        }
        _ => (
            vec![name_col, age_col],
            objs.iter()
                .map(|o| vec![name(o), json!(age_of(o))])
                .collect(),
        ),
    }
}

/// Metadata-only view of an object, as rows embed it.
fn partial(obj: &Value) -> Value {
    let mut meta = obj["metadata"].clone();
    if let Some(m) = meta.as_object_mut() {
        m.remove("managedFields");
    }
    json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": meta})
}

pub fn to_table(
    info: &ResourceInfo,
    objs: &[Value],
    rv: Option<u64>,
    include_object: &str,
) -> Value {
    let (defs, cells) = columns_and_cells(info, objs);
    let rows: Vec<Value> = objs
        .iter()
        .zip(cells)
        .map(|(o, cells)| {
            let object = match include_object {
                "None" => Value::Null,
                "Object" => o.clone(),
                _ => partial(o),
            };
            json!({"cells": cells, "object": object})
        })
        .collect();
    let mut meta = json!({});
    if let Some(rv) = rv {
        meta["resourceVersion"] = json!(rv.to_string());
    }
    json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": meta, "columnDefinitions": defs, "rows": rows})
}

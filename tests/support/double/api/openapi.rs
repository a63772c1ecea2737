//! A minimal `/openapi/v3`, just enough for kubectl to choose server-side field validation.
//!
//! kubectl (cli-runtime `query_param_verifier_v3.go`) reads the root document's `paths`,
//! follows `serverRelativeURL` to the group-version document, and looks for a PATCH
//! operation whose `x-kubernetes-group-version-kind` is the object's GVK and which lists a
//! `fieldValidation` parameter. For custom resources whose group-version is missing it
//! falls back to checking `Namespace` in `api/v1`. Without such a document kubectl warns
//! and validates client-side, so every served kind gets a PATCH operation here. No
//! schemas are served (`components.schemas` is empty): the double does not validate fields.

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::discovery::{ResourceInfo, all_resources, group_versions};
use super::store::Store;

fn gv_key(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

fn query_param(name: &str, description: &str) -> Value {
    json!({"name": name, "in": "query", "description": description, "schema": {"type": "string", "uniqueItems": true}})
}

fn patch_path(r: &ResourceInfo) -> (String, Value) {
    let prefix = if r.group.is_empty() {
        format!("/api/{}", r.version)
    } else {
        format!("/apis/{}/{}", r.group, r.version)
    };
    let path = if r.namespaced {
        format!("{prefix}/namespaces/{{namespace}}/{}/{{name}}", r.plural)
    } else {
        format!("{prefix}/{}/{{name}}", r.plural)
    };
    let op = json!({
        "description": format!("partially update the specified {}", r.kind),
        "operationId": format!("patch{}", r.kind),
        "parameters": [
            query_param("dryRun", "When present, indicates that modifications should not be persisted."),
            query_param("fieldManager", "fieldManager is a name associated with the actor or entity that is making these changes."),
            query_param("fieldValidation", "fieldValidation instructs the server on how to handle objects in the request containing unknown or duplicate fields."),
            query_param("force", "Force is going to \"force\" Apply requests."),
        ],
        "responses": {"200": {"description": "OK"}},
        "x-kubernetes-action": "patch",
        "x-kubernetes-group-version-kind": {"group": r.group, "version": r.version, "kind": r.kind},
    });
    (path, json!({"patch": op}))
}

/// The document for one group-version, or None if nothing is served there.
pub fn gv_doc(store: &Store, group: &str, version: &str) -> Option<Value> {
    let rs: Vec<ResourceInfo> = all_resources(store)
        .into_iter()
        .filter(|r| r.group == group && r.version == version)
        .collect();
    if rs.is_empty() {
        return None;
    }
    let paths: Map<String, Value> = rs.iter().map(patch_path).collect();
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.33.5+k3s1"},
        "paths": paths,
        "components": {"schemas": {}},
    }))
}

/// The root: every group-version with a URL whose hash changes when its document does.
pub fn root(store: &Store) -> Value {
    let mut paths = Map::new();
    for (g, v) in group_versions(store) {
        let doc = gv_doc(store, &g, &v).unwrap_or(Value::Null);
        let hash = Sha256::digest(doc.to_string().as_bytes());
        let hex: String = hash.iter().take(16).map(|b| format!("{b:02X}")).collect();
        let key = gv_key(&g, &v);
        paths.insert(
            key.clone(),
            json!({"serverRelativeURL": format!("/openapi/v3/{key}?hash={hex}")}),
        );
    }
    json!({"paths": paths})
}

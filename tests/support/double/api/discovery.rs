//! The resource registry and the discovery documents built from it.
//!
//! Built-in kinds come from a static table; CustomResourceDefinitions in the store add
//! their served versions. Clients learn both through `/api`, `/api/v1`, `/apis` and
//! `/apis/{group}/{version}`. kubectl 1.32 first asks for aggregated discovery
//! (`apidiscovery.k8s.io/v2` via Accept); answering with the legacy documents and
//! `Content-Type: application/json` makes it fall back, which is what old servers do.

use serde_json::{Value, json};

use super::meta::{at, str_at};
use super::store::{Gr, Store};

/// An additional printer column (`kubectl get` output), as a CRD declares it.
#[derive(Debug, Clone)]
pub struct Column {
    pub name: String,
    pub type_: String,
    pub json_path: String,
    pub priority: i64,
    pub description: String,
}

/// One served resource at one group-version.
#[derive(Debug, Clone)]
pub struct ResourceInfo {
    pub group: String,
    pub version: String,
    pub plural: String,
    pub singular: String,
    pub kind: String,
    pub namespaced: bool,
    pub short_names: Vec<String>,
    pub categories: Vec<String>,
    pub has_status: bool,
    /// Printer columns of a custom resource; empty for built-ins (see `table`).
    pub columns: Vec<Column>,
    pub crd: bool,
}

impl ResourceInfo {
    pub fn gr(&self) -> Gr {
        (self.group.clone(), self.plural.clone())
    }

    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    pub fn is(&self, group: &str, plural: &str) -> bool {
        self.group == group && self.plural == plural
    }
}

const VERBS: [&str; 8] = [
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

/// (group, version, plural, kind, namespaced, has_status, short names, categories)
type Builtin = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    bool,
    bool,
    &'static [&'static str],
    &'static [&'static str],
);

const BUILTINS: &[Builtin] = &[
    (
        "",
        "v1",
        "namespaces",
        "Namespace",
        false,
        true,
        &["ns"],
        &[],
    ),
    ("", "v1", "nodes", "Node", false, true, &["no"], &[]),
    ("", "v1", "pods", "Pod", true, true, &["po"], &["all"]),
    (
        "",
        "v1",
        "services",
        "Service",
        true,
        true,
        &["svc"],
        &["all"],
    ),
    (
        "",
        "v1",
        "endpoints",
        "Endpoints",
        true,
        false,
        &["ep"],
        &[],
    ),
    (
        "",
        "v1",
        "configmaps",
        "ConfigMap",
        true,
        false,
        &["cm"],
        &[],
    ),
    ("", "v1", "secrets", "Secret", true, false, &[], &[]),
    (
        "",
        "v1",
        "serviceaccounts",
        "ServiceAccount",
        true,
        false,
        &["sa"],
        &[],
    ),
    ("", "v1", "events", "Event", true, false, &["ev"], &[]),
    (
        "",
        "v1",
        "persistentvolumeclaims",
        "PersistentVolumeClaim",
        true,
        true,
        &["pvc"],
        &[],
    ),
    (
        "apps",
        "v1",
        "deployments",
        "Deployment",
        true,
        true,
        &["deploy"],
        &["all"],
    ),
    (
        "apps",
        "v1",
        "statefulsets",
        "StatefulSet",
        true,
        true,
        &["sts"],
        &["all"],
    ),
    (
        "apps",
        "v1",
        "daemonsets",
        "DaemonSet",
        true,
        true,
        &["ds"],
        &["all"],
    ),
    (
        "apps",
        "v1",
        "replicasets",
        "ReplicaSet",
        true,
        true,
        &["rs"],
        &["all"],
    ),
    (
        "rbac.authorization.k8s.io",
        "v1",
        "roles",
        "Role",
        true,
        false,
        &[],
        &[],
    ),
    (
        "rbac.authorization.k8s.io",
        "v1",
        "rolebindings",
        "RoleBinding",
        true,
        false,
        &[],
        &[],
    ),
    (
        "rbac.authorization.k8s.io",
        "v1",
        "clusterroles",
        "ClusterRole",
        false,
        false,
        &[],
        &[],
    ),
    (
        "rbac.authorization.k8s.io",
        "v1",
        "clusterrolebindings",
        "ClusterRoleBinding",
        false,
        false,
        &[],
        &[],
    ),
    (
        "networking.k8s.io",
        "v1",
        "networkpolicies",
        "NetworkPolicy",
        true,
        false,
        &["netpol"],
        &[],
    ),
    (
        "networking.k8s.io",
        "v1",
        "ingresses",
        "Ingress",
        true,
        true,
        &["ing"],
        &[],
    ),
    (
        "apiextensions.k8s.io",
        "v1",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        false,
        true,
        &["crd", "crds"],
        &["api-extensions"],
    ),
    (
        "coordination.k8s.io",
        "v1",
        "leases",
        "Lease",
        true,
        false,
        &[],
        &[],
    ),
    ("batch", "v1", "jobs", "Job", true, true, &[], &["all"]),
    (
        "policy",
        "v1",
        "poddisruptionbudgets",
        "PodDisruptionBudget",
        true,
        true,
        &["pdb"],
        &[],
    ),
];

pub fn builtins() -> Vec<ResourceInfo> {
    BUILTINS
        .iter()
        .map(
            |&(group, version, plural, kind, namespaced, has_status, short, cats)| ResourceInfo {
                group: group.into(),
                version: version.into(),
                plural: plural.into(),
                singular: kind.to_lowercase(),
                kind: kind.into(),
                namespaced,
                short_names: short.iter().map(|s| s.to_string()).collect(),
                categories: cats.iter().map(|s| s.to_string()).collect(),
                has_status,
                columns: Vec::new(),
                crd: false,
            },
        )
        .collect()
}

pub fn crd_gr() -> Gr {
    (
        "apiextensions.k8s.io".into(),
        "customresourcedefinitions".into(),
    )
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// The resources a CRD serves: one per served version.
pub fn from_crd(crd: &Value) -> Vec<ResourceInfo> {
    let spec = &crd["spec"];
    let group = spec["group"].as_str().unwrap_or_default();
    let names = &spec["names"];
    let plural = names["plural"].as_str().unwrap_or_default();
    let kind = names["kind"].as_str().unwrap_or_default();
    let singular = names["singular"]
        .as_str()
        .map(String::from)
        .unwrap_or_else(|| kind.to_lowercase());
    let namespaced = spec["scope"].as_str() != Some("Cluster");
    spec["versions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|v| v["served"].as_bool().unwrap_or(true))
        .map(|v| ResourceInfo {
            group: group.into(),
            version: v["name"].as_str().unwrap_or_default().into(),
            plural: plural.into(),
            singular: singular.clone(),
            kind: kind.into(),
            namespaced,
            short_names: strings(names.get("shortNames")),
            categories: strings(names.get("categories")),
            has_status: at(v, &["subresources", "status"]).is_some(),
            columns: v["additionalPrinterColumns"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| Column {
                    name: c["name"].as_str().unwrap_or_default().into(),
                    type_: c["type"].as_str().unwrap_or("string").into(),
                    json_path: c["jsonPath"].as_str().unwrap_or_default().into(),
                    priority: c["priority"].as_i64().unwrap_or(0),
                    description: c["description"].as_str().unwrap_or_default().into(),
                })
                .collect(),
            crd: true,
        })
        .collect()
}

/// Everything currently served: built-ins, then custom resources.
pub fn all_resources(store: &Store) -> Vec<ResourceInfo> {
    let mut all = builtins();
    for crd in store.list_ref(&crd_gr()) {
        all.extend(from_crd(crd));
    }
    all
}

pub fn resolve(store: &Store, group: &str, version: &str, plural: &str) -> Option<ResourceInfo> {
    if let Some(b) = builtins()
        .into_iter()
        .find(|r| r.group == group && r.version == version && r.plural == plural)
    {
        return Some(b);
    }
    let crd = store.get(&crd_gr(), "", &format!("{plural}.{group}"))?;
    from_crd(crd).into_iter().find(|r| r.version == version)
}

/// Served group-versions, in discovery order, each with its preferred (first) version.
fn groups(all: &[ResourceInfo]) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for r in all {
        if r.group.is_empty() {
            continue;
        }
        match out.iter_mut().find(|(g, _)| *g == r.group) {
            Some((_, versions)) => {
                if !versions.contains(&r.version) {
                    versions.push(r.version.clone());
                }
            }
            None => out.push((r.group.clone(), vec![r.version.clone()])),
        }
    }
    out
}

pub fn api_versions(server_address: &str) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    })
}

fn group_doc(group: &str, versions: &[String]) -> Value {
    let gvs: Vec<Value> = versions
        .iter()
        .map(|v| json!({"groupVersion": format!("{group}/{v}"), "version": v}))
        .collect();
    json!({"name": group, "versions": gvs, "preferredVersion": gvs[0]})
}

pub fn api_group_list(store: &Store) -> Value {
    let all = all_resources(store);
    let groups: Vec<Value> = groups(&all)
        .iter()
        .map(|(g, vs)| group_doc(g, vs))
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

pub fn api_group(store: &Store, group: &str) -> Option<Value> {
    let all = all_resources(store);
    let (g, vs) = groups(&all).into_iter().find(|(g, _)| g == group)?;
    let mut doc = group_doc(&g, &vs);
    doc["kind"] = json!("APIGroup");
    doc["apiVersion"] = json!("v1");
    Some(doc)
}

/// `APIResourceList` for one group-version, or None when nothing is served there.
pub fn resource_list(store: &Store, group: &str, version: &str) -> Option<Value> {
    let rs: Vec<ResourceInfo> = all_resources(store)
        .into_iter()
        .filter(|r| r.group == group && r.version == version)
        .collect();
    if rs.is_empty() {
        return None;
    }
    let mut resources = Vec::new();
    for r in &rs {
        let mut doc = json!({
            "name": r.plural,
            "singularName": r.singular,
            "namespaced": r.namespaced,
            "kind": r.kind,
            "verbs": VERBS,
        });
        if !r.short_names.is_empty() {
            doc["shortNames"] = json!(r.short_names);
        }
        if !r.categories.is_empty() {
            doc["categories"] = json!(r.categories);
        }
        resources.push(doc);
        if r.group == "apps"
            && matches!(
                r.plural.as_str(),
                "deployments" | "statefulsets" | "replicasets"
            )
        {
            resources.push(json!({
                "name": format!("{}/scale", r.plural),
                "singularName": "",
                "namespaced": true,
                "group": "autoscaling",
                "version": "v1",
                "kind": "Scale",
                "verbs": ["get", "patch", "update"],
            }));
        }
        // kubectl drain looks for this entry before it evicts (kubectl `pkg/drain`,
        // `CheckEvictionSupport`); the router serves it (`evict`).
        if r.group.is_empty() && r.plural == "pods" {
            resources.push(json!({
                "name": "pods/eviction",
                "singularName": "",
                "namespaced": true,
                "group": "policy",
                "version": "v1",
                "kind": "Eviction",
                "verbs": ["create"],
            }));
            // Served by the router (`pod_log`).
            resources.push(json!({
                "name": "pods/log",
                "singularName": "",
                "namespaced": true,
                "kind": "Pod",
                "verbs": ["get"],
            }));
        }
        if r.has_status {
            resources.push(json!({
                "name": format!("{}/status", r.plural),
                "singularName": "",
                "namespaced": r.namespaced,
                "kind": r.kind,
                "verbs": ["get", "patch", "update"],
            }));
        }
    }
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    Some(
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}),
    )
}

/// Every served group-version as `api/v1` or `apis/{group}/{version}` (OpenAPI v3 root keys).
pub fn group_versions(store: &Store) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for r in all_resources(store) {
        let gv = (r.group.clone(), r.version.clone());
        if !out.contains(&gv) {
            out.push(gv);
        }
    }
    out
}

/// The CRD's name for a group and plural.
pub fn crd_name(group: &str, plural: &str) -> String {
    format!("{plural}.{group}")
}

/// Whether a CRD object declares a given kind (used to gate the Application simulation).
pub fn crd_established(store: &Store, group: &str, plural: &str) -> bool {
    store
        .get(&crd_gr(), "", &crd_name(group, plural))
        .and_then(|c| c["status"]["conditions"].as_array().cloned())
        .is_some_and(|cs| {
            cs.iter().any(|c| {
                str_at(c, &["type"]) == Some("Established")
                    && str_at(c, &["status"]) == Some("True")
            })
        })
}

//! The pure half of an apply: YAML text into checked objects, and each object planned
//! against the resolved kinds (its resource, its namespace for its scope, its [`Wave`]).
//! Nothing here talks to the API server; [`super::apply`] does, around these.

use std::collections::HashMap;

use kube::api::DynamicObject;
use kube::discovery::{ApiResource, Scope};

use super::{ApplyError, ApplyOptions, CRD_GROUP, CRD_KIND, ObjectRef};

/// Split a multi-document YAML manifest into objects. `origin` names the manifest in errors
/// (a path or URL). Empty documents are skipped and `kind: List` documents expanded, as
/// kubectl does.
pub fn parse_documents(yaml: &str, origin: &str) -> Result<Vec<DynamicObject>, ApplyError> {
    let docs = parse_values(yaml, origin)?;
    let mut out = Vec::with_capacity(docs.len());
    for (i, doc) in docs.into_iter().enumerate() {
        let index = i + 1;
        let bad = |reason: NotAnObject| ApplyError::NotAnObject {
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
                source: Box::new(e),
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

/// Why a document is not a Kubernetes object.
#[derive(Debug, thiserror::Error)]
pub enum NotAnObject {
    #[error("it is not a mapping")]
    NotAMapping,
    #[error("{0} is missing or not a string")]
    Missing(&'static str),
    #[error("metadata: {0}")]
    Metadata(#[source] serde_json::Error),
}

/// One parsed document as an object, checked for `apiVersion`, `kind` and `metadata.name`.
pub fn to_object(doc: serde_json::Value) -> Result<DynamicObject, NotAnObject> {
    if !doc.is_object() {
        return Err(NotAnObject::NotAMapping);
    }
    for (path, value) in [
        ("apiVersion", &doc["apiVersion"]),
        ("kind", &doc["kind"]),
        ("metadata.name", &doc["metadata"]["name"]),
    ] {
        if value.as_str().is_none_or(str::is_empty) {
            return Err(NotAnObject::Missing(path));
        }
    }
    // Built by hand: `DynamicObject`'s `#[serde(flatten)] data` makes serde buffer the whole
    // document and walk it twice, which for a 1.4 MB CRD schema costs more than parsing it.
    let serde_json::Value::Object(mut map) = doc else {
        return Err(NotAnObject::NotAMapping);
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
        .map_err(NotAnObject::Metadata)?
        .unwrap_or_default();
    Ok(DynamicObject {
        types: Some(kube::core::TypeMeta { api_version, kind }),
        metadata,
        data: serde_json::Value::Object(map),
    })
}

pub(super) fn is_namespace(o: &DynamicObject) -> bool {
    o.types
        .as_ref()
        .is_some_and(|t| t.api_version == "v1" && t.kind == "Namespace")
}

pub(super) fn is_crd(o: &DynamicObject) -> bool {
    o.types
        .as_ref()
        .is_some_and(|t| t.kind == CRD_KIND && t.api_version.split('/').next() == Some(CRD_GROUP))
}

/// The resolved kinds: `(apiVersion, kind)` → resource and scope.
pub(super) type Kinds = HashMap<(String, String), (ApiResource, Scope)>;

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
pub(super) struct Planned {
    pub(super) obj: DynamicObject,
    pub(super) ar: ApiResource,
    pub(super) reference: ObjectRef,
}

pub(super) fn plan(
    obj: &DynamicObject,
    kinds: &Kinds,
    opts: &ApplyOptions,
) -> Result<Planned, ObjectRef> {
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

/// The `Established` condition of a CRD: `(is true, text for messages)`.
pub(super) fn established(status: &serde_json::Value) -> (bool, String) {
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

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

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
        let text = include_str!("../../../tests/fixtures/argocd-install-v3.5.1.yaml");
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
        let text = include_str!("../../../tests/fixtures/argocd-install-v3.5.1.yaml");
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
        let text = include_str!("../../../tests/fixtures/argocd-install-v3.5.1.yaml");
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
}

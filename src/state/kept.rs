//! Kept secrets: the Secrets named in `keep.secrets` outlive the lab.
//!
//! Some secrets cannot live in Git and cannot be made again: the sealed-secrets controller's
//! key is the classic one, since every new cluster gets a new key and the SealedSecrets in Git
//! can then no longer be decrypted. So `drop` and `suspend` export the selected Secrets to
//! `<data>/playground/<name>/secrets.yaml` (mode 0600, never in Git), stripped of the fields
//! the API server sets, and `up`/`restore` re-apply them right after Argo CD is installed
//! and before the root Application exists, so a controller finds its old key on first start.
//!
//! This module is the file half: the export's path, format, merge and selection. The API half
//! (reading the Secrets from a lab, creating them in a new one) is `crate::kube::kept`.
//!
//! Re-applying only creates Secrets that are absent: a Secret already in the cluster is newer
//! than the export (a lab that was never dropped), and is left as it is.

use std::path::PathBuf;

use serde_json::Value;

use crate::config::{KeepSpec, SecretSelect};
use crate::fsutil;
use crate::lab::LabName;

use super::record::Times;
use super::{DIR_MODE, FILE_MODE, lab_dir};

/// The export's file name in the lab's folder.
pub(crate) const FILE: &str = "secrets.yaml";

/// Metadata the API server owns; exporting it would make the re-apply fail or lie.
const SERVER_FIELDS: &[&str] = &[
    "uid",
    "resourceVersion",
    "managedFields",
    "ownerReferences",
    "creationTimestamp",
    "generation",
    "selfLink",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
];

/// Why kept secrets could not be exported, saved, read or re-applied.
#[derive(Debug, thiserror::Error)]
pub enum KeptError {
    /// A call to the lab's API failed (made in `kube::kept`; boxed so that this layer, which
    /// only reads and writes files, names no Kubernetes client).
    #[error("{what}: {source}")]
    Api {
        what: String,
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The file parses, but is not what `drop`/`suspend` write.
    #[error("{}: not a list of Secrets: {message}", path.display())]
    Parse { path: PathBuf, message: String },
    /// The file is not YAML.
    #[error("{}: not a list of Secrets: {source}", path.display())]
    Yaml {
        path: PathBuf,
        #[source]
        source: Box<serde_saphyr::Error>,
    },
    #[error("{}: cannot write the kept Secrets: {source}", path.display())]
    Save {
        path: PathBuf,
        #[source]
        source: serde_saphyr::SerializeError,
    },
    #[error("{what}: {source}")]
    Encode {
        what: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("cannot read the lab's record, so which Secrets it keeps is unknown: {0}")]
    Record(#[source] super::record::RecordError),
    /// The lab is stopped, and the export on disk predates this life of the lab.
    #[error(
        "lab {name} is {state} and its API cannot be read; the only export ({}) is older than this lab",
        path.display()
    )]
    Stale {
        name: String,
        state: String,
        path: PathBuf,
    },
    /// The lab is stopped and was never exported.
    #[error(
        "lab {name} is {state} and its API cannot be read; there is no export of its kept Secrets"
    )]
    NoExport { name: String, state: String },
}

impl crate::diag::Hinted for KeptError {
    fn hint(&self) -> Option<String> {
        match self {
            Self::Parse { .. } | Self::Yaml { .. } => Some(
                "it is written by `playground drop`/`suspend`; move it aside if it was edited"
                    .to_string(),
            ),
            Self::Record(e) => e.hint(),
            _ => None,
        }
    }
}

impl crate::diag::Classified for KeptError {}

/// Where a lab's export lives.
pub(crate) fn path(name: &LabName) -> PathBuf {
    lab_dir(name).join(FILE)
}

/// Remove what the API server sets, so the Secret can be created again in a new cluster.
pub(crate) fn strip(secret: &mut Value) {
    if let Some(meta) = secret.get_mut("metadata").and_then(Value::as_object_mut) {
        for f in SERVER_FIELDS {
            meta.remove(*f);
        }
    }
    if let Some(obj) = secret.as_object_mut() {
        obj.remove("status");
        obj.entry("apiVersion").or_insert_with(|| "v1".into());
        obj.entry("kind").or_insert_with(|| "Secret".into());
    }
}

/// A stopped lab's API cannot be read: the export its `suspend` made is the latest there is,
/// provided it was made in this life of the lab, not left from the life before a restore.
/// The record says which ([`Times::exported`]); no clock is compared, since a file's mtime
/// comes from the kernel's coarse clock, cut to the filesystem's granularity, and can read
/// earlier than a record written just before it. `state` says how the lab is stopped, for
/// the error.
pub(crate) fn earlier_export(
    name: &LabName,
    state: &str,
    times: Option<&Times>,
) -> Result<PathBuf, KeptError> {
    let path = path(name);
    if !path.exists() {
        return Err(KeptError::NoExport {
            name: name.to_string(),
            state: state.into(),
        });
    }
    if times.is_some_and(|t| t.exported.is_some()) {
        Ok(path)
    } else {
        Err(KeptError::Stale {
            name: name.to_string(),
            state: state.into(),
            path,
        })
    }
}

/// Save an export as a `v1 List` (so `kubectl apply -f` can read it too): 0600 in a 0700
/// folder, atomically, so a failed export never leaves half a file in place of a good one.
pub(crate) fn save(name: &LabName, secrets: &[Value]) -> Result<PathBuf, KeptError> {
    let path = path(name);
    let io = |source| KeptError::Io {
        path: path.clone(),
        source,
    };
    let list = serde_json::json!({"apiVersion": "v1", "kind": "List", "items": secrets});
    let text = serde_saphyr::to_string(&list).map_err(|source| KeptError::Save {
        path: path.clone(),
        source,
    })?;
    fsutil::create_dir(&lab_dir(name), DIR_MODE).map_err(io)?;
    fsutil::write_atomic(&path, text.as_bytes(), FILE_MODE).map_err(io)?;
    Ok(path)
}

/// A lab's saved export; empty when there is none.
pub(crate) fn load(name: &LabName) -> Result<Vec<Value>, KeptError> {
    let path = path(name);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(KeptError::Io { path, source }),
    };
    let parse = |message: String| KeptError::Parse {
        path: path.clone(),
        message,
    };
    let list: Value = serde_saphyr::from_str(&text).map_err(|e| KeptError::Yaml {
        path: path.clone(),
        source: Box::new(e),
    })?;
    let items = list
        .get("items")
        .and_then(Value::as_array)
        .ok_or_else(|| parse("no `items` list".into()))?;
    for s in items {
        if s.get("kind").and_then(Value::as_str) != Some("Secret")
            || s.pointer("/metadata/name")
                .and_then(Value::as_str)
                .is_none()
            || s.pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .is_none()
        {
            return Err(parse(
                "every item must be a Secret with a name and a namespace".into(),
            ));
        }
    }
    Ok(items.clone())
}

/// `namespace/name` of a saved Secret.
fn key_of(secret: &Value) -> String {
    format!(
        "{}/{}",
        secret
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or_default(),
        secret
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
    )
}

/// Whether `keep` still selects a saved Secret: its name, or a label selector of its
/// namespace. Equality, inequality and existence terms are checked against its labels;
/// set-based terms (`in`, `notin`) are taken as matching, so nothing is dropped by doubt.
pub(crate) fn is_kept(secret: &Value, keep: &KeepSpec) -> bool {
    let ns = secret
        .pointer("/metadata/namespace")
        .and_then(Value::as_str);
    let name = secret.pointer("/metadata/name").and_then(Value::as_str);
    let labels = secret
        .pointer("/metadata/labels")
        .and_then(Value::as_object);
    let label = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
    keep.secrets
        .iter()
        .filter(|e| Some(e.namespace.as_str()) == ns)
        .any(|e| match &e.select {
            SecretSelect::Name(n) => Some(n.as_str()) == name,
            SecretSelect::Selector(sel) => sel.split(',').map(str::trim).all(|term| {
                if term.contains(" in ") || term.contains(" notin ") {
                    true
                } else if let Some((k, v)) = term.split_once("!=") {
                    label(k.trim()) != Some(v.trim())
                } else if let Some((k, v)) = term.split_once("==").or_else(|| term.split_once('='))
                {
                    label(k.trim()) == Some(v.trim())
                } else if let Some(k) = term.strip_prefix('!') {
                    label(k.trim()).is_none()
                } else {
                    term.is_empty() || label(term).is_some()
                }
            }),
        })
}

/// The saved Secrets `keep` still selects.
pub(crate) fn selected(saved: Vec<Value>, keep: &KeepSpec) -> Vec<Value> {
    saved.into_iter().filter(|s| is_kept(s, keep)).collect()
}

/// A new export merged with the previous one: Secrets the cluster no longer has but `keep`
/// still selects are carried over, because a lost key cannot be made again (an export taken
/// after an incomplete restore would otherwise overwrite it with nothing). Returns the merged
/// list and the `namespace/name` of what was carried.
pub(crate) fn merge(
    previous: Vec<Value>,
    current: Vec<Value>,
    keep: &KeepSpec,
) -> (Vec<Value>, Vec<String>) {
    let now: std::collections::HashSet<String> = current.iter().map(key_of).collect();
    let mut carried = Vec::new();
    let mut out = current;
    for p in previous {
        if !now.contains(&key_of(&p)) && is_kept(&p, keep) {
            carried.push(key_of(&p));
            out.push(p);
        }
    }
    (out, carried)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::KeptSecret;

    fn saved(ns: &str, name: &str, labels: Value) -> Value {
        serde_json::json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"namespace": ns, "name": name, "labels": labels}})
    }

    fn keep() -> KeepSpec {
        KeepSpec {
            secrets: vec![
                KeptSecret {
                    namespace: "kube-system".into(),
                    select: SecretSelect::Selector(
                        "sealedsecrets.bitnami.com/sealed-secrets-key=active".into(),
                    ),
                },
                KeptSecret {
                    namespace: "default".into(),
                    select: SecretSelect::Name("token".into()),
                },
            ],
        }
    }

    #[test]
    fn only_what_the_lab_still_keeps_is_selected() {
        let key = saved(
            "kube-system",
            "k1",
            serde_json::json!({"sealedsecrets.bitnami.com/sealed-secrets-key": "active"}),
        );
        let compromised = saved(
            "kube-system",
            "k0",
            serde_json::json!({"sealedsecrets.bitnami.com/sealed-secrets-key": "compromised"}),
        );
        let token = saved("default", "token", Value::Null);
        let other = saved("default", "other", Value::Null);
        let wrong_ns = saved("kube-public", "token", Value::Null);
        let got = selected(
            vec![key.clone(), compromised, token.clone(), other, wrong_ns],
            &keep(),
        );
        assert_eq!(got, vec![key, token]);
        let exists = KeepSpec {
            secrets: vec![KeptSecret {
                namespace: "default".into(),
                select: SecretSelect::Selector("app,!legacy,tier!=db".into()),
            }],
        };
        let with = |labels| saved("default", "a", labels);
        assert!(is_kept(
            &with(serde_json::json!({"app": "x", "tier": "web"})),
            &exists
        ));
        assert!(!is_kept(
            &with(serde_json::json!({"app": "x", "legacy": "y"})),
            &exists
        ));
        assert!(!is_kept(&with(serde_json::json!({"tier": "web"})), &exists));
    }

    #[test]
    fn a_new_export_keeps_kept_secrets_the_cluster_lost() {
        let old_token = saved("default", "token", serde_json::json!({"v": "1"}));
        let stray = saved("default", "stray", Value::Null);
        let key = saved(
            "kube-system",
            "k1",
            serde_json::json!({"sealedsecrets.bitnami.com/sealed-secrets-key": "active"}),
        );
        let new_token = saved("default", "token", serde_json::json!({"v": "2"}));
        let (merged, carried) = merge(
            vec![old_token, stray, key.clone()],
            vec![new_token.clone()],
            &keep(),
        );
        assert_eq!(
            merged,
            vec![new_token, key],
            "the cluster's copy wins; no stray"
        );
        assert_eq!(carried, ["kube-system/k1"]);
    }

    #[test]
    fn strip_removes_server_fields_and_keeps_data_labels_and_type() {
        let mut s = serde_json::json!({
            "metadata": {
                "name": "sealed-secrets-key", "namespace": "kube-system",
                "labels": {"sealedsecrets.bitnami.com/sealed-secrets-key": "active"},
                "uid": "u", "resourceVersion": "7", "creationTimestamp": "2026-01-01T00:00:00Z",
                "managedFields": [{"manager": "controller"}],
                "ownerReferences": [{"kind": "Deployment", "name": "x"}],
            },
            "type": "kubernetes.io/tls",
            "data": {"tls.key": "a2V5"},
        });
        strip(&mut s);
        let meta = s["metadata"].as_object().unwrap();
        let mut keys: Vec<&str> = meta.keys().map(String::as_str).collect();
        keys.sort();
        assert_eq!(keys, ["labels", "name", "namespace"]);
        assert_eq!(s["data"]["tls.key"], "a2V5");
        assert_eq!(s["type"], "kubernetes.io/tls");
        assert_eq!(
            (s["apiVersion"].as_str(), s["kind"].as_str()),
            (Some("v1"), Some("Secret"))
        );
    }
}

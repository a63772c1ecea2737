//! The API half of kept secrets (see `crate::state::kept` for what they are and the file
//! half): read the Secrets `keep` selects from a running lab, and create them in a new one.

use std::path::PathBuf;

use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::api::{Api, ListParams, PostParams};
use serde_json::Value;

use crate::config::{KeepSpec, LabName, SecretSelect};
use crate::state::kept::{KeptError, load, merge, save, strip};

fn api_error(what: String, source: kube::Error) -> KeptError {
    KeptError::Api {
        what,
        source: Box::new(source),
    }
}

/// What an export found.
#[derive(Debug, Default)]
pub(crate) struct Exported {
    /// The Secrets, stripped, ready to save.
    pub(crate) secrets: Vec<Value>,
    /// `namespace/name` of Secrets named in `keep.secrets` that do not exist (nothing to keep;
    /// worth a warning, not a failure: the controller may not have made its key yet).
    pub(crate) missing: Vec<String>,
    /// `namespace/selector` of selectors that matched no Secret (worth a warning, too).
    pub(crate) unmatched: Vec<String>,
}

/// Read the Secrets `keep` selects from the cluster.
pub(crate) async fn export(client: &kube::Client, keep: &KeepSpec) -> Result<Exported, KeptError> {
    let mut out = Exported::default();
    for entry in &keep.secrets {
        let api: Api<Secret> = Api::namespaced(client.clone(), &entry.namespace);
        let found = match &entry.select {
            SecretSelect::Name(name) => {
                let what = format!("Secret {}/{name}", entry.namespace);
                match api
                    .get_opt(name)
                    .await
                    .map_err(|source| api_error(format!("reading {what}"), source))?
                {
                    Some(s) => vec![s],
                    None => {
                        out.missing.push(format!("{}/{name}", entry.namespace));
                        Vec::new()
                    }
                }
            }
            SecretSelect::Selector(sel) => {
                let items = api
                    .list(&ListParams::default().labels(sel))
                    .await
                    .map_err(|source| {
                        api_error(
                            format!("listing Secrets in {} with {sel:?}", entry.namespace),
                            source,
                        )
                    })?
                    .items;
                if items.is_empty() {
                    out.unmatched.push(format!("{}/{sel}", entry.namespace));
                }
                items
            }
        };
        for s in found {
            let mut v = serde_json::to_value(&s).map_err(|source| KeptError::Encode {
                what: format!("Secret {}", entry.namespace),
                source,
            })?;
            strip(&mut v);
            out.secrets.push(v);
        }
    }
    Ok(out)
}

/// What [`refresh`] wrote, and what it has to say about it.
#[derive(Debug)]
pub(crate) struct Refreshed {
    pub(crate) path: PathBuf,
    /// How many Secrets the export holds now.
    pub(crate) count: usize,
    /// See [`Exported::missing`].
    pub(crate) missing: Vec<String>,
    /// See [`Exported::unmatched`].
    pub(crate) unmatched: Vec<String>,
    /// `namespace/name` of Secrets carried from the previous export (see [`merge`]).
    pub(crate) carried: Vec<String>,
}

/// Export what `keep` selects from a lab whose API answers, merged with its previous export,
/// and save it: what `drop` and `suspend` do before the lab stops answering.
pub(crate) async fn refresh(
    client: &kube::Client,
    name: &LabName,
    keep: &KeepSpec,
) -> Result<Refreshed, KeptError> {
    let exported = export(client, keep).await?;
    let (secrets, carried) = merge(load(name)?, exported.secrets, keep);
    let path = save(name, &secrets)?;
    Ok(Refreshed {
        path,
        count: secrets.len(),
        missing: exported.missing,
        unmatched: exported.unmatched,
        carried,
    })
}

/// Create the kept Secrets that the cluster lacks (and their namespaces). Returns how many
/// were created; existing ones are left alone (see the module docs).
pub(crate) async fn reapply(client: &kube::Client, secrets: &[Value]) -> Result<usize, KeptError> {
    let mut created = 0;
    for s in secrets {
        let ns = s
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or("default");
        let name = s
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let what = format!("Secret {ns}/{name}");
        let namespaces: Api<Namespace> = Api::all(client.clone());
        let namespace: Namespace = serde_json::from_value(
            serde_json::json!({"metadata": {"name": ns}}),
        )
        .map_err(|source| KeptError::Encode {
            what: format!("namespace {ns}"),
            source,
        })?;
        match namespaces.create(&PostParams::default(), &namespace).await {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 409 => {}
            Err(source) => {
                return Err(api_error(
                    format!("creating namespace {ns} for {what}"),
                    source,
                ));
            }
        }
        let secret: Secret =
            serde_json::from_value(s.clone()).map_err(|source| KeptError::Encode {
                what: what.clone(),
                source,
            })?;
        let api: Api<Secret> = Api::namespaced(client.clone(), ns);
        match api.create(&PostParams::default(), &secret).await {
            Ok(_) => created += 1,
            Err(kube::Error::Api(e)) if e.code == 409 => {}
            Err(source) => {
                return Err(api_error(format!("creating {what}"), source));
            }
        }
    }
    Ok(created)
}

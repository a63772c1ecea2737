//! `playground export logs`: one archive a user can attach to a bug report, modelled on
//! `kind export logs`.
//!
//! Flow: find the lab's node containers and register every secret we can learn with the mask
//! ([`crate::ui::redact`]): the join token from the nodes' env, and, when the API answers,
//! the value of every Secret in the cluster (read, never written). Then stream entries into
//! `playground-logs-<lab>-<UTC time>.tar.gz`, every text through [`redact::mask`]:
//! - `<node>/inspect.json`, `<node>/docker.log`, `<node>/files/…` (k3s's containerd log and
//!   `/var/log/*.log`, read through the archive API, so a stopped node works too);
//! - `events.json`, `applications.json`, `argocd/<pod>/<container>.log` through the API;
//! - `playground.yaml`, the lab file from the lab's record, with secret-named keys masked;
//! - `MANIFEST`: what is in the archive and what was skipped, and why.
//!
//! Nothing fails the export but an unwritable archive or a lab that does not exist: a part
//! that cannot be had is a MANIFEST line. The archive is written to a temporary file beside
//! its final name and renamed when complete, so a half archive never has the final name.

use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::{Event, Pod, Secret};
use kube::api::{ApiResource, DynamicObject, GroupVersionKind, ListParams, LogParams};
use kube::{Api, Client};

use super::error::{ClusterError as Error, Result};
use crate::docker::Engine;
use crate::ui::redact;

use super::inventory::LabSummary;
use super::k3s;
use super::logs::{register_lab_secrets, select_nodes, short_name};

/// Files read from each node when present. `/var/log/*.log` is listed in the node.
///
/// k3s's containerd log ([`k3s::CONTAINERD_LOG`]); kind takes the same log from journald
/// (kubernetes-sigs/kind `pkg/cluster/internal/providers/common/logs.go`). Our nodes have no
/// journald: k3s's own log is the container's output, `docker.log`.
const NODE_FILES: &[&str] = &[k3s::CONTAINERD_LOG];

/// The archive being written: entries under one top folder, and the MANIFEST lines.
struct Archive {
    tar: tar::Builder<flate2::write::GzEncoder<tempfile::NamedTempFile>>,
    root: String,
    mtime: u64,
    manifest: Vec<String>,
}

impl Archive {
    /// Add `text`, masked, at `path` under the top folder.
    fn add(&mut self, path: &str, text: &str) -> Result<()> {
        let masked = redact::mask(text);
        let mut header = tar::Header::new_gnu();
        header.set_size(masked.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(self.mtime);
        self.tar
            .append_data(
                &mut header,
                format!("{}/{path}", self.root),
                masked.as_bytes(),
            )
            .map_err(Error::Archive)?;
        self.manifest.push(format!("included  {path}"));
        Ok(())
    }

    fn skip(&mut self, what: &str, why: impl std::fmt::Display) {
        let why = why.to_string();
        self.manifest
            .push(format!("skipped   {what}: {}", redact::mask(why.trim())));
    }
}

/// Why a part of the archive could not be made; the archive's manifest says it in words.
pub(crate) type Missing<'a> = &'a (dyn std::error::Error + Send + Sync);

/// The OS error alone, without the path tempfile adds to its message.
fn without_path(e: std::io::Error) -> std::io::Error {
    match e.raw_os_error() {
        Some(code) => std::io::Error::from_raw_os_error(code),
        None => std::io::Error::from(e.kind()),
    }
}

/// Write the archive for `lab` into `dir` and return its path. `api` is a client for the
/// lab's API, or why there is none; `doctor` is the JSON doctor report, or why there is none.
pub(crate) async fn export_logs<E: Engine>(
    engine: &E,
    lab: &LabSummary,
    api: std::result::Result<Client, Missing<'_>>,
    doctor: std::result::Result<String, Missing<'_>>,
    dir: &Path,
) -> Result<PathBuf> {
    let now = jiff::Timestamp::now();
    let stem = format!(
        "playground-logs-{}-{}",
        lab.name,
        now.strftime("%Y%m%dT%H%M%SZ")
    );
    let dest = dir.join(format!("{stem}.tar.gz"));
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".{stem}"))
        .suffix(".partial")
        .tempfile_in(dir)
        .map_err(|source| Error::ExportDir {
            dir: dir.to_path_buf(),
            lab: lab.name.to_string(),
            // tempfile's error names the hidden temporary file ("… at path
            // \"DIR/.playground-logs-….partial\""): the user gave the folder, so say only why.
            source: without_path(source),
        })?;
    let mut archive = Archive {
        tar: tar::Builder::new(flate2::write::GzEncoder::new(
            tmp,
            flate2::Compression::default(),
        )),
        root: stem,
        mtime: now.as_second().max(0) as u64,
        manifest: vec![
            format!("playground export logs of lab {}", lab.name),
            format!("written {now} by playground {}", env!("CARGO_PKG_VERSION")),
            "Secret values, tokens and secret-named settings are masked as ***; no Secret object is included.".into(),
            String::new(),
        ],
    };

    let nodes = select_nodes(engine, lab, None).await?;
    register_lab_secrets(engine, &nodes).await?;
    match &api {
        Ok(client) => match register_secret_values(client).await {
            Ok(n) => archive.manifest.push(format!(
                "masked    the values of {n} Secret(s) wherever they appear"
            )),
            Err(e) => archive.skip("masking Secret values found through the API", e),
        },
        Err(e) => archive.skip("masking Secret values found through the API", e),
    }

    for node in &nodes {
        let short = short_name(&lab.name, &node.name).to_string();
        match engine.inspect_json(&node.name).await {
            Ok(Some(v)) => archive.add(
                &format!("{short}/inspect.json"),
                &serde_json::to_string_pretty(&v).unwrap_or_default(),
            )?,
            Ok(None) => archive.skip(&format!("{short}/inspect.json"), "the node is gone"),
            Err(e) => archive.skip(&format!("{short}/inspect.json"), e),
        }
        match collect_logs(engine, &node.name).await {
            Ok(text) => archive.add(&format!("{short}/docker.log"), &text)?,
            Err(e) => archive.skip(&format!("{short}/docker.log"), e),
        }
        let mut files: Vec<String> = NODE_FILES.iter().map(|f| f.to_string()).collect();
        // Listing needs a running node; the archive API reads files from a stopped one too.
        match engine
            .exec(
                &node.name,
                &[
                    "find",
                    "/var/log",
                    "-maxdepth",
                    "1",
                    "-type",
                    "f",
                    "-name",
                    "*.log",
                ],
            )
            .await
        {
            Ok((0, out)) => files.extend(
                out.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(String::from),
            ),
            Ok((code, out)) => archive.skip(
                &format!("{short}:/var/log/*.log"),
                format!("listing exited {code}: {out}"),
            ),
            Err(e) => archive.skip(&format!("{short}:/var/log/*.log"), e),
        }
        for file in files {
            let entry = format!("{short}/files{file}");
            match engine.read_file(&node.name, &file).await {
                Ok(bytes) => archive.add(&entry, &String::from_utf8_lossy(&bytes))?,
                Err(e) => archive.skip(&format!("{short}:{file}"), e),
            }
        }
    }

    match &api {
        Ok(client) => cluster_parts(&mut archive, client, &lab.argocd_namespace()).await?,
        Err(e) => {
            for what in ["events.json", "applications.json", "argocd/ pod logs"] {
                archive.skip(what, e);
            }
        }
    }

    // `playground doctor -o json`, made by the caller (doctor sits above this layer).
    match &doctor {
        Ok(json) => archive.add("doctor.json", json)?,
        Err(why) => archive.skip("doctor.json", why),
    }

    match crate::state::record::read(&lab.name) {
        Ok(Some(r)) => archive.add("playground.yaml", &mask_yaml(&r.config.content))?,
        Ok(None) => archive.skip("playground.yaml", "no record of this lab on this machine"),
        Err(e) => archive.skip("playground.yaml", e),
    }

    let mut manifest = archive.manifest.join("\n");
    manifest.push('\n');
    archive.add("MANIFEST", &manifest)?;
    let tmp = archive
        .tar
        .into_inner()
        .and_then(|gz| gz.finish())
        .map_err(Error::Archive)?;
    tmp.as_file().sync_all().map_err(Error::Archive)?;
    tmp.persist(&dest).map_err(|source| Error::Persist {
        dest: dest.clone(),
        source,
    })?;
    Ok(dest)
}

/// A node's whole output, as `docker logs` prints it.
async fn collect_logs<E: Engine>(engine: &E, name: &str) -> Result<String> {
    use futures::StreamExt;
    let mut out = String::new();
    let mut lines = engine.log_lines(name, 0, false);
    while let Some(line) = lines.next().await {
        out.push_str(&line?);
        out.push('\n');
    }
    Ok(out)
}

/// Keys whose values name things rather than hold secrets: a service account token's
/// `namespace` (kubernetes.io/service-account-token) and an Argo CD repository Secret's
/// `type`, `name`, `project` and `url` (argoproj/argo-cd `docs/operator-manual/declarative-setup.md`).
/// Registering `default` or `git` would mask every namespace and word that matches.
const NAMING_KEYS: &[&str] = &["namespace", "type", "name", "project", "url"];

/// Register every Secret's values (as text, and base64 as the API shows them) with the mask,
/// so a value that leaked into a log, an Event or an Application is masked too. Returns how
/// many Secrets there were.
async fn register_secret_values(client: &Client) -> std::result::Result<usize, kube::Error> {
    let secrets: Api<Secret> = Api::all(client.clone());
    let list = secrets.list(&ListParams::default()).await?;
    for s in &list.items {
        let data = s.data.iter().flatten();
        for (_, v) in data.filter(|(k, _)| !NAMING_KEYS.contains(&k.as_str())) {
            if let Ok(text) = std::str::from_utf8(&v.0) {
                redact::register(text.trim_end());
            }
            if let Ok(serde_json::Value::String(b64)) = serde_json::to_value(v) {
                redact::register(&b64);
            }
        }
        let string_data = s.string_data.iter().flatten();
        for (_, v) in string_data.filter(|(k, _)| !NAMING_KEYS.contains(&k.as_str())) {
            redact::register(v.trim_end());
        }
    }
    Ok(list.items.len())
}

/// Events, Applications and the Argo CD pods' logs.
async fn cluster_parts(archive: &mut Archive, client: &Client, namespace: &str) -> Result<()> {
    let events: Api<Event> = Api::all(client.clone());
    match events.list(&ListParams::default()).await {
        Ok(list) => archive.add(
            "events.json",
            &serde_json::to_string_pretty(&list.items).unwrap_or_default(),
        )?,
        Err(e) => archive.skip("events.json", e),
    }

    let gvk = GroupVersionKind::gvk("argoproj.io", "v1alpha1", "Application");
    let apps: Api<DynamicObject> = Api::all_with(client.clone(), &ApiResource::from_gvk(&gvk));
    match apps.list(&ListParams::default()).await {
        Ok(list) => {
            // Only Applications: an object of another kind (a Secret above all) never goes in.
            let items: Vec<&DynamicObject> = list
                .items
                .iter()
                .filter(|o| o.types.as_ref().is_none_or(|t| t.kind == "Application"))
                .collect();
            archive.add(
                "applications.json",
                &serde_json::to_string_pretty(&items).unwrap_or_default(),
            )?
        }
        Err(e) => archive.skip("applications.json", e),
    }

    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    match pods.list(&ListParams::default()).await {
        Ok(list) if list.items.is_empty() => archive.skip(
            "argocd/ pod logs",
            format!("no pods in namespace {namespace}"),
        ),
        Ok(list) => {
            for pod in &list.items {
                let name = pod.metadata.name.clone().unwrap_or_default();
                let containers = pod.spec.iter().flat_map(|s| {
                    s.init_containers
                        .iter()
                        .flatten()
                        .chain(s.containers.iter())
                        .map(|c| c.name.clone())
                });
                for container in containers {
                    let params = LogParams {
                        container: Some(container.clone()),
                        ..LogParams::default()
                    };
                    let path = format!("argocd/{name}/{container}.log");
                    match pods.logs(&name, &params).await {
                        Ok(text) => archive.add(&path, &text)?,
                        Err(e) => archive.skip(&path, e),
                    }
                }
            }
        }
        Err(e) => archive.skip("argocd/ pod logs", e),
    }
    Ok(())
}

/// The lab file with the value of every key named like a secret masked (the file names
/// where credentials come from, but a user may have typed one in).
fn mask_yaml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let masked = line.split_once(':').and_then(|(key, value)| {
            let name = key
                .trim()
                .trim_start_matches("- ")
                .trim_matches(['"', '\'']);
            let value = value.trim();
            // `passwordEnv: GIT_PASSWORD` and `sshKeyFile: …` say where a secret is, not it.
            let points_at = name.ends_with("Env") || name.ends_with("File");
            (redact::is_secret_name(name)
                && !points_at
                && !value.is_empty()
                && !value.starts_with('#'))
            .then(|| format!("{key}: {}", redact::MASK))
        });
        out.push_str(masked.as_deref().unwrap_or(line));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_named_keys_are_masked_in_the_lab_file() {
        let text = "metadata:\n  name: dev\ngitops:\n  password: hunter22\n  apiToken: \"abc\"\n  tokenNote:\ncluster:\n  env: [\"K3S_TOKEN=s3cr3t-value@server:0\"]\n";
        let masked = mask_yaml(text);
        assert!(!masked.contains("hunter22"), "{masked}");
        assert!(!masked.contains("\"abc\""), "{masked}");
        assert!(masked.contains("  name: dev\n"), "{masked}");
        assert!(masked.contains("  password: ***\n"), "{masked}");
        // A key with nothing after it opens a map: nothing to mask.
        assert!(masked.contains("  tokenNote:\n"), "{masked}");
        assert!(mask_yaml("  passwordEnv: GIT_PASSWORD\n").contains("GIT_PASSWORD"));
        // An env assignment is masked by `redact::mask`, which every entry passes through.
        assert!(!redact::mask(&masked).contains("s3cr3t-value"));
    }
}

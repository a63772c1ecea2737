//! The lab's image export: what each node's containerd holds, written by `drop` into a volume
//! kept for the next lab of that name, which k3s imports at its nodes' start.

use super::super::error::Result;
use crate::docker::{Engine, Labels, RunState};
use crate::lab::LabName;

use super::super::k3s::{self, AIRGAP_IMAGES};
use super::super::names;
use super::{CacheSettings, DEFAULT_NAMESPACE};

/// [`names::LABEL_CACHE`] of an image export volume (caches carry their upstream there).
pub(crate) const EXPORT_KIND: &str = "images";
/// Which lab an image export volume is for.
pub(crate) const LABEL_EXPORT_LAB: &str = "playground.cache.lab";

impl CacheSettings {
    /// The lab's image export: a volume kept across `drop` (a cache object, not the lab's),
    /// mounted in every server and agent at k3s's airgap image folder [`AIRGAP_IMAGES`].
    pub(crate) fn export_volume(&self, lab: &LabName) -> String {
        format!("{}{lab}", self.export_prefix())
    }

    /// What every image export volume's name starts with, before the lab's name.
    pub(crate) fn export_prefix(&self) -> String {
        if self.namespace == DEFAULT_NAMESPACE {
            format!("{}-cache-images-", names::PREFIX)
        } else {
            format!("{}-cache-{}-images-", names::PREFIX, self.namespace)
        }
    }

    /// The labels of a lab's image export: the cache namespace's (so `cache prune` takes it
    /// and `drop`'s label sweep does not), and which lab it is for.
    pub(crate) fn export_labels(&self, lab: &LabName) -> Labels {
        Labels::from([
            (names::LABEL_CACHE.to_string(), EXPORT_KIND.to_string()),
            (
                names::LABEL_CACHE_NAMESPACE.to_string(),
                self.namespace.clone(),
            ),
            (LABEL_EXPORT_LAB.to_string(), lab.to_string()),
        ])
    }
}

/// What [`export_lab_images`] kept.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Exported {
    /// Image references written, over all nodes.
    pub(crate) images: usize,
    /// Nodes exported from.
    pub(crate) nodes: Vec<String>,
    /// Nodes that could not be exported from, with why.
    pub(crate) skipped: Vec<(String, String)>,
}

/// Before `drop` removes a lab: write the images each running node's containerd holds into
/// the lab's export volume, one tar per node (`server-0.tar`), so the next `up` of a lab of
/// that name imports them at its nodes' first start, offline too, and whatever their upstream
/// (public.ecr.aws, which no cache can proxy, included). Best effort: a node whose export
/// fails is skipped and named. `nodes` are those that mount the export
/// ([`keep_lab_images`] picks them).
///
/// `ctr images export` without `--all-platforms` writes the node's own platform, which is
/// all the node holds. The tar is written under a name k3s does not read (`.partial`) and
/// then renamed, so a running k3s never imports half a file.
pub(crate) async fn export_lab_images<E: Engine>(
    engine: &E,
    nodes: &[(String, String)],
) -> Exported {
    let mut out = Exported::default();
    let results = futures::future::join_all(
        nodes
            .iter()
            .map(|(node, file)| async move { (node, export_node(engine, node, file).await) }),
    )
    .await;
    for (node, r) in results {
        match r {
            Ok(n) => {
                out.images += n;
                out.nodes.push(node.clone());
            }
            Err(why) => out
                .skipped
                .push((node.clone(), crate::diag::Report(&why).to_string())),
        }
    }
    out
}

/// `drop`'s first step: [`export_lab_images`] from every running server and agent of `lab`,
/// shown as one step. Never fails the drop: what could not be kept is named.
pub(crate) async fn keep_lab_images<E: Engine>(
    engine: &E,
    lab: &LabName,
    ui: &crate::ui::Ui,
) -> Result<()> {
    let Some(summary) = super::super::inventory::status(engine, lab).await? else {
        return Ok(());
    };
    let prefix = format!("{}-{lab}-", names::PREFIX);
    let nodes: Vec<(String, String)> = summary
        .nodes
        .iter()
        .filter(|n| (n.role == "server" || n.role == "agent") && n.state == RunState::Running)
        .map(|n| {
            let short = n.name.strip_prefix(&prefix).unwrap_or(&n.name);
            (n.name.clone(), format!("playground-{short}.tar"))
        })
        .collect();
    // Only nodes that mount the export: not those of a lab with `imageCache: false`, nor those
    // made by a playground that did not keep images yet. Nothing to say about those.
    let mounted = futures::future::join_all(nodes.iter().map(|(node, _)| async move {
        matches!(
            engine.exec(node, &["cat", "/proc/mounts"]).await,
            Ok((0, mounts)) if mounts.contains(&format!(" {AIRGAP_IMAGES} "))
        )
    }))
    .await;
    let nodes: Vec<(String, String)> = nodes
        .into_iter()
        .zip(mounted)
        .filter_map(|(n, m)| m.then_some(n))
        .collect();
    if nodes.is_empty() {
        return Ok(());
    }
    let s = ui.step(format!("keep the images of {lab} for its next up"));
    let kept = export_lab_images(engine, &nodes).await;
    if kept.nodes.is_empty() {
        s.done_with("none kept");
    } else {
        s.done_with(&format!(
            "{} image(s) from {} node(s)",
            kept.images,
            kept.nodes.len()
        ));
    }
    for (node, why) in &kept.skipped {
        ui.warn(&format!(
            "the images of {node} are not kept: {why}\n  the next `up` of {lab} pulls them again (through the caches)"
        ));
    }
    Ok(())
}

/// Why one node's images could not be exported (a warning in `drop`, not a failure).
#[derive(Debug, thiserror::Error)]
enum NodeExportError {
    #[error(transparent)]
    Engine(#[from] crate::docker::EngineError),
    /// A command in the node exited non-zero; what it said.
    #[error("{what}: {said}")]
    Command { what: &'static str, said: String },
}

impl crate::diag::Hinted for NodeExportError {
    fn hint(&self) -> Option<String> {
        match self {
            Self::Engine(e) => e.hint(),
            Self::Command { .. } => None,
        }
    }
}

fn failed(what: &'static str, said: &str) -> NodeExportError {
    NodeExportError::Command {
        what,
        said: said.trim().to_string(),
    }
}

/// Export one node's images to `AIRGAP_IMAGES/<file>`; the number of references, or why not.
async fn export_node<E: Engine>(
    engine: &E,
    node: &str,
    file: &str,
) -> std::result::Result<usize, NodeExportError> {
    let (code, listed) = engine.exec(node, &k3s::ctr_list()).await?;
    if code != 0 {
        return Err(failed("`ctr images ls` failed", &listed));
    }
    let refs = exportable_refs(&listed);
    if refs.is_empty() {
        return Ok(0);
    }
    let partial = format!("{AIRGAP_IMAGES}/{file}.partial");
    let (code, said) = engine.exec(node, &k3s::ctr_export(&partial, &refs)).await?;
    if code != 0 {
        let _ = engine.exec(node, &["rm", "-f", &partial]).await;
        return Err(failed("`ctr images export` failed", &said));
    }
    let done = format!("{AIRGAP_IMAGES}/{file}");
    let (code, said) = engine.exec(node, &["mv", "-f", &partial, &done]).await?;
    if code != 0 {
        return Err(failed("cannot rename the export", &said));
    }
    Ok(refs.len())
}

/// The references worth exporting from `ctr images ls -q`: by tag. Not image IDs
/// (`sha256:…`, which the CRI adds) nor `name@sha256:…` (k3s adds those again on import).
pub(crate) fn exportable_refs(listed: &str) -> Vec<String> {
    let mut refs: Vec<String> = listed
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("sha256:") && !l.contains('@'))
        .map(str::to_string)
        .collect();
    refs.sort();
    refs.dedup();
    refs
}

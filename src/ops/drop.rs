//! `drop`: throw a lab away. Its kept Secrets are exported and its images kept for the next
//! lab first; then every Docker object with the lab's label goes, its kube context goes, and
//! its record is marked dropped, so `restore` can bring it back from Git.
//!
//! It works on half-made labs: anything of the lab (a labelled Docker object, a live record, a
//! kube context) is enough ([`anything_of`]); with none of them there is no such lab.

use crate::state::lock::LabLock;
use std::path::{Path, PathBuf};

use crate::cluster::{cache, lifecycle, names};
use crate::config::LabName;
use crate::docker::Engine;
use crate::kube::kubeconfig::{self, KubeconfigError};
use crate::state::record;

use super::keep::{self, Saved};
use super::{Env, Kube, Result};

/// How to drop.
#[derive(Debug, Clone)]
pub(crate) struct DropOpts {
    /// Go on when the kept Secrets cannot be exported (they are lost).
    pub(crate) force: bool,
    /// The kubeconfig the lab's context is removed from; `None` when its place cannot be known
    /// (no `KUBECONFIG`, no home): everything else goes, then that is the error.
    pub(crate) kubeconfig: Option<PathBuf>,
}

/// What [`drop`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Dropped {
    /// The kept Secrets' export.
    pub(crate) kept: Saved,
    /// Docker objects removed.
    pub(crate) removed: usize,
    /// Where the record that did not parse was moved aside to.
    pub(crate) record_set_aside: Option<PathBuf>,
    /// Whether `restore` can bring the lab back (its record is kept).
    pub(crate) restorable: bool,
}

/// Drop the lab `lock` is held on, in the order users rely on: export the kept Secrets (a failure stops
/// everything unless `force`), take it out of its hubs' Argo CD, keep its images, remove its
/// Docker objects, its kube context, and mark its record dropped.
pub(crate) async fn drop<E: Engine, K: Kube>(
    env: &Env<'_, E, K>,
    lock: &LabLock,
    opts: &DropOpts,
) -> Result<Dropped> {
    let name = lock.name();
    let kept = keep::save_before(env, name, opts.force, "dropped").await?;
    // Out of its hubs' Argo CD; its spokes let go, running and clean.
    super::hub::before_drop(env, name).await;
    cache::keep_lab_images(env.engine, name, env.ui).await?;
    let s = env.ui.step(format!("remove the Docker objects of {name}"));
    let removed = lifecycle::remove_objects(env.engine, name).await?;
    s.done_with(&format!("{removed} removed"));
    let path = opts
        .kubeconfig
        .as_deref()
        .ok_or(KubeconfigError::NoTarget)?;
    kubeconfig::remove(path, name)?;
    let record_set_aside = record::mark_dropped(name)?;
    Ok(Dropped {
        kept,
        removed,
        record_set_aside,
        restorable: record::path(name).exists(),
    })
}

/// Whether anything of lab `name` is left: a Docker object with its label, a record not marked
/// dropped (one that cannot be read counts: `drop --force` is how it goes), or a kube context
/// (an unreadable kubeconfig counts too, so that `drop` reports what is wrong with it).
pub(crate) async fn anything_of<E: Engine>(
    engine: &E,
    name: &LabName,
    kubeconfig: Option<&Path>,
) -> Result<bool> {
    let label = [(names::LABEL_CLUSTER, name.as_str())];
    if !engine.list_containers(&label).await?.is_empty()
        || !engine.list_networks(&label).await?.is_empty()
        || !engine.list_volumes(&label).await?.is_empty()
    {
        return Ok(true);
    }
    if !matches!(
        record::read(name),
        Ok(None)
            | Ok(Some(record::LabRecord {
                times: record::Times {
                    dropped: Some(_),
                    ..
                },
                ..
            }))
    ) {
        return Ok(true);
    }
    Ok(kubeconfig
        .ok_or(KubeconfigError::NoTarget)
        .and_then(|path| kubeconfig::has_entries(path, name))
        .unwrap_or(true))
}

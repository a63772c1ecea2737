//! `playground drop`: throw a lab away. Its kept Secrets are exported and its images kept for
//! the next lab first; then every Docker object with the lab's label goes, its kube context
//! goes, and its record is marked dropped, so `restore` can bring it back from Git.

use serde::Serialize;

use super::error::Result;
use crate::cli::Output;
use crate::cluster::{cache, lifecycle};
use crate::kube::kubeconfig;
use crate::state::record;

use super::output::{self, LabResult};
use super::{Ctx, kept};

/// What `drop -o json|yaml` adds to its `LabResult`.
#[derive(Serialize)]
struct Dropped {
    /// Docker objects removed.
    removed: usize,
    /// Whether `restore` can bring the lab back (its record is kept).
    restorable: bool,
}

pub async fn run(
    ctx: &Ctx<'_>,
    name: Option<String>,
    yes: bool,
    force: bool,
    out: Output,
) -> Result<()> {
    let name = ctx.lab_name(name).await?;
    let _lock = ctx.lock(&name)?;
    ctx.confirm(
        yes,
        &format!("Drop lab {name} and everything in it?"),
        "dropped",
    )?;
    let engine = ctx.engine().await?;
    kept::save_before(ctx, &name, force, "dropped").await?;
    // Out of its hubs' Argo CD; its spokes let go, running and clean.
    super::hub::before_drop(ctx, &name).await;
    cache::keep_lab_images(engine, &name, ctx.ui).await?;
    let s = ctx.ui.step(format!("remove the Docker objects of {name}"));
    let removed = lifecycle::remove_objects(engine, &name).await?;
    s.done_with(&format!("{removed} removed"));
    kubeconfig::remove(&kubeconfig::target_path_from_env()?, &name)?;
    if let Some(aside) = record::mark_dropped(&name)? {
        ctx.ui.warn(&format!(
            "the lab's record did not parse; moved it aside to {}",
            aside.display()
        ));
    }
    let restorable = record::path(&name).exists();
    let how = if restorable {
        format!("; `playground restore {name}` brings it back from Git")
    } else {
        String::new()
    };
    output::outcome(
        out,
        ctx.ui,
        &LabResult {
            name: &name,
            state: "dropped",
            more: Dropped {
                removed,
                restorable,
            },
        },
        format!("lab {name} dropped{how}"),
    )
}

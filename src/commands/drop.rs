//! `playground drop`: throw a lab away. Its kept Secrets are exported and its images kept for
//! the next lab first; then every Docker object with the lab's label goes, its kube context
//! goes, and its record is marked dropped, so `restore` can bring it back from Git.
//!
//! It works on half-made labs: anything of the lab (a labelled Docker object, a live record, a
//! kube context) is enough. With none of them there is no such lab, and `drop` says so (exit 4)
//! before it takes the lab's lock, which would leave a folder behind: a typo in a cleanup
//! script must not hide that the real lab still runs.

use serde::Serialize;

use super::args::Output;
use super::error::Result;
use crate::cluster::{ClusterError, cache, lifecycle, names};
use crate::config::LabName;
use crate::docker::Engine;
use crate::kube::kubeconfig;
use crate::state::record;

use super::output::{self, LabResult};
use super::{Ctx, kept};

/// Remove the lab; its record stays for `restore`.
///
/// Remove every container, network and volume of the lab, and its kube context.
/// Works on half-made labs and without any local state. The Secrets in `keep.secrets` are
/// exported first, and the lab's record is kept, so `playground restore` brings it back.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    #[arg(add = super::completions::lab_names())]
    pub name: Option<String>,
    /// Do not ask for confirmation.
    #[arg(short, long)]
    pub yes: bool,
    /// Drop even if the Secrets in `keep.secrets` cannot be exported (they are lost).
    #[arg(long)]
    pub force: bool,
    /// `table` for people; `json` or `yaml` for scripts, one document with `apiVersion` and
    /// `kind` on stdout (`up`/`restore -o json`: one JSON event per step, then the result).
    #[arg(short, long, value_enum, default_value_t = Output::Table)]
    pub output: Output,
}

const EXAMPLES: &str = "Example:
  playground drop mylab --yes";

/// What `drop -o json|yaml` adds to its `LabResult`.
#[derive(Serialize)]
struct Dropped {
    /// Docker objects removed.
    removed: usize,
    /// Whether `restore` can bring the lab back (its record is kept).
    restorable: bool,
}

pub async fn run(ctx: &Ctx<'_>, args: Args) -> Result<()> {
    let Args {
        name,
        yes,
        force,
        output: out,
    } = args;
    let name = ctx.lab_name(name).await?;
    if !anything_of(ctx, &name).await? {
        return Err(ClusterError::NotFound(name.to_string()).into());
    }
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

/// Whether anything of lab `name` is left: a Docker object with its label, a record not marked
/// dropped (one that cannot be read counts: `drop --force` is how it goes), or a kube context
/// (an unreadable kubeconfig counts too, so that `drop` reports what is wrong with it).
async fn anything_of(ctx: &Ctx<'_>, name: &LabName) -> Result<bool> {
    let engine = ctx.engine().await?;
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
    Ok(kubeconfig::target_path_from_env()
        .and_then(|path| kubeconfig::has_entries(&path, name))
        .unwrap_or(true))
}

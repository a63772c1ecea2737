//! `playground drop`: throw a lab away ([`crate::ops::drop`] says in what order). With nothing
//! of the lab left there is no such lab, and `drop` says so (exit 4) before it takes the lab's
//! lock, which would leave a folder behind: a typo in a cleanup script must not hide that the
//! real lab still runs.

use serde::Serialize;

use super::error::Result;
use crate::cli::Output;
use crate::cluster::ClusterError;
use crate::kube::kubeconfig;
use crate::ops::drop::{self as ops, DropOpts};

use super::Ctx;
use super::output::{self, LabResult};

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
    let opts = DropOpts {
        force,
        kubeconfig: kubeconfig::target_path_from_env().ok(),
    };
    if !ops::anything_of(ctx.engine().await?, &name, opts.kubeconfig.as_deref()).await? {
        return Err(ClusterError::NotFound(name.to_string()).into());
    }
    let _lock = ctx.lock(&name)?;
    ctx.confirm(
        yes,
        &format!("Drop lab {name} and everything in it?"),
        "dropped",
    )?;
    let dropped = ops::drop(&ctx.env().await?, &name, &opts).await?;
    if let Some(aside) = &dropped.record_set_aside {
        ctx.ui.warn(&format!(
            "the lab's record did not parse; moved it aside to {}",
            aside.display()
        ));
    }
    let how = if dropped.restorable {
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
                removed: dropped.removed,
                restorable: dropped.restorable,
            },
        },
        format!("lab {name} dropped{how}"),
    )
}

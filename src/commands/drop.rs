//! `playground drop`: throw a lab away ([`crate::ops::drop`] says in what order). With nothing
//! of the lab left there is no such lab, and `drop` says so (exit 4) before it takes the lab's
//! lock, which would leave a folder behind: a typo in a cleanup script must not hide that the
//! real lab still runs.

use serde::Serialize;

use super::args::OutputArg;
use super::error::Result;
use crate::cluster::ClusterError;
use crate::kube::kubeconfig;
use crate::ops::drop::{self as ops, DropOpts};

use super::Ctx;
use super::output::{self, LabResult};

/// Remove the lab; its record stays for `restore`.
///
/// Remove every container, network and volume of the lab, and its kube context.
/// Works on half-made labs and without any local state. The Secrets in `keep.secrets` are
/// exported first, and the lab's record is kept, so `playground restore` brings it back.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    #[arg(add = super::completions::lab_names())]
    pub(crate) name: Option<String>,
    /// Do not ask for confirmation.
    #[arg(short, long)]
    pub(crate) yes: bool,
    /// Drop even if the Secrets in `keep.secrets` cannot be exported (they are lost).
    #[arg(long)]
    pub(crate) force: bool,
    #[command(flatten)]
    pub(crate) output: OutputArg,
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

pub(crate) async fn run(ctx: &Ctx<'_>, args: Args) -> Result<()> {
    let Args {
        name,
        yes,
        force,
        output: OutputArg { output: out },
    } = args;
    let name = ctx.lab_name(name).await?;
    let opts = DropOpts {
        force,
        kubeconfig: kubeconfig::target_path_from_env().ok(),
    };
    if !ops::anything_of(ctx.engine().await?, &name, opts.kubeconfig.as_deref()).await? {
        return Err(ClusterError::NotFound(name.to_string()).into());
    }
    let lock = ctx.lock(&name)?;
    ctx.confirm(
        yes,
        &format!("Drop lab {name} and everything in it?"),
        "dropped",
    )?;
    let dropped = ops::drop(&ctx.env().await?, &lock, &opts).await?;
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

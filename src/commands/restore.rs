//! `playground restore`: rebuild a dropped lab from its record or, with `--from`, from its
//! repository ([`crate::ops::restore`] finds which), then the same path as `up`. A lab that
//! exists is left as it is.

use super::args::Output;
use super::error::Result;
use crate::cluster::inventory::LabSummary;
use crate::ops::restore::{self as ops, Restore, RestoreOpts};

use super::Ctx;
use super::output::{self, LabResult};
use super::up::up_lab;

/// Bring a dropped lab back from Git.
///
/// Bring a dropped lab back from Git: from its record (`playground restore NAME`), or on a
/// new machine from the lab repository itself (`playground restore --from URL_OR_PATH`),
/// which must hold playground.yaml at its top. Kept Secrets are re-applied before Argo CD
/// syncs. A lab that exists is left as it is.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// The dropped lab (default: the one in ./playground.yaml, or the only dropped lab).
    #[arg(add = super::completions::dropped_lab_names())]
    pub(crate) name: Option<String>,
    /// Restore with no local record: clone this lab repository (https or ssh URL, or a local
    /// path, bare or not) into the user cache and bring up the playground.yaml at its top.
    #[arg(long, value_name = "GIT_URL_OR_PATH", conflicts_with = "name")]
    pub(crate) from: Option<String>,
    /// Deploy this commit, branch or tag instead of the recorded revision.
    #[arg(long, value_name = "REV")]
    pub(crate) revision: Option<String>,
    #[command(flatten)]
    pub run: super::args::RunArgs,
}

const EXAMPLES: &str = "Examples:
  playground restore mylab
  playground restore --from https://github.com/me/lab.git";

pub(crate) async fn run(ctx: &Ctx<'_>, args: Args) -> Result<()> {
    let opts = RestoreOpts {
        name: args.name.clone(),
        from: args.from.clone(),
        revision: args.revision.clone(),
    };
    match ops::restore(ctx.engine().await?, &opts, ctx.ui).await? {
        Restore::Exists(lab) => exists_already(ctx, &lab, args.run.output.output),
        Restore::Source(source) => up_lab(ctx, *source, &args.run, None).await,
    }
}

/// `restore -o json` of a lab that exists: the lab as it is, and that nothing was restored.
#[derive(serde::Serialize)]
struct Unchanged {
    restored: bool,
}

/// A lab that exists in Docker is not restored: say so, change nothing.
fn exists_already(ctx: &Ctx<'_>, lab: &LabSummary, out: Output) -> Result<()> {
    let name = &lab.name;
    let doc = LabResult {
        name,
        state: lab.state.as_str(),
        more: Unchanged { restored: false },
    };
    output::outcome(
        out,
        ctx.ui,
        &doc,
        format!(
            "lab {name} exists ({}); restore changed nothing\n  hint: `playground resume {name}` starts a suspended lab, `playground up` converges one, `playground drop {name}` throws it away",
            lab.state.as_str()
        ),
    )
}

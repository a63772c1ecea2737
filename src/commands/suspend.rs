//! `playground suspend`: stop (or freeze) a lab's containers, agents first; the kept Secrets
//! are exported first, while the API still answers ([`crate::ops::suspend`]).

use super::args::OutputArg;
use super::error::Result;
use crate::ops::suspend::{self as ops, SuspendOpts};

use super::Ctx;
use super::output::{self, LabResult};

/// Stop the lab's nodes to free CPU and memory.
///
/// Stop the lab's nodes (agents first) to free every CPU and byte they used. Volumes and
/// state are kept; a suspended lab stays suspended across a Docker restart.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// The lab (default: the one in ./playground.yaml, or the only lab).
    #[arg(add = super::completions::lab_names())]
    pub(crate) name: Option<String>,
    /// Freeze the nodes with `docker pause` instead: memory stays in use, resume is instant.
    #[arg(long)]
    pub(crate) pause: bool,
    /// Suspend even if the Secrets in `keep.secrets` cannot be exported first.
    #[arg(long)]
    pub(crate) force: bool,
    #[command(flatten)]
    pub(crate) output: OutputArg,
}

const EXAMPLES: &str = "Examples:
  playground suspend
  playground suspend mylab --pause";

pub(crate) async fn run(ctx: &Ctx<'_>, args: Args) -> Result<()> {
    let Args {
        name,
        pause,
        force,
        output: OutputArg { output: out },
    } = args;
    let name = ctx.lab_name(name).await?;
    let lock = ctx.lock(&name)?;
    let done = ops::suspend(&ctx.env().await?, &lock, SuspendOpts { pause, force }).await?;
    let state = done.state;
    output::outcome(
        out,
        ctx.ui,
        &LabResult {
            name: &name,
            state,
            more: (),
        },
        format!("lab {name} {state}"),
    )
}

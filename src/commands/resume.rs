//! `playground resume`: start a suspended or paused lab, and wait until its nodes are Ready.

use std::time::Duration;

use serde::Serialize;

use super::args::OutputArg;
use super::error::Result;
use crate::kube::api::NodeReady;

use super::Ctx;
use super::output::{self, LabResult};

/// Start a suspended or paused lab.
///
/// Start a suspended or paused lab: servers first, then agents, then wait for the API.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    #[arg(add = super::completions::lab_names())]
    pub(crate) name: Option<String>,
    /// How long to wait for the lab to be ready, e.g. 90s or 3m.
    #[arg(long, value_parser = super::args::parse_timeout, default_value = "180s")]
    pub(crate) timeout: Duration,
    #[command(flatten)]
    pub(crate) output: OutputArg,
}

const EXAMPLES: &str = "Example:
  playground resume mylab";

/// What `resume -o json|yaml` adds to its `LabResult`.
#[derive(Serialize)]
struct Resumed<'a> {
    nodes: &'a [NodeReady],
}

pub(crate) async fn run(ctx: &Ctx<'_>, args: Args) -> Result<()> {
    let Args {
        name,
        timeout,
        output: OutputArg { output: out },
    } = args;
    let name = ctx.lab_name(name).await?;
    let lock = ctx.lock(&name)?;
    let nodes = crate::ops::resume::resume(&ctx.env().await?, &lock, timeout).await?;
    let ready = nodes.iter().filter(|n| n.ready).count();
    output::outcome(
        out,
        ctx.ui,
        &LabResult {
            name: &name,
            state: "running",
            more: Resumed { nodes: &nodes },
        },
        format!("lab {name} is running ({ready} nodes Ready)"),
    )
}

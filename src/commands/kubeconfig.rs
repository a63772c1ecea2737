//! `playground kubeconfig`: the lab's kubeconfig on stdout, standalone (for `KUBECONFIG=…`).

use super::error::Result;
use crate::config::LabName;
use crate::kube::kubeconfig;

use super::Ctx;

/// Print the lab's kubeconfig.
///
/// Print the lab's kubeconfig (context, cluster and user `playground-<name>`).
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    #[arg(add = super::completions::lab_names())]
    pub(crate) name: Option<String>,
}

const EXAMPLES: &str = "Example:
  playground kubeconfig mylab > mylab.kubeconfig";

pub(crate) async fn run(ctx: &Ctx<'_>, args: Args) -> Result<()> {
    let Args { name } = args;
    let lab = ctx.lab(name).await?;
    let text = ctx.lab_kubeconfig(&lab).await?;
    let source = kubeconfig::parse_source(&text)?;
    // The lab was found by the name `ctx.lab` parsed: its label is that name.
    let name = LabName::parse(&lab.name)?;
    print!("{}", kubeconfig::render_standalone(&name, &source)?);
    Ok(())
}

//! `playground kubeconfig`: the lab's kubeconfig on stdout, standalone (for `KUBECONFIG=…`).

use super::error::Result;
use crate::config::LabName;
use crate::kube::kubeconfig;

use super::Ctx;

pub async fn run(ctx: &Ctx<'_>, name: Option<String>) -> Result<()> {
    let lab = ctx.lab(name).await?;
    let text = ctx.lab_kubeconfig(&lab).await?;
    let source = kubeconfig::parse_source(&text)?;
    // The lab was found by the name `ctx.lab` parsed: its label is that name.
    let name = LabName::parse(&lab.name)?;
    print!("{}", kubeconfig::render_standalone(&name, &source)?);
    Ok(())
}

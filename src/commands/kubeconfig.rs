//! `playground kubeconfig`: the lab's kubeconfig on stdout, standalone (for `KUBECONFIG=…`).

use super::error::Result;
use crate::kube::kubeconfig;

use super::Ctx;

pub async fn run(ctx: &Ctx<'_>, name: Option<String>) -> Result<()> {
    let lab = ctx.lab(name).await?;
    let text = ctx.lab_kubeconfig(&lab).await?;
    let source = kubeconfig::parse_source(&text)?;
    print!("{}", kubeconfig::render_standalone(&lab.name, &source)?);
    Ok(())
}

//! `playground refresh`: ask Argo CD to look at Git now instead of at its next poll.

use super::error::Result;
use crate::argocd::refresh;

use super::Ctx;

pub async fn run(
    ctx: &Ctx<'_>,
    name: Option<String>,
    app: Option<String>,
    hard: bool,
) -> Result<()> {
    let lab = ctx.lab(name).await?;
    let api = ctx.lab_api(&lab).await?;
    let namespace = lab.argocd_namespace();
    let refreshed = refresh::refresh(&api, &namespace, app.as_deref(), hard).await?;
    ctx.ui.line(&format!(
        "asked Argo CD to {} Application {namespace}/{refreshed}",
        if hard { "hard-refresh" } else { "refresh" }
    ));
    Ok(())
}

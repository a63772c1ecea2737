//! `playground refresh`: ask Argo CD to look at Git now instead of at its next poll.

use super::error::Result;
use crate::argocd::refresh;

use super::Ctx;

/// Make Argo CD look at Git now.
///
/// Make Argo CD look at Git now (the refresh annotation), instead of waiting for its poll.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    #[arg(add = super::completions::lab_names())]
    pub(crate) name: Option<String>,
    /// The Application to refresh (default: the root).
    #[arg(long)]
    pub(crate) app: Option<String>,
    /// Also regenerate manifests (Argo CD's hard refresh).
    #[arg(long)]
    pub(crate) hard: bool,
}

const EXAMPLES: &str = "Examples:
  playground refresh
  playground refresh --app hello --hard";

pub(crate) async fn run(ctx: &Ctx<'_>, args: Args) -> Result<()> {
    let Args { name, app, hard } = args;
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

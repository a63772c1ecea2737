//! `playground password`: the Argo CD admin password, on stdout alone, for a pipe.

use std::time::Duration;

use super::error::Result;

use super::Ctx;

/// Print the Argo CD admin password.
///
/// Print the Argo CD admin password (from `argocd-initial-admin-secret`). The UI is at
/// http://127.0.0.1:<argocd.ui.port>, user `admin`.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    #[arg(add = super::completions::lab_names())]
    pub(crate) name: Option<String>,
}

const EXAMPLES: &str = "Example:
  playground password mylab";

pub(crate) async fn run(ctx: &Ctx<'_>, args: Args) -> Result<()> {
    let Args { name } = args;
    let lab = ctx.lab(name).await?;
    let api = ctx.lab_api(&lab).await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let password =
        crate::argocd::access::admin_password(api.client(), &lab.argocd_namespace(), deadline)
            .await?;
    println!("{password}");
    Ok(())
}

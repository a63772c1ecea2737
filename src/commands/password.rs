//! `playground password`: the Argo CD admin password, on stdout alone, for a pipe.

use std::time::Duration;

use super::error::Result;

use super::Ctx;

pub async fn run(ctx: &Ctx<'_>, name: Option<String>) -> Result<()> {
    let lab = ctx.lab(name).await?;
    let api = ctx.lab_api(&lab).await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let password =
        crate::argocd::access::admin_password(api.client(), &lab.argocd_namespace(), deadline)
            .await?;
    println!("{password}");
    Ok(())
}

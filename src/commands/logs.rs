//! `playground logs`: the nodes' logs, each line prefixed with its node.

use super::error::Result;
use crate::cli::LogsArgs;

use super::Ctx;

pub async fn run(ctx: &Ctx<'_>, args: LogsArgs) -> Result<()> {
    let lab = ctx.lab(args.name).await?;
    let since = args.since.map_or(0, |t| t.as_second());
    crate::cluster::logs::print_logs(
        ctx.engine().await?,
        &lab,
        args.node.as_deref(),
        args.follow,
        since,
    )
    .await?;
    Ok(())
}

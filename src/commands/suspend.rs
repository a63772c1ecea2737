//! `playground suspend`: stop (or freeze) a lab's containers, agents first; the kept Secrets
//! are exported first, while the API still answers.

use super::error::Result;
use crate::cli::Output;
use crate::cluster::lifecycle;

use super::output::{self, LabResult};
use super::{Ctx, kept};

pub async fn run(
    ctx: &Ctx<'_>,
    name: Option<String>,
    pause: bool,
    force: bool,
    out: Output,
) -> Result<()> {
    let name = ctx.lab_name(name).await?;
    let _lock = ctx.lock(&name)?;
    // A suspended lab can be dropped without its API: export while it still answers.
    kept::save_before(ctx, &name, force, "suspended").await?;
    lifecycle::suspend(ctx.engine().await?, &name, pause, ctx.ui).await?;
    let state = if pause { "paused" } else { "suspended" };
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

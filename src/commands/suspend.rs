//! `playground suspend`: stop (or freeze) a lab's containers, agents first; the kept Secrets
//! are exported first, while the API still answers ([`crate::ops::suspend`]).

use super::error::Result;
use crate::cli::Output;
use crate::ops::suspend::{self as ops, SuspendOpts};

use super::Ctx;
use super::output::{self, LabResult};

pub async fn run(
    ctx: &Ctx<'_>,
    name: Option<String>,
    pause: bool,
    force: bool,
    out: Output,
) -> Result<()> {
    let name = ctx.lab_name(name).await?;
    let _lock = ctx.lock(&name)?;
    let done = ops::suspend(&ctx.env().await?, &name, SuspendOpts { pause, force }).await?;
    let state = done.state;
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

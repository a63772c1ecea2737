//! `playground list`: every lab Docker knows of, and the dropped labs `restore` can bring back.

use super::error::Result;
use crate::cli::Output;
use crate::cluster::inventory;
use crate::state::record;

use super::{Ctx, output};

pub async fn run(ctx: &Ctx<'_>, out: Output) -> Result<()> {
    let running = inventory::list(ctx.engine().await?).await?;
    let labs = inventory::with_dropped(running, record::list().into_iter().flatten());
    if out == Output::Table && labs.is_empty() {
        ctx.ui.line("no labs; `playground up` creates one");
        return Ok(());
    }
    output::emit(out, &labs, || inventory::render_table(&labs))
}

//! `playground init`: write a new lab repository (the sample lab, committed).

use std::path::PathBuf;

use super::error::Result;
use crate::repo::sample;

use super::Ctx;

pub fn run(ctx: &Ctx<'_>, dir: Option<PathBuf>) -> Result<()> {
    let dir = dir.unwrap_or_else(|| PathBuf::from("."));
    let written = sample::init(&dir)?;
    if written.created {
        ctx.ui.line(&format!(
            "wrote a new lab in {} (commit {}); next: `cd {} && playground up`",
            written.dir.display(),
            &written.commit[..7.min(written.commit.len())],
            dir.display()
        ));
    } else {
        ctx.ui.line(&format!(
            "{} already holds a lab; left as it is",
            written.dir.display()
        ));
    }
    Ok(())
}

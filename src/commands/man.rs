//! `playground man [DIR]` (hidden): write the man pages, `playground.1` and one per subcommand
//! (`playground-up.1`, `playground-cache-prune.1`, …), from the clap definition, for packagers.

use std::path::PathBuf;

use clap::CommandFactory;

use super::error::{Error, Result};
use crate::cli::Cli;

use super::Ctx;

pub fn run(ctx: &Ctx<'_>, dir: Option<PathBuf>) -> Result<()> {
    let dir = dir.unwrap_or_else(|| PathBuf::from("."));
    std::fs::create_dir_all(&dir).map_err(|source| Error::Io {
        what: format!("cannot create {}", dir.display()),
        source,
    })?;
    // Hidden subcommands (this one, `completions`' engine) get no page.
    clap_mangen::generate_to(Cli::command(), &dir).map_err(|source| Error::Io {
        what: format!("cannot write man pages to {}", dir.display()),
        source,
    })?;
    ctx.ui.line(&format!(
        "wrote {} (and one page per subcommand); try `man -l {}`",
        dir.join("playground.1").display(),
        dir.join("playground.1").display()
    ));
    Ok(())
}

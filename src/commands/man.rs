//! `playground man [DIR]` (hidden): write the man pages, `playground.1` and one per subcommand
//! (`playground-up.1`, `playground-cache-prune.1`, …), from the clap definition, for packagers.

use std::path::PathBuf;

use super::error::{Error, Result};

use super::Ctx;

/// Write the man pages (playground.1, and one per subcommand) into DIR (default: .).
#[derive(Debug, clap::Args)]
#[command(hide = true)]
pub struct Args {
    /// Where to write them.
    pub(crate) dir: Option<PathBuf>,
}

/// `cli` is the whole command line (`Cli::command()`), which only the top knows.
pub(crate) fn run(ctx: &Ctx<'_>, args: Args, cli: clap::Command) -> Result<()> {
    let Args { dir } = args;
    let dir = dir.unwrap_or_else(|| PathBuf::from("."));
    std::fs::create_dir_all(&dir).map_err(|source| Error::Io {
        what: format!("cannot create {}", dir.display()),
        source,
    })?;
    // Hidden subcommands (this one, `completions`' engine) get no page.
    clap_mangen::generate_to(cli, &dir).map_err(|source| Error::Io {
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

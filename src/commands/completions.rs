//! `playground completions SHELL`: the shell's registration script for clap_complete's dynamic
//! engine, and the candidates it offers for lab names.
//!
//! The flow: the script (the same that `COMPLETE=bash playground` prints, see `main.rs`) makes
//! the shell call `COMPLETE=bash playground -- <words>` on every Tab; `main` answers that
//! before anything else runs, from the clap definition, calling
//! [`crate::cli::lab_candidates`] or [`crate::cli::dropped_lab_candidates`] for a lab NAME. So names are always the current ones, as with
//! k3d's `ValidArgsAvailableClusters` (k3d-io/k3d `cmd/util/completion.go`), which lists
//! clusters on every Tab too.
//!
//! A Tab must never hang: Docker gets [`crate::cli::COMPLETION_DOCKER_BUDGET`] in all, and a
//! Docker that is down, slow or refusing simply offers no running labs.

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;

use clap_complete::env::Shells;

use super::error::{Error, Result, Usage};
use crate::cli::{COMPLETE_VAR, Shell};

pub fn run(shell: Shell) -> Result<()> {
    let name = match shell {
        Shell::Bash => "bash",
        Shell::Zsh => "zsh",
        Shell::Fish => "fish",
        Shell::Powershell => "powershell",
    };
    let shells = Shells::builtins();
    let completer = shells
        .completer(name)
        .ok_or(Usage::UnsupportedShell(name))?;
    let mut script = Vec::new();
    completer
        .write_registration(
            COMPLETE_VAR,
            "playground",
            "playground",
            &completer_path(),
            &mut script,
        )
        .and_then(|()| std::io::stdout().write_all(&script))
        .map_err(|source| Error::Io {
            what: "cannot write the completion script".into(),
            source,
        })?;
    Ok(())
}

/// The program the script calls back: this binary as it was invoked. `playground` on PATH
/// stays `playground`; a relative path (`./target/debug/playground`) is made absolute, as
/// clap_complete's `CompleteEnv` does, so the script works from any directory.
fn completer_path() -> String {
    let argv0 = std::env::args_os()
        .next()
        .unwrap_or_else(|| OsString::from("playground"));
    let mut path = PathBuf::from(argv0);
    if path.components().count() > 1
        && path.is_relative()
        && let Ok(cwd) = std::env::current_dir()
    {
        path = cwd.join(path);
    }
    path.to_string_lossy().into_owned()
}

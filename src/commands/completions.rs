//! `playground completions SHELL`: the shell's registration script for clap_complete's dynamic
//! engine, and the candidates it offers for lab names.
//!
//! The flow: the script (the same that `COMPLETE=bash playground` prints, see `main.rs`) makes
//! the shell call `COMPLETE=bash playground -- <words>` on every Tab; `main` answers that
//! before anything else runs ([`answer_if_asked`], handed the whole parser by `cli`), from the
//! clap definition, which calls [`lab_candidates`] or [`dropped_lab_candidates`] for a lab
//! NAME (each command's `Args` names its completer: [`lab_names`], [`dropped_lab_names`]).
//! So names are always the current ones, as with k3d's `ValidArgsAvailableClusters`
//! (k3d-io/k3d `cmd/util/completion.go`), which lists clusters on every Tab too.
//!
//! A Tab must never hang: Docker gets [`COMPLETION_DOCKER_BUDGET`] in all, and a Docker that
//! is down, slow or refusing simply offers no running labs.

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use clap_complete::env::Shells;
use clap_complete::{ArgValueCandidates, CompletionCandidate};

use super::error::{Error, Result, Usage};

/// Print a shell completion script.
///
/// Print the shell script that completes playground's commands, flags and lab names:
/// `source <(playground completions bash)` (see docs/commands.md for zsh, fish and PowerShell).
/// Lab names are looked up when you press Tab, from Docker and the dropped labs on record.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    #[arg(value_enum)]
    pub(crate) shell: Shell,
}

/// A shell `completions` writes for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Shell {
    Bash,
    Zsh,
    Fish,
    Powershell,
}

const EXAMPLES: &str = "Example:
  source <(playground completions bash)";

/// The variable that switches the binary into completion mode (clap_complete's default).
pub(crate) const COMPLETE_VAR: &str = "COMPLETE";

/// Everything Docker may take to list labs during one Tab.
pub(crate) const COMPLETION_DOCKER_BUDGET: Duration = Duration::from_millis(1500);

/// When the shell asks for completions (`COMPLETE` is set), answer from the whole command
/// line (`Cli::command`, which only the top knows) and exit; else return.
pub(crate) fn answer_if_asked(cli: fn() -> clap::Command) {
    clap_complete::CompleteEnv::with_factory(cli)
        .var(COMPLETE_VAR)
        .complete();
}

/// What a lab NAME argument adds to complete: `#[arg(add = super::completions::lab_names())]`.
pub(crate) fn lab_names() -> ArgValueCandidates {
    ArgValueCandidates::new(lab_candidates)
}

/// What `restore`'s NAME adds to complete: the dropped labs.
pub(crate) fn dropped_lab_names() -> ArgValueCandidates {
    ArgValueCandidates::new(dropped_lab_candidates)
}

/// Candidates for a lab NAME: the labs Docker knows of, each with its state as help.
pub(crate) fn lab_candidates() -> Vec<CompletionCandidate> {
    crate::ops::names::running(COMPLETION_DOCKER_BUDGET)
        .into_iter()
        .map(|(name, state)| CompletionCandidate::new(name).help(Some(state.into())))
        .collect()
}

/// Candidates for `restore`'s NAME: the dropped labs on record that Docker has nothing of.
/// With Docker down, every dropped record is offered (the command itself then says more).
pub(crate) fn dropped_lab_candidates() -> Vec<CompletionCandidate> {
    crate::ops::names::dropped(COMPLETION_DOCKER_BUDGET)
        .into_iter()
        .map(|name| CompletionCandidate::new(name).help(Some("dropped".into())))
        .collect()
}

pub(crate) fn run(args: Args) -> Result<()> {
    let Args { shell } = args;
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

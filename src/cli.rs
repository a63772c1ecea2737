//! The command line's top: the `playground` parser (its global flags, and one variant per
//! subcommand wrapping that command's `Args`) and the one match that calls the command's
//! `run`. Everything a subcommand takes (flags, help text, examples, the completer of a lab
//! NAME) lives beside its `run` in `commands/`, as cargo keeps `cli()` beside `exec()` in each
//! `commands/*.rs`; what several share is in [`crate::commands::args`].
//!
//! The layer: this module sits at the top with `main`, above `commands`, because it names
//! every subcommand, as cargo's `bin/cargo/cli.rs` does above its `commands/`. So no command
//! imports it: the two that need the whole tree (`completions`' engine and `man`) are handed
//! [`Cli::command`]. It imports nothing below `commands` but the [`Ui`] it hands them.

use clap::{CommandFactory, Parser, Subcommand};

use crate::commands::error::Result;
use crate::commands::{
    Ctx, argocd, cache, completions, doctor, drop, exec, export, image, init, kubeconfig, list,
    logs, man, password, refresh, registry, restore, resume, schema, status, suspend, up, validate,
    version,
};
use crate::ui::Ui;

/// A local Kubernetes lab, run the GitOps way: k3s nodes in Docker, Argo CD, and an app of
/// apps from Git.
///
/// Quick start: `playground up` creates the sample lab; `playground list` shows your labs;
/// `playground suspend` frees CPU and memory; `playground resume` brings it back;
/// `playground drop` throws it away.
#[derive(Debug, Parser)]
#[command(
    name = "playground",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    /// More log output (-v: debug, -vv: trace). RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Print nothing but results and errors.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands, in the order `playground -h` lists them; each one's help is on its `Args`.
#[derive(Debug, Subcommand)]
pub enum Command {
    Up(up::Args),
    Suspend(suspend::Args),
    Resume(resume::Args),
    Drop(drop::Args),
    Restore(restore::Args),
    List(list::Args),
    Status(status::Args),
    Kubeconfig(kubeconfig::Args),
    Password(password::Args),
    Argocd(argocd::Args),
    Refresh(refresh::Args),
    Init(init::Args),
    Validate(validate::Args),
    Cache(cache::Args),
    Registry(registry::Args),
    Doctor(doctor::Args),
    Image(image::Args),
    Logs(logs::Args),
    Export(export::Args),
    Exec(exec::Args),
    Version(version::Args),
    Completions(completions::Args),
    Schema(schema::Args),
    Man(man::Args),
}

impl Command {
    /// Run the command to completion.
    pub async fn run(self, ui: &Ui) -> Result<()> {
        let ctx = &Ctx::new(ui);
        match self {
            Command::Up(args) => up::run(ctx, args).await,
            Command::Suspend(args) => suspend::run(ctx, args).await,
            Command::Resume(args) => resume::run(ctx, args).await,
            Command::Drop(args) => drop::run(ctx, args).await,
            Command::Restore(args) => restore::run(ctx, args).await,
            Command::List(args) => list::run(ctx, args).await,
            Command::Status(args) => status::run(ctx, args).await,
            Command::Kubeconfig(args) => kubeconfig::run(ctx, args).await,
            Command::Password(args) => password::run(ctx, args).await,
            Command::Argocd(args) => argocd::run(ctx, args).await,
            Command::Refresh(args) => refresh::run(ctx, args).await,
            Command::Init(args) => init::run(ctx, args),
            Command::Validate(args) => validate::run(ctx, args),
            Command::Cache(args) => cache::run(ctx, args).await,
            Command::Registry(args) => registry::run(ctx, args).await,
            Command::Doctor(args) => doctor::run(args).await,
            Command::Image(args) => image::run(ctx, args).await,
            Command::Logs(args) => logs::run(ctx, args).await,
            Command::Export(args) => export::run(ctx, args).await,
            Command::Exec(args) => exec::run(ctx, args).await,
            Command::Version(args) => version::run(args).await,
            Command::Completions(args) => completions::run(args),
            Command::Schema(args) => schema::run(args),
            Command::Man(args) => man::run(ctx, args, Cli::command()),
        }
    }
}

/// When the shell asks for completions (`COMPLETE` is set), answer from this parser and exit;
/// else return. `main` calls it before anything else runs.
pub fn answer_completion_if_asked() {
    completions::answer_if_asked(Cli::command);
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn parse(args: &[&str]) -> Command {
        Cli::try_parse_from(std::iter::once("playground").chain(args.iter().copied()))
            .unwrap()
            .command
    }

    #[test]
    fn the_command_line_definition_is_consistent() {
        // Catches conflicts_with naming an argument that a flatten renamed or dropped.
        Cli::command().debug_assert();
    }

    #[test]
    fn short_help_fits_a_screen_and_every_command_shows_an_example() {
        let mut cmd = Cli::command().term_width(100);
        let top = cmd.render_help().to_string();
        assert!(
            top.lines().count() <= 40,
            "`playground -h` is {} lines:\n{top}",
            top.lines().count()
        );
        for sub in cmd.get_subcommands_mut() {
            if sub.is_hide_set() || sub.get_name() == "help" {
                continue;
            }
            let name = sub.get_name().to_string();
            // One line in the list: a short first paragraph, the rest kept for `--help`.
            let about = sub.get_about().map(|a| a.to_string()).unwrap_or_default();
            assert!(
                !about.contains('\n') && about.len() <= 60,
                "{name}: about is {about:?}"
            );
            let help = sub.render_help().to_string();
            let has_example = help.contains("Example");
            let nested = sub.get_subcommands().any(|s| !s.is_hide_set());
            assert!(
                has_example || nested,
                "`playground {name} -h` shows no example:\n{help}"
            );
        }
    }

    #[test]
    fn restore_takes_ups_run_flags_and_from_excludes_a_name() {
        match parse(&[
            "restore",
            "lab",
            "--revision",
            "abc",
            "--cluster-only",
            "--timeout",
            "5m",
        ]) {
            Command::Restore(r) => {
                assert_eq!(
                    (r.name.as_deref(), r.revision.as_deref()),
                    (Some("lab"), Some("abc"))
                );
                assert!(r.run.cluster_only);
                assert_eq!(r.run.timeout, Some(Duration::from_secs(300)));
            }
            other => panic!("{other:?}"),
        }
        assert!(Cli::try_parse_from(["playground", "restore", "lab", "--from", "/x"]).is_err());
        assert!(
            Cli::try_parse_from(["playground", "up", "--context", "c", "--agents", "2"]).is_err(),
            "--context conflicts with the cluster flags"
        );
    }

    #[test]
    fn the_default_deadline_leaves_room_for_the_gitops_half() {
        let run = |args: &[&str]| match parse(args) {
            Command::Up(u) => u.run.deadline_after(),
            other => panic!("{other:?}"),
        };
        assert_eq!(run(&["up"]), Duration::from_secs(600));
        assert_eq!(run(&["up", "--cluster-only"]), Duration::from_secs(180));
        assert_eq!(run(&["up", "--timeout", "90s"]), Duration::from_secs(90));
    }

    #[test]
    fn argocd_passes_everything_after_the_separator_verbatim() {
        match parse(&[
            "argocd", "--", "app", "list", "-o", "json", "--help", "-v", "--",
        ]) {
            Command::Argocd(argocd::Args { name, args }) => {
                assert_eq!(name, None);
                assert_eq!(args, ["app", "list", "-o", "json", "--help", "-v", "--"]);
            }
            other => panic!("{other:?}"),
        }
        match parse(&["argocd", "lab", "--", "version"]) {
            Command::Argocd(argocd::Args { name, args }) => {
                assert_eq!(name.as_deref(), Some("lab"));
                assert_eq!(args, ["version"]);
            }
            other => panic!("{other:?}"),
        }
        // Without `--`, a second word is an error, not silently the lab name or an argument.
        assert!(Cli::try_parse_from(["playground", "argocd", "app", "list"]).is_err());
    }
}

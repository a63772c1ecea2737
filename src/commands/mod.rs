//! The commands: one file per subcommand, over a shared [`Ctx`] (the [`Ui`], the Docker
//! Engine connected once, the lab a command acts on) and one printer (`output`).
//!
//! Each command converts its clap arguments once, at the top of its `run`, and calls the
//! library below; the rules live with their owners (`cluster`, `argocd`, `source`, `state`,
//! `repo`), not here. The one error type they return maps every failure to a message, a hint
//! and an exit status ([`error`]).

mod argocd;
mod cache;
pub mod completions;
mod context;
mod doctor;
mod drop;
pub mod error;
mod exec;
mod export;
mod image;
mod init;
mod kubeconfig;
mod list;
mod logs;
mod man;
mod output;
mod password;
mod refresh;
mod registry;
mod restore;
mod resume;
mod schema;
mod status;
mod suspend;
mod up;
mod validate;
mod version;

pub use context::Ctx;

use crate::cli::{Cli, Command};
use crate::ui::Ui;
use error::Result;

/// Run one command to completion.
pub async fn run(cli: Cli, ui: &Ui) -> Result<()> {
    let ctx = Ctx::new(ui);
    let ctx = &ctx;
    match cli.command {
        Command::Up(args) => up::run(ctx, args).await,
        Command::Restore(args) => restore::run(ctx, args).await,
        Command::Suspend {
            name,
            pause,
            force,
            output,
        } => suspend::run(ctx, name, pause, force, output).await,
        Command::Resume {
            name,
            timeout,
            output,
        } => resume::run(ctx, name, timeout, output).await,
        Command::Drop {
            name,
            yes,
            force,
            output,
        } => drop::run(ctx, name, yes, force, output).await,
        Command::List { output } => list::run(ctx, output).await,
        Command::Status { name, output } => status::run(ctx, name, output).await,
        Command::Password { name } => password::run(ctx, name).await,
        Command::Argocd { name, args } => argocd::run(ctx, name, args).await,
        Command::Refresh { name, app, hard } => refresh::run(ctx, name, app, hard).await,
        Command::Init { dir, from_k3d } => init::run(ctx, dir, from_k3d),
        Command::Validate { file, output } => validate::run(ctx, file, output),
        Command::Cache { command } => cache::run(ctx, command).await,
        Command::Registry { command } => registry::run(ctx, command).await,
        Command::Doctor { file, output } => doctor::run(file, output).await,
        Command::Image { command } => image::run(ctx, command).await,
        Command::Kubeconfig { name } => kubeconfig::run(ctx, name).await,
        Command::Logs(args) => logs::run(ctx, args).await,
        Command::Export { command } => export::run(ctx, command).await,
        Command::Exec { name, node, cmd } => exec::run(ctx, name, node, cmd).await,
        Command::Version { output } => version::run(output).await,
        Command::Completions { shell } => completions::run(shell),
        Command::Schema => schema::run(),
        Command::Man { dir } => man::run(ctx, dir),
    }
}

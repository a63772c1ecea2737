//! `playground registry rm`: the lab registry and every image pushed to it.

use super::error::Result;
use crate::cluster::registry::{self, RegistrySettings};

use super::Ctx;

/// Manage the lab registry you push to.
///
/// The lab registry (`cluster.registry: { port: 5001 }`): a plain registry on
/// 127.0.0.1:PORT that the host pushes to as `localhost:PORT/app` and pods pull from under
/// the same name. Shared by labs and kept by `drop`; `cache prune` removes it too.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    #[command(subcommand)]
    pub(crate) command: RegistryCommand,
}

/// `playground registry …`
#[derive(Debug, clap::Subcommand)]
pub(crate) enum RegistryCommand {
    /// Remove the lab registry and its volume, with every image pushed to it. Labs keep
    /// running; the next `playground up` of a lab with `cluster.registry` makes it again,
    /// empty. Asks on a terminal.
    Rm {
        /// Do not ask for confirmation.
        #[arg(short, long)]
        yes: bool,
    },
}

const EXAMPLES: &str = "Examples:
  docker push localhost:5001/app:dev
  playground registry rm --yes";

pub(crate) async fn run(ctx: &Ctx<'_>, args: Args) -> Result<()> {
    let Args { command } = args;
    let RegistryCommand::Rm { yes } = command;
    let settings = RegistrySettings::from_env();
    let name = settings.container();
    ctx.confirm(
        yes,
        &format!("Remove the lab registry {name} and every image pushed to it?"),
        "removed",
    )?;
    let s = ctx.ui.step(format!("remove the lab registry {name}"));
    match registry::remove(ctx.engine().await?, &settings).await {
        Ok(true) => s.done(),
        Ok(false) => s.done_with("there was none"),
        Err(e) => {
            s.fail();
            return Err(e.into());
        }
    }
    Ok(())
}

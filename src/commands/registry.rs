//! `playground registry rm`: the lab registry and every image pushed to it.

use super::error::Result;
use crate::cli::RegistryCommand;
use crate::cluster::registry::{self, RegistrySettings};

use super::Ctx;

pub async fn run(ctx: &Ctx<'_>, command: RegistryCommand) -> Result<()> {
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

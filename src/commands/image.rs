//! `playground image import`: copy images from the host's Docker into every node of a lab.

use super::error::Result;
use crate::cli::ImageCommand;
use crate::cluster::import;

use super::Ctx;

pub async fn run(ctx: &Ctx<'_>, command: ImageCommand) -> Result<()> {
    let ImageCommand::Import { images, name } = command;
    let name = ctx.lab_name(name).await?;
    let nodes = import::import(ctx.engine().await?, &name, &images, ctx.ui).await?;
    ctx.ui.line(&format!(
        "imported {} into {} node(s) of lab {name}",
        images.join(", "),
        nodes.len()
    ));
    Ok(())
}

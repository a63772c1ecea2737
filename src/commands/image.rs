//! `playground image import`: copy images from the host's Docker into every node of a lab.

use super::error::Result;
use crate::cluster::import;

use super::Ctx;

/// Import images into your labs' nodes.
///
/// Images in your labs' nodes.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    #[command(subcommand)]
    pub(crate) command: ImageCommand,
}

/// `playground image …`
#[derive(Debug, clap::Subcommand)]
pub(crate) enum ImageCommand {
    /// Copy images from the host's Docker into every node of a running lab (like `k3d image
    /// import`), so pods can use locally built images without a registry. Give pods
    /// `imagePullPolicy: IfNotPresent` (or a tag other than `latest`) so the kubelet uses the
    /// imported image instead of pulling.
    ///
    /// Example: `docker build -t myapp:dev . && playground image import myapp:dev`
    Import {
        /// Images as `docker images` lists them, e.g. myapp:dev or nginx:1.29-alpine.
        #[arg(required = true, value_name = "IMAGE")]
        images: Vec<String>,
        /// The lab (default: the one in ./playground.yaml, or the only lab).
        #[arg(long, add = super::completions::lab_names())]
        name: Option<String>,
    },
}

const EXAMPLES: &str = "Example:
  playground image import myapp:dev";

pub(crate) async fn run(ctx: &Ctx<'_>, args: Args) -> Result<()> {
    let Args { command } = args;
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

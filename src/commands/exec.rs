//! `playground exec`: run a command in a node; its exit status becomes ours.

use super::error::{Error, Result};

use super::Ctx;

/// Run a command in a node.
///
/// Run a command in a node (default: `sh` in server-0), with the terminal attached when
/// there is one: `playground exec -- crictl ps`. The exit status is the command's.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// The lab (default: the one in ./playground.yaml, or the only lab).
    #[arg(add = super::completions::lab_names())]
    pub(crate) name: Option<String>,
    /// The node, e.g. server-0 or agent-1.
    #[arg(long, default_value = "server-0")]
    pub(crate) node: String,
    /// The command and its arguments, after `--` (default: sh).
    #[arg(last = true, value_name = "CMD")]
    pub(crate) cmd: Vec<String>,
}

const EXAMPLES: &str = "Example:
  playground exec --node agent-0 -- crictl ps";

pub(crate) async fn run(ctx: &Ctx<'_>, args: Args) -> Result<()> {
    let Args { name, node, cmd } = args;
    let lab = ctx.lab(name).await?;
    match crate::cluster::exec::exec(ctx.engine().await?, &lab, &node, &cmd).await? {
        0 => Ok(()),
        code => Err(Error::ChildExit(code)),
    }
}

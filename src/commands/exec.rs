//! `playground exec`: run a command in a node; its exit status becomes ours.

use super::error::{Error, Result};

use super::Ctx;

pub async fn run(
    ctx: &Ctx<'_>,
    name: Option<String>,
    node: String,
    cmd: Vec<String>,
) -> Result<()> {
    let lab = ctx.lab(name).await?;
    match crate::cluster::exec::exec(ctx.engine().await?, &lab, &node, &cmd).await? {
        0 => Ok(()),
        code => Err(Error::ChildExit(code)),
    }
}

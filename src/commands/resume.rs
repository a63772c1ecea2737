//! `playground resume`: start a suspended or paused lab, and wait until its nodes are Ready.

use std::time::Duration;

use serde::Serialize;

use super::error::Result;
use crate::cli::Output;
use crate::kube::api::NodeReady;

use super::Ctx;
use super::output::{self, LabResult};

/// What `resume -o json|yaml` adds to its `LabResult`.
#[derive(Serialize)]
struct Resumed<'a> {
    nodes: &'a [NodeReady],
}

pub async fn run(
    ctx: &Ctx<'_>,
    name: Option<String>,
    timeout: Duration,
    out: Output,
) -> Result<()> {
    let name = ctx.lab_name(name).await?;
    let _lock = ctx.lock(&name)?;
    let nodes = crate::ops::resume::resume(&ctx.env().await?, &name, timeout).await?;
    let ready = nodes.iter().filter(|n| n.ready).count();
    output::outcome(
        out,
        ctx.ui,
        &LabResult {
            name: &name,
            state: "running",
            more: Resumed { nodes: &nodes },
        },
        format!("lab {name} is running ({ready} nodes Ready)"),
    )
}

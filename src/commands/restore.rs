//! `playground restore`: rebuild a dropped lab from its record or, with `--from`, from its
//! repository ([`crate::ops::restore`] finds which), then the same path as `up`. A lab that
//! exists is left as it is.

use super::error::Result;
use crate::cli::{Output, RestoreArgs};
use crate::cluster::inventory::LabSummary;
use crate::ops::restore::{self as ops, Restore, RestoreOpts};

use super::Ctx;
use super::output::{self, LabResult};
use super::up::{Run, up_lab};

pub async fn run(ctx: &Ctx<'_>, args: RestoreArgs) -> Result<()> {
    let run = Run::from(&args.run);
    let opts = RestoreOpts {
        name: args.name.clone(),
        from: args.from.clone(),
        revision: args.revision.clone(),
    };
    match ops::restore(ctx.engine().await?, &opts, ctx.ui).await? {
        Restore::Exists(lab) => exists_already(ctx, &lab, args.run.output),
        Restore::Source(source) => up_lab(ctx, *source, &run, None).await,
    }
}

/// `restore -o json` of a lab that exists: the lab as it is, and that nothing was restored.
#[derive(serde::Serialize)]
struct Unchanged {
    restored: bool,
}

/// A lab that exists in Docker is not restored: say so, change nothing.
fn exists_already(ctx: &Ctx<'_>, lab: &LabSummary, out: Output) -> Result<()> {
    let name = &lab.name;
    let doc = LabResult {
        name,
        state: lab.state.as_str(),
        more: Unchanged { restored: false },
    };
    output::outcome(
        out,
        ctx.ui,
        &doc,
        format!(
            "lab {name} exists ({}); restore changed nothing\n  hint: `playground resume {name}` starts a suspended lab, `playground up` converges one, `playground drop {name}` throws it away",
            lab.state.as_str()
        ),
    )
}

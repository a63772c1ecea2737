//! `playground list`: every lab Docker knows of, and the dropped labs `restore` can bring back;
//! which lab is a hub of which (`argocd.clusters`), from their records.

use super::args::{Output, OutputArg};
use super::error::Result;
use crate::cluster::inventory::{self, LabSummary};
use crate::state::record;

use super::Ctx;
use super::output::{self, Items, Kind};

/// List the labs, running and dropped.
///
/// List the labs Docker knows of, and the dropped labs on record (which `restore` brings
/// back).
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    #[command(flatten)]
    pub(crate) output: OutputArg,
    /// Print the table's rows without its header line (for `awk` and `cut`).
    #[arg(long)]
    pub(crate) no_headers: bool,
}

const EXAMPLES: &str = "Examples:
  playground list -o json
  playground list --no-headers | awk '{print $1}'";

/// `list -o json|yaml`: every lab under `items`.
impl Kind for Items<'_, LabSummary> {
    const KIND: &'static str = "LabList";
}

pub(crate) async fn run(ctx: &Ctx<'_>, args: Args) -> Result<()> {
    let Args {
        output: OutputArg { output: out },
        no_headers,
    } = args;
    let running = inventory::list(ctx.engine().await?).await?;
    let records: Vec<_> = record::list().into_iter().flatten().collect();
    let mut labs = inventory::with_dropped(running, records.iter().cloned());
    inventory::link_hubs(&mut labs, records);
    if out == Output::Table && labs.is_empty() {
        ctx.ui.line("no labs; `playground up` creates one");
        return Ok(());
    }
    output::emit(out, &Items { items: &labs }, || {
        inventory::render_table(&labs, !no_headers)
    })
}

//! `playground export logs`: one archive for a bug report (see [`crate::cluster::export`]).

use std::path::PathBuf;

use super::error::Result;
use crate::cluster::export::Missing;
use crate::state::record;

use super::Ctx;

/// Collect what a bug report needs into one archive.
///
/// Collect what a bug report needs into one archive.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    #[command(subcommand)]
    pub(crate) command: ExportCommand,
}

/// `playground export …`
#[derive(Debug, clap::Subcommand)]
pub(crate) enum ExportCommand {
    /// Write one archive for a bug report (as `kind export logs` does):
    /// `playground-logs-<lab>-<UTC time>.tar.gz` with, per node, `docker inspect`, its logs
    /// and k3s's log files; the cluster's Events, the Argo CD Applications and pods' logs; and
    /// the lab file. Secret values and tokens are masked, and no Secret is exported. A
    /// MANIFEST lists what is in it and what was skipped, and why. Prints the archive's path.
    Logs {
        /// The lab (default: the one in ./playground.yaml, or the only lab).
        #[arg(add = super::completions::lab_names())]
        name: Option<String>,
        /// Where to write the archive (default: the current directory).
        dir: Option<PathBuf>,
    },
}

const EXAMPLES: &str = "Example:
  playground export logs mylab /tmp";

pub(crate) async fn run(ctx: &Ctx<'_>, args: Args) -> Result<()> {
    let Args { command } = args;
    let ExportCommand::Logs { name, dir } = command;
    let lab = ctx.lab(name).await?;
    // Without an API the archive still holds the nodes' side; it says why the rest is missing.
    let api = ctx.lab_api(&lab).await;
    let api = match &api {
        Ok(api) => Ok(api.client().clone()),
        Err(e) => Err(e as Missing),
    };
    let dir = dir.unwrap_or_else(|| PathBuf::from("."));
    // The host's view, as `doctor -o json` gives it, for the lab on record.
    let recorded = record::read(&lab.name)
        .ok()
        .flatten()
        .and_then(|r| r.lab().ok());
    let report = crate::doctor::doctor(recorded.as_ref()).await;
    let doctor = serde_json::to_string_pretty(&report);
    let doctor = doctor.as_ref().map(String::clone).map_err(|e| e as Missing);
    let path =
        crate::cluster::export::export_logs(ctx.engine().await?, &lab, api, doctor, &dir).await?;
    println!("{}", path.display());
    Ok(())
}

//! `playground export logs`: one archive for a bug report (see [`crate::cluster::export`]).

use std::path::PathBuf;

use super::error::Result;
use crate::cli::ExportCommand;
use crate::cluster::export::Missing;
use crate::state::record;

use super::Ctx;

pub async fn run(ctx: &Ctx<'_>, command: ExportCommand) -> Result<()> {
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

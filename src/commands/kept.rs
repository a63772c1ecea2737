//! Before `drop` or `suspend` stops a lab: export the Secrets its `keep.secrets` selects
//! ([`crate::state::kept`] holds the rules). A running lab is read now; a stopped one relies on
//! the export its `suspend` made, if that was made in this life of the lab. Without `--force`,
//! a failed export stops the command before anything changes.

use super::error::{Error, Result};
use crate::cluster::inventory::{self, LabState};
use crate::config::KeepSpec;
use crate::state::kept::{self, KeptError};
use crate::state::record;

use super::Ctx;

/// Export the kept Secrets of lab `name` before it is `what` (`"dropped"`, `"suspended"`).
pub async fn save_before(ctx: &Ctx<'_>, name: &str, force: bool, what: &'static str) -> Result<()> {
    // No Docker objects: no cluster to read, and an earlier export stays as it is.
    let Some(lab) = inventory::status(ctx.engine().await?, name).await? else {
        return Ok(());
    };
    match export(ctx, name, &lab).await {
        Ok(()) => Ok(()),
        Err(e) if force => {
            ctx.ui.warn(&format!(
                "the kept Secrets were not exported ({}); going on because of --force",
                crate::diag::Report(&e)
            ));
            Ok(())
        }
        Err(source) => Err(Error::KeptExport {
            name: name.to_string(),
            what,
            source: Box::new(source),
        }),
    }
}

async fn export(ctx: &Ctx<'_>, name: &str, lab: &inventory::LabSummary) -> Result<(), KeptError> {
    let rec = record::read(name).map_err(KeptError::Record)?;
    let keep = match &rec {
        Some(r) => r.lab().map_err(KeptError::Record)?.keep,
        None => KeepSpec::default(),
    };
    if keep.secrets.is_empty() {
        return Ok(());
    }
    let s = ctx.ui.step(format!("export the kept Secrets of {name}"));
    let api = match lab.state {
        LabState::Running | LabState::Partial => ctx.lab_api(lab).await.ok(),
        _ => None,
    };
    let done = match api {
        None => {
            let created = rec
                .as_ref()
                .and_then(|r| r.times.created.parse::<jiff::Timestamp>().ok())
                .map(std::time::SystemTime::from);
            kept::earlier_export(name, lab.state.as_str(), created)
                .map(|path| format!("{} made when it was suspended", path.display()))
        }
        Some(api) => crate::kube::kept::refresh(api.client(), name, &keep).await.map(|r| {
            for m in &r.missing {
                ctx.ui
                    .warn(&format!("kept Secret {m} does not exist; nothing to keep"));
            }
            for sel in &r.unmatched {
                ctx.ui.warn(&format!("kept Secrets {sel} match nothing"));
            }
            for c in &r.carried {
                ctx.ui.warn(&format!(
                    "kept Secret {c} is no longer in the cluster; its earlier export is kept (delete it from {} to forget it)",
                    r.path.display()
                ));
            }
            format!("{} in {}", r.count, r.path.display())
        }),
    };
    match &done {
        Ok(detail) => s.done_with(detail),
        Err(_) => s.fail(),
    }
    done.map(drop)
}

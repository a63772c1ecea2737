//! Before `drop` or `suspend` stops a lab: export the Secrets its `keep.secrets` selects
//! ([`crate::state::kept`] holds the rules). A running lab is read now; a stopped one relies on
//! the export its `suspend` made, if that was made in this life of the lab. Without `--force`,
//! a failed export stops the use case before anything changes.

use crate::cluster::inventory::{self, LabState};
use crate::config::{KeepSpec, LabName};
use crate::docker::Engine;
use crate::state::kept::{self, KeptError};
use crate::state::record;

use super::{Env, Kube, OpsError, Result};

/// What [`save_before`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Saved {
    /// No Docker objects: no cluster to read, and an earlier export stays as it is.
    NoLab,
    /// The lab keeps no Secrets.
    Nothing,
    /// Exported (or an earlier export stands): what the step said.
    Exported(String),
    /// The export failed and `--force` went on (the warning is printed).
    Forced,
}

/// Export the kept Secrets of lab `name` before it is `what` (`"dropped"`, `"suspended"`).
pub(crate) async fn save_before<E: Engine, K: Kube>(
    env: &Env<'_, E, K>,
    name: &LabName,
    force: bool,
    what: &'static str,
) -> Result<Saved> {
    let Some(lab) = inventory::status(env.engine, name).await? else {
        return Ok(Saved::NoLab);
    };
    match export(env, name, &lab).await {
        Ok(saved) => Ok(saved),
        Err(e) if force => {
            env.ui.warn(&format!(
                "the kept Secrets were not exported ({}); going on because of --force",
                crate::diag::Report(&e)
            ));
            Ok(Saved::Forced)
        }
        Err(source) => Err(OpsError::KeptExport {
            name: name.to_string(),
            what,
            source: Box::new(source),
        }),
    }
}

async fn export<E: Engine, K: Kube>(
    env: &Env<'_, E, K>,
    name: &LabName,
    lab: &inventory::LabSummary,
) -> Result<Saved, KeptError> {
    let rec = record::read(name).map_err(KeptError::Record)?;
    let keep = match &rec {
        Some(r) => r.lab().map_err(KeptError::Record)?.keep,
        None => KeepSpec::default(),
    };
    if keep.secrets.is_empty() {
        return Ok(Saved::Nothing);
    }
    let ui = env.ui;
    let s = ui.step(format!("export the kept Secrets of {name}"));
    let refreshed = match lab.state {
        LabState::Running | LabState::Partial => {
            env.kube.refresh_kept(env.engine, lab, &keep).await
        }
        _ => Ok(None),
    };
    let done = match refreshed {
        Ok(None) => kept::earlier_export(name, lab.state.as_str(), rec.as_ref().map(|r| &r.times))
            .map(|path| format!("{} made when it was suspended", path.display())),
        Ok(Some(r)) => match record::mark_exported(name) {
            Err(e) => Err(KeptError::Record(e)),
            Ok(_) => {
                for m in &r.missing {
                    ui.warn(&format!("kept Secret {m} does not exist; nothing to keep"));
                }
                for sel in &r.unmatched {
                    ui.warn(&format!("kept Secrets {sel} match nothing"));
                }
                for c in &r.carried {
                    ui.warn(&format!(
                        "kept Secret {c} is no longer in the cluster; its earlier export is kept (delete it from {} to forget it)",
                        r.path.display()
                    ));
                }
                Ok(format!("{} in {}", r.count, r.path.display()))
            }
        },
        Err(e) => Err(e),
    };
    match &done {
        Ok(detail) => s.done_with(detail),
        Err(_) => s.fail(),
    }
    done.map(Saved::Exported)
}

//! `restore`: which lab to rebuild and from what: its record or, with `from`, its repository
//! ([`crate::source::restore`] decides which lab and which revision). A lab that exists is left
//! as it is; otherwise the source goes the same path as `up`.

use crate::cluster::inventory::{self, LabSummary};
use crate::docker::Engine;
use crate::source::LabSource;
use crate::source::restore;
use crate::state::cache_root;
use crate::ui::Ui;

use super::{OpsError, Result};

/// What to restore.
#[derive(Debug, Clone, Default)]
pub(crate) struct RestoreOpts {
    /// The lab's name (else the one in `./playground.yaml`, else the only dropped lab).
    pub(crate) name: Option<String>,
    /// A repository to restore from, rather than the record.
    pub(crate) from: Option<String>,
    /// The revision to restore (else the recorded one, or the repository's).
    pub(crate) revision: Option<String>,
}

/// What [`restore()`] found.
#[derive(Debug)]
pub(crate) enum Restore {
    /// The lab exists in Docker: nothing is restored.
    Exists(Box<LabSummary>),
    /// The lab to bring up, as `up` does.
    Source(Box<LabSource>),
}

/// Find the lab to restore and stage its source; a lab that exists is reported as it is.
pub(crate) async fn restore<E: Engine>(engine: &E, opts: &RestoreOpts, ui: &Ui) -> Result<Restore> {
    let revision = opts.revision.as_deref();
    let source = match &opts.from {
        Some(from) => {
            let staged = restore::stage_repository(from, revision, &cache_root(), ui)?;
            if let Some(lab) = inventory::status(engine, staged.name()).await? {
                return Ok(Restore::Exists(Box::new(lab)));
            }
            staged.install(revision)?
        }
        None => {
            let name = restore::restore_name(opts.name.clone())?;
            let rec = restore::read_record(&name)?;
            if let Some(lab) = inventory::status(engine, &name).await? {
                return Ok(Restore::Exists(Box::new(lab)));
            }
            restore::from_record(rec, revision, &cache_root(), ui)?
        }
    };
    Ok(Restore::Source(Box::new(source)))
}

impl From<restore::RestoreError> for OpsError {
    fn from(e: restore::RestoreError) -> Self {
        OpsError::Restore(Box::new(e))
    }
}

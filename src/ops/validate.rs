//! `validate`: every check `up` makes before it touches Docker, offline: the lab file and its
//! repository (`crate::validate`), and the lab's cluster plan, with what `up` would warn about.

use std::path::Path;

use crate::config::Lab;
use crate::validate::{self, Report, ValidationError};

/// The report of a valid lab, or every problem found.
pub(crate) fn validate(path: &Path) -> Result<Report, Vec<ValidationError>> {
    validate::validate_with(path, &plan)
}

/// The cluster half of `up`'s checks: the plan (a host port bound twice, say), and the notes
/// `up` prints about it (the `cluster.registries` entries that replace a mirror of ours).
fn plan(lab: &Lab) -> Result<Vec<String>, (String, Option<String>)> {
    let notes = crate::cluster::k3s::registries::overridden(
        lab.cluster.image_cache,
        lab.cluster.registry.map(|r| r.port),
        lab.cluster.registries.as_ref(),
    );
    crate::cluster::up::plan_offline(lab)
        .map(|()| notes)
        .map_err(|e| {
            let hint = match e {
                crate::cluster::plan::PlanError::PortOnManyNodes(..) => Some(
                    "give each `ports` entry, `cluster.api.port` and `argocd.ui.port` (the Argo CD UI, 8080 by default) a host port of its own"
                        .to_string(),
                ),
                _ => crate::diag::Hinted::hint(&e),
            };
            (e.to_string(), hint)
        })
}

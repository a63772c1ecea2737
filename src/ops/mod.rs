//! The use cases: one file each (`drop`, `suspend`, `resume`, `keep`, …), in the order their
//! rules say, generic over the engine ([`Env`]), taking typed options and returning typed
//! reports. The commands parse their arguments, call one of these and print what it returns;
//! what a user relies on (export the kept Secrets, then keep the images, then remove; the
//! record marked dropped) is decided here once, and `ops/tests/scenarios.rs` holds it to that
//! over the fake engine in milliseconds.
//!
//! Like kind's `pkg/cluster/internal/{create,delete}` and cargo's `ops/`: below the edge that
//! parses and prints, above the layers that know Docker, Kubernetes and Git.
//!
//! One command at a time acts on a lab. `drop`, `suspend` and `resume` take the lab as a
//! [`LabLock`] (the command takes it, before it asks for confirmation), so none can run
//! without it; `up` (and `restore`, through it) takes its own after its plan is known,
//! since `--dry-run` changes nothing and takes none.

pub(crate) mod api;
pub(crate) mod drop;
pub(crate) mod error;
pub(crate) mod hub;
pub(crate) mod keep;
pub(crate) mod names;
pub(crate) mod restore;
pub(crate) mod resume;
pub(crate) mod status;
pub(crate) mod suspend;
pub(crate) mod up;
pub(crate) mod validate;
pub(crate) mod version;

#[cfg(test)]
mod tests;

use crate::cluster::ClusterError;
use crate::cluster::inventory::{self, LabSummary};
use crate::config::LabName;
use crate::docker::Engine;
use crate::kube::api::KubeApi;
use crate::state::lock::{LabLock, LockError};
use crate::ui::Ui;

pub(crate) use api::{Kube, LabKube};
pub(crate) use error::{OpsError, Result};

/// How long a command waits for another one acting on the same lab: longer than `up`'s own
/// default deadline, so a second `up` outlasts the first rather than giving up under it.
pub(crate) const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// Take lab `name`'s lock, saying on `ui` when another command holds it.
pub(crate) fn lock(ui: &Ui, name: &LabName) -> std::result::Result<LabLock, LockError> {
    let acquire = || {
        LabLock::acquire(name, LOCK_WAIT, |holder| {
            ui.warn(&format!(
                "lab {name} is busy: {holder} is acting on it; waiting until it is done"
            ))
        })
    };
    // The wait blocks: let the runtime's other work go on (the scenarios' runtime has one
    // thread, and nothing else waiting).
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(acquire),
        _ => acquire(),
    }
}

/// What a use case runs against: the engine, the [`Ui`] it reports progress on, and the
/// Kubernetes side of a lab ([`Kube`]: real, or a fake in the scenarios).
pub(crate) struct Env<'a, E, K = LabKube> {
    pub(crate) engine: &'a E,
    pub(crate) ui: &'a Ui,
    pub(crate) kube: &'a K,
}

impl<'a, E: Engine, K: Kube> Env<'a, E, K> {
    pub(crate) fn new(engine: &'a E, ui: &'a Ui, kube: &'a K) -> Self {
        Env { engine, ui, kube }
    }

    /// The lab as Docker's labels describe it, or `NotFound`.
    pub(crate) async fn find_lab(&self, name: &LabName) -> Result<LabSummary> {
        inventory::status(self.engine, name)
            .await?
            .ok_or_else(|| ClusterError::NotFound(name.to_string()).into())
    }

    /// A client for a lab's API, with the credentials k3s wrote in server-0.
    pub(crate) async fn lab_api(&self, lab: &LabSummary) -> Result<KubeApi> {
        api::lab_api(self.engine, lab).await
    }
}

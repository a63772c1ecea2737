//! `resume`: start a suspended or paused lab, and wait until its nodes are Ready
//! ([`crate::cluster::lifecycle::resume_with`] says in what order).

use crate::state::lock::LabLock;
use std::time::Duration;

use crate::cluster::lifecycle;
use crate::docker::Engine;
use crate::kube::api::NodeReady;

use super::{Env, Kube, Result};

/// Resume the lab `lock` is held on, within `timeout`: its nodes, as the API reports them.
pub(crate) async fn resume<E: Engine, K: Kube>(
    env: &Env<'_, E, K>,
    lock: &LabLock,
    timeout: Duration,
) -> Result<Vec<NodeReady>> {
    let name = lock.name();
    Ok(lifecycle::resume_with(env.engine, env.kube.connect(), name, timeout, env.ui).await?)
}

//! `resume`: start a suspended or paused lab, and wait until its nodes are Ready
//! ([`crate::cluster::lifecycle::resume_with`] says in what order).

use std::time::Duration;

use crate::cluster::lifecycle;
use crate::config::LabName;
use crate::docker::Engine;
use crate::kube::api::NodeReady;

use super::{Env, Kube, Result};

/// Resume lab `name` within `timeout`: its nodes, as the API reports them.
pub(crate) async fn resume<E: Engine, K: Kube>(
    env: &Env<'_, E, K>,
    name: &LabName,
    timeout: Duration,
) -> Result<Vec<NodeReady>> {
    Ok(lifecycle::resume_with(env.engine, env.kube.connect(), name, timeout, env.ui).await?)
}

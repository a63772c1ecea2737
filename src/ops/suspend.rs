//! `suspend`: stop (or freeze) a lab's containers, agents first; the kept Secrets are exported
//! first, while the API still answers (a suspended lab can be dropped without its API).

use crate::cluster::lifecycle;
use crate::docker::Engine;
use crate::state::lock::LabLock;

use super::keep::{self, Saved};
use super::{Env, Kube, Result};

/// How to suspend.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct SuspendOpts {
    /// Freeze the containers (`docker pause`) rather than stop them.
    pub(crate) pause: bool,
    /// Go on when the kept Secrets cannot be exported.
    pub(crate) force: bool,
}

/// What [`suspend`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Suspended {
    pub(crate) kept: Saved,
    /// `"suspended"` or `"paused"`.
    pub(crate) state: &'static str,
}

pub(crate) async fn suspend<E: Engine, K: Kube>(
    env: &Env<'_, E, K>,
    lock: &LabLock,
    opts: SuspendOpts,
) -> Result<Suspended> {
    let name = lock.name();
    let kept = keep::save_before(env, name, opts.force, "suspended").await?;
    lifecycle::suspend(env.engine, name, opts.pause, env.ui).await?;
    Ok(Suspended {
        kept,
        state: if opts.pause { "paused" } else { "suspended" },
    })
}

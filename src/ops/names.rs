//! The lab names a shell completes: those Docker knows of, and the dropped ones on record.
//! A Tab must never hang: Docker gets a budget in all, and a Docker that is down, slow or
//! refusing simply offers no running labs.

use std::time::Duration;

use crate::cluster::inventory;
use crate::docker::AnyEngine;
use crate::state::record;

/// (name, state) of every lab Docker knows of, or nothing when Docker does not answer within
/// `budget`. Completion runs before `main` builds its runtime, so this builds a small
/// one of its own.
pub(crate) fn running(budget: Duration) -> Vec<(String, &'static str)> {
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return Vec::new();
    };
    runtime.block_on(async {
        let list = async {
            let engine = AnyEngine::connect().await.ok()?;
            inventory::list(&engine).await.ok()
        };
        match tokio::time::timeout(budget, list).await {
            Ok(Some(labs)) => labs
                .into_iter()
                .map(|l| (l.name.to_string(), l.state.as_str()))
                .collect(),
            _ => Vec::new(),
        }
    })
}

/// The dropped labs on record that Docker has nothing of. With Docker down, every dropped
/// record (the command itself then says more).
pub(crate) fn dropped(budget: Duration) -> Vec<String> {
    let running: Vec<String> = running(budget).into_iter().map(|(name, _)| name).collect();
    record::list()
        .into_iter()
        .flatten()
        .filter(|r| r.times.dropped.is_some() && !running.iter().any(|n| r.name == *n))
        .map(|r| r.name.into())
        .collect()
}

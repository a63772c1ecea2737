//! Waiting for a node: its log line, and the moment it dies.
//!
//! k3d follows the log and retries on `level=fatal` up to ten times; a node that crash-loops
//! then costs minutes before the user sees why. We end the wait as soon as the container
//! exits or restarts, and hand back its last 20 log lines.

use std::time::Duration;

use futures::StreamExt;
use tokio::time::Instant;

use crate::docker::{Engine, RunState};

/// How many log lines a failure carries.
pub const TAIL_LINES: usize = 20;

/// Why a node did not become ready.
#[derive(Debug, thiserror::Error)]
pub enum NodeWaitError {
    #[error(
        "{node} stopped ({state}, exit code {exit}) before it logged \"{line}\"; its last log lines:\n{logs}"
    )]
    Died {
        node: String,
        line: String,
        state: String,
        exit: i64,
        logs: String,
    },
    #[error(
        "{node} is crash-looping (restarted {restarts} times) before it logged \"{line}\"; its last log lines:\n{logs}"
    )]
    CrashLoop {
        node: String,
        line: String,
        restarts: i64,
        logs: String,
    },
    #[error("{node} did not log \"{line}\" within {secs}s; its last log lines:\n{logs}")]
    Timeout {
        node: String,
        line: String,
        secs: u64,
        logs: String,
    },
    #[error(transparent)]
    Engine(#[from] crate::docker::EngineError),
}

fn indent(logs: &str) -> String {
    logs.lines()
        .map(|l| format!("    | {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Start `node` and return the moment to read its logs from: the daemon's own `StartedAt`,
/// less a second. Docker filters `since` by its own clock, so the host's clock would miss the
/// ready line when the two disagree (Docker Desktop's VM lags the Mac after sleep); k3d waits
/// from `State.StartedAt` for the same reason (k3d `pkg/client/node.go`).
pub async fn start<E: Engine>(engine: &E, node: &str) -> Result<i64, crate::docker::EngineError> {
    let before = host_now();
    engine.start(node).await?;
    Ok(started_at(engine, node).await?.unwrap_or(before) - 1)
}

/// The moment to read the logs of a node started earlier from, as [`start`] returns it.
pub async fn started_since<E: Engine>(
    engine: &E,
    node: &str,
) -> Result<i64, crate::docker::EngineError> {
    let now = host_now();
    Ok(started_at(engine, node).await?.unwrap_or(now) - 1)
}

async fn started_at<E: Engine>(
    engine: &E,
    node: &str,
) -> Result<Option<i64>, crate::docker::EngineError> {
    Ok(engine
        .inspect_container(node)
        .await?
        .and_then(|c| c.started_at))
}

fn host_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Wait until `node` prints a line containing `line` (case-insensitive) at or after `since`
/// (Unix seconds), or fail as soon as it dies or restarts, or at `deadline`.
pub async fn wait_for_log<E: Engine>(
    engine: &E,
    node: &str,
    line: &str,
    since: i64,
    deadline: Instant,
) -> Result<(), NodeWaitError> {
    let needle = line.to_lowercase();
    let secs = deadline.saturating_duration_since(Instant::now()).as_secs();
    let baseline = engine
        .inspect_container(node)
        .await?
        .map(|c| c.restart_count)
        .unwrap_or(0);
    let found = async {
        let mut logs = engine.follow_logs(node, since);
        while let Some(l) = logs.next().await {
            if l?.to_lowercase().contains(&needle) {
                return Ok(true);
            }
        }
        Ok::<bool, NodeWaitError>(false)
    };
    // The log stream ends when the container stops; the watcher catches a restart, which a
    // following log stream may not show.
    let watch = async {
        loop {
            tokio::time::sleep(Duration::from_millis(300)).await;
            match engine.inspect_container(node).await? {
                None => return Ok::<_, NodeWaitError>(Some((RunState::Removing, -1, 0))),
                Some(c) if c.restart_count > baseline => {
                    return Ok(Some((c.state, c.exit_code.unwrap_or(-1), c.restart_count)));
                }
                Some(c)
                    if matches!(
                        c.state,
                        RunState::Exited | RunState::Dead | RunState::Restarting
                    ) =>
                {
                    return Ok(Some((c.state, c.exit_code.unwrap_or(-1), c.restart_count)));
                }
                Some(_) => {}
            }
        }
    };
    let outcome = tokio::select! {
        r = found => match r? {
            true => return Ok(()),
            // The stream ended: the container stopped. Let inspect say how.
            false => None,
        },
        r = watch => r?,
        _ = tokio::time::sleep_until(deadline) => {
            let logs = indent(&engine.tail_logs(node, TAIL_LINES).await.unwrap_or_default());
            return Err(NodeWaitError::Timeout { node: node.into(), line: line.into(), secs, logs });
        }
    };
    let (state, exit, restarts) = match outcome {
        Some(o) => o,
        None => {
            let c = engine.inspect_container(node).await?;
            c.map(|c| (c.state, c.exit_code.unwrap_or(-1), c.restart_count))
                .unwrap_or((RunState::Removing, -1, 0))
        }
    };
    let logs = indent(&engine.tail_logs(node, TAIL_LINES).await.unwrap_or_default());
    if restarts > baseline && state != RunState::Exited {
        Err(NodeWaitError::CrashLoop {
            node: node.into(),
            line: line.into(),
            restarts: restarts - baseline,
            logs,
        })
    } else {
        Err(NodeWaitError::Died {
            node: node.into(),
            line: line.into(),
            state: state.as_str().into(),
            exit,
            logs,
        })
    }
}

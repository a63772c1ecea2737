//! Waiting for a node: its log line, and the moment it dies.
//!
//! k3d follows the log and retries on `level=fatal` up to ten times; a node that crash-loops
//! then costs minutes before the user sees why. We end the wait as soon as the container
//! exits or restarts, and hand back its last 20 log lines.

use std::time::Duration;

use futures::StreamExt;
use jiff::{SignedDuration, Timestamp};
use tokio::time::Instant;

use super::k3s;
use crate::docker::{Engine, RunState};
use crate::ui::Ui;

/// How many log lines a failure carries.
pub(crate) const TAIL_LINES: usize = 20;

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

impl crate::diag::Hinted for NodeWaitError {
    fn hint(&self) -> Option<String> {
        match self {
            Self::Engine(e) => e.hint(),
            _ => None,
        }
    }
}

fn indent(logs: &str) -> String {
    logs.lines()
        .map(|l| format!("    | {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Where the current run of a node begins in its log.
///
/// Docker keeps a container's log across stops and starts, so the line of the run before
/// ("k3s is up and running" printed just before a `suspend`) is still there when the node
/// starts again. k3d waits from `State.StartedAt` truncated to the second (k3d
/// `pkg/client/node.go`, `NodeStart`), and so did we, less a second: a ready line printed
/// within a second or two before the stop was taken as this run's, and `resume` went on
/// before the node was up. So each line's own stamp (`logs?timestamps=true`) is held
/// against the daemon's `StartedAt`, to the nanosecond. Both are the daemon's clock, so a
/// host whose clock disagrees (Docker Desktop's VM after sleep) does not matter.
///
/// Not `StartedAt` exactly: the daemon stamps it once containerd has started the process
/// (moby `daemon/start.go`, `container.SetRunning`), and a line the process prints at once
/// is stamped by the log copier up to a few milliseconds earlier (we measured 0.1-2 ms on
/// Docker 20.10). The previous run's last lines are stamped a little after its `FinishedAt`
/// (containerd's exit time; the copier drains the pipe after). So the boundary sits in the
/// gap between the two runs: `StartedAt` less half that gap, at most [`EARLY_SLACK`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RunStart {
    /// Unix seconds, a second early: Docker's `since` filter, a coarse pre-filter.
    pub(crate) since: i64,
    /// Lines stamped before this are an earlier run's; `None` when inspect had no start time.
    pub(crate) from: Option<Timestamp>,
}

/// How much earlier than `StartedAt` a line of this run may be stamped, at most.
pub(crate) const EARLY_SLACK: SignedDuration = SignedDuration::from_secs(1);

impl RunStart {
    fn of(started: Option<Timestamp>, finished_before: Option<Timestamp>, fallback: i64) -> Self {
        let Some(started) = started else {
            return RunStart {
                since: fallback - 1,
                from: None,
            };
        };
        let slack = match finished_before.filter(|f| *f < started) {
            Some(f) => (started.duration_since(f) / 2).min(EARLY_SLACK),
            None => EARLY_SLACK,
        };
        RunStart {
            since: started.as_second() - 1,
            from: Some(started.checked_sub(slack).unwrap_or(started)),
        }
    }

    /// Whether a line stamped `at` belongs to this run. A line without a stamp can't be
    /// told apart, and is taken (the `since` filter has already passed it).
    pub(crate) fn includes(&self, at: Option<Timestamp>) -> bool {
        match (self.from, at) {
            (Some(from), Some(at)) => at >= from,
            _ => true,
        }
    }
}

/// Start `node` and return where this run begins in its log (see [`RunStart`]).
pub(crate) async fn start<E: Engine>(
    engine: &E,
    node: &str,
) -> Result<RunStart, crate::docker::EngineError> {
    let before = host_now();
    engine.start(node).await?;
    run_start(engine, node, before).await
}

/// Where the current run of a node started earlier begins in its log, as [`start`] returns it.
pub(crate) async fn started_since<E: Engine>(
    engine: &E,
    node: &str,
) -> Result<RunStart, crate::docker::EngineError> {
    run_start(engine, node, host_now()).await
}

async fn run_start<E: Engine>(
    engine: &E,
    node: &str,
    fallback: i64,
) -> Result<RunStart, crate::docker::EngineError> {
    let info = engine.inspect_container(node).await?;
    let (started, finished) = info
        .map(|c| (c.started_at, c.finished_at))
        .unwrap_or_default();
    Ok(RunStart::of(started, finished, fallback))
}

fn host_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Wait until `node` prints a line containing `line` (case-insensitive) in the run that
/// began at `run`, or fail as soon as it dies or restarts, or at `deadline`. Returns what the
/// node's entrypoint said in this run before that line ([`k3s::ENTRYPOINT_SAYS`]): a node
/// that came up on a fallback (pods on 8.8.8.8, masquerade-all) works, and the caller warns.
pub(crate) async fn wait_for_log<E: Engine>(
    engine: &E,
    node: &str,
    line: &str,
    run: RunStart,
    deadline: Instant,
) -> Result<Vec<String>, NodeWaitError> {
    let needle = line.to_lowercase();
    let secs = deadline.saturating_duration_since(Instant::now()).as_secs();
    let baseline = engine
        .inspect_container(node)
        .await?
        .map(|c| c.restart_count)
        .unwrap_or(0);
    let found = async {
        let mut said = Vec::new();
        let mut logs = engine.follow_logs(node, run.since);
        while let Some(l) = logs.next().await {
            let l = l?;
            if !run.includes(l.at) {
                continue;
            }
            if let Some(what) = l.text.trim_end().strip_prefix(k3s::ENTRYPOINT_SAYS) {
                said.push(what.to_string());
            }
            if l.text.to_lowercase().contains(&needle) {
                return Ok(Some(said));
            }
        }
        Ok::<_, NodeWaitError>(None)
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
            Some(said) => return Ok(said),
            // The stream ended: the container stopped. Let inspect say how.
            None => None,
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

/// Say as warnings what a node's entrypoint could not do (what [`wait_for_log`] returns):
/// the lab runs, on a fallback the user should know of.
pub(crate) fn warn_entrypoint(ui: &Ui, node: &str, said: &[String]) {
    for what in said {
        ui.warn(&format!("{node}: {what}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn a_line_of_the_run_before_is_not_this_runs_even_within_the_same_second() {
        // As measured on Docker 20.10 (`docker logs -t`, `State`): a stop at .30, a start at
        // .58; the run before printed its last line just after its FinishedAt.
        let run = RunStart::of(
            Some(t("2026-11-28T12:05:14.582634326Z")),
            Some(t("2026-11-28T12:05:14.303989917Z")),
            0,
        );
        assert_eq!(run.since, t("2026-11-28T12:05:13Z").as_second());
        assert!(!run.includes(Some(t("2026-11-28T12:05:14.266773337Z"))));
        assert!(!run.includes(Some(t("2026-11-28T12:05:14.304100000Z"))));
        // This run's first line, stamped 0.1 ms before StartedAt, is this run's.
        assert!(run.includes(Some(t("2026-11-28T12:05:14.582538482Z"))));
        assert!(run.includes(Some(t("2026-11-28T12:05:17Z"))));
    }

    #[test]
    fn the_slack_before_a_start_is_at_most_a_second() {
        let run = RunStart::of(
            Some(t("2026-11-28T12:00:10Z")),
            Some(t("2026-11-28T11:00:00Z")),
            0,
        );
        assert_eq!(run.from, Some(t("2026-11-28T12:00:09Z")));
        let first = RunStart::of(Some(t("2026-11-28T12:00:10Z")), None, 0);
        assert_eq!(first.from, Some(t("2026-11-28T12:00:09Z")));
        // No start time: only Docker's whole-second filter, from the host's clock.
        let unknown = RunStart::of(None, None, 100);
        assert_eq!((unknown.since, unknown.from), (99, None));
        assert!(unknown.includes(Some(t("1970-01-01T00:00:00Z"))));
    }
}

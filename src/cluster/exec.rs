//! `playground exec`: a command in a node, like `minikube ssh`.
//!
//! We run the Docker CLI's `docker exec -i [-t] CONTAINER CMD…` as a child with our stdio.
//! Shelling out is deliberate here: an interactive shell needs a raw-mode terminal, window
//! resizes forwarded and stdin copied both ways, which the `docker` CLI does correctly and a
//! an API attach would have us re-implement (termios, SIGWINCH). Everything else in
//! `playground` uses the Engine API; this one command needs the CLI, and says so when it is
//! missing. `-t` only when stdin and stdout are terminals, so `playground exec -- cat f > out`
//! gets clean bytes. No secret is on the command line: only the container's name and the
//! user's own command.

use std::io::IsTerminal;

use super::error::{ClusterError as Error, Result};
use crate::docker::{Engine, RunState};

use super::inventory::LabSummary;
use super::logs::{select_nodes, short_name};

/// The command when none is given.
pub(crate) const DEFAULT_CMD: &str = "sh";

/// Run `cmd` in `node` of `lab` and return its exit status.
pub(crate) async fn exec<E: Engine>(
    engine: &E,
    lab: &LabSummary,
    node: &str,
    cmd: &[String],
) -> Result<i32> {
    let found = select_nodes(engine, lab, Some(node)).await?;
    let container = &found[0];
    if container.state != RunState::Running {
        return Err(Error::NodeNotRunning {
            node: short_name(&lab.name, &container.name).to_string(),
            lab: lab.name.to_string(),
            state: container.state.as_str(),
        });
    }
    let tty = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    let args = docker_args(&container.name, tty, cmd);
    let mut child = tokio::process::Command::new("docker")
        .args(&args)
        .spawn()
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Error::NoDockerCli {
                    container: container.name.clone(),
                    cmd: cmd.join(" "),
                }
            } else {
                Error::RunDockerExec(e)
            }
        })?;
    // A first Ctrl-C went to the child too (same process group, or its terminal): wait for it.
    let _guard = crate::interrupt::guard();
    let status = child.wait().await.map_err(Error::WaitDockerExec)?;
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return Ok(128 + signal);
        }
    }
    Ok(status.code().unwrap_or(1))
}

/// `docker exec`'s arguments. `-i` always (a pipe into the command works); `-t` on a terminal.
fn docker_args(container: &str, tty: bool, cmd: &[String]) -> Vec<String> {
    let mut args = vec!["exec".to_string(), "-i".to_string()];
    if tty {
        args.push("-t".into());
    }
    args.push(container.to_string());
    if cmd.is_empty() {
        args.push(DEFAULT_CMD.into());
    } else {
        args.extend(cmd.iter().cloned());
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_args_default_to_a_shell_and_add_a_tty_only_on_a_terminal() {
        assert_eq!(docker_args("c", false, &[]), ["exec", "-i", "c", "sh"]);
        let cmd = vec!["cat".to_string(), "/etc/hostname".to_string()];
        assert_eq!(
            docker_args("c", true, &cmd),
            ["exec", "-i", "-t", "c", "cat", "/etc/hostname"]
        );
    }
}

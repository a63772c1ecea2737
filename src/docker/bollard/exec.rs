//! Running a command in a running container, its output collected.

use ::bollard::Docker;
use ::bollard::exec::{CreateExecOptions, StartExecResults};
use futures::StreamExt;

use super::error::failed;
use super::translate::log_text;
use crate::docker::EngineError;

/// Returns the command's exit code (-1 if Docker does not say) and its combined output.
pub(super) async fn run(
    docker: &Docker,
    name: &str,
    cmd: &[&str],
) -> Result<(i64, String), EngineError> {
    let what = format!("exec in {name}");
    let exec = docker
        .create_exec(
            name,
            CreateExecOptions {
                cmd: Some(cmd.iter().map(|s| s.to_string()).collect()),
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                ..Default::default()
            },
        )
        .await
        .map_err(|e| failed(what.clone(), e))?;
    let mut output = String::new();
    if let StartExecResults::Attached {
        output: mut stream, ..
    } = docker
        .start_exec(&exec.id, None)
        .await
        .map_err(|e| failed(what.clone(), e))?
    {
        while let Some(chunk) = stream.next().await {
            output.push_str(&log_text(chunk.map_err(|e| failed(what.clone(), e))?));
        }
    }
    let inspect = docker
        .inspect_exec(&exec.id)
        .await
        .map_err(|e| failed(what.clone(), e))?;
    Ok((inspect.exit_code.unwrap_or(-1), output))
}

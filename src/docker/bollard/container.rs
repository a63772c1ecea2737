//! Containers: create, inspect, list, the lifecycle verbs, and their logs.

use std::time::Duration;

use ::bollard::Docker;
use ::bollard::container::LogOutput;
use ::bollard::errors::Error as BollardError;
use ::bollard::query_parameters::{
    CreateContainerOptionsBuilder, InspectContainerOptions, ListContainersOptionsBuilder,
    LogsOptionsBuilder, RemoveContainerOptionsBuilder, StartContainerOptions,
    StopContainerOptionsBuilder,
};
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};

use super::error::{failed, is_not_found};
use super::translate::{
    container_body, container_info, container_summary, label_filters, log_text, stamped_line,
};
use crate::docker::{ContainerInfo, ContainerSpec, EngineError, LogLine};

pub(super) async fn create(docker: &Docker, spec: &ContainerSpec) -> Result<String, EngineError> {
    let opts = CreateContainerOptionsBuilder::default()
        .name(&spec.name)
        .build();
    let res = docker
        .create_container(Some(opts), container_body(spec))
        .await
        .map_err(|e| failed(format!("create container {}", spec.name), e))?;
    Ok(res.id)
}

pub(super) async fn inspect(
    docker: &Docker,
    name: &str,
) -> Result<Option<ContainerInfo>, EngineError> {
    match docker
        .inspect_container(name, None::<InspectContainerOptions>)
        .await
    {
        Ok(c) => Ok(Some(container_info(c))),
        Err(e) if is_not_found(&e) => Ok(None),
        Err(e) => Err(failed(format!("inspect container {name}"), e)),
    }
}

pub(super) async fn list(
    docker: &Docker,
    labels: &[(&str, &str)],
) -> Result<Vec<ContainerInfo>, EngineError> {
    let opts = ListContainersOptionsBuilder::default()
        .all(true)
        .filters(&label_filters(labels))
        .build();
    let list = docker
        .list_containers(Some(opts))
        .await
        .map_err(|e| failed("list containers", e))?;
    Ok(list.into_iter().map(container_summary).collect())
}

pub(super) async fn start(docker: &Docker, name: &str) -> Result<(), EngineError> {
    match docker
        .start_container(name, None::<StartContainerOptions>)
        .await
    {
        Ok(()) => Ok(()),
        // 304: already started.
        Err(BollardError::DockerResponseServerError {
            status_code: 304, ..
        }) => Ok(()),
        Err(e) => Err(failed(format!("start {name}"), e)),
    }
}

pub(super) async fn stop(docker: &Docker, name: &str, grace: Duration) -> Result<(), EngineError> {
    let opts = StopContainerOptionsBuilder::default()
        .t(grace.as_secs().try_into().unwrap_or(i32::MAX))
        .build();
    match docker.stop_container(name, Some(opts)).await {
        Ok(()) => Ok(()),
        Err(BollardError::DockerResponseServerError {
            status_code: 304, ..
        }) => Ok(()),
        Err(e) => Err(failed(format!("stop {name}"), e)),
    }
}

pub(super) async fn pause(docker: &Docker, name: &str) -> Result<(), EngineError> {
    docker
        .pause_container(name)
        .await
        .map_err(|e| failed(format!("pause {name}"), e))
}

pub(super) async fn unpause(docker: &Docker, name: &str) -> Result<(), EngineError> {
    docker
        .unpause_container(name)
        .await
        .map_err(|e| failed(format!("unpause {name}"), e))
}

pub(super) async fn remove(docker: &Docker, name: &str) -> Result<(), EngineError> {
    let opts = RemoveContainerOptionsBuilder::default()
        .force(true)
        .v(true)
        .build();
    match docker.remove_container(name, Some(opts)).await {
        Ok(()) => Ok(()),
        Err(e) if is_not_found(&e) => Ok(()),
        // 409 "removal already in progress": another drop got there first.
        Err(BollardError::DockerResponseServerError {
            status_code: 409, ..
        }) => Ok(()),
        Err(e) => Err(failed(format!("remove container {name}"), e)),
    }
}

pub(super) async fn inspect_json(
    docker: &Docker,
    name: &str,
) -> Result<Option<serde_json::Value>, EngineError> {
    match docker
        .inspect_container(name, None::<InspectContainerOptions>)
        .await
    {
        Ok(c) => serde_json::to_value(c)
            .map(Some)
            .map_err(|e| failed(format!("inspect container {name}"), e)),
        Err(e) if is_not_found(&e) => Ok(None),
        Err(e) => Err(failed(format!("inspect container {name}"), e)),
    }
}

/// Followed output, each line with the daemon's stamp (see [`stamped_line`]).
pub(super) fn follow_stamped(
    docker: &Docker,
    name: &str,
    since: i64,
) -> BoxStream<'static, Result<LogLine, EngineError>> {
    lines(docker, name, since, true, true)
        .map_ok(stamped_line)
        .boxed()
}

pub(super) fn log_lines(
    docker: &Docker,
    name: &str,
    since: i64,
    follow: bool,
) -> BoxStream<'static, Result<String, EngineError>> {
    lines(docker, name, since, follow, false)
}

fn lines(
    docker: &Docker,
    name: &str,
    since: i64,
    follow: bool,
    timestamps: bool,
) -> BoxStream<'static, Result<String, EngineError>> {
    let opts = LogsOptionsBuilder::default()
        .follow(follow)
        .timestamps(timestamps)
        .stdout(true)
        .stderr(true)
        // bollard's `since` is an i32: a time past 2038 is clamped, not read as 0 (all).
        .since(since.clamp(0, i64::from(i32::MAX)) as i32)
        .build();
    let what = format!("logs of {name}");
    docker
        .logs(name, Some(opts))
        .map_ok(log_text)
        .map_err(move |e| failed(what.clone(), e))
        .map(Some)
        // `None` marks the end, where a last line without a newline is let out.
        .chain(futures::stream::once(futures::future::ready(None)))
        // Chunks are not lines: split and re-join across chunk boundaries.
        .scan(String::new(), |pending, item| {
            let out = match item {
                Some(Ok(text)) => {
                    pending.push_str(&text);
                    let mut lines = Vec::new();
                    while let Some(i) = pending.find('\n') {
                        lines.push(Ok(pending[..i].to_string()));
                        pending.drain(..=i);
                    }
                    lines
                }
                Some(Err(e)) => vec![Err(e)],
                None if pending.is_empty() => Vec::new(),
                None => vec![Ok(std::mem::take(pending))],
            };
            futures::future::ready(Some(futures::stream::iter(out)))
        })
        .flatten()
        .boxed()
}

pub(super) async fn tail_logs(
    docker: &Docker,
    name: &str,
    lines: usize,
) -> Result<String, EngineError> {
    let opts = LogsOptionsBuilder::default()
        .stdout(true)
        .stderr(true)
        .tail(&lines.to_string())
        .build();
    let chunks: Vec<LogOutput> = docker
        .logs(name, Some(opts))
        .try_collect()
        .await
        .map_err(|e| failed(format!("logs of {name}"), e))?;
    Ok(chunks.into_iter().map(log_text).collect())
}

//! Volumes: created idempotently, listed by label, removed if there.

use ::bollard::Docker;
use ::bollard::models::VolumeCreateRequest;
use ::bollard::query_parameters::{ListVolumesOptionsBuilder, RemoveVolumeOptions};

use super::error::{failed, is_not_found};
use super::translate::label_filters;
use crate::docker::{EngineError, Labels};

pub(super) async fn ensure(
    docker: &Docker,
    name: &str,
    labels: &Labels,
) -> Result<(), EngineError> {
    // Creating a volume that exists is a no-op in Docker, which is what we want.
    let req = VolumeCreateRequest {
        name: Some(name.to_string()),
        driver: Some("local".into()),
        labels: Some(labels.clone().into_iter().collect()),
        ..Default::default()
    };
    docker
        .create_volume(req)
        .await
        .map_err(|e| failed(format!("create volume {name}"), e))?;
    Ok(())
}

pub(super) async fn list(
    docker: &Docker,
    labels: &[(&str, &str)],
) -> Result<Vec<String>, EngineError> {
    let opts = ListVolumesOptionsBuilder::default()
        .filters(&label_filters(labels))
        .build();
    let res = docker
        .list_volumes(Some(opts))
        .await
        .map_err(|e| failed("list volumes", e))?;
    Ok(res
        .volumes
        .unwrap_or_default()
        .into_iter()
        .map(|v| v.name)
        .collect())
}

pub(super) async fn remove(docker: &Docker, name: &str) -> Result<(), EngineError> {
    match docker
        .remove_volume(name, None::<RemoveVolumeOptions>)
        .await
    {
        Ok(()) => Ok(()),
        Err(e) if is_not_found(&e) => Ok(()),
        Err(e) => Err(failed(format!("remove volume {name}"), e)),
    }
}

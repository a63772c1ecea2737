//! Images: present or not, pulled with per-layer progress, saved to one tar.

use ::bollard::Docker;
use ::bollard::query_parameters::CreateImageOptionsBuilder;
use futures::StreamExt;

use super::error::{self, failed, is_not_found};
use crate::docker::{EngineError, PullFailure, PullProgress, registry_of};

pub(super) async fn present(docker: &Docker, image: &str) -> Result<bool, EngineError> {
    match docker.inspect_image(image).await {
        Ok(_) => Ok(true),
        Err(e) if is_not_found(&e) => Ok(false),
        Err(e) => Err(failed(format!("inspect image {image}"), e)),
    }
}

pub(super) async fn pull(
    docker: &Docker,
    image: &str,
    progress: &(dyn Fn(PullProgress) + Send + Sync),
) -> Result<(), EngineError> {
    let (repo, tag) = split_reference(image);
    let opts = CreateImageOptionsBuilder::default()
        .from_image(repo)
        .tag(tag)
        .build();
    let mut stream = docker.create_image(Some(opts), None, None);
    let fail = |message: PullFailure| EngineError::Pull {
        image: image.to_string(),
        registry: registry_of(image).to_string(),
        message,
    };
    while let Some(item) = stream.next().await {
        let info = item.map_err(|e| fail(error::pull_failure(e)))?;
        if let Some(err) = info.error_detail.and_then(|d| d.message) {
            return Err(fail(PullFailure::Registry(err)));
        }
        let detail = info.progress_detail.unwrap_or_default();
        progress(PullProgress {
            layer: info.id,
            status: info.status.unwrap_or_default(),
            current: detail.current.and_then(|c| u64::try_from(c).ok()),
            total: detail.total.and_then(|c| u64::try_from(c).ok()),
        });
    }
    Ok(())
}

pub(super) async fn export(
    docker: &Docker,
    images: &[String],
    dest: &std::path::Path,
) -> Result<u64, EngineError> {
    let what = format!("export {} from Docker", images.join(", "));
    let names: Vec<&str> = images.iter().map(String::as_str).collect();
    let mut file = tokio::fs::File::create(dest)
        .await
        .map_err(|e| failed(what.clone(), e))?;
    let mut stream = docker.export_images(&names);
    let mut size = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| failed(what.clone(), e))?;
        size += chunk.len() as u64;
        tokio::io::AsyncWriteExt::write_all(&mut file, &chunk)
            .await
            .map_err(|e| failed(what.clone(), e))?;
    }
    tokio::io::AsyncWriteExt::flush(&mut file)
        .await
        .map_err(|e| failed(what, e))?;
    Ok(size)
}

/// Split `repo[:tag][@digest]` into what the create-image endpoint wants.
fn split_reference(image: &str) -> (&str, &str) {
    if image.contains('@') {
        return (image, "");
    }
    match image.rsplit_once(':') {
        // A ':' inside the registry host (`host:5000/repo`) is not a tag separator.
        Some((repo, tag)) if !tag.contains('/') => (repo, tag),
        _ => (image, "latest"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_split_at_the_tag_not_the_registry_port() {
        assert_eq!(
            split_reference("rancher/k3s:v1.35.5-k3s1"),
            ("rancher/k3s", "v1.35.5-k3s1")
        );
        assert_eq!(
            split_reference("localhost:5000/x"),
            ("localhost:5000/x", "latest")
        );
        assert_eq!(
            split_reference("localhost:5000/x:1"),
            ("localhost:5000/x", "1")
        );
        assert_eq!(registry_of("rancher/k3s:v1"), "docker.io");
        assert_eq!(registry_of("ghcr.io/a/b:1"), "ghcr.io");
    }
}

//! What `playground version` reports: this build, the k3s image and Argo CD releases it
//! pins, and the Docker endpoint the environment resolves to, and whether it answers.

use std::time::Duration;

use serde::Serialize;

use crate::argocd::manifest::{self, ARGOCD_VERSION};
use crate::config::DEFAULT_K3S_IMAGE;
use crate::docker::AnyEngine;
use crate::docker::endpoint;

/// How long `version` waits for the Docker Engine to answer a ping.
const DOCKER_PING: Duration = Duration::from_secs(2);

/// The `version` document.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct VersionInfo {
    /// This CLI's version (Cargo.toml).
    pub(crate) version: &'static str,
    /// The k3s image a lab uses without `cluster.image`.
    pub(crate) k3s_image: &'static str,
    pub(crate) argocd: ArgoCdPin,
    pub(crate) docker: DockerEndpoint,
}

/// The Argo CD release installed without `argocd.version`, and what its manifest must hash to;
/// `pinned`, every release `argocd.version` may name.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ArgoCdPin {
    pub(crate) version: &'static str,
    pub(crate) manifest_url: Option<&'static str>,
    pub(crate) manifest_sha256: Option<&'static str>,
    pub(crate) pinned: Vec<PinnedRelease>,
}

/// One pinned Argo CD release.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PinnedRelease {
    pub(crate) version: &'static str,
    pub(crate) manifest_url: &'static str,
    pub(crate) manifest_sha256: &'static str,
    /// The one a lab gets without `argocd.version`.
    pub(crate) default: bool,
}

/// The Docker endpoint, as resolved from the environment, and whether it answered.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DockerEndpoint {
    /// `unix:///var/run/docker.sock`, `tcp://…`; absent when none could be resolved.
    pub(crate) host: Option<String>,
    /// Where it came from (`DOCKER_HOST`, a Docker context, the default socket).
    pub(crate) source: Option<String>,
    pub(crate) reachable: bool,
    /// Why it could not be resolved or reached.
    pub(crate) error: Option<String>,
}

/// Everything `version` reports; Docker is given [`DOCKER_PING`] to answer.
pub(crate) async fn gather() -> VersionInfo {
    VersionInfo {
        version: env!("CARGO_PKG_VERSION"),
        k3s_image: DEFAULT_K3S_IMAGE,
        argocd: {
            let pin = manifest::pinned(ARGOCD_VERSION);
            ArgoCdPin {
                version: ARGOCD_VERSION,
                manifest_url: pin.map(|p| p.url),
                manifest_sha256: pin.map(|p| p.sha256),
                pinned: pinned_releases(),
            }
        },
        docker: docker().await,
    }
}

async fn docker() -> DockerEndpoint {
    let endpoint = match endpoint::resolve_from_env() {
        Ok(e) => e,
        Err(e) => {
            return DockerEndpoint {
                host: None,
                source: None,
                reachable: false,
                error: Some(crate::diag::Report(&e).to_string()),
            };
        }
    };
    let error =
        match tokio::time::timeout(DOCKER_PING, AnyEngine::connect_to(endpoint.clone())).await {
            Ok(Ok(_)) => None,
            Ok(Err(e)) => Some(crate::diag::Report(&e).to_string()),
            Err(_) => Some(format!("no answer within {}s", DOCKER_PING.as_secs())),
        };
    DockerEndpoint {
        host: Some(endpoint.host.clone()),
        source: Some(endpoint.source.to_string()),
        reachable: error.is_none(),
        error,
    }
}

/// Every release `argocd.version` may name without `argocd.manifest`, the default marked.
pub(crate) fn pinned_releases() -> Vec<PinnedRelease> {
    manifest::PINNED
        .iter()
        .map(|p| PinnedRelease {
            version: p.version,
            manifest_url: p.url,
            manifest_sha256: p.sha256,
            default: p.version == ARGOCD_VERSION,
        })
        .collect()
}

//! `playground version`: what this build is and what it would use: its version, the default
//! k3s image, the Argo CD releases it pins (the default marked) with their manifests' SHA-256,
//! and the Docker endpoint
//! the environment names, with whether it answers. Never fails because Docker is down: a bug
//! report needs this most when nothing works.

use std::time::Duration;

use serde::Serialize;

use super::args::Output;
use super::error::Result;
use crate::argocd::manifest::{self, ARGOCD_VERSION};
use crate::config::DEFAULT_K3S_IMAGE;
use crate::docker::AnyEngine;
use crate::docker::endpoint;

use super::output;

/// Print versions, pinned releases and the Docker endpoint.
///
/// Print this build's version, the default k3s image, the pinned Argo CD release and its
/// manifest's SHA-256, and the Docker endpoint in use with whether it answers (never
/// fails when Docker is down).
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// `table` for people; `json` or `yaml` for scripts, one document with `apiVersion` and
    /// `kind` on stdout (`up`/`restore -o json`: one JSON event per step, then the result).
    #[arg(short, long, value_enum, default_value_t = Output::Table)]
    pub output: Output,
}

const EXAMPLES: &str = "Example:
  playground version -o json";

/// How long `version` waits for the Docker Engine to answer a ping.
const DOCKER_PING: Duration = Duration::from_secs(2);

impl output::Kind for VersionInfo {
    const KIND: &'static str = "Version";
}

/// The `version` document.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VersionInfo {
    /// This CLI's version (Cargo.toml).
    pub version: &'static str,
    /// The k3s image a lab uses without `cluster.image`.
    pub k3s_image: &'static str,
    pub argocd: ArgoCdPin,
    pub docker: DockerEndpoint,
}

/// The Argo CD release installed without `argocd.version`, and what its manifest must hash to;
/// `pinned`, every release `argocd.version` may name.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ArgoCdPin {
    pub version: &'static str,
    pub manifest_url: Option<&'static str>,
    pub manifest_sha256: Option<&'static str>,
    pub pinned: Vec<PinnedRelease>,
}

/// One pinned Argo CD release.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PinnedRelease {
    pub version: &'static str,
    pub manifest_url: &'static str,
    pub manifest_sha256: &'static str,
    /// The one a lab gets without `argocd.version`.
    pub default: bool,
}

/// The Docker endpoint, as resolved from the environment, and whether it answered.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DockerEndpoint {
    /// `unix:///var/run/docker.sock`, `tcp://…`; absent when none could be resolved.
    pub host: Option<String>,
    /// Where it came from (`DOCKER_HOST`, a Docker context, the default socket).
    pub source: Option<String>,
    pub reachable: bool,
    /// Why it could not be resolved or reached.
    pub error: Option<String>,
}

pub async fn run(args: Args) -> Result<()> {
    let Args { output: out } = args;
    let info = VersionInfo {
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
    };
    output::emit(out, &info, || table(&info))
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

fn table(info: &VersionInfo) -> String {
    let docker = match (&info.docker.host, &info.docker.source) {
        (Some(host), Some(source)) if info.docker.reachable => {
            format!("{host} ({source}), reachable")
        }
        (Some(host), Some(source)) => format!("{host} ({source}), not reachable"),
        _ => "none".to_string(),
    };
    let mut text = format!(
        "playground {}\nk3s image:  {}\nArgo CD:    {} (default)\n",
        info.version, info.k3s_image, info.argocd.version
    );
    if !info.argocd.pinned.is_empty() {
        text += "  pinned releases (argocd.version), install.yaml sha256:\n";
        let width = info
            .argocd
            .pinned
            .iter()
            .map(|p| p.version.len())
            .max()
            .unwrap_or(0);
        for p in &info.argocd.pinned {
            let mark = if p.default { "*" } else { " " };
            text += &format!("  {mark} {:width$}  {}\n", p.version, p.manifest_sha256);
        }
        text += "  (* the default)\n";
    }
    text += &format!("Docker:     {docker}\n");
    if let Some(e) = &info.docker.error {
        // The first line only: the hint is for `doctor`, which says more.
        text += &format!("  {}\n", e.lines().next().unwrap_or_default());
    }
    text
}

/// Every release `argocd.version` may name without `argocd.manifest`, the default marked.
fn pinned_releases() -> Vec<PinnedRelease> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> VersionInfo {
        VersionInfo {
            version: "0.1.0",
            k3s_image: DEFAULT_K3S_IMAGE,
            argocd: ArgoCdPin {
                version: ARGOCD_VERSION,
                manifest_url: None,
                manifest_sha256: None,
                pinned: pinned_releases(),
            },
            docker: DockerEndpoint {
                host: None,
                source: None,
                reachable: false,
                error: None,
            },
        }
    }

    #[test]
    fn every_pinned_release_is_listed_and_the_default_marked() {
        let text = table(&info());
        for p in manifest::PINNED {
            let line = text
                .lines()
                .find(|l| l.contains(p.sha256))
                .unwrap_or_else(|| panic!("{} missing: {text}", p.version));
            assert!(line.contains(p.version), "{line}");
            assert_eq!(
                line.trim_start().starts_with('*'),
                p.version == ARGOCD_VERSION,
                "{line}"
            );
        }
        let json = serde_json::to_value(info()).unwrap();
        let pinned = json["argocd"]["pinned"].as_array().unwrap();
        assert_eq!(pinned.len(), manifest::PINNED.len());
        assert_eq!(
            pinned.iter().filter(|p| p["default"] == true).count(),
            1,
            "{json}"
        );
        assert_eq!(pinned[0]["version"], ARGOCD_VERSION);
        assert!(pinned[1]["manifestSha256"].is_string(), "{json}");
        assert!(pinned[1]["manifestUrl"].is_string(), "{json}");
    }
}

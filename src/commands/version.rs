//! `playground version`: what this build is and what it would use: its version, the default
//! k3s image, the Argo CD releases it pins (the default marked) with their manifests' SHA-256,
//! and the Docker endpoint
//! the environment names, with whether it answers. Never fails because Docker is down: a bug
//! report needs this most when nothing works.

use super::args::OutputArg;
use super::error::Result;
use crate::ops::version::VersionInfo;

use super::output;

/// Print versions, pinned releases and the Docker endpoint.
///
/// Print this build's version, the default k3s image, the pinned Argo CD release and its
/// manifest's SHA-256, and the Docker endpoint in use with whether it answers (never
/// fails when Docker is down).
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    #[command(flatten)]
    pub(crate) output: OutputArg,
}

const EXAMPLES: &str = "Example:
  playground version -o json";

impl output::Kind for VersionInfo {
    const KIND: &'static str = "Version";
}

pub(crate) async fn run(args: Args) -> Result<()> {
    let Args {
        output: OutputArg { output: out },
    } = args;
    let info = crate::ops::version::gather().await;
    output::emit(out, &info, || table(&info))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::argocd::manifest::{self, ARGOCD_VERSION};
    use crate::config::DEFAULT_K3S_IMAGE;
    use crate::ops::version::{ArgoCdPin, DockerEndpoint, pinned_releases};

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

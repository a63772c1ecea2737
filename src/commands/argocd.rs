//! `playground argocd`: the lab's own Argo CD CLI, logged in as admin, with ARGS verbatim (see
//! [`crate::argocd::cli`] for the flow and where the secrets go).

use std::time::Duration;

use tokio::task::block_in_place;

use super::error::{Error, Result, Usage};
use crate::argocd::cli::{self as argocd, ArgoCliError};
use crate::argocd::download::{self, Platform};
use crate::cluster::ClusterError;
use crate::cluster::inventory::LabState;

use super::Ctx;

/// Run the Argo CD CLI against the lab, logged in as admin.
///
/// Run the Argo CD CLI against the lab, logged in as admin: `playground argocd -- ARGS`.
///
/// The CLI comes from the lab's own Argo CD server (`/download/argocd-<os>-<arch>`), so
/// its version always matches the server's. It is downloaded once per server version into
/// the user cache dir (`playground/argocd/<version>/argocd`). The login uses the initial
/// admin password for a session token, handed to the CLI in its environment: no secret is
/// ever on a command line. The exit status is the CLI's.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// The lab (default: the one in ./playground.yaml, or the only lab).
    #[arg(add = super::completions::lab_names())]
    pub(crate) name: Option<String>,
    /// Arguments for `argocd`, after `--`, passed on verbatim.
    #[arg(last = true, value_name = "ARGS")]
    pub(crate) args: Vec<String>,
}

const EXAMPLES: &str = "Examples:
  playground argocd -- app list
  playground argocd -- app get root --show-operation
  playground argocd mylab -- app sync hello
  playground argocd -- version

Everything after `--` goes to argocd unchanged, flags included (`-- app list --help`).";

pub(crate) async fn run(ctx: &Ctx<'_>, args: Args) -> Result<()> {
    let Args { name, args } = args;
    let name = ctx.lab_name(name).await?;
    let lab = match ctx.find_lab(&name).await {
        // `playground argocd version`: the word was meant for argocd, not as a lab name.
        Err(Error::Cluster(ClusterError::NotFound(word))) if args.is_empty() => {
            return Err(Usage::ArgocdArgsAfterSeparator(word).into());
        }
        found => found?,
    };
    let stopped = match lab.state {
        LabState::Suspended | LabState::Paused | LabState::Dropped => Some(lab.state.as_str()),
        LabState::Running | LabState::Partial => None,
    };
    let target = argocd::Target::of(
        &lab.name,
        stopped,
        lab.ui.as_deref(),
        lab.argocd_namespace(),
    )?;
    let platform = Platform::host().map_err(ArgoCliError::from)?;
    let api = ctx.lab_api(&lab).await?;
    argocd::require_installed(api.client(), &target).await?;
    let http = argocd::UreqHttp::new();
    let version = block_in_place(|| argocd::server_version(&http, &target))?;
    let cache = crate::state::cache_root();
    let cli = match download::cached(&cache, &version, platform) {
        Some(path) => {
            download::check_trusted(&cache, &path).map_err(ArgoCliError::from)?;
            path
        }
        None => {
            let step = ctx.ui.step(format!(
                "download the argocd CLI {version} from {}",
                target.url
            ));
            match block_in_place(|| {
                download::ensure(&cache, &target.url, &version, platform, &http)
            }) {
                Ok(got) => {
                    step.done_with(&got.path.display().to_string());
                    got.path
                }
                Err(e) => {
                    step.fail();
                    return Err(ArgoCliError::from(e).into());
                }
            }
        }
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let password = crate::argocd::access::admin_password(api.client(), &target.namespace, deadline)
        .await
        .map_err(ArgoCliError::from)?;
    let token = block_in_place(|| argocd::login(&http, &target, &password))?;
    drop(password);
    let config = argocd::config_path(
        &dirs::config_dir().unwrap_or_else(std::env::temp_dir),
        &lab.name,
    );
    match argocd::run(argocd::command(&cli, &target, &token, &config, &args)).await? {
        0 => Ok(()),
        code => Err(Error::ChildExit(code)),
    }
}

//! `playground status`: the lab at a glance: its nodes, what is missing, and its Applications
//! as a tree with who changed what in Git.

use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use super::args::Output;
use super::error::Result;
use crate::argocd::hub::HubCluster;
use crate::argocd::status::{AppTree, ArgoCdVersion};
use crate::cluster::inventory::{self, LabState, LabSummary};
use crate::repo::git;

use super::Ctx;
use super::output::{self, Kind};

/// Show a lab: nodes, API, and its apps as a tree.
///
/// Show one lab: its state, its nodes, the API URL, and its Applications as a tree with the
/// last commit that touched each.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    #[arg(add = super::completions::lab_names())]
    pub name: Option<String>,
    /// `table` for people; `json` or `yaml` for scripts, one document with `apiVersion` and
    /// `kind` on stdout (`up`/`restore -o json`: one JSON event per step, then the result).
    #[arg(short, long, value_enum, default_value_t = Output::Table)]
    pub output: Output,
}

const EXAMPLES: &str = "Examples:
  playground status mylab
  playground status -o json";

/// `status -o json|yaml` (kind `LabStatus`): the lab's summary, with its apps (the tree of
/// [`AppTree`], whose shape its module documents) when Argo CD answers.
#[derive(Serialize)]
struct Status<'a> {
    #[serde(flatten)]
    lab: &'a LabSummary,
    /// The Argo CD release that runs, when it could be told.
    #[serde(skip_serializing_if = "Option::is_none")]
    argocd: Option<&'a ArgoCdVersion>,
    #[serde(skip_serializing_if = "Option::is_none")]
    apps: Option<&'a AppTree>,
    /// For a hub (`argocd.clusters`): its clusters and their connection.
    #[serde(skip_serializing_if = "Option::is_none")]
    clusters: Option<&'a [HubCluster]>,
}

impl Kind for Status<'_> {
    const KIND: &'static str = "LabStatus";
}

pub async fn run(ctx: &Ctx<'_>, args: Args) -> Result<()> {
    let Args { name, output: out } = args;
    let lab = ctx.lab(name).await?;
    let (argocd, tree, clusters) = if lab.state == LabState::Running {
        argocd_and_apps(ctx, &lab).await
    } else {
        (None, None, None)
    };
    let doc = Status {
        lab: &lab,
        argocd: argocd.as_ref(),
        apps: tree.as_ref(),
        clusters: clusters.as_deref(),
    };
    output::emit(out, &doc, || {
        table(&lab, argocd.as_ref(), tree.as_ref(), clusters.as_deref())
    })
}

fn table(
    lab: &LabSummary,
    argocd: Option<&ArgoCdVersion>,
    tree: Option<&AppTree>,
    clusters: Option<&[HubCluster]>,
) -> String {
    let mut out = inventory::render_table(std::slice::from_ref(lab));
    out.push('\n');
    let _ = writeln!(out, "{:<36} {:<13} STATE", "NODE", "ROLE");
    for n in &lab.nodes {
        let _ = writeln!(out, "{:<36} {:<13} {}", n.name, n.role, n.state.as_str());
    }
    for m in &lab.missing {
        let _ = writeln!(out, "{m:<36} {:<13} missing", "");
    }
    if !lab.missing.is_empty() {
        out.push_str("\n`playground up` recreates what is missing.\n");
    }
    if let Some(argocd) = argocd {
        out.push('\n');
        out.push_str(&argocd.line());
        out.push('\n');
    }
    if let Some(tree) = tree {
        out.push('\n');
        out.push_str(&tree.render_text_now());
    }
    if let Some(clusters) = clusters {
        out.push('\n');
        out.push_str(&crate::argocd::hub::render_clusters(clusters));
    }
    out
}

/// The Argo CD release (the `argocd-server` image's tag, else the record's), the app tree
/// (each app's destination named by the hub's cluster Secrets), and a hub's clusters.
async fn argocd_and_apps(
    ctx: &Ctx<'_>,
    lab: &LabSummary,
) -> (
    Option<ArgoCdVersion>,
    Option<AppTree>,
    Option<Vec<HubCluster>>,
) {
    let recorded = crate::state::record::read(&lab.name)
        .ok()
        .flatten()
        .filter(|r| r.times.dropped.is_none())
        .and_then(|r| r.argocd)
        .map(|a| a.version);
    let Ok(api) = ctx.lab_api(lab).await else {
        return (
            ArgoCdVersion::from_observed(None, recorded.as_deref()),
            None,
            None,
        );
    };
    let observed = crate::argocd::upgrade::observe(&api, &lab.argocd_namespace())
        .await
        .ok();
    let argocd = ArgoCdVersion::from_observed(observed.as_ref(), recorded.as_deref());
    let mut tree = app_tree(&api, lab).await;
    if let Some(tree) = tree.as_mut()
        && let Ok(servers) =
            crate::argocd::hub::cluster_servers(&api, &lab.argocd_namespace()).await
    {
        tree.name_destinations(&servers);
    }
    let clusters =
        async { crate::ops::hub::hub_clusters(&ctx.env().await.ok()?, lab, &api).await }.await;
    (argocd, tree, clusters)
}

/// The lab's Applications as a tree, with the last commit per app path for a local repo.
/// `None` when Argo CD is not there (a `--cluster-only` lab) or the API does not answer.
async fn app_tree(api: &crate::kube::api::KubeApi, lab: &LabSummary) -> Option<AppTree> {
    let namespace = lab.argocd_namespace();
    let apps = crate::argocd::apps::list_apps(api, &namespace).await.ok()?;
    let repo = lab
        .repo
        .as_deref()
        .and_then(|r| git::open(Path::new(r)).ok());
    let lookup = |path: &str| {
        repo.as_ref()
            .and_then(|r| git::last_commit_touching(r, path).ok().flatten())
    };
    Some(crate::argocd::status::build_tree(
        &namespace,
        apps,
        crate::argocd::seed::ROOT_APP,
        &lookup,
    ))
}

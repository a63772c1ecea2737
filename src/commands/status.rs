//! `playground status`: the lab at a glance: its nodes, what is missing, and its Applications
//! as a tree with who changed what in Git.

use serde::Serialize;

use super::args::OutputArg;
use super::error::Result;
use crate::argocd::hub::HubCluster;
use crate::argocd::status::{AppTree, ArgoCdVersion};
use crate::cluster::inventory::{self, LabState, LabSummary};
use crate::ops::status::LabView;

use super::Ctx;
use super::output::{self, Kind};
use crate::ui::table::{Align, Table};

/// Show a lab: nodes, API, and its apps as a tree.
///
/// Show one lab: its state, its nodes, the API URL, and its Applications as a tree with the
/// last commit that touched each.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    #[arg(add = super::completions::lab_names())]
    pub(crate) name: Option<String>,
    #[command(flatten)]
    pub(crate) output: OutputArg,
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

pub(crate) async fn run(ctx: &Ctx<'_>, args: Args) -> Result<()> {
    let Args {
        name,
        output: OutputArg { output: out },
    } = args;
    let lab = ctx.lab(name).await?;
    let view = if lab.state == LabState::Running {
        crate::ops::status::view(&ctx.env().await?, &lab).await
    } else {
        LabView::default()
    };
    let doc = Status {
        lab: &lab,
        argocd: view.argocd.as_ref(),
        apps: view.apps.as_ref(),
        clusters: view.clusters.as_deref(),
    };
    output::emit(out, &doc, || table(&lab, &view))
}

fn table(lab: &LabSummary, view: &LabView) -> String {
    let mut out = inventory::render_table(std::slice::from_ref(lab), true);
    out.push('\n');
    let mut nodes = Table::new(&[
        ("NODE", Align::Left),
        ("ROLE", Align::Left),
        ("STATE", Align::Left),
    ]);
    for n in &lab.nodes {
        nodes.row([n.name.clone(), n.role.to_string(), n.state.as_str().into()]);
    }
    for m in &lab.missing {
        nodes.row([m.to_string(), String::new(), "missing".into()]);
    }
    out.push_str(&nodes.render(true));
    if !lab.missing.is_empty() {
        out.push_str("\n`playground up` recreates what is missing.\n");
    }
    if let Some(argocd) = &view.argocd {
        out.push('\n');
        out.push_str(&argocd.line());
        out.push('\n');
    }
    if let Some(tree) = &view.apps {
        out.push('\n');
        out.push_str(&tree.render_text_now());
    }
    if let Some(clusters) = &view.clusters {
        out.push('\n');
        out.push_str(&crate::argocd::hub::render_clusters(clusters));
    }
    out
}

//! What `up` prints: the lab it made (kind `UpResult`), or its plan (kind `UpPlan`).

use serde::Serialize;

use super::super::Ctx;
use super::super::args::Output;
use super::super::error::Result;
use super::super::output::{self, Kind};
use crate::argocd::apps::AppState;
use crate::cluster::up::UpOutcome;
use crate::config::Lab;
use crate::kube::api::KubeApi;
use crate::ops::up::{UpOpts, UpReport, Watch};

/// Print `report`; a dry run on a host that cannot run it is printed, then the refusal.
pub(super) fn report(
    ctx: &Ctx<'_>,
    opts: &UpOpts,
    out: Output,
    lab: &Lab,
    report: UpReport<KubeApi>,
) -> Result<Option<Box<Watch<KubeApi>>>> {
    match report {
        UpReport::Plan {
            plan,
            gitops,
            refused,
        } => {
            super::plan::print_plan(out, ctx, &lab.name, plan, gitops)?;
            match refused {
                Some(e) => Err(e.into()),
                None => Ok(None),
            }
        }
        UpReport::Up {
            outcome,
            apps,
            watch,
        } => {
            lab_ready(
                opts,
                out,
                &outcome,
                apps.as_deref().unwrap_or_default(),
                lab,
                ctx,
            )?;
            Ok(watch)
        }
        UpReport::Context { context, apps } => {
            let doc = ContextDocument {
                name: &lab.name,
                context: &context,
                apps: &apps,
            };
            output::result(out, ctx.ui, &doc, || {
                format!(
                    "context {context}: {} app(s) Synced and Healthy\n",
                    apps.len()
                )
            })?;
            Ok(None)
        }
    }
}

/// `up -o json|yaml` (kind `UpResult`, `restore` too): what `up` made, and the apps when it
/// bootstrapped GitOps.
#[derive(Serialize)]
struct UpDocument<'a> {
    #[serde(flatten)]
    outcome: &'a UpOutcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    apps: Option<&'a [AppState]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ui: Option<String>,
}

impl Kind for UpDocument<'_> {
    const KIND: &'static str = "UpResult";
}

fn lab_ready(
    run: &UpOpts,
    out: Output,
    outcome: &UpOutcome,
    apps: &[AppState],
    lab: &Lab,
    ctx: &Ctx<'_>,
) -> Result<()> {
    let ui_url = format!("http://127.0.0.1:{}", lab.argocd.ui.port);
    let doc = UpDocument {
        outcome,
        apps: (!run.cluster_only).then_some(apps),
        ui: (!run.cluster_only).then(|| ui_url.clone()),
    };
    let mut line = format!(
        "lab {} is ready: {} nodes, API {}, kube context {}",
        outcome.name,
        outcome.nodes.len(),
        outcome.api,
        outcome.context
    );
    if !run.cluster_only {
        line.push_str(&format!(
            "\n{} app(s) Synced and Healthy. Argo CD UI: {ui_url} (user admin; password: `playground password {}`)",
            apps.len(),
            lab.name
        ));
    }
    output::outcome(out, ctx.ui, &doc, line)
}

/// `up --context -o json|yaml`: an `UpResult` without the Docker half (`api`, `nodes`).
#[derive(Serialize)]
struct ContextDocument<'a> {
    name: &'a str,
    context: &'a str,
    apps: &'a [AppState],
}

impl Kind for ContextDocument<'_> {
    const KIND: &'static str = "UpResult";
}

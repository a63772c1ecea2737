//! What `up --dry-run` prints: the plan, as text or (kind `UpPlan`) as a document.

use serde::Serialize;

use super::super::Ctx;
use super::super::args::Output;
use super::super::error::Result;
use super::super::output::{self, Kind};
use crate::argocd::plan::GitopsStep;

/// `up --dry-run`: what would be done, as text or (kind `UpPlan`) as a document whose `steps`
/// are the cluster plan's lines and `gitopsSteps` the GitOps half's, so `-o json` keeps stdout
/// JSON.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct UpPlan<'a> {
    name: &'a str,
    steps: Vec<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    gitops_steps: Vec<String>,
}

impl Kind for UpPlan<'_> {
    const KIND: &'static str = "UpPlan";
}

pub(super) fn print_plan(
    out: Output,
    ctx: &Ctx<'_>,
    name: &str,
    plan: String,
    gitops: Vec<GitopsStep>,
) -> Result<()> {
    let doc = UpPlan {
        name,
        steps: plan.lines().collect(),
        gitops_steps: gitops.iter().map(ToString::to_string).collect(),
    };
    output::result(out, ctx.ui, &doc, || text(name, &plan, &gitops))
}

/// The cluster plan as it is, then the GitOps half as a second numbered section.
fn text(name: &str, plan: &str, gitops: &[GitopsStep]) -> String {
    let mut text = String::new();
    if !plan.is_empty() || !gitops.is_empty() {
        text.push_str(&format!(
            "plan for lab {name} (nothing was changed):\n{plan}"
        ));
    }
    if !gitops.is_empty() {
        text.push_str(if plan.is_empty() {
            "the GitOps half (Argo CD):\n"
        } else {
            "then the GitOps half (Argo CD):\n"
        });
        for (i, step) in gitops.iter().enumerate() {
            text.push_str(&format!("{:>2}.   {step}\n", i + 1));
        }
    }
    text
}

//! What `up --dry-run` prints: the plan, as text or (kind `UpPlan`) as a document.

use serde::Serialize;

use super::super::Ctx;
use super::super::args::Output;
use super::super::error::Result;
use super::super::output::{self, Kind};

/// `up --dry-run`: what would be done, as text or (kind `UpPlan`) as a document whose `steps`
/// are the plan's lines, so `-o json` keeps stdout JSON.
#[derive(Serialize)]
struct UpPlan<'a> {
    name: &'a str,
    steps: Vec<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    then: Option<&'a str>,
}

impl Kind for UpPlan<'_> {
    const KIND: &'static str = "UpPlan";
}

pub(super) fn print_plan(
    out: Output,
    ctx: &Ctx<'_>,
    name: &str,
    plan: String,
    then: Option<String>,
) -> Result<()> {
    let doc = UpPlan {
        name,
        steps: plan.lines().collect(),
        then: then.as_deref(),
    };
    output::result(out, ctx.ui, &doc, || {
        let mut text = String::new();
        if !plan.is_empty() {
            text.push_str(&format!(
                "plan for lab {name} (nothing was changed):\n{plan}"
            ));
        }
        if let Some(then) = &then {
            let lead = if plan.is_empty() { "would" } else { "then:" };
            text.push_str(&format!("{lead} {then}\n"));
        }
        text
    })
}

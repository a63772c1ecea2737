//! `playground up`: create or converge a lab, record it, and bootstrap GitOps into it. The
//! use case is [`crate::ops::up`]; this file parses, asks on the terminal and prints
//! ([`mod@print`]); `restore` goes the same way ([`up_lab`]).

mod error;
mod plan;
mod print;

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

use super::Ctx;
use super::args::RunArgs;
use super::error::{Error, Result};
use crate::config::Overrides;
use crate::ops::up as ops;
use crate::source::LabSource;

/// Create the lab, or converge it to its file.
///
/// Create the lab, or converge an existing one: start what is stopped, repair what is
/// missing, and apply a changed lab file node by node, or a changed Argo CD release in
/// place, after showing the diff (`--yes` where there is no terminal to ask on). Never
/// duplicates anything.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    #[command(flatten)]
    pub(crate) lab: LabArgs,
    /// Skip Docker: bootstrap Argo CD and the seed into this existing kube context instead
    /// (a real cluster, for labs that outgrow one machine). Needs a remote gitops.repo.
    #[arg(long, value_name = "CTX", conflicts_with_all = ["servers", "agents", "image", "api_port", "cluster_only"])]
    pub(crate) context: Option<String>,
    #[command(flatten)]
    pub run: RunArgs,
}

const EXAMPLES: &str = "Examples:
  playground up                  # ./playground.yaml, or the sample lab
  playground up --dry-run        # print the plan; change nothing
  playground up --yes --timeout 15m
  playground up --context prod   # the GitOps half, into a real cluster";

/// Which lab `up` makes: the file, and flags that override it.
#[derive(Debug, clap::Args)]
pub(crate) struct LabArgs {
    /// The lab file. Default: ./playground.yaml if present, else the built-in sample lab.
    #[arg(short, long, value_name = "FILE")]
    pub(crate) file: Option<PathBuf>,
    /// Overrides metadata.name in the file.
    #[arg(long)]
    pub(crate) name: Option<String>,
    /// Overrides cluster.servers in the file.
    #[arg(long)]
    pub(crate) servers: Option<u32>,
    /// Overrides cluster.agents in the file.
    #[arg(long)]
    pub(crate) agents: Option<u32>,
    /// Overrides cluster.image in the file.
    #[arg(long)]
    pub(crate) image: Option<String>,
    /// Overrides cluster.api.port in the file.
    #[arg(long, value_name = "PORT")]
    pub(crate) api_port: Option<u16>,
}

pub(crate) async fn run(ctx: &Ctx<'_>, args: Args) -> Result<()> {
    let overrides = Overrides {
        name: args.lab.name,
        servers: args.lab.servers,
        agents: args.lab.agents,
        image: args.lab.image,
        api_port: args.lab.api_port,
    };
    let source = LabSource::load(args.lab.file.as_deref(), overrides)?;
    up_lab(ctx, source, &args.run, args.context).await
}

/// `up` and `restore`: prepare, go up ([`ops::up_lab`]), print what was done, then watch.
pub(crate) async fn up_lab(
    ctx: &Ctx<'_>,
    source: LabSource,
    run: &RunArgs,
    context: Option<String>,
) -> Result<()> {
    let opts = &run.opts(context);
    let prepared = ops::prepare(ctx.ui, &source.lab, opts)?;
    let report = match &opts.context {
        // The GitOps half into a real cluster: Docker is not needed, nor asked.
        Some(context) => {
            ops::up_in_context::<crate::kube::api::KubeApi>(
                ctx.ui, &source, prepared, opts, context,
            )
            .await?
        }
        None => {
            let env = ctx.env().await?;
            let engine = ctx.engine().await?;
            let ask: &dyn Fn(&str) -> std::io::Result<bool> = &ask;
            let terminal = std::io::stdin().is_terminal().then_some(ask);
            let preflight = crate::doctor::preflight_up(engine, &source.lab, ctx.ui);
            ops::up_lab(&env, &source, prepared, opts, terminal, preflight).await?
        }
    };
    let watch = print::report(ctx, opts, run.output.output, &source.lab, report)?;
    if let Some(watch) = watch {
        ops::watch_head(ctx.ui, &watch).await?;
    }
    Ok(())
}

/// Show the changes and ask whether to apply them.
fn ask(diff: &str) -> std::io::Result<bool> {
    eprint!("{diff}apply these changes? [y/N] ");
    std::io::stderr().flush().ok();
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

impl From<ops::UpError> for Error {
    fn from(e: ops::UpError) -> Self {
        error::from(e)
    }
}

//! `playground up`: create or converge a lab, record it, and bootstrap GitOps into it.
//!
//! The flow ([`up_lab`], which `restore` shares):
//! 1. everything is validated before Docker or a cluster is touched: the lab file (done by the
//!    caller), the GitOps half ([`bootstrap::prepare`]: the repository, its revision, the Argo
//!    CD manifest), the kept Secrets to re-apply, the host ([`crate::doctor::preflight_up`]);
//! 2. the cluster half ([`crate::cluster::up`]) runs its plan; a new lab that fails or is
//!    interrupted is rolled back there;
//! 3. the lab is recorded, so `restore` can rebuild it whatever happens next;
//! 4. Argo CD goes in as soon as the API answers and one node is Ready, while the other nodes
//!    finish booting; then the apps are awaited. Every step of this half is idempotent, so a
//!    failure leaves the cluster for the next `up` to converge.
//!
//! A changed `argocd.version` on a lab that runs Argo CD is a change like a node's: the diff
//! shows `argocd v3.4.7 → v3.5.1` (`--dry-run` too, from the lab's record) and `up` asks, or
//! needs `--yes` without a terminal; then the new release is applied over the old one and
//! what the old one had and the new one lacks is deleted ([`crate::argocd::upgrade`]). The
//! running release is read off the `argocd-server` image once the API answers, else the record.
//!
//! `up --context` skips Docker and runs only the GitOps half against an existing cluster.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;

use super::args::Output;
use super::error::{Error, Result, Usage};
use crate::argocd::apps::AppState;
use crate::argocd::bootstrap::{self, Prepared};
use crate::argocd::upgrade::{self, VersionChange};
use crate::argocd::{refresh, seed};
use crate::cluster::node_kubeconfig;
use crate::cluster::plan::PullPolicy;
use crate::cluster::up::{self, UpOutcome};
use crate::config::{Lab, Overrides};
use crate::kube::api::KubeApi;
use crate::kube::kubeconfig;
use crate::ops::up as ops;
use crate::repo::git;
use crate::source::LabSource;
use crate::state::{kept, record};

use super::Ctx;
use super::output::{self, Kind};

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
    pub lab: LabArgs,
    /// Skip Docker: bootstrap Argo CD and the seed into this existing kube context instead
    /// (a real cluster, for labs that outgrow one machine). Needs a remote gitops.repo.
    #[arg(long, value_name = "CTX", conflicts_with_all = ["servers", "agents", "image", "api_port", "cluster_only"])]
    pub context: Option<String>,
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
pub struct LabArgs {
    /// The lab file. Default: ./playground.yaml if present, else the built-in sample lab.
    #[arg(short, long, value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Overrides metadata.name in the file.
    #[arg(long)]
    pub name: Option<String>,
    /// Overrides cluster.servers in the file.
    #[arg(long)]
    pub servers: Option<u32>,
    /// Overrides cluster.agents in the file.
    #[arg(long)]
    pub agents: Option<u32>,
    /// Overrides cluster.image in the file.
    #[arg(long)]
    pub image: Option<String>,
    /// Overrides cluster.api.port in the file.
    #[arg(long, value_name = "PORT")]
    pub api_port: Option<u16>,
}

/// How `up` and `restore` run.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// When to pull images.
    #[arg(long, value_enum, default_value_t = Pull::Missing)]
    pub pull: Pull,
    /// One deadline for the whole run, e.g. 90s or 15m. Default: 10m, which leaves room to
    /// pull k3s and Argo CD's images on a first run; 3m with --cluster-only.
    #[arg(long, value_parser = super::args::parse_timeout)]
    pub timeout: Option<Duration>,
    /// Do not make the lab's context the current kube context.
    #[arg(long)]
    pub no_switch_context: bool,
    /// Stop after the cluster (skip the GitOps bootstrap).
    #[arg(long)]
    pub cluster_only: bool,
    /// Print the ordered steps, and the changes to existing nodes as a diff, and exit without
    /// changing anything.
    #[arg(long)]
    pub dry_run: bool,
    /// Keep a failed new lab for debugging instead of removing it.
    #[arg(long)]
    pub keep_on_failure: bool,
    /// Apply changes to existing nodes (recreate the changed ones, remove agents beyond the
    /// count) and a changed Argo CD release (upgrade in place) without asking. Without a
    /// terminal, `up` refuses such changes unless given this.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Stay in the foreground and refresh Argo CD whenever the local repo's HEAD moves.
    #[arg(long, conflicts_with = "cluster_only")]
    pub watch: bool,
    /// `table` for people; `json` or `yaml` for scripts, one document with `apiVersion` and
    /// `kind` on stdout (`up`/`restore -o json`: one JSON event per step, then the result).
    #[arg(short, long, value_enum, default_value_t = Output::Table)]
    pub output: Output,
}

impl RunArgs {
    /// `--timeout`, or the default for what this run does: the GitOps half pulls Argo CD's
    /// images and waits for every app, which on a first run takes minutes.
    pub fn deadline_after(&self) -> Duration {
        self.timeout.unwrap_or(if self.cluster_only {
            Duration::from_secs(180)
        } else {
            Duration::from_secs(600)
        })
    }
}

/// When to pull the node image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Pull {
    /// Pull only images that are not present.
    Missing,
    /// Always pull (picks up a moved tag).
    Always,
    /// Never pull; fail if an image is missing.
    Never,
}

/// How `up` and `restore` run: their flags, converted once.
#[derive(Debug, Clone)]
pub struct Run {
    pull: PullPolicy,
    timeout: Duration,
    switch_context: bool,
    cluster_only: bool,
    dry_run: bool,
    keep_on_failure: bool,
    /// Apply changes to existing nodes without asking.
    yes: bool,
    watch: bool,
    output: Output,
}

impl From<&RunArgs> for Run {
    fn from(args: &RunArgs) -> Self {
        Run {
            pull: match args.pull {
                Pull::Missing => PullPolicy::Missing,
                Pull::Always => PullPolicy::Always,
                Pull::Never => PullPolicy::Never,
            },
            timeout: args.deadline_after(),
            switch_context: !args.no_switch_context,
            cluster_only: args.cluster_only,
            dry_run: args.dry_run,
            keep_on_failure: args.keep_on_failure,
            yes: args.yes,
            watch: args.watch,
            output: args.output,
        }
    }
}

pub async fn run(ctx: &Ctx<'_>, args: Args) -> Result<()> {
    let overrides = Overrides {
        name: args.lab.name,
        servers: args.lab.servers,
        agents: args.lab.agents,
        image: args.lab.image,
        api_port: args.lab.api_port,
    };
    let source = LabSource::load(args.lab.file.as_deref(), overrides)?;
    up_lab(ctx, source, &Run::from(&args.run), args.context.as_deref()).await
}

/// `up` and `restore`: one idempotent path that creates or converges a lab, records it, and
/// bootstraps GitOps into it (see the module docs).
pub async fn up_lab(
    ctx: &Ctx<'_>,
    source: LabSource,
    run: &Run,
    context: Option<&str>,
) -> Result<()> {
    let ui = ctx.ui;
    let deadline = Instant::now() + run.timeout;
    let lab = &source.lab;
    let mut prepared = if run.cluster_only {
        None
    } else {
        Some(prepare(ctx, lab, run)?)
    };
    // What the record says is installed of Argo CD: the objects an upgrade deletes, and the
    // version a changed `argocd.version` is shown against before the cluster can be asked.
    // Not with `--context`: the record is of the playground cluster of that name.
    let (recorded_argocd, recorded_version) = match (&prepared, context) {
        (Some(_), None) => ops::recorded_argocd(&lab.name),
        _ => (None, None),
    };
    if let Some(p) = prepared.as_mut() {
        p.recorded_argocd = recorded_argocd;
    }
    let predicted = recorded_version
        .as_deref()
        .and_then(|v| upgrade::version_change(Some(v), &lab.argocd.version));
    // The Argo CD change the user said yes to along with the nodes' (asked once).
    let mut agreed: Option<VersionChange> = None;
    if run.watch && prepared.as_ref().is_some_and(|p| p.repo_mount().is_none()) {
        return Err(Usage::WatchNeedsLocalRepo.into());
    }
    if let Some(context) = context {
        let prepared = prepared.ok_or(Usage::ContextWithClusterOnly)?;
        return up_in_context(ctx, context, lab, &prepared, run, deadline).await;
    }

    // The mount follows the lab file, not --cluster-only: a mount cannot be added later.
    let repo_mount = match &prepared {
        Some(p) => p.repo_mount(),
        None => lab
            .gitops
            .repo
            .local_dir()
            .and_then(|dir| git::open(dir).ok())
            .and_then(|r| std::fs::canonicalize(r.root()).ok()),
    };
    let engine = ctx.engine().await?;
    // A dry run shows its plan even on a host that cannot run it, then the refusal: both are
    // what a person planning needs, and the exit status still says it would fail.
    let refused = match crate::doctor::preflight_up(engine, lab, ui).await {
        Err(e) if run.dry_run => Some(e),
        other => {
            other?;
            None
        }
    };
    let lock = if run.dry_run {
        None
    } else {
        Some(ctx.lock(&lab.name)?)
    };
    let opts = up::UpOptions {
        pull: run.pull,
        timeout: run.timeout,
        switch_context: run.switch_context,
        dry_run: run.dry_run,
        yes: run.yes,
        keep_on_failure: run.keep_on_failure,
        kubeconfig: kubeconfig::target_path_from_env()?,
        repo_mount,
        ui_port: Some(lab.argocd.ui.port),
        // With the GitOps half to do, Argo CD goes in as soon as the API answers and one node
        // is Ready; the other nodes are awaited alongside it (below).
        ready_nodes: (!run.cluster_only).then_some(1),
    };
    // From here a Ctrl-C or SIGTERM is ours: the cluster half rolls a new lab back, the GitOps
    // half stops its waits at once and leaves the cluster for the next `up`.
    let _guard = crate::interrupt::guard();
    let mut outcome = match up::up(engine, lab, &opts, ui).await {
        // Existing nodes would be replaced or removed: on a terminal, show the diff and ask,
        // then plan again and apply; without one, the error (with the diff) names `--yes`.
        Err(crate::cluster::ClusterError::Unconfirmed { diff, .. })
            if std::io::stdin().is_terminal() =>
        {
            eprint!("{diff}");
            if let Some(change) = &predicted {
                eprint!("{}", change.diff());
            }
            ctx.confirm(false, "apply these changes?", "up")?;
            agreed = predicted.clone();
            let opts = up::UpOptions { yes: true, ..opts };
            up::up(engine, lab, &opts, ui).await?
        }
        other => other?,
    };
    if let Some(plan) = &outcome.dry_run {
        let mut text = plan.to_string();
        if !plan.fresh
            && let Some(change) = &predicted
        {
            text.insert_str(0, &change.diff());
        }
        let then = prepared.as_ref().map(|p| {
            format!(
                "install Argo CD {} into {} as soon as the API answers and one node is Ready (the other nodes are awaited alongside), {}",
                lab.argocd.version,
                lab.argocd.namespace,
                p.describe(&lab.gitops.repo.to_string())
            )
        });
        print_plan(run, ctx, &lab.name, text, then)?;
        return match refused {
            Some(e) => Err(e.into()),
            None => Ok(()),
        };
    }
    // The cluster exists: from here on `restore` can rebuild it, whatever happens next.
    let recorded = ops::write_record(ctx.ui, &source, prepared.as_ref(), None);
    // A spoke needs no Argo CD of its own: `--cluster-only` registers it with its hubs too.
    crate::ops::hub::register_with_hubs(&ctx.env().await?, lab).await;
    let Some(prepared) = &prepared else {
        return report(run, &outcome, &[], lab, ctx);
    };
    // The cluster is whole at this point; a GitOps failure leaves it for the next `up` to
    // converge (every step below is idempotent) instead of removing it.
    let text = match &outcome.kubeconfig {
        Some(text) => text.clone(),
        None => {
            node_kubeconfig::fetch_kubeconfig(engine, &lab.name, &outcome.api, deadline).await?
        }
    };
    let api = KubeApi::from_kubeconfig_yaml(&text).await?;
    confirm_argocd_change(ctx, run, lab, &api, prepared, recorded_version, agreed).await?;
    // One Argo CD for several labs: before the apps are awaited, so an app that deploys into a
    // spoke finds it registered (see `hub`).
    crate::ops::hub::register_spokes(&ctx.env().await?, lab, &api).await;
    let record_install = |argocd| {
        if recorded && let Err(e) = record::set_argocd(&lab.name, argocd) {
            ui.warn(&format!(
                "could not record what was installed of Argo CD (a later upgrade will not delete what this release has and the next lacks): {}",
                crate::diag::Report(&e)
            ));
        }
    };
    // Argo CD and the nodes still booting, in parallel; both must be done.
    let (apps, nodes) = until_interrupted(
        async {
            tokio::try_join!(
                async { Ok(bootstrap::bootstrap(&api, prepared, ui, deadline, &record_install).await?) },
                async { Ok(up::wait_every_node(&api, lab, &outcome.api, std::mem::take(&mut outcome.starting), deadline, ui).await?) },
            )
        },
        &format!(
            "the cluster stays: `playground up` finishes the GitOps half, `playground drop {}` removes the lab",
            lab.name
        ),
        ctx,
    )
    .await?;
    outcome.nodes = nodes;
    if recorded {
        let deployed = apps
            .iter()
            .find(|a| a.name == seed::ROOT_APP)
            .map(|a| a.revision.clone())
            .filter(|r| !r.is_empty())
            .or_else(|| prepared.expected.clone());
        ops::write_record(ctx.ui, &source, Some(prepared), deployed);
    }
    report(run, &outcome, &apps, lab, ctx)?;
    if run.watch {
        // Watching only asks Argo CD to refresh: other commands may act meanwhile.
        drop(lock);
        return watch_head(ctx, &api, prepared).await;
    }
    Ok(())
}

/// A changed Argo CD release on a lab that has one: show the diff line and ask (or go on with
/// `--yes`; without a terminal, refuse). The running release is the `argocd-server` image's
/// tag, else the recorded one. `agreed`: the change the user already said yes to with the
/// nodes'.
async fn confirm_argocd_change(
    ctx: &Ctx<'_>,
    run: &Run,
    lab: &Lab,
    api: &KubeApi,
    prepared: &Prepared,
    recorded: Option<String>,
    agreed: Option<VersionChange>,
) -> Result<()> {
    let running = match upgrade::observe(api, &prepared.namespace).await {
        Ok(observed) => observed.version(recorded.as_deref()),
        Err(e) => {
            tracing::debug!("cannot read the argocd-server Deployment: {e}; using the record");
            recorded
        }
    };
    let Some(change) = upgrade::version_change(running.as_deref(), &lab.argocd.version) else {
        return Ok(());
    };
    let diff = change.diff();
    if agreed.as_ref() == Some(&change) {
        return Ok(());
    }
    if run.yes {
        ctx.ui.line(diff.trim_end());
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(Usage::ArgoCdUnconfirmed {
            lab: lab.name.to_string(),
            diff,
        }
        .into());
    }
    eprint!("{diff}");
    ctx.confirm(false, "apply these changes?", "up")
}

/// The GitOps half, checked before anything is created, with the kept Secrets to re-apply.
fn prepare(ctx: &Ctx<'_>, lab: &Lab, run: &Run) -> Result<Prepared> {
    // The manifest may be downloaded (blocking I/O): keep the runtime's other work going.
    let mut prepared = tokio::task::block_in_place(|| {
        bootstrap::prepare(lab, &crate::state::cache_root(), !run.dry_run)
    })?;
    // Only what this lab file still keeps: an export is not a licence to copy everything a
    // lab of the same name once held. With `--context` too, on purpose: a lab that moves to a
    // real cluster takes its kept Secrets (its sealed-secrets key) along.
    prepared.kept_secrets = kept::selected(kept::load(&lab.name)?, &lab.keep);
    for w in &prepared.warnings {
        ctx.ui.warn(w);
    }
    Ok(prepared)
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

fn report(
    run: &Run,
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
    output::outcome(run.output, ctx.ui, &doc, line)
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

/// `up --context`: the same bootstrap into an existing cluster, without Docker.
async fn up_in_context(
    ctx: &Ctx<'_>,
    context: &str,
    lab: &Lab,
    prepared: &Prepared,
    run: &Run,
    deadline: Instant,
) -> Result<()> {
    if prepared.repo_mount().is_some() {
        return Err(Usage::ContextWithLocalRepo(context.to_string()).into());
    }
    let kc = crate::kube::Kubeconfig::read()?;
    if !kc.contexts.iter().any(|c| c.name == context) {
        return Err(Usage::NoSuchContext(context.to_string()).into());
    }
    let api = KubeApi::from_kubeconfig(kc, Some(context.to_string())).await?;
    if run.dry_run {
        let then = format!(
            "install Argo CD {} into {} of context {context}, and seed root from {}",
            lab.argocd.version, lab.argocd.namespace, lab.gitops.repo
        );
        return print_plan(run, ctx, &lab.name, String::new(), Some(then));
    }
    let _guard = crate::interrupt::guard();
    let apps = until_interrupted(
        async { Ok(bootstrap::bootstrap(&api, prepared, ctx.ui, deadline, &|_| {}).await?) },
        &format!("`playground up --context {context}` again finishes the bootstrap"),
        ctx,
    )
    .await?;
    let doc = ContextDocument {
        name: &lab.name,
        context,
        apps: &apps,
    };
    output::result(run.output, ctx.ui, &doc, || {
        format!(
            "context {context}: {} app(s) Synced and Healthy\n",
            apps.len()
        )
    })
}

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

fn print_plan(
    run: &Run,
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
    output::result(run.output, ctx.ui, &doc, || {
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

/// Run the GitOps half of `up`, stopping at once on Ctrl-C or SIGTERM. Every step of it is
/// idempotent, so what it leaves is what the next `up` converges.
async fn until_interrupted<T>(
    work: impl std::future::Future<Output = Result<T>>,
    hint: &str,
    ctx: &Ctx<'_>,
) -> Result<T> {
    tokio::select! {
        r = work => r,
        _ = crate::interrupt::interrupted() => {
            ctx.ui.warn(&format!("interrupted; {hint}"));
            Err(Error::Interrupted)
        }
    }
}

/// `up --watch`: refresh Argo CD whenever the local repo's HEAD (or the revision it follows)
/// moves, until Ctrl-C.
async fn watch_head(ctx: &Ctx<'_>, api: &KubeApi, prepared: &Prepared) -> Result<()> {
    let Some(root) = prepared.repo_mount() else {
        return Ok(());
    };
    ctx.ui.line(&format!(
        "watching {} for new commits (Ctrl-C to stop)",
        root.display()
    ));
    let mut last = prepared.expected.clone();
    loop {
        tokio::select! {
            _ = crate::interrupt::interrupted() => return Ok(()),
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
        let now = git::open(&root)
            .and_then(|r| git::resolve(&r, &prepared.revision))
            .ok();
        if now.is_some() && now != last {
            let short: String = now.as_deref().unwrap_or_default().chars().take(7).collect();
            refresh::refresh(api, &prepared.namespace, None, false).await?;
            ctx.ui
                .line(&format!("new commit {short}: asked Argo CD to refresh"));
            last = now;
        }
    }
}

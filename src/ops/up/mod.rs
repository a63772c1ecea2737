//! `up` (and `restore`): create or converge a lab, record it, and bootstrap GitOps into it.
//!
//! The flow ([`up_lab`]):
//! 1. everything is validated before Docker or a cluster is touched: the lab file (done by the
//!    caller), the GitOps half ([`prepare`]: the repository, its revision, the Argo CD
//!    manifest, the kept Secrets to re-apply), the host (the caller's preflight);
//! 2. the cluster half ([`crate::cluster::up`]) runs its plan; a new lab that fails or is
//!    interrupted is rolled back there;
//! 3. the lab is recorded, so `restore` can rebuild it whatever happens next;
//! 4. Argo CD goes in as soon as the API answers and one node is Ready, while the other nodes
//!    finish booting; then the apps are awaited ([`gitops`]). Every step of this half is
//!    idempotent, so a failure leaves the cluster for the next `up` to converge.
//!
//! A changed `argocd.version` on a lab that runs Argo CD is a change like a node's: the diff
//! shows `argocd v3.4.7 → v3.5.1` (`--dry-run` too, from the lab's record) and `up` asks
//! ([`Ask`]), or needs `--yes` without a terminal; then the new release is applied over the
//! old one ([`crate::argocd::upgrade`]).
//!
//! `up --context` skips Docker and runs only the GitOps half against an existing cluster.

pub(crate) mod error;
pub(crate) mod gitops;
mod record;

use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use tokio::time::Instant;

use crate::argocd::apps::AppState;
use crate::argocd::bootstrap::{self, Prepared};
use crate::argocd::plan::{self as gitops_plan, GitopsStep};
use crate::argocd::upgrade::{self, VersionChange};
use crate::cluster::ClusterError;
use crate::cluster::plan::PullPolicy;
use crate::cluster::up::{self, UpOutcome};
use crate::config::Lab;
use crate::docker::Engine;
use crate::doctor::PreflightError;
use crate::kube::kubeconfig;
use crate::repo::git;
use crate::source::LabSource;
use crate::state::kept;
use crate::ui::Ui;

use super::{Env, Kube};
pub(crate) use error::{Result, UpError};
pub(crate) use gitops::{Watch, watch_head};
pub(crate) use record::{recorded_argocd, write_record};

/// How `up` and `restore` run: their flags, converted once.
#[derive(Debug, Clone)]
pub(crate) struct UpOpts {
    pub(crate) pull: PullPolicy,
    pub(crate) timeout: Duration,
    pub(crate) switch_context: bool,
    pub(crate) cluster_only: bool,
    pub(crate) dry_run: bool,
    pub(crate) keep_on_failure: bool,
    /// Apply changes to existing nodes, and a changed Argo CD release, without asking.
    pub(crate) yes: bool,
    pub(crate) watch: bool,
    /// `--context`: only the GitOps half, into this existing kube context.
    pub(crate) context: Option<String>,
    /// The kubeconfig file to merge into; `None`: `$KUBECONFIG`'s, else `~/.kube/config`.
    pub(crate) kubeconfig: Option<PathBuf>,
}

/// Asks the user whether to apply the changes it is shown (a diff); `None` where there is no
/// terminal to ask on.
pub(crate) type Ask<'a> = Option<&'a dyn Fn(&str) -> std::io::Result<bool>>;

/// What `up` did, for the command to print.
pub(crate) enum UpReport<A> {
    /// `--dry-run`: the cluster plan (the Argo CD diff first), the GitOps half's steps that
    /// would follow (none with `--cluster-only`), and the host's refusal, if any (the exit
    /// status still says it would fail).
    Plan {
        plan: String,
        gitops: Vec<GitopsStep>,
        refused: Option<PreflightError>,
    },
    /// The lab is up; `apps` when GitOps was bootstrapped, `watch` with `--watch`.
    Up {
        outcome: Box<UpOutcome>,
        apps: Option<Vec<AppState>>,
        watch: Option<Box<Watch<A>>>,
    },
    /// `--context`: the GitOps half into an existing cluster.
    Context {
        context: String,
        apps: Vec<AppState>,
    },
}

/// The GitOps half, checked before anything is created, with the kept Secrets to re-apply;
/// `None` with `--cluster-only`.
pub(crate) fn prepare(ui: &Ui, lab: &Lab, opts: &UpOpts) -> Result<Option<Prepared>> {
    if opts.cluster_only {
        return Ok(None);
    }
    // The manifest may be downloaded (blocking I/O): keep the runtime's other work going.
    let mut prepared = tokio::task::block_in_place(|| {
        bootstrap::prepare(lab, &crate::state::cache_root(), !opts.dry_run)
    })?;
    // Only what this lab file still keeps: an export is not a licence to copy everything a
    // lab of the same name once held. With `--context` too, on purpose: a lab that moves to a
    // real cluster takes its kept Secrets (its sealed-secrets key) along.
    prepared.kept_secrets = kept::selected(kept::load(&lab.name)?, &lab.keep);
    for w in &prepared.warnings {
        ui.warn(w);
    }
    Ok(Some(prepared))
}

/// `up --context`: the GitOps half only, into an existing cluster of the user's kubeconfig.
/// Needs no engine: a host without Docker can bootstrap a real cluster.
pub(crate) async fn up_in_context<A>(
    ui: &Ui,
    source: &LabSource,
    prepared: Option<Prepared>,
    opts: &UpOpts,
    context: &str,
) -> Result<UpReport<A>> {
    let deadline = Instant::now() + opts.timeout;
    if opts.watch && prepared.as_ref().is_some_and(|p| p.repo_mount().is_none()) {
        return Err(UpError::WatchNeedsLocalRepo);
    }
    let prepared = prepared.ok_or(UpError::ContextWithClusterOnly)?;
    gitops::up_in_context(ui, context, &source.lab, &prepared, opts, deadline).await
}

/// `up` and `restore`: one idempotent path that creates or converges a lab, records it, and
/// bootstraps GitOps into it (see the module docs). `prepared`: what [`prepare`] returned;
/// `preflight`: the host's checks, awaited before anything is created.
pub(crate) async fn up_lab<E: Engine + Clone + 'static, K: Kube>(
    env: &Env<'_, E, K>,
    source: &LabSource,
    mut prepared: Option<Prepared>,
    opts: &UpOpts,
    ask: Ask<'_>,
    preflight: impl Future<Output = std::result::Result<(), PreflightError>>,
) -> Result<UpReport<K::Api>> {
    let ui = env.ui;
    let deadline = Instant::now() + opts.timeout;
    let lab = &source.lab;
    // What the record says is installed of Argo CD: the objects an upgrade deletes, and the
    // version a changed `argocd.version` is shown against before the cluster can be asked.
    // Not with `--context`: the record is of the playground cluster of that name.
    let (recorded_argocd, recorded_version) = match (&prepared, &opts.context) {
        (Some(_), None) => recorded_argocd(&lab.name),
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
    if opts.watch && prepared.as_ref().is_some_and(|p| p.repo_mount().is_none()) {
        return Err(UpError::WatchNeedsLocalRepo);
    }
    if let Some(context) = &opts.context {
        let prepared = prepared.ok_or(UpError::ContextWithClusterOnly)?;
        return gitops::up_in_context(ui, context, lab, &prepared, opts, deadline).await;
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
    // A dry run shows its plan even on a host that cannot run it, then the refusal: both are
    // what a person planning needs, and the exit status still says it would fail.
    let refused = match preflight.await {
        Err(e) if opts.dry_run => Some(e),
        other => {
            other?;
            None
        }
    };
    let lock = match opts.dry_run {
        true => None,
        false => Some(super::lock(ui, &lab.name)?),
    };
    let cluster = up::UpOptions {
        pull: opts.pull,
        timeout: opts.timeout,
        switch_context: opts.switch_context,
        dry_run: opts.dry_run,
        yes: opts.yes,
        keep_on_failure: opts.keep_on_failure,
        kubeconfig: match &opts.kubeconfig {
            Some(path) => path.clone(),
            None => kubeconfig::target_path_from_env()?,
        },
        repo_mount,
        ui_port: Some(lab.argocd.ui.port),
        // With the GitOps half to do, Argo CD goes in as soon as the API answers and one node
        // is Ready; the other nodes are awaited alongside it (see `gitops`).
        ready_nodes: prepared.is_some().then_some(1),
    };
    // From here a Ctrl-C or SIGTERM is ours: the cluster half rolls a new lab back, the GitOps
    // half stops its waits at once and leaves the cluster for the next `up`.
    let _guard = crate::interrupt::guard();
    let connect = env.kube.connect();
    let run = |o| {
        up::up_with(
            env.engine,
            connect,
            lab,
            o,
            ui,
            crate::interrupt::interrupted,
        )
    };
    let outcome = match run(&cluster).await {
        // Existing nodes would be replaced or removed: on a terminal, show the diff and ask,
        // then plan again and apply; without one, the error (with the diff) names `--yes`.
        Err(ClusterError::Unconfirmed { diff, .. }) if ask.is_some() => {
            let mut text = diff;
            if let Some(change) = &predicted {
                text.push_str(&change.diff());
            }
            gitops::asked(ask, &text)?;
            agreed = predicted.clone();
            run(&up::UpOptions {
                yes: true,
                ..cluster.clone()
            })
            .await?
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
        let gitops = gitops_plan::plan(
            lab,
            prepared.as_ref(),
            &gitops_plan::Facts {
                installed: recorded_version.as_deref(),
                fresh: plan.fresh,
                context: None,
                timeout: opts.timeout,
            },
        );
        return Ok(UpReport::Plan {
            plan: text,
            gitops,
            refused,
        });
    }
    // The cluster exists: from here on `restore` can rebuild it, whatever happens next.
    let recorded = write_record(ui, source, prepared.as_ref(), None);
    // A spoke needs no Argo CD of its own: `--cluster-only` registers it with its hubs too.
    super::hub::register_with_hubs(env, lab).await;
    let Some(prepared) = prepared else {
        return Ok(UpReport::Up {
            outcome: Box::new(outcome),
            apps: None,
            watch: None,
        });
    };
    let half = gitops::Half {
        source,
        prepared,
        recorded,
        recorded_version,
        agreed,
        deadline,
    };
    let report = gitops::bootstrap(env, half, outcome, opts, ask).await;
    // Watching only asks Argo CD to refresh: other commands may act meanwhile.
    drop(lock);
    report
}

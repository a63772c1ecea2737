//! The GitOps half of `up`: once the cluster answers, confirm a changed Argo CD release,
//! register the hub's spokes, then install Argo CD, seed the root and wait for the apps while
//! the other nodes finish booting. A failure here keeps the cluster: every step is idempotent,
//! so the next `up` converges what this one left.

use std::time::Duration;

use tokio::time::Instant;

use crate::argocd::bootstrap::{self, Prepared};
use crate::argocd::seed;
use crate::argocd::upgrade::{self, VersionChange};
use crate::cluster::node_kubeconfig;
use crate::cluster::up::UpOutcome;
use crate::config::Lab;
use crate::docker::Engine;
use crate::kube::api::KubeApi;
use crate::repo::git;
use crate::source::LabSource;
use crate::state::record;
use crate::ui::Ui;

use super::super::api::LabApi;
use super::super::{Env, Kube};
use super::{Ask, Result, UpError, UpOpts, UpReport, write_record};

/// What the cluster half hands the GitOps half.
pub(super) struct Half<'a> {
    pub(crate) source: &'a LabSource,
    pub(crate) prepared: Prepared,
    /// Whether the lab's record was written.
    pub(crate) recorded: bool,
    pub(crate) recorded_version: Option<String>,
    /// The Argo CD change the user already said yes to, with the nodes'.
    pub(crate) agreed: Option<VersionChange>,
    pub(crate) deadline: Instant,
}

/// `--watch`: the lab's API and what it was seeded from.
pub(crate) struct Watch<A> {
    pub(crate) api: A,
    pub(crate) prepared: Prepared,
}

/// Ask, or refuse to go on without a terminal; a "no" is [`UpError::Declined`].
pub(super) fn asked(ask: Ask<'_>, diff: &str) -> Result<()> {
    match ask {
        Some(ask) => match ask(diff).map_err(UpError::Terminal)? {
            true => Ok(()),
            false => Err(UpError::Declined),
        },
        None => Ok(()),
    }
}

/// The GitOps half into a lab whose cluster half is done.
pub(super) async fn bootstrap<E: Engine, K: Kube>(
    env: &Env<'_, E, K>,
    half: Half<'_>,
    mut outcome: UpOutcome,
    opts: &UpOpts,
    ask: Ask<'_>,
) -> Result<UpReport<K::Api>> {
    let (lab, ui, deadline) = (&half.source.lab, env.ui, half.deadline);
    let prepared = half.prepared;
    let text = match &outcome.kubeconfig {
        Some(text) => text.clone(),
        None => {
            node_kubeconfig::fetch_kubeconfig(env.engine, &lab.name, &outcome.api, deadline).await?
        }
    };
    let api = env.kube.open(&text).await?;
    let running = api
        .argocd_version(&prepared.namespace, half.recorded_version)
        .await;
    confirm_argocd_change(ui, opts, lab, running, half.agreed, ask)?;
    // One Argo CD for several labs: before the apps are awaited, so an app that deploys into a
    // spoke finds it registered (see `hub`).
    api.register_spokes(env, lab).await;
    let record_install = |argocd| {
        if half.recorded
            && let Err(e) = record::set_argocd(&lab.name, argocd)
        {
            ui.warn(&format!(
                "could not record what was installed of Argo CD (a later upgrade will not delete what this release has and the next lacks): {}",
                crate::diag::Report(&e)
            ));
        }
    };
    let starting = std::mem::take(&mut outcome.starting);
    // Argo CD and the nodes still booting, in parallel; both must be done.
    let (apps, nodes) = until_interrupted(
        async {
            tokio::try_join!(
                async { Ok(api.bootstrap(&prepared, ui, deadline, &record_install).await?) },
                async { Ok(api.wait_every_node(lab, &outcome.api, starting, deadline, ui).await?) },
            )
        },
        &format!(
            "the cluster stays: `playground up` finishes the GitOps half, `playground drop {}` removes the lab",
            lab.name
        ),
        ui,
    )
    .await?;
    outcome.nodes = nodes;
    if half.recorded {
        let deployed = apps
            .iter()
            .find(|a| a.name == seed::ROOT_APP)
            .map(|a| a.revision.clone())
            .filter(|r| !r.is_empty())
            .or_else(|| prepared.expected.clone());
        write_record(ui, half.source, Some(&prepared), deployed);
    }
    let watch = opts.watch.then(|| Box::new(Watch { api, prepared }));
    Ok(UpReport::Up {
        outcome: Box::new(outcome),
        apps: Some(apps),
        watch,
    })
}

/// A changed Argo CD release on a lab that has one: show the diff line and ask (or go on with
/// `--yes`; without a terminal, refuse). `running`: the `argocd-server` image's tag, else the
/// recorded one. `agreed`: the change the user already said yes to with the nodes'.
fn confirm_argocd_change(
    ui: &Ui,
    opts: &UpOpts,
    lab: &Lab,
    running: Option<String>,
    agreed: Option<VersionChange>,
    ask: Ask<'_>,
) -> Result<()> {
    let Some(change) = upgrade::version_change(running.as_deref(), &lab.argocd.version) else {
        return Ok(());
    };
    let diff = change.diff();
    if agreed.as_ref() == Some(&change) {
        return Ok(());
    }
    if opts.yes {
        ui.line(diff.trim_end());
        return Ok(());
    }
    if ask.is_none() {
        return Err(UpError::ArgoCdUnconfirmed {
            lab: lab.name.to_string(),
            diff,
        });
    }
    asked(ask, &diff)
}

/// `up --context`: the same bootstrap into an existing cluster, without Docker.
pub(super) async fn up_in_context<A>(
    ui: &Ui,
    context: &str,
    lab: &Lab,
    prepared: &Prepared,
    opts: &UpOpts,
    deadline: Instant,
) -> Result<UpReport<A>> {
    if prepared.repo_mount().is_some() {
        return Err(UpError::ContextWithLocalRepo(context.to_string()));
    }
    let kc = crate::kube::Kubeconfig::read()?;
    if !kc.contexts.iter().any(|c| c.name == context) {
        return Err(UpError::NoSuchContext(context.to_string()));
    }
    let api = KubeApi::from_kubeconfig(kc, Some(context.to_string()))
        .await
        .map_err(super::super::OpsError::from)?;
    if opts.dry_run {
        let facts = crate::argocd::plan::Facts {
            installed: None,
            fresh: false,
            context: Some(context),
            timeout: opts.timeout,
        };
        return Ok(UpReport::Plan {
            plan: String::new(),
            gitops: crate::argocd::plan::plan(lab, Some(prepared), &facts),
            refused: None,
        });
    }
    let _guard = crate::interrupt::guard();
    let apps = until_interrupted(
        async { Ok(bootstrap::bootstrap(&api, prepared, ui, deadline, &|_| {}).await?) },
        &format!("`playground up --context {context}` again finishes the bootstrap"),
        ui,
    )
    .await?;
    Ok(UpReport::Context {
        context: context.to_string(),
        apps,
    })
}

/// Run the GitOps half of `up`, stopping at once on Ctrl-C or SIGTERM. Every step of it is
/// idempotent, so what it leaves is what the next `up` converges.
async fn until_interrupted<T>(
    work: impl std::future::Future<Output = Result<T>>,
    hint: &str,
    ui: &Ui,
) -> Result<T> {
    tokio::select! {
        r = work => r,
        _ = crate::interrupt::interrupted() => {
            ui.warn(&format!("interrupted; {hint}"));
            Err(UpError::Interrupted)
        }
    }
}

/// `up --watch`: refresh Argo CD whenever the local repo's HEAD (or the revision it follows)
/// moves, until Ctrl-C.
pub(crate) async fn watch_head<A: LabApi>(ui: &Ui, watch: &Watch<A>) -> Result<()> {
    let prepared = &watch.prepared;
    let Some(root) = prepared.repo_mount() else {
        return Ok(());
    };
    // Ctrl-C is ours: it ends the watch, and the command, cleanly.
    let _guard = crate::interrupt::guard();
    ui.line(&format!(
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
            watch.api.refresh(&prepared.namespace).await?;
            ui.line(&format!("new commit {short}: asked Argo CD to refresh"));
            last = now;
        }
    }
}

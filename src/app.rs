//! Commands: turn parsed CLI arguments into core types and run them.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

use crate::argocd::apps::AppState;
use crate::argocd::{bootstrap, refresh};
use crate::cli::{
    CacheCommand, Cli, Command, ExportCommand, ImageCommand, LabArgs, Output, Pull,
    RegistryCommand, RestoreArgs, RunArgs,
};
use crate::cluster::{cache, import, inventory, lifecycle, node_kubeconfig, plan::PullPolicy, up};
use crate::config::{self, KeepSpec, Lab, Overrides};
use crate::docker::BollardEngine;
use crate::error::{Error, Result};
use crate::kube::api::KubeApi;
use crate::kube::kubeconfig;
use crate::repo::{clone, git, sample};
use crate::state::{kept, record};
use crate::ui::Ui;

/// The file `up` reads when no `-f` is given.
pub use crate::lab::DEFAULT_FILE;

/// Run one command to completion.
pub async fn run(cli: Cli, ui: &Ui) -> Result<()> {
    match cli.command {
        Command::Up(args) => {
            let source = load_lab(&args.lab)?;
            up_lab(source, &args.run, args.context.as_deref(), ui).await
        }
        Command::Restore(args) => cmd_restore(args, ui).await,
        Command::Suspend {
            name,
            pause,
            force,
            output,
        } => {
            let engine = BollardEngine::connect().await?;
            let name = resolve_name(&engine, name).await?;
            let _lock = lock_lab(&name, ui)?;
            // A suspended lab can be dropped without its API: export while it still answers.
            save_kept_secrets(&engine, &name, force, "suspended", ui).await?;
            lifecycle::suspend(&engine, &name, pause, ui).await?;
            let state = if pause { "paused" } else { "suspended" };
            result(
                output,
                ui,
                &serde_json::json!({"name": name, "state": state}),
                format!("lab {name} {state}"),
            )
        }
        Command::Resume {
            name,
            timeout,
            output,
        } => {
            let engine = BollardEngine::connect().await?;
            let name = resolve_name(&engine, name).await?;
            let _lock = lock_lab(&name, ui)?;
            let nodes = lifecycle::resume(&engine, &name, timeout, ui).await?;
            result(
                output,
                ui,
                &serde_json::json!({"name": name, "state": "running", "nodes": nodes}),
                format!(
                    "lab {name} is running ({} nodes Ready)",
                    nodes.iter().filter(|n| n.ready).count()
                ),
            )
        }
        Command::Drop {
            name,
            yes,
            force,
            output,
        } => {
            let engine = BollardEngine::connect().await?;
            let name = resolve_name(&engine, name).await?;
            let _lock = lock_lab(&name, ui)?;
            if !yes
                && std::io::stdin().is_terminal()
                && !confirm(&format!("Drop lab {name} and everything in it?"))?
            {
                return Err(Error::Other("not dropped".into()));
            }
            save_kept_secrets(&engine, &name, force, "dropped", ui).await?;
            cache::keep_lab_images(&engine, &name, ui).await?;
            let s = ui.step(format!("remove the Docker objects of {name}"));
            let removed = lifecycle::remove_objects(&engine, &name).await?;
            s.done_with(&format!("{removed} removed"));
            let path = kubeconfig_path()?;
            kubeconfig::remove(&path, &name).map_err(|e| Error::Kubeconfig(e.to_string()))?;
            if let Some(aside) =
                record::mark_dropped(&name).map_err(|e| Error::Other(e.to_string()))?
            {
                ui.warn(&format!(
                    "the lab's record did not parse; moved it aside to {}",
                    aside.display()
                ));
            }
            let restorable = record::path(&name).exists();
            let how = if restorable {
                format!("; `playground restore {name}` brings it back from Git")
            } else {
                String::new()
            };
            result(
                output,
                ui,
                &serde_json::json!({"name": name, "state": "dropped", "removed": removed, "restorable": restorable}),
                format!("lab {name} dropped{how}"),
            )
        }
        Command::List { output } => {
            let engine = BollardEngine::connect().await?;
            let mut labs = inventory::list(&engine).await?;
            // Dropped labs on record, so `restore` has something to show.
            for r in record::list().into_iter().flatten() {
                if r.times.dropped.is_some() && !labs.iter().any(|l| l.name == r.name) {
                    let lab = r.lab().ok();
                    labs.push(inventory::LabSummary {
                        name: r.name.clone(),
                        state: inventory::LabState::Dropped,
                        servers: lab.as_ref().map_or(0, |l| l.cluster.servers),
                        agents: lab.as_ref().map_or(0, |l| l.cluster.agents),
                        api: None,
                        argocd_namespace: None,
                        repo: None,
                        ui: None,
                        nodes: Vec::new(),
                        missing: Vec::new(),
                    });
                }
            }
            if output == Output::Table && labs.is_empty() {
                eprintln!("no labs; `playground up` creates one");
                return Ok(());
            }
            emit(output, &labs, || inventory::render_table(&labs))
        }
        Command::Status { name, output } => {
            let engine = BollardEngine::connect().await?;
            let name = resolve_name(&engine, name).await?;
            let lab = find_lab(&engine, &name).await?;
            let tree = if lab.state == inventory::LabState::Running {
                app_tree(&engine, &lab).await
            } else {
                None
            };
            match output {
                Output::Json | Output::Yaml => {
                    let mut v =
                        serde_json::to_value(&lab).map_err(|e| Error::Other(e.to_string()))?;
                    if let Some(tree) = &tree {
                        v["apps"] = tree.to_json();
                    }
                    emit(output, &v, String::new)?;
                }
                Output::Table => {
                    print!("{}", inventory::render_table(std::slice::from_ref(&lab)));
                    println!();
                    println!("{:<36} {:<13} STATE", "NODE", "ROLE");
                    for n in &lab.nodes {
                        println!("{:<36} {:<13} {}", n.name, n.role, n.state.as_str());
                    }
                    for m in &lab.missing {
                        println!("{m:<36} {:<13} missing", "");
                    }
                    if !lab.missing.is_empty() {
                        println!("\n`playground up` recreates what is missing.");
                    }
                    if let Some(tree) = &tree {
                        println!();
                        print!("{}", tree.render_text_now());
                    }
                }
            }
            Ok(())
        }
        Command::Password { name } => {
            let engine = BollardEngine::connect().await?;
            let name = resolve_name(&engine, name).await?;
            let lab = find_lab(&engine, &name).await?;
            let api = lab_api(&engine, &lab).await?;
            let namespace = lab.argocd_namespace();
            let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
            let password =
                crate::argocd::access::admin_password(api.client(), &namespace, deadline)
                    .await
                    .map_err(|e| Error::Other(e.to_string()))?;
            println!("{password}");
            Ok(())
        }
        Command::Argocd { name, args } => cmd_argocd(name, args, ui).await,
        Command::Refresh { name, app, hard } => {
            let engine = BollardEngine::connect().await?;
            let name = resolve_name(&engine, name).await?;
            let lab = find_lab(&engine, &name).await?;
            let api = lab_api(&engine, &lab).await?;
            let namespace = lab.argocd_namespace();
            let refreshed = refresh::refresh(&api, &namespace, app.as_deref(), hard)
                .await
                .map_err(|e| Error::Other(e.to_string()))?;
            ui.line(&format!(
                "asked Argo CD to {} Application {namespace}/{refreshed}",
                if hard { "hard-refresh" } else { "refresh" }
            ));
            Ok(())
        }
        Command::Init { dir } => {
            let dir = dir.unwrap_or_else(|| PathBuf::from("."));
            let written = init_lab(&dir)?;
            if written.created {
                ui.line(&format!(
                    "wrote a new lab in {} (commit {}); next: `cd {} && playground up`",
                    written.dir.display(),
                    &written.commit[..7.min(written.commit.len())],
                    dir.display()
                ));
            } else {
                ui.line(&format!(
                    "{} already holds a lab; left as it is",
                    written.dir.display()
                ));
            }
            Ok(())
        }
        Command::Validate { file, output } => {
            let path = file.unwrap_or_else(|| PathBuf::from(DEFAULT_FILE));
            let problem = |e: &crate::validate::ValidationError| {
                serde_json::json!({
                    "file": e.path.display().to_string(), "line": e.line, "column": e.column,
                    "message": e.message, "hint": e.hint,
                })
            };
            match crate::validate::validate(&path) {
                Ok(report) => {
                    if output == Output::Table {
                        for w in &report.warnings {
                            ui.warn(&w.to_string());
                        }
                        if let Some(why) = &report.skipped {
                            ui.line(&format!("note: {why}"));
                        }
                    }
                    let doc = serde_json::json!({
                        "file": path.display().to_string(), "valid": true,
                        "files": report.files.len(), "applications": report.applications.len(),
                        "projects": report.projects.len(),
                        "warnings": report.warnings.iter().map(problem).collect::<Vec<_>>(),
                        "skipped": report.skipped,
                    });
                    emit(output, &doc, || {
                        format!(
                            "{}: valid ({} file(s), {} Application(s), {} AppProject(s))\n",
                            path.display(),
                            report.files.len(),
                            report.applications.len(),
                            report.projects.len()
                        )
                    })
                }
                Err(errors) => {
                    if output == Output::Table {
                        for e in &errors {
                            eprintln!("{e}");
                        }
                    } else {
                        let doc = serde_json::json!({
                            "file": path.display().to_string(), "valid": false,
                            "errors": errors.iter().map(problem).collect::<Vec<_>>(),
                        });
                        emit(output, &doc, String::new)?;
                    }
                    Err(Error::Config(format!(
                        "{} problem(s) in the lab at {}",
                        errors.len(),
                        path.display()
                    )))
                }
            }
        }
        Command::Cache { command } => cmd_cache(command, ui).await,
        Command::Registry { command } => cmd_registry(command, ui).await,
        Command::Doctor { file, output } => cmd_doctor(file, output).await,
        Command::Image {
            command: ImageCommand::Import { images, name },
        } => {
            let engine = BollardEngine::connect().await?;
            let name = resolve_name(&engine, name).await?;
            let nodes = import::import(&engine, &name, &images, ui).await?;
            ui.line(&format!(
                "imported {} into {} node(s) of lab {name}",
                images.join(", "),
                nodes.len()
            ));
            Ok(())
        }
        Command::Kubeconfig { name } => {
            let engine = BollardEngine::connect().await?;
            let name = resolve_name(&engine, name).await?;
            let text = lab_kubeconfig(&engine, &find_lab(&engine, &name).await?).await?;
            let source =
                kubeconfig::parse_source(&text).map_err(|e| Error::Kubeconfig(e.to_string()))?;
            let out = kubeconfig::render_standalone(&name, &source)
                .map_err(|e| Error::Kubeconfig(e.to_string()))?;
            print!("{out}");
            Ok(())
        }
        Command::Logs(args) => {
            let engine = BollardEngine::connect().await?;
            let name = resolve_name(&engine, args.name).await?;
            let lab = find_lab(&engine, &name).await?;
            let since = args.since.map_or(0, |t| t.as_second());
            crate::cluster::logs::print_logs(
                &engine,
                &lab,
                args.node.as_deref(),
                args.follow,
                since,
            )
            .await?;
            Ok(())
        }
        Command::Export {
            command: ExportCommand::Logs { name, dir },
        } => {
            let engine = BollardEngine::connect().await?;
            let name = resolve_name(&engine, name).await?;
            let lab = find_lab(&engine, &name).await?;
            let api = match lab_api(&engine, &lab).await {
                Ok(api) => Ok(api.client().clone()),
                Err(e) => Err(e.to_string()),
            };
            let dir = dir.unwrap_or_else(|| PathBuf::from("."));
            // The host's view, as `doctor -o json` gives it, for the lab on record.
            let recorded = record::read(&name)
                .ok()
                .flatten()
                .and_then(|r| r.lab().ok());
            let report = crate::doctor::doctor(recorded.as_ref()).await;
            let doctor = serde_json::to_string_pretty(&report).map_err(|e| e.to_string());
            let path =
                crate::cluster::export::export_logs(&engine, &lab, api, doctor, &dir).await?;
            println!("{}", path.display());
            Ok(())
        }
        Command::Exec { name, node, cmd } => {
            let engine = BollardEngine::connect().await?;
            let name = resolve_name(&engine, name).await?;
            let lab = find_lab(&engine, &name).await?;
            match crate::cluster::exec::exec(&engine, &lab, &node, &cmd).await? {
                0 => Ok(()),
                code => Err(Error::ChildExit(code)),
            }
        }
    }
}

/// The lab's Applications as a tree, with the last commit per app path for a local repo.
/// `None` when Argo CD is not there (a `--cluster-only` lab) or the API does not answer.
async fn app_tree(
    engine: &BollardEngine,
    lab: &inventory::LabSummary,
) -> Option<crate::argocd::status::AppTree> {
    let api = lab_api(engine, lab).await.ok()?;
    let namespace = lab.argocd_namespace();
    let apps = crate::argocd::apps::list_apps(&api, &namespace)
        .await
        .ok()?;
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

/// `doctor`: every host check; the report on stdout, exit 1 when a check failed.
async fn cmd_doctor(file: Option<PathBuf>, output: Output) -> Result<()> {
    let path = file.unwrap_or_else(|| PathBuf::from(DEFAULT_FILE));
    let lab = if path.exists() {
        let text = std::fs::read_to_string(&path)
            .map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
        let mut lab = config::parse(&text, &path).map_err(|e| Error::Config(e.to_string()))?;
        lab.source = Some(path.clone());
        Some(lab)
    } else {
        None
    };
    let report = crate::doctor::doctor(lab.as_ref()).await;
    emit(output, &report, || {
        report.render(crate::doctor::fancy_output())
    })?;
    if report.ok {
        Ok(())
    } else {
        Err(Error::Other(format!(
            "{} host check(s) failed",
            report.failures
        )))
    }
}

/// `registry rm`.
async fn cmd_registry(command: RegistryCommand, ui: &Ui) -> Result<()> {
    use crate::cluster::registry::{self, RegistrySettings};
    let engine = BollardEngine::connect().await?;
    let settings = RegistrySettings::from_env();
    match command {
        RegistryCommand::Rm { yes } => {
            let name = settings.container();
            let question = format!("Remove the lab registry {name} and every image pushed to it?");
            if !yes && std::io::stdin().is_terminal() && !confirm(&question)? {
                return Err(Error::Other("not removed".into()));
            }
            let s = ui.step(format!("remove the lab registry {name}"));
            match registry::remove(&engine, &settings).await {
                Ok(true) => s.done(),
                Ok(false) => s.done_with("there was none"),
                Err(e) => {
                    s.fail();
                    return Err(e.into());
                }
            }
            Ok(())
        }
    }
}

/// `cache status` and `cache prune`.
async fn cmd_cache(command: CacheCommand, ui: &Ui) -> Result<()> {
    let engine = BollardEngine::connect().await?;
    let settings = cache::CacheSettings::from_env();
    let caches = cache::status(&engine, &settings).await?;
    match command {
        CacheCommand::Status { output } => emit(output, &caches, || cache::render_table(&caches)),
        CacheCommand::Prune { yes } => {
            let mut labs: Vec<&str> = caches
                .iter()
                .flat_map(|c| c.labs.iter().map(String::as_str))
                .collect();
            labs.sort_unstable();
            labs.dedup();
            // The lab registry goes too, with what was pushed to it: say so.
            let registry = crate::cluster::registry::RegistrySettings::from_env().container();
            let has_registry = crate::docker::Engine::inspect_container(&engine, &registry)
                .await?
                .is_some();
            let question = if has_registry {
                format!(
                    "Remove the image caches and the lab registry {registry}, with every image cached and every image pushed to it?"
                )
            } else if labs.is_empty() {
                "Remove the image caches and every image they hold?".to_string()
            } else {
                format!(
                    "Labs {} use the image caches; they will pull from the upstreams directly. Remove the caches and every image they hold?",
                    labs.join(", ")
                )
            };
            if !yes && std::io::stdin().is_terminal() && !confirm(&question)? {
                return Err(Error::Other("not pruned".into()));
            }
            let s = ui.step("remove the image caches");
            let pruned = cache::prune(&engine, &settings).await?;
            s.done_with(&format!(
                "{} container(s), {} volume(s)",
                pruned.containers, pruned.volumes
            ));
            Ok(())
        }
    }
}

/// The lab as Docker's labels describe it, or `NotFound`.
async fn find_lab(engine: &BollardEngine, name: &str) -> Result<inventory::LabSummary> {
    inventory::status(engine, name)
        .await?
        .ok_or_else(|| Error::NotFound(name.to_string()))
}

/// The kubeconfig k3s wrote in server-0, pointed at the lab's published API.
async fn lab_kubeconfig(engine: &BollardEngine, lab: &inventory::LabSummary) -> Result<String> {
    let api = lab
        .api
        .as_deref()
        .ok_or_else(|| Error::Other(format!("lab {} has no API address label", lab.name)))?;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    Ok(node_kubeconfig::fetch_kubeconfig(engine, &lab.name, api, deadline).await?)
}

/// A client for a lab's API, with the credentials k3s wrote in server-0.
async fn lab_api(engine: &BollardEngine, lab: &inventory::LabSummary) -> Result<KubeApi> {
    Ok(KubeApi::from_kubeconfig_yaml(&lab_kubeconfig(engine, lab).await?).await?)
}

/// The kubeconfig file we merge into: the first of `$KUBECONFIG`, else `~/.kube/config`.
pub fn kubeconfig_path() -> Result<PathBuf> {
    kubeconfig::target_path_from_env().map_err(|e| Error::Kubeconfig(e.to_string()))
}

/// A lab to bring up, with what its state record keeps of where it came from.
struct LabSource {
    lab: Lab,
    /// The lab file's text, as parsed.
    text: String,
    overrides: Overrides,
    /// The repository `restore --from` cloned the lab from.
    origin: Option<String>,
}

fn load_lab(args: &LabArgs) -> Result<LabSource> {
    let path = match &args.file {
        Some(f) => f.clone(),
        None if Path::new(DEFAULT_FILE).exists() => PathBuf::from(DEFAULT_FILE),
        // No file: the sample lab built into the binary, written once as a Git repo.
        None => {
            let dir = sample::default_dir();
            sample::write_sample(&dir)
                .map_err(|e| Error::Other(e.to_string()))?
                .lab_file
        }
    };
    let text = std::fs::read_to_string(&path)
        .map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
    let mut lab = config::parse(&text, &path).map_err(|e| Error::Config(e.to_string()))?;
    // Errors above name the path as typed; the record needs one that works from anywhere.
    lab.source = Some(
        std::path::absolute(&path)
            .map_err(|e| Error::Config(format!("{}: {e}", path.display())))?,
    );
    // Flags override the file; each is validated as the file's value would be.
    let overrides = Overrides {
        name: args.name.clone(),
        servers: args.servers,
        agents: args.agents,
        image: args.image.clone(),
        api_port: args.api_port,
    };
    overrides.apply(&mut lab).map_err(Error::Config)?;
    Ok(LabSource {
        lab,
        text,
        overrides,
        origin: None,
    })
}

/// `up` and `restore`: one idempotent path that creates or converges a lab, records it, and
/// bootstraps GitOps into it.
async fn up_lab(source: LabSource, args: &RunArgs, context: Option<&str>, ui: &Ui) -> Result<()> {
    let started = tokio::time::Instant::now();
    let deadline = started + args.deadline_after();
    let lab = &source.lab;
    // Validate everything before touching Docker or any cluster.
    let mut prepared = if args.cluster_only {
        None
    } else {
        // The manifest may be downloaded (blocking I/O): keep the runtime's other work going.
        Some(tokio::task::block_in_place(|| {
            bootstrap::prepare(lab, &cache_dir(), !args.dry_run)
        })?)
    };
    if let Some(p) = prepared.as_mut() {
        // Only what this lab file still keeps: an export is not a licence to copy everything
        // a lab of the same name once held. With `--context` too, on purpose: a lab that
        // moves to a real cluster takes its kept Secrets (its sealed-secrets key) along.
        let saved = kept::load(&lab.name).map_err(|e| Error::Other(e.to_string()))?;
        p.kept_secrets = kept::selected(saved, &lab.keep);
    }
    for w in prepared.iter().flat_map(|p| p.warnings.iter()) {
        ui.warn(w);
    }
    if args.watch && prepared.as_ref().is_some_and(|p| p.repo_mount().is_none()) {
        return Err(Error::Config(
            "--watch follows a local repository's HEAD, but gitops.repo is a remote URL\n  hint: run `playground refresh` after you push".into(),
        ));
    }

    if let Some(context) = context {
        return up_in_context(context, lab, prepared.as_ref(), args, ui, deadline).await;
    }

    // The mount follows the lab file, not --cluster-only: a mount cannot be added later.
    let repo_mount = match &prepared {
        Some(p) => p.repo_mount(),
        None if !crate::argocd::seed::is_remote(&lab.gitops.repo) => {
            let dir = bootstrap::lab_dir(lab).join(&lab.gitops.repo);
            git::open(&dir)
                .ok()
                .and_then(|r| std::fs::canonicalize(r.root()).ok())
        }
        None => None,
    };
    let engine = BollardEngine::connect().await?;
    crate::doctor::preflight_up(&engine, lab, ui).await?;
    let lock = if args.dry_run {
        None
    } else {
        Some(lock_lab(&lab.name, ui)?)
    };
    let opts = up::UpOptions {
        pull: match args.pull {
            Pull::Missing => PullPolicy::Missing,
            Pull::Always => PullPolicy::Always,
            Pull::Never => PullPolicy::Never,
        },
        timeout: args.deadline_after(),
        switch_context: !args.no_switch_context,
        dry_run: args.dry_run,
        keep_on_failure: args.keep_on_failure,
        kubeconfig: kubeconfig_path()?,
        repo_mount,
        ui_port: Some(lab.argocd.ui.port),
        // With the GitOps half to do, Argo CD goes in as soon as the API answers and one node
        // is Ready; the other nodes are awaited alongside it (below).
        ready_nodes: (!args.cluster_only).then_some(1),
    };
    // From here a Ctrl-C or SIGTERM is ours: the cluster half rolls a new lab back, the GitOps
    // half stops its waits at once and leaves the cluster for the next `up`.
    let _guard = crate::interrupt::guard();
    let mut outcome = up::up(&engine, lab, &opts, ui).await?;
    if let Some(plan) = &outcome.dry_run {
        println!("plan for lab {} (nothing was changed):", lab.name);
        print!("{plan}");
        if !args.cluster_only {
            println!(
                "then: install Argo CD {} into {}, seed the root Application from {}, and wait until every app is Synced and Healthy",
                lab.argocd.version, lab.argocd.namespace, lab.gitops.repo
            );
        }
        return Ok(());
    }
    // The cluster exists: from here on `restore` can rebuild it, whatever happens next.
    let recorded = write_record(&source, prepared.as_ref(), None, ui);
    let apps = match &prepared {
        None => Vec::new(),
        Some(prepared) => {
            // The cluster is whole at this point; a GitOps failure leaves it for the next
            // `up` to converge (every step below is idempotent) instead of removing it.
            let text = match &outcome.kubeconfig {
                Some(text) => text.clone(),
                None => {
                    node_kubeconfig::fetch_kubeconfig(&engine, &lab.name, &outcome.api, deadline)
                        .await?
                }
            };
            let api = KubeApi::from_kubeconfig_yaml(&text).await?;
            // Argo CD and the nodes still booting, in parallel; both must be done.
            let (apps, nodes) = until_interrupted(
                async {
                    tokio::try_join!(
                        bootstrap::bootstrap(&api, prepared, ui, deadline),
                        async {
                            Ok(up::wait_every_node(&api, lab, &outcome.api, deadline, ui).await?)
                        },
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
            if recorded {
                let deployed = apps
                    .iter()
                    .find(|a| a.name == crate::argocd::seed::ROOT_APP)
                    .map(|a| a.revision.clone())
                    .filter(|r| !r.is_empty())
                    .or_else(|| prepared.expected.clone());
                write_record(&source, Some(prepared), deployed, ui);
            }
            if args.watch {
                report_up(args, &outcome, &apps, lab, ui);
                // Watching only asks Argo CD to refresh: other commands may act meanwhile.
                drop(lock);
                return watch_head(&api, prepared, ui).await;
            }
            apps
        }
    };
    report_up(args, &outcome, &apps, lab, ui);
    Ok(())
}

/// Write the lab's state record; a failure is a warning (the lab itself is fine, only
/// `restore` would miss it). Returns whether it was written.
fn write_record(
    source: &LabSource,
    prepared: Option<&bootstrap::Prepared>,
    deployed: Option<String>,
    ui: &Ui,
) -> bool {
    let lab = &source.lab;
    let git = match prepared {
        Some(p) => record::GitRecord {
            repo: match &p.repo {
                crate::argocd::seed::RepoSource::Local { root } => root.display().to_string(),
                crate::argocd::seed::RepoSource::Remote { url, .. } => url.clone(),
            },
            path: p.path.clone(),
            revision: p.revision.clone(),
            deployed,
        },
        None => record::GitRecord {
            repo: if crate::argocd::seed::is_remote(&lab.gitops.repo) {
                lab.gitops.repo.clone()
            } else {
                bootstrap::lab_dir(lab)
                    .join(&lab.gitops.repo)
                    .display()
                    .to_string()
            },
            path: lab.gitops.path.clone(),
            revision: lab.gitops.revision.clone(),
            deployed,
        },
    };
    let result = record::read_or_set_aside(&lab.name).and_then(|(previous, aside)| {
        if let Some(aside) = aside {
            ui.warn(&format!(
                "the lab's record did not parse; moved it aside to {} and writing a fresh one",
                aside.display()
            ));
        }
        let rec = record::LabRecord::new(
            lab,
            &source.text,
            &source.overrides,
            source.origin.clone(),
            git,
            previous.as_ref(),
        );
        record::write(&rec)
    });
    match result {
        Ok(()) => true,
        Err(e) => {
            ui.warn(&format!(
                "could not record the lab for `playground restore`: {e}"
            ));
            false
        }
    }
}

/// `restore`: rebuild a dropped lab from its record or, with `--from`, from its repository.
async fn cmd_restore(args: RestoreArgs, ui: &Ui) -> Result<()> {
    let engine = BollardEngine::connect().await?;
    let source = match &args.from {
        Some(from) => {
            clone::check_source(from).map_err(|e| Error::Config(e.to_string()))?;
            let from = clone::normalize_source(from);
            let staged = stage_clone(&from, args.revision.as_deref(), ui)?;
            let lab_file = staged.target().join(DEFAULT_FILE);
            let mut lab = config::parse(&staged.lab_text, &lab_file).map_err(|e| {
                Error::Config(format!(
                    "{e}\n  (the lab file of {from} at {})",
                    staged.commit
                ))
            })?;
            if exists_already(&engine, &lab.name, ui).await? {
                return Ok(());
            }
            let text = staged.lab_text.clone();
            let commit = staged.commit.clone();
            staged.install().map_err(|e| Error::Other(e.to_string()))?;
            lab.gitops.revision = match &args.revision {
                // The lab file of REV, deploying REV.
                Some(rev) if crate::argocd::seed::is_remote(&lab.gitops.repo) => rev.clone(),
                Some(_) => commit,
                // A branch or tag the file names exists in a fresh clone only as
                // origin/<name>, which Argo CD's fetch of the mount would not find: pin it.
                None => pin_revision(&lab, &lab.gitops.revision)?,
            };
            LabSource {
                lab,
                text,
                overrides: Overrides::default(),
                origin: Some(from),
            }
        }
        None => {
            let name = restore_name(args.name.clone())?;
            let rec = record::read(&name)
                .map_err(|e| Error::Other(e.to_string()))?
                .ok_or_else(|| {
                    Error::Other(format!(
                        "no record of a lab named {name} (records are in {})\n  hint: `playground restore --from GIT_URL_OR_PATH` restores a lab from its repository",
                        crate::state::data_root().display()
                    ))
                })?;
            if exists_already(&engine, &name, ui).await? {
                return Ok(());
            }
            if let Some(origin) = &rec.config.origin {
                // Cloned by `restore --from`: fetch it again, so the lab comes back from what
                // Git holds now. The previous clone serves when the source cannot be reached.
                let target = clone::cache_entry(&cache_dir(), origin);
                match stage_clone(origin, None, ui) {
                    Ok(staged) => {
                        staged.install().map_err(|e| Error::Other(e.to_string()))?;
                    }
                    Err(e) if target.exists() => ui.warn(&format!(
                        "{e}\n  going on with the clone made earlier, in {}",
                        target.display()
                    )),
                    Err(e) => return Err(e),
                }
            }
            let mut lab = rec.lab().map_err(|e| Error::Config(e.to_string()))?;
            let folder = bootstrap::lab_dir(&lab);
            if !folder.exists() {
                return Err(Error::Other(format!(
                    "lab {name} was read from {}, which is gone\n  hint: `playground restore --from {}` clones the lab repository again",
                    folder.display(),
                    rec.config.origin.as_deref().unwrap_or("GIT_URL_OR_PATH")
                )));
            }
            // The revision `up` deployed (which may differ from the file's), unless another
            // is asked for.
            lab.gitops.revision = match &args.revision {
                Some(rev) => pin_revision(&lab, rev)?,
                None => rec.git.revision.clone(),
            };
            LabSource {
                lab,
                text: rec.config.content.clone(),
                overrides: rec.config.overrides.clone(),
                origin: rec.config.origin.clone(),
            }
        }
    };
    up_lab(source, &args.run, None, ui).await
}

/// Clone `from` aside (see [`clone::stage`]), as a progress step.
fn stage_clone(from: &str, revision: Option<&str>, ui: &Ui) -> Result<clone::Staged> {
    let s = ui.step(format!("clone {from}"));
    match tokio::task::block_in_place(|| clone::stage(from, &cache_dir(), revision)) {
        Ok(st) => {
            s.done_with(&st.commit[..7.min(st.commit.len())]);
            Ok(st)
        }
        Err(e) => {
            s.fail();
            Err(Error::Other(e.to_string()))
        }
    }
}

/// The revision to deploy from a local repository, pinned: "restore another commit" means
/// that commit, even for a short id or a branch that moves. `HEAD` stays `HEAD`. A branch that
/// exists only as `origin/<name>` (a clone) resolves too. A remote repository keeps `rev` as
/// written: Argo CD resolves it there.
fn pin_revision(lab: &Lab, rev: &str) -> Result<String> {
    if crate::argocd::seed::is_remote(&lab.gitops.repo) || rev == "HEAD" {
        return Ok(rev.to_string());
    }
    let dir = bootstrap::lab_dir(lab).join(&lab.gitops.repo);
    let repo = git::open(&dir).map_err(|e| Error::Config(format!("--revision {rev}: {e}")))?;
    git::resolve_or_remote(&repo, rev).map_err(|e| Error::Config(format!("revision {rev}: {e}")))
}

/// A lab that exists in Docker is not restored: say so, change nothing.
async fn exists_already(engine: &BollardEngine, name: &str, ui: &Ui) -> Result<bool> {
    let Some(lab) = inventory::status(engine, name).await? else {
        return Ok(false);
    };
    ui.line(&format!(
        "lab {name} exists ({}); restore changed nothing\n  hint: `playground resume {name}` starts a suspended lab, `playground up` converges one, `playground drop {name}` throws it away",
        lab.state.as_str()
    ));
    Ok(true)
}

/// The lab name in ./playground.yaml, when there is one.
fn name_in_default_file() -> Result<Option<String>> {
    let path = Path::new(DEFAULT_FILE);
    if !path.exists() {
        return Ok(None);
    }
    config::load(path)
        .map(|lab| Some(lab.name))
        .map_err(|e| Error::Config(e.to_string()))
}

/// NAME, else the name in ./playground.yaml, else the only dropped lab on record.
fn restore_name(name: Option<String>) -> Result<String> {
    if let Some(n) = name {
        // It names a folder in the data dir: only a lab name may.
        config::validate_name(&n).map_err(|e| Error::Config(format!("{n:?}: {e}")))?;
        return Ok(n);
    }
    if let Some(n) = name_in_default_file()? {
        return Ok(n);
    }
    let dropped: Vec<String> = record::list()
        .into_iter()
        .flatten()
        .filter(|r| r.times.dropped.is_some())
        .map(|r| r.name)
        .collect();
    match dropped.as_slice() {
        [only] => Ok(only.clone()),
        [] => Err(Error::Other(
            "no dropped lab on record\n  hint: `playground restore --from GIT_URL_OR_PATH` restores a lab from its repository".into(),
        )),
        many => Err(Error::Other(format!(
            "several dropped labs ({}); name one",
            many.join(", ")
        ))),
    }
}

/// Export the Secrets the lab's `keep.secrets` selects before it is `what` (dropped or
/// suspended). A lab whose API answers is read now; a stopped one relies on the export its
/// `suspend` made, if that was made in this life of the lab. Without `force`, a failed
/// export stops the command before anything changes.
async fn save_kept_secrets(
    engine: &BollardEngine,
    name: &str,
    force: bool,
    what: &str,
    ui: &Ui,
) -> Result<()> {
    // No Docker objects: no cluster to read, and an earlier export stays as it is.
    let Some(lab) = inventory::status(engine, name).await? else {
        return Ok(());
    };
    let result = async {
        let rec = record::read(name).map_err(|e| {
            Error::Other(format!(
                "cannot read the lab's record, so which Secrets it keeps is unknown: {e}"
            ))
        })?;
        let keep = match &rec {
            Some(r) => r.lab().map_err(|e| Error::Other(e.to_string()))?.keep,
            None => KeepSpec::default(),
        };
        if keep.secrets.is_empty() {
            return Ok(None);
        }
        let s = ui.step(format!("export the kept Secrets of {name}"));
        let exported = async {
            let api = if lab.state == inventory::LabState::Running
                || lab.state == inventory::LabState::Partial
            {
                lab_api(engine, &lab).await.ok()
            } else {
                None
            };
            let Some(api) = api else {
                return earlier_export(name, lab.state, rec.as_ref());
            };
            let exported = kept::export(api.client(), &keep)
                .await
                .map_err(|e| Error::Other(e.to_string()))?;
            for m in &exported.missing {
                ui.warn(&format!("kept Secret {m} does not exist; nothing to keep"));
            }
            for sel in &exported.unmatched {
                ui.warn(&format!("kept Secrets {sel} match nothing"));
            }
            let previous = kept::load(name).map_err(|e| Error::Other(e.to_string()))?;
            let (secrets, carried) = kept::merge(previous, exported.secrets, &keep);
            for c in &carried {
                ui.warn(&format!(
                    "kept Secret {c} is no longer in the cluster; its earlier export is kept (delete it from {} to forget it)",
                    kept::path(name).display()
                ));
            }
            let path = kept::save(name, &secrets).map_err(|e| Error::Other(e.to_string()))?;
            Ok(format!("{} in {}", secrets.len(), path.display()))
        }
        .await;
        match &exported {
            Ok(detail) => s.done_with(detail),
            Err(_) => s.fail(),
        }
        exported.map(Some)
    }
    .await;
    match result {
        Ok(_) => Ok(()),
        Err(e) if force => {
            ui.warn(&format!(
                "the kept Secrets were not exported ({e}); going on because of --force"
            ));
            Ok(())
        }
        Err(e) => Err(Error::Other(format!(
            "cannot export the kept Secrets of lab {name}: {e}\n  nothing was {what}\n  hint: `playground resume {name}` if it is stopped, then try again; --force goes on and loses them"
        ))),
    }
}

/// A stopped lab's API cannot be read: the export its `suspend` made is the latest there is,
/// provided it was made in this life of the lab (not one left from before a restore).
fn earlier_export(
    name: &str,
    state: inventory::LabState,
    rec: Option<&record::LabRecord>,
) -> Result<String> {
    let path = kept::path(name);
    let made = std::fs::metadata(&path).and_then(|m| m.modified()).ok();
    let created = rec
        .and_then(|r| r.times.created.parse::<jiff::Timestamp>().ok())
        .map(std::time::SystemTime::from);
    match (made, created) {
        (Some(made), Some(created)) if made >= created => {
            Ok(format!("{} made when it was suspended", path.display()))
        }
        (Some(_), _) => Err(Error::Other(format!(
            "lab {name} is {} and its API cannot be read; the only export ({}) is older than this lab",
            state.as_str(),
            path.display()
        ))),
        (None, _) => Err(Error::Other(format!(
            "lab {name} is {} and its API cannot be read; there is no export of its kept Secrets",
            state.as_str()
        ))),
    }
}

fn report_up(args: &RunArgs, outcome: &up::UpOutcome, apps: &[AppState], lab: &Lab, ui: &Ui) {
    match args.output {
        Output::Json | Output::Yaml => {
            let mut v = serde_json::to_value(outcome).unwrap_or_default();
            if !args.cluster_only {
                v["apps"] = serde_json::to_value(apps).unwrap_or_default();
                v["ui"] = serde_json::json!(format!("http://127.0.0.1:{}", lab.argocd.ui.port));
            }
            if let Err(e) = emit(args.output, &v, String::new) {
                ui.warn(&e.to_string());
            }
        }
        Output::Table => {
            ui.line(&format!(
                "lab {} is ready: {} nodes, API {}, kube context {}",
                outcome.name,
                outcome.nodes.len(),
                outcome.api,
                outcome.context
            ));
            if !args.cluster_only {
                ui.line(&format!(
                    "{} app(s) Synced and Healthy. Argo CD UI: http://127.0.0.1:{} (user admin; password: `playground password {}`)",
                    apps.len(),
                    lab.argocd.ui.port,
                    lab.name
                ));
            }
        }
    }
}

/// `up --context`: the same bootstrap into an existing cluster, without Docker.
async fn up_in_context(
    context: &str,
    lab: &Lab,
    prepared: Option<&bootstrap::Prepared>,
    args: &RunArgs,
    ui: &Ui,
    deadline: tokio::time::Instant,
) -> Result<()> {
    let prepared = prepared.ok_or_else(|| {
        Error::Config(
            "--context bootstraps GitOps; it cannot be combined with --cluster-only".into(),
        )
    })?;
    if prepared.repo_mount().is_some() {
        return Err(Error::Config(format!(
            "--context {context}: gitops.repo is a local repository, which only a playground cluster can mount\n  hint: push the repository and set gitops.repo to its https:// or ssh URL"
        )));
    }
    let kc = ::kube::config::Kubeconfig::read().map_err(|e| Error::Kubeconfig(e.to_string()))?;
    if !kc.contexts.iter().any(|c| c.name == context) {
        return Err(Error::Config(format!(
            "no context {context:?} in the kubeconfig\n  hint: `kubectl config get-contexts` lists them"
        )));
    }
    let api = KubeApi::from_kubeconfig(kc, Some(context.to_string())).await?;
    if args.dry_run {
        println!(
            "would install Argo CD {} into {} of context {context}, and seed root from {}",
            lab.argocd.version, lab.argocd.namespace, lab.gitops.repo
        );
        return Ok(());
    }
    let _guard = crate::interrupt::guard();
    let apps = until_interrupted(
        bootstrap::bootstrap(&api, prepared, ui, deadline),
        &format!("`playground up --context {context}` again finishes the bootstrap"),
        ui,
    )
    .await?;
    emit(
        args.output,
        &serde_json::json!({"name": lab.name, "context": context, "apps": apps}),
        || {
            format!(
                "context {context}: {} app(s) Synced and Healthy\n",
                apps.len()
            )
        },
    )
}

/// A command's one-line outcome: said on stderr for people (`table`), or the document on
/// stdout for scripts.
fn result<T: serde::Serialize>(output: Output, ui: &Ui, value: &T, line: String) -> Result<()> {
    match output {
        Output::Table => {
            ui.line(&line);
            Ok(())
        }
        _ => emit(output, value, String::new),
    }
}

/// Print a command's result on stdout: `table` is `table()`'s text, `json` and `yaml` the
/// serialized value. One place, so every command's document is whole or an error.
fn emit<T: serde::Serialize>(
    output: Output,
    value: &T,
    table: impl FnOnce() -> String,
) -> Result<()> {
    let text = match output {
        Output::Table => table(),
        Output::Json => {
            serde_json::to_string_pretty(value).map_err(|e| Error::Other(e.to_string()))? + "\n"
        }
        Output::Yaml => serde_saphyr::to_string(value).map_err(|e| Error::Other(e.to_string()))?,
    };
    print!("{text}");
    Ok(())
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
            Err(Error::Interrupted)
        }
    }
}

/// How long a command waits for another one acting on the same lab: longer than `up`'s own
/// default deadline, so a second `up` outlasts the first rather than giving up under it.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// Take the lab's lock for a command that changes it (see [`crate::state::lock`]); a second
/// command says whom it waits for, and waits.
fn lock_lab(name: &str, ui: &Ui) -> Result<crate::state::lock::LabLock> {
    tokio::task::block_in_place(|| {
        crate::state::lock::LabLock::acquire(name, LOCK_WAIT, |holder| {
            ui.warn(&format!(
                "lab {name} is busy: {holder} is acting on it; waiting until it is done"
            ))
        })
    })
    .map_err(|e| Error::Other(e.to_string()))
}

/// `up --watch`: refresh Argo CD whenever the local repo's HEAD (or the revision it follows)
/// moves, until Ctrl-C.
async fn watch_head(api: &KubeApi, prepared: &bootstrap::Prepared, ui: &Ui) -> Result<()> {
    let Some(root) = prepared.repo_mount() else {
        return Ok(());
    };
    ui.line(&format!(
        "watching {} for new commits (Ctrl-C to stop)",
        root.display()
    ));
    let mut last = prepared.expected.clone();
    loop {
        tokio::select! {
            _ = crate::interrupt::interrupted() => return Ok(()),
            _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
        }
        let now = git::open(&root)
            .and_then(|r| git::resolve(&r, &prepared.revision))
            .ok();
        if now.is_some() && now != last {
            let short: String = now.as_deref().unwrap_or_default().chars().take(7).collect();
            refresh::refresh(api, &prepared.namespace, None, false)
                .await
                .map_err(|e| Error::Other(e.to_string()))?;
            ui.line(&format!("new commit {short}: asked Argo CD to refresh"));
            last = now;
        }
    }
}

/// `init`: an existing empty directory (the shell may be sitting in it) is filled in place;
/// anything else goes through the sample writer, which builds the repo aside and renames it
/// into place so an interrupted `init` leaves nothing half-made.
fn init_lab(dir: &Path) -> Result<sample::SampleLab> {
    let is_empty_dir = std::fs::read_dir(dir).is_ok_and(|mut d| d.next().is_none());
    if !is_empty_dir {
        return sample::write_sample(dir).map_err(|e| Error::Other(e.to_string()));
    }
    for (rel, text) in sample::FILES {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            crate::fsutil::create_dir(parent, crate::fsutil::CACHE_DIR_MODE)
                .map_err(|e| Error::Other(format!("{}: {e}", parent.display())))?;
        }
        crate::fsutil::write_file(&path, text.as_bytes(), 0o644)
            .map_err(|e| Error::Other(format!("{}: {e}", path.display())))?;
    }
    let commit = git::init_with_commit(dir, sample::COMMIT_MESSAGE, None)
        .map_err(|e| Error::Other(e.to_string()))?;
    Ok(sample::SampleLab {
        dir: dir.to_path_buf(),
        lab_file: dir.join(sample::LAB_FILE),
        commit,
        created: true,
    })
}

/// Where downloads are cached (the Argo CD manifest).
fn cache_dir() -> PathBuf {
    dirs::cache_dir().unwrap_or_else(std::env::temp_dir)
}

/// `argocd`: the lab's own Argo CD CLI, logged in as admin, with ARGS verbatim (see
/// [`crate::argocd::cli`] for the flow and where the secrets go).
async fn cmd_argocd(name: Option<String>, args: Vec<String>, ui: &Ui) -> Result<()> {
    use crate::argocd::cli::{self as argocd, ArgoCliError};
    use crate::argocd::download::{self, Platform};
    use tokio::task::block_in_place;

    let engine = BollardEngine::connect().await?;
    let name = resolve_name(&engine, name).await?;
    let lab = match find_lab(&engine, &name).await {
        // `playground argocd version`: the word was meant for argocd, not as a lab name.
        Err(Error::NotFound(word)) if args.is_empty() => {
            return Err(Error::Config(format!(
                "no lab named {word}\n  hint: arguments for argocd go after `--`: `playground argocd -- {word}`"
            )));
        }
        found => found?,
    };
    let target = argocd::Target::of(&lab)?;
    let platform = Platform::host().map_err(ArgoCliError::from)?;
    let api = lab_api(&engine, &lab).await?;
    argocd::require_installed(api.client(), &target).await?;
    let http = argocd::UreqHttp::new();
    let version = block_in_place(|| argocd::server_version(&http, &target))?;
    let cache = cache_dir();
    let cli = match download::cached(&cache, &version, platform) {
        Some(path) => {
            download::check_trusted(&cache, &path).map_err(ArgoCliError::from)?;
            path
        }
        None => {
            let step = ui.step(format!(
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
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
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

/// NAME, else the name in ./playground.yaml, else the only lab, else the default name.
async fn resolve_name(engine: &BollardEngine, name: Option<String>) -> Result<String> {
    if let Some(n) = name {
        return Ok(n);
    }
    if let Some(n) = name_in_default_file()? {
        return Ok(n);
    }
    let labs = inventory::list(engine).await?;
    match labs.as_slice() {
        [only] => Ok(only.name.clone()),
        [] => Ok(config::DEFAULT_LAB_NAME.to_string()),
        many => Err(Error::Other(format!(
            "several labs exist ({}); name one",
            many.iter()
                .map(|l| l.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

fn confirm(question: &str) -> Result<bool> {
    eprint!("{question} [y/N] ");
    std::io::stderr().flush().ok();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| Error::Other(e.to_string()))?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

//! Commands: turn parsed CLI arguments into core types and run them.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

use crate::cli::{CacheCommand, Cli, Command, ImageCommand, Output, Pull, UpArgs};
use crate::cluster::{cache, import, inventory, lifecycle, plan::PullPolicy, up};
use crate::config::{self, Lab, MAX_AGENTS, MAX_SERVERS};
use crate::docker::BollardEngine;
use crate::error::{Error, Result};
use crate::gitops::apps::AppState;
use crate::gitops::{bootstrap, git, refresh, sample};
use crate::kube::api::KubeApi;
use crate::kube::kubeconfig;
use crate::ui::Ui;

/// The file `up` reads when no `-f` is given.
pub const DEFAULT_FILE: &str = "playground.yaml";

/// Run one command to completion.
pub async fn run(cli: Cli, ui: &Ui) -> Result<()> {
    match cli.command {
        Command::Up(args) => cmd_up(args, ui).await,
        Command::Suspend { name, pause } => {
            let engine = BollardEngine::connect().await?;
            let name = resolve_name(&engine, name).await?;
            lifecycle::suspend(&engine, &name, pause, ui).await?;
            ui.line(&format!(
                "lab {name} {}",
                if pause { "paused" } else { "suspended" }
            ));
            Ok(())
        }
        Command::Resume { name, timeout } => {
            let engine = BollardEngine::connect().await?;
            let name = resolve_name(&engine, name).await?;
            let nodes = lifecycle::resume(&engine, &name, timeout, ui).await?;
            ui.line(&format!(
                "lab {name} is running ({} nodes Ready)",
                nodes.iter().filter(|n| n.ready).count()
            ));
            Ok(())
        }
        Command::Drop { name, yes } => {
            let engine = BollardEngine::connect().await?;
            let name = resolve_name(&engine, name).await?;
            if !yes
                && std::io::stdin().is_terminal()
                && !confirm(&format!("Drop lab {name} and everything in it?"))?
            {
                return Err(Error::Other("not dropped".into()));
            }
            let s = ui.step(format!("remove the Docker objects of {name}"));
            let removed = lifecycle::remove_objects(&engine, &name).await?;
            s.done_with(&format!("{removed} removed"));
            let path = kubeconfig_path()?;
            kubeconfig::remove(&path, &name).map_err(|e| Error::Kubeconfig(e.to_string()))?;
            ui.line(&format!("lab {name} dropped"));
            Ok(())
        }
        Command::List { output } => {
            let engine = BollardEngine::connect().await?;
            let labs = inventory::list(&engine).await?;
            match output {
                Output::Json => println!(
                    "{}",
                    serde_json::to_string_pretty(&labs).unwrap_or_default()
                ),
                Output::Table if labs.is_empty() => {
                    eprintln!("no labs; `playground up` creates one")
                }
                Output::Table => print!("{}", inventory::render_table(&labs)),
            }
            Ok(())
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
                Output::Json => {
                    let mut v = serde_json::to_value(&lab).unwrap_or_default();
                    if let Some(tree) = &tree {
                        v["apps"] = tree.to_json();
                    }
                    println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default())
                }
                Output::Table => {
                    print!("{}", inventory::render_table(std::slice::from_ref(&lab)));
                    println!();
                    println!("{:<36} {:<13} STATE", "NODE", "ROLE");
                    for n in &lab.nodes {
                        println!("{:<36} {:<13} {}", n.name, n.role, n.state.as_str());
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
                crate::gitops::access::admin_password(api.client(), &namespace, deadline)
                    .await
                    .map_err(|e| Error::Other(e.to_string()))?;
            println!("{password}");
            Ok(())
        }
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
        Command::Validate { file } => {
            let path = file.unwrap_or_else(|| PathBuf::from(DEFAULT_FILE));
            match crate::gitops::validate::validate(&path) {
                Ok(report) => {
                    for w in &report.warnings {
                        ui.warn(&w.to_string());
                    }
                    if let Some(why) = &report.skipped {
                        ui.line(&format!("note: {why}"));
                    }
                    println!(
                        "{}: valid ({} file(s), {} Application(s), {} AppProject(s))",
                        path.display(),
                        report.files.len(),
                        report.applications.len(),
                        report.projects.len()
                    );
                    Ok(())
                }
                Err(errors) => {
                    for e in &errors {
                        eprintln!("{e}");
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
    }
}

/// The lab's Applications as a tree, with the last commit per app path for a local repo.
/// `None` when Argo CD is not there (a `--cluster-only` lab) or the API does not answer.
async fn app_tree(
    engine: &BollardEngine,
    lab: &inventory::LabSummary,
) -> Option<crate::gitops::status::AppTree> {
    let api = lab_api(engine, lab).await.ok()?;
    let namespace = lab.argocd_namespace();
    let apps = crate::gitops::apps::list_apps(&api, &namespace)
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
    Some(crate::gitops::status::build_tree(
        &namespace,
        apps,
        crate::gitops::seed::ROOT_APP,
        &lookup,
    ))
}

/// `cache status` and `cache prune`.
async fn cmd_cache(command: CacheCommand, ui: &Ui) -> Result<()> {
    let engine = BollardEngine::connect().await?;
    let settings = cache::CacheSettings::from_env();
    let caches = cache::status(&engine, &settings).await?;
    match command {
        CacheCommand::Status { output } => {
            match output {
                Output::Json => println!(
                    "{}",
                    serde_json::to_string_pretty(&caches).unwrap_or_default()
                ),
                Output::Table => print!("{}", cache::render_table(&caches)),
            }
            Ok(())
        }
        CacheCommand::Prune { yes } => {
            let mut labs: Vec<&str> = caches
                .iter()
                .flat_map(|c| c.labs.iter().map(String::as_str))
                .collect();
            labs.sort_unstable();
            labs.dedup();
            let question = if labs.is_empty() {
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
    up::fetch_kubeconfig(engine, &lab.name, api, deadline).await
}

/// A client for a lab's API, with the credentials k3s wrote in server-0.
async fn lab_api(engine: &BollardEngine, lab: &inventory::LabSummary) -> Result<KubeApi> {
    Ok(KubeApi::from_kubeconfig_yaml(&lab_kubeconfig(engine, lab).await?).await?)
}

/// The kubeconfig file we merge into: the first of `$KUBECONFIG`, else `~/.kube/config`.
pub fn kubeconfig_path() -> Result<PathBuf> {
    kubeconfig::target_path_from_env().map_err(|e| Error::Kubeconfig(e.to_string()))
}

fn load_lab(args: &UpArgs) -> Result<Lab> {
    let mut lab = match &args.file {
        Some(f) => config::load(f).map_err(|e| Error::Config(e.to_string()))?,
        None if Path::new(DEFAULT_FILE).exists() => {
            config::load(Path::new(DEFAULT_FILE)).map_err(|e| Error::Config(e.to_string()))?
        }
        // No file: the sample lab built into the binary, written once as a Git repo.
        None => {
            let dir = sample::default_dir();
            let written = sample::write_sample(&dir).map_err(|e| Error::Other(e.to_string()))?;
            config::load(&written.lab_file).map_err(|e| Error::Config(e.to_string()))?
        }
    };
    // Flags override the file; each is validated as the file's value would be.
    if let Some(n) = &args.name {
        config::validate_name(n).map_err(|e| Error::Config(format!("--name {n:?}: {e}")))?;
        lab.name = n.clone();
    }
    if let Some(s) = args.servers {
        if !(1..=MAX_SERVERS).contains(&s) {
            return Err(Error::Config(format!(
                "--servers {s}: expected 1 to {MAX_SERVERS}"
            )));
        }
        lab.cluster.servers = s;
    }
    if let Some(a) = args.agents {
        if a > MAX_AGENTS {
            return Err(Error::Config(format!(
                "--agents {a}: expected 0 to {MAX_AGENTS}"
            )));
        }
        lab.cluster.agents = a;
    }
    if let Some(i) = &args.image {
        lab.cluster.image = i.clone();
    }
    if let Some(p) = args.api_port {
        if p == 0 {
            return Err(Error::Config("--api-port 0: expected 1 to 65535".into()));
        }
        lab.cluster.api.port = Some(p);
    }
    Ok(lab)
}

async fn cmd_up(args: UpArgs, ui: &Ui) -> Result<()> {
    let started = tokio::time::Instant::now();
    let deadline = started + args.timeout;
    // Validate everything before touching Docker or any cluster.
    let lab = load_lab(&args)?;
    let prepared = if args.cluster_only {
        None
    } else {
        // The manifest may be downloaded (blocking I/O): keep the runtime's other work going.
        Some(tokio::task::block_in_place(|| {
            bootstrap::prepare(&lab, &cache_dir(), !args.dry_run)
        })?)
    };
    for w in prepared.iter().flat_map(|p| p.warnings.iter()) {
        ui.warn(w);
    }
    if args.watch && prepared.as_ref().is_some_and(|p| p.repo_mount().is_none()) {
        return Err(Error::Config(
            "--watch follows a local repository's HEAD, but gitops.repo is a remote URL\n  hint: run `playground refresh` after you push".into(),
        ));
    }

    if let Some(context) = &args.context {
        return up_in_context(context, &lab, prepared.as_ref(), &args, ui, deadline).await;
    }

    // The mount follows the lab file, not --cluster-only: a mount cannot be added later.
    let repo_mount = match &prepared {
        Some(p) => p.repo_mount(),
        None if !crate::gitops::seed::is_remote(&lab.gitops.repo) => {
            let dir = bootstrap::lab_dir(&lab).join(&lab.gitops.repo);
            git::open(&dir)
                .ok()
                .and_then(|r| std::fs::canonicalize(r.root()).ok())
        }
        None => None,
    };
    let engine = BollardEngine::connect().await?;
    let opts = up::UpOptions {
        pull: match args.pull {
            Pull::Missing => PullPolicy::Missing,
            Pull::Always => PullPolicy::Always,
            Pull::Never => PullPolicy::Never,
        },
        timeout: args.timeout,
        switch_context: !args.no_switch_context,
        dry_run: args.dry_run,
        keep_on_failure: args.keep_on_failure,
        kubeconfig: kubeconfig_path()?,
        repo_mount,
        ui_port: Some(lab.argocd.ui.port),
    };
    let outcome = up::up(&engine, &lab, &opts, ui).await?;
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
    let apps = match &prepared {
        None => Vec::new(),
        Some(prepared) => {
            // The cluster is whole at this point; a GitOps failure leaves it for the next
            // `up` to converge (every step below is idempotent) instead of removing it.
            let text = match &outcome.kubeconfig {
                Some(text) => text.clone(),
                None => up::fetch_kubeconfig(&engine, &lab.name, &outcome.api, deadline).await?,
            };
            let api = KubeApi::from_kubeconfig_yaml(&text).await?;
            let apps = bootstrap::bootstrap(&api, prepared, ui, deadline).await?;
            if args.watch {
                report_up(&args, &outcome, &apps, &lab, ui);
                return watch_head(&api, prepared, ui).await;
            }
            apps
        }
    };
    report_up(&args, &outcome, &apps, &lab, ui);
    Ok(())
}

fn report_up(args: &UpArgs, outcome: &up::UpOutcome, apps: &[AppState], lab: &Lab, ui: &Ui) {
    match args.output {
        Output::Json => {
            let mut v = serde_json::to_value(outcome).unwrap_or_default();
            if !args.cluster_only {
                v["apps"] = serde_json::to_value(apps).unwrap_or_default();
                v["ui"] = serde_json::json!(format!("http://127.0.0.1:{}", lab.argocd.ui.port));
            }
            println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
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
    args: &UpArgs,
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
    let apps = bootstrap::bootstrap(&api, prepared, ui, deadline).await?;
    match args.output {
        Output::Json => println!(
            "{}",
            serde_json::to_string_pretty(
                &serde_json::json!({"name": lab.name, "context": context, "apps": apps})
            )
            .unwrap_or_default()
        ),
        Output::Table => ui.line(&format!(
            "context {context}: {} app(s) Synced and Healthy",
            apps.len()
        )),
    }
    Ok(())
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
            _ = tokio::signal::ctrl_c() => return Ok(()),
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
            std::fs::create_dir_all(parent)
                .map_err(|e| Error::Other(format!("{}: {e}", parent.display())))?;
        }
        std::fs::write(&path, text)
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

/// NAME, else the name in ./playground.yaml, else the only lab, else the default name.
async fn resolve_name(engine: &BollardEngine, name: Option<String>) -> Result<String> {
    if let Some(n) = name {
        return Ok(n);
    }
    if Path::new(DEFAULT_FILE).exists() {
        return Ok(config::load(Path::new(DEFAULT_FILE))
            .map_err(|e| Error::Config(e.to_string()))?
            .name);
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

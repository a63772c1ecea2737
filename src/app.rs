//! Commands: turn parsed CLI arguments into core types and run them.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

use crate::cli::{Cli, Command, Output, Pull, UpArgs};
use crate::cluster::{inventory, lifecycle, plan::PullPolicy, up};
use crate::config::{self, Lab, MAX_AGENTS, MAX_SERVERS};
use crate::docker::BollardEngine;
use crate::error::{Error, Result};
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
            let lab = inventory::status(&engine, &name)
                .await?
                .ok_or_else(|| Error::NotFound(name.clone()))?;
            match output {
                Output::Json => {
                    println!("{}", serde_json::to_string_pretty(&lab).unwrap_or_default())
                }
                Output::Table => {
                    print!("{}", inventory::render_table(std::slice::from_ref(&lab)));
                    println!();
                    println!("{:<36} {:<13} STATE", "NODE", "ROLE");
                    for n in &lab.nodes {
                        println!("{:<36} {:<13} {}", n.name, n.role, n.state.as_str());
                    }
                }
            }
            Ok(())
        }
        Command::Password { name } => {
            let engine = BollardEngine::connect().await?;
            let name = resolve_name(&engine, name).await?;
            let (api, summary) = lab_api(&engine, &name).await?;
            let namespace = summary.argocd_namespace.unwrap_or_else(|| config::DEFAULT_ARGOCD_NAMESPACE.to_string());
            let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
            let password = crate::gitops::access::admin_password(api.client(), &namespace, deadline)
                .await
                .map_err(|e| Error::Other(e.to_string()))?;
            println!("{password}");
            Ok(())
        }
        Command::Refresh { .. } | Command::Validate { .. } => Err(Error::Other("not wired yet".into())),
        Command::Kubeconfig { name } => {
            let engine = BollardEngine::connect().await?;
            let name = resolve_name(&engine, name).await?;
            let lab = inventory::status(&engine, &name)
                .await?
                .ok_or_else(|| Error::NotFound(name.clone()))?;
            let api = lab
                .api
                .ok_or_else(|| Error::Other(format!("lab {name} has no API address label")))?;
            let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
            let text = up::fetch_kubeconfig(&engine, &name, &api, deadline).await?;
            let source =
                kubeconfig::parse_source(&text).map_err(|e| Error::Kubeconfig(e.to_string()))?;
            let out = kubeconfig::render_standalone(&name, &source)
                .map_err(|e| Error::Kubeconfig(e.to_string()))?;
            print!("{out}");
            Ok(())
        }
    }
}

/// A client for a lab's API, with the credentials k3s wrote in server-0.
async fn lab_api(engine: &BollardEngine, name: &str) -> Result<(crate::kube::api::KubeApi, inventory::LabSummary)> {
    let lab = inventory::status(engine, name).await?.ok_or_else(|| Error::NotFound(name.to_string()))?;
    let api = lab.api.clone().ok_or_else(|| Error::Other(format!("lab {name} has no API address label")))?;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    let text = up::fetch_kubeconfig(engine, name, &api, deadline).await?;
    Ok((crate::kube::api::KubeApi::from_kubeconfig_yaml(&text).await?, lab))
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
        None => config::default_lab(),
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
    // Validate everything before touching Docker.
    let lab = load_lab(&args)?;
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
        repo_mount: None,
        ui_port: None,
    };
    let outcome = up::up(&engine, &lab, &opts, ui).await?;
    if let Some(plan) = &outcome.dry_run {
        println!("plan for lab {} (nothing was changed):", lab.name);
        print!("{plan}");
        return Ok(());
    }
    if !args.cluster_only {
        ui.warn("the GitOps bootstrap (Argo CD, app of apps) is not part of this build yet; the cluster is ready");
    }
    match args.output {
        Output::Json => println!(
            "{}",
            serde_json::to_string_pretty(&outcome).unwrap_or_default()
        ),
        Output::Table => {
            ui.line(&format!(
                "lab {} is ready: {} nodes, API {}, kube context {}",
                outcome.name,
                outcome.nodes.len(),
                outcome.api,
                outcome.context
            ));
        }
    }
    Ok(())
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

//! The executor of `up`: observe Docker, plan, run the plan phase by phase.
//!
//! `up` is idempotent: on an existing lab the plan only holds what is missing or stopped.
//! A *fresh* lab that fails (or is interrupted with Ctrl-C) is rolled back, so no half-made
//! cluster is left unless `--keep-on-failure` asks for one. An existing lab is never removed
//! by a failed `up`: the next `up` converges it.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr, TcpListener, UdpSocket};
use std::sync::Mutex;
use std::time::Duration;

use futures::future::try_join_all;
use rand::Rng;
use rand::distr::Alphanumeric;
use tokio::time::Instant;

use crate::config::{Lab, Role};
use crate::docker::{Engine, EngineError, PortBinding, PullProgress};
use crate::kube::api::{KubeApi, NodeReady};
use crate::kube::kubeconfig;
use crate::ui::Ui;

use super::cache::{self, CacheSettings};
use super::error::{ClusterError as Error, Result};
use super::lifecycle;
use super::names;
use super::node_kubeconfig::fetch_kubeconfig;
use super::plan::{self, Inputs, Observed, Plan, PullPolicy, Step};
use super::readiness;
use super::registry::{self, RegistrySettings};

/// How `up` runs.
#[derive(Debug, Clone)]
pub struct UpOptions {
    pub pull: PullPolicy,
    /// One deadline for the whole `up`.
    pub timeout: Duration,
    /// Make the lab's context the current one.
    pub switch_context: bool,
    /// Print the plan and stop.
    pub dry_run: bool,
    /// Leave a failed fresh lab in place for debugging.
    pub keep_on_failure: bool,
    /// The kubeconfig file to merge into.
    pub kubeconfig: std::path::PathBuf,
    /// A local repository to mount into the nodes (see [`plan::Inputs::repo_mount`]).
    pub repo_mount: Option<std::path::PathBuf>,
    /// The Argo CD UI's host port (see [`plan::Inputs::ui_port`]).
    pub ui_port: Option<u16>,
    /// How many nodes must be Ready before `up` returns: every one (`None`), or fewer when the
    /// caller waits for the rest itself, alongside other work ([`wait_every_node`]): Argo CD
    /// needs only the API and one schedulable node to be applied.
    pub ready_nodes: Option<u32>,
}

/// What `up` made.
#[derive(Debug, Clone, serde::Serialize)]
pub struct UpOutcome {
    pub name: String,
    pub api: String,
    pub context: String,
    pub nodes: Vec<NodeReady>,
    /// The lab's kubeconfig (k3s's, pointed at the host port), read once during `up` so the
    /// GitOps half does not read it out of the node again. Holds credentials: never printed.
    #[serde(skip)]
    pub kubeconfig: Option<String>,
    /// The plan, when `--dry-run` stopped before executing it.
    #[serde(skip)]
    pub dry_run: Option<Plan>,
}

/// Gather what Docker has of this lab.
pub async fn observe<E: Engine>(engine: &E, lab: &Lab) -> Result<Observed> {
    let listed = engine
        .list_containers(&[(names::LABEL_CLUSTER, &lab.name)])
        .await?;
    // A listing carries no environment: inspect each node, so the join token (`K3S_TOKEN`) of
    // an existing lab is found and a node recreated next to it joins with the same token.
    let inspected = try_join_all(listed.iter().map(|c| engine.inspect_container(&c.name))).await?;
    let containers: Vec<_> = listed
        .into_iter()
        .zip(inspected)
        .map(|(listed, inspected)| inspected.unwrap_or(listed))
        .collect();
    let mut foreign = Vec::new();
    let wanted = (0..lab.cluster.servers)
        .map(|i| names::node(&lab.name, Role::Server, i))
        .chain((0..lab.cluster.agents).map(|i| names::node(&lab.name, Role::Agent, i)))
        .chain((lab.cluster.servers > 1).then(|| names::node(&lab.name, Role::LoadBalancer, 0)));
    for name in wanted {
        if containers.iter().any(|c| c.name == name) {
            continue;
        }
        if let Some(c) = engine.inspect_container(&name).await?
            && c.labels.get(names::LABEL_CLUSTER) != Some(&lab.name)
        {
            foreign.push(name);
        }
    }
    // Two networks of the lab's name (two `up`s at once, before labs were locked) make Docker
    // refuse the name as ambiguous; say what happened and the way out instead.
    let net_name = names::network(&lab.name);
    let same_name = engine
        .list_networks(&[(names::LABEL_CLUSTER, &lab.name)])
        .await?
        .into_iter()
        .filter(|n| n.name == net_name)
        .count();
    if same_name > 1 {
        return Err(Error::AmbiguousNetwork {
            lab: lab.name.clone(),
            count: same_name,
            network: net_name,
        });
    }
    let network = engine.inspect_network(&net_name).await?;
    if let Some(n) = &network
        && n.labels.get(names::LABEL_CLUSTER) != Some(&lab.name)
    {
        return Err(Error::ForeignNetwork(n.name.clone()));
    }
    let mut images_present = std::collections::BTreeSet::new();
    let lb_image = plan::lb_image_from_env();
    for image in [lab.cluster.image.as_str(), lb_image.as_str()] {
        if engine.image_present(image).await? {
            images_present.insert(image.to_string());
        }
    }
    let mut caches = Vec::new();
    let mut cache_image_present = false;
    if lab.cluster.image_cache {
        let settings = CacheSettings::from_env();
        cache_image_present = engine.image_present(&settings.image).await?;
        for upstream in &cache::UPSTREAMS {
            if let Some(c) = engine
                .inspect_container(&settings.container(upstream))
                .await?
            {
                caches.push(c);
            }
        }
    }
    let mut registry = None;
    let mut registry_image_present = false;
    if lab.cluster.registry.is_some() {
        let settings = RegistrySettings::from_env();
        registry = engine.inspect_container(&settings.container()).await?;
        if registry.is_none() {
            registry_image_present = engine.image_present(&settings.image).await?;
        }
    }
    let volumes = engine
        .list_volumes(&[(names::LABEL_CLUSTER, &lab.name)])
        .await?
        .into_iter()
        .collect();
    Ok(Observed {
        volumes,
        containers,
        foreign,
        network_exists: network.is_some(),
        network_subnet: network.and_then(|n| n.subnet),
        used_subnets: engine.used_subnets().await?,
        images_present,
        caches,
        cache_image_present,
        registry,
        registry_image_present,
    })
}

/// The lab's existing servers and agents whose `registries.yaml` lacks the lab registry: made
/// before the lab file named one (or by a playground without it).
async fn nodes_without_registry<E: Engine>(
    engine: &E,
    lab: &Lab,
    observed: &Observed,
) -> Vec<String> {
    let Some(registry) = lab.cluster.registry else {
        return Vec::new();
    };
    let key = format!("\"localhost:{}\"", registry.port);
    let mut without = Vec::new();
    for c in observed.containers.iter().filter(|c| {
        matches!(
            c.labels.get(names::LABEL_ROLE).map(String::as_str),
            Some("server" | "agent")
        )
    }) {
        let has = matches!(
            engine.read_file(&c.name, cache::REGISTRIES_YAML).await,
            Ok(bytes) if String::from_utf8_lossy(&bytes).contains(&key)
        );
        if !has {
            without.push(c.name.clone());
        }
    }
    without.sort();
    without
}

fn choose_inputs(lab: &Lab, observed: &Observed, opts: &UpOptions) -> Result<Inputs> {
    // An existing lab keeps its port and token: its nodes and the user's kubeconfig use them.
    let api_port = observed
        .containers
        .iter()
        .find_map(|c| {
            c.labels
                .get(names::LABEL_API_PORT)
                .and_then(|p| p.parse().ok())
        })
        .or(lab.cluster.api.port);
    let api_port = match api_port {
        Some(p) => p,
        None => free_port(lab.cluster.api.host)?,
    };
    let token = observed
        .containers
        .iter()
        .filter(|c| c.labels.get(names::LABEL_ROLE).map(String::as_str) != Some("loadbalancer"))
        .flat_map(|c| c.env.iter())
        .find_map(|e| e.strip_prefix("K3S_TOKEN=").map(str::to_string))
        .unwrap_or_else(|| {
            rand::rng()
                .sample_iter(&Alphanumeric)
                .take(32)
                .map(char::from)
                .collect()
        });
    // Masked in every log line from here on, whoever prints it (bollard logs request bodies).
    crate::ui::redact::register(&token);
    for e in &lab.cluster.env {
        if crate::ui::redact::is_secret_name(&e.value.key) {
            crate::ui::redact::register(&e.value.value);
        }
    }
    Ok(Inputs {
        api_port,
        token,
        pull: opts.pull,
        subnet_seed: rand::rng().random_range(0..1024),
        repo_mount: opts.repo_mount.clone(),
        ui_port: opts.ui_port,
        cache: Some(CacheSettings::from_env()),
        lb_image: plan::lb_image_from_env(),
        registry: RegistrySettings::from_env(),
    })
}

/// A free TCP port on `host`. Another process may take it before our container binds it;
/// the port check right before creation narrows that window.
fn free_port(host: IpAddr) -> Result<u16> {
    TcpListener::bind(SocketAddr::new(host, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|source| Error::FreePort { host, source })
}

/// What a bind on the host port says about it.
#[derive(Debug, PartialEq, Eq)]
enum PortProbe {
    Free,
    InUse,
    /// This process may not bind it (a port below 1024 as a normal user), which says nothing
    /// about whether it is free: Docker binds it with its own privileges.
    Denied,
}

fn probe_port(p: &PortBinding) -> PortProbe {
    let addr = SocketAddr::new(p.host_ip, p.host_port);
    let bound = if p.protocol == "udp" {
        UdpSocket::bind(addr).map(drop)
    } else {
        TcpListener::bind(addr).map(drop)
    };
    classify(bound)
}

fn classify(bound: std::io::Result<()>) -> PortProbe {
    match bound {
        Ok(()) => PortProbe::Free,
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => PortProbe::Denied,
        Err(_) => PortProbe::InUse,
    }
}

/// Check the host ports a plan will bind. A port already published by one of the lab's own
/// containers is not in use by anyone else: a node whose start was still in flight when an
/// earlier `up` was killed holds it by now.
async fn check_ports<E: Engine>(
    engine: &E,
    lab: &Lab,
    ports: &[PortBinding],
    api_port: u16,
    ui: &Ui,
) -> Result<()> {
    let mut own: Option<Vec<PortBinding>> = None;
    for p in ports {
        match probe_port(p) {
            PortProbe::Free => {}
            PortProbe::Denied => ui.warn(&format!(
                "could not check {}:{}/{} (binding a port below 1024 needs privileges this process lacks); Docker will try to publish it",
                p.host_ip, p.host_port, p.protocol
            )),
            PortProbe::InUse => {
                if own.is_none() {
                    own = Some(
                        engine
                            .list_containers(&[(names::LABEL_CLUSTER, &lab.name)])
                            .await?
                            .into_iter()
                            .flat_map(|c| c.ports)
                            .collect(),
                    );
                }
                let ours = own.as_deref().unwrap_or_default().iter().any(|o| {
                    o.host_port == p.host_port
                        && o.protocol == p.protocol
                        && (o.host_ip == p.host_ip || o.host_ip.is_unspecified())
                });
                if !ours {
                    return Err(port_in_use(p, lab, api_port));
                }
            }
        }
    }
    Ok(())
}

fn port_in_use(p: &PortBinding, lab: &Lab, api_port: u16) -> Error {
    let addr = SocketAddr::new(p.host_ip, p.host_port);
    let registry = lab.cluster.registry.map(|r| r.port);
    Error::PortInUse {
        addr: addr.to_string(),
        port: p.host_port,
        proto: p.protocol,
        field: if p.container_port == 6443 && p.host_port == api_port {
            "cluster.api.port"
        } else if p.container_port == cache::REGISTRY_PORT && Some(p.host_port) == registry {
            "cluster.registry.port"
        } else {
            "cluster.ports"
        },
    }
}

/// The host ports this lab would bind that something else holds now: the check `up` makes
/// right before creating anything, run on its own (for `doctor`). Ports a running node of
/// the lab already holds are its own and not counted, as in `up`.
pub async fn busy_ports<E: Engine>(
    engine: &E,
    lab: &Lab,
) -> Result<(Vec<PortBinding>, Vec<Error>)> {
    let observed = observe(engine, lab).await?;
    let opts = UpOptions {
        pull: PullPolicy::Missing,
        timeout: Duration::ZERO,
        switch_context: false,
        dry_run: true,
        keep_on_failure: false,
        kubeconfig: Default::default(),
        repo_mount: None,
        ui_port: Some(lab.argocd.ui.port),
        ready_nodes: None,
    };
    let inputs = choose_inputs(lab, &observed, &opts)?;
    let plan = plan::plan_up(lab, &observed, &inputs)?;
    let ports: Vec<PortBinding> = plan
        .phases
        .iter()
        .flatten()
        .filter_map(|s| match s {
            Step::CheckPorts(p) => Some(p.clone()),
            _ => None,
        })
        .flatten()
        .collect();
    let busy = ports
        .iter()
        .filter(|p| probe_port(p) == PortProbe::InUse)
        .map(|p| port_in_use(p, lab, inputs.api_port))
        .collect();
    Ok((ports, busy))
}

/// Run `up` for a lab. Ctrl-C is handled here: a fresh lab is rolled back, an existing one is
/// left for the next `up` to converge.
pub async fn up<E: Engine>(engine: &E, lab: &Lab, opts: &UpOptions, ui: &Ui) -> Result<UpOutcome> {
    // Two labs created at once may choose the same free subnet; the loser re-plans with the
    // subnets as they are now. Nothing but the port check runs before the network exists.
    // Held from the start, so a Ctrl-C or SIGTERM at any point reaches our rollback instead of
    // ending the process halfway through a Docker call.
    let _guard = crate::interrupt::guard();
    let mut attempts = 0;
    loop {
        match up_once(engine, lab, opts, ui).await {
            Err(Error::SubnetTaken(subnet)) if attempts < 5 => {
                attempts += 1;
                tracing::debug!("subnet {subnet} was taken meanwhile; planning again");
            }
            other => return other,
        }
    }
}

async fn up_once<E: Engine>(engine: &E, lab: &Lab, opts: &UpOptions, ui: &Ui) -> Result<UpOutcome> {
    let observed = observe(engine, lab).await?;
    let inputs = choose_inputs(lab, &observed, opts)?;
    let plan = plan::plan_up(lab, &observed, &inputs)?;
    let without = nodes_without_registry(engine, lab, &observed).await;
    if !without.is_empty() {
        let port = lab.cluster.registry.map(|r| r.port).unwrap_or_default();
        ui.warn(&format!(
            "{} predate `cluster.registry` and do not pull from localhost:{port}: k3s reads {} only at start, and playground writes it only into new nodes\n  hint: `playground drop {}` then `playground up` makes every node with it (the registry and what was pushed stay)",
            without.join(", "),
            cache::REGISTRIES_YAML,
            lab.name
        ));
    }
    if opts.dry_run {
        return Ok(UpOutcome {
            name: lab.name.clone(),
            api: plan.api_url.clone(),
            context: names::context(&lab.name),
            nodes: Vec::new(),
            kubeconfig: None,
            dry_run: Some(plan),
        });
    }
    // The kubeconfig is written last: refuse a read-only one before the first create.
    kubeconfig::check_writable(&opts.kubeconfig)?;
    let deadline = Instant::now() + opts.timeout;
    // Ctrl-C is cooperative: a Docker call that creates something is allowed to finish (the
    // daemon would finish it anyway, after our rollback had looked), waits are cut short,
    // and no new step starts. Then the rollback sees everything there is.
    let (cancel_tx, cancel_rx) = tokio::sync::watch::channel(false);
    let run = execute(engine, lab, &plan, &inputs, opts, ui, deadline, cancel_rx);
    tokio::pin!(run);
    let result = tokio::select! {
        r = &mut run => r,
        _ = crate::interrupt::interrupted() => {
            let _ = cancel_tx.send(true);
            let _ = run.await;
            Err(Error::Interrupted)
        }
    };
    match result {
        Ok((nodes, kubeconfig)) => Ok(UpOutcome {
            name: lab.name.clone(),
            api: plan.api_url.clone(),
            context: names::context(&lab.name),
            nodes,
            kubeconfig,
            dry_run: None,
        }),
        Err(e @ Error::SubnetTaken(_)) => Err(e),
        Err(e) if plan.fresh && !opts.keep_on_failure => {
            ui.warn(&format!(
                "up failed; removing the partly created lab {} (use --keep-on-failure to keep it)",
                lab.name
            ));
            // A second Ctrl-C during rollback would leave objects behind: `drop` removes them.
            if let Err(re) = lifecycle::remove_objects(engine, &lab.name).await {
                ui.warn(&format!(
                    "rollback incomplete: {re}; run `playground drop {} --yes`",
                    lab.name
                ));
            }
            Err(e)
        }
        Err(e) => {
            if matches!(e, Error::Interrupted) {
                ui.warn(&format!("interrupted; `playground up` converges the lab, `playground drop {}` removes it", lab.name));
            }
            Err(e)
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn execute<E: Engine>(
    engine: &E,
    lab: &Lab,
    plan: &Plan,
    inputs: &Inputs,
    opts: &UpOptions,
    ui: &Ui,
    deadline: Instant,
    cancel: tokio::sync::watch::Receiver<bool>,
) -> Result<(Vec<NodeReady>, Option<String>)> {
    let kubeconfig_text: Mutex<Option<String>> = Mutex::new(None);
    let cache_off = CacheOff::default();
    let mut nodes = Vec::new();
    for phase in &plan.phases {
        if *cancel.borrow() {
            return Err(Error::Interrupted);
        }
        let results = try_join_all(phase.iter().map(|step| {
            run_step(
                engine,
                lab,
                step,
                inputs,
                opts,
                ui,
                deadline,
                &kubeconfig_text,
                &cache_off,
                cancel.clone(),
            )
        }))
        .await?;
        for r in results.into_iter().flatten() {
            nodes = r;
        }
    }
    Ok((nodes, kubeconfig_text.into_inner().unwrap()))
}

#[allow(clippy::too_many_arguments)]
async fn run_step<E: Engine>(
    engine: &E,
    lab: &Lab,
    step: &Step,
    inputs: &Inputs,
    opts: &UpOptions,
    ui: &Ui,
    deadline: Instant,
    kubeconfig_text: &Mutex<Option<String>>,
    cache_off: &CacheOff,
    mut cancel: tokio::sync::watch::Receiver<bool>,
) -> Result<Option<Vec<NodeReady>>> {
    // Only reads are cut short; see `up_once`.
    let cancelled = async move {
        let _ = cancel.wait_for(|c| *c).await;
    };
    tokio::pin!(cancelled);
    let s = ui.step(step.to_string());
    // Set by the optional cache steps when they are skipped or turn the cache off.
    let note: Mutex<Option<&'static str>> = Mutex::new(None);
    let result: Result<Option<Vec<NodeReady>>> = async {
        match step {
            Step::CheckPorts(ports) => check_ports(engine, lab, ports, inputs.api_port, ui).await?,
            Step::EnsureNetwork(spec) => match engine.ensure_network(spec).await {
                Ok(_) => {}
                Err(EngineError::Api { message, .. }) if message.contains("overlaps") => {
                    return Err(Error::SubnetTaken(spec.subnet.clone().unwrap_or_default()));
                }
                Err(e) => return Err(e.into()),
            },
            Step::EnsureVolume { name, labels } => engine.ensure_volume(name, labels).await?,
            Step::PullImage(image) => tokio::select! {
                r = pull(engine, image, ui) => r?,
                _ = &mut cancelled => return Err(Error::Interrupted),
            },
            Step::RequireImage(image) => {
                if !engine.image_present(image).await? {
                    return Err(EngineError::ImageMissing(image.clone()).into());
                }
            }
            Step::EnsureCacheImage { .. }
            | Step::EnsureCache(_)
            | Step::WriteMirrors { registry: None, .. }
                if cache_off.is_off() =>
            {
                *note.lock().unwrap() = Some("skipped: image cache off");
            }
            Step::EnsureCacheImage { image, pull: may_pull } => {
                // Even a failed look is no reason to fail the lab: then try to pull.
                let why = if matches!(engine.image_present(image).await, Ok(true)) {
                    None
                } else if !may_pull {
                    Some(format!("its image {image} is not local and --pull never was given"))
                } else {
                    let pulled = tokio::select! {
                        r = pull(engine, image, ui) => r,
                        _ = &mut cancelled => return Err(Error::Interrupted),
                    };
                    match pulled {
                        Ok(()) => None,
                        Err(Error::Engine(EngineError::Pull { message, .. })) => Some(format!(
                            "cannot pull its image {image}: {message}\n  hint: `docker pull {image}` when online, or set {} to a local image",
                            cache::ENV_IMAGE
                        )),
                        Err(e) => Some(format!("cannot pull its image {image}: {e}")),
                    }
                };
                if let Some(why) = why {
                    cache_off.turn_off(ui, &why);
                    *note.lock().unwrap() = Some("unavailable: image cache off");
                }
            }
            Step::EnsureCache(c) => {
                if let Err(e) = cache::ensure(engine, c).await {
                    cache_off.turn_off(ui, &format!("cache {}: {e}", c.spec.name));
                    *note.lock().unwrap() = Some("failed: image cache off");
                }
            }
            Step::EnsureRegistry(r) => registry::ensure(engine, r).await?,
            Step::WriteMirrors {
                nodes,
                cache: mirrors,
                registry,
            } => {
                // The caches' entries only while the cache is on; the registry's always.
                let mirrors = mirrors.as_ref().filter(|_| !cache_off.is_off());
                if mirrors.is_none() && registry.is_some() {
                    *note.lock().unwrap() = Some("lab registry only: image cache off");
                }
                let yaml = cache::registries_yaml(mirrors, registry.as_ref());
                let written = try_join_all(nodes.iter().map(|n| {
                    engine.write_file(n, cache::REGISTRIES_YAML, yaml.as_bytes(), 0o644)
                }))
                .await;
                match written {
                    Ok(_) => {}
                    // The lab asked for its registry: a node without it is a failure.
                    Err(e) if registry.is_some() => return Err(e.into()),
                    Err(e) => {
                        cache_off.turn_off(ui, &e.to_string());
                        *note.lock().unwrap() = Some("failed: image cache off");
                    }
                }
            }
            Step::CreateNode(n) => {
                engine.create_container(&n.spec).await?;
            }
            Step::StartNode(n) => {
                let since = readiness::start(engine, &n.spec.name).await?;
                // When the caller awaits every node itself (alongside Argo CD), an agent's
                // registration is not this phase's to wait for: the servers' are.
                if n.role == Role::Agent && opts.ready_nodes.is_some() {
                    *note.lock().unwrap() = Some("started; Ready is awaited with Argo CD");
                    return Ok(None);
                }
                tokio::select! {
                    r = readiness::wait_for_log(engine, &n.spec.name, n.ready_line, since, deadline) => r?,
                    _ = &mut cancelled => return Err(Error::Interrupted),
                }
            }
            Step::UnpauseNode(name) => engine.unpause(name).await?,
            Step::AttachNode(n) => {
                let running = engine
                    .inspect_container(&n.spec.name)
                    .await?
                    .is_some_and(|c| c.state == crate::docker::RunState::Running);
                engine
                    .connect_network(
                        &n.spec.network,
                        &n.spec.name,
                        n.spec.ip,
                        std::slice::from_ref(&n.spec.hostname),
                    )
                    .await?;
                if running {
                    engine.stop(&n.spec.name, lifecycle::STOP_GRACE).await?;
                    let since = readiness::start(engine, &n.spec.name).await?;
                    tokio::select! {
                        r = readiness::wait_for_log(engine, &n.spec.name, n.ready_line, since, deadline) => r?,
                        _ = &mut cancelled => return Err(Error::Interrupted),
                    }
                }
            }
            Step::ForgetNode(name) => {
                let text =
                    fetch_kubeconfig(engine, &lab.name, &plan_api_url(lab, inputs), deadline)
                        .await?;
                let api = KubeApi::from_kubeconfig_yaml(&text).await?;
                api.forget_node(name)
                    .await
                    .map_err(|source| Error::ForgetNode {
                        node: name.clone(),
                        source,
                    })?;
            }
            Step::WaitApi { nodes } => {
                let text =
                    fetch_kubeconfig(engine, &lab.name, &plan_api_url(lab, inputs), deadline)
                        .await?;
                let api = KubeApi::from_kubeconfig_yaml(&text).await?;
                let url = plan_api_url(lab, inputs);
                let report = |d: &str| s.set_detail(d);
                let want = opts.ready_nodes.map_or(*nodes, |n| n.clamp(1, *nodes));
                let ready = tokio::select! {
                    r = api.wait_ready(&url, want as usize, deadline, &report) => r?,
                    _ = &mut cancelled => return Err(Error::Interrupted),
                };
                lifecycle::ensure_host_record(engine, &api, &lab.name).await?;
                *kubeconfig_text.lock().unwrap() = Some(text);
                return Ok(Some(ready));
            }
            Step::WriteKubeconfig { .. } => {
                let text = kubeconfig_text.lock().unwrap().clone();
                let text = match text {
                    Some(t) => t,
                    None => {
                        fetch_kubeconfig(engine, &lab.name, &plan_api_url(lab, inputs), deadline)
                            .await?
                    }
                };
                let source = kubeconfig::parse_source(&text)?;
                kubeconfig::merge(&opts.kubeconfig, &lab.name, &source, opts.switch_context)?;
            }
            Step::PublishRegistry { port } => {
                let text = kubeconfig_text.lock().unwrap().clone();
                let text = match text {
                    Some(t) => t,
                    None => {
                        fetch_kubeconfig(engine, &lab.name, &plan_api_url(lab, inputs), deadline)
                            .await?
                    }
                };
                let api = KubeApi::from_kubeconfig_yaml(&text).await?;
                api.apply_configmap(&registry::hosting_configmap(*port))
                    .await
                    .map_err(|source| Error::PublishRegistry {
                        namespace: registry::HOSTING_NAMESPACE,
                        name: registry::HOSTING_NAME,
                        source,
                    })?;
            }
        }
        Ok(None)
    }
    .await;
    match (&result, note.into_inner().unwrap()) {
        (Ok(_), None) => s.done(),
        (Ok(_), Some(note)) => s.done_with(note),
        (Err(_), _) => s.fail(),
    }
    result
}

/// The image cache is optional: the first failure of a cache step turns it off for the rest of
/// the run, with one warning, and the lab goes on without it.
#[derive(Default)]
struct CacheOff(Mutex<bool>);

impl CacheOff {
    fn is_off(&self) -> bool {
        *self.0.lock().unwrap()
    }

    /// Turn the cache off; only the first reason is shown.
    fn turn_off(&self, ui: &Ui, why: &str) {
        let mut off = self.0.lock().unwrap();
        if !*off {
            *off = true;
            ui.warn(&format!(
                "the image cache is off for this run: {why}\n  the lab goes on without it: new nodes get no registry mirrors and pull from the upstream registries (`cluster.imageCache: false` stops trying)"
            ));
        }
    }
}

fn plan_api_url(lab: &Lab, inputs: &Inputs) -> String {
    format!(
        "https://{}:{}",
        crate::lab::client_host(lab.cluster.api.host),
        inputs.api_port
    )
}

/// Wait until every node of the lab is Ready, with a progress line: the rest of what
/// [`UpOptions::ready_nodes`] left out.
pub async fn wait_every_node(
    api: &KubeApi,
    lab: &Lab,
    url: &str,
    deadline: Instant,
    ui: &Ui,
) -> Result<Vec<NodeReady>> {
    let expected = (lab.cluster.servers + lab.cluster.agents) as usize;
    let s = ui.step(format!("wait for all {expected} node(s) Ready"));
    let r = api
        .wait_ready(url, expected, deadline, &|d| s.set_detail(d))
        .await;
    match &r {
        Ok(_) => s.done(),
        Err(_) => s.fail(),
    }
    Ok(r?)
}

async fn pull<E: Engine>(engine: &E, image: &str, ui: &Ui) -> Result<()> {
    let bars: Mutex<HashMap<String, indicatif::ProgressBar>> = Mutex::new(HashMap::new());
    let report = |p: PullProgress| {
        let (Some(layer), Some(total)) = (p.layer, p.total) else {
            return;
        };
        let mut bars = bars.lock().unwrap();
        let bar = bars
            .entry(layer.clone())
            .or_insert_with(|| ui.bar(layer.clone(), total));
        bar.set_length(total);
        bar.set_position(p.current.unwrap_or(0));
        bar.set_message(format!("{layer} {}", p.status));
    };
    let r = engine.pull_image(image, &report).await;
    for (_, bar) in bars.into_inner().unwrap() {
        bar.finish_and_clear();
    }
    Ok(r?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Error as IoError, ErrorKind};

    #[test]
    fn a_denied_probe_is_not_a_port_in_use() {
        assert_eq!(classify(Ok(())), PortProbe::Free);
        assert_eq!(
            classify(Err(IoError::from(ErrorKind::AddrInUse))),
            PortProbe::InUse
        );
        // EACCES: binding below 1024 without CAP_NET_BIND_SERVICE; Docker can.
        assert_eq!(
            classify(Err(IoError::from_raw_os_error(13))),
            PortProbe::Denied
        );
    }
}

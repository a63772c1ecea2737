//! The executor of `up`: observe Docker, plan, run the plan phase by phase.
//!
//! `up` is idempotent: on an existing lab the plan only holds what is missing or stopped, and
//! what differs from the lab file (nodes recreated, agents removed: see [`plan`]'s docs). A plan
//! that recreates or removes an existing node runs only with [`UpOptions::yes`]; without it `up`
//! stops before the first change with [`Error::Unconfirmed`], which carries the diff, so the
//! command can show it and ask.
//! A *fresh* lab that fails (or is interrupted with Ctrl-C) is rolled back, so no half-made
//! cluster is left unless `--keep-on-failure` asks for one. An existing lab is never removed
//! by a failed `up`: the next `up` converges it.

use std::collections::BTreeSet;
use std::future::Future;
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::time::Duration;

use futures::future::try_join_all;
use rand::Rng;
use rand::distr::Alphanumeric;
use tokio::time::Instant;

use crate::config::{Lab, Role};
use crate::docker::{Engine, PortBinding};
use crate::kube::api::{KubeApi, NodeReady};
use crate::kube::kubeconfig;
use crate::ui::Ui;

use super::cache::{self, CacheSettings};
use super::cluster_api::Connect;
use super::error::{ClusterError as Error, Result};
use super::executor::Executor;
pub(crate) use super::executor::Starting;
use super::k3s::registries;
use super::lifecycle;
use super::names;
use super::plan::{self, Inputs, Observed, Plan, PullPolicy, Step};
use super::ports::{PortProbe, denied_note, port_in_use, probe_port};
use super::registry::RegistrySettings;

/// How `up` runs.
#[derive(Debug, Clone)]
pub(crate) struct UpOptions {
    pub(crate) pull: PullPolicy,
    /// One deadline for the whole `up`.
    pub(crate) timeout: Duration,
    /// Make the lab's context the current one.
    pub(crate) switch_context: bool,
    /// Print the plan and stop.
    pub(crate) dry_run: bool,
    /// Apply a plan that recreates or removes existing nodes ([`Plan::changes_nodes`]);
    /// without it such a plan ends in [`Error::Unconfirmed`] before anything is done.
    pub(crate) yes: bool,
    /// Leave a failed fresh lab in place for debugging.
    pub(crate) keep_on_failure: bool,
    /// The kubeconfig file to merge into.
    pub(crate) kubeconfig: std::path::PathBuf,
    /// A local repository to mount into the nodes (see [`plan::Inputs::repo_mount`]).
    pub(crate) repo_mount: Option<std::path::PathBuf>,
    /// The Argo CD UI's host port (see [`plan::Inputs::ui_port`]).
    pub(crate) ui_port: Option<u16>,
    /// How many nodes must be Ready before `up` returns: every one (`None`), or fewer when the
    /// caller waits for the rest itself, alongside other work ([`wait_every_node`]): Argo CD
    /// needs only the API and one schedulable node to be applied.
    pub(crate) ready_nodes: Option<u32>,
}

/// What `up` made.
#[derive(Debug, serde::Serialize)]
pub(crate) struct UpOutcome {
    pub(crate) name: String,
    pub(crate) api: String,
    pub(crate) context: String,
    pub(crate) nodes: Vec<NodeReady>,
    /// The lab's kubeconfig (k3s's, pointed at the host port), read once during `up` so the
    /// GitOps half does not read it out of the node again. Holds credentials: never printed.
    #[serde(skip)]
    pub(crate) kubeconfig: Option<String>,
    /// Agents' starts still in flight: [`wait_every_node`] finishes them.
    #[serde(skip)]
    pub(crate) starting: Starting,
    /// The plan, when `--dry-run` stopped before executing it.
    #[serde(skip)]
    pub(crate) dry_run: Option<Plan>,
}

/// Gather what Docker has of this lab.
pub(crate) async fn observe<E: Engine>(engine: &E, lab: &Lab) -> Result<Observed> {
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
            && c.labels.get(names::LABEL_CLUSTER) != Some(&lab.name.to_string())
        {
            foreign.push(name);
        }
    }
    // Two networks of the lab's name make Docker refuse the name as ambiguous. With no node of
    // the lab left, they are leftovers (a command killed while its create was in flight, two
    // `up`s at once before labs were locked): the plan removes them all by ID and makes one.
    // With nodes on them, which one the nodes use is theirs to say: refuse, with the way out.
    let net_name = names::network(&lab.name);
    let same_name: Vec<String> = engine
        .list_networks(&[(names::LABEL_CLUSTER, &lab.name)])
        .await?
        .into_iter()
        .filter(|n| n.name == net_name)
        .map(|n| n.id)
        .collect();
    let mut leftover_networks = Vec::new();
    if same_name.len() > 1 {
        if !containers.is_empty() {
            return Err(Error::AmbiguousNetwork {
                lab: lab.name.to_string(),
                count: same_name.len(),
                network: net_name,
            });
        }
        leftover_networks = same_name;
    }
    let network = if leftover_networks.is_empty() {
        engine.inspect_network(&net_name).await?
    } else {
        None
    };
    if let Some(n) = &network
        && n.labels.get(names::LABEL_CLUSTER) != Some(&lab.name.to_string())
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
    let mut volumes: BTreeSet<String> = engine
        .list_volumes(&[(names::LABEL_CLUSTER, &lab.name)])
        .await?
        .into_iter()
        .collect();
    // The lab's image export, a cache object (not labelled with the lab), kept by `drop`.
    let settings = CacheSettings::from_env();
    let export = settings.export_volume(&lab.name);
    let exports = engine
        .list_volumes(&[
            (names::LABEL_CACHE_NAMESPACE, settings.namespace.as_str()),
            (names::LABEL_CACHE, cache::EXPORT_KIND),
        ])
        .await?;
    if exports.contains(&export) {
        volumes.insert(export);
    }
    Ok(Observed {
        volumes,
        containers,
        foreign,
        network_exists: network.is_some(),
        network_subnet: network.and_then(|n| n.subnet),
        leftover_networks,
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
    let key = format!("localhost:{}", registry.port);
    let mut without = Vec::new();
    for c in observed.containers.iter().filter(|c| {
        matches!(
            c.labels.get(names::LABEL_ROLE).map(String::as_str),
            Some("server" | "agent")
        )
    }) {
        let has = match engine.read_file(&c.name, registries::REGISTRIES_YAML).await {
            Ok(bytes) => registries::names_mirror(&String::from_utf8_lossy(&bytes), &key),
            Err(_) => false,
        };
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
    // Masked in every log line from here on, whoever prints it (the client logs request bodies).
    crate::ui::redact::register(&token);
    for e in &lab.cluster.env {
        if e.value.is_secret() {
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
        host_modules: plan::host_modules_from_env(),
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

/// The plan of `lab` as a new lab, made without Docker: what `up` refuses in the lab file
/// before it looks at the host (a host port bound twice, such as a `ports` entry on the Argo
/// CD UI's port), for `validate` to refuse as well. Nothing is registered or chosen: the
/// API port a lab leaves unset is found free at `up`, so it cannot collide here.
pub(crate) fn plan_offline(lab: &Lab) -> std::result::Result<(), plan::PlanError> {
    let inputs = Inputs {
        api_port: lab.cluster.api.port.unwrap_or(0),
        token: String::new(),
        pull: PullPolicy::Missing,
        subnet_seed: 0,
        repo_mount: None,
        ui_port: Some(lab.argocd.ui.port),
        cache: None,
        lb_image: plan::lb_image_from_env(),
        registry: RegistrySettings::default(),
        host_modules: None,
    };
    plan::plan_up(lab, &Observed::default(), &inputs).map(|_| ())
}

/// The host ports a lab would bind, as `up`'s check sees them now (see [`busy_ports`]).
#[derive(Debug, Default)]
pub(crate) struct PortReport {
    /// Every port the lab would bind.
    pub(crate) ports: Vec<PortBinding>,
    /// Those something else holds now.
    pub(crate) busy: Vec<Error>,
    /// Those this process may not bind to probe (below 1024 without privileges): unknown,
    /// and Docker will try them with its own.
    pub(crate) denied: Vec<PortBinding>,
}

impl PortReport {
    /// What `up` warns for each denied probe, in its words.
    pub(crate) fn denied_notes(&self) -> Vec<String> {
        self.denied.iter().map(denied_note).collect()
    }
}

/// The host ports this lab would bind, and which of them something else holds now: the check
/// `up` makes right before creating anything, run on its own (for `doctor`). Ports a running
/// node of the lab already holds are its own and not counted, as in `up`.
pub(crate) async fn busy_ports<E: Engine>(engine: &E, lab: &Lab) -> Result<PortReport> {
    let observed = observe(engine, lab).await?;
    let opts = UpOptions {
        pull: PullPolicy::Missing,
        timeout: Duration::ZERO,
        switch_context: false,
        dry_run: true,
        yes: false,
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
    let mut report = PortReport::default();
    for p in &ports {
        match probe_port(p) {
            PortProbe::Free => {}
            PortProbe::InUse => report.busy.push(port_in_use(p, lab, inputs.api_port)),
            PortProbe::Denied => report.denied.push(p.clone()),
        }
    }
    report.ports = ports;
    Ok(report)
}

/// Run `up` for a lab over any API connector (kube-rs for real, a fake in scenarios). An
/// interruption, whatever `interrupted` waits for (the process's signals from `ops`, a
/// channel in tests), is handled here: a fresh lab is rolled back, an existing one is left for
/// the next `up` to converge.
pub(crate) async fn up_with<E: Engine + Clone + 'static, C: Connect, F: Future<Output = ()>>(
    engine: &E,
    connect: &C,
    lab: &Lab,
    opts: &UpOptions,
    ui: &Ui,
    interrupted: impl Fn() -> F,
) -> Result<UpOutcome> {
    // Two labs created at once may choose the same free subnet; the loser re-plans with the
    // subnets as they are now. Nothing but the port check runs before the network exists.
    // Held from the start, so a Ctrl-C or SIGTERM at any point reaches our rollback instead of
    // ending the process halfway through a Docker call.
    let _guard = crate::interrupt::guard();
    let mut attempts = 0;
    loop {
        match up_once(engine, connect, lab, opts, ui, interrupted()).await {
            Err(Error::SubnetTaken(subnet)) if attempts < 5 => {
                attempts += 1;
                tracing::debug!("subnet {subnet} was taken meanwhile; planning again");
            }
            other => return other,
        }
    }
}

async fn up_once<E: Engine + Clone + 'static, C: Connect>(
    engine: &E,
    connect: &C,
    lab: &Lab,
    opts: &UpOptions,
    ui: &Ui,
    interrupted: impl Future<Output = ()>,
) -> Result<UpOutcome> {
    let observed = observe(engine, lab).await?;
    let inputs = choose_inputs(lab, &observed, opts)?;
    let plan = plan::plan_up(lab, &observed, &inputs)?;
    // The lab file's registry entries win; say what they turn off.
    for said in registries::overridden(
        inputs.cache.is_some() && lab.cluster.image_cache,
        lab.cluster.registry.map(|r| r.port),
        lab.cluster.registries.as_ref(),
    ) {
        ui.warn(&said);
    }
    let without = nodes_without_registry(engine, lab, &observed).await;
    if !without.is_empty() {
        let port = lab.cluster.registry.map(|r| r.port).unwrap_or_default();
        ui.warn(&format!(
            "{} predate `cluster.registry` and do not pull from localhost:{port}: k3s reads {} only at start, and playground writes it only into new nodes\n  hint: `playground drop {}` then `playground up` makes every node with it (the registry and what was pushed stay)",
            without.join(", "),
            registries::REGISTRIES_YAML,
            lab.name
        ));
    }
    if opts.dry_run {
        return Ok(UpOutcome {
            name: lab.name.to_string(),
            api: plan.api_url.clone(),
            context: names::context(&lab.name),
            nodes: Vec::new(),
            kubeconfig: None,
            starting: Starting::default(),
            dry_run: Some(plan),
        });
    }
    // Nothing existing is replaced or removed unless the caller said so (it showed the diff).
    if plan.changes_nodes() && !opts.yes {
        return Err(Error::Unconfirmed {
            lab: lab.name.to_string(),
            diff: plan.diff(),
        });
    }
    // The kubeconfig is written last: refuse a read-only one before the first create.
    kubeconfig::check_writable(&opts.kubeconfig)?;
    // The image export outlives `drop` (kept images), so it is not the lab's to remove: a
    // rollback removes it only when this `up` made it.
    let new_export = match &inputs.cache {
        Some(cache) if plan.fresh => {
            let name = cache.export_volume(&lab.name);
            let filter = [
                (names::LABEL_CACHE_NAMESPACE, cache.namespace.clone()),
                (names::LABEL_CACHE, cache::EXPORT_KIND.to_string()),
            ];
            let existing = engine
                .list_volumes(&filter.each_ref().map(|(k, v)| (*k, v.as_str())))
                .await?;
            (!existing.contains(&name)).then_some((name, filter))
        }
        _ => None,
    };
    // Ctrl-C is cooperative: a Docker call that creates something is allowed to finish (the
    // daemon would finish it anyway, after our rollback had looked), waits are cut short,
    // and no new step starts. Then the rollback sees everything there is.
    let (cancel_tx, cancel) = tokio::sync::watch::channel(false);
    let executor = Executor {
        engine,
        connect,
        lab,
        inputs: &inputs,
        api_url: &plan.api_url,
        kubeconfig: &opts.kubeconfig,
        switch_context: opts.switch_context,
        ready_nodes: opts.ready_nodes,
        ui,
        deadline: Instant::now() + opts.timeout,
        cancel,
        shared: Default::default(),
    };
    let result = {
        let run = executor.run(&plan);
        tokio::pin!(run);
        tokio::select! {
            r = &mut run => r,
            _ = interrupted => {
                let _ = cancel_tx.send(true);
                let _ = run.await;
                Err(Error::Interrupted)
            }
        }
    };
    let (kubeconfig, mut starting) = executor.finish();
    if result.is_err() {
        // Nothing may still be starting while the lab is rolled back or reported.
        std::mem::take(&mut starting).settle().await;
    }
    match result {
        Ok(nodes) => Ok(UpOutcome {
            name: lab.name.to_string(),
            api: plan.api_url.clone(),
            context: names::context(&lab.name),
            nodes,
            kubeconfig,
            starting,
            dry_run: None,
        }),
        Err(e @ Error::SubnetTaken(_)) => Err(e),
        Err(e) if plan.fresh && !opts.keep_on_failure => {
            ui.warn(&format!(
                "up failed; removing the partly created lab {} (use --keep-on-failure to keep it)",
                lab.name
            ));
            // A second Ctrl-C during rollback would leave objects behind: `drop` removes them.
            let mut removed = lifecycle::remove_objects(engine, &lab.name).await.map(drop);
            if let (Ok(()), Some((volume, filter))) = (&removed, &new_export) {
                let filter: Vec<(&str, &str)> =
                    filter.iter().map(|(k, v)| (*k, v.as_str())).collect();
                removed = match engine.list_volumes(&filter).await {
                    // Only if it got as far as making it.
                    Ok(now) if now.contains(volume) => {
                        engine.remove_volume(volume).await.map_err(Error::from)
                    }
                    Ok(_) => Ok(()),
                    Err(e) => Err(e.into()),
                };
            }
            if let Err(re) = removed {
                ui.warn(&format!(
                    "rollback incomplete: {}; run `playground drop {} --yes`",
                    crate::diag::Report(&re),
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

/// Wait until every node of the lab is Ready, with a progress line: the rest of what
/// [`UpOptions::ready_nodes`] left out.
pub(crate) async fn wait_every_node(
    api: &KubeApi,
    lab: &Lab,
    url: &str,
    starting: Starting,
    deadline: Instant,
    ui: &Ui,
) -> Result<Vec<NodeReady>> {
    let expected = (lab.cluster.servers + lab.cluster.agents) as usize;
    let s = ui.step(format!("wait for all {expected} node(s) Ready"));
    // A start that failed ends the wait at once, instead of at the deadline.
    let r = tokio::try_join!(starting.finish(), async {
        Ok(api
            .wait_ready(url, expected, expected, deadline, &|d| s.set_detail(d))
            .await?)
    });
    match &r {
        Ok(_) => s.done(),
        Err(_) => s.fail(),
    }
    Ok(r?.1)
}

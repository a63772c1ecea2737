//! Runs a [`Plan`]: its phases in order, the steps of one phase concurrently, one method per
//! kind of [`Step`].
//!
//! [`Executor`] holds what every step shares: the engine, the API connector, the lab, the
//! choices made before planning, the deadline, the cancel signal, the kubeconfig text once
//! it was read, and whether the optional image cache is still on. Rollback is not its job:
//! [`super::up`] decides that from the error it returns.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};

use futures::future::try_join_all;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::config::{Lab, Role};
use crate::docker::{Engine, EngineError, NetworkSpec, PullProgress, RunState};
use crate::kube::api::NodeReady;
use crate::kube::kubeconfig;
use crate::ui::Ui;

use super::cache::{self, CacheStep};
use super::cluster_api::{ClusterApi, Connect};
use super::error::{ClusterError as Error, Result};
use super::k3s::registries::{self, Sources};
use super::lifecycle;
use super::names;
use super::node_kubeconfig::fetch_kubeconfig;
use super::plan::{Inputs, NodePlan, Plan, Step};
use super::readiness;
use super::registry;

/// What a step that went well has to say: a note for its progress line, and the Ready nodes
/// (from the API wait).
#[derive(Default)]
struct Done {
    note: Option<&'static str>,
    nodes: Option<Vec<NodeReady>>,
}

impl Done {
    fn note(note: &'static str) -> Self {
        Done {
            note: Some(note),
            nodes: None,
        }
    }
}

/// The image cache is optional: the first failure of a cache step turns it off for the rest of
/// the run, with one warning, and the lab goes on without it.
#[derive(Default)]
struct CacheSwitch(AtomicBool);

impl CacheSwitch {
    fn is_off(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    /// Turn the cache off; only the first reason is shown.
    fn turn_off(&self, ui: &Ui, why: &str) {
        if !self.0.swap(true, Ordering::SeqCst) {
            ui.warn(&format!(
                "the image cache is off for this run: {why}\n  the lab goes on without it: new nodes get no registry mirrors and pull from the upstream registries (`cluster.imageCache: false` stops trying)"
            ));
        }
    }
}

/// What the steps of one run learn and share as they go.
#[derive(Default)]
pub(super) struct Shared {
    /// The kubeconfig text, once the API wait has read it.
    kubeconfig: OnceLock<String>,
    cache: CacheSwitch,
    /// Agents' `docker start`s still in flight, handed to the caller (see [`Starting`]).
    starting: Mutex<Starting>,
}

/// Agents' `docker start`s that `up` leaves in flight when its caller awaits every node
/// itself ([`super::up::UpOptions::ready_nodes`]): the Docker Engine starts containers one
/// after another, a few hundred milliseconds each, and nothing but the nodes' own Ready wait
/// needs them done, so Argo CD goes in meanwhile. Whoever holds them must [`finish`] them
/// (an error is the start's), or [`settle`] them before removing the lab, so a rollback never
/// races a start.
///
/// [`finish`]: Starting::finish
/// [`settle`]: Starting::settle
#[derive(Debug, Default)]
pub(crate) struct Starting(Vec<(String, tokio::task::JoinHandle<Result<(), EngineError>>)>);

impl Starting {
    /// Wait for every start; the first failure is the error.
    pub(crate) async fn finish(self) -> Result<()> {
        for (name, handle) in self.0 {
            match handle.await {
                Ok(r) => r?,
                // The task panicked or was cancelled: the start's outcome is unknown.
                Err(e) => return Err(EngineError::api(format!("start {name}"), e).into()),
            }
        }
        Ok(())
    }

    /// Wait for every start to be over, whatever its outcome.
    pub(crate) async fn settle(self) {
        for (_, handle) in self.0 {
            let _ = handle.await;
        }
    }
}

/// One run of a plan.
pub(super) struct Executor<'a, E: Engine, C: Connect> {
    pub(crate) engine: &'a E,
    pub(crate) connect: &'a C,
    pub(crate) lab: &'a Lab,
    pub(crate) inputs: &'a Inputs,
    /// The API's URL on the host ([`Plan::api_url`]).
    pub(crate) api_url: &'a str,
    /// The kubeconfig file to merge the lab's context into, and whether to switch to it.
    pub(crate) kubeconfig: &'a Path,
    pub(crate) switch_context: bool,
    /// See [`super::up::UpOptions::ready_nodes`].
    pub(crate) ready_nodes: Option<u32>,
    pub(crate) ui: &'a Ui,
    pub(crate) deadline: Instant,
    /// Turns true on Ctrl-C. Only waits are cut short: a Docker call that creates something
    /// is allowed to finish, so the rollback sees everything there is.
    pub(crate) cancel: watch::Receiver<bool>,
    pub(crate) shared: Shared,
}

impl<E: Engine + Clone + 'static, C: Connect> Executor<'_, E, C> {
    /// Run every phase; the Ready nodes. The kubeconfig text (when the plan waited for the
    /// API) and the starts left in flight are [`Self::finish`]'s.
    pub(super) async fn run(&self, plan: &Plan) -> Result<Vec<NodeReady>> {
        let mut nodes = Vec::new();
        for phase in &plan.phases {
            if *self.cancel.borrow() {
                return Err(Error::Interrupted);
            }
            let results = try_join_all(phase.iter().map(|step| self.step(step))).await?;
            for r in results.into_iter().flatten() {
                nodes = r;
            }
        }
        Ok(nodes)
    }

    /// What the run leaves: the kubeconfig text it read, and the starts still in flight.
    pub(super) fn finish(self) -> (Option<String>, Starting) {
        let starting = self
            .shared
            .starting
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        (self.shared.kubeconfig.into_inner(), starting)
    }

    /// One step, with its progress line.
    async fn step(&self, step: &Step) -> Result<Option<Vec<NodeReady>>> {
        let s = self.ui.step(self.title(step));
        let result = self.dispatch(step, &s).await;
        match &result {
            Ok(Done { note: None, .. }) => s.done(),
            Ok(Done { note: Some(n), .. }) => s.done_with(n),
            Err(_) => s.fail(),
        }
        result.map(|d| d.nodes)
    }

    /// The step's title as it will run: the plan's words, except for an agent whose start
    /// is not waited for here (see [`Executor::start`]), which must not say "wait for", and
    /// the API wait when it needs fewer Ready nodes than the lab has, which says so.
    fn title(&self, step: &Step) -> String {
        match step {
            Step::StartNode(n) if self.starts_without_waiting(n) => {
                format!("start {}", n.spec.name)
            }
            Step::WaitApi { nodes } => {
                super::plan::display::wait_api_title(self.wait_gate(*nodes), *nodes)
            }
            _ => step.to_string(),
        }
    }

    /// How many of the lab's `nodes` the API wait needs Ready ([`UpOptions::ready_nodes`]).
    ///
    /// [`UpOptions::ready_nodes`]: super::up::UpOptions::ready_nodes
    fn wait_gate(&self, nodes: u32) -> u32 {
        self.ready_nodes.map_or(nodes, |n| n.clamp(1, nodes))
    }

    /// Whether [`Executor::start`] leaves this node's readiness to the caller.
    fn starts_without_waiting(&self, n: &NodePlan) -> bool {
        n.role == Role::Agent && self.ready_nodes.is_some()
    }

    async fn dispatch(&self, step: &Step, progress: &crate::ui::Step) -> Result<Done> {
        match step {
            Step::CheckPorts(ports) => {
                super::ports::check_ports(
                    self.engine,
                    self.lab,
                    ports,
                    self.inputs.api_port,
                    self.ui,
                )
                .await?
            }
            Step::EnsureNetwork(spec) => self.ensure_network(spec).await?,
            Step::RemoveNetworks { ids, .. } => {
                for id in ids {
                    self.engine.remove_network(id).await?;
                }
            }
            Step::EnsureVolume { name, labels } => self.engine.ensure_volume(name, labels).await?,
            Step::PullImage(image) => self.cancellable(self.pull(image)).await?,
            Step::RequireImage(image) => {
                if !self.engine.image_present(image).await? {
                    return Err(EngineError::ImageMissing(image.clone()).into());
                }
            }
            Step::EnsureCacheImage { .. }
            | Step::EnsureCache(_)
            | Step::WriteMirrors {
                registry: None,
                user: None,
                ..
            } if self.shared.cache.is_off() => {
                return Ok(Done::note("skipped: image cache off"));
            }
            Step::EnsureCacheImage { image, pull } => {
                return self.ensure_cache_image(image, *pull).await;
            }
            Step::EnsureCache(c) => return Ok(self.ensure_cache(c).await),
            Step::EnsureRegistry(r) => registry::ensure(self.engine, r).await?,
            Step::WriteMirrors {
                nodes,
                cache,
                registry,
                user,
            } => {
                let sources = Sources {
                    cache: cache.as_ref(),
                    registry: registry.as_ref(),
                    user: user.as_ref(),
                };
                return self.write_mirrors(nodes, sources).await;
            }
            Step::CreateNode(n) => {
                self.engine.create_container(&n.spec).await?;
            }
            Step::StartNode(n) => return self.start(n).await,
            // Where its run begins in the log is the `AwaitNode`'s to read.
            Step::LaunchNode(n) => self.engine.start(&n.spec.name).await?,
            Step::AwaitNode(n) => {
                let run = readiness::started_since(self.engine, &n.spec.name).await?;
                self.wait_ready_line(n, run).await?;
            }
            Step::UnpauseNode(name) => self.engine.unpause(name).await?,
            Step::AttachNode(n) => self.attach(n).await?,
            Step::ForgetNode(name) => self.forget(name).await?,
            Step::WaitApi { nodes } => return self.wait_api(*nodes, progress).await,
            Step::WriteKubeconfig { .. } => self.write_kubeconfig().await?,
            Step::PublishRegistry { port } => self.publish_registry(*port).await?,
            Step::RecreateNode {
                node,
                cache,
                registry,
                user,
            } => {
                let sources = Sources {
                    cache: cache.as_ref(),
                    registry: registry.as_ref(),
                    user: user.as_ref(),
                };
                return self.recreate(node, sources).await;
            }
            Step::RemoveAgent { name, volume } => self.remove_agent(name, volume).await?,
        }
        Ok(Done::default())
    }

    /// Resolves once Ctrl-C has been seen.
    async fn cancelled(&self) {
        let mut cancel = self.cancel.clone();
        let _ = cancel.wait_for(|c| *c).await;
    }

    /// `work`, cut short by Ctrl-C.
    async fn cancellable<T>(&self, work: impl Future<Output = Result<T>>) -> Result<T> {
        tokio::select! {
            r = work => r,
            _ = self.cancelled() => Err(Error::Interrupted),
        }
    }

    async fn ensure_network(&self, spec: &NetworkSpec) -> Result<()> {
        let taken = || Error::SubnetTaken(spec.subnet.clone().unwrap_or_default());
        let ours = match self.engine.ensure_network(spec).await {
            Ok(n) => n,
            Err(e) if e.is_subnet_overlap() => return Err(taken()),
            Err(e) => return Err(e.into()),
        };
        // A command killed while its own create was in flight may finish (in the daemon)
        // next to ours: Docker's duplicate check is best effort, and off from API 1.44 on.
        // A twin of the lab's name and label has nobody on it yet (the lab's lock keeps
        // other commands out): remove it, or every node's start would find the name
        // ambiguous. One that will not go is left for the ambiguity to be reported.
        let twins = self
            .engine
            .list_networks(&[(names::LABEL_CLUSTER, &self.lab.name)])
            .await?;
        for twin in twins
            .iter()
            .filter(|n| n.name == spec.name && n.id != ours.id)
        {
            if let Err(e) = self.engine.remove_network(&twin.id).await {
                tracing::debug!("leftover network {} ({}): {e}", twin.name, twin.id);
            }
        }
        // Found, not made: one that appeared since the plan looked, on another subnet than
        // the one the nodes' addresses were planned in. Plan again, with it.
        if spec.subnet.is_some() && ours.subnet.is_some() && ours.subnet != spec.subnet {
            return Err(taken());
        }
        Ok(())
    }

    async fn ensure_cache_image(&self, image: &str, may_pull: bool) -> Result<Done> {
        // Even a failed look is no reason to fail the lab: then try to pull.
        let why = if matches!(self.engine.image_present(image).await, Ok(true)) {
            None
        } else if !may_pull {
            Some(format!(
                "its image {image} is not local and --pull never was given"
            ))
        } else {
            match self.cancellable(self.pull(image)).await {
                Ok(()) => None,
                Err(Error::Interrupted) => return Err(Error::Interrupted),
                Err(Error::Engine(EngineError::Pull { message, .. })) => Some(format!(
                    "cannot pull its image {image}: {message}\n  hint: `docker pull {image}` when online, or set {} to a local image",
                    cache::ENV_IMAGE
                )),
                Err(e) => Some(format!(
                    "cannot pull its image {image}: {}",
                    crate::diag::Report(&e)
                )),
            }
        };
        Ok(match why {
            Some(why) => {
                self.shared.cache.turn_off(self.ui, &why);
                Done::note("unavailable: image cache off")
            }
            None => Done::default(),
        })
    }

    async fn ensure_cache(&self, c: &CacheStep) -> Done {
        match cache::ensure(self.engine, c).await {
            Ok(()) => Done::default(),
            Err(e) => {
                self.shared.cache.turn_off(
                    self.ui,
                    &format!("cache {}: {}", c.spec.name, crate::diag::Report(&e)),
                );
                Done::note("failed: image cache off")
            }
        }
    }

    async fn write_mirrors(&self, nodes: &[String], sources: Sources<'_>) -> Result<Done> {
        // The caches' entries only while the cache is on; the registry's and the user's always.
        let sources = Sources {
            cache: sources.cache.filter(|_| !self.shared.cache.is_off()),
            ..sources
        };
        let mut done = Done::default();
        if sources.cache.is_none() && (sources.registry.is_some() || sources.user.is_some()) {
            done = Done::note("without the image cache: it is off");
        }
        let yaml = registries::registries_yaml(sources);
        let written = try_join_all(nodes.iter().map(|n| {
            self.engine
                .write_file(n, registries::REGISTRIES_YAML, yaml.as_bytes(), 0o644)
        }))
        .await;
        match written {
            Ok(_) => Ok(done),
            // The lab asked for its registry or its own entries: a node without them is a
            // failure.
            Err(e) if sources.registry.is_some() || sources.user.is_some() => Err(e.into()),
            Err(e) => {
                let why = crate::diag::Report(&e).to_string();
                self.shared.cache.turn_off(self.ui, &why);
                Ok(Done::note("failed: image cache off"))
            }
        }
    }

    /// Start a node and wait for its ready line.
    async fn start(&self, n: &NodePlan) -> Result<Done> {
        // When the caller awaits every node itself (alongside Argo CD), an agent is not this
        // plan's to wait for, not even its `docker start`: see [`Starting`].
        if self.starts_without_waiting(n) {
            let engine = self.engine.clone();
            let name = n.spec.name.clone();
            let handle = tokio::spawn(async move { engine.start(&name).await });
            self.shared
                .starting
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0
                .push((n.spec.name.clone(), handle));
            return Ok(Done::note("starting; Ready is awaited with Argo CD"));
        }
        let run = readiness::start(self.engine, &n.spec.name).await?;
        self.wait_ready_line(n, run).await?;
        Ok(Done::default())
    }

    async fn wait_ready_line(&self, n: &NodePlan, run: readiness::RunStart) -> Result<()> {
        let wait =
            readiness::wait_for_log(self.engine, &n.spec.name, n.ready_line, run, self.deadline);
        let said = self.cancellable(async { Ok(wait.await?) }).await?;
        readiness::warn_entrypoint(self.ui, &n.spec.name, &said);
        Ok(())
    }

    /// Put a node back on a lab network made again; one that runs restarts to take it up.
    async fn attach(&self, n: &NodePlan) -> Result<()> {
        let running = self
            .engine
            .inspect_container(&n.spec.name)
            .await?
            .is_some_and(|c| c.state == RunState::Running);
        self.engine
            .connect_network(
                &n.spec.network,
                &n.spec.name,
                n.spec.ip,
                std::slice::from_ref(&n.spec.hostname),
            )
            .await?;
        if running {
            self.engine
                .stop(&n.spec.name, lifecycle::STOP_GRACE)
                .await?;
            let run = readiness::start(self.engine, &n.spec.name).await?;
            self.wait_ready_line(n, run).await?;
        }
        Ok(())
    }

    /// Make a node again from its new spec, on the same data volume (see
    /// [`Step::RecreateNode`]); a k3s node is awaited until its Node is Ready again.
    async fn recreate(&self, n: &NodePlan, sources: Sources<'_>) -> Result<Done> {
        let name = &n.spec.name;
        self.engine.stop(name, lifecycle::STOP_GRACE).await?;
        self.engine.remove_container(name).await?;
        self.engine.create_container(&n.spec).await?;
        // registries.yaml lives in the container, not the volume: the new one needs it again.
        // Not when there is nothing to write (the cache off for this run, no lab registry, no
        // entries of the user's).
        let sources = Sources {
            cache: sources.cache.filter(|_| !self.shared.cache.is_off()),
            ..sources
        };
        let mut done = Done::default();
        if sources.any() {
            done = self
                .write_mirrors(std::slice::from_ref(name), sources)
                .await?;
        }
        let run = readiness::start(self.engine, name).await?;
        self.wait_ready_line(n, run).await?;
        if n.role != Role::LoadBalancer {
            let api = self.connect.connect(&self.kubeconfig_text().await?).await?;
            self.cancellable(async {
                api.wait_node_ready(name, run.since, self.deadline)
                    .await
                    .map_err(|source| Error::NodeNotReady {
                        node: name.clone(),
                        source: Box::new(source),
                    })
            })
            .await?;
        }
        Ok(done)
    }

    /// Drain an agent beyond the lab's count, then remove it: its container first (a kubelet
    /// still running would register its Node again), its data volume, its Node and node
    /// password last.
    async fn remove_agent(&self, name: &str, volume: &str) -> Result<()> {
        let api = self.connect.connect(&self.kubeconfig_text().await?).await?;
        self.cancellable(async {
            api.drain_node(name, self.deadline)
                .await
                .map_err(|source| Error::DrainNode {
                    node: name.to_string(),
                    source,
                })
        })
        .await?;
        self.engine.stop(name, lifecycle::STOP_GRACE).await?;
        self.engine.remove_container(name).await?;
        self.engine.remove_volume(volume).await?;
        api.forget_node(name)
            .await
            .map_err(|source| Error::ForgetNode {
                node: name.to_string(),
                source,
            })
    }

    /// The kubeconfig text: the one the API wait read, or read now.
    async fn kubeconfig_text(&self) -> Result<String> {
        match self.shared.kubeconfig.get() {
            Some(text) => Ok(text.clone()),
            None => {
                fetch_kubeconfig(self.engine, &self.lab.name, self.api_url, self.deadline).await
            }
        }
    }

    async fn forget(&self, name: &str) -> Result<()> {
        let text =
            fetch_kubeconfig(self.engine, &self.lab.name, self.api_url, self.deadline).await?;
        let api = self.connect.connect(&text).await?;
        api.forget_node(name)
            .await
            .map_err(|source| Error::ForgetNode {
                node: name.to_string(),
                source,
            })
    }

    async fn wait_api(&self, nodes: u32, progress: &crate::ui::Step) -> Result<Done> {
        let url = self.api_url;
        let text = fetch_kubeconfig(self.engine, &self.lab.name, url, self.deadline).await?;
        let api = self.connect.connect(&text).await?;
        let want = self.wait_gate(nodes);
        let report = |d: &str| progress.set_detail(d);
        let ready = self
            .cancellable(async {
                Ok(api
                    .wait_ready(url, want as usize, nodes as usize, self.deadline, &report)
                    .await?)
            })
            .await?;
        lifecycle::ensure_host_record(self.engine, &api, &self.lab.name).await?;
        // Set once per run: a plan has one API wait.
        let _ = self.shared.kubeconfig.set(text);
        Ok(Done {
            note: None,
            nodes: Some(ready),
        })
    }

    async fn write_kubeconfig(&self) -> Result<()> {
        let text = self.kubeconfig_text().await?;
        let source = kubeconfig::parse_source(&text)?;
        kubeconfig::merge(
            self.kubeconfig,
            &self.lab.name,
            &source,
            self.switch_context,
        )?;
        Ok(())
    }

    async fn publish_registry(&self, port: u16) -> Result<()> {
        let text = self.kubeconfig_text().await?;
        let api = self.connect.connect(&text).await?;
        api.apply_configmap(&registry::hosting_configmap(port))
            .await
            .map_err(|source| Error::PublishRegistry {
                namespace: registry::HOSTING_NAMESPACE,
                name: registry::HOSTING_NAME,
                source,
            })
    }

    /// Pull an image with one progress bar per layer.
    async fn pull(&self, image: &str) -> Result<()> {
        // Only the pull's progress callback touches it, one report at a time; a panic inside
        // indicatif would leave it poisoned, and the bars are still worth clearing then.
        let bars: Mutex<HashMap<String, indicatif::ProgressBar>> = Mutex::new(HashMap::new());
        let report = |p: PullProgress| {
            let (Some(layer), Some(total)) = (p.layer, p.total) else {
                return;
            };
            let mut bars = bars.lock().unwrap_or_else(|e| e.into_inner());
            let bar = bars
                .entry(layer.clone())
                .or_insert_with(|| self.ui.bar(layer.clone(), total));
            bar.set_length(total);
            bar.set_position(p.current.unwrap_or(0));
            bar.set_message(format!("{layer} {}", p.status));
        };
        let r = self.engine.pull_image(image, &report).await;
        for (_, bar) in bars.into_inner().unwrap_or_else(|e| e.into_inner()) {
            bar.finish_and_clear();
        }
        Ok(r?)
    }
}

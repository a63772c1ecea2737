//! The pure plan: desired lab + what Docker already has → ordered phases of steps.
//!
//! No I/O happens here. The executor ([`super::up`]) gathers an [`Observed`] snapshot, asks
//! for a [`Plan`], prints it with `--dry-run` or runs it phase by phase. Steps inside one phase
//! are independent and run concurrently (image pulls, creating nodes, starting agents); the
//! phases themselves run in order (network before nodes, the init server before joiners,
//! servers before agents).
//!
//! An existing lab is reconciled to its file, as Argo CD reconciles apps to Git: a node whose
//! container differs from the spec `up` would create now ([`diff`]) is recreated, one at a time,
//! agents before servers, with its data volume (and so its node identity, F7) kept; an agent
//! beyond `cluster.agents` is drained and removed. What cannot change in place (the server
//! count, the API address) is refused before anything is done, with the way out.
//!
//! - [`plan_up`] here: the phases, one function each;
//! - [`ipam`]: the subnet and every static address on it;
//! - [`node`]: one k3s node's container (labels, binds, ports; k3s's own part from
//!   [`super::k3s`]);
//! - [`loadbalancer`]: the nginx in front of the servers of a multi-server lab;
//! - [`diff`]: what changed on an existing lab's nodes (each is then recreated);
//! - `display`: how a plan prints (`--dry-run`).

mod diff;
pub(crate) mod display;
mod ipam;
mod loadbalancer;
mod node;

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr};

use crate::config::{Lab, Role, UserRegistries};
use crate::docker::{ContainerInfo, ContainerSpec, Labels, NetworkSpec, PortBinding, RunState};
use crate::lab::client_host;

use super::cache::{self, CacheSettings, CacheStep};
use super::k3s::registries::Sources;
use super::names;
use super::registry::{self, RegistryMirror, RegistrySettings, RegistryStep};

pub use super::error::PlanError;
pub use diff::Change;
pub use ipam::{cache_ip, choose_subnet, choose_subnet_from, gateway_ip, registry_ip};
pub use loadbalancer::{ENV_LB_IMAGE, LB_IMAGE, lb_config, lb_image_from_env};
pub use node::{ENV_HOST_MODULES, HOST_MODULES, host_modules_from_env};

use ipam::subnet_base;
use loadbalancer::lb_plan;
use node::node_plan;

/// What Docker has now, gathered by the executor before planning.
#[derive(Debug, Clone, Default)]
pub(crate) struct Observed {
    /// Containers that carry this lab's cluster label.
    pub(crate) containers: Vec<ContainerInfo>,
    /// Containers whose names we want but which are not ours.
    pub(crate) foreign: Vec<String>,
    pub(crate) network_exists: bool,
    pub(crate) network_subnet: Option<String>,
    /// IDs of networks of the lab's name left with no node of the lab on them: what a command
    /// killed while its network create was in flight leaves (the daemon finishes the create).
    /// Docker refuses a name two networks share as ambiguous, so they go before the one the
    /// lab uses is made.
    pub(crate) leftover_networks: Vec<String>,
    /// Subnets already used by other networks.
    pub(crate) used_subnets: Vec<String>,
    pub(crate) images_present: BTreeSet<String>,
    /// The shared image caches that exist (inspected: their networks are known).
    pub(crate) caches: Vec<ContainerInfo>,
    /// Whether the cache image is local.
    pub(crate) cache_image_present: bool,
    /// The shared lab registry, if it exists (inspected), whether or not this lab asks for it.
    pub(crate) registry: Option<ContainerInfo>,
    /// Whether the registry image is local.
    pub(crate) registry_image_present: bool,
    /// The lab's volumes that exist (its nodes' data volumes among them, and its image export).
    pub(crate) volumes: BTreeSet<String>,
}

/// Choices made before planning (so the plan stays pure).
#[derive(Debug, Clone)]
pub(crate) struct Inputs {
    /// The API host port: from the existing server, the file, or a free port.
    pub(crate) api_port: u16,
    /// The cluster join token: from an existing node, or freshly generated.
    pub(crate) token: String,
    pub(crate) pull: PullPolicy,
    /// Where the search for a free subnet starts (random in `up`, 0 in tests).
    pub(crate) subnet_seed: u32,
    /// A local Git repository to mount read-only into every node (at
    /// [`crate::lab::LOCAL_REPO_MOUNT`]). Mounts cannot be added to a container
    /// later, so this follows the lab file, not `--cluster-only`.
    pub(crate) repo_mount: Option<std::path::PathBuf>,
    /// The host port of the Argo CD UI (plain HTTP on 127.0.0.1), published to the
    /// `argocd-server` NodePort.
    pub(crate) ui_port: Option<u16>,
    /// The image cache's image and namespace; `None` plans no cache. The cache is planned only
    /// when the lab's `cluster.imageCache` is on as well.
    pub(crate) cache: Option<CacheSettings>,
    /// The load balancer's image: [`LB_IMAGE`] unless [`ENV_LB_IMAGE`] names another.
    pub(crate) lb_image: String,
    /// The lab registry's image and namespace, used when the lab has `cluster.registry`.
    pub(crate) registry: RegistrySettings,
    /// The host's kernel modules folder, mounted read-only at `/lib/modules` in every k3s node
    /// (see [`node::host_modules_from_env`]); `None` mounts nothing.
    pub(crate) host_modules: Option<std::path::PathBuf>,
}

/// When to pull images.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum PullPolicy {
    #[default]
    Missing,
    Always,
    Never,
}

/// One node, fully specified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NodePlan {
    pub(crate) role: Role,
    pub(crate) index: u32,
    pub(crate) spec: ContainerSpec,
    pub(crate) ready_line: &'static str,
}

/// One thing to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    /// Make sure these host ports are free before anything is created.
    CheckPorts(Vec<PortBinding>),
    EnsureNetwork(NetworkSpec),
    /// Remove networks by ID: the lab's leftovers (see [`Observed::leftover_networks`]).
    RemoveNetworks {
        name: String,
        ids: Vec<String>,
    },
    EnsureVolume {
        name: String,
        labels: Labels,
    },
    PullImage(String),
    RequireImage(String),
    /// Make sure the image cache's image is local, pulling it if `pull`. Optional: when it
    /// cannot be had, `up` warns once and goes on without the cache.
    EnsureCacheImage {
        image: String,
        pull: bool,
    },
    /// One shared cache, made ready and attached to this lab's network (see [`cache::ensure`]).
    EnsureCache(Box<CacheStep>),
    CreateNode(Box<NodePlan>),
    /// The shared lab registry, made ready and attached to this lab's network (see
    /// [`registry::ensure`]). Not optional: the lab file asks for it.
    EnsureRegistry(Box<RegistryStep>),
    /// Write `registries.yaml` into nodes created but not yet started: mirrors to the caches
    /// (left out when the cache is off for this run) and the lab registry's `localhost:PORT`.
    WriteMirrors {
        nodes: Vec<String>,
        cache: Option<CacheSettings>,
        registry: Option<RegistryMirror>,
        /// `cluster.registries`, which win over the caches' and the registry's entries.
        user: Option<UserRegistries>,
    },
    /// Start a node and wait for its ready line.
    StartNode(Box<NodePlan>),
    /// Start a node's container and go on: a later [`Step::AwaitNode`] waits for its ready
    /// line. Servers are launched a phase ahead of the nodes that join them (see `start`).
    LaunchNode(Box<NodePlan>),
    /// Wait for the ready line of a node a [`Step::LaunchNode`] started.
    AwaitNode(Box<NodePlan>),
    UnpauseNode(String),
    /// Put an existing node back on a lab network that was made again, at its address; a node
    /// that runs is restarted so k3s starts on it (it takes its node IP at start).
    AttachNode(Box<NodePlan>),
    /// Make the server forget a node before it comes back without its data volume: a new
    /// volume is a new node password, and k3s refuses a known name with another password
    /// until the old record (`kube-system/<node>.node-password.k3s`) is gone.
    ForgetNode(String),
    WaitApi {
        nodes: u32,
    },
    WriteKubeconfig {
        context: String,
        api_url: String,
    },
    /// Apply the KEP-1755 `kube-public/local-registry-hosting` ConfigMap.
    PublishRegistry {
        port: u16,
    },
    /// Make an existing node again from its new spec: stop, remove, create, (mirrors,) start,
    /// wait for its ready line and, for a k3s node, until its Node is Ready again. The data
    /// volume is not touched: the new container mounts the same one, so the node keeps its
    /// name, its password (F7, `node-entrypoint.sh`) and, for a server, the cluster's state.
    RecreateNode {
        node: Box<NodePlan>,
        cache: Option<CacheSettings>,
        registry: Option<RegistryMirror>,
        user: Option<UserRegistries>,
    },
    /// An agent beyond `cluster.agents`: cordon it, evict its pods (as `kubectl drain
    /// --ignore-daemonsets` does), remove its container and data volume, delete its Node.
    RemoveAgent {
        name: String,
        volume: String,
    },
}

/// Ordered phases; the steps of a phase may run concurrently.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Plan {
    pub(crate) phases: Vec<Vec<Step>>,
    /// True when nothing of the lab existed: on failure the executor rolls back everything.
    pub(crate) fresh: bool,
    pub(crate) api_url: String,
    /// What differs on the existing nodes (each such node is recreated), secrets masked.
    pub(crate) changes: Vec<Change>,
    /// The agents beyond `cluster.agents`, removed.
    pub(crate) removed: Vec<String>,
}

impl Plan {
    /// All node plans, in creation order.
    #[cfg(test)]
    pub(crate) fn nodes(&self) -> impl Iterator<Item = &NodePlan> {
        self.phases.iter().flatten().filter_map(|s| match s {
            Step::CreateNode(n) => Some(&**n),
            _ => None,
        })
    }

    /// Whether running this plan replaces or removes an existing node: then `up` shows the
    /// diff and asks first.
    pub(crate) fn changes_nodes(&self) -> bool {
        !self.changes.is_empty() || !self.removed.is_empty()
    }
}

/// Build the plan for `up`: refuse what cannot work, then one phase after another (checks,
/// network, prep, shared caches, create, mirrors, start, wait). A phase with nothing to do is
/// left out.
pub(crate) fn plan_up(lab: &Lab, observed: &Observed, inputs: &Inputs) -> Result<Plan, PlanError> {
    let p = Planner::new(lab, observed, inputs)?;
    let mut plan = Plan {
        fresh: p.fresh,
        api_url: p.api_url.clone(),
        changes: p.changed.iter().flat_map(|(_, c)| c.clone()).collect(),
        removed: p.removed.iter().map(|(name, _)| name.clone()).collect(),
        ..Default::default()
    };
    // The network, the volumes and the pulls need nothing of each other: one phase. Nodes
    // that outlived their network are attached right after it.
    let mut network = p.network().into_iter();
    let mut first = network.next().unwrap_or_default();
    first.extend(p.prep());
    let phases = [p.checks(), p.leftovers(), first]
        .into_iter()
        .chain(network)
        .chain([p.shared(), p.create(), p.mirrors()])
        .chain(p.start())
        .chain([p.wait()])
        .chain(p.reconcile())
        .chain([p.last()]);
    plan.phases = phases.filter(|phase| !phase.is_empty()).collect();
    Ok(plan)
}

/// What every phase of [`plan_up`] looks at, worked out once.
struct Planner<'a> {
    lab: &'a Lab,
    observed: &'a Observed,
    inputs: &'a Inputs,
    existing: BTreeMap<&'a str, &'a ContainerInfo>,
    /// Nothing of the lab existed: the start order of a new lab, and rollback on failure.
    fresh: bool,
    subnet: String,
    base: Ipv4Addr,
    api_url: String,
    cluster_labels: Labels,
    /// Every node the lab file asks for, in creation order.
    nodes: Vec<NodePlan>,
    /// Those of [`Self::nodes`] with no container yet.
    missing: Vec<NodePlan>,
    registry_port: Option<u16>,
    registry_running: bool,
    /// The registry image, when the registry must be created and its image is not local.
    registry_image: Option<&'a str>,
    /// The image cache, when the lab and the inputs both want it.
    cache: Option<&'a CacheSettings>,
    network: String,
    /// Existing nodes that differ from their spec, with how.
    changed: Vec<(NodePlan, Vec<Change>)>,
    /// Agents beyond `cluster.agents`: name and index, highest index first.
    removed: Vec<(String, u32)>,
}

impl<'a> Planner<'a> {
    /// Everything refused before a plan is made: a changed server count, a port bound twice,
    /// a name someone else holds, a registry on another port.
    fn new(lab: &'a Lab, observed: &'a Observed, inputs: &'a Inputs) -> Result<Self, PlanError> {
        let c = &lab.cluster;
        let existing: BTreeMap<&str, &ContainerInfo> = observed
            .containers
            .iter()
            .map(|c| (c.name.as_str(), c))
            .collect();
        let fresh = observed.containers.is_empty() && !observed.network_exists;
        check_server_count(lab, observed)?;
        let subnet = subnet(observed, inputs)?;
        let base = subnet_base(&subnet).unwrap_or(Ipv4Addr::new(172, 28, 0, 0));
        check_api_address(lab, observed, inputs)?;

        let mut cluster_labels = Labels::new();
        cluster_labels.insert(names::LABEL_CLUSTER.into(), lab.name.to_string());
        let api_url = format!("https://{}:{}", client_host(c.api.host), inputs.api_port);

        let nodes = desired_nodes(lab, base, inputs, fresh);
        check_ports(&nodes)?;
        for n in &nodes {
            if observed.foreign.contains(&n.spec.name) {
                return Err(PlanError::NameTaken(n.spec.name.clone()));
            }
        }

        let registry_port = c.registry.map(|r| r.port);
        check_registry_port(registry_port, observed)?;
        let registry_running = observed
            .registry
            .as_ref()
            .is_some_and(|r| r.state == RunState::Running);
        // Its image is needed only to create it.
        let registry_image = registry_port
            .filter(|_| observed.registry.is_none() && !observed.registry_image_present)
            .map(|_| inputs.registry.image.as_str());
        let missing = nodes
            .iter()
            .filter(|n| !existing.contains_key(n.spec.name.as_str()))
            .cloned()
            .collect();
        let changed = changed_nodes(&nodes, &existing);
        let removed = removed_agents(lab, observed);
        Ok(Planner {
            lab,
            observed,
            inputs,
            existing,
            fresh,
            subnet,
            base,
            api_url,
            cluster_labels,
            nodes,
            missing,
            registry_port,
            registry_running,
            registry_image,
            // The cache is optional: its image is fetched alongside the nodes' images, and a
            // failure there turns the cache off for this run instead of failing the lab.
            cache: inputs.cache.as_ref().filter(|_| c.image_cache),
            network: names::network(&lab.name),
            changed,
            removed,
        })
    }

    /// Whether a node has no running (or paused) container: it is created or started.
    fn needs_start(&self, n: &NodePlan) -> bool {
        self.existing
            .get(n.spec.name.as_str())
            .is_none_or(|e| e.state != RunState::Running && e.state != RunState::Paused)
    }

    fn labels(&self, role: &str) -> Labels {
        let mut labels = self.cluster_labels.clone();
        labels.insert(names::LABEL_ROLE.into(), role.into());
        labels
    }

    /// Checks come first, in one phase: nothing is created before every one has passed.
    fn checks(&self) -> Vec<Step> {
        // Ports of nodes we will create (or start) must be free; a running node of ours
        // already holds its own ports, so those are not checked.
        let mut to_bind: Vec<PortBinding> = self
            .nodes
            .iter()
            .filter(|n| self.needs_start(n))
            .flat_map(|n| n.spec.ports.clone())
            .collect();
        // A node made again binds the ports its old container did not hold: checked now, not
        // after the old one is gone.
        for (n, _) in &self.changed {
            if let Some(have) = self.existing.get(n.spec.name.as_str()) {
                for p in &n.spec.ports {
                    if !have.ports.contains(p) && !to_bind.contains(p) {
                        to_bind.push(p.clone());
                    }
                }
            }
        }
        // The registry binds its port when it is created or started.
        if let Some(port) = self.registry_port
            && !self.registry_running
        {
            to_bind.push(RegistrySettings::binding(port));
        }
        let mut checks = Vec::new();
        if !to_bind.is_empty() {
            checks.push(Step::CheckPorts(to_bind));
        }
        let needed: BTreeSet<&str> = self.missing.iter().map(|n| n.spec.image.as_str()).collect();
        if self.inputs.pull == PullPolicy::Never {
            for image in needed
                .iter()
                .filter(|i| !self.observed.images_present.contains(**i))
            {
                checks.push(Step::RequireImage((*image).into()));
            }
            if let Some(image) = self.registry_image {
                checks.push(Step::RequireImage(image.into()));
            }
        }
        checks
    }

    /// The lab network, when it is missing; then the nodes that outlived it go back on the
    /// new one, at their addresses.
    /// The lab's leftover networks go before its network is looked up or made.
    fn leftovers(&self) -> Vec<Step> {
        if self.observed.leftover_networks.is_empty() {
            return Vec::new();
        }
        vec![Step::RemoveNetworks {
            name: self.network.clone(),
            ids: self.observed.leftover_networks.clone(),
        }]
    }

    fn network(&self) -> Vec<Vec<Step>> {
        if self.observed.network_exists {
            return Vec::new();
        }
        let network = vec![Step::EnsureNetwork(NetworkSpec {
            name: self.network.clone(),
            labels: self.labels("network"),
            subnet: Some(self.subnet.clone()),
            gateway: Some(gateway_ip(self.base).to_string()),
        })];
        let orphans: Vec<Step> = self
            .nodes
            .iter()
            .filter(|n| self.existing.contains_key(n.spec.name.as_str()))
            .map(|n| Step::AttachNode(Box::new(n.clone())))
            .collect();
        vec![network, orphans]
    }

    /// Volumes and images are independent of each other: one concurrent phase.
    fn prep(&self) -> Vec<Step> {
        let mut prep = Vec::new();
        for n in self.missing.iter().filter(|n| n.role != Role::LoadBalancer) {
            prep.push(Step::EnsureVolume {
                name: names::data_volume(&self.lab.name, n.role, n.index),
                labels: self.labels("volume"),
            });
        }
        if !self.missing.is_empty() {
            prep.push(Step::EnsureVolume {
                name: names::images_volume(&self.lab.name),
                labels: self.labels("volume"),
            });
        }
        let mut images: BTreeSet<&str> =
            self.missing.iter().map(|n| n.spec.image.as_str()).collect();
        images.extend(self.registry_image);
        for image in images {
            let present = self.observed.images_present.contains(image)
                || (Some(image) == self.registry_image && self.observed.registry_image_present);
            match self.inputs.pull {
                PullPolicy::Always => prep.push(Step::PullImage(image.into())),
                PullPolicy::Missing if !present => prep.push(Step::PullImage(image.into())),
                // Required in the checks phase.
                _ => {}
            }
        }
        // The lab's image export is kept by `drop` and only ever made here, before the nodes
        // that mount it. It needs no cache image, so a cache that is off does not skip it.
        if let Some(cache) = self.cache
            && !self.missing.is_empty()
            && !self
                .observed
                .volumes
                .contains(&cache.export_volume(&self.lab.name))
        {
            prep.push(Step::EnsureVolume {
                name: cache.export_volume(&self.lab.name),
                labels: cache.export_labels(&self.lab.name),
            });
        }
        if let Some(cache) = self.cache
            && !self.observed.cache_image_present
        {
            prep.push(Step::EnsureCacheImage {
                image: cache.image.clone(),
                pull: self.inputs.pull != PullPolicy::Never,
            });
        }
        prep
    }

    /// The shared caches and the lab registry that are not yet running on this network.
    fn shared(&self) -> Vec<Step> {
        let network = &self.network;
        let mut shared = Vec::new();
        if let Some(cache) = self.cache {
            let ready = |name: &str| {
                self.observed.caches.iter().any(|c| {
                    c.name == name && c.state == RunState::Running && c.ips.contains_key(network)
                })
            };
            shared = cache::UPSTREAMS
                .iter()
                .enumerate()
                .filter(|(_, u)| !ready(&cache.container(u)))
                .map(|(i, u)| {
                    Step::EnsureCache(Box::new(CacheStep::new(
                        cache,
                        u,
                        network,
                        IpAddr::V4(cache_ip(self.base, i)),
                    )))
                })
                .collect();
        }
        if let Some(port) = self.registry_port {
            let attached = self
                .observed
                .registry
                .as_ref()
                .is_some_and(|r| r.ips.contains_key(network));
            if !(self.registry_running && attached) {
                shared.push(Step::EnsureRegistry(Box::new(RegistryStep::new(
                    &self.inputs.registry,
                    port,
                    network,
                    IpAddr::V4(registry_ip(self.base)),
                ))));
            }
        }
        shared
    }

    fn create(&self) -> Vec<Step> {
        self.missing
            .iter()
            .map(|n| Step::CreateNode(Box::new(n.clone())))
            .collect()
    }

    /// k3s reads registries.yaml at start: new nodes get it between create and first start.
    fn mirrors(&self) -> Vec<Step> {
        let registry = self.registry_port.map(|port| RegistryMirror {
            port,
            ip: IpAddr::V4(registry_ip(self.base)),
        });
        let nodes: Vec<String> = self
            .missing
            .iter()
            .filter(|n| n.role != Role::LoadBalancer)
            .map(|n| n.spec.name.clone())
            .collect();
        let user = self.lab.cluster.registries.as_ref();
        let sources = Sources {
            cache: self.cache,
            registry: registry.as_ref(),
            user,
        };
        if !sources.any() || nodes.is_empty() {
            return Vec::new();
        }
        vec![Step::WriteMirrors {
            nodes,
            cache: self.cache.cloned(),
            registry,
            user: user.cloned(),
        }]
    }

    /// Start order. A fresh lab launches the init server, then starts every agent and the
    /// load balancer while the server boots: a k3s agent retries its join until the server
    /// answers (k3s `pkg/agent/run.go` retries `getConfig`), and the load balancer's upstreams
    /// are static addresses, so none of them waits on the server's boot to begin its own.
    /// Only the server's `docker start` goes first: the Docker Engine sets up containers'
    /// networking one after another, so a server started together with three agents queued
    /// behind them, and an agent that dialled the server before its network existed lost a
    /// second to a TCP SYN retransmit (BENCHMARKS.md, critical path). Joining servers follow
    /// one at a time, each once the one before is up (k3d #452: etcd adds one member at a
    /// time).
    /// An existing lab starts what is stopped the same way: servers, then agents and the load
    /// balancer while the servers boot. Stopped servers are launched together before any is
    /// awaited: a restarted etcd member logs "k3s is up and running" only once its etcd is
    /// ready (k3s `pkg/cli/server/server.go` waits on `ETCDReady`), which needs a quorum of
    /// the members, so waiting for one before starting the next never ends (F2).
    fn start(&self) -> Vec<Vec<Step>> {
        let mut phases = Vec::new();
        let unpause: Vec<Step> = self
            .nodes
            .iter()
            .filter(|n| {
                self.existing
                    .get(n.spec.name.as_str())
                    .is_some_and(|e| e.state == RunState::Paused)
            })
            .map(|n| Step::UnpauseNode(n.spec.name.clone()))
            .collect();
        phases.push(unpause);
        let starts = |role: Role| -> Vec<Step> {
            self.nodes
                .iter()
                .filter(|n| n.role == role && self.needs_start(n))
                .map(|n| Step::StartNode(Box::new(n.clone())))
                .collect()
        };
        let (servers, agents, balancer) = (
            starts(Role::Server),
            starts(Role::Agent),
            starts(Role::LoadBalancer),
        );
        // The servers' containers first, then their ready lines awaited beside the others'
        // starts.
        let launch_then = |phases: &mut Vec<Vec<Step>>, servers: Vec<Step>, others: Vec<Step>| {
            let (launch, awaits): (Vec<Step>, Vec<Step>) = servers
                .into_iter()
                .filter_map(|s| match s {
                    Step::StartNode(n) => Some((Step::LaunchNode(n.clone()), Step::AwaitNode(n))),
                    _ => None,
                })
                .unzip();
            phases.push(launch);
            phases.push(awaits.into_iter().chain(others).collect());
        };
        if self.fresh {
            let mut servers = servers.into_iter();
            let first: Vec<Step> = servers.next().into_iter().collect();
            launch_then(
                &mut phases,
                first,
                agents.into_iter().chain(balancer).collect(),
            );
            phases.extend(servers.map(|s| vec![s]));
            return phases;
        }
        // A node made again without its data volume has a new node password: the servers must
        // be up and forget the old one before it starts. Never server-0: without its volume
        // the cluster's own state is gone, and there is nobody left to ask.
        let forget: Vec<Step> = self
            .missing
            .iter()
            .filter(|n| n.role != Role::LoadBalancer && !(n.role == Role::Server && n.index == 0))
            .filter(|n| {
                !self.observed.volumes.contains(&names::data_volume(
                    &self.lab.name,
                    n.role,
                    n.index,
                ))
            })
            .map(|n| Step::ForgetNode(n.spec.name.clone()))
            .collect();
        if forget.is_empty() {
            // Everything stopped starts without waiting on another's boot (see above: agents
            // retry, servers need a quorum).
            launch_then(
                &mut phases,
                servers,
                agents.into_iter().chain(balancer).collect(),
            );
        } else {
            phases.extend([servers, forget, agents, balancer]);
        }
        phases
    }

    /// Wait for the API and every node.
    fn wait(&self) -> Vec<Step> {
        let c = &self.lab.cluster;
        vec![Step::WaitApi {
            nodes: c.servers + c.agents,
        }]
    }

    /// With the API up: agents beyond the count go, then the changed nodes are made again,
    /// one per phase so each is Ready before the next goes down: agents first (their pods
    /// move to the rest), then servers (an etcd quorum loses one member at a time), then the
    /// load balancer, whose config lists every node.
    fn reconcile(&self) -> Vec<Vec<Step>> {
        let mut phases: Vec<Vec<Step>> = self
            .removed
            .iter()
            .map(|(name, index)| {
                vec![Step::RemoveAgent {
                    name: name.clone(),
                    volume: names::data_volume(&self.lab.name, Role::Agent, *index),
                }]
            })
            .collect();
        let registry = self.registry_port.map(|port| RegistryMirror {
            port,
            ip: IpAddr::V4(registry_ip(self.base)),
        });
        for role in [Role::Agent, Role::Server, Role::LoadBalancer] {
            for (n, _) in self.changed.iter().filter(|(n, _)| n.role == role) {
                let k3s = role != Role::LoadBalancer;
                phases.push(vec![Step::RecreateNode {
                    node: Box::new(n.clone()),
                    cache: self.cache.cloned().filter(|_| k3s),
                    registry: registry.filter(|_| k3s),
                    user: self.lab.cluster.registries.clone().filter(|_| k3s),
                }]);
            }
        }
        phases
    }

    /// The last phase of every plan: the kubeconfig (and the registry's ConfigMap).
    fn last(&self) -> Vec<Step> {
        let c = &self.lab.cluster;
        let mut last = vec![Step::WriteKubeconfig {
            context: names::context(&self.lab.name),
            api_url: self.api_url.clone(),
        }];
        if let Some(registry) = c.registry {
            last.push(Step::PublishRegistry {
                port: registry.port,
            });
        }
        last
    }
}

/// k3s cannot change an existing lab's server count: a server started without
/// `--cluster-init` keeps its data in kine/sqlite and refuses joiners until it is
/// restarted with `--cluster-init` to migrate to etcd (k3s-io/k3s #3982), and removing
/// an etcd member needs `etcdctl member remove`. Refused before anything is made.
fn check_server_count(lab: &Lab, observed: &Observed) -> Result<(), PlanError> {
    let want = lab.cluster.servers;
    match observed
        .containers
        .iter()
        .filter_map(|c| c.labels.get(names::LABEL_SERVERS)?.parse::<u32>().ok())
        .find(|had| *had != want)
    {
        Some(had) => Err(PlanError::ServerCountChanged {
            lab: lab.name.to_string(),
            had,
            want,
        }),
        None => Ok(()),
    }
}

/// The lab's subnet. An existing network keeps its subnet; a lab whose network was removed
/// behind our back gets it back from its nodes' labels, so every node keeps its static
/// address; a new lab gets a free one.
fn subnet(observed: &Observed, inputs: &Inputs) -> Result<String, PlanError> {
    let recorded = observed
        .containers
        .iter()
        .find_map(|c| c.labels.get(names::LABEL_SUBNET).cloned());
    Ok(match (&observed.network_subnet, recorded) {
        (Some(s), _) if observed.network_exists => s.clone(),
        (_, Some(s)) if !observed.used_subnets.contains(&s) => s,
        _ => choose_subnet_from(&observed.used_subnets, inputs.subnet_seed)
            .ok_or(PlanError::NoSubnet)?,
    })
}

/// The API address is in every kubeconfig that reaches the lab and in the servers'
/// certificates (`--tls-san`): `up` does not move it under them.
fn check_api_address(lab: &Lab, observed: &Observed, inputs: &Inputs) -> Result<(), PlanError> {
    let c = &lab.cluster;
    let recorded = |label: &str| {
        observed
            .containers
            .iter()
            .find_map(|c| c.labels.get(label).cloned())
    };
    let had_port = recorded(names::LABEL_API_PORT);
    let had_host = recorded(names::LABEL_API_HOST);
    let want_host = c.api.host.to_string();
    let port_moved = c
        .api
        .port
        .zip(had_port.as_deref().and_then(|p| p.parse::<u16>().ok()))
        .is_some_and(|(want, had)| want != had);
    let host_moved = had_host.as_ref().is_some_and(|h| *h != want_host);
    if port_moved || host_moved {
        let had = format!(
            "{}:{}",
            had_host.unwrap_or_else(|| want_host.clone()),
            had_port.unwrap_or_default()
        );
        let want = format!("{want_host}:{}", c.api.port.unwrap_or(inputs.api_port));
        return Err(PlanError::ApiAddressChanged {
            lab: lab.name.to_string(),
            had,
            want,
        });
    }
    Ok(())
}

/// Every node the lab file asks for, in creation order: servers, agents, and the load
/// balancer of a multi-server lab.
fn desired_nodes(lab: &Lab, base: Ipv4Addr, inputs: &Inputs, fresh: bool) -> Vec<NodePlan> {
    let c = &lab.cluster;
    let mut nodes = Vec::new();
    for i in 0..c.servers {
        nodes.push(node_plan(lab, Role::Server, i, base, inputs, fresh));
    }
    for i in 0..c.agents {
        nodes.push(node_plan(lab, Role::Agent, i, base, inputs, fresh));
    }
    if c.servers > 1 {
        nodes.push(lb_plan(lab, base, &nodes, inputs));
    }
    nodes
}

/// One registry is shared by every lab: a lab that names another port than the one it
/// was made with is refused before anything is made.
fn check_registry_port(want: Option<u16>, observed: &Observed) -> Result<(), PlanError> {
    if let (Some(want), Some(existing)) = (want, &observed.registry)
        && let Some(have) = registry::port_of(&existing.labels)
        && have != want
    {
        return Err(PlanError::RegistryPort {
            container: existing.name.clone(),
            have,
            want,
        });
    }
    Ok(())
}

/// Existing nodes that differ from their spec, with how.
fn changed_nodes(
    nodes: &[NodePlan],
    existing: &BTreeMap<&str, &ContainerInfo>,
) -> Vec<(NodePlan, Vec<Change>)> {
    nodes
        .iter()
        .filter_map(|n| {
            let have = existing.get(n.spec.name.as_str())?;
            let changes = diff::node_changes(have, &n.spec);
            (!changes.is_empty()).then(|| (n.clone(), changes))
        })
        .collect()
}

/// Agents beyond `cluster.agents`: name and index, highest index first.
fn removed_agents(lab: &Lab, observed: &Observed) -> Vec<(String, u32)> {
    let mut removed: Vec<(String, u32)> = observed
        .containers
        .iter()
        .filter(|c| c.labels.get(names::LABEL_ROLE).map(String::as_str) == Some("agent"))
        .filter_map(|c| {
            let index = c.labels.get(names::LABEL_INDEX)?.parse::<u32>().ok()?;
            (index >= lab.cluster.agents).then(|| (c.name.clone(), index))
        })
        .collect();
    removed.sort_by_key(|(_, i)| std::cmp::Reverse(*i));
    removed
}

fn check_ports(nodes: &[NodePlan]) -> Result<(), PlanError> {
    let mut seen: BTreeMap<(IpAddr, u16, &str), usize> = BTreeMap::new();
    for n in nodes {
        for p in &n.spec.ports {
            *seen
                .entry((p.host_ip, p.host_port, p.protocol))
                .or_default() += 1;
        }
    }
    for ((_, port, _), count) in seen {
        if count > 1 {
            return Err(PlanError::PortOnManyNodes(port, count));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;

//! The pure plan: desired lab + what Docker already has → ordered phases of steps.
//!
//! No I/O happens here. The executor ([`super::up`]) gathers an [`Observed`] snapshot, asks
//! for a [`Plan`], prints it with `--dry-run` or runs it phase by phase. Steps inside one phase
//! are independent and run concurrently (image pulls, creating nodes, starting agents); the
//! phases themselves run in order (network before nodes, the init server before joiners,
//! servers before agents).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

use crate::config::{Lab, MAX_AGENTS, MAX_SERVERS, NodeFilter, Role};
use crate::docker::{ContainerInfo, ContainerSpec, Labels, NetworkSpec, PortBinding, RunState};
use crate::lab::client_host;

use super::cache::{self, CacheSettings, CacheStep};
use super::names;
use super::registry::{self, RegistryMirror, RegistrySettings, RegistryStep};

/// The log line k3d waits for, by role and intent (k3d `pkg/types/k3slogs.go`).
pub fn ready_line(role: Role, init_on_create: bool) -> &'static str {
    match role {
        // With embedded etcd the init server cannot finish starting before others join.
        Role::Server if init_on_create => "Containerd is now running",
        Role::Server => "k3s is up and running",
        Role::Agent => "Successfully registered node",
        Role::LoadBalancer => "start worker processes",
    }
}

/// The script every k3s node runs before k3s: it makes the container what k3s needs (a shared
/// `/`, the node password in the data volume, a resolver kubelet accepts), then execs
/// `/bin/k3s` with the node's command, so k3s runs as PID 1. See the script for the upstream
/// reasons. It is passed inline (`sh -c SCRIPT playground-node ARGS…`), so it needs no copy
/// step and every start runs the version the node was created with.
pub const NODE_ENTRYPOINT: &str = include_str!("node-entrypoint.sh");

/// The variable that tells the entrypoint which address to answer DNS on.
pub const DNS_ADDR_ENV: &str = "PLAYGROUND_DNS_ADDR";

/// The entrypoint of a k3s node: `/bin/sh -c` [`NODE_ENTRYPOINT`]; the node's command follows
/// as the script's arguments (`$0` names the script in `ps` and in error messages).
pub fn node_entrypoint() -> Vec<String> {
    vec![
        "/bin/sh".into(),
        "-c".into(),
        NODE_ENTRYPOINT.into(),
        "playground-node".into(),
    ]
}

/// The image of the multi-server load balancer: nginx with a generated stream config.
pub const LB_IMAGE: &str = "nginx:1.29-alpine";

/// Names another load balancer image (tests use a stand-in that serves the same config).
pub const ENV_LB_IMAGE: &str = "PLAYGROUND_LB_IMAGE";

/// [`ENV_LB_IMAGE`], or [`LB_IMAGE`].
pub fn lb_image_from_env() -> String {
    std::env::var(ENV_LB_IMAGE)
        .ok()
        .map(|i| i.trim().to_string())
        .filter(|i| !i.is_empty())
        .unwrap_or_else(|| LB_IMAGE.to_string())
}

/// What Docker has now, gathered by the executor before planning.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    /// Containers that carry this lab's cluster label.
    pub containers: Vec<ContainerInfo>,
    /// Containers whose names we want but which are not ours.
    pub foreign: Vec<String>,
    pub network_exists: bool,
    pub network_subnet: Option<String>,
    /// Subnets already used by other networks.
    pub used_subnets: Vec<String>,
    pub images_present: BTreeSet<String>,
    /// The shared image caches that exist (inspected: their networks are known).
    pub caches: Vec<ContainerInfo>,
    /// Whether the cache image is local.
    pub cache_image_present: bool,
    /// The shared lab registry, if it exists (inspected), whether or not this lab asks for it.
    pub registry: Option<ContainerInfo>,
    /// Whether the registry image is local.
    pub registry_image_present: bool,
    /// The lab's volumes that exist (its nodes' data volumes among them).
    pub volumes: BTreeSet<String>,
}

/// Choices made before planning (so the plan stays pure).
#[derive(Debug, Clone)]
pub struct Inputs {
    /// The API host port: from the existing server, the file, or a free port.
    pub api_port: u16,
    /// The cluster join token: from an existing node, or freshly generated.
    pub token: String,
    pub pull: PullPolicy,
    /// Where the search for a free subnet starts (random in `up`, 0 in tests).
    pub subnet_seed: u32,
    /// A local Git repository to mount read-only into every node (at
    /// [`crate::lab::LOCAL_REPO_MOUNT`]). Mounts cannot be added to a container
    /// later, so this follows the lab file, not `--cluster-only`.
    pub repo_mount: Option<std::path::PathBuf>,
    /// The host port of the Argo CD UI (plain HTTP on 127.0.0.1), published to the
    /// `argocd-server` NodePort.
    pub ui_port: Option<u16>,
    /// The image cache's image and namespace; `None` plans no cache. The cache is planned only
    /// when the lab's `cluster.imageCache` is on as well.
    pub cache: Option<CacheSettings>,
    /// The load balancer's image: [`LB_IMAGE`] unless [`ENV_LB_IMAGE`] names another.
    pub lb_image: String,
    /// The lab registry's image and namespace, used when the lab has `cluster.registry`.
    pub registry: RegistrySettings,
}

/// When to pull images.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PullPolicy {
    #[default]
    Missing,
    Always,
    Never,
}

/// One node, fully specified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodePlan {
    pub role: Role,
    pub index: u32,
    pub spec: ContainerSpec,
    pub ready_line: &'static str,
}

/// One thing to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Make sure these host ports are free before anything is created.
    CheckPorts(Vec<PortBinding>),
    EnsureNetwork(NetworkSpec),
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
    },
    StartNode(Box<NodePlan>),
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
}

/// Ordered phases; the steps of a phase may run concurrently.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub phases: Vec<Vec<Step>>,
    /// True when nothing of the lab existed: on failure the executor rolls back everything.
    pub fresh: bool,
    pub api_url: String,
}

/// Why a lab cannot be planned.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PlanError {
    #[error(
        "container name {0} is taken by a container that playground did not create\n  hint: remove or rename it (`docker rm -f {0}`), or choose another metadata.name"
    )]
    NameTaken(String),
    #[error(
        "host port {0} is bound {1} times; a host port can be bound only once\n  hint: check cluster.ports (narrow a node filter to one node, e.g. @agent:0), cluster.api.port and argocd.ui.port"
    )]
    PortOnManyNodes(u16, usize),
    #[error("host port {0} is mapped twice")]
    PortTwice(u16),
    #[error(
        "lab {lab} was created with {had} server(s) and its file now asks for {want}; the server count of an existing lab cannot change (a single server keeps its data in sqlite and cannot take members, and etcd members are not added or removed by `up`)\n  hint: set cluster.servers back to {had}, or rebuild the lab: `playground drop {lab}` then `playground up` (or `playground restore` to bring back its kept Secrets)"
    )]
    ServerCountChanged { lab: String, had: u32, want: u32 },
    #[error(
        "the lab asks for the registry on port {want}, but the shared registry {container} runs on 127.0.0.1:{have}; labs share one registry\n  hint: set `cluster.registry.port: {have}`, or remove the registry and what was pushed to it (`playground cache prune`) to make it again on {want}"
    )]
    RegistryPort {
        container: String,
        have: u16,
        want: u16,
    },
    #[error(
        "no free subnet for the lab network in 172.28.0.0/14\n  hint: remove unused Docker networks (`docker network prune`)"
    )]
    NoSubnet,
}

impl Plan {
    /// All node plans, in creation order.
    pub fn nodes(&self) -> impl Iterator<Item = &NodePlan> {
        self.phases.iter().flatten().filter_map(|s| match s {
            Step::CreateNode(n) => Some(&**n),
            _ => None,
        })
    }
}

/// Build the plan for `up`.
pub fn plan_up(lab: &Lab, observed: &Observed, inputs: &Inputs) -> Result<Plan, PlanError> {
    let c = &lab.cluster;
    let existing: BTreeMap<&str, &ContainerInfo> = observed
        .containers
        .iter()
        .map(|c| (c.name.as_str(), c))
        .collect();
    let fresh = observed.containers.is_empty() && !observed.network_exists;

    // k3s cannot change an existing lab's server count: a server started without
    // `--cluster-init` keeps its data in kine/sqlite and refuses joiners until it is restarted
    // with `--cluster-init` to migrate to etcd (k3s-io/k3s #3982), and removing an etcd
    // member needs `etcdctl member remove`. Refused before anything is made.
    if let Some(had) = observed
        .containers
        .iter()
        .filter_map(|c| c.labels.get(names::LABEL_SERVERS)?.parse::<u32>().ok())
        .find(|had| *had != c.servers)
    {
        return Err(PlanError::ServerCountChanged {
            lab: lab.name.clone(),
            had,
            want: c.servers,
        });
    }

    // An existing network keeps its subnet; a lab whose network was removed behind our back
    // gets it back from its nodes' labels, so every node keeps its static address.
    let recorded = observed
        .containers
        .iter()
        .find_map(|c| c.labels.get(names::LABEL_SUBNET).cloned());
    let subnet = match (&observed.network_subnet, recorded) {
        (Some(s), _) if observed.network_exists => s.clone(),
        (_, Some(s)) if !observed.used_subnets.contains(&s) => s,
        _ => choose_subnet_from(&observed.used_subnets, inputs.subnet_seed)
            .ok_or(PlanError::NoSubnet)?,
    };
    let base = subnet_base(&subnet).unwrap_or(Ipv4Addr::new(172, 28, 0, 0));

    let mut cluster_labels = Labels::new();
    cluster_labels.insert(names::LABEL_CLUSTER.into(), lab.name.clone());

    let api_host = c.api.host;
    let api_url = format!("https://{}:{}", client_host(api_host), inputs.api_port);

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
    check_ports(&nodes)?;

    for n in &nodes {
        if observed.foreign.contains(&n.spec.name) {
            return Err(PlanError::NameTaken(n.spec.name.clone()));
        }
    }

    // One registry is shared by every lab: a lab that names another port than the one it
    // was made with is refused before anything is made.
    let registry_port = c.registry.map(|r| r.port);
    if let (Some(want), Some(existing)) = (registry_port, &observed.registry)
        && let Some(have) = registry::port_of(&existing.labels)
        && have != want
    {
        return Err(PlanError::RegistryPort {
            container: existing.name.clone(),
            have,
            want,
        });
    }
    let registry_running = observed
        .registry
        .as_ref()
        .is_some_and(|r| r.state == RunState::Running);

    let mut plan = Plan {
        fresh,
        api_url: api_url.clone(),
        ..Default::default()
    };

    // Ports of nodes we will create (or start) must be free; a running node of ours already
    // holds its own ports, so those are not checked.
    let mut to_bind: Vec<PortBinding> = nodes
        .iter()
        .filter(|n| {
            existing
                .get(n.spec.name.as_str())
                .is_none_or(|e| e.state != RunState::Running && e.state != RunState::Paused)
        })
        .flat_map(|n| n.spec.ports.clone())
        .collect();
    // The registry binds its port when it is created or started.
    if let Some(port) = registry_port
        && !registry_running
    {
        to_bind.push(RegistrySettings::binding(port));
    }
    // Its image is needed only to create it.
    let registry_image = registry_port
        .filter(|_| observed.registry.is_none() && !observed.registry_image_present)
        .map(|_| inputs.registry.image.as_str());
    // Checks come first, in one phase: nothing is created before every one has passed.
    let mut checks = Vec::new();
    if !to_bind.is_empty() {
        checks.push(Step::CheckPorts(to_bind));
    }
    let missing_nodes = nodes
        .iter()
        .filter(|n| !existing.contains_key(n.spec.name.as_str()));
    let needed: BTreeSet<&str> = missing_nodes.map(|n| n.spec.image.as_str()).collect();
    if inputs.pull == PullPolicy::Never {
        for image in needed
            .iter()
            .filter(|i| !observed.images_present.contains(**i))
        {
            checks.push(Step::RequireImage((*image).into()));
        }
        if let Some(image) = registry_image {
            checks.push(Step::RequireImage(image.into()));
        }
    }
    if !checks.is_empty() {
        plan.phases.push(checks);
    }

    if !observed.network_exists {
        let mut labels = cluster_labels.clone();
        labels.insert(names::LABEL_ROLE.into(), "network".into());
        plan.phases.push(vec![Step::EnsureNetwork(NetworkSpec {
            name: names::network(&lab.name),
            labels,
            subnet: Some(subnet.clone()),
            gateway: Some(gateway_ip(base).to_string()),
        })]);
        // Nodes that outlived their network go back on the new one, at their addresses.
        let orphans: Vec<Step> = nodes
            .iter()
            .filter(|n| existing.contains_key(n.spec.name.as_str()))
            .map(|n| Step::AttachNode(Box::new(n.clone())))
            .collect();
        if !orphans.is_empty() {
            plan.phases.push(orphans);
        }
    }

    // Volumes and images are independent of each other: one concurrent phase.
    let mut prep = Vec::new();
    let missing: Vec<&NodePlan> = nodes
        .iter()
        .filter(|n| !existing.contains_key(n.spec.name.as_str()))
        .collect();
    for n in &missing {
        if n.role != Role::LoadBalancer {
            let mut labels = cluster_labels.clone();
            labels.insert(names::LABEL_ROLE.into(), "volume".into());
            prep.push(Step::EnsureVolume {
                name: names::data_volume(&lab.name, n.role, n.index),
                labels,
            });
        }
    }
    if !missing.is_empty() {
        let mut labels = cluster_labels.clone();
        labels.insert(names::LABEL_ROLE.into(), "volume".into());
        prep.push(Step::EnsureVolume {
            name: names::images_volume(&lab.name),
            labels,
        });
    }
    let mut images: BTreeSet<&str> = missing.iter().map(|n| n.spec.image.as_str()).collect();
    images.extend(registry_image);
    for image in images {
        let present = observed.images_present.contains(image)
            || (Some(image) == registry_image && observed.registry_image_present);
        match inputs.pull {
            PullPolicy::Always => prep.push(Step::PullImage(image.into())),
            PullPolicy::Missing if !present => prep.push(Step::PullImage(image.into())),
            // Required in the checks phase above.
            _ => {}
        }
    }
    // The cache is optional: its image is fetched alongside the nodes' images, and a failure
    // there turns the cache off for this run instead of failing the lab.
    let cache = inputs.cache.as_ref().filter(|_| c.image_cache);
    // The lab's image export is kept by `drop` and only ever made here, before the nodes
    // that mount it. It needs no cache image, so a cache that is off does not skip it.
    if let Some(cache) = cache
        && !missing.is_empty()
    {
        prep.push(Step::EnsureVolume {
            name: cache.export_volume(&lab.name),
            labels: cache.export_labels(&lab.name),
        });
    }
    if let Some(cache) = cache
        && !observed.cache_image_present
    {
        prep.push(Step::EnsureCacheImage {
            image: cache.image.clone(),
            pull: inputs.pull != PullPolicy::Never,
        });
    }
    if !prep.is_empty() {
        plan.phases.push(prep);
    }
    let network = names::network(&lab.name);
    let mut shared = Vec::new();
    if let Some(cache) = cache {
        let ready = |name: &str| {
            observed.caches.iter().any(|c| {
                c.name == name && c.state == RunState::Running && c.ips.contains_key(&network)
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
                    &network,
                    IpAddr::V4(cache_ip(base, i)),
                )))
            })
            .collect();
    }
    if let Some(port) = registry_port {
        let attached = observed
            .registry
            .as_ref()
            .is_some_and(|r| r.ips.contains_key(&network));
        if !(registry_running && attached) {
            shared.push(Step::EnsureRegistry(Box::new(RegistryStep::new(
                &inputs.registry,
                port,
                &network,
                IpAddr::V4(registry_ip(base)),
            ))));
        }
    }
    if !shared.is_empty() {
        plan.phases.push(shared);
    }

    let creates: Vec<Step> = missing
        .iter()
        .map(|n| Step::CreateNode(Box::new((*n).clone())))
        .collect();
    if !creates.is_empty() {
        plan.phases.push(creates);
    }
    // k3s reads registries.yaml at start: new nodes get it between create and first start.
    let registry_mirror = registry_port.map(|port| RegistryMirror {
        port,
        ip: IpAddr::V4(registry_ip(base)),
    });
    if cache.is_some() || registry_mirror.is_some() {
        let nodes: Vec<String> = missing
            .iter()
            .filter(|n| n.role != Role::LoadBalancer)
            .map(|n| n.spec.name.clone())
            .collect();
        if !nodes.is_empty() {
            plan.phases.push(vec![Step::WriteMirrors {
                nodes,
                cache: cache.cloned(),
                registry: registry_mirror,
            }]);
        }
    }

    // Start order. A fresh lab starts the init server, every agent and the load balancer at
    // once: a k3s agent retries its join until the server answers (k3s `pkg/agent/run.go`
    // retries `getConfig`), and the load balancer's upstreams are static addresses, so none of
    // them waits on the server's boot to begin its own. Joining servers follow one at a time,
    // each once the one before is up (k3d #452: etcd adds one member at a time).
    // An existing lab starts what is stopped: servers, then agents, then the load balancer.
    // Existing servers that are stopped start together: a
    // restarted etcd member logs "k3s is up and running" only once its etcd is ready
    // (k3s `pkg/cli/server/server.go` waits on `ETCDReady`), which needs a quorum of the
    // members, so waiting for one before starting the next never ends (F2).
    let needs_start = |n: &NodePlan| {
        existing
            .get(n.spec.name.as_str())
            .is_none_or(|e| e.state != RunState::Running && e.state != RunState::Paused)
    };
    let mut unpause = Vec::new();
    for n in &nodes {
        if existing
            .get(n.spec.name.as_str())
            .is_some_and(|e| e.state == RunState::Paused)
        {
            unpause.push(Step::UnpauseNode(n.spec.name.clone()));
        }
    }
    if !unpause.is_empty() {
        plan.phases.push(unpause);
    }
    let servers: Vec<Step> = nodes
        .iter()
        .filter(|n| n.role == Role::Server && needs_start(n))
        .map(|n| Step::StartNode(Box::new(n.clone())))
        .collect();
    let agents: Vec<Step> = nodes
        .iter()
        .filter(|n| n.role == Role::Agent && needs_start(n))
        .map(|n| Step::StartNode(Box::new(n.clone())))
        .collect();
    let balancer: Vec<Step> = nodes
        .iter()
        .filter(|n| n.role == Role::LoadBalancer && needs_start(n))
        .map(|n| Step::StartNode(Box::new(n.clone())))
        .collect();
    if fresh {
        let mut servers = servers.into_iter();
        let mut first: Vec<Step> = servers.next().into_iter().collect();
        first.extend(agents);
        first.extend(balancer);
        if !first.is_empty() {
            plan.phases.push(first);
        }
        plan.phases.extend(servers.map(|s| vec![s]));
        return Ok(finish(plan, c, &lab.name, api_url));
    }
    // A node made again without its data volume has a new node password: the servers must be
    // up and forget the old one before it starts. Never server-0: without its volume the
    // cluster's own state is gone, and there is nobody left to ask.
    let forget: Vec<Step> = missing
        .iter()
        .filter(|n| n.role != Role::LoadBalancer && !(n.role == Role::Server && n.index == 0))
        .filter(|n| {
            !observed
                .volumes
                .contains(&names::data_volume(&lab.name, n.role, n.index))
        })
        .map(|n| Step::ForgetNode(n.spec.name.clone()))
        .collect();
    if forget.is_empty() {
        // Everything stopped starts at once (see above: agents retry, servers need a quorum).
        let all: Vec<Step> = servers.into_iter().chain(agents).chain(balancer).collect();
        if !all.is_empty() {
            plan.phases.push(all);
        }
    } else {
        for phase in [servers, forget, agents, balancer] {
            if !phase.is_empty() {
                plan.phases.push(phase);
            }
        }
    }
    Ok(finish(plan, c, &lab.name, api_url))
}

/// The last two phases of every plan: wait for the API and every node, then the kubeconfig.
fn finish(mut plan: Plan, c: &crate::config::ClusterSpec, lab: &str, api_url: String) -> Plan {
    plan.phases.push(vec![Step::WaitApi {
        nodes: c.servers + c.agents,
    }]);
    let mut last = vec![Step::WriteKubeconfig {
        context: names::context(lab),
        api_url,
    }];
    if let Some(registry) = c.registry {
        last.push(Step::PublishRegistry {
            port: registry.port,
        });
    }
    plan.phases.push(last);
    plan
}

/// The Argo CD UI: always on 127.0.0.1 (a cluster-admin UI is not for the network), to the
/// `argocd-server` NodePort, which k3s serves on every node.
fn ui_binding(host_port: u16) -> PortBinding {
    PortBinding {
        host_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
        host_port,
        container_port: crate::lab::ARGOCD_UI_NODE_PORT,
        protocol: "tcp",
    }
}

/// The gateway of the lab network: the first address of its subnet.
pub fn gateway_ip(base: Ipv4Addr) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(base) + 1)
}

/// The static address of the `index`th image cache on a lab network: .245 up (one per
/// upstream), below the load balancer's .254 and far above the last agent's (.40), so a cache
/// never takes a node's address (see [`cache`]).
pub fn cache_ip(base: Ipv4Addr, index: usize) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(base) + CACHE_IP_OFFSET + index as u32)
}

const CACHE_IP_OFFSET: u32 = 245;

/// The static address of the lab registry on a lab network: .244, just below the caches and,
/// like them, far above the last agent's (see [`registry`]).
pub fn registry_ip(base: Ipv4Addr) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(base) + REGISTRY_IP_OFFSET)
}

const REGISTRY_IP_OFFSET: u32 = 244;
const _: () = assert!(
    REGISTRY_IP_OFFSET < CACHE_IP_OFFSET && REGISTRY_IP_OFFSET > 2 + MAX_SERVERS + MAX_AGENTS,
    "the lab registry would take a cache's or a node's address"
);
const _: () = assert!(
    CACHE_IP_OFFSET as usize + cache::UPSTREAMS.len() <= 254,
    "image caches would take the load balancer's address"
);

fn node_ip(base: Ipv4Addr, role: Role, index: u32) -> Ipv4Addr {
    // .1 is the gateway. Servers from .2, agents after the largest server count, LB at .254.
    let offset = match role {
        Role::Server => 2 + index,
        Role::Agent => 2 + MAX_SERVERS + index,
        Role::LoadBalancer => 254,
    };
    Ipv4Addr::from(u32::from(base) + offset)
}

/// The labels every node carries. Later commands read a lab from these alone: its shape,
/// its API address, where Argo CD lives and which repository it was seeded from.
fn node_labels(lab: &Lab, role: Role, index: u32, base: Ipv4Addr, inputs: &Inputs) -> Labels {
    let c = &lab.cluster;
    let mut labels = Labels::new();
    labels.insert(names::LABEL_SUBNET.into(), format!("{base}/24"));
    labels.insert(names::LABEL_CLUSTER.into(), lab.name.clone());
    labels.insert(names::LABEL_ROLE.into(), role.as_str().into());
    labels.insert(names::LABEL_INDEX.into(), index.to_string());
    labels.insert(names::LABEL_SERVERS.into(), c.servers.to_string());
    labels.insert(names::LABEL_AGENTS.into(), c.agents.to_string());
    labels.insert(names::LABEL_API_HOST.into(), c.api.host.to_string());
    labels.insert(names::LABEL_API_PORT.into(), inputs.api_port.to_string());
    labels.insert(
        names::LABEL_ARGOCD_NAMESPACE.into(),
        lab.argocd.namespace.clone(),
    );
    if let Some(ui) = inputs.ui_port {
        labels.insert(names::LABEL_UI_PORT.into(), ui.to_string());
    }
    if let Some(repo) = &inputs.repo_mount {
        labels.insert(names::LABEL_REPO.into(), repo.display().to_string());
    }
    labels
}

fn node_plan(
    lab: &Lab,
    role: Role,
    index: u32,
    base: Ipv4Addr,
    inputs: &Inputs,
    fresh: bool,
) -> NodePlan {
    let c = &lab.cluster;
    let name = names::node(&lab.name, role, index);
    let server0 = names::node(&lab.name, Role::Server, 0);
    let labels = node_labels(lab, role, index, base, inputs);

    let mut env = vec![
        format!("K3S_TOKEN={}", inputs.token),
        format!("K3S_KUBECONFIG_OUTPUT={}", names::KUBECONFIG_OUTPUT),
        // Where the entrypoint makes Docker's resolver answer for kubelet and pods.
        format!("{DNS_ADDR_ENV}={}", gateway_ip(base)),
    ];
    let joins = role == Role::Agent || index > 0;
    if joins {
        env.push(format!("K3S_URL=https://{server0}:6443"));
    }
    for e in &c.env {
        if e.filter.matches(role, index, c.servers) {
            env.push(format!("{}={}", e.value.key, e.value.value));
        }
    }

    let mut cmd = vec![role.as_str().to_string()];
    if role == Role::Server {
        if c.servers > 1 && index == 0 {
            cmd.push("--cluster-init".into());
        }
        let mut sans: Vec<String> =
            vec![client_host(c.api.host).trim_matches(['[', ']']).to_string()];
        if !c.api.host.is_unspecified() && c.api.host.to_string() != sans[0] {
            sans.push(c.api.host.to_string());
        }
        for extra in ["127.0.0.1", "localhost"] {
            if !sans.iter().any(|s| s == extra) {
                sans.push(extra.into());
            }
        }
        sans.push(name.clone());
        if c.servers > 1 {
            sans.push(names::node(&lab.name, Role::LoadBalancer, 0));
        }
        for san in sans {
            cmd.push("--tls-san".into());
            cmd.push(san);
        }
    }
    for a in &c.k3s_args {
        if a.filter.matches(role, index, c.servers) {
            cmd.push(a.value.clone());
        }
    }

    let mut binds = vec![
        format!(
            "{}:/var/lib/rancher/k3s",
            names::data_volume(&lab.name, role, index)
        ),
        format!(
            "{}:/var/lib/playground/images",
            names::images_volume(&lab.name)
        ),
    ];
    // The images this lab's nodes held when a lab of this name was last dropped: k3s imports
    // them at start, so a lab made again downloads nothing it had (see `cache` module docs).
    if let Some(cache) = inputs.cache.as_ref().filter(|_| c.image_cache) {
        binds.push(format!(
            "{}:{}",
            cache.export_volume(&lab.name),
            cache::AIRGAP_IMAGES
        ));
    }
    if let Some(repo) = &inputs.repo_mount {
        binds.push(format!(
            "{}:{}:ro",
            repo.display(),
            crate::lab::LOCAL_REPO_MOUNT
        ));
    }

    let mut ports = Vec::new();
    if role == Role::Server && index == 0 && c.servers == 1 {
        ports.push(PortBinding {
            host_ip: c.api.host,
            host_port: inputs.api_port,
            container_port: 6443,
            protocol: "tcp",
        });
        if let Some(ui) = inputs.ui_port {
            ports.push(ui_binding(ui));
        }
    }
    for p in &c.ports {
        if p.target.matches(role, index, c.servers) {
            ports.push(PortBinding {
                host_ip: p.host_ip,
                host_port: p.host_port,
                container_port: p.container_port,
                protocol: p.protocol.as_str(),
            });
        }
    }

    NodePlan {
        role,
        index,
        ready_line: ready_line(
            role,
            role == Role::Server && index == 0 && c.servers > 1 && fresh,
        ),
        spec: ContainerSpec {
            hostname: name.clone(),
            name,
            image: c.image.clone(),
            entrypoint: node_entrypoint(),
            cmd,
            env,
            labels,
            network: names::network(&lab.name),
            ip: Some(IpAddr::V4(node_ip(base, role, index))),
            binds,
            tmpfs: vec!["/run".into(), "/var/run".into()],
            privileged: c.privileged,
            // A node that is not privileged (the tests' stand-in) still gets what our own
            // entrypoint needs: a shared / (SYS_ADMIN) and the DNS rules (NET_ADMIN).
            cap_add: if c.privileged {
                Vec::new()
            } else {
                vec!["SYS_ADMIN".into(), "NET_ADMIN".into()]
            },
            // Docker refuses privileged containers in a remapped user namespace (k3d sets the
            // same on every node, k3d#1442).
            userns_host: true,
            // k3s must be PID 1 (see node-entrypoint.sh): no docker-init in front of it.
            init: false,
            restart_unless_stopped: true,
            ports,
            // `host-gateway` is the address Docker itself gives for "the host": the bridge
            // gateway on Linux, the Mac or Windows host on Docker Desktop (whose bridge
            // gateway is the VM). Docker rewrites /etc/hosts on every start.
            extra_hosts: vec![format!("{}:host-gateway", names::HOST_ALIAS)],
        },
    }
}

/// The nginx stream config for the multi-server load balancer. Upstreams are static IPs, not
/// container names: nginx resolves names once at start and dies with "host not found in
/// upstream" when a node is down (k3d #947).
pub fn lb_config(upstreams: &BTreeMap<(u16, &'static str), Vec<Ipv4Addr>>) -> String {
    let mut out = String::from(
        "error_log stderr notice;\nworker_processes auto;\nevents { worker_connections 1024; }\nstream {\n",
    );
    for ((port, proto), ips) in upstreams {
        out.push_str(&format!("  upstream u_{port}_{proto} {{\n"));
        for ip in ips {
            out.push_str(&format!(
                "    server {ip}:{port} max_fails=1 fail_timeout=10s;\n"
            ));
        }
        let udp = if *proto == "udp" { " udp" } else { "" };
        out.push_str(&format!(
            "  }}\n  server {{\n    listen {port}{udp};\n    proxy_pass u_{port}_{proto};\n    proxy_timeout 600s;\n    proxy_connect_timeout 2s;\n  }}\n"
        ));
    }
    out.push_str("}\n");
    out
}

fn lb_plan(lab: &Lab, base: Ipv4Addr, nodes: &[NodePlan], inputs: &Inputs) -> NodePlan {
    let c = &lab.cluster;
    let name = names::node(&lab.name, Role::LoadBalancer, 0);
    let servers: Vec<Ipv4Addr> = nodes
        .iter()
        .filter(|n| n.role == Role::Server)
        .map(|n| node_ip(base, n.role, n.index))
        .collect();
    let all: Vec<Ipv4Addr> = nodes
        .iter()
        .map(|n| node_ip(base, n.role, n.index))
        .collect();
    let mut upstreams = BTreeMap::new();
    upstreams.insert((6443u16, "tcp"), servers);
    let mut ports = vec![PortBinding {
        host_ip: c.api.host,
        host_port: inputs.api_port,
        container_port: 6443,
        protocol: "tcp",
    }];
    for p in c
        .ports
        .iter()
        .filter(|p| p.target == NodeFilter::LoadBalancer)
    {
        upstreams.insert((p.container_port, p.protocol.as_str()), all.clone());
        ports.push(PortBinding {
            host_ip: p.host_ip,
            host_port: p.host_port,
            container_port: p.container_port,
            protocol: p.protocol.as_str(),
        });
    }
    if let Some(ui) = inputs.ui_port {
        upstreams.insert((crate::lab::ARGOCD_UI_NODE_PORT, "tcp"), all.clone());
        ports.push(ui_binding(ui));
    }
    let labels = node_labels(lab, Role::LoadBalancer, 0, base, inputs);
    NodePlan {
        role: Role::LoadBalancer,
        index: 0,
        ready_line: ready_line(Role::LoadBalancer, false),
        spec: ContainerSpec {
            hostname: name.clone(),
            name,
            image: inputs.lb_image.clone(),
            // The config travels in the environment and is written on every start, so it
            // needs no copy step and survives restarts as it is.
            cmd: vec![
                "sh".into(),
                "-c".into(),
                "printf '%s' \"$PLAYGROUND_NGINX_CONF\" > /etc/nginx/nginx.conf && exec nginx -g 'daemon off;'".into(),
            ],
            env: vec![format!("PLAYGROUND_NGINX_CONF={}", lb_config(&upstreams))],
            labels,
            network: names::network(&lab.name),
            ip: Some(IpAddr::V4(node_ip(base, Role::LoadBalancer, 0))),
            binds: vec![],
            tmpfs: vec![],
            privileged: false,
            entrypoint: Vec::new(),
            cap_add: Vec::new(),
            userns_host: false,
            init: true,
            restart_unless_stopped: true,
            ports,
            extra_hosts: vec![],
        },
    }
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

fn parse_cidr(s: &str) -> Option<(u32, u32)> {
    let (ip, len) = s.split_once('/')?;
    let ip: Ipv4Addr = ip.parse().ok()?;
    let len: u32 = len.parse().ok()?;
    let mask = if len == 0 {
        0
    } else {
        u32::MAX << (32 - len.min(32))
    };
    let start = u32::from(ip) & mask;
    Some((start, start | !mask))
}

fn subnet_base(s: &str) -> Option<Ipv4Addr> {
    parse_cidr(s).map(|(start, _)| Ipv4Addr::from(start))
}

/// The first /24 in 172.28.0.0/14 that overlaps no network Docker already has.
pub fn choose_subnet(used: &[String]) -> Option<String> {
    choose_subnet_from(used, 0)
}

/// Like [`choose_subnet`], searching from candidate `start` (wrapping), so labs created at
/// the same moment rarely pick the same one.
pub fn choose_subnet_from(used: &[String], start: u32) -> Option<String> {
    let used: Vec<(u32, u32)> = used.iter().filter_map(|s| parse_cidr(s)).collect();
    (0u32..1024).map(|i| (i + start) % 1024).find_map(|i| {
        let start = u32::from(Ipv4Addr::new(172, 28, 0, 0)) + (i << 8);
        let end = start | 0xff;
        let free = used.iter().all(|&(a, b)| end < a || start > b);
        free.then(|| format!("{}/24", Ipv4Addr::from(start)))
    })
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::CheckPorts(ports) => {
                let list: Vec<String> = ports
                    .iter()
                    .map(|p| format!("{}:{}/{}", p.host_ip, p.host_port, p.protocol))
                    .collect();
                write!(f, "check host ports are free: {}", list.join(", "))
            }
            Step::EnsureNetwork(n) => write!(
                f,
                "create network {} ({})",
                n.name,
                n.subnet.as_deref().unwrap_or("auto")
            ),
            Step::EnsureVolume { name, .. } => write!(f, "create volume {name}"),
            Step::PullImage(i) => write!(f, "pull image {i}"),
            Step::RequireImage(i) => write!(f, "require image {i} (--pull never)"),
            Step::EnsureCacheImage { image, pull } => write!(
                f,
                "{} image {image} for the image cache (optional: without it the lab runs uncached)",
                if *pull {
                    "pull"
                } else {
                    "require (--pull never)"
                }
            ),
            Step::EnsureCache(s) => write!(
                f,
                "ensure image cache {} for {} ({}), attached to {} at {}",
                s.spec.name, s.upstream.host, s.upstream.remote_url, s.network, s.ip
            ),
            Step::EnsureRegistry(r) => write!(
                f,
                "ensure lab registry {} on 127.0.0.1:{}, attached to {} at {}",
                r.spec.name, r.port, r.network, r.ip
            ),
            Step::WriteMirrors {
                nodes,
                cache,
                registry,
            } => {
                let mut mirrors: Vec<String> = Vec::new();
                if cache.is_some() {
                    mirrors.extend(cache::UPSTREAMS.map(|u| u.host.to_string()));
                }
                if let Some(r) = registry {
                    mirrors.push(format!("{} → {}", r.host(), r.endpoint()));
                }
                write!(
                    f,
                    "write {} into {} (mirrors: {})",
                    cache::REGISTRIES_YAML,
                    nodes.join(", "),
                    mirrors.join(", ")
                )
            }
            Step::PublishRegistry { port } => write!(
                f,
                "apply {}/{} (localhost:{port}, for Tilt, Skaffold, ctlptl)",
                registry::HOSTING_NAMESPACE,
                registry::HOSTING_NAME
            ),
            Step::CreateNode(n) => write!(
                f,
                "create {} ({}, {})",
                n.spec.name,
                n.role.as_str(),
                n.spec.image
            ),
            Step::StartNode(n) => {
                write!(f, "start {} and wait for \"{}\"", n.spec.name, n.ready_line)
            }
            Step::UnpauseNode(n) => write!(f, "unpause {n}"),
            Step::AttachNode(n) => write!(
                f,
                "attach {} to {} at {}",
                n.spec.name,
                n.spec.network,
                n.spec.ip.map(|i| i.to_string()).unwrap_or_default()
            ),
            Step::ForgetNode(n) => write!(
                f,
                "make the servers forget {n} (its data volume is gone, so it comes back as a new node)"
            ),
            Step::WaitApi { nodes } => {
                write!(
                    f,
                    "wait for the API (/readyz) and {nodes} Ready node(s); point {} at the host in CoreDNS",
                    names::HOST_ALIAS
                )
            }
            Step::WriteKubeconfig { context, api_url } => {
                write!(f, "write kube context {context} ({api_url})")
            }
        }
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, phase) in self.phases.iter().enumerate() {
            for (j, step) in phase.iter().enumerate() {
                let marker = if phase.len() > 1 {
                    if j == 0 { "┬" } else { "│" }
                } else {
                    " "
                };
                writeln!(f, "{:>2}. {marker} {step}", i + 1)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Filtered, PortMapping, Protocol, Selection, default_lab};

    fn inputs() -> Inputs {
        Inputs {
            api_port: 6550,
            token: "tok".into(),
            pull: PullPolicy::Missing,
            subnet_seed: 0,
            repo_mount: None,
            ui_port: None,
            cache: None,
            lb_image: LB_IMAGE.into(),
            registry: RegistrySettings::default(),
        }
    }

    fn cached() -> Inputs {
        Inputs {
            cache: Some(CacheSettings::default()),
            ..inputs()
        }
    }

    /// The index of the phase holding a step whose text starts with `prefix`.
    fn phase_of(plan: &Plan, prefix: &str) -> usize {
        plan.phases
            .iter()
            .position(|p| p.iter().any(|s| s.to_string().starts_with(prefix)))
            .unwrap_or_else(|| panic!("no step {prefix:?} in:\n{plan}"))
    }

    #[test]
    fn the_cache_is_ensured_after_the_network_and_mirrors_written_before_the_first_start() {
        let plan = plan_up(&lab(3, 1), &Observed::default(), &cached()).unwrap();
        let text = plan.to_string();
        // The image comes with the nodes' images; the caches follow the network, in one phase.
        let image = phase_of(&plan, "pull image registry:3 for the image cache");
        assert_eq!(image, phase_of(&plan, "pull image rancher/k3s"));
        let caches = phase_of(&plan, "ensure image cache");
        assert!(phase_of(&plan, "create network") < caches && image < caches);
        let steps: Vec<&CacheStep> = plan.phases[caches]
            .iter()
            .filter_map(|s| match s {
                Step::EnsureCache(c) => Some(&**c),
                _ => None,
            })
            .collect();
        let got: Vec<(&str, &str, String, &str)> = steps
            .iter()
            .map(|c| {
                (
                    c.upstream.host,
                    c.spec.name.as_str(),
                    c.ip.to_string(),
                    c.network.as_str(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (
                    "docker.io",
                    "playground-cache-docker-io",
                    "172.28.0.245".into(),
                    "playground-lab"
                ),
                (
                    "ghcr.io",
                    "playground-cache-ghcr-io",
                    "172.28.0.246".into(),
                    "playground-lab"
                ),
                (
                    "quay.io",
                    "playground-cache-quay-io",
                    "172.28.0.247".into(),
                    "playground-lab"
                ),
                (
                    "registry.k8s.io",
                    "playground-cache-registry-k8s-io",
                    "172.28.0.248".into(),
                    "playground-lab"
                ),
            ]
        );
        // No cache address is a node's.
        for n in plan.nodes() {
            assert!(
                !steps.iter().any(|c| Some(c.ip) == n.spec.ip),
                "{}",
                n.spec.name
            );
        }
        // Mirrors go to every new server and agent (not the load balancer), after create and
        // before any start.
        let mirrors = phase_of(&plan, "write /etc/rancher/k3s/registries.yaml");
        let Step::WriteMirrors {
            nodes,
            cache,
            registry,
        } = &plan.phases[mirrors][0]
        else {
            panic!("{text}")
        };
        assert_eq!(
            nodes,
            &[
                "playground-lab-server-0",
                "playground-lab-server-1",
                "playground-lab-server-2",
                "playground-lab-agent-0"
            ]
        );
        assert_eq!(cache, &Some(CacheSettings::default()));
        assert_eq!(registry, &None);
        assert!(phase_of(&plan, "create playground-lab-server-0") < mirrors);
        assert!(
            mirrors < phase_of(&plan, "start playground-lab-server-0"),
            "{text}"
        );
        // The lab's image export: made before the nodes, mounted in every server and agent at
        // k3s's airgap folder, and a cache object (`drop` keeps it), not the lab's.
        let export = phase_of(&plan, "create volume playground-cache-images-lab");
        assert!(export < phase_of(&plan, "create playground-lab-server-0"));
        let Some(Step::EnsureVolume { labels, .. }) = plan.phases[export]
            .iter()
            .find(|s| s.to_string() == "create volume playground-cache-images-lab")
        else {
            panic!("{text}")
        };
        assert_eq!(labels[names::LABEL_CACHE], "images");
        assert!(!labels.contains_key(names::LABEL_CLUSTER));
        for n in plan.nodes() {
            let mounted = n.spec.binds.contains(
                &"playground-cache-images-lab:/var/lib/rancher/k3s/agent/images".to_string(),
            );
            assert_eq!(mounted, n.role != Role::LoadBalancer, "{}", n.spec.name);
        }
    }

    #[test]
    fn the_lab_registry_is_ensured_mirrored_and_published_even_without_the_cache() {
        let mut l = lab(1, 1);
        l.cluster.image_cache = false;
        l.cluster.registry = Some(crate::config::RegistrySpec { port: 5001 });
        let plan = plan_up(&l, &Observed::default(), &inputs()).unwrap();
        let text = plan.to_string();
        // Its port is checked with the nodes', its image pulled with theirs.
        assert!(text.contains("127.0.0.1:5001/tcp"), "{text}");
        let image = phase_of(&plan, "pull image registry:3");
        let ensure = phase_of(
            &plan,
            "ensure lab registry playground-registry on 127.0.0.1:5001",
        );
        assert!(image < ensure && phase_of(&plan, "create network") < ensure);
        let Some(Step::EnsureRegistry(r)) = plan.phases[ensure]
            .iter()
            .find(|s| matches!(s, Step::EnsureRegistry(_)))
        else {
            panic!("{text}")
        };
        assert_eq!(r.ip.to_string(), "172.28.0.244");
        assert_eq!(r.network, "playground-lab");
        // No node has the registry's address.
        assert!(plan.nodes().all(|n| n.spec.ip != Some(r.ip)), "{text}");
        // Mirrors are written before the first start, with the registry alone.
        let mirrors = phase_of(&plan, "write /etc/rancher/k3s/registries.yaml");
        let Step::WriteMirrors {
            nodes,
            cache,
            registry,
        } = &plan.phases[mirrors][0]
        else {
            panic!("{text}")
        };
        assert_eq!(nodes.len(), 2);
        assert_eq!(cache, &None);
        assert_eq!(
            registry.map(|r| (r.host(), r.endpoint())),
            Some(("localhost:5001".into(), "http://172.28.0.244:5000".into()))
        );
        assert!(ensure < mirrors && mirrors < phase_of(&plan, "start playground-lab-server-0"));
        // The ConfigMap goes after the API is up.
        assert!(
            phase_of(&plan, "wait for the API")
                < phase_of(&plan, "apply kube-public/local-registry-hosting")
        );
        assert!(!text.contains("image cache"), "{text}");
    }

    #[test]
    fn a_running_registry_is_left_alone_and_another_port_refused() {
        let mut l = lab(1, 0);
        l.cluster.registry = Some(crate::config::RegistrySpec { port: 5001 });
        let first = plan_up(&l, &Observed::default(), &inputs()).unwrap();
        let spec = RegistrySettings::default().container_spec(5001);
        let registry = ContainerInfo {
            id: spec.name.clone(),
            name: spec.name.clone(),
            image: spec.image.clone(),
            labels: spec.labels.clone(),
            state: RunState::Running,
            ips: [("playground-lab".to_string(), "172.28.0.244".to_string())].into(),
            started_at: None,
            exit_code: None,
            restart_count: 0,
            env: Vec::new(),
            ports: spec.ports.clone(),
        };
        let observed = Observed {
            containers: running(&first),
            network_exists: true,
            network_subnet: Some("172.28.0.0/24".into()),
            registry: Some(registry.clone()),
            ..Default::default()
        };
        let text = plan_up(&l, &observed, &inputs()).unwrap().to_string();
        assert!(!text.contains("ensure lab registry"), "{text}");
        assert!(!text.contains("5001/tcp"), "{text}");
        assert!(!text.contains("pull image registry"), "{text}");
        // Still published on every up: the ConfigMap is cheap and idempotent.
        assert!(text.contains("local-registry-hosting"), "{text}");
        // On another lab's network only: attached to this one.
        let elsewhere = Observed {
            registry: Some(ContainerInfo {
                ips: [("playground-other".to_string(), "x".to_string())].into(),
                ..registry
            }),
            ..observed.clone()
        };
        let text = plan_up(&l, &elsewhere, &inputs()).unwrap().to_string();
        assert!(text.contains("ensure lab registry"), "{text}");
        l.cluster.registry = Some(crate::config::RegistrySpec { port: 5002 });
        let err = plan_up(&l, &observed, &inputs()).unwrap_err();
        assert_eq!(
            err,
            PlanError::RegistryPort {
                container: "playground-registry".into(),
                have: 5001,
                want: 5002
            }
        );
        assert!(
            err.to_string().contains("cluster.registry.port: 5001"),
            "{err}"
        );
    }

    #[test]
    fn no_cache_when_the_lab_turns_it_off() {
        let mut l = lab(1, 1);
        l.cluster.image_cache = false;
        let text = plan_up(&l, &Observed::default(), &cached())
            .unwrap()
            .to_string();
        assert!(
            !text.contains("cache") && !text.contains("registries.yaml"),
            "{text}"
        );
        let plan = plan_up(&l, &Observed::default(), &cached()).unwrap();
        assert!(plan.nodes().all(|n| {
            !n.spec
                .binds
                .iter()
                .any(|b| b.contains(cache::AIRGAP_IMAGES))
        }));
        // And none without cache settings, which is how the other tests plan.
        let text = plan_up(&lab(1, 1), &Observed::default(), &inputs())
            .unwrap()
            .to_string();
        assert!(!text.contains("cache"), "{text}");
    }

    #[test]
    fn caches_that_run_on_the_lab_network_are_left_alone() {
        let first = plan_up(&lab(1, 1), &Observed::default(), &cached()).unwrap();
        let settings = CacheSettings::default();
        let mut caches: Vec<ContainerInfo> = cache::UPSTREAMS
            .iter()
            .map(|u| ContainerInfo {
                id: String::new(),
                name: settings.container(u),
                image: "registry:3".into(),
                state: RunState::Running,
                labels: settings.labels(u),
                started_at: None,
                exit_code: None,
                restart_count: 0,
                ips: [("playground-lab".to_string(), "172.28.0.245".to_string())].into(),
                env: vec![],
                ports: vec![],
            })
            .collect();
        // ghcr.io's cache is stopped; quay.io's runs but only on another lab's network.
        caches[1].state = RunState::Exited;
        caches[2].ips = [("playground-other".to_string(), "x".to_string())].into();
        let observed = Observed {
            containers: running(&first),
            network_exists: true,
            network_subnet: Some("172.28.0.0/24".into()),
            caches,
            cache_image_present: true,
            ..Default::default()
        };
        let text = plan_up(&lab(1, 1), &observed, &cached())
            .unwrap()
            .to_string();
        assert!(!text.contains("for the image cache"), "{text}");
        assert!(!text.contains("registries.yaml"), "no new node: {text}");
        assert!(!text.contains("playground-cache-docker-io "), "{text}");
        assert!(
            !text.contains("playground-cache-registry-k8s-io "),
            "{text}"
        );
        assert!(
            text.contains("ensure image cache playground-cache-ghcr-io "),
            "{text}"
        );
        assert!(
            text.contains("ensure image cache playground-cache-quay-io "),
            "{text}"
        );
    }

    #[test]
    fn pull_never_requires_the_cache_image_without_pulling() {
        let never = Inputs {
            pull: PullPolicy::Never,
            ..cached()
        };
        let plan = plan_up(&lab(1, 0), &Observed::default(), &never).unwrap();
        assert!(plan.phases.iter().flatten().any(|s| *s
            == Step::EnsureCacheImage {
                image: "registry:3".into(),
                pull: false
            }));
    }

    fn lab(servers: u32, agents: u32) -> Lab {
        let mut lab = default_lab();
        lab.name = "lab".into();
        lab.cluster.servers = servers;
        lab.cluster.agents = agents;
        lab
    }

    fn running(plan: &Plan) -> Vec<ContainerInfo> {
        plan.nodes()
            .map(|n| ContainerInfo {
                id: n.spec.name.clone(),
                name: n.spec.name.clone(),
                image: n.spec.image.clone(),
                state: RunState::Running,
                labels: n.spec.labels.clone(),
                started_at: None,
                exit_code: None,
                restart_count: 0,
                ips: Default::default(),
                env: n.spec.env.clone(),
                ports: n.spec.ports.clone(),
            })
            .collect()
    }

    #[test]
    fn a_fresh_lab_is_built_in_order() {
        let plan = plan_up(&lab(1, 2), &Observed::default(), &inputs()).unwrap();
        assert!(plan.fresh);
        let text = plan.to_string();
        let order = [
            "check host ports",
            "create network playground-lab",
            "pull image",
            "create playground-lab-server-0",
            "start playground-lab-server-0",
            "start playground-lab-agent-0",
            "wait for the API",
            "write kube context",
        ];
        let mut at = 0;
        for want in order {
            let found = text[at..]
                .find(want)
                .unwrap_or_else(|| panic!("{want:?} missing or out of order in:\n{text}"));
            at += found;
        }
        // The agents start with the server, in its phase: nobody waits for the server's boot
        // to begin their own (agents retry their join), and the phase ends when all are up.
        let starts = starts(&plan);
        assert_eq!(
            starts.iter().map(|(_, n)| n.as_str()).collect::<Vec<_>>(),
            [
                "playground-lab-server-0",
                "playground-lab-agent-0",
                "playground-lab-agent-1"
            ]
        );
        assert!(starts.iter().all(|(phase, _)| *phase == starts[0].0));
        // One server: no load balancer, and the API is published on server-0 at 127.0.0.1.
        assert!(plan.nodes().all(|n| n.role != Role::LoadBalancer));
        let s0 = plan.nodes().next().unwrap();
        assert_eq!(
            s0.spec.ports,
            vec![PortBinding {
                host_ip: "127.0.0.1".parse().unwrap(),
                host_port: 6550,
                container_port: 6443,
                protocol: "tcp"
            }]
        );
        // k3s is PID 1 (no docker-init), behind our entrypoint, in the host user namespace.
        assert!(!s0.spec.init && s0.spec.restart_unless_stopped && s0.spec.userns_host);
        assert_eq!(s0.spec.entrypoint, node_entrypoint());
        assert!(NODE_ENTRYPOINT.trim_end().ends_with("exec /bin/k3s \"$@\""));
        assert_eq!(
            s0.spec.extra_hosts,
            vec![format!("{}:host-gateway", names::HOST_ALIAS)]
        );
        // DNS is answered on the lab network's gateway address.
        let gateway = plan
            .phases
            .iter()
            .flatten()
            .find_map(|s| match s {
                Step::EnsureNetwork(n) => n.gateway.clone(),
                _ => None,
            })
            .unwrap();
        assert!(s0.spec.env.contains(&format!("{DNS_ADDR_ENV}={gateway}")));
        assert_eq!(s0.spec.tmpfs, vec!["/run", "/var/run"]);
        assert!(
            s0.spec
                .env
                .contains(&"K3S_KUBECONFIG_OUTPUT=/output/kubeconfig.yaml".to_string())
        );
        assert!(
            s0.spec
                .cmd
                .windows(2)
                .any(|w| w == ["--tls-san", "127.0.0.1"])
        );
        assert!(!s0.spec.env.iter().any(|e| e.starts_with("K3S_URL=")));
        let a0 = plan.nodes().find(|n| n.role == Role::Agent).unwrap();
        assert!(
            a0.spec
                .env
                .contains(&"K3S_URL=https://playground-lab-server-0:6443".to_string())
        );
        assert_eq!(a0.spec.labels[names::LABEL_ROLE], "agent");
        assert_eq!(a0.spec.labels[names::LABEL_CLUSTER], "lab");
        assert_eq!(plan.api_url, "https://127.0.0.1:6550");
    }

    #[test]
    fn a_running_lab_plans_no_changes() {
        let first = plan_up(&lab(1, 2), &Observed::default(), &inputs()).unwrap();
        let observed = Observed {
            containers: running(&first),
            network_exists: true,
            network_subnet: Some("172.28.0.0/24".into()),
            ..Default::default()
        };
        let again = plan_up(&lab(1, 2), &observed, &inputs()).unwrap();
        assert!(!again.fresh);
        let kinds: Vec<String> = again
            .phases
            .iter()
            .flatten()
            .map(|s| s.to_string())
            .collect();
        assert!(
            kinds
                .iter()
                .all(|s| s.starts_with("wait for the API") || s.starts_with("write kube context")),
            "{kinds:?}"
        );
    }

    #[test]
    fn a_missing_agent_is_recreated_and_a_stopped_one_started() {
        let first = plan_up(&lab(1, 2), &Observed::default(), &inputs()).unwrap();
        let mut containers = running(&first);
        containers.retain(|c| c.name != "playground-lab-agent-1");
        containers
            .iter_mut()
            .find(|c| c.name == "playground-lab-agent-0")
            .unwrap()
            .state = RunState::Exited;
        let observed = Observed {
            containers,
            network_exists: true,
            ..Default::default()
        };
        let plan = plan_up(&lab(1, 2), &observed, &inputs()).unwrap();
        let text = plan.to_string();
        assert!(text.contains("create playground-lab-agent-1"), "{text}");
        assert!(!text.contains("create playground-lab-agent-0"), "{text}");
        assert!(text.contains("start playground-lab-agent-0"), "{text}");
        assert!(text.contains("start playground-lab-agent-1"), "{text}");
        assert!(!text.contains("start playground-lab-server-0"), "{text}");
        assert!(!text.contains("create network"), "{text}");
    }

    #[test]
    fn several_servers_get_an_init_server_and_a_load_balancer() {
        let mut l = lab(3, 1);
        l.cluster.ports.push(PortMapping {
            host_ip: "127.0.0.1".parse().unwrap(),
            host_port: 8080,
            container_port: 80,
            protocol: Protocol::Tcp,
            target: NodeFilter::LoadBalancer,
        });
        let plan = plan_up(&l, &Observed::default(), &inputs()).unwrap();
        let nodes: Vec<&NodePlan> = plan.nodes().collect();
        let s0 = nodes[0];
        assert!(s0.spec.cmd.contains(&"--cluster-init".to_string()));
        assert_eq!(s0.ready_line, "Containerd is now running");
        assert!(
            s0.spec.ports.is_empty(),
            "the API goes through the load balancer"
        );
        let s1 = nodes[1];
        assert!(!s1.spec.cmd.contains(&"--cluster-init".to_string()));
        assert!(
            s1.spec
                .env
                .contains(&"K3S_URL=https://playground-lab-server-0:6443".to_string())
        );
        let lb = nodes.iter().find(|n| n.role == Role::LoadBalancer).unwrap();
        let ports: Vec<(u16, u16)> = lb
            .spec
            .ports
            .iter()
            .map(|p| (p.host_port, p.container_port))
            .collect();
        assert_eq!(ports, vec![(6550, 6443), (8080, 80)]);
        let conf = &lb.spec.env[0];
        assert!(
            conf.contains("listen 6443;") && conf.contains("listen 80;"),
            "{conf}"
        );
        // Upstreams are static IPs, so nginx never needs to resolve a stopped node's name.
        assert!(
            conf.contains("server 172.28.0.2:6443") && conf.contains("server 172.28.0.4:6443"),
            "{conf}"
        );
        // A fresh lab starts the init server, the agents and the load balancer together;
        // joining servers follow one by one (k3d #452: etcd adds one member at a time).
        let starts = starts(&plan);
        let names: Vec<&str> = starts.iter().map(|(_, n)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "playground-lab-server-0",
                "playground-lab-agent-0",
                "playground-lab-serverlb",
                "playground-lab-server-1",
                "playground-lab-server-2",
            ]
        );
        let phase_of = |name: &str| starts.iter().find(|(_, n)| n == name).unwrap().0;
        assert_eq!(
            phase_of("playground-lab-agent-0"),
            phase_of("playground-lab-server-0")
        );
        assert_eq!(
            phase_of("playground-lab-serverlb"),
            phase_of("playground-lab-server-0")
        );
        assert!(phase_of("playground-lab-server-1") > phase_of("playground-lab-server-0"));
        assert!(phase_of("playground-lab-server-2") > phase_of("playground-lab-server-1"));
    }

    /// (phase index, node name) of every start, in plan order.
    fn starts(plan: &Plan) -> Vec<(usize, String)> {
        plan.phases
            .iter()
            .enumerate()
            .flat_map(|(i, p)| {
                p.iter().filter_map(move |s| match s {
                    Step::StartNode(n) => Some((i, n.spec.name.clone())),
                    _ => None,
                })
            })
            .collect()
    }

    #[test]
    fn a_stopped_ha_lab_starts_all_its_servers_before_waiting_on_any() {
        // F2: a restarted etcd member logs its ready line only with a quorum, so waiting on
        // server-0 before starting server-1 would never end. A StartNode step waits for its
        // line, and the steps of a phase run together: all servers must share one phase.
        let first = plan_up(&lab(3, 1), &Observed::default(), &inputs()).unwrap();
        let mut containers = running(&first);
        for c in &mut containers {
            c.state = RunState::Exited;
        }
        let observed = Observed {
            containers,
            network_exists: true,
            network_subnet: Some("172.28.0.0/24".into()),
            ..Default::default()
        };
        let plan = plan_up(&lab(3, 1), &observed, &inputs()).unwrap();
        assert!(!plan.fresh);
        let starts = starts(&plan);
        let server_phases: BTreeSet<usize> = starts
            .iter()
            .filter(|(_, n)| n.contains("-server-"))
            .map(|(i, _)| *i)
            .collect();
        assert_eq!(server_phases.len(), 1, "{plan}");
        let servers = *server_phases.first().unwrap();
        // Every server waits for "k3s is up and running": none is the init server on create.
        for s in &plan.phases[servers] {
            let Step::StartNode(n) = s else {
                panic!("{plan}")
            };
            if n.role == Role::Server {
                assert_eq!(n.ready_line, "k3s is up and running");
            }
        }
        // The agent and the load balancer start with them: the agent retries its join, and
        // the lab is back after its slowest node, not after the sum of them.
        assert!(starts.iter().all(|(i, _)| *i == servers), "{plan}");
        assert_eq!(starts.len(), 5, "{plan}");
    }

    #[test]
    fn the_server_count_of_an_existing_lab_cannot_change() {
        for (had, want) in [(1, 3), (3, 1), (3, 5)] {
            let first = plan_up(&lab(had, 1), &Observed::default(), &inputs()).unwrap();
            let observed = Observed {
                containers: running(&first),
                network_exists: true,
                network_subnet: Some("172.28.0.0/24".into()),
                ..Default::default()
            };
            let err = plan_up(&lab(want, 1), &observed, &inputs()).unwrap_err();
            assert_eq!(
                err,
                PlanError::ServerCountChanged {
                    lab: "lab".into(),
                    had,
                    want
                }
            );
            let text = err.to_string();
            assert!(
                text.contains(&format!("created with {had} server(s)"))
                    && text.contains("playground drop lab")
                    && text.contains("playground restore"),
                "{text}"
            );
        }
        // Agents may change.
        let first = plan_up(&lab(3, 1), &Observed::default(), &inputs()).unwrap();
        let observed = Observed {
            containers: running(&first),
            network_exists: true,
            network_subnet: Some("172.28.0.0/24".into()),
            ..Default::default()
        };
        let plan = plan_up(&lab(3, 2), &observed, &inputs()).unwrap();
        assert!(plan.to_string().contains("create playground-lab-agent-1"));
    }

    #[test]
    fn the_load_balancer_image_follows_the_inputs() {
        let plan = plan_up(
            &lab(2, 0),
            &Observed::default(),
            &Inputs {
                lb_image: "example/lb:test".into(),
                ..inputs()
            },
        )
        .unwrap();
        let lb = plan.nodes().find(|n| n.role == Role::LoadBalancer).unwrap();
        assert_eq!(lb.spec.image, "example/lb:test");
        assert!(
            plan.to_string().contains("pull image example/lb:test"),
            "{plan}"
        );
    }

    #[test]
    fn node_filters_place_args_env_and_ports() {
        let mut l = lab(1, 2);
        l.cluster.k3s_args.push(Filtered {
            value: "--disable=traefik".into(),
            filter: NodeFilter::Servers(Selection::All),
        });
        l.cluster.env.push(Filtered {
            value: crate::config::EnvVar {
                key: "ONLY".into(),
                value: "a1".into(),
            },
            filter: NodeFilter::Agents(Selection::Indices(vec![1])),
        });
        l.cluster.ports.push(PortMapping {
            host_ip: "127.0.0.1".parse().unwrap(),
            host_port: 9000,
            container_port: 90,
            protocol: Protocol::Udp,
            target: NodeFilter::Agents(Selection::Indices(vec![0])),
        });
        let plan = plan_up(&l, &Observed::default(), &inputs()).unwrap();
        let by = |name: &str| plan.nodes().find(|n| n.spec.name == name).unwrap().clone();
        assert!(
            by("playground-lab-server-0")
                .spec
                .cmd
                .contains(&"--disable=traefik".to_string())
        );
        assert!(
            !by("playground-lab-agent-0")
                .spec
                .cmd
                .contains(&"--disable=traefik".to_string())
        );
        assert!(
            by("playground-lab-agent-1")
                .spec
                .env
                .contains(&"ONLY=a1".to_string())
        );
        assert!(
            !by("playground-lab-agent-0")
                .spec
                .env
                .contains(&"ONLY=a1".to_string())
        );
        assert_eq!(by("playground-lab-agent-0").spec.ports[0].protocol, "udp");

        // One host port on two nodes cannot work.
        l.cluster.ports.push(PortMapping {
            host_ip: "127.0.0.1".parse().unwrap(),
            host_port: 9100,
            container_port: 91,
            protocol: Protocol::Tcp,
            target: NodeFilter::Agents(Selection::All),
        });
        assert_eq!(
            plan_up(&l, &Observed::default(), &inputs()),
            Err(PlanError::PortOnManyNodes(9100, 2))
        );
    }

    #[test]
    fn foreign_containers_and_pull_policies() {
        let observed = Observed {
            foreign: vec!["playground-lab-server-0".into()],
            ..Default::default()
        };
        assert_eq!(
            plan_up(&lab(1, 0), &observed, &inputs()),
            Err(PlanError::NameTaken("playground-lab-server-0".into()))
        );
        let present = Observed {
            images_present: [crate::config::DEFAULT_K3S_IMAGE.to_string()].into(),
            ..Default::default()
        };
        let text = plan_up(&lab(1, 0), &present, &inputs())
            .unwrap()
            .to_string();
        assert!(!text.contains("pull image"), "{text}");
        let always = Inputs {
            pull: PullPolicy::Always,
            ..inputs()
        };
        assert!(
            plan_up(&lab(1, 0), &present, &always)
                .unwrap()
                .to_string()
                .contains("pull image")
        );
        let never = Inputs {
            pull: PullPolicy::Never,
            ..inputs()
        };
        assert!(
            plan_up(&lab(1, 0), &Observed::default(), &never)
                .unwrap()
                .to_string()
                .contains("require image")
        );
    }

    #[test]
    fn subnets_avoid_the_ones_in_use() {
        assert_eq!(choose_subnet(&[]), Some("172.28.0.0/24".into()));
        assert_eq!(
            choose_subnet(&["172.28.0.0/24".into(), "172.28.1.0/24".into()]),
            Some("172.28.2.0/24".into())
        );
        // A /16 covering the first 256 candidates pushes us past it.
        assert_eq!(
            choose_subnet(&["172.28.0.0/16".into()]),
            Some("172.29.0.0/24".into())
        );
        assert_eq!(client_host("0.0.0.0".parse().unwrap()), "127.0.0.1");
    }
}

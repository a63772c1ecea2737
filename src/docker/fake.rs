//! `FakeEngine`: the whole [`Engine`] in memory, for tests that need no Docker.
//!
//! A double, not a mock: it keeps containers (spec, state, labels, ports, networks, files,
//! log lines), networks (IDs, subnets) and volumes, and refuses what the Docker Engine
//! refuses, in the daemon's words where our code reads them: a second container of a name, a
//! container on a network or from an image that does not exist, a subnet that overlaps
//! ([`RefusalKind::SubnetOverlap`], which `up` turns into a re-plan), removing a network that
//! still has endpoints or a volume a container uses. Each refusal is our own
//! [`EngineError::Refused`], of the kind the real adapter gives the daemon's answer.
//!
//! A test scripts it and reads it back:
//! - [`FakeEngine::on_start`]: the log lines (and files, some written in stages) a container
//!   with a given label gets when it starts, so `readiness::wait_for_log` sees a node come up;
//! - [`FakeEngine::mute`]: a container that starts and says nothing;
//! - [`FakeEngine::log`]: a line logged now (log lines carry their time, as Docker's do);
//! - [`FakeEngine::calls`]: every call, in order, with its target;
//! - [`FakeEngine::fail_on`]: the next matching call fails;
//! - [`FakeEngine::hold`]: a matching call waits until the test releases it (a Ctrl-C in the
//!   middle of a step, or a `docker info` that does not answer);
//! - [`FakeEngine::set_host_facts`] / [`FakeEngine::set_privileged_probe`]: what the engine
//!   says of its host, and what becomes of a privileged container (the [`Host`] side, for
//!   `doctor`). By default: a current rootful Docker on Linux with cgroup v2, reached over TCP
//!   (so no disk of this machine is measured), that runs privileged containers.
//!
//! Built for unit tests only: the integration tests in `tests/` run the real Docker Engine.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use futures::stream::{self, BoxStream, StreamExt, TryStreamExt};
use tokio::sync::Notify;

use super::endpoint::EndpointSource;
use super::{
    ContainerInfo, ContainerSpec, Endpoint, Engine, EngineError, Host, HostFacts, Labels, LogLine,
    NetworkInfo, NetworkSpec, PrivilegedProbe, PullProgress, Refusal, RefusalKind, RunState,
};

/// One call the engine received: the method's name and what it was about (a container,
/// network, volume or image name; empty for listings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Call {
    pub(crate) kind: &'static str,
    pub(crate) target: String,
}

impl std::fmt::Display for Call {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.kind, self.target)
    }
}

/// What a container does when it starts: lines it logs and files it writes.
#[derive(Debug, Clone, Default)]
pub(crate) struct Script {
    pub(crate) lines: Vec<String>,
    pub(crate) files: Vec<(String, Vec<u8>)>,
    /// Files written in stages, as a process writes a file that a reader can catch half
    /// done: the first stage is there at start, and each read of the file moves it on to the
    /// next stage (the last one stays).
    pub(crate) staged: Vec<(String, Vec<Vec<u8>>)>,
}

/// A call held by [`FakeEngine::hold`]: the test learns when it arrives and lets it go on.
#[derive(Clone)]
pub(crate) struct Held {
    arrived: Arc<Notify>,
    release: Arc<Notify>,
}

impl Held {
    /// Wait until the held call has arrived.
    pub(crate) async fn arrived(&self) {
        self.arrived.notified().await;
    }
    /// Let the held call go on.
    pub(crate) fn release(&self) {
        self.release.notify_one();
    }
}

struct Rule {
    kind: &'static str,
    target: Option<String>,
    /// Matching calls to let through before this one fires.
    skip: usize,
}

impl Rule {
    fn hit(&mut self, call: &Call) -> bool {
        if call.kind != self.kind || self.target.as_ref().is_some_and(|t| *t != call.target) {
            return false;
        }
        if self.skip > 0 {
            self.skip -= 1;
            return false;
        }
        true
    }
}

struct Container {
    info: ContainerInfo,
    spec: ContainerSpec,
    files: BTreeMap<String, Vec<u8>>,
    /// The stages still to come of files written in stages ([`Script::staged`]).
    pending: BTreeMap<String, std::collections::VecDeque<Vec<u8>>>,
    /// (Unix seconds, line)
    /// Each line with its stamp, as the daemon keeps them across runs.
    logs: Vec<(jiff::Timestamp, String)>,
}

#[derive(Default)]
struct State {
    containers: BTreeMap<String, Container>,
    networks: Vec<NetworkInfo>,
    volumes: BTreeMap<String, Labels>,
    images: BTreeSet<String>,
    calls: Vec<Call>,
    failures: Vec<Rule>,
    holds: Vec<(Rule, Held)>,
    scripts: Vec<((String, String), Script)>,
    /// Containers that run no script when they start.
    muted: BTreeSet<String>,
    /// Networks whose next creation loses a race: another network takes their subnet first.
    rivals: BTreeSet<String>,
    /// Networks whose next creation finishes beside a twin: same name and labels, another
    /// subnet, made first (a killed command's create the daemon completed).
    twins: BTreeMap<String, String>,
    next_id: u64,
    /// What `host_facts` answers; `None`: [`default_host_facts`].
    host: Option<HostFacts>,
    /// What a privileged container comes to; `None`: it starts, under `runc`.
    probe: Option<PrivilegedProbe>,
}

/// The fake's host by default: a current rootful Docker Engine on Linux, cgroup v2.
fn default_host_facts() -> HostFacts {
    HostFacts {
        server_version: "27.5.1".into(),
        api_version: "1.47".into(),
        cgroup_version: "2".into(),
        cgroup_driver: "systemd".into(),
        security_options: vec![
            "name=seccomp,profile=builtin".into(),
            "name=cgroupns".into(),
        ],
        runtimes: vec!["io.containerd.runc.v2".into(), "runc".into()],
        default_runtime: "runc".into(),
        operating_system: "Debian GNU/Linux 12 (bookworm)".into(),
        docker_root_dir: "/var/lib/docker".into(),
        name: "fake-engine".into(),
        product: "Engine".into(),
        product_version: "27.5.1".into(),
    }
}

/// Where the fake is "reached": a TCP endpoint, so `doctor` measures no disk of this machine.
static ENDPOINT: std::sync::LazyLock<Endpoint> = std::sync::LazyLock::new(|| Endpoint {
    host: "tcp://fake-engine.invalid:2375".into(),
    source: EndpointSource::DockerHost,
});

/// The Docker Engine, in memory (see the module doc). A clone is the same engine, as a clone
/// of a client of the real engine talks to the same daemon.
#[derive(Default, Clone)]
pub(crate) struct FakeEngine {
    state: Arc<Mutex<State>>,
}

fn now() -> jiff::Timestamp {
    jiff::Timestamp::now()
}

/// The daemon's refusal, as the adapter reports it: of its kind, with the status Docker gives
/// that kind (see [`RefusalKind::status`]) and the daemon's words.
fn daemon(what: &str, kind: RefusalKind, message: impl Into<String>) -> EngineError {
    EngineError::refused(what, Refusal::new(kind, message))
}

fn matches(labels: &Labels, filter: &[(&str, &str)]) -> bool {
    // An empty value filters on the key alone, as Docker's `label=KEY` does.
    filter.iter().all(|(k, v)| match labels.get(*k) {
        Some(have) => v.is_empty() || have == v,
        None => false,
    })
}

impl FakeEngine {
    /// An engine with Docker's own default `bridge` network and nothing else.
    pub(crate) fn new() -> Self {
        Self::default().with_network("bridge", "172.17.0.0/16")
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A test that panicked while holding it has failed already; the state is still
        // worth reading for its report.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Make `image` present locally.
    pub(crate) fn with_image(self, image: &str) -> Self {
        self.state().images.insert(image.to_string());
        self
    }

    /// A network created outside the lab (its subnet is taken).
    pub(crate) fn with_network(self, name: &str, subnet: &str) -> Self {
        {
            let mut s = self.state();
            s.next_id += 1;
            let id = format!("net{:04}", s.next_id);
            s.networks.push(NetworkInfo {
                id,
                name: name.to_string(),
                labels: Labels::new(),
                subnet: Some(subnet.to_string()),
                gateway: None,
            });
        }
        self
    }

    /// What a container carrying label `key=value` does at every start.
    pub(crate) fn on_start(&self, key: &str, value: &str, script: Script) {
        self.state()
            .scripts
            .push(((key.to_string(), value.to_string()), script));
    }

    /// Container `name`'s output as the daemon holds it: `since` in whole seconds, as
    /// Docker's filter is.
    fn stamped_lines(
        &self,
        name: &str,
        since: i64,
        follow: bool,
    ) -> BoxStream<'static, Result<LogLine, EngineError>> {
        let s = self.state();
        let Some(c) = s.containers.get(name) else {
            let e = daemon(
                "logs",
                RefusalKind::NotFound,
                format!("No such container: {name}"),
            );
            return stream::once(async move { Err(e) }).boxed();
        };
        let lines: Vec<Result<LogLine, EngineError>> = c
            .logs
            .iter()
            .filter(|(at, _)| at.as_second() >= since)
            .map(|(at, l)| {
                Ok(LogLine {
                    at: Some(*at),
                    text: l.clone(),
                })
            })
            .collect();
        // A followed stream of a running container stays open, as Docker's does.
        let open = follow && c.info.state == RunState::Running;
        let lines = stream::iter(lines);
        if open {
            lines.chain(stream::pending()).boxed()
        } else {
            lines.boxed()
        }
    }

    /// Container `name` logs `line` now, stamped with this moment (a line its run printed
    /// late, just before a stop).
    pub(crate) fn log(&self, name: &str, line: &str) {
        if let Some(c) = self.state().containers.get_mut(name) {
            c.logs.push((now(), line.to_string()));
        }
    }

    /// Container `name` starts but runs no script: it logs nothing (a node that never
    /// comes up).
    pub(crate) fn mute(&self, name: &str) {
        self.state().muted.insert(name.to_string());
    }

    /// The next creation of network `name` finishes beside a twin on `subnet`: a command
    /// killed while its own create of the network was in flight, which the daemon completed
    /// after our look and before our create. Docker's duplicate check is best effort (and gone
    /// from API 1.44), so both exist and the name is ambiguous.
    pub(crate) fn twin_on_create(&self, name: &str, subnet: &str) {
        self.state()
            .twins
            .insert(name.to_string(), subnet.to_string());
    }

    /// The next creation of network `name` loses a race: just before it, a network named
    /// `<name>-rival` is created with the same subnet (as another lab's `up` would), so the
    /// daemon refuses it as Docker does ("Pool overlaps").
    pub(crate) fn rival_for_subnet(&self, name: &str) {
        self.state().rivals.insert(name.to_string());
    }

    /// The next `kind` call about `target` fails with a daemon error.
    pub(crate) fn fail_on(&self, kind: &'static str, target: &str) {
        self.state().failures.push(Rule {
            kind,
            target: Some(target.to_string()),
            skip: 0,
        });
    }

    /// The next `kind` call about `target` waits until the returned handle releases it.
    pub(crate) fn hold(&self, kind: &'static str, target: &str) -> Held {
        let held = Held {
            arrived: Arc::new(Notify::new()),
            release: Arc::new(Notify::new()),
        };
        self.state().holds.push((
            Rule {
                kind,
                target: Some(target.to_string()),
                skip: 0,
            },
            held.clone(),
        ));
        held
    }

    /// What `host_facts` answers from now on.
    pub(crate) fn set_host_facts(&self, facts: HostFacts) {
        self.state().host = Some(facts);
    }

    /// What a privileged container comes to from now on.
    pub(crate) fn set_privileged_probe(&self, probe: PrivilegedProbe) {
        self.state().probe = Some(probe);
    }

    /// Every call so far, in order.
    pub(crate) fn calls(&self) -> Vec<Call> {
        self.state().calls.clone()
    }

    /// Forget the calls so far (after setting a scene up).
    pub(crate) fn clear_calls(&self) {
        self.state().calls.clear();
    }

    /// A container's state, or `None` when there is no such container.
    pub(crate) fn container_state(&self, name: &str) -> Option<RunState> {
        self.state().containers.get(name).map(|c| c.info.state)
    }

    /// The names of every container, network and volume that carries label `key`.
    pub(crate) fn objects_labelled(&self, key: &str) -> Vec<String> {
        let s = self.state();
        let containers = s
            .containers
            .values()
            .filter(|c| c.info.labels.contains_key(key))
            .map(|c| format!("container {}", c.info.name));
        let networks = s
            .networks
            .iter()
            .filter(|n| n.labels.contains_key(key))
            .map(|n| format!("network {}", n.name));
        let volumes = s
            .volumes
            .iter()
            .filter(|(_, l)| l.contains_key(key))
            .map(|(v, _)| format!("volume {v}"));
        containers.chain(networks).chain(volumes).collect()
    }

    /// Record a call; wait if it is held; fail it if a failure is due.
    async fn enter(&self, kind: &'static str, target: &str) -> Result<(), EngineError> {
        let call = Call {
            kind,
            target: target.to_string(),
        };
        let held = {
            let mut s = self.state();
            s.calls.push(call.clone());
            let i = s.holds.iter_mut().position(|(r, _)| r.hit(&call));
            i.map(|i| s.holds.remove(i).1)
        };
        if let Some(held) = held {
            held.arrived.notify_one();
            held.release.notified().await;
        }
        let mut s = self.state();
        if let Some(i) = s.failures.iter_mut().position(|r| r.hit(&call)) {
            s.failures.remove(i);
            return Err(daemon(
                &format!("{kind} {target}"),
                RefusalKind::Other,
                "injected failure",
            ));
        }
        Ok(())
    }

    fn network_named<'s>(s: &'s State, name_or_id: &str) -> Option<&'s NetworkInfo> {
        s.networks
            .iter()
            .find(|n| n.id == name_or_id || n.name == name_or_id)
    }

    fn with_container<T>(
        &self,
        what: &str,
        name: &str,
        f: impl FnOnce(&mut Container) -> Result<T, EngineError>,
    ) -> Result<T, EngineError> {
        let mut s = self.state();
        match s.containers.get_mut(name) {
            Some(c) => f(c),
            None => Err(daemon(
                what,
                RefusalKind::NotFound,
                format!("No such container: {name}"),
            )),
        }
    }
}

impl Engine for FakeEngine {
    async fn ensure_network(&self, spec: &NetworkSpec) -> Result<NetworkInfo, EngineError> {
        self.enter("ensure_network", &spec.name).await?;
        let mut s = self.state();
        if let Some(n) = Self::network_named(&s, &spec.name) {
            return Ok(n.clone());
        }
        if let Some(subnet) = s.twins.remove(&spec.name) {
            s.next_id += 1;
            let twin = NetworkInfo {
                id: format!("net{:04}", s.next_id),
                name: spec.name.clone(),
                labels: spec.labels.clone(),
                subnet: Some(subnet),
                gateway: None,
            };
            s.networks.push(twin);
        }
        if s.rivals.remove(&spec.name) {
            s.next_id += 1;
            let rival = NetworkInfo {
                id: format!("net{:04}", s.next_id),
                name: format!("{}-rival", spec.name),
                labels: Labels::new(),
                subnet: spec.subnet.clone(),
                gateway: spec.gateway.clone(),
            };
            s.networks.push(rival);
        }
        if let Some(subnet) = &spec.subnet
            && s.networks.iter().any(|n| n.subnet.as_ref() == Some(subnet))
        {
            // The daemon's IPAM refuses a pool that overlaps one in use, with these words and
            // as Forbidden (moby `libnetwork/ipamapi/contract.go`, `ErrPoolOverlap`).
            return Err(daemon(
                &format!("create network {}", spec.name),
                RefusalKind::SubnetOverlap,
                "Pool overlaps with other one on this address space",
            ));
        }
        s.next_id += 1;
        let info = NetworkInfo {
            id: format!("net{:04}", s.next_id),
            name: spec.name.clone(),
            labels: spec.labels.clone(),
            subnet: spec.subnet.clone(),
            gateway: spec.gateway.clone(),
        };
        s.networks.push(info.clone());
        Ok(info)
    }

    async fn inspect_network(&self, name: &str) -> Result<Option<NetworkInfo>, EngineError> {
        self.enter("inspect_network", name).await?;
        Ok(Self::network_named(&self.state(), name).cloned())
    }

    async fn list_networks(
        &self,
        labels: &[(&str, &str)],
    ) -> Result<Vec<NetworkInfo>, EngineError> {
        self.enter("list_networks", "").await?;
        let s = self.state();
        Ok(s.networks
            .iter()
            .filter(|n| matches(&n.labels, labels))
            .cloned()
            .collect())
    }

    async fn remove_network(&self, name: &str) -> Result<(), EngineError> {
        self.enter("remove_network", name).await?;
        let mut s = self.state();
        let Some(n) = Self::network_named(&s, name).cloned() else {
            return Err(daemon(
                "remove network",
                RefusalKind::NotFound,
                format!("network {name} not found"),
            ));
        };
        if s.containers
            .values()
            .any(|c| c.info.ips.contains_key(&n.name))
        {
            return Err(daemon(
                "remove network",
                RefusalKind::Forbidden,
                format!(
                    "error while removing network: network {} id {} has active endpoints",
                    n.name, n.id
                ),
            ));
        }
        s.networks.retain(|x| x.id != n.id);
        Ok(())
    }

    async fn used_subnets(&self) -> Result<Vec<String>, EngineError> {
        self.enter("used_subnets", "").await?;
        Ok(self
            .state()
            .networks
            .iter()
            .filter_map(|n| n.subnet.clone())
            .collect())
    }

    async fn connect_network(
        &self,
        network: &str,
        container: &str,
        ip: Option<IpAddr>,
        _aliases: &[String],
    ) -> Result<(), EngineError> {
        self.enter("connect_network", container).await?;
        let mut s = self.state();
        let Some(n) = Self::network_named(&s, network).map(|n| n.name.clone()) else {
            return Err(daemon(
                "connect network",
                RefusalKind::NotFound,
                format!("network {network} not found"),
            ));
        };
        let Some(c) = s.containers.get_mut(container) else {
            return Err(daemon(
                "connect network",
                RefusalKind::NotFound,
                format!("No such container: {container}"),
            ));
        };
        c.info
            .ips
            .entry(n)
            .or_insert_with(|| ip.map(|i| i.to_string()).unwrap_or_default());
        Ok(())
    }

    async fn disconnect_network(&self, network: &str, container: &str) -> Result<(), EngineError> {
        self.enter("disconnect_network", container).await?;
        let mut s = self.state();
        if let Some(n) = Self::network_named(&s, network).map(|n| n.name.clone())
            && let Some(c) = s.containers.get_mut(container)
        {
            c.info.ips.remove(&n);
        }
        Ok(())
    }

    async fn ensure_volume(&self, name: &str, labels: &Labels) -> Result<(), EngineError> {
        self.enter("ensure_volume", name).await?;
        self.state()
            .volumes
            .entry(name.to_string())
            .or_insert_with(|| labels.clone());
        Ok(())
    }

    async fn list_volumes(&self, labels: &[(&str, &str)]) -> Result<Vec<String>, EngineError> {
        self.enter("list_volumes", "").await?;
        Ok(self
            .state()
            .volumes
            .iter()
            .filter(|(_, l)| matches(l, labels))
            .map(|(v, _)| v.clone())
            .collect())
    }

    async fn remove_volume(&self, name: &str) -> Result<(), EngineError> {
        self.enter("remove_volume", name).await?;
        let mut s = self.state();
        let prefix = format!("{name}:");
        if let Some(c) = s
            .containers
            .values()
            .find(|c| c.spec.binds.iter().any(|b| b.starts_with(&prefix)))
        {
            return Err(daemon(
                "remove volume",
                RefusalKind::Conflict,
                format!("remove {name}: volume is in use - [{}]", c.info.id),
            ));
        }
        s.volumes.remove(name);
        Ok(())
    }

    async fn image_present(&self, image: &str) -> Result<bool, EngineError> {
        self.enter("image_present", image).await?;
        Ok(self.state().images.contains(image))
    }

    async fn pull_image(
        &self,
        image: &str,
        progress: &(dyn Fn(PullProgress) + Send + Sync),
    ) -> Result<(), EngineError> {
        self.enter("pull_image", image).await?;
        progress(PullProgress {
            layer: Some("fake0000".into()),
            status: "Pull complete".into(),
            current: Some(1),
            total: Some(1),
        });
        self.state().images.insert(image.to_string());
        Ok(())
    }

    async fn create_container(&self, spec: &ContainerSpec) -> Result<String, EngineError> {
        self.enter("create_container", &spec.name).await?;
        let mut s = self.state();
        let what = format!("create container {}", spec.name);
        if let Some(c) = s.containers.get(&spec.name) {
            return Err(daemon(
                &what,
                RefusalKind::Conflict,
                format!(
                    "Conflict. The container name \"/{}\" is already in use by container \"{}\"",
                    spec.name, c.info.id
                ),
            ));
        }
        if !s.images.contains(&spec.image) {
            return Err(daemon(
                &what,
                RefusalKind::NotFound,
                format!("No such image: {}", spec.image),
            ));
        }
        if Self::network_named(&s, &spec.network).is_none() {
            return Err(daemon(
                &what,
                RefusalKind::NotFound,
                format!("network {} not found", spec.network),
            ));
        }
        // The daemon looks a network up by ID, then by full name, and refuses a name that
        // several networks share (moby `daemon/network.go`, `FindNetwork`).
        let same = s.networks.iter().filter(|n| n.name == spec.network).count();
        if same > 1 {
            return Err(daemon(
                &what,
                RefusalKind::Invalid,
                format!(
                    "network {} is ambiguous ({same} matches found on name)",
                    spec.network
                ),
            ));
        }
        s.next_id += 1;
        let id = format!("c{:04}", s.next_id);
        let mut ips = BTreeMap::new();
        ips.insert(
            spec.network.clone(),
            spec.ip.map(|i| i.to_string()).unwrap_or_default(),
        );
        s.containers.insert(
            spec.name.clone(),
            Container {
                info: ContainerInfo {
                    id: id.clone(),
                    name: spec.name.clone(),
                    image: spec.image.clone(),
                    state: RunState::Created,
                    labels: spec.labels.clone(),
                    started_at: None,
                    finished_at: None,
                    exit_code: None,
                    restart_count: 0,
                    ips,
                    env: spec.env.clone(),
                    ports: spec.ports.clone(),
                    cmd: spec.cmd.clone(),
                    binds: spec.binds.clone(),
                    privileged: spec.privileged,
                },
                spec: spec.clone(),
                files: BTreeMap::new(),
                pending: BTreeMap::new(),
                logs: Vec::new(),
            },
        );
        Ok(id)
    }

    async fn inspect_container(&self, name: &str) -> Result<Option<ContainerInfo>, EngineError> {
        self.enter("inspect_container", name).await?;
        Ok(self.state().containers.get(name).map(|c| c.info.clone()))
    }

    async fn list_containers(
        &self,
        labels: &[(&str, &str)],
    ) -> Result<Vec<ContainerInfo>, EngineError> {
        self.enter("list_containers", "").await?;
        // A listing carries no environment, addresses or start time: those are inspect's.
        Ok(self
            .state()
            .containers
            .values()
            .filter(|c| matches(&c.info.labels, labels))
            .map(|c| ContainerInfo {
                env: Vec::new(),
                cmd: Vec::new(),
                binds: Vec::new(),
                privileged: false,
                ips: BTreeMap::new(),
                started_at: None,
                finished_at: None,
                ..c.info.clone()
            })
            .collect())
    }

    async fn start(&self, name: &str) -> Result<(), EngineError> {
        self.enter("start", name).await?;
        let mut s = self.state();
        let scripts: Vec<Script> = match s.containers.get(name) {
            None => {
                return Err(daemon(
                    "start",
                    RefusalKind::NotFound,
                    format!("No such container: {name}"),
                ));
            }
            Some(_) if s.muted.contains(name) => Vec::new(),
            Some(c) => s
                .scripts
                .iter()
                .filter(|((k, v), _)| c.info.labels.get(k) == Some(v))
                .map(|(_, script)| script.clone())
                .collect(),
        };
        let Some(c) = s.containers.get_mut(name) else {
            return Ok(());
        };
        if c.info.state == RunState::Running {
            return Ok(());
        }
        let at = now();
        c.info.state = RunState::Running;
        c.info.started_at = Some(at);
        for script in scripts {
            c.logs.extend(script.lines.into_iter().map(|l| (at, l)));
            c.files.extend(script.files);
            for (path, stages) in script.staged {
                let mut stages: std::collections::VecDeque<Vec<u8>> = stages.into();
                if let Some(first) = stages.pop_front() {
                    c.files.insert(path.clone(), first);
                    c.pending.insert(path, stages);
                }
            }
        }
        Ok(())
    }

    async fn stop(&self, name: &str, _grace: Duration) -> Result<(), EngineError> {
        self.enter("stop", name).await?;
        self.with_container("stop", name, |c| {
            if matches!(c.info.state, RunState::Running | RunState::Paused) {
                c.info.state = RunState::Exited;
                c.info.exit_code = Some(0);
                c.info.finished_at = Some(now());
            }
            Ok(())
        })
    }

    async fn pause(&self, name: &str) -> Result<(), EngineError> {
        self.enter("pause", name).await?;
        self.with_container("pause", name, |c| {
            if c.info.state != RunState::Running {
                return Err(daemon(
                    "pause",
                    RefusalKind::Conflict,
                    format!("container {name} is not running"),
                ));
            }
            c.info.state = RunState::Paused;
            Ok(())
        })
    }

    async fn unpause(&self, name: &str) -> Result<(), EngineError> {
        self.enter("unpause", name).await?;
        self.with_container("unpause", name, |c| {
            if c.info.state != RunState::Paused {
                return Err(daemon(
                    "unpause",
                    RefusalKind::Conflict,
                    format!("container {name} is not paused"),
                ));
            }
            c.info.state = RunState::Running;
            Ok(())
        })
    }

    async fn remove_container(&self, name: &str) -> Result<(), EngineError> {
        self.enter("remove_container", name).await?;
        self.state().containers.remove(name);
        Ok(())
    }

    fn follow_logs(
        &self,
        name: &str,
        since: i64,
    ) -> BoxStream<'static, Result<LogLine, EngineError>> {
        self.stamped_lines(name, since, true)
    }

    fn log_lines(
        &self,
        name: &str,
        since: i64,
        follow: bool,
    ) -> BoxStream<'static, Result<String, EngineError>> {
        self.stamped_lines(name, since, follow)
            .map_ok(|l| l.text)
            .boxed()
    }

    async fn inspect_json(&self, name: &str) -> Result<Option<serde_json::Value>, EngineError> {
        self.enter("inspect_json", name).await?;
        Ok(self.state().containers.get(name).map(|c| {
            serde_json::json!({
                "Id": c.info.id,
                "Name": format!("/{}", c.info.name),
                "State": {"Status": c.info.state.as_str()},
                "Config": {"Labels": c.info.labels},
            })
        }))
    }

    async fn tail_logs(&self, name: &str, lines: usize) -> Result<String, EngineError> {
        self.enter("tail_logs", name).await?;
        self.with_container("logs", name, |c| {
            let skip = c.logs.len().saturating_sub(lines);
            Ok(c.logs
                .iter()
                .skip(skip)
                .map(|(_, l)| format!("{l}\n"))
                .collect())
        })
    }

    async fn read_file(&self, name: &str, path: &str) -> Result<Vec<u8>, EngineError> {
        self.enter("read_file", name).await?;
        self.with_container("read file", name, |c| {
            let read = c.files.get(path).cloned().ok_or_else(|| {
                daemon(
                    &format!("read {path} from {name}"),
                    RefusalKind::NotFound,
                    format!("Could not find the file {path} in container {name}"),
                )
            });
            // The writer moves on between two reads.
            if let Some(next) = c.pending.get_mut(path).and_then(|p| p.pop_front()) {
                c.files.insert(path.to_string(), next);
            }
            read
        })
    }

    async fn write_file(
        &self,
        name: &str,
        path: &str,
        content: &[u8],
        _mode: u32,
    ) -> Result<(), EngineError> {
        self.enter("write_file", name).await?;
        self.with_container("write file", name, |c| {
            c.files.insert(path.to_string(), content.to_vec());
            Ok(())
        })
    }

    async fn upload_file(
        &self,
        name: &str,
        source: &Path,
        dir: &str,
        file_name: &str,
    ) -> Result<(), EngineError> {
        self.enter("upload_file", name).await?;
        let content = std::fs::read(source).map_err(|e| EngineError::api("upload", e))?;
        self.with_container("upload", name, |c| {
            c.files.insert(format!("{dir}/{file_name}"), content);
            Ok(())
        })
    }

    async fn export_images(&self, images: &[String], dest: &Path) -> Result<u64, EngineError> {
        self.enter("export_images", &images.join(",")).await?;
        let text = images.join("\n");
        std::fs::write(dest, &text).map_err(|e| EngineError::api("export images", e))?;
        Ok(text.len() as u64)
    }

    async fn exec(&self, name: &str, cmd: &[&str]) -> Result<(i64, String), EngineError> {
        self.enter("exec", name).await?;
        self.with_container("exec", name, |c| {
            if c.info.state != RunState::Running {
                return Err(daemon(
                    "exec",
                    RefusalKind::Conflict,
                    format!("container {} is not running", c.info.id),
                ));
            }
            // Nothing runs in a fake container; a command succeeds and says nothing.
            let _ = cmd;
            Ok((0, String::new()))
        })
    }
}

impl Host for FakeEngine {
    fn endpoint(&self) -> &Endpoint {
        &ENDPOINT
    }

    async fn host_facts(&self) -> Result<HostFacts, EngineError> {
        self.enter("host_facts", "").await?;
        Ok(self.state().host.clone().unwrap_or_else(default_host_facts))
    }

    /// As the real probe: the image must be present (doctor pulls nothing), and the container
    /// it makes is gone afterwards.
    async fn probe_privileged(&self, image: &str) -> Result<PrivilegedProbe, EngineError> {
        self.enter("probe_privileged", image).await?;
        let s = self.state();
        if !s.images.contains(image) {
            return Err(daemon(
                "create the probe container",
                RefusalKind::NotFound,
                format!("No such image: {image}"),
            ));
        }
        Ok(s.probe.clone().unwrap_or(PrivilegedProbe::Started {
            runtime: "runc".into(),
            br_netfilter: Some(true),
        }))
    }
}

//! The shared image cache, so that a lab made again (`drop`, then `up`) downloads nothing it
//! pulled before, a month later and offline too. Two mechanisms, because neither does it
//! alone:
//! - **pull-through caches**: one `registry:3` proxy per upstream ([`UPSTREAMS`]: docker.io,
//!   ghcr.io, quay.io, registry.k8s.io), shared by every lab and kept across `drop`, with
//!   expiry turned off ([`PROXY_TTL_ENV`]; `registry:2` deletes what it cached after 7 days,
//!   see [`CACHE_IMAGE`]). They serve every lab, running or new, while the host is online.
//! - **the lab's image export**: `drop` writes what each running node's containerd holds into
//!   a volume kept for the next lab of that name ([`keep_lab_images`]), mounted in its nodes at
//!   k3s's airgap folder ([`AIRGAP_IMAGES`]), which k3s imports at start with no network. This
//!   covers what no proxy can serve: public.ecr.aws (Argo CD's redis; distribution#4383), and
//!   everything when offline, where a registry proxy cannot even start (it panics when its
//!   upstream does not answer; see [`CacheSettings::container_spec`]).
//!
//! The flow, with `cluster.imageCache: true` (the default):
//! 1. the planner ([`super::plan`]) adds the lab's export volume before the nodes (and a bind
//!    of it in every server and agent), an optional "cache image" step when the image is not
//!    local, one [`super::plan::Step::EnsureCache`] per upstream that is not yet running and
//!    attached to the lab's network, and, for every node it creates, a
//!    [`super::plan::Step::WriteMirrors`] with the output of [`super::mirrors::registries_yaml`];
//! 2. the executor ([`super::up`]) runs [`ensure`] for each cache: its labelled volume at
//!    `/var/lib/registry`, its container (created once, then reused by every lab), started,
//!    and attached to the lab network;
//! 3. it writes `/etc/rancher/k3s/registries.yaml` into each new node after create and before
//!    its first start: k3s reads it at start and points containerd's mirrors at the caches,
//!    and imports the tars of the export;
//! 4. `drop` of a running lab first runs [`keep_lab_images`], then removes the lab.
//!
//! If the cache image is absent and cannot be pulled (offline, no registry), or any cache step
//! fails, `up` warns once and goes on without the caches: nodes then get no `registries.yaml`
//! (the export needs no cache image and stays). The lab never fails for the cache. A cache
//! that later stops or is pruned does not break a lab either: containerd falls back to the
//! upstream when a mirror does not answer.
//!
//! Why these choices:
//! - **Wiring: the cache joins each lab network**, at a static address near the top of the
//!   lab's subnet ([`super::plan::cache_ip`]) and under its container name as alias, and nodes
//!   reach it as `http://<name>:5000`. Publishing a host port instead would expose a cache on
//!   the host (a 127.0.0.1 port is not reachable from nodes; 0.0.0.0 is reachable from the
//!   network), and a second network on every node would give k3s two interfaces to choose its
//!   node IP from. The address is static because node addresses are handed out statically from
//!   the bottom of the subnet: a cache attached with a dynamic address could take a node's
//!   address before that node is created, or after a Docker restart.
//! - **`registries.yaml` is written into the created container**, as k3d does, not bind
//!   mounted: the node's own layer keeps it as long as the node lives, while a bind-mounted
//!   host file that went missing would make Docker create a directory in its place.
//! - **Shared, never dropped**: caches are labelled [`names::LABEL_CACHE`] (the upstream) and
//!   [`names::LABEL_CACHE_NAMESPACE`], never `playground.cluster`, so `drop`'s label sweep
//!   leaves them; `drop` detaches them from the lab's network ([`detach_all`]) so that the
//!   network can go. Export volumes carry the same namespace label (and [`LABEL_EXPORT_LAB`]).
//!   `playground cache prune` removes them all but the exports of labs that exist: removing a
//!   container detaches it from every lab network, and labs then pull from the upstreams.
//! - **An export per lab name**, not one for all labs: k3s imports and pins every tar in the
//!   folder at every start, so a node gets only what a lab of its name had.
//! - **No published ports** and no privileges: only nodes on a lab network reach a cache.
//!
//! Test-only knobs: `PLAYGROUND_CACHE_IMAGE` replaces `registry:3` (tests run a double and
//! Debian's real registry 2.8: this machine and CI reach no registry), and
//! `PLAYGROUND_CACHE_NAMESPACE` gives a test its own set of caches (names and labels), so
//! parallel tests never share or prune each other's. Users need neither.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::Serialize;

use super::error::{ClusterError as Error, Result};
use crate::docker::{ContainerSpec, Engine, Labels, NetworkInfo, RunState};

use super::names;

/// The cache image: the CNCF distribution registry, which k3d's and kind's docs use as a
/// pull-through cache. Version 3, not `registry:2`: 2.8 deletes what it proxied 7 days after
/// it was cached, with no way to turn that off (distribution v2.8.3
/// `registry/proxy/proxymanifeststore.go`: `const repositoryTTL = 24 * 7 * time.Hour`), while
/// 3.x reads `proxy.ttl` and never expires anything when it is 0 ([`PROXY_TTL_ENV`]).
pub const CACHE_IMAGE: &str = "registry:3";
/// Keep what was cached forever. distribution v3.0.0 `registry/proxy/proxyregistry.go`
/// (`NewRegistryPullThroughCache`): `config.TTL == nil` means the 7-day default, `> 0` that
/// TTL, and 0 "TTL is disabled, never expire" (no scheduler at all). The value is parsed as
/// YAML into a `*time.Duration` (`configuration/parser.go` overwriteFields): `0s` is a string
/// `time.ParseDuration` reads, in both yaml.v2 and yaml.v3. Registry 2.8 has no such field and
/// ignores it with a warning, so tests on Debian's 2.8 run the same spec.
pub const PROXY_TTL_ENV: &str = "REGISTRY_PROXY_TTL=0s";
/// Replaces [`CACHE_IMAGE`] (tests use a local stand-in).
pub const ENV_IMAGE: &str = "PLAYGROUND_CACHE_IMAGE";
/// Test-only: a namespace for the cache objects, so parallel tests each get their own caches.
pub const ENV_NAMESPACE: &str = "PLAYGROUND_CACHE_NAMESPACE";
/// The namespace of the real, user-facing caches.
pub const DEFAULT_NAMESPACE: &str = "default";
/// The registry's port inside its container. Never published on the host.
pub const REGISTRY_PORT: u16 = 5000;
/// Where the registry keeps its blobs: the cache's named volume.
pub const REGISTRY_DATA: &str = "/var/lib/registry";

/// k3s's airgap image folder: at every start k3s imports each `.tar` (and `.tar.gz`,
/// `.tar.zst`, ...) in it into containerd's `k8s.io` namespace and pins the images, and a
/// running k3s imports a file that appears there (k3s `pkg/agent/containerd/containerd.go`
/// `preloadFile`, `watcher.go`). It imports with `WithAllPlatforms(true), WithSkipMissing()`,
/// so a tar holding only the node's platform is fine.
pub const AIRGAP_IMAGES: &str = "/var/lib/rancher/k3s/agent/images";
/// [`names::LABEL_CACHE`] of an image export volume (caches carry their upstream there).
pub const EXPORT_KIND: &str = "images";
/// Which lab an image export volume is for.
pub const LABEL_EXPORT_LAB: &str = "playground.cache.lab";

/// An upstream registry that gets its own cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Upstream {
    /// The registry host as image references name it (the `mirrors:` key in k3s).
    pub host: &'static str,
    /// The URL the cache pulls through (`REGISTRY_PROXY_REMOTEURL`).
    pub remote_url: &'static str,
}

/// The upstreams a lab's images come from, each with its own cache (a registry proxy serves
/// exactly one remote). Each of them answers the proxy's anonymous bearer-token flow.
///
/// Not here: `public.ecr.aws`, where Argo CD's own manifest takes redis from. The proxy cannot
/// serve it: ECR Public answers the proxy's `HEAD` on a blob with 401, and the proxy answers
/// containerd 500 (distribution/distribution#4383, with 2.8.3 and 3.0.0; #3842), so a cache
/// there only adds a failed round trip per blob. Images from it (and from any registry not
/// listed) are kept by the lab's image export instead: see [`keep_lab_images`].
pub const UPSTREAMS: [Upstream; 4] = [
    Upstream {
        host: "docker.io",
        remote_url: "https://registry-1.docker.io",
    },
    Upstream {
        host: "ghcr.io",
        remote_url: "https://ghcr.io",
    },
    Upstream {
        host: "quay.io",
        remote_url: "https://quay.io",
    },
    Upstream {
        host: "registry.k8s.io",
        remote_url: "https://registry.k8s.io",
    },
];

/// Which cache image and which set of caches; read from the environment by [`Self::from_env`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheSettings {
    pub image: String,
    /// [`DEFAULT_NAMESPACE`] unless a test names another.
    pub namespace: String,
}

impl Default for CacheSettings {
    fn default() -> Self {
        CacheSettings {
            image: CACHE_IMAGE.to_string(),
            namespace: DEFAULT_NAMESPACE.to_string(),
        }
    }
}

impl CacheSettings {
    /// [`ENV_IMAGE`] and [`ENV_NAMESPACE`], or the defaults. The namespace is reduced to what a
    /// Docker name may hold (lowercase letters, digits, `-`; 24 characters).
    pub fn from_env() -> Self {
        let image = std::env::var(ENV_IMAGE)
            .ok()
            .map(|i| i.trim().to_string())
            .filter(|i| !i.is_empty())
            .unwrap_or_else(|| CACHE_IMAGE.to_string());
        let namespace: String = std::env::var(ENV_NAMESPACE)
            .unwrap_or_default()
            .to_lowercase()
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
            .take(24)
            .collect();
        let namespace = namespace.trim_matches('-').to_string();
        CacheSettings {
            image,
            namespace: if namespace.is_empty() {
                DEFAULT_NAMESPACE.to_string()
            } else {
                namespace
            },
        }
    }

    /// The cache container's name, also its alias on lab networks: `playground-cache-docker-io`
    /// (`playground-cache-<namespace>-docker-io` in a test namespace).
    pub fn container(&self, upstream: &Upstream) -> String {
        let host = upstream.host.replace('.', "-");
        if self.namespace == DEFAULT_NAMESPACE {
            format!("{}-cache-{host}", names::PREFIX)
        } else {
            format!("{}-cache-{}-{host}", names::PREFIX, self.namespace)
        }
    }

    /// The cache's named volume.
    pub fn volume(&self, upstream: &Upstream) -> String {
        format!("{}-data", self.container(upstream))
    }

    /// The lab's image export: a volume kept across `drop` (a cache object, not the lab's),
    /// mounted in every server and agent at k3s's airgap image folder [`AIRGAP_IMAGES`].
    pub fn export_volume(&self, lab: &str) -> String {
        if self.namespace == DEFAULT_NAMESPACE {
            format!("{}-cache-images-{lab}", names::PREFIX)
        } else {
            format!("{}-cache-{}-images-{lab}", names::PREFIX, self.namespace)
        }
    }

    /// The labels of a lab's image export: the cache namespace's (so `cache prune` takes it
    /// and `drop`'s label sweep does not), and which lab it is for.
    pub fn export_labels(&self, lab: &str) -> Labels {
        Labels::from([
            (names::LABEL_CACHE.to_string(), EXPORT_KIND.to_string()),
            (
                names::LABEL_CACHE_NAMESPACE.to_string(),
                self.namespace.clone(),
            ),
            (LABEL_EXPORT_LAB.to_string(), lab.to_string()),
        ])
    }

    /// The endpoint nodes pull through: plain HTTP on the lab network, which nothing outside
    /// the lab's nodes can reach.
    pub fn endpoint(&self, upstream: &Upstream) -> String {
        format!("http://{}:{REGISTRY_PORT}", self.container(upstream))
    }

    /// The labels of a cache's container and volume. No `playground.cluster`: see the module
    /// docs.
    pub fn labels(&self, upstream: &Upstream) -> Labels {
        Labels::from([
            (names::LABEL_CACHE.to_string(), upstream.host.to_string()),
            (
                names::LABEL_CACHE_NAMESPACE.to_string(),
                self.namespace.clone(),
            ),
        ])
    }

    /// The cache's container: the registry as a pull-through proxy of `upstream` that never
    /// expires what it cached, its data on the named volume, no published port. It starts on
    /// Docker's default bridge (for its own way out to the upstream) and joins lab networks
    /// later.
    ///
    /// No restart policy: the registry panics at start when its remote does not answer
    /// (distribution v2.8.3 and v3.0.0 `registry/proxy/proxyauth.go` `getAuthURLs` does
    /// `http.Get(remoteURL + "/v2/")`, and `registry/handlers/app.go` panics on the error of
    /// `NewRegistryPullThroughCache`), so `unless-stopped` would crash-loop it on every boot
    /// without network. Nothing needs Docker to restart it: every `up` starts the caches before
    /// it creates nodes, and only new nodes pull. A cache that exited says why in
    /// `cache status` ([`CacheStatus::problem`]).
    pub fn container_spec(&self, upstream: &Upstream) -> ContainerSpec {
        let name = self.container(upstream);
        ContainerSpec {
            hostname: name.clone(),
            image: self.image.clone(),
            // The image's own command: `registry serve /etc/docker/registry/config.yml`.
            cmd: Vec::new(),
            env: vec![
                format!("REGISTRY_PROXY_REMOTEURL={}", upstream.remote_url),
                PROXY_TTL_ENV.to_string(),
            ],
            labels: self.labels(upstream),
            network: "bridge".to_string(),
            ip: None,
            binds: vec![format!("{}:{REGISTRY_DATA}", self.volume(upstream))],
            tmpfs: Vec::new(),
            privileged: false,
            entrypoint: Vec::new(),
            cap_add: Vec::new(),
            userns_host: false,
            cgroupns_private: false,
            init: true,
            restart_unless_stopped: false,
            ports: Vec::new(),
            extra_hosts: Vec::new(),
            name,
        }
    }
}

/// The `registries.yaml` entry: `localhost:PORT` is served by the registry at `ip` on the
/// lab network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegistryMirror {
    pub port: u16,
    pub ip: IpAddr,
}

impl RegistryMirror {
    /// The name images carry, on the host and in pods.
    pub fn host(&self) -> String {
        format!("localhost:{}", self.port)
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}:{REGISTRY_PORT}", self.ip)
    }
}

/// One cache to make sure of, for one lab: see [`ensure`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheStep {
    pub upstream: Upstream,
    pub spec: ContainerSpec,
    pub volume: String,
    /// The lab network to attach it to, and its static address there.
    pub network: String,
    pub ip: IpAddr,
}

impl CacheStep {
    pub fn new(settings: &CacheSettings, upstream: &Upstream, network: &str, ip: IpAddr) -> Self {
        CacheStep {
            upstream: *upstream,
            spec: settings.container_spec(upstream),
            volume: settings.volume(upstream),
            network: network.to_string(),
            ip,
        }
    }
}

/// Make one cache ready for a lab: its volume, its container (created once and shared by
/// every lab; another `up` may create it at the same moment), started, and attached to the
/// lab network. Every part is idempotent.
pub async fn ensure<E: Engine>(engine: &E, step: &CacheStep) -> Result<()> {
    ensure_shared(
        engine,
        &step.spec,
        &step.volume,
        &step.network,
        step.ip,
        "a playground cache",
        |labels| Ok(labels.get(names::LABEL_CACHE).map(String::as_str) == Some(step.upstream.host)),
    )
    .await
}

/// A container shared by labs (a cache, the lab registry): its volume, the container (created
/// once; another `up` may create it at the same moment, and theirs is as good as ours),
/// started, and attached to `network` at `ip`. `is_ours` tells our container from a stranger
/// of the same name (`what` names ours in the error), or refuses ours with its own error.
pub(super) async fn ensure_shared<E: Engine>(
    engine: &E,
    spec: &ContainerSpec,
    volume: &str,
    network: &str,
    ip: IpAddr,
    what: &str,
    is_ours: impl Fn(&Labels) -> Result<bool>,
) -> Result<()> {
    let name = &spec.name;
    engine.ensure_volume(volume, &spec.labels).await?;
    match engine.inspect_container(name).await? {
        Some(c) if !is_ours(&c.labels)? => {
            return Err(Error::NameTaken {
                name: name.clone(),
                what: what.to_string(),
            });
        }
        Some(_) => {}
        None => {
            if let Err(e) = engine.create_container(spec).await {
                match engine.inspect_container(name).await? {
                    Some(c) if is_ours(&c.labels)? => {}
                    _ => return Err(e.into()),
                }
            }
        }
    }
    engine.start(name).await?;
    engine
        .connect_network(network, name, Some(ip), std::slice::from_ref(name))
        .await?;
    Ok(())
}

/// Detach every cache (of any namespace) from a lab network, so that the network can be
/// removed: Docker refuses to remove a network with containers attached.
pub async fn detach_all<E: Engine>(engine: &E, network: &NetworkInfo) -> Result<()> {
    for c in engine.list_containers(&[(names::LABEL_CACHE, "")]).await? {
        // By ID: two networks may carry the lab network's name (see `lifecycle::remove_objects`).
        if let Err(e) = engine.disconnect_network(&network.id, &c.name).await {
            // A cache that `cache prune` is removing right now refuses to be detached, and
            // leaves every network by itself a moment later.
            if !left_network(engine, &c.name, &network.name).await? {
                return Err(e.into());
            }
        }
    }
    Ok(())
}

/// Whether a container is gone, or not (or no longer) on `network`, waiting up to 2 s.
async fn left_network<E: Engine>(engine: &E, name: &str, network: &str) -> Result<bool> {
    for _ in 0..20 {
        match engine.inspect_container(name).await? {
            Some(c) if c.ips.contains_key(network) => {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            _ => return Ok(true),
        }
    }
    Ok(false)
}

/// What [`export_lab_images`] kept.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Exported {
    /// Image references written, over all nodes.
    pub images: usize,
    /// Nodes exported from.
    pub nodes: Vec<String>,
    /// Nodes that could not be exported from, with why.
    pub skipped: Vec<(String, String)>,
}

/// Before `drop` removes a lab: write the images each running node's containerd holds into
/// the lab's export volume, one tar per node (`server-0.tar`), so the next `up` of a lab of
/// that name imports them at its nodes' first start, offline too, and whatever their upstream
/// (public.ecr.aws, which no cache can proxy, included). Best effort: a node whose export
/// fails is skipped and named. `nodes` are those that mount the export
/// ([`keep_lab_images`] picks them).
///
/// `ctr images export` without `--all-platforms` writes the node's own platform, which is
/// all the node holds. The tar is written under a name k3s does not read (`.partial`) and
/// then renamed, so a running k3s never imports half a file.
pub async fn export_lab_images<E: Engine>(engine: &E, nodes: &[(String, String)]) -> Exported {
    let mut out = Exported::default();
    let results = futures::future::join_all(
        nodes
            .iter()
            .map(|(node, file)| async move { (node, export_node(engine, node, file).await) }),
    )
    .await;
    for (node, r) in results {
        match r {
            Ok(n) => {
                out.images += n;
                out.nodes.push(node.clone());
            }
            Err(why) => out
                .skipped
                .push((node.clone(), crate::diag::Report(&why).to_string())),
        }
    }
    out
}

/// `drop`'s first step: [`export_lab_images`] from every running server and agent of `lab`,
/// shown as one step. Never fails the drop: what could not be kept is named.
pub async fn keep_lab_images<E: Engine>(engine: &E, lab: &str, ui: &crate::ui::Ui) -> Result<()> {
    let Some(summary) = super::inventory::status(engine, lab).await? else {
        return Ok(());
    };
    let prefix = format!("{}-{lab}-", names::PREFIX);
    let nodes: Vec<(String, String)> = summary
        .nodes
        .iter()
        .filter(|n| (n.role == "server" || n.role == "agent") && n.state == RunState::Running)
        .map(|n| {
            let short = n.name.strip_prefix(&prefix).unwrap_or(&n.name);
            (n.name.clone(), format!("playground-{short}.tar"))
        })
        .collect();
    // Only nodes that mount the export: not those of a lab with `imageCache: false`, nor those
    // made by a playground that did not keep images yet. Nothing to say about those.
    let mounted = futures::future::join_all(nodes.iter().map(|(node, _)| async move {
        matches!(
            engine.exec(node, &["cat", "/proc/mounts"]).await,
            Ok((0, mounts)) if mounts.contains(&format!(" {AIRGAP_IMAGES} "))
        )
    }))
    .await;
    let nodes: Vec<(String, String)> = nodes
        .into_iter()
        .zip(mounted)
        .filter_map(|(n, m)| m.then_some(n))
        .collect();
    if nodes.is_empty() {
        return Ok(());
    }
    let s = ui.step(format!("keep the images of {lab} for its next up"));
    let kept = export_lab_images(engine, &nodes).await;
    if kept.nodes.is_empty() {
        s.done_with("none kept");
    } else {
        s.done_with(&format!(
            "{} image(s) from {} node(s)",
            kept.images,
            kept.nodes.len()
        ));
    }
    for (node, why) in &kept.skipped {
        ui.warn(&format!(
            "the images of {node} are not kept: {why}\n  the next `up` of {lab} pulls them again (through the caches)"
        ));
    }
    Ok(())
}

/// Why one node's images could not be exported (a warning in `drop`, not a failure).
#[derive(Debug, thiserror::Error)]
enum NodeExportError {
    #[error(transparent)]
    Engine(#[from] crate::docker::EngineError),
    /// A command in the node exited non-zero; what it said.
    #[error("{what}: {said}")]
    Command { what: &'static str, said: String },
}

impl crate::diag::Hinted for NodeExportError {
    fn hint(&self) -> Option<String> {
        match self {
            Self::Engine(e) => e.hint(),
            Self::Command { .. } => None,
        }
    }
}

fn failed(what: &'static str, said: &str) -> NodeExportError {
    NodeExportError::Command {
        what,
        said: said.trim().to_string(),
    }
}

/// Export one node's images to `AIRGAP_IMAGES/<file>`; the number of references, or why not.
async fn export_node<E: Engine>(
    engine: &E,
    node: &str,
    file: &str,
) -> std::result::Result<usize, NodeExportError> {
    let (code, listed) = engine
        .exec(node, &["ctr", "-n", "k8s.io", "images", "ls", "-q"])
        .await?;
    if code != 0 {
        return Err(failed("`ctr images ls` failed", &listed));
    }
    let refs = exportable_refs(&listed);
    if refs.is_empty() {
        return Ok(0);
    }
    let partial = format!("{AIRGAP_IMAGES}/{file}.partial");
    let mut cmd = vec!["ctr", "-n", "k8s.io", "images", "export", partial.as_str()];
    cmd.extend(refs.iter().map(String::as_str));
    let (code, said) = engine.exec(node, &cmd).await?;
    if code != 0 {
        let _ = engine.exec(node, &["rm", "-f", &partial]).await;
        return Err(failed("`ctr images export` failed", &said));
    }
    let done = format!("{AIRGAP_IMAGES}/{file}");
    let (code, said) = engine.exec(node, &["mv", "-f", &partial, &done]).await?;
    if code != 0 {
        return Err(failed("cannot rename the export", &said));
    }
    Ok(refs.len())
}

/// The references worth exporting from `ctr images ls -q`: by tag. Not image IDs
/// (`sha256:…`, which the CRI adds) nor `name@sha256:…` (k3s adds those again on import).
pub fn exportable_refs(listed: &str) -> Vec<String> {
    let mut refs: Vec<String> = listed
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("sha256:") && !l.contains('@'))
        .map(str::to_string)
        .collect();
    refs.sort();
    refs.dedup();
    refs
}

/// One cache as `playground cache status` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CacheStatus {
    pub upstream: String,
    pub remote_url: String,
    pub container: String,
    /// `absent`, or the container's run state.
    pub state: String,
    pub image: Option<String>,
    pub volume: String,
    pub volume_exists: bool,
    /// The bytes cached (`du` in the running registry); `None` when it is not running.
    pub size_bytes: Option<u64>,
    /// The labs whose networks it is attached to.
    pub labs: Vec<String>,
    /// Why a cache that exists is not running, from its last log lines: the registry's panic
    /// when its upstream did not answer at start (offline), or its exit code.
    pub problem: Option<String>,
}

/// Every cache of the namespace, absent ones included, and which labs use each.
pub async fn status<E: Engine>(engine: &E, settings: &CacheSettings) -> Result<Vec<CacheStatus>> {
    let volumes = engine
        .list_volumes(&[(names::LABEL_CACHE_NAMESPACE, &settings.namespace)])
        .await?;
    let lab_of: BTreeMap<String, String> = engine
        .list_networks(&[(names::LABEL_CLUSTER, "")])
        .await?
        .into_iter()
        .filter_map(|n| {
            let lab = n.labels.get(names::LABEL_CLUSTER)?.clone();
            Some((n.name, lab))
        })
        .collect();
    let mut out = Vec::new();
    for upstream in &UPSTREAMS {
        let container = settings.container(upstream);
        let volume = settings.volume(upstream);
        let found = engine.inspect_container(&container).await?.filter(|c| {
            c.labels.get(names::LABEL_CACHE).map(String::as_str) == Some(upstream.host)
        });
        let size_bytes = match &found {
            Some(c) if c.state == RunState::Running => registry_size(engine, &container).await,
            _ => None,
        };
        let problem = match &found {
            Some(c) if c.state != RunState::Running => {
                Some(exit_reason(engine, &container, upstream, c.exit_code).await)
            }
            _ => None,
        };
        out.push(CacheStatus {
            upstream: upstream.host.to_string(),
            remote_url: upstream.remote_url.to_string(),
            state: found
                .as_ref()
                .map_or("absent", |c| c.state.as_str())
                .to_string(),
            image: found.as_ref().map(|c| c.image.clone()),
            labs: found
                .iter()
                .flat_map(|c| c.ips.keys())
                .filter_map(|net| lab_of.get(net).cloned())
                .collect(),
            volume_exists: volumes.contains(&volume),
            volume,
            size_bytes,
            problem,
            container,
        });
    }
    Ok(out)
}

/// Why a cache is not running, for `cache status`: the registry's own panic line when there is
/// one (see [`CacheSettings::container_spec`]), with what to do.
async fn exit_reason<E: Engine>(
    engine: &E,
    container: &str,
    upstream: &Upstream,
    exit_code: Option<i64>,
) -> String {
    let logs = engine.tail_logs(container, 50).await.unwrap_or_default();
    match logs.lines().find_map(|l| l.trim().strip_prefix("panic: ")) {
        Some(panic) => format!(
            "the registry panicked at start: {panic}\n  it could not reach {} (offline?); pulls from {} go to the upstream directly; the next `playground up` with a network starts it again",
            upstream.remote_url, upstream.host
        ),
        None => match exit_code {
            Some(code) if code != 0 => format!(
                "exited with code {code}\n  see `docker logs {container}`; the next `playground up` starts it again"
            ),
            _ => "not running; the next `playground up` starts it again".to_string(),
        },
    }
}

/// The size of the registry's data, from `du` inside the running cache: cheap, and it needs
/// nothing but the image's own busybox. `None` if that does not work.
async fn registry_size<E: Engine>(engine: &E, container: &str) -> Option<u64> {
    let (code, out) = engine
        .exec(container, &["du", "-sk", REGISTRY_DATA])
        .await
        .ok()?;
    if code != 0 {
        return None;
    }
    let kib: u64 = out.split_whitespace().next()?.parse().ok()?;
    Some(kib * 1024)
}

/// Render `cache status` as a table.
pub fn render_table(caches: &[CacheStatus]) -> String {
    let mut out = format!(
        "{:<16} {:<9} {:>9}  {:<36} LABS\n",
        "UPSTREAM", "STATE", "SIZE", "CONTAINER"
    );
    for c in caches {
        out.push_str(&format!(
            "{:<16} {:<9} {:>9}  {:<36} {}\n",
            c.upstream,
            c.state,
            c.size_bytes.map_or("-".to_string(), human_size),
            c.container,
            if c.labs.is_empty() {
                "-".to_string()
            } else {
                c.labs.join(",")
            }
        ));
    }
    // Problems after the table, one paragraph each, so the columns stay readable.
    for c in caches {
        if let Some(problem) = &c.problem {
            out.push_str(&format!("\n{}: {problem}\n", c.container));
        }
    }
    out
}

/// `1536` → `1.5 KiB`.
pub fn human_size(bytes: u64) -> String {
    indicatif::HumanBytes(bytes).to_string()
}

/// What `cache prune` removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Pruned {
    pub containers: usize,
    pub volumes: usize,
}

/// Remove every cache container and volume of the namespace, and the image exports of labs
/// that no longer exist. Removing a container detaches it from every lab network; those labs
/// then pull from the upstreams directly, and their next `up` brings the caches back (empty).
/// The export of a lab that exists stays: its nodes mount it (Docker refuses to remove a
/// volume in use), and its next `drop` writes it again.
pub async fn prune<E: Engine>(engine: &E, settings: &CacheSettings) -> Result<Pruned> {
    let filter = [(names::LABEL_CACHE_NAMESPACE, settings.namespace.as_str())];
    let containers = engine.list_containers(&filter).await?;
    for c in &containers {
        engine.remove_container(&c.name).await?;
    }
    let exports = engine
        .list_volumes(&[
            (names::LABEL_CACHE_NAMESPACE, settings.namespace.as_str()),
            (names::LABEL_CACHE, EXPORT_KIND),
        ])
        .await?;
    let export_prefix = settings.export_volume("");
    let mut volumes = 0;
    for v in engine.list_volumes(&filter).await? {
        if exports.contains(&v) {
            let lab = v.strip_prefix(&export_prefix).unwrap_or_default();
            if super::inventory::status(engine, lab).await?.is_some() {
                continue;
            }
        }
        engine.remove_volume(&v).await?;
        volumes += 1;
    }
    Ok(Pruned {
        containers: containers.len(),
        volumes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cache_is_shared_unpublished_and_never_a_lab_object() {
        let s = CacheSettings::default();
        let spec = s.container_spec(&UPSTREAMS[0]);
        assert_eq!(spec.name, "playground-cache-docker-io");
        assert_eq!(spec.image, "registry:3");
        // Never expires what it cached (a lab made again 30 days later still finds it).
        assert_eq!(
            spec.env,
            vec![
                "REGISTRY_PROXY_REMOTEURL=https://registry-1.docker.io",
                "REGISTRY_PROXY_TTL=0s"
            ]
        );
        assert_eq!(
            spec.binds,
            vec!["playground-cache-docker-io-data:/var/lib/registry"]
        );
        // No restart policy: offline, the registry panics at start and would crash-loop.
        assert!(spec.ports.is_empty() && !spec.privileged && !spec.restart_unless_stopped);
        assert_eq!(spec.labels[names::LABEL_CACHE], "docker.io");
        assert_eq!(spec.labels[names::LABEL_CACHE_NAMESPACE], "default");
        assert!(!spec.labels.contains_key(names::LABEL_CLUSTER));
        let t = CacheSettings {
            image: "i".into(),
            namespace: "ns1".into(),
        };
        assert_eq!(
            t.volume(&UPSTREAMS[3]),
            "playground-cache-ns1-registry-k8s-io-data"
        );
    }

    #[test]
    fn only_tagged_references_are_exported() {
        let listed = format!(
            "public.ecr.aws/docker/library/redis:8.2.3-alpine\nsha256:{a}\n\
             docker.io/rancher/mirrored-pause@sha256:{a}\ndocker.io/rancher/mirrored-pause:3.6\n\
             public.ecr.aws/docker/library/redis:8.2.3-alpine\n\n",
            a = "a".repeat(64)
        );
        assert_eq!(
            exportable_refs(&listed),
            vec![
                "docker.io/rancher/mirrored-pause:3.6",
                "public.ecr.aws/docker/library/redis:8.2.3-alpine"
            ]
        );
    }

    #[test]
    fn no_upstream_is_proxied_that_the_proxy_cannot_serve() {
        // distribution/distribution#4383, #3842: ECR Public refuses the proxy; its images are
        // kept by the export instead.
        assert!(UPSTREAMS.iter().all(|u| !u.host.ends_with("ecr.aws")));
        let s = CacheSettings::default();
        assert_eq!(s.export_volume("lab"), "playground-cache-images-lab");
        assert_eq!(s.export_labels("lab")[LABEL_EXPORT_LAB], "lab");
        assert!(!s.export_labels("lab").contains_key(names::LABEL_CLUSTER));
    }

    #[test]
    fn sizes_read_as_people_do() {
        assert_eq!(human_size(512), "512 B");
        assert_eq!(human_size(1536), "1.50 KiB");
        assert_eq!(human_size(3 * 1024 * 1024 * 1024), "3.00 GiB");
    }
}

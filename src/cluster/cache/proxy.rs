//! The pull-through caches: the upstreams they serve, their containers, and making them ready
//! for a lab (and letting go of its network).

use std::net::IpAddr;

use super::super::error::{ClusterError as Error, Result};
use crate::docker::{ContainerSpec, Engine, Labels, NetworkInfo};

use super::super::names;
use super::CacheSettings;

/// The cache image: the CNCF distribution registry, which k3d's and kind's docs use as a
/// pull-through cache. Version 3, not `registry:2`: 2.8 deletes what it proxied 7 days after
/// it was cached, with no way to turn that off (distribution v2.8.3
/// `registry/proxy/proxymanifeststore.go`: `const repositoryTTL = 24 * 7 * time.Hour`), while
/// 3.x reads `proxy.ttl` and never expires anything when it is 0 ([`PROXY_TTL_ENV`]).
pub(crate) const CACHE_IMAGE: &str = "registry:3";
/// Keep what was cached forever. distribution v3.0.0 `registry/proxy/proxyregistry.go`
/// (`NewRegistryPullThroughCache`): `config.TTL == nil` means the 7-day default, `> 0` that
/// TTL, and 0 "TTL is disabled, never expire" (no scheduler at all). The value is parsed as
/// YAML into a `*time.Duration` (`configuration/parser.go` overwriteFields): `0s` is a string
/// `time.ParseDuration` reads, in both yaml.v2 and yaml.v3. Registry 2.8 has no such field and
/// ignores it with a warning, so tests on Debian's 2.8 run the same spec.
pub(crate) const PROXY_TTL_ENV: &str = "REGISTRY_PROXY_TTL=0s";
/// The registry's port inside its container. Never published on the host.
pub(crate) const REGISTRY_PORT: u16 = 5000;
/// Where the registry keeps its blobs: the cache's named volume.
pub(crate) const REGISTRY_DATA: &str = "/var/lib/registry";

/// An upstream registry that gets its own cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Upstream {
    /// The registry host as image references name it (the `mirrors:` key in k3s).
    pub(crate) host: &'static str,
    /// The URL the cache pulls through (`REGISTRY_PROXY_REMOTEURL`).
    pub(crate) remote_url: &'static str,
}

/// The upstreams a lab's images come from, each with its own cache (a registry proxy serves
/// exactly one remote). Each of them answers the proxy's anonymous bearer-token flow.
///
/// Not here: `public.ecr.aws`, where Argo CD's own manifest takes redis from. The proxy cannot
/// serve it: ECR Public answers the proxy's `HEAD` on a blob with 401, and the proxy answers
/// containerd 500 (distribution/distribution#4383, with 2.8.3 and 3.0.0; #3842), so a cache
/// there only adds a failed round trip per blob. Images from it (and from any registry not
/// listed) are kept by the lab's image export instead: see [`keep_lab_images`](super::keep_lab_images).
pub(crate) const UPSTREAMS: [Upstream; 4] = [
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
impl CacheSettings {
    /// The endpoint nodes pull through: plain HTTP on the lab network, which nothing outside
    /// the lab's nodes can reach.
    pub(crate) fn endpoint(&self, upstream: &Upstream) -> String {
        format!("http://{}:{REGISTRY_PORT}", self.container(upstream))
    }

    /// The labels of a cache's container and volume. No `playground.cluster`: see the module
    /// docs.
    pub(crate) fn labels(&self, upstream: &Upstream) -> Labels {
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
    /// `cache status` ([`super::CacheStatus::problem`]).
    pub(crate) fn container_spec(&self, upstream: &Upstream) -> ContainerSpec {
        let name = self.container(upstream);
        ContainerSpec {
            hostname: name.clone(),
            image: self.image.clone(),
            // The image's own command: `registry serve /etc/distribution/config.yml` (v3; v2
            // read /etc/docker/registry/). Only REGISTRY_* variables configure it here.
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

/// One cache to make sure of, for one lab: see [`ensure`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CacheStep {
    pub(crate) upstream: Upstream,
    pub(crate) spec: ContainerSpec,
    pub(crate) volume: String,
    /// The lab network to attach it to, and its static address there.
    pub(crate) network: String,
    pub(crate) ip: IpAddr,
}

impl CacheStep {
    pub(crate) fn new(
        settings: &CacheSettings,
        upstream: &Upstream,
        network: &str,
        ip: IpAddr,
    ) -> Self {
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
pub(crate) async fn ensure<E: Engine>(engine: &E, step: &CacheStep) -> Result<()> {
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
pub(in crate::cluster) async fn ensure_shared<E: Engine>(
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
pub(crate) async fn detach_all<E: Engine>(engine: &E, network: &NetworkInfo) -> Result<()> {
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

//! The lab registry (`cluster.registry: { port: 5001 }`): a plain distribution registry you
//! push to from the host as `localhost:5001/app`, and whose images pods name the same way.
//!
//! The flow, when the lab file has `cluster.registry`:
//! 1. the planner ([`super::plan`]) refuses a lab whose port differs from the one the registry
//!    already runs on (one registry per cache namespace, shared by every lab), checks the host
//!    port is free when the registry must be created or started, fetches its image with the
//!    nodes' images, and adds a [`super::plan::Step::EnsureRegistry`] when it is not running
//!    and attached to the lab network at [`super::plan::registry_ip`];
//! 2. the executor ([`super::up`]) runs [`ensure`]: its labelled volume, its container
//!    (published on 127.0.0.1:PORT only), started, attached to the lab network;
//! 3. every new node gets a `mirrors:` entry for `localhost:PORT` in
//!    `registries.yaml` ([`super::k3s::registries::registries_yaml`]), pointing at the
//!    registry's address on the lab network, even when the image cache is off;
//! 4. after the API is up, `up` applies the KEP-1755 ConfigMap
//!    `kube-public/local-registry-hosting` ([`hosting_configmap`]), which Tilt, Skaffold and
//!    ctlptl read to learn where to push.
//!
//! Why these choices:
//! - **One name on both sides.** The host pushes to `localhost:PORT` (Docker treats
//!   `localhost` as an insecure registry, so plain HTTP needs no daemon setting); in a node,
//!   `localhost` is the node itself, so containerd is told that `localhost:PORT` is mirrored
//!   by the registry's lab-network address. k3d does the same for its registries
//!   (k3d `pkg/client/registry.go`, `RegistryGenerateK3sConfig`: `mirrors: {"<host>:<port>":
//!   {endpoint: ["http://<name>:5000"]}}`).
//! - **The address, not the name**, in the endpoint: containerd resolves endpoints with the
//!   node's resolver, and the address is static (below the caches, above every node; see
//!   [`super::plan::registry_ip`]).
//! - **Shared and kept, like the caches**: the container and volume carry
//!   [`names::LABEL_CACHE`] = [`KIND`] and the cache namespace, never `playground.cluster`, so
//!   `drop` detaches it ([`super::cache::detach_all`]) and leaves it, with what was pushed, to
//!   the next lab; `playground cache prune` removes it with the caches.
//! - **A plain registry**: no `REGISTRY_PROXY_*` (a proxy is read-only to pushes). It restarts
//!   with Docker (`unless-stopped`): unlike a proxy it needs no network to start, and a
//!   registry that is back after a reboot is what `docker push` expects.
//!
//! Knobs: [`ENV_IMAGE`] replaces [`REGISTRY_IMAGE`] (tests use Debian's real registry 2.8),
//! and the cache namespace (`PLAYGROUND_CACHE_NAMESPACE`, test-only) names the registry too.

use std::net::IpAddr;

use super::error::{ClusterError as Error, Result};
use crate::docker::{ContainerSpec, Engine, Labels, PortBinding};

use super::cache::{CacheSettings, DEFAULT_NAMESPACE, REGISTRY_DATA, REGISTRY_PORT};
use super::names;

/// The registry image: the CNCF distribution registry, as kind's and k3d's docs run it.
pub(crate) const REGISTRY_IMAGE: &str = "registry:3";
/// Replaces [`REGISTRY_IMAGE`].
pub(crate) const ENV_IMAGE: &str = "PLAYGROUND_REGISTRY_IMAGE";
/// [`names::LABEL_CACHE`] of the registry's container and volume.
pub(crate) const KIND: &str = "registry";
/// The host port the registry was created with, on its container.
pub(crate) const LABEL_PORT: &str = "playground.registry.port";
/// The KEP-1755 ConfigMap: `kube-public/local-registry-hosting`, key `localRegistryHosting.v1`
/// (kubernetes/enhancements `keps/sig-cluster-lifecycle/generic/1755-communicating-a-local-registry`).
pub(crate) const HOSTING_NAMESPACE: &str = "kube-public";
pub(crate) const HOSTING_NAME: &str = "local-registry-hosting";
pub(crate) const HOSTING_KEY: &str = "localRegistryHosting.v1";

/// Which image and which namespace; see [`Self::from_env`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RegistrySettings {
    pub(crate) image: String,
    pub(crate) namespace: String,
}

impl Default for RegistrySettings {
    fn default() -> Self {
        RegistrySettings {
            image: REGISTRY_IMAGE.to_string(),
            namespace: DEFAULT_NAMESPACE.to_string(),
        }
    }
}

impl RegistrySettings {
    /// [`ENV_IMAGE`] or [`REGISTRY_IMAGE`], and the image caches' namespace.
    pub(crate) fn from_env() -> Self {
        let image = std::env::var(ENV_IMAGE)
            .ok()
            .map(|i| i.trim().to_string())
            .filter(|i| !i.is_empty())
            .unwrap_or_else(|| REGISTRY_IMAGE.to_string());
        RegistrySettings {
            image,
            namespace: CacheSettings::from_env().namespace,
        }
    }

    /// `playground-registry` (`playground-registry-<namespace>` in a test namespace); also its
    /// alias on lab networks.
    pub(crate) fn container(&self) -> String {
        if self.namespace == DEFAULT_NAMESPACE {
            format!("{}-registry", names::PREFIX)
        } else {
            format!("{}-registry-{}", names::PREFIX, self.namespace)
        }
    }

    pub(crate) fn volume(&self) -> String {
        format!("{}-data", self.container())
    }

    /// The labels of its container and volume: a cache object (see the module docs).
    pub(crate) fn labels(&self, port: u16) -> Labels {
        Labels::from([
            (names::LABEL_CACHE.to_string(), KIND.to_string()),
            (
                names::LABEL_CACHE_NAMESPACE.to_string(),
                self.namespace.clone(),
            ),
            (LABEL_PORT.to_string(), port.to_string()),
        ])
    }

    /// The host port binding: 127.0.0.1 only, so nothing off the host can push.
    pub(crate) fn binding(port: u16) -> PortBinding {
        PortBinding {
            host_ip: IpAddr::from([127, 0, 0, 1]),
            host_port: port,
            container_port: REGISTRY_PORT,
            protocol: "tcp",
        }
    }

    /// The registry's container: the image's own command and configuration (filesystem
    /// storage at [`REGISTRY_DATA`], `:5000`, no auth), no proxy, its data on the volume.
    pub(crate) fn container_spec(&self, port: u16) -> ContainerSpec {
        let name = self.container();
        ContainerSpec {
            hostname: name.clone(),
            image: self.image.clone(),
            entrypoint: Vec::new(),
            cmd: Vec::new(),
            env: Vec::new(),
            labels: self.labels(port),
            network: "bridge".to_string(),
            ip: None,
            binds: vec![format!("{}:{REGISTRY_DATA}", self.volume())],
            tmpfs: Vec::new(),
            privileged: false,
            cap_add: Vec::new(),
            userns_host: false,
            cgroupns_private: false,
            init: true,
            restart_unless_stopped: true,
            ports: vec![Self::binding(port)],
            extra_hosts: Vec::new(),
            name,
        }
    }
}

/// The port an existing registry container was made with (its label).
pub(crate) fn port_of(labels: &Labels) -> Option<u16> {
    labels.get(LABEL_PORT)?.parse().ok()
}

/// The `registries.yaml` entry: `localhost:PORT` is served by the registry at `ip` on the
/// lab network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RegistryMirror {
    pub(crate) port: u16,
    pub(crate) ip: IpAddr,
}

impl RegistryMirror {
    /// The name images carry, on the host and in pods.
    pub(crate) fn host(&self) -> String {
        format!("localhost:{}", self.port)
    }

    pub(crate) fn endpoint(&self) -> String {
        format!("http://{}:{REGISTRY_PORT}", self.ip)
    }
}

/// Make the registry ready for a lab: see [`ensure`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RegistryStep {
    pub(crate) spec: ContainerSpec,
    pub(crate) volume: String,
    pub(crate) port: u16,
    pub(crate) network: String,
    pub(crate) ip: IpAddr,
}

impl RegistryStep {
    pub(crate) fn new(settings: &RegistrySettings, port: u16, network: &str, ip: IpAddr) -> Self {
        RegistryStep {
            spec: settings.container_spec(port),
            volume: settings.volume(),
            port,
            network: network.to_string(),
            ip,
        }
    }
}

/// The registry's volume, its container (created once and shared; another `up` may create it
/// at the same moment), started, and attached to the lab network at its address. Idempotent.
/// Unlike a cache it is not optional: the lab file asked for it.
pub(crate) async fn ensure<E: Engine>(engine: &E, step: &RegistryStep) -> Result<()> {
    let name = &step.spec.name;
    super::cache::ensure_shared(
        engine,
        &step.spec,
        &step.volume,
        &step.network,
        step.ip,
        "the playground registry",
        |labels| {
            if labels.get(names::LABEL_CACHE).map(String::as_str) != Some(KIND) {
                return Ok(false);
            }
            match port_of(labels) {
                Some(p) if p != step.port => Err(port_mismatch(name, p, step.port)),
                _ => Ok(true),
            }
        },
    )
    .await
}

/// `registry rm`: the registry's container (which leaves every lab network with it) and its
/// volume. `false` when there was none. A container of that name that is not the registry is
/// left alone, with an error.
pub(crate) async fn remove<E: Engine>(engine: &E, settings: &RegistrySettings) -> Result<bool> {
    let name = settings.container();
    let found = match engine.inspect_container(&name).await? {
        Some(c) if c.labels.get(names::LABEL_CACHE).map(String::as_str) != Some(KIND) => {
            return Err(Error::NotOurRegistry(name));
        }
        Some(_) => {
            engine.remove_container(&name).await?;
            true
        }
        None => false,
    };
    let volume = settings.volume();
    let had_volume = engine
        .list_volumes(&[(names::LABEL_CACHE, KIND)])
        .await?
        .contains(&volume);
    if had_volume {
        engine.remove_volume(&volume).await?;
    }
    Ok(found || had_volume)
}

/// The error for a lab that asks for another port than the shared registry's.
pub(crate) fn port_mismatch(container: &str, have: u16, want: u16) -> Error {
    Error::RegistryPort {
        want,
        have,
        container: container.to_string(),
    }
}

/// The KEP-1755 ConfigMap's one data value. `help` is a URL by the KEP; the project has no
/// published docs URL yet, so it names the registry's own docs.
pub(crate) fn hosting_value(port: u16) -> String {
    format!("host: \"localhost:{port}\"\nhelp: \"{HELP_URL}\"\n")
}

const HELP_URL: &str = "https://distribution.github.io/distribution/";

/// The whole ConfigMap, for server-side apply.
pub(crate) fn hosting_configmap(port: u16) -> serde_json::Value {
    serde_json::json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": HOSTING_NAME,
            "namespace": HOSTING_NAMESPACE,
            "labels": {"app.kubernetes.io/managed-by": "playground"}
        },
        "data": {HOSTING_KEY: hosting_value(port)}
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_registry_is_plain_shared_kept_and_on_localhost_only() {
        let s = RegistrySettings::default();
        let spec = s.container_spec(5001);
        assert_eq!(spec.name, "playground-registry");
        assert_eq!(spec.image, "registry:3");
        // A plain registry: no proxy settings at all.
        assert!(spec.env.is_empty(), "{:?}", spec.env);
        assert_eq!(
            spec.binds,
            vec!["playground-registry-data:/var/lib/registry"]
        );
        assert_eq!(
            spec.ports,
            vec![PortBinding {
                host_ip: "127.0.0.1".parse().unwrap(),
                host_port: 5001,
                container_port: 5000,
                protocol: "tcp",
            }]
        );
        assert!(!spec.privileged && spec.restart_unless_stopped);
        // A cache object: `drop` leaves it, `cache prune` takes it.
        assert_eq!(spec.labels[names::LABEL_CACHE], KIND);
        assert_eq!(spec.labels[names::LABEL_CACHE_NAMESPACE], "default");
        assert!(!spec.labels.contains_key(names::LABEL_CLUSTER));
        assert_eq!(port_of(&spec.labels), Some(5001));
        let t = RegistrySettings {
            image: "i".into(),
            namespace: "ns1".into(),
        };
        assert_eq!(t.volume(), "playground-registry-ns1-data");
    }

    #[test]
    fn the_hosting_configmap_is_kep_1755() {
        let cm = hosting_configmap(5001);
        assert_eq!(cm["metadata"]["namespace"], "kube-public");
        assert_eq!(cm["metadata"]["name"], "local-registry-hosting");
        #[derive(serde::Deserialize)]
        struct V1 {
            host: String,
            help: String,
        }
        let v: V1 = serde_saphyr::from_str(cm["data"]["localRegistryHosting.v1"].as_str().unwrap())
            .unwrap();
        assert_eq!(v.host, "localhost:5001");
        assert!(v.help.starts_with("https://"));
    }
}

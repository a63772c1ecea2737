//! The Kubernetes API in our own vocabulary: `readyz`, `nodes`, `wait_ready`.
//!
//! Built from the kubeconfig k3s wrote (server URL rewritten to the host port), so the same
//! credentials the user gets are the ones we test with.

use std::time::Duration;

use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, ListParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use tokio::time::Instant;

/// A connected API.
#[derive(Clone)]
pub struct KubeApi {
    client: kube::Client,
}

/// One node as `status` shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NodeReady {
    pub(crate) name: String,
    pub(crate) ready: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("the kubeconfig is not usable: {0}")]
    Config(#[from] kube::config::KubeconfigError),
    /// A kubeconfig that parses but from which no client can be built (its TLS settings, …).
    #[error("the kubeconfig is not usable: {0}")]
    Client(#[source] kube::Error),
    #[error("the Kubernetes API at {url} did not become ready within {secs}s (last: {last})")]
    NotReady {
        url: String,
        secs: u64,
        #[source]
        last: NotYet,
    },
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
}

impl crate::diag::Classified for ApiError {
    fn kind(&self) -> crate::diag::Kind {
        match self {
            Self::NotReady { .. } => crate::diag::Kind::Timeout,
            _ => crate::diag::Kind::Failed,
        }
    }
}

/// The progress of a wait for Ready nodes in a lab of `of` nodes when `seen` are registered:
/// the Ready ones over all the lab has, or all there are if more are registered; never over
/// the wait's gate ("2/1" read as nonsense, and "1/1" while two agents still boot hid them).
fn ready_text(ready: usize, seen: usize, of: usize) -> String {
    format!("{ready}/{} nodes Ready", seen.max(of))
}

/// What the last look at a starting API server saw, for [`ApiError::NotReady`].
#[derive(Debug, thiserror::Error)]
pub enum NotYet {
    #[error("/readyz: {0}")]
    Readyz(#[source] ReadyzError),
    /// `ready` of the `total` nodes (those seen, at least the lab's), `expected` needed.
    #[error("{ready}/{total} nodes Ready (needed {expected})")]
    Nodes {
        ready: usize,
        total: usize,
        expected: usize,
    },
    #[error("list nodes: {0}")]
    ListNodes(#[source] kube::Error),
    /// One node, in our words: not registered, not Ready (and why), no fresh heartbeat.
    #[error("{0}")]
    Node(String),
    #[error("get node: {0}")]
    GetNode(#[source] kube::Error),
}

/// Why `GET /readyz` did not say `ok`.
#[derive(Debug, thiserror::Error)]
pub enum ReadyzError {
    #[error("{0}")]
    Request(#[source] kube::Error),
    /// The server answered, with something else than `ok` (the start of its answer, which
    /// lists the checks that fail).
    #[error("{0}")]
    NotOk(String),
}

impl KubeApi {
    /// Connect with a kubeconfig document (YAML).
    pub async fn from_kubeconfig_yaml(yaml: &str) -> Result<Self, ApiError> {
        let kc = Kubeconfig::from_yaml(yaml)?;
        Self::from_kubeconfig(kc, None).await
    }

    /// Connect with a kubeconfig and an optional context name.
    pub(crate) async fn from_kubeconfig(
        kc: Kubeconfig,
        context: Option<String>,
    ) -> Result<Self, ApiError> {
        let opts = KubeConfigOptions {
            context,
            ..Default::default()
        };
        let mut config = kube::Config::from_custom_kubeconfig(kc, &opts).await?;
        config.connect_timeout = Some(Duration::from_secs(5));
        config.read_timeout = Some(Duration::from_secs(15));
        // A lab's API is published on this machine (or the address the lab file names), never
        // behind a proxy; kube-rs takes HTTPS_PROXY from the environment unless the kubeconfig
        // names one, and this build has no proxy support ("requires the disabled feature
        // kube/http-proxy"), so a shell with a corporate proxy set could not reach its lab.
        config.proxy_url = None;
        let client = kube::Client::try_from(config).map_err(ApiError::Client)?;
        Ok(KubeApi { client })
    }

    pub fn client(&self) -> &kube::Client {
        &self.client
    }

    /// `GET /readyz`: `Ok(())` when the server says `ok`.
    pub(crate) async fn readyz(&self) -> Result<(), ReadyzError> {
        // A GET of a constant path with an empty body: building it cannot fail.
        let req = http::Request::get("/readyz")
            .body(Vec::new())
            .expect("a GET /readyz request");
        match self.client.request_text(req).await {
            Ok(body) if body.trim() == "ok" => Ok(()),
            Ok(body) => Err(ReadyzError::NotOk(body.trim().chars().take(200).collect())),
            Err(e) => Err(ReadyzError::Request(e)),
        }
    }

    /// Every Node and whether its Ready condition is True.
    pub(crate) async fn nodes(&self) -> Result<Vec<NodeReady>, kube::Error> {
        let nodes: Api<Node> = Api::all(self.client.clone());
        let list = nodes.list(&ListParams::default()).await?;
        let mut out: Vec<NodeReady> = list
            .items
            .iter()
            .map(|n| {
                let (name, ready) = node_ready(n);
                NodeReady { name, ready }
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Wait for `/readyz`, then for at least `expected` Ready nodes of the lab's `of`.
    /// `report` gets a short progress text each round ("1/3 nodes Ready": over `of`, or over
    /// the nodes registered if there are more).
    pub(crate) async fn wait_ready(
        &self,
        url: &str,
        expected: usize,
        of: usize,
        deadline: Instant,
        report: &(dyn Fn(&str) + Send + Sync),
    ) -> Result<Vec<NodeReady>, ApiError> {
        let secs = deadline.saturating_duration_since(Instant::now()).as_secs();
        let mut last;
        loop {
            match self.readyz().await {
                Ok(()) => break,
                Err(e) => last = NotYet::Readyz(e),
            }
            report("waiting for /readyz");
            if Instant::now() >= deadline {
                return Err(ApiError::NotReady {
                    url: url.into(),
                    secs,
                    last,
                });
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        // List, then watch from the list's version: a node that turns Ready is seen at once,
        // not at the next poll (agents register while Argo CD is being applied).
        let api: Api<Node> = Api::all(self.client.clone());
        loop {
            match self
                .watch_until_ready(&api, expected, of, deadline, report)
                .await
            {
                Ok(Some(nodes)) => return Ok(nodes),
                Ok(None) => {}
                Err(e) => report(&format!("list nodes: {e}")),
            }
            if Instant::now() >= deadline {
                last = match self.nodes().await {
                    Ok(nodes) => {
                        let ready = nodes.iter().filter(|n| n.ready).count();
                        NotYet::Nodes {
                            ready,
                            total: nodes.len().max(of).max(expected),
                            expected,
                        }
                    }
                    Err(e) => NotYet::ListNodes(e),
                };
                return Err(ApiError::NotReady {
                    url: url.into(),
                    secs,
                    last,
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// One list and one watch of the Nodes: `Some` with every node once `expected` are Ready,
    /// `None` when the watch ended first (its timeout, the deadline, a dropped stream).
    async fn watch_until_ready(
        &self,
        api: &Api<Node>,
        expected: usize,
        of: usize,
        deadline: Instant,
        report: &(dyn Fn(&str) + Send + Sync),
    ) -> Result<Option<Vec<NodeReady>>, kube::Error> {
        use futures::TryStreamExt;
        use kube::api::{WatchEvent, WatchParams};
        let list = api.list(&ListParams::default()).await?;
        let rv = list.metadata.resource_version.clone().unwrap_or_default();
        let mut seen: std::collections::BTreeMap<String, bool> =
            list.items.iter().map(node_ready).collect();
        let done = |seen: &std::collections::BTreeMap<String, bool>| {
            let ready = seen.values().filter(|r| **r).count();
            report(&ready_text(ready, seen.len(), of));
            (ready >= expected).then(|| {
                seen.iter()
                    .map(|(name, ready)| NodeReady {
                        name: name.clone(),
                        ready: *ready,
                    })
                    .collect()
            })
        };
        if let Some(nodes) = done(&seen) {
            return Ok(Some(nodes));
        }
        let left = deadline.saturating_duration_since(Instant::now()).as_secs();
        let wp = WatchParams::default().timeout(left.clamp(1, 290) as u32);
        let mut stream = std::pin::pin!(api.watch(&wp, &rv).await?);
        loop {
            let event = match tokio::time::timeout_at(deadline, stream.try_next()).await {
                Ok(Ok(Some(event))) => event,
                Ok(Ok(None)) | Err(_) => return Ok(None),
                Ok(Err(e)) => return Err(e),
            };
            match event {
                WatchEvent::Added(n) | WatchEvent::Modified(n) => {
                    let (name, ready) = node_ready(&n);
                    seen.insert(name, ready);
                }
                WatchEvent::Deleted(n) => {
                    seen.remove(&node_ready(&n).0);
                }
                WatchEvent::Bookmark(_) => {}
                // Expired resource version and the like: list again.
                WatchEvent::Error(_) => return Ok(None),
            }
            if let Some(nodes) = done(&seen) {
                return Ok(Some(nodes));
            }
        }
    }
}

/// A Node's name, and whether its Ready condition is True.
fn node_ready(n: &Node) -> (String, bool) {
    let ready = n
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
    (n.metadata.name.clone().unwrap_or_default(), ready)
}

/// The ConfigMap k3s's CoreDNS imports (`/etc/coredns/custom/*.server`) and never rewrites.
pub(crate) const COREDNS_CUSTOM: &str = "coredns-custom";
/// Our key in it.
pub(crate) const COREDNS_KEY: &str = "playground.server";

/// The CoreDNS server block that resolves `host` to `ip` inside the cluster.
pub(crate) fn coredns_server_block(host: &str, ip: &str) -> String {
    format!(
        "{host}:53 {{\n    errors\n    hosts {{\n        {ip} {host}\n        fallthrough\n    }}\n}}\n"
    )
}

impl KubeApi {
    /// Make `host` resolve to `ip` from pods. k3d patches CoreDNS's NodeHosts, which k3s
    /// re-deploys on every restart, so the entry is lost (k3d #1221); `coredns-custom` is
    /// read by k3s's CoreDNS and left alone by k3s. Server-side apply makes this idempotent.
    /// Make the cluster forget node `name`: its Node, and the hash of its node password that
    /// k3s keeps in `kube-system/<name>.node-password.k3s` (k3s `pkg/nodepassword`; deleting the
    /// Node is what k3s's own docs prescribe, and its controller then drops the Secret too).
    /// Already gone is fine.
    pub(crate) async fn forget_node(&self, name: &str) -> Result<(), kube::Error> {
        use k8s_openapi::api::core::v1::Secret;
        let gone = |r: Result<_, kube::Error>| match r {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
            Err(e) => Err(e),
        };
        let nodes: Api<Node> = Api::all(self.client.clone());
        gone(nodes.delete(name, &Default::default()).await.map(drop))?;
        let secrets: Api<Secret> = Api::namespaced(self.client.clone(), "kube-system");
        gone(
            secrets
                .delete(&format!("{name}.node-password.k3s"), &Default::default())
                .await
                .map(drop),
        )
    }

    pub(crate) async fn ensure_host_record(&self, host: &str, ip: &str) -> Result<(), kube::Error> {
        use k8s_openapi::api::core::v1::ConfigMap;
        use kube::api::{Patch, PatchParams};
        let cms: Api<ConfigMap> = Api::namespaced(self.client.clone(), "kube-system");
        let cm = serde_json::json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": COREDNS_CUSTOM, "namespace": "kube-system", "labels": {"app.kubernetes.io/managed-by": "playground"}},
            "data": {COREDNS_KEY: coredns_server_block(host, ip)}
        });
        cms.patch(
            COREDNS_CUSTOM,
            &PatchParams::apply("playground").force(),
            &Patch::Apply(&cm),
        )
        .await?;
        Ok(())
    }

    /// Server-side apply a ConfigMap the caller built (the KEP-1755 `local-registry-hosting`
    /// one, see `cluster::registry::hosting_configmap`): idempotent, so every `up` may do it.
    pub(crate) async fn apply_configmap(&self, cm: &serde_json::Value) -> Result<(), kube::Error> {
        use k8s_openapi::api::core::v1::ConfigMap;
        use kube::api::{Patch, PatchParams};
        let meta = &cm["metadata"];
        let (Some(name), Some(namespace)) = (meta["name"].as_str(), meta["namespace"].as_str())
        else {
            return Err(kube::Error::Service(
                "a ConfigMap to apply needs metadata.name and metadata.namespace".into(),
            ));
        };
        let cms: Api<ConfigMap> = Api::namespaced(self.client.clone(), namespace);
        cms.patch(
            name,
            &PatchParams::apply("playground").force(),
            &Patch::Apply(cm),
        )
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod ready_text_tests {
    use super::ready_text;

    #[test]
    fn the_count_is_over_the_nodes_there_are_never_over_the_gate() {
        // A wait for 1 Ready node of a lab of 3 (the "2/1").
        assert_eq!(ready_text(2, 3, 3), "2/3 nodes Ready");
        assert_eq!(ready_text(3, 3, 3), "3/3 nodes Ready");
        // Before every node registered, the lab's count is the floor (not "1/1").
        assert_eq!(ready_text(0, 0, 3), "0/3 nodes Ready");
        assert_eq!(ready_text(1, 1, 3), "1/3 nodes Ready");
        // A node the lab does not know of (a leftover Node) is counted too.
        assert_eq!(ready_text(2, 4, 3), "2/4 nodes Ready");
        assert_eq!(
            super::NotYet::Nodes {
                ready: 1,
                total: 3,
                expected: 2
            }
            .to_string(),
            "1/3 nodes Ready (needed 2)"
        );
    }
}

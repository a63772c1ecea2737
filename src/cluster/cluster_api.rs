//! What the cluster half asks of the Kubernetes API, as a small trait: the seam that lets
//! `up` and `resume` run end to end over a fake engine and a fake API in unit tests.
//!
//! `up` and `resume` use these calls: wait for `/readyz` and Ready nodes, make the cluster
//! forget a node, write the CoreDNS host record, apply one ConfigMap; and, to reconcile a lab
//! to a changed file, wait until one recreated node is Ready again and drain an agent before
//! it is removed. [`Connect`] builds a
//! [`ClusterApi`] from the kubeconfig text read out of a server. [`KubeConnect`] is the real
//! one, over [`KubeApi`]; the fake lives next to the fake engine (`crate::docker::fake`).

use std::future::Future;

use tokio::time::Instant;

use crate::kube::api::{ApiError, KubeApi, NodeReady, NotYet};

/// The Kubernetes API calls the cluster half makes.
pub trait ClusterApi: Send + Sync {
    /// Wait for `/readyz`, then for at least `expected` Ready nodes of the lab's `of`
    /// ([`KubeApi::wait_ready`]).
    fn wait_ready(
        &self,
        url: &str,
        expected: usize,
        of: usize,
        deadline: Instant,
        report: &(dyn Fn(&str) + Send + Sync),
    ) -> impl Future<Output = Result<Vec<NodeReady>, ApiError>> + Send;
    /// Forget node `name` (its Node and node-password Secret); already gone is fine.
    fn forget_node(&self, name: &str) -> impl Future<Output = Result<(), kube::Error>> + Send;
    /// Make `host` resolve to `ip` from pods, through CoreDNS.
    fn ensure_host_record(
        &self,
        host: &str,
        ip: &str,
    ) -> impl Future<Output = Result<(), kube::Error>> + Send;
    /// Server-side apply a ConfigMap.
    fn apply_configmap(
        &self,
        cm: &serde_json::Value,
    ) -> impl Future<Output = Result<(), kube::Error>> + Send;
    /// Wait until Node `name` is Ready with a heartbeat at or after `since` (Unix seconds):
    /// the kubelet of the container started then has reported, not the one before it.
    fn wait_node_ready(
        &self,
        name: &str,
        since: i64,
        deadline: Instant,
    ) -> impl Future<Output = Result<(), ApiError>> + Send;
    /// Cordon Node `name` and evict its pods, as `kubectl drain --ignore-daemonsets --force
    /// --delete-emptydir-data` does; how many pods were evicted.
    fn drain_node(
        &self,
        name: &str,
        deadline: Instant,
    ) -> impl Future<Output = Result<usize, kube::Error>> + Send;
}

/// Builds a [`ClusterApi`] from a kubeconfig's text.
pub(crate) trait Connect: Send + Sync {
    type Api: ClusterApi;
    fn connect(&self, kubeconfig: &str)
    -> impl Future<Output = Result<Self::Api, ApiError>> + Send;
}

/// The real API: a [`KubeApi`] client from the kubeconfig.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct KubeConnect;

impl Connect for KubeConnect {
    type Api = KubeApi;
    async fn connect(&self, kubeconfig: &str) -> Result<KubeApi, ApiError> {
        KubeApi::from_kubeconfig_yaml(kubeconfig).await
    }
}

impl ClusterApi for KubeApi {
    async fn wait_ready(
        &self,
        url: &str,
        expected: usize,
        of: usize,
        deadline: Instant,
        report: &(dyn Fn(&str) + Send + Sync),
    ) -> Result<Vec<NodeReady>, ApiError> {
        KubeApi::wait_ready(self, url, expected, of, deadline, report).await
    }
    async fn forget_node(&self, name: &str) -> Result<(), kube::Error> {
        KubeApi::forget_node(self, name).await
    }
    async fn ensure_host_record(&self, host: &str, ip: &str) -> Result<(), kube::Error> {
        KubeApi::ensure_host_record(self, host, ip).await
    }
    async fn apply_configmap(&self, cm: &serde_json::Value) -> Result<(), kube::Error> {
        KubeApi::apply_configmap(self, cm).await
    }
    async fn wait_node_ready(
        &self,
        name: &str,
        since: i64,
        deadline: Instant,
    ) -> Result<(), ApiError> {
        use k8s_openapi::api::core::v1::Node;
        let nodes: kube::Api<Node> = kube::Api::all(self.client().clone());
        let started = Instant::now();
        loop {
            // A server made again takes the API down with it for a while: errors are retried
            // until the deadline, and the last one is what the timeout reports.
            let last = match nodes.get_opt(name).await {
                Ok(Some(node)) => {
                    let ready = node
                        .status
                        .and_then(|s| s.conditions)
                        .unwrap_or_default()
                        .into_iter()
                        .find(|c| c.type_ == "Ready");
                    match ready {
                        Some(c)
                            if c.status == "True"
                                && c.last_heartbeat_time
                                    .as_ref()
                                    .is_some_and(|t| t.0.as_second() >= since) =>
                        {
                            return Ok(());
                        }
                        Some(c) => NotYet::Node(format!(
                            "Node {name} Ready={} ({})",
                            c.status,
                            c.reason.unwrap_or_default()
                        )),
                        None => NotYet::Node(format!("Node {name} has no Ready condition yet")),
                    }
                }
                Ok(None) => NotYet::Node(format!("Node {name} is not registered yet")),
                Err(e) => NotYet::GetNode(e),
            };
            if Instant::now() >= deadline {
                return Err(ApiError::NotReady {
                    url: format!("node {name}"),
                    secs: started.elapsed().as_secs(),
                    last,
                });
            }
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        }
    }
    async fn drain_node(&self, name: &str, deadline: Instant) -> Result<usize, kube::Error> {
        drain(self.client(), name, deadline).await
    }
}

/// The annotation the kubelet puts on the API's copy of a static pod (kubernetes
/// `pkg/kubelet/types`, `ConfigMirrorAnnotationKey`): evicting it does nothing.
const MIRROR_POD: &str = "kubernetes.io/config.mirror";

/// Cordon, then evict every pod on the node but mirror pods and DaemonSet pods: the filters
/// of kubectl's `pkg/drain/filters.go` (`mirrorPodFilter` skips, `daemonSetFilter` skips
/// under `--ignore-daemonsets`). Pods without a controller or with emptyDir data are evicted
/// too (`--force`, `--delete-emptydir-data`): the node and its disk are going away. A
/// PodDisruptionBudget that refuses (429) is retried until the deadline.
async fn drain(client: &kube::Client, name: &str, deadline: Instant) -> Result<usize, kube::Error> {
    use k8s_openapi::api::core::v1::{Node, Pod};
    use kube::api::{EvictParams, ListParams, Patch, PatchParams};
    let nodes: kube::Api<Node> = kube::Api::all(client.clone());
    nodes
        .patch(
            name,
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"spec": {"unschedulable": true}})),
        )
        .await?;
    let pods: kube::Api<Pod> = kube::Api::all(client.clone());
    let on_node = pods
        .list(&ListParams::default().fields(&format!("spec.nodeName={name}")))
        .await?;
    let mut evicted = 0;
    for pod in on_node.items {
        let meta = &pod.metadata;
        let mirror = meta
            .annotations
            .as_ref()
            .is_some_and(|a| a.contains_key(MIRROR_POD));
        let daemon = meta
            .owner_references
            .iter()
            .flatten()
            .any(|o| o.controller == Some(true) && o.kind == "DaemonSet");
        if mirror || daemon {
            continue;
        }
        let (Some(ns), Some(pod_name)) = (&meta.namespace, &meta.name) else {
            continue;
        };
        let api: kube::Api<Pod> = kube::Api::namespaced(client.clone(), ns);
        loop {
            match api.evict(pod_name, &EvictParams::default()).await {
                Ok(_) => {
                    evicted += 1;
                    break;
                }
                // Gone meanwhile: what eviction wanted.
                Err(kube::Error::Api(e)) if e.code == 404 => break,
                Err(kube::Error::Api(e)) if e.code == 429 && Instant::now() < deadline => {
                    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
                }
                Err(e) => return Err(e),
            }
        }
    }
    Ok(evicted)
}

/// A Kubernetes API double for unit tests: every call succeeds at once and is recorded
/// (`wait_ready` reports `expected` Ready nodes); `connect` parses the kubeconfig as the real
/// client does, so a kubeconfig that `KubeApi` would refuse is refused here too.
#[cfg(test)]
#[derive(Debug, Default, Clone)]
pub(crate) struct FakeConnect {
    calls: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

#[cfg(test)]
impl FakeConnect {
    /// Every call so far, in order (`connect SERVER`, `wait_ready N`, `forget_node NAME`, …).
    pub(crate) fn calls(&self) -> Vec<String> {
        self.calls
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn record(&self, call: String) {
        self.calls
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(call);
    }
}

#[cfg(test)]
impl Connect for FakeConnect {
    type Api = FakeConnect;
    async fn connect(&self, kubeconfig: &str) -> Result<FakeConnect, ApiError> {
        let kc = kube::config::Kubeconfig::from_yaml(kubeconfig).map_err(ApiError::Config)?;
        let server = kc
            .clusters
            .first()
            .and_then(|c| c.cluster.as_ref())
            .and_then(|c| c.server.clone())
            .unwrap_or_default();
        self.record(format!("connect {server}"));
        Ok(self.clone())
    }
}

#[cfg(test)]
impl ClusterApi for FakeConnect {
    async fn wait_ready(
        &self,
        _url: &str,
        expected: usize,
        _of: usize,
        _deadline: Instant,
        _report: &(dyn Fn(&str) + Send + Sync),
    ) -> Result<Vec<NodeReady>, ApiError> {
        self.record(format!("wait_ready {expected}"));
        Ok((0..expected)
            .map(|i| NodeReady {
                name: format!("node-{i}"),
                ready: true,
            })
            .collect())
    }
    async fn forget_node(&self, name: &str) -> Result<(), kube::Error> {
        self.record(format!("forget_node {name}"));
        Ok(())
    }
    async fn ensure_host_record(&self, host: &str, ip: &str) -> Result<(), kube::Error> {
        self.record(format!("ensure_host_record {host} {ip}"));
        Ok(())
    }
    async fn apply_configmap(&self, cm: &serde_json::Value) -> Result<(), kube::Error> {
        self.record(format!("apply_configmap {}", cm["metadata"]["name"]));
        Ok(())
    }
    async fn wait_node_ready(
        &self,
        name: &str,
        _since: i64,
        _deadline: Instant,
    ) -> Result<(), ApiError> {
        self.record(format!("wait_node_ready {name}"));
        Ok(())
    }
    async fn drain_node(&self, name: &str, _deadline: Instant) -> Result<usize, kube::Error> {
        self.record(format!("drain_node {name}"));
        Ok(0)
    }
}

//! What the cluster half asks of the Kubernetes API, as a small trait: the seam that lets
//! `up` and `resume` run end to end over a fake engine and a fake API in unit tests.
//!
//! `up` and `resume` use four calls: wait for `/readyz` and Ready nodes, make the cluster
//! forget a node, write the CoreDNS host record, and apply one ConfigMap. [`Connect`] builds a
//! [`ClusterApi`] from the kubeconfig text read out of a server. [`KubeConnect`] is the real
//! one, over [`KubeApi`]; the fake lives next to the fake engine (`crate::docker::fake`).

use std::future::Future;

use tokio::time::Instant;

use crate::kube::api::{ApiError, KubeApi, NodeReady};

/// The Kubernetes API calls the cluster half makes.
pub trait ClusterApi: Send + Sync {
    /// Wait for `/readyz`, then for at least `expected` Ready nodes ([`KubeApi::wait_ready`]).
    fn wait_ready(
        &self,
        url: &str,
        expected: usize,
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
}

/// Builds a [`ClusterApi`] from a kubeconfig's text.
pub trait Connect: Send + Sync {
    type Api: ClusterApi;
    fn connect(&self, kubeconfig: &str)
    -> impl Future<Output = Result<Self::Api, ApiError>> + Send;
}

/// The real API: a [`KubeApi`] client from the kubeconfig.
#[derive(Debug, Clone, Copy, Default)]
pub struct KubeConnect;

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
        deadline: Instant,
        report: &(dyn Fn(&str) + Send + Sync),
    ) -> Result<Vec<NodeReady>, ApiError> {
        KubeApi::wait_ready(self, url, expected, deadline, report).await
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
}

/// A Kubernetes API double for unit tests: every call succeeds at once and is recorded
/// (`wait_ready` reports `expected` Ready nodes); `connect` parses the kubeconfig as the real
/// client does, so a kubeconfig that `KubeApi` would refuse is refused here too.
#[cfg(any(test, feature = "fake-engine"))]
#[derive(Debug, Default, Clone)]
pub struct FakeConnect {
    calls: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

#[cfg(any(test, feature = "fake-engine"))]
impl FakeConnect {
    /// Every call so far, in order (`connect SERVER`, `wait_ready N`, `forget_node NAME`, …).
    pub fn calls(&self) -> Vec<String> {
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

#[cfg(any(test, feature = "fake-engine"))]
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

#[cfg(any(test, feature = "fake-engine"))]
impl ClusterApi for FakeConnect {
    async fn wait_ready(
        &self,
        _url: &str,
        expected: usize,
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
}

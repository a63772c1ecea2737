//! The kubeconfig k3s writes inside a server, read out and pointed at the host port.
//!
//! Below both [`super::up`] (which writes it into the user's kubeconfig) and
//! [`super::lifecycle`] (which needs the API on `resume`), so neither imports the other for it.

use std::time::Duration;

use tokio::time::Instant;

use crate::config::Role;
use crate::docker::Engine;

use super::error::{ClusterError, Result};
use super::names;

/// Read the kubeconfig k3s wrote in a server and point it at the host port: server-0's, or in
/// an HA lab whose server-0 is gone, another running server's (every server of a k3s cluster
/// shares the CA and admin credentials: k3s `pkg/cluster/bootstrap.go` `httpBootstrap`). k3s
/// writes it shortly after start, and not atomically (client-go `clientcmd.WriteToFile` creates
/// the file, then writes it), so a missing file and one that does not parse yet are both
/// retried until the deadline.
pub async fn fetch_kubeconfig<E: Engine>(
    engine: &E,
    lab: &str,
    api_url: &str,
    deadline: Instant,
) -> Result<String> {
    let server0 = names::node(lab, Role::Server, 0);
    loop {
        // Server-0 first, then the other running servers, lowest index first.
        let mut candidates = vec![server0.clone()];
        let mut others: Vec<(u32, String)> = engine
            .list_containers(&[(names::LABEL_CLUSTER, lab), (names::LABEL_ROLE, "server")])
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|c| c.name != server0 && c.state == crate::docker::RunState::Running)
            .map(|c| {
                let i = c
                    .labels
                    .get(names::LABEL_INDEX)
                    .and_then(|i| i.parse().ok())
                    .unwrap_or(u32::MAX);
                (i, c.name)
            })
            .collect();
        others.sort();
        candidates.extend(others.into_iter().map(|(_, n)| n));
        let mut last = None;
        for name in &candidates {
            let attempt = match engine.read_file(name, names::KUBECONFIG_OUTPUT).await {
                Ok(bytes) => rewrite_server(&String::from_utf8_lossy(&bytes), api_url),
                Err(e) => Err(e.into()),
            };
            match attempt {
                Ok(text) => return Ok(text),
                Err(e) => last = Some(e),
            }
        }
        if Instant::now() >= deadline {
            return Err(last.unwrap_or_else(|| ClusterError::NotFound(lab.to_string())));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Point every cluster of a kubeconfig at `url`.
pub fn rewrite_server(text: &str, url: &str) -> Result<String> {
    let mut kc =
        ::kube::config::Kubeconfig::from_yaml(text).map_err(ClusterError::NodeKubeconfig)?;
    for c in &mut kc.clusters {
        if let Some(cluster) = c.cluster.as_mut() {
            cluster.server = Some(url.to_string());
        }
    }
    Ok(serde_saphyr::to_string(&kc)?)
}

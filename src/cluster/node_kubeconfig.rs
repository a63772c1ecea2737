//! The kubeconfig k3s writes inside a server, read out and pointed at the host port.
//!
//! Below both [`super::up`] (which writes it into the user's kubeconfig) and
//! [`super::lifecycle`] (which needs the API on `resume`), so neither imports the other for it.

use std::time::Duration;

use tokio::time::Instant;

use crate::config::{LabName, Role};
use crate::docker::Engine;

use super::error::{ClusterError, Result};
use super::{k3s, names};

/// Read the kubeconfig k3s wrote in a server and point it at the host port: server-0's, or in
/// an HA lab whose server-0 is gone, another running server's (every server of a k3s cluster
/// shares the CA and admin credentials: k3s `pkg/cluster/bootstrap.go` `httpBootstrap`). k3s
/// writes it shortly after start, and not atomically (client-go `clientcmd.WriteToFile` creates
/// the file, then writes it), so a missing file, an empty one and one cut short are all
/// retried until the deadline. A file cut short often still parses (YAML ends at any line,
/// and a base64 value cut anywhere is still a string), which is why [`rewrite_server`]
/// checks it is whole, not only that it parses.
pub(crate) async fn fetch_kubeconfig<E: Engine>(
    engine: &E,
    lab: &LabName,
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
            let attempt = match engine.read_file(name, k3s::KUBECONFIG_OUTPUT).await {
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

/// Point every cluster of a kubeconfig at `url`, once it is whole (see [`k3s::incomplete`]).
pub(crate) fn rewrite_server(text: &str, url: &str) -> Result<String> {
    let mut kc =
        ::kube::config::Kubeconfig::from_yaml(text).map_err(ClusterError::NodeKubeconfig)?;
    if let Some(why) = k3s::incomplete(&kc) {
        return Err(ClusterError::NodeKubeconfigIncomplete(why));
    }
    for c in &mut kc.clusters {
        if let Some(cluster) = c.cluster.as_mut() {
            cluster.server = Some(url.to_string());
        }
    }
    Ok(serde_saphyr::to_string(&kc)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A kubeconfig as k3s writes it, with PEM blocks as its credentials.
    fn whole() -> String {
        let b64 = |s: &str| base64::Engine::encode(&base64::engine::general_purpose::STANDARD, s);
        let pem = |kind: &str| {
            b64(&format!(
                "-----BEGIN {kind}-----\nMIIBdzCCAR2gAwIBAgIBADAKBggqhkjOPQQDAjAj\n-----END {kind}-----\n"
            ))
        };
        format!(
            "apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: {}\n    server: https://127.0.0.1:6443\n  name: default\ncontexts:\n- context:\n    cluster: default\n    user: default\n  name: default\ncurrent-context: default\nkind: Config\npreferences: {{}}\nusers:\n- name: default\n  user:\n    client-certificate-data: {}\n    client-key-data: {}\n",
            pem("CERTIFICATE"),
            pem("CERTIFICATE"),
            pem("EC PRIVATE KEY")
        )
    }

    #[test]
    fn the_whole_file_is_rewritten_and_every_cut_of_it_is_refused() {
        let text = whole();
        let out = rewrite_server(&text, "https://127.0.0.1:40000").unwrap();
        assert!(out.contains("https://127.0.0.1:40000"), "{out}");
        // Every prefix a reader could see while k3s writes: none is taken for the file,
        // whether it parses or not (most short of the last lines do).
        let mut parsed = 0;
        for cut in 0..text.trim_end().len() {
            let part = &text[..cut];
            match rewrite_server(part, "https://127.0.0.1:40000") {
                Ok(out) => panic!("a file cut at {cut} was taken:\n{part}\n->\n{out}"),
                Err(ClusterError::NodeKubeconfigIncomplete(_)) => parsed += 1,
                Err(_) => {}
            }
        }
        // The case the completeness check exists for: cuts that parse.
        assert!(parsed > 100, "{parsed}");
    }
}

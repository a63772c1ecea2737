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
/// the file, then writes it), so a missing file, an empty one and one cut short are all
/// retried until the deadline. A file cut short often still parses (YAML ends at any line,
/// and a base64 value cut anywhere is still a string), which is why [`rewrite_server`]
/// checks it is whole, not only that it parses.
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

/// Point every cluster of a kubeconfig at `url`, once it is whole (see [`incomplete`]).
pub fn rewrite_server(text: &str, url: &str) -> Result<String> {
    let mut kc =
        ::kube::config::Kubeconfig::from_yaml(text).map_err(ClusterError::NodeKubeconfig)?;
    if let Some(why) = incomplete(&kc) {
        return Err(ClusterError::NodeKubeconfigIncomplete(why));
    }
    for c in &mut kc.clusters {
        if let Some(cluster) = c.cluster.as_mut() {
            cluster.server = Some(url.to_string());
        }
    }
    Ok(serde_saphyr::to_string(&kc)?)
}

/// Why a kubeconfig that parses is not the whole one k3s writes, if it is not. k3s writes
/// `clusters`, `contexts`, `current-context`, then `users` (client-go's field order), each
/// credential a base64 PEM block: an empty file parses as an empty kubeconfig, a file cut
/// before `current-context` or `users` lacks them, and one cut inside a base64 value leaves a
/// PEM block without its `-----END` line (or no valid base64 at all).
fn incomplete(kc: &::kube::config::Kubeconfig) -> Option<String> {
    use base64::Engine as _;
    use secrecy::ExposeSecret;

    let Some(current) = kc.current_context.as_deref() else {
        return Some("no current-context".into());
    };
    let Some(context) = kc
        .contexts
        .iter()
        .find(|c| c.name == current)
        .and_then(|c| c.context.as_ref())
    else {
        return Some(format!("no context {current}"));
    };
    let Some(cluster) = kc
        .clusters
        .iter()
        .find(|c| c.name == context.cluster)
        .and_then(|c| c.cluster.as_ref())
    else {
        return Some(format!("no cluster {}", context.cluster));
    };
    let user = context.user.as_deref().unwrap_or_default();
    let Some(auth) = kc
        .auth_infos
        .iter()
        .find(|a| a.name == user)
        .and_then(|a| a.auth_info.as_ref())
    else {
        return Some(format!("no user {user}"));
    };
    let data = [
        (
            "certificate-authority-data",
            cluster.certificate_authority_data.as_deref(),
        ),
        (
            "client-certificate-data",
            auth.client_certificate_data.as_deref(),
        ),
        (
            "client-key-data",
            auth.client_key_data.as_ref().map(|k| k.expose_secret()),
        ),
    ];
    for (field, value) in data {
        let Some(value) = value else { continue };
        let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(value.trim()) else {
            return Some(format!("{field} is not whole base64"));
        };
        let text = String::from_utf8_lossy(&bytes);
        let text = text.trim();
        if !(text.starts_with("-----BEGIN ")
            && text.contains("-----END ")
            && text.ends_with("-----"))
        {
            return Some(format!("{field} is not a whole PEM block"));
        }
    }
    // k3s's admin user has a client certificate and its key; the key comes last in the file.
    if auth.client_certificate_data.is_some() && auth.client_key_data.is_none() {
        return Some(format!("user {user} has a certificate but no key"));
    }
    let credentials = auth.client_key_data.is_some()
        || auth.client_key.is_some()
        || auth.token.is_some()
        || auth.token_file.is_some()
        || auth.exec.is_some()
        || auth.auth_provider.is_some()
        || auth.username.is_some();
    if !credentials {
        return Some(format!("user {user} has no credentials yet"));
    }
    None
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

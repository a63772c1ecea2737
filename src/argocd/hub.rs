//! One Argo CD for several labs: a hub lab's `argocd.clusters` registers other clusters (its
//! spokes) in its Argo CD, as `argocd cluster add` does.
//!
//! Upstream, argo-cd `cmd/argocd/commands/cluster.go` (`NewClusterAddCommand`) calls
//! `clusterauth.InstallClusterManagerRBAC` (`util/clusterauth/clusterauth.go`) against the
//! spoke with the system namespace `kube-system` (`common.DefaultSystemNamespace`):
//! - a ServiceAccount `argocd-manager`,
//! - a ClusterRole `argocd-manager-role` allowing every verb on every resource and
//!   non-resource URL (`ArgoCDManagerClusterPolicyRules`), bound to it by the ClusterRoleBinding
//!   `argocd-manager-role-binding`,
//! - a long-lived token: a Secret `argocd-manager-long-lived-token` of type
//!   `kubernetes.io/service-account-token` annotated with the account's name
//!   (`getOrCreateServiceAccountTokenSecret`), then a poll until the token controller has put
//!   `data.token` in it (`GetServiceAccountBearerToken`).
//!
//! Then `cmd/util/cluster.go` `NewCluster` makes the cluster (name, server, and a config of
//! `bearerToken` and `tlsClientConfig.caData`), which argo-cd `util/db/cluster.go`
//! `clusterToSecret` stores as a Secret in Argo CD's namespace labelled
//! `argocd.argoproj.io/secret-type: cluster` with `name`, `server` and `config` (JSON). We write
//! that Secret ourselves (Argo CD reads any Secret with that label), which needs no Argo CD API
//! session, and label it as ours so a later `up` or `drop` finds it.
//!
//! The `server` is the address the hub's pods reach: for a lab, its server container's name on
//! the hub's network (`https://playground-<spoke>-server-0:6443`, or the load balancer's for
//! several servers), a name that is in the spoke's serving certificate twice over: `up` passes
//! it as `--tls-san` (see `cluster::plan::node`) and k3s adds the node's host name, which is the
//! container's name (k3s `pkg/cli/server/server.go`: `SANs = append(SANs, "127.0.0.1", "::1",
//! "localhost", nodeName)`). The CA is the spoke's own, from the token Secret's `ca.crt`.
//!
//! The token never leaves the two API servers and this process: it is registered with
//! [`crate::ui::redact`] (as is every encoding of it we send or receive) the moment it is read,
//! and written only into the hub's cluster Secret, never into argv, a record or a label.

use std::time::Duration;

use base64::Engine as _;
use k8s_openapi::api::core::v1::{Namespace, Secret, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::kube::api::KubeApi;

/// Where `argocd cluster add` puts its account (`common.DefaultSystemNamespace`).
pub(crate) const MANAGER_NAMESPACE: &str = "kube-system";
/// `clusterauth.ArgoCDManagerServiceAccount`.
pub(crate) const MANAGER_ACCOUNT: &str = "argocd-manager";
/// `clusterauth.ArgoCDManagerClusterRole`.
pub(crate) const MANAGER_ROLE: &str = "argocd-manager-role";
/// `clusterauth.ArgoCDManagerClusterRoleBinding`.
pub(crate) const MANAGER_BINDING: &str = "argocd-manager-role-binding";
/// `ArgoCDManagerServiceAccount + SATokenSecretSuffix`.
pub(crate) const MANAGER_TOKEN: &str = "argocd-manager-long-lived-token";
/// The label Argo CD finds cluster Secrets by (`common.LabelKeySecretType`).
pub(crate) const LABEL_SECRET_TYPE: &str = "argocd.argoproj.io/secret-type";
/// On a hub's cluster Secret: the cluster's name in `argocd.clusters`, so `up` and `drop` find
/// the Secrets playground made (and leave the ones the user made to them).
pub(crate) const LABEL_CLUSTER: &str = "playground.dev/cluster";
/// How long the token controller may take to fill the token Secret (argo-cd waits
/// `common.BearerTokenTimeout`, 30 s).
const TOKEN_WAIT: Duration = Duration::from_secs(30);
/// Its own field manager, apart from the Argo CD install's (both apply the namespace).
const MANAGER: &str = "playground-hub";

/// Why a registration step failed.
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    #[error(
        "the token Secret {MANAGER_NAMESPACE}/{MANAGER_TOKEN} got no token within {}s (is kube-controller-manager's token controller running?)",
        TOKEN_WAIT.as_secs()
    )]
    NoToken,
    #[error("the token Secret {MANAGER_NAMESPACE}/{MANAGER_TOKEN} has no ca.crt")]
    NoCa,
}

/// A token that never came is a wait that ran out; the rest are failures.
impl crate::diag::Classified for HubError {
    fn kind(&self) -> crate::diag::Kind {
        match self {
            Self::NoToken => crate::diag::Kind::Timeout,
            _ => crate::diag::Kind::Failed,
        }
    }
}

/// What a spoke gives its hub: the manager's token and the spoke's CA (PEM).
pub(crate) struct Credentials {
    pub(crate) token: String,
    pub(crate) ca_pem: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Credentials { token: ***, .. }")
    }
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Mask a secret and the base64 forms it travels in, in every log line from now on.
pub(crate) fn redact(secret: &str) {
    crate::ui::redact::register(secret);
    crate::ui::redact::register(&b64(secret.as_bytes()));
}

/// The name of the hub's cluster Secret for `cluster` (Argo CD's own are
/// `cluster-<host>-<hash>`, `util/db/secrets.go` `URIToSecretName`; ours are named after the
/// lab so that they read well in `kubectl get secrets`).
pub(crate) fn secret_name(cluster: &str) -> String {
    format!("cluster-{}-{cluster}", crate::lab::PREFIX)
}

/// The spoke's container that the hub's network gets, and its API's address from there.
pub(crate) fn spoke_endpoint(spoke: &crate::lab::LabName, servers: u32) -> (String, String) {
    let container = crate::lab::api_container(spoke, servers);
    let url = format!("https://{container}:6443");
    (container, url)
}

/// Server-side apply `body` as `name` (ours, forced: the objects are ours alone).
async fn apply<K>(api: &Api<K>, name: &str, body: serde_json::Value) -> Result<K, kube::Error>
where
    K: Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    api.patch(name, &apply_params(), &Patch::Apply(body)).await
}

fn apply_params() -> PatchParams {
    PatchParams::apply(MANAGER).force()
}

/// `clusterauth.InstallClusterManagerRBAC` with a long-lived token: the account, its role and
/// binding, the token Secret; then wait for the token. Idempotent (server-side apply), so every
/// `up` may do it again and gets the same token back.
pub(crate) async fn install_manager(spoke: &KubeApi) -> Result<Credentials, HubError> {
    let client = spoke.client().clone();
    apply(
        &Api::<ServiceAccount>::namespaced(client.clone(), MANAGER_NAMESPACE),
        MANAGER_ACCOUNT,
        json!({
            "apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": {"name": MANAGER_ACCOUNT, "namespace": MANAGER_NAMESPACE},
        }),
    )
    .await?;
    apply(
        &Api::<ClusterRole>::all(client.clone()),
        MANAGER_ROLE,
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": MANAGER_ROLE},
            "rules": [
                {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
                {"nonResourceURLs": ["*"], "verbs": ["*"]},
            ],
        }),
    )
    .await?;
    apply(
        &Api::<ClusterRoleBinding>::all(client.clone()),
        MANAGER_BINDING,
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": MANAGER_BINDING},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": MANAGER_ROLE},
            "subjects": [{"kind": "ServiceAccount", "name": MANAGER_ACCOUNT, "namespace": MANAGER_NAMESPACE}],
        }),
    )
    .await?;
    let secrets = Api::<Secret>::namespaced(client, MANAGER_NAMESPACE);
    apply(
        &secrets,
        MANAGER_TOKEN,
        json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {
                "name": MANAGER_TOKEN, "namespace": MANAGER_NAMESPACE,
                "annotations": {"kubernetes.io/service-account.name": MANAGER_ACCOUNT},
            },
            "type": "kubernetes.io/service-account-token",
        }),
    )
    .await?;
    let deadline = Instant::now() + TOKEN_WAIT;
    loop {
        if let Some(s) = secrets.get_opt(MANAGER_TOKEN).await? {
            let data = s.data.unwrap_or_default();
            if let Some(token) = data.get("token") {
                let token = String::from_utf8_lossy(&token.0).trim().to_string();
                redact(&token);
                let ca_pem = data
                    .get("ca.crt")
                    .map(|c| String::from_utf8_lossy(&c.0).into_owned())
                    .ok_or(HubError::NoCa)?;
                return Ok(Credentials { token, ca_pem });
            }
        }
        if Instant::now() >= deadline {
            return Err(HubError::NoToken);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// `clusterauth.UninstallClusterManagerRBAC`, and the token Secret: the spoke is left as it
/// was before its first hub. Missing objects are fine.
pub(crate) async fn remove_manager(spoke: &KubeApi) -> Result<(), HubError> {
    let client = spoke.client().clone();
    let dp = DeleteParams::default();
    let gone = |r: Result<(), kube::Error>| match r {
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
        other => other,
    };
    gone(
        Api::<ClusterRoleBinding>::all(client.clone())
            .delete(MANAGER_BINDING, &dp)
            .await
            .map(drop),
    )?;
    gone(
        Api::<ClusterRole>::all(client.clone())
            .delete(MANAGER_ROLE, &dp)
            .await
            .map(drop),
    )?;
    gone(
        Api::<Secret>::namespaced(client.clone(), MANAGER_NAMESPACE)
            .delete(MANAGER_TOKEN, &dp)
            .await
            .map(drop),
    )?;
    gone(
        Api::<ServiceAccount>::namespaced(client, MANAGER_NAMESPACE)
            .delete(MANAGER_ACCOUNT, &dp)
            .await
            .map(drop),
    )?;
    Ok(())
}

/// The cluster Secret `clusterToSecret` would write for `name` at `server`, as `stringData`.
pub(crate) fn cluster_secret(
    namespace: &str,
    name: &str,
    server: &str,
    creds: &Credentials,
) -> Value {
    let config = json!({
        "bearerToken": creds.token,
        "tlsClientConfig": {"insecure": false, "caData": b64(creds.ca_pem.as_bytes())},
    })
    .to_string();
    // The API server stores it base64'd, and `-vv` may log that form when it is read back.
    crate::ui::redact::register(&b64(config.as_bytes()));
    json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {
            "name": secret_name(name), "namespace": namespace,
            "labels": {LABEL_SECRET_TYPE: "cluster", LABEL_CLUSTER: name, "app.kubernetes.io/managed-by": "playground"},
        },
        "type": "Opaque",
        "stringData": {"name": name, "server": server, "config": config},
    })
}

/// Write the hub's cluster Secret for `name` (and Argo CD's namespace, if the hub's Argo CD is
/// not installed yet: it picks the Secret up when it starts).
pub(crate) async fn put_cluster(
    hub: &KubeApi,
    namespace: &str,
    name: &str,
    server: &str,
    creds: &Credentials,
) -> Result<(), HubError> {
    let client = hub.client().clone();
    Api::<Namespace>::all(client.clone())
        .patch(
            namespace,
            &apply_params(),
            &Patch::Apply(
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}),
            ),
        )
        .await?;
    Api::<Secret>::namespaced(client, namespace)
        .patch(
            &secret_name(name),
            &apply_params(),
            &Patch::Apply(cluster_secret(namespace, name, server, creds)),
        )
        .await?;
    Ok(())
}

/// Delete the hub's cluster Secret for `name`; whether there was one.
pub(crate) async fn remove_cluster(
    hub: &KubeApi,
    namespace: &str,
    name: &str,
) -> Result<bool, HubError> {
    match Api::<Secret>::namespaced(hub.client().clone(), namespace)
        .delete(&secret_name(name), &DeleteParams::default())
        .await
    {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// A cluster the hub has registered, as its Secret says (never the credentials).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub(crate) struct Registered {
    pub(crate) name: String,
    pub(crate) server: String,
}

/// The clusters playground registered in the hub's Argo CD.
pub(crate) async fn registered(
    hub: &KubeApi,
    namespace: &str,
) -> Result<Vec<Registered>, HubError> {
    let list = Api::<Secret>::namespaced(hub.client().clone(), namespace)
        .list(&ListParams::default().labels(LABEL_CLUSTER))
        .await?;
    let text = |s: &Secret, k: &str| {
        s.data
            .as_ref()
            .and_then(|d| d.get(k))
            .map(|v| String::from_utf8_lossy(&v.0).into_owned())
            .unwrap_or_default()
    };
    let mut out: Vec<Registered> = list
        .items
        .iter()
        .map(|s| Registered {
            name: text(s, "name"),
            server: text(s, "server"),
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Every cluster Secret of the hub's Argo CD (playground's and the user's): `server` →
/// `name`, to name the apps' destinations as Argo CD does.
pub(crate) async fn cluster_servers(
    hub: &KubeApi,
    namespace: &str,
) -> Result<std::collections::HashMap<String, String>, HubError> {
    let list = Api::<Secret>::namespaced(hub.client().clone(), namespace)
        .list(&ListParams::default().labels(&format!("{LABEL_SECRET_TYPE}=cluster")))
        .await?;
    let text = |s: &Secret, k: &str| {
        s.data
            .as_ref()
            .and_then(|d| d.get(k))
            .map(|v| String::from_utf8_lossy(&v.0).into_owned())
    };
    Ok(list
        .items
        .iter()
        .filter_map(|s| Some((text(s, "server")?, text(s, "name")?)))
        .filter(|(server, name)| !server.is_empty() && !name.is_empty())
        .collect())
}

/// Why the hub's pods cannot reach a `{ context: NAME }` cluster's `server`, when its address
/// alone tells: a loopback or unspecified address is the pod itself, and
/// `kubernetes.default.svc` is the hub's own API. `None` when the address may be reachable,
/// which [`crate::argocd::reach`] then tries from a hub node (a loopback address is not tried:
/// in the node it could reach the hub's own API and fail on its certificate, a wrong reason).
pub(crate) fn unreachable_from_pods(server: &str) -> Option<String> {
    let rest = server.split_once("://").map_or(server, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next().unwrap_or_default()
    } else {
        authority.split(':').next().unwrap_or_default()
    };
    let host = host.to_ascii_lowercase();
    if host == "localhost" || host.ends_with(".localhost") {
        return Some(format!(
            "{host} is a loopback name: in the hub's pods it is the pod itself"
        ));
    }
    if host.starts_with("kubernetes.default") {
        return Some(format!(
            "{host} is the hub's own API, not another cluster's"
        ));
    }
    match host.parse::<std::net::IpAddr>() {
        Ok(ip) if ip.is_loopback() => Some(format!(
            "{ip} is a loopback address: in the hub's pods it is the pod itself"
        )),
        Ok(ip) if ip.is_unspecified() => Some(format!(
            "{ip} is no address to connect to: it means any address of the machine that serves it"
        )),
        _ => None,
    }
}

/// Whether the hub can reach a cluster, as far as playground can tell (see
/// [`HubCluster`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Connection {
    /// The cluster runs and its API answers.
    Connected,
    /// It does not run, does not exist, or its API does not answer.
    Unreachable,
}

impl Connection {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Connection::Connected => "connected",
            Connection::Unreachable => "unreachable",
        }
    }
}

/// One cluster of a hub, as `status` shows it.
///
/// Argo CD keeps a cluster's connection state in no Kubernetes object: the application
/// controller's `clusterInfoUpdater` (argo-cd `controller/clusterinfoupdater.go`) derives it
/// from its cluster cache and stores it with `cache.SetClusterInfo` in Redis, where only the
/// API server reads it (`GET /api/v1/clusters`). So `connection` is what playground checks
/// itself: that the lab exists and runs (Docker), and that its API answers from the host; for
/// a `{ context: NAME }` entry, at its kubeconfig's address, from the host and from the hub's
/// node (see [`crate::argocd::reach`]): `connected` only when the hub's pods reach it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct HubCluster {
    /// The lab's (or context's) name, which is the cluster's name in Argo CD.
    pub(crate) name: String,
    /// `lab` or `context`.
    pub(crate) kind: &'static str,
    /// A cluster Secret registers it in the hub's Argo CD.
    pub(crate) registered: bool,
    /// The Secret's `server`: the address the hub's pods reach it at.
    pub(crate) server: Option<String>,
    pub(crate) connection: Connection,
    /// The Kubernetes version its API answered with.
    pub(crate) version: Option<String>,
    /// Why it is unreachable or unregistered, when it is.
    pub(crate) message: Option<String>,
}

/// The clusters table `status` shows for a hub.
pub(crate) fn render_clusters(clusters: &[HubCluster]) -> String {
    let rows: Vec<[String; 5]> = clusters
        .iter()
        .map(|c| {
            [
                c.name.clone(),
                if c.registered { "yes" } else { "no" }.to_string(),
                c.connection.as_str().to_string(),
                c.server.clone().unwrap_or_else(|| "-".into()),
                c.message
                    .clone()
                    .or_else(|| c.version.clone())
                    .unwrap_or_default(),
            ]
        })
        .collect();
    let header = ["CLUSTER", "REGISTERED", "CONNECTION", "SERVER", "DETAIL"];
    let mut widths = header.map(str::len);
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: [&str; 5]| {
        let mut l = String::new();
        for (c, w) in cells.iter().zip(widths) {
            l.push_str(c);
            l.push_str(&" ".repeat(w - c.chars().count() + 2));
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(header);
    for r in &rows {
        line([&r[0], &r[1], &r[2], &r[3], &r[4]]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_context_at_a_loopback_address_is_out_of_the_pods_reach() {
        for server in [
            "https://127.0.0.1:6443",
            "https://127.0.1.1",
            "https://localhost:6443/",
            "https://LOCALHOST:6443",
            "https://api.localhost:6443",
            "https://[::1]:6443",
            "https://0.0.0.0:6443",
            "https://[::]:6443",
            "https://kubernetes.default.svc",
            "https://user@127.0.0.1:6443/path",
        ] {
            assert!(unreachable_from_pods(server).is_some(), "{server}");
        }
        let why = unreachable_from_pods("https://127.0.0.1:6443").unwrap();
        assert!(why.contains("the pod itself"), "{why}");
        for server in [
            "https://10.0.0.9:6443",
            "https://playground-dev-server-0:6443",
            "https://k8s.example.com",
            "https://[fd00::1]:6443",
            "https://192.168.1.20",
        ] {
            assert_eq!(unreachable_from_pods(server), None, "{server}");
        }
    }

    #[test]
    fn a_hub_shows_its_clusters_and_their_connection() {
        let clusters = vec![
            HubCluster {
                name: "dev".into(),
                kind: "lab",
                registered: true,
                server: Some("https://playground-dev-server-0:6443".into()),
                connection: Connection::Connected,
                version: Some("v1.33.4+k3s1".into()),
                message: None,
            },
            HubCluster {
                name: "prod".into(),
                kind: "lab",
                registered: true,
                server: Some("https://playground-prod-server-0:6443".into()),
                connection: Connection::Unreachable,
                version: None,
                message: Some("lab prod is suspended: `playground resume prod`".into()),
            },
            HubCluster {
                name: "qa".into(),
                kind: "lab",
                registered: false,
                server: None,
                connection: Connection::Unreachable,
                version: None,
                message: Some("no lab is named qa".into()),
            },
        ];
        let golden = "\
CLUSTER  REGISTERED  CONNECTION   SERVER                                 DETAIL
dev      yes         connected    https://playground-dev-server-0:6443   v1.33.4+k3s1
prod     yes         unreachable  https://playground-prod-server-0:6443  lab prod is suspended: `playground resume prod`
qa       no          unreachable  -                                      no lab is named qa
";
        assert_eq!(render_clusters(&clusters), golden);
        let json = serde_json::to_value(&clusters).unwrap();
        assert_eq!(json[0]["connection"], "connected");
        assert_eq!(json[0]["registered"], true);
        assert_eq!(json[0]["kind"], "lab");
        assert_eq!(json[1]["connection"], "unreachable");
        assert_eq!(json[2]["server"], Value::Null);
    }

    #[test]
    fn the_cluster_secret_is_what_argocd_cluster_add_writes() {
        let creds = Credentials {
            token: "header.claims.signature".into(),
            ca_pem: "-----BEGIN CERTIFICATE-----\nX\n-----END CERTIFICATE-----\n".into(),
        };
        let s = cluster_secret(
            "argocd",
            "dev",
            "https://playground-dev-server-0:6443",
            &creds,
        );
        assert_eq!(s["metadata"]["name"], "cluster-playground-dev");
        assert_eq!(s["metadata"]["labels"][LABEL_SECRET_TYPE], "cluster");
        assert_eq!(s["metadata"]["labels"][LABEL_CLUSTER], "dev");
        assert_eq!(s["stringData"]["name"], "dev");
        assert_eq!(
            s["stringData"]["server"],
            "https://playground-dev-server-0:6443"
        );
        let config: Value =
            serde_json::from_str(s["stringData"]["config"].as_str().unwrap()).unwrap();
        assert_eq!(config["bearerToken"], "header.claims.signature");
        assert_eq!(config["tlsClientConfig"]["insecure"], false);
        let ca = base64::engine::general_purpose::STANDARD
            .decode(config["tlsClientConfig"]["caData"].as_str().unwrap())
            .unwrap();
        assert_eq!(ca, creds.ca_pem.as_bytes());
        // No credential in the labels.
        assert!(!s["metadata"]["labels"].to_string().contains("signature"));
        assert_eq!(format!("{creds:?}"), "Credentials { token: ***, .. }");
    }

    #[test]
    fn a_spoke_is_reached_by_its_server_or_its_load_balancer() {
        assert_eq!(
            spoke_endpoint(&crate::lab::LabName::parse("dev").unwrap(), 1),
            (
                "playground-dev-server-0".to_string(),
                "https://playground-dev-server-0:6443".to_string()
            )
        );
        assert_eq!(
            spoke_endpoint(&crate::lab::LabName::parse("ha").unwrap(), 3).0,
            "playground-ha-serverlb"
        );
    }
}

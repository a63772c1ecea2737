//! The conventions both halves of a lab agree on: the cluster half ([`crate::cluster`]) builds
//! nodes that honour them and the Argo CD half ([`crate::argocd`]) relies on them. They live
//! below both, so neither half imports the other.

mod name;

pub use name::{DEFAULT_LAB_NAME, LabName, MAX_NAME_LEN, NAME_HINT, NameError};

use std::net::IpAddr;

/// The lab file's name at the top of a lab directory or a lab repository.
pub(crate) const DEFAULT_FILE: &str = "playground.yaml";

/// Where a local repository is mounted in the nodes and in `argocd-repo-server`.
pub(crate) const LOCAL_REPO_MOUNT: &str = "/playground";

/// The NodePort of the `argocd-server` Service's plain-HTTP port; the UI's host port maps to it.
pub(crate) const ARGOCD_UI_NODE_PORT: u16 = 30080;

/// What every Docker object and kube context of a lab is named with.
pub(crate) const PREFIX: &str = "playground";

/// The kube context (and cluster and user) of a lab in the kubeconfig.
pub(crate) fn kube_context(lab: &LabName) -> String {
    format!("{PREFIX}-{lab}")
}

/// The container a lab's API is served from on its Docker network: its load balancer when it
/// has several servers, else its one server. `cluster::names::node` names the same containers
/// (a test there holds the two equal); the Argo CD half reaches a spoke through it.
pub(crate) fn api_container(lab: &LabName, servers: u32) -> String {
    if servers > 1 {
        format!("{PREFIX}-{lab}-serverlb")
    } else {
        format!("{PREFIX}-{lab}-server-0")
    }
}

/// The address a client on the host uses to reach a bind address.
pub(crate) fn client_host(bind: IpAddr) -> String {
    match bind {
        IpAddr::V4(v4) if v4.is_unspecified() => "127.0.0.1".into(),
        IpAddr::V6(v6) if v6.is_unspecified() => "[::1]".into(),
        IpAddr::V6(v6) => format!("[{v6}]"),
        IpAddr::V4(v4) => v4.to_string(),
    }
}

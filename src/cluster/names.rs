//! Names and labels of every Docker object a lab owns.
//!
//! Later commands find a lab's objects by these labels alone; no local state is needed to
//! list, suspend, resume or drop a lab.

use crate::config::{LabName, Role};

use super::k3s;

/// Prefix of every Docker object and kube context we make.
pub(crate) use crate::lab::PREFIX;
pub(crate) const LABEL_CLUSTER: &str = "playground.cluster";
pub(crate) const LABEL_ROLE: &str = "playground.role";
pub(crate) const LABEL_INDEX: &str = "playground.node.index";
pub(crate) const LABEL_SERVERS: &str = "playground.servers";
pub(crate) const LABEL_AGENTS: &str = "playground.agents";
pub(crate) const LABEL_API_HOST: &str = "playground.api.host";
pub(crate) const LABEL_API_PORT: &str = "playground.api.port";
/// The lab network's subnet, on every node: a network removed behind our back is made again
/// with it, so every node gets its static address back.
pub(crate) const LABEL_SUBNET: &str = "playground.subnet";
/// The namespace Argo CD is installed in, so later commands need no lab file.
pub(crate) const LABEL_ARGOCD_NAMESPACE: &str = "playground.argocd.namespace";
/// The host path of the local Git repository mounted into the nodes.
pub(crate) const LABEL_REPO: &str = "playground.repo";
/// The names (never the values) of the environment variables playground set on a node, so
/// `up` can tell a key the lab file dropped from one the image sets (see `plan::diff`).
pub(crate) const LABEL_ENV_KEYS: &str = "playground.env-keys";
/// The env keys whose values the lab file takes from the host (`${env:NAME}`): secrets, which
/// `logs`, `export logs` and the reconcile diff mask by key, whatever their names.
pub(crate) const LABEL_SECRET_ENV: &str = "playground.secret-env";
/// The Argo CD UI host port.
pub(crate) const LABEL_UI_PORT: &str = "playground.argocd.ui-port";
/// On a shared image cache's container and volume: the upstream registry it caches
/// (`docker.io`, …). Never on a lab's objects, and a cache never carries [`LABEL_CLUSTER`], so
/// `drop`'s label sweep leaves the cache to every other lab.
pub(crate) const LABEL_CACHE: &str = "playground.cache";
/// On a shared image cache's objects: its namespace, `default` unless the test-only
/// `PLAYGROUND_CACHE_NAMESPACE` names another (see [`super::cache`]).
pub(crate) const LABEL_CACHE_NAMESPACE: &str = "playground.cache.namespace";
/// The host name nodes reach the Docker host by. Docker rewrites /etc/hosts from
/// `ExtraHosts` on every start, so unlike k3d's injected entry it survives restarts (k3d #1221).
pub(crate) const HOST_ALIAS: &str = "host.playground.internal";

pub(crate) fn network(lab: &LabName) -> String {
    format!("{PREFIX}-{lab}")
}

pub(crate) fn node(lab: &LabName, role: Role, index: u32) -> String {
    match role {
        Role::LoadBalancer => format!("{PREFIX}-{lab}-serverlb"),
        _ => format!("{PREFIX}-{lab}-{}-{index}", role.as_str()),
    }
}

pub(crate) fn data_volume(lab: &LabName, role: Role, index: u32) -> String {
    format!("{}-data", node(lab, role, index))
}

/// The data volume among a node's binds (`VOLUME:`[`k3s::DATA_DIR`]).
pub(crate) fn data_volume_of(binds: &[String]) -> Option<&str> {
    binds
        .iter()
        .find_map(|b| b.strip_suffix(k3s::DATA_DIR)?.strip_suffix(':'))
}

pub(crate) fn images_volume(lab: &LabName) -> String {
    format!("{PREFIX}-{lab}-images")
}

/// The kube context, cluster and user name (the kubeconfig's entries are named so too).
pub(crate) fn context(lab: &LabName) -> String {
    crate::lab::kube_context(lab)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_api_container_the_argo_cd_half_names_is_the_node_we_make() {
        for lab in ["dev", "a-b"] {
            let lab = &LabName::parse(lab).unwrap();
            assert_eq!(
                crate::lab::api_container(lab, 1),
                node(lab, Role::Server, 0)
            );
            assert_eq!(
                crate::lab::api_container(lab, 3),
                node(lab, Role::LoadBalancer, 0)
            );
        }
    }
}

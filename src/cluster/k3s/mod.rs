//! What playground knows of k3s, in one place: the rest of [`super`] asks here and names no
//! k3s path, argument or log line itself.
//!
//! - [`node`]: the entrypoint, the server and agent arguments, the environment and the ready
//!   lines;
//! - [`kubeconfig`]: where a server writes its kubeconfig, and when that file is whole;
//! - [`registries`]: the node's `registries.yaml` (its path and format, merged from the
//!   caches, the lab registry and the lab file);
//! - here: the folders k3s keeps its data and images in, and the `ctr` commands that import
//!   and export images.

pub(crate) mod kubeconfig;
pub(crate) mod node;
pub mod registries;

pub use kubeconfig::{KUBECONFIG_OUTPUT, incomplete};
pub(crate) use node::ENTRYPOINT_SAYS;
pub use node::{
    API_PORT, DNS_ADDR_ENV, KUBELET_ARGS, NODE_ENTRYPOINT, cidrs, command, env, node_entrypoint,
    ready_line,
};
pub(crate) use registries::REGISTRIES_YAML;

/// k3s's data folder in a node: each node's data volume is mounted there.
pub(crate) const DATA_DIR: &str = "/var/lib/rancher/k3s";

/// k3s's airgap image folder: at every start k3s imports each `.tar` (and `.tar.gz`,
/// `.tar.zst`, ...) in it into containerd's `k8s.io` namespace and pins the images, and a
/// running k3s imports a file that appears there (k3s `pkg/agent/containerd/containerd.go`
/// `preloadFile`, `watcher.go`). It imports with `WithAllPlatforms(true), WithSkipMissing()`,
/// so a tar holding only the node's platform is fine.
pub(crate) const AIRGAP_IMAGES: &str = "/var/lib/rancher/k3s/agent/images";

/// Where an image tar is put inside a node for [`ctr_import`]: k3s's data volume
/// ([`DATA_DIR`]), on disk rather than in the `/run` tmpfs, and present in every node.
pub(crate) const IMPORT_DIR: &str = DATA_DIR;

/// k3s runs containerd itself and logs it to `<data-dir>/agent/containerd/containerd.log`
/// unless `--debug` (k3s-io/k3s `pkg/agent/config/config.go`, `nodeConfig.Containerd.Log`).
pub(crate) const CONTAINERD_LOG: &str = "/var/lib/rancher/k3s/agent/containerd/containerd.log";

/// The images containerd holds for the kubelet, one reference a line: k3s ships `ctr`, and
/// `k8s.io` is the namespace the kubelet reads.
pub(crate) fn ctr_list() -> Vec<&'static str> {
    vec!["ctr", "-n", "k8s.io", "images", "ls", "-q"]
}

/// Export `refs` into the tar `path` (the node's own platform, all the node holds).
pub(crate) fn ctr_export<'a>(path: &'a str, refs: &'a [String]) -> Vec<&'a str> {
    let mut cmd = vec!["ctr", "-n", "k8s.io", "images", "export", path];
    cmd.extend(refs.iter().map(String::as_str));
    cmd
}

/// Import the tar at `path` into the kubelet's namespace.
pub(crate) fn ctr_import(path: &str) -> Vec<&str> {
    vec!["ctr", "-n", "k8s.io", "images", "import", path]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_folders_are_k3s_own() {
        assert!(AIRGAP_IMAGES.starts_with(DATA_DIR));
        assert!(CONTAINERD_LOG.starts_with(DATA_DIR));
    }
}

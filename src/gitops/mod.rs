//! The GitOps half of a lab: Argo CD as the reconciler, and an app of apps seeded from Git.
//!
//! The flow after the cluster is up:
//! 1. [`manifest`]: the pinned Argo CD `install.yaml` (checked against its SHA-256, cached in
//!    the user cache dir), or the file/URL the lab names;
//! 2. [`install`]: server-side apply of it (namespace, CRDs Established, then the rest
//!    concurrently) through [`crate::kube::apply`], then [`workloads`] waits until Argo CD's
//!    Deployments and StatefulSet are available;
//! 3. [`seed`]: the repository (a read-only mount of a local repo, or a repository Secret for a
//!    remote one) and the root Application;
//! 4. [`apps`]: one watch over the Applications until the lab is Synced and Healthy;
//! 5. [`status`] shows the tree with who changed what in Git ([`git`]); [`refresh`] asks Argo CD
//!    to look at a new commit now; [`validate`] checks a lab offline; [`sample`] is the lab built
//!    into the binary.
//! 6. [`argocd_cli`] runs the lab's own `argocd` CLI, which [`cli_download`] fetches from its
//!    server and caches per server version.

pub mod access;
pub mod apps;
pub mod argocd_cli;
pub mod bootstrap;
pub mod cli_download;
pub mod clone;
pub mod git;
pub mod install;
pub mod manifest;
pub mod refresh;
pub mod sample;
pub mod seed;
pub mod status;
pub mod validate;
pub mod workloads;

/// One commit, as `status` shows it next to an app ("who changed what, and when").
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CommitInfo {
    /// Full hex object id.
    pub hash: String,
    /// Abbreviated id (7 characters).
    pub short: String,
    pub author: String,
    /// Seconds since the Unix epoch.
    pub time: i64,
    /// First line of the message.
    pub subject: String,
}

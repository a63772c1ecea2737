//! Argo CD, the lab's reconciler: installing it, seeding the app of apps, watching the apps,
//! and running its CLI. The lab's own Git repository is [`crate::repo`]; the offline checks
//! are [`crate::validate`].
//!
//! The flow after the cluster is up:
//! 1. [`manifest`]: the pinned Argo CD `install.yaml` (checked against its SHA-256, cached in
//!    the user cache dir), or the file/URL the lab names;
//! 2. [`install`]: server-side apply of it (namespace, CRDs Established, then the rest
//!    concurrently) through [`crate::kube::apply`], then [`workloads`] waits until Argo CD's
//!    Deployments and StatefulSet are available;
//!    On a lab that has Argo CD, [`upgrade`] tells a changed release (`up` shows and asks
//!    about it) and, after the apply, deletes what the recorded install had and this one lacks;
//! 3. [`seed`]: the repository (a read-only mount of a local repo, or a repository Secret for a
//!    remote one) and the root Application;
//! 4. [`apps`]: one watch over the Applications until the lab is Synced and Healthy;
//! 5. [`status`] shows the tree with who changed what in Git ([`crate::repo::git`]);
//!    [`refresh`] asks Argo CD to look at a new commit now.
//!    A hub registers other clusters ([`hub`]) and checks from its node that its pods reach
//!    a `{ context: NAME }` cluster's API ([`reach`]).
//! 6. [`cli`] runs the lab's own `argocd` CLI, which [`download`] fetches from its server and
//!    caches per server version; [`access`] finds its address and admin password.
//!
//! [`plan`] is the GitOps half as `up --dry-run` prints it: pure, one line per step.

pub(crate) mod access;
pub mod apps;
pub mod bootstrap;
pub mod cli;
pub mod download;
pub mod hub;
pub mod install;
pub mod manifest;
pub(crate) mod plan;
pub mod reach;
pub mod refresh;
pub(crate) mod seed;
pub mod status;
pub mod upgrade;
pub mod workloads;

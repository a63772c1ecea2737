//! The cluster half of a lab: k3s nodes in Docker.
//!
//! - [`names`]: every object's name and labels;
//! - [`k3s`]: what playground knows of k3s (arguments, entrypoint, ready lines, kubeconfig,
//!   `registries.yaml`, image folders): the only place that knows it;
//! - [`plan`]: desired lab + observed Docker state → ordered phases (pure);
//! - [`error`]: [`ClusterError`], every failure here, typed, with its kind for the exit status;
//! - [`node_kubeconfig`]: the kubeconfig k3s wrote in a server, pointed at the host port;
//! - [`cluster_api`]: the few Kubernetes API calls `up` and `resume` make, as a trait;
//! - `executor`: runs a plan, one method per kind of step (below `up`: it never imports it);
//! - `ports`: whether the host ports a lab publishes are free;
//! - [`up`]: gathers the observed state, plans, and executes (with rollback of a fresh lab);
//! - [`readiness`]: waits on a node's log line while watching it for crashes;
//! - [`inventory`]: finds labs by labels alone (`list`, `status`);
//! - [`lifecycle`]: `suspend`, `resume`, `drop`;
//! - [`cache`]: the shared pull-through image caches (`cache status`, `cache prune`);
//! - [`registry`]: the lab registry you push to (`cluster.registry`), shared like the caches;
//! - [`import`]: `image import`, host images into every node's containerd;
//! - [`logs`]: `logs`, the nodes' output with a node prefix;
//! - [`export`]: `export logs`, one masked archive for a bug report;
//! - [`exec`]: `exec`, a command in a node with the terminal attached.

pub(crate) mod cache;
pub mod cluster_api;
pub(crate) mod error;
pub(crate) mod exec;
mod executor;
pub(crate) mod export;
pub(crate) mod import;
pub mod inventory;
pub mod k3s;
pub(crate) mod lifecycle;
pub(crate) mod logs;
pub mod names;
pub mod node_kubeconfig;
pub mod plan;
mod ports;
pub(crate) mod readiness;
pub(crate) mod registry;
pub(crate) mod up;

#[cfg(test)]
pub(crate) mod tests;

pub(crate) use error::ClusterError;

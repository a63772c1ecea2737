//! Talking to Kubernetes: the kubeconfig file, and the API through kube-rs.

pub mod api;
pub mod apply;
pub mod kept;
pub mod kubeconfig;

/// The user's kubeconfig as kube-rs reads it (`KUBECONFIG`, then `~/.kube/config`), for `up
/// --context` and a hub's context clusters: named through here, so the Kubernetes client
/// stays on this side of the layers.
pub use ::kube::config::{Kubeconfig, KubeconfigError as KubeconfigReadError};

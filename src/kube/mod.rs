//! Talking to Kubernetes: the kubeconfig file, and the API through kube-rs.

pub mod api;
pub mod apply;
pub(crate) mod kept;
pub(crate) mod kubeconfig;

/// The user's kubeconfig as kube-rs reads it (`KUBECONFIG`, then `~/.kube/config`), for `up
/// --context` and a hub's context clusters: named through here, so the Kubernetes client
/// stays on this side of the layers.
pub(crate) use ::kube::config::{Kubeconfig, KubeconfigError as KubeconfigReadError};

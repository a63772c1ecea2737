//! Talking to Kubernetes: the kubeconfig file, and the API through kube-rs.

pub mod api;
pub mod apply;
pub mod kubeconfig;

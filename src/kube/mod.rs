//! Talking to Kubernetes: the kubeconfig file, and readiness through kube-rs.

pub mod kubeconfig;

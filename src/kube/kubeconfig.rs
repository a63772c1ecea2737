//! kubeconfig merge

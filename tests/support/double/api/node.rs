//! Node objects, as a kubelet registers them.
//!
//! The double's own node (server role) is created at start when a node name is given;
//! agents register theirs through the API with the same shape.

use serde_json::{Value, json};

use super::meta::now_rfc3339;

/// The version the double claims to be, in k3s' format.
pub const K3S_VERSION: &str = "v1.33.5+k3s1";

/// A Ready node. Servers get the control-plane and master role labels k3s sets.
pub fn node_object(name: &str, control_plane: bool) -> Value {
    let mut labels = json!({
        "beta.kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "node.kubernetes.io/instance-type": "k3s",
    });
    if control_plane {
        labels["node-role.kubernetes.io/control-plane"] = json!("true");
        labels["node-role.kubernetes.io/master"] = json!("true");
    }
    json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": labels},
        "spec": {"podCIDR": "10.42.0.0/24", "podCIDRs": ["10.42.0.0/24"], "providerID": format!("k3s://{name}")},
        "status": node_status(name),
    })
}

/// The status a kubelet reports: Ready, with a fresh heartbeat.
pub fn node_status(name: &str) -> Value {
    let now = now_rfc3339();
    json!({
        "conditions": [
            {"type": "MemoryPressure", "status": "False", "reason": "KubeletHasSufficientMemory", "message": "kubelet has sufficient memory available", "lastHeartbeatTime": now, "lastTransitionTime": now},
            {"type": "DiskPressure", "status": "False", "reason": "KubeletHasNoDiskPressure", "message": "kubelet has no disk pressure", "lastHeartbeatTime": now, "lastTransitionTime": now},
            {"type": "PIDPressure", "status": "False", "reason": "KubeletHasSufficientPID", "message": "kubelet has sufficient PID available", "lastHeartbeatTime": now, "lastTransitionTime": now},
            {"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubelet is posting ready status", "lastHeartbeatTime": now, "lastTransitionTime": now},
        ],
        "addresses": [{"type": "Hostname", "address": name}],
        "nodeInfo": {
            "architecture": "amd64",
            "operatingSystem": "linux",
            "osImage": "K3s (kube-double)",
            "kernelVersion": "",
            "containerRuntimeVersion": "containerd://2.0.5-k3s1",
            "kubeletVersion": K3S_VERSION,
            "kubeProxyVersion": K3S_VERSION,
            "machineID": "",
            "systemUUID": "",
            "bootID": "",
        },
        "capacity": {"cpu": "2", "memory": "4Gi", "pods": "110"},
        "allocatable": {"cpu": "2", "memory": "4Gi", "pods": "110"},
    })
}

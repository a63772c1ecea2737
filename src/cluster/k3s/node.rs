//! What a k3s node is started with: its entrypoint, its command (the server and agent
//! arguments), its environment, and the log line that says it is ready.

use std::net::Ipv4Addr;

use crate::config::Role;

use super::KUBECONFIG_OUTPUT;

/// The port the Kubernetes API is served on, in every server (and the load balancer).
pub const API_PORT: u16 = 6443;

/// The log line k3d waits for, by role and intent (k3d `pkg/types/k3slogs.go`).
pub fn ready_line(role: Role, init_on_create: bool) -> &'static str {
    match role {
        // With embedded etcd the init server cannot finish starting before others join.
        Role::Server if init_on_create => "Containerd is now running",
        Role::Server => "k3s is up and running",
        Role::Agent => "Successfully registered node",
        Role::LoadBalancer => "start worker processes",
    }
}

/// The script every k3s node runs before k3s: it makes the container what k3s needs (a shared
/// `/`, the node password in the data volume, a resolver kubelet accepts), then execs
/// `/bin/k3s` with the node's command, so k3s runs as PID 1. See the script for the upstream
/// reasons. It is passed inline (`sh -c SCRIPT playground-node ARGS…`), so it needs no copy
/// step and every start runs the version the node was created with.
pub const NODE_ENTRYPOINT: &str = include_str!("node-entrypoint.sh");

/// What starts each line the entrypoint says (its `say`): what it could not do, and the
/// fallback it took instead. The line is in the node's log, before k3s's own.
pub(crate) const ENTRYPOINT_SAYS: &str = "playground-entrypoint: ";

/// The variable that tells the entrypoint which address to answer DNS on.
pub const DNS_ADDR_ENV: &str = "PLAYGROUND_DNS_ADDR";

/// The entrypoint of a k3s node: `/bin/sh -c` [`NODE_ENTRYPOINT`]; the node's command follows
/// as the script's arguments (`$0` names the script in `ps` and in error messages).
pub fn node_entrypoint() -> Vec<String> {
    vec![
        "/bin/sh".into(),
        "-c".into(),
        NODE_ENTRYPOINT.into(),
        "playground-node".into(),
    ]
}

/// kubelet's disk-based eviction and image GC, off, as kind and minikube turn them off: a
/// node's kubelet measures the host's disk behind the node's volume, so on a laptop with less
/// than 10-15 % free (kubelet's defaults, `nodefs.available<10%`, `imagefs.available<15%`)
/// every node is tainted DiskPressure, Argo CD's pods stay Pending and `up` times out (F15;
/// k3d FAQ, k3d #133). "0%" turns a threshold off (kubernetes
/// `pkg/kubelet/eviction/helpers.go`, `parseThresholdStatement`). First in the command, so
/// a lab's own `--kubelet-arg` of the same flag, later, wins (kubelet merges repeated map
/// flags, the last key winning; k3s passes both through, `pkg/util/args.go` `GetArgs`).
/// The flag replaces kubelet's default map, so its `memory.available<100Mi` is dropped too,
/// as on kind's nodes (docs/internals.md says so).
pub const KUBELET_ARGS: [&str; 2] = [
    "--kubelet-arg=eviction-hard=imagefs.available<0%,nodefs.available<0%,nodefs.inodesFree<0%",
    "--kubelet-arg=image-gc-high-threshold=100",
];

/// A node's environment as k3s and the entrypoint read it: the cluster's join token, where a
/// server writes its kubeconfig, the address the entrypoint makes Docker's resolver answer on
/// for kubelet and pods, and, for a node that joins, the server it joins.
pub fn env(token: &str, dns_addr: Ipv4Addr, joins: Option<&str>) -> Vec<String> {
    let mut env = vec![
        format!("K3S_TOKEN={token}"),
        format!("K3S_KUBECONFIG_OUTPUT={KUBECONFIG_OUTPUT}"),
        // Where the entrypoint makes Docker's resolver answer for kubelet and pods.
        format!("{DNS_ADDR_ENV}={dns_addr}"),
    ];
    if let Some(server) = joins {
        env.push(format!("K3S_URL=https://{server}:{API_PORT}"));
    }
    env
}

/// A node's command (k3s's arguments): its role, [`KUBELET_ARGS`], for a server
/// `--cluster-init` when it starts embedded etcd and one `--tls-san` per name its API is
/// reached by, then the lab's own arguments for this node.
pub fn command<'a>(
    role: Role,
    cluster_init: bool,
    tls_sans: Vec<String>,
    lab_args: impl IntoIterator<Item = &'a str>,
) -> Vec<String> {
    let mut cmd = vec![role.as_str().to_string()];
    cmd.extend(KUBELET_ARGS.iter().map(|a| a.to_string()));
    if cluster_init {
        cmd.push("--cluster-init".into());
    }
    for san in tls_sans {
        cmd.push("--tls-san".into());
        cmd.push(san);
    }
    cmd.extend(lab_args.into_iter().map(str::to_string));
    cmd
}

/// The pod and Service ranges: k3s's defaults (`--cluster-cidr`, `--service-cidr`), or what
/// the lab's arguments set.
pub fn cidrs<'a>(args: impl IntoIterator<Item = &'a str> + Clone) -> (String, String) {
    let cidr = |flag: &str, default: &str| {
        args.clone()
            .into_iter()
            .find_map(|a| a.strip_prefix(flag))
            .unwrap_or(default)
            .to_string()
    };
    (
        cidr("--cluster-cidr=", "10.42.0.0/16"),
        cidr("--service-cidr=", "10.43.0.0/16"),
    )
}

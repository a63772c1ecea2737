//! One k3s node, fully specified: its container, labels, entrypoint and ready line.
//!
//! The same concern as k3d `pkg/client/node.go` (a node's spec, labels and how it is started).

use std::net::{IpAddr, Ipv4Addr};

use crate::config::{Lab, Role};
use crate::docker::{ContainerSpec, Labels, PortBinding};

use super::super::{cache, mirrors, names};
use crate::lab::client_host;

use super::ipam::{gateway_ip, node_ip};
use super::{Inputs, NodePlan};

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
/// kubelet's disk-based eviction and image GC, off, as kind and minikube turn them off: a
/// node's kubelet measures the host's disk behind the node's volume, so on a laptop with less
/// than 10-15 % free (kubelet's defaults, `nodefs.available<10%`, `imagefs.available<15%`)
/// every node is tainted DiskPressure, Argo CD's pods stay Pending and `up` times out (F15;
/// k3d FAQ, k3d #133). "0%" turns a threshold off (kubernetes
/// `pkg/kubelet/eviction/helpers.go`, `parseThresholdStatement`). First in the command, so
/// a lab's own `--kubelet-arg` of the same flag, later, wins (kubelet merges repeated map
/// flags, the last key winning; k3s passes both through, `pkg/util/args.go` `GetArgs`).
pub const KUBELET_ARGS: [&str; 2] = [
    "--kubelet-arg=eviction-hard=imagefs.available<0%,nodefs.available<0%,nodefs.inodesFree<0%",
    "--kubelet-arg=image-gc-high-threshold=100",
];

/// Where the nodes find the host's kernel modules (see [`node_plan`]).
pub const HOST_MODULES: &str = "/lib/modules";

/// The variable that names another folder than [`HOST_MODULES`] to mount as the nodes'
/// `/lib/modules` (the tests' stand-in modules); unset, the host's own, when it has one.
pub const ENV_HOST_MODULES: &str = "PLAYGROUND_HOST_MODULES";

/// The host's kernel modules folder to mount into the nodes: [`ENV_HOST_MODULES`], else
/// [`HOST_MODULES`] when this host has it. A Docker on another machine or in a VM (Docker
/// Desktop, Colima) has its own kernel: nothing is mounted then unless this host, which runs
/// the same engine, has the folder too.
pub fn host_modules_from_env() -> Option<std::path::PathBuf> {
    match std::env::var_os(ENV_HOST_MODULES).filter(|v| !v.is_empty()) {
        Some(dir) => Some(dir.into()),
        None => std::path::Path::new(HOST_MODULES)
            .is_dir()
            .then(|| HOST_MODULES.into()),
    }
}

pub const NODE_ENTRYPOINT: &str = include_str!("../node-entrypoint.sh");

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

/// The Argo CD UI: always on 127.0.0.1 (a cluster-admin UI is not for the network), to the
/// `argocd-server` NodePort, which k3s serves on every node.
pub(super) fn ui_binding(host_port: u16) -> PortBinding {
    PortBinding {
        host_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
        host_port,
        container_port: crate::lab::ARGOCD_UI_NODE_PORT,
        protocol: "tcp",
    }
}

/// The labels every node carries. Later commands read a lab from these alone: its shape,
/// its API address, where Argo CD lives and which repository it was seeded from.
pub(super) fn node_labels(
    lab: &Lab,
    role: Role,
    index: u32,
    base: Ipv4Addr,
    inputs: &Inputs,
) -> Labels {
    let c = &lab.cluster;
    let mut labels = Labels::new();
    labels.insert(names::LABEL_SUBNET.into(), format!("{base}/24"));
    labels.insert(names::LABEL_CLUSTER.into(), lab.name.to_string());
    labels.insert(names::LABEL_ROLE.into(), role.as_str().into());
    labels.insert(names::LABEL_INDEX.into(), index.to_string());
    labels.insert(names::LABEL_SERVERS.into(), c.servers.to_string());
    labels.insert(names::LABEL_AGENTS.into(), c.agents.to_string());
    labels.insert(names::LABEL_API_HOST.into(), c.api.host.to_string());
    labels.insert(names::LABEL_API_PORT.into(), inputs.api_port.to_string());
    labels.insert(
        names::LABEL_ARGOCD_NAMESPACE.into(),
        lab.argocd.namespace.clone(),
    );
    if let Some(ui) = inputs.ui_port {
        labels.insert(names::LABEL_UI_PORT.into(), ui.to_string());
    }
    if let Some(repo) = &inputs.repo_mount {
        labels.insert(names::LABEL_REPO.into(), repo.display().to_string());
    }
    labels
}

pub(super) fn node_plan(
    lab: &Lab,
    role: Role,
    index: u32,
    base: Ipv4Addr,
    inputs: &Inputs,
    fresh: bool,
) -> NodePlan {
    let c = &lab.cluster;
    let name = names::node(&lab.name, role, index);
    let server0 = names::node(&lab.name, Role::Server, 0);
    let mut labels = node_labels(lab, role, index, base, inputs);

    let mut env = vec![
        format!("K3S_TOKEN={}", inputs.token),
        format!("K3S_KUBECONFIG_OUTPUT={}", names::KUBECONFIG_OUTPUT),
        // Where the entrypoint makes Docker's resolver answer for kubelet and pods.
        format!("{DNS_ADDR_ENV}={}", gateway_ip(base)),
    ];
    let joins = role == Role::Agent || index > 0;
    if joins {
        env.push(format!("K3S_URL=https://{server0}:6443"));
    }
    let mut secret_keys = Vec::new();
    for e in &c.env {
        if e.filter.matches(role, index, c.servers) {
            env.push(format!("{}={}", e.value.key, e.value.value));
            if e.value.from_host.is_some() {
                secret_keys.push(e.value.key.as_str());
            }
        }
    }
    if let Some(proxy) = &c.proxy {
        // k3s's defaults (`--cluster-cidr`, `--service-cidr`), or what the lab sets.
        let cidr = |flag: &str, default: &str| {
            c.k3s_args
                .iter()
                .find_map(|a| a.value.strip_prefix(flag))
                .unwrap_or(default)
                .to_string()
        };
        let (pods, services) = (
            cidr("--cluster-cidr=", "10.42.0.0/16"),
            cidr("--service-cidr=", "10.43.0.0/16"),
        );
        for (key, value) in [("HTTP_PROXY", &proxy.http), ("HTTPS_PROXY", &proxy.https)] {
            if let Some(v) = value {
                env.push(format!("{key}={v}"));
                // A URL with credentials: its value is masked in the diff, by key.
                if crate::ui::redact::mask(v) != *v {
                    secret_keys.push(key);
                }
            }
        }
        env.push(format!(
            "NO_PROXY={}",
            proxy.no_proxy_for(&format!("{base}/24"), &pods, &services)
        ));
    }
    if !secret_keys.is_empty() {
        labels.insert(names::LABEL_SECRET_ENV.into(), secret_keys.join(","));
    }

    labels.insert(names::LABEL_ENV_KEYS.into(), super::diff::env_keys(&env));
    // What `registries.yaml` will hold of the lab file's own entries (see `mirrors`).
    if let Some(r) = &c.registries {
        labels.insert(mirrors::LABEL_REGISTRIES.into(), r.digest.clone());
    }

    let mut cmd = vec![role.as_str().to_string()];
    cmd.extend(KUBELET_ARGS.iter().map(|a| a.to_string()));
    if role == Role::Server {
        if c.servers > 1 && index == 0 {
            cmd.push("--cluster-init".into());
        }
        let mut sans: Vec<String> =
            vec![client_host(c.api.host).trim_matches(['[', ']']).to_string()];
        if !c.api.host.is_unspecified() && c.api.host.to_string() != sans[0] {
            sans.push(c.api.host.to_string());
        }
        for extra in ["127.0.0.1", "localhost"] {
            if !sans.iter().any(|s| s == extra) {
                sans.push(extra.into());
            }
        }
        sans.push(name.clone());
        if c.servers > 1 {
            sans.push(names::node(&lab.name, Role::LoadBalancer, 0));
        }
        for san in sans {
            cmd.push("--tls-san".into());
            cmd.push(san);
        }
    }
    for a in &c.k3s_args {
        if a.filter.matches(role, index, c.servers) {
            cmd.push(a.value.clone());
        }
    }

    let mut binds = vec![
        format!(
            "{}:/var/lib/rancher/k3s",
            names::data_volume(&lab.name, role, index)
        ),
        format!(
            "{}:/var/lib/playground/images",
            names::images_volume(&lab.name)
        ),
    ];
    // The images this lab's nodes held when a lab of this name was last dropped: k3s imports
    // them at start, so a lab made again downloads nothing it had (see `cache` module docs).
    if let Some(cache) = inputs.cache.as_ref().filter(|_| c.image_cache) {
        binds.push(format!(
            "{}:{}",
            cache.export_volume(&lab.name),
            cache::AIRGAP_IMAGES
        ));
    }
    if let Some(repo) = &inputs.repo_mount {
        binds.push(format!(
            "{}:{}:ro",
            repo.display(),
            crate::lab::LOCAL_REPO_MOUNT
        ));
    }
    // The host's kernel modules, read-only, as kind mounts them on every node (kind
    // `pkg/cluster/internal/providers/docker/provision.go` `runArgsForNode`): k3s loads
    // `br_netfilter` and the netfilter modules itself at start (k3s
    // `pkg/agent/syssetup/setup.go` `loadKernelModule`, `modprobe -- NAME`), which needs
    // them. Docker 27.3 and later no longer load `br_netfilter` on the host (moby#48492,
    // moby#48948); without it a pod cannot reach a Service whose endpoint shares its node.
    if let Some(modules) = &inputs.host_modules {
        binds.push(format!("{}:{HOST_MODULES}:ro", modules.display()));
    }
    // The lab's certificate authorities, where Go reads system roots (see `CA_CERTS_DIR`).
    for (i, ca) in c.ca_certs.iter().enumerate() {
        binds.push(format!(
            "{}:{}:ro",
            ca.host.display(),
            crate::config::CaCert::node_path(i)
        ));
    }
    // The TLS files of `cluster.registries`, where the merged `registries.yaml` names them.
    for (i, config) in c
        .registries
        .iter()
        .flat_map(|r| r.configs.values())
        .enumerate()
    {
        for (host, node) in config.tls.iter().flat_map(|t| t.files(i)) {
            binds.push(format!("{}:{node}:ro", host.display()));
        }
    }
    // The lab's own mounts (`cluster.mounts`), checked when the file was read.
    for m in &c.mounts {
        if m.filter.matches(role, index, c.servers) {
            binds.push(m.value.bind());
        }
    }

    let mut ports = Vec::new();
    if role == Role::Server && index == 0 && c.servers == 1 {
        ports.push(PortBinding {
            host_ip: c.api.host,
            host_port: inputs.api_port,
            container_port: 6443,
            protocol: "tcp",
        });
        if let Some(ui) = inputs.ui_port {
            ports.push(ui_binding(ui));
        }
    }
    for p in &c.ports {
        if p.target.matches(role, index, c.servers) {
            ports.push(PortBinding {
                host_ip: p.host_ip,
                host_port: p.host_port,
                container_port: p.container_port,
                protocol: p.protocol.as_str(),
            });
        }
    }

    NodePlan {
        role,
        index,
        ready_line: ready_line(
            role,
            role == Role::Server && index == 0 && c.servers > 1 && fresh,
        ),
        spec: ContainerSpec {
            hostname: name.clone(),
            name,
            image: c.image.clone(),
            entrypoint: node_entrypoint(),
            cmd,
            env,
            labels,
            network: names::network(&lab.name),
            ip: Some(IpAddr::V4(node_ip(base, role, index))),
            binds,
            tmpfs: vec!["/run".into(), "/var/run".into()],
            privileged: c.privileged,
            // A node that is not privileged (the tests' stand-in) still gets what our own
            // entrypoint needs: a shared / (SYS_ADMIN) and the DNS rules (NET_ADMIN).
            cap_add: if c.privileged {
                Vec::new()
            } else {
                vec!["SYS_ADMIN".into(), "NET_ADMIN".into()]
            },
            // Docker refuses privileged containers in a remapped user namespace (k3d sets the
            // same on every node, k3d#1442).
            userns_host: true,
            // k3s, privileged and PID 1, moves every process of its root cgroup into `/init`
            // (k3s `pkg/cli/cmds/init_linux.go`); in the host's cgroup namespace (a daemon
            // with `"default-cgroupns-mode": "host"`, the default on cgroup v1) that root would
            // be the host's. kind pins it for the same reason.
            cgroupns_private: true,
            // k3s must be PID 1 (see node-entrypoint.sh): no docker-init in front of it.
            init: false,
            restart_unless_stopped: true,
            ports,
            // `host-gateway` is the address Docker itself gives for "the host": the bridge
            // gateway on Linux, the Mac or Windows host on Docker Desktop (whose bridge
            // gateway is the VM). Docker rewrites /etc/hosts on every start.
            extra_hosts: vec![format!("{}:host-gateway", names::HOST_ALIAS)],
        },
    }
}

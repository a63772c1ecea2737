//! One k3s node, fully specified: its container, labels, entrypoint and ready line.
//!
//! The same concern as k3d `pkg/client/node.go` (a node's spec, labels and how it is started).

use std::net::{IpAddr, Ipv4Addr};

use crate::config::{Lab, Role};
use crate::docker::{ContainerSpec, Labels, PortBinding};

use super::super::k3s::{self, registries};
use super::super::names;
use crate::lab::client_host;

use super::ipam::{gateway_ip, node_ip};
use super::{Inputs, NodePlan};

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

/// One server or agent of the lab, fully specified.
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
    let mut labels = node_labels(lab, role, index, base, inputs);
    let (env, secret_keys) = node_env(lab, role, index, base, inputs);
    if !secret_keys.is_empty() {
        labels.insert(names::LABEL_SECRET_ENV.into(), secret_keys.join(","));
    }

    labels.insert(names::LABEL_ENV_KEYS.into(), super::diff::env_keys(&env));
    // What `registries.yaml` will hold of the lab file's own entries (see `k3s::registries`).
    if let Some(r) = &c.registries {
        labels.insert(registries::LABEL_REGISTRIES.into(), r.digest.clone());
    }

    NodePlan {
        role,
        index,
        ready_line: k3s::ready_line(
            role,
            role == Role::Server && index == 0 && c.servers > 1 && fresh,
        ),
        spec: ContainerSpec {
            hostname: name.clone(),
            image: c.image.clone(),
            entrypoint: k3s::node_entrypoint(),
            cmd: node_cmd(lab, role, index, &name),
            env,
            labels,
            network: names::network(&lab.name),
            ip: Some(IpAddr::V4(node_ip(base, role, index))),
            binds: node_binds(lab, role, index, inputs),
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
            ports: node_ports(lab, role, index, inputs),
            // `host-gateway` is the address Docker itself gives for "the host": the bridge
            // gateway on Linux, the Mac or Windows host on Docker Desktop (whose bridge
            // gateway is the VM). Docker rewrites /etc/hosts on every start.
            extra_hosts: vec![format!("{}:host-gateway", names::HOST_ALIAS)],
            name,
        },
    }
}

/// A node's environment: k3s's own ([`k3s::env`]), the lab's `cluster.env` for this node, and
/// the proxy; with the keys whose values are secret (masked in the diff, by key).
fn node_env<'a>(
    lab: &'a Lab,
    role: Role,
    index: u32,
    base: Ipv4Addr,
    inputs: &Inputs,
) -> (Vec<String>, Vec<&'a str>) {
    let c = &lab.cluster;
    let joins = role == Role::Agent || index > 0;
    let server0 = names::node(&lab.name, Role::Server, 0);
    let mut env = k3s::env(
        &inputs.token,
        gateway_ip(base),
        joins.then_some(server0.as_str()),
    );
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
        let (pods, services) = k3s::cidrs(c.k3s_args.iter().map(|a| a.value.as_str()));
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
    (env, secret_keys)
}

/// A node's command ([`k3s::command`]): for a server, `--cluster-init` on the first of
/// several, and the names its API is reached by; the lab's `k3sArgs` for this node.
fn node_cmd(lab: &Lab, role: Role, index: u32, name: &str) -> Vec<String> {
    let c = &lab.cluster;
    let server = role == Role::Server;
    k3s::command(
        role,
        server && c.servers > 1 && index == 0,
        if server {
            api_sans(lab, name)
        } else {
            Vec::new()
        },
        c.k3s_args
            .iter()
            .filter(|a| a.filter.matches(role, index, c.servers))
            .map(|a| a.value.as_str()),
    )
}

/// The names a server's certificate is valid for (`--tls-san`): the API host as clients
/// name it, the host as written, loopback, the server itself and the load balancer.
fn api_sans(lab: &Lab, name: &str) -> Vec<String> {
    let c = &lab.cluster;
    let mut sans: Vec<String> = vec![client_host(c.api.host).trim_matches(['[', ']']).to_string()];
    if !c.api.host.is_unspecified() && c.api.host.to_string() != sans[0] {
        sans.push(c.api.host.to_string());
    }
    for extra in ["127.0.0.1", "localhost"] {
        if !sans.iter().any(|s| s == extra) {
            sans.push(extra.into());
        }
    }
    sans.push(name.to_string());
    if c.servers > 1 {
        sans.push(names::node(&lab.name, Role::LoadBalancer, 0));
    }
    sans
}

/// A node's binds: its data volume, the lab's images volume, the image export, the lab's
/// repository, the host's kernel modules, the CAs, the registries' TLS files and the lab's
/// own mounts.
fn node_binds(lab: &Lab, role: Role, index: u32, inputs: &Inputs) -> Vec<String> {
    let c = &lab.cluster;
    let mut binds = vec![
        format!(
            "{}:{}",
            names::data_volume(&lab.name, role, index),
            k3s::DATA_DIR
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
            k3s::AIRGAP_IMAGES
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
    binds
}

/// The host ports a node publishes: the API and the UI on the only server of a lab without a
/// load balancer, and the lab's `cluster.ports` aimed at this node.
fn node_ports(lab: &Lab, role: Role, index: u32, inputs: &Inputs) -> Vec<PortBinding> {
    let c = &lab.cluster;
    let mut ports = Vec::new();
    if role == Role::Server && index == 0 && c.servers == 1 {
        ports.push(PortBinding {
            host_ip: c.api.host,
            host_port: inputs.api_port,
            container_port: k3s::API_PORT,
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
    ports
}

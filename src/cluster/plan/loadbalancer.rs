//! The load balancer in front of the servers of a multi-server lab: nginx, streaming the API
//! and the lab's load-balanced ports to every node by static address.
//!
//! The same concern as k3d `pkg/client/loadbalancer.go`.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};

use crate::config::{Lab, NodeFilter, Role};
use crate::docker::{ContainerSpec, PortBinding};

use super::super::k3s::{API_PORT, ready_line};
use super::super::names;
use super::ipam::node_ip;
use super::node::{node_labels, ui_binding};
use super::{Inputs, NodePlan};

/// The image of the multi-server load balancer: nginx with a generated stream config.
pub const LB_IMAGE: &str = "nginx:1.29-alpine";

/// Names another load balancer image (tests use a stand-in that serves the same config).
pub const ENV_LB_IMAGE: &str = "PLAYGROUND_LB_IMAGE";

/// [`ENV_LB_IMAGE`], or [`LB_IMAGE`].
pub fn lb_image_from_env() -> String {
    std::env::var(ENV_LB_IMAGE)
        .ok()
        .map(|i| i.trim().to_string())
        .filter(|i| !i.is_empty())
        .unwrap_or_else(|| LB_IMAGE.to_string())
}

/// The nginx stream config for the multi-server load balancer. Upstreams are static IPs, not
/// container names: nginx resolves names once at start and dies with "host not found in
/// upstream" when a node is down (k3d #947).
pub fn lb_config(upstreams: &BTreeMap<(u16, &'static str), Vec<Ipv4Addr>>) -> String {
    let mut out = String::from(
        "error_log stderr notice;\nworker_processes auto;\nevents { worker_connections 1024; }\nstream {\n",
    );
    for ((port, proto), ips) in upstreams {
        out.push_str(&format!("  upstream u_{port}_{proto} {{\n"));
        for ip in ips {
            out.push_str(&format!(
                "    server {ip}:{port} max_fails=1 fail_timeout=10s;\n"
            ));
        }
        let udp = if *proto == "udp" { " udp" } else { "" };
        out.push_str(&format!(
            "  }}\n  server {{\n    listen {port}{udp};\n    proxy_pass u_{port}_{proto};\n    proxy_timeout 600s;\n    proxy_connect_timeout 2s;\n  }}\n"
        ));
    }
    out.push_str("}\n");
    out
}

pub(super) fn lb_plan(lab: &Lab, base: Ipv4Addr, nodes: &[NodePlan], inputs: &Inputs) -> NodePlan {
    let c = &lab.cluster;
    let name = names::node(&lab.name, Role::LoadBalancer, 0);
    let servers: Vec<Ipv4Addr> = nodes
        .iter()
        .filter(|n| n.role == Role::Server)
        .map(|n| node_ip(base, n.role, n.index))
        .collect();
    let all: Vec<Ipv4Addr> = nodes
        .iter()
        .map(|n| node_ip(base, n.role, n.index))
        .collect();
    let mut upstreams = BTreeMap::new();
    upstreams.insert((API_PORT, "tcp"), servers);
    let mut ports = vec![PortBinding {
        host_ip: c.api.host,
        host_port: inputs.api_port,
        container_port: API_PORT,
        protocol: "tcp",
    }];
    for p in c
        .ports
        .iter()
        .filter(|p| p.target == NodeFilter::LoadBalancer)
    {
        upstreams.insert((p.container_port, p.protocol.as_str()), all.clone());
        ports.push(PortBinding {
            host_ip: p.host_ip,
            host_port: p.host_port,
            container_port: p.container_port,
            protocol: p.protocol.as_str(),
        });
    }
    if let Some(ui) = inputs.ui_port {
        upstreams.insert((crate::lab::ARGOCD_UI_NODE_PORT, "tcp"), all.clone());
        ports.push(ui_binding(ui));
    }
    let env = vec![format!("PLAYGROUND_NGINX_CONF={}", lb_config(&upstreams))];
    let mut labels = node_labels(lab, Role::LoadBalancer, 0, base, inputs);
    labels.insert(names::LABEL_ENV_KEYS.into(), super::diff::env_keys(&env));
    NodePlan {
        role: Role::LoadBalancer,
        index: 0,
        ready_line: ready_line(Role::LoadBalancer, false),
        spec: ContainerSpec {
            hostname: name.clone(),
            name,
            image: inputs.lb_image.clone(),
            // The config travels in the environment and is written on every start, so it
            // needs no copy step and survives restarts as it is.
            cmd: vec![
                "sh".into(),
                "-c".into(),
                "printf '%s' \"$PLAYGROUND_NGINX_CONF\" > /etc/nginx/nginx.conf && exec nginx -g 'daemon off;'".into(),
            ],
            env,
            labels,
            network: names::network(&lab.name),
            ip: Some(IpAddr::V4(node_ip(base, Role::LoadBalancer, 0))),
            binds: vec![],
            tmpfs: vec![],
            privileged: false,
            entrypoint: Vec::new(),
            cap_add: Vec::new(),
            userns_host: false,
            cgroupns_private: false,
            init: true,
            restart_unless_stopped: true,
            ports,
            extra_hosts: vec![],
        },
    }
}

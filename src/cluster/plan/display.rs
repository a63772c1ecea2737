//! How a plan reads: one line per step, phase by phase (`up --dry-run`, and the progress lines).

use std::fmt;

use super::super::{cache, names, registry};
use super::{Plan, Step};

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::CheckPorts(ports) => {
                let list: Vec<String> = ports
                    .iter()
                    .map(|p| format!("{}:{}/{}", p.host_ip, p.host_port, p.protocol))
                    .collect();
                write!(f, "check host ports are free: {}", list.join(", "))
            }
            Step::EnsureNetwork(n) => write!(
                f,
                "create network {} ({})",
                n.name,
                n.subnet.as_deref().unwrap_or("auto")
            ),
            Step::EnsureVolume { name, .. } => write!(f, "create volume {name}"),
            Step::PullImage(i) => write!(f, "pull image {i}"),
            Step::RequireImage(i) => write!(f, "require image {i} (--pull never)"),
            Step::EnsureCacheImage { image, pull } => write!(
                f,
                "{} image {image} for the image cache (optional: without it the lab runs uncached)",
                if *pull {
                    "pull"
                } else {
                    "require (--pull never)"
                }
            ),
            Step::EnsureCache(s) => write!(
                f,
                "ensure image cache {} for {} ({}), attached to {} at {}",
                s.spec.name, s.upstream.host, s.upstream.remote_url, s.network, s.ip
            ),
            Step::EnsureRegistry(r) => write!(
                f,
                "ensure lab registry {} on 127.0.0.1:{}, attached to {} at {}",
                r.spec.name, r.port, r.network, r.ip
            ),
            Step::WriteMirrors {
                nodes,
                cache,
                registry,
            } => {
                let mut mirrors: Vec<String> = Vec::new();
                if cache.is_some() {
                    mirrors.extend(cache::UPSTREAMS.map(|u| u.host.to_string()));
                }
                if let Some(r) = registry {
                    mirrors.push(format!("{} → {}", r.host(), r.endpoint()));
                }
                write!(
                    f,
                    "write {} into {} (mirrors: {})",
                    cache::REGISTRIES_YAML,
                    nodes.join(", "),
                    mirrors.join(", ")
                )
            }
            Step::PublishRegistry { port } => write!(
                f,
                "apply {}/{} (localhost:{port}, for Tilt, Skaffold, ctlptl)",
                registry::HOSTING_NAMESPACE,
                registry::HOSTING_NAME
            ),
            Step::CreateNode(n) => write!(
                f,
                "create {} ({}, {})",
                n.spec.name,
                n.role.as_str(),
                n.spec.image
            ),
            Step::StartNode(n) => {
                write!(f, "start {} and wait for \"{}\"", n.spec.name, n.ready_line)
            }
            Step::UnpauseNode(n) => write!(f, "unpause {n}"),
            Step::AttachNode(n) => write!(
                f,
                "attach {} to {} at {}",
                n.spec.name,
                n.spec.network,
                n.spec.ip.map(|i| i.to_string()).unwrap_or_default()
            ),
            Step::ForgetNode(n) => write!(
                f,
                "make the servers forget {n} (its data volume is gone, so it comes back as a new node)"
            ),
            Step::WaitApi { nodes } => {
                write!(
                    f,
                    "wait for the API (/readyz) and {nodes} Ready node(s); point {} at the host in CoreDNS",
                    names::HOST_ALIAS
                )
            }
            Step::WriteKubeconfig { context, api_url } => {
                write!(f, "write kube context {context} ({api_url})")
            }
        }
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, phase) in self.phases.iter().enumerate() {
            for (j, step) in phase.iter().enumerate() {
                let marker = if phase.len() > 1 {
                    if j == 0 { "┬" } else { "│" }
                } else {
                    " "
                };
                writeln!(f, "{:>2}. {marker} {step}", i + 1)?;
            }
        }
        Ok(())
    }
}

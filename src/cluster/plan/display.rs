//! How a plan reads: one line per step, phase by phase (`up --dry-run`, and the progress lines).

use std::fmt;

use super::super::{cache, k3s, names, registry};
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
                user,
            } => {
                let mut mirrors: Vec<String> = Vec::new();
                if cache.is_some() {
                    mirrors.extend(cache::UPSTREAMS.map(|u| u.host.to_string()));
                }
                if let Some(r) = registry {
                    mirrors.push(format!("{} → {}", r.host(), r.endpoint()));
                }
                // The user's entries by host, never their credentials.
                if let Some(u) = user {
                    mirrors.retain(|m| !u.mirrors.keys().any(|h| m.split(' ').next() == Some(h)));
                    mirrors.extend(
                        u.mirrors
                            .keys()
                            .map(|h| format!("{h} (cluster.registries)")),
                    );
                }
                write!(
                    f,
                    "write {} into {} (mirrors: {})",
                    k3s::REGISTRIES_YAML,
                    nodes.join(", "),
                    mirrors.join(", ")
                )?;
                match user.as_ref().filter(|u| !u.configs.is_empty()) {
                    Some(u) => write!(
                        f,
                        " (configs: {})",
                        u.configs.keys().cloned().collect::<Vec<_>>().join(", ")
                    ),
                    None => Ok(()),
                }
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
            Step::RemoveNetworks { name, ids } => write!(
                f,
                "remove {} leftover network(s) named {name} with no node on them (by ID: {}), left by a command killed while it made the network",
                ids.len(),
                ids.iter()
                    .map(|i| &i[..i.len().min(12)])
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Step::LaunchNode(n) => write!(f, "start {}", n.spec.name),
            Step::AwaitNode(n) => {
                write!(f, "wait for {} to log \"{}\"", n.spec.name, n.ready_line)
            }
            Step::UnpauseNode(n) => write!(f, "unpause {n}"),
            Step::AttachNode(n) => write!(
                f,
                "attach {} to {} at {}",
                n.spec.name,
                n.spec.network,
                n.spec.ip.map(|i| i.to_string()).unwrap_or_default()
            ),
            // Said so that it reads right for a brand-new node (nothing to forget) as for one
            // whose data volume is gone (the servers knew its old password).
            Step::ForgetNode(n) => write!(
                f,
                "let {n} join with a new node password (it has no data volume)"
            ),
            Step::WaitApi { nodes } => f.write_str(&wait_api_title(*nodes, *nodes)),
            Step::WriteKubeconfig { context, api_url } => {
                write!(f, "write kube context {context} ({api_url})")
            }
            Step::RecreateNode { node, .. } if node.role == crate::config::Role::LoadBalancer => {
                write!(
                    f,
                    "recreate {} from its new spec (stop, remove, create, start) and wait for \"{}\"",
                    node.spec.name, node.ready_line
                )
            }
            Step::RecreateNode { node, .. } => write!(
                f,
                "recreate {} from its new spec (stop, remove, create, start; it keeps its data volume {}) and wait until its Node is Ready",
                node.spec.name,
                names::data_volume_of(&node.spec.binds).unwrap_or("?")
            ),
            Step::RemoveAgent { name, volume } => write!(
                f,
                "drain {name} (cordon, evict its pods), remove its container and data volume {volume}, delete its Node"
            ),
        }
    }
}

/// The API wait's title when it needs `ready` of the lab's `nodes` Ready: fewer when the rest
/// are awaited later, alongside Argo CD ([`crate::cluster::up::UpOptions::ready_nodes`]), so
/// the title never promises nodes the step does not wait for.
pub(crate) fn wait_api_title(ready: u32, nodes: u32) -> String {
    let which = if ready < nodes {
        format!("{ready} of {nodes} node(s) Ready")
    } else {
        format!("{nodes} Ready node(s)")
    };
    format!(
        "wait for the API (/readyz) and {which}; point {} at the host in CoreDNS",
        names::HOST_ALIAS
    )
}

impl Plan {
    /// What `up` changes on the existing nodes: one line per changed field (node, field, old
    /// → new; secrets masked when the plan was made) and one per agent removed. Empty when
    /// nothing existing changes.
    pub(crate) fn diff(&self) -> String {
        let mut out = String::new();
        if !self.changes_nodes() {
            return out;
        }
        let width = self
            .changes
            .iter()
            .map(|c| c.node.len())
            .chain(self.removed.iter().map(String::len))
            .max()
            .unwrap_or(0);
        out.push_str("changes to existing nodes (old → new):\n");
        for c in &self.changes {
            out.push_str(&format!(
                "  ~ {:width$}  {}: {} → {}\n",
                c.node, c.field, c.old, c.new
            ));
        }
        for name in &self.removed {
            out.push_str(&format!(
                "  - {name:width$}  removed: beyond cluster.agents (drained first; its data volume goes too)\n"
            ));
        }
        out
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.diff())?;
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

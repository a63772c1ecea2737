//! The host ports a lab publishes: free, in use, or not ours to check.
//!
//! `up` checks them right before creating anything (a plan's `CheckPorts` step), and `doctor`
//! asks the same question on its own ([`super::up::busy_ports`]).

use std::net::{SocketAddr, TcpListener, UdpSocket};

use crate::config::Lab;
use crate::docker::{Engine, PortBinding};
use crate::ui::Ui;

use super::cache;
use super::error::{ClusterError as Error, Result};
use super::names;

/// What a bind on the host port says about it.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum PortProbe {
    Free,
    InUse,
    /// This process may not bind it (a port below 1024 as a normal user), which says nothing
    /// about whether it is free: Docker binds it with its own privileges.
    Denied,
}

pub(super) fn probe_port(p: &PortBinding) -> PortProbe {
    let addr = SocketAddr::new(p.host_ip, p.host_port);
    let bound = if p.protocol == "udp" {
        UdpSocket::bind(addr).map(drop)
    } else {
        TcpListener::bind(addr).map(drop)
    };
    classify(bound)
}

fn classify(bound: std::io::Result<()>) -> PortProbe {
    match bound {
        Ok(()) => PortProbe::Free,
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => PortProbe::Denied,
        Err(_) => PortProbe::InUse,
    }
}

/// Check the host ports a plan will bind. A port already published by one of the lab's own
/// containers is not in use by anyone else: a node whose start was still in flight when an
/// earlier `up` was killed holds it by now.
pub(super) async fn check_ports<E: Engine>(
    engine: &E,
    lab: &Lab,
    ports: &[PortBinding],
    api_port: u16,
    ui: &Ui,
) -> Result<()> {
    let mut own: Option<Vec<PortBinding>> = None;
    for p in ports {
        match probe_port(p) {
            PortProbe::Free => {}
            PortProbe::Denied => ui.warn(&denied_note(p)),
            PortProbe::InUse => {
                if own.is_none() {
                    own = Some(
                        engine
                            .list_containers(&[(names::LABEL_CLUSTER, &lab.name)])
                            .await?
                            .into_iter()
                            .flat_map(|c| c.ports)
                            .collect(),
                    );
                }
                let ours = own.as_deref().unwrap_or_default().iter().any(|o| {
                    o.host_port == p.host_port
                        && o.protocol == p.protocol
                        && (o.host_ip == p.host_ip || o.host_ip.is_unspecified())
                });
                if !ours {
                    return Err(port_in_use(p, lab, api_port));
                }
            }
        }
    }
    Ok(())
}

/// What we can say of a port this process may not bind to probe it (`up` warns it, `doctor`
/// reports it): nothing, and Docker binds it with its own privileges.
pub(super) fn denied_note(p: &PortBinding) -> String {
    format!(
        "could not check {}:{}/{} (binding a port below 1024 needs privileges this process lacks); Docker will try to publish it",
        p.host_ip, p.host_port, p.protocol
    )
}

pub(super) fn port_in_use(p: &PortBinding, lab: &Lab, api_port: u16) -> Error {
    let addr = SocketAddr::new(p.host_ip, p.host_port);
    let registry = lab.cluster.registry.map(|r| r.port);
    Error::PortInUse {
        addr: addr.to_string(),
        port: p.host_port,
        proto: p.protocol,
        field: if p.container_port == super::k3s::API_PORT && p.host_port == api_port {
            "cluster.api.port"
        } else if p.container_port == cache::REGISTRY_PORT && Some(p.host_port) == registry {
            "cluster.registry.port"
        } else {
            "cluster.ports"
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Error as IoError, ErrorKind};

    #[test]
    fn a_denied_probe_is_not_a_port_in_use() {
        assert_eq!(classify(Ok(())), PortProbe::Free);
        assert_eq!(
            classify(Err(IoError::from(ErrorKind::AddrInUse))),
            PortProbe::InUse
        );
        // EACCES: binding below 1024 without CAP_NET_BIND_SERVICE; Docker can.
        assert_eq!(
            classify(Err(IoError::from_raw_os_error(13))),
            PortProbe::Denied
        );
    }
}

//! Port mappings: `[HOST_IP:]HOST_PORT:CONTAINER_PORT[/tcp|udp][@FILTER]`, k3d's syntax.
//!
//! Two deliberate differences from k3d:
//! - the host IP defaults to `127.0.0.1`, not `0.0.0.0`: a lab is for the person at the
//!   keyboard, and binding every interface would expose its ingress (and whatever test apps
//!   sit behind it, often with default passwords) to the whole network. Write `0.0.0.0:` to
//!   opt in;
//! - a bare `CONTAINER_PORT` (no host port) is an error instead of publishing on a random
//!   host port: a random port is different on every `up`, so bookmarks and scripts break, and
//!   nothing would tell the user which port was picked.
//!
//! No filter means `@loadbalancer`. An IPv6 host IP is written in brackets: `[::1]:8080:80`.

use std::net::{IpAddr, Ipv4Addr};

use super::error::Problem;
use super::filter::parse_filter;
use super::model::{NodeFilter, PortMapping, Protocol};

const SYNTAX: &str = "expected [HOST_IP:]HOST_PORT:CONTAINER_PORT[/tcp|udp][@FILTER], e.g. \
    \"8080:80@loadbalancer\" or \"127.0.0.1:5353:53/udp@server:0\"";

/// The host address ports are published on when the mapping names none. See the module docs.
pub(crate) const DEFAULT_HOST_IP: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// Parses one `ports:` entry. Node indices are checked later, against the node counts.
pub(crate) fn parse_port(text: &str) -> Result<PortMapping, Problem> {
    let bad = |message: String| Problem::new(message).hint(SYNTAX);
    let (mapping, target) = match text.split_once('@') {
        Some((mapping, filter)) => (mapping, parse_filter(filter)?),
        None => (text, NodeFilter::LoadBalancer),
    };
    let (mapping, protocol) = match mapping.split_once('/') {
        Some((mapping, "tcp")) => (mapping, Protocol::Tcp),
        Some((mapping, "udp")) => (mapping, Protocol::Udp),
        Some((_, other)) => {
            return Err(bad(format!(
                "unknown protocol `{other}` in port `{text}`: use tcp or udp"
            )));
        }
        None => (mapping, Protocol::Tcp),
    };

    // An IPv6 host IP has colons of its own, so it must be bracketed.
    let (host_ip, ports) = if let Some(rest) = mapping.strip_prefix('[') {
        let Some((ip, ports)) = rest.split_once("]:") else {
            return Err(bad(format!(
                "invalid port `{text}`: unclosed `[` around the host IP"
            )));
        };
        let ip = ip
            .parse::<std::net::Ipv6Addr>()
            .map_err(|_| bad(format!("invalid IPv6 host IP `{ip}` in port `{text}`")))?;
        (Some(IpAddr::V6(ip)), ports)
    } else {
        (None, mapping)
    };
    let parts: Vec<&str> = ports.split(':').collect();
    let (host_ip, host_port, container_port) = match (host_ip, parts.as_slice()) {
        (Some(ip), [host, container]) => (ip, *host, *container),
        (None, [host, container]) => (DEFAULT_HOST_IP, *host, *container),
        (None, [ip, host, container]) => {
            let ip = ip
                .parse::<IpAddr>()
                .map_err(|_| bad(format!("invalid host IP `{ip}` in port `{text}`")))?;
            (ip, *host, *container)
        }
        (_, [container]) => {
            return Err(Problem::new(format!(
                "port `{text}` has no host port: publishing on a random host port is not supported"
            ))
            .hint(format!(
                "a random port changes on every `up`; name one, e.g. \"{container}:{container}\""
            )));
        }
        _ => {
            return Err(bad(format!(
                "invalid port `{text}`: too many `:` (an IPv6 host IP goes in brackets: [::1]:8080:80)"
            )));
        }
    };
    let port = |what: &str, p: &str| -> Result<u16, Problem> {
        match p.parse::<u16>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(bad(format!(
                "invalid {what} port `{p}` in port `{text}`: expected a number from 1 to 65535"
            ))),
        }
    };
    Ok(PortMapping {
        host_ip,
        host_port: port("host", host_port)?,
        container_port: port("container", container_port)?,
        protocol,
        target,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::model::Selection;

    fn mapping(
        ip: &str,
        host: u16,
        container: u16,
        protocol: Protocol,
        target: NodeFilter,
    ) -> PortMapping {
        PortMapping {
            host_ip: ip.parse().unwrap(),
            host_port: host,
            container_port: container,
            protocol,
            target,
        }
    }

    #[test]
    fn parses_k3d_port_syntax() {
        use NodeFilter::*;
        use Protocol::*;
        let cases = [
            ("8080:80", mapping("127.0.0.1", 8080, 80, Tcp, LoadBalancer)),
            (
                "8080:80@loadbalancer",
                mapping("127.0.0.1", 8080, 80, Tcp, LoadBalancer),
            ),
            (
                "0.0.0.0:8443:443",
                mapping("0.0.0.0", 8443, 443, Tcp, LoadBalancer),
            ),
            (
                "192.168.1.10:8080:80/tcp@loadbalancer",
                mapping("192.168.1.10", 8080, 80, Tcp, LoadBalancer),
            ),
            (
                "5353:53/udp",
                mapping("127.0.0.1", 5353, 53, Udp, LoadBalancer),
            ),
            (
                "127.0.0.1:5353:53/udp@server:0",
                mapping(
                    "127.0.0.1",
                    5353,
                    53,
                    Udp,
                    Servers(Selection::Indices(vec![0])),
                ),
            ),
            (
                "30080:30080@agent:1",
                mapping(
                    "127.0.0.1",
                    30080,
                    30080,
                    Tcp,
                    Agents(Selection::Indices(vec![1])),
                ),
            ),
            ("[::1]:8080:80", mapping("::1", 8080, 80, Tcp, LoadBalancer)),
            ("1:65535", mapping("127.0.0.1", 1, 65535, Tcp, LoadBalancer)),
        ];
        for (text, want) in cases {
            assert_eq!(parse_port(text), Ok(want), "{text}");
        }
    }

    #[test]
    fn rejects_bad_ports_with_a_reason() {
        let cases = [
            (
                "80",
                "port `80` has no host port: publishing on a random host port is not supported",
            ),
            ("80@loadbalancer", "has no host port"),
            ("8080:80/sctp", "unknown protocol `sctp`"),
            ("8080:0", "invalid container port `0`"),
            ("0:80", "invalid host port `0`"),
            ("65536:80", "invalid host port `65536`"),
            ("8080:http", "invalid container port `http`"),
            ("8080:", "invalid container port ``"),
            ("localhost:8080:80", "invalid host IP `localhost`"),
            ("1.2.3:8080:80", "invalid host IP `1.2.3`"),
            ("::1:8080:80", "too many `:`"),
            ("[::1:8080:80", "unclosed `[`"),
            ("[nope]:8080:80", "invalid IPv6 host IP `nope`"),
            ("8080:80@agent:x", "invalid node index `x`"),
            ("8080:80@lb", "unknown node group `lb`"),
        ];
        for (text, want) in cases {
            let problem = parse_port(text).unwrap_err();
            assert!(
                problem.message.contains(want),
                "{text}: {}",
                problem.message
            );
            assert!(problem.hint.is_some(), "{text} has no hint");
        }
        let hint = parse_port("80").unwrap_err().hint.unwrap();
        assert!(hint.contains("e.g. \"80:80\""), "{hint}");
    }
}

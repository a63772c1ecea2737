//! Between bollard's types and ours, both ways: the request bodies we build from our specs,
//! and our `*Info` read back from what Docker answers (k3d keeps the same in
//! `pkg/runtimes/docker/translate.go`). Pure: nothing here talks to the engine.

use std::collections::HashMap;

use ::bollard::container::LogOutput;
use ::bollard::models::{
    ContainerCreateBody, ContainerInspectResponse, ContainerSummary, EndpointIpamConfig,
    EndpointSettings, HostConfig, HostConfigCgroupnsModeEnum, NetworkInspect, NetworkingConfig,
    PortBinding as DockerPortBinding, RestartPolicy, RestartPolicyNameEnum,
};

use crate::docker::{ContainerInfo, ContainerSpec, LogLine, NetworkInfo, PortBinding, RunState};

/// The `label` filter of the list endpoints: `key=value`, or `key` alone for "has it".
pub(super) fn label_filters(labels: &[(&str, &str)]) -> HashMap<String, Vec<String>> {
    let mut filters = HashMap::new();
    filters.insert(
        "label".to_string(),
        labels
            .iter()
            .map(|(k, v)| {
                if v.is_empty() {
                    k.to_string()
                } else {
                    format!("{k}={v}")
                }
            })
            .collect(),
    );
    filters
}

pub(super) fn network_info(n: NetworkInspect) -> NetworkInfo {
    let cfg = n
        .ipam
        .and_then(|i| i.config)
        .and_then(|c| c.into_iter().next());
    NetworkInfo {
        id: n.id.unwrap_or_default(),
        name: n.name.unwrap_or_default(),
        labels: n.labels.unwrap_or_default().into_iter().collect(),
        subnet: cfg.as_ref().and_then(|c| c.subnet.clone()),
        gateway: cfg.and_then(|c| c.gateway),
    }
}

/// The create body of a container: its host config, ports and the one network it starts on.
pub(super) fn container_body(spec: &ContainerSpec) -> ContainerCreateBody {
    let mut port_bindings: HashMap<String, Option<Vec<DockerPortBinding>>> = HashMap::new();
    for p in &spec.ports {
        port_bindings
            .entry(port_key(p))
            .or_insert_with(|| Some(Vec::new()))
            .as_mut()
            .unwrap()
            .push(DockerPortBinding {
                host_ip: Some(p.host_ip.to_string()),
                host_port: Some(p.host_port.to_string()),
            });
    }
    let exposed: Vec<String> = port_bindings.keys().cloned().collect();
    let host_config = HostConfig {
        init: Some(spec.init),
        privileged: Some(spec.privileged),
        cap_add: (!spec.cap_add.is_empty()).then(|| spec.cap_add.clone()),
        userns_mode: spec.userns_host.then(|| "host".to_string()),
        cgroupns_mode: spec
            .cgroupns_private
            .then_some(HostConfigCgroupnsModeEnum::PRIVATE),
        binds: Some(spec.binds.clone()),
        tmpfs: Some(
            spec.tmpfs
                .iter()
                .map(|t| (t.clone(), String::new()))
                .collect(),
        ),
        port_bindings: Some(port_bindings),
        extra_hosts: Some(spec.extra_hosts.clone()),
        network_mode: Some(spec.network.clone()),
        restart_policy: Some(RestartPolicy {
            name: Some(if spec.restart_unless_stopped {
                RestartPolicyNameEnum::UNLESS_STOPPED
            } else {
                RestartPolicyNameEnum::NO
            }),
            maximum_retry_count: None,
        }),
        ..Default::default()
    };
    let endpoint = EndpointSettings {
        ipam_config: spec.ip.map(|ip| EndpointIpamConfig {
            ipv4_address: Some(ip.to_string()),
            ..Default::default()
        }),
        // Docker's default `bridge` network refuses aliases; user networks need them.
        aliases: (spec.network != "bridge").then(|| vec![spec.hostname.clone()]),
        ..Default::default()
    };
    ContainerCreateBody {
        hostname: Some(spec.hostname.clone()),
        image: Some(spec.image.clone()),
        entrypoint: (!spec.entrypoint.is_empty()).then(|| spec.entrypoint.clone()),
        // No command: the image's own (the cache's registry runs as its image says).
        cmd: (!spec.cmd.is_empty()).then(|| spec.cmd.clone()),
        env: Some(spec.env.clone()),
        labels: Some(spec.labels.clone().into_iter().collect()),
        exposed_ports: Some(exposed),
        host_config: Some(host_config),
        networking_config: Some(NetworkingConfig {
            endpoints_config: Some(HashMap::from([(spec.network.clone(), endpoint)])),
        }),
        ..Default::default()
    }
}

/// A container as `docker inspect` shows it: the full view, with start time and addresses.
pub(super) fn container_info(c: ContainerInspectResponse) -> ContainerInfo {
    let state = c.state.clone().unwrap_or_default();
    let config = c.config.clone().unwrap_or_default();
    let ips = c
        .network_settings
        .as_ref()
        .and_then(|n| n.networks.clone())
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(net, ep)| {
            ep.ip_address
                .filter(|ip| !ip.is_empty())
                .map(|ip| (net, ip))
        })
        .collect();
    let ports = parse_ports(
        c.host_config
            .as_ref()
            .and_then(|h| h.port_bindings.as_ref()),
    );
    ContainerInfo {
        id: c.id.unwrap_or_default(),
        name: c
            .name
            .unwrap_or_default()
            .trim_start_matches('/')
            .to_string(),
        image: config.image.unwrap_or_default(),
        state: RunState::parse(&state.status.map(|s| s.to_string()).unwrap_or_default()),
        labels: config.labels.unwrap_or_default().into_iter().collect(),
        started_at: parse_time(state.started_at.as_deref()),
        finished_at: parse_time(state.finished_at.as_deref()),
        exit_code: state.exit_code,
        restart_count: c.restart_count.unwrap_or(0),
        ips,
        env: config.env.unwrap_or_default(),
        ports,
        cmd: config.cmd.unwrap_or_default(),
        binds: c
            .host_config
            .as_ref()
            .and_then(|h| h.binds.clone())
            .unwrap_or_default(),
        privileged: c
            .host_config
            .as_ref()
            .and_then(|h| h.privileged)
            .unwrap_or(false),
    }
}

/// A container as `docker ps -a` lists it: no start time, addresses or environment.
pub(super) fn container_summary(c: ContainerSummary) -> ContainerInfo {
    ContainerInfo {
        id: c.id.unwrap_or_default(),
        name: c
            .names
            .unwrap_or_default()
            .first()
            .cloned()
            .unwrap_or_default()
            .trim_start_matches('/')
            .to_string(),
        image: c.image.unwrap_or_default(),
        state: RunState::parse(&c.state.map(|s| s.to_string()).unwrap_or_default()),
        labels: c.labels.unwrap_or_default().into_iter().collect(),
        started_at: None,
        finished_at: None,
        exit_code: None,
        restart_count: 0,
        ips: Default::default(),
        env: Vec::new(),
        cmd: Vec::new(),
        binds: Vec::new(),
        privileged: false,
        ports: c
            .ports
            .unwrap_or_default()
            .into_iter()
            .filter_map(|p| {
                Some(PortBinding {
                    host_ip: p.ip?.parse().ok()?,
                    host_port: p.public_port?,
                    container_port: p.private_port,
                    protocol: if p.typ.map(|t| t.to_string()).as_deref() == Some("udp") {
                        "udp"
                    } else {
                        "tcp"
                    },
                })
            })
            .collect(),
    }
}

fn port_key(p: &PortBinding) -> String {
    format!("{}/{}", p.container_port, p.protocol)
}

fn parse_ports(map: Option<&HashMap<String, Option<Vec<DockerPortBinding>>>>) -> Vec<PortBinding> {
    let mut out = Vec::new();
    for (key, bindings) in map.into_iter().flatten() {
        let (port, proto) = key.split_once('/').unwrap_or((key.as_str(), "tcp"));
        let Ok(container_port) = port.parse() else {
            continue;
        };
        for b in bindings.iter().flatten() {
            let (Some(ip), Some(hp)) = (b.host_ip.as_deref(), b.host_port.as_deref()) else {
                continue;
            };
            let (Ok(host_ip), Ok(host_port)) = (ip.parse(), hp.parse()) else {
                continue;
            };
            out.push(PortBinding {
                host_ip,
                host_port,
                container_port,
                protocol: if proto == "udp" { "udp" } else { "tcp" },
            });
        }
    }
    out.sort_by_key(|p| (p.container_port, p.host_port));
    out
}

/// Docker's RFC 3339 time (with nanoseconds) as whole Unix seconds, all `since` needs.
/// Docker writes Go's zero time, `0001-01-01T00:00:00Z`, for "never": that is `None`.
fn parse_time(s: Option<&str>) -> Option<jiff::Timestamp> {
    let s = s?;
    if s.starts_with("0001-") {
        return None;
    }
    s.parse::<jiff::Timestamp>().ok()
}

/// A line of `logs?timestamps=true`: the daemon's stamp (moby
/// `api/server/httputils/write_log_stream.go` writes `RFC3339NanoFixed` and a space before
/// each message) and the text. A line without a stamp we can read (a
/// long line Docker split in parts) keeps its text whole and no time.
pub(super) fn stamped_line(line: String) -> LogLine {
    match line.split_once(' ') {
        Some((stamp, text)) => match stamp.parse::<jiff::Timestamp>() {
            Ok(at) => LogLine {
                at: Some(at),
                text: text.to_string(),
            },
            Err(_) => LogLine {
                at: None,
                text: line,
            },
        },
        None => LogLine {
            at: None,
            text: line,
        },
    }
}

pub(super) fn log_text(chunk: LogOutput) -> String {
    String::from_utf8_lossy(&chunk.into_bytes()).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_times_parse_to_the_nanosecond() {
        let t = parse_time(Some("1970-01-01T00:00:10.5Z")).unwrap();
        assert_eq!((t.as_second(), t.subsec_nanosecond()), (10, 500_000_000));
        let t = parse_time(Some("2026-11-26T07:06:23.123456789Z")).unwrap();
        assert_eq!(
            (t.as_second(), t.subsec_nanosecond()),
            (1795676783, 123_456_789)
        );
        assert_eq!(parse_time(Some("0001-01-01T00:00:00Z")), None);
        assert_eq!(parse_time(Some("yesterday")), None);
        assert_eq!(parse_time(None), None);
    }

    #[test]
    fn a_stamped_log_line_splits_into_its_time_and_text() {
        let l = stamped_line("2026-11-28T12:04:40.218077075Z k3s is up and running".into());
        let at = l.at.unwrap();
        assert_eq!(at.subsec_nanosecond(), 218_077_075);
        assert_eq!(l.text, "k3s is up and running");
        let l = stamped_line("no stamp here".into());
        assert_eq!((l.at, l.text.as_str()), (None, "no stamp here"));
    }
}

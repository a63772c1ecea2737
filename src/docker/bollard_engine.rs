//! [`Engine`] on the real Docker Engine, through bollard.
//!
//! We always call `negotiate_version()`: Debian's engines speak older API versions than
//! bollard's default, and an unnegotiated client fails with "client version too new".

use std::collections::HashMap;
use std::time::Duration;

use bollard::Docker;
use bollard::container::LogOutput;
use bollard::errors::Error as BollardError;
use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::models::{
    ContainerCreateBody, EndpointIpamConfig, EndpointSettings, HostConfig, Ipam, IpamConfig,
    NetworkConnectRequest, NetworkCreateRequest, NetworkDisconnectRequest, NetworkingConfig,
    PortBinding as DockerPortBinding, RestartPolicy, RestartPolicyNameEnum, VolumeCreateRequest,
};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, CreateImageOptionsBuilder, DownloadFromContainerOptionsBuilder,
    InspectContainerOptions, ListContainersOptionsBuilder, ListNetworksOptionsBuilder,
    ListVolumesOptionsBuilder, LogsOptionsBuilder, RemoveContainerOptionsBuilder,
    RemoveVolumeOptions, StopContainerOptionsBuilder, UploadToContainerOptionsBuilder,
};
use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};

use super::*;

/// The real engine.
#[derive(Clone)]
pub struct BollardEngine {
    docker: Docker,
    endpoint: Endpoint,
}

/// What `docker info` and `docker version` say about the engine, in our words (for `doctor`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct HostFacts {
    pub server_version: String,
    pub api_version: String,
    /// `1`, `2`, or empty when the engine does not say (older than API 1.40).
    pub cgroup_version: String,
    pub cgroup_driver: String,
    /// As `docker info` lists them, e.g. `name=seccomp,profile=default`, `name=userns`.
    pub security_options: Vec<String>,
    pub runtimes: Vec<String>,
    pub default_runtime: String,
    pub operating_system: String,
    pub docker_root_dir: String,
    /// The engine host's name (`docker info` Name): `docker-desktop`, `colima`, or a hostname.
    pub name: String,
}

/// What became of a privileged container (see [`BollardEngine::probe_privileged`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrivilegedProbe {
    /// It started; the runtime it ran under (`runc`, or `sysbox-runc` under Docker Desktop's
    /// Enhanced Container Isolation).
    Started { runtime: String },
    /// The engine refused it, in its own words.
    Refused(String),
}

fn is_not_found(e: &BollardError) -> bool {
    matches!(
        e,
        BollardError::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
}

fn label_filters(labels: &[(&str, &str)]) -> HashMap<String, Vec<String>> {
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

impl BollardEngine {
    /// Connect as the docker CLI would (`DOCKER_HOST`, `DOCKER_CONTEXT`, the current context,
    /// the default socket: see [`super::endpoint`]) and negotiate the API version. Fails with
    /// a message that names the endpoint, where it came from, and the fix for that origin.
    pub async fn connect() -> Result<Self, EngineError> {
        Self::connect_to(super::endpoint::resolve_from_env()?).await
    }

    /// Connect to a resolved endpoint.
    pub async fn connect_to(endpoint: Endpoint) -> Result<Self, EngineError> {
        let unreachable = |source| EngineError::Unreachable {
            endpoint: Box::new(endpoint.clone()),
            source,
        };
        // `connect_with_host` dispatches on the scheme (unix, tcp/http, npipe on Windows);
        // the endpoint module has refused the others already.
        let docker = Docker::connect_with_host(&endpoint.host).map_err(unreachable)?;
        let docker = docker.negotiate_version().await.map_err(unreachable)?;
        docker.ping().await.map_err(unreachable)?;
        Ok(BollardEngine { docker, endpoint })
    }

    /// The endpoint this engine was reached at, and where it came from.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// `docker info` and `docker version`, the parts `doctor` judges.
    pub async fn host_facts(&self) -> Result<HostFacts, EngineError> {
        let (info, version) = tokio::try_join!(self.docker.info(), self.docker.version())
            .map_err(|e| EngineError::api("docker info", e))?;
        let mut runtimes: Vec<String> = info.runtimes.unwrap_or_default().into_keys().collect();
        runtimes.sort();
        Ok(HostFacts {
            server_version: version.version.or(info.server_version).unwrap_or_default(),
            api_version: version.api_version.unwrap_or_default(),
            cgroup_version: info
                .cgroup_version
                .map(|v| v.to_string())
                .unwrap_or_default(),
            cgroup_driver: info
                .cgroup_driver
                .map(|v| v.to_string())
                .unwrap_or_default(),
            security_options: info.security_options.unwrap_or_default(),
            runtimes,
            default_runtime: info.default_runtime.unwrap_or_default(),
            operating_system: info.operating_system.unwrap_or_default(),
            docker_root_dir: info.docker_root_dir.unwrap_or_default(),
            name: info.name.unwrap_or_default(),
        })
    }

    /// Create and start a privileged container from `image` (present locally), then remove
    /// it. What it runs does not matter: the engine refuses a privileged container when it
    /// starts it (runc applying the capabilities), not when it creates it.
    pub async fn probe_privileged(&self, image: &str) -> Result<PrivilegedProbe, EngineError> {
        let name = format!("playground-doctor-{}", std::process::id());
        let body = ContainerCreateBody {
            image: Some(image.to_string()),
            entrypoint: Some(vec!["/bin/sh".into()]),
            cmd: Some(vec!["-c".into(), "exit 0".into()]),
            labels: Some(HashMap::from([(
                "playground.doctor".to_string(),
                "probe".to_string(),
            )])),
            host_config: Some(HostConfig {
                privileged: Some(true),
                network_mode: Some("none".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let opts = CreateContainerOptionsBuilder::default().name(&name).build();
        if let Err(e) = self.docker.create_container(Some(opts), body).await {
            return match e {
                BollardError::DockerResponseServerError { message, .. } => {
                    Ok(PrivilegedProbe::Refused(message))
                }
                e => Err(EngineError::api("create the privileged probe", e)),
            };
        }
        let started = self
            .docker
            .start_container(
                &name,
                None::<bollard::query_parameters::StartContainerOptions>,
            )
            .await;
        let runtime = self
            .docker
            .inspect_container(&name, None::<InspectContainerOptions>)
            .await
            .ok()
            .and_then(|c| c.host_config.and_then(|h| h.runtime))
            .unwrap_or_default();
        let removed = self.remove_container(&name).await;
        let outcome = match started {
            Ok(()) => PrivilegedProbe::Started { runtime },
            Err(BollardError::DockerResponseServerError { message, .. }) => {
                PrivilegedProbe::Refused(message)
            }
            Err(e) => return Err(EngineError::api("start the privileged probe", e)),
        };
        removed?;
        Ok(outcome)
    }

    fn network_info(n: bollard::models::NetworkInspect) -> NetworkInfo {
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

fn parse_time(s: Option<&str>) -> Option<i64> {
    // Docker reports RFC 3339 with nanoseconds; whole seconds are all we need for `since`.
    let s = s?;
    if s.starts_with("0001-") {
        return None;
    }
    let date = s.get(0..19)?;
    let (d, t) = date.split_once('T')?;
    let mut dp = d.split('-').map(|x| x.parse::<i64>().ok());
    let (y, m, dd) = (dp.next()??, dp.next()??, dp.next()??);
    let mut tp = t.split(':').map(|x| x.parse::<i64>().ok());
    let (hh, mm, ss) = (tp.next()??, tp.next()??, tp.next()??);
    // Days from civil (Howard Hinnant's algorithm), UTC.
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + dd - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146097 + doe - 719468;
    Some(days * 86400 + hh * 3600 + mm * 60 + ss)
}

impl Engine for BollardEngine {
    async fn ensure_network(&self, spec: &NetworkSpec) -> Result<NetworkInfo, EngineError> {
        if let Some(found) = self.inspect_network(&spec.name).await? {
            return Ok(found);
        }
        let ipam = spec.subnet.as_ref().map(|s| Ipam {
            config: Some(vec![IpamConfig {
                subnet: Some(s.clone()),
                gateway: spec.gateway.clone(),
                ..Default::default()
            }]),
            ..Default::default()
        });
        let req = NetworkCreateRequest {
            name: spec.name.clone(),
            driver: Some("bridge".into()),
            ipam,
            options: Some(HashMap::from([(
                "com.docker.network.bridge.enable_ip_masquerade".to_string(),
                "true".to_string(),
            )])),
            labels: Some(spec.labels.clone().into_iter().collect()),
            ..Default::default()
        };
        match self.docker.create_network(req).await {
            Ok(_) => {}
            // Another `up` of the same lab made it between our look and our create.
            Err(BollardError::DockerResponseServerError {
                status_code: 409, ..
            }) => {}
            Err(e) => return Err(EngineError::api(format!("create network {}", spec.name), e)),
        }
        self.inspect_network(&spec.name).await?.ok_or_else(|| {
            EngineError::api(format!("network {}", spec.name), "vanished after create")
        })
    }

    async fn inspect_network(&self, name: &str) -> Result<Option<NetworkInfo>, EngineError> {
        match self
            .docker
            .inspect_network(
                name,
                None::<bollard::query_parameters::InspectNetworkOptions>,
            )
            .await
        {
            // Docker matches network IDs by prefix too; insist on the exact name.
            Ok(n) if n.name.as_deref() == Some(name) => Ok(Some(Self::network_info(n))),
            Ok(_) => Ok(None),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(EngineError::api(format!("inspect network {name}"), e)),
        }
    }

    async fn list_networks(
        &self,
        labels: &[(&str, &str)],
    ) -> Result<Vec<NetworkInfo>, EngineError> {
        let opts = ListNetworksOptionsBuilder::default()
            .filters(&label_filters(labels))
            .build();
        let nets = self
            .docker
            .list_networks(Some(opts))
            .await
            .map_err(|e| EngineError::api("list networks", e))?;
        Ok(nets
            .into_iter()
            .map(|n| NetworkInfo {
                id: n.id.unwrap_or_default(),
                name: n.name.unwrap_or_default(),
                labels: n.labels.unwrap_or_default().into_iter().collect(),
                subnet: None,
                gateway: None,
            })
            .collect())
    }

    async fn remove_network(&self, name: &str) -> Result<(), EngineError> {
        match self.docker.remove_network(name).await {
            Ok(()) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            Err(e) => Err(EngineError::api(format!("remove network {name}"), e)),
        }
    }

    async fn used_subnets(&self) -> Result<Vec<String>, EngineError> {
        let nets = self
            .docker
            .list_networks(None::<bollard::query_parameters::ListNetworksOptions>)
            .await
            .map_err(|e| EngineError::api("list networks", e))?;
        Ok(nets
            .into_iter()
            .flat_map(|n| n.ipam.and_then(|i| i.config).unwrap_or_default())
            .filter_map(|c| c.subnet)
            .collect())
    }

    async fn connect_network(
        &self,
        network: &str,
        container: &str,
        ip: Option<IpAddr>,
        aliases: &[String],
    ) -> Result<(), EngineError> {
        let req = NetworkConnectRequest {
            container: container.to_string(),
            endpoint_config: Some(EndpointSettings {
                ipam_config: ip.map(|ip| EndpointIpamConfig {
                    ipv4_address: Some(ip.to_string()),
                    ..Default::default()
                }),
                aliases: Some(aliases.to_vec()),
                ..Default::default()
            }),
        };
        match self.docker.connect_network(network, req).await {
            Ok(()) => Ok(()),
            // "endpoint … already exists" / "is already attached": what we asked for.
            Err(BollardError::DockerResponseServerError {
                status_code: 403 | 409,
                message,
            }) if message.contains("already exists") || message.contains("already attached") => {
                Ok(())
            }
            Err(e) => Err(EngineError::api(
                format!("connect {container} to network {network}"),
                e,
            )),
        }
    }

    async fn disconnect_network(&self, network: &str, container: &str) -> Result<(), EngineError> {
        let req = NetworkDisconnectRequest {
            container: container.to_string(),
            force: Some(true),
        };
        match self.docker.disconnect_network(network, req).await {
            Ok(()) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            // Docker answers 403 or 500 for "is not connected to network", by version.
            Err(BollardError::DockerResponseServerError { message, .. })
                if message.contains("not connected") =>
            {
                Ok(())
            }
            Err(e) => Err(EngineError::api(
                format!("disconnect {container} from network {network}"),
                e,
            )),
        }
    }

    async fn ensure_volume(&self, name: &str, labels: &Labels) -> Result<(), EngineError> {
        // Creating a volume that exists is a no-op in Docker, which is what we want.
        let req = VolumeCreateRequest {
            name: Some(name.to_string()),
            driver: Some("local".into()),
            labels: Some(labels.clone().into_iter().collect()),
            ..Default::default()
        };
        self.docker
            .create_volume(req)
            .await
            .map_err(|e| EngineError::api(format!("create volume {name}"), e))?;
        Ok(())
    }

    async fn list_volumes(&self, labels: &[(&str, &str)]) -> Result<Vec<String>, EngineError> {
        let opts = ListVolumesOptionsBuilder::default()
            .filters(&label_filters(labels))
            .build();
        let res = self
            .docker
            .list_volumes(Some(opts))
            .await
            .map_err(|e| EngineError::api("list volumes", e))?;
        Ok(res
            .volumes
            .unwrap_or_default()
            .into_iter()
            .map(|v| v.name)
            .collect())
    }

    async fn remove_volume(&self, name: &str) -> Result<(), EngineError> {
        match self
            .docker
            .remove_volume(name, None::<RemoveVolumeOptions>)
            .await
        {
            Ok(()) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            Err(e) => Err(EngineError::api(format!("remove volume {name}"), e)),
        }
    }

    async fn image_present(&self, image: &str) -> Result<bool, EngineError> {
        match self.docker.inspect_image(image).await {
            Ok(_) => Ok(true),
            Err(e) if is_not_found(&e) => Ok(false),
            Err(e) => Err(EngineError::api(format!("inspect image {image}"), e)),
        }
    }

    async fn pull_image(
        &self,
        image: &str,
        progress: &(dyn Fn(PullProgress) + Send + Sync),
    ) -> Result<(), EngineError> {
        let (repo, tag) = split_reference(image);
        let opts = CreateImageOptionsBuilder::default()
            .from_image(repo)
            .tag(tag)
            .build();
        let mut stream = self.docker.create_image(Some(opts), None, None);
        let fail = |message: String| EngineError::Pull {
            image: image.to_string(),
            registry: registry_of(image).to_string(),
            message,
        };
        while let Some(item) = stream.next().await {
            let info = item.map_err(|e| fail(e.to_string()))?;
            if let Some(err) = info.error_detail.and_then(|d| d.message) {
                return Err(fail(err));
            }
            let detail = info.progress_detail.unwrap_or_default();
            progress(PullProgress {
                layer: info.id,
                status: info.status.unwrap_or_default(),
                current: detail.current.and_then(|c| u64::try_from(c).ok()),
                total: detail.total.and_then(|c| u64::try_from(c).ok()),
            });
        }
        Ok(())
    }

    async fn create_container(&self, spec: &ContainerSpec) -> Result<String, EngineError> {
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
        let body = ContainerCreateBody {
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
        };
        let opts = CreateContainerOptionsBuilder::default()
            .name(&spec.name)
            .build();
        let res = self
            .docker
            .create_container(Some(opts), body)
            .await
            .map_err(|e| EngineError::api(format!("create container {}", spec.name), e))?;
        Ok(res.id)
    }

    async fn inspect_container(&self, name: &str) -> Result<Option<ContainerInfo>, EngineError> {
        let c = match self
            .docker
            .inspect_container(name, None::<InspectContainerOptions>)
            .await
        {
            Ok(c) => c,
            Err(e) if is_not_found(&e) => return Ok(None),
            Err(e) => return Err(EngineError::api(format!("inspect container {name}"), e)),
        };
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
        Ok(Some(ContainerInfo {
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
            exit_code: state.exit_code,
            restart_count: c.restart_count.unwrap_or(0),
            ips,
            env: config.env.unwrap_or_default(),
            ports,
        }))
    }

    async fn list_containers(
        &self,
        labels: &[(&str, &str)],
    ) -> Result<Vec<ContainerInfo>, EngineError> {
        let opts = ListContainersOptionsBuilder::default()
            .all(true)
            .filters(&label_filters(labels))
            .build();
        let list = self
            .docker
            .list_containers(Some(opts))
            .await
            .map_err(|e| EngineError::api("list containers", e))?;
        Ok(list
            .into_iter()
            .map(|c| ContainerInfo {
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
                exit_code: None,
                restart_count: 0,
                ips: Default::default(),
                env: Vec::new(),
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
            })
            .collect())
    }

    async fn start(&self, name: &str) -> Result<(), EngineError> {
        match self
            .docker
            .start_container(
                name,
                None::<bollard::query_parameters::StartContainerOptions>,
            )
            .await
        {
            Ok(()) => Ok(()),
            // 304: already started.
            Err(BollardError::DockerResponseServerError {
                status_code: 304, ..
            }) => Ok(()),
            Err(e) => Err(EngineError::api(format!("start {name}"), e)),
        }
    }

    async fn stop(&self, name: &str, grace: Duration) -> Result<(), EngineError> {
        let opts = StopContainerOptionsBuilder::default()
            .t(grace.as_secs().try_into().unwrap_or(i32::MAX))
            .build();
        match self.docker.stop_container(name, Some(opts)).await {
            Ok(()) => Ok(()),
            Err(BollardError::DockerResponseServerError {
                status_code: 304, ..
            }) => Ok(()),
            Err(e) => Err(EngineError::api(format!("stop {name}"), e)),
        }
    }

    async fn pause(&self, name: &str) -> Result<(), EngineError> {
        self.docker
            .pause_container(name)
            .await
            .map_err(|e| EngineError::api(format!("pause {name}"), e))
    }

    async fn unpause(&self, name: &str) -> Result<(), EngineError> {
        self.docker
            .unpause_container(name)
            .await
            .map_err(|e| EngineError::api(format!("unpause {name}"), e))
    }

    async fn remove_container(&self, name: &str) -> Result<(), EngineError> {
        let opts = RemoveContainerOptionsBuilder::default()
            .force(true)
            .v(true)
            .build();
        match self.docker.remove_container(name, Some(opts)).await {
            Ok(()) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            // 409 "removal already in progress": another drop got there first.
            Err(BollardError::DockerResponseServerError {
                status_code: 409, ..
            }) => Ok(()),
            Err(e) => Err(EngineError::api(format!("remove container {name}"), e)),
        }
    }

    fn follow_logs(
        &self,
        name: &str,
        since: i64,
    ) -> BoxStream<'static, Result<String, EngineError>> {
        self.log_lines(name, since, true)
    }

    fn log_lines(
        &self,
        name: &str,
        since: i64,
        follow: bool,
    ) -> BoxStream<'static, Result<String, EngineError>> {
        let opts = LogsOptionsBuilder::default()
            .follow(follow)
            .stdout(true)
            .stderr(true)
            // bollard's `since` is an i32: a time past 2038 is clamped, not read as 0 (all).
            .since(since.clamp(0, i64::from(i32::MAX)) as i32)
            .build();
        let what = format!("logs of {name}");
        self.docker
            .logs(name, Some(opts))
            .map_ok(log_text)
            .map_err(move |e| EngineError::api(what.clone(), e))
            .map(Some)
            // `None` marks the end, where a last line without a newline is let out.
            .chain(futures::stream::once(futures::future::ready(None)))
            // Chunks are not lines: split and re-join across chunk boundaries.
            .scan(String::new(), |pending, item| {
                let out = match item {
                    Some(Ok(text)) => {
                        pending.push_str(&text);
                        let mut lines = Vec::new();
                        while let Some(i) = pending.find('\n') {
                            lines.push(Ok(pending[..i].to_string()));
                            pending.drain(..=i);
                        }
                        lines
                    }
                    Some(Err(e)) => vec![Err(e)],
                    None if pending.is_empty() => Vec::new(),
                    None => vec![Ok(std::mem::take(pending))],
                };
                futures::future::ready(Some(futures::stream::iter(out)))
            })
            .flatten()
            .boxed()
    }

    async fn inspect_json(&self, name: &str) -> Result<Option<serde_json::Value>, EngineError> {
        match self
            .docker
            .inspect_container(name, None::<InspectContainerOptions>)
            .await
        {
            Ok(c) => serde_json::to_value(c)
                .map(Some)
                .map_err(|e| EngineError::api(format!("inspect container {name}"), e)),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(EngineError::api(format!("inspect container {name}"), e)),
        }
    }

    async fn tail_logs(&self, name: &str, lines: usize) -> Result<String, EngineError> {
        let opts = LogsOptionsBuilder::default()
            .stdout(true)
            .stderr(true)
            .tail(&lines.to_string())
            .build();
        let chunks: Vec<LogOutput> = self
            .docker
            .logs(name, Some(opts))
            .try_collect()
            .await
            .map_err(|e| EngineError::api(format!("logs of {name}"), e))?;
        Ok(chunks.into_iter().map(log_text).collect())
    }

    async fn read_file(&self, name: &str, path: &str) -> Result<Vec<u8>, EngineError> {
        let opts = DownloadFromContainerOptionsBuilder::default()
            .path(path)
            .build();
        let what = format!("read {path} from {name}");
        let bytes: Vec<u8> = self
            .docker
            .download_from_container(name, Some(opts))
            .map_ok(|b| b.to_vec())
            .try_concat()
            .await
            .map_err(|e| EngineError::api(what.clone(), e))?;
        // The archive API answers with a tar stream; read it as one, not by skipping headers.
        let mut archive = tar::Archive::new(bytes.as_slice());
        let entries = archive
            .entries()
            .map_err(|e| EngineError::api(what.clone(), e))?;
        for entry in entries {
            let mut entry = entry.map_err(|e| EngineError::api(what.clone(), e))?;
            if entry.header().entry_type().is_file() {
                let mut out = Vec::new();
                std::io::Read::read_to_end(&mut entry, &mut out)
                    .map_err(|e| EngineError::api(what.clone(), e))?;
                return Ok(out);
            }
        }
        Err(EngineError::api(what, "the archive holds no regular file"))
    }

    async fn write_file(
        &self,
        name: &str,
        path: &str,
        content: &[u8],
        mode: u32,
    ) -> Result<(), EngineError> {
        let what = format!("write {path} into {name}");
        // One entry, relative to `/`: the engine creates missing parent directories.
        let mut header = tar::Header::new_gnu();
        header.set_size(content.len() as u64);
        header.set_mode(mode);
        header.set_mtime(unix_now());
        let mut tar = tar::Builder::new(Vec::new());
        tar.append_data(&mut header, path.trim_start_matches('/'), content)
            .map_err(|e| EngineError::api(what.clone(), e))?;
        let tar = tar
            .into_inner()
            .map_err(|e| EngineError::api(what.clone(), e))?;
        let opts = UploadToContainerOptionsBuilder::default().path("/").build();
        self.docker
            .upload_to_container(name, Some(opts), bollard::body_full(Bytes::from(tar)))
            .await
            .map_err(|e| EngineError::api(what, e))
    }

    async fn upload_file(
        &self,
        name: &str,
        source: &std::path::Path,
        dir: &str,
        file_name: &str,
    ) -> Result<(), EngineError> {
        let what = format!("copy {} into {name}:{dir}", source.display());
        let io = |e: std::io::Error| EngineError::api(what.clone(), e);
        let file = tokio::fs::File::open(source).await.map_err(io)?;
        let size = file.metadata().await.map_err(io)?.len();
        // A tar of one entry, built around the file as it streams: header, content, padding
        // to a 512-byte block, then the two empty blocks that end an archive.
        let mut header = tar::Header::new_gnu();
        header.set_path(file_name).map_err(io)?;
        header.set_size(size);
        header.set_mode(0o600);
        header.set_mtime(unix_now());
        header.set_entry_type(tar::EntryType::Regular);
        header.set_cksum();
        let head = Bytes::copy_from_slice(header.as_bytes());
        let pad = ((512 - size % 512) % 512) as usize;
        let tail = Bytes::from(vec![0u8; pad + 1024]);
        let content = futures::stream::try_unfold(file, |mut file| async move {
            let mut buf = vec![0u8; 1 << 20];
            let n = tokio::io::AsyncReadExt::read(&mut file, &mut buf).await?;
            if n == 0 {
                return Ok(None);
            }
            buf.truncate(n);
            Ok(Some((Bytes::from(buf), file)))
        });
        let body = futures::stream::once(async move { Ok(head) })
            .chain(content)
            .chain(futures::stream::once(async move { Ok(tail) }));
        let opts = UploadToContainerOptionsBuilder::default().path(dir).build();
        self.docker
            .upload_to_container(name, Some(opts), bollard::body_try_stream(body))
            .await
            .map_err(|e| EngineError::api(what.clone(), e))
    }

    async fn export_images(
        &self,
        images: &[String],
        dest: &std::path::Path,
    ) -> Result<u64, EngineError> {
        let what = format!("export {} from Docker", images.join(", "));
        let names: Vec<&str> = images.iter().map(String::as_str).collect();
        let mut file = tokio::fs::File::create(dest)
            .await
            .map_err(|e| EngineError::api(what.clone(), e))?;
        let mut stream = self.docker.export_images(&names);
        let mut size = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| EngineError::api(what.clone(), e))?;
            size += chunk.len() as u64;
            tokio::io::AsyncWriteExt::write_all(&mut file, &chunk)
                .await
                .map_err(|e| EngineError::api(what.clone(), e))?;
        }
        tokio::io::AsyncWriteExt::flush(&mut file)
            .await
            .map_err(|e| EngineError::api(what, e))?;
        Ok(size)
    }

    async fn exec(&self, name: &str, cmd: &[&str]) -> Result<(i64, String), EngineError> {
        let what = format!("exec in {name}");
        let exec = self
            .docker
            .create_exec(
                name,
                CreateExecOptions {
                    cmd: Some(cmd.iter().map(|s| s.to_string()).collect()),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| EngineError::api(what.clone(), e))?;
        let mut output = String::new();
        if let StartExecResults::Attached {
            output: mut stream, ..
        } = self
            .docker
            .start_exec(&exec.id, None)
            .await
            .map_err(|e| EngineError::api(what.clone(), e))?
        {
            while let Some(chunk) = stream.next().await {
                output.push_str(&log_text(
                    chunk.map_err(|e| EngineError::api(what.clone(), e))?,
                ));
            }
        }
        let inspect = self
            .docker
            .inspect_exec(&exec.id)
            .await
            .map_err(|e| EngineError::api(what.clone(), e))?;
        Ok((inspect.exit_code.unwrap_or(-1), output))
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn log_text(chunk: LogOutput) -> String {
    String::from_utf8_lossy(&chunk.into_bytes()).into_owned()
}

/// Split `repo[:tag][@digest]` into what the create-image endpoint wants.
fn split_reference(image: &str) -> (&str, &str) {
    if image.contains('@') {
        return (image, "");
    }
    match image.rsplit_once(':') {
        // A ':' inside the registry host (`host:5000/repo`) is not a tag separator.
        Some((repo, tag)) if !tag.contains('/') => (repo, tag),
        _ => (image, "latest"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_split_at_the_tag_not_the_registry_port() {
        assert_eq!(
            split_reference("rancher/k3s:v1.35.5-k3s1"),
            ("rancher/k3s", "v1.35.5-k3s1")
        );
        assert_eq!(
            split_reference("localhost:5000/x"),
            ("localhost:5000/x", "latest")
        );
        assert_eq!(
            split_reference("localhost:5000/x:1"),
            ("localhost:5000/x", "1")
        );
        assert_eq!(registry_of("rancher/k3s:v1"), "docker.io");
        assert_eq!(registry_of("ghcr.io/a/b:1"), "ghcr.io");
    }

    #[test]
    fn docker_times_parse_to_unix_seconds() {
        assert_eq!(parse_time(Some("1970-01-01T00:00:10.5Z")), Some(10));
        assert_eq!(
            parse_time(Some("2026-11-26T07:06:23.123456789Z")),
            Some(1795676783)
        );
        assert_eq!(parse_time(Some("0001-01-01T00:00:00Z")), None);
    }
}

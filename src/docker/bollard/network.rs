//! Networks: find-or-create by exact name, list by label, attach and detach containers.

use std::collections::HashMap;
use std::net::IpAddr;

use ::bollard::Docker;
use ::bollard::errors::Error as BollardError;
use ::bollard::models::{
    EndpointIpamConfig, EndpointSettings, Ipam, IpamConfig, NetworkConnectRequest,
    NetworkCreateRequest, NetworkDisconnectRequest,
};
use ::bollard::query_parameters::{
    InspectNetworkOptions, ListNetworksOptions, ListNetworksOptionsBuilder,
};

use super::error::{failed, is_not_found};
use super::translate::{label_filters, network_info};
use crate::docker::{EngineError, NetworkInfo, NetworkSpec};

pub(super) async fn ensure(
    docker: &Docker,
    spec: &NetworkSpec,
) -> Result<NetworkInfo, EngineError> {
    if let Some(found) = inspect(docker, &spec.name).await? {
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
    let created = match docker.create_network(req).await {
        Ok(answer) => Some(answer.id),
        // Another `up` of the same lab made it between our look and our create.
        Err(BollardError::DockerResponseServerError {
            status_code: 409, ..
        }) => None,
        Err(e) => return Err(failed(format!("create network {}", spec.name), e)),
    };
    // The one we made, by its ID: Docker's duplicate check is racy, and a command killed
    // while its create was in flight can leave a second network of the same name, which
    // makes a look by name ambiguous (`drop` removes every one with the lab's label).
    let found = match created {
        Some(id) => inspect(docker, &id)
            .await
            .ok()
            .flatten()
            .filter(|n| n.name == spec.name),
        None => None,
    };
    match found {
        Some(n) => Ok(n),
        None => inspect(docker, &spec.name)
            .await?
            .ok_or_else(|| failed(format!("network {}", spec.name), "vanished after create")),
    }
}

pub(super) async fn inspect(
    docker: &Docker,
    name: &str,
) -> Result<Option<NetworkInfo>, EngineError> {
    match docker
        .inspect_network(name, None::<InspectNetworkOptions>)
        .await
    {
        // Docker matches network IDs by prefix too; insist on the exact name (or ID).
        Ok(n) if n.name.as_deref() == Some(name) || n.id.as_deref() == Some(name) => {
            Ok(Some(network_info(n)))
        }
        Ok(_) => Ok(None),
        Err(e) if is_not_found(&e) => Ok(None),
        // Two networks of this name (see `ensure`): the oldest is the lab's, by its ID. The
        // daemon answers a name with several matches "N matches found based on name" as an
        // invalid parameter, 400 (moby `api/server/router/network/network_routes.go`,
        // `getNetwork`, `ambiguousResultsError`).
        Err(BollardError::DockerResponseServerError {
            status_code: 400,
            message,
        }) if message.contains("ambiguous") => {
            let opts = ListNetworksOptionsBuilder::default()
                .filters(&HashMap::from([("name", vec![name])]))
                .build();
            let mut same: Vec<_> = docker
                .list_networks(Some(opts))
                .await
                .map_err(|e| failed(format!("list networks named {name}"), e))?
                .into_iter()
                .filter(|n| n.name.as_deref() == Some(name))
                .collect();
            same.sort_by(|a, b| a.created.cmp(&b.created));
            let Some(id) = same.first().and_then(|n| n.id.clone()) else {
                return Ok(None);
            };
            match docker
                .inspect_network(&id, None::<InspectNetworkOptions>)
                .await
            {
                Ok(n) => Ok(Some(network_info(n))),
                Err(e) if is_not_found(&e) => Ok(None),
                Err(e) => Err(failed(format!("inspect network {name}"), e)),
            }
        }
        Err(e) => Err(failed(format!("inspect network {name}"), e)),
    }
}

pub(super) async fn list(
    docker: &Docker,
    labels: &[(&str, &str)],
) -> Result<Vec<NetworkInfo>, EngineError> {
    let opts = ListNetworksOptionsBuilder::default()
        .filters(&label_filters(labels))
        .build();
    let nets = docker
        .list_networks(Some(opts))
        .await
        .map_err(|e| failed("list networks", e))?;
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

pub(super) async fn remove(docker: &Docker, name: &str) -> Result<(), EngineError> {
    match docker.remove_network(name).await {
        Ok(()) => Ok(()),
        Err(e) if is_not_found(&e) => Ok(()),
        Err(e) => Err(failed(format!("remove network {name}"), e)),
    }
}

pub(super) async fn used_subnets(docker: &Docker) -> Result<Vec<String>, EngineError> {
    let nets = docker
        .list_networks(None::<ListNetworksOptions>)
        .await
        .map_err(|e| failed("list networks", e))?;
    Ok(nets
        .into_iter()
        .flat_map(|n| n.ipam.and_then(|i| i.config).unwrap_or_default())
        .filter_map(|c| c.subnet)
        .collect())
}

pub(super) async fn connect(
    docker: &Docker,
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
    match docker.connect_network(network, req).await {
        Ok(()) => Ok(()),
        // "endpoint … already exists" / "is already attached": what we asked for.
        Err(BollardError::DockerResponseServerError {
            status_code: 403 | 409,
            message,
        }) if message.contains("already exists") || message.contains("already attached") => Ok(()),
        Err(e) => Err(failed(
            format!("connect {container} to network {network}"),
            e,
        )),
    }
}

pub(super) async fn disconnect(
    docker: &Docker,
    network: &str,
    container: &str,
) -> Result<(), EngineError> {
    let req = NetworkDisconnectRequest {
        container: container.to_string(),
        force: Some(true),
    };
    match docker.disconnect_network(network, req).await {
        Ok(()) => Ok(()),
        Err(e) if is_not_found(&e) => Ok(()),
        // Docker answers 403 or 500 for "is not connected to network", by version.
        Err(BollardError::DockerResponseServerError { message, .. })
            if message.contains("not connected") =>
        {
            Ok(())
        }
        Err(e) => Err(failed(
            format!("disconnect {container} from network {network}"),
            e,
        )),
    }
}

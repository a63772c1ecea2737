//! `suspend`, `resume` and `drop`: acting on a lab found by its labels.

use std::time::Duration;

use futures::future::try_join_all;
use tokio::time::Instant;

use crate::config::{LabName, Role};
use crate::docker::{ContainerInfo, Engine, NetworkInfo, RunState};
use crate::kube::api::NodeReady;
use crate::ui::Ui;

use super::cluster_api::{ClusterApi, Connect};
use super::error::{ClusterError as Error, Result};
use super::k3s::ready_line;
use super::names;
use super::node_kubeconfig::fetch_kubeconfig;
use super::readiness;

/// How long a node gets to stop before Docker kills it. k3s drains and flushes on SIGTERM.
pub(crate) const STOP_GRACE: Duration = Duration::from_secs(20);

fn role_of(c: &ContainerInfo) -> Option<Role> {
    match c.labels.get(names::LABEL_ROLE).map(String::as_str) {
        Some("server") => Some(Role::Server),
        Some("agent") => Some(Role::Agent),
        Some("loadbalancer") => Some(Role::LoadBalancer),
        _ => None,
    }
}

fn index_of(c: &ContainerInfo) -> u32 {
    c.labels
        .get(names::LABEL_INDEX)
        .and_then(|i| i.parse().ok())
        .unwrap_or(0)
}

async fn nodes_of<E: Engine>(engine: &E, lab: &LabName) -> Result<Vec<ContainerInfo>> {
    let mut nodes: Vec<ContainerInfo> = engine
        .list_containers(&[(names::LABEL_CLUSTER, lab)])
        .await?
        .into_iter()
        .filter(|c| role_of(c).is_some())
        .collect();
    if nodes.is_empty() {
        return Err(Error::NotFound(lab.to_string()));
    }
    nodes.sort_by_key(|c| (role_of(c), index_of(c)));
    Ok(nodes)
}

/// Stop (or with `pause`, freeze) every node: load balancer and agents first, servers last,
/// so agents do not spend the stop reconnecting. Already stopped nodes are left as they are.
pub(crate) async fn suspend<E: Engine>(
    engine: &E,
    lab: &LabName,
    pause: bool,
    ui: &Ui,
) -> Result<()> {
    let nodes = nodes_of(engine, lab).await?;
    let (servers, others): (Vec<_>, Vec<_>) =
        nodes.iter().partition(|c| role_of(c) == Some(Role::Server));
    for group in [others, servers] {
        try_join_all(group.into_iter().map(|c| async move {
            match (pause, c.state) {
                (true, RunState::Running) => {
                    let s = ui.step(format!("pause {}", c.name));
                    engine.pause(&c.name).await?;
                    s.done();
                }
                (false, RunState::Running | RunState::Restarting) => {
                    let s = ui.step(format!("stop {}", c.name));
                    engine.stop(&c.name, STOP_GRACE).await?;
                    s.done();
                }
                (false, RunState::Paused) => {
                    // A frozen process cannot handle SIGTERM: thaw it first, then stop it.
                    let s = ui.step(format!("stop {}", c.name));
                    engine.unpause(&c.name).await?;
                    engine.stop(&c.name, STOP_GRACE).await?;
                    s.done();
                }
                _ => {}
            }
            Ok::<_, Error>(())
        }))
        .await?;
    }
    Ok(())
}

/// Bring a suspended or paused lab back: servers first (all started, then each awaited by
/// its log line), then agents together, then the API and every node Ready. Repairs what a restart loses.
/// Any API connector will do (kube-rs for real, a fake in scenarios).
pub(crate) async fn resume_with<E: Engine, C: Connect>(
    engine: &E,
    connect: &C,
    lab: &LabName,
    timeout: Duration,
    ui: &Ui,
) -> Result<Vec<NodeReady>> {
    let deadline = Instant::now() + timeout;
    // A lab missing a node or its network cannot come back whole by starting what is there:
    // say what is missing instead of reporting "Ready" for less than the lab is.
    if let Some(summary) = super::inventory::status(engine, lab).await?
        && !summary.missing.is_empty()
    {
        return Err(Error::Partial {
            lab: lab.to_string(),
            missing: summary.missing.join(", "),
        });
    }
    let nodes = nodes_of(engine, lab).await?;
    let paused: Vec<&ContainerInfo> = nodes
        .iter()
        .filter(|c| c.state == RunState::Paused)
        .collect();
    try_join_all(paused.iter().map(|c| async move {
        let s = ui.step(format!("unpause {}", c.name));
        engine.unpause(&c.name).await?;
        s.done();
        Ok::<_, Error>(())
    }))
    .await?;

    let stopped = |role: Role| -> Vec<&ContainerInfo> {
        nodes
            .iter()
            .filter(|c| {
                role_of(c) == Some(role) && !matches!(c.state, RunState::Running | RunState::Paused)
            })
            .collect()
    };
    // Every stopped server starts before any is awaited: a restarted etcd member logs
    // "k3s is up and running" only once its etcd is ready (k3s `pkg/cli/server/server.go`
    // waits on `ETCDReady`; `pkg/daemons/control/server.go` logs "Waiting for etcd server to
    // become available" until then), and that needs a quorum of the members (F2). The agents
    // and the load balancer start right after the servers' containers, while the servers
    // boot: agents retry their join until a server answers (k3s `pkg/agent/run.go`), and the
    // load balancer's upstreams are static addresses. Only the servers' `docker start` goes
    // first: the Docker Engine starts containers one after another, and the servers are on
    // the way to the API. So the lab is back after its slowest node, not after the sum.
    let servers: Vec<_> = stopped(Role::Server)
        .into_iter()
        .map(|c| (c, Role::Server, ui.step(format!("start {}", c.name))))
        .collect();
    let others: Vec<_> = [Role::Agent, Role::LoadBalancer]
        .into_iter()
        .flat_map(|role| stopped(role).into_iter().map(move |c| (c, role)))
        .map(|(c, role)| (c, role, ui.step(format!("start {}", c.name))))
        .collect();
    let servers = start_each(engine, servers).await?;
    tokio::try_join!(await_each(engine, ui, servers, deadline), async {
        let others = start_each(engine, others).await?;
        await_each(engine, ui, others, deadline).await
    })?;
    repair_ips(engine, lab, &nodes).await?;

    let server0 = nodes
        .iter()
        .find(|c| role_of(c) == Some(Role::Server) && index_of(c) == 0);
    let api_url = nodes.iter().find_map(|c| {
        let host: std::net::IpAddr = c.labels.get(names::LABEL_API_HOST)?.parse().ok()?;
        Some(format!(
            "https://{}:{}",
            crate::lab::client_host(host),
            c.labels.get(names::LABEL_API_PORT)?
        ))
    });
    let (Some(_), Some(api_url)) = (server0, api_url) else {
        return Err(Error::NoServer0(lab.to_string()));
    };
    let s = ui.step("wait for the API and Ready nodes");
    let text = fetch_kubeconfig(engine, lab, &api_url, deadline).await?;
    let api = connect.connect(&text).await?;
    let expected = nodes
        .iter()
        .filter(|c| role_of(c) != Some(Role::LoadBalancer))
        .count();
    let ready = async {
        let ready = api
            .wait_ready(&api_url, expected, expected, deadline, &|d| s.set_detail(d))
            .await?;
        ensure_host_record(engine, &api, lab).await?;
        Ok::<_, Error>(ready)
    }
    .await;
    match &ready {
        Ok(_) => s.done(),
        Err(_) => s.fail(),
    }
    ready
}

/// A stopped node `resume` starts again, with its progress line.
type Restart<'a> = (&'a ContainerInfo, Role, crate::ui::Step);

/// `docker start` each node at once, with where its run begins in its log.
async fn start_each<'a, E: Engine>(
    engine: &E,
    nodes: Vec<Restart<'a>>,
) -> Result<Vec<(Restart<'a>, readiness::RunStart)>> {
    match try_join_all(
        nodes
            .iter()
            .map(|(c, _, _)| readiness::start(engine, &c.name)),
    )
    .await
    {
        Ok(runs) => Ok(nodes.into_iter().zip(runs).collect()),
        Err(e) => {
            nodes.into_iter().for_each(|(_, _, s)| s.fail());
            Err(e.into())
        }
    }
}

/// Wait for each node's ready line in the run that began with its start, all at once.
async fn await_each<E: Engine>(
    engine: &E,
    ui: &Ui,
    nodes: Vec<(Restart<'_>, readiness::RunStart)>,
    deadline: Instant,
) -> Result<()> {
    try_join_all(nodes.into_iter().map(|((c, role, s), run)| async move {
        let r =
            readiness::wait_for_log(engine, &c.name, ready_line(role, false), run, deadline).await;
        match &r {
            Ok(said) => {
                s.done();
                readiness::warn_entrypoint(ui, &c.name, said);
            }
            Err(_) => s.fail(),
        }
        r
    }))
    .await?;
    Ok(())
}

/// Give pods the address the nodes have for `host.playground.internal`, through CoreDNS.
/// Nodes get it from Docker (`ExtraHosts` with `host-gateway`, which Docker resolves to the
/// host: the bridge gateway on Linux, the real host on Docker Desktop); CoreDNS gets the very
/// address Docker wrote into a node's /etc/hosts. Done on every `up` and `resume`, because
/// the address can change with the network or the daemon's settings.
pub(crate) async fn ensure_host_record<E: Engine, A: ClusterApi>(
    engine: &E,
    api: &A,
    lab: &LabName,
) -> Result<()> {
    let address = node_host_address(engine, lab).await?;
    api.ensure_host_record(names::HOST_ALIAS, &address)
        .await
        .map_err(|source| Error::HostRecord {
            host: names::HOST_ALIAS,
            configmap: crate::kube::api::COREDNS_CUSTOM,
            source,
        })
}

/// The address Docker wrote for [`names::HOST_ALIAS`] in a running node's /etc/hosts; the lab
/// network's gateway when no node has the entry (a node made by an older playground without
/// `ExtraHosts`).
async fn node_host_address<E: Engine>(engine: &E, lab: &LabName) -> Result<String> {
    let nodes = nodes_of(engine, lab).await?;
    for c in nodes
        .iter()
        .filter(|c| c.state == RunState::Running && role_of(c) != Some(Role::LoadBalancer))
    {
        if let Ok(bytes) = engine.read_file(&c.name, "/etc/hosts").await
            && let Some(ip) = hosts_address(&String::from_utf8_lossy(&bytes), names::HOST_ALIAS)
        {
            return Ok(ip);
        }
    }
    let net = names::network(lab);
    engine
        .inspect_network(&net)
        .await?
        .and_then(|n| n.gateway)
        .ok_or(Error::NoHostAddress {
            host: names::HOST_ALIAS,
            network: net,
        })
}

/// The address of `host` in an /etc/hosts text (the last entry wins, as Docker appends).
pub(crate) fn hosts_address(hosts: &str, host: &str) -> Option<String> {
    hosts
        .lines()
        .rev()
        .map(|l| l.split('#').next().unwrap_or_default())
        .find_map(|l| {
            let mut words = l.split_whitespace();
            let ip = words.next()?;
            words.any(|w| w == host).then(|| ip.to_string())
        })
}

/// Nodes carry static addresses; a node whose address changed (its network was recreated
/// under it) cannot rejoin embedded etcd. Say which one, and how to repair.
async fn repair_ips<E: Engine>(engine: &E, lab: &LabName, nodes: &[ContainerInfo]) -> Result<()> {
    let net = names::network(lab);
    let Some(info) = engine.inspect_network(&net).await? else {
        return Err(Error::NetworkGone(net));
    };
    for c in nodes {
        let Some(now) = engine.inspect_container(&c.name).await? else {
            continue;
        };
        if !now.ips.contains_key(&info.name) {
            return Err(Error::Detached {
                node: c.name.clone(),
                network: net,
                lab: lab.to_string(),
            });
        }
    }
    Ok(())
}

/// Remove every container, network and volume labelled with the lab, leaving the shared image
/// caches (which carry no lab label) to the other labs. Works on half-made
/// labs and without any local state. It repeats until a pass finds nothing: a container whose
/// create was in flight when an interrupted `up` began its rollback appears only later.
pub(crate) async fn remove_objects<E: Engine>(engine: &E, lab: &LabName) -> Result<usize> {
    let mut removed = 0;
    let mut quiet_passes = 0;
    for _ in 0..20 {
        let mut found = 0;
        let containers = engine
            .list_containers(&[(names::LABEL_CLUSTER, lab)])
            .await?;
        try_join_all(containers.iter().map(|c| engine.remove_container(&c.name))).await?;
        found += containers.len();
        for n in engine.list_networks(&[(names::LABEL_CLUSTER, lab)]).await? {
            // The shared image caches are attached but not the lab's: detach, never remove.
            super::cache::detach_all(engine, &n).await?;
            // So are the API containers of this lab's spokes (`argocd.clusters`): they stay,
            // running, and leave the network.
            detach_other_labs(engine, lab, &n).await?;
            // By ID, not name: two `up`s racing (before the lab lock existed) could leave two
            // networks of one name, which Docker then refuses to resolve by name.
            engine.remove_network(&n.id).await?;
            found += 1;
        }
        for v in engine.list_volumes(&[(names::LABEL_CLUSTER, lab)]).await? {
            engine.remove_volume(&v).await?;
            found += 1;
        }
        removed += found;
        quiet_passes = if found == 0 { quiet_passes + 1 } else { 0 };
        if quiet_passes == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    Ok(removed)
}

/// Detach the nodes of other labs from `lab`'s network: a hub's network holds its spokes' API
/// containers, and Docker refuses to remove a network with endpoints.
async fn detach_other_labs<E: Engine>(
    engine: &E,
    lab: &LabName,
    network: &NetworkInfo,
) -> Result<()> {
    for c in engine
        .list_containers(&[(names::LABEL_CLUSTER, "")])
        .await?
    {
        if c.labels.get(names::LABEL_CLUSTER).is_some_and(|l| l == lab) {
            continue;
        }
        let attached = engine
            .inspect_container(&c.name)
            .await?
            .is_some_and(|i| i.ips.contains_key(&network.name));
        if attached {
            engine.disconnect_network(&network.id, &c.name).await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::hosts_address;

    #[test]
    fn the_host_address_is_read_from_etc_hosts() {
        let hosts = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost\n# 10.0.0.9 host.playground.internal\n192.168.65.254\thost.playground.internal\n172.28.0.2\tplayground-lab-server-0\n";
        assert_eq!(
            hosts_address(hosts, "host.playground.internal").as_deref(),
            Some("192.168.65.254")
        );
        assert_eq!(hosts_address(hosts, "host.docker.internal"), None);
        // A name that only starts like the alias is not the alias.
        assert_eq!(
            hosts_address(
                "10.1.1.1 host.playground.internal.x\n",
                "host.playground.internal"
            ),
            None
        );
    }
}

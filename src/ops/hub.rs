//! Hubs and spokes over a lab's life cycle (see [`crate::argocd::hub`] for what a registration
//! is):
//! - `up` of a hub registers every spoke that exists and runs, says how to make one that does
//!   not, and forgets the clusters its file no longer names;
//! - `up` (and `restore`) of a spoke registers it with every hub whose record names it;
//! - `drop` of a spoke removes its registration from its hubs;
//! - `drop` of a hub leaves its spokes running and clean: detached from the hub's network, and
//!   without the manager account unless another hub still names them.
//!
//! Hubs are found from the labs' records (`state::record`), which hold each lab file. A
//! registration that fails is a warning: the lab itself is whole, and the next `up` of either
//! side does it again (every step is idempotent).

use crate::argocd::hub::{self, Credentials};
use crate::argocd::reach::{self, Reach, Target};
use crate::cluster::inventory::{LabState, LabSummary};
use crate::cluster::names;
use crate::config::{ClusterRef, Lab, LabName, Role};
use crate::docker::Engine;
use crate::kube::api::KubeApi;
use crate::state::record;

use super::{Env, Kube, OpsError, Result};

/// The labs on record, not dropped, whose `argocd.clusters` names `spoke`, other than itself.
pub(crate) fn hubs_of(spoke: &LabName) -> Vec<Lab> {
    record::list()
        .into_iter()
        .flatten()
        .filter(|r| r.times.dropped.is_none() && r.name != *spoke)
        .filter_map(|r| r.lab().ok())
        .filter(|l| l.argocd.clusters.iter().any(|c| c.lab() == Some(spoke)))
        .collect()
}

/// The spokes a lab names, from its record (for `drop`, which has no lab file).
fn spokes_on_record(hub: &LabName) -> Vec<LabName> {
    record::read(hub)
        .ok()
        .flatten()
        .and_then(|r| r.lab().ok())
        .map(|l| {
            l.argocd
                .clusters
                .iter()
                .filter_map(|c| c.lab().cloned())
                .collect()
        })
        .unwrap_or_default()
}

/// Register `spoke` in the hub's Argo CD: attach its API's container to the hub's network,
/// install the manager account, write the cluster Secret.
async fn link<E: Engine, K: Kube>(
    env: &Env<'_, E, K>,
    hub: &LabName,
    hub_ns: &str,
    hub_api: &KubeApi,
    spoke: &LabSummary,
) -> Result<()> {
    let engine = env.engine;
    let (container, server) = hub::spoke_endpoint(&spoke.name, spoke.servers);
    engine
        .connect_network(&names::network(hub), &container, None, &[])
        .await?;
    let spoke_api = env.lab_api(spoke).await?;
    let creds = install(&spoke_api).await?;
    put(hub_api, hub_ns, &spoke.name, &server, &creds).await
}

async fn install(spoke: &KubeApi) -> Result<Credentials> {
    hub::install_manager(spoke).await.map_err(OpsError::from)
}

async fn put(
    hub_api: &KubeApi,
    ns: &str,
    name: &str,
    server: &str,
    creds: &Credentials,
) -> Result<()> {
    hub::put_cluster(hub_api, ns, name, server, creds)
        .await
        .map_err(OpsError::from)
}

/// What to tell the user about a spoke that cannot be registered now.
fn missing_spoke(hub: &LabName, spoke: &LabName) -> String {
    match record::read(spoke).ok().flatten() {
        Some(r) if r.times.dropped.is_some() => format!(
            "lab {spoke} (in argocd.clusters) is dropped: `playground restore {spoke}` brings it back and registers it with {hub}"
        ),
        Some(r) => format!(
            "lab {spoke} (in argocd.clusters) has no containers: `playground up -f {}` makes it and registers it with {hub}",
            r.config.path.display()
        ),
        None => format!(
            "no lab is named {spoke} (in argocd.clusters): make it with `playground up` from its lab file (`metadata.name: {spoke}`); its `up` registers it with {hub}"
        ),
    }
}

/// `up` of a hub: register its spokes; forget the clusters it registered and no longer names.
pub(crate) async fn register_spokes<E: Engine, K: Kube>(
    env: &Env<'_, E, K>,
    lab: &Lab,
    api: &KubeApi,
) {
    let hub = &lab.name;
    let ns = lab.argocd.namespace.as_str();
    if let Ok(had) = hub::registered(api, ns).await {
        for old in had {
            if !lab.argocd.clusters.iter().any(|c| c.name() == old.name) {
                match hub::remove_cluster(api, ns, &old.name).await {
                    Ok(_) => env.ui.line(&format!(
                        "cluster {} is no longer in argocd.clusters: removed from {hub}'s Argo CD",
                        old.name
                    )),
                    Err(e) => env
                        .ui
                        .warn(&format!("could not remove cluster {}: {e}", old.name)),
                }
            }
        }
    }
    for entry in &lab.argocd.clusters {
        let result = match entry {
            ClusterRef::Lab(spoke) => match env.find_lab(spoke).await {
                Ok(s) if s.state == LabState::Running => {
                    let step = env
                        .ui
                        .step(format!("register lab {spoke} in {hub}'s Argo CD"));
                    let r = link(env, hub, ns, api, &s).await;
                    if r.is_ok() {
                        step.done_with(&hub::spoke_endpoint(spoke, s.servers).1);
                    } else {
                        step.fail();
                    }
                    r
                }
                Ok(s) => {
                    env.ui.warn(&format!(
                        "lab {spoke} (in argocd.clusters) is {}: its registration waits for `playground resume {spoke}` or `playground up` of it",
                        s.state.as_str()
                    ));
                    Ok(())
                }
                Err(_) => {
                    env.ui.warn(&missing_spoke(hub, spoke));
                    Ok(())
                }
            },
            ClusterRef::Context(context) => register_context(env, hub, ns, api, context).await,
        };
        if let Err(e) = result {
            env.ui.warn(&format!(
                "could not register {} in {hub}'s Argo CD (the next `playground up` tries again): {}",
                entry.name(),
                crate::diag::Report(&e)
            ));
        }
    }
}

/// A context's API address and CA (PEM) from the kubeconfig: `None` when it has no such
/// context; no CA when it names none (the system's roots then).
fn context_cluster(
    kc: &crate::kube::Kubeconfig,
    context: &str,
) -> Option<(String, Option<String>)> {
    let cluster = kc
        .contexts
        .iter()
        .find(|c| c.name == context)
        .and_then(|c| c.context.as_ref())
        .and_then(|c| kc.clusters.iter().find(|k| k.name == c.cluster))
        .and_then(|k| k.cluster.as_ref())?;
    let server = cluster.server.clone()?;
    let ca = match (
        &cluster.certificate_authority_data,
        &cluster.certificate_authority,
    ) {
        (Some(data), _) => {
            base64::Engine::decode(&base64::engine::general_purpose::STANDARD, data.trim())
                .ok()
                .map(|b| String::from_utf8_lossy(&b).into_owned())
        }
        (None, Some(path)) => std::fs::read_to_string(path).ok(),
        (None, None) => None,
    };
    Some((server, ca))
}

/// Whether `hub`'s pods reach a context's API: what its address alone says, else one request
/// from the hub's first server node (see [`reach`]). Bounded by [`reach::TIMEOUT`] and the
/// engine's round trips.
async fn reach_from_hub<E: Engine, K: Kube>(
    env: &Env<'_, E, K>,
    hub: &LabName,
    context: &str,
    server: &str,
    ca_pem: Option<&str>,
) -> Reach {
    if let Some(why) = hub::unreachable_from_pods(server) {
        return Reach::Unroutable(why);
    }
    let node = names::node(hub, Role::Server, 0);
    reach::from_node(env.engine, &node, context, server, ca_pem).await
}

fn reach_target<'a>(
    hub: &'a str,
    context: &'a str,
    server: &'a str,
    network: &'a str,
) -> Target<'a> {
    Target {
        context,
        server,
        hub,
        network,
        host_alias: names::HOST_ALIAS,
    }
}

/// `{ context: NAME }`: a cluster of the user's kubeconfig, registered with its own address,
/// after a check from the hub's node that its pods reach that address (a warning when they
/// do not: the registration is made all the same, for an address that only `up` cannot see).
async fn register_context<E: Engine, K: Kube>(
    env: &Env<'_, E, K>,
    hub: &LabName,
    ns: &str,
    api: &KubeApi,
    context: &str,
) -> Result<()> {
    let kc = crate::kube::Kubeconfig::read().map_err(crate::kube::api::ApiError::from)?;
    let Some((server, ca_pem)) = context_cluster(&kc, context) else {
        env.ui.warn(&format!(
            "context {context} (in argocd.clusters) is not in your kubeconfig: `kubectl config get-contexts` lists them"
        ));
        return Ok(());
    };
    let check = env.ui.step(format!(
        "check that {hub}'s nodes reach context {context}'s API"
    ));
    let reach = reach_from_hub(env, hub, context, &server, ca_pem.as_deref()).await;
    if reach.reached() {
        check.done_with(&reach.summary());
    } else {
        check.fail();
        let network = names::network(hub);
        if let Some(w) = reach::warning(&reach_target(hub, context, &server, &network), &reach) {
            env.ui.warn(&w);
        }
    }
    let step = env
        .ui
        .step(format!("register context {context} in {hub}'s Argo CD"));
    let target = KubeApi::from_kubeconfig(kc, Some(context.to_string())).await?;
    let creds = match install(&target).await {
        Ok(c) => c,
        Err(e) => {
            step.fail();
            return Err(e);
        }
    };
    put(api, ns, context, &server, &creds).await?;
    step.done_with(&server);
    Ok(())
}

/// `up` of a lab: register it with every running hub that names it.
pub(crate) async fn register_with_hubs<E: Engine, K: Kube>(env: &Env<'_, E, K>, spoke: &Lab) {
    let hubs = hubs_of(&spoke.name);
    if hubs.is_empty() {
        return;
    }
    let Ok(me) = env.find_lab(&spoke.name).await else {
        return;
    };
    for hub_lab in hubs {
        let hub = &hub_lab.name;
        let found = match env.find_lab(hub).await {
            Ok(h) if h.state == LabState::Running => h,
            _ => {
                env.ui.line(&format!(
                    "lab {hub} names {} in argocd.clusters but does not run: its next `up` registers it",
                    spoke.name
                ));
                continue;
            }
        };
        let step = env
            .ui
            .step(format!("register lab {} in {hub}'s Argo CD", spoke.name));
        let result = async {
            let hub_api = env.lab_api(&found).await?;
            link(env, hub, &found.argocd_namespace(), &hub_api, &me).await
        }
        .await;
        match result {
            Ok(()) => step.done_with(&hub::spoke_endpoint(&spoke.name, me.servers).1),
            Err(e) => {
                step.fail();
                env.ui.warn(&format!(
                    "could not register {} with hub {hub} (the next `playground up` of either tries again): {}",
                    spoke.name,
                    crate::diag::Report(&e)
                ));
            }
        }
    }
}

/// `drop` of a lab, before its objects go: as a spoke, leave every hub that names it; as a
/// hub, let its spokes go (detached from its network, the manager account removed unless
/// another hub still names them).
pub(crate) async fn before_drop<E: Engine, K: Kube>(env: &Env<'_, E, K>, lab: &LabName) {
    for hub_lab in hubs_of(lab) {
        let hub = &hub_lab.name;
        let Ok(found) = env.find_lab(hub).await else {
            continue;
        };
        let result = async {
            let hub_api = env.lab_api(&found).await?;
            hub::remove_cluster(&hub_api, &found.argocd_namespace(), lab)
                .await
                .map_err(OpsError::from)
        }
        .await;
        match result {
            Ok(true) => env.ui.line(&format!("removed {lab} from {hub}'s Argo CD")),
            Ok(false) => {}
            Err(e) => env.ui.warn(&format!(
                "could not remove {lab} from {hub}'s Argo CD (its cluster Secret stays; `playground up` of {hub} removes it once {lab} is gone from its file): {}",
                crate::diag::Report(&e)
            )),
        }
    }
    for spoke in spokes_on_record(lab) {
        let Ok(found) = env.find_lab(&spoke).await else {
            continue;
        };
        let (container, _) = hub::spoke_endpoint(&found.name, found.servers);
        let _ = env
            .engine
            .disconnect_network(&names::network(lab), &container)
            .await;
        let others = hubs_of(&spoke).into_iter().any(|h| &h.name != lab);
        if others || found.state != LabState::Running {
            continue;
        }
        let result = async {
            let api = env.lab_api(&found).await?;
            hub::remove_manager(&api).await.map_err(OpsError::from)
        }
        .await;
        if let Err(e) = result {
            env.ui.warn(&format!(
                "could not remove Argo CD's account from {spoke}: {}",
                crate::diag::Report(&e)
            ));
        }
    }
}

/// How long `status` waits for a cluster's API to answer.
const PROBE: std::time::Duration = std::time::Duration::from_secs(5);

/// `status` of a hub: the clusters its file names and the ones it has registered, each with
/// what playground can tell of its connection (see [`hub::HubCluster`]). `None` for a lab
/// that is no hub.
pub(crate) async fn hub_clusters<E: Engine, K: Kube>(
    env: &Env<'_, E, K>,
    lab: &LabSummary,
    api: &KubeApi,
) -> Option<Vec<hub::HubCluster>> {
    let named: Vec<ClusterRef> = record::read(&lab.name)
        .ok()
        .flatten()
        .filter(|r| r.times.dropped.is_none())
        .and_then(|r| r.lab().ok())
        .map(|l| l.argocd.clusters)
        .unwrap_or_default();
    let registered = hub::registered(api, &lab.argocd_namespace())
        .await
        .unwrap_or_default();
    if named.is_empty() && registered.is_empty() {
        return None;
    }
    // Each entry's name, and the lab it names (None for a context).
    let mut entries: Vec<(String, Option<LabName>)> = named
        .iter()
        .map(|c| (c.name().to_string(), c.lab().cloned()))
        .collect();
    for r in &registered {
        if !entries.iter().any(|(n, _)| *n == r.name) {
            // No longer in the file: a lab if one is on record, else a context.
            let spoke = LabName::parse(&r.name)
                .ok()
                .filter(|n| record::read(n).ok().flatten().is_some());
            entries.push((r.name.clone(), spoke));
        }
    }
    let mut out = Vec::new();
    for (name, spoke) in entries {
        let server = registered
            .iter()
            .find(|r| r.name == name)
            .map(|r| r.server.clone());
        let (reached, message) = match &spoke {
            Some(spoke) => probe_lab(env, &lab.name, spoke).await,
            None => probe_context(env, lab, &name).await,
        };
        let message = match (&reached, &server, message) {
            (_, _, Some(m)) => Some(m),
            (Ok(_), None, None) => Some(format!(
                "not registered yet: `playground up` of {} registers it",
                lab.name
            )),
            _ => None,
        };
        out.push(hub::HubCluster {
            name,
            kind: if spoke.is_some() { "lab" } else { "context" },
            registered: server.is_some(),
            server,
            connection: if reached.is_ok() {
                hub::Connection::Connected
            } else {
                hub::Connection::Unreachable
            },
            version: reached.ok().flatten(),
            message,
        });
    }
    Some(out)
}

/// Ask an API for its version, within [`PROBE`].
async fn probe(api: &KubeApi) -> std::result::Result<String, String> {
    match tokio::time::timeout(PROBE, api.client().apiserver_version()).await {
        Ok(Ok(v)) => Ok(v.git_version),
        Ok(Err(e)) => Err(format!("its API does not answer: {e}")),
        Err(_) => Err(format!(
            "its API does not answer within {}s",
            PROBE.as_secs()
        )),
    }
}

/// A lab spoke: whether it exists and runs (Docker), then whether its API answers from here.
/// The version on success; else the reason, which is also the message.
async fn probe_lab<E: Engine, K: Kube>(
    env: &Env<'_, E, K>,
    hub: &LabName,
    spoke: &LabName,
) -> (std::result::Result<Option<String>, ()>, Option<String>) {
    let found = match env.find_lab(spoke).await {
        Ok(s) => s,
        Err(_) => return (Err(()), Some(missing_spoke(hub, spoke))),
    };
    if found.state != LabState::Running {
        let how = match found.state {
            LabState::Suspended | LabState::Paused => format!("`playground resume {spoke}`"),
            _ => format!("`playground up` of {spoke}"),
        };
        return (
            Err(()),
            Some(format!(
                "lab {spoke} is {}: {how} brings it back",
                found.state.as_str()
            )),
        );
    }
    let api = match env.lab_api(&found).await {
        Ok(a) => a,
        Err(e) => {
            return (
                Err(()),
                Some(format!(
                    "lab {spoke} runs, but its API does not answer: {}",
                    crate::diag::Report(&e)
                )),
            );
        }
    };
    match probe(&api).await {
        Ok(v) => (Ok(Some(v)), None),
        Err(m) => (Err(()), Some(format!("lab {spoke} runs, but {m}"))),
    }
}

/// A `{ context: NAME }` cluster: whether its API answers at its kubeconfig's address, from
/// here (its version) and, for a running hub, from the hub's node (see [`reach`]): it is
/// `connected` only when the hub's pods reach it.
async fn probe_context<E: Engine, K: Kube>(
    env: &Env<'_, E, K>,
    hub: &LabSummary,
    context: &str,
) -> (std::result::Result<Option<String>, ()>, Option<String>) {
    let kc = match crate::kube::Kubeconfig::read() {
        Ok(kc) => kc,
        Err(e) => {
            let e = crate::kube::api::ApiError::from(e);
            return (
                Err(()),
                Some(format!("context {context} cannot be used: {e}")),
            );
        }
    };
    let target = context_cluster(&kc, context);
    let api = match KubeApi::from_kubeconfig(kc, Some(context.to_string())).await {
        Ok(a) => a,
        Err(e) => {
            return (
                Err(()),
                Some(format!("context {context} cannot be used: {e}")),
            );
        }
    };
    let here = probe(&api).await;
    let from_hub = match &target {
        Some((server, ca)) if hub.state == LabState::Running => {
            Some(reach_from_hub(env, &hub.name, context, server, ca.as_deref()).await)
        }
        _ => None,
    };
    match (here, from_hub) {
        (_, Some(reach)) if !reach.reached() => {
            let (server, _) = target.unwrap_or_default();
            let network = names::network(&hub.name);
            let why = reach::warning(&reach_target(&hub.name, context, &server, &network), &reach)
                .unwrap_or_else(|| reach.summary());
            (Err(()), Some(why))
        }
        (Ok(v), _) => (Ok(Some(v)), None),
        (Err(m), Some(reach)) => (
            Ok(match reach {
                Reach::Answered { version } => version,
                _ => None,
            }),
            Some(format!(
                "{}'s nodes reach it, but not this machine: context {context}: {m}",
                hub.name
            )),
        ),
        (Err(m), None) => (Err(()), Some(format!("context {context}: {m}"))),
    }
}

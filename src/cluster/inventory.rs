//! Finding labs by their Docker labels alone: `list` and `status` need no local state.

use std::collections::BTreeMap;

use serde::Serialize;

use super::error::Result;
use crate::docker::{ContainerInfo, Engine, RunState};

use super::names;
use crate::lab::{LabName, client_host};

/// A lab's overall state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum LabState {
    /// Every expected node runs.
    Running,
    /// Every node is stopped.
    Suspended,
    /// Every node is frozen (`suspend --pause`).
    Paused,
    /// Anything else: some nodes missing, stopped or crashed.
    Partial,
    /// Nothing in Docker, but a record: `playground restore` brings it back.
    Dropped,
}

impl LabState {
    /// The word `list` and `status` show.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            LabState::Running => "running",
            LabState::Suspended => "suspended",
            LabState::Paused => "paused",
            LabState::Partial => "partial",
            LabState::Dropped => "dropped",
        }
    }
}

/// One node of a lab.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct NodeSummary {
    pub(crate) name: String,
    pub(crate) role: String,
    pub(crate) state: RunState,
    pub(crate) image: String,
}

/// One lab, as `list -o json` prints it (`nodes` only in `status`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct LabSummary {
    /// Parsed once from the nodes' label (or the record): every lab listed has a valid name.
    pub(crate) name: crate::config::LabName,
    pub(crate) state: LabState,
    pub(crate) servers: u32,
    pub(crate) agents: u32,
    /// The API URL clients use, e.g. `https://127.0.0.1:6550`.
    pub(crate) api: Option<String>,
    /// The namespace Argo CD lives in.
    #[serde(skip)]
    pub(crate) argocd_namespace: Option<String>,
    /// The local repository the lab was seeded from.
    #[serde(skip)]
    pub(crate) repo: Option<String>,
    /// The Argo CD UI URL, when the lab publishes it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) ui: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) nodes: Vec<NodeSummary>,
    /// What the lab should have and Docker does not: node containers by name, and the lab
    /// network. Any of it makes the lab `partial`; `playground up` recreates it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) missing: Vec<String>,
    /// The labs its `argocd.clusters` names (it is their hub), from its record; `list` fills
    /// it (see [`link_hubs`]).
    #[serde(rename = "hubOf", skip_serializing_if = "Vec::is_empty")]
    pub(crate) hub_of: Vec<String>,
    /// The labs whose `argocd.clusters` name it (it is their spoke).
    #[serde(rename = "spokeOf", skip_serializing_if = "Vec::is_empty")]
    pub(crate) spoke_of: Vec<String>,
}

impl LabSummary {
    /// The namespace Argo CD lives in (the default for labs made before it was recorded).
    pub(crate) fn argocd_namespace(&self) -> String {
        self.argocd_namespace
            .clone()
            .unwrap_or_else(|| crate::config::DEFAULT_ARGOCD_NAMESPACE.to_string())
    }
}

/// Group containers into labs.
#[cfg(test)]
pub(crate) fn summarize(containers: &[ContainerInfo], with_nodes: bool) -> Vec<LabSummary> {
    summarize_with(containers, with_nodes, &|_| None)
}

/// The node counts the lab's record holds (its file and flags as `up` last applied them), for
/// a lab that is not dropped. They are newer than the counts in the nodes' labels, which
/// Docker cannot change after creation: after `up` lowered `agents`, the remaining nodes still
/// carry the old count, and only the record says the removed agent is not missing.
pub(crate) fn recorded_counts(lab: &LabName) -> Option<(u32, u32)> {
    let rec = crate::state::record::read(lab).ok().flatten()?;
    if rec.times.dropped.is_some() {
        return None;
    }
    let lab = rec.lab().ok()?;
    Some((lab.cluster.servers, lab.cluster.agents))
}

/// The labs the containers make, by their labels, with the counts `recorded` gives for a lab
/// preferred over its labels'.
pub(crate) fn summarize_with(
    containers: &[ContainerInfo],
    with_nodes: bool,
    recorded: &dyn Fn(&LabName) -> Option<(u32, u32)>,
) -> Vec<LabSummary> {
    let mut by_lab: BTreeMap<&str, Vec<&ContainerInfo>> = BTreeMap::new();
    for c in containers {
        if let Some(lab) = c.labels.get(names::LABEL_CLUSTER) {
            by_lab.entry(lab).or_default().push(c);
        }
    }
    by_lab
        .into_iter()
        // A label that is no lab name was not set by playground (it names only valid labs):
        // such containers are not a lab of ours.
        .filter_map(|(lab, nodes)| match LabName::parse(lab) {
            Ok(name) => Some((name, nodes)),
            Err(_) => {
                tracing::debug!(
                    label = lab,
                    "containers labelled with no valid lab name are left out"
                );
                None
            }
        })
        .map(|(name, mut nodes)| {
            nodes.sort_by(|a, b| a.name.cmp(&b.name));
            let label_u32 = |key: &str| {
                nodes
                    .iter()
                    .find_map(|c| c.labels.get(key)?.parse::<u32>().ok())
            };
            let (servers, agents) = recorded(&name).unwrap_or((
                label_u32(names::LABEL_SERVERS).unwrap_or(0),
                label_u32(names::LABEL_AGENTS).unwrap_or(0),
            ));
            let expected = (servers + agents + u32::from(servers > 1)) as usize;
            let api = nodes.iter().find_map(|c| {
                let host: std::net::IpAddr = c.labels.get(names::LABEL_API_HOST)?.parse().ok()?;
                let port = c.labels.get(names::LABEL_API_PORT)?;
                Some(format!("https://{}:{port}", client_host(host)))
            });
            let missing: Vec<String> = (0..servers)
                .map(|i| names::node(&name, crate::config::Role::Server, i))
                .chain((0..agents).map(|i| names::node(&name, crate::config::Role::Agent, i)))
                .chain(
                    (servers > 1).then(|| names::node(&name, crate::config::Role::LoadBalancer, 0)),
                )
                .filter(|n| !nodes.iter().any(|c| &c.name == n))
                .collect();
            let all = |s: RunState| nodes.len() == expected && nodes.iter().all(|c| c.state == s);
            let state = if all(RunState::Running) {
                LabState::Running
            } else if all(RunState::Paused) {
                LabState::Paused
            } else if nodes.len() == expected
                && nodes
                    .iter()
                    .all(|c| matches!(c.state, RunState::Exited | RunState::Created))
            {
                LabState::Suspended
            } else {
                LabState::Partial
            };
            let label = |key: &str| nodes.iter().find_map(|c| c.labels.get(key).cloned());
            LabSummary {
                name,
                state,
                servers,
                agents,
                api,
                argocd_namespace: label(names::LABEL_ARGOCD_NAMESPACE),
                repo: label(names::LABEL_REPO),
                ui: label(names::LABEL_UI_PORT).map(|p| format!("http://127.0.0.1:{p}")),
                nodes: if with_nodes {
                    nodes
                        .iter()
                        .map(|c| NodeSummary {
                            name: c.name.clone(),
                            role: c.labels.get(names::LABEL_ROLE).cloned().unwrap_or_default(),
                            state: c.state,
                            image: c.image.clone(),
                        })
                        .collect()
                } else {
                    Vec::new()
                },
                missing,
                hub_of: Vec::new(),
                spoke_of: Vec::new(),
            }
        })
        .collect()
}

/// Mark labs whose network is gone: partial, with the network named as missing.
async fn note_missing_networks<E: Engine>(engine: &E, labs: &mut [LabSummary]) -> Result<()> {
    if labs.is_empty() {
        return Ok(());
    }
    let networks = engine.list_networks(&[(names::LABEL_CLUSTER, "")]).await?;
    for lab in labs.iter_mut() {
        let net = names::network(&lab.name);
        if !networks.iter().any(|n| n.name == net) {
            lab.missing.push(format!("network {net}"));
            lab.state = LabState::Partial;
        }
    }
    Ok(())
}

/// Every lab Docker knows of.
pub(crate) async fn list<E: Engine>(engine: &E) -> Result<Vec<LabSummary>> {
    let containers = engine
        .list_containers(&[(names::LABEL_CLUSTER, "")])
        .await?;
    let mut labs = summarize_with(&containers, false, &recorded_counts);
    note_missing_networks(engine, &mut labs).await?;
    Ok(labs)
}

/// One lab with its nodes, or `None` if no container of it exists.
pub(crate) async fn status<E: Engine>(engine: &E, lab: &LabName) -> Result<Option<LabSummary>> {
    let containers = engine
        .list_containers(&[(names::LABEL_CLUSTER, lab)])
        .await?;
    let mut labs = summarize_with(&containers, true, &recorded_counts);
    note_missing_networks(engine, &mut labs).await?;
    Ok(labs.into_iter().next())
}

/// Labs Docker knows of, and after them the dropped labs on record that Docker has nothing
/// of (state `dropped`), so `list` shows what `restore` can bring back. A record whose lab
/// file no longer parses still shows, with no node counts.
pub(crate) fn with_dropped(
    mut labs: Vec<LabSummary>,
    records: impl IntoIterator<Item = crate::state::record::LabRecord>,
) -> Vec<LabSummary> {
    for r in records {
        if r.times.dropped.is_none() || labs.iter().any(|l| l.name == r.name) {
            continue;
        }
        let lab = r.lab().ok();
        labs.push(LabSummary {
            name: r.name,
            state: LabState::Dropped,
            servers: lab.as_ref().map_or(0, |l| l.cluster.servers),
            agents: lab.as_ref().map_or(0, |l| l.cluster.agents),
            api: None,
            argocd_namespace: None,
            repo: None,
            ui: None,
            nodes: Vec::new(),
            missing: Vec::new(),
            hub_of: Vec::new(),
            spoke_of: Vec::new(),
        });
    }
    labs
}

/// Fill `hub_of` and `spoke_of` from the labs' records: a lab not dropped whose
/// `argocd.clusters` names another lab is its hub (a lab never counts as its own).
pub(crate) fn link_hubs(
    labs: &mut [LabSummary],
    records: impl IntoIterator<Item = crate::state::record::LabRecord>,
) {
    let mut pairs: Vec<(String, String)> = Vec::new();
    for r in records {
        if r.times.dropped.is_some() {
            continue;
        }
        let Ok(lab) = r.lab() else { continue };
        for c in &lab.argocd.clusters {
            if let Some(spoke) = c.lab().filter(|s| **s != r.name) {
                pairs.push((r.name.to_string(), spoke.to_string()));
            }
        }
    }
    pairs.sort();
    pairs.dedup();
    for l in labs.iter_mut() {
        l.hub_of = pairs
            .iter()
            .filter(|(h, _)| *h == l.name)
            .map(|(_, s)| s.clone())
            .collect();
        l.spoke_of = pairs
            .iter()
            .filter(|(_, s)| *s == l.name)
            .map(|(h, _)| h.clone())
            .collect();
    }
}

/// Render `list` as a table; with `HUB OF` and `SPOKE OF` columns when some lab is a hub.
pub(crate) fn render_table(labs: &[LabSummary], headers: bool) -> String {
    use crate::ui::table::{Align, Table};
    let hubs = labs
        .iter()
        .any(|l| !l.hub_of.is_empty() || !l.spoke_of.is_empty());
    let joined = |v: &[String]| {
        if v.is_empty() {
            "-".to_string()
        } else {
            v.join(",")
        }
    };
    let mut columns = vec![
        ("NAME", Align::Left),
        ("STATE", Align::Left),
        ("SERVERS", Align::Right),
        ("AGENTS", Align::Right),
        ("API", Align::Left),
    ];
    if hubs {
        columns.extend([("HUB OF", Align::Left), ("SPOKE OF", Align::Left)]);
    }
    let mut table = Table::new(&columns);
    for l in labs {
        table.row([
            l.name.to_string(),
            l.state.as_str().to_string(),
            l.servers.to_string(),
            l.agents.to_string(),
            l.api.clone().unwrap_or_else(|| "-".into()),
            joined(&l.hub_of),
            joined(&l.spoke_of),
        ]);
    }
    table.render(headers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::docker::Labels;

    fn node(lab: &str, role: &str, i: u32, state: RunState) -> ContainerInfo {
        let mut labels = Labels::new();
        labels.insert(names::LABEL_CLUSTER.into(), lab.into());
        labels.insert(names::LABEL_ROLE.into(), role.into());
        labels.insert(names::LABEL_SERVERS.into(), "1".into());
        labels.insert(names::LABEL_AGENTS.into(), "2".into());
        labels.insert(names::LABEL_API_HOST.into(), "127.0.0.1".into());
        labels.insert(names::LABEL_API_PORT.into(), "6550".into());
        ContainerInfo {
            id: String::new(),
            name: format!("playground-{lab}-{role}-{i}"),
            image: "img".into(),
            state,
            labels,
            started_at: None,
            finished_at: None,
            exit_code: None,
            restart_count: 0,
            ips: Default::default(),
            env: vec![],
            ports: vec![],
            cmd: vec![],
            binds: vec![],
            privileged: false,
        }
    }

    #[test]
    fn a_label_that_is_no_lab_name_is_no_lab_of_ours() {
        let cs = vec![
            node("Not_A_Lab", "server", 0, RunState::Running),
            node("a", "server", 0, RunState::Running),
        ];
        let names: Vec<String> = summarize(&cs, false)
            .into_iter()
            .map(|l| l.name.to_string())
            .collect();
        assert_eq!(names, ["a"]);
    }

    #[test]
    fn states_follow_the_nodes() {
        use RunState::*;
        let cases = [
            ([Running, Running, Running], LabState::Running),
            ([Exited, Exited, Exited], LabState::Suspended),
            ([Paused, Paused, Paused], LabState::Paused),
            ([Running, Exited, Running], LabState::Partial),
        ];
        for (states, want) in cases {
            let cs = vec![
                node("a", "server", 0, states[0]),
                node("a", "agent", 0, states[1]),
                node("a", "agent", 1, states[2]),
            ];
            let s = summarize(&cs, false);
            assert_eq!(s.len(), 1);
            assert_eq!(s[0].state, want, "{states:?}");
            assert_eq!(s[0].api.as_deref(), Some("https://127.0.0.1:6550"));
        }
        // A missing agent makes the lab partial even if the rest runs.
        let cs = vec![
            node("a", "server", 0, Running),
            node("a", "agent", 0, Running),
        ];
        let s = summarize(&cs, false);
        assert_eq!(s[0].state, LabState::Partial);
        assert_eq!(s[0].missing, ["playground-a-agent-1"]);
    }

    #[test]
    fn the_recorded_counts_win_over_the_labels_after_agents_were_lowered() {
        // Every node was made when the lab had 2 agents; `up` then removed agent-1.
        let cs = vec![
            node("a", "server", 0, RunState::Running),
            node("a", "agent", 0, RunState::Running),
        ];
        let by_labels = &summarize(&cs, false)[0];
        assert_eq!(by_labels.state, LabState::Partial);
        assert_eq!(by_labels.missing, ["playground-a-agent-1"]);
        let recorded = summarize_with(&cs, false, &|lab| (*lab == "a").then_some((1, 1)));
        assert_eq!(recorded[0].state, LabState::Running);
        assert!(recorded[0].missing.is_empty(), "{:?}", recorded[0].missing);
        assert_eq!((recorded[0].servers, recorded[0].agents), (1, 1));
    }

    #[test]
    fn list_json_has_the_documented_shape() {
        let cs = vec![
            node("a", "server", 0, RunState::Running),
            node("a", "agent", 0, RunState::Running),
            node("a", "agent", 1, RunState::Running),
        ];
        let v = serde_json::to_value(summarize(&cs, false)).unwrap();
        assert_eq!(
            v,
            serde_json::json!([{"name": "a", "state": "running", "servers": 1, "agents": 2, "api": "https://127.0.0.1:6550"}])
        );
    }

    fn record(name: &str, clusters: &str, dropped: bool) -> crate::state::record::LabRecord {
        use crate::state::record::*;
        LabRecord {
            version: VERSION,
            name: LabName::parse(name).unwrap(),
            config: ConfigRecord {
                path: format!("/home/ada/{name}/playground.yaml").into(),
                content: format!(
                    "apiVersion: playground.dev/v1alpha1\nkind: Playground\nmetadata:\n  name: {name}\nargocd:\n  clusters: {clusters}\n"
                ),
                overrides: Default::default(),
                origin: None,
            },
            git: GitRecord {
                repo: "/home/ada/lab".into(),
                path: "apps".into(),
                revision: "HEAD".into(),
                deployed: None,
            },
            times: Times {
                created: "2026-11-26T10:00:00Z".into(),
                last_up: "2026-11-26T10:05:00Z".into(),
                dropped: dropped.then(|| "2026-11-27T10:00:00Z".into()),
                exported: None,
            },
            argocd: None,
        }
    }

    fn summary(name: &str, state: LabState) -> LabSummary {
        LabSummary {
            name: crate::config::LabName::parse(name).unwrap(),
            state,
            servers: 1,
            agents: 0,
            api: (state == LabState::Running).then(|| "https://127.0.0.1:6550".into()),
            argocd_namespace: None,
            repo: None,
            ui: None,
            nodes: vec![],
            missing: vec![],
            hub_of: vec![],
            spoke_of: vec![],
        }
    }

    #[test]
    fn list_shows_which_lab_is_a_hub_of_which() {
        let mut labs = vec![
            summary("dev", LabState::Running),
            summary("hub", LabState::Running),
            summary("hub2", LabState::Suspended),
            summary("old", LabState::Dropped),
            summary("solo", LabState::Running),
        ];
        let records = vec![
            record("hub", "[dev, prod, { context: ext }]", false),
            record("hub2", "[dev]", false),
            // A dropped hub is no hub of anyone until `restore`.
            record("old", "[solo]", true),
            record("dev", "[]", false),
        ];
        link_hubs(&mut labs, records);
        let by = |n: &str| labs.iter().find(|l| l.name == n).unwrap();
        assert_eq!(by("hub").hub_of, ["dev", "prod"]);
        assert_eq!(by("hub2").hub_of, ["dev"]);
        assert_eq!(by("dev").spoke_of, ["hub", "hub2"]);
        assert!(by("solo").spoke_of.is_empty() && by("old").hub_of.is_empty());
        let json = serde_json::to_value(by("dev")).unwrap();
        assert_eq!(json["spokeOf"], serde_json::json!(["hub", "hub2"]));
        assert!(json.get("hubOf").is_none(), "{json}");
        assert_eq!(
            serde_json::to_value(by("hub")).unwrap()["hubOf"],
            serde_json::json!(["dev", "prod"])
        );
        let golden = "\
NAME  STATE      SERVERS  AGENTS  API                     HUB OF    SPOKE OF
dev   running          1       0  https://127.0.0.1:6550  -         hub,hub2
hub   running          1       0  https://127.0.0.1:6550  dev,prod  -
hub2  suspended        1       0  -                       dev       -
old   dropped          1       0  -                       -         -
solo  running          1       0  https://127.0.0.1:6550  -         -
";
        assert_eq!(
            render_table(&labs, true),
            golden,
            "\n{}",
            render_table(&labs, true)
        );
        // Rows only, for scripts: the same fields, line by line (the columns fit the rows).
        let words = |t: &str| -> Vec<Vec<String>> {
            t.lines()
                .map(|l| l.split_whitespace().map(String::from).collect())
                .collect()
        };
        assert_eq!(
            words(&render_table(&labs, false)),
            words(golden.split_once('\n').unwrap().1)
        );
        // No hub among them: the table has no such columns.
        let plain = render_table(&[summary("solo", LabState::Running)], true);
        assert!(!plain.contains("HUB OF"), "{plain}");
        assert!(
            plain.starts_with("NAME  STATE    SERVERS  AGENTS  API\n"),
            "{plain}"
        );
    }
}

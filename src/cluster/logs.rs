//! `playground logs`: the nodes' container output (k3s's own log), one line per line, each
//! prefixed with its node (`server-0 | …`).
//!
//! Every selected node's output is one stream ([`Engine::log_lines`]); without `--node` the
//! streams are merged as their lines arrive, so with `--follow` the interleaving is the order
//! in which Docker hands lines over. Without `--follow` each stream ends at what Docker holds
//! now. Ctrl-C ends the process at once: nothing here needs undoing (see `crate::interrupt`).
//!
//! Lines pass through [`crate::ui::redact::mask`] with the lab's join token registered
//! ([`register_lab_secrets`]): a node log pasted into an issue must not carry it.

use std::io::Write;

use futures::StreamExt;

use super::error::{ClusterError as Error, Result};
use crate::docker::{ContainerInfo, Engine};
use crate::ui::redact;

use super::inventory::LabSummary;
use super::names;
use crate::lab::LabName;

/// A node's name within its lab: `server-0`, `agent-1`, `serverlb`.
pub(crate) fn short_name<'a>(lab: &LabName, container: &'a str) -> &'a str {
    container
        .strip_prefix(&format!("{}-{lab}-", names::PREFIX))
        .unwrap_or(container)
}

/// The lab's node containers, in name order, or only `node` (short or full name); a node
/// that is not there is an error naming the ones that are.
pub(crate) async fn select_nodes<E: Engine>(
    engine: &E,
    lab: &LabSummary,
    node: Option<&str>,
) -> Result<Vec<ContainerInfo>> {
    let mut nodes = engine
        .list_containers(&[(names::LABEL_CLUSTER, lab.name.as_str())])
        .await?;
    nodes.sort_by(|a, b| a.name.cmp(&b.name));
    let Some(wanted) = node else {
        return Ok(nodes);
    };
    let found: Vec<ContainerInfo> = nodes
        .iter()
        .filter(|c| c.name == wanted || short_name(&lab.name, &c.name) == wanted)
        .cloned()
        .collect();
    if found.is_empty() {
        let have: Vec<&str> = nodes
            .iter()
            .map(|c| short_name(&lab.name, &c.name))
            .collect();
        return Err(Error::NoSuchNode {
            lab: lab.name.to_string(),
            wanted: wanted.to_string(),
            have: if have.is_empty() {
                "none".to_string()
            } else {
                have.join(", ")
            },
        });
    }
    Ok(found)
}

/// Register the lab's secrets with the log mask: every node's env value named like a secret
/// (its `K3S_TOKEN` among them), and those the lab file took from the host (the node's
/// [`names::LABEL_SECRET_ENV`]), and the registry credentials in its `registries.yaml`. A
/// listing carries no env: each node is inspected.
pub(crate) async fn register_lab_secrets<E: Engine>(
    engine: &E,
    nodes: &[ContainerInfo],
) -> Result<()> {
    for listed in nodes {
        let Some(n) = engine.inspect_container(&listed.name).await? else {
            continue;
        };
        let from_host: Vec<&str> = n
            .labels
            .get(names::LABEL_SECRET_ENV)
            .map(|keys| keys.split(',').collect())
            .unwrap_or_default();
        for kv in &n.env {
            if let Some((k, v)) = kv.split_once('=')
                && (redact::is_secret_name(k) || from_host.contains(&k))
            {
                redact::register(v);
            }
        }
        // Registry credentials (`cluster.registries`) live in the node's registries.yaml.
        if let Ok(bytes) = engine
            .read_file(&listed.name, super::k3s::REGISTRIES_YAML)
            .await
        {
            for v in super::k3s::registries::credentials(&String::from_utf8_lossy(&bytes)) {
                redact::register(&v);
            }
        }
    }
    Ok(())
}

/// Print the selected nodes' logs to stdout until they end (or, with `follow`, until the
/// nodes stop). `since` is Unix seconds (0: from the start).
pub(crate) async fn print_logs<E: Engine>(
    engine: &E,
    lab: &LabSummary,
    node: Option<&str>,
    follow: bool,
    since: i64,
) -> Result<()> {
    let nodes = select_nodes(engine, lab, node).await?;
    register_lab_secrets(engine, &nodes).await?;
    let width = nodes
        .iter()
        .map(|n| short_name(&lab.name, &n.name).len())
        .max()
        .unwrap_or(0);
    let streams = nodes.iter().map(|n| {
        let prefix = format!("{:<width$} | ", short_name(&lab.name, &n.name));
        engine
            .log_lines(&n.name, since, follow)
            .map(move |line| (prefix.clone(), line))
            .boxed()
    });
    let mut merged = futures::stream::select_all(streams);
    while let Some((prefix, line)) = merged.next().await {
        let line = line?;
        let mut out = std::io::stdout().lock();
        // A closed pipe (`| head`) ends the command quietly, as it does for `docker logs`.
        if writeln!(out, "{prefix}{}", redact::mask(&line)).is_err() {
            return Ok(());
        }
        if follow {
            out.flush().ok();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_drop_the_lab_prefix_only() {
        let dev = LabName::parse("dev").unwrap();
        assert_eq!(short_name(&dev, "playground-dev-server-0"), "server-0");
        assert_eq!(short_name(&dev, "playground-dev-serverlb"), "serverlb");
        assert_eq!(
            short_name(&dev, "playground-other-agent-0"),
            "playground-other-agent-0"
        );
    }
}

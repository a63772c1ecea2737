//! `cache status` and `cache prune`: every cache of the namespace, and removing them.

use std::collections::BTreeMap;

use serde::Serialize;

use super::super::error::Result;
use crate::docker::{Engine, RunState};

use super::super::names;
use super::{CacheSettings, EXPORT_KIND, REGISTRY_DATA, UPSTREAMS, Upstream};

/// One cache as `playground cache status` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CacheStatus {
    pub(crate) upstream: String,
    pub(crate) remote_url: String,
    pub(crate) container: String,
    /// `absent`, or the container's run state.
    pub(crate) state: String,
    pub(crate) image: Option<String>,
    pub(crate) volume: String,
    pub(crate) volume_exists: bool,
    /// The bytes cached (`du` in the running registry); `None` when it is not running.
    pub(crate) size_bytes: Option<u64>,
    /// The labs whose networks it is attached to.
    pub(crate) labs: Vec<String>,
    /// Why a cache that exists is not running, from its last log lines: the registry's panic
    /// when its upstream did not answer at start (offline), or its exit code.
    pub(crate) problem: Option<String>,
}

/// Every cache of the namespace, absent ones included, and which labs use each.
pub(crate) async fn status<E: Engine>(
    engine: &E,
    settings: &CacheSettings,
) -> Result<Vec<CacheStatus>> {
    let volumes = engine
        .list_volumes(&[(names::LABEL_CACHE_NAMESPACE, &settings.namespace)])
        .await?;
    let lab_of: BTreeMap<String, String> = engine
        .list_networks(&[(names::LABEL_CLUSTER, "")])
        .await?
        .into_iter()
        .filter_map(|n| {
            let lab = n.labels.get(names::LABEL_CLUSTER)?.clone();
            Some((n.name, lab))
        })
        .collect();
    let mut out = Vec::new();
    for upstream in &UPSTREAMS {
        let container = settings.container(upstream);
        let volume = settings.volume(upstream);
        let found = engine.inspect_container(&container).await?.filter(|c| {
            c.labels.get(names::LABEL_CACHE).map(String::as_str) == Some(upstream.host)
        });
        let size_bytes = match &found {
            Some(c) if c.state == RunState::Running => registry_size(engine, &container).await,
            _ => None,
        };
        let problem = match &found {
            Some(c) if c.state != RunState::Running => {
                Some(exit_reason(engine, &container, upstream, c.exit_code).await)
            }
            _ => None,
        };
        out.push(CacheStatus {
            upstream: upstream.host.to_string(),
            remote_url: upstream.remote_url.to_string(),
            state: found
                .as_ref()
                .map_or("absent", |c| c.state.as_str())
                .to_string(),
            image: found.as_ref().map(|c| c.image.clone()),
            labs: found
                .iter()
                .flat_map(|c| c.ips.keys())
                .filter_map(|net| lab_of.get(net).cloned())
                .collect(),
            volume_exists: volumes.contains(&volume),
            volume,
            size_bytes,
            problem,
            container,
        });
    }
    Ok(out)
}

/// Why a cache is not running, for `cache status`: the registry's own panic line when there is
/// one (see [`CacheSettings::container_spec`]), with what to do.
async fn exit_reason<E: Engine>(
    engine: &E,
    container: &str,
    upstream: &Upstream,
    exit_code: Option<i64>,
) -> String {
    let logs = engine.tail_logs(container, 50).await.unwrap_or_default();
    match logs.lines().find_map(|l| l.trim().strip_prefix("panic: ")) {
        Some(panic) => format!(
            "the registry panicked at start: {panic}\n  it could not reach {} (offline?); pulls from {} go to the upstream directly; the next `playground up` with a network starts it again",
            upstream.remote_url, upstream.host
        ),
        None => match exit_code {
            Some(code) if code != 0 => format!(
                "exited with code {code}\n  see `docker logs {container}`; the next `playground up` starts it again"
            ),
            _ => "not running; the next `playground up` starts it again".to_string(),
        },
    }
}

/// The size of the registry's data, from `du` inside the running cache: cheap, and it needs
/// nothing but the image's own busybox. `None` if that does not work.
async fn registry_size<E: Engine>(engine: &E, container: &str) -> Option<u64> {
    let (code, out) = engine
        .exec(container, &["du", "-sk", REGISTRY_DATA])
        .await
        .ok()?;
    if code != 0 {
        return None;
    }
    let kib: u64 = out.split_whitespace().next()?.parse().ok()?;
    Some(kib * 1024)
}

/// Render `cache status` as a table.
pub(crate) fn render_table(caches: &[CacheStatus], headers: bool) -> String {
    use crate::ui::table::{Align, Table};
    let mut table = Table::new(&[
        ("UPSTREAM", Align::Left),
        ("STATE", Align::Left),
        ("SIZE", Align::Right),
        ("CONTAINER", Align::Left),
        ("LABS", Align::Left),
    ]);
    for c in caches {
        table.row([
            c.upstream.to_string(),
            c.state.to_string(),
            c.size_bytes.map_or("-".to_string(), human_size),
            c.container.clone(),
            if c.labs.is_empty() {
                "-".to_string()
            } else {
                c.labs.join(",")
            },
        ]);
    }
    let mut out = table.render(headers);
    // Problems after the table, one paragraph each, so the columns stay readable.
    for c in caches {
        if let Some(problem) = &c.problem {
            out.push_str(&format!("\n{}: {problem}\n", c.container));
        }
    }
    out
}

/// `1536` → `1.5 KiB`.
pub(crate) fn human_size(bytes: u64) -> String {
    indicatif::HumanBytes(bytes).to_string()
}

/// What `cache prune` removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub(crate) struct Pruned {
    pub(crate) containers: usize,
    pub(crate) volumes: usize,
}

/// Remove every cache container and volume of the namespace, and the image exports of labs
/// that no longer exist. Removing a container detaches it from every lab network; those labs
/// then pull from the upstreams directly, and their next `up` brings the caches back (empty).
/// The export of a lab that exists stays: its nodes mount it (Docker refuses to remove a
/// volume in use), and its next `drop` writes it again.
pub(crate) async fn prune<E: Engine>(engine: &E, settings: &CacheSettings) -> Result<Pruned> {
    let filter = [(names::LABEL_CACHE_NAMESPACE, settings.namespace.as_str())];
    let containers = engine.list_containers(&filter).await?;
    for c in &containers {
        engine.remove_container(&c.name).await?;
    }
    let exports = engine
        .list_volumes(&[
            (names::LABEL_CACHE_NAMESPACE, settings.namespace.as_str()),
            (names::LABEL_CACHE, EXPORT_KIND),
        ])
        .await?;
    let export_prefix = settings.export_prefix();
    let mut volumes = 0;
    for v in engine.list_volumes(&filter).await? {
        if exports.contains(&v) {
            // An export volume of a lab that still has containers is kept for its `drop`.
            let lab = v.strip_prefix(&export_prefix).unwrap_or_default();
            if let Ok(lab) = crate::lab::LabName::parse(lab)
                && super::super::inventory::status(engine, &lab)
                    .await?
                    .is_some()
            {
                continue;
            }
        }
        engine.remove_volume(&v).await?;
        volumes += 1;
    }
    Ok(Pruned {
        containers: containers.len(),
        volumes,
    })
}

//! What changed on an existing lab: each node's container, as Docker shows it, compared with
//! the spec `up` would create now. A node that differs is recreated (see [`super::Step::RecreateNode`]).
//!
//! Compared: the image, the command (k3s's arguments), the environment, the published ports,
//! the mounts, the `cluster.registries` entries (by digest) and `privileged`. The environment needs care: Docker merges the image's `ENV`
//! into the container's, so only the keys playground set are compared. Those are recorded on
//! the container in [`LABEL_ENV_KEYS`] (names only: a value such as `K3S_TOKEN` is a secret and
//! a label is readable by anyone who can `docker inspect`), so a key removed from the lab file
//! is seen as removed. A container made before the label existed counts the keys we would set
//! now as ours: nothing is reported removed that we cannot know we set.
//!
//! Values of secret keys never reach a [`Change`]: they are masked when it is made.

use std::collections::{BTreeMap, BTreeSet};

use crate::docker::{ContainerInfo, ContainerSpec, PortBinding};
use crate::ui::redact;

use super::super::k3s::registries::LABEL_REGISTRIES;
use super::super::names::{LABEL_ENV_KEYS, LABEL_SECRET_ENV};

/// One field of one node that the lab file now wants otherwise. Values are for people, with
/// secrets masked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub(crate) node: String,
    pub(crate) field: String,
    pub(crate) old: String,
    pub(crate) new: String,
}

/// The value of [`LABEL_ENV_KEYS`] for a container created with `env`: its keys, sorted.
pub(super) fn env_keys(env: &[String]) -> String {
    let keys: BTreeSet<&str> = env.iter().map(|e| key_of(e)).collect();
    keys.into_iter().collect::<Vec<_>>().join(",")
}

fn key_of(entry: &str) -> &str {
    entry.split_once('=').map_or(entry, |(k, _)| k)
}

fn env_map(env: &[String]) -> BTreeMap<&str, &str> {
    env.iter()
        .map(|e| e.split_once('=').unwrap_or((e.as_str(), "")))
        .collect()
}

/// What `have` (an existing container) lacks of `want` (the spec `up` would create now).
pub(super) fn node_changes(have: &ContainerInfo, want: &ContainerSpec) -> Vec<Change> {
    let mut out = Vec::new();
    let mut change = |field: String, old: String, new: String| {
        out.push(Change {
            node: want.name.clone(),
            field,
            old,
            new,
        });
    };
    if have.image != want.image {
        change("image".into(), have.image.clone(), want.image.clone());
    }
    if have.cmd != want.cmd {
        let (o, n) = command_difference(&have.cmd, &want.cmd);
        change("command".into(), masked(&o), masked(&n));
    }
    // The keys we set: recorded on the container, or (made before the label) the ones we
    // would set now.
    let new = env_map(&want.env);
    let ours: BTreeSet<&str> = match have.labels.get(LABEL_ENV_KEYS) {
        Some(keys) => keys.split(',').filter(|k| !k.is_empty()).collect(),
        None => new.keys().copied().collect(),
    };
    let old: BTreeMap<&str, &str> = env_map(&have.env)
        .into_iter()
        .filter(|(k, _)| ours.contains(k))
        .collect();
    let keys: BTreeSet<&str> = old.keys().chain(new.keys()).copied().collect();
    // Values the lab file takes from the host (`${env:NAME}`), now or before: secrets by key.
    let from_host: BTreeSet<&str> = [&have.labels, &want.labels]
        .into_iter()
        .filter_map(|l| l.get(LABEL_SECRET_ENV))
        .flat_map(|keys| keys.split(','))
        .collect();
    for key in keys {
        let (o, n) = (old.get(key).copied(), new.get(key).copied());
        if o == n {
            continue;
        }
        let secret = redact::is_secret_name(key) || from_host.contains(key);
        let show = |v: Option<&str>| match v {
            None => "(unset)".to_string(),
            Some(_) if secret => redact::MASK.to_string(),
            Some(v) => v.to_string(),
        };
        let (o, n) = match (o, n) {
            // A long text (the load balancer's nginx config): its first line that differs.
            // Never for a secret: a line of a PEM key is as secret as the key.
            (Some(a), Some(b)) if !secret && (a.contains('\n') || b.contains('\n')) => {
                first_difference(a, b)
            }
            _ => (show(o), show(n)),
        };
        change(format!("env {key}"), masked(&o), masked(&n));
    }
    let (have_ports, want_ports) = (ports(&have.ports), ports(&want.ports));
    if have_ports != want_ports {
        change("ports".into(), list(&have_ports), list(&want_ports));
    }
    let have_binds: BTreeSet<&String> = have.binds.iter().collect();
    let want_binds: BTreeSet<&String> = want.binds.iter().collect();
    if have_binds != want_binds {
        // Only the mounts that differ: every node carries its volumes, which say nothing.
        let join = |b: BTreeSet<&&String>| list(&b.into_iter().map(|s| s.to_string()).collect());
        change(
            "mounts".into(),
            join(have_binds.difference(&want_binds).collect()),
            join(want_binds.difference(&have_binds).collect()),
        );
    }
    // `cluster.registries` as written (a digest: values never reach a label). k3s reads
    // `registries.yaml` only at start, so a node with other entries is made again.
    let (have_r, want_r) = (
        have.labels.get(LABEL_REGISTRIES),
        want.labels.get(LABEL_REGISTRIES),
    );
    if have_r != want_r {
        let show = |v: Option<&String>| match v {
            Some(d) => format!("entries {d}"),
            None => "(none)".to_string(),
        };
        change("registries".into(), show(have_r), show(want_r));
    }
    if have.privileged != want.privileged {
        change(
            "privileged".into(),
            have.privileged.to_string(),
            want.privileged.to_string(),
        );
    }
    out
}

/// Two commands with what they share elided: the role (the first word) stays, the arguments
/// both have at the start and at the end become `…`, so a new `--node-label` is not lost in
/// the args every node carries.
pub(super) fn command_difference(old: &[String], new: &[String]) -> (String, String) {
    let prefix = old.iter().zip(new).take_while(|(a, b)| a == b).count();
    let room = old.len().min(new.len()) - prefix;
    let suffix = old
        .iter()
        .rev()
        .zip(new.iter().rev())
        .take(room)
        .take_while(|(a, b)| a == b)
        .count();
    let show = |cmd: &[String]| {
        let mut words: Vec<&str> = Vec::new();
        let kept = prefix.min(1);
        words.extend(cmd[..kept].iter().map(String::as_str));
        if prefix > kept {
            words.push("…");
        }
        words.extend(cmd[prefix..cmd.len() - suffix].iter().map(String::as_str));
        if suffix > 0 {
            words.push("…");
        }
        words.join(" ")
    };
    (show(old), show(new))
}

/// Registered secrets (the join token in a server's `--token`, say) masked in free text.
fn masked(text: &str) -> String {
    redact::mask(text).into_owned()
}

fn ports(ports: &[PortBinding]) -> BTreeSet<String> {
    ports
        .iter()
        .map(|p| {
            format!(
                "{}:{}->{}/{}",
                p.host_ip, p.host_port, p.container_port, p.protocol
            )
        })
        .collect()
}

fn list(items: &BTreeSet<String>) -> String {
    if items.is_empty() {
        "(none)".into()
    } else {
        items.iter().cloned().collect::<Vec<_>>().join(", ")
    }
}

fn first_difference(a: &str, b: &str) -> (String, String) {
    let (mut la, mut lb) = (a.lines(), b.lines());
    loop {
        match (la.next(), lb.next()) {
            (Some(x), Some(y)) if x == y => continue,
            (x, y) => {
                let line = |l: Option<&str>| format!("…{}…", l.unwrap_or("(end)").trim());
                return (line(x), line(y));
            }
        }
    }
}

//! The double's stand-in for k3s's HA datastore: embedded etcd membership and quorum, and the
//! bootstrap data a joining server fetches. Each server still keeps its own object store (a
//! replicated store is out of scope); nodes register with every member instead (`main.rs`).
//!
//! - `--cluster-init` makes a server the first member; a server with `K3S_URL` fetches the
//!   cluster CA from the server it joins (k3s `pkg/cluster/bootstrap.go` `httpBootstrap`
//!   reads `/v1-k3s/server-bootstrap`) and adds itself as a member there. Members pull each
//!   other's lists, so every member learns of every other one.
//! - The member list lives in the data volume (`server/db/etcd/`, where k3s keeps etcd), so a
//!   restarted member knows it is one, and how many members it needs for a quorum.
//! - A restarted member is ready only with a quorum: etcd needs ⌊n/2⌋+1 of n members, and
//!   k3s logs "k3s is up and running" only after `ETCDReady` (`pkg/cli/server/server.go`);
//!   until then it logs "Waiting for etcd server to become available"
//!   (`pkg/daemons/control/server.go`, `waitForAPIServerInBackground`).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde_json::{Value, json};

/// The member list (node names; Docker's DNS resolves them on the lab network).
pub fn members_file(state_dir: &Path) -> PathBuf {
    state_dir.join("db/etcd/playground-double-members.json")
}

pub fn read_members(state_dir: &Path) -> Option<Vec<String>> {
    let text = std::fs::read_to_string(members_file(state_dir)).ok()?;
    serde_json::from_str(&text).ok()
}

/// Add `names` to the member list (created if missing); returns the whole list.
pub fn add_members(state_dir: &Path, names: &[String]) -> Result<Vec<String>> {
    let mut members = read_members(state_dir).unwrap_or_default();
    for n in names {
        if !members.contains(n) {
            members.push(n.clone());
        }
    }
    members.sort();
    super::persist::write_atomic(
        &members_file(state_dir),
        serde_json::to_string(&members)?.as_bytes(),
    )?;
    Ok(members)
}

/// How many members etcd needs to be available.
pub fn quorum(members: usize) -> usize {
    members / 2 + 1
}

const TLS_FILES: &[&str] = &[
    "client-admin.crt",
    "client-admin.key",
    "server-ca.cn",
    "server-ca.crt",
    "server-ca.key",
];

/// The CA and admin credentials, for a joining server (token-authenticated, like k3s's
/// bootstrap endpoint).
pub fn bootstrap(state_dir: &Path) -> Result<Value> {
    let mut files = serde_json::Map::new();
    for f in TLS_FILES {
        let p = state_dir.join("tls").join(f);
        files.insert(
            (*f).into(),
            json!(std::fs::read_to_string(&p).with_context(|| format!("{}", p.display()))?),
        );
    }
    Ok(Value::Object(files))
}

/// Write the bootstrap data of the cluster a server joins, before its PKI is loaded. The key
/// goes last: its presence marks a complete set (see `tls::Pki::load_or_generate`).
pub fn write_bootstrap(state_dir: &Path, data: &Value) -> Result<()> {
    for f in TLS_FILES {
        let text = data[*f]
            .as_str()
            .with_context(|| format!("bootstrap data without {f}"))?;
        super::persist::write_atomic(&state_dir.join("tls").join(f), text.as_bytes())?;
    }
    Ok(())
}

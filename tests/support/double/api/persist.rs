//! Persistence of the object store to `state_dir/store.json`, so a stopped and restarted
//! node keeps its objects (k3s keeps them in its sqlite/etcd datastore).
//!
//! Writes are debounced: a change wakes the persister, which waits briefly so a burst
//! (e.g. applying a whole manifest) becomes one write, then writes a temporary file and
//! renames it over the old one, so a crash never leaves a torn file.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};

use super::store::Store;

const DEBOUNCE: Duration = Duration::from_millis(100);

pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().context("path without parent")?;
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(
        ".{}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("state")
    ));
    std::fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))?;
    Ok(())
}

pub fn store_file(dir: &Path) -> PathBuf {
    dir.join("store.json")
}

/// Load a previously saved store, if any.
pub fn load(dir: &Path, store: &mut Store) -> Result<()> {
    let path = store_file(dir);
    if path.exists() {
        let text = std::fs::read_to_string(&path)?;
        let snap: serde_json::Value =
            serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        store.restore(&snap);
    }
    Ok(())
}

pub fn save(dir: &Path, store: &Mutex<Store>) -> Result<()> {
    let text = store.lock().unwrap().snapshot().to_string();
    write_atomic(&store_file(dir), text.as_bytes())
}

/// Save after every burst of changes until the task is aborted.
pub fn spawn(dir: PathBuf, store: Arc<Mutex<Store>>) -> tokio::task::JoinHandle<()> {
    let dirty = store.lock().unwrap().dirty.clone();
    tokio::spawn(async move {
        loop {
            dirty.notified().await;
            tokio::time::sleep(DEBOUNCE).await;
            if let Err(e) = save(&dir, &store) {
                eprintln!("kube-double: persisting store: {e:#}");
            }
        }
    })
}

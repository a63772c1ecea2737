//! The object store: what etcd is to the apiserver.
//!
//! Objects are kept per group-resource, keyed by `(namespace, name)` (empty namespace for
//! cluster-scoped kinds). Every write takes the next value of one global counter as its
//! `resourceVersion`, like an etcd revision, and is
//! 1. appended to a bounded history (so watches can resume from a resourceVersion, and
//!    get 410 Gone once it has been "compacted" away),
//! 2. broadcast to live watches and the simulation,
//! 3. recorded in an ordered event log that tests read, and
//! 4. signalled to the persister (when the double has a state dir).
//!
//! All methods are synchronous and run under one mutex; nothing awaits while it is held.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use serde_json::{Value, json};
use tokio::sync::{Notify, broadcast};

/// Group and plural resource name: the storage identity of a kind (all versions share it).
pub type Gr = (String, String);

/// How many changes watches can resume from before they get 410 Gone.
const HISTORY: usize = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Added,
    Modified,
    Deleted,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Added => "ADDED",
            ChangeKind::Modified => "MODIFIED",
            ChangeKind::Deleted => "DELETED",
        }
    }
}

/// One committed write.
#[derive(Debug, Clone)]
pub struct Change {
    pub rv: u64,
    pub kind: ChangeKind,
    pub group: String,
    pub resource: String,
    pub namespace: String,
    pub name: String,
    pub object: Value,
}

/// An entry of the ordered event log tests inspect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRecord {
    /// `ADDED`, `MODIFIED` or `DELETED`.
    pub kind: &'static str,
    pub group: String,
    pub resource: String,
    pub namespace: String,
    pub name: String,
    pub resource_version: u64,
}

pub struct Store {
    objects: BTreeMap<Gr, BTreeMap<(String, String), Value>>,
    rv: u64,
    history: VecDeque<Arc<Change>>,
    /// The oldest resourceVersion a watch may resume from.
    compacted: u64,
    tx: broadcast::Sender<Arc<Change>>,
    log: Vec<EventRecord>,
    pub dirty: Arc<Notify>,
}

impl Default for Store {
    fn default() -> Self {
        Self::new()
    }
}

impl Store {
    pub fn new() -> Self {
        let (tx, _) = broadcast::channel(16_384);
        Self {
            objects: BTreeMap::new(),
            rv: 1,
            history: VecDeque::new(),
            compacted: 1,
            tx,
            log: Vec::new(),
            dirty: Arc::new(Notify::new()),
        }
    }

    pub fn current_rv(&self) -> u64 {
        self.rv
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Change>> {
        self.tx.subscribe()
    }

    pub fn get(&self, gr: &Gr, ns: &str, name: &str) -> Option<&Value> {
        self.objects
            .get(gr)?
            .get(&(ns.to_string(), name.to_string()))
    }

    /// Objects of a group-resource, in one namespace or (None) all, ordered by namespace and name.
    pub fn list(&self, gr: &Gr, ns: Option<&str>) -> Vec<Value> {
        let Some(m) = self.objects.get(gr) else {
            return Vec::new();
        };
        m.iter()
            .filter(|((n, _), _)| ns.is_none_or(|want| want == n))
            .map(|(_, v)| v.clone())
            .collect()
    }

    pub fn list_ref<'a>(&'a self, gr: &Gr) -> impl Iterator<Item = &'a Value> + 'a {
        self.objects.get(gr).into_iter().flat_map(|m| m.values())
    }

    /// Store an object (insert or replace), stamping the next resourceVersion on it.
    pub fn put(&mut self, gr: &Gr, mut obj: Value) -> Value {
        self.rv += 1;
        let rv = self.rv;
        obj["metadata"]["resourceVersion"] = json!(rv.to_string());
        let ns = obj["metadata"]["namespace"]
            .as_str()
            .unwrap_or("")
            .to_string();
        let name = obj["metadata"]["name"].as_str().unwrap_or("").to_string();
        let prev = self
            .objects
            .entry(gr.clone())
            .or_default()
            .insert((ns.clone(), name.clone()), obj.clone());
        let kind = if prev.is_some() {
            ChangeKind::Modified
        } else {
            ChangeKind::Added
        };
        self.record(gr, kind, ns, name, obj.clone());
        obj
    }

    pub fn delete(&mut self, gr: &Gr, ns: &str, name: &str) -> Option<Value> {
        let mut obj = self
            .objects
            .get_mut(gr)?
            .remove(&(ns.to_string(), name.to_string()))?;
        self.rv += 1;
        // The watch event of a deletion carries the deletion's revision, as etcd reports it.
        obj["metadata"]["resourceVersion"] = json!(self.rv.to_string());
        self.record(
            gr,
            ChangeKind::Deleted,
            ns.to_string(),
            name.to_string(),
            obj.clone(),
        );
        Some(obj)
    }

    fn record(
        &mut self,
        gr: &Gr,
        kind: ChangeKind,
        namespace: String,
        name: String,
        object: Value,
    ) {
        let change = Arc::new(Change {
            rv: self.rv,
            kind,
            group: gr.0.clone(),
            resource: gr.1.clone(),
            namespace,
            name,
            object,
        });
        self.log.push(EventRecord {
            kind: kind.as_str(),
            group: change.group.clone(),
            resource: change.resource.clone(),
            namespace: change.namespace.clone(),
            name: change.name.clone(),
            resource_version: change.rv,
        });
        self.history.push_back(change.clone());
        while self.history.len() > HISTORY {
            if let Some(old) = self.history.pop_front() {
                self.compacted = old.rv;
            }
        }
        // No receivers is fine: nobody is watching.
        let _ = self.tx.send(change);
        self.dirty.notify_one();
    }

    /// Changes after `rv`, or `Err(oldest)` when `rv` is older than the retained window.
    pub fn changes_since(&self, rv: u64) -> Result<Vec<Arc<Change>>, u64> {
        if rv < self.compacted {
            return Err(self.compacted);
        }
        Ok(self.history.iter().filter(|c| c.rv > rv).cloned().collect())
    }

    /// Drop history up to the current revision (a test hook to provoke 410 Gone).
    pub fn compact(&mut self) {
        self.history.clear();
        self.compacted = self.rv;
    }

    pub fn event_log(&self) -> Vec<EventRecord> {
        self.log.clone()
    }

    /// Everything needed to restart with the same objects and revision counter.
    pub fn snapshot(&self) -> Value {
        let objects: Vec<Value> = self
            .objects
            .iter()
            .flat_map(|((g, r), m)| {
                m.values()
                    .map(move |o| json!({"group": g, "resource": r, "object": o}))
            })
            .collect();
        json!({"resourceVersion": self.rv, "objects": objects})
    }

    pub fn restore(&mut self, snap: &Value) {
        self.rv = snap["resourceVersion"].as_u64().unwrap_or(1);
        self.compacted = self.rv;
        for entry in snap["objects"].as_array().into_iter().flatten() {
            let gr = (
                entry["group"].as_str().unwrap_or("").to_string(),
                entry["resource"].as_str().unwrap_or("").to_string(),
            );
            let obj = entry["object"].clone();
            let key = (
                obj["metadata"]["namespace"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
                obj["metadata"]["name"].as_str().unwrap_or("").to_string(),
            );
            self.objects.entry(gr).or_default().insert(key, obj);
        }
    }
}

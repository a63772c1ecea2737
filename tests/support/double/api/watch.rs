//! Watch streams: newline-delimited `{"type": ..., "object": ...}` events over a chunked
//! (or HTTP/2) response body.
//!
//! Starting points, as in the real server:
//! - `sendInitialEvents=true` (streaming list): ADDED for every current object, then a
//!   BOOKMARK annotated `k8s.io/initial-events-end: "true"`, then changes;
//! - no `resourceVersion` or `"0"`: ADDED for every current object, then changes;
//! - `resourceVersion=N`: the retained changes after N, then live ones; when N is older
//!   than the retained window, a single ERROR event with a 410 `Expired` Status.
//!
//! The subscription to the store's broadcast is taken under the same lock as the snapshot,
//! so no change falls between the initial events and the live ones.

use std::convert::Infallible;
use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use http_body_util::{BodyExt, StreamBody, combinators::BoxBody};
use hyper::body::Frame;
use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;

use super::discovery::ResourceInfo;
use super::resource::present;
use super::select::Selector;
use super::status::ApiError;
use super::store::{Change, Store};
use super::table;

#[derive(Debug, Clone, Default)]
pub struct WatchParams {
    pub resource_version: Option<String>,
    pub timeout_seconds: Option<u64>,
    pub bookmarks: bool,
    pub send_initial_events: bool,
    /// Some(includeObject) when the client asked for Table-formatted events.
    pub table: Option<String>,
}

/// How often BOOKMARK events go out when the client allows them (the real server: ~1 min).
const BOOKMARK_EVERY: Duration = Duration::from_secs(5);

struct Filter {
    info: ResourceInfo,
    namespace: Option<String>,
    selector: Selector,
    table: Option<String>,
}

impl Filter {
    fn matches(&self, c: &Change) -> bool {
        c.group == self.info.group
            && c.resource == self.info.plural
            && self.namespace.as_deref().is_none_or(|ns| ns == c.namespace)
            && self.selector.matches(&c.object)
    }

    fn event(&self, kind: &str, obj: &Value) -> Bytes {
        let object = match &self.table {
            Some(include) => table::to_table(&self.info, std::slice::from_ref(obj), None, include),
            None => present(&self.info, obj.clone()),
        };
        line(&json!({"type": kind, "object": object}))
    }

    fn bookmark(&self, rv: u64, initial_end: bool) -> Bytes {
        let mut meta = json!({"resourceVersion": rv.to_string()});
        if initial_end {
            meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        line(
            &json!({"type": "BOOKMARK", "object": {"kind": self.info.kind, "apiVersion": self.info.api_version(), "metadata": meta}}),
        )
    }
}

fn line(v: &Value) -> Bytes {
    let mut s = v.to_string();
    s.push('\n');
    Bytes::from(s)
}

fn error_event(e: &ApiError) -> Bytes {
    line(&json!({"type": "ERROR", "object": e.to_status()}))
}

/// Start a watch; the returned body streams until the timeout, a client disconnect, or
/// the double shutting down.
pub fn serve(
    store: &Mutex<Store>,
    info: ResourceInfo,
    namespace: Option<String>,
    selector: Selector,
    p: WatchParams,
) -> Result<BoxBody<Bytes, Infallible>, ApiError> {
    let filter = Filter {
        info,
        namespace,
        selector,
        table: p.table.clone(),
    };
    let (tx, rx) = futures::channel::mpsc::unbounded::<Bytes>();
    let (mut sub, mut last_rv) = {
        let store = store.lock().unwrap();
        let sub = store.subscribe();
        let current = store.current_rv();
        let rv = p.resource_version.as_deref().unwrap_or("");
        let initial_list = p.send_initial_events || rv.is_empty() || rv == "0";
        if initial_list {
            for o in store.list(&filter.info.gr(), filter.namespace.as_deref()) {
                if filter.selector.matches(&o) {
                    let _ = tx.unbounded_send(filter.event("ADDED", &o));
                }
            }
            if p.send_initial_events {
                let _ = tx.unbounded_send(filter.bookmark(current, true));
            }
        } else {
            let n: u64 = rv
                .parse()
                .map_err(|_| ApiError::bad_request(format!("invalid resource version: {rv:?}")))?;
            match store.changes_since(n) {
                Ok(changes) => {
                    for c in changes.iter().filter(|c| filter.matches(c)) {
                        let _ = tx.unbounded_send(filter.event(c.kind.as_str(), &c.object));
                    }
                }
                Err(oldest) => {
                    let _ = tx.unbounded_send(error_event(&ApiError::gone(n, oldest)));
                    drop(tx);
                    return Ok(body(rx));
                }
            }
        }
        (sub, current)
    };
    let deadline = p
        .timeout_seconds
        .map(|s| tokio::time::Instant::now() + Duration::from_secs(s));
    tokio::spawn(async move {
        let mut bookmark = tokio::time::interval(BOOKMARK_EVERY);
        bookmark.tick().await;
        let mut closed_check = tokio::time::interval(Duration::from_millis(500));
        loop {
            let timeout = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                r = sub.recv() => match r {
                    Ok(c) => {
                        last_rv = c.rv;
                        if filter.matches(&c) && tx.unbounded_send(filter.event(c.kind.as_str(), &c.object)).is_err() {
                            return;
                        }
                    }
                    Err(RecvError::Lagged(_)) => {
                        let _ = tx.unbounded_send(error_event(&ApiError::gone(last_rv, last_rv + 1)));
                        return;
                    }
                    Err(RecvError::Closed) => return,
                },
                _ = bookmark.tick(), if p.bookmarks => {
                    if tx.unbounded_send(filter.bookmark(last_rv, false)).is_err() {
                        return;
                    }
                }
                _ = closed_check.tick() => {
                    if tx.is_closed() {
                        return;
                    }
                }
                _ = timeout => return,
            }
        }
    });
    Ok(body(rx))
}

fn body(rx: futures::channel::mpsc::UnboundedReceiver<Bytes>) -> BoxBody<Bytes, Infallible> {
    BodyExt::boxed(StreamBody::new(
        rx.map(|b| Ok::<_, Infallible>(Frame::data(b))),
    ))
}

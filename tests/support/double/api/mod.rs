//! A Kubernetes API server double, for tests (never shipped).
//!
//! Real k3s cannot run in the test environment, so this module plays its API server,
//! well enough that real clients (kubectl, kube-rs) cannot tell for the operations the
//! playground uses. The flow of a request:
//! 1. [`tls`]: TLS with a generated CA; a verified client certificate authenticates the
//!    connection (like k3s' admin kubeconfig), otherwise a bearer token may;
//! 2. [`router`]: 401 for anonymous requests outside `/version` and the health checks,
//!    then dispatch by path;
//! 3. [`discovery`] and [`openapi`] describe what is served; [`resource`] runs the verbs
//!    against the [`store`], with [`apply`] for patches and server-side apply, [`select`]
//!    for selectors, [`table`] for `kubectl get` output and [`watch`] for streams;
//! 4. [`simulate`] plays the controllers (workloads become available, Argo CD
//!    Applications sync), [`tokens`] issues ServiceAccount tokens (and the router accepts
//!    them as kube-apiserver does), and [`persist`] keeps the store across restarts;
//! 5. [`argocd`] answers on Argo CD's NodePort from the same store (version, login, the CLI
//!    download), and is the `argocd` CLI stand-in it serves.
//!
//! Tests start it in-process with [`start`]; `main.rs` wraps it as a stand-in k3s node.

#![allow(dead_code)]

pub mod appcontroller;
pub mod apply;
pub mod argocd;
pub mod cluster;
pub mod discovery;
pub mod meta;
pub mod node;
pub mod openapi;
pub mod persist;
pub mod protobuf;
pub mod resource;
pub mod router;
pub mod select;
pub mod simulate;
pub mod status;
pub mod store;
pub mod table;
pub mod tls;
pub mod tokens;
pub mod watch;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use base64::Engine;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::TlsAcceptor;

#[allow(unused_imports)]
pub use simulate::{AppOutcome, Simulation};
pub use store::EventRecord;

use apply::Scope;
use store::Store;

/// How to start the double.
#[derive(Debug, Clone)]
pub struct DoubleOptions {
    /// Listen address; port 0 picks a free one.
    pub bind: SocketAddr,
    /// Extra subject alternative names for the serving certificate (k3s `--tls-san`).
    pub tls_sans: Vec<String>,
    /// Keep certificates and objects here, and reuse them on the next start.
    pub state_dir: Option<PathBuf>,
    /// A bearer token that authenticates like the admin certificate (k3s `K3S_TOKEN`).
    pub token: Option<String>,
    pub simulation: Simulation,
    /// Register a server (control-plane) Node of this name.
    pub node_name: Option<String>,
}

impl Default for DoubleOptions {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            tls_sans: Vec::new(),
            state_dir: None,
            token: None,
            simulation: Simulation::default(),
            node_name: None,
        }
    }
}

/// State shared by all connections.
pub struct Shared {
    pub store: Arc<Mutex<Store>>,
    pub token: Option<String>,
    /// What `/api` reports as the server address.
    pub server_address: String,
    /// Every request as `METHOD path?query`, in arrival order (tests count them).
    pub requests: Arc<Mutex<Vec<String>>>,
    /// The server's data (`server/` of k3s's data dir), for the HA endpoints.
    pub state_dir: Option<PathBuf>,
}

/// A started double. Dropping it without [`RunningDouble::shutdown`] leaves the tasks
/// running until the runtime ends.
pub struct RunningDouble {
    pub addr: SocketAddr,
    pub ca_pem: String,
    pub client_cert_pem: String,
    pub client_key_pem: String,
    store: Arc<Mutex<Store>>,
    requests: Arc<Mutex<Vec<String>>>,
    state_dir: Option<PathBuf>,
    stop: tokio::sync::watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

impl RunningDouble {
    /// `https://127.0.0.1:{port}` (also when listening on all interfaces).
    pub fn url(&self) -> String {
        let ip = if self.addr.ip().is_unspecified() {
            "127.0.0.1".to_string()
        } else {
            self.addr.ip().to_string()
        };
        format!("https://{ip}:{}", self.addr.port())
    }

    /// A kubeconfig like k3s writes: cluster, user and context all named `default`,
    /// authenticating with the admin client certificate.
    pub fn kubeconfig_yaml(&self, server_url: &str) -> String {
        kubeconfig_yaml(
            server_url,
            &self.ca_pem,
            Some((&self.client_cert_pem, &self.client_key_pem)),
        )
    }

    /// The object store, for doubles of other servers that answer from it ([`argocd`]).
    pub fn store(&self) -> Arc<Mutex<Store>> {
        self.store.clone()
    }

    /// The ordered log of every committed write.
    pub fn event_log(&self) -> Vec<EventRecord> {
        self.store.lock().unwrap().event_log()
    }

    /// Every request served so far, as `METHOD path?query` (e.g. to assert a client watches
    /// instead of polling).
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }

    /// All stored objects of a group and plural resource (`""`, `"nodes"`).
    pub fn objects(&self, group: &str, resource: &str) -> Vec<Value> {
        self.store
            .lock()
            .unwrap()
            .list(&(group.to_string(), resource.to_string()), None)
    }

    pub fn object(
        &self,
        group: &str,
        resource: &str,
        namespace: &str,
        name: &str,
    ) -> Option<Value> {
        self.store
            .lock()
            .unwrap()
            .get(&(group.to_string(), resource.to_string()), namespace, name)
            .cloned()
    }

    /// Register (or refresh) a Ready node, as a joining agent or server would.
    pub fn register_node(&self, name: &str, control_plane: bool) -> Result<Value> {
        register_node(&self.store, name, control_plane)
    }

    /// Forget the watch history, so resuming from an older resourceVersion gets 410 Gone.
    pub fn compact(&self) {
        self.store.lock().unwrap().compact();
    }

    /// Stop serving, end all connections and save the store (with a state dir).
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        for t in self.tasks.drain(..) {
            t.abort();
            let _ = t.await;
        }
        if let Some(dir) = &self.state_dir
            && let Err(e) = persist::save(dir, &self.store)
        {
            eprintln!("kube-double: saving store: {e:#}");
        }
    }
}

/// A kubeconfig document; without client credentials the user is anonymous.
pub fn kubeconfig_yaml(server_url: &str, ca_pem: &str, client: Option<(&str, &str)>) -> String {
    let user = match client {
        Some((cert, key)) => {
            format!(
                "    client-certificate-data: {}\n    client-key-data: {}\n",
                b64(cert),
                b64(key)
            )
        }
        None => "    {}\n".to_string(),
    };
    let user = if client.is_none() {
        "  user: {}\n".to_string()
    } else {
        format!("  user:\n{user}")
    };
    format!(
        "apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: {}\n    server: {server_url}\n  name: default\ncontexts:\n- context:\n    cluster: default\n    user: default\n  name: default\ncurrent-context: default\nkind: Config\npreferences: {{}}\nusers:\n- name: default\n{user}",
        b64(ca_pem)
    )
}

fn register_node(store: &Mutex<Store>, name: &str, control_plane: bool) -> Result<Value> {
    let mut store = store.lock().unwrap();
    let info = discovery::resolve(&store, "", "v1", "nodes").context("nodes are served")?;
    let opts = resource::WriteOpts {
        manager: "k3s".into(),
        dry_run: false,
    };
    let existing = store.get(&info.gr(), "", name).cloned();
    let obj = match existing {
        None => resource::create(
            &mut store,
            &info,
            None,
            node::node_object(name, control_plane),
            &opts,
        )?,
        Some(live) => {
            let mut new = live.clone();
            new["status"] = node::node_status(name);
            resource::commit(
                &mut store,
                &info,
                Some(&live),
                new,
                Scope::Status,
                Some("k3s"),
                false,
            )?
        }
    };
    Ok(obj)
}

/// The namespaces every cluster starts with.
fn bootstrap(store: &Mutex<Store>) -> Result<()> {
    let mut store = store.lock().unwrap();
    let info =
        discovery::resolve(&store, "", "v1", "namespaces").context("namespaces are served")?;
    let opts = resource::WriteOpts {
        manager: "k3s".into(),
        dry_run: false,
    };
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        if store.get(&info.gr(), "", ns).is_none() {
            let obj = serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
            resource::create(&mut store, &info, None, obj, &opts)?;
        }
    }
    Ok(())
}

fn hostname() -> Option<String> {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
}

/// Start serving. Returns once the listener is bound.
pub async fn start(opts: DoubleOptions) -> Result<RunningDouble> {
    // Several providers could be compiled in; pick ring explicitly so nothing panics.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let pki = tls::Pki::load_or_generate(opts.state_dir.as_deref())?;
    let mut sans = opts.tls_sans.clone();
    sans.extend(hostname());
    if !opts.bind.ip().is_unspecified() {
        sans.push(opts.bind.ip().to_string());
    }
    let acceptor = TlsAcceptor::from(Arc::new(pki.server_config(&sans)?));

    let mut store = Store::new();
    if let Some(dir) = &opts.state_dir {
        std::fs::create_dir_all(dir)?;
        persist::load(dir, &mut store)?;
    }
    let store = Arc::new(Mutex::new(store));
    bootstrap(&store)?;
    if let Some(name) = &opts.node_name {
        register_node(&store, name, true)?;
    }

    let listener = TcpListener::bind(opts.bind)
        .await
        .with_context(|| format!("binding {}", opts.bind))?;
    let addr = listener.local_addr()?;
    let requests = Arc::new(Mutex::new(Vec::new()));
    let shared = Arc::new(Shared {
        store: store.clone(),
        token: opts.token.clone(),
        server_address: addr.to_string(),
        requests: requests.clone(),
        state_dir: opts.state_dir.clone(),
    });
    let (stop, mut stop_rx) = tokio::sync::watch::channel(false);

    let mut tasks = vec![
        simulate::spawn(store.clone(), opts.simulation.clone()),
        appcontroller::spawn(store.clone(), opts.simulation.clone()),
        tokens::spawn(store.clone(), pki.ca_pem.clone()),
    ];
    if let Some(dir) = &opts.state_dir {
        tasks.push(persist::spawn(dir.clone(), store.clone()));
    }
    tasks.push(tokio::spawn(async move {
        // Connections live in this set; dropping it on shutdown aborts them all.
        let mut conns = JoinSet::new();
        loop {
            tokio::select! {
                _ = stop_rx.changed() => return,
                Some(_) = conns.join_next(), if !conns.is_empty() => {}
                accepted = listener.accept() => {
                    let Ok((tcp, _)) = accepted else { continue };
                    let (acceptor, shared) = (acceptor.clone(), shared.clone());
                    conns.spawn(async move {
                        let _ = tcp.set_nodelay(true);
                        let Ok(Ok(tls)) = tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await else {
                            return;
                        };
                        // rustls only keeps peer certificates that verified against the CA.
                        let client_cert = tls.get_ref().1.peer_certificates().is_some_and(|c| !c.is_empty());
                        let svc = service_fn(move |req| {
                            let shared = shared.clone();
                            async move { Ok::<_, Infallible>(router::route(shared, client_cert, req).await) }
                        });
                        let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                            .serve_connection(TokioIo::new(tls), svc)
                            .await;
                    });
                }
            }
        }
    }));

    Ok(RunningDouble {
        addr,
        ca_pem: pki.ca_pem,
        client_cert_pem: pki.client_cert_pem,
        client_key_pem: pki.client_key_pem,
        store,
        requests,
        state_dir: opts.state_dir,
        stop,
        tasks,
    })
}

//! Argo CD's HTTP side, doubled: the part of `argocd-server` a lab reaches on its NodePort
//! (30080, published on `argocd.ui.port`), and an `argocd` CLI stand-in it serves for download.
//! Just what `playground argocd` uses, answering from the API double's store the way the real
//! server answers from the cluster:
//! - nothing answers (each connection is closed at once) until a Service `argocd-server` with
//!   NodePort 30080 exists: before that, kube-proxy routes the port nowhere;
//! - `GET /api/version`: `{"Version": "<tag>+double"}`, the tag of the `argocd-server`
//!   Deployment's image, so a test upgrades the "server" by changing the image;
//! - `POST /api/v1/session` (`Content-Type: application/json` only, as argocd-server enforces):
//!   `admin` and the password in `argocd-initial-admin-secret` get a new token, in the body and
//!   as the `argocd.token` cookie, as argocd-server's gateway sets it;
//! - `GET /api/v1/session/userinfo`: who a token (`Authorization: Bearer`) belongs to;
//! - `GET /download/argocd-linux-<arch>`: the CLI file, for the double's own platform only
//!   (argocd-server registers only its own: `registerDownloadHandlers` in server/server.go).
//!   Each download prints a line, so tests count them in the node's log.
//!
//! The CLI file is the double's own executable: started under the name `argocd`, it runs
//! [`fake_cli`], which checks its token with the server and reports what it was given.

use std::collections::HashSet;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Method, Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use super::store::Store;

/// The NodePort of argocd-server's http port in a lab.
pub const NODE_PORT: u16 = 30080;
/// Where the fake CLI writes what it was given (args, environment, whether it is logged in).
pub const REPORT_ENV: &str = "ARGOCD_DOUBLE_REPORT";
/// The exit status the fake CLI ends with (default 0).
pub const EXIT_ENV: &str = "ARGOCD_DOUBLE_EXIT";
/// The token cookie argocd-server sets (`common.AuthCookieName`).
const COOKIE: &str = "argocd.token";

/// A serving Argo CD HTTP double.
pub struct ArgoCdHttp {
    pub addr: SocketAddr,
    downloads: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl ArgoCdHttp {
    /// How many times the CLI was downloaded.
    pub fn downloads(&self) -> usize {
        self.downloads.load(Ordering::SeqCst)
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.addr.port())
    }

    pub fn stop(self) {
        self.task.abort();
    }
}

struct State {
    store: Arc<Mutex<Store>>,
    cli: PathBuf,
    tokens: Mutex<HashSet<String>>,
    downloads: Arc<AtomicUsize>,
}

/// Serve on `bind`, answering from `store`; `cli` is the file served as the CLI.
pub async fn serve(bind: SocketAddr, store: Arc<Mutex<Store>>, cli: PathBuf) -> Result<ArgoCdHttp> {
    let listener = TcpListener::bind(bind)
        .await
        .with_context(|| format!("binding {bind}"))?;
    let addr = listener.local_addr()?;
    let downloads = Arc::new(AtomicUsize::new(0));
    let state = Arc::new(State {
        store,
        cli,
        tokens: Mutex::new(HashSet::new()),
        downloads: downloads.clone(),
    });
    let task = tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            // No Service, no route: the connection ends before a byte is read.
            let Some(namespace) = installed_namespace(&state.store) else {
                drop(tcp);
                continue;
            };
            let state = state.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req| {
                    let (state, namespace) = (state.clone(), namespace.clone());
                    async move { Ok::<_, Infallible>(handle(&state, &namespace, req).await) }
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tcp), svc)
                    .await;
            });
        }
    });
    Ok(ArgoCdHttp {
        addr,
        downloads,
        task,
    })
}

fn gr(group: &str, resource: &str) -> (String, String) {
    (group.to_string(), resource.to_string())
}

/// The namespace of the Service `argocd-server` that has a port on [`NODE_PORT`].
fn installed_namespace(store: &Mutex<Store>) -> Option<String> {
    let store = store.lock().unwrap();
    store
        .list(&gr("", "services"), None)
        .into_iter()
        .find(|s| {
            s["metadata"]["name"] == "argocd-server"
                && s["spec"]["ports"]
                    .as_array()
                    .is_some_and(|ps| ps.iter().any(|p| p["nodePort"] == NODE_PORT))
        })
        .and_then(|s| s["metadata"]["namespace"].as_str().map(str::to_string))
}

type Body = http_body_util::combinators::BoxBody<Bytes, Infallible>;

fn respond(status: u16, content_type: &str, body: impl Into<Bytes>) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(Full::new(body.into()).boxed())
        .unwrap()
}

/// A gRPC-gateway error, as argocd-server writes them.
fn grpc_error(status: u16, code: u32, message: &str) -> Response<Body> {
    respond(
        status,
        "application/json",
        json!({"error": message, "code": code, "message": message}).to_string(),
    )
}

/// Go's net/http answer for an unknown path.
fn not_found() -> Response<Body> {
    respond(404, "text/plain; charset=utf-8", "404 page not found\n")
}

/// The double's own platform in Go's names, e.g. `linux-amd64`.
fn own_platform() -> String {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    format!("{}-{arch}", std::env::consts::OS)
}

async fn handle(state: &State, namespace: &str, req: Request<Incoming>) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let path = parts.uri.path().to_string();
    match (&parts.method, path.as_str()) {
        (&Method::GET, "/api/version") => match server_version(state, namespace) {
            Some(v) => respond(
                200,
                "application/json",
                json!({"Version": v, "Platform": own_platform().replace('-', "/")}).to_string(),
            ),
            None => grpc_error(503, 14, "argocd-server is not running"),
        },
        (&Method::POST, "/api/v1/session") => {
            if !header("content-type").starts_with("application/json") {
                return respond(415, "text/plain; charset=utf-8", "Invalid content type\n");
            }
            let body = body
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            let asked: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let password = admin_password(state, namespace);
            let valid = asked["username"] == "admin"
                && password.is_some()
                && asked["password"].as_str() == password.as_deref();
            if !valid {
                return grpc_error(401, 16, "Invalid username or password");
            }
            let token = new_token();
            state.tokens.lock().unwrap().insert(token.clone());
            let mut r = respond(200, "application/json", json!({"token": token}).to_string());
            r.headers_mut().insert(
                "set-cookie",
                format!("{COOKIE}={token}; path=/; SameSite=lax; httpOnly")
                    .parse()
                    .unwrap(),
            );
            r
        }
        (&Method::GET, "/api/v1/session/userinfo") => {
            let bearer = header("authorization")
                .strip_prefix("Bearer ")
                .map(str::to_string)
                .unwrap_or_default();
            if state.tokens.lock().unwrap().contains(&bearer) {
                respond(
                    200,
                    "application/json",
                    json!({"loggedIn": true, "username": "admin", "iss": "argocd"}).to_string(),
                )
            } else {
                respond(
                    200,
                    "application/json",
                    json!({"loggedIn": false}).to_string(),
                )
            }
        }
        (&Method::GET, p) if p == format!("/download/argocd-{}", own_platform()) => {
            match tokio::fs::read(&state.cli).await {
                Ok(bytes) => {
                    state.downloads.fetch_add(1, Ordering::SeqCst);
                    eprintln!(
                        "argocd-server (double): GET {p} 200 ({} bytes)",
                        bytes.len()
                    );
                    respond(200, "application/octet-stream", bytes)
                }
                Err(e) => respond(500, "text/plain", format!("reading the CLI: {e}\n")),
            }
        }
        _ => not_found(),
    }
}

/// `<image tag>+double` of the argocd-server Deployment, like `v3.5.1+6c2a6f1`.
fn server_version(state: &State, namespace: &str) -> Option<String> {
    let store = state.store.lock().unwrap();
    let deployment = store.get(&gr("apps", "deployments"), namespace, "argocd-server")?;
    let image = deployment["spec"]["template"]["spec"]["containers"][0]["image"].as_str()?;
    let tag = image
        .rsplit_once(':')
        .map(|(_, t)| t)
        .filter(|t| !t.contains('/'))?;
    Some(format!("{tag}+double"))
}

fn admin_password(state: &State, namespace: &str) -> Option<String> {
    let store = state.store.lock().unwrap();
    let secret = store.get(&gr("", "secrets"), namespace, "argocd-initial-admin-secret")?;
    let encoded = secret["data"]["password"].as_str()?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()?;
    String::from_utf8(bytes).ok()
}

fn new_token() -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!(
        "double.{}.{nanos:x}{:x}",
        N.fetch_add(1, Ordering::SeqCst),
        std::process::id()
    )
}

/// Whether this process was started as the CLI (the downloaded file is named `argocd`).
pub fn invoked_as_cli() -> bool {
    std::env::args_os()
        .next()
        .map(PathBuf::from)
        .is_some_and(|p| p.file_name().is_some_and(|n| n == "argocd"))
}

/// The `argocd` stand-in. Like the real CLI it takes the server from `ARGOCD_SERVER`, the
/// token from `ARGOCD_AUTH_TOKEN` and default flags from `ARGOCD_OPTS`; it asks the server
/// who the token belongs to, writes a JSON report to `$ARGOCD_DOUBLE_REPORT` (its arguments,
/// those variables, its whole command line as /proc shows it to other users), prints one line,
/// and exits with `$ARGOCD_DOUBLE_EXIT`. Not logged in, it fails as the real CLI does (20).
pub fn fake_cli() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let env = |k: &str| std::env::var(k).unwrap_or_default();
    let (server, token, opts) = (
        env("ARGOCD_SERVER"),
        env("ARGOCD_AUTH_TOKEN"),
        env("ARGOCD_OPTS"),
    );
    if server.is_empty() {
        eprintln!("level=fatal msg=\"Argo CD server address unspecified\"");
        return ExitCode::from(20);
    }
    let scheme = if opts.split_whitespace().any(|o| o == "--plaintext") {
        "http"
    } else {
        "https"
    };
    let userinfo = ureq::get(format!("{scheme}://{server}/api/v1/session/userinfo"))
        .header("authorization", format!("Bearer {token}"))
        .call()
        .ok()
        .and_then(|mut r| r.body_mut().read_to_string().ok())
        .and_then(|s| serde_json::from_str::<Value>(&s).ok())
        .unwrap_or(Value::Null);
    let cmdline: Vec<String> = std::fs::read("/proc/self/cmdline")
        .map(|b| {
            // Every word ends in a NUL; empty words are arguments too.
            b.strip_suffix(&[0])
                .unwrap_or(&b)
                .split(|c| *c == 0)
                .map(|w| String::from_utf8_lossy(w).into_owned())
                .collect()
        })
        .unwrap_or_default();
    let report = json!({
        "args": args,
        "cmdline": cmdline,
        "server": server,
        "opts": opts,
        "token": token,
        "loggedIn": userinfo["loggedIn"],
        "username": userinfo["username"],
    });
    if let Ok(path) = std::env::var(REPORT_ENV) {
        let _ = std::fs::write(path, report.to_string());
    }
    if userinfo["loggedIn"] != true {
        eprintln!("level=fatal msg=\"rpc error: code = Unauthenticated desc = invalid session\"");
        return ExitCode::from(20);
    }
    println!("argocd (double) ran: {}", args.join(" "));
    ExitCode::from(env(EXIT_ENV).parse::<u8>().unwrap_or(0))
}

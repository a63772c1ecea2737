//! `kube-double`: a stand-in k3s node for tests, built on the in-process API double.
//!
//! It is put into a scratch image as `/bin/k3s` and, seen from outside (k3d-style
//! tooling, kubectl), behaves like a k3s node:
//! - `k3s server [flags]`: serves the Kubernetes API on `0.0.0.0:6443` (or
//!   `--https-listen-port`), keeps certificates and objects in
//!   `/var/lib/rancher/k3s/server`, registers its own control-plane Node, writes an
//!   admin kubeconfig to `$K3S_KUBECONFIG_OUTPUT` (default `/etc/rancher/k3s/k3s.yaml`,
//!   mode 0600) and prints the log lines k3d waits for (`Running kube-apiserver`,
//!   `Containerd is now running`, `k3s is up and running`). Unknown k3s flags are ignored.
//! - `k3s agent`: with `K3S_URL` and `K3S_TOKEN`, registers a Node with the server
//!   (retrying until it answers), prints `Successfully registered node <name>`, then
//!   heartbeats every 10 s.
//! - `kube-double serve --port N --kubeconfig-out PATH`: the API alone on 127.0.0.1,
//!   for benchmarks and manual poking.
//! - Started as `nginx`, it is the load balancer's stand-in (`nginx.rs`).
//! - Started as `kubectl` (the image's link, as in the real image) or as `k3s kubectl`, it runs
//!   `kubectl get --raw PATH` with kubectl's errors (`kubectl.rs`).
//! - Started as `playground-test-https-get` (test support), it makes one HTTPS request with a
//!   CA file and a bearer token file and prints the status (`https_get.rs`).
//! - Servers with `--cluster-init` or `K3S_URL` model embedded etcd's membership and quorum
//!   (`api::cluster`).
//! - A server also plays argocd-server on its NodePort 30080 (`api::argocd`), and this binary,
//!   downloaded from there and started as `argocd`, plays the Argo CD CLI.
//!
//! Every mode exits 0 on SIGTERM or SIGINT.

mod api;
mod https_get;
mod kubectl;
mod nginx;
mod strict;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, Patch, PatchParams, PostParams};

const DEFAULT_KUBECONFIG: &str = "/etc/rancher/k3s/k3s.yaml";
const DEFAULT_DATA_DIR: &str = "/var/lib/rancher/k3s";

/// A k3s-style (logrus) log line on stderr.
fn log(level: &str, msg: &str) {
    eprintln!(
        "time=\"{}\" level={level} msg=\"{}\"",
        api::meta::now_rfc3339(),
        msg.replace('"', "\\\"")
    );
}

/// The k3s flags the double honours; everything else is accepted and ignored.
#[derive(Debug, Default)]
struct Flags {
    tls_sans: Vec<String>,
    port: Option<u16>,
    cluster_init: bool,
    node_name: Option<String>,
    token: Option<String>,
    server: Option<String>,
    data_dir: Option<String>,
    kubeconfig_out: Option<String>,
    resolv_conf: Option<String>,
    /// `--kubelet-arg` values, in order.
    kubelet_args: Vec<String>,
    /// `--kube-proxy-arg` values, in order.
    kube_proxy_args: Vec<String>,
}

fn parse_flags(args: &[String]) -> Result<Flags> {
    let mut f = Flags::default();
    let mut i = 0;
    while i < args.len() {
        let arg = args[i].as_str();
        i += 1;
        if !arg.starts_with('-') {
            continue;
        }
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) => (n.trim_start_matches('-'), Some(v.to_string())),
            None => (arg.trim_start_matches('-'), None),
        };
        const BOOLS: &[&str] = &[
            "cluster-init",
            "disable-agent",
            "debug",
            "v",
            "secrets-encryption",
            "write-kubeconfig-mode-force",
        ];
        let mut value = || -> Result<String> {
            if let Some(v) = inline.clone() {
                return Ok(v);
            }
            let v = args
                .get(i)
                .cloned()
                .with_context(|| format!("flag --{name} needs a value"))?;
            i += 1;
            Ok(v)
        };
        match name {
            "tls-san" => f.tls_sans.push(value()?),
            "https-listen-port" | "port" => {
                f.port = Some(value()?.parse().context("--https-listen-port")?)
            }
            "cluster-init" => f.cluster_init = inline.as_deref().is_none_or(|v| v != "false"),
            "node-name" => f.node_name = Some(value()?),
            "token" | "t" => f.token = Some(value()?),
            "server" | "s" => f.server = Some(value()?),
            "data-dir" | "d" => f.data_dir = Some(value()?),
            "write-kubeconfig" | "o" | "kubeconfig-out" => f.kubeconfig_out = Some(value()?),
            "resolv-conf" => f.resolv_conf = Some(value()?),
            "kubelet-arg" => f.kubelet_args.push(value()?),
            "kube-proxy-arg" => f.kube_proxy_args.push(value()?),
            _ if BOOLS.contains(&name) || inline.is_some() => {}
            // An unknown flag with a separate value (`--disable traefik`); k3s has no
            // positional arguments, so the next non-flag word belongs to it.
            _ => {
                if args.get(i).is_some_and(|n| !n.starts_with('-')) {
                    i += 1;
                }
            }
        }
    }
    Ok(f)
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn hostname() -> String {
    env("HOSTNAME")
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|h| h.trim().to_string())
                .filter(|h| !h.is_empty())
        })
        .unwrap_or_else(|| "localhost".into())
}

fn write_kubeconfig(path: &Path, yaml: &str) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    api::persist::write_atomic(path, yaml.as_bytes())?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(())
}

/// What k3s's agent side (kubelet, containerd) requires of the container, checked at start as
/// real k3s would meet it (see [`strict`]). A broken cgroup setup ends the process, as kubelet
/// ends real k3s; the other faults are logged in the upstream's words and the harness fails
/// the test that sees them.
fn check_container(f: &Flags, node_name: &str) -> Result<()> {
    if let Some(e) = strict::cgroup_error() {
        eprintln!("E0000 kubelet.go:1703] \"{e}");
        bail!("kubelet exited: {e}");
    }
    if let Err(e) = strict::kubelet_args_check(&f.kubelet_args) {
        eprintln!("E0000 server.go:217] \"{e}");
        bail!("kubelet exited: {e}");
    }
    if let Some(e) = strict::mount_error() {
        log("error", &e);
    }
    let (notes, complaint) = strict::ca_check();
    notes.iter().for_each(|n| log("info", n));
    if let Some(e) = complaint {
        log("error", &e);
    }
    let (lines, complaint) = strict::br_netfilter_check(&f.kube_proxy_args);
    lines.iter().for_each(|l| log("warning", l));
    if let Some(e) = complaint {
        log("error", &e);
    }
    // k3s reads registries.yaml at start: a file it cannot read stops it, endpoints it cannot
    // parse are dropped with a warning (see `strict::registries_check`).
    match std::fs::read_to_string(strict::REGISTRIES_YAML) {
        Ok(text) => match strict::registries_check(&text) {
            Ok(warnings) => warnings.iter().for_each(|w| log("warning", w)),
            Err(e) => bail!("{e}"),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => bail!("{}: {e}", strict::REGISTRIES_YAML),
    }
    let (resolv, warning) = strict::kubelet_resolv_conf(f.resolv_conf.as_deref());
    match warning {
        Some(w) => log("warning", w),
        None => {
            if let Some(e) = strict::pod_dns_error(&resolv, node_name) {
                log("error", &e);
            }
        }
    }
    Ok(())
}

/// Sleep for the milliseconds a stand-in knob names (0 when unset): the boot times a real node
/// takes, for `scripts/bench` to model the critical path of `up`.
async fn boot_delay(knob: &str) {
    let ms: u64 = env(knob).and_then(|v| v.parse().ok()).unwrap_or(0);
    if ms > 0 {
        log("info", &format!("{knob}={ms}: booting"));
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
}

/// Resolves on SIGTERM or SIGINT.
async fn terminated() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

/// A client for a remote server, authenticating with the join token.
async fn token_client(url: &str, token: &str) -> Result<kube::Client> {
    // Real k3s agents pin the server CA by the hash inside the token; the double skips
    // verification instead. Acceptable for a test double, never for anything real.
    let yaml = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: default\n  cluster:\n    server: {url}\n    insecure-skip-tls-verify: true\ncontexts:\n- name: default\n  context:\n    cluster: default\n    user: default\ncurrent-context: default\nusers:\n- name: default\n  user:\n    token: {token:?}\n"
    );
    let kc = kube::config::Kubeconfig::from_yaml(&yaml)?;
    let cfg = kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
        .await?;
    Ok(kube::Client::try_from(cfg)?)
}

/// Create the Node, or mark an existing one Ready again (a restarted node).
async fn register(client: &kube::Client, name: &str, control_plane: bool) -> Result<()> {
    let nodes: Api<Node> = Api::all(client.clone());
    let node: Node = serde_json::from_value(api::node::node_object(name, control_plane))?;
    match nodes
        .create(
            &PostParams {
                field_manager: Some("k3s".into()),
                ..Default::default()
            },
            &node,
        )
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 409 => heartbeat(client, name).await,
        Err(e) => Err(e.into()),
    }
}

async fn heartbeat(client: &kube::Client, name: &str) -> Result<()> {
    let nodes: Api<Node> = Api::all(client.clone());
    let patch = serde_json::json!({"status": api::node::node_status(name)});
    nodes
        .patch_status(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    Ok(())
}

/// The server's node-password check: the first registration of a node name stores the hash of
/// its password in `kube-system/<node>.node-password.k3s`; a later one with another password is
/// refused (k3s `pkg/nodepassword/nodepassword.go` `Ensure`, called by the supervisor when the
/// agent asks for its kubelet certificate). The double keeps the same Secret in its store.
async fn check_node_password(client: &kube::Client, name: &str, password: &str) -> Result<()> {
    use base64::Engine as _;
    use k8s_openapi::api::core::v1::Secret;
    use sha2::{Digest, Sha256};
    let secrets: Api<Secret> = Api::namespaced(client.clone(), "kube-system");
    let secret_name = format!("{name}.node-password.k3s");
    let hash = format!("{:x}", Sha256::digest(password.as_bytes()));
    match secrets.get_opt(&secret_name).await? {
        Some(s) => {
            let stored = s
                .data
                .and_then(|d| {
                    d.get("hash")
                        .map(|h| String::from_utf8_lossy(&h.0).into_owned())
                })
                .unwrap_or_default();
            if stored != hash {
                bail!("{}", strict::NODE_PASSWORD_REJECTED);
            }
        }
        None => {
            let secret: Secret = serde_json::from_value(serde_json::json!({
                "apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": secret_name, "namespace": "kube-system"},
                "immutable": true,
                "type": "k3s.cattle.io/node-password",
                "data": {"hash": base64::engine::general_purpose::STANDARD.encode(&hash)},
            }))?;
            secrets.create(&PostParams::default(), &secret).await?;
        }
    }
    Ok(())
}

/// The etcd members the server at `client` knows (empty without embedded etcd).
async fn members_of(client: &kube::Client) -> Result<Vec<String>> {
    let req = http::Request::get("/v1-k3s/double-members").body(Vec::new())?;
    Ok(serde_json::from_str(&client.request_text(req).await?)?)
}

/// `https://NAME:6443`.
fn member_url(name: &str) -> String {
    format!("https://{name}:6443")
}

/// Register (or heartbeat) with every other member of the cluster `client` is part of, one
/// try each: each stand-in server keeps its own store, so a node appears in all of them.
async fn register_with_members(
    client: &kube::Client,
    url: &str,
    token: &str,
    name: &str,
    control_plane: bool,
) {
    let Ok(members) = members_of(client).await else {
        return;
    };
    for m in members {
        let mu = member_url(&m);
        if m == name || mu == url {
            continue;
        }
        if let Ok(c) = token_client(&mu, token).await {
            let _ = tokio::time::timeout(Duration::from_secs(3), register(&c, name, control_plane))
                .await;
        }
    }
}

/// Register with the server at `url` (retrying until it answers) and the other etcd members,
/// then heartbeat forever.
async fn join(url: String, token: String, name: String, control_plane: bool) -> Result<()> {
    let client = token_client(&url, &token).await?;
    let password = strict::node_password().context("writing the node password")?;
    loop {
        let attempt = async {
            check_node_password(&client, &name, &password).await?;
            register(&client, &name, control_plane).await
        };
        match attempt.await {
            Ok(()) => break,
            Err(e) if e.to_string().contains(strict::NODE_PASSWORD_REJECTED) => {
                // k3s's agent retries too; the node never registers.
                log(
                    "error",
                    &format!("Failed to retrieve agent configuration: {e}"),
                );
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
            Err(e) => {
                log(
                    "info",
                    &format!("Waiting to retrieve agent configuration; server is not ready: {e}"),
                );
                // Short, so an agent started with its server registers as soon as it answers.
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        }
    }
    register_with_members(&client, &url, &token, &name, control_plane).await;
    eprintln!("I0000 kubelet_node_status.go:75] \"Successfully registered node\" node=\"{name}\"");
    log("info", &format!("Successfully registered node {name}"));
    loop {
        tokio::time::sleep(Duration::from_secs(5)).await;
        if let Err(e) = heartbeat(&client, &name).await {
            log(
                "warning",
                &format!("Failed to update node {name} status: {e}"),
            );
        }
        register_with_members(&client, &url, &token, &name, control_plane).await;
    }
}

/// A joining server's first start: fetch the cluster CA from the server it joins (so one
/// kubeconfig is trusted by every server, as in k3s) and become an etcd member there.
async fn join_cluster(url: &str, token: &str, name: &str, state_dir: &Path) -> Result<()> {
    let client = token_client(url, token).await?;
    loop {
        let tried = async {
            let req = http::Request::get("/v1-k3s/server-bootstrap").body(Vec::new())?;
            let data: serde_json::Value = serde_json::from_str(&client.request_text(req).await?)?;
            let req = http::Request::post("/v1-k3s/double-members")
                .header("content-type", "application/json")
                .body(serde_json::to_vec(&[name])?)?;
            let members: Vec<String> = serde_json::from_str(&client.request_text(req).await?)?;
            Ok::<_, anyhow::Error>((data, members))
        }
        .await;
        match tried {
            Ok((data, members)) => {
                api::cluster::write_bootstrap(state_dir, &data)?;
                api::cluster::add_members(state_dir, &members)?;
                return Ok(());
            }
            Err(e) if format!("{e:#}").contains("not running embedded etcd") => return Err(e),
            Err(e) => {
                log(
                    "info",
                    &format!("Failed to retrieve bootstrap data from {url}: {e:#}"),
                );
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
        }
    }
}

/// Keep the member list current: pull every member's list and merge it (etcd spreads
/// membership through its peers).
async fn gossip_members(token: String, name: String, state_dir: PathBuf) {
    loop {
        for m in api::cluster::read_members(&state_dir).unwrap_or_default() {
            if m == name {
                continue;
            }
            let Ok(c) = token_client(&member_url(&m), &token).await else {
                continue;
            };
            if let Ok(Ok(list)) = tokio::time::timeout(Duration::from_secs(2), members_of(&c)).await
            {
                let _ = api::cluster::add_members(&state_dir, &list);
            }
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

/// How many members answer on 6443 (this one included).
async fn reachable_members(members: &[String], me: &str) -> usize {
    let mut n = 1;
    for m in members.iter().filter(|m| *m != me) {
        let connect = tokio::net::TcpStream::connect((m.as_str(), 6443));
        if let Ok(Ok(_)) = tokio::time::timeout(Duration::from_secs(1), connect).await {
            n += 1;
        }
    }
    n
}

async fn server(args: &[String]) -> Result<()> {
    let f = parse_flags(args)?;
    log(
        "info",
        &format!("Starting k3s {} (kube-double)", api::node::K3S_VERSION),
    );
    let port = f.port.unwrap_or(6443);
    let node_name = f
        .node_name
        .clone()
        .or_else(|| env("K3S_NODE_NAME"))
        .unwrap_or_else(hostname);
    let data_dir = PathBuf::from(
        f.data_dir
            .clone()
            .unwrap_or_else(|| DEFAULT_DATA_DIR.into()),
    );
    check_container(&f, &node_name)?;
    // A real server takes seconds before its API answers (about 10 s to a Ready server, k3d
    // #858); the benchmark sets this to model it, the tests leave it at 0.
    boot_delay("PLAYGROUND_STANDIN_SERVER_BOOT_MS").await;
    let token = f.token.clone().or_else(|| env("K3S_TOKEN"));
    let join_url = f.server.clone().or_else(|| env("K3S_URL"));
    let state_dir = data_dir.join("server");
    // A member from an earlier start comes back to an existing etcd cluster.
    let restarted_member = api::cluster::read_members(&state_dir);
    if restarted_member.is_none() {
        if let Some(url) = &join_url {
            let token = token.clone().unwrap_or_default();
            join_cluster(url, &token, &node_name, &state_dir).await?;
        } else if f.cluster_init {
            log("info", "Managed etcd cluster initializing");
            api::cluster::add_members(&state_dir, std::slice::from_ref(&node_name))?;
        }
    }
    log(
        "info",
        &format!(
            "Running kube-apiserver --advertise-port={port} --allow-privileged=true --anonymous-auth=false --authorization-mode=Node,RBAC --bind-address=0.0.0.0 --secure-port={port} --tls-cert-file={}/server/tls/serving-kube-apiserver.crt",
            data_dir.display()
        ),
    );
    let mut sans = f.tls_sans.clone();
    sans.push(node_name.clone());
    let running = api::start(api::DoubleOptions {
        bind: ([0, 0, 0, 0], port).into(),
        tls_sans: sans,
        state_dir: Some(state_dir.clone()),
        token,
        simulation: api::Simulation::from_env(),
        node_name: Some(node_name.clone()),
    })
    .await?;
    log("info", "Containerd is now running");
    // argocd-server's NodePort, answered from the store (it stays silent until Argo CD is
    // installed). The CLI it serves is this very executable.
    let argocd = match api::argocd::serve(
        ([0, 0, 0, 0], api::argocd::NODE_PORT).into(),
        running.store(),
        PathBuf::from("/proc/self/exe"),
    )
    .await
    {
        Ok(a) => Some(a),
        Err(e) => {
            log(
                "warning",
                &format!("Argo CD NodePort double not served: {e:#}"),
            );
            None
        }
    };
    let out = f
        .kubeconfig_out
        .clone()
        .or_else(|| env("K3S_KUBECONFIG_OUTPUT"))
        .unwrap_or_else(|| DEFAULT_KUBECONFIG.into());
    write_kubeconfig(
        Path::new(&out),
        &running.kubeconfig_yaml(&format!("https://127.0.0.1:{port}")),
    )?;
    log("info", &format!("Wrote kubeconfig {out}"));
    let token = env("K3S_TOKEN").or(f.token.clone()).unwrap_or_default();
    let gossip = api::cluster::read_members(&state_dir).map(|_| {
        tokio::spawn(gossip_members(
            token.clone(),
            node_name.clone(),
            state_dir.clone(),
        ))
    });
    // A restarted etcd member is ready only with a quorum of the members (see `api::cluster`).
    if let Some(members) = restarted_member.filter(|m| m.len() > 1) {
        let need = api::cluster::quorum(members.len());
        let mut said = std::time::Instant::now() - Duration::from_secs(60);
        loop {
            let members = api::cluster::read_members(&state_dir).unwrap_or(members.clone());
            if reachable_members(&members, &node_name).await >= need {
                break;
            }
            // k3s says this every 30 s; the stand-in every 5 s.
            if said.elapsed() >= Duration::from_secs(5) {
                log("info", "Waiting for etcd server to become available");
                said = std::time::Instant::now();
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                _ = terminated() => return Ok(()),
            }
        }
    }
    let joiner = if let Some(url) = join_url {
        // Each stand-in server keeps its own store: it copies the Nodes of the server it
        // joins, and appears (through `join`) in every member's store.
        if let Ok(client) = token_client(&url, &token).await
            && let Ok(nodes) = Api::<Node>::all(client).list(&Default::default()).await
        {
            for n in nodes {
                let name = n.metadata.name.clone().unwrap_or_default();
                let cp = n
                    .metadata
                    .labels
                    .as_ref()
                    .is_some_and(|l| l.contains_key("node-role.kubernetes.io/control-plane"));
                if name != node_name {
                    let _ = running.register_node(&name, cp);
                }
            }
        }
        Some(tokio::spawn(join(
            url,
            token.clone(),
            node_name.clone(),
            true,
        )))
    } else {
        None
    };
    log("info", "k3s is up and running");
    eprintln!(
        "I0000 kubelet_node_status.go:75] \"Successfully registered node\" node=\"{node_name}\""
    );
    terminated().await;
    log("info", "Received SIGTERM, shutting down");
    // A test knob: a line printed on the way out, as a late line of this run, so it lands as
    // close as it can to the next start (`faults.rs` proves resume's wait ignores it).
    if let Some(words) = env("PLAYGROUND_STANDIN_LAST_WORDS") {
        println!("{words}");
    }
    if let Some(j) = joiner {
        j.abort();
    }
    if let Some(g) = gossip {
        g.abort();
    }
    if let Some(a) = argocd {
        a.stop();
    }
    running.shutdown().await;
    Ok(())
}

async fn agent(args: &[String]) -> Result<()> {
    let f = parse_flags(args)?;
    let Some(url) = f.server.clone().or_else(|| env("K3S_URL")) else {
        bail!("--server (K3S_URL) is required to run an agent");
    };
    let Some(token) = f.token.clone().or_else(|| env("K3S_TOKEN")) else {
        bail!("--token (K3S_TOKEN) is required to join a cluster");
    };
    let name = f
        .node_name
        .clone()
        .or_else(|| env("K3S_NODE_NAME"))
        .unwrap_or_else(hostname);
    log(
        "info",
        &format!(
            "Starting k3s agent {} (kube-double)",
            api::node::K3S_VERSION
        ),
    );
    check_container(&f, &name)?;
    // An agent's own boot (containerd, kubelet) before it first asks the server; it then
    // retries until the server answers, as a real agent does, so it never registers early.
    boot_delay("PLAYGROUND_STANDIN_AGENT_BOOT_MS").await;
    log("info", "Containerd is now running");
    tokio::select! {
        r = join(url, token, name, false) => r,
        _ = terminated() => Ok(()),
    }
}

async fn serve(args: &[String]) -> Result<()> {
    let mut port = 0u16;
    let mut out: Option<String> = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--port" => port = it.next().context("--port needs a value")?.parse()?,
            "--kubeconfig-out" => {
                out = Some(it.next().context("--kubeconfig-out needs a value")?.clone())
            }
            other => bail!(
                "unknown argument {other:?} (usage: kube-double serve --port N --kubeconfig-out PATH)"
            ),
        }
    }
    let running = api::start(api::DoubleOptions {
        bind: ([127, 0, 0, 1], port).into(),
        token: env("K3S_TOKEN"),
        simulation: api::Simulation::from_env(),
        node_name: env("PLAYGROUND_DOUBLE_NODE_NAME"),
        ..Default::default()
    })
    .await?;
    if let Some(out) = out {
        write_kubeconfig(Path::new(&out), &running.kubeconfig_yaml(&running.url()))?;
    }
    println!("serving on {}", running.url());
    terminated().await;
    running.shutdown().await;
    Ok(())
}

fn main() -> ExitCode {
    // Downloaded from the Argo CD double and run as `argocd` on the host.
    if api::argocd::invoked_as_cli() {
        return api::argocd::fake_cli();
    }
    // Test support: one verified HTTPS request from inside a node (`https_get`).
    if https_get::invoked() {
        return https_get::main();
    }
    // `kubectl get --raw PATH`, as the real image's /bin/kubectl link to k3s (`kubectl`).
    if kubectl::invoked() {
        let args: Vec<String> = std::env::args().skip(1).collect();
        return kubectl::main(&args);
    }
    // In the stand-in load balancer image, as /usr/sbin/nginx.
    if nginx::invoked_as_nginx() {
        return nginx::main();
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((cmd, rest)) = args.split_first() else {
        eprintln!(
            "usage: k3s server|agent [flags] | kube-double serve --port N --kubeconfig-out PATH"
        );
        return ExitCode::from(1);
    };
    if cmd == "kubectl" {
        return kubectl::main(rest);
    }
    if matches!(cmd.as_str(), "--version" | "-v" | "version") {
        println!("k3s version {} (kube-double)", api::node::K3S_VERSION);
        return ExitCode::SUCCESS;
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("starting runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let result = rt.block_on(async {
        match cmd.as_str() {
            "server" => server(rest).await,
            "agent" => agent(rest).await,
            "serve" => serve(rest).await,
            other => bail!("unknown command {other:?}: expected server, agent or serve"),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            log("fatal", &format!("Error: {e:#}"));
            ExitCode::from(1)
        }
    }
}

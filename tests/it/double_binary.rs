//! The `kube-double` binary as a stand-in k3s node: log lines, kubeconfig, agents, signals.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, ListParams};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::double_util::{client_from_yaml, eventually};

/// Build (if needed) and locate the example binary; `cargo test --test it` does not build examples.
fn binary() -> PathBuf {
    let status = std::process::Command::new(env!("CARGO"))
        .args(["build", "--quiet", "--example", "kube-double"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .expect("cargo runs");
    assert!(status.success(), "building the kube-double example failed");
    // target/debug/deps/it-<hash> -> target/debug/examples/kube-double
    let exe = std::env::current_exe().unwrap();
    exe.parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples")
        .join("kube-double")
}

/// Wait until a line of the child's stderr contains `needle`; returns all lines so far.
async fn wait_for_line(
    lines: &mut tokio::io::Lines<BufReader<tokio::process::ChildStderr>>,
    seen: &mut Vec<String>,
    needle: &str,
) {
    tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(l) = lines.next_line().await.unwrap() {
            let hit = l.contains(needle);
            seen.push(l);
            if hit {
                return;
            }
        }
        panic!("process ended before printing {needle:?}: {seen:#?}");
    })
    .await
    .unwrap_or_else(|_| panic!("no {needle:?} in time: {seen:#?}"));
}

async fn terminate(mut child: Child) -> std::process::ExitStatus {
    let pid = child.id().unwrap();
    // SIGTERM, as `docker stop` sends it.
    std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("exits promptly")
        .unwrap()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_without_url_or_token_fails_clearly() {
    let out = Command::new(binary())
        .arg("agent")
        .env_remove("K3S_URL")
        .env_remove("K3S_TOKEN")
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("K3S_URL") && err.contains("level=fatal"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_and_agent_behave_like_k3s_nodes() {
    let bin = binary();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let kubeconfig = dir.path().join("k3s.yaml");

    // The agent starts first: it must retry until the server answers.
    let mut agent = Command::new(&bin)
        .arg("agent")
        .env("K3S_URL", format!("https://127.0.0.1:{port}"))
        .env("K3S_TOKEN", "topsecret")
        .env("HOSTNAME", "lab-agent-0")
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut agent_lines = BufReader::new(agent.stderr.take().unwrap()).lines();

    let mut server = Command::new(&bin)
        .args([
            "server",
            "--cluster-init",
            "--tls-san",
            "lab.example",
            "--tls-san=10.0.0.9",
            "--disable=traefik",
        ])
        .args([
            "--disable",
            "servicelb",
            "--https-listen-port",
            &port.to_string(),
            "--node-name",
            "lab-server-0",
        ])
        .args(["--data-dir", dir.path().join("data").to_str().unwrap()])
        .env("K3S_KUBECONFIG_OUTPUT", &kubeconfig)
        .env("K3S_TOKEN", "topsecret")
        .env_remove("K3S_URL")
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut server_lines = BufReader::new(server.stderr.take().unwrap()).lines();
    let mut seen = Vec::new();
    wait_for_line(&mut server_lines, &mut seen, "Running kube-apiserver").await;
    wait_for_line(&mut server_lines, &mut seen, "Containerd is now running").await;
    wait_for_line(&mut server_lines, &mut seen, "k3s is up and running").await;

    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&kubeconfig).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let yaml = std::fs::read_to_string(&kubeconfig).unwrap();
    assert!(
        yaml.contains("server: https://127.0.0.1:") && yaml.contains("name: default"),
        "{yaml}"
    );
    let client =
        client_from_yaml(&yaml.replace("127.0.0.1:6443", &format!("127.0.0.1:{port}"))).await;

    let mut agent_seen = Vec::new();
    wait_for_line(
        &mut agent_lines,
        &mut agent_seen,
        "Successfully registered node lab-agent-0",
    )
    .await;
    let nodes: Api<Node> = Api::all(client);
    let names = eventually(10, "both nodes", || async {
        let mut n: Vec<String> = nodes
            .list(&ListParams::default())
            .await
            .ok()?
            .items
            .into_iter()
            .filter_map(|n| n.metadata.name)
            .collect();
        n.sort();
        (n.len() == 2).then_some(n)
    })
    .await;
    assert_eq!(names, ["lab-agent-0", "lab-server-0"]);

    // The extra SANs are in the serving certificate: a client naming the server
    // `lab.example` verifies it (tls-server-name), one naming `wrong.example` does not.
    let named = |n: &str| {
        yaml.replace("127.0.0.1:6443", &format!("127.0.0.1:{port}"))
            .replace(
                "    server:",
                &format!("    tls-server-name: {n}\n    server:"),
            )
    };
    assert!(
        Api::<Node>::all(client_from_yaml(&named("lab.example")).await)
            .list(&ListParams::default())
            .await
            .is_ok()
    );
    assert!(
        Api::<Node>::all(client_from_yaml(&named("wrong.example")).await)
            .list(&ListParams::default())
            .await
            .is_err()
    );

    assert!(terminate(agent).await.success());
    assert!(terminate(server).await.success());
}

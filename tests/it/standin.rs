//! The stand-in k3s node in Docker, driven with the plain docker CLI (independent of our own
//! Docker code): a server and two agents on their own network, and the kubeconfig copied out
//! of the server works from kube-rs and kubectl. The image's own entrypoint makes k3s PID 1,
//! as in the real image; `tests/it/strict.rs` covers what the stand-in refuses.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::harness::Bounded as _;
use crate::support::harness::{self, docker, remove_docker_objects, unique_name};

struct Cleanup(String);
impl Drop for Cleanup {
    fn drop(&mut self) {
        remove_docker_objects(&self.0);
    }
}

fn wait_log(container: &str, line: &str) {
    let start = Instant::now();
    loop {
        let out = Command::new("docker")
            .args(["logs", container])
            .bounded_output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if text.contains(line) {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{container} never logged {line:?}:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stand_in_server_and_two_agents_serve_three_ready_nodes() {
    let image = harness::node_image();
    let lab = unique_name("standin");
    let _cleanup = Cleanup(lab.clone());
    let label = format!("playground.cluster={lab}");
    let net = format!("playground-{lab}");
    docker(&["network", "create", "--label", &label, &net]);
    let server = format!("{net}-server-0");
    let token = "test-token-not-a-secret";
    docker(&[
        "run",
        "-d",
        "--name",
        &server,
        "--hostname",
        &server,
        "--network",
        &net,
        "--label",
        &label,
        "--tmpfs",
        "/run",
        "--tmpfs",
        "/var/run",
        "-e",
        &format!("K3S_TOKEN={token}"),
        "-e",
        "K3S_KUBECONFIG_OUTPUT=/output/kubeconfig.yaml",
        "-p",
        "127.0.0.1::6443",
        image,
        "server",
        "--tls-san",
        "127.0.0.1",
    ]);
    wait_log(&server, "k3s is up and running");
    for i in 0..2 {
        let agent = format!("{net}-agent-{i}");
        docker(&[
            "run",
            "-d",
            "--name",
            &agent,
            "--hostname",
            &agent,
            "--network",
            &net,
            "--label",
            &label,
            "-e",
            &format!("K3S_TOKEN={token}"),
            "-e",
            &format!("K3S_URL=https://{server}:6443"),
            image,
            "agent",
        ]);
    }
    for i in 0..2 {
        wait_log(&format!("{net}-agent-{i}"), "Successfully registered node");
    }

    // Copy the kubeconfig out and point it at the mapped host port.
    let port = harness::published_port(&server, "6443/tcp");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kubeconfig");
    docker(&[
        "cp",
        &format!("{server}:/output/kubeconfig.yaml"),
        path.to_str().unwrap(),
    ]);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.contains("https://127.0.0.1:6443"),
        "k3s writes its own loopback URL:\n{text}"
    );
    std::fs::write(
        &path,
        text.replace(
            "https://127.0.0.1:6443",
            &format!("https://127.0.0.1:{port}"),
        ),
    )
    .unwrap();

    let want = vec![
        format!("{net}-agent-0"),
        format!("{net}-agent-1"),
        server.clone(),
    ];
    // kube-rs
    let ready = harness::ready_nodes(&path).await;
    assert_eq!(ready, want);

    // kubectl
    if let Some(mut kubectl) = harness::kubectl() {
        let out = kubectl
            .args([
                "--kubeconfig",
                path.to_str().unwrap(),
                "get",
                "nodes",
                "--no-headers",
            ])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut rows: Vec<(String, String)> = stdout
            .lines()
            .map(|l| {
                let mut f = l.split_whitespace();
                (f.next().unwrap().to_string(), f.next().unwrap().to_string())
            })
            .collect();
        rows.sort();
        assert_eq!(
            rows,
            want.iter()
                .map(|n| (n.clone(), "Ready".to_string()))
                .collect::<Vec<_>>()
        );
    }
}

//! The same life cycle against real `rancher/k3s`, for machines that can pull images and run
//! privileged containers. Opt in with `PLAYGROUND_E2E_REAL=1`; without it these tests say so
//! and return (they are not counted as proof of anything).

use std::process::Command;

use crate::support::harness::{TestLab, count_docker_objects, free_port, require_docker};

fn enabled() -> bool {
    if std::env::var("PLAYGROUND_E2E_REAL").is_ok_and(|v| v == "1") {
        require_docker();
        true
    } else {
        eprintln!(
            "skipped: set PLAYGROUND_E2E_REAL=1 to run against real rancher/k3s (needs image pulls and privileged containers)"
        );
        false
    }
}

/// A lab file for real k3s: privileged nodes, the pinned image, traefik disabled to save time.
fn real_lab(tag: &str, agents: u32) -> TestLab {
    let lab = TestLab::new(tag);
    let yaml = format!(
        "apiVersion: playground.dev/v1alpha1\nkind: Playground\nmetadata:\n  name: {}\ncluster:\n  servers: 1\n  agents: {agents}\n  privileged: true\n  k3sArgs: [\"--disable=traefik@server:*\"]\nargocd:\n  ui: {{ port: {} }}\n",
        lab.name,
        free_port()
    );
    std::fs::create_dir_all(lab.home()).unwrap();
    std::fs::write(lab.file(), yaml).unwrap();
    lab
}

/// `kubectl get nodes` through the lab's merged kubeconfig.
fn kubectl_nodes(lab: &TestLab) -> std::process::Output {
    Command::new("kubectl")
        .args([
            "--kubeconfig",
            lab.kubeconfig().to_str().unwrap(),
            "get",
            "nodes",
            "--no-headers",
        ])
        .output()
        .unwrap()
}

#[test]
fn real_k3s_life_cycle() {
    if !enabled() {
        return;
    }
    let lab = real_lab("real", 2);
    lab.ok(&["up", "--cluster-only", "--timeout", "5m"]);
    let list: serde_json::Value = serde_json::from_str(&lab.ok(&["list", "-o", "json"])).unwrap();
    let entry = list
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["name"] == lab.name.as_str())
        .unwrap()
        .clone();
    assert_eq!(entry["state"], "running");

    // kubectl against the merged context sees three Ready nodes.
    let nodes = kubectl_nodes(&lab);
    let text = String::from_utf8_lossy(&nodes.stdout);
    assert_eq!(
        text.lines()
            .filter(|l| l.split_whitespace().nth(1) == Some("Ready"))
            .count(),
        3,
        "{text}"
    );

    lab.ok(&["up", "--cluster-only"]);
    lab.ok(&["suspend"]);
    lab.ok(&["resume", "--timeout", "5m"]);
    // After a restart k3s is still reachable with the same credentials.
    let again = kubectl_nodes(&lab);
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    lab.ok(&["drop", "--yes"]);
    assert_eq!(count_docker_objects(&lab.name), 0);
}

/// The newcomer's path on a laptop: `init`, then `up` with real k3s and real Argo CD
/// (downloaded, checked against the pinned SHA-256), until the sample apps are Synced and
/// Healthy; then `status`, the server's own `argocd` CLI, `suspend`, `resume`, `drop` with a
/// kept Secret, `restore` from the record (images from the pull-through caches), and `drop`.
#[test]
fn real_gitops_life_cycle_of_the_sample_lab() {
    if !enabled() {
        return;
    }
    let lab = TestLab::new("realgitops");
    std::fs::create_dir_all(lab.home()).unwrap();
    let dir = lab.dir.path().join("lab");
    let out = lab.run(&["init", dir.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Give the lab this test's unique name, so parallel runs and the guard agree. The file is
    // not under apps/, so this edit needs no commit.
    let file = dir.join("playground.yaml");
    // Free host ports too, so the two real tests can run side by side.
    let text = std::fs::read_to_string(&file)
        .unwrap()
        .replace("name: playground", &format!("name: {}", lab.name))
        .replace(
            "8081:80@loadbalancer",
            &format!("{}:80@loadbalancer", free_port()),
        )
        .replace(
            "  namespace: argocd\n",
            &format!("  namespace: argocd\n  ui: {{ port: {} }}\n", free_port()),
        )
        + "keep:\n  secrets:\n    - { namespace: default, name: e2e-kept }\n";
    std::fs::write(&file, text).unwrap();
    let f = file.to_str().unwrap();
    lab.ok(&["up", "-f", f, "--timeout", "15m"]);
    let status: serde_json::Value =
        serde_json::from_str(&lab.ok(&["status", &lab.name, "-o", "json"])).unwrap();
    assert_eq!(status["apps"]["root"]["sync"], "Synced", "{status}");
    assert_eq!(status["apps"]["root"]["health"], "Healthy", "{status}");
    assert!(
        !status["apps"]["root"]["children"]
            .as_array()
            .unwrap()
            .is_empty(),
        "{status}"
    );
    assert!(!lab.ok(&["password", &lab.name]).trim().is_empty());

    // The CLI comes from the lab's own server, logged in without a password in argv.
    let apps = lab.ok(&["argocd", &lab.name, "--", "app", "list", "-o", "name"]);
    assert!(apps.lines().any(|l| l.trim() == "argocd/root"), "{apps}");

    // A Secret Git cannot hold, kept across drop and restore.
    let kubectl = |args: &[&str]| {
        let out = Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(lab.kubeconfig())
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "kubectl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    kubectl(&[
        "create",
        "secret",
        "generic",
        "e2e-kept",
        "--from-literal=token=kept-value",
    ]);
    let data = |kubectl: &dyn Fn(&[&str]) -> String| {
        kubectl(&["get", "secret", "e2e-kept", "-o", "jsonpath={.data.token}"])
    };
    let before = data(&kubectl);

    lab.ok(&["suspend", &lab.name]);
    lab.ok(&["resume", &lab.name, "--timeout", "5m"]);
    lab.ok(&["drop", &lab.name, "--yes"]);
    assert_eq!(count_docker_objects(&lab.name), 0);
    // The caches outlive the lab; they hold what it pulled.
    let caches: serde_json::Value =
        serde_json::from_str(&lab.ok(&["cache", "status", "-o", "json"])).unwrap();
    assert!(
        caches
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["state"] == "running" && c["size_bytes"].as_u64() > Some(0)),
        "{caches}"
    );

    lab.ok(&["restore", &lab.name, "--timeout", "15m"]);
    let status: serde_json::Value =
        serde_json::from_str(&lab.ok(&["status", &lab.name, "-o", "json"])).unwrap();
    assert_eq!(status["apps"]["root"]["sync"], "Synced", "{status}");
    assert_eq!(status["apps"]["root"]["health"], "Healthy", "{status}");
    assert_eq!(
        data(&kubectl),
        before,
        "the kept Secret is back with its data"
    );

    lab.ok(&["drop", &lab.name, "--yes"]);
    assert_eq!(count_docker_objects(&lab.name), 0);
}

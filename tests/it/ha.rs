//! Multi-server labs against the real Docker Engine: three stand-in k3s servers with the
//! stand-in etcd quorum (`tests/support/double/api/cluster.rs`), one agent, and the stand-in
//! nginx load balancer (`tests/support/double/nginx.rs`, `PLAYGROUND_LB_IMAGE`).

use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::harness::Bounded as _;
use crate::support::harness::{TestLab, count_docker_objects, docker, ready_nodes};

fn states(lab: &str) -> Vec<String> {
    let out = Command::new("docker")
        .args([
            "ps",
            "-a",
            "--format",
            "{{.Names}}={{.State}}",
            "--filter",
            &format!("label=playground.cluster={lab}"),
        ])
        .bounded_output()
        .unwrap();
    let mut v: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    v.sort();
    v
}

fn logs_since(container: &str, since: &str) -> String {
    let out = Command::new("docker")
        .args(["logs", "--since", since, container])
        .bounded_output()
        .unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn three_servers_and_an_agent_behind_the_load_balancer() {
    let lab = TestLab::new("ha").servers(3).agents(1).write();
    let name = lab.name.clone();
    let kc = lab.kubeconfig();
    let server = |i: u32| format!("playground-{name}-server-{i}");
    let want: Vec<String> = vec![
        format!("playground-{name}-agent-0"),
        server(0),
        server(1),
        server(2),
    ];

    lab.ok(&["up", "--cluster-only", "--timeout", "180s"]);
    // The kubeconfig points at the load balancer's host port, not at a server.
    let lb_ports = docker(&["port", &format!("playground-{name}-serverlb"), "6443/tcp"]);
    let kube = kube::config::Kubeconfig::read_from(&kc).unwrap();
    let url = kube.clusters[0]
        .cluster
        .as_ref()
        .unwrap()
        .server
        .clone()
        .unwrap();
    assert!(
        lb_ports
            .lines()
            .any(|p| url.ends_with(&format!(":{}", p.rsplit(':').next().unwrap()))),
        "{url} is not the load balancer's port {lb_ports}"
    );
    // Round-robin reaches every server; each answers with all four nodes Ready.
    for _ in 0..6 {
        assert_eq!(ready_nodes(&kc).await, want);
    }

    // One server down (the init server): the load balancer fails over to the others.
    docker(&["stop", "-t", "5", &server(0)]);
    for _ in 0..6 {
        assert_eq!(ready_nodes(&kc).await, want);
    }

    // Suspend, then resume: the servers need each other's quorum to come back (F2).
    lab.ok(&["suspend"]);
    assert!(
        states(&name).iter().all(|s| s.ends_with("=exited")),
        "{:?}",
        states(&name)
    );
    let t = Instant::now();
    lab.ok(&["resume", &name, "--timeout", "120s"]);
    assert!(t.elapsed() < Duration::from_secs(120));
    assert!(
        states(&name).iter().all(|s| s.ends_with("=running")),
        "{:?}",
        states(&name)
    );
    assert_eq!(ready_nodes(&kc).await, want);

    // The stand-in enforces the quorum: a restarted member alone waits for its peers.
    lab.ok(&["suspend"]);
    let since = docker(&["inspect", "-f", "{{.State.FinishedAt}}", &server(0)]);
    docker(&["start", &server(0)]);
    let waiting = "Waiting for etcd server to become available";
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !logs_since(&server(0), since.trim()).contains(waiting)
        && std::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // And it goes on waiting: a while later, it is still not up.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let logs = logs_since(&server(0), since.trim());
    assert!(
        logs.contains(waiting) && !logs.contains("k3s is up and running"),
        "{logs}"
    );
    // `up` on the stopped lab starts the other servers together and converges (F2 in plan_up).
    lab.ok(&["up", "--cluster-only", "--timeout", "120s"]);
    let logs = logs_since(&server(0), since.trim());
    assert!(logs.contains("k3s is up and running"), "{logs}");
    assert_eq!(ready_nodes(&kc).await, want);

    // F20: with server-0 gone, the kubeconfig comes from another server; it works through
    // the load balancer because every server shares the cluster CA and admin credentials.
    docker(&["rm", "-f", &server(0)]);
    let text = lab.ok(&["kubeconfig", &name]);
    let other = lab.dir.path().join("from-another-server.yaml");
    std::fs::write(&other, text).unwrap();
    assert_eq!(ready_nodes(&other).await.len(), 4);

    lab.ok(&["drop", &name, "--yes"]);
    assert_eq!(count_docker_objects(&name), 0);
}

#[test]
fn changing_the_server_count_of_a_lab_is_refused_before_anything_is_made() {
    let lab = TestLab::new("grow").write();
    lab.ok(&["up", "--cluster-only"]);
    let before = states(&lab.name);
    let file = std::fs::read_to_string(lab.file()).unwrap();
    std::fs::write(lab.file(), file.replace("servers: 1", "servers: 3")).unwrap();
    let out = lab.run(&["up", "--cluster-only"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // A plan error: exit code 2, as for other refusals of the lab file.
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("created with 1 server(s)")
            && stderr.contains(&format!("playground drop {}", lab.name)),
        "{stderr}"
    );
    assert_eq!(states(&lab.name), before);
}

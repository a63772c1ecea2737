//! Faults, as a hostile but realistic user makes them: kill -9 at a random moment, two
//! commands at once, Docker objects removed behind playground's back. After each, the promise
//! of the README must hold: the next `up` converges, and `drop` leaves nothing labelled.
//!
//! Kill moments are random within bounds; every test prints its seed, and
//! `PLAYGROUND_FAULT_SEED=<seed>` replays one.

use std::process::{Child, Command};
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};

use crate::support::harness::{self, TestLab, count_docker_objects, docker, ready_nodes};

/// A seeded random source; the seed is printed so a failure can be replayed.
fn rng(test: &str) -> rand::rngs::StdRng {
    let seed = std::env::var("PLAYGROUND_FAULT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random::<u64>);
    eprintln!("{test}: PLAYGROUND_FAULT_SEED={seed}");
    rand::rngs::StdRng::seed_from_u64(seed)
}

fn kill9(child: &mut Child) {
    let _ = child.kill(); // SIGKILL: no handler runs, nothing is rolled back
    let _ = child.wait();
}

fn container_names(lab: &str) -> Vec<String> {
    let out = docker(&[
        "ps",
        "-a",
        "--filter",
        &format!("label=playground.cluster={lab}"),
        "--format",
        "{{.Names}}",
    ]);
    let mut names: Vec<String> = out.lines().map(str::to_string).collect();
    names.sort();
    names
}

/// `up` converges a lab left in any state, then `drop` leaves nothing.
fn converges_then_drops(lab: &TestLab, nodes: usize) {
    lab.ok(&["up", "--cluster-only"]);
    assert_eq!(container_names(&lab.name).len(), nodes);
    lab.ok(&["drop", "--yes"]);
    assert_eq!(count_docker_objects(&lab.name), 0);
}

#[test]
fn kill_9_at_random_moments_of_up_then_up_converges_and_drop_removes_all() {
    let mut rng = rng("kill_9_up");
    let lab = TestLab::new("kill9up").agents(1).write();
    for round in 0..3 {
        let mut child = lab.cmd(&["up", "--cluster-only"]).spawn().unwrap();
        // Bounds: from at once to well after the first containers exist (a stand-in `up`
        // takes about a second).
        let after = Duration::from_millis(rng.random_range(0..1500));
        std::thread::sleep(after);
        kill9(&mut child);
        eprintln!("round {round}: killed after {after:?}");
        // The very next `up`, at once: the lab's own half-started nodes hold its ports.
        lab.ok(&["up", "--cluster-only"]);
        assert_eq!(container_names(&lab.name).len(), 2, "round {round}");
    }
    lab.ok(&["drop", "--yes"]);
    assert_eq!(count_docker_objects(&lab.name), 0);
}

#[test]
fn kill_9_during_drop_then_drop_again_removes_all() {
    let mut rng = rng("kill_9_drop");
    let lab = TestLab::new("kill9drop").agents(2).write();
    lab.ok(&["up", "--cluster-only"]);
    let mut child = lab.cmd(&["drop", "--yes"]).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(rng.random_range(0..600)));
    kill9(&mut child);
    lab.ok(&["drop", "--yes"]);
    assert_eq!(count_docker_objects(&lab.name), 0);
}

#[test]
fn kill_9_during_restore_then_restore_or_up_converges() {
    let mut rng = rng("kill_9_restore");
    let lab = TestLab::new("kill9rest").agents(1).write();
    lab.ok(&["up", "--cluster-only"]);
    lab.ok(&["drop", "--yes"]);
    let mut child = lab
        .cmd(&["restore", &lab.name, "--cluster-only"])
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(rng.random_range(0..1500)));
    kill9(&mut child);
    converges_then_drops(&lab, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn two_ups_of_one_lab_at_once_one_waits_and_the_lab_is_whole() {
    let lab = TestLab::new("twoups").agents(1).write();
    let spawn = || {
        lab.cmd(&["up", "--cluster-only"])
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    let (ea, eb) = (harness::stderr(&a), harness::stderr(&b));
    assert!(a.status.success(), "{ea}");
    assert!(b.status.success(), "{eb}");
    assert!(
        format!("{ea}{eb}").contains("is busy"),
        "one of them says it waits:\n{ea}\n{eb}"
    );
    let networks = docker(&[
        "network",
        "ls",
        "-q",
        "--filter",
        &format!("label=playground.cluster={}", lab.name),
    ]);
    assert_eq!(networks.lines().count(), 1, "one network, not two");
    assert_eq!(ready_nodes(&lab.kubeconfig()).await.len(), 2);
    lab.ok(&["drop", "--yes"]);
    assert_eq!(count_docker_objects(&lab.name), 0);
}

#[test]
fn duplicate_networks_are_named_by_up_and_all_removed_by_drop() {
    // What two racing `up`s left before labs were locked: two networks of one name.
    let lab = TestLab::new("dupnet").write();
    let net = format!("playground-{}", lab.name);
    // The docker CLI refuses a second one by name; the API (CheckDuplicate false, the only
    // behaviour from API 1.44 on) does not, which is how racing `up`s made two.
    let body = serde_json::json!({
        "Name": net,
        "CheckDuplicate": false,
        "Labels": {"playground.cluster": lab.name},
    })
    .to_string();
    for _ in 0..2 {
        let out = Command::new("curl")
            .args(["-sS", "--fail", "--unix-socket", "/var/run/docker.sock"])
            .args([
                "-H",
                "Content-Type: application/json",
                "-X",
                "POST",
                "-d",
                &body,
            ])
            .arg("http://localhost/networks/create")
            .output()
            .expect("curl");
        assert!(out.status.success(), "{}", harness::stderr(&out));
    }
    assert_eq!(
        docker(&["network", "ls", "-q", "--filter", &format!("name=^{net}$")])
            .lines()
            .count(),
        2
    );
    let out = lab.run(&["up", "--cluster-only"]);
    let stderr = harness::stderr(&out);
    assert!(!out.status.success());
    assert!(stderr.contains("2 networks named"), "{stderr}");
    assert!(stderr.contains("playground drop"), "{stderr}");
    lab.ok(&["drop", "--yes"]);
    assert_eq!(count_docker_objects(&lab.name), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_node_removed_behind_our_back_is_reported_and_recreated() {
    let lab = TestLab::new("rmnode").agents(2).write();
    lab.ok(&["up", "--cluster-only"]);
    let agent = format!("playground-{}-agent-1", lab.name);
    docker(&["rm", "-f", &agent]);

    // `status` and `list` say the lab is partial, and name what is missing.
    let entry = lab.list_entry();
    assert_eq!(entry["state"], "partial", "{entry}");
    assert_eq!(entry["missing"], serde_json::json!([agent]), "{entry}");
    let status = lab.ok(&["status"]);
    assert!(status.contains(&agent), "{status}");
    assert!(status.contains("missing"), "{status}");

    // `resume` does not claim a whole lab.
    let out = lab.run(&["resume"]);
    let stderr = harness::stderr(&out);
    assert!(!out.status.success(), "resume of a partial lab:\n{stderr}");
    assert!(stderr.contains(&agent), "{stderr}");
    assert!(stderr.contains("playground up"), "{stderr}");

    // `up` recreates it, and it registers with the lab's token and its kept node password.
    lab.ok(&["up", "--cluster-only"]);
    assert_eq!(ready_nodes(&lab.kubeconfig()).await.len(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_node_whose_volume_was_removed_registers_again() {
    let lab = TestLab::new("rmvol").agents(1).write();
    lab.ok(&["up", "--cluster-only"]);
    let agent = format!("playground-{}-agent-0", lab.name);
    let volume = docker(&[
        "inspect",
        "-f",
        "{{range .Mounts}}{{if eq .Destination \"/var/lib/rancher/k3s\"}}{{.Name}}{{end}}{{end}}",
        &agent,
    ]);
    docker(&["rm", "-f", &agent]);
    docker(&["volume", "rm", &volume]);
    // A new volume is a new node identity: the server's record of the old one must go first,
    // or k3s refuses the name (the harness fails on "Node password rejected").
    lab.ok(&["up", "--cluster-only"]);
    assert_eq!(ready_nodes(&lab.kubeconfig()).await.len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_removed_network_is_recreated_and_every_node_reattached_at_its_address() {
    for suspended in [false, true] {
        let lab = TestLab::new(if suspended { "rmnets" } else { "rmnetr" })
            .agents(1)
            .write();
        lab.ok(&["up", "--cluster-only"]);
        let names = container_names(&lab.name);
        let ip_of = |n: &str| {
            docker(&[
                "inspect",
                "-f",
                "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
                n,
            ])
        };
        let before: Vec<String> = names.iter().map(|n| ip_of(n)).collect();
        if suspended {
            lab.ok(&["suspend"]);
        }
        let net = format!("playground-{}", lab.name);
        for n in &names {
            let _ = Command::new("docker")
                .args(["network", "disconnect", "-f", &net, n])
                .output();
        }
        docker(&["network", "rm", &net]);
        if suspended {
            // resume names the problem and the way out instead of Docker's 404.
            let out = lab.run(&["resume"]);
            let stderr = harness::stderr(&out);
            assert!(!out.status.success());
            assert!(stderr.contains("playground up"), "{stderr}");
        }
        lab.ok(&["up", "--cluster-only"]);
        let after: Vec<String> = names.iter().map(|n| ip_of(n)).collect();
        assert_eq!(after, before, "every node is back at its address");
        assert_eq!(ready_nodes(&lab.kubeconfig()).await.len(), 2);
        lab.ok(&["drop", "--yes"]);
        assert_eq!(count_docker_objects(&lab.name), 0);
    }
}

#[test]
fn sigterm_during_resume_stops_at_once() {
    let lab = TestLab::new("termres").agents(1).write();
    lab.ok(&["up", "--cluster-only"]);
    lab.ok(&["suspend"]);
    let mut child = lab.cmd(&["resume"]).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let sent = Instant::now();
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let status = child.wait().unwrap();
    assert!(sent.elapsed() < Duration::from_secs(5));
    // Either it had finished, or SIGTERM ended it as the shell reports a signal.
    assert!(status.success() || status.code() == Some(143), "{status:?}");
    converges_then_drops(&lab, 2);
}

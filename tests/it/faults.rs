//! Faults, as a hostile but realistic user makes them: kill -9 at a random moment, two
//! commands at once, Docker objects removed behind playground's back. After each, the promise
//! of docs/internals.md must hold: the next `up` converges, and `drop` leaves nothing labelled.
//!
//! Kill moments are random within bounds; every test prints its seed, and
//! `PLAYGROUND_FAULT_SEED=<seed>` replays one. Signals are not random: SIGINT and SIGTERM are
//! sent inside each wait, held open by a stand-in knob and recognised from what the command
//! reports (see [`signal_in_step`]), so a passing test proves the signal landed in the wait.

use std::process::{Child, Command};
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};

use crate::support::harness::Bounded as _;
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
    // One moment in each third of a stand-in `drop` of this lab (about 1.1 s here), so a run
    // covers its start, its middle and its end.
    for round in 0..3u64 {
        lab.ok(&["up", "--cluster-only"]);
        let mut child = lab.cmd(&["drop", "--yes"]).spawn().unwrap();
        let after = Duration::from_millis(rng.random_range(round * 350..(round + 1) * 350));
        std::thread::sleep(after);
        kill9(&mut child);
        let left = count_docker_objects(&lab.name);
        eprintln!("round {round}: killed after {after:?}, {left} objects left");
        // A drop killed after it finished left no lab: the next one says so (exit 4).
        let out = lab.run(&["drop", "--yes"]);
        let done_before = left == 0 && out.status.code() == Some(4);
        assert!(
            out.status.success() || done_before,
            "round {round}: {}",
            harness::stderr(&out)
        );
        assert_eq!(count_docker_objects(&lab.name), 0, "round {round}");
    }
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

/// Create a network named `net` with the lab's label through the API, as a racing or killed
/// command's create does: the docker CLI refuses a second one by name, the API (CheckDuplicate
/// false, the only behaviour from API 1.44 on) does not.
fn create_duplicate_network(net: &str, lab: &str) {
    let body = serde_json::json!({
        "Name": net,
        "CheckDuplicate": false,
        "Labels": {"playground.cluster": lab},
    })
    .to_string();
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
        .bounded_output()
        .expect("curl");
    assert!(out.status.success(), "{}", harness::stderr(&out));
}

fn networks_named(net: &str) -> usize {
    docker(&["network", "ls", "-q", "--filter", &format!("name=^{net}$")])
        .lines()
        .count()
}

#[test]
fn duplicate_networks_with_no_node_are_removed_by_up_and_the_lab_comes_up() {
    // What two racing `up`s left before labs were locked, or a command killed while its
    // network create was in flight: two networks of one name, and no node yet.
    let lab = TestLab::new("dupnet").write();
    let net = format!("playground-{}", lab.name);
    create_duplicate_network(&net, &lab.name);
    create_duplicate_network(&net, &lab.name);
    assert_eq!(networks_named(&net), 2);
    let out = lab.run(&["up", "--cluster-only"]);
    assert!(out.status.success(), "{}", harness::stderr(&out));
    assert!(
        harness::stderr(&out).contains("leftover network(s)"),
        "the removal is a step of its own"
    );
    assert_eq!(networks_named(&net), 1);
    lab.ok(&["drop", "--yes"]);
    assert_eq!(count_docker_objects(&lab.name), 0);
}

#[test]
fn a_duplicate_network_beside_a_lab_with_nodes_is_named_and_drop_removes_all() {
    // With nodes on one of them, which network is the lab's is the nodes' to say: `up`
    // refuses with the way out, and `drop` removes every network of the label, by ID.
    let lab = TestLab::new("dupnodes").write();
    let net = format!("playground-{}", lab.name);
    lab.ok(&["up", "--cluster-only"]);
    lab.ok(&["suspend"]);
    create_duplicate_network(&net, &lab.name);
    assert_eq!(networks_named(&net), 2);
    let out = lab.run(&["up", "--cluster-only"]);
    let stderr = harness::stderr(&out);
    assert!(!out.status.success());
    assert!(stderr.contains("2 networks named"), "{stderr}");
    assert!(stderr.contains("playground drop"), "{stderr}");
    lab.ok(&["drop", "--yes"]);
    assert_eq!(count_docker_objects(&lab.name), 0);
}

/// `list -o json` and `status -o json` agree on the lab's state and name what is missing.
fn assert_state(lab: &TestLab, state: &str, missing: &[&str]) {
    let entry = lab.list_entry();
    let status = harness::document(&lab.ok(&["status", "-o", "json"]), "LabStatus");
    for (what, doc) in [("list", &entry), ("status", &status)] {
        assert_eq!(doc["state"], state, "{what}: {doc}");
        let named: Vec<&str> = doc["missing"]
            .as_array()
            .map(|m| m.iter().filter_map(|v| v.as_str()).collect())
            .unwrap_or_default();
        assert_eq!(named, missing, "{what}: {doc}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_node_removed_behind_our_back_is_reported_and_recreated() {
    let lab = TestLab::new("rmnode").agents(2).write();
    lab.ok(&["up", "--cluster-only"]);
    let agent = format!("playground-{}-agent-1", lab.name);
    docker(&["rm", "-f", &agent]);

    // `status` and `list` say the lab is partial, and name what is missing.
    assert_state(&lab, "partial", &[&agent]);
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
    assert_state(&lab, "running", &[]);
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
    // Docker removes no volume a container uses: a volume is missing only with its node, and
    // the node is what `status` names.
    assert_state(&lab, "partial", &[&agent]);
    // A new volume is a new node identity: the server's record of the old one must go first,
    // or k3s refuses the name (the harness fails on "Node password rejected").
    lab.ok(&["up", "--cluster-only"]);
    assert_eq!(ready_nodes(&lab.kubeconfig()).await.len(), 2);
    assert_state(&lab, "running", &[]);
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
                .bounded_output();
        }
        docker(&["network", "rm", &net]);
        // Running or suspended, the nodes are all there; the network is what is missing.
        assert_state(&lab, "partial", &[&format!("network {net}")]);
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
        assert_state(&lab, "running", &[]);
        lab.ok(&["drop", "--yes"]);
        assert_eq!(count_docker_objects(&lab.name), 0);
    }
}

// SIGINT and SIGTERM in every wait phase. Each wait is held open by a stand-in knob (a node
// that boots slowly, Argo CD workloads that get available late), the signal is sent once the
// command itself reports the wait's step started (and, for a booting node, once the node logs
// that it boots), and the report afterwards must show that step never finished: the signal
// landed in the wait, not before or after it.

/// Ctrl-C and SIGTERM, with the exit status a shell reports for each (128 + N).
const SIGNALS: [(&str, i32); 2] = [("INT", 130), ("TERM", 143)];

/// How long a held wait lasts: long enough that the signal surely lands inside it on a
/// loaded 2-core runner (the test polls `docker logs` before it sends it), short enough to
/// keep the suite fast. The signal ends the wait, so the hold is not waited out.
const HOLD_MS: u64 = 5000;

/// How soon a signalled command must have exited (rollback of a fresh lab included): a bound
/// that catches a command that ignores the signal, loose enough for a loaded runner.
const PROMPT: Duration = Duration::from_secs(15);

/// Where a command reports its progress: the `-o json` event stream on stdout (`up`,
/// `restore`), or the plain step lines on stderr (`resume`).
#[derive(Clone, Copy)]
enum Progress {
    Events,
    Lines,
}

impl Progress {
    /// Whether `line` reports that the step starting with `step` has `status`
    /// (`started` or `done`).
    fn says(self, line: &str, step: &str, status: &str) -> bool {
        match self {
            Progress::Events => serde_json::from_str::<serde_json::Value>(line).is_ok_and(|e| {
                e["type"] == "step"
                    && e["status"] == status
                    && e["name"].as_str().is_some_and(|n| n.starts_with(step))
            }),
            Progress::Lines => {
                let mark = if status == "done" { "✓" } else { "•" };
                line.starts_with(&format!("{mark} {step}"))
            }
        }
    }
}

/// What a signalled command did.
struct Signalled {
    code: Option<i32>,
    /// From the signal to the exit.
    stopped_in: Duration,
    /// Every line it reported (events, or stderr lines).
    report: Vec<String>,
    /// The step the signal was sent in, and whether it reported `done` all the same.
    step: String,
    step_done: bool,
}

impl Signalled {
    /// The `-o json` events of the report.
    fn events(&self) -> Vec<serde_json::Value> {
        self.report
            .iter()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }
}

/// The stand-in's "…_BOOT_MS=<ms>: booting" lines in a node's log so far (0 when it does not
/// exist yet): a new one means the node is in a boot its knob holds open.
fn boot_lines(node: &str) -> usize {
    let Ok(out) = Command::new("docker").args(["logs", node]).bounded_output() else {
        return 0;
    };
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
    .lines()
    .filter(|l| l.contains("_BOOT_MS=") && l.contains("booting"))
    .count()
}

/// Run `cmd` until it reports that `started` started and, when `booting` names a node, until
/// that node logs a new boot (the stand-in's boot knob then holds the node, and the waits for
/// it, open). Then send `signal`, and wait (at most 30 s) for the exit. `open` is the step the
/// signal must land in: it must never report `done` (see [`assert_stopped`]).
fn signal_in_step(
    mut cmd: Command,
    progress: Progress,
    started: &str,
    open: &str,
    booting: Option<&str>,
    signal: &str,
) -> Signalled {
    use std::io::BufRead;
    use std::process::Stdio;
    use std::sync::mpsc;

    let boots = booting.map(boot_lines).unwrap_or(0);
    match progress {
        Progress::Events => cmd.stdout(Stdio::piped()).stderr(Stdio::null()),
        Progress::Lines => cmd.stdout(Stdio::null()).stderr(Stdio::piped()),
    };
    let mut child = cmd.spawn().unwrap();
    let pipe: Box<dyn std::io::Read + Send> = match progress {
        Progress::Events => Box::new(child.stdout.take().unwrap()),
        Progress::Lines => Box::new(child.stderr.take().unwrap()),
    };
    let (tx, rx) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(pipe).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut report = Vec::new();
    let start = Instant::now();
    // A whole GitOps `up` on a loaded machine comes first in the slowest case.
    let limit = Duration::from_secs(120);
    while !report
        .iter()
        .any(|l: &String| progress.says(l, started, "started"))
    {
        match rx.recv_timeout(limit.saturating_sub(start.elapsed())) {
            Ok(line) => report.push(line),
            Err(e) => {
                kill9(&mut child);
                panic!(
                    "the step {started:?} never started ({e}); reported:\n{}",
                    report.join("\n")
                );
            }
        }
    }
    if let Some(node) = booting {
        while boot_lines(node) <= boots {
            if start.elapsed() > limit {
                kill9(&mut child);
                panic!("{node} never logged a new boot");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let sent = Instant::now();
    let _ = Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if sent.elapsed() > Duration::from_secs(30) {
            kill9(&mut child);
            panic!("SIG{signal} in {open:?} did not stop the command within 30 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let stopped_in = sent.elapsed();
    // The rest of what it reported; the pipe closes with the process.
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(5)) {
        report.push(line);
    }
    eprintln!("SIG{signal} in {open:?}: stopped in {stopped_in:?}");
    Signalled {
        code: status.code(),
        stopped_in,
        step_done: report.iter().any(|l| progress.says(l, open, "done")),
        step: open.to_string(),
        report,
    }
}

/// Exit status 128 + N, promptly, with the step the signal was sent in never finished (the
/// signal landed in its wait and ended it), and for a stream, the error event that says so.
fn assert_stopped(s: &Signalled, signal: &str, code: i32, progress: Progress) {
    let report = s.report.join("\n");
    assert_eq!(
        s.code,
        Some(code),
        "SIG{signal} in {:?} exits {code}:\n{report}",
        s.step
    );
    assert!(
        !s.step_done,
        "{:?} finished: SIG{signal} came after its wait (make the knob hold it longer), or the wait ignored it:\n{report}",
        s.step
    );
    assert!(
        s.stopped_in < PROMPT,
        "SIG{signal} took {:?} to stop the command:\n{report}",
        s.stopped_in
    );
    if let Progress::Events = progress {
        let events = s.events();
        let last = events
            .last()
            .unwrap_or_else(|| panic!("no events:\n{report}"));
        assert_eq!(last["type"], "error", "{report}");
        assert_eq!(last["message"], "interrupted", "{report}");
        assert_eq!(last["exitCode"], code, "{report}");
    }
}

fn server0(lab: &TestLab) -> String {
    format!("playground-{}-server-0", lab.name)
}

fn agent0(lab: &TestLab) -> String {
    format!("playground-{}-agent-0", lab.name)
}

#[test]
fn a_signal_while_up_waits_for_a_booting_node_rolls_a_fresh_lab_back() {
    // The cluster half's waits: the server's ready line, then an agent's registration.
    for (role, knob) in [
        ("server", "PLAYGROUND_STANDIN_SERVER_BOOT_MS"),
        ("agent", "PLAYGROUND_STANDIN_AGENT_BOOT_MS"),
    ] {
        for (signal, code) in SIGNALS {
            let lab = TestLab::new(&format!("boot{role}{signal}"))
                .agents(1)
                .cluster_yaml(&format!("  env: [\"{knob}={HOLD_MS}@{role}:0\"]\n"))
                .write();
            let node = if role == "server" {
                server0(&lab)
            } else {
                agent0(&lab)
            };
            // A fresh lab's server is launched, then its ready line awaited as a step of its
            // own; with --cluster-only an agent's start waits for its registration.
            let step = if role == "server" {
                format!("wait for {node} to log")
            } else {
                format!("start {node} and wait for")
            };
            let s = signal_in_step(
                lab.cmd(&["up", "--cluster-only", "-o", "json"]),
                Progress::Events,
                &step,
                &step,
                Some(&node),
                signal,
            );
            assert_stopped(&s, signal, code, Progress::Events);
            let events = s.events();
            assert!(
                events.iter().any(|e| e["type"] == "warning"
                    && e["message"]
                        .as_str()
                        .is_some_and(|m| m.contains("removing the partly created lab"))),
                "a fresh lab is rolled back, and says so:\n{}",
                s.report.join("\n")
            );
            assert_eq!(
                count_docker_objects(&lab.name),
                0,
                "{role} {signal}: nothing of the fresh lab is left"
            );
        }
    }
}

/// A lab with the GitOps half (a local repo, the real Argo CD manifest on the API double),
/// its node env extended with `env` (`, "K=V@…"`).
fn gitops_lab(lab: TestLab, env: &str) -> TestLab {
    use crate::gitops_up::{fixture, write_apps};
    let dir = lab.dir.path();
    write_apps(dir);
    let commit =
        playground::repo::git::init_with_commit(dir, "the lab", Some(("Ada", "ada@example.com")))
            .unwrap();
    lab.cluster_yaml(&format!(
        "  env: [\"PLAYGROUND_DOUBLE_APPS=healthy@server:0\", \"PLAYGROUND_DOUBLE_REVISION={commit}@server:0\"{env}]\n"
    ))
    .yaml(&format!(
        "  manifest: {}\ngitops:\n  repo: .\n  revision: HEAD\n  path: apps\n",
        fixture()
    ))
    .write()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_signal_while_up_waits_in_the_gitops_half_stops_at_once_and_the_cluster_stays() {
    // The GitOps half's waits: Argo CD's workloads (the double makes them available late),
    // and the nodes still booting (an agent that boots late; Argo CD goes in meanwhile).
    let cases = [
        (
            "workloads",
            format!(", \"PLAYGROUND_DOUBLE_DELAY_MS={HOLD_MS}@server:0\""),
            0,
            "Deployment argocd-server",
        ),
        (
            "nodes",
            format!(
                ", \"PLAYGROUND_DOUBLE_DELAY_MS=300@server:0\", \"PLAYGROUND_STANDIN_AGENT_BOOT_MS={}@agent:0\"",
                HOLD_MS + 1000
            ),
            1,
            "wait for all 2 node(s) Ready",
        ),
    ];
    for (what, env, agents, step) in &cases {
        for (signal, code) in SIGNALS {
            let lab = gitops_lab(
                TestLab::new(&format!("git{what}{signal}")).agents(*agents),
                env,
            );
            let s = tokio::task::block_in_place(|| {
                signal_in_step(
                    lab.cmd(&["up", "--timeout", "120s", "-o", "json"]),
                    Progress::Events,
                    step,
                    step,
                    None,
                    signal,
                )
            });
            assert_stopped(&s, signal, code, Progress::Events);
            let report = s.report.join("\n");
            assert!(
                s.events().iter().any(|e| e["type"] == "warning"
                    && e["message"]
                        .as_str()
                        .is_some_and(|m| m.starts_with("interrupted; the cluster stays"))),
                "{what} {signal}: the warning says the cluster stays:\n{report}"
            );
            assert!(
                !report.contains("removing the partly created lab"),
                "{report}"
            );
            // The cluster half was complete: it stays, every node there and answering.
            assert_eq!(
                container_names(&lab.name).len() as u32,
                1 + agents,
                "{what} {signal}"
            );
            assert!(
                !ready_nodes(&lab.kubeconfig()).await.is_empty(),
                "{what} {signal}: the API answers"
            );
            lab.ok(&["drop", "--yes"]);
            assert_eq!(count_docker_objects(&lab.name), 0);
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_signal_while_resume_waits_for_the_nodes_stops_at_once_then_up_converges() {
    // Every start of the server boots slowly: resume's wait for the API is held open.
    let lab = TestLab::new("resumewait")
        .agents(1)
        .cluster_yaml(&format!(
            "  env: [\"PLAYGROUND_STANDIN_SERVER_BOOT_MS={HOLD_MS}@server:0\"]\n"
        ))
        .write();
    lab.ok(&["up", "--cluster-only"]);
    for (signal, code) in SIGNALS {
        lab.ok(&["suspend"]);
        // Sent once the server boots again: resume waits for its ready line, then for the API
        // and the Ready nodes, and the last of its waits cannot have ended.
        let s = tokio::task::block_in_place(|| {
            signal_in_step(
                lab.cmd(&["resume"]),
                Progress::Lines,
                &format!("start {}", server0(&lab)),
                "wait for the API and Ready nodes",
                Some(&server0(&lab)),
                signal,
            )
        });
        assert_stopped(&s, signal, code, Progress::Lines);
        // The next `up` converges what the stopped resume left.
        lab.ok(&["up", "--cluster-only"]);
        assert_eq!(ready_nodes(&lab.kubeconfig()).await.len(), 2, "{signal}");
    }
    lab.ok(&["drop", "--yes"]);
    assert_eq!(count_docker_objects(&lab.name), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_signal_while_restore_waits_for_the_nodes_leaves_nothing_the_next_restore_cannot_finish()
{
    let lab = TestLab::new("restwait")
        .agents(1)
        .cluster_yaml(&format!(
            "  env: [\"PLAYGROUND_STANDIN_SERVER_BOOT_MS={HOLD_MS}@server:0\"]\n"
        ))
        .write();
    lab.ok(&["up", "--cluster-only"]);
    lab.ok(&["drop", "--yes"]);
    for (signal, code) in SIGNALS {
        let step = format!("wait for {} to log", server0(&lab));
        let s = tokio::task::block_in_place(|| {
            signal_in_step(
                lab.cmd(&["restore", &lab.name, "--cluster-only", "-o", "json"]),
                Progress::Events,
                &step,
                &step,
                Some(&server0(&lab)),
                signal,
            )
        });
        assert_stopped(&s, signal, code, Progress::Events);
        // A restore makes a fresh lab: it is rolled back, and its record stays for the next.
        assert_eq!(count_docker_objects(&lab.name), 0, "{signal}");
    }
    lab.ok(&["restore", &lab.name, "--cluster-only"]);
    assert_eq!(ready_nodes(&lab.kubeconfig()).await.len(), 2);
    lab.ok(&["drop", "--yes"]);
    assert_eq!(count_docker_objects(&lab.name), 0);
}

/// The lines of `node`'s log that contain `text`, with their stamps (`docker logs -t`, the
/// daemon's clock), oldest first: stdout and stderr come apart, so they are sorted.
fn stamped_lines(node: &str, text: &str) -> Vec<(jiff::Timestamp, String)> {
    let out = Command::new("docker")
        .args(["logs", "-t", node])
        .bounded_output()
        .unwrap();
    let mut lines: Vec<(jiff::Timestamp, String)> = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
    .lines()
    .filter(|l| l.contains(text))
    .filter_map(|l| {
        let (stamp, rest) = l.split_once(' ')?;
        Some((stamp.parse().ok()?, rest.to_string()))
    })
    .collect();
    lines.sort();
    lines
}

#[test]
fn resume_right_after_suspend_waits_for_the_ready_line_of_the_new_run() {
    // Every start of the server boots 3 s before it logs "k3s is up and running". Each run
    // prints that line again as it stops (through its stdout, as k3s would print it late), so
    // Docker's whole-second `since` of the new start lets it through: it must not end resume's
    // wait. Whether it falls within that second depends on how fast resume starts the node
    // after suspend stopped it; rounds repeat until one has (at most 4).
    const BOOT_MS: i64 = 3000;
    const LATE: &str = "(late, of the run before)";
    let ready = "k3s is up and running";
    let lab = TestLab::new("staleready")
        .cluster_yaml(&format!(
            "  env:\n  - \"PLAYGROUND_STANDIN_SERVER_BOOT_MS={BOOT_MS}@server:0\"\n  - \"PLAYGROUND_STANDIN_LAST_WORDS={ready} {LATE}@server:0\"\n"
        ))
        .write();
    let server = server0(&lab);
    lab.ok(&["up", "--cluster-only"]);
    let mut proved = false;
    for round in 1..=4 {
        lab.ok(&["suspend"]);
        let (step_done, report) = resume_until_step_done(&lab, &format!("start {server}"));

        let started: jiff::Timestamp = docker(&["inspect", "-f", "{{.State.StartedAt}}", &server])
            .trim()
            .parse()
            .unwrap();
        let lines = stamped_lines(&server, ready);
        // up's line, then a late one and a new one for each round.
        assert_eq!(lines.len(), 1 + 2 * round, "{lines:?}");
        let stamp_of = |late: bool| {
            lines
                .iter()
                .rev()
                .find(|(_, l)| l.contains(LATE) == late)
                .map(|(t, _)| *t)
                .unwrap()
        };
        let (late, new) = (stamp_of(true), stamp_of(false));
        eprintln!(
            "round {round}: late line {late}, new start {started}, new ready line {new}, resume's step done {step_done}"
        );
        assert!(new > started, "{new} is of the new run ({started})");
        assert!(
            step_done >= new,
            "resume's start step finished at {step_done}, before the server's new ready line at {new}:\n{report}"
        );
        assert!(
            step_done.duration_since(started).as_millis() as i64 >= BOOT_MS,
            "the step waited the boot out:\n{report}"
        );
        // The late line passed Docker's whole-second `since` (the new start's second, less
        // one): only its own stamp kept it out.
        if late.as_second() >= started.as_second() - 1 {
            proved = true;
            break;
        }
    }
    assert!(
        proved,
        "no round put the late line within the new start's `since`: the test proved nothing"
    );
    lab.ok(&["drop", "--yes"]);
    assert_eq!(count_docker_objects(&lab.name), 0);
}

/// Run `resume` to its end; when it reported `step` done (host clock, which is the daemon's:
/// it runs on this machine), and everything it reported.
fn resume_until_step_done(lab: &TestLab, step: &str) -> (jiff::Timestamp, String) {
    use std::io::BufRead;
    let mut child = lab
        .cmd(&["resume"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut report = Vec::new();
    let mut done = None;
    let stderr = child.stderr.take().unwrap();
    for line in std::io::BufReader::new(stderr)
        .lines()
        .map_while(Result::ok)
    {
        if done.is_none() && Progress::Lines.says(&line, step, "done") {
            done = Some(jiff::Timestamp::now());
        }
        report.push(line);
    }
    let report = report.join("\n");
    assert!(child.wait().unwrap().success(), "resume:\n{report}");
    let done = done.unwrap_or_else(|| panic!("{step} never done:\n{report}"));
    (done, report)
}

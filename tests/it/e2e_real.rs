//! The real path: real `rancher/k3s`, real Argo CD, real image pulls, privileged containers.
//! This is how users meet us, so it covers what the stand-in node cannot show:
//!
//! - the life cycle with agents, and the sample lab from `init` to Synced/Healthy, through
//!   suspend, resume, drop and restore (kept Secret included);
//! - a 3-server HA lab (embedded etcd behind the load balancer): the API answers with a
//!   server down, and the lab resumes after a suspend;
//! - `image import` of an image built here, used by a pod that may not pull it;
//! - pod DNS of an external name, and k3s not falling back to 8.8.8.8 (a loopback resolver
//!   in the node's `/etc/resolv.conf`);
//! - mount propagation: kubelet refuses `HostToContainer` unless `/` is a shared mount;
//! - a restore that pulls nothing: the image caches hold the same bytes before and after, and it
//!   succeeds with k3s's fallback to the upstream registries turned off (the flag asserted on
//!   every node's command line);
//! - a Helm root (value file, inline values, its AppProject from `argocd.resources`) with a
//!   child left to the user's sync, and a new commit brought in by a refresh;
//! - no node of any lab ever restarted (`RestartCount` 0 before each drop).
//!
//! Every test here is `#[ignore]`d, so a normal `cargo test` reports them as ignored, never as
//! passed. Run them with
//! `PLAYGROUND_E2E_REAL=1 cargo test --locked --test it e2e_real -- --ignored` on a machine
//! that can pull images and run privileged containers on cgroup v2 (GitHub's ubuntu-latest;
//! `.github/workflows/e2e-real.yml`). Run with `--ignored` but without the variable, they
//! fail at once, saying so.
//!
//! When a test fails, the `docker logs` and `docker inspect` of every container of its lab,
//! and the output of every `playground` command it ran (with `-v`), are in
//! `target/e2e-logs/<lab>/` (or `$PLAYGROUND_E2E_LOG_DIR/<lab>/`); the workflow uploads them.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::harness::Bounded as _;
use crate::support::harness::{
    self, TestLab, cache_objects, count_docker_objects, docker, free_port, require_docker,
};

/// What k3s logs when it finds only loopback resolvers on the host and hands pods
/// 8.8.8.8 instead (`k3s-io/k3s` `pkg/agent/config/config.go`).
const K3S_LOOPBACK_RESOLVER: &str = "Host resolv.conf includes loopback or multicast nameservers";

/// Fail loudly when run without the opt-in: these tests are ignored by default, and running
/// them with `--ignored` by accident must not look like a pass.
fn require_real() {
    assert!(
        std::env::var("PLAYGROUND_E2E_REAL").is_ok_and(|v| v == "1"),
        "this test runs against real rancher/k3s and was started with --ignored, but PLAYGROUND_E2E_REAL is not 1.\n  \
         hint: PLAYGROUND_E2E_REAL=1 cargo test --locked --test it e2e_real -- --ignored \
         (needs image pulls and privileged containers)"
    );
    require_docker();
}

/// Where a lab's logs go: `$PLAYGROUND_E2E_LOG_DIR/<lab>`, else `target/e2e-logs/<lab>`.
fn log_dir(lab: &str) -> PathBuf {
    let base = std::env::var_os("PLAYGROUND_E2E_LOG_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/e2e-logs"));
    let dir = base.join(lab);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Declared after its [`TestLab`], so it drops first: on a panic it saves the logs of every
/// container of the lab before the lab's guard removes them.
struct LogsOnFailure(String);

impl Drop for LogsOnFailure {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        let dir = log_dir(&self.0);
        let names = Command::new("docker")
            .args(["ps", "-a", "--format", "{{.Names}}", "--filter"])
            .arg(format!("label=playground.cluster={}", self.0))
            .bounded_output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        for name in names.split_whitespace() {
            for (file, args) in [
                (format!("{name}.log"), vec!["logs", "--timestamps", name]),
                (format!("{name}.inspect.json"), vec!["inspect", name]),
            ] {
                if let Ok(out) = Command::new("docker").args(&args).bounded_output() {
                    let mut text = out.stdout;
                    text.extend_from_slice(&out.stderr);
                    let _ = std::fs::write(dir.join(file), text);
                }
            }
        }
        eprintln!("logs of lab {} saved in {}", self.0, dir.display());
    }
}

/// Run `playground -v ARGS`, keep its output in the lab's log dir, assert success, and
/// return stdout.
fn pg(lab: &TestLab, args: &[&str]) -> String {
    let started = Instant::now();
    let out = lab
        .cmd(&[&["-v"], args].concat())
        .output()
        .expect("run playground");
    let mut log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_dir(&lab.name).join("playground.log"))
        .unwrap();
    let _ = writeln!(
        log,
        "$ playground -v {} ({}, {:.1}s)\n--- stdout\n{}--- stderr\n{}",
        args.join(" "),
        out.status,
        started.elapsed().as_secs_f64(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "playground {} failed ({}):\nstdout:\n{}\nstderr:\n{}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// k3s's switch for containerd's fallback from a mirror to the upstream registry.
const NO_FALLBACK: &str = "--disable-default-registry-endpoint";

/// The cache namespace the real tests share (see [`real_lab`]).
const SHARED_CACHE: &str = "e2e-real-shared";

/// The first `up` of a lab on the shared caches: the first one of the run makes the caches
/// while the others wait, so no two `up`s create the same cache container at once.
fn first_up(lab: &TestLab, args: &[&str]) -> String {
    static WARM: std::sync::Mutex<bool> = std::sync::Mutex::new(false);
    let mut warm = WARM.lock().unwrap_or_else(|e| e.into_inner());
    if *warm {
        drop(warm);
        return pg(lab, args);
    }
    let out = pg(lab, args);
    *warm = true;
    out
}

/// No k3s node of the lab ever restarted: a kubelet that crash-loops and recovers passes every
/// other check (Docker's `RestartCount` counts the restarts its policy made; `suspend` and
/// `resume` are stops and starts, which it does not count).
fn assert_no_restarts(lab: &TestLab) {
    let names = docker(&[
        "ps",
        "-a",
        "--format",
        "{{.Names}}",
        "--filter",
        &format!("label=playground.cluster={}", lab.name),
    ]);
    let mut counted = 0;
    for name in names.split_whitespace() {
        let got = docker(&[
            "inspect",
            "-f",
            "{{index .Config.Labels \"playground.role\"}} {{.RestartCount}}",
            name,
        ]);
        let (role, count) = got.split_once(' ').unwrap_or((&got, ""));
        if !matches!(role, "server" | "agent") {
            continue;
        }
        counted += 1;
        assert_eq!(count, "0", "{name} restarted {count} time(s)");
    }
    assert!(counted > 0, "no node of {} found: {names}", lab.name);
}

/// [`assert_no_restarts`], then `drop --yes` (with the lab's name when given).
fn drop_lab(lab: &TestLab, named: bool) {
    assert_no_restarts(lab);
    if named {
        pg(lab, &["drop", &lab.name, "--yes"]);
    } else {
        pg(lab, &["drop", "--yes"]);
    }
}

/// A lab file for real k3s: privileged nodes, the default (pinned) image, traefik disabled
/// to save time, the Argo CD UI on a free port.
fn real_lab(tag: &str, servers: u32, agents: u32) -> TestLab {
    // One set of image caches for these tests (N4): each image comes from Docker Hub once per
    // run, not once per test. The gitops test keeps its own, as it compares their bytes.
    let lab = TestLab::new(tag).env("PLAYGROUND_CACHE_NAMESPACE", SHARED_CACHE);
    let yaml = format!(
        "apiVersion: playground.dev/v1alpha1\nkind: Playground\nmetadata:\n  name: {}\ncluster:\n  servers: {servers}\n  agents: {agents}\n  privileged: true\n  k3sArgs: [\"--disable=traefik@server:*\"]\nargocd:\n  ui: {{ port: {} }}\n",
        lab.name,
        free_port()
    );
    std::fs::create_dir_all(lab.home()).unwrap();
    std::fs::write(lab.file(), yaml).unwrap();
    lab
}

/// `kubectl ARGS` through the lab's merged kubeconfig, with `stdin`; the output, or a panic
/// with kubectl's stderr.
fn kubectl_in(lab: &TestLab, args: &[&str], stdin: &str) -> String {
    let mut child = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(lab.kubeconfig())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kubectl runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "kubectl {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn kubectl(lab: &TestLab, args: &[&str]) -> String {
    kubectl_in(lab, args, "")
}

/// Node names with their STATUS column, from `kubectl get nodes`.
fn nodes(lab: &TestLab) -> Vec<(String, String)> {
    kubectl(lab, &["get", "nodes", "--no-headers"])
        .lines()
        .filter_map(|l| {
            let mut cols = l.split_whitespace();
            Some((cols.next()?.to_string(), cols.next()?.to_string()))
        })
        .collect()
}

fn assert_ready_nodes(lab: &TestLab, want: usize) {
    let nodes = nodes(lab);
    assert_eq!(
        nodes.iter().filter(|(_, s)| s == "Ready").count(),
        want,
        "{nodes:?}"
    );
}

/// Wait until pod `name` (namespace default) is in one of `phases`; on Failed, on another
/// phase at the deadline, or on a deadline, panic with `kubectl describe` and its logs.
fn wait_pod(lab: &TestLab, name: &str, phases: &[&str], timeout: Duration) -> String {
    let deadline = Instant::now() + timeout;
    loop {
        let phase = kubectl(lab, &["get", "pod", name, "-o", "jsonpath={.status.phase}"]);
        if phases.contains(&phase.as_str()) {
            return phase;
        }
        if phase == "Failed" || Instant::now() >= deadline {
            let describe = kubectl(lab, &["describe", "pod", name]);
            let logs = Command::new("kubectl")
                .arg("--kubeconfig")
                .arg(lab.kubeconfig())
                .args(["logs", name])
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                .unwrap_or_default();
            panic!(
                "pod {name} is {phase:?}, not {phases:?}, after {timeout:?}\n{describe}\nlogs:\n{logs}"
            );
        }
        std::thread::sleep(Duration::from_secs(2));
    }
}

/// Every line of every server's and agent's log that matches `needle`.
fn node_log_lines(lab: &TestLab, needle: &str) -> Vec<String> {
    let names = docker(&[
        "ps",
        "-a",
        "--format",
        "{{.Names}}",
        "--filter",
        &format!("label=playground.cluster={}", lab.name),
    ]);
    let mut hits = Vec::new();
    for name in names
        .split_whitespace()
        .filter(|n| !n.ends_with("-serverlb"))
    {
        let out = Command::new("docker")
            .args(["logs", name])
            .bounded_output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        hits.extend(
            text.lines()
                .filter(|l| l.contains(needle))
                .map(|l| format!("{name}: {l}")),
        );
    }
    hits
}

#[test]
#[ignore = "needs real k3s images: PLAYGROUND_E2E_REAL=1 cargo test --test it e2e_real -- --ignored"]
fn e2e_real_k3s_life_cycle() {
    require_real();
    let lab = real_lab("real", 1, 2);
    let _logs = LogsOnFailure(lab.name.clone());
    first_up(&lab, &["up", "--cluster-only", "--timeout", "5m"]);
    let list = harness::items(&pg(&lab, &["list", "-o", "json"]), "LabList");
    let entry = list
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["name"] == lab.name.as_str())
        .unwrap()
        .clone();
    assert_eq!(entry["state"], "running");
    // kubectl against the merged context sees three Ready nodes.
    assert_ready_nodes(&lab, 3);

    pg(&lab, &["up", "--cluster-only"]);
    pg(&lab, &["suspend"]);
    pg(&lab, &["resume", "--timeout", "5m"]);
    // After a restart k3s is still reachable with the same credentials.
    assert_ready_nodes(&lab, 3);
    drop_lab(&lab, false);
    assert_eq!(count_docker_objects(&lab.name), 0);
}

/// Three servers with embedded etcd behind the load balancer, and an agent. The API answers
/// through the load balancer with server-0 (the `--cluster-init` one) stopped, and the whole
/// lab comes back from a suspend: each server's etcd waits for a quorum of its peers, so a
/// resume that awaited them one by one would never finish.
#[test]
#[ignore = "needs real k3s images: PLAYGROUND_E2E_REAL=1 cargo test --test it e2e_real -- --ignored"]
fn e2e_real_ha_three_servers_suspend_and_resume() {
    require_real();
    let lab = real_lab("realha", 3, 1);
    let _logs = LogsOnFailure(lab.name.clone());
    first_up(&lab, &["up", "--cluster-only", "--timeout", "10m"]);
    assert_ready_nodes(&lab, 4);
    let etcd = kubectl(
        &lab,
        &[
            "get",
            "nodes",
            "-l",
            "node-role.kubernetes.io/etcd=true",
            "-o",
            "name",
        ],
    );
    assert_eq!(etcd.lines().count(), 3, "three etcd members: {etcd}");

    // One server down: two of three etcd members are a quorum, and the load balancer sends
    // the API to the servers that answer.
    let server0 = format!("playground-{}-server-0", lab.name);
    docker(&["stop", &server0]);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(lab.kubeconfig())
            .args(["get", "--raw", "/readyz"])
            .output()
            .unwrap();
        if out.status.success() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the API does not answer through the load balancer with {server0} stopped: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::thread::sleep(Duration::from_secs(2));
    }
    let list = harness::items(&pg(&lab, &["list", "-o", "json"]), "LabList");
    let state = list
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["name"] == lab.name.as_str())
        .map(|l| l["state"].clone());
    assert_eq!(state, Some("partial".into()), "{list}");

    // Suspend what still runs, resume all of it.
    pg(&lab, &["suspend"]);
    let started = Instant::now();
    pg(&lab, &["resume", "--timeout", "5m"]);
    assert!(
        started.elapsed() < Duration::from_secs(300),
        "resume took {:?}",
        started.elapsed()
    );
    assert_ready_nodes(&lab, 4);
    drop_lab(&lab, false);
    assert_eq!(count_docker_objects(&lab.name), 0);
}

/// An image built here, never pushed anywhere, imported into every node's containerd, runs
/// in a pod that may not pull it (`imagePullPolicy: Never`).
#[test]
#[ignore = "needs real k3s images: PLAYGROUND_E2E_REAL=1 cargo test --test it e2e_real -- --ignored"]
fn e2e_real_image_import_of_a_local_build() {
    require_real();
    let lab = real_lab("realimport", 1, 1);
    let _logs = LogsOnFailure(lab.name.clone());
    let build = tempfile::tempdir().unwrap();
    std::fs::write(
        build.path().join("Dockerfile"),
        "FROM busybox:1.36\nCMD [\"sh\", \"-c\", \"echo imported-image-runs && sleep 3600\"]\n",
    )
    .unwrap();
    // Unique per run, and not `latest` (kubelet would default to pulling it).
    let image = format!("playground-e2e/{}:dev", lab.name);
    docker(&["build", "-q", "-t", &image, build.path().to_str().unwrap()]);
    struct RemoveImage(String);
    impl Drop for RemoveImage {
        fn drop(&mut self) {
            let _ = Command::new("docker")
                .args(["rmi", "-f", &self.0])
                .bounded_output();
        }
    }
    let _image = RemoveImage(image.clone());

    first_up(&lab, &["up", "--cluster-only", "--timeout", "5m"]);
    pg(&lab, &["image", "import", &image]);
    // On both nodes, so the scheduler's choice does not matter.
    let pod = format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: imported\nspec:\n  containers:\n  - name: app\n    image: {image}\n    imagePullPolicy: Never\n"
    );
    kubectl_in(&lab, &["apply", "-f", "-"], &pod);
    wait_pod(&lab, "imported", &["Running"], Duration::from_secs(120));
    let deadline = Instant::now() + Duration::from_secs(30);
    while !kubectl(&lab, &["logs", "imported"]).contains("imported-image-runs") {
        assert!(
            Instant::now() < deadline,
            "the imported image's CMD did not run"
        );
        std::thread::sleep(Duration::from_secs(1));
    }
    let nodes = nodes(&lab);
    for (node, _) in &nodes {
        let images = docker(&["exec", node, "crictl", "images", "-o", "json"]);
        assert!(
            images.contains(&format!("docker.io/{image}")) || images.contains(&image),
            "{image} not in {node}'s containerd: {images}"
        );
    }
    drop_lab(&lab, false);
}

/// Pods resolve names outside the cluster through CoreDNS and the host's resolver, and k3s
/// did not replace that resolver with 8.8.8.8 (it does when the node's `/etc/resolv.conf`
/// names only loopback servers, as Docker's embedded DNS on a user network does).
#[test]
#[ignore = "needs real k3s images: PLAYGROUND_E2E_REAL=1 cargo test --test it e2e_real -- --ignored"]
fn e2e_real_pod_dns_of_an_external_name() {
    require_real();
    // One node: CoreDNS shares it with the pod, so a lost same-node Service reply (no
    // br_netfilter, N1) fails this test every time instead of by scheduling.
    let lab = real_lab("realdns", 1, 0);
    let _logs = LogsOnFailure(lab.name.clone());
    first_up(&lab, &["up", "--cluster-only", "--timeout", "5m"]);
    let pod = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: dns\nspec:\n  restartPolicy: Never\n  containers:\n  - name: dns\n    image: busybox:1.36\n    command: [\"sh\", \"-c\", \"cat /etc/resolv.conf && nslookup github.com && nslookup kubernetes.default.svc.cluster.local\"]\n";
    kubectl_in(&lab, &["apply", "-f", "-"], pod);
    wait_pod(&lab, "dns", &["Succeeded"], Duration::from_secs(180));
    let logs = kubectl(&lab, &["logs", "dns"]);
    assert!(logs.contains("github.com"), "{logs}");
    assert_eq!(
        node_log_lines(&lab, K3S_LOOPBACK_RESOLVER),
        Vec::<String>::new(),
        "k3s fell back to 8.8.8.8 for pods"
    );
    drop_lab(&lab, false);
}

/// containerd's CRI plugin starts a container with `mountPropagation: HostToContainer` only
/// if the host path sits on a shared or slave mount (`ensureSharedOrSlave`: "path … is
/// mounted on … but it is not a shared or slave mount" otherwise), so inside the node
/// container `/` must be rshared.
#[test]
#[ignore = "needs real k3s images: PLAYGROUND_E2E_REAL=1 cargo test --test it e2e_real -- --ignored"]
fn e2e_real_mount_propagation() {
    require_real();
    let lab = real_lab("realmounts", 1, 0);
    let _logs = LogsOnFailure(lab.name.clone());
    first_up(&lab, &["up", "--cluster-only", "--timeout", "5m"]);
    let pod = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: propagation\nspec:\n  containers:\n  - name: app\n    image: busybox:1.36\n    command: [\"sleep\", \"3600\"]\n    volumeMounts:\n    - name: host\n      mountPath: /host\n      mountPropagation: HostToContainer\n  volumes:\n  - name: host\n    hostPath:\n      path: /var/lib/playground-e2e\n      type: DirectoryOrCreate\n";
    kubectl_in(&lab, &["apply", "-f", "-"], pod);
    wait_pod(&lab, "propagation", &["Running"], Duration::from_secs(180));
    drop_lab(&lab, false);
}

/// The cache volumes of `namespace`: `(name, files, KiB)` each, sorted, measured in a
/// throwaway busybox container that mounts them read-only.
fn cache_volume_sizes(namespace: &str) -> Vec<(String, u64, u64)> {
    let [_, _, (volumes, _)] = cache_objects(namespace);
    let mut sizes: Vec<(String, u64, u64)> = volumes
        .iter()
        .map(|v| {
            let out = docker(&[
                "run",
                "--rm",
                "-v",
                &format!("{v}:/v:ro"),
                "busybox:1.36",
                "sh",
                "-c",
                "echo $(find /v -type f | wc -l) $(du -sk /v | cut -f1)",
            ]);
            let mut n = out.split_whitespace().map(|x| x.parse::<u64>().unwrap());
            (v.clone(), n.next().unwrap(), n.next().unwrap())
        })
        .collect();
    sizes.sort();
    sizes
}

/// The newcomer's path on a laptop: `init`, then `up` with real k3s and real Argo CD
/// (downloaded, checked against the pinned SHA-256), until the sample apps are Synced and
/// Healthy; then `status`, the server's own `argocd` CLI, `suspend`, `resume`, `drop` with a
/// kept Secret, and `restore` from the record, which pulls nothing: every image comes from
/// the caches, whose volumes hold the same files and bytes before and after.
#[test]
#[ignore = "needs real k3s images: PLAYGROUND_E2E_REAL=1 cargo test --test it e2e_real -- --ignored"]
fn e2e_real_gitops_life_cycle_and_a_restore_that_pulls_nothing() {
    require_real();
    let lab = TestLab::new("realgitops");
    let _logs = LogsOnFailure(lab.name.clone());
    std::fs::create_dir_all(lab.home()).unwrap();
    let dir = lab.dir.path().join("lab");
    pg(&lab, &["init", dir.to_str().unwrap()]);
    // Give the lab this test's unique name, so parallel runs and the guard agree. The file is
    // not under apps/, so this edit needs no commit. Free host ports too, so the real tests
    // can run side by side.
    let file = dir.join("playground.yaml");
    let text = std::fs::read_to_string(&file)
        .unwrap()
        // `init lab` named it after its folder.
        .replace("name: lab\n", &format!("name: {}\n", lab.name))
        .replace(
            "8081:80@loadbalancer",
            &format!("{}:80@loadbalancer", free_port()),
        )
        .replace(
            "  namespace: argocd\n",
            &format!("  namespace: argocd\n  ui: {{ port: {} }}\n", free_port()),
        )
        + "keep:\n  secrets:\n    - { namespace: default, name: e2e-kept }\n";
    // containerd's fallback to the upstream registries off from the first `up` (k3s
    // `--disable-default-registry-endpoint`, `pkg/cli/cmds/agent.go`
    // `DisableDefaultRegistryEndpointFlag`, for every registry that has a mirror, which each
    // cached upstream does): the caches serve every pull or it fails, so the byte counts
    // below prove the restore came from them. It is in the file before `up` because
    // `restore` reads the file recorded then (`LabRecord::lab`), not a later edit (N3).
    let text = text.replacen(
        "cluster:\n",
        &format!("cluster:\n  k3sArgs: [\"{NO_FALLBACK}\"]\n"),
        1,
    );
    std::fs::write(&file, text).unwrap();
    let f = file.to_str().unwrap();
    pg(&lab, &["up", "-f", f, "--timeout", "15m"]);
    let synced = |lab: &TestLab| {
        let status: serde_json::Value =
            serde_json::from_str(&pg(lab, &["status", &lab.name, "-o", "json"])).unwrap();
        assert_eq!(status["apps"]["root"]["sync"], "Synced", "{status}");
        assert_eq!(status["apps"]["root"]["health"], "Healthy", "{status}");
        status
    };
    let status = synced(&lab);
    assert!(
        !status["apps"]["root"]["children"]
            .as_array()
            .unwrap()
            .is_empty(),
        "{status}"
    );
    assert!(!pg(&lab, &["password", &lab.name]).trim().is_empty());

    // The CLI comes from the lab's own server, logged in without a password in argv.
    let apps = pg(
        &lab,
        &["argocd", &lab.name, "--", "app", "list", "-o", "name"],
    );
    assert!(apps.lines().any(|l| l.trim() == "argocd/root"), "{apps}");

    // A Secret Git cannot hold, kept across drop and restore.
    kubectl(
        &lab,
        &[
            "create",
            "secret",
            "generic",
            "e2e-kept",
            "--from-literal=token=kept-value",
        ],
    );
    let data = |lab: &TestLab| {
        kubectl(
            lab,
            &["get", "secret", "e2e-kept", "-o", "jsonpath={.data.token}"],
        )
    };
    let before = data(&lab);

    pg(&lab, &["suspend", &lab.name]);
    pg(&lab, &["resume", &lab.name, "--timeout", "5m"]);
    drop_lab(&lab, true);
    assert_eq!(count_docker_objects(&lab.name), 0);
    // The caches outlive the lab; they hold what it pulled.
    let cached = cache_volume_sizes(&lab.name);
    assert!(
        cached.iter().any(|(_, files, _)| *files > 0),
        "the caches hold nothing after a full up: {cached:?}"
    );

    // Prove it, not only by byte counts: the lab runs with containerd's fallback to the
    // upstream registries off (see the lab file above), and `restore` makes it from the file
    // recorded at `up`, flag included; it is on every node's command line, so the test
    // cannot silently lose it again.
    pg(&lab, &["restore", &lab.name, "--timeout", "15m"]);
    for (node, _) in nodes(&lab) {
        let cmd = docker(&[
            "inspect",
            "-f",
            "{{range .Config.Cmd}}{{println .}}{{end}}",
            &node,
        ]);
        assert!(
            cmd.lines().any(|l| l == NO_FALLBACK),
            "{node} runs without {NO_FALLBACK}: {cmd}"
        );
    }
    synced(&lab);
    assert_eq!(data(&lab), before, "the kept Secret is back with its data");
    assert_eq!(
        cache_volume_sizes(&lab.name),
        cached,
        "the restore downloaded into the caches: something was not cached the first time"
    );

    drop_lab(&lab, true);
    assert_eq!(count_docker_objects(&lab.name), 0);
}

/// A Helm root as the seed author runs his (`examples/seed-lab/`), on real Argo CD: a chart
/// whose values render one Application per entry, a value file and inline values, an
/// AppProject from `argocd.resources` that must exist before the root, and one child left
/// without automated sync. Then a new commit, which `up` brings in by a refresh.
#[test]
#[ignore = "needs real k3s images: PLAYGROUND_E2E_REAL=1 cargo test --test it e2e_real -- --ignored"]
fn e2e_real_helm_root_with_its_project_a_manual_app_and_a_new_commit() {
    require_real();
    let lab = real_lab("realhelm", 1, 0);
    let _logs = LogsOnFailure(lab.name.clone());
    let dir = lab.dir.path();
    let write = |path: &str, text: &str| {
        let p = dir.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    // The chart: `apiVersion: v1`, as the seed's root is.
    write(
        "root/Chart.yaml",
        "apiVersion: v1\nname: lab-root\nversion: 0.1.0\n",
    );
    write(
        "root/values.yaml",
        "repoURL: https://example.invalid/not-this-one.git\napps: {}\n",
    );
    write(
        "root/local.yaml",
        "apps:\n  auto: { path: workloads/auto, automated: true }\n  manual: { path: workloads/manual, automated: false }\n",
    );
    write(
        "root/templates/apps.yaml",
        r#"{{- range $name, $app := .Values.apps }}
---
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: {{ $name }}
  namespace: argocd
spec:
  project: lab-project
  source:
    repoURL: {{ $.Values.repoURL }}
    path: {{ $app.path }}
    targetRevision: HEAD
  destination:
    server: https://kubernetes.default.svc
    namespace: {{ $name }}
  syncPolicy:
    {{- if $app.automated }}
    automated: { prune: true, selfHeal: true }
    {{- end }}
    syncOptions: [CreateNamespace=true]
{{- end }}
"#,
    );
    write(
        "workloads/auto/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: auto\ndata:\n  v: \"1\"\n",
    );
    write(
        "workloads/manual/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: manual\n",
    );
    write(
        "project.yaml",
        "apiVersion: argoproj.io/v1alpha1\nkind: AppProject\nmetadata:\n  name: lab-project\n  namespace: argocd\nspec:\n  sourceRepos: ['file:///playground']\n  destinations: [{ namespace: '*', server: https://kubernetes.default.svc }]\n  clusterResourceWhitelist: [{ group: '*', kind: '*' }]\n",
    );
    let file = lab.file();
    let text = std::fs::read_to_string(&file).unwrap()
        + "  resources: [project.yaml]\ngitops:\n  repo: .\n  path: root\n  project: lab-project\n  helm:\n    valueFiles: [local.yaml]\n    values: { repoURL: \"file:///playground\" }\n";
    std::fs::write(&file, text).unwrap();
    playground::repo::git::init_with_commit(dir, "a helm root", Some(("Ada", "ada@example.com")))
        .unwrap();
    let f = file.to_str().unwrap();
    pg(&lab, &["validate", "-f", f]);
    first_up(&lab, &["up", "-f", f, "--timeout", "15m"]);

    let status: serde_json::Value =
        serde_json::from_str(&pg(&lab, &["status", &lab.name, "-o", "json"])).unwrap();
    let root = &status["apps"]["root"];
    assert_eq!(
        (root["sync"].as_str(), root["health"].as_str()),
        (Some("Synced"), Some("Healthy")),
        "{status}"
    );
    let child = |name: &str| {
        root["children"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no child {name}: {status}"))
    };
    assert_eq!(child("auto")["sync"], "Synced", "{status}");
    assert_eq!(child("manual")["autoSync"], false, "{status}");
    // Argo CD never synced the manual app: its ConfigMap does not exist.
    assert_eq!(
        kubectl(
            &lab,
            &[
                "-n",
                "auto",
                "get",
                "configmap",
                "auto",
                "-o",
                "jsonpath={.data.v}"
            ]
        ),
        "1"
    );
    let manual = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(lab.kubeconfig())
        .args(["-n", "manual", "get", "configmap", "manual"])
        .output()
        .unwrap();
    assert!(
        !manual.status.success(),
        "the manual app was synced by itself"
    );

    // A new commit: `up` asks Argo CD to look now instead of at its poll.
    write(
        "workloads/auto/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: auto\ndata:\n  v: \"2\"\n",
    );
    let git = Command::new("git")
        .args([
            "-c",
            "user.name=Ada",
            "-c",
            "user.email=ada@example.com",
            "commit",
            "-qam",
            "v2",
        ])
        .current_dir(dir)
        .status()
        .unwrap();
    assert!(git.success());
    let t0 = Instant::now();
    pg(&lab, &["up", "-f", f, "--yes", "--timeout", "5m"]);
    assert!(
        t0.elapsed() < Duration::from_secs(120),
        "{:?}",
        t0.elapsed()
    );
    assert_eq!(
        kubectl(
            &lab,
            &[
                "-n",
                "auto",
                "get",
                "configmap",
                "auto",
                "-o",
                "jsonpath={.data.v}"
            ]
        ),
        "2"
    );
    drop_lab(&lab, true);
    assert_eq!(count_docker_objects(&lab.name), 0);
}

//! The integration-test harness: real Docker, the stand-in node image, and the real
//! `playground` binary run with an isolated HOME, KUBECONFIG and XDG dirs.
//!
//! Every Docker object a test makes carries `playground.cluster=<unique name>`; the
//! [`TestLab`] guard removes them all when it drops, panics included.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// The stand-in node image, without the key its tag ends in (see [`node_image`]).
pub const NODE_IMAGE: &str = "playground-test/node:dev";

/// How long one Docker CLI call in a test may take before the test fails as hung:
/// `PLAYGROUND_TEST_DOCKER_TIMEOUT` seconds, 120 by default. A hung daemon (Docker 20.10
/// deadlocked once in CI) then fails the test that met it, instead of holding CI for hours.
pub fn docker_timeout() -> Duration {
    let secs = std::env::var("PLAYGROUND_TEST_DOCKER_TIMEOUT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(120);
    Duration::from_secs(secs)
}

/// Where `scripts/setup-test-env` has dockerd write its log (`DOCKERD_LOG` overrides it).
fn dockerd_log() -> PathBuf {
    std::env::var_os("DOCKERD_LOG")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/log/dockerd.log"))
}

/// The last `n` lines of the daemon log, or why there are none to show.
pub fn dockerd_log_tail(n: usize) -> String {
    let path = dockerd_log();
    match std::fs::read(&path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let lines: Vec<&str> = text.lines().collect();
            let tail = lines[lines.len().saturating_sub(n)..].join("\n");
            format!("last {n} lines of {}:\n{tail}", path.display())
        }
        Err(e) => format!("(no daemon log to show: {}: {e})", path.display()),
    }
}

/// A command line as a person would type it, for messages.
fn command_line(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Running a command (a `docker` call) with a deadline: spawned, waited for until
/// [`docker_timeout`], killed past it, with a panic that names the hung call and shows the
/// daemon log's tail. Use these instead of `output()`/`status()` for every `docker` call in
/// the tests.
pub trait Bounded {
    /// Like `output()` (stdout and stderr captured, no stdin), within [`docker_timeout`].
    fn bounded_output(&mut self) -> std::io::Result<Output>;
    /// Like `output()`, with `input` written to the command's stdin.
    fn bounded_with_input(&mut self, input: &[u8]) -> std::io::Result<Output>;
    /// Like `output()`, within `limit`.
    fn bounded_for(&mut self, input: Option<&[u8]>, limit: Duration) -> std::io::Result<Output>;
}

impl Bounded for Command {
    fn bounded_output(&mut self) -> std::io::Result<Output> {
        self.bounded_for(None, docker_timeout())
    }

    fn bounded_with_input(&mut self, input: &[u8]) -> std::io::Result<Output> {
        self.bounded_for(Some(input), docker_timeout())
    }

    fn bounded_for(&mut self, input: Option<&[u8]>, limit: Duration) -> std::io::Result<Output> {
        let line = command_line(self);
        self.stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        let mut child = self.spawn()?;
        // Readers on threads, so a child that fills a pipe cannot stall the deadline.
        let read = |pipe: Option<Box<dyn Read + Send>>| {
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                if let Some(mut p) = pipe {
                    let _ = p.read_to_end(&mut buf);
                }
                buf
            })
        };
        let out = read(child.stdout.take().map(|p| Box::new(p) as _));
        let err = read(child.stderr.take().map(|p| Box::new(p) as _));
        if let (Some(input), Some(mut stdin)) = (input, child.stdin.take()) {
            let input = input.to_vec();
            std::thread::spawn(move || {
                let _ = stdin.write_all(&input);
            });
        }
        let deadline = Instant::now() + limit;
        let mut pause = Duration::from_millis(1);
        let status = loop {
            if let Some(status) = child.try_wait()? {
                break status;
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "`{line}` did not finish in {}s: the Docker daemon may be hung \
                     (PLAYGROUND_TEST_DOCKER_TIMEOUT sets the limit).\n{}",
                    limit.as_secs(),
                    dockerd_log_tail(40)
                );
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(25));
        };
        Ok(Output {
            status,
            stdout: out.join().unwrap_or_default(),
            stderr: err.join().unwrap_or_default(),
        })
    }
}

/// Fail (never skip) when Docker is missing: a green run without Docker would be a lie.
pub fn require_docker() {
    let ok = Command::new("docker")
        .args(["version", "--format", "{{.Server.Version}}"])
        .bounded_output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        ok,
        "this test needs a running Docker Engine, and none answers.\n  \
         Install and start one with `sudo scripts/setup-test-env` (Debian: docker.io, started as dockerd),\n  \
         or point DOCKER_HOST at a running engine."
    );
}

/// Whether an optional tool's absence is a failure (CI sets PLAYGROUND_REQUIRE_ALL=1).
pub fn require_all() -> bool {
    std::env::var("PLAYGROUND_REQUIRE_ALL").is_ok_and(|v| v == "1")
}

/// The path of the double binary that `cargo test` built as an example. A run filtered to
/// one target (`cargo test --test it`) does not build examples, so a binary older than the
/// double's sources is refused here, before a stand-in image is built from it.
pub fn double_binary() -> PathBuf {
    // target/debug/deps/it-xxxx → target/debug/examples/kube-double
    let exe = std::env::current_exe().unwrap();
    let debug = exe.parent().and_then(Path::parent).unwrap();
    let bin = debug.join("examples").join("kube-double");
    let built = std::fs::metadata(&bin).and_then(|m| m.modified()).ok();
    let sources = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/double");
    let newest = newest_mtime(&sources);
    assert!(
        built.is_some_and(|b| newest.is_none_or(|n| b >= n)),
        "{} is missing or older than its sources in {}: `cargo test --test it` builds no \
         examples. Run `cargo build --locked --example kube-double` first, or the whole \
         `cargo test --locked`.",
        bin.display(),
        sources.display()
    );
    bin
}

fn newest_mtime(dir: &Path) -> Option<std::time::SystemTime> {
    std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .filter_map(|e| {
            let meta = e.metadata().ok()?;
            if meta.is_dir() {
                newest_mtime(&e.path())
            } else {
                meta.modified().ok()
            }
        })
        .max()
}

/// The image key, computed exactly as `scripts/build-test-node-image` computes it.
fn image_key(bin: &Path, script: &Path) -> String {
    let out = Command::new("sh")
        .arg("-c")
        .arg(r#"(sha256sum "$1" | cut -d' ' -f1; sha256sum "$2" | cut -d' ' -f1) | sha256sum | cut -d' ' -f1"#)
        .arg("sh")
        .arg(bin)
        .arg(script)
        .output()
        .expect("sha256sum");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Build the stand-in node image if it is missing or holds another build of the double, and
/// return its tag: [`NODE_IMAGE`]`-<key>`. The key in the tag keeps test runs of different
/// doubles (other branches, other worktrees on one Docker) from rebuilding one tag under each
/// other's running tests. Serialized across threads and test processes by a lock file.
pub fn node_image() -> &'static str {
    static TAG: OnceLock<String> = OnceLock::new();
    TAG.get_or_init(|| built_image("scripts/build-test-node-image", NODE_IMAGE))
}

/// The stand-in load balancer image (the double as `nginx`), built like [`node_image`] by
/// `scripts/build-test-lb-image`; every [`TestLab`] passes it as `PLAYGROUND_LB_IMAGE`.
pub fn lb_image() -> &'static str {
    static TAG: OnceLock<String> = OnceLock::new();
    TAG.get_or_init(|| built_image("scripts/build-test-lb-image", LB_IMAGE))
}

/// A stand-in for the host's `/lib/modules`: a folder named for the running kernel, which is
/// what k3s's `modprobe` looks in (the stand-in checks it is there). Shared by every test.
pub fn standin_modules() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
        let dir = std::env::temp_dir().join("playground-test-lib-modules");
        let kernel = dir.join(release.trim());
        std::fs::create_dir_all(&kernel).unwrap();
        std::fs::write(kernel.join("modules.dep"), "").unwrap();
        dir
    })
    .clone()
}

/// The stand-in load balancer image, without the key its tag ends in (see [`lb_image`]).
pub const LB_IMAGE: &str = "playground-test/lb:dev";

fn built_image(script: &str, base: &str) -> String {
    require_docker();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut bin = double_binary();
    if !bin.exists() {
        let st = Command::new("cargo")
            .args(["build", "--quiet", "--example", "kube-double"])
            .current_dir(root)
            .status()
            .expect("cargo build --example kube-double");
        assert!(st.success(), "building the API double failed");
        bin = root.join("target/debug/examples/kube-double");
    }
    let lock_path = std::env::temp_dir().join("playground-test-node-image.lock");
    let lock = std::fs::File::create(&lock_path).unwrap();
    lock.lock().unwrap();
    let script = root.join(script);
    let want = image_key(&bin, &script);
    let tag = format!("{base}-{}", want.get(..12).unwrap_or("nokey"));
    let have = Command::new("docker")
        .args([
            "image",
            "inspect",
            "--format",
            "{{index .Config.Labels \"playground.test.double-sha256\"}}",
            &tag,
        ])
        .bounded_output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    if have != want {
        let out = Command::new(&script)
            .arg(&bin)
            .arg(&tag)
            // A docker build: longer than one call, still bounded.
            .bounded_for(None, Duration::from_secs(600))
            .unwrap_or_else(|e| panic!("{}: {e}", script.display()));
        assert!(
            out.status.success(),
            "building {tag} failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    lock.unlock().unwrap();
    tag
}

/// A `-o json` document on `out`, after checking its envelope: `apiVersion` and `kind`.
pub fn document(out: &str, kind: &str) -> serde_json::Value {
    let doc: serde_json::Value =
        serde_json::from_str(out).unwrap_or_else(|e| panic!("not JSON ({e}):\n{out}"));
    assert_eq!(doc["apiVersion"], "playground.dev/v1alpha1", "{doc}");
    assert_eq!(doc["kind"], kind, "{doc}");
    doc
}

/// The `items` of a list document (`LabList`, `CacheList`) on `out`, its envelope checked.
pub fn items(out: &str, kind: &str) -> serde_json::Value {
    let doc = document(out, kind);
    assert!(doc["items"].is_array(), "{doc}");
    doc["items"].clone()
}

/// The stream of `up -o json` (or `restore -o json`): every line of stdout one JSON object in
/// the envelope, events of kind `Event` and, last, the result of kind `kind`. Returns the
/// events and the result.
pub fn event_stream(out: &str, kind: &str) -> (Vec<serde_json::Value>, serde_json::Value) {
    let mut docs: Vec<serde_json::Value> = out
        .lines()
        .map(|l| {
            let doc: serde_json::Value = serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("a line that is not JSON ({e}): {l:?}\n{out}"));
            assert_eq!(doc["apiVersion"], "playground.dev/v1alpha1", "{l}");
            doc
        })
        .collect();
    let result = docs.pop().unwrap_or_else(|| panic!("no output at all"));
    assert_eq!(result["kind"], kind, "the last line: {result}");
    for e in &docs {
        assert_eq!(e["kind"], "Event", "{e}\n{out}");
    }
    (docs, result)
}

/// Every step event that started also ended, later, with its time; at least `min` steps ran.
/// `out` is what the events came from, for the failure message.
pub fn assert_steps_complete(events: &[serde_json::Value], min: usize, out: &str) {
    let steps: Vec<&serde_json::Value> = events.iter().filter(|e| e["type"] == "step").collect();
    let started: Vec<&str> = steps
        .iter()
        .filter(|e| e["status"] == "started")
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert!(started.len() >= min, "too few steps: {out}");
    for name in &started {
        let at = |status: &str| {
            steps
                .iter()
                .position(|e| e["name"] == *name && e["status"] == status)
                .unwrap_or_else(|| panic!("step {name:?} never {status}: {out}"))
        };
        assert!(at("started") < at("done"), "{out}");
        assert!(steps[at("done")]["elapsedMs"].is_u64(), "{out}");
    }
}

/// A command's stderr, as text.
/// Every entry of the bug-report archive(s) `export logs` wrote into `dir`: (path, text).
pub fn archive_entries(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(&bytes[..]));
        for file in tar.entries().unwrap() {
            let mut file = file.unwrap();
            let name = file.path().unwrap().display().to_string();
            let mut text = String::new();
            let _ = std::io::Read::read_to_string(&mut file, &mut text);
            out.push((name, text));
        }
    }
    out
}

/// `text` as JSON writes it inside a string, and as Go's encoder (Docker's) writes it.
pub fn json_forms(text: &str) -> [String; 3] {
    let json = serde_json::to_string(text).unwrap();
    let json = json[1..json.len() - 1].to_string();
    let go = json
        .replace('&', "\\u0026")
        .replace('<', "\\u003c")
        .replace('>', "\\u003e");
    [text.to_string(), json, go]
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Run `docker ARGS`, assert it succeeded, and return its stdout, trimmed.
pub fn docker(args: &[&str]) -> String {
    let out = Command::new("docker").args(args).bounded_output().unwrap();
    assert!(
        out.status.success(),
        "docker {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The host port Docker published for `container`'s `port` (e.g. `6443/tcp`).
pub fn published_port(container: &str, port: &str) -> String {
    let out = docker(&["port", container, port]);
    out.lines()
        .next()
        .and_then(|l| l.rsplit(':').next())
        .unwrap_or_else(|| panic!("{container} publishes no {port}: {out:?}"))
        .to_string()
}

/// A port that was free a moment ago, never the same twice in this process.
///
/// Taken below the kernel's ephemeral range (32768 and up on Linux), on purpose: a port the
/// harness picks is not held until the lab binds it, and `playground up` picks a free API
/// port with `bind(:0)`, which draws from the ephemeral range. Were both drawn from the same
/// range, a parallel test's `up` could take this port in between (a flake seen in CI-like
/// runs). Each test process starts at its own offset, so parallel processes rarely meet.
pub fn free_port() -> u16 {
    const LOW: u32 = 20_000;
    const SPAN: u32 = 12_000;
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let start = std::process::id().wrapping_mul(7919) % SPAN;
    for _ in 0..SPAN {
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let port = (LOW + (start + n) % SPAN) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
            && std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok()
        {
            return port;
        }
    }
    panic!("no free port in {LOW}..{}", LOW + SPAN);
}

/// A unique lab name: DNS-1123, short enough for Docker names.
pub fn unique_name(tag: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::SeqCst);
    let tag: String = tag
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(10)
        .collect::<String>()
        .to_lowercase();
    format!("t{}{n}-{tag}", std::process::id() % 100_000)
}

/// The IDs of the Docker objects labelled with this lab, with the command that removes each
/// kind: containers (with their anonymous volumes), networks, volumes.
fn labelled_objects(lab: &str) -> [(Vec<String>, &'static [&'static str]); 3] {
    objects_matching(&format!("label=playground.cluster={lab}"))
}

/// The IDs of the Docker objects that match a `docker … --filter`, by kind, each kind with the
/// command that removes it. In this order: a network or volume in use by a container cannot
/// be removed.
fn objects_matching(filter: &str) -> [(Vec<String>, &'static [&'static str]); 3] {
    let ids = |args: &[&str]| -> Vec<String> {
        Command::new("docker")
            .args(args)
            .arg(filter)
            .bounded_output()
            .map(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .split_whitespace()
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    };
    [
        (ids(&["ps", "-aq", "--filter"]), &["rm", "-fv"]),
        (
            ids(&["network", "ls", "-q", "--filter"]),
            &["network", "rm"],
        ),
        (
            ids(&["volume", "ls", "-q", "--filter"]),
            &["volume", "rm", "-f"],
        ),
    ]
}

fn remove_all(objects: [(Vec<String>, &'static [&'static str]); 3]) {
    for (ids, remove) in objects {
        if remove[0] == "network" {
            // A container of another owner (a shared registry or cache, another test's lab)
            // may still be attached to this network, and `network rm` then refuses: detach
            // it first, or the network outlives the test.
            for id in &ids {
                let attached = Command::new("docker")
                    .args(["network", "inspect", "-f"])
                    .arg("{{range $k, $v := .Containers}}{{$k}} {{end}}")
                    .arg(id)
                    .bounded_output()
                    .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                    .unwrap_or_default();
                for container in attached.split_whitespace() {
                    let _ = Command::new("docker")
                        .args(["network", "disconnect", "-f", id, container])
                        .bounded_output();
                }
            }
        }
        if !ids.is_empty() {
            let _ = Command::new("docker")
                .args(remove)
                .args(&ids)
                .bounded_output();
        }
    }
}

/// Remove every Docker object labelled with this lab (containers, networks, volumes).
pub fn remove_docker_objects(lab: &str) {
    remove_all(labelled_objects(lab));
}

/// Remove the shared image caches of a test cache namespace (`PLAYGROUND_CACHE_NAMESPACE`):
/// containers and volumes. Caches carry no lab label, so [`remove_docker_objects`] leaves
/// them, as `drop` does.
pub fn remove_cache_objects(namespace: &str) {
    remove_all(cache_objects(namespace));
}

/// The image caches of a test cache namespace: containers, networks (none), volumes.
pub fn cache_objects(namespace: &str) -> [(Vec<String>, &'static [&'static str]); 3] {
    objects_matching(&format!("label=playground.cache.namespace={namespace}"))
}

/// Count the Docker objects labelled with this lab.
pub fn count_docker_objects(lab: &str) -> usize {
    labelled_objects(lab).iter().map(|(ids, _)| ids.len()).sum()
}

/// Lines the lab's k3s nodes logged that mean a real node would be broken there: the strict
/// stand-in prints them where real k3s (kubelet, containerd) would fail or fall back (see
/// `support::strict`). Each as `node: line`.
pub fn node_complaints(lab: &str) -> Vec<String> {
    let ids = Command::new("docker")
        .args(["ps", "-aq", "--filter"])
        .arg(format!("label=playground.cluster={lab}"))
        .bounded_output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let mut found = Vec::new();
    for id in ids.split_whitespace() {
        let role = Command::new("docker")
            .args([
                "inspect",
                "--format",
                "{{index .Config.Labels \"playground.role\"}} {{.Name}}",
                id,
            ])
            .bounded_output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default();
        let Some((role, name)) = role.split_once(' ') else {
            continue;
        };
        if role != "server" && role != "agent" {
            continue;
        }
        let Ok(out) = Command::new("docker").args(["logs", id]).bounded_output() else {
            continue;
        };
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        for line in text.lines() {
            if crate::support::strict::COMPLAINTS
                .iter()
                .any(|c| line.contains(c))
            {
                found.push(format!("{}: {line}", name.trim_start_matches('/')));
            }
        }
    }
    found
}

/// A test lab: a temp dir with HOME, KUBECONFIG and XDG dirs, a lab file, and a guard that
/// removes the lab's Docker objects.
pub struct TestLab {
    pub name: String,
    pub dir: tempfile::TempDir,
    servers: u32,
    agents: u32,
    api_port: Option<u16>,
    ports: Vec<String>,
    env: Vec<(String, String)>,
    /// Extra lines under `cluster:` (two-space indented).
    cluster_extra: String,
    /// Extra top-level sections (`gitops:`, `argocd:` keys go in `argocd_extra`).
    extra: String,
    /// The test provokes a stand-in complaint on purpose (see [`node_complaints`]).
    complaints_expected: bool,
    /// Another lab's HOME (and so its data dir, records and kubeconfig): see [`TestLab::sibling`].
    shared_home: Option<PathBuf>,
}

impl TestLab {
    pub fn new(tag: &str) -> Self {
        TestLab {
            name: unique_name(tag),
            dir: tempfile::tempdir().unwrap(),
            servers: 1,
            agents: 0,
            api_port: None,
            ports: Vec::new(),
            env: Vec::new(),
            cluster_extra: String::new(),
            extra: String::new(),
            complaints_expected: false,
            shared_home: None,
        }
    }
    /// A second lab of the same user: its own folder and lab file, this lab's HOME, so both
    /// share the data dir (records), the kubeconfig and the caches.
    pub fn sibling(&self, tag: &str) -> Self {
        let mut lab = TestLab::new(tag);
        lab.shared_home = Some(self.home());
        lab
    }
    pub fn servers(mut self, n: u32) -> Self {
        self.servers = n;
        self
    }
    pub fn agents(mut self, n: u32) -> Self {
        self.agents = n;
        self
    }
    pub fn api_port(mut self, p: u16) -> Self {
        self.api_port = Some(p);
        self
    }
    pub fn port(mut self, spec: &str) -> Self {
        self.ports.push(spec.to_string());
        self
    }
    /// Extra YAML lines under `cluster:`, e.g. `  env: ["A=B@server:0"]\n`.
    pub fn cluster_yaml(mut self, yaml: &str) -> Self {
        self.cluster_extra.push_str(yaml);
        self
    }
    /// Extra top-level YAML after the `argocd:` section, e.g. a `gitops:` section.
    pub fn yaml(mut self, yaml: &str) -> Self {
        self.extra.push_str(yaml);
        self
    }
    /// This test makes a node complain on purpose (a broken spec, a node password clash), so
    /// the harness must not fail it for that; the test checks the complaint itself.
    pub fn expect_complaints(mut self) -> Self {
        self.complaints_expected = true;
        self
    }
    /// Fail the test when a node of this lab logged what real k3s would fail on.
    pub fn assert_no_complaints(&self) {
        if self.complaints_expected {
            return;
        }
        let found = node_complaints(&self.name);
        assert!(
            found.is_empty(),
            "the stand-in nodes logged what real k3s would fail on (see tests/support/double/strict.rs):\n  {}",
            found.join("\n  ")
        );
    }
    /// An environment variable for every `playground` run.
    pub fn env(mut self, k: &str, v: &str) -> Self {
        self.env.push((k.into(), v.into()));
        self
    }

    /// This lab's own cache namespace: its name, cut as `playground` cuts a namespace (24
    /// characters, `CacheSettings::from_env`), so the guard removes what a long name made.
    pub fn cache_namespace(&self) -> &str {
        self.name[..self.name.len().min(24)].trim_end_matches('-')
    }

    pub fn home(&self) -> PathBuf {
        self.shared_home
            .clone()
            .unwrap_or_else(|| self.dir.path().join("home"))
    }
    pub fn kubeconfig(&self) -> PathBuf {
        self.home().join(".kube/config")
    }
    pub fn file(&self) -> PathBuf {
        self.dir.path().join("playground.yaml")
    }

    /// Write the lab file and return self (ready to run commands).
    pub fn write(mut self) -> Self {
        let image = node_image();
        if self.servers > 1 {
            // Multi-server labs get the stand-in nginx (no image can be pulled here).
            self.env
                .push(("PLAYGROUND_LB_IMAGE".into(), lb_image().into()));
        }
        // The stand-in models a host that has not loaded br_netfilter: its nodes need the
        // host's modules for k3s to load it (see `strict::br_netfilter_check`).
        self.env.push((
            playground::cluster::plan::ENV_HOST_MODULES.into(),
            standin_modules().display().to_string(),
        ));
        std::fs::create_dir_all(self.home()).unwrap();
        let api = match self.api_port {
            Some(p) => format!("  api: {{ host: 127.0.0.1, port: {p} }}\n"),
            None => String::new(),
        };
        let ports = if self.ports.is_empty() {
            String::new()
        } else {
            format!(
                "  ports: [{}]\n",
                self.ports
                    .iter()
                    .map(|p| format!("\"{p}\""))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        // Every lab publishes the Argo CD UI; a free port keeps parallel tests apart.
        let ui = free_port();
        let yaml = format!(
            "apiVersion: playground.dev/v1alpha1\nkind: Playground\nmetadata:\n  name: {}\ncluster:\n  image: {image}\n  servers: {}\n  agents: {}\n  privileged: false\n{api}{ports}{}argocd:\n  ui: {{ port: {ui} }}\n{}",
            self.name, self.servers, self.agents, self.cluster_extra, self.extra
        );
        std::fs::write(self.file(), yaml).unwrap();
        self
    }

    /// A `playground` command with the isolated environment, run in the lab's dir.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_playground"));
        let home = self.home();
        c.args(args)
            .current_dir(self.dir.path())
            .env("HOME", &home)
            .env("KUBECONFIG", self.kubeconfig())
            .env("XDG_CONFIG_HOME", home.join(".config"))
            .env("XDG_CACHE_HOME", home.join(".cache"))
            .env("XDG_DATA_HOME", home.join(".local/share"))
            .env("XDG_STATE_HOME", home.join(".local/state"))
            .env("NO_COLOR", "1")
            // Each lab gets its own image caches (if any are made), removed with the lab;
            // a test that shares caches between labs sets the same namespace on both.
            .env("PLAYGROUND_CACHE_NAMESPACE", self.cache_namespace())
            .env_remove("PLAYGROUND_CACHE_IMAGE")
            // `write` sets the stand-in nginx for a multi-server lab; the real suite uses nginx.
            .env_remove("PLAYGROUND_LB_IMAGE")
            // `write` points the stand-in's nodes at stand-in modules; the real suite mounts
            // the host's own /lib/modules.
            .env_remove(playground::cluster::plan::ENV_HOST_MODULES)
            .env_remove("RUST_LOG");
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c
    }

    /// [`TestLab::cmd`] started from a shell with `umask` set first.
    pub fn cmd_with_umask(&self, umask: &str, args: &[&str]) -> Command {
        let inner = self.cmd(args);
        let mut c = Command::new("sh");
        c.arg("-c")
            .arg(format!("umask {umask}; exec \"$@\""))
            .arg("sh")
            .arg(inner.get_program())
            .args(inner.get_args());
        if let Some(dir) = inner.get_current_dir() {
            c.current_dir(dir);
        }
        for (k, v) in inner.get_envs() {
            match v {
                Some(v) => c.env(k, v),
                None => c.env_remove(k),
            };
        }
        c
    }

    /// This lab's entry in `playground list -o json`.
    pub fn list_entry(&self) -> serde_json::Value {
        let list = items(&self.ok(&["list", "-o", "json"]), "LabList");
        list.as_array()
            .unwrap()
            .iter()
            .find(|l| l["name"] == self.name.as_str())
            .unwrap_or_else(|| panic!("{} is not in the list: {list}", self.name))
            .clone()
    }

    /// Run `playground ARGS` and return its output.
    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("run playground")
    }

    /// Run and assert success, returning stdout. After a command that starts nodes, the
    /// nodes' logs must be free of stand-in complaints.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "playground {} failed ({}):\nstdout:\n{}\nstderr:\n{}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if matches!(args.first(), Some(&("up" | "resume" | "restore"))) {
            self.assert_no_complaints();
        }
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for TestLab {
    fn drop(&mut self) {
        let complaints = if std::thread::panicking() || self.complaints_expected {
            Vec::new()
        } else {
            node_complaints(&self.name)
        };
        remove_docker_objects(&self.name);
        remove_cache_objects(self.cache_namespace());
        assert!(
            complaints.is_empty(),
            "the stand-in nodes logged what real k3s would fail on (see tests/support/double/strict.rs):\n  {}",
            complaints.join("\n  ")
        );
    }
}

/// Run kubectl, or `None` (with a note) when it is not installed and not required.
pub fn kubectl() -> Option<Command> {
    let found = Command::new("kubectl")
        .arg("version")
        .arg("--client")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            !require_all(),
            "kubectl is required (PLAYGROUND_REQUIRE_ALL=1) but not found"
        );
        eprintln!("skipping the kubectl part: kubectl is not installed");
        return None;
    }
    Some(Command::new("kubectl"))
}

/// A kube-rs client from a kubeconfig file (its current context).
pub async fn kube_client(kubeconfig: &Path) -> kube::Client {
    let kc = kube::config::Kubeconfig::read_from(kubeconfig).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .unwrap();
    kube::Client::try_from(config).unwrap()
}

/// The names of the Ready nodes, sorted, as kube-rs sees them through `kubeconfig`.
pub async fn ready_nodes(kubeconfig: &Path) -> Vec<String> {
    nodes(kubeconfig, true).await
}

/// The names of the lab's Nodes, Ready or not, sorted.
pub async fn node_names(kubeconfig: &Path) -> Vec<String> {
    nodes(kubeconfig, false).await
}

async fn nodes(kubeconfig: &Path, ready_only: bool) -> Vec<String> {
    let nodes: kube::Api<k8s_openapi::api::core::v1::Node> =
        kube::Api::all(kube_client(kubeconfig).await);
    let mut names: Vec<String> = nodes
        .list(&Default::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|n| {
            !ready_only
                || n.status
                    .as_ref()
                    .and_then(|s| s.conditions.as_ref())
                    .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
        })
        .filter_map(|n| n.metadata.name)
        .collect();
    names.sort();
    names
}

//! Docker contexts (F5) and `playground doctor`, on the real engine and the real binary.

use std::path::Path;
use std::process::Command;

use sha2::{Digest, Sha256};

use crate::support::harness::Bounded as _;
use crate::support::harness::{self, TestLab};

/// A Docker config dir with one context, `docker context create NAME --docker host=HOST`'s
/// layout (docker/cli `cli/context/store`).
fn write_context(config: &Path, name: &str, host: &str) {
    let sha: String = Sha256::digest(name.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let dir = config.join("contexts/meta").join(sha);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("meta.json"),
        format!(
            r#"{{"Name":"{name}","Metadata":{{}},"Endpoints":{{"docker":{{"Host":"{host}","SkipTLSVerify":false}}}}}}"#
        ),
    )
    .unwrap();
}

/// `playground ARGS` with only the Docker config given: no DOCKER_HOST or DOCKER_CONTEXT from
/// the harness's environment.
fn run_with_config(
    lab: &TestLab,
    config: &Path,
    context_env: Option<&str>,
    args: &[&str],
) -> std::process::Output {
    let mut cmd: Command = lab.cmd(args);
    cmd.env_remove("DOCKER_HOST")
        .env_remove("DOCKER_CONTEXT")
        .env("DOCKER_CONFIG", config);
    if let Some(c) = context_env {
        cmd.env("DOCKER_CONTEXT", c);
    }
    cmd.output().unwrap()
}

/// The socket this test process reaches Docker through.
fn working_socket() -> String {
    match std::env::var("DOCKER_HOST") {
        Ok(h) if h.starts_with("unix://") => h,
        _ => "unix:///var/run/docker.sock".to_string(),
    }
}

#[test]
fn a_context_on_a_missing_socket_fails_list_and_names_it_by_env_and_by_config() {
    harness::require_docker();
    let lab = TestLab::new("ctxgone");
    let config = tempfile::tempdir().unwrap();
    let gone = config.path().join("gone/docker.sock");
    let host = format!("unix://{}", gone.display());
    write_context(config.path(), "colima", &host);

    // By DOCKER_CONTEXT.
    let out = run_with_config(&lab, config.path(), Some("colima"), &["list"]);
    let err = harness::stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains(&host), "{err}");
    assert!(err.contains("DOCKER_CONTEXT=colima"), "{err}");
    assert!(
        err.contains("hint: start the engine of Docker context colima"),
        "{err}"
    );

    // As the current context in config.json.
    std::fs::write(
        config.path().join("config.json"),
        r#"{"currentContext":"colima"}"#,
    )
    .unwrap();
    let out = run_with_config(&lab, config.path(), None, &["list"]);
    let err = harness::stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains(&host), "{err}");
    assert!(err.contains("current Docker context colima"), "{err}");
    assert!(err.contains("docker context use"), "{err}");

    // A context that does not exist at all names the file it looked for.
    let out = run_with_config(&lab, config.path(), Some("nosuch"), &["list"]);
    let err = harness::stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains("Docker context nosuch (from DOCKER_CONTEXT) does not exist"),
        "{err}"
    );
}

#[test]
fn a_context_on_the_working_socket_makes_list_work() {
    harness::require_docker();
    let lab = TestLab::new("ctxok");
    let config = tempfile::tempdir().unwrap();
    write_context(config.path(), "here", &working_socket());
    // Something that would fail if the context were ignored: the current context is broken,
    // DOCKER_CONTEXT names the working one.
    write_context(config.path(), "broken", "unix:///nonexistent/docker.sock");
    std::fs::write(
        config.path().join("config.json"),
        r#"{"currentContext":"broken"}"#,
    )
    .unwrap();
    let out = run_with_config(&lab, config.path(), Some("here"), &["list", "-o", "json"]);
    assert!(out.status.success(), "{}", harness::stderr(&out));
    let labs = harness::items(&String::from_utf8_lossy(&out.stdout), "LabList");
    assert!(labs.is_array(), "{labs}");

    // And as the current context.
    std::fs::write(
        config.path().join("config.json"),
        r#"{"currentContext":"here"}"#,
    )
    .unwrap();
    let out = run_with_config(&lab, config.path(), None, &["list"]);
    assert!(out.status.success(), "{}", harness::stderr(&out));
}

/// Whether this engine runs cgroup v1 and refuses privileged containers, asked of the docker
/// CLI rather than of the code under test.
fn host_is_v1_without_privileged() -> (bool, bool) {
    let v1 = harness::docker(&["info", "--format", "{{.CgroupVersion}}"]) == "1";
    let refused = !Command::new("docker")
        .args([
            "run",
            "--rm",
            "--privileged",
            "--network",
            "none",
            "--entrypoint",
            "/bin/sh",
            harness::node_image(),
            "-c",
            "exit 0",
        ])
        .bounded_output()
        .unwrap()
        .status
        .success();
    (v1, refused)
}

#[test]
fn doctor_reports_this_hosts_cgroup_v1_and_refused_privileged_containers() {
    let lab = TestLab::new("doctor").write();
    let (v1, refused) = host_is_v1_without_privileged();
    let start = std::time::Instant::now();
    let out = lab.run(&["doctor"]);
    let took = start.elapsed();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let err = harness::stderr(&out);
    // Not a terminal: words, not marks.
    assert!(text.contains("[ok]   endpoint: "), "{text}");
    assert!(text.contains("[ok]   engine: Docker Engine "), "{text}");
    assert!(text.contains("[ok]   ports: free: 127.0.0.1:"), "{text}");
    assert!(
        text.contains("[ok]   repo: ") || text.contains("[FAIL] repo: "),
        "{text}"
    );
    if v1 {
        assert!(text.contains("[FAIL] cgroup: cgroup v1"), "{text}");
        assert!(
            text.contains("kubelet is configured to not run on a host using cgroup v1"),
            "{text}"
        );
    }
    if refused {
        // The engine's own words, as `docker run --privileged` prints them.
        assert!(
            text.contains("[FAIL] privileged: the engine refuses privileged containers: "),
            "{text}"
        );
        assert!(text.contains("operation not permitted"), "{text}");
    } else {
        assert!(
            text.contains("[ok]   privileged: a privileged container starts"),
            "{text}"
        );
    }
    if v1 || refused {
        assert_eq!(out.status.code(), Some(1), "{text}\n{err}");
        assert!(text.contains("host checks failed"), "{text}");
    }
    // Every check at once: the probe is the slow one, and it has its own deadline.
    assert!(took.as_secs() < 12, "doctor took {took:?}");
    // The probe container is gone. Other tests run doctor at the same time (`export logs`
    // does), so a probe may be alive for a moment; a leaked one stays.
    let start = std::time::Instant::now();
    loop {
        let left = harness::docker(&["ps", "-aq", "--filter", "label=playground.doctor=probe"]);
        if left.is_empty() {
            break;
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(30),
            "probe containers left: {left}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }

    let out = lab.run(&["doctor", "-o", "json"]);
    let report = harness::document(&String::from_utf8_lossy(&out.stdout), "DoctorReport");
    let check = |id: &str| {
        report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("no check {id} in {report}"))
    };
    assert_eq!(report["ok"], !(v1 || refused), "{report}");
    assert!(
        report["endpoint"]["host"].as_str().unwrap().contains("://"),
        "{report}"
    );
    assert!(report["endpoint"]["source"]["kind"].is_string(), "{report}");
    assert!(report["engine"]["apiVersion"].is_string(), "{report}");
    if v1 {
        assert_eq!(report["engine"]["cgroupVersion"], "1");
        assert_eq!(check("cgroup")["status"], "fail");
        assert!(check("cgroup")["fix"].is_string());
    }
    if refused {
        assert_eq!(check("privileged")["status"], "fail");
        assert!(
            check("privileged")["message"]
                .as_str()
                .unwrap()
                .contains("operation not permitted")
        );
    }
    // The probe also reads br_netfilter (N1): skipped when the probe was refused, else this
    // host's answer.
    let nf = check("br_netfilter");
    if refused {
        assert_eq!(nf["status"], "skip", "{nf}");
    } else {
        let loaded = Path::new("/proc/sys/net/bridge/bridge-nf-call-iptables").exists();
        assert_eq!(nf["status"], if loaded { "ok" } else { "warn" }, "{nf}");
    }
    assert_eq!(check("mounts")["status"], "ok");
    for id in [
        "endpoint",
        "engine",
        "isolation",
        "disk",
        "ports",
        "repo",
        "br_netfilter",
        "mounts",
    ] {
        let s = check(id)["status"].as_str().unwrap().to_string();
        assert!(
            ["ok", "warn", "fail", "skip"].contains(&s.as_str()),
            "{id}: {s}"
        );
    }
}

#[test]
fn doctor_names_a_port_in_use() {
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = holder.local_addr().unwrap().port();
    let lab = TestLab::new("doctorport").api_port(port).write();
    let out = lab.run(&["doctor"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!(
            "[FAIL] ports: host port 127.0.0.1:{port}/tcp is already in use"
        )),
        "{text}"
    );
    assert!(
        text.contains("fix: pick another port in cluster.api.port"),
        "{text}"
    );
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn up_on_a_stand_in_lab_is_not_refused_for_what_only_kubelet_needs() {
    // The preflight runs before the plan; on this cgroup-v1 host it must not stop a lab whose
    // node runs no kubelet, nor warn about it.
    let lab = TestLab::new("preflight").write();
    let out = lab.run(&["up", "--cluster-only", "--dry-run"]);
    let err = harness::stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(!err.contains("cgroup"), "{err}");
}

#[test]
fn up_refuses_k3s_1_35_on_cgroup_v1_before_creating_anything() {
    if harness::docker(&["info", "--format", "{{.CgroupVersion}}"]) != "1" {
        eprintln!("skipped: this engine runs cgroup v2, where the refusal does not apply");
        return;
    }
    let lab = TestLab::new("preflightv1").write();
    let out = lab.run(&[
        "up",
        "--cluster-only",
        "--pull",
        "never",
        "--image",
        "rancher/k3s:v1.35.5-k3s1",
    ]);
    let err = harness::stderr(&out);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("this host cannot run lab"), "{err}");
    assert!(
        err.contains("kubelet is configured to not run on a host using cgroup v1"),
        "{err}"
    );
    assert!(
        err.contains("hint: boot the Docker host with cgroup v2"),
        "{err}"
    );
    assert_eq!(harness::count_docker_objects(&lab.name), 0);
}

#[test]
fn doctor_says_a_port_below_1024_it_may_not_probe_is_unchecked_not_free() {
    // Host port 80: a normal user may not bind it, so our probe is denied; Docker binds it
    // with its own privileges. As root (this suite's CI) the probe would succeed, so doctor
    // runs without CAP_NET_BIND_SERVICE, as a normal user's would.
    let lab = TestLab::new("doctorlow").port("80:80@loadbalancer").write();
    let inner = lab.cmd(&["doctor"]);
    let root = String::from_utf8_lossy(&Command::new("id").arg("-u").output().unwrap().stdout)
        .trim()
        == "0";
    let mut cmd = if root {
        let mut c = Command::new("setpriv");
        c.args(["--bounding-set", "-net_bind_service"])
            .arg(inner.get_program());
        c
    } else {
        Command::new(inner.get_program())
    };
    cmd.args(inner.get_args());
    if let Some(dir) = inner.get_current_dir() {
        cmd.current_dir(dir);
    }
    for (k, v) in inner.get_envs() {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    let out = cmd.output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(
            "[warn] ports: free: 127.0.0.1:"
        ) && text.contains(
            "; could not check 127.0.0.1:80/tcp (binding a port below 1024 needs privileges this process lacks); Docker will try to publish it"
        ),
        "{text}\n{}",
        harness::stderr(&out)
    );
    assert!(
        !text.contains("127.0.0.1:80/tcp is already in use"),
        "{text}"
    );
}

#[test]
fn up_dry_run_on_a_host_failing_preflight_prints_the_plan_and_the_failures() {
    if harness::docker(&["info", "--format", "{{.CgroupVersion}}"]) != "1" {
        eprintln!("skipped: this engine runs cgroup v2, where the refusal does not apply");
        return;
    }
    let lab = TestLab::new("dryv1").write();
    let out = lab.run(&[
        "up",
        "--cluster-only",
        "--dry-run",
        "--image",
        "rancher/k3s:v1.35.5-k3s1",
    ]);
    let (stdout, err) = (String::from_utf8_lossy(&out.stdout), harness::stderr(&out));
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{err}");
    assert!(stdout.contains("plan for lab"), "the plan: {stdout}\n{err}");
    assert!(stdout.contains("create"), "{stdout}");
    assert!(err.contains("this host cannot run lab"), "{err}");
    assert!(
        err.contains("kubelet is configured to not run on a host using cgroup v1"),
        "{err}"
    );
    assert_eq!(harness::count_docker_objects(&lab.name), 0);

    // A k3s older than 1.35 runs on cgroup v1: no word about it.
    let out = lab.run(&[
        "up",
        "--cluster-only",
        "--dry-run",
        "--image",
        "rancher/k3s:v1.34.2-k3s1",
    ]);
    let err = harness::stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(!err.contains("cgroup"), "{err}");
}

#[test]
fn validate_refuses_a_host_port_bound_twice_as_up_does() {
    // A `ports` entry on the Argo CD UI's host port: `up` refuses it before touching Docker,
    // so `validate` must too, at the lab file's `ports`.
    let lab = TestLab::new("port2x").write();
    let text = std::fs::read_to_string(lab.file()).unwrap();
    let ui = text
        .split("ui: { port: ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .unwrap()
        .to_string();
    let text = text.replace(
        "argocd:\n",
        &format!("  ports: [\"{ui}:80@server:0\"]\nargocd:\n"),
    );
    std::fs::write(lab.file(), text).unwrap();
    std::fs::create_dir_all(lab.dir.path().join("apps")).unwrap();
    let want = format!("host port {ui} is bound 2 times");
    let out = lab.run(&["up", "--cluster-only", "--dry-run"]);
    let err = harness::stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains(&want), "{err}");
    let out = lab.run(&["validate"]);
    let err = harness::stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains(&want), "{err}");
    let line = text_line(&std::fs::read_to_string(lab.file()).unwrap(), "  ports:");
    assert!(
        err.contains(&format!("playground.yaml:{line}:3")),
        "at the `ports` key: {err}"
    );
    assert!(err.contains("argocd.ui.port"), "the hint names both: {err}");
}

/// The 1-based number of the first line of `text` that starts with `prefix`.
fn text_line(text: &str, prefix: &str) -> usize {
    text.lines().position(|l| l.starts_with(prefix)).unwrap() + 1
}

#[test]
fn validate_and_up_report_every_problem_of_the_lab_file_in_one_run() {
    // One problem per section and per list entry: each must be named, at its line and column.
    let lab = TestLab::new("manyerr")
        .cluster_yaml(
            "  ports: [\"8081:80@server:0\", \"nope\", \"8083:80@agent:7\"]\n  k3sArgs: [\"@server:0\", \"--ok@server:0\"]\n  env: [\"1BAD=x\", \"GOOD=y\", \"NOEQUALS\"]\n",
        )
        .yaml("  components: [dex, nonsense]\nkeep:\n  secrets:\n    - { namespace: default, name: a, selector: b=c }\n")
        .write();
    std::fs::create_dir_all(lab.dir.path().join("apps")).unwrap();
    let text = std::fs::read_to_string(lab.file()).unwrap();
    let line = |needle: &str| text.lines().position(|l| l.contains(needle)).unwrap() + 1;
    let wanted = [
        (line("ports:"), "`nope`"),
        (line("ports:"), "agent:7"),
        (line("k3sArgs:"), "empty k3s argument"),
        (line("env:"), "`1BAD`"),
        (line("env:"), "`NOEQUALS`"),
        (line("components:"), "`nonsense`"),
        (line("selector: b=c"), "exactly one of `name` or `selector`"),
    ];
    for args in [
        &["validate"][..],
        &["up", "--cluster-only", "--dry-run"][..],
    ] {
        let out = lab.run(args);
        let err = harness::stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        for (line, what) in wanted {
            assert!(
                err.lines()
                    .any(|l| l.contains(&format!("playground.yaml:{line}:")) && l.contains(what)),
                "{args:?}: {what} at line {line} not named:\n{err}"
            );
        }
        assert_eq!(harness::count_docker_objects(&lab.name), 0);
    }
}

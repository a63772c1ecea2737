//! The verdicts, judged on made-up `docker info` data.

use super::*;
use crate::docker::endpoint::EndpointSource;

/// `docker info` of this team's CI host: Debian's Docker 20.10, cgroup v1.
fn debian_v1() -> HostFacts {
    HostFacts {
        server_version: "20.10.24+dfsg1".into(),
        api_version: "1.41".into(),
        cgroup_version: "1".into(),
        cgroup_driver: "cgroupfs".into(),
        security_options: vec!["name=seccomp,profile=default".into()],
        runtimes: vec!["io.containerd.runc.v2".into(), "runc".into()],
        default_runtime: "runc".into(),
        operating_system: "Debian GNU/Linux 12 (bookworm)".into(),
        docker_root_dir: "/var/lib/docker".into(),
        name: "vm".into(),
        product: "Engine".into(),
        product_version: "20.10.24+dfsg1".into(),
    }
}

/// A current laptop: cgroup v2 with systemd.
fn ubuntu_v2() -> HostFacts {
    HostFacts {
        cgroup_version: "2".into(),
        cgroup_driver: "systemd".into(),
        security_options: vec![
            "name=apparmor".into(),
            "name=seccomp,profile=builtin".into(),
            "name=cgroupns".into(),
        ],
        server_version: "28.3.0".into(),
        ..debian_v1()
    }
}

#[test]
fn cgroup_v1_fails_with_kubelets_own_words_and_blocks_up_only_for_k3s_1_35_and_later() {
    let c = judge_cgroup(&debian_v1(), "rancher/k3s:v1.35.5-k3s1");
    assert_eq!(c.status, Status::Fail);
    assert!(
        c.message.contains("cgroup v1 (driver cgroupfs)"),
        "{}",
        c.message
    );
    assert!(c.message.contains(CGROUP_V1_REFUSAL), "{}", c.message);
    assert!(c.fix.as_deref().unwrap().contains("cgroup v2"));
    assert!(c.blocks_up);
    // Older Kubernetes still runs on v1: nothing to warn about, `up` goes on.
    let older = judge_cgroup(&debian_v1(), "rancher/k3s:v1.34.2-k3s1");
    assert!(!older.blocks_up);
    assert_eq!(
        older.status,
        Status::Ok,
        "nothing to warn about: {}",
        older.message
    );
    // No kubelet version to read (the stand-in node): not a refusal.
    assert!(!judge_cgroup(&debian_v1(), "playground-test/node:dev-abc").blocks_up);
    let ok = judge_cgroup(&ubuntu_v2(), "rancher/k3s:v1.35.5-k3s1");
    assert_eq!(
        (ok.status, ok.message.as_str()),
        (Status::Ok, "cgroup v2 (driver systemd)")
    );
    let old = HostFacts {
        cgroup_version: String::new(),
        ..debian_v1()
    };
    assert_eq!(
        judge_cgroup(&old, "rancher/k3s:v1.35.5-k3s1").status,
        Status::Warn
    );
}

#[test]
fn k3s_images_are_told_from_others_by_name_and_tag() {
    assert_eq!(k3s_minor("rancher/k3s:v1.35.5-k3s1"), Some(35));
    assert_eq!(k3s_minor("docker.io/rancher/k3s:v1.31.0-k3s1"), Some(31));
    assert_eq!(
        k3s_minor("localhost:5000/rancher/k3s:v1.36.0-rc1-k3s1"),
        Some(36)
    );
    assert_eq!(k3s_minor("rancher/k3s:latest"), None);
    assert_eq!(k3s_minor("localhost:5000/k3s-test/node:v1.35.0"), None);
    assert!(runs_kubelet("localhost:5000/rancher/k3s"));
    assert!(!runs_kubelet("playground-test/node:dev-0cb4688c3a6f"));
    assert!(!runs_kubelet("k3s.example.com:5000/node:v1"));
}

#[test]
fn userns_remap_and_enhanced_container_isolation_are_warned_about() {
    assert_eq!(
        judge_isolation(&ubuntu_v2(), Some("runc")).status,
        Status::Ok
    );
    let remap = HostFacts {
        security_options: vec!["name=seccomp,profile=default".into(), "name=userns".into()],
        ..debian_v1()
    };
    let c = judge_isolation(&remap, None);
    assert_eq!(c.status, Status::Warn);
    assert!(c.message.contains("userns-remap"), "{}", c.message);
    assert!(c.fix.unwrap().contains("daemon.json"));
    // ECI: the runtime the probe container really ran under, or one the engine lists.
    let desktop = HostFacts {
        operating_system: "Docker Desktop".into(),
        ..ubuntu_v2()
    };
    let c = judge_isolation(&desktop, Some("sysbox-runc"));
    assert!(
        c.message.contains("Enhanced Container Isolation"),
        "{}",
        c.message
    );
    let listed = HostFacts {
        runtimes: vec!["runc".into(), "sysbox-runc".into()],
        ..desktop
    };
    assert_eq!(judge_isolation(&listed, None).status, Status::Warn);
}

#[test]
fn a_refused_privileged_container_is_reported_in_the_engines_words() {
    let text = "failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: unable to apply caps: operation not permitted: unknown";
    let c = judge_privileged("img", Some(&Ok(PrivilegedProbe::Refused(text.into()))));
    assert_eq!(c.status, Status::Fail);
    assert!(c.message.ends_with(text), "{}", c.message);
    assert!(c.fix.is_some());
    let c = judge_privileged(
        "img",
        Some(&Ok(PrivilegedProbe::Started {
            runtime: "runc".into(),
            br_netfilter: Some(true),
        })),
    );
    assert_eq!(c.status, Status::Ok);
    // No image to try: said honestly, not passed.
    let c = judge_privileged("rancher/k3s:v1.35.5-k3s1", None);
    assert_eq!(c.status, Status::Skip);
    assert!(c.message.starts_with("not checked"), "{}", c.message);
    // An image without a shell says nothing about privileges.
    let c = judge_privileged(
        "img",
        Some(&Ok(PrivilegedProbe::Refused(
            "exec: \"/bin/sh\": stat /bin/sh: no such file or directory".into(),
        ))),
    );
    assert_eq!(c.status, Status::Skip);
}

#[test]
fn too_little_disk_for_a_lab_fails_and_below_kubelets_threshold_warns() {
    const GIB: u64 = 1 << 30;
    let at = |available: u64, total: u64| {
        judge_disk(
            "/var/lib/docker",
            Ok(DiskSpace {
                available: available * GIB,
                total: total * GIB,
            }),
        )
    };
    assert_eq!(at(30, 100).status, Status::Ok);
    // Nodes turn kubelet's disk eviction off: 12 % free is a warning, not a taint.
    let c = at(60, 500);
    assert_eq!(c.status, Status::Warn);
    assert!(c.message.contains("imagefs.available<15%"), "{}", c.message);
    assert!(c.message.contains("turn off"), "{}", c.message);
    // Too little to pull the lab's images at all.
    let c = at(3, 10);
    assert_eq!(c.status, Status::Fail);
    assert!(c.message.contains("4 GiB"), "{}", c.message);
    assert!(c.fix.unwrap().contains("docker system prune"));
    let c = judge_disk("/var/lib/docker", Err("inside the VM".into()));
    assert_eq!(
        (c.status, c.message.as_str()),
        (Status::Skip, "not checked: inside the VM")
    );
}

#[test]
fn the_disk_of_an_engine_elsewhere_is_not_measured_here() {
    let endpoint = |host: &str| Endpoint {
        host: host.into(),
        source: EndpointSource::DockerHost,
    };
    let err = disk_space(&endpoint("tcp://10.0.0.5:2375"), &debian_v1()).unwrap_err();
    assert!(err.contains("not on this machine"), "{err}");
    let desktop = HostFacts {
        operating_system: "Docker Desktop".into(),
        name: "docker-desktop".into(),
        ..ubuntu_v2()
    };
    let err = disk_space(
        &endpoint("unix:///Users/me/.docker/run/docker.sock"),
        &desktop,
    )
    .unwrap_err();
    assert!(err.contains("not statable from this host"), "{err}");
}

#[test]
fn the_verdict_fails_on_any_failure_and_the_output_names_each_fix() {
    let checks = vec![
        judge_engine(&debian_v1()),
        judge_cgroup(&debian_v1(), "rancher/k3s:v1.35.5-k3s1"),
        judge_isolation(&debian_v1(), None),
    ];
    let r = Report::new(None, Some(debian_v1()), checks);
    assert!(!r.ok);
    assert_eq!((r.failures, r.warnings), (1, 0));
    let plain = r.render(false);
    assert!(
        plain.contains("[ok]   engine: Docker Engine 20.10.24+dfsg1, API 1.41"),
        "{plain}"
    );
    assert!(plain.contains("[FAIL] cgroup: cgroup v1"), "{plain}");
    assert!(
        plain.contains("\n  fix: boot the Docker host with cgroup v2"),
        "{plain}"
    );
    assert!(
        plain.trim_end().ends_with("until the fixes above are made"),
        "{plain}"
    );
    assert!(!plain.contains('✔'), "{plain}");
    let fancy = r.render(true);
    assert!(
        fancy.contains("✗ cgroup:") && fancy.contains("✔ engine:"),
        "{fancy}"
    );

    let good = Report::new(
        None,
        None,
        vec![
            judge_cgroup(&ubuntu_v2(), "x"),
            Check::new("isolation", Status::Warn, "w"),
        ],
    );
    assert!(good.ok);
    assert!(
        good.render(false)
            .contains("host checks passed with 1 warning(s)")
    );
    let json = serde_json::to_value(&good).unwrap();
    assert_eq!(json["checks"][0]["status"], "ok");
    assert_eq!(json["checks"][1]["id"], "isolation");
    assert!(json["checks"][0].get("fix").is_none());
}

#[test]
fn an_unreachable_engine_is_a_failure_that_names_the_socket_and_the_fix() {
    let endpoint = Endpoint {
        host: "unix:///nowhere.sock".into(),
        source: EndpointSource::Default { via: None },
    };
    let e = EngineError::Unreachable {
        endpoint: Box::new(endpoint),
        source: "Socket not found: /nowhere.sock".into(),
    };
    let c = judge_endpoint(Err(&e));
    assert_eq!(c.status, Status::Fail);
    assert!(
        c.message
            .contains("unix:///nowhere.sock (the default socket)"),
        "{}",
        c.message
    );
    assert!(c.fix.unwrap().contains("start Docker"));
}

fn port(ip: &str, host_port: u16, container_port: u16) -> crate::docker::PortBinding {
    crate::docker::PortBinding {
        host_ip: ip.parse().unwrap(),
        host_port,
        container_port,
        protocol: "tcp",
    }
}

/// These tests run as root, which may bind any port: a denied probe is shown on the verdict
/// it feeds, not through a real bind.
#[test]
fn a_port_whose_probe_was_denied_is_a_warning_not_free() {
    let (api, web) = (port("127.0.0.1", 6550, 6443), port("0.0.0.0", 80, 80));
    let report = up::PortReport {
        ports: vec![api.clone(), web.clone()],
        busy: Vec::new(),
        denied: vec![web],
    };
    let check = ports_verdict(&LabName::parse("web").unwrap(), &report);
    assert_eq!(check.status, Status::Warn, "{check:?}");
    assert_eq!(
        check.message,
        "free: 127.0.0.1:6550/tcp; could not check 0.0.0.0:80/tcp (binding a port below 1024 \
         needs privileges this process lacks); Docker will try to publish it"
    );
    assert!(!check.blocks_up);

    // The same ports, all probed: free.
    let report = up::PortReport {
        denied: Vec::new(),
        ..report
    };
    let check = ports_verdict(&LabName::parse("web").unwrap(), &report);
    assert_eq!(check.status, Status::Ok);
    assert_eq!(check.message, "free: 127.0.0.1:6550/tcp, 0.0.0.0:80/tcp");
}

#[test]
fn a_refused_host_names_every_failed_check_and_keeps_their_fixes_as_hints() {
    use crate::diag::{Hinted, Report};
    let e = PreflightError {
        lab: "lab".into(),
        image: "rancher/k3s:v1.35.5-k3s1".into(),
        reasons: vec![
            ("cgroup v1".into(), Some("boot with cgroup v2".into())),
            ("no disk".into(), None),
            ("port taken".into(), Some("free the port".into())),
        ],
    };
    let message = e.to_string();
    assert!(
        message.contains("cgroup v1\nno disk\nport taken"),
        "{message}"
    );
    assert!(!message.contains("hint:"), "{message}");
    assert_eq!(
        e.hint().as_deref(),
        Some("boot with cgroup v2\n  hint: free the port")
    );
    let shown = Report(&e).to_string();
    assert!(
        shown.ends_with("\n  hint: boot with cgroup v2\n  hint: free the port"),
        "{shown}"
    );
}

#[test]
fn a_rootless_engine_is_refused_and_blocks_up() {
    let rootless = HostFacts {
        security_options: vec![
            "name=seccomp,profile=builtin".into(),
            "name=rootless".into(),
        ],
        ..ubuntu_v2()
    };
    let c = judge_isolation(&rootless, None);
    assert_eq!(c.status, Status::Fail);
    assert!(c.blocks_up);
    assert!(c.message.contains(ROOTLESS_REFUSAL), "{}", c.message);
    assert!(c.fix.as_deref().unwrap().contains("rootful"));
    assert_eq!(judge_isolation(&ubuntu_v2(), None).status, Status::Ok);
}

#[test]
fn podman_is_named_and_refused_before_4_7() {
    let podman = |v: &str| HostFacts {
        product: "Podman Engine".into(),
        product_version: v.into(),
        server_version: v.into(),
        api_version: "1.41".into(),
        ..ubuntu_v2()
    };
    let old = judge_engine(&podman("4.4.1"));
    assert_eq!(old.status, Status::Fail);
    assert!(old.blocks_up);
    assert!(old.message.starts_with("Podman 4.4.1"), "{}", old.message);
    assert!(old.message.contains("host-gateway"), "{}", old.message);
    let new = judge_engine(&podman("5.4.2"));
    assert_eq!(new.status, Status::Warn);
    assert!(!new.blocks_up);
    assert!(
        new.message.contains("not among the engines"),
        "{}",
        new.message
    );
    assert_eq!(judge_engine(&ubuntu_v2()).status, Status::Ok);
}

#[test]
fn br_netfilter_missing_warns_with_the_host_fix() {
    let probe = |b| {
        Ok(PrivilegedProbe::Started {
            runtime: "runc".into(),
            br_netfilter: b,
        })
    };
    assert_eq!(
        judge_br_netfilter(Some(&probe(Some(true)))).status,
        Status::Ok
    );
    let c = judge_br_netfilter(Some(&probe(Some(false))));
    assert_eq!(c.status, Status::Warn);
    let fix = c.fix.unwrap();
    assert!(fix.contains("modprobe br_netfilter"), "{fix}");
    assert!(fix.contains("/etc/modules-load.d"), "{fix}");
    assert_eq!(judge_br_netfilter(Some(&probe(None))).status, Status::Skip);
    assert_eq!(judge_br_netfilter(None).status, Status::Skip);
}

#[test]
fn mounts_outside_docker_desktops_shares_get_the_file_sharing_hint() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("data")).unwrap();
    let file = dir.path().join("playground.yaml");
    let lab = crate::config::parse(
        "apiVersion: playground.dev/v1alpha1\nkind: Playground\nmetadata:\n  name: lab\ncluster:\n  mounts: [\"data:/data\"]\n",
        &file,
    )
    .unwrap();
    let desktop = HostFacts {
        operating_system: "Docker Desktop".into(),
        ..ubuntu_v2()
    };
    // A temp dir is under /tmp here: shared.
    let c = judge_mounts(&lab, Some(&desktop));
    assert_eq!(c.status, Status::Ok, "{}", c.message);
    let mut outside = lab.clone();
    outside.cluster.mounts[0].value.host = "/opt".into();
    let c = judge_mounts(&outside, Some(&desktop));
    assert_eq!(c.status, Status::Warn, "{}", c.message);
    assert!(c.message.contains("Mounts denied"), "{}", c.message);
    assert_eq!(c.fix.as_deref(), Some(crate::docker::MOUNTS_DENIED_HINT));
    // Not Docker Desktop: no such list.
    assert_eq!(
        judge_mounts(&outside, Some(&ubuntu_v2())).status,
        Status::Ok
    );
    let mut gone = lab.clone();
    gone.cluster.mounts[0].value.host = dir.path().join("gone");
    assert_eq!(judge_mounts(&gone, None).status, Status::Fail);
}

// The checks as they run: against `FakeEngine` through the `Host` seam, so what `doctor` and
// `up`'s preflight ask of the engine, and what they make of its answers, is shown without
// Docker.

#[test]
fn a_shell_behind_a_proxy_and_a_lab_without_one_is_warned_without_the_url() {
    let secret = "http://ada:s3cret@proxy.corp:3128";
    let lab = crate::config::default_lab();
    let env = |want: &'static str| move |v: &str| (v == want).then(|| secret.to_string());
    let c = judge_proxy(&lab, env("https_proxy")).expect("a check");
    assert_eq!(c.status, Status::Warn);
    assert!(c.message.contains("sets https_proxy"), "{}", c.message);
    let fix = c.fix.clone().unwrap_or_default();
    assert!(fix.contains("proxy: fromEnv"), "{fix}");
    assert!(!format!("{c:?}").contains("s3cret"), "{c:?}");

    let mut with = lab.clone();
    with.cluster.proxy = Some(crate::config::ProxySpec {
        from_env: true,
        http: None,
        https: None,
        no_proxy: vec![],
    });
    assert_eq!(
        judge_proxy(&with, env("HTTP_PROXY")).map(|c| c.status),
        Some(Status::Ok)
    );
    // No proxy in this shell (or an empty one): nothing to say.
    assert!(judge_proxy(&lab, |_| None).is_none());
    assert!(judge_proxy(&lab, |_| Some(" ".into())).is_none());
}

mod against_an_engine {
    use super::*;
    use crate::docker::fake::FakeEngine;

    const K3S: &str = "rancher/k3s:v1.35.0-k3s1";

    fn status_of(checks: &[Check], id: &str) -> Status {
        checks
            .iter()
            .find(|c| c.id == id)
            .unwrap_or_else(|| panic!("no {id} check in {checks:?}"))
            .status
    }

    fn asked(engine: &FakeEngine, kind: &str) -> Vec<String> {
        engine
            .calls()
            .into_iter()
            .filter(|c| c.kind == kind)
            .map(|c| c.target)
            .collect()
    }

    #[tokio::test]
    async fn doctor_probes_the_image_it_has_and_judges_the_engines_answers() {
        let engine = FakeEngine::new().with_image(K3S);
        let (facts, checks) = checks(&engine, None, K3S, Scope::Doctor).await;
        assert_eq!(facts.unwrap().cgroup_version, "2");
        for id in ["endpoint", "engine", "cgroup", "isolation", "privileged"] {
            assert_eq!(status_of(&checks, id), Status::Ok, "{id}: {checks:?}");
        }
        assert_eq!(asked(&engine, "probe_privileged"), [K3S]);
        // An engine elsewhere: its disk is not this machine's, and doctor says so.
        assert_ne!(status_of(&checks, "disk"), Status::Ok, "{checks:?}");
    }

    #[tokio::test]
    async fn doctor_pulls_nothing_so_an_absent_image_is_not_probed() {
        let engine = FakeEngine::new();
        let (_, checks) = checks(&engine, None, K3S, Scope::Doctor).await;
        assert_eq!(status_of(&checks, "privileged"), Status::Skip);
        assert!(asked(&engine, "probe_privileged").is_empty());
        assert!(asked(&engine, "pull_image").is_empty());
    }

    #[tokio::test]
    async fn a_refused_probe_fails_doctor_but_up_never_starts_one() {
        let engine = FakeEngine::new().with_image(K3S);
        engine.set_privileged_probe(PrivilegedProbe::Refused(
            "privileged mode is incompatible with user namespaces".into(),
        ));
        let (_, checks) = checks(&engine, None, K3S, Scope::Doctor).await;
        assert_eq!(status_of(&checks, "privileged"), Status::Fail);

        engine.clear_calls();
        let mut lab = crate::config::default_lab();
        lab.cluster.image = K3S.into();
        let ui = crate::ui::Ui::new(true, false);
        preflight_up(&engine, &lab, &ui).await.unwrap();
        assert!(asked(&engine, "probe_privileged").is_empty());
        assert_eq!(asked(&engine, "host_facts"), [""]);
    }

    #[tokio::test]
    async fn up_refuses_a_cgroup_v1_host_for_k3s_1_35_and_names_the_fix() {
        let engine = FakeEngine::new();
        engine.set_host_facts(debian_v1());
        let mut lab = crate::config::default_lab();
        lab.cluster.image = K3S.into();
        let ui = crate::ui::Ui::new(true, false);
        let err = preflight_up(&engine, &lab, &ui).await.unwrap_err();
        let text = crate::diag::Report(&err).to_string();
        assert!(text.contains("cgroup v1"), "{text}");
        assert!(
            text.contains("hint: boot the Docker host with cgroup v2"),
            "{text}"
        );
        // The same host runs an older k3s, and the test suite's stand-in (no kubelet).
        for image in ["rancher/k3s:v1.34.2-k3s1", "playground-test-node:latest"] {
            lab.cluster.image = image.into();
            preflight_up(&engine, &lab, &ui).await.unwrap();
        }
    }

    #[tokio::test(start_paused = true)]
    async fn an_engine_that_does_not_answer_is_reported_within_the_budget() {
        let engine = FakeEngine::new().with_image(K3S);
        let held = engine.hold("host_facts", "");
        let started = tokio::time::Instant::now();
        let (facts, checks) = checks(&engine, None, K3S, Scope::Doctor).await;
        assert!(facts.is_none());
        let engine_check = checks.iter().find(|c| c.id == "engine").unwrap();
        assert_eq!(engine_check.status, Status::Fail);
        assert!(
            engine_check
                .message
                .contains("docker info did not answer within 1000 ms"),
            "{engine_check:?}"
        );
        // The other checks still ran, each under its own deadline, not one after another.
        assert_eq!(status_of(&checks, "privileged"), Status::Ok);
        assert!(
            started.elapsed() < FAST_BUDGET + PROBE_BUDGET,
            "{:?}",
            started.elapsed()
        );
        held.release();
    }
}

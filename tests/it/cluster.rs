//! The cluster life cycle against the real Docker Engine, with the stand-in k3s node.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::harness::Bounded as _;
use crate::support::harness::{self, TestLab, count_docker_objects, docker, ready_nodes};

fn lab_entry(list: &serde_json::Value, name: &str) -> serde_json::Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|l| l["name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("lab {name} not in list: {list}"))
}

fn container_ids(lab: &str) -> Vec<String> {
    let out = Command::new("docker")
        .args([
            "ps",
            "-aq",
            "--no-trunc",
            "--filter",
            &format!("label=playground.cluster={lab}"),
        ])
        .bounded_output()
        .unwrap();
    let mut ids: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(str::to_string)
        .collect();
    ids.sort();
    ids
}

fn container_states(lab: &str) -> Vec<String> {
    let out = Command::new("docker")
        .args([
            "ps",
            "-a",
            "--format",
            "{{.State}}",
            "--filter",
            &format!("label=playground.cluster={lab}"),
        ])
        .bounded_output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

async fn coredns_custom(kubeconfig: &std::path::Path) -> String {
    let client = harness::kube_client(kubeconfig).await;
    let cms: kube::Api<k8s_openapi::api::core::v1::ConfigMap> =
        kube::Api::namespaced(client, "kube-system");
    let cm = cms.get("coredns-custom").await.unwrap();
    cm.data
        .unwrap_or_default()
        .get("playground.server")
        .cloned()
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn life_cycle_of_one_server_and_two_agents() {
    let web = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let lab = TestLab::new("life")
        .agents(2)
        .port(&format!("{web}:80@loadbalancer"))
        .write();
    let name = lab.name.clone();

    lab.ok(&["up", "--cluster-only"]);
    let list = harness::items(&lab.ok(&["list", "-o", "json"]), "LabList");
    let entry = lab_entry(&list, &name);
    assert_eq!(entry["state"], "running");
    assert_eq!(entry["servers"], 1);
    assert_eq!(entry["agents"], 2);
    let api = entry["api"].as_str().unwrap().to_string();
    assert!(api.starts_with("https://127.0.0.1:"), "{api}");
    // With one server there is no load balancer: three containers, and the @loadbalancer
    // port is published by server-0, on 127.0.0.1 only.
    assert_eq!(container_ids(&name).len(), 3);
    let published = Command::new("docker")
        .args(["port", &format!("playground-{name}-server-0"), "80/tcp"])
        .bounded_output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&published.stdout).trim(),
        format!("127.0.0.1:{web}")
    );

    // The kubeconfig: ours, current, 0600, and it works from kube-rs.
    let kc_path = lab.kubeconfig();
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&kc_path).unwrap().permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
    let kc = kube::config::Kubeconfig::read_from(&kc_path).unwrap();
    let context = format!("playground-{name}");
    assert_eq!(kc.current_context.as_deref(), Some(context.as_str()));
    let server = kc
        .clusters
        .iter()
        .find(|c| c.name == context)
        .unwrap()
        .cluster
        .as_ref()
        .unwrap()
        .server
        .clone();
    assert_eq!(server.as_deref(), Some(api.as_str()));
    let nodes = ready_nodes(&kc_path).await;
    assert_eq!(
        nodes,
        vec![
            format!("playground-{name}-agent-0"),
            format!("playground-{name}-agent-1"),
            format!("playground-{name}-server-0")
        ]
    );

    // The host is reachable by name from nodes (Docker's ExtraHosts) and pods (CoreDNS). The
    // node asks Docker for `host-gateway`, which Docker resolves itself (the default bridge's
    // gateway on Linux, the real host on Docker Desktop), and CoreDNS gets what Docker wrote.
    let extra_hosts = docker(&[
        "inspect",
        "-f",
        "{{json .HostConfig.ExtraHosts}}",
        &format!("playground-{name}-agent-1"),
    ]);
    assert_eq!(extra_hosts, r#"["host.playground.internal:host-gateway"]"#);
    // Docker 20.10 lists no Gateway for its default bridge; then it is the subnet's first address.
    let host_gateway = match docker(&[
        "network",
        "inspect",
        "-f",
        "{{(index .IPAM.Config 0).Gateway}} {{(index .IPAM.Config 0).Subnet}}",
        "bridge",
    ])
    .split_whitespace()
    .collect::<Vec<_>>()[..]
    {
        [gateway, _] => gateway.to_string(),
        [subnet] => {
            let base: std::net::Ipv4Addr = subnet.split('/').next().unwrap().parse().unwrap();
            std::net::Ipv4Addr::from(u32::from(base) + 1).to_string()
        }
        _ => String::new(),
    };
    assert!(
        host_gateway.parse::<std::net::Ipv4Addr>().is_ok(),
        "no gateway on Docker's default bridge: {host_gateway:?}"
    );
    let hosts = docker(&[
        "exec",
        &format!("playground-{name}-agent-1"),
        "cat",
        "/etc/hosts",
    ]);
    assert!(
        hosts.lines().any(|l| l.contains("host.playground.internal")
            && l.starts_with(&format!("{host_gateway}\t"))),
        "{host_gateway} not in:\n{hosts}"
    );
    let coredns = coredns_custom(&kc_path).await;
    assert!(
        coredns.contains(&format!("{host_gateway} host.playground.internal")),
        "{coredns}"
    );

    // `playground kubeconfig` prints a standalone kubeconfig for the lab.
    let printed = lab.ok(&["kubeconfig", &name]);
    let standalone = kube::config::Kubeconfig::from_yaml(&printed).unwrap();
    assert_eq!(
        standalone.current_context.as_deref(),
        Some(context.as_str())
    );
    assert_eq!(
        standalone.clusters[0]
            .cluster
            .as_ref()
            .unwrap()
            .server
            .as_deref(),
        Some(api.as_str())
    );

    // Idempotent: a second `up` changes nothing.
    let before = container_ids(&name);
    lab.ok(&["up", "--cluster-only"]);
    assert_eq!(container_ids(&name), before);

    // Suspend stops every node, twice is fine, and the lab reads as suspended.
    lab.ok(&["suspend"]);
    assert!(
        container_states(&name).iter().all(|s| s == "exited"),
        "{:?}",
        container_states(&name)
    );
    lab.ok(&["suspend", &name]);
    assert_eq!(
        lab_entry(
            &harness::items(&lab.ok(&["list", "-o", "json"]), "LabList"),
            &name
        )["state"],
        "suspended"
    );

    // Resume brings every node back, with the same containers and a working API.
    lab.ok(&["resume", &name]);
    assert_eq!(container_ids(&name), before);
    assert_eq!(
        lab_entry(
            &harness::items(&lab.ok(&["list", "-o", "json"]), "LabList"),
            &name
        )["state"],
        "running"
    );
    assert_eq!(ready_nodes(&kc_path).await.len(), 3);
    // Resume re-asserts the CoreDNS record, even if someone removed it meanwhile.
    assert!(
        coredns_custom(&kc_path)
            .await
            .contains("host.playground.internal")
    );

    // Status shows the nodes.
    let status = harness::document(&lab.ok(&["status", &name, "-o", "json"]), "LabStatus");
    assert_eq!(status["nodes"].as_array().unwrap().len(), 3);

    // Drop removes every object and our kube entries.
    lab.ok(&["drop", &name, "--yes"]);
    assert_eq!(count_docker_objects(&name), 0);
    let kc = kube::config::Kubeconfig::read_from(&kc_path).unwrap();
    assert!(kc.contexts.iter().all(|c| c.name != context));
    assert!(kc.clusters.iter().all(|c| c.name != context));
    assert!(kc.auth_infos.iter().all(|c| c.name != context));
}

#[test]
fn pause_and_resume() {
    let lab = TestLab::new("pause").write();
    lab.ok(&["up", "--cluster-only"]);
    lab.ok(&["suspend", "--pause"]);
    assert_eq!(container_states(&lab.name), vec!["paused"]);
    assert_eq!(
        lab_entry(
            &harness::items(&lab.ok(&["list", "-o", "json"]), "LabList"),
            &lab.name
        )["state"],
        "paused"
    );
    lab.ok(&["resume"]);
    assert_eq!(container_states(&lab.name), vec!["running"]);
    // `up` on a paused lab unpauses it instead of recreating anything.
    lab.ok(&["suspend", "--pause"]);
    lab.ok(&["up", "--cluster-only"]);
    assert_eq!(container_states(&lab.name), vec!["running"]);
}

#[test]
fn a_port_in_use_is_found_before_anything_is_created() {
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = holder.local_addr().unwrap().port();
    let lab = TestLab::new("port").api_port(port).write();
    let out = lab.run(&["up", "--cluster-only"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // 5: a conflict, which a script can wait out or resolve (see the exit codes in docs/output.md).
    assert_eq!(out.status.code(), Some(5), "{stderr}");
    assert!(
        stderr.contains(&format!("127.0.0.1:{port}/tcp is already in use")),
        "{stderr}"
    );
    assert!(stderr.contains("cluster.api.port"), "{stderr}");
    assert_eq!(count_docker_objects(&lab.name), 0);
}

#[test]
fn a_name_taken_by_a_foreign_container_is_refused() {
    let lab = TestLab::new("taken").write();
    let image = harness::node_image();
    let foreign = format!("playground-{}-server-0", lab.name);
    let st = Command::new("docker")
        .args(["create", "--name", &foreign, image])
        .bounded_output()
        .unwrap();
    assert!(st.status.success());
    let out = lab.run(&["up", "--cluster-only"]);
    let _ = Command::new("docker")
        .args(["rm", "-f", &foreign])
        .bounded_output();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("taken by a container that playground did not create"),
        "{stderr}"
    );
    assert_eq!(count_docker_objects(&lab.name), 0);
}

#[test]
fn bad_files_are_reported_with_line_and_column_and_create_nothing() {
    let lab = TestLab::new("bad").write();
    let cases = [
        ("servers: 1\n  agents: 0", "servers: 0\n  agents: 0", "7:12"),
        (
            "privileged: false",
            "privileged: false\n  colour: blue",
            "10:3",
        ),
    ];
    let good = std::fs::read_to_string(lab.file()).unwrap();
    for (from, to, at) in cases {
        let bad = good.replace(from, to);
        assert_ne!(bad, good, "case {to:?} did not apply");
        std::fs::write(lab.file(), &bad).unwrap();
        let out = lab.run(&["up", "--cluster-only"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains(&format!("playground.yaml:{at}")),
            "want {at} in:\n{stderr}\n---\n{bad}"
        );
        assert_eq!(count_docker_objects(&lab.name), 0);
    }
}

#[test]
fn a_bad_name_is_reported_at_its_position() {
    let lab = TestLab::new("badname").write();
    let good = std::fs::read_to_string(lab.file()).unwrap();
    std::fs::write(
        lab.file(),
        good.replace(&format!("name: {}", lab.name), "name: Bad_Name"),
    )
    .unwrap();
    let out = lab.run(&["up", "--cluster-only"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("playground.yaml:4:9"), "{stderr}");
    assert!(stderr.contains("DNS-1123"), "{stderr}");
}

#[test]
fn a_crashing_node_ends_the_wait_at_once_with_its_log() {
    // The stand-in server exits at once on a bad flag, as k3s does; Docker restarts it.
    let lab = TestLab::new("crash")
        .cluster_yaml("  k3sArgs: [\"--https-listen-port=notaport@server:0\"]\n")
        .write();
    let start = Instant::now();
    let out = lab.run(&["up", "--cluster-only", "--timeout", "120s"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        start.elapsed() < Duration::from_secs(60),
        "the wait ran on for {:?}",
        start.elapsed()
    );
    assert!(
        stderr.contains(&format!("playground-{}-server-0", lab.name)),
        "{stderr}"
    );
    assert!(
        stderr.contains("level=fatal") && stderr.contains("https-listen-port"),
        "{stderr}"
    );
    assert_eq!(
        count_docker_objects(&lab.name),
        0,
        "a failed new lab is rolled back"
    );
    // Its image export (a cache object, not labelled with the lab) was made by this `up`,
    // and goes with it.
    let export = format!("playground-cache-{0}-images-{0}", lab.name);
    let [_, _, (volumes, _)] = harness::cache_objects(&lab.name);
    assert!(volumes.is_empty(), "left by the rollback: {volumes:?}");

    // An export that was there before (images kept by a `drop`) is not this `up`'s: it stays.
    struct Gone(String);
    impl Drop for Gone {
        fn drop(&mut self) {
            harness::remove_cache_objects(&self.0);
        }
    }
    let _gone = Gone(lab.name.clone());
    docker(&[
        "volume",
        "create",
        "--label",
        "playground.cache=images",
        "--label",
        &format!("playground.cache.namespace={}", lab.name),
        "--label",
        &format!("playground.cache.lab={}", lab.name),
        &export,
    ]);
    let out = lab.run(&["up", "--cluster-only", "--timeout", "120s"]);
    assert_eq!(out.status.code(), Some(1), "{}", harness::stderr(&out));
    assert_eq!(count_docker_objects(&lab.name), 0);
    assert_eq!(
        docker(&[
            "volume",
            "ls",
            "-q",
            "--filter",
            &format!("name=^{export}$")
        ]),
        export
    );
}

#[test]
fn a_failed_pull_names_the_image_and_registry_and_leaves_nothing() {
    // The stand-in image exists only locally; `--pull always` must go to a registry, which
    // this machine cannot reach (or which does not have the image).
    let lab = TestLab::new("pull").write();
    let out = lab.run(&["up", "--cluster-only", "--pull", "always"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "cannot pull image {} from docker.io",
            harness::node_image()
        )),
        "{stderr}"
    );
    assert_eq!(count_docker_objects(&lab.name), 0);
}

#[test]
fn dry_run_prints_the_plan_and_changes_nothing() {
    let lab = TestLab::new("dry").agents(1).write();
    let out = lab.ok(&["up", "--cluster-only", "--dry-run"]);
    for want in [
        "create network",
        "create playground-",
        "start playground-",
        "agent-0",
        "write kube context",
    ] {
        assert!(out.contains(want), "{want:?} missing from:\n{out}");
    }
    // For scripts the plan is a document too: every line of stdout is JSON.
    let json = lab.ok(&["up", "--cluster-only", "--dry-run", "-o", "json"]);
    for line in json.lines() {
        let event: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert_eq!(event["apiVersion"], "playground.dev/v1alpha1", "{line}");
    }
    let plan = harness::document(json.lines().last().unwrap(), "UpPlan");
    let steps = plan["steps"].as_array().unwrap();
    assert!(
        steps
            .iter()
            .any(|s| s.as_str().unwrap().contains("agent-0")),
        "{plan}"
    );
    assert_eq!(count_docker_objects(&lab.name), 0);
    assert!(!lab.kubeconfig().exists());
}

#[test]
fn without_docker_the_error_names_the_socket_and_how_to_start_docker() {
    let lab = TestLab::new("nodocker")
        .write()
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock");
    let out = lab.run(&["list"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("unix:///nonexistent/docker.sock"),
        "{stderr}"
    );
    assert!(stderr.contains("start Docker"), "{stderr}");
}

/// Interrupt a fresh `up` with `signal` as soon as its first container exists: the lab is rolled
/// back, the exit status is 128 + the signal, the next `up` converges and `drop` removes all.
fn interrupted_up_rolls_back(signal: &str, code: i32) {
    let lab = TestLab::new(&format!("intr{signal}"))
        .agents(1)
        .write()
        .env("PLAYGROUND_DOUBLE_DELAY_MS", "0");
    let mut child = lab.cmd(&["up", "--cluster-only"]).spawn().unwrap();
    let start = Instant::now();
    while container_ids(&lab.name).is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "up created nothing"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(code), "an interrupted up exits 128 + N");
    // A fresh lab is rolled back.
    assert_eq!(count_docker_objects(&lab.name), 0);
    lab.ok(&["up", "--cluster-only"]);
    assert_eq!(container_ids(&lab.name).len(), 2);
    lab.ok(&["drop", "--yes"]);
    assert_eq!(count_docker_objects(&lab.name), 0);
}

#[test]
fn interrupted_up_converges_on_the_next_up_and_drop_removes_everything() {
    interrupted_up_rolls_back("INT", 130);
}

#[test]
fn sigterm_is_ctrl_c_a_terminated_up_leaves_nothing() {
    // What CI runners and `timeout` send.
    interrupted_up_rolls_back("TERM", 143);
}

#[test]
fn two_labs_share_one_kubeconfig_in_parallel() {
    let a = TestLab::new("para").write();
    let b = TestLab::new("parb").write();
    // Point b at a's kubeconfig so both write one file at once.
    let shared = a.kubeconfig();
    let run = |lab: &TestLab, args: &[&str]| {
        let mut c = lab.cmd(args);
        c.env("KUBECONFIG", &shared);
        c.spawn().unwrap()
    };
    let (mut ca, mut cb) = (
        run(&a, &["up", "--cluster-only"]),
        run(&b, &["up", "--cluster-only"]),
    );
    assert!(ca.wait().unwrap().success());
    assert!(cb.wait().unwrap().success());
    let kc = kube::config::Kubeconfig::read_from(&shared).unwrap();
    for lab in [&a, &b] {
        let ctx = format!("playground-{}", lab.name);
        assert!(kc.contexts.iter().any(|c| c.name == ctx), "{ctx} missing");
    }
    let (mut da, mut db) = (run(&a, &["drop", "--yes"]), run(&b, &["drop", "--yes"]));
    assert!(da.wait().unwrap().success());
    assert!(db.wait().unwrap().success());
    let kc = kube::config::Kubeconfig::read_from(&shared).unwrap();
    assert!(
        kc.contexts.is_empty() && kc.clusters.is_empty() && kc.auth_infos.is_empty(),
        "{kc:?}"
    );
}

#[test]
fn a_read_only_kubeconfig_is_refused_before_anything_is_created() {
    use std::os::unix::fs::PermissionsExt;
    let lab = TestLab::new("rokc").write();
    let kc = lab.kubeconfig();
    std::fs::create_dir_all(kc.parent().unwrap()).unwrap();
    let mine = "apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n";
    std::fs::write(&kc, mine).unwrap();
    std::fs::set_permissions(&kc, std::fs::Permissions::from_mode(0o400)).unwrap();
    let out = lab.run(&["up", "--cluster-only"]);
    let stderr = harness::stderr(&out);
    assert!(!out.status.success());
    assert!(stderr.contains("read-only"), "{stderr}");
    assert_eq!(count_docker_objects(&lab.name), 0);
    assert_eq!(std::fs::read_to_string(&kc).unwrap(), mine);
    assert_eq!(
        std::fs::metadata(&kc).unwrap().permissions().mode() & 0o777,
        0o400
    );
}

#[test]
fn drop_of_a_lab_that_does_not_exist_exits_4_and_leaves_nothing_but_half_made_labs_go() {
    let lab = TestLab::new("dropnone").write();
    let data = lab.home().join(".local/share/playground").join(&lab.name);
    let out = lab.run(&["drop", &lab.name, "--yes"]);
    let err = harness::stderr(&out);
    assert_eq!(out.status.code(), Some(4), "{err}");
    assert!(err.contains(&format!("no lab named {}", lab.name)), "{err}");
    assert!(!data.join("lock").exists(), "a lock file was left");
    assert!(!data.exists(), "a data folder was left");

    // Half-made: one labelled volume is a lab to drop.
    let stray = format!("playground-{}-stray", lab.name);
    docker(&[
        "volume",
        "create",
        "--label",
        &format!("playground.cluster={}", lab.name),
        &stray,
    ]);
    let out = lab.run(&["drop", &lab.name, "--yes"]);
    assert!(out.status.success(), "{}", harness::stderr(&out));
    assert_eq!(count_docker_objects(&lab.name), 0);

    // A lab made and dropped: dropping it again is dropping nothing.
    lab.ok(&["up", "--cluster-only"]);
    lab.ok(&["drop", "--yes"]);
    let out = lab.run(&["drop", "--yes"]);
    assert_eq!(out.status.code(), Some(4), "{}", harness::stderr(&out));
}

#[test]
fn a_corrupt_state_record_is_set_aside_by_up_and_never_fails_drop() {
    let lab = TestLab::new("corrupt").write();
    let dir = lab.home().join(".local/share/playground").join(&lab.name);
    std::fs::create_dir_all(&dir).unwrap();
    let record = dir.join("state.yaml");
    std::fs::write(&record, "version: [this is not a record\n").unwrap();
    let asides = || -> Vec<String> {
        std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("state.yaml.corrupt-"))
            .collect()
    };

    let out = lab.run(&["up", "--cluster-only"]);
    let stderr = harness::stderr(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("moved it aside"), "{stderr}");
    assert_eq!(asides().len(), 1, "the corrupt record is kept, aside");
    let fresh = std::fs::read_to_string(&record).unwrap();
    assert!(fresh.starts_with("version: 1\n"), "{fresh}");

    // Corrupt again: `drop --force` removes the lab and never fails on the record.
    std::fs::write(&record, "{{{{").unwrap();
    let out = lab.run(&["drop", "--yes", "--force"]);
    assert!(out.status.success(), "{}", harness::stderr(&out));
    assert_eq!(count_docker_objects(&lab.name), 0);
    assert!(!record.exists());
    assert_eq!(asides().len(), 2, "both corrupt records are kept");
}

#[test]
fn the_join_token_and_secret_env_values_never_reach_the_logs() {
    let lab = TestLab::new("mask")
        .cluster_yaml("  env: [\"MY_API_TOKEN=hunter2hunter2@server:0\"]\n")
        .write();
    let out = lab.run(&["-vv", "up", "--cluster-only"]);
    let stderr = harness::stderr(&out);
    assert!(out.status.success(), "{stderr}");
    // A second up inspects the existing node, whose answer carries the token. Without
    // NO_COLOR, a piped log still has no colour.
    let again = harness::stderr(
        &lab.cmd(&["-vv", "up", "--cluster-only"])
            .env_remove("NO_COLOR")
            .output()
            .unwrap(),
    );
    let env = docker(&[
        "inspect",
        "-f",
        "{{json .Config.Env}}",
        &format!("playground-{}-server-0", lab.name),
    ]);
    let token = env
        .split('"')
        .find_map(|e| e.strip_prefix("K3S_TOKEN="))
        .unwrap()
        .to_string();
    assert_eq!(token.len(), 32);
    assert!(
        stderr.contains("K3S_TOKEN=***"),
        "the create body is logged, masked"
    );
    for log in [&stderr, &again] {
        assert!(!log.contains(&token), "the token reached a log");
        assert!(
            !log.contains("hunter2hunter2"),
            "a secret env value reached a log"
        );
        // Piped, the log has no colour codes.
        assert!(!log.contains('\u{1b}'), "escape codes in a piped log");
    }
}

#[test]
fn an_env_value_from_the_host_is_required_masked_and_never_recorded() {
    // `KEY=${env:NAME}`: the lab file names the secret, this shell holds it. The key is not
    // named like a secret, so only the reference marks it.
    let secret = format!("from-the-shell-{}", harness::unique_name("v"));
    let lab = TestLab::new("hostenv")
        .cluster_yaml("  env: [\"GREETING=${env:PG_TEST_GREETING}@server:0\"]\n")
        .write();
    // Not set: refused where the file names it, before anything is made; validate only warns.
    let out = lab.run(&["up", "--cluster-only"]);
    let stderr = harness::stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("playground.yaml:")
            && stderr.contains("environment variable PG_TEST_GREETING, which is not set"),
        "{stderr}"
    );
    assert_eq!(count_docker_objects(&lab.name), 0);
    std::fs::create_dir_all(lab.dir.path().join("apps")).unwrap();
    let out = lab.run(&["validate"]);
    assert!(out.status.success(), "{}", harness::stderr(&out));
    assert!(harness::stderr(&out).contains("`up` refuses until it is"));

    let out = lab
        .cmd(&["-vv", "up", "--cluster-only"])
        .env("PG_TEST_GREETING", &secret)
        .output()
        .unwrap();
    let stderr = harness::stderr(&out);
    assert!(out.status.success(), "{stderr}");
    let server = format!("playground-{}-server-0", lab.name);
    let env = docker(&["inspect", "-f", "{{json .Config.Env}}", &server]);
    assert!(
        env.contains(&format!("GREETING={secret}")),
        "the node has it: {env}"
    );
    assert!(!stderr.contains(&secret), "the value reached a -vv log");
    // Our records and the lab file hold the reference, never the value.
    let data = lab.home().join(".local/share/playground").join(&lab.name);
    for file in [data.join("state.yaml"), lab.file()] {
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(
            !text.contains(&secret),
            "{} holds the value",
            file.display()
        );
    }
    // Another shell, without it: logs and the bug-report archive mask it by the node's label.
    let logs = lab.ok(&["logs", "--node", "server-0"]);
    assert!(!logs.contains(&secret));
    let dir = tempfile::tempdir().unwrap();
    lab.ok(&["export", "logs", &lab.name, dir.path().to_str().unwrap()]);
    for (name, text) in harness::archive_entries(dir.path()) {
        assert!(!text.contains(&secret), "{name} holds the value");
    }
    lab.ok(&["drop", "--yes"]);
}

#[test]
fn host_secrets_with_quotes_and_pem_lines_are_masked_in_every_encoding() {
    // Generated passwords hold `"`, `\` and `&<>`: JSON and Go escape them, so the raw value
    // alone would never match. A PEM key has lines, and a diff shows one line at a time.
    let id = harness::unique_name("p");
    let password = format!(r#"pa"ss\w&<{id}>rd"#);
    let pem = |body: &str| {
        format!(
            "-----BEGIN TEST KEY-----\nMIIEv{id}QIBADANBgkqhk\n{body}{id}Us8cKjMz\n-----END TEST KEY-----\n"
        )
    };
    let (pem1, pem2) = (pem("QC7VJTUt9"), pem("ZZ8WKUVu0"));
    let lab = TestLab::new("maskenc")
        .cluster_yaml(
            "  env: [\"GREETING=${env:PG_TEST_PASSWORD}@server:0\", \"TLS_PEM=${env:PG_TEST_PEM}@server:0\"]\n",
        )
        .write();
    // What must never show: each value, JSON-escaped and Go-escaped, and every line of the key.
    let mut never: Vec<String> = harness::json_forms(&password).to_vec();
    for p in [&pem1, &pem2] {
        never.extend(
            p.lines()
                .filter(|l| l.contains(&id))
                .flat_map(|l| harness::json_forms(l).to_vec()),
        );
    }
    let check = |what: &str, text: &str| {
        for v in &never {
            assert!(!text.contains(v.as_str()), "{what} shows {v:?}:\n{text}");
        }
    };
    let run = |pem: &str, args: &[&str]| {
        lab.cmd(args)
            .env("PG_TEST_PASSWORD", &password)
            .env("PG_TEST_PEM", pem)
            .output()
            .unwrap()
    };
    let out = run(&pem1, &["-vv", "up", "--cluster-only"]);
    let stderr = harness::stderr(&out);
    assert!(out.status.success(), "{stderr}");
    let server = format!("playground-{}-server-0", lab.name);
    let env = docker(&["inspect", "-f", "{{json .Config.Env}}", &server]);
    assert!(env.contains("GREETING=pa"), "the node has it: {env}");
    check("the first -vv up", &stderr);
    // A second up inspects the node: Docker's answer carries both, Go-escaped.
    let out = run(&pem1, &["-vv", "up", "--cluster-only"]);
    check("the second -vv up", &harness::stderr(&out));

    // The reconcile diff: the key changed. Its lines are secret, so the change is masked.
    let out = run(&pem2, &["up", "--cluster-only", "--dry-run"]);
    let dry = String::from_utf8_lossy(&out.stdout).to_string() + &harness::stderr(&out);
    assert!(out.status.success(), "{dry}");
    assert!(dry.contains("env TLS_PEM: *** → ***"), "{dry}");
    check("up --dry-run", &dry);
    let out = run(&pem2, &["up", "--cluster-only"]);
    let refused = String::from_utf8_lossy(&out.stdout).to_string() + &harness::stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{refused}");
    check("up's refusal", &refused);

    // Records, logs and every entry of the bug-report archive, from a shell without them.
    let data = lab.home().join(".local/share/playground").join(&lab.name);
    check(
        "the record",
        &std::fs::read_to_string(data.join("state.yaml")).unwrap(),
    );
    check("logs", &lab.ok(&["logs", "--node", "server-0"]));
    let dir = tempfile::tempdir().unwrap();
    lab.ok(&["export", "logs", &lab.name, dir.path().to_str().unwrap()]);
    let entries = harness::archive_entries(dir.path());
    for (name, text) in &entries {
        check(name, text);
    }
    assert!(entries.len() > 1, "the archive has entries");
    lab.ok(&["drop", "--yes"]);
}

#[test]
fn pull_never_and_a_zero_timeout_are_refused_before_anything_is_created() {
    let lab = TestLab::new("nocreate").write();
    let text = std::fs::read_to_string(lab.file()).unwrap();
    let image = harness::node_image();
    std::fs::write(
        lab.file(),
        text.replace(image, "playground-test/absent:never-built"),
    )
    .unwrap();
    let out = lab.run(&["up", "--cluster-only", "--pull", "never"]);
    let stderr = harness::stderr(&out);
    assert!(!out.status.success());
    assert!(
        stderr.contains("playground-test/absent:never-built"),
        "{stderr}"
    );
    assert_eq!(count_docker_objects(&lab.name), 0, "{stderr}");

    let out = lab.run(&["up", "--cluster-only", "--timeout", "0s"]);
    let stderr = harness::stderr(&out);
    assert_eq!(out.status.code(), Some(2), "a usage error: {stderr}");
    assert!(stderr.contains("longer than 0s"), "{stderr}");
    assert_eq!(count_docker_objects(&lab.name), 0);
}

#[test]
fn every_command_that_reports_speaks_json_and_yaml_on_stdout() {
    let lab = TestLab::new("json").write();
    // Each document opens with the envelope: `apiVersion` and the `kind` named here.
    let json =
        |args: &[&str], kind: &str| -> serde_json::Value { harness::document(&lab.ok(args), kind) };
    // `up -o json` streams its steps, then its result (see `up_json_streams_…` below).
    let (_, up) =
        harness::event_stream(&lab.ok(&["up", "--cluster-only", "-o", "json"]), "UpResult");
    assert_eq!(up["name"], lab.name.as_str(), "{up}");
    let list = json(&["list", "-o", "json"], "LabList");
    assert!(list["items"].is_array(), "{list}");
    assert_eq!(lab.list_entry()["state"], "running");
    assert_eq!(
        json(&["status", "-o", "json"], "LabStatus")["state"],
        "running"
    );
    let caches = json(&["cache", "status", "-o", "json"], "CacheList");
    assert!(caches["items"].is_array(), "{caches}");
    // `doctor` exits 1 when a check fails (this host refuses --privileged): the document is
    // printed either way.
    let out = lab.run(&["doctor", "-o", "json"]);
    let doctor = harness::document(&String::from_utf8_lossy(&out.stdout), "DoctorReport");
    assert!(doctor["checks"].is_array(), "{doctor}");
    crate::gitops_up::write_apps(lab.dir.path());
    let v = json(&["validate", "-o", "json"], "ValidationReport");
    assert_eq!(v["valid"], true, "{v}");
    assert_eq!(v["applications"], 1, "{v}");
    let suspended = json(&["suspend", "-o", "json"], "LabResult");
    assert_eq!(suspended["state"], "suspended", "{suspended}");
    assert_eq!(suspended["name"], lab.name.as_str(), "{suspended}");
    let resumed = json(&["resume", "-o", "json"], "LabResult");
    assert_eq!(resumed["state"], "running");
    assert_eq!(
        resumed["nodes"].as_array().map(Vec::len),
        Some(1),
        "{resumed}"
    );
    // YAML too, as one document, with the same envelope.
    for (args, kind) in [
        (&["status", "-o", "yaml"][..], "LabStatus"),
        (&["list", "-o", "yaml"][..], "LabList"),
        (&["cache", "status", "-o", "yaml"][..], "CacheList"),
        (&["validate", "-o", "yaml"][..], "ValidationReport"),
    ] {
        let yaml = lab.ok(args);
        let doc: serde_json::Value = serde_saphyr::from_str(&yaml).unwrap();
        assert_eq!(
            doc["apiVersion"], "playground.dev/v1alpha1",
            "{args:?}: {yaml}"
        );
        assert_eq!(doc["kind"], kind, "{args:?}: {yaml}");
    }
    let status: serde_json::Value =
        serde_saphyr::from_str(&lab.ok(&["status", "-o", "yaml"])).unwrap();
    assert_eq!(status["name"], lab.name.as_str(), "{status}");
    // `up -o yaml` is one document at the end, not a stream.
    let yaml = lab.ok(&["up", "--cluster-only", "-o", "yaml"]);
    let doc: serde_json::Value = serde_saphyr::from_str(&yaml).unwrap();
    assert_eq!(doc["kind"], "UpResult", "{yaml}");
    let dropped = json(&["drop", "--yes", "-o", "json"], "LabResult");
    assert_eq!(dropped["state"], "dropped", "{dropped}");
    assert_eq!(dropped["restorable"], true);
    // A lab file with a problem: the document says so, and the exit status too.
    std::fs::write(
        lab.file(),
        "apiVersion: playground.dev/v1alpha1\nkind: Playground\nmetadata: { name: Bad_Name }\n",
    )
    .unwrap();
    let out = lab.run(&["validate", "-o", "json"]);
    assert!(!out.status.success());
    let v = harness::document(&String::from_utf8_lossy(&out.stdout), "ValidationReport");
    assert_eq!(v["valid"], false, "{v}");
    assert_eq!(v["errors"][0]["line"], 3, "{v}");
}

/// `up -o json` is for CI logs and editors: stdout is one JSON event per line while the steps
/// run, and the result last; logs (`-v`) stay on stderr, and a piped stderr carries no colour
/// even when `NO_COLOR` is not set (the harness sets it: removed here).
#[test]
fn up_json_streams_one_event_per_step_and_piped_stderr_has_no_colour() {
    let lab = TestLab::new("stream").write();
    let out = lab
        .cmd(&["-v", "up", "--cluster-only", "-o", "json"])
        .env_remove("NO_COLOR")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = harness::stderr(&out);
    assert!(out.status.success(), "{stderr}");
    let (events, result) = harness::event_stream(&stdout, "UpResult");
    assert_eq!(result["name"], lab.name.as_str(), "{result}");
    assert_eq!(
        result["nodes"].as_array().map(Vec::len),
        Some(1),
        "{result}"
    );
    // Every step that started ended, in order, with its time.
    harness::assert_steps_complete(&events, 2, &stdout);
    // The people's lines are not on stdout, nor on stderr: they are the events.
    assert!(!stderr.contains("✓"), "{stderr}");
    // Logs are on stderr, uncoloured though tracing colours a terminal's.
    assert!(
        stderr.contains("DEBUG") || stderr.contains("INFO"),
        "no logs with -v: {stderr}"
    );
    assert!(
        !stderr.contains('\x1b'),
        "escape codes in piped stderr: {stderr:?}"
    );

    // A failure ends the stream with an `error` event carrying the exit status, after the
    // step that failed says so.
    lab.ok(&["drop", "--yes"]);
    let text = std::fs::read_to_string(lab.file()).unwrap();
    let absent = "playground-test/absent:never-built";
    std::fs::write(lab.file(), text.replace(harness::node_image(), absent)).unwrap();
    let out = lab.run(&["up", "--cluster-only", "--pull", "never", "-o", "json"]);
    let code = out.status.code();
    assert!(code.is_some_and(|c| c != 0), "{}", harness::stderr(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let last = lines
        .last()
        .unwrap_or_else(|| panic!("no events: {stdout}"));
    assert_eq!(last["kind"], "Event", "{stdout}");
    assert_eq!(last["type"], "error", "{stdout}");
    assert_eq!(last["exitCode"].as_i64(), code.map(i64::from), "{stdout}");
    assert!(
        last["message"].as_str().unwrap().contains(absent),
        "{stdout}"
    );
    assert!(
        lines.iter().all(|e| e["kind"] == "Event"),
        "no result after a failure: {stdout}"
    );
    assert!(
        lines
            .iter()
            .any(|e| e["type"] == "step" && e["status"] == "failed"),
        "the failed step says so: {stdout}"
    );
}

/// The time Docker stamped on the first log line of `container` that contains `needle`.
fn logged_at(container: &str, needle: &str) -> jiff::Timestamp {
    let out = Command::new("docker")
        .args(["logs", "--timestamps", container])
        .bounded_output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let line = text
        .lines()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("{container} never logged {needle:?}:\n{text}"));
    line.split_whitespace().next().unwrap().parse().unwrap()
}

#[test]
fn agents_start_before_the_server_is_ready() {
    // A server that takes 1.5 s to boot: the agent's container must already run by then.
    let lab = TestLab::new("overlap")
        .agents(1)
        .cluster_yaml("  env: [\"PLAYGROUND_STANDIN_SERVER_BOOT_MS=1500@server:0\"]\n")
        .write();
    lab.ok(&["up", "--cluster-only"]);
    let server = format!("playground-{}-server-0", lab.name);
    let agent = format!("playground-{}-agent-0", lab.name);
    let ready = logged_at(&server, "k3s is up and running");
    let agent_started: jiff::Timestamp = docker(&["inspect", "-f", "{{.State.StartedAt}}", &agent])
        .parse()
        .unwrap();
    assert!(
        agent_started < ready,
        "the agent started at {agent_started}, after the server was ready at {ready}"
    );
    // And it registered only once the server answered.
    assert!(logged_at(&agent, "Successfully registered node") > ready);
}

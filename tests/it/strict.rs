//! The strict stand-in: it fails where real k3s fails (see `tests/support/double/strict.rs`),
//! and our node spec gives k3s what it needs. Each test runs the stand-in image the way a spec
//! would, with the plain docker CLI, or runs `playground` and looks at what it made.

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use playground::cluster::k3s::NODE_ENTRYPOINT;

use crate::support::harness::Bounded as _;
use crate::support::harness::{
    self, TestLab, docker, node_complaints, ready_nodes, remove_docker_objects, unique_name,
};
use crate::support::strict;

struct Cleanup(String);
impl Drop for Cleanup {
    fn drop(&mut self) {
        remove_docker_objects(&self.0);
    }
}

fn logs(container: &str) -> String {
    let out = Command::new("docker")
        .args(["logs", container])
        .bounded_output()
        .unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Wait until the container's log holds `line`; return the whole log.
fn wait_log(container: &str, line: &str) -> String {
    let start = Instant::now();
    loop {
        let text = logs(container);
        if text.contains(line) {
            return text;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{container} never logged {line:?}:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Wait until the container has exited, and check it exited 1 (what k3s does when kubelet
/// dies).
fn wait_exit_1(name: &str) {
    let start = Instant::now();
    loop {
        let state = docker(&[
            "inspect",
            "-f",
            "{{.State.Status}} {{.State.ExitCode}}",
            name,
        ]);
        if state.starts_with("exited") {
            assert_eq!(state, "exited 1");
            return;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "still {state}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A stand-in server on its own labelled network, started with `extra` docker run flags.
fn run_server(lab: &str, extra: &[&str], args: &[&str]) -> (String, Output) {
    let label = format!("playground.cluster={lab}");
    let net = format!("playground-{lab}");
    if Command::new("docker")
        .args(["network", "inspect", &net])
        .bounded_output()
        .is_ok_and(|o| !o.status.success())
    {
        docker(&["network", "create", "--label", &label, &net]);
    }
    let name = format!("{net}-server-0");
    let mut cmd = Command::new("docker");
    cmd.args(["run", "-d", "--name", &name, "--hostname", &name])
        .args(["--network", &net, "--label", &label])
        .args(["--label", "playground.role=server"])
        .args(["-e", "K3S_TOKEN=test-token-not-a-secret"])
        .args(extra)
        .arg(harness::node_image())
        .args(args);
    let out = cmd.bounded_output().unwrap();
    (name, out)
}

#[test]
fn behind_docker_init_kubelet_dies_on_cgroup_v2() {
    // The node spec playground used to make: `--init` puts docker-init at PID 1, so k3s never
    // evacuates the root cgroup.
    let lab = unique_name("init");
    let _c = Cleanup(lab.clone());
    let (name, out) = run_server(&lab, &["--init"], &["server"]);
    assert!(out.status.success(), "{}", harness::stderr(&out));
    wait_exit_1(&name);
    let text = logs(&name);
    assert!(text.contains(strict::CGROUP_V2_ERROR), "{text}");
    assert!(text.contains("cannot enter cgroupv2"), "{text}");
}

#[test]
fn in_a_user_namespace_kubelet_dies_even_with_k3s_as_pid_1() {
    // What a rootless engine does to every container: k3s is PID 1, but in a user namespace
    // k3s skips the cgroup evacuation (`!userns.RunningInUserNS()`), and kubelet dies. This is
    // why `doctor` and `up` refuse rootless engines. `unshare -U -r` execs k3s in a new user
    // namespace, so it stays PID 1.
    let lab = unique_name("userns");
    let _c = Cleanup(lab.clone());
    let (name, out) = run_server(
        &lab,
        &["--cap-add", "SYS_ADMIN", "--entrypoint", "/bin/unshare"],
        &["-U", "-r", "/bin/k3s", "server"],
    );
    assert!(out.status.success(), "{}", harness::stderr(&out));
    wait_exit_1(&name);
    let text = logs(&name);
    assert!(text.contains(strict::CGROUP_V2_ERROR), "{text}");
    assert!(text.contains("in a user namespace"), "{text}");
}

#[test]
fn the_image_alone_gets_k3s_complaints_about_dns_mounts_and_br_netfilter() {
    // The real image's own entrypoint (k3s as PID 1) boots, but on a user network Docker's
    // 127.0.0.11 resolver makes k3s fall back to 8.8.8.8, / is not shared, and on a host
    // without br_netfilter (Docker >= 27.3) k3s cannot load it without the host's modules.
    let lab = unique_name("bare");
    let _c = Cleanup(lab.clone());
    let (name, out) = run_server(&lab, &[], &["server"]);
    assert!(out.status.success(), "{}", harness::stderr(&out));
    let text = wait_log(&name, "k3s is up and running");
    assert!(text.contains(strict::RESOLV_CONF_WARNING), "{text}");
    assert!(text.contains(strict::NOT_SHARED_ERROR), "{text}");
    assert!(text.contains(strict::MODPROBE_WARNING), "{text}");
    assert!(text.contains(strict::BRIDGE_SYSCTL_ERROR), "{text}");
    assert!(text.contains(strict::SAME_NODE_SERVICE_ERROR), "{text}");
    assert_eq!(
        node_complaints(&lab).len(),
        3,
        "{:?}",
        node_complaints(&lab)
    );
}

#[test]
fn our_entrypoint_gives_k3s_pid_1_a_shared_root_and_a_resolver_that_answers() {
    let lab = unique_name("entry");
    let _c = Cleanup(lab.clone());
    let net = format!("playground-{lab}");
    let label = format!("playground.cluster={lab}");
    docker(&["network", "create", "--label", &label, &net]);
    let gateway = docker(&[
        "network",
        "inspect",
        "-f",
        "{{(index .IPAM.Config 0).Gateway}}",
        &net,
    ]);
    let dns = format!("PLAYGROUND_DNS_ADDR={gateway}");
    let modules = format!("{}:/lib/modules:ro", harness::standin_modules().display());
    let (name, out) = run_server(
        &lab,
        &[
            "-v",
            &modules,
            "--cap-add",
            "SYS_ADMIN",
            "--cap-add",
            "NET_ADMIN",
            "--tmpfs",
            "/run",
            "-e",
            &dns,
            "--entrypoint",
            "/bin/sh",
        ],
        &["-c", NODE_ENTRYPOINT, "playground-node", "server"],
    );
    assert!(out.status.success(), "{}", harness::stderr(&out));
    let text = wait_log(&name, "k3s is up and running");
    assert!(node_complaints(&lab).is_empty(), "{text}");
    // k3s replaced the script: it is PID 1.
    let pid1 = docker(&["exec", &name, "cat", "/proc/1/cmdline"]);
    assert!(pid1.starts_with("/bin/k3s"), "PID 1 is {pid1:?}");
    // kubelet's resolv.conf names the gateway, and Docker's resolver answers there: a node
    // name resolves through it (the stand-in asked it too, as CoreDNS would, at start).
    let resolv = docker(&["exec", &name, "cat", "/run/playground/resolv.conf"]);
    assert!(
        resolv.starts_with(&format!("nameserver {gateway}\n")),
        "{resolv}"
    );
    let lookup = docker(&["exec", &name, "nslookup", &name, &gateway]);
    let ip = docker(&[
        "inspect",
        "-f",
        "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
        &name,
    ]);
    assert!(lookup.contains(&ip), "{lookup}");
    // The node's own resolver is left as Docker made it.
    let own = docker(&["exec", &name, "cat", "/etc/resolv.conf"]);
    assert!(own.contains("nameserver 127.0.0.11"), "{own}");
    // The node password lives in the data dir, through a link k3s follows.
    let link = docker(&["exec", &name, "readlink", "/etc/rancher/node"]);
    assert_eq!(link, "/var/lib/rancher/k3s/playground-node");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_recreated_agent_keeps_its_node_password_and_a_foreign_one_is_refused() {
    let lab = TestLab::new("nodepw").agents(1).write();
    lab.ok(&["up", "--cluster-only"]);
    let agent = format!("playground-{}-agent-0", lab.name);
    let kc = lab.kubeconfig();
    assert_eq!(ready_nodes(&kc).await.len(), 2);
    let password = docker(&["exec", &agent, "cat", strict::NODE_PASSWORD_FILE]);
    assert_eq!(password.len(), 32, "{password:?}");

    // The container goes, its data volume stays: the next `up` recreates the same node, which
    // brings the same password and registers again.
    docker(&["rm", "-f", &agent]);
    lab.ok(&["up", "--cluster-only"]);
    assert_eq!(
        docker(&["exec", &agent, "cat", strict::NODE_PASSWORD_FILE]),
        password
    );
    assert!(
        logs(&agent).contains("Successfully registered node"),
        "{}",
        logs(&agent)
    );
    assert!(node_complaints(&lab.name).is_empty());

    // A node that comes back under the same name with another password is refused, as k3s
    // refuses it.
    docker(&[
        "exec",
        &agent,
        "sh",
        "-c",
        &format!("echo another > {}", strict::NODE_PASSWORD_FILE),
    ]);
    docker(&["restart", &agent]);
    wait_log(&agent, strict::NODE_PASSWORD_REJECTED);
    let lab = lab.expect_complaints();
    drop(lab);
}

#[test]
fn a_node_spec_shows_what_k3s_needs() {
    let lab = TestLab::new("spec").write();
    lab.ok(&["up", "--cluster-only"]);
    let node = format!("playground-{}-server-0", lab.name);
    let fmt = "{{.HostConfig.Init}}|{{.HostConfig.UsernsMode}}|{{json .HostConfig.ExtraHosts}}|{{json .HostConfig.CapAdd}}|{{index .Config.Entrypoint 0}} {{index .Config.Entrypoint 1}}";
    let got = docker(&["inspect", "-f", fmt, &node]);
    assert_eq!(
        got,
        r#"false|host|["host.playground.internal:host-gateway"]|["SYS_ADMIN","NET_ADMIN"]|/bin/sh -c"#
    );
    let env = docker(&["inspect", "-f", "{{json .Config.Env}}", &node]);
    assert!(env.contains("PLAYGROUND_DNS_ADDR="), "{env}");
    // Its own cgroup namespace, whatever the daemon's default (kind pins it too).
    let cgroupns = docker(&["inspect", "-f", "{{.HostConfig.CgroupnsMode}}", &node]);
    assert_eq!(cgroupns, "private");
    // The host's kernel modules, read-only, so k3s can load br_netfilter: without them the
    // stand-in (a host without the module) complains, and this test would fail at drop.
    let binds = docker(&["inspect", "-f", "{{json .HostConfig.Binds}}", &node]);
    let modules = format!("{}:/lib/modules:ro", harness::standin_modules().display());
    assert!(binds.contains(&modules), "{binds}");
    let listed = docker(&["exec", &node, "ls", "/lib/modules"]);
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    assert_eq!(listed, release.trim());
    let probe = docker(&[
        "exec",
        &node,
        "sh",
        "-c",
        "touch /lib/modules/x 2>/dev/null && echo rw || echo ro",
    ]);
    assert_eq!(probe, "ro");
}

#[test]
fn without_the_host_modules_a_lab_node_gets_the_br_netfilter_complaint() {
    // The same lab with nothing mounted at /lib/modules (the stand-in's host has not loaded
    // br_netfilter and k3s's modprobe finds no module): a spec without the fix fails.
    let lab = TestLab::new("nomod").write();
    let empty = lab.home().join("no-modules");
    std::fs::create_dir_all(&empty).unwrap();
    let out = lab
        .cmd(&["up", "--cluster-only"])
        .env(playground::cluster::plan::ENV_HOST_MODULES, &empty)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", harness::stderr(&out));
    let complaints = node_complaints(&lab.name);
    assert!(
        complaints
            .iter()
            .any(|c| c.contains(strict::SAME_NODE_SERVICE_ERROR)),
        "{complaints:?}"
    );
    let lab = lab.expect_complaints();
    drop(lab);
}

#[test]
fn kubelet_refuses_an_eviction_threshold_it_cannot_parse_and_takes_ours() {
    // The stand-in parses `--kubelet-arg=eviction-hard` as kubelet does: a signal it does
    // not know stops it with kubelet's words. The default lab's own args (disk eviction
    // off, F15) pass, or no lab test would ever boot.
    let lab = unique_name("evict");
    let _c = Cleanup(lab.clone());
    let (name, out) = run_server(
        &lab,
        &[],
        &["server", "--kubelet-arg=eviction-hard=nodefs.avail<5%"],
    );
    assert!(out.status.success(), "{}", harness::stderr(&out));
    let start = Instant::now();
    loop {
        let state = docker(&["inspect", "-f", "{{.State.Status}}", &name]);
        if state == "exited" {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "still {state}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let text = logs(&name);
    assert!(
        text.contains("unsupported eviction signal nodefs.avail"),
        "{text}"
    );

    let lab = TestLab::new("evictok").write();
    lab.ok(&["up", "--cluster-only"]);
    let node = format!("playground-{}-server-0", lab.name);
    // One argument a line: Go's JSON would escape the `<`.
    let cmd = docker(&[
        "inspect",
        "-f",
        "{{range .Config.Cmd}}{{println .}}{{end}}",
        &node,
    ]);
    for arg in playground::cluster::k3s::KUBELET_ARGS {
        assert!(cmd.lines().any(|l| l == arg), "{arg} not in {cmd}");
    }
}

#[test]
fn a_registry_ca_the_node_does_not_have_is_a_complaint() {
    // containerd reads `configs.*.tls` files on the first pull through that registry
    // (`tlsConfigFromHost`); the stand-in pulls nothing, so it reads them at start. Without
    // the file at the path `registries.yaml` names, a real pull fails: the stand-in says so.
    let lab = unique_name("regca");
    let _c = Cleanup(lab.clone());
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("registries.yaml");
    std::fs::write(
        &file,
        "mirrors: {}\nconfigs:\n  corp.example:\n    tls:\n      ca_file: /etc/rancher/k3s/playground-registries/0/ca.pem\n",
    )
    .unwrap();
    let bind = format!("{}:/etc/rancher/k3s/registries.yaml:ro", file.display());
    let (name, out) = run_server(&lab, &["-v", &bind], &["server"]);
    assert!(out.status.success(), "{}", harness::stderr(&out));
    let text = wait_log(&name, strict::REGISTRY_CA_UNREADABLE);
    assert!(
        text.lines()
            .any(|l| l.contains(strict::REGISTRY_CA_UNREADABLE)
                && l.contains("/etc/rancher/k3s/playground-registries/0/ca.pem")),
        "{text}"
    );
    assert!(
        node_complaints(&lab)
            .iter()
            .any(|c| c.contains(strict::REGISTRY_CA_UNREADABLE)),
        "the harness counts it"
    );
}

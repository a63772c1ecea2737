//! Node plumbing from the lab file: `cluster.mounts` (host folders in the chosen nodes only,
//! read-only where asked, checked before anything is made, a node change when they change) and
//! `cluster.caCerts` (where Go reads system roots, checked as PEM).

use crate::support::harness::Bounded as _;
use crate::support::harness::{TestLab, count_docker_objects, docker, stderr};

fn node(lab: &TestLab, role: &str, i: u32) -> String {
    format!("playground-{}-{role}-{i}", lab.name)
}

/// `sh -c SCRIPT` in a node; its stdout, trimmed.
fn sh(node: &str, script: &str) -> String {
    docker(&["exec", node, "sh", "-c", script])
}

#[test]
fn a_mount_is_in_the_chosen_nodes_only_and_read_only_where_asked() {
    let lab = TestLab::new("mounts")
        .agents(2)
        .cluster_yaml("  mounts: [\"./shared:/shared:ro@agent:0\", \"./scratch:/scratch\"]\n")
        .write();
    let dir = lab.file().parent().unwrap().to_path_buf();
    std::fs::create_dir(dir.join("shared")).unwrap();
    std::fs::write(dir.join("shared/hello"), "from the host\n").unwrap();
    std::fs::create_dir(dir.join("scratch")).unwrap();
    lab.ok(&["up", "--cluster-only"]);

    let (s0, a0, a1) = (
        node(&lab, "server", 0),
        node(&lab, "agent", 0),
        node(&lab, "agent", 1),
    );
    assert_eq!(sh(&a0, "cat /shared/hello"), "from the host");
    assert_eq!(
        sh(&a0, "touch /shared/x 2>/dev/null && echo rw || echo ro"),
        "ro"
    );
    for other in [&s0, &a1] {
        assert_eq!(
            sh(other, "[ -e /shared ] && echo there || echo absent"),
            "absent",
            "{other}"
        );
    }
    // No filter: every server and agent, read-write, and the host sees what a node writes.
    for n in [&s0, &a0, &a1] {
        sh(n, &format!("echo {n} > /scratch/{n}"));
        let back = std::fs::read_to_string(dir.join("scratch").join(n)).unwrap();
        assert_eq!(back.trim(), n.as_str());
    }

    // Changing a mount is a node change, shown before anything is done.
    let text = std::fs::read_to_string(lab.file()).unwrap();
    std::fs::write(
        lab.file(),
        text.replace("/shared:ro@agent:0", "/shared:ro@agent:*"),
    )
    .unwrap();
    let dry = lab.ok(&["up", "--cluster-only", "--dry-run"]);
    assert!(
        dry.lines()
            .any(|l| l.starts_with(&format!("  ~ {a1}  mounts: (none) → "))
                && l.ends_with("/shared:/shared:ro")),
        "{dry}"
    );
    assert!(
        !dry.lines().any(|l| l.starts_with(&format!("  ~ {a0} "))),
        "{dry}"
    );
    lab.ok(&["up", "--cluster-only", "--yes"]);
    assert_eq!(sh(&a1, "cat /shared/hello"), "from the host");
    lab.ok(&["drop", "--yes"]);
}

#[test]
fn a_missing_host_folder_or_a_k3s_path_is_refused_before_anything_is_made() {
    let lab = TestLab::new("mountbad")
        .cluster_yaml("  mounts: [\"./nowhere:/data\"]\n")
        .write();
    let out = lab.run(&["up", "--cluster-only"]);
    let err = stderr(&out);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("host path `./nowhere`"), "{err}");
    assert!(err.contains("playground.yaml:"), "{err}");
    assert_eq!(count_docker_objects(&lab.name), 0);

    let text = std::fs::read_to_string(lab.file()).unwrap();
    std::fs::write(
        lab.file(),
        text.replace("./nowhere:/data", ".:/var/lib/rancher/k3s/server"),
    )
    .unwrap();
    let out = lab.run(&["validate"]);
    let err = stderr(&out);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("which k3s or playground needs for itself"),
        "{err}"
    );
    assert_eq!(count_docker_objects(&lab.name), 0);
}

/// A self-signed CA, as a TLS-inspecting proxy's would be, in PEM.
fn ca_pem() -> String {
    let ca = rcgen::generate_simple_self_signed(vec!["proxy.corp.example".to_string()]).unwrap();
    ca.cert.pem()
}

#[test]
fn a_ca_file_reaches_where_go_reads_system_roots_and_the_stand_in_trusts_it_there() {
    let lab = TestLab::new("cacerts")
        .agents(1)
        .cluster_yaml("  caCerts: [certs/corp-ca.pem]\n")
        .write();
    let dir = lab.file().parent().unwrap().to_path_buf();
    std::fs::create_dir(dir.join("certs")).unwrap();
    let pem = ca_pem();
    std::fs::write(dir.join("certs/corp-ca.pem"), &pem).unwrap();
    lab.ok(&["up", "--cluster-only"]);
    let path = "/etc/ssl/certs/playground-ca-0.pem";
    for n in [node(&lab, "server", 0), node(&lab, "agent", 0)] {
        assert_eq!(sh(&n, &format!("cat {path}")), pem.trim());
        assert_eq!(
            sh(
                &n,
                &format!("touch {path} 2>/dev/null && echo rw || echo ro")
            ),
            "ro"
        );
        // The image's own bundle is still there, beside it.
        assert_eq!(
            sh(
                &n,
                "[ -s /etc/ssl/certs/ca-certificates.crt ] && echo kept || echo gone"
            ),
            "kept"
        );
        let out = std::process::Command::new("docker")
            .args(["logs", &n])
            .bounded_output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stderr);
        assert!(
            text.contains(&format!("system roots: 1 certificate(s) from {path}")),
            "{text}"
        );
    }
    lab.ok(&["drop", "--yes"]);
}

#[test]
fn a_ca_file_that_is_no_pem_certificate_is_refused_at_validate() {
    let lab = TestLab::new("cabad")
        .cluster_yaml("  caCerts: [ca.pem]\n")
        .write();
    let dir = lab.file().parent().unwrap().to_path_buf();
    let check = |content: &str, want: &str| {
        std::fs::write(dir.join("ca.pem"), content).unwrap();
        let out = lab.run(&["validate"]);
        let err = stderr(&out);
        assert!(!out.status.success(), "{err}");
        assert!(err.contains(want), "{want}: {err}");
        assert!(err.contains("playground.yaml:"), "{err}");
    };
    check("not a certificate\n", "holds no PEM certificate");
    check(
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        "holds a `PRIVATE KEY` block, not a certificate",
    );
    check(
        "-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n",
        "not valid base64",
    );
    std::fs::write(dir.join("ca.pem"), ca_pem()).unwrap();
    // A good one passes the lab file's check (this lab has no apps folder: validate goes on
    // to that, past the CA).
    let out = lab.run(&["validate"]);
    assert!(!stderr(&out).contains("CA file"), "{}", stderr(&out));
    assert_eq!(count_docker_objects(&lab.name), 0);
}

#[test]
fn proxy_from_env_reaches_the_nodes_with_the_lab_networks_in_no_proxy_and_its_secret_masked() {
    let lab = TestLab::new("proxy")
        .cluster_yaml("  proxy: fromEnv\n")
        .env(
            "HTTPS_PROXY",
            "http://me:s3cret-proxy-pw@proxy.corp.example:3128",
        )
        .env("http_proxy", "http://proxy.corp.example:3128")
        .env("NO_PROXY", "intranet.example")
        .write();
    let out = lab.ok(&["up", "--cluster-only", "-v"]);
    let n = node(&lab, "server", 0);
    let env = docker(&[
        "inspect",
        "-f",
        "{{range .Config.Env}}{{println .}}{{end}}",
        &n,
    ]);
    assert!(
        env.lines()
            .any(|l| l == "HTTPS_PROXY=http://me:s3cret-proxy-pw@proxy.corp.example:3128"),
        "{env}"
    );
    assert!(
        env.lines()
            .any(|l| l == "HTTP_PROXY=http://proxy.corp.example:3128"),
        "{env}"
    );
    let no_proxy = env
        .lines()
        .find_map(|l| l.strip_prefix("NO_PROXY="))
        .unwrap_or_else(|| panic!("no NO_PROXY in {env}"));
    let subnet = docker(&[
        "inspect",
        "-f",
        "{{index .Config.Labels \"playground.subnet\"}}",
        &n,
    ]);
    for want in [
        "intranet.example",
        "localhost",
        "127.0.0.1",
        subnet.as_str(),
        "10.42.0.0/16",
        "10.43.0.0/16",
        ".svc",
        ".cluster.local",
    ] {
        assert!(
            no_proxy.split(',').any(|e| e == want),
            "{want} not in {no_proxy}"
        );
    }
    // The password never shows in what playground prints.
    assert!(!out.contains("s3cret-proxy-pw"), "{out}");
    let text = std::fs::read_to_string(lab.file()).unwrap();
    std::fs::write(
        lab.file(),
        text.replace(
            "proxy: fromEnv",
            "proxy: { httpsProxy: \"http://me:other-pw@proxy.corp.example:3128\" }",
        ),
    )
    .unwrap();
    let out = lab.run(&["up", "--cluster-only", "--dry-run", "-v"]);
    let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
    assert!(all.contains("env HTTPS_PROXY"), "{all}");
    assert!(
        !all.contains("s3cret-proxy-pw") && !all.contains("other-pw"),
        "{all}"
    );
    lab.ok(&["drop", "--yes"]);
}

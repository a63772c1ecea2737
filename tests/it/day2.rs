//! Day-2 commands on a stand-in lab: `logs`, `export logs` and `exec`.
//!
//! One lab (a server and an agent, `--cluster-only`) serves every check: bringing one up is
//! the slow part.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Event, ObjectReference, Secret};
use kube::api::{Api, ObjectMeta, PostParams};

use crate::support::harness::Bounded as _;
use crate::support::harness::{self, TestLab, docker, free_port, kube_client, stderr};

/// The lab's join token, as `docker inspect` shows it in server-0's env.
fn k3s_token(container: &str) -> String {
    docker(&[
        "inspect",
        "-f",
        "{{range .Config.Env}}{{println .}}{{end}}",
        container,
    ])
    .lines()
    .find_map(|l| l.strip_prefix("K3S_TOKEN="))
    .expect("server-0 has K3S_TOKEN in its env")
    .to_string()
}

/// Every regular file under `dir`.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// Plant a Secret with a known value, and an Event whose message leaks it (as a careless
/// controller's would): the Event goes into the archive, so the value must be masked there.
async fn plant_secret(kubeconfig: &Path, value: &str) {
    let client = kube_client(kubeconfig).await;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), "default");
    let secret = Secret {
        metadata: ObjectMeta {
            name: Some("day2-planted".into()),
            ..Default::default()
        },
        string_data: Some([("password".to_string(), value.to_string())].into()),
        ..Default::default()
    };
    secrets
        .create(&PostParams::default(), &secret)
        .await
        .unwrap();
    let events: Api<Event> = Api::namespaced(client, "default");
    let event = Event {
        metadata: ObjectMeta {
            name: Some("day2-leak".into()),
            ..Default::default()
        },
        involved_object: ObjectReference {
            kind: Some("Secret".into()),
            name: Some("day2-planted".into()),
            namespace: Some("default".into()),
            ..Default::default()
        },
        reason: Some("Leaked".into()),
        message: Some(format!("connecting with {value} failed")),
        type_: Some("Warning".into()),
        ..Default::default()
    };
    events.create(&PostParams::default(), &event).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn logs_export_and_exec_on_a_lab_with_one_agent() {
    let lab = TestLab::new("day2").agents(1).write();
    lab.ok(&["up", "--cluster-only"]);
    let server = format!("playground-{}-server-0", lab.name);
    let agent = format!("playground-{}-agent-0", lab.name);
    let token = k3s_token(&server);
    assert!(token.len() >= 16, "{token}");

    // --- logs: every node, each line prefixed; --node picks one; an unknown node is named.
    let all = lab.ok(&["logs"]);
    assert!(all.lines().any(|l| l.starts_with("server-0 | ")), "{all}");
    assert!(all.lines().any(|l| l.starts_with("agent-0  | ")), "{all}");
    assert!(all.lines().all(|l| l.contains(" | ")), "{all}");
    assert!(!all.contains(&token), "the join token is printed by `logs`");
    let one = lab.ok(&["logs", "--node", "agent-0"]);
    assert!(
        !one.is_empty() && one.lines().all(|l| l.starts_with("agent-0 | ")),
        "{one}"
    );
    // A time after every line so far: nothing printed.
    let future = lab.ok(&["logs", "--since", "2999-01-01T00:00:00Z"]);
    assert_eq!(future, "", "--since in the future printed lines");
    let out = lab.run(&["logs", "--node", "agent-7"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("has no node agent-7") && stderr(&out).contains("server-0"),
        "{}",
        stderr(&out)
    );

    // --- export logs into a folder it cannot write (sysfs takes no new file, root's
    // included): the error names that folder, never the hidden temporary file in it.
    let out = lab.run(&["export", "logs", &lab.name, "/sys"]);
    assert!(!out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("cannot write in /sys: "), "{err}");
    assert!(
        !err.contains(".playground-logs") && !err.contains(".partial") && !err.contains("at path"),
        "{err}"
    );
    assert!(err.contains("give a directory you can write to"), "{err}");

    // --- export logs: one archive, a folder per node, and no secret anywhere in it.
    let planted = format!("planted-{}", lab.name);
    plant_secret(&lab.kubeconfig(), &planted).await;
    let out_dir = tempfile::tempdir().unwrap();
    let printed = lab.ok(&[
        "export",
        "logs",
        &lab.name,
        out_dir.path().to_str().unwrap(),
    ]);
    let archive = PathBuf::from(printed.trim());
    let written: Vec<_> = std::fs::read_dir(out_dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(
        written,
        std::slice::from_ref(&archive),
        "exactly one file, the archive"
    );
    let file_name = archive.file_name().unwrap().to_str().unwrap().to_string();
    let prefix = format!("playground-logs-{}-", lab.name);
    assert!(
        file_name.starts_with(&prefix) && file_name.ends_with("Z.tar.gz"),
        "{file_name}"
    );
    let unpacked = tempfile::tempdir().unwrap();
    let tar = Command::new("tar")
        .arg("-xzf")
        .arg(&archive)
        .arg("-C")
        .arg(unpacked.path())
        .output()
        .unwrap();
    assert!(tar.status.success(), "tar: {}", stderr(&tar));
    let root = unpacked.path().join(file_name.trim_end_matches(".tar.gz"));
    for (node, container) in [("server-0", &server), ("agent-0", &agent)] {
        let inspect: serde_json::Value =
            serde_json::from_slice(&std::fs::read(root.join(node).join("inspect.json")).unwrap())
                .unwrap();
        assert_eq!(inspect["Name"], format!("/{container}"));
        let env = inspect["Config"]["Env"].to_string();
        assert!(env.contains("K3S_TOKEN=***"), "{env}");
        let log = std::fs::read_to_string(root.join(node).join("docker.log")).unwrap();
        assert!(!log.trim().is_empty(), "{node}'s docker.log is empty");
    }
    let events = std::fs::read_to_string(root.join("events.json")).unwrap();
    assert!(
        events.contains("connecting with *** failed"),
        "the leaked Event is in the archive, masked: {events}"
    );
    let manifest = std::fs::read_to_string(root.join("MANIFEST")).unwrap();
    assert!(
        manifest.contains("included  server-0/inspect.json"),
        "{manifest}"
    );
    assert!(manifest.contains("included  doctor.json"), "{manifest}");
    let doctor: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("doctor.json")).unwrap()).unwrap();
    assert!(doctor["checks"].is_array(), "{doctor}");
    assert!(
        manifest.contains("included  playground.yaml"),
        "the lab file: {manifest}"
    );
    let files = files_under(unpacked.path());
    assert!(files.len() >= 6, "{files:?}");
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        assert!(
            !contains(&bytes, &planted),
            "the planted Secret value is in {f:?}"
        );
        assert!(!contains(&bytes, &token), "the K3S token is in {f:?}");
        assert!(
            !contains(&bytes, "day2-planted\",\n    \"data\""),
            "a Secret object is in {f:?}"
        );
    }

    // --- exec: server-0 by default, --node, a missing node, the command's exit status.
    assert_eq!(
        lab.ok(&["exec", "--", "cat", "/etc/hostname"]).trim(),
        server
    );
    assert_eq!(
        lab.ok(&["exec", "--node", "agent-0", "--", "cat", "/etc/hostname"])
            .trim(),
        agent
    );
    let out = lab.run(&["exec", "--node", "agent-3", "--", "true"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("has no node agent-3"),
        "{}",
        stderr(&out)
    );
    let out = lab.run(&["exec", "--", "sh", "-c", "exit 7"]);
    assert_eq!(out.status.code(), Some(7), "{}", stderr(&out));
    let out = lab
        .cmd(&["exec", "--", "true"])
        .env("PATH", "/nonexistent")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("`docker` is not on PATH"),
        "{}",
        stderr(&out)
    );

    // --- logs --follow prints as lines come and ends when the node stops.
    let mut follow = lab
        .cmd(&["logs", "--follow", "--node", "agent-0"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(follow.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    assert!(first.starts_with("agent-0 | "), "{first}");
    // A line the node writes now, after `logs` started, must arrive: it follows.
    let marker = format!("marker-{}", lab.name);
    docker(&[
        "exec",
        &agent,
        "sh",
        "-c",
        &format!("echo {marker} > /proc/1/fd/1"),
    ]);
    let seen = lines
        .by_ref()
        .map(Result::unwrap)
        .find(|l| l.contains(&marker));
    assert_eq!(seen, Some(format!("agent-0 | {marker}")));
    docker(&["stop", "-t", "1", &agent]);
    let waited = Instant::now();
    let status = loop {
        if let Some(status) = follow.try_wait().unwrap() {
            break status;
        }
        if waited.elapsed() > Duration::from_secs(20) {
            follow.kill().ok();
            panic!("logs --follow went on after its node stopped");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "{status}");
    // A stopped node is named as such for exec, with the way out.
    let out = lab.run(&["exec", "--node", "agent-0", "--", "true"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("not running") && stderr(&out).contains("playground resume"),
        "{}",
        stderr(&out)
    );
}

/// `docker volume inspect`'s name and creation time: the same volume, not one made again.
fn volume_identity(volume: &str) -> String {
    docker(&[
        "volume",
        "inspect",
        "-f",
        "{{.Name}} {{.CreatedAt}}",
        volume,
    ])
}

fn inspect(container: &str, format: &str) -> String {
    docker(&["inspect", "-f", format, container])
}

/// Replace `from` by `to` in the lab file; the file must contain `from`.
fn edit(lab: &TestLab, from: &str, to: &str) {
    let text = std::fs::read_to_string(lab.file()).unwrap();
    assert!(text.contains(from), "{from:?} not in:\n{text}");
    std::fs::write(lab.file(), text.replacen(from, to, 1)).unwrap();
}

/// Removes a second tag of the stand-in image (only the tag: the image stays).
struct Tag(String);

impl Drop for Tag {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["rmi", &self.0])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .bounded_output()
            .map(|o| o.status);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn up_reconciles_a_changed_lab_file_on_its_volumes_and_removes_an_agent() {
    let (p1, p2) = (free_port(), free_port());
    let lab = TestLab::new("reconcile")
        .agents(2)
        .port(&format!("{p1}:80@agent:0"))
        .cluster_yaml("  env: [\"PLAYGROUND_RECONCILE_MARK=one@agent:*\"]\n")
        .write();
    lab.ok(&["up", "--cluster-only"]);
    let node = |role: &str, i: u32| format!("playground-{}-{role}-{i}", lab.name);
    let (s0, a0, a1) = (node("server", 0), node("agent", 0), node("agent", 1));
    let volumes: Vec<String> = [&s0, &a0, &a1]
        .iter()
        .map(|n| format!("{n}-data"))
        .collect();
    let before: Vec<String> = volumes.iter().map(|v| volume_identity(v)).collect();

    // The same stand-in image under a second name: to `up`, the image changed.
    let image = crate::support::harness::node_image();
    let tag = Tag(format!("{image}-{}", lab.name));
    docker(&["tag", image, &tag.0]);
    edit(
        &lab,
        &format!("image: {image}\n"),
        &format!("image: {}\n", tag.0),
    );
    edit(
        &lab,
        &format!("{p1}:80@agent:0"),
        &format!("{p2}:80@agent:0"),
    );
    edit(&lab, "MARK=one", "MARK=two");
    edit(
        &lab,
        "  env:",
        "  k3sArgs: [\"--node-label=reconciled=yes@agent:1\"]\n  env:",
    );

    // --dry-run shows the diff, and changes nothing.
    let dry = lab.ok(&["up", "--cluster-only", "--dry-run"]);
    // One line per node and field: `~ NODE  FIELD: OLD → NEW`.
    for (n, want) in [
        (&a0, format!("image: {image} → {}", tag.0)),
        (&a0, "env PLAYGROUND_RECONCILE_MARK: one → two".to_string()),
        (
            &a0,
            format!("ports: 127.0.0.1:{p1}->80/tcp → 127.0.0.1:{p2}->80/tcp"),
        ),
        (
            &a1,
            "command: agent … → agent … --node-label=reconciled=yes".to_string(),
        ),
        (&a1, "env PLAYGROUND_RECONCILE_MARK: one → two".to_string()),
    ] {
        assert!(
            dry.lines()
                .any(|l| l.starts_with(&format!("  ~ {n} ")) && l.ends_with(&want)),
            "{n}: {want:?} not in:\n{dry}"
        );
    }
    assert!(
        dry.contains(&format!("recreate {a1} from its new spec")),
        "{dry}"
    );
    assert_eq!(inspect(&a0, "{{.Config.Image}}"), image);
    // No terminal and no --yes: refused (exit 2), naming --yes; still nothing changed.
    let out = lab.run(&["up", "--cluster-only"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--yes"), "{}", stderr(&out));
    assert_eq!(inspect(&a0, "{{.Config.Image}}"), image);

    lab.ok(&["up", "--cluster-only", "--yes"]);
    for n in [&s0, &a0, &a1] {
        assert_eq!(inspect(n, "{{.Config.Image}}"), tag.0, "{n}");
        assert_eq!(inspect(n, "{{.State.Status}}"), "running", "{n}");
    }
    let env = inspect(&a1, "{{range .Config.Env}}{{println .}}{{end}}");
    assert!(
        env.lines().any(|l| l == "PLAYGROUND_RECONCILE_MARK=two"),
        "{env}"
    );
    assert!(
        inspect(&a1, "{{json .Config.Cmd}}").contains("--node-label=reconciled=yes"),
        "k3s arg missing"
    );
    assert_eq!(
        inspect(
            &a0,
            "{{(index (index .HostConfig.PortBindings \"80/tcp\") 0).HostPort}}"
        ),
        p2.to_string()
    );
    // Same volumes: same name, same creation time.
    let after: Vec<String> = volumes.iter().map(|v| volume_identity(v)).collect();
    assert_eq!(after, before);
    assert_eq!(
        crate::support::harness::ready_nodes(&lab.kubeconfig())
            .await
            .len(),
        3
    );
    // Applied: the next `up` has nothing to change and needs no --yes.
    let again = lab.ok(&["up", "--cluster-only", "--dry-run"]);
    assert!(!again.contains("changes to existing nodes"), "{again}");

    // Agents 2 → 1: agent-1 goes, with its volume and its Node.
    edit(&lab, "agents: 2", "agents: 1");
    // Its own k3s arg goes with it (a filter naming a missing agent is refused).
    edit(
        &lab,
        "  k3sArgs: [\"--node-label=reconciled=yes@agent:1\"]\n",
        "",
    );
    let dry = lab.ok(&["up", "--cluster-only", "--dry-run"]);
    assert!(
        dry.lines()
            .any(|l| l.starts_with(&format!("  - {a1} ")) && l.contains("removed")),
        "{dry}"
    );
    assert!(!dry.contains("  ~ "), "only the removal: {dry}");
    lab.ok(&["up", "--cluster-only", "--yes"]);
    let gone = Command::new("docker")
        .args(["inspect", &a1])
        .bounded_output()
        .unwrap();
    assert!(!gone.status.success(), "{a1} still exists");
    let vol = Command::new("docker")
        .args(["volume", "inspect", &volumes[2]])
        .bounded_output()
        .unwrap();
    assert!(!vol.status.success(), "{} still exists", volumes[2]);
    let nodes = harness::node_names(&lab.kubeconfig()).await;
    assert!(!nodes.iter().any(|n| n.contains("agent-1")), "{nodes:?}");
    assert_eq!(nodes.len(), 2, "{nodes:?}");
    // And the lab is whole at its new size: nothing is reported missing.
    let status = harness::document(&lab.ok(&["status", &lab.name, "-o", "json"]), "LabStatus");
    assert_eq!(status["state"], "running", "{status}");
    assert_eq!(status["agents"], 1, "{status}");
    assert!(status.get("missing").is_none(), "{status}");

    // One server → three: refused before anything is made, with the way out.
    edit(&lab, "servers: 1", "servers: 3");
    let containers = docker(&[
        "ps",
        "-aq",
        "--filter",
        &format!("label=playground.cluster={}", lab.name),
    ]);
    let out = lab.run(&["up", "--cluster-only", "--yes"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("server count") && err.contains(&format!("playground drop {}", lab.name)),
        "{err}"
    );
    assert_eq!(
        docker(&[
            "ps",
            "-aq",
            "--filter",
            &format!("label=playground.cluster={}", lab.name)
        ]),
        containers
    );
    lab.assert_no_complaints();
}

/// Every entry of a `.tar.gz` archive: path and bytes.
fn archive_entries(path: &Path) -> Vec<(String, Vec<u8>)> {
    use std::io::Read;
    let gz = flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap());
    let mut tar = tar::Archive::new(gz);
    tar.entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let name = e.path().unwrap().to_string_lossy().into_owned();
            let mut bytes = Vec::new();
            e.read_to_end(&mut bytes).unwrap();
            (name, bytes)
        })
        .collect()
}

/// A Pod in Argo CD's namespace, standing in for one the Deployment would run (the double runs
/// no controller that makes Pods); what its containers print is the double's log annotation.
fn argocd_pod(name: &str, init: Option<&str>, container: &str, log: &str) -> serde_json::Value {
    let mut spec = serde_json::json!({
        "containers": [{"name": container, "image": "quay.io/argoproj/argocd:v3.5.1"}],
    });
    if let Some(init) = init {
        spec["initContainers"] =
            serde_json::json!([{"name": init, "image": "quay.io/argoproj/argocd:v3.5.1"}]);
    }
    serde_json::json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": "argocd",
            "labels": {"app.kubernetes.io/part-of": "argocd"},
            "annotations": {crate::support::double::router::LOG_ANNOTATION: log},
        },
        "spec": spec,
    })
}

/// `export logs` of a lab with its GitOps half (issue 12, Deliver 2): the archive holds the
/// Argo CD Applications (parsed, the root one there) and every Argo CD pod container's log,
/// init containers included; and no secret anywhere, though each one leaked where the export
/// reads: the Argo CD admin password (a Secret of the cluster) in a pod log and in an
/// Application's annotation, the join token and a secret env value of the lab file in a pod
/// log, the env value also in the nodes' env and in the lab file itself.
#[tokio::test(flavor = "multi_thread")]
async fn export_logs_of_a_gitops_lab_holds_applications_and_argocd_logs_and_no_secret() {
    use kube::api::{DynamicObject, Patch, PatchParams};

    let tag = harness::unique_name("x");
    let api_token = format!("s3cr3t-{}", tag.replace('-', ""));
    let (lab, _commit) = crate::gitops_up::git_lab_with(
        TestLab::new("day2gitops"),
        "healthy",
        &format!(", \"MY_API_TOKEN={api_token}@server:0\""),
    );
    lab.ok(&["up", "--timeout", "120s"]);
    let server = format!("playground-{}-server-0", lab.name);
    let token = k3s_token(&server);
    // The admin password, in the Secret argocd-server creates at its first start (the double
    // runs no argocd-server), read back as a user reads it.
    let client = kube_client(&lab.kubeconfig()).await;
    let initial = format!("pw-{}", tag.replace('-', ""));
    let secret: Secret = serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "argocd-initial-admin-secret", "namespace": "argocd"},
        "stringData": {"password": initial}
    }))
    .unwrap();
    Api::<Secret>::namespaced(client.clone(), "argocd")
        .create(&PostParams::default(), &secret)
        .await
        .unwrap();
    let password = lab.ok(&["password"]).trim().to_string();
    assert_eq!(password, initial);

    // The leaks: Argo CD pods whose logs print every secret, and the root Application with
    // the admin password in an annotation.
    let leak = format!("{{container}} up; admin {password} token {token} api {api_token}\n");
    let pods: Api<k8s_openapi::api::core::v1::Pod> = Api::namespaced(client.clone(), "argocd");
    for (pod, init, container) in [
        ("argocd-server-7d4c9b-x2l8q", None, "argocd-server"),
        (
            "argocd-repo-server-5f6b8d-q9wzt",
            Some("copyutil"),
            "argocd-repo-server",
        ),
    ] {
        let body = serde_json::from_value(argocd_pod(pod, init, container, &leak)).unwrap();
        pods.create(&PostParams::default(), &body).await.unwrap();
    }
    // The double checks the container as the apiserver does: an unknown one is refused.
    let params = kube::api::LogParams {
        container: Some("nope".into()),
        ..Default::default()
    };
    let e = pods
        .logs("argocd-repo-server-5f6b8d-q9wzt", &params)
        .await
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("container nope is not valid for pod argocd-repo-server-5f6b8d-q9wzt"),
        "{e}"
    );
    let apps: Api<DynamicObject> = crate::gitops_up::applications(&client);
    apps.patch(
        "root",
        &PatchParams::default(),
        &Patch::Merge(serde_json::json!({
            "metadata": {"annotations": {"example.com/note": format!("login with {password}")}}
        })),
    )
    .await
    .unwrap();

    let out_dir = tempfile::tempdir().unwrap();
    let printed = lab.ok(&[
        "export",
        "logs",
        &lab.name,
        out_dir.path().to_str().unwrap(),
    ]);
    let entries = archive_entries(Path::new(printed.trim()));
    let root = entries[0].0.split('/').next().unwrap().to_string();
    let entry = |path: &str| -> String {
        let full = format!("{root}/{path}");
        let (_, bytes) = entries.iter().find(|(n, _)| *n == full).unwrap_or_else(|| {
            let names: Vec<&String> = entries.iter().map(|(n, _)| n).collect();
            panic!("no {full} in the archive: {names:#?}")
        });
        String::from_utf8(bytes.clone()).unwrap()
    };

    // The Applications: JSON, the root app, its leaked annotation masked.
    let applications: serde_json::Value = serde_json::from_str(&entry("applications.json"))
        .unwrap_or_else(|e| panic!("applications.json does not parse: {e}"));
    let listed = applications.as_array().expect("an array of Applications");
    let root_app = listed
        .iter()
        .find(|a| a["metadata"]["name"] == "root" && a["metadata"]["namespace"] == "argocd")
        .unwrap_or_else(|| panic!("no root Application: {applications}"));
    assert_eq!(root_app["spec"]["source"]["path"], "apps", "{root_app}");
    assert_eq!(
        root_app["metadata"]["annotations"]["example.com/note"], "login with ***",
        "{root_app}"
    );
    // Every Argo CD pod container's log, the init container's too, its secrets masked.
    for (pod, container) in [
        ("argocd-server-7d4c9b-x2l8q", "argocd-server"),
        ("argocd-repo-server-5f6b8d-q9wzt", "copyutil"),
        ("argocd-repo-server-5f6b8d-q9wzt", "argocd-repo-server"),
    ] {
        let log = entry(&format!("argocd/{pod}/{container}.log"));
        assert_eq!(
            log,
            format!("{container} up; admin *** token *** api ***\n"),
            "{pod}/{container}"
        );
    }
    let manifest = entry("MANIFEST");
    assert!(
        manifest.contains("included  applications.json"),
        "{manifest}"
    );
    assert!(
        manifest.contains("included  argocd/argocd-server-7d4c9b-x2l8q/argocd-server.log"),
        "{manifest}"
    );
    // The stand-in node has no /var/log nor containerd log (skipped, said so); nothing of
    // the cluster's parts is skipped, and the Secrets' values were learnt for the mask.
    assert!(
        !manifest.lines().any(|l| l.starts_with("skipped")
            && (l.contains("applications") || l.contains("argocd/") || l.contains("masking"))),
        "{manifest}"
    );
    assert!(manifest.contains("masked    the values of"), "{manifest}");
    // The lab file, masked: the env entry is there, its value is not.
    let lab_file = entry("playground.yaml");
    assert!(lab_file.contains("MY_API_TOKEN=***"), "{lab_file}");
    assert!(lab_file.contains("gitops:"), "{lab_file}");

    // No secret anywhere in the archive, as text or as the API's base64 of the password.
    use base64::Engine as _;
    let password_b64 = base64::engine::general_purpose::STANDARD.encode(&password);
    assert!(entries.len() >= 10, "{} entries", entries.len());
    for (name, bytes) in &entries {
        for (what, secret) in [
            ("the Argo CD admin password", password.as_str()),
            ("its base64", password_b64.as_str()),
            ("the K3S token", token.as_str()),
            ("the secret env value of the lab file", api_token.as_str()),
        ] {
            assert!(!contains(bytes, secret), "{what} is in {name}");
        }
    }
}

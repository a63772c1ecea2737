//! `up` with the GitOps half, end to end through the binary: a stand-in node in Docker,
//! the real Argo CD v3.5.1 manifest applied to the API double, a local Git repo mounted into
//! the node, and the double playing Argo CD's application controller.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service};
use kube::api::{Api, DynamicObject, PostParams};

use crate::support::double::{self, AppOutcome, DoubleOptions, Simulation};
use crate::support::harness::Bounded as _;
use crate::support::harness::{self, TestLab};

pub(crate) fn fixture() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/argocd-install-v3.5.1.yaml")
        .display()
        .to_string()
}

pub(crate) const CHILD_APP: &str = "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: hello\n  namespace: argocd\nspec:\n  project: default\n  source:\n    repoURL: file:///playground\n    path: workloads/hello\n    targetRevision: HEAD\n  destination:\n    server: https://kubernetes.default.svc\n    namespace: hello\n";

/// A lab whose apps/ is committed in its own directory, with the double set to drive every
/// Application to `outcome` at the commit.
/// apps/ with one child Application, and the workload it points at, in `dir`.
pub(crate) fn write_apps(dir: &Path) {
    std::fs::create_dir_all(dir.join("apps")).unwrap();
    std::fs::create_dir_all(dir.join("workloads/hello")).unwrap();
    std::fs::write(dir.join("apps/hello.yaml"), CHILD_APP).unwrap();
    std::fs::write(
        dir.join("workloads/hello/cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: hello\n",
    )
    .unwrap();
}

pub(crate) fn git_lab(tag: &str, outcome: &str) -> (TestLab, String) {
    git_lab_with(TestLab::new(tag), outcome, "")
}

/// [`git_lab`] from a lab already shaped (agents, …), with more node env entries (`, "K=V@…"`).
pub(crate) fn git_lab_with(lab: TestLab, outcome: &str, more_env: &str) -> (TestLab, String) {
    committed_lab(lab, outcome, true, more_env)
}

/// A lab like [`git_lab`] whose stand-in resolves the revision from the mounted repository
/// (no `PLAYGROUND_DOUBLE_REVISION`), so a new commit shows once Argo CD looks again.
pub(crate) fn git_lab_following_head(lab: TestLab, outcome: &str) -> (TestLab, String) {
    committed_lab(lab, outcome, false, "")
}

/// apps/ committed in the lab's folder, the double told to drive every Application to
/// `outcome` (and, when `pinned`, to report the first commit whatever HEAD becomes).
fn committed_lab(lab: TestLab, outcome: &str, pinned: bool, more_env: &str) -> (TestLab, String) {
    let dir = lab.dir.path();
    write_apps(dir);
    let commit =
        playground::repo::git::init_with_commit(dir, "the lab", Some(("Ada", "ada@example.com")))
            .unwrap();
    let revision = if pinned {
        format!(", \"PLAYGROUND_DOUBLE_REVISION={commit}@server:0\"")
    } else {
        String::new()
    };
    let lab = lab
        .cluster_yaml(&format!(
            "  env: [\"PLAYGROUND_DOUBLE_APPS={outcome}@server:0\"{revision}, \"PLAYGROUND_DOUBLE_DELAY_MS=300@server:0\"{more_env}]\n"
        ))
        .yaml(&format!("  manifest: {}\ngitops:\n  repo: .\n  revision: HEAD\n  path: apps\n", fixture()))
        .write();
    (lab, commit)
}

/// `git rev-parse HEAD` in `dir`.
pub(crate) fn git_head(dir: &Path) -> String {
    let out = Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(dir)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Waits until Argo CD's controller took the refresh annotation off `app`.
pub(crate) async fn refresh_taken(client: &kube::Client, app: &str) {
    let t0 = Instant::now();
    loop {
        let a = applications(client).get(app).await.unwrap();
        if !a
            .metadata
            .annotations
            .unwrap_or_default()
            .contains_key("argocd.argoproj.io/refresh")
        {
            return;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "the refresh of {app} was never taken"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub(crate) fn applications(client: &kube::Client) -> Api<DynamicObject> {
    Api::namespaced_with(
        client.clone(),
        "argocd",
        &playground::argocd::apps::application_resource(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn up_installs_argo_cd_and_seeds_the_root_app_from_the_local_repo() {
    let (lab, commit) = git_lab("gitops", "healthy");
    let out = lab.run(&["up", "--timeout", "120s"]);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("Argo CD UI: http://127.0.0.1:"), "{stderr}");
    assert!(
        stderr.contains(&format!("playground password {}", lab.name)),
        "{stderr}"
    );

    let client = harness::kube_client(&lab.kubeconfig()).await;
    // The root Application: the local repo through the mount, no finalizer, automated sync.
    let root = applications(&client).get("root").await.unwrap();
    let spec = &root.data["spec"];
    assert_eq!(spec["source"]["repoURL"], "file:///playground");
    assert_eq!(spec["source"]["path"], "apps");
    assert_eq!(spec["source"]["targetRevision"], "HEAD");
    assert_eq!(
        spec["syncPolicy"]["automated"],
        serde_json::json!({"prune": true, "selfHeal": true})
    );
    assert!(
        root.metadata
            .finalizers
            .as_ref()
            .is_none_or(|f| f.is_empty()),
        "{:?}",
        root.metadata.finalizers
    );
    assert_eq!(root.data["status"]["sync"]["revision"], commit.as_str());

    // A lean Argo CD by default: Dex and the notifications controller run no pod.
    for off in ["argocd-dex-server", "argocd-notifications-controller"] {
        let d = Api::<Deployment>::namespaced(client.clone(), "argocd")
            .get(off)
            .await
            .unwrap();
        assert_eq!(d.spec.and_then(|s| s.replicas), Some(0), "{off}");
        // And `up` did not show them as awaited.
        assert!(
            !stderr.contains(&format!("Deployment {off}")),
            "{off} shown as awaited: {stderr}"
        );
    }
    assert!(
        stderr.contains("Deployment argocd-server"),
        "the awaited ones are shown: {stderr}"
    );

    // The repo-server reads the repo through a hostPath at the same path, and git there reads
    // a global config that lists it as a safe directory.
    let repo_server = Api::<Deployment>::namespaced(client.clone(), "argocd")
        .get("argocd-repo-server")
        .await
        .unwrap();
    // It was created with the mount, never patched afterwards: one generation, one rollout,
    // so the root Application never meets a repo-server pod without the repository (F12).
    assert_eq!(repo_server.metadata.generation, Some(1));
    let pod = repo_server.spec.unwrap().template.spec.unwrap();
    let volumes = pod.volumes.unwrap();
    let volume = volumes
        .iter()
        .find(|v| v.name == "playground-repo")
        .expect("volume");
    assert_eq!(volume.host_path.as_ref().unwrap().path, "/playground");
    let gitconfig_volume = volumes
        .iter()
        .find(|v| v.name == "playground-gitconfig")
        .expect("gitconfig volume");
    assert_eq!(
        gitconfig_volume.config_map.as_ref().unwrap().name,
        "playground-gitconfig"
    );
    let container = pod
        .containers
        .iter()
        .find(|c| c.name == "argocd-repo-server")
        .unwrap();
    let mounts: Vec<(String, String, Option<bool>)> = container
        .volume_mounts
        .as_ref()
        .unwrap()
        .iter()
        .filter(|m| m.name.starts_with("playground-"))
        .map(|m| (m.name.clone(), m.mount_path.clone(), m.read_only))
        .collect();
    assert_eq!(
        mounts,
        [
            ("playground-repo", "/playground"),
            ("playground-gitconfig", "/etc/playground-git")
        ]
        .map(|(n, p)| (n.to_string(), p.to_string(), Some(true)))
    );
    let env: Vec<(String, String)> = container
        .env
        .as_ref()
        .unwrap()
        .iter()
        .filter(|e| e.name.starts_with("GIT_CONFIG"))
        .map(|e| (e.name.clone(), e.value.clone().unwrap_or_default()))
        .collect();
    assert_eq!(
        env,
        [(
            "GIT_CONFIG_GLOBAL".to_string(),
            "/etc/playground-git/gitconfig".to_string()
        )]
    );
    let gitconfig = Api::<ConfigMap>::namespaced(client.clone(), "argocd")
        .get("playground-gitconfig")
        .await
        .unwrap();
    assert_eq!(
        gitconfig.data.unwrap()["gitconfig"],
        "[safe]\n\tdirectory = /playground\n\tdirectory = /playground/.git\n"
    );
    // The node mounts the repository read-only where the hostPath points.
    let binds = Command::new("docker")
        .args([
            "inspect",
            "-f",
            "{{json .HostConfig.Binds}}",
            &format!("playground-{}-server-0", lab.name),
        ])
        .bounded_output()
        .unwrap();
    let repo_root = std::fs::canonicalize(lab.dir.path()).unwrap();
    let binds = String::from_utf8_lossy(&binds.stdout).to_string();
    assert!(
        binds.contains(&format!("{}:/playground:ro", repo_root.display())),
        "{binds}"
    );

    // The UI: argocd-server's http port on the NodePort the host port maps to.
    let svc = Api::<Service>::namespaced(client.clone(), "argocd")
        .get("argocd-server")
        .await
        .unwrap()
        .spec
        .unwrap();
    assert_eq!(svc.type_.as_deref(), Some("NodePort"));
    let http = svc
        .ports
        .unwrap()
        .into_iter()
        .find(|p| p.name.as_deref() == Some("http"))
        .unwrap();
    assert_eq!(http.node_port, Some(30080));

    // `status -o json` shows the root with its revision and the last commit of its path.
    let status = harness::document(&lab.ok(&["status", "-o", "json"]), "LabStatus");
    let root = &status["apps"]["root"];
    assert_eq!(root["sync"], "Synced");
    assert_eq!(root["health"], "Healthy");
    assert_eq!(root["revision"], commit.as_str());
    assert_eq!(root["lastCommit"]["hash"], commit.as_str());
    assert_eq!(root["lastCommit"]["author"], "Ada");
    assert_eq!(root["lastCommit"]["subject"], "the lab");

    // `refresh` sets Argo CD's refresh annotation on the root (`gitops_apps` reads it back
    // where no controller runs); Argo CD's controller takes it off once it has looked again.
    lab.ok(&["refresh", "--hard"]);
    refresh_taken(&client, "root").await;

    // `password` reads the initial admin secret (argocd-server would create it).
    let secret: Secret = serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "argocd-initial-admin-secret", "namespace": "argocd"},
        "stringData": {"password": "correct-horse"}
    }))
    .unwrap();
    Api::<Secret>::namespaced(client.clone(), "argocd")
        .create(&PostParams::default(), &secret)
        .await
        .unwrap();
    assert_eq!(lab.ok(&["password"]).trim(), "correct-horse");

    // A second `up` converges without duplicating anything.
    lab.ok(&["up", "--timeout", "120s"]);
    lab.ok(&["drop", "--yes"]);
}

#[test]
fn a_degraded_lab_fails_at_the_timeout_with_the_app_message() {
    let (lab, _) = git_lab("degraded", "degraded");
    let start = Instant::now();
    let out = lab.run(&["up", "--timeout", "25s"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "Degraded is not success:\n{stderr}");
    assert!(
        start.elapsed() < Duration::from_secs(90),
        "took {:?}",
        start.elapsed()
    );
    assert!(stderr.contains("Degraded"), "{stderr}");
    assert!(stderr.contains("root"), "{stderr}");
    assert!(
        stderr.contains("exceeded its progress deadline"),
        "the app's message is shown:\n{stderr}"
    );
}

#[test]
fn ctrl_c_and_sigterm_stop_the_wait_for_apps_at_once() {
    for (signal, code) in [("INT", 130), ("TERM", 143)] {
        // The apps never get healthy: only the signal can end this `up` before its timeout.
        let (lab, _) = git_lab(&format!("appwait{signal}"), "progressing");
        let child = lab
            .cmd(&["up", "--timeout", "300s"])
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Wait until the root Application exists: `up` is then in its last wait.
        let kubeconfig = lab.kubeconfig();
        let rt = tokio::runtime::Runtime::new().unwrap();
        let start = Instant::now();
        loop {
            let seeded = kubeconfig.exists()
                && rt.block_on(async {
                    let client = harness::kube_client(&kubeconfig).await;
                    applications(&client)
                        .get_opt("root")
                        .await
                        .ok()
                        .flatten()
                        .is_some()
                });
            if seeded {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "root was never seeded"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let sent = Instant::now();
        let _ = std::process::Command::new("kill")
            .args([&format!("-{signal}"), &child.id().to_string()])
            .status();
        let out = child.wait_with_output().unwrap();
        // Catches a wait that ignores the signal (it would run to --timeout); loose enough
        // for a loaded runner.
        assert!(
            sent.elapsed() < Duration::from_secs(15),
            "SIG{signal} took {:?} to stop the wait",
            sent.elapsed()
        );
        assert_eq!(out.status.code(), Some(code));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("interrupted; the cluster stays"),
            "{stderr}"
        );
    }
}

#[test]
fn uncommitted_changes_under_the_apps_path_are_warned_about() {
    let (lab, _) = git_lab("dirty", "healthy");
    std::fs::write(
        lab.dir.path().join("apps/new.yaml"),
        CHILD_APP.replace("hello", "new"),
    )
    .unwrap();
    // A repository only its owner may enter is invisible to argocd-repo-server (another uid).
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(lab.dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let out = lab.run(&["up", "--dry-run"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("uncommitted change") && stderr.contains("apps/new.yaml"),
        "{stderr}"
    );
    assert!(stderr.contains("Argo CD sees commits"), "{stderr}");
    assert!(
        stderr.contains("is not readable by other users (mode 700)"),
        "{stderr}"
    );
}

/// `cmd` (git, or a shell running it) with a committer of its own and no system config.
fn with_git_identity(cmd: &mut Command) -> &mut Command {
    cmd.env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
}

/// A commit made under a private umask leaves objects argocd-repo-server (uid 999) cannot
/// read. `doctor` and `up` name one, and the fix they print, run as printed, makes the
/// repository readable and keeps the next private-umask commit readable too.
#[test]
fn a_commit_under_umask_077_is_named_and_the_printed_fix_lasts() {
    let (lab, _) = git_lab("umask", "healthy");
    let dir = lab.dir.path().to_path_buf();
    let sh = |script: &str| {
        let out = with_git_identity(Command::new("sh").arg("-c").arg(script).current_dir(&dir))
            .output()
            .expect("sh and git are installed");
        assert!(out.status.success(), "{script}: {out:?}");
    };
    let commit_privately = |file: &str| {
        std::fs::write(
            dir.join("apps").join(file),
            CHILD_APP.replace("hello", "more"),
        )
        .unwrap();
        sh("umask 077; git add -A && git commit -q -m more");
    };
    let repo_check = || {
        let out = lab.run(&["doctor", "-o", "json"]);
        let report = harness::document(&String::from_utf8_lossy(&out.stdout), "DoctorReport");
        report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == "repo")
            .cloned()
            .unwrap_or_else(|| panic!("no repo check in {report}"))
    };
    commit_privately("more.yaml");
    let repo = repo_check();
    assert_eq!(repo["status"], "fail", "{repo}");
    let message = repo["message"].as_str().unwrap();
    assert!(message.contains("/.git/"), "{repo}");
    assert!(message.contains("is not readable by other users"), "{repo}");
    let out = lab.run(&["up", "--dry-run"]);
    let stderr = harness::stderr(&out);
    assert!(
        stderr.contains(message),
        "up warns in doctor's words:\n{stderr}"
    );

    let fix = repo["fix"].as_str().unwrap();
    let command = fix
        .strip_prefix("run `")
        .and_then(|f| f.strip_suffix('`'))
        .unwrap_or_else(|| panic!("{fix}"));
    assert!(command.contains("core.sharedRepository"), "{fix}");
    sh(command);
    assert_eq!(repo_check()["status"], "ok");
    commit_privately("again.yaml");
    let repo = repo_check();
    assert_eq!(repo["status"], "ok", "{repo}");
}

/// A local repository is mounted into argocd-repo-server through the manifest; a custom
/// manifest without that Deployment is refused before any container exists.
#[test]
fn a_local_repo_with_a_manifest_lacking_the_repo_server_is_refused_before_anything_is_made() {
    let lab = TestLab::new("norepo");
    let dir = lab.dir.path();
    write_apps(dir);
    std::fs::write(
        dir.join("install.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: argocd-cm\n",
    )
    .unwrap();
    playground::repo::git::init_with_commit(dir, "the lab", Some(("Ada", "ada@example.com")))
        .unwrap();
    let lab = lab
        .yaml("  manifest: ./install.yaml\ngitops:\n  repo: .\n  path: apps\n")
        .write();
    let out = lab.run(&["up", "--timeout", "60s"]);
    let stderr = harness::stderr(&out);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("install.yaml")
            && stderr.contains("no Deployment argocd-repo-server")
            && stderr.contains("hint:"),
        "{stderr}"
    );
    assert_eq!(harness::count_docker_objects(&lab.name), 0, "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn up_with_a_context_bootstraps_any_cluster_with_a_remote_repo() {
    let api = double::start(DoubleOptions {
        simulation: Simulation {
            delay: Duration::from_millis(100),
            app_delay: Duration::from_millis(100),
            apps: Some(AppOutcome::Healthy),
            ..Default::default()
        },
        ..Default::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        api.kubeconfig_yaml(&api.url())
            .replace(": default", ": remote"),
    )
    .unwrap();
    let lab_file = dir.path().join("lab.yaml");
    std::fs::write(
        &lab_file,
        format!(
            "apiVersion: playground.dev/v1alpha1\nkind: Playground\nmetadata:\n  name: remote\nargocd:\n  manifest: {}\n  namespace: lab-argocd\ngitops:\n  repo: https://git.example/lab.git\n  path: apps\n  credentials: {{ usernameEnv: LAB_GIT_USER, passwordEnv: LAB_GIT_TOKEN }}\n",
            fixture()
        ),
    )
    .unwrap();
    let run = |extra_env: &[(&str, &str)]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_playground"));
        c.args([
            "up",
            "--context",
            "remote",
            "-f",
            lab_file.to_str().unwrap(),
            "--timeout",
            "60s",
        ])
        .env("KUBECONFIG", &kubeconfig)
        .env("HOME", dir.path())
        .env("XDG_CACHE_HOME", dir.path().join("cache"))
        .env_remove("LAB_GIT_USER")
        .env_remove("LAB_GIT_TOKEN");
        for (k, v) in extra_env {
            c.env(k, v);
        }
        c.output().unwrap()
    };
    // A missing credential variable stops it before anything is created.
    let out = run(&[("LAB_GIT_USER", "ada")]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("LAB_GIT_TOKEN"), "{stderr}");
    assert!(
        api.object("", "namespaces", "", "lab-argocd").is_none(),
        "nothing may be created"
    );

    let out = run(&[("LAB_GIT_USER", "ada"), ("LAB_GIT_TOKEN", "tok-123")]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        !stderr.contains("tok-123"),
        "a secret reached the output:\n{stderr}"
    );

    let secret = api
        .object("", "secrets", "lab-argocd", "playground-repo")
        .expect("repository secret");
    assert_eq!(
        secret["metadata"]["labels"]["argocd.argoproj.io/secret-type"],
        "repository"
    );
    use base64::Engine as _;
    let data = |k: &str| {
        String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(secret["data"][k].as_str().unwrap())
                .unwrap(),
        )
        .unwrap()
    };
    assert_eq!(data("url"), "https://git.example/lab.git");
    assert_eq!(data("username"), "ada");
    assert_eq!(data("password"), "tok-123");
    assert_eq!(data("type"), "git");
    // The ClusterRoleBindings name the namespace Argo CD was installed in.
    let crb = api
        .object(
            "rbac.authorization.k8s.io",
            "clusterrolebindings",
            "",
            "argocd-server",
        )
        .unwrap();
    assert_eq!(crb["subjects"][0]["namespace"], "lab-argocd");
    // The secret existed before the root Application (first reconcile already authenticates).
    let log = api.event_log();
    let pos = |resource: &str, name: &str| {
        log.iter()
            .position(|e| e.resource == resource && e.name == name)
            .unwrap()
    };
    assert!(pos("secrets", "playground-repo") < pos("applications", "root"));
    let root = api
        .object("argoproj.io", "applications", "lab-argocd", "root")
        .unwrap();
    assert_eq!(
        root["spec"]["source"]["repoURL"],
        "https://git.example/lab.git"
    );
    // A remote repo mounts nothing into the repo-server, which is installed as released.
    let repo_server = api
        .object("apps", "deployments", "lab-argocd", "argocd-repo-server")
        .unwrap();
    assert_eq!(repo_server["metadata"]["generation"], 1);
    let pod = &repo_server["spec"]["template"]["spec"];
    assert!(
        !pod.to_string().contains("playground-") && !pod.to_string().contains("GIT_CONFIG_GLOBAL"),
        "{pod}"
    );
    assert!(
        api.object("", "configmaps", "lab-argocd", "playground-gitconfig")
            .is_none()
    );
    api.shutdown().await;
}

#[test]
fn validate_checks_labs_offline() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_playground"))
            .args(args)
            .current_dir(dir.path())
            .env("HOME", dir.path())
            .output()
            .unwrap()
    };
    // `init` writes a lab that passes `validate`.
    let out = run(&["init", "lab"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(&["validate", "-f", "lab/playground.yaml"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("valid"));
    // A broken Application is reported with file and line.
    let app = dir.path().join("lab/apps/podinfo.yaml");
    let text = std::fs::read_to_string(&app).unwrap();
    std::fs::write(&app, text.replacen("  project: playground\n", "", 1)).unwrap();
    let out = run(&["validate", "-f", "lab/playground.yaml"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("apps/podinfo.yaml:"), "{stderr}");
    assert!(stderr.contains("project"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn up_watch_refreshes_argo_cd_when_head_moves() {
    let git_found = Command::new("git")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !git_found {
        assert!(
            !harness::require_all(),
            "git is required (PLAYGROUND_REQUIRE_ALL=1) but not found"
        );
        eprintln!("skipped: the git CLI makes the second commit here, and it is not installed");
        return;
    }
    let (lab, _) = git_lab_following_head(TestLab::new("watch"), "healthy");
    let mut child = lab
        .cmd(&["up", "--watch", "--timeout", "120s"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Follow stderr until the watch starts.
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    let wait_for = |needle: &str| {
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut seen = String::new();
        while Instant::now() < deadline {
            if let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
                seen.push_str(&line);
                seen.push('\n');
                if line.contains(needle) {
                    return;
                }
            }
        }
        panic!("never saw {needle:?} in:\n{seen}");
    };
    wait_for("watching");

    let dir = lab.dir.path();
    std::fs::write(
        dir.join("workloads/hello/cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: hello2\n",
    )
    .unwrap();
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .args(["-c", "user.name=Ada", "-c", "user.email=ada@example.com"])
            .args(args)
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    git(&["add", "workloads"]);
    git(&["commit", "-q", "-m", "rename the config map"]);
    wait_for("asked Argo CD to refresh");

    // Argo CD looked at once: the root reports the new commit (its poll is 30 s away).
    let head = git_head(dir);
    let client = harness::kube_client(&lab.kubeconfig()).await;
    let t0 = Instant::now();
    loop {
        let root = applications(&client).get("root").await.unwrap();
        if root.data["status"]["sync"]["revision"] == head.as_str() {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "root never reached {head}: {}",
            root.data["status"]
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let status = child.wait().unwrap();
    assert!(status.success(), "Ctrl-C ends --watch cleanly: {status}");
}

/// Every "X/Y nodes Ready" a step of the stream showed, with the step's name: Ready nodes over
/// nodes, each at most the other, and never over fewer nodes than the lab has (`nodes`); and
/// each such step's title names the lab's count. Returns the steps that showed a count.
fn assert_ready_counts_are_over_the_lab(events: &[serde_json::Value], nodes: usize) -> Vec<String> {
    let mut steps = Vec::new();
    for e in events.iter().filter(|e| e["type"] == "step") {
        let (name, detail) = (e["name"].as_str().unwrap(), e["detail"].as_str());
        let Some((ready, total)) = detail
            .and_then(|d| d.strip_suffix(" nodes Ready"))
            .and_then(|d| d.split_once('/'))
        else {
            continue;
        };
        let (ready, total): (usize, usize) = (ready.parse().unwrap(), total.parse().unwrap());
        assert!(
            ready <= total,
            "{name:?} showed {ready}/{total} nodes Ready"
        );
        assert!(
            total >= nodes,
            "{name:?} showed {ready}/{total} nodes Ready in a lab of {nodes} nodes"
        );
        assert!(
            name.contains(&format!(" {nodes} ")),
            "{name:?} does not name the lab's {nodes} nodes"
        );
        if !steps.iter().any(|s| s == name) {
            steps.push(name.to_string());
        }
    }
    steps
}

#[tokio::test(flavor = "multi_thread")]
async fn argo_cd_is_applied_before_every_node_is_ready() {
    // Agents that take 3 s to boot: Argo CD goes in as soon as the API answers and the
    // server's node is Ready, not after the agents.
    let (lab, _) = git_lab_with(
        TestLab::new("argoearly").agents(2),
        "healthy",
        ", \"PLAYGROUND_STANDIN_AGENT_BOOT_MS=3000@agent:*\"",
    );
    let out = lab.ok(&["up", "-o", "json"]);
    let (events, report) = harness::event_stream(&out, "UpResult");
    assert_eq!(
        report["nodes"].as_array().map(Vec::len),
        Some(3),
        "{report}"
    );
    // What the waits showed: the Ready nodes over the lab's 3, never over the one node the
    // first wait needs before Argo CD goes in (issue 22: "2/1", "3/1 nodes Ready"; with the
    // agents still booting, "1/1" under a title of 3).
    let counted = assert_ready_counts_are_over_the_lab(&events, 3);
    let api_wait = counted
        .iter()
        .find(|n| n.starts_with("wait for the API"))
        .unwrap_or_else(|| panic!("no node count in the API wait: {out}"));
    assert!(
        counted.iter().any(|n| n == "wait for all 3 node(s) Ready"),
        "{counted:?}"
    );
    // The API wait says what it waits for: one Ready node, of the 3, before Argo CD.
    assert!(api_wait.contains(" 1 of 3 node(s) Ready;"), "{api_wait:?}");
    // The agent's start is not waited for here (Ready is awaited with Argo CD): its step
    // says so, not "wait for".
    let agent_start = format!("start playground-{}-agent-0", lab.name);
    let names: Vec<&str> = events.iter().filter_map(|e| e["name"].as_str()).collect();
    assert!(names.contains(&agent_start.as_str()), "{names:?}");
    assert!(
        !names
            .iter()
            .any(|n| n.starts_with(&agent_start) && n.contains("wait for")),
        "{names:?}"
    );
    let client = harness::kube_client(&lab.kubeconfig()).await;
    let ns: k8s_openapi::api::core::v1::Namespace = Api::all(client).get("argocd").await.unwrap();
    let applied = ns.metadata.creation_timestamp.unwrap().0;
    let agent = format!("playground-{}-agent-0", lab.name);
    let out = Command::new("docker")
        .args(["logs", "--timestamps", &agent])
        .bounded_output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    let registered: jiff::Timestamp = text
        .lines()
        .find(|l| l.contains("Successfully registered node"))
        .and_then(|l| l.split_whitespace().next())
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        applied < registered,
        "Argo CD's namespace was made at {applied}, the agent registered at {registered}"
    );
}

/// F16: in a linked worktree `.git` is a file naming `<main>/.git/worktrees/NAME`, a host path
/// the node and Argo CD's repo-server (git at `/playground`, `argoproj/argo-cd`
/// `util/git/client.go`) do not have. `validate` warns (the lab's files are fine), `up`
/// refuses it before anything exists.
#[test]
fn a_lab_in_a_linked_worktree_is_refused_before_anything_is_created() {
    let (lab, _) = git_lab("worktree", "healthy");
    let git = |args: &[&str]| {
        let out = with_git_identity(Command::new("git").args(args).current_dir(lab.dir.path()))
            .output()
            .expect("git is installed");
        assert!(out.status.success(), "git {args:?}: {out:?}");
    };
    git(&["add", "-A"]);
    git(&["commit", "-q", "-m", "the lab file"]);
    let elsewhere = tempfile::tempdir().unwrap();
    let wt = elsewhere.path().join("wt");
    git(&["worktree", "add", "-q", "-b", "try", wt.to_str().unwrap()]);
    let file = wt.join("playground.yaml");
    let file = file.to_str().unwrap();
    let main = lab.dir.path().canonicalize().unwrap();
    let wt = wt.canonicalize().unwrap();

    // `validate` and `up` agree: both refuse it.
    let out = lab.run(&["validate", "-f", file]);
    let err = harness::stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    for want in [
        format!("{file}:"),
        format!("{} is a linked Git worktree", wt.display()),
        format!("the main checkout {}", main.display()),
        "`gitops.revision: try`".to_string(),
    ] {
        assert!(err.contains(&want), "{want:?} not in:\n{err}");
    }

    // `doctor` fails its repo check with the same words and the way out.
    let out = lab.run(&["doctor", "-f", file, "-o", "json"]);
    let report = harness::document(&String::from_utf8_lossy(&out.stdout), "DoctorReport");
    let repo = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "repo")
        .cloned()
        .unwrap_or_else(|| panic!("no repo check in {report}"));
    assert_eq!(repo["status"], "fail", "{repo}");
    assert!(
        repo["message"]
            .as_str()
            .unwrap()
            .contains("is a linked Git worktree"),
        "{repo}"
    );
    assert!(
        repo["fix"]
            .as_str()
            .unwrap()
            .contains(&format!("the main checkout {}", main.display())),
        "{repo}"
    );

    let out = lab.run(&["up", "-f", file, "--timeout", "60s"]);
    let err = harness::stderr(&out);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains(&format!("{} is a linked Git worktree", wt.display()))
            && err.contains(&format!("the main checkout {}", main.display()))
            && !err.contains("chmod"),
        "{err}"
    );
    assert_eq!(harness::count_docker_objects(&lab.name), 0, "{err}");
}

/// The v3.5.1 fixture with Argo CD's poll set to an hour in `argocd-cm` (a manifest's own
/// `timeout.reconciliation` is kept), written into `dir`.
pub(crate) fn fixture_polling_hourly(dir: &Path) -> String {
    let text = std::fs::read_to_string(fixture()).unwrap();
    // argocd-cm carries `data` (resource exclusions) before its metadata: add the key there.
    let end = text
        .find("  name: argocd-cm\n---")
        .expect("the fixture's argocd-cm has moved");
    let data = text[..end].rfind("\ndata:\n").expect("argocd-cm has data") + "\ndata:\n".len();
    let path = dir.join("argocd-install-hourly.yaml");
    std::fs::write(
        &path,
        format!(
            "{}  timeout.reconciliation: 1h\n{}",
            &text[..data],
            &text[data..]
        ),
    )
    .unwrap();
    path.display().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn up_after_a_new_commit_refreshes_instead_of_waiting_for_the_poll() {
    let lab = TestLab::new("newcommit");
    let manifest_dir = tempfile::tempdir().unwrap();
    let manifest = fixture_polling_hourly(manifest_dir.path());
    let dir = lab.dir.path().to_path_buf();
    write_apps(&dir);
    playground::repo::git::init_with_commit(&dir, "the lab", Some(("Ada", "ada@example.com")))
        .unwrap();
    let lab = lab
        .cluster_yaml("  env: [\"PLAYGROUND_DOUBLE_APPS=healthy@server:0\", \"PLAYGROUND_DOUBLE_DELAY_MS=200@server:0\"]\n")
        .yaml(&format!("  manifest: {manifest}\ngitops:\n  repo: .\n  revision: HEAD\n  path: apps\n"))
        .write();
    lab.ok(&["up", "--timeout", "120s"]);
    let first = git_head(&dir);

    std::fs::write(
        dir.join("workloads/hello/cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: hello\ndata: { v: \"2\" }\n",
    )
    .unwrap();
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=Ada",
            "-c",
            "user.email=ada@example.com",
            "commit",
            "-qam",
            "v2",
        ])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(out.status.success());
    let second = git_head(&dir);

    // Argo CD polls hourly here: only the refresh `up` asks for can finish it in seconds.
    let t0 = Instant::now();
    let out = lab.run(&["up", "--yes", "--timeout", "60s", "-v"]);
    let stderr = harness::stderr(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(
        t0.elapsed() < Duration::from_secs(30),
        "{:?}\n{stderr}",
        t0.elapsed()
    );
    assert!(
        stderr.contains(&format!("at {}, waiting for {}", &first[..7], &second[..7])),
        "{stderr}"
    );
    assert!(stderr.contains("asked Argo CD to refresh"), "{stderr}");
    let client = harness::kube_client(&lab.kubeconfig()).await;
    let root = applications(&client).get("root").await.unwrap();
    assert_eq!(root.data["status"]["sync"]["revision"], second.as_str());
    // The child without automated sync is the user's: shown, not awaited.
    assert!(
        stderr.contains("app hello: manual (not awaited)"),
        "{stderr}"
    );
}

/// The Argo CD manifest cannot be downloaded (nothing listens there): the network failed, not
/// the lab file, so `up` exits 1, not 2 ("bad input"), and makes nothing.
#[test]
fn a_manifest_download_that_fails_on_the_network_exits_1_before_anything_is_made() {
    let lab = TestLab::new("mfnet");
    write_apps(lab.dir.path());
    playground::repo::git::init_with_commit(
        lab.dir.path(),
        "the lab",
        Some(("Ada", "ada@example.com")),
    )
    .unwrap();
    let port = harness::free_port();
    let lab = lab
        .yaml(&format!(
            "  manifest: https://127.0.0.1:{port}/install.yaml\ngitops:\n  repo: .\n  revision: HEAD\n  path: apps\n"
        ))
        .write();
    let out = lab.run(&["up"]);
    let err = harness::stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("downloading the Argo CD manifest"), "{err}");
    assert_eq!(harness::count_docker_objects(&lab.name), 0, "{err}");
}

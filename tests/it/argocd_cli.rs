//! `playground argocd`: the Argo CD CLI downloaded from a double of argocd-server that serves
//! `/download/argocd-linux-<arch>` (and `/api/version`, `/api/v1/session`), with a cache keyed
//! by the server version. The "CLI" is the double's own executable run as `argocd`: a real ELF
//! that checks its token with the server and reports its arguments and environment.
//!
//! In process first (the library against the HTTP double, no Docker), then end to end through
//! the binary on a stand-in lab, where the double answers on the NodePort the lab publishes.

use std::path::Path;
use std::process::Command;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Secret, Service};
use kube::api::{Api, PostParams};
use playground::argocd::cli::{self, ArgoCliError, Target, UreqHttp};
use playground::argocd::download::{self, Platform};
use serde_json::{Value, json};

use crate::support::double::argocd::{EXIT_ENV, REPORT_ENV};
use crate::support::double::{self, DoubleOptions};
use crate::support::harness;
use crate::support::harness::Bounded as _;

const PASSWORD: &str = "correct-horse-battery";

async fn create<K>(api: Api<K>, obj: Value)
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    let obj: K = serde_json::from_value(obj).unwrap();
    api.create(&PostParams::default(), &obj).await.unwrap();
}

/// The Secret argocd-server creates at its first start.
async fn create_admin_secret(client: &kube::Client, namespace: &str) {
    create(
        Api::<Secret>::namespaced(client.clone(), namespace),
        json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "argocd-initial-admin-secret", "namespace": namespace},
            "stringData": {"password": PASSWORD}
        }),
    )
    .await;
}

/// "Upgrade" Argo CD: the double reports the argocd-server image's tag as its version.
async fn set_server_image(client: &kube::Client, namespace: &str, tag: &str) {
    let api: Api<Deployment> = Api::namespaced(client.clone(), namespace);
    let mut d = api.get("argocd-server").await.unwrap();
    let pod = d.spec.as_mut().unwrap().template.spec.as_mut().unwrap();
    pod.containers[0].image = Some(format!("quay.io/argoproj/argocd:{tag}"));
    api.replace("argocd-server", &PostParams::default(), &d)
        .await
        .unwrap();
}

/// What the fake CLI wrote about its run.
fn report(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("the CLI wrote no report at {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_cli_comes_from_the_server_once_per_version_and_runs_logged_in() {
    let api = double::start(DoubleOptions::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(&kubeconfig, api.kubeconfig_yaml(&api.url())).unwrap();
    let client = harness::kube_client(&kubeconfig).await;
    let cli_file = harness::double_binary();
    let argo = double::argocd::serve(([127, 0, 0, 1], 0).into(), api.store(), cli_file.clone())
        .await
        .unwrap();
    let target = Target {
        lab: "inproc".into(),
        url: argo.url(),
        namespace: "argocd".into(),
    };
    let http = UreqHttp::new();
    let version = || tokio::task::block_in_place(|| cli::server_version(&http, &target));

    // Before Argo CD is installed nothing answers on the port.
    let e = version().unwrap_err();
    assert!(matches!(e, ArgoCliError::Unreachable { .. }), "{e}");
    assert!(
        playground::diag::Report(&e)
            .to_string()
            .contains("playground resume inproc"),
        "{e}"
    );

    create(
        Api::<Namespace>::all(client.clone()),
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "argocd"}}),
    )
    .await;
    create(
        Api::<Service>::namespaced(client.clone(), "argocd"),
        json!({"apiVersion": "v1", "kind": "Service",
               "metadata": {"name": "argocd-server", "namespace": "argocd"},
               "spec": {"type": "NodePort", "selector": {"app.kubernetes.io/name": "argocd-server"},
                        "ports": [{"name": "http", "port": 80, "targetPort": 8080, "nodePort": 30080}]}}),
    )
    .await;
    create(
        Api::<Deployment>::namespaced(client.clone(), "argocd"),
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
               "metadata": {"name": "argocd-server", "namespace": "argocd"},
               "spec": {"selector": {"matchLabels": {"app": "s"}},
                        "template": {"metadata": {"labels": {"app": "s"}},
                                     "spec": {"containers": [{"name": "argocd-server", "image": "quay.io/argoproj/argocd:v3.5.1"}]}}}}),
    )
    .await;
    create_admin_secret(&client, "argocd").await;
    assert_eq!(version().unwrap(), "v3.5.1+double");

    // First use downloads, the second finds the cache, a new server version downloads again.
    let cache = dir.path().join("cache");
    let platform = Platform::host().unwrap();
    let ensure = |v: &str| {
        tokio::task::block_in_place(|| {
            download::ensure(&cache, &argo.url(), v, platform, &http).unwrap()
        })
    };
    let first = ensure("v3.5.1+double");
    assert!(first.downloaded);
    assert_eq!(argo.downloads(), 1);
    assert_eq!(
        first.path,
        cache.join("playground/argocd/v3.5.1+double/argocd")
    );
    assert_eq!(
        std::fs::read(&first.path).unwrap(),
        std::fs::read(&cli_file).unwrap()
    );
    assert!(!ensure("v3.5.1+double").downloaded);
    assert_eq!(argo.downloads(), 1, "the second run uses the cache");

    set_server_image(&client, "argocd", "v3.6.0").await;
    assert_eq!(version().unwrap(), "v3.6.0+double");
    let upgraded = ensure("v3.6.0+double");
    assert!(upgraded.downloaded);
    assert_eq!(argo.downloads(), 2);
    assert_eq!(
        upgraded.path,
        cache.join("playground/argocd/v3.6.0+double/argocd")
    );
    assert!(first.path.exists(), "the old version's CLI stays cached");

    // A wrong password is refused by the server; the right one gives a token the CLI uses.
    let refused = tokio::task::block_in_place(|| cli::login(&http, &target, "nope"));
    let text = refused.unwrap_err().to_string();
    assert!(
        text.contains("HTTP 401: Invalid username or password"),
        "{text}"
    );
    let token = tokio::task::block_in_place(|| cli::login(&http, &target, PASSWORD)).unwrap();
    let args: Vec<String> = ["app", "get", "root", "--", "it's"]
        .map(str::to_string)
        .to_vec();
    let report_path = dir.path().join("report.json");
    let mut cmd = cli::command(
        &upgraded.path,
        &target,
        &token,
        &dir.path().join("argocd config"),
        &args,
    );
    cmd.env(REPORT_ENV, &report_path).env(EXIT_ENV, "5");
    assert_eq!(cli::run(cmd).await.unwrap(), 5);
    let r = report(&report_path);
    assert_eq!(strings(&r["args"]), args);
    assert_eq!(r["loggedIn"], true, "{r}");
    assert_eq!(r["username"], "admin");
    assert_eq!(r["token"], token.expose());
    assert_eq!(r["server"], target.server_addr());
    let cmdline = strings(&r["cmdline"]).join(" ");
    assert!(!cmdline.contains(token.expose()) && !cmdline.contains(PASSWORD));
    argo.stop();
    api.shutdown().await;
}

/// How many times the server-0 of `lab` served the CLI, from its log.
fn downloads(lab: &str) -> usize {
    let out = Command::new("docker")
        .args(["logs", &format!("playground-{lab}-server-0")])
        .bounded_output()
        .unwrap();
    let log =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    log.lines()
        .filter(|l| l.contains("GET /download/argocd-"))
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn argocd_runs_the_labs_own_cli_logged_in_with_args_verbatim() {
    let (lab, _) = crate::gitops_up::git_lab("argocdcli", "healthy");

    // A --cluster-only lab has no Argo CD to talk to.
    lab.ok(&["up", "--cluster-only", "--timeout", "120s"]);
    let out = lab.run(&["argocd", "--", "version"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("Argo CD is not installed in lab"),
        "{stderr}"
    );
    assert!(stderr.contains("--cluster-only"), "{stderr}");

    lab.ok(&["up", "--timeout", "120s"]);
    let client = harness::kube_client(&lab.kubeconfig()).await;
    create_admin_secret(&client, "argocd").await;
    let status: Value = serde_json::from_str(&lab.ok(&["status", "-o", "json"])).unwrap();
    let ui = status["ui"].as_str().unwrap().to_string();

    let report_path = lab.dir.path().join("report.json");
    let args = [
        "app",
        "list",
        "-o",
        "wide",
        "--selector",
        "team=a b",
        "--",
        "it's \"quoted\"",
        "",
    ];
    let run = |exit: &str, verbose: bool| {
        let mut c = lab.cmd(if verbose {
            &["-vv", "argocd", "--"][..]
        } else {
            &["argocd", "--"][..]
        });
        c.args(args)
            .env(REPORT_ENV, &report_path)
            .env(EXIT_ENV, exit);
        let out = c.output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        (out.status.code(), stdout, stderr)
    };

    // First run: downloaded, logged in, the CLI's exit status is ours, nothing secret shown
    // even with every log on.
    let (code, stdout, stderr) = run("3", true);
    assert_eq!(code, Some(3), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(
        stdout.contains("argocd (double) ran: app list -o wide"),
        "{stdout}"
    );
    assert!(
        stderr.contains("download the argocd CLI v3.5.1+double"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("error:"),
        "the CLI's failure is its own to report:\n{stderr}"
    );
    assert_eq!(downloads(&lab.name), 1);
    let cached = lab
        .home()
        .join(".cache/playground/argocd/v3.5.1+double/argocd");
    assert!(cached.is_file(), "{}", cached.display());

    let r = report(&report_path);
    assert_eq!(strings(&r["args"]), args, "ARGS reach the CLI verbatim");
    assert_eq!(r["loggedIn"], true, "{r}");
    assert_eq!(r["username"], "admin");
    assert_eq!(r["server"], ui.trim_start_matches("http://"));
    let opts = r["opts"].as_str().unwrap();
    assert!(opts.starts_with("--plaintext --config '"), "{opts}");
    assert!(
        opts.contains(&format!("playground/argocd/{}/config", lab.name)),
        "{opts}"
    );
    let token = r["token"].as_str().unwrap().to_string();
    assert!(!token.is_empty());
    let cmdline = strings(&r["cmdline"]);
    assert_eq!(&cmdline[1..], args, "argv holds ARGS and nothing else");
    for secret in [token.as_str(), PASSWORD] {
        assert!(!cmdline.iter().any(|a| a.contains(secret)), "{cmdline:?}");
        assert!(
            !stdout.contains(secret),
            "a secret reached stdout:\n{stdout}"
        );
        assert!(
            !stderr.contains(secret),
            "a secret reached stderr:\n{stderr}"
        );
    }

    // Second run: the cache answers.
    std::fs::remove_file(&report_path).unwrap();
    let (code, stdout, stderr) = run("0", false);
    assert_eq!(code, Some(0), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(!stderr.contains("download"), "{stderr}");
    assert_eq!(downloads(&lab.name), 1, "the second run uses the cache");
    assert_eq!(report(&report_path)["loggedIn"], true);

    // A new server version: another download, into another cache dir.
    set_server_image(&client, "argocd", "v3.6.0").await;
    let (code, _, stderr) = run("0", false);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains("download the argocd CLI v3.6.0+double"),
        "{stderr}"
    );
    assert_eq!(downloads(&lab.name), 2);
    assert!(
        lab.home()
            .join(".cache/playground/argocd/v3.6.0+double/argocd")
            .is_file()
    );
    assert!(cached.is_file(), "the old version's CLI stays cached");

    // Under a umask of 000 the cache folders and the CLI are still writable by us alone; a
    // cache someone else could write to is refused, never run.
    set_server_image(&client, "argocd", "v3.7.0").await;
    let out = lab
        .cmd_with_umask("000", &["argocd", "--", "version"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", harness::stderr(&out));
    let v37 = lab.home().join(".cache/playground/argocd/v3.7.0+double");
    let mode = |p: &Path| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    };
    assert_eq!(mode(&v37), 0o755);
    assert_eq!(mode(&v37.join("argocd")), 0o755);
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&v37, std::fs::Permissions::from_mode(0o777)).unwrap();
    }
    let out = lab.run(&["argocd", "--", "version"]);
    let stderr = harness::stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("writable by others"), "{stderr}");
    assert!(stderr.contains("refusing to run"), "{stderr}");
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("argocd (double) ran"),
        "the CLI was not run"
    );
    assert_eq!(downloads(&lab.name), 3, "nor downloaded again over it");

    // A word without `--` is taken for a lab name; the error says where ARGS go.
    let out = lab.run(&["argocd", "version"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("playground argocd -- version"), "{stderr}");

    // A suspended lab has no server to ask.
    lab.ok(&["suspend"]);
    let out = lab.run(&["argocd", "--", "version"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("is suspended"), "{stderr}");
    assert!(
        stderr.contains(&format!("playground resume {}", lab.name)),
        "{stderr}"
    );
}

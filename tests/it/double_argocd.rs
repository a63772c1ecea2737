//! The stand-in's Argo CD (`support/double/api/appcontroller.rs`) fails where Argo CD fails and
//! waits where Argo CD waits: each rule it encodes from upstream, held to that rule here, on
//! the seed's own chart and project (`tests/fixtures/seed/`).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::discovery::ApiResource;
use serde_json::{Value, json};

use crate::double_util::{Lab, eventually, start};
use crate::support::double::{AppOutcome, DoubleOptions, Simulation};

const NS: &str = "argocd";

fn crd(kind: &str, plural: &str) -> Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("{plural}.argoproj.io")},
        "spec": {
            "group": "argoproj.io", "scope": "Namespaced",
            "names": {"kind": kind, "listKind": format!("{kind}List"), "plural": plural, "singular": kind.to_lowercase()},
            "versions": [{"name": "v1alpha1", "served": true, "storage": true,
                          "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}],
        },
    })
}

fn resource(kind: &str, plural: &str) -> ApiResource {
    ApiResource {
        group: "argoproj.io".into(),
        version: "v1alpha1".into(),
        api_version: "argoproj.io/v1alpha1".into(),
        kind: kind.into(),
        plural: plural.into(),
    }
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(["-c", "user.name=Ada", "-c", "user.email=ada@example.com"])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A repository holding the seed's root chart under `argocd/` and a plain `apps/` folder with
/// one manual and one automated child, committed.
fn seed_repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let chart = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/seed/gitops-playground-apps/argocd");
    copy_dir(&chart, &dir.path().join("argocd"));
    std::fs::create_dir_all(dir.path().join("apps")).unwrap();
    std::fs::create_dir_all(dir.path().join("workloads/web")).unwrap();
    let child = |name: &str, policy: &str| {
        format!(
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: {name}\n  namespace: argocd\nspec:\n  project: default\n  source:\n    repoURL: file:///playground\n    path: workloads/web\n    targetRevision: HEAD\n  destination:\n    server: https://kubernetes.default.svc\n    namespace: web\n{policy}"
        )
    };
    std::fs::write(
        dir.path().join("apps/auto.yaml"),
        child("auto", "  syncPolicy:\n    automated: {}\n"),
    )
    .unwrap();
    std::fs::write(dir.path().join("apps/manual.yaml"), child("manual", "")).unwrap();
    std::fs::write(
        dir.path().join("workloads/web/cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\n",
    )
    .unwrap();
    git(dir.path(), &["init", "-q", "-b", "local"]);
    git(dir.path(), &["add", "-A"]);
    git(dir.path(), &["commit", "-qm", "seed"]);
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            copy_dir(&p, &to.join(e.file_name()));
        } else {
            std::fs::copy(&p, to.join(e.file_name())).unwrap();
        }
    }
}

struct Env {
    lab: Lab,
    apps: Api<DynamicObject>,
    projects: Api<DynamicObject>,
    client: kube::Client,
}

async fn env(repo: &Path, reconciliation: &str) -> Env {
    let lab = start(DoubleOptions {
        simulation: Simulation {
            delay: Duration::from_millis(100),
            app_delay: Duration::from_millis(100),
            apps: Some(AppOutcome::Healthy),
            repo_root: repo.to_path_buf(),
        },
        ..Default::default()
    })
    .await;
    let client = lab.client().await;
    crate::double_util::crd_and_namespace(&client, crd("Application", "applications"), NS).await;
    crate::double_util::crd_and_namespace(&client, crd("AppProject", "appprojects"), NS).await;
    let cms: Api<k8s_openapi::api::core::v1::ConfigMap> = Api::namespaced(client.clone(), NS);
    cms.patch(
        "argocd-cm",
        &PatchParams::apply("test"),
        &Patch::Apply(
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "argocd-cm"},
                              "data": {"timeout.reconciliation": reconciliation}}),
        ),
    )
    .await
    .unwrap();
    Env {
        apps: Api::namespaced_with(client.clone(), NS, &resource("Application", "applications")),
        projects: Api::namespaced_with(client.clone(), NS, &resource("AppProject", "appprojects")),
        lab,
        client,
    }
}

impl Env {
    async fn root(&self, project: &str, source_extra: Value, path: &str) {
        let mut source =
            json!({"repoURL": "file:///playground", "path": path, "targetRevision": "local"});
        source
            .as_object_mut()
            .unwrap()
            .extend(source_extra.as_object().unwrap().clone());
        let app = json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
            "metadata": {"name": "root", "namespace": NS},
            "spec": {"project": project, "source": source,
                     "destination": {"server": "https://kubernetes.default.svc", "namespace": NS},
                     "syncPolicy": {"automated": {"prune": true, "selfHeal": true}}},
        });
        self.apps
            .patch("root", &PatchParams::apply("test"), &Patch::Apply(app))
            .await
            .unwrap();
    }

    async fn status_where(&self, name: &str, what: &str, f: impl Fn(&Value) -> bool) -> Value {
        // A bound, not a timing: the stand-in's controller settles within a poll or two, but a
        // loaded 2-core runner can take several seconds more (seen once at 10 s).
        eventually(30, what, || async {
            let s = self.apps.get(name).await.ok()?.data["status"].clone();
            f(&s).then_some(s)
        })
        .await
    }

    async fn annotate(&self, name: &str, value: &str) {
        self.apps
            .patch(
                name,
                &PatchParams::default(),
                &Patch::Merge(
                    json!({"metadata": {"annotations": {"argocd.argoproj.io/refresh": value}}}),
                ),
            )
            .await
            .unwrap();
    }
}

fn condition(status: &Value) -> (String, String) {
    let c = &status["conditions"][0];
    (
        c["type"].as_str().unwrap_or_default().to_string(),
        c["message"].as_str().unwrap_or_default().to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_directory_root_over_the_seeds_chart_fails_as_argo_cd_fails() {
    let repo = seed_repo();
    let e = env(repo.path(), "1h").await;
    e.root("default", json!({"directory": {"recurse": true}}), "argocd")
        .await;
    // Inside the controller's grace period a repo error is held back (controller/state.go):
    // no condition, nothing synced.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let early = e.apps.get("root").await.unwrap().data["status"].clone();
    assert!(early["conditions"].is_null(), "{early}");
    assert_ne!(early["sync"]["status"], "Synced", "{early}");
    // A hard refresh surfaces it at once, as Argo CD's does.
    e.annotate("root", "hard").await;
    let s = e
        .status_where("root", "the ComparisonError", |s| {
            s["conditions"].is_array()
        })
        .await;
    let (kind, message) = condition(&s);
    assert_eq!(kind, "ComparisonError");
    assert!(
        message.starts_with("Failed to load target state: failed to generate manifest for source 1 of 1: rpc error: code = FailedPrecondition desc = Failed to unmarshal \"applications.yaml\": failed to unmarshal manifest:"),
        "{message}"
    );
    assert_eq!(s["sync"]["status"], "Unknown");
    // The controller removed the refresh annotation once it was done.
    let root = e.apps.get("root").await.unwrap();
    assert!(
        !root
            .metadata
            .annotations
            .unwrap_or_default()
            .contains_key("argocd.argoproj.io/refresh")
    );
    e.lab.double.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_root_waits_for_its_project_and_a_project_that_permits_its_repo() {
    let repo = seed_repo();
    let e = env(repo.path(), "1h").await;
    e.root(
        "playground-project",
        json!({"helm": {"valueFiles": ["local.yaml"]}}),
        "argocd",
    )
    .await;
    let s = e
        .status_where("root", "InvalidSpecError", |s| s["conditions"].is_array())
        .await;
    assert_eq!(
        condition(&s),
        (
            "InvalidSpecError".to_string(),
            "Application referencing project playground-project which does not exist".to_string()
        )
    );
    assert_eq!(
        (s["sync"]["status"].as_str(), s["health"]["status"].as_str()),
        (Some("Unknown"), Some("Unknown"))
    );

    // The seed's own project lists only its GitHub URLs.
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/seed/project.yaml"),
    )
    .unwrap();
    let mut project: Value = serde_saphyr::from_str(&text).unwrap();
    e.projects
        .patch(
            "playground-project",
            &PatchParams::apply("test"),
            &Patch::Apply(project.clone()),
        )
        .await
        .unwrap();
    let s = e
        .status_where("root", "the sourceRepos refusal", |s| {
            condition(s).1.contains("not permitted")
        })
        .await;
    assert_eq!(
        condition(&s).1,
        "application repo file:///playground is not permitted in project 'playground-project'"
    );
    // Permitting the lab's URL is what the seed lab's own project does: the root syncs.
    project["spec"]["sourceRepos"]
        .as_array_mut()
        .unwrap()
        .push(json!("file:///playground"));
    e.projects
        .patch(
            "playground-project",
            &PatchParams::apply("test").force(),
            &Patch::Apply(project),
        )
        .await
        .unwrap();
    let s = e
        .status_where("root", "Synced/Healthy", |s| {
            s["health"]["status"] == "Healthy"
        })
        .await;
    assert_eq!(s["sync"]["status"], "Synced");
    assert_eq!(s["sourceType"], "Helm");
    assert!(s["conditions"].is_null(), "{s}");
    e.lab.double.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_root_applies_its_children_and_a_manual_one_is_never_synced() {
    let repo = seed_repo();
    let e = env(repo.path(), "1h").await;
    e.root("default", json!({"directory": {"recurse": true}}), "apps")
        .await;
    let s = e
        .status_where("root", "the root synced", |s| {
            s["health"]["status"] == "Healthy"
        })
        .await;
    let listed: Vec<&str> = s["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert_eq!(listed, ["auto", "manual"]);
    let auto = e
        .status_where("auto", "auto synced", |s| {
            s["health"]["status"] == "Healthy"
        })
        .await;
    assert_eq!(auto["sync"]["status"], "Synced");
    let child = e.apps.get("manual").await.unwrap();
    assert_eq!(
        child.metadata.annotations.unwrap()["argocd.argoproj.io/tracking-id"],
        "root:argoproj.io/Application:argocd/manual"
    );
    // The manual app is compared, never synced: its ConfigMap is not applied, and it stays so
    // past the poll that compared it.
    e.status_where("manual", "manual compared", |s| {
        !s["sync"]["status"].is_null()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let manual = e.apps.get("manual").await.unwrap().data["status"].clone();
    assert_eq!(
        (
            manual["sync"]["status"].as_str(),
            manual["health"]["status"].as_str()
        ),
        (Some("OutOfSync"), Some("Missing")),
        "{manual}"
    );
    let cms: Api<k8s_openapi::api::core::v1::ConfigMap> = Api::namespaced(e.client.clone(), "web");
    // The automated sibling applied it; the manual app lists it as OutOfSync.
    assert!(cms.get("web").await.is_ok());
    assert_eq!(manual["resources"][0]["status"], "OutOfSync");
    e.lab.double.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_commit_is_seen_at_the_poll_or_at_once_on_a_refresh() {
    let repo = seed_repo();
    let first = git(repo.path(), &["rev-parse", "HEAD"]);
    // A long poll: only a refresh brings the new commit in seconds.
    let e = env(repo.path(), "1h").await;
    e.root("default", json!({}), "apps").await;
    e.status_where("root", "first commit", |s| {
        s["sync"]["revision"] == first.as_str()
    })
    .await;
    std::fs::write(repo.path().join("apps/extra.txt"), "x").unwrap();
    git(repo.path(), &["add", "-A"]);
    git(repo.path(), &["commit", "-qm", "second"]);
    let second = git(repo.path(), &["rev-parse", "HEAD"]);
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        e.apps.get("root").await.unwrap().data["status"]["sync"]["revision"],
        first.as_str()
    );
    let t0 = Instant::now();
    e.annotate("root", "normal").await;
    e.status_where("root", "second commit", |s| {
        s["sync"]["revision"] == second.as_str()
    })
    .await;
    assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
    e.lab.double.shutdown().await;

    // A short poll finds a third commit on its own.
    let e = env(repo.path(), "1s").await;
    e.root("default", json!({}), "apps").await;
    e.status_where("root", "second commit", |s| {
        s["sync"]["revision"] == second.as_str()
    })
    .await;
    std::fs::write(repo.path().join("apps/extra.txt"), "y").unwrap();
    git(repo.path(), &["commit", "-qam", "third"]);
    let third = git(repo.path(), &["rev-parse", "HEAD"]);
    e.status_where("root", "the poll to find the third commit", |s| {
        s["sync"]["revision"] == third.as_str()
    })
    .await;
    e.lab.double.shutdown().await;
}

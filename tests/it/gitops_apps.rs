//! `argocd::apps`, `argocd::status` and `argocd::refresh` against the API double: the wait
//! over one watch, the status tree (JSON and text), and the refresh annotation.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use kube::api::{Api, DynamicObject, Patch, PatchParams};
use playground::argocd::apps::{AppState, AppsError, application_resource, wait_lab_ready};
use playground::argocd::refresh::{REFRESH_ANNOTATION, RefreshError, refresh};
use playground::argocd::status::{AppTree, app_tree, build_tree};
use playground::kube::api::KubeApi;
use playground::repo::CommitInfo;
use playground::ui::{Mode, Ui};
use serde_json::{Value, json};

use crate::double_util::{Lab, start};
use crate::support::double::{AppOutcome, DoubleOptions, Simulation};

const NS: &str = "argocd";
const REPO: &str = "https://git.example/lab.git";
const OTHER_REPO: &str = "https://charts.example/other.git";
const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

/// The Application CRD, the first document of the pinned Argo CD install manifest.
fn application_crd() -> &'static Value {
    static CRD: OnceLock<Value> = OnceLock::new();
    CRD.get_or_init(|| {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/argocd-install-v3.5.1.yaml"
        ))
        .unwrap();
        let first = text.split("\n---\n").next().unwrap();
        let crd: Value = serde_saphyr::from_str(first).unwrap();
        assert_eq!(crd["metadata"]["name"], "applications.argoproj.io");
        crd
    })
}

struct Env {
    lab: Lab,
    api: KubeApi,
    apps: Api<DynamicObject>,
}

async fn env(apps: Option<AppOutcome>, delay: Duration) -> Env {
    let lab = start(DoubleOptions {
        simulation: Simulation {
            delay,
            app_delay: delay,
            apps,
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    let client = lab.client().await;
    crate::double_util::crd_and_namespace(&client, application_crd().clone(), NS).await;
    let api = KubeApi::from_kubeconfig_yaml(&lab.double.kubeconfig_yaml(&lab.double.url()))
        .await
        .unwrap();
    let apps = Api::namespaced_with(client, NS, &application_resource());
    Env { lab, api, apps }
}

impl Env {
    async fn create(&self, name: &str, path: &str, rev: &str, meta: Value) {
        self.create_in(REPO, name, path, rev, meta).await
    }

    async fn create_in(&self, repo: &str, name: &str, path: &str, rev: &str, meta: Value) {
        let mut metadata = json!({"name": name, "namespace": NS});
        if let (Some(m), Some(extra)) = (metadata.as_object_mut(), meta.as_object()) {
            m.extend(extra.clone());
        }
        let app = json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": metadata,
            "spec": {"project": "default",
                     "source": {"repoURL": repo, "path": path, "targetRevision": rev},
                     "destination": {"server": "https://kubernetes.default.svc", "namespace": name},
                     // Argo CD syncs an app on its own only with an automated policy.
                     "syncPolicy": {"automated": {"prune": true, "selfHeal": true}}},
        });
        self.apps
            .patch(name, &PatchParams::apply("test"), &Patch::Apply(app))
            .await
            .unwrap();
    }

    /// Merge `status` into the app's status, as Argo CD's controller would: the Application
    /// CRD has no status subresource (`subresources: {}`), so status is written through the
    /// object itself.
    async fn status(&self, name: &str, status: Value) {
        self.apps
            .patch(
                name,
                &PatchParams::default(),
                &Patch::Merge(json!({ "status": status })),
            )
            .await
            .unwrap();
    }

    async fn list_children(&self, name: &str, children: &[&str]) {
        let mut resources: Vec<Value> = children
            .iter()
            .map(|c| json!({"group": "argoproj.io", "version": "v1alpha1", "kind": "Application", "namespace": NS, "name": c, "status": "Synced"}))
            .collect();
        resources.push(json!({"group": "apps", "version": "v1", "kind": "Deployment", "namespace": "web", "name": "web"}));
        self.status(name, json!({ "resources": resources })).await;
    }

    /// Requests served from index `from` on, excluding the test's own writes.
    fn requests_since(&self, from: usize) -> Vec<String> {
        self.lab.double.requests()[from..].to_vec()
    }
}

fn quiet() -> Ui {
    Ui::with_mode(Mode::Quiet)
}

fn deadline(secs: f64) -> tokio::time::Instant {
    tokio::time::Instant::now() + Duration::from_secs_f64(secs)
}

/// The wait's requests: exactly one list and one watch of the Applications, and no GET of a
/// single Application (which would mean polling).
fn assert_one_watch(reqs: &[String]) {
    let (mut lists, mut watches, mut gets) = (0, 0, 0);
    for r in reqs {
        let (method, uri) = r.split_once(' ').unwrap_or(("", r));
        let (path, query) = uri.split_once('?').unwrap_or((uri, ""));
        if path.ends_with("/applications") && method == "GET" {
            if query.contains("watch=true") {
                watches += 1;
            } else {
                lists += 1;
            }
        } else if path.contains("/applications/") {
            gets += 1;
        }
    }
    assert_eq!((lists, watches, gets), (1, 1, 0), "requests: {reqs:#?}");
}

fn names(apps: &[AppState]) -> Vec<&str> {
    apps.iter().map(|a| a.name.as_str()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn app_of_apps_goes_from_progressing_to_healthy() {
    // Progressing lasts the delay: long enough that a starved test thread still sees it.
    let e = env(Some(AppOutcome::Healthy), Duration::from_millis(2000)).await;
    e.create("root", "apps", SHA, json!({})).await;
    e.create("child-a", "apps/a", SHA, json!({})).await;
    e.create("child-b", "apps/b", SHA, json!({})).await;
    e.list_children("root", &["child-a", "child-b"]).await;
    // Read the store directly (no request): the simulated controller first reports
    // OutOfSync/Progressing, and only after its delay the outcome.
    let started = Instant::now();
    loop {
        let root = e
            .lab
            .double
            .object("argoproj.io", "applications", NS, "root");
        let status = &root.as_ref().unwrap()["status"];
        if status["health"]["status"] == "Progressing" {
            assert_eq!(status["sync"]["status"], "OutOfSync");
            break;
        }
        assert!(status["health"]["status"].is_null(), "{status}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "never Progressing"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let from = e.lab.double.requests().len();
    let t0 = Instant::now();
    let ready = wait_lab_ready(
        &e.api,
        NS,
        "root",
        Some(&SHA[..7]),
        deadline(10.0),
        &Ui::with_mode(Mode::Plain),
    )
    .await
    .unwrap();
    assert!(t0.elapsed() < Duration::from_secs(8));
    assert_eq!(names(&ready), vec!["root", "child-a", "child-b"]);
    for a in &ready {
        assert_eq!((a.sync.as_str(), a.health.as_str()), ("Synced", "Healthy"));
        assert_eq!(a.revision, SHA);
    }
    assert_eq!(
        ready[0].children,
        Some(vec!["child-a".into(), "child-b".into()])
    );
    assert_one_watch(&e.requests_since(from));
    e.lab.double.shutdown().await;
}

async fn failing_wait(outcome: AppOutcome) -> String {
    let e = env(Some(outcome), Duration::from_millis(100)).await;
    e.create("root", "apps", "main", json!({})).await;
    e.create("child-a", "apps/a", "main", json!({})).await;
    e.list_children("root", &["child-a"]).await;
    let t0 = Instant::now();
    let err = wait_lab_ready(&e.api, NS, "root", None, deadline(1.5), &quiet())
        .await
        .unwrap_err();
    assert!(
        t0.elapsed() >= Duration::from_millis(1400),
        "failed before the deadline: {err}"
    );
    assert!(matches!(err, AppsError::NotReady { .. }));
    e.lab.double.shutdown().await;
    playground::diag::Report(&err).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn degraded_fails_at_the_deadline_with_the_message() {
    let text = failing_wait(AppOutcome::Degraded).await;
    assert!(
        text.contains("root: health is Degraded (sync Synced, health Degraded)"),
        "{text}"
    );
    assert!(text.contains("child-a: health is Degraded"), "{text}");
    assert!(text.contains("exceeded its progress deadline"), "{text}");
    assert!(text.contains("hint: `playground status`"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_sync_fails_at_the_deadline_with_the_condition() {
    let text = failing_wait(AppOutcome::OutOfSync).await;
    assert!(
        text.contains("child-a: sync is OutOfSync (sync OutOfSync, health Healthy)"),
        "{text}"
    );
    assert!(
        text.contains("SyncError: live state differs from the desired state in Git"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revision_mismatch_is_not_ready() {
    let e = env(Some(AppOutcome::Healthy), Duration::from_millis(100)).await;
    e.create("root", "apps", "main", json!({})).await;
    e.list_children("root", &[]).await;
    let err = wait_lab_ready(&e.api, NS, "root", Some("fedcba9"), deadline(1.0), &quiet())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("root: synced to revision main but fedcba9 is expected"),
        "{err}"
    );
    // The same app is ready without the expectation.
    let ok = wait_lab_ready(&e.api, NS, "root", None, deadline(5.0), &quiet())
        .await
        .unwrap();
    assert_eq!(names(&ok), vec!["root"]);
    e.lab.double.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_child_created_late_is_picked_up_by_the_same_watch() {
    let e = env(Some(AppOutcome::Healthy), Duration::from_millis(100)).await;
    e.create("root", "apps", "main", json!({})).await;
    e.create("child-a", "apps/a", "main", json!({})).await;
    e.list_children("root", &["child-a", "child-late"]).await;
    let from = e.lab.double.requests().len();
    let (api, ui) = (e.api.clone(), quiet());
    let wait = tokio::spawn(async move {
        wait_lab_ready(&api, NS, "root", Some("main"), deadline(10.0), &ui).await
    });
    // Everything but the missing child converges well within this.
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(!wait.is_finished(), "ready while child-late does not exist");
    e.create("child-late", "apps/late", "main", json!({})).await;
    let ready = tokio::time::timeout(Duration::from_secs(5), wait)
        .await
        .expect("the wait ends once child-late is healthy")
        .unwrap()
        .unwrap();
    assert_eq!(names(&ready), vec!["root", "child-a", "child-late"]);
    // Only the test's own create is not the wait's.
    let reqs: Vec<String> = e
        .requests_since(from)
        .into_iter()
        .filter(|r| !r.starts_with("PATCH "))
        .collect();
    assert_one_watch(&reqs);
    e.lab.double.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_root_missing_is_reported_at_the_deadline() {
    let e = env(Some(AppOutcome::Healthy), Duration::from_millis(100)).await;
    let err = wait_lab_ready(&e.api, NS, "root", None, deadline(0.8), &quiet())
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("root: does not exist (yet)"), "{err}");
    e.lab.double.shutdown().await;
}

// ---- status ---------------------------------------------------------------------------

const NOW: i64 = 1_800_000_000;

fn commit(path: &str) -> Option<CommitInfo> {
    let (hash, author, ago, subject) = match path {
        "apps" => (
            "aaaaaaa111111111111111111111111111111111",
            "Ada Lovelace",
            3 * 3600 + 120,
            "Add the apps",
        ),
        "apps/a" => (
            "bbbbbbb222222222222222222222222222222222",
            "Grace Hopper",
            2 * 86400,
            "Bump web to 1.2 and rewrite its probes so they stop flapping under load",
        ),
        "apps/a/one" => (
            "ccccccc333333333333333333333333333333333",
            "Ada Lovelace",
            45,
            "One",
        ),
        _ => return None,
    };
    Some(CommitInfo {
        hash: hash.into(),
        short: hash[..7].into(),
        author: author.into(),
        time: NOW - ago,
        subject: subject.into(),
    })
}

/// root → a (→ a-one, by tracking annotation), b, c (Degraded); stray is unrelated.
async fn scripted_tree(e: &Env) {
    let synced = |rev: &str| json!({"sync": {"status": "Synced", "revision": rev}, "health": {"status": "Healthy"}});
    e.create("root", "apps", "HEAD", json!({})).await;
    e.create("c", "apps/c", "HEAD", json!({})).await;
    e.create("b", "apps/b", "HEAD", json!({})).await;
    e.create("a", "apps/a", "HEAD", json!({})).await;
    e.create(
        "a-one",
        "apps/a/one",
        "HEAD",
        json!({"annotations": {"argocd.argoproj.io/tracking-id": "a:argoproj.io/Application:argocd/a-one"}}),
    )
    .await;
    e.create_in(OTHER_REPO, "stray", "elsewhere", "v1", json!({}))
        .await;
    for (name, rev) in [
        ("root", SHA),
        ("a", SHA),
        ("b", SHA),
        ("a-one", SHA),
        ("stray", "v1"),
    ] {
        e.status(name, synced(rev)).await;
    }
    e.status(
        "c",
        json!({"sync": {"status": "Synced", "revision": SHA},
               "health": {"status": "Degraded", "message": "Deployment \"c\" exceeded its progress deadline"}}),
    )
    .await;
    e.list_children("root", &["a", "b", "c"]).await;
    e.list_children("a", &[]).await;
}

fn node(
    name: &str,
    sync: &str,
    health: &str,
    path: &str,
    rev: &str,
    commit: Value,
    children: Vec<Value>,
) -> Value {
    json!({
        "name": name, "sync": sync, "health": health, "message": null, "revision": rev,
        "repoURL": REPO, "path": path, "targetRevision": "HEAD", "lastCommit": commit, "autoSync": true,
        "destination": "in-cluster", "destinationServer": "https://kubernetes.default.svc",
        "children": children,
    })
}

fn commit_json(path: &str) -> Value {
    serde_json::to_value(commit(path)).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_tree_as_json_and_text() {
    let e = env(None, Duration::from_millis(100)).await;
    scripted_tree(&e).await;
    let from = e.lab.double.requests().len();
    let asked = std::cell::RefCell::new(Vec::new());
    let lookup = |p: &str| {
        asked.borrow_mut().push(p.to_string());
        commit(p)
    };
    let tree = app_tree(&e.api, NS, "root", &lookup).await.unwrap();
    assert_eq!(e.requests_since(from).len(), 1, "one list request");
    // The stray app comes from another repo: no lookup for it.
    let mut asked = asked.into_inner();
    asked.sort();
    assert_eq!(
        asked,
        vec!["apps", "apps/a", "apps/a/one", "apps/b", "apps/c"]
    );

    let mut c = node(
        "c",
        "Synced",
        "Degraded",
        "apps/c",
        SHA,
        Value::Null,
        vec![],
    );
    c["message"] = json!("Deployment \"c\" exceeded its progress deadline");
    let mut stray = node(
        "stray",
        "Synced",
        "Healthy",
        "elsewhere",
        "v1",
        Value::Null,
        vec![],
    );
    stray["targetRevision"] = json!("v1");
    stray["repoURL"] = json!(OTHER_REPO);
    let expected = json!({
        "namespace": "argocd",
        "root": node("root", "Synced", "Healthy", "apps", SHA, commit_json("apps"), vec![
            node("a", "Synced", "Healthy", "apps/a", SHA, commit_json("apps/a"), vec![
                node("a-one", "Synced", "Healthy", "apps/a/one", SHA, commit_json("apps/a/one"), vec![]),
            ]),
            node("b", "Synced", "Healthy", "apps/b", SHA, Value::Null, vec![]),
            c,
        ]),
        "other": [stray],
    });
    assert_eq!(tree.to_json(), expected);
    // Key order as serialised (what `jq` users see).
    let text = serde_json::to_string(&tree).unwrap();
    assert!(text.starts_with(r#"{"namespace":"argocd","root":{"name":"root","sync":"Synced","health":"Healthy","message":null,"revision":"0123456789abcdef0123456789abcdef01234567","repoURL":"https://git.example/lab.git","path":"apps","targetRevision":"HEAD","lastCommit":{"hash":"aaaaaaa111111111111111111111111111111111","short":"aaaaaaa","author":"Ada Lovelace","time":1799989080,"subject":"Add the apps"},"autoSync":true,"destination":"in-cluster","destinationServer":"https://kubernetes.default.svc","children":[{"name":"a""#), "{text}");

    let golden = "\
APP          SYNC    HEALTH    CLUSTER     REVISION  COMMIT   AUTHOR        WHEN     SUBJECT
root         Synced  Healthy   in-cluster  0123456   aaaaaaa  Ada Lovelace  3h ago   Add the apps
├─ a         Synced  Healthy   in-cluster  0123456   bbbbbbb  Grace Hopper  2d ago   Bump web to 1.2 and rewrite its probes so they st…
│  └─ a-one  Synced  Healthy   in-cluster  0123456   ccccccc  Ada Lovelace  45s ago  One
├─ b         Synced  Healthy   in-cluster  0123456   -        -             -        -
└─ c         Synced  Degraded  in-cluster  0123456   -        -             -        -
     ! Deployment \"c\" exceeded its progress deadline
other
  stray      Synced  Healthy   in-cluster  v1        -        -             -        -
";
    assert_eq!(tree.render_text(NOW), golden, "\n{}", tree.render_text(NOW));
    e.lab.double.shutdown().await;
}

#[test]
fn status_over_a_thousand_apps_is_fast() {
    // root → 40 children → 23 grandchildren each, plus 39 unrelated: 1,000 apps.
    let mut apps = Vec::new();
    let app = |name: String, path: String, children: Option<Vec<String>>| AppState {
        name,
        namespace: NS.into(),
        project: "default".into(),
        source: playground::argocd::apps::AppSource {
            repo_url: REPO.into(),
            path,
            target_revision: "HEAD".into(),
        },
        sync: "Synced".into(),
        revision: SHA.into(),
        health: "Healthy".into(),
        children,
        ..Default::default()
    };
    let kids: Vec<String> = (0..40).map(|i| format!("team-{i:02}")).collect();
    apps.push(app("root".into(), "apps".into(), Some(kids.clone())));
    for k in &kids {
        let grand: Vec<String> = (0..23).map(|j| format!("{k}-svc-{j:02}")).collect();
        apps.push(app(k.clone(), format!("apps/{k}"), Some(grand.clone())));
        for g in grand {
            apps.push(app(g.clone(), format!("apps/{k}/{g}"), Some(vec![])));
        }
    }
    for i in 0..39 {
        apps.push(app(format!("zz-other-{i}"), format!("other/{i}"), None));
    }
    assert_eq!(apps.len(), 1000);
    let t0 = Instant::now();
    let lookup = |p: &str| commit("apps").filter(|_| p.len().is_multiple_of(2));
    let tree: AppTree = build_tree(NS, apps, "root", &lookup);
    let text = tree.render_text(NOW);
    let json = serde_json::to_string(&tree).unwrap();
    let elapsed = t0.elapsed();
    assert_eq!(tree.iter().count(), 1000);
    assert_eq!(tree.other.len(), 39);
    assert_eq!(text.lines().count(), 1 + 1000 + 1);
    assert!(json.len() > 100_000);
    // A bound that catches a quadratic walk, loose enough for a debug build on a busy runner.
    assert!(elapsed < Duration::from_secs(5), "took {elapsed:?}");
}

// ---- refresh --------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_sets_the_annotation() {
    let e = env(None, Duration::from_millis(100)).await;
    e.create(
        "root",
        "apps",
        "HEAD",
        json!({"annotations": {"keep": "me"}}),
    )
    .await;
    e.create("web", "apps/web", "HEAD", json!({})).await;
    let annotations = |name: &str| {
        e.lab
            .double
            .object("argoproj.io", "applications", NS, name)
            .unwrap()["metadata"]["annotations"]
            .clone()
    };
    assert_eq!(refresh(&e.api, NS, None, false).await.unwrap(), "root");
    assert_eq!(annotations("root")[REFRESH_ANNOTATION], "normal");
    assert_eq!(
        annotations("root")["keep"],
        "me",
        "a merge patch keeps the rest"
    );
    assert_eq!(refresh(&e.api, NS, Some("web"), true).await.unwrap(), "web");
    assert_eq!(annotations("web")[REFRESH_ANNOTATION], "hard");
    let err = refresh(&e.api, NS, Some("nope"), false).await.unwrap_err();
    assert!(matches!(err, RefreshError::NotFound { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("no Application nope in namespace argocd")
    );
    e.lab.double.shutdown().await;
}

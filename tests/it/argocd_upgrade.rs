//! Argo CD upgraded in place: a lab installed with v3.4.7 is moved to v3.5.1 by changing its
//! file and `up --yes`, on the stand-in (the real manifests applied to the API double).

use std::path::Path;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::api::rbac::v1::ClusterRole;
use kube::api::{Api, DynamicObject, PostParams};
use kube::discovery::ApiResource;

use super::gitops_up::{applications, fixture, write_apps};
use crate::support::harness::{self, TestLab};

/// What only the "old" release has. v3.4.7 and v3.5.1 ship the same 59 objects (same
/// group, kind and name; checked by `argocd::upgrade`'s unit tests), so the test adds these
/// to a temp copy of the v3.4.7 fixture: one namespaced, one cluster-scoped, and a Secret,
/// which an upgrade never deletes.
const OLD_ONLY: &str = "playground-test-v347-only";

fn old_manifest(dir: &Path) -> String {
    let release =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/argocd-install-v3.4.7.yaml");
    let mut text = std::fs::read_to_string(release).unwrap();
    text.push_str(&format!(
        "\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {OLD_ONLY}\ndata:\n  release: v3.4.7\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: {OLD_ONLY}\nrules: []\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: {OLD_ONLY}\nstringData:\n  kept: \"yes\"\n"
    ));
    let path = dir.join("install-v3.4.7-with-markers.yaml");
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

fn argocd_lines(version: &str, manifest: Option<&str>) -> String {
    match manifest {
        Some(m) => format!("  version: {version}\n  manifest: {m}\n"),
        None => format!("  version: {version}\n"),
    }
}

/// Swap the lab file's `argocd.version`/`argocd.manifest` lines.
fn set_argocd(lab: &TestLab, from: &str, to: &str) {
    let text = std::fs::read_to_string(lab.file()).unwrap();
    assert!(text.contains(from), "{text}");
    std::fs::write(lab.file(), text.replace(from, to)).unwrap();
}

fn output(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn server_image(d: &Deployment) -> String {
    d.spec
        .as_ref()
        .unwrap()
        .template
        .spec
        .as_ref()
        .unwrap()
        .containers[0]
        .image
        .clone()
        .unwrap()
}

fn record(lab: &TestLab) -> serde_json::Value {
    let path = lab
        .home()
        .join(".local/share/playground")
        .join(&lab.name)
        .join("state.yaml");
    serde_saphyr::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn recorded_names(record: &serde_json::Value) -> Vec<String> {
    record["argocd"]["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn changing_argocd_version_upgrades_in_place_and_keeps_apps_projects_and_secrets() {
    let markers = tempfile::tempdir().unwrap();
    let old = old_manifest(markers.path());
    let lab = TestLab::new("upgrade");
    let dir = lab.dir.path().to_path_buf();
    write_apps(&dir);
    let commit =
        playground::repo::git::init_with_commit(&dir, "the lab", Some(("Ada", "ada@example.com")))
            .unwrap();
    let old_lines = argocd_lines("v3.4.7", Some(&old));
    let lab = lab
        .cluster_yaml(&format!(
            "  env: [\"PLAYGROUND_DOUBLE_APPS=healthy@server:0\", \"PLAYGROUND_DOUBLE_REVISION={commit}@server:0\", \"PLAYGROUND_DOUBLE_DELAY_MS=300@server:0\"]\n"
        ))
        .yaml(&format!(
            "{old_lines}gitops:\n  repo: .\n  revision: HEAD\n  path: apps\n"
        ))
        .write();

    // v3.4.7, with its markers, recorded.
    lab.ok(&["up", "--timeout", "120s"]);
    let client = harness::kube_client(&lab.kubeconfig()).await;
    let deployments = Api::<Deployment>::namespaced(client.clone(), "argocd");
    let configmaps = Api::<ConfigMap>::namespaced(client.clone(), "argocd");
    let secrets = Api::<Secret>::namespaced(client.clone(), "argocd");
    let cluster_roles = Api::<ClusterRole>::all(client.clone());
    assert_eq!(
        server_image(&deployments.get("argocd-server").await.unwrap()),
        "quay.io/argoproj/argocd:v3.4.7"
    );
    assert!(configmaps.get_opt(OLD_ONLY).await.unwrap().is_some());
    assert!(cluster_roles.get_opt(OLD_ONLY).await.unwrap().is_some());
    let rec = record(&lab);
    assert_eq!(rec["argocd"]["version"], "v3.4.7", "{rec}");
    assert_eq!(rec["argocd"]["namespace"], "argocd", "{rec}");
    assert!(
        recorded_names(&rec).contains(&OLD_ONLY.to_string()),
        "{rec}"
    );
    let status = harness::document(&lab.ok(&["status", "-o", "json"]), "LabStatus");
    assert_eq!(status["argocd"]["version"], "v3.4.7", "{status}");
    assert_eq!(status["argocd"]["source"], "image", "{status}");

    // What the user made in Argo CD meanwhile: an Application, an AppProject, a repository
    // Secret; and the admin password argocd-server would have written.
    let project_api = ApiResource {
        group: "argoproj.io".into(),
        version: "v1alpha1".into(),
        api_version: "argoproj.io/v1alpha1".into(),
        kind: "AppProject".into(),
        plural: "appprojects".into(),
    };
    let projects: Api<DynamicObject> = Api::namespaced_with(client.clone(), "argocd", &project_api);
    let project: DynamicObject = serde_json::from_value(serde_json::json!({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "AppProject",
        "metadata": {"name": "team", "namespace": "argocd"},
        "spec": {"sourceRepos": ["*"], "destinations": [{"server": "*", "namespace": "*"}]}
    }))
    .unwrap();
    projects
        .create(&PostParams::default(), &project)
        .await
        .unwrap();
    let app: DynamicObject = serde_json::from_value(serde_json::json!({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
        "metadata": {"name": "kept-app", "namespace": "argocd"},
        "spec": {
            "project": "team",
            "source": {"repoURL": "file:///playground", "path": "workloads/hello", "targetRevision": "HEAD"},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": "hello"}
        }
    }))
    .unwrap();
    applications(&client)
        .create(&PostParams::default(), &app)
        .await
        .unwrap();
    for (name, labels, data) in [
        (
            "repo-kept",
            serde_json::json!({"argocd.argoproj.io/secret-type": "repository"}),
            serde_json::json!({"url": "https://example.com/kept.git", "type": "git"}),
        ),
        (
            "argocd-initial-admin-secret",
            serde_json::json!({}),
            serde_json::json!({"password": "correct-horse"}),
        ),
    ] {
        let secret: Secret = serde_json::from_value(serde_json::json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": name, "namespace": "argocd", "labels": labels},
            "stringData": data
        }))
        .unwrap();
        secrets
            .create(&PostParams::default(), &secret)
            .await
            .unwrap();
    }

    // The file now asks for v3.5.1: the dry run shows the change and changes nothing.
    let new_lines = argocd_lines("v3.5.1", Some(&fixture()));
    set_argocd(&lab, &old_lines, &new_lines);
    let dry = lab.run(&["up", "--dry-run"]);
    let text = output(&dry);
    assert!(dry.status.success(), "{text}");
    assert!(text.contains("argocd v3.4.7 → v3.5.1"), "{text}");
    assert!(!text.contains("downgrade"), "{text}");
    // Without a terminal and without --yes: refused, with the diff, and nothing touched.
    let refused = lab.run(&["up", "--timeout", "120s"]);
    let text = output(&refused);
    assert_eq!(refused.status.code(), Some(2), "{text}");
    assert!(text.contains("argocd v3.4.7 → v3.5.1"), "{text}");
    assert!(text.contains("--yes"), "{text}");
    assert_eq!(
        server_image(&deployments.get("argocd-server").await.unwrap()),
        "quay.io/argoproj/argocd:v3.4.7"
    );
    assert!(configmaps.get_opt(OLD_ONLY).await.unwrap().is_some());

    // With --yes: applied, what only v3.4.7 had deleted, rolled out.
    let up = lab.run(&["up", "--yes", "--timeout", "120s"]);
    let text = output(&up);
    assert!(up.status.success(), "{text}");
    assert!(text.contains("argocd v3.4.7 → v3.5.1"), "{text}");
    let server = deployments.get("argocd-server").await.unwrap();
    assert_eq!(server_image(&server), "quay.io/argoproj/argocd:v3.5.1");
    let status = server.status.unwrap();
    assert_eq!(
        status.observed_generation, server.metadata.generation,
        "the rollout was awaited"
    );
    assert_eq!(status.updated_replicas, Some(1), "the rollout was awaited");
    assert!(
        configmaps.get_opt(OLD_ONLY).await.unwrap().is_none(),
        "the ConfigMap only v3.4.7 had is deleted"
    );
    assert!(
        cluster_roles.get_opt(OLD_ONLY).await.unwrap().is_none(),
        "the ClusterRole only v3.4.7 had is deleted"
    );
    assert!(
        secrets.get_opt(OLD_ONLY).await.unwrap().is_some(),
        "an upgrade never deletes a Secret"
    );
    // What the user made survives, and so do Argo CD's own settings.
    assert!(projects.get_opt("team").await.unwrap().is_some());
    assert!(
        applications(&client)
            .get_opt("kept-app")
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        applications(&client)
            .get_opt("root")
            .await
            .unwrap()
            .is_some()
    );
    let repo = secrets.get("repo-kept").await.unwrap();
    assert_eq!(
        repo.metadata.labels.unwrap()["argocd.argoproj.io/secret-type"],
        "repository"
    );
    let admin = secrets.get("argocd-initial-admin-secret").await.unwrap();
    assert_eq!(admin.data.unwrap()["password"].0, b"correct-horse".to_vec());
    assert!(secrets.get_opt("argocd-secret").await.unwrap().is_some());
    assert_eq!(lab.ok(&["password"]).trim(), "correct-horse");

    let rec = record(&lab);
    assert_eq!(rec["argocd"]["version"], "v3.5.1", "{rec}");
    assert!(
        !recorded_names(&rec).contains(&OLD_ONLY.to_string()),
        "{rec}"
    );
    let status = harness::document(&lab.ok(&["status", "-o", "json"]), "LabStatus");
    assert_eq!(status["argocd"]["version"], "v3.5.1", "{status}");
    let table = lab.ok(&["status"]);
    assert!(table.contains("Argo CD v3.5.1"), "{table}");

    // The same release again: no change to ask about.
    let again = lab.run(&["up", "--timeout", "120s"]);
    let text = output(&again);
    assert!(again.status.success(), "{text}");
    assert!(!text.contains("→ v3.5.1"), "{text}");

    // Back to an older release: the diff warns (the dry run loads no manifest).
    set_argocd(&lab, &new_lines, &argocd_lines("v3.3.14", None));
    let dry = lab.run(&["up", "--dry-run"]);
    let text = output(&dry);
    assert!(dry.status.success(), "{text}");
    assert!(text.contains("argocd v3.5.1 → v3.3.14"), "{text}");
    assert!(
        text.contains("warning: v3.5.1 → v3.3.14 is a downgrade"),
        "{text}"
    );

    lab.ok(&["drop", "--yes"]);
}

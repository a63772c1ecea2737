//! The seed author's lab on the stand-in: a Helm root (the vendored `argocd/` chart of
//! `gitops-playground-apps`) with its value file, inline values and AppProject, as
//! `examples/seed-lab/` writes it.

use std::path::Path;

use kube::api::{Api, DynamicObject};
use kube::discovery::ApiResource;

use crate::gitops_up::{applications, fixture};
use crate::support::harness::{self, TestLab};

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        if e.path().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

/// The seed chart and the example's project in a new repository, committed, and the lab file
/// with `gitops` as given.
fn seed_lab(tag: &str, gitops: &str) -> TestLab {
    let lab = TestLab::new(tag);
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = lab.dir.path();
    copy_dir(
        &manifest.join("tests/fixtures/seed/gitops-playground-apps/argocd"),
        &dir.join("argocd"),
    );
    std::fs::copy(
        manifest.join("examples/seed-lab/project.yaml"),
        dir.join("project.yaml"),
    )
    .unwrap();
    playground::repo::git::init_with_commit(dir, "seed", Some(("Ada", "ada@example.com"))).unwrap();
    lab.cluster_yaml(
        "  env: [\"PLAYGROUND_DOUBLE_APPS=healthy@server:0\", \"PLAYGROUND_DOUBLE_DELAY_MS=200@server:0\"]\n",
    )
    .yaml(&format!(
        "  manifest: {}\n  resources: [project.yaml]\ngitops:\n  repo: .\n  revision: HEAD\n  path: argocd\n  project: playground-project\n{gitops}",
        fixture()
    ))
    .write()
}

const HELM: &str = "  helm:\n    valueFiles: [local.yaml]\n    values: { default: { app: { source: { repoURL: \"file:///playground\" } } } }\n";

#[tokio::test(flavor = "multi_thread")]
async fn a_helm_root_with_its_value_files_and_project_comes_up() {
    let lab = seed_lab("seedhelm", HELM);
    let out = lab.ok(&["up", "--timeout", "120s", "-o", "json"]);
    let (events, report) = harness::event_stream(&out, "UpResult");
    // The project is applied before the root exists: its step ends before the root's.
    let done = |needle: &str| {
        events
            .iter()
            .position(|e| {
                e["type"] == "step"
                    && e["status"] == "done"
                    && e["name"].as_str().is_some_and(|t| t.contains(needle))
            })
            .unwrap_or_else(|| panic!("no finished step {needle:?} in {events:#?}"))
    };
    assert!(done("argocd.resources") < done("give Argo CD the repository"));

    let client = harness::kube_client(&lab.kubeconfig()).await;
    let root = applications(&client).get("root").await.unwrap();
    let spec = &root.data["spec"];
    assert_eq!(spec["project"], "playground-project");
    assert_eq!(spec["source"]["path"], "argocd");
    assert_eq!(
        spec["source"]["helm"]["valueFiles"],
        serde_json::json!(["local.yaml"])
    );
    assert_eq!(
        spec["source"]["helm"]["valuesObject"]["default"]["app"]["source"]["repoURL"],
        "file:///playground"
    );
    assert!(spec["source"].get("directory").is_none(), "{spec}");
    // The stand-in's Argo CD checked the project (and its sourceRepos) before it synced.
    assert_eq!(root.data["status"]["sourceType"], "Helm");
    assert_eq!(root.data["status"]["sync"]["status"], "Synced");
    assert!(
        root.data["status"]["conditions"].is_null(),
        "{}",
        root.data["status"]
    );
    let projects: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        "argocd",
        &ApiResource {
            group: "argoproj.io".into(),
            version: "v1alpha1".into(),
            api_version: "argoproj.io/v1alpha1".into(),
            kind: "AppProject".into(),
            plural: "appprojects".into(),
        },
    );
    let project = projects.get("playground-project").await.unwrap();
    assert!(project.metadata.creation_timestamp <= root.metadata.creation_timestamp);
    assert_eq!(report["apps"][0]["name"], "root");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_lab_with_a_directory_root_is_refused_before_anything_is_made() {
    let lab = seed_lab("seeddir", "  directory: { recurse: true }\n");
    let out = lab.run(&["up", "--timeout", "60s"]);
    let stderr = harness::stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("`gitops.directory` says the root folder argocd is plain manifests, but it is a Helm chart (Chart.yaml)"),
        "{stderr}"
    );
    assert!(stderr.contains("use `gitops.helm`"), "{stderr}");
    assert_eq!(harness::count_docker_objects(&lab.name), 0);
}

//! The simulated controllers: workloads become available, Argo CD Applications converge.

use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::discovery::ApiResource;
use serde_json::json;

use crate::double_util::{eventually, start};
use crate::support::double::{AppOutcome, DoubleOptions, Simulation};

const DELAY: Duration = Duration::from_millis(300);

fn application_crd() -> serde_json::Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "applications.argoproj.io"},
        "spec": {
            "group": "argoproj.io", "scope": "Namespaced",
            "names": {"kind": "Application", "listKind": "ApplicationList", "plural": "applications", "singular": "application", "shortNames": ["app", "apps"]},
            "versions": [{"name": "v1alpha1", "served": true, "storage": true,
                          "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}],
        },
    })
}

fn app_resource() -> ApiResource {
    ApiResource {
        group: "argoproj.io".into(),
        version: "v1alpha1".into(),
        api_version: "argoproj.io/v1alpha1".into(),
        kind: "Application".into(),
        plural: "applications".into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deployment_becomes_available_after_the_delay() {
    let lab = start(DoubleOptions {
        simulation: Simulation {
            delay: DELAY,
            app_delay: DELAY,
            apps: None,
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    let deploys: Api<Deployment> = Api::namespaced(lab.client().await, "default");
    let d = json!({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}},
    });
    let t0 = Instant::now();
    let created = deploys
        .patch("web", &PatchParams::apply("test"), &Patch::Apply(d))
        .await
        .unwrap();
    assert!(created.status.is_none(), "not available at once");
    let available = eventually(5, "deployment availability", || async {
        let d = deploys.get("web").await.unwrap();
        d.status
            .filter(|s| s.available_replicas == Some(3))
            .map(|s| (s, t0.elapsed()))
    })
    .await;
    let (status, elapsed) = available;
    assert!(
        elapsed >= DELAY,
        "available after {elapsed:?}, before the {DELAY:?} delay"
    );
    assert_eq!(
        (
            status.replicas,
            status.ready_replicas,
            status.updated_replicas
        ),
        (Some(3), Some(3), Some(3))
    );
    assert_eq!(status.observed_generation, Some(1));
    let conds = status.conditions.unwrap();
    assert!(
        conds
            .iter()
            .any(|c| c.type_ == "Available" && c.status == "True")
    );
    assert!(
        conds
            .iter()
            .any(|c| c.type_ == "Progressing" && c.status == "True")
    );

    // A spec change makes it roll again: observedGeneration follows.
    deploys
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 1}})),
        )
        .await
        .unwrap();
    eventually(5, "the new generation to be observed", || async {
        let s = deploys.get("web").await.unwrap().status.unwrap();
        (s.observed_generation == Some(2) && s.available_replicas == Some(1)).then_some(())
    })
    .await;
    lab.double.shutdown().await;
}

async fn application_reaches(outcome: AppOutcome) -> serde_json::Value {
    application_with(outcome, json!({"automated": {"prune": true}})).await
}

/// An Application with `sync_policy` (Argo CD syncs only an automated one on its own) under
/// the double's controller; its status once it left OutOfSync/Progressing.
async fn application_with(
    outcome: AppOutcome,
    sync_policy: serde_json::Value,
) -> serde_json::Value {
    let lab = start(DoubleOptions {
        simulation: Simulation {
            delay: DELAY,
            app_delay: DELAY,
            apps: Some(outcome),
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    let client = lab.client().await;
    crate::double_util::crd_and_namespace(&client, application_crd(), "argocd").await;
    let apps: Api<DynamicObject> = Api::namespaced_with(client, "argocd", &app_resource());
    let app = json!({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": {"name": "demo"},
        "spec": {"project": "default",
                 "source": {"repoURL": "https://example.com/repo.git", "path": "apps", "targetRevision": "main"},
                 "destination": {"server": "https://kubernetes.default.svc", "namespace": "demo"},
                 "syncPolicy": sync_policy},
    });
    apps.patch("demo", &PatchParams::apply("test"), &Patch::Apply(app))
        .await
        .unwrap();
    let first = eventually(5, "the initial Application status", || async {
        let a = apps.get("demo").await.unwrap();
        a.data.get("status").cloned()
    })
    .await;
    assert_eq!(first["sync"]["status"], "OutOfSync");
    assert_eq!(first["health"]["status"], "Progressing");
    let last = eventually(5, "the Application to converge", || async {
        let s = apps.get("demo").await.unwrap().data["status"].clone();
        (s["sync"]["status"] != "OutOfSync" || s["health"]["status"] != "Progressing").then_some(s)
    })
    .await;
    assert_eq!(last["sync"]["revision"], "main");
    assert_eq!(
        last["sync"]["comparedTo"]["source"]["repoURL"],
        "https://example.com/repo.git"
    );
    assert!(last["reconciledAt"].is_string());
    lab.double.shutdown().await;
    last
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn application_becomes_healthy() {
    let s = application_reaches(AppOutcome::Healthy).await;
    assert_eq!(
        (s["sync"]["status"].as_str(), s["health"]["status"].as_str()),
        (Some("Synced"), Some("Healthy"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn application_becomes_degraded_with_a_message() {
    let s = application_reaches(AppOutcome::Degraded).await;
    assert_eq!(
        (s["sync"]["status"].as_str(), s["health"]["status"].as_str()),
        (Some("Synced"), Some("Degraded"))
    );
    assert!(
        s["health"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn application_stays_out_of_sync() {
    let s = application_reaches(AppOutcome::OutOfSync).await;
    assert_eq!(
        (s["sync"]["status"].as_str(), s["health"]["status"].as_str()),
        (Some("OutOfSync"), Some("Healthy"))
    );
    assert!(
        s["conditions"][0]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
}

#[test]
fn simulation_reads_the_environment_names() {
    assert_eq!(AppOutcome::parse("Degraded"), Some(AppOutcome::Degraded));
    assert_eq!(AppOutcome::parse("outofsync"), Some(AppOutcome::OutOfSync));
    assert_eq!(AppOutcome::parse("bogus"), None);
    assert_eq!(Simulation::default().delay, Duration::from_millis(200));
}

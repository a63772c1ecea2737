//! Installing the real Argo CD v3.5.1 manifest with `kube::apply` and `argocd::install`,
//! against the in-process API double.

use std::sync::Mutex;
use std::time::Duration;

use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::core::GroupVersionKind;
use kube::discovery::ApiResource;
use playground::argocd::install::{InstallError, ensure_namespace, install};
use playground::argocd::manifest::{ARGOCD_VERSION, Manifest, Prepare, Source};
use playground::argocd::workloads::{self, WorkloadsError};
use playground::kube::api::KubeApi;
use playground::kube::apply::{self, ApplyError, ApplyOptions, ApplyReport, Progress};
use playground::ui::{Mode, Ui};
use serde_json::json;
use tokio::time::Instant;

use crate::support::double::{self, DoubleOptions, RunningDouble, Simulation};

const FIXTURE: &str = include_str!("../fixtures/argocd-install-v3.5.1.yaml");
const NAMESPACE: &str = "lab-argocd";

fn manifest() -> Manifest {
    Manifest {
        version: ARGOCD_VERSION.into(),
        source: Source::File("tests/fixtures/argocd-install-v3.5.1.yaml".into()),
        sha256: String::new(),
        text: FIXTURE.into(),
    }
}

/// A double whose workloads become available after `delay`.
async fn start(delay: Duration) -> (RunningDouble, KubeApi) {
    let d = double::start(DoubleOptions {
        simulation: Simulation {
            delay,
            app_delay: delay,
            apps: None,
            ..Default::default()
        },
        ..Default::default()
    })
    .await
    .expect("double starts");
    let api = KubeApi::from_kubeconfig_yaml(&d.kubeconfig_yaml(&d.url()))
        .await
        .expect("client");
    (d, api)
}

/// A double whose simulated controllers never write within a test: only our writes are logged.
async fn start_quiet() -> (RunningDouble, KubeApi) {
    start(Duration::from_secs(3600)).await
}

async fn apply_manifest(
    api: &KubeApi,
    namespace: &str,
) -> (Result<ApplyReport, ApplyError>, Vec<usize>) {
    ensure_namespace(api, namespace).await.unwrap();
    let objects = manifest()
        .documents(namespace, &Prepare::lab(false))
        .unwrap();
    let seen = Mutex::new(Vec::new());
    let progress = |p: &Progress| seen.lock().unwrap().push(p.applied);
    let report = apply::apply(
        api.client(),
        &objects,
        &ApplyOptions::new(namespace),
        &progress,
    )
    .await;
    (report, seen.into_inner().unwrap())
}

/// `(group, plural)` of an object, as the double stores it.
fn resource_of(obj: &DynamicObject) -> (String, String) {
    let types = obj.types.as_ref().unwrap();
    let (group, version) = types
        .api_version
        .rsplit_once('/')
        .unwrap_or(("", &types.api_version));
    let ar = ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, &types.kind));
    (ar.group, ar.plural)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_manifest_applies_with_crds_first() {
    let (d, api) = start_quiet().await;
    let (report, seen) = apply_manifest(&api, NAMESPACE).await;
    let report = report.unwrap();
    assert_eq!(report.total, 59);
    assert_eq!(report.by_kind["CustomResourceDefinition"], 3);
    assert_eq!(report.by_kind["Deployment"], 6);
    assert_eq!(seen.iter().max(), Some(&59), "progress reaches 59/59");

    // Every CRD is written before any other non-namespace object.
    let log = d.event_log();
    let crd_positions: Vec<usize> = log
        .iter()
        .enumerate()
        .filter(|(_, e)| e.resource == "customresourcedefinitions")
        .map(|(i, _)| i)
        .collect();
    assert_eq!(crd_positions.len(), 3, "{crd_positions:?}");
    let last_crd = *crd_positions.iter().max().unwrap();
    let first_other = log
        .iter()
        .position(|e| e.resource != "customresourcedefinitions" && e.resource != "namespaces")
        .unwrap();
    assert!(
        last_crd < first_other,
        "CRD written at {last_crd}, but {:?} already at {first_other}",
        log[first_other]
    );
    assert!(
        log.iter()
            .skip(first_other)
            .all(|e| e.resource != "customresourcedefinitions"),
        "no CRD writes after the others"
    );
    for name in [
        "applications.argoproj.io",
        "applicationsets.argoproj.io",
        "appprojects.argoproj.io",
    ] {
        let crd = d
            .object(
                "apiextensions.k8s.io",
                "customresourcedefinitions",
                "",
                name,
            )
            .unwrap();
        let conditions = crd["status"]["conditions"].as_array().unwrap();
        assert!(
            conditions
                .iter()
                .any(|c| c["type"] == "Established" && c["status"] == "True")
        );
    }

    // All 59 objects exist, in the namespace for the namespaced ones.
    let objects = manifest()
        .documents(NAMESPACE, &Prepare::lab(false))
        .unwrap();
    assert_eq!(objects.len(), 59);
    for obj in &objects {
        let (group, plural) = resource_of(obj);
        let name = obj.metadata.name.as_deref().unwrap();
        let cluster_scoped = matches!(
            plural.as_str(),
            "customresourcedefinitions" | "clusterroles" | "clusterrolebindings"
        );
        let ns = if cluster_scoped { "" } else { NAMESPACE };
        let live = d.object(&group, &plural, ns, name);
        assert!(live.is_some(), "{group}/{plural} {ns}/{name} exists");
        let mf = &live.unwrap()["metadata"]["managedFields"];
        assert!(
            mf.as_array()
                .unwrap()
                .iter()
                .any(|m| m["manager"] == "playground" && m["operation"] == "Apply"),
            "{name}: {mf}"
        );
    }

    // The ClusterRoleBindings point at the lab's namespace.
    let crbs = d.objects("rbac.authorization.k8s.io", "clusterrolebindings");
    let ours: Vec<_> = crbs
        .iter()
        .filter(|c| {
            c["metadata"]["name"]
                .as_str()
                .unwrap()
                .starts_with("argocd-")
        })
        .collect();
    assert_eq!(ours.len(), 3);
    for crb in ours {
        assert_eq!(crb["subjects"][0]["namespace"], NAMESPACE, "{crb}");
    }
    let params = d
        .object("", "configmaps", NAMESPACE, "argocd-cmd-params-cm")
        .unwrap();
    assert_eq!(params["data"]["server.insecure"], "true");
    d.shutdown().await;
}

/// F19: a container reads `configMapKeyRef` env once, at start, so every ConfigMap and
/// Secret must be written before any object that makes pods. The manifest is applied in
/// reverse (workloads listed first, as a hand-written manifest may have them), so the order
/// of the writes comes from the applier and not from the file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_maps_and_secrets_are_written_before_workloads() {
    let (d, api) = start_quiet().await;
    ensure_namespace(&api, NAMESPACE).await.unwrap();
    let mut objects = manifest()
        .documents(NAMESPACE, &Prepare::lab(true))
        .unwrap();
    objects.reverse();
    let report = apply::apply(
        api.client(),
        &objects,
        &ApplyOptions::new(NAMESPACE),
        &|_: &Progress| {},
    )
    .await
    .unwrap();
    // 59 and the gitconfig ConfigMap of a local repo.
    assert_eq!(report.total, 60);
    let log = d.event_log();
    let positions = |resources: &[&str]| -> Vec<usize> {
        log.iter()
            .enumerate()
            .filter(|(_, e)| e.namespace == NAMESPACE && resources.contains(&e.resource.as_str()))
            .map(|(i, _)| i)
            .collect()
    };
    let config = positions(&["configmaps", "secrets"]);
    let workloads = positions(&["deployments", "statefulsets"]);
    assert_eq!((config.len(), workloads.len()), (10, 7), "{log:?}");
    let last_config = *config.iter().max().unwrap();
    let first_workload = *workloads.iter().min().unwrap();
    assert!(
        last_config < first_workload,
        "{:?} written at {last_config}, after {:?} at {first_workload}",
        log[last_config],
        log[first_workload]
    );
    d.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn applying_twice_changes_nothing() {
    let (d, api) = start_quiet().await;
    apply_manifest(&api, NAMESPACE).await.0.unwrap();
    let before = d.event_log();
    let (again, _) = apply_manifest(&api, NAMESPACE).await;
    assert_eq!(again.unwrap().total, 59);
    let after = d.event_log();
    assert_eq!(
        before.len(),
        after.len(),
        "new writes: {:?}",
        &after[before.len().min(after.len())..]
    );
    d.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fields_of_another_manager_are_taken_over() {
    let (d, api) = start_quiet().await;
    ensure_namespace(&api, NAMESPACE).await.unwrap();
    let cms: Api<DynamicObject> = Api::namespaced_with(
        api.client().clone(),
        NAMESPACE,
        &ApiResource::from_gvk(&GroupVersionKind::gvk("", "v1", "ConfigMap")),
    );
    let theirs = json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "argocd-cmd-params-cm"},
        "data": {"server.insecure": "false"},
    });
    cms.patch(
        "argocd-cmd-params-cm",
        &PatchParams::apply("helm"),
        &Patch::Apply(&theirs),
    )
    .await
    .unwrap();
    // Without force, our value would conflict with helm's.
    let ours = json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "argocd-cmd-params-cm"},
        "data": {"server.insecure": "true"},
    });
    let conflict = cms
        .patch(
            "argocd-cmd-params-cm",
            &PatchParams::apply("playground"),
            &Patch::Apply(&ours),
        )
        .await;
    assert!(
        matches!(&conflict, Err(kube::Error::Api(s)) if s.code == 409),
        "{conflict:?}"
    );

    apply_manifest(&api, NAMESPACE).await.0.unwrap();
    let live = d
        .object("", "configmaps", NAMESPACE, "argocd-cmd-params-cm")
        .unwrap();
    assert_eq!(live["data"]["server.insecure"], "true");
    let managers = live["metadata"]["managedFields"].as_array().unwrap();
    let owns = |manager: &str| {
        managers.iter().any(|m| {
            m["manager"] == manager && m["fieldsV1"]["f:data"].get("f:server.insecure").is_some()
        })
    };
    assert!(owns("playground"), "{managers:?}");
    assert!(!owns("helm"), "{managers:?}");
    d.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_kinds_are_named() {
    let (d, api) = start_quiet().await;
    let objects = apply::parse_documents(
        "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n",
        "widgets.yaml",
    )
    .unwrap();
    let e = apply::apply(
        api.client(),
        &objects,
        &ApplyOptions::new("default"),
        &|_: &Progress| {},
    )
    .await
    .unwrap_err();
    let text = playground::diag::Report(&e).to_string();
    assert!(matches!(e, ApplyError::UnknownKinds { .. }), "{text}");
    assert!(
        text.contains("Widget default/w") || text.contains("Widget w"),
        "{text}"
    );
    assert!(text.contains("CustomResourceDefinition"), "{text}");
    d.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn install_waits_until_workloads_are_available() {
    let (d, api) = start(Duration::from_millis(500)).await;
    let ui = Ui::with_mode(Mode::Quiet);
    let deadline = Instant::now() + Duration::from_secs(60);
    let report = install(
        &api,
        &manifest(),
        &Prepare::lab(false),
        NAMESPACE,
        &ui,
        deadline,
    )
    .await
    .unwrap();
    assert_eq!(report.apply.total, 59);
    // A lean Argo CD: Dex and the notifications controller have 0 replicas, nothing to await.
    assert_eq!(report.workloads.len(), 5);
    assert!(
        report
            .workloads
            .iter()
            .all(|w| w.name != "argocd-dex-server" && w.name != "argocd-notifications-controller"),
        "{:?}",
        report.workloads
    );
    for w in &report.workloads {
        let plural = match w.kind {
            workloads::WorkloadKind::Deployment => "deployments",
            workloads::WorkloadKind::StatefulSet => "statefulsets",
        };
        let live = d.object("apps", plural, NAMESPACE, &w.name).unwrap();
        assert!(live["status"]["observedGeneration"].is_number(), "{w}");
    }
    d.shutdown().await;
}

/// F12: while a Deployment rolls out, its old pods keep it `Available` with every replica
/// available and the new generation observed; only `updatedReplicas` tells. The wait must
/// last until the new pods run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollout_in_progress_is_not_available() {
    let delay = Duration::from_millis(1500);
    let (d, api) = start(delay).await;
    let ui = Ui::with_mode(Mode::Quiet);
    install(
        &api,
        &manifest(),
        &Prepare::lab(false),
        NAMESPACE,
        &ui,
        Instant::now() + Duration::from_secs(60),
    )
    .await
    .unwrap();
    let deployments: Api<DynamicObject> = Api::namespaced_with(
        api.client().clone(),
        NAMESPACE,
        &ApiResource::from_gvk(&GroupVersionKind::gvk("apps", "v1", "Deployment")),
    );
    let changed = Instant::now();
    deployments
        .patch(
            "argocd-server",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"template": {"metadata": {"annotations": {"example.com/restartedAt": "now"}}}}})),
        )
        .await
        .unwrap();
    // The double's controller reports the rollout at once.
    let live = loop {
        let live = d
            .object("apps", "deployments", NAMESPACE, "argocd-server")
            .unwrap();
        if live["status"]["observedGeneration"] == 2 {
            break live;
        }
        assert!(changed.elapsed() < delay, "no rollout status: {live}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert_eq!(live["status"]["availableReplicas"], 1, "{live}");
    assert_eq!(live["status"]["updatedReplicas"], 0, "{live}");
    let state = workloads::deployment_state(
        &workloads::Workload {
            kind: workloads::WorkloadKind::Deployment,
            namespace: NAMESPACE.into(),
            name: "argocd-server".into(),
        },
        &serde_json::from_value(live).unwrap(),
    );
    assert!(!state.available, "{state}");

    let wanted: Vec<workloads::Workload> = workloads::from_objects(
        &manifest()
            .documents(NAMESPACE, &Prepare::lab(false))
            .unwrap(),
        NAMESPACE,
    )
    .into_iter()
    .filter(|w| w.name == "argocd-server")
    .collect();
    workloads::wait_available(&api, &wanted, &ui, Instant::now() + Duration::from_secs(30))
        .await
        .unwrap();
    assert!(
        changed.elapsed() >= delay,
        "available after {:?}, before the new pods ran ({delay:?})",
        changed.elapsed()
    );
    d.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn install_times_out_naming_the_workloads() {
    let (d, api) = start(Duration::from_secs(600)).await;
    apply_manifest(&api, NAMESPACE).await.0.unwrap();
    let objects = manifest()
        .documents(NAMESPACE, &Prepare::lab(false))
        .unwrap();
    let wanted = workloads::from_objects(&objects, NAMESPACE);
    let ui = Ui::with_mode(Mode::Quiet);
    let started = Instant::now();
    let e = workloads::wait_available(&api, &wanted, &ui, started + Duration::from_millis(1500))
        .await
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "fails at the deadline"
    );
    let e = InstallError::from(e);
    let text = e.to_string();
    let InstallError::Workloads(WorkloadsError::NotAvailable { pending, total, .. }) = e else {
        panic!("expected a workload timeout: {text}");
    };
    assert_eq!((pending.len(), total), (5, 5), "{text}");
    // Scaled to 0 in a lean Argo CD: never awaited, never named.
    for idle in ["argocd-dex-server", "argocd-notifications-controller"] {
        assert!(!text.contains(idle), "{idle} in {text}");
    }
    for name in [
        "argocd-applicationset-controller",
        "argocd-redis",
        "argocd-repo-server",
        "argocd-server",
        "argocd-application-controller",
    ] {
        assert!(text.contains(name), "{name} in {text}");
    }
    assert!(
        text.contains("5 of 5 Argo CD workloads not available"),
        "{text}"
    );
    d.shutdown().await;
}

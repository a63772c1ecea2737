//! kubectl against the API double: the fidelity that matters for the playground.

use std::time::Duration;

use crate::double_util::{Lab, eventually, fixture, start};
use crate::support::double::{AppOutcome, DoubleOptions, Simulation};

const APPLICATION: &str = r#"apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: guestbook
  namespace: argocd
spec:
  project: default
  source:
    repoURL: https://github.com/argoproj/argocd-example-apps.git
    targetRevision: v1.2.3
    path: guestbook
  destination:
    server: https://kubernetes.default.svc
    namespace: guestbook
  # Argo CD syncs an Application on its own only with an automated policy.
  syncPolicy:
    automated: {}
"#;

async fn lab_with(apps: Option<AppOutcome>) -> Lab {
    start(DoubleOptions {
        node_name: Some("k3d-lab-server-0".into()),
        simulation: Simulation {
            delay: Duration::from_millis(150),
            app_delay: Duration::from_millis(150),
            apps,
            ..Default::default()
        },
        ..Default::default()
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_get_nodes_shows_registered_nodes_ready() {
    let lab = lab_with(None).await;
    let Some(k) = lab.kubectl() else { return };
    lab.double.register_node("k3d-lab-agent-0", false).unwrap();
    let out = k.ok(&["get", "nodes"]).await;
    let lines: Vec<Vec<&str>> = out
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        lines[0],
        ["NAME", "STATUS", "ROLES", "AGE", "VERSION"],
        "{out}"
    );
    let server = lines
        .iter()
        .find(|l| l[0] == "k3d-lab-server-0")
        .unwrap_or_else(|| panic!("server node missing:\n{out}"));
    assert_eq!(server[1], "Ready");
    assert_eq!(server[2], "control-plane,master");
    assert_eq!(server[4], "v1.33.5+k3s1");
    let agent = lines
        .iter()
        .find(|l| l[0] == "k3d-lab-agent-0")
        .unwrap_or_else(|| panic!("agent node missing:\n{out}"));
    assert_eq!(&agent[1..3], ["Ready", "<none>"]);
    lab.double.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_applies_argocd_install_then_an_application_syncs() {
    let lab = lab_with(Some(AppOutcome::Healthy)).await;
    let Some(k) = lab.kubectl() else { return };
    k.ok(&["create", "namespace", "argocd"]).await;
    let install = fixture("argocd-install-v3.5.1.yaml");
    let install = install.to_str().unwrap();

    let started = std::time::Instant::now();
    let r = k
        .run(&["apply", "--server-side", "-n", "argocd", "-f", install])
        .await;
    assert!(r.ok, "apply failed:\n{}\n{}", r.stdout, r.stderr);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "applying took {:?}",
        started.elapsed()
    );
    // Default validation: kubectl must have found fieldValidation support in /openapi/v3
    // (otherwise it warns and falls back to client-side validation).
    assert!(
        !r.stderr.to_lowercase().contains("warning"),
        "unexpected warnings: {}",
        r.stderr
    );
    assert!(
        !r.stderr.contains("validat"),
        "validation complaints: {}",
        r.stderr
    );
    assert_eq!(
        r.stdout
            .lines()
            .filter(|l| l.ends_with("serverside-applied"))
            .count(),
        59,
        "{}",
        r.stdout
    );
    assert_eq!(lab.double.objects("apps", "deployments").len(), 6);
    assert_eq!(
        lab.double
            .objects("apiextensions.k8s.io", "customresourcedefinitions")
            .len(),
        3
    );

    k.ok(&[
        "wait",
        "--for=condition=Established",
        "crd/applications.argoproj.io",
        "--timeout=30s",
    ])
    .await;

    // Workloads become available after the simulated delay.
    eventually(10, "deployments to be available", || async {
        let out = k
            .ok(&["get", "deployments", "-n", "argocd", "--no-headers"])
            .await;
        (out.lines().count() == 6
            && out
                .lines()
                .all(|l| l.split_whitespace().nth(1) == Some("1/1")))
        .then_some(())
    })
    .await;

    // Applying again changes nothing: no new writes at all.
    let before = lab.double.event_log().len();
    k.ok(&["apply", "--server-side", "-n", "argocd", "-f", install])
        .await;
    let after = lab.double.event_log();
    assert_eq!(
        after.len(),
        before,
        "second apply wrote: {:?}",
        &after[before..]
    );

    let app_file = lab.dir.path().join("app.yaml");
    std::fs::write(&app_file, APPLICATION).unwrap();
    k.ok(&["apply", "-f", app_file.to_str().unwrap()]).await;
    let out = eventually(10, "the Application to be Synced/Healthy", || async {
        let out = k.ok(&["get", "applications", "-A"]).await;
        out.lines()
            .any(|l| {
                l.split_whitespace().collect::<Vec<_>>()[..4]
                    == ["argocd", "guestbook", "Synced", "Healthy"]
            })
            .then_some(out)
    })
    .await;
    let header: Vec<&str> = out.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        [
            "NAMESPACE",
            "NAME",
            "SYNC",
            "STATUS",
            "HEALTH",
            "STATUS",
            "AGE"
        ],
        "{out}"
    );
    let wide = k
        .ok(&[
            "get",
            "application",
            "guestbook",
            "-n",
            "argocd",
            "-o",
            "wide",
        ])
        .await;
    assert!(
        wide.contains("v1.2.3") && wide.contains("default"),
        "revision/project columns: {wide}"
    );

    // No Application was written before its CRD was established.
    let log = lab.double.event_log();
    let crd_at = log.iter().position(|e| {
        e.resource == "customresourcedefinitions" && e.name == "applications.argoproj.io"
    });
    let app_at = log.iter().position(|e| e.resource == "applications");
    assert!(crd_at.unwrap() < app_at.unwrap());
    lab.double.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_conflicting_apply_needs_force() {
    let lab = lab_with(None).await;
    let Some(k) = lab.kubectl() else { return };
    let file = lab.dir.path().join("cm.yaml");
    let cm = |v: &str| {
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: default\ndata:\n  mode: {v}\n"
        )
    };
    std::fs::write(&file, cm("one")).unwrap();
    let f = file.to_str().unwrap();
    k.ok(&["apply", "--server-side", "-f", f]).await;

    std::fs::write(&file, cm("two")).unwrap();
    let r = k
        .run(&[
            "apply",
            "--server-side",
            "--field-manager=intruder",
            "-f",
            f,
        ])
        .await;
    assert!(!r.ok, "conflicting apply succeeded: {}", r.stdout);
    assert!(
        r.stderr.contains("Apply failed with 1 conflict") && r.stderr.contains(".data.mode"),
        "{}",
        r.stderr
    );
    assert_eq!(
        k.ok(&["get", "cm", "settings", "-o", "jsonpath={.data.mode}"])
            .await,
        "one"
    );

    k.ok(&[
        "apply",
        "--server-side",
        "--field-manager=intruder",
        "--force-conflicts",
        "-f",
        f,
    ])
    .await;
    assert_eq!(
        k.ok(&["get", "cm", "settings", "-o", "jsonpath={.data.mode}"])
            .await,
        "two"
    );
    let managers = k
        .ok(&[
            "get",
            "cm",
            "settings",
            "--show-managed-fields",
            "-o",
            "jsonpath={.metadata.managedFields[*].manager}",
        ])
        .await;
    assert_eq!(
        managers, "intruder",
        "ownership moved entirely to the forcing manager"
    );
    lab.double.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_get_missing_namespace_is_not_found() {
    let lab = lab_with(None).await;
    let Some(k) = lab.kubectl() else { return };
    let r = k.run(&["get", "ns", "nosuch"]).await;
    assert!(!r.ok);
    assert!(
        r.stderr.contains("NotFound") && r.stderr.contains(r#"namespaces "nosuch" not found"#),
        "{}",
        r.stderr
    );

    let r = k
        .run(&[
            "create",
            "configmap",
            "x",
            "-n",
            "nosuch",
            "--from-literal=a=b",
        ])
        .await;
    assert!(
        !r.ok && r.stderr.contains(r#"namespaces "nosuch" not found"#),
        "{}",
        r.stderr
    );
    lab.double.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_label_selectors_and_delete() {
    let lab = lab_with(None).await;
    let Some(k) = lab.kubectl() else { return };
    for (name, tier) in [("a", "web"), ("b", "db"), ("c", "web")] {
        k.ok(&["create", "configmap", name]).await;
        k.ok(&["label", "configmap", name, &format!("tier={tier}")])
            .await;
    }
    let names = |out: String| out.split_whitespace().map(String::from).collect::<Vec<_>>();
    let get = |sel: &'static str| {
        let k = &k;
        async move {
            names(
                k.ok(&[
                    "get",
                    "cm",
                    "-l",
                    sel,
                    "-o",
                    "jsonpath={.items[*].metadata.name}",
                ])
                .await,
            )
        }
    };
    assert_eq!(get("tier=web").await, ["a", "c"]);
    assert_eq!(get("tier!=web").await, ["b"]);
    assert_eq!(get("tier in (db,cache)").await, ["b"]);
    assert_eq!(get("tier notin (db)").await, ["a", "c"]);
    assert_eq!(get("tier").await, ["a", "b", "c"]);
    assert_eq!(get("!tier").await, Vec::<String>::new());
    k.ok(&["delete", "configmap", "b"]).await;
    assert_eq!(get("tier").await, ["a", "c"]);
    lab.double.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_client_side_apply_rollout_and_scale() {
    let lab = lab_with(None).await;
    let Some(k) = lab.kubectl() else { return };
    let file = lab.dir.path().join("deploy.yaml");
    let deploy = |image: &str| {
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: web, namespace: default}}\nspec:\n  selector: {{matchLabels: {{app: web}}}}\n  template:\n    metadata: {{labels: {{app: web}}}}\n    spec: {{containers: [{{name: c, image: {image}}}]}}\n"
        )
    };
    std::fs::write(&file, deploy("nginx:1")).unwrap();
    let f = file.to_str().unwrap();
    assert!(
        k.ok(&["apply", "-f", f])
            .await
            .contains("deployment.apps/web created")
    );
    std::fs::write(&file, deploy("nginx:2")).unwrap();
    assert!(
        k.ok(&["apply", "-f", f])
            .await
            .contains("deployment.apps/web configured")
    );
    let got = k
        .ok(&[
            "get",
            "deploy",
            "web",
            "-o",
            "jsonpath={.spec.template.spec.containers[0].image} {.metadata.generation}",
        ])
        .await;
    assert_eq!(got, "nginx:2 2");
    k.ok(&["rollout", "status", "deployment/web", "--timeout=20s"])
        .await;

    k.ok(&["scale", "deployment/web", "--replicas=3"]).await;
    eventually(10, "three ready replicas", || async {
        let out = k.ok(&["get", "deploy", "web", "--no-headers"]).await;
        (out.split_whitespace().nth(1) == Some("3/3")).then_some(())
    })
    .await;
    lab.double.shutdown().await;
}

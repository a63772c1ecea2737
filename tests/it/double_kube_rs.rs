//! kube-rs against the API double.

use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Node};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use serde_json::json;

use crate::double_util::{client_from_yaml, start};
use crate::support::double::{DoubleOptions, kubeconfig_yaml};

fn cm(name: &str, value: &str) -> serde_json::Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"key": value}})
}

fn api_code<T: std::fmt::Debug>(r: kube::Result<T>) -> u16 {
    match r {
        Err(kube::Error::Api(s)) => s.code,
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_rs_lists_nodes_and_applies() {
    let lab = start(DoubleOptions {
        node_name: Some("server-0".into()),
        ..Default::default()
    })
    .await;
    let client = lab.client().await;
    let nodes: Api<Node> = Api::all(client.clone());
    let list = nodes.list(&ListParams::default()).await.unwrap();
    assert_eq!(list.items.len(), 1);
    let node = &list.items[0];
    assert_eq!(node.metadata.name.as_deref(), Some("server-0"));
    let ready = node
        .status
        .as_ref()
        .unwrap()
        .conditions
        .as_ref()
        .unwrap()
        .iter()
        .find(|c| c.type_ == "Ready")
        .unwrap();
    assert_eq!(ready.status, "True");

    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let pp = PatchParams::apply("playground").force();
    let applied = cms
        .patch("settings", &pp, &Patch::Apply(cm("settings", "v1")))
        .await
        .unwrap();
    assert_eq!(applied.data.unwrap()["key"], "v1");
    let mf = applied.metadata.managed_fields.unwrap();
    assert_eq!(mf.len(), 1);
    assert_eq!(
        (mf[0].manager.as_deref(), mf[0].operation.as_deref()),
        (Some("playground"), Some("Apply"))
    );
    let rv1 = applied.metadata.resource_version.unwrap();

    // Re-applying the same configuration is a no-op: same resourceVersion.
    let again = cms
        .patch("settings", &pp, &Patch::Apply(cm("settings", "v1")))
        .await
        .unwrap();
    assert_eq!(again.metadata.resource_version.unwrap(), rv1);

    // Fields dropped from the applied configuration are removed.
    let mut two = cm("settings", "v2");
    two["data"] = json!({"other": "x"});
    let pruned = cms
        .patch("settings", &pp, &Patch::Apply(two))
        .await
        .unwrap();
    let data = pruned.data.unwrap();
    assert!(
        !data.contains_key("key") && data["other"] == "x",
        "{data:?}"
    );

    // Apply without a field manager is rejected like the real server does.
    let no_manager = PatchParams {
        field_manager: None,
        ..PatchParams::default()
    };
    assert_eq!(
        api_code(
            cms.patch("settings", &no_manager, &Patch::Apply(cm("settings", "v3")))
                .await
        ),
        422
    );

    // A namespace that does not exist: 404 from NamespaceLifecycle.
    let missing: Api<ConfigMap> = Api::namespaced(client.clone(), "nosuch");
    let err = missing
        .create(
            &PostParams::default(),
            &serde_json::from_value(cm("x", "y")).unwrap(),
        )
        .await;
    match err {
        Err(kube::Error::Api(s)) => {
            assert_eq!(s.code, 404);
            assert_eq!(s.message, r#"namespaces "nosuch" not found"#);
        }
        other => panic!("{other:?}"),
    }
    lab.double.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_rs_errors_are_status_objects() {
    let lab = start(DoubleOptions::default()).await;
    let client = lab.client().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    match cms.get("nosuch").await {
        Err(kube::Error::Api(s)) => {
            assert_eq!(s.code, 404);
            assert_eq!(s.reason, "NotFound");
            assert_eq!(s.message, r#"configmaps "nosuch" not found"#);
        }
        other => panic!("{other:?}"),
    }
    let created = cms
        .create(
            &PostParams::default(),
            &serde_json::from_value(cm("a", "1")).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(
        api_code(cms.create(&PostParams::default(), &created).await),
        409
    );

    // A stale resourceVersion on replace: 409 Conflict.
    let mut stale = created.clone();
    cms.patch(
        "a",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"key": "2"}})),
    )
    .await
    .unwrap();
    stale.data = Some([("key".to_string(), "3".to_string())].into());
    assert_eq!(
        api_code(cms.replace("a", &PostParams::default(), &stale).await),
        409
    );

    // Invalid names: 422 with the field in the causes.
    match cms
        .create(
            &PostParams::default(),
            &serde_json::from_value(cm("Not_Valid", "1")).unwrap(),
        )
        .await
    {
        Err(kube::Error::Api(s)) => {
            assert_eq!((s.code, s.reason.as_str()), (422, "Invalid"));
            assert!(s.message.contains("metadata.name"), "{}", s.message);
        }
        other => panic!("{other:?}"),
    }
    lab.double.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_rs_watches_from_a_resource_version() {
    let lab = start(DoubleOptions::default()).await;
    let client = lab.client().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let rv = cms
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();

    let mut stream = cms
        .watch(&WatchParams::default().timeout(10), &rv)
        .await
        .unwrap()
        .boxed();
    let pp = PatchParams::apply("playground");
    cms.patch("w", &pp, &Patch::Apply(cm("w", "1")))
        .await
        .unwrap();
    cms.patch("w", &pp, &Patch::Apply(cm("w", "2")))
        .await
        .unwrap();
    let mut seen = Vec::new();
    while seen.len() < 2 {
        let ev = tokio::time::timeout(Duration::from_secs(5), stream.try_next())
            .await
            .expect("event in time")
            .unwrap()
            .unwrap();
        match ev {
            WatchEvent::Added(c) => seen.push(("ADDED", c.data.unwrap()["key"].clone())),
            WatchEvent::Modified(c) => seen.push(("MODIFIED", c.data.unwrap()["key"].clone())),
            WatchEvent::Bookmark(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(
        seen,
        [("ADDED", "1".to_string()), ("MODIFIED", "2".to_string())]
    );

    // Streaming list: initial ADDED events, then the initial-events-end bookmark.
    let mut stream = cms
        .watch(&WatchParams::default().initial_events().timeout(10), "")
        .await
        .unwrap()
        .boxed();
    let first = stream.try_next().await.unwrap().unwrap();
    assert!(
        matches!(first, WatchEvent::Added(ref c) if c.metadata.name.as_deref() == Some("w")),
        "{first:?}"
    );
    match stream.try_next().await.unwrap().unwrap() {
        WatchEvent::Bookmark(b) => {
            assert_eq!(
                b.metadata
                    .annotations
                    .get("k8s.io/initial-events-end")
                    .map(String::as_str),
                Some("true")
            )
        }
        other => panic!("expected the initial-events-end bookmark, got {other:?}"),
    }

    // A resourceVersion older than the retained window: 410 Gone as an ERROR event.
    lab.double.compact();
    let mut stream = cms
        .watch(&WatchParams::default().timeout(5), &rv)
        .await
        .unwrap()
        .boxed();
    match stream.try_next().await.unwrap().unwrap() {
        WatchEvent::Error(s) => assert_eq!(s.code, 410),
        other => panic!("expected 410, got {other:?}"),
    }
    lab.double.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_rs_status_subresource_is_separate() {
    let lab = start(DoubleOptions {
        simulation: crate::support::double::Simulation {
            delay: Duration::from_secs(3600),
            app_delay: Duration::from_secs(3600),
            apps: None,
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    let client = lab.client().await;
    let deploys: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let d = json!({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}},
        "status": {"replicas": 99},
    });
    let created = deploys
        .patch("web", &PatchParams::apply("playground"), &Patch::Apply(d))
        .await
        .unwrap();
    assert!(
        created.status.as_ref().and_then(|s| s.replicas).is_none(),
        "status is not written through the main resource"
    );
    assert_eq!(created.metadata.generation, Some(1));

    let patched = deploys
        .patch_status(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"replicas": 2, "readyReplicas": 1}})),
        )
        .await
        .unwrap();
    let st = patched.status.unwrap();
    assert_eq!((st.replicas, st.ready_replicas), (Some(2), Some(1)));
    assert_eq!(
        patched.metadata.generation,
        Some(1),
        "status writes do not bump generation"
    );

    // A main-resource patch that touches status keeps the stored status, bumps generation on spec change.
    let after = deploys
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 3}, "status": {"replicas": 7}})),
        )
        .await
        .unwrap();
    assert_eq!(after.status.unwrap().replicas, Some(2));
    assert_eq!(after.metadata.generation, Some(2));
    // A status patch cannot change the spec.
    let after = deploys
        .patch_status(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 9}})),
        )
        .await
        .unwrap();
    assert_eq!(after.spec.unwrap().replicas, Some(3));
    lab.double.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_rs_authentication() {
    let lab = start(DoubleOptions {
        token: Some("K10abc::server:s3cret".into()),
        ..Default::default()
    })
    .await;
    let url = lab.double.url();

    // No client certificate, no token: 401 with a Status body, but /version is public.
    let anonymous = client_from_yaml(&kubeconfig_yaml(&url, &lab.double.ca_pem, None)).await;
    assert_eq!(
        api_code(
            Api::<Namespace>::all(anonymous.clone())
                .list(&ListParams::default())
                .await
        ),
        401
    );
    let version = anonymous.apiserver_version().await.unwrap();
    assert_eq!(version.git_version, "v1.33.5+k3s1");
    assert_eq!(
        (version.major.as_str(), version.minor.as_str()),
        ("1", "33")
    );

    // The join token authenticates as a bearer token; a wrong one does not.
    let with_token = |t: &str| {
        format!(
            "{}    token: {t}\n",
            kubeconfig_yaml(&url, &lab.double.ca_pem, None).replace("  user: {}\n", "  user:\n")
        )
    };
    let agent = client_from_yaml(&with_token("K10abc::server:s3cret")).await;
    let names = Api::<Namespace>::all(agent)
        .list(&ListParams::default())
        .await
        .unwrap();
    assert!(
        names
            .items
            .iter()
            .any(|n| n.metadata.name.as_deref() == Some("kube-system"))
    );
    let wrong = client_from_yaml(&with_token("nope")).await;
    assert_eq!(
        api_code(
            Api::<Namespace>::all(wrong)
                .list(&ListParams::default())
                .await
        ),
        401
    );
    lab.double.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_dir_keeps_ca_and_objects_across_restarts() {
    let state = tempfile::tempdir().unwrap();
    let opts = DoubleOptions {
        state_dir: Some(state.path().to_path_buf()),
        ..Default::default()
    };
    let lab = start(opts.clone()).await;
    let cms: Api<ConfigMap> = Api::namespaced(lab.client().await, "default");
    cms.patch(
        "kept",
        &PatchParams::apply("playground"),
        &Patch::Apply(cm("kept", "yes")),
    )
    .await
    .unwrap();
    let (ca, kubeconfig) = (
        lab.double.ca_pem.clone(),
        lab.double.kubeconfig_yaml(&lab.double.url()),
    );
    lab.double.shutdown().await;

    let lab = start(opts).await;
    assert_eq!(lab.double.ca_pem, ca, "the CA is reused");
    // The old kubeconfig's credentials (and CA) still work against the new listener.
    let old_port = kubeconfig
        .split("server: ")
        .nth(1)
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_string();
    let client = client_from_yaml(&kubeconfig.replace(&old_port, &lab.double.url())).await;
    let kept = Api::<ConfigMap>::namespaced(client, "default")
        .get("kept")
        .await
        .unwrap();
    assert_eq!(kept.data.unwrap()["key"], "yes");
    lab.double.shutdown().await;
}

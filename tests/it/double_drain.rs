//! Draining a node through the API double: the calls `up` makes to remove an agent
//! (`cluster_api::ClusterApi::drain_node`, then `forget_node`), and the same through
//! `kubectl drain`, so the double answers them as the real API server does.

use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, DeleteParams, EvictParams, ListParams, PostParams};
use playground::cluster::cluster_api::ClusterApi;
use playground::kube::api::KubeApi;
use serde_json::{Value, json};

use crate::double_util::{Lab, start};
use crate::support::double::DoubleOptions;

async fn lab() -> Lab {
    start(DoubleOptions {
        node_name: Some("server-0".into()),
        ..Default::default()
    })
    .await
}

fn pod(name: &str, node: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"nodeName": node, "containers": [{"name": "c", "image": "busybox"}]},
    })
}

/// Node `agent-1` with: a plain pod, a DaemonSet's pod, a mirror (static) pod; and a pod on
/// server-0.
async fn populate(client: &kube::Client) {
    let nodes: Api<Node> = Api::all(client.clone());
    let node: Node = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Node", "metadata": {"name": "agent-1"},
    }))
    .unwrap();
    nodes.create(&PostParams::default(), &node).await.unwrap();
    let ds: Api<k8s_openapi::api::apps::v1::DaemonSet> = Api::namespaced(client.clone(), "default");
    let ds_obj = serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": "agentd", "namespace": "default"},
        "spec": {"selector": {"matchLabels": {"app": "agentd"}},
                 "template": {"metadata": {"labels": {"app": "agentd"}},
                              "spec": {"containers": [{"name": "c", "image": "busybox"}]}}},
    }))
    .unwrap();
    let ds_uid = ds
        .create(&PostParams::default(), &ds_obj)
        .await
        .unwrap()
        .metadata
        .uid
        .unwrap();
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let mut daemon = pod("agentd-x1", "agent-1");
    daemon["metadata"]["ownerReferences"] = json!([{
        "apiVersion": "apps/v1", "kind": "DaemonSet", "name": "agentd", "uid": ds_uid,
        "controller": true,
    }]);
    let mut mirror = pod("static-agent-1", "agent-1");
    mirror["metadata"]["annotations"] = json!({"kubernetes.io/config.mirror": "abc"});
    for p in [
        pod("web", "agent-1"),
        daemon,
        mirror,
        pod("api", "server-0"),
    ] {
        pods.create(&PostParams::default(), &serde_json::from_value(p).unwrap())
            .await
            .unwrap();
    }
}

async fn pod_names(client: &kube::Client) -> Vec<String> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let mut names: Vec<String> = pods
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|p| p.metadata.name)
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_drains_an_agent_as_kubectl_does_and_forgets_its_node() {
    let lab = lab().await;
    let client = lab.client().await;
    populate(&client).await;
    let yaml = lab.double.kubeconfig_yaml(&lab.double.url());
    let api = KubeApi::from_kubeconfig_yaml(&yaml).await.unwrap();

    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    let evicted = ClusterApi::drain_node(&api, "agent-1", deadline)
        .await
        .unwrap();
    assert_eq!(evicted, 1);
    // DaemonSet and mirror pods stay (kubectl `--ignore-daemonsets`), as does server-0's.
    assert_eq!(
        pod_names(&client).await,
        ["agentd-x1", "api", "static-agent-1"]
    );
    let nodes: Api<Node> = Api::all(client.clone());
    let node = nodes.get("agent-1").await.unwrap();
    assert_eq!(node.spec.unwrap().unschedulable, Some(true));

    ClusterApi::forget_node(&api, "agent-1").await.unwrap();
    assert!(nodes.get_opt("agent-1").await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eviction_answers_as_the_api_server_does() {
    let lab = lab().await;
    let client = lab.client().await;
    populate(&client).await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    // A pod's node is selectable; on another kind that field is refused.
    let on_agent = pods
        .list(&ListParams::default().fields("spec.nodeName=agent-1"))
        .await
        .unwrap();
    assert_eq!(on_agent.items.len(), 3);
    let cms: Api<k8s_openapi::api::core::v1::ConfigMap> =
        Api::namespaced(client.clone(), "default");
    match cms
        .list(&ListParams::default().fields("spec.nodeName=agent-1"))
        .await
    {
        Err(kube::Error::Api(e)) => {
            assert_eq!(e.code, 400);
            assert!(e.message.contains("field label not supported"), "{e:?}");
        }
        other => panic!("{other:?}"),
    }
    // An eviction deletes the pod (no PodDisruptionBudget here).
    pods.evict("web", &EvictParams::default()).await.unwrap();
    assert!(pods.get_opt("web").await.unwrap().is_none());
    // A missing pod is 404, which `up` takes as "already gone".
    match pods.evict("web", &EvictParams::default()).await {
        Err(kube::Error::Api(e)) => assert_eq!(e.code, 404, "{e:?}"),
        other => panic!("{other:?}"),
    }
    // The body must name the pod of the URL (eviction.go).
    let req = http::Request::post("/api/v1/namespaces/default/pods/api/eviction")
        .header("content-type", "application/json")
        .body(
            serde_json::to_vec(&json!({
                "apiVersion": "policy/v1", "kind": "Eviction",
                "metadata": {"name": "other", "namespace": "default"},
            }))
            .unwrap(),
        )
        .unwrap();
    match client.request::<Value>(req).await {
        Err(kube::Error::Api(e)) => {
            assert_eq!(e.code, 400);
            assert_eq!(
                e.message,
                "name in URL does not match name in Eviction object"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(pods.get_opt("api").await.unwrap().is_some());
    let _ = pods.delete("api", &DeleteParams::default()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_drain_works_against_the_double() {
    let lab = lab().await;
    let Some(kubectl) = lab.kubectl() else {
        return;
    };
    let client = lab.client().await;
    populate(&client).await;
    let out = kubectl
        .ok(&[
            "drain",
            "agent-1",
            "--ignore-daemonsets",
            "--force",
            "--delete-emptydir-data",
            "--timeout=20s",
        ])
        .await;
    assert!(out.contains("drained"), "{out}");
    assert_eq!(
        pod_names(&client).await,
        ["agentd-x1", "api", "static-agent-1"]
    );
    kubectl.ok(&["delete", "node", "agent-1"]).await;
    let nodes: Api<Node> = Api::all(client.clone());
    assert!(nodes.get_opt("agent-1").await.unwrap().is_none());
}

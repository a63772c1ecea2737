//! ServiceAccount tokens on the API double (`tests/support/double/api/tokens.rs`): the token
//! controller fills a `kubernetes.io/service-account-token` Secret as kube-controller-manager
//! does, and the API accepts the token as kube-apiserver's legacy validator does: 401 for a
//! wrong token, and for the token of a deleted ServiceAccount.

use base64::Engine as _;
use k8s_openapi::api::core::v1::{Namespace, Secret, ServiceAccount};
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use serde_json::json;

use crate::double_util::{client_from_yaml, eventually, start};
use crate::support::double::DoubleOptions;

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// A kubeconfig that authenticates with a bearer token only.
fn token_kubeconfig(url: &str, ca_pem: &str, token: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: {url}\n    certificate-authority-data: {}\nusers:\n- name: u\n  user:\n    token: {token}\ncontexts:\n- name: c\n  context: {{cluster: c, user: u}}\ncurrent-context: c\n",
        b64(ca_pem)
    )
}

async fn list_code(url: &str, ca: &str, token: &str) -> u16 {
    let client = client_from_yaml(&token_kubeconfig(url, ca, token)).await;
    match Api::<Namespace>::all(client)
        .list(&ListParams::default())
        .await
    {
        Ok(_) => 200,
        Err(kube::Error::Api(s)) => s.code,
        Err(e) => panic!("{e}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_account_tokens_are_issued_accepted_and_revoked_with_their_account() {
    let lab = start(DoubleOptions::default()).await;
    let admin = lab.client().await;
    let (url, ca) = (lab.double.url(), lab.double.ca_pem.clone());
    let sas: Api<ServiceAccount> = Api::namespaced(admin.clone(), "kube-system");
    let secrets: Api<Secret> = Api::namespaced(admin.clone(), "kube-system");
    sas.create(
        &PostParams::default(),
        &serde_json::from_value(json!({"metadata": {"name": "argocd-manager"}})).unwrap(),
    )
    .await
    .unwrap();
    // As argo-cd `clusterauth.getOrCreateServiceAccountTokenSecret` makes it: no data.
    secrets
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "metadata": {"name": "argocd-manager-long-lived-token",
                             "annotations": {"kubernetes.io/service-account.name": "argocd-manager"}},
                "type": "kubernetes.io/service-account-token",
            }))
            .unwrap(),
        )
        .await
        .unwrap();
    let filled = eventually(5, "the token controller", || {
        let secrets = secrets.clone();
        async move {
            let s = secrets.get("argocd-manager-long-lived-token").await.ok()?;
            s.data.as_ref()?.get("token")?;
            Some(s)
        }
    })
    .await;
    let data = filled.data.unwrap();
    let token = String::from_utf8(data["token"].0.clone()).unwrap();
    assert_eq!(String::from_utf8(data["ca.crt"].0.clone()).unwrap(), ca);
    assert_eq!(data["namespace"].0, b"kube-system");
    assert_eq!(token.split('.').count(), 3, "JWT-shaped: {token}");
    let uid = sas
        .get("argocd-manager")
        .await
        .unwrap()
        .metadata
        .uid
        .unwrap();
    assert_eq!(
        filled.metadata.annotations.unwrap()["kubernetes.io/service-account.uid"],
        uid
    );

    assert_eq!(list_code(&url, &ca, &token).await, 200);
    assert_eq!(list_code(&url, &ca, &format!("{token}x")).await, 401);
    assert_eq!(list_code(&url, &ca, "not-a-token").await, 401);

    // A Secret naming an account that does not exist is deleted, never filled.
    secrets
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "metadata": {"name": "orphan", "annotations": {"kubernetes.io/service-account.name": "nobody"}},
                "type": "kubernetes.io/service-account-token",
            }))
            .unwrap(),
        )
        .await
        .unwrap();
    eventually(5, "the orphan token Secret to go", || {
        let secrets = secrets.clone();
        async move {
            secrets
                .get_opt("orphan")
                .await
                .unwrap()
                .is_none()
                .then_some(())
        }
    })
    .await;

    // Deleting the account revokes its token, and its token Secret goes with it.
    sas.delete("argocd-manager", &DeleteParams::default())
        .await
        .unwrap();
    assert_eq!(list_code(&url, &ca, &token).await, 401);
    eventually(5, "the token Secret to go with its account", || {
        let secrets = secrets.clone();
        async move {
            secrets
                .get_opt("argocd-manager-long-lived-token")
                .await
                .unwrap()
                .is_none()
                .then_some(())
        }
    })
    .await;
}

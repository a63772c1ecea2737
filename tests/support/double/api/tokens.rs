//! ServiceAccount tokens, as kube-controller-manager issues them and kube-apiserver accepts
//! them: the long-lived kind `argocd cluster add` asks for (argo-cd
//! `util/clusterauth/clusterauth.go`, `getOrCreateServiceAccountTokenSecret`: a Secret of type
//! `kubernetes.io/service-account-token` annotated with its ServiceAccount's name, then a poll
//! until the controller has filled `data.token`).
//!
//! - The token controller ([`spawn`]) does what kubernetes
//!   `pkg/controller/serviceaccount/tokens_controller.go` does: for such a Secret without a
//!   token (`syncSecret` → `generateTokenIfNeeded`) it writes `data.token`, `data.ca.crt` (the
//!   cluster CA, `rootCA`) and `data.namespace`, and records the ServiceAccount's uid in the
//!   `kubernetes.io/service-account.uid` annotation; a Secret whose ServiceAccount does not
//!   exist is deleted (`syncSecret`: "If the service account doesn't exist, delete the
//!   secret"); when a ServiceAccount is deleted its token Secrets go with it (`syncServiceAccount`
//!   → `deleteTokens`).
//! - Authentication ([`authenticate`]) is the legacy token validator's (kubernetes
//!   `pkg/serviceaccount/legacy.go`, `legacyValidator.Validate`): the token must be the one in
//!   a live Secret, whose ServiceAccount exists with the uid the Secret names. So a wrong
//!   token gets 401, and so does the token of a deleted ServiceAccount (even before the
//!   controller has deleted its Secret).
//!
//! The token is JWT-shaped (header, claims and signature, base64url, dot-separated) with the
//! legacy claims Argo CD parses (`ServiceAccountClaims` in `clusterauth.go`); the signature is
//! random bytes, since the double validates by lookup, as the legacy validator also does.

use std::sync::{Arc, Mutex};

use base64::Engine as _;
use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;

use super::apply::Scope;
use super::discovery::resolve;
use super::resource::{self, commit};
use super::store::{ChangeKind, Store};

pub const TOKEN_TYPE: &str = "kubernetes.io/service-account-token";
pub const SA_NAME: &str = "kubernetes.io/service-account.name";
pub const SA_UID: &str = "kubernetes.io/service-account.uid";
const MANAGER: &str = "kube-controller-manager";

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn b64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn decode(v: &Value) -> Option<String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(v.as_str()?)
        .ok()?;
    String::from_utf8(bytes).ok()
}

/// A new legacy ServiceAccount token.
fn new_token(ns: &str, secret: &str, sa: &str, uid: &str) -> String {
    let header = json!({"alg": "RS256", "kid": "kube-double"});
    let claims = json!({
        "iss": "kubernetes/serviceaccount",
        "kubernetes.io/serviceaccount/namespace": ns,
        "kubernetes.io/serviceaccount/secret.name": secret,
        "kubernetes.io/serviceaccount/service-account.name": sa,
        "kubernetes.io/serviceaccount/service-account.uid": uid,
        "sub": format!("system:serviceaccount:{ns}:{sa}"),
    });
    let sig: [u8; 32] = rand::random();
    format!(
        "{}.{}.{}",
        b64url(header.to_string().as_bytes()),
        b64url(claims.to_string().as_bytes()),
        b64url(&sig)
    )
}

fn gr(plural: &str) -> (String, String) {
    (String::new(), plural.to_string())
}

fn is_token_secret(obj: &Value) -> bool {
    obj["type"] == TOKEN_TYPE
}

/// Whether `token` is a live ServiceAccount token (see the module docs).
pub fn authenticate(store: &Store, token: &str) -> bool {
    store.list_ref(&gr("secrets")).any(|s| {
        if !is_token_secret(s) || decode(&s["data"]["token"]).as_deref() != Some(token) {
            return false;
        }
        let ns = s["metadata"]["namespace"].as_str().unwrap_or("");
        let annotations = &s["metadata"]["annotations"];
        let (Some(sa), Some(uid)) = (annotations[SA_NAME].as_str(), annotations[SA_UID].as_str())
        else {
            return false;
        };
        store
            .get(&gr("serviceaccounts"), ns, sa)
            .is_some_and(|a| a["metadata"]["uid"] == uid)
    })
}

/// Fill a token Secret, or delete it when its ServiceAccount is gone.
fn sync_secret(store: &Mutex<Store>, ca_pem: &str, ns: &str, name: &str) {
    let mut store = store.lock().unwrap();
    let Some(info) = resolve(&store, "", "v1", "secrets") else {
        return;
    };
    let Some(live) = store.get(&info.gr(), ns, name).cloned() else {
        return;
    };
    if !is_token_secret(&live) || live["data"]["token"].is_string() {
        return;
    }
    let Some(sa) = live["metadata"]["annotations"][SA_NAME].as_str() else {
        return;
    };
    let Some(account) = store.get(&gr("serviceaccounts"), ns, sa).cloned() else {
        let _ = resource::delete(&mut store, &info, ns, name, false);
        return;
    };
    let uid = account["metadata"]["uid"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let mut new = live.clone();
    new["metadata"]["annotations"][SA_UID] = json!(uid);
    if !new["data"].is_object() {
        new["data"] = json!({});
    }
    new["data"]["token"] = json!(b64(new_token(ns, name, sa, &uid).as_bytes()));
    new["data"]["ca.crt"] = json!(b64(ca_pem.as_bytes()));
    new["data"]["namespace"] = json!(b64(ns.as_bytes()));
    let _ = commit(
        &mut store,
        &info,
        Some(&live),
        new,
        Scope::Main { has_status: false },
        Some(MANAGER),
        false,
    );
}

/// Delete the token Secrets of a deleted ServiceAccount.
fn delete_tokens(store: &Mutex<Store>, ns: &str, sa: &str) {
    let mut store = store.lock().unwrap();
    let Some(info) = resolve(&store, "", "v1", "secrets") else {
        return;
    };
    let names: Vec<String> = store
        .list_ref(&info.gr())
        .filter(|s| {
            is_token_secret(s)
                && s["metadata"]["namespace"] == ns
                && s["metadata"]["annotations"][SA_NAME] == sa
        })
        .filter_map(|s| s["metadata"]["name"].as_str().map(str::to_string))
        .collect();
    for name in names {
        let _ = resource::delete(&mut store, &info, ns, &name, false);
    }
}

/// Run the token controller until aborted.
pub fn spawn(store: Arc<Mutex<Store>>, ca_pem: String) -> tokio::task::JoinHandle<()> {
    let mut rx = store.lock().unwrap().subscribe();
    // Secrets made before this start (a restarted server's store) are synced too.
    let pending: Vec<(String, String)> = store
        .lock()
        .unwrap()
        .list_ref(&gr("secrets"))
        .filter(|s| is_token_secret(s) && !s["data"]["token"].is_string())
        .map(|s| {
            (
                s["metadata"]["namespace"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
                s["metadata"]["name"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    tokio::spawn(async move {
        for (ns, name) in pending {
            sync_secret(&store, &ca_pem, &ns, &name);
        }
        loop {
            let change = match rx.recv().await {
                Ok(c) => c,
                Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => return,
            };
            if !change.group.is_empty() {
                continue;
            }
            match (change.resource.as_str(), change.kind) {
                ("secrets", ChangeKind::Added | ChangeKind::Modified)
                    if is_token_secret(&change.object) =>
                {
                    sync_secret(&store, &ca_pem, &change.namespace, &change.name)
                }
                ("serviceaccounts", ChangeKind::Deleted) => {
                    delete_tokens(&store, &change.namespace, &change.name)
                }
                _ => {}
            }
        }
    })
}

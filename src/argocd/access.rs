//! Reaching Argo CD from the host: the UI on a NodePort (plain HTTP, `server.insecure`), and
//! the initial admin password.

use std::time::Duration;

use k8s_openapi::api::core::v1::{Secret, Service};
use kube::api::{Api, PostParams};
use tokio::time::Instant;

use crate::lab::ARGOCD_UI_NODE_PORT;

/// The Secret argocd-server creates at its first start (`util/settings/settings.go`).
pub(crate) const INITIAL_ADMIN_SECRET: &str = "argocd-initial-admin-secret";

#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    #[error("Kubernetes API ({what}): {source}")]
    Api { what: String, source: kube::Error },
    #[error("the Service {0}/argocd-server has no port named http")]
    NoHttpPort(String),
    #[error("{namespace}/{INITIAL_ADMIN_SECRET} did not appear within {secs}s")]
    NoPassword { namespace: String, secs: u64 },
    #[error("{namespace}/{INITIAL_ADMIN_SECRET} has no `password` key")]
    BadSecret { namespace: String },
}

impl crate::diag::Hinted for AccessError {
    fn hint(&self) -> Option<String> {
        match self {
            Self::NoPassword { namespace, .. } => Some(format!(
                "argocd-server creates it when it first starts; check `kubectl -n {namespace} get pods`. If the admin password was changed, the secret is gone by design"
            )),
            _ => None,
        }
    }
}

impl crate::diag::Classified for AccessError {
    fn kind(&self) -> crate::diag::Kind {
        match self {
            Self::NoPassword { .. } => crate::diag::Kind::Timeout,
            _ => crate::diag::Kind::Failed,
        }
    }
}

/// Make `argocd-server`'s plain-HTTP port a NodePort at [`ARGOCD_UI_NODE_PORT`], which the
/// cluster publishes on 127.0.0.1 at `argocd.ui.port`: no port-forward process to keep alive.
/// Read-modify-replace keeps every other port as it is on any API server.
pub(crate) async fn expose_ui(client: &kube::Client, namespace: &str) -> Result<(), AccessError> {
    let services: Api<Service> = Api::namespaced(client.clone(), namespace);
    let err = |source| AccessError::Api {
        what: format!("Service {namespace}/argocd-server"),
        source,
    };
    for attempt in 0..5 {
        let mut svc = services.get("argocd-server").await.map_err(err)?;
        let spec = svc.spec.get_or_insert_with(Default::default);
        let ports = spec.ports.get_or_insert_with(Vec::new);
        let http = ports
            .iter_mut()
            .find(|p| p.name.as_deref() == Some("http"))
            .ok_or_else(|| AccessError::NoHttpPort(namespace.to_string()))?;
        let want = i32::from(ARGOCD_UI_NODE_PORT);
        if spec.type_.as_deref() == Some("NodePort") && http.node_port == Some(want) {
            return Ok(());
        }
        http.node_port = Some(want);
        spec.type_ = Some("NodePort".into());
        let pp = PostParams {
            field_manager: Some("playground".into()),
            ..Default::default()
        };
        match services.replace("argocd-server", &pp, &svc).await {
            Ok(_) => return Ok(()),
            Err(kube::Error::Api(s)) if s.code == 409 && attempt < 4 => continue,
            Err(e) => return Err(err(e)),
        }
    }
    Ok(())
}

/// The initial admin password, retried until `deadline`: argocd-server writes the Secret only
/// after it has started (argocd-diff-preview #32).
pub(crate) async fn admin_password(
    client: &kube::Client,
    namespace: &str,
    deadline: Instant,
) -> Result<String, AccessError> {
    let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let secs = deadline.saturating_duration_since(Instant::now()).as_secs();
    loop {
        match secrets.get_opt(INITIAL_ADMIN_SECRET).await {
            Ok(Some(s)) => {
                let bytes = s
                    .data
                    .and_then(|d| d.get("password").cloned())
                    .ok_or_else(|| AccessError::BadSecret {
                        namespace: namespace.into(),
                    })?;
                return String::from_utf8(bytes.0).map_err(|_| AccessError::BadSecret {
                    namespace: namespace.into(),
                });
            }
            Ok(None) => {}
            Err(e) if Instant::now() >= deadline => {
                return Err(AccessError::Api {
                    what: format!("Secret {namespace}/{INITIAL_ADMIN_SECRET}"),
                    source: e,
                });
            }
            Err(_) => {}
        }
        if Instant::now() >= deadline {
            return Err(AccessError::NoPassword {
                namespace: namespace.into(),
                secs,
            });
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

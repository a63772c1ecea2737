//! Ask Argo CD to look at Git now instead of at its next poll (about 3 minutes by default).
//!
//! Argo CD's application controller watches Applications; when one carries the annotation
//! `argocd.argoproj.io/refresh` it compares the app with Git at once (`normal`), or also
//! regenerates the manifests without its cache (`hard`), and then removes the annotation.
//! We set it with a JSON merge patch, which touches nothing else of the object and needs
//! no resourceVersion: a refresh can never conflict with the controller's own writes.

use kube::api::{Api, DynamicObject, Patch, PatchParams};

use super::apps::{DEFAULT_ROOT, application_resource};
use crate::kube::api::KubeApi;

/// The annotation Argo CD reads (`application_annotations.go`).
pub const REFRESH_ANNOTATION: &str = "argocd.argoproj.io/refresh";

/// What can go wrong asking for a refresh.
#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    #[error("no Application {app} in namespace {namespace}")]
    NotFound { namespace: String, app: String },
    #[error("annotating Application {app} in namespace {namespace} for a refresh: {source}")]
    Api {
        namespace: String,
        app: String,
        #[source]
        source: kube::Error,
    },
}

impl crate::diag::Hinted for RefreshError {
    fn hint(&self) -> Option<String> {
        match self {
            Self::NotFound { .. } => {
                Some("`playground status` lists the lab's Applications".to_string())
            }
            Self::Api { .. } => Some("is the lab up? `playground status` checks".to_string()),
        }
    }
}

impl crate::diag::Classified for RefreshError {}

/// Set `argocd.argoproj.io/refresh: normal|hard` on `app` (the root, [`DEFAULT_ROOT`], when
/// `None`). Returns the name of the annotated Application.
pub async fn refresh(
    api: &KubeApi,
    namespace: &str,
    app: Option<&str>,
    hard: bool,
) -> Result<String, RefreshError> {
    let name = app.unwrap_or(DEFAULT_ROOT);
    let apps: Api<DynamicObject> =
        Api::namespaced_with(api.client().clone(), namespace, &application_resource());
    let patch = serde_json::json!({
        "metadata": {"annotations": {REFRESH_ANNOTATION: if hard { "hard" } else { "normal" }}}
    });
    match apps
        .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
    {
        Ok(_) => Ok(name.to_string()),
        Err(kube::Error::Api(s)) if s.code == 404 => Err(RefreshError::NotFound {
            namespace: namespace.to_string(),
            app: name.to_string(),
        }),
        Err(source) => Err(RefreshError::Api {
            namespace: namespace.to_string(),
            app: name.to_string(),
            source,
        }),
    }
}

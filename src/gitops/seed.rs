//! Seeding the lab from Git: where Argo CD reads the repository, and the root Application.
//!
//! - **Local repo** (the default): the repository is mounted read-only into every node at
//!   [`LOCAL_REPO_MOUNT`], and `argocd-repo-server` gets the same directory as a hostPath
//!   volume, so `file:///playground` works as a repoURL without pushing anywhere. A fixed path
//!   (not the host path) lets files in Git name the lab's own repo the same way on every
//!   machine. Git refuses repositories owned by another user unless listed in
//!   `safe.directory`; we set that through `GIT_CONFIG_COUNT`/`KEY`/`VALUE` in the environment
//!   rather than editing any config file in the image.
//! - **Remote repo** (https or ssh URL): a repository Secret is created from the credentials
//!   *before* the root Application exists, so the first reconcile already succeeds. Secrets
//!   come from environment variables or a key file, never from argv, and are never logged.
//! - **The root Application** `root` points at `gitops.path`, syncs automatically with prune and
//!   self-heal, and creates namespaces.
//!
//! Finalizers, deliberately: the root carries **no** `resources-finalizer`, so deleting it (by
//! hand, or by a broken render) never cascades into deleting the whole lab (argo-cd #6046,
//! autopilot #494). Child Applications in the sample lab do carry it, so removing an app from
//! Git removes its workloads, which is what a GitOps user expects. Tearing the whole lab down
//! is `playground drop`, which removes the cluster itself.

use std::path::{Path, PathBuf};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

use crate::config::{GitCredentials, GitOpsSpec};

/// Where a local repository is mounted in the nodes and in `argocd-repo-server`.
pub const LOCAL_REPO_MOUNT: &str = "/playground";
/// The repoURL of a local repository, as Argo CD sees it.
pub const LOCAL_REPO_URL: &str = "file:///playground";
/// The name of the root Application.
pub const ROOT_APP: &str = "root";
/// The name of the repository Secret for a remote repo.
pub const REPO_SECRET: &str = "playground-repo";
/// The volume name used in the repo-server patch.
pub const REPO_VOLUME: &str = "playground-repo";
/// Our field manager.
pub const MANAGER: &str = "playground";

/// Where Argo CD reads the lab's apps from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RepoSource {
    /// A repository on this machine, mounted into the nodes.
    Local { root: PathBuf },
    /// A repository Argo CD fetches over the network.
    Remote {
        url: String,
        credentials: Option<Credentials>,
    },
}

/// Credentials for a remote repository, read from the environment or a file. `Debug` hides
/// the secret parts so they never reach a log.
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    Basic { username: String, password: String },
    SshKey { private_key: String },
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::Basic { username, .. } => {
                write!(f, "Basic {{ username: {username:?}, password: <hidden> }}")
            }
            Credentials::SshKey { .. } => write!(f, "SshKey {{ <hidden> }}"),
        }
    }
}

/// What can go wrong while seeding.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error(
        "gitops.credentials names the environment variable {0}, which is not set\n  hint: export {0}=… before `playground up` (secrets are never read from the file or argv)"
    )]
    MissingEnv(String),
    #[error(
        "cannot read the ssh key {path}: {source}\n  hint: check gitops.credentials.sshKeyFile"
    )]
    KeyFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("gitops.repo {0:?} is neither a local path nor an https:// or ssh URL")]
    BadRepo(String),
    #[error("Kubernetes API while seeding {what}: {source}")]
    Api { what: String, source: kube::Error },
    #[error("argocd-repo-server has no container named argocd-repo-server to patch")]
    NoRepoServerContainer,
}

fn api_err(what: impl Into<String>) -> impl FnOnce(kube::Error) -> SeedError {
    let what = what.into();
    move |source| SeedError::Api { what, source }
}

/// Whether `repo` names a remote repository.
pub fn is_remote(repo: &str) -> bool {
    repo.starts_with("https://")
        || repo.starts_with("http://")
        || repo.starts_with("ssh://")
        || looks_like_scp(repo)
}

fn looks_like_scp(repo: &str) -> bool {
    // git@host:org/repo.git
    match repo.split_once(':') {
        Some((left, right)) => {
            left.contains('@') && !left.contains('/') && !right.starts_with("//")
        }
        None => false,
    }
}

/// Read the credentials the spec names. Called before anything is created, so a missing
/// variable stops `up` early.
pub fn read_credentials(spec: &GitOpsSpec, base: &Path) -> Result<Option<Credentials>, SeedError> {
    match &spec.credentials {
        None => Ok(None),
        Some(GitCredentials::Env {
            username_env,
            password_env,
        }) => {
            let get = |name: &str| {
                std::env::var(name).map_err(|_| SeedError::MissingEnv(name.to_string()))
            };
            Ok(Some(Credentials::Basic {
                username: get(username_env)?,
                password: get(password_env)?,
            }))
        }
        Some(GitCredentials::SshKeyFile(path)) => {
            let path = if path.is_absolute() {
                path.clone()
            } else {
                base.join(path)
            };
            let private_key =
                std::fs::read_to_string(&path).map_err(|source| SeedError::KeyFile {
                    path: path.clone(),
                    source,
                })?;
            Ok(Some(Credentials::SshKey { private_key }))
        }
    }
}

/// The repository Secret Argo CD reads for a remote repo (label
/// `argocd.argoproj.io/secret-type: repository`).
pub fn repo_secret(namespace: &str, url: &str, credentials: Option<&Credentials>) -> Value {
    let mut data = serde_json::Map::new();
    data.insert("type".into(), json!("git"));
    data.insert("url".into(), json!(url));
    match credentials {
        Some(Credentials::Basic { username, password }) => {
            data.insert("username".into(), json!(username));
            data.insert("password".into(), json!(password));
        }
        Some(Credentials::SshKey { private_key }) => {
            data.insert("sshPrivateKey".into(), json!(private_key));
        }
        None => {}
    }
    json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": REPO_SECRET,
            "namespace": namespace,
            "labels": {
                "argocd.argoproj.io/secret-type": "repository",
                "app.kubernetes.io/managed-by": "playground",
            },
        },
        "type": "Opaque",
        "stringData": data,
    })
}

/// The root Application (see the module docs for the finalizer choice).
pub fn root_application(namespace: &str, repo_url: &str, revision: &str, path: &str) -> Value {
    json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {
            "name": ROOT_APP,
            "namespace": namespace,
            "labels": {"app.kubernetes.io/managed-by": "playground"},
        },
        "spec": {
            "project": "default",
            "source": {
                "repoURL": repo_url,
                "targetRevision": revision,
                "path": path,
                "directory": {"recurse": true},
            },
            "destination": {"server": "https://kubernetes.default.svc", "namespace": namespace},
            "syncPolicy": {
                "automated": {"prune": true, "selfHeal": true},
                "syncOptions": ["CreateNamespace=true"],
            },
        },
    })
}

/// Add (or keep) the read-only hostPath volume, its mount and the `safe.directory`
/// environment to one Deployment's pod spec. Idempotent: entries are upserted by name.
pub fn patch_repo_server_spec(deployment: &mut Value, container: &str) -> Result<(), SeedError> {
    let spec = &mut deployment["spec"]["template"]["spec"];
    upsert(
        spec,
        "volumes",
        json!({"name": REPO_VOLUME, "hostPath": {"path": LOCAL_REPO_MOUNT, "type": "Directory"}}),
    );
    let containers = spec["containers"]
        .as_array_mut()
        .ok_or(SeedError::NoRepoServerContainer)?;
    let c = containers
        .iter_mut()
        .find(|c| c["name"] == container)
        .ok_or(SeedError::NoRepoServerContainer)?;
    upsert(
        c,
        "volumeMounts",
        json!({"name": REPO_VOLUME, "mountPath": LOCAL_REPO_MOUNT, "readOnly": true}),
    );
    for (name, value) in [
        ("GIT_CONFIG_COUNT", "1"),
        ("GIT_CONFIG_KEY_0", "safe.directory"),
        ("GIT_CONFIG_VALUE_0", LOCAL_REPO_MOUNT),
    ] {
        upsert(c, "env", json!({"name": name, "value": value}));
    }
    Ok(())
}

fn upsert(obj: &mut Value, list: &str, item: Value) {
    if !obj[list].is_array() {
        obj[list] = json!([]);
    }
    let items = obj[list].as_array_mut().expect("just made an array");
    match items.iter_mut().find(|i| i["name"] == item["name"]) {
        Some(existing) => *existing = item,
        None => items.push(item),
    }
}

/// Patch `argocd-repo-server` so it can read the local repository. Read, edit, replace with
/// the resourceVersion read (optimistic concurrency, retried on conflict): a strategic merge
/// or server-side apply of a partial container list is not portable across API servers.
pub async fn patch_repo_server(client: &kube::Client, namespace: &str) -> Result<(), SeedError> {
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), namespace);
    for attempt in 0..5 {
        let current = deployments
            .get("argocd-repo-server")
            .await
            .map_err(api_err("Deployment argocd-repo-server"))?;
        let mut value = serde_json::to_value(&current).expect("a Deployment serializes");
        let before = value.clone();
        patch_repo_server_spec(&mut value, "argocd-repo-server")?;
        if value == before {
            return Ok(());
        }
        let updated: Deployment = serde_json::from_value(value).expect("still a Deployment");
        match deployments
            .replace(
                "argocd-repo-server",
                &PostParams {
                    field_manager: Some(MANAGER.into()),
                    ..Default::default()
                },
                &updated,
            )
            .await
        {
            Ok(_) => return Ok(()),
            Err(kube::Error::Api(s)) if s.code == 409 && attempt < 4 => continue,
            Err(e) => return Err(api_err("Deployment argocd-repo-server")(e)),
        }
    }
    Ok(())
}

/// Create or update the repository Secret.
pub async fn apply_repo_secret(
    client: &kube::Client,
    namespace: &str,
    secret: &Value,
) -> Result<(), SeedError> {
    let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
    secrets
        .patch(
            REPO_SECRET,
            &PatchParams::apply(MANAGER).force(),
            &Patch::Apply(secret),
        )
        .await
        .map_err(api_err(format!("Secret {namespace}/{REPO_SECRET}")))?;
    Ok(())
}

/// Create or update the root Application.
pub async fn apply_root(
    client: &kube::Client,
    namespace: &str,
    app: &Value,
) -> Result<(), SeedError> {
    let apps: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        namespace,
        &super::apps::application_resource(),
    );
    apps.patch(
        ROOT_APP,
        &PatchParams::apply(MANAGER).force(),
        &Patch::Apply(app),
    )
    .await
    .map_err(api_err(format!("Application {namespace}/{ROOT_APP}")))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_urls_are_told_from_paths() {
        for remote in [
            "https://github.com/a/b.git",
            "ssh://git@host/a.git",
            "git@github.com:a/b.git",
        ] {
            assert!(is_remote(remote), "{remote}");
        }
        for local in [".", "../lab", "/home/me/lab", "C:relative"] {
            assert!(!is_remote(local), "{local}");
        }
    }

    #[test]
    fn the_repo_secret_carries_the_label_and_the_credentials() {
        let basic = Credentials::Basic {
            username: "me".into(),
            password: "s3cret".into(),
        };
        let s = repo_secret("argocd", "https://git.example/lab.git", Some(&basic));
        assert_eq!(
            s["metadata"]["labels"]["argocd.argoproj.io/secret-type"],
            "repository"
        );
        assert_eq!(s["stringData"]["url"], "https://git.example/lab.git");
        assert_eq!(s["stringData"]["username"], "me");
        assert_eq!(s["stringData"]["password"], "s3cret");
        assert_eq!(s["stringData"]["type"], "git");
        let ssh = Credentials::SshKey {
            private_key: "-----BEGIN KEY-----".into(),
        };
        let s = repo_secret("lab", "git@host:a/b.git", Some(&ssh));
        assert_eq!(s["metadata"]["namespace"], "lab");
        assert_eq!(s["stringData"]["sshPrivateKey"], "-----BEGIN KEY-----");
        assert!(s["stringData"].get("password").is_none());
        // Debug output never shows the secret.
        assert!(!format!("{basic:?}{ssh:?}").contains("s3cret"));
        assert!(!format!("{ssh:?}").contains("BEGIN"));
    }

    #[test]
    fn the_root_application_has_no_finalizer_and_syncs_itself() {
        let app = root_application("argocd", LOCAL_REPO_URL, "HEAD", "apps");
        assert_eq!(app["metadata"]["name"], "root");
        assert!(app["metadata"].get("finalizers").is_none());
        assert_eq!(app["spec"]["source"]["repoURL"], "file:///playground");
        assert_eq!(app["spec"]["source"]["path"], "apps");
        assert_eq!(
            app["spec"]["syncPolicy"]["automated"],
            json!({"prune": true, "selfHeal": true})
        );
        assert_eq!(
            app["spec"]["syncPolicy"]["syncOptions"],
            json!(["CreateNamespace=true"])
        );
    }

    #[test]
    fn the_repo_server_patch_is_idempotent() {
        let mut d = json!({"spec": {"template": {"spec": {
            "volumes": [{"name": "tmp", "emptyDir": {}}],
            "containers": [{"name": "argocd-repo-server", "image": "x", "env": [{"name": "A", "value": "1"}]}]
        }}}});
        patch_repo_server_spec(&mut d, "argocd-repo-server").unwrap();
        let once = d.clone();
        patch_repo_server_spec(&mut d, "argocd-repo-server").unwrap();
        assert_eq!(d, once);
        let spec = &d["spec"]["template"]["spec"];
        assert_eq!(spec["volumes"].as_array().unwrap().len(), 2);
        assert_eq!(spec["volumes"][1]["hostPath"]["path"], "/playground");
        let c = &spec["containers"][0];
        assert_eq!(c["image"], "x");
        assert_eq!(
            c["volumeMounts"][0],
            json!({"name": "playground-repo", "mountPath": "/playground", "readOnly": true})
        );
        let env: Vec<(&str, &str)> = c["env"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["name"].as_str().unwrap(), e["value"].as_str().unwrap()))
            .collect();
        assert_eq!(
            env,
            [
                ("A", "1"),
                ("GIT_CONFIG_COUNT", "1"),
                ("GIT_CONFIG_KEY_0", "safe.directory"),
                ("GIT_CONFIG_VALUE_0", "/playground")
            ]
        );
    }
}

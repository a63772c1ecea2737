//! Seeding the lab from Git: where Argo CD reads the repository, and the root Application.
//!
//! - **Local repo** (the default): the repository is mounted read-only into every node at
//!   [`LOCAL_REPO_MOUNT`], and `argocd-repo-server` gets the same directory as a hostPath
//!   volume, so `file:///playground` works as a repoURL without pushing anywhere. A fixed path
//!   (not the host path) lets files in Git name the lab's own repo the same way on every
//!   machine. The volume is written into the install manifest before it is applied
//!   ([`patch_repo_server_spec`], called by `manifest::prepare`), so the repo-server's first
//!   pods already have it: patching the live Deployment afterwards started a second rollout,
//!   and the root Application met the old pod without the mount.
//!
//!   The repository belongs to the host user, and repo-server runs as uid 999. Argo CD fetches
//!   it with `git fetch file:///playground`, whose `git-upload-pack` checks the ownership of
//!   the *gitdir* `/playground/.git` on the git releases between 2.35.2 and 2.45.1 (older
//!   Argo CD images); newer ones skip the check for upload-pack. [`repo_gitconfig`] lists both
//!   paths in `safe.directory`, in a file mounted from the ConfigMap [`GITCONFIG_CONFIGMAP`]
//!   and named by `GIT_CONFIG_GLOBAL`. Not through `GIT_CONFIG_COUNT`/`KEY_n`/`VALUE_n`:
//!   Argo CD appends its own `GIT_CONFIG_COUNT=2 …` after the container's environment to
//!   every git command it runs, and the last duplicate wins (`argoproj/argo-cd`
//!   `util/git/client.go`, `runCmdOutput` and `builtinGitConfig`, v3.5.1). It sets
//!   `HOME=/dev/null` there too, so `~/.gitconfig` is never read, but it never sets
//!   `GIT_CONFIG_GLOBAL`.
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

use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use serde_json::{Value, json};

use crate::config::{GitCredentials, GitOpsSpec};

pub(crate) use crate::lab::LOCAL_REPO_MOUNT;
/// The repoURL of a local repository, as Argo CD sees it.
pub(crate) const LOCAL_REPO_URL: &str = "file:///playground";
/// The name of the root Application.
pub(crate) const ROOT_APP: &str = "root";
/// The name of the repository Secret for a remote repo.
pub(crate) const REPO_SECRET: &str = "playground-repo";
/// The volume name used in the repo-server patch.
pub(crate) const REPO_VOLUME: &str = "playground-repo";
/// The ConfigMap holding [`repo_gitconfig`], added to the install manifest for a local repo.
pub(crate) const GITCONFIG_CONFIGMAP: &str = "playground-gitconfig";
/// Its volume in the repo-server's pod.
pub(crate) const GITCONFIG_VOLUME: &str = "playground-gitconfig";
/// Where the repo-server container sees it (a directory of its own: a ConfigMap volume
/// mounted without `subPath` hides what else is in the directory).
pub(crate) const GITCONFIG_DIR: &str = "/etc/playground-git";
/// The key of the ConfigMap, so the file is [`GITCONFIG_DIR`]`/gitconfig`.
pub(crate) const GITCONFIG_KEY: &str = "gitconfig";
/// The container of `argocd-repo-server` that runs git.
pub(crate) const REPO_SERVER: &str = "argocd-repo-server";
/// Our field manager.
pub(crate) const MANAGER: &str = "playground";

/// Where Argo CD reads the lab's apps from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RepoSource {
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
pub(crate) enum Credentials {
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
    #[error("gitops.credentials names the environment variable {0}, which is not set")]
    MissingEnv(String),
    #[error("cannot read the ssh key {path}: {source}")]
    KeyFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("Kubernetes API while seeding {what}: {source}")]
    Api { what: String, source: kube::Error },
    #[error(
        "the Argo CD manifest has no Deployment argocd-repo-server with a container argocd-repo-server, so the local repository cannot be mounted into it"
    )]
    NoRepoServerContainer,
}

impl crate::diag::Hinted for SeedError {
    fn hint(&self) -> Option<String> {
        match self {
            Self::MissingEnv(var) => Some(format!("export {var}=… before `playground up` (secrets are never read from the file or argv)")),
            Self::KeyFile { .. } => Some("check gitops.credentials.sshKeyFile".to_string()),
            Self::NoRepoServerContainer => Some("use the release's install.yaml (drop `argocd.manifest`), or set gitops.repo to a remote URL".to_string()),
            _ => None,
        }
    }
}

fn api_err(what: impl Into<String>) -> impl FnOnce(kube::Error) -> SeedError {
    let what = what.into();
    move |source| SeedError::Api { what, source }
}

/// Read the credentials the spec names. Called before anything is created, so a missing
/// variable stops `up` early.
pub(crate) fn read_credentials(
    spec: &GitOpsSpec,
    base: &Path,
) -> Result<Option<Credentials>, SeedError> {
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
pub(crate) fn repo_secret(namespace: &str, url: &str, credentials: Option<&Credentials>) -> Value {
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

/// What the root Application points at.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RootSpec {
    pub(crate) repo_url: String,
    pub(crate) revision: String,
    pub(crate) path: String,
    /// `gitops.project`.
    pub(crate) project: String,
    /// `helm` / `kustomize` / `directory`, merged into `spec.source`
    /// ([`crate::gitops::source::source_fields`]).
    pub(crate) source_fields: serde_json::Map<String, Value>,
}

/// The root Application (see the module docs for the finalizer choice).
pub(crate) fn root_application(namespace: &str, root: &RootSpec) -> Value {
    let mut source = json!({
        "repoURL": root.repo_url,
        "targetRevision": root.revision,
        "path": root.path,
    });
    if let Some(m) = source.as_object_mut() {
        m.extend(root.source_fields.clone());
    }
    json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {
            "name": ROOT_APP,
            "namespace": namespace,
            "labels": {"app.kubernetes.io/managed-by": "playground"},
        },
        "spec": {
            "project": root.project,
            "source": source,
            "destination": {"server": "https://kubernetes.default.svc", "namespace": namespace},
            "syncPolicy": {
                "automated": {"prune": true, "selfHeal": true},
                "syncOptions": ["CreateNamespace=true"],
            },
        },
    })
}

/// The global git config of the repo-server: the mounted repository, as a worktree and as
/// the gitdir upload-pack enters, is a safe directory (see the module docs).
pub(crate) fn repo_gitconfig(mount: &str) -> String {
    format!("[safe]\n\tdirectory = {mount}\n\tdirectory = {mount}/.git\n")
}

/// The ConfigMap [`GITCONFIG_CONFIGMAP`], without a namespace (the install's default applies).
pub(crate) fn gitconfig_configmap() -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": GITCONFIG_CONFIGMAP,
            "labels": {
                "app.kubernetes.io/managed-by": "playground",
                "app.kubernetes.io/part-of": "argocd",
            },
        },
        "data": {GITCONFIG_KEY: repo_gitconfig(LOCAL_REPO_MOUNT)},
    })
}

/// The path `GIT_CONFIG_GLOBAL` names.
pub(crate) fn gitconfig_path() -> String {
    format!("{GITCONFIG_DIR}/{GITCONFIG_KEY}")
}

/// Add (or keep) the read-only hostPath volume of the repository, the gitconfig volume, their
/// mounts and `GIT_CONFIG_GLOBAL` to one Deployment's pod spec (`deployment` is the whole
/// object). Idempotent: entries are upserted by name.
pub(crate) fn patch_repo_server_spec(
    deployment: &mut Value,
    container: &str,
) -> Result<(), SeedError> {
    let spec = &mut deployment["spec"]["template"]["spec"];
    if !spec.is_object() {
        return Err(SeedError::NoRepoServerContainer);
    }
    upsert(
        spec,
        "volumes",
        json!({"name": REPO_VOLUME, "hostPath": {"path": LOCAL_REPO_MOUNT, "type": "Directory"}}),
    );
    upsert(
        spec,
        "volumes",
        json!({"name": GITCONFIG_VOLUME, "configMap": {"name": GITCONFIG_CONFIGMAP}}),
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
    upsert(
        c,
        "volumeMounts",
        json!({"name": GITCONFIG_VOLUME, "mountPath": GITCONFIG_DIR, "readOnly": true}),
    );
    upsert(
        c,
        "env",
        json!({"name": "GIT_CONFIG_GLOBAL", "value": gitconfig_path()}),
    );
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

/// Create or update the repository Secret.
pub(crate) async fn apply_repo_secret(
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
pub(crate) async fn apply_root(
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
        let app = root_application(
            "argocd",
            &RootSpec {
                repo_url: LOCAL_REPO_URL.into(),
                revision: "HEAD".into(),
                path: "apps".into(),
                project: "playground-project".into(),
                source_fields: [("helm".to_string(), json!({"valueFiles": ["local.yaml"]}))]
                    .into_iter()
                    .collect(),
            },
        );
        assert_eq!(app["metadata"]["name"], "root");
        assert_eq!(app["spec"]["project"], "playground-project");
        assert_eq!(
            app["spec"]["source"]["helm"],
            json!({"valueFiles": ["local.yaml"]})
        );
        assert!(app["spec"]["source"].get("directory").is_none());
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
        patch_repo_server_spec(&mut d, REPO_SERVER).unwrap();
        let once = d.clone();
        patch_repo_server_spec(&mut d, REPO_SERVER).unwrap();
        assert_eq!(d, once);
        let spec = &d["spec"]["template"]["spec"];
        assert_eq!(
            spec["volumes"],
            json!([
                {"name": "tmp", "emptyDir": {}},
                {"name": "playground-repo", "hostPath": {"path": "/playground", "type": "Directory"}},
                {"name": "playground-gitconfig", "configMap": {"name": "playground-gitconfig"}},
            ])
        );
        let c = &spec["containers"][0];
        assert_eq!(c["image"], "x");
        assert_eq!(
            c["volumeMounts"],
            json!([
                {"name": "playground-repo", "mountPath": "/playground", "readOnly": true},
                {"name": "playground-gitconfig", "mountPath": "/etc/playground-git", "readOnly": true},
            ])
        );
        assert_eq!(
            c["env"],
            json!([
                {"name": "A", "value": "1"},
                {"name": "GIT_CONFIG_GLOBAL", "value": "/etc/playground-git/gitconfig"},
            ])
        );
        let cm = gitconfig_configmap();
        assert_eq!(cm["metadata"]["name"], GITCONFIG_CONFIGMAP);
        assert_eq!(cm["data"]["gitconfig"], repo_gitconfig("/playground"));

        let mut no_container =
            json!({"spec": {"template": {"spec": {"containers": [{"name": "other"}]}}}});
        assert!(matches!(
            patch_repo_server_spec(&mut no_container, REPO_SERVER),
            Err(SeedError::NoRepoServerContainer)
        ));
    }

    /// The environment git runs with under argocd-repo-server, built the way Argo CD v3.5.1
    /// builds it (`util/git/client.go`, `runCmdOutput`): the process environment (the
    /// container's `env`), then `HOME=/dev/null`, `GIT_LFS_SKIP_SMUDGE`,
    /// `GIT_TERMINAL_PROMPT` and the builtin git config (`builtinGitConfig`, on by default),
    /// appended; Go's `os/exec` keeps the last value of a duplicated name (`dedupEnv`).
    fn argo_git_env(container_env: &Value) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = container_env
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| {
                let s = |v: &Value| v.as_str().unwrap().to_string();
                (s(&e["name"]), s(&e["value"]))
            })
            .collect();
        for (k, v) in [
            ("HOME", "/dev/null"),
            ("GIT_LFS_SKIP_SMUDGE", "1"),
            ("GIT_TERMINAL_PROMPT", "false"),
            ("GIT_CONFIG_COUNT", "2"),
            ("GIT_CONFIG_KEY_0", "maintenance.autoDetach"),
            ("GIT_CONFIG_VALUE_0", "false"),
            ("GIT_CONFIG_KEY_1", "gc.autoDetach"),
            ("GIT_CONFIG_VALUE_1", "false"),
        ] {
            env.push((k.into(), v.into()));
        }
        let mut last_wins: Vec<(String, String)> = Vec::new();
        for (k, v) in env {
            last_wins.retain(|(name, _)| *name != k);
            last_wins.push((k, v));
        }
        last_wins
    }

    /// The `safe.directory` list real git reads under `env`, with the ConfigMap volume played
    /// by a temp dir holding [`repo_gitconfig`].
    fn safe_directories(env: &[(String, String)]) -> Vec<String> {
        let volume = tempfile::tempdir().unwrap();
        let file = volume.path().join(GITCONFIG_KEY);
        std::fs::write(&file, repo_gitconfig(LOCAL_REPO_MOUNT)).unwrap();
        let out = std::process::Command::new("git")
            .args(["config", "--get-all", "safe.directory"])
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            // The host's /etc/gitconfig is not the image's.
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .envs(env.iter().map(|(k, v)| {
                let mounted = k == "GIT_CONFIG_GLOBAL" && *v == gitconfig_path();
                (
                    k.clone(),
                    if mounted {
                        file.display().to_string()
                    } else {
                        v.clone()
                    },
                )
            }))
            .current_dir(volume.path())
            .output()
            .expect("git runs");
        // Exit 1: the key is not set anywhere.
        assert!(
            out.status.code().is_some_and(|c| c <= 1),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn safe_directory_survives_argo_cds_own_git_environment() {
        let mut d = json!({"spec": {"template": {"spec": {
            "containers": [{"name": "argocd-repo-server", "env": [{"name": "ARGOCD_RECONCILIATION_TIMEOUT", "value": "180s"}]}]
        }}}});
        patch_repo_server_spec(&mut d, REPO_SERVER).unwrap();
        let env = argo_git_env(&d["spec"]["template"]["spec"]["containers"][0]["env"]);
        let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        // Argo CD's own config is untouched, and our file is still named.
        assert_eq!(get("GIT_CONFIG_COUNT"), Some("2"));
        assert_eq!(get("HOME"), Some("/dev/null"));
        assert_eq!(
            get("GIT_CONFIG_GLOBAL"),
            Some("/etc/playground-git/gitconfig")
        );
        // upload-pack checks the gitdir; a worktree check names the top.
        assert_eq!(safe_directories(&env), ["/playground", "/playground/.git"]);

        // What the lab used to set is overwritten by Argo CD's builtin config: git sees no
        // safe.directory at all.
        let old = json!([
            {"name": "GIT_CONFIG_COUNT", "value": "1"},
            {"name": "GIT_CONFIG_KEY_0", "value": "safe.directory"},
            {"name": "GIT_CONFIG_VALUE_0", "value": "/playground"},
        ]);
        let env = argo_git_env(&old);
        assert_eq!(
            env.iter().find(|(n, _)| n == "GIT_CONFIG_KEY_0").unwrap().1,
            "maintenance.autoDetach"
        );
        assert!(safe_directories(&env).is_empty());
    }
}

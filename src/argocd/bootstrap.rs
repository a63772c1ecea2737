//! The GitOps half of `up`, in two stages:
//!
//! - [`prepare`] runs before anything is created: it resolves the repository (a local repo and
//!   the commit its revision names, or a remote URL and its credentials), loads and verifies the
//!   Argo CD manifest, and collects warnings (uncommitted changes Argo CD will not see). Any
//!   error here stops `up` with nothing made.
//!   For a local repository, the manifest is also prepared once here, so a custom manifest
//!   with no `argocd-repo-server` to mount the repository into is refused before anything
//!   exists.
//! - [`bootstrap`] runs against a ready API: install Argo CD (for a local repository with the
//!   repo-server's mount already in the manifest, so its first pods have it and the root
//!   Application never meets a pod without it), expose its UI, give a remote repository its
//!   Secret, create the root Application, and wait until the lab is Synced and Healthy.

use std::path::{Path, PathBuf};

use tokio::time::Instant;

use crate::config::Lab;
use crate::error::{Error, Result};
use crate::kube::api::KubeApi;
use crate::ui::Ui;

use super::apps::{self, AppState};
use super::seed::{self, RepoSource};
use super::{access, install, manifest};
use crate::repo::git;

/// Everything `bootstrap` needs, checked before the cluster is touched.
#[derive(Debug)]
pub struct Prepared {
    pub repo: RepoSource,
    /// The targetRevision of the root Application (`gitops.revision`).
    pub revision: String,
    /// The commit the lab must reach, when it can be known locally.
    pub expected: Option<String>,
    /// `gitops.path`.
    pub path: String,
    pub namespace: String,
    /// `None` when not loaded (`--dry-run` downloads nothing).
    pub manifest: Option<manifest::Manifest>,
    /// Things the user should know (printed by the caller).
    pub warnings: Vec<String>,
    /// Secrets kept from an earlier life of the lab (`keep.secrets`), re-applied after Argo CD
    /// is installed and before the root Application exists. Filled in by the caller.
    pub kept_secrets: Vec<serde_json::Value>,
    /// `argocd.components`: the optional Argo CD components this lab runs.
    pub components: Vec<crate::config::ArgoCdComponent>,
}

impl Prepared {
    /// The local repository to mount into the nodes, if any.
    pub fn repo_mount(&self) -> Option<PathBuf> {
        match &self.repo {
            RepoSource::Local { root } => Some(root.clone()),
            RepoSource::Remote { .. } => None,
        }
    }

    /// How the install manifest is prepared for this lab.
    pub fn manifest_options(&self) -> manifest::Prepare {
        manifest::Prepare {
            components: self.components.clone(),
            ..manifest::Prepare::lab(matches!(self.repo, RepoSource::Local { .. }))
        }
    }

    fn repo_url(&self) -> String {
        match &self.repo {
            RepoSource::Local { .. } => seed::LOCAL_REPO_URL.to_string(),
            RepoSource::Remote { url, .. } => url.clone(),
        }
    }
}

/// The directory a lab's relative paths start from: its file's folder, or the current one.
pub fn lab_dir(lab: &Lab) -> PathBuf {
    lab.source
        .as_deref()
        .and_then(Path::parent)
        .map(|p| {
            if p.as_os_str().is_empty() {
                Path::new(".")
            } else {
                p
            }
        })
        .unwrap_or(Path::new("."))
        .to_path_buf()
}

fn other(e: impl std::fmt::Display) -> Error {
    Error::Other(e.to_string())
}

/// Resolve and check everything before anything is created.
pub fn prepare(lab: &Lab, cache_dir: &Path, load_manifest: bool) -> Result<Prepared> {
    let g = &lab.gitops;
    let base = lab_dir(lab);
    let mut warnings = Vec::new();
    let mut path = g.path.clone();
    let (repo, expected) = if seed::is_remote(&g.repo) {
        let credentials = seed::read_credentials(g, &base).map_err(other)?;
        // A commit id pins what the lab must reach; a branch is resolved by Argo CD alone.
        let expected = is_commit_id(&g.revision).then(|| g.revision.clone());
        (
            RepoSource::Remote {
                url: g.repo.clone(),
                credentials,
            },
            expected,
        )
    } else {
        let repo_dir = base.join(&g.repo);
        let repo = git::open(&repo_dir).map_err(other)?;
        let commit = git::resolve(&repo, &g.revision).map_err(other)?;
        let root = std::fs::canonicalize(repo.root()).map_err(other)?;
        // gitops.path is relative to gitops.repo (the lab file's folder by default), as
        // `validate` reads it; Argo CD wants it relative to the repository's top.
        let inside = std::fs::canonicalize(&repo_dir)
            .ok()
            .and_then(|d| d.strip_prefix(&root).ok().map(Path::to_path_buf))
            .unwrap_or_default();
        path = inside.join(&g.path).to_string_lossy().into_owned();
        let dirty = git::uncommitted_changes(&repo, &path).map_err(other)?;
        if !dirty.is_empty() {
            let shown: Vec<&str> = dirty.iter().take(5).map(String::as_str).collect();
            warnings.push(format!(
                "{} uncommitted change(s) under {}/ ({}{}): Argo CD sees commits, not the working tree; commit them to deploy them",
                dirty.len(),
                path,
                shown.join(", "),
                if dirty.len() > shown.len() { ", …" } else { "" }
            ));
        }
        if let Some(w) = unreadable_by_others(&root) {
            warnings.push(w);
        }
        (RepoSource::Local { root }, Some(commit))
    };
    // A relative manifest path is relative to the lab file, like every other path in it.
    let mut argocd = lab.argocd.clone();
    if let Some(m) = &argocd.manifest
        && !m.contains("://")
        && Path::new(m).is_relative()
    {
        argocd.manifest = Some(base.join(m).to_string_lossy().into_owned());
    }
    let manifest = if load_manifest {
        Some(manifest::load(&argocd, cache_dir).map_err(other)?)
    } else {
        None
    };
    let prepared = Prepared {
        repo,
        revision: g.revision.clone(),
        expected,
        path,
        namespace: lab.argocd.namespace.clone(),
        manifest,
        warnings,
        kept_secrets: Vec::new(),
        components: lab.argocd.components.clone(),
    };
    if let Some(m) = &prepared.manifest
        && prepared.repo_mount().is_some()
    {
        m.documents(&prepared.namespace, &prepared.manifest_options())
            .map_err(other)?;
    }
    Ok(prepared)
}

/// argocd-repo-server runs as another user (uid 999) and reads the bind-mounted repository;
/// a folder only its owner may enter (a 0700 clone, a temp dir) is invisible to it.
pub(crate) fn unreadable_by_others(root: &Path) -> Option<String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for dir in [root.to_path_buf(), root.join(".git")] {
            let mode = std::fs::metadata(&dir).ok()?.permissions().mode();
            if mode & 0o005 != 0o005 {
                return Some(format!(
                    "{} is not readable by other users (mode {:o}), so argocd-repo-server (another uid) cannot read the mounted repository; run `chmod o+rx {}`",
                    dir.display(),
                    mode & 0o777,
                    dir.display()
                ));
            }
        }
    }
    #[cfg(not(unix))]
    let _ = root;
    None
}

fn is_commit_id(rev: &str) -> bool {
    rev.len() == 40 && rev.chars().all(|c| c.is_ascii_hexdigit())
}

/// Install Argo CD, seed the root Application, and wait until the lab is Synced and Healthy.
pub async fn bootstrap(
    api: &KubeApi,
    prepared: &Prepared,
    ui: &Ui,
    deadline: Instant,
) -> Result<Vec<AppState>> {
    let ns = &prepared.namespace;
    let manifest = prepared
        .manifest
        .as_ref()
        .ok_or_else(|| Error::Other("the Argo CD manifest was not loaded".into()))?;
    // Applied, CRDs Established; its workloads are awaited below, alongside the apps: the
    // root Application can exist before Argo CD's controller runs, which picks it up then.
    let workloads = install::apply(
        api,
        manifest,
        &prepared.manifest_options(),
        ns,
        ui,
        deadline,
    )
    .await
    .map_err(other)?;

    // Before the root exists, so a controller it deploys (sealed-secrets) finds its old key
    // on first start instead of making a new one.
    if !prepared.kept_secrets.is_empty() {
        let s = ui.step(format!(
            "re-apply {} kept Secret(s)",
            prepared.kept_secrets.len()
        ));
        match crate::state::kept::reapply(api.client(), &prepared.kept_secrets).await {
            Ok(created) => s.done_with(&format!("{created} created, the rest already there")),
            Err(e) => {
                s.fail();
                return Err(other(e));
            }
        }
    }

    let s = ui.step("expose the Argo CD UI and give Argo CD the repository");
    let seeded = async {
        access::expose_ui(api.client(), ns).await.map_err(other)?;
        // A local repository is already mounted: it was in the manifest `install` applied.
        if let RepoSource::Remote { url, credentials } = &prepared.repo {
            let secret = seed::repo_secret(ns, url, credentials.as_ref());
            seed::apply_repo_secret(api.client(), ns, &secret)
                .await
                .map_err(other)?;
        }
        let root =
            seed::root_application(ns, &prepared.repo_url(), &prepared.revision, &prepared.path);
        seed::apply_root(api.client(), ns, &root)
            .await
            .map_err(other)?;
        Ok::<_, Error>(())
    }
    .await;
    match &seeded {
        Ok(()) => s.done(),
        Err(_) => s.fail(),
    }
    seeded?;

    let (_, apps) = tokio::try_join!(
        async {
            crate::argocd::workloads::wait_available(api, &workloads, ui, deadline)
                .await
                .map_err(other)
        },
        async {
            apps::wait_lab_ready(
                api,
                ns,
                seed::ROOT_APP,
                prepared.expected.as_deref(),
                deadline,
                ui,
            )
            .await
            .map_err(other)
        },
    )?;
    Ok(apps)
}

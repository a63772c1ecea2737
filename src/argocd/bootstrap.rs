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
//!   Application never meets a pod without it), delete what the install recorded last applied
//!   and this one did not (an upgrade: [`super::upgrade`]), report what it applied to the
//!   caller (for the lab's record), expose its UI, give a remote repository its Secret,
//!   create the root Application, and wait until the lab is Synced and Healthy.

use std::path::{Path, PathBuf};

use tokio::time::Instant;

use crate::config::{Lab, RepoLocation};
use crate::kube::api::KubeApi;
use crate::repo::git::{self, GitError};
use crate::state::kept::KeptError;
use crate::ui::Ui;

use super::access::AccessError;
use super::apps::{self, AppState, AppsError};
use super::install::InstallError;
use super::manifest::ManifestError;
use super::seed::{self, RepoSource, SeedError};
use super::upgrade::{self, PruneError};
use super::workloads::WorkloadsError;
use super::{access, install, manifest};
use crate::gitops::resources::Resource;
use crate::gitops::source::SourceType;
use crate::state::record::ArgoCdRecord;

impl From<InstallError> for BootstrapError {
    fn from(e: InstallError) -> Self {
        BootstrapError::Install(Box::new(e))
    }
}

/// Why the GitOps half could not be prepared or did not finish. Each stage's own error, as
/// it is, which says what kind of failure it is (a timeout, bad input, …).
#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    #[error(transparent)]
    Seed(#[from] SeedError),
    #[error(transparent)]
    Git(#[from] GitError),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error(transparent)]
    Install(Box<InstallError>),
    #[error("re-applying the kept Secrets: {0}")]
    Kept(#[from] KeptError),
    #[error(transparent)]
    Access(#[from] AccessError),
    #[error(transparent)]
    Workloads(#[from] WorkloadsError),
    #[error(transparent)]
    Apps(#[from] AppsError),
    /// An object the previous Argo CD release had could not be deleted.
    #[error(transparent)]
    Prune(#[from] PruneError),
    #[error("deleting what the previous Argo CD release had did not finish before the timeout")]
    PruneTimeout,
    /// `argocd.resources` that cannot be applied, every problem with its place.
    #[error("argocd.resources: {}", .0.iter().map(|l| l.to_string()).collect::<Vec<_>>().join("\n"))]
    Resources(Vec<crate::diag::Located>),
    #[error(transparent)]
    SourceMismatch(crate::gitops::source::Mismatch),
    #[error("`gitops.path: {path}` leaves the repository {}", root.display())]
    PathOutside { path: String, root: PathBuf },
    #[error("applying argocd.resources did not finish before the timeout")]
    ResourcesTimeout,
    #[error("applying argocd.resources: {0}")]
    ApplyResources(#[source] crate::kube::apply::ApplyError),
    /// `bootstrap` was given what `prepare(.., load_manifest: false)` made (`--dry-run`).
    #[error("the Argo CD manifest was not loaded (a dry run prepares without it)")]
    ManifestNotLoaded,
}

impl crate::diag::Hinted for BootstrapError {
    fn hint(&self) -> Option<String> {
        match self {
            Self::Seed(e) => e.hint(),
            Self::Git(e) => e.hint(),
            Self::Manifest(e) => e.hint(),
            Self::Install(e) => e.hint(),
            Self::Kept(e) => e.hint(),
            Self::Access(e) => e.hint(),
            Self::Workloads(e) => e.hint(),
            Self::Apps(e) => e.hint(),
            Self::Prune(e) => e.hint(),
            Self::Resources(problems) => problems.first().and_then(|p| p.hint.clone()),
            Self::SourceMismatch(m) => Some(m.hint.clone()),
            Self::PathOutside { .. } => Some("gitops.path names a folder inside the repository, relative to gitops.repo, such as `apps`; Argo CD reads nothing else".to_string()),
            Self::ApplyResources(e) => e.hint(),
            _ => None,
        }
    }
}

/// A stage's own kind where it says one; what the lab file or its repository holds is bad
/// input; the rest (the cluster, the disk) failed.
impl crate::diag::Classified for BootstrapError {
    fn kind(&self) -> crate::diag::Kind {
        match self {
            Self::Install(e) => e.kind(),
            Self::Manifest(e) => e.kind(),
            Self::Access(e) => e.kind(),
            Self::Workloads(e) => e.kind(),
            Self::Apps(e) => e.kind(),
            Self::PruneTimeout | Self::ResourcesTimeout => crate::diag::Kind::Timeout,
            Self::Seed(_)
            | Self::Git(_)
            | Self::Resources(_)
            | Self::SourceMismatch(_)
            | Self::PathOutside { .. } => crate::diag::Kind::Usage,
            _ => crate::diag::Kind::Failed,
        }
    }
}

type Result<T, E = BootstrapError> = std::result::Result<T, E>;

/// Everything `bootstrap` needs, checked before the cluster is touched.
#[derive(Debug)]
pub(crate) struct Prepared {
    pub(crate) repo: RepoSource,
    /// The targetRevision of the root Application (`gitops.revision`).
    pub(crate) revision: String,
    /// The commit the lab must reach, when it can be known locally.
    pub(crate) expected: Option<String>,
    /// `gitops.path`.
    pub(crate) path: String,
    pub(crate) namespace: String,
    /// `None` when not loaded (`--dry-run` downloads nothing).
    pub(crate) manifest: Option<manifest::Manifest>,
    /// Things the user should know (printed by the caller).
    pub(crate) warnings: Vec<String>,
    /// Secrets kept from an earlier life of the lab (`keep.secrets`), re-applied after Argo CD
    /// is installed and before the root Application exists. Filled in by the caller.
    pub(crate) kept_secrets: Vec<serde_json::Value>,
    /// `argocd.components`: the optional Argo CD components this lab runs.
    pub(crate) components: Vec<crate::config::ArgoCdComponent>,
    /// The root Application's project and how its folder renders.
    pub(crate) project: String,
    pub(crate) source_fields: serde_json::Map<String, serde_json::Value>,
    /// What Argo CD will render the root folder as, when it could be seen here.
    pub(crate) source_type: Option<SourceType>,
    /// `argocd.resources`, read and checked: applied before the root.
    pub(crate) resources: Vec<Resource>,
    /// What the lab's record says playground installed of Argo CD last: after this install,
    /// what it applied and this one did not is deleted. Filled in by the caller.
    pub(crate) recorded_argocd: Option<ArgoCdRecord>,
}

impl Prepared {
    /// The local repository to mount into the nodes, if any.
    pub(crate) fn repo_mount(&self) -> Option<PathBuf> {
        match &self.repo {
            RepoSource::Local { root } => Some(root.clone()),
            RepoSource::Remote { .. } => None,
        }
    }

    /// How the install manifest is prepared for this lab.
    pub(crate) fn manifest_options(&self) -> manifest::Prepare {
        manifest::Prepare {
            components: self.components.clone(),
            ..manifest::Prepare::lab(matches!(self.repo, RepoSource::Local { .. }))
        }
    }

    /// The repoURL of the root Application.
    pub(crate) fn repo_url(&self) -> String {
        match &self.repo {
            RepoSource::Local { .. } => seed::LOCAL_REPO_URL.to_string(),
            RepoSource::Remote { url, .. } => url.clone(),
        }
    }

    /// The root Application's source and project.
    pub(crate) fn root(&self) -> seed::RootSpec {
        seed::RootSpec {
            repo_url: self.repo_url(),
            revision: self.revision.clone(),
            path: self.path.clone(),
            project: self.project.clone(),
            source_fields: self.source_fields.clone(),
        }
    }
}

/// Resolve and check everything before anything is created.
pub(crate) fn prepare(lab: &Lab, cache_dir: &Path, load_manifest: bool) -> Result<Prepared> {
    let g = &lab.gitops;
    let base = lab.dir();
    let mut warnings = Vec::new();
    let mut path = g.path.clone();
    let mut detected = None;
    let (repo, expected) = if let RepoLocation::Remote { url } = &g.repo {
        let credentials = seed::read_credentials(g, base)?;
        // A commit id pins what the lab must reach; a branch is resolved by Argo CD alone.
        let expected = is_commit_id(&g.revision).then(|| g.revision.clone());
        (
            RepoSource::Remote {
                url: url.clone(),
                credentials,
            },
            expected,
        )
    } else {
        let repo_dir = g.repo.local_dir().unwrap_or(base);
        let repo = git::open(repo_dir)?;
        // Mounted as a folder: its Git data must be inside it (not a worktree, a submodule).
        git::check_self_contained(&repo)?;
        let commit = git::resolve(&repo, &g.revision)?;
        let root = std::fs::canonicalize(repo.root()).map_err(|source| BootstrapError::Io {
            path: repo.root().to_path_buf(),
            source,
        })?;
        // gitops.path is relative to gitops.repo (the lab file's folder by default), as
        // `validate` reads it; Argo CD wants it relative to the repository's top.
        let inside = std::fs::canonicalize(repo_dir)
            .ok()
            .and_then(|d| d.strip_prefix(&root).ok().map(Path::to_path_buf))
            .unwrap_or_default();
        path = inside.join(&g.path).to_string_lossy().into_owned();
        check_inside(&root, &path)?;
        // What Argo CD's repo-server will find there at that commit, not in the working tree.
        let entries = git::folder_entries(&repo, &commit, &path)?;
        if let Some(names) = &entries {
            crate::gitops::source::check_named(&g.source, &path, names)
                .map_err(BootstrapError::SourceMismatch)?;
        }
        detected = entries.map(|names| crate::gitops::source::detect(&names));
        warnings.extend(remote_children(lab, &repo, &root.join(&path), detected));
        let dirty = git::uncommitted_changes(&repo, &path)?;
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
        Some(manifest::load(&argocd, cache_dir)?)
    } else {
        None
    };
    let resources = crate::gitops::resources::load(base, &lab.argocd.resources)
        .map_err(BootstrapError::Resources)?;
    let prepared = Prepared {
        source_type: crate::gitops::source::root_type(&g.source, detected),
        source_fields: crate::gitops::source::source_fields(&g.source, detected),
        project: g.project.clone(),
        resources,
        repo,
        revision: g.revision.clone(),
        expected,
        path,
        namespace: lab.argocd.namespace.clone(),
        manifest,
        warnings,
        kept_secrets: Vec::new(),
        components: lab.argocd.components.clone(),
        recorded_argocd: None,
    };
    if let Some(m) = &prepared.manifest
        && prepared.repo_mount().is_some()
    {
        m.documents(&prepared.namespace, &prepared.manifest_options())?;
    }
    Ok(prepared)
}

/// Child apps that read this repository by its remote URL, not the local commits (see
/// `gitops::children`): named for a plain root, traced to the chart's values for a Helm one.
fn remote_children(
    lab: &Lab,
    repo: &git::Repo,
    dir: &Path,
    detected: Option<SourceType>,
) -> Vec<String> {
    use crate::config::RootSource;
    use crate::gitops::{children, helm};
    let urls = git::remote_urls(repo);
    if urls.is_empty() {
        return Vec::new();
    }
    match crate::gitops::source::root_type(&lab.gitops.source, detected) {
        Some(SourceType::Helm) => {
            let (files, inline) = match &lab.gitops.source {
                RootSource::Helm(h) => (h.value_files.clone(), h.values.clone()),
                _ => (Vec::new(), None),
            };
            let values = helm::check_chart(dir, &files, inline.as_ref()).values;
            children::chart_values_reading(&values, &urls, seed::LOCAL_REPO_URL)
        }
        Some(SourceType::Directory) => {
            let recurse = match &lab.gitops.source {
                RootSource::Directory(d) => d.recurse,
                _ => true,
            };
            children::apps_reading(dir, recurse, &urls)
                .into_iter()
                .map(|(app, url)| {
                    format!(
                        "Application {app} reads {url}, this repository's remote: it deploys what is pushed there, not your local commits; name {} as its repoURL to deploy them",
                        seed::LOCAL_REPO_URL
                    )
                })
                .collect()
        }
        _ => Vec::new(),
    }
}

/// After the new release is applied: delete what the recorded install (`old`) applied and this
/// one (`new`) did not, less what is never deleted ([`upgrade::prune_set`]). An install
/// recorded in another namespace is left alone, with a warning: its namespaced objects are
/// not this install's.
async fn prune_previous(
    api: &KubeApi,
    old: &ArgoCdRecord,
    new: &[crate::state::record::AppliedObject],
    version: &str,
    ns: &str,
    ui: &Ui,
    deadline: Instant,
) -> Result<()> {
    if old.namespace != ns {
        ui.warn(&format!(
            "Argo CD {} was installed into namespace {}, this one into {ns}: what playground applied there stays; delete it yourself when nothing needs it",
            old.version, old.namespace
        ));
        return Ok(());
    }
    let gone = upgrade::prune_set(&old.objects, new);
    if gone.is_empty() {
        return Ok(());
    }
    let s = ui.step(format!(
        "delete {} object(s) Argo CD {} had and {version} lacks",
        gone.len(),
        old.version
    ));
    match tokio::time::timeout_at(deadline, upgrade::prune(api, &gone)).await {
        Ok(Ok(n)) => {
            s.done_with(&format!("{n} deleted"));
            Ok(())
        }
        Ok(Err(e)) => {
            s.fail();
            Err(e.into())
        }
        Err(_) => {
            s.fail();
            Err(BootstrapError::PruneTimeout)
        }
    }
}

/// `gitops.path` (relative to the repository's top) must stay inside it, symlinks resolved:
/// Argo CD reads only the repository, and a path out of it never syncs.
fn check_inside(root: &Path, path: &str) -> Result<()> {
    let outside = || BootstrapError::PathOutside {
        path: path.to_string(),
        root: root.to_path_buf(),
    };
    if crate::fsutil::inside(path).is_none() {
        return Err(outside());
    }
    // A symlink out: the working tree's link is what the commit holds too.
    if let Ok(real) = std::fs::canonicalize(root.join(path))
        && !real.starts_with(root)
    {
        return Err(outside());
    }
    Ok(())
}

/// argocd-repo-server runs as another user (uid 999) and fetches the bind-mounted repository
/// with `git fetch file:///playground`, whose `git-upload-pack` enters the repository and
/// reads `.git`: `HEAD`, `config`, its refs, packs and loose objects. So the top folder must
/// be open to others, and so must every folder upload-pack reads in `.git` (o+rx) and every
/// file there (o+r). A folder only its
/// owner may enter (a 0700 clone, a temp dir) hides the whole repository; a umask of 077
/// makes each object Git writes private, so a repository can turn unreadable one commit at a
/// time, and the fix says how to keep new ones readable too (`core.sharedRepository`, which
/// overrides the umask for what Git writes).
pub(crate) fn unreadable_by_others(root: &Path) -> Option<String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(root).ok()?.permissions().mode();
        if mode & 0o005 != 0o005 {
            return Some(format!(
                "{} is not readable by other users (mode {:o}), so argocd-repo-server (another uid) cannot read the mounted repository; run `chmod o+rx {}`",
                root.display(),
                mode & 0o777,
                root.display()
            ));
        }
        // A `.git` file (a worktree, a submodule) is refused on its own by
        // `git::check_self_contained`; there is nothing here to advise on.
        let git_dir = root.join(".git");
        if !git_dir.is_dir() {
            return None;
        }
        // What upload-pack reads; the index, logs and hooks are the working copy's business.
        let read = ["HEAD", "config", "packed-refs", "refs", "objects"].map(|p| git_dir.join(p));
        let (path, mode) = std::iter::once(walkdir::WalkDir::new(&git_dir).max_depth(0))
            .chain(read.iter().map(walkdir::WalkDir::new))
            .flat_map(|w| w.into_iter().filter_map(|e| e.ok()))
            .find_map(|e| {
                let meta = e.metadata().ok()?;
                let needs = if meta.is_dir() { 0o005 } else { 0o004 };
                let mode = meta.permissions().mode();
                (!meta.file_type().is_symlink() && mode & needs != needs)
                    .then(|| (e.into_path(), mode & 0o777))
            })?;
        Some(format!(
            "{} is not readable by other users (mode {mode:o}), so argocd-repo-server (another uid) cannot read the mounted repository; run `chmod -R o+rX {} && git -C {} config core.sharedRepository 0644`",
            path.display(),
            git_dir.display(),
            root.display()
        ))
    }
    #[cfg(not(unix))]
    {
        let _ = root;
        None
    }
}

fn is_commit_id(rev: &str) -> bool {
    rev.len() == 40 && rev.chars().all(|c| c.is_ascii_hexdigit())
}

/// Install Argo CD, seed the root Application, and wait until the lab is Synced and Healthy.
/// `installed` is told what was applied once the install (and an upgrade's deletions) went
/// through, before the waits: the caller records it.
pub(crate) async fn bootstrap(
    api: &KubeApi,
    prepared: &Prepared,
    ui: &Ui,
    deadline: Instant,
    installed: &dyn Fn(ArgoCdRecord),
) -> Result<Vec<AppState>> {
    let ns = &prepared.namespace;
    let manifest = prepared
        .manifest
        .as_ref()
        .ok_or(BootstrapError::ManifestNotLoaded)?;
    // Applied, CRDs Established; its workloads are awaited below, alongside the apps: the
    // root Application can exist before Argo CD's controller runs, which picks it up then.
    let applied = install::apply(
        api,
        manifest,
        &prepared.manifest_options(),
        ns,
        ui,
        deadline,
    )
    .await?;
    let objects = upgrade::refs_of(&applied.report.applied);
    if let Some(old) = &prepared.recorded_argocd {
        prune_previous(api, old, &objects, &manifest.version, ns, ui, deadline).await?;
    }
    installed(ArgoCdRecord {
        version: manifest.version.clone(),
        namespace: ns.clone(),
        manifest_sha256: Some(manifest.sha256.clone()),
        objects,
    });
    let workloads = applied.workloads;

    // Before the root exists, so a controller it deploys (sealed-secrets) finds its old key
    // on first start instead of making a new one.
    if !prepared.kept_secrets.is_empty() {
        let s = ui.step(format!(
            "re-apply {} kept Secret(s)",
            prepared.kept_secrets.len()
        ));
        match crate::kube::kept::reapply(api.client(), &prepared.kept_secrets).await {
            Ok(created) => s.done_with(&format!("{created} created, the rest already there")),
            Err(e) => {
                s.fail();
                return Err(e.into());
            }
        }
    }

    // The objects the root needs first (its AppProject above all): the CRDs are Established,
    // so an AppProject applies; applied on every `up`, as Git may have changed them.
    if !prepared.resources.is_empty() {
        let s = ui.step(format!(
            "apply {} object(s) of argocd.resources",
            prepared.resources.len()
        ));
        let objects: Vec<_> = prepared
            .resources
            .iter()
            .map(|r| r.object.clone())
            .collect();
        let progress = |p: &crate::kube::apply::Progress| s.set_detail(&p.to_string());
        match tokio::time::timeout_at(
            deadline,
            crate::kube::apply::apply(
                api.client(),
                &objects,
                &crate::kube::apply::ApplyOptions::new(ns.as_str()),
                &progress,
            ),
        )
        .await
        {
            Ok(Ok(report)) => s.done_with(&report.to_string()),
            Ok(Err(e)) => {
                s.fail();
                return Err(BootstrapError::ApplyResources(e));
            }
            Err(_) => {
                s.fail();
                return Err(BootstrapError::ResourcesTimeout);
            }
        }
    }

    let s = ui.step("expose the Argo CD UI and give Argo CD the repository");
    let seeded = async {
        access::expose_ui(api.client(), ns).await?;
        // A local repository is already mounted: it was in the manifest `install` applied.
        if let RepoSource::Remote { url, credentials } = &prepared.repo {
            let secret = seed::repo_secret(ns, url, credentials.as_ref());
            seed::apply_repo_secret(api.client(), ns, &secret).await?;
        }
        let root = seed::root_application(ns, &prepared.root());
        seed::apply_root(api.client(), ns, &root).await?;
        Ok::<_, BootstrapError>(())
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
                .map_err(BootstrapError::from)
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
            .map_err(BootstrapError::from)
        },
    )?;
    Ok(apps)
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;
    use std::path::Path;

    use super::unreadable_by_others;

    fn chmod(p: &Path, mode: u32) {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    /// A repository as Git writes it under umask 022: one loose object, refs, HEAD, and an
    /// index only the owner reads (upload-pack never reads it).
    fn repo() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let git = dir.path().join(".git");
        for d in ["objects/ab", "refs/heads"] {
            std::fs::create_dir_all(git.join(d)).unwrap();
        }
        for (f, mode) in [
            ("HEAD", 0o644),
            ("config", 0o644),
            ("refs/heads/main", 0o644),
            ("objects/ab/cdef", 0o444),
            ("index", 0o600),
        ] {
            std::fs::write(git.join(f), "x").unwrap();
            chmod(&git.join(f), mode);
        }
        for d in [
            dir.path(),
            &git,
            &git.join("objects"),
            &git.join("objects/ab"),
        ] {
            chmod(d, 0o755);
        }
        dir
    }

    #[test]
    fn a_repository_others_may_read_passes_whatever_its_index_mode() {
        let dir = repo();
        assert_eq!(unreadable_by_others(dir.path()), None);
    }

    #[test]
    fn a_private_top_folder_is_named_with_chmod_o_rx() {
        let dir = repo();
        chmod(dir.path(), 0o700);
        let w = unreadable_by_others(dir.path()).unwrap();
        assert!(w.contains("(mode 700)"), "{w}");
        assert!(
            w.ends_with(&format!("run `chmod o+rx {}`", dir.path().display())),
            "{w}"
        );
    }

    #[test]
    fn an_object_or_folder_written_under_umask_077_is_named_with_a_lasting_fix() {
        for (what, mode) in [
            ("objects/ab/cdef", 0o400),
            ("objects/ab", 0o700),
            ("HEAD", 0o600),
        ] {
            let dir = repo();
            let git = dir.path().join(".git");
            chmod(&git.join(what), mode);
            let w = unreadable_by_others(dir.path()).unwrap();
            assert!(
                w.starts_with(&format!(
                    "{} is not readable by other users (mode {mode:o})",
                    git.join(what).display()
                )),
                "{what}: {w}"
            );
            assert!(
                w.contains(&format!(
                    "run `chmod -R o+rX {} && git -C {} config core.sharedRepository 0644`",
                    git.display(),
                    dir.path().display()
                )),
                "{w}"
            );
            chmod(&git.join(what), 0o755);
        }
    }
}

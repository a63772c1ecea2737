//! `playground validate`: checks a lab offline, without Docker or a cluster, and reports every
//! problem at once with `file:line:col`.
//!
//! The flow of [`validate_with`]:
//! 1. the lab file through [`crate::config::load`] (its own errors stop here: nothing else can
//!    be located without it), then the lab's plan as `up` makes it before it touches Docker
//!    (given by the command to [`validate_with`]: a host port bound twice, say), its problems
//!    reported beside the apps' ones;
//! 2. the repository root: the lab file's directory joined with `gitops.repo` when that is a
//!    local path (or a `file://` URL); a remote repository is not checked further offline; a
//!    checkout whose Git data is elsewhere (a linked worktree, a submodule) is refused, as `up`
//!    refuses it: the cluster mounts the folder alone
//!    ([`crate::repo::git::check_self_contained`]);
//! 3. every `*.yaml` / `*.yml` under `gitops.path` is parsed (all documents) into a tree that
//!    keeps line and column ([`yaml`]); syntax errors and duplicate keys are reported;
//! 4. `Application` and `AppProject` documents are checked for the fields Argo CD needs, with
//!    the right types;
//! 5. every source in the lab's own repository (`repoURL` is [`REPO_PLACEHOLDER`] or a
//!    `file://` URL of the repository) must point at a folder that exists, its Helm
//!    `valueFiles` must exist, a Kustomize source needs a kustomization file, and the YAML
//!    there must parse;
//! 6. cross-checks: an Application's project, when defined under `gitops.path`, must allow its
//!    repository and destination namespace. A project defined elsewhere is a warning.
//!
//! Steps 1, 2 and 3 are here; `repo.rs` finds the repository and the files and checks the
//! sources (5), `apps.rs` the Application and AppProject fields (4), `cross.rs` the
//! cross-checks (6). Every finding is a [`ValidationError`], the crate's located diagnostic.

mod apps;
mod cross;
mod repo;
mod root;
use crate::gitops::yaml;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use repo::{KUSTOMIZATION_FILES, inside, yaml_files};
use yaml::{Node, Pos};

use crate::config::{self, ConfigError, Lab, RootSource};
use crate::gitops::source::{self, SourceType};

pub(crate) use crate::repo::sample::REPO_PLACEHOLDER;

/// One problem, at a place in a file: the crate's one located diagnostic.
pub(crate) type ValidationError = crate::diag::Located;

use crate::diag::Hinted;

impl From<ConfigError> for ValidationError {
    fn from(err: ConfigError) -> Self {
        match err {
            ConfigError::Syntax(l) | ConfigError::Schema(l) | ConfigError::Invalid(l) => l,
            // One of several: `validate` takes them all (see [`problems_of`]).
            ConfigError::Several(mut ls) if !ls.is_empty() => ls.swap_remove(0),
            err @ (ConfigError::Io { .. } | ConfigError::Several(_)) => ValidationError {
                path: err.path().to_path_buf(),
                line: 0,
                column: 0,
                message: err.message(),
                hint: None,
            },
        }
    }
}

/// Every problem of a lab file that does not load, one each.
fn problems_of(err: ConfigError) -> Vec<ValidationError> {
    match err {
        ConfigError::Several(ls) => ls,
        e => vec![e.into()],
    }
}

/// What a valid lab holds.
#[derive(Debug, Clone)]
pub(crate) struct Report {
    /// The lab's repository on disk; `None` when `gitops.repo` is remote.
    pub(crate) repo_root: Option<PathBuf>,
    /// The manifest files read under `gitops.path`, sorted.
    pub(crate) files: Vec<PathBuf>,
    /// Every Application found, in file order.
    pub(crate) applications: Vec<AppInfo>,
    /// Names of the AppProjects found.
    pub(crate) projects: Vec<String>,
    /// Problems that do not stop a sync by themselves (e.g. a project defined elsewhere).
    pub(crate) warnings: Vec<ValidationError>,
    /// Why part of the lab was not checked (a remote repository), if so.
    pub(crate) skipped: Option<String>,
    /// What was checked less than fully, and how to get more (a chart not rendered because
    /// `helm` is not on PATH, …).
    pub(crate) notes: Vec<String>,
}

/// One Application under `gitops.path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AppInfo {
    pub(crate) name: String,
    pub(crate) project: String,
    /// Where it is defined.
    pub(crate) file: PathBuf,
    pub(crate) line: u32,
    /// Its sources, in order (one for `spec.source`).
    pub(crate) sources: Vec<SourceInfo>,
}

/// One source of an Application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SourceInfo {
    pub(crate) repo_url: String,
    pub(crate) kind: SourceKind,
    /// For a source in the lab's own repository: its folder, relative to the repository root
    /// with `/` (what [`crate::repo::git::last_commit_touching`] takes).
    pub(crate) local_path: Option<String>,
}

/// How Argo CD will render a source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SourceKind {
    /// `chart:` from a Helm repository.
    HelmChart { chart: String, version: String },
    /// A folder with `Chart.yaml`.
    Helm,
    /// A folder with a kustomization file.
    Kustomize,
    /// Plain manifests.
    Directory,
    /// Only a `ref` for other sources (`$ref/values.yaml`).
    Ref,
    /// A folder in another repository: not checked offline.
    Remote { path: String },
}

/// Checks the lab whose file is `lab_file`. See the module docs for what is checked.
#[cfg(test)]
pub(crate) fn validate(lab_file: &Path) -> Result<Report, Vec<ValidationError>> {
    validate_with(lab_file, &|_| Ok(Vec::new()))
}

/// A problem of the lab's plan, in the planner's words: the message and its hint.
pub(crate) type PlanProblem = (String, Option<String>);

/// Checks the lab whose file is `lab_file` (see the module docs), with `plan` for the checks
/// `up` makes of the lab's plan before it touches Docker (`cluster::up::plan_offline`, passed
/// in by the command: the planner is a module of this layer). Its problem is reported at `cluster.ports`, beside the apps' ones.
pub(crate) fn validate_with(
    lab_file: &Path,
    plan: &dyn Fn(&Lab) -> Result<Vec<String>, PlanProblem>,
) -> Result<Report, Vec<ValidationError>> {
    let lab = config::load(lab_file).map_err(problems_of)?;
    let (notes, planned) = match plan(&lab) {
        Ok(notes) => (notes, Vec::new()),
        Err(problem) => (Vec::new(), plan_problems(lab_file, Err(problem))),
    };
    match check(lab_file, lab) {
        Ok(mut report) if planned.is_empty() => {
            report.warnings.extend(plan_notes(lab_file, notes));
            Ok(report)
        }
        Ok(_) => Err(planned),
        Err(more) => Err(planned.into_iter().chain(more).collect()),
    }
}

/// What `up` would warn about in the lab's plan (today: the `cluster.registries` entries that
/// replace the caches' or the lab registry's), at `cluster.registries`, else `cluster`.
fn plan_notes(lab_file: &Path, notes: Vec<String>) -> Vec<ValidationError> {
    if notes.is_empty() {
        return Vec::new();
    }
    let pos = cluster_key_pos(lab_file, "registries");
    notes
        .into_iter()
        .map(|n| at(lab_file, pos, n, None))
        .collect()
}

/// What `up` refuses in the plan of the lab before it looks at the host (a host port bound
/// twice: a `ports` entry on `argocd.ui.port`, 8080 by default), at `cluster.ports`.
fn plan_problems(lab_file: &Path, planned: Result<(), PlanProblem>) -> Vec<ValidationError> {
    let Err((message, hint)) = planned else {
        return Vec::new();
    };
    vec![at(
        lab_file,
        cluster_key_pos(lab_file, "ports"),
        message,
        hint.as_deref(),
    )]
}

/// Where `cluster.<key>` is written in the lab file, else `cluster:`, else 1:1.
fn cluster_key_pos(lab_file: &Path, key: &str) -> Pos {
    let text = std::fs::read_to_string(lab_file).unwrap_or_default();
    let (docs, _) = yaml::parse_documents(&text);
    docs.first()
        .and_then(|d| d.entry("cluster"))
        .map(|(k, v)| v.entry(key).map_or(k.pos, |(found, _)| found.pos))
        .unwrap_or(Pos { line: 1, column: 1 })
}

fn check(lab_file: &Path, lab: Lab) -> Result<Report, Vec<ValidationError>> {
    // A value taken from this shell that is not set here: the file is fine, `up` refuses.
    let unset_host_values: Vec<ValidationError> = lab
        .cluster
        .host_values()
        .filter_map(|h| h.unset.clone())
        .map(|mut l| {
            l.message.push_str("; `up` refuses until it is");
            l
        })
        .collect();
    let mut v = Validator {
        errors: Vec::new(),
        warnings: unset_host_values.clone(),
        apps: Vec::new(),
        projects: BTreeMap::new(),
        checked_dirs: HashSet::new(),
        root: PathBuf::new(),
        origins: Vec::new(),
    };
    let mut report = Report {
        repo_root: None,
        files: Vec::new(),
        applications: Vec::new(),
        projects: Vec::new(),
        warnings: unset_host_values,
        skipped: None,
        notes: Vec::new(),
    };
    // Positions of `gitops.repo` / `gitops.path` in the lab file, for errors about them.
    let lab_text = std::fs::read_to_string(lab_file).unwrap_or_default();
    let (lab_docs, _) = yaml::parse_documents(&lab_text);
    let lab_pos = |key: &str| {
        lab_docs
            .first()
            .and_then(|d| d.entry("gitops"))
            .map(|(k, v)| v.entry(key).map_or(k.pos, |(_, value)| value.pos))
            .unwrap_or(Pos { line: 1, column: 1 })
    };

    let Some(root) = lab.gitops.repo.local_dir().map(Path::to_path_buf) else {
        // The resources are beside the lab file whatever the apps' repository.
        crate::gitops::resources::load(lab.dir(), &lab.argocd.resources)?;
        report.skipped = Some(format!(
            "the applications are in the remote repository {}: only the lab file was checked offline",
            lab.gitops.repo
        ));
        return Ok(report);
    };
    if !root.is_dir() {
        return Err(vec![at(
            lab_file,
            lab_pos("repo"),
            format!(
                "`gitops.repo: {}`: {} is not a directory",
                lab.gitops.repo,
                root.display()
            ),
            Some(
                "a local repository is a path relative to the lab file (`.` for its own directory)",
            ),
        )]);
    }
    // What `up` refuses (a mount of the folder carries no repository), `validate` refuses too:
    // the two agree on every repo form. A folder outside Git is left to `up`, as before.
    if let Ok(repo) = crate::repo::git::open(&root)
        && let Err(e @ crate::repo::git::GitError::GitDirOutside { .. }) =
            crate::repo::git::check_self_contained(&repo)
    {
        return Err(vec![at(
            lab_file,
            lab_pos("repo"),
            format!("`gitops.repo: {}`: {e}", lab.gitops.repo),
            e.hint().as_deref(),
        )]);
    }
    v.root = root.clone();
    report.repo_root = Some(root.clone());

    // A symlink out counts as out, as at `up` (`argocd::bootstrap`): Argo CD reads the
    // repository only.
    let leaves = |rel: &Path| {
        let real_root = std::fs::canonicalize(&root).unwrap_or_else(|_| root.clone());
        std::fs::canonicalize(root.join(rel)).is_ok_and(|real| !real.starts_with(&real_root))
    };
    let Some(rel) = inside(&lab.gitops.path).filter(|rel| !leaves(rel)) else {
        return Err(vec![at(
            lab_file,
            lab_pos("path"),
            format!("`gitops.path: {}` leaves the repository", lab.gitops.path),
            Some("a folder inside the repository, relative to its root, such as `apps`"),
        )]);
    };
    let apps_dir = root.join(&rel);
    if !apps_dir.is_dir() {
        return Err(vec![at(
            lab_file,
            lab_pos("path"),
            format!(
                "`gitops.path: {}`: {} does not exist",
                lab.gitops.path,
                apps_dir.display()
            ),
            Some(
                "create it with the Applications of the lab, or point `gitops.path` at the folder that has them",
            ),
        )]);
    }

    // What Argo CD will render the root folder as: named in the lab file, else detected.
    let entries: Vec<String> = std::fs::read_dir(&apps_dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    if let Err(m) = source::check_named(&lab.gitops.source, &lab.gitops.path, &entries) {
        v.errors
            .push(at(lab_file, lab_pos(m.named), m.to_string(), Some(&m.hint)));
    }
    let kind = source::root_type(&lab.gitops.source, Some(source::detect(&entries)));
    if let Ok(repo) = crate::repo::git::open(&root) {
        v.origins = crate::repo::git::remote_urls(&repo);
    }
    match kind {
        Some(SourceType::Helm) => {
            // Where each of `gitops.helm.valueFiles` is written, for errors about it.
            let value_files: Vec<Pos> = lab_docs
                .first()
                .and_then(|d| d.get("gitops"))
                .and_then(|g| g.get("helm"))
                .and_then(|h| h.get("valueFiles"))
                .map(|l| match &l.value {
                    yaml::Value::List(items) => items.iter().map(|i| i.pos).collect(),
                    _ => Vec::new(),
                })
                .unwrap_or_default();
            v.check_root_chart(&lab, &apps_dir, &mut report, (lab_file, &value_files))
        }
        Some(SourceType::Kustomize) => v.check_root_kustomization(&apps_dir, &mut report),
        _ => {
            let recurse = match &lab.gitops.source {
                RootSource::Directory(d) => d.recurse,
                _ => true,
            };
            report.files = yaml_files(&apps_dir, recurse);
            if report.files.is_empty() {
                v.warnings.push(at(
                    &apps_dir,
                    Pos { line: 0, column: 0 },
                    "no YAML files: Argo CD will have nothing to sync".to_string(),
                    Some("add Applications here (see the sample lab: `playground init`)"),
                ));
            }
            for file in &report.files {
                let Some(docs) = v.read_yaml(file) else {
                    continue;
                };
                let is_kustomization = file
                    .file_name()
                    .is_some_and(|n| KUSTOMIZATION_FILES.iter().any(|k| n == *k));
                if is_kustomization {
                    continue;
                }
                for doc in &docs {
                    v.check_object(file, doc);
                }
            }
        }
    }

    // argocd.resources: what `up` applies before the root, checked as it will read them.
    match crate::gitops::resources::load(lab.dir(), &lab.argocd.resources) {
        Ok(resources) => {
            for r in &resources {
                v.check_object(&r.file, &r.node);
                if !report.files.contains(&r.file) {
                    report.files.push(r.file.clone());
                }
            }
        }
        Err(problems) => v.errors.extend(problems),
    }
    v.check_root_project(&lab, lab_file, lab_pos("project"));
    v.cross_check();

    report.applications = v.apps.iter().map(|(info, _)| info.clone()).collect();
    report.projects = v.projects.keys().cloned().collect();
    report.warnings = v.warnings;
    if v.errors.is_empty() {
        Ok(report)
    } else {
        let mut errors = v.errors;
        errors.sort_by(|a, b| (&a.path, a.line, a.column).cmp(&(&b.path, b.line, b.column)));
        errors.dedup();
        Err(errors)
    }
}

fn at(file: &Path, pos: Pos, message: String, hint: Option<&str>) -> ValidationError {
    ValidationError {
        path: file.to_path_buf(),
        line: pos.line,
        column: pos.column,
        message,
        hint: hint.map(str::to_string),
    }
}

/// An AppProject's rules, for the cross-checks.
struct Project {
    source_repos: Vec<String>,
    /// `(server or name, namespace)` patterns.
    destinations: Vec<(String, String)>,
}

/// What an Application needs from its project, with positions for the errors.
struct AppNeeds {
    file: PathBuf,
    project_pos: Pos,
    repos: Vec<(String, Pos)>,
    destination: Option<(String, String, Pos)>,
}

struct Validator {
    errors: Vec<ValidationError>,
    warnings: Vec<ValidationError>,
    apps: Vec<(AppInfo, AppNeeds)>,
    projects: BTreeMap<String, Project>,
    /// Local source folders already checked (several apps may share one).
    checked_dirs: HashSet<PathBuf>,
    root: PathBuf,
    /// The repository's remote URLs: a source naming one is this repository, read from the
    /// remote by Argo CD (see `gitops::children`).
    origins: Vec<String>,
}

impl Validator {
    fn error(&mut self, file: &Path, pos: Pos, message: impl Into<String>, hint: Option<&str>) {
        self.errors.push(at(file, pos, message.into(), hint));
    }

    /// Reads and parses `file`, reporting YAML problems; `None` if it cannot be read.
    fn read_yaml(&mut self, file: &Path) -> Option<Vec<Node>> {
        let text = match std::fs::read_to_string(file) {
            Ok(text) => text,
            Err(e) => {
                self.error(
                    file,
                    Pos { line: 0, column: 0 },
                    format!("cannot read: {e}"),
                    None,
                );
                return None;
            }
        };
        let (docs, problems) = yaml::parse_documents(&text);
        for p in problems {
            self.error(
                file,
                p.pos,
                p.message,
                Some("fix the YAML here; Argo CD rejects the whole file"),
            );
        }
        Some(docs)
    }
}

#[cfg(test)]
mod tests;

//! `playground validate`: checks a lab offline, without Docker or a cluster, and reports every
//! problem at once with `file:line:col`.
//!
//! The flow of [`validate`]:
//! 1. the lab file through [`crate::config::load`] (its own errors stop here: nothing else can
//!    be located without it);
//! 2. the repository root: the lab file's directory joined with `gitops.repo` when that is a
//!    local path (or a `file://` URL); a remote repository is not checked further offline;
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

mod yaml;

use std::collections::{BTreeMap, HashSet};
use std::path::{Component, Path, PathBuf};

use yaml::{Node, Pos, Value};

use crate::config::{self, ConfigError, Lab};

pub use crate::repo::sample::REPO_PLACEHOLDER;

/// One problem, at a place in a file: the crate's one located diagnostic.
pub type ValidationError = crate::diag::Located;

impl From<ConfigError> for ValidationError {
    fn from(err: ConfigError) -> Self {
        match err {
            ConfigError::Syntax(l) | ConfigError::Schema(l) | ConfigError::Invalid(l) => l,
            err @ ConfigError::Io { .. } => ValidationError {
                path: err.path().to_path_buf(),
                line: 0,
                column: 0,
                message: err.message(),
                hint: None,
            },
        }
    }
}

/// What a valid lab holds.
#[derive(Debug, Clone)]
pub struct Report {
    pub lab: Lab,
    /// The lab's repository on disk; `None` when `gitops.repo` is remote.
    pub repo_root: Option<PathBuf>,
    /// The manifest files read under `gitops.path`, sorted.
    pub files: Vec<PathBuf>,
    /// Every Application found, in file order.
    pub applications: Vec<AppInfo>,
    /// Names of the AppProjects found.
    pub projects: Vec<String>,
    /// Problems that do not stop a sync by themselves (e.g. a project defined elsewhere).
    pub warnings: Vec<ValidationError>,
    /// Why part of the lab was not checked (a remote repository), if so.
    pub skipped: Option<String>,
}

/// One Application under `gitops.path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppInfo {
    pub name: String,
    pub project: String,
    /// Where it is defined.
    pub file: PathBuf,
    pub line: u32,
    /// Its sources, in order (one for `spec.source`).
    pub sources: Vec<SourceInfo>,
}

/// One source of an Application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceInfo {
    pub repo_url: String,
    pub kind: SourceKind,
    /// For a source in the lab's own repository: its folder, relative to the repository root
    /// with `/` (what [`super::git::last_commit_touching`] takes).
    pub local_path: Option<String>,
}

/// How Argo CD will render a source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceKind {
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

const KUSTOMIZATION_FILES: [&str; 3] = ["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// Checks the lab whose file is `lab_file`. See the module docs for what is checked.
pub fn validate(lab_file: &Path) -> Result<Report, Vec<ValidationError>> {
    let lab = config::load(lab_file).map_err(|e| vec![e.into()])?;
    let lab_dir = match lab_file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut v = Validator {
        errors: Vec::new(),
        warnings: Vec::new(),
        apps: Vec::new(),
        projects: BTreeMap::new(),
        checked_dirs: HashSet::new(),
        root: PathBuf::new(),
    };
    let mut report = Report {
        lab: lab.clone(),
        repo_root: None,
        files: Vec::new(),
        applications: Vec::new(),
        projects: Vec::new(),
        warnings: Vec::new(),
        skipped: None,
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

    let Some(root) = local_repo(&lab.gitops.repo, &lab_dir) else {
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
    v.root = root.clone();
    report.repo_root = Some(root.clone());

    let Some(rel) = inside(&lab.gitops.path) else {
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

    report.files = yaml_files(&apps_dir, true);
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

/// The lab's repository on disk, or `None` when it is remote.
fn local_repo(repo: &str, lab_dir: &Path) -> Option<PathBuf> {
    let path = match repo.strip_prefix("file://") {
        Some(path) => path,
        None => {
            let scp_like = repo.contains('@') && repo.contains(':') && !repo.starts_with('/');
            if repo.contains("://") || scp_like {
                return None;
            }
            repo
        }
    };
    // Without `.` components, so `repo: .` names files `lab/apps/x.yaml`, not `lab/./apps/…`.
    let path: PathBuf = Path::new(path)
        .components()
        .filter(|c| !matches!(c, Component::CurDir))
        .collect();
    Some(lab_dir.join(path))
}

/// `path` as a relative path inside a repository, or `None` if it is absolute or climbs out.
fn inside(path: &str) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in Path::new(path).components() {
        match c {
            Component::Normal(p) => out.push(p),
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(out)
}

/// `*.yaml` / `*.yml` files under `dir` (recursively when asked), sorted, skipping hidden
/// folders and the `templates/` of Helm charts (Go templates are not YAML).
fn yaml_files(dir: &Path, recurse: bool) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(here) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&here) else {
            continue;
        };
        let is_chart = here.join("Chart.yaml").is_file();
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                if recurse && !name.starts_with('.') && !(is_chart && name == "templates") {
                    stack.push(path);
                }
            } else if name.ends_with(".yaml") || name.ends_with(".yml") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
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

    /// Checks one document under `gitops.path`.
    fn check_object(&mut self, file: &Path, doc: &Node) {
        if doc.is_null() {
            return;
        }
        if !matches!(doc.value, Value::Map(_)) {
            self.error(
                file,
                doc.pos,
                format!("expected a Kubernetes object, found {}", doc.describe()),
                Some("each document is a mapping with `apiVersion`, `kind` and `metadata`"),
            );
            return;
        }
        let api = self.string(file, doc, doc.pos, "apiVersion", "", true);
        let kind = self.string(file, doc, doc.pos, "kind", "", true);
        let (Some(api), Some(kind)) = (api, kind) else {
            return;
        };
        let argo = api.starts_with("argoproj.io/");
        match kind.as_str() {
            "Application" if argo => self.check_application(file, doc),
            "AppProject" if argo => self.check_project(file, doc),
            _ => {
                let meta = self.map(file, doc, doc.pos, "metadata", "", true);
                if let Some((meta_pos, meta)) = meta
                    && meta.get("generateName").is_none()
                {
                    self.string(file, meta, meta_pos, "name", "metadata.", true);
                }
            }
        }
    }

    fn check_application(&mut self, file: &Path, doc: &Node) {
        let name = self
            .map(file, doc, doc.pos, "metadata", "", true)
            .and_then(|(pos, meta)| self.string(file, meta, pos, "name", "metadata.", true))
            .unwrap_or_default();
        let Some((spec_pos, spec)) = self.map(file, doc, doc.pos, "spec", "", true) else {
            return;
        };
        let project = self.string(file, spec, spec_pos, "project", "spec.", true);
        let project_pos = spec.get("project").map_or(spec_pos, |n| n.pos);

        // Destination: exactly one of server / name; namespace optional.
        let mut destination = None;
        if let Some((dest_pos, dest)) = self.map(file, spec, spec_pos, "destination", "spec.", true)
        {
            let server = self.string(file, dest, dest_pos, "server", "spec.destination.", false);
            let cluster = self.string(file, dest, dest_pos, "name", "spec.destination.", false);
            let namespace = self
                .string(
                    file,
                    dest,
                    dest_pos,
                    "namespace",
                    "spec.destination.",
                    false,
                )
                .unwrap_or_default();
            match (&server, &cluster) {
                (Some(_), Some(_)) => self.error(
                    file,
                    dest.entry("name").map_or(dest_pos, |(k, _)| k.pos),
                    "`spec.destination` has both `server` and `name`",
                    Some(
                        "give one: `server: https://kubernetes.default.svc` or `name: in-cluster`",
                    ),
                ),
                (None, None) if dest.get("server").is_none() && dest.get("name").is_none() => self
                    .error(
                        file,
                        dest_pos,
                        "`spec.destination` has neither `server` nor `name`",
                        Some("the lab's own cluster is `server: https://kubernetes.default.svc`"),
                    ),
                _ => {}
            }
            if let Some(target) = server.or(cluster) {
                // Point at the namespace: it is what a project most often does not allow.
                let pos = dest.get("namespace").map_or(dest_pos, |n| n.pos);
                destination = Some((target, namespace, pos));
            }
        }

        // Exactly one of source / sources.
        let mut sources = Vec::new();
        match (spec.entry("source"), spec.entry("sources")) {
            (Some(_), Some((key, _))) => self.error(
                file,
                key.pos,
                "both `spec.source` and `spec.sources`",
                Some("use `source:` for one source, or `sources:` (a list) for several, not both"),
            ),
            (None, None) => self.error(
                file,
                spec_pos,
                "missing `spec.source`",
                Some(
                    "an Application needs `source:` (repoURL + path or chart) or a `sources:` list",
                ),
            ),
            (Some((_, source)), None) => {
                if let Some(s) = self.check_source(file, source, "spec.source", false) {
                    sources.push(s);
                }
            }
            (None, Some((key, list))) => match &list.value {
                Value::List(items) if !items.is_empty() => {
                    for (i, item) in items.iter().enumerate() {
                        if let Some(s) =
                            self.check_source(file, item, &format!("spec.sources[{i}]"), true)
                        {
                            sources.push(s);
                        }
                    }
                }
                Value::List(_) => self.error(
                    file,
                    key.pos,
                    "`spec.sources` is empty",
                    Some("list at least one source"),
                ),
                _ => self.error(
                    file,
                    list.pos,
                    format!("`spec.sources` must be a list, found {}", list.describe()),
                    Some("one `- repoURL: …` entry per source"),
                ),
            },
        }
        self.check_sync_policy(file, spec, spec_pos);

        let needs = AppNeeds {
            file: file.to_path_buf(),
            project_pos,
            repos: sources
                .iter()
                .map(|(s, pos)| (s.repo_url.clone(), *pos))
                .collect(),
            destination,
        };
        self.apps.push((
            AppInfo {
                name,
                project: project.unwrap_or_default(),
                file: file.to_path_buf(),
                line: doc.pos.line,
                sources: sources.into_iter().map(|(s, _)| s).collect(),
            },
            needs,
        ));
    }

    /// Checks one source; returns it with the position of its `repoURL`.
    fn check_source(
        &mut self,
        file: &Path,
        source: &Node,
        what: &str,
        multi: bool,
    ) -> Option<(SourceInfo, Pos)> {
        if !matches!(source.value, Value::Map(_)) {
            self.error(
                file,
                source.pos,
                format!("`{what}` must be a mapping, found {}", source.describe()),
                Some("`repoURL:` plus `path:` (a folder in Git) or `chart:` (a Helm chart)"),
            );
            return None;
        }
        let prefix = format!("{what}.");
        let repo_url = self.string(file, source, source.pos, "repoURL", &prefix, true)?;
        let repo_pos = source.get("repoURL").map_or(source.pos, |n| n.pos);
        let path = self.string(file, source, source.pos, "path", &prefix, false);
        let chart = self.string(file, source, source.pos, "chart", &prefix, false);
        let revision = self
            .string(file, source, source.pos, "targetRevision", &prefix, false)
            .unwrap_or_default();
        let has_ref = self
            .string(file, source, source.pos, "ref", &prefix, false)
            .is_some();
        let kind = match (&path, &chart) {
            (Some(_), Some(_)) => {
                self.error(
                    file,
                    source.entry("chart").map_or(source.pos, |(k, _)| k.pos),
                    format!("`{what}` has both `path` and `chart`"),
                    Some("`chart:` names a chart in a Helm repository; `path:` a folder in a Git repository"),
                );
                return None;
            }
            (None, None) if multi && has_ref => SourceKind::Ref,
            (None, None) => {
                if source.get("path").is_none() && source.get("chart").is_none() {
                    self.error(
                        file,
                        source.pos,
                        format!("`{what}` has neither `path` nor `chart`"),
                        Some("`path:` a folder in the Git repository (`.` for its root), or `chart:` a chart in a Helm repository"),
                    );
                }
                return None;
            }
            (None, Some(chart)) => SourceKind::HelmChart {
                chart: chart.clone(),
                version: revision,
            },
            (Some(path), None) => {
                if self.is_lab_repo(&repo_url) {
                    return self.check_local_source(file, source, what, path).map(
                        |(kind, local)| {
                            (
                                SourceInfo {
                                    repo_url,
                                    kind,
                                    local_path: Some(local),
                                },
                                repo_pos,
                            )
                        },
                    );
                }
                SourceKind::Remote { path: path.clone() }
            }
        };
        // Value types Argo CD would reject, even for remote sources.
        if let Some((helm_pos, helm)) = self.map(file, source, source.pos, "helm", &prefix, false) {
            self.list_of_strings(
                file,
                helm,
                helm_pos,
                "valueFiles",
                &format!("{prefix}helm."),
            );
        }
        Some((
            SourceInfo {
                repo_url,
                kind,
                local_path: None,
            },
            repo_pos,
        ))
    }

    /// A source in the lab's own repository: the folder must exist, Helm value files too, a
    /// Kustomize source needs its kustomization, and its YAML must parse.
    fn check_local_source(
        &mut self,
        file: &Path,
        source: &Node,
        what: &str,
        path: &str,
    ) -> Option<(SourceKind, String)> {
        let path_pos = source.get("path").map_or(source.pos, |n| n.pos);
        let Some(rel) = inside(path) else {
            self.error(
                file,
                path_pos,
                format!("`{what}.path: {path}` leaves the repository"),
                Some("paths are relative to the repository root, without leading `/` or `..` out of it"),
            );
            return None;
        };
        let dir = self.root.join(&rel);
        let local = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/");
        if !dir.is_dir() {
            let found = if dir.exists() {
                "is not a folder"
            } else {
                "does not exist"
            };
            self.error(
                file,
                path_pos,
                format!("`{what}.path: {path}` {found} in the lab's repository ({})", self.root.display()),
                Some("paths are relative to the repository root; create the folder (and commit it), or fix the path"),
            );
            return None;
        }
        let prefix = format!("{what}.");
        let has_kustomization = KUSTOMIZATION_FILES.iter().any(|k| dir.join(k).is_file());
        let is_chart = dir.join("Chart.yaml").is_file();
        if let Some((key, _)) = source.entry("kustomize")
            && !has_kustomization
        {
            self.error(
                file,
                key.pos,
                format!("`{what}.kustomize` is set but {path} has no kustomization.yaml"),
                Some("add a kustomization.yaml to the folder, or remove `kustomize:` for plain manifests"),
            );
        }
        if let Some((helm_pos, helm)) = self.map(file, source, source.pos, "helm", &prefix, false) {
            let ignore_missing = matches!(
                helm.get("ignoreMissingValueFiles").map(|n| &n.value),
                Some(Value::Bool(true))
            );
            let files = self.list_of_strings(
                file,
                helm,
                helm_pos,
                "valueFiles",
                &format!("{prefix}helm."),
            );
            for (value_file, pos) in files {
                // `$ref/…` (another source) and URLs are not in this folder.
                if ignore_missing || value_file.starts_with('$') || value_file.contains("://") {
                    continue;
                }
                let exists = inside(&Path::new(&local).join(&value_file).to_string_lossy())
                    .is_some_and(|p| self.root.join(p).is_file());
                if !exists {
                    self.error(
                        file,
                        pos,
                        format!("Helm value file `{value_file}` does not exist in {path}"),
                        Some("value files are relative to the source's `path`; create it, fix the name, or set `ignoreMissingValueFiles: true`"),
                    );
                }
            }
        }
        let kind = if has_kustomization {
            SourceKind::Kustomize
        } else if is_chart {
            SourceKind::Helm
        } else {
            SourceKind::Directory
        };
        // The files Argo CD will render must at least be YAML. Charts' templates are skipped.
        if self.checked_dirs.insert(dir.clone()) {
            let recurse = matches!(
                source
                    .get("directory")
                    .and_then(|d| d.get("recurse"))
                    .map(|n| &n.value),
                Some(Value::Bool(true))
            );
            let files = yaml_files(&dir, recurse || is_chart);
            if files.is_empty() && kind == SourceKind::Directory {
                self.warnings.push(at(
                    file,
                    path_pos,
                    format!("`{what}.path: {path}` has no YAML files: the app will be empty"),
                    None,
                ));
            }
            for f in files {
                self.read_yaml(&f);
            }
        }
        Some((kind, local))
    }

    fn check_sync_policy(&mut self, file: &Path, spec: &Node, spec_pos: Pos) {
        let Some((pos, policy)) = self.map(file, spec, spec_pos, "syncPolicy", "spec.", false)
        else {
            return;
        };
        if let Some((auto_pos, auto)) =
            self.map(file, policy, pos, "automated", "spec.syncPolicy.", false)
        {
            for key in ["prune", "selfHeal", "allowEmpty"] {
                if let Some(node) = auto.get(key)
                    && !matches!(node.value, Value::Bool(_))
                {
                    self.error(
                        file,
                        node.pos,
                        format!(
                            "`spec.syncPolicy.automated.{key}` must be true or false, found {}",
                            node.describe()
                        ),
                        None,
                    );
                }
            }
            let _ = auto_pos;
        }
        self.list_of_strings(file, policy, pos, "syncOptions", "spec.syncPolicy.");
    }

    fn check_project(&mut self, file: &Path, doc: &Node) {
        let name = self
            .map(file, doc, doc.pos, "metadata", "", true)
            .and_then(|(pos, meta)| self.string(file, meta, pos, "name", "metadata.", true));
        let Some((spec_pos, spec)) = self.map(file, doc, doc.pos, "spec", "", true) else {
            return;
        };
        let source_repos = self
            .list_of_strings(file, spec, spec_pos, "sourceRepos", "spec.")
            .into_iter()
            .map(|(s, _)| s)
            .collect();
        let mut destinations = Vec::new();
        if let Some(list) = spec.get("destinations") {
            match &list.value {
                Value::List(items) => {
                    for item in items {
                        if !matches!(item.value, Value::Map(_)) {
                            self.error(
                                file,
                                item.pos,
                                format!(
                                    "a `spec.destinations` entry must be a mapping, found {}",
                                    item.describe()
                                ),
                                Some(
                                    "`{ server: https://kubernetes.default.svc, namespace: <ns> }`",
                                ),
                            );
                            continue;
                        }
                        let p = "spec.destinations[].";
                        let server = self.string(file, item, item.pos, "server", p, false);
                        let cluster = self.string(file, item, item.pos, "name", p, false);
                        let ns = self.string(file, item, item.pos, "namespace", p, false);
                        destinations.push((
                            server.or(cluster).unwrap_or_else(|| "*".into()),
                            ns.unwrap_or_else(|| "*".into()),
                        ));
                    }
                }
                _ => self.error(
                    file,
                    list.pos,
                    format!(
                        "`spec.destinations` must be a list, found {}",
                        list.describe()
                    ),
                    None,
                ),
            }
        }
        if let Some(name) = name {
            self.projects.insert(
                name,
                Project {
                    source_repos,
                    destinations,
                },
            );
        }
    }

    /// Applications against the projects defined next to them.
    fn cross_check(&mut self) {
        let mut seen: BTreeMap<String, (PathBuf, u32)> = BTreeMap::new();
        let apps = std::mem::take(&mut self.apps);
        for (app, needs) in &apps {
            if !app.name.is_empty() {
                if let Some((first_file, first_line)) = seen.get(&app.name) {
                    self.error(
                        &app.file,
                        Pos {
                            line: app.line,
                            column: 1,
                        },
                        format!(
                            "a second Application named `{}` (the first is at {}:{first_line})",
                            app.name,
                            first_file.display()
                        ),
                        Some("Application names are unique in the Argo CD namespace; rename one"),
                    );
                } else {
                    seen.insert(app.name.clone(), (app.file.clone(), app.line));
                }
            }
            if app.project.is_empty() || app.project == "default" {
                continue;
            }
            let Some(project) = self.projects.get(&app.project) else {
                self.warnings.push(at(
                    &needs.file,
                    needs.project_pos,
                    format!("no AppProject `{}` is defined under gitops.path", app.project),
                    Some("Argo CD will not sync the app until that project exists; use `default` or define it"),
                ));
                continue;
            };
            let mut problems = Vec::new();
            for (repo, pos) in &needs.repos {
                if !project.source_repos.iter().any(|p| glob(p, repo)) {
                    problems.push(at(
                        &needs.file,
                        *pos,
                        format!(
                            "repository `{repo}` is not allowed by AppProject `{}`",
                            app.project
                        ),
                        Some("add it to the project's `spec.sourceRepos`"),
                    ));
                }
            }
            if let Some((target, ns, pos)) = &needs.destination
                && !project
                    .destinations
                    .iter()
                    .any(|(t, n)| glob(t, target) && glob(n, ns))
            {
                problems.push(at(
                    &needs.file,
                    *pos,
                    format!(
                        "destination `{target}`, namespace `{ns}` is not allowed by AppProject `{}`",
                        app.project
                    ),
                    Some("add it to the project's `spec.destinations`"),
                ));
            }
            self.errors.extend(problems);
        }
        self.apps = apps;
    }

    /// A mapping at `key`: `None` (with an error if `required`) when absent or of another type.
    fn map<'n>(
        &mut self,
        file: &Path,
        parent: &'n Node,
        parent_pos: Pos,
        key: &str,
        prefix: &str,
        required: bool,
    ) -> Option<(Pos, &'n Node)> {
        match parent.entry(key) {
            None => {
                if required {
                    self.missing(file, parent_pos, prefix, key);
                }
                None
            }
            Some((k, v)) => match v.value {
                Value::Map(_) => Some((k.pos, v)),
                Value::Null if !required => None,
                _ => {
                    self.error(
                        file,
                        v.pos,
                        format!("`{prefix}{key}` must be a mapping, found {}", v.describe()),
                        Some("`key: value` lines indented below it"),
                    );
                    None
                }
            },
        }
    }

    /// A non-empty string at `key` (see [`Validator::map`]).
    fn string(
        &mut self,
        file: &Path,
        parent: &Node,
        parent_pos: Pos,
        key: &str,
        prefix: &str,
        required: bool,
    ) -> Option<String> {
        match parent.entry(key) {
            None => {
                if required {
                    self.missing(file, parent_pos, prefix, key);
                }
                None
            }
            Some((_, v)) => match &v.value {
                Value::String(s) if !s.is_empty() => Some(s.clone()),
                Value::Null | Value::String(_) if !required => None,
                Value::Null | Value::String(_) => {
                    self.error(
                        file,
                        v.pos,
                        format!("`{prefix}{key}` is empty"),
                        Some("give it a value"),
                    );
                    None
                }
                _ => {
                    let quote = matches!(v.value, Value::Number(_) | Value::Bool(_));
                    self.error(
                        file,
                        v.pos,
                        format!("`{prefix}{key}` must be a string, found {}", v.describe()),
                        quote.then_some("quote it: `\"…\"`"),
                    );
                    None
                }
            },
        }
    }

    /// The strings of an optional list at `key`, each with its position.
    fn list_of_strings(
        &mut self,
        file: &Path,
        parent: &Node,
        _parent_pos: Pos,
        key: &str,
        prefix: &str,
    ) -> Vec<(String, Pos)> {
        let Some(list) = parent.get(key) else {
            return Vec::new();
        };
        match &list.value {
            Value::Null => Vec::new(),
            Value::List(items) => items
                .iter()
                .filter_map(|item| match &item.value {
                    Value::String(s) => Some((s.clone(), item.pos)),
                    _ => {
                        self.error(
                            file,
                            item.pos,
                            format!(
                                "`{prefix}{key}` entries must be strings, found {}",
                                item.describe()
                            ),
                            None,
                        );
                        None
                    }
                })
                .collect(),
            _ => {
                self.error(
                    file,
                    list.pos,
                    format!("`{prefix}{key}` must be a list, found {}", list.describe()),
                    Some("write `[a, b]`, or one `- item` per line below the key"),
                );
                Vec::new()
            }
        }
    }

    fn missing(&mut self, file: &Path, pos: Pos, prefix: &str, key: &str) {
        let hint = match (prefix, key) {
            ("spec.", "project") => Some(
                "every Application names its AppProject: `project: default`, or one defined under gitops.path",
            ),
            ("spec.", "destination") => {
                Some("`destination: { server: https://kubernetes.default.svc, namespace: <ns> }`")
            }
            (_, "repoURL") => Some(
                "the Git or Helm repository URL; this lab's own repository is `file:///playground`",
            ),
            ("", "apiVersion") => {
                Some("e.g. `apiVersion: argoproj.io/v1alpha1` for an Application")
            }
            ("", "kind") => Some("e.g. `kind: Application`"),
            _ => None,
        };
        self.error(file, pos, format!("missing `{prefix}{key}`"), hint);
    }

    /// Whether `url` is the lab's own repository.
    fn is_lab_repo(&self, url: &str) -> bool {
        let url = url.trim_end_matches('/');
        if url == REPO_PLACEHOLDER {
            return true;
        }
        let Some(path) = url.strip_prefix("file://") else {
            return false;
        };
        let (Ok(a), Ok(b)) = (Path::new(path).canonicalize(), self.root.canonicalize()) else {
            return false;
        };
        a == b
    }
}

/// Argo CD's project patterns: `*` matches anything (including `/`), the rest literally.
fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(i) => rest = &rest[i + middle.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    const LAB: &str = "apiVersion: playground.dev/v1alpha1\nkind: Playground\nmetadata:\n  name: lab\ngitops:\n  repo: .\n  path: apps\n";

    const PROJECT: &str = "apiVersion: argoproj.io/v1alpha1
kind: AppProject
metadata:
  name: lab
  namespace: argocd
spec:
  sourceRepos: [file:///playground, https://charts.example.com]
  destinations:
    - { server: https://kubernetes.default.svc, namespace: web }
";

    /// A valid Application (line numbers matter to the tests that edit it).
    const APP: &str = "apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: web
  namespace: argocd
spec:
  project: lab
  source:
    repoURL: file:///playground
    targetRevision: HEAD
    path: workloads/web
  destination:
    server: https://kubernetes.default.svc
    namespace: web
  syncPolicy:
    automated: { prune: true, selfHeal: true }
    syncOptions: [CreateNamespace=true]
";

    /// A lab with the project, the app and its folder, then `files` written over it.
    fn lab(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let base = [
            ("playground.yaml", LAB),
            ("apps/project.yaml", PROJECT),
            ("apps/web.yaml", APP),
            (
                "workloads/web/deploy.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\n",
            ),
        ];
        for (rel, text) in base.iter().chain(files) {
            let path = dir.path().join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        dir
    }

    fn errors_of(dir: &tempfile::TempDir) -> Vec<ValidationError> {
        match validate(&dir.path().join("playground.yaml")) {
            Ok(report) => panic!("expected errors, got {report:#?}"),
            Err(errors) => errors,
        }
    }

    #[test]
    fn the_sample_lab_passes() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("playground");
        let report = validate(&root.join("playground.yaml"))
            .unwrap_or_else(|errors| panic!("{}", render(&errors)));
        assert_eq!(report.projects, ["playground"]);
        assert!(report.warnings.is_empty(), "{:?}", report.warnings);
        let apps: Vec<_> = report
            .applications
            .iter()
            .map(|a| {
                (
                    a.name.as_str(),
                    a.sources[0].kind.clone(),
                    a.sources[0].local_path.clone(),
                )
            })
            .collect();
        assert_eq!(
            apps,
            [
                (
                    "kustomize-hello",
                    SourceKind::Kustomize,
                    Some("workloads/kustomize-hello".into())
                ),
                (
                    "plain-echo",
                    SourceKind::Directory,
                    Some("workloads/plain-echo".into())
                ),
                (
                    "podinfo",
                    SourceKind::HelmChart {
                        chart: "podinfo".into(),
                        version: "6.7.1".into()
                    },
                    None
                ),
            ]
        );
        assert!(
            report
                .applications
                .iter()
                .all(|a| a.project == "playground")
        );
    }

    fn render(errors: &[ValidationError]) -> String {
        errors.iter().map(|e| format!("{e}\n")).collect()
    }

    #[test]
    fn a_valid_lab_passes() {
        let dir = lab(&[]);
        let report = validate(&dir.path().join("playground.yaml"))
            .unwrap_or_else(|errors| panic!("{}", render(&errors)));
        assert_eq!(report.files.len(), 2);
        assert_eq!(
            report.applications[0].sources[0].local_path.as_deref(),
            Some("workloads/web")
        );
    }

    /// Each broken lab: the files written over the valid one, then the expected file, line and
    /// part of the message of its (only) error.
    #[test]
    fn reports_each_broken_lab_at_the_right_place() {
        // (case, files written over the valid lab, file, line, message)
        type Case = (
            &'static str,
            Vec<(&'static str, String)>,
            &'static str,
            u32,
            &'static str,
        );
        let cases: Vec<Case> = vec![
            (
                "bad YAML",
                vec![("apps/bad.yaml", "a: 1\nb: [1, 2\n".to_string())],
                "apps/bad.yaml",
                2,
                "invalid YAML",
            ),
            (
                "duplicate key",
                vec![("apps/web.yaml", APP.replace("  project: lab\n", "  project: lab\n  project: lab\n"))],
                "apps/web.yaml",
                8,
                "duplicate key `project`",
            ),
            (
                "Application without project",
                vec![("apps/web.yaml", APP.replace("  project: lab\n", ""))],
                "apps/web.yaml",
                6,
                "missing `spec.project`",
            ),
            (
                "missing path",
                vec![("apps/web.yaml", APP.replace("workloads/web", "workloads/nope"))],
                "apps/web.yaml",
                11,
                "`spec.source.path: workloads/nope` does not exist",
            ),
            (
                "path leaving the repository",
                vec![("apps/web.yaml", APP.replace("workloads/web", "../elsewhere"))],
                "apps/web.yaml",
                11,
                "leaves the repository",
            ),
            (
                "missing valueFile",
                vec![
                    ("apps/web.yaml", APP.replace("    path: workloads/web\n", "    path: workloads/web\n    helm:\n      valueFiles:\n        - values.yaml\n        - values-missing.yaml\n")),
                    ("workloads/web/values.yaml", "a: 1\n".to_string()),
                ],
                "apps/web.yaml",
                15,
                "Helm value file `values-missing.yaml` does not exist",
            ),
            (
                "both source and sources",
                vec![("apps/web.yaml", APP.replace("  destination:\n", "  sources:\n    - repoURL: file:///playground\n      path: workloads/web\n  destination:\n"))],
                "apps/web.yaml",
                12,
                "both `spec.source` and `spec.sources`",
            ),
            (
                "neither source nor sources",
                vec![("apps/web.yaml", APP.replace("  source:\n    repoURL: file:///playground\n    targetRevision: HEAD\n    path: workloads/web\n", ""))],
                "apps/web.yaml",
                6,
                "missing `spec.source`",
            ),
            (
                "wrong type: a number for a string",
                vec![("apps/web.yaml", APP.replace("targetRevision: HEAD", "targetRevision: 1.0"))],
                "apps/web.yaml",
                10,
                "`spec.source.targetRevision` must be a string, found the number `1.0`",
            ),
            (
                "wrong type: a list for a mapping",
                vec![("apps/web.yaml", APP.replace("  destination:\n    server: https://kubernetes.default.svc\n    namespace: web\n", "  destination: [in-cluster]\n"))],
                "apps/web.yaml",
                12,
                "`spec.destination` must be a mapping, found a list",
            ),
            (
                "wrong type: prune",
                vec![("apps/web.yaml", APP.replace("prune: true", "prune: \"yes\""))],
                "apps/web.yaml",
                16,
                "`spec.syncPolicy.automated.prune` must be true or false",
            ),
            (
                "server and name",
                vec![("apps/web.yaml", APP.replace("    namespace: web\n  syncPolicy", "    namespace: web\n    name: in-cluster\n  syncPolicy"))],
                "apps/web.yaml",
                15,
                "both `server` and `name`",
            ),
            (
                "path and chart",
                vec![("apps/web.yaml", APP.replace("    path: workloads/web\n", "    path: workloads/web\n    chart: web\n"))],
                "apps/web.yaml",
                12,
                "both `path` and `chart`",
            ),
            (
                "kustomize without kustomization",
                vec![("apps/web.yaml", APP.replace("    path: workloads/web\n", "    path: workloads/web\n    kustomize: { namePrefix: x- }\n"))],
                "apps/web.yaml",
                12,
                "has no kustomization.yaml",
            ),
            (
                "broken YAML in the app's folder",
                vec![("workloads/web/broken.yml", "kind: [\n".to_string())],
                "workloads/web/broken.yml",
                1,
                "invalid YAML",
            ),
            (
                "repository not allowed by the project",
                vec![("apps/web.yaml", APP.replace("    repoURL: file:///playground\n    targetRevision: HEAD\n    path: workloads/web\n", "    repoURL: https://other.example.com/charts\n    chart: web\n    targetRevision: 1.2.3\n"))],
                "apps/web.yaml",
                9,
                "repository `https://other.example.com/charts` is not allowed by AppProject `lab`",
            ),
            (
                "namespace not allowed by the project",
                vec![("apps/web.yaml", APP.replace("namespace: web", "namespace: db"))],
                "apps/web.yaml",
                14,
                "namespace `db` is not allowed by AppProject `lab`",
            ),
            (
                "two Applications with one name",
                vec![("apps/web2.yaml", APP.to_string())],
                "apps/web2.yaml",
                1,
                "a second Application named `web`",
            ),
            (
                "AppProject without spec",
                vec![("apps/project.yaml", "apiVersion: argoproj.io/v1alpha1\nkind: AppProject\nmetadata:\n  name: other\n".to_string())],
                "apps/project.yaml",
                1,
                "missing `spec`",
            ),
            (
                "object without kind",
                vec![("apps/cm.yaml", "---\napiVersion: v1\nmetadata: { name: x }\n".to_string())],
                "apps/cm.yaml",
                2,
                "missing `kind`",
            ),
        ];
        for (name, files, file, line, message) in cases {
            let files: Vec<(&str, &str)> = files.iter().map(|(p, t)| (*p, t.as_str())).collect();
            let dir = lab(&files);
            let errors = errors_of(&dir);
            assert_eq!(errors.len(), 1, "{name}: {}", render(&errors));
            let e = &errors[0];
            assert_eq!(e.path, dir.path().join(file), "{name}: {e}");
            assert_eq!(e.line, line, "{name}: {e}");
            assert!(e.column >= 1, "{name}: {e}");
            assert!(e.message.contains(message), "{name}: {e}");
            let shown = e.to_string();
            assert!(
                shown.starts_with(&format!(
                    "{}:{line}:{}: ",
                    dir.path().join(file).display(),
                    e.column
                )),
                "{name}: {shown}"
            );
        }
    }

    #[test]
    fn collects_every_error_at_once() {
        let dir = lab(&[
            ("apps/bad.yaml", "a: [\n"),
            (
                "apps/web.yaml",
                &APP.replace("  project: lab\n", "")
                    .replace("workloads/web", "workloads/nope"),
            ),
        ]);
        let errors = errors_of(&dir);
        assert_eq!(errors.len(), 3, "{}", render(&errors));
        // Sorted by file, then line.
        assert!(errors[0].path.ends_with("apps/bad.yaml"));
        assert!(
            errors[1].message.contains("spec.project"),
            "{}",
            render(&errors)
        );
        assert!(
            errors[2].message.contains("workloads/nope"),
            "{}",
            render(&errors)
        );
    }

    #[test]
    fn reports_lab_file_problems_in_the_lab_file() {
        let dir = lab(&[(
            "playground.yaml",
            &LAB.replace("path: apps", "path: missing"),
        )]);
        let errors = errors_of(&dir);
        assert_eq!(errors.len(), 1);
        assert_eq!((errors[0].line, errors[0].column), (7, 9), "{}", errors[0]);
        assert!(
            errors[0].message.contains("does not exist"),
            "{}",
            errors[0]
        );

        let dir = lab(&[(
            "playground.yaml",
            &LAB.replace("kind: Playground", "kind: Cluster"),
        )]);
        let errors = errors_of(&dir);
        assert_eq!((errors[0].line, errors[0].column), (2, 7), "{}", errors[0]);
    }

    #[test]
    fn warns_about_a_project_defined_elsewhere() {
        let dir = lab(&[(
            "apps/web.yaml",
            &APP.replace("project: lab", "project: team"),
        )]);
        let report = validate(&dir.path().join("playground.yaml")).unwrap();
        assert_eq!(report.warnings.len(), 1);
        assert_eq!(report.warnings[0].line, 7);
        assert!(report.warnings[0].message.contains("no AppProject `team`"));
    }

    #[test]
    fn does_not_check_a_remote_repository_offline() {
        let dir = lab(&[(
            "playground.yaml",
            &LAB.replace("repo: .", "repo: https://github.com/example/lab.git"),
        )]);
        let report = validate(&dir.path().join("playground.yaml")).unwrap();
        assert!(report.repo_root.is_none());
        assert!(report.skipped.unwrap().contains("remote repository"));
    }

    #[test]
    fn accepts_a_file_url_of_the_lab_itself_and_globs_in_projects() {
        let dir = lab(&[]);
        let url = format!("file://{}", dir.path().display());
        let app = APP.replace("file:///playground", &url);
        let project = PROJECT.replace("file:///playground", "file://*");
        let dir2 = lab(&[("apps/web.yaml", &app), ("apps/project.yaml", &project)]);
        // `dir`'s URL does not name `dir2`: that source is remote, so its path is not checked.
        let report = validate(&dir2.path().join("playground.yaml")).unwrap();
        assert!(matches!(
            report.applications[0].sources[0].kind,
            SourceKind::Remote { .. }
        ));
        let own = APP.replace(
            "file:///playground",
            &format!("file://{}", dir2.path().display()),
        );
        std::fs::write(dir2.path().join("apps/web.yaml"), own).unwrap();
        let report = validate(&dir2.path().join("playground.yaml")).unwrap();
        assert_eq!(
            report.applications[0].sources[0].kind,
            SourceKind::Directory
        );
        assert!(glob(
            "https://*.example.com/*",
            "https://charts.example.com/a/b"
        ));
        assert!(!glob("https://*.example.com", "https://example.org"));
    }
}

//! Where the sources are: the lab's repository on disk, the manifest files under
//! `gitops.path`, and each Application source (in the lab's own repository: its folder, Helm
//! value files, kustomization and YAML must be there).

use std::path::{Path, PathBuf};

use super::{REPO_PLACEHOLDER, SourceInfo, SourceKind, Validator, at};
use crate::gitops::yaml::{Node, Pos, Value};

pub(super) use crate::fsutil::inside;
pub(super) use crate::gitops::source::KUSTOMIZATION_NAMES as KUSTOMIZATION_FILES;

/// `*.yaml` / `*.yml` files under `dir` (recursively when asked), sorted, skipping hidden
/// folders and the `templates/` of Helm charts (Go templates are not YAML).
pub(super) fn yaml_files(dir: &Path, recurse: bool) -> Vec<PathBuf> {
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

impl Validator {
    /// Checks one source; returns it with the position of its `repoURL`.
    pub(super) fn check_source(
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
                if self.is_origin(&repo_url) {
                    self.warnings.push(at(
                        file,
                        repo_pos,
                        format!(
                            "`{what}.repoURL` is {repo_url}, this repository's remote: Argo CD deploys what is pushed there at `{}`, not your local commits (it resolves revisions with go-git, which no gitconfig redirects)",
                            if revision.is_empty() { "HEAD" } else { revision.as_str() }
                        ),
                        Some(&format!("name {REPO_PLACEHOLDER} to deploy the local repository (and allow it in the project's sourceRepos); checked here against the local clone")),
                    ));
                }
                if self.is_lab_repo(&repo_url) || self.is_origin(&repo_url) {
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
    pub(super) fn check_local_source(
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
            if is_chart && !has_kustomization {
                // Read as Helm reads it, not as manifests: templates are not YAML, and a
                // key given twice in a value file is Helm's "last one wins".
                let value_files: Vec<String> = source
                    .get("helm")
                    .and_then(|h| h.get("valueFiles"))
                    .map(|n| n.to_json())
                    .and_then(|j| serde_json::from_value(j).ok())
                    .unwrap_or_default();
                let value_files: Vec<String> = value_files
                    .into_iter()
                    .filter(|f| !f.starts_with('$'))
                    .collect();
                let chart = crate::gitops::helm::check_chart(&dir, &value_files, None);
                // A missing value file is reported above, at its place in the Application.
                self.errors.extend(
                    chart
                        .errors
                        .into_iter()
                        .filter(|e| !e.message.contains("does not exist in the chart")),
                );
                self.warnings.extend(chart.warnings);
                return Some((kind, local));
            }
            let files = yaml_files(&dir, recurse);
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

    /// Whether `url` is one of the repository's remotes (the same repository, read remotely).
    pub(super) fn is_origin(&self, url: &str) -> bool {
        let url = crate::gitops::helm::normalize_url(url);
        self.origins
            .iter()
            .any(|o| crate::gitops::helm::normalize_url(o) == url)
    }

    /// Whether `url` is the lab's own repository.
    pub(super) fn is_lab_repo(&self, url: &str) -> bool {
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

//! The root folder when it is not plain manifests, and the root's project.
//!
//! - A **chart** is read as Helm reads it (`gitops::helm`): `Chart.yaml`, the value files the
//!   lab names, values merged. Its templates are Go templates, never parsed as YAML. With
//!   `helm` on `PATH` it is rendered with the lab's values and the Applications it yields are
//!   checked like plain ones; without, one note says so.
//! - A **kustomization** must parse, and the files it lists must exist; with `kustomize` (or
//!   `kubectl`) on `PATH` it is built and checked the same way.
//! - The root's **project** (`gitops.project`) must exist where Argo CD will find it
//!   (`argocd.resources` or the root folder) and permit the root's repository, or Argo CD
//!   leaves the root unsynced with the messages quoted here.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{Report, Validator, at};
use crate::config::{Lab, RepoLocation, RootSource};
use crate::gitops::yaml::{self, Node, Pos};
use crate::gitops::{children, helm};

/// The repoURL of a local lab's root, as Argo CD sees it (`argocd::seed::LOCAL_REPO_URL`,
/// which this layer cannot name).
const LOCAL_REPO_URL: &str = super::REPO_PLACEHOLDER;

impl Validator {
    /// `named_at`: the lab file and where each of its `gitops.helm.valueFiles` is written.
    pub(super) fn check_root_chart(
        &mut self,
        lab: &Lab,
        dir: &Path,
        report: &mut Report,
        named_at: (&Path, &[Pos]),
    ) {
        let (files, inline, release) = match &lab.gitops.source {
            RootSource::Helm(h) => (
                h.value_files.clone(),
                h.values.clone(),
                h.release_name.clone(),
            ),
            _ => (Vec::new(), None, None),
        };
        let chart = helm::check_chart(dir, &files, inline.as_ref());
        for mut e in chart.errors {
            // A missing value file is the lab file's mistake: point at where it names it.
            if e.line == 0
                && let Some(i) = files.iter().position(|f| dir.join(f) == e.path)
                && let Some(pos) = named_at.1.get(i)
            {
                e.path = named_at.0.to_path_buf();
                e.line = pos.line;
                e.column = pos.column;
            }
            self.errors.push(e);
        }
        self.warnings.extend(chart.warnings);
        report.files.push(dir.join("Chart.yaml"));
        report
            .files
            .extend(files.iter().map(|f| dir.join(f)).filter(|p| p.is_file()));
        for w in children::chart_values_reading(&chart.values, &self.origins, LOCAL_REPO_URL) {
            self.warnings
                .push(at(dir, Pos { line: 0, column: 0 }, w, None));
        }
        let Some(helm) = helm::helm_binary() else {
            report.notes.push(format!(
                "the chart {} was not rendered: `helm` is not on PATH, so the Applications it yields were not checked; install Helm (https://helm.sh/docs/intro/install/) and run validate again",
                lab.gitops.path
            ));
            return;
        };
        let mut cmd = Command::new(helm);
        cmd.arg("template")
            .arg(release.as_deref().unwrap_or("root"))
            .arg(dir)
            .args(["--namespace", &lab.argocd.namespace]);
        for f in files.iter().filter(|f| !f.contains("://")) {
            cmd.arg("-f").arg(dir.join(f));
        }
        // Inline values rank above the value files, as Argo CD passes them last.
        let inline_file = inline.as_ref().and_then(|v| {
            let f = tempfile::NamedTempFile::new().ok()?;
            std::fs::write(f.path(), serde_json::to_string(v).ok()?).ok()?;
            Some(f)
        });
        if let Some(f) = &inline_file {
            cmd.arg("-f").arg(f.path());
        }
        let rendered = dir.join("(helm template)");
        self.check_rendered(cmd, &rendered, "helm template");
    }

    pub(super) fn check_root_kustomization(&mut self, dir: &Path, report: &mut Report) {
        let Some(file) = crate::gitops::source::KUSTOMIZATION_NAMES
            .iter()
            .map(|n| dir.join(n))
            .find(|p| p.is_file())
        else {
            return;
        };
        report.files.push(file.clone());
        let Some(docs) = self.read_yaml(&file) else {
            return;
        };
        if let Some(doc) = docs.first() {
            self.check_kustomization_paths(&file, dir, doc);
        }
        let (program, args): (PathBuf, &[&str]) = if let Some(k) = helm::which("kustomize") {
            (k, &["build"])
        } else if let Some(k) = helm::which("kubectl") {
            (k, &["kustomize"])
        } else {
            report.notes.push(format!(
                "the kustomization {} was not built: neither `kustomize` nor `kubectl` is on PATH, so the Applications it yields were not checked",
                dir.display()
            ));
            return;
        };
        let mut cmd = Command::new(program);
        cmd.args(args).arg(dir);
        self.check_rendered(cmd, &dir.join("(kustomize build)"), "kustomize build");
    }

    /// Every local path a kustomization lists (`resources`, `components`, patch files) exists.
    fn check_kustomization_paths(&mut self, file: &Path, dir: &Path, doc: &Node) {
        let mut listed: Vec<(&str, Pos)> = Vec::new();
        for key in ["resources", "components", "patchesStrategicMerge", "crds"] {
            if let Some(Node {
                value: yaml::Value::List(items),
                ..
            }) = doc.get(key)
            {
                listed.extend(items.iter().filter_map(|i| Some((i.as_str()?, i.pos))));
            }
        }
        if let Some(Node {
            value: yaml::Value::List(items),
            ..
        }) = doc.get("patches")
        {
            listed.extend(
                items
                    .iter()
                    .filter_map(|p| p.get("path"))
                    .filter_map(|n| Some((n.as_str()?, n.pos))),
            );
        }
        for (entry, pos) in listed {
            // Remote bases (URLs, git refs) are fetched by kustomize.
            if entry.contains("://") || entry.starts_with("github.com/") || entry.contains("?ref=")
            {
                continue;
            }
            if !dir.join(entry).exists() {
                self.error(
                    file,
                    pos,
                    format!("`{entry}` does not exist in {}", dir.display()),
                    Some("kustomize fails the whole build on a missing entry; Argo CD shows it as a ComparisonError"),
                );
            }
        }
    }

    /// Runs a render and checks what it prints like files of the folder.
    fn check_rendered(&mut self, mut cmd: Command, origin: &Path, what: &str) {
        let out = match cmd.output() {
            Ok(o) => o,
            Err(e) => {
                self.warnings.push(at(
                    origin,
                    Pos { line: 0, column: 0 },
                    format!("`{what}` could not run: {e}"),
                    None,
                ));
                return;
            }
        };
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            self.error(
                origin,
                Pos { line: 0, column: 0 },
                format!("`{what}` fails: {}", err.trim()),
                Some("Argo CD runs the same render and shows this as a ComparisonError"),
            );
            return;
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let (docs, problems) = yaml::parse_documents(&text);
        for p in problems {
            self.error(
                origin,
                p.pos,
                p.message,
                Some("the render's output is not valid YAML"),
            );
        }
        for d in &docs {
            self.check_object(origin, d);
        }
    }

    /// `gitops.project` exists where Argo CD will find it and permits the root's repository.
    pub(super) fn check_root_project(&mut self, lab: &Lab, lab_file: &Path, pos: Pos) {
        let name = &lab.gitops.project;
        if name == "default" {
            return;
        }
        let repo_url = match &lab.gitops.repo {
            RepoLocation::Remote { url } => url.clone(),
            RepoLocation::Local { .. } => LOCAL_REPO_URL.to_string(),
        };
        match self.projects.get(name) {
            None => self.warnings.push(at(
                lab_file,
                pos,
                format!(
                    "the root's AppProject `{name}` is not defined in argocd.resources or gitops.path: Argo CD leaves the root unsynced (\"Application referencing project {name} which does not exist\")"
                ),
                Some("add the AppProject's file to `argocd.resources`, so `up` applies it before the root"),
            )),
            Some(p) if !p.source_repos.iter().any(|pat| super::cross::glob(pat, &repo_url)) => {
                self.warnings.push(at(
                    lab_file,
                    pos,
                    format!(
                        "AppProject `{name}` does not permit the root's repository: Argo CD leaves the root unsynced (\"application repo {repo_url} is not permitted in project '{name}'\")"
                    ),
                    Some(&format!("add {repo_url} to the project's `spec.sourceRepos`")),
                ));
            }
            Some(_) => {}
        }
    }
}

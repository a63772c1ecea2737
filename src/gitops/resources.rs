//! `argocd.resources`: the objects a lab needs before its root Application (the AppProject it
//! names, ConfigMaps Argo CD reads, …), read from files beside the lab file so Git holds them
//! and `restore --from` finds them.
//!
//! [`load`] reads every entry (a file, or a folder read recursively for `*.yaml`, `*.yml` and
//! `*.json`, in name order), and reports every problem at once with `file:line:col`:
//! - an entry that does not exist, or that leaves the lab's folder through a symlink;
//! - YAML that does not parse, or a document that is not an object (`apiVersion`, `kind`,
//!   `metadata.name`);
//! - a `Secret`: Git must never hold one. Kept Secrets (`keep.secrets`) and repository
//!   credentials (`gitops.credentials`) are how a lab carries secrets.
//!
//! `up` and `restore` apply what [`load`] returns after Argo CD's CRDs are Established and
//! before the root (`argocd::bootstrap`); `validate` checks the same files through it.

use std::path::{Path, PathBuf};

use kube::api::DynamicObject;

use super::yaml::{self, Node, Pos};
use crate::diag::Located;

/// One object of `argocd.resources`, with where it was read.
#[derive(Debug, Clone)]
pub(crate) struct Resource {
    pub(crate) file: PathBuf,
    pub(crate) object: DynamicObject,
    /// The document as read, with positions, for `validate`'s checks.
    pub(crate) node: Node,
}

impl Resource {
    #[cfg(test)]
    /// `Kind/name` (with `namespace/` when it names one), for messages.
    pub(crate) fn describe(&self) -> String {
        let kind = self
            .object
            .types
            .as_ref()
            .map(|t| t.kind.as_str())
            .unwrap_or("?");
        let name = self.object.metadata.name.as_deref().unwrap_or("?");
        match &self.object.metadata.namespace {
            Some(ns) => format!("{kind} {ns}/{name}"),
            None => format!("{kind} {name}"),
        }
    }

    /// The object's kind.
    pub(crate) fn kind(&self) -> &str {
        self.object
            .types
            .as_ref()
            .map(|t| t.kind.as_str())
            .unwrap_or("")
    }
}

/// Reads `entries` (relative to `lab_dir`, as the lab file names them). Every problem found
/// is returned, none stops the others.
pub(crate) fn load(lab_dir: &Path, entries: &[String]) -> Result<Vec<Resource>, Vec<Located>> {
    let mut problems = Vec::new();
    let mut out = Vec::new();
    let base = std::fs::canonicalize(lab_dir).unwrap_or_else(|_| lab_dir.to_path_buf());
    for entry in entries {
        let path = lab_dir.join(entry);
        let whole = |message: String, hint: &str| Located {
            path: path.clone(),
            line: 0,
            column: 0,
            message,
            hint: Some(hint.to_string()),
        };
        let real = match std::fs::canonicalize(&path) {
            Ok(real) => real,
            Err(e) => {
                problems.push(whole(
                    format!("`argocd.resources` entry `{entry}`: {e}"),
                    "name a file or folder beside the lab file, committed with it",
                ));
                continue;
            }
        };
        if !real.starts_with(&base) {
            problems.push(whole(
                format!(
                    "`argocd.resources` entry `{entry}` leads outside the lab's folder (to {})",
                    real.display()
                ),
                "keep the resources in the lab's repository, beside the lab file: Git must hold them for `restore --from`",
            ));
            continue;
        }
        for file in manifest_files(&path) {
            read_file(&file, &mut out, &mut problems);
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

/// `path` itself, or every manifest file under it, sorted.
fn manifest_files(path: &Path) -> Vec<PathBuf> {
    if !path.is_dir() {
        return vec![path.to_path_buf()];
    }
    let mut out = Vec::new();
    let mut stack = vec![path.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(read) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in read.flatten() {
            let p = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            if p.is_dir() {
                stack.push(p);
            } else if [".yaml", ".yml", ".json"].iter().any(|x| name.ends_with(x)) {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn read_file(file: &Path, out: &mut Vec<Resource>, problems: &mut Vec<Located>) {
    let at = |pos: Pos, message: String, hint: Option<&str>| Located {
        path: file.to_path_buf(),
        line: pos.line,
        column: pos.column,
        message,
        hint: hint.map(str::to_string),
    };
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) => {
            problems.push(at(
                Pos { line: 0, column: 0 },
                format!("cannot read: {e}"),
                None,
            ));
            return;
        }
    };
    let (docs, yaml_problems) = yaml::parse_documents(&text);
    let broken = !yaml_problems.is_empty();
    for p in yaml_problems {
        problems.push(at(
            p.pos,
            p.message,
            Some("fix the YAML here: the API server takes no object from a file it cannot read"),
        ));
    }
    if broken {
        return;
    }
    for doc in docs.into_iter().filter(|d| !d.is_null()) {
        let kind = doc.get("kind").and_then(Node::as_str).unwrap_or_default();
        if kind == "Secret" {
            let pos = doc.entry("kind").map_or(doc.pos, |(_, v)| v.pos);
            problems.push(at(
                pos,
                "a Secret in `argocd.resources`: Git must never hold a secret".to_string(),
                Some("keep it out of Git: `keep.secrets` saves a Secret made in the lab across `drop` and `restore`, and `gitops.credentials` names where repository credentials come from"),
            ));
            continue;
        }
        let value = doc.to_json();
        match crate::kube::apply::to_object(value) {
            Ok(object) => out.push(Resource {
                file: file.to_path_buf(),
                object,
                node: doc,
            }),
            Err(reason) => problems.push(at(
                doc.pos,
                format!("not a Kubernetes object: {reason}"),
                Some("every document needs apiVersion, kind and metadata.name"),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lab(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (p, text) in files {
            let p = dir.path().join(p);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        dir
    }

    const PROJECT: &str = "apiVersion: argoproj.io/v1alpha1\nkind: AppProject\nmetadata:\n  name: playground-project\n  namespace: argocd\nspec:\n  sourceRepos: ['*']\n";

    #[test]
    fn files_and_folders_are_read_in_name_order() {
        let d = lab(&[
            ("project.yaml", PROJECT),
            (
                "more/b.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n---\n",
            ),
            (
                "more/a.json",
                r#"{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}}"#,
            ),
            ("more/README.md", "not yaml"),
        ]);
        let got = load(d.path(), &["project.yaml".into(), "more".into()]).unwrap();
        let names: Vec<String> = got.iter().map(Resource::describe).collect();
        assert_eq!(
            names,
            [
                "AppProject argocd/playground-project",
                "ConfigMap a",
                "ConfigMap b"
            ]
        );
        assert_eq!(got[0].kind(), "AppProject");
    }

    #[test]
    fn every_problem_is_reported_at_its_place() {
        let d = lab(&[
            (
                "r/secret.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ok}\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {token: x}\n",
            ),
            ("r/bad.yaml", "apiVersion: v1\nkind: [\n"),
            ("r/noname.yaml", "apiVersion: v1\nkind: ConfigMap\n"),
        ]);
        let problems = load(d.path(), &["r".into(), "missing.yaml".into()]).unwrap_err();
        let text: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        assert_eq!(problems.len(), 4, "{text:#?}");
        let secret = problems
            .iter()
            .find(|p| p.message.contains("Secret"))
            .unwrap();
        assert_eq!((secret.line, secret.column), (6, 7), "{secret}");
        assert!(secret.hint.as_deref().unwrap().contains("keep.secrets"));
        assert!(
            problems
                .iter()
                .any(|p| p.path.ends_with("bad.yaml") && p.line >= 2)
        );
        assert!(
            problems.iter().any(|p| p.path.ends_with("noname.yaml")
                && p.message.contains("not a Kubernetes object"))
        );
        assert!(problems.iter().any(|p| p.message.contains("missing.yaml")));
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_out_of_the_lab_is_refused() {
        let outside = lab(&[("p.yaml", PROJECT)]);
        let d = lab(&[]);
        std::os::unix::fs::symlink(outside.path().join("p.yaml"), d.path().join("p.yaml")).unwrap();
        let problems = load(d.path(), &["p.yaml".into()]).unwrap_err();
        assert!(
            problems[0].message.contains("outside the lab's folder"),
            "{}",
            problems[0]
        );
    }
}

//! Child apps that name the lab's repository by its remote URL (the seed's children point at
//! `https://github.com/…/gitops-playground-apps.git` while the user works in a clone).
//!
//! Argo CD cannot be made to read the local mount for such a URL. Its repo-server fetches and
//! checks out with the git CLI, where `url.<base>.insteadOf` in a gitconfig would apply, but it
//! resolves revisions with go-git's in-memory `ls-remote` on the raw URL
//! (`argoproj/argo-cd` `util/git/client.go` `lsRemote`, `util/git/workaround.go`
//! `listRemote`), which reads no gitconfig: the URL is dialled as written. So such children
//! read the remote at their `targetRevision`, never the user's local commits. What works is
//! naming the mount (`file:///playground`) in the Application itself: for a Helm root whose
//! values set the children's `repoURL`, inline `gitops.helm.values` (which Argo CD ranks above
//! the value files) do it without editing the repository.

use std::path::Path;

use serde_json::Value;

use super::helm::{normalize_url, paths_naming};
use super::yaml;

/// A warning for every value of a chart (merged as Helm merges them) that names one of
/// `urls`, with the override that points it at `local_url` instead.
pub(crate) fn chart_values_reading(
    values: &Value,
    urls: &[String],
    local_url: &str,
) -> Vec<String> {
    paths_naming(values, urls)
        .into_iter()
        .map(|(path, url)| {
            format!(
                "the root chart's value `{path}` is {url}, this repository's remote: the child apps built from it read the remote at their targetRevision, not your local commits (Argo CD resolves revisions with go-git, which no gitconfig redirects); to deploy your local commits, set `gitops.helm.values: {}` and allow {local_url} in their project's sourceRepos",
                override_yaml(&path, local_url)
            )
        })
        .collect()
}

/// `a.b.c` = `v` as flow YAML: `{ a: { b: { c: v } } }`.
fn override_yaml(path: &str, value: &str) -> String {
    let keys: Vec<&str> = path.split('.').collect();
    let mut out = value.to_string();
    for k in keys.iter().rev() {
        out = format!("{{ {k}: {out} }}");
    }
    out
}

/// The Applications in the YAML files of `dir` (and below, with `recurse`) whose source names
/// one of `urls`: `(app name, url)`.
pub(crate) fn apps_reading(dir: &Path, recurse: bool, urls: &[String]) -> Vec<(String, String)> {
    let wanted: Vec<String> = urls.iter().map(|u| normalize_url(u)).collect();
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    let mut files = Vec::new();
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                if recurse && !e.file_name().to_string_lossy().starts_with('.') {
                    stack.push(p);
                }
            } else if p.extension().is_some_and(|x| x == "yaml" || x == "yml") {
                files.push(p);
            }
        }
    }
    files.sort();
    for f in files {
        let Ok(text) = std::fs::read_to_string(&f) else {
            continue;
        };
        let (docs, _) = yaml::parse_documents(&text);
        for d in docs {
            let j = d.to_json();
            if j["kind"] != "Application" {
                continue;
            }
            let spec = &j["spec"];
            let sources = std::iter::once(&spec["source"])
                .chain(spec["sources"].as_array().into_iter().flatten());
            for s in sources {
                if let Some(url) = s["repoURL"].as_str()
                    && wanted.contains(&normalize_url(url))
                {
                    let name = j["metadata"]["name"].as_str().unwrap_or("?").to_string();
                    out.push((name, url.to_string()));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_chart_value_naming_the_remote_gets_its_override() {
        let values =
            json!({"default": {"app": {"source": {"repoURL": "https://github.com/o/apps.git"}}}});
        let w = chart_values_reading(
            &values,
            &["https://github.com/o/apps".into()],
            "file:///playground",
        );
        assert_eq!(w.len(), 1);
        assert!(
            w[0].contains("`gitops.helm.values: { default: { app: { source: { repoURL: file:///playground } } } }`"),
            "{}",
            w[0]
        );
        assert!(chart_values_reading(&values, &["https://other/x".into()], "f").is_empty());
    }

    #[test]
    fn applications_naming_the_remote_are_found() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("sub")).unwrap();
        std::fs::write(
            d.path().join("a.yaml"),
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: web}\nspec:\n  source: {repoURL: 'https://github.com/o/apps', path: web}\n",
        )
        .unwrap();
        std::fs::write(
            d.path().join("sub/b.yaml"),
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: db}\nspec:\n  sources: [{repoURL: 'https://github.com/O/apps.git'}]\n",
        )
        .unwrap();
        let urls = ["https://github.com/o/apps.git".to_string()];
        assert_eq!(
            apps_reading(d.path(), false, &urls),
            [("web".to_string(), "https://github.com/o/apps".to_string())]
        );
        assert_eq!(apps_reading(d.path(), true, &urls).len(), 2);
    }
}

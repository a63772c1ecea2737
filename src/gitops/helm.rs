//! A Helm chart as Helm reads it, for a root (or child) that Argo CD renders with Helm:
//! `Chart.yaml`'s required fields, value files, and the values a render would see.
//!
//! What Helm does, read in `helm/helm` (v3.19 and v4.2, the versions Argo CD 3.3–3.5 bundle):
//! - **`Chart.yaml`**: `Metadata.Validate` (`pkg/chart/metadata.go`; `pkg/chart/v2/metadata.go`
//!   in Helm 4) requires `name` and `version` ("validation: chart.metadata.name is
//!   required", "validation: chart.metadata.version is required"). `apiVersion: v1` (Helm 2
//!   style, the seed's root chart) and `v2` are both loaded; Helm 4 also loads `v3` and refuses
//!   anything else ("unsupported chart version").
//! - **Value files**: read with `sigs.k8s.io/yaml`'s non-strict `Unmarshal`
//!   (`pkg/chartutil/values.go` `ReadValues`; `pkg/cli/values/options.go` for `-f`). A key
//!   given twice is not an error: the last one wins, a map replacing a map whole
//!   (sigs.k8s.io/yaml's own tests: "Last declaration of `a` wins"). Only `UnmarshalStrict`
//!   refuses duplicates, and Helm does not use it for values.
//! - **Precedence**: the chart's `values.yaml`, then each value file in order, then (Argo CD)
//!   the inline `valuesObject`, each merged over the one before, maps key by key.

use std::path::{Path, PathBuf};

use serde_json::Value as Json;

use super::yaml::{self, Node, Pos};
use crate::diag::Located;

/// What reading a chart found: errors (Helm would refuse) and warnings (Helm reads it, maybe
/// not as the author meant).
#[derive(Debug, Default)]
pub(crate) struct ChartReport {
    pub(crate) errors: Vec<Located>,
    pub(crate) warnings: Vec<Located>,
    /// The values a render sees: `values.yaml` ← value files ← inline values.
    pub(crate) values: Json,
}

fn at(path: &Path, pos: Pos, message: String, hint: Option<&str>) -> Located {
    Located {
        path: path.to_path_buf(),
        line: pos.line,
        column: pos.column,
        message,
        hint: hint.map(str::to_string),
    }
}

/// Checks the chart in `dir` with the value files (relative to `dir`, as Argo CD's
/// `valueFiles`) and inline values a render gets.
pub(crate) fn check_chart(
    dir: &Path,
    value_files: &[String],
    inline: Option<&Json>,
) -> ChartReport {
    let mut r = ChartReport {
        values: Json::Object(Default::default()),
        ..Default::default()
    };
    check_metadata(&dir.join("Chart.yaml"), &mut r);
    let own = dir.join("values.yaml");
    if own.is_file() {
        read_values(&own, &mut r);
    }
    for f in value_files {
        // A URL is fetched by Argo CD; nothing to read here.
        if f.contains("://") {
            continue;
        }
        let path = dir.join(f);
        if !path.is_file() {
            r.errors.push(at(
                &path,
                Pos { line: 0, column: 0 },
                format!("value file `{f}` does not exist in the chart's folder"),
                Some("Argo CD fails the whole render on a missing value file: add it, or drop it from `valueFiles`"),
            ));
            continue;
        }
        read_values(&path, &mut r);
    }
    if let Some(v) = inline {
        merge(&mut r.values, v);
    }
    r
}

fn check_metadata(path: &Path, r: &mut ChartReport) {
    let Ok(text) = std::fs::read_to_string(path) else {
        r.errors.push(at(
            path,
            Pos { line: 0, column: 0 },
            "the chart has no Chart.yaml".to_string(),
            Some(
                "a Helm chart's folder holds Chart.yaml (apiVersion, name, version) and templates/",
            ),
        ));
        return;
    };
    let (docs, problems) = yaml::parse_documents(&text);
    for p in problems {
        r.errors.push(at(
            path,
            p.pos,
            p.message,
            Some("Helm cannot load the chart"),
        ));
    }
    let Some(doc) = docs.into_iter().find(|d| !d.is_null()) else {
        r.errors.push(at(
            path,
            Pos { line: 1, column: 1 },
            "Chart.yaml is empty".to_string(),
            Some("it needs apiVersion, name and version"),
        ));
        return;
    };
    let start = doc.pos;
    for key in ["name", "version"] {
        match doc.get(key).and_then(Node::as_str) {
            Some(v) if !v.trim().is_empty() => {}
            _ => r.errors.push(at(
                path,
                doc.entry(key).map_or(start, |(k, _)| k.pos),
                format!("validation: chart.metadata.{key} is required"),
                Some(if key == "version" {
                    "Helm refuses a chart without a SemVer `version`, e.g. `version: 0.1.0`"
                } else {
                    "Helm refuses a chart without a `name`"
                }),
            )),
        }
    }
    match doc.entry("apiVersion") {
        None => {}
        Some((_, v)) => match v.as_str() {
            Some("v1" | "v2") => {}
            Some("v3") => r.warnings.push(at(
                path,
                v.pos,
                "`apiVersion: v3` is a Helm 4 chart: Argo CD releases before v3.5 bundle Helm 3, which does not load it".to_string(),
                None,
            )),
            other => r.errors.push(at(
                path,
                v.pos,
                format!(
                    "unsupported chart version `{}`",
                    other.unwrap_or_default()
                ),
                Some("Helm loads `apiVersion: v2` (Helm 3 charts) and `v1` (Helm 2 style)"),
            )),
        },
    }
}

fn read_values(path: &Path, r: &mut ChartReport) {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            r.errors.push(at(
                path,
                Pos { line: 0, column: 0 },
                format!("cannot read: {e}"),
                None,
            ));
            return;
        }
    };
    let (docs, problems) = yaml::parse_documents(&text);
    let mut broken = false;
    for p in problems {
        if p.duplicate {
            r.warnings.push(at(
                path,
                p.pos,
                format!("{}: Helm keeps the last one and ignores the first", p.message),
                Some("Helm reads value files with sigs.k8s.io/yaml's non-strict Unmarshal, so this is no error; remove the earlier key to say what you mean"),
            ));
        } else {
            broken = true;
            r.errors.push(at(
                path,
                p.pos,
                p.message,
                Some("Helm cannot read this value file, and Argo CD fails the render"),
            ));
        }
    }
    if broken {
        return;
    }
    for doc in docs.iter().filter(|d| !d.is_null()) {
        let json = doc.to_json();
        if !json.is_object() {
            r.errors.push(at(
                path,
                doc.pos,
                format!("a value file holds a mapping, found {}", doc.describe()),
                Some("Helm values are `key: value` pairs at the top level"),
            ));
            continue;
        }
        merge(&mut r.values, &json);
    }
}

/// Helm's coalescing of one values layer over another: maps merge key by key, anything else
/// replaces.
pub(crate) fn merge(base: &mut Json, over: &Json) {
    match (base, over) {
        (Json::Object(b), Json::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(k) {
                    Some(existing) if existing.is_object() && v.is_object() => merge(existing, v),
                    _ => {
                        b.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (b, o) => *b = o.clone(),
    }
}

/// The dotted paths of every string in `values` equal to one of `urls` (compared as Argo CD
/// compares repository URLs: case and a `.git` suffix aside).
pub(crate) fn paths_naming(values: &Json, urls: &[String]) -> Vec<(String, String)> {
    let wanted: Vec<String> = urls.iter().map(|u| normalize_url(u)).collect();
    let mut out = Vec::new();
    walk(values, String::new(), &mut |path, s| {
        if wanted.contains(&normalize_url(s)) {
            out.push((path.to_string(), s.to_string()));
        }
    });
    out
}

fn walk(v: &Json, path: String, f: &mut dyn FnMut(&str, &str)) {
    match v {
        Json::String(s) => f(&path, s),
        Json::Object(m) => {
            for (k, v) in m {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                walk(v, p, f);
            }
        }
        Json::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                walk(v, format!("{path}[{i}]"), f);
            }
        }
        _ => {}
    }
}

/// A repository URL as Argo CD compares them (`git.NormalizeGitURL`, roughly): lower case,
/// without a trailing `/` or `.git`.
pub(crate) fn normalize_url(url: &str) -> String {
    url.trim()
        .trim_end_matches('/')
        .trim_end_matches(".git")
        .to_ascii_lowercase()
}

/// Where `helm` is, when it is on `PATH`.
pub(crate) fn helm_binary() -> Option<PathBuf> {
    which("helm")
}

/// A program on `PATH`.
pub(crate) fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn chart(files: &[(&str, &str)]) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        for (p, t) in files {
            let p = d.path().join(p);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, t).unwrap();
        }
        d
    }

    #[test]
    fn the_seeds_chart_reads_as_helm_reads_it() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/seed/gitops-playground-apps/argocd");
        let inline = json!({"default": {"app": {"source": {"repoURL": "file:///playground"}}}});
        let r = check_chart(&dir, &["local.yaml".into()], Some(&inline));
        assert!(r.errors.is_empty(), "{:#?}", r.errors);
        // The seed's values.yaml names one annotation twice in three apps: warnings that say
        // what Helm does, not errors.
        assert_eq!(r.warnings.len(), 3, "{:#?}", r.warnings);
        assert!(
            r.warnings
                .iter()
                .all(|w| w.message.contains("Helm keeps the last one"))
        );
        assert_eq!(r.values["envName"], "local");
        assert_eq!(
            r.values["default"]["app"]["source"]["targetRevision"],
            "local"
        );
        assert_eq!(
            r.values["default"]["app"]["source"]["repoURL"],
            "file:///playground"
        );
        // Without the override the children read GitHub.
        let r = check_chart(&dir, &["local.yaml".into()], None);
        let named = paths_naming(
            &r.values,
            &["https://GitHub.com/davidwmcneill/gitops-playground-apps".into()],
        );
        assert_eq!(named[0].0, "default.app.source.repoURL");
    }

    #[test]
    fn missing_fields_and_files_are_errors_at_their_place() {
        let d = chart(&[
            ("Chart.yaml", "apiVersion: v2\nname: x\n"),
            ("values.yaml", "a: [\n"),
        ]);
        let r = check_chart(d.path(), &["missing.yaml".into()], None);
        let msgs: Vec<String> = r.errors.iter().map(|e| e.to_string()).collect();
        assert_eq!(r.errors.len(), 3, "{msgs:#?}");
        let version = r
            .errors
            .iter()
            .find(|e| e.message.contains("version"))
            .unwrap();
        assert_eq!(
            version.message,
            "validation: chart.metadata.version is required"
        );
        assert_eq!((version.line, version.column), (1, 1));
        assert!(
            msgs.iter()
                .any(|m| m.contains("missing.yaml") && m.contains("does not exist"))
        );
        assert!(msgs.iter().any(|m| m.contains("values.yaml:")));
        let d = chart(&[("Chart.yaml", "apiVersion: v9\nname: x\nversion: 1.0.0\n")]);
        let r = check_chart(d.path(), &[], None);
        assert_eq!(r.errors[0].message, "unsupported chart version `v9`");
        assert_eq!((r.errors[0].line, r.errors[0].column), (1, 13));
    }

    #[test]
    fn merging_is_helms_coalescing() {
        let mut base = json!({"a": {"b": 1, "c": 2}, "l": [1, 2]});
        merge(&mut base, &json!({"a": {"c": 3}, "l": [9]}));
        assert_eq!(base, json!({"a": {"b": 1, "c": 3}, "l": [9]}));
    }
}

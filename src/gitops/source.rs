//! The root Application's source: what the lab file says (`gitops.helm`, `.kustomize`,
//! `.directory`), or, when it says nothing, what Argo CD's repo-server would detect for the
//! folder at the lab's revision.
//!
//! Argo CD decides a source's type in `argoproj/argo-cd` `util/app/discovery/discovery.go`:
//! `AppType` runs `Discover`, which walks the folder and records, for each sub-folder, `Helm`
//! for a file whose name ends in `Chart.yaml` and `Kustomize` for a kustomization file
//! (`kustomize.IsKustomization`: `kustomization.yaml`, `kustomization.yml`, `Kustomization`).
//! Only the folder itself (`apps["."]`) counts; anything else is `Directory`. Files are
//! walked in lexical order and a later find overwrites an earlier one, so a folder holding
//! both a `Chart.yaml` and a `kustomization.yaml` is Kustomize. A source that names its type
//! (`helm:`, `kustomize:`, `directory:`) skips the detection (`GetAppSourceType` in
//! `util/app/path` + `reposerver/repository/repository.go`).
//!
//! The lab gives the detected type explicitly in the root Application (rather than leaving
//! the source bare) for one reason: a plain folder gets `directory: {recurse: true}`, so
//! Applications in sub-folders are found, which Argo CD's own default (no recursion) misses.
//! A chart folder must never get that: its `templates/` are Go templates, not manifests, and
//! the root would never sync.

use serde_json::{Map, Value, json};

use crate::config::{DirectorySource, HelmSource, KustomizeSource, RootSource};

/// The three kinds Argo CD renders a Git folder as (plugins aside).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SourceType {
    Helm,
    Kustomize,
    Directory,
}

impl SourceType {}

/// Kustomization file names, as `kustomize.IsKustomization` lists them
/// (`argoproj/argo-cd` `util/kustomize/kustomize.go`, `KustomizationNames`).
pub(crate) const KUSTOMIZATION_NAMES: [&str; 3] =
    ["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// What Argo CD detects for a folder holding the files `names` (the folder's own entries).
pub(crate) fn detect<S: AsRef<str>>(names: &[S]) -> SourceType {
    let mut names: Vec<&str> = names.iter().map(AsRef::as_ref).collect();
    // filepath.Walk visits in lexical order; the last match wins.
    names.sort_unstable();
    let mut found = SourceType::Directory;
    for name in names {
        if name.ends_with("Chart.yaml") {
            found = SourceType::Helm;
        }
        if KUSTOMIZATION_NAMES.contains(&name) {
            found = SourceType::Kustomize;
        }
    }
    found
}

/// The type the root has: named in the lab file, else `detected` (what the folder holds at
/// the revision; `None` when it cannot be seen, as for a remote repository offline).
pub(crate) fn root_type(source: &RootSource, detected: Option<SourceType>) -> Option<SourceType> {
    match source {
        RootSource::Helm(_) => Some(SourceType::Helm),
        RootSource::Kustomize(_) => Some(SourceType::Kustomize),
        RootSource::Directory(_) => Some(SourceType::Directory),
        RootSource::Detect => detected,
    }
}

/// The fields to merge into the root Application's `spec.source`: `helm`, `kustomize` or
/// `directory`, as Argo CD's `ApplicationSource` spells them. With nothing named and nothing
/// detected, none: Argo CD detects the type itself.
pub(crate) fn source_fields(
    source: &RootSource,
    detected: Option<SourceType>,
) -> Map<String, Value> {
    let mut out = Map::new();
    match source {
        RootSource::Helm(h) => {
            out.insert("helm".into(), helm(h));
        }
        RootSource::Kustomize(k) => {
            out.insert("kustomize".into(), kustomize(k));
        }
        RootSource::Directory(d) => {
            out.insert("directory".into(), directory(d));
        }
        RootSource::Detect => match detected {
            // A bare chart or kustomization renders as Argo CD's detection would: say
            // nothing, so an older release's defaults apply too.
            Some(SourceType::Helm | SourceType::Kustomize) | None => {}
            Some(SourceType::Directory) => {
                out.insert("directory".into(), json!({"recurse": true}));
            }
        },
    }
    out
}

/// The lab file names a kind the folder does not hold: Argo CD would fail the render, or
/// (`directory` over a chart) sync nothing at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`gitops.{named}` says the root folder {path} is {what}, but {found}")]
pub struct Mismatch {
    pub(crate) named: &'static str,
    pub(crate) path: String,
    pub(crate) what: &'static str,
    pub(crate) found: String,
    pub(crate) hint: String,
}

/// Checks what the lab file names against the folder's own entries (`names`).
pub(crate) fn check_named<S: AsRef<str>>(
    source: &RootSource,
    path: &str,
    names: &[S],
) -> Result<(), Mismatch> {
    let names: Vec<&str> = names.iter().map(AsRef::as_ref).collect();
    let chart = names.iter().any(|n| n.ends_with("Chart.yaml"));
    let kustomization = names.iter().any(|n| KUSTOMIZATION_NAMES.contains(n));
    let mismatch = |named, what, found: &str, hint: &str| {
        Err(Mismatch {
            named,
            path: path.to_string(),
            what,
            found: found.to_string(),
            hint: hint.to_string(),
        })
    };
    match source {
        RootSource::Helm(_) if !chart => mismatch(
            "helm",
            "a Helm chart",
            "it has no Chart.yaml",
            "point gitops.path at the chart's folder, or drop `gitops.helm` to let Argo CD read the folder as it is",
        ),
        RootSource::Kustomize(_) if !kustomization => mismatch(
            "kustomize",
            "a kustomization",
            "it has no kustomization.yaml",
            "point gitops.path at the kustomization's folder, or drop `gitops.kustomize`",
        ),
        // Argo CD reads Chart.yaml and values.yaml as plain files that hold no object, and
        // the templates (with `recurse`) fail to parse: the root never syncs what the chart
        // means (`reposerver/repository/repository.go`, `getObjsFromYAMLOrJSON`).
        RootSource::Directory(_) if chart || kustomization => mismatch(
            "directory",
            "plain manifests",
            if chart {
                "it is a Helm chart (Chart.yaml): its templates are not manifests"
            } else {
                "it is a kustomization (kustomization.yaml)"
            },
            if chart {
                "use `gitops.helm` (with its `valueFiles`), or drop `gitops.directory` and Argo CD renders the chart"
            } else {
                "use `gitops.kustomize`, or drop `gitops.directory` and Argo CD builds the kustomization"
            },
        ),
        _ => Ok(()),
    }
}

fn helm(h: &HelmSource) -> Value {
    let mut m = Map::new();
    if !h.value_files.is_empty() {
        m.insert("valueFiles".into(), json!(h.value_files));
    }
    if let Some(v) = &h.values {
        // `valuesObject`, not the `values` string: structured, and Argo CD ranks it above
        // `values` and the value files (`ApplicationSourceHelm`, argo-cd
        // `pkg/apis/application/v1alpha1/types.go`).
        m.insert("valuesObject".into(), v.clone());
    }
    if let Some(r) = &h.release_name {
        m.insert("releaseName".into(), json!(r));
    }
    Value::Object(m)
}

fn kustomize(k: &KustomizeSource) -> Value {
    let mut m = Map::new();
    for (key, v) in [
        ("namePrefix", &k.name_prefix),
        ("nameSuffix", &k.name_suffix),
        ("namespace", &k.namespace),
    ] {
        if let Some(v) = v {
            m.insert(key.into(), json!(v));
        }
    }
    if !k.images.is_empty() {
        m.insert("images".into(), json!(k.images));
    }
    if !k.components.is_empty() {
        m.insert("components".into(), json!(k.components));
    }
    Value::Object(m)
}

fn directory(d: &DirectorySource) -> Value {
    let mut m = Map::new();
    m.insert("recurse".into(), json!(d.recurse));
    if let Some(i) = &d.include {
        m.insert("include".into(), json!(i));
    }
    if let Some(e) = &d.exclude {
        m.insert("exclude".into(), json!(e));
    }
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detection_follows_argo_cds_discovery() {
        assert_eq!(
            detect(&["Chart.yaml", "values.yaml", "templates"]),
            SourceType::Helm
        );
        assert_eq!(
            detect(&["kustomization.yml", "deploy.yaml"]),
            SourceType::Kustomize
        );
        assert_eq!(detect(&["Kustomization"]), SourceType::Kustomize);
        // Both in one folder: walked in lexical order, the kustomization comes last and wins.
        assert_eq!(
            detect(&["kustomization.yaml", "Chart.yaml"]),
            SourceType::Kustomize
        );
        // `strings.HasSuffix(base, "Chart.yaml")`.
        assert_eq!(detect(&["MyChart.yaml"]), SourceType::Helm);
        assert_eq!(
            detect(&["app.yaml", "chart.yaml", "README.md"]),
            SourceType::Directory
        );
        assert_eq!(detect::<&str>(&[]), SourceType::Directory);
    }

    #[test]
    fn a_named_kind_must_be_what_the_folder_holds() {
        let chart = ["Chart.yaml", "values.yaml", "local.yaml"];
        let dir = RootSource::Directory(DirectorySource {
            recurse: true,
            ..Default::default()
        });
        let e = check_named(&dir, "argocd", &chart).unwrap_err();
        assert_eq!(
            e.to_string(),
            "`gitops.directory` says the root folder argocd is plain manifests, but it is a Helm chart (Chart.yaml): its templates are not manifests"
        );
        assert!(e.hint.contains("gitops.helm"));
        let helm = RootSource::Helm(HelmSource::default());
        assert!(check_named(&helm, "argocd", &chart).is_ok());
        assert!(check_named(&helm, "apps", &["a.yaml"]).is_err());
        let k = RootSource::Kustomize(KustomizeSource::default());
        assert!(check_named(&k, "k", &["kustomization.yml"]).is_ok());
        assert!(check_named(&k, "k", &["a.yaml"]).is_err());
        assert!(check_named(&RootSource::Detect, "x", &chart).is_ok());
    }

    #[test]
    fn only_a_plain_folder_gets_recursion() {
        assert_eq!(
            Value::Object(source_fields(
                &RootSource::Detect,
                Some(SourceType::Directory)
            )),
            json!({"directory": {"recurse": true}})
        );
        for t in [Some(SourceType::Helm), Some(SourceType::Kustomize), None] {
            assert!(source_fields(&RootSource::Detect, t).is_empty(), "{t:?}");
        }
    }

    #[test]
    fn named_sources_become_argo_cds_fields() {
        let h = RootSource::Helm(HelmSource {
            value_files: vec!["local.yaml".into()],
            values: Some(json!({"envName": "local"})),
            release_name: Some("root".into()),
        });
        assert_eq!(
            Value::Object(source_fields(&h, Some(SourceType::Directory))),
            json!({"helm": {"valueFiles": ["local.yaml"], "valuesObject": {"envName": "local"}, "releaseName": "root"}})
        );
        let k = RootSource::Kustomize(KustomizeSource {
            name_prefix: Some("lab-".into()),
            images: vec!["nginx=nginx:1.27".into()],
            ..Default::default()
        });
        assert_eq!(
            Value::Object(source_fields(&k, None)),
            json!({"kustomize": {"namePrefix": "lab-", "images": ["nginx=nginx:1.27"]}})
        );
        let d = RootSource::Directory(DirectorySource {
            recurse: false,
            include: Some("*.yaml".into()),
            exclude: None,
        });
        assert_eq!(
            Value::Object(source_fields(&d, Some(SourceType::Helm))),
            json!({"directory": {"recurse": false, "include": "*.yaml"}})
        );
        assert_eq!(
            root_type(&d, Some(SourceType::Helm)),
            Some(SourceType::Directory)
        );
        assert_eq!(root_type(&RootSource::Detect, None), None);
    }
}

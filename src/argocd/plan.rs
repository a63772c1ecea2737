//! The GitOps half of `up` as a plan (`up --dry-run`): pure, like the cluster's
//! ([`crate::cluster::plan`]). From the lab, what [`bootstrap::prepare`] checked, and the few
//! facts known before the cluster is asked (the release the lab's record says is installed,
//! whether the cluster is new), the steps `up` would take, in the order
//! [`crate::ops::up`] and [`bootstrap::bootstrap`] take them, one line each.
//!
//! [`bootstrap::prepare`]: super::bootstrap::prepare
//! [`bootstrap::bootstrap`]: super::bootstrap::bootstrap

use std::fmt;
use std::time::Duration;

use super::bootstrap::Prepared;
use super::manifest;
use super::seed::RepoSource;
use super::upgrade::{self, Direction, VersionChange};
use crate::config::{ArgoCdComponent, Lab};
use crate::gitops::source::SourceType;

/// What is known before the cluster is asked.
#[derive(Debug, Clone, Default)]
pub(crate) struct Facts<'a> {
    /// The Argo CD release installed, as the lab's record says (`None`: none, or not known).
    pub(crate) installed: Option<&'a str>,
    /// The cluster is new (nothing of a record applies to it).
    pub(crate) fresh: bool,
    /// `up --context`: the kube context the GitOps half goes into.
    pub(crate) context: Option<&'a str>,
    /// `--timeout`.
    pub(crate) timeout: Duration,
}

/// Where the install manifest comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ManifestFrom {
    /// The release's own `install.yaml`, checked against this SHA-256 (its first 12 digits).
    Pinned { sha256: String },
    /// `argocd.manifest`: the user's file or URL, not hash-checked.
    Named(String),
    /// A version with no pin (`up` refuses it before anything is made).
    Unpinned,
}

/// How the root Application's folder renders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RootKind {
    Helm {
        value_files: Vec<String>,
    },
    Kustomize,
    Directory,
    /// Not seen here (a remote repository): Argo CD detects it.
    Detected,
}

/// One step of the GitOps half.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum GitopsStep {
    /// `argocd.clusters`: this lab is a hub; each cluster is registered in its Argo CD.
    RegisterClusters {
        names: Vec<String>,
    },
    Install {
        version: String,
        namespace: String,
        manifest: ManifestFrom,
        context: Option<String>,
    },
    /// A changed `argocd.version` on a lab that runs Argo CD.
    Upgrade {
        change: VersionChange,
        namespace: String,
        manifest: ManifestFrom,
    },
    /// The release the lab runs: applied again, no change.
    Unchanged {
        version: String,
        namespace: String,
    },
    /// The optional components the lab does without (`argocd.components`).
    LeaveOut {
        components: Vec<ArgoCdComponent>,
    },
    /// `keep.secrets`: Secrets kept from an earlier life of the lab.
    KeptSecrets {
        count: usize,
    },
    /// `argocd.resources`: objects applied before the root.
    Resources {
        objects: usize,
        files: usize,
        kinds: Vec<String>,
    },
    Seed {
        repo: String,
        revision: String,
        path: String,
        kind: RootKind,
        project: String,
        /// A local repository, mounted read-only into the nodes.
        mounted: bool,
        /// A remote repository with credentials: given to Argo CD as a repository Secret.
        credentials: bool,
    },
    Wait {
        timeout: Duration,
    },
}

/// The GitOps half's steps; none with `--cluster-only` (`prepared` is `None`).
pub(crate) fn plan(lab: &Lab, prepared: Option<&Prepared>, facts: &Facts<'_>) -> Vec<GitopsStep> {
    let Some(p) = prepared else {
        return Vec::new();
    };
    let mut steps = Vec::new();
    // The spokes are registered before Argo CD goes in (`ops::up::gitops`); not with `--context`.
    if facts.context.is_none() && !lab.argocd.clusters.is_empty() {
        steps.push(GitopsStep::RegisterClusters {
            names: lab
                .argocd
                .clusters
                .iter()
                .map(|c| c.name().to_string())
                .collect(),
        });
    }
    let version = lab.argocd.version.clone();
    let namespace = p.namespace.clone();
    let manifest = match &lab.argocd.manifest {
        Some(named) => ManifestFrom::Named(named.clone()),
        None => match manifest::pinned(&version) {
            Some(pin) => ManifestFrom::Pinned {
                sha256: pin.sha256.chars().take(12).collect(),
            },
            None => ManifestFrom::Unpinned,
        },
    };
    let installed = match (facts.fresh, facts.context) {
        (false, None) => facts.installed,
        _ => None,
    };
    steps.push(
        match (installed, upgrade::version_change(installed, &version)) {
            (_, Some(change)) => GitopsStep::Upgrade {
                change,
                namespace,
                manifest,
            },
            (Some(_), None) => GitopsStep::Unchanged { version, namespace },
            (None, None) => GitopsStep::Install {
                version,
                namespace,
                manifest,
                context: facts.context.map(str::to_string),
            },
        },
    );
    let left_out: Vec<ArgoCdComponent> = ArgoCdComponent::ALL
        .into_iter()
        .filter(|c| !p.components.contains(c))
        .collect();
    if !left_out.is_empty() {
        steps.push(GitopsStep::LeaveOut {
            components: left_out,
        });
    }
    if !p.kept_secrets.is_empty() {
        steps.push(GitopsStep::KeptSecrets {
            count: p.kept_secrets.len(),
        });
    }
    if !p.resources.is_empty() {
        let mut kinds: Vec<String> = Vec::new();
        let mut files = Vec::new();
        for r in &p.resources {
            if !kinds.iter().any(|k| k == r.kind()) {
                kinds.push(r.kind().to_string());
            }
            if !files.contains(&&r.file) {
                files.push(&r.file);
            }
        }
        steps.push(GitopsStep::Resources {
            objects: p.resources.len(),
            files: files.len(),
            kinds,
        });
    }
    let kind = match p.source_type {
        Some(SourceType::Helm) => RootKind::Helm {
            value_files: p
                .source_fields
                .get("helm")
                .and_then(|h| h.get("valueFiles"))
                .and_then(|v| v.as_array())
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
        },
        Some(SourceType::Kustomize) => RootKind::Kustomize,
        Some(SourceType::Directory) => RootKind::Directory,
        None => RootKind::Detected,
    };
    steps.push(GitopsStep::Seed {
        repo: lab.gitops.repo.to_string(),
        revision: p.revision.clone(),
        path: p.path.clone(),
        kind,
        project: p.project.clone(),
        mounted: matches!(p.repo, RepoSource::Local { .. }),
        credentials: matches!(
            p.repo,
            RepoSource::Remote {
                credentials: Some(_),
                ..
            }
        ),
    });
    steps.push(GitopsStep::Wait {
        timeout: facts.timeout,
    });
    steps
}

impl fmt::Display for ManifestFrom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ManifestFrom::Pinned { sha256 } => write!(f, "pinned manifest sha256 {sha256}…"),
            ManifestFrom::Named(named) => write!(f, "manifest {named}, as is"),
            ManifestFrom::Unpinned => f.write_str("no pinned manifest for this version"),
        }
    }
}

impl fmt::Display for RootKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RootKind::Helm { value_files } if value_files.is_empty() => f.write_str("Helm"),
            RootKind::Helm { value_files } => write!(f, "Helm with {}", value_files.join(", ")),
            RootKind::Kustomize => f.write_str("Kustomize"),
            RootKind::Directory => f.write_str("Directory"),
            RootKind::Detected => f.write_str("what Argo CD detects"),
        }
    }
}

/// `300s` → `5m`, `90s` → `90s`.
fn duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0 => format!("{}ms", d.as_millis()),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

impl fmt::Display for GitopsStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GitopsStep::RegisterClusters { names } => write!(
                f,
                "register {} cluster(s) in Argo CD: {} (argocd.clusters)",
                names.len(),
                names.join(", ")
            ),
            GitopsStep::Install {
                version,
                namespace,
                manifest,
                context,
            } => {
                write!(f, "install Argo CD {version} into namespace {namespace}")?;
                if let Some(c) = context {
                    write!(f, " of context {c}")?;
                }
                write!(f, " ({manifest})")
            }
            GitopsStep::Upgrade {
                change,
                namespace,
                manifest,
            } => {
                let what = match change.direction {
                    Direction::Upgrade => "upgrade",
                    Direction::Downgrade => "downgrade",
                    Direction::Unknown => "change",
                };
                write!(
                    f,
                    "{what} Argo CD {} → {} in namespace {namespace} ({manifest}; then prune what {} had and {} lacks)",
                    change.from, change.to, change.from, change.to
                )
            }
            GitopsStep::Unchanged { version, namespace } => write!(
                f,
                "Argo CD {version} is installed in namespace {namespace} (no change: applied again)"
            ),
            GitopsStep::LeaveOut { components } => write!(
                f,
                "leave out {} (lean install: 0 replicas; argocd.components adds them)",
                components
                    .iter()
                    .map(|c| c.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            GitopsStep::KeptSecrets { count } => {
                write!(f, "re-apply {count} kept Secret(s) (keep.secrets)")
            }
            GitopsStep::Resources {
                objects,
                files,
                kinds,
            } => write!(
                f,
                "apply argocd.resources: {objects} object(s) from {files} file(s) ({})",
                kinds.join(", ")
            ),
            GitopsStep::Seed {
                repo,
                revision,
                path,
                kind,
                project,
                mounted,
                credentials,
            } => {
                write!(
                    f,
                    "seed the root Application from {repo}@{revision} path {path} as {kind} (project {project}"
                )?;
                if *mounted {
                    f.write_str("; the repository is mounted read-only into the nodes")?;
                }
                if *credentials {
                    f.write_str("; its credentials go into a repository Secret")?;
                }
                f.write_str(")")
            }
            GitopsStep::Wait { timeout } => write!(
                f,
                "wait until the root and every app with automated sync are Synced and Healthy (--timeout {})",
                duration(*timeout)
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::{Path, PathBuf};

    fn lab(extra: &str) -> Lab {
        crate::config::parse(
            &format!(
                "apiVersion: playground.dev/v1alpha1\nkind: Playground\nmetadata:\n  name: lab\n{extra}"
            ),
            Path::new("/labs/lab/playground.yaml"),
        )
        .unwrap()
    }

    fn prepared(lab: &Lab) -> Prepared {
        Prepared {
            repo: RepoSource::Local {
                root: PathBuf::from("/labs/lab"),
            },
            revision: lab.gitops.revision.clone(),
            expected: None,
            path: lab.gitops.path.clone(),
            namespace: lab.argocd.namespace.clone(),
            manifest: None,
            warnings: Vec::new(),
            kept_secrets: Vec::new(),
            components: lab.argocd.components.clone(),
            project: "default".into(),
            source_fields: serde_json::Map::new(),
            source_type: Some(SourceType::Directory),
            resources: Vec::new(),
            recorded_argocd: None,
        }
    }

    fn facts() -> Facts<'static> {
        Facts {
            installed: None,
            fresh: true,
            context: None,
            timeout: Duration::from_secs(300),
        }
    }

    fn lines(steps: &[GitopsStep]) -> Vec<String> {
        steps.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn a_fresh_lab_installs_the_pinned_release_lean_seeds_and_waits() {
        let l = lab("");
        let pin = manifest::pinned(&l.argocd.version).unwrap().sha256[..12].to_string();
        assert_eq!(
            lines(&plan(&l, Some(&prepared(&l)), &facts())),
            vec![
                format!(
                    "install Argo CD {} into namespace argocd (pinned manifest sha256 {pin}…)",
                    l.argocd.version
                ),
                "leave out dex, notifications (lean install: 0 replicas; argocd.components adds them)".to_string(),
                "seed the root Application from .@HEAD path apps as Directory (project default; the repository is mounted read-only into the nodes)".to_string(),
                "wait until the root and every app with automated sync are Synced and Healthy (--timeout 5m)".to_string(),
            ]
        );
    }

    #[test]
    fn a_record_on_a_fresh_cluster_is_ignored() {
        let l = lab("");
        let f = Facts {
            installed: Some("v3.4.7"),
            ..facts()
        };
        assert!(matches!(
            plan(&l, Some(&prepared(&l)), &f)[0],
            GitopsStep::Install { .. }
        ));
    }

    #[test]
    fn a_changed_release_is_an_upgrade_and_the_same_one_no_change() {
        let l = lab("argocd:\n  version: v3.5.1\n  components: [dex, notifications]\n");
        let f = Facts {
            installed: Some("v3.4.7"),
            fresh: false,
            ..facts()
        };
        let steps = plan(&l, Some(&prepared(&l)), &f);
        assert!(steps[0].to_string().starts_with(
            "upgrade Argo CD v3.4.7 → v3.5.1 in namespace argocd (pinned manifest sha256 "
        ));
        assert!(
            steps[0]
                .to_string()
                .ends_with("; then prune what v3.4.7 had and v3.5.1 lacks)"),
            "{}",
            steps[0]
        );
        // Every component kept: nothing left out.
        assert!(
            !steps
                .iter()
                .any(|s| matches!(s, GitopsStep::LeaveOut { .. }))
        );
        let same = Facts {
            installed: Some("v3.5.1"),
            ..f.clone()
        };
        assert_eq!(
            plan(&l, Some(&prepared(&l)), &same)[0].to_string(),
            "Argo CD v3.5.1 is installed in namespace argocd (no change: applied again)"
        );
        let down = Facts {
            installed: Some("v3.6.0"),
            ..f
        };
        assert!(
            plan(&l, Some(&prepared(&l)), &down)[0]
                .to_string()
                .starts_with("downgrade Argo CD v3.6.0 → v3.5.1")
        );
    }

    #[test]
    fn cluster_only_has_no_gitops_steps() {
        assert!(plan(&lab(""), None, &facts()).is_empty());
    }

    #[test]
    fn a_hub_registers_its_clusters_first_but_not_with_a_context() {
        let l = lab("argocd:\n  clusters:\n    - dev\n    - { context: prod-eu }\n");
        let steps = plan(&l, Some(&prepared(&l)), &facts());
        assert_eq!(
            steps[0].to_string(),
            "register 2 cluster(s) in Argo CD: dev, prod-eu (argocd.clusters)"
        );
        assert!(matches!(steps[1], GitopsStep::Install { .. }));
        let f = Facts {
            context: Some("prod"),
            installed: Some("v3.4.7"),
            fresh: false,
            ..facts()
        };
        let steps = plan(&l, Some(&prepared(&l)), &f);
        assert!(
            steps[0]
                .to_string()
                .starts_with("install Argo CD v3.5.1 into namespace argocd of context prod ("),
            "{}",
            steps[0]
        );
    }

    #[test]
    fn resources_and_kept_secrets_go_in_before_the_root() {
        let l = lab("argocd:\n  manifest: ./install.yaml\n  components: [dex]\n");
        let mut p = prepared(&l);
        let object = |kind: &str, name: &str| {
            serde_json::from_value(serde_json::json!({
                "apiVersion": "v1", "kind": kind, "metadata": { "name": name }
            }))
            .unwrap()
        };
        let pos = crate::gitops::yaml::Pos { line: 1, column: 1 };
        let resource = |file: &str, kind: &str, name: &str| crate::gitops::resources::Resource {
            file: PathBuf::from(file),
            object: object(kind, name),
            node: crate::gitops::yaml::Node {
                value: crate::gitops::yaml::Value::Null,
                pos,
            },
        };
        p.resources = vec![
            resource("project.yaml", "AppProject", "lab"),
            resource("argocd/cm.yaml", "ConfigMap", "argocd-cm"),
            resource("argocd/cm.yaml", "ConfigMap", "argocd-rbac-cm"),
        ];
        p.kept_secrets = vec![serde_json::json!({}), serde_json::json!({})];
        p.source_type = Some(SourceType::Helm);
        p.source_fields = serde_json::from_value(
            serde_json::json!({ "helm": { "valueFiles": ["values-lab.yaml"] } }),
        )
        .unwrap();
        assert_eq!(
            lines(&plan(
                &l,
                Some(&p),
                &Facts {
                    timeout: Duration::from_secs(90),
                    ..facts()
                }
            )),
            vec![
                "install Argo CD v3.5.1 into namespace argocd (manifest ./install.yaml, as is)",
                "leave out notifications (lean install: 0 replicas; argocd.components adds them)",
                "re-apply 2 kept Secret(s) (keep.secrets)",
                "apply argocd.resources: 3 object(s) from 2 file(s) (AppProject, ConfigMap)",
                "seed the root Application from .@HEAD path apps as Helm with values-lab.yaml (project default; the repository is mounted read-only into the nodes)",
                "wait until the root and every app with automated sync are Synced and Healthy (--timeout 90s)",
            ]
        );
    }
}

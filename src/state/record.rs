//! The state record, `<data>/playground/<name>/state.yaml`: what `restore` needs to rebuild a
//! dropped lab through the same code path as `up` (Flux's model: no second "recover" path).
//!
//! `up` writes it once the cluster exists and again when the apps are ready (with the commit
//! deployed); `drop` marks it dropped and keeps it. It holds the lab file's content, the flags
//! that overrode it, the Git source, the times, and what playground installed of Argo CD (its
//! version and every object it applied, so an upgrade deletes what the new release no longer
//! has: see [`crate::argocd::upgrade`]), and never a secret: the lab file names environment
//! variables and key files, not their values. A record written by a newer playground (a
//! higher `version`) is refused rather than misread; fields added since version 1 are
//! optional, so older records load.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::{self, ConfigError, Lab, Overrides};
use crate::fsutil;
use crate::lab::LabName;

use super::{DIR_MODE, FILE_MODE, lab_dir, now_rfc3339};

/// The schema version this build writes and reads.
pub(crate) const VERSION: u32 = 1;
/// The record's file name in the lab's folder.
pub(crate) const FILE: &str = "state.yaml";

/// One lab's record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct LabRecord {
    /// Schema version ([`VERSION`]).
    pub(crate) version: u32,
    pub(crate) name: LabName,
    pub(crate) config: ConfigRecord,
    pub(crate) git: GitRecord,
    pub(crate) times: Times,
    /// What `up` installed of Argo CD, once an install went through (absent in records
    /// written before playground recorded it, and for `--cluster-only` labs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) argocd: Option<ArgoCdRecord>,
}

/// The Argo CD install playground applied last.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ArgoCdRecord {
    /// `argocd.version` (for a custom manifest: what the lab file said it is).
    pub(crate) version: String,
    /// The namespace it was installed into.
    pub(crate) namespace: String,
    /// SHA-256 of the manifest, lower-case hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) manifest_sha256: Option<String>,
    /// Every object applied from the manifest (as prepared for the lab).
    #[serde(default)]
    pub(crate) objects: Vec<AppliedObject>,
}

/// One object playground applied: its identity across releases (the group, not the version
/// of its apiVersion).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AppliedObject {
    /// The API group; empty for the core group (`v1`).
    #[serde(default)]
    pub(crate) group: String,
    pub(crate) kind: String,
    /// None for a cluster-scoped object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) namespace: Option<String>,
    pub(crate) name: String,
}

/// The lab file as `up` read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ConfigRecord {
    /// Where it was read from; its relative paths (`gitops.repo: .`) start from its folder.
    pub(crate) path: PathBuf,
    /// Its content at `up` time.
    pub(crate) content: String,
    /// Flags that overrode it.
    #[serde(default, skip_serializing_if = "Overrides::is_empty")]
    pub(crate) overrides: Overrides,
    /// The repository `restore --from` cloned it from, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) origin: Option<String>,
}

/// The Git source of the app of apps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GitRecord {
    /// A local repository's absolute root, or the remote URL.
    pub(crate) repo: String,
    /// The folder the root Application points at, from the repository's top.
    pub(crate) path: String,
    /// The revision asked for (`gitops.revision` or `--revision`).
    pub(crate) revision: String,
    /// The commit the root Application was Synced and Healthy at, once it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) deployed: Option<String>,
}

/// When things happened, RFC 3339 UTC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Times {
    /// When this incarnation of the lab was created (a restore starts a new one).
    pub(crate) created: String,
    /// The last `up` or `restore` that reached the cluster.
    pub(crate) last_up: String,
    /// When it was dropped, if it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) dropped: Option<String>,
    /// When its kept Secrets were last exported in this life (by `suspend` or `drop`): what
    /// tells a stopped lab's own export from one left by the life before a restore.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) exported: Option<String>,
}

/// Why a record cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: not a playground state record: {source}", path.display())]
    Parse {
        path: PathBuf,
        #[source]
        source: Box<serde_saphyr::Error>,
    },
    #[error("{}: cannot write the state record: {source}", path.display())]
    Encode {
        path: PathBuf,
        #[source]
        source: serde_saphyr::SerializeError,
    },
    #[error(
        "{}: written by a newer playground (state version {version}, this one reads {VERSION})",
        path.display()
    )]
    Newer { path: PathBuf, version: u32 },
    #[error("{}: the lab file recorded there no longer parses: {source}", path.display())]
    Config { path: PathBuf, source: ConfigError },
    #[error("{}: the recorded flags no longer apply: {source}", path.display())]
    Overrides {
        path: PathBuf,
        source: config::OverrideError,
    },
}

impl crate::diag::Hinted for RecordError {
    fn hint(&self) -> Option<String> {
        match self {
            Self::Parse { .. } => {
                Some("move it aside; the next `playground up` writes a new one".to_string())
            }
            Self::Newer { .. } => Some("upgrade playground".to_string()),
            Self::Config { source, .. } => source.hint(),
            _ => None,
        }
    }
}

impl crate::diag::Classified for RecordError {}

/// Where a lab's record lives.
pub(crate) fn path(name: &LabName) -> PathBuf {
    lab_dir(name).join(FILE)
}

impl LabRecord {
    /// A record for a lab `up` is about to converge. `previous` keeps the creation time of a
    /// lab that was not dropped in between, and the commit it was last deployed at.
    pub(crate) fn new(
        lab: &Lab,
        content: &str,
        overrides: &Overrides,
        origin: Option<String>,
        git: GitRecord,
        previous: Option<&LabRecord>,
    ) -> Self {
        let now = now_rfc3339();
        let alive = previous.filter(|p| p.times.dropped.is_none());
        LabRecord {
            version: VERSION,
            name: lab.name.clone(),
            config: ConfigRecord {
                path: lab.source.clone().unwrap_or_default(),
                content: content.to_string(),
                overrides: overrides.clone(),
                origin: origin.or_else(|| previous.and_then(|p| p.config.origin.clone())),
            },
            git: GitRecord {
                deployed: git.deployed.or_else(|| {
                    alive
                        .filter(|p| p.git.repo == git.repo && p.git.revision == git.revision)
                        .and_then(|p| p.git.deployed.clone())
                }),
                ..git
            },
            times: Times {
                created: alive.map_or_else(|| now.clone(), |p| p.times.created.clone()),
                last_up: now,
                dropped: None,
                exported: alive.and_then(|p| p.times.exported.clone()),
            },
            // Still installed until an install says otherwise ([`set_argocd`]); a dropped
            // lab's Argo CD went with it.
            argocd: alive.and_then(|p| p.argocd.clone()),
        }
    }

    /// The lab this record describes: its file content parsed as if read from its path, with
    /// the recorded flags applied.
    pub(crate) fn lab(&self) -> Result<Lab, RecordError> {
        let at = path(&self.name);
        let mut lab = config::parse(&self.config.content, &self.config.path).map_err(|source| {
            RecordError::Config {
                path: at.clone(),
                source,
            }
        })?;
        self.config
            .overrides
            .apply(&mut lab)
            .map_err(|source| RecordError::Overrides { path: at, source })?;
        lab.name = self.name.clone();
        Ok(lab)
    }
}

/// Read a lab's record; `None` when there is none.
pub(crate) fn read(name: &LabName) -> Result<Option<LabRecord>, RecordError> {
    read_at(&path(name))
}

fn read_at(path: &Path) -> Result<Option<LabRecord>, RecordError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(RecordError::Io {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    // The version first, so a newer schema is named as such instead of as a parse error.
    #[derive(Deserialize)]
    struct Head {
        version: u32,
    }
    let parse = |e: serde_saphyr::Error| RecordError::Parse {
        path: path.to_path_buf(),
        source: Box::new(e),
    };
    let head: Head = serde_saphyr::from_str(&text).map_err(parse)?;
    if head.version > VERSION {
        return Err(RecordError::Newer {
            path: path.to_path_buf(),
            version: head.version,
        });
    }
    serde_saphyr::from_str(&text).map(Some).map_err(parse)
}

/// Write a lab's record: mode 0600 in a 0700 folder, atomically.
pub(crate) fn write(record: &LabRecord) -> Result<(), RecordError> {
    let path = path(&record.name);
    let io = |source| RecordError::Io {
        path: path.clone(),
        source,
    };
    let text = serde_saphyr::to_string(record).map_err(|source| RecordError::Encode {
        path: path.clone(),
        source,
    })?;
    fsutil::create_dir(&lab_dir(&record.name), DIR_MODE).map_err(io)?;
    fsutil::write_atomic(&path, text.as_bytes(), FILE_MODE).map_err(io)
}

/// Record what an install applied: the record is read, its `argocd` replaced, and written
/// back. No record (`up --context`, or one that could not be written): nothing to do.
pub(crate) fn set_argocd(name: &LabName, argocd: ArgoCdRecord) -> Result<bool, RecordError> {
    update(name, |r| r.argocd = Some(argocd))
}

/// Change lab `name`'s record in place; `false` when it has none.
fn update(name: &LabName, change: impl FnOnce(&mut LabRecord)) -> Result<bool, RecordError> {
    match read(name)? {
        Some(mut r) => {
            change(&mut r);
            write(&r)?;
            Ok(true)
        }
        None => Ok(false),
    }
}

/// Note in a lab's record that its kept Secrets were exported just now (see
/// [`Times::exported`]). No record: nothing to note.
pub(crate) fn mark_exported(name: &LabName) -> Result<bool, RecordError> {
    update(name, |r| r.times.exported = Some(now_rfc3339()))
}

/// Mark a lab's record dropped (kept, so `restore` can rebuild it). No record: nothing to do.
/// A record that does not parse is moved aside (see [`set_aside`]) instead of failing a `drop`
/// that has already removed the lab; its new name is returned, for a warning.
pub(crate) fn mark_dropped(name: &LabName) -> Result<Option<PathBuf>, RecordError> {
    match read(name) {
        Ok(Some(mut r)) => {
            r.times.dropped = Some(now_rfc3339());
            write(&r)?;
            Ok(None)
        }
        Ok(None) => Ok(None),
        Err(RecordError::Parse { .. }) => set_aside(name).map(Some),
        Err(e) => Err(e),
    }
}

/// Read a lab's record for a new `up`: one that does not parse is moved aside (its new name
/// is returned, for a warning) and the lab goes on as if it had none, so the next write
/// starts a fresh record and nothing of the old one is lost.
pub(crate) fn read_or_set_aside(
    name: &LabName,
) -> Result<(Option<LabRecord>, Option<PathBuf>), RecordError> {
    match read(name) {
        Ok(r) => Ok((r, None)),
        Err(RecordError::Parse { .. }) => Ok((None, Some(set_aside(name)?))),
        Err(e) => Err(e),
    }
}

/// Rename a lab's record to `state.yaml.corrupt-<UTC time>` next to it.
pub(crate) fn set_aside(name: &LabName) -> Result<PathBuf, RecordError> {
    let from = path(name);
    let stamp = jiff::Timestamp::now()
        .strftime("%Y%m%dT%H%M%SZ")
        .to_string();
    // Never over an earlier one: two set aside within a second both stay.
    let mut to = from.with_file_name(format!("{FILE}.corrupt-{stamp}"));
    let mut n = 1;
    while to.exists() {
        to = from.with_file_name(format!("{FILE}.corrupt-{stamp}-{n}"));
        n += 1;
    }
    std::fs::rename(&from, &to).map_err(|source| RecordError::Io {
        path: from.clone(),
        source,
    })?;
    Ok(to)
}

/// Every record in the data dir, by name. Unreadable ones are returned as errors, so one bad
/// file does not hide the others.
pub(crate) fn list() -> Vec<Result<LabRecord, RecordError>> {
    let Ok(dir) = std::fs::read_dir(super::data_root()) else {
        return Vec::new();
    };
    // Only lab folders: a folder whose name is no lab name (the sample lab's `_sample`, or one
    // a user made) holds no record of ours.
    let mut names: Vec<LabName> = dir
        .flatten()
        .filter(|e| e.path().join(FILE).is_file())
        .filter_map(|e| LabName::parse(e.file_name().to_str()?).ok())
        .collect();
    names.sort();
    names.iter().filter_map(|n| read(n).transpose()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> LabRecord {
        LabRecord {
            version: VERSION,
            name: LabName::parse("demo").unwrap(),
            config: ConfigRecord {
                path: "/home/ada/lab/playground.yaml".into(),
                content: "apiVersion: playground.dev/v1alpha1\nkind: Playground\nmetadata:\n  name: demo\n".into(),
                overrides: Overrides {
                    agents: Some(2),
                    ..Default::default()
                },
                origin: None,
            },
            git: GitRecord {
                repo: "/home/ada/lab".into(),
                path: "apps".into(),
                revision: "HEAD".into(),
                deployed: Some("0123456789abcdef0123456789abcdef01234567".into()),
            },
            times: Times {
                created: "2026-11-26T10:00:00Z".into(),
                last_up: "2026-11-26T10:05:00Z".into(),
                dropped: None,
                exported: Some("2026-11-26T10:30:00Z".into()),
            },
            argocd: Some(ArgoCdRecord {
                version: "v3.4.7".into(),
                namespace: "argocd".into(),
                manifest_sha256: Some("11016889".into()),
                objects: vec![
                    AppliedObject {
                        group: String::new(),
                        kind: "ConfigMap".into(),
                        namespace: Some("argocd".into()),
                        name: "argocd-cm".into(),
                    },
                    AppliedObject {
                        group: "rbac.authorization.k8s.io".into(),
                        kind: "ClusterRole".into(),
                        namespace: None,
                        name: "argocd-server".into(),
                    },
                ],
            }),
        }
    }

    #[test]
    fn a_record_from_before_the_argocd_field_loads() {
        let mut old = sample();
        old.argocd = None;
        let text = serde_saphyr::to_string(&old).unwrap();
        assert!(!text.contains("argocd:"), "{text}");
        let back: LabRecord = serde_saphyr::from_str(&text).unwrap();
        assert_eq!(back, old);
        // And one with it keeps it; the core group reads back as empty.
        let r = sample();
        let text = serde_saphyr::to_string(&r).unwrap();
        assert!(text.contains("argocd:"), "{text}");
        assert_eq!(serde_saphyr::from_str::<LabRecord>(&text).unwrap(), r);
        let minimal = "version: 1\nname: demo\nconfig: {path: /x/playground.yaml, content: ''}\ngit: {repo: /x, path: apps, revision: HEAD}\ntimes: {created: '2026-11-26T10:00:00Z', lastUp: '2026-11-26T10:00:00Z'}\nargocd:\n  version: v3.4.7\n  namespace: argocd\n  objects:\n  - {kind: ConfigMap, namespace: argocd, name: argocd-cm}\n";
        let r: LabRecord = serde_saphyr::from_str(minimal).unwrap();
        let objects = &r.argocd.unwrap().objects;
        assert_eq!(objects[0].group, "");
        assert_eq!(objects[0].name, "argocd-cm");
    }

    #[test]
    fn round_trips_through_yaml_with_a_multi_line_lab_file() {
        let r = sample();
        let text = serde_saphyr::to_string(&r).unwrap();
        let back: LabRecord = serde_saphyr::from_str(&text).unwrap();
        assert_eq!(back, r);
        assert!(text.starts_with("version: 1\n"), "{text}");
    }

    #[test]
    fn a_newer_version_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(FILE);
        std::fs::write(&p, "version: 2\nname: demo\nsomethingNew: {}\n").unwrap();
        let e = read_at(&p).unwrap_err();
        assert!(matches!(e, RecordError::Newer { version: 2, .. }), "{e}");
        assert!(
            crate::diag::Report(&e)
                .to_string()
                .contains("upgrade playground")
        );
        std::fs::write(&p, "name: demo\n").unwrap();
        let e = read_at(&p).unwrap_err();
        assert!(matches!(e, RecordError::Parse { .. }), "{e}");
        // The parser's error travels as the source, and its words are in the message.
        let source = std::error::Error::source(&e).expect("the parser's error");
        assert!(
            crate::diag::Report(&e)
                .to_string()
                .contains(&source.to_string()),
            "{e}"
        );
        assert!(read_at(&dir.path().join("absent.yaml")).unwrap().is_none());
    }

    #[test]
    fn a_name_that_is_no_lab_name_does_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(FILE);
        let good = serde_saphyr::to_string(&sample()).unwrap();
        std::fs::write(&p, good.replace("name: demo\n", "name: Demo_1\n")).unwrap();
        let e = read_at(&p).unwrap_err();
        assert!(matches!(e, RecordError::Parse { .. }), "{e}");
        assert!(
            crate::diag::Report(&e).to_string().contains("Demo_1"),
            "the message names the bad name: {e}"
        );
        // `list` passes over a folder whose name is no lab name (it can hold no record of
        // ours), and still reports a lab folder whose record does not read.
        let root = tempfile::tempdir().unwrap();
        let _root = super::super::test_root::set(root.path());
        for (folder, text) in [
            ("demo", good.as_str()),
            ("_sample", &good),
            ("other", "name: ["),
        ] {
            std::fs::create_dir(root.path().join(folder)).unwrap();
            std::fs::write(root.path().join(folder).join(FILE), text).unwrap();
        }
        let listed = list();
        assert_eq!(listed.len(), 2, "{listed:?}");
        assert_eq!(listed[0].as_ref().unwrap().name, "demo");
        assert!(
            matches!(listed[1], Err(RecordError::Parse { .. })),
            "{listed:?}"
        );
    }

    #[test]
    fn new_keeps_creation_time_and_deployed_commit_of_a_live_lab_only() {
        let prev = sample();
        let lab = config::parse(&prev.config.content, &prev.config.path).unwrap();
        let git = GitRecord {
            deployed: None,
            ..prev.git.clone()
        };
        let r = LabRecord::new(
            &lab,
            &prev.config.content,
            &Overrides::default(),
            None,
            git.clone(),
            Some(&prev),
        );
        assert_eq!(r.times.created, prev.times.created);
        assert_eq!(
            r.times.exported, prev.times.exported,
            "same life, same export"
        );
        assert_eq!(r.git.deployed, prev.git.deployed);
        assert_eq!(r.argocd, prev.argocd, "what is installed stays recorded");
        assert_ne!(r.times.last_up, prev.times.last_up);

        let mut dropped = prev.clone();
        dropped.times.dropped = Some("2026-11-26T11:00:00Z".into());
        let r = LabRecord::new(
            &lab,
            &prev.config.content,
            &Overrides::default(),
            None,
            git,
            Some(&dropped),
        );
        assert_ne!(
            r.times.created, prev.times.created,
            "a restore starts a new incarnation"
        );
        assert_eq!(r.git.deployed, None);
        assert_eq!(r.times.dropped, None);
        assert_eq!(
            r.times.exported, None,
            "the last life's export is not this one's"
        );
        assert_eq!(r.argocd, None, "a dropped lab's Argo CD went with it");
    }

    #[test]
    fn lab_applies_the_recorded_flags_and_name() {
        let r = sample();
        let lab = r.lab().unwrap();
        assert_eq!(lab.name, "demo");
        assert_eq!(lab.cluster.agents, 2);
        assert_eq!(
            lab.source.as_deref(),
            Some(Path::new("/home/ada/lab/playground.yaml"))
        );
    }
}

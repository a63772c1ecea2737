//! `restore`: which lab comes back, and at which revision.
//!
//! - From its record ([`read_record`] then [`from_record`]): the lab file, flags and revision
//!   `up` last deployed. A lab cloned by `restore --from` is fetched again first, so it comes
//!   back from what Git holds now; the earlier clone serves when the source cannot be reached.
//! - From its repository ([`stage_repository`] then [`FromRepository::install`]): the lab file
//!   at the top of the repository at a revision, cloned aside first so nothing in the cache
//!   changes until the lab is known not to exist already.
//!
//! A local repository's revision is pinned to a commit ([`pin_revision`]): "restore another
//! commit" means that commit, even for a branch that has moved since.

use std::path::{Path, PathBuf};

use crate::config::{self, ConfigError, Lab, LabName, NameError, Overrides};
use crate::lab::DEFAULT_FILE;
use crate::repo::clone::{self, CloneError};
use crate::repo::git::{self, GitError};
use crate::state::record::{self, LabRecord, RecordError};
use crate::ui::Ui;

use super::{LabSource, name_in_default_file};

/// Why a lab cannot be restored.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    #[error(transparent)]
    Clone(#[from] CloneError),
    #[error(transparent)]
    Record(#[from] RecordError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The lab file of a repository does not parse.
    #[error("{source}\n  (the lab file of {from} at {commit})")]
    LabFile {
        from: String,
        commit: String,
        #[source]
        source: Box<ConfigError>,
    },
    #[error(transparent)]
    BadName(#[from] NameError),
    #[error("no record of a lab named {name} (records are in {})", dir.display())]
    NoRecord { name: String, dir: PathBuf },
    #[error("no dropped lab on record")]
    NoDropped,
    #[error("several dropped labs ({}); name one", .0.iter().map(LabName::as_str).collect::<Vec<_>>().join(", "))]
    SeveralDropped(Vec<LabName>),
    #[error("lab {name} was read from {}, which is gone", folder.display())]
    FolderGone {
        name: String,
        folder: PathBuf,
        origin: Option<String>,
    },
    #[error("revision {rev}: {source}")]
    Revision {
        rev: String,
        #[source]
        source: GitError,
    },
}

impl crate::diag::Hinted for RestoreError {
    fn hint(&self) -> Option<String> {
        match self {
            Self::Clone(e) => e.hint(),
            Self::Record(e) => e.hint(),
            Self::Config(e) => e.hint(),
            Self::LabFile { source, .. } => source.hint(),
            Self::NoRecord { .. } | Self::NoDropped => Some(
                "`playground restore --from GIT_URL_OR_PATH` restores a lab from its repository"
                    .to_string(),
            ),
            Self::FolderGone { origin, .. } => Some(format!(
                "`playground restore --from {}` clones the lab repository again",
                origin.as_deref().unwrap_or("GIT_URL_OR_PATH")
            )),
            Self::BadName(e) => e.hint(),
            Self::Revision { source, .. } => source.hint(),
            _ => None,
        }
    }
}

impl crate::diag::Classified for RestoreError {
    fn kind(&self) -> crate::diag::Kind {
        match self {
            Self::NoRecord { .. } | Self::NoDropped => crate::diag::Kind::NotFound,
            Self::Clone(_) | Self::Record(_) | Self::FolderGone { .. } => crate::diag::Kind::Failed,
            _ => crate::diag::Kind::Usage,
        }
    }
}

type Result<T, E = RestoreError> = std::result::Result<T, E>;

/// NAME, else the name in `./playground.yaml`, else the only dropped lab on record.
pub(crate) fn restore_name(name: Option<String>) -> Result<LabName> {
    if let Some(n) = name {
        // It names a folder in the data dir: only a lab name may.
        return Ok(LabName::parse(&n)?);
    }
    if let Some(n) = name_in_default_file()? {
        return Ok(n);
    }
    let dropped: Vec<LabName> = record::list()
        .into_iter()
        .flatten()
        .filter(|r| r.times.dropped.is_some())
        .map(|r| r.name)
        .collect();
    match <[LabName; 1]>::try_from(dropped) {
        Ok([only]) => Ok(only),
        Err(none) if none.is_empty() => Err(RestoreError::NoDropped),
        Err(many) => Err(RestoreError::SeveralDropped(many)),
    }
}

/// The record of lab `name`, which must exist.
pub(crate) fn read_record(name: &LabName) -> Result<LabRecord> {
    record::read(name)?.ok_or_else(|| RestoreError::NoRecord {
        name: name.to_string(),
        dir: crate::state::data_root(),
    })
}

/// The lab a record describes, at `revision` (pinned) or at the revision `up` deployed.
pub(crate) fn from_record(
    rec: LabRecord,
    revision: Option<&str>,
    cache_dir: &Path,
    ui: &Ui,
) -> Result<LabSource> {
    if let Some(origin) = &rec.config.origin {
        let target = clone::cache_entry(cache_dir, origin);
        match stage_clone(origin, None, cache_dir, ui) {
            Ok(staged) => {
                staged.install()?;
            }
            Err(e) if target.exists() => ui.warn(&format!(
                "{}\n  going on with the clone made earlier, in {}",
                crate::diag::Report(&e),
                target.display()
            )),
            Err(e) => return Err(e.into()),
        }
    }
    let mut lab = rec.lab()?;
    super::refuse_unset_host_values(&lab)?;
    let folder = lab.dir().to_path_buf();
    if !folder.exists() {
        return Err(RestoreError::FolderGone {
            name: rec.name.to_string(),
            folder,
            origin: rec.config.origin.clone(),
        });
    }
    // The revision `up` deployed (which may differ from the file's), unless another is asked.
    lab.gitops.revision = match revision {
        Some(rev) => pin_revision(&lab, rev)?,
        None => rec.git.revision.clone(),
    };
    Ok(LabSource {
        lab,
        text: rec.config.content,
        overrides: rec.config.overrides,
        origin: rec.config.origin,
    })
}

/// A lab repository cloned aside, its lab file parsed, not yet in the cache.
#[derive(Debug)]
pub(crate) struct FromRepository {
    /// The source as given, normalized (a local path made absolute).
    pub(crate) from: String,
    staged: clone::Staged,
    lab: Lab,
}

impl FromRepository {
    /// The lab's name, to check it does not exist before anything changes.
    pub(crate) fn name(&self) -> &LabName {
        &self.lab.name
    }

    /// Put the clone in the cache and return the lab, deploying `revision` (the lab file's
    /// own revision when `None`, pinned for a local clone).
    pub(crate) fn install(self, revision: Option<&str>) -> Result<LabSource> {
        let FromRepository {
            from,
            staged,
            mut lab,
        } = self;
        let text = staged.lab_text.clone();
        let commit = staged.commit.clone();
        staged.install()?;
        lab.gitops.revision = match revision {
            // The lab file of REV, deploying REV.
            Some(rev) if lab.gitops.repo.is_remote() => rev.to_string(),
            Some(_) => commit,
            // A branch or tag the file names exists in a fresh clone only as origin/<name>,
            // which Argo CD's fetch of the mount would not find: pin it.
            None => pin_revision(&lab, &lab.gitops.revision)?,
        };
        Ok(LabSource {
            lab,
            text,
            overrides: Overrides::default(),
            origin: Some(from),
        })
    }
}

/// Clone `from` at `revision` aside and parse its lab file.
pub(crate) fn stage_repository(
    from: &str,
    revision: Option<&str>,
    cache_dir: &Path,
    ui: &Ui,
) -> Result<FromRepository> {
    clone::check_source(from)?;
    let from = clone::normalize_source(from);
    let staged = stage_clone(&from, revision, cache_dir, ui)?;
    let lab_file = staged.target().join(DEFAULT_FILE);
    let lab =
        config::parse(&staged.lab_text, &lab_file).map_err(|source| RestoreError::LabFile {
            from: from.clone(),
            commit: staged.commit.clone(),
            source: Box::new(source),
        })?;
    super::refuse_unset_host_values(&lab)?;
    Ok(FromRepository { from, staged, lab })
}

/// Clone `from` aside (see [`clone::stage`]), as a progress step.
fn stage_clone(
    from: &str,
    revision: Option<&str>,
    cache_dir: &Path,
    ui: &Ui,
) -> Result<clone::Staged, CloneError> {
    let s = ui.step(format!("clone {from}"));
    match tokio::task::block_in_place(|| clone::stage(from, cache_dir, revision)) {
        Ok(st) => {
            s.done_with(&st.commit[..7.min(st.commit.len())]);
            Ok(st)
        }
        Err(e) => {
            s.fail();
            Err(e)
        }
    }
}

/// The revision to deploy from a local repository, pinned: "restore another commit" means
/// that commit, even for a short id or a branch that moves. `HEAD` stays `HEAD`. A branch that
/// exists only as `origin/<name>` (a clone) resolves too. A remote repository keeps `rev` as
/// written: Argo CD resolves it there.
pub(crate) fn pin_revision(lab: &Lab, rev: &str) -> Result<String> {
    let Some(dir) = lab.gitops.repo.local_dir().filter(|_| rev != "HEAD") else {
        return Ok(rev.to_string());
    };
    let revision = |source| RestoreError::Revision {
        rev: rev.to_string(),
        source,
    };
    let repo = git::open(dir).map_err(revision)?;
    git::resolve_or_remote(&repo, rev).map_err(revision)
}

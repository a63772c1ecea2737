//! `restore --from`: bring a lab repository into the user cache, with `gix`.
//!
//! The lab's whole definition lives in Git (`playground.yaml` at the repository's top, and
//! the apps), so a clone is all a new laptop needs. The flow:
//! 1. [`stage`] clones into a fresh folder next to the cache entry and reads `playground.yaml`
//!    at the revision asked for (out of the commit, not the working tree);
//! 2. the caller checks the lab it names (a running lab is left alone: [`Staged`] is dropped
//!    and the folder with it);
//! 3. [`Staged::install`] swaps the clone in, replacing an older clone of the same source.
//!
//! The cache entry is a normal clone with a working tree: a lab whose `gitops.repo` is `.`
//! mounts it into the nodes, exactly like a repository on the user's disk.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use sha2::{Digest, Sha256};

use super::git;
use crate::config::{RepoError, RepoLocation};
use crate::lab::DEFAULT_FILE;

/// Why a clone failed.
#[derive(Debug, thiserror::Error)]
pub enum CloneError {
    #[error("cannot clone {source_repo}: {what}: {message}")]
    Clone {
        source_repo: String,
        what: &'static str,
        message: String,
    },
    #[error("{source_repo}: `{rev}` names no commit{}", .message.as_ref().map(|m| format!(": {m}")).unwrap_or_default())]
    Revision {
        source_repo: String,
        rev: String,
        /// Why, when it is more than "no such branch, tag or commit".
        message: Option<String>,
    },
    #[error("{source_repo} has no {DEFAULT_FILE} at its top at {rev}")]
    NoLabFile { source_repo: String, rev: String },
    #[error(
        "the repository URL carries a password; it would end up in the clone's .git/config, in the lab's record and on screen"
    )]
    PasswordInUrl,
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl crate::diag::Hinted for CloneError {
    fn hint(&self) -> Option<String> {
        match self {
            Self::Clone { .. } => Some("check the URL or path (a local path must be a Git repository; https and ssh URLs need network access and, for a private repository, credentials your git setup provides)".to_string()),
            Self::Revision { .. } => Some("use a branch, a tag or a commit id of that repository".to_string()),
            Self::NoLabFile { .. } => Some("`restore --from` reads the lab from Git; `playground init` writes a lab repository with one".to_string()),
            Self::PasswordInUrl => Some("leave it out of the URL and let git's credential helper or your ssh agent supply it".to_string()),
            _ => None,
        }
    }
}

/// A clone made aside, not yet in place.
#[derive(Debug)]
pub(crate) struct Staged {
    tmp: tempfile::TempDir,
    target: PathBuf,
    /// The `playground.yaml` read out of the commit.
    pub(crate) lab_text: String,
    /// The full id of the commit the revision named (HEAD when none was given).
    pub(crate) commit: String,
}

impl Staged {
    /// Where the clone will live once installed; the lab file path to parse `lab_text` as.
    pub(crate) fn target(&self) -> &Path {
        &self.target
    }

    /// Put the clone in place of any older clone of the same source, and return its root.
    /// The older clone is moved into the staging folder first and goes with it, so the cache
    /// entry is never missing or half-deleted.
    pub(crate) fn install(self) -> Result<PathBuf, CloneError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| CloneError::Io { path, source }
        };
        let old = self.tmp.path().join("old");
        if self.target.exists() {
            std::fs::rename(&self.target, &old).map_err(io(&self.target))?;
        }
        if let Err(e) = std::fs::rename(self.tmp.path().join("repo"), &self.target) {
            // Put the older clone back rather than leave nothing.
            let _ = std::fs::rename(&old, &self.target);
            return Err(io(&self.target)(e));
        }
        Ok(self.target)
    }
}

/// The cache folder for a source: readable, and unique per source.
pub(crate) fn cache_entry(cache_dir: &Path, source: &str) -> PathBuf {
    let digest = Sha256::digest(source.as_bytes());
    let hex: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    let base = source
        .trim_end_matches('/')
        .trim_end_matches(".git")
        .rsplit(['/', ':'])
        .next()
        .unwrap_or("repo");
    let slug: String = base
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .take(40)
        .collect();
    cache_dir.join("playground").join("repos").join(format!(
        "{}-{hex}",
        if slug.is_empty() { "repo" } else { &slug }
    ))
}

/// Normalize what the user typed: a local path becomes absolute (so the cache key and the
/// record do not depend on the current folder); URLs stay as written.
pub(crate) fn normalize_source(source: &str) -> String {
    // The lab file's own rule for a repository: a `file://` URL is a local path too.
    match RepoLocation::parse(source, Path::new(".")) {
        Ok(RepoLocation::Local { dir, .. }) => std::fs::canonicalize(dir)
            .map(|abs| abs.to_string_lossy().into_owned())
            .unwrap_or_else(|_| source.to_string()),
        _ => source.to_string(),
    }
}

/// Refuse a URL with a password in it (`https://user:token@host/…`): gix would write it into
/// the clone's `.git/config`, which is mounted into the nodes, and we would record and print
/// it. A user name alone (`ssh://git@host/…`) is fine.
pub(crate) fn check_source(source: &str) -> Result<(), CloneError> {
    match RepoLocation::parse(source, Path::new(".")) {
        Err(RepoError::Password) => Err(CloneError::PasswordInUrl),
        // Other schemes are for gix to judge; it names what it cannot clone.
        _ => Ok(()),
    }
}

/// Staging folders older than this are left from an interrupted clone and are removed.
const STALE: std::time::Duration = std::time::Duration::from_secs(3600);

/// Clone `source` aside and read its lab file at `revision` (default: its HEAD).
pub(crate) fn stage(
    source: &str,
    cache_dir: &Path,
    revision: Option<&str>,
) -> Result<Staged, CloneError> {
    let target = cache_entry(cache_dir, source);
    let parent = target.parent().unwrap_or(cache_dir).to_path_buf();
    crate::fsutil::create_dir(&parent, crate::fsutil::CACHE_DIR_MODE).map_err(|e| {
        CloneError::Io {
            path: parent.clone(),
            source: e,
        }
    })?;
    remove_stale_staging(&parent);
    let tmp = tempfile::Builder::new()
        .prefix(".clone-")
        .tempdir_in(&parent)
        .map_err(|e| CloneError::Io {
            path: parent.clone(),
            source: e,
        })?;
    let dest = tmp.path().join("repo");
    let clone_err = |what: &'static str| {
        move |e: gix::Error| CloneError::Clone {
            source_repo: source.to_string(),
            what,
            message: format!("{e:#}"),
        }
    };
    install_tls_provider();
    let interrupt = AtomicBool::new(false);
    let mut fetch = gix::prepare_clone(source, &dest).map_err(clone_err("cannot start"))?;
    let (mut checkout, _) = fetch
        .fetch_then_checkout(gix::progress::Discard, &interrupt)
        .map_err(clone_err("cannot fetch"))?;
    let (repo, _) = checkout
        .main_worktree(gix::progress::Discard, &interrupt)
        .map_err(clone_err("cannot check out"))?;
    // argocd-repo-server runs as another uid and reads the mounted clone.
    set_mode(&dest, 0o755)?;

    let rev = revision.unwrap_or("HEAD");
    let repo = git::Repo::from(repo);
    let commit = git::resolve_or_remote(&repo, rev).map_err(|e| CloneError::Revision {
        source_repo: source.to_string(),
        rev: rev.to_string(),
        // Not gix's words (Debug-like text), nor the clone's path, which would only confuse.
        message: match e {
            git::GitError::UnknownRevision { .. } => None,
            other => Some(other.to_string()),
        },
    })?;
    let no_file = || CloneError::NoLabFile {
        source_repo: source.to_string(),
        rev: rev.to_string(),
    };
    let blob = repo
        .gix()
        .rev_parse_single(format!("{commit}:{DEFAULT_FILE}").as_str())
        .map_err(|_| no_file())?
        .object()
        .map_err(|_| no_file())?;
    let lab_text = String::from_utf8(blob.data.clone()).map_err(|_| no_file())?;
    Ok(Staged {
        tmp,
        target,
        lab_text,
        commit,
    })
}

/// reqwest (gix's https transport) is built without a crypto provider of its own, so the
/// process must have one: ring, the one kube already uses. Installing twice is harmless.
fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A Ctrl-C during a clone leaves its staging folder (no destructor runs): clear old ones.
fn remove_stale_staging(parent: &Path) {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for e in entries.flatten() {
        let stale = e.file_name().to_string_lossy().starts_with(".clone-")
            && e.metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| t.elapsed().is_ok_and(|age| age > STALE));
        if stale {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

#[cfg(unix)]
fn set_mode(dir: &Path, mode: u32) -> Result<(), CloneError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode)).map_err(|source| {
        CloneError::Io {
            path: dir.to_path_buf(),
            source,
        }
    })
}

/// No mode bits on Windows; the binary refuses to run there (`main.rs`: use WSL2).
#[cfg(not(unix))]
fn set_mode(_dir: &Path, _mode: u32) -> Result<(), CloneError> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// gix clones over https with reqwest; rustls must find exactly one crypto provider (ring,
    /// as kube uses), or building the client panics at the first https clone.
    #[test]
    fn the_https_transport_builds_a_tls_client() {
        install_tls_provider();
        reqwest::blocking::Client::builder()
            .https_only(true)
            .build()
            .expect("a TLS-capable client");
    }

    #[test]
    fn a_password_in_the_url_is_refused_and_a_user_name_is_not() {
        assert!(matches!(
            check_source("https://ada:ghp_secret@github.com/ada/lab.git"),
            Err(CloneError::PasswordInUrl)
        ));
        assert!(check_source("https://github.com/ada/lab.git").is_ok());
        assert!(check_source("ssh://git@github.com/ada/lab.git").is_ok());
        assert!(check_source("/srv/git/lab.git").is_ok());
        assert!(!CloneError::PasswordInUrl.to_string().contains("ghp_"));
    }

    #[test]
    fn cache_entries_are_readable_and_distinct_per_source() {
        let c = Path::new("/c");
        let a = cache_entry(c, "https://github.com/ada/my-lab.git");
        let b = cache_entry(c, "https://gitlab.com/ada/my-lab.git");
        assert!(a.starts_with("/c/playground/repos"));
        let name = a.file_name().unwrap().to_string_lossy().into_owned();
        assert!(name.starts_with("my-lab-"), "{name}");
        assert_ne!(a, b);
        let local = cache_entry(c, "/srv/git/lab.git");
        assert!(
            local
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("lab-")
        );
    }

    #[test]
    fn stage_reads_the_lab_file_at_the_revision_and_install_puts_it_in_place() {
        let src = tempfile::tempdir().unwrap();
        std::fs::write(src.path().join(DEFAULT_FILE), "first\n").unwrap();
        let first = git::init_with_commit(src.path(), "one", None).unwrap();
        let cache = tempfile::tempdir().unwrap();
        let source = normalize_source(&src.path().to_string_lossy());
        let staged = stage(&source, cache.path(), None).unwrap();
        assert_eq!(staged.lab_text, "first\n");
        assert_eq!(staged.commit, first);
        let root = staged.install().unwrap();
        assert_eq!(
            std::fs::read_to_string(root.join(DEFAULT_FILE)).unwrap(),
            "first\n"
        );
        // A second restore of the same source replaces the clone; a commit id works as --revision.
        let again = stage(&source, cache.path(), Some(&first[..10])).unwrap();
        assert_eq!(again.commit, first);
        assert_eq!(again.install().unwrap(), root);
        let leftovers: Vec<_> = std::fs::read_dir(root.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers.len(), 1, "{leftovers:?}");
        let e = stage(&source, cache.path(), Some("no-such-branch")).unwrap_err();
        assert!(matches!(e, CloneError::Revision { .. }), "{e}");
    }
}

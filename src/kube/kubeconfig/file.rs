//! The file side of an edit: where the bytes really live, who may write them,
//! and how they get there without a window in which the file is half-written.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io;
#[cfg(unix)]
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use super::KubeconfigError;
use super::value::YamlError;
#[cfg(not(unix))]
use crate::fsutil::ModeExt;

/// Symlink hops we follow before giving up (Linux's own limit is 40).
const MAX_SYMLINK_HOPS: usize = 40;

/// Follow `path` while it is a symlink and return the file the link chain ends at.
///
/// Renaming over a symlink would replace the link with a regular file, so we
/// write where it points instead and the link survives (dotfile managers rely on
/// this). Unlike `fs::canonicalize` this also works for a dangling link, whose
/// target we then create. Only the last component is followed: a symlinked
/// directory on the way is harmless, since the rename happens inside it anyway.
pub(super) fn resolve_symlinks(path: &Path) -> io::Result<PathBuf> {
    let mut current = path.to_path_buf();
    for _ in 0..MAX_SYMLINK_HOPS {
        match fs::symlink_metadata(&current) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let target = fs::read_link(&current)?;
                current = if target.is_absolute() {
                    target
                } else {
                    parent_dir(&current).join(target)
                };
            }
            Ok(_) => return Ok(current),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(current),
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::other(format!(
        "more than {MAX_SYMLINK_HOPS} symlinks in a row (a loop?)"
    )))
}

/// The directory holding `path`; `.` for a bare file name such as `KUBECONFIG=config`.
pub(super) fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// `path` with `suffix` appended to its file name (`config` → `config.lock`).
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Create the directory that will hold the kubeconfig, private to the user
/// (it holds credentials). Existing directories keep their mode.
pub(super) fn ensure_parent_dir(target: &Path) -> Result<(), KubeconfigError> {
    let dir = parent_dir(target);
    if dir.is_dir() {
        return Ok(());
    }
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| KubeconfigError::Write {
            path: dir.to_path_buf(),
            source,
        })
}

/// Both locks an edit holds; released (in reverse order) on drop.
pub(super) struct EditLock {
    // Field order matters: Rust drops fields in declaration order, so the
    // kubectl-style lock goes first and our flock is released last.
    _kubectl: KubectlLock,
    _flock: File,
}

/// Take the locks for a read-modify-write of `target` (the resolved file);
/// `given` is the path as the user spelled it, which is what kubectl locks.
///
/// 1. An exclusive `flock` on `<target>.playground.lock`, which serializes
///    `playground` processes and waits as long as needed. It is never deleted:
///    a process blocked on the old inode would then hold a "lock" nobody else
///    sees once a third process creates a fresh file, and two writers would
///    run at once. It is deliberately *not* `<target>.lock`, see 2.
/// 2. client-go's own protocol, so kubectl, kind and friends are excluded too:
///    create `<given>.lock` with O_EXCL, delete it when done. client-go treats
///    an existing `config.lock` as "busy" and fails, so a permanent file of
///    that name (as a flock target would be) would break every later
///    `kubectl config use-context`. We retry for `kubectl_wait`, then give up.
pub(super) fn lock_for_edit(
    given: &Path,
    target: &Path,
    kubectl_wait: Duration,
) -> Result<EditLock, KubeconfigError> {
    let flock_path = with_suffix(target, ".playground.lock");
    let lock_err = |source| KubeconfigError::Lock {
        path: flock_path.clone(),
        source,
    };
    let flock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(&flock_path)
        .map_err(lock_err)?;
    flock.lock().map_err(lock_err)?;
    let kubectl = KubectlLock::acquire(with_suffix(given, ".lock"), kubectl_wait)?;
    Ok(EditLock {
        _kubectl: kubectl,
        _flock: flock,
    })
}

/// client-go's `<file>.lock`, held while it exists.
struct KubectlLock {
    path: PathBuf,
}

impl KubectlLock {
    const RETRY_EVERY: Duration = Duration::from_millis(50);

    fn acquire(path: PathBuf, wait: Duration) -> Result<Self, KubeconfigError> {
        let deadline = Instant::now() + wait;
        loop {
            match OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
            {
                Ok(_) => return Ok(KubectlLock { path }),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    if Instant::now() >= deadline {
                        return Err(KubeconfigError::LockedByOther { path });
                    }
                    thread::sleep(Self::RETRY_EVERY);
                }
                Err(source) => return Err(KubeconfigError::Lock { path, source }),
            }
        }
    }
}

impl Drop for KubectlLock {
    fn drop(&mut self) {
        if let Err(e) = fs::remove_file(&self.path) {
            tracing::warn!(path = %self.path.display(), error = %e, "could not remove kubeconfig lock file");
        }
    }
}

/// The file's text, or `None` if it does not exist.
/// A kubeconfig without its owner's write bit is the user saying "don't touch": we would
/// otherwise replace it (an atomic rename needs only the directory) and make it 0600.
pub(super) fn refuse_read_only(target: &Path) -> Result<(), KubeconfigError> {
    let Ok(meta) = std::fs::metadata(target) else {
        return Ok(());
    };
    #[cfg(unix)]
    let read_only = {
        use std::os::unix::fs::PermissionsExt;
        meta.permissions().mode() & 0o200 == 0
    };
    #[cfg(not(unix))]
    let read_only = meta.permissions().readonly();
    if read_only {
        return Err(KubeconfigError::ReadOnly {
            path: target.to_path_buf(),
        });
    }
    Ok(())
}

pub(super) fn read_if_exists(target: &Path) -> Result<Option<String>, KubeconfigError> {
    match fs::read(target) {
        Ok(bytes) => String::from_utf8(bytes)
            .map(Some)
            .map_err(|e| KubeconfigError::Parse {
                path: target.to_path_buf(),
                location: target.display().to_string(),
                source: YamlError::NotUtf8(e.utf8_error()),
            }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(KubeconfigError::Read {
            path: target.to_path_buf(),
            source,
        }),
    }
}

/// Replace `target` with `contents` atomically: readers (kubectl, a parallel
/// `playground kubeconfig`) see the old file or the new one, never a torn one,
/// and a crash or full disk leaves the old file in place.
///
/// The new file is always mode 0600, even when the old one was looser: it holds
/// a client key, and kubectl itself writes 0600. This tightens a 0644 file.
pub(super) fn write_atomic(target: &Path, contents: &[u8]) -> Result<(), KubeconfigError> {
    crate::fsutil::write_atomic(target, contents, 0o600).map_err(|source| KubeconfigError::Write {
        path: target.to_path_buf(),
        source,
    })
}

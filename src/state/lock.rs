//! One command at a time on a lab.
//!
//! Two `up`s of one lab at once each saw no network, each created one (Docker allows two
//! networks of one name), and then neither could go on, nor `drop` tell them apart. So every
//! command that changes a lab (`up`, `restore`, `drop`, `suspend`, `resume`) first takes the
//! lab's lock: an advisory lock (`flock`) on `<data>/playground/<name>/lock`. A second command
//! says who holds it and waits for it; the kernel releases it when the holder exits, kill -9
//! included, so a crashed command never leaves a lab locked.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::PathBuf;
use std::time::Duration;

use crate::fsutil;
use crate::lab::LabName;

/// Why the lab could not be locked.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("cannot lock lab {name} ({}): {source}", path.display())]
    Io {
        name: String,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("lab {name} is busy: {holder} has held it for more than {}s", waited.as_secs())]
    Busy {
        name: String,
        holder: String,
        waited: Duration,
    },
}

impl crate::diag::Hinted for LockError {
    fn hint(&self) -> Option<String> {
        match self {
            Self::Busy { .. } => Some(
                "wait for that command to finish, or stop it (Ctrl-C); its lock goes with it"
                    .to_string(),
            ),
            _ => None,
        }
    }
}

impl crate::diag::Classified for LockError {
    fn kind(&self) -> crate::diag::Kind {
        match self {
            Self::Busy { .. } => crate::diag::Kind::Conflict,
            _ => crate::diag::Kind::Failed,
        }
    }
}

/// The lab's lock, held until dropped. A use case that changes a lab takes one (not a name):
/// holding the lock is the proof that no other command acts on that lab meanwhile.
#[derive(Debug)]
pub(crate) struct LabLock {
    name: LabName,
    _file: File,
}

/// Where a lab's lock lives.
pub(crate) fn path(name: &LabName) -> PathBuf {
    super::lab_dir(name).join("lock")
}

impl LabLock {
    /// Take the lab's lock, waiting up to `wait` for another command to let it go;
    /// `waiting(holder)` is called once, when it has to wait.
    pub(crate) fn acquire(
        name: &LabName,
        wait: Duration,
        waiting: impl FnOnce(&str),
    ) -> Result<LabLock, LockError> {
        let path = path(name);
        let io = |source| LockError::Io {
            name: name.to_string(),
            path: path.clone(),
            source,
        };
        fsutil::create_dir(&super::lab_dir(name), 0o700).map_err(io)?;
        let mut file = open(&path).map_err(io)?;
        let started = std::time::Instant::now();
        let mut told = Some(waiting);
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(std::fs::TryLockError::WouldBlock) => {
                    let holder = holder(&mut file);
                    if let Some(tell) = told.take() {
                        tell(&holder);
                    }
                    if started.elapsed() >= wait {
                        return Err(LockError::Busy {
                            name: name.to_string(),
                            holder,
                            waited: wait,
                        });
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
            }
        }
        // Who holds it, for the next command's message. Not a secret: a pid and a command.
        let me = format!(
            "playground {} (pid {})",
            std::env::args().nth(1).unwrap_or_default(),
            std::process::id()
        );
        file.set_len(0).map_err(io)?;
        file.rewind().map_err(io)?;
        file.write_all(me.as_bytes()).map_err(io)?;
        Ok(LabLock {
            name: name.clone(),
            _file: file,
        })
    }

    /// The lab this lock is held on.
    pub(crate) fn name(&self) -> &LabName {
        &self.name
    }
}

fn open(path: &std::path::Path) -> std::io::Result<File> {
    let mut o = OpenOptions::new();
    o.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    o.open(path)
}

fn holder(file: &mut File) -> String {
    let mut text = String::new();
    let _ = file.rewind();
    let _ = file.read_to_string(&mut text);
    let text = text.trim();
    if text.is_empty() {
        "another playground command".into()
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_waits_then_gives_up_naming_the_first() {
        // Locks are per open file description: two opens in one process contend like two
        // processes do.
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("lock");
        let mut first = open(&p).unwrap();
        first.try_lock().unwrap();
        first.write_all(b"playground up (pid 1)").unwrap();
        let mut second = open(&p).unwrap();
        assert!(matches!(
            second.try_lock(),
            Err(std::fs::TryLockError::WouldBlock)
        ));
        assert_eq!(holder(&mut second), "playground up (pid 1)");
        drop(first);
        second.try_lock().unwrap();
    }
}

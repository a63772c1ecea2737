//! What playground keeps about a lab outside Docker, in the user data dir
//! (`~/.local/share/playground/<name>/` on Linux):
//!
//! - [`record`]: `state.yaml`, written by every `up`: the lab file's content, the Git source
//!   and the commit deployed. `restore` rebuilds a dropped lab from it. It holds no secret.
//! - [`kept`]: `secrets.yaml`, the Secrets named in `keep.secrets`, exported by `drop` and
//!   `suspend` and re-applied by `up` and `restore` before the root Application exists.
//!
//! Both files are mode 0600 in a 0700 directory, and written atomically. Git is the source of
//! truth for everything else: these two files hold only what Git cannot.

use std::path::PathBuf;

use crate::lab::LabName;

pub(crate) mod kept;
pub(crate) mod lock;
pub(crate) mod record;

/// `<data dir>/playground`: the root of everything playground stores per user.
pub(crate) fn data_root() -> PathBuf {
    #[cfg(test)]
    if let Some(root) = test_root::get() {
        return root;
    }
    dirs::data_dir()
        .or_else(|| dirs::home_dir().map(|h| h.join(".local").join("share")))
        .unwrap_or_else(std::env::temp_dir)
        .join("playground")
}

/// Where downloads are cached (the Argo CD manifest and CLI, `restore --from`'s clones): the
/// user cache dir (`~/.cache` on Linux), not the data dir, since all of it can be fetched again.
pub(crate) fn cache_root() -> PathBuf {
    dirs::cache_dir().unwrap_or_else(std::env::temp_dir)
}

/// `<data dir>/playground/<name>`: one lab's folder. Lab names are DNS labels, so they cannot
/// collide with the sample lab's `_sample` folder next to them.
pub(crate) fn lab_dir(name: &LabName) -> PathBuf {
    data_root().join(name)
}

/// Unix mode of the files here: they may hold Secrets (kept) or name private paths (record).
pub(crate) const FILE_MODE: u32 = 0o600;
/// Unix mode of the folders here.
pub(crate) const DIR_MODE: u32 = 0o700;

/// Now, as RFC 3339 in UTC to the millisecond (e.g. `2026-11-26T10:02:03.417Z`), cut
/// rather than rounded, so a stamp never reads later than the moment it was taken. Nothing
/// compares it with file times: the kernel stamps files from a coarser clock (see
/// [`kept::earlier_export`]).
pub(crate) fn now_rfc3339() -> String {
    let now = jiff::Timestamp::now();
    jiff::Timestamp::from_millisecond(now.as_millisecond())
        .unwrap_or(now)
        .to_string()
}

/// Unit tests keep what they store in a folder of their own: [`data_root`] is `dir` on this
/// thread while the guard lives (a `#[tokio::test]` runs on one thread).
#[cfg(test)]
pub(crate) mod test_root {
    use std::cell::RefCell;
    use std::path::{Path, PathBuf};

    thread_local! {
        static ROOT: RefCell<Option<PathBuf>> = const { RefCell::new(None) };
    }

    pub(super) fn get() -> Option<PathBuf> {
        ROOT.with(|r| r.borrow().clone())
    }

    /// Until the guard drops, this thread's data root is `dir`.
    pub(crate) fn set(dir: &Path) -> Guard {
        ROOT.with(|r| *r.borrow_mut() = Some(dir.to_path_buf()));
        Guard(())
    }

    pub(crate) struct Guard(());

    impl Drop for Guard {
        fn drop(&mut self) {
            ROOT.with(|r| *r.borrow_mut() = None);
        }
    }
}

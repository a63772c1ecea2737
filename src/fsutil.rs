//! Small file-system helpers shared by everything that writes state the user relies on.

use std::fs::File;
#[cfg(unix)]
use std::fs::Permissions;
use std::io::{self, Write};
#[cfg(unix)]
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

/// Windows has no mode bits: these stand-ins only keep the call sites compiling there. The
/// binary refuses to run on Windows (`main.rs`: use WSL2), so no secret is ever written with
/// them. Import this where `std::os::unix::fs::{DirBuilderExt, OpenOptionsExt}` is imported.
#[cfg(not(unix))]
pub(crate) trait ModeExt {
    fn mode(&mut self, mode: u32) -> &mut Self;
}

#[cfg(not(unix))]
impl ModeExt for std::fs::OpenOptions {
    fn mode(&mut self, _mode: u32) -> &mut Self {
        self
    }
}

#[cfg(not(unix))]
impl ModeExt for std::fs::DirBuilder {
    fn mode(&mut self, _mode: u32) -> &mut Self {
        self
    }
}

/// Set `file`'s mode bits (nothing to set on Windows, see `ModeExt`).
fn set_mode(file: &File, mode: u32) -> io::Result<()> {
    #[cfg(unix)]
    return file.set_permissions(Permissions::from_mode(mode));
    #[cfg(not(unix))]
    {
        let _ = (file, mode);
        Ok(())
    }
}

/// Write `contents` to `target` through a temp file in the same directory and a rename:
/// readers see the old file or the new one, never a torn one, and a crash or a full disk
/// leaves the old file in place. The mode is set before any byte lands, so a secret is never
/// readable by others, not even for a moment.
pub(crate) fn write_atomic(target: &Path, contents: &[u8], mode: u32) -> io::Result<()> {
    let dir = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // Same directory, so the rename stays on one file system (atomic).
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".playground-tmp")
        .tempfile_in(dir)?;
    set_mode(tmp.as_file(), mode)?;
    tmp.write_all(contents)?;
    tmp.as_file().sync_all()?;
    tmp.persist(target).map_err(|e| e.error)?;
    // Make the rename itself durable; failing here loses nothing already visible.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// The mode of folders in the user cache: readable by all, writable by the user alone.
pub(crate) const CACHE_DIR_MODE: u32 = 0o755;

/// Create `dir` and its missing parents; the directories created get `mode` (0700 for
/// anything that holds secrets). The umask can only take bits away, so a umask of 000 never
/// makes them writable by others, as `create_dir_all` (0777 less the umask) would.
pub(crate) fn create_dir(dir: &Path, mode: u32) -> io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(mode)
        .create(dir)
}

/// Write a small file with exactly `mode` (not 0666 less the umask), replacing it if it exists.
pub(crate) fn write_file(path: &Path, contents: &[u8], mode: u32) -> io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(path)?;
    f.write_all(contents)?;
    // An existing file keeps its old mode through `open`; set it.
    set_mode(&f, mode)
}

/// `path` as a relative path that stays below where it starts (`a/../b` is `b`), or `None`
/// when it is absolute or climbs out through `..`. Lexical: symlinks are the caller's to
/// resolve. The one rule for every path the lab names inside its folder or repository
/// (`gitops.path`, `argocd.resources`, sources and value files).
pub(crate) fn inside(path: &str) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in Path::new(path).components() {
        match c {
            Component::Normal(p) => out.push(p),
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_file_with_the_given_mode_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.yaml");
        std::fs::write(&path, "old").unwrap();
        std::fs::set_permissions(&path, Permissions::from_mode(0o644)).unwrap();
        write_atomic(&path, b"new", 0o600).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("state.yaml")]);
    }
}

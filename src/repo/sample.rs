//! The sample lab built into the binary: the files under the project's `playground/` folder,
//! embedded at compile time, so `playground init` (and `up` without a lab) work from a bare
//! binary.
//!
//! The flow of [`write_sample`]: if the directory already holds the sample's repository, it is
//! returned untouched (the user's edits and commits are theirs); otherwise the files are
//! written to a private temporary sibling, committed there with [`git::init_with_commit`],
//! and the whole folder is renamed into place, so an interrupted write never leaves half a
//! lab behind.
//!
//! The embedded list is explicit (`include_str!`, no build script or extra crate); a test
//! fails when a file under `playground/` is missing from it.

use std::path::{Path, PathBuf};

use super::git::{self, GitError};

/// `repoURL` that means "this lab's own repository" in the sample's Applications and
/// AppProject. For a local lab `up` makes the repository available to Argo CD under this URL;
/// the seeding code substitutes the real URL where it creates the repository and root
/// Application. See `playground/README.md`.
pub(crate) const REPO_PLACEHOLDER: &str = "file:///playground";

/// The lab file's name inside the sample.
pub(crate) const LAB_FILE: &str = "playground.yaml";

/// The message of the sample repository's one commit.
pub(crate) const COMMIT_MESSAGE: &str = "playground sample lab";

macro_rules! embed {
    ($($path:literal),* $(,)?) => {
        &[$(($path, include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/playground/", $path)))),*]
    };
}

/// Every file of the sample lab: path relative to the lab's root (with `/`), and content.
pub(crate) const FILES: &[(&str, &str)] = embed![
    "README.md",
    "playground.yaml",
    "apps/project.yaml",
    "apps/podinfo.yaml",
    "apps/kustomize-hello.yaml",
    "apps/plain-echo.yaml",
    "workloads/kustomize-hello/kustomization.yaml",
    "workloads/kustomize-hello/deployment.yaml",
    "workloads/kustomize-hello/service.yaml",
    "workloads/kustomize-hello/ingress.yaml",
    "workloads/kustomize-hello/index.html",
    "workloads/plain-echo/deployment.yaml",
    "workloads/plain-echo/service.yaml",
];

/// A sample lab on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SampleLab {
    /// The repository's root.
    pub(crate) dir: PathBuf,
    /// `dir/playground.yaml`.
    pub(crate) lab_file: PathBuf,
    /// `HEAD`'s commit id (the sample's own commit when just written).
    pub(crate) commit: String,
    /// Whether this call wrote it (`false`: it was already there and was left alone).
    pub(crate) created: bool,
}

/// Why the sample could not be written.
#[derive(Debug, thiserror::Error)]
pub enum SampleError {
    /// The directory holds something other than the sample lab.
    #[error(
        "{}: exists and is not a sample lab (no Git repository with {LAB_FILE} at its root)",
        dir.display()
    )]
    NotASample { dir: PathBuf },
    /// `init --from-k3d` into a directory that already holds a lab: never overwritten.
    #[error("{}: already holds a lab ({LAB_FILE} in a Git repository); not overwritten", dir.display())]
    AlreadyALab { dir: PathBuf },
    #[error("{}: {what}: {source}", path.display())]
    Io {
        path: PathBuf,
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Git(#[from] GitError),
}

impl crate::diag::Hinted for SampleError {
    fn hint(&self) -> Option<String> {
        match self {
            Self::NotASample { .. } => {
                Some("choose another directory, or move its contents away".to_string())
            }
            Self::AlreadyALab { dir } => Some(format!(
                "write the converted lab to a new directory and merge it by hand, e.g. `playground init --from-k3d FILE {}-k3d`",
                dir.display()
            )),
            Self::Git(e) => e.hint(),
            _ => None,
        }
    }
}

impl crate::diag::Classified for SampleError {
    fn kind(&self) -> crate::diag::Kind {
        match self {
            Self::AlreadyALab { .. } => crate::diag::Kind::Usage,
            _ => crate::diag::Kind::Failed,
        }
    }
}

/// `playground init`: an existing empty directory (the shell may be sitting in it) is filled
/// in place; anything else goes through [`write_sample`], which builds the repository aside
/// and renames it into place, so an interrupted `init` leaves nothing half-made.
pub(crate) fn init(dir: &Path) -> Result<SampleLab, SampleError> {
    init_with(dir, &Custom::default())
}

/// `playground init --from-k3d`: the sample lab with `lab_file` as its `playground.yaml`,
/// committed with `message`, written as [`init`] writes the sample. A directory that already
/// holds a lab is refused ([`SampleError::AlreadyALab`]), never overwritten.
pub(crate) fn init_with_lab_file(
    dir: &Path,
    lab_file: &str,
    message: &str,
) -> Result<SampleLab, SampleError> {
    if existing(dir)?.is_some() {
        return Err(SampleError::AlreadyALab {
            dir: dir.to_path_buf(),
        });
    }
    let custom = Custom {
        lab_file: Some(lab_file),
        message: Some(message),
    };
    init_with(dir, &custom)
}

/// What differs from the built-in sample: its lab file and commit message.
#[derive(Default)]
struct Custom<'a> {
    lab_file: Option<&'a str>,
    message: Option<&'a str>,
}

impl Custom<'_> {
    fn message(&self) -> &str {
        self.message.unwrap_or(COMMIT_MESSAGE)
    }
}

fn init_with(dir: &Path, custom: &Custom) -> Result<SampleLab, SampleError> {
    let is_empty_dir = std::fs::read_dir(dir).is_ok_and(|mut d| d.next().is_none());
    if !is_empty_dir {
        return write_sample_with(dir, custom);
    }
    write_files(dir, custom)?;
    let commit = git::init_with_commit(dir, custom.message(), None)?;
    Ok(SampleLab {
        dir: dir.to_path_buf(),
        lab_file: dir.join(LAB_FILE),
        commit,
        created: true,
    })
}

/// The sample's files under `root`: folders readable by Argo CD's repo-server (uid 999)
/// through the mount and writable by us, files 0644.
fn write_files(root: &Path, custom: &Custom) -> Result<(), SampleError> {
    for (rel, text) in FILES {
        let text = match custom.lab_file {
            Some(lab_file) if *rel == LAB_FILE => lab_file,
            _ => text,
        };
        let path = root.join(rel);
        if let Some(folder) = path.parent() {
            crate::fsutil::create_dir(folder, crate::fsutil::CACHE_DIR_MODE).map_err(|source| {
                SampleError::Io {
                    path: folder.to_path_buf(),
                    what: "cannot create the directory",
                    source,
                }
            })?;
        }
        crate::fsutil::write_file(&path, text.as_bytes(), 0o644).map_err(|source| {
            SampleError::Io {
                path: path.clone(),
                what: "cannot write the file",
                source,
            }
        })?;
    }
    Ok(())
}

/// Where the built-in sample lab lives by default: `<data dir>/playground/_sample`
/// (`~/.local/share/playground/_sample` on Linux). The underscore keeps it apart from the
/// per-lab folders next to it ([`crate::state::lab_dir`]): a lab name cannot contain one.
pub(crate) fn default_dir() -> PathBuf {
    crate::state::data_root().join("_sample")
}

/// Writes the sample lab to `dir` (mode 0755, so the repo-server can read the mount) as a Git repository with one
/// commit, or returns the one already there. See the module docs.
pub(crate) fn write_sample(dir: &Path) -> Result<SampleLab, SampleError> {
    write_sample_with(dir, &Custom::default())
}

fn write_sample_with(dir: &Path, custom: &Custom) -> Result<SampleLab, SampleError> {
    if let Some(existing) = existing(dir)? {
        return Ok(existing);
    }
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    // The data dir: ours alone, whatever the umask.
    crate::fsutil::create_dir(&parent, 0o700).map_err(|source| SampleError::Io {
        path: parent.clone(),
        what: "cannot create the directory",
        source,
    })?;
    // `tempfile` creates it 0700 and removes it if anything below fails.
    let staging = tempfile::Builder::new()
        .prefix(".playground-sample-")
        .tempdir_in(&parent)
        .map_err(|source| SampleError::Io {
            path: parent.clone(),
            what: "cannot create a temporary directory",
            source,
        })?;
    write_files(staging.path(), custom)?;
    let commit = git::init_with_commit(staging.path(), custom.message(), None)?;
    // Readable by others, like a `git clone`: the directory is bind-mounted into the nodes and
    // read there by argocd-repo-server, which runs as another user (uid 999). A 0700 sample
    // would be invisible to it. It holds no secret; the data dir around it stays private.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(staging.path(), std::fs::Permissions::from_mode(0o755)).map_err(
            |source| SampleError::Io {
                path: staging.path().to_path_buf(),
                what: "cannot set the permissions of",
                source,
            },
        )?;
    }
    // An empty directory in the way (e.g. made by the user for it) is replaced.
    if dir.is_dir() {
        let _ = std::fs::remove_dir(dir);
    }
    let staged = staging.keep();
    if let Err(source) = std::fs::rename(&staged, dir) {
        let _ = std::fs::remove_dir_all(&staged);
        // Another `playground` may have written it meanwhile.
        if let Some(existing) = existing(dir)? {
            return Ok(existing);
        }
        return Err(SampleError::Io {
            path: dir.to_path_buf(),
            what: "cannot move the sample lab into place",
            source,
        });
    }
    Ok(SampleLab {
        dir: dir.to_path_buf(),
        lab_file: dir.join(LAB_FILE),
        commit,
        created: true,
    })
}

/// The sample already in `dir`; `None` if `dir` is absent or an empty directory; an error if
/// it holds anything else.
fn existing(dir: &Path) -> Result<Option<SampleLab>, SampleError> {
    let mut entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(SampleError::Io {
                path: dir.to_path_buf(),
                what: "cannot read the directory",
                source,
            });
        }
    };
    if entries.next().is_none() {
        return Ok(None);
    }
    let not_a_sample = || SampleError::NotASample {
        dir: dir.to_path_buf(),
    };
    if !dir.join(".git").exists() || !dir.join(LAB_FILE).is_file() {
        return Err(not_a_sample());
    }
    let repo = git::open(dir)?;
    let commit = git::head(&repo)?;
    Ok(Some(SampleLab {
        dir: dir.to_path_buf(),
        lab_file: dir.join(LAB_FILE),
        commit,
        created: false,
    }))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// Every file under `playground/`, relative with `/`.
    fn files_on_disk() -> BTreeSet<String> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("playground");
        let mut out = BTreeSet::new();
        let mut stack = vec![root.clone()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                } else {
                    let rel = path.strip_prefix(&root).unwrap();
                    out.insert(rel.to_string_lossy().replace('\\', "/"));
                }
            }
        }
        out
    }

    #[test]
    fn embeds_every_file_of_the_sample() {
        let embedded: BTreeSet<String> = FILES.iter().map(|(p, _)| p.to_string()).collect();
        assert_eq!(embedded.len(), FILES.len(), "a file is listed twice");
        assert_eq!(
            files_on_disk(),
            embedded,
            "src/repo/sample.rs FILES must list exactly the files under playground/"
        );
    }

    #[test]
    fn writes_a_valid_lab_with_one_commit() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data/playground/sample");
        let lab = write_sample(&dir).unwrap();
        assert!(lab.created);
        assert_eq!(lab.lab_file, dir.join("playground.yaml"));

        let parsed = crate::config::load(&lab.lab_file).unwrap();
        assert_eq!(parsed.gitops.path, "apps");
        let report =
            crate::validate::validate(&lab.lab_file).unwrap_or_else(|errors| panic!("{errors:#?}"));
        assert_eq!(report.applications.len(), 3);

        let repo = git::open(&dir).unwrap();
        assert_eq!(git::head(&repo).unwrap(), lab.commit);
        let first = git::last_commit_touching(&repo, "").unwrap().unwrap();
        assert_eq!(first.hash, lab.commit);
        assert_eq!(first.subject, COMMIT_MESSAGE);
        assert!(git::uncommitted_changes(&repo, "").unwrap().is_empty());
        // One commit: the head has no parent.
        let head = repo.gix().head_commit().unwrap();
        assert_eq!(head.parent_ids().count(), 0);

        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
            assert_eq!(
                mode & 0o777,
                0o755,
                "argocd-repo-server (another uid) must read it"
            );
        }
        // No staging directory left behind.
        let siblings: Vec<_> = std::fs::read_dir(dir.parent().unwrap()).unwrap().collect();
        assert_eq!(siblings.len(), 1);
    }

    #[test]
    fn leaves_an_existing_sample_and_its_edits_alone() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("sample");
        let first = write_sample(&dir).unwrap();
        std::fs::write(dir.join("apps/podinfo.yaml"), "# mine\n").unwrap();
        let again = write_sample(&dir).unwrap();
        assert!(!again.created);
        assert_eq!(again.commit, first.commit);
        assert_eq!(
            std::fs::read_to_string(dir.join("apps/podinfo.yaml")).unwrap(),
            "# mine\n"
        );
    }

    #[test]
    fn refuses_a_directory_with_other_things_in_it() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("notes.txt"), "x").unwrap();
        let err = write_sample(tmp.path()).unwrap_err();
        assert!(matches!(err, SampleError::NotASample { .. }), "{err:?}");
        assert!(
            crate::diag::Report(&err)
                .to_string()
                .contains("choose another directory"),
            "{err}"
        );
        // An empty directory is fine.
        let empty = tmp.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        assert!(write_sample(&empty).unwrap().created);
    }

    #[test]
    fn writes_a_given_lab_file_and_refuses_a_lab_already_there() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("converted");
        let text = FILES.iter().find(|(p, _)| *p == LAB_FILE).unwrap().1;
        let mine = text.replace("name: playground", "name: mine");
        let lab = init_with_lab_file(&dir, &mine, "converted").unwrap();
        assert!(lab.created);
        assert_eq!(std::fs::read_to_string(&lab.lab_file).unwrap(), mine);
        assert!(
            dir.join("apps/podinfo.yaml").is_file(),
            "the sample's apps come along"
        );
        let repo = git::open(&dir).unwrap();
        let head = git::last_commit_touching(&repo, "").unwrap().unwrap();
        assert_eq!(head.subject, "converted");
        assert!(git::uncommitted_changes(&repo, "").unwrap().is_empty());

        let err = init_with_lab_file(&dir, text, "again").unwrap_err();
        assert!(matches!(err, SampleError::AlreadyALab { .. }), "{err:?}");
        assert!(
            crate::diag::Report(&err)
                .to_string()
                .contains("hint: write the converted lab")
        );
        assert_eq!(
            std::fs::read_to_string(&lab.lab_file).unwrap(),
            mine,
            "left alone"
        );

        // An empty directory (the shell's) is filled in place.
        let empty = tmp.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        assert!(
            init_with_lab_file(&empty, &mine, "converted")
                .unwrap()
                .created
        );
    }

    #[test]
    fn default_dir_is_under_the_data_dir() {
        let dir = default_dir();
        assert!(dir.ends_with("playground/_sample"), "{}", dir.display());
    }
}

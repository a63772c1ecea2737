//! The lab's Git repository, read and written in pure Rust through `gix` (no `git` binary is
//! needed on the user's machine).
//!
//! What the rest of the crate asks of Git:
//! - [`open`] finds the repository a lab lives in (discovering upward, like `git` does);
//! - [`head`] / [`resolve`] turn `HEAD`, a branch, a tag or a short id into the full commit id
//!   Argo CD is expected to report once it has synced;
//! - [`last_commit_touching`] is "who changed this app, and when" for `status`;
//! - [`uncommitted_changes`] lets `up` warn that edits which are not committed are invisible to
//!   Argo CD, which reads commits, never the working tree;
//! - [`init_with_commit`] turns a directory of files into a repository with one commit on
//!   `main` (the built-in sample lab is written this way).

use std::collections::{BTreeSet, HashMap};
use std::path::{Component, Path, PathBuf};

use gix::bstr::{BString, ByteSlice};
use gix::hash::ObjectId;

use super::CommitInfo;

/// The name and e-mail [`init_with_commit`] signs with when no author is given.
pub(crate) const DEFAULT_AUTHOR: (&str, &str) = ("playground", "playground@localhost");

/// The branch [`init_with_commit`] creates.
pub(crate) const DEFAULT_BRANCH: &str = "main";

/// A Git error: what failed, on which repository or path, and what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    /// No repository contains the path.
    #[error("{} is not in a Git repository", path.display())]
    NotARepository { path: PathBuf },
    /// The repository exists but `HEAD` points at a branch with no commits yet.
    #[error("{}: the repository has no commits yet", path.display())]
    NoCommits { path: PathBuf },
    /// A revision that names no commit.
    /// gix's error stays the source, out of the message: its text is Debug-like
    /// (`Message { message: "couldn't parse revision", … }`).
    #[error("{}: `{rev}` names no commit in this repository", path.display())]
    UnknownRevision {
        path: PathBuf,
        rev: String,
        #[source]
        source: gix::Error,
    },
    /// [`init_with_commit`] was pointed at a directory that already is a repository.
    #[error("{}: already a Git repository", path.display())]
    AlreadyARepository { path: PathBuf },
    /// The repository's Git data lives outside its working tree (`.git` is a file: a linked
    /// worktree, a submodule, `--separate-git-dir`), so a mount of the working tree alone
    /// carries no repository. See [`check_self_contained`].
    #[error(
        "{root} is {kind}: its Git data is in {git_dir}, outside {root} ({root}/.git is a file pointing there); the nodes and Argo CD's repo-server mount only {root}, so git finds no repository there",
        root = root.display(),
        git_dir = git_dir.display()
    )]
    GitDirOutside {
        root: PathBuf,
        git_dir: PathBuf,
        kind: &'static str,
        hint: String,
    },
    /// Reading or writing a file failed.
    #[error("{}: {what}: {source}", path.display())]
    Io {
        path: PathBuf,
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
    /// Any other failure inside the repository (corrupt objects, locked refs, …).
    #[error("{}: {what}: {source:#}", path.display())]
    Git {
        path: PathBuf,
        what: &'static str,
        #[source]
        source: gix::Error,
    },
}

impl crate::diag::Hinted for GitError {
    fn hint(&self) -> Option<String> {
        match self {
            Self::NotARepository { .. } => Some("Argo CD reads the lab from Git commits: run `playground init` to write the sample lab there, or make one of your own with `git init && git add -A && git commit -m \"first lab\"`".to_string()),
            Self::NoCommits { .. } => Some("Argo CD reads commits, not the working tree: commit the lab first (`git add -A && git commit -m \"first lab\"`)".to_string()),
            Self::UnknownRevision { .. } => Some("use HEAD, a branch, a tag or a commit id (at least 4 hex digits); `git log --oneline --all` lists them".to_string()),
            Self::AlreadyARepository { .. } => Some("commit your changes there with `git add -A && git commit`, or choose an empty directory".to_string()),
            Self::GitDirOutside { hint, .. } => Some(hint.to_string()),
            _ => None,
        }
    }
}

/// Results of this module.
pub(crate) type Result<T, E = GitError> = std::result::Result<T, E>;

/// An open repository with a working tree.
pub(crate) struct Repo {
    inner: gix::Repository,
}

impl std::fmt::Debug for Repo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Repo").field("root", &self.root()).finish()
    }
}

impl From<gix::Repository> for Repo {
    fn from(inner: gix::Repository) -> Self {
        Repo { inner }
    }
}

impl Repo {
    /// The top of the working tree (the directory holding `.git`), or the Git directory of a
    /// bare repository.
    pub(crate) fn root(&self) -> &Path {
        self.inner.workdir().unwrap_or_else(|| self.inner.git_dir())
    }

    /// The `gix` repository, for what this module does not wrap.
    pub(crate) fn gix(&self) -> &gix::Repository {
        &self.inner
    }

    /// Wraps a `gix` error with what we were doing and where.
    fn err(&self, what: &'static str) -> impl FnOnce(gix::Error) -> GitError + '_ {
        move |source| GitError::Git {
            path: self.root().to_path_buf(),
            what,
            source,
        }
    }
}

/// Opens the repository containing `path` (a file or directory), searching upward as `git`
/// does.
pub(crate) fn open(path: &Path) -> Result<Repo> {
    let start = if path.as_os_str().is_empty() {
        Path::new(".")
    } else {
        path
    };
    // gix reports a missing path and a path outside any repository alike; say which it is.
    let meta = std::fs::metadata(start).map_err(|source| GitError::Io {
        path: path.to_path_buf(),
        what: "cannot open",
        source,
    })?;
    let dir = if meta.is_dir() {
        start
    } else {
        start
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
    };
    match gix::discover(dir) {
        Ok(mut inner) => {
            // Walking history reads the same trees over and over; a small cache pays off.
            inner.object_cache_size_if_unset(4 * 1024 * 1024);
            Ok(Repo { inner })
        }
        Err(source) => {
            if has_git_ancestor(dir) {
                Err(GitError::Git {
                    path: path.to_path_buf(),
                    what: "cannot open the Git repository",
                    source,
                })
            } else {
                Err(GitError::NotARepository {
                    path: path.to_path_buf(),
                })
            }
        }
    }
}

/// Refuses a repository whose Git data is not inside its working tree.
///
/// The lab's repository reaches the cluster as a bind mount of its working tree (`/playground`),
/// and Argo CD's repo-server reads it with the git CLI (`git fetch origin` from
/// `file:///playground`: `argoproj/argo-cd` `util/git/client.go`, `nativeGitClient.fetch`). In a
/// linked worktree (`git worktree add`) or a submodule, `.git` is a file naming a Git directory
/// elsewhere on the host (`.../.git/worktrees/NAME`, `.../.git/modules/NAME`); that path does
/// not exist in the container, and git stops with "not a git repository". Said here, before
/// anything is created, with the checkout that does work.
pub(crate) fn check_self_contained(repo: &Repo) -> Result<()> {
    let canon = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
    let root = canon(repo.root());
    let git_dir = canon(repo.inner.git_dir());
    let common = canon(repo.inner.common_dir());
    if git_dir.starts_with(&root) && common.starts_with(&root) {
        return Ok(());
    }
    let clone = format!(
        "use a clone of it, which keeps its Git data inside: `git clone {} <dir>`, and point `gitops.repo` there",
        root.display()
    );
    let (kind, hint) = match repo.inner.kind() {
        gix::repository::Kind::LinkedWorkTree => {
            // The shared Git directory is `<main checkout>/.git` (unless the main one is bare).
            let main = common
                .file_name()
                .filter(|n| *n == ".git")
                .and_then(|_| common.parent());
            let branch = repo
                .inner
                .head_name()
                .ok()
                .flatten()
                .map(|n| n.shorten().to_string());
            let hint = match (main, branch) {
                (Some(main), Some(branch)) => format!(
                    "point `gitops.repo` at the main checkout {} and set `gitops.revision: {branch}` (this worktree's branch; Argo CD reads commits, so it sees the same files), or {clone}",
                    main.display()
                ),
                (Some(main), None) => format!(
                    "point `gitops.repo` at the main checkout {} (with `gitops.revision` naming the commit or branch you want), or {clone}",
                    main.display()
                ),
                (None, _) => clone,
            };
            ("a linked Git worktree", hint)
        }
        gix::repository::Kind::Submodule => (
            "a Git submodule checkout",
            format!(
                "{clone} (the superproject's checkout would not carry the submodule's commits either)"
            ),
        ),
        gix::repository::Kind::Common => ("a checkout with a separate Git directory", clone),
    };
    Err(GitError::GitDirOutside {
        root,
        git_dir,
        kind,
        hint,
    })
}

/// Whether `dir` or one of its ancestors holds a `.git` entry: tells "no repository here"
/// apart from "a repository we could not open".
fn has_git_ancestor(dir: &Path) -> bool {
    let Ok(dir) = dir.canonicalize() else {
        return false;
    };
    dir.ancestors().any(|d| d.join(".git").exists())
}

/// The full hex id of the commit `HEAD` points at.
pub(crate) fn head(repo: &Repo) -> Result<String> {
    head_id(repo).map(|id| id.to_string())
}

fn head_id(repo: &Repo) -> Result<ObjectId> {
    let head = repo.inner.head().map_err(repo.err("cannot read HEAD"))?;
    if head.is_unborn() {
        return Err(GitError::NoCommits {
            path: repo.root().to_path_buf(),
        });
    }
    let id = repo
        .inner
        .head_id()
        .map_err(repo.err("cannot resolve HEAD to a commit"))?;
    Ok(id.detach())
}

/// [`resolve`], else `origin/<rev>`: a fresh clone holds the branches other than its default
/// only as remote-tracking ones. The error is the one for `rev` itself.
pub(crate) fn resolve_or_remote(repo: &Repo, rev: &str) -> Result<String> {
    resolve(repo, rev).or_else(|e| resolve(repo, &format!("origin/{rev}")).map_err(|_| e))
}

/// The full hex id of the commit `rev` names: `HEAD`, a branch, a tag (peeled to its commit),
/// a full or short commit id, or anything else `git rev-parse` understands.
pub(crate) fn resolve(repo: &Repo, rev: &str) -> Result<String> {
    if rev == "HEAD" {
        // Say "no commits yet" rather than "cannot resolve HEAD" on a fresh repository.
        return head(repo);
    }
    let unknown = |source| GitError::UnknownRevision {
        path: repo.root().to_path_buf(),
        rev: rev.to_string(),
        source,
    };
    let id = repo.inner.rev_parse_single(rev).map_err(unknown)?;
    // A tag names a tag object; Argo CD reports the commit.
    let commit = id
        .object()
        .and_then(|o| o.peel_to_commit())
        .map_err(unknown)?;
    Ok(commit.id.to_string())
}

/// The newest commit, walking back from `HEAD`, whose entry at `path_in_repo` (a file or a
/// directory, relative to the repository root; `""` or `.` for the whole tree) differs from
/// its first parent's, or the root commit if it has that entry. `None` when no commit ever
/// had it.
pub(crate) fn last_commit_touching(repo: &Repo, path_in_repo: &str) -> Result<Option<CommitInfo>> {
    let rel = normalize(path_in_repo);
    let head = head_id(repo)?;
    let walk = repo
        .inner
        .rev_walk([head])
        .sorting(gix::revision::walk::Sorting::ByCommitTime(
            gix::traverse::commit::simple::CommitTimeOrder::NewestFirst,
        ))
        .all()
        .map_err(repo.err("cannot walk the history"))?;
    // Each commit's entry is needed twice: once for itself, once as the next one's parent.
    let mut entries: HashMap<ObjectId, Option<ObjectId>> = HashMap::new();
    for info in walk {
        let info = info.map_err(repo.err("cannot walk the history"))?;
        let here = entry_at(repo, &mut entries, info.id, &rel)?;
        let before = match info.parent_ids.first() {
            Some(parent) => entry_at(repo, &mut entries, *parent, &rel)?,
            None => None,
        };
        if here != before {
            return commit_info(repo, info.id).map(Some);
        }
    }
    Ok(None)
}

/// The id of the tree entry at `rel` in `commit` (the root tree for an empty path), memoized.
fn entry_at(
    repo: &Repo,
    cache: &mut HashMap<ObjectId, Option<ObjectId>>,
    commit: ObjectId,
    rel: &Path,
) -> Result<Option<ObjectId>> {
    if let Some(found) = cache.get(&commit) {
        return Ok(*found);
    }
    let read = repo.err("cannot read a commit's tree");
    let tree = repo
        .inner
        .find_commit(commit)
        .and_then(|c| c.tree())
        .map_err(read)?;
    let found = if rel.as_os_str().is_empty() {
        Some(tree.id)
    } else {
        tree.lookup_entry_by_path(rel)
            .map_err(repo.err("cannot look up a path in a commit"))?
            .map(|e| e.object_id())
    };
    cache.insert(commit, found);
    Ok(found)
}

/// The fetch URLs of the repository's remotes (`origin` first), as written in its config:
/// the URLs Argo CD apps may name this same repository by.
pub(crate) fn remote_urls(repo: &Repo) -> Vec<String> {
    let mut names: Vec<String> = repo
        .inner
        .remote_names()
        .into_iter()
        .map(|n| n.to_string())
        .collect();
    names.sort_by_key(|n| (n != "origin", n.clone()));
    names
        .iter()
        .filter_map(|n| repo.inner.find_remote(n.as_str()).ok())
        .filter_map(|r| {
            r.url(gix::remote::Direction::Fetch)
                .map(|u| u.to_bstring().to_string())
        })
        .collect()
}

/// The names of the entries of the folder `path_in_repo` in `commit` (a full id): what Argo
/// CD's repo-server sees there at that revision, whatever the working tree holds. `None` when
/// the commit has no folder at that path.
pub(crate) fn folder_entries(
    repo: &Repo,
    commit: &str,
    path_in_repo: &str,
) -> Result<Option<Vec<String>>> {
    let rel = normalize(path_in_repo);
    let read = || repo.err("cannot read a commit's tree");
    let id = ObjectId::from_hex(commit.as_bytes()).map_err(|e| GitError::UnknownRevision {
        path: repo.root().to_path_buf(),
        rev: commit.to_string(),
        source: e,
    })?;
    let tree = repo
        .inner
        .find_commit(id)
        .and_then(|c| c.tree())
        .map_err(read())?;
    let folder = if rel.as_os_str().is_empty() {
        tree
    } else {
        let Some(entry) = tree
            .lookup_entry_by_path(&rel)
            .map_err(repo.err("cannot look up a path in a commit"))?
        else {
            return Ok(None);
        };
        if !entry.mode().is_tree() {
            return Ok(None);
        }
        repo.inner
            .find_tree(entry.object_id())
            .map_err(repo.err("cannot read a commit's tree"))?
    };
    let decoded = folder
        .decode()
        .map_err(|e| repo.err("cannot read a commit's tree")(e))?;
    Ok(Some(
        decoded
            .entries
            .iter()
            .map(|e| e.filename.to_str_lossy().into_owned())
            .collect(),
    ))
}

fn commit_info(repo: &Repo, id: ObjectId) -> Result<CommitInfo> {
    let read = || repo.err("cannot read a commit");
    let commit = repo.inner.find_commit(id).map_err(read())?;
    let author = commit.author().map_err(read())?;
    let time = author.time().map(|t| t.seconds).unwrap_or_default();
    let name = author.name.to_str_lossy().trim().to_string();
    let message = commit.message().map_err(read())?;
    let hash = id.to_string();
    Ok(CommitInfo {
        short: hash[..7].to_string(),
        hash,
        author: name,
        time,
        subject: message.summary().to_str_lossy().into_owned(),
    })
}

/// `path_in_repo` as a relative path without `.` components or trailing slashes; empty for the
/// repository root.
fn normalize(path_in_repo: &str) -> PathBuf {
    Path::new(path_in_repo)
        .components()
        .filter(|c| matches!(c, Component::Normal(_)))
        .collect()
}

/// Files under `path_in_repo` (relative to the repository root; `""` or `.` for all) that
/// differ from `HEAD`: modified or deleted in the working tree, staged but not committed, or
/// untracked (ignored files excluded). Repository-relative paths with `/`, sorted.
pub(crate) fn uncommitted_changes(repo: &Repo, path_in_repo: &str) -> Result<Vec<String>> {
    let rel = normalize(path_in_repo);
    let prefix = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/");
    let patterns: Vec<BString> = if prefix.is_empty() {
        Vec::new()
    } else {
        vec![prefix.clone().into()]
    };
    let status = repo.err("cannot compute the status of the working tree");
    let iter = repo
        .inner
        .status(gix::progress::Discard)
        .map_err(status)?
        // One line per file: the warning names what to commit.
        .untracked_files(gix::status::UntrackedFiles::Files)
        .into_iter(patterns)
        .map_err(repo.err("cannot compute the status of the working tree"))?;
    let mut changed = BTreeSet::new();
    for item in iter {
        let item = item.map_err(repo.err("cannot compute the status of the working tree"))?;
        // A file whose stat changed but content did not is not a change.
        if let gix::status::Item::IndexWorktree(change) = &item
            && change.summary().is_none()
        {
            continue;
        }
        let path = item.location().to_str_lossy().into_owned();
        // The pathspec already limits the walk; this guards against a prefix such as `apps`
        // also matching `apps-old/`.
        if prefix.is_empty() || path == prefix || path.starts_with(&format!("{prefix}/")) {
            changed.insert(path);
        }
    }
    Ok(changed.into_iter().collect())
}

/// Makes `dir` a Git repository whose branch `main` has one commit with every file in `dir`
/// (symbolic links and anything under `.git` left out), signed by `author` (`(name, email)`)
/// or [`DEFAULT_AUTHOR`], and an index matching it so the working tree shows as clean.
/// Returns the commit id. Refuses a directory that already is a repository.
pub fn init_with_commit(dir: &Path, message: &str, author: Option<(&str, &str)>) -> Result<String> {
    if dir.join(".git").exists() {
        return Err(GitError::AlreadyARepository {
            path: dir.to_path_buf(),
        });
    }
    let files = list_files(dir)?;
    let wrap = |what| {
        move |source| GitError::Git {
            path: dir.to_path_buf(),
            what,
            source,
        }
    };
    let repo = gix::init(dir).map_err(wrap("cannot create the Git repository"))?;
    let mut editor = repo
        .edit_tree(ObjectId::empty_tree(repo.object_hash()))
        .map_err(wrap("cannot build the tree"))?;
    for (rel, executable) in &files {
        let bytes = std::fs::read(dir.join(rel)).map_err(|source| GitError::Io {
            path: dir.join(rel),
            what: "cannot read",
            source,
        })?;
        let blob = repo
            .write_blob(bytes)
            .map_err(wrap("cannot write a file into the repository"))?;
        let kind = if *executable {
            gix::object::tree::EntryKind::BlobExecutable
        } else {
            gix::object::tree::EntryKind::Blob
        };
        // Tree paths always use `/`, whatever the platform.
        let path = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/");
        editor
            .upsert(path.as_str(), kind, blob)
            .map_err(wrap("cannot build the tree"))?;
    }
    let tree = editor
        .write()
        .map_err(wrap("cannot write the tree"))?
        .detach();
    let (name, email) = author.unwrap_or(DEFAULT_AUTHOR);
    let signature = gix::actor::Signature {
        name: name.into(),
        email: email.into(),
        time: gix::date::Time::now_local_or_utc(),
    };
    let mut time = gix::date::parse::TimeBuf::default();
    let sig = signature.to_ref(&mut time);
    let reference = format!("refs/heads/{DEFAULT_BRANCH}");
    let commit = repo
        .commit_as(
            sig,
            sig,
            reference.as_str(),
            message,
            tree,
            None::<ObjectId>,
        )
        .map_err(wrap("cannot write the commit"))?
        .detach();
    // `gix::init` points HEAD at `init.defaultBranch` from the user's config, which may not be
    // `main`; point it at the branch we wrote.
    set_head(&repo, &reference).map_err(wrap("cannot point HEAD at the new branch"))?;
    // Without an index, `git status` would show every file as deleted and untracked.
    let mut index = repo
        .index_from_tree(&tree)
        .map_err(wrap("cannot build the index"))?;
    index.write(Default::default()).map_err(|e| GitError::Git {
        path: dir.to_path_buf(),
        what: "cannot write the index",
        source: gix::Error::from_error(e),
    })?;
    Ok(commit.to_string())
}

fn set_head(repo: &gix::Repository, reference: &str) -> Result<(), gix::Error> {
    use gix::refs::transaction::{Change, LogChange, PreviousValue, RefEdit};
    let target: gix::refs::FullName = reference.try_into().map_err(gix::Error::from_error)?;
    repo.edit_reference(RefEdit {
        change: Change::Update {
            log: LogChange::default(),
            expected: PreviousValue::Any,
            new: gix::refs::Target::Symbolic(target),
        },
        name: "HEAD".try_into().map_err(gix::Error::from_error)?,
        deref: false,
    })?;
    Ok(())
}

/// Every regular file under `dir` (relative paths, sorted, with whether it is executable),
/// skipping `.git` and symbolic links.
fn list_files(dir: &Path) -> Result<Vec<(PathBuf, bool)>> {
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let here = dir.join(&rel);
        let entries = std::fs::read_dir(&here).map_err(|source| GitError::Io {
            path: here.clone(),
            what: "cannot list",
            source,
        })?;
        for entry in entries {
            let entry = entry.map_err(|source| GitError::Io {
                path: here.clone(),
                what: "cannot list",
                source,
            })?;
            let name = entry.file_name();
            if rel.as_os_str().is_empty() && name == ".git" {
                continue;
            }
            let kind = entry.file_type().map_err(|source| GitError::Io {
                path: entry.path(),
                what: "cannot stat",
                source,
            })?;
            if kind.is_dir() {
                stack.push(rel.join(&name));
            } else if kind.is_file() {
                out.push((rel.join(&name), is_executable(&entry)));
            }
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(unix)]
fn is_executable(entry: &std::fs::DirEntry) -> bool {
    use std::os::unix::fs::PermissionsExt;
    entry
        .metadata()
        .is_ok_and(|m| m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(_: &std::fs::DirEntry) -> bool {
    false
}

#[cfg(test)]
pub(crate) mod tests {
    use std::process::Command;

    use super::*;

    /// A repository built with gix, committing at chosen times so the walk order is certain.
    struct Lab {
        dir: tempfile::TempDir,
        /// Seconds since the epoch of the next commit.
        clock: i64,
    }

    impl Lab {
        fn new() -> Lab {
            let dir = tempfile::tempdir().unwrap();
            gix::init(dir.path()).unwrap();
            Lab {
                dir,
                clock: 1_700_000_000,
            }
        }

        fn path(&self) -> &Path {
            self.dir.path()
        }

        fn write(&self, rel: &str, text: &str) {
            let path = self.path().join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }

        /// Writes `files`, then commits the whole working tree (and matches the index to it).
        fn commit(&mut self, files: &[(&str, &str)], message: &str) -> String {
            for (rel, text) in files {
                self.write(rel, text);
            }
            let repo = gix::open(self.path()).unwrap();
            let mut editor = repo
                .edit_tree(ObjectId::empty_tree(repo.object_hash()))
                .unwrap();
            for (rel, _) in list_files(self.path()).unwrap() {
                let blob = repo
                    .write_blob(std::fs::read(self.path().join(&rel)).unwrap())
                    .unwrap();
                editor
                    .upsert(
                        rel.to_str().unwrap(),
                        gix::object::tree::EntryKind::Blob,
                        blob,
                    )
                    .unwrap();
            }
            let tree = editor.write().unwrap().detach();
            self.clock += 60;
            let signature = gix::actor::Signature {
                name: "Ada".into(),
                email: "ada@example.com".into(),
                time: gix::date::Time {
                    seconds: self.clock,
                    offset: 0,
                },
            };
            let mut buf = gix::date::parse::TimeBuf::default();
            let sig = signature.to_ref(&mut buf);
            let parents: Vec<ObjectId> = repo
                .head_id()
                .ok()
                .map(|id| id.detach())
                .into_iter()
                .collect();
            let id = repo
                .commit_as(sig, sig, "HEAD", message, tree, parents)
                .unwrap()
                .detach();
            let mut index = repo.index_from_tree(&tree).unwrap();
            index.write(Default::default()).unwrap();
            id.to_string()
        }

        fn repo(&self) -> Repo {
            open(self.path()).unwrap()
        }
    }

    /// Runs the `git` CLI in `dir`; `None` when it is not installed (the caller skips).
    pub(crate) fn git(dir: &Path, args: &[&str]) -> Option<String> {
        let out = Command::new("git")
            .args(args)
            .current_dir(dir)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.com")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.com")
            .output()
            .ok()?;
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Some(String::from_utf8(out.stdout).unwrap())
    }

    /// A main checkout with one commit on `main`, made with the git CLI.
    fn cli_repo(dir: &Path) {
        std::fs::create_dir_all(dir).unwrap();
        git(dir, &["init", "-q", "-b", "main"]).expect("git is installed");
        std::fs::write(dir.join("a.yaml"), "a: 1\n").unwrap();
        git(dir, &["add", "-A"]).unwrap();
        git(dir, &["commit", "-q", "-m", "first"]).unwrap();
    }

    #[test]
    fn a_linked_worktree_is_refused_naming_the_main_checkout() {
        let tmp = tempfile::tempdir().unwrap();
        let main = tmp.path().join("main");
        cli_repo(&main);
        let wt = tmp.path().join("wt");
        git(
            &main,
            &[
                "worktree",
                "add",
                "-q",
                "-b",
                "feature",
                wt.to_str().unwrap(),
            ],
        )
        .unwrap();
        // The precondition of the finding: `.git` is a file naming a folder outside the checkout.
        assert!(wt.join(".git").is_file());

        let repo = open(&wt).unwrap();
        let err = check_self_contained(&repo).unwrap_err();
        let text = crate::diag::Report(&err).to_string();
        let main = main.canonicalize().unwrap();
        let wt = wt.canonicalize().unwrap();
        assert!(
            matches!(&err, GitError::GitDirOutside { root, kind, .. }
                if *root == wt && *kind == "a linked Git worktree"),
            "{err:?}"
        );
        for want in [
            format!("{} is a linked Git worktree", wt.display()),
            format!("{}/.git/worktrees/wt", main.display()),
            format!("the main checkout {}", main.display()),
            "`gitops.revision: feature`".to_string(),
            format!("`git clone {} <dir>`", wt.display()),
        ] {
            assert!(text.contains(&want), "{want:?} not in: {text}");
        }
        assert!(!text.contains("chmod"), "{text}");
        // The main checkout, and a subfolder of it, are fine.
        check_self_contained(&open(&main).unwrap()).unwrap();
        std::fs::create_dir_all(main.join("apps")).unwrap();
        check_self_contained(&open(&main.join("apps")).unwrap()).unwrap();
    }

    #[test]
    fn a_submodule_checkout_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let lib = tmp.path().join("lib");
        cli_repo(&lib);
        let sup = tmp.path().join("super");
        cli_repo(&sup);
        git(
            &sup,
            &[
                "-c",
                "protocol.file.allow=always",
                "submodule",
                "add",
                "-q",
                lib.to_str().unwrap(),
                "sub",
            ],
        )
        .unwrap();
        let sub = sup.join("sub");
        assert!(sub.join(".git").is_file());
        let err = check_self_contained(&open(&sub).unwrap()).unwrap_err();
        let text = crate::diag::Report(&err).to_string();
        assert!(
            text.contains("is a Git submodule checkout")
                && text.contains(".git/modules/sub")
                && text.contains("git clone"),
            "{text}"
        );
    }

    fn history() -> (Lab, Vec<String>) {
        let mut lab = Lab::new();
        let c1 = lab.commit(
            &[
                ("apps/a.yaml", "a: 1\n"),
                ("workloads/x/k.yaml", "k: 1\n"),
                ("README.md", "hi\n"),
            ],
            "first: apps and x",
        );
        let c2 = lab.commit(&[("apps/a.yaml", "a: 2\n")], "bump a\n\nbody text");
        let c3 = lab.commit(&[("workloads/y/d.yaml", "d: 1\n")], "add y");
        let c4 = lab.commit(&[("README.md", "hello\n")], "docs");
        (lab, vec![c1, c2, c3, c4])
    }

    #[test]
    fn finds_the_last_commit_touching_each_path() {
        let (lab, c) = history();
        let repo = lab.repo();
        let last = |p: &str| last_commit_touching(&repo, p).unwrap().map(|i| i.hash);
        assert_eq!(last("apps"), Some(c[1].clone()));
        assert_eq!(last("./apps/"), Some(c[1].clone()));
        assert_eq!(last("apps/a.yaml"), Some(c[1].clone()));
        assert_eq!(last("workloads/x"), Some(c[0].clone()));
        assert_eq!(last("workloads"), Some(c[2].clone()));
        assert_eq!(last("workloads/y/d.yaml"), Some(c[2].clone()));
        assert_eq!(last("README.md"), Some(c[3].clone()));
        assert_eq!(last(""), Some(c[3].clone()));
        assert_eq!(last("nope"), None);

        let info = last_commit_touching(&repo, "apps").unwrap().unwrap();
        assert_eq!(info.short, c[1][..7]);
        assert_eq!(info.author, "Ada");
        assert_eq!(info.subject, "bump a");
        assert_eq!(info.time, 1_700_000_000 + 120);
    }

    #[test]
    fn a_deletion_touches_the_path() {
        let (mut lab, _) = history();
        std::fs::remove_file(lab.path().join("workloads/x/k.yaml")).unwrap();
        let gone = lab.commit(&[], "remove x");
        let repo = lab.repo();
        let info = last_commit_touching(&repo, "workloads/x").unwrap().unwrap();
        assert_eq!(info.hash, gone);
    }

    #[test]
    fn resolves_head_branches_tags_and_short_ids() {
        let (lab, c) = history();
        let repo = lab.repo();
        assert_eq!(head(&repo).unwrap(), c[3]);
        assert_eq!(resolve(&repo, "HEAD").unwrap(), c[3]);
        assert_eq!(resolve(&repo, &c[1][..7]).unwrap(), c[1]);
        assert_eq!(resolve(&repo, "HEAD~2").unwrap(), c[1]);
        let branch = repo.gix().head_name().unwrap().unwrap();
        assert_eq!(
            resolve(&repo, branch.shorten().to_str().unwrap()).unwrap(),
            c[3]
        );
        // An annotated tag resolves to the commit it names, not to the tag object.
        let tagger = gix::actor::Signature {
            name: "t".into(),
            email: "t@example.com".into(),
            time: gix::date::Time::new(1_700_000_000, 0),
        };
        let mut buf = gix::date::parse::TimeBuf::default();
        repo.gix()
            .tag(
                "v1",
                ObjectId::from_hex(c[0].as_bytes()).unwrap(),
                gix::object::Kind::Commit,
                Some(tagger.to_ref(&mut buf)),
                "release",
                gix::refs::transaction::PreviousValue::MustNotExist,
            )
            .unwrap();
        assert_eq!(resolve(&repo, "v1").unwrap(), c[0]);
        let err = resolve(&repo, "no-such-branch").unwrap_err();
        assert!(matches!(err, GitError::UnknownRevision { .. }), "{err:?}");
        assert!(
            err.to_string().contains("`no-such-branch` names no commit"),
            "{err}"
        ); // A plain message, never gix's Debug text.
        assert!(
            !err.to_string().contains("Message {") && !err.to_string().contains("couldn't parse"),
            "{err}"
        );
    }

    #[test]
    fn lists_uncommitted_changes_under_a_path() {
        let (lab, _) = history();
        let repo = lab.repo();
        assert_eq!(
            uncommitted_changes(&repo, "apps").unwrap(),
            Vec::<String>::new()
        );
        assert_eq!(
            uncommitted_changes(&repo, "").unwrap(),
            Vec::<String>::new()
        );

        lab.write("apps/a.yaml", "a: 3\n");
        lab.write("apps/new/b.yaml", "b: 1\n");
        lab.write("README.md", "changed outside apps\n");
        lab.write("apps-old/c.yaml", "a sibling with the same prefix\n");
        std::fs::remove_file(lab.path().join("workloads/y/d.yaml")).unwrap();
        assert_eq!(
            uncommitted_changes(&repo, "apps").unwrap(),
            ["apps/a.yaml", "apps/new/b.yaml"]
        );
        assert_eq!(
            uncommitted_changes(&repo, "workloads").unwrap(),
            ["workloads/y/d.yaml"]
        );
        assert_eq!(uncommitted_changes(&repo, ".").unwrap().len(), 5);

        // Staged but not committed, and ignored files: needs the git CLI to stage.
        lab.write(".gitignore", "*.tmp\n");
        lab.write("apps/scratch.tmp", "ignored\n");
        lab.write("apps/staged.yaml", "s: 1\n");
        let Some(_) = git(lab.path(), &["add", "apps/staged.yaml"]) else {
            eprintln!("note: git CLI not found; skipping the staged-file part");
            return;
        };
        // A file staged and then restored in the working tree is still a pending change.
        std::fs::remove_file(lab.path().join("apps/staged.yaml")).unwrap();
        let repo = lab.repo();
        assert_eq!(
            uncommitted_changes(&repo, "apps").unwrap(),
            ["apps/a.yaml", "apps/new/b.yaml", "apps/staged.yaml"]
        );
    }

    #[test]
    fn init_with_commit_writes_one_clean_commit_on_main() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("lab");
        std::fs::create_dir_all(root.join("apps/nested")).unwrap();
        std::fs::write(root.join("playground.yaml"), "x: 1\n").unwrap();
        std::fs::write(root.join("apps/a.yaml"), "a: 1\n").unwrap();
        std::fs::write(root.join("apps/nested/b.yaml"), "b: 1\n").unwrap();

        let id = init_with_commit(&root, "sample lab", None).unwrap();
        let repo = open(&root.join("apps")).unwrap();
        assert_eq!(
            repo.root().canonicalize().unwrap(),
            root.canonicalize().unwrap()
        );
        assert_eq!(head(&repo).unwrap(), id);
        assert_eq!(resolve(&repo, "main").unwrap(), id);
        assert_eq!(
            uncommitted_changes(&repo, "").unwrap(),
            Vec::<String>::new()
        );
        let info = last_commit_touching(&repo, "apps/nested/b.yaml")
            .unwrap()
            .unwrap();
        assert_eq!(info.hash, id);
        assert_eq!(info.author, "playground");
        assert_eq!(info.subject, "sample lab");

        let err = init_with_commit(&root, "again", None).unwrap_err();
        assert!(
            matches!(err, GitError::AlreadyARepository { .. }),
            "{err:?}"
        );

        let Some(log) = git(&root, &["log", "--format=%H %an <%ae> %s"]) else {
            eprintln!("note: git CLI not found; skipping the `git log` checks");
            return;
        };
        assert_eq!(
            log,
            format!("{id} playground <playground@localhost> sample lab\n")
        );
        assert_eq!(git(&root, &["status", "--porcelain"]).unwrap(), "");
        assert_eq!(
            git(&root, &["symbolic-ref", "HEAD"]).unwrap(),
            "refs/heads/main\n"
        );
        assert_eq!(
            git(&root, &["ls-files"]).unwrap(),
            "apps/a.yaml\napps/nested/b.yaml\nplayground.yaml\n"
        );
        git(&root, &["fsck", "--strict"]).unwrap();
    }

    #[test]
    fn init_with_commit_takes_an_author() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("f"), "x").unwrap();
        init_with_commit(dir.path(), "m", Some(("Ada", "ada@example.com"))).unwrap();
        let info = last_commit_touching(&open(dir.path()).unwrap(), "f")
            .unwrap()
            .unwrap();
        assert_eq!(info.author, "Ada");
    }

    #[test]
    fn says_how_to_make_a_repository() {
        let dir = tempfile::tempdir().unwrap();
        let err = open(dir.path()).unwrap_err();
        assert!(matches!(err, GitError::NotARepository { .. }), "{err:?}");
        let text = crate::diag::Report(&err).to_string();
        assert!(text.contains("is not in a Git repository"), "{text}");
        assert!(
            text.contains("playground init") && text.contains("git init"),
            "{text}"
        );

        let err = open(&dir.path().join("missing")).unwrap_err();
        assert!(matches!(err, GitError::Io { .. }), "{err:?}");

        // A repository without commits: open works, head says what to do.
        gix::init(dir.path()).unwrap();
        let repo = open(dir.path()).unwrap();
        let err = head(&repo).unwrap_err();
        assert!(matches!(err, GitError::NoCommits { .. }), "{err:?}");
        assert!(
            crate::diag::Report(&err).to_string().contains("git commit"),
            "{err}"
        );
    }

    #[test]
    fn walks_a_long_history_quickly() {
        let mut lab = Lab::new();
        let first = lab.commit(&[("apps/a.yaml", "a\n")], "apps");
        for i in 0..300 {
            lab.commit(&[("other/f.txt", &format!("{i}\n"))], "churn");
        }
        let repo = lab.repo();
        let started = std::time::Instant::now();
        let info = last_commit_touching(&repo, "apps").unwrap().unwrap();
        assert_eq!(info.hash, first);
        // A bound that catches a walk per commit, loose enough for a debug build on a busy runner.
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
    }
}

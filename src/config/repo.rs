//! `gitops.repo`, parsed once into a [`RepoLocation`]: a repository on this machine (which
//! the nodes mount) or one Argo CD clones. Everything below asks the type, never the string:
//! `validate`, `up`, `doctor` and `restore --from` agree on every form because there is one
//! rule, here.

use std::fmt;
use std::path::{Component, Path, PathBuf};

/// Where the app of apps is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RepoLocation {
    /// A repository on this machine: a path relative to the lab file's folder, an absolute
    /// path, or a `file://` URL. `dir` is resolved against the lab file's folder (without `.`
    /// components, so paths built from it read `lab/apps/x.yaml`, not `lab/./apps/x.yaml`).
    Local { written: String, dir: PathBuf },
    /// A repository Argo CD clones: `https://`, `http://`, `ssh://`, `git://`, or scp-like
    /// (`git@host:org/repo.git`). Never carries a password (see [`RepoError::Password`]).
    Remote { url: String },
}

/// Why a repository location is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum RepoError {
    #[error(
        "the repository URL carries a password; it would end up in the lab's record, in the plan and in the root Application inside the cluster"
    )]
    Password,
    #[error("unsupported URL scheme `{0}://`")]
    Scheme(String),
}

impl RepoError {
    /// What to write instead.
    pub(crate) fn hint(&self) -> &'static str {
        match self {
            RepoError::Password => {
                "leave it out of the URL and name where it comes from: credentials: { usernameEnv: GIT_USER, passwordEnv: GIT_TOKEN }"
            }
            RepoError::Scheme(_) => {
                "use https://, ssh:// or an scp-like git@host:org/repo for a remote repository, or a path (file:// too) for a local one"
            }
        }
    }
}

/// The schemes Argo CD clones from.
const REMOTE_SCHEMES: &[&str] = &["https", "http", "ssh", "git"];

impl RepoLocation {
    /// Classify `written`; a local path is resolved against `base` (the lab file's folder).
    pub(crate) fn parse(written: &str, base: &Path) -> Result<RepoLocation, RepoError> {
        if url_has_password(written) {
            return Err(RepoError::Password);
        }
        if let Some((scheme, rest)) = written.split_once("://") {
            return match scheme {
                "file" => Ok(RepoLocation::local(written, base, rest)),
                s if REMOTE_SCHEMES.contains(&s) => Ok(RepoLocation::Remote {
                    url: written.to_string(),
                }),
                s => Err(RepoError::Scheme(s.to_string())),
            };
        }
        if looks_like_scp(written) {
            return Ok(RepoLocation::Remote {
                url: written.to_string(),
            });
        }
        Ok(RepoLocation::local(written, base, written))
    }

    fn local(written: &str, base: &Path, path: &str) -> RepoLocation {
        let cleaned: PathBuf = Path::new(path)
            .components()
            .filter(|c| !matches!(c, Component::CurDir))
            .collect();
        let dir = if cleaned.as_os_str().is_empty() {
            base.to_path_buf()
        } else {
            base.join(cleaned)
        };
        RepoLocation::Local {
            written: written.to_string(),
            dir,
        }
    }

    /// The location as the lab file wrote it.
    pub(crate) fn as_written(&self) -> &str {
        match self {
            RepoLocation::Local { written, .. } => written,
            RepoLocation::Remote { url } => url,
        }
    }

    /// The local repository's directory (not necessarily its top: `gitops.repo` may name a
    /// folder inside a repository).
    pub(crate) fn local_dir(&self) -> Option<&Path> {
        match self {
            RepoLocation::Local { dir, .. } => Some(dir),
            RepoLocation::Remote { .. } => None,
        }
    }

    /// The URL Argo CD clones, for a remote repository.
    #[cfg(test)]
    pub(crate) fn remote_url(&self) -> Option<&str> {
        match self {
            RepoLocation::Remote { url } => Some(url),
            RepoLocation::Local { .. } => None,
        }
    }

    pub(crate) fn is_remote(&self) -> bool {
        matches!(self, RepoLocation::Remote { .. })
    }
}

impl fmt::Display for RepoLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_written())
    }
}

/// `git@host:org/repo.git`: a user, a host and a path after a colon, no scheme.
fn looks_like_scp(repo: &str) -> bool {
    match repo.split_once(':') {
        Some((left, right)) => {
            left.contains('@') && !left.contains('/') && !right.starts_with("//")
        }
        None => false,
    }
}

/// Whether a URL carries a password (`https://user:token@host/…`). A user name alone
/// (`ssh://git@host/…`) is fine.
pub(crate) fn url_has_password(url: &str) -> bool {
    let Some((_, rest)) = url.split_once("://") else {
        return false;
    };
    let authority = rest.split('/').next().unwrap_or_default();
    authority
        .rsplit_once('@')
        .is_some_and(|(userinfo, _)| userinfo.contains(':'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_rule_for_every_form() {
        let base = Path::new("/labs/demo");
        let local = |w: &str| {
            RepoLocation::parse(w, base)
                .unwrap()
                .local_dir()
                .map(Path::to_path_buf)
        };
        assert_eq!(local("."), Some(PathBuf::from("/labs/demo")));
        assert_eq!(local("./repo"), Some(PathBuf::from("/labs/demo/repo")));
        assert_eq!(
            local("../other"),
            Some(PathBuf::from("/labs/demo/../other"))
        );
        assert_eq!(local("/srv/git/lab"), Some(PathBuf::from("/srv/git/lab")));
        // file:// is local in `validate` and in `up` alike (the review found them apart).
        assert_eq!(
            local("file:///srv/git/lab"),
            Some(PathBuf::from("/srv/git/lab"))
        );
        for remote in [
            "https://github.com/ada/lab.git",
            "http://git.local/lab",
            "ssh://git@github.com/ada/lab.git",
            "git://git.local/lab",
            "git@github.com:ada/lab.git",
        ] {
            let r = RepoLocation::parse(remote, base).unwrap();
            assert_eq!(r.remote_url(), Some(remote), "{remote}");
            assert_eq!(r.to_string(), remote);
        }
        assert_eq!(
            RepoLocation::parse("s3://bucket/lab", base),
            Err(RepoError::Scheme("s3".into()))
        );
        assert_eq!(
            RepoLocation::parse("https://ada:tok@github.com/ada/lab", base),
            Err(RepoError::Password)
        );
        // A Windows-style or odd local name with a colon but no user is a path.
        assert!(
            !RepoLocation::parse("dir:with-colon", base)
                .unwrap()
                .is_remote()
        );
    }
}

//! The lab's own Git repository, which is not Argo CD's business alone: `up` reads its
//! revision, `status` its history, `restore --from` clones it, and `init` writes one.
//!
//! - [`git`]: open, resolve, commit and history, through gix;
//! - [`clone`]: `restore --from`'s staging of a remote or local repository at a revision;
//! - [`sample`]: the lab built into the binary, unpacked into a repository on first use.

pub mod clone;
pub mod git;
pub(crate) mod sample;

/// One commit, as `status` shows it next to an app ("who changed what, and when").
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CommitInfo {
    /// Full hex object id.
    pub hash: String,
    /// Abbreviated id (7 characters).
    pub short: String,
    pub author: String,
    /// Seconds since the Unix epoch.
    pub time: i64,
    /// First line of the message.
    pub subject: String,
}

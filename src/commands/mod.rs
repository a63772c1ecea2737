//! The commands: one file per subcommand, over a shared [`Ctx`] (the [`Ui`], the Docker
//! Engine connected once, the lab a command acts on) and one printer (`output`).
//!
//! Each file holds its subcommand's `Args` (clap derive: its flags, its help text and
//! examples) beside its `run`, which converts them once, at the top, and calls the library
//! below; the rules live with their owners (`cluster`, `argocd`, `source`, `state`, `repo`),
//! not here. What several commands' arguments share is in [`args`]. The top-level parser,
//! [`crate::cli`], wraps each `Args` in one variant and calls its `run`: a new subcommand is
//! one file here, its `pub mod` line, and one variant and one match arm there. The one error
//! type the commands return maps every failure to a message, a hint and an exit status
//! ([`error`]).
//!
//! [`Ui`]: crate::ui::Ui

pub mod argocd;
pub mod args;
pub(crate) mod cache;
pub(crate) mod completions;
mod context;
pub(crate) mod doctor;
pub(crate) mod drop;
pub(crate) mod error;
pub(crate) mod exec;
pub(crate) mod export;
pub(crate) mod image;
pub(crate) mod init;
pub(crate) mod kubeconfig;
pub(crate) mod list;
pub(crate) mod logs;
pub(crate) mod man;
mod output;
pub(crate) mod password;
pub(crate) mod refresh;
pub(crate) mod registry;
pub(crate) mod restore;
pub(crate) mod resume;
pub(crate) mod schema;
pub(crate) mod status;
pub(crate) mod suspend;
pub(crate) mod up;
pub(crate) mod validate;
pub(crate) mod version;

pub(crate) use context::Ctx;

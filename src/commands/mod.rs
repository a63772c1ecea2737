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
pub mod cache;
pub mod completions;
mod context;
pub mod doctor;
pub mod drop;
pub mod error;
pub mod exec;
pub mod export;
pub mod image;
pub mod init;
pub mod kubeconfig;
pub mod list;
pub mod logs;
pub mod man;
mod output;
pub mod password;
pub mod refresh;
pub mod registry;
pub mod restore;
pub mod resume;
pub mod schema;
pub mod status;
pub mod suspend;
pub mod up;
pub mod validate;
pub mod version;

pub use context::Ctx;

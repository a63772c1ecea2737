//! What the user sees while we work: live steps on a terminal, plain lines in a pipe or a
//! CI log, nothing with `-q`. Logs (`-v`, `RUST_LOG`) go through [`Ui::log_writer`] so they
//! print above the bars instead of tearing them. With `up -o json` the steps are JSON events on
//! stdout instead ([`Mode::Json`]), in the envelope every document carries ([`document`]).

pub(crate) mod document;
mod progress;
pub mod redact;
pub(crate) mod table;
pub use progress::*;

//! What several commands' arguments share: the `-o` format and the deadline parser. Each
//! command's own `Args` (clap derive: flags, help, examples) sits in its file, beside its
//! `run`; a lab NAME argument names its completer there too ([`super::completions`]).

use std::time::Duration;

use clap::ValueEnum;

use crate::config::duration::parse_duration;

/// Output format: `table` for people, `json` and `yaml` for scripts (stdout carries only the
/// document; progress and warnings go to stderr).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Table,
    Json,
    Yaml,
}

/// A deadline: a duration above zero. A zero deadline could only ever fail, after creating
/// things it would then roll back, so it is refused as the usage error it is.
pub fn parse_timeout(s: &str) -> Result<Duration, String> {
    match parse_duration(s)? {
        d if d.is_zero() => Err("a timeout must be longer than 0s, e.g. 90s or 5m".into()),
        d => Ok(d),
    }
}

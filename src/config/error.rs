//! [`ConfigError`]: what went wrong in a lab file, and exactly where.
//!
//! Every variant except [`ConfigError::Io`] is a [`Located`] problem (the file, a 1-based line
//! and column, a one-line message and an optional hint), displayed like a compiler diagnostic
//! (see [`crate::diag`]).

use std::path::{Path, PathBuf};

use crate::diag::Located;

/// An error in a lab file. See the module docs for the display format.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read at all.
    #[error("{}: cannot read the lab file: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The text is not well-formed YAML (bad indentation, unclosed quote, tab, …).
    #[error(transparent)]
    Syntax(Located),
    /// Well-formed YAML that does not fit the schema: an unknown or missing key, a value of the
    /// wrong type (a string where a number belongs, …).
    #[error(transparent)]
    Schema(Located),
    /// A value of the right type that is not acceptable: a bad name, port, node filter, count…
    #[error(transparent)]
    Invalid(Located),
    /// Several problems, each at its place, in file order: the file is checked whole, section
    /// by section and list entry by list entry, so one run names them all (as `doctor` does).
    /// Shown one per line, each with its hint under it.
    #[error("{}", show_all(.0))]
    Several(Vec<Located>),
}

fn show_all(problems: &[Located]) -> String {
    use crate::diag::Hinted;
    let mut out = format!("{} problems in the lab file:", problems.len());
    for p in problems {
        out.push_str(&format!("\n{p}"));
        if let Some(hint) = p.hint() {
            out.push_str(&format!("\n  hint: {hint}"));
        }
    }
    out
}

/// Every problem found: none is `Ok`, one is itself, more are [`ConfigError::Several`].
pub(crate) fn gather(problems: Vec<ConfigError>) -> Result<(), ConfigError> {
    let mut all: Vec<ConfigError> = Vec::with_capacity(problems.len());
    for p in problems {
        match p {
            ConfigError::Several(ls) => all.extend(ls.into_iter().map(ConfigError::Invalid)),
            p => all.push(p),
        }
    }
    if all.len() <= 1 {
        return all.pop().map_or(Ok(()), Err);
    }
    // An I/O error has no place; it never comes with others (the file was not read).
    let mut located: Vec<Located> = all.iter().filter_map(|e| e.located().cloned()).collect();
    located.sort_by_key(|l| (l.line, l.column));
    Err(ConfigError::Several(located))
}

impl crate::diag::Hinted for ConfigError {
    fn hint(&self) -> Option<String> {
        match self {
            Self::Syntax(e) => e.hint(),
            Self::Schema(e) => e.hint(),
            Self::Invalid(e) => e.hint(),
            // Each problem's hint is under it, in the message.
            _ => None,
        }
    }
}

impl crate::diag::Classified for ConfigError {
    fn kind(&self) -> crate::diag::Kind {
        crate::diag::Kind::Usage
    }
}

impl ConfigError {
    /// Where and what, for every variant but [`ConfigError::Io`].
    pub(crate) fn located(&self) -> Option<&Located> {
        match self {
            ConfigError::Io { .. } => None,
            ConfigError::Syntax(l) | ConfigError::Schema(l) | ConfigError::Invalid(l) => Some(l),
            ConfigError::Several(ls) => ls.first(),
        }
    }

    /// The file the error is about.
    pub(crate) fn path(&self) -> &Path {
        match self {
            ConfigError::Io { path, .. } => path,
            ConfigError::Syntax(l) | ConfigError::Schema(l) | ConfigError::Invalid(l) => &l.path,
            ConfigError::Several(ls) => ls.first().map_or(Path::new(""), |l| &l.path),
        }
    }

    /// `(line, column)`, both 1-based; `None` for [`ConfigError::Io`].
    pub(crate) fn position(&self) -> Option<(u32, u32)> {
        self.located().map(|l| (l.line, l.column))
    }

    /// The message without location or hint.
    pub(crate) fn message(&self) -> String {
        match self {
            ConfigError::Io { source, .. } => format!("cannot read the lab file: {source}"),
            ConfigError::Syntax(l) | ConfigError::Schema(l) | ConfigError::Invalid(l) => {
                l.message.clone()
            }
            ConfigError::Several(_) => self.to_string(),
        }
    }
}

/// A validation problem not yet tied to a place in the file. The value parsers (ports, node
/// filters, …) return this; the caller knows where the value came from and turns it into a
/// [`ConfigError::Invalid`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    pub(crate) message: String,
    pub(crate) hint: Option<String>,
}

impl Problem {
    pub(super) fn new(message: impl Into<String>) -> Self {
        Problem {
            message: message.into(),
            hint: None,
        }
    }

    pub(super) fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

/// The candidate closest to `word`, if it is close enough to be a plausible typo (edit
/// distance at most a third of the word, rounded up); case is ignored.
pub(crate) fn closest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let word = word.to_ascii_lowercase();
    let limit = word.chars().count().div_ceil(3);
    candidates
        .iter()
        .map(|c| (strsim::levenshtein(&word, &c.to_ascii_lowercase()), *c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_like_a_compiler_diagnostic() {
        let err = ConfigError::Invalid(Located {
            path: "lab/playground.yaml".into(),
            line: 4,
            column: 9,
            message: "invalid lab name `My_Lab`".into(),
            hint: Some("expected a DNS-1123 label".into()),
        });
        assert_eq!(
            err.to_string(),
            "lab/playground.yaml:4:9: invalid lab name `My_Lab`"
        );
        assert_eq!(
            crate::diag::Report(&err).to_string(),
            "lab/playground.yaml:4:9: invalid lab name `My_Lab`\n  hint: expected a DNS-1123 label"
        );
        let err = ConfigError::Schema(Located {
            path: "p.yaml".into(),
            line: 1,
            column: 1,
            message: "m".into(),
            hint: None,
        });
        assert_eq!(err.to_string(), "p.yaml:1:1: m");
        assert_eq!(err.position(), Some((1, 1)));
    }

    #[test]
    fn suggests_close_words_only() {
        let keys = [
            "image",
            "servers",
            "agents",
            "privileged",
            "api",
            "ports",
            "k3sArgs",
            "env",
        ];
        assert_eq!(closest("sever", &keys), Some("servers"));
        assert_eq!(closest("agent", &keys), Some("agents"));
        assert_eq!(closest("k3s_args", &keys), Some("k3sArgs"));
        assert_eq!(closest("Ports", &keys), Some("ports"));
        assert_eq!(closest("volumes", &keys), None);
    }
}

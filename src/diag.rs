//! A problem at a place in a file, displayed as compilers and linters do, so editors and
//! terminals can jump to it:
//!
//! ```text
//! playground.yaml:4:9: invalid lab name `My_Lab`
//!   hint: expected a DNS-1123 label: lowercase letters, digits and '-', starting with a letter, at most 32 characters
//! ```
//!
//! One type and one rendering for the lab file's errors ([`crate::config::ConfigError`]) and
//! for `validate`'s findings in the GitOps tree; [`Hinted`], the hint every layer's error can
//! give apart from its message (the message is its `Display`); and [`Kind`], what kind of
//! failure an error is, which every layer's error says through [`Classified`] and the command
//! layer turns into the exit status.
//! This module sits at the bottom of the crate: it imports nothing from it.

use std::fmt;
use std::path::PathBuf;

/// What kind of failure an error is: what a script can do about it. The exit status follows
/// it (`commands::error`, and the table in docs/output.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Anything else (exit 1).
    Failed,
    /// Bad input: flags, a lab file, a plan that cannot work (exit 2).
    Usage,
    /// The Docker Engine cannot be reached (exit 3).
    Unreachable,
    /// No such lab, node or object (exit 4).
    NotFound,
    /// Something else holds what the lab needs: a host port, a subnet, a name, the lab (exit 5).
    Conflict,
    /// A wait ran past its deadline (exit 6).
    Timeout,
    /// Ctrl-C or SIGTERM (exit 130, or 128 + the signal).
    Interrupted,
    /// A program run for the user ended with this status, which becomes ours.
    Child(i32),
}

/// An error that can say what to do about it. Its `Display` is what went wrong, alone; the
/// hint is data, so the printer (`commands::error`, `main`), `-o json` and `doctor` place it
/// themselves. An error whose message embeds another's returns the inner hint too, so
/// nothing is lost on the way up and nothing is printed twice.
pub(crate) trait Hinted {
    /// What to do, or what was expected; one line.
    fn hint(&self) -> Option<String>;
}

/// An error that can say what [`Kind`] of failure it is, as [`Hinted`] says what to do: each
/// error type knows its own kinds, a wrapper asks the error it wraps, and the command layer
/// asks the error at the top, so a new timeout deep down needs no edit above it. Anything an
/// error does not sort is [`Kind::Failed`].
pub(crate) trait Classified {
    /// What kind of failure this is (the exit status follows it).
    fn kind(&self) -> Kind {
        Kind::Failed
    }
}

/// Both hints, the inner error's first, as two `hint:` lines once rendered (see [`Report`]).
pub(crate) fn join(inner: Option<String>, own: Option<String>) -> Option<String> {
    match (inner, own) {
        (Some(inner), Some(own)) => Some(format!("{inner}\n  hint: {own}")),
        (inner, own) => inner.or(own),
    }
}

/// An error as a person reads it: the message, then, when there is one, an indented `hint:`
/// line.
pub struct Report<'a, E: ?Sized>(pub &'a E);

impl<E: fmt::Display + Hinted + ?Sized> fmt::Display for Report<'_, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        if let Some(hint) = self.0.hint() {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

/// One problem, at a place in a file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct Located {
    pub(crate) path: PathBuf,
    /// 1-based; 0 when the problem is about the whole file (it cannot be read, …).
    pub(crate) line: u32,
    /// 1-based; 0 with `line`.
    pub(crate) column: u32,
    /// What is wrong.
    pub(crate) message: String,
    /// What was expected, or what to do.
    pub(crate) hint: Option<String>,
}

/// `path:line:col: message` (`path: message` for a whole-file problem); the hint is
/// [`Hinted::hint`].
impl fmt::Display for Located {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.path.display(), self.message)?;
        } else {
            write!(
                f,
                "{}:{}:{}: {}",
                self.path.display(),
                self.line,
                self.column,
                self.message
            )?;
        }
        Ok(())
    }
}

impl Hinted for Located {
    fn hint(&self) -> Option<String> {
        self.hint.clone()
    }
}

/// `From` impls that carry each error type through an error that wraps it:
/// `wrap_from!(Outer::Variant via Inner; A, B)` makes `A` and `B` into `Outer::Variant(Inner::from(..))`,
/// so `?` reaches a layer's error through the one below, with that one's message, hint and kind.
macro_rules! wrap_from {
    ($outer:ident :: $variant:ident via $inner:ty; $($ty:ty),* $(,)?) => {$(
        impl From<$ty> for $outer {
            fn from(e: $ty) -> Self {
                $outer::$variant(<$inner>::from(e))
            }
        }
    )*};
}
pub(crate) use wrap_from;

#[cfg(test)]
mod tests {
    use super::*;

    fn located(line: u32, column: u32, hint: Option<&str>) -> Located {
        Located {
            path: "lab/playground.yaml".into(),
            line,
            column,
            message: "invalid lab name `My_Lab`".into(),
            hint: hint.map(str::to_string),
        }
    }

    #[test]
    fn displays_like_a_compiler_diagnostic() {
        let e = located(4, 9, Some("expected a DNS-1123 label"));
        assert_eq!(
            e.to_string(),
            "lab/playground.yaml:4:9: invalid lab name `My_Lab`"
        );
        assert_eq!(
            Report(&e).to_string(),
            "lab/playground.yaml:4:9: invalid lab name `My_Lab`\n  hint: expected a DNS-1123 label"
        );
        assert_eq!(
            located(4, 9, None).to_string(),
            "lab/playground.yaml:4:9: invalid lab name `My_Lab`"
        );
    }

    #[test]
    fn a_whole_file_problem_has_no_position() {
        assert_eq!(
            Report(&located(0, 0, Some("fix it"))).to_string(),
            "lab/playground.yaml: invalid lab name `My_Lab`\n  hint: fix it"
        );
    }

    #[test]
    fn join_keeps_both_hints_inner_first() {
        let s = |t: &str| Some(t.to_string());
        assert_eq!(join(s("a"), s("b")), s("a\n  hint: b"));
        assert_eq!(join(None, s("b")), s("b"));
        assert_eq!(join(s("a"), None), s("a"));
        assert_eq!(join(None, None), None);
    }

    #[test]
    fn sits_at_the_bottom_of_the_crate() {
        // `config` and `validate` import this module; an import the other way would close a
        // circle. (Doc links may name the crate's modules; `use` lines may not.)
        let imports: Vec<&str> = include_str!("diag.rs")
            .lines()
            .filter(|l| l.trim_start().starts_with("use ") && l.contains("crate"))
            .collect();
        assert!(imports.is_empty(), "{imports:?}");
    }
}

//! A problem at a place in a file, displayed as compilers and linters do, so editors and
//! terminals can jump to it:
//!
//! ```text
//! playground.yaml:4:9: invalid lab name `My_Lab`
//!   hint: expected a DNS-1123 label: lowercase letters, digits and '-', starting with a letter, at most 32 characters
//! ```
//!
//! One type and one rendering for the lab file's errors ([`crate::config::ConfigError`]) and
//! for `validate`'s findings in the GitOps tree; and [`Kind`], what kind of failure an error
//! is, which every layer's error can say and the command layer turns into the exit status.
//! This module sits at the bottom of the crate: it imports nothing from it.

use std::fmt;
use std::path::PathBuf;

/// What kind of failure an error is: what a script can do about it. The exit status follows
/// it (`commands::error`, and the README's table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
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

/// One problem, at a place in a file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct Located {
    pub path: PathBuf,
    /// 1-based; 0 when the problem is about the whole file (it cannot be read, …).
    pub line: u32,
    /// 1-based; 0 with `line`.
    pub column: u32,
    /// What is wrong.
    pub message: String,
    /// What was expected, or what to do.
    pub hint: Option<String>,
}

/// `path:line:col: message` (`path: message` for a whole-file problem), then, when there is
/// one, an indented `hint:` line.
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
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

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
        assert_eq!(
            located(4, 9, Some("expected a DNS-1123 label")).to_string(),
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
            located(0, 0, Some("fix it")).to_string(),
            "lab/playground.yaml: invalid lab name `My_Lab`\n  hint: fix it"
        );
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

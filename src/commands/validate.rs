//! `playground validate`: check a lab offline, and report every problem at once.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::args::{Output, OutputArg};
use super::error::{Error, Result};
use crate::lab::DEFAULT_FILE;
use crate::validate::{Report, ValidationError};

use super::Ctx;
use super::output::{self, Kind};

/// Check a lab offline, without Docker.
///
/// Check a lab offline, without Docker: the lab file, every YAML file under gitops.path,
/// Application and AppProject fields, and that every local path they name exists.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// The lab file. Default: ./playground.yaml.
    #[arg(short, long, value_name = "FILE")]
    pub(crate) file: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) output: OutputArg,
}

const EXAMPLES: &str = "Examples:
  playground validate
  playground validate -f labs/dev/playground.yaml -o json";

/// One problem, as `validate -o json` reports it.
#[derive(Serialize)]
struct Problem<'a> {
    file: String,
    line: u32,
    column: u32,
    message: &'a str,
    hint: Option<&'a str>,
}

impl<'a> From<&'a ValidationError> for Problem<'a> {
    fn from(e: &'a ValidationError) -> Self {
        Problem {
            file: e.path.display().to_string(),
            line: e.line,
            column: e.column,
            message: &e.message,
            hint: e.hint.as_deref(),
        }
    }
}

#[derive(Serialize)]
struct Valid<'a> {
    file: String,
    valid: bool,
    files: usize,
    applications: usize,
    projects: usize,
    warnings: Vec<Problem<'a>>,
    skipped: Option<&'a str>,
    notes: &'a [String],
}

/// `validate -o json|yaml` of a valid lab (kind `ValidationReport`, `valid: true`).
impl Kind for Valid<'_> {
    const KIND: &'static str = "ValidationReport";
}

/// `validate -o json|yaml` of a lab with problems (kind `ValidationReport`, `valid: false`).
impl Kind for Invalid<'_> {
    const KIND: &'static str = "ValidationReport";
}

#[derive(Serialize)]
struct Invalid<'a> {
    file: String,
    valid: bool,
    errors: Vec<Problem<'a>>,
}

pub(crate) fn run(ctx: &Ctx<'_>, args: Args) -> Result<()> {
    let Args {
        file,
        output: OutputArg { output: out },
    } = args;
    let path = file.unwrap_or_else(|| PathBuf::from(DEFAULT_FILE));
    match crate::ops::validate::validate(&path) {
        Ok(report) => valid(ctx, &path, &report, out),
        Err(errors) => {
            if out == Output::Table {
                for e in &errors {
                    eprintln!("{}", crate::diag::Report(e));
                }
            } else {
                let doc = Invalid {
                    file: path.display().to_string(),
                    valid: false,
                    errors: errors.iter().map(Problem::from).collect(),
                };
                output::emit(out, &doc, String::new)?;
            }
            Err(Error::Invalid {
                problems: errors.len(),
                path,
            })
        }
    }
}

fn valid(ctx: &Ctx<'_>, path: &Path, report: &Report, out: Output) -> Result<()> {
    if out == Output::Table {
        for w in &report.warnings {
            ctx.ui.warn(&crate::diag::Report(w).to_string());
        }
        if let Some(why) = &report.skipped {
            ctx.ui.line(&format!("note: {why}"));
        }
        for note in &report.notes {
            ctx.ui.line(&format!("note: {note}"));
        }
    }
    let doc = Valid {
        file: path.display().to_string(),
        valid: true,
        files: report.files.len(),
        applications: report.applications.len(),
        projects: report.projects.len(),
        warnings: report.warnings.iter().map(Problem::from).collect(),
        skipped: report.skipped.as_deref(),
        notes: &report.notes,
    };
    output::emit(out, &doc, || {
        format!(
            "{}: valid ({} file(s), {} Application(s), {} AppProject(s))\n",
            path.display(),
            report.files.len(),
            report.applications.len(),
            report.projects.len()
        )
    })
}

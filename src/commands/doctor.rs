//! `playground doctor`: every host check; the report on stdout, exit 1 when a check failed.

use std::path::PathBuf;

use super::args::OutputArg;
use super::error::{Error, Result};
use crate::config;
use crate::lab::DEFAULT_FILE;

use super::output::{self, Kind};

/// Check that this host can run a lab.
///
/// Check that this host can run a lab: the Docker endpoint (and where it came from), the
/// engine, cgroups, userns-remap and Enhanced Container Isolation, privileged containers,
/// free disk against kubelet's eviction thresholds, the lab's ports, and whether Argo CD
/// (uid 999) can read the lab's repository. Exits 1 when a check fails.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// The lab file. Default: ./playground.yaml if present (without one, the lab's ports
    /// and repository are not checked).
    #[arg(short, long, value_name = "FILE")]
    pub(crate) file: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) output: OutputArg,
}

const EXAMPLES: &str = "Examples:
  playground doctor
  playground doctor -f playground.yaml -o json";

/// `doctor -o json|yaml`.
impl Kind for crate::doctor::Report {
    const KIND: &'static str = "DoctorReport";
}

pub(crate) async fn run(args: Args) -> Result<()> {
    let Args {
        file,
        output: OutputArg { output: out },
    } = args;
    let path = file.unwrap_or_else(|| PathBuf::from(DEFAULT_FILE));
    let lab = if path.exists() {
        Some(config::load(&path)?)
    } else {
        None
    };
    let report = crate::doctor::doctor(lab.as_ref()).await;
    output::emit(out, &report, || {
        report.render(crate::doctor::fancy_output())
    })?;
    if report.ok {
        Ok(())
    } else {
        Err(Error::HostChecks {
            failures: report.failures,
        })
    }
}

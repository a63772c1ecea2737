//! `playground doctor`: every host check; the report on stdout, exit 1 when a check failed.

use std::path::PathBuf;

use super::error::{Error, Result};
use crate::cli::Output;
use crate::config;
use crate::lab::DEFAULT_FILE;

use super::output::{self, Kind};

/// `doctor -o json|yaml`.
impl Kind for crate::doctor::Report {
    const KIND: &'static str = "DoctorReport";
}

pub async fn run(file: Option<PathBuf>, out: Output) -> Result<()> {
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

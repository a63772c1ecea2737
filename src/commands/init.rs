//! `playground init`: write a new lab repository (the sample lab, committed), its lab file
//! converted from a k3d config with `--from-k3d`.

use std::path::{Path, PathBuf};

use super::error::Result;
use crate::config::k3d::{self, K3dError};
use crate::repo::sample::{self, LAB_FILE};

use super::Ctx;

/// Write a new lab repository.
///
/// Write a new lab repository: a playground.yaml and an apps/ example like the sample lab,
/// as a Git repo with one commit. `playground up` there works at once.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// Where (default: the current directory, which must be empty).
    pub(crate) dir: Option<PathBuf>,
    /// Convert a k3d config (`kind: Simple`, k3d.io/v1alpha4 or v1alpha5) into the lab file.
    ///
    /// Servers, agents, image, kubeAPI.hostIP/hostPort, ports, env, k3s extraArgs (one
    /// entry per node filter), registries.create.hostPort and an embedded registries.config
    /// (its secrets as ${env:NAME}) are converted; every other key is listed, on stderr and
    /// as comments at the top of the new playground.yaml.
    /// The rest of the sample lab (apps/, gitops:) comes along. A directory that already
    /// holds a lab is refused.
    ///
    /// Example: `playground init --from-k3d k3d-config.yml mylab`
    #[arg(long, value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub(crate) from_k3d: Option<PathBuf>,
}

const EXAMPLES: &str = "Examples:
  playground init mylab
  playground init --from-k3d k3d-config.yml mylab";

pub(crate) fn run(ctx: &Ctx<'_>, args: Args) -> Result<()> {
    let Args { dir, from_k3d } = args;
    let dir = dir.unwrap_or_else(|| PathBuf::from("."));
    if let Some(file) = from_k3d {
        return from_k3d_file(ctx, &dir, &file);
    }
    // Named after its folder, so two labs made with `init` do not collide.
    let name = dir_lab_name(&dir);
    let text = sample_lab_file().replacen(
        &format!("name: {}", crate::config::DEFAULT_LAB_NAME),
        &format!("name: {name}"),
        1,
    );
    let written = match sample::init_with_lab_file(&dir, &text, sample::COMMIT_MESSAGE) {
        // Already a lab there: `init` leaves it as it is, as it always did.
        Err(sample::SampleError::AlreadyALab { .. }) => sample::init(&dir)?,
        other => other?,
    };
    if written.created {
        ctx.ui.line(&format!(
            "wrote lab {name} in {} (commit {}); next: `{}`",
            written.dir.display(),
            short(&written.commit),
            next_step(&dir)
        ));
    } else {
        ctx.ui.line(&format!(
            "{} already holds a lab; left as it is",
            written.dir.display()
        ));
    }
    Ok(())
}

/// `--from-k3d FILE`: convert, write, then say what was not converted and what changed.
fn from_k3d_file(ctx: &Ctx<'_>, dir: &Path, file: &Path) -> Result<()> {
    let text = std::fs::read_to_string(file).map_err(|source| K3dError::Io {
        path: file.to_path_buf(),
        source,
    })?;
    let converted = k3d::convert(&text, file, sample_lab_file())?;
    let name = file.file_name().map_or_else(
        || file.display().to_string(),
        |n| n.to_string_lossy().into(),
    );
    let written = sample::init_with_lab_file(
        dir,
        &converted.yaml,
        &format!("playground lab converted from k3d's {name}"),
    )?;
    for u in &converted.unmapped {
        ctx.ui.warn(&format!(
            "{}:{}:{}: {}: not converted: {}",
            file.display(),
            u.line,
            u.column,
            u.path,
            u.why
        ));
    }
    for note in &converted.notes {
        ctx.ui.line(&format!("note: {note}"));
    }
    let unmapped = match converted.unmapped.len() {
        0 => String::new(),
        n => format!(" {n} key(s) not converted, listed above and at the top of {LAB_FILE};"),
    };
    ctx.ui.line(&format!(
        "wrote lab {} in {} from {} ({}, commit {});{unmapped} next: `{}`",
        converted.name,
        written.dir.display(),
        file.display(),
        converted.api_version,
        short(&written.commit),
        next_step(dir)
    ));
    Ok(())
}

/// The lab name `init DIR` gives: DIR's own name (the current folder's for `.`), made a
/// valid lab name.
fn dir_lab_name(dir: &Path) -> crate::config::LabName {
    let full = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let base = full
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    k3d::lab_name(&base)
}

fn sample_lab_file() -> &'static str {
    sample::FILES
        .iter()
        .find(|(path, _)| *path == LAB_FILE)
        .map(|(_, text)| *text)
        .expect("the sample has a lab file")
}

fn short(commit: &str) -> &str {
    &commit[..7.min(commit.len())]
}

/// What to run next: `playground up`, from the lab's folder when that is not this one.
fn next_step(dir: &Path) -> String {
    match (dir.canonicalize(), Path::new(".").canonicalize()) {
        (Ok(d), Ok(here)) if d == here => "playground up".to_string(),
        _ => format!("cd {} && playground up", dir.display()),
    }
}

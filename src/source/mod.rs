//! Where the lab `up` and `restore` bring up comes from: [`LabSource`] is the parsed lab with
//! what its state record keeps of its provenance (the file's text, the flags, the repository
//! it was cloned from).
//!
//! - `up` reads it from a file ([`LabSource::load`]): `-f`, else `./playground.yaml`, else the
//!   sample lab built into the binary, written once as a Git repository;
//! - `restore` reads it from the lab's record or from its repository ([`restore`]).
//!
//! Both then go through the same `up` path, so there is no second "recover" code path.

pub(crate) mod restore;

use std::path::{Path, PathBuf};

use crate::config::{self, ConfigError, Lab, LabName, OverrideError, Overrides};
use crate::lab::DEFAULT_FILE;
use crate::repo::sample::{self, SampleError};

/// Why a lab could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Override(#[from] OverrideError),
    #[error(transparent)]
    Sample(#[from] SampleError),
    #[error("{}: {source}", path.display())]
    Path {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl crate::diag::Hinted for SourceError {
    fn hint(&self) -> Option<String> {
        match self {
            Self::Config(e) => e.hint(),
            Self::Sample(e) => e.hint(),
            _ => None,
        }
    }
}

/// A lab that cannot be loaded is bad input, whatever the reason.
impl crate::diag::Classified for SourceError {
    fn kind(&self) -> crate::diag::Kind {
        crate::diag::Kind::Usage
    }
}

/// A lab to bring up, with what its state record keeps of where it came from.
#[derive(Debug)]
pub(crate) struct LabSource {
    pub(crate) lab: Lab,
    /// The lab file's text, as parsed.
    pub(crate) text: String,
    pub(crate) overrides: Overrides,
    /// The repository `restore --from` cloned the lab from.
    pub(crate) origin: Option<String>,
}

/// A node made without a value its lab file takes from this shell (`${env:NAME}` in
/// `cluster.env` or a registry credential) would be wrong: refused before anything is made,
/// where the file names it. `validate` only warns.
pub(crate) fn refuse_unset_host_values(lab: &Lab) -> Result<(), ConfigError> {
    match lab.cluster.host_values().find_map(|h| h.unset.clone()) {
        Some(unset) => Err(ConfigError::Invalid(unset)),
        None => Ok(()),
    }
}

impl LabSource {
    /// The lab `up` brings up: `file`, else `./playground.yaml`, else the sample lab; then the
    /// flags, each validated as the file's value would be.
    pub(crate) fn load(
        file: Option<&Path>,
        overrides: Overrides,
    ) -> Result<LabSource, SourceError> {
        let path = match file {
            Some(f) => f.to_path_buf(),
            None if Path::new(DEFAULT_FILE).exists() => PathBuf::from(DEFAULT_FILE),
            None => sample::write_sample(&sample::default_dir())?.lab_file,
        };
        let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Io {
            path: path.clone(),
            source,
        })?;
        let mut lab = config::parse(&text, &path)?;
        // A node made without a value its lab file takes from this shell would be wrong;
        // refuse before anything is made, where the file names it.
        refuse_unset_host_values(&lab)?;
        // Errors above name the path as typed; the record needs one that works from anywhere.
        lab.source = Some(
            std::path::absolute(&path).map_err(|source| SourceError::Path {
                path: path.clone(),
                source,
            })?,
        );
        overrides.apply(&mut lab)?;
        Ok(LabSource {
            lab,
            text,
            overrides,
            origin: None,
        })
    }
}

/// The lab name in `./playground.yaml`, when there is one: commands that take an optional
/// NAME default to it.
pub(crate) fn name_in_default_file() -> Result<Option<LabName>, ConfigError> {
    let path = Path::new(DEFAULT_FILE);
    if !path.exists() {
        return Ok(None);
    }
    config::load(path).map(|lab| Some(lab.name))
}

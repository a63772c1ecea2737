//! The use cases' errors, taken in as the command's.

use super::Error;

/// A use case's error is the command's, variant for variant: the same message, hint and status.
impl From<crate::ops::OpsError> for Error {
    fn from(e: crate::ops::OpsError) -> Self {
        use crate::ops::OpsError as O;
        match e {
            O::Cluster(e) => Error::Cluster(e),
            O::Engine(e) => Error::Engine(e),
            O::Api(e) => Error::Api(e),
            O::Hub(e) => Error::Hub(e),
            O::KubeconfigFile(e) => Error::KubeconfigFile(e),
            O::Record(e) => Error::Record(e),
            O::Kept(e) => Error::Kept(e),
            O::KeptExport { name, what, source } => Error::KeptExport { name, what, source },
            O::NoApiAddress(name) => Error::NoApiAddress(name),
            O::Restore(e) => Error::Restore(e),
        }
    }
}

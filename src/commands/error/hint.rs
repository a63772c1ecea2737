//! Each error's hint: asked of the error a variant wraps.

use super::*;

impl crate::diag::Hinted for Error {
    fn hint(&self) -> Option<String> {
        match self {
            Self::Config(e) => e.hint(),
            Self::Source(e) => e.hint(),
            Self::Usage(e) => e.hint(),
            Self::Name(e) => e.hint(),
            Self::Cluster(e) => e.hint(),
            Self::Restore(e) => e.hint(),
            Self::Engine(e) => e.hint(),
            Self::Bootstrap(e) => e.hint(),
            Self::ArgocdCli(e) => e.hint(),
            Self::Access(e) => e.hint(),
            Self::Refresh(e) => e.hint(),
            Self::Ops(e) => e.hint(),
            Self::Sample(e) => e.hint(),
            Self::K3d(e) => e.hint(),
            Self::Lock(e) => e.hint(),
            Self::Preflight(e) => e.hint(),
            Self::NoLabs(..) => Some(
                "`playground init` writes a lab file in this folder, and `playground up` makes the lab from it"
                    .to_string(),
            ),
            _ => None,
        }
    }
}

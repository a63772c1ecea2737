//! `up`'s errors as the command's: the same message, hint and exit status as before the use
//! case moved into [`crate::ops::up`].

use super::super::error::{Error, Usage};
use crate::ops::up::UpError;

pub(super) fn from(e: UpError) -> Error {
    match e {
        UpError::Ops(e) => e.into(),
        UpError::Bootstrap(e) => Error::Bootstrap(e),
        UpError::Preflight(e) => e.into(),
        UpError::Lock(e) => e.into(),
        UpError::KubeconfigRead(e) => e.into(),
        UpError::Refresh(e) => e.into(),
        UpError::Interrupted => Error::Interrupted,
        UpError::Declined => Error::Declined("up"),
        UpError::Terminal(e) => Error::Terminal(e),
        UpError::WatchNeedsLocalRepo => Usage::WatchNeedsLocalRepo.into(),
        UpError::ContextWithClusterOnly => Usage::ContextWithClusterOnly.into(),
        UpError::ContextWithLocalRepo(c) => Usage::ContextWithLocalRepo(c).into(),
        UpError::NoSuchContext(c) => Usage::NoSuchContext(c).into(),
        UpError::ArgoCdUnconfirmed { lab, diff } => Usage::ArgoCdUnconfirmed { lab, diff }.into(),
    }
}

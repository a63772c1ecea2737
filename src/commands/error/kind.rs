//! Each error's kind, asked of the error a variant wraps, and the exit status it makes.

use super::*;

/// Sorted by what can be done about it: each wrapped error says its own kind (see
/// [`Classified`]); only the command layer's own errors are sorted here.
impl Classified for Error {
    fn kind(&self) -> Kind {
        match self {
            Error::Config(e) => e.kind(),
            Error::Source(e) => e.kind(),
            Error::Usage(e) => e.kind(),
            Error::Name(e) => e.kind(),
            Error::Cluster(e) => Classified::kind(e),
            Error::Restore(e) => e.kind(),
            Error::Engine(e) => e.kind(),
            Error::Api(e) => e.kind(),
            Error::Preflight(e) => e.kind(),
            Error::Bootstrap(e) => e.kind(),
            Error::ArgocdCli(e) => e.kind(),
            Error::Access(e) => e.kind(),
            Error::Refresh(e) => e.kind(),
            Error::KubeconfigFile(e) => e.kind(),
            Error::Ops(e) => e.kind(),
            Error::Sample(e) => e.kind(),
            Error::K3d(e) => e.kind(),
            Error::Lock(e) => e.kind(),
            Error::Invalid { .. } | Error::SeveralLabs(_) => Kind::Usage,
            Error::NoLabs(_) => Kind::NotFound,
            Error::Interrupted => Kind::Interrupted,
            Error::ChildExit(code) => Kind::Child(*code),
            // Its own failures.
            Error::KubeconfigRead(_)
            | Error::HostChecks { .. }
            | Error::Json(_)
            | Error::Yaml(_)
            | Error::Terminal(_)
            | Error::Io { .. }
            | Error::Declined(_) => Kind::Failed,
        }
    }
}

macro_rules! boxed_from {
    ($($variant:ident($ty:ty)),*) => {$(
        impl From<$ty> for Error {
            fn from(e: $ty) -> Self {
                Error::$variant(Box::new(e))
            }
        }
    )*};
}

boxed_from!(
    Bootstrap(BootstrapError),
    ArgocdCli(ArgoCliError),
    Restore(RestoreError)
);

// Errors a command meets only through a use case are the use case's: `?` on one makes an
// [`Error::Ops`], with the use case's message, hint and kind.
crate::diag::wrap_from!(Error::Ops via crate::ops::OpsError;
    crate::state::kept::KeptError,
    crate::state::record::RecordError,
    crate::argocd::hub::HubError
);

impl Error {
    /// The process exit status (see the module docs).
    pub fn exit_code(&self) -> i32 {
        match self.kind() {
            Kind::Failed => 1,
            Kind::Usage => 2,
            Kind::Unreachable => 3,
            Kind::NotFound => 4,
            Kind::Conflict => 5,
            Kind::Timeout => 6,
            Kind::Interrupted => crate::interrupt::exit_code(),
            Kind::Child(code) => code,
        }
    }

    /// Whether the binary should print this error (a child that failed has spoken already).
    pub fn is_reported(&self) -> bool {
        !matches!(self, Error::ChildExit(_))
    }

    /// The message and its hint, apart: the message is the error's `Display`, the hint is
    /// [`Hinted::hint`], delegated down to the error that has one.
    pub fn message_and_hint(&self) -> (String, Option<String>) {
        (self.to_string(), self.hint())
    }
}

//! The message, hint and exit status of representative errors of every type.

use super::*;
use crate::argocd::access::AccessError;
use crate::argocd::apps::{AppsError, Failures};
use crate::argocd::install::InstallError;
use crate::argocd::manifest::ManifestError;
use crate::argocd::workloads::WorkloadsError;
use crate::cluster::readiness::NodeWaitError;
use crate::diag::Hinted;
use crate::diag::Located;
use crate::docker::endpoint::EndpointError;
use crate::repo::sample::SampleError;
use crate::source::SourceError;
use crate::state::kept::KeptError;
use crate::state::record::RecordError;

mod codes;
mod codes_failed;
mod hints;
mod kinds;

/// An I/O error, for the variants that wrap one.
fn io() -> std::io::Error {
    std::io::Error::other("boom")
}

fn located() -> Located {
    Located {
        path: "p.yaml".into(),
        line: 1,
        column: 1,
        message: "m".into(),
        hint: None,
    }
}

fn api_not_ready() -> ApiError {
    ApiError::NotReady {
        url: "https://127.0.0.1:6550".into(),
        secs: 1,
        last: crate::kube::api::NotYet::Node("n".into()),
    }
}

fn engine_api() -> EngineError {
    EngineError::Api {
        what: "create container x".into(),
        source: "refused".into(),
    }
}

fn endpoint() -> EngineError {
    EngineError::Endpoint(Box::new(EndpointError::NoDockerEndpoint {
        context: "c".into(),
        meta: "/m".into(),
    }))
}

fn workloads() -> WorkloadsError {
    WorkloadsError::NotAvailable {
        secs: 1,
        total: 1,
        namespace: "argocd".into(),
        pending: Vec::new(),
    }
}

fn no_password() -> AccessError {
    AccessError::NoPassword {
        namespace: "argocd".into(),
        secs: 1,
    }
}

fn boot(e: BootstrapError) -> Error {
    Error::from(e)
}

/// Each error exits with its status.
fn assert_codes(cases: Vec<(Error, i32)>) {
    for (e, code) in cases {
        assert_eq!(e.exit_code(), code, "{e:?}");
    }
}

#[test]
fn with_no_lab_at_all_the_error_says_so_and_how_to_make_one() {
    let none = Error::NoLabs(None);
    assert_eq!(none.to_string(), "there are no labs yet");
    let hint = none.hint().unwrap();
    assert!(
        hint.contains("`playground init`") && hint.contains("`playground up`"),
        "{hint}"
    );
    assert_eq!(
        Error::NoLabs(Some("nosuch".into())).to_string(),
        "no lab named nosuch: there are no labs yet"
    );
    assert_eq!(none.kind(), Kind::NotFound);
}

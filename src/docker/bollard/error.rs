//! bollard's errors in our words ([`EngineError`], [`Refusal`]): the only place that reads
//! them. A non-2xx answer of the daemon becomes a [`Refusal`] of a [`RefusalKind`]; anything
//! else (the transport, a timeout, a body that would not parse) stays the cause of an
//! [`EngineError::Api`], shown and never matched on outside this folder.

use ::bollard::errors::Error as BollardError;

use crate::docker::{Cause, Endpoint, EngineError, PullFailure, Refusal, RefusalKind};

/// Whether the daemon answered 404 (the adapter's own "not found is not an error" cases).
pub(super) fn is_not_found(e: &BollardError) -> bool {
    matches!(
        e,
        BollardError::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
}

/// The daemon's answer as our refusal. The kind comes from the HTTP status moby maps its
/// error class to (`api/server/httpstatus`), but a subnet overlap is known by libnetwork's
/// words, `ipamapi.ErrPoolOverlap` ("Pool overlaps with other one on this address space",
/// moby `libnetwork/ipamapi/contract.go`): every engine version sends them, while the status
/// is 403 on newer ones and 500 on older.
pub(super) fn refusal(status: u16, message: String) -> Refusal {
    let kind = if message.contains("Pool overlaps") {
        RefusalKind::SubnetOverlap
    } else {
        match status {
            404 => RefusalKind::NotFound,
            409 => RefusalKind::Conflict,
            403 => RefusalKind::Forbidden,
            400 => RefusalKind::Invalid,
            _ => RefusalKind::Other,
        }
    };
    Refusal {
        kind,
        status,
        message,
    }
}

/// `what` failed with `e`: a refusal when the daemon answered, else the cause as it is. Takes
/// any error, as the calls of this folder mix bollard's with I/O and tar errors of their own.
pub(super) fn failed(what: impl Into<String>, e: impl Into<Cause>) -> EngineError {
    match cause(e.into()) {
        Ok(refusal) => EngineError::refused(what, refusal),
        Err(source) => EngineError::api(what, source),
    }
}

/// Why a pull's progress stream broke off.
pub(super) fn pull_failure(e: BollardError) -> PullFailure {
    match cause(Box::new(e)) {
        Ok(refusal) => PullFailure::Refused(refusal),
        Err(source) => PullFailure::Engine(source),
    }
}

/// The engine at `endpoint` could not be reached.
pub(super) fn unreachable(endpoint: &Endpoint, e: BollardError) -> EngineError {
    EngineError::Unreachable {
        endpoint: Box::new(endpoint.clone()),
        source: Box::new(e),
    }
}

fn cause(e: Cause) -> Result<Refusal, Cause> {
    match e.downcast::<BollardError>() {
        Ok(e) => match *e {
            BollardError::DockerResponseServerError {
                status_code,
                message,
            } => Ok(refusal(status_code, message)),
            e => Err(Box::new(e)),
        },
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status_code: u16, message: &str) -> EngineError {
        failed(
            "create network pg-lab",
            BollardError::DockerResponseServerError {
                status_code,
                message: message.to_string(),
            },
        )
    }

    #[test]
    fn a_subnet_overlap_is_known_by_the_daemons_answer_not_by_text_of_ours() {
        let overlap = answer(403, "Pool overlaps with other one on this address space");
        assert!(overlap.is_subnet_overlap());
        assert_eq!(overlap.daemon_answer().map(|(s, _)| s), Some(403));
        // Older engines answer 500 with the same words.
        assert!(
            answer(500, "Pool overlaps with other one on this address space").is_subnet_overlap()
        );
        // The message reads as bollard's did.
        assert_eq!(
            overlap.to_string(),
            "create network pg-lab: Docker responded with status code 403: Pool overlaps with other one on this address space"
        );
        assert!(!answer(409, "network with name pg-lab already exists").is_subnet_overlap());
        // Our own words that mention an overlap are no daemon answer.
        let ours = failed("create network pg-lab", "Pool overlaps (not really)");
        assert!(!ours.is_subnet_overlap());
        assert_eq!(ours.daemon_answer(), None);
    }

    #[test]
    fn the_daemons_status_gives_the_kind_and_other_errors_stay_causes() {
        let kind = |status| answer(status, "x").refusal().map(|r| r.kind);
        assert_eq!(kind(404), Some(RefusalKind::NotFound));
        assert_eq!(kind(409), Some(RefusalKind::Conflict));
        assert_eq!(kind(403), Some(RefusalKind::Forbidden));
        assert_eq!(kind(400), Some(RefusalKind::Invalid));
        assert_eq!(kind(500), Some(RefusalKind::Other));
        let timeout = failed("write /etc/x into node", BollardError::RequestTimeoutError);
        assert!(
            matches!(&timeout, EngineError::Api { source, .. } if source.is::<BollardError>()),
            "{timeout:?}"
        );
        let io = failed("copy", std::io::Error::other("disk full"));
        assert_eq!(io.to_string(), "copy: disk full");
    }
}

//! Test support shared by the integration tests in `tests/it`.

/// The Kubernetes API double (also built as the `kube-double` example binary).
#[path = "double/api/mod.rs"]
pub mod double;

/// Docker, the stand-in node image, and the `playground` binary with an isolated HOME.
pub mod harness;

/// What real k3s requires of its container, as the stand-in node enforces it (also part of
/// the `kube-double` binary); the harness fails tests whose nodes complain.
#[path = "double/strict.rs"]
#[allow(dead_code)]
pub mod strict;

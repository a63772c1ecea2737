//! Test support shared by the integration tests in `tests/it`.

/// The Kubernetes API double (also built as the `kube-double` example binary).
#[path = "double/api/mod.rs"]
pub mod double;

/// Docker, the stand-in node image, and the `playground` binary with an isolated HOME.
pub mod harness;

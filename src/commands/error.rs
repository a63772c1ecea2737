//! The one place errors become what a person reads and what a script checks: the message,
//! its hint, and the exit status.
//!
//! Each layer has its own error type (`ConfigError`, `ClusterError`, `BootstrapError`, …) and
//! this one wraps them as they are, with `#[from]`, so nothing is turned into a string on the
//! way up. Each type says its own [`Kind`] (what a script can do about it) through
//! [`Classified`], and [`Error`] asks the one it wraps; the exit status follows the kind (see
//! the table in docs/output.md):
//!
//! | kind | status |
//! |---|---|
//! | [`Kind::Failed`] | 1 |
//! | [`Kind::Usage`]: bad flags, a lab file that does not validate, a plan that cannot work | 2 |
//! | [`Kind::Unreachable`]: no Docker Engine | 3 |
//! | [`Kind::NotFound`]: no such lab | 4 |
//! | [`Kind::Conflict`]: a port, a subnet or the lab is taken | 5 |
//! | [`Kind::Timeout`]: a wait ran out of time | 6 |
//! | [`Kind::Interrupted`]: Ctrl-C (130) or SIGTERM (143) | 130, 143 |
//! | [`Kind::Child`]: `playground argocd`/`exec` pass the program's own status on | N |

use std::path::PathBuf;

use crate::argocd::access::AccessError;
use crate::argocd::bootstrap::BootstrapError;
use crate::argocd::cli::ArgoCliError;
use crate::argocd::refresh::RefreshError;
use crate::cluster::ClusterError;
use crate::config::ConfigError;
use crate::docker::EngineError;
use crate::doctor::PreflightError;
use crate::kube::api::ApiError;
use crate::kube::kubeconfig::KubeconfigError;
use crate::repo::sample::SampleError;
use crate::source::SourceError;
use crate::source::restore::RestoreError;
use crate::state::kept::KeptError;
use crate::state::lock::LockError;
use crate::state::record::RecordError;

/// Everything that can end a command.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error(transparent)]
    Usage(#[from] Usage),
    /// NAME on the command line is not a lab name.
    #[error(transparent)]
    Name(#[from] crate::config::NameError),
    /// `validate` found problems (each printed already).
    #[error("{problems} problem(s) in the lab at {}", path.display())]
    Invalid { problems: usize, path: PathBuf },
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    #[error(transparent)]
    Restore(Box<RestoreError>),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error(transparent)]
    Preflight(#[from] PreflightError),
    // The GitOps errors are boxed: they are large and rare, and `Error` travels in every
    // `Result` of the commands.
    #[error(transparent)]
    Bootstrap(Box<BootstrapError>),
    #[error(transparent)]
    ArgocdCli(Box<ArgoCliError>),
    #[error(transparent)]
    Access(#[from] AccessError),
    #[error(transparent)]
    Refresh(#[from] RefreshError),
    /// Registering a cluster in a hub's Argo CD (`argocd.clusters`).
    #[error(transparent)]
    Hub(Box<crate::argocd::hub::HubError>),
    #[error("kubeconfig: {0}")]
    KubeconfigFile(#[from] KubeconfigError),
    #[error("cannot read the kubeconfig: {0}")]
    KubeconfigRead(#[from] crate::kube::KubeconfigReadError),
    /// `drop`/`suspend` could not export what the lab keeps, and changed nothing.
    #[error("cannot export the kept Secrets of lab {name}: {source}\n  nothing was {what}")]
    KeptExport {
        name: String,
        what: &'static str,
        #[source]
        source: Box<KeptError>,
    },
    #[error(transparent)]
    Kept(#[from] KeptError),
    #[error(transparent)]
    Record(#[from] RecordError),
    #[error(transparent)]
    Sample(#[from] SampleError),
    /// `init --from-k3d`: the k3d config cannot be converted.
    #[error(transparent)]
    K3d(#[from] crate::config::k3d::K3dError),
    #[error(transparent)]
    Lock(#[from] LockError),
    /// `doctor` found failing checks (the report says which).
    #[error("{failures} host check(s) failed")]
    HostChecks { failures: usize },
    #[error("cannot write the JSON document: {0}")]
    Json(#[from] serde_json::Error),
    #[error("cannot write the YAML document: {0}")]
    Yaml(#[from] serde_saphyr::SerializeError),
    #[error("cannot read the answer from the terminal: {0}")]
    Terminal(#[source] std::io::Error),
    /// A file the command writes for the user (man pages, a completion script on stdout).
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    /// The user answered no.
    #[error("not {0}")]
    Declined(&'static str),
    #[error("several labs exist ({}); name one", .0.join(", "))]
    SeveralLabs(Vec<String>),
    /// A command that needs a lab, when this Docker Engine has none at all (the name the user
    /// gave, if any).
    #[error("{}there are no labs yet", .0.as_ref().map(|n| format!("no lab named {n}: ")).unwrap_or_default())]
    NoLabs(Option<String>),
    /// A lab made by an older playground, or whose labels were edited.
    #[error("lab {0} has no API address label")]
    NoApiAddress(String),
    #[error("interrupted")]
    Interrupted,
    /// A program we ran for the user (`playground argocd`, `exec`) exited with this status,
    /// which becomes ours. It has said what went wrong itself, so nothing more is printed.
    #[error("the command exited with status {0}")]
    ChildExit(i32),
}

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
            Self::KeptExport { name, source, .. } => crate::diag::join(
                source.hint(),
                Some(format!(
                    "`playground resume {name}` if it is stopped, then try again; --force goes on and loses them"
                )),
            ),
            Self::Kept(e) => e.hint(),
            Self::Record(e) => e.hint(),
            Self::Sample(e) => e.hint(),
            Self::K3d(e) => e.hint(),
            Self::Lock(e) => e.hint(),
            Self::Preflight(e) => e.hint(),
            Self::NoApiAddress(..) => Some("`playground up` converges it".to_string()),
            Self::NoLabs(..) => Some(
                "`playground init` writes a lab file in this folder, and `playground up` makes the lab from it"
                    .to_string(),
            ),
            _ => None,
        }
    }
}

/// Flags or inputs that cannot go together. Exit status 2.
#[derive(Debug, thiserror::Error)]
pub enum Usage {
    #[error("--watch follows a local repository's HEAD, but gitops.repo is a remote URL")]
    WatchNeedsLocalRepo,
    #[error("--context bootstraps GitOps; it cannot be combined with --cluster-only")]
    ContextWithClusterOnly,
    #[error(
        "--context {0}: gitops.repo is a local repository, which only a playground cluster can mount"
    )]
    ContextWithLocalRepo(String),
    #[error("no context {0:?} in the kubeconfig")]
    NoSuchContext(String),
    /// `playground argocd version`: the word was meant for argocd, not as a lab name.
    #[error("no lab named {0}")]
    ArgocdArgsAfterSeparator(String),
    #[error("clap_complete has no {0} support")]
    UnsupportedShell(&'static str),
    /// `up` would change the Argo CD release of a lab that has one and was not told it may:
    /// Argo CD was not touched. `diff` is [`crate::argocd::upgrade::VersionChange::diff`].
    #[error(
        "{diff}lab {lab}: its file changes the Argo CD release (above) and Argo CD was not touched: `up` applies such changes only when told to, and there is no terminal to ask on"
    )]
    ArgoCdUnconfirmed { lab: String, diff: String },
}

impl crate::diag::Hinted for Usage {
    fn hint(&self) -> Option<String> {
        match self {
            Self::WatchNeedsLocalRepo => {
                Some("run `playground refresh` after you push".to_string())
            }
            Self::ContextWithLocalRepo(..) => Some(
                "push the repository and set gitops.repo to its https:// or ssh URL".to_string(),
            ),
            Self::NoSuchContext(..) => Some("`kubectl config get-contexts` lists them".to_string()),
            Self::ArgocdArgsAfterSeparator(word) => Some(format!(
                "arguments for argocd go after `--`: `playground argocd -- {word}`"
            )),
            Self::ArgoCdUnconfirmed { .. } => Some(
                "review with `playground up --dry-run`, then apply with `playground up --yes`"
                    .to_string(),
            ),
            _ => None,
        }
    }
}

impl crate::diag::Classified for Usage {
    fn kind(&self) -> Kind {
        Kind::Usage
    }
}

pub use crate::diag::{Classified, Hinted, Kind};

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
            Error::Hub(e) => e.kind(),
            Error::KubeconfigFile(e) => e.kind(),
            Error::Kept(e) => e.kind(),
            Error::Record(e) => e.kind(),
            Error::Sample(e) => e.kind(),
            Error::K3d(e) => e.kind(),
            Error::Lock(e) => e.kind(),
            Error::Invalid { .. } | Error::SeveralLabs(_) => Kind::Usage,
            Error::NoLabs(_) => Kind::NotFound,
            Error::Interrupted => Kind::Interrupted,
            Error::ChildExit(code) => Kind::Child(*code),
            // Its own failures; a kept export that failed is one, whatever its reason.
            Error::KeptExport { .. }
            | Error::KubeconfigRead(_)
            | Error::NoApiAddress(_)
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

pub type Result<T, E = Error> = std::result::Result<T, E>;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::argocd::manifest::ManifestError;
    use crate::cluster::readiness::NodeWaitError;
    use crate::diag::Hinted;

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

    #[test]
    fn the_exit_status_follows_the_kind_of_error() {
        let cases: Vec<(Error, i32)> = vec![
            (Error::Usage(Usage::WatchNeedsLocalRepo), 2),
            (
                Error::Invalid {
                    problems: 2,
                    path: "p.yaml".into(),
                },
                2,
            ),
            (ClusterError::NotFound("x".into()).into(), 4),
            (Error::from(RestoreError::NoDropped), 4),
            (
                BootstrapError::Manifest(ManifestError::Download {
                    url: "https://example.com/install.yaml".into(),
                    source: "connection refused".into(),
                })
                .into(),
                1,
            ),
            (
                BootstrapError::Manifest(ManifestError::UnsupportedUrl("ftp://x".into())).into(),
                2,
            ),
            (ClusterError::SubnetTaken("10.0.0.0/24".into()).into(), 5),
            (
                ClusterError::NodeWait(NodeWaitError::Timeout {
                    node: "n".into(),
                    line: "l".into(),
                    secs: 1,
                    logs: String::new(),
                })
                .into(),
                6,
            ),
            (
                Error::Api(ApiError::NotReady {
                    url: "https://127.0.0.1:6550".into(),
                    secs: 1,
                    last: crate::kube::api::NotYet::Nodes {
                        ready: 0,
                        total: 1,
                        expected: 1,
                    },
                }),
                6,
            ),
            (Error::ChildExit(7), 7),
            (Error::Declined("dropped"), 1),
        ];
        for (e, code) in cases {
            assert_eq!(e.exit_code(), code, "{e}");
        }
    }

    /// The exit status of a representative error of every type the command layer wraps, and of
    /// its own errors: each type says its kind itself (`Classified`), and these codes are the
    /// ones the top used to decide by matching inner variants. Pinned, so a change is seen.
    #[test]
    fn every_wrapped_error_keeps_its_exit_status() {
        use crate::argocd::access::AccessError;
        use crate::argocd::apps::{AppsError, Failures};
        use crate::argocd::install::InstallError;
        use crate::argocd::workloads::WorkloadsError;
        use crate::diag::Located;
        use crate::docker::endpoint::EndpointError;
        use crate::repo::sample::SampleError;
        use crate::source::SourceError;
        let io = || std::io::Error::other("boom");
        let located = || Located {
            path: "p.yaml".into(),
            line: 1,
            column: 1,
            message: "m".into(),
            hint: None,
        };
        let api_not_ready = || ApiError::NotReady {
            url: "https://127.0.0.1:6550".into(),
            secs: 1,
            last: crate::kube::api::NotYet::Node("n".into()),
        };
        let engine_api = || EngineError::Api {
            what: "create container x".into(),
            source: "refused".into(),
        };
        let endpoint = || {
            EngineError::Endpoint(Box::new(EndpointError::NoDockerEndpoint {
                context: "c".into(),
                meta: "/m".into(),
            }))
        };
        let workloads = || WorkloadsError::NotAvailable {
            secs: 1,
            total: 1,
            namespace: "argocd".into(),
            pending: Vec::new(),
        };
        let no_password = || AccessError::NoPassword {
            namespace: "argocd".into(),
            secs: 1,
        };
        let boot = |e: BootstrapError| Error::from(e);
        let cases: Vec<(Error, i32)> = vec![
            // Bad input: 2.
            (ConfigError::Invalid(located()).into(), 2),
            (
                SourceError::Path {
                    path: "/p".into(),
                    source: io(),
                }
                .into(),
                2,
            ),
            (
                SourceError::Sample(SampleError::NotASample { dir: "/d".into() }).into(),
                2,
            ),
            (Usage::NoSuchContext("x".into()).into(), 2),
            (crate::config::NameError("My_Lab".into()).into(), 2),
            (Error::SeveralLabs(vec!["a".into(), "b".into()]), 2),
            (SampleError::AlreadyALab { dir: "/d".into() }.into(), 2),
            (crate::config::k3d::K3dError::Invalid(located()).into(), 2),
            (
                Error::from(RestoreError::BadName(crate::config::NameError("X".into()))),
                2,
            ),
            (
                ClusterError::Plan(crate::cluster::plan::PlanError::NoSubnet).into(),
                2,
            ),
            (
                boot(BootstrapError::Manifest(ManifestError::UnsupportedUrl(
                    "ftp://x".into(),
                ))),
                2,
            ),
            (boot(BootstrapError::Resources(vec![located()])), 2),
            (
                boot(BootstrapError::PathOutside {
                    path: "..".into(),
                    root: "/r".into(),
                }),
                2,
            ),
            // Failed: 1.
            (SampleError::NotASample { dir: "/d".into() }.into(), 1),
            (
                crate::config::k3d::K3dError::Converted(ConfigError::Invalid(located())).into(),
                1,
            ),
            (
                Error::from(RestoreError::FolderGone {
                    name: "l".into(),
                    folder: "/d".into(),
                    origin: None,
                }),
                1,
            ),
            (engine_api().into(), 1),
            (ClusterError::Engine(engine_api()).into(), 1),
            (
                ApiError::Config(::kube::config::KubeconfigError::CurrentContextNotSet).into(),
                1,
            ),
            (
                boot(BootstrapError::Manifest(ManifestError::Cache {
                    path: "/c".into(),
                    source: io(),
                })),
                1,
            ),
            (
                boot(BootstrapError::Install(Box::new(InstallError::Workloads(
                    workloads(),
                )))),
                1,
            ),
            (
                boot(BootstrapError::Access(AccessError::NoHttpPort(
                    "argocd".into(),
                ))),
                1,
            ),
            (
                boot(BootstrapError::Io {
                    path: "/p".into(),
                    source: io(),
                }),
                1,
            ),
            (boot(BootstrapError::ManifestNotLoaded), 1),
            (
                AccessError::BadSecret {
                    namespace: "argocd".into(),
                }
                .into(),
                1,
            ),
            (
                Error::from(crate::argocd::cli::ArgoCliError::Password(no_password())),
                1,
            ),
            (
                crate::argocd::refresh::RefreshError::NotFound {
                    namespace: "a".into(),
                    app: "b".into(),
                }
                .into(),
                1,
            ),
            (
                Error::Hub(Box::new(crate::argocd::hub::HubError::NoToken)),
                1,
            ),
            (KubeconfigError::NoTarget.into(), 1),
            (
                KeptError::Parse {
                    path: "/k".into(),
                    message: "m".into(),
                }
                .into(),
                1,
            ),
            (
                RecordError::Newer {
                    path: "/r".into(),
                    version: 9,
                }
                .into(),
                1,
            ),
            (
                LockError::Io {
                    name: "l".into(),
                    path: "/l".into(),
                    source: io(),
                }
                .into(),
                1,
            ),
            (
                PreflightError {
                    lab: "l".into(),
                    image: "i".into(),
                    reasons: Vec::new(),
                }
                .into(),
                1,
            ),
            (Error::HostChecks { failures: 1 }, 1),
            (Error::NoApiAddress("l".into()), 1),
            (
                Error::Io {
                    what: "w".into(),
                    source: io(),
                },
                1,
            ),
            // No engine: 3.
            (endpoint().into(), 3),
            (ClusterError::Engine(endpoint()).into(), 3),
            // No such lab: 4.
            (Error::NoLabs(None), 4),
            (
                Error::from(RestoreError::NoRecord {
                    name: "l".into(),
                    dir: "/d".into(),
                }),
                4,
            ),
            (ClusterError::NotFound("x".into()).into(), 4),
            // Taken: 5.
            (
                LockError::Busy {
                    name: "l".into(),
                    holder: "up".into(),
                    waited: std::time::Duration::from_secs(1),
                }
                .into(),
                5,
            ),
            (ClusterError::SubnetTaken("10.0.0.0/24".into()).into(), 5),
            // Timed out: 6.
            (api_not_ready().into(), 6),
            (ClusterError::Api(api_not_ready()).into(), 6),
            (no_password().into(), 6),
            (boot(BootstrapError::Access(no_password())), 6),
            (boot(BootstrapError::Workloads(workloads())), 6),
            (
                boot(BootstrapError::Install(Box::new(
                    InstallError::ApplyTimeout {
                        version: "v3".into(),
                        secs: 1,
                    },
                ))),
                6,
            ),
            (
                boot(BootstrapError::Apps(AppsError::NotReady {
                    namespace: "argocd".into(),
                    root: "root".into(),
                    secs: 1,
                    failures: Failures(Vec::new()),
                    last_error: None,
                })),
                6,
            ),
            (boot(BootstrapError::PruneTimeout), 6),
            (boot(BootstrapError::ResourcesTimeout), 6),
            // Passed on.
            (Error::ChildExit(3), 3),
        ];
        for (e, code) in cases {
            assert_eq!(e.exit_code(), code, "{e:?}");
        }
        assert_eq!(Error::Interrupted.kind(), Kind::Interrupted);
        assert_eq!(
            Error::from(ClusterError::Interrupted).kind(),
            Kind::Interrupted
        );
    }

    #[test]
    fn the_hint_travels_apart_from_the_message() {
        let (message, hint) = Error::from(ClusterError::NotFound("demo".into())).message_and_hint();
        assert_eq!(message, "no lab named demo");
        assert_eq!(
            hint.as_deref(),
            Some("`playground list` shows the labs; `playground up` creates one")
        );
        let (message, hint) = Error::Interrupted.message_and_hint();
        assert_eq!((message.as_str(), hint), ("interrupted", None));
    }

    /// The errors users meet most, from each layer: the message is the `Display` alone, the
    /// hint comes through every wrapper, and the printed form is the two put back together.
    #[test]
    fn representative_errors_give_their_hint_as_data() {
        use crate::diag::{Located, Report};
        use crate::docker::EngineError;
        use crate::repo::git::GitError;
        let cases: Vec<(Error, &str, &str)> = vec![
            (
                Error::Config(ConfigError::Invalid(Located {
                    path: "p.yaml".into(),
                    line: 4,
                    column: 9,
                    message: "invalid lab name `My_Lab`".into(),
                    hint: Some("expected a DNS-1123 label".into()),
                })),
                "p.yaml:4:9: invalid lab name `My_Lab`",
                "expected a DNS-1123 label",
            ),
            (
                ClusterError::PortInUse {
                    addr: "127.0.0.1:6550".into(),
                    port: 6550,
                    proto: "tcp",
                    field: "cluster.api.port",
                }
                .into(),
                "host port 127.0.0.1:6550/tcp is already in use",
                "pick another port in cluster.api.port of the lab file, or stop what holds it (`ss -lntup | grep :6550`)",
            ),
            (
                // Two wrappers down: Error → ClusterError → PlanError.
                ClusterError::Plan(crate::cluster::plan::PlanError::NoSubnet).into(),
                "no free subnet for the lab network in 172.28.0.0/14",
                "remove unused Docker networks (`docker network prune`)",
            ),
            (
                EngineError::ImageMissing("busybox".into()).into(),
                "image busybox is not present locally and --pull never was given",
                "`docker pull busybox`, or run with --pull missing",
            ),
            (
                Usage::NoSuchContext("kind-x".into()).into(),
                "no context \"kind-x\" in the kubeconfig",
                "`kubectl config get-contexts` lists them",
            ),
            (
                // Transparent: the name error's hint, through the restore error.
                Error::from(RestoreError::BadName(crate::config::NameError(
                    "My_Lab".into(),
                ))),
                "invalid lab name `My_Lab`",
                crate::config::NAME_HINT,
            ),
            (
                // Embedded in the outer message: the inner hint is the hint.
                Error::from(RestoreError::Revision {
                    rev: "main".into(),
                    source: GitError::NotARepository { path: "/x".into() },
                }),
                "revision main: /x is not in a Git repository",
                "Argo CD reads the lab from Git commits: run `playground init` to write the sample lab there, or make one of your own with `git init && git add -A && git commit -m \"first lab\"`",
            ),
        ];
        for (e, message, hint) in cases {
            assert_eq!(e.to_string(), message, "{e:?}");
            assert!(!e.to_string().contains("hint:"), "{e}");
            assert_eq!(e.hint().as_deref(), Some(hint), "{e:?}");
            assert_eq!(Report(&e).to_string(), format!("{message}\n  hint: {hint}"));
        }
    }

    /// An error with a hint of its own around an inner one that has one too: both hints are
    /// kept, the inner first, and neither is in the message.
    #[test]
    fn nested_hints_are_kept_once_each() {
        let e = Error::KeptExport {
            name: "demo".into(),
            what: "dropped",
            source: Box::new(KeptError::Parse {
                path: "/k.yaml".into(),
                message: "a list".into(),
            }),
        };
        assert_eq!(
            e.to_string(),
            "cannot export the kept Secrets of lab demo: /k.yaml: not a list of Secrets: a list\n  nothing was dropped"
        );
        let hint = e.hint().unwrap();
        assert_eq!(
            hint,
            "it is written by `playground drop`/`suspend`; move it aside if it was edited\n  hint: `playground resume demo` if it is stopped, then try again; --force goes on and loses them"
        );
        assert_eq!(
            crate::diag::Report(&e).to_string().matches("hint:").count(),
            2
        );
    }

    /// Every error type's `Display` is the message alone: no `#[error(...)]` in the crate
    /// writes a hint into it (it goes in the type's `Hinted::hint`). This covers every
    /// variant, present and future, without building each one.
    #[test]
    fn no_error_message_carries_its_hint() {
        fn walk(dir: &std::path::Path, found: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    walk(&path, found);
                } else if path.extension().is_some_and(|x| x == "rs") {
                    let text = std::fs::read_to_string(&path).unwrap();
                    for attr in text.split("#[error(").skip(1) {
                        let attr = attr.split(")]").next().unwrap_or_default();
                        if attr.contains("hint:") {
                            found.push(format!("{}: {attr}", path.display()));
                        }
                    }
                }
            }
        }
        let mut found = Vec::new();
        walk(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
            &mut found,
        );
        assert!(found.is_empty(), "{found:#?}");
    }
}

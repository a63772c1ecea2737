//! Exit status 1, pinned for every wrapped failure that is no more specific.

use super::*;

#[test]
fn every_other_wrapped_failure_exits_1() {
    let cases: Vec<(Error, i32)> = vec![
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
        (crate::ops::OpsError::NoApiAddress("l".into()).into(), 1),
        (
            Error::Io {
                what: "w".into(),
                source: io(),
            },
            1,
        ),
    ];
    assert_codes(cases);
}

//! Exit statuses, pinned: 2 for bad input, 3 to 6 by kind, a child's own.

use super::*;

/// The exit status of a representative error of every type the command layer wraps, and of
/// its own errors: each type says its kind itself (`Classified`), and these codes are the
/// ones the top used to decide by matching inner variants. Pinned, so a change is seen.
#[test]
fn bad_input_exits_2() {
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
    ];
    assert_codes(cases);
}

#[test]
fn no_engine_no_lab_taken_and_timed_out_exit_3_to_6() {
    let cases: Vec<(Error, i32)> = vec![
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
        // The same wait inside the install, and a hub's wait for a spoke's token.
        (
            boot(BootstrapError::Install(Box::new(InstallError::Workloads(
                workloads(),
            )))),
            6,
        ),
        (crate::argocd::hub::HubError::NoToken.into(), 6),
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
    assert_codes(cases);

    assert_eq!(Error::Interrupted.kind(), Kind::Interrupted);
    assert_eq!(
        Error::from(ClusterError::Interrupted).kind(),
        Kind::Interrupted
    );
}

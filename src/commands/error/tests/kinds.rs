//! The exit status follows the kind of the command's own errors.

use super::*;

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

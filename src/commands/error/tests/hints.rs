//! Hints: data apart from the message, kept once each, never inside a message.

use super::*;

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
    let e = Error::from(crate::ops::OpsError::KeptExport {
        name: "demo".into(),
        what: "dropped",
        source: Box::new(KeptError::Parse {
            path: "/k.yaml".into(),
            message: "a list".into(),
        }),
    });
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

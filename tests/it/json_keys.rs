//! One key style in every `-o json` document: Kubernetes' camelCase, while the schema is
//! `v1alpha1`. Every command that has `-o json` is run, on success and on failure, and every
//! key of every document it prints is walked.

use crate::gitops_up::git_lab;
use crate::support::harness::{self, TestLab};

/// Every JSON document in `stdout`: one pretty document, or one per line (a stream).
fn documents(stdout: &str) -> Vec<serde_json::Value> {
    if let Ok(doc) = serde_json::from_str(stdout) {
        return vec![doc];
    }
    stdout
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// The keys of `v` that are not camelCase (a `_` or a `-` in a field name), with their path.
fn bad_keys(v: &serde_json::Value, at: &str, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                let camel = k.chars().next().is_some_and(|c| c.is_ascii_lowercase())
                    && k.chars().all(|c| c.is_ascii_alphanumeric());
                if !camel {
                    out.push(format!("{at}.{k}"));
                }
                bad_keys(v, &format!("{at}.{k}"), out);
            }
        }
        serde_json::Value::Array(items) => {
            for v in items {
                bad_keys(v, &format!("{at}[]"), out);
            }
        }
        _ => {}
    }
}

/// Run `args` (with `-o json`), expecting `code`; walk what it printed.
fn walk(lab: &TestLab, args: &[&str], code: i32, seen: &mut Vec<String>, bad: &mut Vec<String>) {
    let mut args = args.to_vec();
    args.extend(["-o", "json"]);
    let out = lab.run(&args);
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(
        out.status.code(),
        Some(code),
        "{args:?}: {}\n{stdout}",
        harness::stderr(&out)
    );
    let docs = documents(&stdout);
    assert!(!docs.is_empty(), "{args:?} printed no document");
    for doc in docs {
        assert_eq!(
            doc["apiVersion"], "playground.dev/v1alpha1",
            "{args:?}: {doc}"
        );
        seen.push(format!("{} {}", args[0], doc["kind"]));
        bad_keys(&doc, &format!("{} {}", args.join(" "), doc["kind"]), bad);
    }
}

#[test]
fn every_json_document_of_every_command_has_camel_case_keys() {
    let (lab, _) = git_lab("jsonkeys", "healthy");
    let (mut seen, mut bad) = (Vec::new(), Vec::new());
    let (s, b) = (&mut seen, &mut bad);
    walk(&lab, &["version"], 0, s, b);
    walk(&lab, &["validate"], 0, s, b);
    walk(&lab, &["up", "--dry-run"], 0, s, b);
    walk(&lab, &["up", "--timeout", "120s"], 0, s, b);
    walk(&lab, &["list"], 0, s, b);
    walk(&lab, &["status"], 0, s, b);
    walk(&lab, &["cache", "status"], 0, s, b);
    walk(&lab, &["suspend"], 0, s, b);
    walk(&lab, &["resume"], 0, s, b);
    walk(&lab, &["restore", &lab.name], 0, s, b);
    // doctor's verdict on this host varies (cgroup v1, disk): a port in use fails it always.
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = holder.local_addr().unwrap().port();
    let busy = TestLab::new("jsonkeysdoc").api_port(port).write();
    walk(&busy, &["doctor"], 1, s, b);
    walk(&lab, &["drop", "--yes"], 0, s, b);
    // Failures: a stream's error event, validate's errors.
    walk(&lab, &["restore", "no-such-lab"], 4, s, b);
    std::fs::write(
        lab.file(),
        std::fs::read_to_string(lab.file())
            .unwrap()
            .replace("path: apps", "path: ../out"),
    )
    .unwrap();
    walk(&lab, &["validate"], 2, s, b);
    walk(&lab, &["up"], 2, s, b);
    for kind in [
        "Version",
        "ValidationReport",
        "UpPlan",
        "Event",
        "UpResult",
        "LabList",
        "LabStatus",
        "CacheList",
        "LabResult",
        "DoctorReport",
    ] {
        assert!(
            seen.iter().any(|s| s.ends_with(&format!("\"{kind}\""))),
            "no {kind} seen: {seen:?}"
        );
    }
    bad.sort();
    bad.dedup();
    assert!(bad.is_empty(), "keys not in camelCase:\n{}", bad.join("\n"));
}

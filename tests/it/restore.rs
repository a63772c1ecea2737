//! Drop and restore (issue 5): the state record, kept Secrets, and `restore --from` a
//! repository given by path, end to end through the binary with the stand-in node and the API
//! double (which plays Argo CD's controller and resolves `HEAD` from the mounted repository).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, PostParams};

use crate::gitops_up::{applications, fixture, write_apps};
use crate::support::harness::{self, TestLab, stderr};

const KEEP: &str = "keep:\n  secrets:\n    - { namespace: default, name: my-api-token }\n    - { namespace: kube-system, selector: \"sealedsecrets.bitnami.com/sealed-secrets-key\" }\n";

/// A lab whose file lives in its own (committed) repo, with Secrets to keep.
fn lab_with_keep(tag: &str) -> (TestLab, String) {
    let lab = TestLab::new(tag);
    write_apps(lab.dir.path());
    let commit = playground::repo::git::init_with_commit(
        lab.dir.path(),
        "the lab",
        Some(("Ada", "ada@example.com")),
    )
    .unwrap();
    let lab = lab
        .cluster_yaml("  env: [\"PLAYGROUND_DOUBLE_APPS=healthy@server:0\", \"PLAYGROUND_DOUBLE_DELAY_MS=200@server:0\"]\n")
        .yaml(&format!(
            "  manifest: {}\ngitops:\n  repo: .\n  revision: HEAD\n  path: apps\n{KEEP}",
            fixture()
        ))
        .write();
    (lab, commit)
}

fn data_dir(lab: &TestLab) -> PathBuf {
    lab.home().join(".local/share/playground").join(&lab.name)
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn secret(ns: &str, name: &str, labels: &[(&str, &str)], data: &[(&str, &str)]) -> Secret {
    serde_json::from_value(serde_json::json!({
        "metadata": {
            "name": name, "namespace": ns,
            "labels": labels.iter().cloned().collect::<std::collections::BTreeMap<_, _>>(),
        },
        "stringData": data.iter().cloned().collect::<std::collections::BTreeMap<_, _>>(),
    }))
    .unwrap()
}

/// The Secret's data, decoded.
async fn secret_data(
    client: &kube::Client,
    ns: &str,
    name: &str,
) -> Option<Vec<(String, Vec<u8>)>> {
    let s = Api::<Secret>::namespaced(client.clone(), ns)
        .get_opt(name)
        .await
        .unwrap()?;
    Some(
        s.data
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, v.0))
            .collect(),
    )
}

/// The root Application's source and the revision it is synced to.
async fn root_source(client: &kube::Client) -> (serde_json::Value, String) {
    let root = applications(client).get("root").await.unwrap();
    (
        root.data["spec"]["source"].clone(),
        root.data["status"]["sync"]["revision"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn drop_then_restore_brings_back_the_root_app_and_the_kept_secrets() {
    let (lab, commit) = lab_with_keep("restore");
    lab.ok(&["up", "--timeout", "120s"]);

    // The record: 0600 in a 0700 folder, the lab file and the deployed commit, no secret.
    let record_path = data_dir(&lab).join("state.yaml");
    assert_eq!(mode(&record_path), 0o600);
    assert_eq!(mode(&data_dir(&lab)), 0o700);
    let record: serde_json::Value =
        serde_saphyr::from_str(&std::fs::read_to_string(&record_path).unwrap()).unwrap();
    assert_eq!(record["version"], 1);
    assert_eq!(record["name"], lab.name.as_str());
    assert_eq!(record["git"]["revision"], "HEAD");
    assert_eq!(record["git"]["path"], "apps");
    assert_eq!(record["git"]["deployed"], commit.as_str());
    assert_eq!(
        record["config"]["content"].as_str().unwrap(),
        std::fs::read_to_string(lab.file()).unwrap()
    );

    let client = harness::kube_client(&lab.kubeconfig()).await;
    let before = root_source(&client).await;
    let post = PostParams::default();
    Api::<Secret>::namespaced(client.clone(), "default")
        .create(
            &post,
            &secret("default", "my-api-token", &[], &[("token", "s3cr3t-t0ken")]),
        )
        .await
        .unwrap();
    Api::<Secret>::namespaced(client.clone(), "kube-system")
        .create(
            &post,
            &secret(
                "kube-system",
                "sealed-secrets-keyabcde",
                &[("sealedsecrets.bitnami.com/sealed-secrets-key", "active")],
                &[("tls.key", "-----BEGIN PRIVATE KEY-----\nAAAA\n")],
            ),
        )
        .await
        .unwrap();
    Api::<Secret>::namespaced(client.clone(), "default")
        .create(&post, &secret("default", "not-kept", &[], &[("x", "y")]))
        .await
        .unwrap();
    let token = secret_data(&client, "default", "my-api-token")
        .await
        .unwrap();
    let key = secret_data(&client, "kube-system", "sealed-secrets-keyabcde")
        .await
        .unwrap();
    assert!(
        !std::fs::read_to_string(&record_path)
            .unwrap()
            .contains("s3cr3t")
    );

    let out = lab.run(&["drop", "--yes"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("playground restore"),
        "{}",
        stderr(&out)
    );
    assert_eq!(harness::count_docker_objects(&lab.name), 0);
    // The export: 0600, the two kept Secrets only, without server fields.
    let export = data_dir(&lab).join("secrets.yaml");
    assert_eq!(mode(&export), 0o600);
    let list: serde_json::Value =
        serde_saphyr::from_str(&std::fs::read_to_string(&export).unwrap()).unwrap();
    let mut names: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["metadata"]["name"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["my-api-token", "sealed-secrets-keyabcde"]);
    for s in list["items"].as_array().unwrap() {
        for field in [
            "uid",
            "resourceVersion",
            "managedFields",
            "ownerReferences",
            "creationTimestamp",
        ] {
            assert!(s["metadata"].get(field).is_none(), "{field} exported: {s}");
        }
    }
    let record: serde_json::Value =
        serde_saphyr::from_str(&std::fs::read_to_string(&record_path).unwrap()).unwrap();
    assert!(record["times"]["dropped"].is_string(), "{record}");
    let listed = harness::items(&lab.ok(&["list", "-o", "json"]), "LabList");
    let entry = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["name"] == lab.name.as_str())
        .expect("a dropped lab on record is listed");
    assert_eq!(entry["state"], "dropped");

    // From another folder: the record knows where the lab lives.
    let out = lab
        .cmd(&["restore", &lab.name, "--timeout", "120s"])
        .current_dir(lab.home())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let client = harness::kube_client(&lab.kubeconfig()).await;
    assert_eq!(root_source(&client).await, before);
    assert_eq!(before.1, commit);
    assert_eq!(
        secret_data(&client, "default", "my-api-token")
            .await
            .unwrap(),
        token
    );
    assert_eq!(
        secret_data(&client, "kube-system", "sealed-secrets-keyabcde")
            .await
            .unwrap(),
        key
    );
    assert!(secret_data(&client, "default", "not-kept").await.is_none());
    let record: serde_json::Value =
        serde_saphyr::from_str(&std::fs::read_to_string(&record_path).unwrap()).unwrap();
    assert!(record["times"].get("dropped").is_none(), "{record}");

    // Restoring a lab that runs changes nothing and says so.
    let out = lab.run(&["restore", &lab.name]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("restore changed nothing"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn drop_refuses_when_the_kept_secrets_cannot_be_exported() {
    let (lab, _) = lab_with_keep("dropref");
    lab.ok(&["up", "--cluster-only", "--timeout", "90s"]);
    // Stopped behind playground's back: no API to read, and no export from a `suspend`.
    harness::docker(&[
        "stop",
        "-t",
        "1",
        &format!("playground-{}-server-0", lab.name),
    ]);
    let out = lab.run(&["drop", "--yes"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("cannot export the kept Secrets"), "{err}");
    assert!(err.contains("nothing was dropped"), "{err}");
    assert!(err.contains("--force"), "{err}");
    assert!(
        harness::count_docker_objects(&lab.name) > 0,
        "the lab must still be there"
    );

    let out = lab.run(&["drop", "--yes", "--force"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(harness::count_docker_objects(&lab.name), 0);
}

fn saved_names(lab: &TestLab) -> Vec<String> {
    let list: serde_json::Value = serde_saphyr::from_str(
        &std::fs::read_to_string(data_dir(lab).join("secrets.yaml")).unwrap(),
    )
    .unwrap();
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["metadata"]["name"].as_str().unwrap().to_string())
        .collect()
}

/// The export is the only copy of a kept Secret once the lab is gone, so it must never be
/// lost: not to a restore that did not re-apply it, not to a stale file.
#[tokio::test(flavor = "multi_thread")]
async fn a_kept_secret_outlives_an_incomplete_restore_and_a_stale_export_is_refused() {
    let (lab, _) = lab_with_keep("keepsafe");
    lab.ok(&["up", "--cluster-only", "--timeout", "90s"]);
    let client = harness::kube_client(&lab.kubeconfig()).await;
    Api::<Secret>::namespaced(client, "default")
        .create(
            &PostParams::default(),
            &secret("default", "my-api-token", &[], &[("token", "t0")]),
        )
        .await
        .unwrap();
    lab.ok(&["drop", "--yes"]);
    assert_eq!(saved_names(&lab), ["my-api-token"]);

    // --cluster-only installs no Argo CD, so nothing re-applies the Secret.
    lab.ok(&["restore", &lab.name, "--cluster-only", "--timeout", "90s"]);
    let client = harness::kube_client(&lab.kubeconfig()).await;
    assert!(
        secret_data(&client, "default", "my-api-token")
            .await
            .is_none()
    );

    // Stopped behind playground's back: the only export is from the lab's previous life.
    harness::docker(&[
        "stop",
        "-t",
        "1",
        &format!("playground-{}-server-0", lab.name),
    ]);
    let out = lab.run(&["drop", "--yes"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("older than this lab"),
        "{}",
        stderr(&out)
    );
    assert!(harness::count_docker_objects(&lab.name) > 0);

    // Running again, the export finds the cluster without the Secret and keeps the old copy.
    lab.ok(&["resume", &lab.name]);
    let out = lab.run(&["drop", "--yes"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("kept Secret default/my-api-token is no longer in the cluster"),
        "{}",
        stderr(&out)
    );
    assert_eq!(saved_names(&lab), ["my-api-token"]);
}

/// A lab repository given by path, bare, with playground.yaml at its top and two commits.
fn bare_lab_repo(lab: &TestLab) -> (PathBuf, String, String) {
    let work = lab.dir.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    write_apps(&work);
    std::fs::rename(lab.file(), work.join("playground.yaml")).unwrap();
    let first =
        playground::repo::git::init_with_commit(&work, "the lab", Some(("Ada", "ada@example.com")))
            .unwrap();
    std::fs::write(
        work.join("workloads/hello/cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: hello\ndata:\n  v: \"2\"\n",
    )
    .unwrap();
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .args(["-c", "user.name=Ada", "-c", "user.email=ada@example.com"])
            .args(args)
            .current_dir(&work)
            .output()
            .expect("git (installed by scripts/setup-test-env)");
        assert!(out.status.success(), "git {args:?}: {}", stderr(&out));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    git(&["commit", "-qam", "hello v2"]);
    let second = git(&["rev-parse", "HEAD"]);
    let bare = lab.dir.path().join("lab.git");
    git(&[
        "clone",
        "-q",
        "--bare",
        work.to_str().unwrap(),
        bare.to_str().unwrap(),
    ]);
    (bare, first, second)
}

#[tokio::test(flavor = "multi_thread")]
async fn restore_from_a_bare_repository_path_needs_no_record() {
    let lab = TestLab::new("restorefrom")
        .cluster_yaml("  env: [\"PLAYGROUND_DOUBLE_APPS=healthy@server:0\", \"PLAYGROUND_DOUBLE_DELAY_MS=200@server:0\"]\n")
        .yaml(&format!(
            "  manifest: {}\ngitops:\n  repo: .\n  revision: HEAD\n  path: apps\n",
            fixture()
        ))
        .write();
    let (bare, first, second) = bare_lab_repo(&lab);
    let bare_s = bare.to_str().unwrap();
    assert!(!data_dir(&lab).exists(), "no record before the restore");

    let out = lab.run(&["restore", "--from", bare_s, "--timeout", "120s"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let client = harness::kube_client(&lab.kubeconfig()).await;
    let (source, synced) = root_source(&client).await;
    assert_eq!(source["repoURL"], "file:///playground");
    assert_eq!(source["path"], "apps");
    assert_eq!(source["targetRevision"], "HEAD");
    assert_eq!(synced, second, "HEAD of the clone");
    // The clone is in the user cache, mounted into the node.
    let cache = lab.home().join(".cache/playground/repos");
    let clones: Vec<_> = std::fs::read_dir(&cache).unwrap().flatten().collect();
    assert_eq!(clones.len(), 1, "{clones:?}");
    let record: serde_json::Value = serde_saphyr::from_str(
        &std::fs::read_to_string(data_dir(&lab).join("state.yaml")).unwrap(),
    )
    .unwrap();
    assert_eq!(record["config"]["origin"], bare_s);
    assert_eq!(record["git"]["deployed"], second.as_str());

    // Running: a second restore --from changes nothing.
    let out = lab.run(&["restore", "--from", bare_s]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("restore changed nothing"),
        "{}",
        stderr(&out)
    );

    // Drop, then restore from the record, at the older commit.
    lab.ok(&["drop", &lab.name, "--yes"]);
    let out = lab.run(&[
        "restore",
        &lab.name,
        "--revision",
        &first[..8],
        "--timeout",
        "120s",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let client = harness::kube_client(&lab.kubeconfig()).await;
    let (source, synced) = root_source(&client).await;
    assert_eq!(
        source["targetRevision"],
        first.as_str(),
        "--revision pins the commit"
    );
    assert_eq!(synced, first);

    // A plain restore brings back the revision that was deployed, not the file's HEAD.
    lab.ok(&["drop", &lab.name, "--yes"]);
    let out = lab.run(&["restore", &lab.name, "--timeout", "120s"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let client = harness::kube_client(&lab.kubeconfig()).await;
    assert_eq!(root_source(&client).await.1, first);
}

#[test]
fn restore_without_a_record_teaches_restore_from() {
    let lab = TestLab::new("norecord").write();
    std::fs::remove_file(lab.file()).unwrap();
    let out = lab.run(&["restore", "nosuchlab"]);
    let err = stderr(&out);
    // 4: nothing of that name (the exit codes in docs/output.md), as `status nosuchlab` says too.
    assert_eq!(out.status.code(), Some(4), "{err}");
    assert!(err.contains("no record of a lab named nosuchlab"), "{err}");
    assert!(err.contains("restore --from"), "{err}");
    let out = lab.run(&["status", "nosuchlab"]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(stderr(&out).contains("no lab named nosuchlab"));
}

/// `restore -o json` speaks as `up -o json` does (issue 11): a dropped lab streams one JSON
/// event per step on stdout, every started step ended, then its `UpResult` on the last line;
/// a lab that exists is not restored, and the one line says so (`LabResult`,
/// `restored: false`). Nothing else reaches stdout.
#[test]
fn restore_json_streams_its_steps_then_the_result_and_a_running_lab_is_left_as_it_is() {
    let lab = TestLab::new("restorejson").agents(1).write();
    lab.ok(&["up", "--cluster-only"]);
    lab.ok(&["drop", "--yes"]);
    assert_eq!(harness::count_docker_objects(&lab.name), 0);

    let out = lab.ok(&["restore", &lab.name, "--cluster-only", "-o", "json"]);
    let (events, result) = harness::event_stream(&out, "UpResult");
    assert_eq!(result["name"], lab.name.as_str(), "{result}");
    let mut nodes: Vec<&str> = result["nodes"]
        .as_array()
        .unwrap_or_else(|| panic!("no nodes: {result}"))
        .iter()
        .map(|n| {
            assert_eq!(n["ready"], true, "{n}");
            n["name"].as_str().unwrap()
        })
        .collect();
    nodes.sort();
    assert_eq!(nodes.len(), 2, "{result}");
    assert!(
        result["api"]
            .as_str()
            .is_some_and(|a| a.contains("127.0.0.1")),
        "{result}"
    );
    assert_eq!(
        result["context"],
        format!("playground-{}", lab.name),
        "{result}"
    );
    // `--cluster-only`: no apps and no UI in the result.
    assert!(
        result.get("apps").is_none() && result.get("ui").is_none(),
        "{result}"
    );
    harness::assert_steps_complete(&events, 2, &out);
    assert!(
        events.iter().all(|e| e["type"] != "error"),
        "an error event in a restore that succeeded: {out}"
    );
    assert_eq!(lab.list_entry()["state"], "running");

    // Running now: restore changes nothing, and says so in one document.
    let out = lab.ok(&["restore", &lab.name, "-o", "json"]);
    let (events, result) = harness::event_stream(&out, "LabResult");
    assert!(
        events.is_empty(),
        "steps for a restore that did nothing: {out}"
    );
    assert_eq!(result["name"], lab.name.as_str(), "{result}");
    assert_eq!(result["state"], "running", "{result}");
    assert_eq!(result["restored"], false, "{result}");
}

/// `gitops.path` out of the repository, in each form (`..`, absolute, a committed symlink out),
/// is refused at `validate`, `up` and `restore --from` alike, before anything is made: Argo CD
/// reads only the repository, so such a lab would never sync.
#[test]
fn a_gitops_path_leaving_the_repository_is_refused_by_every_command() {
    let outside = tempfile::tempdir().unwrap();
    write_apps(outside.path());
    let outside_apps = outside.path().join("apps");
    for (tag, path) in [
        ("pathdots", "../outside".to_string()),
        ("pathabs", outside_apps.display().to_string()),
        ("pathlink", "linked".to_string()),
    ] {
        let lab = TestLab::new(tag)
            .yaml(&format!(
                "  manifest: {}\ngitops:\n  repo: .\n  revision: HEAD\n  path: {path}\n",
                fixture()
            ))
            .write();
        let dir = lab.dir.path();
        write_apps(dir);
        std::os::unix::fs::symlink(&outside_apps, dir.join("linked")).unwrap();
        let git = |args: &[&str]| {
            let out = Command::new("git")
                .args(["-c", "user.name=Ada", "-c", "user.email=ada@example.com"])
                .args(args)
                .current_dir(dir)
                .output()
                .expect("git (installed by scripts/setup-test-env)");
            assert!(out.status.success(), "git {args:?}: {}", stderr(&out));
        };
        git(&["init", "-q"]);
        git(&["add", "-A"]);
        git(&["commit", "-qm", "the lab"]);
        let bare = tempfile::tempdir().unwrap();
        let bare = bare.path().join("lab.git");
        git(&["clone", "-q", "--bare", ".", bare.to_str().unwrap()]);

        for args in [
            vec!["validate"],
            vec!["up"],
            vec!["restore", "--from", bare.to_str().unwrap()],
        ] {
            let out = lab.run(&args);
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(2), "{tag} {args:?}: {err}");
            assert!(
                err.contains(&format!("`gitops.path: {path}` leaves the repository")),
                "{tag} {args:?}: {err}"
            );
            assert_eq!(
                harness::count_docker_objects(&lab.name),
                0,
                "{tag} {args:?} made something: {err}"
            );
            assert!(!data_dir(&lab).exists(), "{tag} {args:?} wrote a record");
        }
        // `validate` names the line and column of the lab file.
        let err = stderr(&lab.run(&["validate"]));
        assert!(err.contains("playground.yaml:"), "{tag}: {err}");
    }
}

#[test]
fn a_revision_that_names_nothing_is_said_plainly_not_in_gix_debug_text() {
    let lab = TestLab::new("restorerev")
        .yaml(&format!(
            "  manifest: {}\ngitops:\n  repo: .\n  revision: HEAD\n  path: apps\n",
            fixture()
        ))
        .write();
    let (bare, _, _) = bare_lab_repo(&lab);
    let bare_s = bare.to_str().unwrap();
    let out = lab.run(&["restore", "--from", bare_s, "--revision", "no-such-branch"]);
    assert!(!out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("{bare_s}: `no-such-branch` names no commit\n")),
        "{err}"
    );
    assert!(
        !err.contains("Message {")
            && !err.contains("NotFound {")
            && !err.contains("couldn't parse")
            && !err.contains("Bytes("),
        "gix's Debug text: {err}"
    );
    assert!(
        err.contains("hint: use a branch, a tag or a commit id"),
        "{err}"
    );
    assert_eq!(harness::count_docker_objects(&lab.name), 0, "nothing made");
}

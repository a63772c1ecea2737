//! Behaviour of merge, remove and extract on real files in temp directories.

use std::ffi::OsStr;
use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::value::Yaml;
use super::*;

/// What k3s writes to /etc/rancher/k3s/k3s.yaml, server already rewritten.
pub(super) fn k3s_yaml(server: &str) -> String {
    format!(
        "apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJkekNDQVIyZ0F3SUJBZ0lCQURBS0JnZ3Foa2pPUFFRREFqQWpNU0V3SHdZRFZRUUREQmhyTTNNdGMyVnkK
    server: {server}
  name: default
contexts:
- context:
    cluster: default
    user: default
  name: default
current-context: default
kind: Config
preferences: {{}}
users:
- name: default
  user:
    client-certificate-data: Y2VydA==
    client-key-data: a2V5
"
    )
}

/// A lab name, for the calls that take one.
pub(super) fn lab(name: &str) -> LabName {
    LabName::parse(name).unwrap()
}

pub(super) fn source(server: &str) -> Kubeconfig {
    parse_source(&k3s_yaml(server)).unwrap()
}

fn parse(text: &str) -> Yaml {
    parse_doc(Path::new("test"), text).unwrap().unwrap()
}

fn read(path: &Path) -> Yaml {
    parse(&fs::read_to_string(path).unwrap())
}

fn list<'a>(doc: &'a Yaml, key: &str) -> &'a [Yaml] {
    match doc.get(key) {
        Some(Yaml::Seq(items)) => items,
        other => panic!("{key} is not a list: {other:?}"),
    }
}

fn names(doc: &Yaml, key: &str) -> Vec<String> {
    list(doc, key)
        .iter()
        .map(|i| i.get("name").and_then(Yaml::as_str).unwrap().to_owned())
        .collect()
}

fn current(doc: &Yaml) -> Option<&str> {
    doc.get("current-context").and_then(Yaml::as_str)
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

const USER_FILE: &str = r#"# my clusters
apiVersion: v1
kind: Config
preferences:
  colors: true
clusters:
- name: prod
  cluster:
    server: https://prod.example:6443
    extensions:
    - name: client.authentication.k8s.io/exec
      extension: {audience: "a:b # not a comment"}
  x-unknown: keep me
- name: playground-labx
  cluster: {server: "https://127.0.0.1:1"}
users:
- name: prod
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: aws
      args: [eks, get-token, --cluster-name, prod]
      env:
      - {name: AWS_PROFILE, value: "it's \"quoted\""}
      provideClusterInfo: true
- name: playground-labx
  user: {token: abc}
contexts:
- name: prod
  context: {cluster: prod, user: prod, namespace: ünïcode}
- name: playground-labx
  context: {cluster: playground-labx, user: playground-labx}
current-context: prod
extensions:
- name: mine
  extension:
    multi: |
      line one
      line two
some-future-key: [1, 2.5, yes, ~, "0755"]
"#;

fn user_file(dir: &Path) -> PathBuf {
    let path = dir.join("config");
    fs::write(&path, USER_FILE).unwrap();
    path
}

#[test]
fn target_path_takes_first_nonempty_kubeconfig_entry() {
    let home = Path::new("/home/u");
    let t = |env: Option<&str>| target_path(env.map(OsStr::new), Some(home)).unwrap();
    assert_eq!(t(Some("/a/b:/c/d")), PathBuf::from("/a/b"));
    assert_eq!(t(Some("::/c/d")), PathBuf::from("/c/d"));
    assert_eq!(t(Some("")), PathBuf::from("/home/u/.kube/config"));
    assert_eq!(t(None), PathBuf::from("/home/u/.kube/config"));
    assert!(matches!(
        target_path(None, None),
        Err(KubeconfigError::NoTarget)
    ));
}

#[test]
fn merge_into_missing_file_creates_dir_and_private_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/.kube/config");
    let out = merge(&path, &lab("lab"), &source("https://127.0.0.1:6550"), false).unwrap();
    assert_eq!(out.path, path);
    assert_eq!(out.context, "playground-lab");
    assert!(!out.replaced);
    assert!(out.switched, "an absent current-context is set");
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(path.parent().unwrap()), 0o700);

    let doc = read(&path);
    assert_eq!(doc.get("apiVersion"), Some(&"v1".into()));
    assert_eq!(doc.get("kind"), Some(&"Config".into()));
    for key in ["clusters", "users", "contexts"] {
        assert_eq!(names(&doc, key), ["playground-lab"]);
    }
    assert_eq!(current(&doc), Some("playground-lab"));
    let cluster = list(&doc, "clusters")[0].get("cluster").unwrap();
    assert_eq!(
        cluster.get("server"),
        Some(&"https://127.0.0.1:6550".into())
    );
    assert!(cluster.get("certificate-authority-data").is_some());
    let user = list(&doc, "users")[0].get("user").unwrap();
    assert_eq!(
        user.get("client-certificate-data"),
        Some(&"Y2VydA==".into())
    );
    assert_eq!(user.get("client-key-data"), Some(&"a2V5".into()));
    let context = list(&doc, "contexts")[0].get("context").unwrap();
    assert_eq!(context.get("cluster"), Some(&"playground-lab".into()));
    assert_eq!(context.get("user"), Some(&"playground-lab".into()));

    // kube's own loader accepts the result.
    let typed = Kubeconfig::from_yaml(&fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(typed.current_context.as_deref(), Some("playground-lab"));
    // No lock file of client-go's name is left behind to block kubectl.
    assert!(!dir.path().join("nested/.kube/config.lock").exists());
}

#[test]
fn a_read_only_kubeconfig_is_refused_and_left_as_it_is() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = user_file(dir.path());
    fs::set_permissions(&path, fs::Permissions::from_mode(0o400)).unwrap();
    for result in [
        merge(&path, &lab("lab"), &source("https://127.0.0.1:6550"), true).map(|_| ()),
        remove(&path, &lab("labx")).map(|_| ()),
    ] {
        let err = result.unwrap_err();
        assert!(matches!(err, KubeconfigError::ReadOnly { .. }), "{err}");
        assert!(err.to_string().contains("read-only"), "{err}");
    }
    // Not rewritten (an atomic rename needs only the directory), and its mode kept.
    assert_eq!(fs::read_to_string(&path).unwrap(), USER_FILE);
    assert_eq!(mode(&path), 0o400);
    assert!(!dir.path().join("config.lock").exists());
}

#[test]
fn merge_into_empty_or_comment_only_file() {
    for text in ["", "\n", "# nothing yet\n", "null\n"] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        fs::write(&path, text).unwrap();
        merge(&path, &lab("lab"), &source("https://127.0.0.1:1"), false).unwrap();
        let doc = read(&path);
        assert_eq!(doc.get("kind"), Some(&"Config".into()), "{text:?}");
        assert_eq!(names(&doc, "contexts"), ["playground-lab"]);
        assert_eq!(current(&doc), Some("playground-lab"));
    }
}

#[test]
fn merge_keeps_everything_else_and_current_context() {
    let dir = tempfile::tempdir().unwrap();
    let path = user_file(dir.path());
    let before = read(&path);
    let out = merge(&path, &lab("lab"), &source("https://127.0.0.1:6550"), false).unwrap();
    assert!(!out.switched);
    let after = read(&path);

    assert_eq!(current(&after), Some("prod"));
    for key in ["clusters", "users", "contexts"] {
        assert_eq!(
            names(&after, key),
            ["prod", "playground-labx", "playground-lab"]
        );
        assert_eq!(list(&after, key)[..2], list(&before, key)[..]);
    }
    for key in [
        "apiVersion",
        "kind",
        "preferences",
        "extensions",
        "some-future-key",
    ] {
        assert_eq!(after.get(key), before.get(key), "{key}");
    }
}

#[test]
fn merge_switches_context_only_when_asked_or_unset() {
    let dir = tempfile::tempdir().unwrap();
    let path = user_file(dir.path());
    let out = merge(&path, &lab("lab"), &source("https://127.0.0.1:1"), true).unwrap();
    assert!(out.switched);
    assert_eq!(current(&read(&path)), Some("playground-lab"));

    let text = USER_FILE.replace("current-context: prod", "current-context: \"\"");
    fs::write(&path, text).unwrap();
    let out = merge(&path, &lab("lab"), &source("https://127.0.0.1:1"), false).unwrap();
    assert!(out.switched, "an empty current-context is set");
    assert_eq!(current(&read(&path)), Some("playground-lab"));
}

#[test]
fn merge_replaces_in_place_and_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let path = user_file(dir.path());
    merge(&path, &lab("lab"), &source("https://127.0.0.1:1111"), false).unwrap();
    // Someone adds an entry after ours; a re-merge must not reorder it.
    let mut doc = read(&path);
    if let Some(Yaml::Seq(items)) = doc.get_mut("clusters") {
        items.push(parse("name: later\ncluster: {server: 'https://l'}"));
    }
    fs::write(&path, render(&doc).unwrap()).unwrap();

    let out = merge(&path, &lab("lab"), &source("https://127.0.0.1:2222"), false).unwrap();
    assert!(out.replaced);
    let after = read(&path);
    assert_eq!(
        names(&after, "clusters"),
        ["prod", "playground-labx", "playground-lab", "later"]
    );
    let server = list(&after, "clusters")[2]
        .get("cluster")
        .and_then(|c| c.get("server"))
        .cloned();
    assert_eq!(server, Some("https://127.0.0.1:2222".into()));

    let text = fs::read_to_string(&path).unwrap();
    merge(&path, &lab("lab"), &source("https://127.0.0.1:2222"), false).unwrap();
    assert_eq!(fs::read_to_string(&path).unwrap(), text);
}

#[test]
fn merge_collapses_duplicates_of_our_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config");
    fs::write(
        &path,
        "clusters:\n- name: playground-lab\n- name: other\n- name: playground-lab\n",
    )
    .unwrap();
    merge(&path, &lab("lab"), &source("https://127.0.0.1:1"), false).unwrap();
    assert_eq!(names(&read(&path), "clusters"), ["playground-lab", "other"]);
}

#[test]
fn remove_restores_the_original_content() {
    let dir = tempfile::tempdir().unwrap();
    let path = user_file(dir.path());
    let before = read(&path);
    merge(&path, &lab("lab"), &source("https://127.0.0.1:1"), false).unwrap();
    let out = remove(&path, &lab("lab")).unwrap();
    assert!(out.removed);
    assert!(!out.cleared_current_context);
    assert_eq!(read(&path), before);
    assert_eq!(mode(&path), 0o600);
}

#[test]
fn remove_clears_our_current_context_without_picking_another() {
    let dir = tempfile::tempdir().unwrap();
    let path = user_file(dir.path());
    merge(&path, &lab("lab"), &source("https://127.0.0.1:1"), true).unwrap();
    let out = remove(&path, &lab("lab")).unwrap();
    assert!(out.cleared_current_context);
    let doc = read(&path);
    assert_eq!(current(&doc), Some(""));
    assert_eq!(names(&doc, "contexts"), ["prod", "playground-labx"]);
}

#[test]
fn remove_from_missing_file_does_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("absent/config");
    let out = remove(&path, &lab("lab")).unwrap();
    assert!(!out.removed);
    assert!(!dir.path().join("absent").exists(), "nothing is created");
}

#[test]
fn remove_without_our_entries_leaves_file_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let path = user_file(dir.path());
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
    let out = remove(&path, &lab("lab")).unwrap();
    assert!(!out.removed);
    assert_eq!(fs::read_to_string(&path).unwrap(), USER_FILE);
    assert_eq!(mode(&path), 0o644, "an untouched file is not even chmod-ed");
}

#[test]
fn loose_mode_is_tightened_to_0600() {
    let dir = tempfile::tempdir().unwrap();
    let path = user_file(dir.path());
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
    merge(&path, &lab("lab"), &source("https://127.0.0.1:1"), false).unwrap();
    assert_eq!(mode(&path), 0o600);
}

#[test]
fn symlinked_kubeconfig_keeps_its_link() {
    let dir = tempfile::tempdir().unwrap();
    let real_dir = dir.path().join("dotfiles");
    fs::create_dir(&real_dir).unwrap();
    let real = user_file(&real_dir);
    let link = dir.path().join("config");
    // Relative, as dotfile managers usually make them.
    symlink("dotfiles/config", &link).unwrap();

    let out = merge(&link, &lab("lab"), &source("https://127.0.0.1:1"), false).unwrap();
    assert_eq!(out.path, real);
    assert!(
        fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(names(&read(&real), "contexts").len(), 3);

    remove(&link, &lab("lab")).unwrap();
    assert!(
        fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(names(&read(&real), "contexts").len(), 2);
}

#[test]
fn dangling_symlink_gets_its_target_created() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("config");
    symlink(dir.path().join("elsewhere/config"), &link).unwrap();
    merge(&link, &lab("lab"), &source("https://127.0.0.1:1"), false).unwrap();
    assert!(
        fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(
        names(&read(&dir.path().join("elsewhere/config")), "users"),
        ["playground-lab"]
    );
}

#[test]
fn a_parse_error_never_quotes_the_file() {
    // serde-saphyr can attach a snippet of the input to its error; in a kubeconfig that is
    // keys and tokens. Neither the message nor the error chain nor Debug may hold them.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config");
    let text =
        "apiVersion: v1\nusers:\n- name: a\n  user:\n    token: s3cr3t-t0ken\n    x: [unclosed\n";
    fs::write(&path, text).unwrap();
    let err = merge(&path, &lab("lab"), &source("https://127.0.0.1:1"), false).unwrap_err();
    assert!(matches!(err, KubeconfigError::Parse { .. }), "{err}");
    let mut seen = format!("{err} {err:?}");
    let mut at: Option<&dyn std::error::Error> = std::error::Error::source(&err);
    while let Some(e) = at {
        seen.push_str(&format!(" {e} {e:?}"));
        at = e.source();
    }
    assert!(!seen.contains("s3cr3t"), "{seen}");

    // Not UTF-8: the error keeps no bytes of the file either.
    fs::write(&path, b"users:\n- token: s3cr3t\xff\n").unwrap();
    let err = merge(&path, &lab("lab"), &source("https://127.0.0.1:1"), false).unwrap_err();
    assert!(err.to_string().contains("not UTF-8"), "{err}");
    assert!(!format!("{err:?}").contains("115, 51, 99"), "{err:?}");
}

#[test]
fn invalid_yaml_is_reported_with_location_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config");
    let text = "apiVersion: v1\nclusters:\n- name: a\n  cluster: [unclosed\n";
    fs::write(&path, text).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();

    let err = merge(&path, &lab("lab"), &source("https://127.0.0.1:1"), false).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, KubeconfigError::Parse { .. }), "{msg}");
    let prefix = format!("cannot parse {}:", path.display());
    assert!(msg.starts_with(&prefix), "{msg}");
    assert!(
        msg.contains("nothing was changed"),
        "says the file is untouched: {msg}"
    );
    assert_eq!(fs::read_to_string(&path).unwrap(), text);
    assert_eq!(mode(&path), 0o644);

    assert!(matches!(
        remove(&path, &lab("lab")),
        Err(KubeconfigError::Parse { .. })
    ));
    assert_eq!(fs::read_to_string(&path).unwrap(), text);
}

#[test]
fn unusual_yaml_is_refused_rather_than_altered() {
    for text in [
        "a: !custom tagged\n",    // the tag would be dropped
        "a: 1\na: 2\n",           // which one did the user mean?
        "---\na: 1\n---\nb: 2\n", // a second document would be lost
        "clusters: {name: x}\n",  // not a list
        "- just\n- a list\n",     // not a mapping
        "current-context: [a]\n", // not a string
    ] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        fs::write(&path, text).unwrap();
        let err = merge(&path, &lab("lab"), &source("https://127.0.0.1:1"), false).unwrap_err();
        assert!(
            matches!(
                err,
                KubeconfigError::Parse { .. } | KubeconfigError::Shape { .. }
            ),
            "{text:?}: {err}"
        );
        assert!(err.to_string().contains("nothing was changed"), "{err}");
        assert_eq!(fs::read_to_string(&path).unwrap(), text);
    }
}

#[test]
fn yaml_edge_values_survive_a_merge() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config");
    let text = "\
x-values:
  octal: 0755
  hex: 0x1F
  inf: .inf
  nan: .nan
  yes: on
  anchor: &a {k: v}
  alias: *a
  1: int key
  block: |
    keep
      indent
  folded: >
    folded
    text
  empty: ''
  date: 2001-12-14
  quote: 'it''s'
  long: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
";
    fs::write(&path, text).unwrap();
    let before = read(&path);
    merge(&path, &lab("lab"), &source("https://127.0.0.1:1"), false).unwrap();
    let written = fs::read_to_string(&path).unwrap();
    assert_eq!(read(&path).get("x-values"), before.get("x-values"));
    // Long single-line strings stay plain scalars, not folded blocks.
    assert!(written.contains("long: aaaa"), "{written}");
}

#[test]
fn kubectl_lock_file_is_respected() {
    let dir = tempfile::tempdir().unwrap();
    let path = user_file(dir.path());
    let kubectl_lock = dir.path().join("config.lock");
    fs::write(&kubectl_lock, "").unwrap();

    let err = merge_with_wait(
        &path,
        &lab("lab"),
        &source("https://127.0.0.1:1"),
        false,
        Duration::from_millis(120),
    )
    .unwrap_err();
    assert!(
        matches!(err, KubeconfigError::LockedByOther { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("config.lock"), "{err}");
    assert_eq!(fs::read_to_string(&path).unwrap(), USER_FILE);
    assert!(
        kubectl_lock.exists(),
        "someone else's lock is not ours to delete"
    );

    fs::remove_file(&kubectl_lock).unwrap();
    merge(&path, &lab("lab"), &source("https://127.0.0.1:1"), false).unwrap();
    assert!(!kubectl_lock.exists());
}

#[test]
fn bad_sources_are_refused_before_touching_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = user_file(dir.path());
    let mut two = source("https://a");
    two.clusters.push(two.clusters[0].clone());
    let mut no_server = source("https://a");
    no_server.clusters[0].cluster.as_mut().unwrap().server = None;
    for bad in [two, no_server, Kubeconfig::default()] {
        let err = merge(&path, &lab("lab"), &bad, false).unwrap_err();
        assert!(
            matches!(err, KubeconfigError::InvalidSource { .. }),
            "{err}"
        );
    }
    assert_eq!(fs::read_to_string(&path).unwrap(), USER_FILE);
}

//! `playground init --from-k3d`: the seed user's k3d config (tests/fixtures/seed) becomes a
//! lab that `validate` accepts, with what was not converted listed. No Docker.

use std::path::Path;

use crate::support::harness::{self, TestLab};

fn seed_config() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/seed/k3d-config.yml")
        .display()
        .to_string()
}

#[test]
fn init_from_k3d_writes_a_lab_that_validates_and_lists_what_it_left_out() {
    let lab = TestLab::new("fromk3d");
    std::fs::create_dir_all(lab.home()).unwrap();
    let dir = lab.dir.path().join("converted");
    let config = seed_config();

    let out = lab
        .cmd(&["init", "--from-k3d", &config, dir.to_str().unwrap()])
        .output()
        .unwrap();
    let err = harness::stderr(&out);
    assert!(out.status.success(), "exit {:?}\n{err}", out.status.code());
    // One line per key with no equivalent, at its place in the k3d file.
    assert!(
        err.contains(&format!("{config}:15:9: kubeAPI.host: not converted: ")),
        "{err}"
    );
    assert!(err.contains("the UI goes to 8081"), "{err}");

    let lab_file = dir.join("playground.yaml");
    let text = std::fs::read_to_string(&lab_file).unwrap();
    assert!(
        text.starts_with("# yaml-language-server: $schema="),
        "{text}"
    );
    assert!(text.contains("#   kubeAPI.host (line 15): "), "{text}");
    assert!(text.contains("- \"8080:80@loadbalancer\""), "{text}");
    assert!(text.contains("- \"--disable=traefik@server:0\""), "{text}");
    assert!(dir.join("apps").is_dir(), "the sample's apps come along");

    let out = lab
        .cmd(&["validate", "-f", lab_file.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        harness::stderr(&out)
    );

    // A second conversion into the same directory is refused, and changes nothing.
    let again = lab
        .cmd(&["init", "--from-k3d", &config, dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(2), "{}", harness::stderr(&again));
    assert!(harness::stderr(&again).contains("already holds a lab"));
    assert_eq!(std::fs::read_to_string(&lab_file).unwrap(), text);
}

#[test]
fn init_from_k3d_refuses_another_kind_at_its_line_and_column() {
    let lab = TestLab::new("fromk3dbad");
    std::fs::create_dir_all(lab.home()).unwrap();
    let config = lab.dir.path().join("cluster.yml");
    std::fs::write(&config, "apiVersion: k3d.io/v1alpha5\nkind: ClusterList\n").unwrap();
    let out = lab
        .cmd(&["init", "--from-k3d", config.to_str().unwrap(), "new"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = harness::stderr(&out);
    assert!(
        err.contains(&format!(
            "{}:2:7: unsupported k3d kind `ClusterList`",
            config.display()
        )),
        "{err}"
    );
    assert!(err.contains("hint: "), "{err}");
    assert!(!lab.dir.path().join("new").exists(), "nothing written");
}

/// A k3d config whose `registries.config` holds a registry password in clear: the lab gets the
/// registry, `validate` names the variable to export, and the password reaches neither the
/// output, the lab file, nor the Git history `init` starts (a lab file goes into Git).
#[test]
fn init_from_k3d_keeps_a_registry_password_out_of_the_lab_and_its_git_history() {
    let lab = TestLab::new("fromk3dreg");
    std::fs::create_dir_all(lab.home()).unwrap();
    let password = "k3d-pa$$word\" \\ <&>";
    let config = lab.dir.path().join("k3d.yml");
    let embedded = format!(
        "mirrors:\n  docker.io:\n    endpoint: [\"https://mirror.corp.test\"]\nconfigs:\n  mirror.corp.test:\n    auth:\n      username: ada\n      password: {}\n",
        serde_json::to_string(password).unwrap()
    );
    std::fs::write(
        &config,
        format!(
            "apiVersion: k3d.io/v1alpha5\nkind: Simple\nmetadata: {{ name: corp }}\nregistries:\n  config: {}\n",
            serde_json::to_string(&embedded).unwrap()
        ),
    )
    .unwrap();
    let dir = lab.dir.path().join("converted");
    let out = lab
        .cmd(&[
            "init",
            "--from-k3d",
            config.to_str().unwrap(),
            dir.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let err = harness::stderr(&out);
    assert!(out.status.success(), "exit {:?}\n{err}", out.status.code());
    assert!(
        err.contains("export REGISTRY_MIRROR_CORP_TEST_PASSWORD"),
        "{err}"
    );
    let lab_file = dir.join("playground.yaml");
    let text = std::fs::read_to_string(&lab_file).unwrap();
    assert!(
        text.contains("password: ${env:REGISTRY_MIRROR_CORP_TEST_PASSWORD}"),
        "{text}"
    );

    // `validate` reads the registry, and says the variable is not set here.
    let checked = lab
        .cmd(&["validate", "-f", lab_file.to_str().unwrap()])
        .env_remove("REGISTRY_MIRROR_CORP_TEST_PASSWORD")
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&checked.stdout),
        harness::stderr(&checked)
    );
    assert!(
        said.contains("REGISTRY_MIRROR_CORP_TEST_PASSWORD"),
        "{said}"
    );

    let history = std::process::Command::new("git")
        .args(["log", "-p", "--all"])
        .current_dir(&dir)
        .output()
        .unwrap();
    let history = String::from_utf8_lossy(&history.stdout);
    assert!(
        history.contains("REGISTRY_MIRROR_CORP_TEST_PASSWORD"),
        "{history}"
    );
    let everything = format!(
        "{}\n{err}\n{text}\n{history}\n{said}",
        String::from_utf8_lossy(&out.stdout)
    );
    for form in [
        password.to_string(),
        serde_json::to_string(password).unwrap(),
        "pa$$word".to_string(),
    ] {
        assert!(
            !everything.contains(&form),
            "{form:?} leaked:\n{everything}"
        );
    }
}

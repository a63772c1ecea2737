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

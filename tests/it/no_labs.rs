//! What a newcomer meets before any lab exists, and the smaller promises of issue 22 (item 9).

use crate::support::harness::{TestLab, stderr};

#[test]
fn status_of_a_lab_that_does_not_exist_exits_4_and_names_it() {
    // No lab file in the folder. Other tests' labs may run on the same engine at the same
    // time, so whether "there are no labs yet" follows is the engine's to say (the wording
    // itself is `commands::error`'s unit test); the name and the exit status are not.
    let lab = TestLab::new("nolabs");
    std::fs::create_dir_all(lab.home()).unwrap();
    let out = lab.run(&["status", "nosuch"]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("no lab named nosuch"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_lab_name_past_32_characters_is_refused_with_the_limit_and_why() {
    let lab = TestLab::new("longname").write();
    let long = format!("a{}", "b".repeat(39));
    let text = std::fs::read_to_string(lab.file()).unwrap();
    std::fs::write(lab.file(), text.replace(&lab.name, &long)).unwrap();
    let out = lab.run(&["validate"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains(&format!("invalid lab name `{long}`")), "{err}");
    assert!(
        err.contains("at most 32 characters (not 63:")
            && err.contains("playground-<name>-server-0"),
        "{err}"
    );
}

//! What a newcomer meets before any lab exists, and the smaller promises of issue 22 (item 9).

use crate::support::harness::{TestLab, stderr};

#[test]
fn status_with_no_lab_at_all_says_there_are_none_yet_and_how_to_make_one() {
    // No lab file in the folder, no lab on the engine for this HOME.
    let lab = TestLab::new("nolabs");
    std::fs::create_dir_all(lab.home()).unwrap();
    let out = lab.run(&["status"]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("error: there are no labs yet\n"), "{err}");
    assert!(!err.contains("no lab named playground"), "{err}");
    assert!(
        err.contains("`playground init` writes a lab file") && err.contains("`playground up`"),
        "{err}"
    );
    // A name given: that name, and that there are none.
    let out = lab.run(&["status", "nosuch"]);
    assert_eq!(out.status.code(), Some(4));
    assert!(
        stderr(&out).contains("error: no lab named nosuch: there are no labs yet"),
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

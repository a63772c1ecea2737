//! The harness itself: a hung Docker call fails its test, naming the call, instead of holding
//! CI until its own timeout (issue 22, item 10).

use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::harness::Bounded as _;

#[test]
fn a_call_past_its_deadline_is_killed_and_named_with_the_daemon_log() {
    let start = Instant::now();
    let hung = std::panic::catch_unwind(|| {
        Command::new("sleep")
            .arg("30")
            .bounded_for(None, Duration::from_secs(1))
    })
    .expect_err("a call past its deadline must fail the test");
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "waited {:?}",
        start.elapsed()
    );
    let msg = hung.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(msg.contains("`sleep 30` did not finish in 1s"), "{msg}");
    assert!(msg.contains("PLAYGROUND_TEST_DOCKER_TIMEOUT"), "{msg}");
    // The daemon log's tail, or why there is none (it is root's, or elsewhere).
    assert!(
        msg.contains("lines of ") || msg.contains("no daemon log to show"),
        "{msg}"
    );
}

#[test]
fn a_call_within_its_deadline_gives_its_output_and_input() {
    let out = Command::new("sh")
        .args(["-c", "cat; echo err >&2; exit 3"])
        .bounded_with_input(b"hello")
        .unwrap();
    assert_eq!(out.stdout, b"hello");
    assert_eq!(out.stderr, b"err\n");
    assert_eq!(out.status.code(), Some(3));
}

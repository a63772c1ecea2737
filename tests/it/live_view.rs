//! The live view: `playground` on a terminal (a pseudo-terminal of a set size, from util-linux
//! `script`, as `scripts/record-pictures` records it) draws one line per step, each cut to the
//! terminal's width, so a long title never wraps and garbles the redraws.

use std::process::{Command, Stdio};

use crate::support::harness::Bounded as _;
use crate::support::harness::{self, TestLab};

/// `s` quoted for `sh`.
fn quoted(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// `cmd` run by `script` on a pseudo-terminal of `cols` columns (its stdin and stderr the
/// terminal, its stdout to `stdout`); what the terminal received, escapes and all.
fn on_terminal(cmd: &Command, cols: u16, stdout: &std::path::Path) -> String {
    let mut line = format!("stty cols {cols} rows 40; exec");
    for word in std::iter::once(cmd.get_program()).chain(cmd.get_args()) {
        line.push(' ');
        line.push_str(&quoted(word.to_str().unwrap()));
    }
    line.push_str(&format!(" >{}", quoted(stdout.to_str().unwrap())));
    let mut script = Command::new("script");
    // -q: no "Script started" lines; -f: flush as it comes; -e: the command's exit status;
    // -c: the command; /dev/null: no typescript file (the output is on script's stdout).
    script
        .args(["-qfec", &line, "/dev/null"])
        .stdin(Stdio::null())
        .env("SHELL", "/bin/sh")
        // The terminal's width is the pty's (stty above), not an inherited COLUMNS.
        .env_remove("COLUMNS")
        .env_remove("LINES")
        .env("TERM", "xterm-256color");
    if let Some(dir) = cmd.get_current_dir() {
        script.current_dir(dir);
    }
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => script.env(k, v),
            None => script.env_remove(k),
        };
    }
    let out = script.bounded_output().expect("util-linux `script` runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{line} failed ({}):\n{text}\n{}",
        out.status,
        harness::stderr(&out)
    );
    text
}

/// One row of the terminal as the output filled it, from column 0: its text, and whether the
/// terminal got there by wrapping the row above (the output ran past the last column).
struct Row {
    text: String,
    wrapped_into: bool,
}

/// The rows `raw` wrote on a terminal of `cols` columns, in order: a row starts at `\r` or
/// `\n`, or where the terminal wraps (at the first character past the last column: a line
/// exactly as wide as the terminal does not wrap until more is written). Escape sequences
/// move no column here: the live view moves up and down (`ESC[nA`, `ESC[nB`), erases
/// (`ESC[2K`) and returns (`\r`) before it writes a line.
fn rows(raw: &str, cols: usize) -> Vec<Row> {
    let mut rows = vec![Row {
        text: String::new(),
        wrapped_into: false,
    }];
    let mut col = 0;
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => {
                // CSI: parameters and intermediates up to a final byte in @..~; else one char.
                if chars.next_if_eq(&'[').is_some() {
                    while chars.next().is_some_and(|b| !('@'..='~').contains(&b)) {}
                } else {
                    chars.next();
                }
            }
            '\r' | '\n' => {
                col = 0;
                rows.push(Row {
                    text: String::new(),
                    wrapped_into: false,
                });
            }
            c if c.is_control() => {}
            c => {
                let w = console::measure_text_width(c.encode_utf8(&mut [0; 4]));
                if col + w > cols {
                    col = 0;
                    rows.push(Row {
                        text: String::new(),
                        wrapped_into: true,
                    });
                }
                col += w;
                rows.last_mut().unwrap().text.push(c);
            }
        }
    }
    rows.retain(|r| !r.text.is_empty());
    rows
}

/// Whether a row opens a step line: a spinner (braille), or the ✓ / ✗ of a finished step.
fn is_step_line(text: &str) -> bool {
    text.starts_with(|c: char| ('\u{2800}'..='\u{28ff}').contains(&c) || c == '✓' || c == '✗')
}

/// Every step line drawn on a terminal of `cols` columns fits its row: the terminal never
/// wrapped one into the row below (a step line may fill its row to the last column, and the
/// next line then starts on the row below, as the live view lays them out). Returns the step
/// rows drawn.
fn assert_step_lines_fit(raw: &str, cols: usize) -> Vec<String> {
    let rows = rows(raw, cols);
    let mut steps = Vec::new();
    for pair in rows.windows(2) {
        let (above, row) = (&pair[0], &pair[1]);
        assert!(
            !(row.wrapped_into && is_step_line(&above.text) && !is_step_line(&row.text)),
            "a step line wider than the terminal's {cols} columns wrapped:\n{}\n{}",
            above.text,
            row.text
        );
    }
    steps.extend(
        rows.into_iter()
            .filter(|r| is_step_line(&r.text))
            .map(|r| r.text),
    );
    steps
}

#[test]
fn live_step_lines_fit_an_80_and_a_120_column_terminal_whatever_the_title() {
    // The longest lab name there is (32 characters): its Docker objects' names make step
    // titles of 190 characters and more, as the issue saw them.
    let mut lab = TestLab::new("wide");
    let fill = 32 - lab.name.len() - 1;
    lab.name = format!("{}-{}", lab.name, "w".repeat(fill));
    let lab = lab.agents(2).write();
    let plan = harness::document(
        lab.ok(&["up", "--cluster-only", "--dry-run", "-o", "json"])
            .lines()
            .last()
            .unwrap(),
        "UpPlan",
    );
    let longest = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        // " 5.   write …": a phase's number, then the step's title.
        .map(|s| {
            s.as_str()
                .unwrap()
                .trim_start()
                .trim_start_matches(|c: char| c.is_ascii_digit() || c == '.')
                .trim_start()
        })
        .max_by_key(|s| s.chars().count())
        .unwrap()
        .to_string();
    assert!(longest.chars().count() >= 190, "{longest:?}");

    let stdout = lab.dir.path().join("stdout");
    for (cols, up) in [(80, true), (80, false), (120, true)] {
        let args: &[&str] = if up {
            &["up", "--cluster-only"]
        } else {
            &["drop", "--yes"]
        };
        let raw = on_terminal(&lab.cmd(args), cols as u16, &stdout);
        let steps = assert_step_lines_fit(&raw, cols);
        if up {
            // The live view drew the long title, cut: its start is on a step line.
            let start: String = longest.chars().take(40).collect();
            assert!(
                steps.iter().any(|s| s.contains(&start)),
                "{start:?} on no step line:\n{}",
                steps.join("\n")
            );
            lab.assert_no_complaints();
        }
    }
}

//! [`Ui`]: one line per step, or one JSON event per step ([`Mode::Json`]).
//!
//! ## The event stream (`up -o json`, `restore -o json`)
//! One JSON object per line on stdout, each in the [`Document`] envelope with kind `Event`:
//! ```json
//! {"apiVersion":"playground.dev/v1alpha1","kind":"Event","type":"step","name":"create the nodes","status":"started"}
//! {"apiVersion":"playground.dev/v1alpha1","kind":"Event","type":"step","name":"create the nodes","status":"progress","detail":"1/3 nodes Ready"}
//! {"apiVersion":"playground.dev/v1alpha1","kind":"Event","type":"step","name":"create the nodes","status":"done","detail":"3 nodes","elapsedMs":5120}
//! {"apiVersion":"playground.dev/v1alpha1","kind":"Event","type":"warning","message":"…"}
//! {"apiVersion":"playground.dev/v1alpha1","kind":"Event","type":"info","message":"…"}
//! {"apiVersion":"playground.dev/v1alpha1","kind":"Event","type":"error","message":"…","hint":"…","exitCode":6}
//! ```
//! The command's own document (`UpResult`) is the last line on success, an `error` event on
//! failure. `minikube start -o json` streams the same idea as CloudEvents
//! (kubernetes/minikube `pkg/minikube/out/register/log.go`: step, info, warning, error types
//! under `data`); we keep our own envelope so one parser reads the events and the result.
//! Keys that do not apply to an event are left out. Logs stay on stderr.

use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use super::document::{Document, Kind};

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Live spinners (stderr is a terminal).
    Live,
    /// One plain line when a step starts and when it ends.
    Plain,
    /// Nothing but errors.
    Quiet,
    /// One JSON event per line on stdout (see the module docs); for `-o json` of the commands
    /// that stream (`up`, `restore`).
    Json,
}

/// One line of the event stream (kind `Event`).
#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
struct Event<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    elapsed_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    hint: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    exit_code: Option<i32>,
}

impl Kind for Event<'_> {
    const KIND: &'static str = "Event";
}

/// Print one document as one line on stdout, whole (stdout's lock is held for the line).
pub(crate) fn print_line<T: Kind>(value: &T) {
    // A serde_json failure here would be a bug in a derive; never a reason to stop `up`.
    if let Ok(text) = serde_json::to_string(&Document::new(value)) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{text}");
        let _ = out.flush();
    }
}

/// The progress reporter, cheap to clone.
#[derive(Clone)]
pub struct Ui {
    mode: Mode,
    multi: MultiProgress,
}

/// A running step. Finish it with [`Step::done`] or [`Step::fail`]; dropping it unfinished
/// clears its line.
pub(crate) struct Step {
    ui: Ui,
    bar: Option<ProgressBar>,
    label: String,
    started: Instant,
    finished: bool,
    /// The last detail streamed ([`Mode::Json`]): a poll that learns nothing new prints nothing.
    detail: Mutex<String>,
}

impl Ui {
    /// `Json` when the command streams events, else `Live` on a terminal, `Plain` otherwise,
    /// `Quiet` if asked. `-q` does not silence the stream: it is the output asked for.
    pub fn new(quiet: bool, events: bool) -> Self {
        let mode = if events {
            Mode::Json
        } else if quiet {
            Mode::Quiet
        } else if std::io::stderr().is_terminal() {
            Mode::Live
        } else {
            Mode::Plain
        };
        Self::with_mode(mode)
    }

    pub fn with_mode(mode: Mode) -> Self {
        let multi = MultiProgress::with_draw_target(if mode == Mode::Live {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        });
        Ui { mode, multi }
    }

    pub(crate) fn mode(&self) -> Mode {
        self.mode
    }

    /// Start a step.
    pub(crate) fn step(&self, label: impl Into<String>) -> Step {
        let label = label.into();
        let bar = match self.mode {
            Mode::Live => {
                let bar = self.multi.add(ProgressBar::new_spinner());
                bar.set_style(
                    // `wide_msg`: the title cut to the terminal's width. A line that wrapped
                    // (titles run to 190 characters) garbled every redraw of the live view on
                    // an 80- or 120-column terminal. The plain view (stderr not a terminal)
                    // and `-o json` keep them whole.
                    ProgressStyle::with_template("{spinner:.cyan} {wide_msg} {elapsed:.dim}")
                        .unwrap(),
                );
                bar.set_message(label.clone());
                bar.enable_steady_tick(Duration::from_millis(100));
                Some(bar)
            }
            Mode::Plain => {
                self.line(&format!("• {label} …"));
                None
            }
            Mode::Json => {
                print_line(&Event {
                    kind: "step",
                    name: Some(&label),
                    status: Some("started"),
                    ..Event::default()
                });
                None
            }
            Mode::Quiet => None,
        };
        Step {
            ui: self.clone(),
            bar,
            label,
            started: Instant::now(),
            finished: false,
            detail: Mutex::new(String::new()),
        }
    }

    /// A byte-progress bar (image pulls). Hidden unless live.
    pub(crate) fn bar(&self, label: impl Into<String>, total: u64) -> ProgressBar {
        if self.mode != Mode::Live {
            return ProgressBar::hidden();
        }
        let bar = self.multi.add(ProgressBar::new(total));
        bar.set_style(
            ProgressStyle::with_template("  {msg:24} [{bar:30}] {bytes}/{total_bytes}")
                .unwrap()
                .progress_chars("=> "),
        );
        bar.set_message(label.into());
        bar
    }

    /// Print a line (above the bars when live; an `info` event in the stream). Suppressed in
    /// quiet mode.
    pub(crate) fn line(&self, text: &str) {
        match self.mode {
            Mode::Quiet => {}
            Mode::Json => print_line(&Event {
                kind: "info",
                message: Some(text),
                ..Event::default()
            }),
            Mode::Live => {
                let _ = self.multi.println(text);
            }
            Mode::Plain => {
                let _ = writeln!(std::io::stderr(), "{text}");
            }
        }
    }

    /// A warning, shown in every mode but quiet (a `warning` event in the stream).
    pub(crate) fn warn(&self, text: &str) {
        match self.mode {
            Mode::Json => print_line(&Event {
                kind: "warning",
                message: Some(text),
                ..Event::default()
            }),
            _ => self.line(&format!("warning: {text}")),
        }
    }

    /// The error that ended the command, as the stream's last event (the binary prints it on
    /// stderr as well, in every mode). Nothing outside [`Mode::Json`].
    pub fn error(&self, message: &str, hint: Option<&str>, exit_code: i32) {
        if self.mode == Mode::Json {
            print_line(&Event {
                kind: "error",
                message: Some(message),
                hint,
                exit_code: Some(exit_code),
                ..Event::default()
            });
        }
    }

    /// A writer for log output that does not tear live bars.
    pub fn log_writer(&self) -> LogWriter {
        LogWriter {
            multi: Arc::new(self.multi.clone()),
            live: self.mode == Mode::Live,
        }
    }
}

impl Step {
    /// Update the step's message (e.g. "2/3 nodes Ready").
    pub(crate) fn set_detail(&self, detail: &str) {
        if let Some(bar) = &self.bar {
            bar.set_message(format!("{} — {detail}", self.label));
        }
        if self.ui.mode == Mode::Json {
            let mut last = self.detail.lock().unwrap_or_else(|e| e.into_inner());
            if *last != detail {
                detail.clone_into(&mut last);
                print_line(&Event {
                    kind: "step",
                    name: Some(&self.label),
                    status: Some("progress"),
                    detail: Some(detail),
                    ..Event::default()
                });
            }
        }
    }

    pub(crate) fn done(mut self) {
        self.finish(true, None);
    }

    pub(crate) fn done_with(mut self, note: &str) {
        self.finish(true, Some(note));
    }

    pub(crate) fn fail(mut self) {
        self.finish(false, None);
    }

    fn finish(&mut self, ok: bool, note: Option<&str>) {
        self.finished = true;
        if self.ui.mode == Mode::Json {
            print_line(&Event {
                kind: "step",
                name: Some(&self.label),
                status: Some(if ok { "done" } else { "failed" }),
                detail: note,
                elapsed_ms: Some(self.started.elapsed().as_millis() as u64),
                ..Event::default()
            });
            return;
        }
        let mark = if ok { "✓" } else { "✗" };
        let secs = self.started.elapsed().as_secs_f64();
        let note = note.map(|n| format!(" ({n})")).unwrap_or_default();
        let text = format!("{mark} {}{note} [{secs:.1}s]", self.label);
        match &self.bar {
            Some(bar) => {
                bar.set_style(ProgressStyle::with_template("{wide_msg}").unwrap());
                bar.finish_with_message(text);
            }
            None => self.ui.line(&text),
        }
    }
}

impl Drop for Step {
    fn drop(&mut self) {
        if !self.finished
            && let Some(bar) = &self.bar
        {
            bar.finish_and_clear();
        }
    }
}

/// See [`Ui::log_writer`].
#[derive(Clone)]
pub struct LogWriter {
    multi: Arc<MultiProgress>,
    live: bool,
}

impl Write for LogWriter {
    /// One formatted log event per call (tracing-subscriber's fmt layer writes each event
    /// whole), so a secret is never split across two calls and is masked here.
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        let masked = super::redact::mask(&text);
        if self.live {
            self.multi
                .suspend(|| std::io::stderr().write_all(masked.as_bytes()))?;
        } else {
            std::io::stderr().write_all(masked.as_bytes())?;
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogWriter {
    type Writer = LogWriter;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

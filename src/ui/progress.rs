//! [`Ui`]: one line per step.

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Live spinners (stderr is a terminal).
    Live,
    /// One plain line when a step starts and when it ends.
    Plain,
    /// Nothing but errors.
    Quiet,
}

/// The progress reporter, cheap to clone.
#[derive(Clone)]
pub struct Ui {
    mode: Mode,
    multi: MultiProgress,
}

/// A running step. Finish it with [`Step::done`] or [`Step::fail`]; dropping it unfinished
/// clears its line.
pub struct Step {
    ui: Ui,
    bar: Option<ProgressBar>,
    label: String,
    started: Instant,
    finished: bool,
}

impl Ui {
    /// `Live` on a terminal, `Plain` otherwise, `Quiet` if asked.
    pub fn new(quiet: bool) -> Self {
        let mode = if quiet {
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

    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Start a step.
    pub fn step(&self, label: impl Into<String>) -> Step {
        let label = label.into();
        let bar = match self.mode {
            Mode::Live => {
                let bar = self.multi.add(ProgressBar::new_spinner());
                bar.set_style(
                    ProgressStyle::with_template("{spinner:.cyan} {msg} {elapsed:.dim}").unwrap(),
                );
                bar.set_message(label.clone());
                bar.enable_steady_tick(Duration::from_millis(100));
                Some(bar)
            }
            Mode::Plain => {
                self.line(&format!("• {label} …"));
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
        }
    }

    /// A byte-progress bar (image pulls). Hidden unless live.
    pub fn bar(&self, label: impl Into<String>, total: u64) -> ProgressBar {
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

    /// Print a line (above the bars when live). Suppressed in quiet mode.
    pub fn line(&self, text: &str) {
        match self.mode {
            Mode::Quiet => {}
            Mode::Live => {
                let _ = self.multi.println(text);
            }
            Mode::Plain => {
                let _ = writeln!(std::io::stderr(), "{text}");
            }
        }
    }

    /// A warning, shown in every mode but quiet.
    pub fn warn(&self, text: &str) {
        self.line(&format!("warning: {text}"));
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
    pub fn set_detail(&self, detail: &str) {
        if let Some(bar) = &self.bar {
            bar.set_message(format!("{} — {detail}", self.label));
        }
    }

    pub fn done(mut self) {
        self.finish("✓", None);
    }

    pub fn done_with(mut self, note: &str) {
        self.finish("✓", Some(note));
    }

    pub fn fail(mut self) {
        self.finish("✗", None);
    }

    fn finish(&mut self, mark: &str, note: Option<&str>) {
        self.finished = true;
        let secs = self.started.elapsed().as_secs_f64();
        let note = note.map(|n| format!(" ({n})")).unwrap_or_default();
        let text = format!("{mark} {}{note} [{secs:.1}s]", self.label);
        match &self.bar {
            Some(bar) => {
                bar.set_style(ProgressStyle::with_template("{msg}").unwrap());
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

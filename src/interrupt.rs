//! Ctrl-C (SIGINT) and SIGTERM, as one event.
//!
//! A terminal sends SIGINT; CI runners, `timeout` and `docker stop` send SIGTERM. Both mean
//! "stop now", and both must leave nothing half-made. [`install`] takes over both signals once,
//! at start:
//! - while no command holds a [`Guard`], a signal ends the process at once (exit 128 + N), as
//!   the default action would: a `status` or a `resume` wait stops there, with nothing to undo;
//! - while a command holds one (`up` and `restore` roll a new lab back, `image import` removes
//!   its copies, `argocd` waits for the CLI it runs), the signal is delivered to
//!   [`interrupted`] instead, and the command stops its work and cleans up;
//! - a second signal while the cleanup runs ends the process anyway: the user insists, and
//!   `playground drop` removes whatever is left.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::watch;

/// Commands holding a [`Guard`] right now.
static GUARDS: AtomicUsize = AtomicUsize::new(0);

/// The first signal number, once one has arrived (0 until then).
static FIRED: OnceLock<watch::Sender<i32>> = OnceLock::new();

fn fired() -> &'static watch::Sender<i32> {
    FIRED.get_or_init(|| watch::channel(0).0)
}

/// Take over SIGINT and SIGTERM for the rest of the process. Call once, inside the runtime.
pub fn install() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut int = signal(SignalKind::interrupt())?;
        let mut term = signal(SignalKind::terminate())?;
        tokio::spawn(async move {
            let mut count = 0;
            loop {
                let number = tokio::select! {
                    _ = int.recv() => 2,
                    _ = term.recv() => 15,
                };
                count += 1;
                if GUARDS.load(Ordering::SeqCst) == 0 || count > 1 {
                    if count > 1 {
                        eprintln!(
                            "\ninterrupted again: stopping now; `playground drop` removes what is left"
                        );
                    }
                    std::process::exit(128 + number);
                }
                fired().send_replace(number);
            }
        });
    }
    #[cfg(not(unix))]
    {
        tokio::spawn(async move {
            let mut count = 0;
            while tokio::signal::ctrl_c().await.is_ok() {
                count += 1;
                if GUARDS.load(Ordering::SeqCst) == 0 || count > 1 {
                    std::process::exit(130);
                }
                fired().send_replace(2);
            }
        });
    }
    Ok(())
}

/// While held, a signal is this command's to handle (through [`interrupted`]).
#[must_use = "the guard hands signals to the command only while it is held"]
pub(crate) struct Guard(());

/// Hold signals for the current command until the guard drops.
pub(crate) fn guard() -> Guard {
    GUARDS.fetch_add(1, Ordering::SeqCst);
    Guard(())
}

impl Drop for Guard {
    fn drop(&mut self) {
        GUARDS.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Resolves once SIGINT or SIGTERM has arrived (at once if one already has). Never resolves
/// when [`install`] was not called (unit tests, the library used on its own).
pub(crate) async fn interrupted() {
    let mut rx = fired().subscribe();
    let _ = rx.wait_for(|n| *n != 0).await;
}

/// The exit status for a command that stopped on a signal: 128 + its number, as shells
/// report it (130 for Ctrl-C, 143 for SIGTERM); 130 when none is known.
pub(crate) fn exit_code() -> i32 {
    match *fired().borrow() {
        0 => 130,
        n => 128 + n,
    }
}

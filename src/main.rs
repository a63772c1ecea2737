//! The `playground` binary: parse arguments, set up logs and progress, run, map errors to
//! exit codes. Everything else lives in the library.

use clap::Parser;
use playground::cli::{Cli, Command};
use playground::commands::args::Output;
use tracing_subscriber::EnvFilter;

/// `up -o json` and `restore -o json` stream one JSON event per step on stdout, then their
/// result (see `playground::ui`); every other command prints one document.
fn streams_events(cli: &Cli) -> bool {
    match &cli.command {
        Command::Up(args) => args.run.output.output == Output::Json,
        Command::Restore(args) => args.run.output.output == Output::Json,
        _ => false,
    }
}

fn main() {
    // Native Windows is not supported: no file modes for secrets, no unix socket, and kind
    // and k3d point Windows users at WSL2 as well. Refuse before anything else happens.
    if cfg!(not(unix)) {
        eprintln!(
            "error: playground runs on Linux and macOS only; on Windows, run it inside WSL2 (wsl --install, then Docker in WSL2 or Docker Desktop's WSL2 backend)"
        );
        std::process::exit(2);
    }
    // Shell completion: the script `playground completions SHELL` prints calls back with
    // COMPLETE=SHELL set; answer from the clap definition and exit before anything else runs.
    playground::cli::answer_completion_if_asked();
    let cli = Cli::parse();
    let ui = playground::ui::Ui::new(cli.quiet, streams_events(&cli));
    let default_level = match cli.verbose {
        // kube-client logs every failed request as an error, while `up` and `resume` poll an
        // API that is still booting; what fails for good comes back to us as an error anyway.
        0 => "warn,kube_client=off",
        1 => "playground=debug,info",
        _ => "trace",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| EnvFilter::new(default_level))
                // ureq-proto traces every byte on the wire, unredacted: the Argo CD password
                // and session token included (`playground argocd`). Never, whatever RUST_LOG says.
                .add_directive("ureq_proto=off".parse().expect("a valid directive")),
        )
        .with_writer(ui.log_writer())
        // Colour only for a person at a terminal who did not ask for none (no-color.org).
        .with_ansi(
            std::io::IsTerminal::is_terminal(&std::io::stderr())
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        )
        .with_target(false)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let code = match runtime.block_on(async {
        // Ctrl-C and SIGTERM mean the same; commands that must clean up hold a guard.
        if let Err(e) = playground::interrupt::install() {
            tracing::warn!("cannot handle Ctrl-C and SIGTERM: {e}");
        }
        cli.command.run(&ui).await
    }) {
        Ok(()) => 0,
        Err(e) => {
            if e.is_reported() {
                let (message, hint) = e.message_and_hint();
                eprintln!("error: {message}");
                if let Some(hint) = &hint {
                    eprintln!("  hint: {hint}");
                }
                ui.error(&message, hint.as_deref(), e.exit_code());
            }
            e.exit_code()
        }
    };
    std::process::exit(code);
}

//! The `virtsync` binary: parse arguments, run the command, map its outcome
//! to an exit code (0 success, 1 error, 2 changes pending, 3 partly applied).

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = virtsync::cli::Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("VIRTSYNC_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    match virtsync::cli::run(cli) {
        Ok(code) => std::process::ExitCode::from(code),
        Err(e) => {
            let e: anyhow::Error = e.into();
            eprintln!("error: {e:#}");
            std::process::ExitCode::from(1)
        }
    }
}

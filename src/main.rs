//! The `virtsync` binary: parse arguments, run the command, map its outcome
//! to an exit code (0 success, 1 error, 2 changes pending, 3 partly applied).

use clap::Parser;

fn main() -> std::process::ExitCode {
    // Usage errors exit 1 like every other error (clap's own code, 2, is
    // `plan --exit-code`'s "changes pending"); --help and --version exit 0.
    let cli = match virtsync::cli::Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return std::process::ExitCode::from(if e.use_stderr() { 1 } else { 0 });
        }
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("VIRTSYNC_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(cli.log_level()));
    let json = matches!(&cli.command, virtsync::cli::Command::Run(a) if a.log_format == virtsync::cli::LogFormat::Json);
    let fmt = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter);
    if json {
        fmt.json().init();
    } else {
        fmt.init();
    }
    let changes_hosts = cli.changes_hosts();
    match virtsync::cli::run(cli) {
        Ok(code) => std::process::ExitCode::from(code),
        // The reader went away (`virtsync schema | head`): end quietly,
        // successfully unless the command may have changed something.
        Err(e) if virtsync::cli::is_broken_pipe(&e) => {
            std::process::ExitCode::from(if changes_hosts { 1 } else { 0 })
        }
        Err(e) => {
            let hint = virtsync::cli::error_hint(&e);
            let e: anyhow::Error = e.into();
            eprintln!("error: {}", virtsync::cli::error_text(e.as_ref()));
            if let Some(h) = hint {
                eprintln!("hint: {h}");
            }
            std::process::ExitCode::from(1)
        }
    }
}

//! What a package installs beside the binary, generated from the same clap
//! definitions as `--help` so that they never disagree with it: shell
//! completion scripts (`virtsync completions SHELL`) and man pages (the
//! hidden `virtsync manpage`, used by scripts/dist.sh).

use std::io::Write;
use std::path::Path;

use clap::CommandFactory;

use super::{exit, Cli, CliError};

/// Print the completion script for `shell` on stdout.
pub fn completions(shell: clap_complete::Shell) -> Result<u8, CliError> {
    let mut cmd = Cli::command();
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut cmd, "virtsync", &mut buf);
    std::io::stdout().lock().write_all(&buf)?;
    Ok(exit::OK)
}

/// Print virtsync.1 on stdout, or with `out_dir` write virtsync.1 and one
/// virtsync-COMMAND.1 per visible command (virtsync-snapshot-list.1, ...).
pub fn manpage(out_dir: Option<&Path>) -> Result<u8, CliError> {
    let cmd = Cli::command();
    let Some(dir) = out_dir else {
        let mut buf = Vec::new();
        clap_mangen::Man::new(cmd).render(&mut buf)?;
        std::io::stdout().lock().write_all(&buf)?;
        return Ok(exit::OK);
    };
    std::fs::create_dir_all(dir)?;
    // Built, so that every command's page lists the global flags too.
    let mut cmd = cmd.disable_help_subcommand(true);
    cmd.build();
    write_pages(cmd, dir)?;
    Ok(exit::OK)
}

/// The page of `cmd` and, recursively, of its visible subcommands.
fn write_pages(cmd: clap::Command, dir: &Path) -> std::io::Result<()> {
    // Subcommand pages are named after their whole path (virtsync-plan),
    // and their NAME line says so too.
    let name = cmd.get_display_name().unwrap_or(cmd.get_name()).to_string();
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd.clone()).render(&mut buf)?;
    std::fs::write(dir.join(format!("{name}.1")), buf)?;
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let sub_name = format!("{name}-{}", sub.get_name());
        write_pages(sub.clone().display_name(sub_name), dir)?;
    }
    Ok(())
}

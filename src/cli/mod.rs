//! The command line: argument definitions (clap derive) and one thin
//! function per command (`commands` for plan and apply, `status`,
//! `snapshot`) that calls into the library and prints results to
//! stdout (logs go to stderr).

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use serde::Serialize;

use crate::manifest::{self, Diagnostic, LoadOptions, ManifestError};

mod commands;
mod import;
mod run;
mod snapshot;
mod status;
mod wait;

/// Exit codes shared by every command (docs/commands.md).
pub use crate::reconcile::exit;

#[derive(Debug, Parser)]
#[command(
    name = "virtsync",
    version,
    about = "Declarative, GitOps-style reconciler for libvirt"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Parse and check every manifest of DIR; needs no libvirt connection.
    Validate(ManifestArgs),
    /// Dry run: show what apply would change (no writes).
    Plan(PlanArgs),
    /// Make the hosts match the manifests.
    Apply(ApplyArgs),
    /// Per object: in sync, drifted, restart pending, missing, unmanaged
    /// collision, planning error or host unreachable (read-only). Exits 0
    /// when nothing is to be done (restart pending aside), 2 otherwise.
    Status(ManifestArgs),
    /// Write manifests for objects the host already has (every field
    /// virtsync models, with its value); with --adopt, take them over.
    Import(ImportArgs),
    /// The controller: keep the hosts converged — reconcile on manifest
    /// changes, on a periodic resync and after failures (with backoff),
    /// until SIGINT/SIGTERM (the running action finishes, no new one
    /// starts, exit 0).
    Run(RunArgs),
    /// Print the JSON Schema of manifests (schemas/virtsync.schema.json).
    Schema,
    /// List a domain's snapshots, or bring it back to one.
    #[command(subcommand)]
    Snapshot(SnapshotCommand),
}

#[derive(Debug, Subcommand)]
pub enum SnapshotCommand {
    /// The snapshots of DOMAIN: name, when taken, the guest's state then,
    /// description, and whether virtsync took it.
    List(SnapshotListArgs),
    /// Bring DOMAIN back to snapshot NAME: its disks, and the memory and
    /// power state it was taken in. What the guest did since is lost.
    Revert(SnapshotRevertArgs),
}

#[derive(Debug, Args)]
pub struct HostArgs {
    /// libvirt URI of the host.
    #[arg(
        long,
        short = 'c',
        env = "LIBVIRT_DEFAULT_URI",
        default_value = "qemu:///system"
    )]
    pub connect: String,
    /// Where virtsync's inventory lives (which pools, volumes and
    /// snapshots it owns).
    #[arg(long, value_name = "DIR", default_value = "/var/lib/virtsync")]
    pub state_dir: PathBuf,
    #[arg(long, short = 'o', value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

#[derive(Debug, Args)]
pub struct SnapshotListArgs {
    pub domain: String,
    #[command(flatten)]
    pub host: HostArgs,
}

#[derive(Debug, Args)]
pub struct SnapshotRevertArgs {
    pub domain: String,
    pub name: String,
    /// Do not ask for confirmation (required without a terminal).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// How long to wait while another virtsync changes the host.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_duration)]
    pub lock_timeout: std::time::Duration,
    #[command(flatten)]
    pub host: HostArgs,
}

/// Pruning: deleting what virtsync owns whose manifests are gone (`plan`
/// shows it, `apply` does it).
#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Delete the objects this manifest set owns whose manifests are gone
    /// (domains undefined keeping their disks; volumes only with
    /// reclaimPolicy: delete). Without it they are only listed.
    #[arg(long)]
    pub prune: bool,
    /// Refuse (and delete nothing) when a prune would delete more than N objects.
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub max_deletions: usize,
    /// Prune even when no manifest is left (after --selector).
    #[arg(long)]
    pub allow_empty: bool,
    /// How long a pruned running domain gets to shut down (ACPI) before it is destroyed.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = crate::manifest::units::parse_duration)]
    pub shutdown_timeout: std::time::Duration,
}

impl PruneArgs {
    /// The prune options, with `--prune`.
    pub fn options(&self) -> Option<crate::plan::PruneOptions> {
        self.prune.then_some(crate::plan::PruneOptions {
            max_deletions: self.max_deletions,
            allow_empty: self.allow_empty,
            shutdown_timeout: self.shutdown_timeout,
        })
    }
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// What to import: NAME (a domain, network or pool of that name),
    /// domain/NAME, network/NAME or pool/NAME (a pool with its volumes).
    #[arg(
        value_name = "NAME",
        required_unless_present = "all",
        conflicts_with = "all"
    )]
    pub names: Vec<String>,
    /// Every domain, network and pool of the host, pools with their volumes.
    #[arg(long)]
    pub all: bool,
    /// Directory to write the manifests into (created if needed).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Also take the imported objects over (ownership marker, inventory):
    /// `plan` right after finds nothing to do.
    #[arg(long)]
    pub adopt: bool,
    /// Overwrite manifest files that exist in DIR.
    #[arg(long)]
    pub force: bool,
    /// Disk paths under DIR are allowed (repeatable), as for validate.
    #[arg(long = "allow-path", value_name = "DIR")]
    pub allow_path: Vec<PathBuf>,
    #[command(flatten)]
    pub host: HostArgs,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub common: ManifestArgs,
    #[command(flatten)]
    pub prune: PruneArgs,
    /// Also save the plan to FILE (JSON, mode 0600: it holds the real XML,
    /// secrets included), for `apply --plan FILE`.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Exit 0 when there is nothing to do, 2 when there are changes, 1 on error.
    #[arg(long)]
    pub exit_code: bool,
    /// Show the adoption of existing objects of the manifests' names that
    /// virtsync does not own (as `apply --adopt` would take them over).
    #[arg(long)]
    pub adopt: bool,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub common: ManifestArgs,
    /// Do not ask for confirmation (required without a terminal).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Concurrent actions per host.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub parallel: u16,
    /// Take over existing objects of the manifests' names that virtsync
    /// does not own, as they are (ownership marker, or the inventory);
    /// their differences from the manifests are planned by the next run.
    #[arg(long)]
    pub adopt: bool,
    #[command(flatten)]
    pub prune: PruneArgs,
    /// Apply the plan saved by `plan --out FILE` (no planning again);
    /// refused when the manifests or the hosts changed since.
    #[arg(long, value_name = "FILE")]
    pub plan: Option<PathBuf>,
    /// How long to wait while another virtsync changes one of the hosts
    /// (e.g. 30s, 5m, 1h).
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_duration)]
    pub lock_timeout: std::time::Duration,
}

fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    humantime::parse_duration(s)
        .map_err(|e| format!("`{s}` is not a duration such as 30s or 5m: {e}"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Output {
    #[default]
    Text,
    Json,
}

/// `virtsync run`: the manifest flags, and how the controller runs.
#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub common: ManifestArgs,
    #[command(flatten)]
    pub prune: PruneArgs,
    /// How long a pass waits while another virtsync changes one of the
    /// hosts before it fails (and is retried).
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_duration)]
    pub lock_timeout: std::time::Duration,
    /// A full pass at least this often (e.g. 30s, 5m).
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = humantime::parse_duration)]
    pub resync: std::time::Duration,
    /// Concurrent actions per host.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub parallel: u16,
    /// Log lines as text or as JSON objects (one per line).
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Serve Prometheus metrics at /metrics and a liveness check at
    /// /healthz on this address (e.g. 127.0.0.1:9464).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<std::net::SocketAddr>,
    /// Fetch the manifest checkout's upstream this often and fast-forward
    /// to it (never a merge; a diverged checkout is reported, not touched).
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub pull: Option<std::time::Duration>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Flags shared by the commands that read manifests.
#[derive(Debug, Args)]
pub struct ManifestArgs {
    /// Directory of manifests (searched recursively), or one manifest file.
    pub dir: PathBuf,
    /// libvirt URI of the default host (manifests without metadata.host).
    #[arg(
        long,
        short = 'c',
        env = "LIBVIRT_DEFAULT_URI",
        default_value = "qemu:///system"
    )]
    pub connect: String,
    /// Also allow disk paths under DIR (repeatable); /var/lib/libvirt/images always is.
    #[arg(long = "allow-path", value_name = "DIR")]
    pub allow_path: Vec<PathBuf>,
    /// Accept refused elements in the `xml` escape hatch (qemu:commandline, hostdev, host paths).
    #[arg(long)]
    pub allow_unsafe_xml: bool,
    /// Only objects whose labels match k=v (repeatable; all must match).
    #[arg(long = "selector", short = 'l', value_name = "K=V", value_parser = parse_selector)]
    pub selector: Vec<(String, String)>,
    /// Where virtsync keeps its inventory of pools, volumes and snapshots.
    #[arg(long, value_name = "DIR", default_value = "/var/lib/virtsync")]
    pub state_dir: PathBuf,
    /// The name of this manifest set (default: DIR/.virtsync-owner, else
    /// DIR's git remote, else DIR's absolute path); objects of another
    /// owner are never changed or pruned.
    #[arg(long, value_name = "NAME")]
    pub owner: Option<String>,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

impl ManifestArgs {
    pub fn load_options(&self) -> LoadOptions {
        LoadOptions {
            allow_paths: self
                .allow_path
                .iter()
                .map(|p| p.components().collect())
                .collect(),
            allow_unsafe_xml: self.allow_unsafe_xml,
        }
    }
}

fn parse_selector(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("`{s}` is not a key=value selector")),
    }
}

/// What a command failed on, beyond manifest errors (which are printed as
/// results).
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error("cannot write output: {0}")]
    Io(#[from] std::io::Error),
    #[error("cannot encode JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error(transparent)]
    Reconcile(#[from] crate::reconcile::ReconcileError),
    #[error(transparent)]
    Inventory(#[from] crate::inventory::InventoryError),
    #[error(transparent)]
    Backend(#[from] crate::backend::BackendError),
    #[error(transparent)]
    Import(#[from] crate::import::ImportError),
    #[error(transparent)]
    Owner(#[from] crate::owner::OwnerError),
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Controller(#[from] crate::controller::ControllerError),
    #[error("cannot write the plan to {}: {source}", path.display())]
    WritePlan {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Ask `question` on the terminal before changing a host; `yes` answers
/// it. Without a terminal and without `yes`, refuse: never change a host
/// nobody confirmed.
fn confirm(verb: &str, question: &str, yes: bool) -> Result<bool, CliError> {
    use std::io::IsTerminal;
    if yes {
        return Ok(true);
    }
    if !std::io::stdin().is_terminal() {
        return Err(CliError::Refused(format!(
            "refusing to {verb} without confirmation: no terminal to ask on; add --yes"
        )));
    }
    eprint!("{question} [y/N] ");
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    Ok(matches!(line.trim(), "y" | "Y" | "yes"))
}

/// Run one command; the `u8` is the process exit code.
pub fn run(cli: Cli) -> Result<u8, CliError> {
    match cli.command {
        Command::Validate(args) => validate(&args),
        Command::Plan(args) => commands::plan(&args),
        Command::Apply(args) => commands::apply(&args),
        Command::Status(args) => status::status(&args),
        Command::Import(args) => import::import(&args),
        Command::Run(args) => run::run(&args),
        Command::Snapshot(SnapshotCommand::List(args)) => snapshot::list(&args),
        Command::Snapshot(SnapshotCommand::Revert(args)) => snapshot::revert(&args),
        Command::Schema => {
            let mut out = std::io::stdout().lock();
            writeln!(out, "{}", schema_json())?;
            Ok(exit::OK)
        }
    }
}

/// The JSON Schema as checked in at schemas/virtsync.schema.json.
pub fn schema_json() -> String {
    serde_json::to_string_pretty(&manifest::types::json_schema()).expect("schema serializes")
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ValidateReport<'a> {
    valid: bool,
    files: usize,
    documents: usize,
    counts: std::collections::BTreeMap<&'static str, usize>,
    errors: &'a [Diagnostic],
}

/// An empty directory is almost always a wrong path: say so rather than
/// "valid" or "converged".
fn no_manifests(dir: &std::path::Path) -> CliError {
    CliError::Refused(format!(
        "no manifests found in {} (files *.yaml or *.yml, searched recursively)",
        dir.display()
    ))
}

fn validate(args: &ManifestArgs) -> Result<u8, CliError> {
    let errors: Vec<Diagnostic>;
    let report = match manifest::load_dir(&args.dir, &args.load_options()) {
        Ok((_, stats)) if stats.documents == 0 => return Err(no_manifests(&args.dir)),
        Ok((state, stats)) => ValidateReport {
            valid: true,
            files: stats.files,
            documents: stats.documents,
            counts: state.counts(),
            errors: &[],
        },
        Err(ManifestError::Invalid(diags)) => {
            errors = diags;
            ValidateReport {
                valid: false,
                files: 0,
                documents: 0,
                counts: Default::default(),
                errors: &errors,
            }
        }
        Err(e) => return Err(e.into()),
    };
    let code = if report.valid { exit::OK } else { exit::ERROR };
    let mut out = std::io::stdout().lock();
    match args.output {
        Output::Json => writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?,
        Output::Text if report.valid => {
            let kinds: Vec<String> = report
                .counts
                .iter()
                .filter(|(_, n)| **n > 0)
                .map(|(k, n)| format!("{n} {k}"))
                .collect();
            writeln!(
                out,
                "valid: {} manifest{} in {} file{} ({})",
                report.documents,
                if report.documents == 1 { "" } else { "s" },
                report.files,
                if report.files == 1 { "" } else { "s" },
                if kinds.is_empty() {
                    "nothing".to_string()
                } else {
                    kinds.join(", ")
                }
            )?;
        }
        Output::Text => {
            for d in report.errors {
                writeln!(out, "{d}")?;
            }
            writeln!(
                out,
                "invalid: {} error{}",
                report.errors.len(),
                if report.errors.len() == 1 { "" } else { "s" }
            )?;
        }
    }
    Ok(code)
}

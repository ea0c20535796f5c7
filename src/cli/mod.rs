//! The command line: argument definitions (clap derive) and one thin
//! function per command (`commands` for plan and apply, `status`,
//! `snapshot`, `explain`, `doctor`, `dist` for completions and man pages)
//! that calls into the library and prints results to stdout (logs go to
//! stderr). Around them: colours (`style`), apply's progress display
//! (`progress`), error hints and JSON errors (`hint`), and the examples
//! of every `--help` (`examples`).

use std::io::Write;
use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};

use crate::manifest::{self, LoadOptions, ManifestError};

mod commands;
mod dist;
mod doctor;
mod examples;
mod explain;
mod hint;
mod import;
mod progress;
mod run;
mod snapshot;
mod status;
pub mod style;
mod validate;

pub use hint::{error_hint, error_text, is_broken_pipe};
mod wait;

/// Exit codes shared by every command (docs/commands.md).
pub use crate::reconcile::exit;

/// `virtsync --version`: the package version and the git revision it was
/// built from (build.rs; "unknown" outside a git checkout).
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("VIRTSYNC_GIT_REVISION"),
    ")"
);

#[derive(Debug, Parser)]
#[command(
    name = "virtsync",
    version = VERSION,
    about = "Declarative, GitOps-style reconciler for libvirt",
    after_help = examples::TOP,
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command takes: colours and how much is logged.
#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// Colour the output: auto (on a terminal, unless NO_COLOR is set),
    /// always, never.
    #[arg(long, value_enum, global = true, default_value_t = ColorWhen::Auto, value_name = "WHEN")]
    pub color: ColorWhen,
    /// Log more on stderr: -v info, -vv debug, -vvv trace (VIRTSYNC_LOG,
    /// a tracing filter such as `virtsync=debug`, overrides it).
    #[arg(long, short = 'v', action = ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Log only errors on stderr.
    #[arg(long, short = 'q', global = true, conflicts_with = "verbose")]
    pub quiet: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum ColorWhen {
    #[default]
    Auto,
    Always,
    Never,
}

impl Cli {
    /// The tracing filter for stderr: `-q` errors, default warnings (the
    /// controller: info, it reports what it does), each `-v` one level more.
    pub fn log_level(&self) -> &'static str {
        const LEVELS: [&str; 5] = ["error", "warn", "info", "debug", "trace"];
        if self.global.quiet {
            return LEVELS[0];
        }
        let base = if matches!(self.command, Command::Run(_)) {
            2
        } else {
            1
        };
        LEVELS[(base + self.global.verbose as usize).min(LEVELS.len() - 1)]
    }

    /// Whether the command may change a host (then a closed stdout,
    /// which ends it quietly, still exits 1: what it did is unknown to
    /// whoever stopped reading).
    pub fn changes_hosts(&self) -> bool {
        matches!(
            self.command,
            Command::Apply(_)
                | Command::Import(_)
                | Command::Run(_)
                | Command::Snapshot(SnapshotCommand::Revert(_))
        )
    }

    /// The output format the command was asked for (text for the commands
    /// that have no `--output`).
    pub fn output(&self) -> Output {
        match &self.command {
            Command::Validate(a) => a.output,
            Command::Plan(a) => a.common.output,
            Command::Apply(a) => a.common.output,
            Command::Status(a) => a.output,
            Command::Import(a) => a.host.output,
            Command::Snapshot(SnapshotCommand::List(a)) => a.host.output,
            Command::Snapshot(SnapshotCommand::Revert(a)) => a.host.output,
            Command::Doctor(a) => a.output,
            // run, schema, explain, completions, manpage, and commands
            // added later until they say otherwise.
            _ => Output::Text,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Parse and check every manifest of DIR; needs no libvirt connection.
    #[command(after_help = examples::VALIDATE)]
    Validate(ValidateArgs),
    /// Dry run: show what apply would change (no writes).
    #[command(after_help = examples::PLAN)]
    Plan(PlanArgs),
    /// Make the hosts match the manifests.
    #[command(after_help = examples::APPLY)]
    Apply(ApplyArgs),
    /// Per object: in sync, drifted, restart pending, missing, unmanaged
    /// collision, planning error or host unreachable (read-only). Exits 0
    /// when nothing is to be done (restart pending aside), 2 otherwise.
    #[command(after_help = examples::STATUS)]
    Status(ManifestArgs),
    /// Write manifests for objects the host already has (every field
    /// virtsync models, with its value); with --adopt, take them over.
    #[command(after_help = examples::IMPORT)]
    Import(ImportArgs),
    /// The controller: keep the hosts converged — reconcile on manifest
    /// changes, on a periodic resync and after failures (with backoff),
    /// until SIGINT/SIGTERM (the running action finishes, no new one
    /// starts, exit 0).
    // It logs instead of printing results: --output does not apply.
    #[command(after_help = examples::RUN, mut_arg("output", |a| a.hide(true)))]
    Run(RunArgs),
    /// Print the JSON Schema of manifests (schemas/virtsync.schema.json).
    #[command(after_help = examples::SCHEMA)]
    Schema,
    /// Describe a manifest kind or field: its type, default, how a change
    /// is applied (live, next-boot, replace) and an example.
    #[command(after_help = examples::EXPLAIN)]
    Explain(ExplainArgs),
    /// List a domain's snapshots, or bring it back to one.
    #[command(subcommand)]
    Snapshot(SnapshotCommand),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    #[command(after_help = examples::COMPLETIONS)]
    Completions(CompletionsArgs),
    /// Print the man page (roff), or write one per command into a directory.
    #[command(hide = true)]
    Manpage(ManpageArgs),
    /// Is libvirt reachable (if not: why, and the fix), what does the
    /// host run, is it ready for the manifests of DIR (migration to each
    /// of their Hosts). Exits 0 when nothing is a problem, 1 otherwise.
    #[command(after_help = examples::DOCTOR)]
    Doctor(DoctorArgs),
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// KIND or KIND.field.subfield, e.g. Domain, Domain.spec.memory,
    /// Network.spec.ipv4.dhcp (case-insensitive kind).
    #[arg(value_name = "KIND[.FIELD...]")]
    pub path: String,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ManpageArgs {
    /// Write virtsync.1 and virtsync-COMMAND.1 into DIR instead of printing
    /// virtsync.1.
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// A manifest directory: also check migration from this host to each
    /// of its Hosts (reachable from here, CPU, the disks' pools and paths).
    pub dir: Option<PathBuf>,
    /// libvirt URI of the host to examine.
    #[arg(
        long,
        short = 'c',
        env = "LIBVIRT_DEFAULT_URI",
        default_value = "qemu:///system"
    )]
    pub connect: String,
    /// The daemon's config file to quote when its socket refuses this
    /// user (default: /etc/libvirt/libvirtd.conf, or virtqemud.conf).
    #[arg(long, value_name = "FILE")]
    pub daemon_config: Option<PathBuf>,
    /// Also allow disk paths under DIR (repeatable), as for validate.
    #[arg(long = "allow-path", value_name = "DIR")]
    pub allow_path: Vec<PathBuf>,
    /// Output format: a line per finding, or the JSON report.
    #[arg(long, short = 'o', value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

impl DoctorArgs {
    pub fn load_options(&self) -> LoadOptions {
        load_options(&self.allow_path, false)
    }
}

#[derive(Debug, Subcommand)]
pub enum SnapshotCommand {
    /// The snapshots of DOMAIN: name, when taken, the guest's state then,
    /// description, and whether virtsync took it.
    #[command(after_help = examples::SNAPSHOT_LIST)]
    List(SnapshotListArgs),
    /// Bring DOMAIN back to snapshot NAME: its disks, and the memory and
    /// power state it was taken in. What the guest did since is lost.
    #[command(after_help = examples::SNAPSHOT_REVERT)]
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
    /// Output format (errors too: with json, they are a JSON document on
    /// stdout as well).
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
    /// Do not ask for confirmation (required without a terminal, and
    /// with --output json, which never asks).
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

/// `validate`: the manifest flags that reading and checking use (no
/// connection, no state).
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Directory of manifests (searched recursively), or one manifest file.
    pub dir: PathBuf,
    /// Also allow disk paths under DIR (repeatable); /var/lib/libvirt/images always is.
    #[arg(long = "allow-path", value_name = "DIR")]
    pub allow_path: Vec<PathBuf>,
    /// Accept refused elements in the `xml` escape hatch (qemu:commandline, hostdev, host paths).
    #[arg(long)]
    pub allow_unsafe_xml: bool,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t = Output::Text)]
    pub output: Output,
    /// The other commands' flags, accepted and ignored so that one command
    /// line works for validate, plan, apply and status, but not offered
    /// (hidden from --help and completions): validate never connects.
    #[command(flatten)]
    pub ignored: IgnoredByValidate,
}

/// Flags of `plan`/`apply`/`status` that `validate` accepts and ignores.
#[derive(Debug, Args)]
pub struct IgnoredByValidate {
    #[arg(long, short = 'c', hide = true)]
    connect: Option<String>,
    #[arg(long, hide = true)]
    state_dir: Option<PathBuf>,
    #[arg(long = "selector", short = 'l', hide = true)]
    selector: Vec<String>,
    #[arg(long, hide = true)]
    owner: Option<String>,
}

/// What `--allow-path` and `--allow-unsafe-xml` mean to the loader.
fn load_options(allow_path: &[PathBuf], allow_unsafe_xml: bool) -> LoadOptions {
    LoadOptions {
        allow_paths: allow_path
            .iter()
            .map(|p| p.components().collect())
            .collect(),
        allow_unsafe_xml,
    }
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
    /// Only the objects placed on host NAME (a Host manifest's name, or
    /// `default` for those without metadata.host), reached at --connect:
    /// the controller of one host of a fleet. The other hosts are not
    /// connected to, changed or pruned.
    #[arg(long, value_name = "NAME")]
    pub host: Option<String>,
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
        load_options(&self.allow_path, self.allow_unsafe_xml)
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
/// nobody confirmed. With `--output json` (a script reads stdout) never
/// ask either: refuse, the plan already printed as JSON.
fn confirm(verb: &str, question: &str, yes: bool, output: Output) -> Result<bool, CliError> {
    use std::io::IsTerminal;
    if yes {
        return Ok(true);
    }
    if output == Output::Json {
        return Err(CliError::Refused(format!(
            "refusing to {verb} without confirmation: --output json never asks; the plan is on stdout, add --yes to apply it"
        )));
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

/// Run one command; the `u8` is the process exit code. With `--output
/// json`, an error is also printed as a JSON document on stdout (scripts
/// read one document whatever happened); main prints it on stderr.
pub fn run(cli: Cli) -> Result<u8, CliError> {
    style::init(cli.global.color);
    let output = cli.output();
    let result = dispatch(cli);
    if let (Err(e), Output::Json) = (&result, output) {
        hint::print_json_error(e);
    }
    result
}

fn dispatch(cli: Cli) -> Result<u8, CliError> {
    match cli.command {
        Command::Validate(args) => validate::validate(&args),
        Command::Plan(args) => commands::plan(&args),
        Command::Apply(args) => commands::apply(&args),
        Command::Status(args) => status::status(&args),
        Command::Import(args) => import::import(&args),
        Command::Run(args) => run::run(&args),
        Command::Snapshot(SnapshotCommand::List(args)) => snapshot::list(&args),
        Command::Snapshot(SnapshotCommand::Revert(args)) => snapshot::revert(&args),
        Command::Doctor(args) => doctor::doctor(&args),
        Command::Schema => {
            let mut out = std::io::stdout().lock();
            writeln!(out, "{}", schema_json())?;
            Ok(exit::OK)
        }
        Command::Explain(args) => explain::explain(&args),
        Command::Completions(args) => dist::completions(args.shell),
        Command::Manpage(args) => dist::manpage(args.out_dir.as_deref()),
    }
}

/// The JSON Schema as checked in at schemas/virtsync.schema.json.
pub fn schema_json() -> String {
    serde_json::to_string_pretty(&manifest::types::json_schema()).expect("schema serializes")
}

/// An empty directory is almost always a wrong path: say so rather than
/// "valid" or "converged".
fn no_manifests(dir: &std::path::Path) -> CliError {
    CliError::Refused(format!(
        "no manifests found in {} (files *.yaml or *.yml, searched recursively)",
        dir.display()
    ))
}

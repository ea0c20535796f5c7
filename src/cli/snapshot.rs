//! `snapshot list` and `snapshot revert`: the imperative snapshot commands
//! (like `kubectl rollout undo`), on one host. The next `plan` shows
//! whatever the manifests now differ in.

use std::io::Write;

use super::{exit, CliError, HostArgs, Output, SnapshotListArgs, SnapshotRevertArgs};
use crate::backend::{Backend, HostRead, LibvirtHost};
use crate::inventory::Inventory;
use crate::model::HostId;
use crate::render::snapshot::{read_snapshot, SnapshotFacts};
use crate::xml::Element;

/// One row of `snapshot list`.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Row {
    #[serde(flatten)]
    facts: SnapshotFacts,
    /// virtsync took it (a Snapshot manifest); others are never touched.
    managed: bool,
}

/// The domain's snapshots, oldest first, and the host's identity.
fn rows(host: &LibvirtHost, args: &HostArgs, domain: &str) -> Result<(Vec<Row>, HostId), CliError> {
    let inventory = Inventory::load(&args.state_dir)?;
    // Ownership records are keyed by the host's identity (one call).
    let caps =
        crate::observe::read_capabilities(host).map_err(|e| CliError::Refused(e.to_string()))?;
    let id = HostId::of(&caps, &args.connect);
    let taken = inventory.for_host(&id, &args.connect);
    host.list_domains(false)?
        .iter()
        .find(|d| d.name == domain)
        .ok_or_else(|| CliError::Refused(format!("no domain {domain} on {}", args.connect)))?;
    let mut rows: Vec<Row> = host
        .snapshots(domain)?
        .into_iter()
        .filter_map(|(name, xml)| {
            let facts = read_snapshot(&Element::parse(&xml).ok()?);
            Some(Row {
                managed: taken.took_snapshot(domain, &name),
                facts,
            })
        })
        .collect();
    rows.sort_by(|a, b| {
        (a.facts.creation_time, &a.facts.name).cmp(&(b.facts.creation_time, &b.facts.name))
    });
    Ok((rows, id))
}

pub fn list(args: &SnapshotListArgs) -> Result<u8, CliError> {
    let host = LibvirtHost::open(&args.host.connect)?;
    let (rows, _) = rows(&host, &args.host, &args.domain)?;
    let mut out = std::io::stdout().lock();
    if args.host.output == Output::Json {
        writeln!(out, "{}", serde_json::to_string_pretty(&rows)?)?;
        return Ok(exit::OK);
    }
    if rows.is_empty() {
        writeln!(out, "domain {} has no snapshots", args.domain)?;
        return Ok(exit::OK);
    }
    let width = rows
        .iter()
        .map(|r| r.facts.name.len())
        .max()
        .unwrap_or(4)
        .max(4);
    writeln!(
        out,
        "{:width$}  {:20}  {:8}  {:7}  DESCRIPTION",
        "NAME", "TAKEN", "STATE", "MANAGED"
    )?;
    for r in &rows {
        let taken = r
            .facts
            .creation_time
            .and_then(|t| u64::try_from(t).ok())
            .map(|t| {
                humantime::format_rfc3339_seconds(
                    std::time::UNIX_EPOCH + std::time::Duration::from_secs(t),
                )
                .to_string()
            })
            .unwrap_or_default();
        writeln!(
            out,
            "{:width$}  {taken:20}  {:8}  {:7}  {}",
            r.facts.name,
            r.facts.state,
            if r.managed { "yes" } else { "no" },
            r.facts.description.as_deref().unwrap_or("")
        )?;
    }
    Ok(exit::OK)
}

pub fn revert(args: &SnapshotRevertArgs) -> Result<u8, CliError> {
    let host = LibvirtHost::open(&args.host.connect)?;
    let (rows, id) = rows(&host, &args.host, &args.domain)?;
    let Some(row) = rows.iter().find(|r| r.facts.name == args.name) else {
        let names: Vec<&str> = rows.iter().map(|r| r.facts.name.as_str()).collect();
        return Err(CliError::Refused(format!(
            "domain {} has no snapshot {} (it has: {})",
            args.domain,
            args.name,
            if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            }
        )));
    };
    let question = format!(
        "Revert domain {} to snapshot {} (taken while {})? What the guest did since is lost.",
        args.domain, args.name, row.facts.state
    );
    if !super::confirm("revert", &question, args.yes, args.host.output)? {
        eprintln!("revert cancelled; nothing was changed");
        return Ok(exit::ERROR);
    }
    // A write like apply's: never while another virtsync changes the host.
    let _lock = crate::lock::lock_host(
        &args.host.state_dir,
        &id,
        &args.host.connect,
        args.lock_timeout,
        &mut |m| eprintln!("{m}"),
    )
    .map_err(|e| CliError::Refused(e.to_string()))?;
    host.revert_snapshot(&args.domain, &args.name)?;
    let state = host
        .list_domains(false)?
        .into_iter()
        .find(|d| d.name == args.domain)
        .map(|d| d.state.as_str())
        .unwrap_or("gone");
    let mut out = std::io::stdout().lock();
    if args.host.output == Output::Json {
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "domain": args.domain, "snapshot": args.name, "state": state,
            }))?
        )?;
    } else {
        writeln!(
            out,
            "reverted domain {} to snapshot {}: the domain is {state}",
            args.domain, args.name
        )?;
    }
    Ok(exit::OK)
}

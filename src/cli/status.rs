//! `status`: load, observe and plan as `plan` does (read-only, no
//! confirmation), then print the library's per-object status as an
//! aligned table with a summary line, or as JSON.

use std::io::Write;

use super::commands::{prepare, Prepared};
use super::{exit, CliError, ManifestArgs, Output};
use crate::controller::PassReport;
use crate::plan::kind_noun;
use crate::reconcile::Observation;
use crate::status::{attach_failures, report, ObjectStatus, State, StatusReport};

pub fn status(args: &ManifestArgs) -> Result<u8, CliError> {
    let Some(Prepared {
        desired,
        planned,
        reconciler,
        ..
    }) = prepare(args, Observation::Status, false, None)?
    else {
        return Ok(exit::ERROR);
    };
    super::commands::connect_hints(&planned.plan);
    let mut status = report(&desired, &planned);
    add_reported_addresses(&mut status, &reconciler, &planned);
    // What `virtsync run` last did here, if it runs (its status file).
    let controller = PassReport::load(&args.state_dir);
    if let Some(c) = &controller {
        attach_failures(&mut status, &c.failed);
    }
    let mut out = std::io::stdout().lock();
    match args.output {
        Output::Json => {
            let mut v = serde_json::to_value(&status)?;
            if let Some(c) = &controller {
                v["controller"] = serde_json::to_value(c)?;
            }
            writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?
        }
        Output::Text => {
            write!(out, "{}", super::style::status(&render_text(&status)))?;
            if let Some(c) = &controller {
                write!(out, "{}", controller_text(c))?;
            }
        }
    }
    Ok(status.exit_code())
}

/// The leased (and guest-agent) addresses of the running domains, one
/// call per domain and source, after the reserved ones the report has.
fn add_reported_addresses(
    status: &mut crate::status::StatusReport,
    reconciler: &crate::reconcile::Reconciler,
    planned: &crate::reconcile::Planned,
) {
    for o in status
        .objects
        .iter_mut()
        .filter(|o| o.kind == crate::model::Kind::Domain)
    {
        o.addresses
            .extend(reported(reconciler, planned, &o.host, &o.name));
    }
}

/// What libvirt reports of running domain `name` on `host` (nothing for
/// a domain that does not run or a host that is down).
fn reported(
    reconciler: &crate::reconcile::Reconciler,
    planned: &crate::reconcile::Planned,
    host: &crate::model::HostName,
    name: &str,
) -> Vec<String> {
    use crate::model::PowerState;
    use crate::reconcile::HostConn;
    let Some(HostConn::Up { read, .. }) = reconciler.hosts().get(host) else {
        return vec![];
    };
    let live = planned
        .observed
        .hosts
        .get(host)
        .and_then(|h| h.domains.get(name))
        .filter(|d| d.state == PowerState::Running)
        .and_then(|d| {
            d.live_xml
                .clone()
                .or_else(|| read.domain_xml(name, true).ok())
        });
    match live {
        Some(xml) => crate::status::addresses::query(read.as_ref(), name, &xml),
        None => vec![],
    }
}

/// For `plan`: one line per running domain of `desired` with addresses.
pub(super) fn address_lines(
    desired: &crate::model::DesiredState,
    reconciler: &crate::reconcile::Reconciler,
    planned: &crate::reconcile::Planned,
) -> String {
    let mut out = String::new();
    for key in desired.domains.keys() {
        let mut all = planned
            .observed
            .hosts
            .get(&key.host)
            .map(|h| crate::status::addresses::reserved(h, &key.name))
            .unwrap_or_default();
        all.extend(reported(reconciler, planned, &key.host, &key.name));
        if !all.is_empty() {
            out.push_str(&format!(
                "  address of domain {}: {}\n",
                key.name,
                all.join(", ")
            ));
        }
    }
    out
}

/// The controller's last pass, in a few lines.
fn controller_text(c: &PassReport) -> String {
    let ago = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs().saturating_sub(c.finished_at))
        .unwrap_or(0);
    let result = if !c.ran {
        "did not run"
    } else if c.converged {
        "converged"
    } else {
        "not converged"
    };
    let mut out = format!(
        "Controller (virtsync run, pid {}): last pass {ago}s ago ({}): {result}, {} action(s), {} failed\n",
        c.pid,
        c.reasons.join(", "),
        c.actions,
        c.failed.len()
    );
    for e in &c.manifest_errors {
        out.push_str(&format!("  manifest error: {e}\n"));
    }
    if let Some(m) = c.manifests.as_deref().filter(|m| *m != "loaded") {
        out.push_str(&format!("  manifests: {m}\n"));
    }
    if let Some(e) = &c.pull_error {
        out.push_str(&format!("  pull: {e}\n"));
    }
    for d in &c.deferred {
        // The wait as of the pass; the status file does not tick.
        out.push_str(&format!(
            "  waiting: {} after {} failure(s), next try {}s after that pass: {}\n",
            d.object,
            d.failures,
            d.retry_in_ms.div_ceil(1000),
            d.error
        ));
    }
    out
}

/// What the DETAILS column says of a row.
fn details(o: &ObjectStatus) -> String {
    let mut parts: Vec<String> = Vec::new();
    if o.external {
        parts.push("external".into());
    }
    match &o.state {
        State::InSync => {}
        State::Drifted {
            fields,
            restart_pending,
        } => {
            parts.push(fields.join(", "));
            if !restart_pending.is_empty() {
                parts.push(format!("restart pending: {}", restart_pending.join(", ")));
            }
        }
        State::RestartPending { fields } => parts.push(fields.join(", ")),
        State::Missing => parts.push("would be created".into()),
        State::UnmanagedCollision { message }
        | State::PlanningError { message }
        | State::HostUnreachable { message } => parts.push(message.clone()),
    }
    if !o.addresses.is_empty() {
        parts.push(format!("addresses: {}", o.addresses.join(", ")));
    }
    if let Some(snaps) = o.snapshots.as_ref().filter(|s| !s.is_empty()) {
        parts.push(format!("snapshots: {}", snaps.join(", ")));
    }
    parts.extend(o.notes.iter().cloned());
    if let Some(e) = &o.last_error {
        parts.push(format!("last failed in virtsync run: {e}"));
    }
    parts.join("; ")
}

/// The table (the HOST column only when some object is placed on a Host
/// manifest's host), unreachable hosts, and a summary line.
pub fn render_text(s: &StatusReport) -> String {
    let with_host = s.objects.iter().any(|o| !o.host.is_default());
    let mut rows: Vec<Vec<String>> = vec![];
    let mut header = vec!["KIND", "NAME"];
    if with_host {
        header.push("HOST");
    }
    header.extend(["STATUS", "DETAILS"]);
    rows.push(header.into_iter().map(String::from).collect());
    for o in &s.objects {
        let mut r = vec![kind_noun(o.kind).to_string(), o.name.clone()];
        if with_host {
            r.push(o.host.name().unwrap_or("-").to_string());
        }
        r.push(o.state.label().to_string());
        r.push(details(o));
        rows.push(r);
    }
    let mut out = String::new();
    if !s.objects.is_empty() {
        let columns = rows[0].len();
        let widths: Vec<usize> = (0..columns)
            .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
            .collect();
        for r in &rows {
            let mut line = String::new();
            for (c, cell) in r.iter().enumerate() {
                if c + 1 == columns {
                    line.push_str(cell);
                } else {
                    line.push_str(&format!("{cell:<w$}  ", w = widths[c]));
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
    }
    for h in &s.unreachable_hosts {
        out.push_str(&format!(
            "! {} ({}) cannot be reached: {}\n",
            h.host, h.uri, h.error
        ));
    }
    let counts: Vec<String> = s
        .summary
        .counts()
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, label)| format!("{n} {label}"))
        .collect();
    if !out.is_empty() {
        out.push('\n');
    }
    let total = s.summary.total;
    let object_s = if total == 1 { "object" } else { "objects" };
    if counts.is_empty() {
        out.push_str(&format!("Status: {total} {object_s}\n"));
    } else {
        out.push_str(&format!(
            "Status: {} ({total} {object_s})\n",
            counts.join(", ")
        ));
    }
    out
}

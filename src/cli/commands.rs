//! `plan` and `apply`: load, connect, observe, plan, (apply), report.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;

use super::{exit, ApplyArgs, CliError, ManifestArgs, Output, PlanArgs};
use crate::apply::Status;
use crate::engine::{self, Session};
use crate::inventory::Inventory;
use crate::manifest::{self, ManifestError};
use crate::model::DesiredState;
use crate::plan::{render_text, Operation, Plan};

/// Load manifests; on invalid input print every error to stderr.
fn load(args: &ManifestArgs) -> Result<Option<DesiredState>, CliError> {
    match manifest::load_dir(&args.dir, &args.load_options()) {
        Ok((mut state, _)) => {
            state.select(&args.selector);
            Ok(Some(state))
        }
        Err(ManifestError::Invalid(diags)) => {
            for d in &diags {
                eprintln!("{d}");
            }
            eprintln!("error: {} error(s) in manifests; nothing was planned (run `virtsync validate` for details)", diags.len());
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

fn objects(d: &DesiredState) -> usize {
    d.len() - d.hosts.len()
}

pub fn plan(args: &PlanArgs) -> Result<u8, CliError> {
    let Some(desired) = load(&args.common)? else {
        return Ok(exit::ERROR);
    };
    let inventory = Inventory::load(&args.common.state_dir)?;
    let session = Session::connect(&desired, &args.common.connect)?;
    let revision = engine::git_revision(&args.common.dir);
    let (_, p) = engine::plan(&session, &desired, &inventory, &revision)?;
    let json = serde_json::to_string_pretty(&p.redacted())?;
    if let Some(path) = &args.out {
        std::fs::write(path, format!("{json}\n"))?;
    }
    let mut out = std::io::stdout().lock();
    match args.common.output {
        Output::Json => writeln!(out, "{json}")?,
        Output::Text => write!(out, "{}", render_text(&p))?,
    }
    Ok(if args.exit_code && !p.is_empty() {
        exit::CHANGES
    } else {
        exit::OK
    })
}

fn confirm(p: &Plan, yes: bool) -> Result<bool, CliError> {
    if yes {
        return Ok(true);
    }
    if !std::io::stdin().is_terminal() {
        return Err(CliError::Refused(
            "refusing to apply without confirmation: no terminal to ask on; add --yes".into(),
        ));
    }
    eprint!("Apply these {} actions? [y/N] ", p.actions.len());
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    Ok(matches!(line.trim(), "y" | "Y" | "yes"))
}

pub fn apply(args: &ApplyArgs) -> Result<u8, CliError> {
    let common = &args.common;
    let Some(desired) = load(common)? else {
        return Ok(exit::ERROR);
    };
    let mut inventory = Inventory::load(&common.state_dir)?;
    let session = Session::connect(&desired, &common.connect)?;
    let revision = engine::git_revision(&common.dir);
    let (_, p) = engine::plan(&session, &desired, &inventory, &revision)?;
    let json = common.output == Output::Json;
    let mut out = std::io::stdout().lock();
    if p.is_empty() {
        // Nothing to do: the observation just made is the converged state.
        if json {
            writeln!(
                out,
                "{}",
                serde_json::to_string_pretty(&serde_json::json!({
                    "plan": p.redacted(), "outcomes": [], "converged": true, "calls": session.calls(),
                }))?
            )?;
        } else {
            for n in &p.notices {
                writeln!(out, "! {} {}: {}", n.kind, n.name, n.message)?;
            }
            writeln!(out, "converged: {} objects in sync", objects(&desired))?;
        }
        return Ok(exit::OK);
    }
    if !json {
        write!(out, "{}", render_text(&p))?;
        out.flush()?;
    }
    drop(out);
    if !confirm(&p, args.yes)? {
        eprintln!("apply cancelled; nothing was changed");
        return Ok(exit::ERROR);
    }
    // Ownership of what apply creates must be recordable: find out now, not
    // after the pools and volumes exist.
    inventory.save(&common.state_dir)?;
    let progress = if std::io::stderr().is_terminal() && !json {
        let bar = indicatif::ProgressBar::new(p.actions.len() as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{spinner} [{pos}/{len}] {wide_msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        Some(bar)
    } else {
        None
    };
    let lines = Mutex::new(Vec::new());
    let report = engine::apply(&session, &p, args.parallel as usize, &|a, o| {
        let line = match &o.status {
            Status::Done => format!("  done     {} ({} ms)", a.id, o.millis),
            Status::Failed { error } => format!("  FAILED   {}: {error}", a.id),
            Status::Skipped { because } => format!("  skipped  {} (depends on {because})", a.id),
        };
        match &progress {
            Some(bar) => {
                bar.inc(1);
                bar.println(&line);
            }
            None if !json => println!("{line}"),
            None => {}
        }
        lines.lock().expect("lines").push(line);
    });
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    // Re-observe: the only judge of "converged". Ownership of what was
    // just created is recorded first, so the re-plan recognises it.
    let replan = match session.observe(&desired) {
        Ok(after) => {
            engine::record_created(&mut inventory, &p, &report, &after, &desired);
            inventory.save(&common.state_dir)?;
            let input = crate::plan::PlanInput {
                desired: &desired,
                observed: &after,
                inventory: &inventory,
                revision: &revision,
            };
            match crate::plan::plan(&input) {
                Ok(r) => Some(r),
                Err(e) => {
                    eprintln!("error: cannot re-plan after apply: {e}");
                    None
                }
            }
        }
        Err(e) => {
            eprintln!("error: cannot re-observe after apply: {e}");
            None
        }
    };
    let done = report.done().count();
    let failed: Vec<_> = report.failed().collect();
    let skipped: Vec<_> = report.skipped().collect();
    let converged = replan.as_ref().is_some_and(|r| r.is_empty());
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "plan": p.redacted(),
                "outcomes": report.outcomes,
                "converged": converged,
                "remaining": replan.as_ref().map(|r| &r.actions),
                "calls": session.calls(),
            }))?
        )?;
    } else {
        writeln!(
            out,
            "\nApply: {done} done, {} failed, {} skipped",
            failed.len(),
            skipped.len()
        )?;
        for f in &failed {
            if let Status::Failed { error } = &f.status {
                writeln!(out, "  failed:  {}: {error}", f.id)?;
            }
        }
        for s in &skipped {
            if let Status::Skipped { because } = &s.status {
                writeln!(out, "  skipped: {} (because {because} failed)", s.id)?;
            }
        }
        match &replan {
            Some(r) if r.is_empty() => {
                writeln!(out, "Re-plan after apply: no changes.")?;
                for n in &r.notices {
                    writeln!(out, "! {} {}: {}", n.kind, n.name, n.message)?;
                }
                writeln!(out, "converged: {} objects in sync", objects(&desired))?;
            }
            Some(r) => {
                let what: Vec<String> = r
                    .actions
                    .iter()
                    .map(|a| format!("{} {}", a.operation.as_str(), a.id))
                    .collect();
                writeln!(
                    out,
                    "not converged: {} action(s) still needed: {}",
                    r.actions.len(),
                    what.join(", ")
                )?;
            }
            None => writeln!(
                out,
                "not converged: the hosts could not be re-observed or re-planned (see the error above)"
            )?,
        }
    }
    // A failed action of several calls (shutdown then destroy, restart,
    // several DHCP hosts or live updates) may have changed something.
    let multi_call = |id: &str| {
        p.actions.iter().any(|a| {
            a.id == id
                && matches!(
                    a.operation,
                    Operation::Shutdown
                        | Operation::Restart
                        | Operation::UpdateLive
                        | Operation::UpdateDhcpHosts
                )
        })
    };
    let nothing_changed = done == 0 && !failed.iter().any(|f| multi_call(&f.id));
    Ok(if nothing_changed && !failed.is_empty() {
        exit::ERROR
    } else if failed.is_empty() && converged {
        exit::OK
    } else {
        exit::PARTIAL
    })
}

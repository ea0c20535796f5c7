//! `plan` and `apply`: load, connect, run the library's reconcile pass,
//! confirm, print. No reconcile logic lives here; `status` starts from the
//! same [`prepare`].

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use super::{exit, ApplyArgs, CliError, ManifestArgs, Output, PlanArgs};
use crate::apply::Status;
use crate::backend::ConnectOptions;
use crate::inventory::Inventory;
use crate::lock::HostLock;
use crate::manifest::{self, ManifestError};
use crate::model::DesiredState;
use crate::owner::Owner;
use crate::plan::{render_text, Plan, PruneOptions, Scope, FORMAT_VERSION};
use crate::reconcile::{self, ApplyOptions, Observation, Planned, Reconciled, Reconciler, Target};

/// Load manifests (all of them: the selector is applied by [`prepare`],
/// which needs every declared object); on invalid input print every
/// error to stderr (and with `--output json` as a JSON document on
/// stdout). An empty directory is an error.
fn load(
    args: &ManifestArgs,
    prune: Option<&PruneOptions>,
) -> Result<Option<DesiredState>, CliError> {
    match manifest::load_dir(&args.dir, &args.load_options()) {
        // An empty set is what `--prune --allow-empty` asks to converge to.
        Ok((state, stats)) if stats.documents == 0 && prune.is_some_and(|p| p.allow_empty) => {
            Ok(Some(state))
        }
        Ok((_, stats)) if stats.documents == 0 && prune.is_some() => {
            Err(CliError::Refused(format!(
                "no manifests found in {}: a prune of an empty manifest set deletes everything this owner manages; pass --allow-empty if that is what you want",
                args.dir.display()
            )))
        }
        Ok((_, stats)) if stats.documents == 0 => Err(super::no_manifests(&args.dir)),
        Ok((state, _)) => Ok(Some(state)),
        Err(ManifestError::Invalid(diags)) => {
            for d in &diags {
                eprintln!("{d}");
            }
            eprintln!("error: {} error(s) in manifests; nothing was planned (run `virtsync validate` for details)", diags.len());
            if args.output == Output::Json {
                super::hint::print_json_diagnostics(&diags);
            }
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

fn objects(d: &DesiredState) -> usize {
    d.len() - d.hosts.len()
}

/// What `plan`, `apply` and `status` start from: the manifests loaded, a
/// connection to every host they know, and the first pass planned (for
/// `apply`, under the lock of every host).
pub(super) struct Prepared {
    pub desired: DesiredState,
    pub inventory: Inventory,
    pub revision: String,
    pub scope: Scope,
    pub reconciler: Reconciler,
    pub planned: Planned,
    /// The hosts' one-writer locks (`apply`), held until dropped.
    pub locks: Vec<HostLock>,
}

/// Load, connect, observe (what `what` needs) and plan, adopting with
/// `adopt` and pruning with `prune`; `None` when the manifests are invalid
/// (their errors are printed). Read-only: no lock.
pub(super) fn prepare(
    common: &ManifestArgs,
    what: Observation,
    adopt: bool,
    prune: Option<PruneOptions>,
) -> Result<Option<Prepared>, CliError> {
    prepare_with(common, what, adopt, prune, None)
}

/// [`prepare`], taking every host's lock (waiting up to `lock_timeout`)
/// between connecting and observing: what apply changes is planned from an
/// observation no other virtsync can change under it.
fn prepare_with(
    common: &ManifestArgs,
    what: Observation,
    adopt: bool,
    prune: Option<PruneOptions>,
    lock_timeout: Option<Duration>,
) -> Result<Option<Prepared>, CliError> {
    if prune.is_some() && common.dir.is_file() {
        // The other manifests of its directory would all look removed.
        return Err(CliError::Refused(format!(
            "refusing to prune with a single manifest file ({}): a prune needs the whole manifest directory; give the directory",
            common.dir.display()
        )));
    }
    let Some(mut desired) = load(common, prune.as_ref())? else {
        return Ok(None);
    };
    let owner = Owner::discover(&common.dir, common.owner.as_deref())?;
    // Every declared object, before the selector: none of them is pruned.
    let scope = Scope::new(owner.as_str(), &desired)
        .with_selector(&common.selector)
        .with_prune(prune);
    if !common.selector.is_empty() && desired.select(&common.selector) == 0 {
        let sel: Vec<String> = common
            .selector
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        return Err(CliError::Refused(format!(
            "--selector {} matches no object in {} (selectors match metadata.labels; all must match)",
            sel.join(","),
            common.dir.display()
        )));
    }
    if let Some(host) = &common.host {
        desired
            .select_host(host)
            .map_err(|e| CliError::Refused(format!("--host {host}: {e}")))?;
    }
    let scope = scope.with_only_host(desired.only_host.clone());
    let inventory = Inventory::load(&common.state_dir)?;
    let revision = reconcile::git_revision(&common.dir);
    let reconciler = Reconciler::connect(&desired, &common.connect, ConnectOptions::default());
    let locks = match lock_timeout {
        Some(timeout) => reconciler.lock(&common.state_dir, timeout, &mut |m| eprintln!("{m}"))?,
        None => Vec::new(),
    };
    let planned = reconciler.plan_for(
        &Target {
            desired: &desired,
            inventory: &inventory,
            revision: &revision,
            adopt,
            scope: &scope,
        },
        what,
    );
    Ok(Some(Prepared {
        desired,
        inventory,
        revision,
        scope,
        reconciler,
        planned,
        locks,
    }))
}

pub fn plan(args: &PlanArgs) -> Result<u8, CliError> {
    let common = &args.common;
    let Some(Prepared {
        planned,
        desired,
        reconciler,
        ..
    }) = prepare(common, Observation::Plan, args.adopt, args.prune.options())?
    else {
        return Ok(exit::ERROR);
    };
    let json = serde_json::to_string_pretty(&planned.plan.redacted())?;
    if let Some(path) = &args.out {
        // What apply executes: the real XML, secrets included (hence 0600).
        let saved = format!("{}\n", serde_json::to_string_pretty(&planned.plan)?);
        crate::state_file::write_atomic(path, saved.as_bytes(), 0o600).map_err(|source| {
            CliError::WritePlan {
                path: path.clone(),
                source,
            }
        })?;
    }
    let mut out = std::io::stdout().lock();
    match common.output {
        Output::Json => writeln!(out, "{json}")?,
        Output::Text => {
            write!(out, "{}", super::style::plan(&render_text(&planned.plan)))?;
            // Where the running guests are, for whoever reads the plan.
            write!(
                out,
                "{}",
                super::status::address_lines(&desired, &reconciler, &planned)
            )?;
        }
    }
    connect_hints(&planned.plan);
    Ok(planned.exit_code(args.exit_code))
}

/// On stderr, the likely fix for each host that could not be reached.
pub(super) fn connect_hints(p: &Plan) {
    super::hint::print_connect_hints(
        p.unreachable_hosts
            .iter()
            .map(|h| (h.uri.as_str(), h.error.as_str())),
    );
}

/// Read a plan saved by `plan --out`, refusing one this virtsync cannot
/// apply as it is.
fn read_saved_plan(path: &Path) -> Result<Plan, CliError> {
    let refused = |why: String| CliError::Refused(format!("plan {}: {why}", path.display()));
    let bytes = std::fs::read(path).map_err(|e| refused(format!("cannot read it: {e}")))?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| {
        refused(format!(
            "is not JSON ({e}); write one with `virtsync plan DIR --out FILE`"
        ))
    })?;
    let version = v.get("formatVersion").and_then(serde_json::Value::as_u64);
    if version != Some(u64::from(FORMAT_VERSION)) {
        return Err(refused(format!(
            "has format version {}, and this virtsync applies version {FORMAT_VERSION}; plan again with `virtsync plan DIR --out FILE`",
            version.map_or("(none)".to_string(), |n| n.to_string())
        )));
    }
    let p: Plan = serde_json::from_value(v).map_err(|e| {
        refused(format!(
            "is not a plan virtsync can read ({e}); plan again with `virtsync plan DIR --out FILE`"
        ))
    })?;
    if p.redacted {
        return Err(refused(
            "is a printed plan with its secrets redacted (`--output json`), which would set them to `(redacted)`; save one with `virtsync plan DIR --out FILE`".into(),
        ));
    }
    Ok(p)
}

pub fn apply(args: &ApplyArgs) -> Result<u8, CliError> {
    let common = &args.common;
    let saved = args.plan.as_deref().map(read_saved_plan).transpose()?;
    let Some(Prepared {
        desired,
        mut inventory,
        revision,
        scope,
        reconciler: r,
        mut planned,
        locks: _locks,
    }) = prepare_with(
        common,
        Observation::Plan,
        args.adopt,
        args.prune.options(),
        Some(args.lock_timeout),
    )?
    else {
        return Ok(exit::ERROR);
    };
    if let (Some(saved), Some(path)) = (saved, &args.plan) {
        // Applied only if made from what the manifests and hosts are now;
        // then exactly its actions, not a new plan.
        let changed = saved.fingerprint.changes_since(&planned.plan.fingerprint);
        if !changed.is_empty() || saved.fingerprint.digest != planned.plan.fingerprint.digest {
            let mut lines = changed;
            if lines.is_empty() {
                lines.push("the state it was made from differs".into());
            }
            return Err(CliError::Refused(format!(
                "plan {} is stale; since it was made:\n  {}\nnothing was changed; plan again with `virtsync plan DIR --out FILE`",
                path.display(),
                lines.join("\n  ")
            )));
        }
        planned.plan = saved;
    }
    let json = common.output == Output::Json;
    let target = Target {
        desired: &desired,
        inventory: &inventory.clone(),
        revision: &revision,
        adopt: args.adopt,
        scope: &scope,
    };
    connect_hints(&planned.plan);
    if let Some(refusal) = &planned.plan.refusal {
        // A guard refused: show what would have been deleted, change nothing.
        print_unchanged(&planned, &desired, &r, json, Some(&refusal.message))?;
        eprintln!("error: {}", refusal.message);
        return Ok(exit::ERROR);
    }
    if planned.plan.is_empty() {
        // Nothing to do: the observation just made is the final state.
        r.settle_inventory(&mut inventory, &planned.observed, Some(&common.state_dir))?;
        // It may still hold what to record of the objects managed (their
        // owner, labels, reclaim policy), for a later prune.
        if reconcile::record_managed(&mut inventory, &target, &planned.observed) {
            inventory.save(&common.state_dir)?;
        }
        print_unchanged(&planned, &desired, &r, json, None)?;
        let missing = super::wait::wait_for_addresses(&desired, &r, json, None);
        return Ok(super::wait::exit_code(planned.exit_code(false), &missing));
    }
    if !json {
        let mut out = std::io::stdout().lock();
        write!(out, "{}", super::style::plan(&render_text(&planned.plan)))?;
        out.flush()?;
    }
    let question = format!("Apply these {} actions?", planned.plan.actions.len());
    match super::confirm("apply", &question, args.yes, common.output) {
        Ok(true) => {}
        Ok(false) => {
            eprintln!("apply cancelled; nothing was changed");
            return Ok(exit::ERROR);
        }
        // JSON never asks: one document, the plan and why nothing was done.
        Err(CliError::Refused(why)) if json => {
            print_unchanged(&planned, &desired, &r, json, Some(&why))?;
            eprintln!("error: {why}");
            return Ok(exit::ERROR);
        }
        Err(e) => return Err(e),
    }
    let progress = super::progress::Progress::new(planned.plan.actions.len(), json);
    if let Some(bar) = progress.bar() {
        let bar = bar.clone();
        crate::image::upload::set_progress(Some(std::sync::Arc::new(
            move |image, n, total, started| {
                bar.set_message(upload_progress(image, n, total, started))
            },
        )));
    }
    let opts = ApplyOptions {
        parallel: args.parallel as usize,
        state_dir: Some(common.state_dir.clone()),
        ..ApplyOptions::default()
    };
    let done = r.apply_observed(
        &target,
        &mut inventory,
        &planned,
        &opts,
        &|a| progress.start(a),
        &|a, o| progress.done(a, o),
    )?;
    crate::image::upload::set_progress(None);
    let missing = super::wait::wait_for_addresses(&desired, &r, json, progress.bar());
    progress.finish();
    print_reconciled(&planned, &done, &desired, &r, json)?;
    Ok(super::wait::exit_code(done.exit_code(), &missing))
}

/// One line of an image upload's progress: bytes so far (of the total
/// when the server said) and the mean rate.
fn upload_progress(image: &str, n: u64, total: Option<u64>, started: std::time::Instant) -> String {
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    let of = total
        .map(|t| format!(" of {:.1} MiB", mib(t)))
        .unwrap_or_default();
    let secs = started.elapsed().as_secs_f64().max(0.001);
    format!(
        "uploading {image}: {:.1} MiB{of}, {:.1} MiB/s",
        mib(n),
        mib(n) / secs
    )
}

/// Blocked objects and unreachable hosts, as a `not converged` reason.
fn blocked_reason(p: &Plan) -> Option<String> {
    (!p.blocked.is_empty()).then(|| {
        let names: Vec<String> = p
            .blocked
            .iter()
            .map(|b| match b.host.name() {
                // Whose objects wait for a host that cannot be reached.
                Some(h) => format!("{} {} on host {h}", crate::plan::kind_noun(b.kind), b.name),
                None => format!("{} {}", crate::plan::kind_noun(b.kind), b.name),
            })
            .collect();
        format!("{} blocked ({})", p.blocked.len(), names.join(", "))
    })
}

/// What apply prints when it changes nothing; `refused` says why it
/// refused to (in JSON, an `error` beside the plan).
fn print_unchanged(
    planned: &Planned,
    desired: &DesiredState,
    r: &Reconciler,
    json: bool,
    refused: Option<&str>,
) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    let p = &planned.plan;
    if json {
        let mut doc = serde_json::json!({
            "plan": p.redacted(), "outcomes": [], "converged": planned.converged(),
            "changed": false, "calls": r.calls(),
        });
        if let Some(why) = refused {
            doc["converged"] = false.into();
            doc["error"] = serde_json::json!({ "message": why });
        }
        writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
        return Ok(());
    }
    if !p.is_complete() || !p.unreachable_hosts.is_empty() || p.refusal.is_some() {
        write!(out, "{}", super::style::plan(&render_text(p)))?;
    } else {
        for n in &p.notices {
            writeln!(out, "! {} {}: {}", n.kind, n.name, n.message)?;
        }
    }
    let mut why: Vec<String> = blocked_reason(p).into_iter().collect();
    if p.refusal.is_some() {
        why.push("prune refused".into());
    }
    if why.is_empty() {
        writeln!(out, "converged: {} objects in sync", objects(desired))?;
    } else {
        writeln!(
            out,
            "not converged: {}; nothing was changed",
            why.join("; ")
        )?;
    }
    Ok(())
}

fn print_reconciled(
    planned: &Planned,
    done: &Reconciled,
    desired: &DesiredState,
    r: &Reconciler,
    json: bool,
) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "plan": planned.plan.redacted(),
                "outcomes": done.outcomes,
                "converged": done.converged,
                "changed": done.changed,
                "remaining": done.residual.as_ref().map(|p| &p.actions),
                "blocked": done.residual.as_ref().map(|p| &p.blocked),
                "calls": r.calls(),
            }))?
        )?;
        return Ok(());
    }
    let count = |s: fn(&Status) -> bool| done.outcomes.iter().filter(|o| s(&o.status)).count();
    let failed = count(|s| matches!(s, Status::Failed { .. }));
    let skipped = count(|s| matches!(s, Status::Skipped { .. }));
    writeln!(
        out,
        "\nApply: {} done, {failed} failed, {skipped} skipped",
        count(|s| *s == Status::Done)
    )?;
    for o in &done.outcomes {
        match &o.status {
            Status::Failed { error } => writeln!(out, "  failed:  {}: {error}", o.id)?,
            Status::Skipped { because } => {
                writeln!(out, "  skipped: {} (because {because} failed)", o.id)?
            }
            Status::Done => {}
        }
    }
    let Some(residual) = &done.residual else {
        writeln!(out, "not converged: no host could be observed after apply")?;
        return Ok(());
    };
    if residual.is_empty() {
        writeln!(out, "Re-plan after apply: no changes.")?;
    }
    for n in &residual.notices {
        writeln!(out, "! {} {}: {}", n.kind, n.name, n.message)?;
    }
    for h in &residual.unreachable_hosts {
        writeln!(
            out,
            "! {} ({}) could not be observed: {}",
            h.host, h.uri, h.error
        )?;
    }
    if done.converged {
        writeln!(out, "converged: {} objects in sync", objects(desired))?;
        return Ok(());
    }
    let mut why = Vec::new();
    if failed > 0 {
        why.push(format!("{failed} action(s) failed"));
    }
    if skipped > 0 {
        why.push(format!("{skipped} skipped"));
    }
    if let Some(b) = blocked_reason(residual) {
        why.push(b);
    }
    let adopted = planned
        .plan
        .actions
        .iter()
        .any(|a| a.operation == crate::plan::Operation::Adopt);
    if adopted && !residual.is_empty() {
        // Taking over and changing are two steps an operator sees apart.
        writeln!(
            out,
            "Adopted objects were taken over as they are; run apply again for their differences from the manifests."
        )?;
    }
    if !residual.is_empty() {
        let what: Vec<String> = residual
            .actions
            .iter()
            .map(|a| format!("{} {}", a.operation.as_str(), a.id))
            .collect();
        why.push(format!(
            "{} action(s) still needed: {}",
            residual.actions.len(),
            what.join(", ")
        ));
    }
    writeln!(out, "not converged: {}", why.join("; "))?;
    Ok(())
}

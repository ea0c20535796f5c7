//! `import`: read the selected objects of the host into manifests, write
//! them, check that they validate, and with `--adopt` take them over
//! through the reconcile pass (the plan's `adopt` actions for what was
//! imported, nothing else), then report whether the host matches.

use std::io::Write;

use super::{exit, CliError, ImportArgs, Output};
use crate::backend::{ConnectOptions, LibvirtHost};
use crate::import::{self, Imported, Selection, Written};
use crate::inventory::Inventory;
use crate::manifest::{self, LoadOptions, ManifestError};
use crate::plan::render_text;
use crate::reconcile::{self, ApplyOptions, Planned, Reconciled, Reconciler, Target};

pub fn import(args: &ImportArgs) -> Result<u8, CliError> {
    let host = LibvirtHost::open_with(&args.host.connect, ConnectOptions::default())?;
    let imported = import::read(
        &host,
        &Selection {
            all: args.all,
            names: args.names.clone(),
        },
    )?;
    drop(host);
    let written = import::write(&imported, &args.out, args.force)?;
    let json = args.host.output == Output::Json;
    if !json {
        print_written(&imported, &written, args)?;
    }
    // The manifests must be usable as they are: validate them with the
    // directory's other manifests, as plan and apply will.
    let opts = LoadOptions {
        allow_paths: args
            .allow_path
            .iter()
            .map(|p| p.components().collect())
            .collect(),
        allow_unsafe_xml: false,
    };
    let desired = match manifest::load_dir(&args.out, &opts) {
        Ok((d, _)) => d,
        Err(ManifestError::Invalid(diags)) => {
            for d in &diags {
                eprintln!("{d}");
            }
            eprintln!(
                "error: the manifests in {} do not validate ({} error(s)); fix them (a disk path outside /var/lib/libvirt/images needs --allow-path DIR){}",
                args.out.display(),
                diags.len(),
                if args.adopt { "; nothing was adopted" } else { "" }
            );
            if json {
                print_json(&imported, &written, None, None)?;
            }
            return Ok(exit::ERROR);
        }
        Err(e) => return Err(e.into()),
    };
    if !args.adopt {
        if json {
            print_json(&imported, &written, None, None)?;
        }
        return Ok(exit::OK);
    }
    // Adopt: the plan of the directory with --adopt, of which only the
    // adoption of what was just imported is applied.
    let mut inventory = Inventory::load(&args.host.state_dir)?;
    let revision = reconcile::git_revision(&args.out);
    let r = Reconciler::connect(&desired, &args.host.connect, ConnectOptions::default());
    // The owner the written directory will have when planned from.
    let owner = crate::owner::Owner::discover(&args.out, None)?;
    let scope = crate::plan::Scope::new(owner.as_str(), &desired);
    let target = Target {
        desired: &desired,
        inventory: &inventory.clone(),
        revision: &revision,
        adopt: true,
        scope: &scope,
    };
    let planned = r.plan(&target);
    let adoption = Planned {
        plan: import::adoption(&planned.plan, &imported),
        observed: planned.observed,
    };
    if !json {
        write!(
            std::io::stdout().lock(),
            "{}",
            super::style::plan(&render_text(&adoption.plan))
        )?;
    }
    let opts = ApplyOptions {
        parallel: 4,
        state_dir: Some(args.host.state_dir.clone()),
        ..ApplyOptions::default()
    };
    let done = r.apply(&target, &mut inventory, &adoption, &opts, &|a, o| {
        if !json {
            let status = match &o.status {
                crate::apply::Status::Done => "done".to_string(),
                crate::apply::Status::Failed { error } => format!("FAILED: {error}"),
                crate::apply::Status::Skipped { because } => {
                    format!("skipped (depends on {because})")
                }
            };
            println!("  adopt    {} {}", a.id, status);
        }
    })?;
    if json {
        print_json(&imported, &written, Some(&adoption), Some(&done))?;
    } else {
        print_adopted(&done, desired.len() - desired.hosts.len())?;
    }
    Ok(done.exit_code())
}

fn print_written(
    imported: &Imported,
    written: &[Written],
    args: &ImportArgs,
) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    for w in written {
        let file = imported.files.iter().find(|f| f.path == w.path);
        let what: Vec<String> = file
            .into_iter()
            .flat_map(|f| &f.docs)
            .map(|d| {
                let ext = if d.external { " (external)" } else { "" };
                format!("{} {}{ext}", crate::plan::kind_noun(d.kind), d.name)
            })
            .collect();
        let verb = if w.action == "kept" {
            "kept (exists)"
        } else {
            "wrote"
        };
        writeln!(out, "{verb} {}: {}", w.path.display(), what.join(", "))?;
    }
    for s in &imported.skipped {
        writeln!(
            out,
            "! not imported: {} {}: {}",
            crate::plan::kind_noun(s.kind),
            s.name,
            s.reason
        )?;
    }
    let mut counts = std::collections::BTreeMap::<&str, usize>::new();
    for (k, _) in imported.managed() {
        *counts.entry(crate::plan::kind_noun(k)).or_default() += 1;
    }
    let counts: Vec<String> = counts
        .iter()
        .map(|(k, n)| format!("{n} {k}{}", if *n == 1 { "" } else { "s" }))
        .collect();
    writeln!(
        out,
        "imported from {} into {}: {}",
        imported.uri,
        args.out.display(),
        if counts.is_empty() {
            "nothing".to_string()
        } else {
            counts.join(", ")
        }
    )?;
    Ok(())
}

fn print_adopted(done: &Reconciled, objects: usize) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    if done.converged {
        writeln!(out, "converged: {objects} objects in sync")?;
        return Ok(());
    }
    if let Some(residual) = &done.residual {
        // The imported manifests should plan to nothing: what differs
        // still is shown as plan shows it.
        writeln!(out, "The manifests still differ from the host:")?;
        write!(out, "{}", super::style::plan(&render_text(residual)))?;
    }
    let failed = done.failed().count();
    writeln!(
        out,
        "not converged{}",
        if failed > 0 {
            format!(": {failed} adoption(s) failed")
        } else {
            String::new()
        }
    )?;
    Ok(())
}

fn print_json(
    imported: &Imported,
    written: &[Written],
    adoption: Option<&Planned>,
    done: Option<&Reconciled>,
) -> Result<(), CliError> {
    let mut v = serde_json::json!({
        "uri": imported.uri,
        "files": imported.files,
        "written": written,
        "skipped": imported.skipped,
    });
    if let (Some(a), Some(d)) = (adoption, done) {
        v["adoption"] = serde_json::to_value(a.plan.redacted())?;
        v["outcomes"] = serde_json::to_value(&d.outcomes)?;
        v["converged"] = d.converged.into();
        v["remaining"] = serde_json::to_value(d.residual.as_ref().map(|p| &p.actions))?;
    }
    writeln!(
        std::io::stdout().lock(),
        "{}",
        serde_json::to_string_pretty(&v)?
    )?;
    Ok(())
}

//! `validate`: load and check the manifests of a directory without
//! connecting to libvirt; print every error, or a one-line summary, as
//! text or JSON.

use std::io::Write;

use serde::Serialize;

use super::{exit, load_options, no_manifests, CliError, Output, ValidateArgs};
use crate::manifest::{self, Diagnostic, ManifestError};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ValidateReport<'a> {
    valid: bool,
    files: usize,
    documents: usize,
    counts: std::collections::BTreeMap<&'static str, usize>,
    errors: &'a [Diagnostic],
}

pub fn validate(args: &ValidateArgs) -> Result<u8, CliError> {
    let errors: Vec<Diagnostic>;
    let opts = load_options(&args.allow_path, args.allow_unsafe_xml);
    let report = match manifest::load_dir(&args.dir, &opts) {
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
            // The loader stops at the errors; the files it read are still
            // worth counting (a wrong directory reads none).
            let scanned = manifest::scan::scan(&args.dir).map(|s| s.files.len());
            ValidateReport {
                valid: false,
                files: scanned.unwrap_or(0),
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

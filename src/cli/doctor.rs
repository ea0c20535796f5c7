//! `virtsync doctor`: run [`crate::doctor`]'s checks and print them, one
//! line per finding (or the JSON report); exit 0 when nothing is a
//! problem, 1 otherwise.

use std::io::Write;

use super::{exit, CliError, DoctorArgs, Output};
use crate::backend::ConnectOptions;
use crate::doctor::{self, Options};
use crate::manifest::{self, ManifestError};

pub fn doctor(args: &DoctorArgs) -> Result<u8, CliError> {
    let manifests = match &args.dir {
        None => None,
        Some(dir) => match manifest::load_dir(dir, &args.load_options()) {
            Ok((state, _)) => Some(state),
            Err(ManifestError::Invalid(diags)) => {
                for d in &diags {
                    eprintln!("{d}");
                }
                eprintln!(
                    "error: {} error(s) in manifests (run `virtsync validate`)",
                    diags.len()
                );
                return Ok(exit::ERROR);
            }
            Err(e) => return Err(e.into()),
        },
    };
    let report = doctor::run(&Options {
        uri: args.connect.clone(),
        daemon_config: args.daemon_config.clone(),
        manifests,
        // Doctor answers fast: a daemon that takes longer is a finding.
        connect: ConnectOptions {
            open_timeout: std::time::Duration::from_secs(5),
            ..ConnectOptions::default()
        },
    });
    let mut out = std::io::stdout().lock();
    match args.output {
        Output::Json => writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?,
        Output::Text => write!(out, "{}", report.render_text())?,
    }
    Ok(report.exit_code())
}

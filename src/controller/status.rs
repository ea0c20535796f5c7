//! What the controller did last, for people and scripts: each pass's
//! report, logged, sent to whoever listens, and written to
//! `controller-status.json` in the state directory (atomically: a reader
//! never sees half a file).

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::desired::{Loaded, Manifests};
use super::queue::{Pending, Trigger};
use super::PassResult;

pub const STATUS_FILE: &str = "controller-status.json";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PassReport {
    pub format_version: u32,
    pub pid: u32,
    /// Seconds since the epoch when the pass ended.
    pub finished_at: u64,
    /// What asked for the pass (`manifests`, `host`, `resync`, `retry`).
    pub reasons: Vec<String>,
    /// Whether the manifests were read again, and how that went.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifests: Option<String>,
    /// Manifest errors (file:line:column: message), until fixed.
    pub manifest_errors: Vec<String>,
    /// Whether a pass ran at all (not without a good manifest load).
    pub ran: bool,
    pub actions: usize,
    /// Failed actions: id and error.
    pub failed: Vec<(String, String)>,
    pub skipped: usize,
    pub blocked: Vec<String>,
    /// Hosts that could not be reached, with why; `unreachable` counts them.
    pub unreachable_hosts: Vec<String>,
    #[serde(skip, default)]
    pub unreachable: usize,
    pub converged: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Objects waiting for their own retry after a failure (their last
    /// failure is in `failed` too).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deferred: Vec<super::requeue::Deferred>,
    /// Why the last `--pull` failed (a diverged checkout, say), until one
    /// succeeds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull_error: Option<String>,
}

fn reasons(p: &Pending) -> Vec<String> {
    p.reasons
        .iter()
        .map(|t| match t {
            Trigger::Manifests => "manifests".to_string(),
            Trigger::Host(h) if h.is_default() => "host default".to_string(),
            Trigger::Host(h) => format!("host {}", h.label()),
            Trigger::Resync => "resync".to_string(),
            Trigger::Retry => "retry".to_string(),
        })
        .collect()
}

fn loaded_text(l: &Loaded) -> String {
    match l {
        Loaded::Fresh => "loaded".into(),
        Loaded::Partial { kept } => format!(
            "invalid files keep their last good content: {}",
            kept.iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Loaded::KeptAll => "invalid: the last good state stays".into(),
        Loaded::Nothing => "invalid, never loaded: nothing to reconcile".into(),
    }
}

impl PassReport {
    fn base(work: &Pending, loaded: Option<Loaded>, m: &Manifests) -> PassReport {
        PassReport {
            format_version: 1,
            pid: std::process::id(),
            finished_at: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
            reasons: reasons(work),
            manifests: loaded.as_ref().map(loaded_text),
            manifest_errors: m.errors().iter().map(|d| d.to_string()).collect(),
            ran: false,
            actions: 0,
            failed: vec![],
            skipped: 0,
            blocked: vec![],
            unreachable_hosts: vec![],
            unreachable: 0,
            converged: false,
            error: None,
            deferred: vec![],
            pull_error: None,
        }
    }

    /// No pass: the manifests were never valid.
    pub fn not_run(work: &Pending, loaded: Option<Loaded>, m: &Manifests) -> PassReport {
        PassReport::base(work, loaded, m)
    }

    pub fn of(work: &Pending, loaded: Option<Loaded>, m: &Manifests, r: PassResult) -> PassReport {
        let mut out = PassReport::base(work, loaded, m);
        out.ran = true;
        out.actions = r.actions;
        out.failed = r.failed;
        out.skipped = r.skipped;
        out.blocked = r.blocked;
        out.unreachable = r.unreachable.len();
        out.unreachable_hosts = r.unreachable;
        out.converged = r.converged;
        out.error = r.error;
        tracing::info!(
            actions = out.actions,
            failed = out.failed.len(),
            blocked = out.blocked.len(),
            unreachable = out.unreachable,
            converged = out.converged,
            "pass"
        );
        out
    }

    /// The last report `run` wrote in `dir`, if any (and readable).
    pub fn load(dir: &Path) -> Option<PassReport> {
        let text = std::fs::read(dir.join(STATUS_FILE)).ok()?;
        serde_json::from_slice(&text).ok()
    }

    /// Write the report to the status file of `dir`, atomically.
    pub fn save(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let json = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        let tmp = dir.join(format!(".{STATUS_FILE}.tmp"));
        std::fs::write(&tmp, json)?;
        std::fs::rename(&tmp, dir.join(STATUS_FILE))
    }
}

//! `virtsync doctor`: is libvirt reachable at a URI, and if not, why and
//! what to do; when it is, what the host runs and whether it is ready for
//! the manifests (the `default` network and pool, KVM, migration to each
//! other Host of a manifest directory).
//!
//! The checks are data: each gives [`Finding`]s — a check id, a status
//! (ok, warn, problem), one line of message and the fix — gathered into a
//! [`Report`] sorted by check. A failed connection is explained from
//! libvirt's error number, error domain and errno ([`connect`]) and the
//! facts of this machine ([`local`]: the socket, this user's groups, the
//! daemon's config); a host that answers is read once ([`host`]).

mod connect;
mod host;
pub mod local;

use std::path::PathBuf;

use serde::Serialize;

use crate::backend::{ConnectFailure, ConnectOptions, LibvirtHost};
use crate::model::DesiredState;
use host::HostView;
use local::{Local, Uri};

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Warn,
    Problem,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Problem => "problem",
        }
    }
}

/// One check's outcome: one line, and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// A stable id (`connection.socket`, `host.kvm`,
    /// `migration.HOST.cpu`): what scripts match on.
    pub check: String,
    pub status: Status,
    pub message: String,
    /// The command or change that fixes it (problems and warnings).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

/// Everything doctor found, sorted by check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub uri: String,
    pub reachable: bool,
    pub findings: Vec<Finding>,
    pub problems: usize,
    pub warnings: usize,
}

impl Report {
    fn new(uri: &str, reachable: bool, mut findings: Vec<Finding>) -> Report {
        findings.sort_by(|a, b| a.check.cmp(&b.check).then(a.message.cmp(&b.message)));
        let count = |s: Status| findings.iter().filter(|f| f.status == s).count();
        Report {
            uri: uri.to_string(),
            reachable,
            problems: count(Status::Problem),
            warnings: count(Status::Warn),
            findings,
        }
    }

    /// 0 when nothing is a problem (warnings allowed), 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        if self.problems == 0 {
            crate::reconcile::exit::OK
        } else {
            crate::reconcile::exit::ERROR
        }
    }

    /// One line per finding (`[problem] check: message; fix: ...`), then
    /// a summary line.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        for f in &self.findings {
            out.push_str(&format!(
                "[{}] {}: {}",
                f.status.as_str(),
                f.check,
                f.message
            ));
            if let Some(fix) = &f.fix {
                out.push_str(&format!("; fix: {fix}"));
            }
            out.push('\n');
        }
        out.push_str(&match (self.problems, self.warnings) {
            (0, 0) => "doctor: all good\n".to_string(),
            (p, w) => format!("doctor: {p} problem(s), {w} warning(s)\n"),
        });
        out
    }
}

/// What to examine.
#[derive(Debug, Clone)]
pub struct Options {
    pub uri: String,
    /// The daemon config to quote when a socket is refused (default: the
    /// system daemon's, /etc/libvirt/libvirtd.conf or virtqemud.conf).
    pub daemon_config: Option<PathBuf>,
    /// A manifest directory's desired state: its Hosts are checked as
    /// migration targets of this host.
    pub manifests: Option<DesiredState>,
    pub connect: ConnectOptions,
}

/// Run every check.
pub fn run(opts: &Options) -> Report {
    let uri = Uri::parse(&opts.uri);
    let here = match LibvirtHost::probe(&opts.uri, opts.connect) {
        Ok(h) => h,
        Err(f) => {
            let local = Local::gather(&uri, socket_hint(&f), opts.daemon_config.as_deref());
            return Report::new(&opts.uri, false, connect::explain(&f, &uri, &local));
        }
    };
    let local = Local::gather(&uri, None, opts.daemon_config.as_deref());
    let view = match HostView::read(&here) {
        Ok(v) => v,
        Err(e) => {
            let f = Finding {
                check: "connection".into(),
                status: Status::Problem,
                message: format!("{} answers but cannot be read: {e}", opts.uri),
                fix: Some(format!(
                    "`virsh -c '{}' capabilities` shows the same error; see the daemon's log (`journalctl -u {}`)",
                    opts.uri,
                    local.daemon()
                )),
            };
            return Report::new(&opts.uri, true, vec![f]);
        }
    };
    let mut findings = host::host_findings(&view, &uri, &local);
    if let Some(desired) = &opts.manifests {
        // Each other Host, in parallel: an unreachable one costs its
        // timeout once.
        let others: Vec<(String, Result<HostView, Finding>)> = std::thread::scope(|s| {
            let handles: Vec<_> = desired
                .hosts
                .iter()
                .map(|(name, h)| {
                    let huri = h.uri.clone();
                    (
                        name.clone(),
                        s.spawn(move || examine_remote(&huri, opts.connect)),
                    )
                })
                .collect();
            handles
                .into_iter()
                .map(|(n, h)| (n, h.join().expect("doctor thread panicked")))
                .collect()
        });
        for (name, there) in &others {
            findings.extend(host::migration_findings(
                name,
                &view,
                there.as_ref(),
                desired,
            ));
        }
    }
    Report::new(&opts.uri, true, findings)
}

/// Another host, reached from here: what it runs, or the first finding of
/// why it cannot be reached.
fn examine_remote(uri: &str, opts: ConnectOptions) -> Result<HostView, Finding> {
    let parsed = Uri::parse(uri);
    match LibvirtHost::probe(uri, opts) {
        Ok(h) => HostView::read(&h).map_err(|e| Finding {
            check: "connection".into(),
            status: Status::Problem,
            message: e.to_string(),
            fix: None,
        }),
        Err(f) => {
            let local = Local::gather(&parsed, socket_hint(&f), None);
            Err(connect::explain(&f, &parsed, &local).remove(0))
        }
    }
}

/// The socket libvirt says it tried (`... socket to '/run/libvirt/...'`):
/// which path, only; the cause is decided on the error's numbers.
fn socket_hint(f: &ConnectFailure) -> Option<PathBuf> {
    let start = f.message.find('\'')? + 1;
    let len = f.message[start..].find('\'')?;
    let p = &f.message[start..start + len];
    p.starts_with('/').then(|| PathBuf::from(p))
}

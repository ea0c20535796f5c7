//! `waitFor.address`: after `apply`, wait until each running domain that
//! asks for it has an IP address (a DHCP lease of a managed network, or
//! one its guest agent reports), so that a pipeline can ssh in next.

use std::time::{Duration, Instant};

use crate::model::{DesiredState, PowerState};
use crate::reconcile::{HostConn, Reconciler};
use crate::status::addresses::query;

/// How often to ask libvirt again.
const POLL: Duration = Duration::from_secs(2);

/// Wait for the addresses `desired` asks for, printing each domain's as
/// it comes (unless `json`) and telling `progress` what is awaited.
/// Returns the domains that had none within their timeout.
pub(super) fn wait_for_addresses(
    desired: &DesiredState,
    r: &Reconciler,
    json: bool,
    progress: Option<&indicatif::ProgressBar>,
) -> Vec<String> {
    let start = Instant::now();
    let mut missing = Vec::new();
    for (key, d) in &desired.domains {
        let Some(timeout) = d.wait_for_address else {
            continue;
        };
        if d.state != PowerState::Running {
            continue;
        }
        let Some(HostConn::Up { read, .. }) = r.hosts().get(&key.host) else {
            missing.push(format!("{} (its host cannot be reached)", key.name));
            continue;
        };
        // Which sources to ask (leases, the agent) follow its live XML.
        let live = read.domain_xml(&key.name, true).unwrap_or_default();
        loop {
            let found = query(read.as_ref(), &key.name, &live);
            if !found.is_empty() {
                if !json {
                    let line = format!("address of domain {}: {}", key.name, found.join(", "));
                    match progress {
                        Some(bar) => bar.println(line),
                        None => println!("{line}"),
                    }
                }
                break;
            }
            // Each domain's timeout counts from the end of the apply.
            let waited = start.elapsed();
            if waited >= timeout {
                missing.push(format!(
                    "{} (none after {})",
                    key.name,
                    humantime::format_duration(timeout)
                ));
                break;
            }
            if let Some(bar) = progress {
                bar.set_message(format!(
                    "waiting for an IP address of domain {} ({}s of {})",
                    key.name,
                    waited.as_secs(),
                    humantime::format_duration(timeout)
                ));
            }
            std::thread::sleep(POLL.min(timeout - waited));
        }
    }
    missing
}

/// The exit code after waiting: the apply's, or 3 (not converged) when it
/// was 0 and some domain got no address in time, which is said on stderr.
pub(super) fn exit_code(code: u8, missing: &[String]) -> u8 {
    if missing.is_empty() {
        return code;
    }
    eprintln!(
        "not converged: no IP address for domain {} (waitFor.address)",
        missing.join(", ")
    );
    if code == crate::reconcile::exit::OK {
        crate::reconcile::exit::PARTIAL
    } else {
        code
    }
}

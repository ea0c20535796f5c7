//! Pruning: the objects virtsync owns whose manifests are gone.
//!
//! A candidate is an object of this owner (its marker, or for pools and
//! volumes its inventory record, names [`Scope::owner`]) that no manifest
//! of the directory declares — selected or not — and whose recorded labels
//! match the selector. With `--prune` (and its guards passed) each becomes
//! actions, deletions in reverse dependency order: domains (shut down,
//! then undefined with their snapshot metadata, checkpoints, managed save
//! and NVRAM; disks kept), volumes (only `reclaimPolicy: delete`), networks
//! and pools (stopped, then undefined). A network, pool or volume that a
//! domain which stays still uses is blocked instead. Without `--prune`, or
//! when a guard refuses, the candidates are notices and nothing is deleted.
//!
//! What each mode can see: with `--prune` the pass has read the marker of
//! every domain and network on the host; without it, only what a plan
//! reads anyway — the inventory's records of what this owner managed, and
//! the listings of the kinds the manifests use — so a candidate of a kind
//! no manifest uses any more, or one never managed since records existed,
//! shows up only under `--prune`.

mod find;
mod usage;

use std::collections::BTreeSet;

use super::*;
use usage::Usage;

/// One object the prune would delete.
pub(super) struct Candidate {
    pub kind: Kind,
    pub host: HostName,
    /// `pool/volume` for volumes.
    pub name: String,
    /// The actions, in order, with their effects.
    pub steps: Vec<(Effect, Step)>,
    /// Keys of pruned objects whose deletion must come first (the domains
    /// that use a volume, network or pool; the volumes of a pool).
    pub deps: Vec<String>,
    /// Why it cannot be deleted (a domain that stays uses it).
    pub blocked: Option<String>,
    /// What `--prune` does to it, for the notice without `--prune`.
    pub would: String,
    pub operation: Operation,
}

impl Candidate {
    pub fn new(
        kind: Kind,
        host: &HostName,
        name: &str,
        operation: Operation,
        would: String,
    ) -> Self {
        Candidate {
            kind,
            host: host.clone(),
            name: name.to_string(),
            steps: Vec::new(),
            deps: Vec::new(),
            blocked: None,
            would,
            operation,
        }
    }
}
/// A notice about an object that has no manifest (so no `Meta`).
pub(super) fn notice(
    b: &mut Builder,
    kind: Kind,
    host: &HostName,
    name: &str,
    message: String,
    prune: Option<Operation>,
) {
    b.notices.push(Notice {
        kind,
        name: name.to_string(),
        host: host.clone(),
        message,
        restart_pending: Vec::new(),
        prune,
    });
}

/// The candidates of one host: domains first, then volumes, networks and
/// pools, each with the pruned objects it waits for.
fn candidates(
    b: &mut Builder,
    hname: &HostName,
    host: &ObservedHost,
    declared_domains: &BTreeSet<&str>,
) -> Vec<Candidate> {
    let scope = b.input.scope;
    let cx = find::HostCx {
        hname,
        host,
        pruning: scope.prune.is_some(),
        owner: scope.owner.as_str(),
        timeout_ms: scope
            .prune
            .map(|p| p.shutdown_timeout.as_millis() as u64)
            .unwrap_or(0),
    };
    let mut out = find::domains(b, &cx, declared_domains);
    let pruned: BTreeSet<String> = out.iter().map(|c| c.name.clone()).collect();
    // Who uses what is known (every domain's XML read) only when pruning.
    let usage = if cx.pruning {
        Usage::of(host)
    } else {
        Usage {
            known: Vec::new(),
            unknown: Vec::new(),
        }
    };
    let volumes = find::volumes(b, &cx, &usage, &pruned);
    let networks = find::networks(b, &cx, &usage, &pruned);
    let pools = find::pools(b, &cx, &usage, &pruned, &volumes);
    out.extend(volumes);
    out.extend(networks);
    out.extend(pools);
    out
}

/// Plan the prune: the candidates of every observed host, then — with
/// `--prune` and its guards passed — their actions, else notices.
pub(super) fn plan_prune(b: &mut Builder) {
    let scope = b.input.scope;
    let declared_domains: BTreeSet<&str> = scope
        .declared
        .iter()
        .filter(|(_, k, _)| *k == Kind::Domain)
        .map(|(_, _, n)| n.as_str())
        .collect();
    let mut all: Vec<Candidate> = Vec::new();
    for (hname, host) in &b.input.observed.hosts {
        // A fleet controller (`--host`) prunes its own host only: the
        // others are observed for moves, and are their controllers'.
        if scope.only_host.as_ref().is_some_and(|h| h != hname) {
            continue;
        }
        all.extend(candidates(b, hname, host, &declared_domains));
    }
    let refusal = scope.prune.and_then(|opts| {
        let deletions = all.iter().filter(|c| c.blocked.is_none()).count();
        let desired = b.input.desired;
        let objects = desired.len() - desired.hosts.len();
        if objects == 0 && !opts.allow_empty {
            let selected = if scope.selector.is_empty() {
                ""
            } else {
                " match the selector"
            };
            Some(Refusal {
                cause: RefusalCause::EmptyDesiredState,
                message: format!(
                    "prune refused: no manifests{selected}, so it would delete every object this manifest set (`{}`) owns here ({deletions} now); an empty or wrong directory looks the same. Nothing was deleted. If that is what you want, add --allow-empty",
                    scope.owner
                ),
            })
        } else if deletions > opts.max_deletions {
            Some(Refusal {
                cause: RefusalCause::TooManyDeletions,
                message: format!(
                    "prune refused: it would delete {deletions} objects, more than --max-deletions {}. Nothing was deleted. Check the list; if it is right, run again with --max-deletions {deletions}",
                    opts.max_deletions
                ),
            })
        } else {
            None
        }
    });
    if scope.prune.is_none() || refusal.is_some() {
        for c in all {
            let message = match &c.blocked {
                None => format!("its manifest is gone: --prune would {}", c.would),
                Some(why) => why.clone(),
            };
            let op = c.blocked.is_none().then_some(c.operation);
            notice(b, c.kind, &c.host, &c.name, message, op);
        }
        b.refusal = refusal;
        return;
    }
    for c in all {
        if let Some(reason) = c.blocked.clone() {
            b.blocked.push(Blocked {
                kind: c.kind,
                name: c.name.clone(),
                host: c.host.clone(),
                file: String::new(),
                line: 0,
                reason,
                cause: BlockCause::Refused,
                depends_on: None,
            });
            continue;
        }
        b.pruned += 1;
        // Chained per object; the last step makes it "done" for the
        // deletions that wait for it.
        let n = c.steps.len();
        for (i, (effect, step)) in c.steps.into_iter().enumerate() {
            let deps = if i == 0 { &c.deps[..] } else { &[] };
            b.push(&c.host, &c.name, effect, vec![], step, deps, i + 1 == n);
        }
    }
}

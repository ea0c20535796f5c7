//! The plan: plain data describing the actions that take observed state to
//! desired state, and the pure function that computes it.
//!
//! [`plan`] takes the desired state, the observed state (with each host's
//! capabilities) and the ownership inventory, and returns a [`Plan`] or every
//! planning error at once. It touches no connection, clock or file. Each
//! action carries everything apply needs (the XML to define, the live
//! values to set), so apply executes without deciding anything.

mod adopt;
mod blocked;
mod builder;
mod data;
mod display;
mod domain;
mod fingerprint;
mod fleet;
mod network;
mod pool;
mod prune;
pub mod redact;
mod scope;
mod snapshot;
mod step;
mod storage;

use crate::inventory::Inventory;
use crate::model::*;

pub(crate) use builder::*;
pub use data::*;
pub use display::render_text;
pub use fingerprint::{fingerprint, Fingerprint, ObjectPrint};
pub use fleet::drop_actions;
pub use scope::{PruneOptions, Scope};
pub use step::{DhcpHostEdit, Step};

pub use crate::render::{Marker, MARKER_NS};

/// Everything the planner knows, as data.
pub struct PlanInput<'a> {
    pub desired: &'a DesiredState,
    pub observed: &'a ObservedState,
    pub inventory: &'a Inventory,
    /// The git revision of the manifests, or empty.
    pub revision: &'a str,
    /// The time of the pass, seconds since the epoch (UTC): it names the
    /// snapshots a `snapshotPolicy` takes. The planner reads no clock.
    pub now: u64,
    /// `--adopt`: an existing object of a manifest's name that virtsync
    /// does not own is taken over as it is ([`Operation::Adopt`]) instead
    /// of being blocked.
    pub adopt: bool,
    /// Whose objects these are, what the directory declares, the selector,
    /// and whether the pass prunes.
    pub scope: &'a Scope,
}

/// Compute the plan. Pure: same input, same plan.
///
/// Objects that cannot be planned are blocked, with the objects that
/// depend on them; the rest is planned as if they were not there.
pub fn plan(input: &PlanInput) -> Plan {
    let mut b = Builder::new(input);
    one_definition_per_host(&mut b);
    // Deletions first, in the plan and in its text: objects virtsync owns
    // whose manifests are gone (domains, volumes, networks, pools).
    prune::plan_prune(&mut b);
    // Dependency order: pools → volumes → networks → domains → snapshots.
    for p in input.desired.pools.values() {
        pool::plan_pool(&mut b, p);
    }
    for v in input.desired.volumes.values() {
        storage::plan_volume(&mut b, v);
    }
    for n in input.desired.networks.values() {
        network::plan_network(&mut b, n);
    }
    for d in input.desired.domains.values() {
        domain::plan_domain(&mut b, d);
    }
    for s in input.desired.snapshots.values() {
        snapshot::plan_snapshot(&mut b, s);
    }
    for d in input.desired.domains.values() {
        snapshot::policy_retention(&mut b, d);
    }
    blocked::block_dependents(&mut b);
    if let Some(host) = &input.scope.only_host {
        fleet::only_on(&mut b, host);
    }
    let mut summary = Summary::default();
    for a in &b.actions {
        match a.effect {
            Effect::Create => summary.create += 1,
            Effect::Update => summary.update += 1,
            Effect::Power => summary.power += 1,
            Effect::Delete => summary.delete += 1,
            Effect::Move => summary.moved += 1,
        }
    }
    summary.total = b.actions.len();
    summary.prune = b.pruned;
    summary.restart_pending = b
        .notices
        .iter()
        .filter(|n| !n.restart_pending.is_empty())
        .count();
    b.blocked.sort();
    b.blocked.dedup();
    summary.blocked = b.blocked.len();
    let unreachable_hosts = input
        .observed
        .unreachable
        .iter()
        .map(|(h, e)| UnreachableHost {
            host: h.clone(),
            uri: input.observed.uris.get(h).cloned().unwrap_or_default(),
            error: e.clone(),
        })
        .collect();
    Plan {
        format_version: FORMAT_VERSION,
        fingerprint: fingerprint(input),
        redacted: false,
        actions: b.actions,
        blocked: b.blocked,
        unreachable_hosts,
        notices: b.notices,
        refusal: b.refusal,
        summary,
        live_xml_wanted: b.live_xml_wanted,
    }
}

/// One daemon reached under two names (the default connection and a Host
/// manifest, two spellings of one URI) is one host: an object declared
/// under both names would be defined by one manifest and "corrected" by
/// the other, pass after pass. Both are blocked, naming the other.
fn one_definition_per_host(b: &mut Builder) {
    let mut names: std::collections::BTreeMap<HostId, Vec<&HostName>> = Default::default();
    for (name, h) in &b.input.observed.hosts {
        names.entry(h.identity()).or_default().push(name);
    }
    let desired = b.input.desired;
    for (id, hosts) in names.iter().filter(|(_, h)| h.len() > 1) {
        let on = |h: &HostName| hosts.contains(&h);
        let mut seen: std::collections::BTreeMap<(Kind, &str), Vec<&Meta>> = Default::default();
        for (k, d) in desired.domains.iter().filter(|(k, _)| on(&k.host)) {
            seen.entry((Kind::Domain, &k.name))
                .or_default()
                .push(&d.meta);
        }
        for (k, n) in desired.networks.iter().filter(|(k, _)| on(&k.host)) {
            seen.entry((Kind::Network, &k.name))
                .or_default()
                .push(&n.meta);
        }
        for (k, p) in desired.pools.iter().filter(|(k, _)| on(&k.host)) {
            seen.entry((Kind::StoragePool, &k.name))
                .or_default()
                .push(&p.meta);
        }
        for ((kind, name), metas) in seen.into_iter().filter(|(_, m)| m.len() > 1) {
            let places: Vec<String> = metas
                .iter()
                .map(|m| {
                    let host = m.host.name().unwrap_or("the default connection");
                    format!("{host} ({}:{})", m.source.file.display(), m.source.line)
                })
                .collect();
            for m in &metas {
                b.error(
                    kind,
                    m,
                    format!(
                        "{} {name} is declared for one libvirt daemon under several names ({}; host identity {}): keep one manifest",
                        kind_noun(kind),
                        places.join(", "),
                        id.as_str()
                    ),
                );
            }
        }
    }
}

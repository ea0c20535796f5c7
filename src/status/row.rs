//! One row of `status`: which declared object each action, blocked entry
//! and notice of the plan is about, and the status that makes.

use std::collections::{BTreeMap, BTreeSet};

use super::{ObjectStatus, State};
use crate::model::*;
use crate::plan::{Action, BlockCause, Blocked, Notice, Operation};
use crate::render::snapshot::read_snapshot;
use crate::xml::Element;

/// One declared object, as the plan names it.
pub(super) struct Declared<'a> {
    pub kind: Kind,
    pub meta: &'a Meta,
    /// The plan's name of it (`pool/volume`, `domain/snapshot`).
    pub name: String,
    pub external: bool,
}

impl<'a> Declared<'a> {
    fn plain(kind: Kind, meta: &'a Meta, external: bool) -> Declared<'a> {
        Declared {
            kind,
            meta,
            name: meta.name.clone(),
            external,
        }
    }

    /// How the plan's blocked entries name it: kind and manifest.
    pub(super) fn blocked_key(&self) -> BlockedKey<'a> {
        (
            self.kind,
            &self.meta.host,
            &self.meta.name,
            self.meta.source.file.display().to_string(),
            self.meta.source.line,
        )
    }
}

pub(super) type BlockedKey<'a> = (Kind, &'a HostName, &'a str, String, usize);

pub(super) fn declared(d: &DesiredState) -> Vec<Declared<'_>> {
    let mut out: Vec<Declared> = Vec::new();
    out.extend(
        d.pools
            .values()
            .map(|p| Declared::plain(Kind::StoragePool, &p.meta, p.external)),
    );
    out.extend(d.volumes.values().map(|v| Declared {
        kind: Kind::Volume,
        meta: &v.meta,
        name: format!("{}/{}", v.pool, v.meta.name),
        external: v.external,
    }));
    out.extend(
        d.networks
            .values()
            .map(|n| Declared::plain(Kind::Network, &n.meta, n.external)),
    );
    out.extend(
        d.domains
            .values()
            .map(|x| Declared::plain(Kind::Domain, &x.meta, false)),
    );
    out.extend(d.snapshots.values().map(|s| Declared {
        kind: Kind::Snapshot,
        meta: &s.meta,
        name: format!("{}/{}", s.domain, s.meta.name),
        external: false,
    }));
    out
}

pub(super) fn row(
    o: &Declared,
    actions: &[&Action],
    blocked: &[&Blocked],
    notices: &[&Notice],
    observed: &ObservedState,
) -> ObjectStatus {
    let host = &o.meta.host;
    let observed_host = observed.hosts.get(host);
    let mut notes = Vec::new();
    let mut restart_pending: Vec<String> = Vec::new();
    for n in notices {
        if n.restart_pending.is_empty() {
            notes.push(n.message.clone());
        } else {
            restart_pending.extend(n.restart_pending.iter().cloned());
        }
    }
    let snapshots = (o.kind == Kind::Domain)
        .then(|| observed_host.and_then(|h| snapshot_names(h, &o.name, &mut notes)))
        .flatten();
    // An unreachable host first, then a collision, when an object is
    // blocked for several reasons.
    let blocked = blocked.iter().min_by_key(|b| match b.cause {
        BlockCause::HostUnreachable => 0,
        BlockCause::Unmanaged | BlockCause::OtherOwner => 1,
        BlockCause::Refused => 2,
        BlockCause::Dependency => 3,
    });
    let state = match blocked {
        Some(b) => {
            let message = b.reason.clone();
            match b.cause {
                // Another manifest set's object is not this one's to manage.
                BlockCause::Unmanaged | BlockCause::OtherOwner => {
                    State::UnmanagedCollision { message }
                }
                BlockCause::HostUnreachable => State::HostUnreachable { message },
                BlockCause::Dependency | BlockCause::Refused => State::PlanningError { message },
            }
        }
        None if actions.is_empty() => match dedup(restart_pending) {
            f if f.is_empty() => State::InSync,
            fields => State::RestartPending { fields },
        },
        None if !observed_host.is_some_and(|h| exists(h, o)) => State::Missing,
        None => {
            let fields = drifted_fields(actions, o);
            let restart_pending = dedup(restart_pending)
                .into_iter()
                .filter(|f| !fields.contains(f))
                .collect();
            State::Drifted {
                fields,
                restart_pending,
            }
        }
    };
    ObjectStatus {
        kind: o.kind,
        name: o.name.clone(),
        host: host.clone(),
        file: o.meta.source.file.display().to_string(),
        line: o.meta.source.line,
        external: o.external,
        state,
        snapshots,
        notes,
        addresses: match (o.kind, observed_host) {
            (Kind::Domain, Some(h)) => super::addresses::reserved(h, &o.name),
            _ => vec![],
        },
        last_error: None,
    }
}

/// The declared object an action belongs to (its index). The snapshots a
/// domain's `snapshotPolicy` takes and deletes have no manifest of their
/// own: they belong to the domain.
pub(super) fn owner(
    a: &Action,
    by_plan_name: &BTreeMap<(Kind, &HostName, &str), usize>,
) -> Option<usize> {
    let find = |kind: Kind, name: &str| by_plan_name.get(&(kind, &a.host, name)).copied();
    find(a.kind, &a.name).or_else(|| match a.kind {
        Kind::Snapshot => a
            .name
            .split_once('/')
            .and_then(|(domain, _)| find(Kind::Domain, domain)),
        _ => None,
    })
}

/// What the actions of a drifted object change: the fields of their
/// changes, the power state of their power actions, and where neither
/// says anything (a restart, a policy snapshot), the operations.
fn drifted_fields(actions: &[&Action], o: &Declared) -> Vec<String> {
    let mut fields: Vec<String> = Vec::new();
    for a in actions {
        if a.kind != o.kind {
            // A snapshot of the domain's policy.
            fields.push("snapshotPolicy".into());
            continue;
        }
        fields.extend(a.changes.iter().map(|c| c.field.clone()));
        if !a.changes.is_empty() {
            continue;
        }
        use Operation::*;
        match (a.kind, a.operation) {
            (Kind::Domain, Start | Shutdown | Destroy | Suspend | Resume) => {
                fields.push("state".into())
            }
            (Kind::Network | Kind::StoragePool, Start | Destroy) => fields.push("active".into()),
            _ => {}
        }
    }
    if fields.is_empty() {
        fields = actions
            .iter()
            .map(|a| a.operation.as_str().to_string())
            .collect();
    }
    dedup(fields)
}

/// Keep the first of each, in order.
fn dedup(v: Vec<String>) -> Vec<String> {
    let mut seen = BTreeSet::new();
    v.into_iter().filter(|x| seen.insert(x.clone())).collect()
}

/// The object exists on its (observed) host.
fn exists(h: &ObservedHost, o: &Declared) -> bool {
    let split = || o.name.split_once('/').unwrap_or((&o.name, ""));
    match o.kind {
        Kind::Domain => h.domains.contains_key(&o.name),
        Kind::Network => h.networks.contains_key(&o.name),
        Kind::StoragePool => h.pools.contains_key(&o.name),
        Kind::Volume => {
            let (pool, name) = split();
            h.volumes
                .contains_key(&(pool.to_string(), name.to_string()))
        }
        Kind::Snapshot => {
            let (domain, name) = split();
            h.snapshots
                .get(domain)
                .is_some_and(|list| list.contains_key(name))
        }
        Kind::Host => true,
    }
}

/// The names of `domain`'s snapshots, oldest first (as `snapshot list`
/// orders them); `None` when they were not listed. A listing that failed
/// is noted.
fn snapshot_names(h: &ObservedHost, domain: &str, notes: &mut Vec<String>) -> Option<Vec<String>> {
    if let Some(e) = h.read_errors.get(&(Kind::Snapshot, domain.to_string())) {
        notes.push(format!("its snapshots could not be listed: {e}"));
        return None;
    }
    let list = h.snapshots.get(domain)?;
    let mut taken: Vec<(Option<i64>, &String)> = list
        .iter()
        .map(|(name, xml)| {
            let when = Element::parse(xml)
                .ok()
                .and_then(|e| read_snapshot(&e).creation_time);
            (when, name)
        })
        .collect();
    taken.sort();
    Some(taken.into_iter().map(|(_, n)| n.clone()).collect())
}

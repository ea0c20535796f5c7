//! Finding prune candidates on one host, kind by kind: domains and
//! networks by their marker (under `--prune`) or this owner's inventory
//! record (without it), volumes and pools by the inventory, which records
//! those virtsync created. Each candidate carries its actions, the pruned
//! objects it must wait for, and what keeps it from being deleted.

use std::collections::{BTreeMap, BTreeSet};

use super::usage::{in_use, Usage};
use super::*;
use crate::backend::UndefineFlags;
use crate::inventory::Record;
use crate::render::domain::{DomainFacts, NicSourceId, SourceId};
use crate::render::read_marker;
use crate::render::storage::{read_pool, read_volume};
use crate::xml::Element;

/// One observed host, as the finders see it.
pub(super) struct HostCx<'a> {
    pub hname: &'a HostName,
    pub host: &'a ObservedHost,
    /// `--prune`: every marker was read, and who uses what is known.
    pub pruning: bool,
    pub owner: &'a str,
    /// `--shutdown-timeout`, for a pruned running domain.
    pub timeout_ms: u64,
}

impl HostCx<'_> {
    /// The object keys of domains `names` (what a deletion waits for).
    fn domain_keys<'n>(&self, names: impl Iterator<Item = &'n str>) -> Vec<String> {
        names
            .map(|n| obj_key(Kind::Domain, self.hname, n))
            .collect()
    }
}

/// Whose a domain or network without a manifest is, and its labels:
/// `Some` only when it is this owner's. The marker decides; a marker
/// written before owners existed counts when this owner claimed the object
/// in the inventory (same UUID). `None` also for objects whose marker was
/// not read (no `--prune`): then only the inventory record speaks.
fn ours_by_marker(
    b: &mut Builder,
    kind: Kind,
    host: &HostName,
    name: &str,
    xml: Option<&str>,
    record: Option<&Record>,
) -> Option<BTreeMap<String, String>> {
    let owner = b.input.scope.owner.as_str();
    let marker = xml
        .and_then(|x| Element::parse(x).ok())
        .and_then(|r| read_marker(&r))?;
    let claimed = record.filter(|r| r.owner == owner);
    match marker.owner.as_deref() {
        Some(o) if o == owner => Some(claimed.map_or(marker.labels, |r| r.labels.clone())),
        Some(_) => None,
        None => match claimed {
            Some(r) => Some(r.labels.clone()),
            None => {
                let noun = kind_noun(kind);
                notice(
                    b,
                    kind,
                    host,
                    name,
                    format!("not pruned: no manifest declares this {noun}, and its ownership marker names no owner (virtsync wrote it before owners existed) nor did this manifest set (`{owner}`) ever claim it; if it is yours, add its manifest back and apply once, or remove it by hand"),
                    None,
                );
                None
            }
        },
    }
}

/// The domains of this owner that no manifest declares (on any host:
/// one found elsewhere was moved by `metadata.host`, which the planner
/// refuses rather than delete).
pub(super) fn domains(
    b: &mut Builder,
    cx: &HostCx,
    declared_domains: &BTreeSet<&str>,
) -> Vec<Candidate> {
    let (hname, host, pruning, owner, timeout_ms) =
        (cx.hname, cx.host, cx.pruning, cx.owner, cx.timeout_ms);
    let scope = b.input.scope;
    let records = b.input.inventory.records(&host.identity());
    let mut out = Vec::new();
    for (name, d) in &host.domains {
        if declared_domains.contains(name.as_str()) {
            continue;
        }
        let record = records
            .and_then(|r| r.domains.get(name))
            .filter(|r| r.uuid.as_ref() == Some(&d.uuid));
        let labels = if pruning {
            if let Some(e) = host.read_errors.get(&(Kind::Domain, name.clone())) {
                if record.is_some_and(|r| r.owner == owner) {
                    notice(
                        b,
                        Kind::Domain,
                        hname,
                        name,
                        format!("not pruned this pass: its XML could not be read ({e})"),
                        None,
                    );
                }
                continue;
            }
            match ours_by_marker(b, Kind::Domain, hname, name, d.xml.as_deref(), record) {
                Some(l) => l,
                None => continue,
            }
        } else {
            match record.filter(|r| r.owner == owner) {
                Some(r) => r.labels.clone(),
                None => continue,
            }
        };
        if !scope.selects(&labels) {
            continue;
        }
        let running = d.state != PowerState::Shutoff;
        let would = match (d.persistent, running) {
            (true, true) => "shut it down and undefine it (its disks are kept)",
            (true, false) => "undefine it (its disks are kept)",
            (false, _) => "shut it down (a transient domain is gone once it stops)",
        };
        let operation = if d.persistent {
            Operation::Undefine
        } else {
            Operation::Shutdown
        };
        let mut c = Candidate::new(Kind::Domain, hname, name, operation, would.into());
        if !d.persistent {
            let step = Step::ShutdownDomain { timeout_ms };
            c.steps.push((Effect::Delete, step));
        } else {
            if running {
                let step = Step::ShutdownDomain { timeout_ms };
                c.steps.push((Effect::Power, step));
            }
            let nvram = d
                .xml
                .as_deref()
                .and_then(|x| Element::parse(x).ok())
                .is_some_and(|r| super::domain::has_nvram(&r));
            let flags = UndefineFlags {
                managed_save: true,
                snapshots_metadata: true,
                checkpoints_metadata: true,
                nvram,
                keep_nvram: false,
            };
            c.steps
                .push((Effect::Delete, Step::UndefineDomain { flags }));
        }
        out.push(c);
    }
    out
}

/// The volumes virtsync created (under a pool it owns) that no manifest
/// declares, deleted only under `reclaimPolicy: delete`; `pruned` are the
/// domains this prune deletes.
pub(super) fn volumes(
    b: &mut Builder,
    cx: &HostCx,
    usage: &Usage,
    pruned: &BTreeSet<String>,
) -> Vec<Candidate> {
    let (hname, host, pruning, owner) = (cx.hname, cx.host, cx.pruning, cx.owner);
    let scope = b.input.scope;
    let inventory = b.input.inventory;
    let mut out = Vec::new();
    if let Some(h) = inventory.hosts.get(&host.identity()) {
        for (pool, names) in &h.volumes {
            let pool_owned = host
                .pools
                .get(pool)
                .is_some_and(|p| inventory.owns_pool(&host.identity(), pool, &p.uuid));
            for vname in names {
                let full = format!("{pool}/{vname}");
                if !pool_owned || scope.declares(hname, Kind::Volume, &full) {
                    continue;
                }
                let Some(obs) = host.volumes.get(&(pool.clone(), vname.clone())) else {
                    // Gone, or not listed (its pool is inactive, or no
                    // manifest names the pool and there is no `--prune`).
                    continue;
                };
                let Some(r) = inventory.volume_record(&host.identity(), pool, vname) else {
                    if pruning {
                        notice(b, Kind::Volume, hname, &full, format!("not pruned: no manifest declares this volume, and the inventory names no owner for it (an older virtsync recorded it) nor did this manifest set (`{owner}`) ever claim it; if it is yours, add its manifest back and apply once, or delete it by hand"), None);
                    }
                    continue;
                };
                if r.owner != owner || !scope.selects(&r.labels) {
                    continue;
                }
                if r.reclaim_policy != Some(ReclaimPolicy::Delete) {
                    if pruning {
                        notice(b, Kind::Volume, hname, &full, "kept: its manifest is gone, and its reclaimPolicy is retain (only `delete` lets a prune delete a volume)".into(), None);
                    }
                    continue;
                }
                let mut c = Candidate::new(
                    Kind::Volume,
                    hname,
                    &full,
                    Operation::DeleteVolume,
                    "delete it and its data (reclaimPolicy: delete)".into(),
                );
                c.steps
                    .push((Effect::Delete, Step::DeleteVolume { pool: pool.clone() }));
                let facts = obs
                    .xml
                    .as_deref()
                    .and_then(|x| Element::parse(x).ok())
                    .map(|e| read_volume(&e));
                let path = facts.as_ref().and_then(|f| f.path.clone());
                let by_volume = SourceId::Volume {
                    pool: pool.clone(),
                    name: vname.clone(),
                };
                let uses = |f: &DomainFacts| {
                    f.disks.iter().any(|k| {
                        k.source == by_volume
                            || path
                                .as_ref()
                                .is_some_and(|p| k.source == SourceId::Path(p.clone()))
                    })
                };
                if pruning {
                    let (staying, unknown) = usage.users(pruned, uses);
                    c.blocked = in_use("volume", &staying, &unknown);
                    if c.blocked.is_none() {
                        // A qcow2 overlay on this volume would lose its data.
                        let overlay = path.as_ref().and_then(|p| {
                            host.volumes.iter().find(|(k, v)| {
                                **k != (pool.clone(), vname.clone())
                                    && v.xml
                                        .as_deref()
                                        .and_then(|x| Element::parse(x).ok())
                                        .and_then(|e| read_volume(&e).backing_path)
                                        .as_ref()
                                        == Some(p)
                            })
                        });
                        if let Some(((op, ov), _)) = overlay {
                            c.blocked = Some(format!("its manifest is gone, but volume {op}/{ov} is an overlay on it (its backing store): not pruned"));
                        }
                    }
                    c.deps = cx.domain_keys(usage.pruned_users(pruned, uses));
                }
                out.push(c);
            }
        }
    }

    out
}

/// This owner's networks that no manifest declares.
pub(super) fn networks(
    b: &mut Builder,
    cx: &HostCx,
    usage: &Usage,
    pruned: &BTreeSet<String>,
) -> Vec<Candidate> {
    let (hname, host, pruning, owner) = (cx.hname, cx.host, cx.pruning, cx.owner);
    let scope = b.input.scope;
    let records = b.input.inventory.records(&host.identity());
    let mut out = Vec::new();
    for (name, n) in &host.networks {
        if scope.declares(hname, Kind::Network, name) {
            continue;
        }
        let record = records
            .and_then(|r| r.networks.get(name))
            .filter(|r| r.uuid.as_ref() == Some(&n.uuid));
        let labels = if pruning {
            if host
                .read_errors
                .contains_key(&(Kind::Network, name.clone()))
            {
                continue;
            }
            match ours_by_marker(b, Kind::Network, hname, name, n.xml.as_deref(), record) {
                Some(l) => l,
                None => continue,
            }
        } else {
            match record.filter(|r| r.owner == owner) {
                Some(r) => r.labels.clone(),
                None => continue,
            }
        };
        if !scope.selects(&labels) {
            continue;
        }
        let would = if n.active {
            "stop and undefine it"
        } else {
            "undefine it"
        };
        let mut c = Candidate::new(
            Kind::Network,
            hname,
            name,
            Operation::Undefine,
            would.into(),
        );
        if n.active {
            c.steps.push((Effect::Power, Step::DestroyNetwork));
        }
        c.steps.push((Effect::Delete, Step::UndefineNetwork));
        if pruning {
            let net = NicSourceId::Network(name.clone());
            let uses = |f: &DomainFacts| f.interfaces.iter().any(|i| i.source == net);
            let (staying, unknown) = usage.users(pruned, uses);
            c.blocked = in_use("network", &staying, &unknown);
            c.deps = cx.domain_keys(usage.pruned_users(pruned, uses));
        }
        out.push(c);
    }

    out
}

/// The pools virtsync created (name and UUID in the inventory) that no
/// manifest declares; `volumes` are this prune's volume candidates.
pub(super) fn pools(
    b: &mut Builder,
    cx: &HostCx,
    usage: &Usage,
    pruned: &BTreeSet<String>,
    volumes: &[Candidate],
) -> Vec<Candidate> {
    let (hname, host, pruning, owner) = (cx.hname, cx.host, cx.pruning, cx.owner);
    let scope = b.input.scope;
    let inventory = b.input.inventory;
    let deleted_volumes: Vec<(String, String)> = volumes
        .iter()
        .filter(|v| v.blocked.is_none())
        .filter_map(|v| v.name.split_once('/'))
        .map(|(p, n)| (p.to_string(), n.to_string()))
        .collect();
    let mut out = Vec::new();
    if let Some(h) = inventory.hosts.get(&host.identity()) {
        for pname in h.pools.keys() {
            let Some(obs) = host
                .pools
                .get(pname)
                .filter(|p| inventory.owns_pool(&host.identity(), pname, &p.uuid))
            else {
                continue;
            };
            if scope.declares(hname, Kind::StoragePool, pname) {
                continue;
            }
            let Some(r) = inventory.pool_record(&host.identity(), pname) else {
                if pruning {
                    notice(b, Kind::StoragePool, hname, pname, format!("not pruned: no manifest declares this pool, and the inventory names no owner for it (an older virtsync recorded it) nor did this manifest set (`{owner}`) ever claim it; if it is yours, add its manifest back and apply once, or remove it by hand"), None);
                }
                continue;
            };
            if r.owner != owner || !scope.selects(&r.labels) {
                continue;
            }
            let would = if obs.active {
                "stop and undefine it (its directory and the volumes left in it stay on disk)"
            } else {
                "undefine it (its directory and the volumes left in it stay on disk)"
            };
            let mut c = Candidate::new(
                Kind::StoragePool,
                hname,
                pname,
                Operation::Undefine,
                would.into(),
            );
            if obs.active {
                c.steps.push((Effect::Power, Step::DestroyPool));
            }
            c.steps.push((Effect::Delete, Step::UndefinePool));
            if pruning {
                let dir = obs
                    .xml
                    .as_deref()
                    .and_then(|x| Element::parse(x).ok())
                    .map(|e| read_pool(&e).path)
                    .filter(|p| !p.is_empty());
                let uses = |f: &DomainFacts| {
                    f.disks.iter().any(|k| match &k.source {
                        SourceId::Volume { pool, .. } => pool == pname,
                        SourceId::Path(p) => dir.as_ref().is_some_and(|d| {
                            p.strip_prefix(d.trim_end_matches('/'))
                                .is_some_and(|rest| rest.starts_with('/'))
                        }),
                        _ => false,
                    })
                };
                let (staying, unknown) = usage.users(pruned, uses);
                c.blocked = in_use("pool", &staying, &unknown);
                let blocked_volume = volumes.iter().find(|v| {
                    v.kind == Kind::Volume
                        && v.blocked.is_some()
                        && v.name.split_once('/').is_some_and(|(p, _)| p == pname)
                });
                if let (None, Some(v)) = (&c.blocked, blocked_volume) {
                    c.blocked = Some(format!(
                        "its manifest is gone, but volume {}, which it holds, cannot be pruned: not pruned",
                        v.name
                    ));
                }
                c.deps = cx.domain_keys(usage.pruned_users(pruned, uses));
                c.deps.extend(
                    deleted_volumes
                        .iter()
                        .filter(|(p, _)| p == pname)
                        .map(|(p, v)| obj_key(Kind::Volume, hname, &format!("{p}/{v}"))),
                );
                // What stays on disk: say so, by name.
                let left: Vec<&str> = host
                    .volumes
                    .keys()
                    .filter(|(p, v)| {
                        p == pname && !deleted_volumes.contains(&(p.clone(), v.clone()))
                    })
                    .map(|(_, v)| v.as_str())
                    .collect();
                if c.blocked.is_none() && !left.is_empty() {
                    let at = dir.as_deref().unwrap_or("its directory");
                    notice(
                        b,
                        Kind::StoragePool,
                        hname,
                        pname,
                        format!(
                            "its volumes {} stay on disk in {at} after the pool is undefined",
                            left.join(", ")
                        ),
                        None,
                    );
                }
            }
            out.push(c);
        }
    }
    out
}

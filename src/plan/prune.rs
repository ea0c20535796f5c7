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

use std::collections::BTreeSet;

use super::*;
use crate::backend::UndefineFlags;
use crate::inventory::Record;
use crate::render::domain::{read_domain, DomainFacts, NicSourceId, SourceId};
use crate::render::read_marker;
use crate::render::storage::{read_pool, read_volume};
use crate::xml::Element;

/// One object the prune would delete.
struct Candidate {
    kind: Kind,
    host: HostName,
    /// `pool/volume` for volumes.
    name: String,
    /// The actions, in order, with their effects.
    steps: Vec<(Effect, Step)>,
    /// Keys of pruned objects whose deletion must come first (the domains
    /// that use a volume, network or pool; the volumes of a pool).
    deps: Vec<String>,
    /// Why it cannot be deleted (a domain that stays uses it).
    blocked: Option<String>,
    /// What `--prune` does to it, for the notice without `--prune`.
    would: String,
    operation: Operation,
}

impl Candidate {
    fn new(kind: Kind, host: &HostName, name: &str, operation: Operation, would: String) -> Self {
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

/// What the domains of one host use, from their XML (read for every domain
/// under `--prune`).
struct Usage {
    /// Domain name → what its XML says.
    known: Vec<(String, DomainFacts)>,
    /// Domains whose XML is not known: they may use anything.
    unknown: Vec<String>,
}

impl Usage {
    fn of(host: &ObservedHost) -> Usage {
        let mut u = Usage {
            known: Vec::new(),
            unknown: Vec::new(),
        };
        for (name, d) in &host.domains {
            match d.xml.as_deref().and_then(|x| Element::parse(x).ok()) {
                Some(root) => u.known.push((name.clone(), read_domain(&root))),
                None => u.unknown.push(name.clone()),
            }
        }
        u
    }

    /// The domains (pruned ones apart) whose facts satisfy `uses`, and
    /// those that cannot be told.
    fn users(
        &self,
        pruned: &BTreeSet<String>,
        uses: impl Fn(&DomainFacts) -> bool,
    ) -> (Vec<&str>, Vec<&str>) {
        let staying = self
            .known
            .iter()
            .filter(|(n, f)| !pruned.contains(n) && uses(f))
            .map(|(n, _)| n.as_str())
            .collect();
        let unknown = self
            .unknown
            .iter()
            .filter(|n| !pruned.contains(*n))
            .map(String::as_str)
            .collect();
        (staying, unknown)
    }

    /// The pruned domains whose facts satisfy `uses`.
    fn pruned_users<'u>(
        &'u self,
        pruned: &'u BTreeSet<String>,
        uses: impl Fn(&DomainFacts) -> bool + 'u,
    ) -> impl Iterator<Item = &'u str> + 'u {
        self.known
            .iter()
            .filter(move |(n, f)| pruned.contains(n) && uses(f))
            .map(|(n, _)| n.as_str())
    }
}

/// Why a network, pool or volume stays: the domains that stay and use it,
/// or whose use cannot be told.
fn in_use(noun: &str, staying: &[&str], unknown: &[&str]) -> Option<String> {
    if let Some(d) = staying.first() {
        let more = if staying.len() > 1 {
            format!(" (and {} more)", staying.len() - 1)
        } else {
            String::new()
        };
        return Some(format!(
            "its manifest is gone, but domain {d}{more} still uses this {noun}: not pruned; remove the domain or its use of the {noun} first"
        ));
    }
    unknown.first().map(|d| {
        format!("its manifest is gone, but whether domain {d} uses this {noun} cannot be told (its XML could not be read): not pruned this pass")
    })
}

/// A notice about an object that has no manifest (so no `Meta`).
fn notice(
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
) -> Option<std::collections::BTreeMap<String, String>> {
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

/// The candidates of one host: domains first, then volumes, networks and
/// pools, each with the pruned objects it waits for.
fn candidates(
    b: &mut Builder,
    hname: &HostName,
    host: &ObservedHost,
    declared_domains: &BTreeSet<&str>,
) -> Vec<Candidate> {
    let scope = b.input.scope;
    let inventory = b.input.inventory;
    let pruning = scope.prune.is_some();
    let owner = scope.owner.as_str();
    let records = inventory.records(&host.uri);
    let timeout_ms = scope
        .prune
        .map(|p| p.shutdown_timeout.as_millis() as u64)
        .unwrap_or(0);
    let mut out = Vec::new();

    // Domains.
    for (name, d) in &host.domains {
        // Declared on any host: one found elsewhere was moved by
        // `metadata.host`, which the planner refuses rather than delete.
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
    let pruned: BTreeSet<String> = out.iter().map(|c| c.name.clone()).collect();
    // Who uses what is known (every domain's XML read) only when pruning.
    let usage = if pruning {
        Usage::of(host)
    } else {
        Usage {
            known: Vec::new(),
            unknown: Vec::new(),
        }
    };
    let domain_keys = |names: Vec<&str>| -> Vec<String> {
        names
            .into_iter()
            .map(|n| obj_key(Kind::Domain, hname, n))
            .collect()
    };

    // Volumes: those virtsync created, under a pool it owns.
    let mut deleted_volumes: Vec<(String, String)> = Vec::new();
    if let Some(h) = inventory.hosts.get(&host.uri) {
        for (pool, names) in &h.volumes {
            let pool_owned = host
                .pools
                .get(pool)
                .is_some_and(|p| inventory.owns_pool(&host.uri, pool, &p.uuid));
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
                let Some(r) = inventory.volume_record(&host.uri, pool, vname) else {
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
                    let (staying, unknown) = usage.users(&pruned, uses);
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
                    c.deps = domain_keys(usage.pruned_users(&pruned, uses).collect());
                }
                if c.blocked.is_none() {
                    deleted_volumes.push((pool.clone(), vname.clone()));
                }
                out.push(c);
            }
        }
    }

    // Networks.
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
            let (staying, unknown) = usage.users(&pruned, uses);
            c.blocked = in_use("network", &staying, &unknown);
            c.deps = domain_keys(usage.pruned_users(&pruned, uses).collect());
        }
        out.push(c);
    }

    // Pools: those virtsync created (name and UUID in the inventory).
    if let Some(h) = inventory.hosts.get(&host.uri) {
        for pname in h.pools.keys() {
            let Some(obs) = host
                .pools
                .get(pname)
                .filter(|p| inventory.owns_pool(&host.uri, pname, &p.uuid))
            else {
                continue;
            };
            if scope.declares(hname, Kind::StoragePool, pname) {
                continue;
            }
            let Some(r) = inventory.pool_record(&host.uri, pname) else {
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
                let (staying, unknown) = usage.users(&pruned, uses);
                c.blocked = in_use("pool", &staying, &unknown);
                let blocked_volume = out.iter().find(|v| {
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
                c.deps = domain_keys(usage.pruned_users(&pruned, uses).collect());
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

//! Observe: what libvirt has, as data for the planner.
//!
//! The cost is fixed by docs/design.md: a constant number of bulk list calls per
//! host (domains with their paused/autostart/transient subsets, the active
//! networks and pools with their autostart subsets — all of them only when
//! a named one is not active —, the capabilities, read once per host per
//! run since they also identify the host), one XML
//! read per object the manifests name, and one volume list per pool the
//! manifests name. Kinds the manifests do not use are not listed at all.
//! Only a pass that prunes reads more: every domain's and network's XML
//! (their markers say which are virtsync's), and the pools and volumes the
//! inventory records (see [`Interest::for_prune`]).

use std::collections::{BTreeMap, BTreeSet};

use crate::backend::{BackendError, HostRead};
use crate::model::*;
use crate::xml::Element;

#[derive(Debug, thiserror::Error)]
pub enum ObserveError {
    #[error(transparent)]
    Backend(#[from] BackendError),
    #[error("cannot read the capabilities of {uri}: {message}")]
    Capabilities { uri: String, message: String },
}

/// Which objects of one host the desired state names (their XML is read).
#[derive(Debug, Default, Clone)]
pub struct Interest {
    pub domains: BTreeSet<String>,
    /// Domains the manifests put on other hosts: read too when they exist
    /// here, so a domain moved by `metadata.host` is not silently doubled.
    pub foreign_domains: BTreeSet<String>,
    pub networks: BTreeSet<String>,
    pub pools: BTreeSet<String>,
    pub volumes: BTreeSet<(String, String)>,
    /// Domains whose snapshots Snapshot manifests name: one listing each,
    /// and one XML read per snapshot.
    pub snapshot_domains: BTreeSet<String>,
    /// Which kinds have a manifest that sets `autostart`: autostart is
    /// compared only then, so the listing is skipped otherwise (and the
    /// observed flag reads false).
    pub domain_autostart: bool,
    pub network_autostart: bool,
    pub pool_autostart: bool,
    /// `--prune`: list every kind and read the XML of every domain and
    /// network, whatever the manifests name.
    pub everything: bool,
    /// `--prune`: pools the inventory records on this host: their XML is
    /// read, their volumes listed and read.
    pub prune_pools: BTreeSet<String>,
}

impl Interest {
    /// The objects of `host` in `desired`.
    pub fn of(desired: &DesiredState, host: &HostName) -> Interest {
        let on = |h: &HostName| h == host;
        // The volumes of Volume manifests, and those the domains' disks
        // name: with `--selector` a domain may be planned without its
        // Volume manifest, and its disks' format must still be known, not
        // guessed.
        let volumes: BTreeSet<(String, String)> = desired
            .volumes
            .keys()
            .filter(|k| on(&k.host))
            .map(|k| (k.pool.clone(), k.name.clone()))
            .chain(
                desired
                    .domains
                    .iter()
                    .filter(|(k, _)| on(&k.host))
                    .flat_map(|(_, d)| d.disks.iter().flatten())
                    .filter_map(|disk| match &disk.source {
                        DiskSource::Volume { pool, name } => Some((pool.clone(), name.clone())),
                        _ => None,
                    }),
            )
            .collect();
        Interest {
            domains: desired
                .domains
                .keys()
                .filter(|k| on(&k.host))
                .map(|k| k.name.clone())
                .collect(),
            foreign_domains: desired
                .domains
                .keys()
                .filter(|k| !on(&k.host))
                .map(|k| k.name.clone())
                .collect(),
            networks: desired
                .networks
                .keys()
                .filter(|k| on(&k.host))
                .map(|k| k.name.clone())
                .collect(),
            // Pools of wanted volumes are listed even without a pool manifest.
            pools: desired
                .pools
                .keys()
                .filter(|k| on(&k.host))
                .map(|k| k.name.clone())
                .chain(volumes.iter().map(|(pool, _)| pool.clone()))
                .collect(),
            volumes,
            // Domains of Snapshot manifests, and those with a snapshot
            // policy (its `keep` counts their snapshots).
            snapshot_domains: desired
                .snapshots
                .keys()
                .filter(|k| on(&k.host))
                .map(|k| k.domain.clone())
                .chain(
                    desired
                        .domains
                        .iter()
                        .filter(|(k, d)| on(&k.host) && d.snapshot_policy.is_some())
                        .map(|(k, _)| k.name.clone()),
                )
                .collect(),
            domain_autostart: desired
                .domains
                .iter()
                .any(|(k, d)| on(&k.host) && d.autostart.is_some()),
            network_autostart: desired
                .networks
                .iter()
                .any(|(k, n)| on(&k.host) && n.autostart.is_some()),
            pool_autostart: desired
                .pools
                .iter()
                .any(|(k, p)| on(&k.host) && p.autostart.is_some()),
            everything: false,
            prune_pools: BTreeSet::new(),
        }
    }

    /// What a pass that prunes reads of `host` on top of `self`: the marker
    /// of every domain and network (their XML), every pool, and the pools
    /// and volumes `recorded` by the inventory for this host (volumes by
    /// pool), with their XML — a volume still in use or backing another is
    /// not deleted, a pool whose directory a domain uses is not removed.
    pub fn for_prune(mut self, recorded: Option<&crate::inventory::HostInventory>) -> Interest {
        self.everything = true;
        if let Some(h) = recorded {
            self.prune_pools.extend(h.pools.keys().cloned());
        }
        self
    }

    /// What `status` reads of `host`: what planning needs, plus the
    /// snapshots of every domain the manifests place there (each domain's
    /// status lists them). Planning alone never pays for these listings.
    pub fn for_status(desired: &DesiredState, host: &HostName) -> Interest {
        let mut want = Interest::of(desired, host);
        want.snapshot_domains.extend(want.domains.iter().cloned());
        want
    }
}

/// Observe one host. A listing that fails fails the host (it is then
/// reported unreachable and its objects blocked); an object whose XML
/// cannot be read — it vanished between the listing and the read, say —
/// is recorded in [`ObservedHost::read_errors`] and blocked alone.
///
/// `caps` are the host's capabilities, read once per host per run
/// ([`read_capabilities`]): they also give the host's identity, which
/// ownership records and the per-host lock are keyed by.
pub fn observe_host(
    host: &dyn HostRead,
    want: &Interest,
    caps: Capabilities,
) -> Result<ObservedHost, ObserveError> {
    let mut out = ObservedHost {
        uri: host.uri().to_string(),
        caps,
        ..ObservedHost::default()
    };
    let mut errors: BTreeMap<(Kind, String), String> = BTreeMap::new();
    let mut record = |kind: Kind, name: &str, r: Result<String, BackendError>| match r {
        Ok(x) => Some(x),
        Err(e) => {
            errors.insert((kind, name.to_string()), e.to_string());
            None
        }
    };
    // Volumes too: a running guest may use one that is to be grown (its
    // image is then grown through the guest), whatever the manifests say.
    if want.everything
        || !want.domains.is_empty()
        || !want.foreign_domains.is_empty()
        || !want.volumes.is_empty()
        || !want.snapshot_domains.is_empty()
    {
        let listed = host.list_domains(want.domain_autostart)?;
        let wanted = |name: &String| {
            want.everything || want.domains.contains(name) || want.foreign_domains.contains(name)
        };
        let xmls = concurrently(&listed, |d| {
            wanted(&d.name).then(|| host.domain_xml(&d.name, false))
        });
        for (d, xml) in listed.into_iter().zip(xmls) {
            let xml = xml.and_then(|r| record(Kind::Domain, &d.name, r));
            out.domains.insert(
                d.name.clone(),
                ObservedDomain {
                    uuid: d.uuid,
                    state: d.state,
                    id: d.id,
                    persistent: d.persistent,
                    autostart: d.autostart,
                    xml,
                    live_xml: None,
                    name: d.name,
                },
            );
        }
    }
    if want.everything || !want.networks.is_empty() {
        // The active networks first: when every named one runs (a
        // converged host), the inactive ones are not needed — one listing
        // instead of two. A prune (`everything`) lists them all.
        let mut listed = if want.everything {
            host.list_networks(want.network_autostart)?
        } else {
            host.list_active_networks(want.network_autostart)?
        };
        if !want.everything
            && !want
                .networks
                .iter()
                .all(|n| listed.iter().any(|e| &e.name == n))
        {
            listed = host.list_networks(want.network_autostart)?;
        }
        let xmls = concurrently(&listed, |n| {
            (want.everything || want.networks.contains(&n.name))
                .then(|| host.network_xml(&n.name, false))
        });
        for (n, xml) in listed.into_iter().zip(xmls) {
            let xml = xml.and_then(|r| record(Kind::Network, &n.name, r));
            out.networks.insert(
                n.name.clone(),
                ObservedNetwork {
                    uuid: n.uuid,
                    active: n.active,
                    autostart: n.autostart,
                    xml,
                    live_xml: None,
                    name: n.name,
                },
            );
        }
    }
    if want.everything || !want.pools.is_empty() {
        // As for networks: the inactive pools only when a named one is
        // not active (then every pool is listed), or for a prune.
        let mut listed = if want.everything {
            out.pools_listed = true;
            host.list_pools(want.pool_autostart)?
        } else {
            host.list_active_pools(want.pool_autostart)?
        };
        if !want.everything
            && !want
                .pools
                .iter()
                .all(|n| listed.iter().any(|e| &e.name == n))
        {
            listed = host.list_pools(want.pool_autostart)?;
            out.pools_listed = true;
        }
        // One task per pool: its XML, its volume listing and the XML of
        // the volumes wanted.
        let reads = concurrently(&listed, |p| read_pool(host, want, p));
        for (p, read) in listed.into_iter().zip(reads) {
            let name = p.name.clone();
            if let Some(volumes) = read.volumes {
                match volumes {
                    Ok(vols) => {
                        out.volumes_listed.insert(name.clone());
                        for (vname, xml) in vols {
                            let label = format!("{name}/{vname}");
                            let xml = xml.and_then(|r| record(Kind::Volume, &label, r));
                            out.volumes.insert(
                                (name.clone(), vname.clone()),
                                ObservedVolume {
                                    pool: name.clone(),
                                    name: vname,
                                    xml,
                                },
                            );
                        }
                    }
                    Err(e) => {
                        record(Kind::StoragePool, &name, Err(e));
                    }
                }
            }
            let xml = read.xml.and_then(|r| record(Kind::StoragePool, &name, r));
            out.pools.insert(
                name.clone(),
                ObservedPool {
                    uuid: p.uuid,
                    active: p.active,
                    autostart: p.autostart,
                    xml,
                    name,
                },
            );
        }
    }
    let snapshot_domains: Vec<&String> = want
        .snapshot_domains
        .iter()
        .filter(|d| out.domains.contains_key(*d))
        .collect();
    let listings = concurrently(&snapshot_domains, |dom| host.snapshots(dom));
    for (dom, listing) in snapshot_domains.into_iter().zip(listings) {
        match listing {
            Ok(list) => {
                out.snapshots
                    .insert(dom.clone(), list.into_iter().collect());
            }
            Err(e) => {
                errors.insert((Kind::Snapshot, dom.clone()), e.to_string());
            }
        }
    }
    out.read_errors = errors;
    Ok(out)
}

/// What one pool's task read: its XML (when the pool is wanted) and,
/// when its volumes are, the listing with each wanted volume's XML.
struct PoolRead {
    xml: Option<Result<String, BackendError>>,
    #[allow(clippy::type_complexity)]
    volumes: Option<Result<Vec<(String, Option<Result<String, BackendError>>)>, BackendError>>,
}

fn read_pool(host: &dyn HostRead, want: &Interest, p: &crate::backend::Entry) -> PoolRead {
    let name = &p.name;
    let recorded = want.prune_pools.contains(name);
    let wanted = recorded || want.pools.contains(name);
    // An inactive pool cannot list its volumes; they show up once the
    // plan has started it.
    let volumes =
        (wanted && p.active && (recorded || want.volumes.iter().any(|(pool, _)| pool == name)))
            .then(|| {
                host.list_volumes(name).map(|vols| {
                    vols.into_iter()
                        .map(|vname| {
                            let key = (name.clone(), vname);
                            let xml = (recorded || want.volumes.contains(&key))
                                .then(|| host.volume_xml(name, &key.1));
                            (key.1, xml)
                        })
                        .collect()
                })
            });
    PoolRead {
        xml: wanted.then(|| host.pool_xml(name)),
        volumes,
    }
}

/// How many reads of one host are in flight at once. The daemon serves
/// several calls of one connection at the same time (measured on a local
/// daemon with 1000 domains: ~300 ms serial, ~120 ms with four in
/// flight); more than its `max_client_requests` (5 by default) would only
/// queue on its side.
pub const READERS: usize = 4;

/// `f` over `items` with [`READERS`] calls in flight (the same calls as a
/// serial loop).
fn concurrently<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    crate::par::map(items, READERS, f)
}

/// Add the live XML of the running domains and active networks `wanted`
/// (and, for `Kind::Snapshot`, the snapshots of the domain named) to an
/// observation of `host` — only when the planner asks: live actions address
/// what the running object has, a re-create keeps what snapshots exist. A read that fails is recorded as
/// the object's read error, and the planner blocks what needed it.
pub fn read_live_xml<'a>(
    host: &dyn HostRead,
    observed: &mut ObservedHost,
    wanted: impl IntoIterator<Item = (Kind, &'a String)>,
) {
    for (kind, name) in wanted {
        let read = match kind {
            Kind::Domain => match observed.domains.get_mut(name) {
                Some(d) if d.state != PowerState::Shutoff => {
                    host.domain_xml(name, true).map(|x| d.live_xml = Some(x))
                }
                _ => continue,
            },
            Kind::Network => match observed.networks.get_mut(name) {
                Some(n) if n.active => host.network_xml(name, true).map(|x| n.live_xml = Some(x)),
                _ => continue,
            },
            // The snapshots of a domain (a re-create keeps them).
            Kind::Snapshot if observed.domains.contains_key(name) => {
                host.snapshots(name).map(|l| {
                    observed
                        .snapshots
                        .insert(name.clone(), l.into_iter().collect());
                })
            }
            _ => continue,
        };
        if let Err(e) = read {
            observed
                .read_errors
                .insert((kind, name.clone()), e.to_string());
        }
    }
}

/// Read and parse a host's capabilities: create-time defaults, machine
/// aliases, and the host's identity (one call).
pub fn read_capabilities(host: &dyn HostRead) -> Result<Capabilities, ObserveError> {
    let xml = host.capabilities()?;
    parse_capabilities(&xml).map_err(|message| ObserveError::Capabilities {
        uri: host.uri().to_string(),
        message,
    })
}

/// Host arch and UUID, guest arches with their domain types and machine
/// aliases.
pub fn parse_capabilities(xml: &str) -> Result<Capabilities, String> {
    let root = Element::parse(xml).map_err(|e| e.to_string())?;
    let host_arch = root
        .find(&["host", "cpu", "arch"])
        .map(|a| a.text())
        .unwrap_or_default();
    let mut guests: BTreeMap<String, GuestCaps> = BTreeMap::new();
    for g in root.children_named("guest") {
        if g.child("os_type").map(|o| o.text()).as_deref() != Some("hvm") {
            continue;
        }
        let Some(arch) = g.child("arch") else {
            continue;
        };
        let Some(arch_name) = arch.attr("name") else {
            continue;
        };
        let entry = guests.entry(arch_name.to_string()).or_default();
        let mut add_machines = |e: &Element| {
            for m in e.children_named("machine") {
                if let Some(canonical) = m.attr("canonical") {
                    entry
                        .machine_aliases
                        .insert(m.text(), canonical.to_string());
                }
            }
        };
        add_machines(arch);
        for d in arch.children_named("domain") {
            add_machines(d);
            if let Some(t) = d.attr("type") {
                if !entry.domain_types.iter().any(|x| x == t) {
                    entry.domain_types.push(t.to_string());
                }
            }
        }
    }
    let host_uuid = root
        .find(&["host", "uuid"])
        .map(|u| u.text().trim().to_ascii_lowercase())
        .filter(|u| !u.is_empty());
    Ok(Capabilities {
        host_arch,
        host_uuid,
        guests,
    })
}

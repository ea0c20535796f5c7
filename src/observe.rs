//! Observe: what libvirt has, as data for the planner.
//!
//! The cost is fixed by design.md: a constant number of bulk list calls per
//! host (domains with their paused/autostart/transient subsets, networks and
//! pools with their active/autostart subsets, the capabilities), one XML
//! read per object the manifests name, and one volume list per pool the
//! manifests name. Kinds the manifests do not use are not listed at all.

use std::collections::{BTreeMap, BTreeSet};

use crate::backend::{BackendError, LibvirtHost};
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
    /// A manifest sets `machine`, whose aliases only the capabilities know.
    pub machine_set: bool,
    /// Which kinds have a manifest that sets `autostart`: autostart is
    /// compared only then, so the listing is skipped otherwise (and the
    /// observed flag reads false).
    pub domain_autostart: bool,
    pub network_autostart: bool,
    pub pool_autostart: bool,
}

impl Interest {
    /// The objects of `host` in `desired`.
    pub fn of(desired: &DesiredState, host: &HostName) -> Interest {
        let on = |h: &HostName| h == host;
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
                .chain(
                    desired
                        .volumes
                        .keys()
                        .filter(|k| on(&k.host))
                        .map(|k| k.pool.clone()),
                )
                .chain(disk_volumes(desired, host).map(|(pool, _)| pool))
                .collect(),
            // Volumes the domains' disks name too: their format is the
            // driver type of the disk, also when `--selector` leaves their
            // manifests out.
            volumes: desired
                .volumes
                .keys()
                .filter(|k| on(&k.host))
                .map(|k| (k.pool.clone(), k.name.clone()))
                .chain(disk_volumes(desired, host))
                .collect(),
            machine_set: desired
                .domains
                .iter()
                .any(|(k, d)| on(&k.host) && d.machine.is_some()),
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
        }
    }
}

/// (pool, volume) of every volume disk of the domains on `host`.
fn disk_volumes<'a>(
    desired: &'a DesiredState,
    host: &'a HostName,
) -> impl Iterator<Item = (String, String)> + 'a {
    desired
        .domains
        .iter()
        .filter(move |(k, _)| &k.host == host)
        .flat_map(|(_, d)| d.disks.iter().flatten())
        .filter_map(|disk| match &disk.source {
            DiskSource::Volume { pool, name } => Some((pool.clone(), name.clone())),
            _ => None,
        })
}

/// Observe one host.
pub fn observe_host(host: &LibvirtHost, want: &Interest) -> Result<ObservedHost, ObserveError> {
    let mut out = ObservedHost {
        uri: host.uri().to_string(),
        ..ObservedHost::default()
    };
    if !want.domains.is_empty() || !want.foreign_domains.is_empty() {
        let listing = host.list_domains(want.domain_autostart)?;
        let paused: BTreeSet<_> = listing.paused.into_iter().collect();
        let autostart: BTreeSet<_> = listing.autostart.into_iter().collect();
        let transient: BTreeSet<_> = listing.transient.into_iter().collect();
        for d in &listing.domains {
            // name, UUID and id are held by the handle: no call.
            let Ok(name) = d.name() else { continue };
            let state = if paused.contains(&name) {
                PowerState::Paused
            } else if d.id().is_some() {
                PowerState::Running
            } else {
                PowerState::Shutoff
            };
            let xml = if want.domains.contains(&name) || want.foreign_domains.contains(&name) {
                Some(host.domain_xml(d)?)
            } else {
                None
            };
            out.domains.insert(
                name.clone(),
                ObservedDomain {
                    uuid: d.uuid_string().unwrap_or_default(),
                    state,
                    persistent: !transient.contains(&name),
                    autostart: autostart.contains(&name),
                    xml,
                    live_xml: None,
                    name,
                },
            );
        }
    }
    // Capabilities give create-time defaults and machine aliases: a
    // converged host whose manifests set no machine does not need them.
    if want.machine_set || want.domains.iter().any(|d| !out.domains.contains_key(d)) {
        let caps_xml = host.capabilities()?;
        out.caps = parse_capabilities(&caps_xml).map_err(|message| ObserveError::Capabilities {
            uri: host.uri().to_string(),
            message,
        })?;
    }
    if !want.networks.is_empty() {
        let (all, active, autostart) = host.list_networks(want.network_autostart)?;
        for n in &all {
            let Ok(name) = n.name() else { continue };
            let xml = if want.networks.contains(&name) {
                Some(host.network_xml(n)?)
            } else {
                None
            };
            out.networks.insert(
                name.clone(),
                ObservedNetwork {
                    uuid: n.uuid_string().unwrap_or_default(),
                    active: active.contains(&name),
                    autostart: autostart.contains(&name),
                    xml,
                    name,
                },
            );
        }
    }
    if !want.pools.is_empty() {
        let (all, active, autostart) = host.list_pools(want.pool_autostart)?;
        for p in &all {
            let Ok(name) = p.name() else { continue };
            if !want.pools.contains(&name) {
                out.pools.insert(
                    name.clone(),
                    ObservedPool {
                        uuid: p.uuid_string().unwrap_or_default(),
                        active: active.contains(&name),
                        autostart: autostart.contains(&name),
                        xml: None,
                        name,
                    },
                );
                continue;
            }
            let is_active = active.contains(&name);
            // An inactive pool cannot list its volumes; they show up once
            // the plan has started it.
            if is_active && want.volumes.iter().any(|(pool, _)| pool == &name) {
                for v in host.list_volumes(p)? {
                    let Ok(vname) = v.name() else { continue };
                    let key = (name.clone(), vname.clone());
                    let xml = if want.volumes.contains(&key) {
                        Some(host.volume_xml(&v)?)
                    } else {
                        None
                    };
                    out.volumes.insert(
                        key,
                        ObservedVolume {
                            pool: name.clone(),
                            name: vname,
                            xml,
                        },
                    );
                }
            }
            out.pools.insert(
                name.clone(),
                ObservedPool {
                    uuid: p.uuid_string().unwrap_or_default(),
                    active: is_active,
                    autostart: autostart.contains(&name),
                    xml: Some(host.pool_xml(p)?),
                    name,
                },
            );
        }
    }
    Ok(out)
}

/// Host arch, guest arches with their domain types and machine aliases.
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
    Ok(Capabilities { host_arch, guests })
}

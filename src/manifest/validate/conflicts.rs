//! The directory as a whole, last step: what two objects of one host
//! cannot share. libvirt would refuse the second only half-way through an
//! apply (a bridge in use, a subnet already routed), or — worse — accept it
//! (two guests writing one disk, one MAC on two NICs of a network).
//!
//! - networks: one bridge name, and subnets that do not overlap;
//! - domains: a MAC once, and a disk's volume or file once, unless every
//!   user only reads it (CD-ROMs, `readonly: true`).
//!
//! Each conflict is reported at the later object's field, naming the first.

use std::collections::BTreeMap;
use std::net::IpAddr;

use super::super::sink::Sink;
use super::network::in_subnet;
use super::{Obj, Pending};
use crate::model::*;

/// Where a shared value was first used: `what` (e.g. `network lan`), file
/// and line.
struct First {
    what: String,
    place: String,
}

impl First {
    fn of(kind: &str, meta: &Meta) -> First {
        First {
            what: format!("{kind} {}", meta.name),
            place: format!("{}:{}", meta.source.file.display(), meta.source.line),
        }
    }
}

pub(super) fn check(state: &DesiredState, pending: &[Pending], sink: &mut Sink) {
    networks(state, pending, sink);
    domains(state, pending, sink);
}

/// Whether `meta` is the object the registry kept (a duplicate was
/// reported there already).
fn registered<T>(map: &BTreeMap<ObjKey, T>, meta: &Meta, source: impl Fn(&T) -> &Source) -> bool {
    let key = ObjKey {
        host: meta.host.clone(),
        name: meta.name.clone(),
    };
    map.get(&key).is_some_and(|o| *source(o) == meta.source)
}

fn networks(state: &DesiredState, pending: &[Pending], sink: &mut Sink) {
    let mut bridges: BTreeMap<(HostName, String), First> = BTreeMap::new();
    let mut subnets: Vec<(HostName, IpAddr, u8, First)> = Vec::new();
    for p in pending {
        let Obj::Network(n) = &p.obj else { continue };
        if n.external || !registered(&state.networks, &n.meta, |o| &o.meta.source) {
            continue;
        }
        let host = n.meta.host.clone();
        if let Some(b) = n.bridge.as_ref().and_then(|b| b.name.clone()) {
            match bridges.get(&(host.clone(), b.clone())) {
                Some(f) => sink.field(
                    p.doc,
                    "spec.bridge.name",
                    format!(
                        "bridge {b} is {}'s too ({}); each network needs its own bridge",
                        f.what, f.place
                    ),
                ),
                None => {
                    bridges.insert((host.clone(), b), First::of("network", &n.meta));
                }
            }
        }
        for (field, ip) in [("ipv4", &n.ipv4), ("ipv6", &n.ipv6)] {
            let Some(ip) = ip else { continue };
            let overlap = subnets.iter().find(|(h, a, pre, _)| {
                *h == host
                    && a.is_ipv4() == ip.address.is_ipv4()
                    && in_subnet(ip.address, *a, ip.prefix.min(*pre))
            });
            match overlap {
                Some((_, a, pre, f)) => sink.field(
                    p.doc,
                    &format!("spec.{field}.address"),
                    format!(
                        "{}/{} overlaps {a}/{pre} of {} ({}); the host could not route both",
                        ip.address, ip.prefix, f.what, f.place
                    ),
                ),
                None => subnets.push((
                    host.clone(),
                    ip.address,
                    ip.prefix,
                    First::of("network", &n.meta),
                )),
            }
        }
    }
}

fn domains(state: &DesiredState, pending: &[Pending], sink: &mut Sink) {
    let mut macs: BTreeMap<(HostName, String), First> = BTreeMap::new();
    // (host, source) → first user, and whether every user so far only reads.
    let mut sources: BTreeMap<(HostName, String), (First, bool)> = BTreeMap::new();
    for p in pending {
        let Obj::Domain(d) = &p.obj else { continue };
        if !registered(&state.domains, &d.meta, |o| &o.meta.source) {
            continue;
        }
        let host = d.meta.host.clone();
        for (i, nic) in d.interfaces.iter().flatten().enumerate() {
            let Some(mac) = &nic.mac else { continue };
            match macs.get(&(host.clone(), mac.clone())) {
                Some(f) => sink.field(
                    p.doc,
                    &format!("spec.interfaces[{i}].mac"),
                    format!("MAC {mac} is used by {} too ({})", f.what, f.place),
                ),
                None => {
                    macs.insert((host.clone(), mac.clone()), First::of("domain", &d.meta));
                }
            }
        }
        for (i, disk) in d.disks.iter().flatten().enumerate() {
            let (source, field) = match &disk.source {
                DiskSource::Volume { pool, name } => {
                    (format!("volume {pool}/{name}"), "volume.name")
                }
                DiskSource::Path { path, .. } => (format!("file {path}"), "path"),
                DiskSource::Empty => continue,
            };
            let reads_only = disk.device == DiskDevice::Cdrom || disk.readonly == Some(true);
            match sources.get_mut(&(host.clone(), source.clone())) {
                Some((f, all_read)) if !(*all_read && reads_only) => {
                    let msg = format!(
                        "{source} is a disk of {} too ({}); two guests writing one image corrupt it (share it read-only, or give each its own volume, e.g. an overlay with backingStore)",
                        f.what, f.place
                    );
                    *all_read = false;
                    sink.field(p.doc, &format!("spec.disks[{i}].{field}"), msg);
                }
                Some(_) => {}
                None => {
                    sources.insert(
                        (host.clone(), source),
                        (First::of("domain", &d.meta), reads_only),
                    );
                }
            }
        }
    }
}

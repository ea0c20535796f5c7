//! The directory as a whole, second step: references and disk paths.
//!
//! Once every object is registered ([`super::unique`]), each reference must
//! name an object on the same host: a volume's `backingStore` and
//! `cloneFrom`, a domain's disk volumes (and their pools) and NIC networks.
//! An unknown name gets the closest known one as a hint. Disk `path:`es
//! must lie under the allowed roots (the default image root and
//! `--allow-path`, never a pool's target, so that a pool manifest cannot
//! open `/etc` to disk paths). Internal snapshots need a qcow2 disk, which
//! only the disks' volumes can tell, so that is checked here too.

use std::path::{Path, PathBuf};

use super::super::load::LoadedDoc;
use super::super::sink::Sink;
use super::super::suggest::hint;
use super::super::{LoadOptions, DEFAULT_IMAGE_ROOT};
use super::{Obj, Pending};
use crate::model::*;

/// A volume's `backingStore` and `cloneFrom` name volumes of its host.
pub(super) fn volume_refs(state: &DesiredState, pending: &[Pending], sink: &mut Sink) {
    for p in pending {
        let Obj::Volume(o) = &p.obj else { continue };
        // The host `unique` settled on; none when it reported the volume.
        let Some(host) = state
            .volumes
            .iter()
            .find(|(k, v)| {
                k.name == o.meta.name && k.pool == o.pool && v.meta.source == o.meta.source
            })
            .map(|(k, _)| k.host.clone())
        else {
            continue;
        };
        for (f, r) in [
            ("backingStore", &o.backing_store),
            ("cloneFrom", &o.clone_from),
        ] {
            let Some((pool, name)) = r else { continue };
            let key = VolKey {
                host: host.clone(),
                pool: pool.clone(),
                name: name.clone(),
            };
            if !state.volumes.contains_key(&key) {
                sink.field(p.doc, &format!("spec.{f}.name"), format!("unknown Volume `{name}` in pool `{pool}`; add its manifest (with `metadata.external: true` for a golden image that exists already)"));
            }
        }
    }
}

/// A domain's disks and NICs name objects of its host, its disk paths are
/// under the allowed roots, and it has a qcow2 disk if it is snapshotted.
pub(super) fn domain_refs(
    state: &DesiredState,
    pending: &[Pending],
    opts: &LoadOptions,
    sink: &mut Sink,
) {
    let mut roots: Vec<PathBuf> = vec![PathBuf::from(DEFAULT_IMAGE_ROOT)];
    roots.extend(opts.allow_paths.iter().cloned());
    for p in pending {
        let Obj::Domain(d) = &p.obj else { continue };
        // Whether the domain has a qcow2 disk; `None` while unknown.
        let mut has_qcow2 = None::<bool>;
        // The cloud-init CD-ROM (the last disk) is checked as the seed
        // volume it holds, at `cloudInit.pool`.
        let seed_disk = d
            .cloud_init
            .as_ref()
            .map(|_| d.disks.iter().flatten().count() - 1);
        for (i, disk) in d.disks.iter().flatten().enumerate() {
            if Some(i) == seed_disk {
                continue;
            }
            let qcow2 = match &disk.source {
                DiskSource::Volume { pool, name } => disk_volume(
                    state,
                    sink,
                    p.doc,
                    &d.meta.host,
                    i,
                    (pool, name),
                    disk.device,
                ),
                DiskSource::Path { path, format } => {
                    disk_path(sink, p.doc, i, path, &roots);
                    Some(*format == VolumeFormat::Qcow2 && disk.device == DiskDevice::Disk)
                }
                DiskSource::Empty => Some(false),
            };
            if let Some(q) = qcow2 {
                has_qcow2 = Some(has_qcow2.unwrap_or(false) || q);
            }
        }
        if d.disks.as_ref().is_some_and(|v| v.is_empty()) {
            has_qcow2 = Some(false);
        }
        nic_networks(state, sink, p.doc, d);
        if has_qcow2 == Some(false) {
            snapshots_need_qcow2(state, pending, sink, p.doc, d);
        }
    }
}

/// A disk's volume (and its pool) on the domain's host. Returns whether the
/// disk is a qcow2 disk, `None` when the volume is unknown.
fn disk_volume(
    state: &DesiredState,
    sink: &mut Sink,
    doc: &LoadedDoc,
    host: &HostName,
    i: usize,
    (pool, name): (&String, &String),
    device: DiskDevice,
) -> Option<bool> {
    let pool_key = ObjKey {
        host: host.clone(),
        name: pool.clone(),
    };
    if !state.pools.contains_key(&pool_key) {
        let hint = hint(
            pool,
            state
                .pools
                .keys()
                .filter(|k| &k.host == host)
                .map(|k| k.name.as_str()),
        );
        sink.field(
            doc,
            &format!("spec.disks[{i}].volume.pool"),
            format!("unknown StoragePool `{pool}`{hint} on this domain's host; add its manifest (with `metadata.external: true` if it exists already)"),
        );
        return None;
    }
    let key = VolKey {
        host: host.clone(),
        pool: pool.clone(),
        name: name.clone(),
    };
    match state.volumes.get(&key) {
        None => {
            let hint = hint(
                name,
                state
                    .volumes
                    .keys()
                    .filter(|k| &k.host == host && &k.pool == pool)
                    .map(|k| k.name.as_str()),
            );
            sink.field(doc, &format!("spec.disks[{i}].volume.name"), format!("unknown Volume `{name}`{hint} in pool `{pool}`; add its manifest (with `metadata.external: true` if it exists already)"));
            None
        }
        // Format unknown until plan time: give the benefit of the doubt.
        Some(v) if v.external => Some(true),
        Some(v) => Some(
            v.format.unwrap_or(VolumeFormat::Qcow2) == VolumeFormat::Qcow2
                && device == DiskDevice::Disk,
        ),
    }
}

/// A disk `path:` lies under one of the allowed `roots`.
fn disk_path(sink: &mut Sink, doc: &LoadedDoc, i: usize, path: &str, roots: &[PathBuf]) {
    let norm: PathBuf = Path::new(path).components().collect();
    if !roots.iter().any(|r| norm.starts_with(r)) {
        let roots = roots
            .iter()
            .map(|r| r.display().to_string())
            .collect::<Vec<_>>()
            .join(", ");
        sink.field(doc, &format!("spec.disks[{i}].path"), format!(
            "path `{path}` is outside the allowed roots ({roots}); put the image under one of them, in a pool, or pass --allow-path DIR"
        ));
    }
}

/// Each NIC's network is a Network of the domain's host.
fn nic_networks(state: &DesiredState, sink: &mut Sink, doc: &LoadedDoc, d: &Domain) {
    let host = &d.meta.host;
    for (i, nic) in d.interfaces.iter().flatten().enumerate() {
        let InterfaceSource::Network(net) = &nic.source else {
            continue;
        };
        let key = ObjKey {
            host: host.clone(),
            name: net.clone(),
        };
        if !state.networks.contains_key(&key) {
            let hint = hint(
                net,
                state
                    .networks
                    .keys()
                    .filter(|k| &k.host == host)
                    .map(|k| k.name.as_str()),
            );
            sink.field(doc, &format!("spec.interfaces[{i}].network"), format!("unknown Network `{net}`{hint}; add its manifest (with `metadata.external: true` for one that exists already, such as libvirt's `default`)"));
        }
    }
}

/// Domain `d` has no qcow2 disk: its snapshot policy and the Snapshot
/// manifests of it cannot work (internal snapshots live in qcow2 images).
fn snapshots_need_qcow2(
    state: &DesiredState,
    pending: &[Pending],
    sink: &mut Sink,
    doc: &LoadedDoc,
    d: &Domain,
) {
    if d.snapshot_policy.is_some() {
        sink.field(
            doc,
            "spec.snapshotPolicy",
            "snapshots need a qcow2 disk and this domain has none",
        );
    }
    let host = &d.meta.host;
    let registered = |s: &Snapshot| {
        state
            .snapshots
            .keys()
            .any(|k| &k.host == host && k.domain == s.domain && k.name == s.meta.name)
    };
    for p in pending {
        let Obj::Snapshot(s) = &p.obj else { continue };
        if s.domain == d.meta.name && registered(s) {
            sink.field(
                p.doc,
                "spec.domain",
                format!(
                    "Domain `{}` has no qcow2 disk; internal snapshots need one",
                    d.meta.name
                ),
            );
        }
    }
}

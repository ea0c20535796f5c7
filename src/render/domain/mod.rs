//! Domains: libvirt domain XML read into comparable facts ([`read`]),
//! devices of a manifest matched to the observed ones by identity
//! ([`matching`]), the typed difference of the two ([`diff`]), and the XML
//! written for a new domain or patched over the observed one ([`write`]),
//! less what libvirt derived from a machine family, firmware or arch that
//! the patch changes ([`derived`]).

mod derived;
mod device_diff;
mod devices;
pub mod diff;
pub mod matching;
pub mod read;
mod write;

pub use device_diff::{derived_mac, disk_hotpluggable, wanted_format};
pub use diff::*;
pub use matching::*;
pub use read::*;
pub use write::render_domain;

use super::Marker;
use crate::model::*;

/// What rendering a domain needs besides the domain itself.
pub struct DomainContext<'a> {
    pub caps: &'a Capabilities,
    /// The QEMU driver type (`qcow2`, `raw`, ...) of the volume a disk
    /// names, from its manifest or the host; `None` when neither knows
    /// (then nothing is written for an existing disk: unknown is never
    /// guessed).
    pub volume_format: &'a dyn Fn(&str, &str) -> Option<String>,
    pub marker: &'a Marker,
}

pub fn parse_bus(s: &str) -> Option<DiskBus> {
    Some(match s {
        "virtio" => DiskBus::Virtio,
        "sata" => DiskBus::Sata,
        "scsi" => DiskBus::Scsi,
        "ide" => DiskBus::Ide,
        _ => return None,
    })
}

/// The bus a target name implies (`vd*` virtio, `hd*` IDE, else SATA).
pub fn bus_of_target(t: &str) -> DiskBus {
    if t.starts_with("vd") {
        DiskBus::Virtio
    } else if t.starts_with("hd") {
        DiskBus::Ide
    } else {
        DiskBus::Sata
    }
}

/// The bus a manifest disk gets: its own, the one its target implies, else
/// the create-time default (virtio, SATA for a CD-ROM).
pub fn desired_bus(d: &Disk) -> DiskBus {
    d.bus
        .or_else(|| d.target.as_deref().map(bus_of_target))
        .unwrap_or(if d.device == DiskDevice::Cdrom {
            DiskBus::Sata
        } else {
            DiskBus::Virtio
        })
}

/// The effective `<memory>` after applying `d` over `observed_max`.
pub fn target_max_memory(d: &Domain, observed_max: Option<Kib>) -> Kib {
    let mem = d.memory.to_kib();
    match (d.max_memory, observed_max) {
        (Some(m), _) => m.to_kib(),
        (None, Some(o)) => o.max(mem),
        (None, None) => mem,
    }
}

pub fn target_max_vcpus(d: &Domain, observed_max: Option<u32>) -> u32 {
    match (d.max_vcpus, observed_max) {
        (Some(m), _) => m,
        (None, Some(o)) => o.max(d.vcpus),
        (None, None) => d.vcpus,
    }
}

/// The first free target name on `bus` (vda, vdb, ..., vdz, vdaa, ...).
pub fn free_target(bus: DiskBus, taken: &[String]) -> String {
    let prefix = bus.target_prefix();
    (0..26 * 27)
        .map(|i| {
            if i < 26 {
                format!("{prefix}{}", (b'a' + i as u8) as char)
            } else {
                let j = i - 26;
                format!(
                    "{prefix}{}{}",
                    (b'a' + (j / 26) as u8) as char,
                    (b'a' + (j % 26) as u8) as char
                )
            }
        })
        .find(|t| !taken.contains(t))
        .unwrap_or_else(|| format!("{prefix}zz"))
}

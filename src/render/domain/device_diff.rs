//! Device differences: each manifest disk and NIC matched to the observed
//! one by identity ([`super::matching`]), then added, removed or changed,
//! with the target or MAC the device has or gets — what the live actions
//! and the patch address it by.

use super::diff::*;
use super::read::{DiskFacts, NicFacts, NicSourceId, SourceId};
use super::*;

/// SATA, SCSI and IDE disks and CD-ROMs cannot be hot-plugged here;
/// virtio disks can.
pub fn disk_hotpluggable(device: &str, bus: Option<&str>) -> bool {
    device == "disk" && bus == Some("virtio")
}

/// A stable MAC in QEMU's 52:54:00 range for a NIC added to an existing
/// domain, derived from `seed` so the plan stays a pure function of its
/// input and the persistent config and the running guest get the same one.
pub fn derived_mac(seed: &str) -> String {
    use sha2::{Digest, Sha256};
    let h = Sha256::digest(seed.as_bytes());
    format!("52:54:00:{:02x}:{:02x}:{:02x}", h[0], h[1], h[2])
}

/// The driver type a manifest disk wants, when known: a path's format, a
/// volume's from its manifest or the host. `None` = not compared.
pub fn wanted_format(
    d: &Disk,
    volume_format: &dyn Fn(&str, &str) -> Option<String>,
) -> Option<String> {
    match &d.source {
        DiskSource::Path { format, .. } => Some(format.as_str().to_string()),
        DiskSource::Volume { pool, name } => volume_format(pool, name),
        DiskSource::Empty => None,
    }
}

pub(super) fn disk_changes(
    want: &[Disk],
    have: &[DiskFacts],
    cx: &DiffContext,
    out: &mut Vec<DeviceChange>,
) {
    let matched = match_disks(want, have);
    // Targets of new disks: the first free one per bus, after every target
    // the manifest names and every target the domain has now — also those
    // of disks being removed: the guest may not have released one yet when
    // the new disk is hot-plugged.
    let mut taken: Vec<String> = want.iter().filter_map(|x| x.target.clone()).collect();
    taken.extend(have.iter().filter_map(|h| h.target.clone()));
    for (i, (w, m)) in want.iter().zip(&matched).enumerate() {
        let Some(j) = *m else {
            let bus = desired_bus(w);
            let target = w.target.clone().unwrap_or_else(|| free_target(bus, &taken));
            taken.push(target.clone());
            let id = DeviceId {
                class: DeviceClass::Disk,
                desired: Some(i),
                observed: None,
                target: Some(target.clone()),
                mac: None,
            };
            out.push(DeviceChange::Added {
                summary: format!("{} {target}", SourceId::of(&w.source)),
                hotplug: disk_hotpluggable(w.device.as_str(), Some(bus.as_str())),
                id,
            });
            continue;
        };
        let h = &have[j];
        let id = DeviceId {
            class: DeviceClass::Disk,
            desired: Some(i),
            observed: Some(j),
            target: h.target.clone(),
            mac: None,
        };
        let mut attr = attr_diff(id, out);
        attr(
            DeviceAttr::Source,
            h.source.to_string(),
            SourceId::of(&w.source).to_string(),
        );
        attr(
            DeviceAttr::Device,
            h.device.clone(),
            w.device.as_str().into(),
        );
        if let Some(b) = w.bus {
            attr(
                DeviceAttr::Bus,
                h.bus.clone().unwrap_or_default(),
                b.as_str().into(),
            );
        }
        if let Some(t) = &w.target {
            attr(
                DeviceAttr::Target,
                h.target.clone().unwrap_or_default(),
                t.clone(),
            );
        }
        if let Some(ro) = w.readonly {
            attr(DeviceAttr::Readonly, h.readonly.to_string(), ro.to_string());
        }
        // Unknown is never guessed: a volume of unknown format is not
        // compared (and its driver type left as it is).
        if let Some(f) = wanted_format(w, cx.volume_format) {
            attr(
                DeviceAttr::Format,
                h.format.clone().unwrap_or_else(|| "raw".into()),
                f,
            );
        }
    }
    for (j, h) in have.iter().enumerate() {
        if !matched.contains(&Some(j)) {
            out.push(DeviceChange::Removed {
                id: DeviceId {
                    class: DeviceClass::Disk,
                    desired: None,
                    observed: Some(j),
                    target: h.target.clone(),
                    mac: None,
                },
                summary: format!("{} {}", h.source, h.target.clone().unwrap_or_default()),
                hotplug: disk_hotpluggable(&h.device, h.bus.as_deref()),
            });
        }
    }
}

pub(super) fn nic_changes(
    want: &[Interface],
    have: &[NicFacts],
    seed: &str,
    out: &mut Vec<DeviceChange>,
) {
    let matched = match_nics(want, have);
    for (i, (w, m)) in want.iter().zip(&matched).enumerate() {
        let Some(j) = *m else {
            // A NIC added to an existing domain gets its MAC here, not
            // from libvirt: the same one then goes into the persistent
            // config and into the running guest.
            let mac = w
                .mac
                .clone()
                .unwrap_or_else(|| derived_mac(&format!("{seed}/{i}")));
            out.push(DeviceChange::Added {
                summary: format!("{} {mac}", NicSourceId::of(&w.source)),
                id: DeviceId {
                    class: DeviceClass::Nic,
                    desired: Some(i),
                    observed: None,
                    target: None,
                    mac: Some(mac),
                },
                hotplug: true,
            });
            continue;
        };
        let h = &have[j];
        let id = DeviceId {
            class: DeviceClass::Nic,
            desired: Some(i),
            observed: Some(j),
            target: None,
            mac: h.mac.clone(),
        };
        let mut attr = attr_diff(id, out);
        attr(
            DeviceAttr::Source,
            h.source.to_string(),
            NicSourceId::of(&w.source).to_string(),
        );
        if let Some(mac) = &w.mac {
            attr(
                DeviceAttr::Mac,
                h.mac.clone().unwrap_or_default(),
                mac.clone(),
            );
        }
        if let Some(model) = w.model {
            attr(
                DeviceAttr::Model,
                h.model.clone().unwrap_or_default(),
                model.as_str().into(),
            );
        }
        if let Some(rom) = w.boot_rom {
            attr(
                DeviceAttr::BootRom,
                h.boot_rom.unwrap_or(true).to_string(),
                rom.to_string(),
            );
        }
    }
    for (j, h) in have.iter().enumerate() {
        if !matched.contains(&Some(j)) {
            out.push(DeviceChange::Removed {
                id: DeviceId {
                    class: DeviceClass::Nic,
                    desired: None,
                    observed: Some(j),
                    target: None,
                    mac: h.mac.clone(),
                },
                summary: format!("{} {}", h.source, h.mac.clone().unwrap_or_default()),
                hotplug: true,
            });
        }
    }
}

/// Records a `Changed` of device `id` for each attribute whose observed and
/// wanted values differ (disks and NICs alike).
fn attr_diff(
    id: DeviceId,
    out: &mut Vec<DeviceChange>,
) -> impl FnMut(DeviceAttr, String, String) + '_ {
    move |attr, from, to| {
        if from != to {
            out.push(DeviceChange::Changed {
                id: id.clone(),
                attr,
                from,
                to,
            });
        }
    }
}

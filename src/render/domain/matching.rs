//! Which observed device each device of a manifest is.
//!
//! Identity first, position last: an explicit target (disks) or MAC
//! (NICs), then the source (the volume or path a disk holds, the network
//! or bridge a NIC is on), and only then position. Position running before
//! identity is what made "keep only disk b" rewrite vda to b and unplug the
//! real b: a device that is still there must never be taken for another.

use super::read::{DiskFacts, NicFacts, NicSourceId, SourceId};
use super::{desired_bus, free_target};
use crate::model::*;

/// Observed disks matched to the manifest's (`None`: a new disk).
///
/// 1. an explicit `target`;
/// 2. the same source (volume or path) on the same kind of device — empty
///    drives have no identity and skip this step;
/// 3. the target virtsync would give the disk at creation (its place in
///    the list per bus: libvirt keeps disks sorted by bus and target, not
///    in list order), when that disk is on the same bus and kind of device:
///    a disk whose source was changed in the manifest;
/// 4. the observed disk at the same index, same kind of device and bus (a
///    domain made by another tool whose targets do not follow that order).
pub fn match_disks(want: &[Disk], have: &[DiskFacts]) -> Vec<Option<usize>> {
    let mut out = vec![None; want.len()];
    let take = |out: &mut Vec<Option<usize>>, i: usize, j: usize| out[i] = Some(j);
    for (i, d) in want.iter().enumerate() {
        if let Some(t) = &d.target {
            if let Some(j) = have.iter().position(|h| h.target.as_deref() == Some(t)) {
                take(&mut out, i, j);
            }
        }
    }
    let same_kind = |d: &Disk, h: &DiskFacts| {
        h.device == d.device.as_str() && h.bus.as_deref() == Some(desired_bus(d).as_str())
    };
    for (i, d) in want.iter().enumerate() {
        let id = SourceId::of(&d.source);
        if out[i].is_some() || d.target.is_some() || id == SourceId::Empty {
            continue;
        }
        let dev = d.device.as_str();
        if let Some(j) = (0..have.len())
            .find(|&j| !used_at(&out, j) && have[j].source == id && have[j].device == dev)
        {
            take(&mut out, i, j);
        }
    }
    // The targets creation assigns, in list order.
    let mut taken: Vec<String> = want.iter().filter_map(|x| x.target.clone()).collect();
    let mut creation = vec![String::new(); want.len()];
    for (i, d) in want.iter().enumerate() {
        if d.target.is_none() {
            creation[i] = free_target(desired_bus(d), &taken);
            taken.push(creation[i].clone());
        }
    }
    for (i, d) in want.iter().enumerate() {
        if out[i].is_some() || d.target.is_some() {
            continue;
        }
        if let Some(j) = (0..have.len()).find(|&j| {
            !used_at(&out, j)
                && have[j].target.as_deref() == Some(&creation[i])
                && same_kind(d, &have[j])
        }) {
            take(&mut out, i, j);
        }
    }
    for (i, d) in want.iter().enumerate() {
        if out[i].is_none()
            && d.target.is_none()
            && i < have.len()
            && !used_at(&out, i)
            && same_kind(d, &have[i])
        {
            take(&mut out, i, i);
        }
    }
    out
}

fn used_at(out: &[Option<usize>], j: usize) -> bool {
    out.contains(&Some(j))
}

/// Observed interfaces matched to the manifest's (`None`: a new NIC).
///
/// 1. an explicit MAC;
/// 2. without a MAC: a NIC on the same network or bridge (the one at the
///    same position if it is there) whose MAC no manifest entry claims, so
///    removing one NIC does not hand its MAC (and DHCP reservation) to the
///    next, and a NIC without MAC keeps the MAC libvirt generated;
/// 3. the unclaimed NIC at the same position (a NIC moved to another
///    network keeps its place and MAC).
pub fn match_nics(want: &[Interface], have: &[NicFacts]) -> Vec<Option<usize>> {
    let mut out: Vec<Option<usize>> = vec![None; want.len()];
    for (i, n) in want.iter().enumerate() {
        if let Some(m) = &n.mac {
            out[i] = have.iter().position(|h| h.mac.as_deref() == Some(m));
        }
    }
    // A MAC the manifest names elsewhere is that entry's, matched or not.
    let claimed = |h: &NicFacts| {
        h.mac
            .as_ref()
            .is_some_and(|m| want.iter().any(|w| w.mac.as_ref() == Some(m)))
    };
    for (i, n) in want.iter().enumerate() {
        if n.mac.is_some() {
            continue;
        }
        let src = NicSourceId::of(&n.source);
        let free = |out: &[Option<usize>], j: usize| !used_at(out, j) && !claimed(&have[j]);
        let j = (i < have.len() && free(&out, i) && have[i].source == src)
            .then_some(i)
            .or_else(|| (0..have.len()).find(|&j| free(&out, j) && have[j].source == src));
        out[i] = j;
    }
    for (i, n) in want.iter().enumerate() {
        if n.mac.is_none() && out[i].is_none() && i < have.len() {
            let unclaimed = !used_at(&out, i) && !claimed(&have[i]);
            // Only onto a NIC whose own network the manifest no longer
            // names: a NIC still wanted where it is is not moved.
            let orphan = !want
                .iter()
                .any(|w| w.mac.is_none() && NicSourceId::of(&w.source) == have[i].source);
            if unclaimed && orphan {
                out[i] = Some(i);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vol(name: &str) -> Disk {
        Disk {
            source: DiskSource::Volume {
                pool: "p".into(),
                name: name.into(),
            },
            device: DiskDevice::Disk,
            bus: None,
            target: None,
            readonly: None,
        }
    }

    fn have(source: SourceId, device: &str, bus: &str, target: &str) -> DiskFacts {
        DiskFacts {
            source,
            device: device.into(),
            bus: Some(bus.into()),
            target: Some(target.into()),
            readonly: false,
            format: None,
        }
    }

    fn v(name: &str) -> SourceId {
        SourceId::Volume {
            pool: "p".into(),
            name: name.into(),
        }
    }

    #[test]
    fn disks_match_although_libvirt_sorts_them_by_bus_and_target() {
        let want = vec![
            vol("a"),
            Disk {
                bus: Some(DiskBus::Sata),
                ..vol("b")
            },
            Disk {
                source: DiskSource::Empty,
                device: DiskDevice::Cdrom,
                ..vol("")
            },
            Disk {
                target: Some("vdx".into()),
                ..vol("x")
            },
        ];
        // How libvirt stores what virtsync rendered from `want`.
        let stored = vec![
            have(v("a"), "disk", "virtio", "vda"),
            have(v("x"), "disk", "virtio", "vdx"),
            have(v("b"), "disk", "sata", "sda"),
            have(SourceId::Empty, "cdrom", "sata", "sdb"),
        ];
        assert_eq!(
            match_disks(&want, &stored),
            vec![Some(0), Some(2), Some(3), Some(1)]
        );
    }

    #[test]
    fn identity_runs_before_position() {
        let stored = vec![
            have(v("a"), "disk", "virtio", "vda"),
            have(v("b"), "disk", "virtio", "vdb"),
        ];
        // Keeping only b keeps the real b (vdb); a is the one removed.
        assert_eq!(match_disks(&[vol("b")], &stored), vec![Some(1)]);
        // Listing them the other way round changes nothing.
        assert_eq!(
            match_disks(&[vol("b"), vol("a")], &stored),
            vec![Some(1), Some(0)]
        );
        // A new source at a place that exists: that disk's source changes.
        assert_eq!(
            match_disks(&[vol("a"), vol("c")], &stored),
            vec![Some(0), Some(1)]
        );
        // A SATA CD-ROM is never taken for a virtio disk that goes away.
        let cdrom = Disk {
            source: DiskSource::Empty,
            device: DiskDevice::Cdrom,
            ..vol("")
        };
        assert_eq!(
            match_disks(&[vol("a"), cdrom], &stored),
            vec![Some(0), None]
        );
        // A domain another tool made with SATA disks: found by source.
        let sata = vec![
            have(SourceId::Empty, "cdrom", "sata", "sda"),
            have(v("a"), "disk", "sata", "sdb"),
        ];
        assert_eq!(match_disks(&[vol("a")], &sata), vec![Some(1)]);
        // More disks than the host has: the extra one is new.
        assert_eq!(
            match_disks(&[vol("a"), vol("b"), vol("c")], &stored),
            vec![Some(0), Some(1), None]
        );
    }

    fn nic(net: &str) -> Interface {
        Interface {
            source: InterfaceSource::Network(net.into()),
            mac: None,
            model: None,
            boot_rom: None,
        }
    }

    fn fact(net: &str, mac: &str) -> NicFacts {
        NicFacts {
            source: NicSourceId::Network(net.into()),
            mac: Some(mac.into()),
            model: None,
            boot_rom: None,
        }
    }

    #[test]
    fn removing_a_nic_keeps_the_other_nics_mac() {
        let have = [
            fact("a", "52:54:00:00:00:01"),
            fact("b", "52:54:00:00:00:02"),
        ];
        assert_eq!(match_nics(&[nic("b")], &have), [Some(1)]);
        // A NIC moved to another network keeps its place (and MAC).
        assert_eq!(match_nics(&[nic("c"), nic("b")], &have), [Some(0), Some(1)]);
        // An entry without MAC never takes a MAC another entry names.
        let same = [
            fact("a", "52:54:00:00:00:01"),
            fact("a", "52:54:00:00:00:02"),
        ];
        let named = Interface {
            mac: Some("52:54:00:00:00:01".into()),
            ..nic("a")
        };
        assert_eq!(match_nics(&[nic("a"), named], &same), [Some(1), Some(0)]);
    }
}

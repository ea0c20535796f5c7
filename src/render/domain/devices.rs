//! Device elements written: a new `<disk>` or `<interface>` from the
//! manifest, and the patch of an observed one that changes only the
//! attribute a [`DeviceChange`] names — the rest of the element (a block
//! device's `<source>` children, a NIC's portgroup, bandwidth, driver
//! queues, addresses) stays as libvirt has it.

use super::diff::*;
use super::read::{read_disk, SourceId};
use super::*;
use crate::xml::{Element, Node};

/// Remove, change and add devices as `diff` says, leaving every other
/// device (and the order libvirt keeps them in) alone.
pub(super) fn patch_devices(
    d: &Domain,
    root: &mut Element,
    diff: &DomainDiff,
    cx: &DomainContext,
) -> Result<(), String> {
    let devices = root.ensure_child("devices");
    // Positions of the disk and interface elements among all children.
    let slots = |devices: &Element, name: &str| -> Vec<usize> {
        devices
            .children
            .iter()
            .enumerate()
            .filter(|(_, n)| matches!(n, Node::Element(e) if e.name == name))
            .map(|(k, _)| k)
            .collect()
    };
    let disk_slots = slots(devices, "disk");
    let nic_slots = slots(devices, "interface");
    let slot = |id: &DeviceId| -> Option<usize> {
        let list = match id.class {
            DeviceClass::Disk => &disk_slots,
            DeviceClass::Nic => &nic_slots,
        };
        id.observed.and_then(|j| list.get(j).copied())
    };
    for c in &diff.devices {
        let DeviceChange::Changed { id, attr, .. } = c else {
            continue;
        };
        let (Some(k), Some(i)) = (slot(id), id.desired) else {
            continue;
        };
        let Node::Element(e) = &mut devices.children[k] else {
            continue;
        };
        match id.class {
            DeviceClass::Disk => {
                if let Some(w) = d.disks.as_ref().and_then(|l| l.get(i)) {
                    patch_disk(e, w, *attr, cx);
                }
            }
            DeviceClass::Nic => {
                if let Some(w) = d.interfaces.as_ref().and_then(|l| l.get(i)) {
                    patch_nic(e, w, *attr);
                }
            }
        }
    }
    // New devices go after the last of their kind (libvirt sorts disks by
    // bus and target anyway).
    let mut added: Vec<(DeviceClass, Element)> = Vec::new();
    for c in &diff.devices {
        let DeviceChange::Added { id, .. } = c else {
            continue;
        };
        let Some(i) = id.desired else { continue };
        match id.class {
            DeviceClass::Disk => {
                let Some(w) = d.disks.as_ref().and_then(|l| l.get(i)) else {
                    continue;
                };
                let target = id.target.clone().unwrap_or_default();
                added.push((DeviceClass::Disk, new_disk(w, desired_bus(w), &target, cx)?));
            }
            DeviceClass::Nic => {
                let Some(w) = d.interfaces.as_ref().and_then(|l| l.get(i)) else {
                    continue;
                };
                added.push((DeviceClass::Nic, new_nic(w, id.mac.as_deref())));
            }
        }
    }
    let removed: Vec<usize> = diff
        .devices
        .iter()
        .filter_map(|c| match c {
            DeviceChange::Removed { id, .. } => slot(id),
            _ => None,
        })
        .collect();
    let anchor = |class: DeviceClass| {
        let list = match class {
            DeviceClass::Disk => &disk_slots,
            DeviceClass::Nic => &nic_slots,
        };
        list.last().map(|k| k + 1)
    };
    // Insert from the back so earlier positions stay valid, then remove.
    let mut inserts: Vec<(usize, usize, Element)> = added
        .into_iter()
        .enumerate()
        .map(|(n, (class, e))| (anchor(class).unwrap_or(devices.children.len()), n, e))
        .collect();
    inserts.sort_by_key(|x| std::cmp::Reverse((x.0, x.1)));
    let mut removed_after: Vec<usize> = removed;
    for (at, _, e) in inserts {
        devices.children.insert(at, Node::Element(e));
        for r in removed_after.iter_mut() {
            if *r >= at {
                *r += 1;
            }
        }
    }
    removed_after.sort_unstable_by(|a, b| b.cmp(a));
    for k in removed_after {
        devices.children.remove(k);
    }
    Ok(())
}

/// Change one modelled attribute of an observed `<disk>`.
fn patch_disk(e: &mut Element, w: &Disk, attr: DeviceAttr, cx: &DomainContext) {
    match attr {
        DeviceAttr::Source => set_disk_source(e, &w.source),
        DeviceAttr::Device => e.set_attr("device", w.device.as_str()),
        DeviceAttr::Bus | DeviceAttr::Target => {
            let have = read_disk(e);
            let bus = desired_bus(w);
            let target = w.target.clone().or(have.target.clone()).unwrap_or_default();
            let t = e.ensure_child("target");
            t.set_attr("dev", target);
            if have.bus.as_deref() != Some(bus.as_str()) {
                t.set_attr("bus", bus.as_str());
                // The old bus's address means nothing on the new one.
                e.remove_children("address");
            }
        }
        DeviceAttr::Readonly => {
            e.remove_children("readonly");
            if w.readonly == Some(true) {
                e.children.push(Node::Element(Element::new("readonly")));
            }
        }
        DeviceAttr::Format => {
            if let Some(f) = wanted_format(w, cx.volume_format) {
                e.ensure_child("driver").set_attr("type", f);
            }
        }
        DeviceAttr::Mac | DeviceAttr::Model | DeviceAttr::BootRom => {}
    }
}

/// Point a `<disk>` at `src`. The same kind of source keeps its element,
/// with every other attribute and child (`<seclabel>`, `startupPolicy`);
/// another kind gets a new `<source>`.
fn set_disk_source(e: &mut Element, src: &DiskSource) {
    let (ty, attrs): (&str, Vec<(&str, String)>) = match src {
        DiskSource::Volume { pool, name } => (
            "volume",
            vec![("pool", pool.clone()), ("volume", name.clone())],
        ),
        DiskSource::Path { path, .. } => {
            // A path under /dev is a block device; any other a file.
            let block = path.starts_with("/dev/");
            if block {
                ("block", vec![("dev", path.clone())])
            } else {
                ("file", vec![("file", path.clone())])
            }
        }
        DiskSource::Empty => {
            e.remove_children("source");
            return;
        }
    };
    if e.attr("type") == Some(ty) && e.child("source").is_some() {
        let s = e.child_mut("source").expect("checked");
        for (k, v) in attrs {
            s.set_attr(k, v);
        }
        return;
    }
    e.set_attr("type", ty);
    let mut s = Element::new("source");
    for (k, v) in attrs {
        s.set_attr(k, v);
    }
    if e.child("source").is_some() {
        e.replace_child(s);
    } else {
        e.children.push(Node::Element(s));
        sort_children(e, &["driver", "source", "target"]);
    }
}

/// Change one modelled attribute of an observed `<interface>`.
fn patch_nic(e: &mut Element, w: &Interface, attr: DeviceAttr) {
    match attr {
        DeviceAttr::Source => {
            let (ty, key, value) = match &w.source {
                InterfaceSource::Network(x) => ("network", "network", x),
                InterfaceSource::Bridge(x) => ("bridge", "bridge", x),
            };
            if e.attr("type") == Some(ty) && e.child("source").is_some() {
                // Same kind of source: other attributes (portgroup, ...) stay.
                e.child_mut("source")
                    .expect("checked")
                    .set_attr(key, value.clone());
            } else {
                e.set_attr("type", ty);
                e.replace_child(Element::new("source").with_attr(key, value.clone()));
            }
        }
        DeviceAttr::Mac => {
            if let Some(m) = &w.mac {
                e.ensure_child("mac").set_attr("address", m.clone());
            }
        }
        DeviceAttr::Model => {
            if let Some(m) = w.model {
                e.ensure_child("model").set_attr("type", m.as_str());
            }
        }
        DeviceAttr::BootRom => match w.boot_rom {
            Some(false) => e.ensure_child("rom").set_attr("enabled", "no"),
            Some(true) => {
                if let Some(r) = e.child_mut("rom") {
                    r.remove_attr("enabled");
                }
                // A `<rom>` that said nothing else goes.
                e.children.retain(|n| {
                    !matches!(n, Node::Element(c) if c.name == "rom" && c.attrs.is_empty() && c.children.is_empty())
                });
            }
            None => {}
        },
        DeviceAttr::Device
        | DeviceAttr::Bus
        | DeviceAttr::Target
        | DeviceAttr::Readonly
        | DeviceAttr::Format => {}
    }
}

/// A disk element for a disk that does not exist yet.
pub(super) fn new_disk(
    d: &Disk,
    bus: DiskBus,
    target: &str,
    cx: &DomainContext,
) -> Result<Element, String> {
    let mut e = Element::new("disk");
    e.set_attr("device", d.device.as_str());
    let format = match &d.source {
        DiskSource::Empty => Some("raw".to_string()),
        _ => wanted_format(d, cx.volume_format),
    };
    let Some(format) = format else {
        // Guessing would make QEMU read a raw image as qcow2 or the
        // other way round.
        return Err(format!(
            "the format of {} is unknown (no Volume manifest names it and the host does not list it): add its Volume manifest (metadata.external: true will do) or select it too",
            SourceId::of(&d.source)
        ));
    };
    e.children.push(Node::Element(
        Element::new("driver")
            .with_attr("name", "qemu")
            .with_attr("type", format),
    ));
    set_disk_source(&mut e, &d.source);
    if e.attr("type").is_none() {
        e.set_attr("type", "file");
    }
    e.children.push(Node::Element(
        Element::new("target")
            .with_attr("dev", target)
            .with_attr("bus", bus.as_str()),
    ));
    if d.readonly == Some(true) || (d.readonly.is_none() && d.device == DiskDevice::Cdrom) {
        e.children.push(Node::Element(Element::new("readonly")));
    }
    // Element order inside <disk> matters to libvirt's schema.
    sort_children(&mut e, &["driver", "source", "target", "readonly"]);
    Ok(e)
}

/// An interface element for a NIC that does not exist yet; `mac` is the
/// one chosen for it when the manifest names none.
pub(super) fn new_nic(n: &Interface, mac: Option<&str>) -> Element {
    let mut e = Element::new("interface");
    let (ty, key, value) = match &n.source {
        InterfaceSource::Network(x) => ("network", "network", x),
        InterfaceSource::Bridge(x) => ("bridge", "bridge", x),
    };
    e.set_attr("type", ty);
    if let Some(m) = n.mac.as_deref().or(mac) {
        e.children
            .push(Node::Element(Element::new("mac").with_attr("address", m)));
    }
    e.children.push(Node::Element(
        Element::new("source").with_attr(key, value.clone()),
    ));
    e.children.push(Node::Element(
        Element::new("model").with_attr("type", n.model.unwrap_or(NicModel::Virtio).as_str()),
    ));
    if n.boot_rom == Some(false) {
        e.children.push(Node::Element(
            Element::new("rom").with_attr("enabled", "no"),
        ));
    }
    e
}

/// Order the element children of `e` by `order` (others after, stable).
fn sort_children(e: &mut Element, order: &[&str]) {
    let rank = |n: &Node| match n {
        Node::Element(c) => order
            .iter()
            .position(|o| *o == c.name)
            .unwrap_or(order.len()),
        _ => order.len(),
    };
    e.children.sort_by_key(rank);
}

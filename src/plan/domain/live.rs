//! Hot-plug and unplug decided from the typed diff, addressed to the device
//! the running guest has.
//!
//! The persistent config says what the guest gets at its next boot; the
//! live XML says what it has now. They differ after a next-boot change,
//! after someone's `virsh attach-device --live`, or while a guest still runs
//! an old disk. So a live action finds its device by identity (target and
//! source for disks, MAC for NICs) in the live XML, and is refused —
//! reported, not attempted — when the two disagree about it.

use crate::render::domain::read::{read_disk, read_nic};
use crate::render::domain::*;
use crate::xml::Element;

/// What happens to one added or removed device of a running guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum LiveDevice {
    /// Plug this element in (`attach`) or out (`detach`) now.
    Attach(String),
    Detach(String),
    /// The running guest is already as wanted: nothing to do now.
    Done,
    /// Not hot-pluggable, or the live XML is not known yet: next boot.
    NextBoot,
    /// Live and persistent disagree about the device: not attempted.
    Refused(String),
}

/// The live fate of each device change of `diff` (same order); `None` for
/// changes that are not an addition or removal.
///
/// `base` is the observed persistent XML, `rendered` the one about to be
/// defined (new devices as they will be there, MAC and target included);
/// `live` the running guest's XML, `None` when not read yet.
pub(super) fn live_devices(
    diff: &DomainDiff,
    base: &Element,
    rendered: &Element,
    live: Option<&Element>,
) -> Vec<Option<LiveDevice>> {
    diff.devices
        .iter()
        .map(|c| match c {
            DeviceChange::Added { id, hotplug, .. } => Some(if !hotplug {
                LiveDevice::NextBoot
            } else {
                match live {
                    None => LiveDevice::NextBoot,
                    Some(live) => attach(id, rendered, live),
                }
            }),
            DeviceChange::Removed { id, hotplug, .. } => Some(if !hotplug {
                LiveDevice::NextBoot
            } else {
                match live {
                    None => LiveDevice::NextBoot,
                    Some(live) => detach(id, base, live),
                }
            }),
            DeviceChange::Changed { .. } => None,
        })
        .collect()
}

fn elements(root: &Element, class: DeviceClass) -> Vec<&Element> {
    root.child("devices")
        .map(|d| d.children_named(class.element()).collect())
        .unwrap_or_default()
}

/// The element of `root` libvirt addresses as `id`: a disk by target, a
/// NIC by MAC.
fn find<'a>(root: &'a Element, id: &DeviceId) -> Option<&'a Element> {
    elements(root, id.class)
        .into_iter()
        .find(|e| match id.class {
            DeviceClass::Disk => id.target.is_some() && read_disk(e).target == id.target,
            DeviceClass::Nic => id.mac.is_some() && read_nic(e).mac == id.mac,
        })
}

/// The same device: a disk holding the same source, a NIC on the same
/// network or bridge.
fn same_device(a: &Element, b: &Element, class: DeviceClass) -> bool {
    match class {
        DeviceClass::Disk => read_disk(a).source == read_disk(b).source,
        DeviceClass::Nic => read_nic(a).source == read_nic(b).source,
    }
}

fn attach(id: &DeviceId, rendered: &Element, live: &Element) -> LiveDevice {
    let Some(new) = find(rendered, id) else {
        return LiveDevice::NextBoot;
    };
    match find(live, id) {
        None => LiveDevice::Attach(new.to_xml()),
        Some(have) if same_device(have, new, id.class) => LiveDevice::Done,
        Some(have) => LiveDevice::Refused(format!(
            "{} is not hot-plugged: the running guest has another device at {} ({}); live and persistent config disagree, so it takes effect at the next boot",
            id.name(),
            address(id),
            describe(have, id.class),
        )),
    }
}

fn detach(id: &DeviceId, base: &Element, live: &Element) -> LiveDevice {
    let Some(have) = find(live, id) else {
        // Not in the running guest (added to the config while it ran, or
        // unplugged already).
        return LiveDevice::Done;
    };
    let Some(old) = find(base, id) else {
        return LiveDevice::NextBoot;
    };
    if !same_device(have, old, id.class) {
        return LiveDevice::Refused(format!(
            "{} is not unplugged: the running guest has {} at {}, the persistent config {}; live and persistent config disagree, so it goes at the next boot",
            id.name(),
            describe(have, id.class),
            address(id),
            describe(old, id.class),
        ));
    }
    // Exactly the element the guest has (its alias and PCI address).
    LiveDevice::Detach(have.to_xml())
}

fn address(id: &DeviceId) -> String {
    id.target
        .clone()
        .or_else(|| id.mac.clone())
        .unwrap_or_default()
}

fn describe(e: &Element, class: DeviceClass) -> String {
    match class {
        DeviceClass::Disk => read_disk(e).source.to_string(),
        DeviceClass::Nic => read_nic(e).source.to_string(),
    }
}

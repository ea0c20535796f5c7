//! What libvirt derives from a domain's machine family, firmware and arch,
//! and dropping it when one of them changes, so that the define that
//! carries the change lets libvirt derive it anew.
//!
//! A patch keeps everything virtsync does not model. For most fields that
//! is right, but libvirt fills in a good part of a domain's XML *from* the
//! machine type, the firmware and the arch: the PCI topology and every
//! device's PCI address, the controllers the chipset has built in, the USB
//! controller model it picks, the firmware binary it selected, the emulator
//! binary. Once one of those three changes, what was derived from the old
//! value is no longer a choice anyone made — it is stale, and libvirt
//! refuses it (`The PCI controller with index='0' must be model='pcie-root'
//! for this machine type`, `loader attribute 'readonly' cannot be specified
//! when firmware autoselection is enabled`) or, worse, accepts a definition
//! that cannot start. So exactly that is dropped, and everything else (a
//! `<rng>`, a `<watchdog>`, a `<memballoon>`, escape-hatch devices, a
//! second USB controller someone added) stays, minus its PCI address.
//!
//! What libvirt 9.0 derives, as measured by defining the same devices on
//! both families of a private daemon:
//!
//! | | `pc` (i440fx) | `q35` |
//! |---|---|---|
//! | PCI root | `pci-root` | `pcie-root`, `pcie-root-port`s, a `pcie-to-pci-bridge` for legacy PCI devices |
//! | built in | PIIX3 IDE (`<controller type='ide'>`, with an IDE disk) | ICH9 AHCI (`<controller type='sata' index='0'>`, always) |
//! | USB (index 0) | `piix3-uhci` | `qemu-xhci` (older libvirt: `ich9-ehci1` with `ich9-uhci*` companions) |
//! | addresses | every PCI device on bus 0 | every PCI device behind its own root port |
//!
//! Redefining a family change after these drops gives the XML libvirt
//! gives a fresh domain of the new family with the same devices. Within a
//! family (`pc-i440fx-8.2` → `pc-i440fx-9.0`) none of this changes, and the
//! addresses — which the guest OS names its NICs and disks by — stay.

use crate::model::MachineFamily;
use crate::xml::{Element, Node};

/// USB controller models libvirt picks for index 0 on a family. A USB
/// controller with another model (or `model='none'`) was asked for.
fn default_usb_models(f: &MachineFamily) -> &'static [&'static str] {
    match f {
        MachineFamily::I440fx => &["piix3-uhci"],
        MachineFamily::Q35 => &[
            "qemu-xhci",
            "ich9-ehci1",
            "ich9-uhci1",
            "ich9-uhci2",
            "ich9-uhci3",
        ],
        MachineFamily::Other(_) => &[],
    }
}

/// Whether `c`, a `<controller>`, came with `old`: every PCI controller
/// (the topology is the family's: a `pcie-root-port` means nothing on
/// i440fx, a `pci-root` is refused on q35), the chipset's built-in disk
/// controller, and the USB controller libvirt chose for index 0 (no model
/// yet means libvirt's choice too).
fn derived_controller(c: &Element, old: &MachineFamily) -> bool {
    let index = c.attr("index").unwrap_or("0");
    match c.attr("type") {
        Some("pci") => true,
        // PIIX3 has exactly one IDE controller, and q35 refuses any.
        Some("ide") => *old == MachineFamily::I440fx,
        // The ICH9 AHCI; a SATA controller on i440fx is a separate AHCI
        // device that libvirt added for a SATA disk, and is kept.
        Some("sata") => *old == MachineFamily::Q35 && index == "0",
        Some("usb") => {
            index == "0"
                && c.attr("model")
                    .is_none_or(|m| default_usb_models(old).contains(&m))
        }
        _ => false,
    }
}

/// The controller an `<address>` of a device points to, as (type, index):
/// a `drive` address names its controller by number and the device's bus
/// names its type; a `usb` address names its controller by `bus`.
fn addressed_controller(device: &Element, address: &Element) -> Option<(String, String)> {
    match address.attr("type")? {
        "drive" => {
            let kind = match device.name.as_str() {
                "disk" => device.child("target")?.attr("bus")?,
                // SCSI host devices sit on SCSI controllers.
                "hostdev" => "scsi",
                _ => return None,
            };
            let index = address.attr("controller").unwrap_or("0");
            Some((kind.to_string(), index.to_string()))
        }
        "usb" => Some(("usb".into(), address.attr("bus").unwrap_or("0").to_string())),
        _ => None,
    }
}

/// Drop what libvirt derived from the machine family `old` (see the module
/// docs) from `<devices>`: the family's controllers, every guest PCI
/// address, and the drive and USB addresses that point to a controller
/// that goes. Only a device's own `<address>` is a guest address: the
/// `<source><address>` of a host device or a `type='hostdev'` NIC names
/// the *host's* PCI device and stays.
pub(super) fn forget_machine(root: &mut Element, old: &MachineFamily) {
    let Some(devices) = root.child_mut("devices") else {
        return;
    };
    let mut gone: Vec<(String, String)> = Vec::new();
    devices.children.retain(|n| match n {
        Node::Element(c) if c.name == "controller" && derived_controller(c, old) => {
            gone.push((
                c.attr("type").unwrap_or_default().to_string(),
                c.attr("index").unwrap_or("0").to_string(),
            ));
            false
        }
        _ => true,
    });
    for device in devices.elements_mut() {
        let stale: Vec<bool> = device
            .children
            .iter()
            .map(|n| match n {
                Node::Element(a) if a.name == "address" => {
                    a.attr("type") == Some("pci")
                        || addressed_controller(device, a).is_some_and(|c| gone.contains(&c))
                }
                _ => false,
            })
            .collect();
        let mut k = 0;
        device.children.retain(|_| {
            k += 1;
            !stale[k - 1]
        });
    }
}

/// Drop the result of libvirt's firmware autoselection (`<os
/// firmware='efi'>`) for the machine or arch it was made for: the
/// `<loader>` it picked (a secure-boot OVMF exists for q35 only) and the
/// `template` of the `<nvram>`, which named that loader's variable
/// template. The `<nvram>` path stays: the file there holds the guest's
/// UEFI variables (its boot entries). A `<loader>` without autoselection
/// was chosen by hand and stays.
pub(super) fn forget_firmware_selection(root: &mut Element) {
    let Some(os) = root.child_mut("os") else {
        return;
    };
    if os.attr("firmware").is_none() {
        return;
    }
    os.remove_children("loader");
    if let Some(nv) = os.child_mut("nvram") {
        nv.remove_attr("template");
    }
}

/// Before a firmware (`bios` ↔ `uefi`) or secure-boot change: drop the
/// `<loader>` (a SeaBIOS ROM, an OVMF build, or a `secure` hint that would
/// contradict the new features — libvirt then finds no firmware to start
/// with) and the `<nvram>`, so that libvirt's autoselection picks the
/// firmware for the new settings. `keep_vars` (UEFI before and after)
/// keeps the `<nvram>` path, the guest's own variable store, without the
/// old template, which autoselection refuses.
pub(super) fn forget_firmware(root: &mut Element, keep_vars: bool) {
    let os = root.ensure_child("os");
    os.remove_children("loader");
    if keep_vars {
        if let Some(nv) = os.child_mut("nvram") {
            nv.remove_attr("template");
        }
    } else {
        os.remove_children("nvram");
    }
}

/// After an arch change: the `<emulator>` is the old arch's QEMU binary
/// (`qemu-system-x86_64`), which libvirt picks again for the new one.
pub(super) fn forget_emulator(root: &mut Element) {
    if let Some(devices) = root.child_mut("devices") {
        devices.remove_children("emulator");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn devices(xml: &str) -> Element {
        Element::parse(&format!("<domain><devices>{xml}</devices></domain>")).unwrap()
    }

    fn names(root: &Element) -> Vec<String> {
        root.child("devices")
            .unwrap()
            .elements()
            .map(|e| {
                let a = e
                    .child("address")
                    .map(|a| format!(" @{}", a.attr("type").unwrap_or("?")))
                    .unwrap_or_default();
                format!("{} {}{a}", e.name, e.attr("type").unwrap_or_default())
            })
            .collect()
    }

    #[test]
    fn i440fx_controllers_go_and_devices_stay_without_pci_addresses() {
        let pci = "<address type='pci' domain='0x0000' bus='0x00' slot='0x05' function='0x0'/>";
        let mut root = devices(&format!(
            "<emulator>/usr/bin/qemu-system-x86_64</emulator>\
             <disk type='file' device='cdrom'><target dev='hdc' bus='ide'/><address type='drive' controller='0' bus='1' target='0' unit='0'/></disk>\
             <disk type='file' device='cdrom'><target dev='sda' bus='sata'/><address type='drive' controller='0' bus='0' target='0' unit='0'/></disk>\
             <controller type='usb' index='0' model='piix3-uhci'>{pci}</controller>\
             <controller type='usb' index='1' model='qemu-xhci'>{pci}</controller>\
             <controller type='pci' index='0' model='pci-root'/>\
             <controller type='pci' index='1' model='pci-bridge'>{pci}</controller>\
             <controller type='ide' index='0'>{pci}</controller>\
             <controller type='sata' index='0'>{pci}</controller>\
             <input type='tablet' bus='usb'><address type='usb' bus='0' port='1'/></input>\
             <input type='mouse' bus='usb'><address type='usb' bus='1' port='1'/></input>\
             <hostdev mode='subsystem' type='pci'><source><address domain='0x0000' bus='0x06' slot='0x02' function='0x0'/></source>{pci}</hostdev>\
             <rng model='virtio'>{pci}</rng>"
        ));
        forget_machine(&mut root, &MachineFamily::I440fx);
        assert_eq!(
            names(&root),
            [
                "emulator ",
                // Its IDE controller is gone: libvirt places it anew (and
                // the planner refuses an IDE disk on q35 before this).
                "disk file",
                // The SATA controller libvirt added for this disk stays.
                "disk file @drive",
                "controller usb",
                "controller sata",
                "input tablet",
                "input mouse @usb",
                "hostdev pci",
                "rng ",
            ]
        );
        let hostdev = root.find(&["devices", "hostdev", "source", "address"]);
        assert_eq!(hostdev.and_then(|a| a.attr("bus")), Some("0x06"));
    }

    #[test]
    fn q35_controllers_go_and_chosen_ones_stay() {
        let mut root = devices(
            "<controller type='usb' index='0' model='qemu-xhci'/>\
             <controller type='sata' index='0'/>\
             <controller type='sata' index='1'/>\
             <controller type='pci' index='0' model='pcie-root'/>\
             <controller type='pci' index='1' model='pcie-root-port'/>\
             <controller type='pci' index='2' model='pcie-to-pci-bridge'/>\
             <controller type='scsi' index='0' model='virtio-scsi'/>\
             <controller type='virtio-serial' index='0'/>\
             <disk type='file' device='cdrom'><target dev='sda' bus='sata'/><address type='drive' controller='0' bus='0' target='0' unit='0'/></disk>\
             <disk type='file' device='disk'><target dev='sdb' bus='scsi'/><address type='drive' controller='0' bus='0' target='0' unit='1'/></disk>",
        );
        forget_machine(&mut root, &MachineFamily::Q35);
        assert_eq!(
            names(&root),
            [
                "controller sata",
                "controller scsi",
                "controller virtio-serial",
                "disk file",
                "disk file @drive",
            ]
        );
        // A USB controller someone chose (or switched off) is theirs.
        let mut root = devices("<controller type='usb' index='0' model='none'/>");
        forget_machine(&mut root, &MachineFamily::Q35);
        assert_eq!(names(&root), ["controller usb"]);
    }

    #[test]
    fn firmware_selection_goes_and_the_variable_store_stays() {
        let os = |attrs: &str| {
            Element::parse(&format!(
                "<domain><os{attrs}><type>hvm</type><loader readonly='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE_4M.ms.fd</loader><nvram template='/usr/share/OVMF/OVMF_VARS_4M.ms.fd'>/var/lib/libvirt/qemu/nvram/vm_VARS.fd</nvram></os></domain>"
            ))
            .unwrap()
        };
        // Autoselection: its result goes, the variables stay.
        let mut root = os(" firmware='efi'");
        forget_firmware_selection(&mut root);
        assert!(root.find(&["os", "loader"]).is_none());
        let nv = root.find(&["os", "nvram"]).unwrap();
        assert_eq!(nv.attrs, []);
        assert_eq!(nv.text(), "/var/lib/libvirt/qemu/nvram/vm_VARS.fd");
        // A loader chosen by hand stays.
        let mut root = os("");
        forget_firmware_selection(&mut root);
        assert!(root.find(&["os", "loader"]).is_some());
        // A firmware change: both go, or the store stays for UEFI → UEFI.
        let mut root = os("");
        forget_firmware(&mut root, false);
        assert_eq!(root.child("os").unwrap().elements().count(), 1);
        let mut root = os("");
        forget_firmware(&mut root, true);
        assert!(root.find(&["os", "loader"]).is_none());
        assert_eq!(root.find(&["os", "nvram"]).map(|n| n.attrs.len()), Some(0));
    }
}

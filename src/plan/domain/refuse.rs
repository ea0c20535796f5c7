//! Changes libvirt would refuse or silently override, refused at plan time
//! with the reason and what to do — rather than planned, applied, and then
//! failing (or "succeeding" while libvirt keeps its own value, so the next
//! plan shows the same change forever).

use crate::model::*;
use crate::render::domain::*;
use crate::xml::Element;

/// Why the diff cannot be applied as planned, if it cannot.
pub(super) fn refusal(d: &Domain, have: &DomainFacts, diff: &DomainDiff) -> Option<String> {
    let c = &have.constraints;
    if let (Some(numa), Some(ch)) = (c.numa_memory_kib, diff.field(Field::MaxMemory)) {
        return Some(format!(
            "the guest's memory is fixed by its NUMA cells (<cpu><numa>, {} in total): libvirt sets <memory> to their sum, so maxMemory {} would never take effect; change the cells with `virsh edit` (or the xml escape hatch) and set maxMemory to their new sum, or keep maxMemory at {} and memory at most that",
            numa,
            ch.to,
            numa,
        ));
    }
    if let (Some(topo), Some(_)) = (c.topology_vcpus, diff.field(Field::MaxVcpus)) {
        let want = target_max_vcpus(d, Some(have.max_vcpus));
        if want != topo {
            return Some(format!(
                "the guest's CPU topology (<cpu><topology>: sockets × dies × cores × threads = {topo}) fixes its vCPU count, and libvirt refuses {want}: set maxVcpus to {topo} (vcpus at most {topo}), or change the topology with `virsh edit` (or the xml escape hatch) to match {want}"
            ));
        }
    }
    if c.device_boot_order && diff.field(Field::Boot).is_some() {
        return Some(
            "the guest's devices carry their own boot order (<boot order=...>), and libvirt refuses <os><boot> beside it: remove `boot` from the manifest, or remove the devices' boot order with `virsh edit`".into(),
        );
    }
    None
}

/// An IDE disk in the definition `rendered` for an existing domain whose
/// machine (the manifest's, else the one it has) is a q35: q35 has no IDE
/// controller and libvirt refuses the define. Validation says so when the
/// manifest spells both; this catches the rest — a machine alias, a q35
/// domain given an IDE disk, or an IDE disk the manifest does not list
/// (`disks` unset) on a domain moved to q35.
pub(super) fn ide_on_q35(
    d: &Domain,
    rendered: &Element,
    have: &DomainFacts,
    diff: &DomainDiff,
    caps: &Capabilities,
) -> Option<String> {
    let now = read_domain(rendered);
    let machine = now.machine.as_deref()?;
    let arch = now.arch.clone().unwrap_or_else(|| caps.default_arch());
    if caps.machine_family(&arch, machine) != MachineFamily::Q35 {
        return None;
    }
    let ide = now
        .disks
        .iter()
        .find(|x| x.bus.as_deref() == Some(DiskBus::Ide.as_str()))?;
    let target = ide.target.clone().unwrap_or_default();
    let fix = "put it on bus sata (CD-ROMs too), scsi or virtio, or keep an i440fx machine (pc)";
    let listed = d.disks.as_deref().and_then(|list| {
        manifest_targets(list, have, diff)
            .iter()
            .position(|t| t.as_deref() == Some(target.as_str()))
    });
    Some(match listed {
        Some(i) => format!(
            "disks[{i}] ({target}) is on bus ide, and machine {machine} (q35) has no IDE controller, so libvirt refuses the domain: {fix}"
        ),
        None => format!(
            "the domain's disk {target} ({}) is on bus ide, and machine {machine} (q35) has no IDE controller, so libvirt refuses the domain; the manifest does not list it (`disks` is unset): list the domain's disks and {fix}",
            ide.source
        ),
    })
}

/// The target each disk of the manifest has or gets: its own, the matched
/// observed disk's, or the one the diff gives a new disk.
fn manifest_targets(list: &[Disk], have: &DomainFacts, diff: &DomainDiff) -> Vec<Option<String>> {
    let matched = match_disks(list, &have.disks);
    list.iter()
        .enumerate()
        .map(|(i, w)| {
            w.target
                .clone()
                .or_else(|| matched[i].and_then(|j| have.disks[j].target.clone()))
                .or_else(|| {
                    diff.devices.iter().find_map(|c| match c {
                        DeviceChange::Added { id, .. }
                            if id.class == DeviceClass::Disk && id.desired == Some(i) =>
                        {
                            id.target.clone()
                        }
                        _ => None,
                    })
                })
        })
        .collect()
}

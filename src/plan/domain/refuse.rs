//! Changes libvirt would refuse or silently override, refused at plan time
//! with the reason and what to do — rather than planned, applied, and then
//! failing (or "succeeding" while libvirt keeps its own value, so the next
//! plan shows the same change forever).

use crate::model::*;
use crate::render::domain::*;

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

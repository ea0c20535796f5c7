//! Checks of a Domain's spec, and its conversion to [`Domain`].
//!
//! Everything that can be said about a domain from its own document:
//! sizes and counts that must agree (memory and maxMemory, vcpus and
//! maxVcpus), settings a transient domain cannot have, the cpu model only
//! with `mode: custom`, disks (one source each, targets that fit their bus
//! and are unique, no read-only SATA disk and no IDE disk on a q35 machine,
//! which libvirt would refuse), NICs (one source each, unique MACs),
//! graphics, the shutdown timeout, the snapshot policy and the `xml`
//! escape hatch. What a domain refers to (pools,
//! volumes, networks) and where its disk paths may be are checked once the
//! whole directory is known, in [`super::refs`].

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::super::types;
use super::super::units::parse_duration;
use super::fields::Ctx;
use crate::model::*;

pub(super) fn domain(cx: &mut Ctx, meta: Meta, s: &types::DomainSpec) -> Domain {
    let memory = cx.size("spec.memory", &s.memory);
    let max_memory = s
        .max_memory
        .as_ref()
        .and_then(|m| cx.size("spec.maxMemory", m));
    if let (Some(m), Some(mx)) = (memory, max_memory) {
        if mx < m {
            cx.err(
                "spec.maxMemory",
                format!(
                    "maxMemory ({}) is below memory ({}); raise maxMemory or leave it out",
                    s.max_memory.as_ref().map(|x| x.0.as_str()).unwrap_or(""),
                    s.memory.0
                ),
            );
        }
    }
    if s.vcpus == 0 {
        cx.err("spec.vcpus", "vcpus must be at least 1");
    }
    if let Some(mx) = s.max_vcpus {
        if mx < s.vcpus {
            cx.err(
                "spec.maxVcpus",
                format!(
                    "maxVcpus ({mx}) is below vcpus ({}); raise maxVcpus or leave it out",
                    s.vcpus
                ),
            );
        }
    }
    let persistent = s.persistent.unwrap_or(true);
    if !persistent {
        if s.autostart == Some(true) {
            cx.err(
                "spec.autostart",
                "a transient domain (persistent: false) cannot autostart",
            );
        }
        if s.restart_policy.is_some() {
            cx.err(
                "spec.restartPolicy",
                "a transient domain (persistent: false) takes no restartPolicy",
            );
        }
    }
    if let Some(arch) = &s.arch {
        if arch.is_empty() || !arch.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            cx.err(
                "spec.arch",
                format!("`{arch}` is not an architecture name such as x86_64 or aarch64"),
            );
        }
    }
    if let Some(m) = &s.machine {
        if m.is_empty()
            || !m
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        {
            cx.err(
                "spec.machine",
                format!("`{m}` is not a machine type such as q35 or pc-q35-7.2"),
            );
        }
    }
    if s.secure_boot == Some(true) && s.firmware != Some(types::Firmware::Uefi) {
        cx.err("spec.secureBoot", "secureBoot needs `firmware: uefi`");
    }
    let cpu = s.cpu.as_ref().map(|c| {
        match (c.mode, &c.model) {
            (types::CpuMode::Custom, None) => cx.err(
                "spec.cpu.model",
                "mode custom needs a cpu model, e.g. Skylake-Client",
            ),
            (types::CpuMode::Custom, Some(_)) | (_, None) => {}
            (_, Some(_)) => cx.err(
                "spec.cpu.model",
                "a cpu model is only used with `mode: custom`",
            ),
        }
        Cpu {
            mode: c.mode,
            model: c.model.clone(),
        }
    });
    if let Some(boot) = &s.boot {
        let mut seen = BTreeSet::new();
        for (i, b) in boot.iter().enumerate() {
            if !seen.insert(*b) {
                cx.err(&format!("spec.boot[{i}]"), "boot device listed twice");
            }
        }
    }
    let wait_for_address = s.wait_for.as_ref().filter(|w| w.address).and_then(|w| {
        if s.state.is_some_and(|st| st != PowerState::Running) {
            cx.err(
                "spec.waitFor",
                "waitFor.address needs a guest that runs (state: running)",
            );
        }
        match &w.timeout {
            Some(t) => parse_duration(&t.0)
                .map_err(|m| cx.err("spec.waitFor.timeout", m))
                .ok(),
            None => Some(Duration::from_secs(120)),
        }
    });
    let mut disks = s.disks.as_ref().map(|d| disks(cx, d));
    let cloud_init = s
        .cloud_init
        .as_ref()
        .and_then(|c| super::cloudinit::seed(cx, &meta.name, c, s.machine.as_deref(), &mut disks));
    if let (Some(m), Some(list)) = (&s.machine, &s.disks) {
        no_ide_on_q35(cx, m, list);
    }
    let interfaces = s.interfaces.as_ref().map(|n| interfaces(cx, n));
    let graphics = s.graphics.as_ref().map(|g| {
        if let Some(l) = &g.listen {
            if g.kind == types::GraphicsType::None {
                cx.err(
                    "spec.graphics.listen",
                    "`listen` needs graphics type vnc or spice",
                );
            } else {
                cx.ip("spec.graphics.listen", l);
            }
        }
        Graphics {
            kind: g.kind,
            listen: g.listen.clone(),
        }
    });
    let shutdown_timeout = match &s.shutdown_timeout {
        Some(t) => parse_duration(&t.0)
            .map_err(|m| cx.err("spec.shutdownTimeout", m))
            .unwrap_or_default(),
        None => Duration::from_secs(60),
    };
    let snapshot_policy = s.snapshot_policy.as_ref().map(|p| {
        if p.keep == Some(0) {
            cx.err(
                "spec.snapshotPolicy.keep",
                "keep must be at least 1 (omit it to keep every policy snapshot)",
            );
        }
        SnapshotPolicy {
            before_disruptive_change: p.before_disruptive_change,
            keep: p.keep,
        }
    });
    let uuid = cx.uuid("spec.uuid", &s.uuid);
    let xml = cx.xml("spec.xml", &s.xml, "domain");
    Domain {
        meta,
        state: s.state.unwrap_or(PowerState::Running),
        persistent,
        autostart: s.autostart,
        domain_type: s.domain_type,
        arch: s.arch.clone(),
        machine: s.machine.clone(),
        firmware: s.firmware,
        secure_boot: s.secure_boot,
        uuid,
        // An invalid memory was reported; keep the domain so its
        // references are still checked.
        memory: Bytes(memory.unwrap_or(0)),
        max_memory: max_memory.map(Bytes),
        vcpus: s.vcpus,
        max_vcpus: s.max_vcpus,
        cpu,
        boot: s.boot.clone(),
        disks,
        interfaces,
        graphics,
        console: s.console,
        restart_policy: s.restart_policy.unwrap_or(RestartPolicy::Never),
        shutdown_timeout,
        snapshot_policy,
        cloud_init,
        wait_for_address,
        xml,
    }
}

/// The disk list: each disk, and targets unique within it.
fn disks(cx: &mut Ctx, disks: &[types::DiskSpec]) -> Vec<Disk> {
    let mut targets: BTreeMap<String, usize> = BTreeMap::new();
    disks
        .iter()
        .enumerate()
        .filter_map(|(i, d)| {
            let disk = disk(cx, i, d)?;
            if let Some(t) = &disk.target {
                if let Some(first) = targets.insert(t.clone(), i) {
                    cx.err(
                        &format!("spec.disks[{i}].target"),
                        format!("target `{t}` is also used by disks[{first}]"),
                    );
                }
            }
            Some(disk)
        })
        .collect()
}

/// q35 has no IDE controller, and libvirt refuses a domain with an IDE
/// disk on it ("IDE controllers are unsupported for this QEMU binary or
/// machine type"); say so at the disk rather than at apply. Only a machine
/// that spells its family is known here: an alias of a q35 machine is
/// caught at plan time, with the host's capabilities.
fn no_ide_on_q35(cx: &mut Ctx, machine: &str, disks: &[types::DiskSpec]) {
    if MachineFamily::of(machine) != MachineFamily::Q35 {
        return;
    }
    for (i, d) in disks.iter().enumerate() {
        let (field, ide) = match (d.bus, &d.target) {
            (Some(b), _) => ("bus", b == DiskBus::Ide),
            (None, Some(t)) => ("target", t.starts_with("hd")),
            (None, None) => continue,
        };
        if ide {
            cx.err(
                &format!("spec.disks[{i}].{field}"),
                format!("machine {machine} (q35) has no IDE controller, and libvirt refuses IDE disks on it; use bus sata (CD-ROMs too), scsi or virtio"),
            );
        }
    }
}

/// The NIC list: each interface's source, and MACs unique within it.
fn interfaces(cx: &mut Ctx, ifs: &[types::InterfaceSpec]) -> Vec<Interface> {
    let mut macs: BTreeMap<String, usize> = BTreeMap::new();
    ifs.iter()
        .enumerate()
        .filter_map(|(i, n)| {
            let path = format!("spec.interfaces[{i}]");
            let source = match (&n.network, &n.bridge) {
                (Some(net), None) => {
                    cx.name_ref(&format!("{path}.network"), net);
                    InterfaceSource::Network(net.clone())
                }
                (None, Some(br)) => {
                    cx.ifname(&format!("{path}.bridge"), br);
                    InterfaceSource::Bridge(br.clone())
                }
                (Some(_), Some(_)) => {
                    cx.err(&path, "an interface takes `network` or `bridge`, not both");
                    return None;
                }
                (None, None) => {
                    cx.err(
                        &path,
                        "an interface needs `network: NAME` or `bridge: BRIDGE`",
                    );
                    return None;
                }
            };
            let mac = n
                .mac
                .as_ref()
                .and_then(|m| cx.mac(&format!("{path}.mac"), m));
            if let Some(m) = &mac {
                if let Some(first) = macs.insert(m.clone(), i) {
                    cx.err(
                        &format!("{path}.mac"),
                        format!("MAC {m} is also used by interfaces[{first}]"),
                    );
                }
            }
            Some(Interface {
                source,
                mac,
                model: n.model,
                boot_rom: n.boot_rom,
            })
        })
        .collect()
}

/// One disk: a single source (or an empty cdrom), a target that fits its
/// bus, and nothing libvirt would refuse at define time.
fn disk(cx: &mut Ctx, i: usize, d: &types::DiskSpec) -> Option<Disk> {
    let path = format!("spec.disks[{i}]");
    let device = d.device.unwrap_or(DiskDevice::Disk);
    let source = match (&d.volume, &d.path) {
        (Some(_), Some(_)) => {
            cx.err(&path, "a disk takes `volume` or `path`, not both");
            return None;
        }
        (Some(v), None) => {
            cx.name_ref(&format!("{path}.volume.pool"), &v.pool);
            cx.name_ref(&format!("{path}.volume.name"), &v.name);
            if d.format.is_some() {
                cx.err(
                    &format!("{path}.format"),
                    "`format` is only for `path:` disks; a volume's format comes from the volume",
                );
            }
            DiskSource::Volume {
                pool: v.pool.clone(),
                name: v.name.clone(),
            }
        }
        (None, Some(p)) => {
            cx.abs_path(&format!("{path}.path"), p)?;
            DiskSource::Path {
                path: p.clone(),
                format: d.format.unwrap_or(VolumeFormat::Raw),
            }
        }
        (None, None) if device == DiskDevice::Cdrom => DiskSource::Empty,
        (None, None) => {
            cx.err(
                &path,
                "a disk needs `volume: {pool, name}` or `path:` (only a cdrom may be empty)",
            );
            return None;
        }
    };
    if let Some(t) = &d.target {
        let prefix_ok = ["vd", "sd", "hd"].iter().any(|p| {
            t.strip_prefix(p).is_some_and(|rest| {
                (1..=3).contains(&rest.len()) && rest.chars().all(|c| c.is_ascii_lowercase())
            })
        });
        if !prefix_ok {
            cx.err(
                &format!("{path}.target"),
                format!("`{t}` is not a disk target such as vda, sdb or hdc"),
            );
        } else if let Some(bus) = d.bus {
            if !t.starts_with(bus.target_prefix()) {
                cx.err(
                    &format!("{path}.target"),
                    format!(
                        "target `{t}` does not fit bus {:?}; use {}a, {}b, ...",
                        bus,
                        bus.target_prefix(),
                        bus.target_prefix()
                    )
                    .to_lowercase(),
                );
            }
        }
    }
    // libvirt (9.0) refuses read-only SATA disks at define time; say so now.
    let sata = d.bus == Some(DiskBus::Sata)
        || (d.bus.is_none() && d.target.as_deref().is_some_and(|t| t.starts_with("sd")));
    if d.readonly == Some(true) && device == DiskDevice::Disk && sata {
        cx.err(
            &format!("{path}.readonly"),
            "libvirt does not support read-only SATA disks; use bus virtio or scsi, or a cdrom",
        );
    }
    // virtio-blk has no removable media: libvirt refuses the CD-ROM.
    let virtio = d.bus == Some(DiskBus::Virtio)
        || (d.bus.is_none() && d.target.as_deref().is_some_and(|t| t.starts_with("vd")));
    if device == DiskDevice::Cdrom && virtio {
        let field = if d.bus.is_some() { "bus" } else { "target" };
        cx.err(
            &format!("{path}.{field}"),
            "a CD-ROM cannot be on bus virtio (virtio disks have no removable media, and libvirt refuses it); use bus sata or scsi",
        );
    }
    Some(Disk {
        source,
        device,
        bus: d.bus,
        target: d.target.clone(),
        readonly: d.readonly,
    })
}

//! The typed difference between a Domain manifest and the observed domain:
//! which fields differ and which devices are added, removed or changed,
//! each device with its identity (desired and observed index, target, MAC).
//!
//! The planner classifies and orders from these types and prints them as
//! `changes`; the renderer patches exactly what they name. Nothing reads
//! a change back from its printed name.

use super::device_diff::{disk_changes, nic_changes};
use super::read::DomainFacts;
use super::*;

/// A scalar field of the manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Field {
    Type,
    Arch,
    Machine,
    Firmware,
    SecureBoot,
    MaxMemory,
    Memory,
    MaxVcpus,
    Vcpus,
    CpuMode,
    CpuModel,
    Boot,
    Graphics,
    Console,
}

impl Field {
    /// The manifest's name of the field, as plans print it.
    pub fn name(self) -> &'static str {
        match self {
            Field::Type => "type",
            Field::Arch => "arch",
            Field::Machine => "machine",
            Field::Firmware => "firmware",
            Field::SecureBoot => "secureBoot",
            Field::MaxMemory => "maxMemory",
            Field::Memory => "memory",
            Field::MaxVcpus => "maxVcpus",
            Field::Vcpus => "vcpus",
            Field::CpuMode => "cpu.mode",
            Field::CpuModel => "cpu.model",
            Field::Boot => "boot",
            Field::Graphics => "graphics",
            Field::Console => "console",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldChange {
    pub field: Field,
    pub from: String,
    pub to: String,
    /// Applied to the running guest (else: next boot).
    pub live: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceClass {
    Disk,
    Nic,
}

impl DeviceClass {
    /// The manifest list the device belongs to.
    pub fn list(self) -> &'static str {
        match self {
            DeviceClass::Disk => "disks",
            DeviceClass::Nic => "interfaces",
        }
    }

    /// The element name in `<devices>`.
    pub fn element(self) -> &'static str {
        match self {
            DeviceClass::Disk => "disk",
            DeviceClass::Nic => "interface",
        }
    }
}

/// Who a device is: where it stands in the manifest's list and in the
/// observed `<devices>` (among its own kind), and its target or MAC — what
/// libvirt addresses it by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceId {
    pub class: DeviceClass,
    pub desired: Option<usize>,
    pub observed: Option<usize>,
    /// Disks: the target it has or gets.
    pub target: Option<String>,
    /// NICs: the MAC it has or gets.
    pub mac: Option<String>,
}

impl DeviceId {
    /// The name of the device in a plan's `changes`, unambiguous across
    /// added and removed devices: a device of the manifest by its index
    /// there (`disks[1]`, `interfaces[0]`), a removed one — which has no
    /// index in the manifest — by what libvirt addresses it by
    /// (`disks[vdb]`, `interfaces[52:54:00:12:34:56]`), or, lacking that,
    /// by its observed index (`disks[observed 2]`).
    pub fn name(&self) -> String {
        let list = self.class.list();
        match (self.desired, &self.target, &self.mac) {
            (Some(i), _, _) => format!("{list}[{i}]"),
            (None, Some(t), _) => format!("{list}[{t}]"),
            (None, None, Some(m)) => format!("{list}[{m}]"),
            (None, None, None) => format!("{list}[observed {}]", self.observed.unwrap_or(0)),
        }
    }
}

/// An attribute of a device the manifest models.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceAttr {
    Source,
    Device,
    Bus,
    Target,
    Readonly,
    Format,
    Mac,
    Model,
    BootRom,
}

impl DeviceAttr {
    pub fn name(self) -> &'static str {
        match self {
            DeviceAttr::Source => "source",
            DeviceAttr::Device => "device",
            DeviceAttr::Bus => "bus",
            DeviceAttr::Target => "target",
            DeviceAttr::Readonly => "readonly",
            DeviceAttr::Format => "format",
            DeviceAttr::Mac => "mac",
            DeviceAttr::Model => "model",
            DeviceAttr::BootRom => "bootRom",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceChange {
    /// In the manifest, not on the host.
    Added {
        id: DeviceId,
        summary: String,
        /// Can be plugged into a running guest (virtio disks, NICs).
        hotplug: bool,
    },
    /// On the host, not in the manifest.
    Removed {
        id: DeviceId,
        summary: String,
        hotplug: bool,
    },
    /// In both; one modelled attribute differs (next boot).
    Changed {
        id: DeviceId,
        attr: DeviceAttr,
        from: String,
        to: String,
    },
}

impl DeviceChange {
    pub fn id(&self) -> &DeviceId {
        match self {
            DeviceChange::Added { id, .. }
            | DeviceChange::Removed { id, .. }
            | DeviceChange::Changed { id, .. } => id,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DomainDiff {
    pub fields: Vec<FieldChange>,
    pub devices: Vec<DeviceChange>,
}

impl DomainDiff {
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty() && self.devices.is_empty()
    }

    pub fn field(&self, f: Field) -> Option<&FieldChange> {
        self.fields.iter().find(|c| c.field == f)
    }
}

/// What the diff needs besides the manifest and the facts.
pub struct DiffContext<'a> {
    pub caps: &'a Capabilities,
    pub running: bool,
    /// How far up libvirt may have rounded memory in the XML compared: 1
    /// for the persistent config, 1024 for the live XML of a running
    /// transient domain (QEMU runs whole MiB).
    pub mem_align_kib: u64,
    /// The driver type of a volume, when known (see [`DomainContext`]).
    pub volume_format: &'a dyn Fn(&str, &str) -> Option<String>,
    /// The running guest's own maximums (memory, vCPUs) when its config
    /// changed since it booted: a live resize is bounded by what the guest
    /// booted with, not by a raised maximum waiting for the next boot.
    pub live_max: Option<(Kib, u32)>,
}

/// Field-by-field and device-by-device differences of what the manifest
/// sets, after normalising both sides the way libvirt does.
pub fn domain_diff(d: &Domain, have: &DomainFacts, cx: &DiffContext) -> DomainDiff {
    let mut fields = Vec::new();
    field_changes(d, have, cx, &mut fields);
    let mut devices = Vec::new();
    if let Some(disks) = &d.disks {
        disk_changes(disks, &have.disks, cx, &mut devices);
    }
    if let Some(nics) = &d.interfaces {
        let seed = format!("{}/{}", have.uuid, d.meta.name);
        nic_changes(nics, &have.interfaces, &seed, &mut devices);
    }
    DomainDiff { fields, devices }
}

fn field_changes(d: &Domain, have: &DomainFacts, cx: &DiffContext, out: &mut Vec<FieldChange>) {
    let caps = cx.caps;
    let running = cx.running;
    let align = cx.mem_align_kib;
    let same_mem = |have: Kib, want: Kib| have >= want && have.0 <= want.0.div_ceil(align) * align;
    let mut diff = |field: Field, from: String, to: String, live: bool| {
        if from != to {
            out.push(FieldChange {
                field,
                from,
                to,
                live,
            });
        }
    };
    let arch = d
        .arch
        .clone()
        .or_else(|| have.arch.clone())
        .unwrap_or_else(|| caps.default_arch());
    if let Some(t) = d.domain_type {
        diff(
            Field::Type,
            have.domain_type.clone(),
            t.as_str().into(),
            false,
        );
    }
    if let Some(a) = &d.arch {
        diff(
            Field::Arch,
            have.arch.clone().unwrap_or_default(),
            a.clone(),
            false,
        );
    }
    if let Some(m) = &d.machine {
        let want = caps.canonical_machine(&arch, m);
        let got = have
            .machine
            .as_deref()
            .map(|h| caps.canonical_machine(&arch, h))
            .unwrap_or_default();
        if want != got {
            diff(
                Field::Machine,
                have.machine.clone().unwrap_or_default(),
                m.clone(),
                false,
            );
        }
    }
    if let Some(f) = d.firmware {
        let show = |uefi: bool| if uefi { "uefi" } else { "bios" }.to_string();
        diff(
            Field::Firmware,
            show(have.uefi),
            show(f == Firmware::Uefi),
            false,
        );
    }
    if d.firmware == Some(Firmware::Uefi) {
        if let Some(s) = d.secure_boot {
            diff(
                Field::SecureBoot,
                have.secure_boot.unwrap_or(false).to_string(),
                s.to_string(),
                false,
            );
        }
    }
    // Memory: the balloon (currentMemory) moves live within the ceiling.
    let max_mem = target_max_memory(d, Some(have.max_memory_kib));
    if !same_mem(have.max_memory_kib, max_mem) {
        diff(
            Field::MaxMemory,
            have.max_memory_kib.to_string(),
            max_mem.to_string(),
            false,
        );
    }
    let (live_max_mem, live_max_vcpus) =
        cx.live_max.unwrap_or((have.max_memory_kib, have.max_vcpus));
    let mem = d.memory.to_kib();
    if !same_mem(have.memory_kib, mem) {
        diff(
            Field::Memory,
            have.memory_kib.to_string(),
            mem.to_string(),
            running && mem <= live_max_mem,
        );
    }
    let max_vcpus = target_max_vcpus(d, Some(have.max_vcpus));
    diff(
        Field::MaxVcpus,
        have.max_vcpus.to_string(),
        max_vcpus.to_string(),
        false,
    );
    // vCPU hot-add works without the guest; removal needs its help.
    diff(
        Field::Vcpus,
        have.vcpus.to_string(),
        d.vcpus.to_string(),
        running && d.vcpus > have.vcpus && d.vcpus <= live_max_vcpus,
    );
    if let Some(c) = &d.cpu {
        diff(
            Field::CpuMode,
            have.cpu_mode.clone().unwrap_or_default(),
            c.mode.as_str().into(),
            false,
        );
        if c.mode == CpuMode::Custom {
            diff(
                Field::CpuModel,
                have.cpu_model.clone().unwrap_or_default(),
                c.model.clone().unwrap_or_default(),
                false,
            );
        }
    }
    if let Some(b) = &d.boot {
        let want: Vec<&str> = b.iter().map(|x| x.as_str()).collect();
        diff(Field::Boot, have.boot.join(","), want.join(","), false);
    }
    if let Some(g) = &d.graphics {
        let have_g: Vec<String> = have
            .graphics
            .iter()
            .map(|(t, l)| graphics_summary(t, l.as_deref()))
            .collect();
        let want = match g.kind {
            GraphicsType::None => String::new(),
            k => {
                // An unset listen leaves libvirt's choice alone.
                let listen = g.listen.clone().or_else(|| {
                    have.graphics
                        .iter()
                        .find(|(t, _)| t == k.as_str())
                        .and_then(|(_, l)| l.clone())
                });
                graphics_summary(k.as_str(), listen.as_deref())
            }
        };
        diff(Field::Graphics, have_g.join(","), want, false);
    }
    if let Some(c) = d.console {
        let want = match c {
            Console::Pty => "pty",
            Console::None => "none",
        };
        diff(
            Field::Console,
            have.console.clone().unwrap_or_else(|| "none".into()),
            want.into(),
            false,
        );
    }
}

fn graphics_summary(t: &str, listen: Option<&str>) -> String {
    match listen {
        Some(l) => format!("{t} {l}"),
        None => t.to_string(),
    }
}

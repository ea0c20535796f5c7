//! Domain XML written: a new domain from the manifest alone, an existing
//! one patched over its observed XML at the granularity of a field.
//!
//! A patch touches only what a [`DomainDiff`] names, and within it only
//! what virtsync models: `<memory dumpCore='on'>` keeps its attribute, a
//! block disk whose format changes stays a block disk with every child of
//! its `<source>`, a NIC keeps its portgroup, graphics keep their other
//! `<listen>` elements, a custom CPU keeps its features. A field the
//! manifest names with the value it has leaves its XML untouched.
//!
//! The exceptions are the fields libvirt derives other parts of the XML
//! from — the machine family, the firmware, the arch: their change also
//! drops what was derived from the old value ([`super::derived`]).

use super::derived::{forget_emulator, forget_firmware, forget_firmware_selection, forget_machine};
use super::devices::{new_disk, new_nic, patch_devices};
use super::diff::*;
use super::read::{read_domain, read_graphics};
use super::*;
use crate::xml::{Element, Node};

/// Render `d` as libvirt XML: from nothing for a new domain, or over
/// `base` (the observed inactive XML) changing what `diff` names.
pub fn render_domain(
    d: &Domain,
    base: Option<(&Element, &DomainDiff)>,
    cx: &DomainContext,
) -> Result<Element, String> {
    let mut root = match base {
        None => create(d, cx)?,
        Some((root, diff)) => patch(d, root, diff, cx)?,
    };
    super::super::apply_patches(&mut root, &d.xml)?;
    super::super::write_marker(&mut root, cx.marker);
    Ok(root)
}

// ------------------------------------------------------------------ create

fn create(d: &Domain, cx: &DomainContext) -> Result<Element, String> {
    let mut root = Element::new("domain");
    let arch = d.arch.clone().unwrap_or_else(|| cx.caps.default_arch());
    match d.domain_type {
        Some(t) => root.set_attr("type", t.as_str()),
        None => root.set_attr("type", cx.caps.default_domain_type(&arch)),
    }
    root.ensure_child("name").set_text(d.meta.name.clone());
    if let Some(u) = &d.uuid {
        root.ensure_child("uuid").set_text(u.clone());
    }
    let max_mem = target_max_memory(d, None);
    set_memory(&mut root, "memory", max_mem);
    set_memory(&mut root, "currentMemory", d.memory.to_kib());
    root.ensure_child("vcpu").set_attr("placement", "static");
    set_vcpus(&mut root, d.vcpus, target_max_vcpus(d, None));
    {
        let os = root.ensure_child("os");
        let ty = os.ensure_child("type");
        ty.set_text("hvm");
        ty.set_attr("arch", arch.clone());
        if let Some(m) = &d.machine {
            ty.set_attr("machine", m.clone());
        }
    }
    if d.firmware == Some(Firmware::Uefi) {
        set_firmware(&mut root, true, d.secure_boot.unwrap_or(false));
    }
    if let Some(boot) = &d.boot {
        set_boot(&mut root, boot);
    }
    // ACPI is what graceful shutdown talks to; UEFI needs it too.
    let f = root.ensure_child("features");
    f.ensure_child("acpi");
    f.ensure_child("apic");
    if d.firmware == Some(Firmware::Uefi) && d.secure_boot == Some(true) {
        f.ensure_child("smm").set_attr("state", "on");
    }
    if let Some(cpu) = &d.cpu {
        set_cpu_mode(&mut root, cpu);
    }
    let devices = root.ensure_child("devices");
    let mut taken: Vec<String> = d
        .disks
        .iter()
        .flatten()
        .filter_map(|x| x.target.clone())
        .collect();
    for disk in d.disks.iter().flatten() {
        let bus = desired_bus(disk);
        let target = disk
            .target
            .clone()
            .unwrap_or_else(|| free_target(bus, &taken));
        taken.push(target.clone());
        devices
            .children
            .push(Node::Element(new_disk(disk, bus, &target, cx)?));
    }
    for nic in d.interfaces.iter().flatten() {
        devices.children.push(Node::Element(new_nic(nic, None)));
    }
    if let Some(g) = &d.graphics {
        set_graphics(devices, g);
    }
    if let Some(c) = d.console {
        set_console(devices, c);
    }
    Ok(root)
}

// ------------------------------------------------------------------ patch

fn patch(
    d: &Domain,
    base: &Element,
    diff: &DomainDiff,
    cx: &DomainContext,
) -> Result<Element, String> {
    let mut root = base.clone();
    let facts = read_domain(base);
    let arch = d
        .arch
        .clone()
        .or_else(|| facts.arch.clone())
        .unwrap_or_else(|| cx.caps.default_arch());
    for c in &diff.fields {
        match c.field {
            Field::Type => {
                if let Some(t) = d.domain_type {
                    root.set_attr("type", t.as_str());
                }
            }
            Field::Arch => {
                root.ensure_child("os")
                    .ensure_child("type")
                    .set_attr("arch", arch.clone());
            }
            Field::Machine => {
                if let Some(m) = &d.machine {
                    root.ensure_child("os")
                        .ensure_child("type")
                        .set_attr("machine", m.clone());
                }
            }
            Field::Firmware | Field::SecureBoot => {
                let uefi = d.firmware == Some(Firmware::Uefi);
                forget_firmware(&mut root, uefi && facts.uefi);
                if uefi {
                    set_firmware(&mut root, true, d.secure_boot.unwrap_or(false));
                    root.ensure_child("features").ensure_child("acpi");
                    if d.secure_boot == Some(true) {
                        root.ensure_child("features")
                            .ensure_child("smm")
                            .set_attr("state", "on");
                    }
                } else {
                    set_firmware(&mut root, false, false);
                }
            }
            Field::MaxMemory => {
                let max = target_max_memory(d, Some(facts.max_memory_kib));
                set_memory(&mut root, "memory", max);
            }
            Field::Memory => set_memory(&mut root, "currentMemory", d.memory.to_kib()),
            Field::MaxVcpus | Field::Vcpus => {
                set_vcpus(
                    &mut root,
                    d.vcpus,
                    target_max_vcpus(d, Some(facts.max_vcpus)),
                );
            }
            Field::CpuMode | Field::CpuModel => {
                if let Some(cpu) = &d.cpu {
                    set_cpu_mode(&mut root, cpu);
                }
            }
            Field::Boot => {
                if let Some(b) = &d.boot {
                    set_boot(&mut root, b);
                }
            }
            Field::Graphics => {
                if let Some(g) = &d.graphics {
                    set_graphics(root.ensure_child("devices"), g);
                }
            }
            Field::Console => {
                if let Some(c) = d.console {
                    set_console(root.ensure_child("devices"), c);
                }
            }
        }
    }
    if !diff.devices.is_empty() {
        patch_devices(d, &mut root, diff, cx)?;
    }
    // Last, so that it also sees the devices just added or changed.
    let arch_change = diff.field(Field::Arch).is_some();
    if let Some(old) = machine_family_change(d, &facts, &arch, diff, cx.caps) {
        forget_machine(&mut root, &old);
        forget_firmware_selection(&mut root);
    }
    if arch_change {
        forget_emulator(&mut root);
    }
    Ok(root)
}

/// The machine family the domain leaves, if this patch makes it leave one:
/// a `machine` change to another family (versions of one family share what
/// libvirt derives, and keep their PCI addresses), or any `arch` change
/// (libvirt derived the old parts for the old arch's machine).
fn machine_family_change(
    d: &Domain,
    facts: &DomainFacts,
    arch: &str,
    diff: &DomainDiff,
    caps: &Capabilities,
) -> Option<MachineFamily> {
    let old_arch = facts.arch.as_deref().unwrap_or(arch);
    let old = facts
        .machine
        .as_deref()
        .map(|m| caps.machine_family(old_arch, m));
    let new = d.machine.as_deref().map(|m| caps.machine_family(arch, m));
    let family_change = diff.field(Field::Machine).is_some() && old != new;
    if !(family_change || diff.field(Field::Arch).is_some()) {
        return None;
    }
    // A stored domain always has a machine; without one, the family
    // libvirt would have used is unknown, and the PCI topology goes all
    // the same.
    Some(old.unwrap_or(MachineFamily::Other(String::new())))
}

// ------------------------------------------------------------------ fields

/// Set a memory element's value in KiB; its other attributes stay.
fn set_memory(root: &mut Element, name: &str, kib: Kib) {
    let e = match root.child_mut(name) {
        Some(e) => e,
        None => {
            // currentMemory right after memory, as libvirt writes it.
            let at = root
                .children
                .iter()
                .position(|n| matches!(n, Node::Element(e) if e.name == "memory"))
                .map(|k| k + 1)
                .unwrap_or(root.children.len());
            root.children.insert(at, Node::Element(Element::new(name)));
            root.child_mut(name).expect("just inserted")
        }
    };
    e.set_attr("unit", "KiB");
    e.set_text(kib.0.to_string());
}

/// `<vcpu current=N>MAX</vcpu>`; placement, cpuset and the like stay. The
/// per-vCPU list `<vcpus>` (which are online, their hotplug order) goes:
/// libvirt counts the online vCPUs from it over `current`, and derives it
/// anew from the count.
fn set_vcpus(root: &mut Element, vcpus: u32, max: u32) {
    root.children
        .retain(|n| !matches!(n, crate::xml::Node::Element(e) if e.name == "vcpus"));
    let v = root.ensure_child("vcpu");
    v.set_text(max.to_string());
    if vcpus < max {
        v.set_attr("current", vcpus.to_string());
    } else {
        v.remove_attr("current");
    }
}

fn set_firmware(root: &mut Element, uefi: bool, secure: bool) {
    let os = root.ensure_child("os");
    if uefi {
        os.set_attr("firmware", "efi");
        let fw = os.ensure_child("firmware");
        let yn = if secure { "yes" } else { "no" };
        for name in ["enrolled-keys", "secure-boot"] {
            fw.children.retain(|n| !matches!(n, Node::Element(f) if f.name == "feature" && f.attr("name") == Some(name)));
            fw.children.push(Node::Element(
                Element::new("feature")
                    .with_attr("enabled", yn)
                    .with_attr("name", name),
            ));
        }
    } else {
        // The loader and NVRAM went with the firmware change
        // (`forget_firmware`).
        os.remove_attr("firmware");
        os.remove_children("firmware");
    }
}

/// `<os><boot dev>` in the manifest's order, where the old ones stood.
fn set_boot(root: &mut Element, boot: &[BootDevice]) {
    let os = root.ensure_child("os");
    let at = os
        .children
        .iter()
        .position(|n| matches!(n, Node::Element(e) if e.name == "boot"));
    os.remove_children("boot");
    let at = at.unwrap_or_else(|| {
        // After <type>, <loader>, <nvram>, as libvirt writes them.
        os.children
            .iter()
            .rposition(|n| matches!(n, Node::Element(e) if ["type", "loader", "nvram", "firmware"].contains(&e.name.as_str())))
            .map(|k| k + 1)
            .unwrap_or(os.children.len())
    });
    for (k, b) in boot.iter().enumerate() {
        os.children.insert(
            at + k,
            Node::Element(Element::new("boot").with_attr("dev", b.as_str())),
        );
    }
}

/// The CPU mode (and model for custom). A mode change drops what belongs
/// to the old mode only (the model, `match`, `check`); features, topology,
/// NUMA cells and cache stay.
fn set_cpu_mode(root: &mut Element, cpu: &Cpu) {
    let c = root.ensure_child("cpu");
    let was = c.attr("mode").map(str::to_string);
    let mode = cpu.mode.as_str();
    if was.as_deref() != Some(mode) {
        c.set_attr("mode", mode);
    }
    // No `mode` attribute means custom to libvirt.
    if was.as_deref().unwrap_or("custom") != mode {
        c.remove_attr("match");
        c.remove_attr("check");
        if cpu.mode != CpuMode::Custom {
            c.remove_children("model");
        }
    }
    if let (Some(m), CpuMode::Custom) = (&cpu.model, cpu.mode) {
        if c.attr("match").is_none() {
            c.set_attr("match", "exact");
        }
        let model = match c.child_mut("model") {
            Some(x) => x,
            None => {
                c.children.insert(0, Node::Element(Element::new("model")));
                c.child_mut("model").expect("just inserted")
            }
        };
        model.set_text(m.clone());
    }
}

fn set_graphics(devices: &mut Element, g: &Graphics) {
    let kind = g.kind.as_str();
    if g.kind == GraphicsType::None {
        devices.remove_children("graphics");
        return;
    }
    // Other graphics types go: the manifest names the one it wants.
    devices.children.retain(
        |n| !matches!(n, Node::Element(e) if e.name == "graphics" && e.attr("type") != Some(kind)),
    );
    if devices.child("graphics").is_none() {
        devices.children.push(Node::Element(
            Element::new("graphics")
                .with_attr("type", kind)
                .with_attr("autoport", "yes"),
        ));
    }
    let e = devices.child_mut("graphics").expect("ensured");
    // An unset listen leaves libvirt's (or the operator's) choice.
    let Some(l) = &g.listen else { return };
    if read_graphics(e).1.as_deref() == Some(l.as_str()) {
        return;
    }
    if e.attr("listen").is_some() || e.child("listen").is_none() {
        e.set_attr("listen", l.clone());
    }
    // The first address listener carries the address; other listeners
    // (a socket, a network) stay.
    let first = e.children.iter().position(|n| {
        matches!(n, Node::Element(x) if x.name == "listen" && x.attr("type").unwrap_or("address") == "address")
    });
    match first {
        Some(k) => {
            if let Node::Element(x) = &mut e.children[k] {
                x.set_attr("address", l.clone());
                x.remove_attr("network");
            }
        }
        None => e.children.push(Node::Element(
            Element::new("listen")
                .with_attr("type", "address")
                .with_attr("address", l.clone()),
        )),
    }
}

fn set_console(devices: &mut Element, c: Console) {
    match c {
        Console::Pty
            if !devices
                .children_named("console")
                .any(|c| c.attr("type") == Some("pty")) =>
        {
            devices.remove_children("console");
            if !devices
                .children_named("serial")
                .any(|c| c.attr("type") == Some("pty"))
            {
                devices.children.push(Node::Element(
                    Element::new("serial")
                        .with_attr("type", "pty")
                        .with_child(Element::new("target").with_attr("port", "0")),
                ));
            }
            devices.children.push(Node::Element(
                Element::new("console").with_attr("type", "pty").with_child(
                    Element::new("target")
                        .with_attr("type", "serial")
                        .with_attr("port", "0"),
                ),
            ));
        }
        Console::None => {
            devices.remove_children("console");
            devices.children.retain(|n| !matches!(n, Node::Element(e) if e.name == "serial" && e.attr("type") == Some("pty")));
        }
        Console::Pty => {}
    }
}

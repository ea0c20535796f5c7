//! Domains: write a [`Domain`] into libvirt domain XML, and read libvirt's
//! XML back into [`DomainFacts`] normalised the way the planner compares.

use super::Marker;
use crate::model::*;
use crate::units::kib;
use crate::xml::{Element, Node};

/// What rendering a domain needs besides the domain itself.
pub struct DomainContext<'a> {
    pub caps: &'a Capabilities,
    /// The format of a volume a disk names (from its manifest or the host).
    /// The QEMU driver type (`qcow2`, `raw`, ...) of the volume a disk
    /// names, from its manifest or the host; `None` when neither knows.
    pub volume_format: &'a dyn Fn(&str, &str) -> Option<String>,
    pub marker: &'a Marker,
}

/// A domain's XML as the planner compares it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DomainFacts {
    pub domain_type: String,
    pub uuid: String,
    pub arch: Option<String>,
    pub machine: Option<String>,
    pub uefi: bool,
    pub secure_boot: Option<bool>,
    pub memory_kib: u64,
    pub max_memory_kib: u64,
    pub vcpus: u32,
    pub max_vcpus: u32,
    pub cpu_mode: Option<String>,
    pub cpu_model: Option<String>,
    pub boot: Vec<String>,
    pub disks: Vec<DiskFacts>,
    pub interfaces: Vec<NicFacts>,
    /// Graphics types with their listen address.
    pub graphics: Vec<(String, Option<String>)>,
    pub console: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DiskFacts {
    /// `volume POOL/NAME`, `path /x` or `empty`.
    pub source: String,
    pub device: String,
    pub bus: Option<String>,
    pub target: Option<String>,
    pub readonly: bool,
    pub format: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NicFacts {
    /// `network NAME` or `bridge NAME` (other types as `TYPE`).
    pub source: String,
    pub mac: Option<String>,
    pub model: Option<String>,
    pub boot_rom: Option<bool>,
}

pub fn read_domain(root: &Element) -> DomainFacts {
    let os_type = root.find(&["os", "type"]);
    let memory = root
        .child("memory")
        .and_then(super::scaled_bytes)
        .map(kib)
        .unwrap_or(0);
    let current = root
        .child("currentMemory")
        .and_then(super::scaled_bytes)
        .map(kib)
        .unwrap_or(memory);
    let vcpu = root.child("vcpu");
    let max_vcpus: u32 = vcpu.and_then(|v| v.text().parse().ok()).unwrap_or(1);
    let vcpus = vcpu
        .and_then(|v| v.attr("current"))
        .and_then(|c| c.parse().ok())
        .unwrap_or(max_vcpus);
    let os = root.child("os");
    let uefi = os.is_some_and(|o| {
        o.attr("firmware") == Some("efi")
            || o.child("loader")
                .is_some_and(|l| l.attr("type") == Some("pflash"))
    });
    let secure_boot = os.and_then(|o| {
        o.find(&["firmware"])
            .and_then(|f| {
                f.children_named("feature")
                    .find(|x| x.attr("name") == Some("secure-boot"))
            })
            .map(|x| x.attr("enabled") == Some("yes"))
            .or_else(|| {
                o.child("loader")
                    .and_then(|l| l.attr("secure"))
                    .map(|s| s == "yes")
            })
    });
    let cpu = root.child("cpu");
    let devices = root.child("devices");
    let devs = |name: &'static str| {
        devices
            .into_iter()
            .flat_map(move |d| d.children_named(name))
    };
    DomainFacts {
        domain_type: root.attr("type").unwrap_or_default().to_string(),
        uuid: root
            .child("uuid")
            .map(|u| u.text().to_ascii_lowercase())
            .unwrap_or_default(),
        arch: os_type.and_then(|t| t.attr("arch")).map(str::to_string),
        machine: os_type.and_then(|t| t.attr("machine")).map(str::to_string),
        uefi,
        secure_boot,
        memory_kib: current,
        max_memory_kib: memory,
        vcpus,
        max_vcpus,
        cpu_mode: cpu.map(|c| c.attr("mode").unwrap_or("custom").to_string()),
        cpu_model: cpu.and_then(|c| c.child("model")).map(|m| m.text()),
        boot: os
            .into_iter()
            .flat_map(|o| o.children_named("boot"))
            .filter_map(|b| b.attr("dev").map(str::to_string))
            .collect(),
        disks: devs("disk").map(read_disk).collect(),
        interfaces: devs("interface").map(read_nic).collect(),
        graphics: devs("graphics")
            .map(|g| {
                let listen = g.attr("listen").map(str::to_string).or_else(|| {
                    g.child("listen")
                        .and_then(|l| l.attr("address"))
                        .map(str::to_string)
                });
                (g.attr("type").unwrap_or_default().to_string(), listen)
            })
            .collect(),
        console: devs("console")
            .next()
            .map(|c| c.attr("type").unwrap_or_default().to_string()),
    }
}

fn read_disk(d: &Element) -> DiskFacts {
    let src = d.child("source");
    let source = match (d.attr("type"), src) {
        (Some("volume"), Some(s)) => format!(
            "volume {}/{}",
            s.attr("pool").unwrap_or_default(),
            s.attr("volume").unwrap_or_default()
        ),
        (_, Some(s)) if s.attr("file").is_some() => {
            format!("path {}", s.attr("file").unwrap_or_default())
        }
        (_, Some(s)) if s.attr("dev").is_some() => {
            format!("path {}", s.attr("dev").unwrap_or_default())
        }
        _ => "empty".into(),
    };
    let target = d.child("target");
    DiskFacts {
        source,
        device: d.attr("device").unwrap_or("disk").to_string(),
        bus: target.and_then(|t| t.attr("bus")).map(str::to_string),
        target: target.and_then(|t| t.attr("dev")).map(str::to_string),
        readonly: d.child("readonly").is_some(),
        format: d
            .child("driver")
            .and_then(|x| x.attr("type"))
            .map(str::to_string),
    }
}

fn read_nic(n: &Element) -> NicFacts {
    let ty = n.attr("type").unwrap_or_default();
    let src = n.child("source");
    let source = match ty {
        "network" => format!(
            "network {}",
            src.and_then(|s| s.attr("network")).unwrap_or_default()
        ),
        "bridge" => format!(
            "bridge {}",
            src.and_then(|s| s.attr("bridge")).unwrap_or_default()
        ),
        other => other.to_string(),
    };
    NicFacts {
        source,
        mac: n
            .child("mac")
            .and_then(|m| m.attr("address"))
            .map(|m| m.to_ascii_lowercase()),
        model: n
            .child("model")
            .and_then(|m| m.attr("type"))
            .map(str::to_string),
        boot_rom: n
            .child("rom")
            .and_then(|r| r.attr("enabled"))
            .map(|e| e != "no"),
    }
}

// ---------------------------------------------------------------- desired side

/// How the manifest's disk reads in [`DiskFacts::source`] terms.
pub fn disk_source_text(d: &Disk) -> String {
    match &d.source {
        DiskSource::Volume { pool, name } => format!("volume {pool}/{name}"),
        DiskSource::Path { path, .. } => format!("path {path}"),
        DiskSource::Empty => "empty".into(),
    }
}

pub fn nic_source_text(n: &Interface) -> String {
    match &n.source {
        InterfaceSource::Network(x) => format!("network {x}"),
        InterfaceSource::Bridge(x) => format!("bridge {x}"),
    }
}

pub fn device_str(d: DiskDevice) -> &'static str {
    match d {
        DiskDevice::Disk => "disk",
        DiskDevice::Cdrom => "cdrom",
    }
}

pub fn bus_str(b: DiskBus) -> &'static str {
    match b {
        DiskBus::Virtio => "virtio",
        DiskBus::Sata => "sata",
        DiskBus::Scsi => "scsi",
        DiskBus::Ide => "ide",
    }
}

fn bus_of_target(t: &str) -> DiskBus {
    if t.starts_with("vd") {
        DiskBus::Virtio
    } else if t.starts_with("hd") {
        DiskBus::Ide
    } else {
        DiskBus::Sata
    }
}

pub fn boot_str(b: BootDevice) -> &'static str {
    match b {
        BootDevice::Hd => "hd",
        BootDevice::Cdrom => "cdrom",
        BootDevice::Network => "network",
        BootDevice::Fd => "fd",
    }
}

pub fn graphics_str(g: GraphicsType) -> &'static str {
    match g {
        GraphicsType::None => "none",
        GraphicsType::Vnc => "vnc",
        GraphicsType::Spice => "spice",
    }
}

pub fn cpu_mode_str(m: CpuMode) -> &'static str {
    match m {
        CpuMode::HostPassthrough => "host-passthrough",
        CpuMode::HostModel => "host-model",
        CpuMode::Custom => "custom",
    }
}

/// Observed disks matched to the manifest's: by target when the manifest
/// gives one, else by position. `None` where a disk is new.
///
/// libvirt keeps disks sorted by bus and target, not in the order they
/// were defined, so "position" is the target a disk gets from its place in
/// the list when virtsync creates the domain (the first free `vd*` for
/// the first virtio disk, ...). A disk whose positional target is not on
/// the host (a domain made by another tool, a bus libvirt chose) is
/// matched by its source, and failing that by its index.
pub fn match_disks(want: &[Disk], have: &[DiskFacts]) -> Vec<Option<usize>> {
    let mut used = vec![false; have.len()];
    let mut out = vec![None; want.len()];
    for (i, d) in want.iter().enumerate() {
        if let Some(t) = &d.target {
            if let Some(j) = have.iter().position(|h| h.target.as_deref() == Some(t)) {
                used[j] = true;
                out[i] = Some(j);
            }
        }
    }
    // The targets rendering assigns at creation, in list order.
    let mut taken: Vec<String> = want.iter().filter_map(|x| x.target.clone()).collect();
    for (i, d) in want.iter().enumerate() {
        if d.target.is_some() {
            continue;
        }
        let bus = d.bus.unwrap_or(if d.device == DiskDevice::Cdrom {
            DiskBus::Sata
        } else {
            DiskBus::Virtio
        });
        let t = free_target(bus, &taken);
        if let Some(j) = (0..have.len()).find(|&j| !used[j] && have[j].target.as_ref() == Some(&t))
        {
            used[j] = true;
            out[i] = Some(j);
        }
        taken.push(t);
    }
    for (i, d) in want.iter().enumerate() {
        if out[i].is_some() || d.target.is_some() {
            continue;
        }
        let src = disk_source_text(d);
        let dev = device_str(d.device);
        if let Some(j) =
            (0..have.len()).find(|&j| !used[j] && have[j].source == src && have[j].device == dev)
        {
            used[j] = true;
            out[i] = Some(j);
        }
    }
    for (i, d) in want.iter().enumerate() {
        if out[i].is_none() && d.target.is_none() && i < have.len() && !used[i] {
            used[i] = true;
            out[i] = Some(i);
        }
    }
    out
}

/// Observed interfaces matched to the manifest's: by MAC when given, else
/// by position.
pub fn match_nics(want: &[Interface], have: &[NicFacts]) -> Vec<Option<usize>> {
    let mut used = vec![false; have.len()];
    let mut out = vec![None; want.len()];
    for (i, n) in want.iter().enumerate() {
        if let Some(m) = &n.mac {
            if let Some(j) = have.iter().position(|h| h.mac.as_deref() == Some(m)) {
                used[j] = true;
                out[i] = Some(j);
            }
        }
    }
    // Without a MAC: the observed NIC on the same network or bridge (at the
    // same position if it is there), so removing one NIC does not hand its
    // MAC (and DHCP reservation) to the next; then the one at the same
    // position (a NIC moved to another network).
    for (i, n) in want.iter().enumerate() {
        if n.mac.is_some() {
            continue;
        }
        let src = nic_source_text(n);
        let same = |j: usize| !used[j] && have[j].source == src;
        let j = (i < have.len() && same(i))
            .then_some(i)
            .or_else(|| (0..have.len()).find(|&j| same(j)));
        if let Some(j) = j {
            used[j] = true;
            out[i] = Some(j);
        }
    }
    for (i, n) in want.iter().enumerate() {
        if n.mac.is_none() && out[i].is_none() && i < have.len() && !used[i] {
            used[i] = true;
            out[i] = Some(i);
        }
    }
    out
}

#[cfg(test)]
mod nic_tests {
    use super::*;

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
            source: format!("network {net}"),
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
    }
}

/// The effective `<memory>` (KiB) after applying `d` over `observed_max`.
pub fn target_max_memory(d: &Domain, observed_max: Option<u64>) -> u64 {
    let mem = kib(d.memory);
    match (d.max_memory, observed_max) {
        (Some(m), _) => kib(m),
        (None, Some(o)) => o.max(mem),
        (None, None) => mem,
    }
}

pub fn target_max_vcpus(d: &Domain, observed_max: Option<u32>) -> u32 {
    match (d.max_vcpus, observed_max) {
        (Some(m), _) => m,
        (None, Some(o)) => o.max(d.vcpus),
        (None, None) => d.vcpus,
    }
}

/// Render `d` as libvirt XML: over `base` (the observed inactive XML) for
/// an update, from nothing for a new domain.
pub fn render_domain(
    d: &Domain,
    base: Option<&Element>,
    cx: &DomainContext,
) -> Result<Element, String> {
    let creating = base.is_none();
    let mut root = base.cloned().unwrap_or_else(|| Element::new("domain"));
    let facts = base.map(read_domain);
    let arch = d
        .arch
        .clone()
        .or_else(|| facts.as_ref().and_then(|f| f.arch.clone()))
        .unwrap_or_else(|| cx.caps.default_arch());
    // type
    match (d.domain_type, creating) {
        (Some(t), _) => root.set_attr("type", t.as_str()),
        (None, true) => root.set_attr("type", cx.caps.default_domain_type(&arch)),
        (None, false) => {}
    }
    if creating {
        root.ensure_child("name").set_text(d.meta.name.clone());
    }
    if let Some(u) = &d.uuid {
        root.ensure_child("uuid").set_text(u.clone());
    }
    // memory
    let max_mem = target_max_memory(d, facts.as_ref().map(|f| f.max_memory_kib));
    root.replace_child(
        Element::new("memory")
            .with_attr("unit", "KiB")
            .with_text(max_mem.to_string()),
    );
    root.replace_child(
        Element::new("currentMemory")
            .with_attr("unit", "KiB")
            .with_text(kib(d.memory).to_string()),
    );
    // vcpus
    let max_vcpus = target_max_vcpus(d, facts.as_ref().map(|f| f.max_vcpus));
    let vcpu = root.ensure_child("vcpu");
    if creating {
        vcpu.set_attr("placement", "static");
    }
    vcpu.set_text(max_vcpus.to_string());
    if d.vcpus < max_vcpus {
        vcpu.set_attr("current", d.vcpus.to_string());
    } else {
        vcpu.remove_attr("current");
    }
    // os
    {
        let os = root.ensure_child("os");
        let ty = os.ensure_child("type");
        if creating {
            ty.set_text("hvm");
            ty.set_attr("arch", arch.clone());
        } else if let Some(a) = &d.arch {
            ty.set_attr("arch", a.clone());
        }
        if let Some(m) = &d.machine {
            let want = cx.caps.canonical_machine(&arch, m);
            let have = ty
                .attr("machine")
                .map(|h| cx.caps.canonical_machine(&arch, h));
            // Re-writing an alias would silently move an existing guest to
            // the newest machine version: only write on a real difference.
            if have.as_deref() != Some(want.as_str()) {
                ty.set_attr("machine", m.clone());
            }
        }
        match d.firmware {
            Some(Firmware::Uefi) => {
                os.set_attr("firmware", "efi");
                let secure = d.secure_boot.unwrap_or(false);
                let fw = os.ensure_child("firmware");
                fw.remove_children("feature");
                let yn = if secure { "yes" } else { "no" };
                fw.children.push(Node::Element(
                    Element::new("feature")
                        .with_attr("enabled", yn)
                        .with_attr("name", "enrolled-keys"),
                ));
                fw.children.push(Node::Element(
                    Element::new("feature")
                        .with_attr("enabled", yn)
                        .with_attr("name", "secure-boot"),
                ));
            }
            Some(Firmware::Bios) => {
                os.remove_attr("firmware");
                os.remove_children("firmware");
                os.remove_children("loader");
                os.remove_children("nvram");
            }
            None => {}
        }
        if let Some(boot) = &d.boot {
            os.remove_children("boot");
            for b in boot {
                os.children.push(Node::Element(
                    Element::new("boot").with_attr("dev", boot_str(*b)),
                ));
            }
        }
    }
    if creating || d.firmware == Some(Firmware::Uefi) {
        // ACPI is what graceful shutdown talks to; UEFI needs it too.
        let f = root.ensure_child("features");
        f.ensure_child("acpi");
        if creating {
            f.ensure_child("apic");
        }
    }
    if d.firmware == Some(Firmware::Uefi) && d.secure_boot == Some(true) {
        root.ensure_child("features")
            .ensure_child("smm")
            .set_attr("state", "on");
    }
    if let Some(cpu) = &d.cpu {
        let c = root.ensure_child("cpu");
        c.set_attr("mode", cpu_mode_str(cpu.mode));
        match (&cpu.model, cpu.mode) {
            (Some(m), CpuMode::Custom) => {
                c.set_attr("match", "exact");
                c.ensure_child("model").set_text(m.clone());
            }
            _ => {
                c.remove_attr("match");
                c.remove_attr("check");
                c.remove_children("model");
                c.remove_children("feature");
            }
        }
    }
    // devices
    {
        let old_devices = root.child("devices").cloned();
        let have = facts.as_ref().map(|f| f.disks.clone()).unwrap_or_default();
        let old_disk_elems: Vec<Element> = old_devices
            .iter()
            .flat_map(|d| d.children_named("disk").cloned())
            .collect();
        let have_nics = facts
            .as_ref()
            .map(|f| f.interfaces.clone())
            .unwrap_or_default();
        let old_nic_elems: Vec<Element> = old_devices
            .iter()
            .flat_map(|d| d.children_named("interface").cloned())
            .collect();
        let devices = root.ensure_child("devices");
        if let Some(disks) = &d.disks {
            let matched = match_disks(disks, &have);
            let mut taken: Vec<String> = disks.iter().filter_map(|x| x.target.clone()).collect();
            // Targets matched disks keep are not free for new ones.
            taken.extend(
                matched
                    .iter()
                    .flatten()
                    .filter_map(|&j| have[j].target.clone()),
            );
            let mut new_elems = Vec::new();
            for (i, disk) in disks.iter().enumerate() {
                let old = matched[i].map(|j| (&old_disk_elems[j], &have[j]));
                let bus = disk
                    .bus
                    .or_else(|| disk.target.as_deref().map(bus_of_target))
                    .or_else(|| old.and_then(|(_, f)| f.bus.as_deref()).and_then(parse_bus))
                    .unwrap_or(if disk.device == DiskDevice::Cdrom {
                        DiskBus::Sata
                    } else {
                        DiskBus::Virtio
                    });
                let target = disk
                    .target
                    .clone()
                    .or_else(|| {
                        old.and_then(|(_, f)| f.target.clone())
                            .filter(|t| t.starts_with(bus.target_prefix()))
                    })
                    .unwrap_or_else(|| free_target(bus, &taken));
                taken.push(target.clone());
                new_elems.push(render_disk(disk, old.map(|(e, _)| e), bus, &target, cx));
            }
            replace_devices(devices, "disk", new_elems);
        }
        if let Some(nics) = &d.interfaces {
            let matched = match_nics(nics, &have_nics);
            let new_elems = nics
                .iter()
                .enumerate()
                .map(|(i, n)| {
                    let mut nic = n.clone();
                    // A NIC added to an existing domain gets its MAC here,
                    // not from libvirt: the same one then goes into the
                    // persistent config and into the running guest.
                    if !creating && matched[i].is_none() && nic.mac.is_none() {
                        let uuid = facts.as_ref().map(|f| f.uuid.as_str()).unwrap_or_default();
                        nic.mac = Some(derived_mac(&format!("{uuid}/{}/{i}", d.meta.name)));
                    }
                    render_nic(
                        &nic,
                        matched[i].map(|j| &old_nic_elems[j]),
                        creating || matched[i].is_none(),
                    )
                })
                .collect();
            replace_devices(devices, "interface", new_elems);
        }
        if let Some(g) = &d.graphics {
            let old = devices
                .children_named("graphics")
                .find(|e| e.attr("type") == Some(graphics_str(g.kind)))
                .cloned();
            let elems = match g.kind {
                GraphicsType::None => Vec::new(),
                kind => {
                    let mut e = old.unwrap_or_else(|| {
                        Element::new("graphics")
                            .with_attr("type", graphics_str(kind))
                            .with_attr("autoport", "yes")
                    });
                    // An unset listen leaves libvirt's (or the operator's) choice.
                    if let Some(l) = &g.listen {
                        e.remove_attr("listen");
                        e.remove_children("listen");
                        e.set_attr("listen", l.clone());
                        e.children.push(Node::Element(
                            Element::new("listen")
                                .with_attr("type", "address")
                                .with_attr("address", l.clone()),
                        ));
                    }
                    vec![e]
                }
            };
            replace_devices(devices, "graphics", elems);
        }
        match d.console {
            Some(Console::Pty)
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
            Some(Console::None) => {
                devices.remove_children("console");
                devices.children.retain(|n| !matches!(n, Node::Element(e) if e.name == "serial" && e.attr("type") == Some("pty")));
            }
            Some(Console::Pty) | None => {}
        }
    }
    super::apply_patches(&mut root, &d.xml)?;
    super::write_marker(&mut root, cx.marker);
    Ok(root)
}

fn parse_bus(s: &str) -> Option<DiskBus> {
    Some(match s {
        "virtio" => DiskBus::Virtio,
        "sata" => DiskBus::Sata,
        "scsi" => DiskBus::Scsi,
        "ide" => DiskBus::Ide,
        _ => return None,
    })
}

/// The first free target name on `bus` (vda, vdb, ..., vdz, vdaa, ...).
fn free_target(bus: DiskBus, taken: &[String]) -> String {
    let prefix = bus.target_prefix();
    (0..26 * 27)
        .map(|i| {
            if i < 26 {
                format!("{prefix}{}", (b'a' + i as u8) as char)
            } else {
                let j = i - 26;
                format!(
                    "{prefix}{}{}",
                    (b'a' + (j / 26) as u8) as char,
                    (b'a' + (j % 26) as u8) as char
                )
            }
        })
        .find(|t| !taken.contains(t))
        .unwrap_or_else(|| format!("{prefix}zz"))
}

/// Replace all `name` children of `devices` by `elems`, where the first old
/// one stood (or at the end).
fn replace_devices(devices: &mut Element, name: &str, elems: Vec<Element>) {
    let at = devices
        .children
        .iter()
        .position(|n| matches!(n, Node::Element(e) if e.name == name))
        .unwrap_or(devices.children.len());
    devices.remove_children(name);
    let at = at.min(devices.children.len());
    for (k, e) in elems.into_iter().enumerate() {
        devices.children.insert(at + k, Node::Element(e));
    }
}

fn render_disk(
    d: &Disk,
    old: Option<&Element>,
    bus: DiskBus,
    target: &str,
    cx: &DomainContext,
) -> Element {
    let mut e = old.cloned().unwrap_or_else(|| Element::new("disk"));
    e.set_attr("device", device_str(d.device));
    let format = match &d.source {
        DiskSource::Volume { pool, name } => {
            e.set_attr("type", "volume");
            e.replace_child(
                Element::new("source")
                    .with_attr("pool", pool.clone())
                    .with_attr("volume", name.clone()),
            );
            // A volume created by this plan defaults to qcow2, as its
            // manifest does.
            (cx.volume_format)(pool, name).unwrap_or_else(|| "qcow2".into())
        }
        DiskSource::Path { path, format } => {
            e.set_attr("type", "file");
            e.replace_child(Element::new("source").with_attr("file", path.clone()));
            crate::render::storage::format_str(*format).to_string()
        }
        DiskSource::Empty => {
            e.set_attr("type", "file");
            e.remove_children("source");
            "raw".to_string()
        }
    };
    let driver_type = format.as_str();
    let drv = e.ensure_child("driver");
    drv.set_attr("name", "qemu");
    drv.set_attr("type", driver_type);
    let t = e.ensure_child("target");
    t.set_attr("dev", target);
    t.set_attr("bus", bus_str(bus));
    if let Some(ro) = d.readonly {
        e.remove_children("readonly");
        if ro {
            e.children.push(Node::Element(Element::new("readonly")));
        }
    } else if old.is_none() && d.device == DiskDevice::Cdrom {
        e.children.push(Node::Element(Element::new("readonly")));
    }
    // Element order inside <disk> matters to libvirt's schema: driver,
    // source, target, readonly... keep a canonical order for new ones.
    if old.is_none() {
        sort_children(&mut e, &["driver", "source", "target", "readonly"]);
    }
    e
}

/// A stable, locally administered-looking MAC in QEMU's 52:54:00 range,
/// derived from `seed` so the plan stays a pure function of its input.
fn derived_mac(seed: &str) -> String {
    use sha2::{Digest, Sha256};
    let h = Sha256::digest(seed.as_bytes());
    format!("52:54:00:{:02x}:{:02x}:{:02x}", h[0], h[1], h[2])
}

fn render_nic(n: &Interface, old: Option<&Element>, creating: bool) -> Element {
    let mut e = old.cloned().unwrap_or_else(|| Element::new("interface"));
    match &n.source {
        InterfaceSource::Network(x) => {
            e.set_attr("type", "network");
            e.replace_child(Element::new("source").with_attr("network", x.clone()));
        }
        InterfaceSource::Bridge(x) => {
            e.set_attr("type", "bridge");
            e.replace_child(Element::new("source").with_attr("bridge", x.clone()));
        }
    }
    if let Some(m) = &n.mac {
        e.replace_child(Element::new("mac").with_attr("address", m.clone()));
    }
    match (n.model, creating) {
        (Some(m), _) => e.replace_child(Element::new("model").with_attr("type", m.as_str())),
        (None, true) => e.replace_child(Element::new("model").with_attr("type", "virtio")),
        (None, false) => {}
    }
    match n.boot_rom {
        Some(false) => e.replace_child(Element::new("rom").with_attr("enabled", "no")),
        Some(true) => e.remove_children("rom"),
        None => {}
    }
    if old.is_none() {
        sort_children(&mut e, &["mac", "source", "model", "rom"]);
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

    fn have(source: &str, device: &str, bus: &str, target: &str) -> DiskFacts {
        DiskFacts {
            source: source.into(),
            device: device.into(),
            bus: Some(bus.into()),
            target: Some(target.into()),
            readonly: false,
            format: None,
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
            have("volume p/a", "disk", "virtio", "vda"),
            have("volume p/x", "disk", "virtio", "vdx"),
            have("volume p/b", "disk", "sata", "sda"),
            have("empty", "cdrom", "sata", "sdb"),
        ];
        assert_eq!(
            match_disks(&want, &stored),
            vec![Some(0), Some(2), Some(3), Some(1)]
        );
    }

    #[test]
    fn disks_match_by_position_then_source_then_index() {
        // Swapping two disks in the list swaps what vda and vdb hold.
        let stored = vec![
            have("volume p/a", "disk", "virtio", "vda"),
            have("volume p/b", "disk", "virtio", "vdb"),
        ];
        assert_eq!(
            match_disks(&[vol("b"), vol("a")], &stored),
            vec![Some(0), Some(1)]
        );
        // A domain another tool made with SATA disks: found by source.
        let sata = vec![
            have("empty", "cdrom", "sata", "sda"),
            have("volume p/a", "disk", "sata", "sdb"),
        ];
        assert_eq!(match_disks(&[vol("a")], &sata), vec![Some(1)]);
        // Neither: the disk at the same index (its source changes).
        assert_eq!(match_disks(&[vol("c")], &sata[1..]), vec![Some(0)]);
        // More disks than the host has: the extra one is new.
        assert_eq!(
            match_disks(&[vol("a"), vol("b"), vol("c")], &stored),
            vec![Some(0), Some(1), None]
        );
    }
}

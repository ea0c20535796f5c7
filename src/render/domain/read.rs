//! libvirt domain XML read back into [`DomainFacts`], normalised the way the
//! planner compares: sizes in KiB, MACs lower-case, disk and NIC sources as
//! typed identities rather than text.

use std::fmt;

use crate::model::*;
use crate::xml::Element;

/// A domain's XML as the planner compares it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DomainFacts {
    pub domain_type: String,
    pub uuid: String,
    pub arch: Option<String>,
    pub machine: Option<String>,
    pub uefi: bool,
    pub secure_boot: Option<bool>,
    pub memory_kib: Kib,
    pub max_memory_kib: Kib,
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
    /// What fixes other values: libvirt refuses or overrides a change of
    /// them (see [`Constraints`]).
    pub constraints: Constraints,
}

/// Values the domain's own XML pins, which libvirt would refuse to change
/// or silently override if virtsync wrote something else.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Constraints {
    /// The sum of the `<cpu><numa><cell memory>` (KiB): libvirt sets
    /// `<memory>` to it whatever the XML says.
    pub numa_memory_kib: Option<Kib>,
    /// sockets × dies × cores × threads of `<cpu><topology>`: libvirt
    /// refuses a `<vcpu>` count that differs.
    pub topology_vcpus: Option<u32>,
    /// Devices carry `<boot order=...>`: libvirt refuses `<os><boot>` too.
    pub device_boot_order: bool,
}

/// Where a disk's data comes from: its identity, with `Display` for plans.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SourceId {
    Volume {
        pool: String,
        name: String,
    },
    /// A file or a block device (`<source file>` / `<source dev>`).
    Path(String),
    /// A network disk (`<source protocol='rbd' name='pool/image'>`), or a
    /// source type virtsync does not model (type and first attribute).
    Other {
        kind: String,
        name: String,
    },
    /// An empty (CD-ROM) drive.
    Empty,
}

impl SourceId {
    /// The identity of a manifest disk's source.
    pub fn of(d: &DiskSource) -> SourceId {
        match d {
            DiskSource::Volume { pool, name } => SourceId::Volume {
                pool: pool.clone(),
                name: name.clone(),
            },
            DiskSource::Path { path, .. } => SourceId::Path(path.clone()),
            DiskSource::Empty => SourceId::Empty,
        }
    }
}

impl fmt::Display for SourceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SourceId::Volume { pool, name } => write!(f, "volume {pool}/{name}"),
            SourceId::Path(p) => write!(f, "path {p}"),
            SourceId::Other { kind, name } => write!(f, "{kind} {name}"),
            SourceId::Empty => f.write_str("empty"),
        }
    }
}

/// What a NIC is plugged into.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NicSourceId {
    Network(String),
    Bridge(String),
    /// A type virtsync does not model (`direct`, `user`, ...).
    Other(String),
}

impl NicSourceId {
    pub fn of(s: &InterfaceSource) -> NicSourceId {
        match s {
            InterfaceSource::Network(x) => NicSourceId::Network(x.clone()),
            InterfaceSource::Bridge(x) => NicSourceId::Bridge(x.clone()),
        }
    }
}

impl fmt::Display for NicSourceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NicSourceId::Network(x) => write!(f, "network {x}"),
            NicSourceId::Bridge(x) => write!(f, "bridge {x}"),
            NicSourceId::Other(t) => f.write_str(t),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskFacts {
    pub source: SourceId,
    pub device: String,
    pub bus: Option<String>,
    pub target: Option<String>,
    pub readonly: bool,
    /// The driver type (`qcow2`, `raw`, ...), when the XML names one.
    pub format: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NicFacts {
    pub source: NicSourceId,
    pub mac: Option<String>,
    pub model: Option<String>,
    pub boot_rom: Option<bool>,
}

pub fn read_domain(root: &Element) -> DomainFacts {
    let os_type = root.find(&["os", "type"]);
    let memory = root
        .child("memory")
        .and_then(crate::render::scaled_bytes)
        .map(|b| Bytes(b).to_kib())
        .unwrap_or_default();
    let current = root
        .child("currentMemory")
        .and_then(crate::render::scaled_bytes)
        .map(|b| Bytes(b).to_kib())
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
        graphics: devs("graphics").map(read_graphics).collect(),
        console: devs("console")
            .next()
            .map(|c| c.attr("type").unwrap_or_default().to_string()),
        constraints: Constraints {
            numa_memory_kib: cpu.and_then(numa_memory_kib),
            topology_vcpus: cpu.and_then(|c| c.child("topology")).and_then(|t| {
                ["sockets", "dies", "cores", "threads"]
                    .iter()
                    .map(|a| t.attr(a).map_or(Some(1), |v| v.parse::<u32>().ok()))
                    .try_fold(1u32, |acc, n| acc.checked_mul(n?))
            }),
            device_boot_order: devices.is_some_and(|d| {
                d.elements()
                    .any(|e| e.children_named("boot").any(|b| b.attr("order").is_some()))
            }),
        },
    }
}

/// The graphics type and its listen address: the `listen` attribute, else
/// the first `<listen type='address'>`.
pub fn read_graphics(g: &Element) -> (String, Option<String>) {
    let listen = g.attr("listen").map(str::to_string).or_else(|| {
        g.children_named("listen")
            .find(|l| l.attr("type").unwrap_or("address") == "address")
            .and_then(|l| l.attr("address"))
            .map(str::to_string)
    });
    (g.attr("type").unwrap_or_default().to_string(), listen)
}

fn numa_memory_kib(cpu: &Element) -> Option<Kib> {
    let cells: Vec<&Element> = cpu.child("numa")?.children_named("cell").collect();
    if cells.is_empty() {
        return None;
    }
    let total = cells.iter().try_fold(0u64, |sum, c| {
        // A cell is `memory='N' unit='U'`: the same scale as <memory>.
        let e = Element::new("x")
            .with_attr("unit", c.attr("unit").unwrap_or("KiB"))
            .with_text(c.attr("memory")?);
        Some(sum + Bytes(crate::render::scaled_bytes(&e)?).to_kib().0)
    })?;
    Some(Kib(total))
}

/// The identity of a `<disk>`'s source.
pub fn disk_source(d: &Element) -> SourceId {
    let Some(s) = d.child("source") else {
        return SourceId::Empty;
    };
    let ty = d.attr("type").unwrap_or("file");
    match ty {
        "volume" => SourceId::Volume {
            pool: s.attr("pool").unwrap_or_default().to_string(),
            name: s.attr("volume").unwrap_or_default().to_string(),
        },
        "file" | "block" | "dir" => match s.attr("file").or(s.attr("dev")).or(s.attr("dir")) {
            Some(p) => SourceId::Path(p.to_string()),
            None => SourceId::Empty,
        },
        "network" => SourceId::Other {
            kind: format!("network {}", s.attr("protocol").unwrap_or_default()),
            name: s.attr("name").unwrap_or_default().to_string(),
        },
        other => SourceId::Other {
            kind: other.to_string(),
            name: s.attrs.first().map(|(_, v)| v.clone()).unwrap_or_default(),
        },
    }
}

pub fn read_disk(d: &Element) -> DiskFacts {
    let target = d.child("target");
    DiskFacts {
        source: disk_source(d),
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

pub fn read_nic(n: &Element) -> NicFacts {
    let src = n.child("source");
    let source = match n.attr("type").unwrap_or_default() {
        "network" => NicSourceId::Network(
            src.and_then(|s| s.attr("network"))
                .unwrap_or_default()
                .to_string(),
        ),
        "bridge" => NicSourceId::Bridge(
            src.and_then(|s| s.attr("bridge"))
                .unwrap_or_default()
                .to_string(),
        ),
        other => NicSourceId::Other(other.to_string()),
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

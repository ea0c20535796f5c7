//! A Domain manifest from an existing domain's XML: every field virtsync
//! models, with the value the domain has — `uuid` pinned, MACs, disk
//! sources, targets and buses — so that planning it against the domain
//! finds nothing to do. What a manifest cannot express (a network disk, a
//! macvtap NIC, two graphics devices, a floppy) is left out: an unset field
//! or list is unmanaged, and the domain keeps it as it is.

use std::collections::BTreeSet;

use super::parse_word;
use crate::manifest::types::*;
use crate::manifest::units::check_name;
use crate::render::domain::{read_domain, DiskFacts, NicFacts, NicSourceId, SourceId};
use crate::units::format_size;
use crate::xml::Element;

/// What the host's listing says of a domain, besides its XML.
#[derive(Debug, Clone, Copy)]
pub struct DomainState {
    pub state: PowerState,
    pub persistent: bool,
    /// `None` when not known (or not to be written).
    pub autostart: Option<bool>,
}

/// A domain read for a manifest.
#[derive(Debug, Clone)]
pub struct ImportedDomain {
    pub name: String,
    pub spec: DomainSpec,
    /// Fields and lists left out, with why (they stay as they are).
    pub left_out: Vec<String>,
    /// The networks its NICs use.
    pub networks: BTreeSet<String>,
    /// The volumes (pool, name) its disks use.
    pub volumes: BTreeSet<(String, String)>,
}

/// The manifest of the domain `root` (its inactive XML) in `state`.
pub fn domain_spec(root: &Element, state: DomainState) -> ImportedDomain {
    let f = read_domain(root);
    let name = root.child("name").map(|n| n.text()).unwrap_or_default();
    let mut left_out = Vec::new();
    let mut note = |what: &str, why: String| left_out.push(format!("{what}: {why}"));

    let domain_type = parse_word::<DomainType>(&f.domain_type);
    if domain_type.is_none() {
        note(
            "type",
            format!("`{}` is not a type virtsync knows", f.domain_type),
        );
    }
    let word = |s: &String, extra: &[char]| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || extra.contains(&c))
    };
    let cpu = match (f.cpu_mode.as_deref(), &f.cpu_model) {
        (Some("custom"), Some(m)) => Some(CpuSpec {
            mode: CpuMode::Custom,
            model: Some(m.clone()),
        }),
        (Some(m @ ("host-passthrough" | "host-model")), _) => {
            parse_word(m).map(|mode| CpuSpec { mode, model: None })
        }
        (Some("custom"), None) | (None, _) => None,
        (Some(m), _) => {
            note("cpu", format!("mode `{m}` is not modelled"));
            None
        }
    };
    let boot: Option<Vec<BootDevice>> = f.boot.iter().map(|b| parse_word(b)).collect();
    if boot.is_none() {
        note(
            "boot",
            format!(
                "{} names a device virtsync does not know",
                f.boot.join(", ")
            ),
        );
    }
    let disks = f
        .disks
        .iter()
        .map(disk_spec)
        .collect::<Result<Vec<_>, String>>()
        .map_err(|why| note("disks", why))
        .ok();
    let interfaces = f
        .interfaces
        .iter()
        .map(nic_spec)
        .collect::<Result<Vec<_>, String>>()
        .map_err(|why| note("interfaces", why))
        .ok();
    let graphics = match f.graphics.as_slice() {
        [] => Some(GraphicsSpec {
            kind: GraphicsType::None,
            listen: None,
        }),
        [(t, listen)] => match parse_word::<GraphicsType>(t).filter(|t| *t != GraphicsType::None) {
            Some(kind) => Some(GraphicsSpec {
                kind,
                // A host name, or a listen of type network, is kept as it is.
                listen: listen
                    .clone()
                    .filter(|l| l.parse::<std::net::IpAddr>().is_ok()),
            }),
            None => {
                note("graphics", format!("type `{t}` is not modelled"));
                None
            }
        },
        _ => {
            note(
                "graphics",
                format!("{} graphics devices (a manifest has one)", f.graphics.len()),
            );
            None
        }
    };
    let console = match f.console.as_deref() {
        Some("pty") => Some(Console::Pty),
        None => Some(Console::None),
        Some(other) => {
            note(
                "console",
                format!("a console of type `{other}` is not modelled"),
            );
            None
        }
    };
    let mut networks = BTreeSet::new();
    for i in interfaces.iter().flatten() {
        networks.extend(i.network.clone());
    }
    let mut volumes = BTreeSet::new();
    for d in disks.iter().flatten() {
        volumes.extend(d.volume.as_ref().map(|v| (v.pool.clone(), v.name.clone())));
    }
    let spec = DomainSpec {
        state: Some(state.state),
        persistent: (!state.persistent).then_some(false),
        autostart: state.autostart.filter(|_| state.persistent),
        domain_type,
        arch: f.arch.clone().filter(|a| word(a, &[])),
        machine: f.machine.clone().filter(|m| word(m, &['.', '-'])),
        firmware: Some(if f.uefi {
            Firmware::Uefi
        } else {
            Firmware::Bios
        }),
        secure_boot: f.secure_boot.filter(|_| f.uefi),
        uuid: Some(f.uuid.clone()).filter(|u| !u.is_empty()),
        memory: SizeText(format_size(f.memory_kib.0 * 1024)),
        max_memory: Some(SizeText(format_size(f.max_memory_kib.0 * 1024))),
        vcpus: f.vcpus,
        max_vcpus: Some(f.max_vcpus),
        cpu,
        boot: boot.filter(|b| !b.is_empty()),
        disks: disks.filter(|d| !d.is_empty()),
        interfaces: interfaces.filter(|i| !i.is_empty()),
        graphics,
        console,
        restart_policy: None,
        shutdown_timeout: None,
        snapshot_policy: None,
        cloud_init: None,
        wait_for: None,
        xml: None,
    };
    ImportedDomain {
        name,
        spec,
        left_out,
        networks,
        volumes,
    }
}

/// A disk as a manifest writes it, or why it cannot be.
fn disk_spec(d: &DiskFacts) -> Result<DiskSpec, String> {
    let at = d.target.as_deref().unwrap_or("?");
    let device = parse_word::<DiskDevice>(&d.device)
        .ok_or_else(|| format!("{at} is a {} device, which is not modelled", d.device))?;
    let bus = d
        .bus
        .as_deref()
        .and_then(parse_word::<DiskBus>)
        .ok_or_else(|| {
            format!(
                "{at} is on bus {}, which is not modelled",
                d.bus.as_deref().unwrap_or("?")
            )
        })?;
    let target = d
        .target
        .clone()
        .filter(|t| {
            t.strip_prefix(bus.target_prefix()).is_some_and(|rest| {
                (1..=3).contains(&rest.len()) && rest.chars().all(|c| c.is_ascii_lowercase())
            })
        })
        .ok_or_else(|| format!("target {at} does not fit bus {bus}"))?;
    if !matches!(d.format.as_deref(), None | Some("raw" | "qcow2")) {
        return Err(format!(
            "{at} has format {}, which is not modelled",
            d.format.as_deref().unwrap_or_default()
        ));
    }
    let (volume, path, format) = match &d.source {
        SourceId::Volume { pool, name } => {
            check_name(pool)
                .and(check_name(name))
                .map_err(|e| format!("{at}: {e}"))?;
            let v = VolumeRef {
                pool: pool.clone(),
                name: name.clone(),
            };
            (Some(v), None, None)
        }
        SourceId::Path(p) => {
            if !p.starts_with('/') || p.split('/').any(|c| c == "..") {
                return Err(format!("{at}: path {p} is not absolute and plain"));
            }
            let f = match d.format.as_deref() {
                Some("qcow2") => VolumeFormat::Qcow2,
                _ => VolumeFormat::Raw,
            };
            (None, Some(p.clone()), Some(f))
        }
        SourceId::Empty if device == DiskDevice::Cdrom => (None, None, None),
        SourceId::Empty => return Err(format!("{at} is a disk without a source")),
        SourceId::Other { kind, name } => {
            return Err(format!(
                "{at} is a {kind} disk ({name}), which is not modelled"
            ))
        }
    };
    Ok(DiskSpec {
        volume,
        path,
        device: (device != DiskDevice::Disk).then_some(device),
        bus: Some(bus),
        target: Some(target),
        readonly: d.readonly.then_some(true),
        format,
    })
}

/// A NIC as a manifest writes it, or why it cannot be.
fn nic_spec(n: &NicFacts) -> Result<InterfaceSpec, String> {
    let mac = n
        .mac
        .clone()
        .ok_or_else(|| format!("a NIC on {} has no MAC", n.source))?;
    let (network, bridge) = match &n.source {
        NicSourceId::Network(x) => {
            check_name(x).map_err(|e| format!("{mac}: {e}"))?;
            (Some(x.clone()), None)
        }
        NicSourceId::Bridge(x)
            if (1..=15).contains(&x.len())
                && !x.chars().any(|c| c == '/' || c == ':' || c.is_whitespace()) =>
        {
            (None, Some(x.clone()))
        }
        other => return Err(format!("{mac} is on {other}, which is not modelled")),
    };
    Ok(InterfaceSpec {
        network,
        bridge,
        mac: Some(mac),
        // A model virtsync does not know stays as it is (unset).
        model: n.model.as_deref().and_then(parse_word),
        boot_rom: n.boot_rom,
    })
}

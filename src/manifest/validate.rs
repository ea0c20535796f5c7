//! Semantic checks: from well-shaped documents to the desired state.
//!
//! Two passes. The first checks each document alone (names, units, MACs,
//! paths, the escape hatch, field combinations) and converts it to its model
//! object. The second checks the directory as a whole: uniqueness per kind
//! per host (volumes per pool, snapshots per domain) and references between
//! manifests. Every error is recorded with its document position; nothing
//! stops early.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use super::load::{did_you_mean, AnyDoc, LoadedDoc};
use super::types::{self, Kind, API_VERSION};
use super::units::{check_name, parse_duration, parse_mac, parse_size, parse_uuid};
use super::yaml::Pos;
use super::{xmlpatch, Diagnostic, LoadOptions, DEFAULT_IMAGE_ROOT};
use crate::model::*;

/// Records errors against one document.
struct Ctx<'a> {
    doc: &'a LoadedDoc,
    diags: &'a mut Vec<Diagnostic>,
    opts: &'a LoadOptions,
}

impl Ctx<'_> {
    fn at(&mut self, pos: Pos, message: impl Into<String>) {
        self.diags.push(Diagnostic {
            file: self.doc.file.clone(),
            line: pos.line.max(1),
            column: pos.column.max(1),
            message: message.into(),
        });
    }

    /// An error about the value at `path` (`spec.disks[0].mac`).
    fn err(&mut self, path: &str, message: impl Into<String>) {
        let pos = self.doc.index.pos(path);
        self.at(pos, format!("{path}: {}", message.into()));
    }

    fn size(&mut self, path: &str, text: &types::SizeText) -> Option<u64> {
        parse_size(&text.0).map_err(|m| self.err(path, m)).ok()
    }

    fn mac(&mut self, path: &str, text: &str) -> Option<String> {
        parse_mac(text).map_err(|m| self.err(path, m)).ok()
    }

    fn uuid(&mut self, path: &str, text: &Option<String>) -> Option<String> {
        let t = text.as_ref()?;
        parse_uuid(t).map_err(|m| self.err(path, m)).ok()
    }

    fn ip(&mut self, path: &str, text: &str) -> Option<IpAddr> {
        text.trim()
            .parse()
            .map_err(|_| self.err(path, format!("`{text}` is not an IP address")))
            .ok()
    }

    fn name_ref(&mut self, path: &str, name: &str) {
        if let Err(m) = check_name(name) {
            self.err(path, m);
        }
    }

    fn xml(
        &mut self,
        path: &str,
        patches: &Option<Vec<types::XmlPatchSpec>>,
        root: &str,
    ) -> Vec<XmlPatch> {
        let mut out = Vec::new();
        for (i, p) in patches.iter().flatten().enumerate() {
            let at = xmlpatch::parse_at(&p.at, root)
                .map_err(|m| self.err(&format!("{path}[{i}].at"), m));
            match xmlpatch::check_fragment(&p.merge) {
                Err(m) => self.err(&format!("{path}[{i}].merge"), m),
                Ok(unsafe_found) if !self.opts.allow_unsafe_xml => {
                    for m in unsafe_found {
                        self.err(
                            &format!("{path}[{i}].merge"),
                            format!("{m}; pass --allow-unsafe-xml if you really mean it"),
                        );
                    }
                }
                Ok(_) => {}
            }
            if let Ok(at) = at {
                out.push(XmlPatch {
                    at,
                    at_text: p.at.clone(),
                    merge: p.merge.clone(),
                });
            }
        }
        out
    }
}

/// A disk `path:` or pool path: absolute, normal, no `..`.
fn check_abs_path(path: &str) -> Result<PathBuf, String> {
    if path.contains('\0') || path.contains('\n') {
        return Err("path contains a control character".into());
    }
    let p = Path::new(path);
    if !p.is_absolute() {
        return Err(format!("path `{path}` must be absolute"));
    }
    if p.components().any(|c| matches!(c, Component::ParentDir)) {
        return Err(format!("path `{path}` must not contain `..`"));
    }
    Ok(p.components().collect())
}

fn check_ifname(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 15 {
        return Err(format!(
            "interface name `{name}` must be 1 to 15 characters (the kernel's limit)"
        ));
    }
    if name
        .chars()
        .any(|c| c == '/' || c == ':' || c.is_whitespace() || c.is_control())
        || name == "."
        || name == ".."
    {
        return Err(format!("`{name}` is not a valid network interface name"));
    }
    Ok(())
}

fn check_dns_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
}

/// An object of the first pass, waiting for the whole-directory checks.
struct Pending<'a> {
    doc: &'a LoadedDoc,
    obj: Obj,
}

enum Obj {
    Host(Host),
    Domain(Domain),
    Network(Network),
    Pool(Pool),
    Volume(Volume),
    Snapshot(Snapshot),
}

/// Check every document and the directory as a whole; return the desired
/// state (complete only when `diags` stays empty).
pub fn validate(
    docs: &[LoadedDoc],
    opts: &LoadOptions,
    diags: &mut Vec<Diagnostic>,
) -> DesiredState {
    let mut pending = Vec::new();
    for doc in docs {
        let mut cx = Ctx { doc, diags, opts };
        if let Some(obj) = check_doc(&mut cx) {
            pending.push(Pending { doc, obj });
        }
    }
    resolve(pending, opts, diags)
}

fn meta(cx: &mut Ctx) -> Meta {
    let m = cx.doc.doc.metadata();
    if let Err(e) = check_name(&m.name) {
        cx.err("metadata.name", e);
    }
    if let Some(h) = &m.host {
        cx.name_ref("metadata.host", h);
    }
    for (k, v) in &m.labels {
        let path = format!("metadata.labels.{k}");
        if k.is_empty() || k.contains(['=', ',']) || k.chars().any(char::is_whitespace) {
            cx.err(
                &path,
                format!("label key `{k}` must be non-empty without `=`, `,` or spaces"),
            );
        }
        if v.contains(',') {
            cx.err(&path, format!("label value `{v}` must not contain `,`"));
        }
    }
    Meta {
        name: m.name.clone(),
        host: m.host.clone(),
        labels: m.labels.clone(),
        source: Source {
            file: cx.doc.rel.clone(),
            line: cx.doc.index.start.line,
        },
    }
}

fn check_doc(cx: &mut Ctx) -> Option<Obj> {
    let api = cx.doc.doc.api_version();
    if api != API_VERSION {
        cx.err(
            "apiVersion",
            format!("unknown apiVersion `{api}`; this virtsync reads `{API_VERSION}`"),
        );
    }
    let kind = cx.doc.doc.kind();
    let external = cx.doc.doc.metadata().external == Some(true);
    if external && !kind.may_be_external() {
        cx.err(
            "metadata.external",
            format!("a {kind} cannot be external; only Network, StoragePool and Volume can"),
        );
    }
    let meta = meta(cx);
    if kind == Kind::Host && meta.host.is_some() {
        cx.err("metadata.host", "a Host has no host; remove metadata.host");
    }
    let doc = cx.doc;
    let spec_missing = |cx: &mut Ctx| {
        cx.at(
            doc.index.start,
            format!(
                "{kind} `{}` has no spec; add `spec:` (only external objects may omit it)",
                meta.name
            ),
        )
    };
    Some(match &doc.doc {
        AnyDoc::Host(d) => {
            let Some(spec) = &d.spec else {
                spec_missing(cx);
                return None;
            };
            check_uri(cx, &spec.uri);
            Obj::Host(Host {
                meta,
                uri: spec.uri.clone(),
            })
        }
        AnyDoc::Domain(d) => {
            let Some(spec) = &d.spec else {
                spec_missing(cx);
                return None;
            };
            Obj::Domain(domain(cx, meta, spec))
        }
        AnyDoc::Network(d) => match (&d.spec, external) {
            (Some(_), true) => {
                cx.err(
                    "spec",
                    "an external network takes no spec: virtsync never changes it",
                );
                return None;
            }
            (None, true) => Obj::Network(Network {
                meta,
                external: true,
                uuid: None,
                forward: None,
                bridge: None,
                mtu: None,
                domain: None,
                ipv4: None,
                ipv6: None,
                dns: None,
                autostart: None,
                active: true,
                restart_policy: RestartPolicy::Never,
                xml: Vec::new(),
            }),
            (None, false) => {
                spec_missing(cx);
                return None;
            }
            (Some(spec), false) => Obj::Network(network(cx, meta, spec)),
        },
        AnyDoc::StoragePool(d) => match (&d.spec, external) {
            (Some(_), true) => {
                cx.err(
                    "spec",
                    "an external pool takes no spec: virtsync never changes it",
                );
                return None;
            }
            (None, true) => Obj::Pool(Pool {
                meta,
                external: true,
                pool_type: None,
                path: None,
                source: None,
                autostart: None,
                active: true,
            }),
            (None, false) => {
                spec_missing(cx);
                return None;
            }
            (Some(spec), false) => Obj::Pool(pool(cx, meta, spec)),
        },
        AnyDoc::Volume(d) => {
            let Some(spec) = &d.spec else {
                cx.at(
                    doc.index.start,
                    format!(
                        "Volume `{}` has no spec; a volume needs at least `spec.pool`",
                        meta.name
                    ),
                );
                return None;
            };
            Obj::Volume(volume(cx, meta, spec, external))
        }
        AnyDoc::Snapshot(d) => {
            let Some(spec) = &d.spec else {
                spec_missing(cx);
                return None;
            };
            cx.name_ref("spec.domain", &spec.domain);
            Obj::Snapshot(Snapshot {
                meta,
                domain: spec.domain.clone(),
                description: spec.description.clone(),
            })
        }
    })
}

fn check_uri(cx: &mut Ctx, uri: &str) {
    let ok = uri.split_once("://").is_some_and(|(scheme, _)| {
        !scheme.is_empty()
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '+' || c == '-')
    });
    if !ok {
        cx.err(
            "spec.uri",
            format!(
                "`{uri}` is not a libvirt URI such as qemu:///system or qemu+ssh://host/system"
            ),
        );
    }
}

fn domain(cx: &mut Ctx, meta: Meta, s: &types::DomainSpec) -> Domain {
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
    let disks = s.disks.as_ref().map(|disks| {
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
    });
    let interfaces = s.interfaces.as_ref().map(|ifs| {
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
                        if let Err(m) = check_ifname(br) {
                            cx.err(&format!("{path}.bridge"), m);
                        }
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
    });
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
        memory: memory.unwrap_or(0),
        max_memory,
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
        xml,
    }
}

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
        (None, Some(p)) => match check_abs_path(p) {
            Ok(_) => DiskSource::Path {
                path: p.clone(),
                format: d.format.unwrap_or(VolumeFormat::Raw),
            },
            Err(m) => {
                cx.err(&format!("{path}.path"), m);
                return None;
            }
        },
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
    Some(Disk {
        source,
        device,
        bus: d.bus,
        target: d.target.clone(),
        readonly: d.readonly,
    })
}

fn network(cx: &mut Ctx, meta: Meta, s: &types::NetworkSpec) -> Network {
    let forward = s.forward.as_ref().map(|f| {
        if let Some(dev) = &f.dev {
            if !matches!(f.mode, ForwardMode::Nat | ForwardMode::Route) {
                cx.err(
                    "spec.forward.dev",
                    "`dev` is only for forward modes nat and route",
                );
            } else if let Err(m) = check_ifname(dev) {
                cx.err("spec.forward.dev", m);
            }
        }
        if f.mode == ForwardMode::Bridge
            && s.bridge.as_ref().and_then(|b| b.name.as_ref()).is_none()
        {
            cx.err(
                "spec.forward.mode",
                "forward mode bridge uses an existing host bridge: set `bridge.name`",
            );
        }
        Forward {
            mode: f.mode,
            dev: f.dev.clone(),
        }
    });
    let bridge = s.bridge.as_ref().map(|b| {
        if let Some(n) = &b.name {
            if let Err(m) = check_ifname(n) {
                cx.err("spec.bridge.name", m);
            }
        }
        Bridge {
            name: b.name.clone(),
            stp: b.stp,
            delay: b.delay,
        }
    });
    if let Some(mtu) = s.mtu {
        if !(68..=65535).contains(&mtu) {
            cx.err("spec.mtu", format!("mtu {mtu} is outside 68..65535"));
        }
    }
    if let Some(d) = &s.domain {
        if !check_dns_name(d) {
            cx.err("spec.domain", format!("`{d}` is not a DNS domain name"));
        }
    }
    let ipv4 = s
        .ipv4
        .as_ref()
        .and_then(|ip| ip_config(cx, "spec.ipv4", ip, false));
    let ipv6 = s
        .ipv6
        .as_ref()
        .and_then(|ip| ip_config(cx, "spec.ipv6", ip, true));
    let dns = s.dns.as_ref().map(|d| Dns {
        enable: d.enable,
        forwarders: d.forwarders.as_ref().map(|f| {
            f.iter()
                .enumerate()
                .filter_map(|(i, a)| cx.ip(&format!("spec.dns.forwarders[{i}]"), a))
                .collect()
        }),
        hosts: d.hosts.as_ref().map(|hs| {
            hs.iter()
                .enumerate()
                .filter_map(|(i, h)| {
                    for (j, n) in h.hostnames.iter().enumerate() {
                        if !check_dns_name(n) {
                            cx.err(
                                &format!("spec.dns.hosts[{i}].hostnames[{j}]"),
                                format!("`{n}` is not a host name"),
                            );
                        }
                    }
                    if h.hostnames.is_empty() {
                        cx.err(
                            &format!("spec.dns.hosts[{i}].hostnames"),
                            "a DNS host needs at least one host name",
                        );
                    }
                    Some((
                        cx.ip(&format!("spec.dns.hosts[{i}].ip"), &h.ip)?,
                        h.hostnames.clone(),
                    ))
                })
                .collect()
        }),
    });
    Network {
        meta,
        external: false,
        uuid: cx.uuid("spec.uuid", &s.uuid),
        forward,
        bridge,
        mtu: s.mtu,
        domain: s.domain.clone(),
        ipv4,
        ipv6,
        dns,
        autostart: s.autostart,
        active: s.active.unwrap_or(true),
        restart_policy: s.restart_policy.unwrap_or(RestartPolicy::Never),
        xml: cx.xml("spec.xml", &s.xml, "network"),
    }
}

fn in_subnet(addr: IpAddr, net: IpAddr, prefix: u8) -> bool {
    match (addr, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = if prefix == 0 {
                0
            } else {
                u32::MAX << (32 - prefix as u32)
            };
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = if prefix == 0 {
                0
            } else {
                u128::MAX << (128 - prefix as u32)
            };
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

fn ip_config(cx: &mut Ctx, path: &str, s: &types::IpSpec, v6: bool) -> Option<IpConfig> {
    let address = cx.ip(&format!("{path}.address"), &s.address)?;
    let family = if v6 { "IPv6" } else { "IPv4" };
    if address.is_ipv6() != v6 {
        cx.err(
            &format!("{path}.address"),
            format!("`{}` is not an {family} address", s.address),
        );
        return None;
    }
    let max = if v6 { 128 } else { 32 };
    if s.prefix > max {
        cx.err(
            &format!("{path}.prefix"),
            format!("prefix {} is larger than {max}", s.prefix),
        );
        return None;
    }
    let check_in = |cx: &mut Ctx, p: &str, text: &str| -> Option<IpAddr> {
        let a = cx.ip(p, text)?;
        if !in_subnet(a, address, s.prefix) {
            cx.err(p, format!("{a} is outside {address}/{}", s.prefix));
            return None;
        }
        Some(a)
    };
    let dhcp = s.dhcp.as_ref().map(|d| Dhcp {
        ranges: d.ranges.as_ref().map(|rs| {
            rs.iter()
                .enumerate()
                .filter_map(|(i, r)| {
                    let p = format!("{path}.dhcp.ranges[{i}]");
                    let start = check_in(cx, &format!("{p}.start"), &r.start);
                    let end = check_in(cx, &format!("{p}.end"), &r.end);
                    let (start, end) = (start?, end?);
                    if start > end {
                        cx.err(&p, format!("range start {start} is after its end {end}"));
                    }
                    Some((start, end))
                })
                .collect()
        }),
        hosts: d.hosts.as_ref().map(|hs| {
            let mut seen_ip = BTreeMap::new();
            hs.iter()
                .enumerate()
                .filter_map(|(i, h)| {
                    let p = format!("{path}.dhcp.hosts[{i}]");
                    if h.mac.is_none() && h.name.is_none() {
                        cx.err(&p, "a DHCP host needs `mac` or `name` besides `ip`");
                    }
                    let mac = h.mac.as_ref().and_then(|m| cx.mac(&format!("{p}.mac"), m));
                    let ip = check_in(cx, &format!("{p}.ip"), &h.ip)?;
                    if let Some(first) = seen_ip.insert(ip, i) {
                        cx.err(
                            &format!("{p}.ip"),
                            format!("{ip} is also given to dhcp.hosts[{first}]"),
                        );
                    }
                    Some(DhcpHost {
                        mac,
                        name: h.name.clone(),
                        ip,
                    })
                })
                .collect()
        }),
    });
    Some(IpConfig {
        address,
        prefix: s.prefix,
        dhcp,
    })
}

fn pool(cx: &mut Ctx, meta: Meta, s: &types::StoragePoolSpec) -> Pool {
    if let Err(m) = check_abs_path(&s.path) {
        cx.err("spec.path", m);
    }
    let src = s.source.clone().unwrap_or(types::PoolSourceSpec {
        host: None,
        dir: None,
        device: None,
        name: None,
        format: None,
    });
    // Which source fields each pool type uses; required ones first.
    let (required, optional): (&[&str], &[&str]) = match s.pool_type {
        PoolType::Dir => (&[], &[]),
        PoolType::Fs => (&["device"], &["format"]),
        PoolType::Netfs => (&["host", "dir"], &["format"]),
        PoolType::Logical => (&["name"], &["device"]),
    };
    let fields = [
        ("host", &src.host),
        ("dir", &src.dir),
        ("device", &src.device),
        ("name", &src.name),
        ("format", &src.format),
    ];
    let t = s.pool_type.as_str();
    for (f, v) in fields {
        let path = format!("spec.source.{f}");
        match (v.is_some(), required.contains(&f), optional.contains(&f)) {
            (false, true, _) => cx.err(&path, format!("a {t} pool needs `source.{f}`")),
            (true, false, false) => cx.err(&path, format!("a {t} pool does not use `source.{f}`")),
            _ => {}
        }
    }
    for (f, v) in [("dir", &src.dir), ("device", &src.device)] {
        if let Some(p) = v {
            if let Err(m) = check_abs_path(p) {
                cx.err(&format!("spec.source.{f}"), m);
            }
        }
    }
    Pool {
        meta,
        external: false,
        pool_type: Some(s.pool_type),
        path: Some(s.path.clone()),
        source: s.source.as_ref().map(|_| PoolSource {
            host: src.host.clone(),
            dir: src.dir.clone(),
            device: src.device.clone(),
            name: src.name.clone(),
            format: src.format.clone(),
        }),
        autostart: s.autostart,
        active: s.active.unwrap_or(true),
    }
}

fn volume(cx: &mut Ctx, meta: Meta, s: &types::VolumeSpec, external: bool) -> Volume {
    cx.name_ref("spec.pool", &s.pool);
    if external {
        for (f, set) in [
            ("capacity", s.capacity.is_some()),
            ("format", s.format.is_some()),
            ("backingStore", s.backing_store.is_some()),
            ("cloneFrom", s.clone_from.is_some()),
            ("reclaimPolicy", s.reclaim_policy.is_some()),
        ] {
            if set {
                cx.err(
                    &format!("spec.{f}"),
                    "an external volume takes only `spec.pool`: virtsync never changes it",
                );
            }
        }
    } else if s.capacity.is_none() {
        cx.err("spec", "a volume needs `capacity`, e.g. 20GiB");
    }
    let capacity = s
        .capacity
        .as_ref()
        .and_then(|c| cx.size("spec.capacity", c));
    if s.backing_store.is_some() && s.clone_from.is_some() {
        cx.err(
            "spec.cloneFrom",
            "a volume is either an overlay (`backingStore`) or a copy (`cloneFrom`), not both",
        );
    }
    if s.backing_store.is_some() && s.format == Some(VolumeFormat::Raw) {
        cx.err(
            "spec.backingStore",
            "a raw volume cannot have a backing store; use format qcow2",
        );
    }
    let source_ref = |cx: &mut Ctx, f: &str, r: &Option<types::VolumeSourceRef>| {
        r.as_ref().map(|r| {
            let pool = r.pool.clone().unwrap_or_else(|| s.pool.clone());
            cx.name_ref(&format!("spec.{f}.pool"), &pool);
            cx.name_ref(&format!("spec.{f}.name"), &r.name);
            (pool, r.name.clone())
        })
    };
    let backing_store = source_ref(cx, "backingStore", &s.backing_store);
    let clone_from = source_ref(cx, "cloneFrom", &s.clone_from);
    if backing_store.as_ref().or(clone_from.as_ref()) == Some(&(s.pool.clone(), meta.name.clone()))
    {
        cx.err(
            "spec",
            "a volume cannot be its own backing store or clone source",
        );
    }
    Volume {
        meta,
        external,
        pool: s.pool.clone(),
        capacity,
        format: s.format,
        backing_store,
        clone_from,
        reclaim_policy: s.reclaim_policy.unwrap_or(ReclaimPolicy::Retain),
    }
}

// ---------------------------------------------------------------- pass two

/// Whole-directory checks: hosts, uniqueness, references, disk paths.
fn resolve<'a>(
    pending: Vec<Pending<'a>>,
    opts: &LoadOptions,
    diags: &mut Vec<Diagnostic>,
) -> DesiredState {
    let mut state = DesiredState::default();
    let err = |diags: &mut Vec<Diagnostic>, doc: &LoadedDoc, path: &str, m: String| {
        let pos = doc.index.pos(path);
        diags.push(Diagnostic {
            file: doc.file.clone(),
            line: pos.line.max(1),
            column: pos.column.max(1),
            message: format!("{path}: {m}"),
        });
    };
    let place = |doc: &LoadedDoc| {
        let p = doc.index.pos("metadata.name");
        format!("{}:{}:{}", doc.file.display(), p.line, p.column)
    };
    // Where each object was first defined, for duplicate messages.
    let mut first: BTreeMap<(Kind, String), &'a LoadedDoc> = BTreeMap::new();
    let mut dup = |diags: &mut Vec<Diagnostic>,
                   kind: Kind,
                   key: String,
                   doc: &'a LoadedDoc,
                   what: &str|
     -> bool {
        match first.get(&(kind, key.clone())) {
            Some(prev) => {
                err(
                    diags,
                    doc,
                    "metadata.name",
                    format!(
                        "{kind} `{}` is already defined at {} ({what})",
                        doc.doc.metadata().name,
                        place(prev)
                    ),
                );
                true
            }
            None => {
                first.insert((kind, key), doc);
                false
            }
        }
    };

    // Hosts first: every other object's metadata.host refers to them.
    for p in &pending {
        if let Obj::Host(h) = &p.obj {
            if !dup(
                diags,
                Kind::Host,
                h.meta.name.clone(),
                p.doc,
                "Host names are unique",
            ) {
                state.hosts.insert(h.meta.name.clone(), h.clone());
            }
        }
    }
    let host_known = |diags: &mut Vec<Diagnostic>, doc: &LoadedDoc, host: &HostName| -> bool {
        match host {
            Some(h) if !state.hosts.contains_key(h) => {
                let hint = did_you_mean(h, state.hosts.keys().map(String::as_str))
                    .map(|s| format!(" (did you mean `{s}`?)"))
                    .unwrap_or_default();
                err(diags, doc, "metadata.host", format!("unknown host `{h}`{hint}; define it with a Host manifest (kind: Host, spec.uri)"));
                false
            }
            _ => true,
        }
    };
    let hkey = |h: &HostName| h.as_deref().unwrap_or("<default>").to_string();

    // Pools, networks and domains: unique per kind per host.
    fn unique<'a, T: Clone>(
        map: &mut BTreeMap<ObjKey, T>,
        obj: &T,
        meta: &Meta,
        (kind, noun): (Kind, &str),
        doc: &'a LoadedDoc,
        dup: &mut impl FnMut(Kind, String, &'a LoadedDoc, &str) -> bool,
    ) {
        let key = ObjKey {
            host: meta.host.clone(),
            name: meta.name.clone(),
        };
        let id = format!(
            "{}/{}",
            meta.host.as_deref().unwrap_or("<default>"),
            key.name
        );
        if !dup(kind, id, doc, &format!("{noun} names are unique per host")) {
            map.insert(key, obj.clone());
        }
    }
    for p in &pending {
        let meta = match &p.obj {
            Obj::Pool(o) => &o.meta,
            Obj::Network(o) => &o.meta,
            Obj::Domain(o) => &o.meta,
            _ => continue,
        };
        host_known(diags, p.doc, &meta.host);
        let mut dup_here = |kind, key, doc, what: &str| dup(diags, kind, key, doc, what);
        match &p.obj {
            Obj::Pool(o) => unique(
                &mut state.pools,
                o,
                meta,
                (Kind::StoragePool, "pool"),
                p.doc,
                &mut dup_here,
            ),
            Obj::Network(o) => unique(
                &mut state.networks,
                o,
                meta,
                (Kind::Network, "network"),
                p.doc,
                &mut dup_here,
            ),
            Obj::Domain(o) => unique(
                &mut state.domains,
                o,
                meta,
                (Kind::Domain, "domain"),
                p.doc,
                &mut dup_here,
            ),
            _ => {}
        }
    }

    // A Volume's host is its pool's, a Snapshot's its domain's: the stated
    // host when metadata.host is given; otherwise the default connection
    // when the pool (domain) is there, else the one named host that has it.
    fn owner_host<T>(
        map: &BTreeMap<ObjKey, T>,
        host: &HostName,
        name: &str,
    ) -> Result<HostName, usize> {
        let on = |h: &HostName| {
            map.contains_key(&ObjKey {
                host: h.clone(),
                name: name.to_string(),
            })
        };
        if host.is_some() || on(&None) {
            return if on(host) { Ok(host.clone()) } else { Err(0) };
        }
        let found: Vec<&HostName> = map
            .keys()
            .filter(|k| k.name == name)
            .map(|k| &k.host)
            .collect();
        match found.as_slice() {
            [one] => Ok((*one).clone()),
            many => Err(many.len()),
        }
    }
    for p in &pending {
        match &p.obj {
            Obj::Volume(o) => {
                host_known(diags, p.doc, &o.meta.host);
                let host = match owner_host(&state.pools, &o.meta.host, &o.pool) {
                    Ok(h) => h,
                    Err(0) => {
                        let hint =
                            did_you_mean(&o.pool, state.pools.keys().map(|k| k.name.as_str()))
                                .map(|s| format!(" (did you mean `{s}`?)"))
                                .unwrap_or_default();
                        err(diags, p.doc, "spec.pool", format!("unknown StoragePool `{}`{hint}; add its manifest (with `metadata.external: true` if it exists already)", o.pool));
                        continue;
                    }
                    Err(_) => {
                        err(
                            diags,
                            p.doc,
                            "spec.pool",
                            format!(
                                "StoragePool `{}` exists on several hosts; set metadata.host",
                                o.pool
                            ),
                        );
                        continue;
                    }
                };
                let key = VolKey {
                    host: host.clone(),
                    pool: o.pool.clone(),
                    name: o.meta.name.clone(),
                };
                if !dup(
                    diags,
                    Kind::Volume,
                    format!("{}/{}/{}", hkey(&host), key.pool, key.name),
                    p.doc,
                    "volume names are unique per pool",
                ) {
                    let mut v = o.clone();
                    v.meta.host = host;
                    state.volumes.insert(key, v);
                }
            }
            Obj::Snapshot(o) => {
                host_known(diags, p.doc, &o.meta.host);
                let host = match owner_host(&state.domains, &o.meta.host, &o.domain) {
                    Ok(h) => h,
                    Err(0) => {
                        let hint =
                            did_you_mean(&o.domain, state.domains.keys().map(|k| k.name.as_str()))
                                .map(|s| format!(" (did you mean `{s}`?)"))
                                .unwrap_or_default();
                        err(
                            diags,
                            p.doc,
                            "spec.domain",
                            format!(
                                "unknown Domain `{}`{hint}; a Snapshot's spec.domain names a Domain manifest",
                                o.domain
                            ),
                        );
                        continue;
                    }
                    Err(_) => {
                        err(
                            diags,
                            p.doc,
                            "spec.domain",
                            format!(
                                "Domain `{}` exists on several hosts; set metadata.host",
                                o.domain
                            ),
                        );
                        continue;
                    }
                };
                let key = SnapKey {
                    host: host.clone(),
                    domain: o.domain.clone(),
                    name: o.meta.name.clone(),
                };
                if !dup(
                    diags,
                    Kind::Snapshot,
                    format!("{}/{}/{}", hkey(&host), key.domain, key.name),
                    p.doc,
                    "snapshot names are unique per domain",
                ) {
                    let mut s = o.clone();
                    s.meta.host = host;
                    state.snapshots.insert(key, s);
                }
            }
            _ => {}
        }
    }

    // References from volumes to volumes.
    for p in &pending {
        let Obj::Volume(o) = &p.obj else { continue };
        let Some(host) = state
            .volumes
            .iter()
            .find(|(k, v)| {
                k.name == o.meta.name && k.pool == o.pool && v.meta.source == o.meta.source
            })
            .map(|(k, _)| k.host.clone())
        else {
            continue;
        };
        for (f, r) in [
            ("backingStore", &o.backing_store),
            ("cloneFrom", &o.clone_from),
        ] {
            let Some((pool, name)) = r else { continue };
            let key = VolKey {
                host: host.clone(),
                pool: pool.clone(),
                name: name.clone(),
            };
            if !state.volumes.contains_key(&key) {
                err(diags, p.doc, &format!("spec.{f}.name"), format!("unknown Volume `{name}` in pool `{pool}`; add its manifest (with `metadata.external: true` for a golden image that exists already)"));
            }
        }
    }

    // References from domains; disk paths against the allowed roots.
    for p in &pending {
        let Obj::Domain(d) = &p.obj else { continue };
        let host = &d.meta.host;
        let mut roots: Vec<PathBuf> = vec![PathBuf::from(DEFAULT_IMAGE_ROOT)];
        // Only the default root and --allow-path: a pool manifest must not
        // be a way to open /etc to disk paths.
        roots.extend(opts.allow_paths.iter().cloned());
        let mut has_qcow2 = None::<bool>;
        for (i, disk) in d.disks.iter().flatten().enumerate() {
            match &disk.source {
                DiskSource::Volume { pool, name } => {
                    let pool_key = ObjKey {
                        host: host.clone(),
                        name: pool.clone(),
                    };
                    if !state.pools.contains_key(&pool_key) {
                        let hint = did_you_mean(
                            pool,
                            state
                                .pools
                                .keys()
                                .filter(|k| &k.host == host)
                                .map(|k| k.name.as_str()),
                        )
                        .map(|s| format!(" (did you mean `{s}`?)"))
                        .unwrap_or_default();
                        err(
                            diags,
                            p.doc,
                            &format!("spec.disks[{i}].volume.pool"),
                            format!("unknown StoragePool `{pool}`{hint} on this domain's host; add its manifest (with `metadata.external: true` if it exists already)"),
                        );
                        continue;
                    }
                    match state.volumes.get(&VolKey {
                        host: host.clone(),
                        pool: pool.clone(),
                        name: name.clone(),
                    }) {
                        None => {
                            let hint = did_you_mean(
                                name,
                                state
                                    .volumes
                                    .keys()
                                    .filter(|k| &k.host == host && &k.pool == pool)
                                    .map(|k| k.name.as_str()),
                            )
                            .map(|s| format!(" (did you mean `{s}`?)"))
                            .unwrap_or_default();
                            err(diags, p.doc, &format!("spec.disks[{i}].volume.name"), format!("unknown Volume `{name}`{hint} in pool `{pool}`; add its manifest (with `metadata.external: true` if it exists already)"));
                        }
                        Some(v) if v.external => {
                            has_qcow2.get_or_insert(false);
                            // Format unknown until plan time: give the benefit of the doubt.
                            has_qcow2 = Some(true);
                        }
                        Some(v) => {
                            let q = v.format.unwrap_or(VolumeFormat::Qcow2) == VolumeFormat::Qcow2
                                && disk.device == DiskDevice::Disk;
                            has_qcow2 = Some(has_qcow2.unwrap_or(false) || q);
                        }
                    }
                }
                DiskSource::Path { path, format } => {
                    let norm: PathBuf = Path::new(path).components().collect();
                    if !roots.iter().any(|r| norm.starts_with(r)) {
                        err(diags, p.doc, &format!("spec.disks[{i}].path"), format!(
                            "path `{path}` is outside the allowed roots ({}); put the image under one of them, in a pool, or pass --allow-path DIR",
                            roots.iter().map(|r| r.display().to_string()).collect::<Vec<_>>().join(", ")
                        ));
                    }
                    has_qcow2 = Some(
                        has_qcow2.unwrap_or(false)
                            || (*format == VolumeFormat::Qcow2 && disk.device == DiskDevice::Disk),
                    );
                }
                DiskSource::Empty => {
                    has_qcow2.get_or_insert(false);
                }
            }
        }
        if d.disks.as_ref().is_some_and(|v| v.is_empty()) {
            has_qcow2 = Some(false);
        }
        for (i, nic) in d.interfaces.iter().flatten().enumerate() {
            if let InterfaceSource::Network(net) = &nic.source {
                if !state.networks.contains_key(&ObjKey {
                    host: host.clone(),
                    name: net.clone(),
                }) {
                    let hint = did_you_mean(
                        net,
                        state
                            .networks
                            .keys()
                            .filter(|k| &k.host == host)
                            .map(|k| k.name.as_str()),
                    )
                    .map(|s| format!(" (did you mean `{s}`?)"))
                    .unwrap_or_default();
                    err(diags, p.doc, &format!("spec.interfaces[{i}].network"), format!("unknown Network `{net}`{hint}; add its manifest (with `metadata.external: true` for one that exists already, such as libvirt's `default`)"));
                }
            }
        }
        if d.snapshot_policy.is_some() && has_qcow2 == Some(false) {
            err(
                diags,
                p.doc,
                "spec.snapshotPolicy",
                "snapshots need a qcow2 disk and this domain has none".into(),
            );
        }
        let snaps = state
            .snapshots
            .keys()
            .filter(|k| &k.host == host && k.domain == d.meta.name)
            .count();
        if snaps > 0 && has_qcow2 == Some(false) {
            for p2 in &pending {
                if let Obj::Snapshot(s) = &p2.obj {
                    if s.domain == d.meta.name
                        && state.snapshots.keys().any(|k| {
                            &k.host == host && k.domain == s.domain && k.name == s.meta.name
                        })
                    {
                        err(
                            diags,
                            p2.doc,
                            "spec.domain",
                            format!(
                                "Domain `{}` has no qcow2 disk; internal snapshots need one",
                                d.meta.name
                            ),
                        );
                    }
                }
            }
        }
    }
    state
}

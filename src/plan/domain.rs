//! Planning one domain: field diffs against the observed persistent config,
//! each classified, then the actions (define, live updates, autostart,
//! power state) in order.

use super::*;
use crate::render::domain::*;
use crate::xml::Element;

/// Field-by-field differences of the fields the manifest sets, after
/// normalising both sides the way libvirt does.
///
/// `mem_align_kib` is how far up libvirt may have rounded memory in the XML
/// compared: 1 for the persistent config, 1024 for the live XML of a
/// running transient domain (QEMU runs whole MiB).
pub(crate) fn domain_changes(
    d: &Domain,
    have: &DomainFacts,
    caps: &Capabilities,
    running: bool,
    mem_align_kib: u64,
) -> Vec<Change> {
    let same_mem =
        |have: u64, want: u64| have >= want && have <= want.div_ceil(mem_align_kib) * mem_align_kib;
    let mut out = Vec::new();
    let mut diff = |field: &str, from: String, to: String, class: ChangeClass| {
        if from != to {
            out.push(Change {
                field: field.to_string(),
                from,
                to,
                class,
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
            "type",
            have.domain_type.clone(),
            t.as_str().into(),
            ChangeClass::NextBoot,
        );
    }
    if let Some(a) = &d.arch {
        diff(
            "arch",
            have.arch.clone().unwrap_or_default(),
            a.clone(),
            ChangeClass::NextBoot,
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
                "machine",
                have.machine.clone().unwrap_or_default(),
                m.clone(),
                ChangeClass::NextBoot,
            );
        }
    }
    if let Some(f) = d.firmware {
        let show = |uefi: bool| if uefi { "uefi" } else { "bios" }.to_string();
        diff(
            "firmware",
            show(have.uefi),
            show(f == Firmware::Uefi),
            ChangeClass::NextBoot,
        );
    }
    if d.firmware == Some(Firmware::Uefi) {
        if let Some(s) = d.secure_boot {
            diff(
                "secureBoot",
                have.secure_boot.unwrap_or(false).to_string(),
                s.to_string(),
                ChangeClass::NextBoot,
            );
        }
    }
    // Memory: the balloon (currentMemory) moves live within the ceiling.
    let max_mem = target_max_memory(d, Some(have.max_memory_kib));
    if !same_mem(have.max_memory_kib, max_mem) {
        diff(
            "maxMemory",
            show_kib(have.max_memory_kib),
            show_kib(max_mem),
            ChangeClass::NextBoot,
        );
    }
    let mem = kib(d.memory);
    let mem_class = if running && mem <= have.max_memory_kib {
        ChangeClass::Live
    } else {
        ChangeClass::NextBoot
    };
    if !same_mem(have.memory_kib, mem) {
        diff(
            "memory",
            show_kib(have.memory_kib),
            show_kib(mem),
            mem_class,
        );
    }
    let max_vcpus = target_max_vcpus(d, Some(have.max_vcpus));
    diff(
        "maxVcpus",
        have.max_vcpus.to_string(),
        max_vcpus.to_string(),
        ChangeClass::NextBoot,
    );
    // vCPU hot-add works without the guest; removal needs its help.
    let vcpu_class = if running && d.vcpus > have.vcpus && d.vcpus <= have.max_vcpus {
        ChangeClass::Live
    } else {
        ChangeClass::NextBoot
    };
    diff(
        "vcpus",
        have.vcpus.to_string(),
        d.vcpus.to_string(),
        vcpu_class,
    );
    if let Some(c) = &d.cpu {
        diff(
            "cpu.mode",
            have.cpu_mode.clone().unwrap_or_default(),
            cpu_mode_str(c.mode).into(),
            ChangeClass::NextBoot,
        );
        if c.mode == CpuMode::Custom {
            diff(
                "cpu.model",
                have.cpu_model.clone().unwrap_or_default(),
                c.model.clone().unwrap_or_default(),
                ChangeClass::NextBoot,
            );
        }
    }
    if let Some(b) = &d.boot {
        let want: Vec<&str> = b.iter().map(|x| boot_str(*x)).collect();
        diff(
            "boot",
            have.boot.join(","),
            want.join(","),
            ChangeClass::NextBoot,
        );
    }
    if let Some(disks) = &d.disks {
        let matched = match_disks(disks, &have.disks);
        for (i, (w, m)) in disks.iter().zip(&matched).enumerate() {
            let f = format!("disks[{i}]");
            match m {
                None => diff(
                    &f,
                    "(none)".into(),
                    disk_summary(w),
                    device_class(running, disk_hotpluggable(w)),
                ),
                Some(j) => {
                    let h = &have.disks[*j];
                    diff(
                        &format!("{f}.source"),
                        h.source.clone(),
                        disk_source_text(w),
                        ChangeClass::NextBoot,
                    );
                    diff(
                        &format!("{f}.device"),
                        h.device.clone(),
                        device_str(w.device).into(),
                        ChangeClass::NextBoot,
                    );
                    if let Some(b) = w.bus {
                        diff(
                            &format!("{f}.bus"),
                            h.bus.clone().unwrap_or_default(),
                            bus_str(b).into(),
                            ChangeClass::NextBoot,
                        );
                    }
                    if let Some(t) = &w.target {
                        diff(
                            &format!("{f}.target"),
                            h.target.clone().unwrap_or_default(),
                            t.clone(),
                            ChangeClass::NextBoot,
                        );
                    }
                    if let Some(ro) = w.readonly {
                        diff(
                            &format!("{f}.readonly"),
                            h.readonly.to_string(),
                            ro.to_string(),
                            ChangeClass::NextBoot,
                        );
                    }
                    if let DiskSource::Path { format, .. } = &w.source {
                        let want = match format {
                            VolumeFormat::Qcow2 => "qcow2",
                            VolumeFormat::Raw => "raw",
                        };
                        diff(
                            &format!("{f}.format"),
                            h.format.clone().unwrap_or_else(|| "raw".into()),
                            want.into(),
                            ChangeClass::NextBoot,
                        );
                    }
                }
            }
        }
        removed(&mut diff, "disks", &have.disks, &matched, |h| {
            let text = format!("{} {}", h.source, h.target.clone().unwrap_or_default());
            (
                text,
                device_class(running, h.bus.as_deref() == Some("virtio")),
            )
        });
    }
    if let Some(nics) = &d.interfaces {
        let matched = match_nics(nics, &have.interfaces);
        for (i, (w, m)) in nics.iter().zip(&matched).enumerate() {
            let f = format!("interfaces[{i}]");
            match m {
                None => diff(
                    &f,
                    "(none)".into(),
                    nic_summary(w),
                    device_class(running, true),
                ),
                Some(j) => {
                    let h = &have.interfaces[*j];
                    diff(
                        &format!("{f}.source"),
                        h.source.clone(),
                        nic_source_text(w),
                        ChangeClass::NextBoot,
                    );
                    if let Some(mac) = &w.mac {
                        diff(
                            &format!("{f}.mac"),
                            h.mac.clone().unwrap_or_default(),
                            mac.clone(),
                            ChangeClass::NextBoot,
                        );
                    }
                    if let Some(model) = w.model {
                        diff(
                            &format!("{f}.model"),
                            h.model.clone().unwrap_or_default(),
                            model.as_str().into(),
                            ChangeClass::NextBoot,
                        );
                    }
                    if let Some(rom) = w.boot_rom {
                        diff(
                            &format!("{f}.bootRom"),
                            h.boot_rom.unwrap_or(true).to_string(),
                            rom.to_string(),
                            ChangeClass::NextBoot,
                        );
                    }
                }
            }
        }
        removed(&mut diff, "interfaces", &have.interfaces, &matched, |h| {
            let text = format!("{} {}", h.source, h.mac.clone().unwrap_or_default());
            (text, device_class(running, true))
        });
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
                        .find(|(t, _)| t == graphics_str(k))
                        .and_then(|(_, l)| l.clone())
                });
                graphics_summary(graphics_str(k), listen.as_deref())
            }
        };
        diff("graphics", have_g.join(","), want, ChangeClass::NextBoot);
    }
    if let Some(c) = d.console {
        let want = match c {
            Console::Pty => "pty",
            Console::None => "none",
        };
        diff(
            "console",
            have.console.clone().unwrap_or_else(|| "none".into()),
            want.into(),
            ChangeClass::NextBoot,
        );
    }
    out
}

/// Adding or removing a device of a running guest is a live change when the
/// device can be hot-plugged (PCI: virtio disks, NICs); otherwise it waits
/// for the next boot.
fn device_class(running: bool, hotpluggable: bool) -> ChangeClass {
    if running && hotpluggable {
        ChangeClass::Live
    } else {
        ChangeClass::NextBoot
    }
}

/// SATA and IDE disks cannot be hot-plugged; virtio disks can.
fn disk_hotpluggable(d: &Disk) -> bool {
    let bus = d.bus.or_else(|| match d.target.as_deref() {
        Some(t) if t.starts_with("vd") => Some(DiskBus::Virtio),
        Some(_) => Some(DiskBus::Sata),
        None => None,
    });
    d.device == DiskDevice::Disk && bus.unwrap_or(DiskBus::Virtio) == DiskBus::Virtio
}

/// The device elements to hot-plug into and out of the running guest: new
/// devices as `rendered` has them (so live and persistent config agree, MAC
/// included), removed ones as the observed config has them.
fn hotplug(
    d: &Domain,
    root: &Element,
    rendered: &Element,
    changes: &[Change],
) -> (Vec<String>, Vec<String>) {
    let live = |field: &str| {
        changes
            .iter()
            .any(|c| c.field == field && c.class == ChangeClass::Live)
    };
    let devices = |e: &Element, name: &str| -> Vec<Element> {
        e.child("devices")
            .map(|x| x.children_named(name).cloned().collect())
            .unwrap_or_default()
    };
    let (mut attach, mut detach) = (Vec::new(), Vec::new());
    for (list, elem) in [("disks", "disk"), ("interfaces", "interface")] {
        let set = match list {
            "disks" => d.disks.as_ref().map(Vec::len),
            _ => d.interfaces.as_ref().map(Vec::len),
        };
        let Some(n) = set else { continue };
        let new = devices(rendered, elem);
        for (i, e) in new.iter().enumerate().take(n) {
            if live(&format!("{list}[{i}]")) {
                attach.push(e.to_xml());
            }
        }
        for (j, e) in devices(root, elem).iter().enumerate() {
            if changes.iter().any(|c| {
                c.field == format!("{list}[{j}]")
                    && c.to == "(removed)"
                    && c.class == ChangeClass::Live
            }) {
                // The live device may sit at another PCI address than the
                // config says: let libvirt match it by MAC or target.
                let mut e = e.clone();
                e.remove_children("address");
                e.remove_children("alias");
                detach.push(e.to_xml());
            }
        }
    }
    (attach, detach)
}

/// Observed list entries no manifest entry matched: they are removed.
fn removed<T>(
    diff: &mut impl FnMut(&str, String, String, ChangeClass),
    list: &str,
    have: &[T],
    matched: &[Option<usize>],
    show: impl Fn(&T) -> (String, ChangeClass),
) {
    for (j, h) in have.iter().enumerate() {
        if !matched.contains(&Some(j)) {
            let (text, class) = show(h);
            diff(&format!("{list}[{j}]"), text, "(removed)".into(), class);
        }
    }
}

fn disk_summary(d: &Disk) -> String {
    let mut s = disk_source_text(d);
    if let Some(t) = &d.target {
        s.push(' ');
        s.push_str(t);
    }
    s
}

fn nic_summary(n: &Interface) -> String {
    let mut s = nic_source_text(n);
    if let Some(m) = &n.mac {
        s.push(' ');
        s.push_str(m);
    }
    s
}

fn graphics_summary(t: &str, listen: Option<&str>) -> String {
    match listen {
        Some(l) => format!("{t} {l}"),
        None => t.to_string(),
    }
}

pub(crate) fn plan_domain(b: &mut Builder, d: &Domain) {
    if d.snapshot_policy.is_some() {
        // Never silently ignored: the policy would promise snapshots that
        // nothing takes yet.
        b.error(
            Kind::Domain,
            &d.meta,
            "spec.snapshotPolicy is not supported yet by plan/apply; remove it or wait for snapshot support",
        );
        return;
    }
    // A managed domain of this name on another connected host that the
    // manifests do not put there: `metadata.host` was moved. Until
    // migration exists, refuse rather than run a second copy.
    for (other, oh) in &b.input.observed.hosts {
        if other == &d.meta.host
            || b.input.desired.domains.contains_key(&ObjKey {
                host: other.clone(),
                name: d.meta.name.clone(),
            })
        {
            continue;
        }
        let owned_there = oh
            .domains
            .get(&d.meta.name)
            .and_then(|o| o.xml.as_deref())
            .and_then(|x| Element::parse(x).ok())
            .is_some_and(|r| crate::render::read_marker(&r).is_some());
        if owned_there {
            let there = other
                .clone()
                .unwrap_or_else(|| "the default connection".into());
            return b.error(
                Kind::Domain,
                &d.meta,
                format!(
                    "virtsync manages a domain of this name on {there} too; moving a domain between hosts (migration) is not supported yet: shut it down and undefine it there first, or restore metadata.host"
                ),
            );
        }
    }
    let Some(host) = b.host_of(Kind::Domain, &d.meta) else {
        return;
    };
    if b.unreadable(Kind::Domain, &d.meta, host, &d.meta.name) {
        return;
    }
    let caps = &host.caps;
    let desired = b.input.desired;
    let hname = d.meta.host.clone();
    // What this domain needs ready before it is defined or started.
    let mut deps: Vec<String> = Vec::new();
    for disk in d.disks.iter().flatten() {
        if let DiskSource::Volume { pool, name } = &disk.source {
            deps.push(obj_key(Kind::StoragePool, &hname, pool));
            deps.push(obj_key(Kind::Volume, &hname, &format!("{pool}/{name}")));
        }
    }
    for nic in d.interfaces.iter().flatten() {
        if let InterfaceSource::Network(n) = &nic.source {
            deps.push(obj_key(Kind::Network, &hname, n));
        }
    }
    // The driver type of a volume disk: the volume manifest's format, else
    // what the host reports (an ISO image is raw to QEMU).
    let volume_format = |pool: &str, name: &str| -> Option<String> {
        let key = VolKey {
            host: hname.clone(),
            pool: pool.to_string(),
            name: name.to_string(),
        };
        let from_manifest = desired
            .volumes
            .get(&key)
            .and_then(|v| v.format)
            .map(|f| crate::render::storage::format_str(f).to_string());
        from_manifest.or_else(|| {
            host.volumes
                .get(&(pool.to_string(), name.to_string()))
                .and_then(|v| v.xml.as_deref())
                .and_then(|x| Element::parse(x).ok())
                .and_then(|e| {
                    e.find(&["target", "format"])
                        .and_then(|f| f.attr("type"))
                        .map(str::to_string)
                })
                .map(|t| if t == "iso" { "raw".to_string() } else { t })
        })
    };
    let marker = b.marker(&d.meta, d);
    let cx = DomainContext {
        caps,
        volume_format: &volume_format,
        marker: &marker,
    };
    let timeout_ms = d.shutdown_timeout.as_millis() as u64;

    let Some(obs) = host.domains.get(&d.meta.name) else {
        // A new domain.
        let xml = match render_domain(d, None, &cx) {
            Ok(x) => x.to_xml(),
            Err(e) => return b.error(Kind::Domain, &d.meta, e),
        };
        if !d.persistent {
            if d.state != PowerState::Shutoff {
                let paused = d.state == PowerState::Paused;
                b.push(
                    &hname,
                    &d.meta.name,
                    Effect::Create,
                    vec![],
                    Step::CreateDomain { xml, paused },
                    &deps,
                    true,
                );
            }
            return;
        }
        b.push(
            &hname,
            &d.meta.name,
            Effect::Create,
            vec![],
            Step::DefineDomain { xml },
            &deps,
            true,
        );
        if d.autostart == Some(true) {
            b.enable_autostart(Kind::Domain, &hname, &d.meta.name);
        }
        if d.state != PowerState::Shutoff {
            let paused = d.state == PowerState::Paused;
            b.push(
                &hname,
                &d.meta.name,
                Effect::Power,
                vec![],
                Step::StartDomain { paused },
                &deps,
                true,
            );
        }
        return;
    };

    let Some(root) = b.owned_xml(
        Kind::Domain,
        &d.meta,
        obs.xml.as_deref(),
        "rename the manifest, or remove or rename the existing domain (adoption comes in a later release)",
    ) else {
        return;
    };
    let running = obs.state != PowerState::Shutoff;
    let facts = read_domain(&root);
    if let Some(u) = d.uuid.as_ref().filter(|u| **u != facts.uuid) {
        // Replacing a domain would lose what virtsync does not model (and
        // its NVRAM); an operator decides that, not a plan.
        return b.error(
            Kind::Domain,
            &d.meta,
            format!(
                "the domain's UUID on the host is {}, the manifest says {u}; a domain is never replaced automatically: remove `uuid` from the manifest, or undefine the domain by hand",
                facts.uuid
            ),
        );
    }
    // A transient domain has no persistent config: its XML is the live one.
    let mem_align = if obs.persistent { 1 } else { 1024 };
    let mut changes = domain_changes(d, &facts, caps, running, mem_align);
    changes.extend(xml_changes(&d.xml, &root));
    if obs.persistent != d.persistent {
        changes.push(Change {
            field: "persistent".into(),
            from: obs.persistent.to_string(),
            to: d.persistent.to_string(),
            class: ChangeClass::Replace,
        });
    }
    // A transient domain has no persistent config to update: any change
    // means creating it anew.
    if !d.persistent && !obs.persistent {
        for c in &mut changes {
            c.class = ChangeClass::Replace;
        }
    }
    let replace = changes.iter().any(|c| c.class == ChangeClass::Replace);
    let name = d.meta.name.clone();
    let mut state = obs.state;

    if replace {
        let xml = match render_domain(d, Some(&root), &cx) {
            Ok(x) => x.to_xml(),
            Err(e) => return b.error(Kind::Domain, &d.meta, e),
        };
        if d.persistent && !obs.persistent {
            // Defining a (running) transient domain makes it persistent;
            // the guest keeps running.
            b.push(
                &hname,
                &name,
                Effect::Update,
                changes,
                Step::DefineDomain { xml },
                &deps,
                true,
            );
        } else {
            // Undefining a running domain leaves it running as a transient
            // one, so a bare persistent → transient flip needs no stop.
            let flip_only = changes.iter().all(|c| c.field == "persistent");
            if !flip_only && state != PowerState::Shutoff {
                b.push(
                    &hname,
                    &name,
                    Effect::Power,
                    vec![],
                    Step::ShutdownDomain { timeout_ms },
                    &[],
                    false,
                );
                state = PowerState::Shutoff;
            }
            if obs.persistent {
                b.push(
                    &hname,
                    &name,
                    Effect::Delete,
                    vec![],
                    Step::UndefineDomain {
                        flags: replace_undefine_flags(&root),
                    },
                    &[],
                    false,
                );
            }
            if d.persistent {
                b.push(
                    &hname,
                    &name,
                    Effect::Update,
                    changes,
                    Step::DefineDomain { xml },
                    &deps,
                    true,
                );
            } else if state == PowerState::Shutoff && d.state != PowerState::Shutoff {
                let paused = d.state == PowerState::Paused;
                b.push(
                    &hname,
                    &name,
                    Effect::Create,
                    changes,
                    Step::CreateDomain { xml, paused },
                    &deps,
                    true,
                );
                return;
            }
        }
        // A new definition starts without autostart.
        if d.persistent && d.autostart == Some(true) {
            b.enable_autostart(Kind::Domain, &hname, &name);
        }
    } else if !changes.is_empty() {
        let rendered = match render_domain(d, Some(&root), &cx) {
            Ok(x) => x,
            Err(e) => return b.error(Kind::Domain, &d.meta, e),
        };
        let (attach, detach) = if running {
            hotplug(d, &root, &rendered, &changes)
        } else {
            (vec![], vec![])
        };
        let xml = rendered.to_xml();
        let live_mem = changes
            .iter()
            .any(|c| c.field == "memory" && c.class == ChangeClass::Live);
        let live_cpu = changes
            .iter()
            .any(|c| c.field == "vcpus" && c.class == ChangeClass::Live);
        let next_boot: Vec<String> = changes
            .iter()
            .filter(|c| c.class == ChangeClass::NextBoot)
            .map(|c| c.field.clone())
            .collect();
        if d.persistent {
            b.push(
                &hname,
                &name,
                Effect::Update,
                changes,
                Step::DefineDomain { xml },
                &deps,
                true,
            );
        }
        if running && (live_mem || live_cpu || !attach.is_empty() || !detach.is_empty()) {
            b.push(
                &hname,
                &name,
                Effect::Update,
                vec![],
                Step::UpdateLive {
                    memory_kib: live_mem.then(|| kib(d.memory)),
                    vcpus: live_cpu.then_some(d.vcpus),
                    attach,
                    detach,
                },
                &[],
                false,
            );
        }
        if running && !next_boot.is_empty() && d.state != PowerState::Shutoff {
            if d.restart_policy == RestartPolicy::OnConfigChange {
                b.push(
                    &hname,
                    &name,
                    Effect::Power,
                    vec![],
                    Step::RestartDomain {
                        timeout_ms,
                        paused: d.state == PowerState::Paused,
                    },
                    &deps,
                    true,
                );
                // The restart brings the guest to its desired state already.
                state = d.state;
            } else {
                b.notice(
                    Kind::Domain,
                    &d.meta,
                    format!(
                        "restart pending: {} take effect at the next boot (restartPolicy: never)",
                        next_boot.join(", ")
                    ),
                );
            }
        }
    }
    // Autostart (persistent domains only).
    if d.persistent && !replace {
        if let Some(a) = d.autostart {
            if a != obs.autostart {
                b.push(
                    &hname,
                    &name,
                    Effect::Update,
                    vec![autostart_change(obs.autostart, a)],
                    Step::SetDomainAutostart { on: a },
                    &[],
                    false,
                );
            }
        }
    }
    // Power state: the step from the observed state to the desired one.
    let power = match (state, d.state) {
        (PowerState::Shutoff, PowerState::Running) => {
            Some((Step::StartDomain { paused: false }, &deps[..]))
        }
        (PowerState::Shutoff, PowerState::Paused) => {
            Some((Step::StartDomain { paused: true }, &deps[..]))
        }
        (PowerState::Paused, PowerState::Running) => Some((Step::ResumeDomain, &[][..])),
        (PowerState::Running, PowerState::Paused) => Some((Step::SuspendDomain, &[][..])),
        (PowerState::Running | PowerState::Paused, PowerState::Shutoff) => {
            Some((Step::ShutdownDomain { timeout_ms }, &[][..]))
        }
        _ => None,
    };
    if let Some((step, deps)) = power {
        b.push(&hname, &name, Effect::Power, vec![], step, deps, true);
    }
}

/// Undefining a domain to define it anew (replace): its snapshot metadata,
/// checkpoints and managed save go with the old definition, and its UEFI
/// variables stay for the new one, which names the same NVRAM file.
fn replace_undefine_flags(root: &Element) -> crate::backend::UndefineFlags {
    let os = root.child("os");
    let has_nvram = os.is_some_and(|o| {
        o.child("nvram").is_some()
            || o.attr("firmware") == Some("efi")
            || o.child("loader")
                .is_some_and(|l| l.attr("type") == Some("pflash"))
    });
    crate::backend::UndefineFlags {
        managed_save: true,
        snapshots_metadata: true,
        checkpoints_metadata: true,
        nvram: false,
        keep_nvram: has_nvram,
    }
}

//! Planning one domain: the typed difference against the observed
//! persistent config ([`crate::render::domain::diff`]), what libvirt would
//! refuse or override ([`refuse`]), the live part addressed to the running
//! guest ([`live`]), then the actions (define, live updates, autostart,
//! power state) in order.

mod live;
mod migrate;
mod refuse;

use super::*;
use crate::render::domain::*;
use crate::xml::Element;
use live::LiveDevice;

/// The plan's `changes` of a domain diff. `devices_live` holds the live
/// fate of each device change (see [`live::live_devices`]); without it
/// (a replace) every class is `replace_all`'s.
fn changes_of(
    diff: &DomainDiff,
    devices_live: &[Option<LiveDevice>],
    replace_all: bool,
) -> Vec<Change> {
    let class = |live: bool| {
        if replace_all {
            ChangeClass::Replace
        } else if live {
            ChangeClass::Live
        } else {
            ChangeClass::NextBoot
        }
    };
    let mut out: Vec<Change> = diff
        .fields
        .iter()
        .map(|c| Change {
            field: c.field.name().to_string(),
            from: c.from.clone(),
            to: c.to.clone(),
            class: class(c.live),
        })
        .collect();
    for (k, c) in diff.devices.iter().enumerate() {
        let live = matches!(
            devices_live.get(k),
            Some(Some(
                LiveDevice::Attach(_) | LiveDevice::Detach(_) | LiveDevice::Done
            ))
        );
        out.push(match c {
            DeviceChange::Added { id, summary, .. } => Change {
                field: id.name(),
                from: "(none)".into(),
                to: summary.clone(),
                class: class(live),
            },
            DeviceChange::Removed { id, summary, .. } => Change {
                field: id.name(),
                from: summary.clone(),
                to: "(removed)".into(),
                class: class(live),
            },
            DeviceChange::Changed { id, attr, from, to } => Change {
                field: format!("{}.{}", id.name(), attr.name()),
                from: from.clone(),
                to: to.clone(),
                class: class(false),
            },
        });
    }
    out
}

pub(crate) fn plan_domain(b: &mut Builder, d: &Domain) {
    // Managed on another host the manifests no longer put it on: a move.
    let Ok(moved_from) = migrate::moved_from(b, d) else {
        return;
    };
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
    // what the host reports (an ISO image is raw to QEMU), else — for a
    // volume this plan creates — the manifest's create-time default. Never
    // a guess: unknown stays unknown.
    let volume_format = |pool: &str, name: &str| -> Option<String> {
        let key = VolKey {
            host: hname.clone(),
            pool: pool.to_string(),
            name: name.to_string(),
        };
        let manifest = desired.volumes.get(&key);
        let from_manifest = manifest
            .and_then(|v| v.format)
            .map(|f| f.as_str().to_string());
        let observed = host.volumes.get(&(pool.to_string(), name.to_string()));
        let from_host = || {
            observed
                .and_then(|v| v.xml.as_deref())
                .and_then(|x| Element::parse(x).ok())
                .and_then(|e| {
                    e.find(&["target", "format"])
                        .and_then(|f| f.attr("type"))
                        .map(str::to_string)
                })
                .map(|t| if t == "iso" { "raw".to_string() } else { t })
        };
        let created_here = || {
            // A seed ISO is raw; an image volume is taken for qcow2 until
            // it exists (its format is apply's to read).
            let seed = manifest.is_some_and(|v| v.seed.is_some());
            let format = if seed {
                VolumeFormat::Raw
            } else {
                VolumeFormat::Qcow2
            };
            (manifest.is_some_and(|v| !v.external) && observed.is_none())
                .then(|| format.as_str().to_string())
        };
        from_manifest.or_else(from_host).or_else(created_here)
    };
    let mut marker = b.marker(&d.meta, d);
    if !d.persistent {
        // What the balloon is given, kept where a transient domain can.
        marker.memory_kib = Some(d.memory.to_kib().0);
    }
    let cx = DomainContext {
        caps,
        volume_format: &volume_format,
        marker: &marker,
    };
    let timeout_ms = d.shutdown_timeout.as_millis() as u64;

    let Some(obs) = host.domains.get(&d.meta.name) else {
        if let Some(moved) = &moved_from {
            return migrate::plan_move(b, d, moved, host, &cx, &deps);
        }
        // A new domain. If another known host could not be observed, this
        // may be a domain moved here by `metadata.host` that still runs
        // there: creating it would make a second copy. The default
        // connection counts only when some manifest places objects on it:
        // managing remote hosts from a machine without a local libvirtd is
        // common, and must not stop every new domain.
        let default_used = {
            let desired = b.input.desired;
            let on_default = |h: &HostName| h.is_default();
            desired.domains.keys().any(|k| on_default(&k.host))
                || desired.networks.keys().any(|k| on_default(&k.host))
                || desired.pools.keys().any(|k| on_default(&k.host))
                || desired.volumes.keys().any(|k| on_default(&k.host))
        };
        if let Some((other, why)) = b
            .input
            .observed
            .unreachable
            .iter()
            .find(|(h, _)| **h != d.meta.host && (!h.is_default() || default_used))
        {
            return b.error(
                Kind::Domain,
                &d.meta,
                format!(
                    "{other} cannot be reached ({why}), and a domain of this name may be managed there (a moved metadata.host); virtsync creates it once it can check: make {other} reachable, or remove its Host manifest if it is gone for good"
                ),
            );
        }
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

    if super::adopt::domain(b, d, obs) {
        return;
    }
    let Some(root) = b.owned_xml(
        Kind::Domain,
        &d.meta,
        obs.xml.as_deref(),
        "pass --adopt to take it over as it is, rename the manifest, or remove or rename the existing domain",
    ) else {
        return;
    };
    let running = obs.state != PowerState::Shutoff;
    let mut facts = read_domain(&root);
    if !obs.persistent {
        // A transient domain: the balloon target virtsync applied, not the
        // live `<currentMemory>` a guest without a balloon driver never
        // moves.
        if let Some(k) = crate::render::read_marker(&root).and_then(|m| m.memory_kib) {
            facts.memory_kib = Kib(k);
        }
    }
    // A guest whose config virtsync changed while it ran (the marker names
    // its id, and it still runs under it) may lack that config: what it
    // runs is read (the reconcile pass reads the live XML when asked) and
    // compared too. Any other guest runs its config: no read.
    let live_root = obs.live_xml.as_deref().and_then(|x| Element::parse(x).ok());
    let recorded = running
        && obs.persistent
        && obs.id.is_some()
        && crate::render::read_marker(&root).and_then(|m| m.restart_pending_id) == obs.id;
    if recorded && live_root.is_none() {
        b.live_xml_wanted
            .insert((d.meta.host.clone(), Kind::Domain, d.meta.name.clone()));
    }
    let live_facts = if recorded {
        live_root.as_ref().map(read_domain)
    } else {
        None
    };
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
    let diff = domain_diff(
        d,
        &facts,
        &DiffContext {
            caps,
            running,
            mem_align_kib: mem_align,
            volume_format: &volume_format,
            live_max: live_facts.as_ref().map(|l| (l.max_memory_kib, l.max_vcpus)),
        },
    );
    // What the running guest lacks of the manifest and cannot take live.
    let pending_live = live_facts
        .as_ref()
        .map(|l| {
            let live_diff = domain_diff(
                d,
                l,
                &DiffContext {
                    caps,
                    running: true,
                    // QEMU runs whole MiB.
                    mem_align_kib: 1024,
                    volume_format: &volume_format,
                    live_max: None,
                },
            );
            restart_fields(d, &live_diff)
        })
        .unwrap_or_default();
    if let Some(why) = refuse::refusal(d, &facts, &diff) {
        return b.error(Kind::Domain, &d.meta, why);
    }
    let escape = xml_changes(&d.xml, &root);
    let flip = obs.persistent != d.persistent;
    // A transient domain has no persistent config to update: any change
    // means creating it anew.
    let transient = !d.persistent && !obs.persistent;
    // It takes live what a running guest can take (memory within its
    // maximum, vCPUs hot-added): anything else means creating it anew.
    let live_only =
        diff.devices.is_empty() && escape.is_empty() && diff.fields.iter().all(|c| c.live);
    let replace = flip || (transient && !(diff.is_empty() && escape.is_empty()) && !live_only);
    let name = d.meta.name.clone();
    let mut state = obs.state;
    // Next-boot fields the running guest lacks after this plan.
    let mut pending: Vec<String> = Vec::new();

    // The definition this plan writes for the existing domain, or why it
    // cannot be made (rendered only when there is something to write).
    let render = || {
        render_domain(d, Some((&root, &diff)), &cx).and_then(|x| {
            match refuse::ide_on_q35(d, &x, &facts, &diff, caps) {
                Some(why) => Err(why),
                None => Ok(x),
            }
        })
    };
    if replace {
        let xml = match render() {
            Ok(x) => x.to_xml(),
            Err(e) => return b.error(Kind::Domain, &d.meta, e),
        };
        let escape_empty = escape.is_empty();
        let mut changes = changes_of(&diff, &[], transient);
        changes.extend(escape.into_iter().map(|c| Change {
            class: if transient {
                ChangeClass::Replace
            } else {
                c.class
            },
            ..c
        }));
        if flip {
            changes.push(Change {
                field: "persistent".into(),
                from: obs.persistent.to_string(),
                to: d.persistent.to_string(),
                class: ChangeClass::Replace,
            });
        }
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
            // Undefining (or destroying a transient domain) drops the
            // snapshots' metadata; their data stays in the disk images. So
            // it is saved first — after the policy's snapshot — and
            // redefined on the new definition. A transient domain that is
            // to be shut off does not exist afterwards: nothing to keep
            // them on, and the plan says so.
            // Whether it has any is read (by the reconcile pass) once a
            // re-create is in sight; until then, assume it has.
            let listed = host.snapshots.get(&name);
            if listed.is_none() {
                b.live_xml_wanted
                    .insert((hname.clone(), Kind::Snapshot, name.clone()));
            }
            // Only a transient domain gets here (a replace of a persistent
            // one is a define, above): it exists afterwards if it runs.
            let exists_after = d.state != PowerState::Shutoff;
            let taken: Vec<String> = if exists_after {
                super::snapshot::policy_snapshot(b, d).into_iter().collect()
            } else {
                vec![]
            };
            let keep_snapshots =
                exists_after && (!taken.is_empty() || listed.is_none_or(|l| !l.is_empty()));
            if keep_snapshots {
                b.push(
                    &hname,
                    &name,
                    Effect::Update,
                    vec![],
                    Step::SaveSnapshots,
                    &taken,
                    false,
                );
            } else if !exists_after && listed.is_none_or(|l| !l.is_empty()) {
                b.notice(
                    Kind::Domain,
                    &d.meta,
                    "a transient domain that is shut off does not exist: its snapshots' metadata goes with its definition (their data stays in the disk images)",
                );
            }
            // Undefining a running domain leaves it running as a transient
            // one, so a bare persistent → transient flip needs no stop.
            let flip_only = flip && diff.is_empty() && escape_empty;
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
            if state == PowerState::Shutoff && d.state != PowerState::Shutoff {
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
                // Created in its desired power state: no power step.
                state = d.state;
            }
            if keep_snapshots {
                b.push(
                    &hname,
                    &name,
                    Effect::Update,
                    vec![],
                    Step::RestoreSnapshots,
                    &[],
                    true,
                );
            }
        }
        // A new definition starts without autostart.
        if d.persistent && d.autostart == Some(true) {
            b.enable_autostart(Kind::Domain, &hname, &name);
        }
    } else if !diff.is_empty() || !escape.is_empty() {
        let mut rendered = match render() {
            Ok(x) => x,
            Err(e) => return b.error(Kind::Domain, &d.meta, e),
        };
        // Live actions address the device the running guest has: its live
        // XML is read (by the reconcile pass) only when one is in sight.
        let devices_live = if running {
            live::live_devices(&diff, &root, &rendered, live_root.as_ref())
        } else {
            vec![]
        };
        let hotplug_in_sight = diff.devices.iter().any(|c| {
            matches!(
                c,
                DeviceChange::Added { hotplug: true, .. }
                    | DeviceChange::Removed { hotplug: true, .. }
            )
        });
        if running && hotplug_in_sight && live_root.is_none() {
            b.live_xml_wanted
                .insert((hname.clone(), Kind::Domain, name.clone()));
        }
        let (mut attach, mut detach) = (Vec::new(), Vec::new());
        for l in devices_live.iter().flatten() {
            match l {
                LiveDevice::Attach(x) => attach.push(x.clone()),
                LiveDevice::Detach(x) => detach.push(x.clone()),
                LiveDevice::Refused(why) => b.notice(Kind::Domain, &d.meta, why.clone()),
                LiveDevice::Done | LiveDevice::NextBoot => {}
            }
        }
        let mut changes = changes_of(&diff, &devices_live, false);
        changes.extend(escape);
        let live_mem = diff.field(Field::Memory).is_some_and(|c| c.live);
        let live_cpu = diff.field(Field::Vcpus).is_some_and(|c| c.live);
        pending = changes
            .iter()
            .filter(|c| c.class == ChangeClass::NextBoot)
            .map(|c| c.field.clone())
            .collect();
        if d.persistent {
            if running {
                // Record that the guest now runs without this config (or
                // still does: a pending change stays pending), so that
                // later runs know it without reading every guest.
                let still = !pending.is_empty()
                    || !pending_live.is_empty()
                    || (recorded && live_facts.is_none());
                let mut m = marker.clone();
                m.restart_pending_id = obs.id.filter(|_| still);
                crate::render::write_marker(&mut rendered, &m);
            }
            b.push(
                &hname,
                &name,
                Effect::Update,
                changes,
                Step::DefineDomain {
                    xml: rendered.to_xml(),
                },
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
                    memory_kib: live_mem.then(|| d.memory.to_kib()),
                    vcpus: live_cpu.then_some(d.vcpus),
                    attach,
                    detach,
                    // A transient domain keeps the balloon target in the
                    // marker of its live definition.
                    marker: (transient && live_mem)
                        .then(|| crate::render::marker_fragment(&marker)),
                },
                &[],
                false,
            );
        }
    }
    // Next-boot changes of a running guest, made now or by an earlier run
    // (what it runs says so): one restart under `onConfigChange`, else
    // reported — and still converged.
    // (The live comparison's order first: the same list on every run.)
    let mut pending_all = pending_live;
    for f in pending {
        if !pending_all.contains(&f) {
            pending_all.push(f);
        }
    }
    let pending = pending_all;
    if !replace && running && !pending.is_empty() && d.state != PowerState::Shutoff {
        if d.restart_policy == RestartPolicy::OnConfigChange {
            // The policy's snapshot comes first; the restart waits for it.
            let mut restart_deps = deps.clone();
            restart_deps.extend(super::snapshot::policy_snapshot(b, d));
            b.push(
                &hname,
                &name,
                Effect::Power,
                vec![],
                Step::RestartDomain {
                    timeout_ms,
                    paused: d.state == PowerState::Paused,
                },
                &restart_deps,
                true,
            );
            // The restart brings the guest to its desired state already.
            state = d.state;
        } else {
            b.restart_pending(
                Kind::Domain,
                &d.meta,
                pending,
                "at the next boot (restartPolicy: never)",
            );
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
    crate::backend::UndefineFlags {
        managed_save: true,
        snapshots_metadata: true,
        checkpoints_metadata: true,
        nvram: false,
        keep_nvram: has_nvram(root),
    }
}

/// The domain has a UEFI variable store (libvirt refuses to undefine it
/// without saying what becomes of it).
pub(super) fn has_nvram(root: &Element) -> bool {
    root.child("os").is_some_and(|o| {
        o.child("nvram").is_some()
            || o.attr("firmware") == Some("efi")
            || o.child("loader")
                .is_some_and(|l| l.attr("type") == Some("pflash"))
    })
}

/// The fields of the manifest that the running guest lacks and cannot
/// take live: the next-boot part of the difference between the manifest
/// and the live definition. (A live-class difference — a balloon target a
/// guest without a driver never reaches — is not "pending": it was applied.)
fn restart_fields(d: &Domain, live_diff: &DomainDiff) -> Vec<String> {
    let host_model = d.cpu.as_ref().is_some_and(|c| c.mode == CpuMode::HostModel);
    changes_of(live_diff, &[], false)
        .into_iter()
        .filter(|c| c.class == ChangeClass::NextBoot)
        // A running host-model guest shows the CPU libvirt expanded it to.
        .filter(|c| !(host_model && c.field.starts_with("cpu.")))
        .map(|c| c.field)
        .collect()
}

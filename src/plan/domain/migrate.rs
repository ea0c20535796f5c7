//! A domain whose `metadata.host` moved: it is managed (its marker, this
//! owner) on another host the manifests no longer put it on.
//!
//! - Running there: one `migrate` action on the source host — live, peer
//!   to peer, persistent on the target and undefined on the source, so
//!   UUID, MACs and the marker go along. A failed migration leaves the
//!   guest running where it was (libvirt's guarantee); libvirt also refuses
//!   a migration whose disks are not on storage both hosts share.
//! - Shut off there: define on the target (the source's definition with the
//!   manifest's changes), then undefine on the source; started afterwards
//!   when the manifest wants it running. virtsync never copies disks: every
//!   disk must be a volume the target reports at the path the source's
//!   definition uses (storage both hosts see); anything else is refused.
//!
//! What the target needs (networks, pools, volumes) comes first: the
//! domain's dependencies are the target's objects.

use std::collections::BTreeSet;

use super::*;

/// A domain managed on another host than its manifest's: where, as
/// observed there, and its definition (parsed once, for the marker that
/// says it is ours and for the move).
pub(super) struct Moved<'a> {
    pub from: HostName,
    obs: &'a ObservedDomain,
    root: Element,
}

/// The other host where this domain is managed today, when its
/// `metadata.host` moved; `Err` when the domain was blocked (two copies).
pub(super) fn moved_from<'a>(b: &mut Builder<'a>, d: &Domain) -> Result<Option<Moved<'a>>, ()> {
    let input = b.input;
    let owner = &input.scope.owner;
    let mut found: Vec<Moved<'a>> = Vec::new();
    for (other, oh) in &input.observed.hosts {
        if other == &d.meta.host
            || b.input.desired.domains.contains_key(&ObjKey {
                host: other.clone(),
                name: d.meta.name.clone(),
            })
        {
            continue;
        }
        // Managed there by this manifest set (or by a virtsync from
        // before owners existed); another owner's domain is not ours.
        let Some(obs) = oh.domains.get(&d.meta.name) else {
            continue;
        };
        let Some(root) = obs.xml.as_deref().and_then(|x| Element::parse(x).ok()) else {
            continue;
        };
        let owned_there = crate::render::read_marker(&root)
            .is_some_and(|m| m.owner.as_ref().is_none_or(|o| o == owner));
        if owned_there {
            found.push(Moved {
                from: other.clone(),
                obs,
                root,
            });
        }
    }
    let here = b
        .input
        .observed
        .hosts
        .get(&d.meta.host)
        .is_some_and(|h| h.domains.contains_key(&d.meta.name));
    if found.len() == 1 && !here {
        return Ok(found.pop());
    }
    match found.as_slice() {
        [] => Ok(None),
        [Moved { from, .. }] => {
            b.error(
                Kind::Domain,
                &d.meta,
                format!(
                    "virtsync manages a domain of this name on {from}, and one exists on {} too; a move never overwrites a domain: undefine the copy that is not current by hand, or restore metadata.host",
                    d.meta.host
                ),
            );
            Err(())
        }
        several => {
            let list: Vec<String> = several.iter().map(|m| m.from.to_string()).collect();
            b.error(
                Kind::Domain,
                &d.meta,
                format!(
                    "virtsync manages a domain of this name on several hosts ({}); undefine the copies that are not current by hand",
                    list.join(", ")
                ),
            );
            Err(())
        }
    }
}

/// Plan the move of `d` from where `moved` found it to its manifest's
/// host `target`.
pub(super) fn plan_move(
    b: &mut Builder,
    d: &Domain,
    moved: &Moved,
    target: &ObservedHost,
    cx: &DomainContext,
    deps: &[String],
) {
    let Moved { from, obs, root } = moved;
    let to = d.meta.host.clone();
    let name = d.meta.name.clone();
    let running = obs.state != PowerState::Shutoff;
    let host_change = |class| Change {
        // As `metadata.host` says it (unset: the default connection).
        field: "host".into(),
        from: from.label().to_string(),
        to: to.label().to_string(),
        class,
    };
    let facts = read_domain(root);
    let diff = domain_diff(
        d,
        &facts,
        &DiffContext {
            caps: cx.caps,
            running,
            mem_align_kib: if obs.persistent { 1 } else { 1024 },
            volume_format: cx.volume_format,
            live_max: None,
        },
    );
    if running {
        let m = b
            .input
            .desired
            .hosts
            .get(to.name().unwrap_or_default())
            .map(|h| h.migration.clone())
            .unwrap_or_default();
        let Some(uri) = m
            .uri
            .clone()
            .or_else(|| b.input.observed.uris.get(&to).cloned())
        else {
            // The target was observed, so its URI is known: never here.
            return b.error(
                Kind::Domain,
                &d.meta,
                format!("no URI is known for {to}: it is not moved"),
            );
        };
        if !diff.is_empty() {
            let fields: Vec<&str> = diff.fields.iter().map(|c| c.field.name()).collect();
            b.notice(
                Kind::Domain,
                &d.meta,
                format!(
                    "it moves as it runs on {from}; its other changes ({}) are planned once it runs on {to}",
                    if fields.is_empty() { "devices".to_string() } else { fields.join(", ") }
                ),
            );
        }
        let id = b.push(
            from,
            &name,
            Effect::Move,
            vec![host_change(ChangeClass::Live)],
            Step::MigrateDomain {
                to: to.clone(),
                spec: crate::backend::MigrateSpec {
                    uri,
                    persistent: obs.persistent,
                    tunnelled: m.tunnelled,
                    compressed: m.compressed,
                    bandwidth_mib: m.bandwidth_mib,
                    max_downtime_ms: m.max_downtime_ms,
                },
            },
            deps,
            true,
        );
        // What the target's plan adds for this domain (snapshots, power)
        // waits for the move.
        b.mark_ready(&obj_key(Kind::Domain, &to, &name), &id);
        if d.state == PowerState::Shutoff {
            b.push(
                &to,
                &name,
                Effect::Power,
                vec![],
                Step::ShutdownDomain {
                    timeout_ms: d.shutdown_timeout.as_millis() as u64,
                },
                &[obj_key(Kind::Domain, &to, &name)],
                true,
            );
        }
        return;
    }
    // Shut off: every disk must already be there, at the same path.
    if let Err(why) = disks_reachable(d, root, target) {
        return b.error(
            Kind::Domain,
            &d.meta,
            format!("it cannot move from {from} to {to}: {why}"),
        );
    }
    let xml = match render_domain(d, Some((root, &diff)), cx) {
        Ok(x) => x.to_xml(),
        Err(e) => return b.error(Kind::Domain, &d.meta, e),
    };
    let mut changes = vec![host_change(ChangeClass::NextBoot)];
    changes.extend(changes_of(&diff, &[], false));
    let defined = b.push(
        &to,
        &name,
        Effect::Move,
        changes,
        Step::DefineDomain { xml },
        deps,
        true,
    );
    // The source's copy goes once the target has it. Its NVRAM file stays
    // (a firmware variable store is not copied either); snapshots or a
    // managed save there make libvirt refuse, and the domain then exists
    // on both hosts, which the next plan reports.
    let undefine = b.push(
        from,
        &name,
        Effect::Move,
        vec![host_change(ChangeClass::NextBoot)],
        Step::UndefineDomain {
            flags: crate::backend::UndefineFlags {
                keep_nvram: has_nvram(root),
                ..Default::default()
            },
        },
        &[],
        false,
    );
    b.add_dependency(&undefine, &defined);
    if d.autostart == Some(true) {
        b.enable_autostart(Kind::Domain, &to, &name);
    }
    if d.state != PowerState::Shutoff {
        b.push(
            &to,
            &name,
            Effect::Power,
            vec![],
            Step::StartDomain {
                paused: d.state == PowerState::Paused,
            },
            &[],
            true,
        );
    }
}

/// Every disk of the source's definition is a file the target reports as
/// one of the manifest's volumes, at the same path.
fn disks_reachable(d: &Domain, root: &Element, target: &ObservedHost) -> Result<(), String> {
    let mut paths: BTreeSet<String> = BTreeSet::new();
    for disk in d.disks.iter().flatten() {
        if let DiskSource::Volume { pool, name } = &disk.source {
            let Some(v) = target.volumes.get(&(pool.clone(), name.clone())) else {
                return Err(format!(
                    "its disk volume {pool}/{name} is not on the target; virtsync moves domains, never disks: put it on storage both hosts see (the same pool and volume on both), or copy it there first"
                ));
            };
            if let Some(p) = v
                .xml
                .as_deref()
                .and_then(|x| Element::parse(x).ok())
                .and_then(|e| e.find(&["target", "path"]).map(|p| p.text()))
            {
                paths.insert(p);
            }
        }
    }
    let Some(devices) = root.child("devices") else {
        return Ok(());
    };
    for disk in devices.children_named("disk") {
        let Some(source) = disk.child("source") else {
            continue; // an empty CD-ROM drive
        };
        let path = source.attr("file").or_else(|| source.attr("dev"));
        match (path, source.attr("volume")) {
            (Some(p), _) if paths.contains(p) => {}
            (Some(p), _) => {
                return Err(format!(
                    "its disk {p} is not a volume of the manifest that the target reports at that path; virtsync moves domains, never disks: use a volume of a pool both hosts see"
                ))
            }
            (None, Some(_)) => {} // checked above, by pool and name
            (None, None) => {
                return Err("it has a disk that is neither a file nor a volume (network storage): move it by hand".into())
            }
        }
    }
    Ok(())
}

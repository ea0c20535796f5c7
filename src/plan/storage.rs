//! Planning volumes (pools: [`super::pool`]). Volumes have no
//! `<metadata>`: ownership comes from the inventory. A volume is never
//! replaced: growing is a resize, every other change is an error that says
//! how to proceed; an image volume is made once, from the image the
//! inventory records.

use super::*;
use crate::render::storage::*;
use crate::xml::Element;

/// Whether a volume of `have` bytes is the `want` bytes a manifest asks
/// for. libvirt hands sizes to qemu-img in whole KiB (a qcow2 volume of
/// `100MB` comes out as 100000768 bytes), so anything from `want` up to
/// `want` rounded up to a KiB is the same size.
pub(crate) fn capacity_in_sync(want: u64, have: u64) -> bool {
    have >= want && have <= want.div_ceil(1024).saturating_mul(1024)
}

/// Where a volume lives or will live, and its format, for backing stores.
fn volume_path_and_format(
    b: &Builder,
    host: &ObservedHost,
    hname: &HostName,
    pool: &str,
    name: &str,
) -> Option<(String, String)> {
    if let Some(xml) = host
        .volumes
        .get(&(pool.to_string(), name.to_string()))
        .and_then(|v| v.xml.as_deref())
    {
        let f = Element::parse(xml).ok().map(|e| read_volume(&e))?;
        return Some((f.path?, f.format.unwrap_or_else(|| "raw".into())));
    }
    // A volume this plan creates: in a dir pool its path is predictable.
    let key = VolKey {
        host: hname.clone(),
        pool: pool.to_string(),
        name: name.to_string(),
    };
    let v = b.input.desired.volumes.get(&key)?;
    let pool_path = b
        .input
        .desired
        .pools
        .get(&ObjKey {
            host: hname.clone(),
            name: pool.to_string(),
        })
        .and_then(|p| p.path.clone())
        .or_else(|| {
            host.pools
                .get(pool)
                .and_then(|p| p.xml.as_deref())
                .and_then(|x| Element::parse(x).ok())
                .map(|e| read_pool(&e).path)
        })?;
    Some((
        format!("{}/{name}", pool_path.trim_end_matches('/')),
        v.format.unwrap_or(VolumeFormat::Qcow2).as_str().to_string(),
    ))
}

/// Who runs a volume, as far as the running guests' live XML says.
enum User {
    /// No running guest has it: the storage API may resize it.
    Nobody,
    /// This running domain has it at this target (from its live XML).
    Running(String, String),
    /// These running domains' live XML is needed first.
    LiveXmlNeeded(Vec<String>),
}

/// The running domain on `host` whose *live* XML has a disk on this volume
/// (by pool and name, or by the volume's path), with that disk's target
/// there. The persistent config is no guide: a guest may still run volume
/// A while its config already says B, and growing B must never resize A.
fn running_user(host: &ObservedHost, pool: &str, name: &str, path: Option<&str>) -> User {
    use crate::render::domain::SourceId;
    let by_volume = SourceId::Volume {
        pool: pool.to_string(),
        name: name.to_string(),
    };
    let by_path = path.map(|p| SourceId::Path(p.to_string()));
    let mut unknown = Vec::new();
    for d in host.domains.values() {
        if d.state == PowerState::Shutoff {
            continue;
        }
        let Some(live) = d.live_xml.as_deref() else {
            unknown.push(d.name.clone());
            continue;
        };
        let Ok(root) = Element::parse(live) else {
            unknown.push(d.name.clone());
            continue;
        };
        let facts = crate::render::domain::read_domain(&root);
        if let Some(disk) = facts
            .disks
            .into_iter()
            .find(|k| k.source == by_volume || Some(&k.source) == by_path.as_ref())
        {
            if let Some(t) = disk.target {
                return User::Running(d.name.clone(), t);
            }
        }
    }
    if unknown.is_empty() {
        User::Nobody
    } else {
        User::LiveXmlNeeded(unknown)
    }
}

pub(crate) fn plan_volume(b: &mut Builder, v: &Volume) {
    let Some(host) = b.host_of(Kind::Volume, &v.meta) else {
        return;
    };
    if b.unreadable(
        Kind::Volume,
        &v.meta,
        host,
        &format!("{}/{}", v.pool, v.meta.name),
    ) {
        return;
    }
    let hname = v.meta.host.clone();
    let key_name = format!("{}/{}", v.pool, v.meta.name);
    let obs = host.volumes.get(&(v.pool.clone(), v.meta.name.clone()));
    let pool_active = host.pools.get(&v.pool).is_some_and(|p| p.active);
    if v.external {
        if obs.is_none() {
            b.error(
                Kind::Volume,
                &v.meta,
                if pool_active {
                    format!("an external volume must exist in pool `{}`, and it does not", v.pool)
                } else {
                    format!("an external volume must exist, but its pool `{}` is not active on the host", v.pool)
                },
            );
        }
        return;
    }
    let mut deps = vec![obj_key(Kind::StoragePool, &hname, &v.pool)];
    for (pool, name) in v.backing_store.iter().chain(v.clone_from.iter()) {
        deps.push(obj_key(Kind::StoragePool, &hname, pool));
        deps.push(obj_key(Kind::Volume, &hname, &format!("{pool}/{name}")));
    }
    let capacity = v.capacity.unwrap_or(0);
    let pool_inactive = host.pools.get(&v.pool).is_some_and(|p| !p.active);
    if obs.is_none()
        && pool_inactive
        && b.input
            .inventory
            .owns_volume(&host.identity(), &v.pool, &v.meta.name)
    {
        // An inactive pool lists no volumes: this one, created by virtsync,
        // is most likely there. The pool is started by this plan and the
        // re-plan after apply sees the volume (or plans it if it is gone).
        b.notice(
            Kind::Volume,
            &v.meta,
            format!(
                "pool `{}` is inactive, so this volume cannot be checked until it starts",
                v.pool
            ),
        );
        return;
    }
    let Some(obs) = obs else {
        if b.input
            .inventory
            .owns_volume(&host.identity(), &v.pool, &v.meta.name)
        {
            // virtsync made it, and it is gone: deleted behind its back. A
            // guest that had it open may still hold its only copy; an empty
            // volume under that name would bury it.
            let users: Vec<&Domain> = b
                .input
                .desired
                .domains
                .iter()
                .filter(|(k, _)| k.host == hname && host.domains.contains_key(&k.name))
                .filter(|(_, d)| {
                    d.disks.iter().flatten().any(|disk| {
                        matches!(&disk.source, DiskSource::Volume { pool, name }
                            if *pool == v.pool && *name == v.meta.name)
                    })
                })
                .map(|(_, d)| d)
                .collect();
            if !users.is_empty() {
                // The domains too, also those with nothing to do: their
                // disk is gone, which is not "in sync".
                for d in &users {
                    b.error(
                        Kind::Domain,
                        &d.meta,
                        format!("its disk volume {key_name} is lost (deleted outside virtsync)"),
                    );
                }
                let users: Vec<&str> = users.iter().map(|d| d.meta.name.as_str()).collect();
                return b.error(
                    Kind::Volume,
                    &v.meta,
                    format!(
                        "lost: virtsync created this volume and it is gone from pool `{}` (deleted outside virtsync), while domain {} uses it; it is not created again empty: a running guest may still hold its data (copy it out through the guest, or from the qemu process's open file), then create the volume by hand or remove the disk from the domain",
                        v.pool,
                        users.join(", ")
                    ),
                );
            }
            b.notice(
                Kind::Volume,
                &v.meta,
                format!(
                    "lost: virtsync created this volume and it is gone from pool `{}` (deleted outside virtsync); no domain uses it, so it is created again, {}",
                    v.pool,
                    if v.source.is_some() { "from its image" } else { "empty" }
                ),
            );
        }
        if let Some(source) = &v.source {
            // Format and size are the image's: apply reads them from its
            // first bytes (the planner reads no file and no network).
            let step = Step::UploadVolume {
                pool: v.pool.clone(),
                source: source.clone(),
                capacity: v.capacity,
            };
            b.push(&hname, &key_name, Effect::Create, vec![], step, &deps, true);
            return;
        }
        if let Some(files) = &v.seed {
            let step = Step::UploadSeed {
                pool: v.pool.clone(),
                files: files.clone(),
            };
            b.push(&hname, &key_name, Effect::Create, vec![], step, &deps, true);
            return;
        }
        if let Some((pool, name)) = &v.backing_store {
            // An overlay smaller than its image would hide the image's
            // end from the guest; the image is known once it exists.
            let image = host
                .volumes
                .get(&(pool.clone(), name.clone()))
                .and_then(|o| o.xml.as_deref())
                .and_then(|x| Element::parse(x).ok())
                .map(|e| read_volume(&e).capacity);
            if let Some(size) = image.filter(|s| *s > capacity) {
                return b.error(
                    Kind::Volume,
                    &v.meta,
                    format!(
                        "the overlay's capacity {} is less than its backing volume {pool}/{name} ({}): raise capacity to at least the image's size",
                        crate::units::format_size(capacity),
                        crate::units::format_size(size)
                    ),
                );
            }
        }
        let backing = match &v.backing_store {
            Some((pool, name)) => match volume_path_and_format(b, host, &hname, pool, name) {
                Some(pf) => Some(pf),
                None => {
                    return b.error(Kind::Volume, &v.meta, format!("the path of backing volume {pool}/{name} is unknown (its pool is not a dir pool of this directory and not active on the host)"));
                }
            },
            None => None,
        };
        let xml =
            render_volume(v, backing.as_ref().map(|(p, f)| (p.as_str(), f.as_str()))).to_xml();
        let step = Step::CreateVolume {
            pool: v.pool.clone(),
            xml,
            clone_from: v.clone_from.clone(),
        };
        b.push(&hname, &key_name, Effect::Create, vec![], step, &deps, true);
        return;
    };
    if !b
        .input
        .inventory
        .owns_volume(&host.identity(), &v.pool, &v.meta.name)
    {
        if super::adopt::volume(b, v) {
            return;
        }
        return b.unmanaged(
            Kind::Volume,
            &v.meta,
            "a volume of this name exists in the pool but virtsync did not create it (not in the inventory); \
             pass --adopt to take it over as it is, mark the manifest `metadata.external: true` to use it without managing it, or rename the manifest",
        );
    }
    let inventory = b.input.inventory;
    if b.other_owner(
        Kind::Volume,
        &v.meta,
        inventory.volume_record(&host.identity(), &v.pool, &v.meta.name),
    ) {
        return;
    }
    let Some(facts) = obs
        .xml
        .as_deref()
        .and_then(|x| Element::parse(x).ok())
        .map(|e| read_volume(&e))
    else {
        return b.error(
            Kind::Volume,
            &v.meta,
            "its XML could not be read from the host",
        );
    };
    if let Some(want) = &v.source {
        if let Some(have) = inventory.volume_image(&host.identity(), &v.pool, &v.meta.name) {
            if have != want {
                let field = if have.location != want.location {
                    format!(
                        "was made from {}, the manifest now says {}",
                        have.location, want.location
                    )
                } else {
                    format!(
                        "was made from an image of sha256 {}, the manifest now says {}",
                        have.sha256.as_deref().unwrap_or("(none given)"),
                        want.sha256.as_deref().unwrap_or("(none given)")
                    )
                };
                return b.error(Kind::Volume, &v.meta, format!("the volume {field}; a volume is never replaced (guests may have written to it, overlays depend on it): give the new image a new volume name and point the overlays at it, or restore the old `source`"));
            }
        }
    }
    if let Some(f) = v.format {
        let have = facts.format.clone().unwrap_or_else(|| "raw".into());
        if have != f.as_str() {
            return b.error(Kind::Volume, &v.meta, format!("the volume's format is {have} on the host, the manifest says {}; a volume is never replaced: convert it by hand (qemu-img convert) or create a new volume", f.as_str()));
        }
    }
    if v.capacity.is_none() {
        // The image's or the seed's size, whatever it is.
    } else if capacity_in_sync(capacity, facts.capacity) {
        // libvirt's rounding, not a difference.
    } else if (v.clone_from.is_some() || v.source.is_some()) && capacity < facts.capacity {
        // A copy is at least as large as its source, an image volume as
        // its image: the manifest's size (if any) is a minimum.
    } else if capacity < facts.capacity {
        b.error(
            Kind::Volume,
            &v.meta,
            format!(
                "the volume holds {} on the host, the manifest says {}: shrinking is not supported (data would be lost); raise capacity back",
                crate::units::format_size(facts.capacity),
                crate::units::format_size(capacity)
            ),
        );
    } else {
        let in_use_by = match running_user(host, &v.pool, &v.meta.name, facts.path.as_deref()) {
            User::Nobody => None,
            User::Running(dom, target) => Some((dom, target)),
            User::LiveXmlNeeded(doms) => {
                // Which guest runs the volume (and at which target) only
                // their live XML says: the reconcile pass reads it and
                // plans again. Where reading it failed, nobody can tell:
                // growing waits, blocked, rather than guessing.
                if let Some((dom, e)) = doms.iter().find_map(|dom| {
                    host.read_errors
                        .get(&(Kind::Domain, dom.clone()))
                        .map(|e| (dom, e))
                }) {
                    return b.error(
                        Kind::Volume,
                        &v.meta,
                        format!("cannot tell whether the running domain {dom} uses this volume: its live XML could not be read ({e}); growing waits"),
                    );
                }
                for dom in doms {
                    b.live_xml_wanted.insert((hname.clone(), Kind::Domain, dom));
                }
                return b.notice(
                    Kind::Volume,
                    &v.meta,
                    "growing waits until the running guests' live XML is read (which of them runs this volume)",
                );
            }
        };
        let ch = Change {
            field: "capacity".into(),
            from: crate::units::format_size(facts.capacity),
            to: crate::units::format_size(capacity),
            class: ChangeClass::Live,
        };
        b.push(
            &hname,
            &key_name,
            Effect::Update,
            vec![ch],
            Step::ResizeVolume {
                pool: v.pool.clone(),
                capacity,
                in_use_by,
            },
            &deps,
            // The volume exists already: domains need not wait for it.
            false,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::capacity_in_sync;

    #[test]
    fn capacity_allows_libvirts_rounding_up_to_a_kib_only() {
        // 100MB as qemu-img creates it: 97657 KiB.
        assert!(capacity_in_sync(100_000_000, 97_657 * 1024));
        assert!(capacity_in_sync(100_000_000, 100_000_000));
        assert!(capacity_in_sync(1 << 30, 1 << 30));
        // Smaller is a difference (grow), more than the rounding too.
        assert!(!capacity_in_sync(100_000_000, 99_999_999));
        assert!(!capacity_in_sync(1 << 30, (1 << 30) + 1));
        assert!(!capacity_in_sync(100_000_000, 97_658 * 1024));
    }
}

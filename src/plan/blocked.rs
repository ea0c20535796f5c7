//! Blocking: an object that cannot be planned this pass takes every object
//! that waits for it (transitively) out of the plan with it, and the rest
//! is planned as if they were not there.

use std::collections::{BTreeMap, BTreeSet};

use super::*;

/// Every desired object by its dependency key, with its kind and manifest.
fn objects_by_key(d: &DesiredState) -> BTreeMap<String, (Kind, &Meta)> {
    let mut out = BTreeMap::new();
    for (k, x) in &d.domains {
        out.insert(
            obj_key(Kind::Domain, &k.host, &k.name),
            (Kind::Domain, &x.meta),
        );
    }
    for (k, x) in &d.networks {
        out.insert(
            obj_key(Kind::Network, &k.host, &k.name),
            (Kind::Network, &x.meta),
        );
    }
    for (k, x) in &d.pools {
        out.insert(
            obj_key(Kind::StoragePool, &k.host, &k.name),
            (Kind::StoragePool, &x.meta),
        );
    }
    for (k, x) in &d.volumes {
        let name = format!("{}/{}", k.pool, k.name);
        out.insert(
            obj_key(Kind::Volume, &k.host, &name),
            (Kind::Volume, &x.meta),
        );
    }
    for (k, x) in &d.snapshots {
        let name = format!("{}/{}", k.domain, k.name);
        out.insert(
            obj_key(Kind::Snapshot, &k.host, &name),
            (Kind::Snapshot, &x.meta),
        );
    }
    out
}

/// Block every object that waits (transitively) for a blocked one, and
/// drop the actions of all blocked objects.
pub(super) fn block_dependents(b: &mut Builder) {
    if b.blocked.is_empty() {
        return;
    }
    let objects = objects_by_key(b.input.desired);
    // The blocked objects by key (an object's manifest identifies it).
    let mut blocked: BTreeSet<String> = objects
        .iter()
        .filter(|(_, (kind, meta))| {
            b.blocked.iter().any(|x| {
                x.kind == *kind
                    && x.file == meta.source.file.display().to_string()
                    && x.line == meta.source.line
                    && x.name == meta.name
            })
        })
        .map(|(k, _)| k.clone())
        .collect();
    loop {
        let newly: Vec<(String, String)> = b
            .deps
            .iter()
            .filter(|(k, _)| !blocked.contains(*k))
            .filter_map(|(k, deps)| {
                deps.iter()
                    .find(|d| blocked.contains(*d))
                    .map(|d| (k.clone(), d.clone()))
            })
            .collect();
        if newly.is_empty() {
            break;
        }
        for (key, on) in newly {
            blocked.insert(key.clone());
            if let Some((kind, meta)) = objects.get(&key) {
                b.blocked.push(Blocked {
                    kind: *kind,
                    name: meta.name.clone(),
                    host: meta.host.clone(),
                    file: meta.source.file.display().to_string(),
                    line: meta.source.line,
                    reason: format!("waits for {on}, which is blocked"),
                    cause: BlockCause::Dependency,
                    depends_on: Some(on),
                });
            }
        }
    }
    b.actions
        .retain(|a| !blocked.contains(&obj_key(a.kind, &a.host, &a.name)));
}

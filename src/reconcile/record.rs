//! The records of what an owner manages (`inventory::Record`), refreshed
//! from each pass's observation: a prune happens once the manifest that
//! said whose an object is, its labels and its reclaim policy is gone.

use super::Target;
use crate::inventory::Inventory;
use crate::model::*;

/// Refresh the [`crate::inventory::Record`] of every object of `t` this
/// owner manages, as `observed` shows it: whose it is, its labels, a
/// volume's reclaim policy, a domain's or network's UUID — what a prune
/// needs once the manifest is gone. A domain or network counts when its
/// marker is this owner's or names none (a claim); a pool or volume when
/// the inventory owns it and no other owner's record names it. Returns
/// whether anything changed (an `apply` with nothing to do saves the
/// inventory only then).
pub fn record_managed(inventory: &mut Inventory, t: &Target, observed: &ObservedState) -> bool {
    use crate::inventory::Record;
    let owner = t.scope.owner.as_str();
    let before = inventory.clone();
    let record = |uuid: Option<&str>, meta: &Meta, reclaim: Option<ReclaimPolicy>| Record {
        owner: owner.to_string(),
        uuid: uuid.map(str::to_string),
        labels: meta.labels.clone(),
        reclaim_policy: reclaim,
    };
    // Claimable: nobody's yet, or this owner's.
    let free = |r: Option<&Record>| r.is_none_or(|r| r.owner == owner);
    let marker_ok = |xml: Option<&str>| {
        xml.and_then(|x| crate::xml::Element::parse(x).ok())
            .and_then(|r| crate::render::read_marker(&r))
            .is_some_and(|m| m.owner.as_deref().is_none_or(|o| o == owner))
    };
    for (hname, host) in &observed.hosts {
        let id = host.identity();
        for (k, d) in t.desired.domains.iter().filter(|(k, _)| &k.host == hname) {
            let Some(o) = host
                .domains
                .get(&k.name)
                .filter(|o| marker_ok(o.xml.as_deref()))
            else {
                continue;
            };
            let prev = inventory.records(&id).and_then(|r| r.domains.get(&k.name));
            if free(prev.filter(|r| r.uuid.as_deref() == Some(&o.uuid))) {
                let r = record(Some(&o.uuid), &d.meta, None);
                inventory.records_mut(&id).domains.insert(k.name.clone(), r);
            }
        }
        for (k, n) in t
            .desired
            .networks
            .iter()
            .filter(|(k, n)| &k.host == hname && !n.external)
        {
            let Some(o) = host
                .networks
                .get(&k.name)
                .filter(|o| marker_ok(o.xml.as_deref()))
            else {
                continue;
            };
            let prev = inventory.records(&id).and_then(|r| r.networks.get(&k.name));
            if free(prev.filter(|r| r.uuid.as_deref() == Some(&o.uuid))) {
                let r = record(Some(&o.uuid), &n.meta, None);
                inventory
                    .records_mut(&id)
                    .networks
                    .insert(k.name.clone(), r);
            }
        }
        for (k, p) in t
            .desired
            .pools
            .iter()
            .filter(|(k, p)| &k.host == hname && !p.external)
        {
            let owned = host
                .pools
                .get(&k.name)
                .is_some_and(|o| inventory.owns_pool(&id, &k.name, &o.uuid));
            if owned && free(inventory.pool_record(&id, &k.name)) {
                let r = record(None, &p.meta, None);
                inventory.records_mut(&id).pools.insert(k.name.clone(), r);
            }
        }
        for (k, v) in t
            .desired
            .volumes
            .iter()
            .filter(|(k, v)| &k.host == hname && !v.external)
        {
            let owned = host.volumes.contains_key(&(k.pool.clone(), k.name.clone()))
                && inventory.owns_volume(&id, &k.pool, &k.name);
            if owned && free(inventory.volume_record(&id, &k.pool, &k.name)) {
                let r = record(None, &v.meta, Some(v.reclaim_policy));
                inventory
                    .records_mut(&id)
                    .volumes
                    .entry(k.pool.clone())
                    .or_default()
                    .insert(k.name.clone(), r);
            }
        }
    }
    *inventory != before
}

//! Planning one Snapshot: an internal snapshot of a domain, taken once when
//! it is declared (with the memory state when the guest runs), its
//! description kept up to date in place, and never taken again once it
//! existed: a snapshot deleted behind virtsync's back is reported — a new
//! one would hold today's state, not the state it was declared for.

use super::*;
use crate::render::snapshot::{read_snapshot, render_snapshot};
use crate::xml::Element;

pub(crate) fn plan_snapshot(b: &mut Builder, s: &Snapshot) {
    let Some(host) = b.host_of(Kind::Snapshot, &s.meta) else {
        return;
    };
    let hname = s.meta.host.clone();
    let key_name = format!("{}/{}", s.domain, s.meta.name);
    if let Some(e) = host.read_errors.get(&(Kind::Snapshot, s.domain.clone())) {
        return b.error(
            Kind::Snapshot,
            &s.meta,
            format!(
                "the snapshots of domain {} could not be listed: {e}",
                s.domain
            ),
        );
    }
    // The domain this snapshot waits for (defined, started, changed first).
    let deps = [obj_key(Kind::Domain, &hname, &s.domain)];
    let taken = b
        .input
        .inventory
        .took_snapshot(&host.identity(), &s.domain, &s.meta.name);
    let existing = host
        .snapshots
        .get(&s.domain)
        .and_then(|list| list.get(&s.meta.name));
    match (existing, taken) {
        (None, false) => {
            let xml = render_snapshot(&s.meta.name, s.description.as_deref()).to_xml();
            let step = Step::CreateSnapshot {
                domain: s.domain.clone(),
                xml,
            };
            b.push(&hname, &key_name, Effect::Create, vec![], step, &deps, true);
        }
        (None, true) => b.error(
            Kind::Snapshot,
            &s.meta,
            format!(
                "virtsync took this snapshot of domain {} and it is gone from the host (deleted outside virtsync); it is not taken again, since a new one would hold today's state: remove the manifest, or give it a new name to take a new snapshot",
                s.domain
            ),
        ),
        (Some(_), false) => b.unmanaged(
            Kind::Snapshot,
            &s.meta,
            format!(
                "domain {} has a snapshot of this name that virtsync did not take; rename the manifest, or delete or rename that snapshot (virsh snapshot-delete)",
                s.domain
            ),
        ),
        (Some(xml), true) => {
            let Ok(mut root) = Element::parse(xml) else {
                return b.error(Kind::Snapshot, &s.meta, "its XML could not be read from the host");
            };
            // An unset description is unmanaged.
            let Some(want) = &s.description else { return };
            let have = read_snapshot(&root).description.unwrap_or_default();
            if &have == want {
                return;
            }
            root.ensure_child("description").set_text(want.clone());
            let ch = Change {
                field: "description".into(),
                from: have,
                to: want.clone(),
                // Metadata only: nothing in the guest changes.
                class: ChangeClass::Live,
            };
            let step = Step::UpdateSnapshot {
                domain: s.domain.clone(),
                xml: root.to_xml(),
            };
            b.push(&hname, &key_name, Effect::Update, vec![ch], step, &deps, false);
        }
    }
}

/// The prefix of the snapshots a domain's `snapshotPolicy` takes:
/// `<domain>-auto-<UTC timestamp>`, so they sort by age.
fn policy_prefix(domain: &str) -> String {
    format!("{domain}-auto-")
}

/// `YYYYMMDDTHHMMSSZ` of `secs` since the epoch.
fn timestamp(secs: u64) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}{month:02}{day:02}T{:02}{:02}{:02}Z",
        rem / 3_600,
        rem % 3_600 / 60,
        rem % 60
    )
}

/// Before a disruptive action (a restart) on `d`: the snapshot its policy
/// takes, as the key the disruptive action must wait for; `None` when
/// the domain has no such policy.
pub(crate) fn policy_snapshot(b: &mut Builder, d: &Domain) -> Option<String> {
    let policy = d.snapshot_policy.as_ref()?;
    if !policy.before_disruptive_change {
        return None;
    }
    let hname = d.meta.host.clone();
    let base = format!("{}{}", policy_prefix(&d.meta.name), timestamp(b.input.now));
    // Two disruptive passes within one second: the second name gets a
    // suffix instead of failing on "already exists".
    let taken = |n: &str| {
        b.observed(&hname)
            .and_then(|h| h.snapshots.get(&d.meta.name))
            .is_some_and(|l| l.contains_key(n))
    };
    let name = (1..)
        .map(|i| {
            if i == 1 {
                base.clone()
            } else {
                format!("{base}-{i}")
            }
        })
        .find(|n| !taken(n))
        .expect("some suffix is free");
    let key_name = format!("{}/{name}", d.meta.name);
    let step = Step::CreateSnapshot {
        domain: d.meta.name.clone(),
        xml: render_snapshot(&name, Some("taken by virtsync before a disruptive change")).to_xml(),
    };
    let deps = [obj_key(Kind::Domain, &hname, &d.meta.name)];
    b.push(&hname, &key_name, Effect::Create, vec![], step, &deps, true);
    Some(obj_key(Kind::Snapshot, &hname, &key_name))
}

/// `keep: N`: delete the oldest policy snapshots virtsync took of `d`
/// beyond the newest N (counting one taken in this plan). Declared and
/// hand-made snapshots are never counted nor deleted.
pub(crate) fn policy_retention(b: &mut Builder, d: &Domain) {
    let Some(keep) = d.snapshot_policy.as_ref().and_then(|p| p.keep) else {
        return;
    };
    let Some(host) = b.observed(&d.meta.host) else {
        return;
    };
    let prefix = policy_prefix(&d.meta.name);
    let hname = d.meta.host.clone();
    let mut ours: Vec<String> = host
        .snapshots
        .get(&d.meta.name)
        .into_iter()
        .flat_map(|list| list.keys())
        .filter(|n| n.starts_with(&prefix))
        .filter(|n| {
            b.input
                .inventory
                .took_snapshot(&host.identity(), &d.meta.name, n)
        })
        .cloned()
        .collect();
    let planned: Vec<String> = b
        .actions
        .iter()
        .filter(|a| a.host == hname && a.operation == Operation::CreateSnapshot)
        .filter_map(|a| a.name.strip_prefix(&format!("{}/", d.meta.name)))
        .filter(|n| n.starts_with(&prefix))
        .map(str::to_string)
        .collect();
    ours.extend(planned.iter().cloned());
    ours.sort();
    ours.dedup();
    let excess = ours.len().saturating_sub(keep as usize);
    // After the new one is taken: never fewer than `keep` at any moment.
    let mut after: Vec<String> = planned
        .iter()
        .map(|n| obj_key(Kind::Snapshot, &hname, &format!("{}/{n}", d.meta.name)))
        .collect();
    // A re-create saves the snapshots' metadata and redefines it: a
    // delete in between would come back with the redefine.
    if b.actions.iter().any(|a| {
        a.host == hname && a.name == d.meta.name && a.operation == Operation::RestoreSnapshots
    }) {
        after.push(obj_key(Kind::Domain, &hname, &d.meta.name));
    }
    for old in ours.into_iter().take(excess) {
        if planned.contains(&old) {
            continue;
        }
        let step = Step::DeleteSnapshot {
            domain: d.meta.name.clone(),
            name: old.clone(),
        };
        let key_name = format!("{}/{old}", d.meta.name);
        b.push(
            &hname,
            &key_name,
            Effect::Delete,
            vec![],
            step,
            &after,
            false,
        );
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn timestamps_are_utc_and_sort_by_age() {
        assert_eq!(super::timestamp(0), "19700101T000000Z");
        assert_eq!(super::timestamp(1_796_126_400), "20261201T120000Z");
        assert_eq!(super::timestamp(951_782_400), "20000229T000000Z");
        assert!(super::timestamp(1_796_126_400) < super::timestamp(1_796_126_401));
    }
}

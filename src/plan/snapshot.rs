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
        .took_snapshot(&host.uri, &s.domain, &s.meta.name);
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
        (Some(_), false) => b.error(
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

//! Adoption (`--adopt`): an existing object of a manifest's name that
//! virtsync does not own is taken over *as it is*, in one `adopt` action
//! and nothing else for that object in this plan. Domains and networks
//! get the ownership marker by a define of their own inactive XML plus the
//! marker (a transient domain, which has no persistent config, in its
//! live definition); pools and volumes, which have no `<metadata>`, are
//! recorded in the inventory by the reconcile pass. The differences the
//! manifest has from the object appear in the next plan, planned as for
//! any owned object: taking over and changing are two decisions an
//! operator sees one after the other.
//!
//! Without `--adopt` these objects stay blocked as unmanaged collisions,
//! and the block message names the flag.

use super::*;
use crate::xml::Element;

/// The UUID a manifest pins, if it differs from the object's: an object
/// whose identity is not the manifest's is never adopted.
fn uuid_differs(kind: Kind, pinned: Option<&String>, have: &str) -> Option<String> {
    let have = have.to_ascii_lowercase();
    pinned.filter(|u| **u != have).map(|u| {
        format!(
            "cannot adopt the {} of this name: its UUID on the host is {have}, the manifest says {u}; \
             it is another object: remove `uuid` from the manifest, or rename the manifest",
            kind_noun(kind)
        )
    })
}

/// The observed XML of an existing domain or network without the
/// ownership marker, when `--adopt` was given; `None` otherwise (the
/// caller then checks ownership as usual, and blocks).
fn unowned(b: &Builder, xml: Option<&str>) -> Option<Element> {
    if !b.input.adopt {
        return None;
    }
    let root = Element::parse(xml?).ok()?;
    crate::render::read_marker(&root).is_none().then_some(root)
}

/// Adopt an existing domain that virtsync does not own, if `--adopt` was
/// given. Returns whether the domain was handled here (adopted, or refused
/// because it is not the manifest's object).
pub(crate) fn domain(b: &mut Builder, d: &Domain, obs: &ObservedDomain) -> bool {
    let Some(mut root) = unowned(b, obs.xml.as_deref()) else {
        return false;
    };
    let have = root.child("uuid").map(|u| u.text()).unwrap_or_default();
    if let Some(why) = uuid_differs(Kind::Domain, d.uuid.as_ref(), &have) {
        b.error(Kind::Domain, &d.meta, why);
        return true;
    }
    // The marker as any define of this manifest writes it; what it
    // records beyond that (a pending restart, a transient domain's
    // balloon target) is for virtsync's own changes, and there are none.
    let marker = b.marker(&d.meta, d);
    let step = if obs.persistent {
        crate::render::write_marker(&mut root, &marker);
        Step::AdoptDomain { xml: root.to_xml() }
    } else {
        Step::AdoptTransientDomain {
            marker: crate::render::marker_fragment(&marker),
        }
    };
    b.push(
        &d.meta.host,
        &d.meta.name,
        Effect::Update,
        vec![],
        step,
        &[],
        true,
    );
    true
}

/// Adopt an existing network that virtsync does not own, if `--adopt` was
/// given; as [`domain`].
pub(crate) fn network(b: &mut Builder, n: &Network, obs: &ObservedNetwork) -> bool {
    let Some(mut root) = unowned(b, obs.xml.as_deref()) else {
        return false;
    };
    let have = root.child("uuid").map(|u| u.text()).unwrap_or_default();
    if let Some(why) = uuid_differs(Kind::Network, n.uuid.as_ref(), &have) {
        b.error(Kind::Network, &n.meta, why);
        return true;
    }
    let marker = b.marker(&n.meta, n);
    crate::render::write_marker(&mut root, &marker);
    b.push(
        &n.meta.host,
        &n.meta.name,
        Effect::Update,
        vec![],
        Step::AdoptNetwork { xml: root.to_xml() },
        &[],
        true,
    );
    true
}

/// Adopt an existing pool that is not in the inventory, if `--adopt` was
/// given. Returns whether the pool was handled here.
pub(crate) fn pool(b: &mut Builder, p: &Pool, obs: &ObservedPool) -> bool {
    if !b.input.adopt {
        return false;
    }
    b.push(
        &p.meta.host,
        &p.meta.name,
        Effect::Update,
        vec![],
        Step::AdoptPool {
            uuid: obs.uuid.clone(),
        },
        &[],
        true,
    );
    true
}

/// Adopt an existing volume that is not in the inventory, if `--adopt`
/// was given. It waits for its pool (adopted in the same plan, perhaps),
/// and is blocked with it.
pub(crate) fn volume(b: &mut Builder, v: &Volume) -> bool {
    if !b.input.adopt {
        return false;
    }
    let deps = [obj_key(Kind::StoragePool, &v.meta.host, &v.pool)];
    b.push(
        &v.meta.host,
        &format!("{}/{}", v.pool, v.meta.name),
        Effect::Update,
        vec![],
        Step::AdoptVolume {
            pool: v.pool.clone(),
        },
        &deps,
        true,
    );
    true
}

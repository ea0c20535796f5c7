//! `--host NAME`: one controller per host of a fleet, all on checkouts of
//! the same repository. Each observes every host the manifests know (a
//! domain whose `metadata.host` moved is seen where it still runs, never
//! created a second time) and plans only what its own host does: actions
//! on that host, except that a move belongs wholly to the controller of
//! the host the domain leaves — its migration is a call to that host's
//! libvirtd, and an offline move's define on the target comes with the
//! undefine on the source, so that no pass ever sees two copies.

use std::collections::BTreeSet;

use super::*;

/// Keep in `b` only what the controller of `host` does; what depends on a
/// dropped action is dropped too, and a move left to another controller
/// is said.
pub(super) fn only_on(b: &mut Builder, host: &HostName) {
    let observed_here = b.input.observed.hosts.get(host);
    let source_here = |a: &Action| observed_here.is_some_and(|h| h.domains.contains_key(&a.name));
    let dropped: BTreeSet<String> = b
        .actions
        .iter()
        .filter(|a| {
            if a.effect == Effect::Move {
                !source_here(a)
            } else {
                &a.host != host
            }
        })
        .map(|a| a.id.clone())
        .collect();
    // Moves this host's controller leaves to the source's: said below.
    let left_to_others: Vec<(HostName, String)> = b
        .actions
        .iter()
        .filter(|a| a.effect == Effect::Move && dropped.contains(&a.id) && &a.host != host)
        .map(|a| (a.host.clone(), a.name.clone()))
        .collect();
    drop_actions(&mut b.actions, dropped);
    b.blocked.retain(|x| &x.host == host);
    b.notices.retain(|n| &n.host == host);
    for (from, name) in left_to_others {
        if b.notices
            .iter()
            .any(|n| n.name == name && n.kind == Kind::Domain)
        {
            continue;
        }
        b.notices.push(Notice {
            kind: Kind::Domain,
            name,
            host: host.clone(),
            message: format!(
                "moves here from {from}: the controller of {from} (`virtsync run --host {}`) moves it",
                from.label()
            ),
            restart_pending: Vec::new(),
            prune: None,
        });
    }
}

/// Drop the actions `ids` from `actions`, with every action that depends
/// on one of them (it could only be skipped); ordering-only edges to them
/// go too (the action runs anyway, as after a failure). Returns every id
/// dropped, in order.
pub fn drop_actions(actions: &mut Vec<Action>, ids: BTreeSet<String>) -> Vec<String> {
    let mut dropped = ids;
    // Dependents, to a fixed point (plans are small and acyclic).
    loop {
        let more: Vec<String> = actions
            .iter()
            .filter(|a| !dropped.contains(&a.id))
            .filter(|a| a.depends_on.iter().any(|d| dropped.contains(d)))
            .map(|a| a.id.clone())
            .collect();
        if more.is_empty() {
            break;
        }
        dropped.extend(more);
    }
    actions.retain(|a| !dropped.contains(&a.id));
    for a in actions.iter_mut() {
        a.after.retain(|d| !dropped.contains(d));
    }
    dropped.into_iter().collect()
}

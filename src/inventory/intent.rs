//! Intent records: ownership that survives a killed apply.
//!
//! Before virtsync creates a pool, volume or snapshot (or deletes a
//! snapshot it took), the reconcile pass records the intent and saves the
//! inventory; once the call returns, it records the outcome and saves
//! again. An apply killed in between (`kill -9`, a power cut) leaves the
//! intent behind, and the next pass settles it against what the host
//! has: the object exists, so it is virtsync's (it was about to be
//! recorded); it does not, so the intent is dropped. Without this, the
//! next run would find an object it made and refuse it as unmanaged.
//!
//! An intent is settled only when the observation can tell: a pool once
//! the pools were listed, a volume once its pool's volumes were, a
//! snapshot once its domain's snapshots were. Until then it stays.

use serde::{Deserialize, Serialize};

use super::HostInventory;
use crate::model::{Kind, ObservedHost};

/// A create (or a snapshot delete) started and not yet recorded.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Intent {
    /// `StoragePool`, `Volume` or `Snapshot`.
    pub kind: Kind,
    /// As in plan actions: `pool`, `pool/volume`, `domain/snapshot`.
    pub name: String,
    pub operation: IntentOp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IntentOp {
    Create,
    Delete,
}

impl Intent {
    pub fn create(kind: Kind, name: &str) -> Intent {
        Intent {
            kind,
            name: name.to_string(),
            operation: IntentOp::Create,
        }
    }

    pub fn delete(kind: Kind, name: &str) -> Intent {
        Intent {
            kind,
            name: name.to_string(),
            operation: IntentOp::Delete,
        }
    }
}

/// What the observation says of an intent's object.
enum Seen {
    /// It exists (with its UUID, for a pool).
    Exists(Option<String>),
    Absent,
    /// The observation did not list where it would be.
    Unknown,
}

impl HostInventory {
    /// Record that `i` is about to be attempted.
    pub fn intend(&mut self, i: Intent) {
        self.intents.insert(i);
    }

    /// Record that `i` was carried out: the object is virtsync's (a pool
    /// with the UUID libvirt gave it), or the snapshot is gone. A pool
    /// created without a UUID read back keeps its intent, settled by the
    /// next observation.
    pub fn confirm(&mut self, i: &Intent, uuid: Option<&str>) {
        let (first, rest) = i.name.split_once('/').unwrap_or((&i.name, ""));
        match (i.kind, i.operation) {
            (Kind::StoragePool, IntentOp::Create) => match uuid {
                Some(u) => self.record_pool(&i.name, u),
                None => return,
            },
            (Kind::Volume, IntentOp::Create) => self.record_volume(first, rest),
            (Kind::Snapshot, IntentOp::Create) => self.record_snapshot(first, rest),
            (Kind::Snapshot, IntentOp::Delete) => self.forget_snapshot(first, rest),
            _ => {}
        }
        self.intents.remove(i);
    }

    /// Settle every intent the observation `h` of this host can tell.
    pub(super) fn settle_intents(&mut self, h: &ObservedHost) {
        let intents = std::mem::take(&mut self.intents);
        for i in intents {
            let (first, rest) = i.name.split_once('/').unwrap_or((&i.name, ""));
            let seen = match i.kind {
                Kind::StoragePool if h.pools_listed => match h.pools.get(&i.name) {
                    Some(p) => Seen::Exists(Some(p.uuid.clone())),
                    None => Seen::Absent,
                },
                Kind::Volume if h.volumes_listed.contains(first) => {
                    if h.volumes
                        .contains_key(&(first.to_string(), rest.to_string()))
                    {
                        Seen::Exists(None)
                    } else {
                        Seen::Absent
                    }
                }
                Kind::Snapshot => match h.snapshots.get(first) {
                    Some(list) if list.contains_key(rest) => Seen::Exists(None),
                    Some(_) => Seen::Absent,
                    None => Seen::Unknown,
                },
                _ => Seen::Unknown,
            };
            match (i.operation, seen) {
                (_, Seen::Unknown) => {
                    self.intents.insert(i);
                }
                (IntentOp::Create, Seen::Exists(uuid)) => {
                    self.intents.insert(i.clone());
                    self.confirm(&i, uuid.as_deref());
                }
                // Never made: nothing to own. A snapshot still there was
                // not deleted: it stays virtsync's.
                (IntentOp::Create, Seen::Absent) | (IntentOp::Delete, Seen::Exists(_)) => {}
                (IntentOp::Delete, Seen::Absent) => self.forget_snapshot(first, rest),
            }
        }
    }
}

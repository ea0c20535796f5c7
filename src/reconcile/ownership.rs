//! Which actions of a plan create (or delete) something the inventory
//! records — the intents written before apply starts and confirmed as each
//! action ends (see `inventory::intent`).

use crate::apply::{Outcome, Status};
use crate::inventory::{Intent, Inventory};
use crate::model::{DesiredState, HostId, Kind, VolKey};
use crate::plan::{Action, Effect, Operation, Step};

/// The intent of `a`, if it creates a pool, a volume of the manifests or
/// a snapshot, or deletes a snapshot.
pub(super) fn intent_of(a: &Action, desired: &DesiredState) -> Option<Intent> {
    match (a.kind, a.operation) {
        // A define of a pool that exists is an update: only a new one is.
        (Kind::StoragePool, Operation::Define) if a.effect == Effect::Create => {
            Some(Intent::create(Kind::StoragePool, &a.name))
        }
        (Kind::Volume, Operation::CreateVolume) => {
            let (pool, name) = a.name.split_once('/')?;
            let declared = desired.volumes.contains_key(&VolKey {
                host: a.host.clone(),
                pool: pool.into(),
                name: name.into(),
            });
            declared.then(|| Intent::create(Kind::Volume, &a.name))
        }
        (Kind::Snapshot, Operation::CreateSnapshot) => {
            Some(Intent::create(Kind::Snapshot, &a.name))
        }
        (Kind::Snapshot, Operation::DeleteSnapshot) => {
            Some(Intent::delete(Kind::Snapshot, &a.name))
        }
        _ => None,
    }
}

/// Record the outcome of `a` on host `id` (reached at `uri`): a done
/// create is virtsync's from now on (a pool by the UUID libvirt gave it),
/// a done delete forgotten. A failed one keeps its intent: the call may
/// have got through before the error, and the observation after apply
/// settles it.
pub(super) fn record_outcome(
    inventory: &mut Inventory,
    desired: &DesiredState,
    id: &HostId,
    uri: &str,
    a: &Action,
    o: &Outcome,
) -> bool {
    let Some(intent) = intent_of(a, desired) else {
        return false;
    };
    if o.status != Status::Done {
        return false;
    }
    let uuid = o.created.as_ref().and_then(|c| c.uuid.as_deref());
    let host = inventory.host_mut(id, uri);
    host.confirm(&intent, uuid);
    if let (Step::UploadVolume { source, .. }, Some((pool, name))) =
        (&a.step, a.name.split_once('/'))
    {
        host.record_image(pool, name, source);
    }
    true
}

//! The ownership inventory for objects without `<metadata>` (pools,
//! volumes and snapshots): which of them virtsync created, per host, kept
//! as JSON under the state directory. libvirt has nowhere else to keep
//! this: the file is their only ownership record.
//!
//! Records are keyed by the host's identity ([`HostId`], its UUID), not by
//! the URI it was reached at, so `qemu:///system` and its socket spelling
//! share one record. Files written before identities existed are keyed by
//! URI; their records move to the host's identity the first time a pass
//! reaches that URI ([`Inventory::view`]).
//!
//! A pool is owned when its name and UUID are recorded (a pool re-created by
//! someone else under the same name gets a new UUID and is not ours); a
//! volume is owned when it is recorded under an owned pool. Before virtsync
//! creates one of them it records an *intent* ([`intent`]), so that an
//! apply killed between the create and its record leaves nothing the next
//! run refuses as unmanaged.
//!
//! Every apply also refreshes a [`Record`] of each object it manages —
//! whose it is (the owner identity), its labels, a volume's reclaim policy,
//! a domain's or network's UUID — because pruning happens once the
//! manifest that said all this is gone. For domains and networks the
//! ownership marker stays the authority; their records let a plan without
//! `--prune` say what a prune would delete without reading every object.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::model::{HostId, ObservedState};

pub mod intent;

pub use intent::{Intent, IntentOp};

/// Bumped when the file's shape changes; older files are migrated on read.
pub const FORMAT_VERSION: u32 = 2;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Inventory {
    pub format_version: u32,
    /// By host identity.
    pub hosts: BTreeMap<HostId, HostInventory>,
    /// Records of a file written before hosts were identified, by the URI
    /// they were made through; each moves to its host's identity when a
    /// pass reaches that URI.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub by_uri: BTreeMap<String, HostInventory>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostInventory {
    /// The URIs the host was reached at (for people reading the file).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub uris: BTreeSet<String>,
    /// Pool name → UUID.
    pub pools: BTreeMap<String, String>,
    /// Pool name → volume names.
    pub volumes: BTreeMap<String, BTreeSet<String>>,
    /// Domain name → names of the snapshots virtsync took of it. A
    /// snapshot recorded here and gone from the host was deleted by hand:
    /// it is reported, never taken again (a new one would hold today's
    /// state, not the state it was declared for).
    #[serde(default)]
    pub snapshots: BTreeMap<String, BTreeSet<String>>,
    /// Pool name → volume name → the image a volume was made from, as
    /// the manifest said when virtsync made it: a later manifest naming
    /// another image is refused, never downloaded again.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub images: BTreeMap<String, BTreeMap<String, crate::model::ImageSource>>,
    /// Creates (and snapshot deletes) started whose outcome is not
    /// recorded yet.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub intents: BTreeSet<Intent>,
    /// What the last apply that managed each object recorded of it.
    /// Inventories written before records existed have none: their pools
    /// and volumes are claimed by the first owner that manages them.
    #[serde(default, skip_serializing_if = "Records::is_empty")]
    pub records: Records,
}

/// The [`Record`]s of one host, per kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Records {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub domains: BTreeMap<String, Record>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub networks: BTreeMap<String, Record>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pools: BTreeMap<String, Record>,
    /// Pool name → volume name → record.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub volumes: BTreeMap<String, BTreeMap<String, Record>>,
}

impl Records {
    pub fn is_empty(&self) -> bool {
        self.domains.is_empty()
            && self.networks.is_empty()
            && self.pools.is_empty()
            && self.volumes.is_empty()
    }
}

/// What virtsync knew of an object it managed, from its manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    /// The owner identity (see [`crate::owner`]).
    pub owner: String,
    /// Domains and networks: the UUID of the object recorded (one
    /// re-created under the same name by someone else is not this one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uuid: Option<String>,
    /// The manifest's `metadata.labels`, matched against `--selector`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Volumes: what removing the manifest does (`delete`: a prune
    /// deletes the volume; `retain` or unknown: it is kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reclaim_policy: Option<crate::model::ReclaimPolicy>,
}

/// The file as read: any format version.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct InventoryFile {
    /// Absent in the first format, whose `hosts` were keyed by URI.
    #[serde(default)]
    format_version: Option<u32>,
    #[serde(default)]
    hosts: BTreeMap<String, HostInventory>,
    #[serde(default)]
    by_uri: BTreeMap<String, HostInventory>,
}

#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    #[error("cannot read inventory {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("inventory {} is corrupt ({source}); move it aside to start a new one (then recover ownership with `virtsync import --adopt`)", path.display())]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("inventory {} has format version {found}, newer than this virtsync knows ({FORMAT_VERSION}); upgrade virtsync", path.display())]
    Newer { path: PathBuf, found: u32 },
    #[error("cannot write inventory {}: {source} (set --state-dir to a writable directory)", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

pub const FILE_NAME: &str = "inventory.json";

impl Inventory {
    pub fn path(state_dir: &Path) -> PathBuf {
        state_dir.join(FILE_NAME)
    }

    /// Read the inventory; a missing file is an empty inventory. A file of
    /// the first format (keyed by URI) is read into [`Inventory::by_uri`].
    pub fn load(state_dir: &Path) -> Result<Inventory, InventoryError> {
        let path = Self::path(state_dir);
        match std::fs::read(&path) {
            Ok(bytes) => Self::from_json(&bytes, &path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Inventory::default()),
            Err(source) => Err(InventoryError::Read { path, source }),
        }
    }

    fn from_json(bytes: &[u8], path: &Path) -> Result<Inventory, InventoryError> {
        let f: InventoryFile =
            serde_json::from_slice(bytes).map_err(|source| InventoryError::Parse {
                path: path.to_path_buf(),
                source,
            })?;
        match f.format_version {
            None | Some(1) => Ok(Inventory {
                format_version: FORMAT_VERSION,
                hosts: BTreeMap::new(),
                by_uri: f.hosts.into_iter().chain(f.by_uri).collect(),
            }),
            Some(FORMAT_VERSION) => Ok(Inventory {
                format_version: FORMAT_VERSION,
                hosts: f
                    .hosts
                    .into_iter()
                    .map(|(k, v)| (HostId::from(k.as_str()), v))
                    .collect(),
                by_uri: f.by_uri,
            }),
            Some(found) => Err(InventoryError::Newer {
                path: path.to_path_buf(),
                found,
            }),
        }
    }

    /// Write atomically and durably (temp file, fsync, rename, fsync of the
    /// directory), so a crash never leaves half a file or loses a record
    /// that was reported written.
    pub fn save(&self, state_dir: &Path) -> Result<(), InventoryError> {
        let path = Self::path(state_dir);
        let mut me = self.clone();
        me.format_version = FORMAT_VERSION;
        me.hosts.retain(|_, h| !h.is_empty());
        let write = || -> std::io::Result<()> {
            std::fs::create_dir_all(state_dir)?;
            let json = serde_json::to_vec_pretty(&me).expect("inventory serializes");
            crate::state_file::write_atomic(&path, &json, 0o644)
        };
        write().map_err(|source| InventoryError::Write {
            path: path.clone(),
            source,
        })
    }

    /// The inventory as a pass over `observed` sees it: the records of a
    /// URI-keyed file moved to the identity of the host reached at that
    /// URI, and the intents of every observed host settled against what it
    /// has ([`intent`]). Pure: `plan` and `status` plan with it and write
    /// nothing; `apply` saves it.
    pub fn view(&self, observed: &ObservedState) -> Inventory {
        let mut out = self.clone();
        out.format_version = FORMAT_VERSION;
        for h in observed.hosts.values() {
            let id = h.identity();
            if let Some(old) = out.by_uri.remove(&h.uri) {
                out.hosts.entry(id.clone()).or_default().merge(old);
            }
            if let Some(rec) = out.hosts.get_mut(&id) {
                rec.uris.insert(h.uri.clone());
                rec.settle_intents(h);
            }
        }
        out
    }

    /// The record of `id` as of a pass through `uri` (its URI-keyed record
    /// of an older file included), for commands that reach one host
    /// without a pass (`snapshot list`).
    pub fn for_host(&self, id: &HostId, uri: &str) -> HostInventory {
        let mut rec = self.hosts.get(id).cloned().unwrap_or_default();
        if let Some(old) = self.by_uri.get(uri) {
            rec.merge(old.clone());
        }
        rec
    }

    pub fn owns_pool(&self, id: &HostId, name: &str, uuid: &str) -> bool {
        self.hosts
            .get(id)
            .and_then(|h| h.pools.get(name))
            .is_some_and(|u| u == uuid)
    }

    pub fn owns_volume(&self, id: &HostId, pool: &str, name: &str) -> bool {
        self.hosts
            .get(id)
            .and_then(|h| h.volumes.get(pool))
            .is_some_and(|v| v.contains(name))
    }

    pub fn took_snapshot(&self, id: &HostId, domain: &str, name: &str) -> bool {
        self.hosts
            .get(id)
            .is_some_and(|h| h.took_snapshot(domain, name))
    }

    /// The record of `id`, created empty if there is none; `uri` is noted
    /// as one it is reached at.
    pub fn host_mut(&mut self, id: &HostId, uri: &str) -> &mut HostInventory {
        let h = self.hosts.entry(id.clone()).or_default();
        h.uris.insert(uri.to_string());
        h
    }

    pub fn record_snapshot(&mut self, id: &HostId, domain: &str, name: &str) {
        self.hosts
            .entry(id.clone())
            .or_default()
            .record_snapshot(domain, name);
    }

    pub fn forget_snapshot(&mut self, id: &HostId, domain: &str, name: &str) {
        if let Some(h) = self.hosts.get_mut(id) {
            h.forget_snapshot(domain, name);
        }
    }

    pub fn record_pool(&mut self, id: &HostId, name: &str, uuid: &str) {
        self.hosts
            .entry(id.clone())
            .or_default()
            .record_pool(name, uuid);
    }

    pub fn record_volume(&mut self, id: &HostId, pool: &str, name: &str) {
        self.hosts
            .entry(id.clone())
            .or_default()
            .record_volume(pool, name);
    }
    /// The records of host `id`, if any.
    pub fn records(&self, id: &HostId) -> Option<&Records> {
        self.hosts.get(id).map(|h| &h.records)
    }

    /// The records of host `id`, to write.
    pub fn records_mut(&mut self, id: &HostId) -> &mut Records {
        &mut self.hosts.entry(id.clone()).or_default().records
    }

    pub fn pool_record(&self, id: &HostId, pool: &str) -> Option<&Record> {
        self.records(id).and_then(|r| r.pools.get(pool))
    }

    /// The image volume `pool`/`name` was made from, if virtsync made it
    /// from one.
    pub fn volume_image(
        &self,
        id: &HostId,
        pool: &str,
        name: &str,
    ) -> Option<&crate::model::ImageSource> {
        self.hosts
            .get(id)
            .and_then(|h| h.images.get(pool))
            .and_then(|v| v.get(name))
    }

    pub fn volume_record(&self, id: &HostId, pool: &str, name: &str) -> Option<&Record> {
        self.records(id)
            .and_then(|r| r.volumes.get(pool))
            .and_then(|v| v.get(name))
    }

    /// A pool virtsync no longer has: it, its volumes and their records.
    pub fn forget_pool(&mut self, id: &HostId, name: &str) {
        if let Some(h) = self.hosts.get_mut(id) {
            h.pools.remove(name);
            h.volumes.remove(name);
            h.images.remove(name);
            h.records.pools.remove(name);
            h.records.volumes.remove(name);
        }
    }

    pub fn forget_volume(&mut self, id: &HostId, pool: &str, name: &str) {
        if let Some(h) = self.hosts.get_mut(id) {
            if let Some(v) = h.volumes.get_mut(pool) {
                v.remove(name);
            }
            if let Some(v) = h.images.get_mut(pool) {
                v.remove(name);
            }
            if let Some(v) = h.records.volumes.get_mut(pool) {
                v.remove(name);
            }
        }
    }

    /// A domain undefined by a prune: its record, and its snapshots (their
    /// metadata went with it).
    pub fn forget_domain(&mut self, id: &HostId, name: &str) {
        if let Some(h) = self.hosts.get_mut(id) {
            h.records.domains.remove(name);
            h.snapshots.remove(name);
        }
    }

    pub fn forget_network(&mut self, id: &HostId, name: &str) {
        if let Some(h) = self.hosts.get_mut(id) {
            h.records.networks.remove(name);
        }
    }
}

impl HostInventory {
    fn is_empty(&self) -> bool {
        self.pools.is_empty()
            && self.volumes.values().all(BTreeSet::is_empty)
            && self.snapshots.values().all(BTreeSet::is_empty)
            && self.intents.is_empty()
            && self.images.values().all(BTreeMap::is_empty)
            && self.records.is_empty()
    }

    /// Add the records of `other` (the same host's URI-keyed record).
    fn merge(&mut self, other: HostInventory) {
        self.uris.extend(other.uris);
        for (name, uuid) in other.pools {
            self.pools.entry(name).or_insert(uuid);
        }
        for (pool, vols) in other.volumes {
            self.volumes.entry(pool).or_default().extend(vols);
        }
        for (dom, snaps) in other.snapshots {
            self.snapshots.entry(dom).or_default().extend(snaps);
        }
        self.intents.extend(other.intents);
        for (pool, vols) in other.images {
            let into = self.images.entry(pool).or_default();
            for (k, v) in vols {
                into.entry(k).or_insert(v);
            }
        }
        let r = other.records;
        for (k, v) in r.domains {
            self.records.domains.entry(k).or_insert(v);
        }
        for (k, v) in r.networks {
            self.records.networks.entry(k).or_insert(v);
        }
        for (k, v) in r.pools {
            self.records.pools.entry(k).or_insert(v);
        }
        for (pool, vols) in r.volumes {
            let into = self.records.volumes.entry(pool).or_default();
            for (k, v) in vols {
                into.entry(k).or_insert(v);
            }
        }
    }

    pub fn took_snapshot(&self, domain: &str, name: &str) -> bool {
        self.snapshots.get(domain).is_some_and(|s| s.contains(name))
    }

    pub fn record_snapshot(&mut self, domain: &str, name: &str) {
        self.snapshots
            .entry(domain.to_string())
            .or_default()
            .insert(name.to_string());
    }

    pub fn forget_snapshot(&mut self, domain: &str, name: &str) {
        if let Some(s) = self.snapshots.get_mut(domain) {
            s.remove(name);
            if s.is_empty() {
                self.snapshots.remove(domain);
            }
        }
    }

    pub fn record_pool(&mut self, name: &str, uuid: &str) {
        if self.pools.get(name).is_some_and(|u| u != uuid) {
            // A different pool under an old name: its volumes are not ours.
            self.volumes.remove(name);
        }
        self.pools.insert(name.to_string(), uuid.to_string());
    }

    pub fn record_volume(&mut self, pool: &str, name: &str) {
        self.volumes
            .entry(pool.to_string())
            .or_default()
            .insert(name.to_string());
    }

    /// Volume `pool`/`name`, just made from `source`.
    pub fn record_image(&mut self, pool: &str, name: &str, source: &crate::model::ImageSource) {
        self.images
            .entry(pool.to_string())
            .or_default()
            .insert(name.to_string(), source.clone());
    }
}

#[cfg(test)]
mod tests;

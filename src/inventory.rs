//! The ownership inventory for objects without `<metadata>` (pools,
//! volumes and snapshots): which of them virtsync created, per host URI,
//! kept as JSON under the state directory.
//!
//! A pool is owned when its name and UUID are recorded (a pool re-created by
//! someone else under the same name gets a new UUID and is not ours); a
//! volume is owned when it is recorded under an owned pool.
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

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inventory {
    /// By host URI.
    pub hosts: BTreeMap<String, HostInventory>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostInventory {
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

#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    #[error("cannot read inventory {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("inventory {} is corrupt ({source}); move it aside to start a new one", path.display())]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
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

    /// Read the inventory; a missing file is an empty inventory.
    pub fn load(state_dir: &Path) -> Result<Inventory, InventoryError> {
        let path = Self::path(state_dir);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|source| InventoryError::Parse { path, source }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Inventory::default()),
            Err(source) => Err(InventoryError::Read { path, source }),
        }
    }

    /// Write atomically (temp file + rename), so a crash never leaves half a file.
    pub fn save(&self, state_dir: &Path) -> Result<(), InventoryError> {
        let path = Self::path(state_dir);
        let write = || -> std::io::Result<()> {
            std::fs::create_dir_all(state_dir)?;
            let tmp = state_dir.join(format!(".{FILE_NAME}.tmp"));
            std::fs::write(
                &tmp,
                serde_json::to_vec_pretty(self).expect("inventory serializes"),
            )?;
            std::fs::rename(&tmp, &path)
        };
        write().map_err(|source| InventoryError::Write {
            path: path.clone(),
            source,
        })
    }

    pub fn owns_pool(&self, uri: &str, name: &str, uuid: &str) -> bool {
        self.hosts
            .get(uri)
            .and_then(|h| h.pools.get(name))
            .is_some_and(|u| u == uuid)
    }

    pub fn owns_volume(&self, uri: &str, pool: &str, name: &str) -> bool {
        self.hosts
            .get(uri)
            .and_then(|h| h.volumes.get(pool))
            .is_some_and(|v| v.contains(name))
    }

    pub fn took_snapshot(&self, uri: &str, domain: &str, name: &str) -> bool {
        self.hosts
            .get(uri)
            .and_then(|h| h.snapshots.get(domain))
            .is_some_and(|s| s.contains(name))
    }

    pub fn record_snapshot(&mut self, uri: &str, domain: &str, name: &str) {
        self.hosts
            .entry(uri.to_string())
            .or_default()
            .snapshots
            .entry(domain.to_string())
            .or_default()
            .insert(name.to_string());
    }

    pub fn forget_snapshot(&mut self, uri: &str, domain: &str, name: &str) {
        if let Some(s) = self
            .hosts
            .get_mut(uri)
            .and_then(|h| h.snapshots.get_mut(domain))
        {
            s.remove(name);
        }
    }

    pub fn record_pool(&mut self, uri: &str, name: &str, uuid: &str) {
        let h = self.hosts.entry(uri.to_string()).or_default();
        if h.pools.get(name).is_some_and(|u| u != uuid) {
            // A different pool under an old name: its volumes are not ours.
            h.volumes.remove(name);
            h.records.pools.remove(name);
            h.records.volumes.remove(name);
        }
        h.pools.insert(name.to_string(), uuid.to_string());
    }

    /// The records of host `uri`, if any.
    pub fn records(&self, uri: &str) -> Option<&Records> {
        self.hosts.get(uri).map(|h| &h.records)
    }

    /// The records of host `uri`, to write.
    pub fn records_mut(&mut self, uri: &str) -> &mut Records {
        &mut self.hosts.entry(uri.to_string()).or_default().records
    }

    pub fn pool_record(&self, uri: &str, pool: &str) -> Option<&Record> {
        self.records(uri).and_then(|r| r.pools.get(pool))
    }

    pub fn volume_record(&self, uri: &str, pool: &str, name: &str) -> Option<&Record> {
        self.records(uri)
            .and_then(|r| r.volumes.get(pool))
            .and_then(|v| v.get(name))
    }

    /// A pool virtsync no longer has: it, its volumes and their records.
    pub fn forget_pool(&mut self, uri: &str, name: &str) {
        if let Some(h) = self.hosts.get_mut(uri) {
            h.pools.remove(name);
            h.volumes.remove(name);
            h.records.pools.remove(name);
            h.records.volumes.remove(name);
        }
    }

    pub fn forget_volume(&mut self, uri: &str, pool: &str, name: &str) {
        if let Some(h) = self.hosts.get_mut(uri) {
            if let Some(v) = h.volumes.get_mut(pool) {
                v.remove(name);
            }
            if let Some(v) = h.records.volumes.get_mut(pool) {
                v.remove(name);
            }
        }
    }

    /// A domain undefined by a prune: its record, and its snapshots (their
    /// metadata went with it).
    pub fn forget_domain(&mut self, uri: &str, name: &str) {
        if let Some(h) = self.hosts.get_mut(uri) {
            h.records.domains.remove(name);
            h.snapshots.remove(name);
        }
    }

    pub fn forget_network(&mut self, uri: &str, name: &str) {
        if let Some(h) = self.hosts.get_mut(uri) {
            h.records.networks.remove(name);
        }
    }

    pub fn record_volume(&mut self, uri: &str, pool: &str, name: &str) {
        self.hosts
            .entry(uri.to_string())
            .or_default()
            .volumes
            .entry(pool.to_string())
            .or_default()
            .insert(name.to_string());
    }
}

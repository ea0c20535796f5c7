//! The ownership inventory for objects without `<metadata>` (pools,
//! volumes and snapshots): which of them virtsync created, per host URI,
//! kept as JSON under the state directory.
//!
//! A pool is owned when its name and UUID are recorded (a pool re-created by
//! someone else under the same name gets a new UUID and is not ours); a
//! volume is owned when it is recorded under an owned pool.

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
        }
        h.pools.insert(name.to_string(), uuid.to_string());
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

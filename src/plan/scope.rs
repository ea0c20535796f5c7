//! What a pass plans for besides the selected manifests: whose objects
//! they are (the owner identity), which objects `--selector` picks, every
//! object the manifest directory declares (selected or not: never pruned),
//! and whether — and how far — the pass may delete. Plain data, handed to
//! the planner like the rest of its input.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::Serialize;

use crate::model::{DesiredState, HostName, Kind};

/// The owner, selector, declared objects and prune options of a pass.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Scope {
    /// The owner identity written in markers and inventory records (see
    /// [`crate::owner`]). Objects another owner's marker or record names
    /// are never changed, adopted or pruned.
    pub owner: String,
    /// `--selector`: only objects whose labels carry every `k=v` are
    /// planned — and pruned (by the labels recorded when they were managed).
    pub selector: Vec<(String, String)>,
    /// Every object of the manifest directory, with or without the
    /// selector: host, kind and name (`pool/volume` for volumes,
    /// `domain/snapshot` for snapshots). None of them is ever pruned — the
    /// trap of pruning everything outside a selector.
    pub declared: BTreeSet<(HostName, Kind, String)>,
    /// `--prune`: delete owned objects whose manifests are gone. Without
    /// it, the plan lists them as notices and deletes nothing.
    pub prune: Option<PruneOptions>,
    /// `--host NAME` (one controller per host of a fleet): every known
    /// host is observed, but only this host's actions are planned — and a
    /// moved domain's whole move by the controller of the host it leaves
    /// (see [`super::fleet`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub only_host: Option<HostName>,
}

/// The guards of a prune.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PruneOptions {
    /// At most this many objects deleted per pass; a prune that would
    /// delete more is refused and deletes nothing (`--max-deletions`).
    pub max_deletions: usize,
    /// Prune even when no manifest (after the selector) is left; without
    /// it such a prune is refused (`--allow-empty`).
    pub allow_empty: bool,
    /// How long a pruned running domain gets to shut down gracefully
    /// before it is destroyed (`--shutdown-timeout`; its manifest, with
    /// its `shutdownTimeout`, is gone).
    #[serde(with = "millis")]
    pub shutdown_timeout: Duration,
}

impl Default for PruneOptions {
    fn default() -> Self {
        PruneOptions {
            max_deletions: 5,
            allow_empty: false,
            shutdown_timeout: Duration::from_secs(60),
        }
    }
}

mod millis {
    pub fn serialize<S: serde::Serializer>(
        d: &std::time::Duration,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis() as u64)
    }
}

impl Scope {
    /// The scope of manifest set `all` (every object of the directory,
    /// before any selector) for `owner`: nothing selected away, no prune.
    pub fn new(owner: impl Into<String>, all: &DesiredState) -> Scope {
        let mut declared = BTreeSet::new();
        for k in all.domains.keys() {
            declared.insert((k.host.clone(), Kind::Domain, k.name.clone()));
        }
        for k in all.networks.keys() {
            declared.insert((k.host.clone(), Kind::Network, k.name.clone()));
        }
        for k in all.pools.keys() {
            declared.insert((k.host.clone(), Kind::StoragePool, k.name.clone()));
        }
        for k in all.volumes.keys() {
            let name = format!("{}/{}", k.pool, k.name);
            declared.insert((k.host.clone(), Kind::Volume, name));
        }
        for k in all.snapshots.keys() {
            let name = format!("{}/{}", k.domain, k.name);
            declared.insert((k.host.clone(), Kind::Snapshot, name));
        }
        Scope {
            owner: owner.into(),
            selector: Vec::new(),
            declared,
            prune: None,
            only_host: None,
        }
    }

    pub fn with_only_host(mut self, host: Option<HostName>) -> Scope {
        self.only_host = host;
        self
    }

    pub fn with_selector(mut self, selector: &[(String, String)]) -> Scope {
        self.selector = selector.to_vec();
        self
    }

    pub fn with_prune(mut self, prune: Option<PruneOptions>) -> Scope {
        self.prune = prune;
        self
    }

    /// The manifest directory declares this object.
    pub fn declares(&self, host: &HostName, kind: Kind, name: &str) -> bool {
        self.declared
            .contains(&(host.clone(), kind, name.to_string()))
    }

    /// `labels` carry every `k=v` of the selector.
    pub fn selects(&self, labels: &BTreeMap<String, String>) -> bool {
        self.selector
            .iter()
            .all(|(k, v)| labels.get(k).is_some_and(|x| x == v))
    }
}

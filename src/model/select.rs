//! `--selector`: the objects whose labels match, and everything they
//! depend on (like terraform's `-target`): a selected domain brings its
//! networks, volumes and their pools; a volume its pool and its backing or
//! clone source; a snapshot its domain. Planning a domain without the
//! volume it boots from would block it or, worse, guess the volume's
//! format; what depends on a selected object (a domain's snapshots) is not
//! pulled in.

use std::collections::BTreeSet;

use super::*;

/// An object of the desired state, across kinds.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Obj {
    Domain(ObjKey),
    Network(ObjKey),
    Pool(ObjKey),
    Volume(VolKey),
    Snapshot(SnapKey),
}

impl DesiredState {
    /// Keep the objects whose labels carry every `key=value` of `selector`
    /// and, transitively, what they depend on. Hosts are always kept: they
    /// are connections, not objects. Returns how many objects the selector
    /// itself matched (0 with an empty selector, which keeps everything).
    pub fn select(&mut self, selector: &[(String, String)]) -> usize {
        if selector.is_empty() {
            return 0;
        }
        let matches = |m: &Meta| {
            selector
                .iter()
                .all(|(k, v)| m.labels.get(k).is_some_and(|x| x == v))
        };
        let mut todo: Vec<Obj> = Vec::new();
        todo.extend(
            self.domains
                .iter()
                .filter(|(_, o)| matches(&o.meta))
                .map(|(k, _)| Obj::Domain(k.clone())),
        );
        todo.extend(
            self.networks
                .iter()
                .filter(|(_, o)| matches(&o.meta))
                .map(|(k, _)| Obj::Network(k.clone())),
        );
        todo.extend(
            self.pools
                .iter()
                .filter(|(_, o)| matches(&o.meta))
                .map(|(k, _)| Obj::Pool(k.clone())),
        );
        todo.extend(
            self.volumes
                .iter()
                .filter(|(_, o)| matches(&o.meta))
                .map(|(k, _)| Obj::Volume(k.clone())),
        );
        todo.extend(
            self.snapshots
                .iter()
                .filter(|(_, o)| matches(&o.meta))
                .map(|(k, _)| Obj::Snapshot(k.clone())),
        );
        let matched = todo.len();
        let mut keep: BTreeSet<Obj> = BTreeSet::new();
        while let Some(o) = todo.pop() {
            if keep.contains(&o) {
                continue;
            }
            todo.extend(self.dependencies(&o));
            keep.insert(o);
        }
        self.domains
            .retain(|k, _| keep.contains(&Obj::Domain(k.clone())));
        self.networks
            .retain(|k, _| keep.contains(&Obj::Network(k.clone())));
        self.pools
            .retain(|k, _| keep.contains(&Obj::Pool(k.clone())));
        self.volumes
            .retain(|k, _| keep.contains(&Obj::Volume(k.clone())));
        self.snapshots
            .retain(|k, _| keep.contains(&Obj::Snapshot(k.clone())));
        matched
    }

    /// The objects of this desired state that `o` depends on (references
    /// to objects without a manifest are left out: validation resolved
    /// them, or they are paths).
    fn dependencies(&self, o: &Obj) -> Vec<Obj> {
        let obj = |host: &HostName, name: &str| ObjKey {
            host: host.clone(),
            name: name.to_string(),
        };
        let volume = |host: &HostName, pool: &str, name: &str| {
            vec![
                Obj::Pool(obj(host, pool)),
                Obj::Volume(VolKey {
                    host: host.clone(),
                    pool: pool.to_string(),
                    name: name.to_string(),
                }),
            ]
        };
        let mut out = Vec::new();
        match o {
            Obj::Domain(k) => {
                let Some(d) = self.domains.get(k) else {
                    return out;
                };
                for disk in d.disks.iter().flatten() {
                    if let DiskSource::Volume { pool, name } = &disk.source {
                        out.extend(volume(&k.host, pool, name));
                    }
                }
                for nic in d.interfaces.iter().flatten() {
                    if let InterfaceSource::Network(n) = &nic.source {
                        out.push(Obj::Network(obj(&k.host, n)));
                    }
                }
            }
            Obj::Volume(k) => {
                out.push(Obj::Pool(obj(&k.host, &k.pool)));
                if let Some(v) = self.volumes.get(k) {
                    for (pool, name) in v.backing_store.iter().chain(v.clone_from.iter()) {
                        out.extend(volume(&k.host, pool, name));
                    }
                }
            }
            Obj::Snapshot(k) => out.push(Obj::Domain(obj(&k.host, &k.domain))),
            Obj::Network(_) | Obj::Pool(_) => {}
        }
        out.retain(|o| self.has(o));
        out
    }

    fn has(&self, o: &Obj) -> bool {
        match o {
            Obj::Domain(k) => self.domains.contains_key(k),
            Obj::Network(k) => self.networks.contains_key(k),
            Obj::Pool(k) => self.pools.contains_key(k),
            Obj::Volume(k) => self.volumes.contains_key(k),
            Obj::Snapshot(k) => self.snapshots.contains_key(k),
        }
    }
}

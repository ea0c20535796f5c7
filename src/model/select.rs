//! `--selector`: the objects whose labels match, and everything they
//! depend on (like terraform's `-target`): a selected domain brings its
//! networks, volumes and their pools; a volume its pool and its backing or
//! clone source; a snapshot its domain. Planning a domain without the
//! volume it boots from would block it or, worse, guess the volume's
//! format; what depends on a selected object (a domain's snapshots) is not
//! pulled in.
//!
//! `--host NAME`: the objects placed on one host, for the controller that
//! runs there (one per host of a fleet); the other hosts are left to
//! their own controllers, neither connected to nor pruned.

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

/// What `--host default` names when no Host manifest is called so: the
/// default connection's objects (those without `metadata.host`).
pub const DEFAULT_HOST_NAME: &str = "default";

impl DesiredState {
    /// `--host NAME`: keep only the objects placed on host `name` (a Host
    /// manifest's name, or [`DEFAULT_HOST_NAME`] for the objects without
    /// `metadata.host`), and remember the host in
    /// [`DesiredState::only_host`]. The other hosts' domains and the Host
    /// manifests stay: the other hosts are observed, never written, so
    /// that a domain whose `metadata.host` moved is seen where it still
    /// runs — moved by the controller of the host it leaves, never created
    /// a second time (the planner keeps only this host's actions, see
    /// `plan::Scope::only_host`). When `name` is neither, nothing is kept
    /// (a controller left running while its Host manifest is renamed does
    /// nothing rather than everything) and the error says which names are.
    pub fn select_host(&mut self, name: &str) -> Result<(), String> {
        let known = self.host_names();
        let host = if self.hosts.contains_key(name) {
            Some(HostName::named(name))
        } else {
            (name == DEFAULT_HOST_NAME).then_some(HostName::DEFAULT)
        };
        let on = |h: &HostName| host.as_ref() == Some(h);
        if host.is_none() {
            self.hosts.clear();
            self.domains.clear();
        }
        self.networks.retain(|k, _| on(&k.host));
        self.pools.retain(|k, _| on(&k.host));
        self.volumes.retain(|k, _| on(&k.host));
        self.snapshots.retain(|k, _| on(&k.host));
        self.only_host = Some(host.clone().unwrap_or_else(|| HostName::named(name)));
        match host {
            Some(_) => Ok(()),
            None => Err(format!(
                "no Host manifest is named {name} (hosts: {})",
                known.join(", ")
            )),
        }
    }

    /// The names `--host` accepts: every Host manifest's, and
    /// [`DEFAULT_HOST_NAME`] unless a Host manifest takes it.
    pub fn host_names(&self) -> Vec<String> {
        let mut out: Vec<String> = self.hosts.keys().cloned().collect();
        if !self.hosts.contains_key(DEFAULT_HOST_NAME) {
            out.push(DEFAULT_HOST_NAME.to_string());
        }
        out.sort();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> DesiredState {
        let yaml = |host: &str, name: &str| {
            format!("apiVersion: virtsync.io/v1alpha1\nkind: Network\nmetadata: {{name: {name}{host}}}\nspec: {{active: false}}\n")
        };
        let host = |name: &str| {
            format!("apiVersion: virtsync.io/v1alpha1\nkind: Host\nmetadata: {{name: {name}}}\nspec: {{uri: \"qemu+ssh://{name}/system\"}}\n")
        };
        let dir = tempfile::tempdir().unwrap();
        for (f, text) in [
            ("a.yaml", host("a")),
            ("b.yaml", host("b")),
            ("na.yaml", yaml(", host: a", "na")),
            ("nb.yaml", yaml(", host: b", "nb")),
            ("nd.yaml", yaml("", "nd")),
        ] {
            std::fs::write(dir.path().join(f), text).unwrap();
        }
        crate::manifest::load_dir(dir.path(), &Default::default())
            .expect("valid")
            .0
    }

    fn networks(d: &DesiredState) -> Vec<&str> {
        d.networks.keys().map(|k| k.name.as_str()).collect()
    }

    #[test]
    fn a_host_keeps_its_objects_and_its_host_only() {
        let mut d = state();
        d.select_host("a").unwrap();
        assert_eq!(networks(&d), ["na"]);
        // Every Host stays known: the others are observed for moves.
        assert_eq!(d.hosts.keys().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(d.only_host, Some(HostName::named("a")));
        let mut d = state();
        d.select_host("default").unwrap();
        assert_eq!(networks(&d), ["nd"]);
        assert_eq!(d.only_host, Some(HostName::DEFAULT));
    }

    #[test]
    fn an_unknown_host_keeps_nothing_and_names_the_known_ones() {
        let mut d = state();
        let e = d.select_host("c").unwrap_err();
        assert_eq!(e, "no Host manifest is named c (hosts: a, b, default)");
        assert!(d.networks.is_empty() && d.hosts.is_empty());
    }
}

//! The directory as a whole, first step: which objects exist, where.
//!
//! Names are unique per kind per host (Host names globally, Volume names
//! per pool, Snapshot names per domain); a second definition is reported at
//! its name with the place of the first, and only the first is kept. Every
//! `metadata.host` must name a Host manifest. A Volume lives on its pool's
//! host and a Snapshot on its domain's, which this step works out (and
//! reports when it cannot). What is registered here is what the reference
//! checks of [`super::refs`] look names up in.

use std::collections::BTreeMap;

use super::super::load::LoadedDoc;
use super::super::sink::Sink;
use super::super::suggest::hint;
use super::{Obj, Pending};
use crate::model::*;

/// The desired state as it is assembled, with where each object was first
/// defined (for duplicate messages).
pub(super) struct Registry<'a, 'd> {
    state: DesiredState,
    first: BTreeMap<(Kind, String), &'a LoadedDoc>,
    sink: Sink<'d>,
}

impl<'a, 'd> Registry<'a, 'd> {
    pub fn new(sink: Sink<'d>) -> Self {
        Registry {
            state: DesiredState::default(),
            first: BTreeMap::new(),
            sink,
        }
    }

    /// The objects registered, and the sink for the steps after this one.
    pub fn finish(self) -> (DesiredState, Sink<'d>) {
        (self.state, self.sink)
    }

    /// Hosts first: every other object's `metadata.host` refers to them.
    pub fn hosts(&mut self, pending: &[Pending<'a>]) {
        for p in pending {
            let Obj::Host(h) = &p.obj else { continue };
            if !self.is_duplicate(
                Kind::Host,
                h.meta.name.clone(),
                p.doc,
                "Host names are unique",
            ) {
                self.state.hosts.insert(h.meta.name.clone(), h.clone());
            }
        }
    }

    /// Pools, networks and domains: unique per kind per host.
    pub fn per_host(&mut self, pending: &[Pending<'a>]) {
        for p in pending {
            let (kind, noun, meta) = match &p.obj {
                Obj::Pool(o) => (Kind::StoragePool, "pool", &o.meta),
                Obj::Network(o) => (Kind::Network, "network", &o.meta),
                Obj::Domain(o) => (Kind::Domain, "domain", &o.meta),
                _ => continue,
            };
            self.host_known(p.doc, &meta.host);
            let key = ObjKey {
                host: meta.host.clone(),
                name: meta.name.clone(),
            };
            let id = format!("{}/{}", host_label(&key.host), key.name);
            let rule = format!("{noun} names are unique per host");
            if self.is_duplicate(kind, id, p.doc, &rule) {
                continue;
            }
            match &p.obj {
                Obj::Pool(o) => {
                    self.state.pools.insert(key, o.clone());
                }
                Obj::Network(o) => {
                    self.state.networks.insert(key, o.clone());
                }
                Obj::Domain(o) => {
                    self.state.domains.insert(key, o.clone());
                }
                _ => {}
            }
        }
    }

    /// Volumes in their pools and snapshots of their domains, each on its
    /// owner's host; unique per pool and per domain.
    pub fn owned(&mut self, pending: &[Pending<'a>]) {
        for p in pending {
            match &p.obj {
                Obj::Volume(o) => self.volume(p.doc, o, "spec.pool"),
                Obj::Snapshot(o) => self.snapshot(p.doc, o),
                Obj::Domain(d) => {
                    if let Some(seed) = &d.cloud_init {
                        self.volume(p.doc, &seed_volume(d, seed), "spec.cloudInit.pool");
                    }
                }
                _ => {}
            }
        }
    }

    /// Register volume `o`, whose pool `field` names.
    fn volume(&mut self, doc: &'a LoadedDoc, o: &Volume, field: &'static str) {
        let pool = Owner {
            field,
            kind: Kind::StoragePool,
            name: &o.pool,
            advice: "add its manifest (with `metadata.external: true` if it exists already)",
        };
        let Some(host) = self.owner_host(doc, &o.meta.host, pool) else {
            return;
        };
        let key = VolKey {
            host: host.clone(),
            pool: o.pool.clone(),
            name: o.meta.name.clone(),
        };
        let id = format!("{}/{}/{}", host_label(&host), key.pool, key.name);
        if !self.is_duplicate(Kind::Volume, id, doc, "volume names are unique per pool") {
            let mut v = o.clone();
            v.meta.host = host;
            self.state.volumes.insert(key, v);
        }
    }

    fn snapshot(&mut self, doc: &'a LoadedDoc, o: &Snapshot) {
        let domain = Owner {
            field: "spec.domain",
            kind: Kind::Domain,
            name: &o.domain,
            advice: "a Snapshot's spec.domain names a Domain manifest",
        };
        let Some(host) = self.owner_host(doc, &o.meta.host, domain) else {
            return;
        };
        let key = SnapKey {
            host: host.clone(),
            domain: o.domain.clone(),
            name: o.meta.name.clone(),
        };
        let id = format!("{}/{}/{}", host_label(&host), key.domain, key.name);
        let rule = "snapshot names are unique per domain";
        if !self.is_duplicate(Kind::Snapshot, id, doc, rule) {
            let mut s = o.clone();
            s.meta.host = host;
            self.state.snapshots.insert(key, s);
        }
    }

    /// A Volume's host is its pool's, a Snapshot's its domain's: the stated
    /// host when `metadata.host` is given; otherwise the default connection
    /// when the owner is there, else the one named host that has it. `None`
    /// after reporting an owner that is unknown or on several hosts.
    fn owner_host(&mut self, doc: &LoadedDoc, host: &HostName, owner: Owner) -> Option<HostName> {
        self.host_known(doc, host);
        let owners: Vec<&ObjKey> = match owner.kind {
            Kind::StoragePool => self.state.pools.keys().collect(),
            _ => self.state.domains.keys().collect(),
        };
        let (kind, name) = (owner.kind, owner.name);
        let on = |h: &HostName| owners.iter().any(|k| &k.host == h && k.name == name);
        if !host.is_default() || on(&HostName::DEFAULT) {
            if on(host) {
                return Some(host.clone());
            }
        } else {
            let mut found = owners.iter().filter(|k| k.name == name).map(|k| &k.host);
            match (found.next(), found.next()) {
                (Some(one), None) => return Some(one.clone()),
                (Some(_), Some(_)) => {
                    self.sink.field(
                        doc,
                        owner.field,
                        format!("{kind} `{name}` exists on several hosts; set metadata.host"),
                    );
                    return None;
                }
                (None, _) => {}
            }
        }
        let hint = hint(name, owners.iter().map(|k| k.name.as_str()));
        let advice = owner.advice;
        self.sink.field(
            doc,
            owner.field,
            format!("unknown {kind} `{name}`{hint}; {advice}"),
        );
        None
    }

    /// Whether `id` of `kind` was defined before; if so, reports this
    /// definition (which `rule` forbids) at its name, with the first's place.
    fn is_duplicate(&mut self, kind: Kind, id: String, doc: &'a LoadedDoc, rule: &str) -> bool {
        match self.first.get(&(kind, id.clone())) {
            Some(prev) => {
                let p = prev.index.pos("metadata.name");
                let place = format!("{}:{}:{}", prev.file.display(), p.line, p.column);
                self.sink.field(
                    doc,
                    "metadata.name",
                    format!(
                        "{kind} `{}` is already defined at {place} ({rule})",
                        doc.doc.metadata().name
                    ),
                );
                true
            }
            None => {
                self.first.insert((kind, id), doc);
                false
            }
        }
    }

    /// `metadata.host` names a Host manifest (or is unset).
    fn host_known(&mut self, doc: &LoadedDoc, host: &HostName) {
        let Some(h) = host.name() else { return };
        if !self.state.hosts.contains_key(h) {
            let hint = hint(h, self.state.hosts.keys().map(String::as_str));
            self.sink.field(
                doc,
                "metadata.host",
                format!("unknown host `{h}`{hint}; define it with a Host manifest (kind: Host, spec.uri)"),
            );
        }
    }
}

/// How messages name a host: the default connection has no name.
fn host_label(host: &HostName) -> &str {
    host.name().unwrap_or("<default>")
}

/// What a Volume or Snapshot lives in, as its manifest names it.
struct Owner<'n> {
    /// The field that names it.
    field: &'static str,
    /// StoragePool or Domain.
    kind: Kind,
    name: &'n str,
    /// What to do when no such owner is defined.
    advice: &'static str,
}

/// The cloud-init seed volume of domain `d`: raw, made from its files,
/// deleted when pruned (it holds nothing but the manifest's data), with
/// the domain's labels and place in the manifests.
fn seed_volume(d: &Domain, seed: &SeedRef) -> Volume {
    let mut meta = d.meta.clone();
    meta.name = seed.volume.clone();
    Volume {
        meta,
        external: false,
        pool: seed.pool.clone(),
        capacity: None,
        // Raw, as created; libvirt may read it back as `iso`: not compared.
        format: None,
        backing_store: None,
        clone_from: None,
        source: None,
        seed: Some(seed.files.clone()),
        reclaim_policy: ReclaimPolicy::Delete,
    }
}

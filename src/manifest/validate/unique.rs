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
                Obj::Volume(o) => self.volume(p.doc, o),
                Obj::Snapshot(o) => self.snapshot(p.doc, o),
                _ => {}
            }
        }
    }

    fn volume(&mut self, doc: &'a LoadedDoc, o: &Volume) {
        self.host_known(doc, &o.meta.host);
        let found = owner_host(&self.state.pools, &o.meta.host, &o.pool);
        let Some(host) = report_owner(
            &mut self.sink,
            doc,
            ("spec.pool", Kind::StoragePool, &o.pool),
            found,
            self.state.pools.keys().map(|k| k.name.as_str()),
            "add its manifest (with `metadata.external: true` if it exists already)",
        ) else {
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
        self.host_known(doc, &o.meta.host);
        let found = owner_host(&self.state.domains, &o.meta.host, &o.domain);
        let Some(host) = report_owner(
            &mut self.sink,
            doc,
            ("spec.domain", Kind::Domain, &o.domain),
            found,
            self.state.domains.keys().map(|k| k.name.as_str()),
            "a Snapshot's spec.domain names a Domain manifest",
        ) else {
            return;
        };
        let key = SnapKey {
            host: host.clone(),
            domain: o.domain.clone(),
            name: o.meta.name.clone(),
        };
        let id = format!("{}/{}/{}", host_label(&host), key.domain, key.name);
        if !self.is_duplicate(
            Kind::Snapshot,
            id,
            doc,
            "snapshot names are unique per domain",
        ) {
            let mut s = o.clone();
            s.meta.host = host;
            self.state.snapshots.insert(key, s);
        }
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
        let Some(h) = host else { return };
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
    host.as_deref().unwrap_or("<default>")
}

/// A Volume's host is its pool's, a Snapshot's its domain's: the stated
/// host when `metadata.host` is given; otherwise the default connection
/// when the pool (domain) is there, else the one named host that has it.
/// `Err` counts the hosts that have it when that is not exactly one.
fn owner_host<T>(
    map: &BTreeMap<ObjKey, T>,
    host: &HostName,
    name: &str,
) -> Result<HostName, usize> {
    let on = |h: &HostName| {
        map.contains_key(&ObjKey {
            host: h.clone(),
            name: name.to_string(),
        })
    };
    if host.is_some() || on(&None) {
        return if on(host) { Ok(host.clone()) } else { Err(0) };
    }
    let found: Vec<&HostName> = map
        .keys()
        .filter(|k| k.name == name)
        .map(|k| &k.host)
        .collect();
    match found.as_slice() {
        [one] => Ok((*one).clone()),
        many => Err(many.len()),
    }
}

/// The owner's host, or `None` after reporting at `field` that the owner
/// (`kind` `name`) is unknown (with `advice`) or ambiguous.
fn report_owner<'c>(
    sink: &mut Sink,
    doc: &LoadedDoc,
    (field, kind, name): (&str, Kind, &str),
    found: Result<HostName, usize>,
    candidates: impl Iterator<Item = &'c str>,
    advice: &str,
) -> Option<HostName> {
    match found {
        Ok(host) => Some(host),
        Err(0) => {
            let hint = hint(name, candidates);
            sink.field(
                doc,
                field,
                format!("unknown {kind} `{name}`{hint}; {advice}"),
            );
            None
        }
        Err(_) => {
            sink.field(
                doc,
                field,
                format!("{kind} `{name}` exists on several hosts; set metadata.host"),
            );
            None
        }
    }
}

//! The planner's workbench: [`Builder`] accumulates actions with their
//! dependency bookkeeping, blocked objects and notices while the per-kind
//! planners walk the desired state, plus the small helpers they share.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::*;

/// Accumulates actions with their dependency bookkeeping.
pub(crate) struct Builder<'a> {
    pub input: &'a PlanInput<'a>,
    pub actions: Vec<Action>,
    pub notices: Vec<Notice>,
    pub blocked: Vec<Blocked>,
    /// A `--prune` guard refused the plan (see [`Plan::refusal`]).
    pub refusal: Option<Refusal>,
    /// Objects the plan prunes.
    pub pruned: usize,
    /// Object key → the object keys its actions wait for.
    pub(super) deps: BTreeMap<String, BTreeSet<String>>,
    pub live_xml_wanted: BTreeSet<(HostName, Kind, String)>,
    /// Object key → the id of the action after which it is usable.
    ready: BTreeMap<String, String>,
    /// Object key → its last action (chains an object's actions).
    last: BTreeMap<String, String>,
    /// Per group and host, the last action that must not run alongside the
    /// others of its group.
    serial: BTreeMap<(&'static str, HostName), String>,
}

/// Autostart changes take effect at once: they are live.
pub(crate) fn autostart_change(from: bool, to: bool) -> Change {
    Change {
        field: "autostart".into(),
        from: from.to_string(),
        to: to.to_string(),
        class: ChangeClass::Live,
    }
}

/// Escape-hatch fragments (Domain, Network) not (yet) present in `root`.
pub(crate) fn xml_changes(patches: &[XmlPatch], root: &crate::xml::Element) -> Vec<Change> {
    patches
        .iter()
        .filter(|p| !crate::render::patch_present(root, p))
        .map(|p| Change {
            field: format!("xml[{}]", p.at_text),
            from: "(differs)".into(),
            to: p.merge.clone(),
            class: ChangeClass::NextBoot,
        })
        .collect()
}

/// How messages name a kind.
pub fn kind_noun(k: Kind) -> &'static str {
    match k {
        Kind::Domain => "domain",
        Kind::Network => "network",
        Kind::StoragePool => "pool",
        Kind::Volume => "volume",
        Kind::Snapshot => "snapshot",
        Kind::Host => "host",
    }
}

/// Key identifying an object across kinds and hosts, for dependencies.
pub(crate) fn obj_key(kind: Kind, host: &HostName, name: &str) -> String {
    let mut s = String::new();
    if let Some(h) = host.name() {
        s.push_str(h);
        s.push('/');
    }
    s.push_str(&kind.as_str().to_ascii_lowercase());
    s.push('/');
    s.push_str(name);
    s
}

impl<'a> Builder<'a> {
    pub fn new(input: &'a PlanInput<'a>) -> Builder<'a> {
        Builder {
            input,
            actions: Vec::new(),
            notices: Vec::new(),
            blocked: Vec::new(),
            refusal: None,
            pruned: 0,
            deps: BTreeMap::new(),
            live_xml_wanted: BTreeSet::new(),
            ready: BTreeMap::new(),
            last: BTreeMap::new(),
            serial: BTreeMap::new(),
        }
    }

    /// Add an action for object `key`: it runs after the object's previous
    /// action and after `deps` objects are ready. `makes_ready` marks it as
    /// the action after which dependents may use the object.
    #[allow(clippy::too_many_arguments)]
    pub fn push(
        &mut self,
        host: &HostName,
        name: &str,
        effect: Effect,
        changes: Vec<Change>,
        step: Step,
        deps: &[String],
        makes_ready: bool,
    ) -> String {
        let key = obj_key(step.kind(), host, name);
        let id = format!("{key}/{}", step.operation().as_str());
        self.deps
            .entry(key.clone())
            .or_default()
            .extend(deps.iter().cloned());
        let mut depends_on: BTreeSet<String> = deps
            .iter()
            .filter_map(|d| self.ready.get(d).cloned())
            .collect();
        if let Some(prev) = self.last.get(&key) {
            depends_on.insert(prev.clone());
        }
        self.actions.push(Action::new(
            id.clone(),
            name.to_string(),
            host.clone(),
            effect,
            changes,
            depends_on.into_iter().collect(),
            step,
        ));
        self.last.insert(key.clone(), id.clone());
        if makes_ready {
            self.ready.insert(key, id.clone());
        }
        id
    }

    /// Object `key` is usable once action `id` has run (an action of
    /// another object made it: a migration makes the target's domain).
    pub fn mark_ready(&mut self, key: &str, id: &str) {
        self.ready.insert(key.to_string(), id.to_string());
    }

    /// Action `id` runs only after `on` succeeded.
    pub fn add_dependency(&mut self, id: &str, on: &str) {
        if let Some(a) = self.actions.iter_mut().find(|a| a.id == id) {
            if !a.depends_on.iter().any(|d| d == on) {
                a.depends_on.push(on.to_string());
                a.depends_on.sort();
            }
        }
    }

    /// Make action `id` wait for the previous action of `group` on `host`.
    /// libvirt picks the bridge name of a network that names none when it
    /// is defined, from the names in use at that moment: two such defines
    /// at once can pick the same bridge, and one network then never starts.
    pub fn one_at_a_time(&mut self, group: &'static str, host: &HostName, id: &str) {
        if let Some(prev) = self.serial.insert((group, host.clone()), id.to_string()) {
            if let Some(a) = self.actions.iter_mut().find(|a| a.id == id) {
                // Ordering only: a failed define of one network must not
                // skip the others.
                if !a.after.contains(&prev) {
                    a.after.push(prev);
                    a.after.sort();
                }
            }
        }
    }

    /// Block the object of `meta`: it (and whatever depends on it) is left
    /// out of this plan, with `reason`.
    pub fn error(&mut self, kind: Kind, meta: &Meta, reason: impl Into<String>) {
        self.block(kind, meta, BlockCause::Refused, reason);
    }

    /// Block the object of `meta` for a `cause` callers tell apart (an
    /// unmanaged object in the way, an unreachable host).
    pub fn block(&mut self, kind: Kind, meta: &Meta, cause: BlockCause, reason: impl Into<String>) {
        self.blocked.push(Blocked {
            kind,
            name: meta.name.clone(),
            host: meta.host.clone(),
            file: meta.source.file.display().to_string(),
            line: meta.source.line,
            reason: reason.into(),
            cause,
            depends_on: None,
        });
    }

    /// Block the object of `meta`: an object of its name exists on the
    /// host and virtsync does not own it.
    pub fn unmanaged(&mut self, kind: Kind, meta: &Meta, reason: impl Into<String>) {
        self.block(kind, meta, BlockCause::Unmanaged, reason);
    }

    /// Block the object if its XML could not be read (it vanished between
    /// the listing and the read, or the read was refused). `name` is the
    /// observed name (`pool/volume` for volumes).
    pub fn unreadable(&mut self, kind: Kind, meta: &Meta, host: &ObservedHost, name: &str) -> bool {
        match host.read_errors.get(&(kind, name.to_string())) {
            Some(e) => {
                self.error(
                    kind,
                    meta,
                    format!("it could not be read from the host: {e}"),
                );
                true
            }
            None => false,
        }
    }

    /// The observed host of an object, or block the object with the reason
    /// its host is missing.
    pub fn host_of(&mut self, kind: Kind, meta: &Meta) -> Option<&'a ObservedHost> {
        if let Some(h) = self.observed(&meta.host) {
            return Some(h);
        }
        match self.input.observed.unreachable.get(&meta.host) {
            Some(e) => self.block(
                kind,
                meta,
                BlockCause::HostUnreachable,
                format!("its host cannot be reached: {e}"),
            ),
            None => self.error(kind, meta, "its host was not observed"),
        }
        None
    }

    pub fn notice(&mut self, kind: Kind, meta: &Meta, message: impl Into<String>) {
        self.notices.push(Notice {
            kind,
            name: meta.name.clone(),
            host: meta.host.clone(),
            message: message.into(),
            restart_pending: Vec::new(),
            prune: None,
        });
    }

    /// The object runs without `fields`' new values until it restarts
    /// (`when` says when that is).
    pub fn restart_pending(&mut self, kind: Kind, meta: &Meta, fields: Vec<String>, when: &str) {
        self.notices.push(Notice {
            kind,
            name: meta.name.clone(),
            host: meta.host.clone(),
            message: format!("restart pending: {} take effect {when}", fields.join(", ")),
            restart_pending: fields,
            prune: None,
        });
    }

    /// Autostart (live) and the enforced active state of a network or
    /// pool, from what was observed.
    pub fn autostart_and_active(
        &mut self,
        kind: Kind,
        host: &HostName,
        name: &str,
        (have_autostart, want_autostart): (bool, Option<bool>),
        (have_active, want_active): (bool, bool),
    ) {
        if let Some(a) = want_autostart.filter(|a| *a != have_autostart) {
            let ch = autostart_change(have_autostart, a);
            let step = Step::set_autostart(kind, a);
            self.push(host, name, Effect::Update, vec![ch], step, &[], false);
        }
        match (have_active, want_active) {
            (false, true) => {
                self.push(
                    host,
                    name,
                    Effect::Power,
                    vec![],
                    Step::start(kind),
                    &[],
                    true,
                );
            }
            (true, false) => {
                self.push(
                    host,
                    name,
                    Effect::Power,
                    vec![],
                    Step::destroy(kind),
                    &[],
                    false,
                );
            }
            _ => {}
        }
    }

    /// An external object must exist on the host and be active; virtsync
    /// never changes it, so anything else is a planning error.
    pub fn check_external(&mut self, kind: Kind, meta: &Meta, active: Option<bool>, start: &str) {
        let noun = kind_noun(kind);
        match active {
            None => self.error(
                kind,
                meta,
                format!("an external {noun} must exist on the host, and it does not; create it or remove `metadata.external`"),
            ),
            Some(false) => self.error(
                kind,
                meta,
                format!("the external {noun} exists but is not active; virtsync never changes external objects: start it ({start}) first"),
            ),
            Some(true) => {}
        }
    }

    /// The observed XML of an existing domain or network, if virtsync owns
    /// it (its `<metadata>` carries the marker); else a planning error that
    /// ends with `what_to_do`.
    pub fn owned_xml(
        &mut self,
        kind: Kind,
        meta: &Meta,
        xml: Option<&str>,
        what_to_do: &str,
    ) -> Option<crate::xml::Element> {
        let Some(root) = xml.and_then(|x| crate::xml::Element::parse(x).ok()) else {
            // A read that failed was blocked by `unreadable` already: this
            // is XML that does not parse.
            self.error(kind, meta, "its XML could not be read from the host");
            return None;
        };
        let noun = kind_noun(kind);
        let Some(marker) = crate::render::read_marker(&root) else {
            self.unmanaged(
                kind,
                meta,
                format!("a {noun} of this name exists on the host but virtsync does not manage it (no ownership marker); {what_to_do}"),
            );
            return None;
        };
        let ours = self.input.scope.owner.as_str();
        if let Some(other) = self.owner_of(kind, meta, &marker).filter(|o| o != ours) {
            self.block(
                kind,
                meta,
                BlockCause::OtherOwner,
                format!("a {noun} of this name belongs to another manifest set (owner `{other}`), and virtsync changes only its own (`{ours}`); rename the manifest, or manage the {noun} from the manifest set that owns it"),
            );
            return None;
        }
        if marker.owner.is_none() {
            self.notice(
                kind,
                meta,
                format!("its ownership marker names no owner (virtsync wrote it before owners existed): it is claimed for `{ours}`, which its next define records"),
            );
        }
        Some(root)
    }

    /// Whose a managed domain or network is: its marker's owner, or — for
    /// a marker written before owners existed — the owner that claimed it
    /// in the inventory (recorded under the same UUID); `None` when nobody
    /// has yet.
    pub fn owner_of(&self, kind: Kind, meta: &Meta, marker: &Marker) -> Option<String> {
        if let Some(o) = &marker.owner {
            return Some(o.clone());
        }
        let host = self.observed(&meta.host)?;
        let (uuid, records) = match kind {
            Kind::Domain => (
                &host.domains.get(&meta.name)?.uuid,
                &self.input.inventory.records(&host.identity())?.domains,
            ),
            Kind::Network => (
                &host.networks.get(&meta.name)?.uuid,
                &self.input.inventory.records(&host.identity())?.networks,
            ),
            _ => return None,
        };
        records
            .get(&meta.name)
            .filter(|r| r.uuid.as_ref() == Some(uuid))
            .map(|r| r.owner.clone())
    }

    /// Block a pool or volume whose inventory record names another owner;
    /// `true` when it did.
    pub fn other_owner(
        &mut self,
        kind: Kind,
        meta: &Meta,
        record: Option<&crate::inventory::Record>,
    ) -> bool {
        let ours = self.input.scope.owner.as_str();
        let Some(other) = record.map(|r| r.owner.as_str()).filter(|o| *o != ours) else {
            return false;
        };
        let noun = kind_noun(kind);
        self.block(
            kind,
            meta,
            BlockCause::OtherOwner,
            format!("virtsync created this {noun} for another manifest set (owner `{other}` in the inventory), and changes only its own (`{ours}`); rename the manifest, or manage the {noun} from the manifest set that owns it"),
        );
        true
    }

    /// A newly defined object starts without autostart: turn it on.
    pub fn enable_autostart(&mut self, kind: Kind, host: &HostName, name: &str) {
        self.push(
            host,
            name,
            Effect::Update,
            vec![autostart_change(false, true)],
            Step::set_autostart(kind, true),
            &[],
            false,
        );
    }

    pub fn observed(&self, host: &HostName) -> Option<&'a ObservedHost> {
        self.input.observed.hosts.get(host)
    }

    /// The ownership marker for an object defined from `meta`'s manifest.
    pub fn marker<T: Serialize>(&self, meta: &Meta, spec: &T) -> Marker {
        let json = serde_json::to_vec(spec).unwrap_or_default();
        Marker {
            owner: Some(self.input.scope.owner.clone()),
            manifest: meta.source.file.display().to_string(),
            revision: self.input.revision.to_string(),
            spec: format!("sha256:{:x}", Sha256::digest(&json)),
            restart_pending_id: None,
            memory_kib: None,
            labels: meta.labels.clone(),
        }
    }
}

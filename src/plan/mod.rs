//! The plan: plain data describing the actions that take observed state to
//! desired state, and the pure function that computes it.
//!
//! [`plan`] takes the desired state, the observed state (with each host's
//! capabilities) and the ownership inventory, and returns a [`Plan`] or every
//! planning error at once. It touches no connection, clock or file. Each
//! action carries everything apply needs (the XML to define, the live
//! values to set), so apply executes without deciding anything.

mod display;
mod domain;
mod network;
mod step;
mod storage;

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::inventory::Inventory;
use crate::model::*;

pub use display::render_text;
pub use step::Step;

/// Bumped whenever the JSON shape of a plan changes incompatibly.
pub const FORMAT_VERSION: u32 = 2;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    pub format_version: u32,
    /// sha256 over the desired and observed state the plan was made from.
    pub fingerprint: String,
    pub actions: Vec<Action>,
    /// Objects that cannot be planned this pass, with the reason: they and
    /// the objects that depend on them wait; everything else is planned.
    pub blocked: Vec<Blocked>,
    /// Hosts that could not be observed (their objects are blocked).
    pub unreachable_hosts: Vec<UnreachableHost>,
    /// Things that differ but need no action now (e.g. restart pending
    /// under `restartPolicy: never`).
    pub notices: Vec<Notice>,
    pub summary: Summary,
    /// Running domains whose live XML the planner needs and did not have
    /// (`ObservedDomain::live_xml`): the reconcile pass reads them and
    /// plans again. Reading them only when a live action is in sight keeps
    /// a converged pass at one XML read per object.
    #[serde(skip)]
    pub live_xml_wanted: BTreeSet<(HostName, String)>,
}

impl Plan {
    /// No actions. A plan can be empty and still not converged: see
    /// [`Plan::is_complete`].
    pub fn is_empty(&self) -> bool {
        self.actions.is_empty()
    }

    /// Every object of the desired state was planned: nothing blocked.
    /// (An unreachable host without objects blocks nothing; it is listed
    /// in [`Plan::unreachable_hosts`].)
    pub fn is_complete(&self) -> bool {
        self.blocked.is_empty()
    }

    /// The plan with secrets (graphics `passwd`) masked in the XML it
    /// carries, for printing and saving; apply uses the plan itself.
    pub fn redacted(&self) -> Plan {
        let mut p = self.clone();
        for a in &mut p.actions {
            if let Some(xml) = a.step.xml_mut() {
                *xml = redact_passwords(xml);
            }
        }
        p
    }
}

/// Replace the value of every `passwd="..."` attribute.
fn redact_passwords(xml: &str) -> String {
    let mut out = String::with_capacity(xml.len());
    let mut rest = xml;
    while let Some(i) = rest.find(" passwd=") {
        let (head, tail) = rest.split_at(i + " passwd=".len());
        out.push_str(head);
        let Some(q) = tail.chars().next().filter(|c| *c == '"' || *c == '\'') else {
            rest = tail;
            continue;
        };
        let Some(end) = tail[1..].find(q) else {
            rest = tail;
            continue;
        };
        out.push(q);
        out.push_str("(redacted)");
        out.push(q);
        rest = &tail[end + 2..];
    }
    out.push_str(rest);
    out
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub create: usize,
    pub update: usize,
    pub power: usize,
    pub delete: usize,
    pub total: usize,
    pub restart_pending: usize,
    pub blocked: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Notice {
    pub kind: Kind,
    pub name: String,
    pub host: HostName,
    pub message: String,
    /// The fields whose new values wait for a restart of the object (empty
    /// for other notices).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub restart_pending: Vec<String>,
}

/// One action of a plan. `kind` and `operation` are read from `step` when
/// the action is made ([`Action::new`]) and checked against it when a plan
/// is read back, so what a plan shows is what apply executes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", try_from = "ActionData")]
pub struct Action {
    /// Unique in the plan: `[host/]kind/name/operation`.
    pub id: String,
    pub kind: Kind,
    pub name: String,
    /// The Host manifest's name (`""` in JSON for the default connection).
    pub host: HostName,
    pub operation: Operation,
    pub effect: Effect,
    pub changes: Vec<Change>,
    pub depends_on: Vec<String>,
    /// What apply executes.
    pub step: Step,
}

impl Action {
    pub fn new(
        id: String,
        name: String,
        host: HostName,
        effect: Effect,
        changes: Vec<Change>,
        depends_on: Vec<String>,
        step: Step,
    ) -> Action {
        Action {
            id,
            kind: step.kind(),
            name,
            host,
            operation: step.operation(),
            effect,
            changes,
            depends_on,
            step,
        }
    }
}

/// An action as written in a plan file, before its kind and operation are
/// checked against its step.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ActionData {
    id: String,
    kind: Kind,
    name: String,
    host: HostName,
    operation: Operation,
    effect: Effect,
    changes: Vec<Change>,
    depends_on: Vec<String>,
    step: Step,
}

impl TryFrom<ActionData> for Action {
    type Error = String;

    fn try_from(d: ActionData) -> Result<Action, String> {
        if d.kind != d.step.kind() || d.operation != d.step.operation() {
            return Err(format!(
                "action {}: its kind and operation ({} {}) do not match its step",
                d.id,
                d.kind,
                d.operation.as_str()
            ));
        }
        Ok(Action::new(
            d.id,
            d.name,
            d.host,
            d.effect,
            d.changes,
            d.depends_on,
            d.step,
        ))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Operation {
    Define,
    Create,
    Undefine,
    Start,
    Shutdown,
    Destroy,
    Suspend,
    Resume,
    Restart,
    SetAutostart,
    UpdateLive,
    UpdateDhcpHosts,
    Build,
    CreateVolume,
    ResizeVolume,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Define => "define",
            Operation::Create => "create",
            Operation::Undefine => "undefine",
            Operation::Start => "start",
            Operation::Shutdown => "shutdown",
            Operation::Destroy => "destroy",
            Operation::Suspend => "suspend",
            Operation::Resume => "resume",
            Operation::Restart => "restart",
            Operation::SetAutostart => "set-autostart",
            Operation::UpdateLive => "update-live",
            Operation::UpdateDhcpHosts => "update-dhcp-hosts",
            Operation::Build => "build",
            Operation::CreateVolume => "create-volume",
            Operation::ResizeVolume => "resize-volume",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Effect {
    Create,
    Update,
    Power,
    Delete,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChangeClass {
    /// Applied to the running object now.
    Live,
    /// Persistent config; takes effect at the next boot (or network/pool restart).
    NextBoot,
    /// Cannot be changed in place.
    Replace,
}

impl ChangeClass {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeClass::Live => "live",
            ChangeClass::NextBoot => "next-boot",
            ChangeClass::Replace => "replace",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Change {
    pub field: String,
    pub from: String,
    pub to: String,
    pub class: ChangeClass,
}

pub use crate::render::{Marker, MARKER_NS};
pub(crate) use crate::units::{kib, show_kib};

/// Everything the planner knows, as data.
pub struct PlanInput<'a> {
    pub desired: &'a DesiredState,
    pub observed: &'a ObservedState,
    pub inventory: &'a Inventory,
    /// The git revision of the manifests, or empty.
    pub revision: &'a str,
}

/// An object the plan cannot handle safely this pass (a collision with an
/// unmanaged object, a missing external object, an unreachable host, an
/// object that vanished while it was observed, a change libvirt would
/// refuse), or one that depends on such an object.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Blocked {
    pub kind: Kind,
    pub name: String,
    pub host: HostName,
    pub file: String,
    pub line: usize,
    pub reason: String,
    /// The blocked object this one waits for, when it is blocked only
    /// because it depends on it (`[host/]kind/name`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub depends_on: Option<String>,
}

impl std::fmt::Display for Blocked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}: {} `{}`",
            self.file, self.line, self.kind, self.name
        )?;
        if let Some(h) = self.host.name() {
            write!(f, " on host {h}")?;
        }
        write!(f, ": {}", self.reason)
    }
}

/// A host the pass could not observe.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UnreachableHost {
    /// The Host manifest's name (`""` in JSON for the default connection).
    pub host: HostName,
    pub uri: String,
    pub error: String,
}

/// Accumulates actions with their dependency bookkeeping.
pub(crate) struct Builder<'a> {
    pub input: &'a PlanInput<'a>,
    pub actions: Vec<Action>,
    pub notices: Vec<Notice>,
    pub blocked: Vec<Blocked>,
    /// Object key → the object keys its actions wait for.
    deps: BTreeMap<String, BTreeSet<String>>,
    pub live_xml_wanted: BTreeSet<(HostName, String)>,
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

    /// Block the object of `meta`: it (and whatever depends on it) is left
    /// out of this plan, with `reason`.
    /// Make action `id` wait for the previous action of `group` on `host`.
    /// libvirt picks the bridge name of a network that names none when it
    /// is defined, from the names in use at that moment: two such defines
    /// at once can pick the same bridge, and one network then never starts.
    pub fn one_at_a_time(&mut self, group: &'static str, host: &HostName, id: &str) {
        if let Some(prev) = self.serial.insert((group, host.clone()), id.to_string()) {
            if let Some(a) = self.actions.iter_mut().find(|a| a.id == id) {
                if !a.depends_on.contains(&prev) {
                    a.depends_on.push(prev);
                    a.depends_on.sort();
                }
            }
        }
    }

    pub fn error(&mut self, kind: Kind, meta: &Meta, reason: impl Into<String>) {
        self.blocked.push(Blocked {
            kind,
            name: meta.name.clone(),
            host: meta.host.clone(),
            file: meta.source.file.display().to_string(),
            line: meta.source.line,
            reason: reason.into(),
            depends_on: None,
        });
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
        let reason = match self.input.observed.unreachable.get(&meta.host) {
            Some(e) => format!("its host cannot be reached: {e}"),
            None => "its host was not observed".to_string(),
        };
        self.error(kind, meta, reason);
        None
    }

    pub fn notice(&mut self, kind: Kind, meta: &Meta, message: impl Into<String>) {
        self.notices.push(Notice {
            kind,
            name: meta.name.clone(),
            host: meta.host.clone(),
            message: message.into(),
            restart_pending: Vec::new(),
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
            let why = self
                .observed(&meta.host)
                .and_then(|h| h.read_errors.get(&(kind, meta.name.clone())))
                .map(|e| format!(": {e}"))
                .unwrap_or_default();
            self.error(
                kind,
                meta,
                format!("its XML could not be read from the host{why}"),
            );
            return None;
        };
        if crate::render::read_marker(&root).is_none() {
            let noun = kind_noun(kind);
            self.error(
                kind,
                meta,
                format!("a {noun} of this name exists on the host but virtsync does not manage it (no ownership marker); {what_to_do}"),
            );
            return None;
        }
        Some(root)
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
            manifest: meta.source.file.display().to_string(),
            revision: self.input.revision.to_string(),
            spec: format!("sha256:{:x}", Sha256::digest(&json)),
        }
    }
}

/// Compute the plan. Pure: same input, same plan.
///
/// Objects that cannot be planned are blocked, with the objects that
/// depend on them; the rest is planned as if they were not there.
pub fn plan(input: &PlanInput) -> Plan {
    let mut b = Builder {
        input,
        actions: Vec::new(),
        notices: Vec::new(),
        blocked: Vec::new(),
        deps: BTreeMap::new(),
        live_xml_wanted: BTreeSet::new(),
        ready: BTreeMap::new(),
        last: BTreeMap::new(),
        serial: BTreeMap::new(),
    };
    // Snapshots come with the snapshot work; never ignore them silently.
    for s in input.desired.snapshots.values() {
        b.error(Kind::Snapshot, &s.meta, "Snapshot manifests are not supported yet by plan/apply; remove the manifest or wait for snapshot support");
    }
    // Dependency order: pools → volumes → networks → domains.
    for p in input.desired.pools.values() {
        storage::plan_pool(&mut b, p);
    }
    for v in input.desired.volumes.values() {
        storage::plan_volume(&mut b, v);
    }
    for n in input.desired.networks.values() {
        network::plan_network(&mut b, n);
    }
    for d in input.desired.domains.values() {
        domain::plan_domain(&mut b, d);
    }
    block_dependents(&mut b);
    let mut summary = Summary::default();
    for a in &b.actions {
        match a.effect {
            Effect::Create => summary.create += 1,
            Effect::Update => summary.update += 1,
            Effect::Power => summary.power += 1,
            Effect::Delete => summary.delete += 1,
        }
    }
    summary.total = b.actions.len();
    summary.restart_pending = b
        .notices
        .iter()
        .filter(|n| !n.restart_pending.is_empty())
        .count();
    b.blocked.sort();
    b.blocked.dedup();
    summary.blocked = b.blocked.len();
    let unreachable_hosts = input
        .observed
        .unreachable
        .iter()
        .map(|(h, e)| UnreachableHost {
            host: h.clone(),
            uri: input.observed.uris.get(h).cloned().unwrap_or_default(),
            error: e.clone(),
        })
        .collect();
    Plan {
        format_version: FORMAT_VERSION,
        fingerprint: fingerprint(input.desired, input.observed),
        actions: b.actions,
        blocked: b.blocked,
        unreachable_hosts,
        notices: b.notices,
        summary,
        live_xml_wanted: b.live_xml_wanted,
    }
}

/// Every desired object by its dependency key, with its kind and manifest.
fn objects_by_key(d: &DesiredState) -> BTreeMap<String, (Kind, &Meta)> {
    let mut out = BTreeMap::new();
    for (k, x) in &d.domains {
        out.insert(
            obj_key(Kind::Domain, &k.host, &k.name),
            (Kind::Domain, &x.meta),
        );
    }
    for (k, x) in &d.networks {
        out.insert(
            obj_key(Kind::Network, &k.host, &k.name),
            (Kind::Network, &x.meta),
        );
    }
    for (k, x) in &d.pools {
        out.insert(
            obj_key(Kind::StoragePool, &k.host, &k.name),
            (Kind::StoragePool, &x.meta),
        );
    }
    for (k, x) in &d.volumes {
        let name = format!("{}/{}", k.pool, k.name);
        out.insert(
            obj_key(Kind::Volume, &k.host, &name),
            (Kind::Volume, &x.meta),
        );
    }
    for (k, x) in &d.snapshots {
        let name = format!("{}/{}", k.domain, k.name);
        out.insert(
            obj_key(Kind::Snapshot, &k.host, &name),
            (Kind::Snapshot, &x.meta),
        );
    }
    out
}

/// Block every object that waits (transitively) for a blocked one, and
/// drop the actions of all blocked objects.
fn block_dependents(b: &mut Builder) {
    if b.blocked.is_empty() {
        return;
    }
    let objects = objects_by_key(b.input.desired);
    // The blocked objects by key (an object's manifest identifies it).
    let mut blocked: BTreeSet<String> = objects
        .iter()
        .filter(|(_, (kind, meta))| {
            b.blocked.iter().any(|x| {
                x.kind == *kind
                    && x.file == meta.source.file.display().to_string()
                    && x.line == meta.source.line
                    && x.name == meta.name
            })
        })
        .map(|(k, _)| k.clone())
        .collect();
    loop {
        let newly: Vec<(String, String)> = b
            .deps
            .iter()
            .filter(|(k, _)| !blocked.contains(*k))
            .filter_map(|(k, deps)| {
                deps.iter()
                    .find(|d| blocked.contains(*d))
                    .map(|d| (k.clone(), d.clone()))
            })
            .collect();
        if newly.is_empty() {
            break;
        }
        for (key, on) in newly {
            blocked.insert(key.clone());
            if let Some((kind, meta)) = objects.get(&key) {
                b.blocked.push(Blocked {
                    kind: *kind,
                    name: meta.name.clone(),
                    host: meta.host.clone(),
                    file: meta.source.file.display().to_string(),
                    line: meta.source.line,
                    reason: format!("waits for {on}, which is blocked"),
                    depends_on: Some(on),
                });
            }
        }
    }
    b.actions
        .retain(|a| !blocked.contains(&obj_key(a.kind, &a.host, &a.name)));
}

/// sha256 over the canonical JSON of desired and observed state.
pub fn fingerprint(desired: &DesiredState, observed: &ObservedState) -> String {
    let mut h = Sha256::new();
    h.update(serde_json::to_vec(desired).unwrap_or_default());
    h.update(b"\n");
    h.update(serde_json::to_vec(observed).unwrap_or_default());
    format!("sha256:{:x}", h.finalize())
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            super::redact_passwords(r#"<graphics type="vnc" passwd="s3cret" port="-1"/>"#),
            r#"<graphics type="vnc" passwd="(redacted)" port="-1"/>"#
        );
        assert_eq!(super::redact_passwords("<a b='1'/>"), "<a b='1'/>");
    }
}

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
mod storage;

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::inventory::Inventory;
use crate::model::*;

pub use display::render_text;

/// Bumped whenever the JSON shape of a plan changes incompatibly.
pub const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    pub format_version: u32,
    /// sha256 over the desired and observed state the plan was made from.
    pub fingerprint: String,
    pub actions: Vec<Action>,
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
    pub fn is_empty(&self) -> bool {
        self.actions.is_empty()
    }

    /// The plan with secrets (graphics `passwd`) masked in the XML it
    /// carries, for printing and saving; apply uses the plan itself.
    pub fn redacted(&self) -> Plan {
        let mut p = self.clone();
        for a in &mut p.actions {
            if let Payload::Xml { xml } | Payload::CreateDomain { xml, .. } = &mut a.payload {
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
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Notice {
    pub kind: Kind,
    pub name: String,
    pub host: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Action {
    /// Unique in the plan: `[host/]kind/name/operation`.
    pub id: String,
    pub kind: Kind,
    pub name: String,
    /// The Host manifest's name, or empty for the default connection.
    pub host: String,
    pub operation: Operation,
    pub effect: Effect,
    pub changes: Vec<Change>,
    pub depends_on: Vec<String>,
    /// What apply needs to execute the action.
    pub payload: Payload,
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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(
    rename_all = "camelCase",
    rename_all_fields = "camelCase",
    tag = "type"
)]
pub enum Payload {
    None,
    /// Define or create from this XML.
    Xml {
        xml: String,
    },
    /// Create (transient domain) from this XML, optionally paused.
    CreateDomain {
        xml: String,
        paused: bool,
    },
    Start {
        paused: bool,
    },
    Shutdown {
        timeout_ms: u64,
    },
    /// Shut down (graceful, then destroy) and start again, paused or not.
    Restart {
        timeout_ms: u64,
        paused: bool,
    },
    Autostart {
        on: bool,
    },
    Live {
        memory_kib: Option<u64>,
        vcpus: Option<u32>,
        /// Device elements to hot-plug (already in the persistent config).
        attach: Vec<String>,
        /// Device elements to unplug (best effort: the guest must agree).
        detach: Vec<String>,
    },
    DhcpHosts {
        add: Vec<String>,
        delete: Vec<String>,
        live: bool,
        config: bool,
    },
    Volume {
        pool: String,
        xml: String,
        clone_from: Option<(String, String)>,
    },
    Resize {
        pool: String,
        capacity: u64,
        /// A running domain using the volume, with the disk's target: the
        /// image is then grown through the guest's block device (qemu holds
        /// a write lock on it, so the storage API cannot resize it).
        in_use_by: Option<(String, String)>,
    },
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

/// One planning error: an object the plan cannot handle safely.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct PlanError {
    pub kind: Kind,
    pub name: String,
    pub host: String,
    pub file: String,
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for PlanError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}: {} `{}`",
            self.file, self.line, self.kind, self.name
        )?;
        if !self.host.is_empty() {
            write!(f, " on host {}", self.host)?;
        }
        write!(f, ": {}", self.message)
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{} planning error{}:\n{}", .0.len(), if .0.len() == 1 { "" } else { "s" },
    .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"))]
pub struct PlanErrors(pub Vec<PlanError>);

/// Accumulates actions with their dependency bookkeeping.
pub(crate) struct Builder<'a> {
    pub input: &'a PlanInput<'a>,
    pub actions: Vec<Action>,
    pub notices: Vec<Notice>,
    pub errors: Vec<PlanError>,
    pub live_xml_wanted: BTreeSet<(HostName, String)>,
    /// Object key → the id of the action after which it is usable.
    ready: BTreeMap<String, String>,
    /// Object key → its last action (chains an object's actions).
    last: BTreeMap<String, String>,
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
pub(crate) fn kind_noun(k: Kind) -> &'static str {
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
    if let Some(h) = host {
        s.push_str(h);
        s.push('/');
    }
    s.push_str(&kind.as_str().to_ascii_lowercase());
    s.push('/');
    s.push_str(name);
    s
}

pub(crate) fn host_label(host: &HostName) -> String {
    host.clone().unwrap_or_default()
}

impl<'a> Builder<'a> {
    /// Add an action for object `key`: it runs after the object's previous
    /// action and after `deps` objects are ready. `makes_ready` marks it as
    /// the action after which dependents may use the object.
    #[allow(clippy::too_many_arguments)]
    pub fn push(
        &mut self,
        kind: Kind,
        host: &HostName,
        name: &str,
        operation: Operation,
        effect: Effect,
        changes: Vec<Change>,
        payload: Payload,
        deps: &[String],
        makes_ready: bool,
    ) -> String {
        let key = obj_key(kind, host, name);
        let id = format!("{key}/{}", operation.as_str());
        let mut depends_on: BTreeSet<String> = deps
            .iter()
            .filter_map(|d| self.ready.get(d).cloned())
            .collect();
        if let Some(prev) = self.last.get(&key) {
            depends_on.insert(prev.clone());
        }
        self.actions.push(Action {
            id: id.clone(),
            kind,
            name: name.to_string(),
            host: host_label(host),
            operation,
            effect,
            changes,
            depends_on: depends_on.into_iter().collect(),
            payload,
        });
        self.last.insert(key.clone(), id.clone());
        if makes_ready {
            self.ready.insert(key, id.clone());
        }
        id
    }

    pub fn error(&mut self, kind: Kind, meta: &Meta, message: impl Into<String>) {
        self.errors.push(PlanError {
            kind,
            name: meta.name.clone(),
            host: host_label(&meta.host),
            file: meta.source.file.display().to_string(),
            line: meta.source.line,
            message: message.into(),
        });
    }

    pub fn notice(&mut self, kind: Kind, meta: &Meta, message: impl Into<String>) {
        self.notices.push(Notice {
            kind,
            name: meta.name.clone(),
            host: host_label(&meta.host),
            message: message.into(),
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
            let payload = Payload::Autostart { on: a };
            self.push(
                kind,
                host,
                name,
                Operation::SetAutostart,
                Effect::Update,
                vec![ch],
                payload,
                &[],
                false,
            );
        }
        match (have_active, want_active) {
            (false, true) => {
                self.push(
                    kind,
                    host,
                    name,
                    Operation::Start,
                    Effect::Power,
                    vec![],
                    Payload::None,
                    &[],
                    true,
                );
            }
            (true, false) => {
                self.push(
                    kind,
                    host,
                    name,
                    Operation::Destroy,
                    Effect::Power,
                    vec![],
                    Payload::None,
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
            self.error(kind, meta, "its XML could not be read from the host");
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
            kind,
            host,
            name,
            Operation::SetAutostart,
            Effect::Update,
            vec![autostart_change(false, true)],
            Payload::Autostart { on: true },
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
pub fn plan(input: &PlanInput) -> Result<Plan, PlanErrors> {
    let mut b = Builder {
        input,
        actions: Vec::new(),
        notices: Vec::new(),
        errors: Vec::new(),
        live_xml_wanted: BTreeSet::new(),
        ready: BTreeMap::new(),
        last: BTreeMap::new(),
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
    if !b.errors.is_empty() {
        b.errors.sort();
        return Err(PlanErrors(b.errors));
    }
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
        .filter(|n| n.message.starts_with("restart pending"))
        .count();
    Ok(Plan {
        format_version: FORMAT_VERSION,
        fingerprint: fingerprint(input.desired, input.observed),
        actions: b.actions,
        notices: b.notices,
        summary,
        live_xml_wanted: b.live_xml_wanted,
    })
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

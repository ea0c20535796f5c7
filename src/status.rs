//! `status`: one row per object the manifests declare (domains, networks,
//! pools, volumes, snapshots, on every host) saying whether its host
//! matches: in sync, drifted (which fields), restart pending (which fields
//! the running guest still lacks), missing, an unmanaged object in the
//! way, a planning error, or its host unreachable. Domain rows also list
//! the domain's snapshots.
//!
//! Status reads one plan of the reconcile pass
//! ([`crate::reconcile::Reconciler::plan_for`], observing
//! [`crate::reconcile::Observation::Status`]) and the observation it was
//! made from, and nothing else: the plan
//! already knows every difference, and reading it instead of comparing
//! again keeps `status` and `plan` from ever disagreeing. It applies
//! nothing. The rows are plain data; the CLI renders them.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::model::*;
use crate::plan::{Action, BlockCause, Blocked, Notice, Operation, UnreachableHost};
use crate::reconcile::{exit, Planned};
use crate::render::snapshot::read_snapshot;
use crate::xml::Element;

/// Bumped whenever the JSON shape of a status report changes incompatibly.
pub const FORMAT_VERSION: u32 = 1;

/// The status of every object the manifests declare.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusReport {
    pub format_version: u32,
    /// Sorted by host (the default connection first), kind (in dependency
    /// order: pools, volumes, networks, domains, snapshots) and name.
    pub objects: Vec<ObjectStatus>,
    /// Hosts that could not be observed, also those without objects.
    pub unreachable_hosts: Vec<UnreachableHost>,
    pub summary: StatusSummary,
}

/// One declared object and how its host compares.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectStatus {
    pub kind: Kind,
    /// As in plan actions: `pool/volume` for volumes, `domain/snapshot`
    /// for snapshots.
    pub name: String,
    /// The Host manifest's name (`""` in JSON for the default connection).
    pub host: HostName,
    /// The manifest that declares it.
    pub file: String,
    pub line: usize,
    /// Declared `metadata.external`: used as it is, never changed.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub external: bool,
    #[serde(flatten)]
    pub state: State,
    /// Domains only: the names of the domain's snapshots on the host,
    /// oldest first; absent when they could not be listed (the domain
    /// does not exist, its host was not observed, or listing failed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshots: Option<Vec<String>>,
    /// Other notices of the plan about this object (a live change the
    /// guest refused, snapshots that could not be listed, ...).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// How an object's host compares with its manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(
    tag = "status",
    rename_all = "kebab-case",
    rename_all_fields = "camelCase"
)]
pub enum State {
    /// Nothing to do.
    InSync,
    /// The plan would change it: the fields of its planned changes (`state`
    /// for a power action, `active` for a network or pool to start or
    /// stop), and any restart-pending fields besides.
    Drifted {
        fields: Vec<String>,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        restart_pending: Vec<String>,
    },
    /// The persistent config is as declared; the running object takes
    /// these fields at its next restart (`restartPolicy: never`).
    RestartPending { fields: Vec<String> },
    /// It does not exist on its host: the plan would create it.
    Missing,
    /// An object of its name exists on the host and virtsync does not own
    /// it; `message` says what to do.
    UnmanagedCollision { message: String },
    /// Blocked for another reason (or waiting for a blocked object).
    PlanningError { message: String },
    /// Its host could not be observed.
    HostUnreachable { message: String },
}

impl State {
    /// How text output names the status.
    pub fn label(&self) -> &'static str {
        match self {
            State::InSync => "in sync",
            State::Drifted { .. } => "drifted",
            State::RestartPending { .. } => "restart pending",
            State::Missing => "missing",
            State::UnmanagedCollision { .. } => "unmanaged collision",
            State::PlanningError { .. } => "planning error",
            State::HostUnreachable { .. } => "host unreachable",
        }
    }

    /// The host matches the manifest, or will at the object's next
    /// restart, which virtsync leaves to the operator: nothing to apply.
    pub fn is_ok(&self) -> bool {
        matches!(self, State::InSync | State::RestartPending { .. })
    }
}

/// Objects per status.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusSummary {
    pub total: usize,
    pub in_sync: usize,
    pub drifted: usize,
    pub restart_pending: usize,
    pub missing: usize,
    pub unmanaged_collision: usize,
    pub planning_error: usize,
    pub host_unreachable: usize,
}

impl StatusSummary {
    /// `(count, label)` in a fixed order, for summary lines.
    pub fn counts(&self) -> [(usize, &'static str); 7] {
        [
            (self.in_sync, "in sync"),
            (self.drifted, "drifted"),
            (self.restart_pending, "restart pending"),
            (self.missing, "missing"),
            (self.unmanaged_collision, "unmanaged collision"),
            (self.planning_error, "planning error"),
            (self.host_unreachable, "host unreachable"),
        ]
    }

    fn count(&mut self, s: &State) {
        self.total += 1;
        *match s {
            State::InSync => &mut self.in_sync,
            State::Drifted { .. } => &mut self.drifted,
            State::RestartPending { .. } => &mut self.restart_pending,
            State::Missing => &mut self.missing,
            State::UnmanagedCollision { .. } => &mut self.unmanaged_collision,
            State::PlanningError { .. } => &mut self.planning_error,
            State::HostUnreachable { .. } => &mut self.host_unreachable,
        } += 1;
    }
}

impl StatusReport {
    /// 0 when every object is in sync or only waits for a restart, 2
    /// otherwise (as `plan --exit-code` with changes pending). A host
    /// without objects that cannot be reached does not count, as in `plan`.
    pub fn exit_code(&self) -> u8 {
        if self.objects.iter().all(|o| o.state.is_ok()) {
            exit::OK
        } else {
            exit::CHANGES
        }
    }
}

/// One declared object, as the plan names it.
struct Declared<'a> {
    kind: Kind,
    meta: &'a Meta,
    /// The plan's name of it (`pool/volume`, `domain/snapshot`).
    name: String,
    external: bool,
}

impl<'a> Declared<'a> {
    fn plain(kind: Kind, meta: &'a Meta, external: bool) -> Declared<'a> {
        Declared {
            kind,
            meta,
            name: meta.name.clone(),
            external,
        }
    }

    /// How the plan's blocked entries name it: kind and manifest.
    fn blocked_key(&self) -> BlockedKey<'a> {
        (
            self.kind,
            &self.meta.host,
            &self.meta.name,
            self.meta.source.file.display().to_string(),
            self.meta.source.line,
        )
    }
}

type BlockedKey<'a> = (Kind, &'a HostName, &'a str, String, usize);

fn declared(d: &DesiredState) -> Vec<Declared<'_>> {
    let mut out: Vec<Declared> = Vec::new();
    out.extend(
        d.pools
            .values()
            .map(|p| Declared::plain(Kind::StoragePool, &p.meta, p.external)),
    );
    out.extend(d.volumes.values().map(|v| Declared {
        kind: Kind::Volume,
        meta: &v.meta,
        name: format!("{}/{}", v.pool, v.meta.name),
        external: v.external,
    }));
    out.extend(
        d.networks
            .values()
            .map(|n| Declared::plain(Kind::Network, &n.meta, n.external)),
    );
    out.extend(
        d.domains
            .values()
            .map(|x| Declared::plain(Kind::Domain, &x.meta, false)),
    );
    out.extend(d.snapshots.values().map(|s| Declared {
        kind: Kind::Snapshot,
        meta: &s.meta,
        name: format!("{}/{}", s.domain, s.meta.name),
        external: false,
    }));
    out
}

/// The status of every object of `desired`, from a plan and the
/// observation it was made from (pure). Domain rows list snapshots only
/// where the observation did: plan with [`Observation::Status`] for all.
///
/// [`Observation::Status`]: crate::reconcile::Observation::Status
pub fn report(desired: &DesiredState, planned: &Planned) -> StatusReport {
    let plan = &planned.plan;
    let objects = declared(desired);
    // Everything the plan says, grouped by the object it is about, once:
    // a fleet has thousands of objects.
    let by_plan_name: BTreeMap<(Kind, &HostName, &str), usize> = objects
        .iter()
        .enumerate()
        .map(|(i, o)| ((o.kind, &o.meta.host, o.name.as_str()), i))
        .collect();
    let mut actions: Vec<Vec<&Action>> = vec![Vec::new(); objects.len()];
    for a in &plan.actions {
        if let Some(i) = owner(a, &by_plan_name) {
            actions[i].push(a);
        }
    }
    let mut blocked: BTreeMap<BlockedKey, Vec<&Blocked>> = BTreeMap::new();
    for b in &plan.blocked {
        let key = (b.kind, &b.host, b.name.as_str(), b.file.clone(), b.line);
        blocked.entry(key).or_default().push(b);
    }
    // Notices name an object by its manifest name (a volume without its
    // pool).
    let mut notices: BTreeMap<(Kind, &HostName, &str), Vec<&Notice>> = BTreeMap::new();
    for n in &plan.notices {
        notices
            .entry((n.kind, &n.host, n.name.as_str()))
            .or_default()
            .push(n);
    }
    let mut rows: Vec<ObjectStatus> = objects
        .iter()
        .zip(&actions)
        .map(|(o, actions)| {
            let blocked = blocked.get(&o.blocked_key()).map(Vec::as_slice);
            let notices = notices.get(&(o.kind, &o.meta.host, o.meta.name.as_str()));
            row(
                o,
                actions,
                blocked.unwrap_or_default(),
                notices.map(Vec::as_slice).unwrap_or_default(),
                &planned.observed,
            )
        })
        .collect();
    rows.sort_by(|a, b| (&a.host, a.kind, &a.name).cmp(&(&b.host, b.kind, &b.name)));
    let mut summary = StatusSummary::default();
    for r in &rows {
        summary.count(&r.state);
    }
    StatusReport {
        format_version: FORMAT_VERSION,
        objects: rows,
        unreachable_hosts: plan.unreachable_hosts.clone(),
        summary,
    }
}

fn row(
    o: &Declared,
    actions: &[&Action],
    blocked: &[&Blocked],
    notices: &[&Notice],
    observed: &ObservedState,
) -> ObjectStatus {
    let host = &o.meta.host;
    let observed_host = observed.hosts.get(host);
    let mut notes = Vec::new();
    let mut restart_pending: Vec<String> = Vec::new();
    for n in notices {
        if n.restart_pending.is_empty() {
            notes.push(n.message.clone());
        } else {
            restart_pending.extend(n.restart_pending.iter().cloned());
        }
    }
    let snapshots = (o.kind == Kind::Domain)
        .then(|| observed_host.and_then(|h| snapshot_names(h, &o.name, &mut notes)))
        .flatten();
    // An unreachable host first, then a collision, when an object is
    // blocked for several reasons.
    let blocked = blocked.iter().min_by_key(|b| match b.cause {
        BlockCause::HostUnreachable => 0,
        BlockCause::Unmanaged => 1,
        BlockCause::Refused => 2,
        BlockCause::Dependency => 3,
    });
    let state = match blocked {
        Some(b) => {
            let message = b.reason.clone();
            match b.cause {
                BlockCause::Unmanaged => State::UnmanagedCollision { message },
                BlockCause::HostUnreachable => State::HostUnreachable { message },
                BlockCause::Dependency | BlockCause::Refused => State::PlanningError { message },
            }
        }
        None if actions.is_empty() => match dedup(restart_pending) {
            f if f.is_empty() => State::InSync,
            fields => State::RestartPending { fields },
        },
        None if !observed_host.is_some_and(|h| exists(h, o)) => State::Missing,
        None => {
            let fields = drifted_fields(actions, o);
            let restart_pending = dedup(restart_pending)
                .into_iter()
                .filter(|f| !fields.contains(f))
                .collect();
            State::Drifted {
                fields,
                restart_pending,
            }
        }
    };
    ObjectStatus {
        kind: o.kind,
        name: o.name.clone(),
        host: host.clone(),
        file: o.meta.source.file.display().to_string(),
        line: o.meta.source.line,
        external: o.external,
        state,
        snapshots,
        notes,
    }
}

/// The declared object an action belongs to (its index). The snapshots a
/// domain's `snapshotPolicy` takes and deletes have no manifest of their
/// own: they belong to the domain.
fn owner(a: &Action, by_plan_name: &BTreeMap<(Kind, &HostName, &str), usize>) -> Option<usize> {
    let find = |kind: Kind, name: &str| by_plan_name.get(&(kind, &a.host, name)).copied();
    find(a.kind, &a.name).or_else(|| match a.kind {
        Kind::Snapshot => a
            .name
            .split_once('/')
            .and_then(|(domain, _)| find(Kind::Domain, domain)),
        _ => None,
    })
}

/// What the actions of a drifted object change: the fields of their
/// changes, the power state of their power actions, and where neither
/// says anything (a restart, a policy snapshot), the operations.
fn drifted_fields(actions: &[&Action], o: &Declared) -> Vec<String> {
    let mut fields: Vec<String> = Vec::new();
    for a in actions {
        if a.kind != o.kind {
            // A snapshot of the domain's policy.
            fields.push("snapshotPolicy".into());
            continue;
        }
        fields.extend(a.changes.iter().map(|c| c.field.clone()));
        if !a.changes.is_empty() {
            continue;
        }
        use Operation::*;
        match (a.kind, a.operation) {
            (Kind::Domain, Start | Shutdown | Destroy | Suspend | Resume) => {
                fields.push("state".into())
            }
            (Kind::Network | Kind::StoragePool, Start | Destroy) => fields.push("active".into()),
            _ => {}
        }
    }
    if fields.is_empty() {
        fields = actions
            .iter()
            .map(|a| a.operation.as_str().to_string())
            .collect();
    }
    dedup(fields)
}

/// Keep the first of each, in order.
fn dedup(v: Vec<String>) -> Vec<String> {
    let mut seen = BTreeSet::new();
    v.into_iter().filter(|x| seen.insert(x.clone())).collect()
}

/// The object exists on its (observed) host.
fn exists(h: &ObservedHost, o: &Declared) -> bool {
    let split = || o.name.split_once('/').unwrap_or((&o.name, ""));
    match o.kind {
        Kind::Domain => h.domains.contains_key(&o.name),
        Kind::Network => h.networks.contains_key(&o.name),
        Kind::StoragePool => h.pools.contains_key(&o.name),
        Kind::Volume => {
            let (pool, name) = split();
            h.volumes
                .contains_key(&(pool.to_string(), name.to_string()))
        }
        Kind::Snapshot => {
            let (domain, name) = split();
            h.snapshots
                .get(domain)
                .is_some_and(|list| list.contains_key(name))
        }
        Kind::Host => true,
    }
}

/// The names of `domain`'s snapshots, oldest first (as `snapshot list`
/// orders them); `None` when they were not listed. A listing that failed
/// is noted.
fn snapshot_names(h: &ObservedHost, domain: &str, notes: &mut Vec<String>) -> Option<Vec<String>> {
    if let Some(e) = h.read_errors.get(&(Kind::Snapshot, domain.to_string())) {
        notes.push(format!("its snapshots could not be listed: {e}"));
        return None;
    }
    let list = h.snapshots.get(domain)?;
    let mut taken: Vec<(Option<i64>, &String)> = list
        .iter()
        .map(|(name, xml)| {
            let when = Element::parse(xml)
                .ok()
                .and_then(|e| read_snapshot(&e).creation_time);
            (when, name)
        })
        .collect();
    taken.sort();
    Some(taken.into_iter().map(|(_, n)| n.clone()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Change, ChangeClass, Effect, Plan, Step};

    /// A domain `web` (running, with two snapshots, the one named `b`
    /// older) and a Snapshot manifest `web/a` of it.
    fn fixture() -> (DesiredState, ObservedState) {
        let dir = tempfile::tempdir().unwrap();
        let api = "apiVersion: virtsync.io/v1alpha1";
        std::fs::write(
            dir.path().join("web.yaml"),
            format!(
                "{api}\nkind: Domain\nmetadata: {{name: web}}\nspec: {{memory: 64MiB, vcpus: 1}}\n---\n\
                 {api}\nkind: Snapshot\nmetadata: {{name: a}}\nspec: {{domain: web}}\n"
            ),
        )
        .unwrap();
        let (desired, _) =
            crate::manifest::load_dir(dir.path(), &crate::manifest::LoadOptions::default())
                .expect("manifests load");
        let snap = |name: &str, t: u32| {
            format!("<domainsnapshot><name>{name}</name><creationTime>{t}</creationTime></domainsnapshot>")
        };
        let mut host = ObservedHost::default();
        host.domains.insert(
            "web".into(),
            ObservedDomain {
                name: "web".into(),
                uuid: "u".into(),
                state: PowerState::Running,
                persistent: true,
                autostart: false,
                xml: None,
                live_xml: None,
            },
        );
        host.snapshots.insert(
            "web".into(),
            [("a".into(), snap("a", 20)), ("b".into(), snap("b", 10))].into(),
        );
        let mut observed = ObservedState::default();
        observed.hosts.insert(HostName::DEFAULT, host);
        (desired, observed)
    }

    fn plan(actions: Vec<Action>, pending: &[&str]) -> Plan {
        Plan {
            format_version: crate::plan::FORMAT_VERSION,
            fingerprint: String::new(),
            actions,
            blocked: vec![],
            unreachable_hosts: vec![],
            notices: vec![Notice {
                kind: Kind::Domain,
                name: "web".into(),
                host: HostName::DEFAULT,
                message: "restart pending".into(),
                restart_pending: pending.iter().map(|f| f.to_string()).collect(),
            }],
            summary: Default::default(),
            live_xml_wanted: Default::default(),
        }
    }

    fn action(name: &str, changes: &[&str], step: Step) -> Action {
        let changes = changes
            .iter()
            .map(|f| Change {
                field: f.to_string(),
                from: "1".into(),
                to: "2".into(),
                class: ChangeClass::NextBoot,
            })
            .collect();
        let id = format!("{name}/{}", step.operation().as_str());
        Action::new(
            id,
            name.into(),
            HostName::DEFAULT,
            Effect::Update,
            changes,
            vec![],
            step,
        )
    }

    #[test]
    fn a_pending_restart_alone_is_nothing_to_do() {
        let (desired, observed) = fixture();
        let planned = Planned {
            observed,
            plan: plan(vec![], &["vcpus", "memory"]),
        };
        let r = report(&desired, &planned);
        let web = &r.objects[0];
        assert_eq!(web.name, "web");
        assert_eq!(
            web.state,
            State::RestartPending {
                fields: vec!["vcpus".into(), "memory".into()]
            }
        );
        assert_eq!(
            web.snapshots.as_deref(),
            Some(&["b".to_string(), "a".to_string()][..]),
            "oldest first"
        );
        assert_eq!(r.objects[1].name, "web/a");
        assert_eq!(r.objects[1].state, State::InSync);
        assert_eq!(r.objects[1].snapshots, None, "only domains list snapshots");
        assert_eq!(r.summary.restart_pending, 1);
        assert_eq!(r.exit_code(), exit::OK);
    }

    #[test]
    fn drift_names_the_changed_fields_and_the_policy_snapshots_belong_to_the_domain() {
        let (desired, observed) = fixture();
        let actions = vec![
            action(
                "web",
                &["memory"],
                Step::DefineDomain { xml: String::new() },
            ),
            action(
                "web",
                &[],
                Step::RestartDomain {
                    timeout_ms: 1,
                    paused: false,
                },
            ),
            // Taken by the domain's snapshotPolicy before the restart: no
            // manifest of its own.
            action(
                "web/web-auto-20261201T120000Z",
                &[],
                Step::CreateSnapshot {
                    domain: "web".into(),
                    xml: String::new(),
                },
            ),
        ];
        let planned = Planned {
            observed,
            plan: plan(actions, &["memory", "vcpus"]),
        };
        let r = report(&desired, &planned);
        assert_eq!(
            r.objects[0].state,
            State::Drifted {
                fields: vec!["memory".into(), "snapshotPolicy".into()],
                restart_pending: vec!["vcpus".into()],
            }
        );
        assert_eq!(r.objects[1].state, State::InSync, "web/a is untouched");
        assert_eq!(r.exit_code(), exit::CHANGES);
        let json = serde_json::to_value(&r.objects[0]).unwrap();
        assert_eq!(json["status"], "drifted");
        assert_eq!(json["restartPending"], serde_json::json!(["vcpus"]));
    }
}

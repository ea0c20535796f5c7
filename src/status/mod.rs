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
//! made from, and nothing else: the plan already knows every difference,
//! and reading it instead of comparing again keeps `status` and `plan`
//! from ever disagreeing. It applies nothing. The rows are plain data
//! (each made in `row`); the CLI renders them.

pub mod addresses;
mod row;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::model::*;
use crate::plan::{Action, Blocked, Notice, UnreachableHost};
use crate::reconcile::{exit, Planned};
use row::{declared, owner, row, BlockedKey};

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
    /// Running domains only: their IP addresses — reserved by a DHCP host
    /// entry, leased, or reported by the guest agent — each with where it
    /// comes from.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<String>,
    /// The error of this object's action that failed in the controller's
    /// last pass (`virtsync run`), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
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
    // `--host`: the other hosts' domains are only there to see moves.
    if let Some(h) = &desired.only_host {
        rows.retain(|r| &r.host == h);
    }
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

/// Attach the failed actions of the controller's last pass (action id and
/// error, as its status file lists them) to the objects they belong to.
pub fn attach_failures(report: &mut StatusReport, failed: &[(String, String)]) {
    for o in &mut report.objects {
        let prefix = format!("{}/", crate::plan::obj_key(o.kind, &o.host, &o.name));
        if let Some((id, e)) = failed.iter().find(|(id, _)| id.starts_with(&prefix)) {
            o.last_error = Some(format!("{id}: {e}"));
        }
    }
}

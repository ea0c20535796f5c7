//! The reconcile pass, once, in the library: observe → plan → apply →
//! record ownership → re-observe → re-plan → converged or not.
//!
//! [`Reconciler`] holds one connection per host the manifests know (the
//! default connection and every Host manifest, reachable or not) and runs
//! the pass as two calls: [`Reconciler::plan`] (observe and plan; nothing
//! is written) and [`Reconciler::apply`] (execute a plan, record what it
//! created, observe again and say whether the hosts converged). `plan`,
//! `apply`, the tests, the benchmark and the coming controller all call
//! these two; none of them re-implements a step.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use serde::Serialize;

use crate::apply::{self, ApplyReport, Outcome};
use crate::backend::{Backend, ConnectOptions, HostRead, LibvirtHost};
use crate::inventory::{Inventory, InventoryError};
use crate::model::*;
use crate::observe::{self, Interest};
use crate::plan::{self, Action, Operation, Plan, PlanInput, Refusal, Scope};

mod record;
pub use record::record_managed;

#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error(transparent)]
    Inventory(#[from] InventoryError),
    /// A `--prune` guard refused the plan: nothing was applied.
    #[error("{}", .0.message)]
    Refused(Refusal),
}

/// A host's connection: its reads and writes, or why there is none.
#[derive(Clone)]
pub enum HostConn {
    Up {
        read: Arc<dyn HostRead>,
        write: Arc<dyn Backend>,
        /// Set for real libvirt connections: their call counters.
        libvirt: Option<Arc<LibvirtHost>>,
    },
    Down {
        error: String,
    },
}

impl HostConn {
    /// A libvirt connection used for reads and writes alike.
    pub fn libvirt(h: LibvirtHost) -> HostConn {
        let h = Arc::new(h);
        HostConn::Up {
            read: h.clone(),
            write: h.clone(),
            libvirt: Some(h),
        }
    }

    /// Any implementation of both traits (a fault-injecting wrapper, say).
    pub fn custom<T: HostRead + Backend + 'static>(h: Arc<T>) -> HostConn {
        HostConn::Up {
            read: h.clone(),
            write: h,
            libvirt: None,
        }
    }
}

/// What a pass plans against: the manifests, who owns what, the git
/// revision the ownership markers record, and the scope (owner identity,
/// selector, every declared object, prune options).
#[derive(Clone, Copy)]
pub struct Target<'a> {
    pub desired: &'a DesiredState,
    pub inventory: &'a Inventory,
    pub revision: &'a str,
    /// `--adopt`: take over existing objects of the manifests' names that
    /// virtsync does not own, as they are (see [`PlanInput::adopt`]).
    pub adopt: bool,
    pub scope: &'a Scope,
}

/// What a pass observes: what planning needs, or, for `status`, that and
/// the snapshots of every managed domain. Plan and apply observe
/// [`Observation::Plan`] only, so their converged pass keeps its cost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Observation {
    #[default]
    Plan,
    Status,
}

impl Observation {
    fn interest(self, desired: &DesiredState, host: &HostName) -> Interest {
        match self {
            Observation::Plan => Interest::of(desired, host),
            Observation::Status => Interest::for_status(desired, host),
        }
    }
}

/// An observation and the plan made from it.
#[derive(Debug, Clone)]
pub struct Planned {
    pub observed: ObservedState,
    pub plan: Plan,
}

/// How to apply.
#[derive(Debug, Clone, Default)]
pub struct ApplyOptions {
    /// Concurrent actions per host (at least 1).
    pub parallel: usize,
    /// Where the ownership inventory is saved (before apply, to find out
    /// early that it can be, and after); `None` keeps it in memory only.
    pub state_dir: Option<std::path::PathBuf>,
    /// Once set (SIGTERM to a long-running process), no further action
    /// starts; the ones running finish.
    pub stop: Option<Arc<std::sync::atomic::AtomicBool>>,
}

/// The result of applying a plan and observing again.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Reconciled {
    /// Per action: done, failed (with the error) or skipped, and whether
    /// it changed something.
    pub outcomes: Vec<Outcome>,
    /// The plan made from the observation after apply: empty and complete
    /// when the hosts converged. `None` when no host could be observed.
    pub residual: Option<Plan>,
    /// Everything done, nothing blocked, and the re-plan empty.
    pub converged: bool,
    /// Some action changed a host.
    pub changed: bool,
}

impl Reconciled {
    pub fn failed(&self) -> impl Iterator<Item = &Outcome> {
        self.outcomes
            .iter()
            .filter(|o| matches!(o.status, apply::Status::Failed { .. }))
    }
}

/// Exit codes shared by the commands (0 ok, 1 error and nothing changed,
/// 2 `plan --exit-code` with changes pending, 3 apply changed something
/// but did not converge).
pub mod exit {
    pub const OK: u8 = 0;
    pub const ERROR: u8 = 1;
    pub const CHANGES: u8 = 2;
    pub const PARTIAL: u8 = 3;
}

impl Reconciled {
    /// 0 converged; 3 something changed but an action failed, an object
    /// is blocked or a host still differs; 1 nothing changed and it did
    /// not converge.
    pub fn exit_code(&self) -> u8 {
        if self.converged {
            exit::OK
        } else if self.changed {
            exit::PARTIAL
        } else {
            exit::ERROR
        }
    }
}

impl Planned {
    /// Converged without doing anything: no actions, nothing blocked, no
    /// prune refused.
    pub fn converged(&self) -> bool {
        self.plan.is_empty() && self.plan.is_complete() && self.plan.refusal.is_none()
    }

    /// Exit code of `plan`: 1 when something is blocked (an unreachable
    /// host blocks its objects) or a prune guard refused the plan, else 2
    /// with pending changes when asked to tell, else 0.
    pub fn exit_code(&self, tell_changes: bool) -> u8 {
        if !self.plan.is_complete() || self.plan.refusal.is_some() {
            exit::ERROR
        } else if tell_changes && !self.plan.is_empty() {
            exit::CHANGES
        } else {
            exit::OK
        }
    }
}

/// Every host the manifests know: the default connection and one
/// per Host manifest, with its URI.
pub fn known_hosts(desired: &DesiredState, default_uri: &str) -> BTreeMap<HostName, String> {
    let mut out = BTreeMap::new();
    out.insert(HostName::DEFAULT, default_uri.to_string());
    for (name, h) in &desired.hosts {
        out.insert(HostName::named(name.clone()), h.uri.clone());
    }
    out
}

/// Connections to every host a desired state knows, and the pass over them.
pub struct Reconciler {
    hosts: BTreeMap<HostName, HostConn>,
    uris: BTreeMap<HostName, String>,
}

impl Reconciler {
    /// Connect to every host `desired` knows (in parallel: an unreachable
    /// one costs its timeout once, not once per host). A host that cannot
    /// be reached is kept as down: its objects are blocked, the others
    /// proceed.
    pub fn connect(desired: &DesiredState, default_uri: &str, opts: ConnectOptions) -> Reconciler {
        let uris = known_hosts(desired, default_uri);
        let hosts = std::thread::scope(|s| {
            let handles: Vec<_> = uris
                .iter()
                .map(|(name, uri)| {
                    (
                        name.clone(),
                        s.spawn(move || match LibvirtHost::open_with(uri, opts) {
                            Ok(h) => HostConn::libvirt(h),
                            Err(e) => HostConn::Down {
                                error: e.to_string(),
                            },
                        }),
                    )
                })
                .collect();
            handles
                .into_iter()
                .map(|(n, h)| (n, h.join().expect("connect thread panicked")))
                .collect()
        });
        Reconciler { hosts, uris }
    }

    /// A reconciler over connections made elsewhere (tests: a
    /// fault-injecting backend; one shared test-driver connection).
    pub fn with_hosts(hosts: BTreeMap<HostName, (String, HostConn)>) -> Reconciler {
        let uris = hosts
            .iter()
            .map(|(k, (u, _))| (k.clone(), u.clone()))
            .collect();
        let hosts = hosts.into_iter().map(|(k, (_, c))| (k, c)).collect();
        Reconciler { hosts, uris }
    }

    /// The hosts and their connections.
    pub fn hosts(&self) -> &BTreeMap<HostName, HostConn> {
        &self.hosts
    }

    /// Some host could not be connected to (a long-running process dials
    /// it again).
    pub fn any_down(&self) -> bool {
        self.hosts
            .values()
            .any(|c| matches!(c, HostConn::Down { .. }))
    }

    /// Observe every reachable host, in parallel (libvirt calls block).
    pub fn observe(&self, desired: &DesiredState) -> ObservedState {
        self.observe_for(desired, Observation::Plan)
    }

    /// [`Reconciler::observe`], reading what `what` needs.
    pub fn observe_for(&self, desired: &DesiredState, what: Observation) -> ObservedState {
        self.observe_with(desired, what, None)
    }

    /// [`Reconciler::observe_for`]; with `prune` (the inventory of a pass
    /// that prunes), also every domain's and network's marker and the
    /// recorded pools and volumes ([`Interest::for_prune`]).
    fn observe_with(
        &self,
        desired: &DesiredState,
        what: Observation,
        prune: Option<&Inventory>,
    ) -> ObservedState {
        let mut out = ObservedState {
            uris: self.uris.clone(),
            ..ObservedState::default()
        };
        let results: Vec<(HostName, Result<ObservedHost, String>)> = std::thread::scope(|s| {
            let handles: Vec<_> = self
                .hosts
                .iter()
                .filter_map(|(name, conn)| match conn {
                    HostConn::Up { read, .. } => Some((name, read.clone())),
                    HostConn::Down { .. } => None,
                })
                .map(|(name, read)| {
                    let mut want = what.interest(desired, name);
                    if let Some(inv) = prune {
                        let recorded = self.uris.get(name).and_then(|u| inv.hosts.get(u));
                        want = want.for_prune(recorded);
                    }
                    (
                        name.clone(),
                        s.spawn(move || {
                            observe::observe_host(read.as_ref(), &want).map_err(|e| e.to_string())
                        }),
                    )
                })
                .collect();
            handles
                .into_iter()
                .map(|(n, h)| (n, h.join().expect("observer thread panicked")))
                .collect()
        });
        for (name, conn) in &self.hosts {
            if let HostConn::Down { error } = conn {
                out.unreachable.insert(name.clone(), error.clone());
            }
        }
        for (name, r) in results {
            match r {
                Ok(h) => {
                    out.hosts.insert(name, h);
                }
                Err(e) => {
                    out.unreachable.insert(name, e);
                }
            }
        }
        out
    }

    /// Observe and plan. When the planner needs the live definition of
    /// running domains (live actions address the device the guest has),
    /// those are read and the plan made again: a converged pass reads no
    /// live XML at all.
    pub fn plan(&self, t: &Target) -> Planned {
        self.plan_for(t, Observation::Plan)
    }

    /// [`Reconciler::plan`] from an observation of `what` (`status` plans
    /// from one that also lists every managed domain's snapshots).
    pub fn plan_for(&self, t: &Target, what: Observation) -> Planned {
        let prune = t.scope.prune.is_some().then_some(t.inventory);
        let mut observed = self.observe_with(t.desired, what, prune);
        let mut p = plan_from(t, &observed);
        if !p.live_xml_wanted.is_empty() {
            for (name, host) in &mut observed.hosts {
                if let Some(HostConn::Up { read, .. }) = self.hosts.get(name) {
                    let wanted = p.live_xml_wanted.iter().filter(|(h, _, _)| h == name);
                    observe::read_live_xml(read.as_ref(), host, wanted.map(|(_, k, n)| (*k, n)));
                }
            }
            p = plan_from(t, &observed);
        }
        Planned { observed, plan: p }
    }

    /// Execute `planned.plan`; `on_done` sees each outcome as it happens.
    /// Ownership of the pools and volumes created is recorded in
    /// `inventory` (and saved under `opts.state_dir`), what was pruned is
    /// forgotten, and every managed object's record refreshed; then the
    /// hosts are observed again and planned, which alone says "converged".
    /// A plan a prune guard refused is not applied at all.
    pub fn apply(
        &self,
        t: &Target,
        inventory: &mut Inventory,
        planned: &Planned,
        opts: &ApplyOptions,
        on_done: &(dyn Fn(&Action, &Outcome) + Sync),
    ) -> Result<Reconciled, ReconcileError> {
        if let Some(r) = &planned.plan.refusal {
            return Err(ReconcileError::Refused(r.clone()));
        }
        if let Some(dir) = &opts.state_dir {
            // Ownership of what apply creates must be recordable: find out
            // now, not after the pools and volumes exist.
            inventory.save(dir)?;
        }
        let report = apply::execute(
            &planned.plan,
            &self.backends(),
            opts.parallel.max(1),
            opts.stop.as_deref(),
            on_done,
        );
        record_created(inventory, &planned.plan, &report, &self.uris, t);
        // The pass again, from a fresh observation: the only judge of
        // "converged".
        let after = self.plan(&Target { inventory, ..*t });
        // Records of this owner's declared objects change no action of the
        // plan just made: no need to plan again.
        record_managed(inventory, t, &after.observed);
        if let Some(dir) = &opts.state_dir {
            inventory.save(dir)?;
        }
        let residual = (!after.observed.hosts.is_empty()).then_some(after.plan);
        let all_done = report.failed().next().is_none() && report.skipped().next().is_none();
        let converged = all_done
            && residual
                .as_ref()
                .is_some_and(|r| r.is_empty() && r.is_complete() && r.refusal.is_none());
        Ok(Reconciled {
            changed: report.changed_anything(),
            outcomes: report.outcomes,
            residual,
            converged,
        })
    }

    /// Stop waiting in every backend (graceful shutdowns in progress end).
    pub fn cancel(&self) {
        for c in self.hosts.values() {
            if let HostConn::Up { write, .. } = c {
                write.cancel();
            }
        }
    }

    /// Writers by host.
    fn backends(&self) -> BTreeMap<HostName, Arc<dyn Backend>> {
        self.hosts
            .iter()
            .filter_map(|(k, v)| match v {
                HostConn::Up { write, .. } => Some((k.clone(), write.clone())),
                HostConn::Down { .. } => None,
            })
            .collect()
    }

    /// libvirt calls made so far, by kind, summed over hosts.
    pub fn calls(&self) -> BTreeMap<&'static str, u64> {
        let mut out = BTreeMap::new();
        for c in self.hosts.values() {
            if let HostConn::Up {
                libvirt: Some(h), ..
            } = c
            {
                for (k, v) in h.calls() {
                    *out.entry(k).or_default() += v;
                }
            }
        }
        out
    }

    pub fn total_calls(&self) -> u64 {
        self.calls().values().sum()
    }
}

fn plan_from(t: &Target, observed: &ObservedState) -> Plan {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    plan::plan(&PlanInput {
        desired: t.desired,
        observed,
        inventory: t.inventory,
        revision: t.revision,
        now,
        adopt: t.adopt,
        scope: t.scope,
    })
}

/// The git revision of the manifest directory, or empty when it is not in
/// a repository (it goes into the ownership marker).
pub fn git_revision(dir: &Path) -> String {
    let dir = if dir.is_file() {
        dir.parent().unwrap_or(dir)
    } else {
        dir
    };
    std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["rev-parse", "HEAD"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

/// Record ownership of the pools and volumes `report` shows created, by
/// the identity libvirt returned when it made them, and of those adopted,
/// by the identity observed when the plan was made; forget what it shows
/// pruned.
fn record_created(
    inventory: &mut Inventory,
    p: &Plan,
    report: &ApplyReport,
    uris: &BTreeMap<HostName, String>,
    t: &Target,
) {
    let desired = t.desired;
    let actions: BTreeMap<&str, &Action> = p.actions.iter().map(|a| (a.id.as_str(), a)).collect();
    for o in report.done() {
        let Some(a) = actions.get(o.id.as_str()) else {
            continue;
        };
        let host = &a.host;
        let Some(uri) = uris.get(host) else { continue };
        match (a.kind, a.operation) {
            (Kind::StoragePool, Operation::Define) => {
                if let Some(uuid) = o.created.as_ref().and_then(|c| c.uuid.as_ref()) {
                    inventory.record_pool(uri, &a.name, uuid);
                }
            }
            (Kind::StoragePool, Operation::Adopt) => {
                if let crate::plan::Step::AdoptPool { uuid } = &a.step {
                    inventory.record_pool(uri, &a.name, uuid);
                }
            }
            (Kind::Volume, Operation::Adopt) => {
                if let Some((pool, name)) = a.name.split_once('/') {
                    inventory.record_volume(uri, pool, name);
                }
            }
            (Kind::Snapshot, Operation::CreateSnapshot) => {
                if let Some((domain, name)) = a.name.split_once('/') {
                    inventory.record_snapshot(uri, domain, name);
                }
            }
            (Kind::Snapshot, Operation::DeleteSnapshot) => {
                if let Some((domain, name)) = a.name.split_once('/') {
                    inventory.forget_snapshot(uri, domain, name);
                }
            }
            // A domain undefined although declared was replaced, not pruned.
            (Kind::Domain, Operation::Undefine)
                if !t.scope.declares(host, Kind::Domain, &a.name) =>
            {
                inventory.forget_domain(uri, &a.name);
            }
            // A transient domain pruned: gone once stopped.
            (Kind::Domain, Operation::Shutdown)
                if a.effect == plan::Effect::Delete
                    && !t.scope.declares(host, Kind::Domain, &a.name) =>
            {
                inventory.forget_domain(uri, &a.name);
            }
            (Kind::Network, Operation::Undefine) => inventory.forget_network(uri, &a.name),
            (Kind::StoragePool, Operation::Undefine) => inventory.forget_pool(uri, &a.name),
            (Kind::Volume, Operation::DeleteVolume) => {
                if let Some((pool, name)) = a.name.split_once('/') {
                    inventory.forget_volume(uri, pool, name);
                }
            }
            (Kind::Volume, Operation::CreateVolume) => {
                if let Some((pool, name)) = a.name.split_once('/') {
                    let wanted = desired.volumes.contains_key(&VolKey {
                        host: host.clone(),
                        pool: pool.into(),
                        name: name.into(),
                    });
                    if wanted {
                        inventory.record_volume(uri, pool, name);
                    }
                }
            }
            _ => {}
        }
    }
}

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
//!
//! Each host's capabilities are read once per reconciler (they identify
//! the host: [`HostId`]); [`Reconciler::lock`] takes the one-writer lock
//! of every host before a pass that writes, and the ownership inventory
//! is settled against each observation (`ownership`).

mod ownership;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;

use crate::apply::{self, Outcome};
use crate::backend::{Backend, ConnectOptions, HostRead, LibvirtHost};
use crate::inventory::{Inventory, InventoryError};
use crate::lock::{HostLock, LockError};
use crate::model::*;
use crate::observe::{self, Interest};
use crate::plan::{self, Action, Operation, Plan, PlanInput, Refusal, Scope};

mod placement;
mod record;
use placement::check_placement;
pub use record::record_managed;

#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error(transparent)]
    Inventory(#[from] InventoryError),
    /// A `--prune` guard refused the plan: nothing was applied.
    #[error("{}", .0.message)]
    Refused(Refusal),
    #[error(transparent)]
    Lock(#[from] LockError),
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
/// per Host manifest, with its URI. With `--host NAME`
/// ([`DesiredState::only_host`]) that host is reached at `default_uri`
/// (the controller of a fleet reaches its own host through the local URI)
/// and the other Hosts at theirs, observed only (a domain moved away from
/// one of them is seen there); the default connection is then NAME's.
pub fn known_hosts(desired: &DesiredState, default_uri: &str) -> BTreeMap<HostName, String> {
    if let Some(h) = &desired.only_host {
        let mut out = BTreeMap::from([(h.clone(), default_uri.to_string())]);
        for (name, m) in &desired.hosts {
            out.entry(HostName::named(name.clone()))
                .or_insert_with(|| m.uri.clone());
        }
        return out;
    }
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
    /// Each host's capabilities (or why they could not be read), read at
    /// the first need and kept: one call per host for the reconciler's
    /// life, which the lock, the inventory and every observation share.
    caps: Mutex<BTreeMap<HostName, Result<Capabilities, String>>>,
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
                        s.spawn(move || {
                            match LibvirtHost::open_with(uri, opts).and_then(|h| {
                                check_placement(desired, name, &h)?;
                                Ok(h)
                            }) {
                                Ok(h) => HostConn::libvirt(h),
                                Err(e) => HostConn::Down {
                                    error: e.to_string(),
                                },
                            }
                        }),
                    )
                })
                .collect();
            handles
                .into_iter()
                .map(|(n, h)| (n, h.join().expect("connect thread panicked")))
                .collect()
        });
        Reconciler {
            hosts,
            uris,
            caps: Mutex::default(),
        }
    }

    /// A reconciler over connections made elsewhere (tests: a
    /// fault-injecting backend; one shared test-driver connection).
    pub fn with_hosts(hosts: BTreeMap<HostName, (String, HostConn)>) -> Reconciler {
        let uris = hosts
            .iter()
            .map(|(k, (u, _))| (k.clone(), u.clone()))
            .collect();
        let hosts = hosts.into_iter().map(|(k, (_, c))| (k, c)).collect();
        Reconciler {
            hosts,
            uris,
            caps: Mutex::default(),
        }
    }

    /// The capabilities of host `name`, read once (a failure too: a host
    /// whose identity is unknown is unreachable for the whole pass, never
    /// written to unlocked).
    fn capabilities(&self, name: &HostName) -> Result<Capabilities, String> {
        if let Some(c) = self.caps.lock().expect("caps").get(name) {
            return c.clone();
        }
        let r = match self.hosts.get(name) {
            Some(HostConn::Up { read, .. }) => {
                observe::read_capabilities(read.as_ref()).map_err(|e| e.to_string())
            }
            Some(HostConn::Down { error }) => Err(error.clone()),
            None => Err(format!("{name} is not a known host")),
        };
        self.caps
            .lock()
            .expect("caps")
            .entry(name.clone())
            .or_insert(r)
            .clone()
    }

    /// The identity of host `name` (see [`HostId`]), if it can be reached.
    pub fn identity(&self, name: &HostName) -> Option<HostId> {
        let caps = self.capabilities(name).ok()?;
        Some(HostId::of(&caps, self.uris.get(name)?))
    }

    /// Take the one-writer lock of every reachable host (in the order of
    /// their identities, so that two passes over overlapping hosts never
    /// wait for each other in a circle), waiting up to `timeout` for each;
    /// `on_wait` is told whom it waits for. Held until the locks are
    /// dropped. Two host names of one host take its lock once.
    pub fn lock(
        &self,
        state_dir: &Path,
        timeout: Duration,
        on_wait: &mut dyn FnMut(&str),
    ) -> Result<Vec<HostLock>, ReconcileError> {
        let mut ids: BTreeMap<HostId, String> = BTreeMap::new();
        for name in self.hosts.keys() {
            if let (Some(id), Some(uri)) = (self.identity(name), self.uris.get(name)) {
                ids.entry(id).or_insert_with(|| uri.clone());
            }
        }
        let mut held = Vec::new();
        for (id, uri) in &ids {
            held.push(crate::lock::lock_host(
                state_dir, id, uri, timeout, on_wait,
            )?);
        }
        Ok(held)
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
                    // A fleet controller (`--host`) prunes only its host.
                    let own = desired.only_host.as_ref().is_none_or(|h| h == name);
                    if let Some(inv) = prune.filter(|_| own) {
                        // The host's records by its identity (the
                        // capabilities are read once per host and kept).
                        let recorded = self.identity(name).and_then(|id| inv.hosts.get(&id));
                        want = want.for_prune(recorded);
                    }
                    (
                        name.clone(),
                        s.spawn(move || {
                            let caps = self.capabilities(name)?;
                            observe::observe_host(read.as_ref(), &want, caps)
                                .map_err(|e| e.to_string())
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
    /// Ownership of the pools, volumes and snapshots it creates is
    /// recorded in `inventory` — an intent for each before anything runs,
    /// its outcome as each action ends — and saved under
    /// `opts.state_dir` each time; what was adopted is recorded and what
    /// was pruned forgotten, every managed object's record refreshed; then
    /// the hosts are observed again and planned, which alone says
    /// "converged". A plan a prune guard refused is not applied at all.
    pub fn apply(
        &self,
        t: &Target,
        inventory: &mut Inventory,
        planned: &Planned,
        opts: &ApplyOptions,
        on_done: &(dyn Fn(&Action, &Outcome) + Sync),
    ) -> Result<Reconciled, ReconcileError> {
        self.apply_observed(t, inventory, planned, opts, &|_| {}, on_done)
    }

    /// [`Reconciler::apply`], also calling `on_start` as each action
    /// starts (for a progress display of the actions in flight).
    pub fn apply_observed(
        &self,
        t: &Target,
        inventory: &mut Inventory,
        planned: &Planned,
        opts: &ApplyOptions,
        on_start: &(dyn Fn(&Action) + Sync),
        on_done: &(dyn Fn(&Action, &Outcome) + Sync),
    ) -> Result<Reconciled, ReconcileError> {
        if let Some(r) = &planned.plan.refusal {
            return Err(ReconcileError::Refused(r.clone()));
        }
        let save = |inv: &Inventory| match &opts.state_dir {
            Some(dir) => inv.save(dir),
            None => Ok(()),
        };
        let mut inv = inventory.view(&planned.observed);
        for a in &planned.plan.actions {
            let Some(intent) = ownership::intent_of(a, t.desired) else {
                continue;
            };
            if let (Some(id), Some(uri)) = (self.identity(&a.host), self.uris.get(&a.host)) {
                inv.host_mut(&id, uri).intend(intent);
            }
        }
        // Before anything is created: an apply killed at any point after
        // this leaves intents the next pass settles, never an object it
        // made and does not know. (Also finds out now, not after the
        // pools exist, that the state directory is writable.)
        save(&inv)?;
        let shared = Mutex::new(inv);
        let report = apply::execute_observed(
            &planned.plan,
            &self.backends(),
            opts.parallel.max(1),
            opts.stop.as_deref(),
            on_start,
            &|a, o| {
                if let (Some(id), Some(uri)) = (self.identity(&a.host), self.uris.get(&a.host)) {
                    let mut inv = shared.lock().expect("inventory");
                    if ownership::record_outcome(&mut inv, t.desired, &id, uri, a, o) {
                        if let Err(e) = save(&inv) {
                            // The intent stays on disk: the next pass
                            // settles it from what the host has.
                            tracing::warn!("{e}");
                        }
                    }
                }
                on_done(a, o)
            },
        );
        let mut inv = shared.into_inner().expect("inventory");
        record_adopted_and_pruned(&mut inv, &planned.plan, &report, t, self);
        // The pass again, from a fresh observation: the only judge of
        // "converged", and what settles the intents of failed actions.
        let after = self.plan(&Target {
            inventory: &inv,
            ..*t
        });
        inv = inv.view(&after.observed);
        // Records of this owner's declared objects change no action of the
        // plan just made: no need to plan again.
        record_managed(&mut inv, t, &after.observed);
        save(&inv)?;
        *inventory = inv;
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

    /// With nothing to apply: keep what the observation settled in the
    /// inventory (records of an older file moved to their host's
    /// identity, intents of a killed apply), when it changed anything.
    pub fn settle_inventory(
        &self,
        inventory: &mut Inventory,
        observed: &ObservedState,
        state_dir: Option<&Path>,
    ) -> Result<(), ReconcileError> {
        let settled = inventory.view(observed);
        if settled != *inventory {
            if let Some(dir) = state_dir {
                settled.save(dir)?;
            }
            *inventory = settled;
        }
        Ok(())
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
    // Ownership as this observation settles it (see Inventory::view).
    let inventory = t.inventory.view(observed);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    plan::plan(&PlanInput {
        desired: t.desired,
        observed,
        inventory: &inventory,
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

/// What the actions `report` shows done changed in ownership besides
/// creates (recorded as each one ends, see `ownership`): pools and volumes
/// adopted (by the identity observed when the plan was made) are
/// recorded; what a prune deleted is forgotten.
fn record_adopted_and_pruned(
    inventory: &mut Inventory,
    p: &Plan,
    report: &apply::ApplyReport,
    t: &Target,
    r: &Reconciler,
) {
    let actions: BTreeMap<&str, &Action> = p.actions.iter().map(|a| (a.id.as_str(), a)).collect();
    for o in report.done() {
        let Some(a) = actions.get(o.id.as_str()) else {
            continue;
        };
        let host = &a.host;
        let (Some(id), Some(uri)) = (r.identity(host), r.uris.get(host)) else {
            continue;
        };
        match (a.kind, a.operation) {
            (Kind::StoragePool, Operation::Adopt) => {
                if let crate::plan::Step::AdoptPool { uuid } = &a.step {
                    inventory.host_mut(&id, uri).record_pool(&a.name, uuid);
                }
            }
            (Kind::Volume, Operation::Adopt) => {
                if let Some((pool, name)) = a.name.split_once('/') {
                    inventory.host_mut(&id, uri).record_volume(pool, name);
                }
            }
            // A domain undefined although declared was replaced, not pruned.
            (Kind::Domain, Operation::Undefine)
                if !t.scope.declares(host, Kind::Domain, &a.name) =>
            {
                inventory.forget_domain(&id, &a.name);
            }
            // A transient domain pruned: gone once stopped.
            (Kind::Domain, Operation::Shutdown)
                if a.effect == plan::Effect::Delete
                    && !t.scope.declares(host, Kind::Domain, &a.name) =>
            {
                inventory.forget_domain(&id, &a.name);
            }
            (Kind::Network, Operation::Undefine) => inventory.forget_network(&id, &a.name),
            (Kind::StoragePool, Operation::Undefine) => inventory.forget_pool(&id, &a.name),
            (Kind::Volume, Operation::DeleteVolume) => {
                if let Some((pool, name)) = a.name.split_once('/') {
                    inventory.forget_volume(&id, pool, name);
                }
            }
            _ => {}
        }
    }
}

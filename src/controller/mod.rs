//! The controller (`virtsync run`): the library's reconcile pass, looped.
//!
//! Level-triggered, like kube-runtime's controller: a trigger (manifest
//! files changed, something happened on a host, the periodic resync, the
//! retry of a pass that did not converge) only says "look again"; every
//! pass observes, plans and applies from scratch with the same
//! [`Reconciler`] `apply` uses, so the outcome never depends on which
//! trigger came. One pass is in flight at a time; triggers that arrive
//! meanwhile are coalesced into one more pass ([`queue`]).
//!
//! - Manifests: watched ([`watch`]); a file that stops parsing keeps its
//!   last good content ([`desired`]), never read as a deletion.
//! - Failures: every pass applies everything it can (a failing object
//!   blocks only what depends on it). An object whose action failed waits
//!   for its own backoff (exponential, with jitter; [`requeue`]) before it
//!   is tried again, whatever triggers passes meanwhile; an edit of the
//!   manifests tries it at once. A pass that did not converge for another
//!   reason (a host down, a blocked object, a lock) is retried after a
//!   backoff of its own, reset by the next pass that converges.
//! - Connections: a host that could not be reached is dialled again before
//!   the next pass (after the backoff), and observed in full then.
//! - Stop (SIGINT/SIGTERM from the CLI): no new action starts, the running
//!   ones finish (waits for a guest's shutdown are cut short), exit.
//!
//! After every pass the controller writes its status file
//! (`controller-status.json` in the state directory).

pub mod desired;
pub mod metrics;
pub mod pull;
pub mod queue;
pub mod requeue;
pub mod status;
pub mod watch;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch as signal};
use tokio::time::Instant;

use crate::apply::Status;
use crate::backend::{ConnectOptions, Subscription};
use crate::inventory::Inventory;
use crate::manifest::LoadOptions;
use crate::model::{DesiredState, HostName};
use crate::reconcile::{self, ApplyOptions, HostConn, Reconciler, Target};
use desired::{Loaded, Manifests};
use queue::{Backoff, Pending, Trigger};
use requeue::{ObjectKey, Requeue};
pub use status::PassReport;

#[derive(Debug, thiserror::Error)]
pub enum ControllerError {
    #[error("cannot watch {}: {source}", dir.display())]
    Watch {
        dir: PathBuf,
        #[source]
        source: notify::Error,
    },
    #[error(transparent)]
    Inventory(#[from] crate::inventory::InventoryError),
    #[error(transparent)]
    Owner(#[from] crate::owner::OwnerError),
}

/// How the controller runs.
#[derive(Debug, Clone)]
pub struct RunConfig {
    pub dir: PathBuf,
    pub load: LoadOptions,
    /// Only objects whose labels match (`--selector`).
    pub selector: Vec<(String, String)>,
    /// Only the objects placed on this host (`--host`, see
    /// [`DesiredState::select_host`]).
    pub host: Option<String>,
    /// The owner identity (`--owner`); found from the directory otherwise.
    pub owner: Option<String>,
    /// `--prune` and its guards: every pass also deletes this owner's
    /// objects whose manifests are gone (never without it).
    pub prune: Option<crate::plan::PruneOptions>,
    /// How long a pass waits for the hosts' one-writer locks (another
    /// virtsync applying) before it fails and is retried.
    pub lock_timeout: Duration,
    /// Where the inventory and the status file live; `None` keeps both in
    /// memory (tests).
    pub state_dir: Option<PathBuf>,
    /// A full pass at least this often, whatever else happens.
    pub resync: Duration,
    /// How long file events settle before a reload.
    pub debounce: Duration,
    /// Concurrent actions per host.
    pub parallel: usize,
    /// Backoff between passes that do not converge.
    pub retry_min: Duration,
    pub retry_max: Duration,
    /// Serve `/metrics` and `/healthz` here (`--listen`).
    pub listen: Option<std::net::SocketAddr>,
    /// Fetch and fast-forward the manifest checkout this often (`--pull`).
    pub pull: Option<Duration>,
}

impl RunConfig {
    pub fn new(dir: PathBuf) -> RunConfig {
        RunConfig {
            dir,
            load: LoadOptions::default(),
            selector: Vec::new(),
            host: None,
            owner: None,
            prune: None,
            lock_timeout: Duration::from_secs(300),
            state_dir: None,
            resync: Duration::from_secs(300),
            debounce: Duration::from_millis(100),
            parallel: 4,
            retry_min: Duration::from_secs(1),
            retry_max: Duration::from_secs(300),
            listen: None,
            pull: None,
        }
    }
}

/// How the controller reaches its hosts: libvirt for `virtsync run`, a
/// shared fake (test driver, fault injection) in tests.
pub trait Connector: Send + Sync + 'static {
    /// The hosts `desired` names, with their URIs: when these change, the
    /// controller connects again.
    fn hosts(&self, desired: &DesiredState) -> BTreeMap<HostName, String>;
    fn connect(&self, desired: &DesiredState) -> Reconciler;
    /// Send a [`Trigger::Host`] for every event of `r`'s hosts until the
    /// returned registrations are dropped (none by default: resync and
    /// explicit triggers only).
    fn subscribe(
        &self,
        _r: &Reconciler,
        _tx: &mpsc::UnboundedSender<Trigger>,
    ) -> Vec<Subscription> {
        Vec::new()
    }
}

/// libvirt connections: the default URI and every Host manifest's.
pub struct Libvirt {
    pub default_uri: String,
    pub options: ConnectOptions,
}

impl Connector for Libvirt {
    fn hosts(&self, desired: &DesiredState) -> BTreeMap<HostName, String> {
        reconcile::known_hosts(desired, &self.default_uri)
    }
    fn connect(&self, desired: &DesiredState) -> Reconciler {
        Reconciler::connect(desired, &self.default_uri, self.options)
    }

    /// Domain, network and pool lifecycle events, and a closed connection
    /// (the next pass then finds the host unreachable and dials again).
    fn subscribe(&self, r: &Reconciler, tx: &mpsc::UnboundedSender<Trigger>) -> Vec<Subscription> {
        let mut out = Vec::new();
        for (host, conn) in r.hosts() {
            let HostConn::Up {
                libvirt: Some(h), ..
            } = conn
            else {
                continue;
            };
            let (host, tx) = (host.clone(), tx.clone());
            let sub = h.subscribe(move |e| {
                tracing::debug!(host = %host.label(), event = ?e, "libvirt event");
                let _ = tx.send(Trigger::Host(host.clone()));
            });
            match sub {
                Ok(s) => out.push(s),
                Err(e) => tracing::warn!(error = %e, "no libvirt events: resync only"),
            }
        }
        out
    }
}

/// A running controller's handles: send triggers (libvirt events, tests),
/// ask it to stop, and see each pass's report.
pub struct Handle {
    pub triggers: mpsc::UnboundedSender<Trigger>,
    stop: signal::Sender<bool>,
}

impl Handle {
    /// No new action starts; the running ones finish; `run` returns.
    pub fn stop(&self) {
        let _ = self.stop.send(true);
    }
}

pub struct Controller {
    cfg: RunConfig,
    connector: Arc<dyn Connector>,
    triggers_tx: mpsc::UnboundedSender<Trigger>,
    triggers: mpsc::UnboundedReceiver<Trigger>,
    stop: signal::Receiver<bool>,
    reports: Option<mpsc::UnboundedSender<PassReport>>,
    metrics: Arc<metrics::Metrics>,
}

impl Controller {
    pub fn new(cfg: RunConfig, connector: Arc<dyn Connector>) -> (Controller, Handle) {
        let (tx, rx) = mpsc::unbounded_channel();
        let (stop_tx, stop_rx) = signal::channel(false);
        (
            Controller {
                cfg,
                connector,
                triggers_tx: tx.clone(),
                triggers: rx,
                stop: stop_rx,
                reports: None,
                metrics: Arc::new(metrics::Metrics::default()),
            },
            Handle {
                triggers: tx,
                stop: stop_tx,
            },
        )
    }

    /// Every pass's report goes to `tx` too (tests, progress output).
    pub fn reports_to(&mut self, tx: mpsc::UnboundedSender<PassReport>) {
        self.reports = Some(tx);
    }

    /// The metrics `/metrics` serves.
    pub fn metrics(&self) -> Arc<metrics::Metrics> {
        self.metrics.clone()
    }

    /// Run until stopped. The first pass starts at once.
    pub async fn run(mut self) -> Result<(), ControllerError> {
        let cfg = self.cfg.clone();
        let _watcher =
            watch::watch(&cfg.dir, cfg.debounce, self.triggers_tx.clone()).map_err(|source| {
                ControllerError::Watch {
                    dir: cfg.dir.clone(),
                    source,
                }
            })?;
        if let Some(addr) = cfg.listen {
            let m = self.metrics.clone();
            tokio::spawn(async move {
                if let Err(e) = metrics::serve(addr, m).await {
                    tracing::error!(%addr, error = %e, "cannot serve /metrics");
                }
            });
        }
        let owner = crate::owner::Owner::discover(&cfg.dir, cfg.owner.as_deref())?;
        let mut manifests = Manifests::new(cfg.dir.clone(), cfg.load.clone());
        let mut inventory = match &cfg.state_dir {
            Some(d) => Inventory::load(d)?,
            None => Inventory::default(),
        };
        let mut pending = Pending::default();
        pending.add(Trigger::Manifests);
        let mut resync = tokio::time::interval(cfg.resync);
        resync.tick().await;
        let mut backoff = Backoff::new(cfg.retry_min, cfg.retry_max);
        let mut requeue = Requeue::new(cfg.retry_min, cfg.retry_max);
        let mut retry_at: Option<Instant> = None;
        let mut conn: Option<Connected> = None;
        let stopping = Arc::new(AtomicBool::new(false));
        // The pull runs on its own task: a slow fetch never holds up a pass;
        // what it changes reaches the watcher like any edit.
        let pull_error: Arc<std::sync::Mutex<Option<String>>> = Arc::default();
        if let Some(every) = cfg.pull {
            let (dir, slot, tx) = (
                cfg.dir.clone(),
                pull_error.clone(),
                self.triggers_tx.clone(),
            );
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(every);
                loop {
                    tick.tick().await;
                    let d = dir.clone();
                    let r = tokio::task::spawn_blocking(move || pull::pull(&d)).await;
                    let r = r.unwrap_or_else(|e| Err(e.to_string()));
                    let mut slot = slot.lock().expect("pull error");
                    match r {
                        Ok(pull::Pulled::UpToDate) => *slot = None,
                        Ok(pull::Pulled::Forwarded { from, to }) => {
                            tracing::info!(%from, %to, "pulled");
                            *slot = None;
                            let _ = tx.send(Trigger::Manifests);
                        }
                        Err(e) => {
                            if slot.as_deref() != Some(e.as_str()) {
                                tracing::warn!(error = %e, "pull");
                            }
                            *slot = Some(e);
                        }
                    }
                }
            });
        }
        loop {
            if *self.stop.borrow() {
                break;
            }
            if !pending.pass {
                let retry = async {
                    match retry_at {
                        Some(t) => tokio::time::sleep_until(t).await,
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    _ = self.stop.changed() => break,
                    Some(t) = self.triggers.recv() => pending.add(t),
                    _ = resync.tick() => pending.add(Trigger::Resync),
                    _ = retry => {
                        retry_at = None;
                        pending.add(Trigger::Retry);
                    }
                }
            }
            while let Ok(t) = self.triggers.try_recv() {
                pending.add(t);
            }
            self.metrics.queue_depth.set(pending.reasons.len() as i64);
            if !pending.pass {
                continue;
            }
            let work = pending.take();
            let loaded = work.reload.then(|| manifests.reload());
            if work.reload {
                // An edit may be the fix: every object is tried at once.
                requeue.clear();
            }
            if let Some(l) = &loaded {
                log_load(l, &manifests);
            }
            self.metrics
                .manifest_errors
                .set(manifests.errors().len() as i64);
            let Some(mut desired) = manifests.state().cloned() else {
                self.metrics
                    .passes
                    .get_or_create(&metrics::PassLabels {
                        result: "not_run".into(),
                    })
                    .inc();
                self.metrics.errors.inc();
                self.report(status::PassReport::not_run(&work, loaded, &manifests));
                continue;
            };
            // Every declared object, before the selector (see `Scope`).
            let scope = crate::plan::Scope::new(owner.as_str(), &desired)
                .with_selector(&cfg.selector)
                .with_prune(cfg.prune);
            desired.select(&cfg.selector);
            if let Some(Err(e)) = cfg.host.as_deref().map(|h| desired.select_host(h)) {
                tracing::warn!("--host: {e}; nothing to reconcile");
            }
            let scope = scope.with_only_host(desired.only_host.clone());
            // (Re)connect when the hosts changed or one was down.
            let hosts = self.connector.hosts(&desired);
            let stale = match &conn {
                Some(c) => c.hosts != hosts || c.reconciler.any_down(),
                None => true,
            };
            if stale {
                // The old registrations go with the old connections.
                drop(conn.take());
                let connector = self.connector.clone();
                let d = desired.clone();
                let tx = self.triggers_tx.clone();
                let (r, subs) = tokio::task::spawn_blocking(move || {
                    let r = connector.connect(&d);
                    let subs = connector.subscribe(&r, &tx);
                    (r, subs)
                })
                .await
                .expect("connect panicked");
                conn = Some(Connected {
                    reconciler: Arc::new(r),
                    hosts,
                    _events: subs,
                });
            }
            let reconciler = conn.as_ref().expect("connected").reconciler.clone();
            let revision = reconcile::git_revision(&cfg.dir);
            let opts = ApplyOptions {
                parallel: cfg.parallel,
                state_dir: cfg.state_dir.clone(),
                stop: Some(stopping.clone()),
            };
            let mut inv = std::mem::take(&mut inventory);
            let r = reconciler.clone();
            let (state_dir, lock_timeout) = (cfg.state_dir.clone(), cfg.lock_timeout);
            let waiting = requeue.waiting(std::time::Instant::now());
            let mut pass = tokio::task::spawn_blocking(move || {
                // One writer per host: a pass holds the hosts' locks, so a
                // manual `apply` waits for it (and it for the apply).
                let _locks = match &state_dir {
                    Some(dir) => match r.lock(dir, lock_timeout, &mut |m| tracing::info!("{m}")) {
                        Ok(l) => l,
                        Err(e) => {
                            let result = PassResult {
                                error: Some(e.to_string()),
                                ..PassResult::default()
                            };
                            return (result, inv);
                        }
                    },
                    None => Vec::new(),
                };
                let result = one_pass(&r, &desired, &scope, &mut inv, &revision, &opts, &waiting);
                (result, inv)
            });
            let mut stopped = false;
            let (result, inv) = tokio::select! {
                done = &mut pass => done.expect("pass panicked"),
                _ = self.stop.changed() => {
                    // No new action; waits for guests cut short; the
                    // running actions finish.
                    stopped = true;
                    stopping.store(true, Ordering::SeqCst);
                    reconciler.cancel();
                    pass.await.expect("pass panicked")
                }
            };
            inventory = inv;
            self.record(&work, &result, conn.as_ref().map(|c| &c.hosts));
            let now = std::time::Instant::now();
            for (key, id, error) in &result.by_object {
                match error {
                    Some(e) => {
                        let wait = requeue.failed(key.clone(), id, e, now);
                        tracing::info!(
                            action = %id,
                            retry_in_ms = wait.as_millis() as u64,
                            "failed; this object waits before its next try"
                        );
                    }
                    None => requeue.succeeded(key),
                }
            }
            // Not converged for a reason no object's backoff covers: the
            // whole pass is retried after a backoff of its own.
            let other_cause = !result.converged
                && (result.error.is_some()
                    || !result.unreachable.is_empty()
                    || !result.blocked.is_empty()
                    || (result.failed.is_empty() && result.deferred.is_empty()));
            let mut report = status::PassReport::of(&work, loaded, &manifests, result);
            report.deferred = requeue.report(now);
            // Objects still waiting keep showing their last failure.
            for d in &report.deferred {
                if !report.failed.iter().any(|(id, _)| id == &d.action) {
                    report.failed.push((d.action.clone(), d.error.clone()));
                }
            }
            report.pull_error = pull_error.lock().expect("pull error").clone();
            retry_at = None;
            if report.converged {
                backoff.reset();
            } else if !stopped {
                let pass_retry = other_cause.then(|| Instant::now() + backoff.next_delay());
                let object_retry = requeue.next_due().map(Instant::from_std);
                retry_at = pass_retry.into_iter().chain(object_retry).min();
                if let Some(at) = retry_at {
                    tracing::info!(
                        retry_in_ms =
                            at.saturating_duration_since(Instant::now()).as_millis() as u64,
                        "not converged; retrying"
                    );
                }
            }
            if report.unreachable > 0 {
                // Dial again before the next pass.
                conn = None;
            }
            if let Some(dir) = &cfg.state_dir {
                if let Err(e) = report.save(dir) {
                    tracing::warn!(error = %e, "cannot write the status file");
                }
            }
            self.report(report);
            if stopped {
                break;
            }
        }
        tracing::info!("stopped");
        Ok(())
    }

    /// A pass's counts into the metrics.
    fn record(&self, work: &Pending, r: &PassResult, hosts: Option<&BTreeMap<HostName, String>>) {
        let m = &self.metrics;
        let result = if r.converged {
            "converged"
        } else {
            "not_converged"
        };
        m.passes
            .get_or_create(&metrics::PassLabels {
                result: result.into(),
            })
            .inc();
        m.observe_seconds.observe(r.observe_seconds);
        let by_manifests = work.reasons.contains(&Trigger::Manifests);
        for (kind, operation, outcome) in &r.outcomes {
            m.actions
                .get_or_create(&metrics::ActionLabels {
                    kind: kind.clone(),
                    operation: operation.clone(),
                    outcome: outcome.to_string(),
                })
                .inc();
            if *outcome == "done" && !by_manifests {
                m.drift_corrections.inc();
            }
        }
        m.errors
            .inc_by(r.failed.len() as u64 + u64::from(r.error.is_some()));
        if r.converged {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs_f64())
                .unwrap_or(0.0);
            for h in hosts.into_iter().flat_map(|h| h.keys()) {
                let host = if h.is_default() {
                    "default".to_string()
                } else {
                    h.label().to_string()
                };
                m.last_converged
                    .get_or_create(&metrics::HostLabels { host })
                    .set(now);
            }
        }
    }

    fn report(&self, r: PassReport) {
        if let Some(tx) = &self.reports {
            let _ = tx.send(r);
        }
    }
}

/// The hosts connected to, and their event registrations.
struct Connected {
    reconciler: Arc<Reconciler>,
    hosts: BTreeMap<HostName, String>,
    _events: Vec<Subscription>,
}

/// The outcome of one pass.
#[derive(Debug, Clone, Default)]
pub struct PassResult {
    pub actions: usize,
    pub failed: Vec<(String, String)>,
    pub skipped: usize,
    pub blocked: Vec<String>,
    pub unreachable: Vec<String>,
    pub converged: bool,
    pub error: Option<String>,
    /// Per action: kind, operation, outcome (`done`, `failed`, `skipped`).
    pub outcomes: Vec<(String, String, &'static str)>,
    /// Time to observe and plan.
    pub observe_seconds: f64,
    /// Per object with an action that ran: the action's id and its error
    /// when it failed (the requeue's input).
    pub by_object: Vec<(ObjectKey, String, Option<String>)>,
    /// Actions left out because their object waits for its retry (or
    /// depends on one that does).
    pub deferred: Vec<String>,
}

/// Plan, and apply when there is something to do: the reconcile pass of
/// `apply`, unattended.
fn one_pass(
    r: &Reconciler,
    desired: &DesiredState,
    scope: &crate::plan::Scope,
    inventory: &mut Inventory,
    revision: &str,
    opts: &ApplyOptions,
    waiting: &std::collections::BTreeSet<ObjectKey>,
) -> PassResult {
    let snapshot = inventory.clone();
    let t = Target {
        desired,
        inventory: &snapshot,
        revision,
        // Taking over what someone else made is an operator's decision
        // (`apply --adopt`), never the controller's.
        adopt: false,
        scope,
    };
    let started = std::time::Instant::now();
    let mut planned = r.plan(&t);
    let deferred = requeue::defer(&mut planned.plan, waiting);
    if !deferred.is_empty() {
        tracing::debug!(?deferred, "waiting for their retry");
    }
    let mut out = PassResult {
        deferred,
        observe_seconds: started.elapsed().as_secs_f64(),
        actions: planned.plan.actions.len(),
        unreachable: planned
            .observed
            .unreachable
            .iter()
            .map(|(h, e)| format!("{}: {e}", h.label()))
            .collect(),
        ..PassResult::default()
    };
    let blocked = |p: &crate::plan::Plan| -> Vec<String> {
        p.blocked
            .iter()
            .map(|b| format!("{} {}: {}", b.kind.as_str(), b.name, b.reason))
            .collect()
    };
    if let Some(r) = &planned.plan.refusal {
        // A prune guard: nothing applied; the operator decides.
        out.blocked = blocked(&planned.plan);
        out.error = Some(r.message.clone());
        return out;
    }
    if planned.plan.is_empty() {
        out.blocked = blocked(&planned.plan);
        out.converged =
            planned.plan.is_complete() && out.unreachable.is_empty() && out.deferred.is_empty();
        return out;
    }
    let outcomes = std::sync::Mutex::new(Vec::new());
    let by_object = std::sync::Mutex::new(Vec::new());
    let on_done = |a: &crate::plan::Action, o: &crate::apply::Outcome| {
        let outcome = match &o.status {
            Status::Done => {
                tracing::info!(action = %a.id, ms = o.millis, "done");
                "done"
            }
            Status::Failed { error } => {
                tracing::warn!(action = %a.id, %error, "failed");
                "failed"
            }
            Status::Skipped { because } => {
                tracing::info!(action = %a.id, %because, "skipped");
                "skipped"
            }
        };
        let error = match &o.status {
            Status::Failed { error } => Some(error.clone()),
            Status::Done => None,
            // Not tried: says nothing about the object.
            Status::Skipped { .. } => return push_outcome(&outcomes, a, outcome),
        };
        by_object
            .lock()
            .expect("by object")
            .push((ObjectKey::of(a), a.id.clone(), error));
        push_outcome(&outcomes, a, outcome)
    };
    let applied = r.apply(&t, inventory, &planned, opts, &on_done);
    out.outcomes = outcomes.into_inner().expect("outcomes");
    out.by_object = by_object.into_inner().expect("by object");
    match applied {
        Ok(done) => {
            for o in &done.outcomes {
                match &o.status {
                    Status::Failed { error } => out.failed.push((o.id.clone(), error.clone())),
                    Status::Skipped { .. } => out.skipped += 1,
                    Status::Done => {}
                }
            }
            if let Some(res) = &done.residual {
                out.blocked = blocked(res);
            }
            out.converged = done.converged && out.deferred.is_empty();
        }
        Err(e) => out.error = Some(e.to_string()),
    }
    out
}

/// An action's kind, operation and outcome, for the metrics.
fn push_outcome(
    outcomes: &std::sync::Mutex<Vec<(String, String, &'static str)>>,
    a: &crate::plan::Action,
    outcome: &'static str,
) {
    outcomes.lock().expect("outcomes").push((
        a.kind.as_str().to_ascii_lowercase(),
        a.operation.as_str().to_string(),
        outcome,
    ));
}

fn log_load(l: &Loaded, m: &Manifests) {
    match l {
        Loaded::Fresh => tracing::info!("manifests loaded"),
        Loaded::Partial { kept } => tracing::warn!(
            errors = m.errors().len(),
            kept = ?kept,
            "invalid manifest files keep their last good content"
        ),
        Loaded::KeptAll => tracing::warn!(
            errors = m.errors().len(),
            "manifests invalid: the last good state stays"
        ),
        Loaded::Nothing => tracing::warn!(
            errors = m.errors().len(),
            "manifests invalid and never loaded: nothing to reconcile"
        ),
    }
    for d in m.errors() {
        tracing::warn!("{d}");
    }
}

//! Apply: execute a plan's actions along their dependencies, in parallel.
//!
//! Nothing is decided here: each action's payload says exactly which
//! backend calls to make. Independent actions run concurrently, at most
//! `parallel` at a time per host; a failed action fails only the actions
//! that depend on it (transitively), which are skipped, while everything
//! else goes on. The report lists what was done, what failed and what was
//! skipped.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::backend::Backend;
use crate::backend::{Created, Result, SavedSnapshot};
use crate::model::HostName;
use crate::plan::{Action, Plan, Step};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "status")]
pub enum Status {
    Done,
    Failed {
        error: String,
    },
    /// `because`: the failed action that made this one impossible (the
    /// root cause, also when the direct dependency was skipped itself).
    Skipped {
        because: String,
    },
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Outcome {
    pub id: String,
    #[serde(flatten)]
    pub status: Status,
    /// Whether the action changed the host: true when done, and for a
    /// failed action of several calls whose first calls succeeded (a
    /// restart that shut the guest down and could not start it again).
    pub changed: bool,
    /// The identity libvirt gave the object the action defined or created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<crate::backend::Created>,
    pub millis: u64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ApplyReport {
    /// In plan order.
    pub outcomes: Vec<Outcome>,
}

impl ApplyReport {
    pub fn done(&self) -> impl Iterator<Item = &Outcome> {
        self.outcomes.iter().filter(|o| o.status == Status::Done)
    }
    pub fn failed(&self) -> impl Iterator<Item = &Outcome> {
        self.outcomes
            .iter()
            .filter(|o| matches!(o.status, Status::Failed { .. }))
    }
    pub fn skipped(&self) -> impl Iterator<Item = &Outcome> {
        self.outcomes
            .iter()
            .filter(|o| matches!(o.status, Status::Skipped { .. }))
    }
    /// Something on a host changed (an action done, or a failed one that
    /// got part of the way).
    pub fn changed_anything(&self) -> bool {
        self.outcomes.iter().any(|o| o.changed)
    }
}

/// What one action hands to a later one of the same apply: the snapshot
/// metadata a `save-snapshots` read, for the `restore-snapshots` of the
/// same domain after its re-create (keyed by host and domain).
#[derive(Default)]
pub struct Carry(Mutex<BTreeMap<(HostName, String), Vec<SavedSnapshot>>>);

/// Run one action's backend calls; `wrote` tells whether any of them
/// changed the host, also when a later one failed. Returns the identity
/// of what a define or create made.
pub fn execute_action(
    b: &dyn Backend,
    a: &Action,
    carry: &Carry,
    wrote: &mut bool,
) -> Result<Option<Created>> {
    let n = a.name.as_str();
    let made = |r: Result<Created>| r.map(Some);
    let unit = |r: Result<()>| r.map(|()| None);
    // A multi-call step has changed something once one call succeeded.
    let mut step = |r: Result<()>| {
        if r.is_ok() {
            *wrote = true;
        }
        r
    };
    match &a.step {
        Step::DefineDomain { xml } => made(b.define_domain(xml)),
        Step::CreateDomain { xml, paused } => made(b.create_domain(xml, *paused)),
        Step::UndefineDomain { flags } => unit(b.undefine_domain(n, *flags)),
        Step::MigrateDomain { spec, .. } => unit(b.migrate_domain(n, spec)),
        Step::StartDomain { paused } => unit(b.start_domain(n, *paused)),
        Step::ShutdownDomain { timeout_ms } => {
            let r = b.shutdown_domain(n, Duration::from_millis(*timeout_ms));
            // Failing after the guest was asked to stop (a lost connection,
            // a cancelled wait) may have changed it: only "no such domain"
            // surely did not.
            if r.as_ref().is_err_and(|e| !e.is_not_found()) {
                *wrote = true;
            }
            unit(r)
        }
        Step::DestroyDomain => unit(b.destroy_domain(n)),
        Step::SuspendDomain => unit(b.suspend_domain(n)),
        Step::ResumeDomain => unit(b.resume_domain(n)),
        Step::RestartDomain { timeout_ms, paused } => {
            step(b.shutdown_domain(n, Duration::from_millis(*timeout_ms)))?;
            unit(step(b.start_domain(n, *paused)))
        }
        Step::SetDomainAutostart { on } => unit(b.set_domain_autostart(n, *on)),
        Step::UpdateLive {
            memory_kib,
            vcpus,
            attach,
            detach,
            marker,
        } => {
            if let Some(v) = vcpus {
                step(b.set_live_vcpus(n, *v))?;
            }
            if let Some(m) = memory_kib {
                step(b.set_live_memory(n, m.0))?;
            }
            if let Some(x) = marker {
                step(b.set_live_marker(n, x))?;
            }
            for x in detach {
                step(b.detach_device(n, x))?;
            }
            for x in attach {
                step(b.attach_device(n, x))?;
            }
            Ok(None)
        }
        Step::DefineNetwork { xml } => made(b.define_network(xml)),
        Step::StartNetwork => unit(b.start_network(n)),
        Step::DestroyNetwork => unit(b.destroy_network(n)),
        Step::UndefineNetwork => unit(b.undefine_network(n)),
        Step::RestartNetwork => {
            step(b.destroy_network(n))?;
            unit(step(b.start_network(n)))
        }
        Step::SetNetworkAutostart { on } => unit(b.set_network_autostart(n, *on)),
        Step::UpdateDhcpHosts { delete, add } => {
            for e in delete {
                step(b.update_network_dhcp_host(n, &e.xml, false, e.live, e.config))?;
            }
            for e in add {
                step(b.update_network_dhcp_host(n, &e.xml, true, e.live, e.config))?;
            }
            Ok(None)
        }
        Step::DefinePool { xml } => made(b.define_pool(xml)),
        Step::BuildPool => unit(b.build_pool(n)),
        Step::StartPool => unit(b.start_pool(n)),
        Step::DestroyPool => unit(b.destroy_pool(n)),
        Step::UndefinePool => unit(b.undefine_pool(n)),
        Step::SetPoolAutostart { on } => unit(b.set_pool_autostart(n, *on)),
        Step::CreateVolume {
            pool,
            xml,
            clone_from,
        } => made(b.create_volume(
            pool,
            xml,
            clone_from.as_ref().map(|(p, v)| (p.as_str(), v.as_str())),
        )),
        Step::UploadVolume {
            pool,
            source,
            capacity,
        } => made(crate::image::upload::create_from_image(
            b,
            pool,
            n.rsplit('/').next().unwrap_or(n),
            source,
            *capacity,
        )),
        Step::UploadSeed { pool, files } => made(crate::image::upload::create_seed(
            b,
            pool,
            n.rsplit('/').next().unwrap_or(n),
            files,
        )),
        Step::CreateSnapshot { domain, xml } => unit(b.create_snapshot(domain, xml)),
        Step::UpdateSnapshot { domain, xml } => unit(b.redefine_snapshot(domain, xml)),
        Step::DeleteSnapshot { domain, name } => unit(b.delete_snapshot(domain, name)),
        Step::SaveSnapshots => {
            let saved = b.save_snapshots(n)?;
            let mut c = carry.0.lock().expect("carry");
            c.insert((a.host.clone(), n.to_string()), saved);
            Ok(None)
        }
        Step::RestoreSnapshots => {
            let saved = {
                let mut c = carry.0.lock().expect("carry");
                c.remove(&(a.host.clone(), n.to_string()))
                    .unwrap_or_default()
            };
            for s in &saved {
                step(b.restore_snapshot(n, s))?;
            }
            Ok(None)
        }
        Step::AdoptDomain { xml } => made(b.define_domain(xml)),
        Step::AdoptTransientDomain { marker } => unit(b.set_live_marker(n, marker)),
        Step::AdoptNetwork { xml } => made(b.define_network(xml)),
        // Ownership of pools and volumes is the inventory's, which the
        // reconcile pass writes from the plan: nothing to call.
        Step::AdoptPool { .. } | Step::AdoptVolume { .. } => Ok(None),
        Step::DeleteVolume { pool } => {
            unit(b.delete_volume(pool, n.rsplit('/').next().unwrap_or(n)))
        }
        Step::ResizeVolume {
            pool,
            capacity,
            in_use_by,
        } => match in_use_by {
            Some((domain, target)) => unit(b.resize_disk(domain, target, *capacity)),
            None => unit(b.resize_volume(pool, n.rsplit('/').next().unwrap_or(n), *capacity)),
        },
    }
}

struct Sched {
    /// Unfinished dependencies per action.
    waiting: Vec<usize>,
    /// Actions a worker took (running or finished).
    started: Vec<bool>,
    /// A stop was seen and every action not started was skipped.
    stopped: bool,
    ready: VecDeque<usize>,
    running_per_host: BTreeMap<HostName, usize>,
    outcomes: Vec<Option<Outcome>>,
    remaining: usize,
}

/// Why actions not started are skipped once `stop` is set.
pub const STOPPED: &str = "virtsync was asked to stop";

/// Execute `plan` against the backends of its hosts. `on_done` is called as
/// each action finishes, from worker threads. Once `stop` is set, no action
/// starts any more (they are skipped, because [`STOPPED`]); the ones
/// running finish.
pub fn execute(
    plan: &Plan,
    backends: &BTreeMap<HostName, Arc<dyn Backend>>,
    parallel: usize,
    stop: Option<&AtomicBool>,
    on_done: &(dyn Fn(&Action, &Outcome) + Sync),
) -> ApplyReport {
    execute_observed(plan, backends, parallel, stop, &|_| {}, on_done)
}

/// [`execute`], also calling `on_start` as a worker takes each action (the
/// progress display names the actions in flight).
pub fn execute_observed(
    plan: &Plan,
    backends: &BTreeMap<HostName, Arc<dyn Backend>>,
    parallel: usize,
    stop: Option<&AtomicBool>,
    on_start: &(dyn Fn(&Action) + Sync),
    on_done: &(dyn Fn(&Action, &Outcome) + Sync),
) -> ApplyReport {
    let n = plan.actions.len();
    let index: BTreeMap<&str, usize> = plan
        .actions
        .iter()
        .enumerate()
        .map(|(i, a)| (a.id.as_str(), i))
        .collect();
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); n];
    // Actions that only wait for another to end, whatever its outcome.
    let mut followers: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut waiting = vec![0usize; n];
    for (i, a) in plan.actions.iter().enumerate() {
        for d in &a.depends_on {
            if let Some(&j) = index.get(d.as_str()) {
                dependents[j].push(i);
                waiting[i] += 1;
            }
        }
        for d in &a.after {
            if let Some(&j) = index.get(d.as_str()) {
                followers[j].push(i);
                waiting[i] += 1;
            }
        }
    }
    let ready: VecDeque<usize> = (0..n).filter(|i| waiting[*i] == 0).collect();
    let sched = Mutex::new(Sched {
        waiting,
        started: vec![false; n],
        stopped: false,
        ready,
        running_per_host: BTreeMap::new(),
        outcomes: vec![None; n],
        remaining: n,
    });
    let cv = Condvar::new();
    let carry = Carry::default();
    let parallel = parallel.max(1);
    let workers = (parallel * backends.len().max(1)).min(n.max(1));

    fn release(s: &mut Sched, next: &[usize]) {
        for &d in next {
            s.waiting[d] -= 1;
            if s.waiting[d] == 0 && s.outcomes[d].is_none() {
                s.ready.push_back(d);
            }
        }
    }

    // Skip every action that depends (transitively) on `failed`; each
    // names `failed` as the reason, not the skipped action in between.
    fn skip_dependents(
        s: &mut Sched,
        dependents: &[Vec<usize>],
        plan: &Plan,
        failed: usize,
        out: &mut Vec<usize>,
    ) {
        let mut stack = vec![failed];
        while let Some(i) = stack.pop() {
            for &d in &dependents[i] {
                if s.outcomes[d].is_none() {
                    s.outcomes[d] = Some(Outcome {
                        id: plan.actions[d].id.clone(),
                        status: Status::Skipped {
                            because: plan.actions[failed].id.clone(),
                        },
                        changed: false,
                        created: None,
                        millis: 0,
                    });
                    s.remaining -= 1;
                    out.push(d);
                    stack.push(d);
                }
            }
        }
    }

    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let i = {
                    let mut s = sched.lock().expect("scheduler");
                    loop {
                        if !s.stopped && stop.is_some_and(|f| f.load(Ordering::SeqCst)) {
                            s.stopped = true;
                            s.ready.clear();
                            for j in 0..n {
                                if s.outcomes[j].is_none() && !s.started[j] {
                                    let o = Outcome {
                                        id: plan.actions[j].id.clone(),
                                        status: Status::Skipped {
                                            because: STOPPED.into(),
                                        },
                                        changed: false,
                                        created: None,
                                        millis: 0,
                                    };
                                    on_done(&plan.actions[j], &o);
                                    s.outcomes[j] = Some(o);
                                    s.remaining -= 1;
                                }
                            }
                            cv.notify_all();
                        }
                        if s.remaining == 0 {
                            return;
                        }
                        let pos = s.ready.iter().position(|&i| {
                            let h = &plan.actions[i].host;
                            s.running_per_host.get(h).copied().unwrap_or(0) < parallel
                        });
                        if let Some(p) = pos {
                            let i = s.ready.remove(p).expect("position is valid");
                            s.started[i] = true;
                            *s.running_per_host
                                .entry(plan.actions[i].host.clone())
                                .or_default() += 1;
                            break i;
                        }
                        s = cv.wait(s).expect("scheduler");
                    }
                };
                let a = &plan.actions[i];
                on_start(a);
                let start = Instant::now();
                let mut wrote = false;
                let result = match backends.get(&a.host) {
                    Some(b) => execute_action(b.as_ref(), a, &carry, &mut wrote),
                    None => Err(crate::backend::BackendError::Connect {
                        uri: a.host.to_string(),
                        message: "no connection to this host".into(),
                    }),
                };
                let outcome = Outcome {
                    id: a.id.clone(),
                    status: match &result {
                        Ok(_) => Status::Done,
                        Err(e) => Status::Failed {
                            error: e.to_string(),
                        },
                    },
                    changed: result.is_ok() || wrote,
                    created: result.as_ref().ok().cloned().flatten(),
                    millis: start.elapsed().as_millis() as u64,
                };
                on_done(a, &outcome);
                let mut skipped = Vec::new();
                {
                    let mut s = sched.lock().expect("scheduler");
                    *s.running_per_host.entry(a.host.clone()).or_default() -= 1;
                    s.outcomes[i] = Some(outcome);
                    s.remaining -= 1;
                    if result.is_ok() {
                        release(&mut s, &dependents[i]);
                    } else {
                        skip_dependents(&mut s, &dependents, plan, i, &mut skipped);
                    }
                    // Whatever the outcome, what only had to wait may go;
                    // so may what waited for the actions just skipped.
                    release(&mut s, &followers[i]);
                    for &k in &skipped {
                        release(&mut s, &followers[k]);
                    }
                    cv.notify_all();
                }
                let s = sched.lock().expect("scheduler");
                for d in skipped {
                    if let Some(o) = &s.outcomes[d] {
                        on_done(&plan.actions[d], o);
                    }
                }
            });
        }
    });
    let s = sched.into_inner().expect("scheduler");
    ApplyReport {
        outcomes: s.outcomes.into_iter().flatten().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::LibvirtHost;
    use crate::plan::{Effect, Summary};

    fn action(name: &str, deps: &[&str], step: Step) -> Action {
        let id = format!(
            "{}/{name}/{}",
            step.kind().as_str().to_ascii_lowercase(),
            step.operation().as_str()
        );
        Action::new(
            id,
            name.into(),
            HostName::DEFAULT,
            Effect::Create,
            vec![],
            deps.iter().map(|d| d.to_string()).collect(),
            step,
        )
    }

    fn plan_of(actions: Vec<Action>) -> Plan {
        Plan {
            format_version: crate::plan::FORMAT_VERSION,
            fingerprint: Default::default(),
            redacted: false,
            actions,
            blocked: vec![],
            unreachable_hosts: vec![],
            notices: vec![],
            refusal: None,
            summary: Summary::default(),
            live_xml_wanted: Default::default(),
        }
    }

    /// Execute `p` on libvirt's test driver.
    fn on_test_driver(p: &Plan, parallel: usize) -> ApplyReport {
        let host = LibvirtHost::open("test:///default").expect("test driver");
        let backends: BTreeMap<HostName, Arc<dyn Backend>> =
            [(HostName::DEFAULT, Arc::new(host) as Arc<dyn Backend>)].into();
        execute(p, &backends, parallel, None, &|_, _| {})
    }

    #[test]
    fn a_failure_skips_its_dependents_transitively_naming_the_root_cause() {
        let vol = "volume/p/v/create-volume";
        let define = "domain/d/define";
        let p = plan_of(vec![
            action(
                "p/v",
                &[],
                Step::CreateVolume {
                    pool: "p".into(),
                    xml: "<volume/>".into(),
                    clone_from: None,
                },
            ),
            action(
                "d",
                &[vol],
                Step::DefineDomain {
                    xml: "<domain/>".into(),
                },
            ),
            action("d", &[define], Step::SetDomainAutostart { on: true }),
            action("test", &[], Step::SetDomainAutostart { on: true }),
        ]);
        // libvirt's test driver: the pool `p` does not exist, so creating
        // the volume fails; its built-in domain `test` takes autostart.
        let report = on_test_driver(&p, 2);
        let status = |id: &str| {
            report
                .outcomes
                .iter()
                .find(|o| o.id == id)
                .map(|o| o.status.clone())
                .unwrap()
        };
        assert!(matches!(status(vol), Status::Failed { .. }));
        let skipped = Status::Skipped {
            because: vol.into(),
        };
        assert_eq!(status(define), skipped);
        assert_eq!(status("domain/d/set-autostart"), skipped);
        assert_eq!(status("domain/test/set-autostart"), Status::Done);
    }

    #[test]
    fn an_action_that_only_runs_after_a_failed_one_still_runs() {
        let vol = "volume/p2/v/create-volume";
        let mut after = action("test", &[], Step::SetDomainAutostart { on: false });
        after.after = vec![vol.into()];
        let p = plan_of(vec![
            action(
                "p2/v",
                &[],
                Step::CreateVolume {
                    pool: "p2".into(),
                    xml: "<volume/>".into(),
                    clone_from: None,
                },
            ),
            after,
        ]);
        let report = on_test_driver(&p, 1);
        assert!(matches!(report.outcomes[0].status, Status::Failed { .. }));
        assert_eq!(report.outcomes[1].status, Status::Done);
    }

    #[test]
    fn after_a_stop_nothing_starts_and_the_running_action_finishes() {
        // A chain of three: the stop comes while the first one runs.
        let p = plan_of(vec![
            action("test", &[], Step::SuspendDomain),
            action("test", &["domain/test/suspend"], Step::ResumeDomain),
            action(
                "test",
                &["domain/test/resume"],
                Step::SetDomainAutostart { on: true },
            ),
        ]);
        let host = LibvirtHost::open("test:///default").expect("test driver");
        let backends: BTreeMap<HostName, Arc<dyn Backend>> =
            [(HostName::DEFAULT, Arc::new(host) as Arc<dyn Backend>)].into();
        let stop = AtomicBool::new(false);
        let report = execute(&p, &backends, 1, Some(&stop), &|a, _| {
            if a.id == "domain/test/suspend" {
                stop.store(true, Ordering::SeqCst);
            }
        });
        let stopped = Status::Skipped {
            because: STOPPED.into(),
        };
        let status: Vec<&Status> = report.outcomes.iter().map(|o| &o.status).collect();
        assert_eq!(status, [&Status::Done, &stopped, &stopped]);
    }
}

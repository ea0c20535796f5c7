//! The reconcile steps wired together: connect to every host the desired
//! state names, observe them (one thread per host, since libvirt calls
//! block), plan, apply, and record ownership of what apply created.
//! Commands and tests drive these steps; none of them decides anything the
//! planner did not.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use crate::apply::{self, ApplyReport, Outcome};
use crate::backend::{Backend, BackendError, LibvirtHost};
use crate::inventory::Inventory;
use crate::model::*;
use crate::observe::{self, Interest, ObserveError};
use crate::plan::{self, Action, Operation, Plan, PlanErrors, PlanInput};

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Backend(#[from] BackendError),
    #[error(transparent)]
    Observe(#[from] ObserveError),
    #[error(transparent)]
    Plan(#[from] PlanErrors),
}

/// Open connections to the hosts of one desired state.
pub struct Session {
    pub hosts: BTreeMap<HostName, Arc<LibvirtHost>>,
}

impl Session {
    /// Connect to every host the desired state uses: the default URI for
    /// objects without `metadata.host`, the Host manifests' URIs otherwise.
    pub fn connect(desired: &DesiredState, default_uri: &str) -> Result<Session, EngineError> {
        let mut names: Vec<HostName> = Vec::new();
        names.extend(desired.domains.keys().map(|k| k.host.clone()));
        names.extend(desired.networks.keys().map(|k| k.host.clone()));
        names.extend(desired.pools.keys().map(|k| k.host.clone()));
        names.extend(desired.volumes.keys().map(|k| k.host.clone()));
        names.extend(desired.snapshots.keys().map(|k| k.host.clone()));
        names.sort();
        names.dedup();
        let mut hosts = BTreeMap::new();
        for h in names {
            let uri = match &h {
                None => default_uri.to_string(),
                Some(name) => desired
                    .hosts
                    .get(name)
                    .map(|x| x.uri.clone())
                    .unwrap_or_default(),
            };
            hosts.insert(h, Arc::new(LibvirtHost::open(&uri)?));
        }
        Ok(Session { hosts })
    }

    /// Observe every host, in parallel.
    pub fn observe(&self, desired: &DesiredState) -> Result<ObservedState, EngineError> {
        let results: Vec<(HostName, Result<ObservedHost, ObserveError>)> =
            std::thread::scope(|s| {
                let handles: Vec<_> = self
                    .hosts
                    .iter()
                    .map(|(name, host)| {
                        let want = Interest::of(desired, name);
                        (
                            name.clone(),
                            s.spawn(move || observe::observe_host(host, &want)),
                        )
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|(n, h)| (n, h.join().expect("observer thread panicked")))
                    .collect()
            });
        let mut out = ObservedState::default();
        for (name, r) in results {
            out.hosts.insert(name, r?);
        }
        Ok(out)
    }

    /// Backends by the host label actions carry (`""` for the default host).
    pub fn backends(&self) -> BTreeMap<String, Arc<dyn Backend>> {
        self.hosts
            .iter()
            .map(|(k, v)| (plan::host_label(k), v.clone() as Arc<dyn Backend>))
            .collect()
    }

    /// libvirt calls made so far, by kind, summed over hosts.
    pub fn calls(&self) -> BTreeMap<&'static str, u64> {
        let mut out = BTreeMap::new();
        for h in self.hosts.values() {
            for (k, v) in h.calls() {
                *out.entry(k).or_default() += v;
            }
        }
        out
    }

    pub fn total_calls(&self) -> u64 {
        self.hosts.values().map(|h| h.total_calls()).sum()
    }
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

/// Observe and plan.
pub fn plan(
    session: &Session,
    desired: &DesiredState,
    inventory: &Inventory,
    revision: &str,
) -> Result<(ObservedState, Plan), EngineError> {
    let mut observed = session.observe(desired)?;
    let mut p = plan::plan(&PlanInput {
        desired,
        observed: &observed,
        inventory,
        revision,
    })?;
    // Live actions address the running guest: read the live XML the
    // planner asked for, then plan again with it.
    if !p.live_xml_wanted.is_empty() {
        for (host, name) in &p.live_xml_wanted {
            let (Some(conn), Some(obs)) = (
                session.hosts.get(host),
                observed
                    .hosts
                    .get_mut(host)
                    .and_then(|h| h.domains.get_mut(name)),
            ) else {
                continue;
            };
            obs.live_xml = Some(conn.domain_live_xml(name)?);
        }
        p = plan::plan(&PlanInput {
            desired,
            observed: &observed,
            inventory,
            revision,
        })?;
    }
    Ok((observed, p))
}

/// Execute `p` on the session's hosts; `on_done` sees each outcome as it
/// happens. Ownership of what was created is recorded by
/// [`record_created`] once the hosts have been re-observed.
pub fn apply(
    session: &Session,
    p: &Plan,
    parallel: usize,
    on_done: &(dyn Fn(&Action, &Outcome) + Sync),
) -> ApplyReport {
    apply::execute(p, &session.backends(), parallel, on_done)
}

/// Record ownership of the pools and volumes `report` shows created; their
/// UUIDs come from `after`, the observation made after apply.
pub fn record_created(
    inventory: &mut Inventory,
    p: &Plan,
    report: &ApplyReport,
    after: &ObservedState,
    desired: &DesiredState,
) {
    let done: std::collections::BTreeSet<&str> = report.done().map(|o| o.id.as_str()).collect();
    for a in &p.actions {
        if !done.contains(a.id.as_str()) {
            continue;
        }
        let host: HostName = if a.host.is_empty() {
            None
        } else {
            Some(a.host.clone())
        };
        let Some(obs) = after.hosts.get(&host) else {
            continue;
        };
        match (a.kind, a.operation) {
            (Kind::StoragePool, Operation::Define) => {
                if let Some(pool) = obs.pools.get(&a.name) {
                    inventory.record_pool(&obs.uri, &a.name, &pool.uuid);
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
                        inventory.record_volume(&obs.uri, pool, name);
                    }
                }
            }
            _ => {}
        }
    }
}

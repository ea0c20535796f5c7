//! Per-object retry after failures, like kube-runtime's requeue with its
//! error policy: an object whose action failed is left alone until its own
//! backoff (exponential, with jitter) has passed, whatever else triggers
//! passes meanwhile — a libvirt event caused by the failing attempt itself,
//! another object's edit. The others are never held up: they are planned
//! and applied by every pass as before.
//!
//! A pass plans everything (level-triggered), then drops the actions of
//! deferred objects and of whatever depends on them ([`defer`]); apply's
//! re-plan still lists them, so the pass reports "not converged". An edit
//! of the manifests clears every backoff: the operator's fix is tried at
//! once.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use backon::{BackoffBuilder, ExponentialBuilder};
use serde::{Deserialize, Serialize};

use crate::model::{HostName, Kind};
use crate::plan::{Action, Plan};

/// One object of one host: what a backoff is kept for.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectKey {
    pub host: HostName,
    pub kind: Kind,
    pub name: String,
}

impl ObjectKey {
    pub fn of(a: &Action) -> ObjectKey {
        ObjectKey {
            host: a.host.clone(),
            kind: a.kind,
            name: a.name.clone(),
        }
    }

    fn label(&self) -> String {
        let obj = format!("{} {}", self.kind.as_str().to_ascii_lowercase(), self.name);
        if self.host.is_default() {
            obj
        } else {
            format!("{obj} on {}", self.host.label())
        }
    }
}

struct Entry {
    backoff: backon::ExponentialBackoff,
    not_before: Instant,
    failures: u32,
    /// The failed action's id and error, kept while the object waits (the
    /// status file goes on showing why).
    last: (String, String),
}

/// An object waiting for its retry, as the status file shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Deferred {
    pub object: String,
    pub failures: u32,
    pub retry_in_ms: u64,
    pub action: String,
    pub error: String,
}

/// The per-object backoffs of one controller.
pub struct Requeue {
    builder: ExponentialBuilder,
    entries: BTreeMap<ObjectKey, Entry>,
}

impl Requeue {
    pub fn new(min: Duration, max: Duration) -> Requeue {
        Requeue {
            builder: super::queue::exponential(min, max),
            entries: BTreeMap::new(),
        }
    }

    /// Objects whose retry is not due at `now`.
    pub fn waiting(&self, now: Instant) -> BTreeSet<ObjectKey> {
        self.entries
            .iter()
            .filter(|(_, e)| e.not_before > now)
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// An action of `key` failed at `now`: its next try waits longer.
    pub fn failed(&mut self, key: ObjectKey, action: &str, error: &str, now: Instant) -> Duration {
        let builder = self.builder;
        let e = self.entries.entry(key).or_insert_with(|| Entry {
            backoff: builder.build(),
            not_before: now,
            failures: 0,
            last: Default::default(),
        });
        let wait = e.backoff.next().unwrap_or(Duration::from_secs(300));
        e.failures += 1;
        e.not_before = now + wait;
        e.last = (action.to_string(), error.to_string());
        wait
    }

    /// An action of `key` succeeded: its next failure starts from the
    /// minimum again.
    pub fn succeeded(&mut self, key: &ObjectKey) {
        self.entries.remove(key);
    }

    /// The manifests changed: every object is tried at once.
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// When the next waiting object is due.
    pub fn next_due(&self) -> Option<Instant> {
        self.entries.values().map(|e| e.not_before).min()
    }

    /// The objects waiting at `now`, for the status file.
    pub fn report(&self, now: Instant) -> Vec<Deferred> {
        self.entries
            .iter()
            .map(|(k, e)| Deferred {
                object: k.label(),
                failures: e.failures,
                retry_in_ms: e.not_before.saturating_duration_since(now).as_millis() as u64,
                action: e.last.0.clone(),
                error: e.last.1.clone(),
            })
            .collect()
    }
}

/// Drop from `plan` the actions of `waiting` objects and every action that
/// depends on one of them (it would only be skipped); returns the ids
/// dropped.
pub fn defer(plan: &mut Plan, waiting: &BTreeSet<ObjectKey>) -> Vec<String> {
    if waiting.is_empty() {
        return Vec::new();
    }
    let ids = plan
        .actions
        .iter()
        .filter(|a| waiting.contains(&ObjectKey::of(a)))
        .map(|a| a.id.clone())
        .collect();
    crate::plan::drop_actions(&mut plan.actions, ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str) -> ObjectKey {
        ObjectKey {
            host: HostName::DEFAULT,
            kind: Kind::Domain,
            name: name.into(),
        }
    }

    #[test]
    fn each_object_backs_off_on_its_own_and_an_edit_clears_all() {
        let (min, max) = (Duration::from_millis(100), Duration::from_secs(1));
        let mut q = Requeue::new(min, max);
        let t0 = Instant::now();
        let w1 = q.failed(key("a"), "domain/a/define", "boom", t0);
        let w2 = q.failed(key("a"), "domain/a/define", "boom", t0 + w1);
        assert!(w1 >= min && w1 < 2 * min, "{w1:?}");
        assert!(w2 >= 2 * min, "the second wait doubles: {w2:?}");
        q.failed(key("b"), "domain/b/define", "boom", t0);
        // b's first backoff is independent of a's second.
        let waiting = q.waiting(t0 + w1 + Duration::from_millis(1));
        assert!(waiting.contains(&key("a")), "{waiting:?}");
        assert_eq!(q.waiting(t0 + w1 + w2 + 2 * max).len(), 0);
        let r = q.report(t0);
        assert_eq!(r[0].object, "domain a");
        assert_eq!(r[0].failures, 2);
        q.succeeded(&key("a"));
        assert_eq!(q.report(t0).len(), 1);
        q.clear();
        assert!(q.next_due().is_none());
    }
}

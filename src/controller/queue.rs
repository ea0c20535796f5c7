//! What the controller has been asked to do, coalesced, and when to try
//! again after a pass that did not converge.
//!
//! Triggers are level-triggered hints, like kube-runtime's: whatever came,
//! the next pass observes and plans everything afresh, so a hundred file
//! events during one pass make one more pass, not a hundred. Only whether
//! the manifests must be read again is remembered separately.

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};

use crate::model::HostName;

/// Why a pass is wanted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    /// Manifest files changed (or the watcher lost track: read all again).
    Manifests,
    /// Something happened on a host (a libvirt event, a reconnect).
    Host(HostName),
    /// The periodic full resync.
    Resync,
    /// The retry of a pass that did not converge.
    Retry,
}

/// The triggers received since the last pass started.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Pending {
    pub reload: bool,
    pub pass: bool,
    /// Why, for the log (deduplicated, in arrival order).
    pub reasons: Vec<Trigger>,
}

impl Pending {
    pub fn add(&mut self, t: Trigger) {
        if t == Trigger::Manifests {
            self.reload = true;
        }
        self.pass = true;
        if !self.reasons.contains(&t) {
            self.reasons.push(t);
        }
    }

    /// The work to do now, leaving nothing pending.
    pub fn take(&mut self) -> Pending {
        std::mem::take(self)
    }
}

/// Exponential backoff with jitter between passes that do not converge
/// (a failing action, a blocked object, a host that cannot be reached),
/// back to the start after one that does. A failing object never holds up
/// the others: every pass applies all it can; only the retry waits.
pub struct Backoff {
    builder: ExponentialBuilder,
    current: Option<backon::ExponentialBackoff>,
}

/// Waits doubling from `min` up to `max`, each with up to as much again of
/// jitter, for ever: the controller's passes and objects share the shape.
pub(super) fn exponential(min: Duration, max: Duration) -> ExponentialBuilder {
    ExponentialBuilder::default()
        .with_min_delay(min)
        .with_max_delay(max)
        .with_factor(2.0)
        .with_jitter()
        .without_max_times()
}

impl Backoff {
    pub fn new(min: Duration, max: Duration) -> Backoff {
        Backoff {
            builder: exponential(min, max),
            current: None,
        }
    }

    /// The wait before the next retry.
    pub fn next_delay(&mut self) -> Duration {
        let builder = self.builder;
        let it = self.current.get_or_insert_with(|| builder.build());
        it.next().unwrap_or(Duration::from_secs(300))
    }

    /// A pass converged: the next failure starts from the minimum again.
    pub fn reset(&mut self) {
        self.current = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn many_triggers_make_one_pass_and_remember_a_reload() {
        let mut p = Pending::default();
        for _ in 0..100 {
            p.add(Trigger::Host(HostName::DEFAULT));
        }
        p.add(Trigger::Manifests);
        p.add(Trigger::Host(HostName::DEFAULT));
        let work = p.take();
        assert!(work.pass && work.reload);
        assert_eq!(
            work.reasons,
            [Trigger::Host(HostName::DEFAULT), Trigger::Manifests]
        );
        assert_eq!(p, Pending::default());
    }

    #[test]
    fn backoff_grows_with_jitter_up_to_its_cap_and_resets() {
        let (min, max) = (Duration::from_millis(100), Duration::from_secs(2));
        let mut b = Backoff::new(min, max);
        let delays: Vec<Duration> = (0..8).map(|_| b.next_delay()).collect();
        // Jitter adds up to one more delay: each wait is in [d, 2d), d
        // doubling from the minimum, never beyond twice the cap.
        assert!(delays[0] >= min && delays[0] < 2 * min, "{delays:?}");
        assert!(delays[3] >= 8 * min, "{delays:?}");
        assert!(delays.iter().all(|d| *d <= 2 * max), "{delays:?}");
        b.reset();
        assert!(b.next_delay() < 2 * min);
    }
}

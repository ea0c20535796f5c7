//! The controller's logic — reload on a manifest edit, keep the last good
//! manifests, retry with backoff, a pass on a host event, stop mid-apply —
//! against libvirt's test driver behind the fault injector, in
//! milliseconds. (End-to-end behaviour on a real daemon: controller_daemon.)

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{halted_domain, manifest_dir};
use tokio::sync::mpsc;
use virtsync::backend::fault::{Fault, FaultyHost};
use virtsync::backend::{code, Backend, HostRead, LibvirtHost};
use virtsync::controller::queue::Trigger;
use virtsync::controller::{Connector, Controller, Handle, PassReport, RunConfig};
use virtsync::model::{DesiredState, HostName};
use virtsync::reconcile::{HostConn, Reconciler};

const URI: &str = "test:///default";

/// The test driver behind a fault injector, shared by every connection
/// the controller makes (the test driver's state lives per connection).
struct Fake {
    host: Arc<FaultyHost<LibvirtHost>>,
    connects: AtomicUsize,
}

impl Connector for Fake {
    fn hosts(&self, _: &DesiredState) -> BTreeMap<HostName, String> {
        BTreeMap::from([(HostName::DEFAULT, URI.to_string())])
    }
    fn connect(&self, _: &DesiredState) -> Reconciler {
        self.connects.fetch_add(1, Ordering::SeqCst);
        Reconciler::with_hosts(BTreeMap::from([(
            HostName::DEFAULT,
            (URI.to_string(), HostConn::custom(self.host.clone())),
        )]))
    }
}

struct Running {
    fake: Arc<Fake>,
    handle: Handle,
    reports: mpsc::UnboundedReceiver<PassReport>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    /// The next pass's report (at most 10 s).
    async fn next(&mut self) -> PassReport {
        tokio::time::timeout(Duration::from_secs(10), self.reports.recv())
            .await
            .expect("a pass within 10 s")
            .expect("controller running")
    }

    /// Reports until one converges.
    async fn converged(&mut self) -> PassReport {
        loop {
            let r = self.next().await;
            if r.converged {
                return r;
            }
        }
    }

    fn memory_kib(&self, domain: &str) -> String {
        let xml = self.fake.host.inner().domain_xml(domain, false).unwrap();
        let root = virtsync::xml::Element::parse(&xml).unwrap();
        root.child("memory").unwrap().text()
    }
}

fn start(dir: &std::path::Path, faults: Vec<Fault>, parallel: usize) -> Running {
    start_with(dir, faults, parallel, None)
}

fn start_with(
    dir: &std::path::Path,
    faults: Vec<Fault>,
    parallel: usize,
    listen: Option<std::net::SocketAddr>,
) -> Running {
    start_cfg(dir, faults, |cfg| {
        cfg.parallel = parallel;
        cfg.listen = listen;
    })
}

/// A controller over `dir` with test timings, `edit` changing the rest.
fn start_cfg(
    dir: &std::path::Path,
    faults: Vec<Fault>,
    edit: impl FnOnce(&mut RunConfig),
) -> Running {
    let fake = Arc::new(Fake {
        host: Arc::new(FaultyHost::new(
            LibvirtHost::open(URI).expect("test driver"),
            faults,
        )),
        connects: AtomicUsize::new(0),
    });
    let mut cfg = RunConfig::new(dir.to_path_buf());
    cfg.debounce = Duration::from_millis(20);
    cfg.retry_min = Duration::from_millis(50);
    cfg.retry_max = Duration::from_millis(200);
    edit(&mut cfg);
    let (mut c, handle) = Controller::new(cfg, fake.clone());
    let (tx, reports) = mpsc::unbounded_channel();
    c.reports_to(tx);
    let task = tokio::spawn(async move { c.run().await.expect("controller") });
    Running {
        fake,
        handle,
        reports,
        task,
    }
}

fn guest(name: &str, memory: &str) -> String {
    halted_domain(
        name,
        &format!("  memory: {memory}\n  vcpus: 1\n  shutdownTimeout: 1s\n"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_converges_without_another_command() {
    let dir = manifest_dir(&[("g.yaml", &guest("ct-edit", "64MiB"))]);
    let mut c = start(dir.path(), vec![], 4);
    let first = c.converged().await;
    assert!(first.actions > 0, "{first:?}");
    assert_eq!(c.memory_kib("ct-edit"), "65536");

    let written = Instant::now();
    std::fs::write(dir.path().join("g.yaml"), guest("ct-edit", "96MiB")).unwrap();
    let r = c.converged().await;
    assert!(r.reasons.contains(&"manifests".to_string()), "{r:?}");
    assert_eq!(c.memory_kib("ct-edit"), "98304");
    assert!(written.elapsed() < Duration::from_secs(2));
    // Swap and backup files are not manifests: no pass for them.
    std::fs::write(dir.path().join(".g.yaml.swp"), "garbage").unwrap();
    std::fs::write(dir.path().join("g.yaml~"), "garbage").unwrap();
    assert!(
        tokio::time::timeout(Duration::from_millis(300), c.reports.recv())
            .await
            .is_err(),
        "no pass for editor files"
    );
    c.handle.stop();
    c.task.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_file_changes_and_deletes_nothing_until_fixed() {
    let dir = manifest_dir(&[
        ("a.yaml", &guest("ct-keep-a", "64MiB")),
        ("b.yaml", &guest("ct-keep-b", "64MiB")),
    ]);
    let mut c = start(dir.path(), vec![], 4);
    c.converged().await;

    // a.yaml breaks while b.yaml changes: b converges, a is left alone and
    // its error is reported.
    std::fs::write(
        dir.path().join("a.yaml"),
        "kind: Domain\nmetadata: {name: ct-keep-a\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("b.yaml"), guest("ct-keep-b", "80MiB")).unwrap();
    // The two writes may reach two passes: wait for the one that read b.
    let r = loop {
        let r = c.converged().await;
        if c.memory_kib("ct-keep-b") == "81920" {
            break r;
        }
    };
    assert!(!r.manifest_errors.is_empty(), "{r:?}");
    assert!(r.manifest_errors[0].contains("a.yaml"), "{r:?}");
    assert!(r
        .manifests
        .as_deref()
        .unwrap_or_default()
        .contains("a.yaml"));
    assert_eq!(c.memory_kib("ct-keep-a"), "65536");
    assert_eq!(c.memory_kib("ct-keep-b"), "81920");

    // Fixed: its change goes through, the error is gone.
    std::fs::write(dir.path().join("a.yaml"), guest("ct-keep-a", "72MiB")).unwrap();
    let r = loop {
        let r = c.converged().await;
        if r.manifest_errors.is_empty() {
            break r;
        }
    };
    assert_eq!(r.manifests.as_deref(), Some("loaded"));
    assert_eq!(c.memory_kib("ct-keep-a"), "73728");
    c.handle.stop();
    c.task.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_object_is_retried_with_backoff_and_blocks_no_other() {
    let dir = manifest_dir(&[
        ("f.yaml", &guest("ct-fail", "64MiB")),
        ("g.yaml", &guest("ct-fine", "64MiB")),
    ]);
    let mut c = start(
        dir.path(),
        vec![Fault {
            times: Some(2),
            ..Fault::fail("define_domain", Some("ct-fail"), code::OPERATION_FAILED)
        }],
        4,
    );
    let first = c.next().await;
    assert!(!first.converged);
    assert_eq!(first.failed.len(), 1, "{first:?}");
    assert!(first.failed[0].0.contains("ct-fail"), "{first:?}");
    // The other domain did not wait.
    assert_eq!(c.memory_kib("ct-fine"), "65536");
    let second = c.next().await;
    assert_eq!(second.reasons, ["retry"], "{second:?}");
    assert!(!second.converged);
    let third = c.next().await;
    assert_eq!(third.reasons, ["retry"], "{third:?}");
    assert!(third.converged, "{third:?}");
    assert_eq!(c.memory_kib("ct-fail"), "65536");
    c.handle.stop();
    c.task.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_object_waits_for_its_own_retry_whatever_else_triggers() {
    let net = "apiVersion: virtsync.io/v1alpha1\nkind: Network\nmetadata: {name: ct-wnet}\n\
               spec:\n  forward: {mode: nat}\n  ipv4: {address: 10.231.0.1, prefix: 24}\n";
    let on_net = halted_domain(
        "ct-wdom",
        "  memory: 64MiB\n  vcpus: 1\n  interfaces:\n    - network: ct-wnet\n",
    );
    let dir = manifest_dir(&[
        ("n.yaml", net),
        ("d.yaml", &on_net),
        ("g.yaml", &guest("ct-wfree", "64MiB")),
    ]);
    // The network cannot be defined (until the fault is lifted); its
    // retries wait seconds, far longer than the triggers below.
    let mut c = start_cfg(
        dir.path(),
        vec![Fault::fail(
            "define_network",
            Some("ct-wnet"),
            code::OPERATION_FAILED,
        )],
        |cfg| {
            cfg.retry_min = Duration::from_secs(3);
            cfg.retry_max = Duration::from_secs(6);
        },
    );
    let tries = |c: &Running| {
        c.fake
            .host
            .log()
            .iter()
            .filter(|l| l.starts_with("define_network ct-wnet"))
            .count()
    };
    let first = c.next().await;
    assert!(!first.converged);
    assert_eq!(tries(&c), 1);
    assert_eq!(c.memory_kib("ct-wfree"), "65536", "the others did not wait");
    // Events (here: sent by hand) make passes; the network is not tried
    // again before its backoff, nor is the domain that needs it.
    for _ in 0..3 {
        c.handle
            .triggers
            .send(Trigger::Host(HostName::DEFAULT))
            .unwrap();
        let r = c.next().await;
        assert!(!r.converged, "{r:?}");
        assert!(
            r.deferred.iter().any(|d| d.object == "network ct-wnet"),
            "{r:?}"
        );
        // Its last failure stays visible while it waits.
        assert!(
            r.failed
                .iter()
                .any(|(id, e)| id.contains("ct-wnet") && e.contains("injected failure")),
            "{r:?}"
        );
        assert_eq!(r.actions, 0, "nothing is tried while it waits: {r:?}");
    }
    assert_eq!(tries(&c), 1, "{:?}", c.fake.host.log());
    // An edit is tried at once; with the fault lifted, all converges.
    c.fake.host.clear_faults();
    std::fs::write(dir.path().join("n.yaml"), format!("{net}# fixed\n")).unwrap();
    let r = c.converged().await;
    assert!(r.reasons.contains(&"manifests".to_string()), "{r:?}");
    assert!(r.deferred.is_empty(), "{r:?}");
    assert_eq!(tries(&c), 2);
    c.handle.stop();
    c.task.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_event_starts_a_pass_that_repairs_drift() {
    let dir = manifest_dir(&[(
        "g.yaml",
        &halted_domain(
            "ct-event",
            "  state: running\n  memory: 64MiB\n  vcpus: 1\n",
        ),
    )]);
    let mut c = start(dir.path(), vec![], 4);
    c.converged().await;
    c.fake.host.inner().destroy_domain("ct-event").unwrap();
    c.handle
        .triggers
        .send(Trigger::Host(HostName::DEFAULT))
        .unwrap();
    let r = c.converged().await;
    assert_eq!(r.reasons, ["host default"], "{r:?}");
    assert!(r.actions >= 1, "{r:?}");
    let state = c
        .fake
        .host
        .inner()
        .list_domains(false)
        .unwrap()
        .into_iter()
        .find(|d| d.name == "ct-event")
        .unwrap()
        .state;
    assert_eq!(state, virtsync::model::PowerState::Running);
    c.handle.stop();
    c.task.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_mid_apply_starts_nothing_more_and_returns() {
    let docs: Vec<String> = (0..6)
        .map(|i| guest(&format!("ct-stop-{i}"), "64MiB"))
        .collect();
    let dir = manifest_dir(&[("g.yaml", &docs.join("---\n"))]);
    let mut c = start(
        dir.path(),
        vec![Fault::delay("define_domain", Duration::from_millis(150))],
        1,
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    let asked = Instant::now();
    c.handle.stop();
    let r = c.next().await;
    c.task.await.unwrap();
    assert!(
        asked.elapsed() < Duration::from_secs(2),
        "{:?}",
        asked.elapsed()
    );
    assert!(r.skipped > 0, "{r:?}");
    assert!(!r.converged);
    let defined = (0..6)
        .filter(|i| {
            c.fake
                .host
                .inner()
                .domain_xml(&format!("ct-stop-{i}"), false)
                .is_ok()
        })
        .count();
    assert!((1..6).contains(&defined), "{defined} of 6 defined");
}

/// An HTTP/1.0 GET of `path`; the whole response.
async fn get(addr: std::net::SocketAddr, path: &str) -> String {
    let path = path.to_string();
    tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        for _ in 0..50 {
            if let Ok(mut s) = std::net::TcpStream::connect(addr) {
                write!(s, "GET {path} HTTP/1.0\r\n\r\n").unwrap();
                let mut out = String::new();
                s.read_to_string(&mut out).unwrap();
                return out;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("nothing listens on {addr}");
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_and_healthz_are_served() {
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let dir = manifest_dir(&[("g.yaml", &guest("ct-metrics", "64MiB"))]);
    let mut c = start_with(dir.path(), vec![], 4, Some(addr));
    c.converged().await;
    let health = get(addr, "/healthz").await;
    assert!(
        health.starts_with("HTTP/1.0 200") && health.ends_with("ok\n"),
        "{health}"
    );
    let m = get(addr, "/metrics").await;
    assert!(
        m.contains("virtsync_reconciles_total{result=\"converged\"} 1"),
        "{m}"
    );
    assert!(
        m.contains(
            "virtsync_actions_total{kind=\"domain\",operation=\"define\",outcome=\"done\"} 1"
        ),
        "{m}"
    );
    assert!(m.contains("virtsync_observe_seconds_count 1"), "{m}");
    assert!(
        m.contains("virtsync_last_converged_timestamp_seconds{host=\"default\"}"),
        "{m}"
    );
    c.handle.stop();
    c.task.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_prune_a_removed_manifest_is_pruned() {
    let dir = manifest_dir(&[
        ("a.yaml", &guest("ct-prune-a", "64MiB")),
        ("b.yaml", &guest("ct-prune-b", "64MiB")),
    ]);
    let mut c = start_cfg(dir.path(), vec![], |cfg| {
        cfg.prune = Some(virtsync::plan::PruneOptions {
            max_deletions: 5,
            allow_empty: false,
            shutdown_timeout: Duration::from_secs(1),
        });
    });
    c.converged().await;
    std::fs::remove_file(dir.path().join("b.yaml")).unwrap();
    loop {
        let r = c.converged().await;
        if r.reasons.contains(&"manifests".to_string()) {
            break;
        }
    }
    let inner = c.fake.host.inner();
    assert!(inner.domain_xml("ct-prune-a", false).is_ok());
    assert!(inner.domain_xml("ct-prune-b", false).is_err(), "pruned");
    c.handle.stop();
    c.task.await.unwrap();
}

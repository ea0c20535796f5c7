//! What neither libvirt's test driver nor a private daemon produces on
//! demand — an object that vanishes between the listing and the read, a
//! call that fails half-way through an action, a connection lost during
//! apply, slow calls — injected by `backend::fault::FaultyHost` around the
//! real test driver, through the library's reconcile pass.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{halted_domain, load, manifest_dir, Lab};
use virtsync::apply::Status;
use virtsync::backend::fault::{Fault, FaultyHost};
use virtsync::backend::{code, LibvirtHost};
use virtsync::inventory::Inventory;
use virtsync::model::HostName;
use virtsync::reconcile::HostConn;

const URI: &str = "test:///default";

/// A lab whose default host is the test driver behind a fault injector.
fn faulty_lab(faults: Vec<Fault>) -> (Lab, Arc<FaultyHost<LibvirtHost>>) {
    let host = Arc::new(FaultyHost::new(
        LibvirtHost::open(URI).expect("test driver"),
        faults,
    ));
    let hosts = BTreeMap::from([(
        HostName::DEFAULT,
        (URI.to_string(), HostConn::custom(host.clone())),
    )]);
    let lab = Lab::with_hosts(hosts);
    (lab, host)
}

fn domains(prefix: &str, n: usize, memory: &str) -> tempfile::TempDir {
    let text: Vec<String> = (0..n)
        .map(|i| {
            halted_domain(
                &format!("{prefix}-{i}"),
                &format!("  memory: {memory}\n  vcpus: 1\n"),
            )
        })
        .collect();
    manifest_dir(&[("d.yaml", &text.join("---\n"))])
}

#[test]
fn an_object_that_vanishes_mid_observation_blocks_only_itself() {
    let (mut lab, host) = faulty_lab(vec![]);
    let desired = load(domains("fv", 2, "64MiB").path());
    lab.converge(&desired);
    // Both change; fv-1 vanishes between the listing and its XML read.
    let changed = load(domains("fv", 2, "96MiB").path());
    host.inject(Fault::fail("domain_xml", Some("fv-1"), code::NO_DOMAIN));
    let planned = lab.plan(&changed);
    let p = &planned.plan;
    assert_eq!(p.blocked.len(), 1, "{p:?}");
    assert_eq!(p.blocked[0].name, "fv-1");
    assert!(
        p.blocked[0].reason.contains("could not be read"),
        "{:?}",
        p.blocked
    );
    assert!(
        p.actions.iter().all(|a| a.name == "fv-0"),
        "{:?}",
        p.actions
    );
    assert!(p.actions.iter().any(|a| a.id == "domain/fv-0/define"));
}

#[test]
fn a_restart_that_fails_half_way_counts_as_a_change() {
    let (mut lab, host) = faulty_lab(vec![]);
    let spec = |vcpus: u32| {
        halted_domain(
            "fr-0",
            &format!("  memory: 64MiB\n  vcpus: {vcpus}\n  maxVcpus: {vcpus}\n  restartPolicy: onConfigChange\n  shutdownTimeout: 0s\n"),
        )
    };
    let dir = manifest_dir(&[("d.yaml", &spec(1))]);
    lab.converge(&load(dir.path()));
    // A next-boot change restarts the guest: it stops, and then the start
    // fails.
    let dir = manifest_dir(&[("d.yaml", &spec(2))]);
    let desired = load(dir.path());
    host.inject(Fault::fail("start_domain", Some("fr-0"), code::OPERATION_FAILED).once());
    let planned = lab.plan(&desired);
    assert!(planned
        .plan
        .actions
        .iter()
        .any(|a| a.id == "domain/fr-0/restart"));
    let done = lab.apply(&desired, &planned);
    let restart = done
        .outcomes
        .iter()
        .find(|o| o.id == "domain/fr-0/restart")
        .expect("restart outcome");
    assert!(
        matches!(restart.status, Status::Failed { .. }),
        "{restart:?}"
    );
    assert!(restart.changed, "the guest was shut down: that is a change");
    assert!(!done.converged);
    assert_eq!(done.exit_code(), 3);
    // The next pass starts the guest again.
    lab.converge(&desired);
}

#[test]
fn a_connection_lost_during_apply_fails_the_rest_and_is_reported() {
    let (mut lab, host) = faulty_lab(vec![]);
    let desired = load(domains("fl", 3, "64MiB").path());
    // The first define loses the connection: nothing after it gets through.
    host.inject(Fault::disconnect("define_domain", None));
    let planned = lab.plan(&desired);
    let done = lab.apply(&desired, &planned);
    assert!(!done.converged);
    // Defines run four at a time: one that started before the connection
    // was lost may have got through; none that started after did.
    let through: Vec<&str> = done
        .outcomes
        .iter()
        .filter(|o| o.changed)
        .map(|o| o.id.as_str())
        .collect();
    assert!(
        through.iter().all(|id| id.ends_with("/define")),
        "{:?}",
        done.outcomes
    );
    assert!(through.len() < 3, "{:?}", done.outcomes);
    assert_eq!(
        done.exit_code(),
        if through.is_empty() { 1 } else { 3 },
        "1: nothing changed, 3: some changed"
    );
    assert!(done.failed().count() >= 1);
    // Observing afterwards failed too: the host is reported unreachable.
    let residual = done.residual.as_ref();
    assert!(
        residual.is_none_or(|r| !r.unreachable_hosts.is_empty()),
        "{residual:?}"
    );
}

#[test]
fn slow_calls_run_in_parallel() {
    let (mut lab, _host) = faulty_lab(vec![Fault::delay(
        "define_domain",
        Duration::from_millis(300),
    )]);
    let desired = load(domains("fs", 4, "64MiB").path());
    let planned = lab.plan(&desired);
    let start = Instant::now();
    let done = lab.apply(&desired, &planned);
    let took = start.elapsed();
    assert!(done.converged, "{:?}", done.outcomes);
    // Four defines of 300 ms each, four at a time.
    assert!(took < Duration::from_millis(1000), "apply took {took:?}");
}

#[test]
fn errors_keep_libvirts_code() {
    let (lab, host) = faulty_lab(vec![]);
    host.inject(Fault::fail("list_domains", None, code::RPC).once());
    let desired = load(domains("fe", 1, "64MiB").path());
    let planned = lab.plan(&desired);
    // The listing failed: the host is unreachable this pass, its domain blocked.
    assert_eq!(planned.plan.unreachable_hosts.len(), 1);
    assert_eq!(planned.plan.blocked.len(), 1);
    let e = virtsync::backend::BackendError::Call {
        call: "list domains",
        object: URI.into(),
        message: "x".into(),
        code: code::RPC,
    };
    assert!(e.is_transient() && !e.is_not_found());
}

#[test]
fn a_failed_action_is_never_reported_converged_even_when_the_replan_is_empty() {
    let (mut lab, host) = faulty_lab(vec![]);
    let spec = |mem: &str| {
        halted_domain(
            "fc-0",
            &format!("  memory: {mem}\n  maxMemory: 256MiB\n  vcpus: 1\n"),
        )
    };
    let dir = manifest_dir(&[("d.yaml", &spec("64MiB"))]);
    lab.converge(&load(dir.path()));
    // A live memory change: the persistent config is defined, the balloon
    // call fails. Drift is judged on the persistent config, so the re-plan
    // is empty — the failure must still be reported.
    let dir = manifest_dir(&[("d.yaml", &spec("128MiB"))]);
    let desired = load(dir.path());
    host.inject(Fault::fail("set_live_memory", Some("fc-0"), code::OPERATION_FAILED).once());
    let planned = lab.plan(&desired);
    assert!(planned
        .plan
        .actions
        .iter()
        .any(|a| a.id == "domain/fc-0/update-live"));
    let done = lab.apply(&desired, &planned);
    assert!(done.residual.as_ref().is_some_and(|r| r.is_empty()));
    assert!(!done.converged, "a failed action, yet converged");
    assert_eq!(done.exit_code(), 3);
}

/// Two applies to one host, as `apply` runs them (lock, plan, apply): the
/// second waits while the first's slow defines run, is told whom it waits
/// for, and then finds nothing to do — the two never interleave.
#[test]
fn a_second_apply_waits_for_the_first_and_then_finds_nothing_to_do() {
    let slow = Duration::from_millis(1500);
    let desired = load(domains("lk", 2, "64MiB").path());
    let state = tempfile::tempdir().unwrap();
    let (mut first, _) = faulty_lab(vec![Fault::delay("define_domain", slow)]);
    let (second, second_host) = faulty_lab(vec![]);
    let timeout = Duration::from_secs(60);
    let held = first
        .reconciler
        .lock(state.path(), timeout, &mut |m| {
            panic!("nobody holds it: {m}")
        })
        .expect("lock");
    let start = Instant::now();
    std::thread::scope(|s| {
        let applying = s.spawn(|| {
            first.converge(&desired);
            let finished = start.elapsed();
            drop(held);
            finished
        });
        std::thread::sleep(Duration::from_millis(200));
        let mut told = Vec::new();
        let _mine = second
            .reconciler
            .lock(state.path(), timeout, &mut |m| told.push(m.to_string()))
            .expect("lock after the first apply");
        let got = start.elapsed();
        let finished = applying.join().expect("first apply");
        assert!(
            got >= finished,
            "took the lock at {got:?}, before the first apply ended at {finished:?}"
        );
        assert!(finished >= slow, "{finished:?}");
        assert_eq!(told.len(), 1, "{told:?}");
        assert!(
            told[0].contains(&format!("pid {}", std::process::id())),
            "{told:?}"
        );
        // No call of the second reached the host while it waited.
        assert!(
            second_host
                .log()
                .iter()
                .all(|c| c.starts_with("capabilities")),
            "{:?}",
            second_host.log()
        );
        let planned = second.plan(&desired);
        assert!(
            planned.converged(),
            "{}",
            virtsync::plan::render_text(&planned.plan)
        );
    });
}

/// A lock held longer than `--lock-timeout`: the second gives up, naming
/// the holder, and has changed nothing.
#[test]
fn a_lock_held_past_the_timeout_fails_naming_the_holder() {
    let desired = load(domains("lt", 1, "64MiB").path());
    let state = tempfile::tempdir().unwrap();
    let (first, _) = faulty_lab(vec![]);
    let (second, _) = faulty_lab(vec![]);
    let _held = first
        .reconciler
        .lock(state.path(), Duration::ZERO, &mut |_| {})
        .expect("lock");
    let e = second
        .reconciler
        .lock(state.path(), Duration::from_millis(300), &mut |_| {})
        .expect_err("held by the first");
    let msg = e.to_string();
    assert!(
        msg.contains(&format!("pid {}", std::process::id())),
        "{msg}"
    );
    assert!(msg.contains("--lock-timeout"), "{msg}");
    assert!(!second.plan(&desired).plan.is_empty());
}

/// A volume created whose reply never came back (the connection died
/// mid-call, as when apply is killed): its intent, written before the
/// call, survives in the state directory, and the next run — a new
/// connection, the inventory read back — finds the volume, owns it, and
/// has nothing to do instead of refusing it as unmanaged.
#[test]
fn a_create_whose_reply_was_lost_is_owned_by_the_next_run() {
    let dir = manifest_dir(&[(
        "storage.yaml",
        "apiVersion: virtsync.io/v1alpha1\nkind: StoragePool\nmetadata: {name: ik-pool}\nspec: {type: dir, path: /var/lib/libvirt/images/ik-pool}\n---\n\
         apiVersion: virtsync.io/v1alpha1\nkind: Volume\nmetadata: {name: a.qcow2}\nspec: {pool: ik-pool, capacity: 1GiB}\n",
    )]);
    let desired = load(dir.path());
    let state = tempfile::tempdir().unwrap();
    let opts = virtsync::reconcile::ApplyOptions {
        parallel: 4,
        state_dir: Some(state.path().to_path_buf()),
        ..Default::default()
    };
    let apply = |lab: &mut Lab| {
        let planned = lab.plan(&desired);
        let inv = lab.inventory.clone();
        let scope = lab.scope(&desired);
        let t = virtsync::reconcile::Target {
            desired: &desired,
            inventory: &inv,
            revision: "",
            adopt: false,
            scope: &scope,
        };
        lab.reconciler
            .apply(&t, &mut lab.inventory, &planned, &opts, &|_, _| {})
            .expect("apply")
    };
    let (mut lab, _) = faulty_lab(vec![Fault::lose_reply(
        "create_volume",
        Some("ik-pool/a.qcow2"),
    )]);
    let done = apply(&mut lab);
    let failed: Vec<_> = done.failed().map(|o| o.id.as_str()).collect();
    assert_eq!(failed, ["volume/ik-pool/a.qcow2/create-volume"]);
    let saved = Inventory::load(state.path()).unwrap();
    let id = lab.reconciler.identity(&HostName::DEFAULT).unwrap();
    let rec = &saved.hosts[&id];
    assert!(rec.pools.contains_key("ik-pool"), "{saved:?}");
    assert!(
        rec.intents
            .iter()
            .any(|i| i.name == "ik-pool/a.qcow2" && i.kind == virtsync::model::Kind::Volume),
        "{saved:?}"
    );

    // The next run: the test driver still has what the first one made.
    let (mut next, _) = faulty_lab(vec![]);
    next.inventory = Inventory::load(state.path()).unwrap();
    let planned = next.plan(&desired);
    assert!(
        planned.converged(),
        "{}",
        virtsync::plan::render_text(&planned.plan)
    );
    next.reconciler
        .settle_inventory(&mut next.inventory, &planned.observed, Some(state.path()))
        .unwrap();
    let saved = Inventory::load(state.path()).unwrap();
    assert!(saved.owns_volume(&id, "ik-pool", "a.qcow2"), "{saved:?}");
    assert!(saved.hosts[&id].intents.is_empty(), "{saved:?}");
}

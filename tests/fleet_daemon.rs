//! A fleet on real, private libvirt daemons standing for two hosts: a host
//! that is down fails only its own objects (named with their host) while
//! the other converges, and one `virtsync run --host NAME` per host, side
//! by side on one manifest directory, each converges its own host and
//! touches nothing on the other, prune included.

mod common;

use std::time::Duration;

use common::{
    halted_domain, host_manifest, manifest_dir, output_text, wait_for, PrivateDaemon, RunProcess,
};

/// A shut-off guest of `memory` on `host` (the default connection when empty).
fn guest(name: &str, host: &str, memory: &str) -> String {
    let placed = if host.is_empty() {
        String::new()
    } else {
        format!("  host: {host}\n")
    };
    halted_domain(
        name,
        &format!("  memory: {memory}\n  vcpus: 1\n  state: shutoff\n"),
    )
    .replace(
        &format!("  name: {name}\n"),
        &format!("  name: {name}\n{placed}"),
    )
}

/// The persistent (current) memory of a domain, in KiB as libvirt writes it.
fn memory_kib(d: &PrivateDaemon, name: &str) -> String {
    d.domain_xml(name, true)
        .child("currentMemory")
        .map(|m| m.text())
        .unwrap_or_default()
}

fn domains(d: &PrivateDaemon) -> Vec<String> {
    let mut v: Vec<String> = d
        .virsh(&["list", "--all", "--name"])
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    v.sort();
    v
}

#[test]
fn a_stopped_host_fails_its_own_objects_and_the_other_converges() {
    require_daemon!();
    let a = PrivateDaemon::start();
    let b = PrivateDaemon::start();
    let state = tempfile::tempdir().unwrap();
    let dir = manifest_dir(&[
        ("hosts.yaml", &host_manifest("hostb", &b.uri)),
        ("here.yaml", &guest("down-here", "", "64MiB")),
        ("there.yaml", &guest("down-there", "hostb", "64MiB")),
    ]);
    a.apply_converged(dir.path(), state.path());
    b.stop();
    for (file, text) in [
        ("here.yaml", guest("down-here", "", "96MiB")),
        ("there.yaml", guest("down-there", "hostb", "96MiB")),
    ] {
        std::fs::write(dir.path().join(file), text).unwrap();
    }
    // plan says which host could not be observed, and what waits for it.
    let out = a.virtsync("plan", dir.path(), state.path(), &[]);
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("! host hostb (") && text.contains("could not be observed"),
        "{text}"
    );
    assert!(text.contains("down-there on hostb: blocked"), "{text}");
    // apply converges the host that is up and names the one that is not.
    let out = a.virtsync("apply", dir.path(), state.path(), &["--yes"]);
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(
        text.contains("not converged: 1 blocked (domain down-there on host hostb)"),
        "{text}"
    );
    assert!(text.contains("! host hostb ("), "{text}");
    assert_eq!(memory_kib(&a, "down-here"), "98304");
}

#[test]
fn one_controller_per_host_converges_its_own_host_and_touches_nothing_else() {
    require_daemon!();
    let a = PrivateDaemon::start();
    let b = PrivateDaemon::start();
    let (state_a, state_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let dir = manifest_dir(&[
        ("hosts/a.yaml", &host_manifest("a", &a.uri)),
        ("hosts/b.yaml", &host_manifest("b", &b.uri)),
        ("a.yaml", &guest("fleet-a", "a", "64MiB")),
        ("b.yaml", &guest("fleet-b", "b", "64MiB")),
    ]);
    let dir = dir.path();
    // Each host's controller on its own machine: its own state directory,
    // its own host through --connect.
    let run_a = RunProcess::start(&a.uri, dir, state_a.path(), &["--host", "a", "--prune"]);
    let run_b = RunProcess::start(&b.uri, dir, state_b.path(), &["--host", "b", "--prune"]);
    let logs = || format!("a:\n{}\nb:\n{}", run_a.logs(), run_b.logs());
    wait_for(Duration::from_secs(30), "both hosts converged", || {
        domains(&a) == ["fleet-a"] && domains(&b) == ["fleet-b"]
    });
    // An edit of each host's guest reaches that host only.
    std::fs::write(dir.join("a.yaml"), guest("fleet-a", "a", "96MiB")).unwrap();
    wait_for(Duration::from_secs(15), "a's edit applied", || {
        memory_kib(&a, "fleet-a") == "98304"
    });
    assert_eq!(memory_kib(&b, "fleet-b"), "65536", "{}", logs());
    // b's controller stops; b's guest loses its manifest while a's changes:
    // a's controller, pruning, applies its own edit and deletes nothing of b's.
    drop(run_b);
    std::fs::remove_file(dir.join("b.yaml")).unwrap();
    std::fs::write(dir.join("a.yaml"), guest("fleet-a", "a", "80MiB")).unwrap();
    wait_for(Duration::from_secs(15), "a's second edit applied", || {
        memory_kib(&a, "fleet-a") == "81920"
    });
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(domains(&b), ["fleet-b"], "{}", run_a.logs());
    assert_eq!(domains(&a), ["fleet-a"], "{}", run_a.logs());
}

#[test]
fn a_domain_moved_between_fleet_hosts_is_migrated_once_by_its_old_hosts_controller() {
    require_daemon!();
    let a = PrivateDaemon::start();
    let b = PrivateDaemon::start();
    let (state_a, state_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let running =
        |host: &str| guest("fleet-mv", host, "64MiB").replace("state: shutoff", "state: running");
    let dir = manifest_dir(&[
        ("hosts/a.yaml", &host_manifest("a", &a.uri)),
        ("hosts/b.yaml", &host_manifest("b", &b.uri)),
        ("mv.yaml", &running("a")),
    ]);
    let dir = dir.path();
    let run_a = RunProcess::start(&a.uri, dir, state_a.path(), &["--host", "a", "--prune"]);
    let run_b = RunProcess::start(&b.uri, dir, state_b.path(), &["--host", "b", "--prune"]);
    let logs = || format!("a:\n{}\nb:\n{}", run_a.logs(), run_b.logs());
    wait_for(Duration::from_secs(30), "the guest runs on a", || {
        domains(&a) == ["fleet-mv"] && a.virsh(&["domstate", "fleet-mv"]).trim() == "running"
    });
    let uuid = a.virsh(&["domuuid", "fleet-mv"]).trim().to_string();
    // Moved to b: b's controller sees it still on a and leaves the move to
    // a's, which migrates it live; nothing ever runs it twice.
    std::fs::write(dir.join("mv.yaml"), running("b")).unwrap();
    wait_for(Duration::from_secs(60), "the guest runs on b only", || {
        domains(&a).is_empty() && domains(&b) == ["fleet-mv"]
    });
    assert_eq!(
        b.virsh(&["domstate", "fleet-mv"]).trim(),
        "running",
        "{}",
        logs()
    );
    assert_eq!(b.virsh(&["domuuid", "fleet-mv"]).trim(), uuid, "{}", logs());
    let reason = b.virsh(&["domstate", "--reason", "fleet-mv"]);
    assert!(reason.contains("migrated"), "{reason}\n{}", logs());
}

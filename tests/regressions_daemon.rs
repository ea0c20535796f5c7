//! Regressions found by operating virtsync on real, private daemons, each
//! reproduced as an operator met it:
//! - growing one volume shrank another: a guest's disk was switched from
//!   volume A to B (restart pending, the guest still runs A), then B was
//!   grown, and the resize went to the running guest's `vda` — still A;
//! - networks without `bridge.name` defined in parallel got the same
//!   bridge, and one of them never started.

mod common;

use common::{halted_domain, manifest_dir, output_text, PrivateDaemon};

fn apply_ok(d: &PrivateDaemon, dir: &std::path::Path, state: &std::path::Path) -> String {
    let out = d.virtsync("apply", dir, state, &["--yes"]);
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("converged:"), "{text}");
    text
}

fn capacity(d: &PrivateDaemon, pool: &str, vol: &str) -> u64 {
    let info = d.virsh(&["vol-info", "--bytes", "--pool", pool, vol]);
    info.lines()
        .find(|l| l.trim_start().starts_with("Capacity:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no capacity in {info}"))
}

#[test]
fn growing_the_next_boot_volume_never_resizes_the_running_one() {
    require_daemon!();
    let d = PrivateDaemon::start();
    let state = tempfile::tempdir().unwrap();
    let storage = |b_cap: &str| {
        format!(
            "apiVersion: virtsync.io/v1alpha1\nkind: StoragePool\nmetadata: {{name: rg-pool}}\n\
             spec: {{type: dir, path: /var/lib/libvirt/images/rg-pool}}\n---\n\
             apiVersion: virtsync.io/v1alpha1\nkind: Volume\nmetadata: {{name: a.qcow2}}\n\
             spec: {{pool: rg-pool, capacity: 128MiB}}\n---\n\
             apiVersion: virtsync.io/v1alpha1\nkind: Volume\nmetadata: {{name: b.qcow2}}\n\
             spec: {{pool: rg-pool, capacity: {b_cap}}}\n"
        )
    };
    let guest = |vol: &str| {
        halted_domain(
            "rg-vm",
            &format!(
                "  memory: 64MiB\n  vcpus: 1\n  disks:\n    - volume: {{pool: rg-pool, name: {vol}}}\n"
            ),
        )
    };
    let dir = manifest_dir(&[
        ("storage.yaml", &storage("32MiB")),
        ("guest.yaml", &guest("a.qcow2")),
    ]);
    apply_ok(&d, dir.path(), state.path());
    // The disk moves to B: next boot, the running guest keeps A.
    std::fs::write(dir.path().join("guest.yaml"), guest("b.qcow2")).unwrap();
    let text = apply_ok(&d, dir.path(), state.path());
    assert!(text.contains("restart pending"), "{text}");
    // Growing B must grow B, through the storage API (no guest runs it),
    // and leave A — which the guest runs — alone.
    std::fs::write(dir.path().join("storage.yaml"), storage("64MiB")).unwrap();
    apply_ok(&d, dir.path(), state.path());
    assert_eq!(capacity(&d, "rg-pool", "b.qcow2"), 64 << 20);
    assert_eq!(
        capacity(&d, "rg-pool", "a.qcow2"),
        128 << 20,
        "the running volume changed"
    );
    let live = d.virsh(&["domblklist", "rg-vm"]);
    assert!(live.contains("a.qcow2"), "{live}");
}

#[test]
fn networks_without_bridge_names_defined_together_all_start() {
    require_daemon!();
    let d = PrivateDaemon::start();
    let state = tempfile::tempdir().unwrap();
    let nets: String = (0..4)
        .map(|i| {
            format!(
                "apiVersion: virtsync.io/v1alpha1\nkind: Network\nmetadata: {{name: rb-{i}}}\n\
                 spec:\n  forward: {{mode: nat}}\n  ipv4: {{address: 10.66.{i}.1, prefix: 24}}\n"
            )
        })
        .collect::<Vec<_>>()
        .join("---\n");
    let dir = manifest_dir(&[("nets.yaml", &nets)]);
    let out = d.virtsync(
        "apply",
        dir.path(),
        state.path(),
        &["--yes", "--parallel", "8"],
    );
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("converged:"), "{text}");
    let active = d.virsh(&["net-list", "--name"]);
    let mut bridges = std::collections::BTreeSet::new();
    for i in 0..4 {
        let name = format!("rb-{i}");
        assert!(active.contains(&name), "{name} is not active: {active}");
        let bridge = d.virsh(&["net-info", &name]);
        let b = bridge
            .lines()
            .find(|l| l.starts_with("Bridge:"))
            .unwrap_or_default()
            .to_string();
        assert!(bridges.insert(b.clone()), "two networks share {b}");
    }
}

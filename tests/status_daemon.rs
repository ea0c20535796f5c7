//! `virtsync status` on a real, private libvirtd: after apply, a running
//! guest with a declared snapshot and one taken by hand is in sync and
//! lists both snapshots, oldest first; status reads and never writes (the
//! daemon's RPC log); a guest destroyed by hand shows as drifted, and
//! stays destroyed.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::{halted_domain, manifest_dir, output_text, rpc_counts, PrivateDaemon, READ_PROCS};

const API: &str = "apiVersion: virtsync.io/v1alpha1";

#[test]
fn a_running_guest_lists_its_snapshots_and_status_only_reads() {
    require_daemon!();
    let d = PrivateDaemon::start();
    let state = tempfile::tempdir().unwrap();
    let storage = format!(
        "{API}\nkind: StoragePool\nmetadata: {{name: ss-pool}}\nspec: {{type: dir, path: /var/lib/libvirt/images/ss-pool}}\n---\n\
         {API}\nkind: Volume\nmetadata: {{name: ss.qcow2}}\nspec: {{pool: ss-pool, capacity: 64MiB}}\n"
    );
    let guest = halted_domain(
        "ss-vm",
        "  memory: 64MiB\n  vcpus: 1\n  disks:\n    - volume: {pool: ss-pool, name: ss.qcow2}\n",
    );
    let snapshot = format!(
        "{API}\nkind: Snapshot\nmetadata: {{name: before-upgrade}}\nspec: {{domain: ss-vm}}\n"
    );
    let dir = manifest_dir(&[
        ("storage.yaml", &storage),
        ("guest.yaml", &guest),
        ("snapshot.yaml", &snapshot),
    ]);
    let run = |cmd: &str, args: &[&str]| {
        let out = d.virtsync(cmd, dir.path(), state.path(), args);
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            output_text(&out),
        )
    };
    let (code, _, text) = run("apply", &["--yes"]);
    assert_eq!(code, 0, "{text}");
    // creationTime has whole seconds: the hand-made one is the newer.
    std::thread::sleep(Duration::from_millis(1100));
    d.virsh(&["snapshot-create-as", "ss-vm", "by-hand"]);

    let log = d.log_rpcs();
    std::fs::write(&log, "").expect("truncate RPC log");
    let (code, out, text) = run("status", &[]);
    assert_eq!(code, 0, "{text}");
    assert_eq!(
        out,
        "KIND      NAME                  STATUS   DETAILS\n\
         pool      ss-pool               in sync\n\
         volume    ss-pool/ss.qcow2      in sync\n\
         domain    ss-vm                 in sync  snapshots: before-upgrade, by-hand\n\
         snapshot  ss-vm/before-upgrade  in sync\n\
         \n\
         Status: 4 in sync (4 objects)\n",
        "{text}"
    );
    std::thread::sleep(Duration::from_millis(300));
    let counts = rpc_counts(&log);
    let reads: BTreeSet<u32> = READ_PROCS.iter().map(|(n, _)| *n).collect();
    let writes: Vec<_> = counts.keys().filter(|p| !reads.contains(p)).collect();
    assert!(
        writes.is_empty(),
        "status called procedures that are not reads: {writes:?} (all: {counts:?})"
    );
    assert!(!counts.is_empty(), "the RPC log recorded nothing");

    let (code, json, text) = run("status", &["--output", "json"]);
    assert_eq!(code, 0, "{text}");
    let report: serde_json::Value = serde_json::from_str(&json).expect(&text);
    let vm = &report["objects"][2];
    assert_eq!(vm["name"], "ss-vm");
    assert_eq!(vm["status"], "in-sync");
    assert_eq!(
        vm["snapshots"],
        serde_json::json!(["before-upgrade", "by-hand"])
    );
    assert_eq!(d.virsh(&["domstate", "ss-vm"]).trim(), "running");

    // Destroyed by hand: drifted in its power state; status leaves it so.
    d.virsh(&["destroy", "ss-vm"]);
    let (code, out, text) = run("status", &[]);
    assert_eq!(code, 2, "{text}");
    assert!(
        out.contains(
            "domain    ss-vm                 drifted  state; snapshots: before-upgrade, by-hand\n"
        ),
        "{text}"
    );
    assert!(
        out.ends_with("\nStatus: 3 in sync, 1 drifted (4 objects)\n"),
        "{text}"
    );
    assert_eq!(d.virsh(&["domstate", "ss-vm"]).trim(), "shut off");
}

//! Storage facts that must never be papered over, on a real, private
//! libvirtd: a volume virtsync created and someone deleted is *lost* — the
//! domain using it is blocked, never handed a new empty disk — and one no
//! domain uses is created again with a notice; a pool's path moves only
//! while the pool is empty.

mod common;

use common::{halted_domain, manifest_dir, output_text, PrivateDaemon};

const API: &str = "apiVersion: virtsync.io/v1alpha1";

fn pool(path: &str) -> String {
    format!("{API}\nkind: StoragePool\nmetadata: {{name: st-pool}}\nspec: {{type: dir, path: {path}}}\n")
}

fn volume(name: &str) -> String {
    format!("{API}\nkind: Volume\nmetadata: {{name: {name}}}\nspec: {{pool: st-pool, capacity: 16MiB}}\n")
}

#[test]
fn a_deleted_volume_is_lost_not_recreated_under_its_domain() {
    require_daemon!();
    let d = PrivateDaemon::start();
    let state = tempfile::tempdir().unwrap();
    let guest = halted_domain(
        "st-vm",
        "  state: shutoff\n  memory: 64MiB\n  vcpus: 1\n  disks:\n    - volume: {pool: st-pool, name: used.qcow2}\n",
    );
    let dir = manifest_dir(&[
        ("pool.yaml", &pool("/var/lib/libvirt/images/st-pool")),
        ("used.yaml", &volume("used.qcow2")),
        ("spare.yaml", &volume("spare.qcow2")),
        ("guest.yaml", &guest),
    ]);
    let run = |cmd: &str, args: &[&str]| {
        let out = d.virtsync(cmd, dir.path(), state.path(), args);
        (out.status.code(), output_text(&out))
    };
    let (code, text) = run("apply", &["--yes"]);
    assert_eq!(code, Some(0), "{text}");

    d.virsh(&["vol-delete", "--pool", "st-pool", "used.qcow2"]);
    d.virsh(&["vol-delete", "--pool", "st-pool", "spare.qcow2"]);
    let (code, text) = run("apply", &["--yes"]);
    // The spare one is made again; the used one and its domain are blocked.
    assert_eq!(code, Some(3), "{text}");
    assert!(
        text.contains("x volume st-pool/used.qcow2: blocked: lost:")
            || text.contains("x volume used.qcow2: blocked: lost:"),
        "{text}"
    );
    assert!(text.contains("domain st-vm uses it"), "{text}");
    assert!(
        text.contains("x domain st-vm: blocked: its disk volume st-pool/used.qcow2 is lost"),
        "{text}"
    );
    assert!(
        text.contains("lost: virtsync created this volume and it is gone"),
        "{text}"
    );
    let vols = d.virsh(&["vol-list", "st-pool"]);
    assert!(vols.contains("spare.qcow2"), "{vols}");
    assert!(
        !vols.contains("used.qcow2"),
        "never re-created empty: {vols}"
    );
}

#[test]
fn a_pool_moves_only_while_empty() {
    require_daemon!();
    let d = PrivateDaemon::start();
    let state = tempfile::tempdir().unwrap();
    let dir = manifest_dir(&[
        ("pool.yaml", &pool("/var/lib/libvirt/images/st-a")),
        ("vol.yaml", &volume("v.qcow2")),
    ]);
    let run = |cmd: &str, args: &[&str]| {
        let out = d.virtsync(cmd, dir.path(), state.path(), args);
        (out.status.code(), output_text(&out))
    };
    let (code, text) = run("apply", &["--yes"]);
    assert_eq!(code, Some(0), "{text}");

    // With a volume in it: refused, nothing changed.
    std::fs::write(
        dir.path().join("pool.yaml"),
        pool("/var/lib/libvirt/images/st-b"),
    )
    .unwrap();
    let (code, text) = run("apply", &["--yes"]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("holds 1 volume(s)"), "{text}");
    assert!(d
        .virsh(&["pool-dumpxml", "st-pool"])
        .contains("/var/lib/libvirt/images/st-a"));

    // Empty: moved, the new directory built, the pool running there.
    std::fs::remove_file(dir.path().join("vol.yaml")).unwrap();
    d.virsh(&["vol-delete", "--pool", "st-pool", "v.qcow2"]);
    let (code, text) = run("apply", &["--yes"]);
    assert_eq!(code, Some(0), "{text}");
    let xml = d.virsh(&["pool-dumpxml", "st-pool"]);
    assert!(xml.contains("/var/lib/libvirt/images/st-b"), "{xml}");
    assert_eq!(
        d.virsh(&["pool-info", "st-pool"])
            .lines()
            .find(|l| l.starts_with("State"))
            .map(|l| l.split_whitespace().last().unwrap().to_string()),
        Some("running".to_string())
    );
    let (code, text) = run("plan", &["--exit-code"]);
    assert_eq!(code, Some(0), "{text}");
}

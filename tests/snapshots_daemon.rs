//! Snapshot manifests on a real, private libvirtd: a declared snapshot of a
//! running guest with a qcow2 disk is taken once (internal, with its
//! memory state) with its description, plans empty afterwards, takes a new
//! description in place, and once deleted by hand is reported — never
//! taken again.

mod common;

use common::{halted_domain, manifest_dir, output_text, PrivateDaemon};

const API: &str = "apiVersion: virtsync.io/v1alpha1";

fn snapshot(description: &str) -> String {
    format!("{API}\nkind: Snapshot\nmetadata: {{name: before-upgrade}}\nspec: {{domain: sn-vm, description: \"{description}\"}}\n")
}

#[test]
fn a_declared_snapshot_is_taken_once_and_never_retaken() {
    require_daemon!();
    let d = PrivateDaemon::start();
    let state = tempfile::tempdir().unwrap();
    let storage = format!(
        "{API}\nkind: StoragePool\nmetadata: {{name: sn-pool}}\nspec: {{type: dir, path: /var/lib/libvirt/images/sn-pool}}\n---\n\
         {API}\nkind: Volume\nmetadata: {{name: sn.qcow2}}\nspec: {{pool: sn-pool, capacity: 64MiB}}\n"
    );
    let guest = halted_domain(
        "sn-vm",
        "  memory: 64MiB\n  vcpus: 1\n  disks:\n    - volume: {pool: sn-pool, name: sn.qcow2}\n",
    );
    let dir = manifest_dir(&[
        ("storage.yaml", &storage),
        ("guest.yaml", &guest),
        ("snapshot.yaml", &snapshot("before the upgrade")),
    ]);
    let run = |cmd: &str, args: &[&str]| {
        let out = d.virtsync(cmd, dir.path(), state.path(), args);
        (out.status.code().unwrap_or(-1), output_text(&out))
    };
    let (code, text) = run("apply", &["--yes"]);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("snapshot/sn-vm/before-upgrade/create-snapshot"),
        "{text}"
    );
    assert_eq!(
        d.virsh(&["snapshot-list", "sn-vm", "--name"]).trim(),
        "before-upgrade"
    );
    let xml = d.virsh(&["snapshot-dumpxml", "sn-vm", "before-upgrade"]);
    assert!(
        xml.contains("<description>before the upgrade</description>"),
        "{xml}"
    );
    assert!(
        xml.contains("<state>running</state>"),
        "taken with the memory state: {xml}"
    );
    assert_eq!(run("plan", &["--exit-code"]).0, 0, "re-plan is empty");

    // `snapshot list` shows it, taken by virtsync, with its state and
    // description; `snapshot revert` brings a destroyed guest back running.
    let snap = |args: &[&str]| {
        let state = state.path().to_string_lossy().to_string();
        let mut all = vec!["snapshot"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--connect", &d.uri, "--state-dir", &state]);
        let (out, _) = common::virtsync(&all, std::time::Duration::from_secs(60));
        (out.status.code().unwrap_or(-1), output_text(&out))
    };
    let (code, text) = snap(&["list", "sn-vm"]);
    assert_eq!(code, 0, "{text}");
    let row = text
        .lines()
        .find(|l| l.starts_with("before-upgrade"))
        .expect(&text);
    assert!(
        row.contains("running") && row.contains("yes") && row.contains("before the upgrade"),
        "{text}"
    );
    let (code, json) = snap(&["list", "sn-vm", "--output", "json"]);
    assert_eq!(code, 0, "{json}");
    let rows: serde_json::Value = serde_json::from_str(json.trim()).expect(&json);
    assert_eq!(rows[0]["name"], "before-upgrade");
    assert_eq!(rows[0]["managed"], true);
    d.virsh(&["destroy", "sn-vm"]);
    let (code, text) = snap(&["revert", "sn-vm", "before-upgrade"]);
    assert_eq!(code, 1, "no terminal, no --yes: refused: {text}");
    let (code, text) = snap(&["revert", "sn-vm", "before-upgrade", "--yes"]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("the domain is running"), "{text}");
    assert!(d.virsh(&["list", "--name"]).contains("sn-vm"));
    let (code, text) = snap(&["revert", "sn-vm", "nope", "--yes"]);
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("has no snapshot nope (it has: before-upgrade)"),
        "{text}"
    );
    assert_eq!(
        run("plan", &["--exit-code"]).0,
        0,
        "nothing differs after the revert"
    );

    // A new description is written in place: still one snapshot.
    std::fs::write(dir.path().join("snapshot.yaml"), snapshot("kernel 6.1")).unwrap();
    let (code, text) = run("apply", &["--yes"]);
    assert_eq!(code, 0, "{text}");
    let xml = d.virsh(&["snapshot-dumpxml", "sn-vm", "before-upgrade"]);
    assert!(
        xml.contains("<description>kernel 6.1</description>"),
        "{xml}"
    );
    assert_eq!(
        d.virsh(&["snapshot-list", "sn-vm", "--name"]).trim(),
        "before-upgrade"
    );
    assert_eq!(run("plan", &["--exit-code"]).0, 0);

    // Deleted by hand: reported, never taken again.
    d.virsh(&["snapshot-delete", "sn-vm", "before-upgrade"]);
    let (code, text) = run("plan", &[]);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("deleted outside virtsync"), "{text}");
    let (code, text) = run("apply", &["--yes"]);
    assert_eq!(code, 1, "nothing changed: {text}");
    assert!(d
        .virsh(&["snapshot-list", "sn-vm", "--name"])
        .trim()
        .is_empty());
}

#[test]
fn a_snapshot_policy_snapshots_before_each_restart_and_keeps_two() {
    require_daemon!();
    let d = PrivateDaemon::start();
    let state = tempfile::tempdir().unwrap();
    let storage = format!(
        "{API}\nkind: StoragePool\nmetadata: {{name: sp-pool}}\nspec: {{type: dir, path: /var/lib/libvirt/images/sp-pool}}\n---\n\
         {API}\nkind: Volume\nmetadata: {{name: sp.qcow2}}\nspec: {{pool: sp-pool, capacity: 64MiB}}\n"
    );
    let guest = |max: u32| {
        halted_domain(
            "sp-vm",
            &format!(
                "  memory: 64MiB\n  maxMemory: {max}MiB\n  vcpus: 1\n  restartPolicy: onConfigChange\n  shutdownTimeout: 1s\n  \
                 snapshotPolicy: {{beforeDisruptiveChange: true, keep: 2}}\n  disks:\n    - volume: {{pool: sp-pool, name: sp.qcow2}}\n"
            ),
        )
    };
    let dir = manifest_dir(&[("storage.yaml", &storage), ("guest.yaml", &guest(128))]);
    let run = |cmd: &str, args: &[&str]| {
        let out = d.virtsync(cmd, dir.path(), state.path(), args);
        (out.status.code().unwrap_or(-1), output_text(&out))
    };
    let (code, text) = run("apply", &["--yes"]);
    assert_eq!(code, 0, "{text}");
    let policy = || -> Vec<String> {
        d.virsh(&["snapshot-list", "sp-vm", "--name"])
            .lines()
            .map(str::trim)
            .filter(|l| l.starts_with("sp-vm-auto-"))
            .map(String::from)
            .collect()
    };
    assert!(policy().is_empty(), "no restart yet, no snapshot");
    // Three next-boot changes, each restarting the guest: a snapshot
    // before each restart, the newest two kept.
    let mut seen = Vec::new();
    for max in [192, 256, 320] {
        std::fs::write(dir.path().join("guest.yaml"), guest(max)).unwrap();
        let (code, text) = run("apply", &["--yes"]);
        assert_eq!(code, 0, "{text}");
        assert!(
            text.contains("create-snapshot") && text.contains("domain/sp-vm/restart"),
            "{text}"
        );
        seen.extend(policy());
        assert_eq!(run("plan", &["--exit-code"]).0, 0, "re-plan is empty");
    }
    let kept = policy();
    assert_eq!(kept.len(), 2, "{kept:?}");
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 3, "three were taken: {seen:?}");
    assert_eq!(kept, seen[1..], "the newest two are kept");
}

/// A re-create (persistent → transient, then a change a transient domain
/// can only take by being created anew) keeps the domain's snapshots: their
/// metadata is saved first and redefined on the new definition, after the
/// policy's snapshot of the disruptive change. Re-plan is empty each time.
#[test]
fn a_re_create_keeps_the_snapshots() {
    require_daemon!();
    let d = PrivateDaemon::start();
    let state = tempfile::tempdir().unwrap();
    let storage = format!(
        "{API}\nkind: StoragePool\nmetadata: {{name: rc-pool}}\nspec: {{type: dir, path: /var/lib/libvirt/images/rc-pool}}\n---\n\
         {API}\nkind: Volume\nmetadata: {{name: rc.qcow2}}\nspec: {{pool: rc-pool, capacity: 64MiB}}\n"
    );
    let guest = |persistent: bool, max_vcpus: u32| {
        halted_domain(
            "rc-vm",
            &format!(
                "  persistent: {persistent}\n  memory: 64MiB\n  vcpus: 1\n  maxVcpus: {max_vcpus}\n  shutdownTimeout: 1s\n  snapshotPolicy: {{beforeDisruptiveChange: true, keep: 5}}\n  disks:\n    - volume: {{pool: rc-pool, name: rc.qcow2}}\n"
            ),
        )
    };
    let declared =
        format!("{API}\nkind: Snapshot\nmetadata: {{name: base}}\nspec: {{domain: rc-vm, description: kept}}\n");
    let dir = manifest_dir(&[
        ("storage.yaml", &storage),
        ("guest.yaml", &guest(true, 2)),
        ("snapshot.yaml", &declared),
    ]);
    let apply = || d.apply_converged(dir.path(), state.path());
    let snapshots = || {
        let mut v: Vec<String> = d
            .virsh(&["snapshot-list", "rc-vm", "--name"])
            .lines()
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty())
            .collect();
        v.sort();
        v
    };
    apply();
    assert_eq!(snapshots(), ["base"]);

    // Persistent → transient with a change: shut down, undefine, create.
    std::fs::write(dir.path().join("guest.yaml"), guest(false, 3)).unwrap();
    let text = apply();
    assert!(text.contains("domain/rc-vm/save-snapshots"), "{text}");
    assert!(text.contains("domain/rc-vm/restore-snapshots"), "{text}");
    assert!(d
        .virsh(&["list", "--transient", "--name"])
        .contains("rc-vm"));
    let after_flip = snapshots();
    assert_eq!(after_flip.len(), 2, "{after_flip:?}");
    assert!(after_flip.contains(&"base".to_string()));
    assert!(after_flip.iter().any(|s| s.starts_with("rc-vm-auto-")));
    let xml = d.virsh(&["snapshot-dumpxml", "rc-vm", "base"]);
    assert!(xml.contains("<description>kept</description>"), "{xml}");

    // A transient domain takes a next-boot change by being created anew:
    // the snapshots come along again.
    std::fs::write(dir.path().join("guest.yaml"), guest(false, 2)).unwrap();
    apply();
    let again = snapshots();
    assert_eq!(again.len(), 3, "{again:?}");
    assert!(again.contains(&"base".to_string()));
}

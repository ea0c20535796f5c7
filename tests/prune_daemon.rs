//! Pruning on a real, private libvirtd, through the command line: a
//! removed manifest deletes nothing without `--prune` (the plan says what
//! a prune would do); with it the running guest is shut down and undefined
//! with its snapshot metadata, its disk kept, and the re-plan is empty;
//! the guards refuse an empty directory and more deletions than the cap,
//! deleting nothing; another manifest set's objects are never touched.
//! Also counts the RPCs of a converged apply with and without `--prune`.

use std::collections::BTreeSet;
use std::path::Path;

mod common;

use common::{halted_domain, manifest_dir, output_text, rpc_counts, PrivateDaemon, READ_PROCS};

const API: &str = "apiVersion: virtsync.io/v1alpha1";

fn shutoff(name: &str) -> String {
    halted_domain(name, "  memory: 64MiB\n  vcpus: 1\n  state: shutoff\n")
}

fn names(d: &PrivateDaemon) -> BTreeSet<String> {
    d.virsh(&["list", "--all", "--name"])
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

/// RPCs of one converged `apply` (`args` added), which must write nothing.
fn converged_rpcs(d: &PrivateDaemon, log: &Path, dir: &Path, state: &Path, args: &[&str]) -> usize {
    std::fs::write(log, "").expect("truncate RPC log");
    let mut all = vec!["--yes"];
    all.extend_from_slice(args);
    let out = d.virtsync("apply", dir, state, &all);
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("converged:"), "{text}");
    std::thread::sleep(std::time::Duration::from_millis(300));
    let counts = rpc_counts(log);
    let allowed: BTreeSet<u32> = READ_PROCS.iter().map(|(n, _)| *n).collect();
    let writes: Vec<_> = counts.keys().filter(|p| !allowed.contains(p)).collect();
    assert!(
        writes.is_empty(),
        "a converged apply {args:?} wrote: {writes:?} ({counts:?})"
    );
    counts.values().sum()
}

#[test]
fn a_removed_manifest_is_pruned_only_with_prune_and_within_the_guards() {
    require_daemon!();
    let d = PrivateDaemon::start();
    let state = tempfile::tempdir().unwrap();
    let storage = format!(
        "{API}\nkind: StoragePool\nmetadata: {{name: pd-pool}}\nspec: {{type: dir, path: /var/lib/libvirt/images/pd-pool}}\n"
    );
    let volume = format!(
        "{API}\nkind: Volume\nmetadata: {{name: pd-web.qcow2}}\nspec: {{pool: pd-pool, capacity: 64MiB}}\n"
    );
    let web = halted_domain(
        "pd-web",
        "  memory: 64MiB\n  vcpus: 1\n  disks:\n    - volume: {pool: pd-pool, name: pd-web.qcow2}\n",
    );
    let snapshot =
        format!("{API}\nkind: Snapshot\nmetadata: {{name: before}}\nspec: {{domain: pd-web}}\n");
    let extra: Vec<(String, String)> = (1..=6)
        .map(|i| (format!("x{i}.yaml"), shutoff(&format!("pd-x{i}"))))
        .collect();
    let stay = shutoff("pd-stay");
    let mut files: Vec<(&str, &str)> = vec![
        (".virtsync-owner", "prune-daemon-test\n"),
        ("storage.yaml", &storage),
        ("volume.yaml", &volume),
        ("web.yaml", &web),
        ("snapshot.yaml", &snapshot),
        ("stay.yaml", &stay),
    ];
    files.extend(extra.iter().map(|(f, y)| (f.as_str(), y.as_str())));
    let dir = manifest_dir(&files);
    let run = |cmd: &str, args: &[&str]| {
        let out = d.virtsync(cmd, dir.path(), state.path(), args);
        (out.status.code().unwrap_or(-1), output_text(&out))
    };
    d.apply_converged(dir.path(), state.path());
    assert_eq!(
        d.virsh(&["snapshot-list", "pd-web", "--name"]).trim(),
        "before"
    );
    // Where libvirt keeps the snapshot's metadata.
    let snapshot_meta = d.path().join("lib/qemu/snapshot/pd-web/before.xml");
    assert!(snapshot_meta.exists(), "{}", snapshot_meta.display());
    assert_eq!(d.virsh(&["domstate", "pd-web"]).trim(), "running");
    // The marker names the owner from .virtsync-owner.
    let xml = d.virsh(&["dumpxml", "--inactive", "pd-web"]);
    assert!(xml.contains("owner=\"prune-daemon-test\""), "{xml}");

    // A converged apply costs the same reads without --prune as before
    // owners existed; --prune reads every marker (and the recorded pools'
    // volumes) on top.
    let log = d.log_rpcs();
    let plain = converged_rpcs(&d, &log, dir.path(), state.path(), &[]);
    let pruning = converged_rpcs(&d, &log, dir.path(), state.path(), &["--prune"]);
    // A pool, a volume, eight domains and a snapshot.
    let objects = 11;
    eprintln!("converged apply RPCs: {plain} without --prune, {pruning} with --prune");
    assert!(plain <= objects + 15, "{plain} RPCs");
    assert!(pruning >= plain, "{pruning} < {plain}");

    // The guest's (and its snapshot's and volume's) manifests are removed.
    for f in ["web.yaml", "snapshot.yaml", "volume.yaml"] {
        std::fs::remove_file(dir.path().join(f)).unwrap();
    }
    let (code, text) = run("plan", &["--exit-code"]);
    assert_eq!(code, 0, "nothing to do without --prune:\n{text}");
    assert!(
        text.contains("! domain pd-web: its manifest is gone: --prune would shut it down and undefine it (its disks are kept)"),
        "{text}"
    );
    let (code, text) = run("apply", &["--yes"]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("converged:"), "{text}");
    assert_eq!(
        d.virsh(&["domstate", "pd-web"]).trim(),
        "running",
        "not pruned without --prune"
    );

    let (code, text) = run("plan", &["--prune", "--exit-code"]);
    assert_eq!(code, 2, "{text}");
    assert!(
        text.starts_with("Pruning 1 object whose manifests are gone (--prune):\n> domain pd-web: shutdown\n- domain pd-web: undefine\n"),
        "{text}"
    );
    let (code, json) = run("plan", &["--prune", "--output", "json"]);
    assert_eq!(code, 0, "{json}");
    let v: serde_json::Value = serde_json::from_str(json.trim()).expect(&json);
    let undefine = v["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == "domain/pd-web/undefine")
        .expect(&json);
    assert_eq!(undefine["effect"], "delete");
    assert_eq!(undefine["step"]["flags"]["snapshotsMetadata"], true);

    let (code, text) = run("apply", &["--yes", "--prune", "--shutdown-timeout", "1s"]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("converged:"), "{text}");
    assert!(!names(&d).contains("pd-web"), "{:?}", names(&d));
    assert!(
        !snapshot_meta.exists(),
        "the snapshot metadata went with the domain"
    );
    // Its disk is kept (retain, the default): in the pool, and on disk.
    assert!(d.virsh(&["vol-list", "pd-pool"]).contains("pd-web.qcow2"));
    let (code, text) = run("plan", &["--prune", "--exit-code"]);
    assert_eq!(code, 0, "the re-plan is empty:\n{text}");
    assert!(
        text.contains("! volume pd-pool/pd-web.qcow2: kept"),
        "{text}"
    );

    // Six deletions with the default cap of 5: refused, nothing deleted.
    for (f, _) in &extra {
        std::fs::remove_file(dir.path().join(f)).unwrap();
    }
    let (code, text) = run("apply", &["--yes", "--prune"]);
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("prune refused: it would delete 6 objects, more than --max-deletions 5"),
        "{text}"
    );
    let all = names(&d);
    assert!(
        (1..=6).all(|i| all.contains(&format!("pd-x{i}"))),
        "{all:?}"
    );
    let (code, text) = run("apply", &["--yes", "--prune", "--max-deletions", "6"]);
    assert_eq!(code, 0, "{text}");
    let all = names(&d);
    assert!(
        (1..=6).all(|i| !all.contains(&format!("pd-x{i}"))),
        "{all:?}"
    );

    // An empty directory (same owner) never prunes without --allow-empty.
    let empty = manifest_dir(&[(".virtsync-owner", "prune-daemon-test\n")]);
    let out = d.virtsync("apply", empty.path(), state.path(), &["--yes", "--prune"]);
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("no manifests") && text.contains("--allow-empty"),
        "{text}"
    );
    assert!(names(&d).contains("pd-stay"));
    let out = d.virtsync(
        "apply",
        empty.path(),
        state.path(),
        &["--yes", "--prune", "--allow-empty"],
    );
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(!names(&d).contains("pd-stay"), "{text}");
    assert!(
        !d.virsh(&["pool-list", "--all", "--name"])
            .contains("pd-pool"),
        "{text}"
    );
    // The pool's directory and the retained volume stay on disk.
    assert!(d.path().join("lib/images/pd-pool/pd-web.qcow2").exists());
}

#[test]
fn another_manifest_sets_objects_are_untouched() {
    require_daemon!();
    let d = PrivateDaemon::start();
    let state = tempfile::tempdir().unwrap();
    let net = format!(
        "{API}\nkind: Network\nmetadata: {{name: po-net}}\nspec: {{forward: {{mode: isolated}}}}\n"
    );
    let a = manifest_dir(&[
        (".virtsync-owner", "repo-a"),
        ("a.yaml", &shutoff("po-a")),
        ("net.yaml", &net),
    ]);
    d.apply_converged(a.path(), state.path());

    // Repository B, sharing the host and the state directory, prunes.
    let b = manifest_dir(&[(".virtsync-owner", "repo-b"), ("b.yaml", &shutoff("po-b"))]);
    let out = d.virtsync("apply", b.path(), state.path(), &["--yes", "--prune"]);
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(!text.contains("po-a") && !text.contains("po-net"), "{text}");
    let all = names(&d);
    assert!(all.contains("po-a") && all.contains("po-b"), "{all:?}");
    assert!(d.virsh(&["net-list", "--all", "--name"]).contains("po-net"));

    // B naming A's domain is blocked, not adopted: plan exits 1.
    std::fs::write(b.path().join("a.yaml"), shutoff("po-a")).unwrap();
    let out = d.virtsync("plan", b.path(), state.path(), &["--output", "json"]);
    let json = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
    let v: serde_json::Value = serde_json::from_str(json.trim()).expect(&json);
    assert_eq!(v["blocked"][0]["name"], "po-a", "{json}");
    assert_eq!(v["blocked"][0]["cause"], "other-owner", "{json}");
    let out = d.virtsync("status", b.path(), state.path(), &[]);
    let text = output_text(&out);
    let row = text.lines().find(|l| l.contains("po-a")).expect(&text);
    assert!(
        row.contains("unmanaged collision") && row.contains("owner `repo-a`"),
        "{text}"
    );
    // And A still converges, untouched.
    let out = d.virtsync("plan", a.path(), state.path(), &["--exit-code", "--prune"]);
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
}

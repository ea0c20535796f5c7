//! Ownership and the one-writer lock on a real, private libvirtd, through
//! the `virtsync` binary as an operator runs it:
//!
//! - the host is known by its UUID, not by how its URI is spelled: a pool
//!   and volume created through `qemu+unix:///system?socket=…` are
//!   virtsync's through `qemu:///system?socket=…` too, and an inventory of
//!   the old, URI-keyed format moves to the host's UUID;
//! - a second `apply` waits for the first (naming it), then finds nothing
//!   to do; with a short `--lock-timeout` it gives up, exit 1;
//! - an `apply` killed with SIGKILL midway leaves nothing the next `apply`
//!   refuses: it converges, nothing blocked, nothing created twice.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{halted_domain, manifest_dir, output_text, PrivateDaemon};

const API: &str = "apiVersion: virtsync.io/v1alpha1";

fn storage(pool: &str, volumes: &[&str]) -> String {
    let mut s = format!(
        "{API}\nkind: StoragePool\nmetadata: {{name: {pool}}}\nspec: {{type: dir, path: /var/lib/libvirt/images/{pool}}}\n"
    );
    for v in volumes {
        s.push_str(&format!(
            "---\n{API}\nkind: Volume\nmetadata: {{name: {v}}}\nspec: {{pool: {pool}, capacity: 16MiB}}\n"
        ));
    }
    s
}

/// The daemon's host UUID (scripts/private-libvirtd gives each its own).
fn host_uuid(d: &PrivateDaemon) -> String {
    std::fs::read_to_string(d.path().join("host_uuid"))
        .expect("host_uuid")
        .trim()
        .to_string()
}

/// `virtsync ARGS` started in the background.
fn spawn(args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_virtsync"))
        .env_remove("LIBVIRT_DEFAULT_URI")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run virtsync")
}

/// Wait until `pid` holds a host lock under `state` (its lock file names
/// it), at most `limit`.
fn wait_for_lock(state: &Path, pid: u32, limit: Duration) {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        let held = std::fs::read_dir(state.join("locks"))
            .into_iter()
            .flatten()
            .flatten()
            .any(|e| virtsync::lock::read_holder(&e.path()).is_some_and(|h| h.pid == pid));
        if held {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("virtsync {pid} did not take the lock within {limit:?}");
}

fn args<'a>(cmd: &'a str, dir: &'a str, uri: &'a str, state: &'a str) -> Vec<&'a str> {
    vec![cmd, dir, "--connect", uri, "--state-dir", state]
}

#[test]
fn two_spellings_of_one_hosts_uri_share_its_ownership_record() {
    require_daemon!();
    let d = PrivateDaemon::start();
    let state = tempfile::tempdir().unwrap();
    let dir = manifest_dir(&[("storage.yaml", &storage("ow-pool", &["a.qcow2"]))]);
    let plus_unix = d.uri.clone();
    let plain = d.uri.replacen("qemu+unix://", "qemu://", 1);
    assert_ne!(plain, plus_unix);
    let uuid = host_uuid(&d);

    // Created through one spelling...
    let out = d.virtsync("apply", dir.path(), state.path(), &["--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    let inv = std::fs::read_to_string(state.path().join("inventory.json")).unwrap();
    assert!(inv.contains(&format!("\"{uuid}\"")), "{inv}");
    assert!(inv.contains("\"formatVersion\": 2"), "{inv}");

    // ...virtsync's through the other: nothing to do, nothing refused.
    let (s, dd) = (state.path().to_string_lossy(), dir.path().to_string_lossy());
    let (out, _) = common::virtsync(
        &[&args("plan", &dd, &plain, &s)[..], &["--exit-code"]].concat(),
        Duration::from_secs(60),
    );
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    let (out, _) = common::virtsync(
        &[&args("apply", &dd, &plain, &s)[..], &["--yes"]].concat(),
        Duration::from_secs(60),
    );
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("converged: 2 objects in sync"), "{text}");

    // An inventory of the old format, keyed by the URI it was made
    // through, moves to the host's UUID on the first apply through it.
    let v: serde_json::Value = serde_json::from_str(&inv).unwrap();
    let record = &v["hosts"][&uuid];
    let old = serde_json::json!({ "hosts": { plus_unix.clone(): {
        "pools": record["pools"], "volumes": record["volumes"], "snapshots": {}
    }}});
    std::fs::write(state.path().join("inventory.json"), old.to_string()).unwrap();
    let (out, _) = common::virtsync(
        &[&args("plan", &dd, &plain, &s)[..], &["--exit-code"]].concat(),
        Duration::from_secs(60),
    );
    // Not yet known through the other spelling: refused, as a collision.
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
    assert!(output_text(&out).contains("not in the inventory"));
    let out = d.virtsync("apply", dir.path(), state.path(), &["--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    let migrated: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(state.path().join("inventory.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(migrated["formatVersion"], 2, "{migrated}");
    assert!(migrated.get("byUri").is_none(), "{migrated}");
    assert_eq!(
        migrated["hosts"][&uuid]["pools"], record["pools"],
        "{migrated}"
    );
    let (out, _) = common::virtsync(
        &[&args("plan", &dd, &plain, &s)[..], &["--exit-code"]].concat(),
        Duration::from_secs(60),
    );
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
}

#[test]
fn a_second_apply_waits_for_the_first_then_finds_nothing_to_do() {
    require_daemon!();
    let d = PrivateDaemon::start();
    let state = tempfile::tempdir().unwrap();
    let guest = |s: &str| {
        halted_domain(
            "lk-vm",
            &format!("  state: {s}\n  memory: 64MiB\n  vcpus: 1\n  shutdownTimeout: 6s\n"),
        )
    };
    let dir = manifest_dir(&[("guest.yaml", &guest("running"))]);
    d.apply_converged(dir.path(), state.path());
    // A shutdown the guest (no OS) never completes: the first apply holds
    // the lock for the whole shutdownTimeout.
    std::fs::write(dir.path().join("guest.yaml"), guest("shutoff")).unwrap();
    let (dd, s) = (
        dir.path().to_string_lossy().to_string(),
        state.path().to_string_lossy().to_string(),
    );
    let first = spawn(&[&args("apply", &dd, &d.uri, &s)[..], &["--yes"]].concat());
    let pid = first.id();
    wait_for_lock(state.path(), pid, Duration::from_secs(30));

    // With a short timeout: gives up, naming the holder; changed nothing.
    let (out, took) = common::virtsync(
        &[
            &args("apply", &dd, &d.uri, &s)[..],
            &["--yes", "--lock-timeout", "1s"],
        ]
        .concat(),
        Duration::from_secs(60),
    );
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains(&format!("pid {pid}")) && text.contains("apply"),
        "{text}"
    );
    assert!(text.contains("--lock-timeout"), "{text}");
    assert!(took >= Duration::from_secs(1), "{took:?}");
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("done "),
        "{text}"
    );

    // `plan` takes no lock: it answers at once.
    let (out, took) = common::virtsync(&args("plan", &dd, &d.uri, &s), Duration::from_secs(60));
    assert!(out.status.success(), "{}", output_text(&out));
    assert!(took < Duration::from_secs(4), "plan waited: {took:?}");

    // With the default timeout: waits, then has nothing to do.
    let second = spawn(&[&args("apply", &dd, &d.uri, &s)[..], &["--yes"]].concat());
    let first = first.wait_with_output().expect("first apply");
    let first_done = Instant::now();
    let second = second.wait_with_output().expect("second apply");
    let second_done = Instant::now();
    let (one, two) = (output_text(&first), output_text(&second));
    assert_eq!(first.status.code(), Some(0), "{one}");
    assert!(one.contains("done     domain/lk-vm/shutdown"), "{one}");
    assert_eq!(second.status.code(), Some(0), "{two}");
    assert!(second_done >= first_done);
    assert!(
        two.contains("waiting for host") && two.contains(&format!("pid {pid}")),
        "{two}"
    );
    assert!(two.contains("converged: 1 objects in sync"), "{two}");
    assert!(!two.contains("done "), "the second apply acted: {two}");
    assert_eq!(d.virsh(&["domstate", "lk-vm"]).trim(), "shut off");
}

#[test]
fn an_apply_killed_midway_leaves_nothing_the_next_one_refuses() {
    require_daemon!();
    let d = PrivateDaemon::start();
    let state = tempfile::tempdir().unwrap();
    let guest = |s: &str| {
        halted_domain(
            "kl-vm",
            &format!("  state: {s}\n  memory: 64MiB\n  vcpus: 1\n  shutdownTimeout: 10s\n"),
        )
    };
    let dir = manifest_dir(&[("guest.yaml", &guest("running"))]);
    d.apply_converged(dir.path(), state.path());

    // One slow action (a shutdown the guest never completes) beside the
    // creates of a pool and its volumes, which are done long before it.
    std::fs::write(dir.path().join("guest.yaml"), guest("shutoff")).unwrap();
    std::fs::write(
        dir.path().join("storage.yaml"),
        storage("kl-pool", &["a.qcow2", "b.qcow2"]),
    )
    .unwrap();
    let (dd, s) = (
        dir.path().to_string_lossy().to_string(),
        state.path().to_string_lossy().to_string(),
    );
    let mut apply = spawn(&[&args("apply", &dd, &d.uri, &s)[..], &["--yes"]].concat());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let vols = Command::new("virsh")
            .args(["-q", "-c", &d.uri, "vol-list", "kl-pool"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        if vols.contains("a.qcow2") && vols.contains("b.qcow2") {
            break;
        }
        assert!(Instant::now() < deadline, "the volumes were not created");
        std::thread::sleep(Duration::from_millis(50));
    }
    apply.kill().expect("SIGKILL");
    let killed = apply.wait_with_output().expect("killed apply");
    assert_eq!(killed.status.code(), None, "{}", output_text(&killed));
    assert_eq!(d.virsh(&["domstate", "kl-vm"]).trim(), "running");

    // The next apply: nothing refused, nothing made twice, converged.
    let text = d.apply_converged(dir.path(), state.path());
    assert!(!text.contains("blocked"), "{text}");
    assert!(
        !text.contains("create-volume") && !text.contains("pool/kl-pool/define"),
        "{text}"
    );
    assert!(text.contains("domain/kl-vm/shutdown"), "{text}");
    let pools = d.virsh(&["pool-list", "--all", "--name"]);
    assert_eq!(pools.lines().filter(|l| l.trim() == "kl-pool").count(), 1);
    let vols = d.virsh(&["vol-list", "kl-pool"]);
    assert_eq!(
        vols.lines().filter(|l| !l.trim().is_empty()).count(),
        2,
        "{vols}"
    );
    let inv = std::fs::read_to_string(state.path().join("inventory.json")).unwrap();
    assert!(!inv.contains("intents"), "{inv}");
}

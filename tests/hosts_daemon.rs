//! Hosts on real, private libvirt daemons (a domain moved between them:
//! migrate_daemon): a host that cannot be reached blocks
//! only its own objects, and a hung daemon fails its host within seconds
//! instead of blocking `plan` forever.

mod common;

use std::time::Duration;

use common::{halted_domain, host_manifest, manifest_dir, output_text, PrivateDaemon};

/// `virtsync CMD DIR ...` against `d`, with how long it took.
fn run(
    cmd: &str,
    dir: &std::path::Path,
    d: &PrivateDaemon,
    state: &std::path::Path,
    args: &[&str],
) -> (std::process::Output, Duration) {
    let start = std::time::Instant::now();
    let out = d.virtsync(cmd, dir, state, args);
    (out, start.elapsed())
}

#[test]
fn an_unreachable_host_blocks_only_its_objects() {
    require_daemon!();
    let a = PrivateDaemon::start();
    let state = tempfile::tempdir().unwrap();
    let here = |mem: &str| {
        halted_domain(
            "ur-here",
            &format!("  memory: {mem}\n  vcpus: 1\n  state: shutoff\n"),
        )
    };
    let dir = manifest_dir(&[("here.yaml", &here("64MiB"))]);
    let (out, _) = run("apply", dir.path(), &a, state.path(), &["--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    // A host appears that cannot be reached, with a domain on it; the
    // domain already here changes, and a new network comes.
    let gone = "qemu+unix:///system?socket=/nonexistent/virtsync-test/libvirt-sock";
    let files = [
        ("hosts.yaml", host_manifest("gone", gone)),
        ("here.yaml", here("96MiB")),
        (
            "there.yaml",
            halted_domain("ur-there", "  memory: 64MiB\n  vcpus: 1\n  state: shutoff\n")
                .replace("  name: ur-there\n", "  name: ur-there\n  host: gone\n"),
        ),
        (
            "net.yaml",
            "apiVersion: virtsync.io/v1alpha1\nkind: Network\nmetadata: {name: ur-net}\nspec: {active: false}\n".to_string(),
        ),
    ];
    for (name, text) in &files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let (out, _) = run("plan", dir.path(), &a, state.path(), &["--output", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).expect("plan JSON");
    assert_eq!(plan["unreachableHosts"][0]["host"], "gone");
    assert_eq!(plan["blocked"].as_array().unwrap().len(), 1, "{plan}");
    assert_eq!(plan["blocked"][0]["name"], "ur-there");
    assert!(plan["blocked"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("cannot be reached"));
    let (out, _) = run("apply", dir.path(), &a, state.path(), &["--yes"]);
    let text = output_text(&out);
    assert_eq!(
        out.status.code(),
        Some(3),
        "changed something, one blocked: {text}"
    );
    assert!(
        text.contains("not converged") && text.contains("ur-there"),
        "{text}"
    );
    assert!(a.virsh(&["dominfo", "ur-here"]).contains("98304 KiB"));
    assert!(a.virsh(&["net-list", "--all", "--name"]).contains("ur-net"));
}

#[test]
fn no_new_domain_while_a_host_it_may_have_moved_from_is_unreachable() {
    require_daemon!();
    let a = PrivateDaemon::start();
    let state = tempfile::tempdir().unwrap();
    let gone = "qemu+unix:///system?socket=/nonexistent/virtsync-test/libvirt-sock";
    let dir = manifest_dir(&[
        ("hosts.yaml", &host_manifest("gone", gone)),
        (
            "new.yaml",
            &halted_domain("ur-new", "  memory: 64MiB\n  vcpus: 1\n  state: shutoff\n"),
        ),
    ]);
    let (out, _) = run("apply", dir.path(), &a, state.path(), &["--yes"]);
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "nothing changed: {text}");
    assert!(
        text.contains("ur-new") && text.contains("may be managed there"),
        "{text}"
    );
    assert!(a.virsh(&["list", "--all", "--name"]).trim().is_empty());
}

#[test]
fn a_hung_daemon_fails_its_host_within_seconds() {
    require_daemon!();
    let a = PrivateDaemon::start();
    let state = tempfile::tempdir().unwrap();
    let dir = manifest_dir(&[(
        "d.yaml",
        &halted_domain("hung-1", "  memory: 64MiB\n  vcpus: 1\n  state: shutoff\n"),
    )]);
    let (out, _) = run("apply", dir.path(), &a, state.path(), &["--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    let _frozen = a.freeze();
    let (out, took) = run("plan", dir.path(), &a, state.path(), &[]);
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("could not be observed") || text.contains("cannot be reached"),
        "{text}"
    );
    assert!(
        took < Duration::from_secs(30),
        "plan took {took:?} against a hung daemon"
    );
}

#[test]
fn a_daemon_that_hangs_after_connecting_is_noticed_by_keepalive() {
    require_daemon!();
    let a = PrivateDaemon::start();
    let dir = manifest_dir(&[(
        "d.yaml",
        &halted_domain("hung-2", "  memory: 64MiB\n  vcpus: 1\n  state: shutoff\n"),
    )]);
    let desired = common::load(dir.path());
    let lab = common::Lab::connect(&desired, &a.uri);
    assert!(lab.plan(&desired).plan.is_complete());
    let _frozen = a.freeze();
    // The connection is open: only keepalive can tell the daemon is gone.
    let start = std::time::Instant::now();
    let planned = lab.plan(&desired);
    let took = start.elapsed();
    assert_eq!(
        planned.plan.unreachable_hosts.len(),
        1,
        "{:?}",
        planned.plan
    );
    assert_eq!(planned.plan.blocked.len(), 1);
    assert!(
        took < Duration::from_secs(20),
        "observing a hung daemon took {took:?}"
    );
}

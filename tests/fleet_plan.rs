//! `--host NAME` without a daemon (libvirt's test driver): only the objects
//! placed on NAME are planned, at `--connect`; an unknown name is refused
//! with the names there are; a Host manifest naming another machine than
//! the one `--connect` reaches blocks that host's objects instead of
//! applying them to the wrong machine.

mod common;

use std::time::Duration;

use common::{halted_domain, host_manifest, manifest_dir, output_text, virtsync};

/// Hosts a and b (at `b_uri`), a guest on each.
fn dir_with(b_uri: &str) -> tempfile::TempDir {
    let guest = |name: &str, host: &str| {
        halted_domain(name, "  memory: 64MiB\n  vcpus: 1\n  state: shutoff\n").replace(
            &format!("  name: {name}\n"),
            &format!("  name: {name}\n  host: {host}\n"),
        )
    };
    manifest_dir(&[
        ("a.yaml", &host_manifest("a", "test:///default")),
        ("b.yaml", &host_manifest("b", b_uri)),
        ("ga.yaml", &guest("ga", "a")),
        ("gb.yaml", &guest("gb", "b")),
    ])
}

/// Host b is not this machine (nor reachable): `--host b` here must
/// refuse.
fn dir() -> tempfile::TempDir {
    dir_with("qemu+ssh://virtsync@b.invalid/system")
}

fn plan(dir: &std::path::Path, host: &str) -> (Option<i32>, String) {
    command("plan", dir, host)
}

/// `virtsync CMD DIR --connect test:///default --host HOST`.
fn command(cmd: &str, dir: &std::path::Path, host: &str) -> (Option<i32>, String) {
    let state = tempfile::tempdir().unwrap();
    let (out, _) = virtsync(
        &[
            cmd,
            &dir.to_string_lossy(),
            "--connect",
            "test:///default",
            "--state-dir",
            &state.path().to_string_lossy(),
            "--host",
            host,
        ],
        Duration::from_secs(60),
    );
    (out.status.code(), output_text(&out))
}

#[test]
fn host_plans_only_the_objects_placed_on_that_host() {
    // Host b is another test-driver instance: observed (for moves), never
    // planned for.
    let node = tempfile::tempdir().unwrap();
    let path = node.path().join("b.xml");
    std::fs::write(&path, "<node/>\n").unwrap();
    let d = dir_with(&format!("test://{}", path.display()));
    let (code, text) = plan(d.path(), "a");
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("ga"), "{text}");
    assert!(!text.contains("gb"), "{text}");
}

#[test]
fn a_new_domain_waits_while_another_known_host_cannot_be_observed() {
    // It may be a domain moved away from there, still running: creating
    // it here would run it twice.
    let d = dir();
    let (code, text) = plan(d.path(), "a");
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("x domain ga on a: blocked: host b cannot be reached")
            && !text.contains("gb"),
        "{text}"
    );
}

#[test]
fn an_unknown_host_is_refused_with_the_known_names() {
    let d = dir();
    let (code, text) = plan(d.path(), "c");
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("--host c: no Host manifest is named c (hosts: a, b, default)"),
        "{text}"
    );
}

#[test]
fn a_host_whose_manifest_names_another_machine_is_not_planned_here() {
    let d = dir();
    let (code, text) = plan(d.path(), "b");
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("but the Host manifest b is qemu+ssh://virtsync@b.invalid/system")
            && text.contains("gb on b: blocked"),
        "{text}"
    );
}

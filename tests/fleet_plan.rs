//! `--host NAME` without a daemon (libvirt's test driver): only the objects
//! placed on NAME are planned, at `--connect`; an unknown name is refused
//! with the names there are; a Host manifest naming another machine than
//! the one `--connect` reaches blocks that host's objects instead of
//! applying them to the wrong machine.

mod common;

use std::time::Duration;

use common::{halted_domain, host_manifest, manifest_dir, output_text, virtsync};

fn dir() -> tempfile::TempDir {
    let guest = |name: &str, host: &str| {
        halted_domain(name, "  memory: 64MiB\n  vcpus: 1\n  state: shutoff\n").replace(
            &format!("  name: {name}\n"),
            &format!("  name: {name}\n  host: {host}\n"),
        )
    };
    manifest_dir(&[
        ("a.yaml", &host_manifest("a", "test:///default")),
        // Not this machine: `--host b` here must refuse.
        (
            "b.yaml",
            &host_manifest("b", "qemu+ssh://virtsync@b.invalid/system"),
        ),
        ("ga.yaml", &guest("ga", "a")),
        ("gb.yaml", &guest("gb", "b")),
    ])
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
    let d = dir();
    let (code, text) = plan(d.path(), "a");
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("ga"), "{text}");
    assert!(
        !text.contains("gb") && !text.contains("b.invalid"),
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

//! A domain whose `metadata.host` moves, on two private daemons standing
//! for two hosts: a running one migrates live (same UUID and MAC, not
//! restarted), a shut-off one is defined on the target only; re-plan is
//! empty on both.

mod common;

use common::{halted_domain, manifest_dir, output_text, PrivateDaemon};

fn host_manifest(name: &str, uri: &str) -> String {
    // Tunnelled: the two daemons live in separate network namespaces and
    // reach each other only through their sockets.
    format!("apiVersion: virtsync.io/v1alpha1\nkind: Host\nmetadata: {{name: {name}}}\nspec:\n  uri: \"{uri}\"\n  migration: {{tunnelled: true, maxDowntime: 500ms}}\n")
}

fn network(name: &str, host: &str, third: u8) -> String {
    format!(
        "apiVersion: virtsync.io/v1alpha1\nkind: Network\nmetadata: {{name: {name}{host}}}\nspec:\n  forward: {{mode: nat}}\n  ipv4: {{address: 10.{third}.7.1, prefix: 24}}\n"
    )
}

/// A guest named `name` placed by `host` (`""`: the default connection).
fn guest(name: &str, host: &str, state: &str, nic: bool) -> String {
    let mut spec = format!("  memory: 64MiB\n  vcpus: 1\n  state: {state}\n");
    if nic {
        spec.push_str("  interfaces:\n    - network: mv-net\n      bootRom: false\n");
    }
    let host = if host.is_empty() {
        String::new()
    } else {
        format!(", host: {host}")
    };
    halted_domain(name, &spec).replace(
        &format!("metadata:\n  name: {name}\n"),
        &format!("metadata: {{name: {name}{host}}}\n"),
    )
}

fn mac(d: &PrivateDaemon, name: &str) -> String {
    let x = d.domain_xml(name, true);
    x.find(&["devices", "interface", "mac"])
        .and_then(|m| m.attr("address").map(str::to_string))
        .expect("a MAC")
}

#[test]
fn a_running_domain_moved_to_another_host_migrates_live() {
    require_daemon!();
    let a = PrivateDaemon::start();
    let b = PrivateDaemon::start();
    let state = tempfile::tempdir().unwrap();
    let nets = format!(
        "{}---\n{}",
        network("mv-net", "", 61),
        network("mv-net", ", host: hostb", 62)
    );
    let dir = manifest_dir(&[
        ("hosts.yaml", &host_manifest("hostb", &b.uri)),
        ("nets.yaml", &nets),
        ("guest.yaml", &guest("mv-live", "", "running", true)),
    ]);
    a.apply_converged(dir.path(), state.path());
    let (uuid, mac_a) = (
        a.virsh(&["domuuid", "mv-live"]).trim().to_string(),
        mac(&a, "mv-live"),
    );

    std::fs::write(
        dir.path().join("guest.yaml"),
        guest("mv-live", "hostb", "running", true),
    )
    .unwrap();
    let out = a.virtsync("plan", dir.path(), state.path(), &[]);
    let text = output_text(&out);
    assert!(
        text.contains("» domain mv-live: migrate to hostb (live)")
            && text.contains("host: (unset) → hostb [live]")
            && text.contains("1 to move (1 actions)"),
        "one migrate action:\n{text}"
    );
    // A migration that fails (a direct QEMU stream cannot reach the other
    // daemon's network namespace) leaves the guest running where it was.
    std::fs::write(
        dir.path().join("hosts.yaml"),
        host_manifest("hostb", &b.uri).replace("tunnelled: true", "tunnelled: false"),
    )
    .unwrap();
    let out = a.virtsync("apply", dir.path(), state.path(), &["--yes"]);
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("FAILED   domain/mv-live/migrate"), "{text}");
    assert_eq!(a.virsh(&["domstate", "mv-live"]).trim(), "running");
    assert!(b.virsh(&["list", "--all", "--name"]).trim().is_empty());
    std::fs::write(
        dir.path().join("hosts.yaml"),
        host_manifest("hostb", &b.uri),
    )
    .unwrap();
    let applied = a.apply_converged(dir.path(), state.path());
    assert!(applied.contains("migrate"), "{applied}");
    // On b, running, the same UUID and MAC; gone from a.
    assert!(a.virsh(&["list", "--all", "--name"]).trim().is_empty());
    assert_eq!(b.virsh(&["domstate", "mv-live"]).trim(), "running");
    assert_eq!(b.virsh(&["domuuid", "mv-live"]).trim(), uuid);
    assert_eq!(mac(&b, "mv-live"), mac_a);
    // Not restarted: the target says it runs because it migrated in.
    let reason = b.virsh(&["domstate", "--reason", "mv-live"]);
    assert!(reason.contains("migrated"), "{reason}");
    // Persistent on b, with virtsync's marker.
    let persistent = b.virsh(&["dominfo", "mv-live"]);
    assert!(
        persistent
            .lines()
            .any(|l| l.starts_with("Persistent:") && l.contains("yes")),
        "{persistent}"
    );
}

#[test]
fn a_shut_off_domain_moved_to_another_host_is_defined_there_only() {
    require_daemon!();
    let a = PrivateDaemon::start();
    let b = PrivateDaemon::start();
    let state = tempfile::tempdir().unwrap();
    let dir = manifest_dir(&[
        ("hosts.yaml", &host_manifest("hostb", &b.uri)),
        ("guest.yaml", &guest("mv-off", "", "shutoff", false)),
    ]);
    a.apply_converged(dir.path(), state.path());
    let uuid = a.virsh(&["domuuid", "mv-off"]).trim().to_string();
    std::fs::write(
        dir.path().join("guest.yaml"),
        guest("mv-off", "hostb", "shutoff", false),
    )
    .unwrap();
    let out = a.virtsync("plan", dir.path(), state.path(), &[]);
    let text = output_text(&out);
    assert!(
        text.contains("» domain mv-off on hostb: define")
            && text.contains("» domain mv-off: undefine"),
        "{text}"
    );
    a.apply_converged(dir.path(), state.path());
    assert!(a.virsh(&["list", "--all", "--name"]).trim().is_empty());
    assert_eq!(b.virsh(&["domstate", "mv-off"]).trim(), "shut off");
    assert_eq!(b.virsh(&["domuuid", "mv-off"]).trim(), uuid);
}

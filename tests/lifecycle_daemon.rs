//! The everyday virsh lifecycle, enforced from the manifest on a real,
//! private libvirtd: a guest destroyed behind virtsync's back is started
//! again; `paused` suspends it and `running` resumes it (the same domain
//! id: no restart); `shutoff` stops it. Every re-plan is empty.

mod common;

use common::{halted_domain, manifest_dir, PrivateDaemon};

#[test]
fn power_state_is_enforced_both_ways() {
    require_daemon!();
    let d = PrivateDaemon::start();
    let state = tempfile::tempdir().unwrap();
    let guest = |s: &str| {
        halted_domain(
            "lc-vm",
            &format!("  state: {s}\n  memory: 64MiB\n  vcpus: 1\n  shutdownTimeout: 1s\n"),
        )
    };
    let dir = manifest_dir(&[("guest.yaml", &guest("running"))]);
    let apply = || d.apply_converged(dir.path(), state.path());
    let domstate = || d.virsh(&["domstate", "lc-vm"]).trim().to_string();
    let id = || d.virsh(&["domid", "lc-vm"]).trim().to_string();
    apply();
    assert_eq!(domstate(), "running");

    // Destroyed by hand: drift, started again.
    d.virsh(&["destroy", "lc-vm"]);
    let text = apply();
    assert!(text.contains("domain/lc-vm/start"), "{text}");
    assert_eq!(domstate(), "running");
    let running_id = id();

    // paused suspends, running resumes: the same guest, no restart.
    std::fs::write(dir.path().join("guest.yaml"), guest("paused")).unwrap();
    let text = apply();
    assert!(text.contains("domain/lc-vm/suspend"), "{text}");
    assert_eq!(domstate(), "paused");
    std::fs::write(dir.path().join("guest.yaml"), guest("running")).unwrap();
    let text = apply();
    assert!(text.contains("domain/lc-vm/resume"), "{text}");
    assert_eq!(domstate(), "running");
    assert_eq!(id(), running_id, "resumed, not restarted");

    // shutoff stops it (the guest has no OS: the graceful shutdown times
    // out into destroy).
    std::fs::write(dir.path().join("guest.yaml"), guest("shutoff")).unwrap();
    let text = apply();
    assert!(text.contains("domain/lc-vm/shutdown"), "{text}");
    assert_eq!(domstate(), "shut off");
}

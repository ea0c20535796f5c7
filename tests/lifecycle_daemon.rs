//! The everyday virsh lifecycle, enforced from the manifest on a real,
//! private libvirtd: a guest destroyed behind virtsync's back is started
//! again; `paused` suspends it and `running` resumes it (the same domain
//! id: no restart); `shutoff` stops it. Every re-plan is empty.

mod common;

use common::{halted_domain, manifest_dir, output_text, PrivateDaemon};

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

/// "Restart pending" is known on every run, not only by the run that made
/// the change: a later `plan` names the fields the running guest lacks;
/// live resizes are bounded by the maximums the guest booted with;
/// `onConfigChange` restarts once and the pending list is gone.
#[test]
fn restart_pending_is_known_on_later_runs() {
    require_daemon!();
    let d = PrivateDaemon::start();
    let state = tempfile::tempdir().unwrap();
    let guest = |mem: &str, max: &str, policy: &str| {
        halted_domain(
            "rp-vm",
            &format!(
                "  memory: {mem}\n  maxMemory: {max}\n  vcpus: 1\n  shutdownTimeout: 1s\n  restartPolicy: {policy}\n"
            ),
        )
    };
    let dir = manifest_dir(&[("guest.yaml", &guest("64MiB", "128MiB", "never"))]);
    let write = |m: String| std::fs::write(dir.path().join("guest.yaml"), m).unwrap();
    let run = |cmd: &str, args: &[&str]| {
        let out = d.virtsync(cmd, dir.path(), state.path(), args);
        (out.status.code(), output_text(&out))
    };
    let id = || d.virsh(&["domid", "rp-vm"]).trim().to_string();
    let persistent_mem = || {
        let xml = d.virsh(&["dumpxml", "--inactive", "rp-vm"]);
        let at = xml.find("<currentMemory").expect("currentMemory");
        xml[at..xml[at..].find("</currentMemory>").unwrap() + at].to_string()
    };
    let (code, text) = run("apply", &["--yes"]);
    assert_eq!(code, Some(0), "{text}");
    let booted = id();

    // Within the live maximum: live, the same guest, the config follows.
    write(guest("96MiB", "128MiB", "never"));
    let (code, text) = run("plan", &[]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("(live)"), "{text}");
    let (code, text) = run("apply", &["--yes"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(!text.contains("restart pending"), "{text}");
    assert_eq!(id(), booted);
    assert!(persistent_mem().contains("98304"), "{}", persistent_mem());
    let (code, text) = run("plan", &["--exit-code"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(!text.contains("restart pending"), "{text}");

    // A raised maximum waits for the next boot: converged, pending.
    write(guest("96MiB", "256MiB", "never"));
    let (code, text) = run("apply", &["--yes"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("restart pending: maxMemory"), "{text}");
    // A later run, a new process: it still knows.
    let (code, text) = run("plan", &["--exit-code"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("restart pending: maxMemory"), "{text}");

    // Memory above the maximum the guest booted with (128 MiB), within the
    // new one: next boot, never a failing live resize.
    write(guest("192MiB", "256MiB", "never"));
    let (code, text) = run("plan", &[]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("(next-boot)"), "{text}");
    assert!(!text.contains("(live)"), "{text}");
    let (code, text) = run("apply", &["--yes"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("Apply: 1 done, 0 failed"), "{text}");
    assert_eq!(id(), booted, "not restarted under restartPolicy: never");
    assert!(persistent_mem().contains("196608"), "{}", persistent_mem());
    let (code, text) = run("plan", &["--exit-code"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("restart pending: maxMemory, memory"),
        "{text}"
    );
    // status, a later run too: restart pending is not drift (exit 0).
    let (code, text) = run("status", &[]);
    assert_eq!(code, Some(0), "{text}");
    let row = text.lines().find(|l| l.contains("rp-vm")).expect(&text);
    assert!(
        row.contains("restart pending") && row.contains("maxMemory, memory"),
        "{text}"
    );

    // onConfigChange: one restart, then nothing pending, nothing to do.
    write(guest("192MiB", "256MiB", "onConfigChange"));
    let (code, text) = run("apply", &["--yes"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("domain/rp-vm/restart"), "{text}");
    let restarted = id();
    assert_ne!(restarted, booted);
    let (code, text) = run("apply", &["--yes"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(!text.contains("restart"), "{text}");
    assert_eq!(id(), restarted, "restarted once");
    let (code, text) = run("status", &[]);
    assert_eq!(code, Some(0), "{text}");
    let row = text.lines().find(|l| l.contains("rp-vm")).expect(&text);
    assert!(row.contains("in sync"), "{text}");

    // A paused guest restarted for its config comes back paused.
    let paused = |max: &str| {
        guest("192MiB", max, "onConfigChange").replace("  memory:", "  state: paused\n  memory:")
    };
    write(paused("256MiB"));
    let (code, text) = run("apply", &["--yes"]);
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(d.virsh(&["domstate", "rp-vm"]).trim(), "paused");
    write(paused("320MiB"));
    let (code, text) = run("apply", &["--yes"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("domain/rp-vm/restart"), "{text}");
    assert_ne!(id(), restarted);
    assert_eq!(d.virsh(&["domstate", "rp-vm"]).trim(), "paused");
    let (code, text) = run("plan", &["--exit-code"]);
    assert_eq!(code, Some(0), "{text}");
}

/// The live comparison names only what the guest lacks: a guest with a
/// volume disk, a NIC, graphics, a console and a custom CPU whose
/// `maxVcpus` was raised while it ran is pending exactly `maxVcpus` — no
/// field that merely reads differently in a running guest's XML.
#[test]
fn pending_names_only_what_the_guest_lacks() {
    require_daemon!();
    let d = PrivateDaemon::start();
    let state = tempfile::tempdir().unwrap();
    let manifest = |max_vcpus: u32| {
        format!(
            r#"apiVersion: virtsync.io/v1alpha1
kind: StoragePool
metadata: {{name: rp-pool}}
spec: {{type: dir, path: /var/lib/libvirt/images/rp-pool}}
---
apiVersion: virtsync.io/v1alpha1
kind: Volume
metadata: {{name: root.qcow2}}
spec: {{pool: rp-pool, capacity: 16MiB}}
---
apiVersion: virtsync.io/v1alpha1
kind: Network
metadata: {{name: rp-net}}
spec: {{forward: {{mode: isolated}}}}
---
{}"#,
            halted_domain(
                "rp-full",
                &format!(
                    "  memory: 64MiB\n  vcpus: 1\n  maxVcpus: {max_vcpus}\n  cpu: {{mode: custom, model: kvm64}}\n  graphics: {{type: vnc}}\n  console: pty\n  disks:\n    - volume: {{pool: rp-pool, name: root.qcow2}}\n  interfaces:\n    - network: rp-net\n"
                )
            )
        )
    };
    let dir = manifest_dir(&[("m.yaml", &manifest(2))]);
    let run = |cmd: &str, args: &[&str]| {
        let out = d.virtsync(cmd, dir.path(), state.path(), args);
        (out.status.code(), output_text(&out))
    };
    let (code, text) = run("apply", &["--yes"]);
    assert_eq!(code, Some(0), "{text}");
    std::fs::write(dir.path().join("m.yaml"), manifest(4)).unwrap();
    let (code, text) = run("apply", &["--yes"]);
    assert_eq!(code, Some(0), "{text}");
    let (code, text) = run("plan", &["--exit-code"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("restart pending: maxVcpus take effect"),
        "{text}"
    );
}

/// A transient domain takes live what a running guest can take — memory
/// within its maximum, vCPUs hot-added — instead of being created anew
/// for every change: the same guest (same id), and re-plan is empty (the
/// balloon target is kept in the marker of its live definition: the guest
/// has no balloon driver to report it).
#[test]
fn transient_domains_take_live_changes_live() {
    require_daemon!();
    let d = PrivateDaemon::start();
    let state = tempfile::tempdir().unwrap();
    let guest = |mem: &str, vcpus: u32| {
        halted_domain(
            "tr-vm",
            &format!(
                "  persistent: false\n  memory: {mem}\n  maxMemory: 128MiB\n  vcpus: {vcpus}\n  maxVcpus: 2\n  shutdownTimeout: 1s\n"
            ),
        )
    };
    let dir = manifest_dir(&[("guest.yaml", &guest("64MiB", 1))]);
    let apply = || d.apply_converged(dir.path(), state.path());
    let id = || d.virsh(&["domid", "tr-vm"]).trim().to_string();
    apply();
    let booted = id();
    assert!(d
        .virsh(&["list", "--transient", "--name"])
        .contains("tr-vm"));

    std::fs::write(dir.path().join("guest.yaml"), guest("96MiB", 1)).unwrap();
    let text = apply();
    assert!(text.contains("domain/tr-vm/update-live"), "{text}");
    assert!(!text.contains("domain/tr-vm/create"), "{text}");
    assert_eq!(id(), booted);

    std::fs::write(dir.path().join("guest.yaml"), guest("96MiB", 2)).unwrap();
    let text = apply();
    assert!(text.contains("domain/tr-vm/update-live"), "{text}");
    assert_eq!(id(), booted);
    let xml = d.virsh(&["dumpxml", "tr-vm"]);
    assert!(xml.contains("<vcpu placement='static'>2</vcpu>"), "{xml}");

    // What a running guest cannot take (vCPUs removed: the guest would
    // have to agree): created anew.
    std::fs::write(dir.path().join("guest.yaml"), guest("96MiB", 1)).unwrap();
    let text = apply();
    assert!(text.contains("domain/tr-vm/create"), "{text}");
    assert_ne!(id(), booted);
}

//! Devices of running guests on a real, private libvirtd, through the
//! `virtsync` binary: removing the first of two disks or NICs unplugs that
//! one and keeps the second — attached in the running guest and in the
//! persistent config, at its place (no "target duplicated", no "double use
//! of PCI address") — and adding a SATA CD-ROM while dropping vdb defines
//! both, unplugs vdb and leaves the CD-ROM for the next boot.
//!
//! Guests are tiny, halted ones (no OS): a device they are asked to release
//! may stay in the running guest, which never acknowledges the unplug; what
//! must hold is that the survivor is never touched.

mod common;

use std::process::Output;

use common::{manifest_dir, PrivateDaemon};

struct Fixture {
    daemon: PrivateDaemon,
    manifests: tempfile::TempDir,
    state: tempfile::TempDir,
}

impl Fixture {
    fn new(manifest: &str) -> Fixture {
        Fixture {
            daemon: PrivateDaemon::start(),
            manifests: manifest_dir(&[("m.yaml", manifest)]),
            state: tempfile::tempdir().expect("state dir"),
        }
    }

    fn write(&self, manifest: &str) {
        std::fs::write(self.manifests.path().join("m.yaml"), manifest).unwrap();
    }

    /// The driver type of the disk at `target` in the persistent config.
    fn driver_type(&self, target: &str) -> Option<String> {
        let xml = self.daemon.virsh(&["dumpxml", "--inactive", "dv"]);
        let root = virtsync::xml::Element::parse(&xml).unwrap();
        let disk = root
            .child("devices")?
            .children_named("disk")
            .find(|d| d.child("target").and_then(|t| t.attr("dev")) == Some(target))?;
        disk.child("driver")?.attr("type").map(str::to_string)
    }

    fn run(&self, cmd: &str, args: &[&str]) -> Output {
        self.daemon
            .virtsync(cmd, self.manifests.path(), self.state.path(), args)
    }

    /// `apply --yes ARGS`, which must exit 0 and report convergence.
    fn apply_ok(&self) -> String {
        self.apply_ok_with(&[])
    }

    fn apply_ok_with(&self, args: &[&str]) -> String {
        let mut all = vec!["--yes"];
        all.extend_from_slice(args);
        let out = self.run("apply", &all);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.status.code(), Some(0), "apply failed:\n{text}");
        assert!(text.contains("converged:"), "{text}");
        text
    }

    /// `plan --exit-code` is 0: nothing left to do.
    fn assert_plan_empty(&self) {
        let out = self.run("plan", &["--exit-code"]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "plan after apply is not empty:\n{}",
            String::from_utf8_lossy(&out.stdout)
        );
    }

    /// (target, source) of the disks, live or persistent.
    fn disks(&self, live: bool) -> Vec<(String, String)> {
        let mut args = vec!["domblklist", "dv"];
        if !live {
            args.push("--inactive");
        }
        self.daemon
            .virsh(&args)
            .lines()
            .filter_map(|l| {
                let mut w = l.split_whitespace();
                Some((w.next()?.to_string(), w.next()?.to_string()))
            })
            .collect()
    }

    /// (source network, MAC) of the NICs, live or persistent.
    fn nics(&self, live: bool) -> Vec<(String, String)> {
        let mut args = vec!["domiflist", "dv"];
        if !live {
            args.push("--inactive");
        }
        self.daemon
            .virsh(&args)
            .lines()
            .filter_map(|l| {
                let w: Vec<&str> = l.split_whitespace().collect();
                Some((w.get(2)?.to_string(), w.get(4)?.to_string()))
            })
            .collect()
    }
}

/// A pool with volumes `a` and `b`, two isolated networks, and the running
/// guest `dv` with `devices` (YAML lines under `spec:`).
fn manifest(pool: &str, devices: &str) -> String {
    manifest_with_memory(pool, devices, "64MiB")
}

fn manifest_with_memory(pool: &str, devices: &str, memory: &str) -> String {
    format!(
        r#"apiVersion: virtsync.io/v1alpha1
kind: StoragePool
metadata: {{name: dv-pool}}
spec: {{type: dir, path: /var/lib/libvirt/images/{pool}}}
---
apiVersion: virtsync.io/v1alpha1
kind: Volume
metadata: {{name: a.raw}}
spec: {{pool: dv-pool, capacity: 16MiB, format: raw}}
---
apiVersion: virtsync.io/v1alpha1
kind: Volume
metadata: {{name: b.raw}}
spec: {{pool: dv-pool, capacity: 16MiB, format: raw}}
---
apiVersion: virtsync.io/v1alpha1
kind: Network
metadata: {{name: dv-net-a}}
spec: {{forward: {{mode: isolated}}}}
---
apiVersion: virtsync.io/v1alpha1
kind: Network
metadata: {{name: dv-net-b}}
spec: {{forward: {{mode: isolated}}}}
---
apiVersion: virtsync.io/v1alpha1
kind: Domain
metadata: {{name: dv, labels: {{app: dv}}}}
spec:
  memory: {memory}
  vcpus: 1
  boot: [hd]
{devices}  xml:
    - at: /domain/os
      merge: "<bios rebootTimeout='-1'/>"
"#
    )
}

const A: &str = "    - volume: {pool: dv-pool, name: a.raw}\n";
const B: &str = "    - volume: {pool: dv-pool, name: b.raw}\n";

/// How `virsh domblklist` shows a volume disk: by volume name.
fn path(_pool: &str, vol: &str) -> String {
    vol.to_string()
}

#[test]
fn removing_the_first_disk_of_a_running_guest_keeps_the_second() {
    require_daemon!();
    let pool = "dv-pool-first-disk";
    let f = Fixture::new(&manifest(pool, &format!("  disks:\n{A}{B}")));
    f.apply_ok();
    let both = vec![
        ("vda".to_string(), path(pool, "a.raw")),
        ("vdb".to_string(), path(pool, "b.raw")),
    ];
    assert_eq!(f.disks(true), both);

    f.write(&manifest(pool, &format!("  disks:\n{B}")));
    f.apply_ok();
    // b stays where it was, in the config and in the running guest.
    assert_eq!(f.disks(false), [("vdb".to_string(), path(pool, "b.raw"))]);
    assert!(
        f.disks(true)
            .contains(&("vdb".to_string(), path(pool, "b.raw"))),
        "{:?}",
        f.disks(true)
    );
    f.assert_plan_empty();
}

#[test]
fn removing_the_first_nic_of_a_running_guest_keeps_the_second() {
    require_daemon!();
    let pool = "dv-pool-first-nic";
    let nics = "  interfaces:\n    - {network: dv-net-a, bootRom: false}\n    - {network: dv-net-b, bootRom: false}\n";
    let f = Fixture::new(&manifest(pool, nics));
    f.apply_ok();
    let before = f.nics(true);
    assert_eq!(before.len(), 2, "{before:?}");
    let second = before[1].clone();
    assert_eq!(second.0, "dv-net-b");

    f.write(&manifest(
        pool,
        "  interfaces:\n    - {network: dv-net-b, bootRom: false}\n",
    ));
    f.apply_ok();
    // The NIC on dv-net-b keeps its MAC, in the config and live.
    assert_eq!(f.nics(false), std::slice::from_ref(&second));
    assert!(f.nics(true).contains(&second), "{:?}", f.nics(true));
    f.assert_plan_empty();
}

#[test]
fn adding_a_sata_cdrom_while_dropping_vdb() {
    require_daemon!();
    let pool = "dv-pool-cdrom";
    let f = Fixture::new(&manifest(pool, &format!("  disks:\n{A}{B}")));
    f.apply_ok();

    f.write(&manifest(
        pool,
        &format!("  disks:\n{A}    - device: cdrom\n"),
    ));
    let out = f.apply_ok();
    assert!(out.contains("restart pending"), "{out}");
    // The config has a and the CD-ROM; the running guest still has a and
    // gets the SATA CD-ROM at its next boot.
    assert_eq!(
        f.disks(false),
        [
            ("vda".to_string(), path(pool, "a.raw")),
            ("sda".to_string(), "-".to_string()),
        ]
    );
    let live = f.disks(true);
    assert!(
        live.contains(&("vda".to_string(), path(pool, "a.raw"))),
        "{live:?}"
    );
    assert!(!live.iter().any(|(t, _)| t == "sda"), "{live:?}");
    f.assert_plan_empty();
}

#[test]
fn apply_with_a_selector_keeps_a_raw_volume_disk_raw() {
    require_daemon!();
    let pool = "dv-pool-selector";
    let f = Fixture::new(&manifest(pool, &format!("  disks:\n{A}")));
    f.apply_ok();
    assert_eq!(f.driver_type("vda").as_deref(), Some("raw"));
    // Only the domain is selected: the Volume manifest (raw) is not.
    f.write(&manifest_with_memory(
        pool,
        &format!("  disks:\n{A}"),
        "48MiB",
    ));
    f.apply_ok_with(&["--selector", "app=dv"]);
    assert_eq!(f.driver_type("vda").as_deref(), Some("raw"));
    let xml = f.daemon.virsh(&["dumpxml", "--inactive", "dv"]);
    assert!(
        xml.contains("<currentMemory unit='KiB'>49152</currentMemory>"),
        "{xml}"
    );
    f.assert_plan_empty();
}

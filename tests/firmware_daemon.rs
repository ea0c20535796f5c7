//! Machine family, firmware and arch changes on a real, private libvirtd,
//! through the `virtsync` binary: the define libvirt accepts, the guest
//! that starts from it, and a re-plan that is empty each time.
//!
//! A running guest (tiny, no OS) with devices libvirt addresses and
//! virtsync does not model (a SATA CD-ROM, an `<rng>`, an i6300esb
//! `<watchdog>` — a legacy PCI device, behind a PCIe-to-PCI bridge on q35 —
//! a USB tablet, the `<memballoon>` libvirt adds) moves pc → q35 under
//! `restartPolicy: never` (restart pending: it runs on as pc, its persistent
//! config is q35), then back and forth under `onConfigChange` (one restart
//! each, and it runs on the new family). Likewise bios ↔ uefi, on a TCG
//! guest (`type: qemu`: UEFI pauses at once under this machine's nested
//! KVM), and an arch change on a shut-off guest.

mod common;

use common::{halted_domain, manifest_dir, PrivateDaemon};
use virtsync::xml::Element;

/// A running guest `name` of `spec` (indented lines) with the devices of
/// the module docs.
fn guest(name: &str, spec: &str) -> String {
    let mut m = halted_domain(
        name,
        &format!("  memory: 64MiB\n  vcpus: 1\n  shutdownTimeout: 1s\n  disks:\n    - {{device: cdrom}}\n{spec}"),
    );
    for device in [
        "<rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>",
        "<watchdog model='i6300esb' action='reset'/>",
        "<input type='tablet' bus='usb'/>",
    ] {
        m.push_str(&format!(
            "    - at: /domain/devices\n      merge: \"{device}\"\n"
        ));
    }
    m
}

struct Lab {
    daemon: PrivateDaemon,
    manifests: tempfile::TempDir,
    state: tempfile::TempDir,
    name: &'static str,
}

impl Lab {
    fn new(name: &'static str) -> Lab {
        Lab {
            daemon: PrivateDaemon::start(),
            manifests: manifest_dir(&[]),
            state: tempfile::tempdir().expect("state dir"),
            name,
        }
    }

    /// Apply the guest with `spec`; it must converge with an empty re-plan.
    fn apply(&self, spec: &str) -> String {
        std::fs::write(
            self.manifests.path().join("guest.yaml"),
            guest(self.name, spec),
        )
        .unwrap();
        self.daemon
            .apply_converged(self.manifests.path(), self.state.path())
    }

    /// `virtsync status` (a later run, a new process): exit code and text.
    fn status(&self) -> (Option<i32>, String) {
        let out = self
            .daemon
            .virtsync("status", self.manifests.path(), self.state.path(), &[]);
        (out.status.code(), common::output_text(&out))
    }

    fn xml(&self, inactive: bool) -> Element {
        self.daemon.domain_xml(self.name, inactive)
    }

    fn domstate(&self) -> String {
        self.daemon
            .virsh(&["domstate", self.name])
            .trim()
            .to_string()
    }

    fn domid(&self) -> String {
        self.daemon.virsh(&["domid", self.name]).trim().to_string()
    }
}

fn machine(root: &Element) -> String {
    root.find(&["os", "type"])
        .and_then(|t| t.attr("machine"))
        .unwrap_or_default()
        .to_string()
}

/// `type[ index][ model]` of each controller.
fn controllers(root: &Element) -> Vec<String> {
    root.child("devices")
        .unwrap()
        .children_named("controller")
        .map(|c| {
            [c.attr("type"), c.attr("index"), c.attr("model")]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

/// The devices virtsync does not model are all there.
fn assert_devices_kept(root: &Element) {
    let devices = root.child("devices").unwrap();
    for name in ["rng", "watchdog", "memballoon", "input"] {
        assert!(
            devices.children_named(name).count() > 0,
            "no <{name}> in\n{}",
            root.to_xml()
        );
    }
    assert!(devices
        .children_named("disk")
        .any(|d| d.attr("device") == Some("cdrom")));
}

/// What libvirt derives for each family (libvirt 9.0): the PCI root and
/// ports, the built-in SATA controller, the USB model.
fn assert_family(root: &Element, q35: bool) {
    let c = controllers(root);
    let has = |x: &str| c.iter().any(|y| y == x);
    if q35 {
        assert!(machine(root).starts_with("pc-q35-"), "{}", machine(root));
        assert!(
            has("pci 0 pcie-root") && has("usb 0 qemu-xhci") && has("sata 0"),
            "{c:?}"
        );
        assert!(c.iter().any(|y| y.ends_with("pcie-to-pci-bridge")), "{c:?}");
        assert!(!has("pci 0 pci-root"), "{c:?}");
    } else {
        assert!(machine(root).starts_with("pc-i440fx-"), "{}", machine(root));
        assert!(has("pci 0 pci-root") && has("usb 0 piix3-uhci"), "{c:?}");
        assert!(
            c.iter().all(|y| !y.contains("pcie")),
            "q35's PCIe topology left on pc: {c:?}"
        );
    }
    assert_devices_kept(root);
}

#[test]
fn machine_family_changes_of_a_running_guest() {
    require_daemon!();
    let lab = Lab::new("fam-vm");
    lab.apply("  machine: pc\n");
    assert_eq!(lab.domstate(), "running");
    assert_family(&lab.xml(true), false);
    let id = lab.domid();

    // restartPolicy never: the define only. The guest runs on as pc, and
    // the persistent config is what libvirt makes of a q35 guest.
    let text = lab.apply("  machine: q35\n");
    assert!(text.contains("machine: pc-i440fx-7.2 → q35"), "{text}");
    assert!(text.contains("restart pending: machine"), "{text}");
    assert!(!text.contains("domain/fam-vm/restart"), "{text}");
    assert_eq!((lab.domstate(), lab.domid()), ("running".into(), id));
    assert_family(&lab.xml(true), true);
    assert_family(&lab.xml(false), false);
    // A later run still knows what the running guest lacks.
    let (code, text) = lab.status();
    assert_eq!(code, Some(0), "{text}");
    let row = text.lines().find(|l| l.contains("fam-vm")).expect(&text);
    assert!(
        row.contains("restart pending") && row.contains("machine"),
        "{text}"
    );

    // onConfigChange: one restart each way, and the guest runs on the new
    // family.
    let policy = "  restartPolicy: onConfigChange\n";
    for (m, q35) in [("pc", false), ("q35", true), ("pc", false)] {
        let text = lab.apply(&format!("  machine: {m}\n{policy}"));
        assert!(text.contains("domain/fam-vm/restart"), "{text}");
        assert_eq!(lab.domstate(), "running");
        assert_family(&lab.xml(true), q35);
        assert_family(&lab.xml(false), q35);
    }
}

#[test]
fn firmware_changes_of_a_running_guest() {
    require_daemon!();
    let lab = Lab::new("fw-vm");
    let spec = |fw: &str, policy: &str| {
        format!("  type: qemu\n  machine: q35\n  firmware: {fw}\n  restartPolicy: {policy}\n")
    };
    // What the running guest boots: OVMF from flash, or SeaBIOS.
    let live_loader = |lab: &Lab| {
        lab.xml(false)
            .find(&["os", "loader"])
            .map(|l| (l.attr("type").unwrap_or_default().to_string(), l.text()))
    };
    lab.apply(&spec("bios", "never"));
    assert_eq!(live_loader(&lab), None);
    let id = lab.domid();

    let text = lab.apply(&spec("uefi", "never"));
    assert!(text.contains("firmware: bios → uefi"), "{text}");
    assert!(text.contains("restart pending: firmware"), "{text}");
    assert_eq!((lab.domstate(), lab.domid()), ("running".into(), id));
    let (code, text) = lab.status();
    assert_eq!(code, Some(0), "{text}");
    let row = text.lines().find(|l| l.contains("fw-vm")).expect(&text);
    assert!(
        row.contains("restart pending") && row.contains("firmware"),
        "{text}"
    );
    assert_eq!(
        lab.xml(true).child("os").unwrap().attr("firmware"),
        Some("efi")
    );
    assert_eq!(live_loader(&lab), None);

    for (fw, uefi) in [("bios", false), ("uefi", true), ("bios", false)] {
        let text = lab.apply(&spec(fw, "onConfigChange"));
        assert!(text.contains("domain/fw-vm/restart"), "{text}");
        assert_eq!(lab.domstate(), "running");
        let os = lab.xml(true);
        let os = os.child("os").unwrap();
        assert_eq!(os.attr("firmware").is_some(), uefi);
        // Autoselection decides at start: nothing of a former selection is
        // pinned in the persistent config.
        assert!(os.child("loader").is_none(), "{}", os.to_xml());
        match live_loader(&lab) {
            Some((ty, path)) => assert!(uefi && ty == "pflash" && path.contains("OVMF"), "{path}"),
            None => assert!(!uefi, "a UEFI guest runs without a flash loader"),
        }
        assert_devices_kept(&lab.xml(true));
    }
}

#[test]
fn an_arch_change_takes_the_new_arch_emulator() {
    require_daemon!();
    let lab = Lab::new("arch-vm");
    let spec =
        |arch: &str, state: &str| format!("  arch: {arch}\n  machine: pc\n  state: {state}\n");
    lab.apply(&spec("x86_64", "shutoff"));
    let emulator = |lab: &Lab| {
        lab.xml(true)
            .find(&["devices", "emulator"])
            .map(|e| e.text())
    };
    assert_eq!(
        emulator(&lab).as_deref(),
        Some("/usr/bin/qemu-system-x86_64")
    );
    let text = lab.apply(&spec("i686", "shutoff"));
    assert!(text.contains("arch: x86_64 → i686"), "{text}");
    assert_eq!(emulator(&lab).as_deref(), Some("/usr/bin/qemu-system-i386"));
    assert_family(&lab.xml(true), false);
    // And the definition starts.
    lab.apply(&spec("i686", "running"));
    assert_eq!(lab.domstate(), "running");
}

#[test]
fn a_hand_made_uefi_guest_takes_secure_boot_through_autoselection() {
    require_daemon!();
    let lab = Lab::new("ovmf-vm");
    // Defined by hand (the way virt-install did before autoselection): a
    // pinned OVMF build and its variable template, beside what libvirt
    // refuses with autoselection.
    let nvram = "/var/lib/libvirt/qemu/nvram/ovmf-vm_VARS.fd";
    let xml = common::corpus::owned(&format!(
        "<domain type='qemu'><name>ovmf-vm</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>\
         <os><type arch='x86_64' machine='q35'>hvm</type>\
         <loader readonly='yes' secure='no' type='pflash'>/usr/share/OVMF/OVMF_CODE_4M.fd</loader>\
         <nvram template='/usr/share/OVMF/OVMF_VARS_4M.fd'>{nvram}</nvram><boot dev='hd'/></os>\
         <features><acpi/><apic/></features><devices/></domain>"
    ))
    .to_xml();
    // The marker names the tests' owner: so does the manifest directory.
    std::fs::write(
        lab.manifests.path().join(".virtsync-owner"),
        common::TEST_OWNER,
    )
    .unwrap();
    let file = lab.manifests.path().join("ovmf-vm.xml.in");
    std::fs::write(&file, xml).unwrap();
    lab.daemon.virsh(&["define", file.to_str().unwrap()]);
    lab.daemon.virsh(&["start", "ovmf-vm"]);
    let manifest = |secure: bool| {
        halted_domain(
            "ovmf-vm",
            &format!("  type: qemu\n  memory: 64MiB\n  vcpus: 1\n  firmware: uefi\n  secureBoot: {secure}\n  restartPolicy: onConfigChange\n  shutdownTimeout: 1s\n"),
        )
    };
    let live_loader = |lab: &Lab| {
        lab.xml(false)
            .find(&["os", "loader"])
            .map(|l| l.text())
            .unwrap_or_default()
    };
    for (secure, code) in [(true, "OVMF_CODE_4M.ms.fd"), (false, "OVMF_CODE_4M.fd")] {
        std::fs::write(lab.manifests.path().join("guest.yaml"), manifest(secure)).unwrap();
        let text = lab
            .daemon
            .apply_converged(lab.manifests.path(), lab.state.path());
        assert!(text.contains("domain/ovmf-vm/restart"), "{text}");
        assert_eq!(lab.domstate(), "running");
        assert!(live_loader(&lab).ends_with(code), "{}", live_loader(&lab));
        // The guest's variable store is the one it had.
        let stored = lab.xml(true);
        assert_eq!(
            stored.find(&["os", "nvram"]).map(|n| n.text()).as_deref(),
            Some(nvram)
        );
        assert!(stored.find(&["os", "loader"]).is_none());
    }
}

//! Machine family, firmware and arch changes, planner level: the define
//! drops what libvirt derived from the old value — and nothing else — so
//! libvirt derives it anew; the change is a next-boot field change with a
//! restart pending (or a restart under `onConfigChange`), never a replace.
//!
//! The observed domains are libvirt's own stored XML: the same devices
//! defined on `pc` and on `q35` (tests/fixtures/machine/, captured from a
//! private daemon) and the corpus's UEFI domains. Each snapshot is the diff
//! between the observed XML and the XML the plan defines.
//!
//! Update the snapshots after an intended change with
//! `INSTA_UPDATE=always cargo test --test firmware_plan` and review the
//! diff of tests/snapshots/.

use std::path::Path;

use virtsync::model::PowerState;
use virtsync::plan::{render_text, Action, ChangeClass, Operation, Plan, Step};
use virtsync::render::domain::read_domain;
use virtsync::xml::Element;

mod common;

use common::corpus::{owned, plan_one};
use common::{check_schema, pretty_xml};

fn fixture(rel: &str) -> Element {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel);
    owned(&std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
}

/// A manifest for the observed domain `name` (its memory and vCPUs as they
/// are) with `spec` (indented lines) on top.
fn manifest(root: &Element, spec: &str) -> String {
    let f = read_domain(root);
    let name = root.child("name").unwrap().text();
    format!(
        "apiVersion: virtsync.io/v1alpha1\nkind: Domain\nmetadata: {{name: {name}}}\nspec:\n  memory: {}KiB\n  vcpus: {}\n{spec}",
        f.memory_kib.0, f.vcpus
    )
}

fn define(p: &Plan) -> &Action {
    p.actions
        .iter()
        .find(|a| a.operation == Operation::Define)
        .unwrap_or_else(|| panic!("no define in\n{}", render_text(p)))
}

fn defined(p: &Plan) -> Element {
    match &define(p).step {
        Step::DefineDomain { xml } => Element::parse(xml).unwrap(),
        other => panic!("{other:?}"),
    }
}

/// What the plan's define changes, as a unified diff of the indented XML
/// (the ownership marker is not this test's subject).
fn xml_diff(before: &Element, after: &Element) -> String {
    let strip = |e: &Element| {
        let mut e = e.clone();
        e.remove_children("metadata");
        pretty_xml(&e.to_xml())
    };
    let (a, b) = (strip(before), strip(after));
    similar::TextDiff::from_lines(&a, &b)
        .unified_diff()
        .context_radius(1)
        .to_string()
}

/// The define plans `field` `from` → `to` as a next-boot change, and
/// nothing is replaced.
fn assert_next_boot(p: &Plan, field: &str, from: &str, to: &str) {
    assert!(p.blocked.is_empty(), "blocked: {:?}", p.blocked);
    let c = define(p)
        .changes
        .iter()
        .find(|c| c.field == field)
        .unwrap_or_else(|| panic!("no {field} change in\n{}", render_text(p)));
    assert_eq!((c.from.as_str(), c.to.as_str()), (from, to));
    assert_eq!(c.class, ChangeClass::NextBoot);
    assert!(
        p.actions.iter().all(|a| a.operation != Operation::Undefine),
        "{}",
        render_text(p)
    );
}

/// The observed domain replaced by what the plan defines plans nothing
/// more: nothing virtsync compares is left stale.
fn assert_settled(manifest: &str, defined: &Element) {
    let again = plan_one(manifest, defined, PowerState::Running);
    assert!(again.is_empty(), "{}", render_text(&again));
}

fn pci_addresses(root: &Element) -> usize {
    root.child("devices")
        .unwrap()
        .elements()
        .filter(|d| {
            d.children_named("address")
                .any(|a| a.attr("type") == Some("pci"))
        })
        .count()
}

fn controllers(root: &Element) -> Vec<String> {
    root.child("devices")
        .unwrap()
        .children_named("controller")
        .map(|c| {
            format!(
                "{} {}{}",
                c.attr("type").unwrap_or_default(),
                c.attr("index").unwrap_or_default(),
                c.attr("model").map(|m| format!(" {m}")).unwrap_or_default()
            )
        })
        .collect()
}

fn device_names(root: &Element) -> Vec<String> {
    root.child("devices")
        .unwrap()
        .elements()
        .map(|e| e.name.clone())
        .filter(|n| n != "controller")
        .collect()
}

#[test]
fn pc_to_q35_drops_what_i440fx_derived() {
    let pc = fixture("machine/domain-pc.xml");
    let m = manifest(&pc, "  machine: q35\n");
    let p = plan_one(&m, &pc, PowerState::Running);
    assert_next_boot(&p, "machine", "pc-i440fx-7.2", "q35");
    // Running, restartPolicy never: the guest keeps running on i440fx.
    assert_eq!(p.actions.len(), 1, "{}", render_text(&p));
    let pending: Vec<&str> = p
        .notices
        .iter()
        .flat_map(|n| n.restart_pending.iter().map(String::as_str))
        .collect();
    assert_eq!(pending, ["machine"], "{:?}", p.notices);
    let q = defined(&p);
    // The PCI root, the USB model libvirt chose for pc, and every PCI
    // address go; the SATA controller libvirt added for the CD-ROM stays
    // (q35 has it built in), and so does the CD-ROM's drive address.
    assert_eq!(controllers(&q), ["sata 0"]);
    assert_eq!(pci_addresses(&q), 0);
    let cdrom = q
        .child("devices")
        .unwrap()
        .children_named("disk")
        .find(|d| d.attr("device") == Some("cdrom"))
        .unwrap();
    assert_eq!(
        cdrom.child("address").and_then(|a| a.attr("type")),
        Some("drive")
    );
    // Every device virtsync does not model stays.
    assert_eq!(device_names(&q), device_names(&pc));
    check_schema("pc → q35", "domain", &q.to_xml());
    assert_settled(&m, &q);
    insta::assert_snapshot!("pc_to_q35", xml_diff(&pc, &q));
}

#[test]
fn q35_to_pc_drops_what_q35_derived() {
    let q35 = fixture("machine/domain-q35.xml");
    let m = manifest(
        &q35,
        "  machine: pc\n  restartPolicy: onConfigChange\n  shutdownTimeout: 1s\n",
    );
    let p = plan_one(&m, &q35, PowerState::Running);
    assert_next_boot(&p, "machine", "pc-q35-7.2", "pc");
    // onConfigChange: one restart after the define.
    let ops: Vec<_> = p.actions.iter().map(|a| a.operation).collect();
    assert_eq!(
        ops,
        [Operation::Define, Operation::Restart],
        "{}",
        render_text(&p)
    );
    let pc = defined(&p);
    // The built-in SATA controller goes with q35, and the CD-ROM's drive
    // address that points to it: libvirt adds an AHCI controller for the
    // CD-ROM on pc and places the disk on it.
    assert_eq!(controllers(&pc), Vec::<String>::new());
    assert_eq!(pci_addresses(&pc), 0);
    assert!(pc
        .child("devices")
        .unwrap()
        .children_named("disk")
        .all(|d| d.child("address").is_none()));
    assert_eq!(device_names(&pc), device_names(&q35));
    check_schema("q35 → pc", "domain", &pc.to_xml());
    assert_settled(&m, &pc);
    insta::assert_snapshot!("q35_to_pc", xml_diff(&q35, &pc));
}

#[test]
fn a_version_of_the_same_family_keeps_every_address() {
    let pc = fixture("machine/domain-pc.xml");
    let m = manifest(&pc, "  machine: pc-i440fx-7.1\n");
    let p = plan_one(&m, &pc, PowerState::Shutoff);
    assert_next_boot(&p, "machine", "pc-i440fx-7.2", "pc-i440fx-7.1");
    let older = defined(&p);
    // The guest's NICs and disks keep their PCI slots (and the names the
    // guest OS gives them): only the machine attribute changes.
    assert_eq!(
        xml_diff(&pc, &older),
        xml_diff(
            &pc,
            &Element::parse(&pc.to_xml().replace("pc-i440fx-7.2", "pc-i440fx-7.1")).unwrap()
        )
    );
    assert_eq!(pci_addresses(&older), pci_addresses(&pc));
}

#[test]
fn bios_to_uefi_drops_the_bios_loader_and_asks_for_autoselection() {
    // A BIOS guest pinned to a SeaBIOS build.
    let xml = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/machine/domain-pc.xml"),
    )
    .unwrap()
    .replace(
        "<boot dev='hd'/>",
        "<loader readonly='yes' type='rom'>/usr/share/seabios/bios-256k.bin</loader>\n    <boot dev='hd'/>",
    );
    let pc = owned(&xml);
    let m = manifest(&pc, "  firmware: uefi\n");
    let p = plan_one(&m, &pc, PowerState::Running);
    assert_next_boot(&p, "firmware", "bios", "uefi");
    let efi = defined(&p);
    let os = efi.child("os").unwrap();
    assert_eq!(os.attr("firmware"), Some("efi"));
    assert!(os.child("loader").is_none() && os.child("nvram").is_none());
    // Neither the machine nor the devices change with the firmware.
    assert_eq!(pci_addresses(&efi), pci_addresses(&pc));
    check_schema("bios → uefi", "domain", &efi.to_xml());
    assert_settled(&m, &efi);
    insta::assert_snapshot!("bios_to_uefi", xml_diff(&pc, &efi));
}

#[test]
fn uefi_to_bios_drops_the_firmware_selection() {
    let efi = fixture("corpus/domains/efi-auto-secure.xml");
    let m = manifest(&efi, "  firmware: bios\n");
    let p = plan_one(&m, &efi, PowerState::Shutoff);
    assert_next_boot(&p, "firmware", "uefi", "bios");
    let bios = defined(&p);
    let os = bios.child("os").unwrap();
    assert_eq!(os.attr("firmware"), None);
    let left: Vec<&str> = os.elements().map(|e| e.name.as_str()).collect();
    assert_eq!(left, ["type", "boot"]);
    check_schema("uefi → bios", "domain", &bios.to_xml());
    assert_settled(&m, &bios);
    insta::assert_snapshot!("uefi_to_bios", xml_diff(&efi, &bios));
}

#[test]
fn a_secure_boot_change_drops_the_loader_chosen_for_the_old_one() {
    // `<loader secure='yes'/>` beside secure-boot disabled leaves libvirt
    // no firmware to start with ("Unable to find any firmware to satisfy
    // 'efi'").
    let efi = fixture("corpus/domains/efi-auto-secure.xml");
    let m = manifest(&efi, "  firmware: uefi\n  secureBoot: false\n");
    let p = plan_one(&m, &efi, PowerState::Shutoff);
    assert_next_boot(&p, "secureBoot", "true", "false");
    let off = defined(&p);
    assert!(off.find(&["os", "loader"]).is_none());
    assert_settled(&m, &off);
    // A loader chosen by hand (no autoselection) becomes autoselection: a
    // readonly pflash loader and an NVRAM template are refused beside it,
    // and the variable store (the guest's boot entries) is kept.
    let manual = fixture("corpus/domains/custom-loader.xml");
    let m = manifest(&manual, "  firmware: uefi\n  secureBoot: true\n");
    let p = plan_one(&m, &manual, PowerState::Shutoff);
    assert_next_boot(&p, "secureBoot", "false", "true");
    let secure = defined(&p);
    check_schema("secure boot on", "domain", &secure.to_xml());
    assert_settled(&m, &secure);
    insta::assert_snapshot!("secure_boot_on_manual_loader", xml_diff(&manual, &secure));
}

#[test]
fn a_family_change_drops_an_autoselected_loader_and_keeps_the_variables() {
    // As newer libvirt stores autoselection's result in the persistent
    // config: the secure-boot OVMF it picked exists for q35 only.
    let xml = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/corpus/domains/efi-auto-secure.xml"),
    )
    .unwrap()
    .replace(
        "<loader secure='yes'/>",
        "<loader readonly='yes' secure='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE_4M.ms.fd</loader>\n    <nvram template='/usr/share/OVMF/OVMF_VARS_4M.ms.fd'>/var/lib/libvirt/qemu/nvram/efi-auto-secure_VARS.fd</nvram>",
    );
    let efi = owned(&xml);
    let m = manifest(&efi, "  machine: pc-q35-7.1\n");
    // A version change keeps the selection.
    let p = plan_one(&m, &efi, PowerState::Shutoff);
    assert!(defined(&p).find(&["os", "loader"]).is_some());
    let m = manifest(
        &efi,
        "  machine: pc\n  firmware: uefi\n  secureBoot: false\n",
    );
    let p = plan_one(&m, &efi, PowerState::Shutoff);
    assert_next_boot(&p, "machine", "pc-q35-7.2", "pc");
    let pc = defined(&p);
    let os = pc.child("os").unwrap();
    assert!(os.child("loader").is_none());
    let nvram = os.child("nvram").unwrap();
    assert_eq!(nvram.attrs, []);
    assert_eq!(
        nvram.text(),
        "/var/lib/libvirt/qemu/nvram/efi-auto-secure_VARS.fd"
    );
    check_schema("q35 → pc with UEFI", "domain", &pc.to_xml());
    assert_settled(&m, &pc);
}

#[test]
fn an_arch_change_drops_the_emulator_and_the_machine_derived_parts() {
    let pc = fixture("machine/domain-pc.xml");
    let m = manifest(&pc, "  arch: i686\n");
    let p = plan_one(&m, &pc, PowerState::Shutoff);
    assert_next_boot(&p, "arch", "x86_64", "i686");
    let i686 = defined(&p);
    assert!(i686.find(&["devices", "emulator"]).is_none());
    assert_eq!(pci_addresses(&i686), 0);
    // The machine is not the manifest's to change here: it stays.
    assert_eq!(read_domain(&i686).machine.as_deref(), Some("pc-i440fx-7.2"));
    check_schema("x86_64 → i686", "domain", &i686.to_xml());
    assert_settled(&m, &i686);
}

#[test]
fn an_ide_disk_on_q35_is_refused_at_plan_time_naming_the_disk() {
    // The manifest does not list the disks: the domain's own IDE disk.
    let legacy = fixture("corpus/domains/ide-legacy.xml");
    let m = manifest(&legacy, "  machine: q35\n");
    let p = plan_one(&m, &legacy, PowerState::Shutoff);
    assert!(p.actions.is_empty(), "{}", render_text(&p));
    let [b] = p.blocked.as_slice() else {
        panic!("{:?}", p.blocked)
    };
    // What a user reads: the domain, the disk, the file.
    let text = render_text(&p);
    assert!(
        text.contains("x domain ide-legacy: blocked: the domain's disk hda")
            && text.contains("m.yaml:1)"),
        "{text}"
    );
    assert!(
        b.reason
            .contains("disk hda (path /var/lib/libvirt/images/legacy.img) is on bus ide")
            && b.reason.contains("`disks` is unset"),
        "{}",
        b.reason
    );
    // Listing the disks on SATA moves them, and the IDE controller goes.
    let m = manifest(
        &legacy,
        "  machine: q35\n  disks:\n    - {path: /var/lib/libvirt/images/legacy.img, bus: sata}\n    - {device: cdrom}\n",
    );
    let p = plan_one(&m, &legacy, PowerState::Shutoff);
    assert!(p.blocked.is_empty(), "{:?}", p.blocked);
    let q = defined(&p);
    assert!(controllers(&q).iter().all(|c| !c.starts_with("ide")));
    assert!(read_domain(&q)
        .disks
        .iter()
        .all(|d| d.bus.as_deref() == Some("sata")));
    check_schema("IDE → SATA on q35", "domain", &q.to_xml());
    // A q35 domain given an IDE disk, the machine left unset (validation
    // cannot know it is q35): the manifest's disk, by its index.
    let q35 = fixture("machine/domain-q35.xml");
    let m = manifest(
        &q35,
        "  disks:\n    - {path: /var/lib/libvirt/images/fam.img}\n    - {device: cdrom, bus: ide}\n",
    );
    let p = plan_one(&m, &q35, PowerState::Shutoff);
    let [b] = p.blocked.as_slice() else {
        panic!("{:?}", p.blocked)
    };
    assert!(
        b.reason.starts_with(
            "disks[1] (hda) is on bus ide, and machine pc-q35-7.2 (q35) has no IDE controller"
        ),
        "{}",
        b.reason
    );
}

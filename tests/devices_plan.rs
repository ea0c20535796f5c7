//! Device handling of running domains, planner level: which device a
//! manifest entry is (identity before position), what the plan calls each
//! change, what is hot-plugged and unplugged (the live element, never a
//! survivor), what waits for the live XML, and what is refused.
//!
//! Each test states a host as libvirt would report it (persistent and live
//! XML written here, in libvirt's stored form) and a manifest, and checks
//! the plan the way a user reads it: its changes, the XML it defines, the
//! devices it plugs in and out.

use std::collections::BTreeMap;
use std::path::Path;

use virtsync::inventory::Inventory;
use virtsync::manifest::{load_dir, LoadOptions};
use virtsync::model::*;
use virtsync::observe::parse_capabilities;
use virtsync::plan::{self, Change, ChangeClass, Operation, Plan, PlanInput, Scope, Step};
use virtsync::render::domain::read_domain;
use virtsync::xml::Element;

mod common;

const URI: &str = "qemu:///system";
const MARKER: &str = r#"<metadata><virtsync:owner xmlns:virtsync="https://virtsync.io/xmlns/owner/v1" owner="virtsync-tests" manifest="m.yaml" revision="" spec="sha256:0"/></metadata>"#;
const IMG: &str = "/var/lib/libvirt/images";

/// 2026-12-01T12:00:00Z: the pass time the planner is given.
const NOW: u64 = 1_796_126_400;

fn caps() -> Capabilities {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/capabilities-qemu-kvm.xml");
    parse_capabilities(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn desired(yaml: &str) -> DesiredState {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("m.yaml"), yaml).unwrap();
    match load_dir(dir.path(), &LoadOptions::default()) {
        Ok((d, _)) => d,
        Err(e) => panic!("test manifests do not load: {e}"),
    }
}

/// A file disk as libvirt stores it.
fn file_disk(name: &str, target: &str, slot: u8) -> String {
    format!(
        "<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='{IMG}/{name}'/><target dev='{target}' bus='virtio'/><address type='pci' domain='0x0000' bus='0x0{slot}' slot='0x00' function='0x0'/></disk>"
    )
}

fn nic(net: &str, mac: &str, slot: u8) -> String {
    format!(
        "<interface type='network'><mac address='{mac}'/><source network='{net}'/><model type='virtio'/><address type='pci' domain='0x0000' bus='0x0{slot}' slot='0x00' function='0x0'/></interface>"
    )
}

/// A domain `vm` with these device elements.
fn domain_xml(devices: &[String]) -> String {
    format!(
        "<domain type='kvm'><name>vm</name><uuid>6c4b1e2a-1111-4222-8333-944455556666</uuid>{MARKER}<memory unit='KiB'>131072</memory><currentMemory unit='KiB'>131072</currentMemory><vcpu placement='static'>1</vcpu><os><type arch='x86_64' machine='pc-q35-7.2'>hvm</type><boot dev='hd'/></os><devices><emulator>/usr/bin/qemu-system-x86_64</emulator>{}<controller type='sata' index='0'/></devices></domain>",
        devices.join("")
    )
}

/// The live XML of a running domain: libvirt adds `id` and aliases.
fn live_of(xml: &str) -> String {
    xml.replacen("<domain type='kvm'>", "<domain type='kvm' id='1'>", 1)
}

fn host(state: PowerState, xml: &str, live: Option<String>) -> ObservedHost {
    let mut h = ObservedHost {
        uri: URI.into(),
        caps: caps(),
        ..ObservedHost::default()
    };
    h.domains.insert(
        "vm".into(),
        ObservedDomain {
            name: "vm".into(),
            uuid: "6c4b1e2a-1111-4222-8333-944455556666".into(),
            state,
            id: (state != PowerState::Shutoff).then_some(7),
            persistent: true,
            autostart: false,
            xml: Some(xml.to_string()),
            live_xml: live,
        },
    );
    for net in ["lan", "lan2"] {
        h.networks.insert(
            net.into(),
            ObservedNetwork {
                name: net.into(),
                uuid: String::new(),
                active: true,
                autostart: false,
                xml: None,
                live_xml: None,
            },
        );
    }
    h
}

fn try_plan(d: &DesiredState, h: ObservedHost, inv: &Inventory) -> Result<Plan, String> {
    let obs = ObservedState {
        hosts: BTreeMap::from([(HostName::DEFAULT, h)]),
        ..ObservedState::default()
    };
    let p = plan::plan(&PlanInput {
        desired: d,
        observed: &obs,
        inventory: inv,
        revision: "",
        now: NOW,
        adopt: false,
        scope: &Scope::new(common::TEST_OWNER, d),
    });
    if p.blocked.is_empty() {
        Ok(p)
    } else {
        let lines: Vec<String> = p.blocked.iter().map(|b| b.to_string()).collect();
        Err(lines.join("\n"))
    }
}

fn plan_ok(d: &DesiredState, h: ObservedHost) -> Plan {
    try_plan(d, h, &Inventory::default()).unwrap_or_else(|e| panic!("planning failed: {e}"))
}

const NETS: &str = "apiVersion: virtsync.io/v1alpha1\nkind: Network\nmetadata: {name: lan, external: true}\n---\napiVersion: virtsync.io/v1alpha1\nkind: Network\nmetadata: {name: lan2, external: true}\n---\n";

fn vm(spec: &str) -> DesiredState {
    desired(&format!(
        "{NETS}apiVersion: virtsync.io/v1alpha1\nkind: Domain\nmetadata: {{name: vm}}\nspec:\n  memory: 128MiB\n  vcpus: 1\n{spec}"
    ))
}

fn changes(p: &Plan) -> Vec<&Change> {
    p.actions.iter().flat_map(|a| &a.changes).collect()
}

fn fields(p: &Plan) -> Vec<(String, ChangeClass)> {
    changes(p)
        .into_iter()
        .map(|c| (c.field.clone(), c.class))
        .collect()
}

fn defined(p: &Plan) -> Element {
    let a = p
        .actions
        .iter()
        .find(|a| a.kind == Kind::Domain && a.operation == Operation::Define)
        .expect("a define");
    let Step::DefineDomain { xml } = &a.step else {
        panic!("define without XML")
    };
    Element::parse(xml).unwrap()
}

/// (attach, detach) of the plan's live update, empty without one.
fn live(p: &Plan) -> (Vec<Element>, Vec<Element>) {
    p.actions
        .iter()
        .find_map(|a| match &a.step {
            Step::UpdateLive { attach, detach, .. } => Some((
                attach.iter().map(|x| Element::parse(x).unwrap()).collect(),
                detach.iter().map(|x| Element::parse(x).unwrap()).collect(),
            )),
            _ => None,
        })
        .unwrap_or_default()
}

/// (target, source) of the disks of a domain XML, as the planner reads them.
fn disks(root: &Element) -> Vec<(String, String)> {
    read_domain(root)
        .disks
        .iter()
        .map(|d| (d.target.clone().unwrap_or_default(), d.source.to_string()))
        .collect()
}

fn two_disks() -> String {
    domain_xml(&[file_disk("a.img", "vda", 4), file_disk("b.img", "vdb", 5)])
}

#[test]
fn keeping_only_the_second_disk_unplugs_the_first() {
    let xml = two_disks();
    let d = vm(&format!("  disks:\n    - path: {IMG}/b.img\n"));
    let p = plan_ok(&d, host(PowerState::Running, &xml, Some(live_of(&xml))));
    // The disk that goes is a (vda); b keeps its target and source.
    assert_eq!(fields(&p), [("disks[vda]".to_string(), ChangeClass::Live)]);
    assert_eq!(
        disks(&defined(&p)),
        [("vdb".to_string(), format!("path {IMG}/b.img"))]
    );
    let (attach, detach) = live(&p);
    assert!(attach.is_empty(), "a survivor is never plugged in again");
    assert_eq!(
        disks(&Element::new("x").with_child(Element::new("devices").with_child(detach[0].clone()))),
        [("vda".to_string(), format!("path {IMG}/a.img"))]
    );
    assert_eq!(detach.len(), 1);
}

#[test]
fn removing_the_first_nic_unplugs_it_and_keeps_the_second() {
    let xml = domain_xml(&[
        nic("lan", "52:54:00:00:00:01", 1),
        nic("lan2", "52:54:00:00:00:02", 2),
    ]);
    let d = vm("  interfaces:\n    - network: lan2\n");
    let p = plan_ok(&d, host(PowerState::Running, &xml, Some(live_of(&xml))));
    assert_eq!(
        fields(&p),
        [(
            "interfaces[52:54:00:00:00:01]".to_string(),
            ChangeClass::Live
        )]
    );
    let def = read_domain(&defined(&p));
    assert_eq!(def.interfaces.len(), 1);
    assert_eq!(def.interfaces[0].mac.as_deref(), Some("52:54:00:00:00:02"));
    let (attach, detach) = live(&p);
    assert!(
        attach.is_empty(),
        "the surviving NIC is never plugged in again"
    );
    assert_eq!(detach.len(), 1);
    assert_eq!(
        detach[0].child("mac").and_then(|m| m.attr("address")),
        Some("52:54:00:00:00:01")
    );
}

#[test]
fn a_sata_cdrom_added_and_vdb_dropped_are_two_distinct_changes() {
    let xml = two_disks();
    let d = vm(&format!(
        "  disks:\n    - path: {IMG}/a.img\n    - device: cdrom\n"
    ));
    let p = plan_ok(&d, host(PowerState::Running, &xml, Some(live_of(&xml))));
    let mut f = fields(&p);
    f.sort();
    // The CD-ROM (SATA: next boot) is the manifest's disks[1]; the virtio
    // disk that goes is named by its target (unplugged live).
    assert_eq!(
        f,
        [
            ("disks[1]".to_string(), ChangeClass::NextBoot),
            ("disks[vdb]".to_string(), ChangeClass::Live),
        ]
    );
    let (attach, detach) = live(&p);
    assert!(attach.is_empty(), "a SATA CD-ROM is not hot-plugged");
    assert_eq!(detach.len(), 1);
    assert_eq!(
        detach[0].find(&["target"]).and_then(|t| t.attr("dev")),
        Some("vdb")
    );
    let def = defined(&p);
    assert_eq!(
        disks(&def),
        [
            ("vda".to_string(), format!("path {IMG}/a.img")),
            ("sda".to_string(), "empty".to_string()),
        ]
    );
    assert!(p
        .notices
        .iter()
        .any(|n| n.message.starts_with("restart pending")));
}

#[test]
fn without_the_live_xml_device_changes_wait_and_the_live_xml_is_asked_for() {
    let xml = two_disks();
    let d = vm(&format!("  disks:\n    - path: {IMG}/b.img\n"));
    let p = plan_ok(&d, host(PowerState::Running, &xml, None));
    assert_eq!(
        p.live_xml_wanted.iter().cloned().collect::<Vec<_>>(),
        [(HostName::DEFAULT, Kind::Domain, "vm".to_string())]
    );
    assert_eq!(
        fields(&p),
        [("disks[vda]".to_string(), ChangeClass::NextBoot)]
    );
    assert_eq!(live(&p), (vec![], vec![]));
    // A shut-off guest needs no live XML.
    let p = plan_ok(&d, host(PowerState::Shutoff, &xml, None));
    assert!(p.live_xml_wanted.is_empty());
}

#[test]
fn a_device_live_and_persistent_disagree_about_is_not_unplugged() {
    let xml = two_disks();
    // The running guest still has c.img at vdb (its config was changed
    // to b.img for the next boot).
    let live_xml = live_of(&xml).replace("b.img", "c.img");
    let d = vm(&format!("  disks:\n    - path: {IMG}/a.img\n"));
    let p = plan_ok(&d, host(PowerState::Running, &xml, Some(live_xml)));
    assert_eq!(live(&p), (vec![], vec![]));
    assert_eq!(
        fields(&p),
        [("disks[vdb]".to_string(), ChangeClass::NextBoot)]
    );
    let refused = p
        .notices
        .iter()
        .find(|n| n.message.contains("not unplugged"))
        .expect("the refusal is reported");
    assert!(refused.message.contains("c.img"), "{}", refused.message);
    // A new disk whose target the running guest uses for another device
    // is not plugged in either.
    let one = domain_xml(&[file_disk("a.img", "vda", 4)]);
    let live_two = live_of(&two_disks());
    let d = vm(&format!(
        "  disks:\n    - path: {IMG}/a.img\n    - path: {IMG}/n.img\n"
    ));
    let p = plan_ok(&d, host(PowerState::Running, &one, Some(live_two)));
    assert_eq!(live(&p), (vec![], vec![]));
    assert!(p
        .notices
        .iter()
        .any(|n| n.message.contains("not hot-plugged")));
}

#[test]
fn a_new_virtio_disk_is_plugged_in_as_defined() {
    let one = domain_xml(&[file_disk("a.img", "vda", 4)]);
    let d = vm(&format!(
        "  disks:\n    - path: {IMG}/a.img\n    - path: {IMG}/n.img\n"
    ));
    let p = plan_ok(&d, host(PowerState::Running, &one, Some(live_of(&one))));
    assert_eq!(fields(&p), [("disks[1]".to_string(), ChangeClass::Live)]);
    let (attach, detach) = live(&p);
    assert!(detach.is_empty());
    assert_eq!(attach.len(), 1);
    assert_eq!(
        attach[0].find(&["target"]).and_then(|t| t.attr("dev")),
        Some("vdb")
    );
}

/// A domain with one volume disk `images/data` whose driver type is raw.
fn volume_domain() -> String {
    domain_xml(&["<disk type='volume' device='disk'><driver name='qemu' type='raw'/><source pool='images' volume='data'/><target dev='vda' bus='virtio'/></disk>".to_string()])
}

#[test]
fn a_volume_of_unknown_format_keeps_its_driver_type() {
    // As with `apply --selector`: the Volume manifest is not selected and
    // its pool not observed, so the format is unknown.
    let xml = volume_domain();
    let d = desired(
        "apiVersion: virtsync.io/v1alpha1\nkind: StoragePool\nmetadata: {name: images, external: true}\n---\napiVersion: virtsync.io/v1alpha1\nkind: Volume\nmetadata: {name: data, external: true}\nspec: {pool: images}\n---\napiVersion: virtsync.io/v1alpha1\nkind: Domain\nmetadata: {name: vm}\nspec:\n  state: shutoff\n  memory: 64MiB\n  vcpus: 1\n  disks:\n    - volume: {pool: images, name: data}\n"
    );
    let mut d = d;
    d.volumes.clear();
    d.pools.clear();
    let p = plan_ok(&d, host(PowerState::Shutoff, &xml, None));
    assert_eq!(fields(&p), [("memory".to_string(), ChangeClass::NextBoot)]);
    let def = defined(&p);
    assert_eq!(read_domain(&def).disks[0].format.as_deref(), Some("raw"));
}

#[test]
fn a_volume_disks_driver_type_is_compared_when_the_format_is_known() {
    let xml = volume_domain();
    let d = desired(&format!(
        "apiVersion: virtsync.io/v1alpha1\nkind: StoragePool\nmetadata: {{name: images}}\nspec: {{type: dir, path: {IMG}/images}}\n---\napiVersion: virtsync.io/v1alpha1\nkind: Volume\nmetadata: {{name: data}}\nspec: {{pool: images, capacity: 1GiB, format: qcow2}}\n---\napiVersion: virtsync.io/v1alpha1\nkind: Domain\nmetadata: {{name: vm}}\nspec:\n  state: shutoff\n  memory: 128MiB\n  vcpus: 1\n  disks:\n    - volume: {{pool: images, name: data}}\n"
    ));
    let p = plan_ok(&d, host(PowerState::Shutoff, &xml, None));
    let c = changes(&p)
        .into_iter()
        .find(|c| c.field == "disks[0].format")
        .expect("the format is compared");
    assert_eq!((c.from.as_str(), c.to.as_str()), ("raw", "qcow2"));
    assert_eq!(
        read_domain(&defined(&p)).disks[0].format.as_deref(),
        Some("qcow2")
    );
}

#[test]
fn memory_fixed_by_numa_cells_is_refused() {
    let xml = domain_xml(&[]).replace(
        "<devices>",
        "<cpu mode='host-passthrough'><topology sockets='1' dies='1' cores='1' threads='1'/><numa><cell id='0' cpus='0' memory='128' unit='MiB'/></numa></cpu><devices>",
    );
    let d = vm("  maxMemory: 256MiB\n");
    let e = try_plan(
        &d,
        host(PowerState::Shutoff, &xml, None),
        &Inventory::default(),
    )
    .expect_err("refused");
    assert!(e.contains("NUMA cells") && e.contains("128MiB"), "{e}");
    // Memory within the cells' sum is a balloon change: fine.
    let d = desired(&format!(
        "{NETS}apiVersion: virtsync.io/v1alpha1\nkind: Domain\nmetadata: {{name: vm}}\nspec:\n  memory: 64MiB\n  vcpus: 1\n"
    ));
    plan_ok(&d, host(PowerState::Shutoff, &xml, None));
    // A vCPU count the fixed topology does not give is refused.
    let d = vm("  maxVcpus: 2\n");
    let e = try_plan(
        &d,
        host(PowerState::Shutoff, &xml, None),
        &Inventory::default(),
    )
    .expect_err("refused");
    assert!(e.contains("topology") && e.contains("maxVcpus to 1"), "{e}");
}

/// Two running guests' volumes: `vm` runs A at vda (live) while its
/// persistent config already says B.
fn resize_host(live: bool) -> (ObservedHost, Inventory) {
    let vol = |n: &str| {
        format!("<disk type='volume' device='disk'><driver name='qemu' type='qcow2'/><source pool='images' volume='{n}'/><target dev='vda' bus='virtio'/></disk>")
    };
    let persistent = domain_xml(&[vol("B")]);
    let live_xml = live_of(&domain_xml(&[vol("A")]));
    let mut h = host(PowerState::Running, &persistent, live.then_some(live_xml));
    h.pools.insert(
        "images".into(),
        ObservedPool {
            name: "images".into(),
            uuid: "p".into(),
            active: true,
            autostart: false,
            xml: Some(format!("<pool type='dir'><name>images</name><uuid>p</uuid><target><path>{IMG}/images</path></target></pool>")),
        },
    );
    let mut inv = Inventory::default();
    inv.record_pool(&h.identity(), "images", "p");
    for n in ["A", "B"] {
        h.volumes.insert(
            ("images".into(), n.into()),
            ObservedVolume {
                pool: "images".into(),
                name: n.into(),
                xml: Some(format!("<volume type='file'><name>{n}</name><capacity unit='bytes'>1073741824</capacity><target><path>{IMG}/images/{n}</path><format type='qcow2'/></target></volume>")),
            },
        );
        inv.record_volume(&h.identity(), "images", n);
    }
    (h, inv)
}

fn grow(name: &str) -> DesiredState {
    desired(&format!(
        "apiVersion: virtsync.io/v1alpha1\nkind: StoragePool\nmetadata: {{name: images}}\nspec: {{type: dir, path: {IMG}/images}}\n---\napiVersion: virtsync.io/v1alpha1\nkind: Volume\nmetadata: {{name: {name}}}\nspec: {{pool: images, capacity: 2GiB}}\n"
    ))
}

fn resize_payload(p: &Plan) -> Option<(u64, Option<(String, String)>)> {
    p.actions.iter().find_map(|a| match &a.step {
        Step::ResizeVolume {
            capacity,
            in_use_by,
            ..
        } => Some((*capacity, in_use_by.clone())),
        _ => None,
    })
}

#[test]
fn a_volume_resize_follows_the_live_xml() {
    // Growing B, which the guest does not run yet: the storage API.
    let (h, inv) = resize_host(true);
    let p = try_plan(&grow("B"), h, &inv).unwrap();
    assert_eq!(resize_payload(&p), Some((2 << 30, None)));
    // Growing A, which the guest runs although its config says B: through
    // the guest, at the target the live XML has.
    let (h, inv) = resize_host(true);
    let p = try_plan(&grow("A"), h, &inv).unwrap();
    assert_eq!(
        resize_payload(&p),
        Some((2 << 30, Some(("vm".to_string(), "vda".to_string()))))
    );
    // Without the live XML: nothing is resized, the live XML is asked for.
    let (h, inv) = resize_host(false);
    let p = try_plan(&grow("B"), h, &inv).unwrap();
    assert_eq!(resize_payload(&p), None);
    assert!(p
        .live_xml_wanted
        .contains(&(HostName::DEFAULT, Kind::Domain, "vm".to_string())));
}

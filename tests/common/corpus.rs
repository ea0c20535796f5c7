//! The corpus of hand-written domain XML (tests/fixtures/corpus/domains/):
//! its files, each as virtsync would observe it (with the ownership
//! marker), the manifest that names every field it has with the value it
//! has, and the plan of a manifest against one such domain.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use virtsync::import::{self, domain_spec, DomainState};
use virtsync::inventory::Inventory;
use virtsync::manifest::types::{Metadata, SizeText};
use virtsync::manifest::{load_dir, LoadOptions};
use virtsync::model::{HostName, Kind, ObservedDomain, ObservedHost, ObservedState, PowerState};
use virtsync::observe::parse_capabilities;
use virtsync::plan::{self, Plan, PlanInput, Scope};
use virtsync::render::{write_marker, Marker, MARKER_NS};
use virtsync::xml::{Element, Node};

pub fn corpus() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/corpus/domains");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "xml"))
        .collect();
    files.sort();
    assert!(files.len() >= 12, "the corpus has {} files", files.len());
    files
}

/// The observed XML: the corpus file with virtsync's ownership marker.
pub fn owned(xml: &str) -> Element {
    let mut root = Element::parse(xml).unwrap();
    write_marker(
        &mut root,
        &Marker {
            owner: Some(super::TEST_OWNER.into()),
            manifest: "m.yaml".into(),
            revision: String::new(),
            spec: "sha256:0".into(),
            restart_pending_id: None,
            memory_kib: None,
            labels: Default::default(),
        },
    );
    root
}

/// A manifest naming every field the domain has, with its current values
/// (as `virtsync import` writes it), for a shut-off domain with
/// `memory_kib` of memory; what it refers to is declared external. A list
/// or field with something the manifest cannot express (a network disk, a
/// macvtap NIC, a floppy boot, two graphics) is left out — unset means
/// unmanaged.
pub fn manifest_of(root: &Element, memory_kib: u64) -> String {
    let state = DomainState {
        state: PowerState::Shutoff,
        persistent: true,
        autostart: None,
    };
    let mut imported = domain_spec(root, state);
    imported.spec.memory = SizeText(format!("{memory_kib}KiB"));
    let meta = Metadata {
        name: imported.name.clone(),
        ..Metadata::default()
    };
    let mut y = import::document(Kind::Domain, &meta, Some(&imported.spec));
    // What the domain refers to, as external objects.
    for n in &imported.networks {
        y.push_str("---\n");
        y.push_str(&import::external_document(Kind::Network, n, None));
    }
    let pools: std::collections::BTreeSet<&String> =
        imported.volumes.iter().map(|(p, _)| p).collect();
    for p in pools {
        y.push_str("---\n");
        y.push_str(&import::external_document(Kind::StoragePool, p, None));
    }
    for (p, v) in &imported.volumes {
        y.push_str("---\n");
        y.push_str(&import::external_document(Kind::Volume, v, Some(p)));
    }
    y
}

/// The tree without whitespace-only text, the ownership marker, and the
/// elements in `skip`.
pub fn normalised(e: &Element, skip: &[&str]) -> Element {
    let mut out = Element {
        name: e.name.clone(),
        attrs: e.attrs.clone(),
        children: Vec::new(),
    };
    for c in &e.children {
        match c {
            Node::Text(t) if t.trim().is_empty() => {}
            Node::Element(x) if skip.contains(&x.name.as_str()) => {}
            Node::Element(x)
                if x.name.ends_with(":owner") && x.attrs.iter().any(|(_, v)| v == MARKER_NS) => {}
            Node::Element(x) => out.children.push(Node::Element(normalised(x, skip))),
            other => out.children.push(other.clone()),
        }
    }
    out
}

/// 2026-12-01T12:00:00Z: the pass time the planner is given.
pub const NOW: u64 = 1_796_126_400;

/// The plan for the manifest text `manifest` (disk paths allowed under
/// /dev and /var/lib/libvirt) against a host with the captured QEMU/KVM
/// capabilities and the one domain `root` in `state`. The networks, pools
/// and volumes the manifest names are left out: the domain is the subject.
pub fn plan_one(manifest: &str, root: &Element, state: PowerState) -> Plan {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("m.yaml"), manifest).unwrap();
    let opts = LoadOptions {
        allow_paths: vec!["/dev".into(), "/var/lib/libvirt".into()],
        allow_unsafe_xml: false,
    };
    let mut desired = match load_dir(dir.path(), &opts) {
        Ok((d, _)) => d,
        Err(e) => panic!("manifest does not load: {e}\n{manifest}"),
    };
    let caps = parse_capabilities(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/capabilities-qemu-kvm.xml"),
        )
        .unwrap(),
    )
    .unwrap();
    let name = root.child("name").unwrap().text();
    let mut host = ObservedHost {
        uri: "qemu:///system".into(),
        caps,
        ..ObservedHost::default()
    };
    host.domains.insert(
        name.clone(),
        ObservedDomain {
            name,
            uuid: root.child("uuid").unwrap().text(),
            state,
            id: (state != PowerState::Shutoff).then_some(1),
            persistent: true,
            autostart: false,
            xml: Some(root.to_xml()),
            live_xml: None,
        },
    );
    let observed = ObservedState {
        hosts: BTreeMap::from([(HostName::DEFAULT, host)]),
        ..ObservedState::default()
    };
    desired.networks.clear();
    desired.pools.clear();
    desired.volumes.clear();
    plan::plan(&PlanInput {
        desired: &desired,
        observed: &observed,
        inventory: &Inventory::default(),
        revision: "",
        now: NOW,
        adopt: false,
        scope: &Scope::new(super::TEST_OWNER, &desired),
    })
}

//! The corpus of hand-written domain XML (tests/fixtures/corpus/domains/):
//! its files, each as virtsync would observe it (with the ownership
//! marker), the manifest that names every field it has with the value it
//! has, and the plan of a manifest against one such domain.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use virtsync::inventory::Inventory;
use virtsync::manifest::{load_dir, LoadOptions};
use virtsync::model::{HostName, ObservedDomain, ObservedHost, ObservedState, PowerState};
use virtsync::observe::parse_capabilities;
use virtsync::plan::{self, Plan, PlanInput, Scope};
use virtsync::render::domain::{read_domain, NicSourceId, SourceId};
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

/// A manifest naming every field the domain has, with its current values;
/// a list or field with something the manifest cannot express (a network
/// disk, a macvtap NIC, a floppy boot, two graphics) is left out — unset
/// means unmanaged.
pub fn manifest_of(root: &Element, memory_kib: u64) -> String {
    let f = read_domain(root);
    let name = root.child("name").unwrap().text();
    let mut y = String::new();
    let _ = writeln!(y, "apiVersion: virtsync.io/v1alpha1\nkind: Domain\nmetadata: {{name: {name}}}\nspec:\n  state: shutoff");
    let _ = writeln!(y, "  type: {}", f.domain_type);
    if let Some(a) = &f.arch {
        let _ = writeln!(y, "  arch: {a}");
    }
    if let Some(m) = &f.machine {
        let _ = writeln!(y, "  machine: {m}");
    }
    let _ = writeln!(y, "  firmware: {}", if f.uefi { "uefi" } else { "bios" });
    if let (true, Some(s)) = (f.uefi, f.secure_boot) {
        let _ = writeln!(y, "  secureBoot: {s}");
    }
    let _ = writeln!(
        y,
        "  memory: {memory_kib}KiB\n  maxMemory: {}KiB",
        f.max_memory_kib.0
    );
    let _ = writeln!(y, "  vcpus: {}\n  maxVcpus: {}", f.vcpus, f.max_vcpus);
    match (f.cpu_mode.as_deref(), &f.cpu_model) {
        (Some("custom"), Some(m)) => {
            let _ = writeln!(y, "  cpu: {{mode: custom, model: {m}}}");
        }
        (Some(m @ ("host-passthrough" | "host-model")), _) => {
            let _ = writeln!(y, "  cpu: {{mode: {m}}}");
        }
        _ => {}
    }
    if !f.boot.is_empty() {
        let _ = writeln!(y, "  boot: [{}]", f.boot.join(", "));
    }
    let disks: Option<Vec<String>> = f
        .disks
        .iter()
        .map(|d| {
            let src = match &d.source {
                SourceId::Volume { pool, name } => {
                    format!("volume: {{pool: {pool}, name: {name}}}, ")
                }
                SourceId::Path(p) => {
                    format!(
                        "path: {p}, format: {}, ",
                        d.format.as_deref().unwrap_or("raw")
                    )
                }
                SourceId::Empty => String::new(),
                SourceId::Other { .. } => return None,
            };
            if !matches!(d.format.as_deref(), Some("raw" | "qcow2") | None) {
                return None;
            }
            Some(format!(
                "    - {{{src}device: {}, bus: {}, target: {}, readonly: {}}}",
                d.device,
                d.bus.as_deref()?,
                d.target.as_deref()?,
                d.readonly
            ))
        })
        .collect();
    if let Some(disks) = disks.filter(|d| !d.is_empty()) {
        let _ = writeln!(y, "  disks:\n{}", disks.join("\n"));
    }
    let nics: Option<Vec<String>> = f
        .interfaces
        .iter()
        .map(|n| {
            let src = match &n.source {
                NicSourceId::Network(x) => format!("network: {x}"),
                NicSourceId::Bridge(x) => format!("bridge: {x}"),
                NicSourceId::Other(_) => return None,
            };
            let mut s = format!("    - {{{src}, mac: \"{}\"", n.mac.as_deref()?);
            if let Some(m) = &n.model {
                let _ = write!(s, ", model: {m}");
            }
            if let Some(r) = n.boot_rom {
                let _ = write!(s, ", bootRom: {r}");
            }
            s.push('}');
            Some(s)
        })
        .collect();
    if let Some(nics) = nics.filter(|n| !n.is_empty()) {
        let _ = writeln!(y, "  interfaces:\n{}", nics.join("\n"));
    }
    match f.graphics.as_slice() {
        [] => {
            let _ = writeln!(y, "  graphics: {{type: none}}");
        }
        [(t, l)] => {
            let listen = l
                .as_ref()
                .map(|l| format!(", listen: {l}"))
                .unwrap_or_default();
            let _ = writeln!(y, "  graphics: {{type: {t}{listen}}}");
        }
        _ => {}
    }
    match f.console.as_deref() {
        Some("pty") => {
            let _ = writeln!(y, "  console: pty");
        }
        None => {
            let _ = writeln!(y, "  console: none");
        }
        Some(_) => {}
    }
    // What the domain refers to, as external objects.
    let doc = |kind: &str, meta: &str, spec: &str| {
        format!("---\napiVersion: virtsync.io/v1alpha1\nkind: {kind}\nmetadata: {{{meta}, external: true}}\n{spec}")
    };
    let mut refs = std::collections::BTreeSet::new();
    for n in &f.interfaces {
        if let NicSourceId::Network(x) = &n.source {
            refs.insert(doc("Network", &format!("name: {x}"), ""));
        }
    }
    for d in &f.disks {
        if let SourceId::Volume { pool, name } = &d.source {
            refs.insert(doc("StoragePool", &format!("name: {pool}"), ""));
            refs.insert(doc(
                "Volume",
                &format!("name: {name}"),
                &format!("spec: {{pool: {pool}}}\n"),
            ));
        }
    }
    for r in refs {
        y.push_str(&r);
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
        scope: &Scope::new(super::TEST_OWNER, &desired),
    })
}

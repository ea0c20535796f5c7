//! Patch, don't replace, on varied real-world domain XML
//! (tests/fixtures/corpus/domains/: block and network disks, portgroups,
//! several listen elements, CPU features, custom loaders, NUMA cells, fixed
//! topologies, spice with channels, per-device boot order, ...).
//!
//! For each domain: a manifest naming the fields it has, with the values
//! it has, plans nothing; the same manifest with a memory change defines
//! XML that differs from the observed XML in `<currentMemory>` alone —
//! nothing virtsync does not model is rewritten or dropped.

use std::collections::BTreeMap;
use std::path::Path;

use virtsync::model::*;
use virtsync::plan::{Operation, Plan, Step};
use virtsync::render::domain::read_domain;
use virtsync::xml::Element;

mod common;

use common::corpus::{corpus, manifest_of, normalised, owned, plan_one};

/// The plan for `manifest` against the shut-off domain `root`, which
/// must not be blocked.
fn plan_for(manifest: &str, root: &Element) -> Plan {
    let p = plan_one(manifest, root, PowerState::Shutoff);
    assert!(p.blocked.is_empty(), "blocked: {:?}\n{manifest}", p.blocked);
    p
}

#[test]
fn naming_current_values_plans_nothing() {
    let mut failures = Vec::new();
    let mut named = BTreeMap::<&str, usize>::new();
    for path in corpus() {
        let root = owned(&std::fs::read_to_string(&path).unwrap());
        let f = read_domain(&root);
        let manifest = manifest_of(&root, f.memory_kib.0);
        for field in [
            "disks:",
            "interfaces:",
            "graphics:\n    type: vnc",
            "graphics:\n    type: spice",
            "cpu:",
            "firmware: uefi",
        ] {
            *named.entry(field).or_default() += usize::from(manifest.contains(field));
        }
        let p = plan_for(&manifest, &root);
        if !p.actions.is_empty() {
            failures.push(format!(
                "{}: {:?}",
                path.display(),
                p.actions
                    .iter()
                    .flat_map(|a| a
                        .changes
                        .iter()
                        .map(|c| format!("{} {} → {}", c.field, c.from, c.to)))
                    .collect::<Vec<_>>()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "plans with changes:\n{}",
        failures.join("\n")
    );
    // The manifests do name what the corpus is about.
    assert_eq!(
        named,
        BTreeMap::from([
            ("cpu:", 5),
            ("disks:", 14),
            ("firmware: uefi", 2),
            ("graphics:\n    type: spice", 1),
            ("graphics:\n    type: vnc", 3),
            ("interfaces:", 8),
        ])
    );
}

#[test]
fn a_memory_change_rewrites_current_memory_only() {
    let mut failures = Vec::new();
    for path in corpus() {
        let root = owned(&std::fs::read_to_string(&path).unwrap());
        let f = read_domain(&root);
        let want = f.memory_kib.0 / 2;
        let p = plan_for(&manifest_of(&root, want), &root);
        let fields: Vec<&str> = p
            .actions
            .iter()
            .flat_map(|a| a.changes.iter().map(|c| c.field.as_str()))
            .collect();
        if fields != ["memory"] {
            failures.push(format!("{}: changes {fields:?}", path.display()));
            continue;
        }
        let Some(Step::DefineDomain { xml }) = p
            .actions
            .iter()
            .find(|a| a.operation == Operation::Define)
            .map(|a| &a.step)
        else {
            failures.push(format!("{}: no define", path.display()));
            continue;
        };
        let defined = Element::parse(xml).unwrap();
        if read_domain(&defined).memory_kib.0 != want {
            failures.push(format!("{}: currentMemory not {want} KiB", path.display()));
        }
        let skip = ["currentMemory"];
        if normalised(&defined, &skip) != normalised(&root, &skip) {
            failures.push(format!(
                "{}: the define changes more than <currentMemory>:\n{}",
                path.display(),
                defined.to_xml()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The define of `file` after `edit` of its own current-values manifest.
fn define_after(file: &str, edit: (&str, &str)) -> Element {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/corpus/domains")
        .join(file);
    let root = owned(&std::fs::read_to_string(path).unwrap());
    let manifest = manifest_of(&root, read_domain(&root).memory_kib.0);
    assert!(manifest.contains(edit.0), "`{}` not in\n{manifest}", edit.0);
    let p = plan_for(&manifest.replacen(edit.0, edit.1, 1), &root);
    match p
        .actions
        .iter()
        .find(|a| a.operation == Operation::Define)
        .map(|a| &a.step)
    {
        Some(Step::DefineDomain { xml }) => Element::parse(xml).unwrap(),
        _ => panic!("no define"),
    }
}

fn devices<'a>(root: &'a Element, name: &'a str) -> Vec<&'a Element> {
    root.child("devices")
        .unwrap()
        .children_named(name)
        .collect()
}

#[test]
fn a_changed_field_keeps_what_it_does_not_model() {
    // A block device whose format changes stays a block device with its
    // <source> children.
    let e = define_after("block-disk.xml", ("format: raw", "format: qcow2"));
    let disk = devices(&e, "disk")[0];
    assert_eq!(disk.attr("type"), Some("block"));
    assert_eq!(disk.child("driver").unwrap().attr("type"), Some("qcow2"));
    assert_eq!(disk.child("driver").unwrap().attr("io"), Some("native"));
    assert!(disk.find(&["source", "seclabel"]).is_some());
    assert!(disk.child("serial").is_some());
    // A NIC whose model changes keeps its portgroup, bandwidth and queues.
    let e = define_after("nic-portgroup.xml", ("model: virtio", "model: e1000e"));
    let nic = devices(&e, "interface")[0];
    assert_eq!(nic.child("model").unwrap().attr("type"), Some("e1000e"));
    assert_eq!(
        nic.child("source").unwrap().attr("portgroup"),
        Some("engineering")
    );
    assert!(nic.child("bandwidth").is_some() && nic.child("driver").is_some());
    // A new listen address replaces the address listener only.
    let e = define_after(
        "vnc-listen-multi.xml",
        ("listen: 192.0.2.10", "listen: 192.0.2.20"),
    );
    let g = devices(&e, "graphics")[0];
    let listens: Vec<_> = g
        .children_named("listen")
        .map(|l| l.attrs.clone())
        .collect();
    assert_eq!(listens.len(), 2);
    assert_eq!(g.attr("passwd"), Some("s3cret"));
    assert!(g
        .children_named("listen")
        .any(|l| l.attr("network") == Some("mgmt")));
    assert_eq!(read_domain(&e).graphics[0].1.as_deref(), Some("192.0.2.20"));
    // A new custom CPU model keeps features, topology and cache.
    let e = define_after(
        "cpu-features.xml",
        ("model: Haswell-noTSX", "model: Skylake-Client"),
    );
    let cpu = e.child("cpu").unwrap();
    assert_eq!(cpu.child("model").unwrap().text(), "Skylake-Client");
    assert_eq!(cpu.child("model").unwrap().attr("fallback"), Some("forbid"));
    assert_eq!(cpu.children_named("feature").count(), 3);
    assert!(cpu.child("topology").is_some() && cpu.child("cache").is_some());
    // Memory in GiB that changes is written in KiB; <memory> keeps dumpCore.
    let e = define_after(
        "numa-cells.xml",
        ("memory: 2097152KiB", "memory: 1048576KiB"),
    );
    assert_eq!(e.child("memory").unwrap().attr("dumpCore"), Some("on"));
}

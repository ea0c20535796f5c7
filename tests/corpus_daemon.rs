//! The corpus of hand-written domain XML (block and network disks,
//! portgroups, several listen elements, CPU features, custom loaders, NUMA
//! cells, fixed topologies, ...) on a real, private libvirtd, through the
//! `virtsync` binary:
//! - a manifest naming each domain's current fields plans nothing;
//! - a memory change applies and changes nothing else in the persistent
//!   XML libvirt stores;
//! - changes libvirt would refuse or override (memory fixed by NUMA cells,
//!   vCPUs fixed by a topology) are refused at plan time, and nothing is
//!   written.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::corpus::{corpus, manifest_of, normalised, owned};
use common::{output_text, PrivateDaemon};
use virtsync::render::domain::{read_domain, NicSourceId, SourceId};
use virtsync::xml::Element;

/// The networks (with their portgroups) and the volumes the corpus
/// domains refer to, created on `d` so that their external manifests hold.
fn create_references(d: &PrivateDaemon, roots: &[Element]) {
    let mut networks: BTreeSet<String> = BTreeSet::new();
    let mut portgroups: BTreeSet<(String, String)> = BTreeSet::new();
    let mut volumes: BTreeSet<(String, String)> = BTreeSet::new();
    for root in roots {
        let f = read_domain(root);
        for n in &f.interfaces {
            if let NicSourceId::Network(x) = &n.source {
                networks.insert(x.clone());
            }
        }
        for iface in root
            .child("devices")
            .into_iter()
            .flat_map(|d| d.children_named("interface"))
        {
            if let Some(s) = iface.child("source") {
                if let (Some(n), Some(p)) = (s.attr("network"), s.attr("portgroup")) {
                    portgroups.insert((n.to_string(), p.to_string()));
                }
            }
        }
        for disk in &f.disks {
            if let SourceId::Volume { pool, name } = &disk.source {
                volumes.insert((pool.clone(), name.clone()));
            }
        }
    }
    let tmp = tempfile::tempdir().unwrap();
    for (i, n) in networks.iter().enumerate() {
        let groups: String = portgroups
            .iter()
            .filter(|(net, _)| net == n)
            .map(|(_, g)| format!("<portgroup name='{g}'/>"))
            .collect();
        let xml = format!(
            "<network><name>{n}</name><bridge name='vsc{i}'/>{groups}\
             <ip address='10.77.{i}.1' prefix='24'/></network>"
        );
        let path = tmp.path().join(format!("net-{n}.xml"));
        std::fs::write(&path, xml).unwrap();
        d.virsh(&["net-define", path.to_str().unwrap()]);
        d.virsh(&["net-start", n]);
    }
    let pools: BTreeSet<&String> = volumes.iter().map(|(p, _)| p).collect();
    for p in pools {
        let dir = d.path().join(format!("pool-{p}"));
        d.virsh(&[
            "pool-define-as",
            p,
            "dir",
            "--target",
            dir.to_str().unwrap(),
        ]);
        d.virsh(&["pool-build", p]);
        d.virsh(&["pool-start", p]);
    }
    for (p, v) in &volumes {
        let format = if v.ends_with(".qcow2") {
            "qcow2"
        } else {
            "raw"
        };
        d.virsh(&["vol-create-as", p, v, "16M", "--format", format]);
    }
}

/// The persistent XML libvirt stores, without whitespace-only text and the
/// ownership marker, and without the elements in `skip`.
fn stored(d: &PrivateDaemon, name: &str, skip: &[&str]) -> Element {
    let xml = d.virsh(&["dumpxml", "--inactive", "--security-info", name]);
    normalised(&Element::parse(&xml).unwrap(), skip)
}

/// `virtsync CMD DIR` against the daemon, disk paths allowed where the
/// corpus puts them.
fn run(d: &PrivateDaemon, cmd: &str, dir: &Path, state: &Path, extra: &[&str]) -> (i32, String) {
    // The corpus domains carry the marker of the tests' owner.
    let mut args = vec!["--allow-path", "/dev", "--allow-path", "/var/lib/libvirt"];
    args.extend_from_slice(&["--owner", common::TEST_OWNER]);
    args.extend_from_slice(extra);
    let out = d.virtsync(cmd, dir, state, &args);
    (out.status.code().unwrap_or(-1), output_text(&out))
}

#[test]
fn hand_written_domains_plan_empty_and_take_a_memory_change_alone() {
    require_daemon!();
    let d = PrivateDaemon::start();
    let state = tempfile::tempdir().unwrap();
    let files = corpus();
    let roots: Vec<Element> = files
        .iter()
        .map(|p| owned(&std::fs::read_to_string(p).unwrap()))
        .collect();
    create_references(&d, &roots);
    let tmp = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    for (path, root) in files.iter().zip(&roots) {
        let name = root.child("name").unwrap().text();
        let xml = tmp.path().join(format!("{name}.xml"));
        std::fs::write(&xml, root.to_xml()).unwrap();
        d.virsh(&["define", xml.to_str().unwrap()]);
        let kib = read_domain(root).memory_kib.0;
        let dir = tempfile::tempdir().unwrap();
        let manifest = dir.path().join("m.yaml");
        // Current values: nothing to do.
        std::fs::write(&manifest, manifest_of(root, kib)).unwrap();
        let (code, out) = run(&d, "plan", dir.path(), state.path(), &["--exit-code"]);
        if code != 0 {
            failures.push(format!(
                "{}: plan with current values exits {code}:\n{out}",
                path.display()
            ));
            continue;
        }
        // A memory change: applied, and nothing else changes.
        let before = stored(&d, &name, &["currentMemory"]);
        std::fs::write(&manifest, manifest_of(root, kib / 2)).unwrap();
        let (code, out) = run(&d, "apply", dir.path(), state.path(), &["--yes"]);
        if code != 0 {
            failures.push(format!(
                "{}: apply of a memory change exits {code}:\n{out}",
                path.display()
            ));
            continue;
        }
        let after = stored(&d, &name, &["currentMemory"]);
        if after != before {
            failures.push(format!(
                "{}: the memory change changed more than <currentMemory>:\nbefore: {}\nafter:  {}",
                path.display(),
                before.to_xml(),
                after.to_xml()
            ));
        }
        let now =
            read_domain(&Element::parse(&d.virsh(&["dumpxml", "--inactive", &name])).unwrap());
        if now.memory_kib.0 != kib / 2 {
            failures.push(format!(
                "{}: memory is {} KiB, not {}",
                path.display(),
                now.memory_kib,
                kib / 2
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn changes_libvirt_would_refuse_are_refused_at_plan_time() {
    require_daemon!();
    let d = PrivateDaemon::start();
    let state = tempfile::tempdir().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let fixture = |f: &str| {
        let p = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/corpus/domains")
            .join(f);
        owned(&std::fs::read_to_string(p).unwrap())
    };
    for (file, from, to, why) in [
        // NUMA cells fix the memory: a new maximum would be overridden.
        ("numa-cells.xml", "  maxMemory: ", "  maxMemory: 1", "NUMA"),
        // A fixed topology fixes the vCPU count.
        (
            "topology-fixed.xml",
            "  maxVcpus: ",
            "  maxVcpus: 1",
            "topology",
        ),
    ] {
        let root = fixture(file);
        let name = root.child("name").unwrap().text();
        let xml = tmp.path().join(format!("{name}.xml"));
        std::fs::write(&xml, root.to_xml()).unwrap();
        d.virsh(&["define", xml.to_str().unwrap()]);
        let before = stored(&d, &name, &[]);
        let manifest = manifest_of(&root, read_domain(&root).memory_kib.0);
        assert!(manifest.contains(from), "{manifest}");
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("m.yaml"), manifest.replacen(from, to, 1)).unwrap();
        let (code, out) = run(&d, "plan", dir.path(), state.path(), &[]);
        assert_eq!(code, 1, "{file}: {out}");
        assert!(
            out.contains("blocked") && out.contains(why),
            "{file}: {out}"
        );
        let (code, out) = run(&d, "apply", dir.path(), state.path(), &["--yes"]);
        assert_eq!(code, 1, "{file}: nothing is changed: {out}");
        assert_eq!(stored(&d, &name, &[]), before, "{file}: the domain changed");
    }
}

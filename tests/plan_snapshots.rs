//! The planner from data alone: desired state loaded from small manifest
//! directories, observed state built by hand from XML libvirt really
//! produced (captured under tests/fixtures/, see its README.md), plans
//! snapshotted as text, JSON and the XML they would define.
//!
//! Every XML a plan would hand to libvirt is also checked against libvirt's
//! own RelaxNG schemas with `virt-xml-validate`.
//!
//! Update the snapshots after an intended change with
//! `INSTA_UPDATE=always cargo test --test plan_snapshots` (or `cargo insta
//! review`) and review the diff of tests/snapshots/.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use virtsync::inventory::Inventory;
use virtsync::manifest::{load_dir, LoadOptions};
use virtsync::model::*;
use virtsync::observe::parse_capabilities;
use virtsync::plan::{
    self, render_text, ChangeClass, Effect, Operation, Plan, PlanInput, Scope, Step,
};
use virtsync::xml::Element;

mod common;

/// The URI of the hand-built host (only the inventory keys on it).
const URI: &str = "qemu:///system";

const API: &str = "apiVersion: virtsync.io/v1alpha1\n";

// ------------------------------------------------------------------ helpers

/// 2026-12-01T12:00:00Z: the pass time the planner is given.
const NOW: u64 = 1_796_126_400;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn fixture(rel: &str) -> String {
    let p = fixtures().join(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()))
}

/// A manifest directory with `files` (name → YAML), loaded and validated.
fn desired(files: &[(&str, &str)]) -> DesiredState {
    let dir = tempfile::tempdir().expect("temp dir");
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).expect("write manifest");
    }
    match load_dir(dir.path(), &LoadOptions::default()) {
        Ok((d, _)) => d,
        Err(e) => panic!("test manifests do not load: {e}"),
    }
}

/// The manifests of tests/fixtures/existing with textual edits applied
/// (each `from` must occur, so a stale edit fails loudly).
fn existing_desired(edits: &[(&str, &str)]) -> DesiredState {
    let mut text = fixture("existing/manifests.yaml");
    for (from, to) in edits {
        assert!(text.contains(from), "edit `{from}` matches nothing");
        text = text.replacen(from, to, 1);
    }
    desired(&[("manifests.yaml", &text)])
}

fn caps_qemu() -> Capabilities {
    parse_capabilities(&fixture("capabilities-qemu-kvm.xml")).expect("capabilities parse")
}

fn caps_test_driver() -> Capabilities {
    parse_capabilities(&fixture("capabilities-test-driver.xml")).expect("capabilities parse")
}

fn empty_host(caps: Capabilities) -> ObservedHost {
    ObservedHost {
        uri: URI.into(),
        caps,
        ..ObservedHost::default()
    }
}

fn uuid_of(xml: &str) -> String {
    Element::parse(xml)
        .expect("fixture XML parses")
        .child("uuid")
        .map(|u| u.text())
        .expect("fixture has a uuid")
}

/// The host of tests/fixtures/existing as libvirt reported it: domain `web`
/// (in `web_state`), network `lan` (active), dir pool `images` (active) with
/// volume `web.qcow2`; the pool and volume recorded as virtsync's.
fn existing_host(web_state: PowerState) -> (ObservedHost, Inventory) {
    let mut h = empty_host(caps_qemu());
    let dom = fixture("existing/domain-web.xml");
    h.domains.insert(
        "web".into(),
        ObservedDomain {
            name: "web".into(),
            uuid: uuid_of(&dom),
            state: web_state,
            id: (web_state != PowerState::Shutoff).then_some(7),
            persistent: true,
            autostart: false,
            xml: Some(dom),
            live_xml: None,
        },
    );
    let net = fixture("existing/network-lan.xml");
    h.networks.insert(
        "lan".into(),
        ObservedNetwork {
            name: "lan".into(),
            uuid: uuid_of(&net),
            active: true,
            autostart: false,
            xml: Some(net),
            live_xml: None,
        },
    );
    let pool = fixture("existing/pool-images.xml");
    let pool_uuid = uuid_of(&pool);
    h.pools.insert(
        "images".into(),
        ObservedPool {
            name: "images".into(),
            uuid: pool_uuid.clone(),
            active: true,
            autostart: false,
            xml: Some(pool),
        },
    );
    h.volumes.insert(
        ("images".into(), "web.qcow2".into()),
        ObservedVolume {
            pool: "images".into(),
            name: "web.qcow2".into(),
            xml: Some(fixture("existing/volume-web.qcow2.xml")),
        },
    );
    let mut inv = Inventory::default();
    inv.record_pool(&h.identity(), "images", &pool_uuid);
    inv.record_volume(&h.identity(), "images", "web.qcow2");
    (h, inv)
}

fn observed(h: ObservedHost) -> ObservedState {
    ObservedState {
        uris: BTreeMap::from([(HostName::DEFAULT, h.uri.clone())]),
        hosts: BTreeMap::from([(HostName::DEFAULT, h)]),
        ..ObservedState::default()
    }
}

fn try_plan(d: &DesiredState, h: &ObservedHost, inv: &Inventory) -> Result<Plan, String> {
    let obs = observed(h.clone());
    let p = plan::plan(&PlanInput {
        desired: d,
        observed: &obs,
        inventory: inv,
        revision: "",
        now: NOW,
        adopt: false,
        scope: &Scope::new(common::TEST_OWNER, d),
    });
    // Pure: the same input gives the same plan.
    let again = plan::plan(&PlanInput {
        desired: d,
        observed: &obs,
        inventory: inv,
        revision: "",
        now: NOW,
        adopt: false,
        scope: &Scope::new(common::TEST_OWNER, d),
    });
    assert_eq!(p, again, "planning is not deterministic");
    check_xml(&p);
    if !p.blocked.is_empty() {
        let lines: Vec<String> = p.blocked.iter().map(|b| b.to_string()).collect();
        return Err(format!("{} blocked:\n{}", lines.len(), lines.join("\n")));
    }
    Ok(p)
}

fn plan_ok(d: &DesiredState, h: &ObservedHost, inv: &Inventory) -> Plan {
    try_plan(d, h, inv).unwrap_or_else(|e| panic!("planning failed: {e}"))
}

fn plan_err(d: &DesiredState, h: &ObservedHost, inv: &Inventory) -> String {
    match try_plan(d, h, inv) {
        Ok(p) => panic!("planning succeeded:\n{}", render_text(&p)),
        Err(e) => e,
    }
}

/// `sha256:<hex>` → `sha256:[hash]`: the fingerprint and the marker's spec
/// hash change with every model change; they have tests of their own.
fn redact(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("sha256:") {
        out.push_str(&rest[..i + 7]);
        rest = &rest[i + 7..];
        let n = rest.bytes().take_while(|b| b.is_ascii_hexdigit()).count();
        if n == 64 {
            out.push_str("[hash]");
            rest = &rest[n..];
        }
    }
    out.push_str(rest);
    out
}

fn plan_json(p: &Plan) -> serde_json::Value {
    let text = redact(&serde_json::to_string(p).expect("plan serializes"));
    serde_json::from_str(&text).expect("still JSON")
}

/// Indented XML for readable snapshots, hashes redacted.
fn pretty(xml: &str) -> String {
    redact(&common::pretty_xml(xml))
}

/// Every XML document in `p` with the libvirt schema it must satisfy.
fn xml_documents(p: &Plan) -> Vec<(String, &'static str, String)> {
    let mut out = Vec::new();
    for a in &p.actions {
        let (schema, xml) = match &a.step {
            Step::DefineDomain { xml } | Step::CreateDomain { xml, .. } => ("domain", xml),
            Step::DefineNetwork { xml } => ("network", xml),
            Step::DefinePool { xml } => ("storagepool", xml),
            Step::CreateVolume { xml, .. } => ("storagevol", xml),
            Step::CreateSnapshot { xml, .. } => ("domainsnapshot", xml),
            _ => continue,
        };
        out.push((a.id.clone(), schema, xml.clone()));
    }
    out
}

/// Validate every XML of `p` with libvirt's `virt-xml-validate`.
fn check_xml(p: &Plan) {
    for (id, schema, xml) in xml_documents(p) {
        common::check_schema(&id, schema, &xml);
    }
}

fn action<'a>(p: &'a Plan, id: &str) -> &'a plan::Action {
    p.actions
        .iter()
        .find(|a| a.id == id)
        .unwrap_or_else(|| panic!("no action {id} in\n{}", render_text(p)))
}

fn ids(p: &Plan) -> Vec<&str> {
    p.actions.iter().map(|a| a.id.as_str()).collect()
}

fn payload_xml(a: &plan::Action) -> &str {
    a.step
        .xml()
        .unwrap_or_else(|| panic!("{} has no XML payload: {:?}", a.id, a.step))
}

fn class_of(p: &Plan, id: &str, field: &str) -> ChangeClass {
    action(p, id)
        .changes
        .iter()
        .find(|c| c.field == field)
        .unwrap_or_else(|| panic!("{id} does not change {field}:\n{}", render_text(p)))
        .class
}

// ------------------------------------------------------------------ fresh host

const FRESH_STORAGE: &str = r#"apiVersion: virtsync.io/v1alpha1
kind: StoragePool
metadata: {name: images}
spec:
  type: dir
  path: /var/lib/libvirt/images/pool-images
  autostart: true
---
apiVersion: virtsync.io/v1alpha1
kind: Volume
metadata: {name: base.qcow2}
spec:
  pool: images
  capacity: 1GiB
---
apiVersion: virtsync.io/v1alpha1
kind: Volume
metadata: {name: web-1.qcow2}
spec:
  pool: images
  capacity: 10GiB
  backingStore: {name: base.qcow2}
---
apiVersion: virtsync.io/v1alpha1
kind: Volume
metadata: {name: scratch.img}
spec:
  pool: images
  capacity: 512MiB
  format: raw
"#;

const FRESH_NETWORK: &str = r#"apiVersion: virtsync.io/v1alpha1
kind: Network
metadata: {name: lan}
spec:
  forward: {mode: nat}
  bridge: {name: virbr10, stp: true, delay: 0}
  mtu: 1500
  domain: lab.example
  ipv4:
    address: 10.10.0.1
    prefix: 24
    dhcp:
      ranges: [{start: 10.10.0.100, end: 10.10.0.200}]
      hosts:
        - {mac: "52:54:00:12:34:AB", name: web-1, ip: 10.10.0.10}
        - {name: db-1, ip: 10.10.0.11}
  ipv6: {address: "fd00:10::1", prefix: 64}
  dns:
    enable: true
    forwarders: [192.0.2.53]
    hosts: [{ip: 10.10.0.10, hostnames: [web-1, www]}]
  autostart: true
---
apiVersion: virtsync.io/v1alpha1
kind: Network
metadata: {name: isolated}
spec:
  forward: {mode: isolated}
  ipv4: {address: 10.11.0.1, prefix: 24}
  active: false
"#;

const FRESH_DOMAINS: &str = r#"apiVersion: virtsync.io/v1alpha1
kind: Domain
metadata: {name: web-1}
spec:
  state: running
  autostart: true
  machine: q35
  memory: 1GiB
  maxMemory: 2GiB
  vcpus: 2
  maxVcpus: 4
  cpu: {mode: host-passthrough}
  boot: [hd, cdrom]
  disks:
    - volume: {pool: images, name: web-1.qcow2}
    - volume: {pool: images, name: scratch.img}
      bus: sata
    - device: cdrom
  interfaces:
    - {network: lan, mac: "52:54:00:12:34:AB", bootRom: false}
    - {network: isolated, model: e1000}
  graphics: {type: vnc, listen: 127.0.0.1}
  console: pty
  xml:
    - at: /domain/os
      merge: "<bios rebootTimeout='-1'/>"
---
apiVersion: virtsync.io/v1alpha1
kind: Domain
metadata: {name: db-1}
spec:
  state: shutoff
  type: qemu
  firmware: uefi
  memory: 512MiB
  vcpus: 1
  cpu: {mode: custom, model: Skylake-Client}
  disks:
    - path: /var/lib/libvirt/images/db-1.raw
      target: sdb
  interfaces:
    - {bridge: br0}
  graphics: {type: spice}
---
apiVersion: virtsync.io/v1alpha1
kind: Domain
metadata: {name: tmp-1}
spec:
  state: paused
  persistent: false
  memory: 128MiB
  vcpus: 1
  graphics: {type: none}
  console: none
"#;

fn fresh_desired() -> DesiredState {
    desired(&[
        ("storage.yaml", FRESH_STORAGE),
        ("network.yaml", FRESH_NETWORK),
        ("domains.yaml", FRESH_DOMAINS),
    ])
}

#[test]
fn fresh_host_creates_everything_in_dependency_order() {
    let d = fresh_desired();
    let p = plan_ok(&d, &empty_host(caps_qemu()), &Inventory::default());

    // Order: pools → volumes → networks → domains.
    let rank = |k: Kind| match k {
        Kind::StoragePool => 0,
        Kind::Volume => 1,
        Kind::Network => 2,
        Kind::Domain => 3,
        _ => 9,
    };
    let ranks: Vec<u8> = p.actions.iter().map(|a| rank(a.kind)).collect();
    assert!(
        ranks.windows(2).all(|w| w[0] <= w[1]),
        "actions out of dependency order: {:?}",
        ids(&p)
    );
    // Every dependency names an earlier action.
    for (i, a) in p.actions.iter().enumerate() {
        for dep in &a.depends_on {
            let j = p.actions.iter().position(|x| &x.id == dep);
            assert!(
                j.is_some_and(|j| j < i),
                "{} depends on {dep}, which is not an earlier action",
                a.id
            );
        }
    }
    let deps = |id: &str| action(&p, id).depends_on.clone();
    // A pool is built after it is defined and started after it is built.
    assert_eq!(
        deps("storagepool/images/build"),
        ["storagepool/images/define"]
    );
    assert_eq!(
        deps("storagepool/images/start"),
        ["storagepool/images/build"]
    );
    // Volumes wait for their (started) pool; an overlay for its backing volume.
    assert_eq!(
        deps("volume/images/base.qcow2/create-volume"),
        ["storagepool/images/start"]
    );
    assert_eq!(
        deps("volume/images/web-1.qcow2/create-volume"),
        [
            "storagepool/images/start",
            "volume/images/base.qcow2/create-volume"
        ]
    );
    // A domain is defined once its volumes and networks are usable, and
    // started after its define.
    assert_eq!(
        deps("domain/web-1/define"),
        [
            "network/isolated/define",
            "network/lan/start",
            "storagepool/images/start",
            "volume/images/scratch.img/create-volume",
            "volume/images/web-1.qcow2/create-volume",
        ]
    );
    assert!(deps("domain/web-1/start").contains(&"domain/web-1/set-autostart".to_string()));
    assert!(deps("domain/db-1/define").is_empty());
    // Nothing but creation and power-on on a fresh host.
    assert!(p
        .actions
        .iter()
        .all(|a| a.effect != Effect::Delete && a.changes.is_empty()
            || a.operation == Operation::SetAutostart));
    // A shut-off domain is only defined; an inactive network only defined;
    // a transient paused domain is created paused.
    assert!(!ids(&p).contains(&"domain/db-1/start"));
    assert!(!ids(&p).contains(&"network/isolated/start"));
    assert!(matches!(
        action(&p, "domain/tmp-1/create").step,
        Step::CreateDomain { paused: true, .. }
    ));

    insta::assert_snapshot!("fresh_host_text", render_text(&p));
    insta::assert_json_snapshot!("fresh_host_json", plan_json(&p));
    for (id, _, xml) in xml_documents(&p) {
        insta::assert_snapshot!(
            format!("fresh_host_xml__{}", id.replace('/', "_")),
            pretty(&xml)
        );
    }
}

#[test]
fn fresh_domain_normalises_macs_and_expands_nothing_else() {
    let d = fresh_desired();
    let p = plan_ok(&d, &empty_host(caps_qemu()), &Inventory::default());
    let xml = payload_xml(action(&p, "domain/web-1/define"));
    // The manifest's upper-case MAC is written the way libvirt stores it.
    assert!(xml.contains("52:54:00:12:34:ab"), "{xml}");
    // The alias is written as the user gave it (libvirt expands it).
    assert!(xml.contains("machine=\"q35\""), "{xml}");
    // The network's DHCP host too.
    assert!(payload_xml(action(&p, "network/lan/define")).contains("52:54:00:12:34:ab"));
}

#[test]
fn fresh_host_on_the_test_driver() {
    // The quickstart against the test driver's capabilities: arch i686,
    // domain type `test` (what `--connect test:///default` renders).
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart");
    let (d, _) = load_dir(&dir, &LoadOptions::default()).expect("quickstart loads");
    let p = plan_ok(&d, &empty_host(caps_test_driver()), &Inventory::default());
    let web = payload_xml(action(&p, "domain/qs-web/define"));
    assert!(web.contains("type=\"test\""), "{web}");
    assert!(web.contains("arch=\"i686\""), "{web}");
    insta::assert_snapshot!("quickstart_test_driver_text", render_text(&p));
    insta::assert_snapshot!("quickstart_test_driver_xml_qs-web", pretty(web));
}

// ------------------------------------------------------------------ existing objects

#[test]
fn converged_host_plans_nothing() {
    // The manifests exactly as applied: libvirt's normalised XML (expanded
    // machine, lower-case MACs, generated MAC, PCI addresses, controllers,
    // default models) gives no diff.
    let d = existing_desired(&[]);
    let (h, inv) = existing_host(PowerState::Shutoff);
    let p = plan_ok(&d, &h, &inv);
    assert!(p.is_empty(), "{}", render_text(&p));
    assert!(p.notices.is_empty(), "{:?}", p.notices);
    insta::assert_snapshot!("converged_text", render_text(&p));
}

#[test]
fn memory_and_vcpus_on_a_running_domain_are_live() {
    let d = existing_desired(&[
        ("state: shutoff", "state: running"),
        ("memory: 512MiB", "memory: 768MiB"),
        ("vcpus: 2", "vcpus: 3"),
    ]);
    let (h, inv) = existing_host(PowerState::Running);
    let p = plan_ok(&d, &h, &inv);
    assert_eq!(ids(&p), ["domain/web/define", "domain/web/update-live"]);
    assert_eq!(
        class_of(&p, "domain/web/define", "memory"),
        ChangeClass::Live
    );
    assert_eq!(
        class_of(&p, "domain/web/define", "vcpus"),
        ChangeClass::Live
    );
    match &action(&p, "domain/web/update-live").step {
        Step::UpdateLive {
            memory_kib, vcpus, ..
        } => {
            assert_eq!(*memory_kib, Some(Kib(768 * 1024)));
            assert_eq!(*vcpus, Some(3));
        }
        other => panic!("{other:?}"),
    }
    // No restart pending: everything was applied live.
    assert!(p.notices.is_empty(), "{:?}", p.notices);
    insta::assert_snapshot!("memory_vcpus_running_text", render_text(&p));
    insta::assert_json_snapshot!("memory_vcpus_running_json", plan_json(&p));
    insta::assert_snapshot!(
        "memory_vcpus_running_xml",
        pretty(payload_xml(action(&p, "domain/web/define")))
    );
}

#[test]
fn memory_and_vcpus_on_a_shut_off_domain_are_next_boot() {
    let d = existing_desired(&[
        ("memory: 512MiB", "memory: 768MiB"),
        ("vcpus: 2", "vcpus: 3"),
    ]);
    let (h, inv) = existing_host(PowerState::Shutoff);
    let p = plan_ok(&d, &h, &inv);
    assert_eq!(ids(&p), ["domain/web/define"]);
    assert_eq!(
        class_of(&p, "domain/web/define", "memory"),
        ChangeClass::NextBoot
    );
    assert_eq!(
        class_of(&p, "domain/web/define", "vcpus"),
        ChangeClass::NextBoot
    );
    // Shut off: nothing is pending a restart.
    assert!(p.notices.is_empty(), "{:?}", p.notices);
    insta::assert_snapshot!("memory_vcpus_shutoff_text", render_text(&p));
}

#[test]
fn beyond_the_ceilings_or_fewer_vcpus_is_next_boot_with_restart_pending() {
    // Memory above the observed ceiling (maxMemory unset: raised to memory)
    // and fewer vCPUs (unplug needs the guest) cannot be done live.
    let d = existing_desired(&[
        ("state: shutoff", "state: running"),
        ("memory: 512MiB\n  maxMemory: 1GiB\n", "memory: 2GiB\n"),
        ("vcpus: 2", "vcpus: 1"),
    ]);
    let (h, inv) = existing_host(PowerState::Running);
    let p = plan_ok(&d, &h, &inv);
    assert_eq!(ids(&p), ["domain/web/define"]);
    for f in ["maxMemory", "memory", "vcpus"] {
        assert_eq!(
            class_of(&p, "domain/web/define", f),
            ChangeClass::NextBoot,
            "{f}"
        );
    }
    assert_eq!(p.summary.restart_pending, 1);
    insta::assert_snapshot!("beyond_ceilings_text", render_text(&p));
}

#[test]
fn restart_policy_on_config_change_restarts() {
    let d = existing_desired(&[
        (
            "state: shutoff",
            "state: running\n  restartPolicy: onConfigChange",
        ),
        ("vcpus: 2", "vcpus: 1"),
    ]);
    let (h, inv) = existing_host(PowerState::Running);
    let p = plan_ok(&d, &h, &inv);
    assert_eq!(ids(&p), ["domain/web/define", "domain/web/restart"]);
    assert_eq!(
        action(&p, "domain/web/restart").depends_on,
        ["domain/web/define"]
    );
    assert!(p.notices.is_empty());
    insta::assert_snapshot!("restart_on_config_change_text", render_text(&p));
}

#[test]
fn mac_case_and_generated_macs() {
    // The manifest writes the MAC upper-case (for the NIC and the DHCP
    // host); libvirt stores it lower-case: no diff.
    let d = existing_desired(&[]);
    let src = std::fs::read_to_string(fixtures().join("existing/manifests.yaml")).unwrap();
    assert!(src.contains("52:54:00:AB:CD:EF"));
    let (h, inv) = existing_host(PowerState::Shutoff);
    assert!(plan_ok(&d, &h, &inv).is_empty());

    // The second NIC names no MAC: libvirt generated one at define. An
    // update keeps it (and the first NIC's), never generating a new one.
    let d = existing_desired(&[("memory: 512MiB", "memory: 640MiB")]);
    let p = plan_ok(&d, &h, &inv);
    assert_eq!(ids(&p), ["domain/web/define"]);
    let xml = payload_xml(action(&p, "domain/web/define"));
    let root = Element::parse(xml).unwrap();
    let macs: Vec<String> = root
        .child("devices")
        .unwrap()
        .children_named("interface")
        .map(|i| i.child("mac").unwrap().attr("address").unwrap().to_string())
        .collect();
    assert_eq!(macs, ["52:54:00:ab:cd:ef", "52:54:00:41:a7:09"]);
    // The PCI addresses and the UUID libvirt assigned are kept too.
    assert!(xml.contains("a7e7fd18-724c-4f42-823f-b2d156a21a6f"));
    assert_eq!(xml.matches("<address type=\"pci\"").count(), 13, "{xml}");

    // A MAC in other case in the DHCP host of the network: no diff either;
    // a really different MAC is a live DHCP change.
    let d = existing_desired(&[(
        "hosts: [{mac: \"52:54:00:AB:CD:EF\", name: web, ip: 10.20.0.10}]",
        "hosts: [{mac: \"52:54:00:AB:CD:EE\", name: web, ip: 10.20.0.10}]",
    )]);
    let p = plan_ok(&d, &h, &inv);
    assert_eq!(ids(&p), ["network/lan/update-dhcp-hosts"]);
    assert_eq!(
        class_of(&p, "network/lan/update-dhcp-hosts", "ipv4.dhcp.hosts"),
        ChangeClass::Live
    );
    insta::assert_snapshot!("dhcp_host_mac_text", render_text(&p));
    insta::assert_json_snapshot!("dhcp_host_mac_json", plan_json(&p));
}

#[test]
fn changing_a_nic_mac_replaces_that_nic_only() {
    let d = existing_desired(&[(
        "{network: lan, mac: \"52:54:00:AB:CD:EF\", bootRom: false}",
        "{network: lan, mac: \"52:54:00:AB:CD:01\", bootRom: false}",
    )]);
    let (h, inv) = existing_host(PowerState::Shutoff);
    let p = plan_ok(&d, &h, &inv);
    assert_eq!(ids(&p), ["domain/web/define"]);
    insta::assert_snapshot!("nic_mac_changed_text", render_text(&p));
}

#[test]
fn machine_alias_and_canonical_name_give_no_diff() {
    let (h, inv) = existing_host(PowerState::Shutoff);
    // The fixture was defined with `q35`; libvirt stored pc-q35-7.2.
    assert!(h.domains["web"]
        .xml
        .as_deref()
        .unwrap()
        .contains("machine='pc-q35-7.2'"));
    for m in ["q35", "pc-q35-7.2"] {
        let d = existing_desired(&[("machine: q35", &format!("machine: {m}"))]);
        let p = plan_ok(&d, &h, &inv);
        assert!(p.is_empty(), "machine {m}:\n{}", render_text(&p));
    }
    // Another machine is a next-boot change, written as the user wrote it.
    for (m, snap) in [
        ("pc-q35-6.2", "machine_older_text"),
        ("pc", "machine_pc_text"),
    ] {
        let d = existing_desired(&[("machine: q35", &format!("machine: {m}"))]);
        let p = plan_ok(&d, &h, &inv);
        assert_eq!(ids(&p), ["domain/web/define"], "machine {m}");
        assert_eq!(
            class_of(&p, "domain/web/define", "machine"),
            ChangeClass::NextBoot
        );
        let xml = payload_xml(action(&p, "domain/web/define"));
        assert!(xml.contains(&format!("machine=\"{m}\"")), "{xml}");
        insta::assert_snapshot!(snap, render_text(&p));
    }
    // An unrelated change does not rewrite the stored machine to the alias
    // (which would move the guest to the newest machine version).
    let d = existing_desired(&[("vcpus: 2", "vcpus: 3")]);
    let p = plan_ok(&d, &h, &inv);
    let xml = payload_xml(action(&p, "domain/web/define"));
    assert!(xml.contains("machine=\"pc-q35-7.2\""), "{xml}");
}

// ------------------------------------------------------------------ errors

#[test]
fn unmanaged_existing_domain_is_a_planning_error() {
    let d = desired(&[(
        "test.yaml",
        &format!(
            "{API}kind: Domain\nmetadata: {{name: test}}\nspec: {{memory: 64MiB, vcpus: 1}}\n"
        ),
    )]);
    let mut h = empty_host(caps_test_driver());
    let xml = fixture("domain-unmanaged-test.xml");
    h.domains.insert(
        "test".into(),
        ObservedDomain {
            name: "test".into(),
            uuid: uuid_of(&xml),
            state: PowerState::Running,
            id: Some(7),
            persistent: true,
            autostart: false,
            xml: Some(xml),
            live_xml: None,
        },
    );
    let e = plan_err(&d, &h, &Inventory::default());
    assert!(e.contains("does not manage it"), "{e}");
    insta::assert_snapshot!("unmanaged_domain_error", e);
}

#[test]
fn unmanaged_existing_network_pool_and_volume_are_planning_errors() {
    // The same names as the fixture's, but nothing recorded as ours and the
    // network without a marker.
    let d = existing_desired(&[]);
    let (mut h, _) = existing_host(PowerState::Shutoff);
    let net = h.networks.get_mut("lan").unwrap();
    net.xml = Some(fixture("network-unmanaged-default.xml").replace("default", "lan"));
    let e = plan_err(&d, &h, &Inventory::default());
    insta::assert_snapshot!("unmanaged_storage_network_error", e);
}

#[test]
fn external_network_must_exist_and_be_active() {
    let files = format!(
        "{API}kind: Network\nmetadata: {{name: default, external: true}}\n---\n\
         {API}kind: Domain\nmetadata: {{name: vm}}\n\
         spec: {{memory: 64MiB, vcpus: 1, interfaces: [{{network: default}}]}}\n"
    );
    let d = desired(&[("m.yaml", &files)]);
    // Missing: an error, nothing planned.
    let e = plan_err(&d, &empty_host(caps_qemu()), &Inventory::default());
    assert!(e.contains("must exist on the host"), "{e}");
    insta::assert_snapshot!("external_network_missing_error", e);
    // Present but inactive: an error too (virtsync never starts it).
    let mut h = empty_host(caps_qemu());
    let xml = fixture("network-unmanaged-default.xml");
    h.networks.insert(
        "default".into(),
        ObservedNetwork {
            name: "default".into(),
            uuid: uuid_of(&xml),
            active: false,
            autostart: false,
            xml: None,
            live_xml: None,
        },
    );
    let e = plan_err(&d, &h, &Inventory::default());
    assert!(e.contains("not active"), "{e}");
    // Present and active: used as it is, never touched.
    h.networks.get_mut("default").unwrap().active = true;
    let p = plan_ok(&d, &h, &Inventory::default());
    assert!(
        p.actions.iter().all(|a| a.kind == Kind::Domain),
        "{:?}",
        ids(&p)
    );
    assert!(action(&p, "domain/vm/define").depends_on.is_empty());
}

#[test]
fn snapshots_are_taken_once_updated_in_place_and_never_retaken() {
    let with_snapshot = |description: &str| {
        let mut text = fixture("existing/manifests.yaml");
        text.push_str(&format!(
            "---\n{API}kind: Snapshot\nmetadata: {{name: before-upgrade}}\nspec: {{domain: web, description: {description}}}\n"
        ));
        desired(&[("manifests.yaml", &text)])
    };
    let d = with_snapshot("before the kernel upgrade");
    let (mut h, mut inv) = existing_host(PowerState::Shutoff);
    h.snapshots.insert("web".into(), BTreeMap::new());
    // Declared, not there, never taken: take it.
    let p = plan_ok(&d, &h, &inv);
    assert_eq!(ids(&p), ["snapshot/web/before-upgrade/create-snapshot"]);
    let xml = payload_xml(action(&p, "snapshot/web/before-upgrade/create-snapshot"));
    assert!(
        xml.contains("<name>before-upgrade</name>")
            && xml.contains("<description>before the kernel upgrade</description>"),
        "{xml}"
    );
    // Taken (recorded) and there: nothing to do; a new description is
    // written in place.
    inv.record_snapshot(&h.identity(), "web", "before-upgrade");
    let taken = "<domainsnapshot><name>before-upgrade</name><description>before the kernel upgrade</description><state>shutoff</state></domainsnapshot>";
    h.snapshots
        .get_mut("web")
        .unwrap()
        .insert("before-upgrade".into(), taken.into());
    assert!(plan_ok(&d, &h, &inv).is_empty());
    let p = plan_ok(&with_snapshot("kernel 6.1 upgrade"), &h, &inv);
    assert_eq!(ids(&p), ["snapshot/web/before-upgrade/update-snapshot"]);
    let xml = payload_xml(action(&p, "snapshot/web/before-upgrade/update-snapshot"));
    assert!(
        xml.contains("<description>kernel 6.1 upgrade</description>")
            && xml.contains("<state>shutoff</state>"),
        "{xml}"
    );
    // Deleted by hand after virtsync took it: reported, never re-taken.
    h.snapshots.get_mut("web").unwrap().clear();
    let e = plan_err(&d, &h, &inv);
    assert!(
        e.contains("deleted outside virtsync") && e.contains("not taken again"),
        "{e}"
    );
    // A snapshot of that name virtsync did not take: not touched.
    h.snapshots
        .get_mut("web")
        .unwrap()
        .insert("before-upgrade".into(), taken.into());
    let e = plan_err(&d, &h, &Inventory::default());
    assert!(e.contains("did not take"), "{e}");
}

#[test]
fn snapshot_policy_snapshots_before_a_restart_and_keeps_the_newest() {
    // Memory above the ceiling: next-boot; onConfigChange restarts, and
    // the policy's snapshot comes first.
    let d = existing_desired(&[
        (
            "  state: shutoff\n",
            "  state: running\n  restartPolicy: onConfigChange\n  snapshotPolicy: {beforeDisruptiveChange: true, keep: 2}\n",
        ),
        (
            "  memory: 512MiB\n  maxMemory: 1GiB",
            "  memory: 2GiB\n  maxMemory: 2GiB",
        ),
    ]);
    let (mut h, mut inv) = existing_host(PowerState::Running);
    let snap = "snapshot/web/web-auto-20261201T120000Z/create-snapshot";
    // Two earlier policy snapshots virtsync took, one declared by hand.
    let old = ["web-auto-20261101T000000Z", "web-auto-20261115T000000Z"];
    let mut list = BTreeMap::new();
    for n in old.iter().chain(&["web-auto-hand-made"]) {
        list.insert(
            n.to_string(),
            format!("<domainsnapshot><name>{n}</name></domainsnapshot>"),
        );
    }
    h.snapshots.insert("web".into(), list);
    for n in old {
        inv.record_snapshot(&h.identity(), "web", n);
    }
    let p = plan_ok(&d, &h, &inv);
    assert_eq!(
        ids(&p),
        [
            "domain/web/define",
            snap,
            "domain/web/restart",
            "snapshot/web/web-auto-20261101T000000Z/delete-snapshot",
        ]
    );
    assert!(action(&p, "domain/web/restart")
        .depends_on
        .contains(&snap.to_string()));
    // The oldest goes only once the new one is there; the hand-made one
    // (not recorded as virtsync's) is never counted nor deleted.
    assert_eq!(
        action(&p, "snapshot/web/web-auto-20261101T000000Z/delete-snapshot").depends_on,
        [snap]
    );
    // Without a restart nothing is taken, and two are kept.
    let calm = existing_desired(&[(
        "  state: shutoff\n",
        "  state: running\n  snapshotPolicy: {beforeDisruptiveChange: true, keep: 2}\n",
    )]);
    assert!(plan_ok(&calm, &h, &inv).is_empty());
}

#[test]
fn volume_shrink_is_an_error_and_growth_a_resize() {
    let (h, inv) = existing_host(PowerState::Shutoff);
    let d = existing_desired(&[("capacity: 2GiB", "capacity: 1GiB")]);
    let e = plan_err(&d, &h, &inv);
    assert!(e.contains("shrinking is not supported"), "{e}");
    insta::assert_snapshot!("volume_shrink_error", e);

    let d = existing_desired(&[("capacity: 2GiB", "capacity: 3GiB")]);
    let p = plan_ok(&d, &h, &inv);
    assert_eq!(ids(&p), ["volume/images/web.qcow2/resize-volume"]);
    match &action(&p, "volume/images/web.qcow2/resize-volume").step {
        Step::ResizeVolume { pool, capacity, .. } => {
            assert_eq!(pool, "images");
            assert_eq!(*capacity, 3 << 30);
        }
        other => panic!("{other:?}"),
    }
    insta::assert_snapshot!("volume_grow_text", render_text(&p));

    // A format change is never done in place.
    let d = existing_desired(&[("capacity: 2GiB", "capacity: 2GiB\n  format: raw")]);
    let e = plan_err(&d, &h, &inv);
    assert!(e.contains("never replaced"), "{e}");
}

// ------------------------------------------------------------------ power

#[test]
fn power_state_transitions() {
    use PowerState::*;
    let mut table = String::new();
    for have in [Running, Paused, Shutoff] {
        for want in [Running, Paused, Shutoff] {
            let word = |s: PowerState| match s {
                Running => "running",
                Paused => "paused",
                Shutoff => "shutoff",
            };
            let d = existing_desired(&[("state: shutoff", &format!("state: {}", word(want)))]);
            let (h, inv) = existing_host(have);
            let p = plan_ok(&d, &h, &inv);
            assert!(
                p.actions.iter().all(|a| a.effect == Effect::Power),
                "{:?}",
                ids(&p)
            );
            let ops: Vec<String> = p
                .actions
                .iter()
                .map(|a| match &a.step {
                    Step::StartDomain { paused: true } => "start (paused)".to_string(),
                    _ => a.operation.as_str().to_string(),
                })
                .collect();
            table.push_str(&format!(
                "{:>8} → {:<8}: {}\n",
                word(have),
                word(want),
                if ops.is_empty() {
                    "-".to_string()
                } else {
                    ops.join(", ")
                }
            ));
        }
    }
    insta::assert_snapshot!("power_transitions", table);
}

#[test]
fn autostart_is_a_live_change() {
    let d = existing_desired(&[("state: shutoff", "state: shutoff\n  autostart: true")]);
    let (h, inv) = existing_host(PowerState::Shutoff);
    let p = plan_ok(&d, &h, &inv);
    assert_eq!(ids(&p), ["domain/web/set-autostart"]);
    assert_eq!(
        class_of(&p, "domain/web/set-autostart", "autostart"),
        ChangeClass::Live
    );
}

#[test]
fn a_restart_of_a_paused_guest_brings_it_back_paused() {
    // Memory above the ceiling: next-boot; onConfigChange restarts.
    let d = existing_desired(&[
        (
            "  state: shutoff\n",
            "  state: paused\n  restartPolicy: onConfigChange\n",
        ),
        (
            "  memory: 512MiB\n  maxMemory: 1GiB",
            "  memory: 2GiB\n  maxMemory: 2GiB",
        ),
    ]);
    let (h, inv) = existing_host(PowerState::Paused);
    let p = plan_ok(&d, &h, &inv);
    assert_eq!(ids(&p), ["domain/web/define", "domain/web/restart"]);
    match &action(&p, "domain/web/restart").step {
        Step::RestartDomain { paused, .. } => assert!(*paused),
        other => panic!("{other:?}"),
    }
    // From paused to running: the restart starts it running, no resume.
    let d = existing_desired(&[
        (
            "  state: shutoff\n",
            "  state: running\n  restartPolicy: onConfigChange\n",
        ),
        (
            "  memory: 512MiB\n  maxMemory: 1GiB",
            "  memory: 2GiB\n  maxMemory: 2GiB",
        ),
    ]);
    let p = plan_ok(&d, &h, &inv);
    assert_eq!(ids(&p), ["domain/web/define", "domain/web/restart"]);
}

#[test]
fn a_uuid_change_is_an_error_never_a_replace() {
    let (h, inv) = existing_host(PowerState::Running);
    let d = existing_desired(&[(
        "  state: shutoff\n",
        "  state: running\n  uuid: 00000000-0000-4000-8000-000000000001\n",
    )]);
    let e = plan_err(&d, &h, &inv);
    assert!(e.contains("never replaced automatically"), "{e}");
}

#[test]
fn a_clone_larger_than_asked_is_in_sync() {
    let (mut h, mut inv) = existing_host(PowerState::Shutoff);
    let d = existing_desired(&[(
        "  capacity: 2GiB\n",
        "  capacity: 2GiB\n---\napiVersion: virtsync.io/v1alpha1\nkind: Volume\nmetadata: {name: copy.qcow2}\nspec: {pool: images, capacity: 1GiB, cloneFrom: {name: web.qcow2}}\n",
    )]);
    // libvirt made the copy as large as its 2 GiB source.
    let web = h.volumes[&("images".to_string(), "web.qcow2".to_string())].clone();
    let copy_xml = web.xml.clone().unwrap().replace("web.qcow2", "copy.qcow2");
    h.volumes.insert(
        ("images".into(), "copy.qcow2".into()),
        ObservedVolume {
            pool: "images".into(),
            name: "copy.qcow2".into(),
            xml: Some(copy_xml),
        },
    );
    inv.record_volume(&h.identity(), "images", "copy.qcow2");
    assert!(plan_ok(&d, &h, &inv).is_empty());
}

#[test]
fn a_transient_domains_live_memory_rounding_is_no_change() {
    let (mut h, inv) = existing_host(PowerState::Running);
    h.domains.get_mut("web").unwrap().persistent = false;
    // QEMU runs whole MiB: 524000 KiB asked, 524288 KiB (512 MiB) live.
    let d = existing_desired(&[
        (
            "  state: shutoff\n",
            "  state: running\n  persistent: false\n",
        ),
        ("  memory: 512MiB\n", "  memory: 524000KiB\n"),
    ]);
    let p = plan_ok(&d, &h, &inv);
    assert!(p.is_empty(), "{}", render_text(&p));
    // Within its maximum: live, the balloon target kept in the marker of
    // its live definition.
    let d = existing_desired(&[
        (
            "  state: shutoff\n",
            "  state: running\n  persistent: false\n",
        ),
        ("  memory: 512MiB\n", "  memory: 768MiB\n"),
    ]);
    let p = plan_ok(&d, &h, &inv);
    assert_eq!(ids(&p), ["domain/web/update-live"]);
    let Step::UpdateLive { marker, .. } = &p.actions[0].step else {
        panic!("{:?}", p.actions[0].step)
    };
    assert!(
        marker
            .as_deref()
            .is_some_and(|m| m.contains("memory-kib=\"786432\"")),
        "{marker:?}"
    );
    // Beyond it: created anew.
    let d = existing_desired(&[
        (
            "  state: shutoff\n",
            "  state: running\n  persistent: false\n",
        ),
        ("  memory: 512MiB\n", "  memory: 4GiB\n"),
        ("  maxMemory: 1GiB\n", "  maxMemory: 4GiB\n"),
    ]);
    // Its snapshots not listed yet: they are asked for, and kept meanwhile.
    let p = plan_ok(&d, &h, &inv);
    assert_eq!(
        ids(&p),
        [
            "domain/web/save-snapshots",
            "domain/web/shutdown",
            "domain/web/create",
            "domain/web/restore-snapshots"
        ]
    );
    assert!(p
        .live_xml_wanted
        .contains(&(HostName::DEFAULT, Kind::Snapshot, "web".to_string())));
    // Listed, none: nothing to keep.
    h.snapshots.insert("web".into(), Default::default());
    let p = plan_ok(&d, &h, &inv);
    assert_eq!(ids(&p), ["domain/web/shutdown", "domain/web/create"]);
}

#[test]
fn networks_without_a_bridge_name_are_defined_one_at_a_time() {
    // libvirt picks the bridge name at define time from the names in use:
    // two defines in parallel could pick the same one.
    let files = format!(
        "{API}kind: Network\nmetadata: {{name: n1}}\nspec: {{forward: {{mode: nat}}}}\n---\n\
         {API}kind: Network\nmetadata: {{name: n2}}\nspec: {{forward: {{mode: nat}}}}\n---\n\
         {API}kind: Network\nmetadata: {{name: n3}}\nspec: {{bridge: {{name: br-n3}}}}\n"
    );
    let d = desired(&[("m.yaml", &files)]);
    let p = plan_ok(&d, &empty_host(caps_qemu()), &Inventory::default());
    assert_eq!(action(&p, "network/n2/define").after, ["network/n1/define"]);
    // Ordering only: n1's failure would not skip n2.
    assert!(action(&p, "network/n2/define").depends_on.is_empty());
    // A network that names its bridge does not wait.
    assert!(action(&p, "network/n3/define").after.is_empty());
}

/// New domains wait while another known host cannot be reached (a domain
/// moved away from it may still run there) — but an unreachable default
/// connection that no manifest uses does not stop them.
#[test]
fn new_domains_and_unreachable_hosts() {
    let files = |on_default: bool| {
        let mut s = format!(
            "{API}kind: Host\nmetadata: {{name: b}}\nspec: {{uri: \"qemu+ssh://b/system\"}}\n---\n\
             {API}kind: Domain\nmetadata: {{name: vm, host: b}}\nspec: {{memory: 64MiB, vcpus: 1}}\n"
        );
        if on_default {
            s.push_str(&format!(
                "---\n{API}kind: Network\nmetadata: {{name: n}}\nspec: {{forward: {{mode: nat}}}}\n"
            ));
        }
        s
    };
    let state = |h: ObservedHost| ObservedState {
        hosts: BTreeMap::from([(HostName::named("b"), h)]),
        unreachable: BTreeMap::from([(HostName::DEFAULT, "no such socket".to_string())]),
        ..ObservedState::default()
    };
    let run = |d: &DesiredState| {
        plan::plan(&PlanInput {
            desired: d,
            observed: &state(empty_host(caps_qemu())),
            inventory: &Inventory::default(),
            revision: "",
            now: NOW,
            adopt: false,
            scope: &Scope::new(common::TEST_OWNER, d),
        })
    };
    // Nothing is placed on the default connection: vm is created on b.
    let p = run(&desired(&[("m.yaml", &files(false))]));
    assert!(p.blocked.is_empty(), "{:?}", p.blocked);
    assert!(
        ids(&p).contains(&"b/domain/vm/define"),
        "{}",
        render_text(&p)
    );
    // The default connection is used (and unreachable): vm waits.
    let p = run(&desired(&[("m.yaml", &files(true))]));
    let names: Vec<&str> = p.blocked.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(names, ["n", "vm"], "{:?}", p.blocked);
    assert!(p.blocked[1].reason.contains("may be managed there"));
}

// ------------------------------------------------------- explain's classes

/// `virtsync explain` states each field's change class from a table
/// (src/manifest/classes.rs); the planner decides from the observed state.
/// They must agree where the table names the planner's usual case.
#[test]
fn explain_change_classes_agree_with_the_planner() {
    use virtsync::manifest::classes;
    /// Edits of the existing host's manifests, its power state, fields.
    type Case<'a> = (&'a [(&'a str, &'a str)], PowerState, &'a [&'a str]);
    let cases: [Case; 2] = [
        // Running guest: memory within maxMemory and added vCPUs are live.
        (
            &[
                ("state: shutoff", "state: running"),
                ("memory: 512MiB", "memory: 768MiB"),
                ("vcpus: 2", "vcpus: 3"),
            ],
            PowerState::Running,
            &["memory", "vcpus"],
        ),
        // Ceilings: next boot.
        (
            &[
                ("maxMemory: 1GiB", "maxMemory: 2GiB"),
                ("maxVcpus: 4", "maxVcpus: 6"),
            ],
            PowerState::Shutoff,
            &["maxMemory", "maxVcpus"],
        ),
    ];
    for (edits, power, fields) in cases {
        let (h, inv) = existing_host(power);
        let p = plan_ok(&existing_desired(edits), &h, &inv);
        for field in fields {
            let table = classes::class_of("Domain", &format!("spec.{field}")).unwrap();
            assert_eq!(
                class_of(&p, "domain/web/define", field).as_str(),
                table.class,
                "{field}"
            );
        }
    }
}

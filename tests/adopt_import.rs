//! Adoption (`--adopt`) and import on libvirt's in-process test driver
//! (`test:///default`), through the library as the CLI uses it.
//!
//! Objects are made by hand (as `virsh` would), never by virtsync: a
//! domain, a network, a pool with a volume. Adopting them is one `adopt`
//! action each and nothing else; the differences of the manifests show in
//! the next plan. Importing them writes manifests that, once adopted, plan
//! to nothing.
//!
//! The test driver keeps one state per process, shared by every test of
//! this binary: each test uses names of its own and keeps a connection
//! open for its whole run.

use std::path::Path;

mod common;

use common::{load, Lab};
use virtsync::backend::LibvirtHost;
use virtsync::import::{self, Selection};
use virtsync::manifest::{load_dir, LoadOptions};
use virtsync::model::Kind;
use virtsync::plan::{render_text, BlockCause, Effect, Operation, Step};
use virtsync::render::read_marker;
use virtsync::xml::Element;

const URI: &str = "test:///default";

/// Make, by hand, a network `{p}-net` (not started: the test driver gives
/// only the live XML of an active network, so a define of its persistent
/// config would not be seen; the daemon tests adopt active ones), a dir pool `{p}-pool` with a 1 GiB
/// qcow2 volume `{p}-vol.qcow2`, and a running domain `{p}-vm` with two
/// disks (a file and that volume), two NICs (the network and a bridge),
/// VNC graphics and a serial console.
fn make_by_hand(c: &virt::connect::Connect, p: &str) {
    c.define_network_xml(&format!(
        "<network><name>{p}-net</name><uuid>6d1e3a4e-0000-4000-8000-00000000{n}</uuid>\
             <forward mode='nat'/><bridge name='{p}br0' stp='on' delay='0'/>\
             <ip address='10.61.0.1' netmask='255.255.255.0'><dhcp>\
             <range start='10.61.0.100' end='10.61.0.199'/>\
             <host mac='52:54:00:61:00:01' name='{p}-vm' ip='10.61.0.10'/></dhcp></ip></network>",
        n = hex(p)
    ))
    .expect("define the network");
    let pool = c
        .define_storage_pool_xml(
        &format!(
            "<pool type='dir'><name>{p}-pool</name><target><path>/var/lib/libvirt/images/{p}-pool</path></target></pool>"
        ),
        0,
    )
    .expect("define the pool");
    pool.create(0).expect("start the pool");
    virt::storage_vol::StorageVol::create_xml(
        &pool,
        &format!(
            "<volume><name>{p}-vol.qcow2</name><capacity unit='G'>1</capacity>\
             <target><format type='qcow2'/></target></volume>"
        ),
        0,
    )
    .expect("create the volume");
    let dom = c
        .define_domain_xml(
        &format!(
            "<domain type='test'><name>{p}-vm</name>\
             <uuid>7d1e3a4e-0000-4000-8000-00000000{n}</uuid>\
             <memory unit='MiB'>256</memory><currentMemory unit='MiB'>128</currentMemory>\
             <vcpu>2</vcpu><os><type arch='i686'>hvm</type><boot dev='hd'/></os>\
             <clock offset='utc'/><on_crash>destroy</on_crash><devices>\
             <disk type='file' device='disk'><driver name='qemu' type='qcow2'/>\
             <source file='/var/lib/libvirt/images/{p}-root.qcow2'/><target dev='vda' bus='virtio'/></disk>\
             <disk type='volume' device='disk'><driver name='qemu' type='qcow2'/>\
             <source pool='{p}-pool' volume='{p}-vol.qcow2'/><target dev='vdb' bus='virtio'/></disk>\
             <interface type='network'><mac address='52:54:00:61:00:01'/><source network='{p}-net'/><model type='virtio'/></interface>\
             <interface type='bridge'><mac address='52:54:00:61:00:02'/><source bridge='br0'/><model type='e1000'/></interface>\
             <graphics type='vnc' port='-1' listen='127.0.0.1'/>\
             <serial type='pty'/><console type='pty'/><memballoon model='virtio'/>\
             </devices></domain>",
            n = hex(p)
        ),
    )
    .expect("define the domain");
    dom.create().expect("start the domain");
}

/// Four hex digits of a two-letter prefix, for UUIDs of its own.
fn hex(p: &str) -> String {
    p.bytes().map(|b| format!("{b:02x}")).collect()
}

/// The manifests of the objects of [`make_by_hand`], with differences:
/// more memory, another address for the DHCP host, the network active,
/// autostart on the pool (the volume is as it is: the test driver cannot
/// grow the disk of a running guest).
fn manifests_with_differences(p: &str) -> tempfile::TempDir {
    common::manifest_dir(&[(
        "m.yaml",
        &format!(
            "apiVersion: virtsync.io/v1alpha1\nkind: Network\nmetadata: {{name: {p}-net}}\n\
             spec:\n  forward: {{mode: nat}}\n  ipv4:\n    address: 10.61.0.1\n    prefix: 24\n\
             \x20   dhcp:\n      hosts: [{{mac: \"52:54:00:61:00:01\", name: {p}-vm, ip: 10.61.0.11}}]\n\
             ---\napiVersion: virtsync.io/v1alpha1\nkind: StoragePool\nmetadata: {{name: {p}-pool}}\n\
             spec: {{type: dir, path: /var/lib/libvirt/images/{p}-pool, autostart: true}}\n\
             ---\napiVersion: virtsync.io/v1alpha1\nkind: Volume\nmetadata: {{name: {p}-vol.qcow2}}\n\
             spec: {{pool: {p}-pool, capacity: 1GiB}}\n\
             ---\napiVersion: virtsync.io/v1alpha1\nkind: Domain\nmetadata: {{name: {p}-vm}}\n\
             spec:\n  memory: 192MiB\n  vcpus: 2\n  interfaces:\n\
             \x20   - {{network: {p}-net, mac: \"52:54:00:61:00:01\"}}\n\
             \x20   - {{bridge: br0, mac: \"52:54:00:61:00:02\"}}\n"
        ),
    )])
}

/// The XML without the ownership marker (and the `<metadata>` that held
/// only it), for "nothing else changed".
fn without_marker(xml: &str) -> Element {
    let mut e = common::corpus::normalised(&Element::parse(xml).unwrap(), &[]);
    e.children.retain(|c| {
        !matches!(c, virtsync::xml::Node::Element(m) if m.name == "metadata" && m.children.is_empty())
    });
    e
}

#[test]
fn adopt_takes_each_object_over_as_it_is_then_plans_its_differences() {
    let conn = virt::connect::Connect::open(Some(URI)).expect("connect");
    make_by_hand(&conn, "ad");
    let dir = manifests_with_differences("ad");
    let desired = load(dir.path());
    let mut lab = Lab::connect(&desired, URI);
    let dom_xml = |c: &virt::connect::Connect| {
        let d = c.lookup_domain_by_name("ad-vm").unwrap();
        (
            d.xml_desc(virt::sys::VIR_DOMAIN_XML_INACTIVE).unwrap(),
            d.id(),
        )
    };
    let (before, id) = dom_xml(&conn);

    // Without --adopt: four unmanaged collisions, each saying --adopt.
    let p = lab.plan(&desired).plan;
    assert!(p.actions.is_empty(), "{}", render_text(&p));
    assert_eq!(p.blocked.len(), 4, "{}", render_text(&p));
    for b in &p.blocked {
        assert_eq!(b.cause, BlockCause::Unmanaged, "{b}");
        assert!(b.reason.contains("pass --adopt to take it over"), "{b}");
    }

    // With it: one adopt action per object, an update, and nothing else.
    lab.adopt = true;
    let planned = lab.plan(&desired);
    let p = &planned.plan;
    let text = render_text(p);
    assert!(p.blocked.is_empty(), "{text}");
    let ids: Vec<&str> = p.actions.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "storagepool/ad-pool/adopt",
            "volume/ad-pool/ad-vol.qcow2/adopt",
            "network/ad-net/adopt",
            "domain/ad-vm/adopt",
        ],
        "{text}"
    );
    for a in &p.actions {
        assert_eq!((a.operation, a.effect), (Operation::Adopt, Effect::Update));
        assert!(a.changes.is_empty(), "{text}");
    }
    assert!(
        text.contains("~ domain ad-vm: adopt\n    taken over as it is"),
        "{text}"
    );
    assert_eq!((p.summary.update, p.summary.total), (4, 4), "{text}");
    // The domain's define is its own inactive XML plus the marker.
    let Some(Step::AdoptDomain { xml }) = p
        .actions
        .iter()
        .find(|a| a.kind == Kind::Domain)
        .map(|a| &a.step)
    else {
        panic!("no adopt-domain step: {text}")
    };
    assert_eq!(without_marker(xml), without_marker(&before));
    assert_eq!(
        read_marker(&Element::parse(xml).unwrap()).unwrap().manifest,
        "m.yaml"
    );
    // JSON names the operation.
    let json = serde_json::to_value(p).unwrap();
    assert_eq!(json["actions"][3]["operation"], "adopt");
    assert_eq!(json["actions"][3]["step"]["type"], "adopt-domain");

    let done = lab.apply(&desired, &planned);
    assert!(common::not_done(&done).is_empty(), "{:?}", done.outcomes);
    // Owned now: the marker, the inventory. Nothing else changed, and the
    // running guest was not restarted.
    let (after, id_after) = dom_xml(&conn);
    assert!(read_marker(&Element::parse(&after).unwrap()).is_some());
    assert_eq!(without_marker(&after), without_marker(&before));
    assert_eq!(id_after, id, "the guest was restarted");
    let inv = &lab.inventory.hosts[&common::host_id(&lab.inventory, URI)];
    assert!(inv.pools.contains_key("ad-pool"));
    assert!(inv.volumes["ad-pool"].contains("ad-vol.qcow2"));
    // The re-plan shows the manifests' differences, as for any owned
    // object: not converged yet.
    assert!(!done.converged);
    let residual = done.residual.as_ref().unwrap();
    let fields: Vec<String> = residual
        .actions
        .iter()
        .flat_map(|a| a.changes.iter().map(|c| format!("{} {}", a.id, c.field)))
        .collect();
    assert_eq!(
        fields,
        [
            "storagepool/ad-pool/set-autostart autostart",
            "network/ad-net/update-dhcp-hosts ipv4.dhcp.hosts",
            "domain/ad-vm/define memory",
        ],
        "{}",
        render_text(residual)
    );
    assert!(
        residual
            .actions
            .iter()
            .any(|a| a.id == "network/ad-net/start"),
        "{}",
        render_text(residual)
    );
    assert!(residual
        .actions
        .iter()
        .all(|a| a.operation != Operation::Adopt));
    // And applying them converges.
    lab.converge(&desired);
    assert!(lab.plan(&desired).converged());
}

#[test]
fn a_manifest_pinning_another_uuid_is_not_adopted() {
    let conn = virt::connect::Connect::open(Some(URI)).expect("connect");
    make_by_hand(&conn, "au");
    let dir = common::manifest_dir(&[(
        "m.yaml",
        "apiVersion: virtsync.io/v1alpha1\nkind: Domain\nmetadata: {name: au-vm}\n\
         spec: {uuid: 11111111-2222-4333-8444-555555555555, memory: 128MiB, vcpus: 2}\n",
    )]);
    let desired = load(dir.path());
    let mut lab = Lab::connect(&desired, URI);
    lab.adopt = true;
    let p = lab.plan(&desired).plan;
    assert!(p.actions.is_empty(), "{}", render_text(&p));
    assert_eq!(p.blocked.len(), 1);
    assert_eq!(p.blocked[0].cause, BlockCause::Refused);
    assert!(
        p.blocked[0].reason.contains("cannot adopt") && p.blocked[0].reason.contains("UUID"),
        "{:?}",
        p.blocked
    );
}

/// Import `{p}`'s objects into a new directory; the directory.
fn import_into(p: &str) -> (import::Imported, tempfile::TempDir) {
    let host = LibvirtHost::open(URI).expect("test driver");
    let imported = import::read(
        &host,
        &Selection {
            all: false,
            names: vec![
                format!("{p}-vm"),
                format!("network/{p}-net"),
                format!("pool/{p}-pool"),
            ],
        },
    )
    .expect("import");
    let out = tempfile::tempdir().unwrap();
    import::write(&imported, out.path(), false).expect("write");
    (imported, out)
}

#[test]
fn imported_manifests_validate_and_plan_to_nothing_once_adopted() {
    let conn = virt::connect::Connect::open(Some(URI)).expect("connect");
    make_by_hand(&conn, "im");
    let (imported, out) = import_into("im");
    let read = |rel: &str| std::fs::read_to_string(out.path().join(rel)).unwrap();
    // One file per domain and network, one per pool with its volumes, and
    // the schema the editors' line points at.
    let mut files: Vec<String> = imported
        .files
        .iter()
        .map(|f| f.path.display().to_string())
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            "domains/im-vm.yaml",
            "networks/im-net.yaml",
            "storage/im-pool.yaml"
        ]
    );
    assert!(out.path().join("schemas/virtsync.schema.json").is_file());
    insta::assert_snapshot!("imported_domain", read("domains/im-vm.yaml"));
    insta::assert_snapshot!("imported_network", read("networks/im-net.yaml"));
    insta::assert_snapshot!("imported_pool", read("storage/im-pool.yaml"));

    // Valid, and once adopted there is nothing to do.
    let (desired, _) = load_dir(out.path(), &LoadOptions::default()).expect("valid manifests");
    let mut lab = Lab::connect(&desired, URI);
    lab.adopt = true;
    let planned = lab.plan(&desired);
    let adoption = import::adoption(&planned.plan, &imported);
    assert_eq!(adoption.actions.len(), 4, "{}", render_text(&planned.plan));
    assert_eq!(
        adoption.actions,
        planned.plan.actions,
        "only adoptions: {}",
        render_text(&planned.plan)
    );
    let done = lab.apply(&desired, &planned);
    assert!(
        done.converged,
        "{}",
        render_text(done.residual.as_ref().unwrap())
    );
    lab.adopt = false;
    let again = lab.plan(&desired);
    assert!(again.converged(), "{}", render_text(&again.plan));
}

#[test]
fn a_domain_imported_alone_declares_what_it_uses_as_external() {
    let conn = virt::connect::Connect::open(Some(URI)).expect("connect");
    make_by_hand(&conn, "ix");
    let host = LibvirtHost::open(URI).expect("test driver");
    let imported = import::read(
        &host,
        &Selection {
            all: false,
            names: vec!["ix-vm".into()],
        },
    )
    .unwrap();
    let out = tempfile::tempdir().unwrap();
    import::write(&imported, out.path(), false).unwrap();
    let (desired, _) = load_dir(out.path(), &LoadOptions::default()).expect("valid manifests");
    let net = desired.networks.values().next().expect("the network");
    assert!(net.external && net.meta.name == "ix-net");
    assert!(desired.pools.values().all(|p| p.external));
    assert!(desired.volumes.values().all(|v| v.external));
    // Only the domain is to be managed, and adopted.
    assert_eq!(
        imported.managed().into_iter().collect::<Vec<_>>(),
        [(Kind::Domain, "ix-vm".to_string())]
    );
    // A second import of it refuses to overwrite the domain's file, and
    // keeps the external declarations that exist.
    let e = import::write(&imported, out.path(), false).unwrap_err();
    assert!(e.to_string().contains("pass --force"), "{e}");
    let again = import::write(&imported, out.path(), true).unwrap();
    assert!(again
        .iter()
        .any(|w| w.path == Path::new("networks/ix-net.yaml") && w.action == "kept"));
}

//! Bringing a host made by hand under management, on a real private
//! libvirtd: objects made with virsh (a NAT network with DHCP hosts and
//! DNS, an isolated one, a dir pool with two volumes, a running guest with
//! two disks, two NICs, graphics and a console, a shut-off one, a
//! transient one), then `import --all --adopt`, after which `plan` has
//! nothing to do — or `import` alone, then `apply --adopt`, with the same
//! end. Adoption changes nothing but the ownership: no guest restarts.

mod common;

use std::path::Path;

use common::{output_text, PrivateDaemon};
use virtsync::render::read_marker;
use virtsync::xml::{Element, Node};

const LIMIT: std::time::Duration = std::time::Duration::from_secs(180);

/// `virtsync ARGS`, with its exit code and output.
fn run(args: &[&str]) -> (Option<i32>, String) {
    let (out, _) = common::virtsync(args, LIMIT);
    (out.status.code(), output_text(&out))
}

/// Define (and start, with `start`) an object from XML with virsh.
fn define(d: &PrivateDaemon, what: &str, xml: &str) {
    let f = tempfile::Builder::new().suffix(".xml").tempfile().unwrap();
    std::fs::write(f.path(), xml).unwrap();
    d.virsh(&[what, f.path().to_str().unwrap()]);
}

/// Everything made by hand, as an operator would with virsh.
fn make_by_hand(d: &PrivateDaemon) {
    define(
        d,
        "net-define",
        "<network><name>hand-net</name><forward mode='nat'/>\
         <bridge name='virbr61' stp='on' delay='0'/><domain name='hand.example'/>\
         <dns><forwarder addr='192.0.2.53'/><host ip='10.62.0.10'><hostname>hand-vm</hostname></host></dns>\
         <ip address='10.62.0.1' netmask='255.255.255.0'><dhcp>\
         <range start='10.62.0.100' end='10.62.0.199'/>\
         <host mac='52:54:00:62:00:01' name='hand-vm' ip='10.62.0.10'/>\
         <host name='hand-other' ip='10.62.0.11'/></dhcp></ip></network>",
    );
    d.virsh(&["net-start", "hand-net"]);
    d.virsh(&["net-autostart", "hand-net"]);
    define(
        d,
        "net-define",
        "<network><name>hand-iso</name><bridge name='virbr62'/></network>",
    );
    d.virsh(&["net-start", "hand-iso"]);
    d.virsh(&[
        "pool-define-as",
        "hand-pool",
        "dir",
        "--target",
        "/var/lib/libvirt/images/hand-pool",
    ]);
    d.virsh(&["pool-build", "hand-pool"]);
    d.virsh(&["pool-start", "hand-pool"]);
    d.virsh(&["pool-autostart", "hand-pool"]);
    d.virsh(&[
        "vol-create-as",
        "hand-pool",
        "root.qcow2",
        "64M",
        "--format",
        "qcow2",
    ]);
    d.virsh(&[
        "vol-create-as",
        "hand-pool",
        "data.raw",
        "16M",
        "--format",
        "raw",
    ]);
    let ty = if d.virsh(&["capabilities"]).contains("<domain type='kvm'") {
        "kvm"
    } else {
        "qemu"
    };
    // A tiny guest that sits halted (boots from hd only, never retries,
    // no NIC boot ROM).
    let guest = |name: &str, devices: &str| {
        format!(
            "<domain type='{ty}'><name>{name}</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>\
             <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/><bios rebootTimeout='-1'/></os>\
             <devices>{devices}</devices></domain>"
        )
    };
    define(
        d,
        "define",
        &guest(
            "hand-vm",
            "<disk type='volume' device='disk'><driver name='qemu' type='qcow2'/>\
             <source pool='hand-pool' volume='root.qcow2'/><target dev='vda' bus='virtio'/></disk>\
             <disk type='file' device='disk'><driver name='qemu' type='raw'/>\
             <source file='/var/lib/libvirt/images/hand-pool/data.raw'/><target dev='vdb' bus='virtio'/></disk>\
             <interface type='network'><mac address='52:54:00:62:00:01'/><source network='hand-net'/>\
             <model type='virtio'/><rom enabled='no'/></interface>\
             <interface type='network'><mac address='52:54:00:62:00:02'/><source network='hand-iso'/>\
             <model type='e1000'/><rom enabled='no'/></interface>\
             <graphics type='vnc' port='-1' listen='127.0.0.1'/>\
             <serial type='pty'/><console type='pty'/>",
        ),
    );
    d.virsh(&["start", "hand-vm"]);
    define(d, "define", &guest("hand-off", ""));
    define(d, "create", &guest("hand-tmp", ""));
}

/// A domain's persistent XML (the live one of a transient domain)
/// without the ownership marker and the `<metadata>` that held only it.
fn stored(d: &PrivateDaemon, name: &str) -> Element {
    let mut e = common::corpus::normalised(&d.domain_xml(name, true), &[]);
    e.children.retain(
        |c| !matches!(c, Node::Element(m) if m.name == "metadata" && m.children.is_empty()),
    );
    e
}

/// The hypervisor ids of the running guests: a restart changes them.
fn ids(d: &PrivateDaemon) -> Vec<String> {
    ["hand-vm", "hand-tmp"]
        .iter()
        .map(|n| d.virsh(&["domid", n]).trim().to_string())
        .collect()
}

/// What adoption must leave alone.
struct Before {
    ids: Vec<String>,
    vm: Element,
    tmp: Element,
}

fn before(d: &PrivateDaemon) -> Before {
    Before {
        ids: ids(d),
        vm: stored(d, "hand-vm"),
        tmp: stored(d, "hand-tmp"),
    }
}

/// Everything is owned now, and nothing else changed.
fn check_adopted(d: &PrivateDaemon, was: &Before, state: &Path) {
    assert_eq!(ids(d), was.ids, "a guest was restarted");
    assert_eq!(stored(d, "hand-vm"), was.vm, "hand-vm changed");
    assert_eq!(stored(d, "hand-tmp"), was.tmp, "hand-tmp changed");
    for (what, name) in [
        ("dumpxml", "hand-vm"),
        ("dumpxml", "hand-off"),
        ("dumpxml", "hand-tmp"),
        ("net-dumpxml", "hand-net"),
        ("net-dumpxml", "hand-iso"),
    ] {
        let mut args = vec![what, name];
        if name != "hand-tmp" {
            args.push("--inactive");
        }
        let xml = Element::parse(&d.virsh(&args)).unwrap();
        assert!(read_marker(&xml).is_some(), "{name} has no marker");
    }
    let inventory = std::fs::read_to_string(state.join("inventory.json")).unwrap();
    for name in ["hand-pool", "root.qcow2", "data.raw"] {
        assert!(inventory.contains(name), "{name} not in {inventory}");
    }
}

#[test]
fn import_adopt_all_then_plan_is_empty() {
    require_daemon!();
    let d = PrivateDaemon::start();
    make_by_hand(&d);
    let was = before(&d);
    let out = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let dir = out.path().join("host");
    let (dir_s, state_s) = (dir.to_str().unwrap(), state.path().to_str().unwrap());
    let (code, text) = run(&[
        "import",
        "--all",
        "--out",
        dir_s,
        "--adopt",
        "--connect",
        &d.uri,
        "--state-dir",
        state_s,
    ]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("converged: 8 objects in sync"), "{text}");
    check_adopted(&d, &was, state.path());

    // The manifests: valid, with the editors' schema line, and what the
    // host has.
    let (code, text) = run(&["validate", dir_s]);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("(3 Domain, 2 Network, 1 StoragePool, 2 Volume)"),
        "{text}"
    );
    let read = |rel: &str| std::fs::read_to_string(dir.join(rel)).unwrap();
    for rel in [
        "domains/hand-vm.yaml",
        "domains/hand-off.yaml",
        "domains/hand-tmp.yaml",
        "networks/hand-net.yaml",
        "networks/hand-iso.yaml",
        "storage/hand-pool.yaml",
    ] {
        assert!(
            read(rel)
                .starts_with("# yaml-language-server: $schema=../schemas/virtsync.schema.json\n"),
            "{rel}"
        );
    }
    let vm = read("domains/hand-vm.yaml");
    for want in [
        "mac: \"52:54:00:62:00:01\"",
        "volume:\n      pool: hand-pool\n      name: root.qcow2",
        "path: /var/lib/libvirt/images/hand-pool/data.raw",
        "type: vnc",
        "console: pty",
        "bootRom: false",
        "#   devices/",
    ] {
        assert!(vm.contains(want), "no `{want}` in\n{vm}");
    }
    assert!(read("domains/hand-tmp.yaml").contains("persistent: false"));
    let net = read("networks/hand-net.yaml");
    for want in [
        "mode: nat",
        "name: hand-other",
        "ip: 10.62.0.10",
        "hostnames:",
    ] {
        assert!(net.contains(want), "no `{want}` in\n{net}");
    }

    // The acceptance test: nothing to do.
    let (code, text) = run(&[
        "plan",
        dir_s,
        "--exit-code",
        "--connect",
        &d.uri,
        "--state-dir",
        state_s,
    ]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("No changes"), "{text}");
}

#[test]
fn import_then_apply_adopt_then_plan_is_empty() {
    require_daemon!();
    let d = PrivateDaemon::start();
    make_by_hand(&d);
    let was = before(&d);
    let out = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let dir = out.path().join("host");
    let dir_s = dir.to_str().unwrap();
    let (code, text) = run(&["import", "--all", "--out", dir_s, "--connect", &d.uri]);
    assert_eq!(code, Some(0), "{text}");
    let virtsync = |cmd: &str, args: &[&str]| {
        let out = d.virtsync(cmd, &dir, state.path(), args);
        (out.status.code(), output_text(&out))
    };

    // Not adopted: every object collides, and says how to take it over.
    let (code, text) = virtsync("plan", &[]);
    assert_eq!(code, Some(1), "{text}");
    assert_eq!(text.matches("blocked: ").count(), 8, "{text}");
    assert_eq!(
        text.matches("pass --adopt to take it over").count(),
        8,
        "{text}"
    );

    // With --adopt: one adopt action per object, nothing else.
    let (code, text) = virtsync("plan", &["--adopt", "--exit-code"]);
    assert_eq!(code, Some(2), "{text}");
    let actions: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with(['+', '~', '>', '-']))
        .collect();
    assert_eq!(actions.len(), 8, "{text}");
    assert!(actions.iter().all(|l| l.ends_with(": adopt")), "{text}");
    assert!(
        text.contains("Plan: 0 to create, 8 to update, 0 power, 0 to delete (8 actions)"),
        "{text}"
    );

    let (code, text) = virtsync("apply", &["--adopt", "--yes"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("converged: 8 objects in sync"), "{text}");
    check_adopted(&d, &was, state.path());
    let (code, text) = virtsync("plan", &["--exit-code"]);
    assert_eq!(code, Some(0), "{text}");

    // Managed from now on: a change of a manifest is applied.
    let vm = dir.join("domains/hand-vm.yaml");
    let text = std::fs::read_to_string(&vm).unwrap();
    std::fs::write(&vm, text.replace("  memory: 64MiB", "  memory: 48MiB")).unwrap();
    let (code, text) = virtsync("apply", &["--yes"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("memory: 64MiB → 48MiB"), "{text}");
    let (code, text) = virtsync("plan", &["--exit-code"]);
    assert_eq!(code, Some(0), "{text}");
}

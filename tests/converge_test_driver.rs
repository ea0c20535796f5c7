//! Converge against libvirt's in-process test driver (`test:///default`),
//! through the library as the CLI uses it: load → connect → observe → plan
//! → apply → re-observe, with no daemon.
//!
//! The test driver keeps one state per process while a connection is open,
//! shared by every connection (and so by every test thread of this binary):
//! each test uses names of its own, and holds its session for its whole run.

use std::path::Path;

mod common;

use common::{load, Lab};
use virtsync::plan::{render_text, Plan};

const URI: &str = "test:///default";

fn write_dir(files: &[(&str, String)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).expect("write manifest");
    }
    dir
}

fn ops(p: &Plan) -> Vec<String> {
    p.actions.iter().map(|a| a.id.clone()).collect()
}

#[test]
fn quickstart_converges_and_replans_empty() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart");
    let desired = load(&dir);
    let mut lab = Lab::connect(&desired, URI);
    let p = lab.converge(&desired);
    assert_eq!(p.summary.total, 12, "{}", render_text(&p));
    // The inventory now owns the pool and the volume it created.
    let id = lab
        .reconciler
        .identity(&virtsync::model::HostName::DEFAULT)
        .expect("test driver");
    assert_eq!(
        id.as_str(),
        format!("uri:{URI}"),
        "the test driver has no host UUID"
    );
    let host = &lab.inventory.hosts[&id];
    assert!(host.pools.contains_key("qs-pool"));
    assert!(host.volumes["qs-pool"].contains("qs-web.qcow2"));
    // Converged: a second round finds nothing to do.
    assert!(lab.plan(&desired).converged());
}

/// The manifests of the edit test, parameterised by what changes.
struct Spec {
    memory: &'static str,
    vcpus: u32,
    autostart: bool,
    state: &'static str,
    db_state: &'static str,
    net_autostart: bool,
    dhcp_ip: &'static str,
}

fn edit_manifests(s: &Spec) -> Vec<(&'static str, String)> {
    let api = "apiVersion: virtsync.io/v1alpha1";
    vec![
        (
            "storage.yaml",
            format!(
                "{api}\nkind: StoragePool\nmetadata: {{name: ed-pool}}\n\
                 spec: {{type: dir, path: /var/lib/libvirt/images/ed-pool, autostart: true}}\n---\n\
                 {api}\nkind: Volume\nmetadata: {{name: ed-app.qcow2}}\n\
                 spec: {{pool: ed-pool, capacity: 1GiB}}\n"
            ),
        ),
        (
            "network.yaml",
            format!(
                "{api}\nkind: Network\nmetadata: {{name: ed-net}}\nspec:\n  forward: {{mode: nat}}\n  \
                 autostart: {na}\n  ipv4:\n    address: 10.88.0.1\n    prefix: 24\n    dhcp:\n      \
                 ranges: [{{start: 10.88.0.100, end: 10.88.0.200}}]\n      \
                 hosts: [{{mac: \"52:54:00:88:00:0A\", name: ed-app, ip: {ip}}}]\n",
                na = s.net_autostart,
                ip = s.dhcp_ip
            ),
        ),
        (
            "domains.yaml",
            format!(
                "{api}\nkind: Domain\nmetadata: {{name: ed-app}}\nspec:\n  state: {st}\n  \
                 autostart: {au}\n  memory: {mem}\n  maxMemory: 256MiB\n  vcpus: {vc}\n  maxVcpus: 4\n  \
                 boot: [hd]\n  disks:\n    - volume: {{pool: ed-pool, name: ed-app.qcow2}}\n  \
                 interfaces:\n    - {{network: ed-net, mac: \"52:54:00:88:00:0A\"}}\n    - {{network: ed-net}}\n\
                 ---\n{api}\nkind: Domain\nmetadata: {{name: ed-db}}\nspec:\n  state: {dst}\n  \
                 memory: 64MiB\n  vcpus: 1\n",
                st = s.state,
                au = s.autostart,
                mem = s.memory,
                vc = s.vcpus,
                dst = s.db_state
            ),
        ),
    ]
}

#[test]
fn changes_to_memory_vcpus_autostart_and_state_converge() {
    let mut spec = Spec {
        memory: "128MiB",
        vcpus: 1,
        autostart: false,
        state: "running",
        db_state: "running",
        net_autostart: false,
        dhcp_ip: "10.88.0.10",
    };
    let dir = write_dir(&edit_manifests(&spec));
    let desired = load(dir.path());
    let mut lab = Lab::connect(&desired, URI);
    lab.converge(&desired);

    // Live changes on a running domain: memory within maxMemory, more vCPUs
    // within maxVcpus, autostart; a DHCP host; the other domain paused.
    // (The test driver cannot resize volumes: growth is tested on a daemon.)
    spec.memory = "192MiB";
    spec.vcpus = 3;
    spec.autostart = true;
    spec.db_state = "paused";
    spec.net_autostart = true;
    spec.dhcp_ip = "10.88.0.11";
    let dir = write_dir(&edit_manifests(&spec));
    let desired = load(dir.path());
    let p = lab.converge(&desired);
    let ids = ops(&p);
    for want in [
        "domain/ed-app/define",
        "domain/ed-app/update-live",
        "domain/ed-app/set-autostart",
        "domain/ed-db/suspend",
        "network/ed-net/update-dhcp-hosts",
        "network/ed-net/set-autostart",
    ] {
        assert!(ids.iter().any(|i| i == want), "no {want} in {ids:?}");
    }

    // Next-boot changes (fewer vCPUs) on a domain that is shut off in the
    // same round; the paused one resumed; autostart off again.
    spec.vcpus = 2;
    spec.memory = "96MiB";
    spec.autostart = false;
    spec.state = "shutoff";
    spec.db_state = "running";
    let dir = write_dir(&edit_manifests(&spec));
    let desired = load(dir.path());
    let p = lab.converge(&desired);
    let ids = ops(&p);
    for want in [
        "domain/ed-app/define",
        "domain/ed-app/set-autostart",
        "domain/ed-app/shutdown",
        "domain/ed-db/resume",
    ] {
        assert!(ids.iter().any(|i| i == want), "no {want} in {ids:?}");
    }

    // And back up, paused straight from shut off.
    spec.state = "paused";
    spec.vcpus = 4;
    let dir = write_dir(&edit_manifests(&spec));
    let desired = load(dir.path());
    let p = lab.converge(&desired);
    assert!(ops(&p).iter().any(|i| i == "domain/ed-app/start"));
}

#[test]
fn an_unmanaged_collision_blocks_only_that_domain() {
    // The test driver's own domain `test` carries no ownership marker; the
    // two other objects of the directory are new and healthy.
    let dir = write_dir(&[
        (
            "test.yaml",
            "apiVersion: virtsync.io/v1alpha1\nkind: Domain\nmetadata: {name: test}\n\
             spec: {state: shutoff, memory: 64MiB, vcpus: 1}\n"
                .to_string(),
        ),
        (
            "other.yaml",
            "apiVersion: virtsync.io/v1alpha1\nkind: Domain\nmetadata: {name: um-other}\n\
             spec: {memory: 64MiB, vcpus: 1}\n---\n\
             apiVersion: virtsync.io/v1alpha1\nkind: Network\nmetadata: {name: um-net}\n\
             spec: {forward: {mode: isolated}}\n"
                .to_string(),
        ),
    ]);
    let desired = load(dir.path());
    let mut lab = Lab::connect(&desired, URI);
    let conn = virt::connect::Connect::open(Some(URI)).expect("connect");
    let read = |c: &virt::connect::Connect| {
        let d = c.lookup_domain_by_name("test").expect("the test domain");
        (
            d.xml_desc(virt::sys::VIR_DOMAIN_XML_INACTIVE).expect("xml"),
            d.is_active().expect("state"),
        )
    };
    let before = read(&conn);
    let planned = lab.plan(&desired);
    let p = &planned.plan;
    // The plan names the blocked domain, its file and the reason...
    assert_eq!(p.blocked.len(), 1, "{}", render_text(p));
    assert_eq!(p.blocked[0].name, "test");
    assert!(
        p.blocked[0].reason.contains("does not manage it"),
        "{:?}",
        p.blocked
    );
    let text = render_text(p);
    assert!(
        text.contains("x domain test: blocked:") && text.contains("test.yaml"),
        "{text}"
    );
    // ... and in JSON.
    let json: serde_json::Value = serde_json::to_value(p).unwrap();
    assert_eq!(json["blocked"][0]["name"], "test");
    assert_eq!(json["summary"]["blocked"], 1);
    // The healthy objects are planned and created; the collision is not.
    assert!(
        ops(p).contains(&"domain/um-other/define".to_string()),
        "{text}"
    );
    assert!(
        ops(p).contains(&"network/um-net/define".to_string()),
        "{text}"
    );
    assert_eq!(
        planned.exit_code(true),
        1,
        "plan with blocked objects exits 1"
    );
    let done = lab.apply(&desired, &planned);
    assert!(!done.converged && done.changed);
    assert_eq!(
        done.exit_code(),
        3,
        "apply changed something, something blocked"
    );
    assert!(conn.lookup_domain_by_name("um-other").is_ok());
    assert!(conn.lookup_network_by_name("um-net").is_ok());
    assert_eq!(read(&conn), before, "the unmanaged domain changed");
    // A second pass changes nothing and exits 1: only the blocked one is left.
    let again = lab.plan(&desired);
    assert!(again.plan.is_empty() && again.plan.blocked.len() == 1);
}

//! DHCP host entries of a running network on a real, private libvirtd:
//! each entry is edited where it exists. Drift made in the persistent
//! config only (`virsh net-update ... --config`) is repaired there —
//! never a live delete of an entry the running network does not have,
//! which libvirt refuses on every run.

mod common;

use common::{manifest_dir, output_text, PrivateDaemon};

fn network(hosts: &str) -> String {
    format!(
        "apiVersion: virtsync.io/v1alpha1\nkind: Network\nmetadata: {{name: dh-net}}\nspec:\n  forward: {{mode: isolated}}\n  ipv4:\n    address: 10.124.0.1\n    prefix: 24\n    dhcp:\n      ranges: [{{start: 10.124.0.100, end: 10.124.0.200}}]\n      hosts: [{hosts}]\n"
    )
}

const A: &str = "{mac: '52:54:00:00:00:0a', ip: 10.124.0.10, name: a}";
const B: &str = "{mac: '52:54:00:00:00:0b', ip: 10.124.0.11, name: b}";
const STRAY: &str = "<host mac='52:54:00:00:00:0c' name='stray' ip='10.124.0.12'/>";

#[test]
fn dhcp_hosts_are_edited_where_they_exist() {
    require_daemon!();
    let d = PrivateDaemon::start();
    let state = tempfile::tempdir().unwrap();
    let dir = manifest_dir(&[("net.yaml", &network(A))]);
    let run = |cmd: &str, args: &[&str]| {
        let out = d.virtsync(cmd, dir.path(), state.path(), args);
        (out.status.code(), output_text(&out))
    };
    let hosts = |live: bool| {
        let mut args = vec!["net-dumpxml", "dh-net"];
        if !live {
            args.push("--inactive");
        }
        let xml = d.virsh(&args);
        let mut names: Vec<String> = xml
            .lines()
            .filter(|l| l.contains("<host "))
            .filter_map(|l| l.split("name='").nth(1))
            .filter_map(|r| r.split('\'').next())
            .map(str::to_string)
            .collect();
        names.sort();
        names
    };
    let (code, text) = run("apply", &["--yes"]);
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(hosts(true), ["a"]);

    // Drift in the persistent config only.
    d.virsh(&[
        "net-update",
        "dh-net",
        "add",
        "ip-dhcp-host",
        STRAY,
        "--config",
    ]);
    assert_eq!(hosts(false), ["a", "stray"]);
    assert_eq!(hosts(true), ["a"]);
    // ... and a new entry in the manifest at the same time.
    std::fs::write(dir.path().join("net.yaml"), network(&format!("{A}, {B}"))).unwrap();
    let (code, text) = run("apply", &["--yes"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("update-dhcp-hosts"), "{text}");
    assert_eq!(hosts(false), ["a", "b"]);
    assert_eq!(hosts(true), ["a", "b"]);
    let (code, text) = run("plan", &["--exit-code"]);
    assert_eq!(code, Some(0), "{text}");

    // Drift in the running network only, repaired with the next change
    // that touches the hosts.
    d.virsh(&[
        "net-update",
        "dh-net",
        "add",
        "ip-dhcp-host",
        STRAY,
        "--live",
    ]);
    std::fs::write(dir.path().join("net.yaml"), network(B)).unwrap();
    let (code, text) = run("apply", &["--yes"]);
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(hosts(false), ["b"]);
    assert_eq!(hosts(true), ["b"]);
    let (code, text) = run("plan", &["--exit-code"]);
    assert_eq!(code, Some(0), "{text}");
}

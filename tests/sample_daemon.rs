//! The sample `manifests/` directory against two real, private libvirt
//! daemons standing in for the hosts it names (kvm-a, kvm-b; their Host
//! manifests' URIs pointed at the daemons), prepared as its comments
//! describe the lab: libvirt's `default` network and the `isos` pool with
//! the installer ISO on kvm-a. A first apply of the storage and networks
//! makes `vmstore`; the golden image is then uploaded by hand, as the
//! image pipeline would; after that the whole sample plans with nothing
//! blocked and no error.

mod common;

use std::path::Path;

use common::{output_text, repo_root, PrivateDaemon};

/// Copy `from` (the sample, or part of it) to `to`, with the Host
/// manifests' URIs replaced by the daemons' and kvm-b's pool directory
/// (outside the daemon's own /var/lib/libvirt/images) moved under `srv`.
fn copy_sample(from: &Path, to: &Path, uris: &[(&str, &str)], srv: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_sample(&e.path(), &target, uris, srv);
            continue;
        }
        let mut text = std::fs::read_to_string(e.path()).unwrap();
        for (host, uri) in uris {
            text = text.replace(
                &format!("uri: qemu+ssh://virtsync@{host}.lab.example/system"),
                &format!("uri: \"{uri}\""),
            );
        }
        text = text.replace(
            "path: /srv/vmstore",
            &format!("path: {}", srv.join("vmstore").display()),
        );
        std::fs::write(target, text).unwrap();
    }
}

#[test]
fn the_sample_manifests_plan_without_errors() {
    require_daemon!();
    let (a, b) = (PrivateDaemon::start(), PrivateDaemon::start());
    let uris = [("kvm-a", a.uri.as_str()), ("kvm-b", b.uri.as_str())];
    let work = tempfile::tempdir().unwrap();
    let state = work.path().join("state");
    let sample = repo_root().join("manifests");
    let srv = work.path().join("srv");

    // kvm-a as the sample describes it: libvirt's default network, and the
    // admin's `isos` pool holding the installer.
    let xml = work.path().join("default.xml");
    std::fs::write(
        &xml,
        "<network><name>default</name><forward mode='nat'/><bridge name='virbr0'/><ip address='192.168.122.1' netmask='255.255.255.0'><dhcp><range start='192.168.122.2' end='192.168.122.254'/></dhcp></ip></network>",
    )
    .unwrap();
    a.virsh(&["net-define", xml.to_str().unwrap()]);
    a.virsh(&["net-start", "default"]);
    let isos = a.path().join("isos");
    std::fs::create_dir_all(&isos).unwrap();
    a.virsh(&[
        "pool-define-as",
        "isos",
        "dir",
        "--target",
        isos.to_str().unwrap(),
    ]);
    a.virsh(&["pool-start", "isos"]);
    a.virsh(&[
        "vol-create-as",
        "isos",
        "debian-12.7.0-arm64-netinst.iso",
        "4M",
        "--format",
        "raw",
    ]);

    // Two directories, `infra` and `all`, hold one manifest set: one owner.
    let run = |dir: &Path, cmd: &str, args: &[&str]| {
        let (d, s) = (dir.to_string_lossy(), state.to_string_lossy());
        let mut all = vec![cmd, &d, "--connect", &a.uri, "--state-dir", &s];
        all.extend_from_slice(&["--owner", "sample-lab"]);
        all.extend_from_slice(args);
        let (out, _) = common::virtsync(&all, std::time::Duration::from_secs(300));
        (out.status.code(), output_text(&out), out.stdout)
    };

    // The storage and networks first: the pools the golden image goes to.
    let infra = work.path().join("infra");
    for part in ["hosts", "storage", "networks"] {
        copy_sample(&sample.join(part), &infra.join(part), &uris, &srv);
    }
    let (code, text, _) = run(&infra, "apply", &["--yes"]);
    // Volumes on the golden image wait for it: changed, not converged.
    assert_eq!(code, Some(3), "{text}");
    assert!(!text.contains("FAILED"), "{text}");
    for d in [&a, &b] {
        d.virsh(&[
            "vol-create-as",
            "vmstore",
            "debian-12-golden.qcow2",
            "64M",
            "--format",
            "qcow2",
        ]);
    }

    // The whole sample: every object planned, nothing blocked.
    let all = work.path().join("all");
    copy_sample(&sample, &all, &uris, &srv);
    let (code, text, stdout) = run(&all, "plan", &["--output", "json"]);
    assert_eq!(code, Some(0), "{text}");
    let plan: serde_json::Value = serde_json::from_slice(&stdout).expect(&text);
    assert_eq!(plan["blocked"], serde_json::json!([]), "{text}");
    assert_eq!(plan["unreachableHosts"], serde_json::json!([]), "{text}");
    let (code, text, _) = run(&all, "plan", &[]);
    assert_eq!(code, Some(0), "{text}");
    for name in [
        "web-1",
        "web-2",
        "db-1",
        "pxe-1",
        "arm64-build",
        "ci-runner-1",
    ] {
        assert!(
            text.contains(&format!("domain {name} on kvm-")),
            "{name} is not planned:\n{text}"
        );
    }
    assert!(!text.contains("blocked"), "{text}");
}

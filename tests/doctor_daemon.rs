//! `virtsync doctor` on real, private libvirt daemons: a healthy one
//! (exit 0; driver, versions, KVM, CPU) with the Hosts of a manifest
//! directory as migration targets (one answers, one does not), and one
//! whose socket is root-only, examined as an unprivileged user: the
//! socket's group and mode, the daemon config's settings and the fix.

mod common;

use std::process::Command;

use common::{doctor_finding, host_manifest, manifest_dir, PrivateDaemon};

/// `virtsync doctor --connect URI ARGS... --output json`, as root or (with
/// `nobody`) as uid/gid 65534 without supplementary groups.
fn doctor(uri: &str, args: &[&str], nobody: bool) -> (Option<i32>, serde_json::Value) {
    let bin = env!("CARGO_BIN_EXE_virtsync");
    let mut cmd = if nobody {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", bin]);
        c
    } else {
        Command::new(bin)
    };
    let out = cmd
        .args(["doctor", "--connect", uri, "--output", "json"])
        .args(args)
        .env_remove("LIBVIRT_DEFAULT_URI")
        .output()
        .expect("run virtsync doctor");
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("doctor JSON ({e}):\n{}", common::output_text(&out));
    });
    (out.status.code(), report)
}

#[test]
fn doctor_on_a_healthy_daemon_and_its_migration_targets() {
    require_daemon!();
    let a = PrivateDaemon::start();
    let b = PrivateDaemon::start();
    let (code, report) = doctor(&a.uri, &[], false);
    assert_eq!(code, Some(0), "{report:#}");
    assert_eq!(report["reachable"], true);
    let libvirt = doctor_finding(&report, "libvirt")["message"]
        .as_str()
        .unwrap();
    assert!(
        libvirt.contains("driver QEMU, libvirt ") && libvirt.contains("hypervisor "),
        "{libvirt}"
    );
    assert_eq!(doctor_finding(&report, "host.cpu")["status"], "ok");
    assert!(doctor_finding(&report, "host.hypervisor")["message"]
        .as_str()
        .unwrap()
        .contains("KVM"));
    // The private daemon has no default network: a warning with its fix.
    let net = doctor_finding(&report, "host.network");
    assert_eq!(net["status"], "warn");
    assert!(net["fix"].as_str().unwrap().contains("net-define"));

    let gone = "qemu+unix:///system?socket=/nonexistent/virtsync-doctor/libvirt-sock";
    let dir = manifest_dir(&[
        ("b.yaml", &host_manifest("b", &b.uri)),
        ("gone.yaml", &host_manifest("gone", gone)),
    ]);
    let (code, report) = doctor(&a.uri, &[&dir.path().to_string_lossy()], false);
    assert_eq!(code, Some(1), "a Host cannot be reached: {report:#}");
    assert_eq!(
        doctor_finding(&report, "migration.b.reachable")["status"],
        "ok"
    );
    assert_eq!(doctor_finding(&report, "migration.b.cpu")["status"], "ok");
    let gone = doctor_finding(&report, "migration.gone.reachable");
    assert_eq!(gone["status"], "problem");
    assert!(gone["message"].as_str().unwrap().contains("does not exist"));
}

#[test]
fn doctor_as_a_user_the_socket_refuses() {
    require_daemon!();
    let d = PrivateDaemon::start();
    // The socket is 0770 root:root (the private daemon's config); the
    // directories on the way are opened so that only the socket refuses.
    for dir in [
        d.path().to_path_buf(),
        d.path().join("sock"),
        d.path().join("etc"),
    ] {
        let st = Command::new("chmod")
            .arg("o+rx")
            .arg(&dir)
            .status()
            .unwrap();
        assert!(st.success());
    }
    let conf = d.path().join("etc/libvirtd.conf");
    let conf_arg = conf.to_string_lossy();
    let (code, report) = doctor(&d.uri, &["--daemon-config", &conf_arg], true);
    assert_eq!(code, Some(1), "{report:#}");
    assert_eq!(report["reachable"], false);
    let f = doctor_finding(&report, "connection.permission");
    let message = f["message"].as_str().unwrap();
    for part in [
        "user nobody",
        "group root, mode 0770",
        "unix_sock_group = root",
        "unix_sock_rw_perms = 0770",
        "Permission denied",
    ] {
        assert!(message.contains(part), "{part:?} in {message}");
    }
    let fix = f["fix"].as_str().unwrap();
    assert!(
        fix.contains("unix_sock_group = \"libvirt\"") && fix.contains("usermod -aG libvirt nobody"),
        "{fix}"
    );
}

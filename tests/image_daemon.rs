//! Volumes from images on a real, private libvirtd: a qcow2 image served
//! over HTTP becomes a volume with the same bytes and format, made once
//! (later runs download nothing); a wrong checksum, a 404 and a connection
//! cut midway each fail naming the URL, leave no volume behind and leave
//! the independent objects converged; a changed checksum is refused. A
//! domain's cloud-init seed is a `cidata` ISO on a read-only CD-ROM, and
//! changed user-data a new seed at the next boot; `status` shows the
//! address a DHCP host entry reserves for the running guest, and
//! `waitFor.address` fails an apply whose guest gets none in time.

mod common;

use std::sync::Arc;

use common::{
    manifest_dir, output_text, qcow2_image, sha256_hex, ImageServer, PrivateDaemon, Serve,
};

const API: &str = "apiVersion: virtsync.io/v1alpha1";

fn pool() -> String {
    format!("{API}\nkind: StoragePool\nmetadata: {{name: img-pool}}\nspec: {{type: dir, path: /var/lib/libvirt/images/img-pool}}\n")
}

fn image_volume(name: &str, url: &str, sha: &str) -> String {
    format!("{API}\nkind: Volume\nmetadata: {{name: {name}}}\nspec:\n  pool: img-pool\n  source: {{url: \"{url}\", sha256: {sha}}}\n")
}

fn plain_volume(name: &str) -> String {
    format!("{API}\nkind: Volume\nmetadata: {{name: {name}}}\nspec: {{pool: img-pool, capacity: 16MiB}}\n")
}

fn overlay(name: &str, capacity: &str) -> String {
    format!("{API}\nkind: Volume\nmetadata: {{name: {name}}}\nspec: {{pool: img-pool, capacity: {capacity}, backingStore: {{name: base.qcow2}}}}\n")
}

#[test]
fn an_image_daemon_volume_is_uploaded_once_and_failures_leave_nothing() {
    require_daemon!();
    let work = tempfile::tempdir().unwrap();
    let Some(image) = qcow2_image(work.path(), "64M") else {
        eprintln!("skipped: qemu-img is not installed");
        return;
    };
    let image = Arc::new(image);
    let sum = sha256_hex(&image);
    let server = ImageServer::start(vec![
        ("/base.qcow2", Serve::Bytes(image.clone())),
        (
            "/cut.qcow2",
            Serve::CutAfter(image.clone(), image.len() / 2),
        ),
    ]);
    let d = PrivateDaemon::start();
    let state = tempfile::tempdir().unwrap();

    // 1. The image becomes a volume: same bytes, qcow2, made once.
    let base = image_volume("base.qcow2", &server.url("/base.qcow2"), &sum);
    let dir = manifest_dir(&[("pool.yaml", &pool()), ("base.yaml", &base)]);
    let plan = d.virtsync("plan", dir.path(), state.path(), &[]);
    let text = output_text(&plan);
    assert!(
        text.contains(&format!("from image {}", server.url("/base.qcow2"))),
        "{text}"
    );
    d.apply_converged(dir.path(), state.path());
    assert_eq!(server.hits("/base.qcow2"), 1);
    let back = work.path().join("back.qcow2");
    d.virsh(&[
        "vol-download",
        "--pool",
        "img-pool",
        "base.qcow2",
        back.to_str().unwrap(),
    ]);
    assert_eq!(
        sha256_hex(&std::fs::read(&back).unwrap()),
        sum,
        "the volume holds other bytes"
    );
    let xml = d.virsh(&["vol-dumpxml", "--pool", "img-pool", "base.qcow2"]);
    assert!(xml.contains("<format type='qcow2'/>"), "{xml}");
    assert!(
        xml.contains("<capacity unit='bytes'>67108864</capacity>"),
        "{xml}"
    );
    let again = d.virtsync("apply", dir.path(), state.path(), &["--yes"]);
    assert_eq!(again.status.code(), Some(0), "{}", output_text(&again));
    assert_eq!(
        server.hits("/base.qcow2"),
        1,
        "a second apply downloaded again"
    );

    // 2. Failures: each names its URL, leaves no volume; the rest converges.
    // (One directory throughout: its path is the owner identity.)
    let zeros = "0".repeat(64);
    for (file, text) in [
        (
            "bad-sum.yaml",
            image_volume("bad-sum.qcow2", &server.url("/base.qcow2"), &zeros),
        ),
        (
            "missing.yaml",
            image_volume("missing.qcow2", &server.url("/missing.qcow2"), &sum),
        ),
        (
            "cut.yaml",
            image_volume("cut.qcow2", &server.url("/cut.qcow2"), &sum),
        ),
        ("other.yaml", plain_volume("other.qcow2")),
        ("small.yaml", overlay("small.qcow2", "16MiB")),
        ("root.yaml", overlay("root.qcow2", "128MiB")),
    ] {
        std::fs::write(dir.path().join(file), text).unwrap();
    }
    let out = d.virtsync("apply", dir.path(), state.path(), &["--yes"]);
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(text.contains("sha256 mismatch"), "{text}");
    assert!(text.contains(&server.url("/missing.qcow2")), "{text}");
    assert!(text.contains("HTTP 404"), "{text}");
    assert!(text.contains(&server.url("/cut.qcow2")), "{text}");
    assert!(text.contains("the image broke off after"), "{text}");
    let vols = d.virsh(&["vol-list", "img-pool"]);
    for gone in ["bad-sum.qcow2", "missing.qcow2", "cut.qcow2"] {
        assert!(!vols.contains(gone), "{gone} left behind:\n{vols}\n{text}");
    }
    assert!(vols.contains("other.qcow2"), "{vols}");
    assert!(vols.contains("root.qcow2"), "{vols}");
    assert!(
        text.contains("the overlay's capacity 16MiB is less than its backing volume img-pool/base.qcow2 (64MiB)"),
        "{text}"
    );

    // 3. Another checksum for the made volume: refused, saying what to do.
    let other = "1".repeat(64);
    let changed = image_volume("base.qcow2", &server.url("/base.qcow2"), &other);
    for f in ["bad-sum.yaml", "missing.yaml", "cut.yaml", "small.yaml"] {
        std::fs::remove_file(dir.path().join(f)).unwrap();
    }
    std::fs::write(dir.path().join("base.yaml"), changed).unwrap();
    let out = d.virtsync("plan", dir.path(), state.path(), &[]);
    let text = output_text(&out);
    assert!(
        text.contains("give the new image a new volume name"),
        "{text}"
    );
    assert_eq!(server.hits("/base.qcow2"), 2, "planning downloaded");
}

fn seeded_domain(user_data: &str) -> String {
    let spec = format!(
        "  memory: 64MiB\n  vcpus: 1\n  disks:\n    - volume: {{pool: img-pool, name: disk.qcow2}}\n  interfaces:\n    - {{network: ci-net, mac: \"52:54:00:99:00:10\", bootRom: false}}\n  cloudInit:\n    userData: |\n{}\n    sshAuthorizedKeys: [\"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOps ops@laptop\"]\n",
        user_data
            .lines()
            .map(|l| format!("      {l}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    common::halted_domain("ci-vm", &spec)
}

/// The seed volume the domain's CD-ROM holds, read back as a guest would.
fn attached_seed(
    d: &PrivateDaemon,
    work: &std::path::Path,
) -> (String, std::collections::BTreeMap<String, Vec<u8>>) {
    let xml = d.domain_xml("ci-vm", true);
    let cdrom = xml
        .find(&["devices"])
        .and_then(|devs| {
            devs.children_named("disk")
                .find(|disk| disk.attr("device") == Some("cdrom"))
                .cloned()
        })
        .expect("a CD-ROM");
    assert!(cdrom.child("readonly").is_some(), "{}", cdrom.to_xml());
    let vol = cdrom
        .child("source")
        .and_then(|s| s.attr("volume"))
        .expect("the CD-ROM holds a volume")
        .to_string();
    let out = work.join("seed.iso");
    d.virsh(&[
        "vol-download",
        "--pool",
        "img-pool",
        &vol,
        out.to_str().unwrap(),
    ]);
    virtsync::image::seed::read_iso(&std::fs::read(&out).unwrap()).expect("an ISO")
}

#[test]
fn a_cloud_init_daemon_seed_is_attached_its_address_shown_and_a_change_is_a_new_seed() {
    require_daemon!();
    let work = tempfile::tempdir().unwrap();
    let d = PrivateDaemon::start();
    let state = tempfile::tempdir().unwrap();
    let disk = format!("{API}\nkind: Volume\nmetadata: {{name: disk.qcow2}}\nspec: {{pool: img-pool, capacity: 16MiB}}\n");
    let net = format!("{API}\nkind: Network\nmetadata: {{name: ci-net}}\nspec:\n  forward: {{mode: nat}}\n  ipv4:\n    address: 10.99.0.1\n    prefix: 24\n    dhcp:\n      ranges: [{{start: 10.99.0.100, end: 10.99.0.200}}]\n      hosts: [{{mac: \"52:54:00:99:00:10\", ip: 10.99.0.10}}]\n");
    let dir = manifest_dir(&[
        ("pool.yaml", &pool()),
        ("disk.yaml", &disk),
        ("net.yaml", &net),
        (
            "vm.yaml",
            &seeded_domain("#cloud-config\nusers: [{name: ops}]"),
        ),
    ]);
    d.apply_converged(dir.path(), state.path());
    // The running guest's address, reserved for its MAC.
    let out = d.virtsync("status", dir.path(), state.path(), &[]);
    let text = output_text(&out);
    assert!(text.contains("addresses: 10.99.0.10 (reserved)"), "{text}");
    let (label, files) = attached_seed(&d, work.path());
    assert_eq!(label, "cidata");
    let user_data = String::from_utf8(files["user-data"].clone()).unwrap();
    assert!(user_data.starts_with("#cloud-config\n"), "{user_data}");
    let v: serde_yaml::Value = serde_yaml::from_str(&user_data).unwrap();
    assert_eq!(v["users"][0]["name"], "ops");
    assert_eq!(
        v["ssh_authorized_keys"][0],
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOps ops@laptop"
    );
    let meta: serde_yaml::Value = serde_yaml::from_slice(&files["meta-data"]).unwrap();
    assert_eq!(meta["local-hostname"], "ci-vm");
    let first_id = meta["instance-id"].as_str().unwrap().to_string();

    // A change: a new seed, the domain's CD-ROM moved to it.
    std::fs::write(
        dir.path().join("vm.yaml"),
        seeded_domain("#cloud-config\nusers: [{name: admin}]"),
    )
    .unwrap();
    let plan = d.virtsync("plan", dir.path(), state.path(), &[]);
    let text = output_text(&plan);
    assert!(text.contains("cloud-init seed ISO"), "{text}");
    assert!(
        text.contains("~ domain ci-vm: define (next-boot)"),
        "{text}"
    );
    assert!(text.contains("Plan: 1 to create, 1 to update"), "{text}");
    d.apply_converged(dir.path(), state.path());
    let (_, files) = attached_seed(&d, work.path());
    let meta: serde_yaml::Value = serde_yaml::from_slice(&files["meta-data"]).unwrap();
    assert_ne!(meta["instance-id"].as_str().unwrap(), first_id);
    assert!(String::from_utf8_lossy(&files["user-data"]).contains("admin"));

    // waitFor.address: this guest (no OS) never gets one: apply says so.
    let waiting = seeded_domain("#cloud-config\nusers: [{name: admin}]").replace(
        "  cloudInit:",
        "  waitFor: {address: true, timeout: 3s}\n  cloudInit:",
    );
    std::fs::write(dir.path().join("vm.yaml"), waiting).unwrap();
    let out = d.virtsync("apply", dir.path(), state.path(), &["--yes"]);
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(
        text.contains("no IP address for domain ci-vm (none after 3s)"),
        "{text}"
    );
}

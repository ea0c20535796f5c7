//! `virtsync status` as a user meets it on the command line, against
//! libvirt's test driver: what a converged host, a host changed by hand
//! and a fresh host with collisions, missing objects, a planning error and
//! an unreachable host each look like, in text and JSON, with the exit
//! codes (0 nothing to do, 2 something to do, 1 invalid input).
//!
//! Every `virtsync` process starts from a fresh `test:///default`, so the
//! hosts of the first tests are converged through the library in this
//! process and written to a test-driver node file the command then opens
//! (`common::test_driver_node_file`).

mod common;

use std::path::Path;
use std::time::Duration;

use common::{load, manifest_dir, output_text, test_driver_node_file, virtsync, Lab};
use virtsync::backend::{Backend, HostRead};
use virtsync::inventory::Inventory;
use virtsync::model::{HostId, HostName};
use virtsync::reconcile::HostConn;

const API: &str = "apiVersion: virtsync.io/v1alpha1";
const DEFAULT: &str = "test:///default";

/// `virtsync status DIR --connect URI --state-dir STATE EXTRA...` as the
/// manifest set the `Lab` converged (`--owner`): exit code, stdout, and
/// stdout with stderr.
fn status(dir: &Path, uri: &str, state: &Path, extra: &[&str]) -> (i32, String, String) {
    let (d, s) = (dir.to_string_lossy(), state.to_string_lossy());
    let mut args = vec!["status", &d, "--connect", uri, "--state-dir", &s];
    args.extend_from_slice(&["--owner", common::TEST_OWNER]);
    args.extend_from_slice(extra);
    let (out, _) = virtsync(&args, Duration::from_secs(60));
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        output_text(&out),
    )
}

/// A pool with a volume, a network, a running domain using both, and a
/// shut-off one: everything `status` shows of a healthy host.
fn healthy_manifests() -> tempfile::TempDir {
    manifest_dir(&[
        (
            "storage.yaml",
            &format!(
                "{API}\nkind: StoragePool\nmetadata: {{name: cs-pool}}\n\
                 spec: {{type: dir, path: /var/lib/libvirt/images/cs-pool}}\n---\n\
                 {API}\nkind: Volume\nmetadata: {{name: cs-web.qcow2}}\n\
                 spec: {{pool: cs-pool, capacity: 64MiB}}\n"
            ),
        ),
        (
            "network.yaml",
            &format!("{API}\nkind: Network\nmetadata: {{name: cs-net}}\nspec: {{forward: {{mode: isolated}}}}\n"),
        ),
        (
            "domains.yaml",
            &format!(
                "{API}\nkind: Domain\nmetadata: {{name: cs-web}}\n\
                 spec:\n  memory: 64MiB\n  vcpus: 1\n  arch: i686\n  \
                 disks: [{{volume: {{pool: cs-pool, name: cs-web.qcow2}}}}]\n  \
                 interfaces: [{{network: cs-net}}]\n---\n\
                 {API}\nkind: Domain\nmetadata: {{name: cs-off}}\n\
                 spec: {{memory: 64MiB, vcpus: 1, arch: i686, state: shutoff}}\n"
            ),
        ),
    ])
}

/// The reads and writes of this process's test-driver host.
fn conn(lab: &Lab) -> (std::sync::Arc<dyn HostRead>, std::sync::Arc<dyn Backend>) {
    match &lab.reconciler.hosts()[&HostName::DEFAULT] {
        HostConn::Up { read, write, .. } => (read.clone(), write.clone()),
        HostConn::Down { error } => panic!("test driver down: {error}"),
    }
}

/// Write the healthy objects as `lab`'s host has them to a node file in
/// `state`, with `lab`'s inventory recorded under the node file's URI (so
/// that the pool and volume are virtsync's there too); returns the URI.
fn capture(lab: &Lab, state: &Path, file: &str) -> String {
    let (read, _) = conn(lab);
    let uri = test_driver_node_file(
        read.as_ref(),
        &state.join(file),
        &["cs-web", "cs-off"],
        &["cs-net"],
        &["cs-pool"],
    );
    let mut inventory = Inventory::default();
    // The test driver has no host UUID: each of its URIs is a host of its
    // own, identified by the URI.
    let from = lab
        .reconciler
        .identity(&HostName::DEFAULT)
        .expect("test driver");
    let to = HostId::of(&Default::default(), &uri);
    inventory
        .hosts
        .insert(to, lab.inventory.hosts[&from].clone());
    inventory.save(state).expect("save inventory");
    uri
}

#[test]
fn a_converged_host_is_in_sync_and_a_hand_edit_shows_as_drift() {
    let dir = healthy_manifests();
    let desired = load(dir.path());
    let mut lab = Lab::connect(&desired, DEFAULT);
    lab.converge(&desired);
    let state = tempfile::tempdir().unwrap();
    let uri = capture(&lab, state.path(), "converged.xml");

    let (code, out, all) = status(dir.path(), &uri, state.path(), &[]);
    assert_eq!(code, 0, "{all}");
    assert_eq!(
        out,
        "KIND     NAME                  STATUS   DETAILS\n\
         pool     cs-pool               in sync\n\
         volume   cs-pool/cs-web.qcow2  in sync\n\
         network  cs-net                in sync\n\
         domain   cs-off                in sync\n\
         domain   cs-web                in sync\n\
         \n\
         Status: 5 in sync (5 objects)\n",
        "{all}"
    );
    let (code, json, all) = status(dir.path(), &uri, state.path(), &["--output", "json"]);
    assert_eq!(code, 0, "{all}");
    let report: serde_json::Value = serde_json::from_str(&json).expect(&all);
    assert_eq!(report["formatVersion"], 1);
    let web = &report["objects"][4];
    assert_eq!(web["name"], "cs-web");
    assert_eq!(web["status"], "in-sync");
    assert_eq!(web["file"], "domains.yaml");
    assert_eq!(web["snapshots"], serde_json::json!([]), "{json}");
    assert_eq!(report["summary"]["inSync"], 5);

    // By hand, as with `virsh setmaxmem --config` and `virsh destroy`: the
    // persistent memory of cs-web changes and the guest stops.
    let (read, write) = conn(&lab);
    let xml = read.domain_xml("cs-web", false).unwrap();
    assert!(xml.contains("<memory unit='KiB'>65536</memory>"), "{xml}");
    let edited = xml
        .replace(
            "<memory unit='KiB'>65536</memory>",
            "<memory unit='KiB'>98304</memory>",
        )
        .replace(
            "<currentMemory unit='KiB'>65536</currentMemory>",
            "<currentMemory unit='KiB'>98304</currentMemory>",
        );
    write.define_domain(&edited).unwrap();
    write.destroy_domain("cs-web").unwrap();
    let uri = capture(&lab, state.path(), "edited.xml");

    let (code, out, all) = status(dir.path(), &uri, state.path(), &[]);
    assert_eq!(code, 2, "drift is something to do: {all}");
    let web = out
        .lines()
        .find(|l| l.starts_with("domain   cs-web"))
        .expect(&all);
    assert_eq!(
        web, "domain   cs-web                drifted  memory, state",
        "{all}"
    );
    assert!(
        out.ends_with("\nStatus: 4 in sync, 1 drifted (5 objects)\n"),
        "{all}"
    );
    let (code, json, all) = status(dir.path(), &uri, state.path(), &["-o", "json"]);
    assert_eq!(code, 2, "{all}");
    let report: serde_json::Value = serde_json::from_str(&json).expect(&all);
    assert_eq!(
        report["objects"][4],
        serde_json::json!({
            "kind": "Domain", "name": "cs-web", "host": "", "file": "domains.yaml", "line": 1,
            "status": "drifted", "fields": ["memory", "state"], "snapshots": [],
        })
    );
}

/// A fresh test-driver host has a domain `test` and a pool `default-pool`
/// virtsync does not own, and no network `ct-ext`.
fn troubled_manifests() -> tempfile::TempDir {
    manifest_dir(&[
        (
            "collide.yaml",
            &format!(
                "{API}\nkind: Domain\nmetadata: {{name: test}}\nspec: {{memory: 64MiB, vcpus: 1}}\n---\n\
                 {API}\nkind: StoragePool\nmetadata: {{name: default-pool}}\n\
                 spec: {{type: dir, path: /default-pool}}\n---\n\
                 {API}\nkind: Volume\nmetadata: {{name: ct.img}}\n\
                 spec: {{pool: default-pool, capacity: 1MiB, format: raw}}\n"
            ),
        ),
        (
            "new.yaml",
            &format!(
                "{API}\nkind: Domain\nmetadata: {{name: ct-new}}\nspec: {{memory: 64MiB, vcpus: 1, arch: i686}}\n---\n\
                 {API}\nkind: Network\nmetadata: {{name: ct-ext, external: true}}\n"
            ),
        ),
    ])
}

/// The line of `out` that starts with `start` (the row of an object).
fn row<'a>(out: &'a str, start: &str) -> &'a str {
    out.lines()
        .find(|l| l.starts_with(start))
        .unwrap_or_else(|| panic!("no row `{start}` in:\n{out}"))
}

#[test]
fn collisions_missing_objects_and_planning_errors_exit_2() {
    let dir = troubled_manifests();
    let state = tempfile::tempdir().unwrap();
    let (code, out, all) = status(dir.path(), DEFAULT, state.path(), &[]);
    assert_eq!(code, 2, "{all}");
    assert_eq!(
        out.lines().next(),
        Some("KIND     NAME                 STATUS               DETAILS"),
        "no HOST column: every object is on the default connection: {all}"
    );
    assert!(row(&out, "pool     default-pool         unmanaged collision  ")
        .ends_with("virtsync did not create it (not in the inventory); pass --adopt to take it over as it is, mark the manifest `metadata.external: true` to use it without managing it, or rename the manifest"));
    assert_eq!(
        row(&out, "volume   default-pool/ct.img"),
        "volume   default-pool/ct.img  planning error       waits for storagepool/default-pool, which is blocked"
    );
    assert_eq!(
        row(&out, "network  ct-ext"),
        "network  ct-ext               planning error       external; an external network must exist on the host, and it does not; create it or remove `metadata.external`"
    );
    assert_eq!(
        row(&out, "domain   ct-new"),
        "domain   ct-new               missing              would be created"
    );
    assert!(row(&out, "domain   test                 unmanaged collision  ")
        .contains("a domain of this name exists on the host but virtsync does not manage it (no ownership marker)"));
    assert!(
        out.ends_with(
            "\n\nStatus: 1 missing, 2 unmanaged collision, 2 planning error (5 objects)\n"
        ),
        "{all}"
    );

    let (code, json, all) = status(dir.path(), DEFAULT, state.path(), &["--output", "json"]);
    assert_eq!(code, 2, "{all}");
    let report: serde_json::Value = serde_json::from_str(&json).expect(&all);
    let rows: Vec<String> = report["objects"]
        .as_array()
        .expect("objects")
        .iter()
        .map(|o| format!("{} {} {}", o["kind"], o["name"], o["status"]))
        .collect();
    assert_eq!(
        rows,
        [
            r#""StoragePool" "default-pool" "unmanaged-collision""#,
            r#""Volume" "default-pool/ct.img" "planning-error""#,
            r#""Network" "ct-ext" "planning-error""#,
            r#""Domain" "ct-new" "missing""#,
            r#""Domain" "test" "unmanaged-collision""#,
        ],
        "sorted by host, kind (dependency order), name: {json}"
    );
    assert_eq!(
        report["objects"][3],
        serde_json::json!({
            "kind": "Domain", "name": "ct-new", "host": "", "file": "new.yaml", "line": 1,
            "status": "missing",
        }),
        "a domain that does not exist has no snapshots to list"
    );
    assert_eq!(report["objects"][2]["external"], true);
    assert!(
        report["objects"][4]["message"]
            .as_str()
            .is_some_and(|m| m.contains("does not manage it")),
        "{json}"
    );
    assert_eq!(report["unreachableHosts"], serde_json::json!([]));
    assert_eq!(
        report["summary"],
        serde_json::json!({
            "total": 5, "inSync": 0, "drifted": 0, "restartPending": 0, "missing": 1,
            "unmanagedCollision": 2, "planningError": 2, "hostUnreachable": 0,
        })
    );

    // `plan` blocks the same objects, each with its typed cause.
    let (d, st) = (dir.path().to_string_lossy(), state.path().to_string_lossy());
    let args = [
        "plan",
        &d,
        "--connect",
        DEFAULT,
        "--state-dir",
        &st,
        "-o",
        "json",
    ];
    let (out, _) = virtsync(&args, Duration::from_secs(60));
    let text = output_text(&out);
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).expect(&text);
    let causes: Vec<String> = plan["blocked"]
        .as_array()
        .expect("blocked")
        .iter()
        .map(|b| format!("{} {}", b["name"], b["cause"]))
        .collect();
    assert_eq!(
        causes,
        [
            r#""default-pool" "unmanaged""#,
            r#""ct.img" "dependency""#,
            r#""ct-ext" "refused""#,
            r#""test" "unmanaged""#,
        ],
        "{plan}"
    );
}

#[test]
fn objects_of_an_unreachable_host_show_it() {
    let dir = manifest_dir(&[(
        "far.yaml",
        &format!(
            "{API}\nkind: Host\nmetadata: {{name: far}}\nspec: {{uri: \"test:///nonexistent/far.xml\"}}\n---\n\
             {API}\nkind: Domain\nmetadata: {{name: cu-far, host: far}}\nspec: {{memory: 64MiB, vcpus: 1}}\n"
        ),
    )]);
    let state = tempfile::tempdir().unwrap();
    let (code, out, all) = status(dir.path(), DEFAULT, state.path(), &[]);
    assert_eq!(code, 2, "{all}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0], "KIND    NAME    HOST  STATUS            DETAILS",
        "{all}"
    );
    assert!(
        lines[1].starts_with("domain  cu-far  far   host unreachable  its host cannot be reached: cannot connect to test:///nonexistent/far.xml"),
        "{all}"
    );
    assert!(
        lines[2].starts_with("! host far (test:///nonexistent/far.xml) cannot be reached: "),
        "{all}"
    );
    assert_eq!(lines[4], "Status: 1 host unreachable (1 object)", "{all}");
    let (code, json, all) = status(dir.path(), DEFAULT, state.path(), &["-o", "json"]);
    assert_eq!(code, 2, "{all}");
    let report: serde_json::Value = serde_json::from_str(&json).expect(&all);
    assert_eq!(report["objects"][0]["host"], "far");
    assert_eq!(report["objects"][0]["status"], "host-unreachable");
    assert_eq!(report["unreachableHosts"][0]["host"], "far");
    assert_eq!(
        report["unreachableHosts"][0]["uri"],
        "test:///nonexistent/far.xml"
    );
}

#[test]
fn invalid_manifests_and_usage_errors_exit_1() {
    let dir = manifest_dir(&[(
        "bad.yaml",
        &format!("{API}\nkind: Domain\nmetadata: {{name: ct-bad}}\nspec: {{memroy: 64MiB}}\n"),
    )]);
    let state = tempfile::tempdir().unwrap();
    let (code, out, all) = status(dir.path(), DEFAULT, state.path(), &[]);
    assert_eq!(code, 1, "{all}");
    assert!(out.is_empty(), "no status of invalid manifests: {all}");
    assert!(all.contains("bad.yaml:4:"), "{all}");
    let (out, _) = virtsync(&["status"], Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
    let (out, _) = virtsync(
        &["status", ".", "--output", "yaml"],
        Duration::from_secs(30),
    );
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
}

//! Convergence against a real, private libvirtd (one throw-away daemon per
//! test, scripts/private-libvirtd): the `virtsync` binary applies a directory
//! with a NAT network, a dir pool, volumes and tiny halted guests, and
//! - converges it (`converged: N objects in sync`), as virsh confirms, and
//!   plans nothing after, also where libvirt stores things its own way
//!   (sizes rounded to a KiB, disks sorted by bus and target);
//! - then plans nothing, and a converged `apply` writes nothing: no
//!   lifecycle event, only read procedures in the daemon's RPC log, at most
//!   N + 15 of them;
//! - plans a memory and a vCPU change for exactly the two domains changed,
//!   applies them to the persistent config, and plans nothing after;
//! - prints stable plan JSON;
//! - survives a failing action: independent objects converge, dependents
//!   are skipped, the summary says which, exit 3;
//! - enforces `state: shutoff` through a shutdown that times out into
//!   destroy, and restarts under `restartPolicy: onConfigChange`.
//!
//! Guests are 64 MiB, boot from `hd` only, never retry booting and have no
//! NIC boot ROM: they sit halted without using the CPU.

mod common;

use std::collections::BTreeSet;
use std::process::{Child, Command as StdCommand, Output, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::Command;
use common::{manifest_dir, rpc_counts, PrivateDaemon, READ_PROCS};
use serde_json::Value;

// ------------------------------------------------------------------ fixture

/// A daemon, a manifest directory and a state dir for one test.
struct Fixture {
    daemon: PrivateDaemon,
    manifests: tempfile::TempDir,
    state: tempfile::TempDir,
}

impl Fixture {
    fn new(files: &[(&str, &str)]) -> Fixture {
        Fixture {
            daemon: PrivateDaemon::start(),
            manifests: manifest_dir(files),
            state: tempfile::tempdir().expect("state dir"),
        }
    }

    /// Rewrite (or add) one manifest file.
    fn write(&self, rel: &str, content: &str) {
        std::fs::write(self.manifests.path().join(rel), content).expect("write manifest");
    }

    /// `virtsync CMD DIR --connect URI --state-dir STATE ARGS...`
    fn run(&self, cmd: &str, args: &[&str]) -> Output {
        self.daemon
            .virtsync(cmd, self.manifests.path(), self.state.path(), args)
    }

    /// `apply --yes`; returns (exit code, stdout).
    fn apply(&self) -> (i32, String) {
        let out = self.run("apply", &["--yes"]);
        (out.status.code().unwrap_or(-1), text(&out))
    }

    /// `apply --yes`, which must exit 0 and report convergence.
    fn apply_ok(&self) -> String {
        let (code, stdout) = self.apply();
        assert_eq!(code, 0, "apply failed:\n{stdout}");
        assert!(stdout.contains("converged:"), "{stdout}");
        stdout
    }

    /// `plan --exit-code`'s exit code (with its output for messages).
    fn plan_exit_code(&self) -> (i32, String) {
        let out = self.run("plan", &["--exit-code"]);
        (out.status.code().unwrap_or(-1), text(&out))
    }

    /// `plan --output json`: raw stdout and parsed.
    fn plan_json(&self) -> (String, Value) {
        let out = self.run("plan", &["--output", "json"]);
        assert!(out.status.success(), "plan failed: {}", text(&out));
        let raw = String::from_utf8(out.stdout).expect("utf-8");
        let v = serde_json::from_str(&raw).expect("plan JSON parses");
        (raw, v)
    }

    fn virsh(&self, args: &[&str]) -> String {
        self.daemon.virsh(args)
    }

    /// Names printed by a `virsh ... --name` listing.
    fn names(&self, args: &[&str]) -> BTreeSet<String> {
        self.virsh(args)
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect()
    }
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

// ---------------------------------------------------------------- manifests

const NETWORK: &str = r#"apiVersion: virtsync.io/v1alpha1
kind: Network
metadata:
  name: cv-net
spec:
  forward: {mode: nat}
  ipv4:
    address: 10.88.0.1
    prefix: 24
    dhcp:
      ranges: [{start: 10.88.0.100, end: 10.88.0.200}]
      hosts: [{mac: "52:54:00:AB:CD:EF", name: cv-mac, ip: 10.88.0.20}]
  autostart: true
"#;

const STORAGE: &str = r#"apiVersion: virtsync.io/v1alpha1
kind: StoragePool
metadata:
  name: cv-pool
spec:
  type: dir
  path: /var/lib/libvirt/images/cv-pool
  autostart: true
---
apiVersion: virtsync.io/v1alpha1
kind: Volume
metadata:
  name: cv-disk.qcow2
spec:
  pool: cv-pool
  capacity: 1GiB
  format: qcow2
---
apiVersion: virtsync.io/v1alpha1
kind: Volume
metadata:
  name: cv-scratch.raw
spec:
  pool: cv-pool
  capacity: 16MiB
  format: raw
"#;

/// A tiny guest that sits halted. `spec` lines go under `spec:` (indented
/// by two spaces); NICs and disks are given whole by the caller.
fn domain(name: &str, spec: &str) -> String {
    format!(
        r#"apiVersion: virtsync.io/v1alpha1
kind: Domain
metadata:
  name: {name}
spec:
{spec}  boot: [hd]
  xml:
    - at: /domain/os
      merge: "<bios rebootTimeout='-1'/>"
"#
    )
}

const NIC: &str = "  interfaces:\n    - network: cv-net\n      bootRom: false\n";

/// Three domains: one with a disk on a volume, one with an upper-case MAC,
/// one without disk (and with a MAC libvirt generates). `mac_mem` and
/// `bare_vcpus` are the knobs the update test turns.
fn domains(mac_mem: &str, bare_vcpus: u32) -> String {
    [
        domain(
            "cv-disk",
            &format!(
                "  memory: 64MiB\n  vcpus: 1\n  disks:\n    - volume: {{pool: cv-pool, name: cv-disk.qcow2}}\n{NIC}"
            ),
        ),
        domain(
            "cv-mac",
            &format!(
                "  memory: {mac_mem}\n  maxMemory: 128MiB\n  vcpus: 1\n  interfaces:\n    - network: cv-net\n      mac: \"52:54:00:AB:CD:EF\"\n      bootRom: false\n"
            ),
        ),
        domain(
            "cv-bare",
            &format!("  memory: 64MiB\n  vcpus: {bare_vcpus}\n  maxVcpus: 4\n{NIC}"),
        ),
    ]
    .join("---\n")
}

/// network + pool + 2 volumes + 3 domains.
const OBJECTS: usize = 7;

fn full_fixture() -> Fixture {
    Fixture::new(&[
        ("network.yaml", NETWORK),
        ("storage.yaml", STORAGE),
        ("domains.yaml", &domains("64MiB", 1)),
    ])
}

/// MAC addresses of a domain's NICs, as libvirt stores them.
fn macs(f: &Fixture, dom: &str) -> Vec<String> {
    f.virsh(&["domiflist", dom])
        .lines()
        .filter_map(|l| l.split_whitespace().nth(4).map(String::from))
        .collect()
}

// ---------------------------------------------------------------- the tests

#[test]
fn directory_converges_and_virsh_agrees() {
    require_daemon!();
    let f = full_fixture();
    let t = Instant::now();
    let out = f.apply_ok();
    eprintln!("cold apply of {OBJECTS} objects: {:?}", t.elapsed());
    assert!(
        out.contains(&format!("converged: {OBJECTS} objects in sync")),
        "{out}"
    );
    assert!(out.contains("Apply: "), "{out}");
    assert!(out.contains(" 0 failed, 0 skipped"), "{out}");

    assert_eq!(
        f.names(&["list", "--name", "--state-running"]),
        set(&["cv-bare", "cv-disk", "cv-mac"])
    );
    assert_eq!(f.names(&["net-list", "--name"]), set(&["cv-net"]));
    assert!(f
        .virsh(&["net-info", "cv-net"])
        .contains("Autostart:      yes"));
    assert_eq!(f.names(&["pool-list", "--name"]), set(&["cv-pool"]));
    let vols = f.virsh(&["vol-list", "cv-pool"]);
    assert!(vols.contains("cv-disk.qcow2"), "{vols}");
    assert!(vols.contains("cv-scratch.raw"), "{vols}");
    let info = f.virsh(&["vol-info", "cv-disk.qcow2", "--pool", "cv-pool", "--bytes"]);
    assert!(info.contains("1073741824 bytes"), "{info}");
    // The disk is attached through the volume.
    let disk = f.virsh(&["domblklist", "cv-disk", "--details"]);
    assert!(disk.contains("vda"), "{disk}");

    // The upper-case MAC is stored lower-case, also in the DHCP host entry.
    assert_eq!(macs(&f, "cv-mac"), vec!["52:54:00:ab:cd:ef".to_string()]);
    let net = f.virsh(&["net-dumpxml", "cv-net", "--inactive"]);
    assert!(net.contains("mac='52:54:00:ab:cd:ef'"), "{net}");
    let generated = macs(&f, "cv-bare");
    assert_eq!(generated.len(), 1);

    // Re-apply: nothing to do, and no MAC changed.
    let again = f.apply_ok();
    assert!(
        again.contains(&format!("converged: {OBJECTS} objects in sync")),
        "{again}"
    );
    assert!(
        !again.contains("done "),
        "a converged apply acted:\n{again}"
    );
    assert_eq!(macs(&f, "cv-mac"), vec!["52:54:00:ab:cd:ef".to_string()]);
    assert_eq!(macs(&f, "cv-bare"), generated);
}

#[test]
fn libvirts_normalisation_leaves_nothing_to_plan() {
    require_daemon!();
    // Sizes that are not whole KiB (qemu-img rounds volumes up to a KiB),
    // disks on two buses (libvirt sorts them by bus and target), an empty
    // cdrom, a path disk with a far target, a non-default NIC model,
    // graphics and a console.
    let storage = r#"apiVersion: virtsync.io/v1alpha1
kind: StoragePool
metadata: {name: cv-pool}
spec: {type: dir, path: /var/lib/libvirt/images/cv-pool/}
---
apiVersion: virtsync.io/v1alpha1
kind: Volume
metadata: {name: odd.qcow2}
spec: {pool: cv-pool, capacity: 100MB}
---
apiVersion: virtsync.io/v1alpha1
kind: Volume
metadata: {name: odd.raw}
spec: {pool: cv-pool, capacity: 1000KB, format: raw}
---
apiVersion: virtsync.io/v1alpha1
kind: Volume
metadata: {name: grow.qcow2}
spec: {pool: cv-pool, capacity: 10MB}
"#;
    let many = domain(
        "cv-many",
        r#"  memory: 100MB
  vcpus: 1
  autostart: true
  disks:
    - volume: {pool: cv-pool, name: odd.qcow2}
    - volume: {pool: cv-pool, name: odd.raw}
      bus: sata
    - device: cdrom
    - path: /var/lib/libvirt/images/cv-free.img
      format: raw
      target: vdx
  interfaces:
    - network: cv-net
      model: e1000
      bootRom: false
  graphics: {type: vnc, listen: 127.0.0.1}
  console: pty
"#,
    );
    let f = Fixture::new(&[
        ("network.yaml", NETWORK),
        ("storage.yaml", storage),
        ("domains.yaml", &many),
    ]);
    // The path disk's file, where the daemon sees /var/lib/libvirt/images.
    std::fs::write(f.daemon.path().join("lib/images/cv-free.img"), [0u8; 4096]).unwrap();
    let out = f.apply_ok();
    assert!(out.contains("converged: 6 objects in sync"), "{out}");
    let (code, out) = f.plan_exit_code();
    assert_eq!(code, 0, "re-plan after apply is not empty:\n{out}");
    let xml = f.virsh(&["dumpxml", "cv-many", "--inactive"]);
    // libvirt's order is not the manifest's.
    let targets: Vec<&str> = xml
        .lines()
        .filter_map(|l| l.trim().strip_prefix("<target dev='"))
        .map(|l| &l[..3])
        .collect();
    assert_eq!(targets, ["vda", "vdx", "sda", "sdb"], "{xml}");

    // Growing a volume to a size that is not whole KiB converges too.
    f.write(
        "storage.yaml",
        &storage.replace("capacity: 10MB", "capacity: 15MB"),
    );
    let (_, plan) = f.plan_json();
    assert_eq!(
        actions(&plan),
        vec![(
            "cv-pool/grow.qcow2".to_string(),
            "resize-volume".to_string()
        )]
    );
    f.apply_ok();
    let info = f.virsh(&["vol-info", "grow.qcow2", "--pool", "cv-pool", "--bytes"]);
    // qemu-img rounds a resize to 512 bytes, a create to a KiB.
    let bytes: u64 = info
        .lines()
        .find_map(|l| l.strip_prefix("Capacity:"))
        .and_then(|c| c.trim().strip_suffix(" bytes"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no capacity in {info}"));
    assert!((15_000_000..=15_000_576).contains(&bytes), "{info}");
    let (code, out) = f.plan_exit_code();
    assert_eq!(code, 0, "{out}");
}

/// `virsh ARGS --loop --timeout 30` in the background, printing events.
fn watch(f: &Fixture, args: &[&str]) -> Child {
    StdCommand::new("virsh")
        .arg("-q")
        .arg("-c")
        .arg(&f.daemon.uri)
        .args(args)
        .args(["--loop", "--timeout", "30"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run virsh event")
}

/// Interrupt a watcher (it then prints its count and exits) and return
/// what it printed.
fn stop_watch(mut c: Child) -> String {
    let _ = StdCommand::new("kill")
        .arg("-INT")
        .arg(c.id().to_string())
        .status();
    let deadline = Instant::now() + Duration::from_secs(10);
    while c.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = c.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    text(&c.wait_with_output().expect("watcher output"))
}

#[test]
fn converged_apply_writes_nothing_and_reads_little() {
    require_daemon!();
    let f = full_fixture();
    f.apply_ok();
    let (code, out) = f.plan_exit_code();
    assert_eq!(code, 0, "plan right after apply is not empty:\n{out}");
    assert!(out.contains("No changes"), "{out}");

    // Watchers first (their own RPCs must not land in the measured log).
    let watchers = [
        watch(&f, &["event", "--all"]),
        watch(&f, &["net-event", "--event", "lifecycle"]),
        watch(&f, &["pool-event", "--event", "lifecycle"]),
    ];
    std::thread::sleep(Duration::from_millis(500));
    let log = f.daemon.log_rpcs();
    std::fs::write(&log, "").expect("truncate RPC log");

    let t = Instant::now();
    let out = f.apply_ok();
    let took = t.elapsed();
    assert!(
        out.contains(&format!("converged: {OBJECTS} objects in sync")),
        "{out}"
    );
    std::thread::sleep(Duration::from_millis(300));
    let counts = rpc_counts(&log);
    let total: usize = counts.values().sum();
    eprintln!("converged apply: {took:?}, {total} RPCs: {counts:?}");

    let allowed: BTreeSet<u32> = READ_PROCS.iter().map(|(n, _)| *n).collect();
    let writes: Vec<_> = counts.keys().filter(|p| !allowed.contains(p)).collect();
    assert!(
        writes.is_empty(),
        "a converged apply called procedures that are not reads: {writes:?} (all: {counts:?})"
    );
    assert!(total > 0, "the RPC log recorded nothing: is logging on?");
    assert!(
        total <= OBJECTS + 15,
        "{total} RPCs for {OBJECTS} objects (limit {}): {counts:?}",
        OBJECTS + 15
    );

    // A change the watchers must see proves they were listening; a
    // suspend is one event that no converged apply could cause.
    f.virsh(&["suspend", "cv-bare"]);
    std::thread::sleep(Duration::from_millis(300));
    let [dom, net, pool] = watchers.map(stop_watch);
    let events: Vec<&str> = dom.lines().filter(|l| l.starts_with("event '")).collect();
    assert_eq!(
        events,
        vec!["event 'lifecycle' for domain 'cv-bare': Suspended Paused"],
        "domain events: {dom}"
    );
    assert!(dom.contains("events received: 1"), "domain events: {dom}");
    assert!(net.contains("events received: 0"), "network events: {net}");
    assert!(pool.contains("events received: 0"), "pool events: {pool}");

    // ...and the next apply resumes the guest.
    let out = f.apply_ok();
    assert!(out.contains("domain/cv-bare/resume"), "{out}");
    assert!(f
        .names(&["list", "--name", "--state-running"])
        .contains("cv-bare"));
}

/// (name, operation) of every action, and the changes by action name.
fn actions(plan: &Value) -> Vec<(String, String)> {
    plan["actions"]
        .as_array()
        .expect("actions")
        .iter()
        .map(|a| {
            (
                a["name"].as_str().unwrap().to_string(),
                a["operation"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn changes_of(plan: &Value, name: &str) -> Vec<(String, String, String, String)> {
    plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["name"] == name)
        .flat_map(|a| a["changes"].as_array().unwrap().clone())
        .map(|c| {
            let s = |k: &str| c[k].as_str().unwrap().to_string();
            (s("field"), s("from"), s("to"), s("class"))
        })
        .collect()
}

fn ch(field: &str, from: &str, to: &str, class: &str) -> (String, String, String, String) {
    (field.into(), from.into(), to.into(), class.into())
}

#[test]
fn memory_and_vcpu_changes_plan_and_apply_for_exactly_those_domains() {
    require_daemon!();
    let f = full_fixture();
    f.apply_ok();
    let bare_mac = macs(&f, "cv-bare");

    f.write("domains.yaml", &domains("96MiB", 2));
    let (raw, plan) = f.plan_json();
    let (raw2, _) = f.plan_json();
    assert_eq!(raw, raw2, "two plans of the same state differ");

    let names: BTreeSet<String> = actions(&plan).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, set(&["cv-bare", "cv-mac"]), "{raw}");
    assert_eq!(
        changes_of(&plan, "cv-mac"),
        vec![ch("memory", "64MiB", "96MiB", "live")],
        "{raw}"
    );
    assert_eq!(
        changes_of(&plan, "cv-bare"),
        vec![ch("vcpus", "1", "2", "live")],
        "{raw}"
    );
    let ops: BTreeSet<(String, String)> = actions(&plan).into_iter().collect();
    for d in ["cv-mac", "cv-bare"] {
        assert!(ops.contains(&(d.into(), "define".into())), "{raw}");
        assert!(ops.contains(&(d.into(), "update-live".into())), "{raw}");
    }

    let (code, out) = f.plan_exit_code();
    assert_eq!(code, 2, "{out}");
    let out = f.apply_ok();
    assert!(
        out.contains(&format!("converged: {OBJECTS} objects in sync")),
        "{out}"
    );

    let mac_xml = f.virsh(&["dumpxml", "cv-mac", "--inactive"]);
    assert!(
        mac_xml.contains("<currentMemory unit='KiB'>98304</currentMemory>"),
        "{mac_xml}"
    );
    assert!(
        mac_xml.contains("<memory unit='KiB'>131072</memory>"),
        "{mac_xml}"
    );
    let bare_xml = f.virsh(&["dumpxml", "cv-bare", "--inactive"]);
    assert!(
        bare_xml.contains("<vcpu placement='static' current='2'>4</vcpu>"),
        "{bare_xml}"
    );
    // vCPU hot-add needs no guest help: the running guest has 2 now.
    let live = f.virsh(&["vcpucount", "cv-bare", "--live", "--active"]);
    assert_eq!(live.trim(), "2", "{live}");
    // A redefine keeps the MAC libvirt generated.
    assert_eq!(macs(&f, "cv-bare"), bare_mac);
    // The others were not touched.
    let disk_xml = f.virsh(&["dumpxml", "cv-disk", "--inactive"]);
    assert!(
        disk_xml.contains("<currentMemory unit='KiB'>65536</currentMemory>"),
        "{disk_xml}"
    );

    let (code, out) = f.plan_exit_code();
    assert_eq!(code, 0, "plan after apply is not empty:\n{out}");
}

#[test]
fn plan_json_is_stable_and_complete() {
    require_daemon!();
    let f = full_fixture();
    // A cold plan: everything to create, with dependencies.
    let (raw, plan) = f.plan_json();
    let (raw2, _) = f.plan_json();
    assert_eq!(raw, raw2, "two cold plans differ");
    let (code, _) = f.plan_exit_code();
    assert_eq!(code, 2);

    assert_eq!(plan["formatVersion"], 4);
    let fp = plan["fingerprint"]["digest"].as_str().expect("fingerprint");
    assert!(
        fp.starts_with("sha256:") && fp.len() == 7 + 64,
        "fingerprint {fp}"
    );
    let actions = plan["actions"].as_array().expect("actions");
    assert!(!actions.is_empty());
    let ids: BTreeSet<&str> = actions.iter().map(|a| a["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), actions.len(), "action ids are not unique");
    for a in actions {
        for key in [
            "id",
            "kind",
            "name",
            "host",
            "operation",
            "effect",
            "changes",
            "dependsOn",
            "step",
        ] {
            assert!(a.get(key).is_some(), "action without `{key}`: {a}");
        }
        let effect = a["effect"].as_str().unwrap();
        assert!(
            ["create", "update", "power", "delete"].contains(&effect),
            "{a}"
        );
        for d in a["dependsOn"].as_array().unwrap() {
            assert!(ids.contains(d.as_str().unwrap()), "unknown dependency {d}");
        }
    }
    let find = |id: &str| {
        actions
            .iter()
            .find(|a| a["id"] == id)
            .unwrap_or_else(|| panic!("no action {id} in {raw}"))
    };
    // The disk's volume comes before the domain; the domain's start after
    // its network and its define.
    let deps = |id: &str| -> BTreeSet<String> {
        find(id)["dependsOn"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_str().unwrap().to_string())
            .collect()
    };
    assert!(deps("domain/cv-disk/define").contains("volume/cv-pool/cv-disk.qcow2/create-volume"));
    assert!(deps("domain/cv-disk/start").contains("domain/cv-disk/define"));
    assert!(deps("domain/cv-disk/start").contains("network/cv-net/start"));
    assert_eq!(find("domain/cv-mac/define")["kind"], "Domain");
    assert_eq!(find("domain/cv-mac/start")["effect"], "power");
    let s = &plan["summary"];
    assert_eq!(s["total"].as_u64().unwrap() as usize, actions.len());
    let by_effect: u64 = ["create", "update", "power", "delete"]
        .iter()
        .map(|k| s[*k].as_u64().unwrap())
        .sum();
    assert_eq!(by_effect as usize, actions.len());

    // After apply, the empty plan is stable too.
    f.apply_ok();
    let (a, p) = f.plan_json();
    let (b, _) = f.plan_json();
    assert_eq!(a, b);
    assert_eq!(p["actions"].as_array().unwrap().len(), 0);
    assert_eq!(p["summary"]["total"], 0);
}

#[test]
fn a_failed_action_fails_only_its_dependents() {
    require_daemon!();
    // The volume is valid to virtsync but far beyond what qcow2 can hold:
    // qemu-img refuses it at create time.
    let storage = format!(
        "{STORAGE}---\napiVersion: virtsync.io/v1alpha1\nkind: Volume\nmetadata:\n  name: cv-huge.qcow2\nspec:\n  pool: cv-pool\n  capacity: 8000000TiB\n  format: qcow2\n"
    );
    let doms = [
        domain("cv-ok", &format!("  memory: 64MiB\n  vcpus: 1\n{NIC}")),
        domain(
            "cv-broken",
            &format!(
                "  autostart: true\n  memory: 64MiB\n  vcpus: 1\n  disks:\n    - volume: {{pool: cv-pool, name: cv-huge.qcow2}}\n{NIC}"
            ),
        ),
    ]
    .join("---\n");
    let f = Fixture::new(&[
        ("network.yaml", NETWORK),
        ("storage.yaml", &storage),
        ("domains.yaml", &doms),
    ]);
    let validate = Command::new(env!("CARGO_BIN_EXE_virtsync"))
        .arg("validate")
        .arg(f.manifests.path())
        .output()
        .unwrap();
    assert!(validate.status.success(), "{}", text(&validate));

    let (code, out) = f.apply();
    assert_eq!(code, 3, "apply with a failed action must exit 3:\n{out}");
    assert!(out.contains("1 failed, 3 skipped"), "{out}");
    assert!(
        out.contains("failed:  volume/cv-pool/cv-huge.qcow2/create-volume:"),
        "{out}"
    );
    assert!(
        out.contains("skipped: domain/cv-broken/define (because volume/cv-pool/cv-huge.qcow2/create-volume failed)"),
        "{out}"
    );
    assert!(
        out.contains("skipped: domain/cv-broken/start (because volume/cv-pool/cv-huge.qcow2/create-volume failed)"),
        "{out}"
    );
    // An action skipped behind a skipped one names the root cause too.
    assert!(
        out.contains("skipped: domain/cv-broken/set-autostart (because volume/cv-pool/cv-huge.qcow2/create-volume failed)"),
        "{out}"
    );
    assert!(out.contains("not converged:"), "{out}");

    // The independent objects converged.
    assert_eq!(
        f.names(&["list", "--name", "--state-running"]),
        set(&["cv-ok"])
    );
    assert_eq!(f.names(&["list", "--name", "--all"]), set(&["cv-ok"]));
    assert_eq!(f.names(&["net-list", "--name"]), set(&["cv-net"]));
    assert_eq!(f.names(&["pool-list", "--name"]), set(&["cv-pool"]));
    let vols = f.virsh(&["vol-list", "cv-pool"]);
    assert!(vols.contains("cv-disk.qcow2") && vols.contains("cv-scratch.raw"));
    assert!(!vols.contains("cv-huge"), "{vols}");

    // What remains is exactly the failed volume and its domain.
    let (_, plan) = f.plan_json();
    let left: BTreeSet<(String, String)> = actions(&plan).into_iter().collect();
    assert_eq!(
        left,
        [
            ("cv-pool/cv-huge.qcow2", "create-volume"),
            ("cv-broken", "define"),
            ("cv-broken", "set-autostart"),
            ("cv-broken", "start"),
        ]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
    );
}

#[test]
fn state_shutoff_shuts_down_and_falls_back_to_destroy() {
    require_daemon!();
    let stop = |state: &str| {
        domain(
            "cv-stop",
            &format!("  state: {state}\n  shutdownTimeout: 2s\n  memory: 64MiB\n  vcpus: 1\n"),
        )
    };
    let f = Fixture::new(&[("domains.yaml", &stop("running"))]);
    f.apply_ok();
    assert_eq!(f.virsh(&["domstate", "cv-stop"]).trim(), "running");

    f.write("domains.yaml", &stop("shutoff"));
    let (_, plan) = f.plan_json();
    assert_eq!(
        actions(&plan),
        vec![("cv-stop".to_string(), "shutdown".to_string())]
    );
    assert_eq!(plan["actions"][0]["effect"], "power");
    let t = Instant::now();
    let out = f.apply_ok();
    let took = t.elapsed();
    eprintln!("shutdown with a 2s timeout took {took:?}");
    assert!(out.contains("converged: 1 objects in sync"), "{out}");
    assert_eq!(f.virsh(&["domstate", "cv-stop"]).trim(), "shut off");
    // The guest has no OS to answer ACPI: the 2 s timeout, then destroy.
    assert!(took >= Duration::from_secs(2), "{took:?}");
    assert!(took < Duration::from_secs(8), "{took:?}");
    let (code, out) = f.plan_exit_code();
    assert_eq!(code, 0, "{out}");
}

#[test]
fn restart_policy_on_config_change_restarts_the_guest() {
    require_daemon!();
    let restart = |mem: &str| {
        domain(
            "cv-restart",
            &format!(
                "  restartPolicy: onConfigChange\n  shutdownTimeout: 2s\n  memory: {mem}\n  vcpus: 1\n"
            ),
        )
    };
    let f = Fixture::new(&[("domains.yaml", &restart("64MiB"))]);
    f.apply_ok();
    let id_before = f.virsh(&["domid", "cv-restart"]).trim().to_string();

    // Beyond maxMemory (64 MiB): next-boot, so a restart.
    f.write("domains.yaml", &restart("96MiB"));
    let (raw, plan) = f.plan_json();
    assert_eq!(
        actions(&plan),
        vec![
            ("cv-restart".to_string(), "define".to_string()),
            ("cv-restart".to_string(), "restart".to_string()),
        ],
        "{raw}"
    );
    let changes = changes_of(&plan, "cv-restart");
    assert!(
        changes.contains(&ch("memory", "64MiB", "96MiB", "next-boot")),
        "{raw}"
    );
    assert!(
        changes.contains(&ch("maxMemory", "64MiB", "96MiB", "next-boot")),
        "{raw}"
    );
    let out = f.apply_ok();
    assert!(out.contains("converged: 1 objects in sync"), "{out}");

    assert_eq!(f.virsh(&["domstate", "cv-restart"]).trim(), "running");
    let id_after = f.virsh(&["domid", "cv-restart"]).trim().to_string();
    assert_ne!(id_before, id_after, "the guest was not restarted");
    // The running guest has the new memory (it booted with it).
    let live = f.virsh(&["dumpxml", "cv-restart"]);
    assert!(live.contains("<memory unit='KiB'>98304</memory>"), "{live}");
    let (code, out) = f.plan_exit_code();
    assert_eq!(code, 0, "{out}");
}

// ------------------------------------------------------- volumes, networks

/// Overlays and clones are created from their sources, a transient domain
/// is created (not defined), a DHCP host added to a running network is
/// applied live, and each step re-plans to nothing.
#[test]
fn overlays_clones_transient_domains_and_live_dhcp_hosts() {
    require_daemon!();
    let storage = r#"apiVersion: virtsync.io/v1alpha1
kind: StoragePool
metadata: {name: cv-pool}
spec: {type: dir, path: /var/lib/libvirt/images/cv-pool}
---
apiVersion: virtsync.io/v1alpha1
kind: Volume
metadata: {name: base.qcow2}
spec: {pool: cv-pool, capacity: 32MiB}
---
apiVersion: virtsync.io/v1alpha1
kind: Volume
metadata: {name: overlay.qcow2}
spec: {pool: cv-pool, capacity: 32MiB, backingStore: {name: base.qcow2}}
---
apiVersion: virtsync.io/v1alpha1
kind: Volume
metadata: {name: copy.qcow2}
spec: {pool: cv-pool, capacity: 32MiB, cloneFrom: {name: base.qcow2}}
"#;
    let network = |hosts: &str| {
        format!(
            "apiVersion: virtsync.io/v1alpha1\nkind: Network\nmetadata: {{name: cv-net}}\nspec:\n  forward: {{mode: nat}}\n  ipv4:\n    address: 10.123.0.1\n    prefix: 24\n    dhcp:\n      ranges: [{{start: 10.123.0.100, end: 10.123.0.200}}]\n      hosts: [{hosts}]\n"
        )
    };
    let transient = domain(
        "cv-transient",
        "  persistent: false\n  memory: 64MiB\n  vcpus: 1\n  shutdownTimeout: 1s\n  disks:\n    - volume: {pool: cv-pool, name: overlay.qcow2}\n",
    );
    let f = Fixture::new(&[
        ("storage.yaml", storage),
        (
            "network.yaml",
            &network("{mac: \"52:54:00:00:00:01\", ip: 10.123.0.11}"),
        ),
        ("transient.yaml", &transient),
    ]);
    f.apply_ok();
    let overlay = f.virsh(&["vol-dumpxml", "--pool", "cv-pool", "overlay.qcow2"]);
    assert!(
        overlay.contains("<backingStore>") && overlay.contains("base.qcow2"),
        "{overlay}"
    );
    assert!(f
        .virsh(&["vol-list", "--pool", "cv-pool"])
        .contains("copy.qcow2"));
    assert!(f
        .names(&["list", "--transient", "--name"])
        .contains("cv-transient"));
    assert_eq!(f.plan_exit_code().0, 0);

    // A second DHCP host: a live update of the running network, no define.
    f.write(
        "network.yaml",
        &network(
            "{mac: \"52:54:00:00:00:01\", ip: 10.123.0.11}, {name: cv-extra, ip: 10.123.0.12}",
        ),
    );
    let (_, plan) = f.plan_json();
    assert_eq!(
        actions(&plan),
        [("cv-net".to_string(), "update-dhcp-hosts".to_string())]
    );
    f.apply_ok();
    let live = f.virsh(&["net-dumpxml", "cv-net"]);
    assert!(live.contains("cv-extra"), "not live: {live}");
    let config = f.virsh(&["net-dumpxml", "--inactive", "cv-net"]);
    assert!(config.contains("cv-extra"), "not persistent: {config}");
    assert_eq!(f.plan_exit_code().0, 0);

    // Any change to a transient domain re-creates it.
    f.write(
        "transient.yaml",
        &transient.replace("memory: 64MiB", "memory: 80MiB"),
    );
    let (_, plan) = f.plan_json();
    let ops: Vec<String> = actions(&plan).into_iter().map(|(_, op)| op).collect();
    assert_eq!(ops, ["shutdown", "create"], "{plan:#}");
    f.apply_ok();
    assert!(f.virsh(&["dumpxml", "cv-transient"]).contains("81920"));
    assert_eq!(f.plan_exit_code().0, 0);
}

/// Growing the volume of a running guest goes through the guest's block
/// device (qemu holds a write lock on the image), and converges.
#[test]
fn growing_a_volume_in_use_by_a_running_guest() {
    require_daemon!();
    let storage = |cap: &str| {
        format!(
            "apiVersion: virtsync.io/v1alpha1\nkind: StoragePool\nmetadata: {{name: cv-pool}}\nspec: {{type: dir, path: /var/lib/libvirt/images/cv-pool}}\n---\napiVersion: virtsync.io/v1alpha1\nkind: Volume\nmetadata: {{name: grow.qcow2}}\nspec: {{pool: cv-pool, capacity: {cap}}}\n"
        )
    };
    let guest = domain(
        "cv-grow",
        "  memory: 64MiB\n  vcpus: 1\n  disks:\n    - volume: {pool: cv-pool, name: grow.qcow2}\n",
    );
    let f = Fixture::new(&[("storage.yaml", &storage("32MiB")), ("guest.yaml", &guest)]);
    f.apply_ok();
    assert!(f.names(&["list", "--name"]).contains("cv-grow"));
    f.write("storage.yaml", &storage("48MiB"));
    let (_, plan) = f.plan_json();
    assert_eq!(
        actions(&plan),
        [(
            "cv-pool/grow.qcow2".to_string(),
            "resize-volume".to_string()
        )]
    );
    f.apply_ok();
    let info = f.virsh(&["vol-info", "--bytes", "--pool", "cv-pool", "grow.qcow2"]);
    assert!(info.contains(&(48u64 << 20).to_string()), "{info}");
    assert_eq!(f.plan_exit_code().0, 0);
}

/// A NIC and a virtio disk added to a running guest are hot-plugged (the
/// live XML has them, with the same MAC as the persistent config); a NIC
/// removed again leaves the persistent config; each step re-plans to nothing.
#[test]
fn devices_added_to_a_running_guest_are_hot_plugged() {
    require_daemon!();
    let storage = "apiVersion: virtsync.io/v1alpha1\nkind: StoragePool\nmetadata: {name: cv-pool}\nspec: {type: dir, path: /var/lib/libvirt/images/cv-pool}\n---\napiVersion: virtsync.io/v1alpha1\nkind: Volume\nmetadata: {name: extra.qcow2}\nspec: {pool: cv-pool, capacity: 16MiB}\n";
    let network = "apiVersion: virtsync.io/v1alpha1\nkind: Network\nmetadata: {name: cv-net}\nspec:\n  forward: {mode: nat}\n  ipv4: {address: 10.124.0.1, prefix: 24}\n";
    let guest =
        |devices: &str| domain("cv-hot", &format!("  memory: 64MiB\n  vcpus: 1\n{devices}"));
    let one_nic = "  interfaces:\n    - network: cv-net\n      bootRom: false\n";
    let f = Fixture::new(&[
        ("storage.yaml", storage),
        ("network.yaml", network),
        ("guest.yaml", &guest(one_nic)),
    ]);
    f.apply_ok();
    let with_more = format!(
        "{one_nic}    - network: cv-net\n      bootRom: false\n  disks:\n    - volume: {{pool: cv-pool, name: extra.qcow2}}\n"
    );
    f.write("guest.yaml", &guest(&with_more));
    let (_, plan) = f.plan_json();
    let ops: Vec<String> = actions(&plan).into_iter().map(|(_, op)| op).collect();
    assert_eq!(ops, ["define", "update-live"], "{plan:#}");
    let out = f.apply_ok();
    assert!(!out.contains("restart pending"), "{out}");
    let live = f.virsh(&["dumpxml", "cv-hot"]);
    let config = f.virsh(&["dumpxml", "--inactive", "cv-hot"]);
    assert_eq!(live.matches("<interface").count(), 2, "{live}");
    assert!(live.contains("extra.qcow2"), "{live}");
    let macs = |x: &str| -> BTreeSet<String> {
        x.lines()
            .filter_map(|l| l.split("mac address='").nth(1))
            .map(|m| m[..17].to_string())
            .collect()
    };
    assert_eq!(macs(&live), macs(&config));
    assert_eq!(f.plan_exit_code().0, 0);

    // Removing the second NIC again: gone from the persistent config (the
    // guest without an OS may keep it until it restarts: best effort).
    f.write(
        "guest.yaml",
        &guest(&format!(
            "{one_nic}  disks:\n    - volume: {{pool: cv-pool, name: extra.qcow2}}\n"
        )),
    );
    f.apply_ok();
    let config = f.virsh(&["dumpxml", "--inactive", "cv-hot"]);
    assert_eq!(config.matches("<interface").count(), 1, "{config}");
    assert_eq!(f.plan_exit_code().0, 0);
}

/// Moving a domain to another host by `metadata.host` where a domain of
/// that name already exists is refused: a move never overwrites a domain.
/// (Moves themselves: migrate_daemon.)
#[test]
fn a_move_onto_a_domain_of_the_same_name_is_refused() {
    require_daemon!();
    let b = PrivateDaemon::start();
    let net = |name: &str, host: &str| {
        format!("apiVersion: virtsync.io/v1alpha1\nkind: Network\nmetadata: {{name: {name}{host}}}\nspec: {{active: false}}\n")
    };
    let hosts = format!("apiVersion: virtsync.io/v1alpha1\nkind: Host\nmetadata: {{name: hostb}}\nspec: {{uri: \"{}\"}}\n", b.uri);
    let guest = |moved: bool| {
        let d = domain("cv-mv", "  memory: 64MiB\n  vcpus: 1\n  state: shutoff\n");
        if moved {
            d.replace("  name: cv-mv\n", "  name: cv-mv\n  host: hostb\n")
        } else {
            d
        }
    };
    let f = Fixture::new(&[
        ("hosts.yaml", &hosts),
        ("na.yaml", &net("cv-na", "")),
        ("nb.yaml", &net("cv-nb", ", host: hostb")),
        ("guest.yaml", &guest(false)),
    ]);
    f.apply_ok();
    let xml = b.path().join("other.xml");
    std::fs::write(
        &xml,
        "<domain type='kvm'><name>cv-mv</name><memory>65536</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os></domain>",
    )
    .unwrap();
    b.virsh(&["define", &xml.to_string_lossy()]);
    f.write("guest.yaml", &guest(true));
    let out = f.run("plan", &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("a move never overwrites a domain"),
        "{}",
        text(&out)
    );
    // Nothing moved: the one on b is not ours, ours stays where it was.
    assert_eq!(b.virsh(&["list", "--all", "--name"]).trim(), "cv-mv");
    let out = f.run("apply", &["--yes"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
}

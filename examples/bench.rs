//! virtsync-bench: scale, latency and cost figures, side by side with a
//! naive loop of virsh commands, on throw-away private libvirt daemons.
//!
//! Prints a table (or `--output json`). Figures, not assertions: where a
//! target of docs/design.md is missed the table says by how much.
//!
//! Run from the repository: `scripts/bench.sh` (it builds `virtsync` and
//! this example in release mode first).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

// The throw-away daemon harness of the integration tests.
#[path = "../tests/common/mod.rs"]
mod common;

#[path = "bench/controller.rs"]
mod controller;

use common::PrivateDaemon as Daemon;
use virtsync::backend::ConnectOptions;
use virtsync::inventory::Inventory;
use virtsync::manifest::{self, LoadOptions};
use virtsync::owner::Owner;
use virtsync::plan::Scope;
use virtsync::reconcile::{Reconciler, Target};

const HEADER: &str = "apiVersion: virtsync.io/v1alpha1\n";

/// The virtsync binary of the same profile (examples live one level down).
fn virtsync_bin() -> PathBuf {
    let me = std::env::current_exe().expect("current exe");
    let profile_dir = me.parent().and_then(Path::parent).expect("target dir");
    profile_dir.join("virtsync")
}

/// RPCs logged since `log` was last truncated: (all, writes). Writes are
/// procedures outside the harness's list of reads; any in a converged apply
/// is a bug.
fn rpc_totals(log: &Path) -> (usize, usize) {
    let counts = common::rpc_counts(log);
    let writes = counts
        .iter()
        .filter(|(p, _)| !common::READ_PROCS.iter().any(|(r, _)| r == *p))
        .map(|(_, n)| n)
        .sum();
    (counts.values().sum(), writes)
}

/// CPU seconds used so far by all QEMU processes (the guests of the one
/// daemon running at the time): what the guests' own firmware costs.
fn guest_cpu_secs() -> f64 {
    let mut ticks = 0u64;
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // comm is in parentheses and may hold spaces: split after it.
        let Some((head, rest)) = stat.rsplit_once(") ") else {
            continue;
        };
        if !head.contains("qemu-system") {
            continue;
        }
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // utime and stime are fields 14 and 15 of stat, 12 and 13 after comm.
        let n = |i: usize| {
            fields
                .get(i)
                .and_then(|f| f.parse::<u64>().ok())
                .unwrap_or(0)
        };
        ticks += n(11) + n(12);
    }
    ticks as f64 / 100.0
}

fn tiny_domain(
    name: &str,
    state: &str,
    disk: Option<(&str, &str)>,
    network: Option<&str>,
) -> String {
    let mut s = format!(
        "---\n{HEADER}kind: Domain\nmetadata: {{name: {name}}}\nspec:\n  state: {state}\n  memory: 64MiB\n  vcpus: 1\n  boot: [hd]\n  xml:\n    - at: /domain/os\n      merge: \"<bios rebootTimeout='-1'/>\"\n"
    );
    if let Some((pool, vol)) = disk {
        let _ = write!(s, "  disks:\n    - volume: {{pool: {pool}, name: {vol}}}\n");
    }
    if let Some(n) = network {
        let _ = write!(
            s,
            "  interfaces:\n    - network: {n}\n      bootRom: false\n"
        );
    }
    s
}

fn write_manifests(dir: &Path, docs: &[String]) {
    std::fs::create_dir_all(dir).unwrap();
    // Several files, as a real repository would have.
    for (i, chunk) in docs.chunks(50).enumerate() {
        std::fs::write(dir.join(format!("m{i:03}.yaml")), chunk.concat()).unwrap();
    }
}

fn run(bin: &Path, args: &[&str]) -> (Duration, String, i32) {
    let t = Instant::now();
    let out = Command::new(bin)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run virtsync");
    (
        t.elapsed(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn sh(script: &str) -> Duration {
    let t = Instant::now();
    let st = Command::new("bash")
        .arg("-c")
        .arg(script)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("bash");
    if !st.success() {
        eprintln!("virsh loop failed: {script:.200}");
    }
    t.elapsed()
}

struct Row {
    scenario: String,
    virtsync: Duration,
    virsh: Option<Duration>,
    target: Option<Duration>,
    note: String,
}

fn fmt_d(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{:.1} ms", d.as_secs_f64() * 1000.0)
    } else {
        format!("{:.2} s", d.as_secs_f64())
    }
}

/// Cold plan: objects created by virtsync itself, then a fresh `plan`
/// process (connect included) and the same in-process.
fn cold_plan(
    rows: &mut Vec<Row>,
    json: &mut BTreeMap<String, serde_json::Value>,
    domains: usize,
    networks: usize,
    pools: usize,
    target: Option<Duration>,
) {
    let d = Daemon::start();
    let work = tempfile::tempdir().unwrap();
    let mdir = work.path().join("m");
    let state = work.path().join("state");
    let mut docs = Vec::new();
    for p in 0..pools {
        docs.push(format!("---\n{HEADER}kind: StoragePool\nmetadata: {{name: pool{p}}}\nspec: {{type: dir, path: /var/lib/libvirt/images/pool{p}}}\n"));
        for v in 0..5 {
            docs.push(format!("---\n{HEADER}kind: Volume\nmetadata: {{name: vol{p}-{v}.qcow2}}\nspec: {{pool: pool{p}, capacity: 16MiB}}\n"));
        }
    }
    for n in 0..networks {
        docs.push(format!(
            "---\n{HEADER}kind: Network\nmetadata: {{name: net{n}}}\nspec:\n  active: false\n  forward: {{mode: nat}}\n  ipv4: {{address: 10.{}.{}.1, prefix: 24}}\n",
            100 + n / 200,
            n % 200
        ));
    }
    for i in 0..domains {
        docs.push(tiny_domain(&format!("vm{i:04}"), "shutoff", None, None));
    }
    write_manifests(&mdir, &docs);
    let bin = virtsync_bin();
    let (t_create, out, code) = run(
        &bin,
        &[
            "apply",
            mdir.to_str().unwrap(),
            "--connect",
            &d.uri,
            "--yes",
            "--state-dir",
            state.to_str().unwrap(),
            "--parallel",
            "4",
        ],
    );
    assert_eq!(code, 0, "creating the objects failed:\n{out}");
    let label = format!(
        "cold plan: {domains} domains, {networks} networks, {pools} pools ({} volumes)",
        pools * 5
    );
    let times: Vec<Duration> = (0..5)
        .map(|_| {
            run(
                &bin,
                &[
                    "plan",
                    mdir.to_str().unwrap(),
                    "--connect",
                    &d.uri,
                    "--state-dir",
                    state.to_str().unwrap(),
                    "--exit-code",
                ],
            )
        })
        .map(|(t, out, code)| {
            assert_eq!(code, 0, "plan after apply is not empty:\n{out}");
            t
        })
        .collect();
    let fresh = median(times);
    // In-process: connect + observe + plan, no process start-up.
    let (desired, _) = manifest::load_dir(&mdir, &LoadOptions::default()).expect("manifests");
    let inv = Inventory::load(&state).unwrap();
    // The owner the commands above derived for this directory.
    let owner = Owner::discover(&mdir, None).expect("owner");
    let scope = Scope::new(owner.as_str(), &desired);
    let mut calls = 0;
    let mut observe_times = Vec::new();
    let inproc = median(
        (0..5)
            .map(|_| {
                // Observe alone (its per-object reads run concurrently),
                // on a connection of its own so the pass below is cold too.
                let o = Reconciler::connect(&desired, &d.uri, ConnectOptions::default());
                let t_obs = Instant::now();
                let _ = o.observe(&desired);
                observe_times.push(t_obs.elapsed());
                drop(o);
                let t = Instant::now();
                let r = Reconciler::connect(&desired, &d.uri, ConnectOptions::default());
                let planned = r.plan(&Target {
                    desired: &desired,
                    inventory: &inv,
                    revision: "",
                    adopt: false,
                    scope: &scope,
                });
                assert!(planned.converged());
                calls = r.total_calls();
                t.elapsed()
            })
            .collect(),
    );
    let observe = median(observe_times);
    // The virsh loop's equivalent: check each object exists and is as wanted.
    let mut script = String::new();
    let _ = writeln!(script, "c='{}'", d.uri);
    for i in 0..domains {
        let _ = writeln!(script, "virsh -q -c \"$c\" domstate vm{i:04} >/dev/null");
    }
    for n in 0..networks {
        let _ = writeln!(script, "virsh -q -c \"$c\" net-info net{n} >/dev/null");
    }
    for p in 0..pools {
        let _ = writeln!(script, "virsh -q -c \"$c\" pool-info pool{p} >/dev/null");
    }
    let virsh = sh(&script);
    rows.push(Row {
        scenario: format!("{label}, fresh process"),
        virtsync: fresh,
        virsh: Some(virsh),
        target,
        note: format!("objects created in {}", fmt_d(t_create)),
    });
    rows.push(Row {
        scenario: format!("{label}, in-process"),
        virtsync: inproc,
        virsh: None,
        target,
        note: format!(
            "{calls} libvirt calls; observe alone {} ({} reads in flight)",
            fmt_d(observe),
            virtsync::observe::READERS
        ),
    });
    json.insert(
        format!("coldPlan{domains}"),
        serde_json::json!({"freshProcessMs": fresh.as_millis(), "inProcessMs": inproc.as_millis(), "calls": calls, "observeMs": observe.as_millis(), "virshCheckMs": virsh.as_millis(), "createMs": t_create.as_millis()}),
    );
}

fn guests_manifests(dir: &Path, n: usize) {
    let mut docs = vec![
        format!("---\n{HEADER}kind: Network\nmetadata: {{name: benchnet}}\nspec:\n  forward: {{mode: nat}}\n  ipv4: {{address: 10.99.0.1, prefix: 24}}\n"),
        format!("---\n{HEADER}kind: StoragePool\nmetadata: {{name: benchpool}}\nspec: {{type: dir, path: /var/lib/libvirt/images/benchpool}}\n"),
    ];
    for i in 0..n {
        docs.push(format!("---\n{HEADER}kind: Volume\nmetadata: {{name: g{i:02}.qcow2}}\nspec: {{pool: benchpool, capacity: 16MiB}}\n"));
        docs.push(tiny_domain(
            &format!("g{i:02}"),
            "running",
            Some(("benchpool", &format!("g{i:02}.qcow2"))),
            Some("benchnet"),
        ));
    }
    write_manifests(dir, &docs);
}

fn main() {
    let json_out = std::env::args().any(|a| a == "json" || a == "--output=json");
    let n = 50;
    let mut rows = Vec::new();
    let mut json = BTreeMap::new();
    let started = Instant::now();
    // `bench controller`: the controller's figures only.
    let only_controller = std::env::args().any(|a| a == "controller");
    if only_controller {
        eprintln!("virtsync-bench: the controller ...");
        controller::controller(&mut rows, &mut json);
        report(&rows, &json, json_out, started);
        return;
    }
    // `bench plan`: the cold plan figures only.
    let only_plan = std::env::args().any(|a| a == "plan");
    eprintln!("virtsync-bench: cold plan at 100 domains ...");
    cold_plan(&mut rows, &mut json, 100, 0, 0, None);
    eprintln!("virtsync-bench: cold plan at 1000 domains + 50 networks + 20 pools ...");
    cold_plan(
        &mut rows,
        &mut json,
        1000,
        50,
        20,
        Some(Duration::from_secs(1)),
    );
    if only_plan {
        report(&rows, &json, json_out, started);
        return;
    }

    let bin = virtsync_bin();
    let mut cold = BTreeMap::new();
    for parallel in [1usize, 4] {
        eprintln!("virtsync-bench: cold apply of {n} guests, --parallel {parallel} ...");
        let d = Daemon::start();
        let work = tempfile::tempdir().unwrap();
        let mdir = work.path().join("m");
        guests_manifests(&mdir, n);
        let state = work.path().join("state");
        let (t, out, code) = run(
            &bin,
            &[
                "apply",
                mdir.to_str().unwrap(),
                "--connect",
                &d.uri,
                "--yes",
                "--state-dir",
                state.to_str().unwrap(),
                "--parallel",
                &parallel.to_string(),
            ],
        );
        assert_eq!(code, 0, "cold apply failed:\n{out}");
        cold.insert(parallel, (t, guest_cpu_secs()));
        if parallel == 4 {
            // Converged re-apply on the same host.
            let log = d.log_rpcs();
            let mut times = Vec::new();
            let mut rpcs = 0;
            let mut writes = 0;
            let mut calls = serde_json::Value::Null;
            for _ in 0..5 {
                std::fs::write(&log, "").unwrap();
                let (t, out, code) = run(
                    &bin,
                    &[
                        "apply",
                        mdir.to_str().unwrap(),
                        "--connect",
                        &d.uri,
                        "--state-dir",
                        state.to_str().unwrap(),
                        "--output",
                        "json",
                    ],
                );
                assert_eq!(code, 0, "converged apply failed:\n{out}");
                std::thread::sleep(Duration::from_millis(100));
                times.push(t);
                (rpcs, writes) = rpc_totals(&log);
                calls = serde_json::from_str::<serde_json::Value>(&out)
                    .map(|v| v["calls"].clone())
                    .unwrap_or_default();
            }
            let objects = 2 + 2 * n;
            let conv = median(times);
            let mut script = format!("c='{}'\nvirsh -q -c \"$c\" net-info benchnet >/dev/null\nvirsh -q -c \"$c\" pool-info benchpool >/dev/null\n", d.uri);
            for i in 0..n {
                let _ = writeln!(
                    script,
                    "virsh -q -c \"$c\" domstate g{i:02} | grep -q running"
                );
                let _ = writeln!(
                    script,
                    "virsh -q -c \"$c\" vol-info --pool benchpool g{i:02}.qcow2 >/dev/null"
                );
            }
            let virsh = sh(&script);
            rows.push(Row {
                scenario: format!(
                    "converged apply, {n} running guests + {n} volumes + 1 network + 1 pool"
                ),
                virtsync: conv,
                virsh: Some(virsh),
                target: Some(Duration::from_millis(100)),
                note: format!(
                    "{rpcs} RPCs on the daemon ({} allowed = N + 15), {writes} writes",
                    objects + 15
                ),
            });
            json.insert("convergedApply".into(), serde_json::json!({"ms": conv.as_millis(), "daemonRpcs": rpcs, "writes": writes, "objects": objects, "backendCalls": calls, "virshCheckMs": virsh.as_millis()}));
        }
    }
    // The same cold convergence by a virsh loop.
    eprintln!("virtsync-bench: cold convergence of {n} guests by a virsh loop ...");
    let virsh_cold = {
        let d = Daemon::start();
        let work = tempfile::tempdir().unwrap();
        let mut script = format!(
            "set -e\nc='{}'\ncat > {w}/net.xml <<'X'\n<network><name>benchnet</name><forward mode='nat'/><ip address='10.99.0.1' prefix='24'/></network>\nX\nvirsh -q -c \"$c\" net-define {w}/net.xml\nvirsh -q -c \"$c\" net-start benchnet\nvirsh -q -c \"$c\" pool-define-as benchpool dir --target /var/lib/libvirt/images/benchpool\nvirsh -q -c \"$c\" pool-build benchpool\nvirsh -q -c \"$c\" pool-start benchpool\n",
            d.uri,
            w = work.path().display()
        );
        for i in 0..n {
            let _ = write!(
                script,
                "virsh -q -c \"$c\" vol-create-as benchpool g{i:02}.qcow2 16M --format qcow2\ncat > {w}/g{i:02}.xml <<'X'\n<domain type='kvm'><name>g{i:02}</name><memory unit='MiB'>64</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type><boot dev='hd'/><bios rebootTimeout='-1'/></os><features><acpi/></features><devices><disk type='volume' device='disk'><driver name='qemu' type='qcow2'/><source pool='benchpool' volume='g{i:02}.qcow2'/><target dev='vda' bus='virtio'/></disk><interface type='network'><source network='benchnet'/><model type='virtio'/><rom enabled='no'/></interface></devices></domain>\nX\nvirsh -q -c \"$c\" define {w}/g{i:02}.xml\nvirsh -q -c \"$c\" start g{i:02}\n",
                w = work.path().display()
            );
        }
        let t = sh(&script);
        (t, guest_cpu_secs())
    };
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1) as f64;
    let guests_note = |(t, cpu): (Duration, f64)| {
        format!(
            "guests' firmware used {cpu:.0} CPU-s meanwhile ({:.0}% of the host's {cpus} cores)",
            100.0 * cpu / (t.as_secs_f64() * cpus)
        )
    };
    let ((p1, p1cpu), (p4, p4cpu)) = (cold[&1], cold[&4]);
    let (virsh_cold, virsh_cpu) = virsh_cold;
    rows.push(Row {
        scenario: format!("cold apply, {n} running guests, --parallel 1"),
        virtsync: p1,
        virsh: Some(virsh_cold),
        target: Some(Duration::from_secs(10)),
        note: format!(
            "{}; virsh loop: {}",
            guests_note((p1, p1cpu)),
            guests_note((virsh_cold, virsh_cpu))
        ),
    });
    rows.push(Row {
        scenario: format!("cold apply, {n} running guests, --parallel 4 (default)"),
        virtsync: p4,
        virsh: Some(virsh_cold),
        target: Some(Duration::from_secs(10)),
        note: format!(
            "{:.2}x faster than --parallel 1; {}",
            p1.as_secs_f64() / p4.as_secs_f64(),
            guests_note((p4, p4cpu))
        ),
    });
    json.insert(
        "coldApply".into(),
        serde_json::json!({"parallel1Ms": p1.as_millis(), "parallel4Ms": p4.as_millis(), "virshLoopMs": virsh_cold.as_millis(),
            "guestCpuSecs": {"parallel1": p1cpu, "parallel4": p4cpu, "virshLoop": virsh_cpu}}),
    );

    eprintln!("virtsync-bench: the controller ...");
    controller::controller(&mut rows, &mut json);
    report(&rows, &json, json_out, started);
}

/// Print the table (or the JSON).
fn report(
    rows: &[Row],
    json: &BTreeMap<String, serde_json::Value>,
    json_out: bool,
    started: Instant,
) {
    if json_out {
        println!("{}", serde_json::to_string_pretty(json).unwrap());
        return;
    }
    let host = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_default();
    println!(
        "virtsync-bench on {} cores ({host}), {} total\n",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        fmt_d(started.elapsed())
    );
    println!("| scenario | virtsync | virsh loop | virtsync / virsh | target | notes |");
    println!("|---|---|---|---|---|---|");
    for r in rows {
        let virsh = r.virsh.map(fmt_d).unwrap_or_else(|| "-".into());
        let ratio = r
            .virsh
            .map(|v| format!("{:.2}", r.virtsync.as_secs_f64() / v.as_secs_f64()))
            .unwrap_or_else(|| "-".into());
        let target = match r.target {
            Some(t) if r.virtsync <= t => format!("≤ {} ✓", fmt_d(t)),
            Some(t) => format!(
                "≤ {} ✗ ({:.1}x over)",
                fmt_d(t),
                r.virtsync.as_secs_f64() / t.as_secs_f64()
            ),
            None => "-".into(),
        };
        println!(
            "| {} | {} | {virsh} | {ratio} | {target} | {} |",
            r.scenario,
            fmt_d(r.virtsync),
            r.note
        );
    }
}

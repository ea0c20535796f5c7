//! The controller's figures (`virtsync run` on a private daemon): manifest
//! edit → change applied, `virsh destroy` → guest running again (both p50
//! of 10), and idle at 1000 manifests: RSS, CPU over 10 s, libvirt writes.

use super::*;

/// Poll `f` every 5 ms until it holds (at most 20 s); the time it took.
fn until(f: impl Fn() -> bool) -> Duration {
    let t = Instant::now();
    while !f() {
        assert!(t.elapsed() < Duration::from_secs(20), "timed out");
        std::thread::sleep(Duration::from_millis(5));
    }
    t.elapsed()
}

fn virsh_out(uri: &str, args: &[&str]) -> String {
    Command::new("virsh")
        .args(["-q", "-c", uri])
        .args(args)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

/// `virtsync run DIR` against `uri`; killed on drop.
struct Run(std::process::Child);

impl Drop for Run {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_run(dir: &Path, uri: &str, state: &Path) -> Run {
    Run(Command::new(virtsync_bin())
        .args(["run", &dir.to_string_lossy(), "--connect", uri])
        .args(["--state-dir", &state.to_string_lossy(), "--resync", "1h"])
        .env("VIRTSYNC_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start virtsync run"))
}

/// (RSS in KiB, CPU seconds used so far) of a process.
fn usage(pid: u32) -> (u64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rss = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces).
    let rest: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, r)| r.split_whitespace().collect())
        .unwrap_or_default();
    let ticks: f64 = rest.get(11..13).map_or(0.0, |f| {
        f.iter().filter_map(|v| v.parse::<f64>().ok()).sum()
    });
    (rss, ticks / 100.0)
}

pub fn controller(rows: &mut Vec<Row>, json: &mut BTreeMap<String, serde_json::Value>) {
    let n = 10;
    let d = Daemon::start();
    let work = tempfile::tempdir().unwrap();
    let (dir, state) = (work.path().join("m"), work.path().join("state"));
    std::fs::create_dir_all(&dir).unwrap();
    let guest = |i: usize, mem: u32| {
        tiny_domain(&format!("c{i:02}"), "running", None, None)
            .replace("memory: 64MiB", &format!("memory: {mem}MiB"))
    };
    for i in 0..n {
        std::fs::write(dir.join(format!("c{i:02}.yaml")), guest(i, 64)).unwrap();
    }
    let run = start_run(&dir, &d.uri, &state);
    let running = |name: &str| virsh_out(&d.uri, &["domstate", name]).trim() == "running";
    until(|| (0..n).all(|i| running(&format!("c{i:02}"))));
    // Edit → applied: each guest's memory in its own file.
    let mut edits = Vec::new();
    for i in 0..n {
        let name = format!("c{i:02}");
        std::fs::write(dir.join(format!("{name}.yaml")), guest(i, 80)).unwrap();
        edits.push(until(|| {
            virsh_out(&d.uri, &["dumpxml", "--inactive", &name])
                .contains("<currentMemory unit='KiB'>81920</currentMemory>")
        }));
        std::thread::sleep(Duration::from_millis(200));
    }
    // Drift → repaired: a guest destroyed by hand.
    let mut drifts = Vec::new();
    for i in 0..n {
        let name = format!("c{i:02}");
        virsh_out(&d.uri, &["destroy", &name]);
        drifts.push(until(|| running(&name)));
        std::thread::sleep(Duration::from_millis(200));
    }
    drop(run);
    let (edit, drift) = (median(edits), median(drifts));
    rows.push(Row {
        scenario: format!("run: manifest edit → change applied (p50 of {n})"),
        virtsync: edit,
        virsh: None,
        target: Some(Duration::from_millis(250)),
        note: "file write to the define visible on the daemon (debounce 100 ms included)".into(),
    });
    rows.push(Row {
        scenario: format!("run: virsh destroy → running again (p50 of {n})"),
        virtsync: drift,
        virsh: None,
        target: Some(Duration::from_secs(1)),
        note: "libvirt event → pass → start".into(),
    });

    // Idle at 1000 manifests (shut-off guests, defined by a first pass).
    let big = work.path().join("big");
    let docs: Vec<String> = (0..1000)
        .map(|i| tiny_domain(&format!("i{i:04}"), "shutoff", None, None))
        .collect();
    write_manifests(&big, &docs);
    let state = work.path().join("state-big");
    let (t, out, code) = run_cmd(&big, &d.uri, &state);
    assert_eq!(code, 0, "defining 1000 domains failed:\n{out}");
    let run = start_run(&big, &d.uri, &state);
    let pid = run.0.id();
    // Converged: its status file says so.
    until(|| {
        std::fs::read_to_string(state.join("controller-status.json"))
            .is_ok_and(|s| s.contains("\"converged\": true"))
    });
    let log = d.log_rpcs();
    std::fs::write(&log, "").unwrap();
    let (_, cpu0) = usage(pid);
    std::thread::sleep(Duration::from_secs(10));
    let (rss, cpu1) = usage(pid);
    let (rpcs, writes) = rpc_totals(&log);
    drop(run);
    rows.push(Row {
        scenario: "run: idle at 1000 manifests, 10 s".into(),
        virtsync: Duration::from_secs_f64(cpu1 - cpu0),
        virsh: None,
        target: None,
        note: format!(
            "CPU time used while idle (shown as the time); RSS {} MiB (target ≤ 64 MiB); {rpcs} RPCs, {writes} writes while idle; 1000 domains defined in {}",
            rss / 1024,
            fmt_d(t)
        ),
    });
    json.insert(
        "controller".into(),
        serde_json::json!({"editToApplyP50Ms": edit.as_millis(), "destroyToRunningP50Ms": drift.as_millis(),
            "idle1000": {"rssKib": rss, "cpuSecsPer10s": cpu1 - cpu0, "rpcs": rpcs, "writes": writes}}),
    );
}

/// `virtsync apply DIR --yes` (release binary).
fn run_cmd(dir: &Path, uri: &str, state: &Path) -> (Duration, String, i32) {
    run(
        &virtsync_bin(),
        &[
            "apply",
            &dir.to_string_lossy(),
            "--connect",
            uri,
            "--yes",
            "--state-dir",
            &state.to_string_lossy(),
        ],
    )
}

//! `virtsync run` on a real, private libvirtd, as an operator runs it: a
//! manifest edit converges with no other command; `virsh destroy` of a
//! managed guest is repaired at the libvirt event, not at the next resync
//! (which is an hour away here); an invalid file changes and deletes
//! nothing and is reported in the status file until fixed; SIGTERM exits 0.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{halted_domain, manifest_dir, wait_for, PrivateDaemon, RunProcess};

fn guest(memory: &str) -> String {
    halted_domain(
        "run-vm",
        &format!("  state: running\n  memory: {memory}\n  vcpus: 1\n  shutdownTimeout: 1s\n"),
    )
}

/// `virtsync run DIR` against `d`, and its log.
fn start_run(d: &PrivateDaemon, dir: &Path, state: &Path) -> (RunProcess, PathBuf) {
    let run = RunProcess::start(&d.uri, dir, state, &[]);
    let log = run.log.clone();
    (run, log)
}

/// Whether the test guest runs.
fn running(d: &PrivateDaemon) -> bool {
    Command::new("virsh")
        .args(["-q", "-c", &d.uri, "domstate", "run-vm"])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "running")
}

#[test]
fn run_keeps_the_host_converged() {
    require_daemon!();
    let d = PrivateDaemon::start();
    let state = tempfile::tempdir().unwrap();
    let dir = manifest_dir(&[("guest.yaml", &guest("64MiB"))]);
    let (mut run, log) = start_run(&d, dir.path(), state.path());
    let logs = || std::fs::read_to_string(&log).unwrap_or_default();
    let running = || running(&d);
    let memory = || {
        Command::new("virsh")
            .args(["-q", "-c", &d.uri, "dumpxml", "--inactive", "run-vm"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    };
    wait_for(Duration::from_secs(30), "first convergence", running);

    // An edit converges by itself.
    std::fs::write(dir.path().join("guest.yaml"), guest("96MiB")).unwrap();
    let took = wait_for(Duration::from_secs(10), "the edit applied", || {
        memory().contains("<memory unit='KiB'>98304</memory>")
    });
    eprintln!("manifest edit → applied: {took:?}");

    // Destroyed by hand: started again at the event.
    d.virsh(&["destroy", "run-vm"]);
    let took = wait_for(Duration::from_secs(10), "restarted after destroy", running);
    eprintln!("virsh destroy → running again: {took:?}");

    // An invalid file: nothing deleted or changed, the error reported.
    std::fs::write(
        dir.path().join("guest.yaml"),
        "kind: Domain\nmetadata: {name: run-vm\n",
    )
    .unwrap();
    let status = state.path().join("controller-status.json");
    wait_for(
        Duration::from_secs(10),
        "the error in the status file",
        || std::fs::read_to_string(&status).is_ok_and(|s| s.contains("guest.yaml:")),
    );
    assert!(running(), "{}", logs());
    assert!(memory().contains("98304"));
    // Fixed: converges again, the error gone.
    std::fs::write(dir.path().join("guest.yaml"), guest("80MiB")).unwrap();
    wait_for(Duration::from_secs(10), "the fix applied", || {
        memory().contains("<currentMemory unit='KiB'>81920</currentMemory>")
    });
    wait_for(Duration::from_secs(10), "the error cleared", || {
        std::fs::read_to_string(&status).is_ok_and(|s| s.contains("\"manifestErrors\": []"))
    });

    // `status` shows what the controller did last.
    let out = d.virtsync("status", dir.path(), state.path(), &[]);
    let text = common::output_text(&out);
    assert!(text.contains("Controller (virtsync run, pid"), "{text}");
    assert!(text.contains("converged"), "{text}");

    // SIGTERM: exit 0, promptly.
    let pid = run.child.id().to_string();
    let asked = Instant::now();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let code = loop {
        if let Some(s) = run.child.try_wait().unwrap() {
            break s;
        }
        assert!(asked.elapsed() < Duration::from_secs(10), "{}", logs());
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(code.code(), Some(0), "{}", logs());
    assert!(logs().contains("stopped"), "{}", logs());
}

/// libvirtd stopped and started again while `run` runs: the controller
/// notices (the connection closes), dials again with backoff once the
/// daemon is back, and converges — the guest, gone with the old daemon, is
/// started again; no crash, and the process is still running afterwards.
#[test]
fn run_reconnects_after_libvirtd_restarts() {
    require_daemon!();
    let d = PrivateDaemon::start();
    let state = tempfile::tempdir().unwrap();
    let dir = manifest_dir(&[("guest.yaml", &guest("64MiB"))]);
    let (mut run, log) = start_run(&d, dir.path(), state.path());
    let logs = || std::fs::read_to_string(&log).unwrap_or_default();
    let running = || running(&d);
    wait_for(Duration::from_secs(30), "first convergence", running);
    d.restart(Duration::from_secs(2));
    wait_for(
        Duration::from_secs(30),
        "converged after the restart",
        running,
    );
    // The guest may have outlived the daemon; what proves the new
    // connection (and its event registration) is a drift repaired on it.
    let status = state.path().join("controller-status.json");
    wait_for(
        Duration::from_secs(30),
        "a converged pass after the restart",
        || {
            std::fs::read_to_string(&status).is_ok_and(|s| s.contains("\"converged\": true"))
                && logs().contains("not converged")
        },
    );
    d.virsh(&["destroy", "run-vm"]);
    let took = wait_for(
        Duration::from_secs(15),
        "repaired on the new connection",
        running,
    );
    eprintln!("destroy after the restart → running again: {took:?}");
    assert!(
        run.child.try_wait().unwrap().is_none(),
        "run exited:\n{}",
        logs()
    );
}

//! Test harness: a throw-away private libvirtd per test (scripts/private-libvirtd),
//! always stopped when the test ends, even on panic.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A private libvirtd whose whole state lives in a temporary directory.
pub struct PrivateDaemon {
    pub dir: tempfile::TempDir,
    pub uri: String,
}

impl PrivateDaemon {
    /// Start a daemon in a fresh directory. Panics with the daemon's own
    /// message when it cannot start (not root, libvirtd missing: run
    /// scripts/setup.sh as root).
    pub fn start() -> PrivateDaemon {
        let dir = tempfile::Builder::new()
            .prefix("virtsync-test-libvirtd-")
            .tempdir()
            .expect("temp dir");
        let out = Command::new(repo_root().join("scripts/private-libvirtd"))
            .arg("start")
            .arg(dir.path())
            .output()
            .expect("run scripts/private-libvirtd");
        assert!(
            out.status.success(),
            "cannot start a private libvirtd (run scripts/setup.sh as root first): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let uri = String::from_utf8_lossy(&out.stdout).trim().to_string();
        PrivateDaemon { dir, uri }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Run virsh against this daemon; returns stdout.
    pub fn virsh(&self, args: &[&str]) -> String {
        let out = Command::new("virsh")
            .arg("-q")
            .arg("-c")
            .arg(&self.uri)
            .args(args)
            .output()
            .expect("run virsh");
        assert!(
            out.status.success(),
            "virsh {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Make the daemon log every RPC it dispatches to `rpc.log` in its dir.
    pub fn log_rpcs(&self) -> PathBuf {
        let admin = format!(
            "libvirtd:///system?socket={}/sock/libvirt-admin-sock",
            self.path().display()
        );
        let log = self.path().join("log/rpc.log");
        for args in [
            vec!["daemon-log-filters", "1:rpc.netserverprogram"],
            vec!["daemon-log-outputs", &format!("1:file:{}", log.display())],
        ] {
            let st = Command::new("virt-admin")
                .arg("-c")
                .arg(&admin)
                .args(&args)
                .status()
                .expect("run virt-admin");
            assert!(st.success(), "virt-admin {args:?} failed");
        }
        log
    }
}

impl Drop for PrivateDaemon {
    fn drop(&mut self) {
        let _ = Command::new(repo_root().join("scripts/private-libvirtd"))
            .arg("stop")
            .arg(self.dir.path())
            .status();
    }
}

/// RPCs dispatched since the log was last truncated, by procedure number.
pub fn rpc_counts(log: &Path) -> std::collections::BTreeMap<u32, usize> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let mut out = std::collections::BTreeMap::new();
    for line in text.lines() {
        if let Some(p) = line.split("proc=").nth(1) {
            if let Ok(n) = p.trim().parse::<u32>() {
                *out.entry(n).or_default() += 1;
            }
        }
    }
    out
}

/// Write `files` (relative path, content) under a new temp dir.
pub fn manifest_dir(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for (rel, content) in files {
        let p = dir.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }
    dir
}

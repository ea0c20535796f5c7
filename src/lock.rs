//! One writer per host: an exclusive lock per host identity, so that two
//! `apply` runs (and later the controller) never change one host at once.
//!
//! The lock is `flock(2)` on `STATE_DIR/locks/<host identity>.lock`,
//! through the `fs4` crate: the kernel releases it when the holder's file
//! is closed, which includes the holder dying (`kill -9`), so a lock is
//! never left stale. The holder writes who it is into the file (pid,
//! command line, since when); another process that finds the lock taken
//! reads that to say whom it waits for, waits, and gives up after its
//! timeout. Keyed by the host's identity, not its URI: two spellings of
//! one host's URI take the same lock. `plan` and `status` take no lock.

use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};

use crate::model::HostId;

/// How often a waiting process tries the lock again.
const POLL: Duration = Duration::from_millis(100);

/// Who holds a host's lock, as written into its lock file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Holder {
    pub pid: u32,
    /// The holder's command line.
    pub command: String,
    /// When it took the lock (RFC 3339, UTC).
    pub since: String,
    /// The URI it reached the host at.
    pub uri: String,
}

impl Holder {
    fn me(uri: &str) -> Holder {
        Holder {
            pid: std::process::id(),
            command: std::env::args().collect::<Vec<_>>().join(" "),
            since: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
            uri: uri.to_string(),
        }
    }
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "pid {} (`{}`) since {}",
            self.pid, self.command, self.since
        )
    }
}

/// Whom a waiting process waits for: the holder, if it wrote itself down
/// yet.
fn holder_text(h: &Option<Holder>) -> String {
    match h {
        Some(h) => h.to_string(),
        None => "another process (it has not written its details yet)".into(),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("cannot use lock file {}: {source} (set --state-dir to a writable directory)", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("host {uri} is being changed by another virtsync: {holder}; gave up waiting after {waited} (raise --lock-timeout, or stop that process)")]
    Timeout {
        uri: String,
        holder: String,
        waited: humantime::Duration,
    },
}

/// A held host lock; released when dropped (or when the process dies).
#[derive(Debug)]
pub struct HostLock {
    /// Kept open: closing it releases the lock.
    _file: std::fs::File,
    pub id: HostId,
    pub path: PathBuf,
}

/// The lock file of host `id` under `state_dir`.
pub fn lock_path(state_dir: &Path, id: &HostId) -> PathBuf {
    state_dir
        .join("locks")
        .join(format!("{}.lock", id.file_stem()))
}

/// Who holds the lock of `id` now, if anyone wrote it down (a finished
/// holder's details stay in the file: only a held lock means anything).
pub fn read_holder(path: &Path) -> Option<Holder> {
    let text = std::fs::read_to_string(path).ok()?;
    serde_json::from_str(&text).ok()
}

/// Take the lock of host `id` (reached at `uri`), waiting up to `timeout`
/// while another process holds it; `on_wait` is told once whom it waits
/// for.
pub fn lock_host(
    state_dir: &Path,
    id: &HostId,
    uri: &str,
    timeout: Duration,
    on_wait: &mut dyn FnMut(&str),
) -> Result<HostLock, LockError> {
    let path = lock_path(state_dir, id);
    let io = |source| LockError::Io {
        path: path.clone(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(io)?;
    let start = Instant::now();
    let mut told = false;
    loop {
        match fs4::FileExt::try_lock(&file) {
            Ok(()) => break,
            Err(fs4::TryLockError::WouldBlock) => {}
            Err(fs4::TryLockError::Error(e)) => return Err(io(e)),
        }
        let holder = holder_text(&read_holder_of(&mut file));
        if start.elapsed() >= timeout {
            return Err(LockError::Timeout {
                uri: uri.to_string(),
                holder,
                waited: humantime::Duration::from(Duration::from_secs(start.elapsed().as_secs())),
            });
        }
        if !told {
            on_wait(&format!(
                "waiting for host {uri}: another virtsync is changing it: {holder} (giving up after {})",
                humantime::format_duration(timeout)
            ));
            told = true;
        }
        std::thread::sleep(
            POLL.min(timeout.saturating_sub(start.elapsed()))
                .max(Duration::from_millis(1)),
        );
    }
    // Ours: say who holds it, for whoever waits next.
    let me = serde_json::to_vec(&Holder::me(uri)).expect("holder serializes");
    let write = |f: &mut std::fs::File| -> std::io::Result<()> {
        f.set_len(0)?;
        f.rewind()?;
        // Informational only (the lock is the flock): no fsync.
        f.write_all(&me)
    };
    write(&mut file).map_err(io)?;
    Ok(HostLock {
        _file: file,
        id: id.clone(),
        path,
    })
}

/// The holder written in an open lock file.
fn read_holder_of(f: &mut std::fs::File) -> Option<Holder> {
    let mut text = String::new();
    f.rewind().ok()?;
    f.read_to_string(&mut text).ok()?;
    serde_json::from_str(&text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_taker_waits_names_the_holder_and_gives_up_after_its_timeout() {
        let dir = tempfile::tempdir().unwrap();
        let id = HostId::from("6d1f0c1e-5b8e-4f5e-9a55-0f4c7c1f2a10");
        let held = lock_host(
            dir.path(),
            &id,
            "qemu:///system",
            Duration::ZERO,
            &mut |_| panic!("a free lock is taken at once"),
        )
        .unwrap();
        let holder = read_holder(&held.path).expect("the holder wrote itself down");
        assert_eq!(holder.pid, std::process::id());
        let mut told = Vec::new();
        let t = Instant::now();
        let e = lock_host(
            dir.path(),
            &id,
            "qemu:///system",
            Duration::from_millis(300),
            &mut |m| told.push(m.to_string()),
        )
        .unwrap_err();
        assert!(t.elapsed() >= Duration::from_millis(300));
        let pid = format!("pid {}", std::process::id());
        assert!(matches!(e, LockError::Timeout { .. }), "{e}");
        assert!(e.to_string().contains(&pid), "{e}");
        assert_eq!(told.len(), 1, "{told:?}");
        assert!(told[0].contains(&pid), "{told:?}");
        // Released on drop: the next taker gets it at once.
        drop(held);
        lock_host(
            dir.path(),
            &id,
            "qemu:///system",
            Duration::ZERO,
            &mut |_| panic!("a released lock is free"),
        )
        .unwrap();
    }

    #[test]
    fn a_waiting_taker_gets_the_lock_once_it_is_released() {
        let dir = tempfile::tempdir().unwrap();
        let id = HostId::from("uri:test:///default");
        let held = lock_host(
            dir.path(),
            &id,
            "test:///default",
            Duration::ZERO,
            &mut |_| {},
        )
        .unwrap();
        let releaser = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            drop(held);
        });
        let mut waited = false;
        let t = Instant::now();
        lock_host(
            dir.path(),
            &id,
            "test:///default",
            Duration::from_secs(10),
            &mut |_| waited = true,
        )
        .unwrap();
        assert!(waited);
        assert!(t.elapsed() >= Duration::from_millis(250));
        releaser.join().unwrap();
    }
}

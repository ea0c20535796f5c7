//! [`LibvirtHost`]: one connection to one host through the `virt` crate,
//! with keepalive (a dead or hung daemon fails calls within seconds
//! instead of blocking them forever), an open timeout, and a per-kind call
//! counter. It keeps the handles of its last listings, so reading the XML
//! of an object just listed costs one call and no lookup.

use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;
use std::sync::Mutex;
use std::time::Duration;

use virt::connect::Connect;
use virt::domain::{Domain, DomainState};
use virt::network::Network;
use virt::storage_pool::StoragePool;
use virt::storage_vol::StorageVol;
use virt::sys;

use super::*;

mod events;
mod probe;
mod read;
mod write;

pub use events::{HostEvent, Subscription};
pub use probe::{version_string, About, ConnectFailure};

pub(super) fn call_err(call: &'static str, object: &str, e: virt::error::Error) -> BackendError {
    let code = match e.code() {
        virt::enumutil::Enum::Known(k) => virt::enumutil::RawEnum::to_raw(k),
        virt::enumutil::Enum::Unknown(u) => u,
    };
    BackendError::Call {
        call,
        object: object.to_string(),
        message: e.message().to_string(),
        code,
    }
}

/// How to connect: how long opening may take, and the keepalive that
/// notices a dead or hung daemon (`interval` seconds between probes,
/// `count` unanswered probes before the connection is closed: a call in
/// flight then fails instead of blocking forever).
#[derive(Debug, Clone, Copy)]
pub struct ConnectOptions {
    pub open_timeout: Duration,
    pub keepalive_interval: i32,
    pub keepalive_count: u32,
}

impl Default for ConnectOptions {
    /// A hung daemon fails its host's calls within about 8 seconds.
    fn default() -> Self {
        ConnectOptions {
            open_timeout: secs(10),
            keepalive_interval: 2,
            keepalive_count: 3,
        }
    }
}

/// Handles of the objects seen in the last listings, by name.
#[derive(Default)]
struct Handles {
    domains: BTreeMap<String, Domain>,
    networks: BTreeMap<String, Network>,
    pools: BTreeMap<String, StoragePool>,
    volumes: BTreeMap<(String, String), StorageVol>,
}

/// A connection to one host with a per-kind call counter.
pub struct LibvirtHost {
    uri: String,
    conn: Connect,
    calls: Mutex<BTreeMap<&'static str, u64>>,
    handles: Mutex<Handles>,
    cancelled: AtomicBool,
}

/// libvirt runs keepalive (and, later, events) on an event loop the
/// application provides: register libvirt's default one once, before the
/// first connection, and run it on a thread of its own.
fn ensure_event_loop() {
    static LOOP: std::sync::Once = std::sync::Once::new();
    LOOP.call_once(|| {
        if virt::event::event_register_default_impl().is_ok() {
            let spawned = std::thread::Builder::new()
                .name("libvirt-events".into())
                .spawn(|| loop {
                    if virt::event::event_run_default_impl().is_err() {
                        std::thread::sleep(Duration::from_millis(100));
                    }
                });
            if let Err(e) = spawned {
                tracing::warn!("cannot start libvirt's event loop thread: {e}");
            }
        }
    });
}

impl LibvirtHost {
    pub fn open(uri: &str) -> Result<LibvirtHost> {
        Self::open_with(uri, ConnectOptions::default())
    }

    pub fn open_with(uri: &str, opts: ConnectOptions) -> Result<LibvirtHost> {
        Self::probe(uri, opts).map_err(|f| BackendError::Connect {
            uri: uri.to_string(),
            message: f.message,
        })
    }

    /// [`LibvirtHost::open_with`], failing with everything libvirt said
    /// about why (its error number and domain, the errno of a system
    /// error): what `doctor` explains a failure from.
    pub fn probe(
        uri: &str,
        opts: ConnectOptions,
    ) -> std::result::Result<LibvirtHost, ConnectFailure> {
        // libvirt prints every error to stderr by default; ours carry
        // context and are reported where they matter.
        static QUIET: std::sync::Once = std::sync::Once::new();
        QUIET.call_once(virt::error::clear_error_callback);
        ensure_event_loop();
        // Opening talks to the daemon before keepalive can run: a hung
        // daemon would block here forever, so open on a thread and stop
        // waiting after the timeout (the thread is left to finish or hang).
        let (tx, rx) = std::sync::mpsc::channel();
        let owned = uri.to_string();
        std::thread::Builder::new()
            .name("libvirt-open".into())
            .spawn(move || {
                // libvirt's last error is per thread: read it here.
                let r = Connect::open(Some(&owned)).map_err(|e| ConnectFailure::of(&owned, &e));
                let _ = tx.send(r);
            })
            .map_err(|e| ConnectFailure::other(uri, e.to_string()))?;
        let conn = match rx.recv_timeout(opts.open_timeout) {
            Ok(r) => r?,
            Err(_) => {
                return Err(ConnectFailure {
                    timed_out: true,
                    ..ConnectFailure::other(
                        uri,
                        format!(
                            "the daemon did not answer within {} s (is libvirtd hung or stopped?)",
                            opts.open_timeout.as_secs()
                        ),
                    )
                })
            }
        };
        // Drivers without a daemon (test:///) have no keepalive: that is fine.
        if let Err(e) = conn.set_keep_alive(opts.keepalive_interval, opts.keepalive_count) {
            tracing::debug!("no keepalive on {uri}: {}", e.message());
        }
        let host = LibvirtHost {
            uri: uri.to_string(),
            conn,
            calls: Mutex::new(BTreeMap::new()),
            handles: Mutex::new(Handles::default()),
            cancelled: AtomicBool::new(false),
        };
        host.count("open");
        Ok(host)
    }

    pub fn uri(&self) -> &str {
        &self.uri
    }

    fn count(&self, kind: &'static str) {
        *self.calls.lock().expect("counter").entry(kind).or_default() += 1;
    }

    /// Calls made so far, by kind (for `--output json`, tests and the benchmark).
    pub fn calls(&self) -> BTreeMap<&'static str, u64> {
        self.calls.lock().expect("counter").clone()
    }

    pub fn total_calls(&self) -> u64 {
        self.calls().values().sum()
    }

    fn handles(&self) -> std::sync::MutexGuard<'_, Handles> {
        self.handles.lock().expect("handles")
    }

    /// Every domain and the names of the paused ones, from one
    /// `virConnectGetAllDomainStats(STATE)` call. The virt crate exposes the
    /// records only as raw pointers (and leaks them), so this reads and frees
    /// them itself.
    fn domains_with_state(&self) -> Option<(Vec<Domain>, Vec<String>)> {
        self.count("get_all_domain_stats");
        let mut records: *mut sys::virDomainStatsRecordPtr = std::ptr::null_mut();
        // SAFETY: the connection pointer is valid for the life of `self.conn`;
        // libvirt allocates `records` (NULL-terminated) and we free it below
        // with the matching libvirt function after taking our own reference
        // on each domain we keep.
        unsafe {
            let n = sys::virConnectGetAllDomainStats(
                self.conn.as_ptr(),
                sys::VIR_DOMAIN_STATS_STATE,
                &mut records,
                0,
            );
            if n < 0 || records.is_null() {
                return None;
            }
            let mut domains = Vec::with_capacity(n as usize);
            let mut paused = Vec::new();
            for i in 0..n as usize {
                let rec = *records.add(i);
                if rec.is_null() {
                    break;
                }
                let dom = (*rec).dom;
                if sys::virDomainRef(dom) < 0 {
                    continue;
                }
                let d = Domain::from_ptr(dom);
                for j in 0..(*rec).nparams.max(0) as usize {
                    let p = (*rec).params.add(j);
                    let field = std::ffi::CStr::from_ptr((*p).field.as_ptr());
                    if field.to_bytes() == b"state.state"
                        && (*p).value.i == sys::VIR_DOMAIN_PAUSED as i32
                    {
                        if let Ok(name) = d.name() {
                            paused.push(name);
                        }
                    }
                }
                domains.push(d);
            }
            sys::virDomainStatsRecordListFree(records);
            Some((domains, paused))
        }
    }

    /// All objects of a kind, the names of the active ones, and (when
    /// asked) the names of the autostarting ones: two or three list calls.
    fn list_with_subsets<T>(
        &self,
        (kind, what): (&'static str, &'static str),
        list: impl Fn(u32) -> std::result::Result<Vec<T>, virt::error::Error>,
        name: impl Fn(&T) -> Option<String>,
        (active_flag, autostart_flag): (u32, Option<u32>),
    ) -> Result<(Vec<T>, Vec<String>, Vec<String>)> {
        let call = |flags: u32| -> Result<Vec<T>> {
            self.count(kind);
            list(flags).map_err(|e| call_err(what, &self.uri, e))
        };
        let names = |v: Vec<T>| v.iter().filter_map(&name).collect();
        let all = call(0)?;
        let active = names(call(active_flag)?);
        let autostart = match autostart_flag {
            Some(f) => names(call(f)?),
            None => Vec::new(),
        };
        Ok((all, active, autostart))
    }

    /// The active objects of a kind and (when asked) the names of the
    /// autostarting ones: one or two list calls.
    fn list_active<T>(
        &self,
        (kind, what): (&'static str, &'static str),
        list: impl Fn(u32) -> std::result::Result<Vec<T>, virt::error::Error>,
        name: impl Fn(&T) -> Option<String>,
        (active_flag, autostart_flag): (u32, Option<u32>),
    ) -> Result<(Vec<T>, Vec<String>)> {
        let call = |flags: u32| -> Result<Vec<T>> {
            self.count(kind);
            list(flags).map_err(|e| call_err(what, &self.uri, e))
        };
        let active = call(active_flag)?;
        let autostart = match autostart_flag {
            Some(f) => call(f)?.iter().filter_map(&name).collect(),
            None => Vec::new(),
        };
        Ok((active, autostart))
    }

    /// The inactive (persistent) XML; the test driver refuses the inactive
    /// flag for networks and pools (its one definition is the persistent
    /// one), so a failure is retried without it, and a real error repeats.
    fn inactive_xml(
        &self,
        (kind, what): (&'static str, &'static str),
        object: &str,
        inactive_flag: u32,
        xml_desc: impl Fn(u32) -> std::result::Result<String, virt::error::Error>,
    ) -> Result<String> {
        self.count(kind);
        xml_desc(inactive_flag).or_else(|_| {
            self.count(kind);
            xml_desc(0).map_err(|e| call_err(what, object, e))
        })
    }

    // ------------------------------------------------------------ lookups

    /// The handle of the last listing, else a lookup by name.
    fn domain(&self, name: &str) -> Result<Domain> {
        if let Some(d) = self.handles().domains.get(name) {
            return Ok(d.clone());
        }
        self.count("lookup_domain");
        self.conn
            .lookup_domain_by_name(name)
            .map_err(|e| call_err("find domain", name, e))
    }

    fn network(&self, name: &str) -> Result<Network> {
        if let Some(n) = self.handles().networks.get(name) {
            return Ok(n.clone());
        }
        self.count("lookup_network");
        self.conn
            .lookup_network_by_name(name)
            .map_err(|e| call_err("find network", name, e))
    }

    fn pool(&self, name: &str) -> Result<StoragePool> {
        if let Some(p) = self.handles().pools.get(name) {
            return Ok(p.clone());
        }
        self.count("lookup_pool");
        self.conn
            .lookup_storage_pool_by_name(name)
            .map_err(|e| call_err("find pool", name, e))
    }

    fn volume(&self, pool: &str, name: &str) -> Result<StorageVol> {
        let key = (pool.to_string(), name.to_string());
        if let Some(v) = self.handles().volumes.get(&key) {
            return Ok(v.clone());
        }
        let p = self.pool(pool)?;
        self.count("lookup_volume");
        p.lookup_storage_vol_by_name(name)
            .map_err(|e| call_err("find volume", &format!("{pool}/{name}"), e))
    }

    fn domain_state(&self, d: &Domain) -> Result<DomainState> {
        self.count("domain_state");
        d.state()
            .map(|(s, _)| s.unwrap_or(DomainState::NoState))
            .map_err(|e| call_err("read state of domain", &d.name().unwrap_or_default(), e))
    }
}

/// libvirt's answer to a flag the driver does not implement.
pub(super) fn unsupported_flags(e: &virt::error::Error) -> bool {
    matches!(
        e.code(),
        virt::enumutil::Enum::Known(virt::error::ErrorNumber::InvalidArg)
    )
}

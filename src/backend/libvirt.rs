//! [`LibvirtHost`]: one connection to one host through the `virt` crate,
//! with keepalive (a dead or hung daemon fails calls within seconds
//! instead of blocking them forever), an open timeout, and a per-kind call
//! counter. It keeps the handles of its last listings, so reading the XML
//! of an object just listed costs one call and no lookup.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use virt::connect::Connect;
use virt::domain::{Domain, DomainState};
use virt::network::Network;
use virt::storage_pool::StoragePool;
use virt::storage_vol::StorageVol;
use virt::sys;

use super::*;

fn call_err(call: &'static str, object: &str, e: virt::error::Error) -> BackendError {
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
        // libvirt prints every error to stderr by default; ours carry
        // context and are reported where they matter.
        static QUIET: std::sync::Once = std::sync::Once::new();
        QUIET.call_once(virt::error::clear_error_callback);
        ensure_event_loop();
        let connect_err = |message: String| BackendError::Connect {
            uri: uri.to_string(),
            message,
        };
        // Opening talks to the daemon before keepalive can run: a hung
        // daemon would block here forever, so open on a thread and stop
        // waiting after the timeout (the thread is left to finish or hang).
        let (tx, rx) = std::sync::mpsc::channel();
        let owned = uri.to_string();
        std::thread::Builder::new()
            .name("libvirt-open".into())
            .spawn(move || {
                let r = Connect::open(Some(&owned)).map_err(|e| e.message().to_string());
                let _ = tx.send(r);
            })
            .map_err(|e| connect_err(e.to_string()))?;
        let conn = match rx.recv_timeout(opts.open_timeout) {
            Ok(r) => r.map_err(connect_err)?,
            Err(_) => {
                return Err(connect_err(format!(
                    "the daemon did not answer within {} s (is libvirtd hung or stopped?)",
                    opts.open_timeout.as_secs()
                )))
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

impl HostRead for LibvirtHost {
    fn uri(&self) -> &str {
        &self.uri
    }

    fn capabilities(&self) -> Result<String> {
        self.count("capabilities");
        self.conn
            .capabilities()
            .map_err(|e| call_err("capabilities", &self.uri, e))
    }

    /// Bulk stats give every domain with its state; filtered lists give
    /// the transient and (when asked) the autostarting ones: two or three
    /// calls for any number of domains.
    fn list_domains(&self, with_autostart: bool) -> Result<Vec<DomainEntry>> {
        let list = |flags: u32, what: &'static str| -> Result<Vec<Domain>> {
            self.count("list_all_domains");
            self.conn
                .list_all_domains(flags)
                .map_err(|e| call_err(what, &self.uri, e))
        };
        let names = |v: Vec<Domain>| -> std::collections::BTreeSet<String> {
            v.iter().filter_map(|d| d.name().ok()).collect()
        };
        let (all, paused) = match self.domains_with_state() {
            Some((all, paused)) => (all, paused.into_iter().collect()),
            // A driver without bulk stats: one more list call instead.
            None => (
                list(0, "list domains")?,
                names(list(
                    sys::VIR_CONNECT_LIST_DOMAINS_PAUSED,
                    "list paused domains",
                )?),
            ),
        };
        let autostart = if with_autostart {
            names(list(
                sys::VIR_CONNECT_LIST_DOMAINS_AUTOSTART,
                "list autostart domains",
            )?)
        } else {
            Default::default()
        };
        let transient = names(list(
            sys::VIR_CONNECT_LIST_DOMAINS_TRANSIENT,
            "list transient domains",
        )?);
        let mut out = Vec::with_capacity(all.len());
        let mut handles = BTreeMap::new();
        for d in all {
            // name, UUID and id are held by the handle: no call.
            let Ok(name) = d.name() else { continue };
            let state = if paused.contains(&name) {
                PowerState::Paused
            } else if d.id().is_some() {
                PowerState::Running
            } else {
                PowerState::Shutoff
            };
            out.push(DomainEntry {
                uuid: d.uuid_string().unwrap_or_default(),
                state,
                persistent: !transient.contains(&name),
                autostart: autostart.contains(&name),
                name: name.clone(),
            });
            handles.insert(name, d);
        }
        self.handles().domains = handles;
        Ok(out)
    }

    fn domain_xml(&self, name: &str, live: bool) -> Result<String> {
        let d = self.domain(name)?;
        self.count("domain_xml");
        let flags = if live {
            sys::VIR_DOMAIN_XML_SECURE
        } else {
            sys::VIR_DOMAIN_XML_INACTIVE | sys::VIR_DOMAIN_XML_SECURE
        };
        d.xml_desc(flags)
            .map_err(|e| call_err("read XML of domain", name, e))
    }

    fn list_networks(&self, with_autostart: bool) -> Result<Vec<Entry>> {
        let (all, active, autostart) = self.list_with_subsets(
            ("list_all_networks", "list networks"),
            |f| self.conn.list_all_networks(f),
            |n| n.name().ok(),
            (
                sys::VIR_CONNECT_LIST_NETWORKS_ACTIVE,
                with_autostart.then_some(sys::VIR_CONNECT_LIST_NETWORKS_AUTOSTART),
            ),
        )?;
        let mut handles = BTreeMap::new();
        let out = all
            .into_iter()
            .filter_map(|n| {
                let name = n.name().ok()?;
                let e = Entry {
                    uuid: n.uuid_string().unwrap_or_default(),
                    active: active.contains(&name),
                    autostart: autostart.contains(&name),
                    name: name.clone(),
                };
                handles.insert(name, n);
                Some(e)
            })
            .collect();
        self.handles().networks = handles;
        Ok(out)
    }

    fn network_xml(&self, name: &str) -> Result<String> {
        let n = self.network(name)?;
        self.inactive_xml(
            ("network_xml", "read XML of network"),
            name,
            sys::VIR_NETWORK_XML_INACTIVE,
            |f| n.xml_desc(f),
        )
    }

    fn list_pools(&self, with_autostart: bool) -> Result<Vec<Entry>> {
        let (all, active, autostart) = self.list_with_subsets(
            ("list_all_storage_pools", "list storage pools"),
            |f| self.conn.list_all_storage_pools(f),
            |p| p.name().ok(),
            (
                sys::VIR_CONNECT_LIST_STORAGE_POOLS_ACTIVE,
                with_autostart.then_some(sys::VIR_CONNECT_LIST_STORAGE_POOLS_AUTOSTART),
            ),
        )?;
        let mut handles = BTreeMap::new();
        let out = all
            .into_iter()
            .filter_map(|p| {
                let name = p.name().ok()?;
                let e = Entry {
                    uuid: p.uuid_string().unwrap_or_default(),
                    active: active.contains(&name),
                    autostart: autostart.contains(&name),
                    name: name.clone(),
                };
                handles.insert(name, p);
                Some(e)
            })
            .collect();
        self.handles().pools = handles;
        Ok(out)
    }

    fn pool_xml(&self, name: &str) -> Result<String> {
        let p = self.pool(name)?;
        self.inactive_xml(
            ("pool_xml", "read XML of pool"),
            name,
            sys::VIR_STORAGE_XML_INACTIVE,
            |f| p.xml_desc(f),
        )
    }

    fn list_volumes(&self, pool: &str) -> Result<Vec<String>> {
        let p = self.pool(pool)?;
        self.count("list_all_volumes");
        let vols = p
            .list_all_volumes(0)
            .map_err(|e| call_err("list volumes of pool", pool, e))?;
        let mut names = Vec::with_capacity(vols.len());
        let mut handles = self.handles();
        handles.volumes.retain(|(p, _), _| p != pool);
        for v in vols {
            let Ok(name) = v.name() else { continue };
            names.push(name.clone());
            handles.volumes.insert((pool.to_string(), name), v);
        }
        Ok(names)
    }

    fn volume_xml(&self, pool: &str, name: &str) -> Result<String> {
        let v = self.volume(pool, name)?;
        self.count("volume_xml");
        v.xml_desc(0)
            .map_err(|e| call_err("read XML of volume", &format!("{pool}/{name}"), e))
    }
}

impl Backend for LibvirtHost {
    fn define_domain(&self, xml: &str) -> Result<Created> {
        self.count("define_domain");
        self.conn
            .define_domain_xml(xml)
            .map(|d| Created::uuid(d.uuid_string()))
            .map_err(|e| call_err("define domain", &xml_name(xml), e))
    }

    fn create_domain(&self, xml: &str, paused: bool) -> Result<Created> {
        self.count("create_domain");
        let flags = if paused {
            sys::VIR_DOMAIN_START_PAUSED
        } else {
            0
        };
        match self.conn.create_domain_xml(xml, flags) {
            Ok(d) => Ok(Created::uuid(d.uuid_string())),
            // A driver without VIR_DOMAIN_START_PAUSED (the test driver):
            // start, then pause at once.
            Err(e) if paused && unsupported_flags(&e) => {
                self.count("create_domain");
                let d = self
                    .conn
                    .create_domain_xml(xml, 0)
                    .map_err(|e| call_err("create transient domain", &xml_name(xml), e))?;
                self.count("suspend_domain");
                d.suspend()
                    .map_err(|e| call_err("suspend domain", &xml_name(xml), e))?;
                Ok(Created::uuid(d.uuid_string()))
            }
            Err(e) => Err(call_err("create transient domain", &xml_name(xml), e)),
        }
    }

    fn start_domain(&self, name: &str, paused: bool) -> Result<()> {
        let d = self.domain(name)?;
        self.count("start_domain");
        let flags = if paused {
            sys::VIR_DOMAIN_START_PAUSED
        } else {
            0
        };
        match d.create_with_flags(flags) {
            Ok(_) => Ok(()),
            // As in create_domain: start, then pause at once.
            Err(e) if paused && unsupported_flags(&e) => {
                self.count("start_domain");
                d.create_with_flags(0)
                    .map_err(|e| call_err("start domain", name, e))?;
                self.count("suspend_domain");
                d.suspend().map_err(|e| call_err("suspend domain", name, e))
            }
            Err(e) => Err(call_err("start domain", name, e)),
        }
    }

    fn suspend_domain(&self, name: &str) -> Result<()> {
        let d = self.domain(name)?;
        self.count("suspend_domain");
        d.suspend().map_err(|e| call_err("suspend domain", name, e))
    }

    fn resume_domain(&self, name: &str) -> Result<()> {
        let d = self.domain(name)?;
        self.count("resume_domain");
        d.resume().map_err(|e| call_err("resume domain", name, e))
    }

    fn shutdown_domain(&self, name: &str, timeout: Duration) -> Result<()> {
        let d = self.domain(name)?;
        if timeout > Duration::ZERO {
            self.count("shutdown_domain");
            // A paused guest cannot react to ACPI; destroy it directly.
            if self.domain_state(&d)? == DomainState::Running {
                d.shutdown()
                    .map_err(|e| call_err("shut down domain", name, e))?;
                let deadline = Instant::now() + timeout;
                let mut wait = Duration::from_millis(50);
                while Instant::now() < deadline {
                    if self.cancelled.load(Ordering::SeqCst) {
                        return Err(BackendError::Cancelled {
                            call: "wait for the shutdown of domain",
                            object: name.to_string(),
                        });
                    }
                    std::thread::sleep(
                        wait.min(deadline.saturating_duration_since(Instant::now())),
                    );
                    // A transient domain that stops is gone: that is success.
                    match self.domain_state(&d) {
                        Ok(DomainState::Shutoff) | Err(_) => return Ok(()),
                        Ok(_) => {}
                    }
                    wait = (wait * 2).min(Duration::from_secs(1));
                }
                tracing::info!("domain {name} did not shut down within {timeout:?}; destroying it");
            }
        }
        self.count("destroy_domain");
        match d.destroy() {
            Ok(()) => Ok(()),
            // It stopped on its own between our last look and now (and, if
            // transient, vanished).
            Err(_) if !matches!(self.domain_state(&d), Ok(s) if s != DomainState::Shutoff) => {
                Ok(())
            }
            Err(e) => Err(call_err("destroy domain", name, e)),
        }
    }

    fn destroy_domain(&self, name: &str) -> Result<()> {
        let d = self.domain(name)?;
        self.count("destroy_domain");
        d.destroy().map_err(|e| call_err("destroy domain", name, e))
    }

    fn undefine_domain(&self, name: &str, flags: UndefineFlags) -> Result<()> {
        let d = self.domain(name)?;
        self.count("undefine_domain");
        let mut f = 0;
        for (on, bit) in [
            (flags.managed_save, sys::VIR_DOMAIN_UNDEFINE_MANAGED_SAVE),
            (
                flags.snapshots_metadata,
                sys::VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA,
            ),
            (
                flags.checkpoints_metadata,
                sys::VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA,
            ),
            (flags.nvram, sys::VIR_DOMAIN_UNDEFINE_NVRAM),
            (flags.keep_nvram, sys::VIR_DOMAIN_UNDEFINE_KEEP_NVRAM),
        ] {
            if on {
                f |= bit;
            }
        }
        d.undefine_flags(f)
            .map_err(|e| call_err("undefine domain", name, e))
    }

    fn cancel(&self) {
        self.cancelled.store(true, Ordering::SeqCst);
    }

    fn set_domain_autostart(&self, name: &str, on: bool) -> Result<()> {
        let d = self.domain(name)?;
        self.count("set_domain_autostart");
        d.set_autostart(on)
            .map(|_| ())
            .map_err(|e| call_err("set autostart of domain", name, e))
    }

    fn set_live_memory(&self, name: &str, kib: u64) -> Result<()> {
        let d = self.domain(name)?;
        self.count("set_memory");
        d.set_memory_flags(kib, sys::VIR_DOMAIN_AFFECT_LIVE)
            .map(|_| ())
            .map_err(|e| call_err("set live memory of domain", name, e))
    }

    fn set_live_vcpus(&self, name: &str, n: u32) -> Result<()> {
        let d = self.domain(name)?;
        self.count("set_vcpus");
        d.set_vcpus_flags(n, sys::VIR_DOMAIN_AFFECT_LIVE)
            .map(|_| ())
            .map_err(|e| call_err("set live vcpus of domain", name, e))
    }

    fn attach_device(&self, name: &str, xml: &str) -> Result<()> {
        let d = self.domain(name)?;
        self.count("attach_device");
        d.attach_device_flags(xml, sys::VIR_DOMAIN_AFFECT_LIVE)
            .map_err(|e| call_err("hot-plug a device into domain", name, e))
    }

    fn detach_device(&self, name: &str, xml: &str) -> Result<()> {
        let d = self.domain(name)?;
        self.count("detach_device");
        match d.detach_device_flags(xml, sys::VIR_DOMAIN_AFFECT_LIVE) {
            // Not in the running guest (added to the config while it ran,
            // or already released): nothing to unplug.
            Err(e)
                if e.code()
                    == virt::enumutil::Enum::Known(virt::error::ErrorNumber::DeviceMissing) =>
            {
                Ok(())
            }
            r => r.map_err(|e| call_err("unplug a device from domain", name, e)),
        }
    }

    fn define_network(&self, xml: &str) -> Result<Created> {
        self.count("define_network");
        self.conn
            .define_network_xml(xml)
            .map(|n| Created::uuid(n.uuid_string()))
            .map_err(|e| call_err("define network", &xml_name(xml), e))
    }

    fn start_network(&self, name: &str) -> Result<()> {
        let n = self.network(name)?;
        self.count("start_network");
        n.create()
            .map(|_| ())
            .map_err(|e| call_err("start network", name, e))
    }

    fn destroy_network(&self, name: &str) -> Result<()> {
        let n = self.network(name)?;
        self.count("destroy_network");
        n.destroy().map_err(|e| call_err("stop network", name, e))
    }

    fn set_network_autostart(&self, name: &str, on: bool) -> Result<()> {
        let n = self.network(name)?;
        self.count("set_network_autostart");
        n.set_autostart(on)
            .map(|_| ())
            .map_err(|e| call_err("set autostart of network", name, e))
    }

    fn update_network_dhcp_host(
        &self,
        name: &str,
        xml: &str,
        add: bool,
        live: bool,
        config: bool,
    ) -> Result<()> {
        let n = self.network(name)?;
        self.count("update_network");
        let cmd = if add {
            sys::VIR_NETWORK_UPDATE_COMMAND_ADD_LAST
        } else {
            sys::VIR_NETWORK_UPDATE_COMMAND_DELETE
        };
        let mut flags = 0;
        if config {
            flags |= sys::VIR_NETWORK_UPDATE_AFFECT_CONFIG;
        }
        if live {
            flags |= sys::VIR_NETWORK_UPDATE_AFFECT_LIVE;
        }
        n.update(cmd, sys::VIR_NETWORK_SECTION_IP_DHCP_HOST, -1, xml, flags)
            .map_err(|e| call_err("update DHCP hosts of network", name, e))
    }

    fn define_pool(&self, xml: &str) -> Result<Created> {
        self.count("define_pool");
        self.conn
            .define_storage_pool_xml(xml, 0)
            .map(|p| Created::uuid(p.uuid_string()))
            .map_err(|e| call_err("define pool", &xml_name(xml), e))
    }

    fn build_pool(&self, name: &str) -> Result<()> {
        let p = self.pool(name)?;
        self.count("build_pool");
        p.build(sys::VIR_STORAGE_POOL_BUILD_NEW)
            .map(|_| ())
            .map_err(|e| call_err("build pool", name, e))
    }

    fn start_pool(&self, name: &str) -> Result<()> {
        let p = self.pool(name)?;
        self.count("start_pool");
        p.create(0)
            .map(|_| ())
            .map_err(|e| call_err("start pool", name, e))
    }

    fn destroy_pool(&self, name: &str) -> Result<()> {
        let p = self.pool(name)?;
        self.count("destroy_pool");
        p.destroy().map_err(|e| call_err("stop pool", name, e))
    }

    fn set_pool_autostart(&self, name: &str, on: bool) -> Result<()> {
        let p = self.pool(name)?;
        self.count("set_pool_autostart");
        p.set_autostart(on)
            .map(|_| ())
            .map_err(|e| call_err("set autostart of pool", name, e))
    }

    fn create_volume(
        &self,
        pool: &str,
        xml: &str,
        clone_from: Option<(&str, &str)>,
    ) -> Result<Created> {
        let p = self.pool(pool)?;
        let object = format!("{pool}/{}", xml_name(xml));
        match clone_from {
            None => {
                self.count("create_volume");
                virt::storage_vol::StorageVol::create_xml(&p, xml, 0)
                    .map(|v| Created::key(v.key()))
                    .map_err(|e| call_err("create volume", &object, e))
            }
            Some((src_pool, src_name)) => {
                let sp = if src_pool == pool {
                    p.clone()
                } else {
                    self.pool(src_pool)?
                };
                self.count("lookup_volume");
                let src = sp
                    .lookup_storage_vol_by_name(src_name)
                    .map_err(|e| call_err("find volume", &format!("{src_pool}/{src_name}"), e))?;
                self.count("create_volume_from");
                virt::storage_vol::StorageVol::create_xml_from(&p, xml, &src, 0)
                    .map(|v| Created::key(v.key()))
                    .map_err(|e| call_err("clone volume", &object, e))
            }
        }
    }

    fn resize_volume(&self, pool: &str, name: &str, capacity: u64) -> Result<()> {
        let v = self.volume(pool, name)?;
        self.count("resize_volume");
        v.resize(capacity, 0)
            .map(|_| ())
            .map_err(|e| call_err("resize volume", &format!("{pool}/{name}"), e))
    }

    fn resize_disk(&self, domain: &str, target: &str, capacity: u64) -> Result<()> {
        let d = self.domain(domain)?;
        self.count("block_resize");
        d.block_resize(target, capacity, sys::VIR_DOMAIN_BLOCK_RESIZE_BYTES)
            .map_err(|e| call_err("grow disk of domain", &format!("{domain}/{target}"), e))
    }
}

/// libvirt's answer to a flag the driver does not implement.
fn unsupported_flags(e: &virt::error::Error) -> bool {
    matches!(
        e.code(),
        virt::enumutil::Enum::Known(virt::error::ErrorNumber::InvalidArg)
    )
}

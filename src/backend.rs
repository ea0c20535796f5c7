//! The one place that talks to libvirt: a connection per host, every call
//! counted by kind.
//!
//! [`Backend`] is the narrow set of writes `apply` executes; [`LibvirtHost`]
//! implements it with the `virt` crate and also offers the bulk reads
//! `observe` needs. Calls block: callers run them on plain threads (apply's
//! workers) or `spawn_blocking`, never on an async reactor. `Connect` is
//! `Send + Sync`, so one connection per host is shared by all workers.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use virt::connect::Connect;
use virt::domain::{Domain, DomainState};
use virt::network::Network;
use virt::storage_pool::StoragePool;
use virt::sys;

/// A libvirt call failed.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error("cannot connect to {uri}: {message}")]
    Connect { uri: String, message: String },
    #[error("{call} {object}: {message}")]
    Call {
        call: &'static str,
        object: String,
        message: String,
    },
}

fn call_err(call: &'static str, object: &str, e: virt::error::Error) -> BackendError {
    BackendError::Call {
        call,
        object: object.to_string(),
        message: e.message().to_string(),
    }
}

pub type Result<T> = std::result::Result<T, BackendError>;

/// The writes `apply` performs. Each method is one decision-free step of a
/// plan action.
pub trait Backend: Send + Sync {
    fn define_domain(&self, xml: &str) -> Result<()>;
    /// Start a transient domain from XML (`virsh create`).
    fn create_domain(&self, xml: &str, paused: bool) -> Result<()>;
    fn start_domain(&self, name: &str, paused: bool) -> Result<()>;
    fn suspend_domain(&self, name: &str) -> Result<()>;
    fn resume_domain(&self, name: &str) -> Result<()>;
    /// ACPI shutdown, waiting up to `timeout` for the guest to stop, then
    /// destroy (a guest without an OS never reacts to ACPI).
    fn shutdown_domain(&self, name: &str, timeout: Duration) -> Result<()>;
    fn destroy_domain(&self, name: &str) -> Result<()>;
    /// Undefine keeping disks; removes snapshot metadata, NVRAM and managed save.
    fn undefine_domain(&self, name: &str) -> Result<()>;
    fn set_domain_autostart(&self, name: &str, on: bool) -> Result<()>;
    /// Balloon target of the running guest (KiB); not persistent.
    fn set_live_memory(&self, name: &str, kib: u64) -> Result<()>;
    /// Online vCPUs of the running guest; not persistent.
    fn set_live_vcpus(&self, name: &str, n: u32) -> Result<()>;
    /// Hot-plug a device into the running guest; not persistent.
    fn attach_device(&self, name: &str, xml: &str) -> Result<()>;
    /// Ask the running guest to release a device; not persistent.
    fn detach_device(&self, name: &str, xml: &str) -> Result<()>;

    fn define_network(&self, xml: &str) -> Result<()>;
    fn start_network(&self, name: &str) -> Result<()>;
    fn destroy_network(&self, name: &str) -> Result<()>;
    fn set_network_autostart(&self, name: &str, on: bool) -> Result<()>;
    /// Add (`add = true`) or delete one `<host>` of the IPv4/IPv6 DHCP
    /// section, in the persistent config and, when active, live.
    fn update_network_dhcp_host(
        &self,
        name: &str,
        xml: &str,
        add: bool,
        live: bool,
        config: bool,
    ) -> Result<()>;

    fn define_pool(&self, xml: &str) -> Result<()>;
    fn build_pool(&self, name: &str) -> Result<()>;
    fn start_pool(&self, name: &str) -> Result<()>;
    fn destroy_pool(&self, name: &str) -> Result<()>;
    fn set_pool_autostart(&self, name: &str, on: bool) -> Result<()>;

    /// Create a volume from XML, as a full copy of `clone_from` when given.
    fn create_volume(&self, pool: &str, xml: &str, clone_from: Option<(&str, &str)>) -> Result<()>;
    fn resize_volume(&self, pool: &str, name: &str, capacity: u64) -> Result<()>;
    /// Grow the image behind disk `target` of running domain `domain`.
    fn resize_disk(&self, domain: &str, target: &str, capacity: u64) -> Result<()>;
}

/// A connection to one host with a per-kind call counter.
pub struct LibvirtHost {
    uri: String,
    conn: Connect,
    calls: Mutex<BTreeMap<&'static str, u64>>,
}

impl LibvirtHost {
    pub fn open(uri: &str) -> Result<LibvirtHost> {
        // libvirt prints every error to stderr by default; ours carry
        // context and are reported where they matter.
        static QUIET: std::sync::Once = std::sync::Once::new();
        QUIET.call_once(virt::error::clear_error_callback);
        let conn = Connect::open(Some(uri)).map_err(|e| BackendError::Connect {
            uri: uri.to_string(),
            message: e.message().to_string(),
        })?;
        let host = LibvirtHost {
            uri: uri.to_string(),
            conn,
            calls: Mutex::new(BTreeMap::new()),
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

    // ------------------------------------------------------------ reads

    pub fn capabilities(&self) -> Result<String> {
        self.count("capabilities");
        self.conn
            .capabilities()
            .map_err(|e| call_err("capabilities", &self.uri, e))
    }

    /// All domains, plus the names of the paused, autostarting (when asked)
    /// and transient ones: three calls for any number of domains (bulk stats give every
    /// domain with its state; two filtered lists give the rest).
    pub fn list_domains(&self, with_autostart: bool) -> Result<DomainListing> {
        let list = |flags: u32, what: &'static str| -> Result<Vec<Domain>> {
            self.count("list_all_domains");
            self.conn
                .list_all_domains(flags)
                .map_err(|e| call_err(what, &self.uri, e))
        };
        let names =
            |v: Vec<Domain>| -> Vec<String> { v.iter().filter_map(|d| d.name().ok()).collect() };
        let (all, paused) = match self.domains_with_state() {
            Some(x) => x,
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
            Vec::new()
        };
        let transient = names(list(
            sys::VIR_CONNECT_LIST_DOMAINS_TRANSIENT,
            "list transient domains",
        )?);
        Ok(DomainListing {
            domains: all,
            paused,
            autostart,
            transient,
        })
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

    /// The persistent XML, secrets included: a re-define built from it must
    /// keep graphics passwords and the like (plans redact them for display).
    pub fn domain_xml(&self, d: &Domain) -> Result<String> {
        self.count("domain_xml");
        d.xml_desc(sys::VIR_DOMAIN_XML_INACTIVE | sys::VIR_DOMAIN_XML_SECURE)
            .map_err(|e| call_err("read XML of domain", &d.name().unwrap_or_default(), e))
    }

    /// The live XML of a running domain (secrets included, like
    /// [`Self::domain_xml`]): live actions address the devices it has.
    pub fn domain_live_xml(&self, name: &str) -> Result<String> {
        let d = self.domain(name)?;
        self.count("domain_xml");
        d.xml_desc(sys::VIR_DOMAIN_XML_SECURE)
            .map_err(|e| call_err("read live XML of domain", name, e))
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

    /// All networks, the active ones, and (when asked) the autostarting ones.
    pub fn list_networks(
        &self,
        with_autostart: bool,
    ) -> Result<(Vec<Network>, Vec<String>, Vec<String>)> {
        self.list_with_subsets(
            ("list_all_networks", "list networks"),
            |f| self.conn.list_all_networks(f),
            |n| n.name().ok(),
            (
                sys::VIR_CONNECT_LIST_NETWORKS_ACTIVE,
                with_autostart.then_some(sys::VIR_CONNECT_LIST_NETWORKS_AUTOSTART),
            ),
        )
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

    pub fn network_xml(&self, n: &Network) -> Result<String> {
        let name = n.name().unwrap_or_default();
        self.inactive_xml(
            ("network_xml", "read XML of network"),
            &name,
            sys::VIR_NETWORK_XML_INACTIVE,
            |f| n.xml_desc(f),
        )
    }

    /// All pools, the active ones, and (when asked) the autostarting ones.
    pub fn list_pools(
        &self,
        with_autostart: bool,
    ) -> Result<(Vec<StoragePool>, Vec<String>, Vec<String>)> {
        self.list_with_subsets(
            ("list_all_storage_pools", "list storage pools"),
            |f| self.conn.list_all_storage_pools(f),
            |p| p.name().ok(),
            (
                sys::VIR_CONNECT_LIST_STORAGE_POOLS_ACTIVE,
                with_autostart.then_some(sys::VIR_CONNECT_LIST_STORAGE_POOLS_AUTOSTART),
            ),
        )
    }

    pub fn pool_xml(&self, p: &StoragePool) -> Result<String> {
        let name = p.name().unwrap_or_default();
        self.inactive_xml(
            ("pool_xml", "read XML of pool"),
            &name,
            sys::VIR_STORAGE_XML_INACTIVE,
            |f| p.xml_desc(f),
        )
    }

    /// Volumes of an active pool (an inactive pool lists none).
    pub fn list_volumes(&self, p: &StoragePool) -> Result<Vec<virt::storage_vol::StorageVol>> {
        self.count("list_all_volumes");
        p.list_all_volumes(0)
            .map_err(|e| call_err("list volumes of pool", &p.name().unwrap_or_default(), e))
    }

    pub fn volume_xml(&self, v: &virt::storage_vol::StorageVol) -> Result<String> {
        self.count("volume_xml");
        v.xml_desc(0)
            .map_err(|e| call_err("read XML of volume", &v.name().unwrap_or_default(), e))
    }

    // ------------------------------------------------------------ lookups

    fn domain(&self, name: &str) -> Result<Domain> {
        self.count("lookup_domain");
        self.conn
            .lookup_domain_by_name(name)
            .map_err(|e| call_err("find domain", name, e))
    }

    fn network(&self, name: &str) -> Result<Network> {
        self.count("lookup_network");
        self.conn
            .lookup_network_by_name(name)
            .map_err(|e| call_err("find network", name, e))
    }

    fn pool(&self, name: &str) -> Result<StoragePool> {
        self.count("lookup_pool");
        self.conn
            .lookup_storage_pool_by_name(name)
            .map_err(|e| call_err("find pool", name, e))
    }

    fn domain_state(&self, d: &Domain) -> Result<DomainState> {
        self.count("domain_state");
        d.state()
            .map(|(s, _)| s.unwrap_or(DomainState::NoState))
            .map_err(|e| call_err("read state of domain", &d.name().unwrap_or_default(), e))
    }
}

/// Result of [`LibvirtHost::list_domains`].
pub struct DomainListing {
    pub domains: Vec<Domain>,
    pub paused: Vec<String>,
    pub autostart: Vec<String>,
    pub transient: Vec<String>,
}

impl Backend for LibvirtHost {
    fn define_domain(&self, xml: &str) -> Result<()> {
        self.count("define_domain");
        self.conn
            .define_domain_xml(xml)
            .map(|_| ())
            .map_err(|e| call_err("define domain", &xml_name(xml), e))
    }

    fn create_domain(&self, xml: &str, paused: bool) -> Result<()> {
        self.count("create_domain");
        let flags = if paused {
            sys::VIR_DOMAIN_START_PAUSED
        } else {
            0
        };
        match self.conn.create_domain_xml(xml, flags) {
            Ok(_) => Ok(()),
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
                    .map_err(|e| call_err("suspend domain", &xml_name(xml), e))
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

    fn undefine_domain(&self, name: &str) -> Result<()> {
        let d = self.domain(name)?;
        self.count("undefine_domain");
        d.undefine_flags(
            sys::VIR_DOMAIN_UNDEFINE_MANAGED_SAVE
                | sys::VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA
                | sys::VIR_DOMAIN_UNDEFINE_NVRAM,
        )
        .map_err(|e| call_err("undefine domain", name, e))
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

    fn define_network(&self, xml: &str) -> Result<()> {
        self.count("define_network");
        self.conn
            .define_network_xml(xml)
            .map(|_| ())
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

    fn define_pool(&self, xml: &str) -> Result<()> {
        self.count("define_pool");
        self.conn
            .define_storage_pool_xml(xml, 0)
            .map(|_| ())
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

    fn create_volume(&self, pool: &str, xml: &str, clone_from: Option<(&str, &str)>) -> Result<()> {
        let p = self.pool(pool)?;
        let object = format!("{pool}/{}", xml_name(xml));
        match clone_from {
            None => {
                self.count("create_volume");
                virt::storage_vol::StorageVol::create_xml(&p, xml, 0)
                    .map(|_| ())
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
                    .map(|_| ())
                    .map_err(|e| call_err("clone volume", &object, e))
            }
        }
    }

    fn resize_volume(&self, pool: &str, name: &str, capacity: u64) -> Result<()> {
        let p = self.pool(pool)?;
        self.count("lookup_volume");
        let v = p
            .lookup_storage_vol_by_name(name)
            .map_err(|e| call_err("find volume", &format!("{pool}/{name}"), e))?;
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

/// The `<name>` of an XML document, for error messages.
fn xml_name(xml: &str) -> String {
    crate::xml::Element::parse(xml)
        .ok()
        .and_then(|e| e.child("name").map(|n| n.text()))
        .unwrap_or_else(|| "?".into())
}

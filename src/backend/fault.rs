//! A fault-injecting wrapper for tests: [`FaultyHost`] passes every call to
//! a real implementation (libvirt's test driver, usually) and makes chosen
//! calls fail, hang for a while, or lose the connection — what neither the
//! test driver nor a private daemon produces on demand. It never stands in
//! for libvirt's behaviour: every call that is not faulted is the real one.

use std::sync::Mutex;
use std::time::Duration;

use super::*;

/// What happens to a matching call.
#[derive(Debug, Clone)]
pub enum Effect {
    /// The call fails with this libvirt error number and message.
    Fail { code: u32, message: String },
    /// The call is made after this delay (a slow or hung daemon).
    Delay(Duration),
    /// The connection is lost: this call and every later one fails as
    /// libvirt's client does when its daemon went away.
    Disconnect,
    /// The call is made, then the connection is lost before its reply
    /// arrives: the daemon did it, the caller sees an error (and every
    /// later call fails). What a process killed mid-call leaves behind.
    LoseReply,
}

/// One rule: calls of `method` (the trait method's name, e.g.
/// `define_domain`, `domain_xml`) on `object` (a name, `None` for any),
/// `times` times (`None`: always).
#[derive(Debug, Clone)]
pub struct Fault {
    pub method: &'static str,
    pub object: Option<String>,
    pub effect: Effect,
    pub times: Option<usize>,
}

impl Fault {
    pub fn fail(method: &'static str, object: Option<&str>, code: u32) -> Fault {
        Fault {
            method,
            object: object.map(str::to_string),
            effect: Effect::Fail {
                code,
                message: format!("injected failure of {method}"),
            },
            times: None,
        }
    }

    pub fn delay(method: &'static str, by: Duration) -> Fault {
        Fault {
            method,
            object: None,
            effect: Effect::Delay(by),
            times: None,
        }
    }

    pub fn disconnect(method: &'static str, object: Option<&str>) -> Fault {
        Fault {
            method,
            object: object.map(str::to_string),
            effect: Effect::Disconnect,
            times: Some(1),
        }
    }

    pub fn lose_reply(method: &'static str, object: Option<&str>) -> Fault {
        Fault {
            method,
            object: object.map(str::to_string),
            effect: Effect::LoseReply,
            times: Some(1),
        }
    }

    pub fn once(mut self) -> Fault {
        self.times = Some(1);
        self
    }
}

/// A host whose calls go to `inner` unless a [`Fault`] matches.
pub struct FaultyHost<H> {
    inner: H,
    faults: Mutex<Vec<Fault>>,
    disconnected: Mutex<bool>,
    /// Every call made through this wrapper, in order: `method object`.
    log: Mutex<Vec<String>>,
}

impl<H> FaultyHost<H> {
    pub fn new(inner: H, faults: Vec<Fault>) -> FaultyHost<H> {
        FaultyHost {
            inner,
            faults: Mutex::new(faults),
            disconnected: Mutex::new(false),
            log: Mutex::new(Vec::new()),
        }
    }

    pub fn inner(&self) -> &H {
        &self.inner
    }

    /// Add a fault while the host is in use.
    pub fn inject(&self, f: Fault) {
        self.faults.lock().expect("faults").push(f);
    }

    /// Lift every fault (the cause was fixed).
    pub fn clear_faults(&self) {
        self.faults.lock().expect("faults").clear();
    }

    /// The calls made so far, as `method object`.
    pub fn log(&self) -> Vec<String> {
        self.log.lock().expect("log").clone()
    }

    /// Apply the faults of a call about to be made; `Ok(true)`: make it,
    /// then lose its reply ([`Effect::LoseReply`]).
    fn check(&self, method: &'static str, object: &str) -> Result<bool> {
        self.log
            .lock()
            .expect("log")
            .push(format!("{method} {object}"));
        let lost = || BackendError::Call {
            call: method,
            object: object.to_string(),
            message: "injected: the connection to the daemon was lost".into(),
            code: code::RPC,
        };
        if *self.disconnected.lock().expect("state") {
            return Err(lost());
        }
        let effect = {
            let mut faults = self.faults.lock().expect("faults");
            let hit = faults.iter_mut().find(|f| {
                f.method == method
                    && f.object.as_deref().is_none_or(|o| o == object)
                    && f.times != Some(0)
            });
            hit.map(|f| {
                if let Some(t) = &mut f.times {
                    *t -= 1;
                }
                f.effect.clone()
            })
        };
        match effect {
            None => Ok(false),
            Some(Effect::LoseReply) => Ok(true),
            Some(Effect::Delay(d)) => {
                std::thread::sleep(d);
                Ok(false)
            }
            Some(Effect::Fail { code, message }) => Err(BackendError::Call {
                call: method,
                object: object.to_string(),
                message,
                code,
            }),
            Some(Effect::Disconnect) => {
                *self.disconnected.lock().expect("state") = true;
                Err(lost())
            }
        }
    }
}

/// Each method: check the faults, then call the real implementation.
macro_rules! pass {
    ($self:ident, $method:ident, $object:expr $(, $arg:expr)*) => {{
        let lose_reply = $self.check(stringify!($method), $object)?;
        let r = $self.inner.$method($($arg),*);
        if lose_reply {
            *$self.disconnected.lock().expect("state") = true;
            return Err(BackendError::Call {
                call: stringify!($method),
                object: ($object).to_string(),
                message: "injected: the connection to the daemon was lost before the reply".into(),
                code: code::RPC,
            });
        }
        r
    }};
}

impl<H: HostRead> HostRead for FaultyHost<H> {
    fn domain_addresses(&self, domain: &str, source: AddressSource) -> Result<Vec<IfaceAddrs>> {
        pass!(self, domain_addresses, domain, domain, source)
    }
    fn uri(&self) -> &str {
        self.inner.uri()
    }
    fn capabilities(&self) -> Result<String> {
        pass!(self, capabilities, "")
    }
    fn list_domains(&self, with_autostart: bool) -> Result<Vec<DomainEntry>> {
        pass!(self, list_domains, "", with_autostart)
    }
    fn domain_xml(&self, name: &str, live: bool) -> Result<String> {
        pass!(self, domain_xml, name, name, live)
    }
    fn list_networks(&self, with_autostart: bool) -> Result<Vec<Entry>> {
        pass!(self, list_networks, "", with_autostart)
    }
    fn network_xml(&self, name: &str, live: bool) -> Result<String> {
        pass!(self, network_xml, name, name, live)
    }
    fn list_pools(&self, with_autostart: bool) -> Result<Vec<Entry>> {
        pass!(self, list_pools, "", with_autostart)
    }
    fn list_active_networks(&self, with_autostart: bool) -> Result<Vec<Entry>> {
        pass!(self, list_active_networks, "", with_autostart)
    }
    fn list_active_pools(&self, with_autostart: bool) -> Result<Vec<Entry>> {
        pass!(self, list_active_pools, "", with_autostart)
    }
    fn pool_xml(&self, name: &str) -> Result<String> {
        pass!(self, pool_xml, name, name)
    }
    fn list_volumes(&self, pool: &str) -> Result<Vec<String>> {
        pass!(self, list_volumes, pool, pool)
    }
    fn snapshots(&self, domain: &str) -> Result<Vec<(String, String)>> {
        pass!(self, snapshots, domain, domain)
    }
    fn volume_xml(&self, pool: &str, name: &str) -> Result<String> {
        pass!(self, volume_xml, &format!("{pool}/{name}"), pool, name)
    }
}

impl<H: Backend> Backend for FaultyHost<H> {
    fn define_domain(&self, xml: &str) -> Result<Created> {
        pass!(self, define_domain, &xml_name(xml), xml)
    }
    fn create_domain(&self, xml: &str, paused: bool) -> Result<Created> {
        pass!(self, create_domain, &xml_name(xml), xml, paused)
    }
    fn start_domain(&self, name: &str, paused: bool) -> Result<()> {
        pass!(self, start_domain, name, name, paused)
    }
    fn suspend_domain(&self, name: &str) -> Result<()> {
        pass!(self, suspend_domain, name, name)
    }
    fn resume_domain(&self, name: &str) -> Result<()> {
        pass!(self, resume_domain, name, name)
    }
    fn shutdown_domain(&self, name: &str, timeout: Duration) -> Result<()> {
        pass!(self, shutdown_domain, name, name, timeout)
    }
    fn destroy_domain(&self, name: &str) -> Result<()> {
        pass!(self, destroy_domain, name, name)
    }
    fn undefine_domain(&self, name: &str, flags: UndefineFlags) -> Result<()> {
        pass!(self, undefine_domain, name, name, flags)
    }
    fn migrate_domain(&self, name: &str, m: &MigrateSpec) -> Result<()> {
        pass!(self, migrate_domain, name, name, m)
    }
    fn set_domain_autostart(&self, name: &str, on: bool) -> Result<()> {
        pass!(self, set_domain_autostart, name, name, on)
    }
    fn set_live_memory(&self, name: &str, kib: u64) -> Result<()> {
        pass!(self, set_live_memory, name, name, kib)
    }
    fn set_live_marker(&self, name: &str, fragment: &str) -> Result<()> {
        pass!(self, set_live_marker, name, name, fragment)
    }
    fn set_live_vcpus(&self, name: &str, n: u32) -> Result<()> {
        pass!(self, set_live_vcpus, name, name, n)
    }
    fn attach_device(&self, name: &str, xml: &str) -> Result<()> {
        pass!(self, attach_device, name, name, xml)
    }
    fn detach_device(&self, name: &str, xml: &str) -> Result<()> {
        pass!(self, detach_device, name, name, xml)
    }
    fn define_network(&self, xml: &str) -> Result<Created> {
        pass!(self, define_network, &xml_name(xml), xml)
    }
    fn start_network(&self, name: &str) -> Result<()> {
        pass!(self, start_network, name, name)
    }
    fn destroy_network(&self, name: &str) -> Result<()> {
        pass!(self, destroy_network, name, name)
    }
    fn undefine_network(&self, name: &str) -> Result<()> {
        pass!(self, undefine_network, name, name)
    }
    fn set_network_autostart(&self, name: &str, on: bool) -> Result<()> {
        pass!(self, set_network_autostart, name, name, on)
    }
    fn update_network_dhcp_host(
        &self,
        name: &str,
        xml: &str,
        add: bool,
        live: bool,
        config: bool,
    ) -> Result<()> {
        pass!(
            self,
            update_network_dhcp_host,
            name,
            name,
            xml,
            add,
            live,
            config
        )
    }
    fn define_pool(&self, xml: &str) -> Result<Created> {
        pass!(self, define_pool, &xml_name(xml), xml)
    }
    fn build_pool(&self, name: &str) -> Result<()> {
        pass!(self, build_pool, name, name)
    }
    fn start_pool(&self, name: &str) -> Result<()> {
        pass!(self, start_pool, name, name)
    }
    fn destroy_pool(&self, name: &str) -> Result<()> {
        pass!(self, destroy_pool, name, name)
    }
    fn undefine_pool(&self, name: &str) -> Result<()> {
        pass!(self, undefine_pool, name, name)
    }
    fn set_pool_autostart(&self, name: &str, on: bool) -> Result<()> {
        pass!(self, set_pool_autostart, name, name, on)
    }
    fn create_volume(
        &self,
        pool: &str,
        xml: &str,
        clone_from: Option<(&str, &str)>,
    ) -> Result<Created> {
        let object = format!("{pool}/{}", xml_name(xml));
        pass!(self, create_volume, &object, pool, xml, clone_from)
    }
    fn resize_volume(&self, pool: &str, name: &str, capacity: u64) -> Result<()> {
        pass!(
            self,
            resize_volume,
            &format!("{pool}/{name}"),
            pool,
            name,
            capacity
        )
    }
    fn upload_volume(&self, pool: &str, name: &str, data: &mut dyn std::io::Read) -> Result<u64> {
        pass!(
            self,
            upload_volume,
            &format!("{pool}/{name}"),
            pool,
            name,
            data
        )
    }
    fn delete_volume(&self, pool: &str, name: &str) -> Result<()> {
        pass!(self, delete_volume, &format!("{pool}/{name}"), pool, name)
    }
    fn resize_disk(&self, domain: &str, target: &str, capacity: u64) -> Result<()> {
        pass!(self, resize_disk, domain, domain, target, capacity)
    }
    fn create_snapshot(&self, domain: &str, xml: &str) -> Result<()> {
        pass!(self, create_snapshot, domain, domain, xml)
    }
    fn save_snapshots(&self, domain: &str) -> Result<Vec<SavedSnapshot>> {
        pass!(self, save_snapshots, domain, domain)
    }
    fn restore_snapshot(&self, domain: &str, saved: &SavedSnapshot) -> Result<()> {
        pass!(self, restore_snapshot, domain, domain, saved)
    }
    fn redefine_snapshot(&self, domain: &str, xml: &str) -> Result<()> {
        pass!(self, redefine_snapshot, domain, domain, xml)
    }
    fn revert_snapshot(&self, domain: &str, name: &str) -> Result<()> {
        pass!(self, revert_snapshot, domain, domain, name)
    }
    fn delete_snapshot(&self, domain: &str, name: &str) -> Result<()> {
        pass!(self, delete_snapshot, domain, domain, name)
    }
    fn cancel(&self) {
        self.inner.cancel()
    }
}

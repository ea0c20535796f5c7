//! The one place that talks to libvirt.
//!
//! Two narrow traits: [`HostRead`], the bulk reads `observe` makes, and
//! [`Backend`], the writes `apply` executes. [`LibvirtHost`] implements both
//! with the `virt` crate, counting every call by kind; [`fault::FaultyHost`]
//! wraps any implementation to inject errors, lost connections and slow
//! calls in tests. Calls block: callers run them on plain threads (apply's
//! workers, observe's per-host threads) or `spawn_blocking`, never on an
//! async reactor.

pub mod fault;
mod libvirt;

use std::time::Duration;

pub use libvirt::{
    version_string, About, ConnectFailure, ConnectOptions, HostEvent, LibvirtHost, Subscription,
};

use crate::model::PowerState;

/// A libvirt call failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum BackendError {
    #[error("cannot connect to {uri}: {message}")]
    Connect { uri: String, message: String },
    #[error("{call} {object}: {message}")]
    Call {
        call: &'static str,
        object: String,
        message: String,
        /// libvirt's error number (`virErrorNumber`), 0 when the error did
        /// not come from libvirt.
        code: u32,
    },
    /// A wait (graceful shutdown) was cancelled: the process is stopping.
    #[error("{call} {object}: cancelled")]
    Cancelled { call: &'static str, object: String },
}

/// libvirt error numbers virtsync decides on (`virterror.h`).
pub mod code {
    pub const NO_CONNECT: u32 = 5;
    pub const OPERATION_FAILED: u32 = 9;
    pub const SYSTEM_ERROR: u32 = 38;
    pub const RPC: u32 = 39;
    pub const NO_DOMAIN: u32 = 42;
    pub const NO_NETWORK: u32 = 43;
    pub const OPERATION_INVALID: u32 = 55;
    pub const NO_STORAGE_POOL: u32 = 49;
    pub const NO_STORAGE_VOL: u32 = 50;
    pub const OPERATION_TIMEOUT: u32 = 68;
    pub const AGENT_UNRESPONSIVE: u32 = 86;
    // Refusals of the user, by the daemon (what `doctor` explains).
    pub const AUTH_FAILED: u32 = 45;
    pub const AUTH_CANCELLED: u32 = 79;
    pub const ACCESS_DENIED: u32 = 88;
    pub const AUTH_UNAVAILABLE: u32 = 94;
}

/// libvirt error domains (`virErrorDomain`: which part of libvirt
/// failed) virtsync decides on.
pub mod from {
    pub const AUTH: u32 = 46;
    pub const SSH: u32 = 50;
    pub const ACCESS: u32 = 55;
    pub const POLKIT: u32 = 60;
    pub const LIBSSH: u32 = 66;
}

impl BackendError {
    /// libvirt's error number, if the error came from a libvirt call.
    pub fn code(&self) -> Option<u32> {
        match self {
            BackendError::Call { code, .. } if *code != 0 => Some(*code),
            _ => None,
        }
    }

    /// Worth trying again later as it is: the connection or the daemon
    /// failed, not the request (a controller requeues these with backoff;
    /// a permanent error waits for a change of the manifests or the host).
    pub fn is_transient(&self) -> bool {
        match self {
            BackendError::Connect { .. } | BackendError::Cancelled { .. } => true,
            BackendError::Call { code: c, .. } => matches!(
                *c,
                code::NO_CONNECT
                    | code::SYSTEM_ERROR
                    | code::RPC
                    | code::OPERATION_TIMEOUT
                    | code::AGENT_UNRESPONSIVE
            ),
        }
    }

    /// The object is not (or no longer) on the host.
    pub fn is_not_found(&self) -> bool {
        matches!(
            self.code(),
            Some(code::NO_DOMAIN | code::NO_NETWORK | code::NO_STORAGE_POOL | code::NO_STORAGE_VOL)
        )
    }
}

pub type Result<T> = std::result::Result<T, BackendError>;

/// The identity libvirt gave an object it defined or created: the UUID of
/// a domain, network or pool, the key (path) of a volume. Ownership is
/// recorded from it, not from a guess by name.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Created {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uuid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

impl Created {
    /// From the `virt` crate's answer (a failure to read the identity back
    /// leaves it unknown; the object exists all the same).
    pub fn uuid<E>(r: std::result::Result<String, E>) -> Created {
        Created {
            uuid: r.ok(),
            key: None,
        }
    }

    pub fn key<E>(r: std::result::Result<String, E>) -> Created {
        Created {
            uuid: None,
            key: r.ok(),
        }
    }
}

/// One domain of a bulk listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainEntry {
    pub name: String,
    pub uuid: String,
    pub state: PowerState,
    /// The hypervisor's id of a running domain (a new one at every start):
    /// held by the listing's handle, no call.
    pub id: Option<u32>,
    pub persistent: bool,
    /// Only meaningful when the listing was asked for autostart.
    pub autostart: bool,
}

/// One network or pool of a bulk listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub uuid: String,
    pub active: bool,
    /// Only meaningful when the listing was asked for autostart.
    pub autostart: bool,
}

/// The reads `observe` makes: a constant number of bulk listings per host
/// and one XML read per object. Reading an object listed just before costs
/// no lookup (implementations keep the listing's handles).
pub trait HostRead: Send + Sync {
    fn uri(&self) -> &str;
    fn capabilities(&self) -> Result<String>;
    fn list_domains(&self, with_autostart: bool) -> Result<Vec<DomainEntry>>;
    /// The persistent (inactive) XML, or the live one with `live`; secrets
    /// included, since a re-define built from it must keep them.
    fn domain_xml(&self, name: &str, live: bool) -> Result<String>;
    fn list_networks(&self, with_autostart: bool) -> Result<Vec<Entry>>;
    /// The persistent config (`live` false; the live one for a network
    /// without a persistent config) or, of an active network, the live
    /// one: where a DHCP host entry exists decides how it is updated.
    fn network_xml(&self, name: &str, live: bool) -> Result<String>;
    fn list_pools(&self, with_autostart: bool) -> Result<Vec<Entry>>;
    /// The active networks only (one call, and the autostart listing when
    /// asked): when every network the manifests name runs — a converged
    /// host — the inactive ones are not needed.
    fn list_active_networks(&self, with_autostart: bool) -> Result<Vec<Entry>>;
    /// The active pools only, as [`HostRead::list_active_networks`].
    fn list_active_pools(&self, with_autostart: bool) -> Result<Vec<Entry>>;
    fn pool_xml(&self, name: &str) -> Result<String>;
    /// Volume names of an active pool.
    fn list_volumes(&self, pool: &str) -> Result<Vec<String>>;
    fn volume_xml(&self, pool: &str, name: &str) -> Result<String>;
    /// Every snapshot of a domain with its XML (name → XML).
    fn snapshots(&self, domain: &str) -> Result<Vec<(String, String)>>;
    /// The IP addresses of a running domain's interfaces, as the managed
    /// networks' DHCP leases or the guest agent know them.
    fn domain_addresses(&self, domain: &str, source: AddressSource) -> Result<Vec<IfaceAddrs>>;
}

/// Where a running domain's addresses come from (`virDomainInterfaceAddresses`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressSource {
    /// The DHCP leases of libvirt's managed networks.
    Lease,
    /// The QEMU guest agent (a domain with its channel).
    Agent,
}

impl AddressSource {
    pub fn as_str(self) -> &'static str {
        match self {
            AddressSource::Lease => "lease",
            AddressSource::Agent => "agent",
        }
    }
}

/// One interface of a domain and its addresses with their prefixes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IfaceAddrs {
    pub name: String,
    pub hwaddr: Option<String>,
    pub addrs: Vec<(String, u8)>,
}

/// The writes `apply` performs. Each method is one decision-free step of a
/// plan action.
pub trait Backend: Send + Sync {
    fn define_domain(&self, xml: &str) -> Result<Created>;
    /// Start a transient domain from XML (`virsh create`).
    fn create_domain(&self, xml: &str, paused: bool) -> Result<Created>;
    fn start_domain(&self, name: &str, paused: bool) -> Result<()>;
    fn suspend_domain(&self, name: &str) -> Result<()>;
    fn resume_domain(&self, name: &str) -> Result<()>;
    /// ACPI shutdown, waiting up to `timeout` for the guest to stop, then
    /// destroy (a guest without an OS never reacts to ACPI). The wait ends
    /// early with [`BackendError::Cancelled`] once [`Backend::cancel`] was
    /// called.
    fn shutdown_domain(&self, name: &str, timeout: Duration) -> Result<()>;
    fn destroy_domain(&self, name: &str) -> Result<()>;
    /// Undefine keeping disks, removing what `flags` name.
    fn undefine_domain(&self, name: &str, flags: UndefineFlags) -> Result<()>;
    /// Live-migrate the running domain to another host, peer to peer: this
    /// host's libvirtd dials `m.uri`. Returns when the guest runs there
    /// (or the migration failed: it then still runs here).
    fn migrate_domain(&self, name: &str, m: &MigrateSpec) -> Result<()>;
    fn set_domain_autostart(&self, name: &str, on: bool) -> Result<()>;
    /// Balloon target of the running guest (KiB); not persistent.
    fn set_live_memory(&self, name: &str, kib: u64) -> Result<()>;
    /// Replace virtsync's ownership marker in the live definition of a
    /// running domain (`fragment`: see `render::marker_fragment`).
    fn set_live_marker(&self, name: &str, fragment: &str) -> Result<()>;
    /// Online vCPUs of the running guest; not persistent.
    fn set_live_vcpus(&self, name: &str, n: u32) -> Result<()>;
    /// Hot-plug a device into the running guest; not persistent.
    fn attach_device(&self, name: &str, xml: &str) -> Result<()>;
    /// Ask the running guest to release a device; not persistent.
    fn detach_device(&self, name: &str, xml: &str) -> Result<()>;

    fn define_network(&self, xml: &str) -> Result<Created>;
    fn start_network(&self, name: &str) -> Result<()>;
    fn destroy_network(&self, name: &str) -> Result<()>;
    /// Remove a (stopped) network's definition.
    fn undefine_network(&self, name: &str) -> Result<()>;
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

    fn define_pool(&self, xml: &str) -> Result<Created>;
    fn build_pool(&self, name: &str) -> Result<()>;
    fn start_pool(&self, name: &str) -> Result<()>;
    fn destroy_pool(&self, name: &str) -> Result<()>;
    /// Remove a (stopped) pool's definition; its directory and volumes stay.
    fn undefine_pool(&self, name: &str) -> Result<()>;
    fn set_pool_autostart(&self, name: &str, on: bool) -> Result<()>;

    /// Create a volume from XML, as a full copy of `clone_from` when given.
    fn create_volume(
        &self,
        pool: &str,
        xml: &str,
        clone_from: Option<(&str, &str)>,
    ) -> Result<Created>;
    fn resize_volume(&self, pool: &str, name: &str, capacity: u64) -> Result<()>;
    /// Stream `data` into an existing volume from its start, through
    /// libvirt (`virStorageVolUpload`: works on a remote host too), until
    /// `data` ends; returns the bytes sent. A read error aborts the stream
    /// and is the error's message.
    fn upload_volume(&self, pool: &str, name: &str, data: &mut dyn std::io::Read) -> Result<u64>;
    /// Delete a volume and its data.
    fn delete_volume(&self, pool: &str, name: &str) -> Result<()>;
    /// Grow the image behind disk `target` of running domain `domain`.
    fn resize_disk(&self, domain: &str, target: &str, capacity: u64) -> Result<()>;

    /// Take a snapshot of a domain from `<domainsnapshot>` XML: internal,
    /// with the memory state when the guest runs, of the disks when it is
    /// shut off.
    fn create_snapshot(&self, domain: &str, xml: &str) -> Result<()>;
    /// Replace the metadata of an existing snapshot (its description) with
    /// `xml`, its full XML as libvirt gave it, edited (`REDEFINE`).
    fn redefine_snapshot(&self, domain: &str, xml: &str) -> Result<()>;
    /// Bring a domain back to a snapshot (disks, and the memory state and
    /// power state it was taken in).
    fn revert_snapshot(&self, domain: &str, name: &str) -> Result<()>;
    /// Delete one snapshot (not its children).
    fn delete_snapshot(&self, domain: &str, name: &str) -> Result<()>;
    /// Every snapshot of `domain` as a redefine needs it, parents before
    /// children: read before a re-create drops the snapshots' metadata.
    fn save_snapshots(&self, domain: &str) -> Result<Vec<SavedSnapshot>>;
    /// Redefine the metadata of a saved snapshot (`REDEFINE`, and
    /// `CURRENT` for the one that was current); its data never left the
    /// disk images.
    fn restore_snapshot(&self, domain: &str, saved: &SavedSnapshot) -> Result<()>;
    /// Stop waiting: shutdown waits in progress and later ones return
    /// [`BackendError::Cancelled`] (SIGTERM of a long-running process).
    fn cancel(&self);
}

/// One snapshot's metadata, saved to be redefined on the domain's new
/// definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedSnapshot {
    pub name: String,
    pub xml: String,
    pub current: bool,
}

/// A live migration as the plan carries it: where to, and how.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MigrateSpec {
    /// The target's URI as the source's libvirtd dials it.
    pub uri: String,
    /// Defined on the target and undefined here (a persistent domain);
    /// a transient one stays transient.
    pub persistent: bool,
    pub tunnelled: bool,
    pub compressed: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bandwidth_mib: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_downtime_ms: Option<u64>,
}

/// What undefining a domain removes besides its definition (disks never):
/// decided by the planner from what the domain has, carried in the plan.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UndefineFlags {
    pub managed_save: bool,
    pub snapshots_metadata: bool,
    pub checkpoints_metadata: bool,
    /// Delete the UEFI variable store.
    pub nvram: bool,
    /// Keep the UEFI variable store (a domain re-defined in place of this
    /// one uses it again); libvirt refuses to undefine a domain with NVRAM
    /// unless one of the two is set.
    pub keep_nvram: bool,
}

/// Seconds as a `Duration`, for option defaults.
pub(crate) const fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// The `<name>` of an XML document, for messages and fault matching.
pub(crate) fn xml_name(xml: &str) -> String {
    crate::xml::Element::parse(xml)
        .ok()
        .and_then(|e| e.child("name").map(|n| n.text()))
        .unwrap_or_else(|| "?".into())
}

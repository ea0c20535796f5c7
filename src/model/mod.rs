//! The desired state: every manifest of a directory, validated and resolved.
//!
//! Values here are normalised (sizes in bytes, MACs and UUIDs lower-case,
//! durations parsed, defaults marked *enforced* in docs/manifests.md applied).
//! Create-time defaults (bus, model, target, generated MACs, ...) stay
//! `None`: whoever creates the object fills them in, and the planner compares
//! them only when the manifest sets them. All maps are BTreeMaps keyed host
//! first, so iteration (and everything printed from it) is deterministic.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use crate::units::{Bytes, Kib};

pub mod caps;
pub mod identity;
mod select;
pub mod vocab;

pub use caps::{Capabilities, GuestCaps, MachineFamily};
pub use identity::HostId;
pub use select::DEFAULT_HOST_NAME;

pub use vocab::{
    BootDevice, Console, CpuMode, DiskBus, DiskDevice, DomainType, Firmware, ForwardMode,
    GraphicsType, Kind, NicModel, PoolType, PowerState, ReclaimPolicy, RestartPolicy, VolumeFormat,
};

/// Which libvirt connection an object lives on: a Host manifest's name, or
/// the default connection (`--connect`, `LIBVIRT_DEFAULT_URI`). One type
/// everywhere — desired and observed state, plans, apply — written as the
/// Host's name in plans and messages, and as `""` for the default
/// connection in JSON.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HostName(Option<String>);

impl HostName {
    /// The default connection.
    pub const DEFAULT: HostName = HostName(None);

    /// The host of a Host manifest.
    pub fn named(name: impl Into<String>) -> HostName {
        HostName(Some(name.into()))
    }

    /// From `metadata.host` (absent: the default connection).
    pub fn from_meta(host: Option<&str>) -> HostName {
        HostName(host.map(str::to_string))
    }

    /// The Host manifest's name; `None` for the default connection.
    pub fn name(&self) -> Option<&str> {
        self.0.as_deref()
    }

    pub fn is_default(&self) -> bool {
        self.0.is_none()
    }

    /// The name, or `""` for the default connection (JSON, dependency keys).
    pub fn label(&self) -> &str {
        self.0.as_deref().unwrap_or("")
    }
}

impl std::fmt::Display for HostName {
    /// `host NAME`, or `the default connection`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Some(n) => write!(f, "host {n}"),
            None => f.write_str("the default connection"),
        }
    }
}

impl Serialize for HostName {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.label())
    }
}

impl<'de> serde::Deserialize<'de> for HostName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<HostName, D::Error> {
        let s = String::deserialize(d)?;
        Ok(if s.is_empty() {
            HostName::DEFAULT
        } else {
            HostName::named(s)
        })
    }
}

/// Where a manifest came from, for messages and the ownership marker.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Source {
    /// Relative to the manifest directory, `/`-separated.
    pub file: PathBuf,
    pub line: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Meta {
    pub name: String,
    pub host: HostName,
    pub labels: BTreeMap<String, String>,
    pub source: Source,
}

/// Key of objects that are unique per kind per host.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct ObjKey {
    pub host: HostName,
    pub name: String,
}

/// Volumes are unique per pool.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct VolKey {
    pub host: HostName,
    pub pool: String,
    pub name: String,
}

/// Snapshots are unique per domain.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct SnapKey {
    pub host: HostName,
    pub domain: String,
    pub name: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DesiredState {
    /// Host manifests by name.
    pub hosts: BTreeMap<String, Host>,
    #[serde(serialize_with = "as_pairs")]
    pub domains: BTreeMap<ObjKey, Domain>,
    #[serde(serialize_with = "as_pairs")]
    pub networks: BTreeMap<ObjKey, Network>,
    #[serde(serialize_with = "as_pairs")]
    pub pools: BTreeMap<ObjKey, Pool>,
    #[serde(serialize_with = "as_pairs")]
    pub volumes: BTreeMap<VolKey, Volume>,
    #[serde(serialize_with = "as_pairs")]
    pub snapshots: BTreeMap<SnapKey, Snapshot>,
    /// `--host NAME` ([`DesiredState::select_host`]): the one host this
    /// state is reconciled on, reached at the default connection's URI
    /// (the controller of a fleet runs on the host it reconciles); the
    /// other hosts are not connected to. Not part of what is compared.
    #[serde(skip)]
    pub only_host: Option<HostName>,
}

/// JSON object keys must be strings: maps keyed by structs or tuples are
/// written as a sorted list of `[key, value]` pairs instead.
pub fn as_pairs<K: Serialize, V: Serialize, S: serde::Serializer>(
    map: &BTreeMap<K, V>,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_seq(map.iter())
}

impl DesiredState {
    /// Number of manifests (external ones included).
    pub fn len(&self) -> usize {
        self.hosts.len()
            + self.domains.len()
            + self.networks.len()
            + self.pools.len()
            + self.volumes.len()
            + self.snapshots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Count per kind, in a fixed order, for summaries.
    pub fn counts(&self) -> BTreeMap<&'static str, usize> {
        BTreeMap::from([
            ("Domain", self.domains.len()),
            ("Host", self.hosts.len()),
            ("Network", self.networks.len()),
            ("Snapshot", self.snapshots.len()),
            ("StoragePool", self.pools.len()),
            ("Volume", self.volumes.len()),
        ])
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Host {
    pub meta: Meta,
    pub uri: String,
    /// How domains moved here are migrated.
    pub migration: Migration,
}

/// How a running domain is live-migrated to a host (the Host manifest's
/// `migration`; the defaults for a host without one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Migration {
    /// Through the libvirt connection (works wherever the URI does), not a
    /// direct QEMU-to-QEMU stream (faster, but the target must be reachable
    /// by its hostname from the source).
    pub tunnelled: bool,
    /// MiB/s; `None`: unlimited.
    pub bandwidth_mib: Option<u64>,
    pub compressed: bool,
    pub max_downtime_ms: Option<u64>,
    /// The URI the source host's libvirtd dials (peer to peer), when the
    /// one virtsync uses does not work from there (`qemu:///system`, a
    /// workstation's ssh alias).
    pub uri: Option<String>,
}

impl Default for Migration {
    fn default() -> Migration {
        Migration {
            tunnelled: true,
            bandwidth_mib: None,
            compressed: false,
            max_downtime_ms: None,
            uri: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct XmlPatch {
    /// Element path segments with 0-based indexes (`/a/b[2]` → `[("a",0),("b",1)]`).
    pub at: Vec<(String, usize)>,
    /// As written, for display.
    pub at_text: String,
    /// One well-formed XML element.
    pub merge: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Domain {
    pub meta: Meta,
    /// Enforced: default running.
    pub state: PowerState,
    /// Enforced: default true.
    pub persistent: bool,
    pub autostart: Option<bool>,
    pub domain_type: Option<DomainType>,
    pub arch: Option<String>,
    pub machine: Option<String>,
    pub firmware: Option<Firmware>,
    pub secure_boot: Option<bool>,
    pub uuid: Option<String>,
    /// `<currentMemory>`.
    pub memory: Bytes,
    /// `<memory>`.
    pub max_memory: Option<Bytes>,
    pub vcpus: u32,
    pub max_vcpus: Option<u32>,
    pub cpu: Option<Cpu>,
    pub boot: Option<Vec<BootDevice>>,
    pub disks: Option<Vec<Disk>>,
    pub interfaces: Option<Vec<Interface>>,
    pub graphics: Option<Graphics>,
    pub console: Option<Console>,
    pub restart_policy: RestartPolicy,
    pub shutdown_timeout: Duration,
    pub snapshot_policy: Option<SnapshotPolicy>,
    /// The cloud-init seed volume, which is also the last of `disks` (a
    /// read-only CD-ROM) and a volume of the desired state.
    pub cloud_init: Option<SeedRef>,
    /// `waitFor.address`: how long `apply` waits for the running guest to
    /// have an IP address.
    pub wait_for_address: Option<Duration>,
    pub xml: Vec<XmlPatch>,
}

/// Where a domain's cloud-init seed is: a volume whose name carries a
/// hash of its content, so that changed data is a new volume (and a
/// changed disk of the domain), never a rewrite of one a guest reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SeedRef {
    pub pool: String,
    pub volume: String,
    pub files: SeedFiles,
}

/// The files of a NoCloud seed, final (defaults filled in, keys merged).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SeedFiles {
    pub user_data: String,
    pub meta_data: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_config: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cpu {
    pub mode: CpuMode,
    pub model: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum DiskSource {
    Volume {
        pool: String,
        name: String,
    },
    Path {
        path: String,
        format: VolumeFormat,
    },
    /// An empty cdrom drive.
    Empty,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Disk {
    pub source: DiskSource,
    pub device: DiskDevice,
    pub bus: Option<DiskBus>,
    pub target: Option<String>,
    pub readonly: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum InterfaceSource {
    Network(String),
    Bridge(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Interface {
    pub source: InterfaceSource,
    /// Lower-case.
    pub mac: Option<String>,
    pub model: Option<NicModel>,
    pub boot_rom: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Graphics {
    pub kind: GraphicsType,
    pub listen: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SnapshotPolicy {
    pub before_disruptive_change: bool,
    pub keep: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Network {
    pub meta: Meta,
    /// Exists on the host, never changed (`metadata.external`).
    pub external: bool,
    pub uuid: Option<String>,
    pub forward: Option<Forward>,
    pub bridge: Option<Bridge>,
    pub mtu: Option<u32>,
    pub domain: Option<String>,
    pub ipv4: Option<IpConfig>,
    pub ipv6: Option<IpConfig>,
    pub dns: Option<Dns>,
    pub autostart: Option<bool>,
    /// Enforced: default true.
    pub active: bool,
    pub restart_policy: RestartPolicy,
    pub xml: Vec<XmlPatch>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Forward {
    pub mode: ForwardMode,
    pub dev: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Bridge {
    pub name: Option<String>,
    pub stp: Option<bool>,
    pub delay: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IpConfig {
    pub address: std::net::IpAddr,
    pub prefix: u8,
    pub dhcp: Option<Dhcp>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Dhcp {
    pub ranges: Option<Vec<(std::net::IpAddr, std::net::IpAddr)>>,
    pub hosts: Option<Vec<DhcpHost>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DhcpHost {
    pub mac: Option<String>,
    pub name: Option<String>,
    pub ip: std::net::IpAddr,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Dns {
    pub enable: Option<bool>,
    pub forwarders: Option<Vec<std::net::IpAddr>>,
    pub hosts: Option<Vec<(std::net::IpAddr, Vec<String>)>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Pool {
    pub meta: Meta,
    pub external: bool,
    /// `None` only for external pools.
    pub pool_type: Option<PoolType>,
    pub path: Option<String>,
    pub source: Option<PoolSource>,
    pub autostart: Option<bool>,
    /// Enforced: default true.
    pub active: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PoolSource {
    pub host: Option<String>,
    pub dir: Option<String>,
    pub device: Option<String>,
    pub name: Option<String>,
    pub format: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Volume {
    pub meta: Meta,
    pub external: bool,
    pub pool: String,
    /// Bytes; `None` only for external volumes.
    pub capacity: Option<u64>,
    /// Create-time default qcow2.
    pub format: Option<VolumeFormat>,
    pub backing_store: Option<(String, String)>,
    pub clone_from: Option<(String, String)>,
    /// Content from an image, uploaded once at creation (then `capacity`
    /// is a minimum and `format` comes from the image).
    pub source: Option<ImageSource>,
    /// A cloud-init seed volume (made from a Domain's `cloudInit`, never
    /// written in a manifest): an ISO of these files, made at creation.
    pub seed: Option<SeedFiles>,
    pub reclaim_policy: ReclaimPolicy,
}

/// Where an image volume's content comes from: fetched and streamed into
/// the pool once, when the volume is created. Recorded in the inventory
/// then, so a later change of either field is seen (and refused: a volume
/// is never replaced).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageSource {
    /// An `http://`, `https://` or `file://` URL, or an absolute path on
    /// the machine running virtsync.
    pub location: String,
    /// Lower-case hex; required for http(s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Snapshot {
    pub meta: Meta,
    pub domain: String,
    pub description: Option<String>,
}

// ---------------------------------------------------------------- observed

/// One host as observed: bulk facts for every object, XML only for the
/// objects the manifests name.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ObservedHost {
    pub uri: String,
    pub caps: Capabilities,
    pub domains: BTreeMap<String, ObservedDomain>,
    pub networks: BTreeMap<String, ObservedNetwork>,
    pub pools: BTreeMap<String, ObservedPool>,
    /// Keyed by (pool, volume name); listed only for pools the manifests name.
    #[serde(serialize_with = "as_pairs")]
    pub volumes: BTreeMap<(String, String), ObservedVolume>,
    /// The snapshots of the domains that Snapshot manifests name, as listed
    /// (domain → snapshot name → its XML); a domain is absent when its
    /// snapshots were not listed (it does not exist, or nothing asked).
    pub snapshots: BTreeMap<String, BTreeMap<String, String>>,
    /// Objects listed but not readable (vanished between the listing and
    /// the read, or refused): kind and name (`pool/volume` for volumes) →
    /// the error. The planner blocks them.
    #[serde(serialize_with = "as_pairs")]
    pub read_errors: BTreeMap<(Kind, String), String>,
    /// Every pool was listed: a pool absent from `pools` is not on the
    /// host (settles the inventory's intents).
    #[serde(skip)]
    pub pools_listed: bool,
    /// Pools whose volumes were listed: a volume of one of them absent
    /// from `volumes` is not there.
    #[serde(skip)]
    pub volumes_listed: std::collections::BTreeSet<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObservedDomain {
    pub name: String,
    pub uuid: String,
    pub state: PowerState,
    /// The hypervisor's id while running: a new one at every start, so
    /// "the guest booted since" is an id that changed.
    pub id: Option<u32>,
    pub persistent: bool,
    /// Read only when a manifest sets autostart for a domain of this host.
    pub autostart: bool,
    /// Inactive (persistent) XML; read only for managed names.
    pub xml: Option<String>,
    /// The live XML of a running domain, read only when the planner asks
    /// for it (the plan's `live_xml_wanted`): live actions
    /// (resize, hot-plug, unplug) address the device the running guest has,
    /// and a guest whose config changed since it booted (the ownership
    /// marker says so) is compared with what it runs.
    pub live_xml: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObservedNetwork {
    pub name: String,
    pub uuid: String,
    pub active: bool,
    /// Read only when a manifest sets autostart for a network of this host.
    pub autostart: bool,
    pub xml: Option<String>,
    /// The live XML of an active network, read only when the planner asks
    /// (the plan's `live_xml_wanted`): a DHCP host entry is updated where
    /// it exists — the running network, the config, or both.
    pub live_xml: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObservedPool {
    pub name: String,
    pub uuid: String,
    pub active: bool,
    /// Read only when a manifest sets autostart for a pool of this host.
    pub autostart: bool,
    pub xml: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObservedVolume {
    pub pool: String,
    pub name: String,
    pub xml: Option<String>,
}

/// Every host the manifests know (the default connection and every Host
/// manifest), observed — or the reason it could not be.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ObservedState {
    #[serde(serialize_with = "as_pairs")]
    pub hosts: BTreeMap<HostName, ObservedHost>,
    /// Hosts that could not be connected to or observed, with the error.
    #[serde(serialize_with = "as_pairs")]
    pub unreachable: BTreeMap<HostName, String>,
    /// The URI of every host, reachable or not.
    #[serde(serialize_with = "as_pairs")]
    pub uris: BTreeMap<HostName, String>,
}

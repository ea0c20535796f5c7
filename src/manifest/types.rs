//! The manifest documents exactly as they are written in YAML (manifests.md).
//!
//! These types are the *shape* of a manifest: serde reads them with
//! `deny_unknown_fields`, and schemars derives `schemas/virtsync.schema.json`
//! from them. Values that need checking beyond their shape (names, sizes,
//! durations, MACs, paths, references) stay as written here and are checked
//! by [`super::validate`], which gathers every error of a directory at once
//! instead of stopping at the first one as serde would.

use std::collections::BTreeMap;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Serialize};

/// The only `apiVersion` this release reads.
pub const API_VERSION: &str = "virtsync.io/v1alpha1";

/// The kinds of manifest, in the order the dependency graph creates them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Kind {
    Host,
    StoragePool,
    Volume,
    Network,
    Domain,
    Snapshot,
}

impl Kind {
    pub const ALL: [Kind; 6] = [
        Kind::Domain,
        Kind::Network,
        Kind::StoragePool,
        Kind::Volume,
        Kind::Snapshot,
        Kind::Host,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Host => "Host",
            Kind::StoragePool => "StoragePool",
            Kind::Volume => "Volume",
            Kind::Network => "Network",
            Kind::Domain => "Domain",
            Kind::Snapshot => "Snapshot",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Kinds that may name an object that exists on the host but is not
    /// managed (`metadata.external: true`).
    pub fn may_be_external(self) -> bool {
        matches!(self, Kind::Network | Kind::StoragePool | Kind::Volume)
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One document: `apiVersion`, `kind`, `metadata`, `spec`.
///
/// `apiVersion` and `kind` are read as plain strings so that a wrong value
/// becomes a positioned semantic error with a suggestion rather than a bare
/// serde message.
#[derive(Debug, Clone, Deserialize)]
#[serde(
    deny_unknown_fields,
    rename_all = "camelCase",
    bound(deserialize = "S: serde::de::DeserializeOwned")
)]
pub struct Document<S> {
    pub api_version: String,
    pub kind: String,
    pub metadata: Metadata,
    /// Optional only for `metadata.external` objects; validation says so.
    #[serde(default)]
    pub spec: Option<S>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Metadata {
    /// `^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`, not `.` or `..`.
    #[schemars(regex(pattern = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$"))]
    pub name: String,
    /// Name of a Host manifest. Omitted: the `--connect` connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Free-form labels, used by `--selector k=v`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// The object exists on the host and is never changed by virtsync
    /// (Network, StoragePool, Volume only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external: Option<bool>,
}

/// A size written as `<integer><unit>` (`20GiB`, `512MiB`, `1G`).
///
/// Kept as written: a bare number, a bad unit and an overflow are reported by
/// validation with the field's position, all of them at once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct SizeText(pub String);

impl<'de> Deserialize<'de> for SizeText {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Accept any scalar here so that `memory: 1024` gets the helpful
        // "needs a unit" message from validation instead of a type error.
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = SizeText;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a size such as 20GiB")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<SizeText, E> {
                Ok(SizeText(v.to_string()))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<SizeText, E> {
                Ok(SizeText(v.to_string()))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<SizeText, E> {
                Ok(SizeText(v.to_string()))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<SizeText, E> {
                Ok(SizeText(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for SizeText {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Size".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "A size: an integer and a unit, B, KiB, MiB, GiB, TiB (1024-based), KB, MB, GB, TB (1000-based) or k, M, G, T (= KiB, MiB, GiB, TiB as in virsh).",
            "pattern": "^[0-9]+(B|KiB|MiB|GiB|TiB|KB|MB|GB|TB|k|M|G|T)$"
        })
    }
}

/// A duration as humantime reads it (`30s`, `5m`, `1m30s`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DurationText(pub String);

impl JsonSchema for DurationText {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Duration".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "A duration such as 30s, 5m or 1m30s.",
            "pattern": "^([0-9]+ *[a-zµ]+ *)+$"
        })
    }
}

// ---------------------------------------------------------------- Domain

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum PowerState {
    Running,
    Shutoff,
    Paused,
}

/// libvirt's domain types (`<domain type=...>`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum DomainType {
    Kvm,
    Qemu,
    Xen,
    Lxc,
    Hvf,
    Bhyve,
    Vz,
    Vmware,
    Hyperv,
    Test,
}

impl DomainType {
    pub fn as_str(self) -> &'static str {
        match self {
            DomainType::Kvm => "kvm",
            DomainType::Qemu => "qemu",
            DomainType::Xen => "xen",
            DomainType::Lxc => "lxc",
            DomainType::Hvf => "hvf",
            DomainType::Bhyve => "bhyve",
            DomainType::Vz => "vz",
            DomainType::Vmware => "vmware",
            DomainType::Hyperv => "hyperv",
            DomainType::Test => "test",
        }
    }
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Firmware {
    Bios,
    Uefi,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum CpuMode {
    HostPassthrough,
    HostModel,
    Custom,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CpuSpec {
    pub mode: CpuMode,
    /// Only with `mode: custom`, required there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum BootDevice {
    Hd,
    Cdrom,
    Network,
    Fd,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum DiskDevice {
    Disk,
    Cdrom,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum DiskBus {
    Virtio,
    Sata,
    Scsi,
    Ide,
}

impl DiskBus {
    /// The device-name prefix libvirt expects for targets on this bus.
    pub fn target_prefix(self) -> &'static str {
        match self {
            DiskBus::Virtio => "vd",
            DiskBus::Sata | DiskBus::Scsi => "sd",
            DiskBus::Ide => "hd",
        }
    }
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum VolumeFormat {
    Qcow2,
    Raw,
}

/// A reference to a volume: `{pool, name}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct VolumeRef {
    pub pool: String,
    pub name: String,
}

/// Like [`VolumeRef`], with the pool defaulting to the referring volume's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct VolumeSourceRef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool: Option<String>,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DiskSpec {
    /// A volume of a pool (`<disk type='volume'>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume: Option<VolumeRef>,
    /// An absolute file path under an allowed root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Default disk. `{device: cdrom}` alone is an empty cdrom drive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<DiskDevice>,
    /// Default virtio (sata for cdrom); create-time default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bus: Option<DiskBus>,
    /// Default: assigned in order per bus (vda, vdb, ... / sda, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readonly: Option<bool>,
    /// Only with `path:` (default raw); a volume brings its own format.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<VolumeFormat>,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum NicModel {
    Virtio,
    E1000,
    E1000e,
    Rtl8139,
    Vmxnet3,
}

impl NicModel {
    pub fn as_str(self) -> &'static str {
        match self {
            NicModel::Virtio => "virtio",
            NicModel::E1000 => "e1000",
            NicModel::E1000e => "e1000e",
            NicModel::Rtl8139 => "rtl8139",
            NicModel::Vmxnet3 => "vmxnet3",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct InterfaceSpec {
    /// A Network manifest (or external network) of the same host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    /// A host bridge such as br0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bridge: Option<String>,
    /// Unset: the MAC libvirt generated first is kept forever.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
    /// Default virtio; create-time default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<NicModel>,
    /// false = `<rom enabled='no'/>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot_rom: Option<bool>,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum GraphicsType {
    None,
    Vnc,
    Spice,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct GraphicsSpec {
    #[serde(rename = "type")]
    pub kind: GraphicsType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Console {
    Pty,
    None,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
pub enum RestartPolicy {
    #[serde(rename = "never")]
    Never,
    #[serde(rename = "onConfigChange")]
    OnConfigChange,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SnapshotPolicy {
    #[serde(default)]
    pub before_disruptive_change: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep: Option<u32>,
}

/// One entry of the `xml` escape hatch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct XmlPatchSpec {
    /// `/domain/os`, `/domain/devices/interface[2]`: element names, 1-based indexes.
    pub at: String,
    /// One XML element, merged under `at` (replacing a child of the same name).
    pub merge: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DomainSpec {
    /// Default running (enforced).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<PowerState>,
    /// false = transient, like `virsh create`. Default true (enforced).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persistent: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autostart: Option<bool>,
    /// Unset: kvm when the host offers it, else qemu.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub domain_type: Option<DomainType>,
    /// Unset: the host's native arch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
    /// Compared after libvirt expands it (q35 -> pc-q35-7.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub machine: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub firmware: Option<Firmware>,
    /// Only with `firmware: uefi`; default false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secure_boot: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uuid: Option<String>,
    /// The memory the guest has (`<currentMemory>`).
    pub memory: SizeText,
    /// Balloon ceiling (`<memory>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_memory: Option<SizeText>,
    /// Online vCPUs.
    pub vcpus: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_vcpus: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<CpuSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot: Option<Vec<BootDevice>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disks: Option<Vec<DiskSpec>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interfaces: Option<Vec<InterfaceSpec>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graphics: Option<GraphicsSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub console: Option<Console>,
    /// Default never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart_policy: Option<RestartPolicy>,
    /// Graceful (ACPI) shutdown, then destroy. Default 60s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shutdown_timeout: Option<DurationText>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_policy: Option<SnapshotPolicy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub xml: Option<Vec<XmlPatchSpec>>,
}

// ---------------------------------------------------------------- Network

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum ForwardMode {
    Nat,
    Route,
    Open,
    Bridge,
    Isolated,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ForwardSpec {
    pub mode: ForwardMode,
    /// Only for nat and route.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dev: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct BridgeSpec {
    /// Unset: libvirt picks one, kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stp: Option<bool>,
    /// Whole seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DhcpRangeSpec {
    pub start: String,
    pub end: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DhcpHostSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub ip: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DhcpSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ranges: Option<Vec<DhcpRangeSpec>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hosts: Option<Vec<DhcpHostSpec>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct IpSpec {
    pub address: String,
    pub prefix: u8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dhcp: Option<DhcpSpec>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DnsHostSpec {
    pub ip: String,
    pub hostnames: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DnsSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forwarders: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hosts: Option<Vec<DnsHostSpec>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NetworkSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uuid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forward: Option<ForwardSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bridge: Option<BridgeSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u32>,
    /// DNS domain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv4: Option<IpSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv6: Option<IpSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns: Option<DnsSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autostart: Option<bool>,
    /// Default true (enforced).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart_policy: Option<RestartPolicy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub xml: Option<Vec<XmlPatchSpec>>,
}

// ---------------------------------------------------------------- StoragePool

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum PoolType {
    Dir,
    Fs,
    Netfs,
    Logical,
}

impl PoolType {
    pub fn as_str(self) -> &'static str {
        match self {
            PoolType::Dir => "dir",
            PoolType::Fs => "fs",
            PoolType::Netfs => "netfs",
            PoolType::Logical => "logical",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PoolSourceSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dir: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct StoragePoolSpec {
    #[serde(rename = "type")]
    pub pool_type: PoolType,
    /// The target path.
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<PoolSourceSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autostart: Option<bool>,
    /// Default true (enforced).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
}

// ---------------------------------------------------------------- Volume

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum ReclaimPolicy {
    Retain,
    Delete,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct VolumeSpec {
    pub pool: String,
    /// Required unless the volume is external.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<SizeText>,
    /// Default qcow2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<VolumeFormat>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backing_store: Option<VolumeSourceRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clone_from: Option<VolumeSourceRef>,
    /// Default retain: removing the manifest never deletes data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reclaim_policy: Option<ReclaimPolicy>,
}

// ---------------------------------------------------------------- Snapshot, Host

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SnapshotSpec {
    pub domain: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HostSpec {
    /// A libvirt connection URI, e.g. qemu+ssh://kvm-a.example/system.
    pub uri: String,
}

// ---------------------------------------------------------------- schema

/// The JSON Schema of a manifest file's documents: one of the six kinds.
///
/// Written by hand around the derived spec schemas because the loader reads
/// `kind` first and then the matching document type; a serde-tagged enum
/// would lose the YAML positions of its fields.
pub fn json_schema() -> serde_json::Value {
    let mut gen = schemars::generate::SchemaSettings::draft2020_12().into_generator();
    let metadata = gen.subschema_for::<Metadata>();
    let kinds: [(Kind, Schema, &str); 6] = [
        (
            Kind::Domain,
            gen.subschema_for::<DomainSpec>(),
            "A virtual machine.",
        ),
        (
            Kind::Network,
            gen.subschema_for::<NetworkSpec>(),
            "A libvirt virtual network.",
        ),
        (
            Kind::StoragePool,
            gen.subschema_for::<StoragePoolSpec>(),
            "A storage pool.",
        ),
        (
            Kind::Volume,
            gen.subschema_for::<VolumeSpec>(),
            "A volume of a storage pool.",
        ),
        (
            Kind::Snapshot,
            gen.subschema_for::<SnapshotSpec>(),
            "An internal (qcow2) snapshot of a domain.",
        ),
        (
            Kind::Host,
            gen.subschema_for::<HostSpec>(),
            "A libvirt host, by connection URI.",
        ),
    ];
    let one_of: Vec<serde_json::Value> = kinds
        .into_iter()
        .map(|(kind, spec, description)| {
            // External objects need no spec; the others must carry one.
            let required: Vec<&str> = if kind.may_be_external() {
                vec!["apiVersion", "kind", "metadata"]
            } else {
                vec!["apiVersion", "kind", "metadata", "spec"]
            };
            serde_json::json!({
                "title": kind.as_str(),
                "description": description,
                "type": "object",
                "properties": {
                    "apiVersion": {"const": API_VERSION},
                    "kind": {"const": kind.as_str()},
                    "metadata": metadata,
                    "spec": spec,
                },
                "required": required,
                "additionalProperties": false,
            })
        })
        .collect();
    let defs: serde_json::Map<String, serde_json::Value> =
        gen.take_definitions(true).into_iter().collect();
    serde_json::json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://virtsync.io/schemas/v1alpha1/virtsync.schema.json",
        "title": "virtsync manifest",
        "description": "One virtsync manifest document (apiVersion virtsync.io/v1alpha1). Generated from the Rust types by `virtsync schema`.",
        "oneOf": one_of,
        "$defs": defs,
    })
}

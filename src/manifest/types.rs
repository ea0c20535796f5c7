//! The manifest documents exactly as they are written in YAML (docs/manifests.md).
//!
//! These types are the *shape* of a manifest: serde reads them with
//! `deny_unknown_fields`, and schemars derives `schemas/virtsync.schema.json`
//! from them. Values that need checking beyond their shape (names, sizes,
//! durations, MACs, paths, references) stay as written here and are checked
//! by [`super::validate`], which gathers every error of a directory at once
//! instead of stopping at the first one as serde would.
//!
//! Only the shapes live here; what the derives refer to for the schema (the
//! string syntaxes, the rules across fields, the hand-written schemas of
//! sizes and durations) and the assembly of the whole schema are in
//! [`super::schema`]. The enums the shapes share with the model are in
//! [`crate::model::vocab`], re-exported here.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use super::schema::json_schema;
use super::schema::{self, syntax};
pub use crate::model::vocab::*;

/// The only `apiVersion` this release reads.
pub const API_VERSION: &str = "virtsync.io/v1alpha1";

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
    /// Always `virtsync.io/v1alpha1`.
    pub api_version: String,
    /// Domain, Network, StoragePool, Volume, Snapshot or Host.
    pub kind: String,
    /// The object's name, host, labels and whether virtsync manages it.
    pub metadata: Metadata,
    /// Optional only for `metadata.external` objects; validation says so.
    #[serde(default)]
    pub spec: Option<S>,
}

/// Who the object is: its name, the Host it is on, labels for --selector, and whether virtsync manages it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Metadata {
    /// Unique per kind per host; Volume names per pool, Snapshot names per domain.
    #[schemars(with = "syntax::Name")]
    pub name: String,
    /// Name of a Host manifest. Omitted: the `--connect` connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<syntax::Name>")]
    pub host: Option<String>,
    /// Free-form labels, used by `--selector k=v`. Keys without `=`, `,` or
    /// spaces; values without `,`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend(
        "propertyNames" = {"minLength": 1, "pattern": "^[^=,\\s]+$"},
        "additionalProperties" = {"type": "string", "pattern": "^[^,]*$"}
    ))]
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

/// A duration as humantime reads it (`30s`, `5m`, `1m30s`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DurationText(pub String);

// ---------------------------------------------------------------- Domain

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(transform = schema::cpu_rules)]
pub struct CpuSpec {
    /// host-passthrough (the host's CPU as it is), host-model (the closest named model) or custom (`model`).
    pub mode: CpuMode,
    /// Only with `mode: custom`, required there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
}

/// A reference to a volume: `{pool, name}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct VolumeRef {
    /// A StoragePool of the same host.
    #[schemars(with = "syntax::Name")]
    pub pool: String,
    /// The volume's name in the pool.
    #[schemars(with = "syntax::Name")]
    pub name: String,
}

/// Like [`VolumeRef`], with the pool defaulting to the referring volume's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct VolumeSourceRef {
    /// Default: the referring volume's pool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<syntax::Name>")]
    pub pool: Option<String>,
    #[schemars(with = "syntax::Name")]
    pub name: String,
}

/// One disk: `volume` or `path`, or `{device: cdrom}` alone for an empty drive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(transform = schema::disk_rules)]
pub struct DiskSpec {
    /// A volume of a pool (`<disk type='volume'>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume: Option<VolumeRef>,
    /// An absolute file path under an allowed root (/var/lib/libvirt/images,
    /// `--allow-path`, the host's pool targets).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<syntax::AbsolutePath>")]
    pub path: Option<String>,
    /// Default disk. `{device: cdrom}` alone is an empty cdrom drive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<DiskDevice>,
    /// Default virtio (sata for cdrom); create-time default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bus: Option<DiskBus>,
    /// Default: assigned in order per bus (vda, vdb, ... / sda, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^(vd|sd|hd)[a-z]{1,3}$"))]
    pub target: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// The guest cannot write to the disk. Default false.
    pub readonly: Option<bool>,
    /// Only with `path:` (default raw); a volume brings its own format.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<VolumeFormat>,
}

/// One NIC: on a `network` or a host `bridge`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(transform = schema::interface_rules)]
pub struct InterfaceSpec {
    /// A Network manifest (or external network) of the same host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<syntax::Name>")]
    pub network: Option<String>,
    /// A host bridge such as br0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<syntax::InterfaceName>")]
    pub bridge: Option<String>,
    /// Unset: the MAC libvirt generated first is kept forever.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<syntax::MacAddress>")]
    pub mac: Option<String>,
    /// Default virtio; create-time default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<NicModel>,
    /// false = `<rom enabled='no'/>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot_rom: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(transform = schema::graphics_rules)]
pub struct GraphicsSpec {
    /// none removes all graphics.
    #[serde(rename = "type")]
    pub kind: GraphicsType,
    /// The address to listen on; only with vnc and spice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<syntax::IpAddress>")]
    pub listen: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SnapshotPolicy {
    #[serde(default)]
    /// Take a snapshot before an action that stops or replaces the guest (a restart for next-boot changes, a replace). Default false.
    pub before_disruptive_change: bool,
    /// How many policy snapshots to keep. Unset: all of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub keep: Option<u32>,
}

/// One entry of the `xml` escape hatch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct XmlPatchSpec {
    /// `/domain/os`, `/domain/devices/interface[2]`: element names, 1-based indexes.
    #[schemars(with = "syntax::XmlPath")]
    pub at: String,
    /// One XML element, merged under `at` (replacing a child of the same name).
    pub merge: String,
}

/// The desired state of a virtual machine: power state, hardware, disks, NICs, consoles.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(transform = schema::domain_rules)]
pub struct DomainSpec {
    /// Default running (enforced).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<PowerState>,
    /// false = transient, like `virsh create`. Default true (enforced).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persistent: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// Start the domain when the host boots. Unset: left as it is.
    pub autostart: Option<bool>,
    /// Unset: kvm when the host offers it, else qemu.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub domain_type: Option<DomainType>,
    /// Unset: the host's native arch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[A-Za-z0-9_]+$"))]
    pub arch: Option<String>,
    /// Compared after libvirt expands it (q35 -> pc-q35-7.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[A-Za-z0-9._-]+$"))]
    pub machine: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// bios (SeaBIOS) or uefi (OVMF). Unset: left as it is (libvirt's default: bios).
    pub firmware: Option<Firmware>,
    /// Only with `firmware: uefi`; default false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secure_boot: Option<bool>,
    /// Pins the UUID (import and adopt write it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<syntax::Uuid>")]
    pub uuid: Option<String>,
    /// The memory the guest has (`<currentMemory>`).
    pub memory: SizeText,
    /// Balloon ceiling (`<memory>`), at least `memory`. Unset: = memory at creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_memory: Option<SizeText>,
    /// Online vCPUs.
    #[schemars(range(min = 1))]
    pub vcpus: u32,
    /// At least `vcpus`. Unset: = vcpus at creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub max_vcpus: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// The CPU model the guest sees. Unset: libvirt's default (left as it is).
    pub cpu: Option<CpuSpec>,
    /// Boot order; each device at most once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("uniqueItems" = true))]
    pub boot: Option<Vec<BootDevice>>,
    /// The complete list of disks; matched by `target` when given, else by position.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disks: Option<Vec<DiskSpec>>,
    /// The complete list of NICs; matched by `mac` when given, else by position.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interfaces: Option<Vec<InterfaceSpec>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// A graphical console (VNC or SPICE). Unset: left as it is.
    pub graphics: Option<GraphicsSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// The serial console. Unset: left as it is.
    pub console: Option<Console>,
    /// Default never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart_policy: Option<RestartPolicy>,
    /// Graceful (ACPI) shutdown, then destroy. Default 60s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shutdown_timeout: Option<DurationText>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// Snapshots virtsync takes by itself before disruptive changes. Unset: none.
    pub snapshot_policy: Option<SnapshotPolicy>,
    /// A NoCloud seed ISO built by virtsync, attached read-only as a CD-ROM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_init: Option<CloudInitSpec>,
    /// What `apply` waits for once the domain runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_for: Option<WaitForSpec>,
    /// Escape hatch for settings the schema does not model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub xml: Option<Vec<XmlPatchSpec>>,
}

/// `apply` waits until the running guest has an IP address (a DHCP lease,
/// or one its guest agent reports), so that a pipeline can ssh in next.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct WaitForSpec {
    /// Wait for an IP address.
    pub address: bool,
    /// How long at most. Default 2m.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<DurationText>,
}

/// cloud-init's NoCloud data source: the seed's files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CloudInitSpec {
    /// The user-data: `#cloud-config` YAML, or a script starting with `#!`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_data: Option<String>,
    /// A file holding the user-data, relative to this manifest's file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_data_file: Option<String>,
    /// meta-data; `instance-id` (default: from a hash of the seed) and
    /// `local-hostname` (default: the domain's name) are filled in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta_data: Option<serde_json::Map<String, serde_json::Value>>,
    /// network-config (version 1 or 2), written as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_config: Option<serde_json::Map<String, serde_json::Value>>,
    /// authorized_keys lines, merged into a `#cloud-config` user-data's
    /// `ssh_authorized_keys`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh_authorized_keys: Option<Vec<String>>,
    /// The pool of the seed volume. Default: the first volume disk's pool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<syntax::Name>")]
    pub pool: Option<String>,
}

// ---------------------------------------------------------------- Network

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(transform = schema::forward_rules)]
pub struct ForwardSpec {
    /// isolated = no `<forward>`; bridge uses the existing host bridge `bridge.name`.
    pub mode: ForwardMode,
    /// The host interface to forward through; only for nat and route.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<syntax::InterfaceName>")]
    pub dev: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct BridgeSpec {
    /// Unset: libvirt picks one, kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<syntax::InterfaceName>")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// Spanning Tree Protocol on the bridge. Default true (libvirt's).
    pub stp: Option<bool>,
    /// Whole seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DhcpRangeSpec {
    /// Inside the network's subnet.
    #[schemars(with = "syntax::IpAddress")]
    pub start: String,
    /// Inside the network's subnet, not before `start`.
    #[schemars(with = "syntax::IpAddress")]
    pub end: String,
}

/// A fixed address: `ip` and at least one of `mac`, `name`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(transform = schema::dhcp_host_rules)]
pub struct DhcpHostSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<syntax::MacAddress>")]
    pub mac: Option<String>,
    /// The host name the guest asks for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Inside the network's subnet.
    #[schemars(with = "syntax::IpAddress")]
    pub ip: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DhcpSpec {
    /// The complete list of ranges.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ranges: Option<Vec<DhcpRangeSpec>>,
    /// The complete list of fixed addresses; the only network change applied live.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hosts: Option<Vec<DhcpHostSpec>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct IpSpec {
    /// The host's address on the network.
    #[schemars(with = "syntax::IpAddress")]
    pub address: String,
    /// Prefix length: at most 32 for IPv4, 128 for IPv6.
    #[schemars(range(max = 128))]
    pub prefix: u8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// A DHCP server on this subnet. Unset: none.
    pub dhcp: Option<DhcpSpec>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DnsHostSpec {
    #[schemars(with = "syntax::IpAddress")]
    /// The address the names resolve to.
    pub ip: String,
    #[schemars(with = "Vec<syntax::DnsName>", length(min = 1))]
    /// The names, at least one.
    pub hostnames: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DnsSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// Serve DNS on the network (dnsmasq). Default true (libvirt's).
    pub enable: Option<bool>,
    /// Upstream DNS servers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<Vec<syntax::IpAddress>>")]
    pub forwarders: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// Extra host records the network's DNS answers.
    pub hosts: Option<Vec<DnsHostSpec>>,
}

/// The desired state of a libvirt virtual network: forwarding, bridge, addresses, DHCP, DNS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(transform = schema::network_rules)]
pub struct NetworkSpec {
    /// Pins the UUID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<syntax::Uuid>")]
    pub uuid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// How guests reach outside: nat, route, open, bridge or isolated. Unset: isolated.
    pub forward: Option<ForwardSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// The host bridge the network creates.
    pub bridge: Option<BridgeSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 68, max = 65535))]
    /// The bridge's MTU in bytes. Unset: libvirt's default (1500).
    pub mtu: Option<u32>,
    /// DNS domain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<syntax::DnsName>")]
    pub domain: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// The network's IPv4 subnet, and its DHCP.
    pub ipv4: Option<IpSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// The network's IPv6 subnet, and its DHCP.
    pub ipv6: Option<IpSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// The network's DNS server.
    pub dns: Option<DnsSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// Start the network when the host boots. Unset: left as it is.
    pub autostart: Option<bool>,
    /// Default true (enforced).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
    /// Changes other than DHCP hosts take effect when the network restarts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart_policy: Option<RestartPolicy>,
    /// Escape hatch for settings the schema does not model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub xml: Option<Vec<XmlPatchSpec>>,
}

// ---------------------------------------------------------------- StoragePool

/// Where a pool's storage comes from, as its type needs: fs `device`
/// (+`format`), netfs `host` and `dir` (+`format`), logical `name` (+`device`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PoolSourceSpec {
    /// netfs: the NFS server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// netfs: the exported directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<syntax::AbsolutePath>")]
    pub dir: Option<String>,
    /// fs: the block device; logical: a physical volume.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<syntax::AbsolutePath>")]
    pub device: Option<String>,
    /// logical: the volume group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// fs and netfs: the file system type, e.g. ext4 or nfs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
}

/// The desired state of a storage pool: its type, target path and source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(transform = schema::pool_rules)]
pub struct StoragePoolSpec {
    /// Only dir pools are built (mkdir); the others must exist already.
    #[serde(rename = "type")]
    pub pool_type: PoolType,
    /// The target path.
    #[schemars(with = "syntax::AbsolutePath")]
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// Where the pool's storage is, for pools that are not directories (netfs, logical, iscsi, ...).
    pub source: Option<PoolSourceSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// Start the pool when the host boots. Unset: left as it is.
    pub autostart: Option<bool>,
    /// Default true (enforced).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
}

// ---------------------------------------------------------------- Volume

/// The desired state of a volume: its pool, size, format and what it starts from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(transform = schema::volume_rules)]
pub struct VolumeSpec {
    /// The StoragePool the volume is in; the volume's host is the pool's.
    #[schemars(with = "syntax::Name")]
    pub pool: String,
    /// Required unless the volume is external.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<SizeText>,
    /// Default qcow2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<VolumeFormat>,
    /// A qcow2 overlay on this volume.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backing_store: Option<VolumeSourceRef>,
    /// A full copy of this volume at creation; not with `backingStore`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clone_from: Option<VolumeSourceRef>,
    /// Default retain: removing the manifest never deletes data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reclaim_policy: Option<ReclaimPolicy>,
    /// Content from an image, uploaded through libvirt once at creation;
    /// not with `backingStore`, `cloneFrom` or `format`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<ImageSourceSpec>,
}

/// An image to fill a new volume with: `url` or `path`, and its checksum.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ImageSourceSpec {
    /// An http://, https:// or file:// URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<syntax::ImageUrl>")]
    pub url: Option<String>,
    /// A file on the machine running virtsync.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<syntax::AbsolutePath>")]
    pub path: Option<String>,
    /// The image's SHA-256 (64 hex digits), verified while streaming;
    /// required with an http(s) URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<syntax::Sha256>")]
    pub sha256: Option<String>,
}

// ---------------------------------------------------------------- Snapshot, Host

/// An internal snapshot of a domain, taken once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SnapshotSpec {
    /// The Domain the snapshot is of; the snapshot's host is the domain's.
    #[schemars(with = "syntax::Name")]
    pub domain: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// Free text kept with the snapshot; the one field that changes after it is taken.
    pub description: Option<String>,
}

/// How virtsync reaches a libvirt host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HostSpec {
    /// A libvirt connection URI, e.g. qemu+ssh://kvm-a.example/system.
    #[schemars(with = "syntax::ConnectionUri")]
    pub uri: String,
    /// How running domains moved to this host (a changed `metadata.host`)
    /// are live-migrated here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub migration: Option<MigrationSpec>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MigrationSpec {
    /// Carry the migration through the libvirt connection (default true:
    /// works wherever the URI does); false streams QEMU to QEMU directly,
    /// faster on a dedicated network, and needs the target's hostname
    /// reachable from the source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tunnelled: Option<bool>,
    /// Bandwidth limit in MiB/s; 0 or absent: unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bandwidth: Option<u64>,
    /// Compress the memory pages sent (XBZRLE).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compressed: Option<bool>,
    /// The longest the guest may be paused at the end of the migration,
    /// e.g. `300ms`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_downtime: Option<DurationText>,
    /// The URI the source host's libvirtd dials to reach this host (peer to
    /// peer), when `uri` does not work from there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<syntax::ConnectionUri>")]
    pub uri: Option<String>,
}

//! The manifest documents exactly as they are written in YAML (docs/manifests.md).
//!
//! These types are the *shape* of a manifest: serde reads them with
//! `deny_unknown_fields`, and schemars derives `schemas/virtsync.schema.json`
//! from them. Values that need checking beyond their shape (names, sizes,
//! durations, MACs, paths, references) stay as written here and are checked
//! by [`super::validate`], which gathers every error of a directory at once
//! instead of stopping at the first one as serde would.

use std::borrow::Cow;
use std::collections::BTreeMap;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

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

impl JsonSchema for SizeText {
    fn schema_name() -> Cow<'static, str> {
        "Size".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        // A bare number is not a string, so the type alone refuses it; the
        // pattern refuses zero and unknown units. Overflow is left to
        // validation.
        schemars::json_schema!({
            "type": "string",
            "description": "A size: a positive integer and a unit, B, KiB, MiB, GiB, TiB (1024-based), KB, MB, GB, TB (1000-based) or k, M, G, T (= KiB, MiB, GiB, TiB as in virsh). Units are case-sensitive; a bare number is an error.",
            "pattern": "^0*[1-9][0-9]*(B|KiB|MiB|GiB|TiB|KB|MB|GB|TB|k|M|G|T)$",
            "examples": ["512MiB", "20GiB", "1G"]
        })
    }
}

/// A duration as humantime reads it (`30s`, `5m`, `1m30s`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DurationText(pub String);

impl JsonSchema for DurationText {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        // Exactly the spans humantime reads: a number (fractions allowed)
        // and one of its unit words, repeated.
        schemars::json_schema!({
            "type": "string",
            "description": "A duration as humantime reads it: spans of a number and a unit (ns, us, ms, s, m, h, d, w, M, y or their long forms), e.g. 30s, 5m, 1m30s, 1h 30min.",
            "pattern": DURATION_PATTERN,
            "examples": ["30s", "5m", "1m30s"]
        })
    }
}

/// The span syntax of `humantime::parse_duration`, unit words included.
const DURATION_PATTERN: &str = concat!(
    r"^\s*([0-9]+(\.[0-9]+)?\s*(",
    "nanos|nsec|ns|usec|us|µs|millis|msec|ms|seconds|second|secs|sec|s|",
    "minutes|minute|mins|min|m|hours|hour|hrs|hr|h|days|day|d|",
    "weeks|week|wks|wk|w|months|month|M|years|year|yrs|yr|y",
    r")\s*)+$"
);

/// JSON Schemas of the small string syntaxes that validation checks (names,
/// MACs, UUIDs, addresses, paths). The fields stay `String` so that serde
/// accepts any text and validation reports a bad one with its position and a
/// helpful message; these types exist only for `#[schemars(with = ...)]`.
mod syntax {
    use std::borrow::Cow;

    use schemars::{JsonSchema, Schema, SchemaGenerator};

    macro_rules! string_syntax {
        ($(#[$doc:meta])* $ty:ident => { $($schema:tt)* }) => {
            $(#[$doc])*
            pub enum $ty {}

            impl JsonSchema for $ty {
                fn schema_name() -> Cow<'static, str> {
                    stringify!($ty).into()
                }
                fn json_schema(_: &mut SchemaGenerator) -> Schema {
                    schemars::json_schema!({ "type": "string", $($schema)* })
                }
            }
        };
    }

    string_syntax!(
        /// `metadata.name` and every reference to one (units::check_name).
        Name => {
            "description": "A name: letters, digits, `.`, `_` and `-`, starting with a letter or digit, at most 63 characters.",
            "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$"
        }
    );
    string_syntax!(
        /// units::parse_mac: six colon-separated hex pairs, unicast.
        MacAddress => {
            "description": "A unicast MAC address: six hex pairs separated by colons, with an even first octet, e.g. 52:54:00:12:34:56.",
            "pattern": "^[0-9A-Fa-f][02468ACEace](:[0-9A-Fa-f]{2}){5}$"
        }
    );
    string_syntax!(
        /// units::parse_uuid.
        Uuid => {
            "description": "A UUID in its 8-4-4-4-12 hex form.",
            "pattern": "^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$"
        }
    );
    string_syntax!(
        /// An address as `std::net::IpAddr` parses it.
        IpAddress => {
            "description": "An IPv4 or IPv6 address.",
            "anyOf": [{"format": "ipv4"}, {"format": "ipv6"}]
        }
    );
    string_syntax!(
        /// validate::check_ifname.
        InterfaceName => {
            "description": "A host network interface name: 1 to 15 characters, without `/`, `:` or spaces.",
            "minLength": 1,
            "maxLength": 15,
            "pattern": "^[^/:\\s]+$"
        }
    );
    string_syntax!(
        /// validate::check_abs_path.
        AbsolutePath => {
            "description": "An absolute path without `..` components.",
            "pattern": "^/",
            "not": {"pattern": "(^|/)\\.\\.(/|$)"}
        }
    );
    string_syntax!(
        /// validate::check_dns_name.
        DnsName => {
            "description": "A DNS name: dot-separated labels of letters, digits and `-` (not at a label's ends).",
            "maxLength": 253,
            "pattern": "^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
        }
    );
    string_syntax!(
        /// validate::check_uri.
        ConnectionUri => {
            "description": "A libvirt connection URI, e.g. qemu:///system or qemu+ssh://kvm-a.example/system.",
            "pattern": "^[A-Za-z0-9+-]+://"
        }
    );
    string_syntax!(
        /// xmlpatch::parse_at.
        XmlPath => {
            "description": "An absolute path of XML element names with optional 1-based indexes, e.g. /domain/os or /domain/devices/interface[2].",
            "pattern": "^(/[A-Za-z_][A-Za-z0-9_.:-]*(\\[[0-9]*[1-9][0-9]*\\])?)+$"
        }
    );
}

/// Rules across the fields of one object, for the `allOf` of its schema:
/// what validation checks beyond each field's own shape, as far as JSON
/// Schema can say it. Editors show these while typing; validation remains
/// the authority (and gives the better messages).
mod rules {
    use schemars::Schema;
    use serde_json::{json, Value};

    /// `field` is present and not null.
    pub fn set(field: &str) -> Value {
        json!({"required": [field], "properties": {field: {"not": {"type": "null"}}}})
    }

    /// `field` is absent or null.
    pub fn unset(field: &str) -> Value {
        json!({"properties": {field: {"type": "null"}}})
    }

    /// `field` is present with the value `value`.
    pub fn is(field: &str, value: Value) -> Value {
        json!({"required": [field], "properties": {field: {"const": value}}})
    }

    /// `field` is present with one of `values`.
    pub fn is_one_of(field: &str, values: Value) -> Value {
        json!({"required": [field], "properties": {field: {"enum": values}}})
    }

    /// if `cond` then `then`.
    pub fn when(cond: Value, then: Value) -> Value {
        json!({"if": cond, "then": then})
    }

    /// One schema with the constraints of all `parts` (objects with
    /// `required`, `properties` and other keywords that do not clash).
    pub fn merge(parts: impl IntoIterator<Item = Value>) -> Value {
        let mut out = serde_json::Map::new();
        for part in parts {
            let Value::Object(part) = part else { continue };
            for (key, value) in part {
                match (out.get_mut(&key), value) {
                    (Some(Value::Array(have)), Value::Array(more)) => have.extend(more),
                    (Some(Value::Object(have)), Value::Object(more)) => have.extend(more),
                    (_, value) => {
                        out.insert(key, value);
                    }
                }
            }
        }
        Value::Object(out)
    }

    /// Appends `rules` to the `allOf` of `schema`.
    pub fn add(schema: &mut Schema, rules: impl IntoIterator<Item = Value>) {
        let obj = schema.ensure_object();
        let all_of = obj.entry("allOf").or_insert_with(|| json!([]));
        if let Some(list) = all_of.as_array_mut() {
            list.extend(rules);
        }
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
#[schemars(transform = cpu_rules)]
pub struct CpuSpec {
    pub mode: CpuMode,
    /// Only with `mode: custom`, required there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
}

fn cpu_rules(schema: &mut Schema) {
    use rules::*;
    rules::add(
        schema,
        [json!({
            "if": is("mode", json!("custom")),
            "then": set("model"),
            "else": unset("model"),
        })],
    );
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
#[schemars(transform = disk_rules)]
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
    pub readonly: Option<bool>,
    /// Only with `path:` (default raw); a volume brings its own format.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<VolumeFormat>,
}

fn disk_rules(schema: &mut Schema) {
    use rules::*;
    rules::add(
        schema,
        [
            // A source, or an empty cdrom drive.
            json!({"anyOf": [set("volume"), set("path"), is("device", json!("cdrom"))]}),
            json!({"not": {"allOf": [set("volume"), set("path")]}}),
            when(set("volume"), unset("format")),
            // The target's prefix follows the bus.
            when(
                is("bus", json!("virtio")),
                json!({"properties": {"target": {"pattern": "^vd"}}}),
            ),
            when(
                is_one_of("bus", json!(["sata", "scsi"])),
                json!({"properties": {"target": {"pattern": "^sd"}}}),
            ),
            when(
                is("bus", json!("ide")),
                json!({"properties": {"target": {"pattern": "^hd"}}}),
            ),
        ],
    );
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

/// One NIC: on a `network` or a host `bridge`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(transform = interface_rules)]
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

fn interface_rules(schema: &mut Schema) {
    use rules::*;
    rules::add(schema, [json!({"oneOf": [set("network"), set("bridge")]})]);
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
#[schemars(transform = graphics_rules)]
pub struct GraphicsSpec {
    /// none removes all graphics.
    #[serde(rename = "type")]
    pub kind: GraphicsType,
    /// The address to listen on; only with vnc and spice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<syntax::IpAddress>")]
    pub listen: Option<String>,
}

fn graphics_rules(schema: &mut Schema) {
    use rules::*;
    rules::add(schema, [when(is("type", json!("none")), unset("listen"))]);
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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(transform = domain_rules)]
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
    #[schemars(regex(pattern = r"^[A-Za-z0-9_]+$"))]
    pub arch: Option<String>,
    /// Compared after libvirt expands it (q35 -> pc-q35-7.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[A-Za-z0-9._-]+$"))]
    pub machine: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
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
    /// Escape hatch for settings the schema does not model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub xml: Option<Vec<XmlPatchSpec>>,
}

fn domain_rules(schema: &mut Schema) {
    use rules::*;
    rules::add(
        schema,
        [
            when(is("secureBoot", json!(true)), is("firmware", json!("uefi"))),
            // A transient domain neither autostarts nor restarts.
            when(
                is("persistent", json!(false)),
                json!({"allOf": [
                    {"properties": {"autostart": {"not": {"const": true}}}},
                    unset("restartPolicy"),
                ]}),
            ),
            xml_root("domain"),
        ],
    );
}

/// The `xml` escape hatch's paths start at the document's root element.
fn xml_root(root: &str) -> Value {
    json!({"properties": {"xml": {"items": {"properties": {"at": {
        "pattern": format!("^/{root}(\\[[0-9]+\\])?(/|$)")
    }}}}}})
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
#[schemars(transform = forward_rules)]
pub struct ForwardSpec {
    /// isolated = no `<forward>`; bridge uses the existing host bridge `bridge.name`.
    pub mode: ForwardMode,
    /// The host interface to forward through; only for nat and route.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<syntax::InterfaceName>")]
    pub dev: Option<String>,
}

fn forward_rules(schema: &mut Schema) {
    use rules::*;
    rules::add(
        schema,
        [json!({
            "if": is_one_of("mode", json!(["nat", "route"])),
            "else": unset("dev"),
        })],
    );
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct BridgeSpec {
    /// Unset: libvirt picks one, kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<syntax::InterfaceName>")]
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
#[schemars(transform = dhcp_host_rules)]
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

fn dhcp_host_rules(schema: &mut Schema) {
    use rules::*;
    rules::add(schema, [json!({"anyOf": [set("mac"), set("name")]})]);
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
    pub dhcp: Option<DhcpSpec>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DnsHostSpec {
    #[schemars(with = "syntax::IpAddress")]
    pub ip: String,
    #[schemars(with = "Vec<syntax::DnsName>", length(min = 1))]
    pub hostnames: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DnsSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable: Option<bool>,
    /// Upstream DNS servers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<Vec<syntax::IpAddress>>")]
    pub forwarders: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hosts: Option<Vec<DnsHostSpec>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(transform = network_rules)]
pub struct NetworkSpec {
    /// Pins the UUID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<syntax::Uuid>")]
    pub uuid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forward: Option<ForwardSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bridge: Option<BridgeSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 68, max = 65535))]
    pub mtu: Option<u32>,
    /// DNS domain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<syntax::DnsName>")]
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
    /// Changes other than DHCP hosts take effect when the network restarts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart_policy: Option<RestartPolicy>,
    /// Escape hatch for settings the schema does not model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub xml: Option<Vec<XmlPatchSpec>>,
}

fn network_rules(schema: &mut Schema) {
    use rules::*;
    let object = |rule: Value| json!({"allOf": [{"type": "object"}, rule]});
    rules::add(
        schema,
        [
            json!({"properties": {"ipv4": {"properties": {"prefix": {"maximum": 32}}}}}),
            // Forward mode bridge uses an existing host bridge: name it.
            when(
                json!({"required": ["forward"], "properties": {
                    "forward": object(is("mode", json!("bridge")))
                }}),
                json!({"required": ["bridge"], "properties": {"bridge": object(set("name"))}}),
            ),
            xml_root("network"),
        ],
    );
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

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(transform = pool_rules)]
pub struct StoragePoolSpec {
    /// Only dir pools are built (mkdir); the others must exist already.
    #[serde(rename = "type")]
    pub pool_type: PoolType,
    /// The target path.
    #[schemars(with = "syntax::AbsolutePath")]
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<PoolSourceSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autostart: Option<bool>,
    /// Default true (enforced).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
}

fn pool_rules(schema: &mut Schema) {
    use rules::*;
    // The source fields each pool type needs and may have; the rest are refused.
    const FIELDS: [&str; 5] = ["host", "dir", "device", "name", "format"];
    let by_type: [(PoolType, &[&str], &[&str]); 4] = [
        (PoolType::Dir, &[], &[]),
        (PoolType::Fs, &["device"], &["format"]),
        (PoolType::Netfs, &["host", "dir"], &["format"]),
        (PoolType::Logical, &["name"], &["device"]),
    ];
    rules::add(
        schema,
        by_type.map(|(ty, required, optional)| {
            let refused = FIELDS
                .iter()
                .filter(|f| !required.contains(f) && !optional.contains(f));
            let source = merge(
                required
                    .iter()
                    .map(|f| set(f))
                    .chain(refused.map(|f| unset(f))),
            );
            let then = if required.is_empty() {
                json!({"properties": {"source": source}})
            } else {
                let source = merge([json!({"type": "object"}), source]);
                json!({"required": ["source"], "properties": {"source": source}})
            };
            when(is("type", json!(ty.as_str())), then)
        }),
    );
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
#[schemars(transform = volume_rules)]
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
}

fn volume_rules(schema: &mut Schema) {
    use rules::*;
    rules::add(
        schema,
        [
            json!({"not": {"allOf": [set("backingStore"), set("cloneFrom")]}}),
            when(
                set("backingStore"),
                json!({"properties": {"format": {"not": {"const": "raw"}}}}),
            ),
        ],
    );
}

// ---------------------------------------------------------------- Snapshot, Host

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SnapshotSpec {
    /// The Domain the snapshot is of; the snapshot's host is the domain's.
    #[schemars(with = "syntax::Name")]
    pub domain: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HostSpec {
    /// A libvirt connection URI, e.g. qemu+ssh://kvm-a.example/system.
    #[schemars(with = "syntax::ConnectionUri")]
    pub uri: String,
}

// ---------------------------------------------------------------- schema

/// The JSON Schema of a manifest file's documents: one of the six kinds.
///
/// Written by hand around the derived spec schemas because the loader reads
/// `kind` first and then the matching document type; a serde-tagged enum
/// would lose the YAML positions of its fields.
pub fn json_schema() -> Value {
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
            "A libvirt virtual network. With metadata.external: true, an existing network that virtsync never changes; it takes no spec.",
        ),
        (
            Kind::StoragePool,
            gen.subschema_for::<StoragePoolSpec>(),
            "A storage pool. With metadata.external: true, an existing pool that virtsync never changes; it takes no spec.",
        ),
        (
            Kind::Volume,
            gen.subschema_for::<VolumeSpec>(),
            "A volume of a storage pool. With metadata.external: true, an existing volume (a golden image) that virtsync never changes; its spec has only `pool`.",
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
    let one_of: Vec<Value> = kinds
        .into_iter()
        .map(|(kind, spec, description)| {
            let (spec, required, rules) = document_rules(kind, spec.to_value());
            json!({
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
                "allOf": rules,
            })
        })
        .collect();
    let defs: serde_json::Map<String, Value> = gen.take_definitions(true).into_iter().collect();
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://virtsync.io/schemas/v1alpha1/virtsync.schema.json",
        "title": "virtsync manifest",
        "description": "One virtsync manifest document (apiVersion virtsync.io/v1alpha1). Generated from the Rust types by `virtsync schema`.",
        "oneOf": one_of,
        "$defs": defs,
    })
}

/// A document's `spec` schema, required fields and rules, which depend on
/// its kind and on `metadata.external` (docs/manifests.md): an external Network
/// or StoragePool takes no spec, an external Volume only `spec.pool`, other
/// volumes need a capacity, and the other kinds cannot be external.
fn document_rules(kind: Kind, spec: Value) -> (Value, Vec<&'static str>, Vec<Value>) {
    use rules::*;
    let external = json!({"properties": {"metadata": is("external", json!(true))}});
    let mut required = vec!["apiVersion", "kind", "metadata", "spec"];
    let mut rules = Vec::new();
    let mut spec = spec;
    match kind {
        Kind::Network | Kind::StoragePool => {
            // `spec: ~` reads as no spec.
            spec = json!({"anyOf": [spec, {"type": "null"}]});
            required.pop();
            rules.push(json!({
                "if": external,
                "then": {"properties": {"spec": {"type": "null"}}},
                "else": {"required": ["spec"], "properties": {"spec": {"type": "object"}}},
            }));
        }
        Kind::Volume => {
            let only_pool = merge(
                [
                    "capacity",
                    "format",
                    "backingStore",
                    "cloneFrom",
                    "reclaimPolicy",
                ]
                .map(unset),
            );
            rules.push(json!({
                "if": external,
                "then": {"properties": {"spec": only_pool}},
                "else": {"properties": {"spec": set("capacity")}},
            }));
        }
        Kind::Domain | Kind::Snapshot | Kind::Host => {
            rules.push(json!({"properties": {"metadata": {"properties": {
                "external": {"not": {"const": true}}
            }}}}));
        }
    }
    if kind == Kind::Host {
        // A Host is a connection, not an object on one.
        rules.push(json!({"properties": {"metadata": unset("host")}}));
    }
    (spec, required, rules)
}

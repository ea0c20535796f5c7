//! The JSON Schema of manifests (`virtsync schema`,
//! `schemas/virtsync.schema.json`).
//!
//! Most of it is derived by schemars from the shapes in [`super::types`];
//! this module holds what the derives refer to and what they cannot say:
//! the schemas of sizes and durations, the small string syntaxes that
//! validation checks (`syntax`), the rules across the fields of one object
//! (`rules` and the `*_rules` transforms), and [`json_schema`], which
//! assembles one schema per kind around the derived spec schemas.
//!
//! The schema helps editors while typing; validation remains the authority
//! and gives the better messages, so every rule here mirrors a check of
//! [`super::validate`].

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde_json::{json, Value};

use super::types::{
    DomainSpec, DurationText, HostSpec, Kind, Metadata, NetworkSpec, PoolType, SizeText,
    SnapshotSpec, StoragePoolSpec, VolumeSpec, API_VERSION,
};

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
pub(super) mod syntax {
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
        /// validate::fields::check_ifname.
        InterfaceName => {
            "description": "A host network interface name: 1 to 15 characters, without `/`, `:` or spaces.",
            "minLength": 1,
            "maxLength": 15,
            "pattern": "^[^/:\\s]+$"
        }
    );
    string_syntax!(
        /// validate::fields::check_abs_path.
        AbsolutePath => {
            "description": "An absolute path without `..` components.",
            "pattern": "^/",
            "not": {"pattern": "(^|/)\\.\\.(/|$)"}
        }
    );
    string_syntax!(
        /// validate::storage::image_source.
        ImageUrl => {
            "description": "An http://, https:// or file:// URL of a disk image (qcow2 or raw).",
            "pattern": "^(https?|file)://"
        }
    );
    string_syntax!(
        /// validate::storage::image_source.
        Sha256 => {
            "description": "A SHA-256 checksum: 64 hex digits.",
            "pattern": "^[0-9A-Fa-f]{64}$"
        }
    );
    string_syntax!(
        /// validate::fields::check_dns_name.
        DnsName => {
            "description": "A DNS name: dot-separated labels of letters, digits and `-` (not at a label's ends).",
            "maxLength": 253,
            "pattern": "^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
        }
    );
    string_syntax!(
        /// validate::fields::check_uri.
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
pub(super) mod rules {
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

pub(super) fn cpu_rules(schema: &mut Schema) {
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

pub(super) fn disk_rules(schema: &mut Schema) {
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

pub(super) fn interface_rules(schema: &mut Schema) {
    use rules::*;
    rules::add(schema, [json!({"oneOf": [set("network"), set("bridge")]})]);
}

pub(super) fn graphics_rules(schema: &mut Schema) {
    use rules::*;
    rules::add(schema, [when(is("type", json!("none")), unset("listen"))]);
}

pub(super) fn domain_rules(schema: &mut Schema) {
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

pub(super) fn forward_rules(schema: &mut Schema) {
    use rules::*;
    rules::add(
        schema,
        [json!({
            "if": is_one_of("mode", json!(["nat", "route"])),
            "else": unset("dev"),
        })],
    );
}

pub(super) fn dhcp_host_rules(schema: &mut Schema) {
    use rules::*;
    rules::add(schema, [json!({"anyOf": [set("mac"), set("name")]})]);
}

pub(super) fn network_rules(schema: &mut Schema) {
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

pub(super) fn pool_rules(schema: &mut Schema) {
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

pub(super) fn volume_rules(schema: &mut Schema) {
    use rules::*;
    rules::add(
        schema,
        [
            json!({"not": {"allOf": [set("backingStore"), set("cloneFrom")]}}),
            when(
                set("source"),
                merge([unset("backingStore"), unset("cloneFrom"), unset("format")]),
            ),
            when(
                set("backingStore"),
                json!({"properties": {"format": {"not": {"const": "raw"}}}}),
            ),
        ],
    );
}

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
                    "apiVersion": {"const": API_VERSION, "description": "The manifest format's version."},
                    "kind": {"const": kind.as_str(), "description": "What the document describes."},
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
/// volumes need a capacity (or a `source` image), and the other kinds
/// cannot be external.
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
                    "source",
                ]
                .map(unset),
            );
            // A capacity, or an image to take the size from.
            let sized = json!({"anyOf": [set("capacity"), set("source")]});
            rules.push(json!({
                "if": external,
                "then": {"properties": {"spec": only_pool}},
                "else": {"properties": {"spec": sized}},
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

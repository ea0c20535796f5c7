//! The shared vocabulary: small enums that manifests, the model, the planner
//! and the XML renderers all speak (kinds, power states, buses, formats, ...).
//!
//! They live at the bottom layer so that `model` imports nothing from the
//! layers above it; `manifest::types` reads them from here. Each keeps its
//! serde and schemars derives because the manifest shapes embed it directly:
//! the serde spelling *is* the manifest spelling, and the published schema
//! (`schemas/virtsync.schema.json`) is derived from it.
//!
//! Every enum's string form (the manifest's spelling, which is libvirt's
//! too almost everywhere) is declared once with `string_forms!`, which
//! writes `as_str` and `Display`; a test checks it against serde's spelling.
//!
//! Doc comments on the enums that derive `JsonSchema` become descriptions in
//! the published schema, so enums without one are explained with plain
//! comments instead.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Declares the string form of each variant of an enum: `as_str` (for XML
/// attributes, messages and comparisons) and `Display` through it. One
/// macro so that every enum's string form is written, and read, one way.
macro_rules! string_forms {
    ($ty:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        impl $ty {
            /// The manifest's spelling, which is libvirt's too except
            /// where the renderer translates (firmware `uefi` is `efi`).
            pub fn as_str(self) -> &'static str {
                match self {
                    $($ty::$variant => $text,)+
                }
            }

            /// Every variant, for the test that checks the spellings
            /// against serde's.
            #[cfg(test)]
            const VARIANTS: &'static [$ty] = &[$($ty::$variant),+];
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

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

string_forms!(Kind {
    Host => "Host",
    StoragePool => "StoragePool",
    Volume => "Volume",
    Network => "Network",
    Domain => "Domain",
    Snapshot => "Snapshot",
});

impl Kind {
    /// Every kind, in the order messages list them.
    pub const ALL: [Kind; 6] = [
        Kind::Domain,
        Kind::Network,
        Kind::StoragePool,
        Kind::Volume,
        Kind::Snapshot,
        Kind::Host,
    ];

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Kinds that may name an object that exists on the host but is not
    /// managed (`metadata.external: true`).
    pub fn may_be_external(self) -> bool {
        matches!(self, Kind::Network | Kind::StoragePool | Kind::Volume)
    }
}

// ---------------------------------------------------------------- Domain

// A domain's power state: wanted (`spec.state`) and observed.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum PowerState {
    Running,
    Shutoff,
    Paused,
}

string_forms!(PowerState {
    Running => "running",
    Shutoff => "shutoff",
    Paused => "paused",
});

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

string_forms!(DomainType {
    Kvm => "kvm",
    Qemu => "qemu",
    Xen => "xen",
    Lxc => "lxc",
    Hvf => "hvf",
    Bhyve => "bhyve",
    Vz => "vz",
    Vmware => "vmware",
    Hyperv => "hyperv",
    Test => "test",
});

// `spec.firmware`: legacy BIOS or UEFI (libvirt's `<os firmware='efi'>`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Firmware {
    Bios,
    Uefi,
}

string_forms!(Firmware {
    Bios => "bios",
    Uefi => "uefi",
});

// `<cpu mode=...>`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum CpuMode {
    HostPassthrough,
    HostModel,
    Custom,
}

string_forms!(CpuMode {
    HostPassthrough => "host-passthrough",
    HostModel => "host-model",
    Custom => "custom",
});

// `<os><boot dev=...>`.
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

string_forms!(BootDevice {
    Hd => "hd",
    Cdrom => "cdrom",
    Network => "network",
    Fd => "fd",
});

// `<disk device=...>`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum DiskDevice {
    Disk,
    Cdrom,
}

string_forms!(DiskDevice {
    Disk => "disk",
    Cdrom => "cdrom",
});

// `<disk><target bus=...>`.
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

string_forms!(DiskBus {
    Virtio => "virtio",
    Sata => "sata",
    Scsi => "scsi",
    Ide => "ide",
});

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

// A volume's or disk image's format (`<format type=...>`, `<driver type=...>`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum VolumeFormat {
    Qcow2,
    Raw,
}

string_forms!(VolumeFormat {
    Qcow2 => "qcow2",
    Raw => "raw",
});

// `<interface><model type=...>`.
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

string_forms!(NicModel {
    Virtio => "virtio",
    E1000 => "e1000",
    E1000e => "e1000e",
    Rtl8139 => "rtl8139",
    Vmxnet3 => "vmxnet3",
});

// `<graphics type=...>`; none means no graphics device at all.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum GraphicsType {
    None,
    Vnc,
    Spice,
}

string_forms!(GraphicsType {
    None => "none",
    Vnc => "vnc",
    Spice => "spice",
});

// `spec.console`: a pty serial console, or none.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Console {
    Pty,
    None,
}

string_forms!(Console {
    Pty => "pty",
    None => "none",
});

// `spec.restartPolicy` of domains and networks: whether a change that needs
// a restart gets one.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
pub enum RestartPolicy {
    #[serde(rename = "never")]
    Never,
    #[serde(rename = "onConfigChange")]
    OnConfigChange,
}

string_forms!(RestartPolicy {
    Never => "never",
    OnConfigChange => "onConfigChange",
});

// ---------------------------------------------------------------- Network

// `<forward mode=...>`; isolated means no `<forward>` element.
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

string_forms!(ForwardMode {
    Nat => "nat",
    Route => "route",
    Open => "open",
    Bridge => "bridge",
    Isolated => "isolated",
});

// ---------------------------------------------------------------- storage

// `<pool type=...>`: the pool types virtsync manages.
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

string_forms!(PoolType {
    Dir => "dir",
    Fs => "fs",
    Netfs => "netfs",
    Logical => "logical",
});

// `spec.reclaimPolicy` of volumes: what removing the manifest does.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum ReclaimPolicy {
    Retain,
    Delete,
}

string_forms!(ReclaimPolicy {
    Retain => "retain",
    Delete => "delete",
});

#[cfg(test)]
mod tests {
    use super::*;

    /// `as_str` must spell each variant as serde does, or messages and XML
    /// would disagree with the manifests.
    fn spelled_as_serde<T: Serialize + Copy + fmt::Display>(
        variants: &[T],
        as_str: fn(T) -> &'static str,
    ) {
        for v in variants {
            let serde = serde_json::to_value(v).expect("serializes");
            assert_eq!(serde, serde_json::json!(as_str(*v)));
            assert_eq!(v.to_string(), as_str(*v));
        }
    }

    #[test]
    fn string_forms_match_serde() {
        spelled_as_serde(Kind::VARIANTS, Kind::as_str);
        spelled_as_serde(PowerState::VARIANTS, PowerState::as_str);
        spelled_as_serde(DomainType::VARIANTS, DomainType::as_str);
        spelled_as_serde(Firmware::VARIANTS, Firmware::as_str);
        spelled_as_serde(CpuMode::VARIANTS, CpuMode::as_str);
        spelled_as_serde(BootDevice::VARIANTS, BootDevice::as_str);
        spelled_as_serde(DiskDevice::VARIANTS, DiskDevice::as_str);
        spelled_as_serde(DiskBus::VARIANTS, DiskBus::as_str);
        spelled_as_serde(VolumeFormat::VARIANTS, VolumeFormat::as_str);
        spelled_as_serde(NicModel::VARIANTS, NicModel::as_str);
        spelled_as_serde(GraphicsType::VARIANTS, GraphicsType::as_str);
        spelled_as_serde(Console::VARIANTS, Console::as_str);
        spelled_as_serde(RestartPolicy::VARIANTS, RestartPolicy::as_str);
        spelled_as_serde(ForwardMode::VARIANTS, ForwardMode::as_str);
        spelled_as_serde(PoolType::VARIANTS, PoolType::as_str);
        spelled_as_serde(ReclaimPolicy::VARIANTS, ReclaimPolicy::as_str);
    }

    #[test]
    fn every_kind_is_listed_once() {
        assert_eq!(Kind::ALL.len(), Kind::VARIANTS.len());
        for k in Kind::VARIANTS {
            assert_eq!(Kind::parse(k.as_str()), Some(*k));
        }
    }
}

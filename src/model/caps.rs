//! What a host's driver offers (its capabilities: guest arches, domain
//! types, machine aliases) and what the planner and renderer derive from
//! it: create-time defaults, canonical machine names, machine families.

use std::collections::BTreeMap;

use serde::Serialize;

/// What a host's driver offers, from `virConnectGetCapabilities`: the
/// planner's only source for create-time defaults and normalisation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Capabilities {
    /// `<host><cpu><arch>`.
    pub host_arch: String,
    /// `<host><uuid>`: the host's identity (libvirt takes it from SMBIOS,
    /// or `host_uuid` in libvirtd.conf); lower-case. The test driver has
    /// none.
    pub host_uuid: Option<String>,
    /// Per guest arch: the domain types offered and machine alias →
    /// canonical name (`q35` → `pc-q35-7.2`).
    pub guests: BTreeMap<String, GuestCaps>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct GuestCaps {
    pub domain_types: Vec<String>,
    pub machine_aliases: BTreeMap<String, String>,
}

impl Capabilities {
    /// The arch a new domain gets when the manifest names none: the host's,
    /// if the driver offers guests of it, else the first offered.
    pub fn default_arch(&self) -> String {
        if self.guests.contains_key(&self.host_arch) || self.guests.is_empty() {
            self.host_arch.clone()
        } else {
            self.guests.keys().next().cloned().unwrap_or_default()
        }
    }

    /// kvm when the host offers it for `arch`, else qemu, else whatever the
    /// driver offers (the test driver offers `test`).
    pub fn default_domain_type(&self, arch: &str) -> String {
        let offered = self
            .guests
            .get(arch)
            .map(|g| g.domain_types.as_slice())
            .unwrap_or_default();
        for t in ["kvm", "qemu"] {
            if offered.iter().any(|o| o == t) {
                return t.to_string();
            }
        }
        offered.first().cloned().unwrap_or_else(|| "kvm".into())
    }

    /// The name libvirt stores for `machine` (aliases expanded).
    pub fn canonical_machine(&self, arch: &str, machine: &str) -> String {
        self.guests
            .get(arch)
            .and_then(|g| g.machine_aliases.get(machine))
            .cloned()
            .unwrap_or_else(|| machine.to_string())
    }

    /// The family of `machine` on `arch`, after alias expansion: an alias
    /// such as Ubuntu's `ubuntu` (→ `pc-i440fx-jammy`) says nothing about
    /// its family by its name.
    pub fn machine_family(&self, arch: &str, machine: &str) -> MachineFamily {
        MachineFamily::of(&self.canonical_machine(arch, machine))
    }
}

/// A machine type's family: the chipset libvirt builds the guest on, which
/// decides its PCI root, its built-in controllers and its default devices.
/// Versions of one family (`pc-i440fx-8.2`, `pc-i440fx-9.0`) share all of
/// that, so a change between them keeps what libvirt derived; a change of
/// family does not (see `render::domain::derived`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MachineFamily {
    /// `pc`, `pc-i440fx-*` (and QEMU's oldest `pc-0.x`/`pc-1.x`): PCI root,
    /// PIIX3 IDE built in.
    I440fx,
    /// `q35`, `pc-q35-*`: PCI Express root, ICH9 SATA built in, no IDE.
    Q35,
    /// Any other machine, by its name without a trailing version
    /// (`virt-7.2` → `virt`, `pseries-8.0` → `pseries`, `microvm`).
    Other(String),
}

impl MachineFamily {
    /// The family of a machine name (canonical or alias; an alias that
    /// does not spell its family is the caller's to expand, see
    /// [`Capabilities::machine_family`]).
    pub fn of(machine: &str) -> MachineFamily {
        let versioned = |rest: &str| rest.starts_with(|c: char| c.is_ascii_digit());
        match machine {
            "q35" => return MachineFamily::Q35,
            "pc" => return MachineFamily::I440fx,
            m if m.starts_with("pc-q35-") => return MachineFamily::Q35,
            m if m.starts_with("pc-i440fx-") => return MachineFamily::I440fx,
            m if m.strip_prefix("pc-").is_some_and(versioned) => return MachineFamily::I440fx,
            _ => {}
        }
        let base = match machine.rsplit_once('-') {
            Some((base, version)) if versioned(version) => base,
            _ => machine,
        };
        MachineFamily::Other(base.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_are_compared_not_versions() {
        use MachineFamily::*;
        for (m, f) in [
            ("pc", I440fx),
            ("pc-i440fx-7.2", I440fx),
            ("pc-i440fx-jammy", I440fx),
            ("pc-1.3", I440fx),
            ("q35", Q35),
            ("pc-q35-9.0", Q35),
            ("virt-7.2", Other("virt".into())),
            ("virt", Other("virt".into())),
            ("pseries-8.0", Other("pseries".into())),
            ("microvm", Other("microvm".into())),
            ("s390-ccw-virtio-7.2", Other("s390-ccw-virtio".into())),
        ] {
            assert_eq!(MachineFamily::of(m), f, "{m}");
        }
        // An alias that does not spell its family, through the host's
        // capabilities (Ubuntu's `ubuntu-q35`).
        let caps = Capabilities {
            host_arch: "x86_64".into(),
            host_uuid: None,
            guests: BTreeMap::from([(
                "x86_64".to_string(),
                GuestCaps {
                    domain_types: vec!["kvm".into()],
                    machine_aliases: BTreeMap::from([(
                        "ubuntu-q35".to_string(),
                        "pc-q35-noble".to_string(),
                    )]),
                },
            )]),
        };
        assert_eq!(caps.machine_family("x86_64", "ubuntu-q35"), Q35);
    }
}

//! A host's identity: what makes two connection URIs one host.
//!
//! `qemu:///system` and `qemu+unix:///system?socket=/var/run/libvirt/libvirt-sock`
//! reach the same daemon; ownership records and the per-host lock must not
//! tell them apart. The identity is the host UUID of the capabilities
//! (`<host><uuid>`, from SMBIOS or `host_uuid` in libvirtd.conf), read
//! once per host per run. A driver that reports none (libvirt's test
//! driver) is identified by its URI: each of its URIs is a host of its own.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{Capabilities, ObservedHost};

/// The identity of a host: its UUID, or `uri:` and the URI for a driver
/// without one. Ordered, so that locks are always taken in one order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct HostId(String);

impl HostId {
    /// The identity of the host whose capabilities are `caps`, reached at
    /// `uri`.
    pub fn of(caps: &Capabilities, uri: &str) -> HostId {
        match &caps.host_uuid {
            Some(u) => HostId(u.clone()),
            None => HostId(format!("uri:{uri}")),
        }
    }

    /// As recorded (inventory keys, JSON).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is a real host UUID (not a URI stand-in).
    pub fn is_uuid(&self) -> bool {
        !self.0.starts_with("uri:")
    }

    /// A file name for per-host files (the lock): the UUID itself, or a
    /// digest of the URI, which may hold any character.
    pub fn file_stem(&self) -> String {
        if self.is_uuid() && self.0.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
            self.0.clone()
        } else {
            let h = Sha256::digest(self.0.as_bytes());
            format!("uri-{}", &format!("{h:x}")[..32])
        }
    }
}

impl fmt::Display for HostId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for HostId {
    fn from(s: &str) -> HostId {
        HostId(s.to_string())
    }
}

impl ObservedHost {
    /// This host's identity (see [`HostId`]).
    pub fn identity(&self) -> HostId {
        HostId::of(&self.caps, &self.uri)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_uuid_identifies_a_host_whatever_its_uri() {
        let caps = Capabilities {
            host_uuid: Some("6d1f0c1e-5b8e-4f5e-9a55-0f4c7c1f2a10".into()),
            ..Capabilities::default()
        };
        let a = HostId::of(&caps, "qemu:///system");
        let b = HostId::of(
            &caps,
            "qemu+unix:///system?socket=/var/run/libvirt/libvirt-sock",
        );
        assert_eq!(a, b);
        assert_eq!(a.file_stem(), "6d1f0c1e-5b8e-4f5e-9a55-0f4c7c1f2a10");
    }

    #[test]
    fn a_driver_without_uuid_is_identified_by_its_uri() {
        let caps = Capabilities::default();
        let a = HostId::of(&caps, "test:///default");
        assert_eq!(a.as_str(), "uri:test:///default");
        assert_ne!(a, HostId::of(&caps, "test:///tmp/node.xml"));
        assert!(a.file_stem().starts_with("uri-"));
        assert!(!a.file_stem().contains('/'));
    }
}

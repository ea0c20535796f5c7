//! Durations and the small value syntaxes of manifests (MAC, UUID, names),
//! each parsed into a normalised value or a message that says what to write
//! instead. Sizes live in [`crate::units`], shared with the libvirt side.

pub use crate::units::{format_size, parse_size};

use std::time::Duration;

pub fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim())
        .map_err(|e| format!("duration `{text}` is not valid ({e}); write e.g. 30s, 5m or 1m30s"))
}

/// `^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`, not `.` or `..`.
pub fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("name is empty; give a name such as web-1".into());
    }
    if name == "." || name == ".." {
        // Names become file names (volumes, NVRAM, logs): never a directory.
        return Err(format!(
            "name `{name}` is not allowed (it means a directory); use letters, digits, . _ -"
        ));
    }
    if name.len() > 63 {
        return Err(format!(
            "name `{}…` is {} characters long; at most 63 are allowed",
            name.chars().take(20).collect::<String>(),
            name.chars().count()
        ));
    }
    let mut chars = name.chars();
    let first = chars.next().unwrap_or(' ');
    if !first.is_ascii_alphanumeric() {
        return Err(format!(
            "name `{name}` must start with a letter or digit (allowed: A-Z a-z 0-9 . _ -)"
        ));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        // Show a letter such as `é` as it is; only invisible ones escaped.
        let shown = if bad.is_control() || bad.is_whitespace() {
            bad.escape_default().to_string()
        } else {
            bad.to_string()
        };
        return Err(format!(
            "name `{name}` contains `{shown}`; allowed are A-Z a-z 0-9 . _ -"
        ));
    }
    Ok(())
}

/// A unicast MAC address `xx:xx:xx:xx:xx:xx`, returned lower-case as libvirt
/// stores it.
pub fn parse_mac(text: &str) -> Result<String, String> {
    let parts: Vec<&str> = text.split(':').collect();
    let ok = parts.len() == 6
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_hexdigit()));
    if !ok {
        return Err(format!(
            "MAC address `{text}` is not six hex pairs separated by colons, e.g. 52:54:00:12:34:56"
        ));
    }
    let first = u8::from_str_radix(parts[0], 16).unwrap_or(0);
    if first & 1 == 1 {
        return Err(format!(
            "MAC address `{text}` is a multicast address; a NIC needs a unicast one (even first octet, e.g. 52:54:00:...)"
        ));
    }
    Ok(text.to_ascii_lowercase())
}

/// A UUID in its 8-4-4-4-12 form, returned lower-case.
pub fn parse_uuid(text: &str) -> Result<String, String> {
    let groups: Vec<&str> = text.split('-').collect();
    let lens = [8, 4, 4, 4, 12];
    let ok = groups.len() == 5
        && groups
            .iter()
            .zip(lens)
            .all(|(g, l)| g.len() == l && g.chars().all(|c| c.is_ascii_hexdigit()));
    if !ok {
        return Err(format!(
            "UUID `{text}` is not of the form 8-4-4-4-12 hex digits, e.g. 0b6c7c9e-3c1f-4d8e-9a77-2f1e5f0f8c11"
        ));
    }
    Ok(text.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(check_name("web-1").is_ok());
        assert!(check_name("web-1.qcow2").is_ok());
        assert!(check_name("..").is_err());
        assert!(check_name(".").is_err());
        assert!(check_name("").is_err());
        assert!(check_name("x<y").is_err());
        assert!(check_name("-x").is_err());
        assert!(check_name(&"a".repeat(63)).is_ok());
        assert!(check_name(&"a".repeat(64)).is_err());
    }

    #[test]
    fn macs_and_uuids() {
        assert_eq!(parse_mac("52:54:00:AB:cd:01").unwrap(), "52:54:00:ab:cd:01");
        assert!(parse_mac("52:54:00:ab:cd").is_err());
        assert!(parse_mac("01:00:5e:00:00:01")
            .unwrap_err()
            .contains("multicast"));
        assert!(parse_mac("52-54-00-ab-cd-01").is_err());
        assert!(parse_uuid("0B6C7C9E-3c1f-4d8e-9a77-2f1e5f0f8c11").is_ok());
        assert!(parse_uuid("0b6c7c9e3c1f4d8e9a772f1e5f0f8c11").is_err());
        assert!(parse_uuid("zzzzzzzz-3c1f-4d8e-9a77-2f1e5f0f8c11").is_err());
    }
}

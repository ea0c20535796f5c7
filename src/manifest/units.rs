//! Sizes, durations and the small value syntaxes of manifests (MAC, UUID,
//! names), each parsed into a normalised value or a message that says what
//! to write instead.

use std::time::Duration;

/// Parse `<integer><unit>` into bytes. Units are case-sensitive; a bare
/// number, zero and anything that overflows u64 bytes are errors.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let digits_end = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(digits_end);
    if t.starts_with('-') {
        return Err(format!(
            "size `{text}` is negative; sizes are positive, e.g. 1GiB"
        ));
    }
    if num.is_empty() {
        return Err(format!(
            "size `{text}` does not start with a number; write e.g. 512MiB or 20GiB"
        ));
    }
    if let Some(frac) = unit.strip_prefix('.') {
        if frac.starts_with(|c: char| c.is_ascii_digit()) {
            let hint = whole_in_smaller_unit(num, frac)
                .map(|w| format!(": write `{w}`"))
                .unwrap_or_else(|| " such as MiB".into());
            return Err(format!(
                "size `{text}` is not a whole number; use a smaller unit{hint}"
            ));
        }
    }
    if unit.starts_with(char::is_whitespace) && unit_bytes(unit.trim()).is_some() {
        return Err(format!(
            "size `{text}` has a space before its unit; write `{num}{}`",
            unit.trim()
        ));
    }
    let multiplier: u64 = match unit_bytes(unit) {
        Some(m) => m,
        None if unit.is_empty() => {
            return Err(format!(
                "size `{text}` has no unit; a bare number is ambiguous: write {text}MiB, {text}GiB or {text}B"
            ))
        }
        None => {
            let hint = match unit.trim().to_ascii_lowercase().as_str() {
                "kib" | "kb" | "k" => " (did you mean KiB?)",
                "mib" | "mb" | "m" => " (did you mean MiB?)",
                "gib" | "gb" | "g" => " (did you mean GiB?)",
                "tib" | "tb" | "t" => " (did you mean TiB?)",
                "b" => " (did you mean B?)",
                _ => "",
            };
            return Err(format!(
                "size `{text}` has an unknown unit `{unit}`{hint}; units are B, KiB, MiB, GiB, TiB, KB, MB, GB, TB, k, M, G, T (case-sensitive)"
            ));
        }
    };
    let n: u64 = num
        .parse()
        .map_err(|_| format!("size `{text}` is too large (more than 2^64 bytes)"))?;
    let bytes = n
        .checked_mul(multiplier)
        .ok_or_else(|| format!("size `{text}` is too large (more than 2^64 bytes)"))?;
    if bytes == 0 {
        return Err(format!("size `{text}` is zero"));
    }
    Ok(bytes)
}

/// `1.5GiB` as a whole number of a smaller unit of the same family
/// (`1536MiB`), if there is one. `int` are the digits before the point,
/// `rest` what follows it (`5GiB`).
fn whole_in_smaller_unit(int: &str, rest: &str) -> Option<String> {
    let digits_end = rest.find(|c: char| !c.is_ascii_digit())?;
    let (frac, unit) = rest.split_at(digits_end);
    let mult = unit_bytes(unit)?;
    if int.len() > 20 || frac.len() > 18 {
        return None;
    }
    let scale = 10u128.pow(frac.len() as u32);
    let value: u128 = format!("{int}{frac}").parse().ok()?;
    let bytes = value.checked_mul(mult as u128)?;
    if bytes % scale != 0 {
        return None;
    }
    let bytes = bytes / scale;
    let family: &[&str] = if unit.ends_with("iB") || matches!(unit, "k" | "M" | "G" | "T") {
        &["TiB", "GiB", "MiB", "KiB", "B"]
    } else {
        &["TB", "GB", "MB", "KB", "B"]
    };
    family.iter().find_map(|u| {
        let m = unit_bytes(u)? as u128;
        (m < mult as u128 && bytes % m == 0).then(|| format!("{}{u}", bytes / m))
    })
}

/// The bytes of one size unit (case-sensitive), if `unit` is one.
fn unit_bytes(unit: &str) -> Option<u64> {
    Some(match unit {
        "B" => 1,
        "KiB" | "k" => 1 << 10,
        "MiB" | "M" => 1 << 20,
        "GiB" | "G" => 1 << 30,
        "TiB" | "T" => 1 << 40,
        "KB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "TB" => 1_000_000_000_000,
        _ => return None,
    })
}

/// Render bytes the way a person writes them: the largest binary unit that
/// divides the value exactly.
pub fn format_size(bytes: u64) -> String {
    for (unit, m) in [
        ("TiB", 1u64 << 40),
        ("GiB", 1 << 30),
        ("MiB", 1 << 20),
        ("KiB", 1 << 10),
    ] {
        if bytes >= m && bytes % m == 0 {
            return format!("{}{unit}", bytes / m);
        }
    }
    format!("{bytes}B")
}

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
    fn sizes() {
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("512M"), Ok(512 << 20));
        assert_eq!(parse_size("20GB"), Ok(20_000_000_000));
        assert!(parse_size("16EiB").unwrap_err().contains("unknown unit"));
        assert!(parse_size("1024").unwrap_err().contains("no unit"));
        assert!(parse_size("-1GiB").unwrap_err().contains("negative"));
        assert!(parse_size("0MiB").unwrap_err().contains("zero"));
        assert!(parse_size("16777216TiB").unwrap_err().contains("too large"));
        assert!(parse_size("99999999999999999999999B")
            .unwrap_err()
            .contains("too large"));
        assert!(parse_size("1gib").unwrap_err().contains("did you mean GiB"));
        assert!(parse_size("1.5GiB")
            .unwrap_err()
            .contains("not a whole number; use a smaller unit: write `1536MiB`"));
        assert!(parse_size("2.25T").unwrap_err().contains("write `2304GiB`"));
        assert!(parse_size("1.5GB").unwrap_err().contains("write `1500MB`"));
        assert!(parse_size("0.1GiB")
            .unwrap_err()
            .contains("smaller unit such as MiB"));
        assert!(parse_size("1 GiB").unwrap_err().contains("write `1GiB`"));
        assert!(parse_size("1 gib")
            .unwrap_err()
            .contains("did you mean GiB"));
        assert!(parse_size("1\n2GiB").unwrap_err().contains("unknown unit"));
    }

    #[test]
    fn size_format_round_trips() {
        for s in ["1GiB", "64MiB", "3KiB", "1000B", "5TiB"] {
            assert_eq!(format_size(parse_size(s).unwrap()), s);
        }
    }

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

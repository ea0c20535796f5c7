//! Sizes: the one place that knows units.
//!
//! Manifests write sizes as `<integer><unit>` (1024- and 1000-based units,
//! case-sensitive); libvirt writes them as a number with a `unit`
//! attribute in its own spellings (`KiB` by default, `bytes`, `k`, ...) and
//! stores memory in whole KiB. [`Bytes`] and [`Kib`] keep the two scales
//! apart in the code that converts between them.

/// An amount in bytes (manifest sizes, volume capacities).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(transparent)]
pub struct Bytes(pub u64);

/// An amount in KiB, as libvirt stores memory.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(transparent)]
pub struct Kib(pub u64);

impl Bytes {
    /// Whole KiB, rounded up as libvirt rounds memory it is given.
    pub fn to_kib(self) -> Kib {
        Kib(self.0.div_ceil(1024))
    }
}

impl Kib {
    pub fn to_bytes(self) -> Bytes {
        Bytes(self.0.saturating_mul(1024))
    }
}

impl std::fmt::Display for Bytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&format_size(self.0))
    }
}

impl std::fmt::Display for Kib {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.to_bytes().fmt(f)
    }
}

/// `value` `unit` as libvirt writes sizes (`<memory unit='KiB'>1024</memory>`):
/// libvirt's own spellings (`b`, `bytes`, `K`, lower-case `k`) on top of the
/// manifests' units, and KiB when there is no unit.
pub fn libvirt_bytes(value: &str, unit: Option<&str>) -> Option<u64> {
    let n: u64 = value.trim().parse().ok()?;
    let m = match unit.unwrap_or("KiB") {
        "b" | "bytes" => 1,
        "K" => 1 << 10,
        u => unit_bytes(u)?,
    };
    n.checked_mul(m)
}

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
    fn libvirt_spellings() {
        assert_eq!(libvirt_bytes("1024", None), Some(1 << 20));
        assert_eq!(libvirt_bytes("5", Some("bytes")), Some(5));
        assert_eq!(libvirt_bytes("2", Some("K")), Some(2048));
        assert_eq!(libvirt_bytes("1", Some("MB")), Some(1_000_000));
        assert_eq!(libvirt_bytes("1", Some("parsecs")), None);
        assert_eq!(Bytes(1).to_kib(), Kib(1));
        assert_eq!(Bytes(2048).to_kib(), Kib(2));
        assert_eq!(Kib(1024).to_string(), "1MiB");
    }
}

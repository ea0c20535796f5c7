//! Checks of the `xml` escape hatch: the `at` path's syntax and the `merge`
//! fragment's well-formedness and refusals.
//!
//! The escape hatch exists for settings the schema does not model, not as a
//! way around the safety rules: fragments that would give a guest host
//! devices, host files or raw QEMU arguments are refused unless the operator
//! says `--allow-unsafe-xml`.

use quick_xml::events::Event;
use quick_xml::Reader;

/// Elements refused in a fragment because they reach into the host.
const REFUSED_ELEMENTS: &[&str] = &[
    "hostdev",
    "filesystem",
    "redirdev",
    "smartcard",
    "disk",
    "interface",
    "loader",
    "nvram",
    "kernel",
    "initrd",
    "dtb",
    "emulator",
];

/// libvirt's namespace for raw QEMU arguments (`<qemu:commandline>`).
const QEMU_NS: &str = "http://libvirt.org/schemas/domain/qemu/1.0";

/// Attributes refused anywhere in a fragment because they name host paths.
const REFUSED_ATTRIBUTES: &[&str] = &["file", "dir", "path"];

/// Parse `/domain/devices/interface[2]` into `[("domain",0), ("devices",0),
/// ("interface",1)]`, checking that it starts at `root`.
pub fn parse_at(at: &str, root: &str) -> Result<Vec<(String, usize)>, String> {
    let Some(rest) = at.strip_prefix('/') else {
        return Err(format!(
            "`at: {at}` must be an absolute element path starting with /{root}"
        ));
    };
    let mut out = Vec::new();
    for seg in rest.split('/') {
        let (name, index) = match seg.find('[') {
            Some(open) => {
                let Some(num) = seg[open + 1..].strip_suffix(']') else {
                    return Err(format!(
                        "`at: {at}`: segment `{seg}` is not name or name[N]"
                    ));
                };
                let n: usize = num.parse().map_err(|_| {
                    format!("`at: {at}`: index `{num}` in `{seg}` is not a number (indexes are 1-based)")
                })?;
                if n == 0 {
                    return Err(format!("`at: {at}`: indexes are 1-based; `{seg}` has 0"));
                }
                (&seg[..open], n - 1)
            }
            None => (seg, 0),
        };
        if !is_xml_name(name) {
            return Err(format!(
                "`at: {at}`: `{seg}` is not an element name (only element names and [N] indexes are allowed)"
            ));
        }
        out.push((name.to_string(), index));
    }
    if out.first().map(|(n, _)| n.as_str()) != Some(root) {
        return Err(format!("`at: {at}` must start with /{root}"));
    }
    Ok(out)
}

fn is_xml_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':'))
}

/// Check that `merge` is exactly one well-formed element. Returns the
/// problems that `--allow-unsafe-xml` would accept separately from the
/// malformations it would not.
pub fn check_fragment(merge: &str) -> Result<Vec<String>, String> {
    let mut reader = Reader::from_str(merge);
    reader.config_mut().check_end_names = true;
    let mut depth = 0usize;
    let mut tops = 0usize;
    let mut unsafe_found = Vec::new();
    // One fragment in the qemu namespace is one problem, however many of its
    // elements and declarations show it: report it once.
    let mut qemu_reported = false;
    let mut check = |e: &quick_xml::events::BytesStart| -> Result<(), String> {
        let name = e.name().into_inner().to_string();
        let local = name.rsplit(':').next().unwrap_or(&name).to_string();
        if name.contains(':') && name.split(':').next() == Some("qemu") {
            if !qemu_reported {
                qemu_reported = true;
                unsafe_found.push(format!(
                    "`<{name}>` uses the qemu: namespace (raw QEMU arguments bypass libvirt's checks)"
                ));
            }
        } else if REFUSED_ELEMENTS.contains(&local.as_str()) {
            unsafe_found.push(format!(
                "`<{name}>` is refused in the xml escape hatch (it reaches host devices or files{})",
                if matches!(local.as_str(), "disk" | "interface") {
                    "; use spec.disks / spec.interfaces"
                } else {
                    ""
                }
            ));
        }
        for attr in e.attributes() {
            let attr = attr.map_err(|err| format!("`merge` is not well-formed XML: {err}"))?;
            let key = attr.key.into_inner().to_string();
            // Compare the value libvirt's parser will see: `&#58;` for `:`
            // must not smuggle the namespace past a byte comparison.
            let value = attr
                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .map_err(|err| format!("`merge` is not well-formed XML: {err}"))?;
            if (key == "xmlns:qemu" || (key.starts_with("xmlns") && value.trim() == QEMU_NS))
                && !qemu_reported
            {
                qemu_reported = true;
                unsafe_found.push(format!(
                    "`<{name}>` declares the qemu namespace (raw QEMU arguments bypass libvirt's checks)"
                ));
            }
            if REFUSED_ATTRIBUTES.contains(&key.as_str()) {
                unsafe_found.push(format!(
                    "`<{name} {key}=...>` names a host path; host paths are refused in the xml escape hatch"
                ));
            }
        }
        Ok(())
    };
    loop {
        match reader.read_event() {
            Err(e) => {
                return Err(format!(
                    "`merge` is not well-formed XML at byte {}: {e}",
                    reader.error_position()
                ))
            }
            Ok(Event::Eof) => break,
            Ok(Event::Start(e)) => {
                if depth == 0 {
                    tops += 1;
                }
                depth += 1;
                check(&e)?;
            }
            Ok(Event::Empty(e)) => {
                if depth == 0 {
                    tops += 1;
                }
                check(&e)?;
            }
            Ok(Event::End(_)) => depth = depth.saturating_sub(1),
            Ok(Event::Text(t)) if depth == 0 => {
                if !t.into_inner().chars().all(|c| c.is_ascii_whitespace()) {
                    return Err(
                        "`merge` has text outside its element; give exactly one element".into(),
                    );
                }
            }
            Ok(Event::DocType(_)) => {
                return Err("`merge` must not contain a DOCTYPE".into());
            }
            Ok(_) => {}
        }
    }
    if depth != 0 {
        return Err("`merge` is not well-formed XML: an element is not closed".into());
    }
    if tops != 1 {
        return Err(format!(
            "`merge` must be exactly one XML element; it has {tops}"
        ));
    }
    Ok(unsafe_found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_paths() {
        assert_eq!(
            parse_at("/domain/devices/interface[2]", "domain").unwrap(),
            vec![
                ("domain".into(), 0),
                ("devices".into(), 0),
                ("interface".into(), 1)
            ]
        );
        assert!(parse_at("domain/os", "domain").is_err());
        assert!(parse_at("/network/ip", "domain").is_err());
        assert!(parse_at("/domain/os[0]", "domain").is_err());
        assert!(parse_at("/domain//os", "domain").is_err());
        assert!(parse_at("/domain/os[@a='b']", "domain").is_err());
        assert!(parse_at("/domain/*", "domain").is_err());
    }

    #[test]
    fn fragments() {
        assert_eq!(
            check_fragment("<bios rebootTimeout='-1'/>").unwrap(),
            Vec::<String>::new()
        );
        assert!(check_fragment("<a/><b/>").is_err());
        assert!(check_fragment("<a>").is_err());
        assert!(check_fragment("<a></b>").is_err());
        assert!(check_fragment("text").is_err());
        let u = check_fragment("<qemu:commandline xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'><qemu:arg value='-x'/></qemu:commandline>").unwrap();
        // One problem, said once.
        assert_eq!(u.len(), 1, "{u:?}");
        // Another prefix, and the URI hidden behind character references.
        let u = check_fragment(
            "<x:commandline xmlns:x='http&#58;//libvirt.org/schemas/domain/qemu/1.0'/>",
        )
        .unwrap();
        assert_eq!(u.len(), 1, "{u:?}");
        let u = check_fragment(
            "<commandline xmlns='http://libvirt.org/schemas/domain/qemu&#x2F;1.0'/>",
        )
        .unwrap();
        assert_eq!(u.len(), 1, "{u:?}");
        assert!(!check_fragment("<hostdev mode='subsystem'/>")
            .unwrap()
            .is_empty());
        assert!(
            !check_fragment("<serial type='file'><source path='/etc/shadow'/></serial>")
                .unwrap()
                .is_empty()
        );
        assert!(!check_fragment("<os><kernel>/boot/vmlinuz</kernel></os>")
            .unwrap()
            .is_empty());
    }
}

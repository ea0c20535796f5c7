//! What an imported object keeps on the host: the elements of its XML
//! that no manifest field covers. virtsync patches the fields a manifest
//! sets into the host's definition and never replaces it, so these stay
//! as they are; the imported manifest lists them in a comment, so that a
//! reader knows the manifest is not the whole object.

use crate::xml::Element;

/// The elements of `root` (as `a/b` paths below the root) that `modelled`
/// does not cover, in document order, each once with its count
/// (`devices/controller (6)`).
///
/// `modelled` lists element paths a manifest field covers: an entry
/// covers that element and everything in it, and an element that is a
/// prefix of an entry (`devices` of `devices/disk`; `forward` of
/// `forward/`) is a container whose other children are reported. The
/// ownership marker is never reported.
pub fn unmodelled(root: &Element, modelled: &[&str]) -> Vec<String> {
    let mut found: Vec<(String, usize)> = Vec::new();
    walk(root, "", modelled, &mut found);
    found
        .into_iter()
        .map(|(p, n)| if n > 1 { format!("{p} ({n})") } else { p })
        .collect()
}

fn walk(e: &Element, prefix: &str, modelled: &[&str], found: &mut Vec<(String, usize)>) {
    for c in e.elements() {
        if is_marker(c) {
            continue;
        }
        let path = format!("{prefix}{}", c.name);
        if modelled.contains(&path.as_str()) {
            continue;
        }
        let container = format!("{path}/");
        if modelled.iter().any(|m| m.starts_with(&container)) {
            walk(c, &container, modelled, found);
            continue;
        }
        match found.iter_mut().find(|(p, _)| *p == path) {
            Some((_, n)) => *n += 1,
            None => found.push((path, 1)),
        }
    }
}

fn is_marker(e: &Element) -> bool {
    e.name.ends_with(":owner") && e.attrs.iter().any(|(_, v)| v == crate::render::MARKER_NS)
}

/// What a domain's manifest fields cover.
pub const DOMAIN: &[&str] = &[
    "name",
    "uuid",
    "memory",
    "currentMemory",
    "vcpu",
    "metadata/",
    "os/type",
    "os/boot",
    "os/loader",
    "os/nvram",
    "os/firmware",
    "cpu/model",
    "devices/disk",
    "devices/interface",
    "devices/graphics",
    "devices/console",
    "devices/serial",
];

/// What a network's manifest fields cover.
pub const NETWORK: &[&str] = &[
    "name",
    "uuid",
    "metadata/",
    "forward/",
    "bridge",
    "mtu",
    "domain",
    "ip/dhcp/range",
    "ip/dhcp/host",
    "dns/forwarder",
    "dns/host",
];

/// What a pool's manifest fields cover (and what libvirt reports about
/// its use, which no one declares).
pub const POOL: &[&str] = &[
    "name",
    "uuid",
    "capacity",
    "allocation",
    "available",
    "source/host",
    "source/dir",
    "source/device",
    "source/name",
    "source/format",
    "target/path",
];

/// Lines of at most `width` characters listing `items`, comma-separated.
pub fn wrap(items: &[String], width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for (i, item) in items.iter().enumerate() {
        let piece = if i + 1 < items.len() {
            format!("{item},")
        } else {
            item.clone()
        };
        if !line.is_empty() && line.len() + 1 + piece.len() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(&piece);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn containers_report_their_other_children_once_with_a_count() {
        let root = Element::parse(
            "<domain><name>x</name><clock offset='utc'/><devices><disk/><controller/>\
             <controller/><video/></devices><cpu mode='custom'><model>m</model>\
             <topology sockets='1'/></cpu></domain>",
        )
        .unwrap();
        assert_eq!(
            unmodelled(&root, DOMAIN),
            [
                "clock",
                "devices/controller (2)",
                "devices/video",
                "cpu/topology"
            ]
        );
    }

    #[test]
    fn lines_are_wrapped_between_items() {
        let items: Vec<String> = ["aaaa", "bbbb", "cccc"].map(String::from).to_vec();
        assert_eq!(wrap(&items, 11), ["aaaa, bbbb,", "cccc"]);
    }
}

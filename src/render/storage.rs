//! Storage pools and volumes: XML for new ones, facts read from observed XML.

use crate::model::*;
use crate::xml::{Element, Node};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PoolFacts {
    pub pool_type: String,
    pub path: String,
    pub source_host: Option<String>,
    pub source_dir: Option<String>,
    pub source_device: Option<String>,
    pub source_name: Option<String>,
    pub source_format: Option<String>,
}

pub fn read_pool(root: &Element) -> PoolFacts {
    let src = root.child("source");
    let attr_of = |child: &str, attr: &str| {
        src.and_then(|s| s.child(child))
            .and_then(|c| c.attr(attr))
            .map(str::to_string)
    };
    PoolFacts {
        pool_type: root.attr("type").unwrap_or_default().to_string(),
        path: root
            .find(&["target", "path"])
            .map(|p| p.text())
            .unwrap_or_default(),
        source_host: attr_of("host", "name"),
        source_dir: attr_of("dir", "path"),
        source_device: attr_of("device", "path"),
        source_name: src.and_then(|s| s.child("name")).map(|n| n.text()),
        source_format: attr_of("format", "type"),
    }
}

/// Render `p` over `base` (update) or from nothing (create).
pub fn render_pool(p: &Pool, base: Option<&Element>) -> Element {
    let mut root = base.cloned().unwrap_or_else(|| Element::new("pool"));
    if base.is_none() {
        root.ensure_child("name").set_text(p.meta.name.clone());
    }
    if let Some(t) = p.pool_type {
        root.set_attr("type", t.as_str());
    }
    if let Some(path) = &p.path {
        root.ensure_child("target")
            .ensure_child("path")
            .set_text(path.clone());
    }
    if let Some(s) = &p.source {
        let mut src = Element::new("source");
        if let Some(h) = &s.host {
            src.children.push(Node::Element(
                Element::new("host").with_attr("name", h.clone()),
            ));
        }
        if let Some(d) = &s.dir {
            src.children.push(Node::Element(
                Element::new("dir").with_attr("path", d.clone()),
            ));
        }
        if let Some(d) = &s.device {
            src.children.push(Node::Element(
                Element::new("device").with_attr("path", d.clone()),
            ));
        }
        if let Some(n) = &s.name {
            src.children
                .push(Node::Element(Element::new("name").with_text(n.clone())));
        }
        if let Some(f) = &s.format {
            src.children.push(Node::Element(
                Element::new("format").with_attr("type", f.clone()),
            ));
        }
        root.replace_child(src);
    }
    // libvirt's pool schema wants <source> before <target>.
    root.children.sort_by_key(|c| match c {
        Node::Element(e) if e.name == "name" => 0,
        Node::Element(e) if e.name == "uuid" => 1,
        Node::Element(e) if e.name == "source" => 3,
        Node::Element(e) if e.name == "target" => 4,
        _ => 2,
    });
    root
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VolumeFacts {
    pub capacity: u64,
    pub format: Option<String>,
    pub path: Option<String>,
    pub backing_path: Option<String>,
}

pub fn read_volume(root: &Element) -> VolumeFacts {
    VolumeFacts {
        capacity: root
            .child("capacity")
            .and_then(super::scaled_bytes)
            .unwrap_or(0),
        format: root
            .find(&["target", "format"])
            .and_then(|f| f.attr("type"))
            .map(str::to_string),
        path: root.find(&["target", "path"]).map(|p| p.text()),
        backing_path: root.find(&["backingStore", "path"]).map(|p| p.text()),
    }
}

/// XML to create volume `v`; `backing` is the backing volume's path and format.
pub fn render_volume(v: &Volume, backing: Option<(&str, &str)>) -> Element {
    let format = v.format.unwrap_or(VolumeFormat::Qcow2);
    let mut root = render_image_volume(&v.meta.name, format, v.capacity);
    if let Some((path, fmt)) = backing {
        root = root.with_child(
            Element::new("backingStore")
                .with_child(Element::new("path").with_text(path))
                .with_child(Element::new("format").with_attr("type", fmt)),
        );
    }
    root
}

/// XML of a new volume of `format` and `size` (unknown: 0, as for an
/// image whose file grows as the upload writes it).
pub fn render_image_volume(name: &str, format: VolumeFormat, size: Option<u64>) -> Element {
    Element::new("volume")
        .with_child(Element::new("name").with_text(name))
        .with_child(
            Element::new("capacity")
                .with_attr("unit", "bytes")
                .with_text(size.unwrap_or(0).to_string()),
        )
        // Thin, as virt-install makes them: without it libvirt allocates a
        // raw volume's whole capacity up front (100 GiB written for a
        // 100 GiB cache disk), failing on a pool without the room.
        .with_child(
            Element::new("allocation")
                .with_attr("unit", "bytes")
                .with_text("0"),
        )
        .with_child(
            Element::new("target")
                .with_child(Element::new("format").with_attr("type", format.as_str())),
        )
}

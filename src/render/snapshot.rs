//! Snapshots: the `<domainsnapshot>` virtsync creates, next to the reader
//! of the XML libvirt gives back (name, description, the state the guest
//! was in, when it was taken).

use crate::xml::Element;

/// A snapshot as libvirt describes it.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SnapshotFacts {
    pub name: String,
    pub description: Option<String>,
    /// The guest's state when it was taken (`running`, `shutoff`, ...):
    /// reverting brings the guest back to it.
    pub state: String,
    /// Seconds since the epoch.
    pub creation_time: Option<i64>,
}

pub fn read_snapshot(root: &Element) -> SnapshotFacts {
    let text = |n: &str| root.child(n).map(|e| e.text());
    SnapshotFacts {
        name: text("name").unwrap_or_default(),
        description: text("description"),
        state: text("state").unwrap_or_default(),
        creation_time: text("creationTime").and_then(|t| t.trim().parse().ok()),
    }
}

/// The `<domainsnapshot>` to create: name and description only; libvirt
/// fills in the rest (internal, with the memory state when the guest runs).
pub fn render_snapshot(name: &str, description: Option<&str>) -> Element {
    let mut root =
        Element::new("domainsnapshot").with_child(Element::new("name").with_text(name.to_string()));
    if let Some(d) = description {
        root = root.with_child(Element::new("description").with_text(d.to_string()));
    }
    root
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rendered_snapshots_read_back() {
        let e = render_snapshot("s1", Some("before <upgrade>"));
        let back = read_snapshot(&Element::parse(&e.to_xml()).unwrap());
        assert_eq!(back.name, "s1");
        assert_eq!(back.description.as_deref(), Some("before <upgrade>"));
        let libvirt = "<domainsnapshot><name>s1</name><state>running</state><creationTime>1764620000</creationTime></domainsnapshot>";
        let f = read_snapshot(&Element::parse(libvirt).unwrap());
        assert_eq!(
            (f.state.as_str(), f.creation_time),
            ("running", Some(1764620000))
        );
        assert_eq!(f.description, None);
    }
}

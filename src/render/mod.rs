//! Render: model → libvirt XML, and reading libvirt XML back into comparable
//! facts.
//!
//! One function per kind writes the fields a manifest sets into an XML
//! tree: for a new object the tree starts as a skeleton and create-time
//! defaults are filled in; for an update it starts from the observed
//! inactive XML, so everything virtsync does not model (and the `<uuid>`)
//! survives. The matching `read_*` functions parse observed XML with the
//! same normalisation, which is what makes "apply, then plan is empty" hold.

pub mod domain;
pub mod network;
pub mod snapshot;
pub mod storage;

use crate::xml::Element;

/// Bytes of a libvirt `<memory unit=...>`-style element.
pub fn scaled_bytes(e: &Element) -> Option<u64> {
    crate::units::libvirt_bytes(&e.text(), e.attr("unit"))
}

/// The ownership marker written into domains and networks.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Marker {
    /// The manifest set the object belongs to (`owner`, see
    /// [`crate::owner`]); `None` in markers written before owners existed,
    /// which the first owner that manages the object claims.
    pub owner: Option<String>,
    pub manifest: String,
    pub revision: String,
    pub spec: String,
    /// Domains only: the hypervisor id of the running guest whose config
    /// virtsync changed at next-boot (`restart-pending-id`). While the
    /// domain still runs under that id, what it runs may lack the config:
    /// its live XML is read to tell which fields. A start gives a new id,
    /// so the record goes stale by itself — no call, no write needed.
    pub restart_pending_id: Option<u32>,
    /// Transient domains only: the balloon target virtsync gave the guest
    /// (`memory-kib`). A transient domain has no persistent config to hold
    /// what was applied, and the live `<currentMemory>` moves only when
    /// the guest's balloon driver answers (never without a guest OS): the
    /// marker in its live definition holds it instead.
    pub memory_kib: Option<u64>,
    /// The manifest's `metadata.labels` (`labels="k=v,k2=v2"`), so that a
    /// prune candidate — whose manifest is gone — can be matched against
    /// `--selector`. As current as the last define.
    pub labels: std::collections::BTreeMap<String, String>,
}

pub const MARKER_NS: &str = "https://virtsync.io/xmlns/owner/v1";

/// The ownership marker of a document's `<metadata>`, if any.
pub fn read_marker(root: &Element) -> Option<Marker> {
    let md = root.child("metadata")?;
    md.elements()
        .find(|e| {
            e.name.ends_with(":owner")
                && e.attrs
                    .iter()
                    .any(|(k, v)| k.starts_with("xmlns") && v == MARKER_NS)
        })
        .map(|e| Marker {
            owner: e.attr("owner").map(str::to_string),
            manifest: e.attr("manifest").unwrap_or_default().to_string(),
            revision: e.attr("revision").unwrap_or_default().to_string(),
            spec: e.attr("spec").unwrap_or_default().to_string(),
            restart_pending_id: e.attr("restart-pending-id").and_then(|v| v.parse().ok()),
            memory_kib: e.attr("memory-kib").and_then(|v| v.parse().ok()),
            labels: e.attr("labels").map(parse_labels).unwrap_or_default(),
        })
}

/// `k=v,k2=v2` (label keys hold no `=` or `,`, values no `,`: see
/// docs/manifests.md).
fn parse_labels(s: &str) -> std::collections::BTreeMap<String, String> {
    s.split(',')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Write (or replace) the ownership marker in `<metadata>`.
pub fn write_marker(root: &mut Element, m: &Marker) {
    let md = root.ensure_child("metadata");
    md.children.retain(|n| {
        !matches!(n, crate::xml::Node::Element(e)
            if e.name.ends_with(":owner") && e.attrs.iter().any(|(_, v)| v == MARKER_NS))
    });
    let owner = marker_element(
        m,
        Element::new("virtsync:owner").with_attr("xmlns:virtsync", MARKER_NS),
    );
    md.children.push(crate::xml::Node::Element(owner));
}

/// The marker as the fragment `virDomainSetMetadata` takes (libvirt adds
/// the namespace), to rewrite it in a running domain's live definition.
pub fn marker_fragment(m: &Marker) -> String {
    marker_element(m, Element::new("owner")).to_xml()
}

fn marker_element(m: &Marker, owner: Element) -> Element {
    let mut owner = match &m.owner {
        Some(o) => owner.with_attr("owner", o.clone()),
        None => owner,
    };
    owner = owner
        .with_attr("manifest", m.manifest.clone())
        .with_attr("revision", m.revision.clone())
        .with_attr("spec", m.spec.clone());
    if let Some(id) = m.restart_pending_id {
        owner = owner.with_attr("restart-pending-id", id.to_string());
    }
    if let Some(k) = m.memory_kib {
        owner = owner.with_attr("memory-kib", k.to_string());
    }
    if !m.labels.is_empty() {
        let labels: Vec<String> = m.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        owner = owner.with_attr("labels", labels.join(","));
    }
    owner
}

/// Apply the `xml` escape hatch: put each fragment under its `at` element,
/// replacing a child of the same name.
pub fn apply_patches(root: &mut Element, patches: &[crate::model::XmlPatch]) -> Result<(), String> {
    for p in patches {
        let target = find_path_mut(root, &p.at).ok_or_else(|| {
            format!(
                "xml: element `{}` does not exist in the object's XML",
                p.at_text
            )
        })?;
        let frag = Element::parse(&p.merge).map_err(|e| e.to_string())?;
        let slot = target
            .children
            .iter_mut()
            .find(|n| matches!(n, crate::xml::Node::Element(c) if same_slot(c, &frag)));
        match slot {
            Some(n) => *n = crate::xml::Node::Element(frag),
            None => target.children.push(crate::xml::Node::Element(frag)),
        }
    }
    Ok(())
}

/// Whether `c` is the child a fragment replaces: the same element name and,
/// where the fragment gives them, the same identifying attributes, so
/// `<controller type='scsi'/>` does not overwrite the USB controller.
fn same_slot(c: &Element, frag: &Element) -> bool {
    c.name == frag.name
        && ["type", "index", "name", "id"]
            .iter()
            .all(|k| frag.attr(k).is_none() || c.attr(k) == frag.attr(k))
}

/// Whether every `xml` fragment is present (as a subset) at its place.
pub fn patch_present(root: &Element, p: &crate::model::XmlPatch) -> bool {
    let Ok(frag) = Element::parse(&p.merge) else {
        return false;
    };
    find_path(root, &p.at).is_some_and(|t| {
        t.elements()
            .any(|c| same_slot(c, &frag) && c.contains(&frag))
    })
}

fn find_path<'a>(root: &'a Element, at: &[(String, usize)]) -> Option<&'a Element> {
    let ((first, _), rest) = at.split_first()?;
    if &root.name != first {
        return None;
    }
    rest.iter().try_fold(root, |e, (name, idx)| {
        e.elements().filter(|c| &c.name == name).nth(*idx)
    })
}

fn find_path_mut<'a>(root: &'a mut Element, at: &[(String, usize)]) -> Option<&'a mut Element> {
    let ((first, _), rest) = at.split_first()?;
    if &root.name != first {
        return None;
    }
    let mut cur = root;
    for (name, idx) in rest {
        cur = cur.elements_mut().filter(|e| &e.name == name).nth(*idx)?;
    }
    Some(cur)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::XmlPatch;

    #[test]
    fn a_fragment_replaces_only_the_child_with_its_identity() {
        let mut root = Element::parse(
            "<domain><devices><controller type='usb' model='qemu-xhci'/><controller type='sata'/></devices></domain>",
        )
        .unwrap();
        let patch = |m: &str| XmlPatch {
            at: vec![("domain".into(), 0), ("devices".into(), 0)],
            at_text: "/domain/devices".into(),
            merge: m.into(),
        };
        let patches = [
            patch("<controller type='usb' model='none'/>"),
            patch("<controller type='scsi' model='virtio-scsi'/>"),
        ];
        apply_patches(&mut root, &patches).unwrap();
        let devices = root.child("devices").unwrap();
        let types: Vec<_> = devices
            .elements()
            .map(|c| c.attr("type").unwrap())
            .collect();
        assert_eq!(types, ["usb", "sata", "scsi"]);
        assert!(patches.iter().all(|p| patch_present(&root, p)));
    }

    #[test]
    fn the_marker_keeps_its_owner_and_labels() {
        let m = Marker {
            owner: Some("github.com/acme/infra//prod".into()),
            manifest: "vms/web.yaml".into(),
            revision: String::new(),
            spec: "sha256:0".into(),
            restart_pending_id: None,
            memory_kib: None,
            labels: [("app", "web"), ("tier", "a=b")]
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .into(),
        };
        let mut root = Element::parse("<domain><name>web</name></domain>").unwrap();
        write_marker(&mut root, &m);
        let xml = root.to_xml();
        assert!(
            xml.contains(r#"xmlns:virtsync="https://virtsync.io/xmlns/owner/v1" owner="github.com/acme/infra//prod" manifest="#),
            "{xml}"
        );
        assert_eq!(read_marker(&Element::parse(&xml).unwrap()), Some(m.clone()));
        // A marker written before owners existed reads as owner-less.
        let old =
            Element::parse(&xml.replace(r#" owner="github.com/acme/infra//prod""#, "")).unwrap();
        assert_eq!(read_marker(&old).and_then(|m| m.owner), None);
    }
}

//! Checks of single values, and the per-document context they report through.
//!
//! Each value a manifest keeps as text (sizes, MACs, UUIDs, addresses,
//! names, paths, interface and DNS names, URIs, the `xml` escape hatch) is
//! parsed or checked here, and a bad one is reported at its field with the
//! reason, so that the kind-specific checks read as a list of rules rather
//! than parsing code. The shapes these accept are mirrored by the string
//! syntaxes of [`super::super::schema`].

use std::net::IpAddr;
use std::path::{Component, Path, PathBuf};

use super::super::load::LoadedDoc;
use super::super::sink::Sink;
use super::super::types::{SizeText, XmlPatchSpec};
use super::super::units::{check_name, parse_mac, parse_size, parse_uuid};
use super::super::yaml::Pos;
use super::super::{xmlpatch, LoadOptions};
use crate::model::XmlPatch;

/// One document being checked: where its errors go and the options that
/// change what is accepted.
pub(super) struct Ctx<'a, 'd> {
    pub doc: &'a LoadedDoc,
    pub sink: &'a mut Sink<'d>,
    pub opts: &'a LoadOptions,
}

impl Ctx<'_, '_> {
    /// An error at `pos` of this document, without a field path.
    pub fn at(&mut self, pos: Pos, message: impl Into<String>) {
        self.sink.doc_at(self.doc, pos, message);
    }

    /// An error about the value at `path` (`spec.disks[0].mac`).
    pub fn err(&mut self, path: &str, message: impl Into<String>) {
        self.sink.field(self.doc, path, message);
    }

    pub fn size(&mut self, path: &str, text: &SizeText) -> Option<u64> {
        parse_size(&text.0).map_err(|m| self.err(path, m)).ok()
    }

    pub fn mac(&mut self, path: &str, text: &str) -> Option<String> {
        parse_mac(text).map_err(|m| self.err(path, m)).ok()
    }

    pub fn uuid(&mut self, path: &str, text: &Option<String>) -> Option<String> {
        let t = text.as_ref()?;
        parse_uuid(t).map_err(|m| self.err(path, m)).ok()
    }

    pub fn ip(&mut self, path: &str, text: &str) -> Option<IpAddr> {
        text.trim()
            .parse()
            .map_err(|_| self.err(path, format!("`{text}` is not an IP address")))
            .ok()
    }

    /// A reference to another manifest by name: it must at least be a name.
    pub fn name_ref(&mut self, path: &str, name: &str) {
        if let Err(m) = check_name(name) {
            self.err(path, m);
        }
    }

    /// A host network interface name (bridge, forward device).
    pub fn ifname(&mut self, path: &str, name: &str) {
        if let Err(m) = check_ifname(name) {
            self.err(path, m);
        }
    }

    /// A disk or pool path: absolute, without `..`.
    pub fn abs_path(&mut self, path: &str, text: &str) -> Option<PathBuf> {
        check_abs_path(text).map_err(|m| self.err(path, m)).ok()
    }

    /// The `xml` escape hatch: each path must start at `root` and each
    /// fragment be one well-formed element and, unless
    /// `--allow-unsafe-xml`, free of what reaches into the host (host
    /// devices, host files, raw QEMU arguments).
    pub fn xml(
        &mut self,
        path: &str,
        patches: &Option<Vec<XmlPatchSpec>>,
        root: &str,
    ) -> Vec<XmlPatch> {
        let mut out = Vec::new();
        for (i, p) in patches.iter().flatten().enumerate() {
            let at = xmlpatch::parse_at(&p.at, root)
                .map_err(|m| self.err(&format!("{path}[{i}].at"), m));
            match xmlpatch::check_fragment(&p.merge) {
                Err(m) => self.err(&format!("{path}[{i}].merge"), m),
                Ok(unsafe_found) if !self.opts.allow_unsafe_xml => {
                    for m in unsafe_found {
                        self.err(
                            &format!("{path}[{i}].merge"),
                            format!("{m}; pass --allow-unsafe-xml if you really mean it"),
                        );
                    }
                }
                Ok(_) => {}
            }
            // The identity of the object is the manifest's: a fragment at
            // the root must not rename it, re-key it or touch the ownership
            // marker.
            let top = crate::xml::Element::parse(&p.merge).ok().map(|e| e.name);
            if let (Ok(at), Some(top)) = (&at, &top) {
                if at.len() == 1 && ["name", "uuid", "metadata"].contains(&top.as_str()) {
                    let instead = match top.as_str() {
                        "name" => "set metadata.name instead",
                        "uuid" => "set spec.uuid instead",
                        _ => "libvirt metadata holds virtsync's ownership marker",
                    };
                    self.err(
                        &format!("{path}[{i}].merge"),
                        format!(
                            "`<{top}>` under /{root} is refused in the xml escape hatch: {instead}"
                        ),
                    );
                }
            }
            if let Ok(at) = at {
                out.push(XmlPatch {
                    at,
                    at_text: p.at.clone(),
                    merge: p.merge.clone(),
                });
            }
        }
        out
    }
}

/// A disk `path:` or pool path: absolute, normal, no `..`.
fn check_abs_path(path: &str) -> Result<PathBuf, String> {
    if path.contains('\0') || path.contains('\n') {
        return Err("path contains a control character".into());
    }
    let p = Path::new(path);
    if !p.is_absolute() {
        return Err(format!("path `{path}` must be absolute"));
    }
    if p.components().any(|c| matches!(c, Component::ParentDir)) {
        return Err(format!("path `{path}` must not contain `..`"));
    }
    Ok(p.components().collect())
}

/// A kernel network interface name.
fn check_ifname(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 15 {
        return Err(format!(
            "interface name `{name}` must be 1 to 15 characters (the kernel's limit)"
        ));
    }
    if name
        .chars()
        .any(|c| c == '/' || c == ':' || c.is_whitespace() || c.is_control())
        || name == "."
        || name == ".."
    {
        return Err(format!("`{name}` is not a valid network interface name"));
    }
    Ok(())
}

/// Dot-separated labels of letters, digits and inner `-`.
pub(super) fn check_dns_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
}

/// A Host's connection URI: a scheme (`qemu`, `qemu+ssh`) and `://`.
pub(super) fn check_uri(cx: &mut Ctx, uri: &str) {
    let ok = uri.split_once("://").is_some_and(|(scheme, _)| {
        !scheme.is_empty()
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '+' || c == '-')
    });
    if !ok {
        cx.err(
            "spec.uri",
            format!(
                "`{uri}` is not a libvirt URI such as qemu:///system or qemu+ssh://host/system"
            ),
        );
    }
}

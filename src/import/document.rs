//! Manifest documents as text: YAML of the manifest types (MACs quoted),
//! external declarations, and the comments an import puts above each
//! object.

use serde::Serialize;

use super::{kept, File};
use crate::manifest::types::{Metadata, VolumeSpec, API_VERSION};
use crate::model::Kind;

/// One manifest document as YAML: `apiVersion`, `kind`, `metadata` and,
/// unless it is `None`, `spec`.
pub fn document<S: Serialize>(kind: Kind, metadata: &Metadata, spec: Option<&S>) -> String {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Document<'a, S> {
        api_version: &'static str,
        kind: &'static str,
        metadata: &'a Metadata,
        #[serde(skip_serializing_if = "Option::is_none")]
        spec: Option<&'a S>,
    }
    let yaml = serde_yaml::to_string(&Document {
        api_version: API_VERSION,
        kind: kind.as_str(),
        metadata,
        spec,
    })
    .expect("manifest types serialise");
    quote_macs(&yaml)
}

/// MAC addresses in double quotes, as the sample manifests write them:
/// YAML 1.1 readers (some editors) take `52:54:00:12:34:56` for a
/// base-60 number.
fn quote_macs(yaml: &str) -> String {
    let mut out = String::with_capacity(yaml.len() + 16);
    for line in yaml.lines() {
        let body = line.trim_start().trim_start_matches("- ");
        match body.strip_prefix("mac: ") {
            Some(v) if !v.starts_with(['"', '\'']) => {
                out.push_str(&line[..line.len() - v.len()]);
                out.push_str(&format!("\"{v}\""));
            }
            _ => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

pub(super) fn meta(name: &str, external: bool) -> Metadata {
    Metadata {
        name: name.to_string(),
        external: external.then_some(true),
        ..Metadata::default()
    }
}

/// The document of an external network, pool or volume (`pool` set): the
/// objects an imported domain uses without managing them.
pub fn external_document(kind: Kind, name: &str, pool: Option<&str>) -> String {
    let m = meta(name, true);
    match pool {
        Some(pool) => document(
            kind,
            &m,
            Some(&VolumeSpec {
                pool: pool.to_string(),
                capacity: None,
                format: None,
                backing_store: None,
                clone_from: None,
                reclaim_policy: None,
                source: None,
            }),
        ),
        None => document::<()>(kind, &m, None),
    }
}

/// The "kept as it is" comment of an object: the elements its manifest
/// does not cover, and the fields left out with why.
pub(super) fn kept_comments(noun: &str, kept: &[String], left_out: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    if !kept.is_empty() {
        out.push(format!(
            "Kept as it is on the host (not modelled; virtsync patches the {noun}'s"
        ));
        out.push("definition with the fields below and never replaces it):".into());
        out.extend(kept::wrap(kept, 74).into_iter().map(|l| format!("  {l}")));
    }
    if !left_out.is_empty() {
        out.push("Left out of this manifest, and so kept as it is:".into());
        out.extend(left_out.iter().map(|l| format!("  {l}")));
    }
    out
}

/// A comment sentence, as lines of at most 76 characters.
pub(super) fn sentence(text: &str) -> Vec<String> {
    let words: Vec<String> = text.split_whitespace().map(str::to_string).collect();
    let mut lines = Vec::new();
    let mut line = String::new();
    for w in words {
        if !line.is_empty() && line.len() + 1 + w.len() > 76 {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(&w);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

impl File {
    /// The file's text, whose first line points editors at `schema` (a
    /// path relative to the file).
    pub fn text(&self, schema: &str) -> String {
        let mut out = format!("# yaml-language-server: $schema={schema}\n");
        for (i, d) in self.docs.iter().enumerate() {
            if i > 0 {
                out.push_str("---\n");
            }
            for c in &d.comments {
                out.push_str(&format!("# {c}\n"));
            }
            out.push_str(&d.yaml);
        }
        out
    }
}

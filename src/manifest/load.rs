//! Reading one file into typed documents.
//!
//! Each document is deserialized on its own slice of the file, so a syntax
//! error in the third document of a file still lets the first two be read
//! and cross-checked. The document's `kind` (found by the [`yaml`] pass)
//! chooses the type serde reads, which keeps serde's positions exact.

use std::path::PathBuf;

use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::scan::ManifestFile;
use super::sink::Sink;
/// Where it has always been found; it lives in [`super::suggest`].
pub use super::suggest::did_you_mean;
use super::suggest::hint;
use super::types::*;
use super::yaml::{self, DocIndex, Pos};
use super::{Diagnostic, MAX_FILE_BYTES};

/// A document whose shape is right, with what validation needs to place
/// its errors.
#[derive(Debug)]
pub struct LoadedDoc {
    pub file: PathBuf,
    pub rel: PathBuf,
    pub index: DocIndex,
    pub doc: AnyDoc,
}

#[derive(Debug)]
pub enum AnyDoc {
    Domain(Document<DomainSpec>),
    Network(Document<NetworkSpec>),
    StoragePool(Document<StoragePoolSpec>),
    Volume(Document<VolumeSpec>),
    Snapshot(Document<SnapshotSpec>),
    Host(Document<HostSpec>),
}

impl AnyDoc {
    pub fn kind(&self) -> Kind {
        match self {
            AnyDoc::Domain(_) => Kind::Domain,
            AnyDoc::Network(_) => Kind::Network,
            AnyDoc::StoragePool(_) => Kind::StoragePool,
            AnyDoc::Volume(_) => Kind::Volume,
            AnyDoc::Snapshot(_) => Kind::Snapshot,
            AnyDoc::Host(_) => Kind::Host,
        }
    }

    pub fn metadata(&self) -> &Metadata {
        match self {
            AnyDoc::Domain(d) => &d.metadata,
            AnyDoc::Network(d) => &d.metadata,
            AnyDoc::StoragePool(d) => &d.metadata,
            AnyDoc::Volume(d) => &d.metadata,
            AnyDoc::Snapshot(d) => &d.metadata,
            AnyDoc::Host(d) => &d.metadata,
        }
    }

    pub fn api_version(&self) -> &str {
        match self {
            AnyDoc::Domain(d) => &d.api_version,
            AnyDoc::Network(d) => &d.api_version,
            AnyDoc::StoragePool(d) => &d.api_version,
            AnyDoc::Volume(d) => &d.api_version,
            AnyDoc::Snapshot(d) => &d.api_version,
            AnyDoc::Host(d) => &d.api_version,
        }
    }
}

/// Read `file`, appending its good documents to `docs` and its problems to
/// `diags`.
pub fn load_file(file: &ManifestFile, docs: &mut Vec<LoadedDoc>, diags: &mut Vec<Diagnostic>) {
    let mut sink = Sink::new(diags);
    let mut err = |pos: Pos, message: String| sink.at(&file.path, pos, message);
    let bytes = match read_capped(&file.path) {
        Ok(b) => b,
        Err(message) => return err(Pos::default(), message),
    };
    let text = match std::str::from_utf8(&bytes) {
        Ok(t) => t,
        Err(e) => {
            let pos = pos_of_byte(&bytes, e.valid_up_to());
            return err(
                pos,
                format!(
                    "not a text file: invalid UTF-8 (byte 0x{:02x}); manifests are UTF-8 YAML",
                    bytes[e.valid_up_to()]
                ),
            );
        }
    };
    // A byte-order mark is legal YAML and some Windows editors write one.
    // The two parsers disagree about it (serde then misses the first key),
    // and no editor counts it as a column, so drop it before either sees it.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let (indexes, syntax) = yaml::index(text);
    let line_starts = line_starts(text);
    let n = indexes.len();
    let doc_lines: Vec<usize> = indexes.iter().map(|d| d.start.line).collect();
    for (i, index) in indexes.into_iter().enumerate() {
        let is_last = i + 1 == n;
        if is_last && syntax.is_some() {
            break; // reported below; its content is unreliable
        }
        if !index.errors.is_empty() {
            for (pos, m) in &index.errors {
                err(*pos, m.clone());
            }
            continue;
        }
        if index.is_empty() {
            continue;
        }
        if index.root_is_mapping == Some(false) {
            err(
                index.start,
                "a manifest must be a mapping with apiVersion, kind, metadata and spec".into(),
            );
            continue;
        }
        // The document's own text: from its start line to the next one's.
        let start_line = index.start.line;
        let begin = line_starts
            .get(start_line - 1)
            .copied()
            .unwrap_or(text.len());
        let end = match doc_lines.get(i + 1) {
            Some(next) => line_starts.get(next - 1).copied().unwrap_or(text.len()),
            None => text.len(),
        };
        let slice = &text[begin..end.max(begin)];
        let Some(kind_text) = index.top_scalars.get("kind").cloned() else {
            // `kind: [Domain]` is there but is no name: say so where it is.
            if index.has("kind") {
                err(
                    index.pos("kind"),
                    format!("`kind` must be one name, one of {}", kind_list()),
                );
            } else {
                err(
                    index.start,
                    format!("missing `kind`; expected one of {}", kind_list()),
                );
            }
            continue;
        };
        let Some(kind) = Kind::parse(&kind_text) else {
            let suggestion = hint(&kind_text, Kind::ALL.iter().map(|k| k.as_str()));
            err(
                index.pos("kind"),
                format!(
                    "unknown kind `{kind_text}`{suggestion}; expected one of {}",
                    kind_list()
                ),
            );
            continue;
        };
        let parsed = match kind {
            Kind::Domain => parse::<DomainSpec>(slice).map(AnyDoc::Domain),
            Kind::Network => parse::<NetworkSpec>(slice).map(AnyDoc::Network),
            Kind::StoragePool => parse::<StoragePoolSpec>(slice).map(AnyDoc::StoragePool),
            Kind::Volume => parse::<VolumeSpec>(slice).map(AnyDoc::Volume),
            Kind::Snapshot => parse::<SnapshotSpec>(slice).map(AnyDoc::Snapshot),
            Kind::Host => parse::<HostSpec>(slice).map(AnyDoc::Host),
        };
        match parsed {
            Ok(doc) => docs.push(LoadedDoc {
                file: file.path.clone(),
                rel: file.rel.clone(),
                index,
                doc,
            }),
            Err((pos, message)) => {
                let pos = pos
                    .map(|p| Pos {
                        line: p.line + start_line - 1,
                        column: p.column,
                    })
                    .unwrap_or(index.start);
                err(pos, message)
            }
        }
    }
    if let Some(s) = syntax {
        err(s.pos, s.message);
    }
}

fn kind_list() -> String {
    Kind::ALL
        .iter()
        .map(|k| k.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn read_capped(path: &std::path::Path) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let f = std::fs::File::open(path).map_err(|e| format!("cannot read: {e}"))?;
    let mut bytes = Vec::new();
    // The scan checked the size already; this guards against a file that
    // grew since (or a FIFO).
    f.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read: {e}"))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(format!(
            "file is larger than {MAX_FILE_BYTES} bytes (1 MiB); split it into several files"
        ));
    }
    Ok(bytes)
}

fn line_starts(text: &str) -> Vec<usize> {
    std::iter::once(0)
        .chain(text.match_indices('\n').map(|(i, _)| i + 1))
        .collect()
}

/// The position of byte `offset`, where everything before it is valid
/// UTF-8. Columns count characters, as the YAML parsers' columns do.
fn pos_of_byte(bytes: &[u8], offset: usize) -> Pos {
    let before = &bytes[..offset];
    let line = before.iter().filter(|b| **b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|b| *b == b'\n')
        .map(|p| p + 1)
        .unwrap_or(0);
    let column = std::str::from_utf8(&before[line_start..])
        .map(|s| s.chars().count())
        .unwrap_or(offset - line_start)
        + 1;
    Pos { line, column }
}

/// Deserialize one document; on error, its position within `text` (if
/// serde knows it) and a message rewritten for people.
fn parse<S: DeserializeOwned>(text: &str) -> Result<Document<S>, (Option<Pos>, String)> {
    let de = serde_yaml::Deserializer::from_str(text);
    // One document per slice: take the first and only.
    let mut docs = de.into_iter();
    let Some(first) = docs.next() else {
        return Err((None, "empty document".into()));
    };
    Document::<S>::deserialize(first).map_err(|e| {
        let pos = e.location().map(|l| Pos {
            line: l.line(),
            column: l.column(),
        });
        (pos, humanize(&e.to_string()))
    })
}

/// Make serde's messages read well: drop the position it appends (we print
/// our own) and suggest the closest known name for unknown fields and
/// variants.
pub fn humanize(message: &str) -> String {
    let mut m = message.to_string();
    if let Some(cut) = m.rfind(" at line ") {
        m.truncate(cut);
    }
    // Rust type names mean nothing to someone writing YAML.
    for (rust, yaml) in [
        ("expected u8", "expected a whole number from 0 to 255"),
        (
            "expected u32",
            "expected a whole number from 0 to 4294967295",
        ),
        ("expected u64", "expected a whole number"),
    ] {
        if let Some(rest) = m.strip_suffix(rust) {
            m = format!("{rest}{yaml}");
        }
    }
    if let Some(at) = m.find("expected struct ") {
        m.truncate(at);
        m.push_str("expected a mapping (`key: value` lines)");
    }
    for what in ["unknown field", "unknown variant"] {
        let Some(start) = m.find(&format!("{what} `")) else {
            continue;
        };
        let rest = &m[start + what.len() + 2..];
        let Some(end) = rest.find('`') else { continue };
        let bad = rest[..end].to_string();
        let expected_part = &rest[end + 1..];
        let known: Vec<String> = expected_part
            .split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_string)
            .collect();
        let prefix = &m[..start];
        let noun = if what == "unknown field" {
            "field"
        } else {
            "value"
        };
        let mut out = format!("{prefix}unknown {noun} `{bad}`");
        out.push_str(&hint(&bad, known.iter().map(String::as_str)));
        if known.is_empty() {
            out.push_str(&format!("; this place takes no {noun}s"));
        } else {
            out.push_str(&format!("; expected one of: {}", known.join(", ")));
        }
        return out;
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_field_suggests_closest() {
        let m = humanize("spec: unknown field `memroy`, expected one of `state`, `memory`, `vcpus` at line 3 column 5");
        assert_eq!(
            m,
            "spec: unknown field `memroy` (did you mean `memory`?); expected one of: state, memory, vcpus"
        );
    }

    #[test]
    fn rust_type_names_are_translated() {
        assert_eq!(
            humanize("spec.vcpus: invalid type: string \"two\", expected u32 at line 7 column 10"),
            "spec.vcpus: invalid type: string \"two\", expected a whole number from 0 to 4294967295"
        );
        assert_eq!(
            humanize("metadata: invalid type: string \"web\", expected struct Metadata"),
            "metadata: invalid type: string \"web\", expected a mapping (`key: value` lines)"
        );
    }

    #[test]
    fn unknown_variant_suggests_closest() {
        let m = humanize(
            "spec.state: unknown variant `runing`, expected one of `running`, `shutoff`, `paused`",
        );
        assert!(m.contains("did you mean `running`"), "{m}");
    }
}

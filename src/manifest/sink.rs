//! The diagnostic sink: where loading and validation report problems.
//!
//! Every check reports through a [`Sink`] rather than pushing to a vector,
//! so that a diagnostic is always built the same way: positions are
//! 1-based (a missing position shows as line 1, column 1, the file's
//! start), and a message about a field starts with the field's path
//! (`spec.disks[0].mac: ...`), placed where that field's value is written.

use std::path::Path;

use super::load::LoadedDoc;
use super::yaml::Pos;
use super::Diagnostic;

/// Collects diagnostics into the caller's list; nothing stops early.
pub struct Sink<'d> {
    diags: &'d mut Vec<Diagnostic>,
}

impl<'d> Sink<'d> {
    pub fn new(diags: &'d mut Vec<Diagnostic>) -> Self {
        Sink { diags }
    }

    /// A problem at `pos` of `file`.
    pub fn at(&mut self, file: &Path, pos: Pos, message: impl Into<String>) {
        self.diags.push(Diagnostic {
            file: file.to_path_buf(),
            line: pos.line.max(1),
            column: pos.column.max(1),
            message: message.into(),
        });
    }

    /// A problem at `pos` of `doc`'s file, said without a field path (the
    /// whole document, or a message that names its place itself).
    pub fn doc_at(&mut self, doc: &LoadedDoc, pos: Pos, message: impl Into<String>) {
        self.at(&doc.file, pos, message);
    }

    /// A problem with the value at `path` of `doc` (`spec.disks[0].mac`),
    /// placed at that value (or its closest written ancestor).
    pub fn field(&mut self, doc: &LoadedDoc, path: &str, message: impl Into<String>) {
        let pos = doc.index.pos(path);
        self.at(&doc.file, pos, format!("{path}: {}", message.into()));
    }
}

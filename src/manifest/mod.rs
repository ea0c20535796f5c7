//! Manifests: from a directory of YAML files to a validated [`DesiredState`].
//!
//! The pipeline, one module each:
//! - [`scan`] finds the files (recursive, `*.yaml`/`*.yml`, hidden, swap and
//!   backup files ignored, symlink loops survived);
//! - [`yaml`] indexes each file's YAML events: positions of every field,
//!   duplicate keys, alias budget;
//! - [`load`] reads each document with serde into the shapes of [`types`]
//!   ([`schema`] turns the same shapes into the published JSON Schema);
//! - [`validate`] checks names, units, references, uniqueness, paths and the
//!   `xml` escape hatch ([`xmlpatch`]) and builds the model.
//!
//! Every stage adds to one list of [`Diagnostic`]s instead of stopping, so a
//! directory's errors are all reported at once, sorted by file and line.
//! Loading and validation report through one [`sink::Sink`], and every
//! "did you mean" hint comes from [`suggest`]. [`explain`] describes a
//! kind or field from the same schema, with how a change of it reaches the
//! host ([`classes`]).

pub mod classes;
pub mod explain;
pub mod load;
pub mod scan;
pub mod schema;
pub mod sink;
pub mod suggest;
pub mod types;
pub mod units;
pub mod validate;
pub mod xmlpatch;
pub mod yaml;

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::model::DesiredState;

/// Largest manifest file read; larger files are refused unread.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// The root every disk `path:` may live under without `--allow-path`.
pub const DEFAULT_IMAGE_ROOT: &str = "/var/lib/libvirt/images";

/// One problem in one manifest, with the place to fix it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Diagnostic {
    /// As the user named it: the directory joined with the file's path in it.
    #[serde(serialize_with = "lossy_path")]
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// A file name need not be UTF-8, but JSON is: rather than failing the
/// whole report, show such a name as `Path::display` does.
fn lossy_path<S: serde::Serializer>(path: &Path, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&path.to_string_lossy())
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.file.display(), self.line, self.column)?;
        // Messages quote what the manifest says, which may hold a newline
        // (`name: "a\nb"`); escape control characters so that every
        // diagnostic stays on its own line for people, grep and editors.
        for c in self.message.chars() {
            if c.is_control() {
                write!(f, "{}", c.escape_default())?;
            } else {
                write!(f, "{c}")?;
            }
        }
        Ok(())
    }
}

/// What can go wrong loading manifests.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("cannot read manifests at {}: {source}", path.display())]
    Root {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} error{} in manifests:\n{}", .0.len(), if .0.len() == 1 { "" } else { "s" }, join(.0))]
    Invalid(Vec<Diagnostic>),
}

fn join(d: &[Diagnostic]) -> String {
    d.iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Options that change what validation accepts.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Extra roots for disk `path:` (`--allow-path`).
    pub allow_paths: Vec<PathBuf>,
    /// Accept the `xml` escape hatch's refused elements (`--allow-unsafe-xml`).
    pub allow_unsafe_xml: bool,
}

/// What a successful load found, besides the desired state itself.
#[derive(Debug, Clone, Default)]
pub struct LoadStats {
    pub files: usize,
    pub documents: usize,
}

/// Load and validate every manifest under `root` (a directory or one file).
pub fn load_dir(
    root: &Path,
    opts: &LoadOptions,
) -> Result<(DesiredState, LoadStats), ManifestError> {
    let files = scan::scan(root).map_err(|source| ManifestError::Root {
        path: root.to_path_buf(),
        source,
    })?;
    let mut diags = files.diagnostics;
    // Files parse independently: on as many threads as there are cores,
    // gathered in file order (diagnostics are sorted below anyway).
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
    let per_file = crate::par::map(&files.files, workers, |file| {
        let (mut docs, mut diags) = (Vec::new(), Vec::new());
        load::load_file(file, &mut docs, &mut diags);
        (docs, diags)
    });
    let mut docs = Vec::new();
    for (d, g) in per_file {
        docs.extend(d);
        diags.extend(g);
    }
    let stats = LoadStats {
        files: files.files.len(),
        documents: docs.len(),
    };
    let state = validate::validate(&docs, opts, &mut diags);
    if diags.is_empty() {
        Ok((state, stats))
    } else {
        diags.sort();
        diags.dedup();
        Err(ManifestError::Invalid(diags))
    }
}

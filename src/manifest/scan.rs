//! Finding manifest files under a directory.
//!
//! Editors and version control leave files next to manifests that must not
//! be read as desired state: a swap file would double every object, a backup
//! would resurrect an old version. Those are skipped by name; symlinks are
//! followed, and a symlink loop is skipped rather than fatal. A file reached
//! twice (through a symlink to it or to its directory) is read once, or
//! every object in it would be reported as defined twice.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::{Diagnostic, MAX_FILE_BYTES};

/// A manifest file found by [`scan`].
#[derive(Debug, Clone)]
pub struct ManifestFile {
    /// The path to open and to show (the root joined with `rel`).
    pub path: PathBuf,
    /// Relative to the root, for the ownership marker.
    pub rel: PathBuf,
}

#[derive(Debug, Default)]
pub struct Scan {
    /// Sorted by path, so output never depends on directory order.
    pub files: Vec<ManifestFile>,
    /// Files that could not be read (too large, unreadable).
    pub diagnostics: Vec<Diagnostic>,
}

/// Whether a file or directory name is an editor's or a VCS's, or hidden.
pub fn is_ignored_name(name: &str) -> bool {
    name.starts_with('.')          // hidden, .#lock, .x.swp
        || name.ends_with('~')     // emacs/vim backup
        || (name.starts_with('#') && name.ends_with('#')) // emacs autosave
        || [".swp", ".swo", ".swx", ".bak", ".orig", ".rej", ".tmp"]
            .iter()
            .any(|s| name.ends_with(s))
}

fn is_manifest_name(name: &str) -> bool {
    // web.YAML and web.Yml too: case is not what people mean by a suffix.
    let lower = name.to_ascii_lowercase();
    !is_ignored_name(name) && (lower.ends_with(".yaml") || lower.ends_with(".yml"))
}

/// All manifest files under `root` (or `root` itself when it is a file).
pub fn scan(root: &Path) -> std::io::Result<Scan> {
    let meta = std::fs::metadata(root)?;
    let mut out = Scan::default();
    if meta.is_file() {
        push(
            &mut out,
            root.to_path_buf(),
            PathBuf::from(root.file_name().unwrap_or_default()),
            meta.len(),
        );
        return Ok(out);
    }
    // Every manifest file: path, path relative to the root, size, and the
    // real path (to read a file reached twice only once).
    let mut found: Vec<(PathBuf, PathBuf, u64, Option<PathBuf>)> = Vec::new();
    let walker = walkdir::WalkDir::new(root)
        .follow_links(true)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !is_ignored_name(&e.file_name().to_string_lossy()));
    for entry in walker {
        let entry = match entry {
            Ok(e) => e,
            Err(e) if e.loop_ancestor().is_some() => {
                tracing::debug!("skipping symlink loop at {:?}", e.path());
                continue;
            }
            Err(e) => {
                // A dangling symlink or an unreadable directory: say where.
                let path = e
                    .path()
                    .map(Path::to_path_buf)
                    .unwrap_or_else(|| root.to_path_buf());
                if path
                    .file_name()
                    .is_some_and(|n| is_manifest_name(&n.to_string_lossy()))
                    || e.io_error()
                        .is_some_and(|io| io.kind() != std::io::ErrorKind::NotFound)
                {
                    out.diagnostics.push(Diagnostic {
                        file: path,
                        line: 1,
                        column: 1,
                        message: format!("cannot read: {e}"),
                    });
                }
                continue;
            }
        };
        if !entry.file_type().is_file() || !is_manifest_name(&entry.file_name().to_string_lossy()) {
            continue;
        }
        let len = entry.metadata().map(|m| m.len()).unwrap_or(0);
        let rel = entry
            .path()
            .strip_prefix(root)
            .unwrap_or(entry.path())
            .to_path_buf();
        let canonical = std::fs::canonicalize(entry.path()).ok();
        found.push((entry.path().to_path_buf(), rel, len, canonical));
    }
    // Of several paths to one file keep its own (the path that involves no
    // symlink), else the first in name order: that is the path people edit.
    let canonical_root = std::fs::canonicalize(root).ok();
    let is_own = |rel: &Path, canonical: &Option<PathBuf>| match (canonical, &canonical_root) {
        (Some(c), Some(r)) => c.strip_prefix(r).is_ok_and(|c| c == rel),
        _ => false,
    };
    let mut keep: HashMap<PathBuf, usize> = HashMap::new();
    for (i, (_, rel, _, canonical)) in found.iter().enumerate() {
        let Some(c) = canonical else { continue };
        match keep.get(c) {
            Some(&k) if is_own(&found[k].1, &found[k].3) || !is_own(rel, canonical) => {}
            _ => {
                keep.insert(c.clone(), i);
            }
        }
    }
    for (i, (path, rel, len, canonical)) in found.into_iter().enumerate() {
        match &canonical {
            Some(c) if keep.get(c) != Some(&i) => {
                tracing::debug!("skipping {path:?}: the same file as another path");
            }
            _ => push(&mut out, path, rel, len),
        }
    }
    Ok(out)
}

fn push(out: &mut Scan, path: PathBuf, rel: PathBuf, len: u64) {
    if len > MAX_FILE_BYTES {
        out.diagnostics.push(Diagnostic {
            file: path,
            line: 1,
            column: 1,
            message: format!(
                "file is {len} bytes; manifest files are limited to {MAX_FILE_BYTES} bytes (1 MiB): split it into several files"
            ),
        });
        return;
    }
    out.files.push(ManifestFile { path, rel });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn editor_files_are_ignored() {
        for n in [
            ".web.yaml.swp",
            ".#web.yaml",
            "web.yaml~",
            "#web.yaml#",
            ".hidden.yaml",
            "web.yaml.bak",
        ] {
            assert!(!is_manifest_name(n), "{n}");
        }
        for n in ["web.yaml", "web.yml", "a.b.yaml", "web.YAML", "web.Yml"] {
            assert!(is_manifest_name(n), "{n}");
        }
        assert!(!is_manifest_name("web.json"));
    }

    #[test]
    fn symlink_loops_are_survived() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/a.yaml"), "x: 1\n").unwrap();
        std::os::unix::fs::symlink(dir.path(), dir.path().join("sub/loop")).unwrap();
        let s = scan(dir.path()).unwrap();
        assert_eq!(s.files.len(), 1);
        assert!(s.diagnostics.is_empty(), "{:?}", s.diagnostics);
    }

    #[test]
    fn a_file_reached_twice_is_read_once_by_its_own_path() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("vms")).unwrap();
        std::fs::write(dir.path().join("vms/web.yaml"), "x: 1\n").unwrap();
        // Sorted before the real paths, yet the real paths win.
        std::os::unix::fs::symlink(dir.path().join("vms"), dir.path().join("a-vms")).unwrap();
        std::os::unix::fs::symlink(
            dir.path().join("vms/web.yaml"),
            dir.path().join("a-web.yaml"),
        )
        .unwrap();
        let s = scan(dir.path()).unwrap();
        let rels: Vec<_> = s.files.iter().map(|f| f.rel.clone()).collect();
        assert_eq!(rels, vec![PathBuf::from("vms/web.yaml")]);
    }
}

//! The manifests as the controller reads them: a file that stops parsing
//! keeps its last good content, never read as "its objects are gone".
//!
//! After an edit the directory is loaded as usual. When it is invalid, the
//! files with errors are replaced by their content of the last good load
//! and the directory is loaded again: the other files' edits take effect,
//! the broken file's objects stay as they were. If even that fails (an
//! error across files), the whole last good state stays. The errors are
//! kept for the log and the status file until the files are fixed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::manifest::{self, scan, Diagnostic, LoadOptions, ManifestError};
use crate::model::DesiredState;

/// What a reload did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Loaded {
    /// Every file is valid.
    Fresh,
    /// These files (relative paths) are invalid: their last good content
    /// stands in for them.
    Partial { kept: Vec<PathBuf> },
    /// Invalid in a way the last good content of the broken files does not
    /// mend: the whole last good state stands.
    KeptAll,
    /// Invalid, and there never was a good state: nothing to reconcile.
    Nothing,
}

struct Good {
    state: DesiredState,
    /// Relative path → content, as last loaded successfully.
    files: BTreeMap<PathBuf, Vec<u8>>,
}

pub struct Manifests {
    dir: PathBuf,
    opts: LoadOptions,
    good: Option<Good>,
    errors: Vec<Diagnostic>,
}

impl Manifests {
    pub fn new(dir: PathBuf, opts: LoadOptions) -> Manifests {
        Manifests {
            dir,
            opts,
            good: None,
            errors: Vec::new(),
        }
    }

    /// The desired state to reconcile, if there ever was a good one.
    pub fn state(&self) -> Option<&DesiredState> {
        self.good.as_ref().map(|g| &g.state)
    }

    /// The errors of the last reload (empty when it was valid).
    pub fn errors(&self) -> &[Diagnostic] {
        &self.errors
    }

    pub fn reload(&mut self) -> Loaded {
        let now = match read_files(&self.dir) {
            Ok(f) => f,
            Err(e) => {
                self.errors = vec![Diagnostic {
                    file: self.dir.clone(),
                    line: 0,
                    column: 0,
                    message: format!("cannot read the manifest directory: {e}"),
                }];
                return self.kept_all();
            }
        };
        match manifest::load_dir(&self.dir, &self.opts) {
            Ok((state, _)) => {
                self.errors.clear();
                self.good = Some(Good { state, files: now });
                return Loaded::Fresh;
            }
            Err(ManifestError::Invalid(diags)) => self.errors = diags,
            Err(e @ ManifestError::Root { .. }) => {
                self.errors = vec![Diagnostic {
                    file: self.dir.clone(),
                    line: 0,
                    column: 0,
                    message: e.to_string(),
                }];
                return self.kept_all();
            }
        }
        let Some(good) = &self.good else {
            return Loaded::Nothing;
        };
        let broken: BTreeSet<PathBuf> = self
            .errors
            .iter()
            .map(|d| {
                d.file
                    .strip_prefix(&self.dir)
                    .unwrap_or(&d.file)
                    .to_path_buf()
            })
            .collect();
        let mut overlay = now;
        for rel in &broken {
            match good.files.get(rel) {
                Some(old) => {
                    overlay.insert(rel.clone(), old.clone());
                }
                // New and broken: not there yet.
                None => {
                    overlay.remove(rel);
                }
            }
        }
        match load_overlay(&overlay, &self.opts) {
            Some(state) => {
                self.good = Some(Good {
                    state,
                    files: overlay,
                });
                Loaded::Partial {
                    kept: broken.into_iter().collect(),
                }
            }
            None => Loaded::KeptAll,
        }
    }

    fn kept_all(&self) -> Loaded {
        if self.good.is_some() {
            Loaded::KeptAll
        } else {
            Loaded::Nothing
        }
    }
}

/// Every manifest file of `dir` with its content, by relative path.
fn read_files(dir: &Path) -> std::io::Result<BTreeMap<PathBuf, Vec<u8>>> {
    let found = scan::scan(dir)?;
    let mut out = BTreeMap::new();
    for f in found.files {
        out.insert(f.rel, std::fs::read(&f.path)?);
    }
    Ok(out)
}

/// Load files given by content, laid out under a temporary directory with
/// their relative paths (the ownership marker records those).
fn load_overlay(files: &BTreeMap<PathBuf, Vec<u8>>, opts: &LoadOptions) -> Option<DesiredState> {
    let tmp = tempfile::tempdir().ok()?;
    for (rel, content) in files {
        let path = tmp.path().join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).ok()?;
        }
        std::fs::write(&path, content).ok()?;
    }
    manifest::load_dir(tmp.path(), opts).ok().map(|(s, _)| s)
}

#[cfg(test)]
mod tests {
    use super::*;

    const API: &str = "apiVersion: virtsync.io/v1alpha1";

    fn net(name: &str, mtu: u32) -> String {
        format!("{API}\nkind: Network\nmetadata: {{name: {name}}}\nspec: {{mtu: {mtu}}}\n")
    }

    fn mtu(m: &Manifests, name: &str) -> Option<u32> {
        m.state()?
            .networks
            .iter()
            .find(|(k, _)| k.name == name)
            .and_then(|(_, n)| n.mtu)
    }

    #[test]
    fn a_broken_file_keeps_its_last_good_content_and_the_others_move_on() {
        let dir = tempfile::tempdir().unwrap();
        let write = |f: &str, s: &str| std::fs::write(dir.path().join(f), s).unwrap();
        write("a.yaml", &net("a", 1500));
        write("b.yaml", &net("b", 1500));
        let mut m = Manifests::new(dir.path().to_path_buf(), LoadOptions::default());
        assert_eq!(m.reload(), Loaded::Fresh);

        // a.yaml breaks while b.yaml changes: b's edit takes effect, a's
        // network is still wanted as it was.
        write("a.yaml", "kind: Network\nmetadata: {name: a\n");
        write("b.yaml", &net("b", 9000));
        assert_eq!(
            m.reload(),
            Loaded::Partial {
                kept: vec![PathBuf::from("a.yaml")]
            }
        );
        assert_eq!(mtu(&m, "a"), Some(1500));
        assert_eq!(mtu(&m, "b"), Some(9000));
        assert!(!m.errors().is_empty());

        // Fixed: fresh again, errors gone.
        write("a.yaml", &net("a", 1400));
        assert_eq!(m.reload(), Loaded::Fresh);
        assert_eq!(mtu(&m, "a"), Some(1400));
        assert!(m.errors().is_empty());
    }

    #[test]
    fn without_a_good_load_there_is_nothing_and_a_new_broken_file_is_left_out() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.yaml"), "kind: [").unwrap();
        let mut m = Manifests::new(dir.path().to_path_buf(), LoadOptions::default());
        assert_eq!(m.reload(), Loaded::Nothing);
        assert!(m.state().is_none());
        std::fs::write(dir.path().join("a.yaml"), net("a", 1500)).unwrap();
        assert_eq!(m.reload(), Loaded::Fresh);
        std::fs::write(dir.path().join("new.yaml"), "kind: [").unwrap();
        assert!(matches!(m.reload(), Loaded::Partial { .. }));
        assert_eq!(mtu(&m, "a"), Some(1500));
    }
}

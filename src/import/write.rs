//! Writing an import's files: refuse to overwrite before writing anything,
//! keep existing declarations of external objects, and point each file's
//! editor line at the schema.

use std::path::{Component, Path, PathBuf};

use serde::Serialize;

use super::{ImportError, Imported};

/// What [`write`] did with each file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Written {
    pub path: PathBuf,
    /// `written`, or `kept`: a file that only declares external objects
    /// and existed already.
    pub action: &'static str,
}

pub const SCHEMA_FILE: &str = "schemas/virtsync.schema.json";

/// Write the manifests of `imported` under `out` (created if needed).
/// Existing manifest files are refused unless `force`, before anything is
/// written; a file that only declares external objects is kept if it
/// exists. The schema editors use is the nearest
/// `schemas/virtsync.schema.json` of `out` or a directory above it, else
/// one written into `out`.
pub fn write(imported: &Imported, out: &Path, force: bool) -> Result<Vec<Written>, ImportError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ImportError::Write { path, source }
    };
    if !force {
        if let Some(f) = imported
            .files
            .iter()
            .find(|f| !f.references_only && out.join(&f.path).exists())
        {
            return Err(ImportError::Exists {
                path: out.join(&f.path),
            });
        }
    }
    std::fs::create_dir_all(out).map_err(io(out))?;
    let root = out.canonicalize().map_err(io(out))?;
    let schema = match root
        .ancestors()
        .map(|d| d.join(SCHEMA_FILE))
        .find(|p| p.is_file())
    {
        Some(s) => s,
        None => {
            let s = root.join(SCHEMA_FILE);
            std::fs::create_dir_all(s.parent().expect("has a parent")).map_err(io(&s))?;
            let json = serde_json::to_string_pretty(&crate::manifest::types::json_schema())
                .expect("schema serialises");
            std::fs::write(&s, format!("{json}\n")).map_err(io(&s))?;
            s
        }
    };
    let mut done = Vec::new();
    for f in &imported.files {
        let path = root.join(&f.path);
        if f.references_only && path.exists() {
            done.push(Written {
                path: f.path.clone(),
                action: "kept",
            });
            continue;
        }
        let dir = path.parent().expect("a file has a parent");
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let rel = relative(&schema, dir);
        std::fs::write(&path, f.text(&rel.to_string_lossy())).map_err(io(&path))?;
        done.push(Written {
            path: f.path.clone(),
            action: "written",
        });
    }
    Ok(done)
}

/// `target` relative to the directory `base` (both absolute).
fn relative(target: &Path, base: &Path) -> PathBuf {
    let t: Vec<Component> = target.components().collect();
    let b: Vec<Component> = base.components().collect();
    let common = t.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut out = PathBuf::new();
    for _ in common..b.len() {
        out.push("..");
    }
    for c in &t[common..] {
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_climb_to_the_common_directory() {
        assert_eq!(
            relative(Path::new("/a/schemas/s.json"), Path::new("/a/b/c")),
            PathBuf::from("../../schemas/s.json")
        );
        assert_eq!(
            relative(Path::new("/a/s.json"), Path::new("/a")),
            PathBuf::from("s.json")
        );
    }
}

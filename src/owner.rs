//! The owner identity: the name of a manifest set, written in every
//! ownership marker and inventory record, so that two repositories (or two
//! controllers) sharing a host never change, adopt or prune each other's
//! objects.
//!
//! The name comes from, in this order: `--owner NAME`; the first line of
//! `.virtsync-owner` in the manifest directory; the directory's git remote
//! (normalised, so that an https and an ssh checkout of one repository
//! agree, plus `//` and the directory's path inside the repository when it
//! is not the top); the directory's absolute path. Only the directory
//! itself is looked at, never its parents: `repo/prod` and `repo/staging`
//! are two manifest sets, and pruning one must not delete the other's
//! objects. A single manifest file belongs to the set of its directory.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The file in a manifest directory that names its owner.
pub const OWNER_FILE: &str = ".virtsync-owner";

/// At most this many characters: it is written into every marker.
const MAX_LEN: usize = 256;

#[derive(Debug, thiserror::Error)]
pub enum OwnerError {
    #[error("owner name {given:?} from {from}: {why}; use a name such as `github.com/acme/infra` or `lab-hosts`")]
    Invalid {
        given: String,
        from: String,
        why: &'static str,
    },
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot resolve the manifest directory {}: {source}", path.display())]
    Path {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// A validated owner name: non-empty, at most 256 characters, no control
/// characters, no leading or trailing whitespace.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct Owner(String);

impl Owner {
    /// Check a name given by a person (`from` says where, for the message).
    pub fn new(name: &str, from: &str) -> Result<Owner, OwnerError> {
        let invalid = |why| OwnerError::Invalid {
            given: name.to_string(),
            from: from.to_string(),
            why,
        };
        if name.trim().is_empty() {
            return Err(invalid("it is empty"));
        }
        if name.trim() != name {
            return Err(invalid("it starts or ends with whitespace"));
        }
        if name.chars().any(char::is_control) {
            return Err(invalid("it contains control characters"));
        }
        if name.chars().count() > MAX_LEN {
            return Err(invalid("it is longer than 256 characters"));
        }
        Ok(Owner(name.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The owner of the manifests at `path` (a directory, or one manifest
    /// file of a directory): `flag` (`--owner`) when given, else found as
    /// the module documentation says.
    pub fn discover(path: &Path, flag: Option<&str>) -> Result<Owner, OwnerError> {
        if let Some(name) = flag {
            return Owner::new(name, "--owner");
        }
        let dir = if path.is_file() {
            path.parent().filter(|p| !p.as_os_str().is_empty())
        } else {
            Some(path)
        }
        .unwrap_or(Path::new("."));
        let file = dir.join(OWNER_FILE);
        match std::fs::read_to_string(&file) {
            Ok(text) => {
                let line = text.lines().map(str::trim).find(|l| !l.is_empty());
                return Owner::new(line.unwrap_or(""), &file.display().to_string());
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(OwnerError::Read { path: file, source }),
        }
        if let Some(name) = git_owner(dir) {
            return Owner::new(&name, "the git remote of the manifest directory");
        }
        let abs = std::fs::canonicalize(dir).map_err(|source| OwnerError::Path {
            path: dir.to_path_buf(),
            source,
        })?;
        Owner::new(
            &abs.display().to_string(),
            "the path of the manifest directory",
        )
    }
}

impl std::fmt::Display for Owner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// `git -C dir ARGS`, its first line of output when it succeeds.
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .stderr(Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())?;
    Some(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()
            .unwrap_or("")
            .trim()
            .to_string(),
    )
}

/// The normalised remote (`origin`, else the first one) of the repository
/// `dir` is in, with `//` and `dir`'s path inside it when not at the top.
/// `None` outside git or without a remote.
fn git_owner(dir: &Path) -> Option<String> {
    // Outside a work tree this first call fails, and is the only one.
    let prefix = git(dir, &["rev-parse", "--show-prefix"])?;
    let remote = git(dir, &["remote", "get-url", "origin"])
        .filter(|u| !u.is_empty())
        .or_else(|| {
            let first = git(dir, &["remote"]).filter(|r| !r.is_empty())?;
            git(dir, &["remote", "get-url", &first]).filter(|u| !u.is_empty())
        })?;
    let prefix = prefix.trim_matches('/');
    let base = normalize_remote(&remote);
    Some(if prefix.is_empty() {
        base
    } else {
        format!("{base}//{prefix}")
    })
}

/// One spelling per repository: no scheme, user, password or port, no
/// trailing `.git` (`https://u:t@github.com/acme/infra.git`,
/// `ssh://git@github.com:22/acme/infra` and `git@github.com:acme/infra.git`
/// are all `github.com/acme/infra`); a local path stays a path. Credentials
/// in a remote URL never reach a marker.
pub fn normalize_remote(url: &str) -> String {
    let url = url.trim();
    let joined = match url.split_once("://") {
        Some(("file", path)) => path.to_string(),
        Some((_, rest)) => {
            let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
            let host = authority.rsplit('@').next().unwrap_or(authority);
            // `[v6]:port` keeps its brackets; `host:port` loses the port.
            let host = match host.rfind(':') {
                Some(i) if !host[i..].contains(']') => &host[..i],
                _ => host,
            };
            format!("{host}/{path}")
        }
        // scp-like `[user@]host:path` (a `:` before any `/`).
        None if !url.starts_with('/')
            && url
                .find(':')
                .is_some_and(|c| url.find('/').is_none_or(|s| c < s)) =>
        {
            let (authority, path) = url.split_once(':').unwrap_or((url, ""));
            let host = authority.rsplit('@').next().unwrap_or(authority);
            format!("{host}/{}", path.trim_start_matches('/'))
        }
        None => url.to_string(),
    };
    let trimmed = joined.trim_end_matches('/');
    trimmed
        .strip_suffix(".git")
        .unwrap_or(trimmed)
        .trim_end_matches('/')
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remotes_of_one_repository_have_one_spelling() {
        for url in [
            "https://github.com/acme/infra.git",
            "https://user:s3cret@github.com/acme/infra",
            "ssh://git@github.com:22/acme/infra.git",
            "git@github.com:acme/infra.git",
            "github.com:acme/infra/",
        ] {
            assert_eq!(normalize_remote(url), "github.com/acme/infra", "{url}");
        }
        assert_eq!(normalize_remote("/srv/git/infra.git"), "/srv/git/infra");
        assert_eq!(
            normalize_remote("file:///srv/git/infra.git"),
            "/srv/git/infra"
        );
    }

    #[test]
    fn names_are_checked() {
        assert!(Owner::new("lab", "--owner").is_ok());
        for bad in ["", "  ", " lab", "a\nb", &"x".repeat(257)] {
            let e = Owner::new(bad, "--owner").unwrap_err().to_string();
            assert!(e.contains("--owner"), "{e}");
        }
    }

    #[test]
    fn the_flag_then_the_owner_file_then_git_then_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let abs = std::fs::canonicalize(d).unwrap().display().to_string();
        assert_eq!(Owner::discover(d, None).unwrap().as_str(), abs);
        // A manifest file belongs to its directory's set.
        std::fs::write(d.join("a.yaml"), "").unwrap();
        assert_eq!(
            Owner::discover(&d.join("a.yaml"), None).unwrap().as_str(),
            abs
        );

        let sub = d.join("prod");
        std::fs::create_dir(&sub).unwrap();
        let run = |args: &[&str]| {
            let ok = Command::new("git")
                .arg("-C")
                .arg(d)
                .args(args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "git {args:?}");
        };
        run(&["init", "-q"]);
        // A repository without a remote: the path still.
        assert_eq!(Owner::discover(d, None).unwrap().as_str(), abs);
        run(&[
            "remote",
            "add",
            "upstream",
            "git@example.org:acme/infra.git",
        ]);
        assert_eq!(
            Owner::discover(d, None).unwrap().as_str(),
            "example.org/acme/infra"
        );
        run(&["remote", "add", "origin", "https://example.org/acme/infra"]);
        assert_eq!(
            Owner::discover(&sub, None).unwrap().as_str(),
            "example.org/acme/infra//prod"
        );
        std::fs::write(sub.join(OWNER_FILE), "\n  lab-prod  \n").unwrap();
        assert_eq!(Owner::discover(&sub, None).unwrap().as_str(), "lab-prod");
        // Only the directory itself names its owner, never a parent.
        assert_eq!(
            Owner::discover(d, None).unwrap().as_str(),
            "example.org/acme/infra"
        );
        assert_eq!(Owner::discover(&sub, Some("cli")).unwrap().as_str(), "cli");
        std::fs::write(sub.join(OWNER_FILE), "\n").unwrap();
        assert!(Owner::discover(&sub, None).is_err());
    }
}

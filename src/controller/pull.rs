//! `--pull`: GitOps without a second tool. The manifest directory is a git
//! checkout; every interval the controller fetches its upstream and
//! fast-forwards to it — never a merge, never a reset of local changes. A
//! checkout that has diverged (or local changes in the way) is an error
//! reported in the status file until someone sorts it out; the directory is
//! left as it is. The files that change then trigger a reload through the
//! watcher like any edit.

use std::path::Path;
use std::process::Command;

/// What one pull did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pulled {
    /// Already at the upstream.
    UpToDate,
    /// Fast-forwarded from one commit to another.
    Forwarded { from: String, to: String },
}

fn git(dir: &Path, args: &[&str]) -> Result<String, String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()
        .map_err(|e| format!("cannot run git: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(format!(
            "git {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Fetch the upstream of `dir`'s branch and fast-forward to it.
pub fn pull(dir: &Path) -> Result<Pulled, String> {
    let head = git(dir, &["rev-parse", "HEAD"])?;
    git(dir, &["fetch", "--quiet"])?;
    let upstream = git(dir, &["rev-parse", "@{upstream}"]).map_err(|e| {
        format!("{e} (the checkout's branch needs an upstream: git branch --set-upstream-to)")
    })?;
    if upstream == head {
        return Ok(Pulled::UpToDate);
    }
    // Only forward: an upstream that does not contain HEAD has diverged.
    if git(dir, &["merge-base", "--is-ancestor", "HEAD", "@{upstream}"]).is_err() {
        return Err(format!(
            "the checkout at {} has diverged from its upstream {}: virtsync only fast-forwards; reset or rebase it by hand",
            &head[..head.len().min(12)],
            &upstream[..upstream.len().min(12)]
        ));
    }
    git(dir, &["merge", "--ff-only", "--quiet", "@{upstream}"])?;
    Ok(Pulled::Forwarded {
        from: head,
        to: upstream,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(dir: &Path, args: &[&str]) {
        let ok = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.org")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.org")
            .output()
            .unwrap();
        assert!(
            ok.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&ok.stderr)
        );
    }

    #[test]
    fn fast_forwards_and_refuses_a_diverged_checkout() {
        let t = tempfile::tempdir().unwrap();
        let (origin, a, b) = (
            t.path().join("origin"),
            t.path().join("a"),
            t.path().join("b"),
        );
        std::fs::create_dir_all(&origin).unwrap();
        sh(&origin, &["init", "--quiet", "--bare", "-b", "main"]);
        for c in [&a, &b] {
            sh(
                t.path(),
                &[
                    "clone",
                    "--quiet",
                    origin.to_str().unwrap(),
                    c.to_str().unwrap(),
                ],
            );
        }
        std::fs::write(a.join("m.yaml"), "one").unwrap();
        sh(&a, &["add", "."]);
        sh(&a, &["commit", "--quiet", "-m", "one"]);
        sh(&a, &["push", "--quiet", "origin", "HEAD:main"]);
        sh(&b, &["pull", "--quiet", "origin", "main"]);
        sh(
            &b,
            &["branch", "--quiet", "--set-upstream-to", "origin/main"],
        );
        assert_eq!(pull(&b), Ok(Pulled::UpToDate));

        std::fs::write(a.join("m.yaml"), "two").unwrap();
        sh(&a, &["commit", "--quiet", "-am", "two"]);
        sh(&a, &["push", "--quiet", "origin", "HEAD:main"]);
        assert!(matches!(pull(&b), Ok(Pulled::Forwarded { .. })));
        assert_eq!(std::fs::read_to_string(b.join("m.yaml")).unwrap(), "two");

        // A local commit and a new upstream one: diverged, left alone.
        std::fs::write(b.join("local.yaml"), "x").unwrap();
        sh(&b, &["add", "."]);
        sh(&b, &["commit", "--quiet", "-m", "local"]);
        std::fs::write(a.join("m.yaml"), "three").unwrap();
        sh(&a, &["commit", "--quiet", "-am", "three"]);
        sh(&a, &["push", "--quiet", "origin", "HEAD:main"]);
        let e = pull(&b).unwrap_err();
        assert!(e.contains("diverged"), "{e}");
        assert_eq!(std::fs::read_to_string(b.join("m.yaml")).unwrap(), "two");
    }
}

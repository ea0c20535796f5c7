//! Per-object isolation as a user meets it on the command line, against
//! libvirt's test driver (each `virtsync` process starts from its fresh
//! host, whose built-in domain `test` virtsync does not manage): a domain
//! colliding with it is blocked with its reason, text and JSON; the two
//! healthy new objects of the same directory are planned and applied;
//! `plan` exits 1, `apply` exits 3.

mod common;

use std::time::Duration;

use common::{manifest_dir, output_text, virtsync};

const API: &str = "apiVersion: virtsync.io/v1alpha1";

fn dir() -> tempfile::TempDir {
    manifest_dir(&[
        (
            "test.yaml",
            &format!("{API}\nkind: Domain\nmetadata: {{name: test}}\nspec: {{memory: 64MiB, vcpus: 1}}\n"),
        ),
        (
            "new.yaml",
            &format!(
                "{API}\nkind: Domain\nmetadata: {{name: cb-new}}\nspec: {{memory: 64MiB, vcpus: 1, arch: i686}}\n---\n\
                 {API}\nkind: Network\nmetadata: {{name: cb-net}}\nspec: {{forward: {{mode: isolated}}}}\n"
            ),
        ),
    ])
}

fn run(cmd: &str, dir: &std::path::Path, extra: &[&str]) -> (i32, String, String) {
    let state = tempfile::tempdir().unwrap();
    let (d, s) = (dir.to_string_lossy(), state.path().to_string_lossy());
    let mut args = vec![cmd, &d, "--connect", "test:///default", "--state-dir", &s];
    args.extend_from_slice(extra);
    let (out, _) = virtsync(&args, Duration::from_secs(60));
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        output_text(&out),
    )
}

#[test]
fn plan_lists_the_blocked_domain_and_plans_the_rest() {
    let d = dir();
    let (code, _, text) = run("plan", d.path(), &[]);
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("x domain test: blocked: ") && text.contains("test.yaml"),
        "{text}"
    );
    assert!(text.contains("does not manage it"), "{text}");
    assert!(
        text.contains("+ domain cb-new: define") && text.contains("+ network cb-net: define"),
        "{text}"
    );
    let (code, json, text) = run("plan", d.path(), &["--output", "json"]);
    assert_eq!(code, 1, "{text}");
    let plan: serde_json::Value = serde_json::from_str(&json).expect("plan JSON");
    assert_eq!(plan["blocked"][0]["name"], "test");
    assert_eq!(plan["blocked"][0]["kind"], "Domain");
    assert_eq!(plan["summary"]["blocked"], 1);
}

#[test]
fn apply_creates_the_healthy_objects_and_exits_3() {
    let d = dir();
    let (code, _, text) = run("apply", d.path(), &["--yes"]);
    assert_eq!(code, 3, "{text}");
    assert!(text.contains("done     domain/cb-new/define"), "{text}");
    assert!(text.contains("done     network/cb-net/define"), "{text}");
    assert!(
        text.contains("not converged: 1 blocked (domain test)"),
        "{text}"
    );
    let (code, json, text) = run("apply", d.path(), &["--yes", "--output", "json"]);
    assert_eq!(code, 3, "{text}");
    let out: serde_json::Value = serde_json::from_str(&json).expect("apply JSON");
    assert_eq!(out["converged"], false);
    assert_eq!(out["changed"], true);
    assert_eq!(out["blocked"][0]["name"], "test");
}

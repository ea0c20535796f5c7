//! The command line as a new user meets it on day one: completions that
//! bash accepts, a man page that renders, colours only where they belong,
//! `--output json` that never waits for an answer and reports errors as
//! JSON, one cause per error, a hint for a mistyped URI, examples in every
//! `--help`, no flag a command ignores, `--version` with the git revision,
//! and `virtsync schema | head` ending quietly.

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{manifest_dir, output_text};

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_virtsync")
}

/// `virtsync ARGS` with a clean environment for colours and URIs.
fn run(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = assert_cmd::Command::new(bin());
    cmd.env_remove("LIBVIRT_DEFAULT_URI")
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE")
        .env_remove("VIRTSYNC_LOG")
        .timeout(Duration::from_secs(60))
        .args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run virtsync")
}

fn quickstart() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart")
}

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `plan` of the quickstart on `uri` (a fresh test driver host when it
/// is test:///default).
fn plan_on(uri: &str, extra: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let state = tempfile::tempdir().unwrap();
    let dir = quickstart();
    let mut args = vec![
        "plan",
        dir.to_str().unwrap(),
        "--connect",
        uri,
        "--state-dir",
        state.path().to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    run(&args, env)
}

fn plan_quickstart(extra: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    plan_on("test:///default", extra, env)
}

#[test]
fn bash_accepts_the_completion_script_and_every_shell_gets_one() {
    let out = run(&["completions", "bash"], &[]);
    assert!(out.status.success(), "{}", output_text(&out));
    let script = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(script.path(), &out.stdout).unwrap();
    let check = Command::new("bash")
        .arg("-n")
        .arg(script.path())
        .output()
        .unwrap();
    assert!(check.status.success(), "{}", output_text(&check));
    assert!(stdout(&out).contains("validate"), "names the commands");
    for shell in ["zsh", "fish"] {
        let out = run(&["completions", shell], &[]);
        assert!(out.status.success(), "{shell}: {}", output_text(&out));
        assert!(stdout(&out).contains("explain"), "{shell}");
    }
}

#[test]
fn the_man_page_renders_with_man_l() {
    let out = run(&["manpage"], &[]);
    assert!(out.status.success(), "{}", output_text(&out));
    let page = tempfile::Builder::new().suffix(".1").tempfile().unwrap();
    std::fs::write(page.path(), &out.stdout).unwrap();
    let man = Command::new("man")
        .arg("-l")
        .arg(page.path())
        .env("MANPAGER", "cat")
        .env("PAGER", "cat")
        .env("MANWIDTH", "100")
        .output()
        .expect("man (man-db) is installed: scripts/setup.sh");
    assert!(man.status.success(), "{}", output_text(&man));
    let text = stdout(&man);
    for want in ["NAME", "virtsync", "SUBCOMMANDS", "--color"] {
        assert!(text.contains(want), "{want} in:\n{text}");
    }
    // One page per command, for `man virtsync-plan`.
    let dir = tempfile::tempdir().unwrap();
    let out = run(&["manpage", "--out-dir", dir.path().to_str().unwrap()], &[]);
    assert!(out.status.success(), "{}", output_text(&out));
    for page in [
        "virtsync.1",
        "virtsync-plan.1",
        "virtsync-snapshot-revert.1",
    ] {
        assert!(dir.path().join(page).is_file(), "{page}");
    }
}

#[test]
fn no_color_plans_are_plain_and_color_always_paints_them() {
    let plain = plan_quickstart(&[], &[("NO_COLOR", "1")]);
    assert!(plain.status.success(), "{}", output_text(&plain));
    assert!(stdout(&plain).starts_with("+ pool qs-pool"));
    assert!(!stdout(&plain).contains('\x1b'), "{}", stdout(&plain));
    // Not a terminal either way: auto is plain too.
    let auto = plan_quickstart(&[], &[]);
    assert!(!stdout(&auto).contains('\x1b'));
    let never = plan_quickstart(&["--color", "never"], &[("CLICOLOR_FORCE", "1")]);
    assert!(!stdout(&never).contains('\x1b'));
    let always = plan_quickstart(&["--color", "always"], &[]);
    let text = stdout(&always);
    assert!(text.contains("\x1b[32m+\x1b[0m pool qs-pool"), "{text}");
    assert!(text.contains("\x1b[32mlive\x1b[0m"), "classes too: {text}");
    // JSON never carries colours.
    let json = plan_quickstart(&["--color", "always", "--output", "json"], &[]);
    assert!(!stdout(&json).contains('\x1b'));
}

#[test]
fn a_plan_on_a_pseudo_terminal_is_coloured() {
    // util-linux's `script` runs the command on a pseudo-terminal.
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("skipped: no `script` (util-linux) for a pseudo-terminal");
        return;
    }
    let state = tempfile::tempdir().unwrap();
    let line = format!(
        "{} plan {} --connect test:///default --state-dir {}",
        bin(),
        quickstart().display(),
        state.path().display()
    );
    let out = Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .env_remove("NO_COLOR")
        .env_remove("LIBVIRT_DEFAULT_URI")
        .env("TERM", "xterm")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = stdout(&out);
    assert!(text.contains("pool qs-pool"), "{}", output_text(&out));
    assert!(text.contains("\x1b[32m+"), "{text:?}");
}

#[test]
fn apply_output_json_without_yes_prints_the_plan_and_refuses_without_waiting() {
    let state = tempfile::tempdir().unwrap();
    let start = Instant::now();
    // stdin stays open and silent: a prompt would wait for ever.
    let mut child = Command::new(bin())
        .args(["apply", quickstart().to_str().unwrap(), "--output", "json"])
        .args(["--connect", "test:///default", "--state-dir"])
        .arg(state.path())
        .env_remove("LIBVIRT_DEFAULT_URI")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let _stdin = child.stdin.take();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("apply --output json waited for input");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!(status.code(), Some(1), "{out}{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).expect("one JSON document");
    assert!(
        doc["plan"]["actions"].as_array().unwrap().len() > 5,
        "{out}"
    );
    assert_eq!(doc["changed"], false);
    assert!(
        doc["error"]["message"].as_str().unwrap().contains("--yes"),
        "{out}"
    );
    assert!(err.contains("add --yes"), "{err}");
}

#[test]
fn errors_are_json_documents_with_output_json_and_each_cause_is_printed_once() {
    let missing = "/nonexistent/virtsync-manifests";
    for cmd in ["validate", "plan", "status"] {
        let out = run(&[cmd, missing, "--output", "json"], &[]);
        assert_eq!(out.status.code(), Some(1), "{cmd}: {}", output_text(&out));
        let doc: serde_json::Value =
            serde_json::from_slice(&out.stdout).expect("stdout is one JSON document");
        let message = doc["error"]["message"].as_str().unwrap();
        assert!(message.contains(missing), "{cmd}: {message}");
        let err = stderr(&out);
        assert_eq!(err.matches("No such file or directory").count(), 1, "{err}");
    }
    // Invalid manifests with plan: the diagnostics as JSON.
    let dir = manifest_dir(&[("bad.yaml", "apiVersion: virtsync.io/v1alpha1\nkind: Domain\nmetadata: {name: web}\nspec: {memory: 1GiB, vcpus: 1, colour: red}\n")]);
    let out = run(
        &["plan", dir.path().to_str().unwrap(), "--output", "json"],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let diag = doc["error"]["diagnostics"][0].to_string();
    assert!(diag.contains("colour"), "{diag}");
}

#[test]
fn validate_json_counts_the_files_it_read_even_when_they_are_invalid() {
    let api = "apiVersion: virtsync.io/v1alpha1";
    let dir = manifest_dir(&[
        (
            "a.yaml",
            &format!("{api}\nkind: Network\nmetadata: {{name: n}}\nspec: {{}}\n"),
        ),
        (
            "b.YAML",
            &format!("{api}\nkind: Network\nmetadata: {{name: n}}\nspec: {{}}\n"),
        ),
        ("c.yml", "kind: [\n"),
    ]);
    let out = run(
        &["validate", dir.path().to_str().unwrap(), "--output", "json"],
        &[],
    );
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["valid"], false);
    assert_eq!(doc["files"], 3, "b.YAML is read like b.yaml: {doc}");
    let errors = doc["errors"].to_string();
    assert!(
        errors.contains("b.YAML"),
        "the duplicate is found: {errors}"
    );
}

#[test]
fn a_mistyped_uri_gets_a_hint() {
    let out = plan_on("qemo:///system", &[], &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("hint: unknown libvirt driver `qemo`"), "{err}");
    assert!(err.contains("did you mean `qemu`"), "{err}");
    let out = plan_on("qemu+unix:///system?socket=/nonexistent/sock", &[], &[]);
    assert!(stderr(&out).contains("virtsync doctor"), "{}", stderr(&out));
}

#[test]
fn every_help_has_examples_and_offers_only_flags_the_command_uses() {
    for cmd in [
        vec![],
        vec!["validate"],
        vec!["plan"],
        vec!["apply"],
        vec!["status"],
        vec!["import"],
        vec!["run"],
        vec!["schema"],
        vec!["explain"],
        vec!["completions"],
        vec!["snapshot", "list"],
        vec!["snapshot", "revert"],
    ] {
        let mut args = cmd.clone();
        args.push("--help");
        let out = run(&args, &[]);
        assert!(out.status.success(), "{cmd:?}");
        let help = stdout(&out);
        assert!(help.contains("Examples:\n  virtsync"), "{cmd:?}:\n{help}");
    }
    let help = stdout(&run(&["validate", "--help"], &[]));
    for ignored in ["--connect", "--state-dir", "--selector", "--owner"] {
        assert!(
            !help.contains(ignored),
            "validate offers {ignored}:\n{help}"
        );
    }
    let help = stdout(&run(&["run", "--help"], &[]));
    assert!(
        !help.contains("--output"),
        "run logs, it has no --output:\n{help}"
    );
}

#[test]
fn version_names_the_git_revision() {
    let out = run(&["--version"], &[]);
    let text = stdout(&out);
    assert!(text.starts_with("virtsync 0."), "{text}");
    // "virtsync 0.1.0 (abc1234)", or "(unknown)" outside a git checkout.
    assert!(text.trim_end().ends_with(')'), "{text}");
}

/// `virtsync ARGS | true`: the reader is gone before virtsync writes, so
/// every write fails with EPIPE.
fn into_a_closed_pipe(args: &[&str]) -> std::process::Output {
    let mut child = Command::new(bin())
        .args(args)
        .env_remove("LIBVIRT_DEFAULT_URI")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    child.wait_with_output().unwrap()
}

#[test]
fn a_closed_pipe_ends_quietly() {
    let out = into_a_closed_pipe(&["schema"]);
    assert!(out.status.success(), "{}", output_text(&out));
    assert_eq!(stderr(&out), "", "no broken-pipe error or panic");
    // A command that changes hosts ends quietly too, but not with 0: the
    // plan was never seen, nothing was applied.
    let state = tempfile::tempdir().unwrap();
    let dir = quickstart();
    let out = into_a_closed_pipe(&[
        "apply",
        dir.to_str().unwrap(),
        "--yes",
        "--connect",
        "test:///default",
        "--state-dir",
        state.path().to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
    assert_eq!(stderr(&out), "");
}

#[test]
fn verbosity_flags_map_to_log_levels() {
    let q = run(&["validate", "/nonexistent", "-q", "-v"], &[]);
    assert_eq!(q.status.code(), Some(1), "-q and -v conflict");
    let dir = quickstart();
    let out = plan_quickstart(&["-vv"], &[]);
    assert!(out.status.success());
    assert!(
        stderr(&out).contains("DEBUG") || stderr(&out).contains("INFO"),
        "{}",
        stderr(&out)
    );
    let quiet = run(&["validate", dir.to_str().unwrap(), "-q"], &[]);
    assert!(quiet.status.success());
    assert_eq!(stderr(&quiet), "");
}

#[test]
fn every_command_has_a_docs_page() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let help = stdout(&run(&["--help"], &[]));
    let commands: Vec<&str> = help
        .split("Commands:\n")
        .nth(1)
        .unwrap()
        .lines()
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .collect();
    assert!(commands.len() >= 10, "{commands:?}");
    for c in commands {
        let page = root.join(format!("docs/commands/{c}.md"));
        assert!(page.is_file(), "no {}", page.display());
    }
    assert!(root.join("docs/virsh.md").is_file());
}

#[test]
fn cargo_install_installs_only_virtsync() {
    // `cargo install --path .` installs every [[bin]] and src/bin/*; the
    // benchmark is an example so that it stays out.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    assert_eq!(manifest.matches("[[bin]]").count(), 1, "{manifest}");
    assert!(manifest.contains("[[bin]]\nname = \"virtsync\""));
    assert!(!root.join("src/bin").exists());
}

//! Saved plans and the command-line contract, as a user meets them against
//! libvirt's test driver (every `virtsync` process starts from a fresh
//! host, or from a node file `test:///PATH` that the test edits between
//! two commands, standing in for someone changing the host):
//!
//! - `plan --out FILE` saves the real plan (mode 0600, secrets included),
//!   while everything printed shows them redacted, field changes too;
//! - `apply --plan FILE` applies exactly the saved actions, and refuses a
//!   stale plan (exit 1) naming what changed — but not for a domain nobody
//!   declared;
//! - usage errors exit 1, an empty directory and a selector that matches
//!   nothing are errors, and `--selector` pulls in what the selected
//!   objects depend on.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use common::{halted_domain, manifest_dir, output_text, virtsync};

const API: &str = "apiVersion: virtsync.io/v1alpha1";
const SECRET: &str = "s3cret-vnc";

/// `virtsync CMD DIR --connect URI --state-dir STATE EXTRA...`: exit code,
/// stdout, and stdout with stderr.
fn run(cmd: &str, dir: &Path, uri: &str, state: &Path, extra: &[&str]) -> (i32, String, String) {
    let (d, s) = (dir.to_string_lossy(), state.to_string_lossy());
    let mut args = vec![cmd, &d, "--connect", uri, "--state-dir", &s];
    args.extend_from_slice(extra);
    let (out, _) = virtsync(&args, Duration::from_secs(60));
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        output_text(&out),
    )
}

/// A shut-off guest with a VNC password (through the escape hatch).
fn guarded(name: &str, memory: &str) -> String {
    format!(
        "{}    - at: /domain/devices\n      merge: \"<graphics type='vnc' passwd='{SECRET}'/>\"\n",
        halted_domain(
            name,
            &format!("  state: shutoff\n  memory: {memory}\n  vcpus: 1\n")
        )
    )
}

/// A test-driver node file holding `domains` (XML), and its URI.
fn node(path: &Path, domains: &[&str]) -> String {
    std::fs::write(path, format!("<node>{}</node>", domains.join(""))).unwrap();
    format!("test://{}", path.display())
}

/// A running domain nobody declared.
const OTHER: &str = "<domain type='test'><name>someone-elses</name><memory unit='KiB'>65536</memory><os><type>hvm</type></os></domain>";

#[test]
fn a_saved_plan_holds_the_real_xml_and_is_applied_as_saved() {
    let dir = manifest_dir(&[("vm.yaml", &guarded("sp-vm", "64MiB"))]);
    let state = tempfile::tempdir().unwrap();
    let file = state.path().join("plan.json");
    let f = file.to_string_lossy().to_string();
    let uri = "test:///default";

    let (code, out, all) = run("plan", dir.path(), uri, state.path(), &["--out", &f]);
    assert_eq!(code, 0, "{all}");
    assert!(out.contains("+ domain sp-vm: define"), "{out}");
    let (_, json, _) = run("plan", dir.path(), uri, state.path(), &["--output", "json"]);
    assert!(
        !all.contains(SECRET) && !json.contains(SECRET),
        "{all}\n{json}"
    );
    assert!(json.contains(r#"passwd=\"(redacted)\""#), "{json}");
    // The saved plan is what apply executes: the real XML, readable by
    // its owner only.
    let saved = std::fs::read_to_string(&file).unwrap();
    assert!(saved.contains(SECRET), "{saved}");
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let v: serde_json::Value = serde_json::from_str(&saved).unwrap();
    assert_eq!(v["formatVersion"], 4);
    assert!(v["fingerprint"]["objects"]["domain/sp-vm"]["desired"]
        .as_str()
        .is_some_and(|d| d.starts_with("sha256:")));

    let (code, out, all) = run(
        "apply",
        dir.path(),
        uri,
        state.path(),
        &["--plan", &f, "--yes"],
    );
    assert_eq!(code, 0, "{all}");
    assert!(out.contains("converged: 1 objects in sync"), "{out}");
    assert!(!all.contains(SECRET), "{all}");

    // Exactly the saved actions, not a new plan: without its start, the
    // guest of a `running` manifest is defined and not started.
    let running = manifest_dir(&[(
        "vm.yaml",
        &halted_domain("sp-run", "  memory: 64MiB\n  vcpus: 1\n"),
    )]);
    let (code, _, all) = run("plan", running.path(), uri, state.path(), &["--out", &f]);
    assert_eq!(code, 0, "{all}");
    let mut p: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    p["actions"]
        .as_array_mut()
        .unwrap()
        .retain(|a| a["operation"] != "start");
    std::fs::write(&file, serde_json::to_string(&p).unwrap()).unwrap();
    let (code, out, all) = run(
        "apply",
        running.path(),
        uri,
        state.path(),
        &["--plan", &f, "--yes"],
    );
    assert_eq!(code, 3, "{all}");
    assert!(out.contains("done     domain/sp-run/define"), "{out}");
    assert!(!out.contains("domain/sp-run/start ("), "{out}");
    assert!(
        out.contains("not converged:") && out.contains("start domain/sp-run/start"),
        "{out}"
    );
}

#[test]
fn a_stale_plan_is_refused_naming_what_changed() {
    let dir = manifest_dir(&[(
        "vm.yaml",
        &format!(
            "{}---\n{}",
            guarded("st-a", "64MiB"),
            guarded("st-b", "64MiB")
        ),
    )]);
    let state = tempfile::tempdir().unwrap();
    let file = state.path().join("plan.json");
    let f = file.to_string_lossy().to_string();
    let uri = node(&state.path().join("host.xml"), &[]);
    let (code, _, all) = run("plan", dir.path(), &uri, state.path(), &["--out", &f]);
    assert_eq!(code, 0, "{all}");

    // The manifests changed.
    std::fs::write(
        dir.path().join("vm.yaml"),
        format!(
            "{}---\n{}",
            guarded("st-a", "96MiB"),
            guarded("st-b", "64MiB")
        ),
    )
    .unwrap();
    let (code, out, all) = run(
        "apply",
        dir.path(),
        &uri,
        state.path(),
        &["--plan", &f, "--yes"],
    );
    assert_eq!(code, 1, "{all}");
    assert!(
        all.contains("is stale") && all.contains("domain st-a: its manifest changed"),
        "{all}"
    );
    assert!(!all.contains("st-b:"), "{all}");
    assert!(all.contains("nothing was changed"), "{all}");
    assert!(!out.contains("done "), "{out}");

    // Someone defined one of the declared domains on the host meanwhile.
    std::fs::write(
        dir.path().join("vm.yaml"),
        format!(
            "{}---\n{}",
            guarded("st-a", "64MiB"),
            guarded("st-b", "64MiB")
        ),
    )
    .unwrap();
    let taken = OTHER.replace("someone-elses", "st-b");
    node(&state.path().join("host.xml"), &[&taken]);
    let (code, _, all) = run(
        "apply",
        dir.path(),
        &uri,
        state.path(),
        &["--plan", &f, "--yes"],
    );
    assert_eq!(code, 1, "{all}");
    assert!(all.contains("domain st-b: changed on the host"), "{all}");
    assert!(!all.contains("st-a:"), "{all}");

    // A domain nobody declared does not make the plan stale.
    node(&state.path().join("host.xml"), &[OTHER]);
    let (code, out, all) = run(
        "apply",
        dir.path(),
        &uri,
        state.path(),
        &["--plan", &f, "--yes"],
    );
    assert_eq!(code, 0, "{all}");
    assert!(out.contains("converged: 2 objects in sync"), "{out}");

    // A printed plan (secrets redacted) is never applied.
    let (_, json, _) = run(
        "plan",
        dir.path(),
        &uri,
        state.path(),
        &["--output", "json"],
    );
    std::fs::write(&file, json).unwrap();
    let (code, _, all) = run(
        "apply",
        dir.path(),
        &uri,
        state.path(),
        &["--plan", &f, "--yes"],
    );
    assert_eq!(code, 1, "{all}");
    assert!(all.contains("secrets redacted"), "{all}");

    // Read back typed: an action whose operation is not what its step
    // does is refused before anything runs.
    let (code, _, all) = run("plan", dir.path(), &uri, state.path(), &["--out", &f]);
    assert_eq!(code, 0, "{all}");
    let edited = std::fs::read_to_string(&file).unwrap().replacen(
        "\"operation\": \"define\"",
        "\"operation\": \"start\"",
        1,
    );
    std::fs::write(&file, edited).unwrap();
    let (code, out, all) = run(
        "apply",
        dir.path(),
        &uri,
        state.path(),
        &["--plan", &f, "--yes"],
    );
    assert_eq!(code, 1, "{all}");
    assert!(all.contains("do not match its step"), "{all}");
    assert!(!out.contains("done "), "{out}");
}

#[test]
fn usage_errors_exit_1_never_2() {
    let dir = manifest_dir(&[(
        "vm.yaml",
        &halted_domain("ue", "  memory: 64MiB\n  vcpus: 1\n"),
    )]);
    let d = dir.path().to_string_lossy().to_string();
    for args in [
        vec!["plan", &d, "--no-such-flag"],
        vec!["plan"],
        vec!["apply", &d, "--parallel", "0"],
        vec!["apply", &d, "--lock-timeout", "soon"],
        vec!["status", &d, "--output", "yaml"],
        vec!["plan", &d, "--selector", "novalue"],
        vec!["frobnicate"],
    ] {
        let (out, _) = virtsync(&args, Duration::from_secs(30));
        assert_eq!(
            out.status.code(),
            Some(1),
            "{args:?}: {}",
            output_text(&out)
        );
        assert!(!out.stderr.is_empty(), "{args:?}: no message");
    }
    let (out, _) = virtsync(&["apply", "--help"], Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(0));
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.contains("--plan <FILE>") && help.contains("--lock-timeout"),
        "{help}"
    );
}

#[test]
fn an_empty_directory_is_no_manifests_not_converged() {
    let dir = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    for cmd in ["validate", "plan", "apply", "status"] {
        let (code, out, all) = run(
            cmd,
            dir.path(),
            "test:///default",
            state.path(),
            &["--yes"][..usize::from(cmd == "apply")],
        );
        assert_eq!(code, 1, "{cmd}: {all}");
        assert!(
            all.contains(&format!("no manifests found in {}", dir.path().display())),
            "{cmd}: {all}"
        );
        assert!(
            !out.contains("converged") && !out.contains("valid:"),
            "{cmd}: {out}"
        );
    }
}

#[test]
fn a_selector_pulls_in_what_the_selected_objects_depend_on() {
    let dir = manifest_dir(&[(
        "all.yaml",
        &format!(
            "{API}\nkind: StoragePool\nmetadata: {{name: sel-pool}}\nspec: {{type: dir, path: /var/lib/libvirt/images/sel-pool}}\n---\n\
             {API}\nkind: Volume\nmetadata: {{name: web.qcow2}}\nspec: {{pool: sel-pool, capacity: 1GiB}}\n---\n\
             {API}\nkind: Network\nmetadata: {{name: sel-net}}\nspec: {{forward: {{mode: isolated}}}}\n---\n\
             {API}\nkind: Network\nmetadata: {{name: sel-other-net}}\nspec: {{forward: {{mode: isolated}}}}\n---\n\
             {API}\nkind: Domain\nmetadata: {{name: sel-web, labels: {{app: web}}}}\n\
             spec:\n  state: shutoff\n  memory: 64MiB\n  vcpus: 1\n  disks:\n    - volume: {{pool: sel-pool, name: web.qcow2}}\n  interfaces:\n    - network: sel-net\n---\n\
             {API}\nkind: Domain\nmetadata: {{name: sel-db, labels: {{app: db}}}}\nspec: {{state: shutoff, memory: 64MiB, vcpus: 1}}\n---\n\
             {API}\nkind: Snapshot\nmetadata: {{name: first, labels: {{pick: snap}}}}\nspec: {{domain: sel-web}}\n"
        ),
    )]);
    let state = tempfile::tempdir().unwrap();
    let objects = |sel: &str| -> Vec<String> {
        let (code, json, all) = run(
            "plan",
            dir.path(),
            "test:///default",
            state.path(),
            &["--selector", sel, "--output", "json"],
        );
        assert_eq!(code, 0, "{sel}: {all}");
        let p: serde_json::Value = serde_json::from_str(&json).unwrap();
        let mut names: Vec<String> = p["actions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                format!(
                    "{} {}",
                    a["kind"].as_str().unwrap(),
                    a["name"].as_str().unwrap()
                )
            })
            .collect();
        names.dedup();
        names.sort();
        names.dedup();
        names
    };
    // The domain, with its volume, the volume's pool and its network; not
    // the other domain or network, and not its snapshot (which depends on
    // it, not the other way round).
    assert_eq!(
        objects("app=web"),
        [
            "Domain sel-web",
            "Network sel-net",
            "StoragePool sel-pool",
            "Volume sel-pool/web.qcow2"
        ]
    );
    // A snapshot brings its domain, and the domain what it needs.
    assert_eq!(
        objects("pick=snap"),
        [
            "Domain sel-web",
            "Network sel-net",
            "Snapshot sel-web/first",
            "StoragePool sel-pool",
            "Volume sel-pool/web.qcow2"
        ]
    );
    assert_eq!(objects("app=db"), ["Domain sel-db"]);
    // A selector that matches nothing is an error, not "no changes".
    let (code, out, all) = run(
        "apply",
        dir.path(),
        "test:///default",
        state.path(),
        &["--selector", "app=nope", "--yes"],
    );
    assert_eq!(code, 1, "{all}");
    assert!(
        all.contains("--selector app=nope matches no object"),
        "{all}"
    );
    assert!(!out.contains("converged"), "{out}");
}

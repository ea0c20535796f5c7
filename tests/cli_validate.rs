//! `virtsync validate DIR` as people run it: every error of a directory as
//! `file:line:column: message` on stdout, sorted, exit 1; the quickstart
//! valid; JSON output; editor files, symlink loops and empty documents
//! survived; `--allow-path` and `--allow-unsafe-xml` honoured.

use std::path::{Path, PathBuf};
use std::time::Duration;

use assert_cmd::Command;

fn virtsync() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_virtsync"));
    // No test may hang (a symlink loop must not make the walk endless).
    cmd.timeout(Duration::from_secs(30));
    cmd.env_remove("LIBVIRT_DEFAULT_URI");
    cmd
}

fn quickstart() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart")
}

/// Write `files` (path relative to `root`, content) under `root`.
fn write_all(root: &Path, files: &[(&str, &str)]) {
    for (rel, text) in files {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
}

/// A copy of examples/quickstart in a fresh directory.
fn quickstart_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(quickstart()).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
    }
    dir
}

const QUICKSTART_VALID: &str =
    "valid: 5 manifests in 3 files (2 Domain, 1 Network, 1 StoragePool, 1 Volume)\n";

fn domain(name: &str, extra: &str) -> String {
    format!(
        "apiVersion: virtsync.io/v1alpha1\nkind: Domain\nmetadata:\n  name: {name}\nspec:\n  memory: 1GiB\n  vcpus: 1\n{extra}"
    )
}

#[test]
fn every_error_of_a_directory_is_printed_sorted_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    write_all(
        dir.path(),
        &[
            // Two bad names in one file, the second in its own document.
            (
                "m/names.yaml",
                &format!("{}---\n{}", domain("..", ""), domain("x<y", "")),
            ),
            (
                "m/vms/unknown-field.yaml",
                &domain("web-2", "  memroy: 1GiB\n"),
            ),
            (
                "m/vms/missing-ref.yaml",
                &domain("web-3", "  interfaces:\n    - network: lan\n"),
            ),
            (
                "m/broken.yaml",
                "apiVersion: virtsync.io/v1alpha1\nkind: Domain\nmetadata: {name: web-4\nspec: {}\n",
            ),
            ("m/a-dup.yaml", &domain("web-1", "")),
            ("m/z-dup.yaml", &domain("web-1", "")),
            (
                "m/vms/unit.yaml",
                &domain("web-5", "").replace("1GiB", "1gib"),
            ),
        ],
    );
    let out = virtsync()
        .current_dir(dir.path())
        .args(["validate", "m"])
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let out = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = out.lines().collect();
    // (file:line:column prefix, distinctive part of the message)
    let expected: &[(&str, &str)] = &[
        (
            "m/broken.yaml:4:5: ",
            "YAML syntax error: while parsing a flow mapping",
        ),
        (
            "m/names.yaml:4:9: ",
            "metadata.name: name `..` is not allowed",
        ),
        (
            "m/names.yaml:12:9: ",
            "metadata.name: name `x<y` contains `<`",
        ),
        (
            "m/vms/missing-ref.yaml:9:16: ",
            "spec.interfaces[0].network: unknown Network `lan`",
        ),
        (
            "m/vms/unit.yaml:6:11: ",
            "spec.memory: size `1gib` has an unknown unit `gib` (did you mean GiB?)",
        ),
        (
            "m/vms/unknown-field.yaml:8:3: ",
            "spec: unknown field `memroy` (did you mean `memory`?)",
        ),
        (
            "m/z-dup.yaml:4:9: ",
            "metadata.name: Domain `web-1` is already defined at m/a-dup.yaml:4:9",
        ),
    ];
    assert_eq!(lines.len(), expected.len() + 1, "{out}");
    for ((prefix, part), line) in expected.iter().zip(&lines) {
        assert!(
            line.starts_with(prefix) && line.contains(part),
            "expected {prefix}…{part}…\n     got {line}\n{out}"
        );
    }
    assert_eq!(lines[expected.len()], "invalid: 7 errors");
    // Sorted by file, then line (numerically: 4 before 12).
    let keys: Vec<(String, usize)> = lines[..expected.len()]
        .iter()
        .map(|l| {
            let mut parts = l.splitn(3, ':');
            let file = parts.next().unwrap().to_string();
            (file, parts.next().unwrap().parse().unwrap())
        })
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
}

#[test]
fn quickstart_is_valid() {
    virtsync()
        .arg("validate")
        .arg(quickstart())
        .assert()
        .code(0)
        .stdout(QUICKSTART_VALID);
}

#[test]
fn json_output_is_parseable() {
    let dir = tempfile::tempdir().unwrap();
    write_all(
        dir.path(),
        &[("bad.yaml", &domain("..", "")), ("worse.yaml", "kind: [\n")],
    );
    let out = virtsync()
        .args(["validate", "--output", "json"])
        .arg(dir.path())
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).expect("stdout is JSON");
    assert_eq!(v["valid"], false);
    let errors = v["errors"].as_array().expect("errors[]");
    assert_eq!(errors.len(), 2, "{v}");
    for e in errors {
        assert!(e["file"].is_string(), "{e}");
        assert!(e["line"].as_u64().is_some_and(|l| l >= 1), "{e}");
        assert!(e["column"].as_u64().is_some_and(|c| c >= 1), "{e}");
        assert!(e["message"].is_string(), "{e}");
    }
    assert_eq!(
        errors[0]["file"].as_str().unwrap(),
        dir.path().join("bad.yaml").to_str().unwrap()
    );
    assert_eq!(
        (errors[0]["line"].as_u64(), errors[0]["column"].as_u64()),
        (Some(4), Some(9))
    );
    assert!(errors[1]["message"]
        .as_str()
        .unwrap()
        .starts_with("YAML syntax error"));

    // A valid directory: valid, no errors, still JSON.
    let out = virtsync()
        .args(["validate", "-o", "json"])
        .arg(quickstart())
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).expect("stdout is JSON");
    assert_eq!(v["valid"], true);
    assert_eq!(v["errors"], serde_json::json!([]));
    assert_eq!(v["documents"], 5);
}

#[test]
fn hidden_swap_and_backup_files_are_ignored() {
    let dir = quickstart_copy();
    // Each of these would be an error (or a duplicate) if it were read.
    let garbage = "garbage: [\n";
    let copy = std::fs::read_to_string(quickstart().join("domains.yaml")).unwrap();
    write_all(
        dir.path(),
        &[
            (".domains.yaml.swp", garbage),
            ("domains.yaml~", &copy),
            (".#domains.yaml", garbage),
            ("#domains.yaml#", garbage),
            (".hidden/x.yaml", garbage),
            (".git/x.yaml", &copy),
        ],
    );
    virtsync()
        .arg("validate")
        .arg(dir.path())
        .assert()
        .code(0)
        .stdout(QUICKSTART_VALID);
}

#[test]
fn symlink_loops_and_second_paths_are_survived() {
    let dir = quickstart_copy();
    let root = dir.path();
    std::fs::create_dir(root.join("net")).unwrap();
    std::fs::rename(root.join("network.yaml"), root.join("net/network.yaml")).unwrap();
    std::os::unix::fs::symlink(root, root.join("net/back-to-root")).unwrap();
    std::os::unix::fs::symlink(".", root.join("self")).unwrap();
    // Second paths to files already read (sorted before the real ones): read
    // once, not reported as duplicates of themselves.
    std::os::unix::fs::symlink("domains.yaml", root.join("a-link.yaml")).unwrap();
    std::os::unix::fs::symlink("net", root.join("a-net-alias")).unwrap();
    virtsync()
        .arg("validate")
        .arg(root)
        .assert()
        .code(0)
        .stdout(QUICKSTART_VALID);
}

#[test]
fn empty_documents_between_separators_are_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let net = "apiVersion: virtsync.io/v1alpha1\nkind: Network\nmetadata:\n  name: lan\nspec:\n  forward: {mode: nat}\n";
    write_all(
        dir.path(),
        &[(
            "all.yaml",
            &format!(
                "---\n{net}---\n---\n# only a comment\n---\n{}---\n...\n",
                domain("web", "  interfaces:\n    - network: lan\n")
            ),
        )],
    );
    virtsync()
        .arg("validate")
        .arg(dir.path())
        .assert()
        .code(0)
        .stdout("valid: 2 manifests in 1 file (1 Domain, 1 Network)\n");
}

#[test]
fn allow_path_makes_a_disk_path_under_it_valid() {
    let dir = tempfile::tempdir().unwrap();
    write_all(
        dir.path(),
        &[(
            "web.yaml",
            &domain("web", "  disks:\n    - path: /srv/vms/web.img\n"),
        )],
    );
    virtsync()
        .arg("validate")
        .arg(dir.path())
        .assert()
        .code(1)
        .stdout(predicates::str::contains(
        "web.yaml:9:13: spec.disks[0].path: path `/srv/vms/web.img` is outside the allowed roots",
    ));
    for allowed in ["/srv/vms", "/srv/vms/", "/srv"] {
        virtsync()
            .arg("validate")
            .arg(dir.path())
            .args(["--allow-path", allowed])
            .assert()
            .code(0);
    }
    // A root is a directory, not a string prefix.
    virtsync()
        .arg("validate")
        .arg(dir.path())
        .args(["--allow-path", "/srv/vm"])
        .assert()
        .code(1);
}

#[test]
fn allow_unsafe_xml_accepts_a_hostdev_fragment() {
    let dir = tempfile::tempdir().unwrap();
    write_all(
        dir.path(),
        &[(
            "web.yaml",
            &domain(
                "web",
                "  xml:\n    - at: /domain/devices\n      merge: \"<hostdev mode='subsystem' type='pci' managed='yes'><source><address domain='0x0000' bus='0x01' slot='0x00' function='0x0'/></source></hostdev>\"\n",
            ),
        )],
    );
    virtsync()
        .arg("validate")
        .arg(dir.path())
        .assert()
        .code(1)
        .stdout(predicates::str::contains(
            "web.yaml:10:14: spec.xml[0].merge: `<hostdev>` is refused",
        ));
    virtsync()
        .arg("validate")
        .arg(dir.path())
        .arg("--allow-unsafe-xml")
        .assert()
        .code(0)
        .stdout("valid: 1 manifest in 1 file (1 Domain)\n");
}

#[test]
fn a_newline_in_a_value_does_not_split_an_error_line() {
    let dir = tempfile::tempdir().unwrap();
    write_all(dir.path(), &[("web.yaml", &domain("\"a\\nb\"", ""))]);
    let out = virtsync()
        .current_dir(dir.path())
        .args(["validate", "."])
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let out = String::from_utf8(out).unwrap();
    assert_eq!(
        out,
        "./web.yaml:4:9: metadata.name: name `a\\nb` contains `\\n`; allowed are A-Z a-z 0-9 . _ -\ninvalid: 1 error\n"
    );
}

#[test]
fn json_output_survives_a_file_name_that_is_not_utf8() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let name = std::ffi::OsStr::from_bytes(b"bad\xff.yaml");
    std::fs::write(dir.path().join(name), "kind: Foo\n").unwrap();
    let out = virtsync()
        .args(["validate", "-o", "json"])
        .arg(dir.path())
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).expect("stdout is JSON");
    let file = v["errors"][0]["file"].as_str().unwrap();
    assert!(file.ends_with("bad\u{fffd}.yaml"), "{file}");
    assert_eq!(
        (
            v["errors"][0]["line"].as_u64(),
            v["errors"][0]["column"].as_u64()
        ),
        (Some(1), Some(7))
    );
}

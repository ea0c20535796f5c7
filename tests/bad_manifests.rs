//! Bad manifests: each case of `tests/corpus/bad/` (a file, or a directory
//! for cases that need several files) must give exactly the errors listed in
//! [`CASES`], at the listed `line:column`, and nothing else. Cases that
//! cannot be committed sensibly (non-UTF-8 bytes, a file over 1 MiB) are
//! written to a tempdir by the tests below. Nothing may panic, whatever the
//! input: a proptest feeds random bytes and random YAML-ish text.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use proptest::prelude::*;
use virtsync::manifest::{load_dir, Diagnostic, LoadOptions, ManifestError};

/// One expected diagnostic: the file relative to the case (`""` when the
/// case is a single file), line, column, and a distinctive part of the
/// message (parts separated by `…` must appear in this order).
type Expect = (&'static str, usize, usize, &'static str);

/// Every case of the corpus with every error it must produce.
const CASES: &[(&str, &[Expect])] = &[
    // ---- what two objects, or one object's parts, cannot share
    (
        "xml-renames-domain.yaml",
        &[
            ("", 9, 14, "spec.xml[0].merge: `<name>` under /domain is refused in the xml escape hatch: set metadata.name instead"),
            ("", 11, 14, "spec.xml[1].merge: `<uuid>` under /domain is refused in the xml escape hatch: set spec.uuid instead"),
            ("", 13, 14, "spec.xml[2].merge: `<metadata>` under /domain is refused"),
        ],
    ),
    (
        "network-bridge-and-subnet-shared.yaml",
        &[
            ("", 12, 18, "spec.bridge.name: bridge virbr77 is network n1's too (network-bridge-and-subnet-shared.yaml:1)"),
            ("", 13, 19, "spec.ipv4.address: 10.77.0.5/16 overlaps 10.77.0.1/24 of network n1"),
        ],
    ),
    (
        "dhcp-mac-repeated.yaml",
        &[("", 11, 17, "spec.ipv4.dhcp.hosts[1].mac: 52:54:00:00:00:01 is also given to dhcp.hosts[0]")],
    ),
    (
        "cdrom-virtio.yaml",
        &[("", 8, 28, "spec.disks[0].bus: a CD-ROM cannot be on bus virtio")],
    ),
    (
        "domains-share-disk-and-mac.yaml",
        &[
            ("", 20, 13, "spec.disks[0].path: file /var/lib/libvirt/images/shared.img is a disk of domain a too"),
            ("", 23, 26, "spec.interfaces[0].mac: MAC 52:54:00:aa:bb:cc is used by domain a too"),
        ],
    ),
    // ---- names
    (
        "name-dotdot.yaml",
        &[("", 4, 9, "metadata.name: name `..` is not allowed")],
    ),
    (
        "name-angle.yaml",
        &[("", 4, 9, "metadata.name: name `x<y` contains `<`")],
    ),
    (
        "name-empty.yaml",
        &[("", 4, 9, "metadata.name: name is empty")],
    ),
    (
        "name-64-chars.yaml",
        &[(
            "",
            4,
            9,
            "is 64 characters long; at most 63 are allowed",
        )],
    ),
    // ---- sizes and numbers
    (
        "size-negative.yaml",
        &[("", 6, 11, "spec.memory: size `-1GiB` is negative")],
    ),
    (
        "size-overflow.yaml",
        &[("", 6, 11, "spec.memory: size `99999999TiB` is too large")],
    ),
    (
        "size-no-unit.yaml",
        &[(
            "",
            6,
            11,
            "spec.memory: size `1024` has no unit; a bare number is ambiguous",
        )],
    ),
    (
        "size-lowercase-unit.yaml",
        &[(
            "",
            6,
            11,
            "size `1gib` has an unknown unit `gib` (did you mean GiB?)",
        )],
    ),
    (
        "size-fraction.yaml",
        &[(
            "",
            6,
            11,
            "size `1.5GiB` is not a whole number; use a smaller unit: write `1536MiB`",
        )],
    ),
    (
        "size-space-before-unit.yaml",
        &[(
            "",
            6,
            11,
            "size `1 GiB` has a space before its unit; write `1GiB`",
        )],
    ),
    (
        "vcpus-zero.yaml",
        &[("", 7, 10, "spec.vcpus: vcpus must be at least 1")],
    ),
    (
        "wrong-type.yaml",
        &[(
            "",
            7,
            10,
            "spec.vcpus: invalid type: string \"two\", expected a whole number",
        )],
    ),
    (
        "max-memory-below-memory.yaml",
        &[(
            "",
            7,
            14,
            "spec.maxMemory: maxMemory (1GiB) is below memory (2GiB)",
        )],
    ),
    // ---- MACs, UUIDs
    (
        "mac-short.yaml",
        &[(
            "",
            10,
            12,
            "spec.interfaces[0].mac: MAC address `52:54:00:12:34` is not six hex pairs",
        )],
    ),
    (
        "mac-multicast.yaml",
        &[(
            "",
            10,
            12,
            "MAC address `01:00:5e:00:00:01` is a multicast address",
        )],
    ),
    (
        "uuid-bad.yaml",
        &[(
            "",
            8,
            9,
            "spec.uuid: UUID `0b6c7c9e-3c1f-4d8e-9a77-2f1e5f0f8c1` is not of the form 8-4-4-4-12",
        )],
    ),
    // ---- disk paths
    (
        "path-etc-shadow.yaml",
        &[(
            "",
            9,
            13,
            "spec.disks[0].path: path `/etc/shadow` is outside the allowed roots (/var/lib/libvirt/images)",
        )],
    ),
    (
        "path-relative.yaml",
        &[(
            "",
            9,
            13,
            "spec.disks[0].path: path `images/web.qcow2` must be absolute",
        )],
    ),
    (
        "path-dotdot.yaml",
        &[(
            "",
            9,
            13,
            "spec.disks[0].path: path `/var/lib/libvirt/images/../../../../etc/shadow` must not contain `..`",
        )],
    ),
    // ---- YAML shape
    (
        "dup-key-top.yaml",
        &[("", 8, 1, "duplicate key `kind` (first set at line 2)")],
    ),
    (
        "dup-key-labels.yaml",
        &[(
            "",
            8,
            5,
            "duplicate key `metadata.labels.app` (first set at line 6)",
        )],
    ),
    (
        "unknown-field.yaml",
        &[(
            "",
            6,
            3,
            "spec: unknown field `memroy` (did you mean `memory`?)",
        )],
    ),
    (
        "second-document-bad.yaml",
        &[(
            "",
            19,
            7,
            "spec.interfaces[0]: unknown field `modle` (did you mean `model`?)",
        )],
    ),
    (
        "unknown-kind.yaml",
        &[(
            "",
            2,
            7,
            "unknown kind `VirtualMachine`; expected one of Domain, Network",
        )],
    ),
    (
        "kind-wrong-case.yaml",
        &[("", 2, 7, "unknown kind `domain` (did you mean `Domain`?)")],
    ),
    (
        "kind-not-a-name.yaml",
        &[("", 2, 7, "`kind` must be one name, one of Domain")],
    ),
    (
        "api-version-wrong.yaml",
        &[(
            "",
            1,
            13,
            "apiVersion: unknown apiVersion `virtsync.io/v1`; this virtsync reads `virtsync.io/v1alpha1`",
        )],
    ),
    (
        "tab-indent.yaml",
        &[("", 4, 1, "YAML syntax error: tabs disallowed")],
    ),
    (
        "tab-before-key.yaml",
        &[("", 7, 1, "found a tab (YAML indents and separates with spaces")],
    ),
    (
        "syntax-unclosed-flow.yaml",
        &[(
            "",
            9,
            1,
            "YAML syntax error: while parsing a flow sequence, expected ',' or ']'",
        )],
    ),
    (
        "bom-then-bad-unit.yaml",
        &[("", 6, 11, "spec.memory: size `1Gb` has an unknown unit `Gb`")],
    ),
    (
        "billion-laughs.yaml",
        &[("", 13, 12, "aliases expand to more than 10000 nodes")],
    ),
    // ---- the xml escape hatch
    (
        "xml-qemu-commandline.yaml",
        &[(
            "",
            10,
            14,
            "spec.xml[0].merge: `<qemu:commandline>` uses the qemu: namespace",
        )],
    ),
    (
        "xml-qemu-namespace-escaped.yaml",
        &[(
            "",
            10,
            14,
            "spec.xml[0].merge: `<x:commandline>` declares the qemu namespace",
        )],
    ),
    (
        "xml-hostdev.yaml",
        &[(
            "",
            10,
            14,
            "spec.xml[0].merge: `<hostdev>` is refused in the xml escape hatch",
        )],
    ),
    (
        "xml-file-attribute.yaml",
        &[(
            "",
            10,
            14,
            "spec.xml[0].merge: `<source path=...>` names a host path",
        )],
    ),
    // ---- references and uniqueness
    (
        "ref-missing-network.yaml",
        &[(
            "",
            9,
            16,
            "spec.interfaces[0].network: unknown Network `lan`",
        )],
    ),
    (
        "ref-missing-volume.yaml",
        &[(
            "",
            17,
            36,
            "spec.disks[0].volume.name: unknown Volume `web.qcow2` in pool `images`",
        )],
    ),
    (
        "ref-missing-pool.yaml",
        &[(
            "",
            9,
            22,
            "spec.disks[0].volume.pool: unknown StoragePool `images`",
        )],
    ),
    (
        "ref-missing-volume-pool.yaml",
        &[("", 6, 9, "spec.pool: unknown StoragePool `imagse`")],
    ),
    (
        "snapshot-unknown-domain.yaml",
        &[("", 6, 11, "spec.domain: unknown Domain `wbe`")],
    ),
    (
        "unknown-host.yaml",
        &[(
            "",
            12,
            9,
            "metadata.host: unknown host `kvm-b` (did you mean `kvm-a`?)",
        )],
    ),
    (
        "dup-name-across-files",
        &[(
            "b.yaml",
            5,
            9,
            "metadata.name: Domain `web` is already defined at …/a.yaml:4:9 (domain names are unique per host)",
        )],
    ),
    // ---- field combinations
    (
        "cpu-custom-no-model.yaml",
        &[("", 9, 5, "spec.cpu.model: mode custom needs a cpu model")],
    ),
    (
        "disk-volume-and-path.yaml",
        &[(
            "",
            9,
            7,
            "spec.disks[0]: a disk takes `volume` or `path`, not both",
        )],
    ),
    (
        "readonly-sata.yaml",
        &[(
            "",
            11,
            17,
            "spec.disks[0].readonly: libvirt does not support read-only SATA disks",
        )],
    ),
    (
        "ide-on-q35.yaml",
        &[
            (
                "",
                12,
                12,
                "spec.disks[1].bus: machine pc-q35-7.2 (q35) has no IDE controller",
            ),
            (
                "",
                14,
                15,
                "spec.disks[2].target: machine pc-q35-7.2 (q35) has no IDE controller",
            ),
        ],
    ),
    (
        "transient-autostart.yaml",
        &[(
            "",
            9,
            14,
            "spec.autostart: a transient domain (persistent: false) cannot autostart",
        )],
    ),
    (
        "dhcp-host-outside-subnet.yaml",
        &[(
            "",
            12,
            53,
            "spec.ipv4.dhcp.hosts[0].ip: 10.10.1.10 is outside 10.10.0.1/24",
        )],
    ),
    (
        "external-domain.yaml",
        &[(
            "",
            5,
            13,
            "metadata.external: a Domain cannot be external",
        )],
    ),
    (
        "volume-raw-with-backing-store.yaml",
        &[(
            "",
            25,
            17,
            "spec.backingStore: a raw volume cannot have a backing store",
        )],
    ),
    (
        "cloud-init.yaml",
        &[
            ("", 18, 15, "spec.cloudInit.userData: user-data must start with `#cloud-config` (YAML) or `#!` (a script)"),
            ("", 30, 25, "spec.cloudInit.sshAuthorizedKeys[0]: the ssh-ed25519 key's base64 after the type is missing or malformed"),
        ],
    ),
    (
        "volume-image-source.yaml",
        &[
            ("", 15, 17, "spec.source.url: unknown URL scheme `ftp`: virtsync fetches images over http, https and file"),
            ("", 23, 11, "spec.source: an image fetched over http(s) needs its `sha256`"),
            ("", 31, 40, "spec.source.sha256: a SHA-256 checksum is 64 hex digits"),
            ("", 39, 11, "spec.format: a volume with a `source` image takes its content and format from the image"),
            ("", 40, 18, "spec.source.path: path `relative.qcow2` must be absolute"),
        ],
    ),
];

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/bad")
}

/// The diagnostics of loading `path`, which must fail as invalid input.
fn diagnostics(path: &Path) -> Vec<Diagnostic> {
    match load_dir(path, &LoadOptions::default()) {
        Err(ManifestError::Invalid(d)) => d,
        Err(e) => panic!("{}: expected manifest errors, got {e}", path.display()),
        Ok(_) => panic!("{}: loaded without errors", path.display()),
    }
}

/// Whether `message` holds every `…`-separated piece of `part`, in order.
fn matches(message: &str, part: &str) -> bool {
    let mut rest = message;
    for piece in part.split('…') {
        match rest.find(piece) {
            Some(at) => rest = &rest[at + piece.len()..],
            None => return false,
        }
    }
    true
}

/// Compare a case's diagnostics with what it expects; the mismatches, if any.
fn check(case: &str, path: &Path, expected: &[Expect], got: &[Diagnostic]) -> Vec<String> {
    let shown = |d: &Diagnostic| {
        let rel = d.file.strip_prefix(path).unwrap_or(&d.file);
        format!("{}:{}:{}: {}", rel.display(), d.line, d.column, d.message)
    };
    let mut problems = Vec::new();
    if expected.len() != got.len() {
        problems.push(format!(
            "{case}: expected {} error(s), got {}:\n    {}",
            expected.len(),
            got.len(),
            got.iter().map(shown).collect::<Vec<_>>().join("\n    ")
        ));
        return problems;
    }
    for ((file, line, column, part), d) in expected.iter().zip(got) {
        let rel = d.file.strip_prefix(path).unwrap_or(&d.file);
        if rel != Path::new(file)
            || d.line != *line
            || d.column != *column
            || !matches(&d.message, part)
        {
            problems.push(format!(
                "{case}: expected {file}:{line}:{column}: …{part}…\n    got {}",
                shown(d)
            ));
        }
    }
    problems
}

#[test]
fn every_corpus_case_gives_exactly_its_errors() {
    let mut problems = Vec::new();
    for (case, expected) in CASES {
        let path = corpus().join(case);
        assert!(path.exists(), "{case} is listed but not in the corpus");
        problems.extend(check(case, &path, expected, &diagnostics(&path)));
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

#[test]
fn every_corpus_file_is_a_listed_case() {
    let listed: BTreeSet<&str> = CASES.iter().map(|(c, _)| *c).collect();
    assert_eq!(listed.len(), CASES.len(), "a case is listed twice");
    let on_disk: BTreeSet<String> = std::fs::read_dir(corpus())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let unlisted: Vec<&String> = on_disk
        .iter()
        .filter(|f| !listed.contains(f.as_str()))
        .collect();
    assert!(
        unlisted.is_empty(),
        "corpus files without expectations: {unlisted:?}"
    );
    assert!(CASES.len() >= 30, "the corpus must keep at least 30 cases");
}

#[test]
fn billion_laughs_is_refused_quickly() {
    // A safety bound, not a benchmark: expanding the aliases would take
    // minutes and gigabytes.
    let path = corpus().join("billion-laughs.yaml");
    let start = Instant::now();
    let d = diagnostics(&path);
    let took = start.elapsed();
    assert!(took < Duration::from_secs(1), "took {took:?}");
    assert!(d[0].message.contains("aliases expand"), "{d:?}");
}

/// Write `bytes` as the only manifest of a fresh directory.
fn one_file(name: &str, bytes: &[u8]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    (dir, path)
}

#[test]
fn binary_garbage_is_not_a_manifest() {
    let mut bytes =
        b"apiVersion: virtsync.io/v1alpha1\nkind: Domain\nmetadata:\n  name: w\xc3\xa9b".to_vec();
    bytes.extend_from_slice(&[0xff, 0xfe, 0x00, 0x9c, 0x80]);
    bytes.extend((0..=255u8).cycle().take(4096));
    let (_dir, path) = one_file("garbage.yaml", &bytes);
    let problems = check(
        "garbage.yaml",
        &path,
        // Columns count characters: `é` is two bytes but one column.
        &[("", 4, 12, "not a text file: invalid UTF-8 (byte 0xff)")],
        &diagnostics(&path),
    );
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

#[test]
fn control_characters_are_not_mistaken_for_tabs() {
    let (_dir, path) = one_file(
        "nul.yaml",
        b"apiVersion: virtsync.io/v1alpha1\nkind: Domain\x00\n",
    );
    let d = diagnostics(&path);
    let problems = check(
        "nul.yaml",
        &path,
        &[(
            "",
            2,
            13,
            "YAML syntax error: found unprintable character U+0000",
        )],
        &d,
    );
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
    assert!(
        !d[0].message.contains("replace the tab"),
        "{}",
        d[0].message
    );
}

#[test]
fn a_file_over_one_mib_is_refused_unread() {
    let mut text = String::from(
        "apiVersion: virtsync.io/v1alpha1\nkind: Domain\nmetadata:\n  name: big\nspec:\n  memory: 1GiB\n  vcpus: 1\n",
    );
    while text.len() <= 1024 * 1024 {
        text.push_str("# padding padding padding padding padding padding padding\n");
    }
    let (dir, _path) = one_file("big.yaml", text.as_bytes());
    let problems = check(
        "big.yaml",
        dir.path(),
        &[(
            "big.yaml",
            1,
            1,
            "manifest files are limited to 1048576 bytes (1 MiB)",
        )],
        &diagnostics(dir.path()),
    );
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

/// Lines a manifest might have, good and bad, for the YAML-ish fuzzer.
const FRAGMENTS: &[&str] = &[
    "apiVersion: virtsync.io/v1alpha1",
    "kind: Domain",
    "kind: Network",
    "kind: Volume",
    "kind: StoragePool",
    "kind: Snapshot",
    "kind: Host",
    "metadata:",
    "  name: web",
    "  name: ..",
    "  labels: {a: b}",
    "  external: true",
    "  host: kvm-a",
    "spec:",
    "  memory: 1GiB",
    "  maxMemory: 99999999TiB",
    "  vcpus: 0",
    "  pool: images",
    "  capacity: 1G",
    "  uuid: 0b6c7c9e-3c1f-4d8e-9a77-2f1e5f0f8c11",
    "  disks:",
    "    - volume: {pool: images, name: web.qcow2}",
    "    - path: /var/lib/libvirt/images/x.img",
    "    - {device: cdrom}",
    "  interfaces:",
    "    - network: lan",
    "      mac: \"52:54:00:12:34:56\"",
    "  ipv4: {address: 10.0.0.1, prefix: 24, dhcp: {hosts: [{ip: 10.0.0.5, name: x}]}}",
    "  xml:",
    "    - at: /domain/os",
    "      merge: \"<bios rebootTimeout='-1'/>\"",
    "      merge: \"<a><b></a>\"",
    "  type: dir",
    "  path: /var/lib/libvirt/images",
    "  uri: qemu:///system",
    "  domain: web",
    "---",
    "...",
    "a: &a [x, x]",
    "b: [*a, *a, *a]",
    "*a: 1",
    "? [complex, key]",
    ": value",
    "- item",
    "  - nested",
    "key: |",
    "  literal",
    "\tvcpus: 1",
    "%YAML 1.2",
    "!!binary aGVsbG8=",
    "'unterminated",
    "{",
    "]",
    "",
];

fn yamlish() -> impl Strategy<Value = String> {
    let line = prop_oneof![
        4 => proptest::sample::select(FRAGMENTS).prop_map(str::to_string),
        1 => "[ -~\t]{0,40}",
        1 => "[ a-z:&*!|>'\"{}\\[\\],#?-]{0,20}",
    ];
    proptest::collection::vec(line, 0..30).prop_map(|l| l.join("\n"))
}

/// Load `bytes` as the one file of `dir`: any result is fine, a panic is not.
fn load_bytes(dir: &Path, bytes: &[u8]) {
    std::fs::write(dir.join("fuzz.yaml"), bytes).unwrap();
    let _ = load_dir(dir, &LoadOptions::default());
}

/// 200 cases keep `cargo test` fast; `PROPTEST_CASES=100000` hunts longer.
fn fuzz_config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(200);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(fuzz_config())]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let dir = tempfile::tempdir().unwrap();
        load_bytes(dir.path(), &bytes);
    }

    #[test]
    fn random_yamlish_text_never_panics(text in yamlish()) {
        let dir = tempfile::tempdir().unwrap();
        load_bytes(dir.path(), text.as_bytes());
    }
}

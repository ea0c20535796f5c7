//! The JSON Schema of manifests, `schemas/virtsync.schema.json`:
//! - the checked-in file is what `virtsync schema` prints (it is generated
//!   from the Rust types, so it must be regenerated when they change);
//! - every manifest shipped in `examples/` and `manifests/` validates
//!   against it, and each of those files points its editor at it with a
//!   correct relative `# yaml-language-server: $schema=` header;
//! - it refuses what the loader refuses where JSON Schema can say so
//!   (unknown fields, a spec of the wrong kind, sizes without a unit, ...),
//!   and accepts what the loader accepts: the two are checked side by side
//!   on the same documents.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde::Deserialize;
use serde_json::Value;

const SCHEMA_FILE: &str = "schemas/virtsync.schema.json";
const REGENERATE: &str = "cargo run -q -- schema > schemas/virtsync.schema.json";
const HEADER: &str = "# yaml-language-server: $schema=";
/// The directories of manifests shipped with the repository.
const MANIFEST_DIRS: [&str; 2] = ["examples", "manifests"];

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// The schema as `virtsync schema` prints it.
fn generated() -> String {
    format!("{}\n", virtsync::cli::schema_json())
}

fn schema() -> &'static Value {
    static SCHEMA: OnceLock<Value> = OnceLock::new();
    SCHEMA.get_or_init(|| serde_json::from_str(&generated()).expect("the schema is JSON"))
}

fn validator() -> &'static jsonschema::Validator {
    static VALIDATOR: OnceLock<jsonschema::Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| {
        jsonschema::draft202012::new(schema())
            .unwrap_or_else(|e| panic!("schema does not build: {e}"))
    })
}

/// Where two texts first differ, for a short failure message.
fn first_difference(a: &str, b: &str) -> String {
    let (mut la, mut lb) = (a.lines(), b.lines());
    for n in 1.. {
        match (la.next(), lb.next()) {
            (None, None) => return "only in line endings or the final newline".into(),
            (x, y) if x == y => continue,
            (x, y) => {
                return format!(
                    "first at line {n}:\n  checked in: {}\n  generated:  {}",
                    x.unwrap_or("<end of file>"),
                    y.unwrap_or("<end of file>")
                )
            }
        }
    }
    unreachable!()
}

// ------------------------------------------------------------ freshness

#[test]
fn checked_in_schema_is_up_to_date() {
    let checked_in = read(&repo().join(SCHEMA_FILE));
    let generated = generated();
    assert!(
        checked_in == generated,
        "{SCHEMA_FILE} is stale: the manifest types changed. Regenerate it with\n    {REGENERATE}\n({})",
        first_difference(&checked_in, &generated)
    );
}

#[test]
fn schema_command_prints_the_checked_in_file() {
    let out = assert_cmd::cargo::cargo_bin_cmd!("virtsync")
        .arg("schema")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let printed = String::from_utf8(out).expect("schema output is UTF-8");
    let checked_in = read(&repo().join(SCHEMA_FILE));
    assert!(
        printed == checked_in,
        "`virtsync schema` differs from {SCHEMA_FILE}; regenerate it with\n    {REGENERATE}\n({})",
        first_difference(&checked_in, &printed)
    );
}

#[test]
fn schema_is_a_valid_draft_2020_12_schema() {
    let s = schema();
    assert_eq!(s["$schema"], "https://json-schema.org/draft/2020-12/schema");
    if let Err(e) = jsonschema::meta::validate(s) {
        panic!(
            "the schema breaks the 2020-12 meta-schema: {e} at {}",
            e.instance_path()
        );
    }
    // Every $ref resolves (the validator resolves them eagerly).
    let _ = validator();
}

#[test]
fn schema_renders_every_enum_and_syntax() {
    let defs = schema()["$defs"].as_object().expect("$defs");
    let values = |name: &str| -> Vec<&str> {
        defs[name]["enum"]
            .as_array()
            .unwrap_or_else(|| panic!("$defs/{name} is not an enum"))
            .iter()
            .map(|v| v.as_str().expect("string enum"))
            .collect()
    };
    assert_eq!(values("PowerState"), ["running", "shutoff", "paused"]);
    assert_eq!(
        values("CpuMode"),
        ["host-passthrough", "host-model", "custom"]
    );
    assert_eq!(values("RestartPolicy"), ["never", "onConfigChange"]);
    assert_eq!(
        values("ForwardMode"),
        ["nat", "route", "open", "bridge", "isolated"]
    );
    assert_eq!(values("PoolType"), ["dir", "fs", "netfs", "logical"]);
    assert_eq!(values("VolumeFormat"), ["qcow2", "raw"]);
    assert_eq!(values("ReclaimPolicy"), ["retain", "delete"]);
    assert_eq!(values("GraphicsType"), ["none", "vnc", "spice"]);
    assert_eq!(values("DiskBus"), ["virtio", "sata", "scsi", "ide"]);
    for name in [
        "Name",
        "Size",
        "Duration",
        "MacAddress",
        "Uuid",
        "AbsolutePath",
    ] {
        assert!(defs.contains_key(name), "$defs/{name} is missing");
    }
    let kinds: Vec<&str> = schema()["oneOf"]
        .as_array()
        .expect("oneOf")
        .iter()
        .map(|b| {
            b["properties"]["kind"]["const"]
                .as_str()
                .expect("kind const")
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "Domain",
            "Network",
            "StoragePool",
            "Volume",
            "Snapshot",
            "Host"
        ]
    );
}

// ------------------------------------------------------------ shipped manifests

/// Every manifest file under `examples/` and `manifests/`, skipping what the
/// loader skips (hidden files, editor backups).
fn manifest_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in MANIFEST_DIRS {
        let root = repo().join(dir);
        assert!(root.is_dir(), "{} is missing", root.display());
        for entry in walkdir::WalkDir::new(&root)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(|e| e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.'))
        {
            let entry = entry.expect("walk manifests");
            let name = entry.file_name().to_string_lossy();
            if entry.file_type().is_file() && (name.ends_with(".yaml") || name.ends_with(".yml")) {
                files.push(entry.into_path());
            }
        }
    }
    assert!(
        files.len() >= 10,
        "expected the sample manifests, found {files:?}"
    );
    files
}

/// The YAML documents of `text` as JSON values (empty documents skipped).
fn documents(text: &str) -> Result<Vec<Value>, String> {
    let mut out = Vec::new();
    for doc in serde_yaml::Deserializer::from_str(text) {
        let value = Value::deserialize(doc).map_err(|e| e.to_string())?;
        if !value.is_null() {
            out.push(value);
        }
    }
    Ok(out)
}

/// The schema's complaints about one document, as `path: message` lines.
fn errors(doc: &Value) -> Vec<String> {
    validator()
        .iter_errors(doc)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

/// The complaints of the one `oneOf` branch for `kind` alone: `oneOf` itself
/// only says that no branch matched.
fn branch_errors(kind: &str, doc: &Value) -> Vec<String> {
    let branch = schema()["oneOf"]
        .as_array()
        .expect("oneOf")
        .iter()
        .find(|b| b["properties"]["kind"]["const"] == kind)
        .unwrap_or_else(|| panic!("no branch for kind {kind}"));
    let mut single = branch.clone();
    single["$schema"] = schema()["$schema"].clone();
    single["$defs"] = schema()["$defs"].clone();
    let v = jsonschema::draft202012::new(&single).expect("branch schema builds");
    v.iter_errors(doc)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

#[test]
fn every_shipped_manifest_validates_against_the_schema() {
    let mut failures = Vec::new();
    let mut count = 0;
    for file in manifest_files() {
        let rel = file
            .strip_prefix(repo())
            .unwrap_or(&file)
            .display()
            .to_string();
        let docs = match documents(&read(&file)) {
            Ok(d) => d,
            Err(e) => {
                failures.push(format!("{rel}: not YAML: {e}"));
                continue;
            }
        };
        assert!(!docs.is_empty(), "{rel} holds no document");
        for (i, doc) in docs.iter().enumerate() {
            count += 1;
            let kind = doc["kind"].as_str().unwrap_or("?");
            let errs = errors(doc);
            if !errs.is_empty() {
                let detail = branch_errors(kind, doc);
                failures.push(format!(
                    "{rel} document {} ({kind} {}): {}",
                    i + 1,
                    doc["metadata"]["name"],
                    if detail.is_empty() { errs } else { detail }.join("; ")
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "manifests the schema refuses:\n{}",
        failures.join("\n")
    );
    assert!(count >= 25, "only {count} documents found");
}

#[test]
fn shipped_manifest_dirs_pass_validate() {
    for dir in MANIFEST_DIRS {
        assert_cmd::cargo::cargo_bin_cmd!("virtsync")
            .args(["validate", dir])
            .current_dir(repo())
            .assert()
            .success()
            .stdout(predicates::str::starts_with("valid"));
    }
}

#[test]
fn every_shipped_manifest_names_the_schema_by_a_correct_relative_path() {
    let schema_file = repo()
        .join(SCHEMA_FILE)
        .canonicalize()
        .expect("schema file exists");
    let mut failures = Vec::new();
    for file in manifest_files() {
        let rel = file
            .strip_prefix(repo())
            .unwrap_or(&file)
            .display()
            .to_string();
        let text = read(&file);
        let first = text.lines().next().unwrap_or("");
        let Some(target) = first.strip_prefix(HEADER) else {
            failures.push(format!("{rel}: the first line is not `{HEADER}<path>`"));
            continue;
        };
        let target = target.trim_end();
        if target.starts_with('/') || target.contains("://") || target.contains('\\') {
            failures.push(format!("{rel}: `{target}` is not a relative path with /"));
            continue;
        }
        let dir = file.parent().expect("file has a directory");
        match dir.join(target).canonicalize() {
            Ok(p) if p == schema_file => {}
            Ok(p) => failures.push(format!("{rel}: `{target}` names {}", p.display())),
            Err(e) => failures.push(format!("{rel}: `{target}` does not resolve: {e}")),
        }
        // The header is followed by a comment saying what the file is for.
        if !text.lines().nth(1).is_some_and(|l| l.starts_with("# ")) {
            failures.push(format!(
                "{rel}: no comment after the header says what it is for"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "bad schema headers:\n{}",
        failures.join("\n")
    );
}

// ------------------------------------------------------------ refusals

fn yaml(text: &str) -> Value {
    let docs = documents(text).expect("test YAML parses");
    assert_eq!(docs.len(), 1, "one document expected");
    docs.into_iter().next().unwrap()
}

const DOMAIN: &str = "
apiVersion: virtsync.io/v1alpha1
kind: Domain
metadata:
  name: web-1
  labels: {app: web}
spec:
  memory: 1GiB
  vcpus: 2
  disks:
    - volume: {pool: vmstore, name: web-1.qcow2}
      target: vda
  interfaces:
    - network: lab
";

/// `doc` is refused, and the complaint of its kind's branch mentions `what`.
#[track_caller]
fn assert_refused(doc: &Value, kind: &str, what: &str) {
    assert!(
        !validator().is_valid(doc),
        "the schema accepts a document it should refuse ({what}):\n{doc:#}"
    );
    let errs = branch_errors(kind, doc);
    assert!(
        errs.iter().any(|e| e.contains(what)),
        "refused, but not for `{what}`: {errs:?}"
    );
}

#[test]
fn baseline_domain_is_valid() {
    let errs = errors(&yaml(DOMAIN));
    assert!(errs.is_empty(), "{errs:?}");
}

#[test]
fn unknown_fields_are_refused_at_every_depth() {
    let top = yaml(&DOMAIN.replace("spec:\n", "specs: {}\nspec:\n"));
    assert_refused(&top, "Domain", "specs");

    let meta = yaml(&DOMAIN.replace("  labels:", "  lables:"));
    assert_refused(&meta, "Domain", "lables");

    let deep = yaml(&DOMAIN.replace("      target: vda", "      tagret: vda"));
    assert_refused(&deep, "Domain", "tagret");
    let deep_errors = branch_errors("Domain", &deep);
    assert!(
        deep_errors.iter().any(|e| e.starts_with("/spec/disks/0")),
        "the error is not placed at spec.disks[0]: {deep_errors:?}"
    );

    let in_ref = yaml(&DOMAIN.replace("{pool: vmstore,", "{pool: vmstore, size: 1GiB,"));
    assert_refused(&in_ref, "Domain", "size");
}

#[test]
fn a_spec_of_another_kind_is_refused() {
    let doc = yaml(
        "
apiVersion: virtsync.io/v1alpha1
kind: Domain
metadata: {name: lab}
spec:
  forward: {mode: nat}
  ipv4: {address: 10.20.0.1, prefix: 24}
",
    );
    assert_refused(&doc, "Domain", "forward");
    // It would be a fine Network.
    let network = yaml(
        &serde_yaml::to_string(&doc)
            .unwrap()
            .replace("kind: Domain", "kind: Network"),
    );
    assert!(errors(&network).is_empty(), "{:?}", errors(&network));
}

#[test]
fn kind_and_api_version_are_checked() {
    assert_refused(
        &yaml(&DOMAIN.replace("kind: Domain", "kind: domain")),
        "Domain",
        "kind",
    );
    assert_refused(
        &yaml(&DOMAIN.replace("virtsync.io/v1alpha1", "virtsync.io/v1")),
        "Domain",
        "apiVersion",
    );
    let no_spec = yaml("apiVersion: virtsync.io/v1alpha1\nkind: Domain\nmetadata: {name: web-1}\n");
    assert_refused(&no_spec, "Domain", "spec");
}

#[test]
fn sizes_need_a_unit() {
    assert_refused(
        &yaml(&DOMAIN.replace("memory: 1GiB", "memory: 1024")),
        "Domain",
        "memory",
    );
    assert_refused(
        &yaml(&DOMAIN.replace("memory: 1GiB", "memory: \"1024\"")),
        "Domain",
        "memory",
    );
    for bad in ["1gib", "1 GiB", "1.5GiB", "0MiB", "-1GiB", "1EiB"] {
        let doc = yaml(&DOMAIN.replace("memory: 1GiB", &format!("memory: \"{bad}\"")));
        assert_refused(&doc, "Domain", "memory");
    }
    for good in [
        "1GiB",
        "512M",
        "20GB",
        "4096k",
        "1073741824B",
        "1T",
        "010MiB",
    ] {
        let doc = yaml(&DOMAIN.replace("memory: 1GiB", &format!("memory: {good}")));
        assert!(errors(&doc).is_empty(), "{good}: {:?}", errors(&doc));
    }
}

// ------------------------------------------------------------ schema and loader agree

/// Objects the cases refer to: a host, a pool, an external golden image, a
/// network and a domain with a qcow2 disk, all valid.
const CONTEXT: &str = "
apiVersion: virtsync.io/v1alpha1
kind: Host
metadata: {name: kvm-a}
spec: {uri: qemu:///system}
---
apiVersion: virtsync.io/v1alpha1
kind: StoragePool
metadata: {name: vmstore, host: kvm-a}
spec: {type: dir, path: /var/lib/libvirt/images/vmstore}
---
apiVersion: virtsync.io/v1alpha1
kind: Volume
metadata: {name: golden.qcow2, host: kvm-a, external: true}
spec: {pool: vmstore}
---
apiVersion: virtsync.io/v1alpha1
kind: Volume
metadata: {name: app-1.qcow2, host: kvm-a}
spec: {pool: vmstore, capacity: 10GiB, backingStore: {name: golden.qcow2}}
---
apiVersion: virtsync.io/v1alpha1
kind: Volume
metadata: {name: case.qcow2, host: kvm-a}
spec: {pool: vmstore, capacity: 10GiB, backingStore: {name: golden.qcow2}}
---
apiVersion: virtsync.io/v1alpha1
kind: Network
metadata: {name: lab, host: kvm-a}
spec:
  forward: {mode: nat}
  ipv4: {address: 10.20.0.1, prefix: 24}
---
apiVersion: virtsync.io/v1alpha1
kind: Domain
metadata: {name: app-1, host: kvm-a}
spec:
  memory: 1GiB
  vcpus: 1
  disks: [{volume: {pool: vmstore, name: app-1.qcow2}}]
";

fn indent(spec: &str) -> String {
    spec.trim().lines().map(|l| format!("  {l}\n")).collect()
}

/// A document of `kind` named `case` on kvm-a, with extra metadata lines
/// and the given spec (omitted when `spec` is None).
fn doc(kind: &str, metadata: &str, spec: Option<&str>) -> String {
    let mut out = format!(
        "apiVersion: virtsync.io/v1alpha1\nkind: {kind}\nmetadata:\n  name: case\n{}",
        indent(metadata)
    );
    if !metadata.contains("host:") && kind != "Host" {
        out.push_str("  host: kvm-a\n");
    }
    if let Some(spec) = spec {
        out.push_str("spec:\n");
        out.push_str(&indent(spec));
    }
    out
}

fn domain(spec: &str) -> String {
    doc(
        "Domain",
        "",
        Some(&format!("memory: 1GiB\nvcpus: 1\n{spec}")),
    )
}

fn network(spec: &str) -> String {
    doc("Network", "", Some(spec))
}

fn pool(spec: &str) -> String {
    doc("StoragePool", "", Some(spec))
}

fn volume(metadata: &str, spec: &str) -> String {
    doc("Volume", metadata, Some(spec))
}

/// What the schema and the loader (`virtsync validate`) say about CONTEXT
/// plus `case`: Ok or the reasons for refusing it.
fn verdicts(case: &str) -> (Result<(), String>, Result<(), String>) {
    let text = format!("{CONTEXT}---\n{case}");
    let schema_verdict = documents(&text)
        .map_err(|e| format!("not YAML: {e}"))
        .and_then(|docs| {
            let errs: Vec<String> = docs.iter().flat_map(errors).collect();
            if errs.is_empty() {
                Ok(())
            } else {
                let last = docs.last().expect("case document");
                let kind = last["kind"].as_str().unwrap_or("?");
                Err(branch_errors(kind, last).join("; "))
            }
        });
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("case.yaml"), &text).expect("write case");
    let loader_verdict = virtsync::manifest::load_dir(dir.path(), &Default::default())
        .map(|_| ())
        .map_err(|e| e.to_string());
    (schema_verdict, loader_verdict)
}

#[test]
fn context_is_valid() {
    let (schema, loader) = verdicts(&domain(""));
    assert_eq!(schema, Ok(()));
    assert_eq!(loader, Ok(()));
}

#[test]
fn schema_and_loader_agree() {
    let cases: Vec<(&str, String, bool)> = vec![
        // Names, labels, hosts.
        ("name with dots and caps", doc("Domain", "", Some("memory: 1GiB\nvcpus: 1")).replace("name: case", "name: Web-1.lab_x"), true),
        ("name starting with -", domain("").replace("name: case", "name: -web"), false),
        ("name of 64 characters", domain("").replace("name: case", &format!("name: {}", "a".repeat(64))), false),
        ("label key with =", doc("Domain", "labels: {\"a=b\": x}", Some("memory: 1GiB\nvcpus: 1")), false),
        ("label value with ,", doc("Domain", "labels: {a: \"x,y\"}", Some("memory: 1GiB\nvcpus: 1")), false),
        ("external domain", doc("Domain", "external: true", Some("memory: 1GiB\nvcpus: 1")), false),
        ("external: false on a domain", doc("Domain", "external: false", Some("memory: 1GiB\nvcpus: 1")), true),
        ("host with a host", doc("Host", "host: kvm-a", Some("uri: qemu:///system")), false),
        ("host uri without scheme", doc("Host", "", Some("uri: kvm-b.lab.example")), false),
        ("host uri over ssh", doc("Host", "", Some("uri: qemu+ssh://root@kvm-b/system?keyfile=/k")), true),
        // Durations as humantime reads them.
        ("duration 1m30s", domain("shutdownTimeout: 1m30s"), true),
        ("duration with spaces and long units", domain("shutdownTimeout: 1 minute 30 secs"), true),
        ("duration in months", domain("shutdownTimeout: 1M"), true),
        ("duration with a fraction", domain("shutdownTimeout: 1.5h"), true),
        ("duration without unit", domain("shutdownTimeout: \"90\""), false),
        ("duration with unknown unit", domain("shutdownTimeout: 5 fortnights"), false),
        // Domain fields.
        ("vcpus 0", domain("").replace("vcpus: 1", "vcpus: 0"), false),
        ("cpu custom without model", domain("cpu: {mode: custom}"), false),
        ("cpu custom with model", domain("cpu: {mode: custom, model: Skylake-Client}"), true),
        ("cpu model without custom", domain("cpu: {mode: host-model, model: Skylake-Client}"), false),
        ("secureBoot without uefi", domain("secureBoot: true"), false),
        ("secureBoot with uefi", domain("firmware: uefi\nsecureBoot: true"), true),
        ("transient with autostart", domain("persistent: false\nautostart: true"), false),
        ("transient with restartPolicy", domain("persistent: false\nrestartPolicy: never"), false),
        ("transient", domain("persistent: false\nautostart: false"), true),
        ("boot device twice", domain("boot: [hd, cdrom, hd]"), false),
        ("arch with a dash", domain("arch: x86-64"), false),
        ("machine with version", domain("machine: pc-q35-7.2"), true),
        ("uuid", domain("uuid: 0B6C7C9E-3c1f-4d8e-9a77-2f1e5f0f8c11"), true),
        ("uuid without dashes", domain("uuid: 0b6c7c9e3c1f4d8e9a772f1e5f0f8c11"), false),
        ("keep 0", domain("disks: [{volume: {pool: vmstore, name: case.qcow2}}]\nsnapshotPolicy: {keep: 0}"), false),
        ("keep 3", domain("disks: [{volume: {pool: vmstore, name: case.qcow2}}]\nsnapshotPolicy: {beforeDisruptiveChange: true, keep: 3}"), true),
        // Disks.
        ("empty cdrom", domain("disks: [{device: cdrom}]"), true),
        ("disk without source", domain("disks: [{bus: virtio}]"), false),
        ("disk with volume and path", domain("disks: [{volume: {pool: vmstore, name: case.qcow2}, path: /var/lib/libvirt/images/x.img}]"), false),
        ("disk path with format", domain("disks: [{path: /var/lib/libvirt/images/x.qcow2, format: qcow2}]"), true),
        ("disk volume with format", domain("disks: [{volume: {pool: vmstore, name: case.qcow2}, format: raw}]"), false),
        ("disk path relative", domain("disks: [{path: images/x.img}]"), false),
        ("disk path with ..", domain("disks: [{path: /var/lib/libvirt/images/../x.img}]"), false),
        ("target off the bus", domain("disks: [{volume: {pool: vmstore, name: case.qcow2}, bus: virtio, target: sda}]"), false),
        ("target on scsi", domain("disks: [{volume: {pool: vmstore, name: case.qcow2}, bus: scsi, target: sdb}]"), true),
        ("target nonsense", domain("disks: [{volume: {pool: vmstore, name: case.qcow2}, target: xvda}]"), false),
        // Interfaces and graphics.
        ("interface on network and bridge", domain("interfaces: [{network: lab, bridge: br0}]"), false),
        ("interface on nothing", domain("interfaces: [{model: virtio}]"), false),
        ("interface on a bridge", domain("interfaces: [{bridge: br0, mac: \"52:54:00:AA:bb:01\"}]"), true),
        ("bridge name of 16 characters", domain("interfaces: [{bridge: br0123456789abcd}]"), false),
        ("multicast MAC", domain("interfaces: [{network: lab, mac: \"53:54:00:12:34:56\"}]"), false),
        ("MAC with dashes", domain("interfaces: [{network: lab, mac: 52-54-00-12-34-56}]"), false),
        ("graphics none with listen", domain("graphics: {type: none, listen: 127.0.0.1}"), false),
        ("graphics vnc on ipv6", domain("graphics: {type: vnc, listen: \"::1\"}"), true),
        // The xml escape hatch.
        ("xml at the domain", domain("xml: [{at: /domain/features, merge: \"<pmu state='off'/>\"}]"), true),
        ("xml index 0", domain("xml: [{at: \"/domain/devices/video[0]\", merge: \"<model type='vga'/>\"}]"), false),
        ("xml index 2", domain("xml: [{at: \"/domain/devices/video[2]\", merge: \"<model type='vga'/>\"}]"), true),
        ("xml at another root", domain("xml: [{at: /network, merge: \"<mtu size='9000'/>\"}]"), false),
        ("xml relative", domain("xml: [{at: domain/os, merge: \"<bios rebootTimeout='-1'/>\"}]"), false),
        // Networks.
        ("external network", doc("Network", "external: true", None), true),
        ("external network with spec: ~", doc("Network", "external: true", None) + "spec: ~\n", true),
        ("external network with a spec", doc("Network", "external: true", Some("autostart: true")), false),
        ("network without spec", doc("Network", "", None), false),
        ("isolated with dev", network("forward: {mode: isolated, dev: eno1}"), false),
        ("route with dev", network("forward: {mode: route, dev: eno1}"), true),
        ("bridge mode without bridge name", network("forward: {mode: bridge}"), false),
        ("bridge mode on br0", network("forward: {mode: bridge}\nbridge: {name: br0}"), true),
        ("ipv4 prefix 33", network("ipv4: {address: 10.30.0.1, prefix: 33}"), false),
        ("ipv6 prefix 64", network("ipv6: {address: \"fd00:30::1\", prefix: 64}"), true),
        ("mtu 67", network("mtu: 67"), false),
        ("mtu 9000", network("mtu: 9000"), true),
        ("dhcp host with ip only", network("ipv4: {address: 10.30.0.1, prefix: 24, dhcp: {hosts: [{ip: 10.30.0.5}]}}"), false),
        ("dhcp host by name", network("ipv4: {address: 10.30.0.1, prefix: 24, dhcp: {hosts: [{name: app-1, ip: 10.30.0.5}]}}"), true),
        ("dns host without names", network("dns: {hosts: [{ip: 10.30.0.5, hostnames: []}]}"), false),
        ("dns domain with an empty label", network("domain: lab..example"), false),
        ("dns domain", network("domain: lab.example"), true),
        ("xml at the network", network("xml: [{at: /network, merge: \"<mtu size='9000'/>\"}]"), true),
        // Pools.
        ("external pool", doc("StoragePool", "external: true", None), true),
        ("external pool with a spec", doc("StoragePool", "external: true", Some("type: dir\npath: /srv/x")), false),
        ("pool path relative", pool("type: dir\npath: srv/x"), false),
        ("dir pool with a source", pool("type: dir\npath: /srv/x\nsource: {host: nfs1}"), false),
        ("fs pool without device", pool("type: fs\npath: /srv/x\nsource: {format: ext4}"), false),
        ("fs pool", pool("type: fs\npath: /srv/x\nsource: {device: /dev/sdb1, format: ext4}"), true),
        ("netfs pool", pool("type: netfs\npath: /srv/x\nsource: {host: nfs1, dir: /export, format: nfs}"), true),
        ("netfs pool without dir", pool("type: netfs\npath: /srv/x\nsource: {host: nfs1}"), false),
        ("logical pool", pool("type: logical\npath: /dev/vg0\nsource: {name: vg0, device: /dev/sdc}"), true),
        ("logical pool with a host", pool("type: logical\npath: /dev/vg0\nsource: {name: vg0, host: nfs1}"), false),
        // Volumes.
        ("volume", volume("", "pool: vmstore\ncapacity: 1GiB"), true),
        ("volume without capacity", volume("", "pool: vmstore"), false),
        ("volume with zero capacity", volume("", "pool: vmstore\ncapacity: 0GiB"), false),
        ("external volume", volume("external: true", "pool: vmstore"), true),
        ("external volume with capacity", volume("external: true", "pool: vmstore\ncapacity: 1GiB"), false),
        ("external volume with reclaimPolicy", volume("external: true", "pool: vmstore\nreclaimPolicy: delete"), false),
        ("external volume without spec", doc("Volume", "external: true", None), false),
        ("clone", volume("", "pool: vmstore\ncapacity: 20GiB\ncloneFrom: {pool: vmstore, name: golden.qcow2}"), true),
        ("overlay and clone", volume("", "pool: vmstore\ncapacity: 20GiB\ncloneFrom: {name: golden.qcow2}\nbackingStore: {name: golden.qcow2}"), false),
        ("raw overlay", volume("", "pool: vmstore\ncapacity: 20GiB\nformat: raw\nbackingStore: {name: golden.qcow2}"), false),
        // Snapshots.
        ("snapshot", doc("Snapshot", "", Some("domain: app-1\ndescription: before the upgrade")), true),
        ("external snapshot", doc("Snapshot", "external: true", Some("domain: app-1")), false),
    ];
    let mut failures = Vec::new();
    for (what, case, valid) in &cases {
        let (schema, loader) = verdicts(case);
        if schema.is_ok() != *valid {
            failures.push(format!(
                "{what}: the schema {} it: {schema:?}\n{case}",
                if *valid { "refuses" } else { "accepts" }
            ));
        }
        if loader.is_ok() != *valid {
            failures.push(format!(
                "{what}: the loader {} it: {loader:?}\n{case}",
                if *valid { "refuses" } else { "accepts" }
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} disagreements:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

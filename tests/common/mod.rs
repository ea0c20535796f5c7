//! Test support shared by every integration test (and the benchmark):
//! writing and loading manifests, the converge loop through the library's
//! reconcile pass, and a throw-away private libvirtd per test
//! (scripts/private-libvirtd), always stopped when the test ends, even on
//! panic. Tests that need root or a tool that is missing say so and skip.
#![allow(dead_code)]

pub mod corpus;

use virtsync::apply::Status;
use virtsync::backend::ConnectOptions;
use virtsync::inventory::Inventory;
use virtsync::model::DesiredState;
use virtsync::plan::{render_text, Plan, PruneOptions, Scope};
use virtsync::reconcile::{ApplyOptions, Planned, Reconciled, Reconciler, Target};
use virtsync::xml::{Element, Node};

use std::path::{Path, PathBuf};
use std::process::Command;

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A private libvirtd whose whole state lives in a temporary directory.
pub struct PrivateDaemon {
    pub dir: tempfile::TempDir,
    pub uri: String,
}

/// Why a test that needs root and a private libvirtd cannot run here, if
/// it cannot.
pub fn daemon_unavailable() -> Option<String> {
    let uid = Command::new("id").arg("-u").output().ok();
    let root = uid.is_some_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    if !root {
        return Some("not root (private libvirt daemons need root)".into());
    }
    for tool in ["libvirtd", "virsh"] {
        let found = std::env::var_os("PATH").is_some_and(|p| {
            std::env::split_paths(&p).any(|d| d.join(tool).exists())
                || Path::new("/usr/sbin").join(tool).exists()
        });
        if !found {
            return Some(format!(
                "{tool} is not installed (run scripts/setup.sh as root)"
            ));
        }
    }
    None
}

/// Skip the calling test (return early) with a message when no private
/// daemon can run here.
#[macro_export]
macro_rules! require_daemon {
    () => {
        if let Some(why) = common::daemon_unavailable() {
            eprintln!("skipped: {why}");
            return;
        }
    };
}

impl PrivateDaemon {
    /// Start a daemon in a fresh directory. Panics with the daemon's own
    /// message when it cannot start (call [`require_daemon!`] first to
    /// skip where it cannot run at all).
    pub fn start() -> PrivateDaemon {
        let dir = tempfile::Builder::new()
            .prefix("virtsync-test-libvirtd-")
            .tempdir()
            .expect("temp dir");
        let out = Command::new(repo_root().join("scripts/private-libvirtd"))
            .arg("start")
            .arg(dir.path())
            .output()
            .expect("run scripts/private-libvirtd");
        assert!(
            out.status.success(),
            "cannot start a private libvirtd (run scripts/setup.sh as root first): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let uri = String::from_utf8_lossy(&out.stdout).trim().to_string();
        PrivateDaemon { dir, uri }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `virtsync CMD DIR --connect URI --state-dir STATE ARGS...` against
    /// this daemon, at most two minutes.
    pub fn virtsync(
        &self,
        cmd: &str,
        dir: &Path,
        state: &Path,
        args: &[&str],
    ) -> std::process::Output {
        let (dir, state) = (dir.to_string_lossy(), state.to_string_lossy());
        let mut all = vec![cmd, &dir, "--connect", &self.uri, "--state-dir", &state];
        all.extend_from_slice(args);
        virtsync(&all, std::time::Duration::from_secs(120)).0
    }

    /// `apply --yes` of the manifests in `dir`, which must exit 0 and
    /// converge, then `plan --exit-code`, which must find nothing to do.
    /// Returns apply's output.
    pub fn apply_converged(&self, dir: &Path, state: &Path) -> String {
        let out = self.virtsync("apply", dir, state, &["--yes"]);
        let text = output_text(&out);
        assert_eq!(out.status.code(), Some(0), "apply failed:\n{text}");
        assert!(text.contains("converged:"), "{text}");
        let plan = self.virtsync("plan", dir, state, &["--exit-code"]);
        assert_eq!(
            plan.status.code(),
            Some(0),
            "plan after apply is not empty:\n{}\n(after applying:\n{text})",
            output_text(&plan)
        );
        text
    }

    /// A domain's XML: the persistent config (`inactive`) or the running
    /// guest's.
    pub fn domain_xml(&self, name: &str, inactive: bool) -> Element {
        let mut args = vec!["dumpxml", name];
        if inactive {
            args.push("--inactive");
        }
        Element::parse(&self.virsh(&args)).expect("libvirt's XML parses")
    }

    /// Stop the daemon's process (SIGSTOP) — a hung daemon — until the
    /// returned guard is dropped, however the test ends.
    pub fn freeze(&self) -> Frozen {
        let pid = std::fs::read_to_string(self.path().join("libvirtd.pid"))
            .expect("daemon pid")
            .trim()
            .to_string();
        let st = Command::new("kill").args(["-STOP", &pid]).status().unwrap();
        assert!(st.success(), "cannot stop libvirtd {pid}");
        Frozen(pid)
    }

    /// Run virsh against this daemon; returns stdout.
    pub fn virsh(&self, args: &[&str]) -> String {
        let out = Command::new("virsh")
            .arg("-q")
            .arg("-c")
            .arg(&self.uri)
            .args(args)
            .output()
            .expect("run virsh");
        assert!(
            out.status.success(),
            "virsh {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Make the daemon log every RPC it dispatches to `rpc.log` in its dir.
    pub fn log_rpcs(&self) -> PathBuf {
        let admin = format!(
            "libvirtd:///system?socket={}/sock/libvirt-admin-sock",
            self.path().display()
        );
        let log = self.path().join("log/rpc.log");
        for args in [
            vec!["daemon-log-filters", "1:rpc.netserverprogram"],
            vec!["daemon-log-outputs", &format!("1:file:{}", log.display())],
        ] {
            let st = Command::new("virt-admin")
                .arg("-c")
                .arg(&admin)
                .args(&args)
                .status()
                .expect("run virt-admin");
            assert!(st.success(), "virt-admin {args:?} failed");
        }
        log
    }
}

impl PrivateDaemon {
    /// Stop the daemon and start it again in the same directory (the same
    /// URI): libvirtd going away and coming back.
    pub fn restart(&self, down_for: std::time::Duration) {
        self.stop();
        std::thread::sleep(down_for);
        let out = Command::new(repo_root().join("scripts/private-libvirtd"))
            .arg("start")
            .arg(self.dir.path())
            .output()
            .expect("start the daemon");
        assert!(
            out.status.success(),
            "cannot start the private daemon again: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl PrivateDaemon {
    /// Stop the daemon (a host that is down); its directory stays.
    pub fn stop(&self) {
        let st = Command::new(repo_root().join("scripts/private-libvirtd"))
            .arg("stop")
            .arg(self.dir.path())
            .status()
            .expect("stop the daemon");
        assert!(st.success(), "cannot stop the private daemon");
    }
}

/// Poll `f` every 50 ms until it holds or `limit` passes; the time it took.
pub fn wait_for(
    limit: std::time::Duration,
    what: &str,
    f: impl Fn() -> bool,
) -> std::time::Duration {
    let start = std::time::Instant::now();
    while !f() {
        assert!(start.elapsed() < limit, "{what}: not within {limit:?}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    start.elapsed()
}

/// A `virtsync run DIR --connect URI --state-dir STATE --resync 1h ARGS...`
/// process (what happens is the triggers' doing, not a resync), its log in
/// `STATE/run.log`; killed when dropped.
pub struct RunProcess {
    pub child: std::process::Child,
    pub log: PathBuf,
}

impl RunProcess {
    pub fn start(uri: &str, dir: &Path, state: &Path, args: &[&str]) -> RunProcess {
        let log = state.join("run.log");
        let child = Command::new(virtsync_bin())
            .args(["run", &dir.to_string_lossy(), "--connect", uri])
            .args(["--state-dir", &state.to_string_lossy(), "--resync", "1h"])
            .args(args)
            .env_remove("LIBVIRT_DEFAULT_URI")
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(&log).expect("run log"))
            .spawn()
            .expect("start virtsync run");
        RunProcess { child, log }
    }

    /// What it logged so far.
    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for RunProcess {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // The test failed: what the controller did is the first clue.
            eprintln!("--- {}:\n{}", self.log.display(), self.logs());
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A stopped daemon, resumed (SIGCONT) on drop.
pub struct Frozen(String);

impl Drop for Frozen {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-CONT", &self.0]).status();
    }
}

impl Drop for PrivateDaemon {
    fn drop(&mut self) {
        let _ = Command::new(repo_root().join("scripts/private-libvirtd"))
            .arg("stop")
            .arg(self.dir.path())
            .status();
    }
}

/// Read-only RPC procedures of libvirt's remote protocol
/// (src/remote/remote_protocol.x) that observing may use.
pub const READ_PROCS: &[(u32, &str)] = &[
    (1, "connect_open"),
    (2, "connect_close"),
    (3, "connect_get_type"),
    (4, "connect_get_version"),
    (7, "connect_get_capabilities"),
    (14, "domain_get_xml_desc"),
    (15, "domain_get_autostart"),
    (16, "domain_get_info"),
    (23, "domain_lookup_by_name"),
    (43, "network_get_xml_desc"),
    (44, "network_get_autostart"),
    (46, "network_lookup_by_name"),
    (59, "connect_get_hostname"),
    (60, "connect_supports_feature"),
    (66, "auth_list"),
    (84, "storage_pool_lookup_by_name"),
    (87, "storage_pool_get_info"),
    (88, "storage_pool_get_xml_desc"),
    (89, "storage_pool_get_autostart"),
    (95, "storage_vol_lookup_by_name"),
    (98, "storage_vol_get_info"),
    (99, "storage_vol_get_xml_desc"),
    (110, "connect_get_uri"),
    (149, "connect_is_secure"),
    (150, "domain_is_active"),
    (151, "domain_is_persistent"),
    (152, "network_is_active"),
    (153, "network_is_persistent"),
    (154, "storage_pool_is_active"),
    (155, "storage_pool_is_persistent"),
    (157, "connect_get_lib_version"),
    (186, "domain_snapshot_get_xml_desc"),
    (212, "domain_get_state"),
    (265, "domain_get_metadata"),
    (273, "connect_list_all_domains"),
    (274, "domain_list_all_snapshots"),
    (281, "connect_list_all_storage_pools"),
    (282, "storage_pool_list_all_volumes"),
    (283, "connect_list_all_networks"),
    (344, "connect_get_all_domain_stats"),
];

/// RPCs dispatched since the log was last truncated, by procedure number.
pub fn rpc_counts(log: &Path) -> std::collections::BTreeMap<u32, usize> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let mut out = std::collections::BTreeMap::new();
    for line in text.lines() {
        if let Some(p) = line.split("proc=").nth(1) {
            if let Ok(n) = p.trim().parse::<u32>() {
                *out.entry(n).or_default() += 1;
            }
        }
    }
    out
}

/// Write `files` (relative path, content) under a new temp dir.
pub fn manifest_dir(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for (rel, content) in files {
        let p = dir.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }
    dir
}

/// Load a manifest directory that must be valid.
pub fn load(dir: &Path) -> DesiredState {
    match virtsync::manifest::load_dir(dir, &virtsync::manifest::LoadOptions::default()) {
        Ok((d, _)) => d,
        Err(e) => panic!("manifests do not load: {e}"),
    }
}

/// The actions of `done` that failed or were skipped, as `id: status`.
pub fn not_done(done: &Reconciled) -> Vec<String> {
    done.outcomes
        .iter()
        .filter(|o| o.status != Status::Done)
        .map(|o| format!("{}: {:?}", o.id, o.status))
        .collect()
}

/// The owner identity of the library-driven tests (`Lab`, plan fixtures);
/// a `virtsync` command run on the same host must be given `--owner` with
/// it, or it would see another manifest set's objects.
pub const TEST_OWNER: &str = "virtsync-tests";

/// One reconciler and its ownership inventory: the loop a test drives
/// through the library's reconcile pass, exactly as `apply` runs it.
pub struct Lab {
    pub reconciler: Reconciler,
    pub inventory: Inventory,
    /// Plan and apply as `--adopt` does.
    pub adopt: bool,
    /// The manifest set's owner identity ([`TEST_OWNER`] unless changed).
    pub owner: String,
    /// `--prune` and its guards, for the passes that prune.
    pub prune: Option<PruneOptions>,
}

impl Lab {
    /// Connect to the hosts `desired` knows; objects without a host go to
    /// `uri`.
    pub fn connect(desired: &DesiredState, uri: &str) -> Lab {
        Lab {
            reconciler: Reconciler::connect(desired, uri, ConnectOptions::default()),
            inventory: Inventory::default(),
            adopt: false,
            owner: TEST_OWNER.into(),
            prune: None,
        }
    }

    /// A lab over connections made elsewhere (a fault-injecting backend).
    pub fn with_hosts(
        hosts: std::collections::BTreeMap<
            virtsync::model::HostName,
            (String, virtsync::reconcile::HostConn),
        >,
    ) -> Lab {
        Lab {
            reconciler: Reconciler::with_hosts(hosts),
            inventory: Inventory::default(),
            adopt: false,
            owner: TEST_OWNER.into(),
            prune: None,
        }
    }

    /// The scope of a pass over `desired` (all of it declared).
    pub fn scope(&self, desired: &DesiredState) -> Scope {
        Scope::new(self.owner.clone(), desired).with_prune(self.prune)
    }

    pub fn plan(&self, desired: &DesiredState) -> Planned {
        self.reconciler.plan(&Target {
            desired,
            inventory: &self.inventory,
            revision: "",
            adopt: self.adopt,
            scope: &self.scope(desired),
        })
    }

    /// Apply a plan (4 actions in parallel per host) and observe again.
    pub fn apply(&mut self, desired: &DesiredState, planned: &Planned) -> Reconciled {
        let inv = self.inventory.clone();
        let scope = self.scope(desired);
        let t = Target {
            desired,
            inventory: &inv,
            revision: "",
            adopt: self.adopt,
            scope: &scope,
        };
        let opts = ApplyOptions {
            parallel: 4,
            ..ApplyOptions::default()
        };
        self.reconciler
            .apply(&t, &mut self.inventory, planned, &opts, &|_, _| {})
            .expect("apply")
    }

    /// Plan, apply; every action must succeed and the hosts converge.
    /// Returns the plan that was applied.
    pub fn converge(&mut self, desired: &DesiredState) -> Plan {
        let planned = self.plan(desired);
        let done = self.apply(desired, &planned);
        let failed = not_done(&done);
        assert!(
            failed.is_empty(),
            "apply failed:\n{}\nplan:\n{}",
            failed.join("\n"),
            render_text(&planned.plan)
        );
        let residual = done.residual.as_ref().expect("re-observed");
        assert!(
            done.converged,
            "not converged after apply:\n{}\n(after applying:\n{})",
            render_text(residual),
            render_text(&planned.plan)
        );
        planned.plan
    }
}

/// A Domain manifest for a tiny guest that sits halted without using the
/// CPU (boots from `hd` only and never retries); `spec` is the indented
/// rest of its spec (`"  memory: 64MiB\n  vcpus: 1\n"`).
pub fn halted_domain(name: &str, spec: &str) -> String {
    format!(
        "apiVersion: virtsync.io/v1alpha1\nkind: Domain\nmetadata:\n  name: {name}\nspec:\n\
         {spec}  boot: [hd]\n  xml:\n    - at: /domain/os\n      merge: \"<bios rebootTimeout='-1'/>\"\n"
    )
}

/// Write the named objects of a test-driver host, as this process sees
/// them through `read` (after converging through the library, say), to a
/// test-driver node file `path`, and return its URI `test:///PATH`. Every
/// `virtsync` process starts from a fresh `test:///default`; one started
/// on this URI starts from these objects instead (running or shut off as
/// they are here, networks and pools active, pools with their volumes).
pub fn test_driver_node_file(
    read: &dyn virtsync::backend::HostRead,
    path: &Path,
    domains: &[&str],
    networks: &[&str],
    pools: &[&str],
) -> String {
    use virtsync::model::PowerState;
    const NS: &str = "xmlns:test='http://libvirt.org/schemas/domain/test/1.0'";
    let listed = read.list_domains(false).expect("list domains");
    let mut node = String::from("<node>\n");
    for name in domains {
        let xml = read.domain_xml(name, false).expect("domain XML");
        let entry = listed
            .iter()
            .find(|d| d.name == *name)
            .expect("domain listed");
        // The test driver starts the domains of a node file unless its
        // own <test:runstate> (a virDomainState number) says otherwise.
        let runstate = match entry.state {
            PowerState::Running => None,
            PowerState::Paused => Some(3),
            PowerState::Shutoff => Some(5),
        };
        let xml = match runstate {
            None => xml,
            Some(n) => xml
                .replacen("<domain ", &format!("<domain {NS} "), 1)
                .replace(
                    "</domain>",
                    &format!("<test:runstate>{n}</test:runstate></domain>"),
                ),
        };
        node.push_str(&xml);
    }
    for name in networks {
        node.push_str(&read.network_xml(name, false).expect("network XML"));
    }
    for name in pools {
        let volumes: String = read
            .list_volumes(name)
            .expect("list volumes")
            .iter()
            .map(|v| read.volume_xml(name, v).expect("volume XML"))
            .collect();
        let xml = read.pool_xml(name).expect("pool XML");
        node.push_str(&xml.replace("</pool>", &format!("{volumes}</pool>")));
    }
    node.push_str("</node>\n");
    std::fs::write(path, node).expect("write node file");
    format!("test://{}", path.display())
}

/// A Host manifest `name` reached at `uri`.
pub fn host_manifest(name: &str, uri: &str) -> String {
    format!("apiVersion: virtsync.io/v1alpha1\nkind: Host\nmetadata: {{name: {name}}}\nspec: {{uri: \"{uri}\"}}\n")
}

/// The finding of check `check` in a `doctor --output json` report.
pub fn doctor_finding<'a>(report: &'a serde_json::Value, check: &str) -> &'a serde_json::Value {
    report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["check"] == check)
        .unwrap_or_else(|| panic!("no finding {check}: {report:#}"))
}

/// The `virtsync` binary: integration tests know it; the benchmark (an
/// example, which shares this module) does not use the helpers that run it.
pub fn virtsync_bin() -> &'static str {
    match option_env!("CARGO_BIN_EXE_virtsync") {
        Some(b) => b,
        None => panic!("the virtsync binary is known to integration tests only"),
    }
}

/// Run the `virtsync` binary (at most `limit`), without inheriting
/// `LIBVIRT_DEFAULT_URI`. Returns the output and how long it took.
pub fn virtsync(
    args: &[&str],
    limit: std::time::Duration,
) -> (std::process::Output, std::time::Duration) {
    let start = std::time::Instant::now();
    let out = assert_cmd::Command::new(virtsync_bin())
        .env_remove("LIBVIRT_DEFAULT_URI")
        .timeout(limit)
        .args(args)
        .output()
        .expect("run virtsync");
    (out, start.elapsed())
}

/// stdout and stderr of a finished command, for assertion messages.
pub fn output_text(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Indented XML (attributes in document order, text trimmed, whitespace
/// between elements dropped) for readable snapshots and messages.
pub fn pretty_xml(xml: &str) -> String {
    fn esc(s: &str) -> String {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('"', "&quot;")
    }
    fn write(e: &Element, depth: usize, out: &mut String) {
        out.push_str(&"  ".repeat(depth));
        out.push('<');
        out.push_str(&e.name);
        for (k, v) in &e.attrs {
            out.push_str(&format!(" {k}=\"{}\"", esc(v)));
        }
        let kids: Vec<&Element> = e.elements().collect();
        let text = e.text();
        if kids.is_empty() {
            if text.trim().is_empty() {
                out.push_str("/>\n");
            } else {
                out.push_str(&format!(">{}</{}>\n", esc(text.trim()), e.name));
            }
            return;
        }
        out.push_str(">\n");
        for c in &e.children {
            if let Node::Element(c) = c {
                write(c, depth + 1, out);
            }
        }
        out.push_str(&"  ".repeat(depth));
        out.push_str(&format!("</{}>\n", e.name));
    }
    let mut out = String::new();
    write(&Element::parse(xml).expect("XML parses"), 0, &mut out);
    out
}

/// Validate `xml` against libvirt's RelaxNG schema `schema` (`domain`,
/// `network`, ...) with `virt-xml-validate`; `what` names the document in
/// the failure. Skipped, with a message, where the tool is not installed
/// (scripts/setup.sh installs it).
pub fn check_schema(what: &str, schema: &str, xml: &str) {
    let installed = Command::new("virt-xml-validate")
        .arg("--help")
        .output()
        .is_ok();
    if !installed {
        eprintln!("skipped XML schema validation: virt-xml-validate is not installed (packages libvirt-clients and libxml2-utils)");
        return;
    }
    let mut f = tempfile::Builder::new()
        .suffix(".xml")
        .tempfile()
        .expect("temp file");
    std::io::Write::write_all(&mut f, xml.as_bytes()).expect("write XML");
    let out = Command::new("virt-xml-validate")
        .arg(f.path())
        .arg(schema)
        .output()
        .expect("run virt-xml-validate (packages libvirt-clients and libxml2-utils)");
    assert!(
        out.status.success(),
        "{what}: the {schema} XML does not validate against libvirt's schema:\n{}{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        pretty_xml(xml)
    );
}

/// The inventory's identity of the host reached at `uri` (a host without
/// a UUID, like the test driver, is identified by its URI).
pub fn host_id(inv: &Inventory, uri: &str) -> virtsync::model::HostId {
    inv.hosts
        .iter()
        .find(|(id, h)| h.uris.contains(uri) || id.as_str().contains(uri))
        .map(|(id, _)| id.clone())
        .expect("a record of the host")
}

/// What [`ImageServer`] answers for one path.
#[derive(Clone)]
pub enum Serve {
    /// 200 with these bytes.
    Bytes(std::sync::Arc<Vec<u8>>),
    /// 200 announcing all of these bytes, then the connection is cut
    /// after the first `usize` of them.
    CutAfter(std::sync::Arc<Vec<u8>>, usize),
}

/// A tiny HTTP/1.0 server on 127.0.0.1 for image downloads: one thread,
/// one connection at a time, GET only, 404 for any path not served;
/// counts the requests per path. It stops when dropped (the thread is
/// left blocked in accept, which ends with the test process).
pub struct ImageServer {
    pub base: String,
    hits: std::sync::Arc<std::sync::Mutex<std::collections::BTreeMap<String, usize>>>,
}

impl ImageServer {
    pub fn start(paths: Vec<(&str, Serve)>) -> ImageServer {
        use std::io::{BufRead, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind test server");
        let base = format!("http://{}", listener.local_addr().unwrap());
        let paths: std::collections::BTreeMap<String, Serve> =
            paths.into_iter().map(|(p, s)| (p.to_string(), s)).collect();
        let hits = std::sync::Arc::new(std::sync::Mutex::new(std::collections::BTreeMap::new()));
        let counted = hits.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { continue };
                let mut reader = std::io::BufReader::new(conn.try_clone().expect("clone"));
                let mut request = String::new();
                if reader.read_line(&mut request).is_err() {
                    continue;
                }
                // The headers, up to the blank line.
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                    line.clear();
                }
                let path = request.split_whitespace().nth(1).unwrap_or("").to_string();
                *counted.lock().unwrap().entry(path.clone()).or_insert(0) += 1;
                let (body, cut) = match paths.get(&path) {
                    Some(Serve::Bytes(b)) => (b.clone(), b.len()),
                    Some(Serve::CutAfter(b, n)) => (b.clone(), *n),
                    None => {
                        let _ = conn.write_all(
                            b"HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                        );
                        continue;
                    }
                };
                let head = format!(
                    "HTTP/1.0 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = conn.write_all(head.as_bytes());
                let _ = conn.write_all(&body[..cut]);
                let _ = conn.shutdown(std::net::Shutdown::Both);
            }
        });
        ImageServer { base, hits }
    }

    /// The URL of `path` on this server.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Requests for `path` so far.
    pub fn hits(&self, path: &str) -> usize {
        self.hits.lock().unwrap().get(path).copied().unwrap_or(0)
    }
}

/// A qcow2 image of `size` made by `qemu-img` in `dir`, and its bytes;
/// `None` (the caller skips) where qemu-img is not installed.
pub fn qcow2_image(dir: &Path, size: &str) -> Option<Vec<u8>> {
    let path = dir.join("image.qcow2");
    let out = Command::new("qemu-img")
        .args(["create", "-q", "-f", "qcow2"])
        .arg(&path)
        .arg(size)
        .output()
        .ok()?;
    assert!(out.status.success(), "qemu-img: {}", output_text(&out));
    Some(std::fs::read(&path).expect("read the image"))
}

/// SHA-256 of `bytes` in lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

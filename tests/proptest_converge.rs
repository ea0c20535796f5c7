//! Property: whatever small manifest set is applied to the test driver,
//! the re-plan is empty; and after changing some fields and applying again,
//! it is empty again.
//!
//! Generated: 1–4 domains (memory in MiB or GiB, optional maxMemory, vcpus
//! with optional maxVcpus, optional autostart, state running / shutoff /
//! paused), optionally a network with DHCP hosts and NICs on it (MACs in
//! mixed case, or none: libvirt generates one), optionally a dir pool with
//! volumes and disks on them. The second round changes scalars (memory,
//! vCPUs, autostart, state, console, graphics, DHCP hosts, MAC case) and
//! keeps the shape. (The test driver cannot resize volumes, so capacities
//! stay.)
//!
//! The test driver keeps its state for the whole process (while any
//! connection is open): every case uses names of its own (`pc<N>-...`).

use std::sync::atomic::{AtomicU32, Ordering};

use proptest::prelude::*;
use virtsync::manifest::{load_dir, LoadOptions};
use virtsync::model::DesiredState;
use virtsync::plan::render_text;

mod common;

use common::Lab;

const URI: &str = "test:///default";
const API: &str = "apiVersion: virtsync.io/v1alpha1";

#[derive(Debug, Clone, Copy)]
enum Size {
    MiB(u32),
    GiB(u32),
}

impl Size {
    fn mib(self) -> u32 {
        match self {
            Size::MiB(n) => n,
            Size::GiB(n) => n * 1024,
        }
    }
    fn text(self) -> String {
        match self {
            Size::MiB(n) => format!("{n}MiB"),
            Size::GiB(n) => format!("{n}GiB"),
        }
    }
}

/// What may change between the rounds.
#[derive(Debug, Clone)]
struct DomScalars {
    memory: Size,
    /// maxMemory = memory + this many MiB, when set.
    max_memory_extra: Option<u32>,
    vcpus: u32,
    /// maxVcpus = vcpus + this, when set.
    max_vcpus_extra: Option<u32>,
    autostart: Option<bool>,
    state: &'static str,
    /// Write the MACs upper-case.
    mac_upper: bool,
    console: Option<&'static str>,
    graphics: Option<&'static str>,
}

#[derive(Debug, Clone)]
struct DomShape {
    /// NICs on the case's network: with a MAC (true) or without.
    nics: Vec<bool>,
    /// A disk on the case's volume `disk % volumes`.
    disk: Option<usize>,
    boot_hd: bool,
}

#[derive(Debug, Clone)]
struct NetCase {
    /// DHCP hosts: (with MAC, with name); at least one of them.
    hosts: Vec<(bool, bool)>,
    /// Which hosts each round lists (`None`: the list is unmanaged).
    round: [Option<Vec<bool>>; 2],
    autostart: [Option<bool>; 2],
}

#[derive(Debug, Clone)]
struct VolCase {
    qcow2: bool,
    mib: u32,
}

#[derive(Debug, Clone)]
struct Case {
    doms: Vec<(DomShape, [DomScalars; 2])>,
    net: Option<NetCase>,
    vols: Option<Vec<VolCase>>,
}

fn size() -> impl Strategy<Value = Size> {
    prop_oneof![
        (32u32..=1024).prop_map(|n| Size::MiB(n / 32 * 32)),
        (1u32..=2).prop_map(Size::GiB),
    ]
}

fn scalars() -> impl Strategy<Value = DomScalars> {
    (
        size(),
        proptest::option::of(prop_oneof![Just(0u32), 64u32..=512]),
        1u32..=4,
        proptest::option::of(0u32..=4),
        proptest::option::of(any::<bool>()),
        prop_oneof![Just("running"), Just("shutoff"), Just("paused")],
        any::<bool>(),
        proptest::option::of(prop_oneof![Just("pty"), Just("none")]),
        proptest::option::of(prop_oneof![Just("vnc"), Just("none")]),
    )
        .prop_map(
            |(
                memory,
                max_memory_extra,
                vcpus,
                max_vcpus_extra,
                autostart,
                state,
                mac_upper,
                console,
                graphics,
            )| DomScalars {
                memory,
                max_memory_extra,
                vcpus,
                max_vcpus_extra,
                autostart,
                state,
                mac_upper,
                console,
                graphics,
            },
        )
}

fn shape() -> impl Strategy<Value = DomShape> {
    (
        proptest::collection::vec(any::<bool>(), 0..=2),
        proptest::option::of(0usize..4),
        any::<bool>(),
    )
        .prop_map(|(nics, disk, boot_hd)| DomShape {
            nics,
            disk,
            boot_hd,
        })
}

fn net() -> impl Strategy<Value = NetCase> {
    proptest::collection::vec(
        prop_oneof![Just((true, true)), Just((true, false)), Just((false, true))],
        0..=3,
    )
    .prop_flat_map(|hosts| {
        let n = hosts.len();
        let mask = move || proptest::option::of(proptest::collection::vec(any::<bool>(), n));
        (
            Just(hosts),
            mask(),
            mask(),
            proptest::option::of(any::<bool>()),
            proptest::option::of(any::<bool>()),
        )
    })
    .prop_map(|(hosts, r1, r2, a1, a2)| NetCase {
        hosts,
        round: [r1, r2],
        autostart: [a1, a2],
    })
}

fn vol() -> impl Strategy<Value = VolCase> {
    (any::<bool>(), 1u32..=64).prop_map(|(qcow2, mib)| VolCase {
        qcow2,
        mib: mib * 16,
    })
}

fn case() -> impl Strategy<Value = Case> {
    (
        proptest::collection::vec((shape(), scalars(), scalars()), 1..=4),
        proptest::option::of(net()),
        proptest::option::of(proptest::collection::vec(vol(), 1..=3)),
    )
        .prop_map(|(doms, net, vols)| Case {
            doms: doms.into_iter().map(|(s, a, b)| (s, [a, b])).collect(),
            net,
            vols,
        })
}

/// The manifests of `c` in `round` (0 or 1) for case number `n`.
fn manifests(c: &Case, n: u32, round: usize) -> String {
    let p = format!("pc{n}");
    let (o2, o3) = (n / 256 % 256, n % 256);
    let mut docs = Vec::new();
    if let Some(vols) = &c.vols {
        docs.push(format!(
            "{API}\nkind: StoragePool\nmetadata: {{name: {p}-pool}}\n\
             spec: {{type: dir, path: /var/lib/libvirt/images/{p}-pool}}\n"
        ));
        for (i, v) in vols.iter().enumerate() {
            let mib = v.mib;
            docs.push(format!(
                "{API}\nkind: Volume\nmetadata: {{name: {p}-v{i}}}\n\
                 spec: {{pool: {p}-pool, capacity: {mib}MiB, format: {}}}\n",
                if v.qcow2 { "qcow2" } else { "raw" }
            ));
        }
    }
    let mac = |d: usize, k: usize, upper: bool| {
        let m = format!("52:54:{o2:02x}:{o3:02x}:{d:02x}:{k:02x}");
        if upper {
            m.to_ascii_uppercase()
        } else {
            m
        }
    };
    if let Some(net) = &c.net {
        let mut s = format!(
            "{API}\nkind: Network\nmetadata: {{name: {p}-net}}\nspec:\n  forward: {{mode: nat}}\n"
        );
        if let Some(a) = net.autostart[round] {
            s.push_str(&format!("  autostart: {a}\n"));
        }
        s.push_str(&format!(
            "  ipv4:\n    address: 10.{o2}.{o3}.1\n    prefix: 24\n    dhcp:\n      \
             ranges: [{{start: 10.{o2}.{o3}.100, end: 10.{o2}.{o3}.200}}]\n"
        ));
        if let Some(mask) = &net.round[round] {
            let hosts: Vec<String> = net
                .hosts
                .iter()
                .enumerate()
                .filter(|(i, _)| mask[*i])
                .map(|(i, (has_mac, has_name))| {
                    let mut h = Vec::new();
                    if *has_mac {
                        h.push(format!("mac: \"{}\"", mac(0xee, i, round == 1)));
                    }
                    if *has_name {
                        h.push(format!("name: {p}-h{i}"));
                    }
                    h.push(format!("ip: 10.{o2}.{o3}.{}", 10 + i));
                    format!("{{{}}}", h.join(", "))
                })
                .collect();
            s.push_str(&format!("      hosts: [{}]\n", hosts.join(", ")));
        }
        docs.push(s);
    }
    // A volume is one domain's disk: two guests writing one image is
    // refused at validation.
    let mut used_vols = std::collections::BTreeSet::new();
    for (d, (shape, sc)) in c.doms.iter().enumerate() {
        let sc = &sc[round];
        let mut s = format!(
            "{API}\nkind: Domain\nmetadata: {{name: {p}-d{d}}}\nspec:\n  state: {}\n  memory: {}\n  vcpus: {}\n",
            sc.state,
            sc.memory.text(),
            sc.vcpus
        );
        if let Some(a) = sc.autostart {
            s.push_str(&format!("  autostart: {a}\n"));
        }
        if let Some(x) = sc.max_memory_extra {
            s.push_str(&format!("  maxMemory: {}MiB\n", sc.memory.mib() + x));
        }
        if let Some(x) = sc.max_vcpus_extra {
            s.push_str(&format!("  maxVcpus: {}\n", sc.vcpus + x));
        }
        if let Some(c) = sc.console {
            s.push_str(&format!("  console: {c}\n"));
        }
        if let Some(g) = sc.graphics {
            s.push_str(&format!("  graphics: {{type: {g}}}\n"));
        }
        if shape.boot_hd {
            s.push_str("  boot: [hd]\n");
        }
        if let (Some(k), Some(vols)) = (shape.disk, &c.vols) {
            if used_vols.insert(k % vols.len()) {
                s.push_str(&format!(
                    "  disks:\n    - volume: {{pool: {p}-pool, name: {p}-v{}}}\n",
                    k % vols.len()
                ));
            }
        }
        if c.net.is_some() && !shape.nics.is_empty() {
            s.push_str("  interfaces:\n");
            for (k, with_mac) in shape.nics.iter().enumerate() {
                if *with_mac {
                    s.push_str(&format!(
                        "    - {{network: {p}-net, mac: \"{}\"}}\n",
                        mac(d, k, sc.mac_upper)
                    ));
                } else {
                    s.push_str(&format!("    - {{network: {p}-net}}\n"));
                }
            }
        }
        docs.push(s);
    }
    docs.join("---\n")
}

fn load(text: &str) -> (tempfile::TempDir, DesiredState) {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("m.yaml"), text).expect("write");
    match load_dir(dir.path(), &LoadOptions::default()) {
        Ok((d, _)) => (dir, d),
        Err(e) => panic!("generated manifests do not load: {e}\n{text}"),
    }
}

/// Plan and apply `desired` through the library's pass; then the re-plan
/// must be empty (and nothing blocked).
fn converge(lab: &mut Lab, desired: &DesiredState, text: &str) -> Result<(), TestCaseError> {
    let planned = lab.plan(desired);
    prop_assert!(
        planned.plan.is_complete(),
        "blocked objects:\n{}\n{text}",
        render_text(&planned.plan)
    );
    let done = lab.apply(desired, &planned);
    let failed = common::not_done(&done);
    prop_assert!(
        failed.is_empty(),
        "apply failed:\n{}\n{}\n{text}",
        failed.join("\n"),
        render_text(&planned.plan)
    );
    let again = done
        .residual
        .as_ref()
        .ok_or_else(|| TestCaseError::fail("not re-observed"))?;
    prop_assert!(
        done.converged,
        "re-plan after apply is not empty:\n{}\nafter applying:\n{}\nmanifests:\n{text}",
        render_text(again),
        render_text(&planned.plan)
    );
    Ok(())
}

static CASE: AtomicU32 = AtomicU32::new(0);

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 32,
        max_shrink_iters: 64,
        ..ProptestConfig::default()
    })]

    #[test]
    fn apply_then_replan_is_empty(c in case()) {
        let n = CASE.fetch_add(1, Ordering::Relaxed);
        let first = manifests(&c, n, 0);
        let (_d1, desired) = load(&first);
        let mut lab = Lab::connect(&desired, URI);
        converge(&mut lab, &desired, &first)?;

        let second = manifests(&c, n, 1);
        let (_d2, desired) = load(&second);
        converge(&mut lab, &desired, &second)?;
    }
}

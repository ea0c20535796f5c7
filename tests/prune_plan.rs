//! Pruning and owner identity, planned from data alone: a hand-built host
//! holding objects of this manifest set whose manifests are gone, objects
//! of another owner, an unmanaged domain and a marker from before owners
//! existed. Checks the order and dependencies of the deletions, the
//! guards (`--max-deletions`, empty desired state), what blocks a prune
//! (in use), the notices without `--prune`, the selector, and that objects
//! of another owner are never touched.

use std::collections::BTreeMap;
use std::time::Duration;

use virtsync::inventory::{Inventory, Record};
use virtsync::manifest::{load_dir, LoadOptions};
use virtsync::model::*;
use virtsync::plan::{
    self, render_text, BlockCause, Effect, Operation, Plan, PlanInput, PruneOptions, RefusalCause,
    Scope, Step,
};
use virtsync::render::{write_marker, Marker};
use virtsync::xml::Element;

mod common;
use common::TEST_OWNER;

const URI: &str = "qemu:///system";
const API: &str = "apiVersion: virtsync.io/v1alpha1";
const IMG: &str = "/var/lib/libvirt/images";

fn desired(files: &[(&str, &str)]) -> DesiredState {
    let dir = common::manifest_dir(files);
    match load_dir(dir.path(), &LoadOptions::default()) {
        Ok((d, _)) => d,
        Err(e) => panic!("test manifests do not load: {e}"),
    }
}

/// What stays declared in most tests: the external network `keep-net`.
fn keep_net() -> DesiredState {
    desired(&[(
        "net.yaml",
        &format!("{API}\nkind: Network\nmetadata: {{name: keep-net, external: true}}\n"),
    )])
}

fn uuid(n: u8) -> String {
    format!("00000000-0000-4000-8000-0000000000{n:02x}")
}

fn marker(owner: Option<&str>, labels: &[(&str, &str)]) -> Marker {
    Marker {
        owner: owner.map(str::to_string),
        manifest: "gone.yaml".into(),
        revision: String::new(),
        spec: "sha256:0".into(),
        restart_pending_id: None,
        memory_kib: None,
        labels: labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

fn labels(l: &[(&str, &str)]) -> BTreeMap<String, String> {
    l.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A host as a pass observes it, and the inventory of this manifest set.
struct Host {
    h: ObservedHost,
    inv: Inventory,
    next: u8,
}

impl Host {
    fn new() -> Host {
        Host {
            h: ObservedHost {
                uri: URI.into(),
                ..ObservedHost::default()
            },
            inv: Inventory::default(),
            next: 1,
        }
    }

    fn uuid(&mut self) -> String {
        self.next += 1;
        uuid(self.next)
    }

    /// A domain with `devices`, its marker (if any) in its XML.
    fn domain(
        &mut self,
        name: &str,
        state: PowerState,
        m: Option<Marker>,
        devices: &str,
    ) -> String {
        let id = self.uuid();
        let mut root = Element::parse(&format!(
            "<domain type='kvm'><name>{name}</name><uuid>{id}</uuid><memory unit='KiB'>65536</memory><currentMemory unit='KiB'>65536</currentMemory><vcpu placement='static'>1</vcpu><os><type arch='x86_64' machine='pc-q35-7.2'>hvm</type></os><devices>{devices}</devices></domain>"
        ))
        .unwrap();
        if let Some(m) = &m {
            write_marker(&mut root, m);
        }
        self.h.domains.insert(
            name.into(),
            ObservedDomain {
                name: name.into(),
                uuid: id.clone(),
                state,
                id: (state != PowerState::Shutoff).then_some(3),
                persistent: true,
                autostart: false,
                xml: Some(root.to_xml()),
                live_xml: None,
            },
        );
        id
    }

    fn network(&mut self, name: &str, m: Option<Marker>) -> String {
        let id = self.uuid();
        let mut root = Element::parse(&format!(
            "<network><name>{name}</name><uuid>{id}</uuid><forward mode='nat'/></network>"
        ))
        .unwrap();
        if let Some(m) = &m {
            write_marker(&mut root, m);
        }
        self.h.networks.insert(
            name.into(),
            ObservedNetwork {
                name: name.into(),
                uuid: id.clone(),
                active: true,
                autostart: false,
                xml: Some(root.to_xml()),
                live_xml: None,
            },
        );
        id
    }

    /// A dir pool under /var/lib/libvirt/images, recorded as this owner's
    /// (or `owner`'s) when `owner` is given.
    fn pool(&mut self, name: &str, owner: Option<&str>, l: &[(&str, &str)]) {
        let id = self.uuid();
        self.h.pools.insert(
            name.into(),
            ObservedPool {
                name: name.into(),
                uuid: id.clone(),
                active: true,
                autostart: false,
                xml: Some(format!(
                    "<pool type='dir'><name>{name}</name><uuid>{id}</uuid><target><path>{IMG}/{name}</path></target></pool>"
                )),
            },
        );
        if let Some(o) = owner {
            self.inv.record_pool(&host_id(), name, &id);
            self.inv.records_mut(&host_id()).pools.insert(
                name.into(),
                Record {
                    owner: o.into(),
                    uuid: None,
                    labels: labels(l),
                    reclaim_policy: None,
                },
            );
        }
    }

    /// A volume of `pool`; recorded as created by virtsync for `owner`
    /// with `reclaim` when given.
    fn volume(&mut self, pool: &str, name: &str, owned: Option<(&str, ReclaimPolicy)>) {
        self.h.volumes.insert(
            (pool.into(), name.into()),
            ObservedVolume {
                pool: pool.into(),
                name: name.into(),
                xml: Some(format!(
                    "<volume type='file'><name>{name}</name><capacity unit='bytes'>1048576</capacity><target><path>{IMG}/{pool}/{name}</path><format type='qcow2'/></target></volume>"
                )),
            },
        );
        if let Some((o, reclaim)) = owned {
            self.inv.record_volume(&host_id(), pool, name);
            self.inv
                .records_mut(&host_id())
                .volumes
                .entry(pool.into())
                .or_default()
                .insert(
                    name.into(),
                    Record {
                        owner: o.into(),
                        uuid: None,
                        labels: BTreeMap::new(),
                        reclaim_policy: Some(reclaim),
                    },
                );
        }
    }

    /// Record a domain or network as managed by `owner` (what every apply
    /// writes), so that a plan without `--prune` knows it.
    fn record(&mut self, kind: Kind, name: &str, id: &str, owner: &str, l: &[(&str, &str)]) {
        let r = Record {
            owner: owner.into(),
            uuid: Some(id.into()),
            labels: labels(l),
            reclaim_policy: None,
        };
        let records = self.inv.records_mut(&host_id());
        match kind {
            Kind::Domain => records.domains.insert(name.into(), r),
            _ => records.networks.insert(name.into(), r),
        };
    }

    /// The same host as a pass *without* `--prune` sees it: no XML of
    /// the domains and networks no manifest names, and no pools or volumes
    /// (no manifest uses them).
    fn without_prune_reads(&self, d: &DesiredState) -> ObservedHost {
        let mut h = self.h.clone();
        for (name, o) in &mut h.domains {
            if !d.domains.keys().any(|k| &k.name == name) {
                o.xml = None;
            }
        }
        for (name, o) in &mut h.networks {
            if !d.networks.keys().any(|k| &k.name == name) {
                o.xml = None;
            }
        }
        if d.pools.is_empty() && d.volumes.is_empty() {
            h.pools.clear();
            h.volumes.clear();
        }
        h
    }
}

fn plan_with(d: &DesiredState, h: &ObservedHost, inv: &Inventory, scope: &Scope) -> Plan {
    let observed = ObservedState {
        uris: BTreeMap::from([(HostName::DEFAULT, URI.to_string())]),
        hosts: BTreeMap::from([(HostName::DEFAULT, h.clone())]),
        ..ObservedState::default()
    };
    let input = PlanInput {
        desired: d,
        observed: &observed,
        inventory: inv,
        revision: "",
        now: 0,
        adopt: false,
        scope,
    };
    let p = plan::plan(&input);
    assert_eq!(p, plan::plan(&input), "planning is not deterministic");
    p
}

fn prune(max: usize) -> Option<PruneOptions> {
    Some(PruneOptions {
        max_deletions: max,
        allow_empty: false,
        shutdown_timeout: Duration::from_secs(60),
    })
}

fn ids(p: &Plan) -> Vec<&str> {
    p.actions.iter().map(|a| a.id.as_str()).collect()
}

/// The lab host: this owner's `old-web` (running, on volume
/// images-old/old-web.qcow2 and network old-net) and `old-db` (shut off),
/// network `shared-net` that the unmanaged domain `manual` uses, pool
/// `images-old` with a volume to delete, one to keep (retain) and one
/// virtsync did not create; another owner's domain `theirs` and network
/// `their-net`; `legacy`, marked before owners existed and never claimed;
/// and the declared external network `keep-net`.
fn lab() -> Host {
    let mut h = Host::new();
    let ours = Some(TEST_OWNER);
    let web_disk = "<disk type='volume' device='disk'><driver name='qemu' type='qcow2'/><source pool='images-old' volume='old-web.qcow2'/><target dev='vda' bus='virtio'/></disk><interface type='network'><source network='old-net'/></interface>";
    let web = h.domain(
        "old-web",
        PowerState::Running,
        Some(marker(ours, &[("app", "web")])),
        web_disk,
    );
    h.record(Kind::Domain, "old-web", &web, TEST_OWNER, &[("app", "web")]);
    let db = h.domain(
        "old-db",
        PowerState::Shutoff,
        Some(marker(ours, &[("app", "db")])),
        "",
    );
    h.record(Kind::Domain, "old-db", &db, TEST_OWNER, &[("app", "db")]);
    h.domain(
        "manual",
        PowerState::Shutoff,
        None,
        "<interface type='network'><source network='shared-net'/></interface>",
    );
    h.domain(
        "theirs",
        PowerState::Running,
        Some(marker(Some("github.com/acme/other"), &[])),
        "",
    );
    h.domain("legacy", PowerState::Shutoff, Some(marker(None, &[])), "");
    let net = h.network("old-net", Some(marker(ours, &[("app", "web")])));
    h.record(
        Kind::Network,
        "old-net",
        &net,
        TEST_OWNER,
        &[("app", "web")],
    );
    let shared = h.network("shared-net", Some(marker(ours, &[])));
    h.record(Kind::Network, "shared-net", &shared, TEST_OWNER, &[]);
    h.network(
        "their-net",
        Some(marker(Some("github.com/acme/other"), &[])),
    );
    h.network("keep-net", None);
    h.pool("images-old", ours, &[]);
    h.volume(
        "images-old",
        "old-web.qcow2",
        Some((TEST_OWNER, ReclaimPolicy::Delete)),
    );
    h.volume(
        "images-old",
        "keep.qcow2",
        Some((TEST_OWNER, ReclaimPolicy::Retain)),
    );
    h.volume("images-old", "foreign.img", None);
    h
}

#[test]
fn deletions_come_first_in_reverse_dependency_order() {
    let d = keep_net();
    let h = lab();
    let scope = Scope::new(TEST_OWNER, &d).with_prune(prune(5));
    let p = plan_with(&d, &h.h, &h.inv, &scope);
    assert_eq!(p.refusal, None, "{}", render_text(&p));
    assert_eq!(
        ids(&p),
        [
            "domain/old-db/undefine",
            "domain/old-web/shutdown",
            "domain/old-web/undefine",
            "volume/images-old/old-web.qcow2/delete-volume",
            "network/old-net/destroy",
            "network/old-net/undefine",
            "storagepool/images-old/destroy",
            "storagepool/images-old/undefine",
        ],
        "{}",
        render_text(&p)
    );
    let by_id = |id: &str| p.actions.iter().find(|a| a.id == id).unwrap();
    // The disk goes only once the domain that uses it is undefined; the
    // pool only once its volume is deleted.
    assert_eq!(
        by_id("volume/images-old/old-web.qcow2/delete-volume").depends_on,
        ["domain/old-web/undefine"]
    );
    assert_eq!(
        by_id("network/old-net/destroy").depends_on,
        ["domain/old-web/undefine"]
    );
    assert_eq!(
        by_id("storagepool/images-old/destroy").depends_on,
        [
            "domain/old-web/undefine",
            "volume/images-old/old-web.qcow2/delete-volume"
        ]
    );
    assert_eq!(
        by_id("domain/old-web/shutdown").step,
        Step::ShutdownDomain { timeout_ms: 60_000 }
    );
    let Step::UndefineDomain { flags } = by_id("domain/old-web/undefine").step else {
        panic!("not an undefine");
    };
    assert!(flags.snapshots_metadata && flags.checkpoints_metadata && flags.managed_save);
    assert!(!flags.keep_nvram, "a pruned domain's NVRAM goes with it");
    for a in &p.actions {
        let want = match a.operation {
            Operation::Undefine | Operation::DeleteVolume => Effect::Delete,
            _ => Effect::Power,
        };
        assert_eq!(a.effect, want, "{}", a.id);
    }
    assert_eq!((p.summary.delete, p.summary.prune), (5, 5));
    // `shared-net` is used by a domain that stays: blocked, not deleted.
    let blocked: Vec<(&str, BlockCause)> = p
        .blocked
        .iter()
        .map(|b| (b.name.as_str(), b.cause))
        .collect();
    assert_eq!(blocked, [("shared-net", BlockCause::Refused)]);
    assert!(
        p.blocked[0].reason.contains("domain manual still uses"),
        "{}",
        p.blocked[0].reason
    );
    // Another owner's objects: not even mentioned.
    let text = render_text(&p);
    assert!(
        !text.contains("theirs") && !text.contains("their-net"),
        "{text}"
    );
    insta::assert_snapshot!("prune_lab_text", text);
    let json = serde_json::to_value(&p).unwrap();
    let undefine = json["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == "domain/old-db/undefine")
        .unwrap();
    assert_eq!(undefine["effect"], "delete");
    assert_eq!(undefine["operation"], "undefine");
}

#[test]
fn without_prune_the_plan_only_says_what_a_prune_would_delete() {
    let d = keep_net();
    let h = lab();
    let seen = h.without_prune_reads(&d);
    let p = plan_with(&d, &seen, &h.inv, &Scope::new(TEST_OWNER, &d));
    assert!(
        p.actions.is_empty() && p.blocked.is_empty() && p.refusal.is_none(),
        "{}",
        render_text(&p)
    );
    let notices: Vec<(&str, Option<Operation>)> = p
        .notices
        .iter()
        .map(|n| (n.name.as_str(), n.prune))
        .collect();
    // The records of what this owner managed, checked against the
    // listings: pools and volumes are not listed by this pass.
    assert_eq!(
        notices,
        [
            ("old-db", Some(Operation::Undefine)),
            ("old-web", Some(Operation::Undefine)),
            ("old-net", Some(Operation::Undefine)),
            ("shared-net", Some(Operation::Undefine)),
        ]
    );
    let text = render_text(&p);
    assert!(
        text.contains("! domain old-web: its manifest is gone: --prune would shut it down and undefine it (its disks are kept)"),
        "{text}"
    );
    // A record whose UUID is not the object's (re-created by someone
    // else under the name) says nothing.
    let mut h2 = lab();
    h2.h.domains.get_mut("old-db").unwrap().uuid = uuid(200);
    let p = plan_with(
        &d,
        &h2.without_prune_reads(&d),
        &h2.inv,
        &Scope::new(TEST_OWNER, &d),
    );
    assert!(
        !p.notices.iter().any(|n| n.name == "old-db"),
        "{}",
        render_text(&p)
    );
}

#[test]
fn a_prune_over_the_cap_is_refused_and_deletes_nothing() {
    let d = keep_net();
    let h = lab();
    let p = plan_with(
        &d,
        &h.h,
        &h.inv,
        &Scope::new(TEST_OWNER, &d).with_prune(prune(4)),
    );
    let r = p.refusal.as_ref().expect("refused");
    assert_eq!(r.cause, RefusalCause::TooManyDeletions);
    assert!(
        r.message
            .contains("would delete 5 objects, more than --max-deletions 4"),
        "{}",
        r.message
    );
    assert!(p.actions.is_empty(), "{}", render_text(&p));
    // What would have been deleted is listed.
    assert_eq!(p.prune_notices().count(), 5, "{}", render_text(&p));
    let text = render_text(&p);
    assert!(
        text.starts_with("Refused: a --prune guard stops this plan"),
        "{text}"
    );
    assert!(
        text.contains("x prune refused: it would delete 5 objects"),
        "{text}"
    );
}

#[test]
fn an_empty_manifest_set_never_prunes_without_allow_empty() {
    let empty = desired(&[]);
    let h = lab();
    let scope = Scope::new(TEST_OWNER, &empty).with_prune(prune(100));
    let p = plan_with(&empty, &h.h, &h.inv, &scope);
    let r = p.refusal.as_ref().expect("refused");
    assert_eq!(r.cause, RefusalCause::EmptyDesiredState);
    assert!(r.message.contains("--allow-empty"), "{}", r.message);
    assert!(p.actions.is_empty());
    let allowed = Scope::new(TEST_OWNER, &empty).with_prune(Some(PruneOptions {
        allow_empty: true,
        ..prune(100).unwrap()
    }));
    let p = plan_with(&empty, &h.h, &h.inv, &allowed);
    assert_eq!(p.refusal, None);
    assert_eq!(p.summary.delete, 5, "{}", render_text(&p));
}

#[test]
fn objects_of_another_owner_are_blocked_and_old_markers_are_claimed() {
    let d = desired(&[(
        "m.yaml",
        &format!(
            "{API}\nkind: Network\nmetadata: {{name: their-net}}\nspec: {{forward: {{mode: nat}}}}\n---\n\
             {API}\nkind: Network\nmetadata: {{name: legacy-net}}\nspec: {{forward: {{mode: nat}}}}\n---\n\
             {API}\nkind: StoragePool\nmetadata: {{name: their-pool}}\nspec: {{type: dir, path: {IMG}/their-pool}}\n"
        ),
    )]);
    let mut h = Host::new();
    h.network(
        "their-net",
        Some(marker(Some("github.com/acme/other"), &[])),
    );
    h.network("legacy-net", Some(marker(None, &[])));
    h.pool("their-pool", Some("github.com/acme/other"), &[]);
    let p = plan_with(
        &d,
        &h.h,
        &h.inv,
        &Scope::new(TEST_OWNER, &d).with_prune(prune(5)),
    );
    let blocked: Vec<(&str, BlockCause)> = p
        .blocked
        .iter()
        .map(|b| (b.name.as_str(), b.cause))
        .collect();
    assert_eq!(
        blocked,
        [
            ("their-pool", BlockCause::OtherOwner),
            ("their-net", BlockCause::OtherOwner)
        ],
        "{}",
        render_text(&p)
    );
    assert!(p.blocked[1]
        .reason
        .contains("owner `github.com/acme/other`"));
    // A marker from before owners existed: managed, and the plan says so.
    assert!(p.actions.is_empty(), "{}", render_text(&p));
    let claim = p
        .notices
        .iter()
        .find(|n| n.name == "legacy-net")
        .expect("claim notice");
    assert!(
        claim.message.contains("claimed for `virtsync-tests`"),
        "{}",
        claim.message
    );
    // Another owner's claim in a shared inventory counts for an old marker.
    let legacy = h.h.networks["legacy-net"].uuid.clone();
    h.record(
        Kind::Network,
        "legacy-net",
        &legacy,
        "github.com/acme/other",
        &[],
    );
    let p = plan_with(&d, &h.h, &h.inv, &Scope::new(TEST_OWNER, &d));
    assert!(p
        .blocked
        .iter()
        .any(|b| b.name == "legacy-net" && b.cause == BlockCause::OtherOwner));
}

#[test]
fn a_define_writes_the_owner_and_labels_into_the_marker() {
    let d = desired(&[(
        "m.yaml",
        &format!(
            "{API}\nkind: Network\nmetadata: {{name: legacy-net, labels: {{app: web, tier: front}}}}\nspec: {{forward: {{mode: nat}}, mtu: 9000}}\n"
        ),
    )]);
    let mut h = Host::new();
    h.network("legacy-net", Some(marker(None, &[])));
    let p = plan_with(&d, &h.h, &h.inv, &Scope::new(TEST_OWNER, &d));
    let define = p
        .actions
        .iter()
        .find(|a| a.id == "network/legacy-net/define")
        .unwrap_or_else(|| panic!("{}", render_text(&p)));
    let root = Element::parse(define.step.xml().unwrap()).unwrap();
    let m = virtsync::render::read_marker(&root).unwrap();
    assert_eq!(m.owner.as_deref(), Some(TEST_OWNER));
    assert_eq!(m.labels, labels(&[("app", "web"), ("tier", "front")]));
}

#[test]
fn old_markers_without_a_claim_are_never_pruned() {
    let d = keep_net();
    let mut h = Host::new();
    h.network("keep-net", None);
    h.domain("legacy", PowerState::Shutoff, Some(marker(None, &[])), "");
    let claimed = h.domain("claimed", PowerState::Shutoff, Some(marker(None, &[])), "");
    h.record(Kind::Domain, "claimed", &claimed, TEST_OWNER, &[]);
    let p = plan_with(
        &d,
        &h.h,
        &h.inv,
        &Scope::new(TEST_OWNER, &d).with_prune(prune(5)),
    );
    assert_eq!(ids(&p), ["domain/claimed/undefine"], "{}", render_text(&p));
    let n = p
        .notices
        .iter()
        .find(|n| n.name == "legacy")
        .expect("notice");
    assert!(n.message.starts_with("not pruned:"), "{}", n.message);
    assert_eq!(n.prune, None);
}

#[test]
fn a_selector_prunes_only_inside_it_and_never_a_declared_object() {
    // `old-web` carries app=web; `db` is declared (outside the selector)
    // although its stale marker says app=web: never a candidate.
    let d = desired(&[
        (
            "net.yaml",
            &format!("{API}\nkind: Network\nmetadata: {{name: keep-net, external: true, labels: {{app: web}}}}\n"),
        ),
        (
            "db.yaml",
            &format!("{API}\nkind: Domain\nmetadata: {{name: db, labels: {{app: db}}}}\nspec: {{memory: 64MiB, vcpus: 1, state: shutoff}}\n"),
        ),
    ]);
    let mut h = lab();
    h.domain(
        "db",
        PowerState::Shutoff,
        Some(marker(Some(TEST_OWNER), &[("app", "web")])),
        "",
    );
    let selector = [("app".to_string(), "web".to_string())];
    let scope = Scope::new(TEST_OWNER, &d)
        .with_selector(&selector)
        .with_prune(prune(5));
    let mut selected = d.clone();
    selected.select(&selector);
    let p = plan_with(&selected, &h.h, &h.inv, &scope);
    let deleted: Vec<&str> = p
        .actions
        .iter()
        .filter(|a| a.effect == Effect::Delete)
        .map(|a| a.id.as_str())
        .collect();
    // `old-db` (app=db) and the pool and volume (no labels) are outside.
    assert_eq!(
        deleted,
        ["domain/old-web/undefine", "network/old-net/undefine"],
        "{}",
        render_text(&p)
    );
}

#[test]
fn volumes_go_only_under_reclaim_policy_delete_and_never_while_backing_another() {
    let d = keep_net();
    let mut h = Host::new();
    h.network("keep-net", None);
    h.pool("pool", Some(TEST_OWNER), &[]);
    h.volume(
        "pool",
        "base.qcow2",
        Some((TEST_OWNER, ReclaimPolicy::Delete)),
    );
    h.volume(
        "pool",
        "kept.qcow2",
        Some((TEST_OWNER, ReclaimPolicy::Retain)),
    );
    // An overlay someone made on base.qcow2.
    h.volume("pool", "overlay.qcow2", None);
    let o =
        h.h.volumes
            .get_mut(&("pool".to_string(), "overlay.qcow2".to_string()))
            .unwrap();
    o.xml = Some(o.xml.take().unwrap().replace(
        "</volume>",
        &format!("<backingStore><path>{IMG}/pool/base.qcow2</path></backingStore></volume>"),
    ));
    let p = plan_with(
        &d,
        &h.h,
        &h.inv,
        &Scope::new(TEST_OWNER, &d).with_prune(prune(5)),
    );
    let text = render_text(&p);
    assert!(
        !p.actions
            .iter()
            .any(|a| a.operation == Operation::DeleteVolume),
        "{text}"
    );
    let blocked: Vec<&str> = p.blocked.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(blocked, ["pool", "pool/base.qcow2"], "{text}");
    assert!(
        text.contains("volume pool/overlay.qcow2 is an overlay on it"),
        "{text}"
    );
    assert!(
        text.contains(
            "! volume pool/kept.qcow2: kept: its manifest is gone, and its reclaimPolicy is retain"
        ),
        "{text}"
    );
}

/// The fixture host's identity: it has no UUID, so its URI.
fn host_id() -> virtsync::model::HostId {
    virtsync::model::HostId::of(&Default::default(), URI)
}

//! Pruning and owner identity through the library's reconcile pass, on
//! libvirt's in-process test driver: what a pass reads (every marker only
//! with `--prune`), the records apply keeps for a later prune, and what a
//! prune forgets. The daemon test (`prune_daemon.rs`) runs the same through
//! the command line on a real libvirtd.

use std::time::Duration;

mod common;

use common::{load, manifest_dir, Lab};
use virtsync::backend::HostRead;
use virtsync::model::HostName;
use virtsync::plan::{render_text, BlockCause, Operation, PruneOptions};
use virtsync::reconcile::HostConn;

const URI: &str = "test:///default";
const API: &str = "apiVersion: virtsync.io/v1alpha1";

fn prune() -> Option<PruneOptions> {
    Some(PruneOptions {
        max_deletions: 5,
        allow_empty: false,
        shutdown_timeout: Duration::from_secs(1),
    })
}

fn read(lab: &Lab) -> std::sync::Arc<dyn HostRead> {
    match &lab.reconciler.hosts()[&HostName::DEFAULT] {
        HostConn::Up { read, .. } => read.clone(),
        HostConn::Down { error } => panic!("test driver down: {error}"),
    }
}

fn stay() -> (&'static str, String) {
    (
        "stay.yaml",
        format!("{API}\nkind: Domain\nmetadata: {{name: pt-stay}}\nspec: {{memory: 64MiB, vcpus: 1, arch: i686, state: shutoff}}\n"),
    )
}

#[test]
fn removed_manifests_are_listed_then_pruned_and_forgotten() {
    let (stay_file, stay_yaml) = stay();
    let full = manifest_dir(&[
        (
            "storage.yaml",
            &format!(
                "{API}\nkind: StoragePool\nmetadata: {{name: pt-pool}}\n\
                 spec: {{type: dir, path: /var/lib/libvirt/images/pt-pool}}\n---\n\
                 {API}\nkind: Volume\nmetadata: {{name: pt-web.qcow2}}\n\
                 spec: {{pool: pt-pool, capacity: 64MiB, reclaimPolicy: delete}}\n---\n\
                 {API}\nkind: Volume\nmetadata: {{name: pt-data.qcow2}}\n\
                 spec: {{pool: pt-pool, capacity: 64MiB}}\n"
            ),
        ),
        (
            "net.yaml",
            &format!("{API}\nkind: Network\nmetadata: {{name: pt-net}}\nspec: {{forward: {{mode: isolated}}}}\n"),
        ),
        (
            "web.yaml",
            &format!(
                "{API}\nkind: Domain\nmetadata: {{name: pt-web, labels: {{app: web}}}}\n\
                 spec:\n  memory: 64MiB\n  vcpus: 1\n  arch: i686\n  \
                 disks: [{{volume: {{pool: pt-pool, name: pt-web.qcow2}}}}]\n  \
                 interfaces: [{{network: pt-net}}]\n"
            ),
        ),
        (stay_file, &stay_yaml),
    ]);
    let desired = load(full.path());
    let mut lab = Lab::connect(&desired, URI);
    lab.converge(&desired);
    // Every apply records what a later prune needs.
    let records = lab
        .inventory
        .records(&common::host_id(&lab.inventory, URI))
        .expect("records")
        .clone();
    assert_eq!(records.domains["pt-web"].owner, common::TEST_OWNER);
    assert_eq!(records.domains["pt-web"].labels["app"], "web");
    assert!(records.networks.contains_key("pt-net"));
    assert!(records.pools.contains_key("pt-pool"));
    assert_eq!(
        records.volumes["pt-pool"]["pt-web.qcow2"]
            .reclaim_policy
            .map(|r| r.as_str()),
        Some("delete")
    );

    // The manifests of everything but `pt-stay` are removed.
    let rest_dir = manifest_dir(&[(stay_file, &stay_yaml)]);
    let rest = load(rest_dir.path());
    let planned = lab.plan(&rest);
    let p = &planned.plan;
    assert!(p.actions.is_empty(), "{}", render_text(p));
    assert!(planned.converged(), "notices do not stop convergence");
    let would: Vec<(&str, Option<Operation>)> = p
        .notices
        .iter()
        .map(|n| (n.name.as_str(), n.prune))
        .collect();
    // Without --prune, only what the pass lists anyway: no manifest uses
    // networks or pools any more, so only the domain's record is checked.
    assert_eq!(
        would,
        [("pt-web", Some(Operation::Undefine))],
        "{}",
        render_text(p)
    );

    lab.prune = prune();
    let planned = lab.plan(&rest);
    let p = &planned.plan;
    let ids: Vec<&str> = p.actions.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "domain/pt-web/shutdown",
            "domain/pt-web/undefine",
            "volume/pt-pool/pt-web.qcow2/delete-volume",
            "network/pt-net/destroy",
            "network/pt-net/undefine",
            "storagepool/pt-pool/destroy",
            "storagepool/pt-pool/undefine",
        ],
        "{}",
        render_text(p)
    );
    // The test driver's own `test` domain, `default` network and
    // `default-pool` are nobody's: never candidates.
    let text = render_text(p);
    assert!(
        !text.contains("default") && !text.contains(" test"),
        "{text}"
    );
    assert!(
        text.contains("! volume pt-pool/pt-data.qcow2: kept"),
        "{text}"
    );
    let done = lab.apply(&rest, &planned);
    assert!(
        common::not_done(&done).is_empty(),
        "{:?}",
        common::not_done(&done)
    );
    assert!(
        done.converged,
        "{}",
        render_text(done.residual.as_ref().unwrap())
    );

    let host = read(&lab);
    let domains: Vec<String> = host
        .list_domains(false)
        .unwrap()
        .into_iter()
        .map(|d| d.name)
        .collect();
    assert!(
        !domains.iter().any(|d| d == "pt-web") && domains.iter().any(|d| d == "pt-stay"),
        "{domains:?}"
    );
    assert!(!host
        .list_networks(false)
        .unwrap()
        .iter()
        .any(|n| n.name == "pt-net"));
    assert!(!host
        .list_pools(false)
        .unwrap()
        .iter()
        .any(|n| n.name == "pt-pool"));
    // What was pruned is forgotten; what stays is still recorded.
    let inv = &lab.inventory.hosts[&common::host_id(&lab.inventory, URI)];
    assert!(!inv.pools.contains_key("pt-pool") && !inv.volumes.contains_key("pt-pool"));
    assert!(!inv.records.domains.contains_key("pt-web"));
    assert!(!inv.records.networks.contains_key("pt-net"));
    assert!(inv.records.domains.contains_key("pt-stay"));
    // And the next prune has nothing left to do.
    assert!(lab.plan(&rest).converged());
}

#[test]
fn another_owners_objects_are_never_changed_or_pruned() {
    let a_dir = manifest_dir(&[(
        "a.yaml",
        &format!(
            "{API}\nkind: Domain\nmetadata: {{name: po-a}}\nspec: {{memory: 64MiB, vcpus: 1, arch: i686, state: shutoff}}\n---\n\
             {API}\nkind: Network\nmetadata: {{name: po-net}}\nspec: {{forward: {{mode: isolated}}}}\n"
        ),
    )]);
    let a = load(a_dir.path());
    let mut lab = Lab::connect(&a, URI);
    lab.owner = "repo-a".into();
    lab.converge(&a);

    // Repository B: its own domain, and one that names A's network.
    let b_dir = manifest_dir(&[(
        "b.yaml",
        &format!(
            "{API}\nkind: Domain\nmetadata: {{name: po-b}}\nspec: {{memory: 64MiB, vcpus: 1, arch: i686, state: shutoff}}\n---\n\
             {API}\nkind: Network\nmetadata: {{name: po-net}}\nspec: {{forward: {{mode: isolated}}, mtu: 9000}}\n"
        ),
    )]);
    let b = load(b_dir.path());
    lab.owner = "repo-b".into();
    lab.prune = Some(PruneOptions {
        max_deletions: 0,
        ..prune().unwrap()
    });
    let planned = lab.plan(&b);
    let p = &planned.plan;
    // B never deletes A's domain (a cap of 0 would refuse any deletion),
    // and A's network is blocked for B, not redefined.
    assert!(p.refusal.is_none(), "{}", render_text(p));
    let ids: Vec<&str> = p.actions.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids, ["domain/po-b/define"], "{}", render_text(p));
    let blocked: Vec<(&str, BlockCause)> = p
        .blocked
        .iter()
        .map(|x| (x.name.as_str(), x.cause))
        .collect();
    assert_eq!(blocked, [("po-net", BlockCause::OtherOwner)]);
    assert!(
        !render_text(p).contains("domain po-a"),
        "{}",
        render_text(p)
    );

    // A, pruning with B's domain on the host, deletes nothing of B's.
    let done = lab.apply(&b, &planned);
    assert!(done.changed);
    lab.owner = "repo-a".into();
    let planned = lab.plan(&a);
    assert!(planned.converged(), "{}", render_text(&planned.plan));
}

#[test]
fn a_prune_needs_the_whole_directory_and_a_valid_owner() {
    let (file, yaml) = stay();
    let dir = manifest_dir(&[(file, &yaml)]);
    let state = tempfile::tempdir().unwrap();
    let path = dir.path().join(file);
    let (p, s) = (path.to_string_lossy(), state.path().to_string_lossy());
    let run = |extra: &[&str]| {
        let mut args = vec!["plan", &p, "--connect", URI, "--state-dir", &s];
        args.extend_from_slice(extra);
        let (out, _) = common::virtsync(&args, Duration::from_secs(60));
        (out.status.code(), common::output_text(&out))
    };
    // One file of a directory: the rest of the directory would look removed.
    let (code, text) = run(&["--prune"]);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("a prune needs the whole manifest directory"),
        "{text}"
    );
    assert_eq!(run(&[]).0, Some(0), "without --prune a single file plans");
    let (code, text) = run(&["--owner", " padded"]);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("owner name \" padded\" from --owner"),
        "{text}"
    );
}

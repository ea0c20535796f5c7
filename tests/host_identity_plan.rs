//! One libvirt daemon reached under two names (the default connection and
//! a Host manifest) is one host: an object declared under both names is
//! blocked, both manifests named — never defined by one and "corrected"
//! by the other on every pass. Distinct hosts may share object names.

mod common;

use std::collections::BTreeMap;

use common::{load, manifest_dir};
use virtsync::inventory::Inventory;
use virtsync::model::*;
use virtsync::plan::{self, PlanInput, Scope};

const API: &str = "apiVersion: virtsync.io/v1alpha1";

fn host(uri: &str, uuid: &str) -> ObservedHost {
    let mut h = ObservedHost {
        uri: uri.into(),
        ..ObservedHost::default()
    };
    h.caps.host_uuid = Some(uuid.into());
    h
}

fn plan_with(uuid_b: &str) -> plan::Plan {
    let dir = manifest_dir(&[(
        "m.yaml",
        &format!(
            "{API}\nkind: Host\nmetadata: {{name: kvm-a}}\nspec: {{uri: 'qemu+unix:///system?socket=/run/libvirt/libvirt-sock'}}\n---\n\
             {API}\nkind: Network\nmetadata: {{name: lan}}\nspec: {{forward: {{mode: isolated}}}}\n---\n\
             {API}\nkind: Network\nmetadata: {{name: lan, host: kvm-a}}\nspec: {{forward: {{mode: isolated}}}}\n---\n\
             {API}\nkind: Network\nmetadata: {{name: only-a, host: kvm-a}}\nspec: {{forward: {{mode: isolated}}}}\n"
        ),
    )]);
    let desired = load(dir.path());
    let observed = ObservedState {
        hosts: BTreeMap::from([
            (HostName::DEFAULT, host("qemu:///system", "0a1b")),
            (
                HostName::named("kvm-a"),
                host(
                    "qemu+unix:///system?socket=/run/libvirt/libvirt-sock",
                    uuid_b,
                ),
            ),
        ]),
        ..ObservedState::default()
    };
    plan::plan(&PlanInput {
        desired: &desired,
        observed: &observed,
        inventory: &Inventory::default(),
        revision: "",
        now: 0,
        adopt: false,
        scope: &Scope::new(common::TEST_OWNER, &desired),
    })
}

#[test]
fn an_object_declared_for_one_daemon_under_two_names_is_blocked() {
    let p = plan_with("0a1b");
    let blocked: Vec<(&str, &HostName)> = p
        .blocked
        .iter()
        .map(|b| (b.name.as_str(), &b.host))
        .collect();
    assert_eq!(blocked.len(), 2, "{:?}", p.blocked);
    assert!(blocked.iter().all(|(n, _)| *n == "lan"), "{blocked:?}");
    assert!(
        p.blocked[0].reason.contains("under several names")
            && p.blocked[0].reason.contains("the default connection")
            && p.blocked[0].reason.contains("kvm-a"),
        "{}",
        p.blocked[0].reason
    );
    // The object declared once is planned as usual.
    assert!(p.actions.iter().any(|a| a.name == "only-a"));
    assert!(!p.actions.iter().any(|a| a.name == "lan"));
}

#[test]
fn two_hosts_may_each_have_an_object_of_one_name() {
    let p = plan_with("9f8e");
    assert!(p.blocked.is_empty(), "{:?}", p.blocked);
    assert_eq!(p.actions.iter().filter(|a| a.name == "lan").count(), 4);
}

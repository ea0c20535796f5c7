//! `report` from hand-made plans: what the planner does not (yet) produce
//! on a host a test can set up — a restart pending alone, the snapshots a
//! domain's `snapshotPolicy` takes — and the order of listed snapshots.

use super::*;
use crate::plan::{Change, ChangeClass, Effect, Plan, Step};

/// A domain `web` (running, with two snapshots, the one named `b`
/// older) and a Snapshot manifest `web/a` of it.
fn fixture() -> (DesiredState, ObservedState) {
    let dir = tempfile::tempdir().unwrap();
    let api = "apiVersion: virtsync.io/v1alpha1";
    std::fs::write(
        dir.path().join("web.yaml"),
        format!(
            "{api}\nkind: Domain\nmetadata: {{name: web}}\nspec: {{memory: 64MiB, vcpus: 1}}\n---\n\
             {api}\nkind: Snapshot\nmetadata: {{name: a}}\nspec: {{domain: web}}\n"
        ),
    )
    .unwrap();
    let (desired, _) =
        crate::manifest::load_dir(dir.path(), &crate::manifest::LoadOptions::default())
            .expect("manifests load");
    let snap = |name: &str, t: u32| {
        format!(
            "<domainsnapshot><name>{name}</name><creationTime>{t}</creationTime></domainsnapshot>"
        )
    };
    let mut host = ObservedHost::default();
    host.domains.insert(
        "web".into(),
        ObservedDomain {
            name: "web".into(),
            uuid: "u".into(),
            state: PowerState::Running,
            id: Some(1),
            persistent: true,
            autostart: false,
            xml: None,
            live_xml: None,
        },
    );
    host.snapshots.insert(
        "web".into(),
        [("a".into(), snap("a", 20)), ("b".into(), snap("b", 10))].into(),
    );
    let mut observed = ObservedState::default();
    observed.hosts.insert(HostName::DEFAULT, host);
    (desired, observed)
}

fn plan(actions: Vec<Action>, pending: &[&str]) -> Plan {
    Plan {
        format_version: crate::plan::FORMAT_VERSION,
        fingerprint: Default::default(),
        redacted: false,
        actions,
        blocked: vec![],
        unreachable_hosts: vec![],
        notices: vec![Notice {
            kind: Kind::Domain,
            name: "web".into(),
            host: HostName::DEFAULT,
            message: "restart pending".into(),
            restart_pending: pending.iter().map(|f| f.to_string()).collect(),
            prune: None,
        }],
        refusal: None,
        summary: Default::default(),
        live_xml_wanted: Default::default(),
    }
}

fn action(name: &str, changes: &[&str], step: Step) -> Action {
    let changes = changes
        .iter()
        .map(|f| Change {
            field: f.to_string(),
            from: "1".into(),
            to: "2".into(),
            class: ChangeClass::NextBoot,
        })
        .collect();
    let id = format!("{name}/{}", step.operation().as_str());
    Action::new(
        id,
        name.into(),
        HostName::DEFAULT,
        Effect::Update,
        changes,
        vec![],
        step,
    )
}

#[test]
fn a_pending_restart_alone_is_nothing_to_do() {
    let (desired, observed) = fixture();
    let planned = Planned {
        observed,
        plan: plan(vec![], &["vcpus", "memory"]),
    };
    let r = report(&desired, &planned);
    let web = &r.objects[0];
    assert_eq!(web.name, "web");
    assert_eq!(
        web.state,
        State::RestartPending {
            fields: vec!["vcpus".into(), "memory".into()]
        }
    );
    assert_eq!(
        web.snapshots.as_deref(),
        Some(&["b".to_string(), "a".to_string()][..]),
        "oldest first"
    );
    assert_eq!(r.objects[1].name, "web/a");
    assert_eq!(r.objects[1].state, State::InSync);
    assert_eq!(r.objects[1].snapshots, None, "only domains list snapshots");
    assert_eq!(r.summary.restart_pending, 1);
    assert_eq!(r.exit_code(), exit::OK);
}

#[test]
fn drift_names_the_changed_fields_and_the_policy_snapshots_belong_to_the_domain() {
    let (desired, observed) = fixture();
    let actions = vec![
        action(
            "web",
            &["memory"],
            Step::DefineDomain { xml: String::new() },
        ),
        action(
            "web",
            &[],
            Step::RestartDomain {
                timeout_ms: 1,
                paused: false,
            },
        ),
        // Taken by the domain's snapshotPolicy before the restart: no
        // manifest of its own.
        action(
            "web/web-auto-20261201T120000Z",
            &[],
            Step::CreateSnapshot {
                domain: "web".into(),
                xml: String::new(),
            },
        ),
    ];
    let planned = Planned {
        observed,
        plan: plan(actions, &["memory", "vcpus"]),
    };
    let r = report(&desired, &planned);
    assert_eq!(
        r.objects[0].state,
        State::Drifted {
            fields: vec!["memory".into(), "snapshotPolicy".into()],
            restart_pending: vec!["vcpus".into()],
        }
    );
    assert_eq!(r.objects[1].state, State::InSync, "web/a is untouched");
    assert_eq!(r.exit_code(), exit::CHANGES);
    let json = serde_json::to_value(&r.objects[0]).unwrap();
    assert_eq!(json["status"], "drifted");
    assert_eq!(json["restartPending"], serde_json::json!(["vcpus"]));
}

//! The plan as data: what a plan holds (actions with their typed steps,
//! blocked objects, unreachable hosts, notices, a summary), serialisable,
//! printable and comparable. Nothing here decides anything.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::redact::{is_secret_field, redact_passwords, REDACTED};
use super::{Fingerprint, Step};
use crate::model::*;

/// Bumped whenever the JSON shape of a plan changes incompatibly.
pub const FORMAT_VERSION: u32 = 4;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    pub format_version: u32,
    /// What the plan was made from: the manifests and the observed state
    /// of the objects they manage, per object; `apply --plan` refuses the
    /// plan when they changed since.
    pub fingerprint: Fingerprint,
    /// Secrets are masked: a printed plan, which cannot be applied (its
    /// XML would set them to `(redacted)`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub redacted: bool,
    pub actions: Vec<Action>,
    /// Objects that cannot be planned this pass, with the reason: they and
    /// the objects that depend on them wait; everything else is planned.
    pub blocked: Vec<Blocked>,
    /// Hosts that could not be observed (their objects are blocked).
    pub unreachable_hosts: Vec<UnreachableHost>,
    /// Things that differ but need no action now (e.g. restart pending
    /// under `restartPolicy: never`).
    pub notices: Vec<Notice>,
    /// Why this plan must not be applied: a `--prune` guard refused it
    /// (too many deletions, or no manifests left). It then holds no prune
    /// actions — what would be deleted is in `notices` — and `apply`
    /// changes nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refusal: Option<Refusal>,
    pub summary: Summary,
    /// Running domains and active networks whose live XML the planner
    /// needs and did not have (`ObservedDomain::live_xml`,
    /// `ObservedNetwork::live_xml`), and domains whose snapshots it needs
    /// listed (`Kind::Snapshot` with the domain's name): the reconcile pass
    /// reads them and plans again. Reading them only when a live action is in sight keeps
    /// a converged pass at one XML read per object.
    #[serde(skip)]
    pub live_xml_wanted: BTreeSet<(HostName, Kind, String)>,
}

impl Plan {
    /// No actions. A plan can be empty and still not converged: see
    /// [`Plan::is_complete`].
    pub fn is_empty(&self) -> bool {
        self.actions.is_empty()
    }

    /// Every object of the desired state was planned: nothing blocked.
    /// (An unreachable host without objects blocks nothing; it is listed
    /// in [`Plan::unreachable_hosts`].)
    pub fn is_complete(&self) -> bool {
        self.blocked.is_empty()
    }

    /// The notices of what a prune would delete (without `--prune`, or
    /// when a guard refused it).
    pub fn prune_notices(&self) -> impl Iterator<Item = &Notice> {
        self.notices.iter().filter(|n| n.prune.is_some())
    }

    /// The plan with secrets (graphics `passwd`) masked wherever it shows
    /// them — the XML its steps carry, and the `from`/`to` of its changes —
    /// for printing; the fingerprint keeps no digest of them. Apply and
    /// saved plans use the plan itself.
    pub fn redacted(&self) -> Plan {
        let mut p = self.clone();
        p.redacted = true;
        for a in &mut p.actions {
            for text in a.step.texts_mut() {
                *text = redact_passwords(text);
            }
            for c in &mut a.changes {
                if is_secret_field(&c.field) {
                    for v in [&mut c.from, &mut c.to] {
                        if !v.is_empty() {
                            *v = REDACTED.to_string();
                        }
                    }
                } else {
                    c.from = redact_passwords(&c.from);
                    c.to = redact_passwords(&c.to);
                }
            }
        }
        p.fingerprint = p.fingerprint.without_secrets();
        p
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub create: usize,
    pub update: usize,
    pub power: usize,
    pub delete: usize,
    /// Domains moved to another host (`metadata.host` changed).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub moved: usize,
    pub total: usize,
    pub restart_pending: usize,
    pub blocked: usize,
    /// Objects this plan prunes (their manifests are gone).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub prune: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Notice {
    pub kind: Kind,
    pub name: String,
    pub host: HostName,
    pub message: String,
    /// The fields whose new values wait for a restart of the object (empty
    /// for other notices).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub restart_pending: Vec<String>,
    /// An object virtsync owns whose manifest is gone: the operation
    /// `--prune` would delete it with (`undefine`, `delete-volume`), when
    /// this plan does not (no `--prune`, or a refused one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prune: Option<Operation>,
}

/// A `--prune` guard that refused the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Refusal {
    pub cause: RefusalCause,
    /// What was refused and what to do, for people.
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RefusalCause {
    /// More deletions than `--max-deletions`.
    TooManyDeletions,
    /// No manifest left (after `--selector`) and no `--allow-empty`.
    EmptyDesiredState,
}

/// One action of a plan. `kind` and `operation` are read from `step` when
/// the action is made ([`Action::new`]) and checked against it when a plan
/// is read back, so what a plan shows is what apply executes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", try_from = "ActionData")]
pub struct Action {
    /// Unique in the plan: `[host/]kind/name/operation`.
    pub id: String,
    pub kind: Kind,
    pub name: String,
    /// The Host manifest's name (`""` in JSON for the default connection).
    pub host: HostName,
    pub operation: Operation,
    pub effect: Effect,
    pub changes: Vec<Change>,
    pub depends_on: Vec<String>,
    /// Actions this one runs after, whatever their outcome (ordering only:
    /// their failure does not skip this one).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub after: Vec<String>,
    /// What apply executes.
    pub step: Step,
}

impl Action {
    pub fn new(
        id: String,
        name: String,
        host: HostName,
        effect: Effect,
        changes: Vec<Change>,
        depends_on: Vec<String>,
        step: Step,
    ) -> Action {
        Action {
            id,
            kind: step.kind(),
            name,
            host,
            operation: step.operation(),
            effect,
            changes,
            depends_on,
            after: Vec::new(),
            step,
        }
    }
}

/// An action as written in a plan file, before its kind and operation are
/// checked against its step.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ActionData {
    id: String,
    kind: Kind,
    name: String,
    host: HostName,
    operation: Operation,
    effect: Effect,
    changes: Vec<Change>,
    depends_on: Vec<String>,
    #[serde(default)]
    after: Vec<String>,
    step: Step,
}

impl TryFrom<ActionData> for Action {
    type Error = String;

    fn try_from(d: ActionData) -> Result<Action, String> {
        if d.kind != d.step.kind() || d.operation != d.step.operation() {
            return Err(format!(
                "action {}: its kind and operation ({} {}) do not match its step",
                d.id,
                d.kind,
                d.operation.as_str()
            ));
        }
        let mut a = Action::new(
            d.id,
            d.name,
            d.host,
            d.effect,
            d.changes,
            d.depends_on,
            d.step,
        );
        a.after = d.after;
        Ok(a)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Operation {
    Define,
    Create,
    Undefine,
    Start,
    Shutdown,
    Destroy,
    Suspend,
    Resume,
    Restart,
    SetAutostart,
    UpdateLive,
    UpdateDhcpHosts,
    Build,
    CreateVolume,
    ResizeVolume,
    CreateSnapshot,
    UpdateSnapshot,
    DeleteSnapshot,
    SaveSnapshots,
    RestoreSnapshots,
    /// Take over an existing object as it is (`--adopt`): write the
    /// ownership marker, or record it in the inventory.
    Adopt,
    DeleteVolume,
    Migrate,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Define => "define",
            Operation::Create => "create",
            Operation::Undefine => "undefine",
            Operation::Start => "start",
            Operation::Shutdown => "shutdown",
            Operation::Destroy => "destroy",
            Operation::Suspend => "suspend",
            Operation::Resume => "resume",
            Operation::Restart => "restart",
            Operation::SetAutostart => "set-autostart",
            Operation::UpdateLive => "update-live",
            Operation::Migrate => "migrate",
            Operation::UpdateDhcpHosts => "update-dhcp-hosts",
            Operation::Build => "build",
            Operation::CreateVolume => "create-volume",
            Operation::ResizeVolume => "resize-volume",
            Operation::CreateSnapshot => "create-snapshot",
            Operation::UpdateSnapshot => "update-snapshot",
            Operation::DeleteSnapshot => "delete-snapshot",
            Operation::SaveSnapshots => "save-snapshots",
            Operation::RestoreSnapshots => "restore-snapshots",
            Operation::Adopt => "adopt",
            Operation::DeleteVolume => "delete-volume",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Effect {
    Create,
    Update,
    Power,
    Delete,
    /// To another host (`metadata.host` changed).
    Move,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChangeClass {
    /// Applied to the running object now.
    Live,
    /// Persistent config; takes effect at the next boot (or network/pool restart).
    NextBoot,
    /// Cannot be changed in place.
    Replace,
}

impl ChangeClass {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeClass::Live => "live",
            ChangeClass::NextBoot => "next-boot",
            ChangeClass::Replace => "replace",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Change {
    pub field: String,
    pub from: String,
    pub to: String,
    pub class: ChangeClass,
}

/// An object the plan cannot handle safely this pass (a collision with an
/// unmanaged object, a missing external object, an unreachable host, an
/// object that vanished while it was observed, a change libvirt would
/// refuse), or one that depends on such an object.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Blocked {
    pub kind: Kind,
    pub name: String,
    pub host: HostName,
    /// The manifest (empty for an object a prune cannot delete: its
    /// manifest is gone).
    pub file: String,
    pub line: usize,
    pub reason: String,
    /// Why, as a type: callers (`status`) decide on it, never on `reason`,
    /// which is written for people.
    #[serde(default)]
    pub cause: BlockCause,
    /// The blocked object this one waits for, when it is blocked only
    /// because it depends on it (`[host/]kind/name`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub depends_on: Option<String>,
}

/// The kind of reason an object is blocked for.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum BlockCause {
    /// An object of this name exists on the host and virtsync does not own
    /// it: no ownership marker (domains, networks), not in the inventory
    /// (pools, volumes), a snapshot virtsync did not take.
    Unmanaged,
    /// An object of this name belongs to another manifest set: its marker
    /// (or inventory record) names another owner.
    OtherOwner,
    /// The object's host could not be observed.
    HostUnreachable,
    /// It waits for another blocked object (`dependsOn` names it).
    Dependency,
    /// Anything else the planner cannot do safely this pass (a missing
    /// external object, a change libvirt would refuse, an unreadable
    /// object, ...). Plans written before causes existed read as this.
    #[default]
    Refused,
}

impl std::fmt::Display for Blocked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A prune candidate has no manifest any more.
        if !self.file.is_empty() {
            write!(f, "{}:{}: ", self.file, self.line)?;
        }
        write!(f, "{} `{}`", self.kind, self.name)?;
        if let Some(h) = self.host.name() {
            write!(f, " on host {h}")?;
        }
        write!(f, ": {}", self.reason)
    }
}

/// A host the pass could not observe.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UnreachableHost {
    /// The Host manifest's name (`""` in JSON for the default connection).
    pub host: HostName,
    pub uri: String,
    pub error: String,
}

/// A plan of `actions` alone, for the tests of what is made of plans.
#[cfg(test)]
impl Plan {
    pub(crate) fn of_actions(actions: Vec<Action>) -> Plan {
        Plan {
            format_version: FORMAT_VERSION,
            fingerprint: Fingerprint::default(),
            redacted: false,
            actions,
            blocked: vec![],
            unreachable_hosts: vec![],
            notices: vec![],
            summary: Summary::default(),
            refusal: None,
            live_xml_wanted: Default::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_printed_plan_shows_no_secret_anywhere() {
        let secret = "s3cret";
        let change = |field: &str, to: String| Change {
            field: field.into(),
            from: "(differs)".into(),
            to,
            class: ChangeClass::NextBoot,
        };
        let define = Action::new(
            "domain/web/define".into(),
            "web".into(),
            HostName::DEFAULT,
            Effect::Update,
            vec![
                change(
                    "xml[/domain/devices]",
                    format!("<graphics type='vnc' passwd='{secret}'/>"),
                ),
                change("graphics.passwd", secret.into()),
            ],
            vec![],
            Step::DefineDomain {
                xml: format!("<domain><devices><graphics passwd=\"{secret}\"/></devices></domain>"),
            },
        );
        let live = Action::new(
            "domain/web/update-live".into(),
            "web".into(),
            HostName::DEFAULT,
            Effect::Update,
            vec![],
            vec![],
            Step::UpdateLive {
                memory_kib: None,
                vcpus: None,
                attach: vec![format!("<graphics passwd='{secret}'/>")],
                detach: vec![],
                marker: None,
            },
        );
        let mut fingerprint = Fingerprint::default();
        fingerprint.objects.insert(
            "domain/web".into(),
            super::super::ObjectPrint {
                desired: None,
                observed: "sha256:0".into(),
                secrets: Some("sha256:1".into()),
            },
        );
        let p = Plan {
            fingerprint,
            ..Plan::of_actions(vec![define, live])
        };
        // The plan itself (what apply and saved plans hold) keeps it.
        assert!(serde_json::to_string(&p).unwrap().contains(secret));
        let r = p.redacted();
        let json = serde_json::to_string(&r).unwrap();
        assert!(!json.contains(secret), "{json}");
        assert!(!json.contains("\"secrets\""), "{json}");
        assert!(json.contains("\"redacted\":true"), "{json}");
        let text = super::super::render_text(&p);
        assert!(!text.contains(secret), "{text}");
        assert!(
            text.contains("graphics.passwd: (redacted) → (redacted)"),
            "{text}"
        );
    }
}

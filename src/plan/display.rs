//! The human view of a plan: one line per action with its effect and the
//! classes of its changes, the field diffs under it, notices, a summary.

use std::fmt::Write;

use super::*;

fn symbol(e: Effect) -> char {
    match e {
        Effect::Create => '+',
        Effect::Update => '~',
        Effect::Power => '>',
        Effect::Delete => '-',
        Effect::Move => '»',
    }
}

/// What a new object will be, read back from the XML its action carries
/// (display only: the plan data stays what apply executes).
fn created_summary(a: &Action) -> Option<String> {
    use crate::render::{domain, network, storage};
    if let Step::UploadVolume {
        source, capacity, ..
    } = &a.step
    {
        // Format and size are the image's, known once apply reads it.
        let size = match capacity {
            Some(c) => format!("at least {}", crate::units::format_size(*c)),
            None => "the image's size".into(),
        };
        return Some(format!("from image {}, {size}", source.location));
    }
    if let Step::UploadSeed { files, .. } = &a.step {
        let net = if files.network_config.is_some() {
            ", network-config"
        } else {
            ""
        };
        return Some(format!("cloud-init seed ISO (user-data, meta-data{net})"));
    }
    let xml = a.step.xml()?;
    let root = crate::xml::Element::parse(xml).ok()?;
    Some(match a.kind {
        Kind::Domain => {
            let f = domain::read_domain(&root);
            let mut parts = vec![
                format!("{} memory", f.memory_kib),
                format!("{} vCPU{}", f.vcpus, if f.vcpus == 1 { "" } else { "s" }),
                format!("type {}", f.domain_type),
            ];
            parts.extend(
                f.disks
                    .iter()
                    .map(|d| format!("{} {}", d.target.clone().unwrap_or_default(), d.source)),
            );
            parts.extend(f.interfaces.iter().map(|n| n.source.to_string()));
            parts.join(", ")
        }
        Kind::Network => {
            let f = network::read_network(&root);
            let mut parts = vec![format!("forward {}", f.forward_mode)];
            parts.extend(
                f.ipv4
                    .iter()
                    .chain(f.ipv6.iter())
                    .map(|ip| format!("{}/{}", ip.address, ip.prefix)),
            );
            parts.join(", ")
        }
        Kind::StoragePool => {
            let f = storage::read_pool(&root);
            format!("{} pool at {}", f.pool_type, f.path)
        }
        Kind::Volume => {
            let f = storage::read_volume(&root);
            let mut s = format!(
                "{} {}",
                crate::units::format_size(f.capacity),
                f.format.unwrap_or_else(|| "raw".into())
            );
            if let Some(b) = f.backing_path {
                s.push_str(&format!(", backed by {b}"));
            }
            if let Step::CreateVolume {
                clone_from: Some((p, v)),
                ..
            } = &a.step
            {
                s.push_str(&format!(", copy of {p}/{v}"));
            }
            s
        }
        Kind::Snapshot | Kind::Host => return None,
    })
}

/// What an `adopt` action does, in one line.
fn adopt_summary(a: &Action) -> &'static str {
    match a.step {
        Step::AdoptDomain { .. } | Step::AdoptNetwork { .. } => {
            "taken over as it is: its own definition, plus the ownership marker; differences from the manifest are planned next"
        }
        Step::AdoptTransientDomain { .. } => {
            "taken over as it is: the ownership marker goes into its live definition; differences from the manifest are planned next"
        }
        _ => "taken over as it is: recorded in the inventory; differences from the manifest are planned next",
    }
}

/// What a deletion keeps and removes, from its step (display only).
fn deleted_summary(step: &Step) -> Option<String> {
    match step {
        Step::UndefineDomain { flags } => {
            let mut gone = Vec::new();
            if flags.snapshots_metadata {
                gone.push("snapshot metadata");
            }
            if flags.checkpoints_metadata {
                gone.push("checkpoints");
            }
            if flags.managed_save {
                gone.push("managed save");
            }
            if flags.nvram {
                gone.push("NVRAM");
            }
            let mut s = String::from("keeps its disks");
            if flags.keep_nvram {
                s.push_str(" and NVRAM");
            }
            if !gone.is_empty() {
                s.push_str("; removes its ");
                s.push_str(&gone.join(", "));
            }
            Some(s)
        }
        Step::ShutdownDomain { .. } => {
            Some("a transient domain: gone once it stops (its disks are kept)".into())
        }
        Step::DeleteVolume { .. } => Some("deletes the volume and its data".into()),
        Step::UndefinePool => Some("its directory and the volumes left in it stay on disk".into()),
        _ => None,
    }
}

/// ` on NAME` for an object of a Host manifest, nothing for the default
/// connection.
fn on_host(h: &HostName) -> String {
    h.name().map(|n| format!(" on {n}")).unwrap_or_default()
}

/// Render `plan` for a terminal, as plain text (the command line paints
/// colours on it when stdout takes them: `cli::style`).
pub fn render_text(plan: &Plan) -> String {
    // What people see never shows a secret.
    let plan = &plan.redacted();
    let mut out = String::new();
    if plan.refusal.is_some() {
        // Whatever else it holds, a refused plan is not applied.
        out.push_str(
            "Refused: a --prune guard stops this plan (see the end); nothing will be changed.\n",
        );
    } else if plan.actions.is_empty() && plan.blocked.is_empty() {
        out.push_str("No changes: the hosts match the manifests.\n");
    } else if plan.actions.is_empty() {
        out.push_str("No changes for the objects that could be planned; some are blocked:\n");
    }
    if plan.summary.prune > 0 {
        // Deletions come first: say what they are before listing them.
        let n = plan.summary.prune;
        let _ = writeln!(
            out,
            "Pruning {n} object{} whose manifests are gone (--prune):",
            if n == 1 { "" } else { "s" }
        );
    }
    for a in &plan.actions {
        let host = on_host(&a.host);
        let mut classes: Vec<&str> = a.changes.iter().map(|c| c.class.as_str()).collect();
        classes.sort();
        classes.dedup();
        let class = if classes.is_empty() {
            String::new()
        } else {
            format!(" ({})", classes.join(", "))
        };
        // A migration names its target on its line (its host is the source).
        let target = match &a.step {
            Step::MigrateDomain { to, .. } if !to.is_default() => format!(" to {}", to.label()),
            Step::MigrateDomain { to, .. } => format!(" to {to}"),
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "{} {} {}{host}: {}{target}{class}",
            symbol(a.effect),
            kind_noun(a.kind),
            a.name,
            a.operation.as_str()
        );
        if a.effect == Effect::Create {
            if let Some(d) = created_summary(a) {
                let _ = writeln!(out, "    {d}");
            }
        }
        if a.operation == Operation::Adopt {
            let _ = writeln!(out, "    {}", adopt_summary(a));
        }
        if a.effect == Effect::Delete {
            if let Some(d) = deleted_summary(&a.step) {
                let _ = writeln!(out, "    {d}");
            }
        }
        for c in &a.changes {
            if c.from.contains('\n') || c.to.contains('\n') || c.from.len() + c.to.len() > 100 {
                let _ = writeln!(out, "    {} [{}]:", c.field, c.class.as_str());
                let diff = similar::TextDiff::from_lines(&c.from, &c.to);
                for line in diff
                    .unified_diff()
                    .context_radius(2)
                    // A value without a final newline is no news to anyone.
                    .missing_newline_hint(false)
                    .to_string()
                    .lines()
                {
                    let _ = writeln!(out, "      {line}");
                }
            } else {
                let from = if c.from.is_empty() {
                    "(unset)"
                } else {
                    &c.from
                };
                let to = if c.to.is_empty() { "(unset)" } else { &c.to };
                let _ = writeln!(out, "    {}: {from} → {to} [{}]", c.field, c.class.as_str());
            }
        }
    }
    for h in &plan.unreachable_hosts {
        let name = h.host.to_string();
        let _ = writeln!(
            out,
            "! {name} ({}) could not be observed: {}",
            h.uri, h.error
        );
    }
    for b in &plan.blocked {
        let host = on_host(&b.host);
        // An object a prune cannot delete has no manifest to point at.
        let at = if b.file.is_empty() {
            String::new()
        } else {
            format!(" ({}:{})", b.file, b.line)
        };
        let _ = writeln!(
            out,
            "x {} {}{host}: blocked: {}{at}",
            kind_noun(b.kind),
            b.name,
            b.reason,
        );
    }
    for n in &plan.notices {
        let host = on_host(&n.host);
        let _ = writeln!(
            out,
            "! {} {}{host}: {}",
            kind_noun(n.kind),
            n.name,
            n.message
        );
    }
    if let Some(r) = &plan.refusal {
        let _ = writeln!(out, "x {}", r.message);
    }
    let s = &plan.summary;
    let _ = writeln!(
        out,
        "\nPlan: {} to create, {} to update, {} power, {} to delete{} ({} actions){}{}",
        s.create,
        s.update,
        s.power,
        s.delete,
        if s.moved > 0 {
            format!(", {} to move", s.moved)
        } else {
            String::new()
        },
        s.total,
        if s.restart_pending > 0 {
            format!("; {} restart pending", s.restart_pending)
        } else {
            String::new()
        },
        if s.blocked > 0 {
            format!("; {} blocked", s.blocked)
        } else {
            String::new()
        }
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_multi_line_diff_never_says_no_newline_at_end_of_file() {
        let change = Change {
            field: "xml[/domain/devices]".into(),
            // Values as manifests and libvirt give them: no final newline.
            from: "<a/>\n<b/>".into(),
            to: "<a/>\n<c/>".into(),
            class: ChangeClass::NextBoot,
        };
        let define = Action::new(
            "domain/web/define".into(),
            "web".into(),
            HostName::DEFAULT,
            Effect::Update,
            vec![change],
            vec![],
            Step::DefineDomain {
                xml: "<domain/>".into(),
            },
        );
        let p = Plan::of_actions(vec![define]);
        let text = render_text(&p);
        assert!(text.contains("      -<b/>\n      +<c/>\n"), "{text}");
        assert!(!text.contains("No newline"), "{text}");
    }
}

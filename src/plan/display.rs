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
    }
}

/// Render `plan` for a terminal (no colours: output is often piped to
/// files and CI logs).
pub fn render_text(plan: &Plan) -> String {
    let mut out = String::new();
    if plan.actions.is_empty() {
        out.push_str("No changes: the hosts match the manifests.\n");
    }
    for a in &plan.actions {
        let host = if a.host.is_empty() {
            String::new()
        } else {
            format!(" on {}", a.host)
        };
        let mut classes: Vec<&str> = a.changes.iter().map(|c| c.class.as_str()).collect();
        classes.sort();
        classes.dedup();
        let class = if classes.is_empty() {
            String::new()
        } else {
            format!(" ({})", classes.join(", "))
        };
        let _ = writeln!(
            out,
            "{} {} {}{host}: {}{class}",
            symbol(a.effect),
            kind_noun(a.kind),
            a.name,
            a.operation.as_str()
        );
        for c in &a.changes {
            if c.from.contains('\n') || c.to.contains('\n') || c.from.len() + c.to.len() > 100 {
                let _ = writeln!(out, "    {} [{}]:", c.field, c.class.as_str());
                let diff = similar::TextDiff::from_lines(&c.from, &c.to);
                for line in diff.unified_diff().context_radius(2).to_string().lines() {
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
    for n in &plan.notices {
        let host = if n.host.is_empty() {
            String::new()
        } else {
            format!(" on {}", n.host)
        };
        let _ = writeln!(
            out,
            "! {} {}{host}: {}",
            kind_noun(n.kind),
            n.name,
            n.message
        );
    }
    let s = &plan.summary;
    let _ = writeln!(
        out,
        "\nPlan: {} to create, {} to update, {} power, {} to delete ({} actions){}",
        s.create,
        s.update,
        s.power,
        s.delete,
        s.total,
        if s.restart_pending > 0 {
            format!("; {} restart pending", s.restart_pending)
        } else {
            String::new()
        }
    );
    out
}

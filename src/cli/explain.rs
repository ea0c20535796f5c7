//! `virtsync explain KIND[.field...]`: print what
//! [`crate::manifest::explain`] found, kubectl-style.

use std::io::Write;

use super::{exit, CliError, ExplainArgs};
use crate::manifest::explain::{explain as find, Explanation};

pub fn explain(args: &ExplainArgs) -> Result<u8, CliError> {
    let e = find(&args.path).map_err(|e| CliError::Refused(e.to_string()))?;
    write!(std::io::stdout().lock(), "{}", render(&e))?;
    Ok(exit::OK)
}

/// The text `explain` prints.
pub fn render(e: &Explanation) -> String {
    let mut out = format!("FIELD:    {}\n", e.path);
    out.push_str(&format!(
        "TYPE:     {}{}\n",
        e.type_name,
        if e.required { " (required)" } else { "" }
    ));
    out.push_str(&format!(
        "DEFAULT:  {}\n",
        e.default.as_deref().unwrap_or(if e.required {
            "(none: required)"
        } else {
            "(none: unset leaves it unmanaged or to libvirt)"
        })
    ));
    if let Some(c) = &e.class {
        out.push_str(&format!("CHANGE:   {}: {}\n", c.class, c.note));
    }
    if let Some(d) = &e.description {
        out.push_str(&format!("\nDESCRIPTION:\n{}\n", indent(d)));
    }
    if let Some(x) = &e.example {
        out.push_str(&format!("\nEXAMPLE:\n{}\n", indent(x)));
    }
    if !e.fields.is_empty() {
        out.push_str("\nFIELDS:\n");
        let width = e.fields.iter().map(|(n, _, _)| n.len()).max().unwrap_or(0);
        for (name, ty, desc) in &e.fields {
            out.push_str(&format!("  {name:<width$}  <{ty}>  {desc}\n"));
        }
    }
    out
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("  {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

//! Colours for people at a terminal: the plan's symbols (`+ ~ > - x !`)
//! and change classes (`[live]`, `[next-boot]`, `[replace]`), and the
//! STATUS column of `status`.
//!
//! Whether to colour is decided once per process, as clap and ripgrep
//! decide: `--color always|never`, else `NO_COLOR` / `CLICOLOR_FORCE`, else
//! whether stdout is a terminal (anstream's rules). The library renders
//! plain text (tests, files, the JSON plan); colour is painted on here,
//! line by line, so the two can never disagree in content.

use std::sync::atomic::{AtomicBool, Ordering};

use anstyle::{AnsiColor, Style};

use super::ColorWhen;

static ENABLED: AtomicBool = AtomicBool::new(false);

/// Decide, for this process, whether stdout gets colours.
pub fn init(when: ColorWhen) {
    let on = match when {
        ColorWhen::Always => true,
        ColorWhen::Never => false,
        ColorWhen::Auto => {
            anstream::AutoStream::choice(&std::io::stdout()) != anstream::ColorChoice::Never
        }
    };
    ENABLED.store(on, Ordering::Relaxed);
}

/// Whether [`init`] turned colours on.
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

fn fg(c: AnsiColor) -> Style {
    Style::new().fg_color(Some(c.into()))
}

/// The style of a line that starts with a plan symbol.
fn symbol_style(c: char) -> Option<Style> {
    Some(match c {
        '+' => fg(AnsiColor::Green),
        '~' => fg(AnsiColor::Yellow),
        '>' => fg(AnsiColor::Cyan),
        '»' => fg(AnsiColor::Blue).bold(),
        '-' => fg(AnsiColor::Red),
        'x' => fg(AnsiColor::Red).bold(),
        '!' => fg(AnsiColor::Magenta),
        _ => return None,
    })
}

/// The style of a change class: what disturbs the guest most is loudest.
fn class_style(class: &str) -> Option<Style> {
    Some(match class {
        "live" => fg(AnsiColor::Green),
        "next-boot" => fg(AnsiColor::Yellow),
        "replace" => fg(AnsiColor::Red).bold(),
        _ => return None,
    })
}

fn paint(out: &mut String, s: &str, style: Style) {
    out.push_str(&format!("{style}{s}{style:#}"));
}

/// `text` (a rendered plan) with its symbols and classes coloured when
/// [`enabled`], unchanged otherwise.
pub fn plan(text: &str) -> String {
    if !enabled() {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + text.len() / 4);
    for line in text.split_inclusive('\n') {
        paint_line(&mut out, line);
    }
    out
}

fn paint_line(out: &mut String, line: &str) {
    let mut rest = line;
    // An action, blocked object or notice: its leading symbol.
    if let Some(style) = rest
        .chars()
        .next()
        .filter(|_| rest.chars().nth(1) == Some(' '))
        .and_then(symbol_style)
    {
        paint(out, &rest[..1], style);
        rest = &rest[1..];
    } else if let Some(style) = diff_line_style(rest) {
        // A line of a unified diff under a field.
        let body = rest.trim_end_matches('\n');
        paint(out, body, style);
        out.push_str(&rest[body.len()..]);
        return;
    }
    // Classes: `[live]` after a field, `(live, replace)` after an action.
    while let Some(start) = rest.find(['[', '(']) {
        let close = if rest.as_bytes()[start] == b'[' {
            ']'
        } else {
            ')'
        };
        let Some(len) = rest[start..].find(close) else {
            break;
        };
        out.push_str(&rest[..=start]);
        let inner = &rest[start + 1..start + len];
        let classes: Vec<&str> = inner.split(", ").collect();
        if classes.iter().all(|c| class_style(c).is_some()) {
            for (i, c) in classes.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                paint(out, c, class_style(c).expect("checked above"));
            }
        } else {
            out.push_str(inner);
        }
        out.push(close);
        rest = &rest[start + len + 1..];
    }
    out.push_str(rest);
}

/// The style of a `status` label: what needs nothing is green, what
/// `apply` fixes yellow, what it cannot red.
fn status_style(label: &str) -> Option<Style> {
    Some(match label {
        "in sync" => fg(AnsiColor::Green),
        "drifted" | "restart pending" | "missing" => fg(AnsiColor::Yellow),
        "unmanaged collision" | "planning error" | "host unreachable" => fg(AnsiColor::Red),
        _ => return None,
    })
}

/// `text` (the `status` table) with its STATUS column coloured when
/// [`enabled`], unchanged otherwise. The column starts where its header
/// does; the padding is not touched, so the table stays aligned.
pub fn status(text: &str) -> String {
    let Some(col) = text.lines().next().and_then(|h| h.find("STATUS")) else {
        return text.to_string();
    };
    if !enabled() {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for line in text.split_inclusive('\n') {
        let cell = line.get(col..).and_then(|rest| {
            let label = rest.split("  ").next()?.trim_end();
            Some((label, status_style(label)?))
        });
        match cell {
            Some((label, style)) => {
                out.push_str(&line[..col]);
                paint(&mut out, label, style);
                out.push_str(&line[col + label.len()..]);
            }
            None => out.push_str(line),
        }
    }
    out
}

/// Diff lines are indented six spaces under their field.
fn diff_line_style(line: &str) -> Option<Style> {
    let body = line.strip_prefix("      ")?;
    if body.starts_with("+++") || body.starts_with("---") {
        return None;
    }
    match body.chars().next()? {
        '+' => Some(fg(AnsiColor::Green)),
        '-' => Some(fg(AnsiColor::Red)),
        '@' => Some(fg(AnsiColor::Cyan)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn painting_changes_no_visible_character() {
        ENABLED.store(true, Ordering::Relaxed);
        let text = "~ domain web: define (live, next-boot)\n    memory: 1GiB → 2GiB [live]\n    xml [replace]:\n      @@ -1 +1 @@\n      -a\n      +b\n- domain old: undefine\nx domain b: blocked: why (a.yaml:3)\n\nPlan: 0 to create (1 actions)\n";
        let painted = plan(text);
        assert!(painted.contains("\x1b["), "{painted}");
        let stripped = anstream::adapter::strip_str(&painted).to_string();
        assert_eq!(stripped, text);
        let table = "KIND    NAME  STATUS           DETAILS\ndomain  web   in sync\ndomain  db    restart pending  memory\n\nStatus: 2 objects\n";
        let painted = status(table);
        assert!(painted.contains("\x1b[32min sync\x1b[0m"), "{painted}");
        assert_eq!(anstream::adapter::strip_str(&painted).to_string(), table);
    }
}

//! A first pass over a file's YAML events, before serde reads it.
//!
//! serde gives one error per document and no positions for values it
//! accepted, yet semantic errors (a bad MAC, a missing reference) must say
//! `file:line:column`. This pass walks the parser's events once and keeps,
//! per document, an index from a field path (`spec.disks[0].volume.pool`) to
//! the position of its value. It also does what serde cannot: it rejects
//! duplicate keys in every mapping (yaml_serde silently keeps the last one in
//! maps such as `labels`) and bounds alias expansion, so a billion-laughs
//! file is refused after a few thousand nodes instead of exhausting memory.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, Span};

/// 1-based line and column of a place in a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
}

impl Pos {
    fn of(span: &Span) -> Pos {
        Pos {
            line: span.start.line(),
            column: span.start.col() + 1,
        }
    }
}

/// How many nodes aliases may add to a file by expansion. Real manifests use
/// a handful of anchors; an expansion larger than this is an attack or a
/// mistake.
pub const ALIAS_NODE_BUDGET: usize = 10_000;

/// Positions and facts about one YAML document.
#[derive(Debug, Default)]
pub struct DocIndex {
    /// Where the document starts.
    pub start: Pos,
    /// Field path → (key position, value position).
    paths: HashMap<String, (Pos, Pos)>,
    /// Top-level scalar values (`apiVersion`, `kind`) by key.
    pub top_scalars: HashMap<String, String>,
    /// Whether the document's root node is a mapping; `None` for an empty document.
    pub root_is_mapping: Option<bool>,
    /// Shape problems found by this pass (duplicate keys, alias budget).
    pub errors: Vec<(Pos, String)>,
}

impl DocIndex {
    /// Position of the value at `path`, or of its closest ancestor that the
    /// document has (a missing field is reported where its parent is).
    pub fn pos(&self, path: &str) -> Pos {
        let mut p = path;
        loop {
            if let Some((_, v)) = self.paths.get(p) {
                return *v;
            }
            match parent(p) {
                Some(up) => p = up,
                None => return self.start,
            }
        }
    }

    /// Position of the key of `path` (for "unknown" or "duplicate" errors),
    /// falling back like [`DocIndex::pos`].
    pub fn key_pos(&self, path: &str) -> Pos {
        match self.paths.get(path) {
            Some((k, _)) => *k,
            None => self.pos(path),
        }
    }

    /// Whether the document sets `path` at all.
    pub fn has(&self, path: &str) -> bool {
        self.paths.contains_key(path)
    }

    pub fn is_empty(&self) -> bool {
        self.root_is_mapping.is_none()
    }
}

fn parent(path: &str) -> Option<&str> {
    if path.is_empty() {
        return None;
    }
    let cut = path.rfind(['.', '[']).unwrap_or(0);
    Some(&path[..cut])
}

/// The YAML could not be parsed at all (a syntax error). Documents before
/// the error are still indexed.
#[derive(Debug)]
pub struct SyntaxError {
    pub pos: Pos,
    pub message: String,
}

enum Frame {
    Map {
        path: String,
        seen: HashMap<String, Pos>,
        /// The key waiting for its value, with its position.
        pending_key: Option<(String, Pos)>,
        anchor: usize,
        nodes: usize,
    },
    Seq {
        path: String,
        next: usize,
        anchor: usize,
        nodes: usize,
    },
}

/// Walk the events of `text` and index every document.
pub fn index(text: &str) -> (Vec<DocIndex>, Option<SyntaxError>) {
    let mut docs: Vec<DocIndex> = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    // Expanded node count of each anchored node, for the alias budget.
    let mut anchor_sizes: HashMap<usize, usize> = HashMap::new();
    let mut alias_nodes = 0usize;
    let mut budget_reported = false;
    let mut complex_key_depth = 0usize;

    for event in Parser::new_from_str(text) {
        let (event, span) = match event {
            Ok(e) => e,
            Err(e) => return (docs, Some(syntax_error(text, &e))),
        };
        let pos = Pos::of(&span);
        match event {
            Event::DocumentStart(_) => {
                docs.push(DocIndex {
                    start: pos,
                    ..DocIndex::default()
                });
                stack.clear();
            }
            Event::Scalar(value, _, anchor, _) => {
                if let Some(doc) = docs.last_mut() {
                    if complex_key_depth == 0 {
                        node(
                            doc,
                            &mut stack,
                            pos,
                            Some(value.as_ref()),
                            1,
                            anchor,
                            &mut anchor_sizes,
                        );
                    }
                }
            }
            Event::Alias(id) => {
                let size = anchor_sizes.get(&id).copied().unwrap_or(1);
                alias_nodes = alias_nodes.saturating_add(size);
                if let Some(doc) = docs.last_mut() {
                    if alias_nodes > ALIAS_NODE_BUDGET && !budget_reported {
                        budget_reported = true;
                        doc.errors.push((
                            pos,
                            format!(
                                "aliases expand to more than {ALIAS_NODE_BUDGET} nodes; refusing this file (write the values out instead of nesting aliases)"
                            ),
                        ));
                    }
                    if complex_key_depth == 0 {
                        node(doc, &mut stack, pos, None, size, 0, &mut anchor_sizes);
                    }
                }
                if budget_reported {
                    // Stop here: the rest of the file is not worth reading.
                    return (docs, None);
                }
            }
            Event::MappingStart(anchor, _) | Event::SequenceStart(anchor, _) => {
                let is_map = matches!(event, Event::MappingStart(..));
                let Some(doc) = docs.last_mut() else { continue };
                if complex_key_depth > 0 || in_key_position(&stack) {
                    // A mapping or sequence used as a key: not something a
                    // manifest has; serde reports it. Skip its contents.
                    complex_key_depth += 1;
                    continue;
                }
                let path = child_path(doc, &mut stack, pos);
                if stack.is_empty() {
                    doc.root_is_mapping = Some(is_map);
                }
                stack.push(if is_map {
                    Frame::Map {
                        path,
                        seen: HashMap::new(),
                        pending_key: None,
                        anchor,
                        nodes: 1,
                    }
                } else {
                    Frame::Seq {
                        path,
                        next: 0,
                        anchor,
                        nodes: 1,
                    }
                });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                if complex_key_depth > 0 {
                    complex_key_depth -= 1;
                    if complex_key_depth == 0 {
                        // The complex key is done; its value follows.
                        if let Some(Frame::Map { pending_key, .. }) = stack.last_mut() {
                            *pending_key = Some((String::from("?"), pos));
                        }
                    }
                    continue;
                }
                if let Some(frame) = stack.pop() {
                    let (anchor, nodes) = match frame {
                        Frame::Map { anchor, nodes, .. } | Frame::Seq { anchor, nodes, .. } => {
                            (anchor, nodes)
                        }
                    };
                    if anchor != 0 {
                        anchor_sizes.insert(anchor, nodes);
                    }
                    add_nodes(&mut stack, nodes);
                }
            }
            Event::DocumentEnd | Event::StreamStart | Event::StreamEnd | Event::Nothing => {}
        }
    }
    (docs, None)
}

/// A parser error, placed and worded for people.
fn syntax_error(text: &str, e: &saphyr_parser::ScanError) -> SyntaxError {
    let info = e.info();
    let mut pos = Pos {
        line: e.marker().line(),
        column: e.marker().col() + 1,
    };
    let char_at = |pos: Pos| {
        text.lines()
            .nth(pos.line.saturating_sub(1))
            .and_then(|l| l.chars().nth(pos.column.saturating_sub(1)))
    };
    // Match the word, not the letters: "unprintable" is no tab.
    let mentions_tab = info
        .split(|c: char| !c.is_ascii_alphabetic())
        .any(|w| w == "tab" || w == "tabs");
    let message = if mentions_tab || char_at(pos) == Some('\t') {
        // The parser marks where the construct it was reading started,
        // which can be a line or more before the tab; point at the tab.
        if char_at(pos) != Some('\t') {
            if let Some(tab) = first_tab_from(text, pos.line) {
                pos = tab;
            }
        }
        format!(
            "YAML syntax error: {info} (YAML indents and separates with spaces; replace the tab)"
        )
    } else if info.contains("unprintable") {
        match char_at(pos) {
            Some(c) => format!(
                "YAML syntax error: {info} U+{:04X}; manifests are plain text: remove it",
                c as u32
            ),
            None => format!("YAML syntax error: {info}; manifests are plain text: remove it"),
        }
    } else {
        format!("YAML syntax error: {info}")
    };
    SyntaxError { pos, message }
}

/// The first tab on line `line` (1-based) or after it.
fn first_tab_from(text: &str, line: usize) -> Option<Pos> {
    text.lines()
        .enumerate()
        .skip(line.saturating_sub(1))
        .find_map(|(i, l)| {
            l.chars().position(|c| c == '\t').map(|c| Pos {
                line: i + 1,
                column: c + 1,
            })
        })
}

fn in_key_position(stack: &[Frame]) -> bool {
    matches!(
        stack.last(),
        Some(Frame::Map {
            pending_key: None,
            ..
        })
    )
}

fn add_nodes(stack: &mut [Frame], n: usize) {
    if let Some(Frame::Map { nodes, .. } | Frame::Seq { nodes, .. }) = stack.last_mut() {
        *nodes = nodes.saturating_add(n);
    }
}

/// The path of the node that starts now at `pos` (a value in the current
/// mapping or an item of the current sequence), recorded in the index.
fn child_path(doc: &mut DocIndex, stack: &mut [Frame], pos: Pos) -> String {
    match stack.last_mut() {
        None => String::new(),
        Some(Frame::Seq { path, next, .. }) => {
            let p = format!("{path}[{next}]");
            *next += 1;
            doc.paths.insert(p.clone(), (pos, pos));
            p
        }
        Some(Frame::Map {
            path, pending_key, ..
        }) => {
            let (key, key_pos) = pending_key.take().unwrap_or_default();
            let p = if path.is_empty() {
                key
            } else {
                format!("{path}.{key}")
            };
            doc.paths.insert(p.clone(), (key_pos, pos));
            p
        }
    }
}

/// A scalar or alias node at `pos`.
fn node(
    doc: &mut DocIndex,
    stack: &mut [Frame],
    pos: Pos,
    scalar: Option<&str>,
    size: usize,
    anchor: usize,
    anchor_sizes: &mut HashMap<usize, usize>,
) {
    if anchor != 0 {
        anchor_sizes.insert(anchor, size);
    }
    match stack.last_mut() {
        Some(Frame::Map {
            path,
            seen,
            pending_key,
            nodes,
            ..
        }) if pending_key.is_none() => {
            // A key.
            *nodes = nodes.saturating_add(size);
            let key = scalar.unwrap_or("*alias").to_string();
            if let Some(first) = seen.get(&key) {
                let shown = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                doc.errors.push((
                    pos,
                    format!(
                        "duplicate key `{shown}` (first set at line {}); YAML keeps only one of them, so say it once",
                        first.line
                    ),
                ));
            } else {
                seen.insert(key.clone(), pos);
            }
            *pending_key = Some((key, pos));
        }
        _ => {
            let top = stack.len() == 1;
            let p = child_path(doc, stack, pos);
            if top {
                if let Some(v) = scalar {
                    doc.top_scalars.insert(p, v.to_string());
                }
            }
            if stack.is_empty() {
                doc.root_is_mapping = Some(false);
                // A bare scalar document; `~`/empty is an empty document.
                if matches!(scalar, Some("" | "~" | "null")) {
                    doc.root_is_mapping = None;
                }
            }
            add_nodes(stack, size);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexes_nested_paths() {
        let (docs, err) =
            index("kind: Domain\nspec:\n  disks:\n    - volume: {pool: p, name: n}\n");
        assert!(err.is_none());
        assert_eq!(docs.len(), 1);
        let d = &docs[0];
        assert_eq!(
            d.top_scalars.get("kind").map(String::as_str),
            Some("Domain")
        );
        assert_eq!(
            d.pos("spec.disks[0].volume.pool"),
            Pos {
                line: 4,
                column: 22
            }
        );
        assert_eq!(d.key_pos("spec.disks"), Pos { line: 3, column: 3 });
        // A missing field falls back to its closest ancestor.
        assert_eq!(d.pos("spec.disks[0].target"), Pos { line: 4, column: 7 });
    }

    #[test]
    fn duplicate_keys_in_maps_are_errors() {
        let (docs, _) = index("metadata:\n  labels:\n    a: 1\n    a: 2\n");
        assert_eq!(docs[0].errors.len(), 1);
        assert_eq!(docs[0].errors[0].0, Pos { line: 4, column: 5 });
        assert!(docs[0].errors[0].1.contains("metadata.labels.a"));
    }

    #[test]
    fn billion_laughs_is_refused_quickly() {
        let mut text = String::from("a: &a [x,x,x,x,x,x,x,x,x]\n");
        let mut prev = 'a';
        for c in 'b'..='z' {
            text.push_str(&format!(
                "{c}: &{c} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"
            ));
            prev = c;
        }
        let (docs, _) = index(&text);
        assert!(docs[0].errors[0].1.contains("aliases expand"));
    }

    #[test]
    fn multiple_documents() {
        let (docs, err) = index("---\nkind: A\n---\n# only a comment\n---\nkind: B\n");
        assert!(err.is_none());
        let kinds: Vec<_> = docs
            .iter()
            .map(|d| d.top_scalars.get("kind").cloned())
            .collect();
        assert_eq!(kinds, vec![Some("A".into()), None, Some("B".into())]);
        assert!(docs[1].is_empty());
    }
}

//! `virtsync explain KIND[.field...]` (like `kubectl explain`): a kind's or
//! field's type, description, default, how a change reaches the host
//! ([`super::classes`]) and an example — read from the JSON Schema that
//! `virtsync schema` prints ([`super::types::json_schema`]), so that the
//! two never disagree, and from the example manifests shipped with the
//! repository.

use serde_json::Value;

use super::classes::{class_of, FieldClass};
use super::suggest::did_you_mean;

/// What `explain` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation {
    /// `Kind.field.field`, spelled as the manifests spell it.
    pub path: String,
    /// The type in words: `Size (string)`, `list of DiskSpec`, `one of
    /// running, shutoff`, ...
    pub type_name: String,
    pub required: bool,
    pub description: Option<String>,
    pub default: Option<String>,
    pub class: Option<FieldClass>,
    /// A YAML snippet.
    pub example: Option<String>,
    /// The fields below it: name, type, first sentence of its description.
    pub fields: Vec<(String, String, String)>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ExplainError {
    #[error("unknown kind `{given}`; kinds: {known}")]
    UnknownKind { given: String, known: String },
    #[error("{parent} has no field `{given}`{suggestion}; its fields: {known}")]
    UnknownField {
        parent: String,
        given: String,
        suggestion: String,
        known: String,
    },
}

/// The example manifests, searched for a value of the field explained.
const EXAMPLES: &[&str] = &[
    include_str!("../../examples/quickstart/domains.yaml"),
    include_str!("../../examples/quickstart/network.yaml"),
    include_str!("../../examples/quickstart/storage.yaml"),
    include_str!("../../manifests/vms/web.yaml"),
    include_str!("../../manifests/vms/db-1.yaml"),
    include_str!("../../manifests/vms/pxe-1.yaml"),
    include_str!("../../manifests/vms/arm64-build.yaml"),
    include_str!("../../manifests/networks/lab.yaml"),
    include_str!("../../manifests/networks/backend.yaml"),
    include_str!("../../manifests/storage/pools.yaml"),
    include_str!("../../manifests/storage/images.yaml"),
    include_str!("../../manifests/storage/volumes-kvm-a.yaml"),
    include_str!("../../manifests/snapshots/web-1.yaml"),
    include_str!("../../manifests/hosts/kvm-a.yaml"),
];

/// Explain `query` (`Domain`, `Domain.spec.memory`, `network.spec.ipv4`).
pub fn explain(query: &str) -> Result<Explanation, ExplainError> {
    let root = super::types::json_schema();
    let defs = root.get("$defs").cloned().unwrap_or(Value::Null);
    let kinds: Vec<&Value> = root["oneOf"].as_array().into_iter().flatten().collect();
    let mut segments = query.split('.').filter(|s| !s.is_empty());
    let given = segments.next().unwrap_or_default();
    let kind_names: Vec<&str> = kinds.iter().filter_map(|k| k["title"].as_str()).collect();
    let Some(kind) = kinds.iter().find(|k| {
        k["title"]
            .as_str()
            .is_some_and(|t| t.eq_ignore_ascii_case(given))
    }) else {
        return Err(ExplainError::UnknownKind {
            given: given.to_string(),
            known: kind_names.join(", "),
        });
    };
    let kind_name = kind["title"].as_str().unwrap_or_default().to_string();
    let mut node: Value = (*kind).clone();
    let mut path: Vec<String> = Vec::new();
    let mut required = true;
    for seg in segments {
        let parent = resolve(&node, &defs);
        let props = parent["properties"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        let name = props
            .keys()
            .find(|k| k.as_str() == seg)
            .or_else(|| props.keys().find(|k| k.eq_ignore_ascii_case(seg)))
            .cloned();
        let Some(name) = name else {
            let here = std::iter::once(kind_name.as_str())
                .chain(path.iter().map(String::as_str))
                .collect::<Vec<_>>()
                .join(".");
            return Err(ExplainError::UnknownField {
                parent: here,
                given: seg.to_string(),
                suggestion: did_you_mean(seg, props.keys().map(String::as_str))
                    .map(|s| format!(" (did you mean `{s}`?)"))
                    .unwrap_or_default(),
                known: props.keys().cloned().collect::<Vec<_>>().join(", "),
            });
        };
        required = parent["required"]
            .as_array()
            .is_some_and(|r| r.iter().any(|x| x.as_str() == Some(name.as_str())))
            && !nullable(&props[&name]);
        node = props[&name].clone();
        path.push(name);
    }
    let field_path = path.join(".");
    let resolved = resolve(&node, &defs);
    let description = text(&node, "description").or_else(|| text(&resolved, "description"));
    let default = node
        .get("default")
        .or_else(|| resolved.get("default"))
        .map(|v| v.to_string())
        .or_else(|| description.as_deref().and_then(default_sentence));
    let fields = resolved["properties"]
        .as_object()
        .map(|props| {
            props
                .iter()
                .map(|(k, v)| {
                    let d = text(v, "description")
                        .or_else(|| text(&resolve(v, &defs), "description"))
                        .unwrap_or_default();
                    (k.clone(), type_name(v, &defs), first_sentence(&d))
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(Explanation {
        path: std::iter::once(kind_name.clone())
            .chain(path.iter().cloned())
            .collect::<Vec<_>>()
            .join("."),
        type_name: if path.is_empty() {
            "object (a manifest document)".into()
        } else {
            type_name(&node, &defs)
        },
        required,
        description,
        default,
        class: class_of(&kind_name, &field_path),
        example: example(&kind_name, &path, &node, &defs),
        fields,
    })
}

/// The schema a field's value follows: `$ref`s followed, the `null` of an
/// optional field and the item of a list looked through.
fn resolve(node: &Value, defs: &Value) -> Value {
    let mut node = node.clone();
    for _ in 0..8 {
        if let Some(r) = node["$ref"].as_str() {
            let name = r.trim_start_matches("#/$defs/");
            node = defs[name].clone();
        } else if let Some(any) = node["anyOf"].as_array().filter(|a| nullable_any(a)) {
            match any.iter().find(|v| v["type"] != "null") {
                Some(v) => node = v.clone(),
                None => break,
            }
        } else if node["items"].is_object() {
            node = node["items"].clone();
        } else {
            break;
        }
    }
    node
}

fn nullable_any(any: &[Value]) -> bool {
    any.len() == 2 && any.iter().any(|v| v["type"] == "null")
}

/// Optional: `null` is one of its types.
fn nullable(node: &Value) -> bool {
    node["type"]
        .as_array()
        .is_some_and(|t| t.iter().any(|x| x == "null"))
        || node["anyOf"].as_array().is_some_and(|a| nullable_any(a))
}

fn text(node: &Value, key: &str) -> Option<String> {
    node.get(key)?.as_str().map(str::to_string)
}

/// The type of a field in words.
fn type_name(node: &Value, defs: &Value) -> String {
    if let Some(r) = node["$ref"].as_str() {
        let name = r.trim_start_matches("#/$defs/");
        let def = &defs[name];
        return match type_name(def, defs).as_str() {
            "object" => name.to_string(),
            inner => format!("{name} ({inner})"),
        };
    }
    // A typed value with alternatives of format only (IpAddress) is its type.
    if let Some(any) = node["anyOf"]
        .as_array()
        .filter(|_| !node["type"].is_string())
    {
        let parts: Vec<String> = any
            .iter()
            .filter(|v| v["type"] != "null")
            .map(|v| type_name(v, defs))
            .collect();
        if !parts.is_empty() {
            return parts.join(" or ");
        }
    }
    if let Some(values) = node["enum"].as_array() {
        let names: Vec<String> = values
            .iter()
            .filter(|v| !v.is_null())
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
            .collect();
        return format!("one of {}", names.join(", "));
    }
    if let Some(c) = node.get("const") {
        return format!("exactly {c}");
    }
    if let Some(one) = node["oneOf"].as_array() {
        // String enums with a description per value.
        let names: Vec<String> = one
            .iter()
            .filter_map(|v| v.get("const").or_else(|| v["enum"].get(0)))
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
            .collect();
        if !names.is_empty() {
            return format!("one of {}", names.join(", "));
        }
    }
    let types: Vec<&str> = match &node["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts
            .iter()
            .filter_map(Value::as_str)
            .filter(|t| *t != "null")
            .collect(),
        _ => vec![],
    };
    match types.first().copied() {
        Some("array") => format!("list of {}", type_name(&node["items"], defs)),
        Some(t) => t.to_string(),
        None => "object".into(),
    }
}

/// The sentences of a description that give its default.
fn default_sentence(description: &str) -> Option<String> {
    let found: Vec<&str> = description
        .split_inclusive(". ")
        .map(str::trim)
        .filter(|s| {
            let l = s.to_ascii_lowercase();
            l.contains("default") || l.starts_with("unset")
        })
        .collect();
    (!found.is_empty()).then(|| found.join(" "))
}

/// Up to the first ". " before a capital letter (not "e.g. x", not "...").
fn first_sentence(d: &str) -> String {
    let d = d.replace('\n', " ");
    let end = d.match_indices(". ").map(|(i, _)| i).find(|&i| {
        d[i + 2..].starts_with(|c: char| c.is_ascii_uppercase()) && !d[..i].ends_with("e.g")
    });
    match end {
        Some(i) => d[..=i].to_string(),
        None => d,
    }
}

/// An example: the field as the shipped manifests set it, else the
/// schema's own `examples`.
fn example(kind: &str, path: &[String], node: &Value, defs: &Value) -> Option<String> {
    for text in EXAMPLES {
        for doc in text.split("\n---") {
            let Ok(v) = serde_yaml::from_str::<Value>(doc) else {
                continue;
            };
            if v["kind"].as_str() != Some(kind) {
                continue;
            }
            if path.is_empty() {
                // The document as written, without the file's comments.
                let lines: Vec<&str> = doc
                    .lines()
                    .filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
                    .collect();
                return Some(lines.join("\n"));
            }
            let mut at = &v;
            for seg in path {
                at = match at {
                    Value::Array(items) => items.iter().find(|i| !i[seg].is_null())?.get(seg)?,
                    _ => at.get(seg.as_str()).filter(|x| !x.is_null())?,
                };
            }
            if let Some(snippet) = nest(path, at) {
                return Some(snippet);
            }
        }
    }
    let resolved = resolve(node, defs);
    let first = resolved["examples"]
        .get(0)
        .or_else(|| node["examples"].get(0))?;
    nest(path, first)
}

/// `value` under its path, as YAML (`spec:\n  memory: 1GiB`).
fn nest(path: &[String], value: &Value) -> Option<String> {
    let mut v = value.clone();
    for seg in path.iter().rev() {
        v = serde_json::json!({ seg.as_str(): v });
    }
    let text = serde_yaml::to_string(&v).ok()?;
    Some(text.trim_end().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_memory_has_type_default_class_and_example() {
        let e = explain("Domain.spec.memory").unwrap();
        assert_eq!(e.path, "Domain.spec.memory");
        assert!(e.type_name.starts_with("Size"), "{}", e.type_name);
        assert!(e.required);
        assert_eq!(e.class.unwrap().class, "live");
        assert!(e.example.unwrap().contains("memory:"));
    }

    #[test]
    fn kinds_and_fields_are_matched_without_case_and_typos_are_named() {
        assert_eq!(
            explain("domain.SPEC.Memory").unwrap().path,
            "Domain.spec.memory"
        );
        let err = explain("Domain.spec.memroy").unwrap_err().to_string();
        assert!(err.contains("did you mean `memory`"), "{err}");
        assert!(explain("Dom").is_err());
    }

    #[test]
    fn lists_are_looked_through() {
        let e = explain("Domain.spec.disks.bus").unwrap();
        assert_eq!(e.path, "Domain.spec.disks.bus");
        assert_eq!(e.class.unwrap().class, "live");
        let e = explain("Domain.spec.disks").unwrap();
        assert!(e.type_name.starts_with("list of"), "{}", e.type_name);
        assert!(e.fields.iter().any(|(n, _, _)| n == "bus"));
    }
}

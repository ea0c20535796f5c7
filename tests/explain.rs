//! `virtsync explain` and the schema it reads: every field of every kind
//! has a description (what editors show while typing, and what explain
//! prints), every entry of the change-class table names a real field, and
//! `explain Domain.spec.memory` prints what a user looks for.

mod common;

use std::time::Duration;

use serde_json::Value;
use virtsync::manifest::{classes, explain::explain, types::json_schema};

/// Follow `$ref`, the null of an optional field, and list items.
fn resolve<'a>(node: &'a Value, defs: &'a Value) -> &'a Value {
    let mut node = node;
    for _ in 0..8 {
        if let Some(r) = node["$ref"].as_str() {
            node = &defs[r.trim_start_matches("#/$defs/")];
        } else if let Some(v) = node["anyOf"].as_array().and_then(|a| {
            a.iter()
                .find(|v| v["type"] != "null")
                .filter(|_| a.len() == 2)
        }) {
            node = v;
        } else if node["items"].is_object() {
            node = &node["items"];
        } else {
            break;
        }
    }
    node
}

#[test]
fn every_schema_field_has_a_description() {
    let schema = json_schema();
    let defs = &schema["$defs"];
    let mut objects: Vec<(String, &Value)> = defs
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v))
        .collect();
    for kind in schema["oneOf"].as_array().unwrap() {
        objects.push((kind["title"].as_str().unwrap().to_string(), kind));
    }
    let mut fields = 0;
    let mut missing = Vec::new();
    for (name, object) in objects {
        for (field, node) in object["properties"].as_object().into_iter().flatten() {
            fields += 1;
            let described = [node, resolve(node, defs)].iter().any(|n| {
                n["description"]
                    .as_str()
                    .is_some_and(|d| !d.trim().is_empty())
            });
            if !described {
                missing.push(format!("{name}.{field}"));
            }
        }
    }
    assert!(fields > 100, "walked {fields} fields");
    assert!(
        missing.is_empty(),
        "fields without a description (add a doc comment in src/manifest/types.rs):\n{}",
        missing.join("\n")
    );
}

#[test]
fn every_change_class_entry_names_a_real_field() {
    for path in classes::listed() {
        // `metadata...` entries hold for every kind.
        let query = if path.starts_with("metadata") {
            format!("Domain.{path}")
        } else {
            path.to_string()
        };
        let e = explain(&query).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert!(e.class.is_some(), "{path}");
    }
}

#[test]
fn explain_domain_memory_prints_type_default_change_class_and_example() {
    let (out, _) = common::virtsync(&["explain", "Domain.spec.memory"], Duration::from_secs(30));
    assert!(out.status.success(), "{}", common::output_text(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    for want in [
        "FIELD:    Domain.spec.memory\n",
        "TYPE:     Size (string) (required)\n",
        "DEFAULT:  ",
        "CHANGE:   live: ",
        "EXAMPLE:\n  spec:\n    memory: ",
    ] {
        assert!(text.contains(want), "{want:?} in:\n{text}");
    }
    // A default from the description, for a field that has one.
    let (out, _) = common::virtsync(&["explain", "domain.spec.state"], Duration::from_secs(30));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("DEFAULT:  Default running"), "{text}");
    assert!(text.contains("CHANGE:   power"), "{text}");
    // A typo: exit 1 and the closest field.
    let (out, _) = common::virtsync(&["explain", "Domain.spec.memroy"], Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("did you mean `memory`"),
        "{}",
        common::output_text(&out)
    );
}

#[test]
fn every_field_of_every_kind_can_be_explained() {
    let mut queue: Vec<String> = [
        "Domain",
        "Network",
        "StoragePool",
        "Volume",
        "Snapshot",
        "Host",
    ]
    .iter()
    .map(|k| k.to_string())
    .collect();
    let mut seen = 0;
    while let Some(path) = queue.pop() {
        let e = explain(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(e.path, path);
        assert!(!e.type_name.is_empty(), "{path}");
        assert!(
            e.description.is_some() || e.path.split('.').count() == 1,
            "{path}"
        );
        seen += 1;
        // Deep enough for every nested spec (ipv4.dhcp.hosts.mac).
        if path.split('.').count() < 6 {
            queue.extend(e.fields.iter().map(|(name, _, _)| format!("{path}.{name}")));
        }
    }
    assert!(seen > 150, "explained {seen} paths");
}

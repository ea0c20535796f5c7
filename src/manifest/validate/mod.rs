//! Semantic checks: from well-shaped documents to the desired state.
//!
//! Two passes. The first checks each document alone (names, units, MACs,
//! paths, the escape hatch, field combinations) and converts it to its model
//! object. The second checks the directory as a whole: uniqueness per kind
//! per host (volumes per pool, snapshots per domain) and references between
//! manifests. Every error is recorded with its document position through
//! one [`Sink`]; nothing stops early.
//!
//! The checks are split by idea:
//! - this module: the document frame (apiVersion, kind, metadata, a spec
//!   or not) and the order of the steps;
//! - `fields`: single values (sizes, MACs, UUIDs, addresses, paths,
//!   interface and DNS names, URIs, the `xml` escape hatch);
//! - `domain`, `network`, `storage`: each kind's own rules;
//! - `unique`: which objects exist on which host, each once;
//! - `refs`: references between manifests and allowed disk paths;
//! - `conflicts`: what two objects of one host cannot share (a bridge, a
//!   subnet, a MAC, a writable disk image).

mod cloudinit;
mod conflicts;
mod domain;
mod fields;
mod network;
mod refs;
mod storage;
mod unique;

use super::load::{AnyDoc, LoadedDoc};
use super::sink::Sink;
use super::types::API_VERSION;
use super::units::check_name;
use super::{Diagnostic, LoadOptions};
use crate::model::*;
use fields::{check_uri, Ctx};
use unique::Registry;

/// An object of the first pass, waiting for the whole-directory checks.
struct Pending<'a> {
    doc: &'a LoadedDoc,
    obj: Obj,
}

enum Obj {
    Host(Host),
    Domain(Domain),
    Network(Network),
    Pool(Pool),
    Volume(Volume),
    Snapshot(Snapshot),
}

/// Check every document and the directory as a whole; return the desired
/// state (complete only when `diags` stays empty).
pub fn validate(
    docs: &[LoadedDoc],
    opts: &LoadOptions,
    diags: &mut Vec<Diagnostic>,
) -> DesiredState {
    let mut sink = Sink::new(diags);
    let mut pending = Vec::new();
    for doc in docs {
        let mut cx = Ctx {
            doc,
            sink: &mut sink,
            opts,
        };
        if let Some(obj) = check_doc(&mut cx) {
            pending.push(Pending { doc, obj });
        }
    }
    resolve(&pending, opts, sink)
}

/// Whole-directory checks, one step after the other: each step relies on
/// what the ones before it registered.
fn resolve(pending: &[Pending], opts: &LoadOptions, sink: Sink) -> DesiredState {
    let mut registry = Registry::new(sink);
    registry.hosts(pending);
    registry.per_host(pending);
    registry.owned(pending);
    let (state, mut sink) = registry.finish();
    refs::volume_refs(&state, pending, &mut sink);
    refs::domain_refs(&state, pending, opts, &mut sink);
    conflicts::check(&state, pending, &mut sink);
    state
}

/// `metadata`: the object's name, host and labels.
fn meta(cx: &mut Ctx) -> Meta {
    let m = cx.doc.doc.metadata();
    if let Err(e) = check_name(&m.name) {
        cx.err("metadata.name", e);
    }
    if let Some(h) = &m.host {
        cx.name_ref("metadata.host", h);
    }
    for (k, v) in &m.labels {
        let path = format!("metadata.labels.{k}");
        if k.is_empty() || k.contains(['=', ',']) || k.chars().any(char::is_whitespace) {
            cx.err(
                &path,
                format!("label key `{k}` must be non-empty without `=`, `,` or spaces"),
            );
        }
        if v.contains(',') {
            cx.err(&path, format!("label value `{v}` must not contain `,`"));
        }
    }
    Meta {
        name: m.name.clone(),
        host: HostName::from_meta(m.host.as_deref()),
        labels: m.labels.clone(),
        source: Source {
            file: cx.doc.rel.clone(),
            line: cx.doc.index.start.line,
        },
    }
}

/// One document alone: what every kind has (apiVersion, metadata, a spec
/// unless external), then its kind's checks. `None` when there is nothing
/// to check further (no spec, or one an external object must not have).
fn check_doc(cx: &mut Ctx) -> Option<Obj> {
    let api = cx.doc.doc.api_version();
    if api != API_VERSION {
        cx.err(
            "apiVersion",
            format!("unknown apiVersion `{api}`; this virtsync reads `{API_VERSION}`"),
        );
    }
    let kind = cx.doc.doc.kind();
    let external = cx.doc.doc.metadata().external == Some(true);
    if external && !kind.may_be_external() {
        cx.err(
            "metadata.external",
            format!("a {kind} cannot be external; only Network, StoragePool and Volume can"),
        );
    }
    let meta = meta(cx);
    if kind == Kind::Host && !meta.host.is_default() {
        cx.err("metadata.host", "a Host has no host; remove metadata.host");
    }
    let doc = cx.doc;
    let spec_missing = |cx: &mut Ctx| {
        cx.at(
            doc.index.start,
            format!(
                "{kind} `{}` has no spec; add `spec:` (only external objects may omit it)",
                meta.name
            ),
        )
    };
    Some(match &doc.doc {
        AnyDoc::Host(d) => {
            let Some(spec) = &d.spec else {
                spec_missing(cx);
                return None;
            };
            check_uri(cx, &spec.uri);
            let migration = spec
                .migration
                .as_ref()
                .map(|m| migration(cx, m))
                .unwrap_or_default();
            Obj::Host(Host {
                meta,
                uri: spec.uri.clone(),
                migration,
            })
        }
        AnyDoc::Domain(d) => {
            let Some(spec) = &d.spec else {
                spec_missing(cx);
                return None;
            };
            Obj::Domain(domain::domain(cx, meta, spec))
        }
        AnyDoc::Network(d) => match (&d.spec, external) {
            (Some(_), true) => {
                cx.err(
                    "spec",
                    "an external network takes no spec: virtsync never changes it",
                );
                return None;
            }
            (None, true) => Obj::Network(Network {
                meta,
                external: true,
                uuid: None,
                forward: None,
                bridge: None,
                mtu: None,
                domain: None,
                ipv4: None,
                ipv6: None,
                dns: None,
                autostart: None,
                active: true,
                restart_policy: RestartPolicy::Never,
                xml: Vec::new(),
            }),
            (None, false) => {
                spec_missing(cx);
                return None;
            }
            (Some(spec), false) => Obj::Network(network::network(cx, meta, spec)),
        },
        AnyDoc::StoragePool(d) => match (&d.spec, external) {
            (Some(_), true) => {
                cx.err(
                    "spec",
                    "an external pool takes no spec: virtsync never changes it",
                );
                return None;
            }
            (None, true) => Obj::Pool(Pool {
                meta,
                external: true,
                pool_type: None,
                path: None,
                source: None,
                autostart: None,
                active: true,
            }),
            (None, false) => {
                spec_missing(cx);
                return None;
            }
            (Some(spec), false) => Obj::Pool(storage::pool(cx, meta, spec)),
        },
        AnyDoc::Volume(d) => {
            let Some(spec) = &d.spec else {
                cx.at(
                    doc.index.start,
                    format!(
                        "Volume `{}` has no spec; a volume needs at least `spec.pool`",
                        meta.name
                    ),
                );
                return None;
            };
            Obj::Volume(storage::volume(cx, meta, spec, external))
        }
        AnyDoc::Snapshot(d) => {
            let Some(spec) = &d.spec else {
                spec_missing(cx);
                return None;
            };
            cx.name_ref("spec.domain", &spec.domain);
            Obj::Snapshot(Snapshot {
                meta,
                domain: spec.domain.clone(),
                description: spec.description.clone(),
            })
        }
    })
}

/// A Host's `migration`, checked.
fn migration(cx: &mut Ctx, m: &crate::manifest::types::MigrationSpec) -> crate::model::Migration {
    if let Some(u) = &m.uri {
        check_uri(cx, u);
    }
    let max_downtime_ms = m.max_downtime.as_ref().and_then(|t| {
        super::units::parse_duration(&t.0)
            .map_err(|e| cx.err("spec.migration.maxDowntime", e))
            .ok()
            .map(|d| d.as_millis() as u64)
    });
    crate::model::Migration {
        tunnelled: m.tunnelled.unwrap_or(true),
        bandwidth_mib: m.bandwidth.filter(|b| *b > 0),
        compressed: m.compressed.unwrap_or(false),
        max_downtime_ms,
        uri: m.uri.clone(),
    }
}

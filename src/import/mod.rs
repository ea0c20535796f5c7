//! Import: manifests for the objects a host already has, so that existing
//! hosts can be brought under management (`virtsync import`).
//!
//! [`read`] lists a host's domains, networks and pools, reads the XML of
//! those selected (a pool with its volumes) with the same readers the
//! planner compares with (`render::domain::read`, `render::network`,
//! `render::storage`), and writes every field virtsync models with the
//! value the object has: `uuid` pinned, MACs, disk sources, targets and
//! buses, DHCP hosts. Planning the result against the host therefore finds
//! nothing to change. What a manifest cannot express is left unset
//! (unmanaged), and everything the XML has beyond the manifest stays on
//! the host, since virtsync patches definitions and never replaces them:
//! each document says so in a comment listing those elements.
//!
//! Objects the imported domains refer to but that were not selected are
//! declared `metadata.external: true`, so the directory validates and
//! virtsync never changes them. One file per domain and per network, and
//! one per pool holding the pool and its volumes ([`write`]).
//!
//! Adoption of what was imported (`import --adopt`) is the plan's
//! `adopt` action ([`adoption`]), executed by the reconcile pass as for
//! `apply --adopt`.

mod domain;
mod kept;
mod network;
mod storage;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};

use serde::Serialize;

use crate::backend::{BackendError, HostRead};
use crate::manifest::types::{Metadata, VolumeSpec, API_VERSION};
use crate::manifest::units::check_name;
use crate::model::Kind;
use crate::plan::{Operation, Plan};
use crate::xml::Element;

pub use domain::{domain_spec, DomainState, ImportedDomain};
pub use network::{network_spec, ImportedNetwork};
pub use storage::{pool_spec, volume_spec, ImportedPool};

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    Backend(#[from] BackendError),
    #[error("there is no {what} named `{name}` on {uri}; `virsh list --all`, `virsh net-list --all` and `virsh pool-list --all` show what there is")]
    NotFound {
        what: &'static str,
        name: String,
        uri: String,
    },
    #[error("`{arg}`: unknown kind `{kind}`; write NAME, domain/NAME, network/NAME or pool/NAME")]
    UnknownKind { arg: String, kind: String },
    #[error("the XML of {kind} `{name}` could not be read: {message}")]
    Xml {
        kind: &'static str,
        name: String,
        message: String,
    },
    #[error("{} exists; pass --force to overwrite it, or write to another --out directory", path.display())]
    Exists { path: PathBuf },
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// What to import: every domain, network and pool, or those named
/// (`NAME` of any kind, or `domain/NAME`, `network/NAME`, `pool/NAME`).
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub all: bool,
    pub names: Vec<String>,
}

/// One manifest document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Doc {
    pub kind: Kind,
    /// `pool/volume` for volumes, as plans name them.
    pub name: String,
    /// Declared `metadata.external: true`: used, never managed or adopted.
    pub external: bool,
    /// Comment lines before the document (without `# `).
    #[serde(skip)]
    pub comments: Vec<String>,
    #[serde(skip)]
    pub yaml: String,
}

/// One manifest file of an import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct File {
    /// Relative to the output directory.
    pub path: PathBuf,
    pub docs: Vec<Doc>,
    /// It only declares objects the imported ones use, as external: an
    /// existing file of this name declares them already and is kept.
    pub references_only: bool,
}

/// An object that was not imported, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    pub kind: Kind,
    pub name: String,
    pub reason: String,
}

/// The manifests of an import, not yet written.
#[derive(Debug, Clone, Serialize)]
pub struct Imported {
    pub uri: String,
    pub files: Vec<File>,
    pub skipped: Vec<Skipped>,
}

impl Imported {
    /// The objects imported to be managed (not external), by kind and
    /// plan name: what `--adopt` takes over.
    pub fn managed(&self) -> BTreeSet<(Kind, String)> {
        self.files
            .iter()
            .flat_map(|f| &f.docs)
            .filter(|d| !d.external)
            .map(|d| (d.kind, d.name.clone()))
            .collect()
    }
}

/// A libvirt word (`virtio`, `host-model`) as the manifest enum that
/// spells it the same way, if there is one.
pub(crate) fn parse_word<T: serde::de::DeserializeOwned>(s: &str) -> Option<T> {
    use serde::de::value::{Error, StrDeserializer};
    use serde::de::IntoDeserializer;
    let d: StrDeserializer<'_, Error> = s.into_deserializer();
    T::deserialize(d).ok()
}

/// One manifest document as YAML: `apiVersion`, `kind`, `metadata` and,
/// unless it is `None`, `spec`.
pub fn document<S: Serialize>(kind: Kind, metadata: &Metadata, spec: Option<&S>) -> String {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Document<'a, S> {
        api_version: &'static str,
        kind: &'static str,
        metadata: &'a Metadata,
        #[serde(skip_serializing_if = "Option::is_none")]
        spec: Option<&'a S>,
    }
    let yaml = serde_yaml::to_string(&Document {
        api_version: API_VERSION,
        kind: kind.as_str(),
        metadata,
        spec,
    })
    .expect("manifest types serialise");
    quote_macs(&yaml)
}

/// MAC addresses in double quotes, as the sample manifests write them:
/// YAML 1.1 readers (some editors) take `52:54:00:12:34:56` for a
/// base-60 number.
fn quote_macs(yaml: &str) -> String {
    let mut out = String::with_capacity(yaml.len() + 16);
    for line in yaml.lines() {
        let body = line.trim_start().trim_start_matches("- ");
        match body.strip_prefix("mac: ") {
            Some(v) if !v.starts_with(['"', '\'']) => {
                out.push_str(&line[..line.len() - v.len()]);
                out.push_str(&format!("\"{v}\""));
            }
            _ => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

fn meta(name: &str, external: bool) -> Metadata {
    Metadata {
        name: name.to_string(),
        external: external.then_some(true),
        ..Metadata::default()
    }
}

/// The document of an external network, pool or volume (`pool` set): the
/// objects an imported domain uses without managing them.
pub fn external_document(kind: Kind, name: &str, pool: Option<&str>) -> String {
    let m = meta(name, true);
    match pool {
        Some(pool) => document(
            kind,
            &m,
            Some(&VolumeSpec {
                pool: pool.to_string(),
                capacity: None,
                format: None,
                backing_store: None,
                clone_from: None,
                reclaim_policy: None,
            }),
        ),
        None => document::<()>(kind, &m, None),
    }
}

/// The "kept as it is" comment of an object: the elements its manifest
/// does not cover, and the fields left out with why.
fn kept_comments(noun: &str, kept: &[String], left_out: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    if !kept.is_empty() {
        out.push(format!(
            "Kept as it is on the host (not modelled; virtsync patches the {noun}'s"
        ));
        out.push("definition with the fields below and never replaces it):".into());
        out.extend(kept::wrap(kept, 74).into_iter().map(|l| format!("  {l}")));
    }
    if !left_out.is_empty() {
        out.push("Left out of this manifest, and so kept as it is:".into());
        out.extend(left_out.iter().map(|l| format!("  {l}")));
    }
    out
}

/// A comment sentence, as lines of at most 76 characters.
fn sentence(text: &str) -> Vec<String> {
    let words: Vec<String> = text.split_whitespace().map(str::to_string).collect();
    let mut lines = Vec::new();
    let mut line = String::new();
    for w in words {
        if !line.is_empty() && line.len() + 1 + w.len() > 76 {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(&w);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

fn parse(kind: &'static str, name: &str, xml: &str) -> Result<Element, ImportError> {
    Element::parse(xml).map_err(|e| ImportError::Xml {
        kind,
        name: name.to_string(),
        message: e.to_string(),
    })
}

/// Read the selected objects of `host` into manifests.
pub fn read(host: &dyn HostRead, sel: &Selection) -> Result<Imported, ImportError> {
    let uri = host.uri().to_string();
    let domains = host.list_domains(true)?;
    let networks = host.list_networks(true)?;
    let pools = host.list_pools(true)?;
    let (mut pick_d, mut pick_n, mut pick_p) = (BTreeSet::new(), BTreeSet::new(), BTreeSet::new());
    if sel.all {
        pick_d.extend(domains.iter().map(|d| d.name.clone()));
        pick_n.extend(networks.iter().map(|n| n.name.clone()));
        pick_p.extend(pools.iter().map(|p| p.name.clone()));
    }
    for arg in &sel.names {
        let (kind, name) = match arg.split_once('/') {
            None => (None, arg.as_str()),
            Some((k, n)) => {
                let kind = match k {
                    "domain" => Kind::Domain,
                    "network" => Kind::Network,
                    "pool" => Kind::StoragePool,
                    _ => {
                        return Err(ImportError::UnknownKind {
                            arg: arg.clone(),
                            kind: k.to_string(),
                        })
                    }
                };
                (Some(kind), n)
            }
        };
        let wants = |k: Kind| kind.is_none_or(|x| x == k);
        let mut found = false;
        if wants(Kind::Domain) && domains.iter().any(|d| d.name == name) {
            pick_d.insert(name.to_string());
            found = true;
        }
        if wants(Kind::Network) && networks.iter().any(|n| n.name == name) {
            pick_n.insert(name.to_string());
            found = true;
        }
        if wants(Kind::StoragePool) && pools.iter().any(|p| p.name == name) {
            pick_p.insert(name.to_string());
            found = true;
        }
        if !found {
            let what = match kind {
                None => "domain, network or pool",
                Some(Kind::Domain) => "domain",
                Some(Kind::Network) => "network",
                _ => "pool",
            };
            return Err(ImportError::NotFound {
                what,
                name: name.to_string(),
                uri,
            });
        }
    }
    let mut skipped = Vec::new();
    // Names virtsync refuses (they become file names) cannot be managed.
    let mut named_ok = |kind: Kind, set: &mut BTreeSet<String>| {
        set.retain(|n| match check_name(n) {
            Ok(()) => true,
            Err(e) => {
                skipped.push(Skipped {
                    kind,
                    name: n.clone(),
                    reason: format!("{e}; rename it in libvirt to manage it"),
                });
                false
            }
        })
    };
    named_ok(Kind::Domain, &mut pick_d);
    named_ok(Kind::Network, &mut pick_n);
    named_ok(Kind::StoragePool, &mut pick_p);

    let from = format!("imported from {uri}");
    let mut files: BTreeMap<PathBuf, File> = BTreeMap::new();
    let mut used_networks = BTreeSet::new();
    let mut used_volumes = BTreeSet::new();
    for d in domains.iter().filter(|d| pick_d.contains(&d.name)) {
        let root = parse("domain", &d.name, &host.domain_xml(&d.name, false)?)?;
        let imp = domain_spec(
            &root,
            DomainState {
                state: d.state,
                persistent: d.persistent,
                autostart: Some(d.autostart),
            },
        );
        used_networks.extend(imp.networks.iter().cloned());
        used_volumes.extend(imp.volumes.iter().cloned());
        let mut comments = sentence(&format!("Domain {}, {from}.", d.name));
        comments.extend(kept_comments(
            "domain",
            &kept::unmodelled(&root, kept::DOMAIN),
            &imp.left_out,
        ));
        let snapshots: Vec<String> = match host.snapshots(&d.name) {
            Ok(list) => list.into_iter().map(|(n, _)| n).collect(),
            Err(e) => vec![format!("(could not be listed: {e})")],
        };
        if !snapshots.is_empty() {
            comments.extend(sentence(&format!(
                "Snapshots on the host, not imported (they stay as they are): {}.",
                snapshots.join(", ")
            )));
        }
        let yaml = document(Kind::Domain, &meta(&d.name, false), Some(&imp.spec));
        add(&mut files, format!("domains/{}.yaml", d.name), false)
            .docs
            .push(Doc {
                kind: Kind::Domain,
                name: d.name.clone(),
                external: false,
                comments,
                yaml,
            });
    }
    for n in networks.iter().filter(|n| pick_n.contains(&n.name)) {
        let root = parse("network", &n.name, &host.network_xml(&n.name, false)?)?;
        let imp = network_spec(&root, n.active, n.autostart);
        let mut comments = sentence(&format!("Network {}, {from}.", n.name));
        comments.extend(kept_comments(
            "network",
            &kept::unmodelled(&root, kept::NETWORK),
            &imp.left_out,
        ));
        let yaml = document(Kind::Network, &meta(&n.name, false), Some(&imp.spec));
        add(&mut files, format!("networks/{}.yaml", n.name), false)
            .docs
            .push(Doc {
                kind: Kind::Network,
                name: n.name.clone(),
                external: false,
                comments,
                yaml,
            });
    }
    for p in pools.iter().filter(|p| pick_p.contains(&p.name)) {
        let root = parse("pool", &p.name, &host.pool_xml(&p.name)?)?;
        let imp = pool_spec(&root, p.active, p.autostart);
        let file = add(&mut files, format!("storage/{}.yaml", p.name), false);
        let spec = match imp.spec {
            Ok(spec) => spec,
            Err(why) => {
                // Still declared, so that what uses it validates.
                file.docs.push(Doc {
                    kind: Kind::StoragePool,
                    name: p.name.clone(),
                    external: true,
                    comments: sentence(&format!(
                        "Pool {}, {from}. Declared external: {why}; virtsync uses it as it is and never changes it.",
                        p.name
                    )),
                    yaml: external_document(Kind::StoragePool, &p.name, None),
                });
                continue;
            }
        };
        let mut comments = sentence(&format!("Pool {} and its volumes, {from}.", p.name));
        comments.extend(kept_comments(
            "pool",
            &kept::unmodelled(&root, kept::POOL),
            &[],
        ));
        let mut volume_docs = Vec::new();
        if !p.active {
            comments.extend(sentence(
                "It is inactive, so its volumes could not be listed: import it again once it runs.",
            ));
        } else {
            for v in host.list_volumes(&p.name)? {
                let label = format!("{}/{v}", p.name);
                let spec = check_name(&v).and_then(|()| {
                    let xml = host.volume_xml(&p.name, &v).map_err(|e| e.to_string())?;
                    let root = Element::parse(&xml).map_err(|e| e.to_string())?;
                    volume_spec(&p.name, &root)
                });
                match spec {
                    Ok(spec) => volume_docs.push(Doc {
                        kind: Kind::Volume,
                        name: label,
                        external: false,
                        comments: vec![],
                        yaml: document(Kind::Volume, &meta(&v, false), Some(&spec)),
                    }),
                    Err(why) => {
                        comments.extend(sentence(&format!("Volume {v} is not imported: {why}.")));
                        skipped.push(Skipped {
                            kind: Kind::Volume,
                            name: label,
                            reason: why,
                        });
                    }
                }
            }
        }
        let yaml = document(Kind::StoragePool, &meta(&p.name, false), Some(&spec));
        file.docs.push(Doc {
            kind: Kind::StoragePool,
            name: p.name.clone(),
            external: false,
            comments,
            yaml,
        });
        file.docs.extend(volume_docs);
    }
    // What the imported domains use and was not imported: external.
    let declared: BTreeSet<(Kind, String)> = files
        .values()
        .flat_map(|f| &f.docs)
        .map(|d| (d.kind, d.name.clone()))
        .collect();
    let is = |k: Kind, n: &str| declared.contains(&(k, n.to_string()));
    for net in &used_networks {
        if is(Kind::Network, net) {
            continue;
        }
        let mut comments = sentence(&format!(
            "Network {net}: used by the domains imported here, declared external: virtsync \
             uses it as it is and never changes it (`virtsync import network/{net}` manages it)."
        ));
        if !networks.iter().any(|n| &n.name == net) {
            comments.push("It does not exist on the host.".into());
        }
        add(&mut files, format!("networks/{net}.yaml"), true)
            .docs
            .push(Doc {
                kind: Kind::Network,
                name: net.clone(),
                external: true,
                comments,
                yaml: external_document(Kind::Network, net, None),
            });
    }
    for (pool, vol) in &used_volumes {
        let label = format!("{pool}/{vol}");
        if is(Kind::Volume, &label) {
            continue;
        }
        let file = add(&mut files, format!("storage/{pool}.yaml"), true);
        if !file.docs.iter().any(|d| d.kind == Kind::StoragePool) {
            file.docs.push(Doc {
                kind: Kind::StoragePool,
                name: pool.clone(),
                external: true,
                comments: sentence(&format!(
                    "Pool {pool}: used by the domains imported here, declared external: virtsync \
                     uses it as it is and never changes it (`virtsync import pool/{pool}` manages it)."
                )),
                yaml: external_document(Kind::StoragePool, pool, None),
            });
        }
        file.docs.push(Doc {
            kind: Kind::Volume,
            name: label,
            external: true,
            comments: vec![],
            yaml: external_document(Kind::Volume, vol, Some(pool)),
        });
    }
    Ok(Imported {
        uri,
        files: files.into_values().collect(),
        skipped,
    })
}

/// The file at `path` (relative), added if new. A file that also holds
/// imported objects is not "references only".
fn add(files: &mut BTreeMap<PathBuf, File>, path: String, references_only: bool) -> &mut File {
    let path = PathBuf::from(path);
    let f = files.entry(path.clone()).or_insert(File {
        path,
        docs: Vec::new(),
        references_only,
    });
    f.references_only &= references_only;
    f
}

impl File {
    /// The file's text, whose first line points editors at `schema` (a
    /// path relative to the file).
    pub fn text(&self, schema: &str) -> String {
        let mut out = format!("# yaml-language-server: $schema={schema}\n");
        for (i, d) in self.docs.iter().enumerate() {
            if i > 0 {
                out.push_str("---\n");
            }
            for c in &d.comments {
                out.push_str(&format!("# {c}\n"));
            }
            out.push_str(&d.yaml);
        }
        out
    }
}

/// What [`write`] did with each file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Written {
    pub path: PathBuf,
    /// `written`, or `kept`: a file that only declares external objects
    /// and existed already.
    pub action: &'static str,
}

pub const SCHEMA_FILE: &str = "schemas/virtsync.schema.json";

/// Write the manifests of `imported` under `out` (created if needed).
/// Existing manifest files are refused unless `force`, before anything is
/// written; a file that only declares external objects is kept if it
/// exists. The schema editors use is the nearest
/// `schemas/virtsync.schema.json` of `out` or a directory above it, else
/// one written into `out`.
pub fn write(imported: &Imported, out: &Path, force: bool) -> Result<Vec<Written>, ImportError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ImportError::Write { path, source }
    };
    if !force {
        if let Some(f) = imported
            .files
            .iter()
            .find(|f| !f.references_only && out.join(&f.path).exists())
        {
            return Err(ImportError::Exists {
                path: out.join(&f.path),
            });
        }
    }
    std::fs::create_dir_all(out).map_err(io(out))?;
    let root = out.canonicalize().map_err(io(out))?;
    let schema = match root
        .ancestors()
        .map(|d| d.join(SCHEMA_FILE))
        .find(|p| p.is_file())
    {
        Some(s) => s,
        None => {
            let s = root.join(SCHEMA_FILE);
            std::fs::create_dir_all(s.parent().expect("has a parent")).map_err(io(&s))?;
            let json = serde_json::to_string_pretty(&crate::manifest::types::json_schema())
                .expect("schema serialises");
            std::fs::write(&s, format!("{json}\n")).map_err(io(&s))?;
            s
        }
    };
    let mut done = Vec::new();
    for f in &imported.files {
        let path = root.join(&f.path);
        if f.references_only && path.exists() {
            done.push(Written {
                path: f.path.clone(),
                action: "kept",
            });
            continue;
        }
        let dir = path.parent().expect("a file has a parent");
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let rel = relative(&schema, dir);
        std::fs::write(&path, f.text(&rel.to_string_lossy())).map_err(io(&path))?;
        done.push(Written {
            path: f.path.clone(),
            action: "written",
        });
    }
    Ok(done)
}

/// `target` relative to the directory `base` (both absolute).
fn relative(target: &Path, base: &Path) -> PathBuf {
    let t: Vec<Component> = target.components().collect();
    let b: Vec<Component> = base.components().collect();
    let common = t.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut out = PathBuf::new();
    for _ in common..b.len() {
        out.push("..");
    }
    for c in &t[common..] {
        out.push(c);
    }
    out
}

/// The part of `plan` that adopts what `imported` imported to manage:
/// its `adopt` actions on the default connection, nothing else.
pub fn adoption(plan: &Plan, imported: &Imported) -> Plan {
    let managed = imported.managed();
    let mut p = plan.clone();
    p.actions.retain(|a| {
        a.operation == Operation::Adopt
            && a.host.is_default()
            && managed.contains(&(a.kind, a.name.clone()))
    });
    p.notices.clear();
    p.summary = crate::plan::Summary {
        update: p.actions.len(),
        total: p.actions.len(),
        blocked: p.blocked.len(),
        ..Default::default()
    };
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_climb_to_the_common_directory() {
        assert_eq!(
            relative(Path::new("/a/schemas/s.json"), Path::new("/a/b/c")),
            PathBuf::from("../../schemas/s.json")
        );
        assert_eq!(
            relative(Path::new("/a/s.json"), Path::new("/a")),
            PathBuf::from("s.json")
        );
    }

    #[test]
    fn libvirt_words_read_as_manifest_enums() {
        assert_eq!(
            parse_word::<crate::model::DiskBus>("sata"),
            Some(crate::model::DiskBus::Sata)
        );
        assert_eq!(parse_word::<crate::model::DiskBus>("usb"), None);
        assert_eq!(
            parse_word::<crate::model::CpuMode>("host-model"),
            Some(crate::model::CpuMode::HostModel)
        );
    }
}

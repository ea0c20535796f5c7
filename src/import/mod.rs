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
//! Modules: [`read`] (selection, and each object's document), `domain`,
//! `network` and `storage` (a spec from an object's XML), `kept` (what the
//! XML has that no field covers), `document` (YAML and comments), `write`.
//!
//! Adoption of what was imported (`import --adopt`) is the plan's
//! `adopt` action ([`adoption`]), executed by the reconcile pass as for
//! `apply --adopt`.

mod document;
mod domain;
mod kept;
mod network;
mod read;
mod storage;
mod write;

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde::Serialize;

use crate::backend::{BackendError, HostRead};
use crate::manifest::units::check_name;
use crate::model::Kind;
use crate::plan::{Operation, Plan};
use crate::xml::Element;

pub use document::{document, external_document};
pub use domain::{domain_spec, DomainState, ImportedDomain};
pub use network::{network_spec, ImportedNetwork};
pub use read::read;
pub use storage::{pool_spec, volume_spec, ImportedPool};
pub use write::{write, Written, SCHEMA_FILE};

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

//! virtsync: a declarative, GitOps-style reconciler for libvirt.
//!
//! Operators keep the desired state of their hosts as YAML manifests; virtsync
//! validates them, plans, applies, and keeps hosts converged. The crate is laid
//! out along that pipeline, each stage a module with its own error type:
//!
//! - [`manifest`]: find, parse and validate manifest files into a
//!   [`model::DesiredState`], reporting every error with `file:line:column`;
//! - [`model`]: the desired (and later observed) state as plain,
//!   deterministic data (BTreeMaps);
//! - [`cli`]: the thin command layer (`virtsync validate`, `virtsync schema`, ...).
//!
//! The binary (`src/main.rs`) only parses arguments and maps errors to exit
//! codes; everything testable lives here.

pub mod apply;
pub mod backend;
pub mod cli;
pub mod engine;
pub mod inventory;
pub mod manifest;
pub mod model;
pub mod observe;
pub mod plan;
pub mod render;
pub mod xml;

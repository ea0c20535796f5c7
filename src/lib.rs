//! virtsync: a declarative, GitOps-style reconciler for libvirt.
//!
//! Operators keep the desired state of their hosts as YAML manifests;
//! virtsync validates them, plans, applies, and reports whether the hosts
//! converged. The crate is laid out along that pipeline, each stage a module
//! with its own error type:
//!
//! - [`manifest`]: find, parse and validate manifest files into a
//!   [`model::DesiredState`], reporting every error with `file:line:column`;
//! - [`model`]: desired and observed state as plain, deterministic data
//!   (BTreeMaps), plus the host's capabilities and the shared vocabulary
//!   enums ([`model::vocab`]) that every layer above speaks;
//! - [`observe`]: libvirt → [`model::ObservedState`] with a fixed number of
//!   bulk calls per host and one XML read per object the manifests name;
//! - [`render`]: model → libvirt XML (new objects, and patches of observed
//!   XML that keep everything virtsync does not model), and libvirt XML →
//!   comparable facts, normalised the same way;
//! - [`plan`]: the pure planner (desired + observed + [`inventory`] →
//!   [`plan::Plan`], plain serialisable data) and its human rendering;
//! - [`apply`]: executes a plan's actions along their dependencies, in
//!   parallel, through the narrow [`backend::Backend`] trait, deciding nothing;
//! - [`backend`]: the only code that calls libvirt (the `virt` crate), with a
//!   per-kind call counter;
//! - [`engine`]: connect / observe / plan / apply wired together for commands
//!   and tests;
//! - [`inventory`]: ownership of pools and volumes, which have no `<metadata>`;
//! - [`xml`]: the small element tree used to read and patch libvirt XML;
//! - [`cli`]: the thin command layer (`validate`, `plan`, `apply`, `schema`).
//!
//! The binary (`src/main.rs`) only parses arguments and maps errors to exit
//! codes; everything testable lives here. `src/bin/virtsync-bench.rs` is the
//! benchmark.

pub mod apply;
pub mod backend;
pub mod cli;
pub mod inventory;
pub mod manifest;
pub mod model;
pub mod observe;
pub mod plan;
pub mod reconcile;
pub mod render;
pub mod units;
pub mod xml;

//! virtsync: a declarative, GitOps-style reconciler for libvirt.
//!
//! Operators keep the desired state of their hosts as YAML manifests;
//! virtsync validates them, plans, applies, and reports whether the hosts
//! converged. The crate is laid out bottom to top along that pipeline, each
//! stage a module with its own error type; no module reaches up:
//!
//! - [`model`]: desired and observed state as plain, deterministic data
//!   (BTreeMaps), plus the host's capabilities and the shared vocabulary
//!   enums ([`model::vocab`]) that every layer above speaks;
//! - [`units`]: sizes, the one place that knows units (bytes vs KiB);
//! - [`xml`]: the small element tree used to read and patch libvirt XML;
//! - [`par`]: a few blocking calls or parses in flight at once, in order;
//! - [`render`]: the libvirt vocabulary shared by observer, planner and
//!   renderer — the ownership marker, XML patching, device identity, and
//!   per kind a reader (libvirt XML → comparable facts) next to a writer
//!   (model → new XML, or a patch of the observed XML that keeps everything
//!   virtsync does not model);
//! - [`manifest`]: find, parse and validate manifest files into a
//!   [`model::DesiredState`], reporting every error with `file:line:column`;
//!   the JSON Schema of manifests and `explain` from it;
//! - [`state_file`]: files written atomically and durably (the inventory,
//!   saved plans);
//! - [`inventory`]: ownership of pools, volumes and snapshots, which have
//!   no `<metadata>`, keyed by the host's identity, with intent records
//!   that survive a killed apply;
//! - [`lock`]: one writer per host (a flock per host identity under the
//!   state directory);
//! - [`owner`]: the owner identity of a manifest set (`--owner`,
//!   `.virtsync-owner`, the git remote, the path), written in markers and
//!   inventory records so that manifest sets sharing a host never touch
//!   each other's objects;
//! - [`backend`]: the only code that calls libvirt: [`backend::HostRead`]
//!   for observing, [`backend::Backend`] for writing, the `virt`
//!   implementation with keepalive and call counters, and a fault-injecting
//!   wrapper for tests;
//! - [`observe`]: libvirt → [`model::ObservedState`] with a fixed number of
//!   bulk calls per host and one XML read per object the manifests name;
//! - [`plan`]: the pure planner (desired + observed + [`inventory`] + the
//!   [`plan::Scope`] — owner, selector, prune options — → [`plan::Plan`],
//!   plain serialisable data; objects it cannot plan are *blocked*, the
//!   rest proceeds; deletions of what the owner manages without manifests
//!   only with `--prune`, first and within its guards) and its human
//!   rendering;
//! - [`image`]: a volume's `source` image — fetched (http, https, file),
//!   checksummed while it streams, its format read from its first bytes —
//!   and the create-upload-grow of an image volume that apply runs;
//! - [`apply`]: executes a plan's actions along their dependencies, in
//!   parallel, through [`backend::Backend`], deciding nothing;
//! - [`reconcile`]: the reconcile pass — [`reconcile::Reconciler::lock`],
//!   [`reconcile::Reconciler::plan`] and [`reconcile::Reconciler::apply`] —
//!   that commands, tests, the benchmark and the controller share;
//! - [`status`]: per declared object, whether its host matches (in sync,
//!   drifted, restart pending, missing, unmanaged collision, planning
//!   error, host unreachable), read from one plan of the reconcile pass,
//!   and the running domains' IP addresses;
//! - [`import`]: manifests for the objects a host already has (every
//!   modelled field with its value, what is kept as it is in a comment),
//!   read with the same readers the planner compares with;
//! - [`controller`]: `virtsync run` — the reconcile pass looped on
//!   manifest changes, host events, a periodic resync and retries with
//!   backoff, one pass at a time, keeping the last good manifests;
//! - [`doctor`]: `virtsync doctor` — whether libvirt is reachable (if not,
//!   why, from libvirt's error numbers and errno, and the fix), what a
//!   host runs, and whether it is ready for the manifests, as findings;
//! - [`cli`]: the thin command layer (`validate`, `plan`, `apply`,
//!   `status`, `import`, `run`, `snapshot`, `schema`, `explain`,
//!   `completions`, `doctor`): load, confirm, print — with colours,
//!   progress, hints and JSON errors for the people and scripts that run it.
//!
//! The binary (`src/main.rs`) only parses arguments and maps errors to exit
//! codes; everything testable lives here. `examples/bench.rs` is the
//! benchmark (`scripts/bench.sh`).

pub mod apply;
pub mod backend;
pub mod cli;
pub mod controller;
pub mod doctor;
pub mod image;
pub mod import;
pub mod inventory;
pub mod lock;
pub mod manifest;
pub mod model;
pub mod observe;
pub mod owner;
pub mod par;
pub mod plan;
pub mod reconcile;
pub mod render;
pub mod state_file;
pub mod status;
pub mod units;
pub mod xml;

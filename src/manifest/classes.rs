//! How a change of each manifest field reaches the host, for `virtsync
//! explain`: live (applied to the running guest or object at once),
//! next-boot (the persistent definition changes; a running guest sees it
//! after a restart), replace (cannot change in place), and the fields that
//! are not a change of a definition at all (power state, creation-only
//! fields, virtsync's own settings).
//!
//! The planner decides each class from the observed state (memory is live
//! only on a running guest, within maxMemory); this table says the same in
//! words, per field, and a test in tests/plan_snapshots.rs holds it to the
//! planner's behaviour for the fields it names. A field not listed takes
//! the entry of its closest listed parent, then its kind's default.

/// A class name as plans print it (`live`, `next-boot`, `replace`) or one
/// of the words for fields that are not changes (`power`, `creation`,
/// `none`, `identity`, `migration`), and what decides it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldClass {
    pub class: &'static str,
    pub note: &'static str,
}

const fn c(class: &'static str, note: &'static str) -> FieldClass {
    FieldClass { class, note }
}

const NEXT_BOOT_DOMAIN: FieldClass = c(
    "next-boot",
    "the persistent definition is patched; a running guest sees it after a restart (restart pending; restarted only with restartPolicy: onConfigChange). A transient domain is replaced instead.",
);

/// `Kind.path` (the manifest's field names) → class, most specific first
/// where paths nest.
const TABLE: &[(&str, FieldClass)] = &[
    ("Domain.metadata.host", c("migration", "moving a domain to another Host is a migration: live (peer-to-peer) when it runs and both hosts allow it, else an offline move; the plan says which.")),
    ("Domain.spec.memory", c("live", "live on a running guest within maxMemory (the balloon); otherwise, or above maxMemory, next-boot.")),
    ("Domain.spec.vcpus", c("live", "adding vCPUs to a running guest within maxVcpus is live; removing them, or a shut-off guest, is next-boot.")),
    ("Domain.spec.disks", c("live", "a disk added to or removed from a running guest is attached or detached live; a changed disk is next-boot.")),
    ("Domain.spec.interfaces", c("live", "a NIC added to or removed from a running guest is attached or detached live; a changed NIC is next-boot.")),
    ("Domain.spec.autostart", c("live", "takes effect at once (virDomainSetAutostart).")),
    ("Domain.spec.state", c("power", "not a change of the definition: start, shutdown or destroy actions bring the domain to this state.")),
    ("Domain.spec.persistent", c("replace", "persistent ↔ transient redefines the domain.")),
    ("Domain.spec.restartPolicy", c("none", "how virtsync acts on next-boot changes; nothing on the host changes.")),
    ("Domain.spec.shutdownTimeout", c("none", "how long virtsync waits for a shutdown; nothing on the host changes.")),
    ("Domain.spec", NEXT_BOOT_DOMAIN),
    ("Network.spec.uuid", c("replace", "a network's UUID cannot change in place.")),
    ("Network.spec.ipv4.dhcp.hosts", c("live", "IPv4 DHCP host entries are updated on the running network (virNetworkUpdate).")),
    ("Network.spec.autostart", c("live", "takes effect at once.")),
    ("Network.spec.active", c("power", "not a change of the definition: the network is started or destroyed.")),
    ("Network.spec.restartPolicy", c("none", "how virtsync acts on next-boot changes; nothing on the host changes by itself.")),
    ("Network.spec", c("next-boot", "the network is redefined; a running network uses it after it is restarted (restart pending).")),
    ("StoragePool.spec.type", c("replace", "a pool is never replaced automatically: planning is blocked with the reason; create a new pool.")),
    ("StoragePool.spec.autostart", c("live", "takes effect at once.")),
    ("StoragePool.spec.active", c("power", "not a change of the definition: the pool is started or stopped.")),
    ("StoragePool.spec", c("next-boot", "the pool is redefined; an active pool uses it after it is restarted.")),
    ("Volume.spec.reclaimPolicy", c("none", "what a prune does with the volume; nothing on the host changes.")),
    ("Volume.spec.capacity", c("live", "a volume only grows (resized in place, also under a running guest); shrinking is refused.")),
    ("Volume.spec", c("creation", "read when the volume is created; a different value later is refused (blocked with the reason), never applied by replacing the volume.")),
    ("Snapshot.spec.description", c("live", "snapshot metadata only; nothing in the guest changes.")),
    ("Snapshot.spec", c("creation", "a snapshot is taken once; later changes apply only to its description.")),
    ("Host.spec", c("none", "how virtsync reaches the host; nothing on the host changes.")),
    ("metadata.name", c("identity", "a new name is a new object; the old one is deleted only with --prune.")),
    ("metadata", c("none", "virtsync's own bookkeeping (labels, ownership); nothing the guest sees changes.")),
];

/// The class of `kind`'s field at `path` (e.g. `spec.memory`,
/// `spec.disks.bus`); `None` for the document itself.
pub fn class_of(kind: &str, path: &str) -> Option<FieldClass> {
    if path.is_empty() {
        return None;
    }
    let full = format!("{kind}.{path}");
    let within = |key: &str, p: &str| p == key || p.starts_with(&format!("{key}."));
    TABLE
        .iter()
        .filter(|(key, _)| within(key, &full) || within(key, path))
        .max_by_key(|(key, _)| key.len())
        .map(|(_, class)| *class)
}

/// Every listed path (for the test that each names a real field).
pub fn listed() -> impl Iterator<Item = &'static str> {
    TABLE.iter().map(|(key, _)| *key)
}

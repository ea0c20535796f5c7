//! What one action does: a typed [`Step`] per kind and operation, carrying
//! exactly the data apply needs and nothing it would have to decide.
//!
//! The kind and operation an action shows (`domain`, `define`) are read
//! from its step, so they cannot disagree with what apply executes.

use serde::{Deserialize, Serialize};

use crate::backend::UndefineFlags;
use crate::model::Kind;

use super::Operation;

/// One DHCP host entry (`<host mac=... ip=.../>`) to add or delete, and
/// where: the running network (`live`), its persistent config (`config`),
/// or both. An entry present in only one of them (drift made with
/// `virsh net-update --config` or `--live`) is edited only there; libvirt
/// refuses to delete an entry from where it does not exist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DhcpHostEdit {
    pub xml: String,
    pub live: bool,
    pub config: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(
    tag = "type",
    rename_all = "kebab-case",
    rename_all_fields = "camelCase"
)]
pub enum Step {
    /// Define (or re-define) a persistent domain from this XML.
    DefineDomain {
        xml: String,
    },
    /// Start a transient domain from this XML (`virsh create`).
    CreateDomain {
        xml: String,
        paused: bool,
    },
    /// Undefine, keeping disks and removing what `flags` name.
    UndefineDomain {
        flags: UndefineFlags,
    },
    /// Live-migrate the running domain to another host (`metadata.host`
    /// changed); the action's host is the source.
    MigrateDomain {
        /// The target host, as the manifests name it.
        to: crate::model::HostName,
        spec: crate::backend::MigrateSpec,
    },
    StartDomain {
        paused: bool,
    },
    /// Graceful (ACPI) shutdown, destroy after `timeout_ms`.
    ShutdownDomain {
        timeout_ms: u64,
    },
    DestroyDomain,
    SuspendDomain,
    ResumeDomain,
    /// Shut down (graceful, then destroy) and start again.
    RestartDomain {
        timeout_ms: u64,
        paused: bool,
    },
    SetDomainAutostart {
        on: bool,
    },
    /// Changes to the running guest only (the persistent config is defined
    /// by its own step).
    UpdateLive {
        memory_kib: Option<crate::units::Kib>,
        vcpus: Option<u32>,
        /// Device elements to hot-plug (already in the persistent config).
        attach: Vec<String>,
        /// Device elements to unplug, as the running guest has them (best
        /// effort: the guest must agree).
        detach: Vec<String>,
        /// A transient domain's ownership marker, rewritten in its live
        /// definition to hold the balloon target just applied.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        marker: Option<String>,
    },
    DefineNetwork {
        xml: String,
    },
    /// Remove a network's definition (a prune; stopped first).
    UndefineNetwork,
    StartNetwork,
    DestroyNetwork,
    RestartNetwork,
    SetNetworkAutostart {
        on: bool,
    },
    /// Delete, then add `<host>` entries of the DHCP section, in the
    /// persistent config (`config`) and the running network (`live`).
    /// Delete, then add, DHCP host entries, each where it must go.
    UpdateDhcpHosts {
        delete: Vec<DhcpHostEdit>,
        add: Vec<DhcpHostEdit>,
    },
    DefinePool {
        xml: String,
    },
    /// mkdir the target of a dir pool.
    BuildPool,
    StartPool,
    DestroyPool,
    /// Remove a pool's definition (a prune; stopped first). Its directory
    /// and whatever volumes are left in it stay on disk.
    UndefinePool,
    SetPoolAutostart {
        on: bool,
    },
    /// Create a volume from XML, as a full copy of `clone_from` when given.
    CreateVolume {
        pool: String,
        xml: String,
        clone_from: Option<(String, String)>,
    },
    /// Create a volume from an image: fetch `source` (verifying its
    /// checksum while streaming), create the volume in the format the
    /// image's first bytes show, stream the image into it through libvirt,
    /// and grow it to `capacity` when that is more than the image's size.
    /// The image's format and size are read by apply, where the bytes
    /// are: the planner reads no file and no network. Any failure deletes
    /// the half volume.
    UploadVolume {
        pool: String,
        source: crate::model::ImageSource,
        capacity: Option<u64>,
    },
    /// Create a raw volume holding the NoCloud seed ISO (label `cidata`)
    /// of these files, built by apply, and upload it through libvirt.
    UploadSeed {
        pool: String,
        files: crate::model::SeedFiles,
    },
    /// Delete a volume and its data (a prune of a volume virtsync created
    /// under `reclaimPolicy: delete`).
    DeleteVolume {
        pool: String,
    },
    ResizeVolume {
        pool: String,
        capacity: u64,
        /// A running domain using the volume, with the disk's target in the
        /// running guest: the image is then grown through the guest's block
        /// device (qemu holds a write lock on it, so the storage API cannot
        /// resize it).
        in_use_by: Option<(String, String)>,
    },
    /// Take an internal snapshot of `domain` (with its memory state when it
    /// runs) from `<domainsnapshot>` XML.
    CreateSnapshot {
        domain: String,
        xml: String,
    },
    /// Rewrite the metadata (the description) of an existing snapshot:
    /// its full XML as libvirt gave it, edited.
    UpdateSnapshot {
        domain: String,
        xml: String,
    },
    /// Read the metadata of every snapshot of the domain before a re-create
    /// drops it (kept in memory by this apply for [`Step::RestoreSnapshots`]).
    SaveSnapshots,
    /// Redefine the snapshots saved by this apply's `SaveSnapshots` on the
    /// domain's new definition.
    RestoreSnapshots,
    /// Delete a snapshot virtsync took (a policy snapshot beyond `keep`);
    /// the disk images keep their data, only the snapshot goes.
    DeleteSnapshot {
        domain: String,
        name: String,
    },
    /// Take over an existing domain as it is (`--adopt`): define its own
    /// inactive XML, read with its secrets, with the ownership marker
    /// added. Nothing else changes, and a running guest is not restarted.
    AdoptDomain {
        xml: String,
    },
    /// Take over a transient domain, which has no persistent config to
    /// define: the marker is written into its live definition.
    AdoptTransientDomain {
        marker: String,
    },
    /// Take over an existing network as it is: its own inactive XML with
    /// the ownership marker added.
    AdoptNetwork {
        xml: String,
    },
    /// Take over an existing pool: no libvirt call; the reconcile pass
    /// records it in the inventory under this UUID (the one observed, so a
    /// pool re-created meanwhile under the name is not taken).
    AdoptPool {
        uuid: String,
    },
    /// Take over an existing volume of `pool`: recorded in the inventory.
    AdoptVolume {
        pool: String,
    },
}

/// The `xml` field of the steps that carry a document, by reference or by
/// mutable reference: one list for [`Step::xml`] and [`Step::texts_mut`].
macro_rules! with_xml {
    ($step:expr) => {
        match $step {
            Step::DefineDomain { xml }
            | Step::CreateDomain { xml, .. }
            | Step::DefineNetwork { xml }
            | Step::DefinePool { xml }
            | Step::CreateVolume { xml, .. }
            | Step::CreateSnapshot { xml, .. }
            | Step::UpdateSnapshot { xml, .. }
            | Step::AdoptDomain { xml }
            | Step::AdoptNetwork { xml } => Some(xml),
            _ => None,
        }
    };
}

impl Step {
    /// The kind of object the step acts on.
    pub fn kind(&self) -> Kind {
        use Step::*;
        match self {
            DefineDomain { .. }
            | CreateDomain { .. }
            | UndefineDomain { .. }
            | StartDomain { .. }
            | ShutdownDomain { .. }
            | DestroyDomain
            | SuspendDomain
            | ResumeDomain
            | RestartDomain { .. }
            | SetDomainAutostart { .. }
            | UpdateLive { .. }
            | MigrateDomain { .. }
            | SaveSnapshots
            | RestoreSnapshots
            | AdoptDomain { .. }
            | AdoptTransientDomain { .. } => Kind::Domain,
            DefineNetwork { .. }
            | AdoptNetwork { .. }
            | UndefineNetwork
            | StartNetwork
            | DestroyNetwork
            | RestartNetwork
            | SetNetworkAutostart { .. }
            | UpdateDhcpHosts { .. } => Kind::Network,
            DefinePool { .. }
            | BuildPool
            | StartPool
            | DestroyPool
            | UndefinePool
            | SetPoolAutostart { .. }
            | AdoptPool { .. } => Kind::StoragePool,
            CreateVolume { .. }
            | UploadVolume { .. }
            | UploadSeed { .. }
            | ResizeVolume { .. }
            | AdoptVolume { .. }
            | DeleteVolume { .. } => Kind::Volume,
            CreateSnapshot { .. } | UpdateSnapshot { .. } | DeleteSnapshot { .. } => Kind::Snapshot,
        }
    }

    /// The operation it shows in plans.
    pub fn operation(&self) -> Operation {
        use Step::*;
        match self {
            DefineDomain { .. } | DefineNetwork { .. } | DefinePool { .. } => Operation::Define,
            CreateDomain { .. } => Operation::Create,
            UndefineDomain { .. } | UndefineNetwork | UndefinePool => Operation::Undefine,
            StartDomain { .. } | StartNetwork | StartPool => Operation::Start,
            ShutdownDomain { .. } => Operation::Shutdown,
            DestroyDomain | DestroyNetwork | DestroyPool => Operation::Destroy,
            SuspendDomain => Operation::Suspend,
            ResumeDomain => Operation::Resume,
            RestartDomain { .. } | RestartNetwork => Operation::Restart,
            SetDomainAutostart { .. } | SetNetworkAutostart { .. } | SetPoolAutostart { .. } => {
                Operation::SetAutostart
            }
            UpdateLive { .. } => Operation::UpdateLive,
            MigrateDomain { .. } => Operation::Migrate,
            UpdateDhcpHosts { .. } => Operation::UpdateDhcpHosts,
            BuildPool => Operation::Build,
            CreateVolume { .. } | UploadVolume { .. } | UploadSeed { .. } => {
                Operation::CreateVolume
            }
            ResizeVolume { .. } => Operation::ResizeVolume,
            DeleteVolume { .. } => Operation::DeleteVolume,
            CreateSnapshot { .. } => Operation::CreateSnapshot,
            UpdateSnapshot { .. } => Operation::UpdateSnapshot,
            DeleteSnapshot { .. } => Operation::DeleteSnapshot,
            SaveSnapshots => Operation::SaveSnapshots,
            RestoreSnapshots => Operation::RestoreSnapshots,
            AdoptDomain { .. }
            | AdoptTransientDomain { .. }
            | AdoptNetwork { .. }
            | AdoptPool { .. }
            | AdoptVolume { .. } => Operation::Adopt,
        }
    }

    /// The XML document the step defines or creates, if any.
    pub fn xml(&self) -> Option<&str> {
        with_xml!(self).map(String::as_str)
    }

    /// Every XML text the step carries, mutable (for redacting secrets):
    /// its document, the devices it hot-plugs or unplugs, the marker, the
    /// DHCP entries.
    pub(crate) fn texts_mut(&mut self) -> Vec<&mut String> {
        match self {
            Step::UpdateLive {
                attach,
                detach,
                marker,
                ..
            } => attach
                .iter_mut()
                .chain(detach.iter_mut())
                .chain(marker.iter_mut())
                .collect(),
            Step::UpdateDhcpHosts { delete, add } => delete
                .iter_mut()
                .chain(add.iter_mut())
                .map(|e| &mut e.xml)
                .collect(),
            other => with_xml!(other).into_iter().collect(),
        }
    }

    /// Set autostart of an object of `kind` (domains, networks, pools).
    pub fn set_autostart(kind: Kind, on: bool) -> Step {
        match kind {
            Kind::Network => Step::SetNetworkAutostart { on },
            Kind::StoragePool => Step::SetPoolAutostart { on },
            _ => Step::SetDomainAutostart { on },
        }
    }

    /// Start a network or pool (domains start with [`Step::StartDomain`]).
    pub fn start(kind: Kind) -> Step {
        match kind {
            Kind::StoragePool => Step::StartPool,
            _ => Step::StartNetwork,
        }
    }

    /// Stop a network or pool (domains: [`Step::DestroyDomain`]).
    pub fn destroy(kind: Kind) -> Step {
        match kind {
            Kind::StoragePool => Step::DestroyPool,
            _ => Step::DestroyNetwork,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Action, Effect};
    use super::*;

    fn action(step: Step) -> Action {
        Action::new(
            "domain/d/define".into(),
            "d".into(),
            crate::model::HostName::DEFAULT,
            Effect::Create,
            vec![],
            vec![],
            step,
        )
    }

    #[test]
    fn kind_and_operation_come_from_the_step() {
        let a = action(Step::DefineDomain {
            xml: "<domain/>".into(),
        });
        assert_eq!((a.kind, a.operation), (Kind::Domain, Operation::Define));
        let json = serde_json::to_value(&a).unwrap();
        assert_eq!(json["operation"], "define");
        assert_eq!(json["step"]["type"], "define-domain");
        let back: Action = serde_json::from_value(json).unwrap();
        assert_eq!(back, a);
    }

    #[test]
    fn a_plan_file_whose_operation_disagrees_with_its_step_is_refused() {
        let mut json = serde_json::to_value(action(Step::StartPool)).unwrap();
        json["operation"] = "destroy".into();
        let e = serde_json::from_value::<Action>(json).unwrap_err();
        assert!(e.to_string().contains("do not match its step"), "{e}");
    }
}

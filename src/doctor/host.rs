//! Checks of a host that answers: what it runs (driver, libvirt and QEMU
//! versions, KVM or TCG, CPU), whether libvirt's `default` network and
//! pool are there, and whether a domain of the manifests could migrate
//! from it to another Host (reachable from here, the same CPU vendor and
//! model, the manifests' pools and disk paths on both).

use std::collections::BTreeSet;

use super::local::{Local, Uri};
use super::{Finding, Status};
use crate::backend::{About, BackendError, Entry, HostRead, LibvirtHost};
use crate::model::{Capabilities, DesiredState, DiskSource};
use crate::xml::Element;

/// What doctor reads of a host that answers: about ten calls.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostView {
    pub about: Option<About>,
    pub caps: Capabilities,
    pub cpu_vendor: String,
    pub cpu_model: String,
    pub networks: Vec<Entry>,
    /// Pools with their target path.
    pub pools: Vec<(Entry, String)>,
}

impl HostView {
    pub fn read(h: &LibvirtHost) -> Result<HostView, BackendError> {
        let xml = h.capabilities()?;
        let root = Element::parse(&xml).ok();
        let cpu = |f: &str| {
            root.as_ref()
                .and_then(|r| r.find(&["host", "cpu", f]).map(|e| e.text()))
                .unwrap_or_default()
        };
        let caps = crate::observe::parse_capabilities(&xml).unwrap_or_default();
        let pools = h
            .list_pools(false)?
            .into_iter()
            .map(|p| {
                let target = h
                    .pool_xml(&p.name)
                    .ok()
                    .and_then(|x| Element::parse(&x).ok())
                    .and_then(|e| e.find(&["target", "path"]).map(|t| t.text()))
                    .unwrap_or_default();
                (p, target)
            })
            .collect();
        Ok(HostView {
            about: Some(h.about()?),
            cpu_vendor: cpu("vendor"),
            cpu_model: cpu("model"),
            caps,
            networks: h.list_networks(false)?,
            pools,
        })
    }

    fn kvm(&self) -> bool {
        self.caps
            .guests
            .get(&self.caps.host_arch)
            .is_some_and(|g| g.domain_types.iter().any(|t| t == "kvm"))
    }

    fn is_test(&self) -> bool {
        self.about
            .as_ref()
            .is_some_and(|a| a.driver.eq_ignore_ascii_case("test"))
    }
}

fn finding(check: &str, status: Status, message: String, fix: Option<String>) -> Finding {
    Finding {
        check: check.to_string(),
        status,
        message,
        fix,
    }
}

/// The checks of a host that answers at `uri`.
pub fn host_findings(v: &HostView, uri: &Uri, local: &Local) -> Vec<Finding> {
    let mut out = Vec::new();
    let virsh = format!("virsh -c '{}'", uri.text);
    if let Some(a) = &v.about {
        out.push(finding(
            "libvirt",
            Status::Ok,
            format!(
                "{} answers: driver {}, libvirt {}, hypervisor {}, host {}",
                uri.text, a.driver, a.libvirt_version, a.hypervisor_version, a.hostname
            ),
            None,
        ));
    }
    if uri.is_session() {
        out.push(finding(
            "connection.session",
            Status::Warn,
            format!(
                "{} is user {}'s own daemon: guests run as this user, without the system's networks, bridges and pools",
                uri.text, local.user
            ),
            Some("use --connect qemu:///system for the host's guests".into()),
        ));
    }
    if v.is_test() {
        return out;
    }
    out.push(finding(
        "host.cpu",
        Status::Ok,
        format!(
            "CPU {} {} ({})",
            v.cpu_vendor, v.cpu_model, v.caps.host_arch
        ),
        None,
    ));
    if v.kvm() {
        out.push(finding(
            "host.hypervisor",
            Status::Ok,
            "KVM: guests run with hardware virtualisation".into(),
            None,
        ));
    } else {
        out.push(finding(
            "host.hypervisor",
            Status::Warn,
            "TCG only: the daemon offers no kvm domains, guests run in software emulation (many times slower)".into(),
            Some("enable virtualisation (VT-x/AMD-V) in the firmware, `modprobe kvm_intel` or `modprobe kvm_amd`, then restart the daemon".into()),
        ));
    }
    // /dev/kvm seen from here means something only for a local daemon;
    // a session daemon opens it as this user.
    if uri.is_local() && uri.driver == "qemu" {
        let (status, message, fix) = match (local.kvm_exists, local.kvm_usable) {
            (false, _) => (
                Status::Warn,
                "/dev/kvm does not exist".to_string(),
                Some(
                    "load the kvm module (`modprobe kvm_intel` or `modprobe kvm_amd`)".to_string(),
                ),
            ),
            (true, false) if uri.is_session() => (
                Status::Problem,
                format!(
                    "user {} may not open /dev/kvm, which the session daemon needs",
                    local.user
                ),
                Some(format!("`usermod -aG kvm {}` and log in again", local.user)),
            ),
            (true, usable) => (
                Status::Ok,
                format!(
                    "/dev/kvm exists{}",
                    if usable {
                        " and this user may open it"
                    } else {
                        " (the system daemon opens it)"
                    }
                ),
                None,
            ),
        };
        out.push(finding("host.kvm", status, message, fix));
    }
    let network = v.networks.iter().find(|n| n.name == "default");
    out.push(default_object(
        ("host.network", "network", "net", "Network"),
        network.map(|n| (n.active, String::new())),
        &virsh,
        &format!("{virsh} net-define /usr/share/libvirt/networks/default.xml"),
    ));
    let pool = v.pools.iter().find(|(p, _)| p.name == "default");
    out.push(default_object(
        ("host.pool", "pool", "pool", "StoragePool"),
        pool.map(|(p, path)| (p.active, format!(" ({path})"))),
        &virsh,
        &format!("{virsh} pool-define-as default dir --target /var/lib/libvirt/images"),
    ));
    out
}

/// libvirt's `default` network or pool: (check, noun, virsh prefix,
/// manifest kind), and when it exists whether it is active (with a
/// detail); missing or inactive, the `virsh` commands that make it so.
fn default_object(
    (check, noun, cmd, kind): (&str, &str, &str, &str),
    found: Option<(bool, String)>,
    virsh: &str,
    define: &str,
) -> Finding {
    let start = format!("{virsh} {cmd}-start default && {virsh} {cmd}-autostart default");
    match found {
        Some((true, detail)) => finding(
            check,
            Status::Ok,
            format!("{noun} default is active{detail}"),
            None,
        ),
        Some((false, _)) => finding(
            check,
            Status::Warn,
            format!("{noun} default exists but is not active"),
            Some(format!("`{start}`")),
        ),
        None => finding(
            check,
            Status::Warn,
            format!("no {noun} default (guests that use it cannot start)"),
            Some(format!(
                "`{define} && {start}`, or declare a {kind} manifest"
            )),
        ),
    }
}

/// Whether the manifests' domains could migrate between this host and
/// Host `name` (`there`: what it answered, or the first finding of why it
/// could not be reached).
pub fn migration_findings(
    name: &str,
    here: &HostView,
    there: Result<&HostView, &Finding>,
    desired: &DesiredState,
) -> Vec<Finding> {
    let check = |what: &str| format!("migration.{name}.{what}");
    let there = match there {
        Ok(v) => v,
        Err(why) => {
            return vec![finding(
                &check("reachable"),
                Status::Problem,
                format!("host {name} cannot be reached from here: {}", why.message),
                why.fix.clone(),
            )]
        }
    };
    let mut out = vec![finding(
        &check("reachable"),
        Status::Ok,
        format!("host {name} answers from here"),
        None,
    )];
    if here.caps.host_uuid.is_some() && here.caps.host_uuid == there.caps.host_uuid {
        out[0].message = format!("host {name} is this host");
        return out;
    }
    let cpu = |v: &HostView| format!("{} {}", v.cpu_vendor, v.cpu_model);
    out.push(if here.cpu_vendor != there.cpu_vendor || here.caps.host_arch != there.caps.host_arch {
        finding(
            &check("cpu"),
            Status::Problem,
            format!("CPUs differ in vendor or arch: {} here, {} on {name}: a running guest cannot move", cpu(here), cpu(there)),
            Some("migrate shut-off guests only (define there, undefine here), or keep these guests on hosts of one CPU vendor".into()),
        )
    } else if here.cpu_model != there.cpu_model {
        finding(
            &check("cpu"),
            Status::Warn,
            format!("CPU models differ: {} here, {} on {name}", cpu(here), cpu(there)),
            Some("give migrating guests a CPU model both hosts have (`virsh hypervisor-cpu-baseline`), not host-passthrough".into()),
        )
    } else {
        finding(&check("cpu"), Status::Ok, format!("same CPU: {}", cpu(here)), None)
    });
    // The storage the manifests' domains use: pools by name, disk paths
    // inside some pool's directory on both hosts (a path no pool covers
    // cannot be checked through libvirt).
    let mut pools = BTreeSet::new();
    let mut paths = BTreeSet::new();
    for d in desired.domains.values() {
        for disk in d.disks.iter().flatten() {
            match &disk.source {
                DiskSource::Volume { pool, .. } => {
                    pools.insert(pool.clone());
                }
                DiskSource::Path { path, .. } => {
                    paths.insert(path.clone());
                }
                DiskSource::Empty => {}
            }
        }
    }
    let has_pool = |v: &HostView, p: &str| v.pools.iter().any(|(e, _)| e.name == p);
    let covers = |v: &HostView, path: &str| {
        v.pools
            .iter()
            .any(|(_, t)| !t.is_empty() && std::path::Path::new(path).starts_with(t))
    };
    let mut missing: Vec<String> = Vec::new();
    for p in &pools {
        for (v, at) in [(here, "here"), (there, name)] {
            if !has_pool(v, p) {
                missing.push(format!(
                    "pool {p} is missing {}",
                    if at == "here" {
                        "here".to_string()
                    } else {
                        format!("on {at}")
                    }
                ));
            }
        }
    }
    for p in &paths {
        for (v, at) in [(here, "here"), (there, name)] {
            if !covers(v, p) {
                missing.push(format!(
                    "no pool {} holds {p}",
                    if at == "here" {
                        "here".to_string()
                    } else {
                        format!("on {at}")
                    }
                ));
            }
        }
    }
    out.push(if missing.is_empty() {
        finding(
            &check("storage"),
            Status::Ok,
            format!("the manifests' pools and disk paths are on both hosts ({} pools, {} paths)", pools.len(), paths.len()),
            None,
        )
    } else {
        finding(
            &check("storage"),
            Status::Warn,
            format!("storage differs: {}", missing.join("; ")),
            Some(format!("define the same pools on both hosts (a StoragePool manifest per host), on storage both see (NFS, a shared LVM), before moving a guest to {name}")),
        )
    });
    out
}

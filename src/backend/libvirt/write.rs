//! The writes `apply` executes, on one libvirt connection: each method one
//! decision-free step, creates returning the identity libvirt gave.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use virt::domain::{Domain, DomainState};
use virt::sys;

use super::*;

impl Backend for LibvirtHost {
    fn define_domain(&self, xml: &str) -> Result<Created> {
        self.count("define_domain");
        self.conn
            .define_domain_xml(xml)
            .map(|d| Created::uuid(d.uuid_string()))
            .map_err(|e| call_err("define domain", &xml_name(xml), e))
    }

    fn create_domain(&self, xml: &str, paused: bool) -> Result<Created> {
        self.count("create_domain");
        let flags = if paused {
            sys::VIR_DOMAIN_START_PAUSED
        } else {
            0
        };
        match self.conn.create_domain_xml(xml, flags) {
            Ok(d) => Ok(Created::uuid(d.uuid_string())),
            // A driver without VIR_DOMAIN_START_PAUSED (the test driver):
            // start, then pause at once.
            Err(e) if paused && unsupported_flags(&e) => {
                self.count("create_domain");
                let d = self
                    .conn
                    .create_domain_xml(xml, 0)
                    .map_err(|e| call_err("create transient domain", &xml_name(xml), e))?;
                self.count("suspend_domain");
                d.suspend()
                    .map_err(|e| call_err("suspend domain", &xml_name(xml), e))?;
                Ok(Created::uuid(d.uuid_string()))
            }
            Err(e) => Err(call_err("create transient domain", &xml_name(xml), e)),
        }
    }

    fn start_domain(&self, name: &str, paused: bool) -> Result<()> {
        let d = self.domain(name)?;
        self.count("start_domain");
        let flags = if paused {
            sys::VIR_DOMAIN_START_PAUSED
        } else {
            0
        };
        match d.create_with_flags(flags) {
            Ok(_) => Ok(()),
            // As in create_domain: start, then pause at once.
            Err(e) if paused && unsupported_flags(&e) => {
                self.count("start_domain");
                d.create_with_flags(0)
                    .map_err(|e| call_err("start domain", name, e))?;
                self.count("suspend_domain");
                d.suspend().map_err(|e| call_err("suspend domain", name, e))
            }
            Err(e) => Err(call_err("start domain", name, e)),
        }
    }

    fn suspend_domain(&self, name: &str) -> Result<()> {
        let d = self.domain(name)?;
        self.count("suspend_domain");
        d.suspend().map_err(|e| call_err("suspend domain", name, e))
    }

    fn resume_domain(&self, name: &str) -> Result<()> {
        let d = self.domain(name)?;
        self.count("resume_domain");
        d.resume().map_err(|e| call_err("resume domain", name, e))
    }

    fn shutdown_domain(&self, name: &str, timeout: Duration) -> Result<()> {
        let d = self.domain(name)?;
        if timeout > Duration::ZERO {
            self.count("shutdown_domain");
            // A paused guest cannot react to ACPI; destroy it directly.
            if self.domain_state(&d)? == DomainState::Running {
                d.shutdown()
                    .map_err(|e| call_err("shut down domain", name, e))?;
                let deadline = Instant::now() + timeout;
                let mut wait = Duration::from_millis(50);
                while Instant::now() < deadline {
                    if self.cancelled.load(Ordering::SeqCst) {
                        return Err(BackendError::Cancelled {
                            call: "wait for the shutdown of domain",
                            object: name.to_string(),
                        });
                    }
                    std::thread::sleep(
                        wait.min(deadline.saturating_duration_since(Instant::now())),
                    );
                    // A transient domain that stops is gone: that is success.
                    match self.domain_state(&d) {
                        Ok(DomainState::Shutoff) => return Ok(()),
                        Err(e) if e.is_not_found() => return Ok(()),
                        // The connection failed (keepalive closed it): the
                        // guest's state is unknown, not "shut off".
                        Err(e) => return Err(e),
                        Ok(_) => {}
                    }
                    wait = (wait * 2).min(Duration::from_secs(1));
                }
                tracing::info!("domain {name} did not shut down within {timeout:?}; destroying it");
            }
        }
        self.count("destroy_domain");
        match d.destroy() {
            Ok(()) => Ok(()),
            // It stopped on its own between our last look and now (and, if
            // transient, vanished).
            Err(_) if !matches!(self.domain_state(&d), Ok(s) if s != DomainState::Shutoff) => {
                Ok(())
            }
            Err(e) => Err(call_err("destroy domain", name, e)),
        }
    }

    fn destroy_domain(&self, name: &str) -> Result<()> {
        let d = self.domain(name)?;
        self.count("destroy_domain");
        d.destroy().map_err(|e| call_err("destroy domain", name, e))
    }

    fn migrate_domain(&self, name: &str, m: &MigrateSpec) -> Result<()> {
        let d = self.domain(name)?;
        if let Some(ms) = m.max_downtime_ms {
            self.count("migrate_set_max_downtime");
            d.migrate_set_max_downtime(ms, 0)
                .map_err(|e| call_err("set the migration downtime of domain", name, e))?;
        }
        // Peer to peer: this host's daemon dials the target itself, so the
        // migration does not depend on this process staying connected to
        // both, and libvirt keeps the guest here if anything fails.
        let mut flags = sys::VIR_MIGRATE_LIVE | sys::VIR_MIGRATE_PEER2PEER;
        if m.persistent {
            flags |= sys::VIR_MIGRATE_PERSIST_DEST | sys::VIR_MIGRATE_UNDEFINE_SOURCE;
        }
        if m.tunnelled {
            flags |= sys::VIR_MIGRATE_TUNNELLED;
        }
        if m.compressed {
            flags |= sys::VIR_MIGRATE_COMPRESSED;
        }
        let params = virt::domain::MigrateParameters {
            bandwidth: m.bandwidth_mib,
            ..Default::default()
        };
        self.count("migrate_domain");
        d.migrate_to_uri3(Some(&m.uri), params, flags)
            .map_err(|e| call_err("migrate domain", name, e))
    }

    fn undefine_domain(&self, name: &str, flags: UndefineFlags) -> Result<()> {
        let d = self.domain(name)?;
        self.count("undefine_domain");
        let mut f = 0;
        for (on, bit) in [
            (flags.managed_save, sys::VIR_DOMAIN_UNDEFINE_MANAGED_SAVE),
            (
                flags.snapshots_metadata,
                sys::VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA,
            ),
            (
                flags.checkpoints_metadata,
                sys::VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA,
            ),
            (flags.nvram, sys::VIR_DOMAIN_UNDEFINE_NVRAM),
            (flags.keep_nvram, sys::VIR_DOMAIN_UNDEFINE_KEEP_NVRAM),
        ] {
            if on {
                f |= bit;
            }
        }
        match d.undefine_flags(f) {
            // A driver without checkpoints (the test driver) refuses their
            // flag: such a domain has none to remove.
            Err(e) if flags.checkpoints_metadata && unsupported_flags(&e) => {
                self.count("undefine_domain");
                d.undefine_flags(f & !sys::VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA)
                    .map_err(|e| call_err("undefine domain", name, e))
            }
            r => r.map_err(|e| call_err("undefine domain", name, e)),
        }
    }

    fn create_snapshot(&self, domain: &str, xml: &str) -> Result<()> {
        let d = self.domain(domain)?;
        self.count("create_snapshot");
        d.create_snapshot_xml(xml, 0)
            .map(|_| ())
            .map_err(|e| call_err("take snapshot of domain", domain, e))
    }

    fn save_snapshots(&self, domain: &str) -> Result<Vec<SavedSnapshot>> {
        let d = self.domain(domain)?;
        self.count("list_snapshots");
        // Topological: a parent is redefined before its children.
        let snaps = d
            .list_all_snapshots(sys::VIR_DOMAIN_SNAPSHOT_LIST_TOPOLOGICAL)
            .map_err(|e| call_err("list snapshots of domain", domain, e))?;
        let mut out = Vec::with_capacity(snaps.len());
        for s in snaps {
            let name = s
                .name()
                .map_err(|e| call_err("list snapshots of domain", domain, e))?;
            let what = format!("{domain}/{name}");
            self.count("snapshot_xml");
            let xml = s
                .xml_desc(sys::VIR_DOMAIN_SNAPSHOT_XML_SECURE)
                .map_err(|e| call_err("read XML of snapshot", &what, e))?;
            self.count("snapshot_is_current");
            let current = s
                .is_current(0)
                .map_err(|e| call_err("read snapshot", &what, e))?;
            out.push(SavedSnapshot { name, xml, current });
        }
        Ok(out)
    }

    fn restore_snapshot(&self, domain: &str, saved: &SavedSnapshot) -> Result<()> {
        let d = self.domain(domain)?;
        self.count("redefine_snapshot");
        let mut flags = sys::VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE;
        if saved.current {
            flags |= sys::VIR_DOMAIN_SNAPSHOT_CREATE_CURRENT;
        }
        d.create_snapshot_xml(&saved.xml, flags)
            .map(|_| ())
            .map_err(|e| {
                call_err(
                    "restore snapshot of domain",
                    &format!("{domain}/{}", saved.name),
                    e,
                )
            })
    }

    fn redefine_snapshot(&self, domain: &str, xml: &str) -> Result<()> {
        let d = self.domain(domain)?;
        self.count("redefine_snapshot");
        d.create_snapshot_xml(xml, sys::VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE)
            .map(|_| ())
            .map_err(|e| call_err("update snapshot of domain", domain, e))
    }

    fn revert_snapshot(&self, domain: &str, name: &str) -> Result<()> {
        let d = self.domain(domain)?;
        self.count("lookup_snapshot");
        let s = Domain::lookup_snapshot_by_name(&d, name, 0)
            .map_err(|e| call_err("find snapshot", &format!("{domain}/{name}"), e))?;
        self.count("revert_snapshot");
        s.revert(0)
            .map_err(|e| call_err("revert to snapshot", &format!("{domain}/{name}"), e))
    }

    fn delete_snapshot(&self, domain: &str, name: &str) -> Result<()> {
        let d = self.domain(domain)?;
        self.count("lookup_snapshot");
        let s = Domain::lookup_snapshot_by_name(&d, name, 0)
            .map_err(|e| call_err("find snapshot", &format!("{domain}/{name}"), e))?;
        self.count("delete_snapshot");
        s.delete(0)
            .map_err(|e| call_err("delete snapshot", &format!("{domain}/{name}"), e))
    }

    fn cancel(&self) {
        self.cancelled.store(true, Ordering::SeqCst);
    }

    fn set_domain_autostart(&self, name: &str, on: bool) -> Result<()> {
        let d = self.domain(name)?;
        self.count("set_domain_autostart");
        d.set_autostart(on)
            .map(|_| ())
            .map_err(|e| call_err("set autostart of domain", name, e))
    }

    fn set_live_memory(&self, name: &str, kib: u64) -> Result<()> {
        let d = self.domain(name)?;
        self.count("set_memory");
        d.set_memory_flags(kib, sys::VIR_DOMAIN_AFFECT_LIVE)
            .map(|_| ())
            .map_err(|e| call_err("set live memory of domain", name, e))
    }

    fn set_live_marker(&self, name: &str, fragment: &str) -> Result<()> {
        let d = self.domain(name)?;
        self.count("set_metadata");
        d.set_metadata(
            sys::VIR_DOMAIN_METADATA_ELEMENT as i32,
            Some(fragment),
            Some("virtsync"),
            Some(crate::render::MARKER_NS),
            sys::VIR_DOMAIN_AFFECT_LIVE,
        )
        .map_err(|e| call_err("set ownership marker of domain", name, e))
    }

    fn set_live_vcpus(&self, name: &str, n: u32) -> Result<()> {
        let d = self.domain(name)?;
        self.count("set_vcpus");
        d.set_vcpus_flags(n, sys::VIR_DOMAIN_AFFECT_LIVE)
            .map(|_| ())
            .map_err(|e| call_err("set live vcpus of domain", name, e))
    }

    fn attach_device(&self, name: &str, xml: &str) -> Result<()> {
        let d = self.domain(name)?;
        self.count("attach_device");
        d.attach_device_flags(xml, sys::VIR_DOMAIN_AFFECT_LIVE)
            .map_err(|e| call_err("hot-plug a device into domain", name, e))
    }

    fn detach_device(&self, name: &str, xml: &str) -> Result<()> {
        let d = self.domain(name)?;
        self.count("detach_device");
        match d.detach_device_flags(xml, sys::VIR_DOMAIN_AFFECT_LIVE) {
            // Not in the running guest (added to the config while it ran,
            // or already released): nothing to unplug.
            Err(e)
                if e.code()
                    == virt::enumutil::Enum::Known(virt::error::ErrorNumber::DeviceMissing) =>
            {
                Ok(())
            }
            r => r.map_err(|e| call_err("unplug a device from domain", name, e)),
        }
    }

    fn define_network(&self, xml: &str) -> Result<Created> {
        self.count("define_network");
        self.conn
            .define_network_xml(xml)
            .map(|n| Created::uuid(n.uuid_string()))
            .map_err(|e| call_err("define network", &xml_name(xml), e))
    }

    fn start_network(&self, name: &str) -> Result<()> {
        let n = self.network(name)?;
        self.count("start_network");
        n.create()
            .map(|_| ())
            .map_err(|e| call_err("start network", name, e))
    }

    fn destroy_network(&self, name: &str) -> Result<()> {
        let n = self.network(name)?;
        self.count("destroy_network");
        n.destroy().map_err(|e| call_err("stop network", name, e))
    }

    fn undefine_network(&self, name: &str) -> Result<()> {
        let n = self.network(name)?;
        self.count("undefine_network");
        n.undefine()
            .map_err(|e| call_err("undefine network", name, e))
    }

    fn set_network_autostart(&self, name: &str, on: bool) -> Result<()> {
        let n = self.network(name)?;
        self.count("set_network_autostart");
        n.set_autostart(on)
            .map(|_| ())
            .map_err(|e| call_err("set autostart of network", name, e))
    }

    fn update_network_dhcp_host(
        &self,
        name: &str,
        xml: &str,
        add: bool,
        live: bool,
        config: bool,
    ) -> Result<()> {
        let n = self.network(name)?;
        self.count("update_network");
        let cmd = if add {
            sys::VIR_NETWORK_UPDATE_COMMAND_ADD_LAST
        } else {
            sys::VIR_NETWORK_UPDATE_COMMAND_DELETE
        };
        let mut flags = 0;
        if config {
            flags |= sys::VIR_NETWORK_UPDATE_AFFECT_CONFIG;
        }
        if live {
            flags |= sys::VIR_NETWORK_UPDATE_AFFECT_LIVE;
        }
        n.update(cmd, sys::VIR_NETWORK_SECTION_IP_DHCP_HOST, -1, xml, flags)
            .map_err(|e| call_err("update DHCP hosts of network", name, e))
    }

    fn define_pool(&self, xml: &str) -> Result<Created> {
        self.count("define_pool");
        self.conn
            .define_storage_pool_xml(xml, 0)
            .map(|p| Created::uuid(p.uuid_string()))
            .map_err(|e| call_err("define pool", &xml_name(xml), e))
    }

    fn build_pool(&self, name: &str) -> Result<()> {
        let p = self.pool(name)?;
        self.count("build_pool");
        p.build(sys::VIR_STORAGE_POOL_BUILD_NEW)
            .map(|_| ())
            .map_err(|e| call_err("build pool", name, e))
    }

    fn start_pool(&self, name: &str) -> Result<()> {
        let p = self.pool(name)?;
        self.count("start_pool");
        p.create(0)
            .map(|_| ())
            .map_err(|e| call_err("start pool", name, e))
    }

    fn destroy_pool(&self, name: &str) -> Result<()> {
        let p = self.pool(name)?;
        self.count("destroy_pool");
        p.destroy().map_err(|e| call_err("stop pool", name, e))
    }

    fn undefine_pool(&self, name: &str) -> Result<()> {
        let p = self.pool(name)?;
        self.count("undefine_pool");
        p.undefine().map_err(|e| call_err("undefine pool", name, e))
    }

    fn set_pool_autostart(&self, name: &str, on: bool) -> Result<()> {
        let p = self.pool(name)?;
        self.count("set_pool_autostart");
        p.set_autostart(on)
            .map(|_| ())
            .map_err(|e| call_err("set autostart of pool", name, e))
    }

    fn create_volume(
        &self,
        pool: &str,
        xml: &str,
        clone_from: Option<(&str, &str)>,
    ) -> Result<Created> {
        let p = self.pool(pool)?;
        let object = format!("{pool}/{}", xml_name(xml));
        match clone_from {
            None => {
                self.count("create_volume");
                virt::storage_vol::StorageVol::create_xml(&p, xml, 0)
                    .map(|v| Created::key(v.key()))
                    .map_err(|e| call_err("create volume", &object, e))
            }
            Some((src_pool, src_name)) => {
                let sp = if src_pool == pool {
                    p.clone()
                } else {
                    self.pool(src_pool)?
                };
                self.count("lookup_volume");
                let src = sp
                    .lookup_storage_vol_by_name(src_name)
                    .map_err(|e| call_err("find volume", &format!("{src_pool}/{src_name}"), e))?;
                self.count("create_volume_from");
                virt::storage_vol::StorageVol::create_xml_from(&p, xml, &src, 0)
                    .map(|v| Created::key(v.key()))
                    .map_err(|e| call_err("clone volume", &object, e))
            }
        }
    }

    fn resize_volume(&self, pool: &str, name: &str, capacity: u64) -> Result<()> {
        let v = self.volume(pool, name)?;
        self.count("resize_volume");
        v.resize(capacity, 0)
            .map(|_| ())
            .map_err(|e| call_err("resize volume", &format!("{pool}/{name}"), e))
    }

    fn upload_volume(&self, pool: &str, name: &str, data: &mut dyn std::io::Read) -> Result<u64> {
        let object = format!("{pool}/{name}");
        let v = self.volume(pool, name)?;
        self.count("upload_volume");
        let stream = virt::stream::Stream::new(&self.conn, 0)
            .map_err(|e| call_err("open stream for volume", &object, e))?;
        // Offset 0, length 0: the whole volume, from its start, for as
        // long as we send.
        v.upload(&stream, 0, 0, 0)
            .map_err(|e| call_err("upload to volume", &object, e))?;
        let fail = |message: String| BackendError::Call {
            call: "upload to volume",
            object: object.clone(),
            message,
            code: 0,
        };
        let mut buf = vec![0u8; 1 << 20];
        let mut sent = 0u64;
        loop {
            let n = match data.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // Tell the daemon to drop what it got: the caller
                    // deletes the half volume.
                    let _ = stream.abort();
                    return Err(fail(e.to_string()));
                }
            };
            let mut chunk = &buf[..n];
            while !chunk.is_empty() {
                match stream.send(chunk) {
                    Ok(k) if k > 0 => chunk = &chunk[k as usize..],
                    Ok(_) => continue,
                    Err(e) => {
                        let _ = stream.abort();
                        return Err(call_err("upload to volume", &object, e));
                    }
                }
            }
            sent += n as u64;
        }
        stream
            .finish()
            .map_err(|e| call_err("finish upload to volume", &object, e))?;
        Ok(sent)
    }

    fn delete_volume(&self, pool: &str, name: &str) -> Result<()> {
        let v = self.volume(pool, name)?;
        self.count("delete_volume");
        v.delete(0)
            .map_err(|e| call_err("delete volume", &format!("{pool}/{name}"), e))
    }

    fn resize_disk(&self, domain: &str, target: &str, capacity: u64) -> Result<()> {
        let d = self.domain(domain)?;
        self.count("block_resize");
        d.block_resize(target, capacity, sys::VIR_DOMAIN_BLOCK_RESIZE_BYTES)
            .map_err(|e| call_err("grow disk of domain", &format!("{domain}/{target}"), e))
    }
}

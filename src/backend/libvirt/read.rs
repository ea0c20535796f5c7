//! The reads `observe` makes, on one libvirt connection: bulk listings
//! that keep their handles, and XML reads by name that use them.

use std::collections::BTreeMap;

use virt::domain::Domain;
use virt::sys;

use super::*;

impl HostRead for LibvirtHost {
    fn domain_addresses(&self, domain: &str, source: AddressSource) -> Result<Vec<IfaceAddrs>> {
        let d = self.domain(domain)?;
        self.count("domain_addresses");
        let src = match source {
            AddressSource::Lease => sys::VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_LEASE,
            AddressSource::Agent => sys::VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_AGENT,
        };
        let ifaces = d
            .interface_addresses(src, 0)
            .map_err(|e| call_err("read addresses of domain", domain, e))?;
        Ok(ifaces
            .into_iter()
            .map(|i| IfaceAddrs {
                name: i.name,
                hwaddr: i.hwaddr,
                addrs: i
                    .addrs
                    .into_iter()
                    .map(|a| (a.addr, a.prefix.min(128) as u8))
                    .collect(),
            })
            .collect())
    }

    fn uri(&self) -> &str {
        &self.uri
    }

    fn capabilities(&self) -> Result<String> {
        self.count("capabilities");
        self.conn
            .capabilities()
            .map_err(|e| call_err("capabilities", &self.uri, e))
    }

    /// Bulk stats give every domain with its state; filtered lists give
    /// the transient and (when asked) the autostarting ones: two or three
    /// calls for any number of domains.
    fn list_domains(&self, with_autostart: bool) -> Result<Vec<DomainEntry>> {
        let list = |flags: u32, what: &'static str| -> Result<Vec<Domain>> {
            self.count("list_all_domains");
            self.conn
                .list_all_domains(flags)
                .map_err(|e| call_err(what, &self.uri, e))
        };
        let names = |v: Vec<Domain>| -> std::collections::BTreeSet<String> {
            v.iter().filter_map(|d| d.name().ok()).collect()
        };
        let (all, paused) = match self.domains_with_state() {
            Some((all, paused)) => (all, paused.into_iter().collect()),
            // A driver without bulk stats: one more list call instead.
            None => (
                list(0, "list domains")?,
                names(list(
                    sys::VIR_CONNECT_LIST_DOMAINS_PAUSED,
                    "list paused domains",
                )?),
            ),
        };
        let autostart = if with_autostart {
            names(list(
                sys::VIR_CONNECT_LIST_DOMAINS_AUTOSTART,
                "list autostart domains",
            )?)
        } else {
            Default::default()
        };
        let transient = names(list(
            sys::VIR_CONNECT_LIST_DOMAINS_TRANSIENT,
            "list transient domains",
        )?);
        let mut out = Vec::with_capacity(all.len());
        let mut handles = BTreeMap::new();
        for d in all {
            // name, UUID and id are held by the handle: no call.
            let Ok(name) = d.name() else { continue };
            let state = if paused.contains(&name) {
                PowerState::Paused
            } else if d.id().is_some() {
                PowerState::Running
            } else {
                PowerState::Shutoff
            };
            out.push(DomainEntry {
                uuid: d.uuid_string().unwrap_or_default(),
                state,
                id: d.id(),
                persistent: !transient.contains(&name),
                autostart: autostart.contains(&name),
                name: name.clone(),
            });
            handles.insert(name, d);
        }
        self.handles().domains = handles;
        Ok(out)
    }

    fn domain_xml(&self, name: &str, live: bool) -> Result<String> {
        let d = self.domain(name)?;
        self.count("domain_xml");
        let flags = if live {
            sys::VIR_DOMAIN_XML_SECURE
        } else {
            sys::VIR_DOMAIN_XML_INACTIVE | sys::VIR_DOMAIN_XML_SECURE
        };
        d.xml_desc(flags)
            .map_err(|e| call_err("read XML of domain", name, e))
    }

    fn list_networks(&self, with_autostart: bool) -> Result<Vec<Entry>> {
        let (all, active, autostart) = self.list_with_subsets(
            ("list_all_networks", "list networks"),
            |f| self.conn.list_all_networks(f),
            |n| n.name().ok(),
            (
                sys::VIR_CONNECT_LIST_NETWORKS_ACTIVE,
                with_autostart.then_some(sys::VIR_CONNECT_LIST_NETWORKS_AUTOSTART),
            ),
        )?;
        let (out, handles) = entries(
            all,
            |n| (n.name().ok(), n.uuid_string()),
            Some(&active),
            &autostart,
        );
        self.handles().networks = handles;
        Ok(out)
    }

    fn list_active_networks(&self, with_autostart: bool) -> Result<Vec<Entry>> {
        let (active, autostart) = self.list_active(
            ("list_all_networks", "list networks"),
            |f| self.conn.list_all_networks(f),
            |n| n.name().ok(),
            (
                sys::VIR_CONNECT_LIST_NETWORKS_ACTIVE,
                with_autostart.then_some(sys::VIR_CONNECT_LIST_NETWORKS_AUTOSTART),
            ),
        )?;
        let (out, handles) = entries(
            active,
            |n| (n.name().ok(), n.uuid_string()),
            None,
            &autostart,
        );
        self.handles().networks = handles;
        Ok(out)
    }

    fn list_active_pools(&self, with_autostart: bool) -> Result<Vec<Entry>> {
        let (active, autostart) = self.list_active(
            ("list_all_storage_pools", "list storage pools"),
            |f| self.conn.list_all_storage_pools(f),
            |p| p.name().ok(),
            (
                sys::VIR_CONNECT_LIST_STORAGE_POOLS_ACTIVE,
                with_autostart.then_some(sys::VIR_CONNECT_LIST_STORAGE_POOLS_AUTOSTART),
            ),
        )?;
        let (out, handles) = entries(
            active,
            |p| (p.name().ok(), p.uuid_string()),
            None,
            &autostart,
        );
        self.handles().pools = handles;
        Ok(out)
    }

    fn network_xml(&self, name: &str, live: bool) -> Result<String> {
        let n = self.network(name)?;
        if live {
            self.count("network_xml");
            return n
                .xml_desc(0)
                .map_err(|e| call_err("read live XML of network", name, e));
        }
        self.inactive_xml(
            ("network_xml", "read XML of network"),
            name,
            sys::VIR_NETWORK_XML_INACTIVE,
            |f| n.xml_desc(f),
        )
    }

    fn list_pools(&self, with_autostart: bool) -> Result<Vec<Entry>> {
        let (all, active, autostart) = self.list_with_subsets(
            ("list_all_storage_pools", "list storage pools"),
            |f| self.conn.list_all_storage_pools(f),
            |p| p.name().ok(),
            (
                sys::VIR_CONNECT_LIST_STORAGE_POOLS_ACTIVE,
                with_autostart.then_some(sys::VIR_CONNECT_LIST_STORAGE_POOLS_AUTOSTART),
            ),
        )?;
        let (out, handles) = entries(
            all,
            |p| (p.name().ok(), p.uuid_string()),
            Some(&active),
            &autostart,
        );
        self.handles().pools = handles;
        Ok(out)
    }

    fn pool_xml(&self, name: &str) -> Result<String> {
        let p = self.pool(name)?;
        self.inactive_xml(
            ("pool_xml", "read XML of pool"),
            name,
            sys::VIR_STORAGE_XML_INACTIVE,
            |f| p.xml_desc(f),
        )
    }

    fn list_volumes(&self, pool: &str) -> Result<Vec<String>> {
        let p = self.pool(pool)?;
        self.count("list_all_volumes");
        let vols = p
            .list_all_volumes(0)
            .map_err(|e| call_err("list volumes of pool", pool, e))?;
        let mut names = Vec::with_capacity(vols.len());
        let mut handles = self.handles();
        handles.volumes.retain(|(p, _), _| p != pool);
        for v in vols {
            let Ok(name) = v.name() else { continue };
            names.push(name.clone());
            handles.volumes.insert((pool.to_string(), name), v);
        }
        Ok(names)
    }

    fn snapshots(&self, domain: &str) -> Result<Vec<(String, String)>> {
        let d = self.domain(domain)?;
        self.count("list_snapshots");
        let snaps = d
            .list_all_snapshots(0)
            .map_err(|e| call_err("list snapshots of domain", domain, e))?;
        let mut out = Vec::with_capacity(snaps.len());
        for s in snaps {
            let Ok(name) = s.name() else { continue };
            self.count("snapshot_xml");
            let xml = s
                .xml_desc(sys::VIR_DOMAIN_SNAPSHOT_XML_SECURE)
                .map_err(|e| call_err("read XML of snapshot", &format!("{domain}/{name}"), e))?;
            out.push((name, xml));
        }
        Ok(out)
    }

    fn volume_xml(&self, pool: &str, name: &str) -> Result<String> {
        let v = self.volume(pool, name)?;
        self.count("volume_xml");
        v.xml_desc(0)
            .map_err(|e| call_err("read XML of volume", &format!("{pool}/{name}"), e))
    }
}

/// The entries of a listing (name, UUID, whether active — all of them
/// when `active` is `None` — and autostarting) and the handles they keep, by name, so that reading an object just
/// listed costs no lookup.
fn entries<T>(
    listed: Vec<T>,
    id: impl Fn(
        &T,
    ) -> (
        Option<String>,
        std::result::Result<String, virt::error::Error>,
    ),
    active: Option<&[String]>,
    autostart: &[String],
) -> (Vec<Entry>, BTreeMap<String, T>) {
    let mut handles = BTreeMap::new();
    let mut out = Vec::with_capacity(listed.len());
    for h in listed {
        let (Some(name), uuid) = id(&h) else { continue };
        out.push(Entry {
            uuid: uuid.unwrap_or_default(),
            active: active.is_none_or(|a| a.contains(&name)),
            autostart: autostart.contains(&name),
            name: name.clone(),
        });
        handles.insert(name, h);
    }
    (out, handles)
}

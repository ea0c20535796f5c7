//! The IP addresses of running domains, for `status`: the addresses DHCP
//! host entries of the observed networks reserve for the domain's MACs
//! (read from the observation alone), and those libvirt reports — the
//! managed networks' DHCP leases, or the guest agent's view — converted
//! here from the backend's plain listing.

use crate::backend::{AddressSource, HostRead, IfaceAddrs};
use crate::model::{ObservedHost, PowerState};
use crate::render::domain::{read_domain, NicSourceId};
use crate::render::network::read_network;
use crate::xml::Element;

/// The addresses DHCP host entries of its networks reserve for the MACs
/// of running domain `domain` (`10.0.0.10 (reserved)`), from its live XML
/// when read, else its persistent XML.
pub fn reserved(host: &ObservedHost, domain: &str) -> Vec<String> {
    let Some(d) = host
        .domains
        .get(domain)
        .filter(|d| d.state != PowerState::Shutoff)
    else {
        return vec![];
    };
    let Some(root) = d
        .live_xml
        .as_deref()
        .or(d.xml.as_deref())
        .and_then(|x| Element::parse(x).ok())
    else {
        return vec![];
    };
    let mut out = Vec::new();
    for nic in read_domain(&root).interfaces {
        let (NicSourceId::Network(net), Some(mac)) = (&nic.source, &nic.mac) else {
            continue;
        };
        let Some(facts) = host
            .networks
            .get(net)
            .and_then(|n| n.live_xml.as_deref().or(n.xml.as_deref()))
            .and_then(|x| Element::parse(x).ok())
            .map(|e| read_network(&e))
        else {
            continue;
        };
        for ip in facts.ipv4.iter().chain(facts.ipv6.iter()) {
            for h in &ip.hosts {
                if h.mac
                    .as_deref()
                    .is_some_and(|m| m.eq_ignore_ascii_case(mac))
                {
                    out.push(format!("{} (reserved)", h.ip));
                }
            }
        }
    }
    out
}

/// The addresses libvirt reported (`10.0.0.57/24 (lease)`), loopback left
/// out (the agent lists the guest's `lo`).
pub fn reported(ifaces: &[IfaceAddrs], source: AddressSource) -> Vec<String> {
    let mut out = Vec::new();
    for i in ifaces {
        if i.name == "lo" {
            continue;
        }
        for (addr, prefix) in &i.addrs {
            out.push(format!("{addr}/{prefix} ({})", source.as_str()));
        }
    }
    out
}

/// Whether a domain's XML has the QEMU guest agent's channel, through
/// which libvirt can ask the guest for its addresses.
fn has_agent_channel(root: &Element) -> bool {
    root.find(&["devices"]).is_some_and(|devs| {
        devs.children_named("channel").any(|c| {
            c.child("target").and_then(|t| t.attr("name")) == Some("org.qemu.guest_agent.0")
        })
    })
}

/// Whether an interface of the domain is on a network with DHCP: only
/// those have leases to list (and libvirt's test driver crashes when
/// asked for the leases of a network without an address).
fn on_dhcp_network(read: &dyn HostRead, root: &Element) -> bool {
    read_domain(root).interfaces.iter().any(|nic| {
        let NicSourceId::Network(net) = &nic.source else {
            return false;
        };
        read.network_xml(net, true)
            .ok()
            .and_then(|x| Element::parse(&x).ok())
            .is_some_and(|e| {
                let f = read_network(&e);
                f.ipv4
                    .iter()
                    .chain(f.ipv6.iter())
                    .any(|ip| !ip.ranges.is_empty() || !ip.hosts.is_empty())
            })
    })
}

/// The addresses of running domain `domain` (whose live XML is
/// `live_xml`) that libvirt reports: the DHCP leases, when it is on a
/// network with DHCP, and the guest agent's view, when it has the agent's
/// channel. A source that fails (no agent answering yet) adds nothing:
/// addresses are information, never a reason for a command to fail.
pub fn query(read: &dyn HostRead, domain: &str, live_xml: &str) -> Vec<String> {
    let Ok(root) = Element::parse(live_xml) else {
        return vec![];
    };
    let mut sources = Vec::new();
    if on_dhcp_network(read, &root) {
        sources.push(AddressSource::Lease);
    }
    if has_agent_channel(&root) {
        sources.push(AddressSource::Agent);
    }
    let mut out = Vec::new();
    for source in sources {
        if let Ok(ifaces) = read.domain_addresses(domain, source) {
            out.extend(reported(&ifaces, source));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// As `virsh domifaddr --source lease` and `--source agent` report
    /// them on libvirt 9.0 (interface, MAC, addresses).
    #[test]
    fn leases_and_agent_addresses_are_listed_without_loopback() {
        let lease = [IfaceAddrs {
            name: "vnet0".into(),
            hwaddr: Some("52:54:00:88:00:10".into()),
            addrs: vec![("10.88.0.10".into(), 24)],
        }];
        assert_eq!(
            reported(&lease, AddressSource::Lease),
            ["10.88.0.10/24 (lease)"]
        );
        let agent = [
            IfaceAddrs {
                name: "lo".into(),
                hwaddr: Some("00:00:00:00:00:00".into()),
                addrs: vec![("127.0.0.1".into(), 8), ("::1".into(), 128)],
            },
            IfaceAddrs {
                name: "enp1s0".into(),
                hwaddr: Some("52:54:00:88:00:10".into()),
                addrs: vec![
                    ("10.88.0.10".into(), 24),
                    ("fe80::5054:ff:fe88:10".into(), 64),
                ],
            },
        ];
        assert_eq!(
            reported(&agent, AddressSource::Agent),
            ["10.88.0.10/24 (agent)", "fe80::5054:ff:fe88:10/64 (agent)"]
        );
    }
}

//! A Network manifest from an existing network's XML: forward mode, bridge,
//! MTU, DNS domain, addresses with their DHCP ranges and hosts, DNS
//! forwarders and hosts, autostart, and the UUID pinned. What a manifest
//! cannot express is left out (unmanaged), and the network keeps it.

use super::parse_word;
use crate::manifest::types::*;
use crate::render::network::{read_network, IpFacts, NetworkFacts};
use crate::xml::Element;

/// A network read for a manifest.
#[derive(Debug, Clone)]
pub struct ImportedNetwork {
    pub name: String,
    pub spec: NetworkSpec,
    /// Fields left out, with why.
    pub left_out: Vec<String>,
}

/// The manifest of network `root` (its inactive XML).
pub fn network_spec(root: &Element, active: bool, autostart: bool) -> ImportedNetwork {
    let f = read_network(root);
    let name = root.child("name").map(|n| n.text()).unwrap_or_default();
    let mut left_out = Vec::new();
    let forward = forward_spec(&f)
        .map_err(|why| left_out.push(format!("forward: {why}")))
        .ok();
    let bridge =
        (f.bridge_name.is_some() || f.stp.is_some() || f.delay.is_some()).then(|| BridgeSpec {
            name: f.bridge_name.clone(),
            stp: f.stp,
            delay: f.delay,
        });
    let ip = |fam: &str, ip: &Option<IpFacts>, left_out: &mut Vec<String>| {
        let ip = ip.as_ref()?;
        match ip_spec(ip) {
            Ok(s) => Some(s),
            Err(why) => {
                left_out.push(format!("{fam}: {why}"));
                None
            }
        }
    };
    let ipv4 = ip("ipv4", &f.ipv4, &mut left_out);
    let ipv6 = ip("ipv6", &f.ipv6, &mut left_out);
    let dns_hosts: Option<Vec<DnsHostSpec>> = f
        .dns_hosts
        .iter()
        .map(|h| {
            let (ip, names) = h.split_once(' ')?;
            let hostnames: Vec<String> = names
                .split(',')
                .filter(|n| !n.is_empty())
                .map(str::to_string)
                .collect();
            (!hostnames.is_empty()).then(|| DnsHostSpec {
                ip: ip.to_string(),
                hostnames,
            })
        })
        .collect();
    if dns_hosts.is_none() {
        left_out.push("dns.hosts: an entry without a host name".into());
    }
    let dns_hosts = dns_hosts.filter(|h| !h.is_empty());
    let dns = (f.dns_enable.is_some() || !f.dns_forwarders.is_empty() || dns_hosts.is_some()).then(
        || DnsSpec {
            enable: f.dns_enable,
            forwarders: (!f.dns_forwarders.is_empty()).then(|| f.dns_forwarders.clone()),
            hosts: dns_hosts,
        },
    );
    let spec = NetworkSpec {
        uuid: Some(f.uuid.to_ascii_lowercase()).filter(|u| !u.is_empty()),
        forward,
        bridge,
        mtu: f.mtu,
        domain: f.domain.clone(),
        ipv4,
        ipv6,
        dns,
        autostart: Some(autostart),
        active: (!active).then_some(false),
        restart_policy: None,
        xml: None,
    };
    ImportedNetwork {
        name,
        spec,
        left_out,
    }
}

fn forward_spec(f: &NetworkFacts) -> Result<ForwardSpec, String> {
    let mode = parse_word::<ForwardMode>(&f.forward_mode)
        .ok_or_else(|| format!("mode `{}` is not modelled", f.forward_mode))?;
    // A manifest gives `dev` with nat and route only; elsewhere the
    // host's `dev` could not be written, and comparing would differ.
    let dev_allowed = matches!(mode, ForwardMode::Nat | ForwardMode::Route);
    if f.forward_dev.is_some() && !dev_allowed {
        return Err(format!("a `dev` with mode {mode} is not modelled"));
    }
    Ok(ForwardSpec {
        mode,
        dev: f.forward_dev.clone(),
    })
}

fn ip_spec(ip: &IpFacts) -> Result<IpSpec, String> {
    if ip.address.parse::<std::net::IpAddr>().is_err() {
        return Err(format!("address `{}` is not an IP address", ip.address));
    }
    let ranges: Vec<DhcpRangeSpec> = ip
        .ranges
        .iter()
        .filter_map(|r| r.split_once('-'))
        .map(|(start, end)| DhcpRangeSpec {
            start: start.to_string(),
            end: end.to_string(),
        })
        .collect();
    if ip.hosts.iter().any(|h| h.mac.is_none() && h.name.is_none()) {
        return Err("a DHCP host without a MAC or a name (an IPv6 `id`) is not modelled".into());
    }
    let hosts: Vec<DhcpHostSpec> = ip
        .hosts
        .iter()
        .map(|h| DhcpHostSpec {
            mac: h.mac.clone(),
            name: h.name.clone(),
            ip: h.ip.clone(),
        })
        .collect();
    let dhcp = (!ranges.is_empty() || !hosts.is_empty()).then(|| DhcpSpec {
        ranges: (!ranges.is_empty()).then_some(ranges),
        hosts: (!hosts.is_empty()).then_some(hosts),
    });
    Ok(IpSpec {
        address: ip.address.clone(),
        prefix: ip.prefix,
        dhcp,
    })
}

//! Networks: write a [`Network`] into libvirt network XML and read it back
//! as [`NetworkFacts`].

use std::net::IpAddr;

use super::Marker;
use crate::model::*;
use crate::xml::{Element, Node};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkFacts {
    pub uuid: String,
    /// nat, route, open, bridge, or isolated when there is no `<forward>`.
    pub forward_mode: String,
    pub forward_dev: Option<String>,
    pub bridge_name: Option<String>,
    pub stp: Option<bool>,
    pub delay: Option<u32>,
    pub mtu: Option<u32>,
    pub domain: Option<String>,
    pub ipv4: Option<IpFacts>,
    pub ipv6: Option<IpFacts>,
    pub dns_enable: Option<bool>,
    pub dns_forwarders: Vec<String>,
    /// `IP name1,name2`.
    pub dns_hosts: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IpFacts {
    pub address: String,
    pub prefix: u8,
    /// `START-END`.
    pub ranges: Vec<String>,
    pub hosts: Vec<DhcpHostFacts>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct DhcpHostFacts {
    pub mac: Option<String>,
    pub name: Option<String>,
    pub ip: String,
}

impl DhcpHostFacts {
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        if let Some(m) = &self.mac {
            parts.push(m.clone());
        }
        if let Some(n) = &self.name {
            parts.push(n.clone());
        }
        parts.push(self.ip.clone());
        parts.join(" ")
    }

    pub fn to_element(&self) -> Element {
        let mut e = Element::new("host");
        if let Some(m) = &self.mac {
            e.set_attr("mac", m.clone());
        }
        if let Some(n) = &self.name {
            e.set_attr("name", n.clone());
        }
        e.set_attr("ip", self.ip.clone());
        e
    }
}

fn prefix_of(ip: &Element) -> u8 {
    if let Some(p) = ip.attr("prefix").and_then(|p| p.parse().ok()) {
        return p;
    }
    match ip
        .attr("netmask")
        .and_then(|m| m.parse::<std::net::Ipv4Addr>().ok())
    {
        Some(m) => u32::from(m).count_ones() as u8,
        None if ip.attr("family") == Some("ipv6") => 64,
        None => 24,
    }
}

fn read_ip(ip: &Element) -> IpFacts {
    let dhcp = ip.child("dhcp");
    IpFacts {
        address: ip.attr("address").unwrap_or_default().to_string(),
        prefix: prefix_of(ip),
        ranges: dhcp
            .into_iter()
            .flat_map(|d| d.children_named("range"))
            .map(|r| {
                format!(
                    "{}-{}",
                    r.attr("start").unwrap_or_default(),
                    r.attr("end").unwrap_or_default()
                )
            })
            .collect(),
        hosts: dhcp
            .into_iter()
            .flat_map(|d| d.children_named("host"))
            .map(|h| DhcpHostFacts {
                mac: h.attr("mac").map(|m| m.to_ascii_lowercase()),
                name: h.attr("name").map(str::to_string),
                ip: h.attr("ip").unwrap_or_default().to_string(),
            })
            .collect(),
    }
}

fn yes(v: Option<&str>) -> Option<bool> {
    v.map(|s| matches!(s, "yes" | "on"))
}

pub fn read_network(root: &Element) -> NetworkFacts {
    let fwd = root.child("forward");
    let bridge = root.child("bridge");
    let is_v6 = |e: &&Element| e.attr("family") == Some("ipv6");
    let dns = root.child("dns");
    NetworkFacts {
        uuid: root.child("uuid").map(|u| u.text()).unwrap_or_default(),
        forward_mode: fwd
            .map(|f| f.attr("mode").unwrap_or("nat").to_string())
            .unwrap_or_else(|| "isolated".into()),
        forward_dev: fwd.and_then(|f| f.attr("dev")).map(str::to_string),
        bridge_name: bridge.and_then(|b| b.attr("name")).map(str::to_string),
        stp: bridge.and_then(|b| yes(b.attr("stp"))),
        delay: bridge
            .and_then(|b| b.attr("delay"))
            .and_then(|d| d.parse().ok()),
        mtu: root
            .child("mtu")
            .and_then(|m| m.attr("size"))
            .and_then(|s| s.parse().ok()),
        domain: root
            .child("domain")
            .and_then(|d| d.attr("name"))
            .map(str::to_string),
        ipv4: root.children_named("ip").find(|e| !is_v6(e)).map(read_ip),
        ipv6: root.children_named("ip").find(is_v6).map(read_ip),
        dns_enable: dns.and_then(|d| yes(d.attr("enable"))),
        dns_forwarders: dns
            .into_iter()
            .flat_map(|d| d.children_named("forwarder"))
            .filter_map(|f| f.attr("addr").map(str::to_string))
            .collect(),
        dns_hosts: dns
            .into_iter()
            .flat_map(|d| d.children_named("host"))
            .map(|h| {
                let names: Vec<String> = h.children_named("hostname").map(|n| n.text()).collect();
                format!("{} {}", h.attr("ip").unwrap_or_default(), names.join(","))
            })
            .collect(),
    }
}

pub fn dhcp_hosts_of(ip: &IpConfig) -> Option<Vec<DhcpHostFacts>> {
    ip.dhcp.as_ref()?.hosts.as_ref().map(|hs| {
        hs.iter()
            .map(|h| DhcpHostFacts {
                mac: h.mac.clone(),
                name: h.name.clone(),
                ip: h.ip.to_string(),
            })
            .collect()
    })
}

pub fn dhcp_ranges_of(ip: &IpConfig) -> Option<Vec<String>> {
    ip.dhcp
        .as_ref()?
        .ranges
        .as_ref()
        .map(|rs| rs.iter().map(|(s, e)| format!("{s}-{e}")).collect())
}

fn onoff(b: bool) -> &'static str {
    if b {
        "on"
    } else {
        "off"
    }
}

/// Render `n` over `base` (update) or from nothing (create).
pub fn render_network(
    n: &Network,
    base: Option<&Element>,
    marker: &Marker,
) -> Result<Element, String> {
    let creating = base.is_none();
    let mut root = base.cloned().unwrap_or_else(|| Element::new("network"));
    if creating {
        root.ensure_child("name").set_text(n.meta.name.clone());
    }
    if let Some(u) = &n.uuid {
        root.ensure_child("uuid").set_text(u.clone());
    }
    if let Some(f) = &n.forward {
        if f.mode == ForwardMode::Isolated {
            root.remove_children("forward");
        } else {
            let old = root
                .child("forward")
                .filter(|o| o.attr("mode") == Some(f.mode.as_str()))
                .cloned();
            let mut e = old.unwrap_or_else(|| Element::new("forward"));
            e.set_attr("mode", f.mode.as_str());
            match &f.dev {
                Some(d) => e.set_attr("dev", d.clone()),
                None => e.remove_attr("dev"),
            }
            root.replace_child(e);
        }
    }
    if let Some(b) = &n.bridge {
        let e = root.ensure_child("bridge");
        if let Some(name) = &b.name {
            e.set_attr("name", name.clone());
        }
        if let Some(stp) = b.stp {
            e.set_attr("stp", onoff(stp));
        }
        if let Some(d) = b.delay {
            e.set_attr("delay", d.to_string());
        }
    }
    if let Some(m) = n.mtu {
        root.replace_child(Element::new("mtu").with_attr("size", m.to_string()));
    }
    if let Some(d) = &n.domain {
        root.replace_child(Element::new("domain").with_attr("name", d.clone()));
    }
    if let Some(dns) = &n.dns {
        let e = root.ensure_child("dns");
        if let Some(en) = dns.enable {
            e.set_attr("enable", if en { "yes" } else { "no" });
        }
        if let Some(fw) = &dns.forwarders {
            e.remove_children("forwarder");
            for a in fw {
                e.children.push(Node::Element(
                    Element::new("forwarder").with_attr("addr", a.to_string()),
                ));
            }
        }
        if let Some(hosts) = &dns.hosts {
            e.remove_children("host");
            for (ip, names) in hosts {
                let mut h = Element::new("host").with_attr("ip", ip.to_string());
                for name in names {
                    h.children.push(Node::Element(
                        Element::new("hostname").with_text(name.clone()),
                    ));
                }
                e.children.push(Node::Element(h));
            }
        }
    }
    for (cfg, v6) in [(&n.ipv4, false), (&n.ipv6, true)] {
        let Some(cfg) = cfg else { continue };
        let pos = root.children.iter().position(|c| {
            matches!(c, Node::Element(e) if e.name == "ip" && (e.attr("family") == Some("ipv6")) == v6)
        });
        let mut ip = match pos {
            Some(p) => match &root.children[p] {
                Node::Element(e) => e.clone(),
                _ => unreachable!(),
            },
            None => Element::new("ip"),
        };
        if v6 {
            ip.set_attr("family", "ipv6");
        }
        ip.set_attr("address", cfg.address.to_string());
        ip.remove_attr("netmask");
        ip.set_attr("prefix", cfg.prefix.to_string());
        if let Some(dhcp) = &cfg.dhcp {
            let d = ip.ensure_child("dhcp");
            if let Some(ranges) = &dhcp.ranges {
                d.remove_children("range");
                for (s, e) in ranges {
                    d.children.push(Node::Element(
                        Element::new("range")
                            .with_attr("start", s.to_string())
                            .with_attr("end", e.to_string()),
                    ));
                }
            }
            if let Some(hosts) = dhcp_hosts_of(cfg) {
                d.remove_children("host");
                for h in hosts {
                    d.children.push(Node::Element(h.to_element()));
                }
            }
            // libvirt wants ranges before hosts.
            d.children
                .sort_by_key(|c| matches!(c, Node::Element(e) if e.name == "host"));
        }
        match pos {
            Some(p) => root.children[p] = Node::Element(ip),
            None => root.children.push(Node::Element(ip)),
        }
    }
    super::apply_patches(&mut root, &n.xml)?;
    super::write_marker(&mut root, marker);
    Ok(root)
}

/// Normalise an address for comparison (IPv6 has many spellings).
pub fn norm_ip(s: &str) -> String {
    s.parse::<IpAddr>()
        .map(|a| a.to_string())
        .unwrap_or_else(|_| s.to_string())
}

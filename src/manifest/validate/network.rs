//! Checks of a Network's spec, and its conversion to [`Network`].
//!
//! Forward modes and the settings they need or refuse (`dev` only for nat
//! and route, a named host bridge for mode bridge), interface and DNS
//! names, the MTU range, and per address family: the address, the prefix
//! and DHCP ranges and fixed hosts that lie inside the subnet. Networks
//! refer to nothing, so nothing here waits for the whole directory.

use std::collections::BTreeMap;
use std::net::IpAddr;

use super::super::types;
use super::fields::{check_dns_name, Ctx};
use crate::model::*;

pub(super) fn network(cx: &mut Ctx, meta: Meta, s: &types::NetworkSpec) -> Network {
    let forward = s.forward.as_ref().map(|f| {
        if let Some(dev) = &f.dev {
            if !matches!(f.mode, ForwardMode::Nat | ForwardMode::Route) {
                cx.err(
                    "spec.forward.dev",
                    "`dev` is only for forward modes nat and route",
                );
            } else {
                cx.ifname("spec.forward.dev", dev);
            }
        }
        if f.mode == ForwardMode::Bridge
            && s.bridge.as_ref().and_then(|b| b.name.as_ref()).is_none()
        {
            cx.err(
                "spec.forward.mode",
                "forward mode bridge uses an existing host bridge: set `bridge.name`",
            );
        }
        Forward {
            mode: f.mode,
            dev: f.dev.clone(),
        }
    });
    let bridge = s.bridge.as_ref().map(|b| {
        if let Some(n) = &b.name {
            cx.ifname("spec.bridge.name", n);
        }
        Bridge {
            name: b.name.clone(),
            stp: b.stp,
            delay: b.delay,
        }
    });
    if let Some(mtu) = s.mtu {
        if !(68..=65535).contains(&mtu) {
            cx.err("spec.mtu", format!("mtu {mtu} is outside 68..65535"));
        }
    }
    if let Some(d) = &s.domain {
        if !check_dns_name(d) {
            cx.err("spec.domain", format!("`{d}` is not a DNS domain name"));
        }
    }
    let ipv4 = s
        .ipv4
        .as_ref()
        .and_then(|ip| ip_config(cx, "spec.ipv4", ip, false));
    let ipv6 = s
        .ipv6
        .as_ref()
        .and_then(|ip| ip_config(cx, "spec.ipv6", ip, true));
    let dns = s.dns.as_ref().map(|d| Dns {
        enable: d.enable,
        forwarders: d.forwarders.as_ref().map(|f| {
            f.iter()
                .enumerate()
                .filter_map(|(i, a)| cx.ip(&format!("spec.dns.forwarders[{i}]"), a))
                .collect()
        }),
        hosts: d.hosts.as_ref().map(|hs| {
            hs.iter()
                .enumerate()
                .filter_map(|(i, h)| {
                    for (j, n) in h.hostnames.iter().enumerate() {
                        if !check_dns_name(n) {
                            cx.err(
                                &format!("spec.dns.hosts[{i}].hostnames[{j}]"),
                                format!("`{n}` is not a host name"),
                            );
                        }
                    }
                    if h.hostnames.is_empty() {
                        cx.err(
                            &format!("spec.dns.hosts[{i}].hostnames"),
                            "a DNS host needs at least one host name",
                        );
                    }
                    Some((
                        cx.ip(&format!("spec.dns.hosts[{i}].ip"), &h.ip)?,
                        h.hostnames.clone(),
                    ))
                })
                .collect()
        }),
    });
    Network {
        meta,
        external: false,
        uuid: cx.uuid("spec.uuid", &s.uuid),
        forward,
        bridge,
        mtu: s.mtu,
        domain: s.domain.clone(),
        ipv4,
        ipv6,
        dns,
        autostart: s.autostart,
        active: s.active.unwrap_or(true),
        restart_policy: s.restart_policy.unwrap_or(RestartPolicy::Never),
        xml: cx.xml("spec.xml", &s.xml, "network"),
    }
}

/// Whether `addr` is in the subnet `net/prefix` (of the same family).
pub(super) fn in_subnet(addr: IpAddr, net: IpAddr, prefix: u8) -> bool {
    match (addr, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = if prefix == 0 {
                0
            } else {
                u32::MAX << (32 - prefix as u32)
            };
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = if prefix == 0 {
                0
            } else {
                u128::MAX << (128 - prefix as u32)
            };
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

/// One address family's config: the host's address and prefix, DHCP ranges
/// and fixed hosts inside the subnet, each fixed address given once.
fn ip_config(cx: &mut Ctx, path: &str, s: &types::IpSpec, v6: bool) -> Option<IpConfig> {
    let address = cx.ip(&format!("{path}.address"), &s.address)?;
    let family = if v6 { "IPv6" } else { "IPv4" };
    if address.is_ipv6() != v6 {
        cx.err(
            &format!("{path}.address"),
            format!("`{}` is not an {family} address", s.address),
        );
        return None;
    }
    let max = if v6 { 128 } else { 32 };
    if s.prefix > max {
        cx.err(
            &format!("{path}.prefix"),
            format!("prefix {} is larger than {max}", s.prefix),
        );
        return None;
    }
    let check_in = |cx: &mut Ctx, p: &str, text: &str| -> Option<IpAddr> {
        let a = cx.ip(p, text)?;
        if !in_subnet(a, address, s.prefix) {
            cx.err(p, format!("{a} is outside {address}/{}", s.prefix));
            return None;
        }
        Some(a)
    };
    let dhcp = s.dhcp.as_ref().map(|d| Dhcp {
        ranges: d.ranges.as_ref().map(|rs| {
            rs.iter()
                .enumerate()
                .filter_map(|(i, r)| {
                    let p = format!("{path}.dhcp.ranges[{i}]");
                    let start = check_in(cx, &format!("{p}.start"), &r.start);
                    let end = check_in(cx, &format!("{p}.end"), &r.end);
                    let (start, end) = (start?, end?);
                    if start > end {
                        cx.err(&p, format!("range start {start} is after its end {end}"));
                    }
                    Some((start, end))
                })
                .collect()
        }),
        hosts: d.hosts.as_ref().map(|hs| {
            let mut seen_ip = BTreeMap::new();
            let mut seen_mac = BTreeMap::new();
            hs.iter()
                .enumerate()
                .filter_map(|(i, h)| {
                    let p = format!("{path}.dhcp.hosts[{i}]");
                    if h.mac.is_none() && h.name.is_none() {
                        cx.err(&p, "a DHCP host needs `mac` or `name` besides `ip`");
                    }
                    let mac = h.mac.as_ref().and_then(|m| cx.mac(&format!("{p}.mac"), m));
                    if let Some(m) = &mac {
                        // dnsmasq would answer the MAC with one of them only.
                        if let Some(first) = seen_mac.insert(m.clone(), i) {
                            cx.err(
                                &format!("{p}.mac"),
                                format!("{m} is also given to dhcp.hosts[{first}]; a MAC gets one address"),
                            );
                        }
                    }
                    let ip = check_in(cx, &format!("{p}.ip"), &h.ip)?;
                    if let Some(first) = seen_ip.insert(ip, i) {
                        cx.err(
                            &format!("{p}.ip"),
                            format!("{ip} is also given to dhcp.hosts[{first}]"),
                        );
                    }
                    Some(DhcpHost {
                        mac,
                        name: h.name.clone(),
                        ip,
                    })
                })
                .collect()
        }),
    });
    Some(IpConfig {
        address,
        prefix: s.prefix,
        dhcp,
    })
}

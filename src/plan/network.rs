//! Planning one network. Only DHCP host entries change live; every other
//! change is written to the persistent config and takes effect when the
//! network restarts (at once under `restartPolicy: onConfigChange`).

use super::*;
use crate::render::network::*;
use crate::xml::Element;

pub(crate) fn network_changes(n: &Network, have: &NetworkFacts) -> Vec<Change> {
    let mut out = Vec::new();
    let mut diff = |field: &str, from: String, to: String, class: ChangeClass| {
        if from != to {
            out.push(Change {
                field: field.into(),
                from,
                to,
                class,
            });
        }
    };
    let nb = ChangeClass::NextBoot;
    if let Some(u) = &n.uuid {
        diff("uuid", have.uuid.clone(), u.clone(), ChangeClass::Replace);
    }
    if let Some(f) = &n.forward {
        diff(
            "forward.mode",
            have.forward_mode.clone(),
            f.mode.as_str().into(),
            nb,
        );
        if f.mode != ForwardMode::Isolated {
            diff(
                "forward.dev",
                have.forward_dev.clone().unwrap_or_default(),
                f.dev.clone().unwrap_or_default(),
                nb,
            );
        }
    }
    if let Some(b) = &n.bridge {
        if let Some(name) = &b.name {
            diff(
                "bridge.name",
                have.bridge_name.clone().unwrap_or_default(),
                name.clone(),
                nb,
            );
        }
        if let Some(stp) = b.stp {
            diff(
                "bridge.stp",
                have.stp.unwrap_or(true).to_string(),
                stp.to_string(),
                nb,
            );
        }
        if let Some(d) = b.delay {
            diff(
                "bridge.delay",
                have.delay.unwrap_or(0).to_string(),
                d.to_string(),
                nb,
            );
        }
    }
    if let Some(m) = n.mtu {
        diff(
            "mtu",
            have.mtu.map(|x| x.to_string()).unwrap_or_default(),
            m.to_string(),
            nb,
        );
    }
    if let Some(d) = &n.domain {
        diff(
            "domain",
            have.domain.clone().unwrap_or_default(),
            d.clone(),
            nb,
        );
    }
    for (name, want, got) in [("ipv4", &n.ipv4, &have.ipv4), ("ipv6", &n.ipv6, &have.ipv6)] {
        let Some(w) = want else { continue };
        let g = got.clone().unwrap_or_default();
        diff(
            &format!("{name}.address"),
            norm_ip(&g.address),
            w.address.to_string(),
            nb,
        );
        diff(
            &format!("{name}.prefix"),
            g.prefix.to_string(),
            w.prefix.to_string(),
            nb,
        );
        if let Some(r) = dhcp_ranges_of(w) {
            let have_r: Vec<String> = g.ranges.iter().map(|x| norm_range(x)).collect();
            diff(
                &format!("{name}.dhcp.ranges"),
                have_r.join(", "),
                r.join(", "),
                nb,
            );
        }
        if let Some(hosts) = dhcp_hosts_of(w) {
            // Only IPv4 DHCP hosts are updated live (virNetworkUpdate's
            // section applies to the first IPv4 <ip>).
            let class = if name == "ipv4" {
                ChangeClass::Live
            } else {
                nb
            };
            // A set: libvirt appends added hosts (ADD_LAST), so after a
            // live update the order differs from the manifest's.
            let show = |v: &[DhcpHostFacts]| {
                let mut v: Vec<String> = v.iter().map(|h| h.summary()).collect();
                v.sort();
                v.join(", ")
            };
            let mut have_h = g.hosts.clone();
            for h in &mut have_h {
                h.ip = norm_ip(&h.ip);
            }
            diff(
                &format!("{name}.dhcp.hosts"),
                show(&have_h),
                show(&hosts),
                class,
            );
        }
    }
    if let Some(dns) = &n.dns {
        if let Some(e) = dns.enable {
            diff(
                "dns.enable",
                have.dns_enable.unwrap_or(true).to_string(),
                e.to_string(),
                nb,
            );
        }
        if let Some(f) = &dns.forwarders {
            let want: Vec<String> = f.iter().map(|a| a.to_string()).collect();
            let got: Vec<String> = have.dns_forwarders.iter().map(|a| norm_ip(a)).collect();
            diff("dns.forwarders", got.join(", "), want.join(", "), nb);
        }
        if let Some(h) = &dns.hosts {
            let want: Vec<String> = h
                .iter()
                .map(|(ip, names)| format!("{ip} {}", names.join(",")))
                .collect();
            diff("dns.hosts", have.dns_hosts.join("; "), want.join("; "), nb);
        }
    }
    out
}

fn norm_range(r: &str) -> String {
    match r.split_once('-') {
        Some((a, b)) => format!("{}-{}", norm_ip(a), norm_ip(b)),
        None => r.to_string(),
    }
}

pub(crate) fn plan_network(b: &mut Builder, n: &Network) {
    let Some(host) = b.host_of(Kind::Network, &n.meta) else {
        return;
    };
    if b.unreadable(Kind::Network, &n.meta, host, &n.meta.name) {
        return;
    }
    let hname = n.meta.host.clone();
    let name = n.meta.name.clone();
    let obs = host.networks.get(&name);
    if n.external {
        b.check_external(
            Kind::Network,
            &n.meta,
            obs.map(|o| o.active),
            "virsh net-start",
        );
        return;
    }
    let marker = b.marker(&n.meta, n);
    let Some(obs) = obs else {
        let xml = match render_network(n, None, &marker) {
            Ok(x) => x.to_xml(),
            Err(e) => return b.error(Kind::Network, &n.meta, e),
        };
        let id = b.push(
            &hname,
            &name,
            Effect::Create,
            vec![],
            Step::DefineNetwork { xml },
            &[],
            !n.active,
        );
        if n.bridge.as_ref().and_then(|x| x.name.as_ref()).is_none() {
            b.one_at_a_time("auto-bridge", &hname, &id);
        }
        if n.active {
            b.push(
                &hname,
                &name,
                Effect::Power,
                vec![],
                Step::StartNetwork,
                &[],
                true,
            );
        }
        if n.autostart == Some(true) {
            b.enable_autostart(Kind::Network, &hname, &name);
        }
        return;
    };
    if super::adopt::network(b, n, obs) {
        return;
    }
    let Some(root) = b.owned_xml(
        Kind::Network,
        &n.meta,
        obs.xml.as_deref(),
        "pass --adopt to take it over as it is, mark the manifest `metadata.external: true` to use it without managing it, or rename the manifest",
    ) else {
        return;
    };
    let facts = read_network(&root);
    let mut changes = network_changes(n, &facts);
    changes.extend(xml_changes(&n.xml, &root));
    if changes.iter().any(|c| c.class == ChangeClass::Replace) {
        return b.error(Kind::Network, &n.meta, "the network's UUID differs from the manifest's; a network is not replaced automatically: remove `uuid` from the manifest or redefine the network by hand");
    }
    let config: Vec<Change> = changes
        .iter()
        .filter(|c| c.class == ChangeClass::NextBoot)
        .cloned()
        .collect();
    let dhcp: Vec<Change> = changes
        .iter()
        .filter(|c| c.class == ChangeClass::Live)
        .cloned()
        .collect();
    if !config.is_empty() {
        let xml = match render_network(n, Some(&root), &marker) {
            Ok(x) => x.to_xml(),
            Err(e) => return b.error(Kind::Network, &n.meta, e),
        };
        b.push(
            &hname,
            &name,
            Effect::Update,
            changes.clone(),
            Step::DefineNetwork { xml },
            &[],
            true,
        );
    }
    if !dhcp.is_empty() && (config.is_empty() || obs.active) {
        let want = n.ipv4.as_ref().and_then(dhcp_hosts_of).unwrap_or_default();
        let hosts_of = |f: &NetworkFacts| -> Vec<DhcpHostFacts> {
            f.ipv4.clone().map(|i| i.hosts).unwrap_or_default()
        };
        let norm = |h: &DhcpHostFacts| DhcpHostFacts {
            ip: norm_ip(&h.ip),
            ..h.clone()
        };
        // After a define the config already holds the wanted hosts.
        let in_config = if config.is_empty() {
            hosts_of(&facts)
        } else {
            want.clone()
        };
        // Where an entry exists in the running network: its live XML says,
        // read (by the reconcile pass) only now that an edit is in sight.
        // Until it is known, the running network is taken to hold what the
        // config holds.
        let in_live = if obs.active {
            match obs.live_xml.as_deref().and_then(|x| Element::parse(x).ok()) {
                Some(live) => Some(hosts_of(&read_network(&live))),
                None => {
                    b.live_xml_wanted
                        .insert((hname.clone(), Kind::Network, name.clone()));
                    Some(hosts_of(&facts))
                }
            }
        } else {
            None
        };
        let holds =
            |set: &[DhcpHostFacts], h: &DhcpHostFacts| set.iter().any(|x| norm(x) == norm(h));
        let mut delete: Vec<DhcpHostEdit> = Vec::new();
        for h in in_config.iter().chain(in_live.iter().flatten()) {
            if want.contains(&norm(h)) || delete.iter().any(|e| e.xml == h.to_element().to_xml()) {
                continue;
            }
            delete.push(DhcpHostEdit {
                xml: h.to_element().to_xml(),
                live: in_live.as_deref().is_some_and(|l| holds(l, h)),
                config: holds(&in_config, h),
            });
        }
        let add: Vec<DhcpHostEdit> = want
            .iter()
            .map(|w| DhcpHostEdit {
                xml: w.to_element().to_xml(),
                live: in_live.as_deref().is_some_and(|l| !holds(l, w)),
                config: !holds(&in_config, w),
            })
            .filter(|e| e.live || e.config)
            .collect();
        if !(delete.is_empty() && add.is_empty()) {
            let shown = if config.is_empty() { dhcp } else { vec![] };
            let step = Step::UpdateDhcpHosts { delete, add };
            b.push(&hname, &name, Effect::Update, shown, step, &[], true);
        }
    }
    if obs.active && !config.is_empty() && n.active {
        if n.restart_policy == RestartPolicy::OnConfigChange {
            b.push(
                &hname,
                &name,
                Effect::Power,
                vec![],
                Step::RestartNetwork,
                &[],
                true,
            );
        } else {
            let fields: Vec<String> = config.iter().map(|c| c.field.clone()).collect();
            b.restart_pending(
                Kind::Network,
                &n.meta,
                fields,
                "when the network restarts (restartPolicy: never)",
            );
        }
    }
    b.autostart_and_active(
        Kind::Network,
        &hname,
        &name,
        (obs.autostart, n.autostart),
        (obs.active, n.active),
    );
}

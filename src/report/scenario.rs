//! A scenario as a person reads it: the summary `mvlab check` prints (what the lab will be made
//! of, with every generated address), so a user sees the defaults that were filled in; with
//! `[docker]` or `[cni]`, what that engine hands each container (addresses, gateway, MAC, routes,
//! IPv6), and the user's own addresses beside the lab's where they are mapped.

use std::fmt::Write;

use std::net::{IpAddr, Ipv6Addr};

use crate::scenario::{
    Endpoint, Ipam, Ipv6Off, OuterTags, ParentKind, Port, PortVlan, Rules, Scenario, Switch,
};

/// The emulated switch's settings of a port, when it has any.
fn port_policy(p: &Port) -> Vec<String> {
    let mut out = Vec::new();
    let ids = |vids: &[u16]| {
        vids.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(",")
    };
    match &p.policy.vlan {
        PortVlan::Transparent => {}
        PortVlan::Access { vid } => out.push(format!("access vlan {vid}")),
        PortVlan::Trunk { allowed, native } => out.push(format!(
            "trunk [{}]{}",
            ids(allowed),
            native.map_or(String::new(), |n| format!(" native {n}"))
        )),
    }
    if p.policy.outer_tags == OuterTags::Drop {
        out.push("802.1ad outer tags dropped".into());
    }
    if let Some(limit) = p.policy.mac_limit {
        out.push(format!("mac_limit {limit}"));
    }
    if let Some(sec) = &p.policy.security {
        out.push(format!(
            "port security max {} ({}{})",
            sec.max_macs,
            sec.violation.as_str(),
            if sec.sticky { ", sticky" } else { "" }
        ));
    }
    if !p.policy.static_macs.is_empty() {
        let macs: Vec<String> = p
            .policy
            .static_macs
            .iter()
            .map(ToString::to_string)
            .collect();
        out.push(format!("static {}", macs.join(" ")));
    }
    out
}

fn port_flags(p: &Port) -> String {
    let flags = [
        ("hairpin", p.hairpin, false),
        ("learning", p.learning, true),
        ("unicast_flood", p.unicast_flood, true),
        ("multicast_flood", p.multicast_flood, true),
        ("broadcast_flood", p.broadcast_flood, true),
    ];
    flags
        .iter()
        .map(|(name, on, _)| format!("{name} {}", if *on { "on" } else { "off" }))
        .chain(port_policy(p))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The multi-line summary of a valid scenario.
pub fn summary(s: &Scenario) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "scenario  {}{}",
        s.name,
        if s.description.is_empty() {
            String::new()
        } else {
            format!(": {}", s.description)
        }
    );
    let _ = writeln!(out, "rules     {}", rules(s.rules));
    match &s.switch {
        Switch::None { .. } => {
            let _ = writeln!(
                out,
                "switch    none (a bare wire from the parent to the peer)"
            );
        }
        Switch::Bridge(b) => {
            let limit = b
                .fdb_max_learned
                .map_or("unlimited".to_string(), |n| n.to_string());
            let _ = writeln!(
                out,
                "switch    Linux bridge {} (ageing {} s, fdb_max_learned {limit}, multicast snooping {}{})",
                b.name,
                b.ageing_time,
                if b.multicast_snooping { "on" } else { "off" },
                if b.vlan_filtering {
                    ", vlan_filtering: VLAN-aware"
                } else {
                    ""
                }
            );
        }
        Switch::Emulated(e) => {
            let limit = e
                .fdb_max_learned
                .map_or("unlimited".to_string(), |n| n.to_string());
            let rate = e
                .learning_rate
                .map_or("unlimited".to_string(), |n| format!("{n}/s"));
            let _ = writeln!(
                out,
                "switch    emulated by mvlab (ageing {} s, fdb_max_learned {limit}, learning rate {rate})",
                e.ageing_time
            );
        }
        Switch::External(x) => {
            let size = x
                .fdb_max_learned
                .map_or("unknown".to_string(), |n| n.to_string());
            let _ = writeln!(
                out,
                "switch    external, under test (ageing {} s, table size {size}, when full: {}); held to the 802.1D learning bridge",
                x.ageing_time,
                x.table_full.as_str()
            );
        }
    }
    for p in &s.parents {
        let kind = match &p.kind {
            ParentKind::Veth => "veth".to_string(),
            ParentKind::Dummy => "dummy".to_string(),
            ParentKind::Existing { interface } => format!("existing interface {interface}"),
        };
        let port = if p.port.name.is_empty() {
            String::new()
        } else {
            format!("; switch port {}: {}", p.port.name, port_flags(&p.port))
        };
        let _ = writeln!(
            out,
            "parent    {} ({kind}, mac {}, mtu {}{port})",
            p.name, p.mac, p.mtu
        );
    }
    for (i, n) in s.networks.iter().enumerate() {
        let count = s.endpoints.iter().filter(|e| e.network == i).count();
        let tagged = n.frame_vlan.map_or(String::new(), |v| {
            format!(" (endpoints tag their frames with VLAN {v} themselves)")
        });
        let pools: Vec<String> = std::iter::once(pool(s, &n.ipv4))
            .chain(n.more_ipv4.iter().map(|p| pool(s, p)))
            .chain(n.ipv6.iter().chain(&n.more_ipv6).map(|p| pool(s, p)))
            .collect();
        let internal = if n.internal {
            ", internal (no default route)"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "network   {}: {} mode on {}{tagged}, {}{internal}, {count} endpoint(s)",
            n.name,
            n.mode,
            n.link,
            pools.join("; ")
        );
        if let Some(d) = &n.docker {
            let parent = d.parent.as_deref().map_or_else(
                || format!("no parent: Docker makes the dummy {}", n.link),
                |p| format!("parent {p}"),
            );
            let families = match (d.enable_ipv4, d.enable_ipv6) {
                (true, true) => "IPv4 and IPv6",
                (true, false) => "IPv4 only",
                (false, _) => "IPv6 only",
            };
            let _ = writeln!(
                out,
                "          docker network id {} (mvlab's; Docker draws its own), {parent}, {families}",
                d.id
            );
        }
    }
    for e in &s.endpoints {
        let net = &s.networks[e.network];
        let v4 = e.ipv4.map_or("no IPv4".to_string(), |a| {
            addr(s, a.into(), net.ipam4_of(a).subnet.prefix())
        });
        let v6 = e.ipv6.map_or(String::new(), |a| {
            let prefix = net.ipam6_of(a).map_or(128, |p| p.subnet.prefix());
            format!(" {}", addr(s, a.into(), prefix))
        });
        let _ = writeln!(
            out,
            "endpoint  {} on {}: {} {v4}{v6}",
            e.name, net.name, e.mac
        );
        if s.rules != Rules::Mvlab {
            let _ = writeln!(out, "          {}", routes(s, e));
        }
    }
    for p in &s.peers {
        let v6 = p.ipv6.map_or(String::new(), |a| format!(" {a}"));
        let port = if p.port.name.is_empty() {
            String::new()
        } else {
            format!(" (port {}: {})", p.port.name, port_flags(&p.port))
        };
        let _ = writeln!(
            out,
            "peer      {} on {}: {} {}{v6}{port}",
            p.name, s.networks[p.network].name, p.mac, p.ipv4
        );
    }
    for a in &s.host.addresses {
        let addrs: Vec<String> = a
            .ipv4
            .iter()
            .map(ToString::to_string)
            .chain(a.ipv6.iter().map(ToString::to_string))
            .collect();
        let _ = writeln!(
            out,
            "host      {} on {}",
            addrs.join(" "),
            s.parent_of(&s.networks[a.network]).name
        );
    }
    if let Some(shim) = &s.host.shim {
        let n = &s.networks[shim.network];
        let _ = writeln!(
            out,
            "shim      {} on {}: {} {}/32, route {} via the shim",
            shim.interface, n.link, shim.mac, shim.ipv4, n.ipv4.ip_range
        );
    }
    for m in &s.address_map.0 {
        let _ = writeln!(out, "mapped    yours {} = lab {}", m.yours, m.lab);
    }
    out
}

/// Whose rules the endpoints follow, in a line.
fn rules(r: Rules) -> String {
    match r {
        Rules::Mvlab => "mvlab's own (the kernel's full macvlan vocabulary)".into(),
        Rules::Docker { version } => format!(
            "Docker {version}: the macvlan driver and libnetwork's IPAM of that version; MACs {}",
            if version.random_macs() {
                "random (mvlab draws them from the seed)"
            } else {
                "02:42 and the IPv4 address"
            }
        ),
        Rules::Cni => "CNI's macvlan plugin with host-local IPAM (containernetworking-plugins 1.1.1): MACs random (mvlab draws them from the seed)".into(),
    }
}

/// An address with its prefix length, and the user's own beside it when it is mapped.
fn addr(s: &Scenario, a: IpAddr, prefix: u8) -> String {
    match s.address_map.yours(a) {
        Some(yours) => format!("{a}/{prefix} (yours {yours})"),
        None => format!("{a}/{prefix}"),
    }
}

/// One pool of a network: subnet, gateway, what is handed out.
fn pool<N: std::fmt::Display, A: std::fmt::Display + Copy + Into<IpAddr>>(
    s: &Scenario,
    p: &Ipam<N, A>,
) -> String {
    let yours = |a: A| {
        s.address_map
            .yours(a.into())
            .map_or(String::new(), |y| format!(" (yours {y})"))
    };
    let gateway = p.gateway.map_or("no gateway".to_string(), |g| {
        format!("gateway {g}{}", yours(g))
    });
    let range = match (p.range_start, p.range_end) {
        (Some(a), Some(b)) => format!("{a}-{b}"),
        _ => p.ip_range.to_string(),
    };
    format!("{} {gateway} range {range}", p.subnet)
}

/// What a container's routing table and IPv6 hold: the kernel's connected routes, the default
/// routes its engine adds, and whether IPv6 is on.
fn routes(s: &Scenario, e: &Endpoint) -> String {
    let net = &s.networks[e.network];
    let dev = &e.interface;
    let mut routes = Vec::new();
    if let Some(gw) = e.gateway4 {
        routes.push(format!("default via {gw}"));
    }
    if let Some(a) = e.ipv4 {
        routes.push(format!("{} dev {dev}", net.ipam4_of(a).subnet));
    }
    if let Some(gw) = e.gateway6 {
        routes.push(format!("default via {gw}"));
    }
    if let Some(ipam) = e.ipv6.and_then(|a| net.ipam6_of(a)) {
        routes.push(format!("{} dev {dev}", ipam.subnet));
    }
    let link_local = link_local(e.mac);
    let ipv6 = match (e.ipv6, s.rules.ipv6_off()) {
        (Some(_), _) | (None, Ipv6Off::Nothing) => {
            routes.push(format!("fe80::/64 dev {dev}"));
            format!("IPv6 on, link-local {link_local}")
        }
        (None, Ipv6Off::Namespace) => "IPv6 off in the whole namespace (lo has no ::1)".into(),
        (None, Ipv6Off::Interface) => format!("IPv6 off on {dev} only (lo keeps ::1)"),
    };
    format!("routes: {}; {ipv6}", routes.join(", "))
}

/// The link-local address the kernel derives from a MAC (EUI-64).
fn link_local(mac: crate::addr::MacAddr) -> Ipv6Addr {
    let m = mac.0;
    Ipv6Addr::new(
        0xfe80,
        0,
        0,
        0,
        u16::from_be_bytes([m[0] ^ 0x02, m[1]]),
        u16::from_be_bytes([m[2], 0xff]),
        u16::from_be_bytes([0xfe, m[3]]),
        u16::from_be_bytes([m[4], m[5]]),
    )
}

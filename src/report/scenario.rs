//! A scenario as a person reads it: the summary `mvlab check` prints (what the lab will be made
//! of, with every generated address), so a user sees the defaults that were filled in.

use std::fmt::Write;

use crate::scenario::{OuterTags, ParentKind, Port, PortVlan, Scenario, Switch};

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
        let v6 = n.ipv6.as_ref().map_or(String::new(), |v| {
            format!(", {} gateway {}", v.subnet, v.gateway)
        });
        let tagged = n.frame_vlan.map_or(String::new(), |v| {
            format!(" (endpoints tag their frames with VLAN {v} themselves)")
        });
        let _ = writeln!(
            out,
            "network   {}: {} mode on {}{tagged}, {} gateway {} range {}{v6}, {count} endpoint(s)",
            n.name, n.mode, n.link, n.ipv4.subnet, n.ipv4.gateway, n.ipv4.ip_range
        );
    }
    for e in &s.endpoints {
        let v6 = e.ipv6.map_or(String::new(), |a| format!(" {a}"));
        let _ = writeln!(
            out,
            "endpoint  {} on {}: {} {}{v6}",
            e.name, s.networks[e.network].name, e.mac, e.ipv4
        );
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
    out
}

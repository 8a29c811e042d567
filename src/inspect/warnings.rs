//! The surprises macvlan users run into, found on this machine and spelled out with a fix: the
//! host cannot reach its own macvlan endpoints (and the exact shim commands, or the shim that is
//! there), VEPA siblings need a hairpinning switch, private siblings still get raw unicast
//! behind one, a promiscuous parent and why, a passthru parent, duplicate MACs or addresses,
//! addresses outside the parent's subnet, a broadcast queue or the neighbour tables close to
//! their limit. Whether a frame arrives always comes from the model (`reach`); this module only
//! looks for the situations and words them. Pure.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use ipnetwork::Ipv4Network;
use serde::Serialize;

use super::layout::{Beyond, Layout, ParentView};
use super::{Found, FoundLink, LinkRef, NsOrigin, ReachEntry, Reproduction};
use crate::scenario::MacvlanMode;

/// One surprise: what it is (a stable kind), what it means here, how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warning {
    pub kind: String,
    pub message: String,
    pub fix: String,
}

fn warn(kind: &str, message: String, fix: String) -> Warning {
    Warning {
        kind: kind.into(),
        message,
        fix,
    }
}

/// The kernel's broadcast queue length when a macvlan asks for none.
const DEFAULT_BC_QUEUE_LEN: u32 = 1000;

/// How to run `ip` in a namespace: `ip -n NAME` for a named one, `nsenter -t PID -n ip` for a
/// process's, plain `ip` for inspect's own.
fn ip_in(found: &Found, netns: &str) -> String {
    match found.namespace(netns) {
        Some(ns) if ns.origin == NsOrigin::Named => format!("ip -n {netns}"),
        Some(ns) if ns.origin == NsOrigin::Own => "ip".into(),
        Some(ns) => match ns.pid {
            Some(pid) => format!("nsenter -t {pid} -n ip"),
            None => format!("ip -n {netns}"),
        },
        None => format!("ip -n {netns}"),
    }
}

fn mode_of(l: &FoundLink) -> Option<MacvlanMode> {
    l.detail.macvlan.as_ref()?.mode
}

fn delivered<'a>(
    reach: &'a [ReachEntry],
    from: &str,
    to: &str,
    class: &str,
) -> Option<&'a ReachEntry> {
    reach
        .iter()
        .find(|r| r.from == from && r.to == to && r.class == class)
}

/// The highest address of `subnet` no link of the machine holds.
fn free_address(found: &Found, subnet: Ipv4Network) -> Option<Ipv4Addr> {
    let used: BTreeSet<Ipv4Addr> = found
        .links
        .iter()
        .flat_map(|l| l.ipv4.iter().map(|(a, _)| *a))
        .collect();
    let last = u32::from(subnet.broadcast());
    let first = u32::from(subnet.network());
    (first + 1..last)
        .rev()
        .map(Ipv4Addr::from)
        .find(|a| !used.contains(a))
}

/// The host cannot reach its endpoints through the parent: the shim that fixes it, or the one
/// that is there.
fn host_reach(found: &Found, p: &ParentView, reach: &[ReachEntry], out: &mut Vec<Warning>) {
    let Some(parent) = found.link(&p.link) else {
        return;
    };
    let Some(&(host_ip, prefix)) = parent.ipv4.first() else {
        return;
    };
    let from = p.link.to_string();
    let blocked: Vec<(&LinkRef, &ReachEntry)> = p
        .endpoints
        .iter()
        .filter_map(|e| {
            let r = delivered(reach, &from, &e.link.to_string(), "ipv4")?;
            (!r.delivered && !r.rule.starts_with("no ipv4 address")).then_some((&e.link, r))
        })
        .collect();
    if blocked.is_empty() {
        return;
    }
    // Endpoints one of the host's shims reaches, and the rest.
    let shim_for = |e: &LinkRef| {
        p.shims.iter().map(|s| &s.link).find(|s| {
            delivered(reach, &s.to_string(), &e.to_string(), "ipv4").is_some_and(|r| r.delivered)
        })
    };
    let (served, blocked): (Vec<_>, Vec<_>) = blocked
        .into_iter()
        .partition(|(e, _)| shim_for(e).is_some());
    if let Some((e, r)) = served.first() {
        let names: Vec<String> = served.iter().map(|(l, _)| l.to_string()).collect();
        out.push(warn(
            "shim-present",
            format!(
                "the host cannot reach {} through its parent {from} ({}), but its shim {} does",
                names.join(", "),
                r.rule,
                shim_for(e).expect("partitioned on it")
            ),
            String::new(),
        ));
    }
    if blocked.is_empty() {
        return;
    }
    let names: Vec<String> = blocked.iter().map(|(l, _)| l.to_string()).collect();
    let ip = ip_in(found, &p.link.netns);
    let subnet = Ipv4Network::new(host_ip, prefix)
        .and_then(|n| Ipv4Network::new(n.network(), prefix))
        .ok();
    let shim_ip = subnet
        .and_then(|s| free_address(found, s))
        .map_or("ADDRESS".to_string(), |a| a.to_string());
    let mut fix = format!(
        "{ip} link add mvshim0 link {} type macvlan mode bridge\n{ip} addr add {shim_ip}/32 dev mvshim0\n{ip} link set mvshim0 up\n",
        p.link.name
    );
    for (e, _) in &blocked {
        if let Some(&(a, _)) = found.link(e).and_then(|l| l.ipv4.first()) {
            fix.push_str(&format!("{ip} route add {a}/32 dev mvshim0\n"));
        }
    }
    fix.push_str(&format!(
        "({shim_ip} is unused on this machine; pick one no other host on the LAN uses. A shim reaches bridge-mode endpoints; vepa ones only through a hairpinning switch, private ones never.)"
    ));
    let shims = if p.shims.is_empty() {
        String::new()
    } else {
        format!(
            " (the shim {} does not help: no route through it reaches them, or its mode keeps them apart)",
            p.shims
                .iter()
                .map(|s| s.link.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    out.push(warn(
        "host-unreachable",
        format!(
            "the host ({from}) cannot reach its own macvlan endpoints {}: {}{shims}",
            names.join(", "),
            blocked[0].1.rule
        ),
        fix,
    ));
}

/// VEPA and private siblings, by what the switch port does.
fn siblings(
    found: &Found,
    beyond: &Beyond,
    p: &ParentView,
    reach: &[ReachEntry],
    out: &mut Vec<Warning>,
) {
    let of_mode = |m: MacvlanMode| -> Vec<&LinkRef> {
        p.endpoints
            .iter()
            .filter(|e| found.link(&e.link).and_then(mode_of) == Some(m))
            .map(|e| &e.link)
            .collect()
    };
    let hairpin = p.port.as_ref().map(|(_, f)| f.hairpin);
    let bridge_mode = "use bridge mode, where siblings talk inside the kernel";
    let fix = match (&p.port, beyond) {
        (Some((port, _)), _) => format!(
            "{} link set {} type bridge_slave hairpin on\n(or {bridge_mode})",
            ip_in(found, &port.netns),
            port.name
        ),
        (None, Beyond::Unknown) => format!(
            "turn on reflective relay (802.1Qbg hairpin, \"VEPA\" or \"reflective-relay\") on the switch port facing {}\n(or {bridge_mode})",
            p.link
        ),
        (None, _) => format!(
            "nothing beyond {} can send frames back: {bridge_mode}",
            p.link
        ),
    };
    let vepa = of_mode(MacvlanMode::Vepa);
    if vepa.len() >= 2 && hairpin != Some(true) {
        let rule = delivered(reach, &vepa[0].to_string(), &vepa[1].to_string(), "unicast")
            .map_or(String::new(), |r| format!(": {}", r.rule));
        out.push(warn(
            "vepa-needs-hairpin",
            format!(
                "the vepa siblings {} on {} reach each other only through a switch that sends frames back out of the port they came in on{rule}",
                vepa.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "),
                p.link
            ),
            fix,
        ));
    }
    let private = of_mode(MacvlanMode::Private);
    if private.len() >= 2 && hairpin == Some(true) {
        let (a, b) = (private[0].to_string(), private[1].to_string());
        if delivered(reach, &a, &b, "unicast").is_some_and(|r| r.delivered) {
            out.push(warn(
                "private-gets-unicast",
                format!(
                    "the private siblings {} on {} still get each other's raw unicast: the hairpinning port sends it back and macvlan delivers it by destination MAC; only group frames from a private sibling are dropped",
                    private.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "),
                    p.link
                ),
                "to isolate them, turn hairpin off on the switch port (or filter on the switch); private mode alone does not".into(),
            ));
        }
    }
}

fn promiscuous(found: &Found, p: &ParentView, r: Option<&Reproduction>, out: &mut Vec<Warning>) {
    let Some(parent) = found.link(&p.link) else {
        return;
    };
    if parent.detail.promiscuity == 0 {
        return;
    }
    let mut why = Vec::new();
    let passthru = p
        .endpoints
        .iter()
        .filter_map(|e| found.link(&e.link))
        .any(|l| {
            mode_of(l) == Some(MacvlanMode::Passthru)
                && !l.detail.macvlan.as_ref().is_some_and(|m| m.nopromisc)
        });
    if passthru {
        why.push("a passthru macvlan puts its parent in promiscuous mode (macvlan_open, unless nopromisc)".to_string());
    }
    if !p.endpoints.is_empty() || !p.shims.is_empty() {
        why.push(format!(
            "each macvlan adds its MAC to the parent's unicast filter; a {} has none (no IFF_UNICAST_FLT) or a full one, so the kernel makes it promiscuous instead (__dev_set_rx_mode)",
            parent.kind()
        ));
    }
    let expected = r
        .and_then(|r| {
            let s = r.scenario.as_ref().ok()?;
            let station = r.stations.iter().find(|(_, l)| *l == p.link)?.0.clone();
            let sim = crate::model::simulate(s, &crate::model::default_spec()).ok()?;
            sim.promiscuity
                .iter()
                .find(|x| x.device == station && !x.promiscuous_pass)
                .map(|x| x.promiscuity)
        })
        .unwrap_or(0);
    if parent.detail.promiscuity > expected {
        why.push(format!(
            "{} more holder(s) than the macvlans explain: a packet capture (tcpdump without -p) or another program",
            parent.detail.promiscuity - expected
        ));
    }
    out.push(warn(
        "promiscuous-parent",
        format!(
            "the parent {} is promiscuous (promiscuity {}): {}",
            p.link,
            parent.detail.promiscuity,
            why.join("; ")
        ),
        "nothing to fix for macvlan itself: the parent takes every frame and macvlan sorts them by destination MAC. On a NIC, a full unicast filter costs CPU; fewer MACs per parent, or a NIC with a larger filter, avoid it".into(),
    ));
}

pub fn warnings(
    found: &Found,
    layout: &Layout,
    scenarios: &[Reproduction],
    reach: &[ReachEntry],
) -> Vec<Warning> {
    let mut out = Vec::new();
    for (ci, c) in layout.components.iter().enumerate() {
        let r = scenarios.get(ci);
        if c.beyond == Beyond::Unknown {
            out.push(warn(
                "switch-not-visible",
                format!(
                    "the switch beyond {} is not on this machine: inspect assumes an ordinary learning switch (hairpin off)",
                    c.parents.iter().map(|p| p.link.to_string()).collect::<Vec<_>>().join(", ")
                ),
                "check the switch port's settings (hairpin / reflective relay, port security, MAC limits) on the switch itself".into(),
            ));
        }
        for p in &c.parents {
            host_reach(found, p, reach, &mut out);
            siblings(found, &c.beyond, p, reach, &mut out);
            promiscuous(found, p, r, &mut out);
            let children: Vec<&FoundLink> = p
                .endpoints
                .iter()
                .filter_map(|e| found.link(&e.link))
                .collect();
            if let Some(pt) = children
                .iter()
                .find(|l| mode_of(l) == Some(MacvlanMode::Passthru))
            {
                out.push(warn(
                    "passthru",
                    format!(
                        "{} is a passthru macvlan: it takes {}'s MAC and every frame the parent receives, and no other macvlan may share that parent",
                        pt.at(),
                        p.link
                    ),
                    "fine for giving one container a whole NIC (e.g. an SR-IOV VF); for several containers use bridge mode".into(),
                ));
            }
            // The parent's subnets, and endpoints outside them.
            if let Some(parent) = found.link(&p.link) {
                let subnets: Vec<Ipv4Network> = parent
                    .ipv4
                    .iter()
                    .filter_map(|&(a, pre)| Ipv4Network::new(a, pre).ok())
                    .collect();
                if !subnets.is_empty() {
                    for e in &children {
                        if let Some(&(a, pre)) = e.ipv4.first()
                            && !subnets.iter().any(|s| s.contains(a))
                        {
                            out.push(warn(
                                "outside-parent-subnet",
                                format!(
                                    "{}'s address {a}/{pre} is outside its parent {}'s subnet {}: the LAN behind the parent routes that subnet elsewhere (or not at all), so replies to it may never come back",
                                    e.at(),
                                    p.link,
                                    subnets.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
                                ),
                                format!("give it an address in {} (the network's --subnet should be the parent's LAN)", subnets[0]),
                            ));
                        }
                    }
                }
            }
            // The broadcast queue: every broadcast is queued once and cloned to every
            // endpoint by one worker; measured here, 10 kpps of broadcasts first lost copies at
            // 512 endpoints with the default queue of 1000.
            let queue = children
                .iter()
                .filter_map(|l| l.detail.macvlan.as_ref()?.bc_queue_len_used)
                .max()
                .unwrap_or(DEFAULT_BC_QUEUE_LEN);
            let n = children.len() + p.shims.len();
            if n > 0 && 2 * n as u64 >= u64::from(queue) {
                out.push(warn(
                    "broadcast-queue",
                    format!(
                        "{} macvlans share {}'s broadcast queue of {queue}: each broadcast is cloned to all of them by one worker, and bursts beyond the queue are dropped for every one (measured: at 10 kpps, copies were first lost at 512 endpoints with the default 1000)",
                        n, p.link
                    ),
                    format!(
                        "{} link set {} type macvlan bcqueuelen {} (on any one of them: the parent uses the largest asked for)",
                        ip_in(found, &children.first().map_or(p.link.netns.clone(), |l| l.netns.clone())),
                        children.first().map_or("DEV".into(), |l| l.detail.name.clone()),
                        (4 * n).max(2 * queue as usize)
                    ),
                ));
            }
        }
        // Duplicates among the segment's stations.
        let mut stations: Vec<&FoundLink> = Vec::new();
        for p in &c.parents {
            stations.extend(found.link(&p.link));
            stations.extend(
                p.endpoints
                    .iter()
                    .chain(&p.shims)
                    .filter_map(|e| found.link(&e.link)),
            );
        }
        stations.extend(c.peers.iter().filter_map(|p| found.link(&p.link)));
        let mut macs: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut ips: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for l in &stations {
            if mode_of(l) != Some(MacvlanMode::Passthru) {
                if let Some(m) = l.detail.mac {
                    macs.entry(m.to_string())
                        .or_default()
                        .push(l.at().to_string());
                }
            }
            for (a, _) in &l.ipv4 {
                ips.entry(a.to_string())
                    .or_default()
                    .push(l.at().to_string());
            }
            for (a, _) in l.global_ipv6() {
                ips.entry(a.to_string())
                    .or_default()
                    .push(l.at().to_string());
            }
        }
        for (mac, owners) in macs.iter().filter(|(_, o)| o.len() > 1) {
            out.push(warn(
                "duplicate-mac",
                format!("{} share the MAC {mac} on one segment: the switch and the parent deliver their frames to one of them only", owners.join(" and ")),
                "give each its own locally administered MAC: ip link set DEV address 02:xx:xx:xx:xx:xx (Docker: --mac-address)".to_string(),
            ));
        }
        for (ip, owners) in ips.iter().filter(|(_, o)| o.len() > 1) {
            out.push(warn(
                "duplicate-address",
                format!("{} all hold {ip}: whoever answers ARP/ND first gets the traffic", owners.join(" and ")),
                "give each its own address (Docker: two networks with overlapping --ip-range hand out the same one)".into(),
            ));
        }
    }
    // The neighbour tables, shared by every namespace of the machine.
    let n = found.neighbours;
    let ip_stations = found
        .links
        .iter()
        .filter(|l| l.is_macvlan() && !l.ipv4.is_empty())
        .count();
    let all_pairs = ip_stations.saturating_mul(ip_stations.saturating_sub(1));
    let [t1, t2, t3] = n.ipv4_thresholds;
    if n.ipv4_entries * 4 >= t2 as usize * 3 || all_pairs > t3 as usize {
        out.push(warn(
            "neighbour-table",
            format!(
                "the ARP table holds {} entries (gc_thresh1 {t1}, gc_thresh2 {t2}, gc_thresh3 {t3}, shared by every namespace); {ip_stations} macvlan endpoints with IPv4 need up to {all_pairs} entries if each talks to every other: past gc_thresh3 the kernel refuses new ones (\"neighbour table overflow\") and those pings fail",
                n.ipv4_entries
            ),
            format!(
                "sysctl -w net.ipv4.neigh.default.gc_thresh1={} net.ipv4.neigh.default.gc_thresh2={} net.ipv4.neigh.default.gc_thresh3={} (and the same under net.ipv6 for ND)",
                (all_pairs.max(n.ipv4_entries) / 2).max(t1 as usize),
                all_pairs.max(n.ipv4_entries).max(t2 as usize),
                (all_pairs.max(n.ipv4_entries) * 2).max(t3 as usize)
            ),
        ));
    }
    out
}

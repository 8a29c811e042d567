//! A segment of the live machine as a scenario file: the same parents, switch ports and their
//! flags, networks (one per parent, VLAN, mode, flags and subnet), endpoints, shim, host address
//! and peers, with every address mapped into the lab ranges (198.18.0.0/15, 2001:2::/48) keeping
//! its offset in its subnet, and every MAC made locally administered. The mapping and the live
//! name of every station are written into the file as comments. The text is then validated by
//! the scenario module itself, so what the model sees is exactly what `mvlab check`, `simulate`
//! and `run` read. Pure.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnetwork::{Ipv4Network, Ipv6Network};

use super::layout::{Beyond, Child, Component};
use super::{Found, FoundLink, LinkRef};
use crate::addr::MacAddr;
use crate::diag::Source;
use crate::lab::rtnl::PortFlags;
use crate::scenario::{self, HOST_NODE, IFNAME_MAX, MacvlanMode, Scenario};

/// One segment as a scenario.
#[derive(Debug, Clone)]
pub struct Reproduction {
    /// The scenario file's text.
    pub text: String,
    /// The text validated; an error here is a bug of `reproduce`, shown to the user as is.
    pub scenario: Result<Scenario, String>,
    /// Every station of the scenario (`e1`, `host:eth0`, ...) with the live link it stands for.
    pub stations: Vec<(String, LinkRef)>,
    /// The switch's ports and bridge (`switch:p0`, `switch:br0`) with the live links they are.
    pub ports: Vec<(String, LinkRef)>,
    /// Stations whose live link has an IPv4 / a global IPv6 address.
    pub live_ipv4: BTreeSet<String>,
    pub live_ipv6: BTreeSet<String>,
    /// Live subnet -> lab subnet.
    pub ipv4_map: Vec<(Ipv4Network, Ipv4Network)>,
    pub ipv6_map: Vec<(Ipv6Network, Ipv6Network)>,
    /// What the scenario could not say the way the machine has it.
    pub notes: Vec<String>,
}

impl Reproduction {
    /// The live link a scenario station stands for.
    pub fn live(&self, station: &str) -> Option<&LinkRef> {
        self.stations
            .iter()
            .find(|(s, _)| s == station)
            .map(|(_, l)| l)
    }

    /// The scenario station a live `NETNS:IFACE` is.
    pub fn station(&self, live: &str) -> Option<&str> {
        self.stations
            .iter()
            .find(|(_, l)| l.to_string() == live)
            .map(|(s, _)| s.as_str())
    }
}

const LAB4: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 0);
const LAB4_PREFIX: u8 = 15;
const LAB6: Ipv6Addr = Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 0);
const LAB6_PREFIX: u8 = 48;

/// Live subnets onto lab subnets of the same size (an address keeps its offset), the ones
/// already inside the lab range onto themselves.
#[derive(Debug, Default)]
struct Mapper {
    v4: Vec<(Ipv4Network, Ipv4Network)>,
    /// Lab subnets handed out with no live twin.
    fresh: Vec<Ipv4Network>,
    v6: Vec<(Ipv6Network, Ipv6Network)>,
}

/// The prefix a live IPv4 subnet is mapped with: /16 at most (the lab range is a /15), and a
/// host route or a tiny subnet widened to a /24 so that a network has room for its gateway.
fn prefix4(p: u8) -> u8 {
    if p > 28 { 24 } else { p.max(16) }
}

/// The same for IPv6: /64 at most, so the offset is the interface identifier.
fn prefix6(p: u8) -> u8 {
    if p > 120 { 64 } else { p.max(64) }
}

impl Mapper {
    fn register4(&mut self, addr: Ipv4Addr, prefix: u8) {
        let live = Ipv4Network::new(addr, prefix4(prefix))
            .and_then(|n| Ipv4Network::new(n.network(), n.prefix()))
            .expect("prefix is at most 32");
        if self.v4.iter().any(|(l, _)| l.contains(addr)) {
            return;
        }
        let lab = Ipv4Network::new(LAB4, LAB4_PREFIX).expect("lab range");
        let target = if lab.contains(live.network()) && live.prefix() >= LAB4_PREFIX {
            Some(live)
        } else {
            let block = 1u64 << (32 - live.prefix());
            let base = u64::from(u32::from(LAB4));
            let end = base + (1u64 << (32 - LAB4_PREFIX));
            let mut at = base;
            let mut found = None;
            while at + block <= end {
                let n = Ipv4Network::new(Ipv4Addr::from(at as u32), live.prefix()).expect("prefix");
                if self.v4.iter().all(|(_, t)| !overlaps4(t, &n))
                    && self.fresh.iter().all(|t| !overlaps4(t, &n))
                {
                    found = Some(n);
                    break;
                }
                at += block;
            }
            found
        };
        if let Some(t) = target
            && self.v4.iter().all(|(_, u)| !overlaps4(u, &t))
        {
            self.v4.push((live, t));
        }
    }

    fn register6(&mut self, addr: Ipv6Addr, prefix: u8) {
        let live = Ipv6Network::new(addr, prefix6(prefix))
            .and_then(|n| Ipv6Network::new(n.network(), n.prefix()))
            .expect("prefix is at most 128");
        if self.v6.iter().any(|(l, _)| l.contains(addr)) {
            return;
        }
        let lab = Ipv6Network::new(LAB6, LAB6_PREFIX).expect("lab range");
        let target = if lab.contains(live.network()) {
            Some(live)
        } else {
            let step = 1u128 << (128 - live.prefix());
            let base = u128::from(LAB6);
            let end = base + (1u128 << (128 - LAB6_PREFIX));
            let mut at = base;
            let mut found = None;
            while at + step <= end {
                let n = Ipv6Network::new(Ipv6Addr::from(at), live.prefix()).expect("prefix");
                if self.v6.iter().all(|(_, t)| !overlaps6(t, &n)) {
                    found = Some(n);
                    break;
                }
                at += step;
            }
            found
        };
        if let Some(t) = target
            && self.v6.iter().all(|(_, u)| !overlaps6(u, &t))
        {
            self.v6.push((live, t));
        }
    }

    /// A lab subnet no live subnet maps to, for a network whose endpoints have no IPv4 address
    /// or whose subnet another network has.
    fn fresh4(&mut self, prefix: u8) -> Option<Ipv4Network> {
        let mut at = u64::from(u32::from(LAB4));
        let end = at + (1u64 << (32 - LAB4_PREFIX));
        let block = 1u64 << (32 - prefix.max(LAB4_PREFIX + 1));
        while at + block <= end {
            let n = Ipv4Network::new(Ipv4Addr::from(at as u32), prefix.max(LAB4_PREFIX + 1))
                .expect("prefix");
            if self.v4.iter().all(|(_, t)| !overlaps4(t, &n)) && !self.fresh.contains(&n) {
                self.fresh.push(n);
                return Some(n);
            }
            at += block;
        }
        None
    }

    /// An address's lab twin and the lab subnet it is in.
    fn map4(&self, addr: Ipv4Addr) -> Option<(Ipv4Addr, Ipv4Network)> {
        let (live, lab) = self
            .v4
            .iter()
            .filter(|(l, _)| l.contains(addr))
            .max_by_key(|(l, _)| l.prefix())?;
        let offset = u32::from(addr) - u32::from(live.network());
        Some((Ipv4Addr::from(u32::from(lab.network()) + offset), *lab))
    }

    fn map6(&self, addr: Ipv6Addr) -> Option<(Ipv6Addr, Ipv6Network)> {
        let (live, lab) = self
            .v6
            .iter()
            .filter(|(l, _)| l.contains(addr))
            .max_by_key(|(l, _)| l.prefix())?;
        let offset = u128::from(addr) - u128::from(live.network());
        Some((Ipv6Addr::from(u128::from(lab.network()) + offset), *lab))
    }
}

fn overlaps4(a: &Ipv4Network, b: &Ipv4Network) -> bool {
    a.contains(b.network()) || b.contains(a.network())
}

fn overlaps6(a: &Ipv6Network, b: &Ipv6Network) -> bool {
    a.contains(b.network()) || b.contains(a.network())
}

/// Node names from namespace names: only letters, digits, '-' and '_', the prefix every one
/// shares (up to a '-') left out, and made unique with `-2`, `-3`, ...
fn node_names(raw: &[String]) -> Vec<String> {
    let clean = |s: &str| -> String {
        let c: String = s
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '-'
                }
            })
            .collect();
        let c = c.trim_start_matches(['-', '_']).to_string();
        if c.is_empty() { "node".into() } else { c }
    };
    let mut names: Vec<String> = raw.iter().map(|s| clean(s)).collect();
    if names.len() > 1 {
        let first = names[0].clone();
        let mut common = first.len();
        for n in &names[1..] {
            common = common.min(
                first
                    .bytes()
                    .zip(n.bytes())
                    .take_while(|(a, b)| a == b)
                    .count(),
            );
        }
        if let Some(cut) = first[..common].rfind('-').map(|i| i + 1)
            && names.iter().all(|n| {
                n[cut..]
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphanumeric())
            })
        {
            names = names.iter().map(|n| n[cut..].to_string()).collect();
        }
    }
    let mut out: Vec<String> = Vec::new();
    for n in names {
        let mut n: String = n.chars().take(36).collect();
        if n == HOST_NODE || n == scenario::SWITCH_NODE {
            n.push_str("-ns");
        }
        let mut candidate = n.clone();
        let mut i = 2;
        while out.contains(&candidate) {
            candidate = format!("{n}-{i}");
            i += 1;
        }
        out.push(candidate);
    }
    out
}

/// Interface names unique within the host namespace of the scenario.
fn unique_ifname(name: &str, taken: &mut Vec<String>) -> String {
    let mut candidate = name.to_string();
    let mut i = 2;
    while taken.contains(&candidate) {
        let stem: String = name.chars().take(IFNAME_MAX - 3).collect();
        candidate = format!("{stem}-{i}");
        i += 1;
    }
    taken.push(candidate.clone());
    candidate
}

fn port_table(p: &PortFlags) -> String {
    format!(
        "{{ hairpin = {}, learning = {}, unicast_flood = {}, multicast_flood = {}, broadcast_flood = {} }}",
        p.hairpin, p.learning, p.unicast_flood, p.multicast_flood, p.broadcast_flood
    )
}

/// A comment line that cannot end the comment early.
fn comment(text: &str) -> String {
    let clean: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    format!("# {clean}\n")
}

/// A network being assembled: the endpoints that share parent, VLAN, mode, flags and subnet.
struct NetDraft {
    parent: usize,
    vid: Option<u16>,
    mode: MacvlanMode,
    nopromisc: bool,
    nodst: bool,
    bcqueuelen: Option<u32>,
    bc_cutoff: Option<i32>,
    /// The lab twin of the live subnet its endpoints are in.
    mapped: Option<Ipv4Network>,
    /// The subnet it gets: `mapped`, or a subnet of its own when another network (another mode
    /// on the same parent) has `mapped` already, since a scenario's networks never overlap.
    subnet: Option<Ipv4Network>,
    subnet6: Option<Ipv6Network>,
    ip_range: Option<Ipv4Network>,
    endpoints: Vec<EndpointDraft>,
    /// Live default gateways its endpoints use.
    gateways: Vec<Ipv4Addr>,
}

/// The shim: its network, scenario name, live link, address, IPv6 address and MAC.
type ShimDraft = (
    usize,
    String,
    LinkRef,
    Ipv4Addr,
    Option<Ipv6Addr>,
    Option<MacAddr>,
);

struct EndpointDraft {
    live: LinkRef,
    name: String,
    ip: Option<Ipv4Addr>,
    ip6: Option<Ipv6Addr>,
    mac: Option<MacAddr>,
    source_macs: Vec<MacAddr>,
}

/// The kernel's broadcast queue length when a macvlan asks for none.
const DEFAULT_BC_QUEUE_LEN: u32 = 1000;

pub fn reproduce(found: &Found, c: &Component, index: usize) -> Reproduction {
    let mut notes: Vec<String> = Vec::new();
    let link = |r: &LinkRef| found.link(r).expect("layout links are found links");
    let mut mapper = Mapper::default();
    // Every address of the segment, lab-range ones first so that they keep their place.
    let mut all: Vec<&FoundLink> = Vec::new();
    for p in &c.parents {
        all.push(link(&p.link));
        all.extend(p.endpoints.iter().chain(&p.shims).map(|ch| link(&ch.link)));
    }
    all.extend(c.peers.iter().map(|p| link(&p.link)));
    let lab4 = Ipv4Network::new(LAB4, LAB4_PREFIX).expect("lab range");
    let lab6 = Ipv6Network::new(LAB6, LAB6_PREFIX).expect("lab range");
    for pass in [true, false] {
        for l in &all {
            for &(a, p) in &l.ipv4 {
                if lab4.contains(a) == pass && (pass || p != 32) {
                    mapper.register4(a, p);
                }
            }
            for (a, p) in l.global_ipv6() {
                if lab6.contains(a) == pass && (pass || p != 128) {
                    mapper.register6(a, p);
                }
            }
        }
    }

    let mut host_names: Vec<String> = Vec::new();
    let parent_names: Vec<String> = c
        .parents
        .iter()
        .map(|p| unique_ifname(&p.link.name, &mut host_names))
        .collect();

    // Endpoints into networks.
    let endpoint_links: Vec<(usize, &Child)> = c
        .parents
        .iter()
        .enumerate()
        .flat_map(|(i, p)| p.endpoints.iter().map(move |e| (i, e)))
        .collect();
    let names = node_names(
        &endpoint_links
            .iter()
            .map(|(_, e)| e.link.netns.clone())
            .chain(c.peers.iter().map(|p| p.link.netns.clone()))
            .collect::<Vec<_>>(),
    );
    let mut used4: BTreeMap<Ipv4Addr, String> = BTreeMap::new();
    let mut used6: BTreeMap<Ipv6Addr, String> = BTreeMap::new();
    let mut nets: Vec<NetDraft> = Vec::new();
    let mut live_ipv4 = BTreeSet::new();
    let mut live_ipv6 = BTreeSet::new();
    for ((parent, child), name) in endpoint_links.iter().zip(&names) {
        let l = link(&child.link);
        let m = l.detail.macvlan.clone().unwrap_or_default();
        let mode = m.mode.unwrap_or_else(|| {
            notes.push(format!(
                "{}: the kernel did not say its mode; taken as bridge",
                child.link
            ));
            MacvlanMode::Bridge
        });
        let v4 = l.ipv4.first().and_then(|&(a, _)| mapper.map4(a));
        let v6 = l.global_ipv6().next().and_then(|(a, _)| mapper.map6(a));
        if !l.ipv4.is_empty() {
            live_ipv4.insert(name.clone());
        }
        if v6.is_some() {
            live_ipv6.insert(name.clone());
        }
        let parent_mac = link(&c.parents[*parent].link).detail.mac;
        let bcq = m.bc_queue_len.filter(|&n| n != DEFAULT_BC_QUEUE_LEN);
        let cutoff = m.bc_cutoff.filter(|&n| n != 1);
        let net = nets.iter().position(|n| {
            n.parent == *parent
                && n.vid == child.vid
                && n.mode == mode
                && n.nopromisc == m.nopromisc
                && n.nodst == m.nodst
                && n.bcqueuelen == bcq
                && (v4.is_none() || n.mapped.is_none() || n.mapped == v4.map(|v| v.1))
        });
        let net = match net {
            Some(i) => i,
            None => {
                nets.push(NetDraft {
                    parent: *parent,
                    vid: child.vid,
                    mode,
                    nopromisc: m.nopromisc,
                    nodst: m.nodst,
                    bcqueuelen: bcq,
                    bc_cutoff: cutoff,
                    mapped: None,
                    subnet: None,
                    subnet6: None,
                    ip_range: None,
                    endpoints: Vec::new(),
                    gateways: Vec::new(),
                });
                nets.len() - 1
            }
        };
        if nets[net].mapped.is_none()
            && let Some((_, lab)) = v4
        {
            let taken = nets.iter().any(|n| n.subnet == Some(lab));
            nets[net].mapped = Some(lab);
            nets[net].subnet = if taken {
                let own = mapper.fresh4(lab.prefix());
                notes.push(format!(
                    "{}: its network shares the subnet of a network of another mode; the scenario gives it {} of its own, so IP between the two is not what the machine has",
                    child.link,
                    own.map_or("none".to_string(), |o| o.to_string())
                ));
                own
            } else {
                Some(lab)
            };
        }
        let n = &mut nets[net];
        if n.subnet6.is_none() {
            n.subnet6 = v6.map(|v| v.1);
        }
        for r in found.routes.iter().filter(|r| r.netns == child.link.netns) {
            if let (None, Some(IpAddr::V4(gw))) = (r.destination, r.gateway) {
                n.gateways.extend(mapper.map4(gw).map(|g| g.0));
            }
        }
        let mut ip = v4.map(|(a, lab)| match n.subnet {
            Some(own) if own != lab => {
                Ipv4Addr::from(u32::from(own.network()) + (u32::from(a) - u32::from(lab.network())))
            }
            _ => a,
        });
        if let Some(a) = ip {
            if let Some(owner) = used4.get(&a) {
                notes.push(format!(
                    "{}: its address is also {owner}'s; the lab gives it another",
                    child.link
                ));
                ip = None;
            } else {
                used4.insert(a, child.link.to_string());
            }
        }
        let mut ip6 = v6.filter(|v| Some(v.1) == n.subnet6).map(|v| v.0);
        if let Some(a) = ip6 {
            match used6.entry(a) {
                std::collections::btree_map::Entry::Occupied(_) => ip6 = None,
                std::collections::btree_map::Entry::Vacant(v) => {
                    v.insert(child.link.to_string());
                }
            }
        }
        let passthru = mode == MacvlanMode::Passthru;
        n.endpoints.push(EndpointDraft {
            live: child.link.clone(),
            name: name.clone(),
            ip,
            ip6,
            mac: if passthru || l.detail.mac == parent_mac {
                None
            } else {
                l.detail.mac.map(MacAddr::into_lab_safe)
            },
            source_macs: m.source_macs.iter().map(|m| m.into_lab_safe()).collect(),
        });
    }
    for n in &mut nets {
        if n.subnet.is_none() {
            n.subnet = mapper.fresh4(24);
        }
    }
    let nets: Vec<NetDraft> = nets.into_iter().filter(|n| n.subnet.is_some()).collect();

    // The host's own address: on a parent, inside one of that parent's untagged networks.
    let mut host: Option<(usize, Option<Ipv4Addr>, Option<Ipv6Addr>)> = None;
    let mut host_live: Option<String> = None;
    for (pi, p) in c.parents.iter().enumerate() {
        let l = link(&p.link);
        for &(a, _) in &l.ipv4 {
            let Some((m, _)) = mapper.map4(a) else {
                continue;
            };
            if let Some(ni) = nets.iter().position(|n| {
                n.parent == pi && n.vid.is_none() && n.subnet.is_some_and(|s| s.contains(m))
            }) && host.is_none()
                && !used4.contains_key(&m)
            {
                let v6 = l
                    .global_ipv6()
                    .filter_map(|(a, _)| mapper.map6(a))
                    .find(|(_, s)| Some(*s) == nets[ni].subnet6)
                    .map(|v| v.0);
                used4.insert(m, p.link.to_string());
                host = Some((ni, Some(m), v6));
                host_live = Some(format!("host:{}", parent_names[pi]));
            }
        }
    }
    if host.is_none() {
        for p in &c.parents {
            if let Some(&(a, pre)) = link(&p.link).ipv4.first() {
                notes.push(format!(
                    "{}: its address {a}/{pre} is in none of its endpoints' subnets, so the scenario's host has no address there",
                    p.link
                ));
            }
        }
    }

    // The shim: the first macvlan in a parent's own namespace with an IPv4 address the
    // parent's networks can hold.
    let mut shim: Option<ShimDraft> = None;
    let mut nets = nets;
    for (pi, p) in c.parents.iter().enumerate() {
        for s in &p.shims {
            let l = link(&s.link);
            let Some(&(a, _)) = l.ipv4.first() else {
                continue;
            };
            let Some((m, _)) = mapper.map4(a) else {
                continue;
            };
            if shim.is_some() {
                notes.push(format!("{}: a second shim; a scenario has one", s.link));
                continue;
            }
            let Some(ni) = nets.iter().position(|n| {
                n.parent == pi && n.vid == s.vid && n.subnet.is_some_and(|x| x.contains(m))
            }) else {
                notes.push(format!(
                    "{}: its address is in none of its parent's networks",
                    s.link
                ));
                continue;
            };
            if used4.contains_key(&m) {
                continue;
            }
            // The route through it (Docker's recipe: the ip_range, or the endpoints one by one).
            let live_subnet = mapper
                .v4
                .iter()
                .find(|(_, lab)| Some(*lab) == nets[ni].subnet)
                .map(|(live, _)| *live);
            let routes: Vec<(Ipv4Addr, u8)> = found
                .routes
                .iter()
                .filter(|r| {
                    r.netns == s.link.netns && r.dev.as_deref() == Some(s.link.name.as_str())
                })
                .filter_map(|r| match r.destination {
                    Some((IpAddr::V4(d), pre)) => Some((d, pre)),
                    _ => None,
                })
                .collect();
            let widest = routes
                .iter()
                .filter(|(d, pre)| {
                    live_subnet.is_some_and(|ls| ls.contains(*d) && *pre >= ls.prefix())
                })
                .min_by_key(|(_, pre)| *pre);
            if let (Some(&(d, pre)), Some(ls)) = (widest, live_subnet)
                && pre > ls.prefix()
                && let Some((md, _)) = mapper.map4(d)
            {
                nets[ni].ip_range = Ipv4Network::new(md, pre).ok();
            }
            used4.insert(m, s.link.to_string());
            let v6 = l
                .global_ipv6()
                .filter_map(|(a, _)| mapper.map6(a))
                .find(|(_, sub)| Some(*sub) == nets[ni].subnet6)
                .map(|v| v.0);
            let name = unique_ifname(&s.link.name, &mut host_names);
            shim = Some((
                ni,
                name,
                s.link.clone(),
                m,
                v6,
                l.detail.mac.map(MacAddr::into_lab_safe),
            ));
        }
    }

    // Peers.
    let peer_names = &names[endpoint_links.len()..];
    let mut text = String::new();
    let _ = write!(
        text,
        "{}{}",
        comment(&format!(
            "Written by `mvlab inspect` from a live machine (segment {}): the same parents, switch, networks, endpoints and peers.",
            index + 1
        )),
        comment(
            "Addresses are mapped into the lab ranges, each keeping its offset in its subnet; MACs made locally administered."
        )
    );
    for (live, lab) in &mapper.v4 {
        text.push_str(&comment(&format!("address map: {live} -> {lab}")));
    }
    for (live, lab) in &mapper.v6 {
        text.push_str(&comment(&format!("address map: {live} -> {lab}")));
    }
    let mut stations: Vec<(String, LinkRef)> = Vec::new();
    for (p, name) in c.parents.iter().zip(&parent_names) {
        stations.push((format!("{HOST_NODE}:{name}"), p.link.clone()));
    }
    if let Some((_, name, live, ..)) = &shim {
        stations.push((format!("{HOST_NODE}:{name}"), live.clone()));
    }
    for n in &nets {
        for e in &n.endpoints {
            stations.push((e.name.clone(), e.live.clone()));
        }
    }
    for (p, name) in c.peers.iter().zip(peer_names) {
        stations.push((name.clone(), p.link.clone()));
    }
    let mut ports: Vec<(String, LinkRef)> = Vec::new();
    if let Beyond::Bridge { at } = &c.beyond {
        ports.push((format!("{}:{}", scenario::SWITCH_NODE, at.name), at.clone()));
        let faced = c
            .parents
            .iter()
            .map(|p| &p.port)
            .chain(c.peers.iter().map(|p| &p.port));
        for (i, port) in faced.enumerate() {
            if let Some((live, _)) = port {
                ports.push((format!("{}:p{i}", scenario::SWITCH_NODE), live.clone()));
            }
        }
    }
    for (s, live) in &stations {
        text.push_str(&comment(&format!("station {s} is {live}")));
    }
    for n in &notes {
        text.push_str(&comment(&format!("not as on the machine: {n}")));
    }
    let _ = writeln!(
        text,
        "name = \"inspected{}\"\ndescription = \"reproduced by mvlab inspect\"",
        if index == 0 {
            String::new()
        } else {
            format!("-{}", index + 1)
        }
    );
    if c.peers.is_empty() {
        text.push_str("peers = []\n");
    }
    match &c.beyond {
        Beyond::Bridge { at } => {
            let b = link(at).detail.bridge.unwrap_or_default();
            let _ = writeln!(
                text,
                "\n[switch]\nkind = \"bridge\"\nname = \"{}\"\nageing_time = {}\nmulticast_snooping = {}",
                at.name, b.ageing_time, b.multicast_snooping
            );
            if let Some(max) = b.fdb_max_learned {
                let _ = writeln!(text, "fdb_max_learned = {max}");
            }
        }
        Beyond::Wire => text.push_str("\n[switch]\nkind = \"none\"\n"),
        Beyond::Dummy => {}
        Beyond::Unknown => text.push_str(&comment(
            "the switch beyond the parent is not visible from this machine: an ordinary learning switch is assumed (a Linux bridge, hairpin off)",
        )),
    }
    for (p, name) in c.parents.iter().zip(&parent_names) {
        let l = link(&p.link);
        let _ = writeln!(text, "\n[[parents]]\nname = \"{name}\"");
        if c.beyond == Beyond::Dummy {
            text.push_str("kind = \"dummy\"\n");
        }
        if l.detail.mtu > 0 {
            let _ = writeln!(text, "mtu = {}", l.detail.mtu);
        }
        if let Some(mac) = l.detail.mac {
            let _ = writeln!(text, "mac = \"{}\"", mac.into_lab_safe());
        }
        if let Some((_, flags)) = &p.port {
            let _ = writeln!(text, "port = {}", port_table(flags));
        }
    }
    for (i, n) in nets.iter().enumerate() {
        let subnet = n.subnet.expect("networks without a subnet were dropped");
        let _ = writeln!(
            text,
            "\n[[networks]]\nname = \"net{i}\"\nparent = \"{}\"\nmode = \"{}\"\nsubnet = \"{subnet}\"",
            parent_names[n.parent], n.mode
        );
        let taken = |a: &Ipv4Addr| {
            used4.contains_key(a) || *a == subnet.network() || *a == subnet.broadcast()
        };
        let gateway = n
            .gateways
            .iter()
            .copied()
            .find(|g| subnet.contains(*g) && !taken(g))
            .or_else(|| subnet.iter().find(|a| !taken(a)));
        if let Some(g) = gateway {
            let _ = writeln!(text, "gateway = \"{g}\"");
        }
        if let Some(r) = n.ip_range {
            let _ = writeln!(text, "ip_range = \"{r}\"");
        }
        if let Some(s6) = n.subnet6 {
            let _ = writeln!(text, "subnet6 = \"{s6}\"");
            if let Some(g6) = s6.iter().skip(1).find(|a| !used6.contains_key(a)) {
                let _ = writeln!(text, "gateway6 = \"{g6}\"");
            }
        }
        if let Some(v) = n.vid {
            let _ = writeln!(text, "vlan = {v}");
        }
        if n.nopromisc {
            text.push_str("nopromisc = true\n");
        }
        if n.nodst {
            text.push_str("nodst = true\n");
        }
        if let Some(q) = n.bcqueuelen {
            let _ = writeln!(text, "bcqueuelen = {q}");
        }
        if let Some(cut) = n.bc_cutoff {
            let _ = writeln!(text, "bc_cutoff = {cut}");
        }
        for e in &n.endpoints {
            let _ = write!(text, "\n[[networks.endpoints]]\nname = \"{}\"\n", e.name);
            if let Some(ip) = e.ip.filter(|a| {
                *a != subnet.network() && *a != subnet.broadcast() && Some(*a) != gateway
            }) {
                let _ = writeln!(text, "ip = \"{ip}\"");
            }
            if let Some(ip6) = e.ip6 {
                let _ = writeln!(text, "ip6 = \"{ip6}\"");
            }
            if let Some(mac) = e.mac {
                let _ = writeln!(text, "mac = \"{mac}\"");
            }
            if n.mode == MacvlanMode::Source {
                let list: Vec<String> = e.source_macs.iter().map(|m| format!("\"{m}\"")).collect();
                let _ = writeln!(text, "source_macs = [{}]", list.join(", "));
            }
        }
    }
    for (p, name) in c.peers.iter().zip(peer_names) {
        let l = link(&p.link);
        let v4 = l.ipv4.first().and_then(|&(a, _)| mapper.map4(a));
        if !l.ipv4.is_empty() {
            live_ipv4.insert(name.clone());
        }
        let network = v4
            .and_then(|(_, s)| nets.iter().position(|n| n.subnet == Some(s)))
            .unwrap_or(0);
        let _ = write!(
            text,
            "\n[[peers]]\nname = \"{name}\"\nnetwork = \"net{network}\"\n"
        );
        if let Some((a, s)) = v4
            && nets.get(network).is_some_and(|n| n.subnet == Some(s))
            && !used4.contains_key(&a)
        {
            used4.insert(a, p.link.to_string());
            let _ = writeln!(text, "ip = \"{a}\"");
        }
        if let Some((a, s)) = l.global_ipv6().next().and_then(|(a, _)| mapper.map6(a)) {
            live_ipv6.insert(name.clone());
            if nets.get(network).is_some_and(|n| n.subnet6 == Some(s)) && !used6.contains_key(&a) {
                used6.insert(a, p.link.to_string());
                let _ = writeln!(text, "ip6 = \"{a}\"");
            }
        }
        if let Some(mac) = l.detail.mac {
            let _ = writeln!(text, "mac = \"{}\"", mac.into_lab_safe());
        }
        if let Some((_, flags)) = &p.port {
            let _ = writeln!(text, "port = {}", port_table(flags));
        }
    }
    if host.is_some() || shim.is_some() {
        text.push_str("\n[host]\n");
        if let Some((ni, ip, ip6)) = &host {
            let _ = writeln!(text, "network = \"net{ni}\"");
            if let Some(ip) = ip {
                let _ = writeln!(text, "ip = \"{ip}\"");
            }
            if let Some(ip6) = ip6 {
                let _ = writeln!(text, "ip6 = \"{ip6}\"");
            }
        }
        if let Some((ni, name, _, ip, ip6, mac)) = &shim {
            let _ = write!(
                text,
                "shim = {{ network = \"net{ni}\", name = \"{name}\", ip = \"{ip}\""
            );
            if let Some(ip6) = ip6 {
                let _ = write!(text, ", ip6 = \"{ip6}\"");
            }
            if let Some(mac) = mac {
                let _ = write!(text, ", mac = \"{mac}\"");
            }
            text.push_str(" }\n");
        }
    }
    if let Some(h) = host_live {
        live_ipv4.insert(h);
    }
    if let Some((_, name, ..)) = &shim {
        live_ipv4.insert(format!("{HOST_NODE}:{name}"));
    }
    let scenario = scenario::parse(Source::new(
        format!("inspected segment {}", index + 1),
        text.clone(),
    ))
    .map_err(|d| d.to_string());
    Reproduction {
        text,
        scenario,
        stations,
        ports,
        live_ipv4,
        live_ipv6,
        ipv4_map: mapper.v4,
        ipv6_map: mapper.v6,
        notes,
    }
}

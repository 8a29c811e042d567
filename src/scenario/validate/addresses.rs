//! Addresses: each network's subnets, gateway, ip_range and aux addresses as written (inside the
//! benchmarking ranges, no host bits), then stage 2, Docker-style IPAM over every node: fixed
//! addresses first, the dynamic pool checked whole before anything is handed out, lab-only nodes
//! from the top of the subnet. The pool arithmetic itself is `ipam`'s; this file says what a
//! refusal means to the person who wrote the file.

use std::collections::{BTreeMap, HashMap};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use ipnetwork::{Ipv4Network, Ipv6Network};
use toml::Spanned;

use super::*;
use crate::addr::{LAB_NET4, LAB_NET6};
use crate::scenario::ipam::host_local::Refused;
use crate::scenario::ipam::{Family, Pool, PoolExhausted, Refusal};

/// The default subnet of the network at `index`: consecutive /24s of 198.18.0.0/15.
pub(super) fn default_subnet(index: usize) -> (Ipv4Addr, u8) {
    let i = (index % 512) as u32;
    (Ipv4Addr::from(u32::from(LAB_NET4.0) + (i << 8)), 24)
}

/// Docker's refusal when a network's pool has fewer addresses than asked for, and the hint:
/// one wording for `mvlab check` and for the ip_exhaustion test that reports it.
pub(in crate::scenario) fn exhaustion_message(
    network: &Network,
    key: &str,
    range: &str,
    available: u128,
    asked: u128,
) -> (String, String) {
    let ipam = &network.ipv4;
    (
        format!(
            "network `{}` needs {asked} addresses from its pool {range}, which has {available} left (after the network and broadcast addresses, the gateway {}, {} aux address(es) and the fixed addresses)",
            network.name,
            ipam.gateway.map_or("(none)".to_string(), |g| g.to_string()),
            ipam.aux_addresses.len()
        ),
        format!("widen `subnet`/`{key}`, or ask for at most {available} endpoints"),
    )
}

/// A node the lab adds beside the engine's containers: a peer (its index), the host's own
/// address, or the shim; with its fixed addresses.
pub(super) struct LabOnly<'a> {
    peer: Option<usize>,
    name: String,
    ip: Option<&'a Spanned<Ipv4Addr>>,
    ip6: Option<&'a Spanned<Ipv6Addr>>,
}

/// The lab-only nodes of network `n`, in order: peers, the host, the shim.
fn lab_only_nodes(d: &Drafts, n: usize) -> Vec<LabOnly<'_>> {
    let peers = d
        .peers
        .iter()
        .enumerate()
        .filter(|(_, p)| p.network == n)
        .map(|(i, p)| LabOnly {
            peer: Some(i),
            name: p.name.clone(),
            ip: p.ip.as_ref(),
            ip6: p.ip6.as_ref(),
        });
    let host = d.host.iter().filter(|h| h.network == n).map(|h| LabOnly {
        peer: None,
        name: HOST_NODE.to_string(),
        ip: h.ip.as_ref(),
        ip6: h.ip6.as_ref(),
    });
    let shim = d.shim.iter().filter(|s| s.network == n).map(|s| LabOnly {
        peer: None,
        name: s.interface.clone(),
        ip: s.ip.as_ref(),
        ip6: s.ip6.as_ref(),
    });
    peers.chain(host).chain(shim).collect()
}

/// Containers an engine refuses, gathered so that consecutive refusals of one entry in the
/// same words read as one problem: (where, the engine's words, what started, the fix, who).
#[derive(Default)]
pub(super) struct Refusals(Vec<(Span, String, String, String, Vec<String>)>);

impl Refusals {
    /// One refused container. `started` says what the engine did start (empty: nothing to say).
    pub(super) fn push(
        &mut self,
        at: Span,
        words: String,
        started: String,
        fix: String,
        who: &str,
    ) {
        if let Some(last) = self.0.last_mut()
            && last.0 == at
            && last.1 == words
        {
            last.4.push(who.to_string());
            return;
        }
        self.0
            .push((at, words, started, fix, vec![who.to_string()]));
    }

    /// Every refusal as one diagnostic per run of the same words at the same place.
    pub(super) fn report(self, b: &mut Builder) {
        for (at, words, started, fix, who) in self.0 {
            let who = match &who[..] {
                [one] => format!("`{one}`"),
                [a, b] => format!("`{a}` and `{b}`"),
                [first, .., last] => format!("the {} containers `{first}` to `{last}`", who.len()),
                [] => String::new(),
            };
            let hint = if started.is_empty() {
                fix
            } else {
                format!("{started} and refuses {who}: {fix}")
            };
            b.error(at, words, hint);
        }
    }
}

/// What an engine started on a network before it refused a container, for the hint.
pub(super) fn started(engine: &str, network: &str, names: &[String]) -> String {
    match names {
        [] => format!("{engine} starts no container on `{network}`"),
        [one] => format!("{engine} starts `{one}` on `{network}`"),
        [first, .., last] => format!(
            "{engine} starts the {} containers `{first}` to `{last}` on `{network}`",
            names.len()
        ),
    }
}

impl Addresses {
    /// Nobody has an address yet.
    pub(super) fn unassigned(d: &Drafts) -> Addresses {
        Addresses {
            endpoints: vec![Assigned::default(); d.endpoints.len()],
            peers: vec![Assigned::default(); d.peers.len()],
            shim: d.shim.as_ref().map(|_| Assigned::default()),
        }
    }
}

/// How the scenario's engine refuses further containers on network `n` when `asked` more
/// find `available` addresses, and mvlab's hint: Docker's words with `[docker]`, the CNI
/// plugin's with `[cni]`, mvlab's own otherwise.
pub(in crate::scenario) fn refusal(
    s: &Scenario,
    n: usize,
    available: u128,
    asked: u128,
) -> (String, String) {
    let net = &s.networks[n];
    let hint = format!(
        "{available} more fit: widen the subnet or ip_range, or ask for at most {available}"
    );
    match s.rules {
        Rules::Mvlab => exhaustion_message(
            net,
            "ip_range",
            &net.ipv4.ip_range.to_string(),
            available,
            asked,
        ),
        Rules::Docker { version } => {
            let id = net.docker.as_ref().map_or("", |d| d.id.as_str());
            let ipv6 = net.docker.as_ref().is_some_and(|d| !d.enable_ipv4);
            (version.no_addresses(ipv6, &net.name, id), hint)
        }
        Rules::Cni => {
            let set = std::iter::once(&net.ipv4)
                .chain(&net.more_ipv4)
                .filter_map(|p| Some(format!("{}-{}", p.range_start?, p.range_end?)))
                .collect::<Vec<_>>()
                .join(",");
            (
                crate::scenario::cni::refused(0, Refused::Exhausted, None, &set),
                hint,
            )
        }
    }
}

impl Builder {
    /// `raw` read as an `family` subnet (host bits kept), or an error at it; `lab` gives the example.
    pub(super) fn parse_subnet<A: Family, N: FromStr + SubnetParts<A>>(
        &mut self,
        raw: &SpannedStr,
        lab: (A, u8),
        family: &str,
    ) -> Option<(A, u8)> {
        let Ok(net) = raw.get_ref().parse::<N>() else {
            self.error(
                raw.span(),
                format!("`{}` is not an {family} subnet", raw.get_ref()),
                format!("write it as address/prefix, e.g. {}/24", lab.0),
            );
            return None;
        };
        Some(net.parts())
    }

    /// A subnet that is its own network address and lies inside the benchmarking range.
    fn subnet<A: Family, N>(
        &mut self,
        raw: &SpannedStr,
        lab: (A, u8),
        max_prefix: u8,
        family: &str,
    ) -> Option<(A, u8)>
    where
        N: FromStr + Copy,
        N: SubnetParts<A>,
    {
        let (addr, prefix) = self.parse_subnet::<A, N>(raw, lab, family)?;
        let base = Pool::base((addr, prefix));
        if base != addr {
            self.error(
                raw.span(),
                format!("`{}` has host bits set", raw.get_ref()),
                format!("did you mean {base}/{prefix}?"),
            );
            return None;
        }
        if prefix > max_prefix {
            self.error(
                raw.span(),
                format!("/{prefix} leaves no room for endpoints"),
                format!("use a prefix of at most /{max_prefix}"),
            );
            return None;
        }
        if !Pool::nests(lab, (addr, prefix)) {
            self.error(
                raw.span(),
                format!("{addr}/{prefix} is outside the benchmarking range {}/{}", lab.0, lab.1),
                format!(
                    "lab addresses must come from {}/{} (RFC 2544) or {}/{} (RFC 5180), so lab traffic can never reach a real network",
                    LAB_NET4.0, LAB_NET4.1, LAB_NET6.0, LAB_NET6.1
                ),
            );
            return None;
        }
        Some((addr, prefix))
    }

    pub(super) fn ipam4(&mut self, r: &RawNetwork, index: usize) -> Ipam<Ipv4Network, Ipv4Addr> {
        let subnet = r
            .subnet
            .as_ref()
            .and_then(|s| self.subnet::<Ipv4Addr, Ipv4Network>(s, LAB_NET4, 30, "IPv4"))
            .unwrap_or_else(|| default_subnet(index));
        let (gateway, ip_range, aux) = self.pool_settings::<Ipv4Addr, Ipv4Network>(
            subnet,
            r.gateway.as_ref(),
            r.ip_range.as_ref(),
            r.aux_addresses.as_ref(),
            LAB_NET4,
            "IPv4",
            "198.18.0.10",
        );
        Ipam {
            subnet: Ipv4Network::new(subnet.0, subnet.1).expect("validated prefix"),
            gateway: Some(gateway),
            ip_range: Ipv4Network::new(ip_range.0, ip_range.1).expect("validated prefix"),
            aux_addresses: aux,
            range_start: None,
            range_end: None,
        }
    }

    pub(super) fn ipam6(&mut self, r: &RawNetwork) -> Option<Ipam<Ipv6Network, Ipv6Addr>> {
        let Some(raw_subnet) = &r.subnet6 else {
            for (key, v) in [
                ("gateway6", r.gateway6.as_ref()),
                ("ip_range6", r.ip_range6.as_ref()),
            ] {
                if let Some(v) = v {
                    self.error(
                        v.span(),
                        format!("`{key}` needs `subnet6`"),
                        "add subnet6 = \"2001:2:0:N::/64\" or remove this key",
                    );
                }
            }
            if r.aux_addresses6.is_some() {
                self.diags.push(
                    Diagnostic::whole(Some(&self.source), "`aux_addresses6` needs `subnet6`")
                        .hint("add subnet6 or remove aux_addresses6"),
                );
            }
            return None;
        };
        let subnet = self.subnet::<Ipv6Addr, Ipv6Network>(raw_subnet, LAB_NET6, 126, "IPv6")?;
        let (gateway, ip_range, aux) = self.pool_settings::<Ipv6Addr, Ipv6Network>(
            subnet,
            r.gateway6.as_ref(),
            r.ip_range6.as_ref(),
            r.aux_addresses6.as_ref(),
            LAB_NET6,
            "IPv6",
            "2001:2::10",
        );
        Some(Ipam {
            subnet: Ipv6Network::new(subnet.0, subnet.1).expect("validated prefix"),
            gateway: Some(gateway),
            ip_range: Ipv6Network::new(ip_range.0, ip_range.1).expect("validated prefix"),
            aux_addresses: aux,
            range_start: None,
            range_end: None,
        })
    }

    /// Gateway, ip_range and aux addresses of one family, checked against the subnet.
    #[allow(clippy::too_many_arguments)]
    fn pool_settings<A, N>(
        &mut self,
        subnet: (A, u8),
        gateway: Option<&SpannedStr>,
        ip_range: Option<&SpannedStr>,
        aux: Option<&BTreeMap<String, SpannedStr>>,
        lab: (A, u8),
        family: &str,
        example: &str,
    ) -> (A, (A, u8), BTreeMap<String, A>)
    where
        A: Family + FromStr,
        N: FromStr + Copy + SubnetParts<A>,
    {
        let probe = Pool::new(subnet, subnet, Pool::first_host(subnet), []);
        let gw = match self.parse_addr::<A>(gateway, family, example) {
            Some(g) => {
                if let Err(r) = Pool::new(subnet, subnet, *g.get_ref(), []).check_gateway() {
                    self.error(
                        g.span(),
                        format!("gateway {} {}", g.get_ref(), r.describe()),
                        format!("pick a host address inside {}/{}", subnet.0, subnet.1),
                    );
                }
                *g.get_ref()
            }
            None => Pool::first_host(subnet),
        };
        let range = match ip_range {
            Some(raw) => match self.subnet::<A, N>(raw, lab, A::BITS, family) {
                Some(range) if Pool::nests(subnet, range) => range,
                Some(_) => {
                    self.error(
                        raw.span(),
                        format!(
                            "ip_range {} is not inside the subnet {}/{}",
                            raw.get_ref(),
                            subnet.0,
                            subnet.1
                        ),
                        "ip_range narrows the subnet: pick a block inside it",
                    );
                    subnet
                }
                None => subnet,
            },
            None => subnet,
        };
        let mut aux_out = BTreeMap::new();
        let mut taken: BTreeMap<u128, &str> = BTreeMap::new();
        for (name, raw) in aux.into_iter().flatten() {
            if let Some(a) = self.parse_addr::<A>(Some(raw), family, example) {
                let bits = a.get_ref().to_bits();
                if let Err(r) = probe.check_aux(*a.get_ref()) {
                    self.error(
                        a.span(),
                        format!("aux address `{name}` = {} {}", a.get_ref(), r.describe()),
                        format!("pick a host address inside {}/{}", subnet.0, subnet.1),
                    );
                } else if bits == gw.to_bits() {
                    self.error(
                        a.span(),
                        format!("aux address `{name}` = {} is the gateway", a.get_ref()),
                        "the gateway is reserved already: remove this aux address, or pick another address",
                    );
                } else if let Some(other) = taken.insert(bits, name) {
                    self.error(
                        a.span(),
                        format!(
                            "aux address `{name}` = {} is also aux address `{other}`",
                            a.get_ref()
                        ),
                        "give each aux address its own address, or remove one of them",
                    );
                }
                aux_out.insert(name.clone(), *a.get_ref());
            }
        }
        (gw, range, aux_out)
    }

    /// Stage 2: every node's addresses, by the scenario's rules.
    pub(super) fn addresses(&mut self, d: &mut Drafts) -> Addresses {
        match self.rules {
            Rules::Mvlab => self.mvlab_addresses(d),
            Rules::Docker { version } => self.docker_addresses(version, d),
            Rules::Cni => self.cni_addresses(d),
        }
    }

    /// mvlab's own rules: fixed addresses first, the dynamic pool checked whole before anything
    /// is handed out, lab-only nodes from the top.
    fn mvlab_addresses(&mut self, d: &Drafts) -> Addresses {
        let mut out = Addresses::unassigned(d);
        for (n, net) in d.networks.iter().enumerate() {
            let ipam = &net.network.ipv4;
            let mut pool4 = ipam.pool();
            let mut pool6 = net.network.ipv6.as_ref().map(Ipam::pool);
            let subnet4 = ipam.subnet.to_string();
            let subnet6 = net.network.ipv6.as_ref().map(|v| v.subnet.to_string());
            let mut owners4: HashMap<Ipv4Addr, String> = HashMap::new();
            let mut owners6: HashMap<Ipv6Addr, String> = HashMap::new();

            // Fixed addresses first, endpoints under Docker's rules.
            let ep_fixed = d
                .endpoints
                .iter()
                .enumerate()
                .filter(|(_, e)| e.network == n);
            for (i, e) in ep_fixed {
                let name = e.name.clone().unwrap_or_default();
                if let Some(ip) = &e.ip {
                    self.take(&mut pool4, &mut owners4, ip, true, &name, &subnet4);
                    out.endpoints[i].ipv4 = Some(*ip.get_ref());
                }
                if let Some(ip6) = &e.ip6 {
                    if let (Some(pool), Some(s6)) = (pool6.as_mut(), subnet6.as_deref()) {
                        self.take(pool, &mut owners6, ip6, true, &name, s6);
                        out.endpoints[i].ipv6 = Some(*ip6.get_ref());
                    } else {
                        self.no_subnet6(ip6.span(), &net.network.name);
                    }
                }
            }
            let lab_only = lab_only_nodes(d, n);
            self.take_lab_only(
                &lab_only,
                &mut pool4,
                pool6.as_mut(),
                &mut owners4,
                &mut owners6,
                &net.network,
            );

            // Then the dynamic pool, checked whole before anything is handed out.
            let dynamic4 = d
                .endpoints
                .iter()
                .filter(|e| e.network == n && e.ip.is_none())
                .count() as u128;
            if let Err(PoolExhausted { available, asked }) = pool4.reserve_dynamic(dynamic4) {
                self.exhausted(
                    net,
                    "ip_range",
                    &ipam.ip_range.to_string(),
                    available,
                    asked,
                );
                continue;
            }
            if let Some(pool) = &pool6 {
                let dynamic6 = d
                    .endpoints
                    .iter()
                    .filter(|e| e.network == n && e.ip6.is_none())
                    .count() as u128;
                if let Err(PoolExhausted { available, asked }) = pool.reserve_dynamic(dynamic6) {
                    let range = net
                        .network
                        .ipv6
                        .as_ref()
                        .map(|v| v.ip_range.to_string())
                        .unwrap_or_default();
                    self.exhausted(net, "ip_range6", &range, available, asked);
                    continue;
                }
            }
            for (i, e) in d
                .endpoints
                .iter()
                .enumerate()
                .filter(|(_, e)| e.network == n)
            {
                let slot = &mut out.endpoints[i];
                if e.ip.is_none() {
                    slot.ipv4 = Some(pool4.next_low().expect("pool size checked"));
                }
                if let (None, Some(pool)) = (&e.ip6, pool6.as_mut()) {
                    slot.ipv6 = Some(pool.next_low().expect("pool size checked"));
                }
                slot.gateway4 = ipam.gateway;
                slot.gateway6 = slot
                    .ipv6
                    .and(net.network.ipv6.as_ref())
                    .and_then(|v| v.gateway);
            }
            self.place_lab_only(lab_only, &mut pool4, pool6.as_mut(), &net.network, &mut out);
        }
        out
    }

    /// After an engine placed its containers: the lab-only nodes of every network, from the
    /// top of its first subnet, clear of every container address, gateway and aux address.
    pub(super) fn lab_only_addresses(
        &mut self,
        d: &Drafts,
        out: &mut Addresses,
        owners4: &HashMap<Ipv4Addr, String>,
        owners6: &HashMap<Ipv6Addr, String>,
    ) {
        for (n, net) in d.networks.iter().enumerate() {
            let mut pool4 = net.network.ipv4.pool();
            let mut pool6 = net.network.ipv6.as_ref().map(Ipam::pool);
            for a in out
                .endpoints
                .iter()
                .zip(&d.endpoints)
                .filter(|(_, e)| e.network == n)
            {
                if let Some(ip) = a.0.ipv4 {
                    let _ = pool4.take(ip, false);
                }
                if let (Some(ip), Some(pool)) = (a.0.ipv6, pool6.as_mut()) {
                    let _ = pool.take(ip, false);
                }
            }
            let lab_only = lab_only_nodes(d, n);
            let (mut o4, mut o6) = (owners4.clone(), owners6.clone());
            self.take_lab_only(
                &lab_only,
                &mut pool4,
                pool6.as_mut(),
                &mut o4,
                &mut o6,
                &net.network,
            );
            self.place_lab_only(lab_only, &mut pool4, pool6.as_mut(), &net.network, out);
        }
    }

    /// The fixed addresses of lab-only nodes, taken from the pools (they may be the gateway or
    /// an aux address: a peer can be the router, the shim sits on an aux address).
    fn take_lab_only(
        &mut self,
        nodes: &[LabOnly<'_>],
        pool4: &mut Pool<Ipv4Addr>,
        mut pool6: Option<&mut Pool<Ipv6Addr>>,
        owners4: &mut HashMap<Ipv4Addr, String>,
        owners6: &mut HashMap<Ipv6Addr, String>,
        net: &Network,
    ) {
        let subnet4 = net.ipv4.subnet.to_string();
        let subnet6 = net.ipv6.as_ref().map(|v| v.subnet.to_string());
        for node in nodes {
            if let Some(ip) = node.ip {
                self.take(pool4, owners4, ip, false, &node.name, &subnet4);
            }
            if let Some(ip6) = node.ip6 {
                match (pool6.as_deref_mut(), subnet6.as_deref()) {
                    (Some(pool), Some(s6)) => self.take(pool, owners6, ip6, false, &node.name, s6),
                    _ => self.no_subnet6(ip6.span(), &net.name),
                }
            }
        }
    }

    /// The lab-only nodes without a fixed address get the highest free ones.
    fn place_lab_only(
        &mut self,
        nodes: Vec<LabOnly<'_>>,
        pool4: &mut Pool<Ipv4Addr>,
        mut pool6: Option<&mut Pool<Ipv6Addr>>,
        net: &Network,
        out: &mut Addresses,
    ) {
        for node in nodes {
            let host = node.name == HOST_NODE;
            let ipv4 = match node.ip {
                Some(ip) => Some(*ip.get_ref()),
                None if host => None,
                None => pool4.next_high(),
            };
            let ipv6 = match (node.ip6, pool6.as_deref_mut()) {
                (Some(ip6), _) => Some(*ip6.get_ref()),
                (None, Some(pool)) if !host => pool.next_high(),
                _ => None,
            };
            if ipv4.is_none() && !host {
                self.error(
                    net.span.clone(),
                    format!(
                        "network `{}` has no free address left for `{}`",
                        net.name, node.name
                    ),
                    "widen the subnet, or give the node a fixed `ip`",
                );
                continue;
            }
            let assigned = Assigned {
                ipv4,
                ipv6,
                gateway4: None,
                gateway6: None,
            };
            match node.peer {
                Some(i) => out.peers[i] = assigned,
                None if !host => out.shim = Some(assigned),
                None => {}
            }
        }
    }

    fn take<A: Family + std::hash::Hash>(
        &mut self,
        pool: &mut Pool<A>,
        owners: &mut HashMap<A, String>,
        ip: &Spanned<A>,
        docker_managed: bool,
        name: &str,
        subnet: &str,
    ) {
        let a = *ip.get_ref();
        match pool.take(a, docker_managed) {
            Ok(()) => {
                owners.insert(a, name.to_string());
            }
            Err(Refusal::Taken) => {
                let owner = owners.get(&a).cloned().unwrap_or_default();
                self.error(
                    ip.span(),
                    format!("{a} is already given to `{owner}`"),
                    "every node needs its own address",
                );
            }
            Err(r @ (Refusal::Gateway | Refusal::Aux)) => self.error(
                ip.span(),
                format!(
                    "{a} {}, and Docker never gives it to a container",
                    r.describe()
                ),
                "pick another address, or leave `ip` out to get one from the pool",
            ),
            Err(r) => self.error(
                ip.span(),
                format!("{a} {} {subnet}", r.describe()),
                format!("pick a host address inside {subnet}"),
            ),
        }
    }

    fn no_subnet6(&mut self, span: Span, network: &str) {
        self.error(
            span,
            format!("network `{network}` has no IPv6 subnet"),
            "add `subnet6` to the network, or remove `ip6`",
        );
    }

    fn exhausted(
        &mut self,
        net: &NetworkDraft,
        key: &str,
        range: &str,
        available: u128,
        asked: u128,
    ) {
        let (message, hint) = exhaustion_message(&net.network, key, range, available, asked);
        self.error(net.endpoints_span.clone(), message, hint);
    }
}

/// Address and prefix of a parsed subnet, for both families, and back.
pub(super) trait SubnetParts<A>: Sized {
    fn parts(&self) -> (A, u8);
    /// A subnet of a prefix length the caller checked.
    fn from_parts(parts: (A, u8)) -> Self;
}

impl SubnetParts<Ipv4Addr> for Ipv4Network {
    fn parts(&self) -> (Ipv4Addr, u8) {
        (self.ip(), self.prefix())
    }
    fn from_parts(parts: (Ipv4Addr, u8)) -> Self {
        Ipv4Network::new(parts.0, parts.1).expect("a checked prefix")
    }
}

impl SubnetParts<Ipv6Addr> for Ipv6Network {
    fn parts(&self) -> (Ipv6Addr, u8) {
        (self.ip(), self.prefix())
    }
    fn from_parts(parts: (Ipv6Addr, u8)) -> Self {
        Ipv6Network::new(parts.0, parts.1).expect("a checked prefix")
    }
}

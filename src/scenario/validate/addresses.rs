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
use crate::scenario::ipam::{Family, Pool, PoolExhausted, Refusal};

/// The default subnet of the network at `index`: consecutive /24s of 198.18.0.0/15.
fn default_subnet(index: usize) -> (Ipv4Addr, u8) {
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
            ipam.gateway,
            ipam.aux_addresses.len()
        ),
        format!("widen `subnet`/`{key}`, or ask for at most {available} endpoints"),
    )
}

impl Builder {
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
        let Ok(net) = raw.get_ref().parse::<N>() else {
            self.error(
                raw.span(),
                format!("`{}` is not an {family} subnet", raw.get_ref()),
                format!("write it as address/prefix, e.g. {}/24", lab.0),
            );
            return None;
        };
        let (addr, prefix) = net.parts();
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
            gateway,
            ip_range: Ipv4Network::new(ip_range.0, ip_range.1).expect("validated prefix"),
            aux_addresses: aux,
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
            gateway,
            ip_range: Ipv6Network::new(ip_range.0, ip_range.1).expect("validated prefix"),
            aux_addresses: aux,
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

    pub(super) fn addresses(&mut self, d: &Drafts) -> Addresses {
        let mut endpoints = vec![
            Assigned {
                ipv4: Ipv4Addr::UNSPECIFIED,
                ipv6: None
            };
            d.endpoints.len()
        ];
        let mut peers = vec![
            Assigned {
                ipv4: Ipv4Addr::UNSPECIFIED,
                ipv6: None
            };
            d.peers.len()
        ];
        let mut shim = d.shim.as_ref().map(|_| Assigned {
            ipv4: Ipv4Addr::UNSPECIFIED,
            ipv6: None,
        });
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
                    endpoints[i].ipv4 = *ip.get_ref();
                }
                if let Some(ip6) = &e.ip6 {
                    if let (Some(pool), Some(s6)) = (pool6.as_mut(), subnet6.as_deref()) {
                        self.take(pool, &mut owners6, ip6, true, &name, s6);
                        endpoints[i].ipv6 = Some(*ip6.get_ref());
                    } else {
                        self.no_subnet6(ip6.span(), &net.network.name);
                    }
                }
            }
            let lab_only = d
                .peers
                .iter()
                .enumerate()
                .filter(|(_, p)| p.network == n)
                .map(|(i, p)| (Some(i), p.name.clone(), p.ip.as_ref(), p.ip6.as_ref()))
                .chain(
                    d.host
                        .iter()
                        .filter(|h| h.network == n)
                        .map(|h| (None, HOST_NODE.to_string(), h.ip.as_ref(), h.ip6.as_ref())),
                )
                .chain(
                    d.shim
                        .iter()
                        .filter(|s| s.network == n)
                        .map(|s| (None, s.interface.clone(), s.ip.as_ref(), s.ip6.as_ref())),
                )
                .collect::<Vec<_>>();
            for (_, name, ip, ip6) in &lab_only {
                if let Some(ip) = ip {
                    self.take(&mut pool4, &mut owners4, ip, false, name, &subnet4);
                }
                if let Some(ip6) = ip6 {
                    match (pool6.as_mut(), subnet6.as_deref()) {
                        (Some(pool), Some(s6)) => {
                            self.take(pool, &mut owners6, ip6, false, name, s6)
                        }
                        _ => self.no_subnet6(ip6.span(), &net.network.name),
                    }
                }
            }

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
                if e.ip.is_none() {
                    endpoints[i].ipv4 = pool4.next_low().expect("pool size checked");
                }
                if let (None, Some(pool)) = (&e.ip6, pool6.as_mut()) {
                    endpoints[i].ipv6 = Some(pool.next_low().expect("pool size checked"));
                }
            }
            for (peer, name, ip, ip6) in lab_only {
                let ipv4 = match ip {
                    Some(ip) => Some(*ip.get_ref()),
                    None if name == HOST_NODE => None,
                    None => pool4.next_high(),
                };
                let ipv6 = match (ip6, pool6.as_mut()) {
                    (Some(ip6), _) => Some(*ip6.get_ref()),
                    (None, Some(pool)) if name != HOST_NODE => pool.next_high(),
                    _ => None,
                };
                let Some(ipv4) = ipv4 else {
                    if name != HOST_NODE {
                        self.error(
                            net.network.span.clone(),
                            format!(
                                "network `{}` has no free address left for `{name}`",
                                net.network.name
                            ),
                            "widen the subnet, or give the node a fixed `ip`",
                        );
                    }
                    continue;
                };
                let assigned = Assigned { ipv4, ipv6 };
                match peer {
                    Some(i) => peers[i] = assigned,
                    None if name != HOST_NODE => shim = Some(assigned),
                    None => {}
                }
            }
        }
        Addresses {
            endpoints,
            peers,
            shim,
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

/// Address and prefix of a parsed subnet, for both families.
trait SubnetParts<A> {
    fn parts(&self) -> (A, u8);
}

impl SubnetParts<Ipv4Addr> for Ipv4Network {
    fn parts(&self) -> (Ipv4Addr, u8) {
        (self.ip(), self.prefix())
    }
}

impl SubnetParts<Ipv6Addr> for Ipv6Network {
    fn parts(&self) -> (Ipv6Addr, u8) {
        (self.ip(), self.prefix())
    }
}

//! The networks and containers of a `[docker]` scenario, judged as that Docker version would:
//! stage 1 (what `docker network create` refuses before any address is handed out: the mode,
//! options beyond the driver's two, parent interfaces, `ValidateIPAM` from 25.0, an IPv6 network
//! without an IPv6 pool) and stage 2 (the engine's state as every network is created and every
//! container started in file order: pools, gateways, aux addresses, container addresses, and the
//! containers it refuses). Every refusal carries Docker's own words (`scenario::docker`) at the
//! key that causes it, with mvlab's hint; the arithmetic is `ipam::libnetwork`'s.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnetwork::{IpNetwork, Ipv4Network, Ipv6Network};
use toml::Spanned;

use super::addresses::{Refusals, SubnetParts, started};
use super::pools::{Written, WrittenIpam, WrittenPool};
use super::rules::kernel_only_keys;
use super::*;
use crate::scenario::address_map::{AddressMapping, free_lab_block};
use crate::scenario::docker::DockerVersion;
use crate::scenario::ipam::libnetwork::{AddressSpace, Denied, PoolId, folded_range};
use crate::scenario::ipam::{Family, Pool};
use crate::scenario::seeded::docker_ula_prefix;

/// What earlier networks of the file left behind that a later one is judged against.
#[derive(Default)]
pub(super) struct DockerBook {
    /// Each network's parent as Docker knows it, its ID and whether it is passthru.
    parents: Vec<(String, String, bool)>,
    /// IPv6 lab blocks in use (written `subnet6`s and stand-ins for derived ULA /64s).
    pub(super) lab_v6: Vec<IpNetwork>,
    /// ULA /64s handed out so far.
    ula_next: u128,
}

/// The words IPAM's refusal is said in.
fn said(v: DockerVersion, e: Denied) -> &'static str {
    match e {
        Denied::NoneFree => v.pool_full(),
        Denied::InUse => v.in_use(),
        Denied::OutOfRange => v.out_of_range(),
        Denied::Overlap => "",
    }
}

/// A network's pools of one family as the engine made them: the pool and its gateway.
type Made<A> = Vec<(PoolId, Option<A>)>;

/// Who holds an address, for hints.
type Owners<A> = HashMap<A, String>;

/// The masked subnet of a written pool as text.
fn subnet_text<A: Family>(p: &WrittenPool<A>) -> String {
    let (a, len) = p.base();
    format!("{a}/{len}")
}

impl Builder {
    /// Stage 1 for one Docker network (its parent is checked by `docker_parent`).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn docker_network(
        &mut self,
        v: DockerVersion,
        r: &RawNetwork,
        mode: MacvlanMode,
        mode_span: Span,
        written: &mut WrittenIpam,
        network_span: Span,
    ) {
        if mode == MacvlanMode::Source {
            self.error(
                mode_span,
                v.bad_mode(mode.as_str()),
                "Docker's macvlan driver knows bridge, private, vepa and passthru; source mode is the kernel's alone: remove [docker] to keep it",
            );
        }
        let beyond = kernel_only_keys(r).into_iter().chain([(
            "routes",
            r.routes.as_ref().and_then(|l| l.first()).map(|s| s.span()),
        )]);
        for (key, span) in beyond {
            if let Some(span) = span {
                self.error(
                    span,
                    format!("Docker's macvlan driver reads only `parent` and `macvlan_mode`: `{key}` cannot be had through Docker"),
                    format!("remove `{key}`, or remove [docker] to use the kernel's full macvlan vocabulary"),
                );
            }
        }
        let bounds: Vec<Span> = written
            .v4
            .iter()
            .flat_map(|p| [&p.range_start, &p.range_end])
            .flatten()
            .map(|w| w.span.clone())
            .chain(
                written
                    .v6
                    .iter()
                    .flat_map(|p| [&p.range_start, &p.range_end])
                    .flatten()
                    .map(|w| w.span.clone()),
            )
            .collect();
        for span in bounds {
            self.error(
                span,
                "Docker has no range_start/range_end: its ip_range is a CIDR block",
                "write `ip_range`, or use [cni] for host-local's ranges",
            );
        }
        if let Some(off) = written.enable_ipv4.as_ref().filter(|w| !w.value) {
            if !v.can_disable_ipv4() {
                self.error(
                    off.span.clone(),
                    format!("Docker {v} has no `--ipv4=false`: every network has IPv4 (the switch came in 28.0)"),
                    "remove enable_ipv4, or set [docker] version = \"28\" or later",
                );
            } else if !written.ipv6_on() {
                self.error(
                    off.span.clone(),
                    "a network with neither IPv4 nor IPv6 gives its containers no address",
                    "set enable_ipv6 = true, or remove enable_ipv4 = false",
                );
            }
        }
        if v.validates_ipam() {
            // From 26.0 the IPv6 entries of a network without IPv6 are skipped.
            let v6 = written.ipv6_on() || v < DockerVersion::parse("26").expect("a version");
            self.validate_ipam(v, &written.v4);
            if v6 {
                self.validate_ipam(v, &written.v6);
            }
        }
        if written.ipv6_on() && written.v6.is_empty() {
            let at = written
                .enable_ipv6
                .as_ref()
                .map_or(network_span, |w| w.span.clone());
            if v.derives_ula() {
                self.derived_ula(written, at);
            } else {
                self.error(
                    at,
                    v.no_ipv6_pool(),
                    format!("Docker {v} has no IPv6 pool of its own: write subnet6 (from 27.0 Docker derives a ULA /64)"),
                );
            }
        }
    }

    /// `ValidateIPAM`'s problems of each pool, one diagnostic each (Docker lists them together).
    fn validate_ipam<A: Family>(&mut self, v: DockerVersion, pools: &[WrittenPool<A>]) {
        for p in pools {
            let (addr, len) = p.subnet.value;
            let subnet = format!("{addr}/{len}");
            if Pool::base(p.subnet.value) != addr {
                let line = format!("invalid subnet {subnet}: it should be {}", subnet_text(p));
                self.error(
                    p.subnet.span.clone(),
                    v.invalid_config(&line),
                    format!("write {}", subnet_text(p)),
                );
            }
            if let Some(r) = &p.ip_range {
                let (raddr, rlen) = r.value;
                let mut lines = Vec::new();
                if rlen < len {
                    lines.push(format!(
                        "invalid ip-range {}: CIDR block is bigger than its parent subnet {subnet}",
                        r.text
                    ));
                }
                let masked = Pool::base(r.value);
                if masked != raddr {
                    lines.push(format!(
                        "invalid ip-range {raddr}/{rlen}: it should be {masked}/{rlen}"
                    ));
                }
                if !Pool::overlap(p.base(), (masked, rlen)) {
                    lines.push(format!(
                        "invalid ip-range {}: parent subnet {subnet} doesn't contain ip-range",
                        r.text
                    ));
                }
                for line in lines {
                    self.error(
                        r.span.clone(),
                        v.invalid_config(&line),
                        format!("an ip_range is a block inside {}", subnet_text(p)),
                    );
                }
            }
            let inside = |a: A| Pool::nests(p.base(), (a, A::BITS));
            if let Some(g) = p.gateway.as_ref().filter(|g| !inside(g.value)) {
                let line = format!(
                    "invalid gateway {}: parent subnet {subnet} doesn't contain this address",
                    g.text
                );
                self.error(
                    g.span.clone(),
                    v.invalid_config(&line),
                    format!("pick an address inside {}", subnet_text(p)),
                );
            }
            for (name, a) in p.aux.iter().filter(|(_, a)| !inside(a.value)) {
                let line = format!(
                    "invalid auxiliary address {name}: parent subnet {subnet} doesn't contain this address"
                );
                self.error(
                    a.span.clone(),
                    v.invalid_config(&line),
                    format!("pick an address inside {}", subnet_text(p)),
                );
            }
        }
    }

    /// Docker 27+ takes the next /64 of the ULA prefix it derives; the lab stands in a free
    /// /64 of 2001:2::/48 for it, and the mapping says so.
    fn derived_ula(&mut self, written: &mut WrittenIpam, at: Span) {
        let ula = u128::from(docker_ula_prefix(self.seed)) | (self.docker.ula_next << 64);
        self.docker.ula_next += 1;
        let yours = IpNetwork::new(IpAddr::V6(Ipv6Addr::from(ula)), 64).expect("a /64");
        let Some(IpNetwork::V6(lab)) = free_lab_block(yours, &self.docker.lab_v6) else {
            self.error(
                at,
                "no /64 of 2001:2::/48 is left to stand for the IPv6 subnet Docker derives",
                "write subnet6 for some networks",
            );
            return;
        };
        self.docker.lab_v6.push(IpNetwork::V6(lab));
        self.address_map.0.push(AddressMapping {
            yours,
            lab: IpNetwork::V6(lab),
        });
        written.derived_v6 = true;
        written.v6.push(WrittenPool {
            subnet: Written {
                value: (lab.ip(), 64),
                text: lab.to_string(),
                span: at,
            },
            gateway: None,
            ip_range: None,
            aux: Vec::new(),
            range_start: None,
            range_end: None,
        });
    }

    /// The parent rules between networks: one network per parent up to 26, passthru alone
    /// from 27 (Docker's words, at the later network's `parent`).
    pub(super) fn docker_parent(
        &mut self,
        v: DockerVersion,
        link: &str,
        id: &str,
        passthru: bool,
        at: Span,
    ) {
        let earlier = self
            .docker
            .parents
            .iter()
            .find(|(l, ..)| l == link)
            .cloned();
        if let Some((_, other, other_passthru)) = earlier
            && let Some(words) = v.parent_in_use(&other, link, passthru, other_passthru)
        {
            let hint = if v.one_network_per_parent() {
                format!(
                    "Docker {v} allows one macvlan network per parent (27.0 lifted it): give this network another parent or a VLAN (`{link}.VID`)"
                )
            } else {
                "a passthru network needs its parent alone: give one of them another parent or a VLAN".to_string()
            };
            self.error(at, words, hint);
        }
        self.docker
            .parents
            .push((link.to_string(), id.to_string(), passthru));
    }

    /// Creates one family's pools of a network as libnetwork does: each pool, its gateway,
    /// its aux addresses. `None` when Docker refuses the network.
    #[allow(clippy::too_many_arguments)]
    fn create_pools<A: Family + std::hash::Hash>(
        &mut self,
        v: DockerVersion,
        space: &mut AddressSpace<A>,
        pools: &[WrittenPool<A>],
        internal: bool,
        owners: &mut Owners<A>,
        network: &str,
        to_ip: fn(A) -> IpAddr,
    ) -> Option<Made<A>> {
        let mut made = Vec::new();
        for p in pools {
            let range = p.ip_range.as_ref().map(|r| r.value);
            let id = match space.request_pool(
                p.subnet.value,
                range,
                v.reserves_ends_of_tiny_subnets(),
            ) {
                Ok(id) => id,
                Err(_) => {
                    self.error(
                        p.subnet.span.clone(),
                        v.pool_overlap(),
                        format!("{} overlaps a subnet an earlier network uses: give every network its own subnet, or share one subnet by giving each network its own ip_range", subnet_text(p)),
                    );
                    return None;
                }
            };
            let given = p.gateway.as_ref().map(|g| g.value);
            let gateway = if v.allocates_gateway(internal, given.is_some()) {
                match space.request_address(id, given) {
                    Ok(g) => {
                        owners.insert(g, format!("the gateway of `{network}`"));
                        Some(g)
                    }
                    Err(e) => {
                        let at = p
                            .gateway
                            .as_ref()
                            .map_or(p.subnet.span.clone(), |g| g.span.clone());
                        let hint = match e {
                            Denied::NoneFree => format!(
                                "{} has no address left for a gateway under Docker {v}'s rules (before 23.0 a /31 or /32 has none at all): use a larger subnet",
                                subnet_text(p)
                            ),
                            _ => format!(
                                "pick a host address inside {} that nothing else holds",
                                subnet_text(p)
                            ),
                        };
                        self.error(at, v.gateway_failed(given.map(to_ip), said(v, e)), hint);
                        return None;
                    }
                }
            } else {
                None
            };
            for (name, a) in &p.aux {
                if !space.contains(id, a.value) {
                    self.error(
                        a.span.clone(),
                        v.aux_outside(name, to_ip(a.value), &subnet_text(p)),
                        format!("pick an address inside {} (the docker CLI says `no matching subnet for aux-address {}`)", subnet_text(p), a.text),
                    );
                    return None;
                }
                match space.request_address(id, Some(a.value)) {
                    Ok(_) => {
                        owners.insert(a.value, format!("aux address `{name}`"));
                    }
                    Err(e) => {
                        let holder = owners
                            .get(&a.value)
                            .cloned()
                            .unwrap_or_else(|| "the subnet's network or broadcast address".into());
                        self.error(
                            a.span.clone(),
                            v.aux_failed(name, to_ip(a.value), said(v, e)),
                            format!("{} is {holder}: pick another address", a.text),
                        );
                        return None;
                    }
                }
            }
            made.push((id, gateway));
        }
        Some(made)
    }

    /// One family's address for a container: its fixed one, or the first pool with a free
    /// address. `Err` is Docker's refusal and mvlab's hint.
    #[allow(clippy::too_many_arguments)]
    fn container_address<A: Family + std::hash::Hash>(
        &self,
        v: DockerVersion,
        space: &mut AddressSpace<A>,
        made: &Made<A>,
        fixed: Option<A>,
        user_subnet: bool,
        owners: &Owners<A>,
        network: &str,
        id: &str,
        to_ip: fn(A) -> IpAddr,
    ) -> Result<(usize, A), (String, String)> {
        let family = if A::HAS_BROADCAST { "" } else { "6" };
        if let Some(a) = fixed {
            if !user_subnet && !v.static_ip_in_default_pool() {
                return Err((
                    v.no_user_subnet(),
                    format!(
                        "write the network's subnet{family} to give containers fixed addresses"
                    ),
                ));
            }
            let Some(at) = made.iter().position(|(p, _)| space.contains(*p, a)) else {
                return Err((
                    v.not_in_subnets(to_ip(a)),
                    format!("pick an address inside the network's subnet{family}"),
                ));
            };
            return space
                .request_address(made[at].0, Some(a))
                .map(|a| (at, a))
                .map_err(|e| {
                    let holder = owners
                        .get(&a)
                        .cloned()
                        .unwrap_or_else(|| "the subnet's network or broadcast address".into());
                    (
                        said(v, e).to_string(),
                        format!("{a} is {holder}: pick another address, or leave it out to get one from the pool"),
                    )
                });
        }
        for (at, (pool, _)) in made.iter().enumerate() {
            match space.request_address(*pool, None) {
                Ok(a) => return Ok((at, a)),
                Err(Denied::NoneFree) => continue,
                Err(e) => return Err((said(v, e).to_string(), String::new())),
            }
        }
        Err((
            v.no_addresses(!A::HAS_BROADCAST, network, id),
            String::new(),
        ))
    }

    /// Stage 2 with `[docker]`: every network created, then every container started, in file
    /// order; lab-only nodes (peers, the host, the shim) after, from the top of the first
    /// subnet, clear of everything Docker holds.
    pub(super) fn docker_addresses(&mut self, v: DockerVersion, d: &mut Drafts) -> Addresses {
        let mut space4 = AddressSpace::<Ipv4Addr>::default();
        let mut space6 = AddressSpace::<Ipv6Addr>::default();
        let mut owners4: Owners<Ipv4Addr> = HashMap::new();
        let mut owners6: Owners<Ipv6Addr> = HashMap::new();
        let mut made: Vec<Option<(Made<Ipv4Addr>, Made<Ipv6Addr>)>> = Vec::new();
        for draft in d.networks.iter_mut() {
            let net = &mut draft.network;
            let w = draft
                .written
                .as_ref()
                .expect("Docker networks keep what was written");
            let internal = net.internal;
            let pools4 = if w.ipv4_on() {
                w.v4.clone()
            } else {
                Vec::new()
            };
            let pools6 = if w.ipv6_on() {
                w.v6.clone()
            } else {
                Vec::new()
            };
            let four = self.create_pools(
                v,
                &mut space4,
                &pools4,
                internal,
                &mut owners4,
                &net.name,
                IpAddr::V4,
            );
            let six = four.as_ref().and_then(|_| {
                self.create_pools(
                    v,
                    &mut space6,
                    &pools6,
                    internal,
                    &mut owners6,
                    &net.name,
                    IpAddr::V6,
                )
            });
            let (Some(four), Some(six)) = (four, six) else {
                made.push(None);
                continue;
            };
            let ipams4: Vec<_> = pools4
                .iter()
                .zip(&four)
                .map(|(p, (_, g))| ipam_of::<Ipv4Network, Ipv4Addr>(p, *g))
                .collect();
            let ipams6: Vec<_> = pools6
                .iter()
                .zip(&six)
                .map(|(p, (_, g))| ipam_of::<Ipv6Network, Ipv6Addr>(p, *g))
                .collect();
            if let Some((first, more)) = ipams4.split_first() {
                net.ipv4 = first.clone();
                net.more_ipv4 = more.to_vec();
            }
            net.ipv6 = ipams6.first().cloned();
            net.more_ipv6 = ipams6.iter().skip(1).cloned().collect();
            made.push(Some((four, six)));
        }
        let mut out = Addresses::unassigned(d);
        let mut refusals = Refusals::default();
        let mut started: Vec<Vec<String>> = vec![Vec::new(); d.networks.len()];
        let mut by_address: HashMap<Ipv4Addr, (String, usize)> = HashMap::new();
        for (i, e) in d.endpoints.iter_mut().enumerate() {
            let n = e.network;
            let Some((four, six)) = &made[n] else {
                continue;
            };
            let draft = &d.networks[n];
            let w = draft
                .written
                .as_ref()
                .expect("Docker networks keep what was written");
            let (name, id) = (
                draft.network.name.clone(),
                draft
                    .network
                    .docker
                    .as_ref()
                    .map_or(String::new(), |dn| dn.id.clone()),
            );
            let me = e.name.clone().unwrap_or_default();
            let at = |s: Option<&Spanned<Ipv4Addr>>| s.map_or(e.span.clone(), |s| s.span());
            if draft.network.mode == MacvlanMode::Passthru && !started[n].is_empty() {
                self.error(e.span.clone(), v.passthru_taken(), format!("a passthru network's parent carries one container: `{}` already runs on `{name}`", started[n][0]));
                continue;
            }
            let mut ipv4 = None;
            if w.ipv4_on() {
                let fixed = e.ip.as_ref().map(|ip| *ip.get_ref());
                match self.container_address(
                    v,
                    &mut space4,
                    four,
                    fixed,
                    !w.default_v4,
                    &owners4,
                    &name,
                    &id,
                    IpAddr::V4,
                ) {
                    Ok((pool, a)) => ipv4 = Some((pool, a)),
                    Err((words, hint)) => {
                        let (begun, fix) = refusal_hint(hint, &started[n], &name);
                        refusals.push(at(e.ip.as_ref()), words, begun, fix, &me);
                        continue;
                    }
                }
            } else if let Some(ip) = &e.ip {
                self.error(ip.span(), v.no_user_subnet(), format!("network `{name}` has enable_ipv4 = false: its containers get no IPv4 address"));
                continue;
            }
            let mut ipv6 = None;
            if !six.is_empty() {
                let fixed = e.ip6.as_ref().map(|ip| *ip.get_ref());
                match self.container_address(
                    v,
                    &mut space6,
                    six,
                    fixed,
                    !w.derived_v6,
                    &owners6,
                    &name,
                    &id,
                    IpAddr::V6,
                ) {
                    Ok((pool, a)) => ipv6 = Some((pool, a)),
                    Err((words, hint)) => {
                        if let Some((pool, a)) = ipv4 {
                            space4.release(four[pool].0, a);
                        }
                        let (begun, fix) = refusal_hint(hint, &started[n], &name);
                        let span = e.ip6.as_ref().map_or(e.span.clone(), |s| s.span());
                        refusals.push(span, words, begun, fix, &me);
                        continue;
                    }
                }
            } else if let Some(ip6) = &e.ip6 {
                let words = if v.static_ip_in_default_pool() {
                    v.not_in_subnets(IpAddr::V6(*ip6.get_ref()))
                } else {
                    v.no_user_subnet()
                };
                self.error(
                    ip6.span(),
                    words,
                    format!("network `{name}` has no IPv6: set enable_ipv6 = true and subnet6"),
                );
                continue;
            }
            if let Some((_, a)) = ipv4 {
                owners4.insert(a, format!("container `{me}`"));
                if let Some((other, on)) = by_address.get(&a).filter(|(_, on)| *on != n) {
                    let other_net = d.networks[*on].network.name.clone();
                    self.error(e.span.clone(), format!("Docker gives {a} to `{other}` on `{other_net}` and to `{me}` on `{name}`: a subnet with an ip_range that overlaps another network's subnet gets an address bitmap of its own (moby issue 46756)"), "give the networks disjoint subnets, or split one subnet between them by ip_range");
                }
                by_address.insert(a, (me.clone(), n));
            }
            if let Some((_, a)) = ipv6 {
                owners6.insert(a, format!("container `{me}`"));
            }
            let internal = draft.network.internal;
            let slot = &mut out.endpoints[i];
            slot.ipv4 = ipv4.map(|(_, a)| a);
            slot.ipv6 = ipv6.map(|(_, a)| a);
            slot.gateway4 = ipv4
                .and_then(|(pool, _)| four[pool].1)
                .filter(|_| !internal);
            slot.gateway6 = ipv6.and_then(|(pool, _)| six[pool].1).filter(|_| !internal);
            if e.mac.is_none()
                && !v.random_macs()
                && let Some((_, a)) = ipv4
            {
                let o = a.octets();
                e.mac = Some(Spanned::new(
                    e.span.clone(),
                    MacAddr([0x02, 0x42, o[0], o[1], o[2], o[3]]),
                ));
            }
            started[n].push(me);
        }
        refusals.report(self);
        self.lab_only_addresses(d, &mut out, &owners4, &owners6);
        out
    }
}

/// mvlab's hint beside Docker's refusal of a container, as (what started, the fix): a pool
/// that ran dry says which containers of the network start.
fn refusal_hint(hint: String, begun: &[String], network: &str) -> (String, String) {
    if !hint.is_empty() {
        return (String::new(), hint);
    }
    (
        started("Docker", network, begun),
        "widen the subnet or ip_range, or ask for fewer containers".into(),
    )
}

/// A network's typed pool from a pool as written and the gateway the engine gave it.
fn ipam_of<N, A>(p: &WrittenPool<A>, gateway: Option<A>) -> Ipam<N, A>
where
    A: Family,
    N: SubnetParts<A>,
{
    let subnet = p.base();
    let range = p
        .ip_range
        .as_ref()
        .map_or(subnet, |r| folded_range(subnet, r.value));
    Ipam {
        subnet: N::from_parts(subnet),
        gateway,
        ip_range: N::from_parts(range),
        aux_addresses: p.aux.iter().map(|(n, a)| (n.clone(), a.value)).collect(),
        range_start: None,
        range_end: None,
    }
}

//! A settled scenario's network as its engine would go on from it: where the next containers'
//! addresses come from once every endpoint (and, for a lab, every peer, the host and the shim)
//! holds its own. The exhaustion tests ask it how many are left (`ip_exhaustion`) and for the
//! addresses of the endpoints a ramp adds (`endpoint_ramp`), under the scenario's rules: mvlab's
//! pools, Docker's address space rebuilt network by network, or CNI's range sets replayed.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::host_local::RangeSet;
use super::libnetwork::{AddressSpace, PoolId};
use super::{Family, Pool, Subnet};
use crate::scenario::{Ipam, Rules, Scenario};

/// One more container's addresses and the next hops of its default routes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(in crate::scenario) struct Next {
    pub ipv4: Option<Ipv4Addr>,
    pub ipv6: Option<Ipv6Addr>,
    pub gateway4: Option<Ipv4Addr>,
    pub gateway6: Option<Ipv6Addr>,
}

/// Docker's pools of one family of the network: the space and each pool with its gateway.
type Pools<A> = (AddressSpace<A>, Vec<(PoolId, Option<A>)>);

#[derive(Debug, Clone)]
enum Engine {
    Mvlab {
        v4: Pool<Ipv4Addr>,
        v6: Option<Pool<Ipv6Addr>>,
    },
    Docker {
        v4: Option<Pools<Ipv4Addr>>,
        v6: Option<Pools<Ipv6Addr>>,
    },
    Cni {
        v4: Option<RangeSet<Ipv4Addr>>,
        v6: Option<RangeSet<Ipv6Addr>>,
    },
}

/// Where network `n` of a settled scenario hands out its next addresses.
#[derive(Debug, Clone)]
pub(in crate::scenario) struct Continuation {
    engine: Engine,
    internal: bool,
    gateway4: Option<Ipv4Addr>,
    gateway6: Option<Ipv6Addr>,
}

/// The addresses every node of network `n` holds: endpoints, then (with `lab_nodes`) peers, the
/// host's own addresses and the shim.
fn held(s: &Scenario, n: usize, lab_nodes: bool) -> Vec<(Option<Ipv4Addr>, Option<Ipv6Addr>)> {
    let endpoints = s.endpoints.iter().filter(|e| e.network == n);
    let mut out: Vec<_> = endpoints.map(|e| (e.ipv4, e.ipv6)).collect();
    if lab_nodes {
        let peers = s.peers.iter().filter(|p| p.network == n);
        let host = s.host.addresses.iter().filter(|h| h.network == n);
        let shim = s.host.shim.iter().filter(|sh| sh.network == n);
        out.extend(peers.map(|p| (Some(p.ipv4), p.ipv6)));
        out.extend(host.map(|h| (h.ipv4, h.ipv6)));
        out.extend(shim.map(|sh| (Some(sh.ipv4), sh.ipv6)));
    }
    out
}

/// Takes every held address from `pool`. An address the scenario already holds twice was
/// refused at its own line, so a second take's refusal is expected and ignored.
fn take_held<A: Family>(mut pool: Pool<A>, held: impl Iterator<Item = A>) -> Pool<A> {
    for ip in held {
        let _ = pool.take(ip, false);
    }
    pool
}

/// Docker's pools of one family for every network, restored in file order with their
/// gateways, aux addresses and held addresses; the pools of network `n` returned.
fn docker_family<N, A>(
    s: &Scenario,
    n: usize,
    tiny: bool,
    pools_of: impl Fn(usize) -> Vec<Ipam<N, A>>,
    held_of: impl Fn(usize) -> Vec<A>,
) -> Pools<A>
where
    N: Subnet<A>,
    A: Family,
{
    let mut space = AddressSpace::default();
    let mut mine = Vec::new();
    for m in 0..s.networks.len() {
        let made: Vec<(PoolId, Option<A>)> = pools_of(m)
            .iter()
            .map(|p| {
                let id = space.restore_pool(p.subnet.base(), p.ip_range.base(), tiny);
                for a in p.gateway.iter().chain(p.aux_addresses.values()) {
                    let _ = space.request_address(id, Some(*a));
                }
                (id, p.gateway)
            })
            .collect();
        for a in held_of(m) {
            if let Some((id, _)) = made.iter().find(|(id, _)| space.contains(*id, a)) {
                let _ = space.request_address(*id, Some(a));
            }
        }
        if m == n {
            mine = made;
        }
    }
    (space, mine)
}

/// A range set of one family rebuilt from the network's pools, with the held addresses
/// replayed in order (which also puts the round-robin cursor where the last ADD left it) and
/// the lab's own taken without moving it.
fn cni_family<N, A>(pools: &[&Ipam<N, A>], held: &[A], lab: &[A]) -> Option<RangeSet<A>>
where
    N: Subnet<A>,
    A: Family,
{
    let mut set = RangeSet::new();
    for p in pools {
        set.push(p.subnet.base(), p.gateway, p.range_start, p.range_end)
            .ok()?;
    }
    for a in held {
        let _ = set.get(Some(*a));
    }
    for a in lab {
        set.hold(*a);
    }
    Some(set)
}

impl Continuation {
    /// Network `n` of `s` as its engine would go on. With `lab_nodes` the peers', the host's and
    /// the shim's addresses count as taken too (a lab holds them; Docker and CNI do not know).
    pub fn of(s: &Scenario, n: usize, lab_nodes: bool) -> Continuation {
        let net = &s.networks[n];
        let engine = match s.rules {
            Rules::Mvlab => Engine::Mvlab {
                v4: take_held(
                    net.ipv4.pool(),
                    held(s, n, true).into_iter().filter_map(|(v4, _)| v4),
                ),
                v6: net.ipv6.as_ref().map(|v6| {
                    take_held(
                        v6.pool(),
                        held(s, n, true).into_iter().filter_map(|(_, a)| a),
                    )
                }),
            },
            Rules::Docker { version } => {
                let tiny = version.reserves_ends_of_tiny_subnets();
                let ipv4_on =
                    |m: usize| s.networks[m].docker.as_ref().is_none_or(|d| d.enable_ipv4);
                let v4 = ipv4_on(n).then(|| {
                    docker_family(
                        s,
                        n,
                        tiny,
                        |m| {
                            let net = &s.networks[m];
                            if ipv4_on(m) {
                                std::iter::once(net.ipv4.clone())
                                    .chain(net.more_ipv4.clone())
                                    .collect()
                            } else {
                                Vec::new()
                            }
                        },
                        |m| {
                            held(s, m, lab_nodes)
                                .into_iter()
                                .filter_map(|(a, _)| a)
                                .collect()
                        },
                    )
                });
                let v6 = net.ipv6.as_ref().map(|_| {
                    docker_family(
                        s,
                        n,
                        tiny,
                        |m| {
                            let net = &s.networks[m];
                            net.ipv6
                                .iter()
                                .cloned()
                                .chain(net.more_ipv6.clone())
                                .collect()
                        },
                        |m| {
                            held(s, m, lab_nodes)
                                .into_iter()
                                .filter_map(|(_, a)| a)
                                .collect()
                        },
                    )
                });
                Engine::Docker { v4, v6 }
            }
            Rules::Cni => {
                let endpoints = held(s, n, false);
                let lab: Vec<_> = held(s, n, lab_nodes).split_off(endpoints.len());
                let v4_pools: Vec<_> = std::iter::once(&net.ipv4).chain(&net.more_ipv4).collect();
                let v6_pools: Vec<_> = net.ipv6.iter().chain(&net.more_ipv6).collect();
                let has_v4 = s
                    .endpoints
                    .iter()
                    .any(|e| e.network == n && e.ipv4.is_some())
                    || net.ipv4.range_start.is_some();
                Engine::Cni {
                    v4: has_v4
                        .then(|| {
                            let held: Vec<_> = endpoints.iter().filter_map(|(a, _)| *a).collect();
                            let lab: Vec<_> = lab.iter().filter_map(|(a, _)| *a).collect();
                            cni_family(&v4_pools, &held, &lab)
                        })
                        .flatten(),
                    v6: (!v6_pools.is_empty())
                        .then(|| {
                            let held: Vec<_> = endpoints.iter().filter_map(|(_, a)| *a).collect();
                            let lab: Vec<_> = lab.iter().filter_map(|(_, a)| *a).collect();
                            cni_family(&v6_pools, &held, &lab)
                        })
                        .flatten(),
                }
            }
        };
        Continuation {
            engine,
            internal: net.internal,
            gateway4: net.ipv4.gateway,
            gateway6: net.ipv6.as_ref().and_then(|v| v.gateway),
        }
    }

    /// Addresses left for further containers (IPv4's, or IPv6's on a network without IPv4).
    pub fn available(&self) -> u128 {
        match &self.engine {
            Engine::Mvlab { v4, .. } => v4.available(),
            Engine::Docker {
                v4: Some((space, pools)),
                ..
            } => pools.iter().map(|(id, _)| space.available(*id)).sum(),
            Engine::Docker {
                v6: Some((space, pools)),
                ..
            } => pools.iter().map(|(id, _)| space.available(*id)).sum(),
            Engine::Docker { .. } => 0,
            Engine::Cni { v4: Some(set), .. } => set.available(),
            Engine::Cni { v6: Some(set), .. } => set.available(),
            Engine::Cni { .. } => 0,
        }
    }

    /// The next container's addresses; `None` when a family's pools are full.
    pub fn next(&mut self) -> Option<Next> {
        let route = !self.internal;
        let next = match &mut self.engine {
            Engine::Mvlab { v4, v6 } => Next {
                ipv4: Some(v4.next_low()?),
                ipv6: match v6 {
                    Some(pool) => Some(pool.next_low()?),
                    None => None,
                },
                gateway4: self.gateway4,
                gateway6: v6.as_ref().and(self.gateway6),
            },
            Engine::Docker { v4, v6 } => {
                let four = match v4 {
                    Some(p) => Some(docker_next(p)?),
                    None => None,
                };
                let six = match v6 {
                    Some(p) => Some(docker_next(p)?),
                    None => None,
                };
                Next {
                    ipv4: four.map(|f| f.0),
                    ipv6: six.map(|f| f.0),
                    gateway4: four.and_then(|f| f.1).filter(|_| route),
                    gateway6: six.and_then(|f| f.1).filter(|_| route),
                }
            }
            Engine::Cni { v4, v6 } => {
                let four = match v4 {
                    Some(set) => Some(set.get(None).ok()?),
                    None => None,
                };
                let six = match v6 {
                    Some(set) => Some(set.get(None).ok()?),
                    None => None,
                };
                Next {
                    ipv4: four.map(|l| l.address),
                    ipv6: six.map(|l| l.address),
                    gateway4: four.map(|l| l.gateway).filter(|_| route),
                    gateway6: six.map(|l| l.gateway).filter(|_| route),
                }
            }
        };
        Some(next)
    }
}

/// The first pool with a free address, as Docker tries them.
fn docker_next<A: Family>(pools: &mut Pools<A>) -> Option<(A, Option<A>)> {
    let (space, made) = pools;
    made.iter()
        .find_map(|(id, gw)| space.request_address(*id, None).ok().map(|a| (a, *gw)))
}

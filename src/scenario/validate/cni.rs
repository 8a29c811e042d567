//! The networks and containers of a `[cni]` scenario, judged as CNI's macvlan plugin with
//! host-local IPAM would: stage 1 (what the netconf cannot say, and the ranges the plugin refuses
//! to build) and stage 2 (one `CNI_COMMAND=ADD` per container in file order, each network with
//! a fresh data directory of its own). Refusals carry the plugin's words (`scenario::cni`); the
//! arithmetic is `ipam::host_local`'s.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnetwork::{IpNetwork, Ipv4Network, Ipv6Network};

use super::addresses::{Refusals, SubnetParts, started};
use super::pools::{WrittenIpam, WrittenPool};
use super::rules::kernel_only_keys;
use super::*;
use crate::scenario::cni;
use crate::scenario::ipam::Family;
use crate::scenario::ipam::host_local::{Lease, RangeSet, Refused};

/// One network's range sets as the plugin built them (IPv4 first when there is one), with
/// their index in the netconf's `ranges`.
struct Sets {
    v4: Option<(usize, RangeSet<Ipv4Addr>)>,
    v6: Option<(usize, RangeSet<Ipv6Addr>)>,
}

impl Builder {
    /// Stage 1 for one CNI network.
    pub(super) fn cni_network(
        &mut self,
        r: &RawNetwork,
        mode: MacvlanMode,
        mode_span: Span,
        written: &WrittenIpam,
    ) {
        if mode == MacvlanMode::Source {
            self.error(
                mode_span,
                cni::bad_mode(mode.as_str()),
                "CNI's macvlan plugin knows bridge, private, vepa and passthru; remove [cni] to keep source mode",
            );
        }
        let beyond = kernel_only_keys(r).into_iter().chain([
            ("internal", r.internal.as_ref().map(|s| s.span())),
            ("enable_ipv4", r.enable_ipv4.as_ref().map(|s| s.span())),
            ("enable_ipv6", r.enable_ipv6.as_ref().map(|s| s.span())),
        ]);
        for (key, span) in beyond {
            if let Some(span) = span {
                self.error(
                    span,
                    format!("a CNI macvlan netconf has no `{key}`"),
                    format!("remove `{key}`: with [cni] a network has the families its ranges give it and a default route only through `routes`"),
                );
            }
        }
        let docker_only = written
            .v4
            .iter()
            .map(|p| {
                (
                    p.ip_range.as_ref().map(|w| w.span.clone()),
                    p.aux.first().map(|a| a.1.span.clone()),
                )
            })
            .chain(written.v6.iter().map(|p| {
                (
                    p.ip_range.as_ref().map(|w| w.span.clone()),
                    p.aux.first().map(|a| a.1.span.clone()),
                )
            }))
            .collect::<Vec<_>>();
        for (range, aux) in docker_only {
            if let Some(span) = range {
                self.error(
                    span,
                    "host-local has no ip_range",
                    "write range_start and range_end",
                );
            }
            if let Some(span) = aux {
                self.error(
                    span,
                    "host-local has no aux addresses",
                    "narrow the range with range_start/range_end instead",
                );
            }
        }
        for route in &written.routes {
            if route.value.prefix() != 0 {
                self.error(
                    route.span.clone(),
                    format!("mvlab models only default routes, not {}", route.text),
                    "write 0.0.0.0/0 or ::/0, or leave the route out",
                );
            }
        }
        let mut index = 0;
        if !written.default_v4 {
            self.range_set(&written.v4, index);
            index += 1;
        }
        self.range_set(&written.v6, index);
    }

    /// Builds one range set (to report the plugin's refusals); `None` when it refuses.
    fn range_set<A: Family>(
        &mut self,
        pools: &[WrittenPool<A>],
        index: usize,
    ) -> Option<RangeSet<A>> {
        let mut set = RangeSet::new();
        let mut ok = true;
        for p in pools {
            let (a, len) = p.subnet.value;
            let pushed = set.push(
                p.subnet.value,
                p.gateway.as_ref().map(|g| g.value),
                p.range_start.as_ref().map(|w| w.value),
                p.range_end.as_ref().map(|w| w.value),
            );
            if let Err(problem) = pushed {
                self.error(
                    p.subnet.span.clone(),
                    cni::bad_range(index, &problem, &format!("{a}/{len}"), len),
                    "host-local needs a subnet without host bits, of at most /30 (/126), with range_start and range_end inside it",
                );
                ok = false;
            }
        }
        (ok && !pools.is_empty()).then_some(set)
    }

    #[allow(clippy::too_many_arguments)]
    fn lease<A: Family>(
        &mut self,
        set: &mut Option<(usize, RangeSet<A>)>,
        fixed: Option<(A, Span)>,
        at: Span,
        network: &str,
        begun: &[String],
        refusals: &mut Refusals,
        me: &str,
        to_ip: fn(A) -> IpAddr,
    ) -> Result<Option<Lease<A>>, ()> {
        let Some((index, set)) = set else {
            if let Some((a, span)) = fixed {
                refusals.push(
                    span,
                    cni::refused(0, Refused::NotInSet, Some(to_ip(a)), ""),
                    String::new(),
                    format!("network `{network}` has no range of this family"),
                    me,
                );
                return Err(());
            }
            return Ok(None);
        };
        match set.get(fixed.as_ref().map(|(a, _)| *a)) {
            Ok(l) => Ok(Some(l)),
            Err(why) => {
                let (begun, fix) = match why {
                    Refused::Exhausted => (
                        started("the plugin", network, begun),
                        "widen the range, or ask for fewer containers".to_string(),
                    ),
                    _ => (
                        String::new(),
                        "pick another address of the range, or leave it out".to_string(),
                    ),
                };
                let requested = fixed_ip(&fixed, to_ip);
                let span = fixed.map_or(at, |(_, s)| s);
                refusals.push(
                    span,
                    cni::refused(*index, why, requested, &set.describe()),
                    begun,
                    fix,
                    me,
                );
                Err(())
            }
        }
    }

    /// Stage 2 with `[cni]`: an ADD per container, in file order.
    pub(super) fn cni_addresses(&mut self, d: &mut Drafts) -> Addresses {
        let mut sets: Vec<Sets> = Vec::new();
        for draft in d.networks.iter_mut() {
            let w = draft
                .written
                .clone()
                .expect("CNI networks keep what was written");
            let mut index = 0;
            let v4 = (!w.default_v4).then(|| {
                let set = self.range_set(&w.v4, index);
                index += 1;
                set.map(|s| (index - 1, s))
            });
            let v6 = self.range_set(&w.v6, index).map(|s| (index, s));
            let net = &mut draft.network;
            let ipams4: Vec<Ipam<Ipv4Network, Ipv4Addr>> = w.v4.iter().map(ipam_of).collect();
            let ipams6: Vec<Ipam<Ipv6Network, Ipv6Addr>> = w.v6.iter().map(ipam_of).collect();
            if let Some((first, more)) = ipams4.split_first() {
                net.ipv4 = first.clone();
                net.more_ipv4 = more.to_vec();
            }
            net.ipv6 = ipams6.first().cloned();
            net.more_ipv6 = ipams6.iter().skip(1).cloned().collect();
            sets.push(Sets {
                v4: v4.flatten(),
                v6,
            });
        }
        let mut out = Addresses::unassigned(d);
        let mut owners4: HashMap<Ipv4Addr, String> = HashMap::new();
        let mut owners6: HashMap<Ipv6Addr, String> = HashMap::new();
        let mut begun: Vec<Vec<String>> = vec![Vec::new(); d.networks.len()];
        let mut refusals = Refusals::default();
        for (i, e) in d.endpoints.iter().enumerate() {
            let n = e.network;
            let draft = &d.networks[n];
            let w = draft
                .written
                .as_ref()
                .expect("CNI networks keep what was written");
            let name = draft.network.name.clone();
            let me = e.name.clone().unwrap_or_default();
            let fixed4 = e.ip.as_ref().map(|ip| (*ip.get_ref(), ip.span()));
            let fixed6 = e.ip6.as_ref().map(|ip| (*ip.get_ref(), ip.span()));
            let Ok(v4) = self.lease(
                &mut sets[n].v4,
                fixed4,
                e.span.clone(),
                &name,
                &begun[n],
                &mut refusals,
                &me,
                IpAddr::V4,
            ) else {
                continue;
            };
            let Ok(v6) = self.lease(
                &mut sets[n].v6,
                fixed6,
                e.span.clone(),
                &name,
                &begun[n],
                &mut refusals,
                &me,
                IpAddr::V6,
            ) else {
                if let (Some(l), Some((_, set))) = (v4, sets[n].v4.as_mut()) {
                    set.release(l.address);
                }
                continue;
            };
            let route4 = w.routes.iter().any(|r| matches!(r.value, IpNetwork::V4(_)));
            let route6 = w.routes.iter().any(|r| matches!(r.value, IpNetwork::V6(_)));
            let slot = &mut out.endpoints[i];
            slot.ipv4 = v4.map(|l| l.address);
            slot.ipv6 = v6.map(|l| l.address);
            slot.gateway4 = v4.filter(|_| route4).map(|l| l.gateway);
            slot.gateway6 = v6.filter(|_| route6).map(|l| l.gateway);
            if let Some(l) = v4 {
                owners4.insert(l.address, format!("container `{me}`"));
            }
            if let Some(l) = v6 {
                owners6.insert(l.address, format!("container `{me}`"));
            }
            begun[n].push(me);
        }
        refusals.report(self);
        self.lab_only_addresses(d, &mut out, &owners4, &owners6);
        out
    }
}

fn fixed_ip<A: Copy>(fixed: &Option<(A, Span)>, to_ip: fn(A) -> IpAddr) -> Option<IpAddr> {
    fixed.as_ref().map(|(a, _)| to_ip(*a))
}

/// A network's typed pool from a range as written: host-local's gateway and bounds, filled in
/// as the plugin does.
fn ipam_of<N, A>(p: &WrittenPool<A>) -> Ipam<N, A>
where
    A: Family,
    N: SubnetParts<A>,
{
    let mut set = RangeSet::new();
    let filled = set
        .push(
            p.subnet.value,
            p.gateway.as_ref().map(|g| g.value),
            p.range_start.as_ref().map(|w| w.value),
            p.range_end.as_ref().map(|w| w.value),
        )
        .ok()
        .and_then(|()| set.bounds(0));
    let subnet = p.base();
    Ipam {
        subnet: N::from_parts(subnet),
        gateway: filled.map(|f| f.2),
        ip_range: N::from_parts(subnet),
        aux_addresses: Default::default(),
        range_start: filled.map(|f| f.0),
        range_end: filled.map(|f| f.1),
    }
}

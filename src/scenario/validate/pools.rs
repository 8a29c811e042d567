//! Stage 1 for the networks of a `[docker]` or `[cni]` scenario: every address pool as written
//! (`subnet`, `gateway`, `ip_range`, `aux_addresses` and CNI's `range_start`/`range_end`, their
//! `…6` twins, and each `[[networks.subnets]]` entry), parsed and located, its subnet inside
//! the benchmarking ranges. Nothing is decided here: host bits, ranges outside their subnet,
//! gateways on reserved addresses are the engine's to judge (`docker`, `cni`), in its words.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use ipnetwork::{IpNetwork, Ipv4Network, Ipv6Network};

use super::addresses::{SubnetParts, default_subnet};
use super::*;
use crate::addr::{LAB_NET4, LAB_NET6};
use crate::scenario::ipam::{Family, Pool};

/// A value as written: parsed, with its text and place.
#[derive(Debug, Clone)]
pub(super) struct Written<T> {
    pub value: T,
    pub text: String,
    pub span: Span,
}

/// One pool as written.
#[derive(Debug, Clone)]
pub(super) struct WrittenPool<A> {
    /// The subnet with any host bits it was written with.
    pub subnet: Written<(A, u8)>,
    pub gateway: Option<Written<A>>,
    pub ip_range: Option<Written<(A, u8)>>,
    pub aux: Vec<(String, Written<A>)>,
    pub range_start: Option<Written<A>>,
    pub range_end: Option<Written<A>>,
}

impl<A: Family> WrittenPool<A> {
    /// The subnet's network address and prefix (host bits dropped).
    pub fn base(&self) -> (A, u8) {
        (Pool::base(self.subnet.value), self.subnet.value.1)
    }
}

/// A network's pools of both families as written, and its address switches.
#[derive(Debug, Clone)]
pub(super) struct WrittenIpam {
    pub v4: Vec<WrittenPool<Ipv4Addr>>,
    pub v6: Vec<WrittenPool<Ipv6Addr>>,
    /// No IPv4 subnet was written: mvlab's default subnet stands for the one the engine would
    /// pick from its default pools.
    pub default_v4: bool,
    pub enable_ipv4: Option<Written<bool>>,
    pub enable_ipv6: Option<Written<bool>>,
    pub internal: Option<Written<bool>>,
    /// CNI's `routes`: destinations reached through the range's gateway.
    pub routes: Vec<Written<IpNetwork>>,
    /// The IPv6 pool is mvlab's stand-in for the ULA /64 a Docker engine derives.
    pub derived_v6: bool,
}

impl WrittenIpam {
    pub fn ipv4_on(&self) -> bool {
        self.enable_ipv4.as_ref().is_none_or(|w| w.value)
    }

    /// IPv6 is on when asked for, or by default when an IPv6 subnet is written.
    pub fn ipv6_on(&self) -> bool {
        self.enable_ipv6
            .as_ref()
            .map_or(!self.v6.is_empty(), |w| w.value)
    }
}

fn written<T>(value: T, raw: &SpannedStr) -> Written<T> {
    Written {
        value,
        text: raw.get_ref().clone(),
        span: raw.span(),
    }
}

impl Builder {
    /// A subnet as written (host bits allowed), inside the benchmarking range.
    fn written_subnet<A, N>(
        &mut self,
        raw: &SpannedStr,
        lab: (A, u8),
        family: &str,
    ) -> Option<Written<(A, u8)>>
    where
        A: Family,
        N: FromStr + SubnetParts<A>,
    {
        let (addr, prefix) = self.parse_subnet::<A, N>(raw, lab, family)?;
        if !Pool::nests(lab, (addr, prefix)) {
            self.error(
                raw.span(),
                format!("{} is outside the benchmarking range {}/{}", raw.get_ref(), lab.0, lab.1),
                format!(
                    "lab addresses come from {}/{} and {}/{}; `mvlab import` maps a network of yours into them and records the mapping under [[address_map]]",
                    LAB_NET4.0, LAB_NET4.1, LAB_NET6.0, LAB_NET6.1
                ),
            );
            return None;
        }
        Some(written((addr, prefix), raw))
    }

    fn written_addr<A: FromStr>(
        &mut self,
        raw: Option<&SpannedStr>,
        family: &str,
        example: &str,
    ) -> Option<Written<A>> {
        let raw = raw?;
        let a = self.parse_addr::<A>(Some(raw), family, example)?;
        Some(written(a.into_inner(), raw))
    }

    #[allow(clippy::too_many_arguments)]
    fn written_pool<A, N>(
        &mut self,
        subnet: &SpannedStr,
        gateway: Option<&SpannedStr>,
        ip_range: Option<&SpannedStr>,
        aux: Option<&BTreeMap<String, SpannedStr>>,
        range_start: Option<&SpannedStr>,
        range_end: Option<&SpannedStr>,
        lab: (A, u8),
        family: &str,
        example: &str,
    ) -> Option<WrittenPool<A>>
    where
        A: Family + FromStr,
        N: FromStr + SubnetParts<A>,
    {
        let subnet = self.written_subnet::<A, N>(subnet, lab, family);
        let gateway = self.written_addr::<A>(gateway, family, example);
        let ip_range = match ip_range {
            Some(raw) => match raw.get_ref().parse::<N>() {
                Ok(n) => Some(written(n.parts(), raw)),
                Err(_) => {
                    self.error(
                        raw.span(),
                        format!("`{}` is not an {family} block", raw.get_ref()),
                        "write it as address/prefix, inside the subnet",
                    );
                    None
                }
            },
            None => None,
        };
        let aux = aux
            .into_iter()
            .flatten()
            .filter_map(|(name, raw)| {
                self.written_addr::<A>(Some(raw), family, example)
                    .map(|a| (name.clone(), a))
            })
            .collect();
        let range_start = self.written_addr::<A>(range_start, family, example);
        let range_end = self.written_addr::<A>(range_end, family, example);
        Some(WrittenPool {
            subnet: subnet?,
            gateway,
            ip_range,
            aux,
            range_start,
            range_end,
        })
    }

    /// An error at each of `keys` written without the `subnet` key it belongs to.
    fn orphans(&mut self, keys: [(&str, &Option<SpannedStr>); 4], subnet: &str, hint: &str) {
        for (key, v) in keys {
            if let Some(v) = v {
                self.error(v.span(), format!("`{key}` needs `{subnet}`"), hint);
            }
        }
    }

    /// Every pool of a Docker or CNI network as written. `index` picks the default IPv4 subnet
    /// when none is written.
    pub(super) fn written_ipam(&mut self, r: &RawNetwork, index: usize) -> WrittenIpam {
        let mut v4 = Vec::new();
        let mut v6 = Vec::new();
        let default_v4 = r.subnet.is_none();
        if let Some(subnet) = &r.subnet {
            v4.extend(self.written_pool::<Ipv4Addr, Ipv4Network>(
                subnet,
                r.gateway.as_ref(),
                r.ip_range.as_ref(),
                r.aux_addresses.as_ref(),
                r.range_start.as_ref(),
                r.range_end.as_ref(),
                LAB_NET4,
                "IPv4",
                "198.18.0.10",
            ));
        } else {
            self.orphans(
                [
                    ("gateway", &r.gateway),
                    ("ip_range", &r.ip_range),
                    ("range_start", &r.range_start),
                    ("range_end", &r.range_end),
                ],
                "subnet",
                "write the network's subnet, e.g. subnet = \"198.18.5.0/24\"",
            );
            let subnet = default_subnet(index);
            v4.push(WrittenPool {
                subnet: Written {
                    value: subnet,
                    text: format!("{}/{}", subnet.0, subnet.1),
                    span: r.name.as_ref().map_or(0..0, |n| n.span()),
                },
                gateway: None,
                ip_range: None,
                aux: Vec::new(),
                range_start: None,
                range_end: None,
            });
        }
        if let Some(subnet) = &r.subnet6 {
            v6.extend(self.written_pool::<Ipv6Addr, Ipv6Network>(
                subnet,
                r.gateway6.as_ref(),
                r.ip_range6.as_ref(),
                r.aux_addresses6.as_ref(),
                r.range_start6.as_ref(),
                r.range_end6.as_ref(),
                LAB_NET6,
                "IPv6",
                "2001:2::10",
            ));
        } else {
            self.orphans(
                [
                    ("gateway6", &r.gateway6),
                    ("ip_range6", &r.ip_range6),
                    ("range_start6", &r.range_start6),
                    ("range_end6", &r.range_end6),
                ],
                "subnet6",
                "add subnet6 = \"2001:2:0:N::/64\" or remove this key",
            );
        }
        for extra in r.subnets.iter().flatten() {
            let p = extra.get_ref();
            if p.subnet.get_ref().contains(':') {
                v6.extend(self.written_pool::<Ipv6Addr, Ipv6Network>(
                    &p.subnet,
                    p.gateway.as_ref(),
                    p.ip_range.as_ref(),
                    p.aux_addresses.as_ref(),
                    p.range_start.as_ref(),
                    p.range_end.as_ref(),
                    LAB_NET6,
                    "IPv6",
                    "2001:2::10",
                ));
            } else {
                v4.extend(self.written_pool::<Ipv4Addr, Ipv4Network>(
                    &p.subnet,
                    p.gateway.as_ref(),
                    p.ip_range.as_ref(),
                    p.aux_addresses.as_ref(),
                    p.range_start.as_ref(),
                    p.range_end.as_ref(),
                    LAB_NET4,
                    "IPv4",
                    "198.18.0.10",
                ));
            }
        }
        let flag = |f: &Option<Spanned<bool>>| {
            f.as_ref().map(|f| Written {
                value: *f.get_ref(),
                text: f.get_ref().to_string(),
                span: f.span(),
            })
        };
        let mut routes = Vec::new();
        for raw in r.routes.iter().flatten() {
            match raw.get_ref().parse::<IpNetwork>() {
                Ok(net) => routes.push(written(net, raw)),
                Err(_) => self.error(
                    raw.span(),
                    format!("`{}` is not a route destination", raw.get_ref()),
                    "write a block like 0.0.0.0/0 (the default route) or ::/0",
                ),
            }
        }
        WrittenIpam {
            v4,
            v6,
            default_v4,
            enable_ipv4: flag(&r.enable_ipv4),
            enable_ipv6: flag(&r.enable_ipv6),
            internal: flag(&r.internal),
            routes,
            derived_v6: false,
        }
    }
}

//! CNI's `host-local` IPAM (containernetworking/plugins v1.1.1, Debian's
//! containernetworking-plugins) as a pure value: one range set, the ranges a container gets one
//! address from, allocated as a fresh data directory would:
//!
//! - a range defaults to the subnet's second address as its gateway and first, and to its last
//!   address (IPv4: the one before the broadcast) as its end; /31, /32, /127 and /128 are too
//!   small; explicit bounds need only lie in the subnet, so they may include the network or the
//!   broadcast address (P:plugins/ipam/host-local/backend/allocator/range.go:25-85);
//! - the gateway is never handed out but not reserved either (allocator.go:62-64, 216-218);
//! - addresses go round-robin: each search starts after the last address reserved in the set
//!   (`last_reserved_ip.N` in the data directory), wraps over the ranges in order, and gives up
//!   where it began; a fresh directory starts at the first range's start (allocator.go:140-221);
//! - a requested address must lie in a range, not be its gateway, and be free (allocator.go:52-75).
//!
//! Nothing is released here, so "round-robin" and "lowest first after the last one" agree; a
//! lab never takes a container down and up again.

use std::collections::BTreeSet;
use std::marker::PhantomData;

use super::{Block, Family};

/// Why a range cannot be made, in the plugin's words but without the range-set prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RangeProblem {
    TooSmall,
    HostBits {
        network: String,
    },
    StartOutside(String),
    EndOutside(String),
    /// The start lies after the end (the plugin does not check; mvlab refuses).
    Empty,
}

/// Why no address was handed out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The requested address is in no range of the set.
    NotInSet,
    /// The requested address is its range's gateway.
    Gateway,
    /// The requested address is taken.
    Taken,
    /// The set has no free address left.
    Exhausted,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Range {
    subnet: Block,
    prefix: u8,
    start: u128,
    end: u128,
    gateway: u128,
}

/// One range set of a netconf (`ipam.ranges[N]`, or the legacy top-level `subnet`).
#[derive(Debug, Clone)]
pub struct RangeSet<A> {
    ranges: Vec<Range>,
    taken: BTreeSet<u128>,
    last_reserved: Option<u128>,
    _family: PhantomData<A>,
}

/// An address handed out: the address, its range's prefix length and gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease<A> {
    pub address: A,
    pub prefix: u8,
    pub gateway: A,
}

impl<A: Family> RangeSet<A> {
    pub fn new() -> RangeSet<A> {
        RangeSet {
            ranges: Vec::new(),
            taken: BTreeSet::new(),
            last_reserved: None,
            _family: PhantomData,
        }
    }

    /// Adds a range after checking and filling it in as the plugin does.
    pub fn push(
        &mut self,
        subnet: (A, u8),
        gateway: Option<A>,
        start: Option<A>,
        end: Option<A>,
    ) -> Result<(), RangeProblem> {
        if subnet.1 + 2 > A::BITS {
            return Err(RangeProblem::TooSmall);
        }
        let block = Block::of(subnet.0, subnet.1);
        if block.first != subnet.0.to_bits() {
            return Err(RangeProblem::HostBits {
                network: A::from_bits(block.first).to_string(),
            });
        }
        let inside = |a: Option<A>, problem: fn(String) -> RangeProblem| match a {
            Some(a) if !block.contains(a.to_bits()) => Err(problem(a.to_string())),
            Some(a) => Ok(Some(a.to_bits())),
            None => Ok(None),
        };
        let start = inside(start, RangeProblem::StartOutside)?.unwrap_or(block.first + 1);
        let end = inside(end, RangeProblem::EndOutside)?
            .unwrap_or(block.last - u128::from(A::HAS_BROADCAST));
        if start > end {
            return Err(RangeProblem::Empty);
        }
        self.ranges.push(Range {
            subnet: block,
            prefix: subnet.1,
            start,
            end,
            gateway: gateway.map_or(block.first + 1, Family::to_bits),
        });
        Ok(())
    }

    fn range_of(&self, bits: u128) -> Option<&Range> {
        self.ranges
            .iter()
            .find(|r| r.subnet.contains(bits) && (r.start..=r.end).contains(&bits))
    }

    /// The set as the plugin prints it: `START-END` per range, comma-separated.
    pub fn describe(&self) -> String {
        self.ranges
            .iter()
            .map(|r| format!("{}-{}", A::from_bits(r.start), A::from_bits(r.end)))
            .collect::<Vec<_>>()
            .join(",")
    }

    fn lease(&mut self, r: Range, bits: u128) -> Lease<A> {
        self.taken.insert(bits);
        self.last_reserved = Some(bits);
        Lease {
            address: A::from_bits(bits),
            prefix: r.prefix,
            gateway: A::from_bits(r.gateway),
        }
    }

    /// The first and last address to hand out and the gateway of range `i`, filled in.
    pub fn bounds(&self, i: usize) -> Option<(A, A, A)> {
        let r = self.ranges.get(i)?;
        Some((
            A::from_bits(r.start),
            A::from_bits(r.end),
            A::from_bits(r.gateway),
        ))
    }

    /// Marks an address taken without moving the cursor (a node the plugin does not know).
    pub fn hold(&mut self, a: A) {
        self.taken.insert(a.to_bits());
    }

    /// Addresses left to hand out.
    pub fn available(&self) -> u128 {
        let total: u128 = self
            .ranges
            .iter()
            .map(|r| (r.end + 1).saturating_sub(r.start))
            .sum();
        let used = self
            .ranges
            .iter()
            .map(|r| {
                self.taken.range(r.start..=r.end).count() as u128
                    + u128::from(
                        (r.start..=r.end).contains(&r.gateway) && !self.taken.contains(&r.gateway),
                    )
            })
            .sum::<u128>();
        total - used
    }

    /// Gives an address back (an ADD that failed in a later range set releases what it got);
    /// the cursor stays where it was, as the plugin's `last_reserved_ip` file does.
    pub fn release(&mut self, a: A) {
        self.taken.remove(&a.to_bits());
    }

    /// Hands out `requested`, or the next free address after the last one reserved.
    pub fn get(&mut self, requested: Option<A>) -> Result<Lease<A>, Refused> {
        if let Some(a) = requested {
            let bits = a.to_bits();
            let r = *self.range_of(bits).ok_or(Refused::NotInSet)?;
            if bits == r.gateway {
                return Err(Refused::Gateway);
            }
            if self.taken.contains(&bits) {
                return Err(Refused::Taken);
            }
            return Ok(self.lease(r, bits));
        }
        // The iteration order: every address of every range, from where the last search
        // stopped (or the first range's start), once round; positions count across the ranges.
        let lens: Vec<u128> = self
            .ranges
            .iter()
            .map(|r| (r.end + 1).saturating_sub(r.start))
            .collect();
        let total: u128 = lens.iter().sum();
        let at = |mut p: u128| -> (usize, u128) {
            for (i, len) in lens.iter().enumerate() {
                if p < *len {
                    return (i, self.ranges[i].start + p);
                }
                p -= len;
            }
            unreachable!("positions stay below the total")
        };
        let begin = self.last_reserved.map_or(0, |last| {
            let mut before = 0;
            for (r, len) in self.ranges.iter().zip(&lens) {
                if (r.start..=r.end).contains(&last) {
                    return (before + last - r.start + 1) % total;
                }
                before += len;
            }
            0
        });
        let found = (0..total)
            .map(|k| at((begin + k) % total))
            .find(|&(i, b)| b != self.ranges[i].gateway && !self.taken.contains(&b));
        let (i, bits) = found.ok_or(Refused::Exhausted)?;
        let r = self.ranges[i];
        Ok(self.lease(r, bits))
    }
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use super::*;

    fn v4(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    fn leases(set: &mut RangeSet<Ipv4Addr>, n: usize) -> Vec<String> {
        (0..n)
            .map(|_| match set.get(None) {
                Ok(l) => l.address.to_string(),
                Err(e) => format!("{e:?}"),
            })
            .collect()
    }

    /// Measured with /usr/lib/cni/host-local (research/measure/10-12).
    #[test]
    fn defaults_skip_the_gateway_and_the_broadcast() {
        let mut set = RangeSet::new();
        set.push((v4("198.18.70.0"), 30), None, None, None).unwrap();
        assert_eq!(set.describe(), "198.18.70.1-198.18.70.2");
        assert_eq!(leases(&mut set, 2), ["198.18.70.2", "Exhausted"]);
        let mut v6 = RangeSet::<Ipv6Addr>::new();
        v6.push(("2001:2:0:76::".parse().unwrap(), 126), None, None, None)
            .unwrap();
        let got: Vec<String> = (0..2)
            .map(|_| v6.get(None).unwrap().address.to_string())
            .collect();
        assert_eq!(got, ["2001:2:0:76::2", "2001:2:0:76::3"]);
    }

    #[test]
    fn explicit_bounds_may_hold_the_network_address_and_a_gateway_inside() {
        let mut set = RangeSet::new();
        set.push(
            (v4("198.18.79.0"), 24),
            None,
            Some(v4("198.18.79.0")),
            Some(v4("198.18.79.0")),
        )
        .unwrap();
        assert_eq!(leases(&mut set, 1), ["198.18.79.0"]);
        let mut set = RangeSet::new();
        set.push(
            (v4("198.18.72.0"), 24),
            Some(v4("198.18.72.2")),
            Some(v4("198.18.72.1")),
            Some(v4("198.18.72.3")),
        )
        .unwrap();
        assert_eq!(
            leases(&mut set, 3),
            ["198.18.72.1", "198.18.72.3", "Exhausted"]
        );
    }

    #[test]
    fn two_ranges_are_walked_in_order_and_requests_move_the_cursor() {
        let mut set = RangeSet::new();
        set.push((v4("198.18.80.0"), 30), None, None, None).unwrap();
        set.push((v4("198.18.81.0"), 30), None, None, None).unwrap();
        assert_eq!(
            leases(&mut set, 3),
            ["198.18.80.2", "198.18.81.2", "Exhausted"]
        );
        let mut set = RangeSet::new();
        set.push((v4("198.18.73.0"), 24), None, None, None).unwrap();
        assert_eq!(set.get(Some(v4("198.18.73.1"))), Err(Refused::Gateway));
        assert_eq!(
            set.get(Some(v4("198.18.73.50"))).unwrap().address,
            v4("198.18.73.50")
        );
        assert_eq!(set.get(Some(v4("198.18.73.50"))), Err(Refused::Taken));
        assert_eq!(set.get(Some(v4("198.18.74.1"))), Err(Refused::NotInSet));
        assert_eq!(leases(&mut set, 1), ["198.18.73.51"]);
    }

    #[test]
    fn bad_ranges_are_refused() {
        let mut set = RangeSet::<Ipv4Addr>::new();
        assert_eq!(
            set.push((v4("198.18.74.0"), 31), None, None, None),
            Err(RangeProblem::TooSmall)
        );
        assert_eq!(
            set.push((v4("198.18.74.5"), 24), None, None, None),
            Err(RangeProblem::HostBits {
                network: "198.18.74.0".into()
            })
        );
        assert_eq!(
            set.push((v4("198.18.74.0"), 24), None, Some(v4("198.18.75.1")), None),
            Err(RangeProblem::StartOutside("198.18.75.1".into()))
        );
    }
}

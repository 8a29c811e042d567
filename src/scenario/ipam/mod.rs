//! Address pools, pure arithmetic on integers. This file holds mvlab's own pools (a scenario
//! without `[docker]` or `[cni]`), one per network and family: the network address, the IPv4
//! broadcast address, the gateway and every aux address are never handed out; `ip_range` narrows
//! the dynamic pool; fixed addresses may sit anywhere else in the subnet. Endpoints are allocated
//! upward from the bottom of the range; lab-only nodes (peers, the host shim) take the highest
//! free address of the subnet so that adding endpoints never renumbers them. And, for the
//! exhaustion tests, the pools of a settled scenario's network with every address its nodes hold
//! already taken. `libnetwork` is Docker's allocator, `host_local` CNI's.

use std::collections::BTreeSet;
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use ipnetwork::{Ipv4Network, Ipv6Network};

pub mod host_local;
pub mod libnetwork;
mod settled;

pub(super) use settled::Continuation;

/// An address family's address as an integer.
pub trait Family: Copy + Ord + fmt::Display {
    const BITS: u8;
    /// Whether the last address of a subnet is reserved (IPv4 broadcast).
    const HAS_BROADCAST: bool;
    fn to_bits(self) -> u128;
    fn from_bits(bits: u128) -> Self;
}

/// A subnet of the `ipnetwork` crate as the (address, prefix length) a pool is built from.
pub trait Subnet<A: Family> {
    fn base(&self) -> (A, u8);
}

impl Subnet<Ipv4Addr> for Ipv4Network {
    fn base(&self) -> (Ipv4Addr, u8) {
        (self.ip(), self.prefix())
    }
}

impl Subnet<Ipv6Addr> for Ipv6Network {
    fn base(&self) -> (Ipv6Addr, u8) {
        (self.ip(), self.prefix())
    }
}

impl Family for Ipv4Addr {
    const BITS: u8 = 32;
    const HAS_BROADCAST: bool = true;
    fn to_bits(self) -> u128 {
        u32::from(self).into()
    }
    fn from_bits(bits: u128) -> Self {
        Ipv4Addr::from(bits as u32)
    }
}

impl Family for Ipv6Addr {
    const BITS: u8 = 128;
    const HAS_BROADCAST: bool = false;
    fn to_bits(self) -> u128 {
        u128::from(self)
    }
    fn from_bits(bits: u128) -> Self {
        Ipv6Addr::from(bits)
    }
}

/// An inclusive range of addresses as integers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Block {
    first: u128,
    last: u128,
}

impl Block {
    fn of<A: Family>(base: A, prefix: u8) -> Block {
        let host_bits = u32::from(A::BITS - prefix);
        let size_mask = if host_bits == 128 {
            u128::MAX
        } else {
            (1u128 << host_bits) - 1
        };
        let first = base.to_bits() & !size_mask;
        Block {
            first,
            last: first | size_mask,
        }
    }

    fn contains(&self, bits: u128) -> bool {
        (self.first..=self.last).contains(&bits)
    }

    fn len(&self) -> u128 {
        (self.last - self.first).saturating_add(1)
    }

    fn overlaps(&self, other: &Block) -> bool {
        self.first <= other.last && other.first <= self.last
    }
}

/// Why an address cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    OutsideSubnet,
    NetworkAddress,
    Broadcast,
    Gateway,
    Aux,
    Taken,
}

impl Refusal {
    pub fn describe(&self) -> &'static str {
        match self {
            Refusal::OutsideSubnet => "is outside the subnet",
            Refusal::NetworkAddress => "is the subnet's network address",
            Refusal::Broadcast => "is the subnet's broadcast address",
            Refusal::Gateway => "is the network's gateway",
            Refusal::Aux => "is reserved as an aux address",
            Refusal::Taken => "is already used by another node",
        }
    }
}

/// A pool that ran dry: what it holds and what was asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolExhausted {
    /// Addresses the dynamic range holds after Docker's exclusions and fixed addresses.
    pub available: u128,
    /// Dynamic addresses asked for.
    pub asked: u128,
}

#[derive(Debug, Clone)]
pub struct Pool<A: Family> {
    subnet: Block,
    range: Block,
    gateway: u128,
    aux: BTreeSet<u128>,
    taken: BTreeSet<u128>,
    cursor_low: u128,
    cursor_high: u128,
    _family: std::marker::PhantomData<A>,
}

impl<A: Family> Pool<A> {
    /// `range` must lie inside `subnet` (the caller checks and reports it).
    pub fn new(
        subnet: (A, u8),
        range: (A, u8),
        gateway: A,
        aux: impl IntoIterator<Item = A>,
    ) -> Pool<A> {
        let subnet = Block::of(subnet.0, subnet.1);
        let range = Block::of(range.0, range.1);
        Pool {
            subnet,
            range,
            gateway: gateway.to_bits(),
            aux: aux.into_iter().map(Family::to_bits).collect(),
            taken: BTreeSet::new(),
            cursor_low: range.first,
            cursor_high: subnet.last,
            _family: std::marker::PhantomData,
        }
    }

    /// The network address of a subnet.
    pub fn base(subnet: (A, u8)) -> A {
        A::from_bits(Block::of(subnet.0, subnet.1).first)
    }

    /// The first host address of a subnet: Docker's default gateway.
    pub fn first_host(subnet: (A, u8)) -> A {
        A::from_bits(Block::of(subnet.0, subnet.1).first + 1)
    }

    /// Whether `range` lies inside `subnet`.
    pub fn nests(subnet: (A, u8), range: (A, u8)) -> bool {
        let (s, r) = (Block::of(subnet.0, subnet.1), Block::of(range.0, range.1));
        s.contains(r.first) && s.contains(r.last)
    }

    /// Whether two subnets share any address.
    pub fn overlap(a: (A, u8), b: (A, u8)) -> bool {
        Block::of(a.0, a.1).overlaps(&Block::of(b.0, b.1))
    }

    fn structural(&self, bits: u128) -> Option<Refusal> {
        if !self.subnet.contains(bits) {
            Some(Refusal::OutsideSubnet)
        } else if bits == self.subnet.first {
            Some(Refusal::NetworkAddress)
        } else if A::HAS_BROADCAST && bits == self.subnet.last {
            Some(Refusal::Broadcast)
        } else {
            None
        }
    }

    /// Whether the gateway is a usable host address of the subnet.
    pub fn check_gateway(&self) -> Result<(), Refusal> {
        self.structural(self.gateway).map_or(Ok(()), Err)
    }

    /// Whether an aux address is a usable host address of the subnet.
    pub fn check_aux(&self, a: A) -> Result<(), Refusal> {
        self.structural(a.to_bits()).map_or(Ok(()), Err)
    }

    /// Takes a fixed address. Endpoints (`docker_managed`) may not take the gateway or an aux
    /// address; lab-only nodes may (a peer can be the router, the shim sits on an aux address).
    pub fn take(&mut self, a: A, docker_managed: bool) -> Result<(), Refusal> {
        let bits = a.to_bits();
        if let Some(r) = self.structural(bits) {
            return Err(r);
        }
        if docker_managed && bits == self.gateway {
            return Err(Refusal::Gateway);
        }
        if docker_managed && self.aux.contains(&bits) {
            return Err(Refusal::Aux);
        }
        if !self.taken.insert(bits) {
            return Err(Refusal::Taken);
        }
        Ok(())
    }

    fn free(&self, bits: u128) -> bool {
        self.structural(bits).is_none()
            && bits != self.gateway
            && !self.aux.contains(&bits)
            && !self.taken.contains(&bits)
    }

    /// Addresses still free in the dynamic range.
    pub fn available(&self) -> u128 {
        let mut excluded: BTreeSet<u128> = self.aux.clone();
        excluded.extend(self.taken.iter().copied());
        excluded.insert(self.gateway);
        excluded.insert(self.subnet.first);
        if A::HAS_BROADCAST {
            excluded.insert(self.subnet.last);
        }
        let inside = excluded.range(self.range.first..=self.range.last).count() as u128;
        self.range.len() - inside
    }

    /// Checks up front that `asked` dynamic addresses fit.
    pub fn reserve_dynamic(&self, asked: u128) -> Result<(), PoolExhausted> {
        let available = self.available();
        if asked > available {
            return Err(PoolExhausted { available, asked });
        }
        Ok(())
    }

    /// The lowest free address of the dynamic range (Docker's allocation order).
    pub fn next_low(&mut self) -> Option<A> {
        while self.range.contains(self.cursor_low) {
            let bits = self.cursor_low;
            self.cursor_low += 1;
            if self.free(bits) {
                self.taken.insert(bits);
                return Some(A::from_bits(bits));
            }
        }
        None
    }

    /// The highest free address of the whole subnet (for lab-only nodes).
    pub fn next_high(&mut self) -> Option<A> {
        while self.cursor_high > self.subnet.first {
            let bits = self.cursor_high;
            self.cursor_high -= 1;
            if self.free(bits) {
                self.taken.insert(bits);
                return Some(A::from_bits(bits));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    fn pool24() -> Pool<Ipv4Addr> {
        let net = (v4("198.18.0.0"), 24);
        Pool::new(net, net, Pool::first_host(net), [v4("198.18.0.2")])
    }

    #[test]
    fn dynamic_allocation_skips_network_gateway_aux_and_fixed() {
        let mut p = pool24();
        p.take(v4("198.18.0.4"), true).unwrap();
        let got: Vec<_> = (0..3).map(|_| p.next_low().unwrap().to_string()).collect();
        assert_eq!(got, ["198.18.0.3", "198.18.0.5", "198.18.0.6"]);
        assert_eq!(p.next_high().unwrap(), v4("198.18.0.254"));
    }

    #[test]
    fn available_counts_docker_exclusions() {
        let p = pool24();
        // 256 - network - broadcast - gateway - one aux.
        assert_eq!(p.available(), 252);
        assert_eq!(
            p.reserve_dynamic(253),
            Err(PoolExhausted {
                available: 252,
                asked: 253
            })
        );
        let net = (v4("198.18.0.0"), 24);
        let ranged = Pool::new(net, (v4("198.18.0.128"), 25), Pool::first_host(net), []);
        // The range holds 128 addresses, minus the broadcast at its top.
        assert_eq!(ranged.available(), 127);
    }

    #[test]
    fn fixed_addresses_are_refused_for_docker_reasons() {
        let mut p = pool24();
        assert_eq!(p.take(v4("198.18.1.1"), true), Err(Refusal::OutsideSubnet));
        assert_eq!(p.take(v4("198.18.0.0"), true), Err(Refusal::NetworkAddress));
        assert_eq!(p.take(v4("198.18.0.255"), true), Err(Refusal::Broadcast));
        assert_eq!(p.take(v4("198.18.0.1"), true), Err(Refusal::Gateway));
        assert_eq!(p.take(v4("198.18.0.2"), true), Err(Refusal::Aux));
        // A lab-only node may be the router.
        assert_eq!(p.take(v4("198.18.0.1"), false), Ok(()));
        assert_eq!(p.take(v4("198.18.0.1"), false), Err(Refusal::Taken));
    }

    #[test]
    fn ipv6_has_no_broadcast_and_huge_pools() {
        let net: (Ipv6Addr, u8) = ("2001:2::".parse().unwrap(), 64);
        let mut p = Pool::new(net, net, Pool::first_host(net), []);
        assert_eq!(p.available(), (1u128 << 64) - 2);
        assert_eq!(p.next_low().unwrap().to_string(), "2001:2::2");
        assert_eq!(
            p.next_high().unwrap().to_string(),
            "2001:2::ffff:ffff:ffff:ffff"
        );
    }

    #[test]
    fn nesting_and_overlap() {
        let a = (v4("198.18.0.0"), 24);
        assert!(Pool::nests(a, (v4("198.18.0.128"), 25)));
        assert!(!Pool::nests(a, (v4("198.18.0.0"), 23)));
        assert!(Pool::overlap(a, (v4("198.18.0.0"), 23)));
        assert!(!Pool::overlap(a, (v4("198.18.1.0"), 24)));
    }
}

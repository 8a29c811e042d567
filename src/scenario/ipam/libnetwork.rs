//! libnetwork's default IPAM (the allocator behind every Docker network) as a pure value, one
//! address family at a time. A pool is a subnet and, optionally, an ip_range inside it; every pool
//! on the same subnet shares one bitmap, so networks that split a subnet by ip_range never hand
//! out an address twice, while a subnet with an ip_range that merely overlaps another network's
//! subnet gets a bitmap of its own and can (moby issue 46756). The rules, the same in every
//! version mvlab models except where the caller says otherwise:
//!
//! - a pool without ip_range is refused when its subnet overlaps any subnet in use; one with an
//!   ip_range only when that exact (subnet, ip_range) is in use
//!   (v20.10.24:L/ipam/structures.go:260-303; v27.5.1:L/ipams/defaultipam/address_space.go:71-124);
//! - a new bitmap reserves the network address, and in IPv4 the broadcast address, of every
//!   subnet up to /30; of /31 and /32 too when `reserve_tiny_ends` (Docker before 23.0)
//!   (v20.10.24:L/ipam/allocator.go:337-369; v27.5.1:L/ipams/defaultipam/allocator.go:213-239);
//! - an ip_range keeps only its host bits under the subnet's mask, so one bigger than the subnet
//!   is the whole subnet and one outside it lands inside (v20.10.24:L/ipam/utils.go:18-37);
//! - a requested address may be anywhere in the subnet (also outside the ip_range) and must be
//!   free; otherwise the lowest free address of the ip_range is handed out, and a released one
//!   would be reused at once (v20.10.24:L/ipam/allocator.go:493-499, 578-590).
//!
//! It knows no words: `Denied` says why, the caller says it in the version's.

use std::collections::BTreeSet;
use std::marker::PhantomData;

use super::{Block, Family};

/// Why IPAM said no.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    /// The pool overlaps one in use.
    Overlap,
    /// No free address is left in the ip_range.
    NoneFree,
    /// The requested address is taken (or reserved).
    InUse,
    /// The requested address is not in the pool's subnet.
    OutOfRange,
}

/// A pool handed out by `AddressSpace::request_pool`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolId(usize);

#[derive(Debug, Clone)]
struct Bitmap {
    subnet: Block,
    taken: BTreeSet<u128>,
}

#[derive(Debug, Clone)]
struct Pool {
    key: (Block, Option<Block>),
    bitmap: usize,
    range: Block,
}

/// Every pool of one family on one Docker engine.
#[derive(Debug, Clone)]
pub struct AddressSpace<A> {
    bitmaps: Vec<Bitmap>,
    pools: Vec<Pool>,
    _family: PhantomData<A>,
}

impl<A: Family> Default for AddressSpace<A> {
    fn default() -> Self {
        AddressSpace {
            bitmaps: Vec::new(),
            pools: Vec::new(),
            _family: PhantomData,
        }
    }
}

impl<A: Family> AddressSpace<A> {
    /// Asks for the pool `subnet` (host bits are dropped), narrowed to `range` when given.
    pub fn request_pool(
        &mut self,
        subnet: (A, u8),
        range: Option<(A, u8)>,
        reserve_tiny_ends: bool,
    ) -> Result<PoolId, Denied> {
        let s = Block::of(subnet.0, subnet.1);
        let r = range.map(|(a, p)| Block::of(a, p));
        if self.pools.iter().any(|p| p.key == (s, r)) {
            return Err(Denied::Overlap);
        }
        let shared = self.bitmaps.iter().position(|b| b.subnet == s);
        let bitmap = match (r, shared) {
            (None, _) if self.bitmaps.iter().any(|b| b.subnet.overlaps(&s)) => {
                return Err(Denied::Overlap);
            }
            (Some(_), Some(b)) => b,
            _ => {
                let mut taken = BTreeSet::new();
                if !A::HAS_BROADCAST || s.len() > 2 || reserve_tiny_ends {
                    taken.insert(s.first);
                    if A::HAS_BROADCAST {
                        taken.insert(s.last);
                    }
                }
                self.bitmaps.push(Bitmap { subnet: s, taken });
                self.bitmaps.len() - 1
            }
        };
        let host = s.len() - 1;
        let range = r.map_or(s, |r| Block {
            first: s.first | (r.first & host),
            last: s.first | (r.last & host),
        });
        self.pools.push(Pool {
            key: (s, r),
            bitmap,
            range,
        });
        Ok(PoolId(self.pools.len() - 1))
    }

    /// Whether `a` lies in the pool's subnet.
    pub fn contains(&self, pool: PoolId, a: A) -> bool {
        self.bitmaps[self.pools[pool.0].bitmap]
            .subnet
            .contains(a.to_bits())
    }

    /// Takes `preferred`, or the lowest free address of the pool's ip_range.
    pub fn request_address(&mut self, pool: PoolId, preferred: Option<A>) -> Result<A, Denied> {
        let p = &self.pools[pool.0];
        let bitmap = &mut self.bitmaps[p.bitmap];
        let bits = match preferred {
            Some(a) => {
                let bits = a.to_bits();
                if !bitmap.subnet.contains(bits) {
                    return Err(Denied::OutOfRange);
                }
                if bitmap.taken.contains(&bits) {
                    return Err(Denied::InUse);
                }
                bits
            }
            None => lowest_free(&bitmap.taken, p.range).ok_or(Denied::NoneFree)?,
        };
        bitmap.taken.insert(bits);
        Ok(A::from_bits(bits))
    }

    /// Addresses of the pool's ip_range still free.
    pub fn available(&self, pool: PoolId) -> u128 {
        let p = &self.pools[pool.0];
        let taken = self.bitmaps[p.bitmap]
            .taken
            .range(p.range.first..=p.range.last)
            .count() as u128;
        p.range.len() - taken
    }
}

/// The block an ip_range stands for inside `subnet`: its host bits under the subnet's mask, the
/// whole subnet when it is bigger.
pub fn folded_range<A: Family>(subnet: (A, u8), range: (A, u8)) -> (A, u8) {
    if range.1 <= subnet.1 {
        return (A::from_bits(Block::of(subnet.0, subnet.1).first), subnet.1);
    }
    let s = Block::of(subnet.0, subnet.1);
    let r = Block::of(range.0, range.1);
    (A::from_bits(s.first | (r.first & (s.len() - 1))), range.1)
}

impl<A: Family> AddressSpace<A> {
    /// Gives back an address (a container that could not start keeps none).
    pub fn release(&mut self, pool: PoolId, a: A) {
        let bitmap = self.pools[pool.0].bitmap;
        self.bitmaps[bitmap].taken.remove(&a.to_bits());
    }

    /// A pool of a network that exists: shares the bitmap of the same subnet, never refused
    /// (to rebuild an engine's state from a settled scenario).
    pub fn restore_pool(
        &mut self,
        subnet: (A, u8),
        range: (A, u8),
        reserve_tiny_ends: bool,
    ) -> PoolId {
        let s = Block::of(subnet.0, subnet.1);
        let r = Block::of(range.0, range.1);
        match self.bitmaps.iter().position(|b| b.subnet == s) {
            Some(bitmap) => {
                self.pools.push(Pool {
                    key: (s, Some(r)),
                    bitmap,
                    range: r,
                });
                PoolId(self.pools.len() - 1)
            }
            None => self
                .request_pool(subnet, Some(range), reserve_tiny_ends)
                .expect("a new subnet is never refused"),
        }
    }
}

/// The lowest address of `range` not in `taken`.
fn lowest_free(taken: &BTreeSet<u128>, range: Block) -> Option<u128> {
    let mut candidate = range.first;
    for &t in taken.range(range.first..=range.last) {
        if t != candidate {
            break;
        }
        if candidate == range.last {
            return None;
        }
        candidate += 1;
    }
    Some(candidate)
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use super::*;

    fn net(s: &str) -> (Ipv4Addr, u8) {
        let (a, p) = s.split_once('/').unwrap();
        (a.parse().unwrap(), p.parse().unwrap())
    }

    fn take(space: &mut AddressSpace<Ipv4Addr>, pool: PoolId, n: usize) -> Vec<String> {
        (0..n)
            .map(|_| match space.request_address(pool, None) {
                Ok(a) => a.to_string(),
                Err(e) => format!("{e:?}"),
            })
            .collect()
    }

    /// Measured on Docker 20.10 (research/measure/01, 02): the gateway is the range's first
    /// free address, containers follow, the range's own ends are usable.
    #[test]
    fn gateway_and_containers_come_lowest_first_from_the_range() {
        let mut s = AddressSpace::default();
        let p = s
            .request_pool(net("198.18.2.0/24"), Some(net("198.18.2.128/26")), true)
            .unwrap();
        assert_eq!(take(&mut s, p, 2), ["198.18.2.128", "198.18.2.129"]);
        let p = s
            .request_pool(net("198.18.3.0/24"), Some(net("198.18.3.0/28")), true)
            .unwrap();
        assert_eq!(take(&mut s, p, 2), ["198.18.3.1", "198.18.3.2"]);
        let p = s
            .request_pool(net("198.18.9.0/24"), Some(net("198.18.9.252/30")), true)
            .unwrap();
        assert_eq!(
            take(&mut s, p, 4),
            ["198.18.9.252", "198.18.9.253", "198.18.9.254", "NoneFree"]
        );
    }

    #[test]
    fn requested_addresses_need_the_subnet_not_the_range() {
        let mut s = AddressSpace::default();
        let p = s
            .request_pool(net("198.18.2.0/24"), Some(net("198.18.2.128/26")), true)
            .unwrap();
        let ip = |t: &str| t.parse::<Ipv4Addr>().unwrap();
        assert_eq!(
            s.request_address(p, Some(ip("198.18.2.10"))),
            Ok(ip("198.18.2.10"))
        );
        assert_eq!(
            s.request_address(p, Some(ip("198.18.2.10"))),
            Err(Denied::InUse)
        );
        assert_eq!(
            s.request_address(p, Some(ip("198.18.2.0"))),
            Err(Denied::InUse)
        );
        assert_eq!(
            s.request_address(p, Some(ip("198.18.2.255"))),
            Err(Denied::InUse)
        );
        assert_eq!(
            s.request_address(p, Some(ip("198.18.3.1"))),
            Err(Denied::OutOfRange)
        );
    }

    /// Measured (research/measure/05 I): one subnet split by ranges shares its bitmap; an
    /// overlapping subnet with a range gets its own, and duplicates follow.
    #[test]
    fn pools_share_a_subnet_by_range_and_overlap_otherwise() {
        let mut s = AddressSpace::default();
        let a = s
            .request_pool(net("198.18.32.0/24"), Some(net("198.18.32.0/25")), true)
            .unwrap();
        let b = s
            .request_pool(net("198.18.32.0/24"), Some(net("198.18.32.128/25")), true)
            .unwrap();
        let ip = |t: &str| t.parse::<Ipv4Addr>().unwrap();
        assert_eq!(
            s.request_address(a, Some(ip("198.18.32.130"))),
            Ok(ip("198.18.32.130"))
        );
        assert_eq!(
            s.request_address(b, Some(ip("198.18.32.130"))),
            Err(Denied::InUse)
        );
        assert_eq!(
            s.request_pool(net("198.18.32.0/24"), Some(net("198.18.32.0/25")), true),
            Err(Denied::Overlap)
        );
        assert_eq!(
            s.request_pool(net("198.18.32.0/24"), None, true),
            Err(Denied::Overlap)
        );
        assert_eq!(
            s.request_pool(net("198.18.32.0/25"), None, true),
            Err(Denied::Overlap)
        );
        let c = s
            .request_pool(net("198.18.32.0/25"), Some(net("198.18.32.0/26")), true)
            .unwrap();
        assert_eq!(take(&mut s, c, 1), ["198.18.32.1"]);
        assert_eq!(take(&mut s, a, 1), ["198.18.32.1"]);
        // No range first, then the same subnet with one: allowed, shared.
        let d = s.request_pool(net("198.18.33.0/24"), None, true).unwrap();
        let e = s
            .request_pool(net("198.18.33.0/24"), Some(net("198.18.33.0/28")), true)
            .unwrap();
        assert_eq!(take(&mut s, d, 1), ["198.18.33.1"]);
        assert_eq!(take(&mut s, e, 1), ["198.18.33.2"]);
    }

    /// v20.10.24:L/ipam/utils.go:18-37, measured (research/measure/06 W3, W4).
    #[test]
    fn a_range_keeps_its_host_bits_under_the_subnet_mask() {
        let mut s = AddressSpace::default();
        let outside = s
            .request_pool(net("198.18.54.0/24"), Some(net("198.18.60.0/25")), true)
            .unwrap();
        assert_eq!(take(&mut s, outside, 1), ["198.18.54.1"]);
        assert_eq!(s.available(outside), 126);
        let bigger = s
            .request_pool(net("198.18.53.0/24"), Some(net("198.18.52.0/23")), true)
            .unwrap();
        assert_eq!(s.available(bigger), 254);
    }

    #[test]
    fn tiny_subnets_by_version() {
        let mut old = AddressSpace::<Ipv4Addr>::default();
        let p = old.request_pool(net("198.18.10.0/31"), None, true).unwrap();
        assert_eq!(take(&mut old, p, 1), ["NoneFree"]);
        let mut new = AddressSpace::<Ipv4Addr>::default();
        let p = new
            .request_pool(net("198.18.10.0/31"), None, false)
            .unwrap();
        assert_eq!(
            take(&mut new, p, 3),
            ["198.18.10.0", "198.18.10.1", "NoneFree"]
        );
        let p = new
            .request_pool(net("198.18.10.4/32"), None, false)
            .unwrap();
        assert_eq!(take(&mut new, p, 2), ["198.18.10.4", "NoneFree"]);
        let p = new.request_pool(net("198.18.8.0/30"), None, false).unwrap();
        assert_eq!(
            take(&mut new, p, 3),
            ["198.18.8.1", "198.18.8.2", "NoneFree"]
        );
        // IPv6 always keeps its first address: a /127 has one left, a /128 none.
        let mut v6 = AddressSpace::<Ipv6Addr>::default();
        let p = v6
            .request_pool(("2001:2::".parse().unwrap(), 127), None, false)
            .unwrap();
        assert_eq!(
            v6.request_address(p, None).unwrap().to_string(),
            "2001:2::1"
        );
        assert_eq!(v6.request_address(p, None), Err(Denied::NoneFree));
    }
}

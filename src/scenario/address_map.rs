//! The user's own addresses beside the lab's. A lab only ever uses the benchmarking ranges
//! (198.18.0.0/15, 2001:2::/48), so a network the user has elsewhere (their compose file's
//! 192.168.1.0/24, the ULA prefix a Docker engine derives) is mapped block for block into them,
//! keeping every host's offset: 192.168.1.57 becomes 198.18.N.57. The mappings are part of the
//! scenario (`[[address_map]]`, written by `mvlab import`), and reports show both addresses. Pure:
//! block arithmetic and the choice of a free lab block.

use std::net::IpAddr;

use ipnetwork::IpNetwork;
use serde::Serialize;

use crate::addr::{LAB_NET4, LAB_NET6};

/// One block of the user's and the lab block that stands for it (same family, same size).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct AddressMapping {
    pub yours: IpNetwork,
    pub lab: IpNetwork,
}

/// Every mapping of a scenario.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct AddressMap(pub Vec<AddressMapping>);

/// An address as (is IPv6, value).
fn bits(a: IpAddr) -> (bool, u128) {
    match a {
        IpAddr::V4(a) => (false, u32::from(a).into()),
        IpAddr::V6(a) => (true, u128::from(a)),
    }
}

fn addr(v6: bool, bits: u128) -> IpAddr {
    if v6 {
        IpAddr::V6(bits.into())
    } else {
        IpAddr::V4((bits as u32).into())
    }
}

/// `a` moved from the block `from` to the block `to`, at the same offset.
fn shift(a: IpAddr, from: IpNetwork, to: IpNetwork) -> IpAddr {
    let (v6, a) = bits(a);
    let (_, from) = bits(from.network());
    let (_, to) = bits(to.network());
    addr(v6, to + (a - from))
}

impl AddressMap {
    /// The user's address for a lab address, when its block is mapped.
    pub fn yours(&self, lab: IpAddr) -> Option<IpAddr> {
        self.0
            .iter()
            .find(|m| m.lab.contains(lab))
            .map(|m| shift(lab, m.lab, m.yours))
    }

    /// The lab's address for a user address, when its block is mapped.
    pub fn lab(&self, yours: IpAddr) -> Option<IpAddr> {
        self.0
            .iter()
            .find(|m| m.yours.contains(yours))
            .map(|m| shift(yours, m.yours, m.lab))
    }

    /// The lab's block for a user block inside a mapped one.
    pub fn lab_block(&self, yours: IpNetwork) -> Option<IpNetwork> {
        let lab = self.lab(yours.ip())?;
        IpNetwork::new(lab, yours.prefix()).ok()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Whether `net` lies inside the benchmarking range of its family.
pub fn in_lab_range(net: IpNetwork) -> bool {
    let lab = match net {
        IpNetwork::V4(_) => IpNetwork::new(LAB_NET4.0.into(), LAB_NET4.1),
        IpNetwork::V6(_) => IpNetwork::new(LAB_NET6.0.into(), LAB_NET6.1),
    }
    .expect("the lab ranges are valid");
    net.prefix() >= lab.prefix() && lab.contains(net.network())
}

/// The lowest block of the benchmarking range with `net`'s family and size that overlaps none
/// of `used`; `None` when the range is too small or full.
pub fn free_lab_block(net: IpNetwork, used: &[IpNetwork]) -> Option<IpNetwork> {
    let (v6, lab_base, lab_prefix) = match net {
        IpNetwork::V4(_) => (false, u128::from(u32::from(LAB_NET4.0)), LAB_NET4.1),
        IpNetwork::V6(_) => (true, u128::from(LAB_NET6.0), LAB_NET6.1),
    };
    let width: u32 = if v6 { 128 } else { 32 };
    if net.prefix() < lab_prefix {
        return None;
    }
    let size = 1u128 << (width - u32::from(net.prefix()));
    let count = 1u128 << (u32::from(net.prefix()) - u32::from(lab_prefix)).min(64);
    (0..count).find_map(|i| {
        let candidate = IpNetwork::new(addr(v6, lab_base + i * size), net.prefix()).ok()?;
        let clash = used.iter().any(|u| {
            u.is_ipv6() == v6
                && (u.contains(candidate.network()) || candidate.contains(u.network()))
        });
        (!clash).then_some(candidate)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> IpNetwork {
        s.parse().unwrap()
    }

    #[test]
    fn addresses_keep_their_offset_both_ways() {
        let map = AddressMap(vec![AddressMapping {
            yours: n("192.168.1.0/24"),
            lab: n("198.18.3.0/24"),
        }]);
        let lab = map.lab("192.168.1.57".parse().unwrap()).unwrap();
        assert_eq!(lab.to_string(), "198.18.3.57");
        assert_eq!(map.yours(lab).unwrap().to_string(), "192.168.1.57");
        assert_eq!(map.yours("198.18.4.1".parse().unwrap()), None);
        assert_eq!(
            map.lab_block(n("192.168.1.128/25")).unwrap(),
            n("198.18.3.128/25")
        );
    }

    #[test]
    fn lab_blocks_are_the_lowest_free_of_the_right_size() {
        assert_eq!(
            free_lab_block(n("10.0.0.0/24"), &[]),
            Some(n("198.18.0.0/24"))
        );
        assert_eq!(
            free_lab_block(n("10.0.0.0/24"), &[n("198.18.0.0/24"), n("198.18.1.0/25")]),
            Some(n("198.18.2.0/24"))
        );
        assert_eq!(
            free_lab_block(n("172.18.0.0/16"), &[n("198.18.7.0/24")]),
            Some(n("198.19.0.0/16"))
        );
        assert_eq!(free_lab_block(n("10.0.0.0/8"), &[]), None);
        assert_eq!(
            free_lab_block(n("fd00:1:2::/64"), &[n("2001:2::/64")]),
            Some(n("2001:2:0:1::/64"))
        );
        assert!(in_lab_range(n("198.19.4.0/24")));
        assert!(!in_lab_range(n("198.16.0.0/12")));
        assert!(!in_lab_range(n("2001:3::/64")));
    }
}

//! The frame the model walks through the lab: its addresses and 802.1Q tag stack, and the
//! multicast groups an interface joins by itself. Owns no rule about where a frame goes.

use std::net::Ipv6Addr;

use crate::addr::MacAddr;
use crate::delivery::{Addressing, FrameClass, MULTICAST6_GROUP, UNKNOWN_UNICAST_MAC};

/// Up to two 802.1Q tags, outermost first: a class tag and, under a `PARENT.VID` sub-interface,
/// the sub-interface's own tag on top of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Tags {
    vids: [u16; 2],
    len: u8,
}

impl Tags {
    pub fn one(vid: u16) -> Tags {
        Tags {
            vids: [vid, 0],
            len: 1,
        }
    }

    pub fn outer(&self) -> Option<u16> {
        (self.len > 0).then_some(self.vids[0])
    }

    /// The stack with `vid` pushed on top; a third tag is not modelled and leaves it unchanged.
    pub fn pushed(self, vid: u16) -> Tags {
        match self.len {
            0 => Tags::one(vid),
            1 => Tags {
                vids: [vid, self.vids[0]],
                len: 2,
            },
            _ => self,
        }
    }

    pub fn popped(self) -> Tags {
        match self.len {
            0 | 1 => Tags::default(),
            _ => Tags::one(self.vids[1]),
        }
    }

    pub fn as_slice(&self) -> &[u16] {
        &self.vids[..self.len as usize]
    }
}

/// One Ethernet frame in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame {
    pub src: MacAddr,
    pub dst: MacAddr,
    pub tags: Tags,
}

impl Frame {
    /// The frame a matrix sender emits for `class`; `unicast_to` is the destination's MAC and is
    /// used only by the unicast class.
    pub fn of_class(src: MacAddr, class: FrameClass, unicast_to: MacAddr, vlan: u16) -> Frame {
        let dst = class.addressing.fixed_destination().unwrap_or(unicast_to);
        let tags = if class.tagged {
            Tags::one(vlan)
        } else {
            Tags::default()
        };
        Frame { src, dst, tags }
    }

    /// The frame the model sends ahead of a matrix pass so that the switch learns `src`.
    pub fn priming(src: MacAddr) -> Frame {
        Frame {
            src,
            dst: UNKNOWN_UNICAST_MAC,
            tags: Tags::default(),
        }
    }
}

/// IPv4 all-hosts 224.0.0.1, joined by every interface with IPv4 up.
pub const ALL_HOSTS4: MacAddr = MacAddr([0x01, 0x00, 0x5e, 0x00, 0x00, 0x01]);

/// The MAC of IPv6 all-nodes, joined by every interface with IPv6 on.
pub fn all_nodes6() -> MacAddr {
    MacAddr::for_ipv6_multicast(MULTICAST6_GROUP)
}

/// The solicited-node group (RFC 4291 2.7.1) an IPv6 address joins, as a MAC.
pub fn solicited_node(addr: Ipv6Addr) -> MacAddr {
    let o = addr.octets();
    MacAddr([0x33, 0x33, 0xff, o[13], o[14], o[15]])
}

/// The link-local address the kernel derives from a MAC (EUI-64, `addr_gen_mode` eui64).
pub fn link_local(mac: MacAddr) -> Ipv6Addr {
    let m = mac.octets();
    Ipv6Addr::from([
        0xfe,
        0x80,
        0,
        0,
        0,
        0,
        0,
        0,
        m[0] ^ 0x02,
        m[1],
        m[2],
        0xff,
        0xfe,
        m[3],
        m[4],
        m[5],
    ])
}

/// Whether an interface that has not been made promiscuous or allmulti accepts a group address:
/// broadcast, IPv4 all-hosts and IPv6 all-nodes always, and the solicited-node group of each of
/// its IPv6 addresses (`ipv6_addrs`, empty when IPv6 is off).
///
/// All-nodes is joined even with IPv6 off: `ipv6_add_dev` joins ff02::1 when it creates the
/// device's inet6_dev, which `disable_ipv6=1` (Docker's way of turning IPv6 off) does not
/// prevent. Seen on this kernel: `ip maddr` lists 33:33:00:00:00:01 on a macvlan whose namespace
/// has `disable_ipv6=1`, and it receives all-nodes frames without promiscuous mode.
pub fn joined(dst: MacAddr, ipv6_addrs: &[Ipv6Addr]) -> bool {
    dst.is_broadcast()
        || dst == ALL_HOSTS4
        || dst == all_nodes6()
        || ipv6_addrs.iter().any(|a| solicited_node(*a) == dst)
}

/// True for the classes whose destination is a group address.
pub fn is_group(addressing: Addressing) -> bool {
    matches!(
        addressing,
        Addressing::Broadcast | Addressing::Multicast4 | Addressing::Multicast6
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_stack_pushes_and_pops_outermost_first() {
        let t = Tags::one(100).pushed(7);
        assert_eq!(t.as_slice(), &[7, 100]);
        assert_eq!(t.outer(), Some(7));
        assert_eq!(t.popped().as_slice(), &[100]);
        assert_eq!(t.popped().popped(), Tags::default());
        assert_eq!(Tags::default().outer(), None);
    }

    #[test]
    fn link_local_and_solicited_node_follow_eui64() {
        let mac: MacAddr = "02:00:5e:10:00:01".parse().unwrap();
        let ll = link_local(mac);
        assert_eq!(ll.to_string(), "fe80::5eff:fe10:1");
        assert_eq!(solicited_node(ll).to_string(), "33:33:ff:10:00:01");
    }

    #[test]
    fn joins_without_promiscuity() {
        let group4 = Addressing::Multicast4.fixed_destination().unwrap();
        let ll = link_local("02:00:00:00:00:07".parse().unwrap());
        assert!(joined(MacAddr::BROADCAST, &[]));
        assert!(joined(ALL_HOSTS4, &[]));
        assert!(!joined(group4, &[ll]));
        assert!(joined(all_nodes6(), &[]));
        assert!(joined(solicited_node(ll), &[ll]));
        assert!(!joined(solicited_node(ll), &[]));
    }

    #[test]
    fn class_frames_carry_the_class_tag() {
        let src: MacAddr = "02:00:00:00:00:01".parse().unwrap();
        let to: MacAddr = "02:00:00:00:00:02".parse().unwrap();
        let f = Frame::of_class(src, FrameClass::tagged(Addressing::Unicast), to, 42);
        assert_eq!((f.dst, f.tags.as_slice()), (to, &[42][..]));
        let b = Frame::of_class(src, FrameClass::untagged(Addressing::Broadcast), to, 42);
        assert!(b.dst.is_broadcast() && b.tags.outer().is_none());
    }
}

//! What the kernel says about a namespace's links and neighbours, decoded from rtnetlink replies:
//! `LinkState` (identity, flags, 64-bit counters, a bridge's FDB fill, a macvlan's mode and
//! broadcast queue) and `Neighbour` (one ARP or ND entry). Decodes only: asking is `Rtnl`'s.

use std::net::IpAddr;

use netlink_packet_route::link::{
    InfoBridge, InfoData, InfoMacVlan, LinkAttribute, LinkFlags, LinkInfo, LinkMessage,
};
use netlink_packet_route::neighbour::{
    NeighbourAddress, NeighbourAttribute, NeighbourMessage, NeighbourState,
};

use super::request::macvlan_mode;
use crate::addr::MacAddr;
use crate::scenario::MacvlanMode;

/// What the kernel says about one link: identity, flags, counters, and for a bridge its FDB
/// fill. Counters are the kernel's 64-bit ones (IFLA_STATS64).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct LinkState {
    pub index: u32,
    pub name: String,
    pub kind: Option<String>,
    pub mac: Option<MacAddr>,
    pub alias: Option<String>,
    pub up: bool,
    /// IFLA_PROMISCUITY: how many users hold the device promiscuous.
    pub promiscuity: u32,
    /// IFLA_CARRIER: the link has a carrier (a cable, a veth peer that is up).
    pub carrier: bool,
    /// IFLA_MASTER: the device this one is enslaved to (a bridge, a bond, a VRF).
    pub master: Option<u32>,
    /// IFLA_LINK: the lower device of a stacked one (a VLAN, a macvlan) in the same namespace.
    pub lower: Option<u32>,
    pub rx_packets: u64,
    pub tx_packets: u64,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    pub rx_dropped: u64,
    pub tx_dropped: u64,
    /// Receive errors; on a macvlan, copies of a broadcast the kernel refused to queue to it
    /// (`netif_rx` failed: the CPU's backlog was full) or could not clone.
    pub rx_errors: u64,
    pub tx_errors: u64,
    pub multicast: u64,
    /// A bridge's learned FDB entries (IFLA_BR_FDB_N_LEARNED).
    pub fdb_learned: Option<u32>,
    /// A bridge's limit (IFLA_BR_FDB_MAX_LEARNED); 0 is unlimited.
    pub fdb_max_learned: Option<u32>,
    /// A macvlan's mode.
    pub macvlan_mode: Option<MacvlanMode>,
    /// The broadcast queue length the macvlans of this one's parent use (the largest any of
    /// them asked for; IFLA_MACVLAN_BC_QUEUE_LEN_USED).
    pub macvlan_bc_queue_len_used: Option<u32>,
    /// The parent's broadcast cutoff, when not the kernel's default of 1.
    pub macvlan_bc_cutoff: Option<i32>,
}

impl LinkState {
    pub(super) fn from_message(link: &LinkMessage) -> LinkState {
        let mut state = LinkState {
            index: link.header.index,
            up: link.header.flags.contains(LinkFlags::Up),
            ..LinkState::default()
        };
        for attr in &link.attributes {
            match attr {
                LinkAttribute::IfName(n) => state.name = n.clone(),
                LinkAttribute::IfAlias(a) => state.alias = Some(a.clone()),
                LinkAttribute::Address(a) => {
                    if let Ok(octets) = <[u8; 6]>::try_from(a.as_slice()) {
                        state.mac = Some(MacAddr(octets));
                    }
                }
                LinkAttribute::Promiscuity(p) => state.promiscuity = *p,
                LinkAttribute::Carrier(c) => state.carrier = *c != 0,
                LinkAttribute::Controller(m) => state.master = Some(*m),
                LinkAttribute::Link(l) if *l != state.index => state.lower = Some(*l),
                LinkAttribute::Stats64(s) => {
                    state.rx_packets = s.rx_packets;
                    state.tx_packets = s.tx_packets;
                    state.rx_bytes = s.rx_bytes;
                    state.tx_bytes = s.tx_bytes;
                    state.rx_dropped = s.rx_dropped;
                    state.tx_dropped = s.tx_dropped;
                    state.rx_errors = s.rx_errors;
                    state.tx_errors = s.tx_errors;
                    state.multicast = s.multicast;
                }
                LinkAttribute::LinkInfo(infos) => state.read_info(infos),
                _ => {}
            }
        }
        state
    }

    fn read_info(&mut self, infos: &[LinkInfo]) {
        for info in infos {
            match info {
                LinkInfo::Kind(kind) => self.kind = Some(kind.to_string()),
                LinkInfo::Data(InfoData::Bridge(data)) => {
                    for d in data {
                        match d {
                            InfoBridge::FdbNLearned(n) => self.fdb_learned = Some(*n),
                            InfoBridge::FdbMaxLearned(n) => self.fdb_max_learned = Some(*n),
                            _ => {}
                        }
                    }
                }
                LinkInfo::Data(InfoData::MacVlan(data)) => {
                    for d in data {
                        match d {
                            InfoMacVlan::Mode(mode) => {
                                self.macvlan_mode = MacvlanMode::ALL
                                    .into_iter()
                                    .find(|m| macvlan_mode(*m) == *mode);
                            }
                            InfoMacVlan::BcQueueLenUsed(n) => {
                                self.macvlan_bc_queue_len_used = Some(*n);
                            }
                            InfoMacVlan::BcCutoff(c) => self.macvlan_bc_cutoff = Some(*c),
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
    }
}

/// One neighbour table entry.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Neighbour {
    pub ifindex: u32,
    pub ip: IpAddr,
    /// The link-layer address, once resolved.
    pub mac: Option<MacAddr>,
    /// The kernel's NUD state, lower case: `reachable`, `stale`, `incomplete`, `failed`, ...
    pub state: String,
}

impl Neighbour {
    pub(super) fn from_message(n: &NeighbourMessage) -> Option<Neighbour> {
        let ip = n.attributes.iter().find_map(|a| match a {
            NeighbourAttribute::Destination(NeighbourAddress::Inet(ip)) => Some(IpAddr::V4(*ip)),
            NeighbourAttribute::Destination(NeighbourAddress::Inet6(ip)) => Some(IpAddr::V6(*ip)),
            _ => None,
        })?;
        let mac = n.attributes.iter().find_map(|a| match a {
            NeighbourAttribute::LinkLayerAddress(b) => {
                <[u8; 6]>::try_from(b.as_slice()).ok().map(MacAddr)
            }
            _ => None,
        });
        let state = match n.header.state {
            NeighbourState::Incomplete => "incomplete".to_string(),
            NeighbourState::Reachable => "reachable".into(),
            NeighbourState::Stale => "stale".into(),
            NeighbourState::Delay => "delay".into(),
            NeighbourState::Probe => "probe".into(),
            NeighbourState::Failed => "failed".into(),
            NeighbourState::Noarp => "noarp".into(),
            NeighbourState::Permanent => "permanent".into(),
            NeighbourState::None => "none".into(),
            NeighbourState::Other(v) => format!("0x{v:x}"),
            _ => "unknown".into(),
        };
        Some(Neighbour {
            ifindex: n.header.ifindex,
            ip,
            mac,
            state,
        })
    }

    /// Resolved: the kernel holds a link-layer address it may use.
    pub fn resolved(&self) -> bool {
        self.mac.is_some()
            && matches!(
                self.state.as_str(),
                "reachable" | "stale" | "delay" | "probe" | "permanent"
            )
    }
}

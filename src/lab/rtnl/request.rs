//! The requests a lab is made of, typed (`Request`, built from `LinkSpec` and `LinkKind` for links,
//! and from indexes and addresses for the rest), and their encoding into rtnetlink messages,
//! including what rtnetlink's builders lack: bridge port flags, bridge VLANs, `fdb_max_learned`,
//! macvlan source lists and flags, RTM_NEWNSID. Builds messages only: sending them is `Rtnl`'s.

use std::net::IpAddr;
use std::os::fd::{AsRawFd, BorrowedFd};

use ipnetwork::IpNetwork;
use netlink_packet_core::{NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REQUEST};
use netlink_packet_route::address::{AddressAttribute, AddressFlags};
use netlink_packet_route::link::{
    AfSpecBridge, BridgeVlanInfo, BridgeVlanInfoFlags, InfoBridge, InfoBridgePort, InfoData,
    InfoKind, InfoMacVlan, InfoMacVtap, InfoPortData, InfoPortKind, InfoVeth, InfoVlan,
    LinkAttribute, LinkFlags, LinkInfo, LinkMessage, MacVlanFlags, MacVlanMacAddressMode,
    MacVlanMode, MacVtapMode,
};
use netlink_packet_route::nsid::{NsidAttribute, NsidMessage};
use netlink_packet_route::route::{
    RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use rtnetlink::AddressMessageBuilder;

use crate::addr::MacAddr;
use crate::scenario::{MacvlanMode, Port};

/// A netlink request with a description of what it does, for error messages.
#[derive(Debug)]
pub struct Request {
    pub(super) message: RouteNetlinkMessage,
    pub(super) flags: u16,
    pub(super) what: String,
}

const CREATE: u16 = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
const CHANGE: u16 = NLM_F_REQUEST | NLM_F_ACK;

impl Request {
    pub fn what(&self) -> &str {
        &self.what
    }

    /// Replaces the description used in error messages.
    pub fn describe(&mut self, what: String) {
        self.what = what;
    }

    /// Creates a link of `kind` as `spec` says (RTM_NEWLINK, exclusive).
    pub fn new_link(spec: &LinkSpec, kind: &LinkKind) -> Request {
        Request {
            message: RouteNetlinkMessage::NewLink(spec.message(Some(kind))),
            flags: CREATE,
            what: format!("creating {} {}", kind.name(), spec.name),
        }
    }

    /// Sets a bridge port's flags (IFLA_BRPORT_*) through the port's slave data.
    pub fn bridge_port(index: u32, port: &Port) -> Request {
        let mut link = LinkMessage::default();
        link.header.index = index;
        link.attributes.push(LinkAttribute::LinkInfo(vec![
            LinkInfo::PortKind(InfoPortKind::Bridge),
            LinkInfo::PortData(InfoPortData::BridgePort(vec![
                InfoBridgePort::HairpinMode(port.hairpin),
                InfoBridgePort::Learning(port.learning),
                InfoBridgePort::UnicastFlood(port.unicast_flood),
                InfoBridgePort::MulticastFlood(port.multicast_flood),
                InfoBridgePort::BroadcastFlood(port.broadcast_flood),
            ])),
        ]));
        Request {
            message: RouteNetlinkMessage::NewLink(link),
            flags: CHANGE,
            what: format!("setting the flags of bridge port {}", port.name),
        }
    }

    /// Makes bridge port `index` a member of each VLAN of `vlans` (VID, and whether untagged
    /// frames belong to it and it leaves untagged: `pvid untagged`), as `bridge vlan add` does
    /// (RTM_SETLINK, AF_BRIDGE, IFLA_BRIDGE_VLAN_INFO).
    pub fn bridge_vlans(index: u32, vlans: &[(u16, bool)], what: impl Into<String>) -> Request {
        Request {
            message: RouteNetlinkMessage::SetLink(bridge_vlan_message(index, vlans)),
            flags: CHANGE,
            what: what.into(),
        }
    }

    /// Takes bridge port `index` out of VLAN `vid`, as `bridge vlan del` does (RTM_DELLINK,
    /// AF_BRIDGE).
    pub fn bridge_vlan_del(index: u32, vid: u16, what: impl Into<String>) -> Request {
        Request {
            message: RouteNetlinkMessage::DelLink(bridge_vlan_message(index, &[(vid, false)])),
            flags: CHANGE,
            what: what.into(),
        }
    }

    /// Brings link `index` up.
    pub fn set_up(index: u32, what: impl Into<String>) -> Request {
        let mut link = LinkMessage::default();
        link.header.index = index;
        link.header.flags = LinkFlags::Up;
        link.header.change_mask = LinkFlags::Up;
        Request {
            message: RouteNetlinkMessage::SetLink(link),
            flags: CHANGE,
            what: what.into(),
        }
    }

    /// Sets link `index`'s IFLA_IFALIAS (the kernel ignores it in a creation request).
    pub fn set_alias(index: u32, alias: &str, what: impl Into<String>) -> Request {
        let mut link = LinkMessage::default();
        link.header.index = index;
        link.attributes
            .push(LinkAttribute::IfAlias(alias.to_string()));
        Request {
            message: RouteNetlinkMessage::SetLink(link),
            flags: CHANGE,
            what: what.into(),
        }
    }

    /// Moves link `index` into the namespace open at `netns`, renamed `name` there, with the
    /// ifindex `new_index` when given (IFLA_NEW_IFINDEX; otherwise it keeps its own unless
    /// that is taken there). The move takes it down and its addresses away; what is stacked on
    /// it stays, wherever it is.
    pub fn move_link(
        index: u32,
        netns: BorrowedFd<'_>,
        name: &str,
        new_index: Option<u32>,
        what: impl Into<String>,
    ) -> Request {
        let mut link = LinkMessage::default();
        link.header.index = index;
        link.attributes
            .push(LinkAttribute::NetNsFd(netns.as_raw_fd()));
        link.attributes
            .push(LinkAttribute::IfName(name.to_string()));
        if let Some(i) = new_index {
            link.attributes.push(LinkAttribute::NewIfIndex(i as i32));
        }
        Request {
            message: RouteNetlinkMessage::SetLink(link),
            flags: CHANGE,
            what: what.into(),
        }
    }

    /// Deletes the link called `name` (with everything stacked on it, and a veth's peer).
    pub fn del_link(name: &str) -> Request {
        let mut link = LinkMessage::default();
        link.attributes
            .push(LinkAttribute::IfName(name.to_string()));
        Request {
            message: RouteNetlinkMessage::DelLink(link),
            flags: CHANGE,
            what: format!("deleting link {name}"),
        }
    }

    /// Adds `ip/prefix` to link `index`; IPv6 addresses skip duplicate address detection, so
    /// they are usable at once.
    pub fn add_address(index: u32, ip: IpAddr, prefix: u8, what: impl Into<String>) -> Request {
        let message = match ip {
            IpAddr::V4(a) => AddressMessageBuilder::<std::net::Ipv4Addr>::new()
                .index(index)
                .address(a, prefix)
                .build(),
            IpAddr::V6(a) => {
                let mut m = AddressMessageBuilder::<std::net::Ipv6Addr>::new()
                    .index(index)
                    .address(a, prefix)
                    .build();
                m.attributes
                    .push(AddressAttribute::Flags(AddressFlags::Nodad));
                m
            }
        };
        Request {
            message: RouteNetlinkMessage::NewAddress(message),
            flags: CREATE,
            what: what.into(),
        }
    }

    /// Adds a route to `destination` out of link `index`, via `gateway` when given (else
    /// on-link).
    pub fn add_route(
        index: u32,
        destination: IpNetwork,
        gateway: Option<IpAddr>,
        what: impl Into<String>,
    ) -> Request {
        let mut route = RouteMessage::default();
        route.header.address_family = match destination {
            IpNetwork::V4(_) => AddressFamily::Inet,
            IpNetwork::V6(_) => AddressFamily::Inet6,
        };
        route.header.destination_prefix_length = destination.prefix();
        route.header.table = RouteHeader::RT_TABLE_MAIN;
        route.header.protocol = RouteProtocol::Static;
        route.header.kind = RouteType::Unicast;
        route.header.scope = if gateway.is_some() {
            RouteScope::Universe
        } else {
            RouteScope::Link
        };
        route
            .attributes
            .push(RouteAttribute::Destination(destination.network().into()));
        if let Some(gw) = gateway {
            route.attributes.push(RouteAttribute::Gateway(gw.into()));
        }
        route.attributes.push(RouteAttribute::Oif(index));
        Request {
            message: RouteNetlinkMessage::NewRoute(route),
            flags: CREATE,
            what: what.into(),
        }
    }

    /// Forgets every entry bridge `index` learned (IFLA_BR_FDB_FLUSH: static and local entries
    /// stay), as `ip link set BRIDGE type bridge fdb_flush` does.
    pub fn flush_bridge_fdb(index: u32, what: impl Into<String>) -> Request {
        let mut link = LinkMessage::default();
        link.header.index = index;
        link.attributes.push(LinkAttribute::LinkInfo(vec![
            LinkInfo::Kind(InfoKind::Bridge),
            LinkInfo::Data(InfoData::Bridge(vec![InfoBridge::FdbFlush])),
        ]));
        Request {
            message: RouteNetlinkMessage::NewLink(link),
            flags: CHANGE,
            what: what.into(),
        }
    }

    /// Gives the namespace open at `fd` the id `id` in the socket's namespace (RTM_NEWNSID).
    pub fn new_nsid(fd: BorrowedFd<'_>, id: i32, what: impl Into<String>) -> Request {
        let mut message = NsidMessage::default();
        message
            .attributes
            .push(NsidAttribute::Fd(fd.as_raw_fd() as u32));
        message.attributes.push(NsidAttribute::Id(id));
        Request {
            message: RouteNetlinkMessage::NewNsId(message),
            flags: CHANGE,
            what: what.into(),
        }
    }
}

/// An AF_BRIDGE link message for port `index` with one IFLA_BRIDGE_VLAN_INFO per VLAN.
fn bridge_vlan_message(index: u32, vlans: &[(u16, bool)]) -> LinkMessage {
    let mut link = LinkMessage::default();
    link.header.interface_family = AddressFamily::Bridge;
    link.header.index = index;
    link.attributes.push(LinkAttribute::AfSpecBridge(
        vlans
            .iter()
            .map(|&(vid, untagged)| {
                AfSpecBridge::VlanInfo(BridgeVlanInfo {
                    flags: if untagged {
                        BridgeVlanInfoFlags::Pvid | BridgeVlanInfoFlags::Untagged
                    } else {
                        BridgeVlanInfoFlags::empty()
                    },
                    vid,
                })
            })
            .collect(),
    ));
    link
}

/// What every link to create has, whatever its kind: identity, placement, MAC, state.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LinkSpec {
    pub name: String,
    /// The ifindex to give it in its namespace; 0 lets the kernel choose.
    pub index: u32,
    pub mac: Option<MacAddr>,
    pub mtu: Option<u32>,
    /// IFF_UP at creation.
    pub up: bool,
    /// IFLA_LINK: the lower device, by index in the sending socket's namespace.
    pub lower: Option<u32>,
    /// IFLA_NET_NS_FD: the link is created directly in this namespace (an open namespace fd
    /// that must stay open until the request is answered).
    pub netns: Option<i32>,
    /// IFLA_MASTER: enslaved to this bridge (index in the link's namespace) at creation.
    pub master: Option<u32>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum LinkKind {
    /// A veth pair; this is the peer end.
    Veth(LinkSpec),
    Bridge(BridgeSpec),
    Macvlan(MacvlanSpec),
    Macvtap(MacvlanMode),
    /// An 802.1Q sub-interface with this id.
    Vlan(u16),
    Dummy,
    Ipvlan,
}

impl LinkKind {
    pub fn name(&self) -> &'static str {
        match self {
            LinkKind::Veth(_) => "veth",
            LinkKind::Bridge(_) => "bridge",
            LinkKind::Macvlan(_) => "macvlan",
            LinkKind::Macvtap(_) => "macvtap",
            LinkKind::Vlan(_) => "vlan",
            LinkKind::Dummy => "dummy",
            LinkKind::Ipvlan => "ipvlan",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct BridgeSpec {
    /// FDB ageing time in seconds.
    pub ageing_time: Option<u32>,
    pub fdb_max_learned: Option<u32>,
    pub multicast_snooping: Option<bool>,
    pub vlan_filtering: Option<bool>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MacvlanSpec {
    pub mode: MacvlanMode,
    pub nopromisc: bool,
    pub nodst: bool,
    /// Source mode: the allowed source MACs (IFLA_MACVLAN_MACADDR_DATA with mode SET).
    pub source_macs: Vec<MacAddr>,
    pub bcqueuelen: Option<u32>,
    pub bc_cutoff: Option<i32>,
}

impl MacvlanSpec {
    pub fn new(mode: MacvlanMode) -> MacvlanSpec {
        MacvlanSpec {
            mode,
            nopromisc: false,
            nodst: false,
            source_macs: Vec::new(),
            bcqueuelen: None,
            bc_cutoff: None,
        }
    }
}

pub(super) fn macvlan_mode(mode: MacvlanMode) -> MacVlanMode {
    match mode {
        MacvlanMode::Bridge => MacVlanMode::Bridge,
        MacvlanMode::Vepa => MacVlanMode::Vepa,
        MacvlanMode::Private => MacVlanMode::Private,
        MacvlanMode::Passthru => MacVlanMode::Passthrough,
        MacvlanMode::Source => MacVlanMode::Source,
    }
}

fn macvtap_mode(mode: MacvlanMode) -> MacVtapMode {
    match mode {
        MacvlanMode::Bridge => MacVtapMode::Bridge,
        MacvlanMode::Vepa => MacVtapMode::Vepa,
        MacvlanMode::Private => MacVtapMode::Private,
        MacvlanMode::Passthru => MacVtapMode::Passthrough,
        MacvlanMode::Source => MacVtapMode::Source,
    }
}

impl LinkSpec {
    /// A link called `name`, with every optional setting left to the kernel.
    pub fn new(name: impl Into<String>) -> LinkSpec {
        LinkSpec {
            name: name.into(),
            ..LinkSpec::default()
        }
    }

    /// The RTM_NEWLINK body; without `kind` (a veth's peer) it carries no IFLA_LINKINFO.
    fn message(&self, kind: Option<&LinkKind>) -> LinkMessage {
        let mut link = LinkMessage::default();
        link.header.index = self.index;
        if self.up {
            link.header.flags = LinkFlags::Up;
            link.header.change_mask = LinkFlags::Up;
        }
        let attrs = &mut link.attributes;
        attrs.push(LinkAttribute::IfName(self.name.clone()));
        if let Some(mac) = self.mac {
            attrs.push(LinkAttribute::Address(mac.octets().to_vec()));
        }
        if let Some(mtu) = self.mtu {
            attrs.push(LinkAttribute::Mtu(mtu));
        }
        if let Some(lower) = self.lower {
            attrs.push(LinkAttribute::Link(lower));
        }
        if let Some(fd) = self.netns {
            attrs.push(LinkAttribute::NetNsFd(fd));
        }
        if let Some(master) = self.master {
            attrs.push(LinkAttribute::Controller(master));
        }
        let Some(kind) = kind else {
            return link;
        };
        let (kind, data) = match kind {
            LinkKind::Veth(peer) => (
                InfoKind::Veth,
                Some(InfoData::Veth(InfoVeth::Peer(peer.message(None)))),
            ),
            LinkKind::Bridge(b) => {
                let mut data = Vec::new();
                if let Some(t) = b.ageing_time {
                    // IFLA_BR_AGEING_TIME is in clock_t (centiseconds).
                    data.push(InfoBridge::AgeingTime(t.saturating_mul(100)));
                }
                if let Some(m) = b.fdb_max_learned {
                    data.push(InfoBridge::FdbMaxLearned(m));
                }
                if let Some(s) = b.multicast_snooping {
                    data.push(InfoBridge::MulticastSnooping(s));
                }
                if let Some(f) = b.vlan_filtering {
                    data.push(InfoBridge::VlanFiltering(f));
                }
                (InfoKind::Bridge, Some(InfoData::Bridge(data)))
            }
            LinkKind::Macvlan(m) => {
                let mut data = vec![InfoMacVlan::Mode(macvlan_mode(m.mode))];
                let mut flags = MacVlanFlags::empty();
                if m.nopromisc {
                    flags |= MacVlanFlags::NoPromisc;
                }
                if m.nodst {
                    flags |= MacVlanFlags::NoDst;
                }
                if !flags.is_empty() {
                    data.push(InfoMacVlan::Flags(flags));
                }
                if !m.source_macs.is_empty() {
                    data.push(InfoMacVlan::MacAddrMode(MacVlanMacAddressMode::Set));
                    data.push(InfoMacVlan::MacAddrData(
                        m.source_macs
                            .iter()
                            .map(|mac| InfoMacVlan::MacAddr(mac.octets()))
                            .collect(),
                    ));
                }
                if let Some(q) = m.bcqueuelen {
                    data.push(InfoMacVlan::BcQueueLen(q));
                }
                if let Some(c) = m.bc_cutoff {
                    data.push(InfoMacVlan::BcCutoff(c));
                }
                (InfoKind::MacVlan, Some(InfoData::MacVlan(data)))
            }
            LinkKind::Macvtap(mode) => (
                InfoKind::MacVtap,
                Some(InfoData::MacVtap(vec![InfoMacVtap::Mode(macvtap_mode(
                    *mode,
                ))])),
            ),
            LinkKind::Vlan(id) => (
                InfoKind::Vlan,
                Some(InfoData::Vlan(vec![InfoVlan::Id(*id)])),
            ),
            LinkKind::Dummy => (InfoKind::Dummy, None),
            LinkKind::Ipvlan => (InfoKind::IpVlan, None),
        };
        let mut info = vec![LinkInfo::Kind(kind)];
        info.extend(data.map(LinkInfo::Data));
        attrs.push(LinkAttribute::LinkInfo(info));
        link
    }
}

#[cfg(test)]
mod tests {
    use netlink_packet_core::{Emitable, Parseable};

    use super::*;

    fn round_trip(spec: &LinkSpec, kind: &LinkKind) -> LinkMessage {
        let message = spec.message(Some(kind));
        let mut bytes = vec![0; message.buffer_len()];
        message.emit(&mut bytes);
        LinkMessage::parse(bytes.as_slice()).unwrap()
    }

    fn info_data(link: &LinkMessage) -> Option<&InfoData> {
        link.attributes.iter().find_map(|a| match a {
            LinkAttribute::LinkInfo(infos) => infos.iter().find_map(|i| match i {
                LinkInfo::Data(d) => Some(d),
                _ => None,
            }),
            _ => None,
        })
    }

    #[test]
    fn macvlan_message_carries_mode_flags_sources_and_placement() {
        let mut spec = LinkSpec::new("eth0");
        let kind = LinkKind::Macvlan(MacvlanSpec {
            mode: MacvlanMode::Source,
            nopromisc: false,
            nodst: true,
            source_macs: vec![MacAddr([2, 0, 0, 0, 0, 1]), MacAddr([2, 0, 0, 0, 0, 2])],
            bcqueuelen: Some(100),
            bc_cutoff: None,
        });
        spec.index = 2;
        spec.up = true;
        spec.lower = Some(7);
        spec.netns = Some(42);
        spec.master = Some(3);
        spec.mac = Some(MacAddr([2, 0, 0, 0, 0, 9]));
        let link = round_trip(&spec, &kind);
        assert_eq!(link.header.index, 2);
        assert!(link.header.flags.contains(LinkFlags::Up));
        assert!(link.attributes.contains(&LinkAttribute::Link(7)));
        assert!(link.attributes.contains(&LinkAttribute::NetNsFd(42)));
        assert!(link.attributes.contains(&LinkAttribute::Controller(3)));
        assert!(
            link.attributes
                .contains(&LinkAttribute::Address(vec![2, 0, 0, 0, 0, 9]))
        );
        let Some(InfoData::MacVlan(data)) = info_data(&link) else {
            panic!("no macvlan data in {link:?}");
        };
        assert!(data.contains(&InfoMacVlan::Mode(MacVlanMode::Source)));
        assert!(data.contains(&InfoMacVlan::Flags(MacVlanFlags::NoDst)));
        assert!(data.contains(&InfoMacVlan::MacAddrMode(MacVlanMacAddressMode::Set)));
        assert!(data.contains(&InfoMacVlan::MacAddrData(vec![
            InfoMacVlan::MacAddr([2, 0, 0, 0, 0, 1]),
            InfoMacVlan::MacAddr([2, 0, 0, 0, 0, 2]),
        ])));
        assert!(data.contains(&InfoMacVlan::BcQueueLen(100)));
    }

    #[test]
    fn veth_peer_is_a_full_link_message() {
        let mut peer = LinkSpec::new("p0");
        peer.netns = Some(5);
        peer.index = 3;
        peer.up = true;
        let mut spec = LinkSpec::new("eth0");
        spec.mtu = Some(9000);
        let link = round_trip(&spec, &LinkKind::Veth(peer));
        assert!(link.attributes.contains(&LinkAttribute::Mtu(9000)));
        let Some(InfoData::Veth(InfoVeth::Peer(peer))) = info_data(&link) else {
            panic!("no veth peer in {link:?}");
        };
        assert_eq!(peer.header.index, 3);
        assert!(peer.header.flags.contains(LinkFlags::Up));
        assert!(
            peer.attributes
                .contains(&LinkAttribute::IfName("p0".into()))
        );
        assert!(peer.attributes.contains(&LinkAttribute::NetNsFd(5)));
        assert!(
            !peer
                .attributes
                .iter()
                .any(|a| matches!(a, LinkAttribute::LinkInfo(_)))
        );
    }

    #[test]
    fn bridge_ageing_time_is_sent_in_centiseconds() {
        let link = round_trip(
            &LinkSpec::new("br0"),
            &LinkKind::Bridge(BridgeSpec {
                ageing_time: Some(300),
                fdb_max_learned: Some(16),
                multicast_snooping: Some(false),
                vlan_filtering: None,
            }),
        );
        let Some(InfoData::Bridge(data)) = info_data(&link) else {
            panic!("no bridge data in {link:?}");
        };
        assert!(data.contains(&InfoBridge::AgeingTime(30000)));
        assert!(data.contains(&InfoBridge::FdbMaxLearned(16)));
        assert!(data.contains(&InfoBridge::MulticastSnooping(false)));
    }
}

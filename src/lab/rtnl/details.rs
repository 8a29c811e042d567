//! The whole picture of a namespace's links, addresses and routes as the kernel reports them, for
//! reading a machine mvlab did not build (`mvlab inspect`): `LinkDetail` (kind, the link it hangs
//! off and that link's namespace id, bridge master, macvlan mode and flags, broadcast queue,
//! VLAN id, bridge and bridge-port settings), `AddressEntry`, `RouteEntry`, and the dumps that
//! read them. Read-only: every request here is a GET; nothing is created, changed or deleted.

use std::net::IpAddr;
use std::os::fd::{AsRawFd, BorrowedFd};

use futures::StreamExt;
use netlink_packet_core::{NLM_F_REQUEST, NetlinkMessage, NetlinkPayload};
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::link::{
    InfoBridge, InfoBridgePort, InfoData, InfoMacVlan, InfoMacVtap, InfoPortData, InfoVlan,
    LinkAttribute, LinkFlags, LinkInfo, LinkLayerType, LinkMessage, MacVlanFlags,
};
use netlink_packet_route::nsid::{NsidAttribute, NsidMessage};
use netlink_packet_route::route::{RouteAddress, RouteAttribute, RouteMessage};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};

use super::request::macvlan_mode;
use super::{Rtnl, RtnlError};
use crate::addr::MacAddr;
use crate::scenario::MacvlanMode;

/// A bridge port's flags (IFLA_BRPORT_*), as `bridge -d link` shows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct PortFlags {
    pub hairpin: bool,
    pub learning: bool,
    pub unicast_flood: bool,
    pub multicast_flood: bool,
    pub broadcast_flood: bool,
}

impl Default for PortFlags {
    /// The kernel's defaults for a new port.
    fn default() -> PortFlags {
        PortFlags {
            hairpin: false,
            learning: true,
            unicast_flood: true,
            multicast_flood: true,
            broadcast_flood: true,
        }
    }
}

/// A bridge device's settings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct BridgeSettings {
    pub vlan_filtering: bool,
    /// Seconds (the kernel reports centiseconds).
    pub ageing_time: u32,
    pub multicast_snooping: bool,
    /// 0 or absent: unlimited.
    pub fdb_max_learned: Option<u32>,
}

/// One link with everything `inspect` needs to place it.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct LinkDetail {
    pub index: u32,
    pub name: String,
    /// IFLA_INFO_KIND (`macvlan`, `veth`, `bridge`, ...); `None` for a physical device or `lo`.
    pub kind: Option<String>,
    pub loopback: bool,
    pub mac: Option<MacAddr>,
    pub mtu: u32,
    pub up: bool,
    pub promiscuity: u32,
    /// IFLA_LINK: the parent of a macvlan or vlan, the peer of a veth (an ifindex in the
    /// namespace `link_netnsid` names, or in this one).
    pub link: Option<u32>,
    /// IFLA_LINK_NETNSID: the id, as this namespace numbers it, of the namespace `link` is in.
    pub link_netnsid: Option<i32>,
    /// IFLA_MASTER: the bridge (or other controller) this link is enslaved to.
    pub master: Option<u32>,
    pub macvlan: Option<MacvlanDetail>,
    /// A vlan link's 802.1Q id.
    pub vlan_id: Option<u16>,
    pub bridge: Option<BridgeSettings>,
    /// A bridge port's flags.
    pub port: Option<PortFlags>,
    pub rx_packets: u64,
    pub tx_packets: u64,
}

/// A macvlan's or macvtap's own settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct MacvlanDetail {
    pub mode: Option<MacvlanMode>,
    pub nopromisc: bool,
    pub nodst: bool,
    /// Source mode: the source MACs it accepts.
    pub source_macs: Vec<MacAddr>,
    /// The queue length this device asked for (IFLA_MACVLAN_BC_QUEUE_LEN).
    pub bc_queue_len: Option<u32>,
    /// The length the parent's port uses: the largest any of its devices asked for.
    pub bc_queue_len_used: Option<u32>,
    pub bc_cutoff: Option<i32>,
}

/// One address of a link.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AddressEntry {
    pub index: u32,
    pub ip: IpAddr,
    pub prefix: u8,
}

/// One route of the main table.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RouteEntry {
    pub destination: Option<IpAddr>,
    pub prefix: u8,
    pub gateway: Option<IpAddr>,
    /// The output link's ifindex.
    pub oif: Option<u32>,
}

/// The main routing table's id.
const RT_TABLE_MAIN: u32 = 254;

impl LinkDetail {
    fn from_message(link: &LinkMessage) -> LinkDetail {
        let mut d = LinkDetail {
            index: link.header.index,
            up: link.header.flags.contains(LinkFlags::Up),
            loopback: link.header.link_layer_type == LinkLayerType::Loopback,
            ..LinkDetail::default()
        };
        for attr in &link.attributes {
            match attr {
                LinkAttribute::IfName(n) => d.name = n.clone(),
                LinkAttribute::Address(a) => {
                    d.mac = <[u8; 6]>::try_from(a.as_slice()).ok().map(MacAddr)
                }
                LinkAttribute::Mtu(m) => d.mtu = *m,
                LinkAttribute::Promiscuity(p) => d.promiscuity = *p,
                LinkAttribute::Link(l) => d.link = Some(*l),
                LinkAttribute::LinkNetNsId(id) => d.link_netnsid = Some(*id),
                LinkAttribute::Controller(m) => d.master = Some(*m),
                LinkAttribute::Stats64(s) => {
                    d.rx_packets = s.rx_packets;
                    d.tx_packets = s.tx_packets;
                }
                LinkAttribute::LinkInfo(infos) => d.read_info(infos),
                _ => {}
            }
        }
        // A link is its own IFLA_LINK for most kinds that have no lower device.
        if d.link == Some(d.index) && d.link_netnsid.is_none() {
            d.link = None;
        }
        d
    }

    fn read_info(&mut self, infos: &[LinkInfo]) {
        for info in infos {
            match info {
                LinkInfo::Kind(kind) => self.kind = Some(kind.to_string()),
                LinkInfo::Data(InfoData::MacVlan(data)) => {
                    self.macvlan = Some(macvlan_detail(data.iter().map(MacvlanNla::from)));
                }
                LinkInfo::Data(InfoData::MacVtap(data)) => {
                    self.macvlan = Some(macvlan_detail(data.iter().map(MacvlanNla::from)));
                }
                LinkInfo::Data(InfoData::Vlan(data)) => {
                    self.vlan_id = data.iter().find_map(|d| match d {
                        InfoVlan::Id(id) => Some(*id),
                        _ => None,
                    });
                }
                LinkInfo::Data(InfoData::Bridge(data)) => {
                    let mut b = BridgeSettings::default();
                    for d in data {
                        match d {
                            InfoBridge::VlanFiltering(on) => b.vlan_filtering = *on,
                            InfoBridge::AgeingTime(t) => b.ageing_time = t / 100,
                            InfoBridge::MulticastSnooping(on) => b.multicast_snooping = *on,
                            InfoBridge::FdbMaxLearned(n) if *n > 0 => b.fdb_max_learned = Some(*n),
                            _ => {}
                        }
                    }
                    self.bridge = Some(b);
                }
                LinkInfo::PortData(InfoPortData::BridgePort(data)) => {
                    let mut p = PortFlags::default();
                    for d in data {
                        match d {
                            InfoBridgePort::HairpinMode(on) => p.hairpin = *on,
                            InfoBridgePort::Learning(on) => p.learning = *on,
                            InfoBridgePort::UnicastFlood(on) => p.unicast_flood = *on,
                            InfoBridgePort::MulticastFlood(on) => p.multicast_flood = *on,
                            InfoBridgePort::BroadcastFlood(on) => p.broadcast_flood = *on,
                            _ => {}
                        }
                    }
                    self.port = Some(p);
                }
                _ => {}
            }
        }
    }
}

/// The attributes macvlan and macvtap share (the crate has one enum for each).
enum MacvlanNla {
    Mode(u32),
    Flags(MacVlanFlags),
    Source(Option<MacAddr>),
    QueueLen(u32),
    QueueLenUsed(u32),
    Cutoff(i32),
    Other,
}

impl From<&InfoMacVlan> for MacvlanNla {
    fn from(d: &InfoMacVlan) -> MacvlanNla {
        match d {
            InfoMacVlan::Mode(m) => MacvlanNla::Mode(u32::from(*m)),
            InfoMacVlan::Flags(f) => MacvlanNla::Flags(*f),
            InfoMacVlan::MacAddrData(list) => {
                MacvlanNla::Source(list.iter().find_map(|a| match a {
                    InfoMacVlan::MacAddr(m) => Some(MacAddr(*m)),
                    _ => None,
                }))
            }
            InfoMacVlan::BcQueueLen(n) => MacvlanNla::QueueLen(*n),
            InfoMacVlan::BcQueueLenUsed(n) => MacvlanNla::QueueLenUsed(*n),
            InfoMacVlan::BcCutoff(c) => MacvlanNla::Cutoff(*c),
            _ => MacvlanNla::Other,
        }
    }
}

impl From<&InfoMacVtap> for MacvlanNla {
    fn from(d: &InfoMacVtap) -> MacvlanNla {
        match d {
            InfoMacVtap::Mode(m) => MacvlanNla::Mode(u32::from(*m)),
            InfoMacVtap::Flags(f) => MacvlanNla::Flags(*f),
            InfoMacVtap::BcQueueLen(n) => MacvlanNla::QueueLen(*n),
            InfoMacVtap::BcQueueLenUsed(n) => MacvlanNla::QueueLenUsed(*n),
            InfoMacVtap::BcCutoff(c) => MacvlanNla::Cutoff(*c),
            _ => MacvlanNla::Other,
        }
    }
}

fn macvlan_detail(nlas: impl Iterator<Item = MacvlanNla>) -> MacvlanDetail {
    let mut d = MacvlanDetail::default();
    for nla in nlas {
        match nla {
            MacvlanNla::Mode(raw) => {
                d.mode = MacvlanMode::ALL
                    .into_iter()
                    .find(|m| u32::from(macvlan_mode(*m)) == raw);
            }
            MacvlanNla::Flags(f) => {
                d.nopromisc = f.contains(MacVlanFlags::NoPromisc);
                d.nodst = f.contains(MacVlanFlags::NoDst);
            }
            MacvlanNla::Source(Some(mac)) => d.source_macs.push(mac),
            MacvlanNla::QueueLen(n) => d.bc_queue_len = Some(n),
            MacvlanNla::QueueLenUsed(n) => d.bc_queue_len_used = Some(n),
            MacvlanNla::Cutoff(c) => d.bc_cutoff = Some(c),
            MacvlanNla::Source(None) | MacvlanNla::Other => {}
        }
    }
    d
}

fn route_ip(a: &RouteAddress) -> Option<IpAddr> {
    match a {
        RouteAddress::Inet(ip) => Some(IpAddr::V4(*ip)),
        RouteAddress::Inet6(ip) => Some(IpAddr::V6(*ip)),
        _ => None,
    }
}

impl Rtnl {
    /// Every link of this socket's namespace, in full.
    pub async fn link_details(&self) -> Result<Vec<LinkDetail>, RtnlError> {
        self.dump(
            RouteNetlinkMessage::GetLink(LinkMessage::default()),
            "listing links",
            |m| match m {
                RouteNetlinkMessage::NewLink(link) => Some(LinkDetail::from_message(&link)),
                _ => None,
            },
        )
        .await
    }

    /// Every IPv4 and IPv6 address of this socket's namespace.
    pub async fn addresses(&self) -> Result<Vec<AddressEntry>, RtnlError> {
        self.dump(
            RouteNetlinkMessage::GetAddress(AddressMessage::default()),
            "listing addresses",
            |m| match m {
                RouteNetlinkMessage::NewAddress(a) => {
                    let ip = a.attributes.iter().find_map(|attr| match attr {
                        AddressAttribute::Address(ip) => Some(*ip),
                        _ => None,
                    })?;
                    Some(AddressEntry {
                        index: a.header.index,
                        ip,
                        prefix: a.header.prefix_len,
                    })
                }
                _ => None,
            },
        )
        .await
    }

    /// The unicast routes of the main table of `family`.
    pub async fn routes(&self, family: AddressFamily) -> Result<Vec<RouteEntry>, RtnlError> {
        let mut request = RouteMessage::default();
        request.header.address_family = family;
        self.dump(
            RouteNetlinkMessage::GetRoute(request),
            "listing routes",
            |m| match m {
                RouteNetlinkMessage::NewRoute(r) => {
                    let table = r
                        .attributes
                        .iter()
                        .find_map(|a| match a {
                            RouteAttribute::Table(t) => Some(*t),
                            _ => None,
                        })
                        .unwrap_or(u32::from(r.header.table));
                    if table != RT_TABLE_MAIN {
                        return None;
                    }
                    let mut route = RouteEntry {
                        destination: None,
                        prefix: r.header.destination_prefix_length,
                        gateway: None,
                        oif: None,
                    };
                    for a in &r.attributes {
                        match a {
                            RouteAttribute::Destination(d) => route.destination = route_ip(d),
                            RouteAttribute::Gateway(g) => route.gateway = route_ip(g),
                            RouteAttribute::Oif(o) => route.oif = Some(*o),
                            _ => {}
                        }
                    }
                    Some(route)
                }
                _ => None,
            },
        )
        .await
    }

    /// The id this socket's namespace gives the namespace behind `fd`, when it has given it one.
    /// Asks with RTM_GETNSID, which only looks the id up (`peernet2id`) and never assigns one.
    pub async fn nsid_of(&self, fd: BorrowedFd<'_>) -> Result<Option<i32>, RtnlError> {
        let mut request = NsidMessage::default();
        request.header.family = AddressFamily::Unspec;
        request
            .attributes
            .push(NsidAttribute::Fd(fd.as_raw_fd() as u32));
        let mut message = NetlinkMessage::from(RouteNetlinkMessage::GetNsId(request));
        message.header.flags = NLM_F_REQUEST;
        let what = "looking up a namespace id";
        let mut handle = self.handle.clone();
        let mut answers = handle
            .request(message)
            .map_err(|_| RtnlError::closed(what))?;
        while let Some(answer) = answers.next().await {
            match answer.payload {
                NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewNsId(m)) => {
                    return Ok(m.attributes.iter().find_map(|a| match a {
                        NsidAttribute::Id(id) if *id >= 0 => Some(*id),
                        _ => None,
                    }));
                }
                NetlinkPayload::Error(e) => {
                    if let Some(code) = e.code {
                        return Err(RtnlError {
                            what: what.to_string(),
                            source: std::io::Error::from_raw_os_error(-code.get()),
                        });
                    }
                }
                _ => {}
            }
        }
        Err(RtnlError::closed(what))
    }
}

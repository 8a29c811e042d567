//! The netlink layer of the lab. Owns one rtnetlink connection per namespace (`Rtnl`), the typed
//! requests a lab is made of (`Request` built from `LinkSpec`, addresses, routes, nsids), their
//! encoding into netlink messages (including what rtnetlink's builders lack: bridge port flags,
//! `fdb_max_learned`, macvlan source lists and flags, RTM_NEWNSID), pipelined execution, and the
//! reads later measurements need (`LinkState`: counters, promiscuity, bridge FDB fill). It knows
//! nothing of scenarios, lab names or registries, and it is the only code in mvlab that speaks
//! rtnetlink.
//!
//! Ordering: the kernel runs each request synchronously inside the `sendmsg` that carries it, and a
//! connection sends its requests in submission order, so requests sent on ONE socket take effect in
//! the order given to `Rtnl::run_all`. Requests on different sockets are unordered.

use std::io;
use std::net::IpAddr;
use std::os::fd::{AsRawFd, BorrowedFd};

use futures::channel::mpsc::UnboundedReceiver;
use futures::stream::{self, StreamExt, TryStreamExt};
use ipnetwork::IpNetwork;
use netlink_packet_core::{
    NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_REQUEST, NetlinkMessage, NetlinkPayload,
};
use netlink_packet_route::address::{AddressAttribute, AddressFlags};
use netlink_packet_route::link::{
    AfSpecBridge, BridgeVlanInfo, BridgeVlanInfoFlags, InfoBridge, InfoBridgePort, InfoData,
    InfoKind, InfoMacVlan, InfoMacVtap, InfoPortData, InfoPortKind, InfoVeth, InfoVlan,
    LinkAttribute, LinkFlags, LinkInfo, LinkMessage, MacVlanFlags, MacVlanMacAddressMode,
    MacVlanMode, MacVtapMode,
};
use netlink_packet_route::neighbour::{
    NeighbourAddress, NeighbourAttribute, NeighbourMessage, NeighbourState,
};
use netlink_packet_route::nsid::{NsidAttribute, NsidMessage};
use netlink_packet_route::route::{
    RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::{AsyncSocket, SocketAddr};
use rtnetlink::AddressMessageBuilder;

use crate::addr::MacAddr;
use crate::scenario::{MacvlanMode, Port};

/// Requests in flight at once on one socket: enough to keep the kernel busy, few enough that the
/// acknowledgements always fit the socket's receive buffer.
pub const WINDOW: usize = 64;

/// The multicast group of RTM_NEWNSID / RTM_DELNSID notifications (RTNLGRP_NSID).
const RTNLGRP_NSID: u32 = 28;

/// Receive buffer of a socket that collects notifications (one per lab namespace at teardown).
const NOTIFICATION_BUFFER: usize = 32 << 20;

/// A kernel refusal or a broken connection, with what was being done.
#[derive(Debug, thiserror::Error)]
#[error("{what}: {source}")]
pub struct RtnlError {
    pub what: String,
    #[source]
    pub source: io::Error,
}

impl RtnlError {
    /// The kernel's errno, when the kernel answered with one.
    pub fn errno(&self) -> Option<i32> {
        self.source.raw_os_error()
    }

    fn closed(what: &str) -> RtnlError {
        RtnlError {
            what: what.to_string(),
            source: io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the netlink connection closed before the kernel answered",
            ),
        }
    }
}

/// One rtnetlink connection, bound to the namespace it was opened in.
#[derive(Debug)]
pub struct Rtnl {
    handle: rtnetlink::Handle,
    connection: tokio::task::JoinHandle<()>,
    notifications: UnboundedReceiver<(NetlinkMessage<RouteNetlinkMessage>, SocketAddr)>,
}

impl Rtnl {
    /// Opens a connection in the calling thread's network namespace and drives it on `runtime`.
    /// Call it on a thread entered into the target namespace (`Netns::run`, `create_named`'s
    /// `init`): the socket belongs to the namespace it was created in, forever.
    pub fn open(runtime: &tokio::runtime::Handle) -> io::Result<Rtnl> {
        Rtnl::connect(runtime, false)
    }

    /// Like `open`, subscribed to RTM_NEWNSID / RTM_DELNSID notifications of its namespace,
    /// with a receive buffer large enough for one notification per lab namespace.
    pub fn open_nsid_watcher(runtime: &tokio::runtime::Handle) -> io::Result<Rtnl> {
        Rtnl::connect(runtime, true)
    }

    fn connect(runtime: &tokio::runtime::Handle, watch_nsids: bool) -> io::Result<Rtnl> {
        let _entered = runtime.enter();
        let (mut connection, handle, notifications) = rtnetlink::new_connection()?;
        let socket = connection.socket_mut().socket_mut();
        // Acks of failed requests then carry only the header, not a copy of the request.
        socket.set_cap_ack(true)?;
        if watch_nsids {
            nix::sys::socket::setsockopt(
                socket,
                nix::sys::socket::sockopt::RcvBufForce,
                &NOTIFICATION_BUFFER,
            )
            .map_err(io::Error::from)?;
            socket.add_membership(RTNLGRP_NSID)?;
        }
        let connection = runtime.spawn(connection);
        Ok(Rtnl {
            handle,
            connection,
            notifications,
        })
    }

    /// Closes the socket (and with it the socket's hold on its namespace) before returning.
    pub async fn close(self) {
        self.connection.abort();
        // Awaiting an aborted task only tells that it has stopped; its outcome does not matter.
        let _ = self.connection.await;
    }

    /// Sends one request and waits for the kernel's acknowledgement.
    pub async fn run(&self, request: Request) -> Result<(), RtnlError> {
        let Request {
            message,
            flags,
            what,
        } = request;
        let mut message = NetlinkMessage::from(message);
        message.header.flags = flags;
        let mut handle = self.handle.clone();
        let mut answers = handle
            .request(message)
            .map_err(|_| RtnlError::closed(&what))?;
        // The connection ends the answer stream at the acknowledgement, which it swallows;
        // only a refusal (an error message with a code) comes through.
        while let Some(answer) = answers.next().await {
            if let NetlinkPayload::Error(e) = answer.payload
                && let Some(code) = e.code
            {
                return Err(RtnlError {
                    what,
                    source: io::Error::from_raw_os_error(-code.get()),
                });
            }
        }
        Ok(())
    }

    /// Runs `requests` in order with up to `WINDOW` in flight; stops at the first failure (in
    /// request order) and returns it.
    pub async fn run_all(&self, requests: Vec<Request>) -> Result<(), RtnlError> {
        stream::iter(requests)
            .map(|r| self.run(r))
            .buffered(WINDOW)
            .try_collect()
            .await
    }

    /// Runs `requests`, ignoring "no such device" answers: for deleting what may already be gone.
    pub async fn run_all_ignoring_missing(&self, requests: Vec<Request>) -> Result<(), RtnlError> {
        stream::iter(requests)
            .map(|r| async {
                match self.run(r).await {
                    Err(e) if e.errno() == Some(libc::ENODEV) => Ok(()),
                    other => other,
                }
            })
            .buffered(WINDOW)
            .try_collect()
            .await
    }

    async fn dump(
        &self,
        message: RouteNetlinkMessage,
        what: &str,
    ) -> Result<Vec<RouteNetlinkMessage>, RtnlError> {
        let mut message = NetlinkMessage::from(message);
        message.header.flags = NLM_F_REQUEST | NLM_F_DUMP;
        let mut handle = self.handle.clone();
        let mut answers = handle
            .request(message)
            .map_err(|_| RtnlError::closed(what))?;
        let mut out = Vec::new();
        while let Some(answer) = answers.next().await {
            match answer.payload {
                NetlinkPayload::InnerMessage(m) => out.push(m),
                NetlinkPayload::Error(e) => {
                    if let Some(code) = e.code {
                        return Err(RtnlError {
                            what: what.to_string(),
                            source: io::Error::from_raw_os_error(-code.get()),
                        });
                    }
                }
                NetlinkPayload::Done(_) => break,
                _ => {}
            }
        }
        Ok(out)
    }

    /// Every link of this socket's namespace, with its counters.
    pub async fn links(&self) -> Result<Vec<LinkState>, RtnlError> {
        let answers = self
            .dump(
                RouteNetlinkMessage::GetLink(LinkMessage::default()),
                "listing links",
            )
            .await?;
        Ok(answers
            .into_iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewLink(link) => Some(LinkState::from_message(&link)),
                _ => None,
            })
            .collect())
    }

    /// One link by name, or `None` when this namespace has none of that name.
    pub async fn link(&self, name: &str) -> Result<Option<LinkState>, RtnlError> {
        let mut request = LinkMessage::default();
        request
            .attributes
            .push(LinkAttribute::IfName(name.to_string()));
        let mut message = NetlinkMessage::from(RouteNetlinkMessage::GetLink(request));
        message.header.flags = NLM_F_REQUEST;
        let what = format!("reading link {name}");
        let mut handle = self.handle.clone();
        let mut answers = handle
            .request(message)
            .map_err(|_| RtnlError::closed(&what))?;
        while let Some(answer) = answers.next().await {
            match answer.payload {
                NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewLink(link)) => {
                    return Ok(Some(LinkState::from_message(&link)));
                }
                NetlinkPayload::Error(e) => match e.code {
                    Some(code) if -code.get() == libc::ENODEV => return Ok(None),
                    Some(code) => {
                        return Err(RtnlError {
                            what,
                            source: io::Error::from_raw_os_error(-code.get()),
                        });
                    }
                    None => {}
                },
                _ => {}
            }
        }
        Err(RtnlError::closed(&what))
    }

    /// The entries a bridge of this namespace learned (`bridge fdb show dynamic`): one per
    /// (port ifindex, MAC). Local, static and the ports' own entries are left out.
    pub async fn learned_fdb(&self) -> Result<Vec<(u32, MacAddr)>, RtnlError> {
        let mut request = NeighbourMessage::default();
        request.header.family = AddressFamily::Bridge;
        let answers = self
            .dump(
                RouteNetlinkMessage::GetNeighbour(request),
                "listing the bridge's forwarding table",
            )
            .await?;
        Ok(answers
            .into_iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewNeighbour(n)
                    if matches!(
                        n.header.state,
                        NeighbourState::Reachable | NeighbourState::Stale
                    ) =>
                {
                    n.attributes.iter().find_map(|a| match a {
                        NeighbourAttribute::LinkLayerAddress(b) if b.len() == 6 => {
                            let mut mac = [0u8; 6];
                            mac.copy_from_slice(b);
                            Some((n.header.ifindex, MacAddr(mac)))
                        }
                        _ => None,
                    })
                }
                _ => None,
            })
            .collect())
    }

    /// Every neighbour (ARP or ND) entry of this socket's namespace for `family`.
    pub async fn neighbours(&self, family: AddressFamily) -> Result<Vec<Neighbour>, RtnlError> {
        let mut request = NeighbourMessage::default();
        request.header.family = family;
        let answers = self
            .dump(
                RouteNetlinkMessage::GetNeighbour(request),
                "listing the neighbour table",
            )
            .await?;
        Ok(answers
            .into_iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewNeighbour(n) => Neighbour::from_message(&n),
                _ => None,
            })
            .collect())
    }

    /// The nsids this socket's namespace has assigned to other namespaces.
    pub async fn nsids(&self) -> Result<Vec<i32>, RtnlError> {
        let answers = self
            .dump(
                RouteNetlinkMessage::GetNsId(NsidMessage::default()),
                "listing namespace ids",
            )
            .await?;
        Ok(answers
            .into_iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewNsId(m) => nsid_of(&m),
                _ => None,
            })
            .collect())
    }

    /// The next RTM_DELNSID notification's id (on a socket from `open_nsid_watcher`); `None`
    /// when the connection has ended. A lost notification (receive buffer overrun) is reported
    /// as `Some(None)`: the caller re-synchronises with `nsids`.
    pub async fn next_deleted_nsid(&mut self) -> Option<Option<i32>> {
        loop {
            let (message, _) = self.notifications.next().await?;
            match message.payload {
                NetlinkPayload::InnerMessage(RouteNetlinkMessage::DelNsId(m)) => {
                    if let Some(id) = nsid_of(&m) {
                        return Some(Some(id));
                    }
                }
                NetlinkPayload::Overrun(_) => return Some(None),
                _ => {}
            }
        }
    }
}

fn nsid_of(message: &NsidMessage) -> Option<i32> {
    message.attributes.iter().find_map(|a| match a {
        NsidAttribute::Id(id) => Some(*id),
        _ => None,
    })
}

/// A netlink request with a description of what it does, for error messages.
#[derive(Debug)]
pub struct Request {
    message: RouteNetlinkMessage,
    flags: u16,
    what: String,
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

fn macvlan_mode(mode: MacvlanMode) -> MacVlanMode {
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
    fn from_message(link: &LinkMessage) -> LinkState {
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
    fn from_message(n: &NeighbourMessage) -> Option<Neighbour> {
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

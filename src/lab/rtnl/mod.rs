//! The netlink layer of the lab. Owns one rtnetlink connection per namespace (`Rtnl`), the typed
//! requests a lab is made of (`Request` built from `LinkSpec`, addresses, routes, nsids), their
//! encoding into netlink messages (including what rtnetlink's builders lack: bridge port flags,
//! `fdb_max_learned`, macvlan source lists and flags, RTM_NEWNSID), pipelined execution, and the
//! reads later measurements need (`LinkState`: counters, promiscuity, bridge FDB fill). It knows
//! nothing of scenarios, lab names or registries, and it is the only code in mvlab that speaks
//! rtnetlink.
//!
//! This file is the connection: opening it in a namespace, running requests (pipelined, in
//! order), dumps and notifications. `request` builds and encodes the requests; `state` decodes
//! what the kernel says about links and neighbours.
//!
//! Ordering: the kernel runs each request synchronously inside the `sendmsg` that carries it, and a
//! connection sends its requests in submission order, so requests sent on ONE socket take effect in
//! the order given to `Rtnl::run_all`. Requests on different sockets are unordered.

use std::io;

use futures::channel::mpsc::UnboundedReceiver;
use futures::stream::{self, StreamExt, TryStreamExt};
use netlink_packet_core::{NLM_F_DUMP, NLM_F_REQUEST, NetlinkMessage, NetlinkPayload};
use netlink_packet_route::link::{LinkAttribute, LinkMessage};
use netlink_packet_route::neighbour::{NeighbourAttribute, NeighbourMessage, NeighbourState};
use netlink_packet_route::nsid::{NsidAttribute, NsidMessage};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::{AsyncSocket, SocketAddr};

use crate::addr::MacAddr;

mod details;
mod request;
mod state;

pub use details::{AddressEntry, BridgeSettings, LinkDetail, MacvlanDetail, PortFlags, RouteEntry};
pub use request::{BridgeSpec, LinkKind, LinkSpec, MacvlanSpec, Request};
pub use state::{LinkState, Neighbour};

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

    /// A dump request (`what` names it in errors), keeping what `pick` makes of each answer.
    pub(super) async fn dump<T>(
        &self,
        message: RouteNetlinkMessage,
        what: &str,
        mut pick: impl FnMut(RouteNetlinkMessage) -> Option<T>,
    ) -> Result<Vec<T>, RtnlError> {
        let mut message = NetlinkMessage::from(message);
        message.header.flags = NLM_F_REQUEST | NLM_F_DUMP;
        let mut handle = self.handle.clone();
        let mut answers = handle
            .request(message)
            .map_err(|_| RtnlError::closed(what))?;
        let mut out = Vec::new();
        while let Some(answer) = answers.next().await {
            match answer.payload {
                NetlinkPayload::InnerMessage(m) => out.extend(pick(m)),
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
        self.dump(
            RouteNetlinkMessage::GetLink(LinkMessage::default()),
            "listing links",
            |m| match m {
                RouteNetlinkMessage::NewLink(link) => Some(LinkState::from_message(&link)),
                _ => None,
            },
        )
        .await
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
        self.dump(
            RouteNetlinkMessage::GetNeighbour(request),
            "listing the bridge's forwarding table",
            |m| match m {
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
            },
        )
        .await
    }

    /// Every neighbour (ARP or ND) entry of this socket's namespace for `family`.
    pub async fn neighbours(&self, family: AddressFamily) -> Result<Vec<Neighbour>, RtnlError> {
        let mut request = NeighbourMessage::default();
        request.header.family = family;
        self.dump(
            RouteNetlinkMessage::GetNeighbour(request),
            "listing the neighbour table",
            |m| match m {
                RouteNetlinkMessage::NewNeighbour(n) => Neighbour::from_message(&n),
                _ => None,
            },
        )
        .await
    }

    /// The nsids this socket's namespace has assigned to other namespaces.
    pub async fn nsids(&self) -> Result<Vec<i32>, RtnlError> {
        self.dump(
            RouteNetlinkMessage::GetNsId(NsidMessage::default()),
            "listing namespace ids",
            |m| match m {
                RouteNetlinkMessage::NewNsId(m) => nsid_of(&m),
                _ => None,
            },
        )
        .await
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

//! Plan -> kernel: the execution of a `Plan` (`build`): namespaces first, each with its own
//! netlink socket, then the plan's phases pipelined per socket, with everything created so far
//! handed back for rollback when anything fails or a signal arrives. Also the one way lab
//! namespaces are made (`create_namespaces`, which growth uses too). It keeps no records (that is
//! `registry`) and removes nothing (that is `teardown`).

use std::collections::BTreeMap;
use std::io;
use std::os::fd::{AsFd, AsRawFd};

use futures::stream::{self, StreamExt, TryStreamExt};

use super::inventory::{Inventory, NodeInventory};
use super::plan::{NsId, NsPlan, Op, Plan, Sender, Step};
use super::rtnl::{LinkKind, Request, Rtnl, RtnlError};
use super::teardown::Doomed;
use crate::netns::{self, Netns};
use crate::scenario::{Ipv6Off, Ipv6Setting, Role};
use crate::stop::Stop;

impl Step {
    /// The request, with lab namespaces resolved to the open descriptors in `fds`.
    pub(super) fn request(&self, namespaces: &[NsPlan], fds: &[i32]) -> Request {
        let place = |ns: NsId| &namespaces[ns].netns;
        match &self.op {
            Op::Link {
                spec,
                kind,
                into,
                peer_into,
            } => {
                let mut spec = spec.clone();
                let mut kind = kind.clone();
                spec.netns = into.map(|ns| fds[ns]);
                if let (LinkKind::Veth(peer), Some(ns)) = (&mut kind, peer_into) {
                    peer.netns = Some(fds[*ns]);
                }
                let mut request = Request::new_link(&spec, &kind);
                let target = into.or(match self.sender {
                    Sender::Lab(ns) => Some(ns),
                    Sender::Root => None,
                });
                if let Some(ns) = target {
                    request.describe(format!("{} in {}", request.what(), place(ns)));
                }
                request
            }
            Op::PortFlags { index, port } => Request::bridge_port(*index, port),
            Op::PortVlanDel { index, vid, port } => Request::bridge_vlan_del(
                *index,
                *vid,
                format!("taking bridge port {port} out of VLAN {vid}"),
            ),
            Op::PortVlans { index, vlans, port } => Request::bridge_vlans(
                *index,
                vlans,
                format!("making bridge port {port} a member of its VLANs"),
            ),
            Op::Up { index, name } => Request::set_up(*index, format!("bringing {name} up")),
            Op::Alias { index, alias, name } => {
                Request::set_alias(*index, alias, format!("marking {name} as {alias}"))
            }
            Op::Address {
                index,
                address,
                interface,
            } => Request::add_address(
                *index,
                address.ip(),
                address.prefix(),
                format!("adding {address} to {interface}"),
            ),
            Op::Route {
                index,
                destination,
                gateway,
                interface,
            } => Request::add_route(
                *index,
                *destination,
                *gateway,
                match gateway {
                    Some(gw) => {
                        format!("adding the route to {destination} via {gw} on {interface}")
                    }
                    None => format!("adding the route to {destination} on {interface}"),
                },
            ),
        }
    }
}

/// Why a build stopped.
#[derive(Debug, thiserror::Error)]
pub enum BuildFailure {
    #[error("{0}")]
    Kernel(#[from] RtnlError),
    #[error("creating namespace {name}: {source}")]
    Namespace {
        name: String,
        #[source]
        source: io::Error,
    },
    #[error("interrupted by a signal")]
    Interrupted,
    /// The Docker Engine did not make a network or an endpoint; `refused`: it said no to the
    /// request (its own words), rather than failing.
    #[error("{message}")]
    Docker { message: String, refused: bool },
}

/// A finished build: the open namespaces (in plan order) and the inventory with kernel-chosen
/// MACs filled in.
pub(crate) struct Built {
    pub namespaces: Vec<Netns>,
    pub inventory: Inventory,
}

/// Namespaces created per `create_named` call, so a signal is noticed within a few milliseconds.
const NETNS_CHUNK: usize = 64;
/// Namespaces created in parallel (measured: 2 threads ~0.5 ms a namespace, 1 thread ~0.75 ms).
const NETNS_THREADS: usize = 2;
/// Namespace sockets driven at once in a phase.
pub(super) const SOCKETS_IN_FLIGHT: usize = 256;

/// The `disable_ipv6` knobs that switch IPv6 off in a new namespace the way `off` says: `all`
/// and `default` take every interface (`lo` too); `default` alone only those made later (the
/// endpoint's macvlan), which is Docker 26.1's per-interface way for a namespace holding one.
pub(super) fn ipv6_knobs(ipv6: Ipv6Setting) -> &'static [&'static str] {
    match (ipv6.wanted, ipv6.off) {
        (true, _) | (false, Ipv6Off::Nothing) => &[],
        (false, Ipv6Off::Interface) => &["default"],
        (false, Ipv6Off::Namespace) => &["all", "default"],
    }
}

fn disable_ipv6(knobs: &[&str]) -> io::Result<()> {
    for knob in knobs {
        match std::fs::write(format!("/proc/sys/net/ipv6/conf/{knob}/disable_ipv6"), "1") {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    Ok(())
}

/// Builds `plan`. On failure returns why, and every namespace this call created (with its
/// handle when it has one) for the caller to roll back; names that already existed are never
/// among them.
pub(crate) fn build(
    plan: &Plan,
    runtime: &tokio::runtime::Runtime,
    root: Option<&Rtnl>,
    interrupt: Option<&Stop>,
) -> Result<Built, (BuildFailure, Vec<Doomed>)> {
    let interrupted = || interrupt.is_some_and(Stop::requested);
    let wanted: Vec<(String, &[&str])> = plan
        .namespaces
        .iter()
        .map(|n| (n.netns.clone(), ipv6_knobs(n.ipv6)))
        .collect();
    let Made {
        made,
        strays,
        mut failure,
    } = create_namespaces(&wanted, runtime.handle(), interrupt);
    if failure.is_none() {
        let (namespaces, sockets): (Vec<&Netns>, Vec<&Rtnl>) =
            made.iter().map(|(n, r)| (n, r)).unzip();
        let fds: Vec<i32> = namespaces.iter().map(|n| n.as_fd().as_raw_fd()).collect();
        for phase in &plan.phases {
            if interrupted() {
                failure = Some(BuildFailure::Interrupted);
                break;
            }
            if let Err(e) = runtime.block_on(run_phase(phase, plan, &sockets, root, &fds)) {
                failure = Some(e.into());
                break;
            }
        }
    }
    let mut inventory = plan.inventory.clone();
    if failure.is_none()
        && let Some(switch) = plan.namespaces.iter().position(|n| n.role == Role::Switch)
        && let Err(e) = runtime.block_on(fill_macs(&made[switch].1, &mut inventory.nodes[switch]))
    {
        failure = Some(e.into());
    }
    let (namespaces, sockets): (Vec<Netns>, Vec<Rtnl>) = made.into_iter().unzip();
    runtime.block_on(async {
        for socket in sockets {
            socket.close().await;
        }
    });
    match failure {
        None => Ok(Built {
            namespaces,
            inventory,
        }),
        Some(f) => Err((f, Doomed::all(namespaces, strays))),
    }
}

/// What `create_namespaces` made.
pub(super) struct Made {
    /// Each namespace made, in the order asked, with a netlink socket inside it.
    pub made: Vec<(Netns, Rtnl)>,
    /// Namespaces that may exist without a handle (their creation failed part-way), for
    /// rollback; a name that already existed is never among them.
    pub strays: Vec<Doomed>,
    /// Why it stopped early, if it did.
    pub failure: Option<BuildFailure>,
}

/// Creates the namespaces `wanted` (name, and the `disable_ipv6` knobs to set inside: what
/// Docker does for a network without IPv6, by version) in chunks, so a signal is noticed between them, each with a
/// netlink socket opened inside. The one way lab namespaces are made: `build` and growth both
/// use it.
pub(super) fn create_namespaces(
    wanted: &[(String, &[&str])],
    handle: &tokio::runtime::Handle,
    interrupt: Option<&Stop>,
) -> Made {
    let mut out = Made {
        made: Vec::with_capacity(wanted.len()),
        strays: Vec::new(),
        failure: None,
    };
    for chunk in wanted.chunks(NETNS_CHUNK) {
        if interrupt.is_some_and(Stop::requested) {
            out.failure = Some(BuildFailure::Interrupted);
            break;
        }
        let names: Vec<String> = chunk.iter().map(|(n, _)| n.clone()).collect();
        let results = netns::create_named(&names, NETNS_THREADS, |ns| {
            let at = names
                .iter()
                .position(|n| Some(n.as_str()) == ns.name())
                .expect("create_named hands init one of the names it was given");
            disable_ipv6(chunk[at].1)?;
            Rtnl::open(handle)
        });
        for (name, result) in names.into_iter().zip(results) {
            match result {
                Ok(pair) => out.made.push(pair),
                Err(source) => {
                    if source.kind() != io::ErrorKind::AlreadyExists {
                        out.strays.push(Doomed {
                            name: name.clone(),
                            netns: None,
                        });
                    }
                    out.failure
                        .get_or_insert(BuildFailure::Namespace { name, source });
                }
            }
        }
        if out.failure.is_some() {
            break;
        }
    }
    out
}

async fn run_phase(
    steps: &[Step],
    plan: &Plan,
    sockets: &[&Rtnl],
    root: Option<&Rtnl>,
    fds: &[i32],
) -> Result<(), RtnlError> {
    let mut by_sender: BTreeMap<Sender, Vec<Request>> = BTreeMap::new();
    for step in steps {
        by_sender
            .entry(step.sender)
            .or_default()
            .push(step.request(&plan.namespaces, fds));
    }
    stream::iter(by_sender)
        .map(|(sender, requests)| async move {
            let socket = match sender {
                Sender::Lab(ns) => sockets[ns],
                Sender::Root => root.expect("a root socket is opened for plans that use one"),
            };
            socket.run_all(requests).await
        })
        .buffer_unordered(SOCKETS_IN_FLIGHT)
        .try_collect()
        .await
}

/// Reads back the MACs the kernel chose (the bridge and its ports).
async fn fill_macs(socket: &Rtnl, node: &mut NodeInventory) -> Result<(), RtnlError> {
    let links = socket.links().await?;
    for iface in &mut node.interfaces {
        if let Some(mac) = links
            .iter()
            .find(|l| l.index == iface.index)
            .and_then(|l| l.mac)
        {
            iface.mac = mac;
        }
    }
    Ok(())
}

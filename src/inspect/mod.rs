//! `mvlab inspect`: reads the macvlan setup a machine already has and says who reaches whom, and
//! why. Owns the facts found on a live machine (`Found`: its namespaces, their links with
//! parents followed across namespaces, addresses, routes, the neighbour tables' use) and the
//! answer (`Inspection`: the links, the reach of every frame class between every pair of
//! stations from the model, the surprises with their fixes, and a scenario that reproduces the
//! machine in a lab).
//!
//! It never changes anything: it creates, changes and sends nothing. It reads through the same
//! rtnetlink connection `lab/` uses (GET requests only), /proc and /sys, and the Docker API
//! (GET only) for container names. The model decides every delivery; nothing here repeats a
//! delivery rule.
//!
//! Files: `discover` (which namespaces exist), `docker` (container names), `read` (what each
//! namespace holds), `layout` (what is wired to what: parents, endpoints, shims, switches,
//! peers), `reproduce` (a layout as a scenario file, addresses mapped into the lab ranges),
//! `reach` (the model's answer in the machine's own names), `warnings` (the surprises).

mod discover;
mod docker;
pub mod layout;
mod reach;
mod read;
mod reproduce;
mod warnings;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

use serde::Serialize;

use crate::addr::MacAddr;
use crate::lab::rtnl::LinkDetail;

pub use layout::{Component, Layout};
pub use reach::ReachEntry;
pub use reproduce::Reproduction;
pub use warnings::Warning;

/// What to read.
#[derive(Debug, Clone, Default)]
pub struct InspectOptions {
    /// Only these namespaces (by the names `inspect` shows); every one when empty.
    pub netns: Vec<String>,
    /// The Docker API socket to ask for container names; `/var/run/docker.sock` when `None`.
    pub docker_socket: Option<PathBuf>,
}

/// How a namespace was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NsOrigin {
    /// The namespace `inspect` itself runs in.
    Own,
    /// A bind mount in /run/netns (`ip netns add`).
    Named,
    /// A running process's namespace, named after the Docker container that owns it.
    Docker,
    /// A running process's namespace (`pid-PID`, the lowest pid in it).
    Process,
}

/// One network namespace of the machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FoundNamespace {
    /// The name `inspect` shows: the /run/netns name, the container's name, `pid-PID`, or `host`
    /// for the namespace `inspect` runs in.
    pub name: String,
    /// The nsfs inode: the namespace's identity.
    pub inode: u64,
    pub origin: NsOrigin,
    /// A file that opens it (`/run/netns/NAME`, `/proc/PID/ns/net`).
    pub path: PathBuf,
    /// A process inside it, when one was seen (`nsenter -t PID -n` reaches it).
    pub pid: Option<u32>,
}

/// A link named by its namespace and interface name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct LinkRef {
    pub netns: String,
    pub name: String,
}

impl std::fmt::Display for LinkRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.netns, self.name)
    }
}

/// One link with its addresses, and the links it refers to resolved across namespaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundLink {
    pub netns: String,
    pub detail: LinkDetail,
    pub ipv4: Vec<(Ipv4Addr, u8)>,
    /// Every IPv6 address, link-local ones included.
    pub ipv6: Vec<(Ipv6Addr, u8)>,
    /// IFLA_LINK resolved: a macvlan's or vlan's parent, a veth's peer; `None` when it has none
    /// or it lies in a namespace that was not read.
    pub lower: Option<LinkRef>,
    /// The bridge it is a port of (same namespace).
    pub master: Option<String>,
}

impl FoundLink {
    pub fn at(&self) -> LinkRef {
        LinkRef {
            netns: self.netns.clone(),
            name: self.detail.name.clone(),
        }
    }

    /// `macvlan`, `macvtap`, `ipvlan`, `vlan`, `veth`, `bridge`, `dummy`, ...; `physical` for a
    /// device without a kind, `loopback` for `lo`.
    pub fn kind(&self) -> &str {
        match &self.detail.kind {
            Some(k) => k,
            None if self.detail.loopback => "loopback",
            None => "physical",
        }
    }

    pub fn is_macvlan(&self) -> bool {
        matches!(self.kind(), "macvlan" | "macvtap")
    }

    /// The IPv6 addresses that are not link-local.
    pub fn global_ipv6(&self) -> impl Iterator<Item = (Ipv6Addr, u8)> + '_ {
        self.ipv6
            .iter()
            .copied()
            .filter(|(a, _)| (a.segments()[0] & 0xffc0) != 0xfe80)
    }
}

/// One route of a namespace's main table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundRoute {
    pub netns: String,
    /// `None` is the default route.
    pub destination: Option<(IpAddr, u8)>,
    pub gateway: Option<IpAddr>,
    pub dev: Option<String>,
}

/// The neighbour tables' fill against their limits. The tables and the thresholds are the
/// machine's, shared by every namespace.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct NeighbourUse {
    pub ipv4_entries: usize,
    pub ipv6_entries: usize,
    /// gc_thresh1, 2, 3 of ARP (`/proc/sys/net/ipv4/neigh/default`).
    pub ipv4_thresholds: [u32; 3],
    /// The same for ND.
    pub ipv6_thresholds: [u32; 3],
}

/// Everything read from the machine.
#[derive(Debug, Clone, Default)]
pub struct Found {
    pub namespaces: Vec<FoundNamespace>,
    pub links: Vec<FoundLink>,
    pub routes: Vec<FoundRoute>,
    pub neighbours: NeighbourUse,
    /// What could not be read, in words (a namespace that vanished, Docker not answering).
    pub notes: Vec<String>,
}

impl Found {
    pub fn link(&self, r: &LinkRef) -> Option<&FoundLink> {
        self.links
            .iter()
            .find(|l| l.netns == r.netns && l.detail.name == r.name)
    }

    pub fn namespace(&self, name: &str) -> Option<&FoundNamespace> {
        self.namespaces.iter().find(|n| n.name == name)
    }
}

/// A link as `--json` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LinkView {
    pub netns: String,
    pub name: String,
    pub kind: String,
    pub mode: Option<String>,
    pub parent: Option<LinkRef>,
    pub mac: Option<MacAddr>,
    pub ipv4: Vec<String>,
    pub ipv6: Vec<String>,
    pub promiscuity: u32,
}

impl LinkView {
    fn of(l: &FoundLink) -> LinkView {
        let has_parent = matches!(l.kind(), "macvlan" | "macvtap" | "ipvlan" | "vlan");
        LinkView {
            netns: l.netns.clone(),
            name: l.detail.name.clone(),
            kind: l.kind().to_string(),
            mode: l
                .detail
                .macvlan
                .as_ref()
                .and_then(|m| m.mode)
                .map(|m| m.to_string()),
            parent: if has_parent { l.lower.clone() } else { None },
            mac: l.detail.mac,
            ipv4: l.ipv4.iter().map(|(a, p)| format!("{a}/{p}")).collect(),
            ipv6: l.ipv6.iter().map(|(a, p)| format!("{a}/{p}")).collect(),
            promiscuity: l.detail.promiscuity,
        }
    }
}

/// The answer of `mvlab inspect`.
#[derive(Debug, Clone, Serialize)]
pub struct Inspection {
    pub namespaces: Vec<String>,
    pub links: Vec<LinkView>,
    pub reach: Vec<ReachEntry>,
    pub warnings: Vec<Warning>,
    /// The found facts behind the answer (for the text rendering).
    #[serde(skip)]
    pub found: Found,
    #[serde(skip)]
    pub layout: Layout,
    /// One scenario per segment of the machine (parents that share no wire or switch).
    #[serde(skip)]
    pub scenarios: Vec<Reproduction>,
}

/// Why `inspect` could not answer.
#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    #[error("{0}")]
    Read(String),
    #[error("no namespace is called `{0}`; namespaces here: {1}")]
    UnknownNetns(String, String),
}

/// Reads the machine and answers.
pub fn inspect(options: &InspectOptions) -> Result<Inspection, InspectError> {
    let found = read::read(options)?;
    Ok(analyse(found))
}

/// The answer for what was found: pure, so it is tested without a machine.
pub fn analyse(found: Found) -> Inspection {
    let layout = layout::Layout::of(&found);
    let scenarios: Vec<Reproduction> = layout
        .components
        .iter()
        .enumerate()
        .map(|(i, c)| reproduce::reproduce(&found, c, i))
        .collect();
    let reach = reach::reach(&layout, &scenarios);
    let warnings = warnings::warnings(&found, &layout, &scenarios, &reach);
    Inspection {
        namespaces: found.namespaces.iter().map(|n| n.name.clone()).collect(),
        links: found
            .links
            .iter()
            .filter(|l| !l.detail.loopback)
            .map(LinkView::of)
            .collect(),
        reach,
        warnings,
        found,
        layout,
        scenarios,
    }
}

/// A trace of one frame between two stations named as `inspect` names them (`NETNS:IFACE`), in
/// the scenario of their segment.
pub fn trace(
    inspection: &Inspection,
    from: &str,
    to: &str,
    class: crate::delivery::FrameClass,
    promiscuous: bool,
) -> Result<crate::model::Trace, String> {
    reach::trace(inspection, from, to, class, promiscuous)
}

#[cfg(test)]
mod tests;

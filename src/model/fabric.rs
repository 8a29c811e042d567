//! The lab as the model sees it: a `Scenario` compiled once into indexed nodes, macvlan devices,
//! lower devices ("links": a parent or its `PARENT.VID` sub-interface, each with its macvlan port),
//! parents, peers and the switch. Owns the lookups the rules need (destination MAC and source-MAC
//! tables of each macvlan port) and the matrix node order. It decides nothing about delivery.

use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr};

use ipnetwork::{Ipv4Network, Ipv6Network};

use crate::addr::MacAddr;
use crate::model::ModelError;
use crate::model::frame::{Frame, link_local};
use crate::scenario::{HOST_NODE, MacvlanMode, ParentKind, Port, SWITCH_NODE, Scenario, Switch};

pub type NodeId = usize;

/// How traces name the emulated switch.
pub const EMULATED_NAME: &str = "the emulated switch";
/// How traces name an external switch, which the model stands in for with the reference
/// 802.1D learning bridge.
pub const EXTERNAL_NAME: &str = "the switch under test (as the 802.1D reference)";
pub type DevId = usize;
pub type LinkId = usize;
pub type PortId = usize;

/// What a matrix node (a `Station`) is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    /// The host's own interface on a parent (index into `parents`).
    Host(usize),
    Endpoint(DevId),
    Shim(DevId),
    Peer(usize),
}

/// A station: a sender and/or receiver of the matrix, and an IP node for reachability.
#[derive(Debug, Clone)]
pub struct Node {
    pub name: String,
    pub kind: NodeKind,
    pub mac: MacAddr,
    /// The IPv4 address and the prefixes it treats as on-link.
    pub ipv4: Option<(Ipv4Addr, Vec<Ipv4Network>)>,
    pub ipv6: Option<(Ipv6Addr, Vec<Ipv6Network>)>,
    /// Index into `Scenario::networks` the node is addressed from, when it has one.
    pub network: Option<usize>,
    /// Tagged-frame mode: the VLAN id the node puts on every test frame it sends and looks for
    /// on every frame it receives.
    pub tag: Option<u16>,
    /// IPv6 is on on its lab interface (`Ipv6Setting::on`): it has a link-local address and
    /// sends background frames of its own (DAD, MLD, router solicitations).
    pub ipv6_on: bool,
}

/// A macvlan device: an endpoint's interface or the host shim.
#[derive(Debug, Clone)]
pub struct Macvlan {
    pub node: NodeId,
    pub link: LinkId,
    pub mode: MacvlanMode,
    pub nodst: bool,
    pub nopromisc: bool,
    pub mac: MacAddr,
    /// Source mode: the source MACs it accepts.
    pub sources: Vec<MacAddr>,
    /// Its IPv6 addresses (link-local first) when IPv6 is on: their solicited-node groups are joined.
    pub ipv6_addrs: Vec<Ipv6Addr>,
    /// The interface name shown in traces (`e1:eth0`).
    pub label: String,
}

/// A lower device and the macvlan port on it.
#[derive(Debug, Clone)]
pub struct Link {
    pub parent: usize,
    pub vid: Option<u16>,
    /// `eth0` or `eth0.100`.
    pub name: String,
    pub devs: Vec<DevId>,
    /// `macvlan_hash_lookup`: device by its own MAC.
    pub by_mac: HashMap<MacAddr, DevId>,
    /// `vlan_source_hash`: source-mode devices by an accepted source MAC.
    pub by_source: HashMap<MacAddr, Vec<DevId>>,
    /// The port is in passthru mode (its one device takes every unicast frame).
    pub passthru: Option<DevId>,
    /// A sub-interface of a lab-made parent in the host's namespace with IPv6 on: it sends
    /// background frames of its own, from the parent's MAC, tagged with its VLAN.
    pub ipv6_on: bool,
}

#[derive(Debug, Clone)]
pub struct ParentDev {
    pub name: String,
    pub kind: ParentKind,
    /// The MAC the parent really has (a passthru endpoint shares it).
    pub mac: MacAddr,
    pub untagged: Option<LinkId>,
    /// Sub-interface links by VLAN id.
    pub tagged: Vec<(u16, LinkId)>,
    /// The switch port facing it, with a bridge.
    pub port: Option<PortId>,
    /// The host's station on it (none for a real interface, which is no station).
    pub node: Option<NodeId>,
}

impl ParentDev {
    pub fn link_for_vid(&self, vid: u16) -> Option<LinkId> {
        self.tagged.iter().find(|(v, _)| *v == vid).map(|(_, l)| *l)
    }
}

/// What a switch port faces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attached {
    Parent(usize),
    Peer(usize),
}

#[derive(Debug, Clone)]
pub struct SwitchPort {
    pub flags: Port,
    pub attached: Attached,
}

/// The switch of the switch namespace: a Linux bridge, or mvlab's emulated switch (the same
/// ports and table settings, plus the rules of `emulated.rs`).
#[derive(Debug, Clone)]
pub struct BridgeDev {
    pub name: String,
    pub ports: Vec<SwitchPort>,
    pub ageing_time: u32,
    pub fdb_max_learned: Option<u32>,
    pub kind: SwitchKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SwitchKind {
    /// A Linux bridge without `vlan_filtering`: tags ride along, learning ignores them.
    Bridge,
    /// A Linux bridge with `vlan_filtering`: the 802.1Q rules of the emulated switch's walk
    /// (`emulated.rs`), with the bridge's own ingress check (`br_allowed_ingress`: a frame
    /// tagged with a VLAN the port is a member of is taken, on an access port too).
    VlanBridge,
    Emulated {
        /// New entries learned per second at most.
        learning_rate: Option<u32>,
    },
}

/// What the parents plug into.
#[derive(Debug, Clone)]
pub enum Segment {
    /// A bare veth wire from the single parent to the single peer (if any).
    Wire {
        parent: usize,
        peer: Option<usize>,
    },
    Bridge(BridgeDev),
}

#[derive(Debug, Clone)]
pub struct PeerDev {
    pub node: NodeId,
    pub port: Option<PortId>,
}

/// A lab interface that sends frames of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Background {
    Station(NodeId),
    /// A `PARENT.VID` sub-interface (it has its parent's MAC).
    SubInterface(LinkId),
}

/// The compiled lab.
#[derive(Debug, Clone)]
pub struct Fabric {
    /// Matrix order, that of `Scenario::stations`: the host's parents, the shim, endpoints, peers.
    pub nodes: Vec<Node>,
    pub devs: Vec<Macvlan>,
    pub links: Vec<Link>,
    pub parents: Vec<ParentDev>,
    pub peers: Vec<PeerDev>,
    pub segment: Segment,
    by_name: HashMap<String, NodeId>,
}

impl Fabric {
    pub fn compile(s: &Scenario) -> Result<Fabric, ModelError> {
        let mut parents: Vec<ParentDev> = s
            .parents
            .iter()
            .map(|p| ParentDev {
                name: p.name.clone(),
                kind: p.kind.clone(),
                mac: p.mac,
                untagged: None,
                tagged: Vec::new(),
                port: None,
                node: None,
            })
            .collect();
        let host_ipv6 = s.host_ipv6().on();
        let mut links: Vec<Link> = Vec::new();
        let mut link_of_network = Vec::with_capacity(s.networks.len());
        for net in &s.networks {
            let parent = parents.get_mut(net.parent).ok_or_else(|| {
                ModelError::Inconsistent(format!(
                    "network `{}` names parent #{} that does not exist",
                    net.name, net.parent
                ))
            })?;
            let existing = match net.vlan {
                None => parent.untagged,
                Some(v) => parent.link_for_vid(v),
            };
            let id = existing.unwrap_or_else(|| {
                let id = links.len();
                links.push(Link {
                    parent: net.parent,
                    vid: net.vlan,
                    name: net.link.clone(),
                    devs: Vec::new(),
                    by_mac: HashMap::new(),
                    by_source: HashMap::new(),
                    passthru: None,
                    ipv6_on: net.vlan.is_some()
                        && host_ipv6
                        && !matches!(parent.kind, ParentKind::Existing { .. }),
                });
                match net.vlan {
                    None => parent.untagged = Some(id),
                    Some(v) => parent.tagged.push((v, id)),
                }
                id
            });
            link_of_network.push(id);
        }

        let mut nodes = Vec::new();
        for (i, p) in s.parents.iter().enumerate() {
            if matches!(p.kind, ParentKind::Existing { .. }) {
                continue;
            }
            let on_parent = |a: &&crate::scenario::HostAddress| {
                s.networks
                    .get(a.network)
                    .is_some_and(|n| n.parent == i && n.vlan.is_none())
            };
            let ipv4 = s
                .host
                .addresses
                .iter()
                .filter(on_parent)
                .find_map(|a| Some((a.ipv4?, vec![s.networks[a.network].ipv4.subnet])));
            let ipv6 =
                s.host.addresses.iter().filter(on_parent).find_map(|a| {
                    Some((a.ipv6?, vec![s.networks[a.network].ipv6.as_ref()?.subnet]))
                });
            parents[i].node = Some(nodes.len());
            nodes.push(Node {
                name: format!("{HOST_NODE}:{}", p.name),
                kind: NodeKind::Host(i),
                mac: p.mac,
                ipv4,
                ipv6,
                network: s.host.addresses.iter().find(on_parent).map(|a| a.network),
                tag: None,
                ipv6_on: host_ipv6,
            });
        }
        let mut devs = Vec::new();
        if let Some(shim) = &s.host.shim {
            let net = s.networks.get(shim.network).ok_or_else(|| {
                ModelError::Inconsistent(format!(
                    "the shim names network #{} that does not exist",
                    shim.network
                ))
            })?;
            let node = nodes.len();
            let dev = devs.len();
            // The Docker recipe routes the network's ip_range through the shim.
            let ipv6 = match (&net.ipv6, shim.ipv6) {
                (Some(ipam), Some(a)) => Some((a, vec![ipam.ip_range])),
                _ => None,
            };
            nodes.push(Node {
                name: format!("{HOST_NODE}:{}", shim.interface),
                kind: NodeKind::Shim(dev),
                mac: shim.mac,
                ipv4: Some((shim.ipv4, vec![net.ipv4.ip_range])),
                ipv6,
                network: Some(shim.network),
                tag: net.frame_vlan,
                ipv6_on: host_ipv6,
            });
            devs.push(Macvlan {
                node,
                link: link_of_network[shim.network],
                mode: MacvlanMode::Bridge,
                nodst: false,
                nopromisc: false,
                mac: shim.mac,
                sources: Vec::new(),
                ipv6_addrs: Vec::new(),
                label: format!("{HOST_NODE}:{}", shim.interface),
            });
        }
        for e in &s.endpoints {
            let net = s.networks.get(e.network).ok_or_else(|| {
                ModelError::Inconsistent(format!(
                    "endpoint `{}` names network #{} that does not exist",
                    e.name, e.network
                ))
            })?;
            let node = nodes.len();
            let dev = devs.len();
            let ipv6 = e
                .ipv6
                .and_then(|a| Some((a, vec![net.ipam6_of(a)?.subnet])));
            nodes.push(Node {
                name: e.name.clone(),
                kind: NodeKind::Endpoint(dev),
                mac: e.mac,
                ipv4: e.ipv4.map(|a| (a, vec![net.ipam4_of(a).subnet])),
                ipv6,
                network: Some(e.network),
                tag: net.frame_vlan,
                ipv6_on: s.endpoint_ipv6(e).on(),
            });
            devs.push(Macvlan {
                node,
                link: link_of_network[e.network],
                mode: net.mode,
                nodst: net.nodst,
                nopromisc: net.nopromisc,
                mac: e.mac,
                sources: if net.mode == MacvlanMode::Source {
                    e.source_macs.clone()
                } else {
                    Vec::new()
                },
                ipv6_addrs: Vec::new(),
                label: format!("{}:{}", e.name, e.interface),
            });
        }
        let mut peers = Vec::new();
        for (i, p) in s.peers.iter().enumerate() {
            let net = s.networks.get(p.network);
            let node = nodes.len();
            nodes.push(Node {
                name: p.name.clone(),
                kind: NodeKind::Peer(i),
                mac: p.mac,
                ipv4: net.map(|n| (p.ipv4, vec![n.ipv4.subnet])),
                ipv6: match (net.and_then(|n| n.ipv6.as_ref()), p.ipv6) {
                    (Some(ipam), Some(a)) => Some((a, vec![ipam.subnet])),
                    _ => None,
                },
                network: Some(p.network),
                tag: net.and_then(|n| n.frame_vlan),
                ipv6_on: net.is_some() && s.peer_ipv6(p).on(),
            });
            peers.push(PeerDev { node, port: None });
        }

        // Attach devices to their ports; a passthru device takes its parent's MAC
        // (`macvlan_common_newlink`: eth_hw_addr_inherit), whatever address it was given.
        for (id, dev) in devs.iter_mut().enumerate() {
            let link = &mut links[dev.link];
            if dev.mode == MacvlanMode::Passthru {
                dev.mac = parents[link.parent].mac;
                nodes[dev.node].mac = dev.mac;
            }
            if nodes[dev.node].ipv6_on {
                dev.ipv6_addrs.push(link_local(dev.mac));
                dev.ipv6_addrs
                    .extend(nodes[dev.node].ipv6.as_ref().map(|(a, _)| *a));
            }
            if !link.devs.is_empty()
                && (link.passthru.is_some() || dev.mode == MacvlanMode::Passthru)
            {
                return Err(ModelError::Inconsistent(format!(
                    "`{}` carries a passthru macvlan and another device; the kernel allows a passthru device only alone on its parent (EINVAL)",
                    link.name
                )));
            }
            if dev.mode == MacvlanMode::Passthru {
                link.passthru = Some(id);
            }
            if link.by_mac.insert(dev.mac, id).is_some() {
                return Err(ModelError::Inconsistent(format!(
                    "two macvlan devices on `{}` have the MAC {}; the kernel refuses the second (EADDRINUSE)",
                    link.name, dev.mac
                )));
            }
            for src in &dev.sources {
                let list = link.by_source.entry(*src).or_default();
                if !list.contains(&id) {
                    list.push(id);
                }
            }
            link.devs.push(id);
        }

        let table = match &s.switch {
            Switch::None { .. } => None,
            Switch::Bridge(b) => Some((
                b.name.clone(),
                b.ageing_time,
                b.fdb_max_learned,
                if b.vlan_filtering {
                    SwitchKind::VlanBridge
                } else {
                    SwitchKind::Bridge
                },
            )),
            Switch::Emulated(e) => Some((
                EMULATED_NAME.to_string(),
                e.ageing_time,
                e.fdb_max_learned,
                SwitchKind::Emulated {
                    learning_rate: e.learning_rate,
                },
            )),
            // The reference: a VLAN-unaware learning bridge with every port's default flags.
            // A table that evicts when full is not modelled; one that stops learning is.
            Switch::External(x) => Some((
                EXTERNAL_NAME.to_string(),
                x.ageing_time,
                x.fdb_max_learned
                    .filter(|_| x.table_full == crate::scenario::TableFull::StopLearning),
                SwitchKind::Bridge,
            )),
        };
        let segment = match table {
            None => {
                if s.parents.len() != 1 || s.peers.len() > 1 {
                    return Err(ModelError::Inconsistent(format!(
                        "a bare wire joins one parent to at most one peer, not {} parents and {} peers",
                        s.parents.len(),
                        s.peers.len()
                    )));
                }
                Segment::Wire {
                    parent: 0,
                    peer: (!peers.is_empty()).then_some(0),
                }
            }
            Some((name, ageing_time, fdb_max_learned, kind)) => {
                let mut ports = Vec::new();
                let external = matches!(s.switch, Switch::External(_));
                for (i, p) in s.parents.iter().enumerate() {
                    let wired = match p.kind {
                        ParentKind::Veth => true,
                        ParentKind::Existing { .. } => external,
                        ParentKind::Dummy => false,
                    };
                    if wired {
                        parents[i].port = Some(ports.len());
                        ports.push(SwitchPort {
                            flags: p.port.clone(),
                            attached: Attached::Parent(i),
                        });
                    }
                }
                for (i, p) in s.peers.iter().enumerate() {
                    peers[i].port = Some(ports.len());
                    ports.push(SwitchPort {
                        flags: p.port.clone(),
                        attached: Attached::Peer(i),
                    });
                }
                Segment::Bridge(BridgeDev {
                    name,
                    ports,
                    ageing_time,
                    fdb_max_learned,
                    kind,
                })
            }
        };

        let mut by_name = HashMap::with_capacity(nodes.len());
        for (id, n) in nodes.iter().enumerate() {
            if by_name.insert(n.name.clone(), id).is_some() {
                return Err(ModelError::Inconsistent(format!(
                    "two nodes are called `{}`; every endpoint, peer and the shim need distinct names",
                    n.name
                )));
            }
        }
        Ok(Fabric {
            nodes,
            devs,
            links,
            parents,
            peers,
            segment,
            by_name,
        })
    }

    /// The switch of a fabric whose segment is one: switch rules are entered only from a
    /// switch port, which exists only then.
    pub fn bridge(&self) -> &BridgeDev {
        match &self.segment {
            Segment::Bridge(b) => b,
            Segment::Wire { .. } => unreachable!("switch rules run only on a switch segment"),
        }
    }

    pub fn node(&self, name: &str) -> Result<NodeId, ModelError> {
        self.by_name.get(name).copied().ok_or_else(|| {
            let mut names: Vec<&str> = self.nodes.iter().take(8).map(|n| n.name.as_str()).collect();
            if self.nodes.len() > 8 {
                names.push("...");
            }
            ModelError::UnknownNode {
                name: name.to_string(),
                known: names.join(", "),
            }
        })
    }

    /// A test frame as `node` puts it on its interface: in tagged-frame mode with its VLAN tag.
    pub fn sent_by(&self, node: NodeId, frame: Frame) -> Frame {
        match self.nodes[node].tag {
            Some(vid) => Frame {
                tags: frame.tags.pushed(vid),
                ..frame
            },
            None => frame,
        }
    }

    /// The lab's interfaces that send IPv6 background frames of their own, in station order
    /// (a parent's VLAN sub-interfaces right after it).
    pub fn ipv6_background(&self) -> Vec<Background> {
        let mut out = Vec::new();
        for (id, node) in self.nodes.iter().enumerate() {
            if node.ipv6_on {
                out.push(Background::Station(id));
            }
            if let NodeKind::Host(parent) = node.kind {
                out.extend(
                    self.parents[parent]
                        .tagged
                        .iter()
                        .filter(|(_, link)| self.links[*link].ipv6_on)
                        .map(|(_, link)| Background::SubInterface(*link)),
                );
            }
        }
        out
    }

    /// Nodes that send in a matrix pass by default: every station but the host's parents.
    pub fn is_sender(&self, node: NodeId) -> bool {
        !matches!(self.nodes[node].kind, NodeKind::Host(_))
    }

    /// The default senders (`is_sender`), in station order.
    pub fn senders(&self) -> Vec<NodeId> {
        (0..self.nodes.len())
            .filter(|&n| self.is_sender(n))
            .collect()
    }

    /// A label for a switch port in traces: `switch:p0`.
    pub fn port_label(&self, port: PortId) -> String {
        match &self.segment {
            Segment::Bridge(b) => format!("{SWITCH_NODE}:{}", b.ports[port].flags.name),
            Segment::Wire { .. } => String::new(),
        }
    }

    /// A label for a parent interface in traces: `host:eth0`.
    pub fn parent_label(&self, parent: usize) -> String {
        format!("{HOST_NODE}:{}", self.parents[parent].name)
    }
}

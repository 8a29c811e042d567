//! Scenario -> plan: the translation of a validated `Scenario` into an ordered plan of kernel
//! objects (`Plan::new`, pure and unit-tested): which namespace gets which link, ifindex, MAC,
//! address and route, sent on which namespace's socket, in which phase. It decides nothing about
//! what a scenario means (that is `scenario`) and touches no kernel (that is `build`).
//!
//! Layout: `host` holds the parents (veth ends or dummies), VLAN sub-interfaces, the shim and the
//! host's addresses; `switch` holds the bridge and its ports; each endpoint namespace holds one
//! macvlan created directly in it by a request on the host socket; each peer namespace holds the
//! far end of a veth. ifindexes are chosen here (per namespace, from 2; `lo` is 1), so no step
//! ever has to look one up. A link one namespace's socket creates directly in another gets an
//! index free in both (`index_across`): kernels up to 6.12 read a creation request's ifindex as
//! the sender's own device to change, and answer EEXIST when the sender has one by that index
//! (and without an index they look the name up there, where the host's `eth0` is); later kernels
//! read it in the target namespace.
//!
//! Teardown deletes `first_deleted` before the namespaces; a macvlan on an existing parent is
//! one of them, so the real interface has its promiscuity back once the lab is gone.
//!
//! Phases (each socket runs its steps of a phase in the order listed):
//! 0. The far side creates the wires: the switch socket makes the bridge and, for each parent and
//!    peer, a veth whose port end is up and enslaved at creation and whose other end is created
//!    directly in the host (or peer) namespace; with no switch, the peer's socket makes the wire.
//!    Dummy parents are made by the host socket.
//! 1. The host brings each parent up (the wire then has carrier), then creates VLAN
//!    sub-interfaces, every endpoint's macvlan (directly in its namespace, up), the shim, and the
//!    host's addresses and routes; the switch sets port flags (and on a VLAN-filtering bridge
//!    each port's VLANs); peers bring their end up and get addresses. Creating macvlans only once
//!    the parent has carrier matters: a macvlan born without carrier queues a linkwatch
//!    deactivation (an RCU grace period each), which for a thousand endpoints delays the lab's
//!    data path by seconds after `lab up` returns.
//! 2. Each endpoint namespace: addresses, default routes. Every namespace: `lo` up, and the
//!    lab's alias on each link (the kernel ignores IFLA_IFALIAS in a creation request, so it is
//!    set by the socket of the namespace each link ends up in, one phase after its creation).

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnetwork::{IpNetwork, Ipv4Network, Ipv6Network};

use super::LabName;
use super::inventory::{InterfaceInventory, Inventory, NodeInventory};
use super::rtnl::{BridgeSpec, LinkKind, LinkSpec, MacvlanSpec};
use crate::addr::MacAddr;
use crate::diag::{Diagnostic, Diagnostics};
use crate::scenario::{
    DEFAULT_VLAN, HOST_NODE, IFNAME_MAX, Ipv6Setting, MacvlanMode, Network, ParentKind, Port,
    PortVlan, Role, SWITCH_NODE, Scenario, Switch,
};

/// A lab namespace, by its position in `Plan::namespaces`.
pub(crate) type NsId = usize;

/// The namespace whose socket sends a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Sender {
    Lab(NsId),
    /// The namespace mvlab runs in: only for macvlans on an existing (`--use-real-parent`) parent.
    Root,
}

/// One kernel change.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Op {
    /// Create a link; `into` / `peer_into` create it (or a veth's peer) directly in that lab
    /// namespace.
    Link {
        spec: LinkSpec,
        kind: LinkKind,
        into: Option<NsId>,
        peer_into: Option<NsId>,
    },
    PortFlags {
        index: u32,
        port: Port,
    },
    /// Take a VLAN-filtering bridge's port out of VLAN `vid` (the default VLAN 1 it joins
    /// when enslaved).
    PortVlanDel {
        index: u32,
        vid: u16,
        port: String,
    },
    /// Make a VLAN-filtering bridge's port a member of `vlans`: (VID, whether untagged frames
    /// belong to it and it leaves untagged).
    PortVlans {
        index: u32,
        vlans: Vec<(u16, bool)>,
        port: String,
    },
    Up {
        index: u32,
        name: String,
    },
    /// Mark a link as the lab's (IFLA_IFALIAS `mvlab:<lab>`).
    Alias {
        index: u32,
        alias: String,
        name: String,
    },
    Address {
        index: u32,
        address: IpNetwork,
        interface: String,
    },
    Route {
        index: u32,
        destination: IpNetwork,
        gateway: Option<IpAddr>,
        interface: String,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Step {
    pub sender: Sender,
    pub op: Op,
}

/// A namespace of the lab.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NsPlan {
    pub node: String,
    pub role: Role,
    pub netns: String,
    /// Whether IPv6 stays on inside, and otherwise how it is switched off (`disable_ipv6`, as
    /// Docker does for networks without an IPv6 subnet): the whole namespace, only the
    /// interfaces created in it (Docker 26.1+: `lo` keeps `::1`), or not at all (Docker 26.0,
    /// CNI). Off also silences the interfaces' DAD / router solicitation / MLD frames.
    pub ipv6: Ipv6Setting,
}

/// Everything a lab is made of, in creation order.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub namespaces: Vec<NsPlan>,
    pub phases: [Vec<Step>; 3],
    /// Links to delete before the namespaces go: deleting them takes everything stacked on them
    /// (macvlans, VLANs, the shim, veth peers) in one kernel batch.
    pub first_deleted: Vec<(NsId, String)>,
    /// What the lab will look like; switch-side MACs are chosen by the kernel and filled in
    /// after the build.
    pub inventory: Inventory,
}

/// Where a network's macvlans hang: the sender whose namespace holds the link, and its index.
#[derive(Debug, Clone)]
struct Attachment {
    sender: Sender,
    index: u32,
    /// `node:interface` for the inventory.
    label: String,
}

struct Planner<'s> {
    s: &'s Scenario,
    alias: String,
    namespaces: Vec<NsPlan>,
    nodes: Vec<NodeInventory>,
    by_node: HashMap<String, NsId>,
    next_index: Vec<u32>,
    /// The next index `index_across` may give a link the root namespace's socket creates.
    root_next_index: u32,
    phases: [Vec<Step>; 3],
    first_deleted: Vec<(NsId, String)>,
    /// The bridge's index in the switch namespace.
    bridge: Option<u32>,
    /// Switch ports whose flags are set in phase 1.
    ports: Vec<(u32, Port)>,
    /// The peer-side veth index of each peer.
    peer_links: HashMap<String, u32>,
    diags: Diagnostics,
}

const HOST: NsId = 0;
const SWITCH: NsId = 1;

/// The root namespace as far as a plan needs it: the interfaces `existing` parents name (looked
/// up by the caller) and the first index above every one in use there.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct RealParents {
    pub index: BTreeMap<String, u32>,
    pub next_free: u32,
}

impl Plan {
    /// The plan of `scenario` as lab `name`, with the existing interfaces in `real_parents`.
    pub fn new(
        s: &Scenario,
        name: &LabName,
        real_parents: &RealParents,
    ) -> Result<Plan, Diagnostics> {
        let namespaces: Vec<NsPlan> = s
            .nodes()
            .into_iter()
            .map(|(node, role)| NsPlan {
                node: node.to_string(),
                role,
                netns: name.netns(node),
                ipv6: s.node_ipv6(node, role),
            })
            .collect();
        let nodes = namespaces
            .iter()
            .map(|n| NodeInventory {
                name: n.node.clone(),
                role: n.role,
                netns: n.netns.clone(),
                interfaces: Vec::new(),
            })
            .collect();
        if let Switch::External(_) = &s.switch {
            let mut diags = Diagnostics::default();
            for parent in s
                .parents
                .iter()
                .filter(|p| !matches!(p.kind, ParentKind::Existing { .. }))
            {
                diags.push(
                    Diagnostic::at(
                        &s.source,
                        parent.kind_span.clone(),
                        format!(
                            "parent `{}` is not an existing interface, but the switch is external",
                            parent.name
                        ),
                    )
                    .hint(
                        "with an external switch every parent is an existing interface wired to it",
                    ),
                );
            }
            diags.into_result(())?;
        }
        let mut p = Planner {
            s,
            alias: name.alias(),
            by_node: namespaces
                .iter()
                .enumerate()
                .map(|(i, n)| (n.node.clone(), i))
                .collect(),
            next_index: vec![2; namespaces.len()],
            root_next_index: real_parents.next_free,
            namespaces,
            nodes,
            phases: [Vec::new(), Vec::new(), Vec::new()],
            first_deleted: Vec::new(),
            bridge: None,
            ports: Vec::new(),
            peer_links: HashMap::new(),
            diags: Diagnostics::default(),
        };
        p.bridge();
        let attachments = p.parents_and_vlans(&real_parents.index);
        p.endpoints(&attachments);
        p.shim(&attachments);
        p.host_addresses(&attachments);
        p.peers();
        p.ports();
        p.loopbacks();
        let Planner {
            namespaces,
            nodes,
            phases,
            first_deleted,
            diags,
            ..
        } = p;
        diags.into_result(Plan {
            namespaces,
            phases,
            first_deleted,
            inventory: Inventory {
                lab: name.lab.clone(),
                prefix: name.prefix.clone(),
                scenario: s.name.clone(),
                nodes,
            },
        })
    }

    /// Every namespace name, in creation order.
    pub fn netns_names(&self) -> Vec<String> {
        self.namespaces.iter().map(|n| n.netns.clone()).collect()
    }
}

/// `ip/prefix`, which the scenario's subnets guarantee is valid.
pub(super) fn v4(ip: Ipv4Addr, prefix: u8) -> Ipv4Network {
    Ipv4Network::new(ip, prefix).expect("prefix lengths come from valid subnets")
}

pub(super) fn v6(ip: Ipv6Addr, prefix: u8) -> Ipv6Network {
    Ipv6Network::new(ip, prefix).expect("prefix lengths come from valid subnets")
}

/// The default route's destination in the family of `gateway`.
pub(super) fn default_destination(gateway: IpAddr) -> IpNetwork {
    match gateway {
        IpAddr::V4(_) => IpNetwork::V4(v4(Ipv4Addr::UNSPECIFIED, 0)),
        IpAddr::V6(_) => IpNetwork::V6(v6(Ipv6Addr::UNSPECIFIED, 0)),
    }
}

impl Planner<'_> {
    fn index(&mut self, ns: NsId) -> u32 {
        let i = self.next_index[ns];
        self.next_index[ns] += 1;
        i
    }

    /// An index for a link that `sender`'s socket creates directly in namespace `home`, free
    /// in both (see the module comment for why).
    fn index_across(&mut self, home: NsId, sender: Sender) -> u32 {
        let i = match sender {
            Sender::Lab(ns) => self.next_index[ns],
            Sender::Root => self.root_next_index,
        }
        .max(self.next_index[home]);
        match sender {
            Sender::Lab(ns) => self.next_index[ns] = i + 1,
            Sender::Root => self.root_next_index = i + 1,
        }
        self.next_index[home] = i + 1;
        i
    }

    fn ns(&self, node: &str) -> NsId {
        self.by_node[node]
    }

    fn spec(&self, name: &str, index: u32) -> LinkSpec {
        LinkSpec {
            name: name.to_string(),
            index,
            ..LinkSpec::default()
        }
    }

    /// A link of the host namespace on its interface `lower` (a VLAN sub-interface, the shim),
    /// made up in phase 1; returns its index.
    fn host_link_on(
        &mut self,
        name: &str,
        lower: u32,
        mac: Option<MacAddr>,
        kind: LinkKind,
    ) -> u32 {
        let index = self.index(HOST);
        let spec = LinkSpec {
            mac,
            up: true,
            lower: Some(lower),
            ..self.spec(name, index)
        };
        self.step(
            1,
            Sender::Lab(HOST),
            Op::Link {
                spec,
                kind,
                into: None,
                peer_into: None,
            },
        );
        index
    }

    /// Adds `op`; a link it creates is also marked with the lab's alias in the next phase, by the
    /// socket of the namespace the link ends up in.
    fn step(&mut self, phase: usize, sender: Sender, op: Op) {
        let mut made = Vec::new();
        if let Op::Link {
            spec,
            kind,
            into,
            peer_into,
        } = &op
        {
            let home = |target: Option<NsId>| match (target, sender) {
                (Some(ns), _) | (None, Sender::Lab(ns)) => Some(ns),
                (None, Sender::Root) => None,
            };
            made.push((home(*into), spec.index, spec.name.clone()));
            if let LinkKind::Veth(peer) = kind {
                made.push((home(*peer_into), peer.index, peer.name.clone()));
            }
        }
        self.phases[phase].push(Step { sender, op });
        for (home, index, name) in made {
            if let Some(ns) = home {
                let alias = self.alias.clone();
                self.phases[phase + 1].push(Step {
                    sender: Sender::Lab(ns),
                    op: Op::Alias { index, alias, name },
                });
            }
        }
    }

    fn interface(&mut self, ns: NsId, iface: InterfaceInventory) {
        self.nodes[ns].interfaces.push(iface);
    }

    fn bridge(&mut self) {
        let Switch::Bridge(b) = &self.s.switch else {
            return;
        };
        let index = self.index(SWITCH);
        self.bridge = Some(index);
        let mut spec = self.spec(&b.name, index);
        spec.up = true;
        let kind = LinkKind::Bridge(BridgeSpec {
            ageing_time: Some(b.ageing_time),
            fdb_max_learned: b.fdb_max_learned,
            multicast_snooping: Some(b.multicast_snooping),
            vlan_filtering: b.vlan_filtering.then_some(true),
        });
        self.step(
            0,
            Sender::Lab(SWITCH),
            Op::Link {
                spec,
                kind,
                into: None,
                peer_into: None,
            },
        );
        self.first_deleted.push((SWITCH, b.name.clone()));
        self.interface(
            SWITCH,
            InterfaceInventory {
                name: b.name.clone(),
                index,
                kind: "bridge".into(),
                mac: MacAddr::default(),
                ipv4: Vec::new(),
                ipv6: Vec::new(),
                mode: None,
                vlan: None,
                link: None,
                network: None,
            },
        );
    }

    /// Parents, then the VLAN sub-interfaces networks ask for; returns each network's
    /// attachment point.
    fn parents_and_vlans(&mut self, real: &BTreeMap<String, u32>) -> Vec<Option<Attachment>> {
        let s = self.s;
        let mut parent_at = Vec::new();
        for parent in &s.parents {
            let at = match &parent.kind {
                ParentKind::Existing { interface } => {
                    real.get(interface).map(|&index| Attachment {
                        sender: Sender::Root,
                        index,
                        label: format!("root:{interface}"),
                    })
                }
                kind => {
                    let index = self.index(HOST);
                    let mut spec = self.spec(&parent.name, index);
                    spec.mac = Some(parent.mac);
                    spec.mtu = Some(parent.mtu);
                    let link = if *kind == ParentKind::Dummy {
                        spec.up = true;
                        self.step(
                            0,
                            Sender::Lab(HOST),
                            Op::Link {
                                spec,
                                kind: LinkKind::Dummy,
                                into: None,
                                peer_into: None,
                            },
                        );
                        None
                    } else {
                        let (far, sender, label) =
                            self.parent_wire(parent.mtu, &parent.name, &parent.port);
                        self.step(
                            0,
                            sender,
                            Op::Link {
                                spec: far,
                                kind: LinkKind::Veth(spec),
                                into: None,
                                peer_into: Some(HOST),
                            },
                        );
                        self.step(
                            1,
                            Sender::Lab(HOST),
                            Op::Up {
                                index,
                                name: parent.name.clone(),
                            },
                        );
                        Some(label)
                    };
                    self.first_deleted.push((HOST, parent.name.clone()));
                    self.interface(
                        HOST,
                        InterfaceInventory {
                            name: parent.name.clone(),
                            index,
                            kind: if link.is_some() { "veth" } else { "dummy" }.into(),
                            mac: parent.mac,
                            ipv4: Vec::new(),
                            ipv6: Vec::new(),
                            mode: None,
                            vlan: None,
                            link,
                            network: None,
                        },
                    );
                    Some(Attachment {
                        sender: Sender::Lab(HOST),
                        index,
                        label: format!("{HOST_NODE}:{}", parent.name),
                    })
                }
            };
            parent_at.push(at);
        }
        let mut vlan_links: HashMap<String, Attachment> = HashMap::new();
        let mut out = Vec::new();
        for net in &s.networks {
            let parent = &s.parents[net.parent];
            let Some(base) = parent_at[net.parent].clone() else {
                out.push(None);
                continue;
            };
            let Some(vid) = net.vlan else {
                out.push(Some(base));
                continue;
            };
            if base.sender == Sender::Root {
                self.refuse_on_real_parent(
                    net.vlan_span.clone().unwrap_or(net.span.clone()),
                    &format!("the VLAN sub-interface `{}`", net.link),
                );
                out.push(None);
                continue;
            }
            if let Some(existing) = vlan_links.get(&net.link) {
                out.push(Some(existing.clone()));
                continue;
            }
            let index = self.host_link_on(&net.link, base.index, None, LinkKind::Vlan(vid));
            self.interface(
                HOST,
                InterfaceInventory {
                    name: net.link.clone(),
                    index,
                    kind: "vlan".into(),
                    mac: parent.mac,
                    ipv4: Vec::new(),
                    ipv6: Vec::new(),
                    mode: None,
                    vlan: Some(vid),
                    link: Some(base.label.clone()),
                    network: Some(net.name.clone()),
                },
            );
            let at = Attachment {
                sender: Sender::Lab(HOST),
                index,
                label: format!("{HOST_NODE}:{}", net.link),
            };
            vlan_links.insert(net.link.clone(), at.clone());
            out.push(Some(at));
        }
        out
    }

    /// The far end of a veth parent, which creates the wire: a switch port (up and enslaved at
    /// creation), or with no switch the single peer's interface (up). Returns its spec, the
    /// socket that creates it, and its inventory label.
    fn parent_wire(&mut self, mtu: u32, parent: &str, port: &Port) -> (LinkSpec, Sender, String) {
        let (ns, name, mac) = match &self.s.switch {
            Switch::Bridge(_) | Switch::Emulated(_) => (SWITCH, port.name.clone(), None),
            Switch::None { .. } | Switch::External(_) => {
                let peer = &self.s.peers[0];
                (self.ns(&peer.name), peer.interface.clone(), Some(peer.mac))
            }
        };
        let index = self.index(ns);
        let mut spec = self.spec(&name, index);
        spec.mtu = Some(mtu);
        spec.mac = mac;
        spec.up = true;
        spec.master = self.bridge;
        let node = self.namespaces[ns].node.clone();
        match &self.s.switch {
            Switch::Bridge(_) | Switch::Emulated(_) => {
                self.ports.push((index, port.clone()));
                self.interface(
                    SWITCH,
                    InterfaceInventory {
                        name: name.clone(),
                        index,
                        kind: "veth".into(),
                        mac: MacAddr::default(),
                        ipv4: Vec::new(),
                        ipv6: Vec::new(),
                        mode: None,
                        vlan: None,
                        link: Some(format!("{HOST_NODE}:{parent}")),
                        network: None,
                    },
                );
            }
            Switch::None { .. } | Switch::External(_) => {
                self.peer_links.insert(node.clone(), index);
            }
        }
        (spec, Sender::Lab(ns), format!("{node}:{name}"))
    }

    fn refuse_on_real_parent(&mut self, span: crate::diag::Span, what: &str) {
        self.diags.push(
            Diagnostic::at(
                &self.s.source,
                span,
                format!("{what} would be created in the root namespace, on an existing interface"),
            )
            .hint("mvlab only hangs macvlans on an existing parent; configure the rest yourself, or use a veth parent"),
        );
    }

    fn endpoints(&mut self, at: &[Option<Attachment>]) {
        let s = self.s;
        for e in &s.endpoints {
            let net = &s.networks[e.network];
            let Some(base) = at[e.network].clone() else {
                continue;
            };
            let ns = self.ns(&e.name);
            if base.sender == Sender::Root {
                // Deleted before its namespace goes: that is synchronous, and the existing
                // parent gets back its promiscuity before the lab is reported gone (a namespace
                // the kernel destroys in the background would release it later).
                self.first_deleted.push((ns, e.interface.clone()));
            }
            let index = self.index_across(ns, base.sender);
            let mut spec = self.spec(&e.interface, index);
            spec.mac = Some(e.mac);
            spec.up = true;
            spec.lower = Some(base.index);
            self.step(
                1,
                base.sender,
                Op::Link {
                    spec,
                    kind: LinkKind::Macvlan(macvlan_of(net, e.source_macs.clone())),
                    into: Some(ns),
                    peer_into: None,
                },
            );
            let ipv4: Vec<Ipv4Network> = e
                .ipv4
                .map(|ip| v4(ip, net.ipam4_of(ip).subnet.prefix()))
                .into_iter()
                .collect();
            for a in &ipv4 {
                self.address(2, ns, index, &e.interface, (*a).into());
            }
            let mut ipv6 = Vec::new();
            if let Some((ip, ipam)) = e.ipv6.and_then(|ip| Some((ip, net.ipam6_of(ip)?))) {
                let a = v6(ip, ipam.subnet.prefix());
                ipv6.push(a);
                self.address(2, ns, index, &e.interface, a.into());
            }
            let gateways = [e.gateway4.map(IpAddr::from), e.gateway6.map(IpAddr::from)];
            for gateway in gateways.into_iter().flatten() {
                self.route(
                    2,
                    ns,
                    index,
                    &e.interface,
                    default_destination(gateway),
                    Some(gateway),
                );
            }
            self.interface(
                ns,
                InterfaceInventory {
                    name: e.interface.clone(),
                    index,
                    kind: "macvlan".into(),
                    mac: e.mac,
                    ipv4,
                    ipv6,
                    mode: Some(net.mode),
                    vlan: net.vlan.or(net.frame_vlan),
                    link: Some(base.label.clone()),
                    network: Some(net.name.clone()),
                },
            );
        }
    }

    fn address(&mut self, phase: usize, ns: NsId, index: u32, iface: &str, address: IpNetwork) {
        self.step(
            phase,
            Sender::Lab(ns),
            Op::Address {
                index,
                address,
                interface: iface.to_string(),
            },
        );
    }

    fn route(
        &mut self,
        phase: usize,
        ns: NsId,
        index: u32,
        iface: &str,
        destination: IpNetwork,
        gateway: Option<IpAddr>,
    ) {
        self.step(
            phase,
            Sender::Lab(ns),
            Op::Route {
                index,
                destination,
                gateway,
                interface: iface.to_string(),
            },
        );
    }

    /// The Docker docs' host shim: a bridge-mode macvlan on the network's link with a /32 (and
    /// /128) address and a route to the network's ip_range through it.
    fn shim(&mut self, at: &[Option<Attachment>]) {
        let s = self.s;
        let Some(shim) = &s.host.shim else {
            return;
        };
        let net = &s.networks[shim.network];
        let Some(base) = at[shim.network].clone() else {
            return;
        };
        if base.sender == Sender::Root {
            self.refuse_on_real_parent(
                shim.span.clone(),
                &format!("the shim `{}`", shim.interface),
            );
            return;
        }
        let index = self.host_link_on(
            &shim.interface,
            base.index,
            Some(shim.mac),
            LinkKind::Macvlan(MacvlanSpec::new(MacvlanMode::Bridge)),
        );
        let ipv4 = v4(shim.ipv4, 32);
        self.address(1, HOST, index, &shim.interface, ipv4.into());
        self.route(
            1,
            HOST,
            index,
            &shim.interface,
            net.ipv4.ip_range.into(),
            None,
        );
        let mut ipv6 = Vec::new();
        if let (Some(ip), Some(ipam)) = (shim.ipv6, &net.ipv6) {
            let a = v6(ip, 128);
            ipv6.push(a);
            self.address(1, HOST, index, &shim.interface, a.into());
            self.route(1, HOST, index, &shim.interface, ipam.ip_range.into(), None);
        }
        self.interface(
            HOST,
            InterfaceInventory {
                name: shim.interface.clone(),
                index,
                kind: "macvlan".into(),
                mac: shim.mac,
                ipv4: vec![ipv4],
                ipv6,
                mode: Some(MacvlanMode::Bridge),
                vlan: net.vlan.or(net.frame_vlan),
                link: Some(base.label.clone()),
                network: Some(net.name.clone()),
            },
        );
    }

    /// The host's own addresses, on the link each network's macvlans hang from.
    fn host_addresses(&mut self, at: &[Option<Attachment>]) {
        let s = self.s;
        for ha in &s.host.addresses {
            let net = &s.networks[ha.network];
            let Some(base) = at[ha.network].clone() else {
                continue;
            };
            if base.sender == Sender::Root {
                self.refuse_on_real_parent(net.span.clone(), "a host address");
                continue;
            }
            let link = net.link.clone();
            let mut added4 = Vec::new();
            let mut added6 = Vec::new();
            if let Some(ip) = ha.ipv4 {
                let a = v4(ip, net.ipv4.subnet.prefix());
                added4.push(a);
                self.address(1, HOST, base.index, &link, a.into());
            }
            if let (Some(ip), Some(ipam)) = (ha.ipv6, &net.ipv6) {
                let a = v6(ip, ipam.subnet.prefix());
                added6.push(a);
                self.address(1, HOST, base.index, &link, a.into());
            }
            if let Some(iface) = self.nodes[HOST]
                .interfaces
                .iter_mut()
                .find(|i| i.index == base.index)
            {
                iface.ipv4.extend(added4);
                iface.ipv6.extend(added6);
            }
        }
    }

    /// Each peer: a veth whose switch end is its port, made by the switch (with no switch, the
    /// parent's wire, made in `parent_wire`), and on a VLAN network a `IFACE.VID` sub-interface
    /// carrying its addresses.
    fn peers(&mut self) {
        let s = self.s;
        // A peer of an external switch is a raw socket on its tester interface: nothing to make.
        for peer in s.peers.iter().filter(|p| p.existing.is_none()) {
            let ns = self.ns(&peer.name);
            let net = &s.networks[peer.network];
            let mtu = s.parents[net.parent].mtu;
            let (index, link) = match self.peer_links.get(&peer.name) {
                Some(&index) => (index, format!("{HOST_NODE}:{}", s.parents[net.parent].name)),
                None => {
                    let port_index = self.index(SWITCH);
                    let index = self.index(ns);
                    let mut spec = self.spec(&peer.port.name, port_index);
                    spec.mtu = Some(mtu);
                    spec.up = true;
                    spec.master = self.bridge;
                    let mut end = self.spec(&peer.interface, index);
                    end.mtu = Some(mtu);
                    end.mac = Some(peer.mac);
                    self.step(
                        0,
                        Sender::Lab(SWITCH),
                        Op::Link {
                            spec,
                            kind: LinkKind::Veth(end),
                            into: None,
                            peer_into: Some(ns),
                        },
                    );
                    self.ports.push((port_index, peer.port.clone()));
                    self.first_deleted.push((SWITCH, peer.port.name.clone()));
                    self.interface(
                        SWITCH,
                        InterfaceInventory {
                            name: peer.port.name.clone(),
                            index: port_index,
                            kind: "veth".into(),
                            mac: MacAddr::default(),
                            ipv4: Vec::new(),
                            ipv6: Vec::new(),
                            mode: None,
                            vlan: None,
                            link: Some(format!("{}:{}", peer.name, peer.interface)),
                            network: None,
                        },
                    );
                    self.step(
                        1,
                        Sender::Lab(ns),
                        Op::Up {
                            index,
                            name: peer.interface.clone(),
                        },
                    );
                    (index, format!("{SWITCH_NODE}:{}", peer.port.name))
                }
            };
            let ipv4 = vec![v4(peer.ipv4, net.ipv4.subnet.prefix())];
            let ipv6: Vec<Ipv6Network> = match (peer.ipv6, &net.ipv6) {
                (Some(ip), Some(ipam)) => vec![v6(ip, ipam.subnet.prefix())],
                _ => Vec::new(),
            };
            let veth = InterfaceInventory {
                name: peer.interface.clone(),
                index,
                kind: if peer.existing.is_some() {
                    "macvlan"
                } else {
                    "veth"
                }
                .into(),
                mac: peer.mac,
                ipv4: Vec::new(),
                ipv6: Vec::new(),
                mode: None,
                vlan: net.frame_vlan,
                link: Some(link),
                network: Some(net.name.clone()),
            };
            let (addressed, iface) = match net.vlan {
                None => (
                    index,
                    InterfaceInventory {
                        ipv4: ipv4.clone(),
                        ipv6: ipv6.clone(),
                        ..veth
                    },
                ),
                Some(vid) => {
                    let name = format!("{}.{vid}", peer.interface);
                    if name.len() > IFNAME_MAX {
                        self.diags.push(
                            Diagnostic::at(
                                &s.source,
                                peer.span.clone(),
                                format!("peer `{}` would need a VLAN interface `{name}`, longer than {IFNAME_MAX} bytes", peer.name),
                            )
                            .hint("give the peer a shorter interface name"),
                        );
                        continue;
                    }
                    let sub = self.index(ns);
                    let mut spec = self.spec(&name, sub);
                    spec.up = true;
                    spec.lower = Some(index);
                    self.step(
                        1,
                        Sender::Lab(ns),
                        Op::Link {
                            spec,
                            kind: LinkKind::Vlan(vid),
                            into: None,
                            peer_into: None,
                        },
                    );
                    self.interface(ns, veth);
                    (
                        sub,
                        InterfaceInventory {
                            name,
                            index: sub,
                            kind: "vlan".into(),
                            mac: peer.mac,
                            ipv4: ipv4.clone(),
                            ipv6: ipv6.clone(),
                            mode: None,
                            vlan: Some(vid),
                            link: Some(format!("{}:{}", peer.name, peer.interface)),
                            network: Some(net.name.clone()),
                        },
                    )
                }
            };
            let iface_name = iface.name.clone();
            self.interface(ns, iface);
            for a in ipv4 {
                self.address(1, ns, addressed, &iface_name, a.into());
            }
            for a in ipv6 {
                self.address(1, ns, addressed, &iface_name, a.into());
            }
        }
    }

    /// Bridge port flags, and on a VLAN-filtering bridge each port's VLANs (out of the default
    /// VLAN 1 first, into its own after); the emulated switch's ports are plain veths whose
    /// flags its forwarder applies itself.
    fn ports(&mut self) {
        let ports = std::mem::take(&mut self.ports);
        if self.bridge.is_none() {
            return;
        }
        let filtering = matches!(&self.s.switch, Switch::Bridge(b) if b.vlan_filtering);
        for (index, port) in ports {
            if filtering {
                let name = port.name.clone();
                self.step(
                    1,
                    Sender::Lab(SWITCH),
                    Op::PortVlanDel {
                        index,
                        vid: DEFAULT_VLAN,
                        port: name.clone(),
                    },
                );
                self.step(
                    1,
                    Sender::Lab(SWITCH),
                    Op::PortVlans {
                        index,
                        vlans: memberships(&port.policy.vlan),
                        port: name,
                    },
                );
            }
            self.step(1, Sender::Lab(SWITCH), Op::PortFlags { index, port });
        }
    }

    fn loopbacks(&mut self) {
        for ns in 0..self.namespaces.len() {
            self.step(
                2,
                Sender::Lab(ns),
                Op::Up {
                    index: 1,
                    name: "lo".into(),
                },
            );
        }
    }
}

/// The VLANs a VLAN-filtering bridge port is a member of, as `bridge vlan add` would make it:
/// an access port `vid V pvid untagged`, a trunk each allowed VID tagged and its native one
/// `pvid untagged` (a VID both allowed and native is native).
fn memberships(vlan: &PortVlan) -> Vec<(u16, bool)> {
    match vlan {
        PortVlan::Transparent => vec![(DEFAULT_VLAN, true)],
        PortVlan::Access { vid } => vec![(*vid, true)],
        PortVlan::Trunk { allowed, native } => native
            .iter()
            .map(|&n| (n, true))
            .chain(
                allowed
                    .iter()
                    .filter(|&&v| Some(v) != *native)
                    .map(|&v| (v, false)),
            )
            .collect(),
    }
}

pub(super) fn macvlan_of(net: &Network, source_macs: Vec<MacAddr>) -> MacvlanSpec {
    MacvlanSpec {
        mode: net.mode,
        nopromisc: net.nopromisc,
        nodst: net.nodst,
        source_macs,
        bcqueuelen: net.bcqueuelen,
        bc_cutoff: net.bc_cutoff,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::Source;
    use crate::scenario;

    fn plan_of(text: &str) -> Plan {
        let s = scenario::parse(Source::new("t.toml", text)).expect("valid scenario");
        Plan::new(
            &s,
            &LabName::new("mvlab", "t").unwrap(),
            &RealParents::default(),
        )
        .expect("plan")
    }

    fn links(plan: &Plan, phase: usize) -> Vec<(Sender, &str, &'static str, Option<NsId>)> {
        plan.phases[phase]
            .iter()
            .filter_map(|s| match &s.op {
                Op::Link {
                    spec, kind, into, ..
                } => Some((s.sender, spec.name.as_str(), kind.name(), *into)),
                _ => None,
            })
            .collect()
    }

    const BRIDGE: &str = r#"
[[networks]]
mode = "vepa"
subnet = "198.18.0.0/24"
[[networks.endpoints]]
count = 2
[[peers]]
name = "peer"
"#;

    /// Every step that names a link (by ifindex, as a lower device or as a bridge) runs after the
    /// step creating that link: in an earlier phase, or earlier on the same socket.
    fn assert_ordered(plan: &Plan, what: &str) {
        let home = |sender: Sender, target: Option<NsId>| match (target, sender) {
            (Some(ns), _) | (None, Sender::Lab(ns)) => Some(ns),
            (None, Sender::Root) => None,
        };
        let mut created: HashMap<(NsId, u32), (usize, Sender, usize)> = HashMap::new();
        for (p, phase) in plan.phases.iter().enumerate() {
            for (i, step) in phase.iter().enumerate() {
                if let Op::Link {
                    spec,
                    kind,
                    into,
                    peer_into,
                } = &step.op
                {
                    let mut made = vec![(home(step.sender, *into), spec.index)];
                    if let LinkKind::Veth(peer) = kind {
                        made.push((home(step.sender, *peer_into), peer.index));
                    }
                    for (ns, index) in made {
                        let Some(ns) = ns else { continue };
                        let before = created.insert((ns, index), (p, step.sender, i));
                        assert!(
                            before.is_none(),
                            "{what}: two links get index {index} in {ns}"
                        );
                    }
                }
            }
        }
        // A link created across namespaces has an index free in the sender's namespace too
        // (kernels up to 6.12 look it up there first and answer EEXIST).
        for step in plan.phases.iter().flatten() {
            if let (
                Op::Link {
                    spec,
                    into: Some(ns),
                    ..
                },
                Sender::Lab(sender),
            ) = (&step.op, step.sender)
                && *ns != sender
            {
                assert!(
                    !created.contains_key(&(sender, spec.index)),
                    "{what}: {} gets index {} in {ns}, which its sender {sender} also uses",
                    spec.name,
                    spec.index
                );
            }
        }
        for (p, phase) in plan.phases.iter().enumerate() {
            for (i, step) in phase.iter().enumerate() {
                let Sender::Lab(sender_ns) = step.sender else {
                    continue;
                };
                let needs: Vec<(NsId, u32)> = match &step.op {
                    Op::Address { index, .. }
                    | Op::Route { index, .. }
                    | Op::Up { index, .. }
                    | Op::Alias { index, .. }
                    | Op::PortFlags { index, .. }
                    | Op::PortVlanDel { index, .. }
                    | Op::PortVlans { index, .. } => vec![(sender_ns, *index)],
                    Op::Link { spec, into, .. } => {
                        let mut v: Vec<(NsId, u32)> =
                            spec.lower.map(|l| (sender_ns, l)).into_iter().collect();
                        if let (Some(m), Some(ns)) = (spec.master, home(step.sender, *into)) {
                            v.push((ns, m));
                        }
                        v
                    }
                };
                for need in needs.into_iter().filter(|(_, index)| *index != 1) {
                    let (cp, sender, ci) = created
                        .get(&need)
                        .unwrap_or_else(|| panic!("{what}: {step:?} names a link nobody creates"));
                    assert!(
                        *cp < p || (*cp == p && *sender == step.sender && *ci < i),
                        "{what}: phase {p} step {step:?} runs before the link it names exists"
                    );
                }
            }
        }
    }

    #[test]
    fn every_step_runs_after_the_links_it_names_exist() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
        let mut scenarios: Vec<(String, scenario::Scenario)> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .map(|p| {
                (
                    p.display().to_string(),
                    scenario::load(&p).unwrap().scenario,
                )
            })
            .collect();
        assert!(scenarios.len() >= 10);
        let extra = [
            r#"
[[networks]]
subnet = "198.18.0.0/24"
subnet6 = "2001:2:0:1::/64"
ip_range = "198.18.0.128/26"
aux_addresses = { host = "198.18.0.10", shim = "198.18.0.11" }
vlan = 7
[[networks.endpoints]]
count = 2
[[peers]]
name = "peer"
[host]
ip = "198.18.0.10"
shim = { name = "shim0", ip = "198.18.0.11" }
"#,
            "[switch]\nkind = \"none\"\n[[networks]]\n[[networks.endpoints]]\ncount = 2\n[[peers]]\nname = \"peer\"\n",
        ];
        for (i, text) in extra.iter().enumerate() {
            let s = scenario::parse(Source::new(format!("extra{i}.toml"), *text)).unwrap();
            scenarios.push((format!("extra{i}"), s));
        }
        for (what, s) in &scenarios {
            let plan = Plan::new(
                s,
                &LabName::new("mvlab", "t").unwrap(),
                &RealParents::default(),
            )
            .unwrap_or_else(|d| panic!("{what}: {d}"));
            assert_ordered(&plan, what);
        }
    }

    #[test]
    fn namespaces_are_named_after_prefix_lab_and_node() {
        let plan = plan_of(BRIDGE);
        assert_eq!(
            plan.netns_names(),
            [
                "mvlab-t-host",
                "mvlab-t-switch",
                "mvlab-t-e1",
                "mvlab-t-e2",
                "mvlab-t-peer"
            ]
        );
        assert!(plan.namespaces.iter().all(|n| !n.ipv6.wanted));
    }

    #[test]
    fn macvlans_are_created_from_the_host_socket_directly_in_their_namespace() {
        let plan = plan_of(BRIDGE);
        let wires = links(&plan, 0);
        assert_eq!(
            wires,
            [
                (Sender::Lab(SWITCH), "br0", "bridge", None),
                (Sender::Lab(SWITCH), "p0", "veth", None),
                (Sender::Lab(SWITCH), "p1", "veth", None),
            ]
        );
        let stacked = links(&plan, 1);
        assert_eq!(
            stacked,
            [
                (Sender::Lab(HOST), "eth0", "macvlan", Some(2)),
                (Sender::Lab(HOST), "eth0", "macvlan", Some(3)),
            ]
        );
        let host: Vec<&Op> = plan.phases[1]
            .iter()
            .filter(|s| s.sender == Sender::Lab(HOST))
            .map(|s| &s.op)
            .filter(|op| !matches!(op, Op::Alias { .. }))
            .collect();
        assert!(
            matches!(host[0], Op::Up { index: 2, name } if name == "eth0"),
            "the parent is up (has carrier) before anything is stacked on it: {host:?}"
        );
        let Op::Link { spec, kind, .. } = host[1] else {
            unreachable!()
        };
        assert_eq!(
            spec.index, 3,
            "free in the host's namespace too, whose socket creates it (2 is the parent there)"
        );
        assert_eq!(spec.lower, Some(2), "on the parent, host ifindex 2");
        assert!(spec.up);
        let LinkKind::Macvlan(m) = kind else {
            unreachable!()
        };
        assert_eq!(m.mode, MacvlanMode::Vepa);
        let marked = plan
            .phases
            .iter()
            .flatten()
            .filter(|s| matches!(&s.op, Op::Alias { alias, .. } if alias == "mvlab:t"))
            .count();
        assert_eq!(
            marked,
            wires.len() + 2 + stacked.len(),
            "every link, veth peers included"
        );
    }

    #[test]
    fn switch_creates_each_wire_with_its_port_up_and_enslaved() {
        let plan = plan_of(BRIDGE);
        let Op::Link {
            spec,
            kind: LinkKind::Veth(parent),
            peer_into,
            ..
        } = &plan.phases[0][1].op
        else {
            unreachable!()
        };
        assert_eq!((spec.name.as_str(), spec.index), ("p0", 3));
        assert!(spec.up);
        assert_eq!(spec.master, Some(2), "enslaved to br0 at creation");
        assert_eq!(parent.name, "eth0");
        assert_eq!(*peer_into, Some(HOST));
        assert!(
            !parent.up,
            "the kernel refuses IFF_UP on a veth peer at creation"
        );
        let flags: Vec<&Op> = plan.phases[1]
            .iter()
            .filter(|s| s.sender == Sender::Lab(SWITCH))
            .map(|s| &s.op)
            .filter(|op| matches!(op, Op::PortFlags { .. }))
            .collect();
        assert!(
            matches!(flags[0], Op::PortFlags { index: 3, port } if port.name == "p0" && !port.hairpin)
        );
        assert!(matches!(flags[1], Op::PortFlags { port, .. } if port.name == "p1"));
        assert_eq!(
            plan.first_deleted,
            [
                (SWITCH, "br0".to_string()),
                (HOST, "eth0".to_string()),
                (SWITCH, "p1".to_string())
            ]
        );
    }

    #[test]
    fn a_passthru_parent_carries_its_endpoint_mac() {
        let text = "[[networks]]\nmode = \"passthru\"\n[[networks.endpoints]]\nname = \"e1\"\n";
        let s = scenario::parse(Source::new("t.toml", text)).unwrap();
        let plan = Plan::new(
            &s,
            &LabName::new("mvlab", "t").unwrap(),
            &RealParents::default(),
        )
        .unwrap();
        let e1 = s.endpoint("e1").unwrap().mac;
        let Op::Link {
            kind: LinkKind::Veth(parent),
            ..
        } = &plan.phases[0][1].op
        else {
            unreachable!()
        };
        assert_eq!(parent.mac, Some(e1));
        assert_eq!(plan.inventory.node("host").unwrap().interfaces[0].mac, e1);
    }

    #[test]
    fn endpoints_get_address_default_route_and_lo_last() {
        let plan = plan_of(BRIDGE);
        let e1: Vec<&Op> = plan.phases[2]
            .iter()
            .filter(|s| s.sender == Sender::Lab(2))
            .map(|s| &s.op)
            .collect();
        assert_eq!(
            e1,
            [
                &Op::Alias {
                    index: 3,
                    alias: "mvlab:t".into(),
                    name: "eth0".into()
                },
                &Op::Address {
                    index: 3,
                    address: "198.18.0.2/24".parse().unwrap(),
                    interface: "eth0".into()
                },
                &Op::Route {
                    index: 3,
                    destination: "0.0.0.0/0".parse().unwrap(),
                    gateway: Some("198.18.0.1".parse().unwrap()),
                    interface: "eth0".into()
                },
                &Op::Up {
                    index: 1,
                    name: "lo".into()
                },
            ]
        );
        let node = plan.inventory.node("e1").unwrap();
        assert_eq!(node.netns, "mvlab-t-e1");
        assert_eq!(node.interfaces[0].ipv4, ["198.18.0.2/24".parse().unwrap()]);
        assert_eq!(node.interfaces[0].mode, Some(MacvlanMode::Vepa));
        assert_eq!(node.interfaces[0].link.as_deref(), Some("host:eth0"));
    }

    #[test]
    fn shim_gets_a_host_route_to_the_ip_range_and_host_address_goes_on_the_parent() {
        let plan = plan_of(
            r#"
[[networks]]
subnet = "198.18.0.0/24"
ip_range = "198.18.0.128/26"
aux_addresses = { host = "198.18.0.10", shim = "198.18.0.11" }
[host]
ip = "198.18.0.10"
shim = { name = "shim0", ip = "198.18.0.11" }
"#,
        );
        let host_ops: Vec<&Op> = plan.phases[1]
            .iter()
            .filter(|s| s.sender == Sender::Lab(HOST))
            .map(|s| &s.op)
            .collect();
        // 2 is the parent; 3 and 4 went to the endpoints' macvlans, which the host's socket
        // creates in their own namespaces.
        assert!(host_ops.contains(&&Op::Address {
            index: 5,
            address: "198.18.0.11/32".parse().unwrap(),
            interface: "shim0".into()
        }));
        assert!(host_ops.contains(&&Op::Route {
            index: 5,
            destination: "198.18.0.128/26".parse().unwrap(),
            gateway: None,
            interface: "shim0".into()
        }));
        assert!(host_ops.contains(&&Op::Address {
            index: 2,
            address: "198.18.0.10/24".parse().unwrap(),
            interface: "eth0".into()
        }));
        let host = plan.inventory.node("host").unwrap();
        assert_eq!(host.interface("eth0").unwrap().ipv4.len(), 1);
        assert_eq!(
            host.interface("shim0").unwrap().mode,
            Some(MacvlanMode::Bridge)
        );
    }

    #[test]
    fn vlan_networks_get_a_sub_interface_on_the_host_and_on_their_peer() {
        let plan = plan_of(
            r#"
[[networks]]
name = "v10"
vlan = 10
[[networks.endpoints]]
count = 1
[[peers]]
name = "peer"
"#,
        );
        let created = links(&plan, 1);
        assert_eq!(
            created,
            [
                (Sender::Lab(HOST), "eth0.10", "vlan", None),
                (Sender::Lab(HOST), "eth0", "macvlan", Some(2)),
                (Sender::Lab(3), "eth0.10", "vlan", None),
            ]
        );
        let e1 = plan.inventory.node("e1").unwrap();
        assert_eq!(e1.interfaces[0].vlan, Some(10));
        assert_eq!(e1.interfaces[0].link.as_deref(), Some("host:eth0.10"));
        let peer = plan.inventory.node("peer").unwrap();
        assert_eq!(peer.interfaces.len(), 2);
        assert!(peer.interfaces[0].ipv4.is_empty());
        assert_eq!(peer.interfaces[1].name, "eth0.10");
    }

    #[test]
    fn bare_wire_puts_the_parent_peer_end_in_the_peer_namespace() {
        let plan = plan_of(
            r#"
[switch]
kind = "none"
[[networks]]
[[networks.endpoints]]
count = 1
[[peers]]
name = "peer"
"#,
        );
        assert_eq!(
            plan.netns_names(),
            ["mvlab-t-host", "mvlab-t-e1", "mvlab-t-peer"]
        );
        let Step {
            sender,
            op:
                Op::Link {
                    spec,
                    kind: LinkKind::Veth(parent),
                    peer_into,
                    ..
                },
        } = &plan.phases[0][0]
        else {
            unreachable!()
        };
        assert_eq!(*sender, Sender::Lab(2), "the peer's socket makes the wire");
        assert_eq!(*peer_into, Some(HOST));
        assert_eq!((spec.name.as_str(), parent.name.as_str()), ("eth0", "eth0"));
        assert!(spec.up && spec.mac.is_some() && spec.master.is_none());
        assert_eq!(plan.first_deleted, [(HOST, "eth0".to_string())]);
    }

    #[test]
    fn existing_parents_hang_macvlans_from_the_root_namespace_only() {
        let text = r#"
peers = []
[[parents]]
name = "eth0"
kind = "existing"
interface = "enp1s0"
[[networks]]
[[networks.endpoints]]
count = 1
"#;
        let s = scenario::parse(Source::new("t.toml", text)).expect("valid scenario");
        let real = RealParents {
            index: BTreeMap::from([("enp1s0".to_string(), 7)]),
            next_free: 12,
        };
        let plan = Plan::new(&s, &LabName::new("mvlab", "t").unwrap(), &real).unwrap();
        assert_eq!(
            links(&plan, 0),
            [(Sender::Lab(SWITCH), "br0", "bridge", None)]
        );
        assert_eq!(
            links(&plan, 1),
            [(Sender::Root, "eth0", "macvlan", Some(2))]
        );
        // The root socket creates it: its index is free there (from `next_free`) as well as in
        // the endpoint's namespace.
        assert_eq!(
            plan.inventory.nodes[2].interfaces[0].index, 12,
            "{:?}",
            plan.inventory.nodes[2]
        );
        let Some(Op::Link { spec, .. }) = plan.phases[1]
            .iter()
            .find(|s| s.sender == Sender::Root)
            .map(|s| &s.op)
        else {
            unreachable!()
        };
        assert_eq!(spec.lower, Some(7));
        assert_eq!(
            plan.first_deleted,
            [(SWITCH, "br0".to_string()), (2, "eth0".to_string())],
            "the macvlan on the real parent goes first, synchronously"
        );
    }
}

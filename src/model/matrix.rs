//! The predicted delivery matrix: the same cells, in the same order, as the matrix measurement,
//! plus a grouped form for labs too large to list pair by pair. Owns the pass protocol the
//! prediction assumes (the lab's own IPv6 background frames have reached the switch, and it is
//! primed before each pass: each of the test's senders, in matrix order, sends one frame to
//! `UNKNOWN_UNICAST_MAC`), the cell order, and the grouping of nodes into
//! classes whose members the rules cannot tell apart. The rules themselves are in the walk.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::addr::MacAddr;
use crate::delivery::{Addressing, Cell, FrameClass, MatrixSpec};
use crate::model::fabric::{Background, Fabric, NodeId, NodeKind, Segment};
use crate::model::fdb::Fdb;
use crate::model::frame::Frame;
use crate::model::walk::{Counts, Walk};

/// The forwarding table after priming. First the lab's own IPv6 background (`ipv6_background`),
/// then each of `senders`, in matrix order, has sent one frame to `UNKNOWN_UNICAST_MAC`, so the
/// switch knows each sender's MAC where it enters (up to `fdb_max_learned`). The frames of the
/// pass teach it nothing more.
pub fn primed_fdb(fabric: &Fabric, senders: &[NodeId]) -> Fdb {
    let mut fdb = ipv6_background(fabric, fabric.ipv6_background());
    if matches!(fabric.segment, Segment::Wire { .. }) {
        return fdb;
    }
    let mut counts = Counts::new(fabric.nodes.len());
    for &node in senders {
        Walk {
            fabric,
            fdb: &mut fdb,
            sink: &mut counts,
            promiscuous: false,
        }
        .send(
            node,
            fabric.sent_by(node, Frame::priming(fabric.nodes[node].mac)),
        );
        counts.clear();
    }
    fdb
}

/// The forwarding table once the lab's own IPv6 background has reached the switch: each
/// interface with IPv6 on, in the order given, has sent frames of its own while the lab came up
/// (duplicate address detection, MLD reports, router solicitations), untagged unless a
/// sub-interface tags them. The switch learns only from a frame's source, VLAN and ingress
/// port, and the copies of a group frame change no state, so each is walked as a priming frame
/// sent from that interface without a test tag.
fn ipv6_background(fabric: &Fabric, from: impl IntoIterator<Item = Background>) -> Fdb {
    let mut fdb = Fdb::default();
    if matches!(fabric.segment, Segment::Wire { .. }) {
        return fdb;
    }
    let mut counts = Counts::new(fabric.nodes.len());
    for sender in from {
        let mut walk = Walk {
            fabric,
            fdb: &mut fdb,
            sink: &mut counts,
            promiscuous: false,
        };
        match sender {
            Background::Station(node) => walk.send(node, Frame::priming(fabric.nodes[node].mac)),
            Background::SubInterface(link) => {
                let mac = fabric.parents[fabric.links[link].parent].mac;
                walk.link_xmit(link, Frame::priming(mac))
            }
        }
        counts.clear();
    }
    fdb
}

/// Whether what the switch learns from the lab's IPv6 background depends on the order the
/// kernel's timers send it in: a limit of the switch (`fdb_max_learned`, a port's `mac_limit` or
/// `max_macs`, the learning rate) cannot take every source, so station order and its reverse
/// leave different tables.
pub fn ipv6_background_order_matters(fabric: &Fabric) -> bool {
    let order = fabric.ipv6_background();
    let forward = ipv6_background(fabric, order.iter().copied());
    let reverse = ipv6_background(fabric, order.iter().rev().copied());
    let mut shut = [forward.emulated.shut_down, reverse.emulated.shut_down];
    shut.iter_mut().for_each(|s| s.sort_unstable());
    forward.entries != reverse.entries
        || forward.emulated.table != reverse.emulated.table
        || shut[0] != shut[1]
}

/// Runs walks from one primed table, reusing one counter.
pub struct Walker<'a> {
    pub fabric: &'a Fabric,
    pub fdb: Fdb,
    pub counts: Counts,
}

impl<'a> Walker<'a> {
    pub fn new(fabric: &'a Fabric, fdb: Fdb) -> Walker<'a> {
        Walker {
            fabric,
            fdb,
            counts: Counts::new(fabric.nodes.len()),
        }
    }

    /// Copies of `frame` from `from` at every node (valid until the next call).
    pub fn walk(&mut self, from: NodeId, frame: Frame, promiscuous: bool) -> &Counts {
        self.counts.clear();
        Walk {
            fabric: self.fabric,
            fdb: &mut self.fdb,
            sink: &mut self.counts,
            promiscuous,
        }
        .send(from, frame);
        &self.counts
    }

    fn class_frame(&self, from: NodeId, class: FrameClass, to: NodeId, vlan: u16) -> Frame {
        let n = &self.fabric.nodes;
        self.fabric
            .sent_by(from, Frame::of_class(n[from].mac, class, n[to].mac, vlan))
    }
}

/// Every cell of the matrix, in the measurement's order: for each pass (in `spec.promiscuous`
/// order), each class (in `spec.classes` order), each sender, each receiver other than the
/// sender, both in station order (`Scenario::stations`: the host's parents, the shim,
/// endpoints, peers). Unicast goes to each receiver in turn. `received`/`leaked` hold the
/// prediction; `expected*` are left empty.
pub fn predict_cells(
    fabric: &Fabric,
    spec: &MatrixSpec,
    senders: &[NodeId],
    receivers: &[NodeId],
) -> Vec<Cell> {
    let n = fabric.nodes.len();
    let k = u64::from(spec.frames);
    let mut walker = Walker::new(fabric, primed_fdb(fabric, senders));
    let mut cells = Vec::with_capacity(
        spec.promiscuous.len() * spec.classes.len() * senders.len() * receivers.len(),
    );
    let mut received = vec![0u64; n];
    let mut leaked = vec![0u64; n];
    for &promiscuous in &spec.promiscuous {
        for &class in &spec.classes {
            for &from in senders {
                received.iter_mut().for_each(|v| *v = 0);
                leaked.iter_mut().for_each(|v| *v = 0);
                for to in destinations(class, from, receivers) {
                    let frame = walker.class_frame(from, class, to.unwrap_or(from), spec.vlan);
                    let counts = walker.walk(from, frame, promiscuous);
                    match to {
                        Some(to) => {
                            received[to] = u64::from(counts.get(to));
                            for &t in counts.touched() {
                                if t != to && t != from {
                                    leaked[t] += u64::from(counts.get(t));
                                }
                            }
                        }
                        None => {
                            for &t in counts.touched() {
                                received[t] = u64::from(counts.get(t));
                            }
                        }
                    }
                }
                for &to in receivers.iter().filter(|&&t| t != from) {
                    cells.push(Cell {
                        from: fabric.nodes[from].name.clone(),
                        to: fabric.nodes[to].name.clone(),
                        class,
                        promiscuous,
                        sent: k,
                        received: received[to] * k,
                        leaked: leaked[to] * k,
                        expected: None,
                        expected_leaked: None,
                    });
                }
            }
        }
    }
    cells
}

/// Where a pass sends `class` from `from`: each receiver but the sender in turn for unicast,
/// else one frame to the class's fixed destination (`None`).
fn destinations(class: FrameClass, from: NodeId, receivers: &[NodeId]) -> Vec<Option<NodeId>> {
    if class.addressing == Addressing::Unicast {
        receivers
            .iter()
            .filter(|&&t| t != from)
            .map(|&t| Some(t))
            .collect()
    } else {
        vec![None]
    }
}

/// The copies one frame of each flow of a pass makes over the whole lab, every node counted,
/// not only the test's receivers: `(sender, class, destination)` in the measurement's order,
/// the destination `None` for a class with a fixed one. Walked from the table `predict_cells`
/// starts from.
pub fn frame_copies(
    fabric: &Fabric,
    spec: &MatrixSpec,
    senders: &[NodeId],
    receivers: &[NodeId],
    promiscuous: bool,
) -> Vec<(NodeId, FrameClass, Option<NodeId>, u32)> {
    let mut walker = Walker::new(fabric, primed_fdb(fabric, senders));
    let mut copies = Vec::new();
    for &class in &spec.classes {
        for &from in senders {
            for to in destinations(class, from, receivers) {
                let frame = walker.class_frame(from, class, to.unwrap_or(from), spec.vlan);
                let counts = walker.walk(from, frame, promiscuous);
                let total = counts.touched().iter().map(|&t| counts.get(t)).sum();
                copies.push((from, class, to, total));
            }
        }
    }
    copies
}

/// Nodes the rules cannot tell apart: the same kind, network, source list and learned state,
/// and no other node's rule names them (source lists, shared MACs). The host and the shim are
/// always alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    /// Its members' names, shortened: `e1`, `e1, e2` or `e1 .. e100`.
    pub label: String,
    /// What its members are, e.g. `endpoints of net0 (bridge mode on eth0)`.
    pub kind: String,
    pub members: Vec<String>,
    #[serde(skip)]
    pub ids: Vec<NodeId>,
}

#[derive(Hash, PartialEq, Eq)]
enum GroupKey {
    Alone(NodeId),
    Endpoint {
        network: usize,
        sources: Vec<MacAddr>,
        learned: bool,
    },
    Peer {
        network: Option<usize>,
        flags: [bool; 5],
        learned: bool,
    },
}

pub fn group_nodes(fabric: &Fabric, fdb: &Fdb, network_names: &[String]) -> Vec<Group> {
    let mut mac_count: HashMap<MacAddr, u32> = HashMap::with_capacity(fabric.nodes.len());
    for n in &fabric.nodes {
        *mac_count.entry(n.mac).or_default() += 1;
    }
    let ports: &[crate::model::fabric::SwitchPort] = match &fabric.segment {
        Segment::Bridge(b) => &b.ports,
        Segment::Wire { .. } => &[],
    };
    // Source lists and the emulated switch's static entries name MACs; a peer whose port has
    // the emulated switch's VLAN or security settings is treated apart from the others.
    let listed: std::collections::HashSet<MacAddr> = fabric
        .devs
        .iter()
        .flat_map(|d| d.sources.iter().copied())
        .chain(
            ports
                .iter()
                .flat_map(|p| p.flags.policy.static_macs.iter().copied()),
        )
        .collect();
    let own_policy = |node: &crate::model::fabric::Node| match node.kind {
        NodeKind::Peer(p) => fabric.peers[p]
            .port
            .is_some_and(|port| ports[port].flags.policy != Default::default()),
        _ => false,
    };
    let mut index: HashMap<GroupKey, usize> = HashMap::new();
    let mut groups: Vec<Group> = Vec::new();
    for (id, node) in fabric.nodes.iter().enumerate() {
        let singular = mac_count[&node.mac] > 1 || listed.contains(&node.mac) || own_policy(node);
        let learned = fdb.lookup(node.mac).is_some();
        let (key, kind) = match node.kind {
            NodeKind::Endpoint(dev) if !singular => {
                let d = &fabric.devs[dev];
                let mut sources = d.sources.clone();
                sources.sort();
                let net = node.network.unwrap_or_default();
                let kind = format!(
                    "endpoints of {} ({} mode on {})",
                    network_names.get(net).map_or("?", String::as_str),
                    d.mode,
                    fabric.links[d.link].name
                );
                (
                    GroupKey::Endpoint {
                        network: net,
                        sources,
                        learned,
                    },
                    kind,
                )
            }
            NodeKind::Peer(p) if !singular => {
                let flags = match (&fabric.segment, fabric.peers[p].port) {
                    (Segment::Bridge(b), Some(port)) => {
                        let f = &b.ports[port].flags;
                        [
                            f.hairpin,
                            f.learning,
                            f.unicast_flood,
                            f.multicast_flood,
                            f.broadcast_flood,
                        ]
                    }
                    _ => [false; 5],
                };
                (
                    GroupKey::Peer {
                        network: node.network,
                        flags,
                        learned,
                    },
                    "peers".to_string(),
                )
            }
            kind => (GroupKey::Alone(id), alone_kind(fabric, kind)),
        };
        let g = *index.entry(key).or_insert_with(|| {
            groups.push(Group {
                label: String::new(),
                kind,
                members: Vec::new(),
                ids: Vec::new(),
            });
            groups.len() - 1
        });
        groups[g].ids.push(id);
    }
    for g in &mut groups {
        g.members = g
            .ids
            .iter()
            .map(|&i| fabric.nodes[i].name.clone())
            .collect();
        g.label = match g.members.as_slice() {
            [] => String::new(),
            [a] => a.clone(),
            [a, b] => format!("{a}, {b}"),
            [a, .., z] => format!("{a} .. {z}"),
        };
    }
    groups
}

fn alone_kind(fabric: &Fabric, kind: NodeKind) -> String {
    match kind {
        NodeKind::Host(_) => "the host's parent interface".into(),
        NodeKind::Shim(_) => "the host shim (bridge mode)".into(),
        NodeKind::Endpoint(d) => format!(
            "endpoint ({} mode on {})",
            fabric.devs[d].mode, fabric.links[fabric.devs[d].link].name
        ),
        NodeKind::Peer(_) => "peer".into(),
    }
}

/// One cell of the grouped matrix: every (from, to) pair with `from` in the sending group and
/// `to` in the receiving group (never `from` itself) has exactly these counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupCell {
    pub from: String,
    pub to: String,
    pub class: FrameClass,
    pub promiscuous: bool,
    /// How many (from, to) pairs the cell stands for.
    pub pairs: u64,
    pub sent: u64,
    pub received: u64,
    pub leaked: u64,
}

/// The grouped matrix: the same numbers as `predict_cells`, one row per pair of groups.
pub fn predict_groups(
    fabric: &Fabric,
    fdb: &Fdb,
    groups: &[Group],
    spec: &MatrixSpec,
) -> Vec<GroupCell> {
    let k = u64::from(spec.frames);
    let mut walker = Walker::new(fabric, fdb.clone());
    let mut cells = Vec::new();
    let mut received = vec![0u64; groups.len()];
    let mut leaked = vec![0u64; groups.len()];
    let first_not = |g: &Group, not: &[NodeId]| g.ids.iter().copied().find(|m| !not.contains(m));
    for &promiscuous in &spec.promiscuous {
        for &class in &spec.classes {
            for a in groups.iter().filter(|g| fabric.is_sender(g.ids[0])) {
                let s = a.ids[0];
                received.iter_mut().for_each(|v| *v = 0);
                leaked.iter_mut().for_each(|v| *v = 0);
                if class.addressing == Addressing::Unicast {
                    for (ci, c) in groups.iter().enumerate() {
                        let Some(d) = first_not(c, &[s]) else {
                            continue;
                        };
                        let frame = walker.class_frame(s, class, d, spec.vlan);
                        let counts = walker.walk(s, frame, promiscuous);
                        received[ci] = u64::from(counts.get(d));
                        for (bi, b) in groups.iter().enumerate() {
                            let Some(t) = first_not(b, &[s, d]) else {
                                continue;
                            };
                            let copies = u64::from(counts.get(t));
                            if copies > 0 {
                                let others = c.ids.len() as u64
                                    - u64::from(c.ids.contains(&s))
                                    - u64::from(c.ids.contains(&t));
                                leaked[bi] += others * copies;
                            }
                        }
                    }
                } else {
                    let frame = walker.class_frame(s, class, s, spec.vlan);
                    let counts = walker.walk(s, frame, promiscuous);
                    for (bi, b) in groups.iter().enumerate() {
                        if let Some(t) = first_not(b, &[s]) {
                            received[bi] = u64::from(counts.get(t));
                        }
                    }
                }
                for (bi, b) in groups.iter().enumerate() {
                    let same = std::ptr::eq(a, b);
                    let pairs = a.ids.len() as u64 * b.ids.len() as u64
                        - if same { a.ids.len() as u64 } else { 0 };
                    if pairs == 0 {
                        continue;
                    }
                    cells.push(GroupCell {
                        from: a.label.clone(),
                        to: b.label.clone(),
                        class,
                        promiscuous,
                        pairs,
                        sent: k,
                        received: received[bi] * k,
                        leaked: leaked[bi] * k,
                    });
                }
            }
        }
    }
    cells
}

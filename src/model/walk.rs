//! The walk of one frame through the compiled lab: from its sender, across macvlan ports, the
//! parent's wire, the switch and veth peers, to every interface that gets a copy. Owns the glue
//! between devices (which device a frame reaches next) and the reporting seam (`Sink`) through
//! which a walk tells who received a copy and, when traced, each hop in words. The macvlan rules
//! live in `macvlan.rs`, the bridge's in `switch.rs`; this module applies no rule of its own
//! beyond "a veth delivers every frame to its peer" and "a packet socket on the parent sees
//! every incoming frame before macvlan takes it".

use serde::{Deserialize, Serialize};

use crate::model::fabric::{Fabric, LinkId, NodeId, NodeKind, Segment};
use crate::model::fdb::Fdb;
use crate::model::frame::Frame;
use crate::scenario::ParentKind;

/// Where a copy of a frame ends up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    /// A packet socket bound to the node's lab interface sees it (what the matrix counts).
    Socket,
    /// The host's own IP stack on a parent gets it (macvlan let it pass; for reachability
    /// only: the socket arrival was reported when the frame entered the parent).
    HostStack,
}

/// What happened to the frame at one hop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Passed on towards another device.
    Forwarded,
    /// A copy reached a receiver.
    Delivered,
    /// Not passed on here.
    Dropped,
}

/// One hop of a trace: the device, the kernel function whose rule applied, and what it did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hop {
    pub device: String,
    pub kernel: String,
    pub action: Action,
    /// The receiver a delivered copy reached.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    pub text: String,
}

impl Hop {
    pub fn new(device: String, kernel: &str, action: Action, text: String) -> Hop {
        Hop {
            device,
            kernel: kernel.to_string(),
            action,
            node: None,
            text,
        }
    }
}

/// Receives the outcome of a walk. Hops are built lazily so that untraced walks cost nothing.
pub trait Sink {
    fn arrive(&mut self, node: NodeId, arrival: Arrival);
    fn hop(&mut self, hop: impl FnOnce() -> Hop);
}

/// One walk in progress.
pub struct Walk<'a, S: Sink> {
    pub fabric: &'a Fabric,
    /// The switch's forwarding table; ingress frames update it as the bridge does.
    pub fdb: &'a mut Fdb,
    pub sink: &'a mut S,
    /// Every receiving interface is promiscuous (the matrix's promiscuous pass).
    pub promiscuous: bool,
}

impl<S: Sink> Walk<'_, S> {
    /// `from` transmits `frame` from its lab interface.
    pub fn send(&mut self, from: NodeId, frame: Frame) {
        match self.fabric.nodes[from].kind {
            NodeKind::Endpoint(dev) | NodeKind::Shim(dev) => self.macvlan_xmit(dev, frame),
            NodeKind::Peer(peer) => self.peer_xmit(peer, frame),
            NodeKind::Host(parent) => {
                self.sink.hop(|| {
                    Hop::new(
                        self.fabric.parent_label(parent),
                        "dev_queue_xmit",
                        Action::Forwarded,
                        "the host sends on its parent interface directly: macvlan is not involved on the way out".into(),
                    )
                });
                self.parent_xmit(parent, frame)
            }
        }
    }

    /// A macvlan port's lower device transmits: a `PARENT.VID` sub-interface pushes its tag
    /// (`vlan_dev_hard_start_xmit`), then the frame leaves by the parent.
    pub(super) fn link_xmit(&mut self, link: LinkId, frame: Frame) {
        let l = &self.fabric.links[link];
        let frame = match l.vid {
            Some(vid) => {
                self.sink.hop(|| {
                    Hop::new(
                        format!("host:{}", l.name),
                        "vlan_dev_hard_start_xmit",
                        Action::Forwarded,
                        format!("VLAN sub-interface: tag {vid} pushed, sent on the parent"),
                    )
                });
                Frame {
                    tags: frame.tags.pushed(vid),
                    ..frame
                }
            }
            None => frame,
        };
        self.parent_xmit(l.parent, frame)
    }

    /// The parent puts the frame on its wire.
    fn parent_xmit(&mut self, parent: usize, frame: Frame) {
        let p = &self.fabric.parents[parent];
        match (&p.kind, &self.fabric.segment) {
            (ParentKind::Existing { .. }, Segment::Bridge(_)) if p.port.is_some() => {
                self.bridge_ingress(p.port.expect("checked"), frame)
            }
            (ParentKind::Veth, Segment::Bridge(_)) => match p.port {
                Some(port) => self.bridge_ingress(port, frame),
                None => self.sink.hop(|| {
                    Hop::new(
                        self.fabric.parent_label(parent),
                        "veth_xmit",
                        Action::Dropped,
                        "this parent is not plugged into the switch".into(),
                    )
                }),
            },
            (ParentKind::Veth, Segment::Wire { peer, .. }) => match *peer {
                Some(peer) => self.peer_rx(peer, frame),
                None => self.sink.hop(|| {
                    Hop::new(
                        self.fabric.parent_label(parent),
                        "veth_xmit",
                        Action::Dropped,
                        "bare wire with no peer at the other end: the frame is lost".into(),
                    )
                }),
            },
            (ParentKind::Dummy, _) => self.sink.hop(|| {
                Hop::new(
                    self.fabric.parent_label(parent),
                    "dummy_xmit",
                    Action::Dropped,
                    "a dummy parent has no wire: frames sent out of it vanish".into(),
                )
            }),
            (ParentKind::Existing { interface }, _) => self.sink.hop(|| {
                Hop::new(
                    self.fabric.parent_label(parent),
                    "dev_queue_xmit",
                    Action::Dropped,
                    format!("leaves the lab through the real interface {interface}; the model does not follow it"),
                )
            }),
        }
    }

    fn peer_xmit(&mut self, peer: usize, frame: Frame) {
        match &self.fabric.segment {
            Segment::Bridge(_) => match self.fabric.peers[peer].port {
                Some(port) => self.bridge_ingress(port, frame),
                None => self.sink.hop(|| {
                    Hop::new(
                        self.fabric.nodes[self.fabric.peers[peer].node].name.clone(),
                        "veth_xmit",
                        Action::Dropped,
                        "this peer is not plugged into the switch".into(),
                    )
                }),
            },
            Segment::Wire { parent, .. } => {
                self.sink.hop(|| {
                    Hop::new(
                        self.fabric.nodes[self.fabric.peers[peer].node].name.clone(),
                        "veth_xmit",
                        Action::Forwarded,
                        "bare wire: straight to the parent".into(),
                    )
                });
                self.parent_rx(*parent, frame)
            }
        }
    }

    /// A peer's veth receives: a veth delivers every frame to its peer whatever the destination
    /// MAC, so the peer's packet socket sees it (as OTHERHOST when it is not addressed to it),
    /// promiscuous or not.
    pub(super) fn peer_rx(&mut self, peer: usize, frame: Frame) {
        let node = self.fabric.peers[peer].node;
        self.deliver(node, frame, "veth_xmit", || {
            if frame.dst == self.fabric.nodes[node].mac || frame.dst.is_multicast() {
                "the veth hands the frame to the peer".to_string()
            } else {
                "a veth delivers every frame to its peer whatever the destination MAC: the peer's socket sees it as OTHERHOST, without promiscuous mode".to_string()
            }
        });
    }

    /// The parent receives from its wire (or from `dev_forward_skb`): the host's packet socket
    /// sees the frame first (`__netif_receive_skb_core` delivers to taps before the rx handler),
    /// then a matching VLAN sub-interface takes a tagged frame (`vlan_do_receive`), and the
    /// macvlan port on the resulting device handles it.
    pub(super) fn parent_rx(&mut self, parent: usize, frame: Frame) {
        if let Some(node) = self.fabric.parents[parent].node {
            self.deliver(node, frame, "__netif_receive_skb_core", || {
                "the packet socket on the parent sees every incoming frame before macvlan takes it"
                    .to_string()
            });
        }
        let p = &self.fabric.parents[parent];
        if let Some(link) = frame.tags.outer().and_then(|vid| p.link_for_vid(vid)) {
            self.sink.hop(|| {
                Hop::new(
                    self.fabric.parent_label(parent),
                    "vlan_do_receive",
                    Action::Forwarded,
                    format!(
                        "tag {} matches the sub-interface {}: tag removed, the frame continues there",
                        frame.tags.outer().unwrap_or_default(),
                        self.fabric.links[link].name
                    ),
                )
            });
            let inner = Frame {
                tags: frame.tags.popped(),
                ..frame
            };
            return self.macvlan_rx(link, inner);
        }
        match p.untagged {
            Some(link) => self.macvlan_rx(link, frame),
            None => self.host_stack(parent, "no macvlan sits on this parent"),
        }
    }

    /// A frame that no macvlan consumed goes up the host's own stack on `parent`.
    pub(super) fn host_stack(&mut self, parent: usize, why: &str) {
        self.sink.hop(|| {
            Hop::new(
                self.fabric.parent_label(parent),
                "__netif_receive_skb_core",
                Action::Forwarded,
                format!("{why}: the frame goes up the host's own stack"),
            )
        });
        if let Some(node) = self.fabric.parents[parent].node {
            self.sink.arrive(node, Arrival::HostStack);
        }
    }

    /// Reports a copy of `frame` at `node`'s socket, with the hop that put it there. A node in
    /// tagged-frame mode counts only frames whose outer tag is its VLAN (as the sub-interface it
    /// stands in for would take only those).
    pub(super) fn deliver(
        &mut self,
        node: NodeId,
        frame: Frame,
        kernel: &str,
        text: impl FnOnce() -> String,
    ) {
        if let Some(vid) = self.fabric.nodes[node].tag
            && frame.tags.outer() != Some(vid)
        {
            self.sink.hop(|| {
                let n = &self.fabric.nodes[node];
                let carried = match frame.tags.outer() {
                    Some(other) => format!("this one's outer tag is {other}"),
                    None => "this one is untagged".to_string(),
                };
                Hop::new(
                    n.name.clone(),
                    kernel,
                    Action::Dropped,
                    format!("tagged-frame mode: {} looks only for frames tagged with VLAN {vid}, and {carried}: not counted", n.name),
                )
            });
            return;
        }
        self.sink.hop(|| {
            let n = &self.fabric.nodes[node];
            Hop {
                device: n.name.clone(),
                kernel: kernel.to_string(),
                action: Action::Delivered,
                node: Some(n.name.clone()),
                text: text(),
            }
        });
        self.sink.arrive(node, Arrival::Socket);
    }
}

/// A sink that counts socket copies per node, reusable across walks without reallocating.
#[derive(Debug, Clone)]
pub struct Counts {
    copies: Vec<u32>,
    touched: Vec<NodeId>,
    /// Host stations whose stack got the frame.
    stacks: Vec<NodeId>,
}

impl Counts {
    pub fn new(nodes: usize) -> Counts {
        Counts {
            copies: vec![0; nodes],
            touched: Vec::new(),
            stacks: Vec::new(),
        }
    }

    pub fn get(&self, node: NodeId) -> u32 {
        self.copies[node]
    }

    /// Whether the host's stack behind station `node` got the frame.
    pub fn reached_stack(&self, node: NodeId) -> bool {
        self.stacks.contains(&node)
    }

    /// Nodes with at least one copy, each once, in arrival order.
    pub fn touched(&self) -> &[NodeId] {
        &self.touched
    }

    pub fn clear(&mut self) {
        for &n in &self.touched {
            self.copies[n] = 0;
        }
        self.touched.clear();
        self.stacks.clear();
    }
}

impl Sink for Counts {
    fn arrive(&mut self, node: NodeId, arrival: Arrival) {
        match arrival {
            Arrival::Socket => {
                if self.copies[node] == 0 {
                    self.touched.push(node);
                }
                self.copies[node] += 1;
            }
            Arrival::HostStack => self.stacks.push(node),
        }
    }

    fn hop(&mut self, _hop: impl FnOnce() -> Hop) {}
}

/// A sink that keeps every hop and every copy, for traces.
#[derive(Debug, Clone, Default)]
pub struct Recorder {
    pub hops: Vec<Hop>,
    pub socket: Vec<NodeId>,
}

impl Sink for Recorder {
    fn arrive(&mut self, node: NodeId, arrival: Arrival) {
        if arrival == Arrival::Socket {
            self.socket.push(node);
        }
    }

    fn hop(&mut self, hop: impl FnOnce() -> Hop) {
        self.hops.push(hop());
    }
}

//! The Linux bridge of the switch namespace with vlan_filtering off, its rules each named after
//! the function of net/bridge/ it mirrors: ingress and learning (`br_handle_frame_finish`,
//! `br_fdb_update` with `ageing_time` 0 meaning "never learn" and `fdb_max_learned`), forwarding
//! to a known port (`br_forward`), flooding by per-port flags (`br_flood`), hairpin
//! (`should_deliver`), and the copy every group frame sends up to the bridge device itself
//! (`br_pass_frame_up`). Tags are forwarded unchanged and learning is VLAN-unaware; a bridge
//! with vlan_filtering, and the emulated switch, take the 802.1Q walk of `emulated`. The table
//! they change is `fdb`'s; pure, like the rest of the model.
//!
//! Multicast snooping is assumed to have no querier (none exists in a lab), so the bridge
//! floods every group frame (`br_multicast_querier_exists` false).

use std::collections::HashMap;

use crate::addr::MacAddr;
use crate::delivery::FdbEntry;
use crate::model::fabric::{Attached, BridgeDev, Fabric, PortId, Segment, SwitchKind};
use crate::model::fdb::Fdb;
use crate::model::frame::Frame;
use crate::model::walk::{Action, Hop, Sink, Walk};

/// What `br_fdb_update` did with a source address.
enum Learned {
    New,
    Known,
    Moved,
    Full(u32),
    Off(&'static str),
}

/// Which per-port flag lets a flooded frame out (`br_flood`).
#[derive(Clone, Copy)]
enum Flood {
    Unicast,
    Multicast,
    Broadcast,
}

impl Flood {
    fn of(dst: MacAddr) -> Flood {
        if dst.is_broadcast() {
            Flood::Broadcast
        } else if dst.is_multicast() {
            Flood::Multicast
        } else {
            Flood::Unicast
        }
    }

    fn flag(self) -> &'static str {
        match self {
            Flood::Unicast => "unicast_flood",
            Flood::Multicast => "multicast_flood",
            Flood::Broadcast => "broadcast_flood",
        }
    }
}

/// `should_deliver`: a frame leaves by the port it came in on only with hairpin on.
fn should_deliver(b: &BridgeDev, ingress: PortId, to: PortId) -> bool {
    ingress != to || b.ports[to].flags.hairpin
}

impl<S: Sink> Walk<'_, S> {
    /// `br_handle_frame_finish`: learn the source, then deliver to the known port or flood.
    pub(super) fn bridge_ingress(&mut self, port: PortId, frame: Frame) {
        let b = self.fabric.bridge();
        if b.kind != SwitchKind::Bridge {
            return self.vlan_ingress(port, frame);
        }
        let learned = self.br_fdb_update(port, frame.src);
        self.sink.hop(|| {
            let what = match learned {
                Learned::New => format!("learned {} on this port", frame.src),
                Learned::Known => format!("{} already known on this port", frame.src),
                Learned::Moved => format!("{} moved to this port", frame.src),
                Learned::Full(max) => format!(
                    "fdb_max_learned {max} reached: {} is not learned (frames to it will be flooded)",
                    frame.src
                ),
                Learned::Off(why) => format!("{} not learned: {why}", frame.src),
            };
            Hop::new(
                format!("{}:{}", crate::scenario::SWITCH_NODE, b.ports[port].flags.name),
                "br_fdb_update",
                Action::Forwarded,
                format!("frame enters bridge {}; {what}", b.name),
            )
        });
        if frame.dst.is_multicast() {
            self.sink.hop(|| {
                Hop::new(
                    format!("{}:{}", crate::scenario::SWITCH_NODE, b.name),
                    "br_pass_frame_up",
                    Action::Delivered,
                    format!("a copy of the group frame goes up to the bridge device {} itself (no receiver there)", b.name),
                )
            });
            return self.br_flood(port, frame);
        }
        match self.fdb.lookup(frame.dst) {
            Some(to) => self.br_forward(port, to, frame),
            None => {
                self.sink.hop(|| {
                    Hop::new(
                        self.fabric.port_label(port),
                        "br_handle_frame_finish",
                        Action::Forwarded,
                        format!(
                            "{} is not in the forwarding table: unknown unicast is flooded",
                            frame.dst
                        ),
                    )
                });
                self.br_flood(port, frame)
            }
        }
    }

    /// `br_fdb_update`: no learning when ageing_time is 0 or the port has learning off; a new
    /// entry only while fewer than `fdb_max_learned` entries were learned; a known address
    /// moves to the port it was last seen on.
    fn br_fdb_update(&mut self, port: PortId, src: MacAddr) -> Learned {
        let b = self.fabric.bridge();
        let (ageing_time, max, learning) = (
            b.ageing_time,
            b.fdb_max_learned,
            b.ports[port].flags.learning,
        );
        if ageing_time == 0 {
            return Learned::Off("ageing_time 0: the bridge never learns and floods every unicast");
        }
        if !learning {
            return Learned::Off("learning is off on this port");
        }
        if src.is_multicast() {
            return Learned::Off("a group address is never learned");
        }
        match self.fdb.entries.get_mut(&src) {
            Some(p) if *p == port => Learned::Known,
            Some(p) => {
                *p = port;
                Learned::Moved
            }
            None => {
                if let Some(max) = max
                    && self.fdb.order.len() >= max as usize
                {
                    if !self.fdb.refused.iter().any(|(m, _)| *m == src) {
                        self.fdb.refused.push((src, port));
                    }
                    return Learned::Full(max);
                }
                self.fdb.entries.insert(src, port);
                self.fdb.order.push(src);
                Learned::New
            }
        }
    }

    /// `br_forward`: to the known port, unless that is the ingress port without hairpin.
    fn br_forward(&mut self, ingress: PortId, to: PortId, frame: Frame) {
        let b = self.fabric.bridge();
        if should_deliver(b, ingress, to) {
            self.sink.hop(|| {
                let why = if ingress == to {
                    "known on the port it came from, hairpin on: sent back"
                } else {
                    "known destination"
                };
                Hop::new(
                    self.fabric.port_label(to),
                    "br_forward",
                    Action::Forwarded,
                    format!("{why}: out of {}", b.ports[to].flags.name),
                )
            });
            self.br_egress(to, frame)
        } else {
            self.sink.hop(|| {
                let name = &b.ports[to].flags.name;
                Hop::new(
                    self.fabric.port_label(to),
                    "should_deliver",
                    Action::Dropped,
                    format!("switch port {name} hairpin off: not sent back on the port it came from (the destination is known there)"),
                )
            });
        }
    }

    /// `br_flood`: out of every port whose flood flag for this kind of frame is on, except the
    /// ingress port unless it has hairpin on.
    fn br_flood(&mut self, ingress: PortId, frame: Frame) {
        let b = self.fabric.bridge();
        let kind = Flood::of(frame.dst);
        for (to, p) in b.ports.iter().enumerate() {
            let allowed = match kind {
                Flood::Unicast => p.flags.unicast_flood,
                Flood::Multicast => p.flags.multicast_flood,
                Flood::Broadcast => p.flags.broadcast_flood,
            };
            if !allowed {
                self.sink.hop(|| {
                    Hop::new(
                        self.fabric.port_label(to),
                        "br_flood",
                        Action::Dropped,
                        format!(
                            "switch port {} has {} off: not flooded there",
                            p.flags.name,
                            kind.flag()
                        ),
                    )
                });
                continue;
            }
            if !should_deliver(b, ingress, to) {
                self.sink.hop(|| {
                    Hop::new(
                        self.fabric.port_label(to),
                        "should_deliver",
                        Action::Dropped,
                        format!(
                            "switch port {} hairpin off: not sent back on the port it came from",
                            p.flags.name
                        ),
                    )
                });
                continue;
            }
            self.sink.hop(|| {
                let back = if to == ingress {
                    " (hairpin on: back where it came from)"
                } else {
                    ""
                };
                Hop::new(
                    self.fabric.port_label(to),
                    "br_flood",
                    Action::Forwarded,
                    format!("flooded out of {}{back}", p.flags.name),
                )
            });
            self.br_egress(to, frame);
        }
    }

    /// A frame leaving a bridge port crosses the veth to what the port faces.
    pub(super) fn br_egress(&mut self, port: PortId, frame: Frame) {
        match self.fabric.bridge().ports[port].attached {
            Attached::Parent(parent) => self.parent_rx(parent, frame),
            Attached::Peer(peer) => self.peer_rx(peer, frame),
        }
    }
}

/// The predicted forwarding table after a pass, in the measurement's terms: learned entries in
/// learning order (the same in both passes: promiscuity does not change the bridge).
pub fn fdb_entries(fabric: &Fabric, fdb: &Fdb, passes: &[bool]) -> Vec<FdbEntry> {
    let Segment::Bridge(b) = &fabric.segment else {
        return Vec::new();
    };
    let owners: HashMap<MacAddr, &str> = fabric
        .nodes
        .iter()
        .rev()
        .map(|n| (n.mac, n.name.as_str()))
        .collect();
    passes
        .iter()
        .flat_map(|&pass| {
            let owners = &owners;
            fdb.entries().map(move |(mac, port)| FdbEntry {
                promiscuous_pass: pass,
                port: b.ports[port].flags.name.clone(),
                mac: mac.to_string(),
                station: owners.get(&mac).map(|s| s.to_string()),
            })
        })
        .collect()
}

/// Source MACs the bridge saw but did not learn because `fdb_max_learned` was reached.
pub fn not_learned(fabric: &Fabric, fdb: &Fdb) -> Vec<String> {
    let owners: HashMap<MacAddr, &str> = fabric
        .nodes
        .iter()
        .rev()
        .map(|n| (n.mac, n.name.as_str()))
        .collect();
    fdb.refused()
        .iter()
        .map(|(mac, _)| match owners.get(mac) {
            Some(name) => format!("{mac} ({name})"),
            None => mac.to_string(),
        })
        .collect()
}

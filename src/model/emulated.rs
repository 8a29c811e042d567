//! The emulated switch's rules (mvlab's own forwarder, `crate::switch`), written again here
//! from its documented behaviour (docs/switch.md) rather than shared with it, so that `run`
//! holding the forwarder to the model checks the forwarder's code: VLAN classification of access
//! and trunk ports (native VLAN, allowed list), learning keyed by VLAN with the table's capacity,
//! each port's `mac_limit` and the switch's learning rate, port security (secure addresses,
//! static entries, violation modes protect / restrict / shutdown), forwarding, flooding by the
//! per-port flags, hairpin, and the tag each egress port puts on a frame. A Linux bridge with
//! `vlan_filtering` walks the same 802.1Q rules (its ports have no security or limits), with
//! its own ingress check (`br_allowed_ingress`: a frame tagged with a VLAN the port is a member
//! of is taken, on an access port too, where the emulated switch drops every tagged frame).
//! The state these rules change is `fdb::EmulatedState`; pure, like the rest of the model.
//!
//! Not modelled: ageing (a pass is assumed shorter than `ageing_time`), refilling of the learning
//! rate's bucket (it starts with one second's worth and a pass's priming is assumed to fit in a
//! second), and 802.1ad outer tags (matrix frames carry only 802.1Q tags).

use crate::addr::MacAddr;
use crate::model::fabric::{PortId, SwitchKind};
use crate::model::frame::Frame;
use crate::model::walk::{Action, Hop, Sink, Walk};
use crate::scenario::{PortVlan, Violation};

/// The VLAN key of a VLAN-unaware switch: every frame is in it, whatever its tags.
const UNAWARE: u16 = 0;

/// Why a source was not learned.
enum Refused {
    Capacity(u32),
    PortLimit(u32),
    Rate(u32),
}

impl Refused {
    fn text(&self) -> String {
        match self {
            Refused::Capacity(max) => format!("the table holds its capacity of {max} entries"),
            Refused::PortLimit(max) => format!("the port has learned its mac_limit of {max}"),
            Refused::Rate(rate) => format!("the learning rate of {rate}/s is used up"),
        }
    }
}

/// The VLAN a port puts an untagged frame in (access VID, or a trunk's native VLAN).
fn untagged_vlan(vlan: &PortVlan) -> Option<u16> {
    match vlan {
        PortVlan::Transparent => Some(UNAWARE),
        PortVlan::Access { vid } => Some(*vid),
        PortVlan::Trunk { native, .. } => *native,
    }
}

/// Whether frames of `vlan` may leave by a port, and if so tagged (`Some(true)`) or not.
fn egress_tagging(vlan_of_port: &PortVlan, vlan: u16) -> Option<bool> {
    match vlan_of_port {
        PortVlan::Transparent => Some(false),
        PortVlan::Access { vid } => (*vid == vlan).then_some(false),
        PortVlan::Trunk { allowed, native } => {
            if *native == Some(vlan) {
                Some(false)
            } else {
                allowed.contains(&vlan).then_some(true)
            }
        }
    }
}

impl<S: Sink> Walk<'_, S> {
    fn hop_at(&mut self, port: PortId, kernel: &str, action: Action, text: String) {
        let label = self.fabric.port_label(port);
        self.sink.hop(|| Hop::new(label, kernel, action, text));
    }

    /// A frame enters the emulated switch or a VLAN-filtering bridge by `port`:
    /// classification, learning and port security, then forwarding or flooding within the
    /// frame's VLAN.
    pub(super) fn vlan_ingress(&mut self, port: PortId, frame: Frame) {
        let sw = self.fabric.bridge();
        let name = sw.ports[port].flags.name.clone();
        if self.fdb.emulated.is_shut_down(port) {
            return self.hop_at(
                port,
                "port_security",
                Action::Dropped,
                format!(
                    "port {name} was shut down by a port-security violation: every frame is dropped"
                ),
            );
        }
        let Some((vlan, frame)) = self.classify(port, frame) else {
            return;
        };
        if !self.learn(port, vlan, frame.src) {
            return;
        }
        if frame.dst.is_multicast() {
            return self.emulated_flood(port, vlan, frame, "a group address");
        }
        match self.lookup(vlan, frame.dst) {
            Some(to) => self.emulated_forward(port, to, vlan, frame),
            None => self.emulated_flood(port, vlan, frame, "not in the table (unknown unicast)"),
        }
    }

    /// The frame's VLAN at `port`, and the frame without the tag that classified it.
    fn classify(&mut self, port: PortId, frame: Frame) -> Option<(u16, Frame)> {
        let sw = self.fabric.bridge();
        let bridge = sw.kind == SwitchKind::VlanBridge;
        let kernel = if bridge {
            "br_allowed_ingress"
        } else {
            "vlan_ingress"
        };
        let p = &sw.ports[port].flags;
        let name = p.name.clone();
        let outer = frame.tags.outer();
        let vlan = &p.policy.vlan;
        let (vid, inner, why) = match (vlan, outer) {
            (PortVlan::Transparent, _) => {
                return Some((UNAWARE, frame));
            }
            // The bridge takes a frame tagged with its port's VLAN on an access port too.
            (PortVlan::Access { vid }, Some(tag)) if bridge && tag == *vid => {
                let inner = Frame {
                    tags: frame.tags.popped(),
                    ..frame
                };
                (
                    tag,
                    inner,
                    format!("tagged {tag}, a VLAN of the port: VLAN {tag}"),
                )
            }
            (PortVlan::Access { vid }, Some(tag)) => {
                let text = if bridge {
                    format!("port {name} is no member of VLAN {tag} (only of {vid}): dropped")
                } else {
                    format!("access port {name}: a frame tagged {tag} is dropped")
                };
                self.hop_at(port, kernel, Action::Dropped, text);
                return None;
            }
            (PortVlan::Trunk { allowed, native }, Some(tag)) => {
                if !allowed.contains(&tag) && *native != Some(tag) {
                    self.hop_at(
                        port,
                        kernel,
                        Action::Dropped,
                        format!("trunk port {name} does not carry VLAN {tag}: dropped"),
                    );
                    return None;
                }
                let inner = Frame {
                    tags: frame.tags.popped(),
                    ..frame
                };
                (tag, inner, format!("tagged {tag}: VLAN {tag}"))
            }
            (_, None) => match untagged_vlan(vlan) {
                Some(vid) => (vid, frame, format!("untagged: VLAN {vid}")),
                None => {
                    self.hop_at(
                        port,
                        kernel,
                        Action::Dropped,
                        format!(
                            "trunk port {name} has no native VLAN: an untagged frame is dropped"
                        ),
                    );
                    return None;
                }
            },
        };
        let what = if bridge {
            "the bridge"
        } else {
            "the emulated switch"
        };
        self.hop_at(
            port,
            kernel,
            Action::Forwarded,
            format!("frame enters {what} by {name}, {why}"),
        );
        Some((vid, inner))
    }

    /// The port `mac` is known on in `vlan`: a static entry of a port in that VLAN, or a
    /// learned one.
    fn lookup(&self, vlan: u16, mac: MacAddr) -> Option<PortId> {
        let sw = self.fabric.bridge();
        sw.ports
            .iter()
            .position(|p| {
                p.flags.policy.static_macs.contains(&mac)
                    && egress_tagging(&p.flags.policy.vlan, vlan).is_some()
            })
            .or_else(|| self.fdb.emulated.table.get(&(vlan, mac)).copied())
    }

    /// Learning and port security for source `src` on `port`; false when the frame is dropped.
    fn learn(&mut self, port: PortId, vlan: u16, src: MacAddr) -> bool {
        let sw = self.fabric.bridge();
        let flags = &sw.ports[port].flags;
        let name = flags.name.clone();
        let security = flags.policy.security;
        if flags.policy.static_macs.contains(&src) {
            self.hop_at(
                port,
                "learning",
                Action::Forwarded,
                format!("{src} is static on {name}"),
            );
            return true;
        }
        if src.is_multicast() || !flags.learning || sw.ageing_time == 0 {
            let why = if src.is_multicast() {
                "a group address is never learned"
            } else if sw.ageing_time == 0 {
                "ageing_time 0: the switch never learns"
            } else {
                "learning is off on this port"
            };
            self.hop_at(
                port,
                "learning",
                Action::Forwarded,
                format!("{src} not learned: {why}"),
            );
            return true;
        }
        if sw
            .ports
            .iter()
            .any(|p| p.flags.policy.static_macs.contains(&src))
        {
            self.hop_at(
                port,
                "learning",
                Action::Forwarded,
                format!("{src} is static on another port: not learned here"),
            );
            return true;
        }
        let known = self.fdb.emulated.table.get(&(vlan, src)).copied();
        if known == Some(port) {
            self.hop_at(
                port,
                "learning",
                Action::Forwarded,
                format!("{src} already known on this port"),
            );
            return true;
        }
        if let Some(sec) = security {
            let secure = flags.policy.static_macs.len() as u32 + self.fdb.emulated.learned_on(port);
            if secure >= sec.max_macs {
                return self.violation(port, src, sec.max_macs, sec.violation);
            }
        }
        match self.admit(port, known.is_some()) {
            Ok(()) => {
                self.fdb.emulated.table.insert((vlan, src), port);
                self.record(port, src);
                let what = if known.is_some() {
                    "moved to"
                } else {
                    "learned on"
                };
                self.hop_at(
                    port,
                    "learning",
                    Action::Forwarded,
                    format!("{src} {what} {name}"),
                );
                true
            }
            Err(refused) => {
                if !self.fdb.refused.iter().any(|(m, _)| *m == src) {
                    self.fdb.refused.push((src, port));
                }
                if security.is_some() {
                    self.hop_at(port, "port_security", Action::Dropped, format!("{src} cannot become a secure address of {name}: {}; the frame is dropped", refused.text()));
                    return false;
                }
                self.hop_at(
                    port,
                    "learning",
                    Action::Forwarded,
                    format!(
                        "{src} not learned: {} (frames to it will be flooded)",
                        refused.text()
                    ),
                );
                true
            }
        }
    }

    /// Whether one more entry may be learned on `port` (a move only needs room on the port).
    fn admit(&mut self, port: PortId, moving: bool) -> Result<(), Refused> {
        let sw = self.fabric.bridge();
        if let Some(limit) = sw.ports[port].flags.policy.mac_limit
            && self.fdb.emulated.learned_on(port) >= limit
        {
            return Err(Refused::PortLimit(limit));
        }
        if moving {
            return Ok(());
        }
        if let Some(max) = sw.fdb_max_learned
            && self.fdb.emulated.table.len() >= max as usize
        {
            return Err(Refused::Capacity(max));
        }
        if let SwitchKind::Emulated {
            learning_rate: Some(rate),
        } = sw.kind
        {
            let tokens = self.fdb.emulated.tokens.get_or_insert(rate);
            if *tokens == 0 {
                return Err(Refused::Rate(rate));
            }
            *tokens -= 1;
        }
        Ok(())
    }

    /// Keeps the bridge-shaped view of the table (learning order, for reports) in step.
    fn record(&mut self, port: PortId, src: MacAddr) {
        if self.fdb.entries.insert(src, port).is_none() {
            self.fdb.order.push(src);
        }
    }

    fn violation(&mut self, port: PortId, src: MacAddr, max: u32, mode: Violation) -> bool {
        let name = self.fabric.bridge().ports[port].flags.name.clone();
        let what = format!(
            "{src} would be secure address {} of {name}, which allows {max}",
            max + 1
        );
        let text = match mode {
            Violation::Protect => {
                format!("{what}: violation (protect): the frame is dropped, nothing counted")
            }
            Violation::Restrict => format!(
                "{what}: violation (restrict): the frame is dropped and the violation counted"
            ),
            Violation::Shutdown => {
                self.fdb.emulated.shut_down.push(port);
                self.fdb.emulated.table.retain(|_, p| *p != port);
                let entries = &mut self.fdb.entries;
                entries.retain(|_, p| *p != port);
                self.fdb.order.retain(|m| entries.contains_key(m));
                format!(
                    "{what}: violation (shutdown): {name} stops; this and every later frame in or out of it is dropped"
                )
            }
        };
        self.hop_at(port, "port_security", Action::Dropped, text);
        false
    }

    fn emulated_forward(&mut self, ingress: PortId, to: PortId, vlan: u16, frame: Frame) {
        let sw = self.fabric.bridge();
        let name = sw.ports[to].flags.name.clone();
        if to == ingress && !sw.ports[to].flags.hairpin {
            return self.hop_at(
                to,
                "forward",
                Action::Dropped,
                format!(
                    "{} is known on {name}, the port it came from, and hairpin is off: dropped",
                    frame.dst
                ),
            );
        }
        if self.fdb.emulated.is_shut_down(to) {
            return self.hop_at(
                to,
                "forward",
                Action::Dropped,
                format!(
                    "{} is known on {name}, which is shut down: dropped",
                    frame.dst
                ),
            );
        }
        let back = if to == ingress {
            " (hairpin on: back where it came from)"
        } else {
            ""
        };
        self.hop_at(
            to,
            "forward",
            Action::Forwarded,
            format!("known destination: out of {name}{back}"),
        );
        self.emulated_egress(to, vlan, frame);
    }

    fn emulated_flood(&mut self, ingress: PortId, vlan: u16, frame: Frame, why: &str) {
        let sw = self.fabric.bridge();
        self.hop_at(
            ingress,
            "flood",
            Action::Forwarded,
            format!("{}: {why}, flooded in its VLAN", frame.dst),
        );
        for (to, p) in sw.ports.iter().enumerate() {
            let flags = &p.flags;
            let allowed = if frame.dst.is_broadcast() {
                (flags.broadcast_flood, "broadcast_flood")
            } else if frame.dst.is_multicast() {
                (flags.multicast_flood, "multicast_flood")
            } else {
                (flags.unicast_flood, "unicast_flood")
            };
            let skip = if egress_tagging(&flags.policy.vlan, vlan).is_none() {
                Some(format!("{} is not in VLAN {vlan}", flags.name))
            } else if !allowed.0 {
                Some(format!("{} has {} off", flags.name, allowed.1))
            } else if to == ingress && !flags.hairpin {
                Some(format!(
                    "{} is the port it came from and hairpin is off",
                    flags.name
                ))
            } else if self.fdb.emulated.is_shut_down(to) {
                Some(format!("{} is shut down", flags.name))
            } else {
                None
            };
            match skip {
                Some(text) => self.hop_at(
                    to,
                    "flood",
                    Action::Dropped,
                    format!("not flooded there: {text}"),
                ),
                None => {
                    self.hop_at(
                        to,
                        "flood",
                        Action::Forwarded,
                        format!("flooded out of {}", flags.name),
                    );
                    self.emulated_egress(to, vlan, frame);
                }
            }
        }
    }

    /// The frame leaves by `port` with the tag its VLAN membership gives it.
    fn emulated_egress(&mut self, port: PortId, vlan: u16, frame: Frame) {
        let frame = match egress_tagging(&self.fabric.bridge().ports[port].flags.policy.vlan, vlan)
        {
            Some(true) => {
                self.hop_at(
                    port,
                    "vlan_egress",
                    Action::Forwarded,
                    format!("leaves tagged with VLAN {vlan}"),
                );
                Frame {
                    tags: frame.tags.pushed(vlan),
                    ..frame
                }
            }
            _ => frame,
        };
        self.br_egress(port, frame);
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{enable_ipv6, endpoint, hairpin, lab, network, peer};
    use super::super::*;
    use crate::delivery::Cell;
    use crate::scenario::{
        Emulated, MacvlanMode, PortSecurity, PortVlan, Scenario, Switch, Violation,
    };

    const ALL: &[&str] = &[
        "unicast",
        "unknown-unicast",
        "broadcast",
        "multicast4",
        "multicast6",
        "unicast-tagged",
        "unknown-unicast-tagged",
        "broadcast-tagged",
        "multicast4-tagged",
        "multicast6-tagged",
    ];

    fn emulated(s: &mut Scenario) {
        let (ageing_time, fdb_max_learned) = match &s.switch {
            Switch::Bridge(b) => (b.ageing_time, b.fdb_max_learned),
            _ => (300, None),
        };
        s.switch = Switch::Emulated(Emulated {
            ageing_time,
            fdb_max_learned,
            learning_rate: None,
            span: 0..0,
        });
    }

    fn matrix(s: &Scenario, classes: &[&str]) -> Vec<Cell> {
        let spec = MatrixSpec {
            frames: 1,
            classes: classes.iter().map(|c| c.parse().unwrap()).collect(),
            vlan: 100,
            promiscuous: vec![false, true],
        };
        predict(s, &spec).unwrap()
    }

    /// `received` of a non-promiscuous cell (frames a station sends to the host's parent, whose
    /// MAC is never learned, are flooded: other cells' `leaked` counts are the bridge's).
    fn cell(cells: &[Cell], from: &str, to: &str, class: &str) -> u64 {
        let class: FrameClass = class.parse().unwrap();
        let c = cells
            .iter()
            .find(|c| c.from == from && c.to == to && c.class == class && !c.promiscuous)
            .unwrap_or_else(|| panic!("no cell {from} -> {to} {class}"));
        c.received
    }

    fn hops(s: &Scenario, from: &str, to: &str, class: &str) -> Vec<String> {
        let t = trace(
            s,
            &TraceRequest {
                from: from.into(),
                to: to.into(),
                class: class.parse().unwrap(),
                promiscuous: false,
                vlan: 100,
            },
        )
        .unwrap();
        t.hops.into_iter().map(|h| h.text).collect()
    }

    #[test]
    fn with_no_vlan_or_limits_it_forwards_as_the_bridge_does() {
        for mode in MacvlanMode::ALL {
            for hp in [false, true] {
                for limit in [None, Some(2)] {
                    let mut s = lab();
                    network(
                        &mut s,
                        mode,
                        if mode == MacvlanMode::Passthru { 1 } else { 2 },
                    );
                    peer(&mut s);
                    peer(&mut s);
                    hairpin(&mut s, hp);
                    if let Switch::Bridge(b) = &mut s.switch {
                        b.fdb_max_learned = limit;
                    }
                    let bridge = matrix(&s, ALL);
                    let sim_bridge = simulate(&s, &default_spec()).unwrap();
                    emulated(&mut s);
                    assert_eq!(
                        matrix(&s, ALL),
                        bridge,
                        "{mode} hairpin {hp} limit {limit:?}"
                    );
                    let sim = simulate(&s, &default_spec()).unwrap();
                    assert_eq!(sim.fdb, sim_bridge.fdb);
                    assert_eq!(sim.fdb_not_learned, sim_bridge.fdb_not_learned);
                }
            }
        }
    }

    /// Endpoints of VLAN 10 and 20 on one parent (tagged-frame mode), the parent's port a trunk
    /// of both; a tagged-frame peer on each VLAN's trunk, and an untagged peer on an access port
    /// of VLAN 10.
    fn two_vlans() -> Scenario {
        let mut s = lab();
        let a = network(&mut s, MacvlanMode::Bridge, 0);
        let b = network(&mut s, MacvlanMode::Bridge, 0);
        let plain = network(&mut s, MacvlanMode::Bridge, 0);
        s.networks[a].frame_vlan = Some(10);
        s.networks[b].frame_vlan = Some(20);
        for net in [a, a, b, b] {
            endpoint(&mut s, net);
        }
        for (net, vlan) in [
            (
                a,
                PortVlan::Trunk {
                    allowed: vec![10],
                    native: None,
                },
            ),
            (
                b,
                PortVlan::Trunk {
                    allowed: vec![20],
                    native: None,
                },
            ),
            (plain, PortVlan::Access { vid: 10 }),
        ] {
            let p = peer(&mut s);
            s.peers[p].network = net;
            s.peers[p].port.policy.vlan = vlan;
        }
        s.parents[0].port.policy.vlan = PortVlan::Trunk {
            allowed: vec![10, 20],
            native: None,
        };
        emulated(&mut s);
        s
    }

    #[test]
    fn vlans_isolate_and_access_ports_untag() {
        let s = two_vlans();
        let m = matrix(&s, &["unicast", "broadcast", "unicast-tagged"]);
        // VLAN 10: e1's frames reach its tagged peer and the access peer, never VLAN 20.
        assert_eq!(cell(&m, "e1", "peer", "unicast"), 1);
        assert_eq!(cell(&m, "e1", "peer3", "unicast"), 1);
        assert_eq!(cell(&m, "e1", "peer2", "unicast"), 0);
        assert_eq!(cell(&m, "e1", "peer2", "broadcast"), 0);
        assert_eq!(cell(&m, "e1", "peer3", "broadcast"), 1);
        assert_eq!(cell(&m, "e3", "peer2", "broadcast"), 1);
        assert_eq!(cell(&m, "e3", "peer", "broadcast"), 0);
        // The untagged access peer reaches VLAN 10's endpoints: the trunk tags its frames 10.
        assert_eq!(cell(&m, "peer3", "e1", "unicast"), 1);
        assert_eq!(cell(&m, "peer3", "e3", "unicast"), 0);
        // Its own tagged frames are dropped by the access port.
        assert_eq!(cell(&m, "peer3", "e1", "unicast-tagged"), 0);
        // Bridge-mode siblings across VLANs meet inside macvlan, but tagged-frame receivers
        // count only their own VLAN's frames.
        assert_eq!(cell(&m, "e1", "e3", "unicast"), 0);
        assert_eq!(cell(&m, "e1", "e2", "unicast"), 1);
        let h = hops(&s, "peer3", "e1", "unicast-tagged");
        assert!(
            h.iter()
                .any(|t| t.contains("access port p3: a frame tagged 100 is dropped")),
            "{h:#?}"
        );
        let h = hops(&s, "e1", "peer2", "broadcast");
        assert!(
            h.iter().any(|t| t.contains("p2 is not in VLAN 10")),
            "{h:#?}"
        );
    }

    #[test]
    fn a_native_vlan_carries_untagged_frames() {
        let mut s = lab();
        network(&mut s, MacvlanMode::Bridge, 2);
        for vid in [10, 20] {
            let p = peer(&mut s);
            s.peers[p].port.policy.vlan = PortVlan::Access { vid };
        }
        s.parents[0].port.policy.vlan = PortVlan::Trunk {
            allowed: vec![20],
            native: Some(10),
        };
        emulated(&mut s);
        let m = matrix(&s, &["unicast", "broadcast", "broadcast-tagged"]);
        assert_eq!(cell(&m, "e1", "peer", "broadcast"), 1);
        assert_eq!(cell(&m, "e1", "peer2", "broadcast"), 0);
        assert_eq!(cell(&m, "peer", "e1", "unicast"), 1);
        // Flooded in VLAN 20, the frame leaves the trunk tagged 20 and macvlan hands it to e1
        // by its MAC whatever the tag: a switch's VLANs do not separate endpoints of one parent.
        assert_eq!(cell(&m, "peer2", "e1", "unicast"), 1);
        assert_eq!(cell(&m, "peer2", "e1", "broadcast"), 1);
        // Class tag 100 is not carried by the trunk.
        assert_eq!(cell(&m, "e1", "peer", "broadcast-tagged"), 0);
    }

    #[test]
    fn a_tagged_frame_stations_own_ipv6_frames_are_untagged() {
        // e1 is in tagged-frame mode on VLAN 20, on a trunk of 20 with native VLAN 10; two
        // peers on access ports of VLAN 10. Frames from peer to e1 and to the host's parent go
        // in VLAN 10, where neither is known from a test frame: they are flooded to peer2 too.
        let mut s = lab();
        let voice = network(&mut s, MacvlanMode::Bridge, 1);
        s.networks[voice].frame_vlan = Some(20);
        let data = network(&mut s, MacvlanMode::Bridge, 0);
        for _ in 0..2 {
            let p = peer(&mut s);
            s.peers[p].network = data;
            s.peers[p].port.policy.vlan = PortVlan::Access { vid: 10 };
        }
        s.parents[0].port.policy.vlan = PortVlan::Trunk {
            allowed: vec![20],
            native: Some(10),
        };
        emulated(&mut s);
        let leaked = |s: &Scenario| {
            let m = matrix(s, &["unicast"]);
            let c = m
                .iter()
                .find(|c| c.from == "peer" && c.to == "peer2" && !c.promiscuous);
            c.expect("a cell peer -> peer2").leaked
        };
        assert_eq!(leaked(&s), 2);
        // With IPv6, e1 and the host's parent send frames of their own, untagged: the switch
        // learns both in VLAN 10.
        enable_ipv6(&mut s, voice);
        assert_eq!(leaked(&s), 0);
    }

    fn secured(violation: Violation, endpoints: usize) -> Scenario {
        let mut s = lab();
        network(&mut s, MacvlanMode::Bridge, endpoints);
        peer(&mut s);
        s.parents[0].port.policy.security = Some(PortSecurity {
            max_macs: 2,
            violation,
            sticky: false,
        });
        emulated(&mut s);
        s
    }

    #[test]
    fn port_security_drops_sources_past_the_maximum() {
        for violation in [Violation::Protect, Violation::Restrict] {
            let s = secured(violation, 4);
            let m = matrix(&s, &["unicast", "broadcast"]);
            assert_eq!(cell(&m, "e1", "peer", "unicast"), 1);
            assert_eq!(cell(&m, "e2", "peer", "unicast"), 1);
            assert_eq!(cell(&m, "e3", "peer", "unicast"), 0);
            assert_eq!(cell(&m, "e4", "peer", "broadcast"), 0);
            // Security filters sources only: frames to e3 still arrive (flooded).
            assert_eq!(cell(&m, "peer", "e3", "unicast"), 1);
            let h = hops(&s, "e3", "peer", "unicast");
            assert!(
                h.iter()
                    .any(|t| t.contains(&format!("violation ({})", violation.as_str()))),
                "{h:#?}"
            );
        }
    }

    #[test]
    fn a_shutdown_violation_stops_the_port() {
        let s = secured(Violation::Shutdown, 3);
        let m = matrix(&s, &["unicast", "broadcast"]);
        // e3's priming frame shuts p0 down: nothing crosses it afterwards, e1's frames included.
        assert_eq!(cell(&m, "e1", "peer", "unicast"), 0);
        assert_eq!(cell(&m, "peer", "e1", "unicast"), 0);
        assert_eq!(
            cell(&m, "e1", "e2", "unicast"),
            1,
            "bridge mode stays local"
        );
        let h = hops(&s, "peer", "e1", "unicast");
        assert!(h.iter().any(|t| t.contains("shut down")), "{h:#?}");
        let within = secured(Violation::Shutdown, 2);
        let m = matrix(&within, &["unicast"]);
        assert_eq!(cell(&m, "e2", "peer", "unicast"), 1);
    }

    #[test]
    fn limits_refuse_learning_but_keep_forwarding() {
        let mut s = lab();
        network(&mut s, MacvlanMode::Vepa, 3);
        peer(&mut s);
        s.parents[0].port.policy.mac_limit = Some(1);
        emulated(&mut s);
        let sim = simulate(&s, &default_spec()).unwrap();
        let learned: Vec<_> = sim
            .fdb
            .iter()
            .filter(|e| !e.promiscuous_pass)
            .map(|e| e.station.clone().unwrap())
            .collect();
        assert_eq!(learned, ["e1", "peer"]);
        let m = matrix(&s, &["unicast"]);
        // e2 is not learned: the peer's frame to it is flooded and still arrives.
        assert_eq!(cell(&m, "peer", "e2", "unicast"), 1);
        assert_eq!(cell(&m, "e2", "peer", "unicast"), 1);

        let mut s = lab();
        network(&mut s, MacvlanMode::Vepa, 3);
        peer(&mut s);
        emulated(&mut s);
        if let Switch::Emulated(e) = &mut s.switch {
            e.learning_rate = Some(2);
        }
        let sim = simulate(&s, &default_spec()).unwrap();
        assert_eq!(sim.fdb.len(), 4, "two entries in each of the two passes");
        assert!(sim.notes.iter().any(|n| n.contains("learning_rate 2/s")));
    }

    #[test]
    fn static_entries_forward_before_any_learning() {
        let mut s = lab();
        network(&mut s, MacvlanMode::Vepa, 1);
        peer(&mut s);
        peer(&mut s);
        let peer2 = s.peers[1].mac;
        s.peers[1].port.policy.static_macs = vec![peer2];
        s.peers[1].port.learning = false;
        emulated(&mut s);
        let m = matrix(&s, &["unicast"]);
        // Without learning, peer2 is still known through its static entry: never flooded to
        // peer, which sees only e1's frame to the host's parent (never learned).
        assert_eq!(cell(&m, "e1", "peer2", "unicast"), 1);
        let to_peer = m
            .iter()
            .find(|c| c.from == "e1" && c.to == "peer" && !c.promiscuous)
            .unwrap();
        assert_eq!((to_peer.received, to_peer.leaked), (1, 1));
        let h = hops(&s, "peer2", "e1", "unicast");
        assert!(h.iter().any(|t| t.contains("is static on p2")), "{h:#?}");
    }
}

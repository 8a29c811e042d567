//! The emulated switch's forwarding core: for each frame that enters a port, the decision of
//! where its copies go and with which tag, and every counter and event that decision touches.
//! In order: a stopped port drops everything; 802.1ad outer tags pass or drop; the frame is
//! classified into a VLAN (access: untagged only; trunk: allowed tags, untagged into the native
//! VLAN; a VLAN-unaware switch puts everything in one table and leaves tags alone); the source
//! is learned under port security (static entries, `max_macs`, violation protect / restrict /
//! shutdown, sticky) and the table's limits; then the frame goes to the port its destination is
//! known on (unless that is where it came from and hairpin is off) or is flooded within its VLAN
//! by the per-port flood flags. Every frame that goes nowhere is counted with its reason.
//!
//! Pure and allocation-free per frame (events are kept in a preallocated log of fixed size):
//! time is a parameter, and the data path (`datapath`) does all I/O. It must never read a socket
//! or a clock, and never let a frame vanish without a `DropReason`.

use std::collections::HashSet;

use super::SwitchConfig;
use super::report::{
    DropCount, DropReason, EntryKind, Event, EventKind, PortReport, SwitchReport, TableEntry,
    VlanReport,
};
use super::table::{Learned, MacTable, PortIdx};
use crate::addr::MacAddr;
use crate::engine::wire::{TPID_8021AD, TPID_8021Q, TPID_QINQ_LEGACY, VlanTag};
use crate::scenario::{OuterTags, PortVlan, Violation};

/// The event log keeps this many events; later ones are only counted.
pub const EVENT_LOG_SIZE: usize = 16_384;
/// Unknown destinations remembered so that each is logged once ("flood" events).
const FLOOD_MEMORY: usize = 4096;

/// The table key of a VLAN-unaware switch.
const UNAWARE: u16 = 0;

/// An 802.1ad S-tag, or an outer tag with the pre-standard QinQ TPID some switches still use.
fn is_outer(tag: VlanTag) -> bool {
    matches!(tag.tpid, TPID_8021AD | TPID_QINQ_LEGACY)
}

/// What the data path read of a frame.
#[derive(Debug, Clone, Copy, Default)]
pub struct Ingress {
    pub dst: MacAddr,
    pub src: MacAddr,
    /// The outermost tag, whether the kernel moved it into packet metadata or not.
    pub outer: Option<VlanTag>,
    /// Bytes on the wire (with the outer tag).
    pub len: usize,
}

/// Where a frame's copies go. Reused from frame to frame (cleared by `ingress`).
#[derive(Debug, Default)]
pub struct Plan {
    /// The outer tag stays on the frame (VLAN-unaware, or an 802.1ad tag carried as payload);
    /// otherwise it classified the frame and is removed.
    pub keep_outer: bool,
    /// Egress ports, each with the 802.1Q TCI to push in front (after the MACs), if any.
    pub egress: Vec<(PortIdx, Option<u16>)>,
}

#[derive(Debug, Clone, Default)]
struct PortCounters {
    rx_frames: u64,
    rx_bytes: u64,
    tx_frames: u64,
    tx_bytes: u64,
    flooded: u64,
    learned: u64,
    not_learned: u64,
    violations: u64,
    drops: [u64; DropReason::ALL.len()],
}

/// An event as logged: the port by index, named only when reported.
#[derive(Debug, Clone, Copy)]
struct Logged {
    at_ms: u64,
    kind: EventKind,
    port: PortIdx,
    mac: MacAddr,
    vlan: u16,
}

#[derive(Debug, Clone, Copy, Default)]
struct VlanCounters {
    rx_frames: u64,
    flooded: u64,
    dropped: u64,
}

/// The switch's state: table, counters, event log. One per forwarder.
#[derive(Debug)]
pub struct Forwarding {
    config: SwitchConfig,
    vlan_aware: bool,
    table: MacTable,
    shut_down: Vec<bool>,
    ports: Vec<PortCounters>,
    /// Indexed by VID (0: the VLAN-unaware table).
    vlans: Vec<VlanCounters>,
    events: Vec<Logged>,
    events_lost: u64,
    /// Unknown unicast destinations already logged as flooded.
    flooded_unknown: HashSet<(u16, MacAddr)>,
    started: u64,
}

/// Whether frames of `vlan` may leave by a port of this membership: `Some(tagged)`.
fn egress_tagging(membership: &PortVlan, vlan: u16) -> Option<bool> {
    match membership {
        PortVlan::Transparent => Some(false),
        PortVlan::Access { vid } => (*vid == vlan).then_some(false),
        PortVlan::Trunk { allowed, native } => {
            if *native == Some(vlan) {
                Some(false)
            } else {
                allowed.binary_search(&vlan).ok().map(|_| true)
            }
        }
    }
}

impl Forwarding {
    pub fn new(config: SwitchConfig, now: u64) -> Forwarding {
        let statics: Vec<(PortIdx, MacAddr)> = config
            .ports
            .iter()
            .enumerate()
            .flat_map(|(i, p)| p.policy.static_macs.iter().map(move |m| (i as PortIdx, *m)))
            .collect();
        let table = MacTable::new(
            config.ports.iter().map(|p| p.policy.mac_limit).collect(),
            config.fdb_max_learned,
            config.learning_rate,
            statics,
            now,
        );
        let n = config.ports.len();
        Forwarding {
            vlan_aware: config
                .ports
                .iter()
                .any(|p| p.policy.vlan != PortVlan::Transparent),
            table,
            shut_down: vec![false; n],
            ports: vec![PortCounters::default(); n],
            vlans: vec![VlanCounters::default(); 4096],
            events: Vec::with_capacity(EVENT_LOG_SIZE),
            events_lost: 0,
            flooded_unknown: HashSet::with_capacity(FLOOD_MEMORY),
            started: now,
            config,
        }
    }

    fn log(&mut self, now: u64, kind: EventKind, port: PortIdx, mac: MacAddr, vlan: u16) {
        if self.events.len() < EVENT_LOG_SIZE {
            self.events.push(Logged {
                at_ms: now.saturating_sub(self.started) / 1_000_000,
                kind,
                port,
                mac,
                vlan,
            });
        } else {
            self.events_lost += 1;
        }
    }

    /// Counts `frames` dropped at `port` for `reason` (the data path's own drops included).
    pub fn drop_at(&mut self, port: PortIdx, reason: DropReason, frames: u64) {
        self.ports[usize::from(port)].drops[reason.index()] += frames;
    }

    /// Counts one dropped frame (in its VLAN too, once classified); returns false for `ingress`.
    fn drop_in(&mut self, port: PortIdx, vlan: Option<u16>, reason: DropReason) -> bool {
        self.drop_at(port, reason, 1);
        if let Some(v) = vlan {
            self.vlans[usize::from(v)].dropped += 1;
        }
        false
    }

    /// Counts frames the kernel took for sending out of `port`.
    pub fn sent(&mut self, port: PortIdx, frames: u64, bytes: u64) {
        let c = &mut self.ports[usize::from(port)];
        c.tx_frames += frames;
        c.tx_bytes += bytes;
    }

    /// Decides where a frame that entered `port` goes: fills `plan` and returns true, or
    /// counts the drop and returns false.
    pub fn ingress(&mut self, port: PortIdx, frame: &Ingress, now: u64, plan: &mut Plan) -> bool {
        plan.egress.clear();
        let p = usize::from(port);
        self.ports[p].rx_frames += 1;
        self.ports[p].rx_bytes += frame.len as u64;
        if self.shut_down[p] {
            return self.drop_in(port, None, DropReason::PortShutDown);
        }
        let policy = &self.config.ports[p].policy;
        if frame.outer.is_some_and(is_outer) && policy.outer_tags == OuterTags::Drop {
            return self.drop_in(port, None, DropReason::OuterTag);
        }
        let (vlan, pcp) = match self.classify(p, frame.outer) {
            Ok(v) => v,
            Err(reason) => return self.drop_in(port, None, reason),
        };
        plan.keep_outer = !self.vlan_aware || frame.outer.is_some_and(is_outer);
        self.vlans[usize::from(vlan)].rx_frames += 1;
        if let Err(reason) = self.learn(port, vlan, frame.src, now) {
            return self.drop_in(port, Some(vlan), reason);
        }
        let known = if frame.dst.is_multicast() {
            None
        } else {
            self.destination(vlan, frame.dst)
        };
        match known {
            Some(to) => {
                let t = usize::from(to);
                if to == port && !self.config.ports[t].hairpin {
                    return self.drop_in(port, Some(vlan), DropReason::SamePort);
                }
                if self.shut_down[t] {
                    return self.drop_in(port, Some(vlan), DropReason::EgressShutDown);
                }
                let tagged = egress_tagging(&self.config.ports[t].policy.vlan, vlan);
                plan.egress
                    .push((to, self.push_tci(tagged.unwrap_or(false), vlan, pcp)));
            }
            None => {
                if !frame.dst.is_multicast()
                    && self.flooded_unknown.len() < FLOOD_MEMORY
                    && self.flooded_unknown.insert((vlan, frame.dst))
                {
                    self.log(now, EventKind::Flood, port, frame.dst, vlan);
                }
                self.flood(port, vlan, pcp, frame.dst, plan);
                if plan.egress.is_empty() {
                    return self.drop_in(port, Some(vlan), DropReason::NoEgress);
                }
                self.vlans[usize::from(vlan)].flooded += 1;
            }
        }
        true
    }

    /// The frame's VLAN and the priority its classifying 802.1Q tag carried.
    fn classify(&self, port: usize, outer: Option<VlanTag>) -> Result<(u16, u16), DropReason> {
        if !self.vlan_aware {
            return Ok((UNAWARE, 0));
        }
        let ctag = outer.filter(|t| t.tpid == TPID_8021Q && t.vid != 0);
        let pcp = outer
            .filter(|t| t.tpid == TPID_8021Q)
            .map_or(0, |t| u16::from(t.pcp));
        match (&self.config.ports[port].policy.vlan, ctag) {
            (PortVlan::Access { .. }, Some(_)) => Err(DropReason::TaggedOnAccess),
            (PortVlan::Access { vid }, None) => Ok((*vid, pcp)),
            (PortVlan::Trunk { allowed, native }, Some(tag)) => {
                let vid = tag.vid;
                if allowed.binary_search(&vid).is_ok() || *native == Some(vid) {
                    Ok((vid, pcp))
                } else {
                    Err(DropReason::VlanNotAllowed)
                }
            }
            (PortVlan::Trunk { native, .. }, None) => {
                native.map(|n| (n, pcp)).ok_or(DropReason::UntaggedOnTrunk)
            }
            (PortVlan::Transparent, _) => Ok((UNAWARE, 0)),
        }
    }

    fn push_tci(&self, tagged: bool, vlan: u16, pcp: u16) -> Option<u16> {
        (self.vlan_aware && tagged).then_some((pcp << 13) | vlan)
    }

    /// The port `mac` is known on in `vlan`: a static entry of a port in that VLAN, or a
    /// learned one.
    fn destination(&self, vlan: u16, mac: MacAddr) -> Option<PortIdx> {
        if let Some(port) = self.table.static_port(mac)
            && egress_tagging(&self.config.ports[usize::from(port)].policy.vlan, vlan).is_some()
        {
            return Some(port);
        }
        self.table.lookup(vlan, mac)
    }

    /// Learning and port security for `src` entering `port`; `Err` drops the frame.
    fn learn(
        &mut self,
        port: PortIdx,
        vlan: u16,
        src: MacAddr,
        now: u64,
    ) -> Result<(), DropReason> {
        let p = usize::from(port);
        let cfg = &self.config.ports[p];
        let security = cfg.policy.security;
        if src.is_multicast() || self.config.ageing_time == 0 || !cfg.learning {
            return Ok(());
        }
        if self.table.static_port(src).is_some() {
            // Static entries never move; a frame from a static MAC is forwarded wherever it
            // entered.
            return Ok(());
        }
        let sticky = security.is_some_and(|s| s.sticky);
        if let Some(sec) = security
            && self.table.lookup(vlan, src) != Some(port)
        {
            let secure = self.table.statics_on(port) + self.table.learned_on(port);
            if secure >= sec.max_macs {
                return Err(self.violation(port, vlan, src, sec.violation, now));
            }
        }
        match self.table.learn(vlan, src, port, now, sticky) {
            Learned::Known => Ok(()),
            Learned::New => {
                self.ports[p].learned += 1;
                self.flooded_unknown.remove(&(vlan, src));
                self.log(now, EventKind::Learned, port, src, vlan);
                Ok(())
            }
            Learned::Moved { .. } => {
                self.ports[p].learned += 1;
                self.log(now, EventKind::Moved, port, src, vlan);
                Ok(())
            }
            Learned::Refused(_) => {
                self.ports[p].not_learned += 1;
                self.log(now, EventKind::NotLearned, port, src, vlan);
                if security.is_some() {
                    Err(DropReason::Unsecured)
                } else {
                    Ok(())
                }
            }
        }
    }

    fn violation(
        &mut self,
        port: PortIdx,
        vlan: u16,
        src: MacAddr,
        mode: Violation,
        now: u64,
    ) -> DropReason {
        let p = usize::from(port);
        match mode {
            Violation::Protect => DropReason::SecurityProtect,
            Violation::Restrict => {
                self.ports[p].violations += 1;
                self.log(now, EventKind::Violation, port, src, vlan);
                DropReason::SecurityRestrict
            }
            Violation::Shutdown => {
                self.ports[p].violations += 1;
                self.log(now, EventKind::Violation, port, src, vlan);
                self.shut_down[p] = true;
                self.table.forget_port(port);
                self.log(now, EventKind::PortShutDown, port, src, vlan);
                DropReason::SecurityShutdown
            }
        }
    }

    /// Every port that takes this kind of group or unknown frame in `vlan`, but the ingress
    /// port unless it has hairpin on, and no stopped port.
    fn flood(&mut self, ingress: PortIdx, vlan: u16, pcp: u16, dst: MacAddr, plan: &mut Plan) {
        for (i, cfg) in self.config.ports.iter().enumerate() {
            let allowed = if dst.is_broadcast() {
                cfg.broadcast_flood
            } else if dst.is_multicast() {
                cfg.multicast_flood
            } else {
                cfg.unicast_flood
            };
            let port = i as PortIdx;
            if !allowed || self.shut_down[i] || (port == ingress && !cfg.hairpin) {
                continue;
            }
            let Some(tagged) = egress_tagging(&cfg.policy.vlan, vlan) else {
                continue;
            };
            plan.egress.push((port, self.push_tci(tagged, vlan, pcp)));
        }
        for &(port, _) in &plan.egress {
            self.ports[usize::from(port)].flooded += 1;
        }
    }

    /// Removes entries unseen for `ageing_time` (run about once a second).
    pub fn age(&mut self, now: u64) {
        let ageing_ns = u64::from(self.config.ageing_time) * 1_000_000_000;
        let mut aged: Vec<(u16, MacAddr, PortIdx)> = Vec::new();
        self.table.age(now, ageing_ns, |vlan, mac, port| {
            aged.push((vlan, mac, port))
        });
        for (vlan, mac, port) in aged {
            self.log(now, EventKind::Aged, port, mac, vlan);
        }
    }

    pub fn report(&self, now: u64) -> SwitchReport {
        let name = |p: PortIdx| self.config.ports[usize::from(p)].name.clone();
        let idle = |seen: u64| now.saturating_sub(seen) as f64 / 1e9;
        let mut table: Vec<TableEntry> = self
            .table
            .learned()
            .map(|(vlan, mac, e)| TableEntry {
                port: name(e.port),
                mac,
                vlan: (vlan != UNAWARE).then_some(vlan),
                kind: if e.sticky {
                    EntryKind::Sticky
                } else {
                    EntryKind::Dynamic
                },
                idle_s: idle(e.last_seen),
            })
            .collect();
        table.sort_by(|a, b| (&a.port, a.vlan, a.mac.0).cmp(&(&b.port, b.vlan, b.mac.0)));
        let mut statics: Vec<TableEntry> = self
            .table
            .statics()
            .map(|(mac, port)| TableEntry {
                port: name(port),
                mac,
                vlan: None,
                kind: EntryKind::Static,
                idle_s: 0.0,
            })
            .collect();
        statics.sort_by(|a, b| (&a.port, a.mac.0).cmp(&(&b.port, b.mac.0)));
        table.extend(statics);
        let ports: Vec<PortReport> = self
            .ports
            .iter()
            .enumerate()
            .map(|(i, c)| PortReport {
                name: self.config.ports[i].name.clone(),
                state: if self.shut_down[i] { "shutdown" } else { "up" }.into(),
                rx_frames: c.rx_frames,
                rx_bytes: c.rx_bytes,
                tx_frames: c.tx_frames,
                tx_bytes: c.tx_bytes,
                flooded: c.flooded,
                learned: c.learned,
                not_learned: c.not_learned,
                violations: c.violations,
                drops: DropReason::ALL
                    .iter()
                    .filter(|r| c.drops[r.index()] > 0)
                    .map(|&reason| DropCount {
                        reason,
                        frames: c.drops[reason.index()],
                    })
                    .collect(),
            })
            .collect();
        SwitchReport {
            uptime_s: now.saturating_sub(self.started) as f64 / 1e9,
            vlan_aware: self.vlan_aware,
            dropped: self.ports.iter().flat_map(|c| c.drops.iter()).sum(),
            ports,
            vlans: self
                .vlans
                .iter()
                .enumerate()
                .filter(|(_, v)| v.rx_frames > 0 || v.dropped > 0)
                .map(|(vid, v)| VlanReport {
                    vid: vid as u16,
                    rx_frames: v.rx_frames,
                    flooded: v.flooded,
                    dropped: v.dropped,
                })
                .collect(),
            table,
            events: self
                .events
                .iter()
                .map(|e| Event {
                    at_ms: e.at_ms,
                    kind: e.kind,
                    port: name(e.port),
                    mac: e.mac,
                    vlan: (e.vlan != UNAWARE).then_some(e.vlan),
                })
                .collect(),
            events_lost: self.events_lost,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{Port, PortSecurity};

    fn port(n: usize) -> Port {
        Port {
            name: format!("p{n}"),
            ..Port::default()
        }
    }

    fn switch(ports: usize, edit: impl FnOnce(&mut SwitchConfig)) -> Forwarding {
        let mut config = SwitchConfig {
            ageing_time: 300,
            fdb_max_learned: None,
            learning_rate: None,
            ports: (0..ports).map(port).collect(),
        };
        edit(&mut config);
        Forwarding::new(config, 0)
    }

    fn mac(n: u8) -> MacAddr {
        MacAddr([2, 0, 0, 0, 0, n])
    }

    fn frame(src: u8, dst: MacAddr, outer: Option<VlanTag>) -> Ingress {
        Ingress {
            dst,
            src: mac(src),
            outer,
            len: 64,
        }
    }

    fn ctag(vid: u16) -> Option<VlanTag> {
        Some(VlanTag::from_tci(TPID_8021Q, vid))
    }

    /// Where the frame went, or the drop's reason read back from the counters.
    fn send(
        f: &mut Forwarding,
        port: PortIdx,
        frame: &Ingress,
        now: u64,
    ) -> Result<Vec<(PortIdx, Option<u16>)>, DropReason> {
        let before = f.report(now);
        let mut plan = Plan::default();
        if f.ingress(port, frame, now, &mut plan) {
            return Ok(plan.egress);
        }
        let after = f.report(now);
        let p = usize::from(port);
        Err(DropReason::ALL
            .into_iter()
            .find(|&r| after.ports[p].drops(r) > before.ports[p].drops(r))
            .expect("a dropped frame is counted"))
    }

    #[test]
    fn learns_forwards_and_floods_like_a_bridge() {
        let mut f = switch(3, |_| {});
        // Unknown: flooded everywhere but the ingress port.
        assert_eq!(
            send(&mut f, 0, &frame(1, mac(2), None), 0),
            Ok(vec![(1, None), (2, None)])
        );
        assert_eq!(
            send(&mut f, 1, &frame(2, mac(1), None), 0),
            Ok(vec![(0, None)])
        );
        assert_eq!(
            send(&mut f, 0, &frame(1, mac(2), None), 0),
            Ok(vec![(1, None)])
        );
        // Known on the port it came from, hairpin off.
        assert_eq!(
            send(&mut f, 1, &frame(3, mac(2), None), 0),
            Err(DropReason::SamePort)
        );
        assert_eq!(
            send(&mut f, 2, &frame(3, MacAddr::BROADCAST, None), 0),
            Ok(vec![(0, None), (1, None)])
        );
        let r = f.report(0);
        let kinds: Vec<EventKind> = r.events.iter().map(|e| e.kind).collect();
        use EventKind::{Flood, Learned, Moved};
        assert_eq!(kinds, [Learned, Flood, Learned, Learned, Moved]);
        assert_eq!((r.ports[0].rx_frames, r.ports[1].flooded), (2, 2));
        assert_eq!(r.table.len(), 3);
        assert!(!r.vlan_aware);
        assert_eq!(r.dropped, 1);
    }

    #[test]
    fn hairpin_and_flood_flags() {
        let mut f = switch(3, |c| {
            c.ports[0].hairpin = true;
            c.ports[2].broadcast_flood = false;
        });
        assert_eq!(
            send(&mut f, 0, &frame(1, MacAddr::BROADCAST, None), 0),
            Ok(vec![(0, None), (1, None)])
        );
        send(&mut f, 0, &frame(2, mac(9), None), 0).unwrap();
        assert_eq!(
            send(&mut f, 0, &frame(1, mac(2), None), 0),
            Ok(vec![(0, None)])
        );
        let mut alone = switch(1, |_| {});
        assert_eq!(
            send(&mut alone, 0, &frame(1, MacAddr::BROADCAST, None), 0),
            Err(DropReason::NoEgress)
        );
    }

    #[test]
    fn a_vlan_unaware_switch_leaves_tags_alone() {
        let mut f = switch(2, |_| {});
        let mut plan = Plan::default();
        assert!(f.ingress(0, &frame(1, MacAddr::BROADCAST, ctag(100)), 0, &mut plan));
        assert!(plan.keep_outer);
        assert_eq!(plan.egress, [(1, None)]);
    }

    fn vlan_switch() -> Forwarding {
        switch(4, |c| {
            c.ports[0].policy.vlan = PortVlan::Trunk {
                allowed: vec![10, 20],
                native: Some(1),
            };
            c.ports[1].policy.vlan = PortVlan::Access { vid: 10 };
            c.ports[2].policy.vlan = PortVlan::Access { vid: 20 };
            c.ports[3].policy.vlan = PortVlan::Access { vid: 1 };
        })
    }

    #[test]
    fn access_and_trunk_ports_classify_and_tag() {
        let mut f = vlan_switch();
        // Tagged 10 on the trunk: to VLAN 10's access port, untagged.
        let mut plan = Plan::default();
        let pcp5 = Some(VlanTag::from_tci(TPID_8021Q, (5 << 13) | 10));
        assert!(f.ingress(0, &frame(1, MacAddr::BROADCAST, pcp5), 0, &mut plan));
        assert!(!plan.keep_outer, "the classifying tag is consumed");
        assert_eq!(plan.egress, [(1, None)]);
        // Untagged on access 20: to the trunk tagged 20.
        assert_eq!(
            send(&mut f, 2, &frame(2, MacAddr::BROADCAST, None), 0),
            Ok(vec![(0, Some(20))])
        );
        // Untagged on the trunk: native VLAN 1, leaves untagged.
        assert_eq!(
            send(&mut f, 0, &frame(3, MacAddr::BROADCAST, None), 0),
            Ok(vec![(3, None)])
        );
        // Known unicast keeps to its VLAN: mac(1) is known in VLAN 10, not 20.
        assert_eq!(
            send(&mut f, 1, &frame(4, mac(1), None), 0),
            Ok(vec![(0, Some(10))])
        );
        assert_eq!(
            send(&mut f, 2, &frame(2, mac(1), None), 0),
            Ok(vec![(0, Some(20))])
        );
        assert_eq!(
            send(&mut f, 1, &frame(4, mac(1), ctag(10)), 0),
            Err(DropReason::TaggedOnAccess)
        );
        assert_eq!(
            send(&mut f, 0, &frame(1, mac(4), ctag(30)), 0),
            Err(DropReason::VlanNotAllowed)
        );
        let r = f.report(0);
        assert!(r.vlan_aware);
        let vids: Vec<u16> = r.vlans.iter().map(|v| v.vid).collect();
        assert_eq!(vids, [1, 10, 20]);
        assert_eq!(r.events.iter().filter(|e| e.vlan == Some(10)).count(), 2);
    }

    #[test]
    fn a_trunk_without_native_vlan_drops_untagged_and_priority_tags_are_untagged() {
        let mut f = switch(2, |c| {
            c.ports[0].policy.vlan = PortVlan::Trunk {
                allowed: vec![10],
                native: None,
            };
            c.ports[1].policy.vlan = PortVlan::Access { vid: 10 };
        });
        assert_eq!(
            send(&mut f, 0, &frame(1, MacAddr::BROADCAST, None), 0),
            Err(DropReason::UntaggedOnTrunk)
        );
        assert_eq!(
            send(&mut f, 1, &frame(2, MacAddr::BROADCAST, ctag(0)), 0),
            Ok(vec![(0, Some(10))]),
            "VID 0 is a priority tag: the frame is untagged for classification"
        );
    }

    #[test]
    fn outer_tags_pass_as_payload_or_drop() {
        let stag = Some(VlanTag::from_tci(TPID_8021AD, 300));
        let mut f = switch(2, |c| {
            c.ports[0].policy.vlan = PortVlan::Access { vid: 10 };
            c.ports[1].policy.vlan = PortVlan::Trunk {
                allowed: vec![10],
                native: None,
            };
        });
        let mut plan = Plan::default();
        assert!(f.ingress(0, &frame(1, MacAddr::BROADCAST, stag), 0, &mut plan));
        assert!(plan.keep_outer, "the S-tag travels inside the VLAN 10 tag");
        assert_eq!(plan.egress, [(1, Some(10))]);
        let mut f = switch(2, |c| c.ports[0].policy.outer_tags = OuterTags::Drop);
        assert_eq!(
            send(&mut f, 0, &frame(1, MacAddr::BROADCAST, stag), 0),
            Err(DropReason::OuterTag)
        );
        assert!(send(&mut f, 0, &frame(1, MacAddr::BROADCAST, ctag(5)), 0).is_ok());
    }

    fn secured(violation: Violation, sticky: bool) -> Forwarding {
        switch(2, |c| {
            c.ports[0].policy.security = Some(PortSecurity {
                max_macs: 2,
                violation,
                sticky,
            });
            c.ports[0].policy.static_macs = vec![mac(1)];
        })
    }

    #[test]
    fn port_security_counts_static_addresses_and_acts_per_mode() {
        for (mode, reason, violations) in [
            (Violation::Protect, DropReason::SecurityProtect, 0),
            (Violation::Restrict, DropReason::SecurityRestrict, 1),
        ] {
            let mut f = secured(mode, false);
            let b = MacAddr::BROADCAST;
            assert!(
                send(&mut f, 0, &frame(1, b, None), 0).is_ok(),
                "static: secure"
            );
            assert!(
                send(&mut f, 0, &frame(2, b, None), 0).is_ok(),
                "the second secure address"
            );
            assert_eq!(send(&mut f, 0, &frame(3, b, None), 0), Err(reason));
            assert!(
                send(&mut f, 0, &frame(2, b, None), 0).is_ok(),
                "secure ones still pass"
            );
            let r = f.report(0);
            assert_eq!(r.ports[0].violations, violations);
            assert_eq!(r.ports[0].state, "up");
            let logged = r.events.iter().any(|e| e.kind == EventKind::Violation);
            assert_eq!(logged, violations > 0);
        }
        let mut f = secured(Violation::Shutdown, false);
        let b = MacAddr::BROADCAST;
        send(&mut f, 0, &frame(2, b, None), 0).unwrap();
        send(&mut f, 1, &frame(7, b, None), 0).unwrap();
        assert_eq!(
            send(&mut f, 0, &frame(3, b, None), 0),
            Err(DropReason::SecurityShutdown)
        );
        assert_eq!(
            send(&mut f, 0, &frame(1, b, None), 0),
            Err(DropReason::PortShutDown)
        );
        // Its entries are flushed: frames to mac(2) are flooded, and never to the stopped port.
        assert_eq!(
            send(&mut f, 1, &frame(7, mac(2), None), 0),
            Err(DropReason::NoEgress)
        );
        // The static entry stays: a frame to it has nowhere to go.
        assert_eq!(
            send(&mut f, 1, &frame(7, mac(1), None), 0),
            Err(DropReason::EgressShutDown)
        );
        let r = f.report(0);
        assert_eq!(r.ports[0].state, "shutdown");
        assert!(r.events.iter().any(|e| e.kind == EventKind::PortShutDown));
    }

    #[test]
    fn sticky_addresses_never_age_and_others_do() {
        let mut f = secured(Violation::Restrict, true);
        let b = MacAddr::BROADCAST;
        send(&mut f, 0, &frame(2, b, None), 0).unwrap();
        send(&mut f, 1, &frame(5, b, None), 0).unwrap();
        f.age(301_000_000_000);
        let r = f.report(301_000_000_000);
        let kinds: Vec<(String, EntryKind)> =
            r.table.iter().map(|e| (e.port.clone(), e.kind)).collect();
        assert_eq!(
            kinds,
            [
                ("p0".to_string(), EntryKind::Sticky),
                ("p0".to_string(), EntryKind::Static)
            ]
        );
        assert_eq!(r.events.last().map(|e| e.kind), Some(EventKind::Aged));
        // The sticky address still holds its place: a third source is a violation.
        assert_eq!(
            send(&mut f, 0, &frame(3, b, None), 302_000_000_000),
            Err(DropReason::SecurityRestrict)
        );
    }

    #[test]
    fn limits_refuse_learning_and_a_secure_port_drops_what_it_cannot_secure() {
        let mut f = switch(2, |c| {
            c.fdb_max_learned = Some(1);
            c.ports[1].policy.security = Some(PortSecurity {
                max_macs: 5,
                violation: Violation::Restrict,
                sticky: false,
            });
        });
        let b = MacAddr::BROADCAST;
        assert!(send(&mut f, 0, &frame(1, b, None), 0).is_ok());
        assert!(
            send(&mut f, 0, &frame(2, b, None), 0).is_ok(),
            "not learned, forwarded"
        );
        assert_eq!(
            send(&mut f, 1, &frame(3, b, None), 0),
            Err(DropReason::Unsecured)
        );
        let r = f.report(0);
        assert_eq!((r.ports[0].not_learned, r.ports[1].not_learned), (1, 1));
        assert_eq!(r.ports[1].violations, 0);
    }

    #[test]
    fn the_event_log_is_bounded_and_counts_what_it_could_not_keep() {
        let mut f = switch(2, |_| {});
        let mut plan = Plan::default();
        for n in 0..(EVENT_LOG_SIZE as u32 + 10) {
            let b = n.to_be_bytes();
            let src = MacAddr([2, 1, b[0], b[1], b[2], b[3]]);
            let frame = Ingress {
                dst: MacAddr::BROADCAST,
                src,
                outer: None,
                len: 60,
            };
            assert!(f.ingress(0, &frame, 0, &mut plan));
        }
        let r = f.report(0);
        assert_eq!((r.events.len(), r.events_lost), (EVENT_LOG_SIZE, 10));
        assert_eq!(r.ports[0].learned, EVENT_LOG_SIZE as u64 + 10);
    }
}

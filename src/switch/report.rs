//! What the emulated switch tells about itself, as plain serde data that the run result, the
//! text and JSON reports and `mvlab switch show` all read: per-port and per-VLAN counters, every
//! drop by reason, the MAC table, and the event log. Owns the names of drop reasons and event
//! kinds; computes nothing.

use serde::{Deserialize, Serialize};

use crate::addr::MacAddr;

/// Why the switch did not deliver a frame (or a copy of it). Every frame the switch does not
/// forward is counted under exactly one of these, on the port where it was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DropReason {
    /// Arrived on a port that a shutdown violation stopped.
    PortShutDown,
    /// An 802.1ad (S-)tagged frame on a port whose `outer_tags` is `drop`.
    OuterTag,
    /// A tagged frame on an access port.
    TaggedOnAccess,
    /// A frame tagged with a VLAN its trunk port does not carry.
    VlanNotAllowed,
    /// An untagged frame on a trunk port with no native VLAN.
    UntaggedOnTrunk,
    /// Port security, violation mode protect: a source past `max_macs`.
    SecurityProtect,
    /// Port security, violation mode restrict.
    SecurityRestrict,
    /// Port security, violation mode shutdown: the frame that stopped the port.
    SecurityShutdown,
    /// Port security: a new source that could not be made secure (table full, learning rate).
    Unsecured,
    /// The destination is known on the port the frame came from, and hairpin is off there.
    SamePort,
    /// The destination is known on a port that is shut down.
    EgressShutDown,
    /// Flooded, but no port was left to send it to (flags, VLAN membership, hairpin).
    NoEgress,
    /// Shorter than an Ethernet header.
    Runt,
    /// Longer than the receive buffer (the port's MTU plus two tags).
    Oversize,
    /// The kernel dropped it before the switch could read it (the socket's queue was full).
    RxOverrun,
    /// The kernel refused to send it out of the egress port.
    EgressFailed,
}

impl DropReason {
    pub const ALL: [DropReason; 16] = [
        DropReason::PortShutDown,
        DropReason::OuterTag,
        DropReason::TaggedOnAccess,
        DropReason::VlanNotAllowed,
        DropReason::UntaggedOnTrunk,
        DropReason::SecurityProtect,
        DropReason::SecurityRestrict,
        DropReason::SecurityShutdown,
        DropReason::Unsecured,
        DropReason::SamePort,
        DropReason::EgressShutDown,
        DropReason::NoEgress,
        DropReason::Runt,
        DropReason::Oversize,
        DropReason::RxOverrun,
        DropReason::EgressFailed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::PortShutDown => "port-shut-down",
            DropReason::OuterTag => "outer-tag",
            DropReason::TaggedOnAccess => "tagged-on-access",
            DropReason::VlanNotAllowed => "vlan-not-allowed",
            DropReason::UntaggedOnTrunk => "untagged-on-trunk",
            DropReason::SecurityProtect => "security-protect",
            DropReason::SecurityRestrict => "security-restrict",
            DropReason::SecurityShutdown => "security-shutdown",
            DropReason::Unsecured => "unsecured",
            DropReason::SamePort => "same-port",
            DropReason::EgressShutDown => "egress-shut-down",
            DropReason::NoEgress => "no-egress",
            DropReason::Runt => "runt",
            DropReason::Oversize => "oversize",
            DropReason::RxOverrun => "rx-overrun",
            DropReason::EgressFailed => "egress-failed",
        }
    }

    /// Its position in `ALL` (and in per-reason counter arrays).
    pub fn index(self) -> usize {
        self as usize
    }
}

/// Frames dropped for one reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DropCount {
    pub reason: DropReason,
    pub frames: u64,
}

/// One port's counters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortReport {
    /// `p0`, `p1`, ... in the switch namespace.
    pub name: String,
    /// `up`, or `shutdown` once a port-security violation stopped it.
    pub state: String,
    pub rx_frames: u64,
    pub rx_bytes: u64,
    pub tx_frames: u64,
    pub tx_bytes: u64,
    /// Copies sent out of this port by flooding.
    pub flooded: u64,
    /// Entries learned on this port (moves included).
    pub learned: u64,
    /// Sources seen here that were not learned (capacity, `mac_limit`, learning rate).
    pub not_learned: u64,
    /// Port-security violations counted (restrict and shutdown; protect counts none).
    pub violations: u64,
    /// Non-zero drop counts by reason; frames dropped on this port.
    pub drops: Vec<DropCount>,
}

/// One VLAN's counters (a VLAN-unaware switch reports everything under VLAN 0).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VlanReport {
    pub vid: u16,
    /// Frames classified into it.
    pub rx_frames: u64,
    /// Frames flooded in it.
    pub flooded: u64,
    /// Frames of it dropped (any reason after classification).
    pub dropped: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EntryKind {
    /// Learned; ages.
    Dynamic,
    /// Learned on a port with sticky port security; never ages.
    Sticky,
    /// From the scenario's `static_macs`; never ages, never moves.
    Static,
}

impl EntryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Dynamic => "dynamic",
            EntryKind::Sticky => "sticky",
            EntryKind::Static => "static",
        }
    }
}

/// One MAC table entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableEntry {
    pub port: String,
    pub mac: MacAddr,
    /// `None` on a VLAN-unaware switch (and for static entries, valid in each of the port's VLANs).
    pub vlan: Option<u16>,
    pub kind: EntryKind,
    /// Seconds since the entry was last seen (0 for static entries).
    pub idle_s: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EventKind {
    /// A new entry.
    Learned,
    /// An entry moved to another port.
    Moved,
    /// An entry removed after `ageing_time` unseen.
    Aged,
    /// A source was not learned (capacity, `mac_limit`, learning rate).
    NotLearned,
    /// A port-security violation (restrict or shutdown).
    Violation,
    /// A port stopped by a shutdown violation.
    PortShutDown,
    /// The first flood of a unicast destination not in the table (logged once until learned).
    Flood,
}

impl EventKind {
    /// Its name in JSON and in metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Learned => "learned",
            EventKind::Moved => "moved",
            EventKind::Aged => "aged",
            EventKind::NotLearned => "not-learned",
            EventKind::Violation => "violation",
            EventKind::PortShutDown => "port-shut-down",
            EventKind::Flood => "flood",
        }
    }
}

/// One entry of the event log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Milliseconds since the switch started.
    pub at_ms: u64,
    pub kind: EventKind,
    pub port: String,
    /// The source (learned, moved, aged, not learned, violation) or destination (flood).
    pub mac: MacAddr,
    pub vlan: Option<u16>,
}

/// Everything the emulated switch reports: the switch part of a run's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SwitchReport {
    /// Seconds the forwarder ran.
    pub uptime_s: f64,
    /// Whether any port has VLAN membership.
    pub vlan_aware: bool,
    pub ports: Vec<PortReport>,
    /// VLANs that saw a frame, by id.
    pub vlans: Vec<VlanReport>,
    /// The table: learned entries (dynamic and sticky) then static ones.
    pub table: Vec<TableEntry>,
    /// The event log, oldest first, at most `EVENT_LOG_SIZE` entries.
    pub events: Vec<Event>,
    /// Events past the log's size, counted but not kept.
    pub events_lost: u64,
    /// Every frame dropped, all ports and reasons.
    pub dropped: u64,
}

impl SwitchReport {
    /// A port's counters by name.
    pub fn port(&self, name: &str) -> Option<&PortReport> {
        self.ports.iter().find(|p| p.name == name)
    }
}

impl PortReport {
    /// Frames dropped on this port for `reason`.
    pub fn drops(&self, reason: DropReason) -> u64 {
        self.drops
            .iter()
            .find(|d| d.reason == reason)
            .map_or(0, |d| d.frames)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_index_their_counters_and_have_distinct_names() {
        for (i, r) in DropReason::ALL.iter().enumerate() {
            assert_eq!(r.index(), i);
            let json = serde_json::to_string(r).unwrap();
            assert_eq!(json, format!("\"{}\"", r.as_str()));
        }
        let names: std::collections::HashSet<&str> =
            DropReason::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(names.len(), DropReason::ALL.len());
    }
}

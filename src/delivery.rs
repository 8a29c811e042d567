//! The delivery vocabulary shared by the model (what should happen) and the measurements (what
//! the kernel did): frame classes, the addresses each class is sent to, the matrix cell, and the
//! matrix result both produce (with the promiscuity counters and learned table beside it). A
//! model/kernel disagreement is a diff of two values of these types. No I/O, no kernel calls.
//!
//! What a matrix cell means, exactly:
//! - Stations are `Scenario::stations()`: endpoints and peers by node name, the host's interfaces
//!   (each parent, the shim) as `host:IFACE`. Each sends raw frames from its lab interface (an
//!   AF_PACKET socket bound to it) and counts on it.
//! - By default every station but the host's parents sends (a test may name parents as senders),
//!   and every station receives. A receiver counts only frames that arrived from outside (packet
//!   types HOST, BROADCAST, MULTICAST and OTHERHOST; never OUTGOING), and only test frames: the
//!   payload names the flow, hence the sender, class and destination.
//! - Before each pass the switch is primed: every sender, in station order, sends one frame to
//!   `UNKNOWN_UNICAST_MAC`, so the bridge has learned every sender's MAC (up to its limit) and
//!   "unicast to a known MAC" does not depend on who happened to send first.
//! - For class `unicast`, the sender sends `frames` frames to the MAC of each other receiver in
//!   turn. Cell (from, to): `received` counts frames addressed to `to` that `to` got; `leaked`
//!   counts frames from `from` addressed to some *other* station that `to` got (a leak).
//! - For every other class the sender sends `frames` frames to the class's one destination
//!   address; `received` counts how many of them `to` got and `leaked` is 0.
//! - Counts are copies: a frame that reaches a receiver twice (a reflected broadcast) counts twice.
//! - Tagged classes are the same frames with one 802.1Q tag (`MatrixSpec::vlan`).
//! - `promiscuous` says whether every receiver's socket held PACKET_MR_PROMISC during the pass
//!   (both passes are run when asked: the whole lab promiscuous, or none of it).

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::addr::MacAddr;

/// How a frame is addressed, which decides how macvlan and the switch treat it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Addressing {
    /// To the MAC of an existing node.
    Unicast,
    /// To a lab MAC no node owns (`UNKNOWN_UNICAST_MAC`).
    UnknownUnicast,
    /// To ff:ff:ff:ff:ff:ff.
    Broadcast,
    /// To the IPv4 group `MULTICAST4_GROUP` (01:00:5e:...), which no node joins by itself.
    Multicast4,
    /// To IPv6 all-nodes ff02::1 (33:33:00:00:00:01), joined by every interface with IPv6 on.
    Multicast6,
}

impl Addressing {
    pub const ALL: [Addressing; 5] = [
        Addressing::Unicast,
        Addressing::UnknownUnicast,
        Addressing::Broadcast,
        Addressing::Multicast4,
        Addressing::Multicast6,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Addressing::Unicast => "unicast",
            Addressing::UnknownUnicast => "unknown-unicast",
            Addressing::Broadcast => "broadcast",
            Addressing::Multicast4 => "multicast4",
            Addressing::Multicast6 => "multicast6",
        }
    }

    /// The fixed destination MAC of every class but `Unicast` (whose destination is a node).
    pub fn fixed_destination(self) -> Option<MacAddr> {
        match self {
            Addressing::Unicast => None,
            Addressing::UnknownUnicast => Some(UNKNOWN_UNICAST_MAC),
            Addressing::Broadcast => Some(MacAddr::BROADCAST),
            Addressing::Multicast4 => Some(MacAddr::for_ipv4_multicast(MULTICAST4_GROUP)),
            Addressing::Multicast6 => Some(MacAddr::for_ipv6_multicast(MULTICAST6_GROUP)),
        }
    }
}

/// A lab MAC that no node is ever given (validation refuses it).
pub const UNKNOWN_UNICAST_MAC: MacAddr = MacAddr([0x02, 0x00, 0x00, 0xff, 0xff, 0xfe]);
/// An administratively scoped group (RFC 2365) that nothing in a lab joins by itself.
pub const MULTICAST4_GROUP: Ipv4Addr = Ipv4Addr::new(239, 255, 77, 77);
/// IPv6 link-local all-nodes.
pub const MULTICAST6_GROUP: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);

/// A frame class of the matrix: an addressing, optionally with one 802.1Q tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FrameClass {
    pub addressing: Addressing,
    pub tagged: bool,
}

impl FrameClass {
    pub const fn untagged(addressing: Addressing) -> FrameClass {
        FrameClass {
            addressing,
            tagged: false,
        }
    }

    pub const fn tagged(addressing: Addressing) -> FrameClass {
        FrameClass {
            addressing,
            tagged: true,
        }
    }

    /// All ten classes: each addressing untagged, then each tagged.
    pub fn all() -> Vec<FrameClass> {
        let untagged = Addressing::ALL.iter().map(|&a| FrameClass::untagged(a));
        let tagged = Addressing::ALL.iter().map(|&a| FrameClass::tagged(a));
        untagged.chain(tagged).collect()
    }
}

impl fmt::Display for FrameClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.addressing.as_str())?;
        if self.tagged {
            f.write_str("-tagged")?;
        }
        Ok(())
    }
}

/// Why a string is not a frame class.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not a frame class; use unicast, unknown-unicast, broadcast, multicast4 or multicast6, optionally with a -tagged suffix"
)]
pub struct BadFrameClass(pub String);

impl FromStr for FrameClass {
    type Err = BadFrameClass;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (base, tagged) = match s.strip_suffix("-tagged") {
            Some(base) => (base, true),
            None => (s, false),
        };
        let addressing = Addressing::ALL
            .into_iter()
            .find(|a| a.as_str() == base)
            .ok_or_else(|| BadFrameClass(s.to_string()))?;
        Ok(FrameClass { addressing, tagged })
    }
}

impl Serialize for FrameClass {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for FrameClass {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// What a matrix pass sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatrixSpec {
    /// Frames sent per (sender, class, destination).
    pub frames: u32,
    pub classes: Vec<FrameClass>,
    /// The VLAN id of tagged classes.
    pub vlan: u16,
    /// Which passes to run: `[false, true]` runs a non-promiscuous and a promiscuous pass.
    pub promiscuous: Vec<bool>,
}

/// One cell of the delivery matrix (see the module comment for the exact meaning).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cell {
    pub from: String,
    pub to: String,
    pub class: FrameClass,
    pub promiscuous: bool,
    pub sent: u64,
    pub received: u64,
    pub leaked: u64,
    /// The expected `received` (from the scenario, else the model); `None` when nobody said.
    pub expected: Option<u64>,
    /// The expected `leaked`, likewise.
    pub expected_leaked: Option<u64>,
}

/// A device's promiscuity counter during a matrix pass (`ip -d link`'s `promiscuity`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Promiscuity {
    pub promiscuous_pass: bool,
    /// `node:interface`, e.g. `host:eth0`, `switch:p0`.
    pub device: String,
    pub promiscuity: u32,
}

/// A learned entry of the bridge's forwarding table after a pass.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FdbEntry {
    pub promiscuous_pass: bool,
    pub port: String,
    pub mac: String,
    /// The station owning the MAC, when it is one of the lab's.
    pub station: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MatrixResult {
    pub name: String,
    pub spec: MatrixSpec,
    /// The stations that sent, in station order.
    pub senders: Vec<String>,
    /// The stations that captured, in station order.
    pub receivers: Vec<String>,
    pub cells: Vec<Cell>,
    pub promiscuity: Vec<Promiscuity>,
    pub fdb: Vec<FdbEntry>,
    /// Passes run again because a capture ring overflowed (their frames were lost to the
    /// capture, not the path).
    #[serde(default)]
    pub passes_repeated: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_names_round_trip() {
        for class in FrameClass::all() {
            assert_eq!(class.to_string().parse::<FrameClass>().unwrap(), class);
        }
        assert_eq!(FrameClass::all().len(), 10);
        assert_eq!(
            "broadcast-tagged".parse::<FrameClass>().unwrap(),
            FrameClass::tagged(Addressing::Broadcast)
        );
        assert!("anycast".parse::<FrameClass>().is_err());
    }

    #[test]
    fn fixed_destinations() {
        assert_eq!(Addressing::Unicast.fixed_destination(), None);
        assert!(UNKNOWN_UNICAST_MAC.is_lab_safe());
        assert_eq!(
            Addressing::Multicast6
                .fixed_destination()
                .unwrap()
                .to_string(),
            "33:33:00:00:00:01"
        );
        assert!(
            Addressing::Multicast4
                .fixed_destination()
                .unwrap()
                .is_multicast()
        );
    }
}

//! Where a switch under test departs from the reference it is held to, the model's 802.1D
//! learning bridge: each matrix cell the two deliver differently is put in a class of
//! behaviour (it hairpins, floods a learned destination, drops a frame class, ...) with why
//! that class matters to the hosts behind the switch. Pure: it compares two values of the
//! delivery vocabulary and reads the scenario for which tester port each station is behind.

use std::collections::BTreeMap;

use crate::delivery::{Addressing, Cell};
use crate::scenario::{ParentKind, Scenario};

/// One way the switch under test differs, and every cell that shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deviation {
    /// What the switch does, in a few words.
    pub behaviour: String,
    /// Why a user of the switch should care.
    pub why: &'static str,
    /// Each cell: `from -> to class pass: measured vs reference`.
    pub cells: Vec<String>,
}

/// The tester interface each station sends and receives through.
fn ports(s: &Scenario) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for e in &s.endpoints {
        if let ParentKind::Existing { interface } = &s.parents[s.networks[e.network].parent].kind {
            out.insert(e.name.clone(), interface.clone());
        }
    }
    for p in &s.peers {
        if let Some(interface) = &p.existing {
            out.insert(p.name.clone(), interface.clone());
        }
    }
    out
}

/// The class of one differing cell: what the switch did, and why it matters.
fn classify(measured: &Cell, reference: &Cell, same_port: bool) -> (String, &'static str) {
    let class = measured.class;
    let tagged = if class.tagged { " (802.1Q-tagged)" } else { "" };
    if same_port && measured.received > reference.received {
        return (
            "hairpins: frames leave by the port they came in on".into(),
            "reflective relay lets macvlan VEPA and private endpoints behind one port reach each other and hear their own broadcasts, the isolation those modes rely on",
        );
    }
    if measured.leaked > reference.leaked {
        return (
            format!("floods learned unicast{tagged}: frames for one station reach another"),
            if class.tagged {
                "a switch that learns per VLAN (802.1Q) does not know in VLAN 100 an address it learned untagged, so it floods it: traffic meant for one port is seen on every port of that VLAN"
            } else {
                "traffic meant for one port is seen on every port: a confidentiality leak, and bandwidth spent on every link"
            },
        );
    }
    let fewer = measured.received < reference.received;
    let (what, why) = match (class.addressing, fewer) {
        (Addressing::Unicast, true) => (
            "does not deliver learned unicast",
            "a station reached by the reference cannot be reached through the switch",
        ),
        (Addressing::UnknownUnicast, true) => (
            "does not flood unknown unicast",
            "frames to a destination the switch has not learned (a conversation's first frames, every frame after an entry ages out) are lost instead of flooded",
        ),
        (Addressing::Broadcast, true) => (
            "drops broadcast",
            "ARP and DHCP ride broadcast: a port that misses it loses address resolution",
        ),
        (Addressing::Multicast4, true) => (
            "drops unregistered IPv4 multicast",
            "a group nobody joined is pruned (IGMP snooping, or flooding turned off): services that rely on it being flooded (mDNS, VRRP, discovery protocols) go quiet",
        ),
        (Addressing::Multicast6, true) => (
            "drops IPv6 all-nodes multicast",
            "neighbour discovery and router advertisements go to ff02::1: a port that misses them loses IPv6",
        ),
        (_, false) => (
            "delivers copies the reference does not",
            "extra copies cost bandwidth and may repeat a frame to a host",
        ),
    };
    (format!("{what}{tagged}"), why)
}

/// The switch under test's departures from the reference, one per class of behaviour, each
/// with its cells; `pairs` are (measured, reference) cells that differ.
pub fn deviations(s: &Scenario, pairs: &[(Cell, Cell)]) -> Vec<Deviation> {
    let ports = ports(s);
    let mut out: Vec<Deviation> = Vec::new();
    for (measured, reference) in pairs {
        let same_port = ports
            .get(&measured.from)
            .is_some_and(|p| ports.get(&measured.to) == Some(p));
        let (behaviour, why) = classify(measured, reference, same_port);
        let cell = format!(
            "{} -> {} {} {}: {} received, {} leaked (reference {}, {})",
            measured.from,
            measured.to,
            measured.class,
            if measured.promiscuous {
                "promiscuous"
            } else {
                "not-promiscuous"
            },
            measured.received,
            measured.leaked,
            reference.received,
            reference.leaked
        );
        match out.iter_mut().find(|d| d.behaviour == behaviour) {
            Some(d) => d.cells.push(cell),
            None => out.push(Deviation {
                behaviour,
                why,
                cells: vec![cell],
            }),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delivery::FrameClass;
    use crate::diag::Source;
    use crate::scenario::external_tests::TWO_PORTS as EXTERNAL;

    fn cell(from: &str, to: &str, class: FrameClass, received: u64, leaked: u64) -> Cell {
        Cell {
            from: from.into(),
            to: to.into(),
            class,
            promiscuous: false,
            sent: 10,
            received,
            leaked,
            expected: None,
            expected_leaked: None,
        }
    }

    #[test]
    fn each_difference_is_named_once_with_its_cells() {
        let s = crate::scenario::parse(Source::new("x.toml", EXTERNAL)).unwrap();
        let bc = FrameClass::untagged(Addressing::Broadcast);
        let uc = FrameClass::tagged(Addressing::Unicast);
        let mc = FrameClass::untagged(Addressing::Multicast6);
        let pairs = [
            (cell("e1", "e2", bc, 10, 0), cell("e1", "e2", bc, 0, 0)),
            (cell("e2", "e1", bc, 10, 0), cell("e2", "e1", bc, 0, 0)),
            (cell("far", "e1", uc, 10, 10), cell("far", "e1", uc, 10, 0)),
            (cell("e1", "far", mc, 0, 0), cell("e1", "far", mc, 10, 0)),
        ];
        let found = deviations(&s, &pairs);
        let names: Vec<&str> = found.iter().map(|d| d.behaviour.as_str()).collect();
        assert_eq!(
            names,
            [
                "hairpins: frames leave by the port they came in on",
                "floods learned unicast (802.1Q-tagged): frames for one station reach another",
                "drops IPv6 all-nodes multicast",
            ]
        );
        assert_eq!(found[0].cells.len(), 2);
        assert!(found[1].why.contains("per VLAN"));
        assert!(found[2].cells[0].contains("0 received, 0 leaked (reference 10, 0)"));
    }
}

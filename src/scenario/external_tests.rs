//! `[switch] kind = "external"`: the keys that describe a switch under test, its defaults, and
//! every wiring it refuses (a parent or peer not on an existing interface, two stations on one
//! tester interface, port flags mvlab cannot set), each at its line.

use super::tests::{only_error, parse_text};
use super::*;

/// Two tester ports: a parent on `t0` and a peer on `t1` (also the reference's tests).
pub(crate) const TWO_PORTS: &str = r#"
[switch]
kind = "external"
[[parents]]
name = "eth0"
kind = "existing"
interface = "t0"
[[networks]]
mode = "vepa"
[[peers]]
name = "far"
interface = "t1"
"#;

#[test]
fn an_external_switch_has_802_1d_defaults_and_tester_ports() {
    let s = parse_text(TWO_PORTS).unwrap();
    let Switch::External(x) = &s.switch else {
        panic!("{:?}", s.switch)
    };
    assert_eq!(x.ageing_time, 300);
    assert_eq!(x.table_full, TableFull::StopLearning);
    assert_eq!(x.fdb_max_learned, None);
    assert!(!s.switch.has_ports(), "no switch namespace");
    assert_eq!(s.peers[0].existing.as_deref(), Some("t1"));
    assert_eq!(s.peers[0].port.name, "t1");
    assert_eq!(s.parents[0].port.name, "t0");
    let names: Vec<&str> = s.existing_interfaces().iter().map(|(i, _)| *i).collect();
    assert_eq!(names, ["t0", "t1"]);
    let stations: Vec<String> = s.stations().into_iter().map(|s| s.name).collect();
    assert_eq!(stations, ["e1", "e2", "far"], "a real parent is no station");
    assert_eq!(
        s.stations()[2].interface,
        "t1",
        "the peer sends on its tester interface"
    );
    let nodes: Vec<&str> = s.nodes().iter().map(|(n, _)| *n).collect();
    assert_eq!(
        nodes,
        ["host", "e1", "e2"],
        "no switch, and no namespace for the peer"
    );

    let evicting = TWO_PORTS.replace(
        "kind = \"external\"",
        "kind = \"external\"\nageing_time = 15\ntable_full = \"evict-oldest\"\nfdb_max_learned = 64",
    );
    let s = parse_text(&evicting).unwrap();
    let Switch::External(x) = &s.switch else {
        unreachable!()
    };
    assert_eq!(
        (x.ageing_time, x.table_full, x.fdb_max_learned),
        (15, TableFull::EvictOldest, Some(64))
    );
}

#[test]
fn every_station_of_an_external_switch_is_on_a_tester_interface_of_its_own() {
    let veth_parent = TWO_PORTS.replace("kind = \"existing\"\ninterface = \"t0\"\n", "");
    let (line, _, message, hint) = only_error(&veth_parent);
    assert_eq!(line, 4);
    assert_eq!(
        message,
        "parent `eth0` is not wired to the switch under test"
    );
    assert!(hint.contains("kind = \"existing\""), "{hint}");

    let no_interface = TWO_PORTS.replace("interface = \"t1\"\n", "");
    let (line, _, message, _) = only_error(&no_interface);
    assert_eq!(
        (line, message.as_str()),
        (11, "peer `far` has no tester interface")
    );

    let shared = TWO_PORTS.replace("interface = \"t1\"", "interface = \"t0\"");
    let (line, _, message, hint) = only_error(&shared);
    assert_eq!(line, 12);
    assert_eq!(message, "`t0` is already a tester interface (line 6)");
    assert!(hint.contains("of its own"));

    let flags = TWO_PORTS.replace(
        "interface = \"t1\"",
        "interface = \"t1\"\nport = { hairpin = true }",
    );
    let (line, _, message, _) = only_error(&flags);
    assert_eq!(line, 13);
    assert!(
        message.contains("flags of a port mvlab does not configure"),
        "{message}"
    );
}

#[test]
fn keys_of_the_wrong_switch_are_refused_at_their_line() {
    let (line, _, message, _) = only_error("[switch]\ntable_full = \"evict-oldest\"\n");
    assert_eq!(line, 2);
    assert_eq!(message, "`table_full` only applies to an external switch");

    let (line, _, message, hint) = only_error(&TWO_PORTS.replace(
        "kind = \"external\"",
        "kind = \"external\"\nmulticast_snooping = false",
    ));
    assert_eq!(line, 4);
    assert_eq!(
        message,
        "`multicast_snooping` only applies to a bridge switch"
    );
    assert!(hint.contains("configured outside mvlab"), "{hint}");

    let (line, _, message, _) =
        only_error("[[networks]]\n[[peers]]\nname = \"far\"\ninterface = \"t1\"\n");
    assert_eq!(line, 4);
    assert!(
        message.contains("tester port of an external switch"),
        "{message}"
    );
}

#[test]
fn tests_of_the_lab_itself_are_refused_on_an_external_switch() {
    let ramp = format!("{TWO_PORTS}[[tests]]\nkind = \"endpoint_ramp\"\nmax_endpoints = 4\n");
    let (line, _, message, _) = only_error(&ramp);
    assert_eq!(line, 14);
    assert!(message.contains("not a switch under test"), "{message}");
}

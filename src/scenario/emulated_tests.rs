//! The emulated switch's keys: `[switch] kind = "emulated"`, each port's VLAN membership,
//! limits and port security, and tagged-frame networks; each refusal checked for its location,
//! message and hint.

use super::tests::{only_error, parse_text};
use super::*;

const EMULATED: &str = "[switch]\nkind = \"emulated\"\n";

#[test]
fn an_emulated_switch_has_the_bridges_ports_and_defaults() {
    let s = parse_text(EMULATED).unwrap();
    let Switch::Emulated(e) = &s.switch else {
        panic!("{:?}", s.switch)
    };
    assert_eq!(
        (e.ageing_time, e.fdb_max_learned, e.learning_rate),
        (300, None, None)
    );
    assert_eq!(s.parents[0].port.name, "p0");
    assert_eq!(s.peers[0].port.name, "p1");
    assert_eq!(s.parents[0].port.policy, PortPolicy::default());
    assert!(s.nodes().contains(&(SWITCH_NODE, Role::Switch)));
    let s = parse_text(&format!(
        "{EMULATED}ageing_time = 30\nfdb_max_learned = 8\nlearning_rate = 100\n"
    ))
    .unwrap();
    let Switch::Emulated(e) = &s.switch else {
        unreachable!()
    };
    assert_eq!(
        (e.ageing_time, e.fdb_max_learned, e.learning_rate),
        (30, Some(8), Some(100))
    );
}

#[test]
fn keys_of_another_kind_are_refused_where_written() {
    let (line, col, msg, hint) = only_error(&format!("{EMULATED}name = \"br7\"\n"));
    assert_eq!((line, col), (3, 8));
    assert!(
        msg.contains("`name` only applies to a bridge switch"),
        "{msg}"
    );
    assert!(hint.contains("no bridge device"), "{hint}");
    let (_, _, msg, hint) = only_error("[switch]\nlearning_rate = 5\n");
    assert!(msg.contains("only applies to the emulated switch"), "{msg}");
    assert!(hint.contains("kind = \"emulated\""), "{hint}");
    let (_, _, msg, _) = only_error(&format!("{EMULATED}learning_rate = 0\n"));
    assert!(msg.contains("never learn"), "{msg}");
}

#[test]
fn port_keys_of_the_emulated_switch_are_refused_on_a_bridge() {
    let (line, col, msg, hint) = only_error("[[parents]]\nport = { max_macs = 2 }\n");
    assert_eq!((line, col), (2, 21));
    assert!(
        msg.contains("`max_macs` needs the emulated switch"),
        "{msg}"
    );
    assert!(msg.contains("Linux bridge"), "{msg}");
    assert!(hint.contains("kind = \"emulated\""), "{hint}");
    let errors =
        parse_text("[switch]\nkind = \"none\"\n[[peers]]\nname = \"p\"\nport = { trunk = [10] }\n")
            .unwrap_err()
            .to_string();
    assert!(
        errors.contains("`trunk` needs the emulated switch, but the switch is a bare wire"),
        "{errors}"
    );
}

#[test]
fn vlan_membership_on_a_bridge_makes_it_filter_by_vlan() {
    let s = parse_text("[[parents]]\nport = { trunk = [10, 20] }\n[[peers]]\nname = \"a\"\nport = { vlan = 10 }\n[[peers]]\nname = \"b\"\n").unwrap();
    let Switch::Bridge(b) = &s.switch else {
        panic!("the default switch is a bridge")
    };
    assert!(b.vlan_filtering);
    assert!(b.vlan_span.is_some());
    assert_eq!(s.peers[0].port.policy.vlan, PortVlan::Access { vid: 10 });
    assert_eq!(
        s.peers[1].port.policy.vlan,
        PortVlan::Access { vid: 1 },
        "a VLAN-aware bridge puts a port that names no VLAN in VLAN 1 (default_pvid)"
    );
    let plain = parse_text("[[peers]]\nname = \"a\"\n").unwrap();
    assert!(matches!(plain.switch, Switch::Bridge(ref b) if !b.vlan_filtering));
}

#[test]
fn access_and_trunk_ports_and_the_default_vlan() {
    let s = parse_text(&format!(
        "{EMULATED}[[parents]]\nport = {{ trunk = [20, 10], native_vlan = 1 }}\n[[peers]]\nname = \"a\"\nport = {{ vlan = 10 }}\n[[peers]]\nname = \"b\"\n"
    ))
    .unwrap();
    assert_eq!(
        s.parents[0].port.policy.vlan,
        PortVlan::Trunk {
            allowed: vec![10, 20],
            native: Some(1)
        }
    );
    assert_eq!(s.peers[0].port.policy.vlan, PortVlan::Access { vid: 10 });
    assert_eq!(
        s.peers[1].port.policy.vlan,
        PortVlan::Access { vid: 1 },
        "a VLAN-aware switch puts a port that names no VLAN in VLAN 1"
    );
    let s = parse_text(EMULATED).unwrap();
    assert!(
        s.peers[0].port.policy.vlan == PortVlan::Transparent,
        "with no VLAN anywhere, the switch stays VLAN-unaware"
    );
}

#[test]
fn bad_vlan_membership_is_located() {
    let (line, col, msg, _) =
        only_error(&format!("{EMULATED}[[peers]]\nport = {{ vlan = 4095 }}\n"));
    assert_eq!((line, col), (4, 17));
    assert!(msg.contains("outside 1..4094"), "{msg}");
    let (_, _, msg, _) = only_error(&format!(
        "{EMULATED}[[peers]]\nport = {{ vlan = 3, trunk = [4] }}\n"
    ));
    assert!(msg.contains("not both"), "{msg}");
    let (_, _, msg, _) = only_error(&format!(
        "{EMULATED}[[peers]]\nport = {{ trunk = [4, 4] }}\n"
    ));
    assert!(msg.contains("listed twice"), "{msg}");
    let (_, _, msg, hint) = only_error(&format!("{EMULATED}[[peers]]\nport = {{ trunk = [] }}\n"));
    assert!(msg.contains("carries nothing"), "{msg}");
    assert!(hint.contains("native_vlan"), "{hint}");
    let (_, _, msg, _) = only_error(&format!(
        "{EMULATED}[[peers]]\nport = {{ native_vlan = 4 }}\n"
    ));
    assert!(msg.contains("only applies to a trunk"), "{msg}");
}

#[test]
fn port_security_and_limits() {
    let s = parse_text(&format!(
        "{EMULATED}[[parents]]\nport = {{ max_macs = 3, violation = \"restrict\", sticky = true, mac_limit = 5, outer_tags = \"drop\", static_macs = [\"e1\", \"02:00:00:00:aa:01\"] }}\n"
    ))
    .unwrap();
    let policy = &s.parents[0].port.policy;
    assert_eq!(
        policy.security,
        Some(PortSecurity {
            max_macs: 3,
            violation: Violation::Restrict,
            sticky: true
        })
    );
    assert_eq!(policy.mac_limit, Some(5));
    assert_eq!(policy.outer_tags, OuterTags::Drop);
    assert_eq!(
        policy.static_macs,
        [
            s.endpoint("e1").unwrap().mac,
            "02:00:00:00:aa:01".parse().unwrap()
        ]
    );
    let s = parse_text(&format!(
        "{EMULATED}[[parents]]\nport = {{ max_macs = 1 }}\n"
    ))
    .unwrap();
    assert_eq!(
        s.parents[0].port.policy.security.unwrap().violation,
        Violation::Shutdown,
        "shutdown is the default violation mode, as on most switches"
    );
}

#[test]
fn bad_port_security_is_located() {
    let (_, _, msg, _) = only_error(&format!(
        "{EMULATED}[[parents]]\nport = {{ max_macs = 0 }}\n"
    ));
    assert!(msg.contains("refuse every source"), "{msg}");
    let (_, _, msg, hint) = only_error(&format!(
        "{EMULATED}[[parents]]\nport = {{ violation = \"protect\" }}\n"
    ));
    assert!(msg.contains("`max_macs` turns on"), "{msg}");
    assert!(hint.contains("max_macs = N"), "{hint}");
    let (_, _, msg, _) = only_error(&format!(
        "{EMULATED}[[parents]]\nport = {{ max_macs = 1, learning = false }}\n"
    ));
    assert!(msg.contains("learning = false"), "{msg}");
    let (_, _, msg, _) = only_error(&format!(
        "{EMULATED}[[parents]]\nport = {{ max_macs = 1, static_macs = [\"e1\", \"e2\"] }}\n"
    ));
    assert!(msg.contains("2 static MACs are more than the 1"), "{msg}");
    let (_, _, msg, _) = only_error(&format!(
        "{EMULATED}ageing_time = 0\n[[parents]]\nport = {{ max_macs = 1 }}\n"
    ));
    assert!(msg.contains("ageing_time = 0"), "{msg}");
    let (line, col, msg, _) = only_error(&format!(
        "{EMULATED}[[parents]]\nport = {{ static_macs = [\"peer\"] }}\n[[peers]]\nport = {{ static_macs = [\"peer\"] }}\n"
    ));
    assert_eq!((line, col), (6, 25));
    assert!(msg.contains("already static on port p0"), "{msg}");
    let (_, _, msg, _) = only_error(&format!(
        "{EMULATED}[[parents]]\nport = {{ static_macs = [\"nobody\"] }}\n"
    ));
    assert!(msg.contains("neither a MAC nor a node name"), "{msg}");
}

#[test]
fn tagged_frame_networks_sit_on_the_untagged_parent() {
    let s = parse_text("[[networks]]\nvlan = 10\ntagged_frames = true\n").unwrap();
    let n = &s.networks[0];
    assert_eq!(
        (n.vlan, n.frame_vlan, n.link.as_str()),
        (None, Some(10), "eth0")
    );
    assert_eq!(s.frame_vlan("e1"), Some(10));
    assert_eq!(s.frame_vlan("peer"), Some(10));
    assert_eq!(s.frame_vlan("host:eth0"), None);
    let s = parse_text("[[networks]]\nvlan = 10\n").unwrap();
    assert_eq!((s.networks[0].vlan, s.frame_vlan("e1")), (Some(10), None));
    let (line, col, msg, hint) = only_error("[[networks]]\ntagged_frames = true\n");
    assert_eq!((line, col), (2, 17));
    assert!(msg.contains("needs the network's `vlan`"), "{msg}");
    assert!(hint.contains("vlan = ID"), "{hint}");
}

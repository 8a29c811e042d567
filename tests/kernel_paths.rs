//! The paths a kernel may lack, checked for real where it has them and refused (exit class 3,
//! naming the feature, nothing left) where it does not: Docker's 802.1Q trunk (`PARENT.VID`
//! sub-interfaces, 8021q), an internal network on a dummy parent, and the Linux bridge as a
//! VLAN-aware switch (`vlan_filtering`), held to the model and to the emulated switch on the
//! same scenarios. Every check counts at the receiver with tcpdump, or reads the kernel's state
//! with `ip` and `bridge`. The kernel matrix (scripts/test) runs this on Debian's 6.1 and 6.12,
//! which have every feature; on a kernel without one, its refusal is what is tested.

mod exhaust_support;
mod lab_support;

use std::path::Path;
use std::process::Command;

use exhaust_support::Tcpdump;
use lab_support::*;
use mvlab::delivery::Addressing;
use mvlab::diag::Source;
use mvlab::diff::{self, Compared};
use mvlab::lab::LabOptions;
use mvlab::measure::matrix;
use mvlab::run::{self, RunOptions};
use mvlab::scenario::{self, Scenario, TestKind};
use mvlab::stop::Stop;

/// tcpdump's reading of a capture file with link-level headers (`-e`), one line a frame.
fn frames(file: &Path) -> Vec<String> {
    let out = run(Command::new("tcpdump").args(["-e", "-nn", "-r"]).arg(file));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

/// The frames of `lines` whose source MAC is `mac` (tcpdump -e prints `SRC > DST`).
fn from_mac<'a>(lines: &'a [String], mac: &str) -> Vec<&'a String> {
    lines
        .iter()
        .filter(|l| l.split_whitespace().nth(1) == Some(mac))
        .collect()
}

#[test]
fn the_trunk_carries_each_vlan_tagged_and_keeps_them_apart() {
    let s = load("vlan-trunk");
    if refused_here(&s, "trunk") {
        return;
    }
    let lab = up(&s, "trunk");
    let dir = scratch_dir("trunk");
    let mac = |node: &str| {
        s.endpoint(node)
            .map(|e| e.mac)
            .unwrap_or_else(|| s.peer(node).unwrap().mac)
            .to_string()
    };
    let trunk = Tcpdump::start(
        &netns(lab.name(), "switch"),
        "p0",
        "arp or icmp",
        &dir.join("trunk.pcap"),
    );
    let peer10 = Tcpdump::start(
        &netns(lab.name(), "peer10"),
        "eth0.10",
        "arp or icmp",
        &dir.join("peer10.pcap"),
    );
    let peer20 = Tcpdump::start(
        &netns(lab.name(), "peer20"),
        "eth0.20",
        "arp or icmp",
        &dir.join("peer20.pcap"),
    );
    let ip = |peer: &str| s.peer(peer).unwrap().ipv4.to_string();
    assert!(
        ping(&netns(lab.name(), "a1"), &ip("peer10")),
        "a1 -> peer10"
    );
    assert!(
        ping(&netns(lab.name(), "b1"), &ip("peer20")),
        "b1 -> peer20"
    );
    // The other VLAN's peer address is unreachable: the ARP request is flooded, tagged 10, to
    // every port, and peer20's sub-interface of VLAN 20 never takes it.
    assert!(
        !ping(&netns(lab.name(), "a2"), &ip("peer20")),
        "a2 -> peer20"
    );
    trunk.stop();
    peer10.stop();
    peer20.stop();
    let trunk = frames(&dir.join("trunk.pcap"));
    for (node, vid) in [("a1", 10), ("a2", 10), ("b1", 20)] {
        let seen = from_mac(&trunk, &mac(node));
        assert!(
            !seen.is_empty(),
            "{node}'s frames cross the trunk: {trunk:?}"
        );
        let tag = format!("vlan {vid},");
        assert!(
            seen.iter().all(|l| l.contains(&tag)),
            "every frame of {node} carries VLAN {vid} on the trunk: {seen:?}"
        );
    }
    let at10 = frames(&dir.join("peer10.pcap"));
    let at20 = frames(&dir.join("peer20.pcap"));
    assert!(!from_mac(&at10, &mac("a1")).is_empty(), "{at10:?}");
    assert!(!from_mac(&at20, &mac("b1")).is_empty(), "{at20:?}");
    for node in ["a1", "a2"] {
        assert!(
            from_mac(&at20, &mac(node)).is_empty(),
            "nothing of VLAN 10 reaches VLAN 20's sub-interface: {at20:?}"
        );
    }
    assert!(from_mac(&at10, &mac("b1")).is_empty(), "{at10:?}");
    let name = lab.name().to_string();
    lab.down().unwrap();
    assert_gone(&name);
}

#[test]
fn an_internal_network_on_a_dummy_reaches_its_siblings_and_nothing_else() {
    let s = load("dummy-parent");
    if refused_here(&s, "dummy") {
        return;
    }
    let lab = up(&s, "dummy");
    let host = netns(lab.name(), "host");
    let parent = &s.parents[0].name;
    assert_eq!(link(&host, parent)["linkinfo"]["info_kind"], "dummy");
    for e in &s.endpoints {
        let l = link(&netns(lab.name(), &e.name), "eth0");
        assert_eq!(l["linkinfo"]["info_kind"], "macvlan");
        assert_eq!(l["linkinfo"]["info_data"]["mode"], "bridge");
    }
    let dir = scratch_dir("dummy");
    let witness = Tcpdump::start(&host, parent, "icmp", &dir.join("dummy.pcap"));
    let e1 = netns(lab.name(), "e1");
    for to in ["e2", "e3"] {
        assert!(
            ping(&e1, &s.endpoint(to).unwrap().ipv4.unwrap().to_string()),
            "e1 -> {to}"
        );
    }
    witness.stop();
    // A packet socket on the dummy sees the siblings' traffic (dev_forward_skb hands each
    // frame to the lower device's taps first), though nothing of it leaves the machine.
    let seen = frames(&dir.join("dummy.pcap"));
    let e1_mac = s.endpoint("e1").unwrap().mac.to_string();
    assert!(
        from_mac(&seen, &e1_mac).len() >= 2,
        "the dummy's tap saw e1's echo requests: {seen:?}"
    );
    let name = lab.name().to_string();
    lab.down().unwrap();
    assert_gone(&name);
}

/// `bridge -j vlan show` in `ns`: each port's VLANs with their flags.
fn bridge_vlans(ns: &str) -> serde_json::Value {
    let out = run(Command::new("bridge").args(["-n", ns, "-j", "vlan", "show"]));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The VLANs `bridge vlan show` gives `port`: (VID, PVID and egress untagged).
fn port_vlans(vlans: &serde_json::Value, port: &str) -> Vec<(u64, bool)> {
    let entry = vlans
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["ifname"] == port)
        .unwrap_or_else(|| panic!("no port {port} in {vlans}"));
    let mut out: Vec<(u64, bool)> = entry["vlans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            let flags: Vec<&str> = v["flags"]
                .as_array()
                .map(|f| f.iter().filter_map(|x| x.as_str()).collect())
                .unwrap_or_default();
            (
                v["vlan"].as_u64().unwrap(),
                flags.contains(&"PVID") && flags.contains(&"Egress Untagged"),
            )
        })
        .collect();
    out.sort_unstable();
    out
}

#[test]
fn a_vlan_filtering_bridge_is_the_switch_the_ports_describe_and_the_model_predicts() {
    let s = load("bridge-vlan-trunk");
    if refused_here(&s, "brvlan") {
        return;
    }
    let lab = up(&s, "brvlan");
    let sw = netns(lab.name(), "switch");
    assert_eq!(
        link(&sw, "br0")["linkinfo"]["info_data"]["vlan_filtering"],
        1
    );
    let vlans = bridge_vlans(&sw);
    assert_eq!(port_vlans(&vlans, "p0"), [(10, false), (20, false)]);
    assert_eq!(port_vlans(&vlans, "p1"), [(10, true)]);
    assert_eq!(port_vlans(&vlans, "p2"), [(20, true)]);
    // The matrix, with tcpdump at both access peers as the witness of what arrived there.
    let dir = scratch_dir("brvlan");
    let desks: Vec<(&str, Tcpdump)> = ["desk10", "desk20"]
        .into_iter()
        .map(|d| {
            let file = dir.join(format!("{d}.pcap"));
            (
                d,
                Tcpdump::start(&netns(lab.name(), d), "eth0", "ether proto 0x88b5", &file),
            )
        })
        .collect();
    let stop = Stop::new();
    let TestKind::Matrix(test) = &s.tests[0].kind else {
        unreachable!("the scenario's test is a matrix")
    };
    let mut measured = matrix::measure(&bench(&lab, &s, &stop), "matrix", test).unwrap();
    let witnessed: Vec<(&str, u64)> = desks
        .into_iter()
        .map(|(d, t)| (d, t.stop().dropped_by_kernel))
        .collect();
    let predicted = mvlab::model::predict_matrix(&s, "matrix", test).unwrap();
    let disagreements = failed(mvlab::verdict::conform(&s, &mut measured, &predicted));
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
    for (desk, dropped) in witnessed {
        let seen = frames(&dir.join(format!("{desk}.pcap")));
        assert_eq!(dropped, 0, "the witness at {desk} saw everything");
        assert!(
            seen.iter().all(|l| !l.contains("vlan ")),
            "an access port sends untagged: {seen:?}"
        );
        for from in measured.senders.iter().filter(|f| *f != desk) {
            let mac = s
                .endpoint(from)
                .map(|e| e.mac)
                .or_else(|| s.peer(from).map(|p| p.mac))
                .unwrap()
                .to_string();
            let cells = || {
                measured
                    .cells
                    .iter()
                    .filter(|c| &c.from == from && c.to == desk)
            };
            let counted: u64 = cells().map(|c| c.received + c.leaked).sum();
            // Each pass's priming frame (to a MAC nobody has) floods as unknown unicast does.
            let primed =
                cells().any(|c| c.class.addressing == Addressing::UnknownUnicast && c.received > 0);
            let passes = measured.spec.promiscuous.len() as u64;
            let expected = counted + if primed { passes } else { 0 };
            let seen_from = from_mac(&seen, &mac).len() as u64;
            if measured.passes_repeated == 0 {
                assert_eq!(
                    seen_from, expected,
                    "{from} -> {desk}: the matrix and tcpdump"
                );
            } else {
                assert!(
                    seen_from >= expected,
                    "{from} -> {desk}: a repeated pass sends more"
                );
            }
        }
    }
    let name = lab.name().to_string();
    lab.down().unwrap();
    assert_gone(&name);
}

/// `file` of scenarios/ with its emulated switch swapped for a Linux bridge.
fn on_a_bridge(file: &str) -> Scenario {
    let path = scenario_path(file);
    let text = std::fs::read_to_string(&path).unwrap();
    let swapped = text.replace("kind = \"emulated\"", "kind = \"bridge\"");
    assert_ne!(text, swapped, "{file} has an emulated switch");
    scenario::parse(Source::new(format!("{file}-bridge.toml"), swapped))
        .unwrap_or_else(|d| panic!("{file} on a bridge: {d}"))
}

fn judged(s: &Scenario, tag: &str) -> mvlab::run::RunResult {
    let stop = Stop::new();
    let finished = run::run(
        s,
        RunOptions {
            lab: LabOptions {
                name: Some(unique(tag)),
                ..LabOptions::default()
            },
            keep: false,
            no_model: false,
            max_pps: None,
            pcap_dir: None,
            stop: &stop,
            progress: &|_: &str| {},
        },
    );
    assert!(finished.ended.is_ok(), "{:?}", finished.ended);
    let result = finished
        .measured
        .unwrap_or_else(|e| panic!("{tag}: {}", e.message));
    let failed: Vec<_> = result.expectations.iter().filter(|e| !e.passed).collect();
    assert!(failed.is_empty(), "{tag}: {failed:#?}");
    result
}

/// The emulated switch's VLAN scenarios on a VLAN-filtering bridge: both held to their claims
/// and to the model, and every cell the same on both.
fn emulated_and_bridge_agree(file: &str) {
    let bridge = on_a_bridge(file);
    if refused_here(&bridge, "agree") {
        return;
    }
    let emulated = judged(
        &scenario::load(&scenario_path(file)).unwrap().scenario,
        "emu",
    );
    let linux = judged(&bridge, "brv");
    let c = diff::compare(
        &[
            Compared {
                label: "emulated".into(),
                result: &emulated,
            },
            Compared {
                label: "bridge".into(),
                result: &linux,
            },
        ],
        diff::DEFAULT_TOLERANCE_PCT,
    );
    assert!(c.cells_compared > 0);
    assert!(!c.deliveries_differ(), "{file}: {:#?}", c.cells);
}

#[test]
fn the_emulated_switchs_vlans_scenario_delivers_the_same_on_a_vlan_filtering_bridge() {
    emulated_and_bridge_agree("switch-vlans");
}

#[test]
fn the_emulated_switchs_native_vlan_scenario_delivers_the_same_on_a_vlan_filtering_bridge() {
    emulated_and_bridge_agree("switch-native-vlan");
}

//! Unit tests of the model's rules on hand-built scenarios: one test per rule, each checked
//! through the predicted matrix or a trace, the way a user meets it.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};

use ipnetwork::{Ipv4Network, Ipv6Network};

use super::*;
use crate::diag::Source;
use crate::scenario::{
    Bridge, Endpoint, Host, HostAddress, Ipam, Network, Parent, ParentKind, Peer, Port, Rules,
    Shim, Switch,
};

pub(crate) fn port(name: &str) -> Port {
    Port {
        name: name.into(),
        ..Port::default()
    }
}

fn mac(n: u32) -> MacAddr {
    let b = n.to_be_bytes();
    MacAddr([0x02, 0x00, b[0], b[1], b[2], b[3]])
}

/// A lab with one veth parent `eth0` on switch port p0 of a Linux bridge, and nothing else.
pub(crate) fn lab() -> Scenario {
    Scenario {
        source: Source::new("test.toml", ""),
        name: "test".into(),
        description: String::new(),
        seed: 1,
        switch: Switch::Bridge(Bridge {
            name: "br0".into(),
            ageing_time: 300,
            fdb_max_learned: None,
            multicast_snooping: true,
            span: 0..0,
            fdb_max_learned_span: None,
            vlan_filtering: false,
            vlan_span: None,
        }),
        parents: vec![Parent {
            name: "eth0".into(),
            kind: ParentKind::Veth,
            port: port("p0"),
            mtu: 1500,
            mac: mac(0xff00),
            span: 0..0,
            kind_span: 0..0,
        }],
        networks: Vec::new(),
        endpoints: Vec::new(),
        peers: Vec::new(),
        host: Host {
            addresses: Vec::new(),
            shim: None,
        },
        tests: Vec::new(),
        rules: Rules::Mvlab,
        address_map: Default::default(),
    }
}

/// Adds a network of `count` endpoints in `mode` on parent 0; returns its index.
pub(crate) fn network(s: &mut Scenario, mode: MacvlanMode, count: usize) -> usize {
    let index = s.networks.len();
    let subnet = Ipv4Network::new(Ipv4Addr::new(198, 18, index as u8, 0), 24).unwrap();
    s.networks.push(Network {
        name: format!("net{index}"),
        parent: 0,
        mode,
        nopromisc: false,
        nodst: false,
        source_macs: Vec::new(),
        vlan: None,
        frame_vlan: None,
        link: "eth0".into(),
        bcqueuelen: None,
        bc_cutoff: None,
        ipv4: Ipam {
            subnet,
            gateway: Some(Ipv4Addr::new(198, 18, index as u8, 1)),
            ip_range: subnet,
            aux_addresses: BTreeMap::new(),
            range_start: None,
            range_end: None,
        },
        ipv6: None,
        more_ipv4: Vec::new(),
        more_ipv6: Vec::new(),
        internal: false,
        docker: None,
        span: 0..0,
        mode_span: 0..0,
        vlan_span: None,
        bc_cutoff_span: None,
    });
    for _ in 0..count {
        endpoint(s, index);
    }
    index
}

pub(crate) fn endpoint(s: &mut Scenario, network: usize) -> usize {
    let n = s.endpoints.len() + 1;
    s.endpoints.push(Endpoint {
        name: format!("e{n}"),
        network,
        interface: "eth0".into(),
        mac: mac(n as u32),
        ipv4: Some(Ipv4Addr::new(198, 18, network as u8, 10 + n as u8)),
        ipv6: None,
        gateway4: s.networks[network].ipv4.gateway,
        gateway6: None,
        source_macs: s.networks[network].source_macs.clone(),
        docker: None,
        span: 0..0,
    });
    n - 1
}

pub(crate) fn enable_ipv6(s: &mut Scenario, network: usize) {
    let subnet =
        Ipv6Network::new(Ipv6Addr::new(0x2001, 2, 0, network as u16, 0, 0, 0, 0), 64).unwrap();
    s.networks[network].ipv6 = Some(Ipam {
        subnet,
        gateway: Some(Ipv6Addr::new(0x2001, 2, 0, network as u16, 0, 0, 0, 1)),
        ip_range: subnet,
        aux_addresses: BTreeMap::new(),
        range_start: None,
        range_end: None,
    });
    for (i, e) in s.endpoints.iter_mut().enumerate() {
        if e.network == network {
            e.ipv6 = Some(Ipv6Addr::new(
                0x2001,
                2,
                0,
                network as u16,
                0,
                0,
                0,
                0x10 + i as u16,
            ));
        }
    }
}

pub(crate) fn peer(s: &mut Scenario) -> usize {
    let i = s.peers.len();
    s.peers.push(Peer {
        name: if i == 0 {
            "peer".into()
        } else {
            format!("peer{}", i + 1)
        },
        network: 0,
        interface: "eth0".into(),
        mac: mac(0xee00 + i as u32),
        ipv4: Ipv4Addr::new(198, 18, 0, 254 - i as u8),
        ipv6: None,
        existing: None,
        port: port(&format!("p{}", s.parents.len() + i)),
        span: 0..0,
    });
    i
}

pub(crate) fn hairpin(s: &mut Scenario, on: bool) {
    s.parents[0].port.hairpin = on;
}

pub(crate) fn shim(s: &mut Scenario, network: usize) {
    s.host.shim = Some(Shim {
        network,
        interface: "shim0".into(),
        mac: mac(0xaa00),
        ipv4: Ipv4Addr::new(198, 18, network as u8, 200),
        ipv6: None,
        span: 0..0,
    });
}

pub(crate) fn host_address(s: &mut Scenario) {
    s.host.addresses.push(HostAddress {
        network: 0,
        ipv4: Some(Ipv4Addr::new(198, 18, 0, 2)),
        ipv6: None,
    });
}

fn spec(classes: &[&str], promiscuous: bool) -> MatrixSpec {
    MatrixSpec {
        frames: 1,
        classes: classes.iter().map(|c| c.parse().unwrap()).collect(),
        vlan: 100,
        promiscuous: vec![promiscuous],
    }
}

/// (received, leaked) of one cell.
fn cell(cells: &[Cell], from: &str, to: &str, class: &str) -> (u64, u64) {
    let class: FrameClass = class.parse().unwrap();
    let c = cells
        .iter()
        .find(|c| c.from == from && c.to == to && c.class == class)
        .unwrap_or_else(|| panic!("no cell {from} -> {to} {class}"));
    (c.received, c.leaked)
}

fn matrix(s: &Scenario, classes: &[&str], promiscuous: bool) -> Vec<Cell> {
    predict(s, &spec(classes, promiscuous)).unwrap()
}

fn two(mode: MacvlanMode, hairpin_on: bool) -> Scenario {
    let mut s = lab();
    network(&mut s, mode, 2);
    peer(&mut s);
    hairpin(&mut s, hairpin_on);
    s
}

const ALL: &[&str] = &[
    "unicast",
    "unknown-unicast",
    "broadcast",
    "multicast4",
    "multicast6",
];

#[test]
fn bridge_mode_unicast_to_a_sibling_stays_local_but_the_parent_sees_it() {
    let m = matrix(&two(MacvlanMode::Bridge, false), ALL, false);
    assert_eq!(cell(&m, "e1", "e2", "unicast"), (1, 0));
    // dev_forward_skb(lowerdev): the parent's socket sees the sibling's frame (a leak at host).
    assert_eq!(cell(&m, "e1", "host:eth0", "unicast"), (0, 1));
    // The peer only sees e1's frames to itself and to the host (flooded: the host never sent).
    assert_eq!(cell(&m, "e1", "peer", "unicast"), (1, 1));
    let t = trace(
        &two(MacvlanMode::Bridge, false),
        &TraceRequest {
            from: "e1".into(),
            to: "e2".into(),
            class: "unicast".parse().unwrap(),
            promiscuous: false,
            vlan: 100,
        },
    )
    .unwrap();
    assert!(
        t.hops[0]
            .text
            .contains("destination is a sibling in bridge mode"),
        "{:?}",
        t.hops
    );
    assert!(!t.hops.iter().any(|h| h.device.starts_with("switch")));
}

#[test]
fn vepa_needs_hairpin_for_siblings() {
    let off = matrix(&two(MacvlanMode::Vepa, false), ALL, false);
    assert_eq!(cell(&off, "e1", "e2", "unicast"), (0, 0));
    assert_eq!(cell(&off, "e1", "e2", "broadcast"), (0, 0));
    assert_eq!(cell(&off, "e1", "peer", "unicast"), (1, 1));
    let on = matrix(&two(MacvlanMode::Vepa, true), ALL, false);
    assert_eq!(cell(&on, "e1", "e2", "unicast"), (1, 0));
    assert_eq!(cell(&on, "e1", "e2", "broadcast"), (1, 0));
    // The reflected frames pass the parent: the host sees them.
    assert_eq!(cell(&on, "e1", "host:eth0", "broadcast"), (1, 0));
    assert_eq!(cell(&off, "e1", "host:eth0", "broadcast"), (0, 0));
}

#[test]
fn private_mode_isolates_group_frames_even_with_hairpin_but_not_raw_unicast() {
    let on = matrix(&two(MacvlanMode::Private, true), ALL, false);
    assert_eq!(cell(&on, "e1", "e2", "broadcast"), (0, 0));
    assert_eq!(cell(&on, "e1", "peer", "broadcast"), (1, 0));
    // Unicast demux does not look at the mode: a reflected frame to e2's MAC reaches e2.
    assert_eq!(cell(&on, "e1", "e2", "unicast"), (1, 0));
    let off = matrix(&two(MacvlanMode::Private, false), ALL, false);
    assert_eq!(cell(&off, "e1", "e2", "unicast"), (0, 0));
}

#[test]
fn a_reflected_private_broadcast_goes_back_to_its_sender() {
    let t = trace(
        &two(MacvlanMode::Private, true),
        &TraceRequest {
            from: "e1".into(),
            to: "e2".into(),
            class: "broadcast".parse().unwrap(),
            promiscuous: false,
            vlan: 100,
        },
    )
    .unwrap();
    assert_eq!(t.received, 0);
    assert!(
        t.copies.iter().any(|c| c.node == "e1" && c.copies == 1),
        "{:?}",
        t.copies
    );
    assert!(
        t.hops
            .iter()
            .any(|h| h.text.contains("forward to original port"))
    );
}

#[test]
fn bridge_mode_group_frames_are_copied_locally_and_sent_out() {
    let off = matrix(&two(MacvlanMode::Bridge, false), ALL, false);
    assert_eq!(cell(&off, "e1", "e2", "broadcast"), (1, 0));
    assert_eq!(cell(&off, "e1", "peer", "broadcast"), (1, 0));
    // The host only sees what comes back in: without hairpin nothing.
    assert_eq!(cell(&off, "e1", "host:eth0", "broadcast"), (0, 0));
    // With hairpin the reflected copy goes to vepa devices only: e2 still gets one copy.
    let on = matrix(&two(MacvlanMode::Bridge, true), ALL, false);
    assert_eq!(cell(&on, "e1", "e2", "broadcast"), (1, 0));
    assert_eq!(cell(&on, "e1", "host:eth0", "broadcast"), (1, 0));
}

#[test]
fn unjoined_multicast_needs_promiscuity_but_all_nodes_is_always_joined() {
    let s = two(MacvlanMode::Bridge, false);
    let plain = matrix(&s, ALL, false);
    assert_eq!(cell(&plain, "e1", "e2", "multicast4"), (0, 0));
    // IPv6 is off in net0, yet the kernel joins ff02::1 on every interface.
    assert_eq!(cell(&plain, "e1", "e2", "multicast6"), (1, 0));
    assert_eq!(cell(&plain, "e1", "peer", "multicast4"), (1, 0));
    let promisc = matrix(&s, ALL, true);
    assert_eq!(cell(&promisc, "e1", "e2", "multicast4"), (1, 0));
    assert_eq!(cell(&promisc, "peer", "e2", "multicast6"), (1, 0));
    let mut v6 = two(MacvlanMode::Bridge, false);
    enable_ipv6(&mut v6, 0);
    let m = matrix(&v6, ALL, false);
    assert_eq!(cell(&m, "e1", "e2", "multicast6"), (1, 0));
    assert_eq!(cell(&m, "peer", "e2", "multicast6"), (1, 0));
    assert_eq!(cell(&m, "peer", "e2", "multicast4"), (0, 0));
}

#[test]
fn a_peer_sees_every_frame_the_switch_sends_it() {
    let m = matrix(&two(MacvlanMode::Vepa, false), ALL, false);
    // Unknown unicast is flooded to the peer's port; the veth hands it over as OTHERHOST.
    assert_eq!(cell(&m, "e1", "peer", "unknown-unicast"), (1, 0));
    // e1 -> e2 is known on p0 and p0 has no hairpin: the peer never sees it.
    assert_eq!(cell(&m, "e1", "peer", "unicast"), (1, 1));
}

#[test]
fn the_labs_own_ipv6_frames_teach_the_switch_the_hosts_parent() {
    // IPv4 only: the host's parent never sends, so e1's frames to it are flooded to the peer.
    let v4 = matrix(&two(MacvlanMode::Vepa, false), &["unicast"], false);
    assert_eq!(cell(&v4, "e1", "peer", "unicast"), (1, 1));
    // With IPv6 the parent's own DAD / MLD frames taught the bridge its MAC on p0, which has no
    // hairpin: e1's frames to it are dropped there.
    for mode in [
        MacvlanMode::Bridge,
        MacvlanMode::Vepa,
        MacvlanMode::Private,
        MacvlanMode::Source,
    ] {
        let mut s = two(mode, false);
        enable_ipv6(&mut s, 0);
        let m = matrix(&s, &["unicast"], false);
        assert_eq!(cell(&m, "e1", "peer", "unicast"), (1, 0), "{mode}");
    }
}

#[test]
fn an_endpoint_that_keeps_ipv6_is_known_before_it_sends() {
    // Only peer2 sends: the bridge knows the others only from frames of their own.
    let mut s = two(MacvlanMode::Bridge, false);
    peer(&mut s);
    let test = MatrixTest {
        spec: spec(&["unicast"], false),
        senders: vec!["peer2".into()],
        receivers: Vec::new(),
    };
    let at_peer = |s: &Scenario| {
        let m = predict_matrix(s, "m", &test).unwrap();
        cell(&m.cells, "peer2", "peer", "unicast")
    };
    // mvlab's rules switch IPv6 off without an IPv6 subnet: the frames to host:eth0, e1 and e2
    // are flooded, the peer sees them.
    assert_eq!(at_peer(&s), (1, 3));
    // CNI's plugin leaves an IPv4-only endpoint's IPv6 on: e1 and e2 are known on p0.
    s.rules = Rules::Cni;
    assert_eq!(at_peer(&s), (1, 1));
    // An IPv6 subnet turns IPv6 on everywhere, the host's parent and the peers included.
    s.rules = Rules::Mvlab;
    enable_ipv6(&mut s, 0);
    assert_eq!(at_peer(&s), (1, 0));
}

#[test]
fn a_limit_that_cannot_take_every_ipv6_talker_is_noted() {
    let noted = |limit: u32| {
        let mut s = two(MacvlanMode::Bridge, false);
        enable_ipv6(&mut s, 0);
        if let Switch::Bridge(b) = &mut s.switch {
            b.fdb_max_learned = Some(limit);
        }
        simulate(&s, &default_spec())
            .unwrap()
            .notes
            .iter()
            .any(|n| n.contains("4 lab interfaces send frames of their own"))
    };
    // The host's parent, e1, e2 and the peer: a table of 3 takes the first three to speak.
    assert!(noted(3));
    assert!(!noted(4));
}

#[test]
fn passthru_takes_all_unicast_and_shares_the_parent_mac() {
    let mut s = lab();
    network(&mut s, MacvlanMode::Passthru, 1);
    peer(&mut s);
    let m = matrix(&s, ALL, false);
    // e1 has the host's MAC: the peer's frames to the host reach e1 too (a leak).
    assert_eq!(cell(&m, "peer", "e1", "unicast"), (1, 1));
    assert_eq!(cell(&m, "peer", "e1", "unknown-unicast"), (1, 0));
    assert_eq!(cell(&m, "peer", "e1", "multicast4"), (0, 0));
    let fabric = Fabric::compile(&s).unwrap();
    assert_eq!(
        fabric.nodes[fabric.node("e1").unwrap()].mac,
        s.parents[0].mac
    );
}

#[test]
fn two_passthru_devices_on_one_parent_are_refused() {
    let mut s = lab();
    network(&mut s, MacvlanMode::Passthru, 2);
    let err = predict(&s, &default_spec()).unwrap_err();
    assert!(err.to_string().contains("passthru"), "{err}");
}

#[test]
fn source_mode_receives_by_source_mac_and_nodst_consumes() {
    let mut s = lab();
    let bridge = network(&mut s, MacvlanMode::Bridge, 2);
    let src = network(&mut s, MacvlanMode::Source, 0);
    s.networks[src].source_macs = vec![s.endpoints[0].mac];
    let watcher = endpoint(&mut s, src);
    peer(&mut s);
    hairpin(&mut s, false);
    let m = matrix(&s, ALL, false);
    // e3 listens to e1: it gets e1's frames to e2 through dev_forward_skb, whatever the destination.
    assert_eq!(cell(&m, "e1", "e3", "unknown-unicast"), (0, 0));
    assert_eq!(cell(&m, "e2", "e3", "broadcast"), (0, 0));
    let (_, leaked) = cell(&m, "e1", "e3", "unicast");
    assert_eq!(leaked, 1, "e1 -> e2 crosses the parent's receive path");
    assert_eq!(bridge, 0);
    // Unicast to a source-mode device's own MAC is not delivered by destination.
    assert_eq!(cell(&m, "peer", "e3", "unicast"), (0, 0));
    s.networks[src].nodst = true;
    let nodst = matrix(&s, ALL, false);
    // nodst: e1's frame to e2 is consumed by e3, so e2 no longer gets it.
    assert_eq!(cell(&nodst, "e1", "e2", "unicast"), (0, 0));
    assert_eq!(cell(&nodst, "e1", "e3", "unicast").1, 1);
    assert_eq!(watcher, 2);
}

#[test]
fn flood_flags_and_hairpin_gate_the_switch() {
    let mut s = two(MacvlanMode::Vepa, true);
    s.peers[0].port.broadcast_flood = false;
    s.peers[0].port.unicast_flood = false;
    let m = matrix(&s, ALL, false);
    assert_eq!(cell(&m, "e1", "peer", "broadcast"), (0, 0));
    assert_eq!(cell(&m, "e1", "peer", "unknown-unicast"), (0, 0));
    assert_eq!(cell(&m, "e1", "peer", "multicast4"), (1, 0));
    let t = trace(
        &two(MacvlanMode::Vepa, false),
        &TraceRequest {
            from: "e1".into(),
            to: "e2".into(),
            class: "unicast".parse().unwrap(),
            promiscuous: false,
            vlan: 100,
        },
    )
    .unwrap();
    assert!(
        t.hops.iter().any(|h| h
            .text
            .contains("switch port p0 hairpin off: not sent back on the port it came from")),
        "{:#?}",
        t.hops
    );
}

#[test]
fn fdb_max_learned_floods_frames_to_the_unlearned() {
    let mut s = two(MacvlanMode::Vepa, false);
    endpoint(&mut s, 0);
    if let Switch::Bridge(b) = &mut s.switch {
        b.fdb_max_learned = Some(2);
    }
    let sim = simulate(&s, &spec(ALL, false)).unwrap();
    let learned: Vec<_> = sim.fdb.iter().map(|e| e.station.clone().unwrap()).collect();
    assert_eq!(learned, ["e1", "e2"]);
    assert_eq!(
        sim.fdb_not_learned.len(),
        2,
        "e3 and the peer are refused: {:?}",
        sim.fdb_not_learned
    );
    let m = matrix(&s, ALL, false);
    // The peer is not learned: e1's unicast to it is flooded, and with no hairpin never returns.
    assert_eq!(cell(&m, "e1", "peer", "unicast"), (1, 2));
    // e3 is not learned: the peer's frame to it is flooded everywhere, e3 still gets it.
    assert_eq!(cell(&m, "peer", "e3", "unicast"), (1, 0));
}

#[test]
fn ageing_time_zero_means_the_bridge_never_learns() {
    let mut s = two(MacvlanMode::Vepa, true);
    if let Switch::Bridge(b) = &mut s.switch {
        b.ageing_time = 0;
    }
    let sim = simulate(&s, &spec(ALL, false)).unwrap();
    assert!(sim.fdb.is_empty());
    let m = matrix(&s, ALL, false);
    // Every unicast is flooded: the peer sees e1's frames to e2 too.
    assert_eq!(cell(&m, "e1", "peer", "unicast"), (1, 2));
}

#[test]
fn tagged_frames_follow_the_untagged_rules() {
    for mode in MacvlanMode::ALL
        .into_iter()
        .filter(|m| *m != MacvlanMode::Passthru)
    {
        for hp in [false, true] {
            let s = two(mode, hp);
            let untagged = matrix(&s, ALL, false);
            let tagged_classes: Vec<String> = ALL.iter().map(|c| format!("{c}-tagged")).collect();
            let names: Vec<&str> = tagged_classes.iter().map(String::as_str).collect();
            let tagged = matrix(&s, &names, false);
            for (u, t) in untagged.iter().zip(&tagged) {
                assert_eq!(
                    (u.received, u.leaked),
                    (t.received, t.leaked),
                    "{mode} hairpin {hp}: {u:?}"
                );
            }
        }
    }
}

#[test]
fn a_vlan_sub_interface_takes_frames_with_its_tag() {
    let mut s = lab();
    let net = network(&mut s, MacvlanMode::Bridge, 1);
    s.networks[net].vlan = Some(100);
    s.networks[net].link = "eth0.100".into();
    peer(&mut s);
    let m = matrix(&s, &["broadcast", "broadcast-tagged"], false);
    assert_eq!(cell(&m, "peer", "e1", "broadcast"), (0, 0));
    assert_eq!(cell(&m, "peer", "e1", "broadcast-tagged"), (1, 0));
    let t = trace(
        &s,
        &TraceRequest {
            from: "e1".into(),
            to: "peer".into(),
            class: "broadcast".parse().unwrap(),
            promiscuous: false,
            vlan: 100,
        },
    )
    .unwrap();
    assert!(
        t.hops
            .iter()
            .any(|h| h.kernel == "vlan_dev_hard_start_xmit")
    );
}

#[test]
fn a_bare_wire_delivers_to_the_peer_whatever_the_destination() {
    let mut s = two(MacvlanMode::Vepa, false);
    s.switch = Switch::None { span: 0..0 };
    let m = matrix(&s, ALL, false);
    assert_eq!(cell(&m, "e1", "peer", "unicast"), (1, 2));
    assert_eq!(cell(&m, "e1", "e2", "unicast"), (0, 0));
    assert_eq!(cell(&m, "peer", "e2", "unicast"), (1, 0));
}

#[test]
fn the_host_reaches_its_endpoints_only_through_a_shim_or_a_hairpin() {
    let mut s = two(MacvlanMode::Bridge, false);
    host_address(&mut s);
    let plain = simulate(&s, &default_spec()).unwrap();
    assert!(
        !plain.host_reach[0].direct.reachable,
        "{:?}",
        plain.host_reach
    );
    assert!(plain.host_reach[0].shim.is_none());
    shim(&mut s, 0);
    let with_shim = simulate(&s, &default_spec()).unwrap();
    let r = &with_shim.host_reach[0];
    assert!(r.shim.as_ref().unwrap().reachable, "{r:?}");
    hairpin(&mut s, true);
    let hp = simulate(&s, &default_spec()).unwrap();
    assert!(hp.host_reach[0].direct.reachable, "{:?}", hp.host_reach);
}

#[test]
fn reachability_follows_the_ping_table_of_this_kernel() {
    // KERNEL.md: e1 -> e2 by ping for each mode and hairpin setting.
    for (mode, hp, e2, peer_ok) in [
        (MacvlanMode::Bridge, false, true, true),
        (MacvlanMode::Bridge, true, true, true),
        (MacvlanMode::Vepa, false, false, true),
        (MacvlanMode::Vepa, true, true, true),
        (MacvlanMode::Private, false, false, true),
        (MacvlanMode::Private, true, false, true),
    ] {
        let sim = simulate(&two(mode, hp), &default_spec()).unwrap();
        let within = sim
            .reachability
            .iter()
            .find(|r| r.from == "e1, e2" && r.to == "e1, e2")
            .unwrap();
        assert_eq!(
            within.ipv4.reachable, e2,
            "{mode} hairpin {hp}: {}",
            within.ipv4.why
        );
        let to_peer = sim
            .reachability
            .iter()
            .find(|r| r.from == "e1, e2" && r.to == "peer")
            .unwrap();
        assert_eq!(
            to_peer.ipv4.reachable, peer_ok,
            "{mode} hairpin {hp}: {}",
            to_peer.ipv4.why
        );
    }
}

#[test]
fn promiscuity_of_the_parent_counts_each_cause() {
    let s = two(MacvlanMode::Bridge, false);
    let sim = simulate(&s, &default_spec()).unwrap();
    let parent = |pass: bool| {
        sim.promiscuity
            .iter()
            .find(|p| p.device == "host:eth0" && p.promiscuous_pass == pass)
            .unwrap()
            .promiscuity
    };
    // A veth has no unicast filter: the macvlans' addresses make it promiscuous (1); in the
    // promiscuous pass each promiscuous macvlan and the host's own socket add one.
    assert_eq!(parent(false), 1);
    assert_eq!(parent(true), 4);
}

#[test]
fn trace_refuses_unknown_nodes_and_a_frame_to_itself() {
    let s = two(MacvlanMode::Bridge, false);
    let req = |from: &str, to: &str| TraceRequest {
        from: from.into(),
        to: to.into(),
        class: "unicast".parse().unwrap(),
        promiscuous: false,
        vlan: 100,
    };
    assert!(matches!(
        trace(&s, &req("nope", "e1")),
        Err(ModelError::UnknownNode { .. })
    ));
    // The host's parent sends only when a matrix names it, and can be traced.
    assert!(trace(&s, &req("host:eth0", "e1")).is_ok());
    assert!(matches!(
        trace(&s, &req("e1", "e1")),
        Err(ModelError::SameNode(_))
    ));
}

#[test]
fn cells_come_in_the_documented_order() {
    let mut s = two(MacvlanMode::Bridge, false);
    shim(&mut s, 0);
    let m = predict(
        &s,
        &MatrixSpec {
            frames: 3,
            classes: vec!["broadcast".parse().unwrap(), "unicast".parse().unwrap()],
            vlan: 100,
            promiscuous: vec![true, false],
        },
    )
    .unwrap();
    let first: Vec<(&str, &str)> = m
        .iter()
        .take(4)
        .map(|c| (c.from.as_str(), c.to.as_str()))
        .collect();
    assert_eq!(
        first,
        [
            ("host:shim0", "host:eth0"),
            ("host:shim0", "e1"),
            ("host:shim0", "e2"),
            ("host:shim0", "peer")
        ]
    );
    assert!(m[0].promiscuous && m[0].class.to_string() == "broadcast");
    assert_eq!(m.len(), 2 * 2 * 4 * 4);
    assert!(m.iter().all(|c| c.sent == 3 && c.received % 3 == 0));
}

/// A frame's copies count every node of the lab, receivers of the test or not: a broadcast
/// from one of 50 bridge-mode siblings reaches the other 49 and the peer, while the test names
/// only two receivers; a unicast to a sibling makes its copy and the parent's.
#[test]
fn frame_copies_count_the_whole_lab() {
    let mut s = lab();
    network(&mut s, MacvlanMode::Bridge, 50);
    peer(&mut s);
    let test = MatrixTest {
        spec: spec(&["unicast", "broadcast"], false),
        senders: vec!["e1".into()],
        receivers: vec!["e2".into(), "peer".into()],
    };
    let copies = frame_copies(&s, &test, false).unwrap();
    let broadcast = "broadcast".parse().unwrap();
    let unicast = "unicast".parse().unwrap();
    assert_eq!(copies.get("e1", broadcast, "e2"), Some(50));
    assert_eq!(copies.get("e1", broadcast, "peer"), Some(50));
    assert_eq!(copies.get("e1", unicast, "e2"), Some(2));
    assert_eq!(copies.get("e1", unicast, "e3"), None);
    assert_eq!(copies.get("e2", unicast, "e1"), None);
}

#[test]
fn every_shipped_scenario_is_simulated_with_stations_as_nodes() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        let s = crate::scenario::load(&path)
            .unwrap_or_else(|d| panic!("{d}"))
            .scenario;
        let fabric = Fabric::compile(&s).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let stations: Vec<String> = s.stations().into_iter().map(|st| st.name).collect();
        let nodes: Vec<String> = fabric.nodes.iter().map(|n| n.name.clone()).collect();
        assert_eq!(nodes, stations, "{}", path.display());
        let sim = simulate(&s, &default_spec()).unwrap();
        assert!(!sim.matrix.is_empty(), "{}", path.display());
        seen += 1;
    }
    assert!(seen >= 5, "only {seen} scenarios under {}", dir.display());
}

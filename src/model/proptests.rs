//! Property tests of the model over random small labs: the grouped matrix says exactly what the
//! cell-by-cell matrix says, every copy has a hop that explains it, a sender gets its own frame
//! back only where the kernel does that, and the order endpoints are declared in does not matter.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::fabric::Fabric;
use super::matrix::{group_nodes, predict_cells, predict_groups, primed_fdb};
use super::tests::{enable_ipv6, endpoint, hairpin, lab, network, peer, shim};
use super::walk::{Action, Counts, Recorder, Walk};
use super::*;
use crate::scenario::Switch;

#[derive(Debug, Clone)]
struct Lab {
    networks: Vec<(MacvlanMode, usize)>,
    peers: usize,
    hairpin: bool,
    shim: bool,
    max_learned: Option<u32>,
    peer_flags: [bool; 4],
    source_watches: bool,
    ipv6: bool,
}

fn lab_strategy() -> impl Strategy<Value = Lab> {
    let mode = prop_oneof![
        Just(MacvlanMode::Bridge),
        Just(MacvlanMode::Vepa),
        Just(MacvlanMode::Private),
        Just(MacvlanMode::Source),
    ];
    (
        prop::collection::vec((mode, 1usize..4), 1..3),
        0usize..3,
        any::<bool>(),
        any::<bool>(),
        prop::option::of(1u32..5),
        any::<[bool; 4]>(),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(
                mut networks,
                peers,
                hairpin,
                shim,
                max_learned,
                peer_flags,
                source_watches,
                passthru,
                ipv6,
            )| {
                if passthru {
                    networks = vec![(MacvlanMode::Passthru, 1)];
                }
                Lab {
                    networks,
                    peers,
                    hairpin,
                    shim: shim && !passthru,
                    max_learned,
                    peer_flags,
                    source_watches,
                    ipv6,
                }
            },
        )
}

fn build(l: &Lab) -> Scenario {
    let mut s = lab();
    let first_is_source = l.networks[0].0 == MacvlanMode::Source;
    for &(mode, count) in &l.networks {
        let net = network(&mut s, mode, 0);
        if mode == MacvlanMode::Source && l.source_watches && !first_is_source {
            // Watch the first endpoint of the lab (never itself: see the self-copy oracle).
            s.networks[net].source_macs = vec![MacAddr([0x02, 0, 0, 0, 0, 1])];
        }
        for _ in 0..count {
            endpoint(&mut s, net);
        }
        if l.ipv6 {
            enable_ipv6(&mut s, net);
        }
    }
    for _ in 0..l.peers {
        let p = peer(&mut s);
        let f = &mut s.peers[p].port;
        [
            f.learning,
            f.unicast_flood,
            f.multicast_flood,
            f.broadcast_flood,
        ] = l.peer_flags;
    }
    hairpin(&mut s, l.hairpin);
    if l.shim {
        shim(&mut s, 0);
    }
    if let Switch::Bridge(b) = &mut s.switch {
        b.fdb_max_learned = l.max_learned;
    }
    s
}

type CellKey = (String, String, String, bool);

fn by_key(cells: &[Cell]) -> BTreeMap<CellKey, (u64, u64)> {
    cells
        .iter()
        .map(|c| {
            (
                (
                    c.from.clone(),
                    c.to.clone(),
                    c.class.to_string(),
                    c.promiscuous,
                ),
                (c.received, c.leaked),
            )
        })
        .collect()
}

/// The grouped matrix (one prediction per group of alike stations) equals every cell predicted
/// one by one, for every pair of members of each pair of groups.
fn grouped_matrix_agrees(s: &Scenario) -> Result<(), TestCaseError> {
    let fabric = Fabric::compile(s).unwrap();
    let senders = fabric.senders();
    let fdb = primed_fdb(&fabric, &senders);
    let names: Vec<String> = s.networks.iter().map(|n| n.name.clone()).collect();
    let groups = group_nodes(&fabric, &fdb, &names);
    let spec = default_spec();
    let all: Vec<usize> = (0..fabric.nodes.len()).collect();
    let cells = by_key(&predict_cells(&fabric, &spec, &senders, &all));
    for gc in predict_groups(&fabric, &fdb, &groups, &spec) {
        let a = groups.iter().find(|g| g.label == gc.from).unwrap();
        let b = groups.iter().find(|g| g.label == gc.to).unwrap();
        let mut pairs = 0;
        for from in &a.members {
            for to in b.members.iter().filter(|t| *t != from) {
                pairs += 1;
                let key = (
                    from.clone(),
                    to.clone(),
                    gc.class.to_string(),
                    gc.promiscuous,
                );
                prop_assert_eq!(cells[&key], (gc.received, gc.leaked), "{:?}", key);
            }
        }
        prop_assert_eq!(pairs, gc.pairs);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn grouped_matrix_agrees_with_every_cell(l in lab_strategy()) {
        grouped_matrix_agrees(&build(&l))?;
    }

    #[test]
    fn every_copy_has_a_hop_and_self_copies_follow_the_kernel(l in lab_strategy()) {
        let s = build(&l);
        let fabric = Fabric::compile(&s).unwrap();
        let spec = default_spec();
        for from in (0..fabric.nodes.len()).filter(|&n| fabric.is_sender(n)) {
            for to in (0..fabric.nodes.len()).filter(|&t| t != from) {
                for &class in &spec.classes {
                    for promiscuous in [false, true] {
                        let frame = Frame::of_class(fabric.nodes[from].mac, class, fabric.nodes[to].mac, spec.vlan);
                        let mut recorder = Recorder::default();
                        let mut counts = Counts::new(fabric.nodes.len());
                        let mut fdb = primed_fdb(&fabric, &fabric.senders());
                        let mut fdb2 = fdb.clone();
                        Walk { fabric: &fabric, fdb: &mut fdb, sink: &mut recorder, promiscuous }.send(from, frame);
                        Walk { fabric: &fabric, fdb: &mut fdb2, sink: &mut counts, promiscuous }.send(from, frame);
                        let delivered: Vec<&Hop> = recorder.hops.iter().filter(|h| h.action == Action::Delivered && h.node.is_some()).collect();
                        prop_assert_eq!(delivered.len(), recorder.socket.len());
                        for (hop, &node) in delivered.iter().zip(&recorder.socket) {
                            prop_assert_eq!(hop.node.as_deref(), Some(fabric.nodes[node].name.as_str()));
                        }
                        let total: u32 = (0..fabric.nodes.len()).map(|n| counts.get(n)).sum();
                        prop_assert_eq!(total as usize, recorder.socket.len());
                        // Seen on this kernel: a sender gets its own frame back only when the
                        // switch reflects it (hairpin on its parent's port) and it is a private,
                        // passthru or source device sending a group frame ("forward to original
                        // port"), or the passthru device, which takes every unicast frame that
                        // comes back (flooded, or known on the parent's own port).
                        let own = counts.get(from);
                        let dev = match fabric.nodes[from].kind {
                            super::fabric::NodeKind::Endpoint(d) | super::fabric::NodeKind::Shim(d) => Some(&fabric.devs[d]),
                            _ => None,
                        };
                        let expected = match dev {
                            Some(d) if l.hairpin => match d.mode {
                                MacvlanMode::Private | MacvlanMode::Source => u32::from(frame.dst.is_multicast()),
                                // Port 0 faces the parent.
                                MacvlanMode::Passthru => u32::from(frame.dst.is_multicast() || fdb.lookup(frame.dst).is_none_or(|p| p == 0)),
                                _ => 0,
                            },
                            _ => 0,
                        };
                        prop_assert_eq!(own, expected, "{} {} -> {}", class, fabric.nodes[from].name, fabric.nodes[to].name);
                    }
                }
            }
        }
    }

    #[test]
    fn endpoint_declaration_order_does_not_matter(l in lab_strategy()) {
        let l = Lab { max_learned: None, ..l };
        let s = build(&l);
        let mut reversed = s.clone();
        reversed.endpoints.reverse();
        let spec = default_spec();
        prop_assert_eq!(by_key(&predict(&s, &spec).unwrap()), by_key(&predict(&reversed, &spec).unwrap()));
    }
}

/// A random lab behind the emulated switch: VLAN membership on every port, tagged-frame
/// networks, port security and limits on the parent's port.
#[derive(Debug, Clone)]
struct EmulatedLab {
    networks: Vec<(MacvlanMode, usize, Option<u16>)>,
    peers: Vec<u8>,
    parent_vlan: u8,
    security: Option<(u32, u8)>,
    mac_limit: Option<u32>,
}

fn membership(choice: u8) -> crate::scenario::PortVlan {
    use crate::scenario::PortVlan;
    match choice % 5 {
        0 => PortVlan::Transparent,
        1 => PortVlan::Access { vid: 10 },
        2 => PortVlan::Access { vid: 20 },
        3 => PortVlan::Trunk {
            allowed: vec![10, 20],
            native: None,
        },
        _ => PortVlan::Trunk {
            allowed: vec![20],
            native: Some(10),
        },
    }
}

fn emulated_strategy() -> impl Strategy<Value = EmulatedLab> {
    let mode = prop_oneof![
        Just(MacvlanMode::Bridge),
        Just(MacvlanMode::Vepa),
        Just(MacvlanMode::Private),
    ];
    let tag = prop_oneof![Just(None), Just(Some(10u16)), Just(Some(20u16))];
    (
        prop::collection::vec((mode, 1usize..4, tag), 1..3),
        prop::collection::vec(0u8..5, 0..4),
        0u8..5,
        prop::option::of((1u32..4, 0u8..3)),
        prop::option::of(1u32..3),
    )
        .prop_map(
            |(networks, peers, parent_vlan, security, mac_limit)| EmulatedLab {
                networks,
                peers,
                parent_vlan,
                security,
                mac_limit,
            },
        )
}

fn build_emulated(l: &EmulatedLab) -> Scenario {
    use crate::scenario::{Emulated, PortSecurity, PortVlan, Violation};
    let mut s = lab();
    for &(mode, count, tag) in &l.networks {
        let net = network(&mut s, mode, count);
        s.networks[net].frame_vlan = tag;
    }
    for &choice in &l.peers {
        let p = peer(&mut s);
        s.peers[p].port.policy.vlan = membership(choice);
    }
    s.parents[0].port.policy.vlan = membership(l.parent_vlan);
    s.parents[0].port.policy.mac_limit = l.mac_limit;
    s.parents[0].port.policy.security = l.security.map(|(max_macs, v)| PortSecurity {
        max_macs,
        violation: [Violation::Protect, Violation::Restrict, Violation::Shutdown][usize::from(v)],
        sticky: false,
    });
    // As validation does: once a port is VLAN-aware, the others are access ports of VLAN 1.
    let ports =
        std::iter::once(&mut s.parents[0].port).chain(s.peers.iter_mut().map(|p| &mut p.port));
    let ports: Vec<_> = ports.collect();
    if ports.iter().any(|p| p.policy.vlan != PortVlan::Transparent) {
        for p in ports {
            if p.policy.vlan == PortVlan::Transparent {
                p.policy.vlan = PortVlan::Access { vid: 1 };
            }
        }
    }
    s.switch = Switch::Emulated(Emulated {
        ageing_time: 300,
        fdb_max_learned: None,
        learning_rate: None,
        span: 0..0,
    });
    s
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn emulated_grouped_matrix_agrees_with_every_cell(l in emulated_strategy()) {
        grouped_matrix_agrees(&build_emulated(&l))?;
    }
}

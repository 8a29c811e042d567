//! mvlab's `[docker] version = "20.10"` held to Docker 20.10 itself: Debian's docker.io, started
//! in a throwaway namespace (tests/docker_support). Each case is written once and given to both:
//! Docker creates the networks and starts the containers in file order, mvlab predicts them, and
//! every address, gateway, MAC, default route, IPv6 switch and refusal must agree; then
//! `docker network inspect` of what Docker made goes through `mvlab import` and comes back as
//! the same networks and containers. The cases follow research/measure/01-13. Kernel features
//! this machine lacks (802.1Q, dummy links) are tests/docker_kernel.rs's, in the kernel matrix.

mod docker_support;

use docker_support::Engine;
use docker_support::cases::{Ctr, Net, Pool, Tally, dynamic, judge, subnet};

fn ctr(name: &'static str) -> Ctr {
    Ctr {
        name,
        ..Ctr::default()
    }
}

fn net(name: &'static str, parent: &'static str, pools: Vec<Pool>, ctrs: Vec<Ctr>) -> Net {
    Net {
        name,
        parent,
        pools,
        ctrs,
        ..Net::default()
    }
}

/// Every case, each a list of networks with their containers.
fn cases() -> Vec<(&'static str, Vec<Net>)> {
    let ranged = |s, r, g| Pool {
        subnet: s,
        range: Some(r),
        gateway: g,
        ..Pool::default()
    };
    vec![
        (
            "a subnet alone: lowest free, a fixed address, a fixed MAC",
            vec![net(
                "nA",
                "up0",
                vec![subnet("198.18.1.0/24")],
                vec![
                    ctr("a1"),
                    ctr("a2"),
                    Ctr {
                        name: "a3",
                        ip: Some("198.18.1.200"),
                        ..Ctr::default()
                    },
                    Ctr {
                        name: "a4",
                        mac: Some("02:00:00:00:00:05"),
                        ..Ctr::default()
                    },
                ],
            )],
        ),
        (
            "ip_range without gateway (the issue's first network)",
            vec![net(
                "nB",
                "up0",
                vec![ranged("198.18.5.0/24", "198.18.5.128/25", None)],
                dynamic("b", 3),
            )],
        ),
        (
            "ip_range with gateway, and the gateway asked for",
            vec![net(
                "nC",
                "up0",
                vec![ranged(
                    "198.18.4.0/24",
                    "198.18.4.128/25",
                    Some("198.18.4.1"),
                )],
                vec![
                    ctr("c1"),
                    Ctr {
                        name: "c2",
                        ip: Some("198.18.4.1"),
                        ..Ctr::default()
                    },
                ],
            )],
        ),
        (
            "ip_range at the subnet's start",
            vec![net(
                "nB2",
                "up0",
                vec![ranged("198.18.3.0/24", "198.18.3.0/28", None)],
                dynamic("g", 1),
            )],
        ),
        (
            "aux addresses, and one asked for",
            vec![net(
                "nD",
                "up0",
                vec![Pool {
                    aux: vec![("a", "198.18.6.2"), ("b", "198.18.6.3")],
                    ..subnet("198.18.6.0/24")
                }],
                vec![
                    ctr("d1"),
                    Ctr {
                        name: "d2",
                        ip: Some("198.18.6.2"),
                        ..Ctr::default()
                    },
                ],
            )],
        ),
        (
            "a /29 runs dry",
            vec![net(
                "nE",
                "up0",
                vec![subnet("198.18.8.8/29")],
                dynamic("e", 7),
            )],
        ),
        (
            "a /30 ip_range at the top runs dry",
            vec![net(
                "nF",
                "up0",
                vec![ranged("198.18.9.0/24", "198.18.9.252/30", None)],
                dynamic("f", 4),
            )],
        ),
        (
            "a /31 has no gateway",
            vec![net(
                "nF31",
                "up0",
                vec![subnet("198.18.10.0/31")],
                dynamic("x", 1),
            )],
        ),
        (
            "a /32 has no gateway",
            vec![net(
                "nF32",
                "up0",
                vec![subnet("198.18.10.4/32")],
                dynamic("y", 1),
            )],
        ),
        (
            "IPv6",
            vec![Net {
                ipv6: true,
                ..net(
                    "nG",
                    "up0",
                    vec![subnet("198.18.20.0/24"), subnet("2001:2:0:20::/64")],
                    dynamic("v", 2),
                )
            }],
        ),
        (
            "an IPv6 ip_range and gateway, and a fixed IPv6 address",
            vec![Net {
                ipv6: true,
                ..net(
                    "nG4",
                    "up0",
                    vec![
                        subnet("198.18.23.0/24"),
                        ranged(
                            "2001:2:0:23::/64",
                            "2001:2:0:23::100/120",
                            Some("2001:2:0:23::fffe"),
                        ),
                    ],
                    vec![
                        ctr("w1"),
                        Ctr {
                            name: "w2",
                            ip6: Some("2001:2:0:23::5"),
                            ..Ctr::default()
                        },
                    ],
                )
            }],
        ),
        (
            "an IPv6 /127",
            vec![Net {
                ipv6: true,
                ..net(
                    "nG6",
                    "up0",
                    vec![subnet("198.18.25.0/24"), subnet("2001:2:0:25::/127")],
                    dynamic("s", 1),
                )
            }],
        ),
        (
            "an IPv6 subnet without enable_ipv6 is ignored",
            vec![net(
                "nG3",
                "up0",
                vec![subnet("198.18.22.0/24"), subnet("2001:2:0:22::/64")],
                dynamic("u", 1),
            )],
        ),
        (
            "enable_ipv6 without an IPv6 subnet",
            vec![Net {
                ipv6: true,
                ..net("nG2", "up0", vec![subnet("198.18.21.0/24")], vec![])
            }],
        ),
        (
            "an aux address on the gateway",
            vec![net(
                "nI",
                "up0",
                vec![Pool {
                    gateway: Some("198.18.12.1"),
                    aux: vec![("a", "198.18.12.1")],
                    ..subnet("198.18.12.0/24")
                }],
                vec![],
            )],
        ),
        (
            "one aux address twice",
            vec![net(
                "nI2",
                "up0",
                vec![Pool {
                    aux: vec![("a", "198.18.13.5"), ("b", "198.18.13.5")],
                    ..subnet("198.18.13.0/24")
                }],
                vec![],
            )],
        ),
        (
            "one subnet split by ip_range between two networks",
            vec![
                net(
                    "s1",
                    "up1",
                    vec![ranged("198.18.32.0/24", "198.18.32.0/25", None)],
                    dynamic("i", 1),
                ),
                net(
                    "s2",
                    "up2",
                    vec![ranged("198.18.32.0/24", "198.18.32.128/25", None)],
                    vec![
                        ctr("j1"),
                        Ctr {
                            name: "j2",
                            ip: Some("198.18.32.2"),
                            ..Ctr::default()
                        },
                    ],
                ),
            ],
        ),
        (
            "one subnet twice without ip_range",
            vec![
                net("o1", "up1", vec![subnet("198.18.36.0/24")], vec![]),
                net("o2", "up2", vec![subnet("198.18.36.0/24")], vec![]),
            ],
        ),
        (
            "two networks on one parent",
            vec![
                net("p1", "up3", vec![subnet("198.18.37.0/24")], vec![]),
                net("p2", "up3", vec![subnet("198.18.38.0/24")], vec![]),
            ],
        ),
        (
            "source mode",
            vec![Net {
                mode: "source",
                ..net("nJ", "up0", vec![subnet("198.18.39.0/24")], vec![])
            }],
        ),
        (
            "vepa and private modes",
            vec![
                Net {
                    mode: "vepa",
                    ..net(
                        "nV",
                        "up4",
                        vec![subnet("198.18.40.0/24")],
                        dynamic("ve", 1),
                    )
                },
                Net {
                    mode: "private",
                    ..net(
                        "nP",
                        "up5",
                        vec![subnet("198.18.41.0/24")],
                        dynamic("pr", 1),
                    )
                },
            ],
        ),
        (
            "passthru: one container",
            vec![Net {
                mode: "passthru",
                ..net("nT", "up6", vec![subnet("198.18.46.0/24")], dynamic("t", 2))
            }],
        ),
        (
            "an internal network",
            vec![Net {
                internal: true,
                ..net("nM", "up0", vec![subnet("198.18.42.0/24")], dynamic("m", 1))
            }],
        ),
        (
            "two IPv4 subnets",
            vec![net(
                "nN",
                "up0",
                vec![
                    subnet("198.18.44.0/30"),
                    Pool {
                        gateway: Some("198.18.45.254"),
                        ..subnet("198.18.45.0/24")
                    },
                ],
                vec![
                    ctr("n1"),
                    ctr("n2"),
                    Ctr {
                        name: "n3",
                        ip: Some("198.18.45.77"),
                        ..Ctr::default()
                    },
                ],
            )],
        ),
        (
            "fixed addresses outside the subnet and on its ends",
            vec![net(
                "nO",
                "up0",
                vec![subnet("198.18.90.0/24")],
                vec![
                    Ctr {
                        name: "q1",
                        ip: Some("198.18.91.5"),
                        ..Ctr::default()
                    },
                    Ctr {
                        name: "q2",
                        ip: Some("198.18.90.0"),
                        ..Ctr::default()
                    },
                    Ctr {
                        name: "q3",
                        ip: Some("198.18.90.255"),
                        ..Ctr::default()
                    },
                ],
            )],
        ),
        (
            "host bits in the subnet",
            vec![net(
                "nW1",
                "up0",
                vec![subnet("198.18.51.1/24")],
                dynamic("h", 1),
            )],
        ),
        (
            "an ip_range outside its subnet",
            vec![net(
                "nW4",
                "up0",
                vec![ranged("198.18.54.0/24", "198.18.60.0/25", None)],
                dynamic("k", 1),
            )],
        ),
        (
            "a parent that is not there",
            vec![net("nK", "nope0", vec![subnet("198.18.56.0/24")], vec![])],
        ),
        (
            "a VLAN id out of range",
            vec![net(
                "nK2",
                "up0.4095",
                vec![subnet("198.18.57.0/24")],
                vec![],
            )],
        ),
        (
            "the loopback as parent",
            vec![net("nK3", "lo", vec![subnet("198.18.58.0/24")], vec![])],
        ),
        // Last: the daemon keeps this subnet as if in use until it restarts (research 4.2).
        (
            "an aux address outside the subnet",
            vec![net(
                "nX",
                "up0",
                vec![Pool {
                    aux: vec![("a", "198.18.99.9")],
                    ..subnet("198.18.98.0/24")
                }],
                vec![],
            )],
        ),
    ]
}

#[test]
fn docker_20_10_hands_out_and_refuses_what_mvlab_predicts() {
    let engine = Engine::start("engine");
    let veths = ["up0", "up1", "up2", "up3", "up4", "up5", "up6"];
    for p in veths {
        engine.veth(p);
    }
    let mut tally = Tally::default();
    let mut failures = Vec::new();
    for (what, case) in cases() {
        let diffs = judge(&engine, "20.10", &case, &veths, &mut tally);
        if !diffs.is_empty() {
            failures.push(format!("{what}:\n  {}", diffs.join("\n  ")));
        }
    }
    eprintln!(
        "docker 20.10: {} cases, {} networks, {} containers, {} refusals, {} networks imported back; {} cases differ",
        cases().len(),
        tally.networks,
        tally.containers,
        tally.refusals,
        tally.round_trips,
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

//! The pure parts of `inspect` on facts made by hand: a Docker-like host (a parent with bridge
//! and vepa endpoints outside the lab ranges, a bridge port without hairpin, a peer) through
//! layout, reproduction, the model's reach and the warnings.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::*;
use crate::lab::rtnl::{BridgeSettings, MacvlanDetail, PortFlags};
use crate::scenario::MacvlanMode;

fn link(netns: &str, name: &str, kind: &str, index: u32) -> FoundLink {
    FoundLink {
        netns: netns.into(),
        detail: LinkDetail {
            index,
            name: name.into(),
            kind: Some(kind.into()),
            mtu: 1500,
            up: true,
            mac: Some(MacAddr([0x52, 0x54, 0, 0, 0, index as u8])),
            ..LinkDetail::default()
        },
        ipv4: Vec::new(),
        ipv6: Vec::new(),
        lower: None,
        master: None,
    }
}

fn at(netns: &str, name: &str) -> Option<LinkRef> {
    Some(LinkRef {
        netns: netns.into(),
        name: name.into(),
    })
}

fn macvlan(netns: &str, mode: MacvlanMode, ip: [u8; 4], index: u32) -> FoundLink {
    let mut l = link(netns, "eth0", "macvlan", index);
    l.detail.macvlan = Some(MacvlanDetail {
        mode: Some(mode),
        bc_queue_len: Some(1000),
        bc_queue_len_used: Some(1000),
        ..MacvlanDetail::default()
    });
    l.ipv4 = vec![(Ipv4Addr::from(ip), 24)];
    l.ipv6 = vec![("fe80::1".parse::<Ipv6Addr>().unwrap(), 64)];
    l.lower = at("host", "eth0");
    l
}

/// A host `eth0` (192.168.1.5/24) wired to port `p0` of bridge `br0` in `sw`, a router on `p1`,
/// containers `web` and `db` in bridge mode and `cache` in vepa mode (another subnet).
fn docker_like() -> Found {
    let mut parent = link("host", "eth0", "veth", 2);
    parent.detail.promiscuity = 1;
    parent.ipv4 = vec![(Ipv4Addr::new(192, 168, 1, 5), 24)];
    parent.lower = at("sw", "p0");
    let mut br = link("sw", "br0", "bridge", 10);
    br.detail.bridge = Some(BridgeSettings {
        ageing_time: 300,
        multicast_snooping: true,
        ..BridgeSettings::default()
    });
    let mut p0 = link("sw", "p0", "veth", 11);
    p0.master = Some("br0".into());
    p0.detail.port = Some(PortFlags::default());
    p0.lower = at("host", "eth0");
    let mut p1 = link("sw", "p1", "veth", 12);
    p1.master = Some("br0".into());
    p1.detail.port = Some(PortFlags::default());
    p1.lower = at("router", "eth0");
    let mut router = link("router", "eth0", "veth", 20);
    router.ipv4 = vec![(Ipv4Addr::new(192, 168, 1, 1), 24)];
    router.lower = at("sw", "p1");
    let ns = |name: &str, inode| FoundNamespace {
        name: name.into(),
        inode,
        origin: NsOrigin::Named,
        path: PathBuf::from(format!("/run/netns/{name}")),
        pid: None,
    };
    Found {
        namespaces: ["host", "sw", "router", "web", "db", "cache"]
            .iter()
            .zip(1..)
            .map(|(n, i)| ns(n, i))
            .collect(),
        links: vec![
            parent,
            br,
            p0,
            p1,
            router,
            macvlan("web", MacvlanMode::Bridge, [192, 168, 1, 10], 30),
            macvlan("db", MacvlanMode::Bridge, [192, 168, 1, 11], 31),
            macvlan("cache", MacvlanMode::Vepa, [10, 9, 0, 12], 32),
            macvlan("cache2", MacvlanMode::Vepa, [10, 9, 0, 13], 33),
        ],
        neighbours: NeighbourUse {
            ipv4_thresholds: [128, 512, 1024],
            ipv6_thresholds: [128, 512, 1024],
            ..NeighbourUse::default()
        },
        ..Found::default()
    }
}

fn entry<'a>(i: &'a Inspection, from: &str, to: &str, class: &str) -> &'a ReachEntry {
    i.reach
        .iter()
        .find(|r| r.from == from && r.to == to && r.class == class)
        .unwrap_or_else(|| panic!("no entry {from} -> {to} {class}"))
}

#[test]
fn a_docker_like_host_becomes_a_valid_scenario_with_mapped_addresses() {
    let i = analyse(docker_like());
    assert_eq!(i.layout.components.len(), 1);
    let r = &i.scenarios[0];
    let s = r
        .scenario
        .as_ref()
        .unwrap_or_else(|e| panic!("{e}\n{}", r.text));
    assert_eq!(s.parents.len(), 1);
    assert_eq!(s.endpoints.len(), 4);
    assert_eq!(s.peers.len(), 1);
    // 192.168.1.10 keeps its offset .10 in the lab twin of 192.168.1.0/24
    let web = s.endpoint(r.station("web:eth0").unwrap()).unwrap();
    let ipv4 = web.ipv4.expect("web has an IPv4 address");
    assert_eq!(ipv4.octets()[3], 10);
    assert!(crate::addr::is_lab_address(ipv4.into()));
    assert!(
        r.text.contains("# address map: 192.168.1.0/24 -> "),
        "{}",
        r.text
    );
    assert_eq!(
        s.host.addresses.len(),
        1,
        "the host's address is on the parent"
    );
}

#[test]
fn the_model_answers_in_the_machines_names() {
    let i = analyse(docker_like());
    let e = entry(&i, "web:eth0", "db:eth0", "unicast");
    assert!(e.delivered, "{e:?}");
    assert!(
        e.rule.starts_with("macvlan_queue_xmit") || e.rule.contains("macvlan"),
        "{e:?}"
    );
    let e = entry(&i, "cache:eth0", "cache2:eth0", "unicast");
    assert!(!e.delivered && e.rule.contains("hairpin"), "{e:?}");
    assert!(!entry(&i, "host:eth0", "web:eth0", "ipv4").delivered);
    assert!(entry(&i, "web:eth0", "router:eth0", "ipv4").delivered);
    let kinds: Vec<&str> = i.warnings.iter().map(|w| w.kind.as_str()).collect();
    for k in [
        "host-unreachable",
        "vepa-needs-hairpin",
        "promiscuous-parent",
        "outside-parent-subnet",
    ] {
        assert!(kinds.contains(&k), "{k} missing from {kinds:?}");
    }
    let fix = &i
        .warnings
        .iter()
        .find(|w| w.kind == "host-unreachable")
        .unwrap()
        .fix;
    assert!(
        fix.contains("ip -n host link add mvshim0 link eth0 type macvlan mode bridge"),
        "{fix}"
    );
    assert!(
        fix.contains("route add 192.168.1.10/32 dev mvshim0"),
        "{fix}"
    );
}

#[test]
fn a_shim_with_a_route_is_reported_as_present() {
    let mut f = docker_like();
    let mut shim = macvlan("host", MacvlanMode::Bridge, [192, 168, 1, 250], 40);
    shim.detail.name = "shim".into();
    shim.ipv4 = vec![(Ipv4Addr::new(192, 168, 1, 250), 32)];
    f.links.push(shim);
    f.routes.push(FoundRoute {
        netns: "host".into(),
        destination: Some(("192.168.1.8".parse().unwrap(), 29)),
        gateway: None,
        dev: Some("shim".into()),
    });
    let i = analyse(f);
    assert!(entry(&i, "host:shim", "web:eth0", "ipv4").delivered);
    let kinds: Vec<&str> = i.warnings.iter().map(|w| w.kind.as_str()).collect();
    assert!(kinds.contains(&"shim-present"), "{kinds:?}");
    // the vepa endpoints in another subnet stay unreachable; web and db do not
    for w in i.warnings.iter().filter(|w| w.kind == "host-unreachable") {
        assert!(
            !w.message.contains("web:eth0") && !w.fix.contains("192.168.1.10"),
            "{w:?}"
        );
    }
}

#[test]
fn vepa_siblings_on_a_bare_wire_are_told_once_to_use_bridge_mode() {
    // The parent wired straight to the router (no bridge), as in a Docker host's test layout.
    let mut f = docker_like();
    f.links.retain(|l| l.netns != "sw");
    for l in &mut f.links {
        if l.detail.name == "eth0" && l.netns == "host" {
            l.lower = at("router", "eth0");
        } else if l.netns == "router" {
            l.lower = at("host", "eth0");
        }
    }
    let i = analyse(f);
    assert_eq!(i.layout.components[0].beyond, layout::Beyond::Wire);
    let w = i
        .warnings
        .iter()
        .find(|w| w.kind == "vepa-needs-hairpin")
        .expect("vepa siblings on a wire are warned about");
    assert_eq!(
        w.fix,
        "nothing beyond host:eth0 can send frames back: use bridge mode, where siblings talk inside the kernel"
    );
}

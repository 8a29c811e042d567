//! IP exhaustion on a real lab (as root; fails without it): every endpoint resolves the peer
//! over ARP and ND as `ip neigh` shows in each namespace, the peer learns each endpoint back,
//! and the IPAM request is refused with the pool's size, the same words `mvlab check` uses
//! for a scenario that asks for more endpoints than its pool holds.

mod lab_support;

use lab_support::{bench, ip_json, mvlab, netns, require_root, up};
use mvlab::diag::Source;
use mvlab::measure::ip_exhaustion;
use mvlab::measure::kstat::NeighbourTable;
use mvlab::scenario::{self, TestKind};
use mvlab::stop::Stop;
use serde_json::Value;

const SCENARIO: &str = "[[networks]]\nname = \"n\"\nsubnet6 = \"2001:2:0:7::/64\"\n[[networks.endpoints]]\ncount = 5\n[[peers]]\nname = \"peer\"\n[[tests]]\nkind = \"ip_exhaustion\"\nname = \"ip\"\ncontainers = 300\n";

/// The `ip -j neigh` entry of `ip` in namespace `ns`.
fn neigh(ns: &str, ip: &str) -> Option<Value> {
    ip_json(Some(ns), &["neigh", "show"])
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["dst"] == ip)
        .cloned()
}

#[test]
fn every_endpoint_resolves_the_peer_as_ip_neigh_shows() {
    require_root();
    let s = scenario::parse(Source::new("ip.toml", SCENARIO)).unwrap();
    let lab = up(&s, "xneigh");
    let stop = Stop::new();
    let bench = bench(&lab, &s, &stop);
    let TestKind::IpExhaustion(test) = &s.tests[0].kind else {
        unreachable!()
    };
    let r = ip_exhaustion::measure(&bench, "ip", test).unwrap();
    let peer = s.peer("peer").unwrap();
    for table in [NeighbourTable::Arp, NeighbourTable::Ndisc] {
        let fill = r.table(table).unwrap();
        assert_eq!(
            (fill.endpoints, fill.resolved, fill.failed),
            (5, 5, 0),
            "{fill:?}"
        );
        assert_eq!(fill.peer_entries, 5);
        assert_eq!(fill.refused, 0);
        assert_eq!(fill.entries.len(), 5);
        assert_eq!(fill.thresholds.len(), 3);
        // Each endpoint's entry and the peer's entry for it, at least: a machine-wide count.
        assert!(fill.stats.allocs >= 10, "{:?}", fill.stats);
    }
    for e in s.endpoints.iter() {
        let ns = netns(lab.name(), &e.name);
        for ip in [peer.ipv4.to_string(), peer.ipv6.unwrap().to_string()] {
            let entry = neigh(&ns, &ip).unwrap_or_else(|| panic!("{ns} has no entry for {ip}"));
            assert_eq!(entry["lladdr"], peer.mac.to_string(), "{entry}");
        }
        let back = neigh(&netns(lab.name(), "peer"), &e.ipv4.unwrap().to_string()).unwrap();
        assert_eq!(back["lladdr"], e.mac.to_string());
    }
    let ipam = r.ipam.as_ref().unwrap();
    assert_eq!(
        (ipam.available, ipam.allocated, ipam.refused),
        (247, 247, 53)
    );
    assert!(
        ipam.refusal
            .as_ref()
            .unwrap()
            .contains("needs 300 addresses from its pool 198.18.0.0/24, which has 247 left")
    );
    lab.down().unwrap();
}

#[test]
fn check_refuses_a_network_bigger_than_its_pool_in_the_same_words() {
    let file = std::env::temp_dir().join(format!("pool-{}.toml", std::process::id()));
    std::fs::write(
        &file,
        "[[networks]]\nname = \"n\"\nip_range = \"198.18.0.0/26\"\n[[networks.endpoints]]\ncount = 70\n",
    )
    .unwrap();
    let out = mvlab().arg("check").arg(&file).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("needs 70 addresses from its pool 198.18.0.0/26, which has 62 left"),
        "{stderr}"
    );
}

/// A peer that answers no ARP request (`ip link set eth0 arp off` in its namespace): no
/// endpoint resolves it, every one is counted as failed, and `ip neigh` in each endpoint shows
/// the entry unresolved.
#[test]
fn a_peer_that_never_answers_leaves_every_endpoint_unresolved() {
    require_root();
    let s = scenario::parse(Source::new("ip.toml", SCENARIO)).unwrap();
    let lab = up(&s, "xdeaf");
    let peer_ns = netns(lab.name(), "peer");
    let out = lab_support::run(
        std::process::Command::new("ip")
            .args(["-n", &peer_ns, "link", "set", "eth0", "arp", "off"]),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stop = Stop::new();
    let bench = bench(&lab, &s, &stop);
    let TestKind::IpExhaustion(test) = &s.tests[0].kind else {
        unreachable!()
    };
    let r = ip_exhaustion::measure(&bench, "ip", test).unwrap();
    let arp = r.table(NeighbourTable::Arp).unwrap();
    assert_eq!(
        (arp.endpoints, arp.resolved, arp.failed),
        (5, 0, 5),
        "{arp:?}"
    );
    let peer = s.peer("peer").unwrap();
    for e in &s.endpoints {
        let ns = netns(lab.name(), &e.name);
        let entry = neigh(&ns, &peer.ipv4.to_string());
        assert!(
            entry.as_ref().is_none_or(|n| n.get("lladdr").is_none()),
            "{ns} resolved the deaf peer: {entry:?}"
        );
    }
    lab.down().unwrap();
}

//! MAC sweeps on a real lab (as root; fails without it): every source MAC is counted at the
//! station it was sent to and nowhere else, and the counts agree with tshark reading the
//! destination's pcapng and with what `bridge fdb` says the bridge learned.

mod lab_support;

use std::collections::HashSet;

use lab_support::{learned_test_macs, require_root, tshark_field, up};
use mvlab::diag::Source;
use mvlab::measure::{Bench, kstat, mac_sweep};
use mvlab::scenario::{self, Scenario, TestKind};
use mvlab::stop::Stop;

fn scenario(sweep: &str) -> Scenario {
    let text = format!(
        "[[networks]]\nname = \"n\"\n[[networks.endpoints]]\ncount = 2\n[[peers]]\nname = \"peer\"\n[[tests]]\nkind = \"mac_sweep\"\nname = \"sweep\"\nfrom = \"peer\"\nto = \"e1\"\nreceivers = [\"e2\"]\n{sweep}"
    );
    scenario::parse(Source::new("sweep.toml", text)).unwrap_or_else(|d| panic!("{d}"))
}

/// Distinct swept source MACs (06:...) tshark reads in a pcapng; the lab's background frames
/// (IGMP reports, say) have other sources.
fn sources_in(file: &std::path::Path) -> HashSet<String> {
    tshark_field(file, "eth.src")
        .into_iter()
        .filter(|m| m.starts_with("06:"))
        .collect()
}

fn run(s: &Scenario, tag: &str) -> (mac_sweep::MacSweepResult, std::path::PathBuf, String) {
    let lab = up(s, tag);
    let dir = std::env::temp_dir().join(format!("{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let stop = Stop::new();
    let bench = Bench {
        lab: &lab,
        scenario: s,
        stop: &stop,
        max_pps: None,
        pcap_dir: Some(dir.clone()),
        progress: &|_: &str| {},
    };
    let TestKind::MacSweep(test) = &s.tests[0].kind else {
        unreachable!()
    };
    let r = mac_sweep::measure(&bench, "sweep", test).unwrap();
    let learned = learned_test_macs(lab.name()).to_string();
    lab.down().unwrap();
    (r, dir, learned)
}

#[test]
fn every_source_mac_is_counted_where_it_arrived_and_tshark_agrees() {
    require_root();
    // The rate of scenarios/mac-sweep.toml, which any machine's bridge keeps up with: each frame
    // teaches the bridge a new address, and at 30kpps a loaded emulated machine's input
    // backlog dropped 616 of 3000 (softnet_stat names such drops below).
    let s = scenario("macs = 3000\nrate = \"10kpps\"\n");
    let backlog = kstat::softnet();
    let (r, dir, learned) = run(&s, "xsweep");
    let backlog = kstat::softnet().since(&backlog);
    assert_eq!(r.sent, 3000);
    let e1 = r.destination().unwrap();
    assert_eq!(
        (e1.frames, e1.macs, e1.missing, e1.repeated),
        (3000, 3000, 0, 0),
        "input backlogs dropped {} frame(s) meanwhile, the capture's ring {}",
        backlog.dropped,
        e1.capture_drops
    );
    assert_eq!(e1.histogram, [0, 3000]);
    assert_eq!(e1.counter_bytes, 3000 * 4, "4 bytes a MAC");
    let e2 = &r.receivers[1];
    assert_eq!(
        (e2.station.as_str(), e2.frames, e2.missing),
        ("e2", 0, 3000)
    );
    let learned_by_ip: usize = learned.parse().unwrap();
    assert_eq!(learned_by_ip, 3000, "bridge fdb lists every swept source");
    assert!(r.switch_learned_after.unwrap() >= r.switch_learned_before.unwrap() + 3000);
    let seen = sources_in(&dir.join("sweep-e1.pcapng"));
    assert_eq!(
        seen.len(),
        3000,
        "tshark reads 3000 distinct swept sources at e1"
    );
    assert!(sources_in(&dir.join("sweep-e2.pcapng")).is_empty());
}

#[test]
fn an_ordered_sweep_sends_the_macs_in_turn() {
    require_root();
    let s = scenario("macs = 500\norder = \"sequential\"\n");
    let (r, dir, _) = run(&s, "xorder");
    assert_eq!(r.destination().unwrap().missing, 0);
    let seen = sources_in(&dir.join("sweep-e1.pcapng"));
    assert!(seen.contains("06:00:00:00:00:00") && seen.contains("06:00:00:00:01:f3"));
    assert!(!seen.contains("06:00:00:00:01:f4"));
}

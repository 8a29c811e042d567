//! RFC 2889 address caching and learning rate on real Linux bridges (as root; fails without
//! it): the measured capacity equals `fdb_max_learned` and the bridge's own count, an unlimited
//! bridge learns every number tried, and a trial's flooded frames are what tcpdump sees on the
//! monitor port; what the bridge holds afterwards is checked with `bridge fdb`. The emulated
//! switch is measured by the same test, unchanged.

mod exhaust_support;
mod lab_support;

use exhaust_support::Tcpdump;
use lab_support::{bench, learned_test_macs, netns, refused_here, require_root, tshark_field, up};
use mvlab::diag::Source;
use mvlab::measure::address_caching::{self, AddressBench};
use mvlab::measure::address_learning_rate;
use mvlab::scenario::{self, Scenario, TestKind};
use mvlab::stop::Stop;

fn scenario(limit: &str, test: &str) -> Scenario {
    let text = format!(
        "{limit}[[networks]]\nname = \"n\"\nendpoints = []\n[[peers]]\nname = \"learner\"\n[[peers]]\nname = \"tester\"\n[[peers]]\nname = \"monitor\"\n[[tests]]\nlearning = \"learner\"\ntest = \"tester\"\nmonitor = \"monitor\"\n{test}"
    );
    scenario::parse(Source::new("caching.toml", text)).unwrap_or_else(|d| panic!("{d}"))
}

#[test]
fn the_capacity_is_the_bridges_limit_and_tcpdump_sees_the_flooding() {
    require_root();
    let s = scenario(
        "[switch]\nfdb_max_learned = 40\n",
        "kind = \"address_caching\"\naddresses = 128\nrate = \"20kpps\"\n",
    );
    if refused_here(&s, "xcache") {
        return;
    }
    let lab = up(&s, "xcache");
    let stop = Stop::new();
    let bench = bench(&lab, &s, &stop);
    let TestKind::AddressCaching(test) = &s.tests[0].kind else {
        unreachable!()
    };
    let r = address_caching::measure(&bench, "cache", test).unwrap();
    assert_eq!(r.capacity, 40, "{:?}", r.trials);
    assert!(!r.at_least);
    // The capacity is the search's own finding: the largest number that passed, one more failed.
    let largest_passing = r
        .trials
        .iter()
        .filter(|t| t.passed)
        .map(|t| t.addresses)
        .max();
    assert_eq!(largest_passing, Some(r.capacity), "{:?}", r.trials);
    assert!(
        r.trials
            .iter()
            .any(|t| !t.passed && t.addresses == r.capacity + 1),
        "{:?}",
        r.trials
    );
    assert_eq!(r.switch_limit, Some(40));
    assert_eq!(r.switch_learned, Some(40));
    for t in &r.trials {
        assert_eq!(t.switch_learned, Some(t.addresses.min(40)), "{t:?}");
        assert_eq!(
            t.flooded,
            u64::from(t.addresses.saturating_sub(40)),
            "{t:?}"
        );
    }
    // The last trial left at most the limit in the table: `bridge fdb` agrees with the count.
    assert_eq!(learned_test_macs(lab.name()), 40);
    // One more trial, watched by tcpdump on the monitor port: every flooded test frame, and
    // nothing else addressed to a made-up MAC, reached it.
    let file = std::env::temp_dir().join(format!("monitor-{}.pcap", std::process::id()));
    let dump = Tcpdump::start(
        &netns(lab.name(), "monitor"),
        "eth0",
        "ether[0] == 0x06",
        &file,
    );
    let mut ports = AddressBench::open(&bench, &test.ports).unwrap();
    let t = ports.trial(60, Some(20_000.0), Some(20_000.0)).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(200));
    let seen = dump.stop();
    assert_eq!(t.flooded, 20);
    assert_eq!(seen.received_by_filter, 20, "tcpdump on the monitor port");
    assert_eq!(
        tshark_field(&file, "eth.dst").len(),
        20,
        "tshark reading tcpdump's file"
    );
    drop(ports);
    lab.down().unwrap();
}

#[test]
fn an_unlimited_bridge_learns_every_number_tried() {
    require_root();
    let s = scenario(
        "",
        "kind = \"address_caching\"\naddresses = 300\nrate = \"30kpps\"\n",
    );
    let lab = up(&s, "xunlim");
    let stop = Stop::new();
    let TestKind::AddressCaching(test) = &s.tests[0].kind else {
        unreachable!()
    };
    let r = address_caching::measure(&bench(&lab, &s, &stop), "cache", test).unwrap();
    assert_eq!((r.capacity, r.at_least), (300, true));
    assert_eq!(r.trials.len(), 1);
    assert_eq!(r.switch_limit, None);
    assert_eq!(r.trials[0].flooded, 0);
    assert_eq!(learned_test_macs(lab.name()), 300);
    lab.down().unwrap();
}

#[test]
fn the_learning_rate_of_a_bridge_is_what_the_sender_offers() {
    require_root();
    let s = scenario("", "kind = \"address_learning_rate\"\naddresses = 500\n");
    let lab = up(&s, "xrate");
    let stop = Stop::new();
    let TestKind::AddressLearningRate(test) = &s.tests[0].kind else {
        unreachable!()
    };
    let r = address_learning_rate::measure(&bench(&lab, &s, &stop), "rate", test).unwrap();
    // br_fdb_update learns in the softirq of each frame: the first, unthrottled trial passes.
    assert!(r.at_least, "{:?}", r.trials);
    assert_eq!(r.learning_rate_pps, r.max_offered_pps);
    assert!(r.learning_rate_pps > 0.0);
    assert_eq!(r.trials[0].switch_learned, Some(500));
    assert_eq!(learned_test_macs(lab.name()), 500);
    lab.down().unwrap();
}

#[test]
fn the_emulated_switch_is_measured_by_the_same_test() {
    require_root();
    // It forgets only by ageing: one second here, so each trial starts from an empty table.
    let s = scenario(
        "[switch]\nkind = \"emulated\"\nfdb_max_learned = 10\nageing_time = 1\n",
        "kind = \"address_caching\"\naddresses = 24\nrate = \"20kpps\"\n",
    );
    let lab = up(&s, "xemul");
    let stop = Stop::new();
    let TestKind::AddressCaching(test) = &s.tests[0].kind else {
        unreachable!()
    };
    let r = address_caching::measure(&bench(&lab, &s, &stop), "cache", test).unwrap();
    assert_eq!(
        (r.capacity, r.switch_limit, r.switch_learned),
        (10, Some(10), Some(10))
    );
    // The switch's own report agrees: its table holds at most the limit of made-up addresses.
    let report = lab.switch_report().unwrap().unwrap();
    let made_up = report.table.iter().filter(|e| e.mac.0[0] == 0x06).count();
    assert_eq!(made_up, 10);
    lab.down().unwrap();
}

//! Every test of `mvlab run` against three switches under test that mvlab did not build, run
//! inside a throwaway tester namespace whose existing interfaces t0..t2 are wired to the
//! switch's ports s0..s2: a Linux bridge with `fdb_max_learned`, hairpin on s0 and multicast
//! flooding off on s1; Open vSwitch's userspace datapath, whose table evicts when full; and
//! mvlab's own `switch serve` with port security on s2. Each is held to a counter of its own
//! (`bridge fdb`, `ovs-appctl fdb/show` and `fdb/stats-show`, tcpdump on its port), and the
//! matrix must name exactly the ways it differs from the 802.1D reference. Needs root and
//! Open vSwitch (scripts/setup installs it); never skips.

mod extswitch_support;
mod switch_support;

use extswitch_support::{Ovs, Rig, Serve, bridge_entries, deviations, linux_bridge, test};
use serde_json::Value;
use switch_support::Tap;

/// The mon peer's MAC, fixed so the emulated switch's settings can name it.
const MON_MAC: &str = "02:00:00:00:0a:03";

/// The tester's side: two VEPA endpoints behind t0, peers `far` on t1 and `mon` on t2, and
/// the switch keys the tester knows (`switch`), followed by `tests`.
fn scenario(switch: &str, tests: &str) -> String {
    format!(
        r#"name = "sut"
[switch]
kind = "external"
{switch}
[[parents]]
name = "up0"
kind = "existing"
interface = "t0"
[[networks]]
mode = "vepa"
[[peers]]
name = "far"
interface = "t1"
[[peers]]
name = "mon"
interface = "t2"
mac = "{MON_MAC}"
{tests}"#
    )
}

const MATRIX: &str = r#"
[[tests]]
kind = "matrix"
frames = 5
"#;

const PATHS: &str = r#"
[[tests]]
kind = "latency"
from = "e1"
to = "far"
method = "round-trip"
duration = "500ms"
[[tests]]
kind = "throughput"
from = "far"
to = "mon"
frame_sizes = [64]
duration = "500ms"
[[tests]]
kind = "rfc2544"
from = "far"
to = "mon"
frame_sizes = [64]
trial = "200ms"
resolution = "10%"
frame_loss_steps = false
back_to_back = false
"#;

const SWEEP: &str = r#"
[[tests]]
kind = "mac_sweep"
from = "mon"
to = "far"
macs = 50
rate = "5kpps"
"#;

/// RFC 2889's tests with far learning, e1 testing and mon monitoring; caching searched up to
/// `max` addresses.
fn addresses(max: u32) -> String {
    format!(
        r#"
[[tests]]
kind = "address_learning_rate"
learning = "far"
test = "e1"
monitor = "mon"
addresses = 16
[[tests]]
kind = "address_caching"
learning = "far"
test = "e1"
monitor = "mon"
addresses = {max}
"#
    )
}

/// What every switch under test delivers whatever it is: each path test carried frames
/// through it, the sweep's frames arrived, nothing of the rig was left behind.
fn check_paths(rig: &Rig, result: &Value, sweep_macs: u64) {
    for name in ["latency", "throughput"] {
        let t = test(result, name);
        assert!(
            t["received"]
                .as_u64()
                .or(t["points"][0]["received"].as_u64())
                .unwrap()
                > 0,
            "{name}: {t}"
        );
    }
    let rfc = test(result, "rfc2544");
    assert!(
        rfc["sizes"][0]["throughput_pps"].as_f64().unwrap() > 0.0,
        "{rfc}"
    );
    let sweep = test(result, "mac_sweep");
    assert_eq!(
        sweep["receivers"][0]["macs"].as_u64(),
        Some(sweep_macs),
        "{sweep}"
    );
    assert_eq!(
        sweep["switch_learned_after"],
        Value::Null,
        "an external switch is not read"
    );
    assert!(rig.leftovers().is_empty(), "{:?}", rig.leftovers());
}

#[test]
fn a_linux_bridge_stops_learning_at_its_limit_hairpins_and_keeps_multicast_from_a_port() {
    let rig = Rig::new(3);
    let limited = linux_bridge(&rig, 3, 4, 64);
    rig.sut_ip("bridge", &["link", "set", "dev", "s0", "hairpin", "on"]);
    rig.sut_ip(
        "bridge",
        &["link", "set", "dev", "s1", "mcast_flood", "off"],
    );
    let keys = if limited {
        "ageing_time = 4\nfdb_max_learned = 64"
    } else {
        "ageing_time = 4"
    };
    // The address tests last: the bridge's table is then read as they left it.
    let text = scenario(keys, &format!("{MATRIX}{PATHS}{SWEEP}{}", addresses(96)));
    let (code, result, stderr) = rig.run(&rig.scenario("bridge", &text), &[]);
    let left_behind = bridge_entries(&rig, "06:");
    assert_eq!(code, 1, "the bridge differs from the reference: {stderr}");
    assert!(
        stderr.contains("t1: peer far"),
        "the notice before sending: {stderr}"
    );

    let found = deviations(&result);
    let ways: Vec<&str> = found.iter().map(|(b, _)| b.as_str()).collect();
    assert_eq!(
        ways,
        [
            "hairpins: frames leave by the port they came in on",
            "drops unregistered IPv4 multicast",
            "drops IPv6 all-nodes multicast",
            "drops unregistered IPv4 multicast (802.1Q-tagged)",
            "drops IPv6 all-nodes multicast (802.1Q-tagged)",
        ],
        "{found:?}"
    );
    let (_, hairpinned) = &found[0];
    assert!(
        hairpinned
            .iter()
            .all(|c| c == "e1 -> e2" || c == "e2 -> e1"),
        "{hairpinned:?}"
    );
    for (_, cells) in &found[1..] {
        assert!(cells.iter().all(|c| c.ends_with("-> far")), "{cells:?}");
    }
    check_paths(&rig, &result, 50);

    let caching = test(&result, "address_caching");
    assert_eq!(
        caching["switch_learned"],
        Value::Null,
        "unknown: the bridge is not mvlab's"
    );
    let learning = test(&result, "address_learning_rate");
    assert!(
        learning["learning_rate_pps"].as_f64().unwrap() > 0.0,
        "{learning}"
    );
    if limited {
        assert_eq!(caching["capacity"], 64, "{caching}");
        assert_eq!(caching["switch_limit"], 64);
        // The bridge's own table after the last trial (65 addresses, the search's last step):
        // full at its limit, by `bridge fdb`.
        assert_eq!(left_behind, 64);
    } else {
        assert_eq!(
            (caching["capacity"].as_u64(), caching["at_least"].as_bool()),
            (Some(96), Some(true))
        );
    }
}

#[test]
fn open_vswitch_evicts_when_full_and_learns_per_vlan() {
    let rig = Rig::new(3);
    let ovs = Ovs::start(&rig, 3, 32, 15);
    let text = scenario(
        "ageing_time = 15\ntable_full = \"evict-oldest\"\nfdb_max_learned = 32",
        &format!("{MATRIX}{PATHS}{SWEEP}{}", addresses(48)),
    );
    let (code, result, stderr) = rig.run(&rig.scenario("ovs", &text), &[]);
    assert_eq!(code, 1, "Open vSwitch differs from the reference: {stderr}");
    let found = deviations(&result);
    let ways: Vec<&str> = found.iter().map(|(b, _)| b.as_str()).collect();
    assert_eq!(
        ways,
        ["floods learned unicast (802.1Q-tagged): frames for one station reach another"],
        "{found:?}"
    );
    check_paths(&rig, &result, 50);

    // The table holds the learning addresses and the test port's own: its size, exactly.
    let caching = test(&result, "address_caching");
    assert_eq!(caching["capacity"], 31, "{caching}");
    assert_eq!(caching["table_entries"], 32, "{caching}");
    assert_eq!(ovs.entries(), 32, "fdb/show: the table is full");
    assert!(
        ovs.stat("Total number of evicted MAC entries") > 0,
        "it evicted"
    );
}

#[test]
fn switch_serve_holds_its_table_size_and_port_security_between_real_ports() {
    let rig = Rig::new(3);
    let settings = rig.scenario(
        "settings",
        &format!(
            r#"[switch]
kind = "emulated"
ageing_time = 2
fdb_max_learned = 32
[[parents]]
name = "s0"
[[networks]]
[[peers]]
name = "a"
[[peers]]
name = "b"
port = {{ max_macs = 3, violation = "protect", static_macs = ["{MON_MAC}"] }}
"#
        ),
    );
    let serve = Serve::start(&rig, 3, &settings);
    // What arrives at far's tester interface (the switch's side would not do: `switch serve`
    // sends with PACKET_QDISC_BYPASS, past the taps).
    let tap = Tap::on(&rig.tester, "t1", &format!("{}-t1", rig.id), &["-Q", "in"]);
    // Mon's port secures its static address and two of the sweep's, which age out (2 s)
    // before the address tests; a static entry takes no room in the table.
    let text = scenario(
        "ageing_time = 3\nfdb_max_learned = 32",
        &format!("{MATRIX}{PATHS}{SWEEP}{}", addresses(48)),
    );
    let (code, result, stderr) = rig.run(&rig.scenario("serve", &text), &[]);
    let frames = tap.frames();
    let report = serve.stop();
    assert_eq!(
        code, 0,
        "the emulated switch is the reference's twin: {stderr}"
    );
    assert!(deviations(&result).is_empty());
    check_paths(&rig, &result, 2);
    let caching = test(&result, "address_caching");
    assert_eq!(caching["capacity"], 32, "{caching}");
    // tcpdump on far's tester interface: of the sweep's sources only two ever arrived.
    let mut swept: Vec<&str> = frames
        .iter()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|m| m.starts_with("06:"))
        .collect();
    swept.sort_unstable();
    swept.dedup();
    assert_eq!(swept.len(), 2, "{swept:?}");
    assert!(report.contains("security-protect"), "{report}");
}

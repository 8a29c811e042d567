//! Latency, throughput and RFC 2544 measured on real labs built from scenario text, each result
//! checked by an independent means: the receiver's own kernel counters (`ip -s -j link` in its
//! namespace), tshark reading the pcapng files, a one-way latency against the round trip of the
//! same path, a second trial at the rate an RFC 2544 search found, and loss caused for real (a
//! switch port set down mid-trial, a VEPA path without hairpin that the model says delivers
//! nothing). Trials are short and run one at a time: the machine has two cores shared with others.
//! Needs root; fails without it.

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mvlab::diag::{Outcome, Source};
use mvlab::lab::{Lab, LabOptions};
use mvlab::measure::path::Encapsulation;
use mvlab::measure::throughput::RxRateBasis;
use mvlab::measure::{Bench, MeasureError, latency, rfc2544, throughput};
use mvlab::scenario::{self, LatencyTest, Rfc2544Test, Scenario, TestKind, ThroughputTest};
use mvlab::stop::Stop;
use mvlab::units::Rate;

/// Background frames (ARP, the receiver's ICMP errors answered) a counter may see beside ours.
const BACKGROUND: u64 = 50;

/// One measurement at a time: two labs sending at once would share two cores.
static SERIAL: Mutex<()> = Mutex::new(());

/// A live lab built from scenario text, with what a `Bench` borrows.
struct Bed {
    scenario: Scenario,
    lab: Option<Lab>,
    stop: Stop,
    /// Every progress line the measurements reported.
    lines: Arc<Mutex<Vec<String>>>,
    progress: Box<dyn Fn(&str) + Send + Sync>,
    pcap_dir: PathBuf,
}

impl Bed {
    fn up(tag: &str, text: &str) -> Bed {
        assert!(
            nix::unistd::geteuid().is_root(),
            "the measurement tests build labs in network namespaces and must run as root (sudo scripts/test)"
        );
        static N: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "mvtest-perf-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        let scenario = scenario::parse(Source::new(format!("{tag}.toml"), text))
            .unwrap_or_else(|d| panic!("scenario {tag}: {d}"));
        let lab = Lab::up(
            &scenario,
            LabOptions {
                name: Some(name.clone()),
                ..LabOptions::default()
            },
        )
        .unwrap_or_else(|e| panic!("lab up {tag}: {e}"));
        let pcap_dir = std::env::temp_dir().join(&name);
        std::fs::create_dir_all(&pcap_dir).expect("pcap directory");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        Bed {
            scenario,
            lab: Some(lab),
            stop: Stop::new(),
            lines,
            progress: Box::new(move |line: &str| sink.lock().unwrap().push(line.to_string())),
            pcap_dir,
        }
    }

    fn lab(&self) -> &Lab {
        self.lab.as_ref().expect("the lab is up")
    }

    fn bench(&self) -> Bench<'_> {
        Bench {
            lab: self.lab(),
            scenario: &self.scenario,
            stop: &self.stop,
            max_pps: None,
            pcap_dir: Some(self.pcap_dir.clone()),
            progress: &*self.progress,
        }
    }

    fn test(&self, name: &str) -> &TestKind {
        &self
            .scenario
            .tests
            .iter()
            .find(|t| t.name == name)
            .unwrap_or_else(|| panic!("no test {name}"))
            .kind
    }

    fn throughput_test(&self, name: &str) -> &ThroughputTest {
        match self.test(name) {
            TestKind::Throughput(t) => t,
            other => panic!("{name} is {other:?}"),
        }
    }

    fn latency_test(&self, name: &str) -> &LatencyTest {
        match self.test(name) {
            TestKind::Latency(t) => t,
            other => panic!("{name} is {other:?}"),
        }
    }

    fn rfc2544_test(&self, name: &str) -> &Rfc2544Test {
        match self.test(name) {
            TestKind::Rfc2544(t) => t,
            other => panic!("{name} is {other:?}"),
        }
    }

    fn netns(&self, node: &str) -> String {
        self.lab()
            .node(node)
            .unwrap_or_else(|| panic!("no node {node}"))
            .inventory
            .netns
            .clone()
    }

    /// The kernel's receive packet counter of `iface` in `node`, read by `ip`.
    fn rx_packets(&self, node: &str, iface: &str) -> u64 {
        let v: serde_json::Value = serde_json::from_slice(
            &run(&[
                "ip",
                "-n",
                &self.netns(node),
                "-j",
                "-s",
                "link",
                "show",
                "dev",
                iface,
            ])
            .stdout,
        )
        .expect("ip -j output");
        v[0]["stats64"]["rx"]["packets"]
            .as_u64()
            .expect("rx packets")
    }

    /// Frames matching a display filter in a pcapng file this bed's measurements wrote.
    fn tshark_count(&self, file: &str, filter: &str) -> u64 {
        let path = self.pcap_dir.join(file);
        assert!(path.exists(), "{} was not written", path.display());
        let out = run(&[
            "tshark",
            "-r",
            path.to_str().unwrap(),
            "-Y",
            filter,
            "-T",
            "fields",
            "-e",
            "frame.number",
        ]);
        String::from_utf8_lossy(&out.stdout).lines().count() as u64
    }

    fn ipv4(&self, node: &str) -> String {
        let lab = self.lab();
        let ifaces = &lab.node(node).expect("node").inventory.interfaces;
        ifaces[0].ipv4[0].ip().to_string()
    }

    /// Removes the lab and checks it left no namespace.
    fn down(mut self) {
        let lab = self.lab.take().expect("the lab is up");
        let prefix = format!("mvlab-{}-", lab.name());
        lab.down().expect("lab down");
        let left: Vec<String> = mvlab::netns::list_named()
            .unwrap()
            .into_iter()
            .filter(|n| n.starts_with(&prefix))
            .collect();
        assert!(left.is_empty(), "left behind: {left:?}");
    }
}

impl Drop for Bed {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.pcap_dir);
    }
}

fn run(args: &[&str]) -> std::process::Output {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("running {args:?}: {e}"));
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Runs `act` once `node`'s `iface` has received `frames` more frames than when this started;
/// gives up (returning false) once `done` is set.
fn when_received(
    bed: &Bed,
    node: &str,
    iface: &str,
    frames: u64,
    done: &AtomicBool,
    act: impl FnOnce(),
) -> bool {
    let start = bed.rx_packets(node, iface);
    while !done.load(Ordering::SeqCst) {
        if bed.rx_packets(node, iface) >= start + frames {
            act();
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    false
}

#[test]
fn throughput_counts_agree_with_the_receivers_kernel_counter_and_its_pcap() {
    let _serial = serial();
    let bed = Bed::up(
        "tput",
        r#"
[[networks]]
mode = "bridge"

[[tests]]
kind = "throughput"
name = "tput"
from = "e1"
to = "peer"
frame_sizes = [64, 1518]
rate = "2kpps"
duration = "300ms"
"#,
    );
    let test = bed.throughput_test("tput");
    let before = bed.rx_packets("peer", "eth0");
    let r = throughput::measure(&bed.bench(), "tput", test).expect("throughput");
    let after = bed.rx_packets("peer", "eth0");

    assert_eq!(r.points.len(), 2);
    let e1_mac = bed.scenario.endpoint("e1").unwrap().mac.to_string();
    let mut arrived = 0;
    for p in &r.points {
        assert!(p.sent > 0);
        assert_eq!(p.requested_pps, Some(2_000.0));
        assert_eq!(p.offered_pps, p.sent as f64 / 0.3);
        // A paced load far below what this path carries crosses whole, once, in order.
        assert_eq!(
            (p.received, p.duplicates, p.reordered),
            (p.sent, 0, 0),
            "{p:?}"
        );
        assert_eq!((p.capture_drops, p.loss_percent()), (0, 0.0));
        assert_eq!(p.rx_rate_basis, RxRateBasis::Arrivals);
        assert!(p.rx_pps > 0.0);
        assert_eq!(p.flows.len(), 1);
        assert_eq!(p.flows[0].source_mac, e1_mac);
        assert_eq!(p.flows[0].received, p.received);
        arrived += p.received + p.duplicates + p.capture_drops;
    }
    // The receiver's own kernel saw every frame the measurement counted, and little else.
    let counted = after - before;
    assert!(
        counted >= arrived && counted <= arrived + BACKGROUND,
        "ip -s counted {counted}, the measurement {arrived}"
    );

    // 64 bytes cannot hold IPv4 and UDP before the payload: raw EtherType. 1518 is IPv4/UDP
    // between the two lab addresses, and tshark finds each frame in the pcap.
    let (small, large) = (&r.points[0], &r.points[1]);
    assert_eq!(small.encapsulation, Encapsulation::Raw);
    assert_eq!(large.encapsulation, Encapsulation::Ipv4Udp);
    assert_eq!(
        bed.tshark_count(
            "tput@64-peer.pcapng",
            "eth.type == 0x88b5 && frame.len == 60"
        ),
        small.received
    );
    let udp = format!(
        "ip.src == {} && ip.dst == {} && udp.dstport == 9 && frame.len == 1514 && !icmp",
        bed.ipv4("e1"),
        bed.ipv4("peer")
    );
    assert_eq!(
        bed.tshark_count("tput@1518-peer.pcapng", &udp),
        large.received
    );
    assert_eq!(bed.lines.lock().unwrap().len(), 2);
    bed.down();
}

#[test]
fn a_switch_port_going_down_mid_trial_is_loss_on_the_path() {
    let _serial = serial();
    let bed = Bed::up(
        "portdown",
        r#"
[[networks]]
mode = "bridge"

[[tests]]
kind = "throughput"
name = "cut"
from = "e1"
to = "peer"
frame_sizes = [128]
rate = "5kpps"
duration = "5s"
"#,
    );
    // Long enough that the cut lands mid-trial on a slow machine too: in a loaded emulated 6.1
    // the watcher's `ip` calls took the whole of a 1.5 s trial, and every frame arrived.
    let test = bed.throughput_test("cut");
    let before = bed.rx_packets("peer", "eth0");
    let done = AtomicBool::new(false);
    let switch = bed.netns("switch");
    let (result, cut) = std::thread::scope(|s| {
        // p1 is the peer's port (parents' ports come first). Once frames flow, unplug it.
        let watcher = s.spawn(|| {
            when_received(&bed, "peer", "eth0", 500, &done, || {
                run(&["ip", "-n", &switch, "link", "set", "p1", "down"]);
            })
        });
        let result = throughput::measure(&bed.bench(), "cut", test);
        done.store(true, Ordering::SeqCst);
        (result, watcher.join().unwrap())
    });
    assert!(cut, "the trial ended before 500 frames reached the peer");
    let p = &result.expect("throughput").points[0];
    let counted = bed.rx_packets("peer", "eth0") - before;
    assert!(p.received > 0 && p.received < p.sent, "{p:?}");
    assert_eq!(p.capture_drops, 0);
    // Every frame that was not received is the path's loss.
    assert_eq!(
        p.loss_percent(),
        100.0 * (p.sent - p.received) as f64 / p.sent as f64
    );
    assert!(
        counted >= p.received && counted <= p.received + BACKGROUND,
        "ip -s counted {counted}, the measurement {}",
        p.received
    );
    bed.down();
}

#[test]
fn one_way_latency_between_macvlan_siblings_is_positive_and_below_the_round_trip() {
    let _serial = serial();
    let bed = Bed::up(
        "latency",
        r#"
[[networks]]
mode = "bridge"

[[tests]]
kind = "latency"
name = "one-way"
from = "e1"
to = "e2"
rate = "1kpps"
frame_size = 128
duration = "500ms"

[[tests]]
kind = "latency"
name = "round-trip"
method = "round-trip"
from = "e1"
to = "e2"
rate = "1kpps"
frame_size = 128
duration = "500ms"
"#,
    );
    let e2_before = bed.rx_packets("e2", "eth0");
    let one = latency::measure(&bed.bench(), "one-way", bed.latency_test("one-way"))
        .expect("one-way latency");
    let e2_counted = bed.rx_packets("e2", "eth0") - e2_before;
    let e1_before = bed.rx_packets("e1", "eth0");
    let round = latency::measure(&bed.bench(), "round-trip", bed.latency_test("round-trip"))
        .expect("round-trip latency");
    let e1_counted = bed.rx_packets("e1", "eth0") - e1_before;

    for r in [&one, &round] {
        let s = &r.stats;
        assert!(r.sent > 0);
        assert_eq!((r.received, r.capture_drops), (r.sent, 0), "{r:?}");
        assert_eq!(r.encapsulation, Encapsulation::Ipv4Udp);
        assert_eq!(r.rate_pps, 1000.0);
        assert_eq!(s.samples, r.received);
        assert!(s.min_ns > 0, "{s:?}");
        let ordered = [s.min_ns, s.p50_ns, s.p90_ns, s.p99_ns, s.p999_ns, s.max_ns];
        assert!(ordered.windows(2).all(|w| w[0] <= w[1]), "{s:?}");
        assert_eq!(s.histogram.iter().map(|b| b.1).sum::<u64>(), s.samples);
    }
    // One crossing of the path takes less than going there and back through a reflector.
    assert!(one.stats.min_ns < round.stats.min_ns, "{one:?}\n{round:?}");
    assert!(one.stats.p50_ns < round.stats.p50_ns, "{one:?}\n{round:?}");

    // The receivers' kernels saw what the captures counted: e2 the one-way frames, e1 the
    // reflected ones.
    for (counted, received) in [(e2_counted, one.received), (e1_counted, round.received)] {
        assert!(
            counted >= received && counted <= received + BACKGROUND,
            "ip -s counted {counted}, the measurement {received}"
        );
    }
    let one_way_frames = format!(
        "ip.src == {} && ip.dst == {} && udp.dstport == 9 && !icmp",
        bed.ipv4("e1"),
        bed.ipv4("e2")
    );
    assert_eq!(
        bed.tshark_count("one-way-e2.pcapng", &one_way_frames),
        one.received
    );
    // The round trip's capture is at the sender: the frames came back from e2's MAC (e2's ICMP
    // port-unreachable errors quote the same addresses, hence `!icmp`).
    let e2_mac = bed.scenario.endpoint("e2").unwrap().mac;
    assert_eq!(
        bed.tshark_count(
            "round-trip-e1.pcapng",
            &format!("eth.src == {e2_mac} && {one_way_frames}")
        ),
        round.received
    );
    bed.down();
}

#[test]
fn rfc2544_throughput_lies_within_its_search_and_a_trial_at_it_passes() {
    let _serial = serial();
    let bed = Bed::up(
        "rfc2544",
        r#"
[[networks]]
mode = "bridge"

[[tests]]
kind = "rfc2544"
name = "rfc"
from = "e1"
to = "e2"
frame_sizes = [64, 256]
trial = "200ms"
max_rate = "20kpps"
resolution = "10%"
"#,
    );
    let test = bed.rfc2544_test("rfc");
    let r = rfc2544::measure(&bed.bench(), "rfc", test).expect("rfc2544");
    assert_eq!((r.trial_s, r.resolution_percent), (0.2, 10.0));
    assert_eq!(r.sizes.len(), 2);
    for s in &r.sizes {
        assert_eq!(s.max_offered_pps, 20_000.0);
        let passing = s.search.iter().filter(|t| t.passed);
        let best = passing.map(|t| t.offered_pps).fold(0.0, f64::max);
        assert_eq!(s.throughput_pps, best);
        assert!(s.throughput_pps > 0.0, "{s:?}");
        // Every failing trial lies above the throughput: it is the search's lower bound.
        for t in s.search.iter().filter(|t| !t.passed) {
            assert!(t.offered_pps > s.throughput_pps, "{s:?}");
        }
        assert_eq!(
            s.throughput_bps_l1,
            s.throughput_pps * 8.0 * f64::from(s.frame_size + 20)
        );
        let latency = s.latency.as_ref().expect("latency at the throughput rate");
        assert!(latency.samples > 0 && latency.min_ns > 0);
        // Frame loss starts at 100% with the search's first trial and ends on two quiet trials.
        assert_eq!(s.frame_loss[0], s.search[0]);
        let quiet = s.frame_loss.len() >= 2
            && s.frame_loss[s.frame_loss.len() - 2..]
                .iter()
                .all(|t| t.loss_percent == 0.0);
        assert!(quiet || s.frame_loss.len() == 10, "{:?}", s.frame_loss);
        let b2b = s.back_to_back.as_ref().expect("back-to-back");
        assert_eq!(b2b.trials.len(), rfc2544::B2B_REPEATS);
        assert_eq!(b2b.longest_tried, 4_000);
        assert!(b2b.trials.iter().all(|&n| n <= b2b.longest_tried));
        assert!(b2b.frames > 0.0);

        // An independent trial well inside the throughput found crosses within the tolerance
        // (at the throughput itself a repeat is a coin toss on a busy or emulated machine: the
        // search stops where loss begins).
        let check = ThroughputTest {
            from: "e1".into(),
            to: "e2".into(),
            frame_sizes: vec![s.frame_size],
            rate: Rate::Pps(s.throughput_pps / 2.0),
            duration: test.trial,
        };
        let again = throughput::measure(&bed.bench(), "check", &check).expect("throughput");
        assert!(
            again.points[0].loss_percent() <= test.loss_tolerance,
            "{:?}",
            again.points[0]
        );
    }
    assert_eq!(r.sizes[0].encapsulation, Encapsulation::Raw);
    assert_eq!(r.sizes[1].encapsulation, Encapsulation::Ipv4Udp);
    bed.down();
}

#[test]
fn rfc2544_on_a_path_that_delivers_nothing_finds_zero_and_runs_every_bounded_step() {
    let _serial = serial();
    // VEPA without hairpin: e1's frames to e2 leave by the parent and the switch never sends
    // them back out of the port they came in on (macvlan_queue_xmit; br_forward.c
    // should_deliver), so e2 receives none.
    let bed = Bed::up(
        "vepa",
        r#"
[[networks]]
mode = "vepa"

[[tests]]
kind = "rfc2544"
name = "dead"
from = "e1"
to = "e2"
frame_sizes = [128]
trial = "100ms"
max_rate = "5kpps"
resolution = "10%"
"#,
    );
    let before = bed.rx_packets("e2", "eth0");
    let r = rfc2544::measure(&bed.bench(), "dead", bed.rfc2544_test("dead")).expect("rfc2544");
    let counted = bed.rx_packets("e2", "eth0") - before;
    let s = &r.sizes[0];
    assert_eq!(s.throughput_pps, 0.0);
    // 100% -> 50 -> 25 -> 12.5 -> 6.25: within 10% of the maximum after four halvings.
    assert_eq!(s.search.len(), 5, "{:?}", s.search);
    for t in s.search.iter().chain(&s.frame_loss) {
        assert!(t.sent > 0 && t.received == 0 && !t.passed, "{t:?}");
        assert_eq!((t.loss_percent, t.capture_drops), (100.0, 0));
    }
    assert!(s.latency.is_none());
    assert_eq!(s.frame_loss.len(), 10);
    let b2b = s.back_to_back.as_ref().unwrap();
    assert_eq!((b2b.frames, b2b.longest_tried), (0.0, 500));
    assert!(b2b.bursts > rfc2544::B2B_REPEATS as u64);
    // e2's kernel saw none of the hundreds of frames sent.
    let sent: u64 = s.search.iter().chain(&s.frame_loss).map(|t| t.sent).sum();
    assert!(sent > 1_000);
    assert!(counted <= BACKGROUND, "e2 received {counted} frames");
    bed.down();
}

#[test]
fn a_signal_ends_a_trial_early_and_errors_keep_their_exit_class() {
    let _serial = serial();
    let bed = Bed::up(
        "stop",
        r#"
[[networks]]
mode = "bridge"

[[tests]]
kind = "throughput"
name = "long"
from = "e1"
to = "e2"
frame_sizes = [64]
rate = "1kpps"
duration = "60s"
"#,
    );
    let test = bed.throughput_test("long");
    let before = bed.rx_packets("e2", "eth0");
    let done = AtomicBool::new(false);
    let (result, stopped) = std::thread::scope(|s| {
        let watcher =
            s.spawn(|| when_received(&bed, "e2", "eth0", 100, &done, || bed.stop.request()));
        let result = throughput::measure(&bed.bench(), "long", test);
        done.store(true, Ordering::SeqCst);
        (result, watcher.join().unwrap())
    });
    assert!(stopped);
    let err = result.expect_err("a stopped trial is no result");
    assert!(matches!(err, MeasureError::Interrupted), "{err}");
    // Far fewer than the 60 000 frames a whole trial sends reached e2.
    let counted = bed.rx_packets("e2", "eth0") - before;
    assert!(counted < 30_000, "e2 received {counted} frames");

    // A fresh stop: the one above stays requested for good.
    let fresh = Stop::new();
    let bench = Bench {
        stop: &fresh,
        ..bed.bench()
    };
    let unknown = ThroughputTest {
        from: "e9".into(),
        ..test.clone()
    };
    let err = throughput::measure(&bench, "x", &unknown).unwrap_err();
    assert!(
        matches!(err, MeasureError::NoStation(ref s) if s == "e9"),
        "{err}"
    );
    assert_eq!(err.outcome(), Outcome::BadInput);
    // The engine refuses a frame above the MTU before sending: the error comes back whole.
    let jumbo = ThroughputTest {
        frame_sizes: vec![9018],
        duration: Duration::from_millis(100),
        ..test.clone()
    };
    let err = throughput::measure(&bench, "x", &jumbo).unwrap_err();
    assert!(matches!(err, MeasureError::Engine(_)), "{err}");
    assert!(err.to_string().contains("MTU"), "{err}");
    assert_eq!(err.outcome(), Outcome::BadInput);
    bed.down();
}

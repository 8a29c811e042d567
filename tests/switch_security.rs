//! Port security on the emulated switch, the classic "the switch allows N MACs per port"
//! validation: a port allowing 2 source MACs, 1 to 4 macvlan endpoints behind it, each sending
//! a burst to a peer in turn. tcpdump on the peer (an independent view) shows whose frames got
//! through; the number of endpoints that all get through before one does not is the limit the
//! switch enforces, in every violation mode. The switch's counters and event log must account
//! for every frame it refused. Needs root; fails without it.

mod lab_support;
mod switch_support;

use lab_support::{mvlab, require_root, unique};
use mvlab::diag::Source;
use mvlab::lab::{Lab, LabOptions};
use mvlab::scenario::{self, Scenario};
use mvlab::switch::{DropReason, EntryKind, EventKind, SwitchReport};
use switch_support::{Tap, from};

const MAX_MACS: usize = 2;
const BURST: usize = 3;

fn scenario(violation: &str, endpoints: usize, sticky: bool) -> Scenario {
    let text = format!(
        r#"
[switch]
kind = "emulated"
[[parents]]
port = {{ max_macs = {MAX_MACS}, violation = "{violation}", sticky = {sticky} }}
[[networks]]
mode = "bridge"
[[networks.endpoints]]
count = {endpoints}
[[peers]]
name = "peer"
"#
    );
    scenario::parse(Source::new("security.toml", text)).unwrap_or_else(|d| panic!("{d}"))
}

/// Frames from each endpoint (in order) that tcpdump on the peer saw, and the switch's report.
fn bursts(s: &Scenario) -> (Vec<usize>, SwitchReport) {
    require_root();
    let lab = Lab::up(
        s,
        LabOptions {
            name: Some(unique("sws")),
            prefix: "mvtest".into(),
            ..LabOptions::default()
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let ns = |node: &str| lab.node(node).unwrap().inventory.netns.clone();
    let tap = Tap::start(&ns("peer"), &unique("sws"));
    let peer_mac = s.peers[0].mac.to_string();
    for e in &s.endpoints {
        let out = mvlab()
            .args([
                "gen",
                "--netns",
                &ns(&e.name),
                "--iface",
                "eth0",
                "--dst",
                &peer_mac,
            ])
            .args(["--count", &BURST.to_string()])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let lines = tap.frames();
    let seen = s
        .endpoints
        .iter()
        .map(|e| from(&lines, &e.mac.to_string()).len())
        .collect();
    let report = lab.switch_report().unwrap().unwrap();
    lab.down().unwrap();
    (seen, report)
}

/// How many endpoints in a row got all their frames through.
fn allowed(seen: &[usize]) -> usize {
    seen.iter().take_while(|&&n| n == BURST).count()
}

#[test]
fn a_growing_number_of_endpoints_finds_the_limit_in_every_mode() {
    for violation in ["protect", "restrict", "shutdown"] {
        let mut limit = None;
        for endpoints in 1..=MAX_MACS + 2 {
            let (seen, report) = bursts(&scenario(violation, endpoints, false));
            let through = allowed(&seen);
            assert_eq!(
                through,
                endpoints.min(MAX_MACS),
                "{violation}, {endpoints} endpoints: frames seen per endpoint {seen:?}"
            );
            assert!(
                seen[through..].iter().all(|&n| n == 0),
                "{violation}: past the limit nothing gets through: {seen:?}"
            );
            let refused = ((endpoints.saturating_sub(MAX_MACS)) * BURST) as u64;
            let p0 = report.port("p0").unwrap();
            assert_eq!(p0.rx_frames, (endpoints * BURST) as u64);
            assert_eq!(report.dropped, refused, "{violation}: {report:#?}");
            let violations = report
                .events
                .iter()
                .filter(|e| e.kind == EventKind::Violation)
                .count() as u64;
            match violation {
                "protect" => {
                    assert_eq!(p0.drops(DropReason::SecurityProtect), refused);
                    assert_eq!((p0.violations, violations), (0, 0), "protect counts none");
                }
                "restrict" => {
                    assert_eq!(p0.drops(DropReason::SecurityRestrict), refused);
                    assert_eq!((p0.violations, violations), (refused, refused));
                }
                _ => {
                    let stopped = endpoints > MAX_MACS;
                    assert_eq!(p0.state, if stopped { "shutdown" } else { "up" });
                    assert_eq!(p0.drops(DropReason::SecurityShutdown), u64::from(stopped));
                    assert_eq!(
                        p0.drops(DropReason::PortShutDown),
                        refused.saturating_sub(1)
                    );
                    assert_eq!(p0.violations, u64::from(stopped));
                    let shut = report
                        .events
                        .iter()
                        .any(|e| e.kind == EventKind::PortShutDown);
                    assert_eq!(shut, stopped);
                }
            }
            if through < endpoints && limit.is_none() {
                limit = Some(through);
            }
        }
        assert_eq!(
            limit,
            Some(MAX_MACS),
            "{violation}: the switch should allow exactly {MAX_MACS} MACs on the port"
        );
    }
}

#[test]
fn sticky_secure_addresses_are_marked_and_static_ones_listed() {
    let mut s = scenario("restrict", 2, true);
    let extra = "02:00:00:00:5e:01".parse().unwrap();
    s.peers[0].port.policy.static_macs = vec![extra];
    let (seen, report) = bursts(&s);
    assert_eq!(seen, [BURST, BURST]);
    let kinds: Vec<(&str, EntryKind)> = report
        .table
        .iter()
        .map(|e| (e.port.as_str(), e.kind))
        .collect();
    assert_eq!(
        kinds,
        [
            ("p0", EntryKind::Sticky),
            ("p0", EntryKind::Sticky),
            ("p1", EntryKind::Static)
        ]
    );
}

/// The shipped port-security scenario through `mvlab run --prom --report --json`: promtool
/// parses the Prometheus text, whose per-port drop and violation counters are the JSON result's,
/// and the HTML page (read by Python's XML parser) charts every port's frames with the same
/// numbers. The shutdown port is exported as down.
#[test]
fn a_run_exports_the_switch_counters_to_prometheus_and_html() {
    require_root();
    let lab = unique("swx");
    let dir = lab_support::scratch_dir("swx");
    let (prom, json, html) = (dir.join("m.prom"), dir.join("r.json"), dir.join("html"));
    let out = mvlab()
        .arg("run")
        .arg(lab_support::scenario_path("switch-port-security"))
        .args(["--name", &lab, "--prom"])
        .arg(&prom)
        .arg("--json")
        .arg(&json)
        .arg("--report")
        .arg(&html)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let ports = result["switch"]["ports"].as_array().unwrap();
    let text = std::fs::read_to_string(&prom).unwrap();

    let check = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::fs::File::open(&prom).unwrap())
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    let sample = |name: &str, labels: &str| -> f64 {
        let head = format!("{name}{{scenario=\"switch-port-security\",{labels}}} ");
        let line = text
            .lines()
            .find(|l| l.starts_with(&head))
            .unwrap_or_else(|| panic!("no {head} in\n{text}"));
        line[head.len()..].parse().unwrap()
    };
    let mut dropped = 0.0;
    for p in ports {
        let name = p["name"].as_str().unwrap();
        let port = format!("port=\"{name}\"");
        for d in p["drops"].as_array().unwrap() {
            let reason = d["reason"].as_str().unwrap();
            let frames = sample(
                "mvlab_switch_dropped_frames_total",
                &format!("{port},reason=\"{reason}\""),
            );
            assert_eq!(frames, d["frames"].as_f64().unwrap(), "{name} {reason}");
            dropped += frames;
        }
        for (metric, field) in [
            ("mvlab_switch_port_rx_frames_total", "rx_frames"),
            ("mvlab_switch_port_violations_total", "violations"),
        ] {
            assert_eq!(
                sample(metric, &port),
                p[field].as_f64().unwrap(),
                "{metric} {name}"
            );
        }
        let up = sample("mvlab_switch_port_up", &port);
        assert_eq!(up, if p["state"] == "up" { 1.0 } else { 0.0 }, "{name}");
    }
    assert_eq!(dropped, result["switch"]["dropped"].as_f64().unwrap());
    // Each port's violation mode shows: protect drops silently, restrict counts every refused
    // frame, shutdown counts the one that stopped the port.
    let violations = |port: &str| {
        sample(
            "mvlab_switch_port_violations_total",
            &format!("port=\"{port}\""),
        )
    };
    assert_eq!(violations("p0"), 0.0, "protect counts no violation");
    assert!(violations("p1") > 0.0, "restrict counts its violations");
    assert_eq!(
        violations("p2"),
        1.0,
        "shutdown: the frame that stopped the port"
    );
    assert!(dropped > 0.0, "the scenario's violations drop frames");
    assert_eq!(
        sample("mvlab_switch_port_up", "port=\"p2\""),
        0.0,
        "p2 is shut down"
    );

    let reader = r#"
import sys, json, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
svg = next(s for s in root.iter('svg') if s.get('data-chart') == 'switch/ports')
print(json.dumps([dict(e.attrib) for e in svg.iter() if e.get('class') == 'datum']))
"#;
    let parsed = std::process::Command::new("python3")
        .args(["-c", reader])
        .arg(html.join("index.html"))
        .output()
        .unwrap();
    assert!(
        parsed.status.success(),
        "{}",
        String::from_utf8_lossy(&parsed.stderr)
    );
    let data: Vec<serde_json::Value> = serde_json::from_slice(&parsed.stdout).unwrap();
    for p in ports {
        let name = p["name"].as_str().unwrap();
        let bar = data
            .iter()
            .find(|d| d["data-series"] == "received" && d["data-category"] == name)
            .unwrap_or_else(|| panic!("no received bar of {name} in {data:?}"));
        let value: f64 = bar["data-value"].as_str().unwrap().parse().unwrap();
        assert_eq!(value, p["rx_frames"].as_f64().unwrap(), "{name}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

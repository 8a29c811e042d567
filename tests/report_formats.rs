//! The machine formats of a run checked by the tools that consume them: JUnit XML against a JUnit
//! schema with xmllint, Prometheus text with promtool, JSON read back into the result type.

mod tool_support;

use std::process::Command;

use mvlab::delivery::MatrixResult;
use mvlab::delivery::{Addressing, Cell, FrameClass, MatrixSpec};
use mvlab::measure::TestResult;
use mvlab::measure::latency::LatencyResult;
use mvlab::measure::rfc2544::{BackToBack, Rfc2544Result, Rfc2544Size, Trial};
use mvlab::measure::stats::LatencyStats;
use mvlab::measure::throughput::{ThroughputPoint, ThroughputResult};
use mvlab::report;
use mvlab::run::RunResult;
use mvlab::scenario::LatencyMethod;
use mvlab::verdict::ExpectationResult;
use tool_support::pipe;

fn sample() -> RunResult {
    let cell = |from: &str, to: &str, received, promiscuous| Cell {
        from: from.into(),
        to: to.into(),
        class: FrameClass::tagged(Addressing::Broadcast),
        promiscuous,
        sent: 10,
        received,
        leaked: 0,
        expected: Some(10),
        expected_leaked: None,
    };
    let stats = LatencyStats {
        samples: 100,
        min_ns: 5_000,
        mean_ns: 9_000.0,
        p50_ns: 8_000,
        p90_ns: 12_000,
        p99_ns: 20_000,
        p999_ns: 30_000,
        max_ns: 40_000,
        histogram: vec![(10_000, 60), (50_000, 40)],
    };
    RunResult {
        scenario: "quote\"and<angle>&amp".into(),
        description: String::new(),
        lab: "t1".into(),
        kernel: "6.18.0".into(),
        mvlab_version: "0.1.0".into(),
        started: "2026-11-22T10:00:00Z".into(),
        duration_s: 1.5,
        passed: false,
        switch: None,
        addresses: Vec::new(),
        docker: None,
        tests: vec![
            TestResult::Matrix(MatrixResult {
                name: "matrix".into(),
                spec: MatrixSpec {
                    frames: 10,
                    classes: vec![FrameClass::tagged(Addressing::Broadcast)],
                    vlan: 100,
                    promiscuous: vec![false, true],
                },
                senders: vec!["e1".into(), "e2".into()],
                receivers: vec!["host:eth0".into(), "e1".into(), "e2".into()],
                cells: vec![
                    cell("e1", "e2", 10, false),
                    cell("e2", "host:eth0", 3, true),
                ],
                promiscuity: vec![],
                fdb: vec![],
                passes_repeated: 0,
            }),
            TestResult::Latency(LatencyResult {
                name: "latency".into(),
                from: "e1".into(),
                to: "peer".into(),
                method: LatencyMethod::RoundTrip,
                frame_size: 64,
                encapsulation: Default::default(),
                rate_pps: 1000.0,
                sent: 100,
                received: 100,
                capture_drops: 0,
                stats: stats.clone(),
            }),
            TestResult::Throughput(ThroughputResult {
                name: "tput".into(),
                from: "e1".into(),
                to: "peer".into(),
                duration_s: 1.0,
                points: vec![ThroughputPoint {
                    frame_size: 64,
                    sent: 1000,
                    received: 990,
                    rx_pps: 990.0,
                    ..ThroughputPoint::default()
                }],
            }),
            TestResult::Rfc2544(Rfc2544Result {
                name: "rfc2544".into(),
                from: "e1".into(),
                to: "peer".into(),
                trial_s: 1.0,
                loss_tolerance_percent: 0.0,
                resolution_percent: 1.0,
                sizes: vec![Rfc2544Size {
                    frame_size: 64,
                    encapsulation: Default::default(),
                    max_offered_pps: 200_000.0,
                    throughput_pps: 150_000.0,
                    throughput_bps_l1: 150_000.0 * 84.0 * 8.0,
                    search: vec![Trial {
                        offered_pps: 150_000.0,
                        sent: 150_000,
                        received: 150_000,
                        loss_percent: 0.0,
                        passed: true,
                        capture_drops: 0,
                    }],
                    latency: Some(stats),
                    frame_loss: vec![],
                    back_to_back: Some(BackToBack {
                        frames: 1000.0,
                        trials: vec![1000],
                        longest_tried: 2000,
                        bursts: 8,
                    }),
                }],
            }),
        ],
        summary: Vec::new(),
        expectations: vec![
            ExpectationResult {
                test: "matrix".into(),
                text: "e1 -> e2 broadcast-tagged: all".into(),
                expected: "all".into(),
                measured: "10".into(),
                passed: true,
                detail: String::new(),
            },
            ExpectationResult {
                test: "latency".into(),
                text: "p99 < 10us".into(),
                expected: "< 10 us".into(),
                measured: "20 us".into(),
                passed: false,
                detail: "it is 20 us; \"quoted\" <&>".into(),
            },
        ],
    }
}

#[test]
fn junit_validates_against_the_schema() {
    let xml = report::junit::render(&sample());
    let schema = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/junit.xsd");
    let out = pipe(
        Command::new("xmllint").args(["--noout", "--schema", schema, "-"]),
        &xml,
    );
    assert!(
        out.status.success(),
        "{}\n{xml}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(xml.contains("tests=\"2\" failures=\"1\""));
    assert!(xml.contains("<failure message=\"expected &lt; 10 us, measured 20 us\""));
}

#[test]
fn prometheus_text_passes_promtool() {
    let text = report::prom::render(&sample());
    let out = pipe(Command::new("promtool").args(["check", "metrics"]), &text);
    // promtool exits 0 when the exposition parses; lint remarks alone do not fail it.
    assert!(
        out.status.success(),
        "{}\n{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("mvlab_run_passed{scenario=\"quote\\\"and<angle>&amp\""),
        "{text}"
    );
    assert!(text.contains("mvlab_latency_seconds{scenario=\"quote\\\"and<angle>&amp\",test=\"latency\",from=\"e1\",to=\"peer\",method=\"round-trip\",quantile=\"0.99\"} 0.00002"), "{text}");
    assert!(text.contains(
        "mvlab_station_rx_frames{scenario=\"quote\\\"and<angle>&amp\",station=\"host:eth0\"} 3"
    ));
}

#[test]
fn json_round_trips_with_the_documented_names() {
    let json = serde_json::to_value(sample()).unwrap();
    for key in [
        "scenario",
        "passed",
        "tests",
        "expectations",
        "kernel",
        "mvlab_version",
    ] {
        assert!(json.get(key).is_some(), "{key}");
    }
    let cell = &json["tests"][0]["cells"][0];
    assert_eq!(json["tests"][0]["kind"], "matrix");
    for key in [
        "from",
        "to",
        "class",
        "promiscuous",
        "sent",
        "received",
        "expected",
    ] {
        assert!(cell.get(key).is_some(), "{key}");
    }
    assert_eq!(cell["class"], "broadcast-tagged");
    for key in ["text", "expected", "measured", "passed"] {
        assert!(json["expectations"][0].get(key).is_some(), "{key}");
    }
    let back: RunResult = serde_json::from_value(json).unwrap();
    assert_eq!(back.tests.len(), 4);
}

#[test]
fn the_text_report_marks_failures() {
    let text = report::text::render(&sample(), report::paint::Paint(false), true);
    assert!(
        text.contains("FAILED: 1 of 2 expectation(s) did not hold"),
        "{text}"
    );
    assert!(text.contains("3!"), "{text}");
    assert!(text.contains("broadcast-tagged, not promiscuous"));
}

#[test]
fn mapped_addresses_show_the_users_own_beside_the_labs() {
    let mut run = sample();
    run.addresses = vec![mvlab::scenario::MappedAddress {
        node: "web".into(),
        lab: "198.18.0.50".parse().unwrap(),
        yours: "192.168.1.50".parse().unwrap(),
    }];
    let text = report::text::render(&run, report::paint::Paint(false), false);
    let line = text
        .lines()
        .find(|l| l.contains("198.18.0.50"))
        .expect("a line for web");
    assert!(
        line.contains("web") && line.contains("192.168.1.50"),
        "{line}"
    );
    let json = serde_json::to_value(&run).unwrap();
    assert_eq!(json["addresses"][0]["yours"], "192.168.1.50");
    assert_eq!(json["addresses"][0]["lab"], "198.18.0.50");
    assert!(
        serde_json::to_value(sample())
            .unwrap()
            .get("addresses")
            .is_none()
    );
}

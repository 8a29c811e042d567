//! The exhaustion tests' results through every renderer, read back by the tools that consume
//! them: the HTML page by an XML parser (Python's ElementTree), every chart carrying the
//! result's own numbers; JUnit XML by xmllint against the JUnit schema; Prometheus text by
//! promtool; JSON back into the result type with the kinds' documented names.

mod tool_support;

use std::process::Command;

use mvlab::measure::TestResult;
use mvlab::measure::address_caching::{AddressCachingResult, AddressTrial};
use mvlab::measure::address_learning_rate::AddressLearningRateResult;
use mvlab::measure::endpoint_ramp::{
    BroadcastTrial, EndpointRampResult, LossCause, MemoryUse, RampStep, UnicastTrials,
};
use mvlab::measure::ip_exhaustion::{FirstRefusal, IpExhaustionResult, IpamOutcome, NeighbourFill};
use mvlab::measure::kstat::{NeighbourStats, NeighbourTable};
use mvlab::measure::mac_sweep::{MacSweepResult, SweepReceiver};
use mvlab::measure::stats::LatencyStats;
use mvlab::measure::throughput::ThroughputPoint;
use mvlab::report;
use mvlab::run::RunResult;
use mvlab::scenario::MacOrder;
use mvlab::verdict::ExpectationResult;
use serde_json::Value;
use tool_support::pipe;

fn trial(addresses: u32, learned: u32) -> AddressTrial {
    AddressTrial {
        addresses,
        learning_sent: u64::from(addresses),
        learning_pps: 20_000.0,
        switch_learned: Some(learned),
        test_sent: u64::from(addresses),
        flooded: u64::from(addresses - learned),
        delivered: u64::from(addresses),
        capture_drops: 0,
        passed: addresses == learned,
    }
}

fn step(endpoints: u32, lost: u64) -> RampStep {
    let expected = 100 * u64::from(endpoints);
    RampStep {
        endpoints,
        added: endpoints.div_ceil(2),
        create_s: 0.002 * f64::from(endpoints),
        create_per_endpoint_s: 0.001,
        memory: MemoryUse {
            kernel_kb: 250 * i64::from(endpoints),
            per_endpoint_bytes: 256_000,
            ..MemoryUse::default()
        },
        broadcast: BroadcastTrial {
            sent: 100,
            at_parent: 100,
            expected,
            delivered: expected - lost,
            per_endpoint: (0..endpoints)
                .map(|i| 100 - if i == 0 { lost } else { 0 })
                .collect(),
            loss_percent: 100.0 * lost as f64 / expected as f64,
            causes: if lost == 0 {
                Vec::new()
            } else {
                vec![LossCause {
                    at: "host:eth0 (the macvlan broadcast queue, bcqueuelen 10)".into(),
                    because: "the queue was full".into(),
                    frames: lost,
                    evidence: "kfree_skb: 3 in the queue's enqueue".into(),
                }]
            },
            ..BroadcastTrial::default()
        },
        unicast: UnicastTrials {
            to: format!("ramp-{endpoints}"),
            latency: LatencyStats {
                samples: 100,
                p50_ns: 10_000,
                p99_ns: 30_000,
                ..LatencyStats::default()
            },
            latency_sent: 100,
            latency_received: 100,
            latency_capture_drops: 0,
            throughput: ThroughputPoint {
                frame_size: 64,
                sent: 1000,
                received: 1000,
                rx_pps: 250_000.0,
                ..ThroughputPoint::default()
            },
            causes: Vec::new(),
        },
        degraded: if lost == 0 {
            Vec::new()
        } else {
            vec!["broadcast copies lost".into()]
        },
    }
}

fn fill(table: NeighbourTable) -> NeighbourFill {
    NeighbourFill {
        table,
        peer_ip: "198.18.0.254".parse().unwrap(),
        endpoints: 4,
        thresholds: [128, 512, 1024],
        entries_before: 10,
        entries_after: 18,
        entries: vec![12, 14, 16, 18],
        refused: 1,
        first_refusal: Some(FirstRefusal {
            endpoint: "e4".into(),
            position: 4,
            error: "Invalid argument (os error 22)".into(),
            entries: 1024,
        }),
        first_table_full: Some(4),
        resolved: 3,
        failed: 1,
        peer_entries: 3,
        stats: NeighbourStats {
            table_fulls: 2,
            ..NeighbourStats::default()
        },
        settle_s: 0.1,
    }
}

fn sample() -> RunResult {
    RunResult {
        scenario: "exhaust<&>".into(),
        description: "every exhaustion kind".into(),
        lab: "x1".into(),
        kernel: "6.18.0".into(),
        mvlab_version: "0.1.0".into(),
        started: "2026-11-22T10:00:00Z".into(),
        duration_s: 9.0,
        passed: false,
        tests: vec![
            TestResult::AddressCaching(AddressCachingResult {
                name: "cache".into(),
                learning: "learner".into(),
                test: "tester".into(),
                monitor: "monitor".into(),
                max_addresses: 256,
                rate_pps: Some(20_000.0),
                capacity: 100,
                at_least: false,
                switch_limit: Some(100),
                switch_learned: Some(100),
                table_entries: None,
                trials: vec![trial(256, 100), trial(128, 100), trial(64, 64), trial(100, 100)],
            }),
            TestResult::AddressLearningRate(AddressLearningRateResult {
                name: "rate".into(),
                learning: "learner".into(),
                test: "tester".into(),
                monitor: "monitor".into(),
                addresses: 200,
                max_offered_pps: 300_000.0,
                learning_rate_pps: 150_000.0,
                at_least: false,
                resolution_percent: 5.0,
                trials: vec![
                    AddressTrial {
                        learning_pps: 300_000.0,
                        passed: false,
                        ..trial(200, 150)
                    },
                    AddressTrial {
                        learning_pps: 150_000.0,
                        ..trial(200, 200)
                    },
                ],
            }),
            TestResult::EndpointRamp(EndpointRampResult {
                name: "ramp".into(),
                network: "macnet".into(),
                parent: "host:eth0".into(),
                from: "peer".into(),
                others_on_parent: 0,
                bc_queue_len: Some(10),
                bc_cutoff: None,
                netdev_max_backlog: Some(1000),
                broadcasts: 100,
                rate_pps: None,
                frame_size: 64,
                steps: vec![step(1, 0), step(2, 0), step(4, 12)],
                first_degraded: Some(4),
            }),
            TestResult::MacSweep(MacSweepResult {
                name: "sweep".into(),
                from: "peer".into(),
                to: "e1".into(),
                macs: 1000,
                order: MacOrder::Random,
                rate_pps: Some(50_000.0),
                sent: 1000,
                offered_pps: 50_000.0,
                receivers: vec![
                    SweepReceiver {
                        station: "e1".into(),
                        frames: 999,
                        macs: 998,
                        missing: 2,
                        repeated: 1,
                        histogram: vec![2, 997, 1],
                        missing_examples: vec!["06:00:00:00:00:07".into()],
                        capture_drops: 0,
                        counter_bytes: 4000,
                    },
                    SweepReceiver {
                        station: "e2".into(),
                        missing: 1000,
                        histogram: vec![1000, 0],
                        counter_bytes: 4000,
                        ..SweepReceiver::default()
                    },
                ],
                switch_learned_before: Some(2),
                switch_learned_after: Some(1002),
                switch_limit: None,
                peak_rss_bytes: Some(30 << 20),
            }),
            TestResult::IpExhaustion(IpExhaustionResult {
                name: "ip".into(),
                network: "macnet".into(),
                peer: "peer".into(),
                ipam: Some(IpamOutcome {
                    asked: 300,
                    available: 236,
                    allocated: 236,
                    refused: 64,
                    refusal: Some("network `macnet` needs 300 addresses from its pool 198.18.0.0/24, which has 236 left".into()),
                }),
                neighbours: vec![fill(NeighbourTable::Arp), fill(NeighbourTable::Ndisc)],
            }),
        ],
        summary: Vec::new(),
        expectations: vec![
            ExpectationResult {
                test: "cache".into(),
                text: "capacity = 100".into(),
                expected: "= 100".into(),
                measured: "100".into(),
                passed: true,
                detail: String::new(),
            },
            ExpectationResult {
                test: "ramp".into(),
                text: "broadcast_loss@4 = 0%".into(),
                expected: "= 0%".into(),
                measured: "3% @4".into(),
                passed: false,
                detail: "expected = 0%, but the value@4 is 3%".into(),
            },
        ],
        switch: None,
        addresses: Vec::new(),
        docker: None,
    }
}

/// Every chart of the page: its key and its data elements' attributes.
const READER: &str = r#"
import sys, json, xml.etree.ElementTree as ET
root = ET.fromstring(sys.stdin.buffer.read())
print(json.dumps([
    {'chart': svg.get('data-chart'),
     'data': [dict(e.attrib) for e in svg.iter() if e.get('class') == 'datum'],
     'rules': [e.get('data-y') for e in svg.iter() if e.get('class') == 'rule']}
    for svg in root.iter('svg')]))
"#;

fn charts(page: &str) -> Vec<Value> {
    let out = pipe(Command::new("python3").args(["-c", READER]), page);
    assert!(
        out.status.success(),
        "the page is not well-formed XML: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice::<Vec<Value>>(&out.stdout).unwrap()
}

fn chart<'a>(all: &'a [Value], key: &str) -> &'a Value {
    all.iter()
        .find(|c| c["chart"] == key)
        .unwrap_or_else(|| panic!("no chart {key} among {all:?}"))
}

fn values(chart: &Value, attr: &str) -> Vec<f64> {
    chart["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d[format!("data-{attr}")].as_str().unwrap().parse().unwrap())
        .collect()
}

#[test]
fn every_exhaustion_chart_parses_and_carries_the_results_numbers() {
    let page = report::html::render(&sample());
    std::fs::write(
        std::env::temp_dir().join(format!("exhaustion-{}.html", std::process::id())),
        &page,
    )
    .unwrap();
    let all = charts(&page);
    for c in &all {
        assert!(
            !c["data"].as_array().unwrap().is_empty(),
            "chart {} has no data",
            c["chart"]
        );
    }
    let search = chart(&all, "cache/search");
    assert_eq!(values(search, "y"), [256.0, 128.0, 64.0, 100.0]);
    assert_eq!(
        search["rules"][0], "100",
        "capacity = switch limit drawn once"
    );
    let learned = chart(&all, "cache/learned");
    assert_eq!(
        values(learned, "x"),
        [64.0, 100.0, 128.0, 256.0],
        "sorted by addresses"
    );
    assert_eq!(
        values(chart(&all, "rate/search"), "y"),
        [300_000.0, 150_000.0]
    );
    let delivered = chart(&all, "ramp/broadcast");
    assert_eq!(values(delivered, "x"), [1.0, 2.0, 4.0]);
    assert_eq!(values(delivered, "y")[2], 97.0);
    assert_eq!(
        delivered["data"][2]["data-failed"], "true",
        "the degraded step is marked"
    );
    for key in [
        "ramp/create",
        "ramp/memory",
        "ramp/latency",
        "ramp/throughput",
        "ramp/copies",
    ] {
        chart(&all, key);
    }
    assert_eq!(
        values(chart(&all, "sweep/per-mac"), "value"),
        [2.0, 997.0, 1.0]
    );
    assert_eq!(
        values(chart(&all, "sweep/receivers"), "value"),
        [999.0, 998.0, 0.0, 0.0]
    );
    let entries = chart(&all, "ip/entries");
    assert_eq!(values(entries, "y")[..4], [12.0, 14.0, 16.0, 18.0]);
    assert_eq!(entries["rules"], serde_json::json!(["512", "1024"]));
    assert!(
        page.contains("lost at</th>") || page.contains(">lost at<"),
        "causes table"
    );
    assert!(page.contains("which has 236 left"));
    assert!(!page.contains("<&>"), "the scenario name is escaped");
}

#[test]
fn exhaustion_results_validate_as_junit_and_prometheus_text() {
    let r = sample();
    let schema = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/junit.xsd");
    let xml = report::junit::render(&r);
    let out = pipe(
        Command::new("xmllint").args(["--noout", "--schema", schema, "-"]),
        &xml,
    );
    assert!(
        out.status.success(),
        "{}\n{xml}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = report::prom::render(&r);
    let out = pipe(Command::new("promtool").args(["check", "metrics"]), &text);
    assert!(
        out.status.success(),
        "{}\n{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    for line in [
        "mvlab_address_capacity{scenario=\"exhaust<&>\",test=\"cache\"} 100",
        "mvlab_address_learning_rate_frames_per_second{scenario=\"exhaust<&>\",test=\"rate\"} 150000",
        "mvlab_ramp_broadcast_loss_ratio{scenario=\"exhaust<&>\",test=\"ramp\",endpoints=\"4\"} 0.03",
        "mvlab_ramp_first_degraded_endpoints{scenario=\"exhaust<&>\",test=\"ramp\"} 4",
        "mvlab_mac_sweep_missing_macs{scenario=\"exhaust<&>\",test=\"sweep\",receiver=\"e1\"} 2",
        "mvlab_ipam_addresses{scenario=\"exhaust<&>\",test=\"ip\",state=\"refused\"} 64",
        "mvlab_neighbour_table_fulls{scenario=\"exhaust<&>\",test=\"ip\",table=\"ndisc\"} 2",
    ] {
        assert!(text.contains(line), "{line} missing from\n{text}");
    }
}

#[test]
fn exhaustion_results_round_trip_as_json_with_their_kinds() {
    let json = serde_json::to_value(sample()).unwrap();
    let kinds: Vec<&str> = json["tests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "address_caching",
            "address_learning_rate",
            "endpoint_ramp",
            "mac_sweep",
            "ip_exhaustion"
        ]
    );
    assert_eq!(json["tests"][0]["capacity"], 100);
    assert_eq!(
        json["tests"][2]["steps"][2]["broadcast"]["causes"][0]["frames"],
        12
    );
    assert_eq!(json["tests"][4]["neighbours"][1]["table"], "ndisc");
    let back: RunResult = serde_json::from_value(json).unwrap();
    assert_eq!(back.tests.len(), 5);
    let text = report::text::render(&back, report::paint::Paint(false), false);
    for needle in [
        "capacity 100 addresses; the switch's limit: 100",
        "learning rate 150000 pps",
        "first degraded at 4 endpoints: broadcast copies lost",
        "lost at host:eth0 (the macvlan broadcast queue, bcqueuelen 10) because the queue was full: 12",
        "the kernel refused 1 send(s), first e4 (endpoint #4)",
        "refusal: network `macnet` needs 300 addresses",
    ] {
        assert!(text.contains(needle), "{needle} missing from\n{text}");
    }
}

//! The HTML report read back by an independent XML parser (Python's ElementTree, expat
//! underneath): the page must be well-formed, self-contained, escape hostile names, and every
//! chart must carry data elements whose `data-*` values are the result's own numbers. A
//! 1,000-endpoint matrix must give a small page.

use std::io::Write;
use std::process::{Command, Stdio};

use mvlab::delivery::{Addressing, Cell, FrameClass, MatrixSpec};
use mvlab::delivery::{FdbEntry, MatrixResult, Promiscuity};
use mvlab::measure::TestResult;
use mvlab::measure::latency::LatencyResult;
use mvlab::measure::rfc2544::{BackToBack, Rfc2544Result, Rfc2544Size, Trial};
use mvlab::measure::stats::LatencyStats;
use mvlab::measure::throughput::{FlowCounts, ThroughputPoint, ThroughputResult};
use mvlab::report;
use mvlab::run::RunResult;
use mvlab::scenario::LatencyMethod;
use mvlab::verdict::ExpectationResult;
use serde_json::Value;

const HOSTILE: &str = "<script>alert('x')</script> & \"friends\"";

/// Parses the page and lists what the tests look at, as JSON.
const READER: &str = r#"
import sys, json, xml.etree.ElementTree as ET
root = ET.fromstring(sys.stdin.buffer.read())
charts = []
for svg in root.iter('svg'):
    charts.append({
        'kind': svg.get('data-kind'),
        'chart': svg.get('data-chart'),
        'title': svg.findtext('title'),
        'data': [dict(e.attrib) for e in svg.iter() if e.get('class') == 'datum'],
        'rules': [dict(e.attrib) for e in svg.iter() if e.get('class') == 'rule'],
    })
links = [v for e in root.iter() for k, v in e.attrib.items() if k in ('href', 'src', 'xlink:href')]
print(json.dumps({
    'root': root.tag,
    'tags': sorted({e.tag for e in root.iter()}),
    'title': root.findtext('head/title'),
    'h1': ''.join(root.find('body/header/h1').itertext()),
    'verdict': root.find('body/header/div').get('data-passed'),
    'expectations': [tr.get('data-passed') for tr in root.iter('tr') if tr.get('data-passed') is not None],
    'links': links,
    'charts': charts,
}))
"#;

/// Leaves the page in the temporary directory (writable in a guest kernel too, where the
/// target directory is read-only) for a person to open, and returns its path.
fn keep(name: &str, page: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(name);
    std::fs::write(&path, page).unwrap();
    path
}

fn read(page: &str) -> Value {
    let mut child = Command::new("python3")
        .args(["-c", READER])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 (scripts/setup installs it)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(page.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the page is not well-formed XML: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn chart<'a>(page: &'a Value, key: &str) -> &'a Value {
    page["charts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["chart"] == key)
        .unwrap_or_else(|| panic!("no chart {key}"))
}

fn data(chart: &Value) -> &Vec<Value> {
    chart["data"].as_array().unwrap()
}

/// A numeric `data-*` attribute.
fn num(datum: &Value, attr: &str) -> f64 {
    datum[format!("data-{attr}")]
        .as_str()
        .unwrap_or_else(|| panic!("no data-{attr} in {datum}"))
        .parse()
        .unwrap()
}

fn series<'a>(chart: &'a Value, name: &str) -> Vec<&'a Value> {
    data(chart)
        .iter()
        .filter(|d| d["data-series"] == name)
        .collect()
}

fn stats(scale: u64) -> LatencyStats {
    LatencyStats {
        samples: 1000,
        min_ns: 4_000 * scale,
        mean_ns: 9_500.0 * scale as f64,
        p50_ns: 8_000 * scale,
        p90_ns: 12_000 * scale,
        p99_ns: 20_000 * scale,
        p999_ns: 31_000 * scale,
        max_ns: 45_000 * scale,
        histogram: vec![
            (5_000 * scale, 100),
            (8_000 * scale, 400),
            (12_000 * scale, 400),
            (20_000 * scale, 90),
            (50_000 * scale, 10),
        ],
    }
}

fn flows(n: u32, sent: u64) -> Vec<FlowCounts> {
    (0..n)
        .map(|i| FlowCounts {
            flow: i,
            source_mac: format!("02:00:00:00:{:02x}:{:02x}", i / 256, i % 256),
            sent,
            received: sent - u64::from(i % 7),
            reordered: 0,
            duplicates: 0,
        })
        .collect()
}

fn small_matrix() -> MatrixResult {
    let stations = ["e1", "e2", "e3", "peer", "host:eth0"];
    let classes = vec![
        FrameClass::untagged(Addressing::Unicast),
        FrameClass::untagged(Addressing::Broadcast),
    ];
    let mut cells = Vec::new();
    for promiscuous in [false, true] {
        for class in &classes {
            for from in &stations[..4] {
                for to in &stations {
                    if from == to {
                        continue;
                    }
                    let received = match (*from, *to, class.addressing) {
                        ("e1", "e2", Addressing::Broadcast) => 20,
                        ("e2", "e3", _) => 3,
                        ("e3", "host:eth0", _) => 0,
                        _ => 10,
                    };
                    let leaked = u64::from(promiscuous && *to == "peer");
                    cells.push(Cell {
                        from: from.to_string(),
                        to: to.to_string(),
                        class: *class,
                        promiscuous,
                        sent: 10,
                        received,
                        leaked,
                        expected: Some(10).filter(|_| *from != "e3"),
                        expected_leaked: Some(0),
                    });
                }
            }
        }
    }
    MatrixResult {
        name: "who sees what".into(),
        spec: MatrixSpec {
            frames: 10,
            classes,
            vlan: 100,
            promiscuous: vec![false, true],
        },
        senders: stations[..4].iter().map(|s| s.to_string()).collect(),
        receivers: stations.iter().map(|s| s.to_string()).collect(),
        cells,
        promiscuity: vec![Promiscuity {
            promiscuous_pass: false,
            device: "host:eth0".into(),
            promiscuity: 1,
        }],
        fdb: vec![FdbEntry {
            promiscuous_pass: false,
            port: "p0".into(),
            mac: "02:00:00:00:00:01".into(),
            station: Some("e1".into()),
        }],
        passes_repeated: 0,
    }
}

fn small_run() -> RunResult {
    let trial = |offered_pps: f64, loss_percent: f64| Trial {
        offered_pps,
        sent: offered_pps as u64,
        received: (offered_pps * (1.0 - loss_percent / 100.0)) as u64,
        loss_percent,
        passed: loss_percent == 0.0,
        capture_drops: 0,
    };
    let size = |frame_size: u32, max: f64, tput: f64| Rfc2544Size {
        frame_size,
        encapsulation: Default::default(),
        max_offered_pps: max,
        throughput_pps: tput,
        throughput_bps_l1: tput * f64::from(frame_size + 20) * 8.0,
        search: vec![
            trial(max, 12.5),
            trial(max / 2.0, 0.0),
            trial(max * 0.75, 3.0),
            trial(tput, 0.0),
        ],
        latency: Some(stats(u64::from(frame_size) / 64)),
        frame_loss: (1..=10)
            .rev()
            .map(|k| trial(max * f64::from(k) / 10.0, f64::from(k.max(6) - 6) * 2.5))
            .collect(),
        back_to_back: Some(BackToBack {
            frames: 1234.5,
            trials: vec![1200, 1269],
            longest_tried: 2000,
            bursts: 14,
        }),
    };
    RunResult {
        scenario: HOSTILE.into(),
        description: "bridge mode & a peer".into(),
        lab: "html1".into(),
        kernel: "6.18.0".into(),
        mvlab_version: "0.1.0".into(),
        started: "2026-11-22T10:00:00Z".into(),
        duration_s: 12.25,
        passed: false,
        switch: None,
        addresses: Vec::new(),
        docker: None,
        tests: vec![
            TestResult::Matrix(small_matrix()),
            TestResult::Latency(LatencyResult {
                name: "lat \"one\"".into(),
                from: "e1".into(),
                to: "peer".into(),
                method: LatencyMethod::OneWay,
                frame_size: 64,
                encapsulation: Default::default(),
                rate_pps: 1000.0,
                sent: 1000,
                received: 1000,
                capture_drops: 0,
                stats: stats(1),
            }),
            TestResult::Throughput(ThroughputResult {
                name: "tput".into(),
                from: "e1".into(),
                to: "peer".into(),
                duration_s: 2.0,
                points: vec![
                    ThroughputPoint {
                        frame_size: 64,
                        offered_pps: 0.0,
                        sent: 300_000,
                        received: 299_000,
                        rx_pps: 149_500.0,
                        rx_bps_l2: 149_500.0 * 512.0,
                        rx_bps_l1: 149_500.0 * 672.0,
                        flows: flows(4, 75_000),
                        ..ThroughputPoint::default()
                    },
                    ThroughputPoint {
                        frame_size: 1518,
                        offered_pps: 50_000.0,
                        sent: 100_000,
                        received: 100_000,
                        rx_pps: 50_000.0,
                        flows: flows(5_000, 20),
                        ..ThroughputPoint::default()
                    },
                ],
            }),
            TestResult::Rfc2544(Rfc2544Result {
                name: "rfc".into(),
                from: "e1".into(),
                to: "peer".into(),
                trial_s: 1.0,
                loss_tolerance_percent: 0.0,
                resolution_percent: 1.0,
                sizes: vec![
                    size(64, 400_000.0, 180_000.0),
                    size(512, 200_000.0, 150_000.0),
                    size(1518, 80_000.0, 78_000.0),
                ],
            }),
        ],
        summary: Vec::new(),
        expectations: vec![
            ExpectationResult {
                test: "who sees what".into(),
                text: "e1 receives no unicast from e2".into(),
                expected: "0".into(),
                measured: "0".into(),
                passed: true,
                detail: String::new(),
            },
            ExpectationResult {
                test: "lat \"one\"".into(),
                text: "p99 below 10 us".into(),
                expected: "< 10 us".into(),
                measured: "20 us".into(),
                passed: false,
                detail: "model trace:\n  e3 -> macvlan <bridge>\n  & dropped".into(),
            },
        ],
    }
}

#[test]
fn the_page_parses_and_is_self_contained() {
    let html = report::html::render(&small_run());
    eprintln!("page: {}", keep("report-small.html", &html).display());
    let page = read(&html);
    assert_eq!(page["root"], "html");
    assert!(!html.contains("http"), "an external URL in the page");
    let tags: Vec<&str> = page["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    for banned in ["script", "img", "link", "iframe", "object", "use", "image"] {
        assert!(!tags.contains(&banned), "<{banned}> in the page");
    }
    for link in page["links"].as_array().unwrap() {
        assert!(link.as_str().unwrap().starts_with('#'), "{link}");
    }
    assert!(page["charts"].as_array().unwrap().len() >= 10);
    for c in page["charts"].as_array().unwrap() {
        assert!(
            !data(c).is_empty(),
            "chart {} has no data element",
            c["chart"]
        );
        assert!(c["title"].as_str().is_some_and(|t| !t.is_empty()));
    }
}

#[test]
fn hostile_names_are_escaped() {
    let html = report::html::render(&small_run());
    assert!(!html.contains("<script"), "raw <script> in the page");
    assert!(
        html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;friends&quot;")
    );
    let page = read(&html);
    // The parser gives back exactly the hostile text, as text.
    assert_eq!(page["title"], format!("mvlab: {HOSTILE}"));
    assert_eq!(page["h1"], format!("mvlab run: {HOSTILE}"));
    chart(&page, "lat \"one\"/cdf");
}

#[test]
fn failures_come_first_and_the_verdict_is_shown() {
    let page = read(&report::html::render(&small_run()));
    assert_eq!(page["verdict"], "false");
    assert_eq!(page["expectations"], serde_json::json!(["false", "true"]));
}

#[test]
fn matrix_heat_maps_carry_every_cell() {
    let m = small_matrix();
    let page = read(&report::html::render(&small_run()));
    for &promiscuous in &m.spec.promiscuous {
        for class in &m.spec.classes {
            let pass = if promiscuous {
                "promiscuous"
            } else {
                "not promiscuous"
            };
            let c = chart(&page, &format!("{}/{class}/{pass}", m.name));
            assert_eq!(c["kind"], "heatmap");
            let cells: Vec<&Cell> = m
                .cells
                .iter()
                .filter(|x| x.class == *class && x.promiscuous == promiscuous)
                .collect();
            assert_eq!(data(c).len(), cells.len());
            for d in data(c) {
                let cell = cells
                    .iter()
                    .find(|x| d["data-row"] == x.from.as_str() && d["data-col"] == x.to.as_str())
                    .unwrap_or_else(|| panic!("no cell for {d}"));
                assert_eq!(num(d, "cells"), 1.0);
                assert_eq!(num(d, "sent"), cell.sent as f64);
                assert_eq!(num(d, "received"), cell.received as f64);
                assert_eq!(num(d, "leaked"), cell.leaked as f64);
                assert_eq!(num(d, "value"), cell.received as f64 / cell.sent as f64);
                let wrong = cell.expected.is_some_and(|e| e != cell.received) || cell.leaked != 0;
                assert_eq!(d["data-outlined"] == "true", wrong, "{d}");
                assert_eq!(d["data-marked"] == "true", cell.leaked > 0, "{d}");
                match cell.expected {
                    Some(e) => assert_eq!(num(d, "expected"), e as f64),
                    None => assert!(d.get("data-expected").is_none()),
                }
            }
        }
    }
}

#[test]
fn latency_cdf_is_the_histogram_accumulated() {
    let page = read(&report::html::render(&small_run()));
    let s = stats(1);
    let points = data(chart(&page, "lat \"one\"/cdf"));
    assert_eq!(points.len(), s.histogram.len());
    let mut seen = 0;
    for (p, &(bound, count)) in points.iter().zip(&s.histogram) {
        seen += count;
        assert_eq!(num(p, "x"), bound as f64 / 1e3);
        assert_eq!(num(p, "y"), 100.0 * seen as f64 / s.samples as f64);
    }
}

#[test]
fn throughput_charts_carry_rates_and_per_mac_counts() {
    let run = small_run();
    let TestResult::Throughput(t) = &run.tests[2] else {
        unreachable!()
    };
    let page = read(&report::html::render(&run));
    let rates = chart(&page, "tput/rates");
    let received = series(rates, "received");
    let offered = series(rates, "offered (sent / duration)");
    let loss = data(chart(&page, "tput/loss"));
    for (i, p) in t.points.iter().enumerate() {
        assert_eq!(num(received[i], "value"), p.rx_pps);
        assert_eq!(num(offered[i], "value"), p.sent as f64 / t.duration_s);
        assert_eq!(num(&loss[i], "value"), p.loss_percent());
    }
    // Four flows: a bar each.
    let few = chart(&page, "tput/flows/64");
    for (f, d) in t.points[0].flows.iter().zip(series(few, "received")) {
        assert_eq!(d["data-category"], f.source_mac.as_str());
        assert_eq!(num(d, "value"), f.received as f64);
    }
    // Five thousand: a histogram whose bins hold every MAC once.
    let many = data(chart(&page, "tput/flows/1518"));
    let flows = &t.points[1].flows;
    let mut total = 0.0;
    for bin in many {
        let (lo, hi) = (num(bin, "lo") as u64, num(bin, "hi") as u64);
        let inside = flows
            .iter()
            .filter(|f| (lo..=hi).contains(&f.received))
            .count();
        assert_eq!(num(bin, "value"), inside as f64);
        total += num(bin, "value");
    }
    assert_eq!(total, flows.len() as f64);
}

#[test]
fn rfc2544_charts_carry_throughput_search_loss_and_bursts() {
    let run = small_run();
    let TestResult::Rfc2544(r) = &run.tests[3] else {
        unreachable!()
    };
    let page = read(&report::html::render(&run));
    let pps = chart(&page, "rfc/throughput-pps");
    let mbit = chart(&page, "rfc/throughput-mbit");
    let b2b = data(chart(&page, "rfc/back-to-back"));
    let loss = chart(&page, "rfc/frame-loss");
    let latency = chart(&page, "rfc/latency");
    for (i, s) in r.sizes.iter().enumerate() {
        let p = series(pps, "throughput")[i];
        assert_eq!(num(p, "x"), f64::from(s.frame_size));
        assert_eq!(num(p, "y"), s.throughput_pps);
        assert_eq!(
            num(series(mbit, "throughput")[i], "y"),
            s.throughput_bps_l1 / 1e6
        );
        assert_eq!(num(&b2b[i], "value"), 1234.5);
        let label = format!("{} B", s.frame_size);
        let steps = series(loss, &label);
        assert_eq!(steps.len(), s.frame_loss.len());
        for (d, t) in steps.iter().zip(&s.frame_loss) {
            assert_eq!(num(d, "x"), 100.0 * t.offered_pps / s.max_offered_pps);
            assert_eq!(num(d, "y"), t.loss_percent);
        }
        assert_eq!(
            series(latency, &label).len(),
            s.latency.as_ref().unwrap().histogram.len()
        );
        let search = chart(&page, &format!("rfc/search/{}", s.frame_size));
        assert_eq!(data(search).len(), s.search.len());
        for (n, (d, t)) in data(search).iter().zip(&s.search).enumerate() {
            assert_eq!(num(d, "x"), (n + 1) as f64);
            assert_eq!(num(d, "y"), t.offered_pps);
            assert_eq!(d["data-failed"] == "true", !t.passed);
        }
        let rule = &search["rules"][0];
        assert_eq!(
            rule["data-y"].as_str().unwrap().parse::<f64>().unwrap(),
            s.throughput_pps
        );
    }
}

/// `endpoints` endpoints, a peer and the host's parent (which receives but does not send), every
/// class of `classes` in every pass of `passes`; a few cells broken so that outlines and leak marks
/// show up in the groups.
fn large_run(endpoints: usize, classes: Vec<FrameClass>, passes: Vec<bool>) -> RunResult {
    let stations: Vec<String> = (1..=endpoints)
        .map(|i| format!("e{i}"))
        .chain(["peer".to_string(), "host:eth0".to_string()])
        .collect();
    let senders = stations.len() - 1;
    let mut cells = Vec::with_capacity(classes.len() * passes.len() * senders * stations.len());
    for &promiscuous in &passes {
        for class in &classes {
            for (i, from) in stations.iter().enumerate().take(senders) {
                for (j, to) in stations.iter().enumerate() {
                    if i == j {
                        continue;
                    }
                    let leaked =
                        u64::from(class.addressing == Addressing::Unicast && (i * j) % 997 == 1);
                    let received = if (i + j) % 1009 == 0 { 0 } else { 2 };
                    cells.push(Cell {
                        from: from.clone(),
                        to: to.clone(),
                        class: *class,
                        promiscuous,
                        sent: 2,
                        received,
                        leaked,
                        expected: Some(2),
                        expected_leaked: Some(0),
                    });
                }
            }
        }
    }
    let mut run = small_run();
    run.scenario = format!("{endpoints} endpoints");
    run.tests = vec![TestResult::Matrix(MatrixResult {
        name: "big".into(),
        spec: MatrixSpec {
            frames: 2,
            classes,
            vlan: 100,
            promiscuous: passes,
        },
        senders: stations[..senders].to_vec(),
        receivers: stations.clone(),
        cells,
        promiscuity: vec![],
        fdb: vec![],
        passes_repeated: 0,
    })];
    run
}

#[test]
fn a_thousand_endpoint_matrix_gives_a_small_page_with_the_totals() {
    let classes = vec![
        FrameClass::untagged(Addressing::Unicast),
        FrameClass::untagged(Addressing::Broadcast),
    ];
    let run = large_run(1000, classes, vec![false]);
    let html = report::html::render(&run);
    eprintln!(
        "1,000-endpoint matrix, 2 classes x 1 pass: page {} bytes, {}",
        html.len(),
        keep("report-1000.html", &html).display()
    );
    assert!(
        html.len() < 400_000,
        "the page is {} bytes for 1,000 endpoints",
        html.len()
    );
    let page = read(&html);
    let TestResult::Matrix(m) = &run.tests[0] else {
        unreachable!()
    };
    for class in &m.spec.classes {
        let c = chart(&page, &format!("big/{class}/not promiscuous"));
        let squares = data(c);
        assert!(squares.len() <= 16 * 16, "{} squares", squares.len());
        let cells: Vec<&Cell> = m.cells.iter().filter(|x| x.class == *class).collect();
        let sum = |attr: &str| squares.iter().map(|d| num(d, attr)).sum::<f64>();
        assert_eq!(sum("cells"), cells.len() as f64);
        assert_eq!(
            sum("received"),
            cells.iter().map(|x| x.received).sum::<u64>() as f64
        );
        assert_eq!(
            sum("leaked"),
            cells.iter().map(|x| x.leaked).sum::<u64>() as f64
        );
        let wrong = cells
            .iter()
            .filter(|x| x.received != 2 || x.leaked != 0)
            .count();
        assert!(wrong > 0);
        assert_eq!(sum("unexpected"), wrong as f64);
        // Each square from a group of endpoints to the peer holds its members' sums.
        let mut groups = 0;
        for d in squares.iter().filter(|d| d["data-col"] == "peer") {
            let label = d["data-row"].as_str().unwrap();
            let Some((first, rest)) = label.split_once(" … ") else {
                continue;
            };
            let last = rest.split_once(' ').unwrap().0;
            let index = |name: &str| name[1..].parse::<u32>().unwrap();
            let members = index(first)..=index(last);
            let expected: u64 = cells
                .iter()
                .filter(|x| x.to == "peer" && members.contains(&index(&x.from)))
                .map(|x| x.received)
                .sum();
            assert_eq!(num(d, "received"), expected as f64, "{label}");
            assert_eq!(num(d, "cells"), members.count() as f64, "{label}");
            groups += 1;
        }
        assert!(groups >= 10, "{groups} groups of endpoints");
    }
}

#[test]
fn degenerate_results_still_give_a_well_formed_page() {
    let mut run = small_run();
    run.expectations.clear();
    run.passed = true;
    run.duration_s = f64::NAN;
    run.tests = vec![
        TestResult::Matrix(MatrixResult {
            cells: vec![],
            ..small_matrix()
        }),
        TestResult::Latency(LatencyResult {
            name: "empty".into(),
            from: "e1".into(),
            to: "peer".into(),
            method: LatencyMethod::RoundTrip,
            frame_size: 64,
            encapsulation: Default::default(),
            rate_pps: 0.0,
            sent: 0,
            received: 0,
            capture_drops: 0,
            stats: LatencyStats::default(),
        }),
        TestResult::Throughput(ThroughputResult {
            name: "zero".into(),
            from: "e1".into(),
            to: "peer".into(),
            duration_s: 0.0,
            points: vec![ThroughputPoint::default()],
        }),
        TestResult::Rfc2544(Rfc2544Result {
            name: "none".into(),
            from: "e1".into(),
            to: "peer".into(),
            trial_s: 1.0,
            loss_tolerance_percent: 0.0,
            resolution_percent: 1.0,
            sizes: vec![],
        }),
    ];
    let page = read(&report::html::render(&run));
    assert_eq!(page["verdict"], "true");
    assert!(
        chart(&page, "empty/cdf")["data"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[test]
fn a_grouped_page_is_bounded_by_classes_and_passes_not_by_stations() {
    // Every class in both passes: twenty heat maps of at most 16 x 16 squares, whatever the count
    // of stations (120 endpoints keep the test light; the squares are the same as for 1,000).
    let html = report::html::render(&large_run(120, FrameClass::all(), vec![false, true]));
    let page = read(&html);
    let maps: Vec<&Value> = page["charts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["kind"] == "heatmap")
        .collect();
    assert_eq!(maps.len(), 20);
    for m in &maps {
        assert!(data(m).len() <= 16 * 16);
    }
    eprintln!(
        "120-endpoint matrix, 10 classes x 2 passes: page {} bytes, {}",
        html.len(),
        keep("report-120-all.html", &html).display()
    );
    assert!(html.len() < 3_500_000, "the page is {} bytes", html.len());
}

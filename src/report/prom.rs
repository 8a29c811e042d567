//! Prometheus text exposition (format 0.0.4) of a run, for a textfile collector or a push gateway:
//! the verdict, each expectation, per-station frames sent and received, matrix cells, latency
//! quantiles, throughput and loss, RFC 2544 throughput. Every series carries `scenario`; the names
//! follow Prometheus conventions (base units: seconds, ratios, bits).

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::measure::latency::LatencyStats;
use crate::measure::{RunResult, TestResult};

/// Escapes a label value: backslash, double quote and newline.
fn label(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// A metric family being written: HELP and TYPE once, then its samples.
struct Family<'a> {
    out: &'a mut String,
}

impl<'a> Family<'a> {
    fn new(out: &'a mut String, name: &str, kind: &str, help: &str) -> Family<'a> {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        Family { out }
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        let labels: Vec<String> = labels
            .iter()
            .map(|(k, v)| format!("{k}=\"{}\"", label(v)))
            .collect();
        let _ = writeln!(self.out, "{name}{{{}}} {value}", labels.join(","));
    }
}

fn latency_summary(f: &mut Family<'_>, name: &str, base: &[(&str, &str)], s: &LatencyStats) {
    for (q, v) in [
        ("0.5", s.p50_ns),
        ("0.9", s.p90_ns),
        ("0.99", s.p99_ns),
        ("0.999", s.p999_ns),
    ] {
        let mut labels = base.to_vec();
        labels.push(("quantile", q));
        f.sample(name, &labels, v as f64 / 1e9);
    }
    f.sample(
        &format!("{name}_sum"),
        base,
        s.mean_ns * s.samples as f64 / 1e9,
    );
    f.sample(&format!("{name}_count"), base, s.samples as f64);
}

pub fn render(r: &RunResult) -> String {
    let mut out = String::new();
    let sc = r.scenario.as_str();
    Family::new(
        &mut out,
        "mvlab_run_passed",
        "gauge",
        "Whether every expectation of the run held (1) or not (0).",
    )
    .sample(
        "mvlab_run_passed",
        &[
            ("scenario", sc),
            ("kernel", &r.kernel),
            ("mvlab", &r.mvlab_version),
        ],
        f64::from(u8::from(r.passed)),
    );
    let mut f = Family::new(
        &mut out,
        "mvlab_expectation_passed",
        "gauge",
        "Whether one expectation held (1) or not (0).",
    );
    for e in &r.expectations {
        f.sample(
            "mvlab_expectation_passed",
            &[
                ("scenario", sc),
                ("test", &e.test),
                ("expectation", &e.text),
            ],
            f64::from(u8::from(e.passed)),
        );
    }

    // Per station: frames sent and received over every matrix cell.
    let mut sent: BTreeMap<&str, u64> = BTreeMap::new();
    let mut received: BTreeMap<&str, u64> = BTreeMap::new();
    for t in &r.tests {
        if let TestResult::Matrix(m) = t {
            for c in &m.cells {
                *sent.entry(&c.from).or_default() += c.sent;
                *received.entry(&c.to).or_default() += c.received + c.leaked;
            }
        }
    }
    let mut f = Family::new(
        &mut out,
        "mvlab_station_tx_frames",
        "gauge",
        "Test frames a station sent during the matrix tests.",
    );
    for (station, n) in &sent {
        f.sample(
            "mvlab_station_tx_frames",
            &[("scenario", sc), ("station", station)],
            *n as f64,
        );
    }
    let mut f = Family::new(
        &mut out,
        "mvlab_station_rx_frames",
        "gauge",
        "Test frames a station received during the matrix tests (leaks included).",
    );
    for (station, n) in &received {
        f.sample(
            "mvlab_station_rx_frames",
            &[("scenario", sc), ("station", station)],
            *n as f64,
        );
    }

    let cells = || {
        r.tests.iter().flat_map(|t| match t {
            TestResult::Matrix(m) => m
                .cells
                .iter()
                .map(|c| (m.name.as_str(), c))
                .collect::<Vec<_>>(),
            _ => Vec::new(),
        })
    };
    for (name, help, leaked) in [
        (
            "mvlab_matrix_received_frames",
            "Frames of one matrix cell that arrived at the receiver addressed to it.",
            false,
        ),
        (
            "mvlab_matrix_leaked_frames",
            "Frames of one matrix cell that reached a receiver they were not addressed to.",
            true,
        ),
    ] {
        let mut f = Family::new(&mut out, name, "gauge", help);
        for (test, c) in cells().filter(|(_, c)| !leaked || c.leaked > 0) {
            let class = c.class.to_string();
            let promiscuous = if c.promiscuous { "true" } else { "false" };
            let value = if leaked { c.leaked } else { c.received };
            f.sample(
                name,
                &[
                    ("scenario", sc),
                    ("test", test),
                    ("from", &c.from),
                    ("to", &c.to),
                    ("class", &class),
                    ("promiscuous", promiscuous),
                ],
                value as f64,
            );
        }
    }

    let mut f = Family::new(
        &mut out,
        "mvlab_latency_seconds",
        "summary",
        "Latency between two stations.",
    );
    for t in &r.tests {
        if let TestResult::Latency(l) = t {
            let method = serde_json::to_value(l.method)
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_default();
            latency_summary(
                &mut f,
                "mvlab_latency_seconds",
                &[
                    ("scenario", sc),
                    ("test", &l.name),
                    ("from", &l.from),
                    ("to", &l.to),
                    ("method", &method),
                ],
                &l.stats,
            );
        }
    }

    let mut f = Family::new(
        &mut out,
        "mvlab_loss_ratio",
        "gauge",
        "Frames lost over frames sent, per test and frame size.",
    );
    for t in &r.tests {
        match t {
            TestResult::Latency(l) => {
                let size = l.frame_size.to_string();
                f.sample(
                    "mvlab_loss_ratio",
                    &[
                        ("scenario", sc),
                        ("test", &l.name),
                        ("from", &l.from),
                        ("to", &l.to),
                        ("frame_size", &size),
                    ],
                    l.loss_percent() / 100.0,
                );
            }
            TestResult::Throughput(tp) => {
                for p in &tp.points {
                    let size = p.frame_size.to_string();
                    f.sample(
                        "mvlab_loss_ratio",
                        &[
                            ("scenario", sc),
                            ("test", &tp.name),
                            ("from", &tp.from),
                            ("to", &tp.to),
                            ("frame_size", &size),
                        ],
                        p.loss_percent() / 100.0,
                    );
                }
            }
            _ => {}
        }
    }
    let mut f = Family::new(
        &mut out,
        "mvlab_throughput_rx_frames_per_second",
        "gauge",
        "Received frame rate of a throughput trial.",
    );
    for t in &r.tests {
        if let TestResult::Throughput(tp) = t {
            for p in &tp.points {
                let size = p.frame_size.to_string();
                f.sample(
                    "mvlab_throughput_rx_frames_per_second",
                    &[
                        ("scenario", sc),
                        ("test", &tp.name),
                        ("from", &tp.from),
                        ("to", &tp.to),
                        ("frame_size", &size),
                    ],
                    p.rx_pps,
                );
            }
        }
    }
    let mut f = Family::new(
        &mut out,
        "mvlab_rfc2544_throughput_frames_per_second",
        "gauge",
        "RFC 2544 zero-loss throughput (frame sizes include the FCS).",
    );
    for t in &r.tests {
        if let TestResult::Rfc2544(rf) = t {
            for s in &rf.sizes {
                let size = s.frame_size.to_string();
                f.sample(
                    "mvlab_rfc2544_throughput_frames_per_second",
                    &[
                        ("scenario", sc),
                        ("test", &rf.name),
                        ("from", &rf.from),
                        ("to", &rf.to),
                        ("frame_size", &size),
                    ],
                    s.throughput_pps,
                );
            }
        }
    }
    out
}

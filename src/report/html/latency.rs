//! The latency section: quantiles and a CDF of one-way or round-trip latency; also the latency
//! histogram as chart data for the sections that measure latency alongside (RFC 2544).

use std::fmt::Write;

use super::markup::{charts, esc, int, table, us, whole};
use crate::measure::latency::LatencyResult;
use crate::measure::stats::LatencyStats;
use crate::report::svg::{self, Axis};
use crate::scenario::LatencyMethod;

fn quantile_row(label: String, s: &LatencyStats) -> Vec<String> {
    vec![
        label,
        int(s.samples),
        us(s.min_ns as f64),
        us(s.mean_ns),
        us(s.p50_ns as f64),
        us(s.p90_ns as f64),
        us(s.p99_ns as f64),
        us(s.p999_ns as f64),
        us(s.max_ns as f64),
    ]
}

const QUANTILE_HEAD: [&str; 9] = [
    "",
    "samples",
    "min (us)",
    "mean (us)",
    "p50 (us)",
    "p90 (us)",
    "p99 (us)",
    "p99.9 (us)",
    "max (us)",
];

/// Histogram buckets in microseconds.
pub(super) fn buckets_us(s: &LatencyStats) -> Vec<(f64, u64)> {
    s.histogram
        .iter()
        .map(|&(bound, count)| (bound as f64 / 1e3, count))
        .collect()
}

pub(super) fn latency_axis() -> Axis {
    Axis::log("latency (us)")
}

pub(super) fn latency(out: &mut String, l: &LatencyResult) {
    let method = match l.method {
        LatencyMethod::OneWay => "one-way",
        LatencyMethod::RoundTrip => "round-trip",
    };
    let _ = write!(
        out,
        "<p>{} → {}, {method}, {}-byte frames (with FCS) at {} pps: sent {}, received {}, loss {:.4}%.</p>",
        esc(&l.from),
        esc(&l.to),
        l.frame_size,
        whole(l.rate_pps),
        int(l.sent),
        int(l.received),
        l.loss_percent()
    );
    table(
        out,
        true,
        &QUANTILE_HEAD,
        [quantile_row(method.into(), &l.stats)],
    );
    charts(
        out,
        [svg::cdf(
            format!("{}/cdf", l.name),
            format!("{method} latency, {} → {}", l.from, l.to),
            latency_axis(),
            vec![(format!("{} → {}", l.from, l.to), buckets_us(&l.stats))],
        )
        .render()],
    );
}

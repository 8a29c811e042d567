//! The RFC 2544 section: zero-loss throughput per frame size, frame loss per offered load,
//! back-to-back bursts, latency at the throughput rate, and each binary search trial by trial.

use std::fmt::Write;

use super::latency::{buckets_us, latency_axis};
use super::markup::{charts, esc, mbit, size_label, table, us, whole};
use crate::measure::rfc2544::{Rfc2544Result, Rfc2544Size};
use crate::measure::stats::LatencyStats;
use crate::report::svg::{self, Axis, BarChart, LineChart, Point, Series};

pub(super) fn rfc2544(out: &mut String, r: &Rfc2544Result) {
    let _ = write!(
        out,
        "<p>{} → {}, {:.1} s trials, loss tolerance {}%. Frame sizes are Ethernet frames with the 4-byte FCS (64 bytes on the wire = 60 bytes handed to the kernel); Mbit/s L1 counts the 20 bytes of preamble and inter-frame gap per frame.</p>",
        esc(&r.from),
        esc(&r.to),
        r.trial_s,
        r.loss_tolerance_percent
    );
    table(
        out,
        true,
        &[
            "frame size (B)",
            "throughput (pps)",
            "throughput (Mbit/s L1)",
            "max offered (pps)",
            "search trials",
            "latency p50 (us)",
            "latency p99 (us)",
            "back-to-back (frames)",
        ],
        r.sizes.iter().map(|s| {
            let lat = |f: fn(&LatencyStats) -> u64| {
                s.latency.as_ref().map_or("-".into(), |l| us(f(l) as f64))
            };
            vec![
                s.frame_size.to_string(),
                whole(s.throughput_pps),
                mbit(s.throughput_bps_l1),
                whole(s.max_offered_pps),
                s.search.len().to_string(),
                lat(|l| l.p50_ns),
                lat(|l| l.p99_ns),
                s.back_to_back
                    .as_ref()
                    .map_or("-".into(), |b| format!("{:.0}", b.frames)),
            ]
        }),
    );
    let by_size = |f: fn(&Rfc2544Size) -> f64| {
        r.sizes
            .iter()
            .map(|s| Point::new(f64::from(s.frame_size), f(s)))
            .collect::<Vec<_>>()
    };
    let mut svgs = vec![
        LineChart::new(
            format!("{}/throughput-pps", r.name),
            "zero-loss throughput per frame size",
            Axis::linear("frame size (bytes, with FCS)"),
            Axis::from_zero("frames per second (pps)"),
        )
        .series(Series::new("throughput", by_size(|s| s.throughput_pps)))
        .series(Series::new("max offered", by_size(|s| s.max_offered_pps)))
        .render(),
        LineChart::new(
            format!("{}/throughput-mbit", r.name),
            "zero-loss throughput per frame size, L1",
            Axis::linear("frame size (bytes, with FCS)"),
            Axis::from_zero("Mbit/s (L1)"),
        )
        .series(Series::new(
            "throughput",
            by_size(|s| s.throughput_bps_l1 / 1e6),
        ))
        .render(),
    ];
    if r.sizes.iter().any(|s| !s.frame_loss.is_empty()) {
        let mut loss = LineChart::new(
            format!("{}/frame-loss", r.name),
            "frame loss rate per offered load",
            Axis::from_zero("offered load (% of the maximum rate)"),
            Axis::from_zero("frame loss (%)"),
        );
        for s in &r.sizes {
            loss = loss.series(Series::new(
                size_label(s.frame_size),
                s.frame_loss
                    .iter()
                    .map(|t| Point::new(100.0 * t.offered_pps / s.max_offered_pps, t.loss_percent))
                    .collect(),
            ));
        }
        svgs.push(loss.render());
    }
    let b2b: Vec<_> = r
        .sizes
        .iter()
        .filter_map(|s| s.back_to_back.as_ref().map(|b| (s.frame_size, b.frames)))
        .collect();
    if !b2b.is_empty() {
        svgs.push(
            BarChart::new(
                format!("{}/back-to-back", r.name),
                "longest loss-free burst (mean of the trials)",
                "frame size",
                Axis::from_zero("frames"),
                b2b.iter()
                    .map(|(size, _)| size_label(*size).into())
                    .collect(),
            )
            .series("back-to-back", b2b.iter().map(|(_, f)| *f).collect())
            .render(),
        );
    }
    let latencies: Vec<(String, Vec<(f64, u64)>)> = r
        .sizes
        .iter()
        .filter_map(|s| {
            s.latency
                .as_ref()
                .map(|l| (size_label(s.frame_size), buckets_us(l)))
        })
        .collect();
    if !latencies.is_empty() {
        svgs.push(
            svg::cdf(
                format!("{}/latency", r.name),
                "latency at the throughput rate",
                latency_axis(),
                latencies,
            )
            .render(),
        );
    }
    charts(out, svgs);
    out.push_str("<h3>Binary search for the throughput, per frame size</h3><p class=\"note\">Each trial's offered rate in order; an X is a trial whose loss exceeded the tolerance; the dashed line is the throughput found.</p>");
    charts(
        out,
        r.sizes.iter().map(|s| {
            LineChart::new(
                format!("{}/search/{}", r.name, s.frame_size),
                format!("search, {}", size_label(s.frame_size)),
                Axis::linear("trial"),
                Axis::from_zero("offered (pps)"),
            )
            .series(Series::new(
                "offered",
                s.search
                    .iter()
                    .enumerate()
                    .map(|(i, t)| {
                        let n = (i + 1) as f64;
                        if t.passed {
                            Point::new(n, t.offered_pps)
                        } else {
                            Point::failed(n, t.offered_pps)
                        }
                    })
                    .collect(),
            ))
            .rule(s.throughput_pps, "throughput")
            .size(320.0, 230.0)
            .render()
        }),
    );
}

//! The throughput section: per frame size the offered and received rates and loss, and per
//! source MAC what was received (a bar each for a few flows, a histogram for many).

use std::fmt::Write;

use super::markup::{charts, esc, int, mbit, size_label, table, whole};
use crate::measure::throughput::{FlowCounts, ThroughputPoint, ThroughputResult};
use crate::report::svg::{self, Axis, BarChart, Category};

/// Up to this many flows get a bar each; beyond, a histogram of per-MAC counts.
const FLOW_BARS: usize = 48;

pub(super) fn throughput(out: &mut String, t: &ThroughputResult) {
    let _ = write!(
        out,
        "<p>{} → {}, {:.1} s per frame size (bytes on the wire with FCS). Mbit/s L1 counts preamble and inter-frame gap.</p>",
        esc(&t.from),
        esc(&t.to),
        t.duration_s
    );
    table(
        out,
        true,
        &[
            "frame size (B)",
            "offered (pps)",
            "sent",
            "received",
            "received (pps)",
            "Mbit/s (L2)",
            "Mbit/s (L1)",
            "loss (%)",
            "reordered",
            "duplicates",
            "capture drops",
        ],
        t.points.iter().map(|p| {
            vec![
                p.frame_size.to_string(),
                if p.offered_pps > 0.0 {
                    whole(p.offered_pps)
                } else {
                    "max".into()
                },
                int(p.sent),
                int(p.received),
                whole(p.rx_pps),
                mbit(p.rx_bps_l2),
                mbit(p.rx_bps_l1),
                format!("{:.4}", p.loss_percent()),
                int(p.reordered),
                int(p.duplicates),
                int(p.capture_drops),
            ]
        }),
    );
    let sizes: Vec<Category> = t
        .points
        .iter()
        .map(|p| size_label(p.frame_size).into())
        .collect();
    let mut svgs = vec![
        BarChart::new(
            format!("{}/rates", t.name),
            "offered and received rate per frame size",
            "frame size",
            Axis::from_zero("frames per second (pps)"),
            sizes.clone(),
        )
        .series(
            "offered (sent / duration)",
            t.points
                .iter()
                .map(|p| p.sent as f64 / t.duration_s)
                .collect(),
        )
        .series("received", t.points.iter().map(|p| p.rx_pps).collect())
        .render(),
        BarChart::new(
            format!("{}/loss", t.name),
            "loss per frame size",
            "frame size",
            Axis::from_zero("loss (%)"),
            sizes,
        )
        .series("loss", t.points.iter().map(|p| p.loss_percent()).collect())
        .render(),
    ];
    svgs.extend(
        t.points
            .iter()
            .filter(|p| p.flows.len() > 1)
            .map(|p| flows_chart(&t.name, p)),
    );
    charts(out, svgs);
    for p in t.points.iter().filter(|p| p.flows.len() > FLOW_BARS) {
        let mut received: Vec<u64> = p.flows.iter().map(|f| f.received).collect();
        received.sort_unstable();
        let short = p.flows.iter().filter(|f| f.received < f.sent).count();
        let _ = write!(
            out,
            "<p>{}: {} source MACs received {} (fewest), {} (median), {} (most) frames each; {} of them lost frames.</p>",
            size_label(p.frame_size),
            int(p.flows.len() as u64),
            int(received[0]),
            int(received[received.len() / 2]),
            int(received[received.len() - 1]),
            int(short as u64)
        );
    }
}

/// Per-flow received counts of one frame size: a bar per flow, or a histogram of many.
fn flows_chart(test: &str, p: &ThroughputPoint) -> String {
    let key = format!("{test}/flows/{}", p.frame_size);
    if p.flows.len() <= FLOW_BARS {
        let label = |f: &FlowCounts| {
            if f.source_mac.is_empty() {
                format!("flow {}", f.flow)
            } else {
                f.source_mac.clone()
            }
        };
        BarChart::new(
            key,
            format!("frames per source MAC, {}", size_label(p.frame_size)),
            "source MAC",
            Axis::from_zero("frames"),
            p.flows.iter().map(|f| label(f).into()).collect(),
        )
        .series("sent", p.flows.iter().map(|f| f.sent as f64).collect())
        .series(
            "received",
            p.flows.iter().map(|f| f.received as f64).collect(),
        )
        .render()
    } else {
        let received: Vec<u64> = p.flows.iter().map(|f| f.received).collect();
        svg::histogram(
            key,
            format!(
                "{} source MACs by frames received, {}",
                int(p.flows.len() as u64),
                size_label(p.frame_size)
            ),
            "frames received per source MAC",
            "source MACs",
            &received,
        )
        .render()
    }
}

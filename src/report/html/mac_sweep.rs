//! The MAC sweep section: what each receiver counted of the sweep, what the switch learned, and
//! how many frames each source MAC got through.

use std::fmt::Write;

use super::markup::{charts, esc, int, optional, pace, table, whole};
use crate::measure::mac_sweep::MacSweepResult;
use crate::report::svg::{Axis, BarChart, Category};

pub(super) fn mac_sweep(out: &mut String, r: &MacSweepResult) {
    let _ = write!(
        out,
        "<p>{} source MACs ({}) from {} to {}, one frame each at {}: {} sent at {} pps. Each receiver counted the sweep per MAC in a dense array. The switch learned {} before and {} after (limit {}); mvlab's peak resident memory during the sweep: {}.</p>",
        int(u64::from(r.macs)),
        match r.order {
            crate::scenario::MacOrder::Sequential => "in order",
            crate::scenario::MacOrder::Random => "seeded random order",
        },
        esc(&r.from),
        esc(&r.to),
        pace(r.rate_pps),
        int(r.sent),
        whole(r.offered_pps),
        optional(r.switch_learned_before),
        optional(r.switch_learned_after),
        r.switch_limit.map_or("none".into(), |l| int(u64::from(l))),
        r.peak_rss_bytes.map_or("-".into(), |b| format!(
            "{:.1} MiB",
            b as f64 / f64::from(1u32 << 20)
        ))
    );
    table(
        out,
        true,
        &[
            "receiver",
            "frames",
            "MACs seen",
            "missing",
            "more than once",
            "capture drops",
            "counters (KiB)",
            "missing, e.g.",
        ],
        r.receivers.iter().map(|x| {
            vec![
                esc(&x.station),
                int(x.frames),
                int(x.macs),
                int(x.missing),
                int(x.repeated),
                int(x.capture_drops),
                int(x.counter_bytes / 1024),
                esc(&x.missing_examples.join(", ")),
            ]
        }),
    );
    let stations: Vec<Category> = r
        .receivers
        .iter()
        .map(|x| x.station.clone().into())
        .collect();
    let mut svgs = vec![
        BarChart::new(
            format!("{}/receivers", r.name),
            "sweep frames and source MACs per receiver",
            "receiver",
            Axis::from_zero("count"),
            stations,
        )
        .series(
            "frames",
            r.receivers.iter().map(|x| x.frames as f64).collect(),
        )
        .series(
            "MACs seen",
            r.receivers.iter().map(|x| x.macs as f64).collect(),
        )
        .render(),
    ];
    if let Some(to) = r.destination() {
        let last = to.histogram.len().saturating_sub(1);
        svgs.push(
            BarChart::new(
                format!("{}/per-mac", r.name),
                format!("source MACs by frames received at {}", r.to),
                "frames received per source MAC",
                Axis::from_zero("source MACs"),
                (0..to.histogram.len())
                    .map(|k| {
                        if k == last && k > 1 {
                            format!("{k}+")
                        } else {
                            k.to_string()
                        }
                        .into()
                    })
                    .collect(),
            )
            .series(
                "source MACs",
                to.histogram.iter().map(|&n| n as f64).collect(),
            )
            .render(),
        );
    }
    charts(out, svgs);
}

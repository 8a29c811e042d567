//! The IP exhaustion section: Docker's IPAM answer, and the neighbour tables filling as endpoints
//! resolve, up to the first refusal and the gc_thresh limits.

use std::fmt::Write;

use super::markup::{charts, esc, int, table};
use crate::measure::ip_exhaustion::IpExhaustionResult;
use crate::report::svg::{Axis, LineChart, Point, Series};

pub(super) fn ip_exhaustion(out: &mut String, r: &IpExhaustionResult) {
    let _ = write!(
        out,
        "<p>Network {}: every endpoint, one after the other, sends a datagram to {} so that its kernel resolves it (ARP, and ND with IPv6), and {} learns the endpoint back. The neighbour tables and their gc_thresh limits are shared by every namespace of the machine.</p>",
        esc(&r.network),
        esc(&r.peer),
        esc(&r.peer)
    );
    if let Some(i) = &r.ipam {
        let _ = write!(
            out,
            "<p>Docker's IPAM, asked for {} containers: the pool had {} addresses left, {} allocated, <strong>{} refused</strong>.{}</p>",
            int(i.asked),
            int(i.available),
            int(i.allocated),
            int(i.refused),
            i.refusal.as_ref().map_or(String::new(), |why| format!(
                " Refusal: <em>{}</em>",
                esc(why)
            ))
        );
    }
    table(
        out,
        true,
        &[
            "table",
            "endpoints",
            "resolved",
            "failed",
            "refused at send",
            "first refusal",
            "peer learned",
            "gc_thresh1/2/3",
            "entries before → after",
            "table_fulls",
            "forced_gc_runs",
        ],
        r.neighbours.iter().map(|n| {
            vec![
                n.table.as_str().into(),
                int(u64::from(n.endpoints)),
                int(u64::from(n.resolved)),
                int(u64::from(n.failed)),
                int(u64::from(n.refused)),
                n.first_refusal.as_ref().map_or("-".into(), |f| {
                    esc(&format!(
                        "{} (#{}): {}, {} entries",
                        f.endpoint, f.position, f.error, f.entries
                    ))
                }),
                int(u64::from(n.peer_entries)),
                format!(
                    "{}/{}/{}",
                    n.thresholds[0], n.thresholds[1], n.thresholds[2]
                ),
                format!("{} → {}", int(n.entries_before), int(n.entries_after)),
                int(n.stats.table_fulls),
                int(n.stats.forced_gc_runs),
            ]
        }),
    );
    if r.neighbours.is_empty() {
        return;
    }
    let mut chart = LineChart::new(
        format!("{}/entries", r.name),
        "neighbour table size as endpoints resolve",
        Axis::from_zero("endpoints that sent"),
        Axis::from_zero("entries in the table"),
    );
    for n in &r.neighbours {
        let refused_from = n
            .first_refusal
            .as_ref()
            .map(|f| f.position)
            .into_iter()
            .chain(n.first_table_full)
            .min()
            .unwrap_or(u32::MAX);
        chart = chart.series(Series::new(
            n.table.as_str(),
            n.entries
                .iter()
                .enumerate()
                .map(|(i, &e)| {
                    let position = i as u32 + 1;
                    if position >= refused_from {
                        Point::failed(f64::from(position), e as f64)
                    } else {
                        Point::new(f64::from(position), e as f64)
                    }
                })
                .collect(),
        ));
    }
    let [_, gc2, gc3] = r.neighbours[0].thresholds;
    chart = chart
        .rule(gc2 as f64, "gc_thresh2")
        .rule(gc3 as f64, "gc_thresh3");
    charts(out, [chart.render()]);
}

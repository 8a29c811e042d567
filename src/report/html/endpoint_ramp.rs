//! The endpoint ramp section: per step (1, 2, 4, ... endpoints) creation time, kernel memory,
//! broadcast delivery and unicast latency and throughput, the first step that degraded, and for
//! each degraded step the losses with the counter that explains them.

use std::fmt::Write;

use super::markup::{charts, esc, int, optional, pace, table, us, whole};
use crate::measure::endpoint_ramp::{EndpointRampResult, LossCause, RampStep};
use crate::report::svg::{self, Axis, LineChart, Point, Series};

fn loss_causes(out: &mut String, what: &str, causes: &[LossCause]) {
    if causes.is_empty() {
        return;
    }
    let _ = write!(out, "<p>{}:</p>", esc(what));
    table(
        out,
        true,
        &["lost at", "because", "frames", "evidence"],
        causes
            .iter()
            .map(|c| vec![esc(&c.at), esc(&c.because), int(c.frames), esc(&c.evidence)]),
    );
}

/// A ramp curve: one value per step over the endpoint count, degraded steps as an X.
fn ramp_series(name: &str, steps: &[RampStep], value: impl Fn(&RampStep) -> f64) -> Series {
    Series::new(
        name,
        steps
            .iter()
            .map(|s| {
                let (x, y) = (f64::from(s.endpoints), value(s));
                if s.degraded.is_empty() {
                    Point::new(x, y)
                } else {
                    Point::failed(x, y)
                }
            })
            .collect(),
    )
}

pub(super) fn ramp(out: &mut String, r: &EndpointRampResult) {
    let _ = write!(
        out,
        "<p>Endpoints added to {} (network {}; {} of the scenario's own endpoints share it) until it has 1, 2, 4, ... of them, each a namespace with one macvlan. Per step: {} broadcasts from {} at {}, then one-way latency and throughput of {}-byte frames from {} to the newest endpoint. Broadcast queue length in use {}{}; net.core.netdev_max_backlog {}. An X marks a step where something degraded.</p>",
        esc(&r.parent),
        esc(&r.network),
        r.others_on_parent,
        int(u64::from(r.broadcasts)),
        esc(&r.from),
        pace(r.rate_pps),
        r.frame_size,
        esc(&r.from),
        optional(r.bc_queue_len),
        r.bc_cutoff
            .map_or(String::new(), |c| format!(", bc_cutoff {c}")),
        r.netdev_max_backlog.map_or("-".into(), int)
    );
    match r
        .first_degraded
        .and_then(|n| r.steps.iter().find(|s| s.endpoints == n))
    {
        Some(s) => {
            let _ = write!(
                out,
                "<p><strong class=\"bad\">First degraded at {} endpoints:</strong> {}.</p>",
                int(u64::from(s.endpoints)),
                esc(&s.degraded.join("; "))
            );
        }
        None => out.push_str("<p><strong class=\"ok\">No step degraded.</strong></p>"),
    }
    table(
        out,
        true,
        &[
            "endpoints",
            "create (ms/endpoint)",
            "kernel memory (KiB/endpoint)",
            "broadcasts offered (pps)",
            "broadcast copies",
            "lost (%)",
            "unattributed",
            "p50 (us)",
            "p99 (us)",
            "throughput (pps)",
            "unicast loss (%)",
            "degraded",
        ],
        r.steps.iter().map(|s| {
            vec![
                int(u64::from(s.endpoints)),
                format!("{:.3}", s.create_per_endpoint_s * 1e3),
                format!("{:.1}", s.memory.per_endpoint_bytes as f64 / 1024.0),
                whole(s.broadcast.offered_pps),
                format!(
                    "{} / {}",
                    int(s.broadcast.delivered),
                    int(s.broadcast.expected)
                ),
                format!("{:.3}", s.broadcast.loss_percent),
                int(s.broadcast.unattributed),
                us(s.unicast.latency.p50_ns as f64),
                us(s.unicast.latency.p99_ns as f64),
                whole(s.unicast.throughput.rx_pps),
                format!("{:.3}", s.unicast.loss_percent()),
                esc(&s.degraded.join("; ")),
            ]
        }),
    );
    let endpoints = || Axis::log("endpoints on the parent");
    let key = |what: &str| format!("{}/{what}", r.name);
    let mut svgs = vec![
        LineChart::new(
            key("broadcast"),
            "broadcast copies delivered",
            endpoints(),
            Axis::from_zero("copies delivered (%)"),
        )
        .series(ramp_series("delivered", &r.steps, |s| {
            100.0 - s.broadcast.loss_percent
        }))
        .render(),
        LineChart::new(
            key("create"),
            "time to create an endpoint",
            endpoints(),
            Axis::from_zero("ms per endpoint added"),
        )
        .series(ramp_series("create", &r.steps, |s| {
            s.create_per_endpoint_s * 1e3
        }))
        .render(),
        LineChart::new(
            key("memory"),
            "kernel memory per endpoint added (unreclaimable slab and per-CPU)",
            endpoints(),
            Axis::from_zero("KiB per endpoint"),
        )
        .series(ramp_series("memory", &r.steps, |s| {
            s.memory.per_endpoint_bytes as f64 / 1024.0
        }))
        .render(),
        LineChart::new(
            key("latency"),
            "unicast one-way latency to the newest endpoint",
            endpoints(),
            Axis::from_zero("latency (us)"),
        )
        .series(ramp_series("p50", &r.steps, |s| {
            s.unicast.latency.p50_ns as f64 / 1e3
        }))
        .series(ramp_series("p99", &r.steps, |s| {
            s.unicast.latency.p99_ns as f64 / 1e3
        }))
        .render(),
        LineChart::new(
            key("throughput"),
            "unicast throughput to the newest endpoint",
            endpoints(),
            Axis::from_zero("frames per second (pps)"),
        )
        .series(ramp_series("received", &r.steps, |s| {
            s.unicast.throughput.rx_pps
        }))
        .render(),
    ];
    let shown = r
        .first_degraded
        .and_then(|n| r.steps.iter().find(|s| s.endpoints == n))
        .or(r.steps.last());
    if let Some(s) = shown.filter(|s| !s.broadcast.per_endpoint.is_empty()) {
        svgs.push(
            svg::histogram(
                key("copies"),
                format!(
                    "broadcast copies per endpoint at {} endpoints",
                    int(u64::from(s.endpoints))
                ),
                "copies each endpoint received",
                "endpoints",
                &s.broadcast.per_endpoint,
            )
            .render(),
        );
    }
    charts(out, svgs);
    for s in r.steps.iter().filter(|s| !s.degraded.is_empty()) {
        let _ = write!(
            out,
            "<h3>{} endpoints: {}</h3>",
            int(u64::from(s.endpoints)),
            esc(&s.degraded.join("; "))
        );
        loss_causes(out, "Broadcast copies lost", &s.broadcast.causes);
        if s.broadcast.unattributed > 0 {
            let _ = write!(
                out,
                "<p class=\"bad\">{} broadcast copies lost with no counter or drop event saying where.</p>",
                int(s.broadcast.unattributed)
            );
        }
        if let Some(note) = &s.broadcast.tracer_note {
            let _ = write!(out, "<p class=\"note\">No drop trace: {}</p>", esc(note));
        }
        loss_causes(out, "Unicast frames lost", &s.unicast.causes);
        if !s.memory.slabs.is_empty() {
            let grown: Vec<String> = s
                .memory
                .slabs
                .iter()
                .map(|g| format!("{} +{} KiB", g.cache, g.bytes / 1024))
                .collect();
            let _ = write!(
                out,
                "<p class=\"note\">Slab caches grown most while this step's endpoints were created: {}.</p>",
                esc(&grown.join(", "))
            );
        }
    }
}

//! The emulated switch section: per-port and per-VLAN counters with every drop by reason, the MAC
//! table and the event log's most recent entries (as many as the text report shows).

use std::fmt::Write;

use super::markup::{charts, esc, int, table};
use crate::report::svg::{Axis, BarChart, Category};
use crate::report::switch::{ENTRIES_SHOWN, EVENTS_SHOWN, event_word};
use crate::switch::{DropReason, EntryKind, PortReport, SwitchReport};

/// The emulated switch's section: per-port counters with every drop by reason, per-VLAN
/// counters, the table by entry kind and its first entries, the log's most recent events, and
/// charts of frames per port and drops per reason.
pub(super) fn switch(out: &mut String, sw: &SwitchReport) {
    let _ = write!(
        out,
        "<section id=\"switch\"><h2>Emulated switch</h2><p>{}, up {:.1} s: {} frame(s) dropped, each counted with its reason on the port where it was dropped.</p>",
        if sw.vlan_aware {
            "VLAN-aware"
        } else {
            "VLAN-unaware"
        },
        sw.uptime_s,
        int(sw.dropped)
    );
    table(
        out,
        true,
        &[
            "port",
            "state",
            "rx frames",
            "tx frames",
            "flooded",
            "learned",
            "not learned",
            "violations",
            "drops",
        ],
        sw.ports.iter().map(|p| {
            let drops: Vec<String> = p
                .drops
                .iter()
                .map(|d| format!("{} {}", d.reason.as_str(), int(d.frames)))
                .collect();
            vec![
                esc(&p.name),
                esc(&p.state),
                int(p.rx_frames),
                int(p.tx_frames),
                int(p.flooded),
                int(p.learned),
                int(p.not_learned),
                int(p.violations),
                esc(&drops.join(", ")),
            ]
        }),
    );
    if sw.vlan_aware && !sw.vlans.is_empty() {
        table(
            out,
            true,
            &["VLAN", "rx frames", "flooded", "dropped"],
            sw.vlans.iter().map(|v| {
                vec![
                    v.vid.to_string(),
                    int(v.rx_frames),
                    int(v.flooded),
                    int(v.dropped),
                ]
            }),
        );
    }
    let kinds: Vec<String> = [EntryKind::Dynamic, EntryKind::Sticky, EntryKind::Static]
        .into_iter()
        .map(|k| {
            let n = sw.table.iter().filter(|e| e.kind == k).count();
            format!("{} {}", int(n as u64), k.as_str())
        })
        .collect();
    let _ = write!(
        out,
        "<p>MAC table at the end: {} entries ({}).</p>",
        int(sw.table.len() as u64),
        kinds.join(", ")
    );
    table(
        out,
        false,
        &["port", "MAC", "VLAN", "kind", "idle (s)"],
        sw.table.iter().take(ENTRIES_SHOWN).map(|e| {
            vec![
                esc(&e.port),
                e.mac.to_string(),
                e.vlan.map_or("-".into(), |v| v.to_string()),
                e.kind.as_str().into(),
                format!("{:.1}", e.idle_s),
            ]
        }),
    );
    let shown = sw.events.len().min(EVENTS_SHOWN);
    let mut by_kind: Vec<(&str, u64)> = Vec::new();
    for e in &sw.events {
        match by_kind.iter_mut().find(|(k, _)| *k == event_word(e.kind)) {
            Some((_, n)) => *n += 1,
            None => by_kind.push((event_word(e.kind), 1)),
        }
    }
    let by_kind: Vec<String> = by_kind
        .iter()
        .map(|(k, n)| format!("{} {k}", int(*n)))
        .collect();
    let _ = write!(
        out,
        "<p>Event log: {} logged ({}){}; the last {shown} (the JSON result has them all).</p>",
        int(sw.events.len() as u64),
        esc(&by_kind.join(", ")),
        if sw.events_lost > 0 {
            format!(", {} more not kept", int(sw.events_lost))
        } else {
            String::new()
        }
    );
    table(
        out,
        false,
        &["at (ms)", "event", "port", "MAC", "VLAN"],
        sw.events[sw.events.len() - shown..].iter().map(|e| {
            vec![
                int(e.at_ms),
                event_word(e.kind).into(),
                esc(&e.port),
                e.mac.to_string(),
                e.vlan.map_or("-".into(), |v| v.to_string()),
            ]
        }),
    );
    let ports: Vec<Category> = sw.ports.iter().map(|p| p.name.clone().into()).collect();
    let per_port = |value: fn(&PortReport) -> u64| -> Vec<f64> {
        sw.ports.iter().map(|p| value(p) as f64).collect()
    };
    let mut svgs = vec![
        BarChart::new(
            "switch/ports",
            "frames per port",
            "port",
            Axis::from_zero("frames"),
            ports,
        )
        .series("received", per_port(|p| p.rx_frames))
        .series("sent", per_port(|p| p.tx_frames))
        .series("flooded", per_port(|p| p.flooded))
        .series(
            "dropped",
            per_port(|p| p.drops.iter().map(|d| d.frames).sum()),
        )
        .render(),
    ];
    let reasons: Vec<(DropReason, u64)> = DropReason::ALL
        .iter()
        .map(|&r| (r, sw.ports.iter().map(|p| p.drops(r)).sum()))
        .filter(|&(_, n)| n > 0)
        .collect();
    if !reasons.is_empty() {
        svgs.push(
            BarChart::new(
                "switch/drops",
                "frames dropped by reason, all ports",
                "reason",
                Axis::from_zero("frames"),
                reasons
                    .iter()
                    .map(|(r, _)| r.as_str().to_string().into())
                    .collect(),
            )
            .series("dropped", reasons.iter().map(|&(_, n)| n as f64).collect())
            .render(),
        );
    }
    charts(out, svgs);
    out.push_str("</section>");
}

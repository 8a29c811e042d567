//! The emulated switch's report as a person reads it: per-port counters with every drop by
//! reason, per-VLAN counters, the table, and the event log (the last `EVENTS_SHOWN` events;
//! JSON has them all). Used by the run's terminal report and `mvlab switch show`; the HTML
//! report shows as many and words events the same way. It only formats a `SwitchReport`; it
//! never asks a switch for one.

use std::fmt::Write;

use crate::switch::{EventKind, SwitchReport};

/// The text report shows at most this many events, the most recent ones.
pub const EVENTS_SHOWN: usize = 20;
/// And at most this many table entries.
pub const ENTRIES_SHOWN: usize = 32;

/// An event kind as a person reads it.
pub fn event_word(kind: EventKind) -> &'static str {
    match kind {
        EventKind::Learned => "learned",
        EventKind::Moved => "moved",
        EventKind::Aged => "aged",
        EventKind::NotLearned => "not learned",
        EventKind::Violation => "violation",
        EventKind::PortShutDown => "port shut down",
        EventKind::Flood => "flood (unknown)",
    }
}

pub fn render(r: &SwitchReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "emulated switch ({}, up {:.1} s): {} frame(s) dropped, each counted with its reason",
        if r.vlan_aware {
            "VLAN-aware"
        } else {
            "VLAN-unaware"
        },
        r.uptime_s,
        r.dropped
    );
    let _ = writeln!(
        out,
        "  {:<6} {:<8} {:>10} {:>10} {:>8} {:>8} {:>8} {:>10}  drops",
        "port", "state", "rx", "tx", "flooded", "learned", "refused", "violations"
    );
    for p in &r.ports {
        let drops: Vec<String> = p
            .drops
            .iter()
            .map(|d| format!("{} {}", d.reason.as_str(), d.frames))
            .collect();
        let _ = writeln!(
            out,
            "  {:<6} {:<8} {:>10} {:>10} {:>8} {:>8} {:>8} {:>10}  {}",
            p.name,
            p.state,
            p.rx_frames,
            p.tx_frames,
            p.flooded,
            p.learned,
            p.not_learned,
            p.violations,
            if drops.is_empty() {
                "-".to_string()
            } else {
                drops.join(", ")
            }
        );
    }
    if r.vlan_aware && !r.vlans.is_empty() {
        let _ = writeln!(
            out,
            "  vlan   {:>10} {:>10} {:>10}",
            "rx", "flooded", "dropped"
        );
        for v in &r.vlans {
            let _ = writeln!(
                out,
                "  {:<6} {:>10} {:>10} {:>10}",
                v.vid, v.rx_frames, v.flooded, v.dropped
            );
        }
    }
    let _ = writeln!(out, "  table: {} entries", r.table.len());
    for e in r.table.iter().take(ENTRIES_SHOWN) {
        let vlan = e.vlan.map_or(String::new(), |v| format!(" vlan {v}"));
        let _ = writeln!(out, "    {:<6} {}{vlan} {:?}", e.port, e.mac, e.kind);
    }
    if r.table.len() > ENTRIES_SHOWN {
        let _ = writeln!(
            out,
            "    ... {} more (JSON has them all)",
            r.table.len() - ENTRIES_SHOWN
        );
    }
    let shown = r.events.len().min(EVENTS_SHOWN);
    let _ = writeln!(
        out,
        "  events: {} logged{}{}",
        r.events.len(),
        if r.events_lost > 0 {
            format!(", {} more not kept", r.events_lost)
        } else {
            String::new()
        },
        if shown < r.events.len() {
            format!(" (the last {shown})")
        } else {
            String::new()
        }
    );
    for e in &r.events[r.events.len() - shown..] {
        let vlan = e.vlan.map_or(String::new(), |v| format!(" vlan {v}"));
        let _ = writeln!(
            out,
            "    {:>8} ms  {:<16} {:<6} {}{vlan}",
            e.at_ms,
            event_word(e.kind),
            e.port,
            e.mac
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::switch::{DropCount, DropReason, Event, PortReport};

    #[test]
    fn ports_drops_and_recent_events() {
        let mac = "02:00:00:00:00:01".parse().unwrap();
        let r = SwitchReport {
            uptime_s: 2.0,
            vlan_aware: false,
            ports: vec![PortReport {
                name: "p0".into(),
                state: "shutdown".into(),
                rx_frames: 10,
                rx_bytes: 640,
                tx_frames: 3,
                tx_bytes: 192,
                flooded: 2,
                learned: 2,
                not_learned: 0,
                violations: 1,
                drops: vec![DropCount {
                    reason: DropReason::SecurityShutdown,
                    frames: 1,
                }],
            }],
            vlans: Vec::new(),
            table: Vec::new(),
            events: (0..30)
                .map(|i| Event {
                    at_ms: i,
                    kind: EventKind::Learned,
                    port: "p0".into(),
                    mac,
                    vlan: None,
                })
                .collect(),
            events_lost: 4,
            dropped: 1,
        };
        let text = render(&r);
        assert!(text.contains("1 frame(s) dropped"), "{text}");
        assert!(text.contains("security-shutdown 1"), "{text}");
        assert!(text.contains("p0     shutdown"), "{text}");
        assert!(
            text.contains("30 logged, 4 more not kept (the last 20)"),
            "{text}"
        );
        assert!(text.contains("      29 ms"), "{text}");
        assert!(!text.contains("       9 ms"), "{text}");
    }
}

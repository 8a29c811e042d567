//! The terminal report of a run: each test's result as a readable table, then every expectation
//! with pass/fail, then the verdict. A delivery matrix opens with its conclusions in words and a
//! small who-hears-whom grid (`conclusions`), then the promiscuity counters and the learned table
//! as small tables; its full grid per frame class and pass (receivers across, senders down, cells
//! not as expected marked) comes with `detail` (`--detail`), or when the result has no summary.
//! Colour only when asked (`paint`).

use std::fmt::Write;

use super::paint::{Paint, pad};
use crate::conclusions::MatrixSummary;
use crate::delivery::Cell;
use crate::delivery::MatrixResult;
use crate::measure::TestResult;
use crate::measure::address_caching::{AddressCachingResult, AddressTrial};
use crate::measure::address_learning_rate::AddressLearningRateResult;
use crate::measure::endpoint_ramp::{EndpointRampResult, LossCause};
use crate::measure::ip_exhaustion::IpExhaustionResult;
use crate::measure::latency::LatencyResult;
use crate::measure::mac_sweep::MacSweepResult;
use crate::measure::rfc2544::Rfc2544Result;
use crate::measure::stats::LatencyStats;
use crate::measure::throughput::ThroughputResult;
use crate::run::RunResult;

/// Above this many stations a matrix is summarised instead of drawn.
const GRID_MAX: usize = 16;

/// The whole report; `detail` adds each matrix's grid per frame class and pass.
pub fn render(r: &RunResult, paint: Paint, detail: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "mvlab {} — scenario {} (lab {}, kernel {}), {:.1} s",
        r.mvlab_version, r.scenario, r.lab, r.kernel, r.duration_s
    );
    for t in &r.tests {
        out.push('\n');
        match t {
            TestResult::Matrix(m) => {
                let summary = r.summary.iter().find(|s| s.test == m.name);
                matrix(&mut out, m, summary, paint, detail)
            }
            TestResult::Latency(l) => latency(&mut out, l),
            TestResult::Throughput(t) => throughput(&mut out, t),
            TestResult::Rfc2544(r) => rfc2544(&mut out, r),
            TestResult::AddressCaching(c) => address_caching(&mut out, c),
            TestResult::AddressLearningRate(l) => learning_rate(&mut out, l),
            TestResult::EndpointRamp(e) => ramp(&mut out, e),
            TestResult::MacSweep(m) => mac_sweep(&mut out, m),
            TestResult::IpExhaustion(i) => ip_exhaustion(&mut out, i),
        }
    }
    if let Some(switch) = &r.switch {
        out.push('\n');
        out.push_str(&super::switch::render(switch));
    }
    if let Some(d) = &r.docker {
        let _ = writeln!(out, "\n{}", super::docker::summary(d));
        for line in &d.differences {
            let _ = writeln!(out, "  {line}");
        }
    }
    if !r.addresses.is_empty() {
        let _ = writeln!(out, "\naddresses (the lab's, and yours they stand for)");
        for a in &r.addresses {
            let _ = writeln!(out, "  {:<16} {:<40} {}", a.node, a.lab, a.yours);
        }
    }
    if !r.expectations.is_empty() {
        let _ = writeln!(out, "\nexpectations");
        for e in &r.expectations {
            let mark = if e.passed {
                paint.ok("pass")
            } else {
                paint.bad("FAIL")
            };
            let _ = writeln!(
                out,
                "  {mark}  [{}] {}  (expected {}; measured {})",
                e.test, e.text, e.expected, e.measured
            );
            if !e.detail.is_empty() {
                let _ = writeln!(out, "        {}", e.detail);
            }
        }
    }
    let failed = r.expectations.iter().filter(|e| !e.passed).count();
    let verdict = if r.passed {
        paint.ok(&format!(
            "PASSED: {} expectation(s) held",
            r.expectations.len()
        ))
    } else {
        paint.bad(&format!(
            "FAILED: {failed} of {} expectation(s) did not hold",
            r.expectations.len()
        ))
    };
    let _ = writeln!(out, "\n{verdict}");
    out
}

fn cell_text(c: &Cell, paint: Paint) -> String {
    let mut s = c.received.to_string();
    if c.leaked > 0 {
        s += &format!("+{}L", c.leaked);
    }
    let wrong = c.expected.is_some_and(|e| e != c.received)
        || c.expected_leaked.is_some_and(|e| e != c.leaked);
    match (wrong, c.received + c.leaked) {
        (true, _) => paint.bad(&format!("{s}!")),
        (false, 0) => paint.dim("·"),
        _ => s,
    }
}

fn matrix(
    out: &mut String,
    m: &MatrixResult,
    summary: Option<&MatrixSummary>,
    paint: Paint,
    detail: bool,
) {
    let pass = match summary {
        Some(s) if s.promiscuous => ", sockets promiscuous",
        Some(_) => ", sockets not promiscuous",
        None => "",
    };
    let _ = writeln!(
        out,
        "matrix {}: {} frame(s) per sender, class and destination{pass}",
        m.name, m.spec.frames
    );
    if let Some(s) = summary {
        super::conclusions::render(out, s, paint);
        out.push('\n');
        super::conclusions::render_hearing(out, &s.hearing, paint);
    }
    if detail || summary.is_none() {
        grids(out, m, paint);
    }
    promiscuity(out, m);
    learned(out, m);
}

/// One grid per frame class and pass: senders down, receivers across, frames received.
fn grids(out: &mut String, m: &MatrixResult, paint: Paint) {
    let _ = writeln!(
        out,
        "\n  received count per cell (+NL = leaked to a receiver it was not addressed to; ! = not as expected)"
    );
    let (senders, receivers) = (&m.senders, &m.receivers);
    for &promiscuous in &m.spec.promiscuous {
        for class in &m.spec.classes {
            let cells: Vec<&Cell> = m
                .cells
                .iter()
                .filter(|c| c.class == *class && c.promiscuous == promiscuous)
                .collect();
            let pass = if promiscuous {
                "promiscuous"
            } else {
                "not promiscuous"
            };
            if receivers.len() > GRID_MAX {
                let delivered = cells.iter().filter(|c| c.received > 0).count();
                let leaked = cells.iter().filter(|c| c.leaked > 0).count();
                let wrong = cells
                    .iter()
                    .filter(|c| c.expected.is_some_and(|e| e != c.received))
                    .count();
                let _ = writeln!(
                    out,
                    "  {class}, {pass}: {delivered} of {} cells delivered, {leaked} leaked, {wrong} not as expected",
                    cells.len()
                );
                continue;
            }
            let _ = writeln!(out, "\n  {class}, {pass}");
            let w = receivers
                .iter()
                .chain(senders)
                .map(|s| s.len())
                .max()
                .unwrap_or(4)
                .max(5)
                + 1;
            let _ = write!(out, "  {}", pad("from\\to", w));
            for r in receivers {
                let _ = write!(out, "{}", pad(r, w));
            }
            out.push('\n');
            for s in senders {
                let _ = write!(out, "  {}", pad(s, w));
                for r in receivers {
                    let text = cells
                        .iter()
                        .find(|c| c.from == *s && c.to == *r)
                        .map_or_else(|| paint.dim("-"), |c| cell_text(c, paint));
                    let _ = write!(out, "{}", pad(&text, w));
                }
                out.push('\n');
            }
        }
    }
}

/// A small table: a label column, then one column per header, values right-aligned.
fn small_table(out: &mut String, title: &str, heads: &[String], rows: &[(String, Vec<String>)]) {
    let label = rows
        .iter()
        .map(|(l, _)| l.chars().count())
        .chain([title.chars().count()])
        .max()
        .unwrap_or(0)
        + 2;
    let widths: Vec<usize> = (0..heads.len())
        .map(|i| {
            rows.iter()
                .map(|(_, v)| v[i].chars().count())
                .chain([heads[i].chars().count()])
                .max()
                .unwrap_or(1)
                + 2
        })
        .collect();
    let _ = write!(out, "  {}", pad(title, label));
    for (h, w) in heads.iter().zip(&widths) {
        let _ = write!(out, "{h:>w$}");
    }
    out.push('\n');
    for (l, values) in rows {
        let _ = write!(out, "  {}", pad(l, label));
        for (v, w) in values.iter().zip(&widths) {
            let _ = write!(out, "{v:>w$}");
        }
        out.push('\n');
    }
}

/// Promiscuity counters: devices across, one row per pass.
fn promiscuity(out: &mut String, m: &MatrixResult) {
    if m.promiscuity.is_empty() {
        return;
    }
    let mut devices: Vec<&str> = Vec::new();
    for p in &m.promiscuity {
        if !devices.contains(&p.device.as_str()) {
            devices.push(&p.device);
        }
    }
    let rows: Vec<(String, Vec<String>)> = m
        .spec
        .promiscuous
        .iter()
        .map(|&pass| {
            let label = if pass {
                "  promiscuous sockets"
            } else {
                "  plain sockets"
            };
            let values = devices
                .iter()
                .map(|d| {
                    m.promiscuity
                        .iter()
                        .find(|p| p.promiscuous_pass == pass && p.device == *d)
                        .map_or("-".into(), |p| p.promiscuity.to_string())
                })
                .collect();
            (label.to_string(), values)
        })
        .collect();
    // Parents are `host:IFACE`, ports `switch:pN`: the title says which come first.
    let heads: Vec<String> = devices
        .iter()
        .map(|d| d.split_once(':').map_or(*d, |(_, i)| i).to_string())
        .collect();
    out.push('\n');
    small_table(out, "promiscuity (parents, ports)", &heads, &rows);
}

/// What the bridge learned in the first pass: ports across, the stations on each below.
fn learned(out: &mut String, m: &MatrixResult) {
    const NAMED: usize = 3;
    let Some(&pass) = m.spec.promiscuous.first() else {
        return;
    };
    let mut ports: Vec<(&str, Vec<&str>)> = Vec::new();
    for e in m.fdb.iter().filter(|e| e.promiscuous_pass == pass) {
        let who = e.station.as_deref().unwrap_or(&e.mac);
        match ports.iter_mut().find(|(p, _)| *p == e.port) {
            Some((_, list)) => list.push(who),
            None => ports.push((&e.port, vec![who])),
        }
    }
    if ports.is_empty() {
        return;
    }
    let heads: Vec<String> = ports.iter().map(|(p, _)| p.to_string()).collect();
    let values: Vec<String> = ports
        .iter_mut()
        .map(|(_, list)| {
            list.sort_unstable();
            let mut text = list[..list.len().min(NAMED)].join(" ");
            if list.len() > NAMED {
                text += &format!(" +{}", list.len() - NAMED);
            }
            text
        })
        .collect();
    small_table(
        out,
        "switch learned",
        &heads,
        &[("  on each port".to_string(), values)],
    );
}

fn us(ns: f64) -> String {
    format!("{:.1} us", ns / 1e3)
}

fn stats_line(s: &LatencyStats) -> String {
    format!(
        "min {}  p50 {}  p90 {}  p99 {}  p99.9 {}  max {}  mean {}  ({} samples)",
        us(s.min_ns as f64),
        us(s.p50_ns as f64),
        us(s.p90_ns as f64),
        us(s.p99_ns as f64),
        us(s.p999_ns as f64),
        us(s.max_ns as f64),
        us(s.mean_ns),
        s.samples
    )
}

fn latency(out: &mut String, l: &LatencyResult) {
    let method = match l.method {
        crate::scenario::LatencyMethod::OneWay => "one-way",
        crate::scenario::LatencyMethod::RoundTrip => "round-trip",
    };
    let _ = writeln!(
        out,
        "latency {}: {} -> {} {method}, {}-byte frames at {:.0} pps",
        l.name, l.from, l.to, l.frame_size, l.rate_pps
    );
    let _ = writeln!(out, "  {}", stats_line(&l.stats));
    let _ = writeln!(
        out,
        "  sent {}  received {}  loss {:.4}%",
        l.sent,
        l.received,
        l.loss_percent()
    );
}

fn throughput(out: &mut String, t: &ThroughputResult) {
    let _ = writeln!(
        out,
        "throughput {}: {} -> {}, {:.1} s per size",
        t.name, t.from, t.to, t.duration_s
    );
    let _ = writeln!(
        out,
        "  {:>6} {:>12} {:>12} {:>12} {:>10} {:>10} {:>9} {:>9} {:>10}",
        "size",
        "offered pps",
        "rx pps",
        "rx Mbit L1",
        "sent",
        "received",
        "loss %",
        "reorder",
        "ring drop"
    );
    for p in &t.points {
        let offered = match p.requested_pps {
            Some(_) => format!("{:.0}", p.offered_pps),
            None => format!("max {:.0}", p.offered_pps),
        };
        let _ = writeln!(
            out,
            "  {:>6} {:>12} {:>12.0} {:>12.1} {:>10} {:>10} {:>9.4} {:>9} {:>10}",
            p.frame_size,
            offered,
            p.rx_pps,
            p.rx_bps_l1 / 1e6,
            p.sent,
            p.received,
            p.loss_percent(),
            p.reordered,
            p.capture_drops
        );
    }
}

fn rfc2544(out: &mut String, r: &Rfc2544Result) {
    let _ = writeln!(
        out,
        "rfc2544 {}: {} -> {}, {:.1} s trials, loss tolerance {}% (sizes are Ethernet frames with FCS)",
        r.name, r.from, r.to, r.trial_s, r.loss_tolerance_percent
    );
    let _ = writeln!(
        out,
        "  {:>6} {:>14} {:>14} {:>12} {:>12} {:>14}",
        "size", "throughput pps", "Mbit/s (L1)", "latency", "loss @max", "back-to-back"
    );
    for s in &r.sizes {
        let latency = s.latency.as_ref().map_or("-".into(), |l| us(l.mean_ns));
        let loss = s
            .frame_loss
            .first()
            .map_or("-".into(), |t| format!("{:.3}%", t.loss_percent));
        let b2b = s
            .back_to_back
            .as_ref()
            .map_or("-".into(), |b| format!("{:.0}", b.frames));
        let _ = writeln!(
            out,
            "  {:>6} {:>14.0} {:>14.1} {:>12} {:>12} {:>14}",
            s.frame_size,
            s.throughput_pps,
            s.throughput_bps_l1 / 1e6,
            latency,
            loss,
            b2b
        );
    }
}

fn rate_text(pps: Option<f64>) -> String {
    pps.map_or("as fast as the sender could".into(), |p| {
        format!("{p:.0} pps")
    })
}

fn address_trials(out: &mut String, trials: &[AddressTrial]) {
    let _ = writeln!(
        out,
        "  {:>5} {:>10} {:>13} {:>14} {:>9} {:>10} {:>10}  result",
        "trial", "addresses", "learning pps", "switch learned", "flooded", "delivered", "ring drop"
    );
    for (i, t) in trials.iter().enumerate() {
        let _ = writeln!(
            out,
            "  {:>5} {:>10} {:>13.0} {:>14} {:>9} {:>10} {:>10}  {}",
            i + 1,
            t.addresses,
            t.learning_pps,
            t.switch_learned.map_or("-".into(), |n| n.to_string()),
            t.flooded,
            t.delivered,
            t.capture_drops,
            if t.passed { "all learned" } else { "flooded" }
        );
    }
}

fn address_caching(out: &mut String, r: &AddressCachingResult) {
    let _ = writeln!(
        out,
        "address_caching {}: learning {}, test {}, monitor {}; up to {} addresses, frames at {}",
        r.name,
        r.learning,
        r.test,
        r.monitor,
        r.max_addresses,
        rate_text(r.rate_pps)
    );
    let _ = writeln!(
        out,
        "  capacity {}{} addresses; the switch's limit: {}; it said it learned {} at the capacity",
        if r.at_least { "at least " } else { "" },
        r.capacity,
        r.switch_limit.map_or("none".into(), |l| l.to_string()),
        r.switch_learned.map_or("unknown".into(), |l| l.to_string())
    );
    if let Some(entries) = r.table_entries {
        let _ = writeln!(
            out,
            "  the switch evicts when full: it held {entries} entries at the capacity, the test port's own address among them"
        );
    }
    address_trials(out, &r.trials);
}

fn learning_rate(out: &mut String, r: &AddressLearningRateResult) {
    let _ = writeln!(
        out,
        "address_learning_rate {}: learning {}, test {}, monitor {}; {} addresses",
        r.name, r.learning, r.test, r.monitor, r.addresses
    );
    let _ = writeln!(
        out,
        "  learning rate {}{:.0} pps (first trial offered {:.0} pps; search resolution {}%)",
        if r.at_least { "at least " } else { "" },
        r.learning_rate_pps,
        r.max_offered_pps,
        r.resolution_percent
    );
    address_trials(out, &r.trials);
}

fn kib(bytes: i64) -> String {
    format!("{:.1} KiB", bytes as f64 / 1024.0)
}

fn causes(out: &mut String, indent: &str, causes: &[LossCause]) {
    for c in causes {
        let _ = writeln!(
            out,
            "{indent}lost at {} because {}: {} ({})",
            c.at, c.because, c.frames, c.evidence
        );
    }
}

fn ramp(out: &mut String, r: &EndpointRampResult) {
    let _ = writeln!(
        out,
        "endpoint_ramp {}: endpoints added to {} (network {}; {} of the scenario's own on it), bcqueuelen {}{}, netdev_max_backlog {}; {} broadcasts from {} at {} per step; unicast {}-byte frames",
        r.name,
        r.parent,
        r.network,
        r.others_on_parent,
        r.bc_queue_len.map_or("?".into(), |q| q.to_string()),
        r.bc_cutoff
            .map_or(String::new(), |c| format!(", bc_cutoff {c}")),
        r.netdev_max_backlog.map_or("?".into(), |b| b.to_string()),
        r.broadcasts,
        r.from,
        rate_text(r.rate_pps),
        r.frame_size
    );
    let _ = writeln!(
        out,
        "  {:>9} {:>11} {:>12} {:>10} {:>9} {:>9} {:>12} {:>8}  degraded",
        "endpoints",
        "create/ep",
        "kernel mem/ep",
        "bc loss %",
        "p50 us",
        "p99 us",
        "unicast pps",
        "loss %"
    );
    for s in &r.steps {
        let _ = writeln!(
            out,
            "  {:>9} {:>8.3} ms {:>12} {:>10.3} {:>9.1} {:>9.1} {:>12.0} {:>8.3}  {}",
            s.endpoints,
            s.create_per_endpoint_s * 1e3,
            kib(s.memory.per_endpoint_bytes),
            s.broadcast.loss_percent,
            s.unicast.latency.p50_ns as f64 / 1e3,
            s.unicast.latency.p99_ns as f64 / 1e3,
            s.unicast.throughput.rx_pps,
            s.unicast.loss_percent(),
            if s.degraded.is_empty() {
                "-".into()
            } else {
                s.degraded.join("; ")
            }
        );
    }
    match r
        .first_degraded
        .and_then(|n| r.steps.iter().find(|s| s.endpoints == n))
    {
        None => {
            let _ = writeln!(out, "  no step degraded");
        }
        Some(s) => {
            let _ = writeln!(
                out,
                "  first degraded at {} endpoints: {}",
                s.endpoints,
                s.degraded.join("; ")
            );
            causes(out, "    ", &s.broadcast.causes);
            if s.broadcast.unattributed > 0 {
                let _ = writeln!(
                    out,
                    "    {} broadcast copies lost with no counter or drop event saying where",
                    s.broadcast.unattributed
                );
            }
            causes(out, "    unicast: ", &s.unicast.causes);
            if let Some(note) = &s.broadcast.tracer_note {
                let _ = writeln!(out, "    (no drop trace: {note})");
            }
        }
    }
}

fn mac_sweep(out: &mut String, r: &MacSweepResult) {
    let _ = writeln!(
        out,
        "mac_sweep {}: {} source MACs ({:?} order) from {} to {} at {}: {} sent at {:.0} pps",
        r.name,
        r.macs,
        r.order,
        r.from,
        r.to,
        rate_text(r.rate_pps),
        r.sent,
        r.offered_pps
    );
    let _ = writeln!(
        out,
        "  {:>12} {:>10} {:>10} {:>9} {:>9} {:>10} {:>12}",
        "receiver", "frames", "MACs", "missing", "repeated", "ring drop", "counters"
    );
    for x in &r.receivers {
        let _ = writeln!(
            out,
            "  {:>12} {:>10} {:>10} {:>9} {:>9} {:>10} {:>9} KiB",
            x.station,
            x.frames,
            x.macs,
            x.missing,
            x.repeated,
            x.capture_drops,
            x.counter_bytes / 1024
        );
        if !x.missing_examples.is_empty() && x.station == r.to {
            let _ = writeln!(out, "    missing, e.g.: {}", x.missing_examples.join(", "));
        }
    }
    let _ = writeln!(
        out,
        "  switch learned {} before, {} after (limit {}); peak resident memory of mvlab during the sweep {}",
        r.switch_learned_before
            .map_or("-".into(), |n| n.to_string()),
        r.switch_learned_after.map_or("-".into(), |n| n.to_string()),
        r.switch_limit.map_or("none".into(), |n| n.to_string()),
        r.peak_rss_bytes.map_or("-".into(), |b| format!(
            "{:.1} MiB",
            b as f64 / (1 << 20) as f64
        ))
    );
}

fn ip_exhaustion(out: &mut String, r: &IpExhaustionResult) {
    let _ = writeln!(
        out,
        "ip_exhaustion {}: network {}, every endpoint resolves {}",
        r.name, r.network, r.peer
    );
    if let Some(i) = &r.ipam {
        let _ = writeln!(
            out,
            "  IPAM: {} containers asked, the pool had {} addresses left: {} allocated, {} refused",
            i.asked, i.available, i.allocated, i.refused
        );
        if let Some(why) = &i.refusal {
            let _ = writeln!(out, "    refusal: {why}");
        }
    }
    for n in &r.neighbours {
        let _ = writeln!(
            out,
            "  {} ({}): {} endpoints, {} resolved, {} failed; the peer learned {}; gc_thresh {}/{}/{}; table {} -> {} entries",
            n.table.as_str(),
            n.peer_ip,
            n.endpoints,
            n.resolved,
            n.failed,
            n.peer_entries,
            n.thresholds[0],
            n.thresholds[1],
            n.thresholds[2],
            n.entries_before,
            n.entries_after
        );
        if let Some(f) = &n.first_refusal {
            let _ = writeln!(
                out,
                "    the kernel refused {} send(s), first {} (endpoint #{}): {} with {} entries in the table",
                n.refused, f.endpoint, f.position, f.error, f.entries
            );
        }
        if let Some(p) = n.first_table_full {
            let _ = writeln!(
                out,
                "    the table first counted a refusal after endpoint #{p}"
            );
        }
        let _ = writeln!(
            out,
            "    kernel counters: table_fulls +{}, forced_gc_runs +{}, res_failed +{}, unresolved_discards +{}, allocs +{}",
            n.stats.table_fulls,
            n.stats.forced_gc_runs,
            n.stats.res_failed,
            n.stats.unresolved_discards,
            n.stats.allocs
        );
    }
}

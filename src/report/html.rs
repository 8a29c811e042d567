//! The HTML report of a run: one self-contained page (inline CSS and SVG, no script, nothing
//! fetched) with the run's header and verdict, the expectations (failures first), and each test's
//! tables and charts: the delivery matrix as heat maps (stations grouped when a lab is large, so a
//! 1,000-endpoint page stays small), latency CDFs and quantiles, throughput with per-MAC counts,
//! and RFC 2544 throughput, search steps, frame loss and back-to-back. The markup is well-formed
//! XML (XHTML-compatible), so any XML parser reads it. Reads results only: it never measures and
//! never decides pass or fail; charts are drawn by `svg`.

use std::collections::{HashMap, HashSet};
use std::fmt::Write;

use super::svg::{self, Axis, BarChart, Category, HeatCell, HeatMap, LineChart, Point, Series};
use super::switch::{ENTRIES_SHOWN, EVENTS_SHOWN, event_word};
use crate::delivery::MatrixResult;
use crate::delivery::{Cell, FrameClass};
use crate::measure::TestResult;
use crate::measure::address_caching::{AddressCachingResult, AddressTrial};
use crate::measure::address_learning_rate::AddressLearningRateResult;
use crate::measure::endpoint_ramp::{EndpointRampResult, LossCause, RampStep};
use crate::measure::ip_exhaustion::IpExhaustionResult;
use crate::measure::latency::LatencyResult;
use crate::measure::mac_sweep::MacSweepResult;
use crate::measure::rfc2544::{Rfc2544Result, Rfc2544Size};
use crate::measure::stats::LatencyStats;
use crate::measure::throughput::{FlowCounts, ThroughputPoint, ThroughputResult};
use crate::run::RunResult;
use crate::scenario::LatencyMethod;
use crate::switch::{DropReason, EntryKind, PortReport, SwitchReport};
use crate::verdict::ExpectationResult;

/// Up to this many stations in a matrix, each is a row and a column of its own; beyond, stations
/// are drawn in at most this many groups.
const GRID_MAX: usize = 16;
/// How many cells that differ from their expectation are listed by name.
const CELLS_LISTED: usize = 40;
/// Up to this many flows get a bar each; beyond, a histogram of per-MAC counts.
const FLOW_BARS: usize = 48;
/// How many stations an FDB row names before summarising.
const FDB_NAMED: usize = 8;

const STYLE: &str = "body{font:14px/1.45 system-ui,sans-serif;color:#1a1a1a;max-width:1320px;margin:0 auto;padding:16px 24px}\
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;border-bottom:1px solid #bbb;padding-bottom:4px;margin:36px 0 8px}\
h3{font-size:15px;margin:20px 0 6px}p{margin:6px 0}.note{color:#555}\
table{border-collapse:collapse;margin:8px 0}th,td{border:1px solid #ccc;padding:3px 8px;vertical-align:top}\
th{background:#f0f0f0;text-align:left}table.num td{text-align:right;font-variant-numeric:tabular-nums}\
table.num td:first-child{text-align:left}table.facts th,table.facts td{border:none;background:none;padding:1px 12px 1px 0}\
table.facts th{color:#555;font-weight:normal}\
.verdict{display:inline-block;margin:10px 0;padding:5px 14px;border-radius:4px;font-weight:bold;color:#fff}\
.ok{color:#0072B2;font-weight:bold}.bad{color:#D55E00;font-weight:bold}.verdict.ok{background:#0072B2;color:#fff}\
.verdict.bad{background:#D55E00;color:#fff}tr.failed td{background:#fff3ec}\
.charts{display:flex;flex-wrap:wrap;gap:14px;align-items:flex-start;margin:10px 0}\
svg.chart{background:#fff;border:1px solid #ddd;max-width:100%;height:auto}\
pre{white-space:pre-wrap;margin:0;font-size:12px}nav ul{columns:3;margin:4px 0}\
@media print{body{max-width:none;padding:0}nav{display:none}\
svg.chart,tr{break-inside:avoid}h2,h3{break-after:avoid}\
*{print-color-adjust:exact;-webkit-print-color-adjust:exact}}";

fn esc(s: &str) -> String {
    svg::escape(s)
}

/// An integer with thousands separators: `1,488,095`.
fn int(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// A rate or other large number, rounded to an integer with separators.
fn whole(v: f64) -> String {
    if v.is_finite() && v >= 0.0 {
        int(v.round() as u64)
    } else {
        "-".into()
    }
}

/// Nanoseconds as microseconds.
fn us(ns: f64) -> String {
    format!("{:.1}", ns / 1e3)
}

fn mbit(bps: f64) -> String {
    format!("{:.1}", bps / 1e6)
}

/// A table: `head` and rows of cells already escaped. `numeric` right-aligns every column but
/// the first.
fn table(
    out: &mut String,
    numeric: bool,
    head: &[&str],
    rows: impl IntoIterator<Item = Vec<String>>,
) {
    out.push_str(if numeric {
        "<table class=\"num\"><thead><tr>"
    } else {
        "<table><thead><tr>"
    });
    for h in head {
        let _ = write!(out, "<th>{}</th>", esc(h));
    }
    out.push_str("</tr></thead><tbody>");
    for row in rows {
        out.push_str("<tr>");
        for cell in row {
            let _ = write!(out, "<td>{cell}</td>");
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
}

/// Charts side by side.
fn charts(out: &mut String, svgs: impl IntoIterator<Item = String>) {
    out.push_str("<div class=\"charts\">");
    for s in svgs {
        out.push_str(&s);
    }
    out.push_str("</div>");
}

fn kind(t: &TestResult) -> &'static str {
    match t {
        TestResult::Matrix(_) => "Delivery matrix",
        TestResult::Latency(_) => "Latency",
        TestResult::Throughput(_) => "Throughput",
        TestResult::Rfc2544(_) => "RFC 2544",
        TestResult::AddressCaching(_) => "Address caching (RFC 2889)",
        TestResult::AddressLearningRate(_) => "Address learning rate (RFC 2889)",
        TestResult::EndpointRamp(_) => "Endpoint ramp",
        TestResult::MacSweep(_) => "MAC sweep",
        TestResult::IpExhaustion(_) => "IP exhaustion",
    }
}

/// The whole page.
pub fn render(r: &RunResult) -> String {
    let mut out = String::with_capacity(64 * 1024);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"/><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/><title>mvlab: {}</title><style>{STYLE}</style></head><body>",
        esc(&r.scenario)
    );
    header(&mut out, r);
    out.push_str("<nav><ul><li><a href=\"#expectations\">Expectations</a></li>");
    for (i, t) in r.tests.iter().enumerate() {
        let _ = write!(
            out,
            "<li><a href=\"#test-{i}\">{}: {}</a></li>",
            kind(t),
            esc(t.name())
        );
    }
    if r.switch.is_some() {
        out.push_str("<li><a href=\"#switch\">Emulated switch</a></li>");
    }
    out.push_str("</ul></nav>");
    expectations(&mut out, &r.expectations);
    for (i, t) in r.tests.iter().enumerate() {
        let _ = write!(
            out,
            "<section id=\"test-{i}\"><h2>{}: {}</h2>",
            kind(t),
            esc(t.name())
        );
        match t {
            TestResult::Matrix(m) => matrix(&mut out, m),
            TestResult::Latency(l) => latency(&mut out, l),
            TestResult::Throughput(t) => throughput(&mut out, t),
            TestResult::Rfc2544(r) => rfc2544(&mut out, r),
            TestResult::AddressCaching(c) => address_caching(&mut out, c),
            TestResult::AddressLearningRate(l) => learning_rate(&mut out, l),
            TestResult::EndpointRamp(e) => ramp(&mut out, e),
            TestResult::MacSweep(m) => mac_sweep(&mut out, m),
            TestResult::IpExhaustion(i) => ip_exhaustion(&mut out, i),
        }
        out.push_str("</section>");
    }
    if let Some(sw) = &r.switch {
        switch(&mut out, sw);
    }
    let _ = writeln!(
        out,
        "<footer><p class=\"note\">Written by mvlab {}. Hover over a chart's marks for their values; every plotted value is also in the element's data attributes.</p></footer></body></html>",
        esc(&r.mvlab_version)
    );
    out
}

fn header(out: &mut String, r: &RunResult) {
    let _ = write!(out, "<header><h1>mvlab run: {}</h1>", esc(&r.scenario));
    if !r.description.is_empty() {
        let _ = write!(out, "<p>{}</p>", esc(&r.description));
    }
    let facts = [
        ("lab", r.lab.clone()),
        ("kernel", r.kernel.clone()),
        ("mvlab", r.mvlab_version.clone()),
        ("started", r.started.clone()),
        ("duration", format!("{:.1} s", r.duration_s)),
    ];
    out.push_str("<table class=\"facts\"><tbody>");
    for (k, v) in facts {
        let _ = write!(out, "<tr><th>{k}</th><td>{}</td></tr>", esc(&v));
    }
    out.push_str("</tbody></table>");
    let failed = r.expectations.iter().filter(|e| !e.passed).count();
    let (class, text) = if r.passed {
        (
            "ok",
            format!("PASSED: {} expectation(s) held", r.expectations.len()),
        )
    } else {
        (
            "bad",
            format!(
                "FAILED: {failed} of {} expectation(s) did not hold",
                r.expectations.len()
            ),
        )
    };
    let _ = write!(
        out,
        "<div class=\"verdict {class}\" data-passed=\"{}\">{text}</div></header>",
        r.passed
    );
}

fn expectations(out: &mut String, list: &[ExpectationResult]) {
    out.push_str("<section id=\"expectations\"><h2>Expectations</h2>");
    if list.is_empty() {
        out.push_str("<p class=\"note\">The scenario states no expectations.</p></section>");
        return;
    }
    let mut sorted: Vec<&ExpectationResult> = list.iter().collect();
    sorted.sort_by_key(|e| e.passed);
    out.push_str("<table><thead><tr><th>result</th><th>test</th><th>expectation</th><th>expected</th><th>measured</th><th>detail</th></tr></thead><tbody>");
    for e in sorted {
        let (row, mark) = if e.passed {
            ("", "<span class=\"ok\">pass</span>")
        } else {
            (" class=\"failed\"", "<span class=\"bad\">FAIL</span>")
        };
        let detail = if e.detail.contains('\n') {
            format!("<pre>{}</pre>", esc(&e.detail))
        } else {
            esc(&e.detail)
        };
        let _ = write!(
            out,
            "<tr{row} data-passed=\"{}\"><td>{mark}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{detail}</td></tr>",
            e.passed,
            esc(&e.test),
            esc(&e.text),
            esc(&e.expected),
            esc(&e.measured)
        );
    }
    out.push_str("</tbody></table></section>");
}

/// Whether a cell differs from what was expected of it.
fn unexpected(c: &Cell) -> bool {
    c.expected.is_some_and(|e| e != c.received) || c.expected_leaked.is_some_and(|e| e != c.leaked)
}

fn pass_name(promiscuous: bool) -> &'static str {
    if promiscuous {
        "promiscuous"
    } else {
        "not promiscuous"
    }
}

/// Distinct names in order of first appearance.
fn in_order<'a>(names: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut seen = HashSet::new();
    names.filter(|n| seen.insert(*n)).collect()
}

/// Stations as rows or columns of a heat map: one each for small labs, else groups of
/// consecutive stations of the same family (`e1`, `e2`, ... share `e`), at most `GRID_MAX`. Rows
/// and columns are cut from one grouping of all stations, so a group is the same down and across.
struct Grouping<'a> {
    labels: Vec<String>,
    index: HashMap<&'a str, usize>,
    grouped: bool,
}

impl<'a> Grouping<'a> {
    fn of(names: &[&'a str]) -> Grouping<'a> {
        if names.len() <= GRID_MAX {
            return Grouping {
                labels: names.iter().map(|n| n.to_string()).collect(),
                index: names.iter().enumerate().map(|(i, n)| (*n, i)).collect(),
                grouped: false,
            };
        }
        let family = |n: &str| n.trim_end_matches(|c: char| c.is_ascii_digit()).to_string();
        let mut runs: Vec<&[&'a str]> = Vec::new();
        let mut start = 0;
        for i in 1..=names.len() {
            if i == names.len() || family(names[i]) != family(names[start]) {
                runs.push(&names[start..i]);
                start = i;
            }
        }
        if runs.len() > GRID_MAX {
            runs = vec![names];
        }
        let chunk = (1..=names.len())
            .find(|&c| runs.iter().map(|r| r.len().div_ceil(c)).sum::<usize>() <= GRID_MAX)
            .unwrap_or(names.len());
        let mut labels = Vec::new();
        let mut index = HashMap::with_capacity(names.len());
        for block in runs.iter().flat_map(|r| r.chunks(chunk)) {
            for n in block {
                index.insert(*n, labels.len());
            }
            labels.push(match block {
                [one] => one.to_string(),
                [first, .., last] => format!("{first} … {last} ({})", block.len()),
                [] => String::new(),
            });
        }
        Grouping {
            labels,
            index,
            grouped: true,
        }
    }

    /// The groups holding at least one of `members`, in order.
    fn holding(&self, members: &HashSet<&str>) -> Grouping<'a> {
        let mut kept = vec![false; self.labels.len()];
        for (name, &g) in &self.index {
            kept[g] |= members.contains(name);
        }
        let mut renumbered = vec![None; self.labels.len()];
        let mut labels = Vec::new();
        for (g, label) in self.labels.iter().enumerate().filter(|(g, _)| kept[*g]) {
            renumbered[g] = Some(labels.len());
            labels.push(label.clone());
        }
        Grouping {
            labels,
            index: self
                .index
                .iter()
                .filter_map(|(name, &g)| renumbered[g].map(|n| (*name, n)))
                .collect(),
            grouped: self.grouped,
        }
    }
}

/// The cells of one heat map square added up.
#[derive(Default, Clone)]
struct Tally {
    cells: u64,
    sent: u64,
    received: u64,
    leaked: u64,
    unexpected: u64,
    /// Sum of `expected` while every cell has one.
    expected: Option<u64>,
}

impl Tally {
    fn add(&mut self, c: &Cell) {
        self.expected = match (self.cells, self.expected, c.expected) {
            (0, _, e) => e,
            (_, Some(a), Some(b)) => Some(a + b),
            _ => None,
        };
        self.cells += 1;
        self.sent += c.sent;
        self.received += c.received;
        self.leaked += c.leaked;
        self.unexpected += u64::from(unexpected(c));
    }
}

fn matrix(out: &mut String, m: &MatrixResult) {
    let _ = write!(
        out,
        "<p>{} frame(s) per sender, class and destination; tagged classes carry VLAN {}. A square's colour is received / sent (copies: a frame delivered twice counts twice); a corner mark means frames leaked to a receiver they were not addressed to; a red outline means the square differs from what was expected (the scenario's claims, else the model).</p>",
        int(u64::from(m.spec.frames)),
        m.spec.vlan
    );
    // One order of stations (the cells' first mention of each) and one grouping for rows and
    // columns, so that a station that sends and receives sits at the same place down and across.
    let stations = in_order(
        m.cells
            .iter()
            .flat_map(|c| [c.from.as_str(), c.to.as_str()]),
    );
    let senders: HashSet<&str> = m.cells.iter().map(|c| c.from.as_str()).collect();
    let receivers: HashSet<&str> = m.cells.iter().map(|c| c.to.as_str()).collect();
    let all = Grouping::of(&stations);
    let rows = all.holding(&senders);
    let cols = all.holding(&receivers);
    if all.grouped {
        let _ = write!(
            out,
            "<p class=\"note\">{} senders and {} receivers: each square adds up the cells of a group of consecutive stations (its tooltip and data attributes give the totals); the cells not as expected are listed below by name.</p>",
            int(senders.len() as u64),
            int(receivers.len() as u64)
        );
    }
    let mut by_map: HashMap<(FrameClass, bool), Vec<&Cell>> = HashMap::new();
    for c in &m.cells {
        by_map.entry((c.class, c.promiscuous)).or_default().push(c);
    }
    let maps: Vec<(bool, FrameClass)> = m
        .spec
        .promiscuous
        .iter()
        .flat_map(|&p| m.spec.classes.iter().map(move |&c| (p, c)))
        .collect();
    table(
        out,
        true,
        &[
            "class",
            "pass",
            "cells",
            "delivered",
            "leaked",
            "not as expected",
        ],
        maps.iter().map(|&(p, class)| {
            let cells = by_map.get(&(class, p)).map_or(&[][..], Vec::as_slice);
            let count =
                |f: &dyn Fn(&Cell) -> bool| int(cells.iter().filter(|c| f(c)).count() as u64);
            vec![
                esc(&class.to_string()),
                pass_name(p).into(),
                int(cells.len() as u64),
                count(&|c| c.received > 0),
                count(&|c| c.leaked > 0),
                count(&unexpected),
            ]
        }),
    );
    charts(
        out,
        maps.iter().map(|&(p, class)| {
            let cells = by_map.get(&(class, p)).map_or(&[][..], Vec::as_slice);
            heat_map(m, class, p, cells, &rows, &cols).render()
        }),
    );
    let wrong: Vec<&Cell> = m.cells.iter().filter(|c| unexpected(c)).collect();
    if !wrong.is_empty() {
        let _ = write!(
            out,
            "<h3>Cells not as expected ({})</h3>",
            int(wrong.len() as u64)
        );
        let opt = |v: Option<u64>| v.map_or("-".into(), int);
        table(
            out,
            true,
            &[
                "from",
                "to",
                "class",
                "pass",
                "sent",
                "received",
                "expected",
                "leaked",
                "expected leaked",
            ],
            wrong.iter().take(CELLS_LISTED).map(|c| {
                vec![
                    esc(&c.from),
                    esc(&c.to),
                    esc(&c.class.to_string()),
                    pass_name(c.promiscuous).into(),
                    int(c.sent),
                    int(c.received),
                    opt(c.expected),
                    int(c.leaked),
                    opt(c.expected_leaked),
                ]
            }),
        );
        if wrong.len() > CELLS_LISTED {
            let _ = write!(
                out,
                "<p class=\"note\">… and {} more (the JSON result has every cell).</p>",
                int((wrong.len() - CELLS_LISTED) as u64)
            );
        }
    }
    if !m.promiscuity.is_empty() {
        out.push_str("<h3>Promiscuity of parents and bridge ports</h3>");
        table(
            out,
            true,
            &["device", "pass", "promiscuity"],
            m.promiscuity.iter().map(|p| {
                vec![
                    esc(&p.device),
                    pass_name(p.promiscuous_pass).into(),
                    int(u64::from(p.promiscuity)),
                ]
            }),
        );
    }
    if !m.fdb.is_empty() {
        out.push_str("<h3>What the bridge learned</h3>");
        let mut ports: Vec<(bool, &str, Vec<&str>)> = Vec::new();
        for e in &m.fdb {
            let who = e.station.as_deref().unwrap_or(&e.mac);
            match ports
                .iter_mut()
                .find(|(p, port, _)| *p == e.promiscuous_pass && *port == e.port)
            {
                Some((_, _, names)) => names.push(who),
                None => ports.push((e.promiscuous_pass, &e.port, vec![who])),
            }
        }
        table(
            out,
            true,
            &["port", "pass", "entries", "stations or MACs"],
            ports.iter().map(|(p, port, names)| {
                let mut shown = names
                    .iter()
                    .take(FDB_NAMED)
                    .copied()
                    .collect::<Vec<_>>()
                    .join(", ");
                if names.len() > FDB_NAMED {
                    let _ = write!(shown, " and {} more", names.len() - FDB_NAMED);
                }
                vec![
                    esc(port),
                    pass_name(*p).into(),
                    int(names.len() as u64),
                    esc(&shown),
                ]
            }),
        );
    }
}

/// One class and pass of the matrix as a heat map of (grouped) stations.
fn heat_map(
    m: &MatrixResult,
    class: FrameClass,
    promiscuous: bool,
    cells: &[&Cell],
    rows: &Grouping<'_>,
    cols: &Grouping<'_>,
) -> HeatMap {
    let width = cols.labels.len();
    let mut tally = vec![Tally::default(); rows.labels.len() * width];
    for c in cells {
        if let (Some(&r), Some(&k)) = (
            rows.index.get(c.from.as_str()),
            cols.index.get(c.to.as_str()),
        ) {
            tally[r * width + k].add(c);
        }
    }
    let heat_cells = tally
        .iter()
        .enumerate()
        .filter(|(_, t)| t.cells > 0)
        .map(|(i, t)| {
            let (r, k) = (i / width, i % width);
            let mut tooltip = format!(
                "{} → {}: {}/{} received",
                rows.labels[r],
                cols.labels[k],
                int(t.received),
                int(t.sent)
            );
            if let Some(e) = t.expected {
                let _ = write!(tooltip, ", {} expected", int(e));
            }
            if t.leaked > 0 {
                let _ = write!(tooltip, ", {} leaked", int(t.leaked));
            }
            if t.cells > 1 {
                let _ = write!(
                    tooltip,
                    "; {} of {} cells not as expected",
                    int(t.unexpected),
                    int(t.cells)
                );
            } else if t.unexpected > 0 {
                tooltip.push_str("; not as expected");
            }
            let mut data = vec![
                ("cells", t.cells.to_string()),
                ("sent", t.sent.to_string()),
                ("received", t.received.to_string()),
                ("leaked", t.leaked.to_string()),
                ("unexpected", t.unexpected.to_string()),
            ];
            if let Some(e) = t.expected {
                data.push(("expected", e.to_string()));
            }
            HeatCell {
                row: r,
                col: k,
                value: (t.sent > 0).then(|| t.received as f64 / t.sent as f64),
                // A group's total would not fit; its colour and tooltip tell.
                text: if t.cells > 1 {
                    String::new()
                } else if t.leaked > 0 {
                    format!("{}+{}L", si_count(t.received), si_count(t.leaked))
                } else {
                    si_count(t.received)
                },
                tooltip,
                marked: t.leaked > 0,
                outlined: t.unexpected > 0,
                data,
            }
        })
        .collect();
    HeatMap {
        key: format!("{}/{class}/{}", m.name, pass_name(promiscuous)),
        title: format!("{class}, {}", pass_name(promiscuous)),
        rows_label: "senders".into(),
        cols_label: "receivers".into(),
        rows: rows.labels.clone(),
        cols: cols.labels.clone(),
        value_label: "received / sent".into(),
        mark_label: "leaked".into(),
        outline_label: "not as expected".into(),
        over_label: "over 100% (copies)".into(),
        cells: heat_cells,
    }
}

fn si_count(n: u64) -> String {
    svg::si(n as f64)
}

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
fn buckets_us(s: &LatencyStats) -> Vec<(f64, u64)> {
    s.histogram
        .iter()
        .map(|&(bound, count)| (bound as f64 / 1e3, count))
        .collect()
}

fn latency_axis() -> Axis {
    Axis::log("latency (us)")
}

fn latency(out: &mut String, l: &LatencyResult) {
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

fn size_label(size: u32) -> String {
    format!("{size} B")
}

fn throughput(out: &mut String, t: &ThroughputResult) {
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

fn rfc2544(out: &mut String, r: &Rfc2544Result) {
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

fn pace(pps: Option<f64>) -> String {
    pps.map_or("as fast as the sender could".into(), |p| {
        format!("{} pps", whole(p))
    })
}

fn optional(n: Option<u32>) -> String {
    n.map_or("-".into(), |n| int(u64::from(n)))
}

fn address_trials(out: &mut String, trials: &[AddressTrial]) {
    table(
        out,
        true,
        &[
            "trial",
            "addresses",
            "learning (pps)",
            "switch learned",
            "test frames",
            "flooded to the monitor",
            "delivered to the learning port",
            "capture drops",
            "result",
        ],
        trials.iter().enumerate().map(|(i, t)| {
            vec![
                (i + 1).to_string(),
                int(u64::from(t.addresses)),
                whole(t.learning_pps),
                optional(t.switch_learned),
                int(t.test_sent),
                int(t.flooded),
                int(t.delivered),
                int(t.capture_drops),
                if t.passed {
                    "<span class=\"ok\">all learned</span>".into()
                } else {
                    "<span class=\"bad\">flooded</span>".into()
                },
            ]
        }),
    );
}

/// A search's trials in order: the value each tried, failed ones as an X.
fn search_series(name: &str, trials: &[AddressTrial], value: fn(&AddressTrial) -> f64) -> Series {
    Series::new(
        name,
        trials
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let n = (i + 1) as f64;
                if t.passed {
                    Point::new(n, value(t))
                } else {
                    Point::failed(n, value(t))
                }
            })
            .collect(),
    )
}

fn address_caching(out: &mut String, r: &AddressCachingResult) {
    let _ = write!(
        out,
        "<p>Learning port {}, test port {}, monitor port {}; up to {} addresses, frames at {}. A test frame that reaches the monitor port was flooded: its destination was not learned.</p><p><strong>Capacity: {}{} addresses.</strong> The switch's own limit: {}; the switch said it learned {} at the capacity.</p>",
        esc(&r.learning),
        esc(&r.test),
        esc(&r.monitor),
        int(u64::from(r.max_addresses)),
        pace(r.rate_pps),
        if r.at_least { "at least " } else { "" },
        int(u64::from(r.capacity)),
        r.switch_limit.map_or("none".into(), |l| int(u64::from(l))),
        optional(r.switch_learned)
    );
    address_trials(out, &r.trials);
    let mut search = LineChart::new(
        format!("{}/search", r.name),
        "binary search for the capacity",
        Axis::linear("trial"),
        Axis::from_zero("addresses"),
    )
    .series(search_series("addresses tried", &r.trials, |t| {
        f64::from(t.addresses)
    }));
    let mut by_size: Vec<Point> = r
        .trials
        .iter()
        .filter_map(|t| {
            t.switch_learned
                .map(|l| Point::new(f64::from(t.addresses), f64::from(l)))
        })
        .collect();
    by_size.sort_by(|a, b| a.x.total_cmp(&b.x));
    let mut learned = LineChart::new(
        format!("{}/learned", r.name),
        "what the switch learned, by addresses sent",
        Axis::from_zero("addresses sent by the learning port"),
        Axis::from_zero("addresses the switch says it learned"),
    )
    .series(Series::new("switch learned", by_size));
    match r.switch_limit {
        Some(limit) if limit == r.capacity => {
            search = search.rule(f64::from(limit), "capacity = switch limit");
        }
        Some(limit) => {
            search = search
                .rule(f64::from(r.capacity), "capacity")
                .rule(f64::from(limit), "switch limit");
        }
        None => search = search.rule(f64::from(r.capacity), "capacity"),
    }
    if let Some(limit) = r.switch_limit {
        learned = learned.rule(f64::from(limit), "switch limit");
    }
    charts(out, [search.render(), learned.render()]);
}

fn learning_rate(out: &mut String, r: &AddressLearningRateResult) {
    let _ = write!(
        out,
        "<p>Learning port {}, test port {}, monitor port {}; {} addresses. <strong>Learning rate: {}{} pps</strong> (the first trial offered {} pps; search resolution {}%).</p>",
        esc(&r.learning),
        esc(&r.test),
        esc(&r.monitor),
        int(u64::from(r.addresses)),
        if r.at_least { "at least " } else { "" },
        whole(r.learning_rate_pps),
        whole(r.max_offered_pps),
        r.resolution_percent
    );
    address_trials(out, &r.trials);
    charts(
        out,
        [LineChart::new(
            format!("{}/search", r.name),
            "binary search for the learning rate",
            Axis::linear("trial"),
            Axis::from_zero("learning frames offered (pps)"),
        )
        .series(search_series("offered", &r.trials, |t| t.learning_pps))
        .rule(r.learning_rate_pps, "learning rate")
        .render()],
    );
}

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

fn ramp(out: &mut String, r: &EndpointRampResult) {
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

fn mac_sweep(out: &mut String, r: &MacSweepResult) {
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

fn ip_exhaustion(out: &mut String, r: &IpExhaustionResult) {
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

/// The emulated switch's section: per-port counters with every drop by reason, per-VLAN
/// counters, the table by entry kind and its first entries, the log's most recent events, and
/// charts of frames per port and drops per reason.
fn switch(out: &mut String, sw: &SwitchReport) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_get_separators() {
        assert_eq!(int(0), "0");
        assert_eq!(int(999), "999");
        assert_eq!(int(1000), "1,000");
        assert_eq!(int(1_488_095), "1,488,095");
        assert_eq!(whole(f64::NAN), "-");
    }

    #[test]
    fn small_labs_are_not_grouped() {
        let names = ["e1", "e2", "peer"];
        let g = Grouping::of(&names);
        assert!(!g.grouped);
        assert_eq!(g.labels, vec!["e1", "e2", "peer"]);
        assert_eq!(g.index["peer"], 2);
    }

    #[test]
    fn large_labs_are_grouped_by_family() {
        let names: Vec<String> = (1..=1000)
            .map(|i| format!("e{i}"))
            .chain(["peer".into(), "host:eth0".into()])
            .collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let g = Grouping::of(&refs);
        assert!(g.grouped);
        assert!(g.labels.len() <= GRID_MAX, "{:?}", g.labels);
        assert_eq!(g.labels[0], "e1 … e72 (72)");
        assert_eq!(g.labels[g.labels.len() - 2], "peer");
        assert_eq!(g.labels[g.labels.len() - 1], "host:eth0");
        assert_eq!(g.index.len(), 1002);
        assert_eq!(g.index["e73"], 1);
        // Too many families to keep apart: plain consecutive blocks.
        let mixed: Vec<String> = (0..100).map(|i| format!("n{i}x")).collect();
        let refs: Vec<&str> = mixed.iter().map(String::as_str).collect();
        let g = Grouping::of(&refs);
        assert_eq!(g.labels.len(), 15);
        assert_eq!(g.labels[0], "n0x … n6x (7)");
    }

    #[test]
    fn rows_and_columns_share_the_groups() {
        let names: Vec<String> = (1..=40)
            .map(|i| format!("e{i}"))
            .chain(["peer".into(), "host:eth0".into()])
            .collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let all = Grouping::of(&refs);
        let senders: HashSet<&str> = refs[..41].iter().copied().collect();
        let rows = all.holding(&senders);
        assert_eq!(rows.labels.len(), all.labels.len() - 1);
        assert_eq!(rows.labels[..], all.labels[..all.labels.len() - 1]);
        assert_eq!(rows.index.get("host:eth0"), None);
        assert_eq!(rows.index["peer"], rows.labels.len() - 1);
        let only_peer: HashSet<&str> = ["peer"].into_iter().collect();
        let peer = all.holding(&only_peer);
        assert_eq!(peer.labels, vec!["peer"]);
        assert_eq!(peer.index["peer"], 0);
    }

    #[test]
    fn a_tally_keeps_expected_only_when_every_cell_has_one() {
        let cell = |expected| Cell {
            from: "a".into(),
            to: "b".into(),
            class: FrameClass::untagged(crate::delivery::Addressing::Broadcast),
            promiscuous: false,
            sent: 10,
            received: 10,
            leaked: 0,
            expected,
            expected_leaked: None,
        };
        let mut t = Tally::default();
        t.add(&cell(Some(10)));
        t.add(&cell(Some(0)));
        assert_eq!(t.expected, Some(10));
        assert_eq!(t.unexpected, 1);
        t.add(&cell(None));
        assert_eq!(t.expected, None);
        assert_eq!((t.cells, t.sent, t.received), (3, 30, 30));
    }
}

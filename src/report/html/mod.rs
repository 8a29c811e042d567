//! The HTML report of a run: one self-contained page (inline CSS and SVG, no script, nothing
//! fetched) with the run's header and verdict, each matrix's conclusions in words and who hears
//! whom, the expectations (failures first), and each test's
//! tables and charts: the delivery matrix as heat maps (stations grouped when a lab is large, so a
//! 1,000-endpoint page stays small), latency CDFs and quantiles, throughput with per-MAC counts,
//! and RFC 2544 throughput, search steps, frame loss and back-to-back. The markup is well-formed
//! XML (XHTML-compatible), so any XML parser reads it. Reads results only: it never measures and
//! never decides pass or fail; charts are drawn by `svg`.
//!
//! This file is the page: its style, header, verdict, table of contents and footer, and the order
//! of the sections. Each section has a file of its own (`conclusions`, `expectations`, then one per
//! kind of test as in `measure`, and `switch`); `markup` holds what they share.

use std::fmt::Write;

use crate::measure::TestResult;
use crate::run::RunResult;

mod address;
mod conclusions;
mod endpoint_ramp;
mod expectations;
mod ip_exhaustion;
mod latency;
mod mac_sweep;
mod markup;
mod matrix;
mod rfc2544;
mod switch;
mod throughput;

use address::{address_caching, learning_rate};
use conclusions::conclusions;
use endpoint_ramp::ramp;
use expectations::expectations;
use ip_exhaustion::ip_exhaustion;
use latency::latency;
use mac_sweep::mac_sweep;
use markup::esc;
use matrix::matrix;
use rfc2544::rfc2544;
use switch::switch;
use throughput::throughput;

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
.blocked{color:#B8860B;font-weight:bold}td.cells{font-size:12px;white-space:nowrap}\
table.hearing td{font-family:ui-monospace,monospace;font-size:13px}table.hearing td.none{color:#999}\
.charts{display:flex;flex-wrap:wrap;gap:14px;align-items:flex-start;margin:10px 0}\
svg.chart{background:#fff;border:1px solid #ddd;max-width:100%;height:auto}\
pre{white-space:pre-wrap;margin:0;font-size:12px}nav ul{columns:3;margin:4px 0}\
@media print{body{max-width:none;padding:0}nav{display:none}\
svg.chart,tr{break-inside:avoid}h2,h3{break-after:avoid}\
*{print-color-adjust:exact;-webkit-print-color-adjust:exact}}";

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
    out.push_str("<nav><ul>");
    if !r.summary.is_empty() {
        out.push_str("<li><a href=\"#conclusions\">Conclusions</a></li>");
    }
    out.push_str("<li><a href=\"#expectations\">Expectations</a></li>");
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
    conclusions(&mut out, &r.summary);
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
    let mut facts = vec![
        ("lab", r.lab.clone()),
        ("kernel", r.kernel.clone()),
        ("mvlab", r.mvlab_version.clone()),
        ("started", r.started.clone()),
        ("duration", format!("{:.1} s", r.duration_s)),
    ];
    if let Some(d) = &r.docker {
        let mut said = crate::report::docker::summary(d);
        for line in &d.differences {
            said += &format!("; {line}");
        }
        facts.push(("endpoints", said));
    }
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

//! Results side by side: what `mvlab diff` found between result files, and a scenario run on
//! several kernels (`mvlab run --kernel A --kernel B`): each kernel's verdict, then every cell,
//! expectation and metric on which they differ, one column per input. Text for the terminal
//! and a self-contained HTML page.

use std::fmt::Write;

use super::paint::Paint;
use super::svg::escape;
use crate::diff::Comparison;
use crate::kernels::{KernelDoctor, KernelMatrix, KernelRun};

/// How many differing cells the text lists before summarising (the JSON has them all).
const CELLS_SHOWN: usize = 40;

fn pair(v: Option<(u64, u64)>) -> String {
    match v {
        None => "-".into(),
        Some((r, 0)) => r.to_string(),
        Some((r, l)) => format!("{r}+{l}L"),
    }
}

fn held(v: Option<bool>) -> &'static str {
    match v {
        None => "-",
        Some(true) => "pass",
        Some(false) => "FAIL",
    }
}

fn number(v: Option<f64>) -> String {
    match v {
        None => "-".into(),
        Some(v) if v.is_infinite() => "none".into(),
        Some(v) if v.abs() >= 1000.0 || v == v.trunc() => format!("{v:.0}"),
        Some(v) => format!("{v:.3}"),
    }
}

/// Rows under a header, each column as wide as its widest entry.
fn table(out: &mut String, header: &[String], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let mut l = String::from(" ");
        for (c, w) in cells.iter().zip(&widths) {
            let _ = write!(l, " {c:<w$}");
        }
        l.trim_end().to_string()
    };
    let _ = writeln!(out, "{}", line(header));
    for row in rows {
        let _ = writeln!(out, "{}", line(row));
    }
}

/// The differences of a comparison, as text.
pub fn render_text(c: &Comparison, paint: Paint) -> String {
    let mut out = String::new();
    if c.is_empty() {
        let _ = writeln!(
            out,
            "no differences: {} cell(s), every expectation and every metric (within {}%) agree",
            c.cells_compared, c.tolerance_pct
        );
        if !c.hash_dependent.is_empty() {
            let _ = writeln!(
                out,
                "({} cell(s) differ only by what the multicast filter's hash let through, as the model allows)",
                c.hash_dependent.len()
            );
        }
        return out;
    }
    let labels: Vec<String> = c.labels.clone();
    if !c.cells.is_empty() {
        let _ = writeln!(
            out,
            "{}",
            paint.bad(&format!(
                "{} of {} cell(s) deliver differently (received, +N leaked):",
                c.cells.len(),
                c.cells_compared
            ))
        );
        let mut header = vec![
            "test".to_string(),
            "from".into(),
            "to".into(),
            "class".into(),
            "pass".into(),
        ];
        header.extend(labels.iter().cloned());
        let rows: Vec<Vec<String>> = c
            .cells
            .iter()
            .take(CELLS_SHOWN)
            .map(|d| {
                let mut row = vec![
                    d.test.clone(),
                    d.from.clone(),
                    d.to.clone(),
                    d.class.to_string(),
                    if d.promiscuous { "promisc" } else { "plain" }.into(),
                ];
                row.extend(d.values.iter().map(|v| pair(*v)));
                row
            })
            .collect();
        table(&mut out, &header, &rows);
        if c.cells.len() > CELLS_SHOWN {
            let _ = writeln!(
                out,
                "  ... and {} more (all of them in --json)",
                c.cells.len() - CELLS_SHOWN
            );
        }
    }
    if !c.hash_dependent.is_empty() {
        let _ = writeln!(
            out,
            "{} cell(s) differ only by what the multicast filter's hash let through (as the model allows; not counted)",
            c.hash_dependent.len()
        );
    }
    if !c.expectations.is_empty() {
        let _ = writeln!(
            out,
            "{} expectation(s) came out differently:",
            c.expectations.len()
        );
        let mut header = vec!["test".to_string(), "expectation".into()];
        header.extend(labels.iter().cloned());
        let rows: Vec<Vec<String>> = c
            .expectations
            .iter()
            .map(|e| {
                let mut row = vec![e.test.clone(), e.text.clone()];
                row.extend(e.passed.iter().zip(&e.measured).map(|(p, m)| match m {
                    Some(m) => format!("{} ({m})", held(*p)),
                    None => held(*p).to_string(),
                }));
                row
            })
            .collect();
        table(&mut out, &header, &rows);
    }
    if !c.metrics.is_empty() {
        let _ = writeln!(
            out,
            "{} metric(s) differ by more than {}%:",
            c.metrics.len(),
            c.tolerance_pct
        );
        let mut header = vec!["test".to_string(), "metric".into()];
        header.extend(labels.iter().cloned());
        header.push("spread".into());
        let rows: Vec<Vec<String>> = c
            .metrics
            .iter()
            .map(|m| {
                let mut row = vec![m.test.clone(), m.metric.clone()];
                row.extend(m.values.iter().map(|v| number(*v)));
                row.push(if m.spread_pct.is_finite() {
                    format!("{:.0}%", m.spread_pct)
                } else {
                    "-".into()
                });
                row
            })
            .collect();
        table(&mut out, &header, &rows);
    }
    out
}

fn verdict(run: &KernelRun) -> String {
    match (&run.result, run.exit) {
        (Some(r), _) if r.passed => format!("PASSED: {} expectation(s) held", r.expectations.len()),
        (Some(r), _) => format!(
            "FAILED: {} of {} expectation(s) did not hold",
            r.expectations.iter().filter(|e| !e.passed).count(),
            r.expectations.len()
        ),
        (None, 3) => "the kernel lacks a feature the scenario needs".into(),
        (None, code) => format!("no result (exit {code})"),
    }
}

fn how(run: &KernelRun) -> String {
    match (run.accel, run.cpus, run.boot_s) {
        (Some(a), Some(c), Some(b)) => format!(
            "{}, {c} vCPU{}, booted in {b:.1} s, {:.1} s in all",
            a.as_str(),
            if c == 1 { "" } else { "s" },
            run.duration_s
        ),
        _ => format!("this kernel, {:.1} s", run.duration_s),
    }
}

/// A scenario on several kernels, as text.
pub fn render_kernels(m: &KernelMatrix, paint: Paint) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "scenario {} on {} kernel(s)", m.scenario, m.runs.len());
    for run in &m.runs {
        let v = verdict(run);
        let v = if run.exit == 0 {
            paint.ok(&v)
        } else {
            paint.bad(&v)
        };
        let _ = writeln!(out, "  {:<24} {v}  ({})", run.kernel, how(run));
        for line in run.error.lines().filter(|l| !l.trim().is_empty()).take(6) {
            let _ = writeln!(out, "  {:<24}   {line}", "");
        }
        if let Some(r) = &run.result {
            for e in r.expectations.iter().filter(|e| !e.passed).take(6) {
                let _ = writeln!(
                    out,
                    "  {:<24}   FAIL [{}] {} (expected {}; measured {})",
                    "", e.test, e.text, e.expected, e.measured
                );
            }
        }
    }
    out.push('\n');
    if m.comparison.labels.len() < 2 {
        let _ = writeln!(
            out,
            "fewer than two kernels gave a result: nothing to compare"
        );
    } else {
        out.push_str(&render_text(&m.comparison, paint));
    }
    out
}

fn html_table(out: &mut String, header: &[String], rows: &[Vec<(String, &'static str)>]) {
    out.push_str("<table><thead><tr>");
    for h in header {
        let _ = write!(out, "<th>{}</th>", escape(h));
    }
    out.push_str("</tr></thead><tbody>");
    for row in rows {
        out.push_str("<tr>");
        for (cell, class) in row {
            let _ = write!(out, "<td class=\"{class}\">{}</td>", escape(cell));
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>\n");
}

/// A scenario on several kernels as a self-contained HTML page.
pub fn render_kernels_html(m: &KernelMatrix) -> String {
    let mut out = String::from(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">",
    );
    let _ = write!(
        out,
        "<title>mvlab: {} on {} kernels</title>",
        escape(&m.scenario),
        m.runs.len()
    );
    out.push_str(
        "<style>body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}\
         table{border-collapse:collapse;margin:.5em 0 1.5em}\
         th,td{border:1px solid #ccc;padding:.25em .6em;text-align:left}\
         th{background:#f3f3f3}.pass{background:#e6f4ea}.fail{background:#fde8e8}\
         .same{color:#555}td.num{text-align:right}</style></head><body>\n",
    );
    let _ = write!(
        out,
        "<header><h1>{} on {} kernels</h1></header>\n<h2>Verdict per kernel</h2>\n",
        escape(&m.scenario),
        m.runs.len()
    );
    let header: Vec<String> = ["kernel", "verdict", "how", "error"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let rows: Vec<Vec<(String, &'static str)>> = m
        .runs
        .iter()
        .map(|r| {
            let class = if r.exit == 0 { "pass" } else { "fail" };
            vec![
                (r.kernel.clone(), ""),
                (verdict(r), class),
                (how(r), ""),
                (r.error.lines().next().unwrap_or("").to_string(), ""),
            ]
        })
        .collect();
    html_table(&mut out, &header, &rows);
    let c = &m.comparison;
    let labels = c.labels.clone();
    let _ = writeln!(
        out,
        "<h2>Cells that deliver differently</h2><p>{} of {} cell(s) differ (received, +N leaked); {} more differ only by the multicast filter's hash, as the model allows.</p>",
        c.cells.len(),
        c.cells_compared,
        c.hash_dependent.len()
    );
    if !c.cells.is_empty() {
        let mut header: Vec<String> = ["test", "from", "to", "class", "pass"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        header.extend(labels.iter().cloned());
        let rows: Vec<Vec<(String, &'static str)>> = c
            .cells
            .iter()
            .map(|d| {
                let mut row = vec![
                    (d.test.clone(), ""),
                    (d.from.clone(), ""),
                    (d.to.clone(), ""),
                    (d.class.to_string(), ""),
                    (
                        if d.promiscuous { "promisc" } else { "plain" }.to_string(),
                        "",
                    ),
                ];
                row.extend(d.values.iter().map(|v| (pair(*v), "num")));
                row
            })
            .collect();
        html_table(&mut out, &header, &rows);
    }
    let _ = writeln!(
        out,
        "<h2>Expectations that came out differently</h2><p>{}</p>",
        match c.expectations.len() {
            0 => "None: every expectation came out the same on every kernel.".to_string(),
            n => format!("{n} expectation(s) held on some kernels and not on others."),
        }
    );
    if !c.expectations.is_empty() {
        let mut header: Vec<String> = vec!["test".into(), "expectation".into()];
        header.extend(labels.iter().cloned());
        let rows: Vec<Vec<(String, &'static str)>> = c
            .expectations
            .iter()
            .map(|e| {
                let mut row = vec![(e.test.clone(), ""), (e.text.clone(), "")];
                row.extend(e.passed.iter().zip(&e.measured).map(|(p, m)| {
                    let class = match p {
                        Some(true) => "pass",
                        Some(false) => "fail",
                        None => "same",
                    };
                    (
                        format!("{} {}", held(*p), m.as_deref().unwrap_or("")),
                        class,
                    )
                }));
                row
            })
            .collect();
        html_table(&mut out, &header, &rows);
    }
    let _ = writeln!(
        out,
        "<h2>Metrics beyond {}%</h2><p>{}</p>",
        c.tolerance_pct,
        match c.metrics.len() {
            0 => "None: every metric agrees within the tolerance.".to_string(),
            n => format!("{n} metric(s) differ by more than the tolerance of the larger value."),
        }
    );
    if !c.metrics.is_empty() {
        let mut header: Vec<String> = vec!["test".into(), "metric".into()];
        header.extend(labels.iter().cloned());
        let rows: Vec<Vec<(String, &'static str)>> = c
            .metrics
            .iter()
            .map(|mt| {
                let mut row = vec![(mt.test.clone(), ""), (mt.metric.clone(), "")];
                row.extend(mt.values.iter().map(|v| (number(*v), "num")));
                row
            })
            .collect();
        html_table(&mut out, &header, &rows);
    }
    out.push_str("</body></html>\n");
    out
}

/// What `doctor` found on several kernels: one row per feature, one column per kernel.
pub fn render_doctors(found: &[KernelDoctor]) -> String {
    let mut out = String::new();
    let mut header = vec!["feature".to_string()];
    header.extend(found.iter().map(|d| d.kernel.clone()));
    let first = found.iter().find_map(|d| d.report.as_ref());
    let rows: Vec<Vec<String>> = first
        .map(|r| r.features.as_slice())
        .unwrap_or_default()
        .iter()
        .map(|p| {
            let mut row = vec![p.description.clone()];
            row.extend(found.iter().map(|d| {
                match d
                    .report
                    .as_ref()
                    .and_then(|r| r.features.iter().find(|f| f.feature == p.feature))
                {
                    Some(f) if f.available => "yes".to_string(),
                    Some(_) => "NO".to_string(),
                    None => "-".to_string(),
                }
            }));
            row
        })
        .collect();
    table(&mut out, &header, &rows);
    for d in found.iter().filter(|d| !d.error.is_empty()) {
        let _ = writeln!(out, "{}: {}", d.kernel, d.error);
    }
    out
}

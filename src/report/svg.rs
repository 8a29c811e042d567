//! SVG chart primitives of the HTML report: a line chart (several series, linear or log axes,
//! reference rules, points marked as failed), a bar chart (grouped series; a histogram of counts is
//! one), a CDF of histogram buckets and a heat map with its legend. Each renders to one `<svg>`
//! element with a title, axis labels carrying units, readable ticks (1, 2, 5 steps; SI suffixes)
//! and one element per plotted value with `class="datum"` and `data-*` attributes holding the value
//! exactly as plotted, so a test or a person with a DOM inspector can read the numbers back.
//!
//! Charts are fragments for inline HTML5: no namespace declaration, no ids, no scripts, no external
//! references, colours from the Okabe–Ito and ColorBrewer Blues palettes (colour-blind safe), lines
//! also told apart by dash pattern so a grey print still reads. This module knows nothing of mvlab's
//! results and never formats a page: `report::html` turns results into charts.

use std::fmt::Write;

/// Series colours: Okabe–Ito, yellow left out (unreadable on white).
const PALETTE: [&str; 7] = [
    "#0072B2", "#E69F00", "#009E73", "#D55E00", "#56B4E9", "#CC79A7", "#000000",
];
/// Dash patterns cycled with the colours, so series differ in print too.
const DASHES: [&str; 3] = ["", "6 3", "2 2"];
/// ColorBrewer Blues stops of the heat map's 0..=1 ramp.
const RAMP: [(u8, u8, u8); 5] = [
    (0xf7, 0xfb, 0xff),
    (0xc6, 0xdb, 0xef),
    (0x6b, 0xae, 0xd6),
    (0x21, 0x71, 0xb5),
    (0x08, 0x30, 0x6b),
];
/// Heat map colour of a value above 1.
const OVER: &str = "#CC79A7";
/// Heat map colour of a cell without a value.
const NO_VALUE: &str = "#bdbdbd";
/// Heat map mark (a corner triangle) and outline colours.
const MARK: &str = "#E69F00";
const OUTLINE: &str = "#D55E00";
/// Average width of a character of the 11 px sans-serif text, for layout estimates.
const CHAR_W: f64 = 6.4;
const TITLE_H: f64 = 26.0;
const LEGEND_ROW_H: f64 = 16.0;

/// Escapes text for XML/HTML content and attribute values; drops characters XML 1.0 forbids.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' | '\r' => out.push(ch),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => {}
            c => out.push(c),
        }
    }
    out
}

/// A readable number: SI suffix (k, M, G) and at most three significant digits, `1.5M`, `250k`,
/// `0.02`.
pub fn si(v: f64) -> String {
    if !v.is_finite() {
        return "-".into();
    }
    let a = v.abs();
    let (div, suffix) = match a {
        a if a >= 1e9 => (1e9, "G"),
        a if a >= 1e6 => (1e6, "M"),
        a if a >= 1e3 => (1e3, "k"),
        _ => (1.0, ""),
    };
    let x = v / div;
    let digits = if x == 0.0 {
        0
    } else {
        (2 - x.abs().log10().floor() as i32).max(0) as usize
    };
    let mut s = format!("{x:.digits$}");
    if s.contains('.') {
        s = s.trim_end_matches('0').trim_end_matches('.').to_string();
    }
    if s == "-0" {
        s = "0".into();
    }
    s + suffix
}

/// An attribute value of a plotted number: Rust's shortest round-trip form, so parsing it back
/// gives the same `f64`.
fn num(v: f64) -> String {
    format!("{v}")
}

/// `data-k="v"` attributes.
fn data_attrs(out: &mut String, data: &[(&'static str, String)]) {
    for (k, v) in data {
        let _ = write!(out, " data-{k}=\"{}\"", escape(v));
    }
}

/// How an axis maps values to positions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    Linear,
    /// Decades; values at or below zero sit on the axis' lower edge.
    Log,
}

/// One axis: its label (with the unit, e.g. `latency (us)`), scale and domain rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    pub label: String,
    pub scale: Scale,
    /// A linear axis starts at zero (counts, rates) instead of near the smallest value.
    pub zero: bool,
    /// A fixed domain instead of one fitted to the data.
    pub bounds: Option<(f64, f64)>,
}

impl Axis {
    pub fn linear(label: impl Into<String>) -> Axis {
        Axis {
            label: label.into(),
            scale: Scale::Linear,
            zero: false,
            bounds: None,
        }
    }

    /// Linear from zero: the honest baseline of counts and rates.
    pub fn from_zero(label: impl Into<String>) -> Axis {
        Axis {
            zero: true,
            ..Axis::linear(label)
        }
    }

    pub fn log(label: impl Into<String>) -> Axis {
        Axis {
            scale: Scale::Log,
            ..Axis::linear(label)
        }
    }

    /// The same axis over a fixed domain.
    pub fn bounded(self, lo: f64, hi: f64) -> Axis {
        Axis {
            bounds: Some((lo, hi)),
            ..self
        }
    }

    /// The domain and ticks covering `values` (non-finite values ignored).
    fn domain(&self, values: impl Iterator<Item = f64>) -> Domain {
        let values: Vec<f64> = values.filter(|v| v.is_finite()).collect();
        match self.scale {
            Scale::Linear => {
                let (mut lo, mut hi) = self.bounds.unwrap_or_else(|| {
                    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
                    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    if lo > hi { (0.0, 1.0) } else { (lo, hi) }
                });
                if self.zero {
                    lo = lo.min(0.0);
                    hi = hi.max(0.0);
                }
                if lo == hi {
                    (lo, hi) = if lo == 0.0 {
                        (0.0, 1.0)
                    } else {
                        (lo - lo.abs() / 2.0, hi + hi.abs() / 2.0)
                    };
                }
                let step = nice_step((hi - lo) / 5.0);
                let (first, last) = if self.bounds.is_some() {
                    ((lo / step).ceil(), (hi / step).floor())
                } else {
                    let (first, last) = ((lo / step).floor(), (hi / step).ceil());
                    (lo, hi) = (first * step, last * step);
                    (first, last)
                };
                let ticks = (first as i64..=last as i64)
                    .map(|k| k as f64 * step)
                    .collect();
                Domain {
                    lo,
                    hi,
                    log: false,
                    ticks,
                }
            }
            Scale::Log => {
                let (lo, hi) = self.bounds.unwrap_or_else(|| {
                    let positive = values.iter().copied().filter(|&v| v > 0.0);
                    let lo = positive.clone().fold(f64::INFINITY, f64::min);
                    let hi = positive.fold(f64::NEG_INFINITY, f64::max);
                    if lo > hi { (1.0, 10.0) } else { (lo, hi) }
                });
                let lo_e = lo.log10().floor() as i32;
                let hi_e = (hi.log10().ceil() as i32).max(lo_e + 1);
                if hi_e - lo_e > 2 {
                    // Wide: whole decades, every other one past eight.
                    let every = if hi_e - lo_e > 8 { 2 } else { 1 };
                    return Domain {
                        lo: 10f64.powi(lo_e),
                        hi: 10f64.powi(hi_e),
                        log: true,
                        ticks: (lo_e..=hi_e)
                            .step_by(every)
                            .map(|e| 10f64.powi(e))
                            .collect(),
                    };
                }
                // Narrow: bounds and ticks at 1, 2 and 5 times a power of ten.
                let nice: Vec<f64> = (lo_e..=hi_e)
                    .flat_map(|e| [1.0, 2.0, 5.0].map(|m| m * 10f64.powi(e)))
                    .collect();
                let lo = nice
                    .iter()
                    .rev()
                    .copied()
                    .find(|&v| v <= lo * (1.0 + 1e-12))
                    .unwrap_or(nice[0]);
                let hi = nice
                    .iter()
                    .copied()
                    .find(|&v| v >= hi * (1.0 - 1e-12) && v > lo)
                    .unwrap_or(nice[nice.len() - 1]);
                Domain {
                    lo,
                    hi,
                    log: true,
                    ticks: nice.into_iter().filter(|&v| v >= lo && v <= hi).collect(),
                }
            }
        }
    }
}

/// 1, 2 or 5 times a power of ten, at least `raw`.
fn nice_step(raw: f64) -> f64 {
    let mag = 10f64.powf(raw.log10().floor());
    let m = raw / mag;
    let nice = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .find(|&n| m <= n + 1e-9)
        .unwrap_or(10.0);
    nice * mag
}

/// An axis' resolved domain.
struct Domain {
    lo: f64,
    hi: f64,
    log: bool,
    ticks: Vec<f64>,
}

impl Domain {
    /// Where `v` sits, 0 at `lo` and 1 at `hi`, clamped.
    fn fraction(&self, v: f64) -> f64 {
        let f = if self.log {
            if v <= 0.0 {
                0.0
            } else {
                (v.ln() - self.lo.ln()) / (self.hi.ln() - self.lo.ln())
            }
        } else {
            (v - self.lo) / (self.hi - self.lo)
        };
        f.clamp(0.0, 1.0)
    }
}

/// The plotting area inside a chart.
#[derive(Clone, Copy)]
struct Plot {
    left: f64,
    top: f64,
    width: f64,
    height: f64,
}

impl Plot {
    fn x(&self, d: &Domain, v: f64) -> f64 {
        self.left + d.fraction(v) * self.width
    }

    fn y(&self, d: &Domain, v: f64) -> f64 {
        self.top + (1.0 - d.fraction(v)) * self.height
    }

    fn bottom(&self) -> f64 {
        self.top + self.height
    }
}

/// Opens a chart's `<svg>`: size, accessible name, title.
fn open(out: &mut String, kind: &str, key: &str, title: &str, width: f64, height: f64) {
    let title = escape(title);
    let _ = write!(
        out,
        "<svg class=\"chart\" data-kind=\"{kind}\" data-chart=\"{}\" width=\"{width:.0}\" height=\"{height:.0}\" viewBox=\"0 0 {width:.0} {height:.0}\" role=\"img\" aria-label=\"{title}\" font-family=\"sans-serif\" font-size=\"11\"><title>{title}</title><text x=\"8\" y=\"17\" font-size=\"13\" font-weight=\"bold\">{title}</text>",
        escape(key)
    );
}

/// The y axis: grid lines, tick labels and the rotated label.
fn y_axis(out: &mut String, p: &Plot, d: &Domain, label: &str) {
    for &t in &d.ticks {
        let y = p.y(d, t);
        let _ = write!(
            out,
            "<line x1=\"{:.1}\" x2=\"{:.1}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#e0e0e0\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            p.left,
            p.left + p.width,
            p.left - 5.0,
            y + 4.0,
            si(t)
        );
    }
    let cy = p.top + p.height / 2.0;
    let _ = write!(
        out,
        "<text x=\"14\" y=\"{cy:.1}\" text-anchor=\"middle\" transform=\"rotate(-90 14 {cy:.1})\">{}</text><line x1=\"{l:.1}\" x2=\"{l:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"#444\"/>",
        escape(label),
        p.top,
        p.bottom(),
        l = p.left
    );
}

/// The x axis label and baseline.
fn x_label(out: &mut String, p: &Plot, label: &str) {
    let _ = write!(
        out,
        "<line x1=\"{:.1}\" x2=\"{:.1}\" y1=\"{b:.1}\" y2=\"{b:.1}\" stroke=\"#444\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
        p.left,
        p.left + p.width,
        p.left + p.width / 2.0,
        p.bottom() + 34.0,
        escape(label),
        b = p.bottom()
    );
}

/// How a legend entry is drawn.
enum Swatch {
    Line {
        colour: &'static str,
        dash: &'static str,
    },
    Fill(String),
    Cross,
    Mark,
    Outline,
}

/// Lays legend entries out in rows of at most `width`; returns the markup and its height.
fn legend(entries: &[(Swatch, String)], left: f64, top: f64, width: f64) -> (String, f64) {
    let mut out = String::new();
    let (mut x, mut y) = (left, top);
    for (swatch, label) in entries {
        let w = 22.0 + label.chars().count() as f64 * CHAR_W + 14.0;
        if x > left && x + w > left + width {
            x = left;
            y += LEGEND_ROW_H;
        }
        let cy = y + 8.0;
        match swatch {
            Swatch::Line { colour, dash } => {
                let _ = write!(
                    out,
                    "<line x1=\"{x:.1}\" x2=\"{:.1}\" y1=\"{cy:.1}\" y2=\"{cy:.1}\" stroke=\"{colour}\" stroke-width=\"2\" stroke-dasharray=\"{dash}\"/>",
                    x + 18.0
                );
            }
            Swatch::Fill(colour) => {
                let _ = write!(
                    out,
                    "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"16\" height=\"10\" fill=\"{colour}\" stroke=\"#999\" stroke-width=\"0.5\"/>",
                    cy - 5.0
                );
            }
            Swatch::Cross => out.push_str(&cross(x + 9.0, cy, "#000")),
            Swatch::Mark => {
                let _ = write!(
                    out,
                    "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"16\" height=\"12\" fill=\"#fff\" stroke=\"#999\" stroke-width=\"0.5\"/>{}",
                    cy - 6.0,
                    corner_mark(x, cy - 6.0, 12.0)
                );
            }
            Swatch::Outline => {
                let _ = write!(
                    out,
                    "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"14\" height=\"10\" fill=\"#fff\" stroke=\"{OUTLINE}\" stroke-width=\"2.5\"/>",
                    x + 1.0,
                    cy - 5.0
                );
            }
        }
        let _ = write!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            x + 22.0,
            cy + 4.0,
            escape(label)
        );
        x += w;
    }
    let height = if entries.is_empty() {
        0.0
    } else {
        y - top + LEGEND_ROW_H
    };
    (out, height)
}

/// The mark of a failed point: an X.
fn cross(x: f64, y: f64, colour: &str) -> String {
    format!(
        "<path d=\"M{:.1} {:.1}L{:.1} {:.1}M{:.1} {:.1}L{:.1} {:.1}\" stroke=\"{colour}\" stroke-width=\"2\"/>",
        x - 4.0,
        y - 4.0,
        x + 4.0,
        y + 4.0,
        x - 4.0,
        y + 4.0,
        x + 4.0,
        y - 4.0
    )
}

/// The heat map's mark: a triangle in a cell's top-left corner.
fn corner_mark(x: f64, y: f64, size: f64) -> String {
    let s = (size * 0.45).max(4.0);
    format!(
        "<path d=\"M{x:.1} {y:.1}h{s:.1}L{x:.1} {:.1}z\" fill=\"{MARK}\" stroke=\"#000\" stroke-width=\"0.5\"/>",
        y + s
    )
}

/// One plotted point. `failed` draws it as an X instead of a dot: a trial that failed, a step
/// where something degraded.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub x: f64,
    pub y: f64,
    pub failed: bool,
}

impl Point {
    pub fn new(x: f64, y: f64) -> Point {
        Point {
            x,
            y,
            failed: false,
        }
    }

    pub fn failed(x: f64, y: f64) -> Point {
        Point {
            failed: true,
            ..Point::new(x, y)
        }
    }
}

/// A named series of points, joined by a line in the order given.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub name: String,
    pub points: Vec<Point>,
}

impl Series {
    pub fn new(name: impl Into<String>, points: Vec<Point>) -> Series {
        Series {
            name: name.into(),
            points,
        }
    }
}

/// A horizontal reference line (a found throughput, a configured limit).
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub y: f64,
    pub label: String,
}

/// A line chart of several series over two axes.
#[derive(Debug, Clone, PartialEq)]
pub struct LineChart {
    /// Names the chart for readers of the markup (`data-chart`); any text.
    pub key: String,
    pub title: String,
    pub x: Axis,
    pub y: Axis,
    pub series: Vec<Series>,
    pub rules: Vec<Rule>,
    pub width: f64,
    pub height: f64,
}

impl LineChart {
    pub fn new(key: impl Into<String>, title: impl Into<String>, x: Axis, y: Axis) -> LineChart {
        LineChart {
            key: key.into(),
            title: title.into(),
            x,
            y,
            series: Vec::new(),
            rules: Vec::new(),
            width: 600.0,
            height: 300.0,
        }
    }

    pub fn series(mut self, s: Series) -> LineChart {
        self.series.push(s);
        self
    }

    pub fn rule(mut self, y: f64, label: impl Into<String>) -> LineChart {
        self.rules.push(Rule {
            y,
            label: label.into(),
        });
        self
    }

    /// Width and height of the plot with its axes (the legend adds rows below).
    pub fn size(mut self, width: f64, height: f64) -> LineChart {
        self.width = width;
        self.height = height;
        self
    }

    pub fn render(&self) -> String {
        let points = || {
            self.series
                .iter()
                .flat_map(|s| &s.points)
                .filter(|p| p.x.is_finite() && p.y.is_finite())
        };
        let xd = self.x.domain(points().map(|p| p.x));
        let yd = self
            .y
            .domain(points().map(|p| p.y).chain(self.rules.iter().map(|r| r.y)));
        let p = Plot {
            left: 58.0,
            top: TITLE_H + 8.0,
            width: self.width - 58.0 - 16.0,
            height: self.height - TITLE_H - 8.0 - 44.0,
        };
        let mut entries: Vec<(Swatch, String)> = self
            .series
            .iter()
            .enumerate()
            .map(|(i, s)| (series_swatch(i), s.name.clone()))
            .collect();
        if points().any(|p| p.failed) {
            entries.push((Swatch::Cross, "failed".into()));
        }
        let (legend, legend_h) = legend(&entries, p.left, self.height, p.width);
        let mut out = String::new();
        open(
            &mut out,
            "line",
            &self.key,
            &self.title,
            self.width,
            self.height + legend_h,
        );
        y_axis(&mut out, &p, &yd, &self.y.label);
        for &t in &xd.ticks {
            let x = p.x(&xd, t);
            let _ = write!(
                out,
                "<line x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"#e0e0e0\"/><text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                p.top,
                p.bottom() + 4.0,
                p.bottom() + 16.0,
                si(t)
            );
        }
        x_label(&mut out, &p, &self.x.label);
        for r in &self.rules {
            let y = p.y(&yd, r.y);
            let _ = write!(
                out,
                "<g class=\"rule\" data-y=\"{}\"><line x1=\"{:.1}\" x2=\"{:.1}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#555\" stroke-dasharray=\"4 3\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#333\">{} {}</text></g>",
                num(r.y),
                p.left,
                p.left + p.width,
                p.left + p.width - 2.0,
                y - 3.0,
                escape(&r.label),
                si(r.y)
            );
        }
        for (i, s) in self.series.iter().enumerate() {
            let (colour, dash) = style(i);
            let name = escape(&s.name);
            let _ = write!(out, "<g class=\"series\" data-series=\"{name}\">");
            let shown: Vec<(f64, f64, &Point)> = s
                .points
                .iter()
                .filter(|pt| pt.x.is_finite() && pt.y.is_finite())
                .map(|pt| (p.x(&xd, pt.x), p.y(&yd, pt.y), pt))
                .collect();
            if shown.len() > 1 {
                let mut d = String::new();
                for (k, (x, y, _)) in shown.iter().enumerate() {
                    let _ = write!(d, "{}{x:.1} {y:.1}", if k == 0 { "M" } else { "L" });
                }
                let _ = write!(
                    out,
                    "<path d=\"{d}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\" stroke-dasharray=\"{dash}\"/>"
                );
            }
            for (x, y, pt) in shown {
                let tip = format!(
                    "<title>{name}: {} {}, {} {}</title>",
                    escape(&self.x.label),
                    si(pt.x),
                    escape(&self.y.label),
                    si(pt.y)
                );
                let data = format!(
                    "class=\"datum\" data-series=\"{name}\" data-x=\"{}\" data-y=\"{}\"",
                    num(pt.x),
                    num(pt.y)
                );
                if pt.failed {
                    let _ = write!(
                        out,
                        "<g {data} data-failed=\"true\">{}{tip}</g>",
                        cross(x, y, colour)
                    );
                } else {
                    let _ = write!(
                        out,
                        "<circle {data} cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"3\" fill=\"{colour}\">{tip}</circle>"
                    );
                }
            }
            out.push_str("</g>");
        }
        out.push_str(&legend);
        out.push_str("</svg>");
        out
    }
}

/// Colour and dash of series `i`.
fn style(i: usize) -> (&'static str, &'static str) {
    (PALETTE[i % PALETTE.len()], DASHES[i % DASHES.len()])
}

fn series_swatch(i: usize) -> Swatch {
    let (colour, dash) = style(i);
    Swatch::Line { colour, dash }
}

/// A point on the category axis of a bar chart, with extra `data-*` attributes its bars carry
/// (a histogram bin's bounds, say).
#[derive(Debug, Clone, PartialEq)]
pub struct Category {
    pub label: String,
    pub data: Vec<(&'static str, String)>,
}

impl From<String> for Category {
    fn from(label: String) -> Category {
        Category {
            label,
            data: Vec::new(),
        }
    }
}

/// One value per category.
#[derive(Debug, Clone, PartialEq)]
pub struct BarSeries {
    pub name: String,
    pub values: Vec<f64>,
}

/// Bars per category, one per series side by side.
#[derive(Debug, Clone, PartialEq)]
pub struct BarChart {
    pub key: String,
    pub title: String,
    pub x_label: String,
    pub y: Axis,
    pub categories: Vec<Category>,
    pub series: Vec<BarSeries>,
    pub width: f64,
    pub height: f64,
}

impl BarChart {
    pub fn new(
        key: impl Into<String>,
        title: impl Into<String>,
        x_label: impl Into<String>,
        y: Axis,
        categories: Vec<Category>,
    ) -> BarChart {
        BarChart {
            key: key.into(),
            title: title.into(),
            x_label: x_label.into(),
            y,
            categories,
            series: Vec::new(),
            width: 600.0,
            height: 300.0,
        }
    }

    pub fn series(mut self, name: impl Into<String>, values: Vec<f64>) -> BarChart {
        self.series.push(BarSeries {
            name: name.into(),
            values,
        });
        self
    }

    pub fn size(mut self, width: f64, height: f64) -> BarChart {
        self.width = width;
        self.height = height;
        self
    }

    pub fn render(&self) -> String {
        let yd = self.y.domain(
            self.series
                .iter()
                .flat_map(|s| s.values.iter().copied())
                .chain(std::iter::once(0.0).filter(|_| self.y.scale == Scale::Linear)),
        );
        let n = self.categories.len().max(1);
        let longest = self
            .categories
            .iter()
            .map(|c| c.label.chars().count())
            .max()
            .unwrap_or(0) as f64;
        // Labels fit side by side, else they are turned and only every `every`-th is written.
        let plot_w = self.width - 58.0 - 16.0;
        let slot = plot_w / n as f64;
        let turned = longest * CHAR_W > slot - 4.0;
        let every = if turned {
            (12.0 / slot).ceil().max(1.0) as usize
        } else {
            1
        };
        let label_h = if turned {
            longest * CHAR_W * 0.7 + 8.0
        } else {
            0.0
        };
        let p = Plot {
            left: 58.0,
            top: TITLE_H + 8.0,
            width: plot_w,
            height: self.height - TITLE_H - 8.0 - 44.0,
        };
        let entries: Vec<(Swatch, String)> = if self.series.len() > 1 {
            self.series
                .iter()
                .enumerate()
                .map(|(i, s)| (Swatch::Fill(style(i).0.to_string()), s.name.clone()))
                .collect()
        } else {
            Vec::new()
        };
        let (legend, legend_h) = legend(&entries, p.left, self.height + label_h, p.width);
        let mut out = String::new();
        open(
            &mut out,
            "bar",
            &self.key,
            &self.title,
            self.width,
            self.height + label_h + legend_h,
        );
        y_axis(&mut out, &p, &yd, &self.y.label);
        let axis_label = Plot {
            top: p.top + label_h,
            ..p
        };
        x_label(&mut out, &axis_label, &self.x_label);
        let _ = write!(
            out,
            "<line x1=\"{:.1}\" x2=\"{:.1}\" y1=\"{b:.1}\" y2=\"{b:.1}\" stroke=\"#444\"/>",
            p.left,
            p.left + p.width,
            b = p.bottom()
        );
        let bars = self.series.len().max(1) as f64;
        let bar_w = (slot * 0.8 / bars).min(40.0);
        let base = p.y(&yd, yd.lo.max(0.0).min(yd.hi));
        for (c, cat) in self.categories.iter().enumerate() {
            let x0 = p.left + c as f64 * slot + (slot - bar_w * bars) / 2.0;
            let label = escape(&cat.label);
            for (s, series) in self.series.iter().enumerate() {
                let Some(&v) = series.values.get(c).filter(|v| v.is_finite()) else {
                    continue;
                };
                let top = p.y(&yd, v);
                let (y, h) = if top < base {
                    (top, base - top)
                } else {
                    (base, top - base)
                };
                let name = escape(&series.name);
                let _ = write!(
                    out,
                    "<rect class=\"datum\" data-series=\"{name}\" data-category=\"{label}\" data-value=\"{}\"",
                    num(v)
                );
                data_attrs(&mut out, &cat.data);
                let _ = write!(
                    out,
                    " x=\"{:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{h:.1}\" fill=\"{}\"><title>{name}, {label}: {}</title></rect>",
                    x0 + s as f64 * bar_w,
                    bar_w.max(0.5),
                    style(s).0,
                    si(v)
                );
            }
            if c % every == 0 {
                let cx = p.left + (c as f64 + 0.5) * slot;
                let ty = p.bottom() + 14.0;
                if turned {
                    let _ = write!(
                        out,
                        "<text x=\"{cx:.1}\" y=\"{ty:.1}\" text-anchor=\"end\" transform=\"rotate(-40 {cx:.1} {ty:.1})\">{label}</text>"
                    );
                } else {
                    let _ = write!(
                        out,
                        "<text x=\"{cx:.1}\" y=\"{ty:.1}\" text-anchor=\"middle\">{label}</text>"
                    );
                }
            }
        }
        out.push_str(&legend);
        out.push_str("</svg>");
        out
    }
}

/// A histogram bin: values `lo..=hi` and how many there were.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bin {
    pub lo: u64,
    pub hi: u64,
    pub count: u64,
}

/// At most `max_bins` equal-width integer bins from the smallest value to the largest.
pub fn bins(values: &[u64], max_bins: usize) -> Vec<Bin> {
    let (Some(&min), Some(&max)) = (values.iter().min(), values.iter().max()) else {
        return Vec::new();
    };
    let span = max - min + 1;
    let width = span.div_ceil(max_bins.max(1) as u64);
    let n = span.div_ceil(width) as usize;
    let mut out: Vec<Bin> = (0..n as u64)
        .map(|i| Bin {
            lo: min + i * width,
            hi: (min + (i + 1) * width - 1).min(max),
            count: 0,
        })
        .collect();
    for &v in values {
        out[((v - min) / width) as usize].count += 1;
    }
    out
}

/// A histogram of integer values as a bar chart: one bar per bin, carrying `data-lo`, `data-hi`.
pub fn histogram(
    key: impl Into<String>,
    title: impl Into<String>,
    value_label: impl Into<String>,
    count_label: impl Into<String>,
    values: &[u64],
) -> BarChart {
    let bins = bins(values, 40);
    let categories = bins
        .iter()
        .map(|b| Category {
            label: if b.lo == b.hi {
                si(b.lo as f64)
            } else {
                format!("{}–{}", si(b.lo as f64), si(b.hi as f64))
            },
            data: vec![("lo", b.lo.to_string()), ("hi", b.hi.to_string())],
        })
        .collect();
    let counts = bins.iter().map(|b| b.count as f64).collect();
    BarChart::new(
        key,
        title,
        value_label,
        Axis::from_zero(count_label),
        categories,
    )
    .series("count", counts)
}

/// The cumulative distribution of histogram buckets `(upper bound, count)`, one series each:
/// point `(bound, percentage of the series' samples at or below it)`.
pub fn cdf(
    key: impl Into<String>,
    title: impl Into<String>,
    x: Axis,
    series: Vec<(String, Vec<(f64, u64)>)>,
) -> LineChart {
    let mut chart = LineChart::new(
        key,
        title,
        x,
        Axis::linear("samples at or below (%)").bounded(0.0, 100.0),
    );
    for (name, buckets) in series {
        let total: u64 = buckets.iter().map(|b| b.1).sum();
        let mut seen = 0u64;
        let points = buckets
            .iter()
            .filter(|_| total > 0)
            .map(|&(bound, count)| {
                seen += count;
                Point::new(bound, 100.0 * seen as f64 / total as f64)
            })
            .collect();
        chart = chart.series(Series::new(name, points));
    }
    chart
}

/// One heat map cell. `value` is a share (0 to 1 on the colour ramp; above 1 gets its own colour;
/// `None`: nothing to show); `marked` draws the corner mark, `outlined` the outline; `text` is
/// written in the cell when it is large enough; `data` become `data-*` attributes.
#[derive(Debug, Clone, PartialEq)]
pub struct HeatCell {
    pub row: usize,
    pub col: usize,
    pub value: Option<f64>,
    pub text: String,
    pub tooltip: String,
    pub marked: bool,
    pub outlined: bool,
    pub data: Vec<(&'static str, String)>,
}

/// A grid of cells, rows down and columns across, with a legend of the ramp and of the marks.
#[derive(Debug, Clone, PartialEq)]
pub struct HeatMap {
    pub key: String,
    pub title: String,
    pub rows_label: String,
    pub cols_label: String,
    pub rows: Vec<String>,
    pub cols: Vec<String>,
    /// What the colour is, e.g. `received / sent`.
    pub value_label: String,
    /// What the corner mark and the outline mean, and what a value above 1 means.
    pub mark_label: String,
    pub outline_label: String,
    pub over_label: String,
    pub cells: Vec<HeatCell>,
}

/// The ramp's colour of a share in 0..=1.
fn ramp(v: f64) -> String {
    let t = v.clamp(0.0, 1.0) * (RAMP.len() - 1) as f64;
    let i = (t.floor() as usize).min(RAMP.len() - 2);
    let f = t - i as f64;
    let mix = |a: u8, b: u8| (f64::from(a) + (f64::from(b) - f64::from(a)) * f).round() as u8;
    let (a, b) = (RAMP[i], RAMP[i + 1]);
    format!(
        "#{:02x}{:02x}{:02x}",
        mix(a.0, b.0),
        mix(a.1, b.1),
        mix(a.2, b.2)
    )
}

impl HeatMap {
    pub fn render(&self) -> String {
        let longest = |v: &[String]| v.iter().map(|s| s.chars().count()).max().unwrap_or(0) as f64;
        let n = self.rows.len().max(self.cols.len()).max(1) as f64;
        let cell = (480.0 / n).clamp(8.0, 36.0);
        let left = longest(&self.rows) * CHAR_W + 24.0;
        let top = TITLE_H + 18.0 + longest(&self.cols) * CHAR_W * 0.72;
        let grid_w = cell * self.cols.len() as f64;
        let grid_h = cell * self.rows.len() as f64;
        let width = (left + grid_w + 16.0).max(420.0);
        let ramp_steps = [0.0, 0.25, 0.5, 0.75, 1.0];
        let mut entries: Vec<(Swatch, String)> = ramp_steps
            .iter()
            .map(|&v| (Swatch::Fill(ramp(v)), format!("{:.0}%", v * 100.0)))
            .collect();
        entries.extend([
            (Swatch::Fill(OVER.into()), self.over_label.clone()),
            (Swatch::Fill(NO_VALUE.into()), "no value".into()),
            (Swatch::Mark, self.mark_label.clone()),
            (Swatch::Outline, self.outline_label.clone()),
        ]);
        let legend_top = top + grid_h + 26.0;
        let (legend, legend_h) = legend(&entries, 8.0, legend_top, width - 16.0);
        let mut out = String::new();
        open(
            &mut out,
            "heatmap",
            &self.key,
            &self.title,
            width,
            legend_top + legend_h + 4.0,
        );
        let _ = write!(
            out,
            "<text x=\"8\" y=\"{:.1}\" fill=\"#555\">{} down, {} across</text>",
            TITLE_H + 8.0,
            escape(&self.rows_label),
            escape(&self.cols_label)
        );
        for (i, r) in self.rows.iter().enumerate() {
            let _ = write!(
                out,
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
                left - 6.0,
                top + (i as f64 + 0.5) * cell + 4.0,
                escape(r)
            );
        }
        for (j, c) in self.cols.iter().enumerate() {
            let x = left + (j as f64 + 0.5) * cell;
            let y = top - 6.0;
            let _ = write!(
                out,
                "<text x=\"{x:.1}\" y=\"{y:.1}\" transform=\"rotate(-45 {x:.1} {y:.1})\">{}</text>",
                escape(c)
            );
        }
        let _ = write!(
            out,
            "<rect x=\"{left:.1}\" y=\"{top:.1}\" width=\"{grid_w:.1}\" height=\"{grid_h:.1}\" fill=\"{NO_VALUE}\"/>"
        );
        out.push_str("<g stroke=\"#fff\" stroke-width=\"0.5\">");

        for c in &self.cells {
            if c.row >= self.rows.len() || c.col >= self.cols.len() {
                continue;
            }
            let (x, y) = (left + c.col as f64 * cell, top + c.row as f64 * cell);
            let fill = match c.value {
                None => NO_VALUE.to_string(),
                Some(v) if v > 1.0 => OVER.to_string(),
                Some(v) => ramp(v),
            };
            let _ = write!(
                out,
                "<rect class=\"datum\" data-row=\"{}\" data-col=\"{}\" data-value=\"{}\"",
                escape(&self.rows[c.row]),
                escape(&self.cols[c.col]),
                c.value.map_or_else(String::new, num)
            );
            if c.marked {
                out.push_str(" data-marked=\"true\"");
            }
            if c.outlined {
                out.push_str(" data-outlined=\"true\"");
            }
            data_attrs(&mut out, &c.data);
            let _ = write!(
                out,
                " x=\"{x:.1}\" y=\"{y:.1}\" width=\"{cell:.1}\" height=\"{cell:.1}\" fill=\"{fill}\"><title>{}</title></rect>",
                escape(&c.tooltip)
            );
            if c.marked {
                out.push_str(&corner_mark(x, y, cell));
            }
            if c.outlined {
                let inset = 1.25;
                let _ = write!(
                    out,
                    "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"none\" stroke=\"{OUTLINE}\" stroke-width=\"2.5\"/>",
                    x + inset,
                    y + inset,
                    cell - 2.0 * inset,
                    cell - 2.0 * inset
                );
            }
            if !c.text.is_empty() && c.text.chars().count() as f64 * 5.8 <= cell - 3.0 {
                let dark = c.value.is_some_and(|v| v > 0.55 && v <= 1.0);
                let _ = write!(
                    out,
                    "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"10\" stroke=\"none\" fill=\"{}\">{}</text>",
                    x + cell / 2.0,
                    y + cell / 2.0 + 3.5,
                    if dark { "#fff" } else { "#000" },
                    escape(&c.text)
                );
            }
        }
        out.push_str("</g>");
        let _ = write!(
            out,
            "<text x=\"8\" y=\"{:.1}\" fill=\"#555\">colour: {}</text>",
            legend_top - 6.0,
            escape(&self.value_label)
        );
        out.push_str(&legend);
        out.push_str("</svg>");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_well() {
        assert_eq!(si(0.0), "0");
        assert_eq!(si(1500.0), "1.5k");
        assert_eq!(si(250_000.0), "250k");
        assert_eq!(si(1_000_000.0), "1M");
        assert_eq!(si(148_809.5), "149k");
        assert_eq!(si(0.02), "0.02");
        assert_eq!(si(0.001), "0.001");
        assert_eq!(si(64.0), "64");
        assert_eq!(si(-2e9), "-2G");
        assert_eq!(si(f64::NAN), "-");
    }

    #[test]
    fn linear_ticks_are_round_and_cover_the_data() {
        let d = Axis::from_zero("x").domain([3.0, 148_000.0].into_iter());
        assert_eq!(d.lo, 0.0);
        assert!(d.hi >= 148_000.0);
        assert_eq!(d.ticks.first(), Some(&0.0));
        assert!(d.ticks.len() >= 4 && d.ticks.len() <= 11, "{:?}", d.ticks);
        for t in &d.ticks {
            assert!(si(*t).len() <= 4, "{t}");
        }
        let one = Axis::linear("x").domain([5.0].into_iter());
        assert!(one.lo < 5.0 && one.hi > 5.0);
        let none = Axis::linear("x").domain(std::iter::empty());
        assert_eq!((none.lo, none.hi), (0.0, 1.0));
        let fixed = Axis::linear("x")
            .bounded(0.0, 100.0)
            .domain([3.0].into_iter());
        assert_eq!((fixed.lo, fixed.hi), (0.0, 100.0));
        assert_eq!(fixed.ticks, vec![0.0, 20.0, 40.0, 60.0, 80.0, 100.0]);
    }

    #[test]
    fn log_ticks_are_decades() {
        let d = Axis::log("x").domain([4.0, 40_000.0, 0.0, f64::NAN].into_iter());
        assert_eq!((d.lo, d.hi), (1.0, 100_000.0));
        assert_eq!(d.ticks, vec![1.0, 10.0, 100.0, 1000.0, 10_000.0, 100_000.0]);
        assert_eq!(d.fraction(0.0), 0.0);
        assert!((d.fraction(1000.0) - 0.6).abs() < 1e-12);
        let narrow = Axis::log("x").domain([20.0, 300.0].into_iter());
        assert_eq!((narrow.lo, narrow.hi), (20.0, 500.0));
        assert_eq!(narrow.ticks, vec![20.0, 50.0, 100.0, 200.0, 500.0]);
        let point = Axis::log("x").domain([10.0].into_iter());
        assert_eq!((point.lo, point.hi), (10.0, 20.0));
    }

    #[test]
    fn escaping_is_complete() {
        assert_eq!(
            escape("<a href='x'>\"&\u{1}</a>"),
            "&lt;a href=&#39;x&#39;&gt;&quot;&amp;&lt;/a&gt;"
        );
    }

    #[test]
    fn bins_hold_every_value_once() {
        let values: Vec<u64> = (0..1000).map(|i| 900 + i % 101).collect();
        let b = bins(&values, 40);
        assert!(b.len() <= 40);
        assert_eq!(b.iter().map(|b| b.count).sum::<u64>(), 1000);
        assert_eq!(b[0].lo, 900);
        assert_eq!(b.last().unwrap().hi, 1000);
        for w in b.windows(2) {
            assert_eq!(w[0].hi + 1, w[1].lo);
        }
        assert_eq!(
            bins(&[7, 7], 40),
            vec![Bin {
                lo: 7,
                hi: 7,
                count: 2
            }]
        );
        assert!(bins(&[], 40).is_empty());
    }

    #[test]
    fn cdf_accumulates_to_100_percent() {
        let c = cdf(
            "k",
            "t",
            Axis::log("us"),
            vec![("a".into(), vec![(10.0, 1), (20.0, 2), (40.0, 1)])],
        );
        let ys: Vec<f64> = c.series[0].points.iter().map(|p| p.y).collect();
        assert_eq!(ys, vec![25.0, 75.0, 100.0]);
        let empty = cdf(
            "k",
            "t",
            Axis::log("us"),
            vec![("a".into(), vec![(10.0, 0)])],
        );
        assert!(empty.series[0].points.is_empty());
        assert!(empty.render().ends_with("</svg>"));
    }

    #[test]
    fn the_ramp_runs_light_to_dark() {
        assert_eq!(ramp(0.0), "#f7fbff");
        assert_eq!(ramp(1.0), "#08306b");
        assert_eq!(ramp(7.0), "#08306b");
        assert_eq!(ramp(0.5), "#6baed6");
    }

    #[test]
    fn line_chart_marks_failed_points_and_carries_values() {
        let svg = LineChart::new(
            "k<",
            "search",
            Axis::linear("trial"),
            Axis::from_zero("pps"),
        )
        .series(Series::new(
            "64 B",
            vec![Point::new(1.0, 100.0), Point::failed(2.0, 150.5)],
        ))
        .rule(100.0, "throughput")
        .render();
        assert!(svg.contains("data-chart=\"k&lt;\""));
        assert!(svg.contains("data-x=\"2\" data-y=\"150.5\""));
        assert!(svg.contains("data-failed=\"true\""));
        assert!(svg.contains(">failed</text>"));
        assert!(svg.contains("class=\"rule\" data-y=\"100\""));
    }
}

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
//!
//! This file holds what every chart is drawn from: escaping and number formats, axes and their
//! ticks, the plot area, the title, the legend, the palette and the marks. Each kind of chart has
//! a file of its own: `line` (with the CDF), `bar` (with the histogram), `heat`.

use std::fmt::Write;

mod bar;
mod heat;
mod line;

pub use bar::{BarChart, BarSeries, Bin, Category, bins, histogram};
pub use heat::{HeatCell, HeatMap};
pub use line::{LineChart, Point, Rule, Series, cdf};

/// Series colours: Okabe–Ito, yellow left out (unreadable on white).
const PALETTE: [&str; 7] = [
    "#0072B2", "#E69F00", "#009E73", "#D55E00", "#56B4E9", "#CC79A7", "#000000",
];
/// Dash patterns cycled with the colours, so series differ in print too.
const DASHES: [&str; 3] = ["", "6 3", "2 2"];
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

/// Colour and dash of series `i`.
fn style(i: usize) -> (&'static str, &'static str) {
    (PALETTE[i % PALETTE.len()], DASHES[i % DASHES.len()])
}

fn series_swatch(i: usize) -> Swatch {
    let (colour, dash) = style(i);
    Swatch::Line { colour, dash }
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
}

//! The line chart: series of points over two axes (linear or log), joined in order, failed points
//! drawn as an X, horizontal reference rules; and the CDF of histogram buckets, which is one.

use std::fmt::Write;

use super::{
    Axis, Plot, Swatch, TITLE_H, cross, escape, legend, num, open, series_swatch, si, style,
    x_label, y_axis,
};

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

#[cfg(test)]
mod tests {
    use super::*;

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

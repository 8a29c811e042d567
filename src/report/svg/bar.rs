//! The bar chart: one bar per series side by side in each category; and the histogram of integer
//! values, a bar chart of equal-width bins.

use std::fmt::Write;

use super::{
    Axis, CHAR_W, Plot, Scale, Swatch, TITLE_H, data_attrs, escape, legend, num, open, si, style,
    x_label, y_axis,
};

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

#[cfg(test)]
mod tests {
    use super::*;

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
}

//! The heat map: a grid of cells coloured on a light-to-dark ramp (a value above 1 and a cell
//! with nothing to show get colours of their own), with a corner mark and an outline for what a
//! cell flags, and a legend of the ramp and the marks.

use std::fmt::Write;

use super::{CHAR_W, OUTLINE, Swatch, TITLE_H, corner_mark, data_attrs, escape, legend, num, open};

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
    fn the_ramp_runs_light_to_dark() {
        assert_eq!(ramp(0.0), "#f7fbff");
        assert_eq!(ramp(1.0), "#08306b");
        assert_eq!(ramp(7.0), "#08306b");
        assert_eq!(ramp(0.5), "#6baed6");
    }
}

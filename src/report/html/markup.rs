//! The page's small parts, shared by every section: escaping, numbers as people read them
//! (thousands separators, microseconds, Mbit/s, frame sizes, rates), tables of escaped cells and
//! a row of charts. Formats only what it is given.

use std::fmt::Write;

use crate::report::svg;

pub(super) fn esc(s: &str) -> String {
    svg::escape(s)
}

/// An integer with thousands separators: `1,488,095`.
pub(super) fn int(n: u64) -> String {
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
pub(super) fn whole(v: f64) -> String {
    if v.is_finite() && v >= 0.0 {
        int(v.round() as u64)
    } else {
        "-".into()
    }
}

/// Nanoseconds as microseconds.
pub(super) fn us(ns: f64) -> String {
    format!("{:.1}", ns / 1e3)
}

pub(super) fn mbit(bps: f64) -> String {
    format!("{:.1}", bps / 1e6)
}

/// A table: `head` and rows of cells already escaped. `numeric` right-aligns every column but
/// the first.
pub(super) fn table(
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
pub(super) fn charts(out: &mut String, svgs: impl IntoIterator<Item = String>) {
    out.push_str("<div class=\"charts\">");
    for s in svgs {
        out.push_str(&s);
    }
    out.push_str("</div>");
}

pub(super) fn size_label(size: u32) -> String {
    format!("{size} B")
}

pub(super) fn pace(pps: Option<f64>) -> String {
    pps.map_or("as fast as the sender could".into(), |p| {
        format!("{} pps", whole(p))
    })
}

pub(super) fn optional(n: Option<u32>) -> String {
    n.map_or("-".into(), |n| int(u64::from(n)))
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
}

//! The conclusions section, first on the page: per matrix test, each conclusion in words with
//! the kernel rule behind it (the functions and what they do) and the cells it rests on, then
//! the who-hears-whom table (groups of stations, the classes that arrived, both passes). Reads
//! the run's `summary`; derives nothing.

use std::fmt::Write;

use super::markup::esc;
use crate::conclusions::{MatrixSummary, Tone};
use crate::report::conclusions::{group_label, heard_text, legend, shown_groups};

pub(super) fn conclusions(out: &mut String, summary: &[MatrixSummary]) {
    if summary.is_empty() {
        return;
    }
    out.push_str("<section id=\"conclusions\"><h2>Conclusions</h2>");
    for s in summary {
        let pass = if s.promiscuous {
            "promiscuous sockets"
        } else {
            "sockets not promiscuous"
        };
        let _ = write!(
            out,
            "<h3>Matrix {} <span class=\"note\">({pass})</span></h3><table class=\"conclusions\"><thead><tr><th></th><th>networks</th><th>conclusion</th><th>kernel rule</th><th>cells behind it</th></tr></thead><tbody>",
            esc(&s.test)
        );
        for c in &s.conclusions {
            let (class, mark) = match c.tone {
                Tone::Reaches => ("ok", "✓"),
                Tone::Blocked => ("blocked", "✗"),
                Tone::Note => ("", "·"),
            };
            let networks = if c.networks.is_empty() {
                "all".to_string()
            } else {
                c.networks.join(", ")
            };
            let more = c.cells_total.saturating_sub(c.cells.len());
            let mut cells = c
                .cells
                .iter()
                .map(|x| esc(x))
                .collect::<Vec<_>>()
                .join("<br/>");
            if more > 0 {
                let _ = write!(cells, "<br/><span class=\"note\">and {more} more</span>");
            }
            let _ = write!(
                out,
                "<tr data-tone=\"{tone}\"><td class=\"{class}\">{mark}</td><td>{}</td><td>{}</td><td><code>{}</code><br/><span class=\"note\">{}</span></td><td class=\"cells\">{cells}</td></tr>",
                esc(&networks),
                esc(&c.text),
                esc(&c.rule),
                esc(&c.why),
                tone = match c.tone {
                    Tone::Reaches => "reaches",
                    Tone::Blocked => "blocked",
                    Tone::Note => "note",
                }
            );
        }
        out.push_str("</tbody></table>");
        hearing(out, s);
    }
    out.push_str("</section>");
}

fn hearing(out: &mut String, s: &MatrixSummary) {
    let h = &s.hearing;
    let (rows, cols) = shown_groups(h);
    if rows.is_empty() {
        return;
    }
    let text = |f: usize, t: usize| {
        h.cells[f][t]
            .as_ref()
            .map_or("-".to_string(), |c| heard_text(c, &h.classes, &h.passes))
    };
    let shown: Vec<String> = rows
        .iter()
        .flat_map(|&f| cols.iter().map(move |&t| (f, t)))
        .map(|(f, t)| text(f, t))
        .collect();
    let _ = write!(
        out,
        "<h3>Who hears whom</h3><p class=\"note\">Senders down, receivers across; \"host\" is a network's own parent. {}.</p><table class=\"hearing\"><thead><tr><th>from \\ to</th>",
        esc(&legend(&shown))
    );
    for &t in &cols {
        let _ = write!(
            out,
            "<th>{}</th>",
            esc(&group_label(&h.groups[t].name, &h.groups[t].kind))
        );
    }
    out.push_str("</tr></thead><tbody>");
    for &f in &rows {
        let _ = write!(
            out,
            "<tr><th>{}</th>",
            esc(&group_label(&h.groups[f].name, &h.groups[f].kind))
        );
        for &t in &cols {
            let text = text(f, t);
            let class = if text == "·" || text == "-" {
                " class=\"none\""
            } else {
                ""
            };
            let _ = write!(out, "<td{class}>{}</td>", esc(&text));
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
}

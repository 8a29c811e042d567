//! A matrix's conclusions and who-hears-whom as terminal text: one line per sentence (network,
//! mark, sentence), a dim line under it with the kernel rule and the cells behind it, then the
//! small grid of frame classes heard per relationship and network. Also the words both the text
//! and the HTML report use for a grid cell and a relationship. Reads `conclusions` only; derives
//! nothing.

use std::fmt::Write;

use super::paint::{Paint, pad};
use crate::conclusions::{GroupKind, Heard, Hearing, MatrixSummary, Tone};
use crate::delivery::{Addressing, FrameClass};

fn short(a: Addressing) -> &'static str {
    match a {
        Addressing::Unicast => "uni",
        Addressing::UnknownUnicast => "unk",
        Addressing::Broadcast => "bc",
        Addressing::Multicast4 => "mc4",
        Addressing::Multicast6 => "mc6",
    }
}

/// The legend of the words `heard_text` wrote into `cells`: the classes, and each mark that
/// appears.
pub fn legend<S: AsRef<str>>(cells: &[S]) -> String {
    let mut legend = String::from(
        "uni unicast, unk unknown unicast, bc broadcast, mc4/mc6 IPv4/IPv6 multicast, all every class",
    );
    for (mark, says) in [
        (":", "; :k/n only k of n pairs"),
        ("/t", "; /t tagged, where it differs"),
        ("+", "; +x only with promiscuous sockets"),
    ] {
        if cells.iter().any(|c| c.as_ref().contains(mark)) {
            legend += says;
        }
    }
    legend
}

/// Pairs that heard `class` in the pass.
fn pairs_heard(h: &Heard, class: FrameClass, promiscuous: bool) -> usize {
    h.classes
        .iter()
        .find(|c| c.class == class && c.promiscuous == promiscuous)
        .map_or(0, |c| c.pairs)
}

/// A grid cell in a few words (see `LEGEND`) over `passes` (the first is the base; a class heard
/// only in a later one is marked `+`): `all` when every class reached every pair in every pass,
/// `·` when none did.
pub fn heard_text(h: &Heard, classes: &[FrameClass], passes: &[bool]) -> String {
    let Some((&base, extra)) = passes.split_first() else {
        return "·".into();
    };
    let full = classes
        .iter()
        .all(|&c| passes.iter().all(|&p| pairs_heard(h, c, p) == h.pairs));
    if full && !classes.is_empty() {
        return "all".into();
    }
    let word = |class: FrameClass| -> Option<String> {
        let plain = pairs_heard(h, class, base);
        let more = extra
            .iter()
            .map(|&p| pairs_heard(h, class, p))
            .max()
            .unwrap_or(0);
        let (prefix, n) = match (plain, more) {
            (0, 0) => return None,
            (0, n) => ("+", n),
            (n, _) => ("", n),
        };
        let tag = if class.tagged { "/t" } else { "" };
        let part = if n < h.pairs {
            format!(":{n}/{}", h.pairs)
        } else {
            String::new()
        };
        Some(format!("{prefix}{}{tag}{part}", short(class.addressing)))
    };
    let mut words: Vec<String> = classes
        .iter()
        .filter(|c| !c.tagged)
        .filter_map(|&c| word(c))
        .collect();
    for &c in classes.iter().filter(|c| c.tagged) {
        let twin = FrameClass::untagged(c.addressing);
        let same = classes.contains(&twin)
            && passes
                .iter()
                .all(|&p| pairs_heard(h, c, p) == pairs_heard(h, twin, p));
        if !same && let Some(w) = word(c) {
            words.push(w);
        }
    }
    if words.is_empty() {
        "·".into()
    } else {
        words.join(" ")
    }
}

/// A group's heading: a network as `name` (with its mode when the name is not the mode).
pub fn group_label(name: &str, kind: &GroupKind) -> String {
    match kind {
        GroupKind::Network { mode, .. } if name != mode.as_str() => format!("{name} ({mode})"),
        _ => name.to_string(),
    }
}

/// The rows and columns of the grid worth showing: groups that send to, or hear from, anyone.
pub fn shown_groups(h: &Hearing) -> (Vec<usize>, Vec<usize>) {
    let n = h.groups.len();
    let rows = (0..n)
        .filter(|&f| h.cells[f].iter().any(Option::is_some))
        .collect();
    let cols = (0..n)
        .filter(|&t| (0..n).any(|f| h.cells[f][t].is_some()))
        .collect();
    (rows, cols)
}

/// How many of a conclusion's cells a line names (the JSON and the HTML report have more).
const CELLS_SHOWN: usize = 1;

fn mark(tone: Tone, paint: Paint) -> String {
    match tone {
        Tone::Reaches => paint.ok("✓"),
        Tone::Blocked => paint.warn("✗"),
        Tone::Note => "·".into(),
    }
}

/// The sentences: network, mark, sentence; under each, dim, the rule and the cells behind it.
pub fn render(out: &mut String, s: &MatrixSummary, paint: Paint) {
    let label = |networks: &[String]| match networks {
        [one] => one.clone(),
        [] => "all".to_string(),
        _ if networks.len()
            == s.hearing
                .groups
                .iter()
                .filter(|g| matches!(g.kind, GroupKind::Network { .. }))
                .count() =>
        {
            "all".to_string()
        }
        _ => "several".to_string(),
    };
    let width = s
        .conclusions
        .iter()
        .map(|c| label(&c.networks).chars().count())
        .max()
        .unwrap_or(0)
        + 2;
    let mut last = String::new();
    for c in &s.conclusions {
        let l = label(&c.networks);
        let shown = if l == last { String::new() } else { l.clone() };
        last = l;
        let _ = writeln!(
            out,
            "  {}{} {}",
            pad(&shown, width),
            mark(c.tone, paint),
            c.text
        );
        let named = &c.cells[..c.cells.len().min(CELLS_SHOWN)];
        let more = c.cells_total.saturating_sub(named.len());
        let cells = match (named.is_empty(), more) {
            (true, n) => format!("{n} cells"),
            (false, 0) => named.join(", "),
            (false, n) => format!("{}, +{n} more", named.join(", ")),
        };
        let _ = writeln!(
            out,
            "  {}  {}",
            " ".repeat(width),
            paint.dim(&format!("[{}] {cells}", c.rule))
        );
    }
}

/// The who-hears-whom grid of the base pass: sender groups down, receiver groups across.
pub fn render_hearing(out: &mut String, h: &Hearing, paint: Paint) {
    let (rows, cols) = shown_groups(h);
    if rows.is_empty() {
        return;
    }
    let base = &h.passes[..h.passes.len().min(1)];
    let text = |f: usize, t: usize| {
        h.cells[f][t]
            .as_ref()
            .map_or("-".to_string(), |c| heard_text(c, &h.classes, base))
    };
    let label = |g: usize| group_label(&h.groups[g].name, &h.groups[g].kind);
    let widths: Vec<usize> = cols
        .iter()
        .map(|&t| {
            rows.iter()
                .map(|&f| text(f, t).chars().count())
                .chain([label(t).chars().count()])
                .max()
                .unwrap_or(1)
                + 2
        })
        .collect();
    let label_width = rows
        .iter()
        .map(|&f| label(f).chars().count())
        .chain(["from\\to".len()])
        .max()
        .unwrap_or(0)
        + 2;
    let pass = if base == [true] {
        "promiscuous sockets"
    } else {
        "sockets not promiscuous"
    };
    let _ = writeln!(
        out,
        "  who hears whom ({pass}; host: a network's own parent)"
    );
    let mut line = format!("  {}", pad("from\\to", label_width));
    for (&t, w) in cols.iter().zip(&widths) {
        line += &pad(&label(t), *w);
    }
    let _ = writeln!(out, "{}", line.trim_end());
    for &f in &rows {
        let mut line = format!("  {}", pad(&label(f), label_width));
        for (&t, w) in cols.iter().zip(&widths) {
            let cell = text(f, t);
            let shown = if cell == "·" || cell == "-" {
                paint.dim(&cell)
            } else {
                cell
            };
            line += &pad(&shown, *w);
        }
        let _ = writeln!(out, "{}", line.trim_end());
    }
    let shown: Vec<String> = rows
        .iter()
        .flat_map(|&f| cols.iter().map(move |&t| (f, t)))
        .map(|(f, t)| text(f, t))
        .collect();
    let _ = writeln!(out, "  {}", paint.dim(&legend(&shown)));
}

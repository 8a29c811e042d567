//! The delivery matrix section: per frame class and pass a heat map of senders by receivers
//! (stations grouped when a lab is large, so a 1,000-endpoint page stays small), the cells not as
//! expected by name, the promiscuity of parents and bridge ports, and what the bridge learned.

use std::collections::{HashMap, HashSet};
use std::fmt::Write;

use super::markup::{charts, esc, int, table};
use crate::delivery::MatrixResult;
use crate::delivery::{Cell, FrameClass};
use crate::report::svg::{self, HeatCell, HeatMap};

/// Up to this many stations in a matrix, each is a row and a column of its own; beyond, stations
/// are drawn in at most this many groups.
const GRID_MAX: usize = 16;
/// How many cells that differ from their expectation are listed by name.
const CELLS_LISTED: usize = 40;
/// How many stations an FDB row names before summarising.
const FDB_NAMED: usize = 8;

/// Whether a cell differs from what was expected of it.
fn unexpected(c: &Cell) -> bool {
    c.expected.is_some_and(|e| e != c.received) || c.expected_leaked.is_some_and(|e| e != c.leaked)
}

fn pass_name(promiscuous: bool) -> &'static str {
    if promiscuous {
        "promiscuous"
    } else {
        "not promiscuous"
    }
}

/// Distinct names in order of first appearance.
fn in_order<'a>(names: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut seen = HashSet::new();
    names.filter(|n| seen.insert(*n)).collect()
}

/// Stations as rows or columns of a heat map: one each for small labs, else groups of
/// consecutive stations of the same family (`e1`, `e2`, ... share `e`), at most `GRID_MAX`. Rows
/// and columns are cut from one grouping of all stations, so a group is the same down and across.
struct Grouping<'a> {
    labels: Vec<String>,
    index: HashMap<&'a str, usize>,
    grouped: bool,
}

impl<'a> Grouping<'a> {
    fn of(names: &[&'a str]) -> Grouping<'a> {
        if names.len() <= GRID_MAX {
            return Grouping {
                labels: names.iter().map(|n| n.to_string()).collect(),
                index: names.iter().enumerate().map(|(i, n)| (*n, i)).collect(),
                grouped: false,
            };
        }
        let family = |n: &str| n.trim_end_matches(|c: char| c.is_ascii_digit()).to_string();
        let mut runs: Vec<&[&'a str]> = Vec::new();
        let mut start = 0;
        for i in 1..=names.len() {
            if i == names.len() || family(names[i]) != family(names[start]) {
                runs.push(&names[start..i]);
                start = i;
            }
        }
        if runs.len() > GRID_MAX {
            runs = vec![names];
        }
        let chunk = (1..=names.len())
            .find(|&c| runs.iter().map(|r| r.len().div_ceil(c)).sum::<usize>() <= GRID_MAX)
            .unwrap_or(names.len());
        let mut labels = Vec::new();
        let mut index = HashMap::with_capacity(names.len());
        for block in runs.iter().flat_map(|r| r.chunks(chunk)) {
            for n in block {
                index.insert(*n, labels.len());
            }
            labels.push(match block {
                [one] => one.to_string(),
                [first, .., last] => format!("{first} … {last} ({})", block.len()),
                [] => String::new(),
            });
        }
        Grouping {
            labels,
            index,
            grouped: true,
        }
    }

    /// The groups holding at least one of `members`, in order.
    fn holding(&self, members: &HashSet<&str>) -> Grouping<'a> {
        let mut kept = vec![false; self.labels.len()];
        for (name, &g) in &self.index {
            kept[g] |= members.contains(name);
        }
        let mut renumbered = vec![None; self.labels.len()];
        let mut labels = Vec::new();
        for (g, label) in self.labels.iter().enumerate().filter(|(g, _)| kept[*g]) {
            renumbered[g] = Some(labels.len());
            labels.push(label.clone());
        }
        Grouping {
            labels,
            index: self
                .index
                .iter()
                .filter_map(|(name, &g)| renumbered[g].map(|n| (*name, n)))
                .collect(),
            grouped: self.grouped,
        }
    }
}

/// The cells of one heat map square added up.
#[derive(Default, Clone)]
struct Tally {
    cells: u64,
    sent: u64,
    received: u64,
    leaked: u64,
    unexpected: u64,
    /// Sum of `expected` while every cell has one.
    expected: Option<u64>,
}

impl Tally {
    fn add(&mut self, c: &Cell) {
        self.expected = match (self.cells, self.expected, c.expected) {
            (0, _, e) => e,
            (_, Some(a), Some(b)) => Some(a + b),
            _ => None,
        };
        self.cells += 1;
        self.sent += c.sent;
        self.received += c.received;
        self.leaked += c.leaked;
        self.unexpected += u64::from(unexpected(c));
    }
}

pub(super) fn matrix(out: &mut String, m: &MatrixResult) {
    let _ = write!(
        out,
        "<p>{} frame(s) per sender, class and destination; tagged classes carry VLAN {}. A square's colour is received / sent (copies: a frame delivered twice counts twice); a corner mark means frames leaked to a receiver they were not addressed to; a red outline means the square differs from what was expected (the scenario's claims, else the model).</p>",
        int(u64::from(m.spec.frames)),
        m.spec.vlan
    );
    // One order of stations (the cells' first mention of each) and one grouping for rows and
    // columns, so that a station that sends and receives sits at the same place down and across.
    let stations = in_order(
        m.cells
            .iter()
            .flat_map(|c| [c.from.as_str(), c.to.as_str()]),
    );
    let senders: HashSet<&str> = m.cells.iter().map(|c| c.from.as_str()).collect();
    let receivers: HashSet<&str> = m.cells.iter().map(|c| c.to.as_str()).collect();
    let all = Grouping::of(&stations);
    let rows = all.holding(&senders);
    let cols = all.holding(&receivers);
    if all.grouped {
        let _ = write!(
            out,
            "<p class=\"note\">{} senders and {} receivers: each square adds up the cells of a group of consecutive stations (its tooltip and data attributes give the totals); the cells not as expected are listed below by name.</p>",
            int(senders.len() as u64),
            int(receivers.len() as u64)
        );
    }
    let mut by_map: HashMap<(FrameClass, bool), Vec<&Cell>> = HashMap::new();
    for c in &m.cells {
        by_map.entry((c.class, c.promiscuous)).or_default().push(c);
    }
    let maps: Vec<(bool, FrameClass)> = m
        .spec
        .promiscuous
        .iter()
        .flat_map(|&p| m.spec.classes.iter().map(move |&c| (p, c)))
        .collect();
    table(
        out,
        true,
        &[
            "class",
            "pass",
            "cells",
            "delivered",
            "leaked",
            "not as expected",
        ],
        maps.iter().map(|&(p, class)| {
            let cells = by_map.get(&(class, p)).map_or(&[][..], Vec::as_slice);
            let count =
                |f: &dyn Fn(&Cell) -> bool| int(cells.iter().filter(|c| f(c)).count() as u64);
            vec![
                esc(&class.to_string()),
                pass_name(p).into(),
                int(cells.len() as u64),
                count(&|c| c.received > 0),
                count(&|c| c.leaked > 0),
                count(&unexpected),
            ]
        }),
    );
    charts(
        out,
        maps.iter().map(|&(p, class)| {
            let cells = by_map.get(&(class, p)).map_or(&[][..], Vec::as_slice);
            heat_map(m, class, p, cells, &rows, &cols).render()
        }),
    );
    let wrong: Vec<&Cell> = m.cells.iter().filter(|c| unexpected(c)).collect();
    if !wrong.is_empty() {
        let _ = write!(
            out,
            "<h3>Cells not as expected ({})</h3>",
            int(wrong.len() as u64)
        );
        let opt = |v: Option<u64>| v.map_or("-".into(), int);
        table(
            out,
            true,
            &[
                "from",
                "to",
                "class",
                "pass",
                "sent",
                "received",
                "expected",
                "leaked",
                "expected leaked",
            ],
            wrong.iter().take(CELLS_LISTED).map(|c| {
                vec![
                    esc(&c.from),
                    esc(&c.to),
                    esc(&c.class.to_string()),
                    pass_name(c.promiscuous).into(),
                    int(c.sent),
                    int(c.received),
                    opt(c.expected),
                    int(c.leaked),
                    opt(c.expected_leaked),
                ]
            }),
        );
        if wrong.len() > CELLS_LISTED {
            let _ = write!(
                out,
                "<p class=\"note\">… and {} more (the JSON result has every cell).</p>",
                int((wrong.len() - CELLS_LISTED) as u64)
            );
        }
    }
    if !m.promiscuity.is_empty() {
        out.push_str("<h3>Promiscuity of parents and bridge ports</h3>");
        table(
            out,
            true,
            &["device", "pass", "promiscuity"],
            m.promiscuity.iter().map(|p| {
                vec![
                    esc(&p.device),
                    pass_name(p.promiscuous_pass).into(),
                    int(u64::from(p.promiscuity)),
                ]
            }),
        );
    }
    if !m.fdb.is_empty() {
        out.push_str("<h3>What the bridge learned</h3>");
        let mut ports: Vec<(bool, &str, Vec<&str>)> = Vec::new();
        for e in &m.fdb {
            let who = e.station.as_deref().unwrap_or(&e.mac);
            match ports
                .iter_mut()
                .find(|(p, port, _)| *p == e.promiscuous_pass && *port == e.port)
            {
                Some((_, _, names)) => names.push(who),
                None => ports.push((e.promiscuous_pass, &e.port, vec![who])),
            }
        }
        table(
            out,
            true,
            &["port", "pass", "entries", "stations or MACs"],
            ports.iter().map(|(p, port, names)| {
                let mut shown = names
                    .iter()
                    .take(FDB_NAMED)
                    .copied()
                    .collect::<Vec<_>>()
                    .join(", ");
                if names.len() > FDB_NAMED {
                    let _ = write!(shown, " and {} more", names.len() - FDB_NAMED);
                }
                vec![
                    esc(port),
                    pass_name(*p).into(),
                    int(names.len() as u64),
                    esc(&shown),
                ]
            }),
        );
    }
}

/// One class and pass of the matrix as a heat map of (grouped) stations.
fn heat_map(
    m: &MatrixResult,
    class: FrameClass,
    promiscuous: bool,
    cells: &[&Cell],
    rows: &Grouping<'_>,
    cols: &Grouping<'_>,
) -> HeatMap {
    let width = cols.labels.len();
    let mut tally = vec![Tally::default(); rows.labels.len() * width];
    for c in cells {
        if let (Some(&r), Some(&k)) = (
            rows.index.get(c.from.as_str()),
            cols.index.get(c.to.as_str()),
        ) {
            tally[r * width + k].add(c);
        }
    }
    let heat_cells = tally
        .iter()
        .enumerate()
        .filter(|(_, t)| t.cells > 0)
        .map(|(i, t)| {
            let (r, k) = (i / width, i % width);
            let mut tooltip = format!(
                "{} → {}: {}/{} received",
                rows.labels[r],
                cols.labels[k],
                int(t.received),
                int(t.sent)
            );
            if let Some(e) = t.expected {
                let _ = write!(tooltip, ", {} expected", int(e));
            }
            if t.leaked > 0 {
                let _ = write!(tooltip, ", {} leaked", int(t.leaked));
            }
            if t.cells > 1 {
                let _ = write!(
                    tooltip,
                    "; {} of {} cells not as expected",
                    int(t.unexpected),
                    int(t.cells)
                );
            } else if t.unexpected > 0 {
                tooltip.push_str("; not as expected");
            }
            let mut data = vec![
                ("cells", t.cells.to_string()),
                ("sent", t.sent.to_string()),
                ("received", t.received.to_string()),
                ("leaked", t.leaked.to_string()),
                ("unexpected", t.unexpected.to_string()),
            ];
            if let Some(e) = t.expected {
                data.push(("expected", e.to_string()));
            }
            HeatCell {
                row: r,
                col: k,
                value: (t.sent > 0).then(|| t.received as f64 / t.sent as f64),
                // A group's total would not fit; its colour and tooltip tell.
                text: if t.cells > 1 {
                    String::new()
                } else if t.leaked > 0 {
                    format!("{}+{}L", si_count(t.received), si_count(t.leaked))
                } else {
                    si_count(t.received)
                },
                tooltip,
                marked: t.leaked > 0,
                outlined: t.unexpected > 0,
                data,
            }
        })
        .collect();
    HeatMap {
        key: format!("{}/{class}/{}", m.name, pass_name(promiscuous)),
        title: format!("{class}, {}", pass_name(promiscuous)),
        rows_label: "senders".into(),
        cols_label: "receivers".into(),
        rows: rows.labels.clone(),
        cols: cols.labels.clone(),
        value_label: "received / sent".into(),
        mark_label: "leaked".into(),
        outline_label: "not as expected".into(),
        over_label: "over 100% (copies)".into(),
        cells: heat_cells,
    }
}

fn si_count(n: u64) -> String {
    svg::si(n as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_labs_are_not_grouped() {
        let names = ["e1", "e2", "peer"];
        let g = Grouping::of(&names);
        assert!(!g.grouped);
        assert_eq!(g.labels, vec!["e1", "e2", "peer"]);
        assert_eq!(g.index["peer"], 2);
    }

    #[test]
    fn large_labs_are_grouped_by_family() {
        let names: Vec<String> = (1..=1000)
            .map(|i| format!("e{i}"))
            .chain(["peer".into(), "host:eth0".into()])
            .collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let g = Grouping::of(&refs);
        assert!(g.grouped);
        assert!(g.labels.len() <= GRID_MAX, "{:?}", g.labels);
        assert_eq!(g.labels[0], "e1 … e72 (72)");
        assert_eq!(g.labels[g.labels.len() - 2], "peer");
        assert_eq!(g.labels[g.labels.len() - 1], "host:eth0");
        assert_eq!(g.index.len(), 1002);
        assert_eq!(g.index["e73"], 1);
        // Too many families to keep apart: plain consecutive blocks.
        let mixed: Vec<String> = (0..100).map(|i| format!("n{i}x")).collect();
        let refs: Vec<&str> = mixed.iter().map(String::as_str).collect();
        let g = Grouping::of(&refs);
        assert_eq!(g.labels.len(), 15);
        assert_eq!(g.labels[0], "n0x … n6x (7)");
    }

    #[test]
    fn rows_and_columns_share_the_groups() {
        let names: Vec<String> = (1..=40)
            .map(|i| format!("e{i}"))
            .chain(["peer".into(), "host:eth0".into()])
            .collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let all = Grouping::of(&refs);
        let senders: HashSet<&str> = refs[..41].iter().copied().collect();
        let rows = all.holding(&senders);
        assert_eq!(rows.labels.len(), all.labels.len() - 1);
        assert_eq!(rows.labels[..], all.labels[..all.labels.len() - 1]);
        assert_eq!(rows.index.get("host:eth0"), None);
        assert_eq!(rows.index["peer"], rows.labels.len() - 1);
        let only_peer: HashSet<&str> = ["peer"].into_iter().collect();
        let peer = all.holding(&only_peer);
        assert_eq!(peer.labels, vec!["peer"]);
        assert_eq!(peer.index["peer"], 0);
    }

    #[test]
    fn a_tally_keeps_expected_only_when_every_cell_has_one() {
        let cell = |expected| Cell {
            from: "a".into(),
            to: "b".into(),
            class: FrameClass::untagged(crate::delivery::Addressing::Broadcast),
            promiscuous: false,
            sent: 10,
            received: 10,
            leaked: 0,
            expected,
            expected_leaked: None,
        };
        let mut t = Tally::default();
        t.add(&cell(Some(10)));
        t.add(&cell(Some(0)));
        assert_eq!(t.expected, Some(10));
        assert_eq!(t.unexpected, 1);
        t.add(&cell(None));
        assert_eq!(t.expected, None);
        assert_eq!((t.cells, t.sent, t.received), (3, 30, 30));
    }
}

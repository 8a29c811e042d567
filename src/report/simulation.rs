//! The terminal rendering of `mvlab simulate`: the predicted matrix by group of stations, the
//! forwarding table, promiscuity, reachability, the host's reach, the caveats, and a trace hop by
//! hop. Reads only the model's result values; decides nothing.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::delivery::FrameClass;
use crate::model::{Action, GroupCell, Reach, Simulation, Trace};

/// Short column names of the classes.
fn short(class: FrameClass) -> String {
    let base = match class.addressing {
        crate::delivery::Addressing::Unicast => "uc",
        crate::delivery::Addressing::UnknownUnicast => "unk",
        crate::delivery::Addressing::Broadcast => "bc",
        crate::delivery::Addressing::Multicast4 => "mc4",
        crate::delivery::Addressing::Multicast6 => "mc6",
    };
    if class.tagged {
        format!("{base}-t")
    } else {
        base.to_string()
    }
}

fn count(c: &GroupCell) -> String {
    match (c.received, c.leaked) {
        (0, 0) => "·".into(),
        (r, 0) => r.to_string(),
        (r, l) => format!("{r}+{l}L"),
    }
}

fn reach(r: &Reach) -> String {
    if r.reachable {
        "yes".into()
    } else {
        format!("no: {}", r.why)
    }
}

/// Pads every column of `rows` to its widest cell.
pub(super) fn table(out: &mut String, rows: &[Vec<String>]) {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for row in rows {
        let mut line = String::from("  ");
        for (i, cell) in row.iter().enumerate() {
            let pad = widths[i] - cell.chars().count();
            line.push_str(cell);
            if i + 1 < row.len() {
                line.push_str(&" ".repeat(pad + 2));
            }
        }
        let _ = writeln!(out, "{}", line.trim_end());
    }
}

pub fn render(s: &Simulation) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "scenario {}: predicted by the model (no kernel involved), {} frame(s) per sender, class and destination",
        s.scenario, s.spec.frames
    );
    let _ = writeln!(
        out,
        "\nstations, grouped where the rules cannot tell them apart"
    );
    let rows: Vec<Vec<String>> = s
        .groups
        .iter()
        .map(|g| vec![g.label.clone(), g.members.len().to_string(), g.kind.clone()])
        .collect();
    table(&mut out, &rows);

    let classes: Vec<FrameClass> = s.spec.classes.clone();
    for &pass in &s.spec.promiscuous {
        let _ = writeln!(
            out,
            "\nmatrix, {} pass: frames each receiving station gets from each sending station (+NL: N addressed to others; · none)",
            if pass {
                "promiscuous"
            } else {
                "non-promiscuous"
            }
        );
        let mut by_pair: BTreeMap<(usize, usize), Vec<&GroupCell>> = BTreeMap::new();
        let index = |label: &str| {
            s.groups
                .iter()
                .position(|g| g.label == label)
                .unwrap_or(usize::MAX)
        };
        for c in s.matrix.iter().filter(|c| c.promiscuous == pass) {
            by_pair
                .entry((index(&c.from), index(&c.to)))
                .or_default()
                .push(c);
        }
        let mut rows = vec![{
            let mut h = vec!["from".to_string(), "to".to_string(), "pairs".to_string()];
            h.extend(classes.iter().map(|&c| short(c)));
            h
        }];
        for cells in by_pair.values() {
            let first = cells[0];
            let mut row = vec![
                first.from.clone(),
                first.to.clone(),
                first.pairs.to_string(),
            ];
            row.extend(classes.iter().map(|&class| {
                cells
                    .iter()
                    .find(|c| c.class == class)
                    .map_or("-".into(), |c| count(c))
            }));
            rows.push(row);
        }
        table(&mut out, &rows);
    }
    let _ = writeln!(
        out,
        "  (uc unicast, unk unknown unicast, bc broadcast, mc4 239.255.77.77, mc6 ff02::1; -t tagged with VLAN {})",
        s.spec.vlan
    );

    if !s.fdb.is_empty() || !s.fdb_not_learned.is_empty() {
        let _ = writeln!(out, "\nswitch forwarding table after a pass");
        let first_pass = s.fdb.first().map(|e| e.promiscuous_pass);
        let mut by_port: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for e in s
            .fdb
            .iter()
            .filter(|e| Some(e.promiscuous_pass) == first_pass)
        {
            by_port
                .entry(&e.port)
                .or_default()
                .push(e.station.as_deref().unwrap_or(&e.mac));
        }
        for (port, owners) in by_port {
            let shown = if owners.len() > 6 {
                format!(
                    "{} .. {} ({} entries)",
                    owners[0],
                    owners[owners.len() - 1],
                    owners.len()
                )
            } else {
                owners.join(", ")
            };
            let _ = writeln!(out, "  {port}: {shown}");
        }
        if !s.fdb_not_learned.is_empty() {
            let _ = writeln!(
                out,
                "  not learned (table full, frames to them are flooded): {}",
                s.fdb_not_learned.len()
            );
        }
    }

    let _ = writeln!(out, "\npromiscuity (the kernel's counter)");
    let mut rows = vec![vec![
        "device".to_string(),
        "pass".to_string(),
        "promiscuity".to_string(),
    ]];
    rows.extend(s.promiscuity.iter().map(|p| {
        vec![
            p.device.clone(),
            if p.promiscuous_pass {
                "promiscuous"
            } else {
                "plain"
            }
            .to_string(),
            p.promiscuity.to_string(),
        ]
    }));
    table(&mut out, &rows);

    let _ = writeln!(out, "\nIP reachability (ARP/ND and unicast, both ways)");
    let mut rows = vec![vec![
        "from".to_string(),
        "to".to_string(),
        "IPv4".to_string(),
        "IPv6".to_string(),
    ]];
    rows.extend(
        s.reachability
            .iter()
            .map(|r| vec![r.from.clone(), r.to.clone(), reach(&r.ipv4), reach(&r.ipv6)]),
    );
    table(&mut out, &rows);

    if !s.host_reach.is_empty() {
        let _ = writeln!(out, "\ncan the host reach its endpoints (IPv4)?");
        let mut rows = vec![vec![
            "endpoints".to_string(),
            "from its own address".to_string(),
            "through the shim".to_string(),
        ]];
        rows.extend(s.host_reach.iter().map(|h| {
            vec![
                h.endpoints.clone(),
                reach(&h.direct),
                h.shim
                    .as_ref()
                    .map_or("no shim in this scenario".into(), reach),
            ]
        }));
        table(&mut out, &rows);
    }
    if !s.notes.is_empty() {
        let _ = writeln!(out, "\nwhere the kernel may differ");
        for n in &s.notes {
            let _ = writeln!(out, "  - {n}");
        }
    }
    out
}

pub fn render_trace(t: &Trace) -> String {
    let mut out = String::new();
    let r = &t.request;
    let tags = if t.tags.is_empty() {
        "untagged".to_string()
    } else {
        format!("802.1Q {:?}", t.tags)
    };
    let _ = writeln!(
        out,
        "trace: {} -> {}, class {}, {} pass\nframe {} -> {} ({tags})",
        r.from,
        r.to,
        r.class,
        if r.promiscuous {
            "promiscuous"
        } else {
            "non-promiscuous"
        },
        t.src,
        t.dst
    );
    for (i, h) in t.hops.iter().enumerate() {
        let action = match h.action {
            Action::Forwarded => "->",
            Action::Delivered => "**",
            Action::Dropped => "xx",
        };
        let _ = writeln!(
            out,
            "  {:>2}. {action} {:<14} [{}] {}",
            i + 1,
            h.device,
            h.kernel,
            h.text
        );
    }
    let copies: Vec<String> = t
        .copies
        .iter()
        .map(|c| format!("{} {}", c.node, c.copies))
        .collect();
    let _ = writeln!(out, "result: {}", t.summary);
    let _ = writeln!(
        out,
        "copies: {}",
        if copies.is_empty() {
            "none".to_string()
        } else {
            copies.join(", ")
        }
    );
    out
}

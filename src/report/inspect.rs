//! The terminal rendering of `mvlab inspect`: the answer in plain words first (what is wired to
//! what, who reaches whom over IP, each surprise with its fix), then the tables (links, and
//! every pair's frame classes). Reads only the inspection; decides nothing.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::simulation::table;
use crate::inspect::layout::Beyond;
use crate::inspect::{Inspection, ReachEntry};

/// The columns of the reach table, in order.
const CLASSES: [(&str, &str); 7] = [
    ("unicast", "uc"),
    ("unknown-unicast", "unk"),
    ("broadcast", "bc"),
    ("multicast4", "mc4"),
    ("multicast6", "mc6"),
    ("ipv4", "ipv4"),
    ("ipv6", "ipv6"),
];

/// Each segment in a sentence or two: parents, what they plug into, who hangs off them.
fn layout_words(i: &Inspection) -> Vec<String> {
    let mut out = Vec::new();
    for (n, c) in i.layout.components.iter().enumerate() {
        let beyond = match &c.beyond {
            Beyond::Bridge { at } => format!("plugged into the Linux bridge {at}"),
            Beyond::Wire => "on a bare veth wire".to_string(),
            Beyond::Dummy => "a dummy (no wire)".to_string(),
            Beyond::Unknown => {
                "into a switch this machine cannot see (assumed: an ordinary learning switch, no hairpin)"
                    .to_string()
            }
        };
        for p in &c.parents {
            let port = p.port.as_ref().map_or(String::new(), |(port, f)| {
                format!(
                    " through port {port} (hairpin {})",
                    if f.hairpin { "on" } else { "off" }
                )
            });
            let mut by_mode: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for e in &p.endpoints {
                let mode = i
                    .found
                    .link(&e.link)
                    .and_then(|l| l.detail.macvlan.as_ref()?.mode)
                    .map_or("unknown".to_string(), |m| m.to_string());
                let vlan = e.vid.map_or(String::new(), |v| format!(" on VLAN {v}"));
                by_mode
                    .entry(format!("{mode}{vlan}"))
                    .or_default()
                    .push(e.link.to_string());
            }
            let children: Vec<String> = by_mode
                .iter()
                .map(|(mode, links)| format!("{mode}-mode endpoints {}", links.join(", ")))
                .collect();
            out.push(format!(
                "segment {}: parent {} is {beyond}{port}; it carries {}{}",
                n + 1,
                p.link,
                if children.is_empty() {
                    "no endpoint".to_string()
                } else {
                    children.join("; ")
                },
                if p.shims.is_empty() {
                    String::new()
                } else {
                    format!(
                        "; host-side macvlan (shim) {}",
                        p.shims
                            .iter()
                            .map(|s| s.link.to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                }
            ));
        }
        if !c.peers.is_empty() {
            out.push(format!(
                "segment {}: other stations on it: {}",
                n + 1,
                c.peers
                    .iter()
                    .map(|p| p.link.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    out
}

pub fn render(i: &Inspection) -> String {
    let mut out = String::new();
    let macvlans = i
        .links
        .iter()
        .filter(|l| l.kind == "macvlan" || l.kind == "macvtap")
        .count();
    let _ = writeln!(
        out,
        "{} namespace(s) read, {} macvlan link(s) on {} segment(s)",
        i.namespaces.len(),
        macvlans,
        i.layout.components.len()
    );
    for line in layout_words(i) {
        let _ = writeln!(out, "  {line}");
    }

    let ip: Vec<&ReachEntry> = i.reach.iter().filter(|r| r.class == "ipv4").collect();
    if !ip.is_empty() {
        let _ = writeln!(
            out,
            "\nwho reaches whom over IPv4 (ARP and unicast both ways, as ping needs):"
        );
        for r in ip {
            let _ = writeln!(
                out,
                "  {} -> {}: {}{}",
                r.from,
                r.to,
                if r.delivered { "yes" } else { "no" },
                if r.delivered {
                    String::new()
                } else {
                    format!(" ({})", r.rule)
                }
            );
        }
    }
    if !i.warnings.is_empty() {
        let _ = writeln!(out, "\nsurprises:");
        for w in &i.warnings {
            let _ = writeln!(out, "  [{}] {}", w.kind, w.message);
            for line in w.fix.lines() {
                let _ = writeln!(out, "      {line}");
            }
        }
    }
    for n in i
        .found
        .notes
        .iter()
        .chain(&i.layout.unplaced)
        .chain(i.scenarios.iter().flat_map(|s| &s.notes))
    {
        let _ = writeln!(out, "  note: {n}");
    }

    let _ = writeln!(out, "\nlinks");
    let mut rows = vec![
        [
            "netns",
            "name",
            "kind",
            "mode",
            "parent",
            "mac",
            "addresses",
            "promisc",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for l in &i.links {
        let addresses: Vec<&str> = l
            .ipv4
            .iter()
            .chain(l.ipv6.iter().filter(|a| !a.starts_with("fe80")))
            .map(String::as_str)
            .collect();
        rows.push(vec![
            l.netns.clone(),
            l.name.clone(),
            l.kind.clone(),
            l.mode.clone().unwrap_or("-".into()),
            l.parent.as_ref().map_or("-".into(), ToString::to_string),
            l.mac.map_or("-".into(), |m| m.to_string()),
            if addresses.is_empty() {
                "-".into()
            } else {
                addresses.join(" ")
            },
            l.promiscuity.to_string(),
        ]);
    }
    table(&mut out, &rows);

    if !i.reach.is_empty() {
        let _ = writeln!(
            out,
            "\nwhat arrives (model, non-promiscuous receivers): yes, or · for nothing"
        );
        let mut pairs: BTreeMap<(&str, &str), BTreeMap<&str, bool>> = BTreeMap::new();
        for r in &i.reach {
            pairs
                .entry((&r.from, &r.to))
                .or_default()
                .insert(&r.class, r.delivered);
        }
        let mut rows = vec![{
            let mut h = vec!["from".to_string(), "to".to_string()];
            h.extend(CLASSES.iter().map(|(_, s)| s.to_string()));
            h
        }];
        for ((from, to), cells) in &pairs {
            let mut row = vec![from.to_string(), to.to_string()];
            row.extend(CLASSES.iter().map(|(c, _)| match cells.get(c) {
                Some(true) => "yes".into(),
                Some(false) => "·".into(),
                None => "-".into(),
            }));
            rows.push(row);
        }
        table(&mut out, &rows);
        let _ = writeln!(
            out,
            "  (uc unicast, unk unknown unicast, bc broadcast, mc4 239.255.77.77, mc6 ff02::1; `--trace FROM TO CLASS` shows why)"
        );
    }
    out
}

//! What a measured delivery matrix means, in words: the conclusions a reader came for (do a
//! network's containers reach each other, can the host reach them, what the parent turns into,
//! what a mode takes or refuses), each derived from the matrix's own cells, naming the kernel
//! rule that explains it and the cells behind it; and a compact "who hears whom" (per
//! relationship and network, which frame classes arrived), which the renderers show before the
//! per-class grids.
//!
//! Nothing here is written per scenario: the scenario only says what each station is (which
//! network, mode, parent and switch port), and every sentence follows from counting cells, so a
//! lab built differently (a hairpinning port, another mode) yields other sentences. Pure: it
//! reads the scenario and the result, never the kernel, and never decides pass or fail (the
//! verdict does).

mod hearing;
mod sentences;
mod stations;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::delivery::{Cell, FrameClass, MatrixResult};
use crate::scenario::{MacvlanMode, Scenario};
use sentences::{
    host, ipv6_off, outside_heard, parents, passthru, peers, promiscuous_pass, siblings, tagged,
};
use stations::{Cells, Lab, and_list, cell_text};

/// How many cells a conclusion names; the count of all of them is kept beside.
const CELLS_NAMED: usize = 4;
/// Where to look when a finding has no one rule.
const DETAIL: &str = "the per-class grids (--detail) show each cell";

/// The conclusions and the who-hears-whom of one matrix test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MatrixSummary {
    pub test: String,
    /// The pass the sentences read: the non-promiscuous one when it ran.
    pub promiscuous: bool,
    pub conclusions: Vec<Conclusion>,
    pub hearing: Hearing,
}

/// One finding in a plain sentence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conclusion {
    /// The networks it is about, in scenario order (empty: the lab as a whole).
    pub networks: Vec<String>,
    pub tone: Tone,
    pub text: String,
    /// The kernel functions behind it (drivers/net/macvlan.c, net/bridge/).
    pub rule: String,
    /// What they do that makes it so.
    pub why: String,
    /// Cells behind it, as `from→to class received/sent` (at most a few).
    pub cells: Vec<String>,
    /// How many cells it rests on in all.
    pub cells_total: usize,
}

/// Whether a finding is traffic getting through, traffic stopped, or something to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Tone {
    Reaches,
    Blocked,
    Note,
}

/// Who hears whom: groups of stations down (senders) and across (receivers), and per pair of
/// groups the frame classes that arrived.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hearing {
    pub groups: Vec<Group>,
    /// `cells[from][to]`, by group; `None` where no station of one sends to one of the other.
    pub cells: Vec<Vec<Option<Heard>>>,
    /// The classes the matrix sent, in its order.
    pub classes: Vec<FrameClass>,
    /// The passes, as `MatrixSpec::promiscuous`: a class heard only in the second is one that
    /// only promiscuous sockets hear.
    pub passes: Vec<bool>,
}

/// Stations that behave alike: a network's containers, the host, its shim, the peers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Group {
    pub name: String,
    #[serde(flatten)]
    pub kind: GroupKind,
    pub stations: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum GroupKind {
    Network {
        mode: MacvlanMode,
        parent: String,
    },
    /// The host's parents. Paired with a network, only that network's own parent counts.
    Host,
    Shim,
    Peers,
}

/// Of `pairs` (sender, receiver) pairs of a relationship, how many heard a class in a pass.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Heard {
    pub pairs: usize,
    /// Only classes at least one pair heard.
    pub classes: Vec<ClassHeard>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassHeard {
    pub class: FrameClass,
    pub promiscuous: bool,
    pub pairs: usize,
}

/// One sentence before networks that share it are merged.
pub(super) struct Finding {
    /// Findings with the same key are said once for all their networks.
    key: String,
    net: Option<usize>,
    tone: Tone,
    /// The sentence, given the subject (the containers, or several networks' containers).
    text: Text,
    rule: String,
    why: String,
    cells: Vec<String>,
    cells_total: usize,
}

/// A sentence waiting for its subject.
type Text = Box<dyn Fn(&Subject) -> String>;

/// Who a merged sentence is about.
pub(super) struct Subject {
    /// "br1 and br2", or "the bridge and vepa containers".
    who: String,
    /// Whether it is about several networks (`who` then names networks, not containers).
    merged: bool,
    /// "eth0", or "eth0 and eth1".
    parent: String,
    /// Whether `parent` names several.
    parents: bool,
    /// "switch port p1", or "switch ports p1 and p2".
    port: String,
}

/// A finding; `rule` is written `functions: what they do`.
pub(super) fn finding(
    key: impl Into<String>,
    net: Option<usize>,
    tone: Tone,
    text: impl Fn(&Subject) -> String + 'static,
    rule: impl Into<String>,
    cells: &[&Cell],
) -> Finding {
    let rule = rule.into();
    let (rule, why) = rule.split_once(": ").unwrap_or((&rule, ""));
    Finding {
        key: key.into(),
        net,
        tone,
        text: Box::new(text),
        rule: rule.into(),
        why: why.into(),
        cells: cells
            .iter()
            .take(CELLS_NAMED)
            .map(|c| cell_text(c))
            .collect(),
        cells_total: cells.len(),
    }
}

/// The conclusions and the who-hears-whom of a measured matrix of `scenario`'s lab.
pub fn summarise(scenario: &Scenario, m: &MatrixResult) -> MatrixSummary {
    let pass = !m.spec.promiscuous.contains(&false);
    let lab = Lab::new(scenario, m);
    let cells = Cells::new(m);
    let nets: Vec<usize> = (0..scenario.networks.len())
        .filter(|&n| !lab.endpoints(n).is_empty())
        .collect();
    let mut found = Vec::new();
    for &net in &nets {
        siblings(&lab, &cells, pass, net, &mut found);
        host(&lab, &cells, pass, net, &mut found);
        passthru(&lab, &cells, pass, net, &mut found);
        outside_heard(&lab, &cells, pass, net, &mut found);
    }
    parents(&lab, m, &cells, pass, &nets, &mut found);
    peers(&lab, &cells, pass, &nets, &mut found);
    ipv6_off(&lab, &cells, pass, &nets, &mut found);
    tagged(&cells, m, pass, &mut found);
    promiscuous_pass(&lab, &cells, m, &nets, &mut found);
    MatrixSummary {
        test: m.name.clone(),
        promiscuous: pass,
        conclusions: merge(scenario, &lab, found),
        hearing: hearing::hearing(&lab, &cells, m, &nets),
    }
}

/// Findings with one key become one conclusion about all their networks, placed where the
/// first of them was found.
fn merge(s: &Scenario, lab: &Lab, found: Vec<Finding>) -> Vec<Conclusion> {
    let mut order: Vec<String> = Vec::new();
    let mut groups: BTreeMap<String, Vec<Finding>> = BTreeMap::new();
    for f in found {
        if !groups.contains_key(&f.key) {
            order.push(f.key.clone());
        }
        groups.entry(f.key.clone()).or_default().push(f);
    }
    let mut out: Vec<Conclusion> = order
        .into_iter()
        .map(|key| {
            let group = groups.remove(&key).expect("every key has its group");
            let nets: Vec<usize> = group.iter().filter_map(|f| f.net).collect();
            let subject = subject(s, lab, &nets);
            let first = &group[0];
            let cells_total = group.iter().map(|f| f.cells_total).sum();
            Conclusion {
                networks: nets.iter().map(|&n| s.networks[n].name.clone()).collect(),
                tone: first.tone,
                text: (first.text)(&subject),
                rule: first.rule.clone(),
                why: first.why.clone(),
                cells: group
                    .iter()
                    .flat_map(|f| f.cells.iter().cloned())
                    .take(CELLS_NAMED)
                    .collect(),
                cells_total,
            }
        })
        .collect();
    // One network's sentences first, in network order, then those about several.
    out.sort_by_key(|c| match c.networks.as_slice() {
        [one] => s.networks.iter().position(|n| &n.name == one).unwrap_or(0),
        _ => usize::MAX,
    });
    out
}

fn subject(s: &Scenario, lab: &Lab, nets: &[usize]) -> Subject {
    match nets {
        [] => Subject {
            who: "the containers".into(),
            merged: true,
            parent: "their parents".into(),
            parents: true,
            port: "the switch ports".into(),
        },
        [net] => Subject {
            who: and_list(&lab.endpoints(*net)),
            merged: false,
            parent: s.parents[s.networks[*net].parent].name.clone(),
            parents: false,
            port: lab
                .port(*net)
                .map_or("the switch".into(), |p| format!("switch port {}", p.name)),
        },
        _ => {
            let mut parents: Vec<String> = Vec::new();
            let mut ports: Vec<String> = Vec::new();
            for &n in nets {
                let p = s.parents[s.networks[n].parent].name.clone();
                if !parents.contains(&p) {
                    parents.push(p);
                }
                if let Some(port) = lab.port(n)
                    && !ports.contains(&port.name)
                {
                    ports.push(port.name.clone());
                }
            }
            let names: Vec<&str> = nets.iter().map(|&n| s.networks[n].name.as_str()).collect();
            Subject {
                who: if nets.len() == s.networks.len() && nets.len() > 2 {
                    "every network's containers".into()
                } else {
                    format!("the {} containers", and_list(&names))
                },
                merged: true,
                parents: parents.len() > 1,
                parent: and_list(&parents),
                port: format!("switch ports {}", and_list(&ports)),
            }
        }
    }
}

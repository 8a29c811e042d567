//! The matrix read by what each station is: which network's container, which parent of the
//! host, the shim, a peer; the cells looked up by sender, receiver, class and pass, and tallied
//! over the pairs of a relationship. Shared by the sentences and the who-hears-whom grid.

use std::collections::HashMap;

use crate::delivery::{Cell, FrameClass, MatrixResult};
use crate::scenario::{HOST_NODE, ParentKind, Port, Scenario, Switch};

/// A relationship between a network's containers and the rest of the lab.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Relation {
    Siblings,
    ToParent,
    FromParent,
    ToShim,
    FromShim,
    ToPeers,
    FromPeers,
}

/// What a station is, for the sentences.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Place {
    Endpoint(usize),
    Parent(usize),
    Shim,
    Peer,
}

/// The cells of one matrix, looked up by (from, to, class, pass).
pub(super) struct Cells<'a> {
    pub(super) by_key: HashMap<(&'a str, &'a str, FrameClass, bool), &'a Cell>,
    classes: &'a [FrameClass],
}

/// Of a set of pairs, those that heard a class, and the cells read.
pub(super) struct Tally<'a> {
    pub(super) heard: usize,
    pub(super) cells: Vec<&'a Cell>,
}

impl Tally<'_> {
    pub(super) fn tried(&self) -> usize {
        self.cells.len()
    }

    pub(super) fn all(&self) -> bool {
        !self.cells.is_empty() && self.heard == self.cells.len()
    }

    pub(super) fn none(&self) -> bool {
        !self.cells.is_empty() && self.heard == 0
    }
}

impl<'a> Cells<'a> {
    pub(super) fn new(m: &'a MatrixResult) -> Cells<'a> {
        Cells {
            by_key: m
                .cells
                .iter()
                .map(|c| ((c.from.as_str(), c.to.as_str(), c.class, c.promiscuous), c))
                .collect(),
            classes: &m.spec.classes,
        }
    }

    pub(super) fn has(&self, class: FrameClass) -> bool {
        self.classes.contains(&class)
    }

    pub(super) fn tally(&self, pairs: &[(&str, &str)], class: FrameClass, pass: bool) -> Tally<'a> {
        let cells: Vec<&Cell> = pairs
            .iter()
            .filter_map(|(f, t)| self.by_key.get(&(*f, *t, class, pass)).copied())
            .collect();
        Tally {
            heard: cells.iter().filter(|c| c.received > 0).count(),
            cells,
        }
    }
}

pub(super) fn cell_text(c: &Cell) -> String {
    let mut s = format!("{}→{} {} {}/{}", c.from, c.to, c.class, c.received, c.sent);
    if c.leaked > 0 {
        s += &format!(" +{} leaked", c.leaked);
    }
    s
}

/// "a", "a and b", "a, b and c".
pub(super) fn and_list<S: AsRef<str>>(items: &[S]) -> String {
    match items {
        [] => String::new(),
        [one] => one.as_ref().to_string(),
        [init @ .., last] => format!(
            "{} and {}",
            init.iter()
                .map(|s| s.as_ref())
                .collect::<Vec<_>>()
                .join(", "),
            last.as_ref()
        ),
    }
}

/// The stations of the matrix by what they are.
pub(super) struct Lab<'a> {
    pub(super) s: &'a Scenario,
    pub(super) senders: &'a [String],
    receivers: &'a [String],
    place: HashMap<&'a str, Place>,
}

impl<'a> Lab<'a> {
    pub(super) fn new(s: &'a Scenario, m: &'a MatrixResult) -> Lab<'a> {
        let mut place = HashMap::new();
        for name in m.senders.iter().chain(&m.receivers) {
            let found = if let Some(e) = s.endpoint(name) {
                Some(Place::Endpoint(e.network))
            } else if s.peer(name).is_some() {
                Some(Place::Peer)
            } else if let Some(iface) = name.strip_prefix(&format!("{HOST_NODE}:")) {
                match s.parents.iter().position(|p| p.name == iface) {
                    Some(p) => Some(Place::Parent(p)),
                    None => s
                        .host
                        .shim
                        .as_ref()
                        .filter(|sh| sh.interface == iface)
                        .map(|_| Place::Shim),
                }
            } else {
                None
            };
            if let Some(p) = found {
                place.insert(name.as_str(), p);
            }
        }
        Lab {
            s,
            senders: &m.senders,
            receivers: &m.receivers,
            place,
        }
    }

    pub(super) fn sends(&self, name: &str) -> bool {
        self.senders.iter().any(|s| s == name)
    }

    pub(super) fn receives(&self, name: &str) -> bool {
        self.receivers.iter().any(|s| s == name)
    }

    /// Stations (senders or receivers) in station order that match `want`.
    pub(super) fn stations(&self, want: impl Fn(Place) -> bool) -> Vec<&'a str> {
        let mut out: Vec<&str> = Vec::new();
        for name in self.senders.iter().chain(self.receivers) {
            if self.place.get(name.as_str()).is_some_and(|p| want(*p)) && !out.contains(&&**name) {
                out.push(name);
            }
        }
        out
    }

    pub(super) fn endpoints(&self, net: usize) -> Vec<&'a str> {
        self.stations(|p| p == Place::Endpoint(net))
    }

    pub(super) fn parent_station(&self, net: usize) -> String {
        format!(
            "{HOST_NODE}:{}",
            self.s.parents[self.s.networks[net].parent].name
        )
    }

    /// (from, to) pairs, from a sender to a receiver other than itself.
    pub(super) fn pairs<'b>(&self, from: &[&'b str], to: &[&'b str]) -> Vec<(&'b str, &'b str)> {
        let mut out = Vec::new();
        for f in from.iter().filter(|f| self.sends(f)) {
            for t in to.iter().filter(|t| *t != f && self.receives(t)) {
                out.push((*f, *t));
            }
        }
        out
    }

    /// The pairs of a relationship for network `net`'s containers.
    pub(super) fn relation(&self, net: usize, rel: Relation) -> Vec<(&'a str, &'a str)> {
        let own = self.endpoints(net);
        let parent = self.parent_station(net);
        let parent: Vec<&str> = self
            .stations(|p| matches!(p, Place::Parent(_)))
            .into_iter()
            .filter(|p| **p == parent)
            .collect();
        let shim = self.stations(|p| p == Place::Shim);
        let peers = self.stations(|p| p == Place::Peer);
        match rel {
            Relation::Siblings => self.pairs(&own, &own),
            Relation::ToParent => self.pairs(&own, &parent),
            Relation::FromParent => self.pairs(&parent, &own),
            Relation::ToShim => self.pairs(&own, &shim),
            Relation::FromShim => self.pairs(&shim, &own),
            Relation::ToPeers => self.pairs(&own, &peers),
            Relation::FromPeers => self.pairs(&peers, &own),
        }
    }

    /// The switch port facing network `net`'s parent, when frames go through a switch port.
    pub(super) fn port(&self, net: usize) -> Option<&'a Port> {
        let parent = &self.s.parents[self.s.networks[net].parent];
        (self.s.switch.has_ports() && parent.kind == ParentKind::Veth).then_some(&parent.port)
    }

    /// Whether the host's shim sits on network `net`'s parent.
    pub(super) fn shim_on_parent(&self, net: usize) -> bool {
        let s = self.s;
        s.host
            .shim
            .as_ref()
            .is_some_and(|sh| s.networks[sh.network].parent == s.networks[net].parent)
    }

    pub(super) fn hairpin(&self, net: usize) -> bool {
        self.port(net).is_some_and(|p| p.hairpin)
    }
}

/// The switch's rule for a frame going back out of the port it came in on: (function, what).
pub(super) fn hairpin_rule(s: &Scenario) -> (&'static str, &'static str) {
    let what = "a frame leaves by the port it came in on only with hairpin on";
    match s.switch {
        Switch::Emulated(_) => ("the emulated switch's forward", what),
        _ => ("should_deliver", what),
    }
}

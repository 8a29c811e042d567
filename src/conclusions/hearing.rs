//! Who hears whom: the stations in groups that behave alike (each network's containers, the
//! host, its shim, the peers), and per pair of groups the classes that arrived in each pass.

use super::stations::{Cells, Lab, Place};
use super::{ClassHeard, Group, GroupKind, Heard, Hearing};
use crate::delivery::MatrixResult;
use crate::scenario::HOST_NODE;

/// Per pair of groups, which classes arrived in each pass.
pub(super) fn hearing(lab: &Lab, cells: &Cells, m: &MatrixResult, nets: &[usize]) -> Hearing {
    let s = lab.s;
    let passes: Vec<bool> = [false, true]
        .into_iter()
        .filter(|p| m.spec.promiscuous.contains(p))
        .collect();
    let mut groups: Vec<Group> = nets
        .iter()
        .map(|&n| Group {
            name: s.networks[n].name.clone(),
            kind: GroupKind::Network {
                mode: s.networks[n].mode,
                parent: s.parents[s.networks[n].parent].name.clone(),
            },
            stations: lab.endpoints(n).iter().map(|e| e.to_string()).collect(),
        })
        .collect();
    for (name, kind, want) in [
        (
            "host",
            GroupKind::Host,
            (|p| matches!(p, Place::Parent(_))) as fn(Place) -> bool,
        ),
        ("shim", GroupKind::Shim, |p| p == Place::Shim),
        ("peers", GroupKind::Peers, |p| p == Place::Peer),
    ] {
        let stations: Vec<String> = lab.stations(want).iter().map(|x| x.to_string()).collect();
        if !stations.is_empty() {
            let name = match (&kind, stations.as_slice()) {
                (GroupKind::Peers | GroupKind::Shim, [one]) => one.clone(),
                _ => name.to_string(),
            };
            groups.push(Group {
                name,
                kind,
                stations,
            });
        }
    }
    let members = |g: &Group, other: &Group| -> Vec<String> {
        match (&g.kind, &other.kind) {
            (GroupKind::Host, GroupKind::Network { parent, .. }) => {
                vec![format!("{HOST_NODE}:{parent}")]
            }
            _ => g.stations.clone(),
        }
    };
    let grid = groups
        .iter()
        .map(|from| {
            groups
                .iter()
                .map(|to| {
                    if from.kind == GroupKind::Host && to.kind == GroupKind::Host {
                        return None;
                    }
                    let (f, t) = (members(from, to), members(to, from));
                    let f: Vec<&str> = f.iter().map(|x| x.as_str()).collect();
                    let t: Vec<&str> = t.iter().map(|x| x.as_str()).collect();
                    let pairs = lab.pairs(&f, &t);
                    if pairs.is_empty() {
                        return None;
                    }
                    let mut classes = Vec::new();
                    for &p in &passes {
                        for &class in &m.spec.classes {
                            let t = cells.tally(&pairs, class, p);
                            if t.heard > 0 {
                                classes.push(ClassHeard {
                                    class,
                                    promiscuous: p,
                                    pairs: t.heard,
                                });
                            }
                        }
                    }
                    Some(Heard {
                        pairs: pairs.len(),
                        classes,
                    })
                })
                .collect()
        })
        .collect();
    Hearing {
        groups,
        cells: grid,
        classes: m.spec.classes.clone(),
        passes,
    }
}

//! IP reachability between nodes as the frames would carry it: on-link addressing (the lab has
//! no router), address resolution (an ARP request is a broadcast, an IPv6 neighbour
//! solicitation goes to the target's solicited-node group; both need the unicast answer to come
//! back) and the unicast data itself, each checked by walking the frame through the model.
//! Also the host's view: can it reach its endpoints from its own address, and through the shim.
//! Owns no delivery rule.

use serde::{Deserialize, Serialize};

use crate::addr::MacAddr;
use crate::model::fabric::{NodeId, NodeKind};
use crate::model::frame::{Frame, Tags, solicited_node};
use crate::model::matrix::{Group, Walker};

/// Whether one node reaches another over one address family, and the first reason it does not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reach {
    pub reachable: bool,
    pub why: String,
}

impl Reach {
    fn no(why: String) -> Reach {
        Reach {
            reachable: false,
            why,
        }
    }
}

/// Reachability from every member of one group to every other member of another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReachPair {
    pub from: String,
    pub to: String,
    pub ipv4: Reach,
    pub ipv6: Reach,
}

/// Whether the host reaches one group of endpoints, from its own address and through the shim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostReach {
    pub endpoints: String,
    /// From the host's own address on the parent (no shim involved).
    pub direct: Reach,
    /// Through the shim, when the scenario has one.
    pub shim: Option<Reach>,
}

#[derive(Clone, Copy)]
enum Family {
    V4,
    V6,
}

impl Walker<'_> {
    /// Whether `frame` sent by `from` reaches `to`'s IP stack.
    fn arrives(&mut self, from: NodeId, to: NodeId, frame: Frame) -> bool {
        let host = matches!(self.fabric.nodes[to].kind, NodeKind::Host(_));
        let counts = self.walk(from, frame, false);
        if host {
            counts.reached_stack(to)
        } else {
            counts.get(to) > 0
        }
    }

    fn reach(&mut self, a: NodeId, b: NodeId, family: Family) -> Reach {
        let (na, nb) = (&self.fabric.nodes[a], &self.fabric.nodes[b]);
        let in_host = |k: NodeKind| matches!(k, NodeKind::Host(_) | NodeKind::Shim(_));
        if in_host(na.kind) && in_host(nb.kind) {
            return Reach {
                reachable: true,
                why: "both are the host's own interfaces: delivered inside the host, no frame is sent".into(),
            };
        }
        let (ma, mb) = (na.mac, nb.mac);
        let (names, resolution, on_link_ab, on_link_ba, target_group) = match family {
            Family::V4 => {
                let (Some((ipa, pa)), Some((ipb, pb))) = (&na.ipv4, &nb.ipv4) else {
                    return Reach::no("no IPv4 address on both sides".into());
                };
                (
                    (ipa.to_string(), ipb.to_string()),
                    "ARP request (broadcast)",
                    pa.iter().any(|p| p.contains(*ipb)),
                    pb.iter().any(|p| p.contains(*ipa)),
                    MacAddr::BROADCAST,
                )
            }
            Family::V6 => {
                let (Some((ipa, pa)), Some((ipb, pb))) = (&na.ipv6, &nb.ipv6) else {
                    return Reach::no("no IPv6 address on both sides".into());
                };
                (
                    (ipa.to_string(), ipb.to_string()),
                    "neighbour solicitation (to the solicited-node group)",
                    pa.iter().any(|p| p.contains(*ipb)),
                    pb.iter().any(|p| p.contains(*ipa)),
                    solicited_node(*ipb),
                )
            }
        };
        let (an, bn) = (na.name.clone(), nb.name.clone());
        if !on_link_ab {
            return Reach::no(format!(
                "{} is not on-link for {an} and the lab has no router",
                names.1
            ));
        }
        if !on_link_ba {
            return Reach::no(format!(
                "{} is not on-link for {bn}: its answer would need a router",
                names.0
            ));
        }
        let plain = |src, dst| Frame {
            src,
            dst,
            tags: Tags::default(),
        };
        if !self.arrives(a, b, plain(ma, target_group)) {
            return Reach::no(format!("the {resolution} from {an} does not reach {bn}"));
        }
        if !self.arrives(b, a, plain(mb, ma)) {
            return Reach::no(format!("the unicast answer from {bn} does not reach {an}"));
        }
        if !self.arrives(a, b, plain(ma, mb)) {
            return Reach::no(format!("unicast from {an} does not reach {bn}"));
        }
        Reach {
            reachable: true,
            why: "address resolution works both ways and unicast crosses".into(),
        }
    }
}

/// Reachability between every pair of groups (a group with itself: between two of its members).
pub fn reach_pairs(walker: &mut Walker, groups: &[Group]) -> Vec<ReachPair> {
    let mut out = Vec::new();
    for a in groups {
        let from = a.ids[0];
        for b in groups {
            let Some(to) = b.ids.iter().copied().find(|&m| m != from) else {
                continue;
            };
            out.push(ReachPair {
                from: a.label.clone(),
                to: b.label.clone(),
                ipv4: walker.reach(from, to, Family::V4),
                ipv6: walker.reach(from, to, Family::V6),
            });
        }
    }
    out
}

/// The host's reach into each group of endpoints (IPv4), directly and through the shim.
pub fn host_reach(walker: &mut Walker, groups: &[Group]) -> Vec<HostReach> {
    let shim = (0..walker.fabric.nodes.len())
        .find(|&n| matches!(walker.fabric.nodes[n].kind, NodeKind::Shim(_)));
    groups
        .iter()
        .filter_map(|g| match walker.fabric.nodes[g.ids[0]].kind {
            NodeKind::Endpoint(dev) => Some((g, dev)),
            _ => None,
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|(g, dev)| {
            let e = g.ids[0];
            let parent = walker.fabric.links[walker.fabric.devs[dev].link].parent;
            let direct = match walker.fabric.parents[parent].node {
                Some(host) if walker.fabric.nodes[host].ipv4.is_some() => {
                    walker.reach(host, e, Family::V4)
                }
                _ => Reach::no("the host has no address of its own on this parent".into()),
            };
            HostReach {
                endpoints: g.label.clone(),
                direct,
                shim: shim.map(|s| walker.reach(s, e, Family::V4)),
            }
        })
        .collect()
}

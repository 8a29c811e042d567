//! What is wired to what on the machine, from the links found: every macvlan's parent (through
//! a VLAN sub-interface when there is one), the parent's other side (a bridge port, a bare veth
//! wire, nothing for a dummy, an unknown switch for a physical device), the other ports of that
//! bridge and who sits behind them. Parents that share a bridge form one segment (`Component`);
//! each segment becomes one scenario. Pure: reads `Found`, decides no delivery.

use std::collections::BTreeMap;

use super::{Found, FoundLink, LinkRef};
use crate::lab::rtnl::PortFlags;

/// What a segment's parents plug into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Beyond {
    /// A Linux bridge on this machine; `at` is the bridge device.
    Bridge { at: LinkRef },
    /// A bare veth wire: the far end is `peer` (a station of its own).
    Wire,
    /// A dummy parent: no wire at all.
    Dummy,
    /// A physical device (or a veth whose far end was not read): whatever switch is out there
    /// is not visible from here, and is assumed to be an ordinary learning switch.
    Unknown,
}

/// A macvlan endpoint or shim on a parent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Child {
    pub link: LinkRef,
    /// The 802.1Q id of the sub-interface it sits on.
    pub vid: Option<u16>,
}

/// A macvlan parent and what hangs off it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParentView {
    pub link: LinkRef,
    /// The bridge port facing it, with its flags.
    pub port: Option<(LinkRef, PortFlags)>,
    /// Macvlans in other namespaces: the "containers".
    pub endpoints: Vec<Child>,
    /// Macvlans in the parent's own namespace: the host's shims.
    pub shims: Vec<Child>,
}

/// A station on the segment that is not a macvlan: another bridge port's far end, or the far
/// end of a bare wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerView {
    pub link: LinkRef,
    pub port: Option<(LinkRef, PortFlags)>,
}

/// Parents that share a wire or a bridge, and everything on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Component {
    pub beyond: Beyond,
    pub parents: Vec<ParentView>,
    pub peers: Vec<PeerView>,
}

/// The machine's macvlan segments, and what could not be placed on one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Layout {
    pub components: Vec<Component>,
    /// Links `inspect` saw but cannot place or model, in words.
    pub unplaced: Vec<String>,
}

/// Where a parent's segment is: the key that joins parents into one component.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum SegmentKey {
    Bridge(LinkRef),
    Own(LinkRef),
}

impl Layout {
    pub fn of(found: &Found) -> Layout {
        let mut unplaced = Vec::new();
        // parent -> children, in a stable order
        let mut parents: BTreeMap<LinkRef, (Vec<Child>, Vec<Child>)> = BTreeMap::new();
        for l in found.links.iter().filter(|l| l.is_macvlan()) {
            let Some(lower) = l.lower.as_ref().and_then(|r| found.link(r)) else {
                unplaced.push(format!(
                    "{} ({}): its parent is in a namespace that was not read",
                    l.at(),
                    l.kind()
                ));
                continue;
            };
            let (parent, vid) = if lower.kind() == "vlan" {
                match lower.lower.as_ref().and_then(|r| found.link(r)) {
                    Some(p) => (p, lower.detail.vlan_id),
                    None => {
                        unplaced.push(format!(
                            "{}: its VLAN sub-interface {}'s own parent was not read",
                            l.at(),
                            lower.at()
                        ));
                        continue;
                    }
                }
            } else {
                (lower, None)
            };
            let child = Child { link: l.at(), vid };
            let entry = parents.entry(parent.at()).or_default();
            if l.netns == parent.netns {
                entry.1.push(child);
            } else {
                entry.0.push(child);
            }
        }
        for l in found.links.iter().filter(|l| l.kind() == "ipvlan") {
            unplaced.push(format!(
                "{}: ipvlan is not modelled (its siblings share the parent's MAC and are told apart by IP)",
                l.at()
            ));
        }

        let mut segments: BTreeMap<SegmentKey, Component> = BTreeMap::new();
        for (at, (endpoints, shims)) in parents {
            let parent = found.link(&at).expect("a parent is a found link");
            let far = parent
                .lower
                .as_ref()
                .filter(|_| parent.kind() == "veth")
                .and_then(|r| found.link(r));
            let bridge = far.and_then(|f| {
                let br = f.master.as_ref()?;
                let device = found.link(&LinkRef {
                    netns: f.netns.clone(),
                    name: br.clone(),
                })?;
                (device.kind() == "bridge").then(|| device.at())
            });
            let (key, beyond) = match (&bridge, far) {
                (Some(br), _) => (
                    SegmentKey::Bridge(br.clone()),
                    Beyond::Bridge { at: br.clone() },
                ),
                (None, Some(_)) => (SegmentKey::Own(at.clone()), Beyond::Wire),
                (None, None) if parent.kind() == "dummy" => {
                    (SegmentKey::Own(at.clone()), Beyond::Dummy)
                }
                (None, None) => (SegmentKey::Own(at.clone()), Beyond::Unknown),
            };
            let component = segments.entry(key).or_insert_with(|| Component {
                beyond,
                parents: Vec::new(),
                peers: Vec::new(),
            });
            component.parents.push(ParentView {
                port: bridge.is_some().then(|| far.map(port_of)).flatten(),
                link: at,
                endpoints,
                shims,
            });
            if bridge.is_none()
                && let Some(f) = far
            {
                component.peers.push(PeerView {
                    link: f.at(),
                    port: None,
                });
            }
        }
        for (key, component) in &mut segments {
            let SegmentKey::Bridge(br) = key else {
                continue;
            };
            let facing: Vec<LinkRef> = component
                .parents
                .iter()
                .filter_map(|p| Some(p.port.as_ref()?.0.clone()))
                .collect();
            for port in found
                .links
                .iter()
                .filter(|l| l.netns == br.netns && l.master.as_ref() == Some(&br.name))
            {
                if facing.contains(&port.at()) {
                    continue;
                }
                match port.lower.as_ref().filter(|_| port.kind() == "veth") {
                    Some(station) => component.peers.push(PeerView {
                        link: station.clone(),
                        port: Some(port_of(port)),
                    }),
                    None => unplaced.push(format!(
                        "{}: a port of bridge {br} whose far side is not visible here (not modelled)",
                        port.at()
                    )),
                }
            }
        }
        Layout {
            components: segments.into_values().collect(),
            unplaced,
        }
    }
}

fn port_of(l: &FoundLink) -> (LinkRef, PortFlags) {
    (l.at(), l.detail.port.unwrap_or_default())
}

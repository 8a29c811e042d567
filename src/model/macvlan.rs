//! The macvlan rules, each written once and named after the function of drivers/net/macvlan.c
//! (Linux 6.18) it mirrors: transmit (`macvlan_queue_xmit`), receive (`macvlan_handle_frame`),
//! source mode (`macvlan_forward_source`), the multicast fan-out (`macvlan_multicast_rx`,
//! `macvlan_broadcast`), the per-device and per-port multicast filters
//! (`macvlan_compute_filter`) and promiscuity propagation to the lower device
//! (`macvlan_open`, `macvlan_change_rx_flags`). Pure: it reads the compiled fabric and reports
//! through the walk's sink; it never decides what happens beyond the macvlan port.

use crate::model::fabric::{DevId, Fabric, LinkId};
use crate::model::frame::{Frame, joined};
use crate::model::walk::{Action, Hop, Sink, Walk};
use crate::scenario::{MacvlanMode, ParentKind};

/// `macvlan_queue_xmit` of a bridge-mode device copies group frames to bridge-mode siblings.
const MODES_FROM_BRIDGE_TX: &[MacvlanMode] = &[MacvlanMode::Bridge];
/// `macvlan_multicast_rx`, by the source of a group frame: outside, a local vepa device, a local
/// bridge device.
const MODES_FROM_OUTSIDE: &[MacvlanMode] = &[
    MacvlanMode::Private,
    MacvlanMode::Vepa,
    MacvlanMode::Passthru,
    MacvlanMode::Bridge,
];
const MODES_FROM_VEPA: &[MacvlanMode] = &[MacvlanMode::Vepa, MacvlanMode::Bridge];
const MODES_FROM_BRIDGE: &[MacvlanMode] = &[MacvlanMode::Vepa];

impl<S: Sink> Walk<'_, S> {
    /// `macvlan_queue_xmit`: a bridge-mode device delivers group frames to its bridge-mode
    /// siblings itself and still sends them to the wire; unicast to a bridge-mode sibling goes
    /// through the lower device's receive path and never reaches the wire. Everything else
    /// (every other mode, or another destination) goes to the lower device and out.
    pub(super) fn macvlan_xmit(&mut self, dev: DevId, frame: Frame) {
        let d = &self.fabric.devs[dev];
        let link = &self.fabric.links[d.link];
        if d.mode == MacvlanMode::Bridge {
            if frame.dst.is_multicast() {
                self.sink.hop(|| {
                    Hop::new(
                        d.label.clone(),
                        "macvlan_queue_xmit",
                        Action::Forwarded,
                        "macvlan bridge mode: group address: a copy to every bridge-mode sibling whose filter admits it, and the frame also goes to the wire".into(),
                    )
                });
                self.macvlan_broadcast(d.link, Some(dev), MODES_FROM_BRIDGE_TX, frame, true);
                return self.link_xmit(d.link, frame);
            }
            if let Some(&dest) = link.by_mac.get(&frame.dst)
                && self.fabric.devs[dest].mode == MacvlanMode::Bridge
            {
                self.sink.hop(|| {
                    Hop::new(
                        d.label.clone(),
                        "macvlan_queue_xmit",
                        Action::Forwarded,
                        format!(
                            "macvlan bridge mode: destination is a sibling in bridge mode ({}), delivered locally through the receive path of {} (dev_forward_skb), never reaches the wire",
                            self.fabric.devs[dest].label, link.name
                        ),
                    )
                });
                return self.lower_local_rx(d.link, frame);
            }
        }
        self.sink.hop(|| {
            let why = match d.mode {
                MacvlanMode::Bridge => {
                    "macvlan bridge mode: the destination is not a bridge-mode sibling".to_string()
                }
                mode => format!("macvlan {mode} mode: every frame goes out"),
            };
            Hop::new(
                d.label.clone(),
                "macvlan_queue_xmit",
                Action::Forwarded,
                format!("{why}: sent through {} to the wire", link.name),
            )
        });
        self.link_xmit(d.link, frame)
    }

    /// `dev_forward_skb(vlan->lowerdev, skb)`: the frame is received by the lower device as if
    /// it came from the wire (the parent's packet socket sees it).
    fn lower_local_rx(&mut self, link: LinkId, frame: Frame) {
        let l = &self.fabric.links[link];
        match l.vid {
            None => self.parent_rx(l.parent, frame),
            Some(_) => self.macvlan_rx(link, frame),
        }
    }

    /// `macvlan_handle_frame`: the rx handler of a lower device.
    pub(super) fn macvlan_rx(&mut self, link: LinkId, frame: Frame) {
        let l = &self.fabric.links[link];
        if l.devs.is_empty() {
            return self.host_stack(l.parent, "no macvlan sits on this device");
        }
        if frame.dst.is_multicast() {
            if self.macvlan_forward_source(link, frame) {
                return;
            }
            let src = l.by_mac.get(&frame.src).copied();
            if let Some(s) = src {
                let sd = &self.fabric.devs[s];
                if !matches!(sd.mode, MacvlanMode::Vepa | MacvlanMode::Bridge) {
                    let node = sd.node;
                    return self.deliver(node, frame, "macvlan_handle_frame", || {
                        format!(
                            "the source is {}, a local {}-mode device: the frame goes back to that device only (forward to original port); no other device on {} gets it",
                            sd.label, sd.mode, l.name
                        )
                    });
                }
            }
            if !self.port_admits(link, frame) {
                self.sink.hop(|| {
                    Hop::new(
                        format!("host:{}", l.name),
                        "macvlan_handle_frame",
                        Action::Dropped,
                        format!("the port filter of {} (groups joined on it) rejects {}: no macvlan gets it", l.name, frame.dst),
                    )
                });
                return self.host_stack(l.parent, "RX_HANDLER_PASS");
            }
            self.macvlan_multicast_rx(link, src, frame);
            return self.host_stack(
                l.parent,
                "RX_HANDLER_PASS: the parent keeps its own copy of a group frame",
            );
        }
        if self.macvlan_forward_source(link, frame) {
            return;
        }
        let target = match l.passthru {
            Some(dev) => Some((dev, "passthru: the one device takes every unicast frame")),
            None => l
                .by_mac
                .get(&frame.dst)
                .map(|&d| (d, "unicast demux by destination MAC")),
        };
        match target {
            None => self.host_stack(
                l.parent,
                &format!("no macvlan on {} has the destination {}", l.name, frame.dst),
            ),
            Some((dev, _)) if self.fabric.devs[dev].mode == MacvlanMode::Source => self.host_stack(
                l.parent,
                &format!(
                    "the destination is {}, a source-mode device, which receives only by source MAC",
                    self.fabric.devs[dev].label
                ),
            ),
            Some((dev, why)) => {
                let d = &self.fabric.devs[dev];
                self.deliver(d.node, frame, "macvlan_handle_frame", || {
                    format!("{why}: delivered to {}", d.label)
                })
            }
        }
    }

    /// `macvlan_forward_source`: every source-mode device that lists the frame's source MAC gets
    /// a copy, whatever the destination; with `nodst` the frame is then consumed.
    fn macvlan_forward_source(&mut self, link: LinkId, frame: Frame) -> bool {
        let l = &self.fabric.links[link];
        let Some(devs) = l.by_source.get(&frame.src) else {
            return false;
        };
        let mut consume = false;
        for &dev in devs {
            let d = &self.fabric.devs[dev];
            consume |= d.nodst;
            self.deliver(d.node, frame, "macvlan_forward_source", || {
                format!(
                    "source mode: {} accepts frames from {}: it gets a copy whatever the destination",
                    d.label, frame.src
                )
            });
        }
        if consume {
            self.sink.hop(|| {
                Hop::new(
                    format!("host:{}", l.name),
                    "macvlan_forward_source",
                    Action::Dropped,
                    "nodst: a source-mode device took the frame; nothing else on this port gets it"
                        .into(),
                )
            });
        }
        consume
    }

    /// `macvlan_multicast_rx`: which modes a group frame is copied to depends on its source.
    fn macvlan_multicast_rx(&mut self, link: LinkId, src: Option<DevId>, frame: Frame) {
        let (modes, why) = match src.map(|s| self.fabric.devs[s].mode) {
            None => (
                MODES_FROM_OUTSIDE,
                "from an outside address: copies to every bridge, vepa, private and passthru device",
            ),
            Some(MacvlanMode::Vepa) => (
                MODES_FROM_VEPA,
                "the source is a local vepa device: copies to every other vepa and bridge device",
            ),
            Some(_) => (
                MODES_FROM_BRIDGE,
                "the source is a local bridge device: copies to vepa devices only, bridge devices had theirs on the way out",
            ),
        };
        self.sink.hop(|| {
            Hop::new(
                format!("host:{}", self.fabric.links[link].name),
                "macvlan_multicast_rx",
                Action::Forwarded,
                why.into(),
            )
        });
        self.macvlan_broadcast(link, src, modes, frame, false);
    }

    /// `macvlan_broadcast`: a copy to every device of the port in one of `modes`, except the
    /// source, whose multicast filter admits the destination.
    fn macvlan_broadcast(
        &mut self,
        link: LinkId,
        src: Option<DevId>,
        modes: &[MacvlanMode],
        frame: Frame,
        local: bool,
    ) {
        for &dev in &self.fabric.links[link].devs {
            let d = &self.fabric.devs[dev];
            if Some(dev) == src || !modes.contains(&d.mode) {
                continue;
            }
            if !self.dev_admits(dev, frame) {
                self.sink.hop(|| {
                    Hop::new(
                        d.label.clone(),
                        "macvlan_broadcast",
                        Action::Dropped,
                        format!(
                            "the multicast filter of {} rejects {}: not joined, and the device is not promiscuous",
                            d.label, frame.dst
                        ),
                    )
                });
                continue;
            }
            self.deliver(d.node, frame, "macvlan_broadcast", || {
                let how = if local {
                    "locally, on the way out"
                } else {
                    "from the port"
                };
                format!("a copy to {} ({} mode) {how}", d.label, d.mode)
            });
        }
    }

    /// `vlan->mc_filter` (`macvlan_compute_filter`): all groups when the device is promiscuous,
    /// otherwise broadcast and the groups it joined. The kernel's filter is a 256-bucket hash;
    /// an unjoined group that collides with a joined one also passes (not modelled).
    fn dev_admits(&self, dev: DevId, frame: Frame) -> bool {
        let d = &self.fabric.devs[dev];
        self.promiscuous || joined(frame.dst, &d.ipv6_addrs)
    }

    /// `port->mc_filter`: all groups when the lower device is promiscuous or allmulti,
    /// otherwise the groups joined on it (its own and every device's, synced by `dev_mc_sync`).
    fn port_admits(&self, link: LinkId, frame: Frame) -> bool {
        if lower_promiscuity(self.fabric, link, self.promiscuous) > 0 {
            return true;
        }
        let l = &self.fabric.links[link];
        let host_joined = l.vid.is_none() && {
            let parent = &self.fabric.parents[l.parent];
            joined(frame.dst, &[crate::model::frame::link_local(parent.mac)])
        };
        host_joined
            || l.devs.iter().any(|&d| {
                let d = &self.fabric.devs[d];
                joined(frame.dst, &d.ipv6_addrs)
            })
    }
}

/// The promiscuity counter of a link's lower device during a pass, from the rules that raise
/// it: a veth or dummy lower device lacks IFF_UNICAST_FLT, so the first non-passthru macvlan's
/// address makes it promiscuous (`__dev_set_rx_mode`, seen on this kernel: promiscuity 1 once a
/// macvlan is up); a passthru device without `nopromisc` adds one (`macvlan_open`); in a
/// promiscuous pass every promiscuous non-passthru device adds one (`macvlan_change_rx_flags`)
/// and so does the host's own socket on the parent.
pub fn lower_promiscuity(fabric: &Fabric, link: LinkId, promiscuous: bool) -> u32 {
    let l = &fabric.links[link];
    match l.vid {
        None => parent_promiscuity(fabric, l.parent, promiscuous),
        // A VLAN device has IFF_UNICAST_FLT: only its promiscuous macvlans count.
        Some(_) => {
            if promiscuous {
                l.devs
                    .iter()
                    .filter(|&&d| fabric.devs[d].mode != MacvlanMode::Passthru)
                    .count() as u32
            } else {
                0
            }
        }
    }
}

/// The promiscuity counter of a parent during a pass (see `lower_promiscuity`).
pub fn parent_promiscuity(fabric: &Fabric, parent: usize, promiscuous: bool) -> u32 {
    let p = &fabric.parents[parent];
    let links = p
        .untagged
        .into_iter()
        .chain(p.tagged.iter().map(|(_, l)| *l));
    let mut uc = false;
    let mut count = 0;
    for link in links {
        let l = &fabric.links[link];
        for &dev in &l.devs {
            let d = &fabric.devs[dev];
            if d.mode == MacvlanMode::Passthru {
                count += u32::from(!d.nopromisc);
            } else {
                uc = true;
                count += u32::from(promiscuous);
            }
        }
    }
    let no_uc_filter = matches!(p.kind, ParentKind::Veth | ParentKind::Dummy);
    count + u32::from(uc && no_uc_filter) + u32::from(promiscuous)
}

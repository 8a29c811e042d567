//! The sentences: one function per question a reader asks of a matrix (do a network's
//! containers reach each other, can the host reach them, what a passthru or source container
//! takes, what the parent turns into, do the peers get through, what tags and promiscuous sockets
//! change), each counting cells and naming the kernel rule that explains the count.

use super::stations::{Cells, Lab, Place, Relation, Tally, and_list, cell_text, hairpin_rule};
use super::{CELLS_NAMED, DETAIL, Finding, Subject, Text, Tone, finding};
use crate::delivery::{Addressing, Cell, FrameClass, MatrixResult};
use crate::scenario::MacvlanMode;

const UNICAST: FrameClass = FrameClass::untagged(Addressing::Unicast);
const BROADCAST: FrameClass = FrameClass::untagged(Addressing::Broadcast);
const MULTICAST6: FrameClass = FrameClass::untagged(Addressing::Multicast6);

/// Do a network's containers reach each other?
pub(super) fn siblings(lab: &Lab, cells: &Cells, pass: bool, net: usize, out: &mut Vec<Finding>) {
    let pairs = lab.relation(net, Relation::Siblings);
    let (u, b) = (
        cells.tally(&pairs, UNICAST, pass),
        cells.tally(&pairs, BROADCAST, pass),
    );
    if u.tried() == 0 && b.tried() == 0 {
        return;
    }
    let s = lab.s;
    let mode = s.networks[net].mode;
    let evidence: Vec<&Cell> = u.cells.iter().chain(&b.cells).copied().collect();
    let hairpin = lab.hairpin(net);
    let key = |what: &str| format!("siblings {what} {mode} {hairpin}");
    let (hp_fn, hp_what) = hairpin_rule(s);
    let through_switch = format!("{mode} mode sends every frame out of the parent, to the switch");
    let (u_all, b_all) = (u.all() || u.tried() == 0, b.all() || b.tried() == 0);
    let (u_none, b_none) = (u.none() || u.tried() == 0, b.none() || b.tried() == 0);
    if u_all && b_all {
        let rule = if mode == MacvlanMode::Bridge {
            "macvlan_queue_xmit: in bridge mode a frame for a sibling is handed to it on the host and never reaches the wire".to_string()
        } else if hairpin {
            format!(
                "macvlan_queue_xmit, {hp_fn}, macvlan_handle_frame: {through_switch}; {hp_what}, so the port sends it back, and it is delivered by destination MAC"
            )
        } else {
            format!("macvlan_queue_xmit, macvlan_handle_frame: {DETAIL}")
        };
        let how = if mode != MacvlanMode::Bridge && hairpin {
            ", through the hairpinning {port}"
        } else {
            ""
        };
        out.push(finding(
            key("reach"),
            Some(net),
            Tone::Reaches,
            move |w| {
                format!(
                    "{} reach each other (unicast and broadcast){}",
                    w.who,
                    how.replace("{port}", &w.port)
                )
            },
            rule,
            &evidence,
        ));
    } else if u_all && b_none {
        let behind = if hairpin {
            " behind the hairpinning {port}"
        } else {
            ""
        };
        out.push(finding(
            key("unicast-only"),
            Some(net),
            Tone::Note,
            move |w| {
                format!(
                    "{} still get each other's raw unicast{}, but no broadcast: ARP cannot resolve, so IP between them fails",
                    w.who,
                    behind.replace("{port}", &w.port)
                )
            },
            format!(
                "macvlan_queue_xmit, macvlan_handle_frame: {through_switch}; unicast comes back and is delivered by destination MAC, but a group frame whose source is a local {mode}-mode device goes back to that device only"
            ),
            &evidence,
        ));
    } else if u_none && b_none {
        let (text, rule): (fn(&Subject) -> String, String) = if mode != MacvlanMode::Bridge
            && !hairpin
            && lab.port(net).is_some()
        {
            (
                match mode {
                    MacvlanMode::Vepa => |w: &Subject| {
                        format!(
                            "{} do not reach each other: VEPA sends all to the switch; they need a hairpinning {} (`hairpin = true`)",
                            w.who, w.port
                        )
                    },
                    _ => |w: &Subject| {
                        format!(
                            "{} are isolated: every frame goes to the switch, and {} does not send it back",
                            w.who, w.port
                        )
                    },
                },
                format!("macvlan_queue_xmit, {hp_fn}: {through_switch}; {hp_what}"),
            )
        } else {
            (
                |w: &Subject| format!("{} do not reach each other", w.who),
                format!("macvlan_queue_xmit, macvlan_handle_frame: {DETAIL}"),
            )
        };
        out.push(finding(
            key("isolated"),
            Some(net),
            Tone::Blocked,
            text,
            rule,
            &evidence,
        ));
    } else {
        let (uh, ut, bh, bt) = (u.heard, u.tried(), b.heard, b.tried());
        out.push(finding(
            format!("siblings partly {net}"),
            Some(net),
            Tone::Note,
            move |w| {
                format!(
                    "{} reach each other only in part: unicast {uh} of {ut} pairs, broadcast {bh} of {bt}",
                    w.who
                )
            },
            format!("macvlan_queue_xmit, macvlan_handle_frame: {DETAIL}"),
            &evidence,
        ));
    }
}

/// Can the host reach a network's containers: through the parent, through a shim?
pub(super) fn host(lab: &Lab, cells: &Cells, pass: bool, net: usize, out: &mut Vec<Finding>) {
    let s = lab.s;
    let mode = s.networks[net].mode;
    let to = lab.relation(net, Relation::ToParent);
    let from = lab.relation(net, Relation::FromParent);
    let mut tallies: Vec<Tally> = Vec::new();
    for pairs in [&to, &from] {
        for class in [UNICAST, BROADCAST] {
            tallies.push(cells.tally(pairs, class, pass));
        }
    }
    let evidence: Vec<&Cell> = tallies.iter().flat_map(|t| t.cells.clone()).collect();
    let heard: usize = tallies.iter().map(|t| t.heard).sum();
    let hairpin = lab.hairpin(net);
    if !evidence.is_empty() {
        if heard == 0 {
            let passthru = mode == MacvlanMode::Passthru;
            let shim = lab.shim_on_parent(net);
            out.push(finding(
                format!("host unreached {passthru} {shim}"),
                Some(net),
                Tone::Blocked,
                move |w| {
                    if passthru {
                        format!(
                            "the host cannot reach {} through {}, and a passthru parent takes no shim",
                            w.who, w.parent
                        )
                    } else if shim {
                        format!(
                            "the host cannot reach {} through {} itself, only through its shim",
                            w.who, w.parent
                        )
                    } else {
                        let who = if w.merged { "its containers" } else { &w.who };
                        format!(
                            "the host cannot reach {who} through {}: it needs a shim macvlan (`[host.shim]`)",
                            w.parent
                        )
                    }
                },
                "macvlan_queue_xmit: a macvlan's frame goes to a sibling or out of the parent, never up the parent's own receive path",
                &evidence,
            ));
        } else if tallies.iter().all(|t| t.all() || t.tried() == 0) {
            let rule = if hairpin && mode != MacvlanMode::Bridge {
                let (hp_fn, hp_what) = hairpin_rule(s);
                format!(
                    "macvlan_queue_xmit, {hp_fn}, macvlan_handle_frame: {mode} mode sends frames to the switch; {hp_what}, so the port sends them back, and a frame for the parent's own MAC goes up to it"
                )
            } else {
                "macvlan_handle_frame: a frame for the parent's own MAC goes up to it".into()
            };
            out.push(finding(
                format!("host reached {mode} {hairpin}"),
                Some(net),
                Tone::Reaches,
                |w| format!("the host hears {} on {}", w.who, w.parent),
                rule,
                &evidence,
            ));
        } else {
            let tried = evidence.len();
            out.push(finding(
                format!("host partly {net}"),
                Some(net),
                Tone::Note,
                move |w| {
                    format!(
                        "the host and {} hear each other only in part through {} ({heard} of {tried} cells)",
                        w.who, w.parent
                    )
                },
                format!("macvlan_queue_xmit, macvlan_handle_frame: {DETAIL}"),
                &evidence,
            ));
        }
    }
    let shim_pairs: Vec<(&str, &str)> = lab
        .relation(net, Relation::ToShim)
        .into_iter()
        .chain(lab.relation(net, Relation::FromShim))
        .collect();
    let shim: Vec<Tally> = [UNICAST, BROADCAST]
        .into_iter()
        .map(|c| cells.tally(&shim_pairs, c, pass))
        .collect();
    let evidence: Vec<&Cell> = shim.iter().flat_map(|t| t.cells.clone()).collect();
    if evidence.is_empty() || !lab.shim_on_parent(net) {
        return;
    }
    let shim_name = s
        .host
        .shim
        .as_ref()
        .map(|sh| sh.interface.clone())
        .unwrap_or_default();
    if shim.iter().all(|t| t.all() || t.tried() == 0) {
        out.push(finding(
            format!("shim reaches {mode}"),
            Some(net),
            Tone::Reaches,
            move |w| format!("the host reaches {} through its shim {shim_name}", w.who),
            "macvlan_queue_xmit: the shim is a bridge-mode macvlan on the same parent, and bridge mode hands frames between bridge-mode siblings on the host",
            &evidence,
        ));
    } else {
        let heard: usize = shim.iter().map(|t| t.heard).sum();
        let tried = evidence.len();
        out.push(finding(
            format!("shim partly {net}"),
            Some(net),
            Tone::Note,
            move |w| {
                format!(
                    "the host's shim {shim_name} and {} hear each other only in part ({heard} of {tried} cells)",
                    w.who
                )
            },
            "macvlan_queue_xmit: only bridge-mode siblings are handed frames on the host",
            &evidence,
        ));
    }
}

/// A passthru container owns its parent: its MAC, and every frame that arrives on it.
pub(super) fn passthru(lab: &Lab, cells: &Cells, pass: bool, net: usize, out: &mut Vec<Finding>) {
    let s = lab.s;
    if s.networks[net].mode != MacvlanMode::Passthru {
        return;
    }
    let parent = &s.parents[s.networks[net].parent];
    let Some(e) = s.endpoints.iter().find(|e| e.network == net) else {
        return;
    };
    let into: Vec<(&str, &str)> = lab
        .senders
        .iter()
        .filter(|f| **f != e.name)
        .map(|f| (f.as_str(), e.name.as_str()))
        .collect();
    let u = cells.tally(&into, UNICAST, pass);
    let leaked: u64 = u.cells.iter().map(|c| c.leaked).sum();
    let evidence: Vec<&Cell> = u.cells.iter().filter(|c| c.leaked > 0).copied().collect();
    let same_mac = e.mac == parent.mac;
    let mac = parent.mac.to_string();
    out.push(finding(
        format!("passthru {net}"),
        Some(net),
        Tone::Note,
        move |w| {
            let mut t = if same_mac {
                format!("{} takes {}'s MAC ({mac})", w.who, w.parent)
            } else {
                format!("{} owns {}", w.who, w.parent)
            };
            if leaked > 0 {
                t += &format!(
                    " and every frame that arrives on it ({leaked} meant for others)"
                );
            }
            t
        },
        "macvlan_common_newlink, macvlan_handle_frame: passthru inherits the parent's address (eth_hw_addr_inherit), and the one device is handed every unicast frame",
        &evidence,
    ));
}

/// Whom a network's containers hear from outside their network, when not everyone.
pub(super) fn outside_heard(
    lab: &Lab,
    cells: &Cells,
    pass: bool,
    net: usize,
    out: &mut Vec<Finding>,
) {
    let s = lab.s;
    let own = lab.endpoints(net);
    let parent = lab.parent_station(net);
    // The network's own parent is the host sentence's business.
    let outside: Vec<&str> = lab
        .senders
        .iter()
        .map(|x| x.as_str())
        .filter(|x| !own.contains(x) && *x != parent)
        .collect();
    let mut heard: Vec<&str> = Vec::new();
    let mut evidence: Vec<&Cell> = Vec::new();
    for sender in &outside {
        let pairs = lab.pairs(&[sender], &own);
        let mut got = false;
        for class in [UNICAST, BROADCAST] {
            let t = cells.tally(&pairs, class, pass);
            got |= t.heard > 0;
            evidence.extend(t.cells);
        }
        if got {
            heard.push(sender);
        }
    }
    if evidence.is_empty() || heard.len() == outside.len() {
        return;
    }
    let network = &s.networks[net];
    let source = network.mode == MacvlanMode::Source;
    let deaf = match outside.len() - heard.len() {
        1 => "the other sender".to_string(),
        n => format!("the other {n} senders"),
    };
    let heard_text = and_list(&heard);
    let rule = if source {
        format!(
            "macvlan_forward_source: a source-mode device takes a frame only when its source MAC is listed{}",
            if network.nodst {
                " (nodst: not by destination either)"
            } else {
                ""
            }
        )
    } else {
        format!("macvlan_handle_frame: {DETAIL}")
    };
    // Name the cells of the senders not heard first: they are the finding.
    evidence.sort_by_key(|c| c.received > 0);
    out.push(finding(
        format!("outside {net}"),
        Some(net),
        if heard.is_empty() {
            Tone::Blocked
        } else {
            Tone::Note
        },
        move |w| {
            if heard_text.is_empty() {
                format!("{} hear no station outside their network", w.who)
            } else if source {
                format!(
                    "{} hear only {heard_text}, their listed source; {deaf} reach them not at all",
                    w.who
                )
            } else {
                format!(
                    "{} hear only {heard_text} from outside their network; {deaf} not at all",
                    w.who
                )
            }
        },
        rule,
        &evidence,
    ));
}

/// What a parent turns into: promiscuous with no socket asking, a window on its containers'
/// own traffic.
pub(super) fn parents(
    lab: &Lab,
    m: &MatrixResult,
    cells: &Cells,
    pass: bool,
    nets: &[usize],
    out: &mut Vec<Finding>,
) {
    let s = lab.s;
    for &net in nets {
        let network = &s.networks[net];
        let station = lab.parent_station(net);
        let Some(p) = m
            .promiscuity
            .iter()
            .find(|p| p.promiscuous_pass == pass && p.device == station)
        else {
            continue;
        };
        let passthru = network.mode == MacvlanMode::Passthru;
        let n = p.promiscuity;
        let (key, tone, rule) = match (n, passthru) {
            (0, _) => (
                "parent stays",
                Tone::Note,
                "macvlan_open: no macvlan on it asked for promiscuity (nopromisc, or a parent with a unicast filter)",
            ),
            (_, true) => (
                "parent promiscuous passthru",
                Tone::Note,
                "macvlan_open: a passthru device sets its parent promiscuous (dev_set_promiscuity), unless nopromisc",
            ),
            (_, false) => (
                "parent promiscuous",
                Tone::Note,
                "macvlan_open, __dev_set_rx_mode: each macvlan's MAC is added to the parent (dev_uc_add), and a parent without a unicast filter (veth, dummy) goes promiscuous instead",
            ),
        };
        if s.networks[..net]
            .iter()
            .any(|other| other.parent == network.parent)
        {
            continue;
        }
        let evidence: Vec<&Cell> = lab
            .senders
            .iter()
            .filter_map(|f| {
                cells
                    .by_key
                    .get(&(f.as_str(), station.as_str(), UNICAST, pass))
            })
            .copied()
            .filter(|c| c.leaked > 0)
            .collect();
        let leaked: u64 = evidence.iter().map(|c| c.leaked).sum();
        out.push(Finding {
            cells: std::iter::once(format!("{station} promiscuity {n}"))
                .chain(evidence.iter().take(CELLS_NAMED - 1).map(|c| cell_text(c)))
                .collect(),
            cells_total: evidence.len() + 1,
            ..finding(
                format!("{key} {}", n > 0),
                Some(net),
                tone,
                move |w| {
                    let (stays, turns, it, own) = if w.parents {
                        ("stay", "turn", "them", "their")
                    } else {
                        ("stays", "turns", "it", "its")
                    };
                    if n == 0 {
                        format!("{} {stays} out of promiscuous mode", w.parent)
                    } else if leaked > 0 {
                        format!(
                            "{} {turns} promiscuous on {own} own: a packet socket on {it} sees frames meant for others",
                            w.parent
                        )
                    } else {
                        format!(
                            "{} {turns} promiscuous on {own} own (promiscuity {n})",
                            w.parent
                        )
                    }
                },
                rule,
                &[],
            )
        });
        // A bridge-mode sibling's unicast crosses the parent's receive path: a sniffer there
        // sees traffic that never leaves the host.
        let own: Vec<&Cell> = lab
            .endpoints(net)
            .iter()
            .filter_map(|e| cells.by_key.get(&(*e, station.as_str(), UNICAST, pass)))
            .copied()
            .filter(|c| c.leaked > 0)
            .collect();
        if network.mode == MacvlanMode::Bridge && !own.is_empty() {
            out.push(finding(
                "parent sees siblings",
                Some(net),
                Tone::Note,
                |w| {
                    format!(
                        "a packet socket on {} sees {}'s unicast to each other, which never leaves the host",
                        w.parent, w.who
                    )
                },
                "macvlan_queue_xmit: bridge mode hands a sibling's unicast through the parent's receive path (dev_forward_skb), where packet sockets on the parent see it",
                &own,
            ));
        }
    }
}

/// Do the containers and the peers behind the switch reach each other?
pub(super) fn peers(lab: &Lab, cells: &Cells, pass: bool, nets: &[usize], out: &mut Vec<Finding>) {
    let names = lab.stations(|p| p == Place::Peer);
    if names.is_empty() {
        return;
    }
    let peer = and_list(&names);
    // The verbs whose subject is the peers: one peer, or several (an external switch's).
    let (reaches, hears, does) = match names.len() {
        1 => ("reaches", "hears", "does"),
        _ => ("reach", "hear", "do"),
    };
    for &net in nets {
        let tallies: Vec<Tally> = [Relation::ToPeers, Relation::FromPeers]
            .into_iter()
            .flat_map(|rel| {
                let pairs = lab.relation(net, rel);
                [UNICAST, BROADCAST].map(|c| cells.tally(&pairs, c, pass))
            })
            .collect();
        let evidence: Vec<&Cell> = tallies.iter().flat_map(|t| t.cells.clone()).collect();
        if evidence.is_empty() {
            continue;
        }
        let (to, from) = (&tallies[..2], &tallies[2..]);
        let full = |t: &[Tally]| t.iter().all(|t| t.all() || t.tried() == 0);
        let empty = |t: &[Tally]| t.iter().all(|t| t.none() || t.tried() == 0);
        let peer = peer.clone();
        let (key, tone, text): (&str, Tone, Text) = if full(to) && full(from) {
            (
                "peers reach",
                Tone::Reaches,
                Box::new(move |w| {
                    format!(
                        "{peer} {reaches} {} through the switch, and they reach {peer}",
                        w.who
                    )
                }),
            )
        } else if empty(to) && empty(from) {
            (
                "peers unreached",
                Tone::Blocked,
                Box::new(move |w| format!("{} and {peer} do not reach each other", w.who)),
            )
        } else if full(to) && empty(from) {
            (
                "peers one way out",
                Tone::Note,
                Box::new(move |w| format!("{peer} {hears} {}, but they do not hear {peer}", w.who)),
            )
        } else if empty(to) && full(from) {
            (
                "peers one way in",
                Tone::Note,
                Box::new(move |w| {
                    format!("{} hear {peer}, but {peer} {does} not hear them", w.who)
                }),
            )
        } else {
            (
                "peers partly",
                Tone::Note,
                Box::new(move |w| format!("{} and {peer} hear each other only in part", w.who)),
            )
        };
        out.push(Finding {
            text,
            ..finding(
                key,
                Some(net),
                tone,
                |_| String::new(),
                "br_forward, macvlan_handle_frame: the switch forwards by its table, and macvlan delivers by destination MAC",
                &evidence,
            )
        });
    }
}

/// Containers without IPv6 still hear IPv6 all-nodes multicast.
pub(super) fn ipv6_off(
    lab: &Lab,
    cells: &Cells,
    pass: bool,
    nets: &[usize],
    out: &mut Vec<Finding>,
) {
    if !cells.has(MULTICAST6) {
        return;
    }
    for &net in nets.iter().filter(|&&n| lab.s.networks[n].ipv6.is_none()) {
        let own = lab.endpoints(net);
        let senders: Vec<&str> = lab.senders.iter().map(|s| s.as_str()).collect();
        let t = cells.tally(&lab.pairs(&senders, &own), MULTICAST6, pass);
        let heard: Vec<&Cell> = t.cells.iter().filter(|c| c.received > 0).copied().collect();
        if heard.is_empty() {
            continue;
        }
        out.push(finding(
            "ipv6 off hears ff02::1",
            Some(net),
            Tone::Note,
            |w| {
                format!(
                    "{} hear IPv6 all-nodes multicast (ff02::1) though IPv6 is off (Docker's default)",
                    w.who
                )
            },
            "macvlan_compute_filter: disable_ipv6 leaves the device in the all-nodes group, so its multicast filter still admits 33:33:00:00:00:01",
            &heard,
        ));
    }
}

/// Do tagged frames go where their untagged twins go?
pub(super) fn tagged(cells: &Cells, m: &MatrixResult, pass: bool, out: &mut Vec<Finding>) {
    let mut alike: Vec<&Cell> = Vec::new();
    let mut differ: Vec<&Cell> = Vec::new();
    for c in m
        .cells
        .iter()
        .filter(|c| c.class.tagged && c.promiscuous == pass)
    {
        let twin = FrameClass::untagged(c.class.addressing);
        if let Some(u) = cells
            .by_key
            .get(&(c.from.as_str(), c.to.as_str(), twin, pass))
        {
            if (u.received > 0) == (c.received > 0) {
                alike.push(c);
            } else {
                differ.push(c);
            }
        }
    }
    if alike.is_empty() && differ.is_empty() {
        return;
    }
    let vid = m.spec.vlan;
    if differ.is_empty() {
        let n = alike.len();
        // Name cells that carried frames: they show the tag survived the path.
        alike.sort_by_key(|c| c.received == 0);
        out.push(finding(
            "tagged alike",
            None,
            Tone::Note,
            move |_| {
                format!(
                    "802.1Q-tagged frames (VLAN {vid}) go exactly where untagged ones do ({n} cells alike)"
                )
            },
            "PACKET_AUXDATA: veth, macvlan and a VLAN-unaware switch carry the tag untouched, and a packet socket reads it from the packet's metadata",
            &alike,
        ));
    } else {
        let n = differ.len();
        out.push(finding(
            "tagged differ",
            None,
            Tone::Note,
            move |_| format!("802.1Q-tagged frames (VLAN {vid}) go elsewhere than untagged ones in {n} cells"),
            "VLAN membership: of the switch ports and the 8021q sub-interfaces; the per-class grids (--detail) show each cell",
            &differ,
        ));
    }
}

/// What a promiscuous socket in a container adds.
pub(super) fn promiscuous_pass(
    lab: &Lab,
    cells: &Cells,
    m: &MatrixResult,
    nets: &[usize],
    out: &mut Vec<Finding>,
) {
    if !(m.spec.promiscuous.contains(&false) && m.spec.promiscuous.contains(&true)) {
        return;
    }
    let s = lab.s;
    let watched: Vec<&str> = nets
        .iter()
        .filter(|&&n| s.networks[n].mode != MacvlanMode::Passthru)
        .flat_map(|&n| lab.endpoints(n))
        .collect();
    let promiscuous: Vec<&Cell> = m
        .cells
        .iter()
        .filter(|c| c.promiscuous && c.class == UNICAST && watched.contains(&c.to.as_str()))
        .collect();
    // Leaks a plain socket saw too (a source-mode device takes its sources' frames whatever
    // their destination) are not the promiscuous socket's doing.
    let leaked: Vec<&Cell> = promiscuous
        .iter()
        .filter(|c| {
            let plain = cells
                .by_key
                .get(&(c.from.as_str(), c.to.as_str(), c.class, false))
                .map_or(0, |p| p.leaked);
            c.leaked > plain
        })
        .copied()
        .collect();
    if !promiscuous.is_empty() {
        if leaked.is_empty() {
            let n = watched.len();
            let aside = if nets
                .iter()
                .any(|&n| s.networks[n].mode == MacvlanMode::Passthru)
            {
                "; passthru aside"
            } else {
                ""
            };
            out.push(finding(
                "no sniffing",
                None,
                Tone::Reaches,
                move |_| format!("containers cannot sniff each other's unicast, even with a promiscuous socket ({n} of {n}{aside})"),
                "macvlan_handle_frame: each device is handed only the unicast for its own MAC, promiscuous or not",
                &promiscuous,
            ));
        } else {
            out.push(finding(
                "sniffing",
                None,
                Tone::Note,
                |_| "a promiscuous socket in a container sees unicast meant for others".into(),
                format!("macvlan_handle_frame: {DETAIL}"),
                &leaked,
            ));
        }
    }
    let mut added: Vec<FrameClass> = Vec::new();
    let mut evidence: Vec<&Cell> = Vec::new();
    for c in m.cells.iter().filter(|c| c.promiscuous && c.received > 0) {
        if !watched.contains(&c.to.as_str()) {
            continue;
        }
        let plain = cells
            .by_key
            .get(&(c.from.as_str(), c.to.as_str(), c.class, false))
            .is_some_and(|p| p.received > 0);
        if !plain {
            if !added.contains(&c.class) {
                added.push(c.class);
            }
            evidence.push(c);
        }
    }
    if evidence.is_empty() {
        return;
    }
    added.sort();
    let mut names: Vec<String> = Vec::new();
    for a in added.iter().map(|c| c.addressing) {
        let both =
            added.contains(&FrameClass::untagged(a)) && added.contains(&FrameClass::tagged(a));
        let name = match (both, added.contains(&FrameClass::tagged(a))) {
            (true, _) => format!("{} (tagged or not)", a.as_str()),
            (false, true) => format!("{}-tagged", a.as_str()),
            (false, false) => a.as_str().to_string(),
        };
        if !names.contains(&name) {
            names.push(name);
        }
    }
    let classes = and_list(&names);
    out.push(finding(
        "promiscuous adds",
        None,
        Tone::Note,
        move |_| format!("a promiscuous socket in a container adds only group frames it never joined: {classes}"),
        "macvlan_compute_filter: a promiscuous device's multicast filter admits every group",
        &evidence,
    ));
}

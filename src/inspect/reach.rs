//! The model's answer for the machine, in the machine's own names: for every ordered pair of
//! stations (`NETNS:IFACE`) and every untagged frame class, whether a frame arrives and the
//! kernel rule that decides it (from the model's trace of that frame), and IPv4 / IPv6
//! reachability (address resolution and unicast both ways, from the model's reachability).
//! Stations the rules cannot tell apart are traced once, through the model's groups. Stations
//! on different segments share no wire. Decides nothing itself.

use std::collections::HashMap;

use serde::Serialize;

use super::Inspection;
use super::layout::Layout;
use super::reproduce::Reproduction;
use crate::delivery::FrameClass;
use crate::model::{self, Action, Trace, TraceRequest};

/// Whether frames of one class from one station arrive at another, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReachEntry {
    pub from: String,
    pub to: String,
    /// A frame class (`unicast`, `unknown-unicast`, `broadcast`, `multicast4`, `multicast6`), or
    /// `ipv4` / `ipv6` for IP (what `ping` needs).
    pub class: String,
    pub delivered: bool,
    /// The kernel function and the rule that decided it.
    pub rule: String,
}

/// The untagged frame classes.
fn classes() -> Vec<FrameClass> {
    FrameClass::all()
        .into_iter()
        .filter(|c| !c.tagged)
        .collect()
}

/// Scenario labels (`e1`, `e1:eth0`, `host:eth0`, `switch:p0`) to live names.
fn labels(r: &Reproduction) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for (s, live) in &r.stations {
        out.insert(s.clone(), live.to_string());
        if let Some(scn) = r.scenario.as_ref().ok()
            && let Some(e) = scn.endpoint(s)
        {
            out.insert(format!("{s}:{}", e.interface), live.to_string());
        }
    }
    for (s, live) in &r.ports {
        out.insert(s.clone(), live.to_string());
    }
    out
}

/// `text` with every scenario label replaced by the live name it stands for; `swap` first.
fn translate(text: &str, names: &HashMap<String, String>, swap: &[(&str, &str)]) -> String {
    text.split(' ')
        .map(|word| {
            let core = word
                .trim_start_matches('(')
                .trim_end_matches([',', '.', ';', ':', ')']);
            let start = word.len() - word.trim_start_matches('(').len();
            let end = start + core.len();
            let mapped = swap
                .iter()
                .find(|(a, _)| {
                    *a == core || core.strip_prefix(a).is_some_and(|r| r.starts_with(':'))
                })
                .map(|(a, b)| format!("{b}{}", &core[a.len()..]))
                .map(|s| names.get(&s).cloned().unwrap_or(s))
                .or_else(|| names.get(core).cloned());
            match mapped {
                Some(m) => format!("{}{m}{}", &word[..start], &word[end..]),
                None => word.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The hop that decided whether `to` got the frame.
fn decisive(t: &Trace) -> String {
    let to = &t.request.to;
    let hop = if t.received > 0 {
        t.hops.iter().rev().find(|h| {
            h.action == Action::Delivered
                && (h.device == *to || h.device.starts_with(&format!("{to}:")))
        })
    } else {
        t.hops.iter().find(|h| h.action == Action::Dropped)
    }
    .or(t.hops.last());
    match hop {
        Some(h) => format!("{}: {}", h.kernel, h.text),
        None => "no hop".into(),
    }
}

pub fn reach(_layout: &Layout, scenarios: &[Reproduction]) -> Vec<ReachEntry> {
    let mut out = Vec::new();
    let classes = classes();
    for r in scenarios {
        let Ok(s) = &r.scenario else { continue };
        let names = labels(r);
        let mut spec = model::default_spec();
        spec.classes = classes.clone();
        spec.promiscuous = vec![false];
        let Ok(sim) = model::simulate(s, &spec) else {
            continue;
        };
        let live = |station: &str| names.get(station).cloned().unwrap_or(station.to_string());
        for a in &sim.groups {
            for b in &sim.groups {
                let rep_from = &a.members[0];
                let Some(rep_to) = b.members.iter().find(|m| *m != rep_from) else {
                    continue;
                };
                let mut per_class = Vec::new();
                for &class in &classes {
                    let request = TraceRequest {
                        from: rep_from.clone(),
                        to: rep_to.clone(),
                        class,
                        promiscuous: false,
                        vlan: spec.vlan,
                    };
                    if let Ok(t) = model::trace(s, &request) {
                        per_class.push((class.to_string(), t.received > 0, decisive(&t)));
                    }
                }
                let ip = sim
                    .reachability
                    .iter()
                    .find(|p| p.from == a.label && p.to == b.label);
                for from in &a.members {
                    for to in b.members.iter().filter(|m| *m != from) {
                        let swap = [
                            (rep_from.as_str(), from.as_str()),
                            (rep_to.as_str(), to.as_str()),
                        ];
                        for (class, delivered, rule) in &per_class {
                            out.push(ReachEntry {
                                from: live(from),
                                to: live(to),
                                class: class.clone(),
                                delivered: *delivered,
                                rule: translate(rule, &names, &swap),
                            });
                        }
                        let Some(ip) = ip else { continue };
                        for (class, reach, have) in [
                            ("ipv4", &ip.ipv4, &r.live_ipv4),
                            ("ipv6", &ip.ipv6, &r.live_ipv6),
                        ] {
                            let missing: Vec<&str> = [from, to]
                                .into_iter()
                                .filter(|s| !have.contains(*s))
                                .map(String::as_str)
                                .collect();
                            let (delivered, rule) = if missing.is_empty() {
                                (reach.reachable, translate(&reach.why, &names, &swap))
                            } else {
                                let who: Vec<String> = missing.iter().map(|m| live(m)).collect();
                                (
                                    false,
                                    format!("no {class} address on {}", who.join(" and ")),
                                )
                            };
                            out.push(ReachEntry {
                                from: live(from),
                                to: live(to),
                                class: class.into(),
                                delivered,
                                rule,
                            });
                        }
                    }
                }
            }
        }
    }
    // Stations of different segments: nothing joins them here.
    for (i, a) in scenarios.iter().enumerate() {
        for (j, b) in scenarios.iter().enumerate() {
            if i == j {
                continue;
            }
            for (_, from) in &a.stations {
                for (_, to) in &b.stations {
                    for class in classes
                        .iter()
                        .map(ToString::to_string)
                        .chain(["ipv4".into(), "ipv6".into()])
                    {
                        out.push(ReachEntry {
                            from: from.to_string(),
                            to: to.to_string(),
                            class,
                            delivered: false,
                            rule: "different segments: no wire or bridge on this machine joins their parents".into(),
                        });
                    }
                }
            }
        }
    }
    out
}

/// The model's trace of one frame between two live stations.
pub fn trace(
    inspection: &Inspection,
    from: &str,
    to: &str,
    class: FrameClass,
    promiscuous: bool,
) -> Result<Trace, String> {
    let known = || {
        inspection
            .scenarios
            .iter()
            .flat_map(|r| r.stations.iter().map(|(_, l)| l.to_string()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let segment = |name: &str| {
        inspection
            .scenarios
            .iter()
            .position(|r| r.station(name).is_some())
            .ok_or_else(|| {
                format!(
                    "no station `{name}` here (NETNS:IFACE); stations: {}",
                    known()
                )
            })
    };
    let (i, j) = (segment(from)?, segment(to)?);
    if i != j {
        return Err(format!(
            "{from} and {to} are on different segments: no wire or bridge on this machine joins their parents"
        ));
    }
    let r = &inspection.scenarios[i];
    let s = r.scenario.as_ref().map_err(Clone::clone)?;
    let request = TraceRequest {
        from: r.station(from).expect("found above").to_string(),
        to: r.station(to).expect("found above").to_string(),
        class,
        promiscuous,
        vlan: model::default_spec().vlan,
    };
    let mut t = model::trace(s, &request).map_err(|e| e.to_string())?;
    let names = labels(r);
    for h in &mut t.hops {
        h.device = translate(&h.device, &names, &[]);
        h.text = translate(&h.text, &names, &[]);
    }
    for c in &mut t.copies {
        c.node = translate(&c.node, &names, &[]);
    }
    t.summary = translate(&t.summary, &names, &[]);
    t.request.from = from.to_string();
    t.request.to = to.to_string();
    Ok(t)
}

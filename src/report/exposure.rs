//! What mvlab is about to send through the existing interfaces of this machine, printed before
//! the first frame: each interface and the stations behind it with their MACs, the MAC ranges
//! the tests make up, the addresses, the rate cap and how long each test sends. Text only; it
//! reads a validated scenario and decides nothing.

use std::fmt::Write;

use crate::delivery::UNKNOWN_UNICAST_MAC;
use crate::scenario::{ParentKind, Scenario, Switch, TableFull, TestKind};

/// The notice, or `None` when the scenario uses no existing interface.
pub fn render(s: &Scenario, max_pps: Option<f64>) -> Option<String> {
    let interfaces = s.existing_interfaces();
    if interfaces.is_empty() {
        return None;
    }
    let mut out =
        String::from("mvlab sends test frames through existing interfaces of this machine:\n");
    for (i, parent) in s.parents.iter().enumerate() {
        let ParentKind::Existing { interface } = &parent.kind else {
            continue;
        };
        let stations: Vec<String> = s
            .endpoints
            .iter()
            .filter(|e| s.networks[e.network].parent == i)
            .map(|e| format!("{} {}", e.name, e.mac))
            .collect();
        let _ = writeln!(
            out,
            "  {interface}: macvlans of parent `{}`: {}",
            parent.name,
            if stations.is_empty() {
                "none".to_string()
            } else {
                stations.join(", ")
            }
        );
    }
    for peer in &s.peers {
        if let Some(interface) = &peer.existing {
            let _ = writeln!(
                out,
                "  {interface}: peer {} {} (raw sockets on the interface)",
                peer.name, peer.mac
            );
        }
    }
    let _ = writeln!(
        out,
        "  destinations: those stations, {UNKNOWN_UNICAST_MAC} (unknown unicast), broadcast, 01:00:5e:7f:4d:4d and 33:33:00:00:00:01 (multicast)"
    );
    let mut made_up = Vec::new();
    for t in &s.tests {
        match &t.kind {
            TestKind::AddressCaching(a) => made_up.push(format!(
                "{}: up to {} source MACs per trial under 06:00:00:00:00:00/8, fresh every trial",
                t.name, a.max_addresses
            )),
            TestKind::AddressLearningRate(a) => made_up.push(format!(
                "{}: {} source MACs per trial under 06:00:00:00:00:00/8, fresh every trial",
                t.name, a.addresses
            )),
            TestKind::MacSweep(m) => made_up.push(format!(
                "{}: {} source MACs from 06:00:00:00:00:00 on",
                t.name, m.macs
            )),
            _ => {}
        }
    }
    for line in made_up {
        let _ = writeln!(out, "  made-up sources (locally administered): {line}");
    }
    let _ = writeln!(
        out,
        "  addresses: 198.18.0.0/15 and 2001:2::/48 only; every MAC locally administered"
    );
    let _ = writeln!(
        out,
        "  rate: {}",
        max_pps.map_or("no cap (--max-rate max)".to_string(), |p| format!(
            "at most {p:.0} frames/s from each station (--max-rate)"
        ))
    );
    for t in &s.tests {
        let _ = writeln!(out, "  {}: {}", t.name, duration(s, &t.kind));
    }
    Some(out)
}

/// How long a test sends, as far as the scenario says.
fn duration(s: &Scenario, kind: &TestKind) -> String {
    let wait = match &s.switch {
        Switch::External(x) if x.table_full == TableFull::StopLearning => {
            format!(
                ", each trial after {} s of silence (ageing_time)",
                x.ageing_time + 1
            )
        }
        _ => String::new(),
    };
    match kind {
        TestKind::Matrix(m) => format!(
            "{} frames per sender, class and destination, in {} pass(es)",
            m.spec.frames,
            m.spec.promiscuous.len()
        ),
        TestKind::Latency(l) => format!("{:.1} s at {}", l.duration.as_secs_f64(), l.rate),
        TestKind::Throughput(t) => format!(
            "{:.1} s per frame size ({} sizes)",
            t.duration.as_secs_f64(),
            t.frame_sizes.len()
        ),
        TestKind::Rfc2544(r) => format!(
            "trials of {:.1} s, about 10 per frame size ({} sizes)",
            r.trial.as_secs_f64(),
            r.frame_sizes.len()
        ),
        TestKind::AddressCaching(_) | TestKind::AddressLearningRate(_) => {
            format!("a binary search of trials{wait}")
        }
        TestKind::MacSweep(m) => format!("{} frames at {}", m.macs, m.rate),
        TestKind::EndpointRamp(_) | TestKind::IpExhaustion(_) => "see the scenario".into(),
    }
}

//! The delivery and leak matrix (see `delivery` for what a cell counts): every sender sends every
//! frame class, every receiver captures, once without and once with promiscuous sockets; plus the
//! state around it (promiscuity of each parent and bridge port, what the bridge learned).
//!
//! How a pass runs: captures start on every receiver (they listen before anything is sent), once
//! the lab's own IPv6 frames have reached the switch (`Lab::await_ipv6_background`); the
//! switch is primed (each sender, in station order, sends one frame to `UNKNOWN_UNICAST_MAC`);
//! each sender then sends its flows, one per class and destination, taking turns frame by
//! frame, each frame followed by the time its copies take at the pass's pace (`interleave`,
//! `PACE_COPIES`: a broadcast that 1,000 siblings get waits 1,000 times a unicast's turn, so
//! no CPU's input backlog fills behind it); after the kernel has
//! drained, the promiscuity counters and the bridge's table are read while the sockets still
//! hold their state, and the captures stop.
//!
//! A pass the machine could not keep up with says nothing about the path: a capture ring
//! overflowed (PACKET_STATISTICS counts a drop: its thread was not scheduled in time), the kernel
//! refused a frame at send (ENOBUFS: a veth's peer backlog was full; resending it would repeat
//! the copies already delivered on the way), the emulated switch could not read or send a frame
//! in time (its own counters), or a CPU's input backlog dropped frames (/proc/net/softnet_stat). Such a pass is run again at half the pace, up to `PASS_ATTEMPTS`
//! times, as happens on slow or emulated machines; the result records how many passes were
//! repeated. Matrix frames carry the test payload right after the
//! Ethernet header (IEEE local experimental EtherType 0x88B5): their class is their destination
//! MAC and tag, nothing else. A station of a tagged-frame network puts its VLAN's tag outermost
//! on everything it sends, the priming frame included, and counts only frames whose outer tag is
//! its VLAN's (as the `PARENT.VID` sub-interface it stands in for would).

use std::collections::HashMap;
use std::time::Duration;

use super::kstat::{self, Softnet};
use super::{Bench, MeasureError};
use crate::addr::MacAddr;
use crate::delivery::{
    Addressing, Cell, FdbEntry, MatrixResult, MatrixSpec, Promiscuity, UNKNOWN_UNICAST_MAC,
};
use crate::engine::rx::{self, Capture, CaptureHandle, CaptureReport, CaptureSpec};
use crate::engine::tx::{self, FlowSpec, SendPlan};
use crate::engine::wire::VlanTag;
use crate::model;
use crate::scenario::{HOST_NODE, MatrixTest, Role, SWITCH_NODE, Scenario, Station, Switch};
use crate::switch::DropReason;
use crate::units::Rate;

/// Every frame of a matrix is this long (the Ethernet minimum without FCS).
const FRAME_LEN: usize = 60;
/// Matrix senders' pace, in copies the kernel makes per second: each frame gets a slot as long
/// as its copies take at this pace (the model's count over the whole lab: a broadcast to 1,000
/// bridge-mode siblings takes 1,000 unicasts' time), one frame after another. Far below what an
/// input backlog (`netdev_max_backlog`, 1000 frames per CPU), a macvlan broadcast queue (1000)
/// or a capture ring could be overrun by, so a missing frame means the path dropped it.
const PACE_COPIES: f64 = 20_000.0;
/// The longest the kernel gets to finish delivering (macvlan's broadcast work queue, the
/// bridge, the backlogs) after the last frame is sent; the pass waits only until every capture
/// has been quiet for a while (`rx::settle`).
const DRAIN_MAX: Duration = Duration::from_secs(10);
/// The class index that marks priming frames in a flow id.
const PRIMING_CLASS: u32 = 15;
/// The destination index of every class with a fixed destination.
const NO_DESTINATION: u32 = 0xffff;
/// How often a pass is tried, each time at half the pace, before a machine that keeps dropping
/// frames fails the test.
const PASS_ATTEMPTS: u32 = 4;
/// Each capture's ring: many small blocks, so a receiving thread that is not scheduled for a
/// while (each block is handed over when full or after its timeout) loses nothing.
const RING_BLOCK_SIZE: usize = 1 << 15;
const RING_BLOCKS: usize = 64;
/// Flow ids hold 12 bits of sender, 4 of class and 16 of destination.
const MAX_SENDERS: usize = 1 << 12;

/// A flow id: who sent it, in which class, to whom.
fn flow_id(sender: usize, class: usize, destination: u32) -> u32 {
    ((sender as u32) << 20) | ((class as u32) << 16) | destination
}

/// Spaces `flows` one frame after another, each frame of flow `i` followed by `slots[i]`
/// seconds: the flows take turns, every flow's next frame one round of all the slots later.
fn interleave(flows: &mut [FlowSpec], slots: &[f64]) {
    let round: f64 = slots.iter().sum();
    let mut start = 0.0;
    for (flow, slot) in flows.iter_mut().zip(slots) {
        flow.start = Duration::from_secs_f64(start);
        flow.rate = Rate::Pps(1.0 / round);
        start += slot;
    }
}

/// The stations that send when a test names none: every station but the host's parents.
pub fn default_senders(scenario: &Scenario) -> Vec<Station> {
    scenario
        .stations()
        .into_iter()
        .filter(|s| {
            !(s.role == Role::Host && scenario.parents.iter().any(|p| p.name == s.interface))
        })
        .collect()
}

fn pick(all: &[Station], names: &[String], default: Vec<Station>) -> Vec<Station> {
    if names.is_empty() {
        default
    } else {
        all.iter()
            .filter(|s| names.contains(&s.name))
            .cloned()
            .collect()
    }
}

pub fn measure(bench: &Bench, name: &str, test: &MatrixTest) -> Result<MatrixResult, MeasureError> {
    let all = bench.scenario.stations();
    let senders = pick(&all, &test.senders, default_senders(bench.scenario));
    let receivers = pick(&all, &test.receivers, all.clone());
    if senders.len() > MAX_SENDERS || receivers.len() >= NO_DESTINATION as usize {
        return Err(MeasureError::Engine(crate::engine::EngineError::BadSpec(
            format!(
                "a matrix holds at most {MAX_SENDERS} senders and {} receivers; name fewer in `senders`/`receivers`",
                NO_DESTINATION - 1
            ),
        )));
    }
    bench.lab.await_ipv6_background(bench.stop)?;
    bench.check_stop()?;
    let mut result = MatrixResult {
        name: name.to_string(),
        spec: test.spec.clone(),
        senders: senders.iter().map(|s| s.name.clone()).collect(),
        receivers: receivers.iter().map(|s| s.name.clone()).collect(),
        cells: Vec::new(),
        promiscuity: Vec::new(),
        fdb: Vec::new(),
        passes_repeated: 0,
    };
    for &promiscuous in &test.spec.promiscuous {
        let pass = Pass {
            bench,
            name,
            spec: &test.spec,
            senders: &senders,
            receivers: &receivers,
            promiscuous,
            copies: model::frame_copies(bench.scenario, test, promiscuous).ok(),
        };
        let mut attempt = 1;
        let outcome = loop {
            bench.check_stop()?;
            let pace = PACE_COPIES / f64::from(1u32 << (attempt - 1));
            let outcome = pass.run(pace)?;
            match outcome.disturbance() {
                None => break outcome,
                Some(why) if attempt == PASS_ATTEMPTS => {
                    return Err(MeasureError::Overloaded {
                        test: name.to_string(),
                        why,
                        attempts: attempt,
                    });
                }
                Some(why) => {
                    (bench.progress)(&format!(
                        "{name}: {} pass again, slower: {why}",
                        pass.label()
                    ));
                    result.passes_repeated += 1;
                    attempt += 1;
                }
            }
        };
        result.cells.extend(pass.cells(&outcome.reports));
        result.promiscuity.extend(outcome.promiscuity);
        result.fdb.extend(outcome.fdb);
    }
    Ok(result)
}

/// What one run of a pass saw: each receiver's capture, the state read before the captures
/// stopped, and the signs that the machine lost frames of its own accord.
struct PassOutcome<'a> {
    receivers: &'a [Station],
    reports: Vec<CaptureReport>,
    promiscuity: Vec<Promiscuity>,
    fdb: Vec<FdbEntry>,
    /// Frames the kernel refused at send, by sender.
    refused: Vec<(String, u64)>,
    /// The input backlogs' drops during the pass.
    backlog: Softnet,
    /// Frames the emulated switch lost during the pass because its sockets' queues were full.
    switch_lost: u64,
}

impl PassOutcome<'_> {
    /// Why this pass's counts cannot be trusted, if they cannot.
    fn disturbance(&self) -> Option<String> {
        if let Some((s, r)) = self
            .receivers
            .iter()
            .zip(&self.reports)
            .find(|(_, r)| r.kernel.drops > 0)
        {
            return Some(format!(
                "the capture at {} lost {} frame(s) in its ring",
                s.name, r.kernel.drops
            ));
        }
        if let Some((s, n)) = self.refused.iter().find(|(_, n)| *n > 0) {
            return Some(format!(
                "the kernel refused {n} frame(s) from {s} at send (a queue on the way was full)"
            ));
        }
        if self.switch_lost > 0 {
            return Some(format!(
                "the emulated switch lost {} frame(s) it could not read or send in time",
                self.switch_lost
            ));
        }
        (self.backlog.dropped > 0).then(|| {
            format!(
                "the input backlog dropped {} frame(s) (/proc/net/softnet_stat)",
                self.backlog.dropped
            )
        })
    }
}

/// One pass of the matrix, promiscuous or not.
struct Pass<'a> {
    bench: &'a Bench<'a>,
    name: &'a str,
    spec: &'a MatrixSpec,
    senders: &'a [Station],
    receivers: &'a [Station],
    promiscuous: bool,
    /// The copies each frame makes, by the model; without a model each frame counts as one.
    copies: Option<model::FrameCopies>,
}

impl Pass<'_> {
    fn label(&self) -> &'static str {
        if self.promiscuous {
            "promiscuous"
        } else {
            "not-promiscuous"
        }
    }

    /// Captures, primes, sends at `pace` copies per second, and reads the state.
    fn run(&self, pace: f64) -> Result<PassOutcome<'_>, MeasureError> {
        let bench = self.bench;
        (bench.progress)(&format!(
            "{}: {} pass, capturing on {} stations",
            self.name,
            self.label(),
            self.receivers.len()
        ));
        let mut captures: Vec<CaptureHandle> = Vec::with_capacity(self.receivers.len());
        for r in self.receivers {
            let spec = CaptureSpec {
                promiscuous: self.promiscuous,
                pcap: bench.pcap_path(&format!("{}-{}", self.name, self.label()), &r.name),
                ring_block_size: RING_BLOCK_SIZE,
                ring_blocks: RING_BLOCKS,
                ..CaptureSpec::default()
            };
            captures.push(Capture::start(&bench.attach(r)?, spec, bench.stop)?);
        }
        let mut outcome = PassOutcome {
            receivers: self.receivers,
            reports: Vec::new(),
            promiscuity: Vec::new(),
            fdb: Vec::new(),
            refused: Vec::new(),
            backlog: Softnet::default(),
            switch_lost: 0,
        };
        let backlog = kstat::softnet();
        let switch_lost = self.switch_losses()?;
        let listening: Vec<&CaptureHandle> = captures.iter().collect();
        let sent = self
            .prime(&mut outcome.refused, &listening)
            .and_then(|()| self.send_all(pace, &mut outcome.refused));
        rx::settle(&listening, DRAIN_MAX, self.bench.stop);
        outcome.backlog = kstat::softnet().since(&backlog);
        outcome.switch_lost = self.switch_losses()? - switch_lost;
        let state = sent.and_then(|()| self.read_state(&mut outcome));
        let reports: Result<Vec<CaptureReport>, MeasureError> = captures
            .into_iter()
            .map(|c| c.stop().map_err(MeasureError::from))
            .collect();
        state?;
        outcome.reports = reports?;
        Ok(outcome)
    }

    /// The frames the emulated switch lost so far of its own accord (a socket's queue full on
    /// receive or send), over every port; 0 for a lab without one.
    fn switch_losses(&self) -> Result<u64, MeasureError> {
        let report = self.bench.lab.switch_report()?;
        Ok(report.map_or(0, |r| {
            r.ports
                .iter()
                .map(|p| p.drops(DropReason::RxOverrun) + p.drops(DropReason::EgressFailed))
                .sum()
        }))
    }

    /// Sends `flows` from `from`, noting in `refused` how often the kernel refused a frame.
    fn send(
        &self,
        from: &Station,
        flows: Vec<FlowSpec>,
        refused: &mut Vec<(String, u64)>,
    ) -> Result<(), MeasureError> {
        let mut plan = SendPlan::new(flows);
        plan.qdisc_bypass = false;
        let report = tx::send(&self.bench.attach(from)?, &plan, self.bench.stop)?;
        refused.push((from.name.clone(), report.retries));
        self.bench.check_stop()
    }

    /// One frame from each sender, in station order, to a MAC nobody owns: the bridge learns
    /// every sender before any test frame (as the model assumes).
    fn prime(
        &self,
        refused: &mut Vec<(String, u64)>,
        listening: &[&CaptureHandle],
    ) -> Result<(), MeasureError> {
        for (s, from) in self.senders.iter().enumerate() {
            let mut flow = FlowSpec::new(
                flow_id(s, PRIMING_CLASS as usize, NO_DESTINATION),
                UNKNOWN_UNICAST_MAC,
                FRAME_LEN,
                Some(1),
            );
            flow.tags = self.tags(from, None);
            self.send(from, vec![flow], refused)?;
        }
        rx::settle(listening, DRAIN_MAX, self.bench.stop);
        Ok(())
    }

    /// The 802.1Q tags a frame from `from` carries, outermost first: the station's own VLAN
    /// in tagged-frame mode, then the class's tag.
    fn tags(&self, from: &Station, class_vlan: Option<u16>) -> Vec<VlanTag> {
        self.bench
            .scenario
            .frame_vlan(&from.name)
            .into_iter()
            .chain(class_vlan)
            .map(|vid| VlanTag {
                tpid: 0x8100,
                pcp: 0,
                dei: false,
                vid,
            })
            .collect()
    }

    fn send_all(&self, pace: f64, refused: &mut Vec<(String, u64)>) -> Result<(), MeasureError> {
        for (s, from) in self.senders.iter().enumerate() {
            (self.bench.progress)(&format!(
                "{}: {} pass, {} sends",
                self.name,
                self.label(),
                from.name
            ));
            let mut flows = Vec::new();
            let mut slots = Vec::new();
            for (c, class) in self.spec.classes.iter().enumerate() {
                let destinations: Vec<(u32, MacAddr, &str)> =
                    match class.addressing.fixed_destination() {
                        Some(mac) => vec![(NO_DESTINATION, mac, "")],
                        None => self
                            .receivers
                            .iter()
                            .enumerate()
                            .filter(|(_, r)| r.name != from.name)
                            .map(|(d, r)| (d as u32, r.mac, r.name.as_str()))
                            .collect(),
                    };
                for (d, mac, to) in destinations {
                    let mut flow = FlowSpec::new(
                        flow_id(s, c, d),
                        mac,
                        FRAME_LEN,
                        Some(u64::from(self.spec.frames)),
                    );
                    flow.tags = self.tags(from, class.tagged.then_some(self.spec.vlan));
                    flows.push(flow);
                    let copies = self
                        .copies
                        .as_ref()
                        .and_then(|m| m.get(&from.name, *class, to));
                    slots.push(f64::from(copies.unwrap_or(1).max(1)) / pace);
                }
            }
            if !flows.is_empty() {
                interleave(&mut flows, &slots);
                self.send(from, flows, refused)?;
            }
        }
        Ok(())
    }

    /// Promiscuity of each parent and switch port, and the bridge's learned table, read while
    /// the pass's sockets are still open.
    fn read_state(&self, result: &mut PassOutcome) -> Result<(), MeasureError> {
        let scenario = self.bench.scenario;
        let lab = self.bench.lab;
        let parents: Vec<&str> = scenario.parents.iter().map(|p| p.name.as_str()).collect();
        for link in lab
            .links(HOST_NODE)?
            .into_iter()
            .filter(|l| parents.contains(&l.name.as_str()))
        {
            result.promiscuity.push(Promiscuity {
                promiscuous_pass: self.promiscuous,
                device: format!("{HOST_NODE}:{}", link.name),
                promiscuity: link.promiscuity,
            });
        }
        if !scenario.switch.has_ports() {
            return Ok(());
        }
        let mut ports: Vec<String> = scenario
            .parents
            .iter()
            .map(|p| p.port.name.clone())
            .chain(scenario.peers.iter().map(|p| p.port.name.clone()))
            .collect();
        ports.retain(|p| !p.is_empty());
        for link in lab
            .links(SWITCH_NODE)?
            .into_iter()
            .filter(|l| ports.contains(&l.name))
        {
            result.promiscuity.push(Promiscuity {
                promiscuous_pass: self.promiscuous,
                device: format!("{SWITCH_NODE}:{}", link.name),
                promiscuity: link.promiscuity,
            });
        }
        let owners: HashMap<MacAddr, String> = scenario
            .stations()
            .into_iter()
            .map(|s| (s.mac, s.name))
            .collect();
        for (port, mac) in lab.learned_fdb(SWITCH_NODE)? {
            if matches!(&scenario.switch, Switch::Bridge(b) if port == b.name) {
                continue;
            }
            result.fdb.push(FdbEntry {
                promiscuous_pass: self.promiscuous,
                port,
                mac: mac.to_string(),
                station: owners.get(&mac).cloned(),
            });
        }
        Ok(())
    }

    /// The cells of this pass: per class, per sender, per receiver.
    fn cells(&self, reports: &[CaptureReport]) -> Vec<Cell> {
        let received: Vec<HashMap<u32, u64>> = reports
            .iter()
            .zip(self.receivers)
            .map(|(r, to)| {
                let vlan = self.bench.scenario.frame_vlan(&to.name);
                r.received
                    .flows
                    .iter()
                    .map(|f| {
                        let counted = match vlan {
                            None => f.received,
                            Some(vid) => f
                                .tags
                                .iter()
                                .filter(|t| t.tags.as_slice().first().is_some_and(|o| o.vid == vid))
                                .map(|t| t.frames)
                                .sum(),
                        };
                        (f.flow, counted)
                    })
                    .collect()
            })
            .collect();
        let mut cells = Vec::new();
        for (c, class) in self.spec.classes.iter().enumerate() {
            for (s, from) in self.senders.iter().enumerate() {
                for (d, to) in self.receivers.iter().enumerate() {
                    if to.name == from.name {
                        continue;
                    }
                    let got = &received[d];
                    let count = |dest: u32| got.get(&flow_id(s, c, dest)).copied().unwrap_or(0);
                    let (arrived, leaked) = match class.addressing {
                        Addressing::Unicast => {
                            let leaked = (0..self.receivers.len() as u32)
                                .filter(|&o| o != d as u32)
                                .map(count)
                                .sum();
                            (count(d as u32), leaked)
                        }
                        _ => (count(NO_DESTINATION), 0),
                    };
                    cells.push(Cell {
                        from: from.name.clone(),
                        to: to.name.clone(),
                        class: *class,
                        promiscuous: self.promiscuous,
                        sent: u64::from(self.spec.frames),
                        received: arrived,
                        leaked,
                        expected: None,
                        expected_leaked: None,
                    });
                }
            }
        }
        cells
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Flows take turns: each starts when the slots before it end, and comes round again after
    /// every flow's slot.
    #[test]
    fn interleaved_flows_take_turns_by_their_slots() {
        let mut flows: Vec<FlowSpec> = (0..3)
            .map(|i| FlowSpec::new(i, MacAddr::BROADCAST, FRAME_LEN, Some(2)))
            .collect();
        interleave(&mut flows, &[0.001, 0.05, 0.001]);
        let starts: Vec<Duration> = flows.iter().map(|f| f.start).collect();
        assert_eq!(
            starts,
            [
                Duration::ZERO,
                Duration::from_millis(1),
                Duration::from_millis(51)
            ]
        );
        for f in &flows {
            let Rate::Pps(p) = f.rate else {
                panic!("{:?}", f.rate)
            };
            assert!((1.0 / p - 0.052).abs() < 1e-12, "{p}");
        }
    }
}

//! The delivery and leak matrix (see `delivery` for what a cell counts): every sender sends every
//! frame class, every receiver captures, once without and once with promiscuous sockets; plus the
//! state around it (promiscuity of each parent and bridge port, what the bridge learned).
//!
//! How a pass runs: captures start on every receiver (they listen before anything is sent); the
//! switch is primed (each sender, in station order, sends one frame to `UNKNOWN_UNICAST_MAC`);
//! each sender then sends its flows, one per class and destination; after the kernel has
//! drained, the promiscuity counters and the bridge's table are read while the sockets still
//! hold their state, and the captures stop. Matrix frames carry the test payload right after the
//! Ethernet header (IEEE local experimental EtherType 0x88B5): their class is their destination
//! MAC and tag, nothing else. A station of a tagged-frame network puts its VLAN's tag outermost
//! on everything it sends, the priming frame included, and counts only frames whose outer tag is
//! its VLAN's (as the `PARENT.VID` sub-interface it stands in for would).

use std::collections::HashMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{Bench, MeasureError};
use crate::addr::MacAddr;
use crate::delivery::{Addressing, Cell, MatrixSpec, UNKNOWN_UNICAST_MAC};
use crate::engine::rx::{Capture, CaptureHandle, CaptureReport, CaptureSpec};
use crate::engine::tx::{self, FlowSpec, Rate as TxRate, SendPlan};
use crate::engine::wire::VlanTag;
use crate::scenario::{HOST_NODE, MatrixTest, Role, SWITCH_NODE, Scenario, Station, Switch};

/// A device's promiscuity counter during a pass (`ip -d link`'s `promiscuity`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Promiscuity {
    pub promiscuous_pass: bool,
    /// `node:interface`, e.g. `host:eth0`, `switch:p0`.
    pub device: String,
    pub promiscuity: u32,
}

/// A learned entry of the bridge's forwarding table after a pass.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FdbEntry {
    pub promiscuous_pass: bool,
    pub port: String,
    pub mac: String,
    /// The station owning the MAC, when it is one of the lab's.
    pub station: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MatrixResult {
    pub name: String,
    pub spec: MatrixSpec,
    /// The stations that sent, in station order.
    pub senders: Vec<String>,
    /// The stations that captured, in station order.
    pub receivers: Vec<String>,
    pub cells: Vec<Cell>,
    pub promiscuity: Vec<Promiscuity>,
    pub fdb: Vec<FdbEntry>,
}

/// Every frame of a matrix is this long (the Ethernet minimum without FCS).
const FRAME_LEN: usize = 60;
/// Matrix senders' pace: far below what a macvlan broadcast queue (1000 frames) or a capture
/// ring could be overrun by, so a missing frame means the path dropped it.
const PACE_PPS: f64 = 20_000.0;
/// How long the kernel gets to finish delivering (macvlan's broadcast work queue, the bridge)
/// after the last frame is sent.
const DRAIN: Duration = Duration::from_millis(150);
/// The class index that marks priming frames in a flow id.
const PRIMING_CLASS: u32 = 15;
/// The destination index of every class with a fixed destination.
const NO_DESTINATION: u32 = 0xffff;
/// Flow ids hold 12 bits of sender, 4 of class and 16 of destination.
const MAX_SENDERS: usize = 1 << 12;

/// A flow id: who sent it, in which class, to whom.
fn flow_id(sender: usize, class: usize, destination: u32) -> u32 {
    ((sender as u32) << 20) | ((class as u32) << 16) | destination
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
    let mut result = MatrixResult {
        name: name.to_string(),
        spec: test.spec.clone(),
        senders: senders.iter().map(|s| s.name.clone()).collect(),
        receivers: receivers.iter().map(|s| s.name.clone()).collect(),
        cells: Vec::new(),
        promiscuity: Vec::new(),
        fdb: Vec::new(),
    };
    for &promiscuous in &test.spec.promiscuous {
        bench.check_stop()?;
        let pass = Pass {
            bench,
            name,
            spec: &test.spec,
            senders: &senders,
            receivers: &receivers,
            promiscuous,
        };
        let reports = pass.run(&mut result)?;
        result.cells.extend(pass.cells(&reports));
    }
    Ok(result)
}

/// One pass of the matrix, promiscuous or not.
struct Pass<'a> {
    bench: &'a Bench<'a>,
    name: &'a str,
    spec: &'a MatrixSpec,
    senders: &'a [Station],
    receivers: &'a [Station],
    promiscuous: bool,
}

impl Pass<'_> {
    fn label(&self) -> &'static str {
        if self.promiscuous {
            "promiscuous"
        } else {
            "not-promiscuous"
        }
    }

    /// Captures, primes, sends and reads the state; returns each receiver's capture report.
    fn run(&self, result: &mut MatrixResult) -> Result<Vec<CaptureReport>, MeasureError> {
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
                ring_block_size: 1 << 18,
                ring_blocks: 8,
                ..CaptureSpec::default()
            };
            captures.push(Capture::start(&bench.attach(r)?, spec)?);
        }
        let sent = self.prime().and_then(|()| self.send_all());
        std::thread::sleep(DRAIN);
        let state = sent.and_then(|()| self.read_state(result));
        let reports: Result<Vec<CaptureReport>, MeasureError> = captures
            .into_iter()
            .map(|c| c.stop().map_err(MeasureError::from))
            .collect();
        state?;
        reports
    }

    fn send(&self, from: &Station, flows: Vec<FlowSpec>) -> Result<(), MeasureError> {
        let mut plan = SendPlan::new(flows);
        plan.qdisc_bypass = false;
        tx::send(&self.bench.attach(from)?, &plan, Some(self.bench.stop))?;
        self.bench.check_stop()
    }

    /// One frame from each sender, in station order, to a MAC nobody owns: the bridge learns
    /// every sender before any test frame (as the model assumes).
    fn prime(&self) -> Result<(), MeasureError> {
        for (s, from) in self.senders.iter().enumerate() {
            let mut flow = FlowSpec::new(
                flow_id(s, PRIMING_CLASS as usize, NO_DESTINATION),
                UNKNOWN_UNICAST_MAC,
                FRAME_LEN,
                Some(1),
            );
            flow.tags = self.tags(from, None);
            self.send(from, vec![flow])?;
        }
        std::thread::sleep(DRAIN);
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

    fn send_all(&self) -> Result<(), MeasureError> {
        for (s, from) in self.senders.iter().enumerate() {
            (self.bench.progress)(&format!(
                "{}: {} pass, {} sends",
                self.name,
                self.label(),
                from.name
            ));
            let mut flows = Vec::new();
            for (c, class) in self.spec.classes.iter().enumerate() {
                let destinations: Vec<(u32, MacAddr)> = match class.addressing.fixed_destination() {
                    Some(mac) => vec![(NO_DESTINATION, mac)],
                    None => self
                        .receivers
                        .iter()
                        .enumerate()
                        .filter(|(_, r)| r.name != from.name)
                        .map(|(d, r)| (d as u32, r.mac))
                        .collect(),
                };
                for (d, mac) in destinations {
                    let mut flow = FlowSpec::new(
                        flow_id(s, c, d),
                        mac,
                        FRAME_LEN,
                        Some(u64::from(self.spec.frames)),
                    );
                    flow.rate = TxRate::Pps(PACE_PPS);
                    flow.tags = self.tags(from, class.tagged.then_some(self.spec.vlan));
                    flows.push(flow);
                }
            }
            if !flows.is_empty() {
                self.send(from, flows)?;
            }
        }
        Ok(())
    }

    /// Promiscuity of each parent and switch port, and the bridge's learned table, read while
    /// the pass's sockets are still open.
    fn read_state(&self, result: &mut MatrixResult) -> Result<(), MeasureError> {
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

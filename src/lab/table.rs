//! The switch's forwarding table and port counters as measurements read them: how many addresses
//! it learned, its limit, each port's counters and drops, and forgetting what it learned between
//! trials. This is the one lab-level seam the exhaustion tests use, so they work unchanged
//! against any switch the lab builds: a Linux bridge in the `switch` namespace (read and flushed
//! over rtnetlink) or the emulated switch (read from its report; it takes no flush request, so
//! forgetting waits for its entries to age out). It never builds or runs a switch (that is
//! `build` and `forwarder`) and never decides what a count means (that is `measure`).

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::rtnl::{LinkState, Request};
use super::{Lab, LabError};
use crate::scenario::SWITCH_NODE;
use crate::stop::Stop;
use crate::switch::{EntryKind, SwitchReport};

/// The longest ageing time forgetting an emulated switch's table may wait out.
const MAX_AGEING_WAIT: u32 = 10;
/// How often an ageing table is looked at.
const AGEING_POLL: Duration = Duration::from_millis(200);
/// What the emulated switch's ageing may take past `ageing_time` (it ages once a second).
const AGEING_SLACK: Duration = Duration::from_secs(3);

/// The switch's forwarding table and ports at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SwitchTable {
    /// The switch device, `switch:br0`.
    pub device: String,
    /// Addresses it learned: a bridge's IFLA_BR_FDB_N_LEARNED (static and local entries do not
    /// count), or on kernels that do not report it (before 6.7) its dynamic entries as an FDB
    /// dump lists them.
    pub learned: u32,
    /// Its limit on learned addresses (`fdb_max_learned`); `None` when unlimited.
    pub limit: Option<u32>,
    pub ports: Vec<PortCounters>,
}

/// One switch port's counters, as the kernel keeps them for the port's device.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortCounters {
    /// `switch:p0`.
    pub port: String,
    pub rx_packets: u64,
    pub tx_packets: u64,
    pub rx_dropped: u64,
    pub tx_dropped: u64,
}

impl PortCounters {
    fn of(link: &LinkState) -> PortCounters {
        PortCounters {
            port: format!("{SWITCH_NODE}:{}", link.name),
            rx_packets: link.rx_packets,
            tx_packets: link.tx_packets,
            rx_dropped: link.rx_dropped,
            tx_dropped: link.tx_dropped,
        }
    }
}

/// The entries an emulated switch learned (dynamic and sticky ones; static ones are not learned).
fn learned_entries(report: &SwitchReport) -> u32 {
    report
        .table
        .iter()
        .filter(|e| e.kind != EntryKind::Static)
        .count() as u32
}

impl Lab {
    /// The emulated switch's table and ports, as a `SwitchTable`.
    fn emulated_table(&self, report: &SwitchReport) -> SwitchTable {
        SwitchTable {
            device: format!("{SWITCH_NODE}:emulated"),
            learned: learned_entries(report),
            limit: self.switch_config.as_ref().and_then(|c| c.fdb_max_learned),
            ports: report
                .ports
                .iter()
                .map(|p| PortCounters {
                    port: format!("{SWITCH_NODE}:{}", p.name),
                    rx_packets: p.rx_frames,
                    tx_packets: p.tx_frames,
                    rx_dropped: p.drops.iter().map(|d| d.frames).sum(),
                    tx_dropped: 0,
                })
                .collect(),
        }
    }

    /// The switch device (a bridge) and its ports, by interface name; `None` without a switch.
    fn switch_devices(&self) -> Option<(String, Vec<String>)> {
        let node = self.node(SWITCH_NODE)?;
        let interfaces = &node.inventory.interfaces;
        let bridge = interfaces.iter().find(|i| i.kind == "bridge")?;
        let ports = interfaces
            .iter()
            .filter(|i| i.kind != "bridge")
            .map(|i| i.name.clone())
            .collect();
        Some((bridge.name.clone(), ports))
    }

    /// The switch's learned-address count, limit and port counters; `None` when the lab has
    /// no switch (a bare wire).
    pub fn switch_table(&self) -> Result<Option<SwitchTable>, LabError> {
        if let Some(report) = self.switch_report()? {
            return Ok(Some(self.emulated_table(&report)));
        }
        let Some((bridge, ports)) = self.switch_devices() else {
            return Ok(None);
        };
        let links = self.links(SWITCH_NODE)?;
        let Some(device) = links.iter().find(|l| l.name == bridge) else {
            return Ok(None);
        };
        let learned = match device.fdb_learned {
            Some(n) => n,
            None => self
                .learned_fdb(SWITCH_NODE)?
                .iter()
                .filter(|(port, _)| *port != bridge)
                .count() as u32,
        };
        Ok(Some(SwitchTable {
            device: format!("{SWITCH_NODE}:{bridge}"),
            learned,
            limit: device.fdb_max_learned.filter(|&m| m > 0),
            ports: links
                .iter()
                .filter(|l| ports.contains(&l.name))
                .map(PortCounters::of)
                .collect(),
        }))
    }

    /// Makes the switch forget every address it learned (static entries stay); nothing to do
    /// without a switch. A bridge flushes at once; the emulated switch forgets as its entries
    /// age, so this waits for that (refused when its ageing time is long). The wait ends early,
    /// with the table maybe not yet empty, when `stop` is requested: the caller stops then.
    pub fn flush_switch_table(&self, stop: &Stop) -> Result<(), LabError> {
        if let Some(config) = &self.switch_config {
            if config.ageing_time > MAX_AGEING_WAIT {
                return Err(LabError::bad(
                    format!(
                        "the emulated switch forgets learned addresses only as they age, and its ageing_time is {} s",
                        config.ageing_time
                    ),
                    format!(
                        "set [switch] ageing_time to at most {MAX_AGEING_WAIT} for address tests"
                    ),
                ));
            }
            let deadline = Duration::from_secs(u64::from(config.ageing_time)) + AGEING_SLACK;
            let started = Instant::now();
            while !stop.requested() {
                let learned = self.switch_report()?.map_or(0, |r| learned_entries(&r));
                if learned == 0 {
                    return Ok(());
                }
                if started.elapsed() > deadline {
                    return Err(LabError::bad(
                        format!(
                            "the emulated switch still holds {learned} learned addresses {:.0} s after they should have aged out",
                            deadline.as_secs_f64()
                        ),
                        "something keeps sending from them; stop that traffic during address tests",
                    ));
                }
                stop.sleep(AGEING_POLL);
            }
            return Ok(());
        }
        let Some((bridge, _)) = self.switch_devices() else {
            return Ok(());
        };
        self.query(SWITCH_NODE, async |socket| {
            let Some(link) = socket.link(&bridge).await? else {
                return Ok(());
            };
            socket
                .run(Request::flush_bridge_fdb(
                    link.index,
                    format!("flushing the forwarding table of {bridge}"),
                ))
                .await
        })
    }
}

//! The switch's forwarding table and port counters as measurements read them: how many addresses
//! it learned, its limit, each port's counters and drops, and forgetting what it learned between
//! trials. This is the one lab-level seam the exhaustion tests use, so they work unchanged
//! against any switch the lab builds: today a Linux bridge in the `switch` namespace (read and
//! flushed over rtnetlink); another kind of switch answers the same two calls. It never builds a
//! switch (that is `build`) and never decides what a count means (that is `measure`).

use serde::{Deserialize, Serialize};

use super::rtnl::{LinkState, Request};
use super::{Lab, LabError};
use crate::scenario::SWITCH_NODE;

/// The switch's forwarding table and ports at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SwitchTable {
    /// The switch device, `switch:br0`.
    pub device: String,
    /// Addresses it learned (a bridge's IFLA_BR_FDB_N_LEARNED: static and local entries do
    /// not count).
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

impl Lab {
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
        let Some((bridge, ports)) = self.switch_devices() else {
            return Ok(None);
        };
        let links = self.links(SWITCH_NODE)?;
        let Some(device) = links.iter().find(|l| l.name == bridge) else {
            return Ok(None);
        };
        Ok(Some(SwitchTable {
            device: format!("{SWITCH_NODE}:{bridge}"),
            learned: device.fdb_learned.unwrap_or(0),
            limit: device.fdb_max_learned.filter(|&m| m > 0),
            ports: links
                .iter()
                .filter(|l| ports.contains(&l.name))
                .map(PortCounters::of)
                .collect(),
        }))
    }

    /// Makes the switch forget every address it learned (static entries stay); nothing to do
    /// without a switch.
    pub fn flush_switch_table(&self) -> Result<(), LabError> {
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

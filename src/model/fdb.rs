//! The switch's state that a walk carries from frame to frame: the Linux bridge's forwarding
//! table (`Fdb`, learned entries in learning order, and the sources `fdb_max_learned` refused)
//! and, for the emulated switch and a VLAN-filtering bridge, the VLAN-keyed table, shut-down
//! ports and the learning rate's tokens (`EmulatedState`). Plain data: the rules that change it
//! are in `switch` and `emulated`.

use std::collections::HashMap;

use crate::addr::MacAddr;
use crate::model::fabric::PortId;

/// The bridge's forwarding table: learned entries only (the bridge's own local entries are
/// never a test frame's destination).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fdb {
    pub(super) entries: HashMap<MacAddr, PortId>,
    /// Learned MACs in learning order.
    pub(super) order: Vec<MacAddr>,
    /// Source MACs refused because `fdb_max_learned` was reached, with the port they came in on.
    pub(super) refused: Vec<(MacAddr, PortId)>,
    /// The emulated switch's own state (VLAN-keyed entries, shut-down ports).
    pub(super) emulated: EmulatedState,
}

impl Fdb {
    pub fn lookup(&self, mac: MacAddr) -> Option<PortId> {
        self.entries.get(&mac).copied()
    }

    /// Learned entries in learning order.
    pub fn entries(&self) -> impl Iterator<Item = (MacAddr, PortId)> + '_ {
        self.order.iter().map(|m| (*m, self.entries[m]))
    }

    pub fn refused(&self) -> &[(MacAddr, PortId)] {
        &self.refused
    }
}

/// What the model remembers of the emulated switch between frames.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EmulatedState {
    /// Learned entries by (VLAN, MAC).
    pub(super) table: HashMap<(u16, MacAddr), PortId>,
    /// Ports stopped by a shutdown violation.
    pub(super) shut_down: Vec<PortId>,
    /// New entries the learning rate still allows (`None` until first used).
    pub(super) tokens: Option<u32>,
}

impl EmulatedState {
    pub(super) fn learned_on(&self, port: PortId) -> u32 {
        self.table.values().filter(|&&p| p == port).count() as u32
    }

    pub(super) fn is_shut_down(&self, port: PortId) -> bool {
        self.shut_down.contains(&port)
    }
}

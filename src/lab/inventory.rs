//! The lab inventory: what a built lab is made of, as plain data that `lab up --json`, `lab ls
//! --json`, the registry and later tools (the frame engine's `--lab X --node e1`) all read. Owns the
//! JSON names documented in the README (`lab`, `nodes[].name/role/netns/interfaces[]`, each
//! interface's `name/mac/ipv4/ipv6/mode/vlan`, plus `index`, `kind`, `link`, `network`). It is
//! filled by `build` from the plan and the kernel; it never talks to the kernel itself.

use ipnetwork::{Ipv4Network, Ipv6Network};
use serde::{Deserialize, Serialize};

use crate::addr::MacAddr;
use crate::scenario::{MacvlanMode, Role};

/// Every node of a lab and its interfaces.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inventory {
    /// The lab's name (namespaces are `<prefix>-<lab>-<node>`).
    pub lab: String,
    pub prefix: String,
    /// The scenario it was built from.
    pub scenario: String,
    pub nodes: Vec<NodeInventory>,
}

/// One node: a namespace and the lab interfaces in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeInventory {
    pub name: String,
    pub role: Role,
    /// The namespace name: `ip netns exec NETNS ...` works on a live lab.
    pub netns: String,
    pub interfaces: Vec<InterfaceInventory>,
}

/// One interface the lab made, as the kernel has it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InterfaceInventory {
    pub name: String,
    /// The ifindex inside the node's namespace.
    pub index: u32,
    /// `macvlan`, `veth`, `bridge`, `vlan` or `dummy`.
    pub kind: String,
    pub mac: MacAddr,
    /// Addresses with their prefix length, e.g. `198.18.0.2/24`.
    pub ipv4: Vec<Ipv4Network>,
    pub ipv6: Vec<Ipv6Network>,
    /// The macvlan mode of a macvlan interface.
    pub mode: Option<MacvlanMode>,
    /// The 802.1Q id the interface's frames carry on the wire (macvlans on a `PARENT.VID`
    /// sub-interface, and the sub-interfaces themselves).
    pub vlan: Option<u16>,
    /// The device this one sits on or is wired to, as `node:interface` (a macvlan's parent, a
    /// veth's other end).
    pub link: Option<String>,
    /// The scenario network it belongs to.
    pub network: Option<String>,
}

impl Inventory {
    pub fn node(&self, name: &str) -> Option<&NodeInventory> {
        self.nodes.iter().find(|n| n.name == name)
    }
}

impl NodeInventory {
    pub fn interface(&self, name: &str) -> Option<&InterfaceInventory> {
        self.interfaces.iter().find(|i| i.name == name)
    }
}

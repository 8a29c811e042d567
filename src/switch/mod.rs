//! The emulated switch: mvlab's own forwarder between the ports of a switch namespace, for the
//! switch behaviour a Linux bridge cannot show on this kernel (VLAN access and trunk ports, port
//! security, MAC table limits). Owns:
//! - `SwitchConfig`: what a scenario's `[switch] kind = "emulated"` and its ports ask for;
//! - `table`: the MAC table with its capacity, per-port limits, ageing and learning rate;
//! - `forward`: the forwarding decision of every frame, its counters and the event log;
//! - `frame`: what the switch reads of a frame's bytes on ingress and the header it writes on
//!   egress (`Received`);
//! - `datapath`: raw sockets on every port through the engine's socket layer, one thread
//!   entered into the switch namespace, batched receive and send (`Forwarder`);
//! - `report`: the counters, table and events as plain data (`SwitchReport`).
//!
//! It must not create or configure kernel objects (the lab does: the ports are veths it makes),
//! format output (reports do), or drop a frame without counting it under a `DropReason`.

mod datapath;
mod forward;
mod frame;
mod report;
mod table;

use serde::{Deserialize, Serialize};

use crate::diag::Outcome;
use crate::scenario::{Port, Scenario, Switch};

pub use datapath::Forwarder;
pub use forward::EVENT_LOG_SIZE;
pub use frame::Received;
pub use report::{
    DropCount, DropReason, EntryKind, Event, EventKind, PortReport, SwitchReport, TableEntry,
    VlanReport,
};

/// What the emulated switch is asked to be: its table settings and its ports in port order
/// (`p0`, `p1`, ...: the parents' ports, then the peers'). Plain data, kept in the lab's record
/// so that `mvlab switch serve` can run a persistent lab's switch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SwitchConfig {
    pub ageing_time: u32,
    pub fdb_max_learned: Option<u32>,
    pub learning_rate: Option<u32>,
    pub ports: Vec<Port>,
}

impl SwitchConfig {
    /// The emulated switch of `scenario`, when it has one.
    pub fn of(scenario: &Scenario) -> Option<SwitchConfig> {
        let Switch::Emulated(e) = &scenario.switch else {
            return None;
        };
        let ports = scenario
            .parents
            .iter()
            .map(|p| &p.port)
            .chain(scenario.peers.iter().map(|p| &p.port))
            .filter(|p| !p.name.is_empty())
            .cloned()
            .collect();
        Some(SwitchConfig {
            ageing_time: e.ageing_time,
            fdb_max_learned: e.fdb_max_learned,
            learning_rate: e.learning_rate,
            ports,
        })
    }
}

impl SwitchConfig {
    /// `ports` plain ports (learning, flooding, no hairpin, no VLANs or limits) and the
    /// bridge's default ageing time: a plain learning switch.
    pub fn plain(ports: usize) -> SwitchConfig {
        SwitchConfig {
            ageing_time: 300,
            fdb_max_learned: None,
            learning_rate: None,
            ports: vec![Port::default(); ports],
        }
    }
}

/// Why the forwarder could not run.
#[derive(Debug, thiserror::Error)]
pub enum SwitchError {
    #[error(
        "the emulated switch needs root for its raw sockets: run it as root: `{}`",
        crate::diag::sudo_line()
    )]
    NotRoot,
    #[error("the emulated switch has {0} ports; it forwards between at most {max}", max = datapath::MAX_PORTS)]
    TooManyPorts(usize),
    #[error("opening switch port `{port}`: {source}")]
    Port {
        port: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the emulated switch failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("the emulated switch's forwarding thread has stopped")]
    Stopped,
}

impl SwitchError {
    /// The exit code class of this error.
    pub fn outcome(&self) -> Outcome {
        match self {
            SwitchError::NotRoot | SwitchError::TooManyPorts(_) => Outcome::BadInput,
            _ => Outcome::RuntimeFailure,
        }
    }
}

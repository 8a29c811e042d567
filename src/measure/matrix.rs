//! The delivery and leak matrix (see `delivery` for what a cell counts): every sender sends every
//! frame class, every receiver captures, once without and once with promiscuous sockets; plus the
//! state around it (promiscuity of each parent and bridge port, what the bridge learned).

use serde::{Deserialize, Serialize};

use crate::delivery::{Cell, MatrixSpec};

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
    pub cells: Vec<Cell>,
    pub promiscuity: Vec<Promiscuity>,
    pub fdb: Vec<FdbEntry>,
}

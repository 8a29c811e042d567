//! Throughput tests: offered load against received rate for each frame size, with loss,
//! reordering and duplicates, per flow and per source MAC.

use serde::{Deserialize, Serialize};

use super::latency::loss_percent;

/// What one flow (one source MAC) delivered.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FlowCounts {
    pub flow: u32,
    pub source_mac: String,
    pub sent: u64,
    pub received: u64,
    pub reordered: u64,
    pub duplicates: u64,
}

/// One frame size's trial.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ThroughputPoint {
    /// Bytes on the wire including the FCS.
    pub frame_size: u32,
    pub offered_pps: f64,
    pub sent: u64,
    pub received: u64,
    pub rx_pps: f64,
    /// Received bits per second counting each frame's bytes with FCS (L2).
    pub rx_bps_l2: f64,
    /// Received bits per second counting preamble and inter-frame gap too (L1).
    pub rx_bps_l1: f64,
    pub reordered: u64,
    pub duplicates: u64,
    /// Frames the receiving socket's ring dropped (PACKET_STATISTICS): lost by the measurement,
    /// not by the path.
    pub capture_drops: u64,
    pub flows: Vec<FlowCounts>,
}

impl ThroughputPoint {
    pub fn loss_percent(&self) -> f64 {
        loss_percent(self.sent, self.received)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ThroughputResult {
    pub name: String,
    pub from: String,
    pub to: String,
    pub duration_s: f64,
    pub points: Vec<ThroughputPoint>,
}

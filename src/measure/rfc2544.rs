//! RFC 2544 benchmarks between two stations: throughput (section 26.1: the highest rate with no
//! loss beyond the tolerance, found by binary search), latency at that rate (26.2), frame loss rate
//! in steps of 10% of the maximum (26.3) and back-to-back bursts (26.4), for each frame size.
//! Frame sizes are Ethernet sizes with the 4-byte FCS, as in the RFC; mvlab hands the kernel the
//! frame without FCS (64 bytes on the wire = 60 bytes sent).

use serde::{Deserialize, Serialize};

use super::latency::LatencyStats;

/// One trial of the search or of the loss steps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trial {
    pub offered_pps: f64,
    pub sent: u64,
    pub received: u64,
    pub loss_percent: f64,
    /// Within the loss tolerance.
    pub passed: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BackToBack {
    /// The longest burst (frames at the maximum rate) that crossed without loss, averaged over
    /// the trials.
    pub frames: f64,
    pub trials: Vec<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rfc2544Size {
    /// Bytes on the wire including the FCS.
    pub frame_size: u32,
    /// The highest rate the sender could offer (the search's upper bound when `max_rate` is max).
    pub max_offered_pps: f64,
    /// The zero-loss (within tolerance) throughput.
    pub throughput_pps: f64,
    pub throughput_bps_l1: f64,
    pub search: Vec<Trial>,
    pub latency: Option<LatencyStats>,
    /// Section 26.3: trials at 100%, 90%, ... of the maximum rate.
    pub frame_loss: Vec<Trial>,
    pub back_to_back: Option<BackToBack>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Rfc2544Result {
    pub name: String,
    pub from: String,
    pub to: String,
    pub trial_s: f64,
    pub loss_tolerance_percent: f64,
    pub sizes: Vec<Rfc2544Size>,
}

//! Latency tests: one-way (sender and receiver share the clock) and round-trip (the receiver
//! reflects each frame) between two stations at a given rate and frame size, as a histogram and its
//! quantiles.

use serde::{Deserialize, Serialize};

use crate::scenario::LatencyMethod;

/// Quantiles of a latency distribution, in nanoseconds, with its histogram.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencyStats {
    pub samples: u64,
    pub min_ns: u64,
    pub mean_ns: f64,
    pub p50_ns: u64,
    pub p90_ns: u64,
    pub p99_ns: u64,
    pub p999_ns: u64,
    pub max_ns: u64,
    /// `(upper bound ns, count)` buckets, ascending, empty buckets left out.
    pub histogram: Vec<(u64, u64)>,
}

impl LatencyStats {
    /// The value of a latency metric by its claim name (`p99`, `mean`, ...), in nanoseconds.
    pub fn metric_ns(&self, metric: &str) -> Option<f64> {
        Some(match metric {
            "min" => self.min_ns as f64,
            "mean" => self.mean_ns,
            "p50" => self.p50_ns as f64,
            "p90" => self.p90_ns as f64,
            "p99" => self.p99_ns as f64,
            "p99.9" => self.p999_ns as f64,
            "max" => self.max_ns as f64,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LatencyResult {
    pub name: String,
    pub from: String,
    pub to: String,
    pub method: LatencyMethod,
    /// Bytes on the wire including the FCS.
    pub frame_size: u32,
    pub rate_pps: f64,
    pub sent: u64,
    pub received: u64,
    pub stats: LatencyStats,
}

impl LatencyResult {
    pub fn loss_percent(&self) -> f64 {
        loss_percent(self.sent, self.received)
    }
}

/// Lost frames as a percentage of those sent (0 when nothing was sent).
pub fn loss_percent(sent: u64, received: u64) -> f64 {
    if sent == 0 {
        0.0
    } else {
        100.0 * sent.saturating_sub(received) as f64 / sent as f64
    }
}
